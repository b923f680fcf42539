/**
 * An embedding map: the features a network computes for a set of images
 * (by default its last hidden layer, as `featureLayer` chooses: LeNet-5's 84
 * rectified outputs of fc2), projected by principal component analysis onto
 * the directions along which they vary most, so that a 2-D scatter plot,
 * coloured by class, shows which classes the network keeps apart.
 *
 * PCA, in float64 throughout: for n rows x_i of d features, the mean
 * μ = (1/n) Σ x_i; the covariance C = (1/(n − 1)) Σ (x_i − μ)(x_i − μ)ᵀ;
 * its eigenvectors v_1, v_2, … by decreasing eigenvalue λ_1 ≥ λ_2 ≥ …
 * (the variance along each); and each row's coordinates (x_i − μ)·v_k.
 * The fraction of the variance a component explains is λ_k / tr C, with the
 * trace Σ_j C_jj the total variance. Each axis is a unit vector whose
 * largest-magnitude coordinate is positive (an eigenvector's sign is
 * arbitrary; this makes the map reproducible).
 *
 * Two ways to the eigenvectors (`method`, default `'auto'`: the first up to
 * d = 512, the second beyond):
 * - `'jacobi'`: C is formed (n·d²/2 multiply-adds: 35 million for 10,000 ×
 *   84) and diagonalised by the cyclic Jacobi method, plane rotations that
 *   zero each off-diagonal entry in turn until the off-diagonal mass is
 *   below 1e-15 of the total (quadratic convergence; a few sweeps of d³
 *   each). It gives every eigenvalue to working precision, near-equal ones
 *   included, which power iteration resolves only slowly.
 * - `'subspace'`: block (subspace) iteration without forming C, for wide
 *   layers (4,096 features would make C 16 million entries and cost n·d²/2
 *   to form): a block V of b = min(d, k + 8) orthonormal columns is
 *   multiplied by C as Xcᵀ(Xc V)/(n − 1) (2·n·d·b per step), re-orthonormalised,
 *   and every few steps rotated to the Ritz vectors of Vᵀ C V (by Jacobi),
 *   until each of the k leading Ritz pairs has a residual ‖C v − λ v‖ below
 *   `tolerance` · λ_1 (default 1e-8), or `maxIterations` steps (default 1000)
 *   have run; `converged` says which.
 *
 * ```ts
 * const map = await embeddingMap(model, params, test.images.subarray(0, 10000 * 784));
 * map.pca.explained;     // [0.31, 0.17]: fractions of the variance along PC1 and PC2
 * map.pca.projections;   // 10000 × 2 coordinates, for embeddingMapSpec
 * const p = pca({ shape: [n, d], data });     // PCA of any rows
 * ```
 */
import type { BackendName } from '../backend/compile.js';
import { describeValue, fail } from '../graph/error.js';
import { shapeToString, sizeOf } from '../graph/tensor.js';
import { buildModel, checkModel, findLayerOutput, type Model } from '../nn/model.js';
import type { Params } from '../nn/params.js';
import { createPredictor } from '../nn/predict.js';
import { checkOptions, showValue } from '../nn/spec.js';
import { checkModelParams, positiveInteger } from './graphs.js';
import { featureLayer } from './neighbours.js';

/** How `pca` finds the eigenvectors (see the file comment). */
export type PcaMethod = 'auto' | 'jacobi' | 'subspace';

/** Options of `pca`. */
export interface PcaOptions {
  /** Features per row, for rows given as a flat array (default: taken from a `{ shape, data }` value). */
  dim?: number;
  /** Principal components kept, an integer in [1, dim] (default 2). */
  components?: number;
  /** `'auto'` (default: `'jacobi'` up to 512 features, `'subspace'` beyond), `'jacobi'` or `'subspace'`. */
  method?: PcaMethod;
  /** Subspace iteration: the residual ‖C v − λ v‖ each kept pair must reach, relative to λ_1 (default 1e-8). */
  tolerance?: number;
  /** Subspace iteration: the most steps (default 1000). */
  maxIterations?: number;
}

/** Rows of features as `pca` reads them: `count × dim` numbers (with `dim` given), or a `{ shape: [count, ...], data }` value (a layer output). */
export type FeatureRows =
  | ArrayLike<number>
  | {
      /** `[count, ...]`: the features of one row are the product of the other dimensions. */
      readonly shape: readonly number[];
      /** The values, row-major. */
      readonly data: ArrayLike<number>;
    };

/** What `pca` returns. */
export interface PcaResult {
  /** Number of rows. */
  readonly count: number;
  /** Features per row. */
  readonly dim: number;
  /** Number of components kept, k. */
  readonly components: number;
  /** The mean row μ, `dim` values. */
  readonly mean: Float64Array;
  /** The principal axes, `k × dim`: row j is the unit eigenvector of the j-th largest eigenvalue. */
  readonly axes: Float64Array;
  /** The eigenvalues λ_1 ≥ … ≥ λ_k of the covariance: the variance along each axis. */
  readonly variances: Float64Array;
  /** λ_j / total variance for each kept axis (0 when the rows do not vary). */
  readonly explained: Float64Array;
  /** tr C: the sum of the features' variances. */
  readonly totalVariance: number;
  /** Each row's coordinates (x − μ)·axis_j, `count × k`, row-major. */
  readonly projections: Float64Array;
  /** The method that ran. */
  readonly method: 'jacobi' | 'subspace';
  /** Subspace iteration: the steps taken (0 for Jacobi). */
  readonly iterations: number;
  /** Whether the eigenvectors reached the tolerance (always true for Jacobi). */
  readonly converged: boolean;
}

/** Above this many features, `'auto'` uses subspace iteration rather than forming and diagonalising C. */
export const PCA_JACOBI_MAX_DIM = 512;
const DEFAULT_TOLERANCE = 1e-8;
const DEFAULT_MAX_ITERATIONS = 1000;
/** Extra columns of the subspace-iteration block beyond the k kept: a gap λ_{b+1}/λ_k < 1 to converge by. */
const OVERSAMPLE = 8;
/** Subspace iteration: steps between Rayleigh–Ritz rotations and convergence checks. */
const RITZ_EVERY = 4;

function isNumbers(v: unknown): v is ArrayLike<number> {
  return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
}

/** The rows as one flat array, their count and width, checked. */
function readFeatureRows(who: string, rows: FeatureRows, dimOption: number | undefined): { data: ArrayLike<number>; count: number; dim: number } {
  let data: ArrayLike<number>;
  let dim: number | undefined = dimOption;
  if (dim !== undefined) positiveInteger(who, 'dim', dim);
  if (isNumbers(rows)) {
    data = rows;
    if (dim === undefined) fail(who, 'rows given as a flat array need the dim option (features per row)', 'no dim', 'dim: features per row');
  } else if (rows !== null && typeof rows === 'object' && 'shape' in rows && 'data' in rows) {
    const { shape } = rows;
    if (!Array.isArray(shape) || shape.length < 2 || !shape.every((s) => Number.isSafeInteger(s) && s >= 1)) {
      fail(who, `rows must have a shape [count, ...] of positive integers, got ${showValue(shape)}`, `shape ${showValue(shape)}`, 'a shape [count, features...]');
    }
    if (!isNumbers(rows.data)) fail(who, `the rows' data must be an array of numbers, got ${describeValue(rows.data)}`, `data ${describeValue(rows.data)}`, 'an array of numbers');
    data = rows.data;
    const width = sizeOf(shape.slice(1));
    if (data.length !== sizeOf(shape)) fail(who, `rows of shape ${shapeToString(shape)} need ${sizeOf(shape)} values but hold ${data.length}`, `${data.length} values`, `${sizeOf(shape)} values`);
    if (dim !== undefined && dim !== width) fail(who, `dim is ${dim} but the rows have ${width} features (shape ${shapeToString(shape)})`, `dim ${dim}`, `dim ${width}`);
    dim = width;
  } else {
    fail(who, `rows must be count × dim numbers or a { shape: [count, ...], data } value, got ${describeValue(rows)}`, describeValue(rows), 'an array of numbers or a { shape, data } value');
  }
  if (data.length % dim! !== 0) fail(who, `${data.length} values are not a whole number of rows of ${dim} features`, `${data.length} values`, `a multiple of ${dim}`);
  const count = data.length / dim!;
  if (count < 2) fail(who, `PCA needs at least 2 rows to measure a variance, got ${count}`, `${count} row(s)`, 'at least 2 rows');
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      fail(who, `value ${i} (row ${Math.floor(i / dim!)}, feature ${i % dim!}) is ${showValue(data[i])}; every feature must be a finite number`, `value ${showValue(data[i])}`, 'finite numbers');
    }
  }
  return { data, count, dim: dim! };
}

/**
 * All eigenpairs of the symmetric `n × n` matrix `a` (row-major, destroyed)
 * by the cyclic Jacobi method: eigenvalues on return in `values`, the
 * eigenvector of values[j] in column j of `vectors` (row-major n × n).
 */
export function symmetricEigen(a: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < n * n; i++) total += a[i] * a[i];
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += 2 * a[p * n + q] * a[p * n + q];
    if (off <= 1e-30 * total || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        // The rotation in the (p, q) plane that zeroes a_pq: tan 2φ = 2 a_pq / (a_qq − a_pp),
        // t = tan φ the smaller root of t² + 2θt − 1 = 0 (Golub & Van Loan, alg. 8.5.1).
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i];
  return { values, vectors: v };
}

/** Indices of `values` from the largest down. */
const descending = (values: Float64Array): number[] => Array.from(values.keys()).sort((i, j) => values[j] - values[i] || i - j);

/** Make the largest-magnitude coordinate of `axis` (at `at`, length d) positive. */
function fixSign(axes: Float64Array, at: number, d: number): void {
  let best = 0;
  for (let i = 1; i < d; i++) if (Math.abs(axes[at + i]) > Math.abs(axes[at + best])) best = i;
  if (axes[at + best] < 0) for (let i = 0; i < d; i++) axes[at + i] = -axes[at + i];
}

/** The leading k eigenpairs of C = Xcᵀ Xc / (n − 1), C formed and diagonalised by Jacobi. */
function byJacobi(xc: Float64Array, n: number, d: number, k: number): { axes: Float64Array; variances: Float64Array } {
  const c = new Float64Array(d * d);
  for (let r = 0; r < n; r++) {
    const at = r * d;
    for (let i = 0; i < d; i++) {
      const xi = xc[at + i];
      if (xi === 0) continue;
      const row = i * d;
      for (let j = i; j < d; j++) c[row + j] += xi * xc[at + j];
    }
  }
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      c[i * d + j] /= n - 1;
      c[j * d + i] = c[i * d + j];
    }
  }
  const { values, vectors } = symmetricEigen(c, d);
  const order = descending(values);
  const axes = new Float64Array(k * d);
  const variances = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    const col = order[j];
    variances[j] = Math.max(0, values[col]);
    for (let i = 0; i < d; i++) axes[j * d + i] = vectors[i * d + col];
  }
  return { axes, variances };
}

/** W = C V for the block V (d × b, column-major: column j at j·d), without forming C. */
function covarianceTimes(xc: Float64Array, n: number, d: number, v: Float64Array, b: number, w: Float64Array): void {
  w.fill(0);
  const xv = new Float64Array(b);
  for (let r = 0; r < n; r++) {
    const at = r * d;
    for (let j = 0; j < b; j++) {
      let s = 0;
      const col = j * d;
      for (let i = 0; i < d; i++) s += xc[at + i] * v[col + i];
      xv[j] = s / (n - 1);
    }
    for (let j = 0; j < b; j++) {
      const s = xv[j];
      if (s === 0) continue;
      const col = j * d;
      for (let i = 0; i < d; i++) w[col + i] += s * xc[at + i];
    }
  }
}

/** Orthonormalise the b columns of `v` (d × b, column-major) in place by modified Gram–Schmidt; a column that vanishes is replaced by a fresh direction. */
function orthonormalise(v: Float64Array, d: number, b: number): void {
  for (let j = 0; j < b; j++) {
    for (let attempt = 0; ; attempt++) {
      const col = j * d;
      for (let p = 0; p < j; p++) {
        let s = 0;
        for (let i = 0; i < d; i++) s += v[p * d + i] * v[col + i];
        for (let i = 0; i < d; i++) v[col + i] -= s * v[p * d + i];
      }
      let norm = 0;
      for (let i = 0; i < d; i++) norm += v[col + i] * v[col + i];
      norm = Math.sqrt(norm);
      if (norm > 1e-300 || attempt > d) {
        for (let i = 0; i < d; i++) v[col + i] = norm > 0 ? v[col + i] / norm : 0;
        break;
      }
      // The column lay in the span of the ones before it: try the next coordinate direction.
      v.fill(0, col, col + d);
      v[col + ((j + attempt) % d)] = 1;
    }
  }
}

/** The leading k eigenpairs of C by block iteration with Rayleigh–Ritz (see the file comment). */
function bySubspace(
  xc: Float64Array,
  n: number,
  d: number,
  k: number,
  tolerance: number,
  maxIterations: number,
): { axes: Float64Array; variances: Float64Array; iterations: number; converged: boolean } {
  const b = Math.min(d, k + OVERSAMPLE);
  // A fixed, dense start: column j has entries cos(i·(j + 1) + j), independent of any seed.
  let v = new Float64Array(d * b);
  for (let j = 0; j < b; j++) for (let i = 0; i < d; i++) v[j * d + i] = Math.cos((i + 1) * (j + 1) + j);
  orthonormalise(v, d, b);
  let w = new Float64Array(d * b);
  const values = new Float64Array(b);
  let iterations = 0;
  let converged = false;
  while (iterations < maxIterations) {
    for (let s = 0; s < RITZ_EVERY && iterations < maxIterations; s++, iterations++) {
      covarianceTimes(xc, n, d, v, b, w);
      [v, w] = [w, v];
      orthonormalise(v, d, b);
    }
    // Rayleigh–Ritz: H = Vᵀ C V, V ← V Q with Q H's eigenvectors, largest first.
    covarianceTimes(xc, n, d, v, b, w);
    const h = new Float64Array(b * b);
    for (let p = 0; p < b; p++) {
      for (let q = p; q < b; q++) {
        let s = 0;
        for (let i = 0; i < d; i++) s += v[p * d + i] * w[q * d + i];
        h[p * b + q] = s;
        h[q * b + p] = s;
      }
    }
    const eig = symmetricEigen(h, b);
    const order = descending(eig.values);
    const rotated = new Float64Array(d * b);
    const cv = new Float64Array(d * b);
    for (let j = 0; j < b; j++) {
      values[j] = eig.values[order[j]];
      for (let p = 0; p < b; p++) {
        const q = eig.vectors[p * b + order[j]];
        if (q === 0) continue;
        for (let i = 0; i < d; i++) {
          rotated[j * d + i] += q * v[p * d + i];
          cv[j * d + i] += q * w[p * d + i];
        }
      }
    }
    v = rotated;
    // Residuals of the k leading Ritz pairs: C v_j − λ_j v_j, with C v_j = (C V) Q's column j.
    const scale = Math.max(Math.abs(values[0]), 1e-300);
    let worst = 0;
    for (let j = 0; j < k; j++) {
      let r = 0;
      for (let i = 0; i < d; i++) {
        const e = cv[j * d + i] - values[j] * v[j * d + i];
        r += e * e;
      }
      worst = Math.max(worst, Math.sqrt(r) / scale);
    }
    if (worst <= tolerance || values[0] === 0) {
      converged = true;
      break;
    }
  }
  const axes = new Float64Array(k * d);
  const variances = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    variances[j] = Math.max(0, values[j]);
    axes.set(v.subarray(j * d, (j + 1) * d), j * d);
  }
  return { axes, variances, iterations, converged };
}

/**
 * Principal component analysis of `rows` (see the file comment): the mean,
 * the `components` leading axes of the covariance, the variance along each
 * and the fraction of the total it explains, and every row's coordinates on
 * the axes. Refuses fewer than 2 rows, non-finite values and more
 * components than features.
 */
export function pca(rows: FeatureRows, options: PcaOptions = {}): PcaResult {
  const who = 'pca';
  checkOptions(who, options, ['dim', 'components', 'method', 'tolerance', 'maxIterations']);
  const { data, count: n, dim: d } = readFeatureRows(who, rows, options.dim);
  const k = options.components ?? 2;
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > d) {
    fail(who, `components must be an integer from 1 to ${d} (the features per row), got ${showValue(k)}`, `components ${showValue(k)}`, `an integer in [1, ${d}]`);
  }
  const asked = options.method ?? 'auto';
  if (asked !== 'auto' && asked !== 'jacobi' && asked !== 'subspace') {
    fail(who, `method must be 'auto', 'jacobi' or 'subspace', got ${showValue(asked)}`, `method ${showValue(asked)}`, "'auto', 'jacobi' or 'subspace'");
  }
  const tolerance = options.tolerance ?? DEFAULT_TOLERANCE;
  if (typeof tolerance !== 'number' || !(tolerance > 0 && tolerance < 1)) {
    fail(who, `tolerance must be a number in (0, 1), got ${showValue(tolerance)}`, `tolerance ${showValue(tolerance)}`, 'a number in (0, 1)');
  }
  const maxIterations = positiveInteger(who, 'maxIterations', options.maxIterations ?? DEFAULT_MAX_ITERATIONS);
  const method = asked === 'auto' ? (d <= PCA_JACOBI_MAX_DIM ? 'jacobi' : 'subspace') : asked;

  const mean = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let i = 0; i < d; i++) mean[i] += data[r * d + i];
  for (let i = 0; i < d; i++) mean[i] /= n;
  const xc = new Float64Array(n * d);
  let totalVariance = 0;
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < d; i++) {
      const e = data[r * d + i] - mean[i];
      xc[r * d + i] = e;
      totalVariance += e * e;
    }
  }
  totalVariance /= n - 1;

  const found = method === 'jacobi' ? { ...byJacobi(xc, n, d, k), iterations: 0, converged: true } : bySubspace(xc, n, d, k, tolerance, maxIterations);
  const { axes, variances } = found;
  for (let j = 0; j < k; j++) fixSign(axes, j * d, d);
  const explained = Float64Array.from(variances, (v) => (totalVariance > 0 ? v / totalVariance : 0));
  const projections = new Float64Array(n * k);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += xc[r * d + i] * axes[j * d + i];
      projections[r * k + j] = s;
    }
  }
  return Object.freeze({
    count: n,
    dim: d,
    components: k,
    mean,
    axes,
    variances,
    explained,
    totalVariance,
    projections,
    method,
    iterations: found.iterations,
    converged: found.converged,
  });
}

/** Options of `embeddingMap`. */
export interface EmbeddingMapOptions {
  /** The layer whose outputs are embedded (default: the last hidden layer, `featureLayer(model)`). */
  layer?: string;
  /** Backend computing the features (default `'auto'`). */
  backend?: BackendName;
  /** Images per run (default 500, or the count when fewer). */
  batchSize?: number;
  /** Non-trainable values the model reads (a `TrainState`'s `stats`), by name. */
  stats?: Params;
  /** Principal components kept (default 2). */
  components?: number;
}

/** What `embeddingMap` returns: the layer embedded and the PCA of its outputs. */
export interface EmbeddingMap {
  /** The layer whose outputs were embedded. */
  readonly layer: string;
  /** The PCA of the images' features; `pca.projections` are the map's points, one row per image. */
  readonly pca: PcaResult;
}

/**
 * The embedding map of `images` (count × the model's input size, at least
 * 2): each image's output of `layer` (default the last hidden layer),
 * flattened, and the PCA of those features (see `pca`). Draw it with
 * `embeddingMapSpec` and the images' labels.
 */
export async function embeddingMap(model: Model, params: Params, images: Float32Array, options: EmbeddingMapOptions = {}): Promise<EmbeddingMap> {
  const who = 'embeddingMap';
  checkModel(who, model);
  checkOptions(who, options, ['layer', 'backend', 'batchSize', 'stats', 'components']);
  const layer = options.layer ?? featureLayer(model);
  const built = buildModel(model);
  checkModelParams(who, model, built, params);
  findLayerOutput(who, built, layer);
  const per = sizeOf(model.inputShape);
  if (!(images instanceof Float32Array) || images.length === 0 || images.length % per !== 0) {
    const got = images instanceof Float32Array ? `${images.length} values` : describeValue(images);
    fail(who, `images must be a Float32Array of count × ${per} values (${shapeToString(model.inputShape)} per image), got ${got}`, `images ${got}`, `a Float32Array of count × ${per} values`);
  }
  const count = images.length / per;
  if (count < 2) fail(who, `an embedding map needs at least 2 images, got ${count}`, `${count} image`, 'at least 2 images');
  const batchSize = positiveInteger(who, 'batchSize', options.batchSize ?? Math.min(500, count));
  const predictor = createPredictor(model, params, { backend: options.backend ?? 'auto', batchSize, stats: options.stats });
  let features;
  try {
    features = (await predictor.outputs(images, [layer]))[layer];
  } finally {
    await predictor.dispose();
  }
  return Object.freeze({ layer, pca: pca(features, { components: options.components ?? 2 }) });
}
