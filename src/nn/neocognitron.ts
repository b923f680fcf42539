/**
 * Fukushima's Neocognitron: alternating S-layers (feature extraction) and
 * C-layers (tolerance to shift), built from existing ops so that the forward
 * pass compiles and runs on every backend. The learning rule lives in
 * src/train/neocognitron.ts; this file holds the model's definition, its
 * forward graph, the float64 host form of one S-cell (the oracle and the
 * learning rule's bookkeeping), and the immutable learned state.
 *
 * Formulation (K. Fukushima, "Neocognitron: a self-organizing neural network
 * model for a mechanism of pattern recognition unaffected by shift in
 * position", Biol. Cybern. 36, 193-202, 1980, eqs. 1-6; the add-if-silent
 * rule of Fukushima, "Artificial vision by multi-layered neural networks:
 * Neocognitron and its advances", Neural Networks 37, 103-119, 2013).
 * Stage l reads the C-planes u_C(κ, ·) of stage l-1 (the image for l = 1):
 *
 *   V-cell (inhibitory, the local input energy):
 *     v_C(n) = sqrt( Σ_κ Σ_ν c(ν) · u_C(κ, n+ν)² )
 *   S-cell of plane k at position n (one weight set a(·,·,k), b(k) per plane):
 *     u_S(k, n) = g · φ[ (1 + Σ_κ Σ_ν a(κ, ν, k) · u_C(κ, n+ν)) / (1 + θ · b(k) · v_C(n)) − 1 ]
 *     θ = r / (1 + r),  g = r / (1 + r),  φ[x] = max(x, 0)
 *   C-cell of plane k (fixed weights):
 *     u_C(k, n) = ψ[ pool_{ν ∈ D} u_S(k, n+ν) ],  ψ[x] = x / (α + x)
 *     pool: the maximum over the window, or its mean (a blurred sum with
 *     uniform d(ν)); the window strides, so receptive fields grow stage by stage.
 *
 * c(ν) is fixed: a Gaussian of the offset from the window's centre (σ = half
 * the window), normalised so that Σ_κ Σ_ν c = 1. Selectivity: when
 * b = sqrt(Σ a²/c) (which the learning rule keeps, see train/neocognitron.ts),
 * Σ a·u ≤ b·v_C (Cauchy-Schwarz with weights c), and for strong inputs the
 * cell fires iff the c-weighted cosine between a/c and the input window
 * exceeds θ = r/(1+r): r = 1 accepts cosines above 0.5, r = 4 above 0.8.
 * The 1980 paper scales the output by r; we use g = r/(1+r) (the brief's
 * form): a positive gain, so it changes neither which cell wins nor which is
 * silent. Every S-layer pads 'same' or 'valid' as its stage says.
 *
 * A plane that has not been created (add-if-silent keeps room for
 * `planes` of them) has a = 0, b = 0, so u_S = g·φ[1/1 − 1] = 0: it never fires.
 */
import { describeValue, fail } from '../graph/error.js';
import type { Shape, Tensor } from '../graph/tensor.js';
import { add } from '../ops/add.js';
import { avgPool2d } from '../ops/avgPool2d.js';
import { constant } from '../ops/constant.js';
import { conv2d } from '../ops/conv2d.js';
import { div } from '../ops/div.js';
import { input } from '../ops/input.js';
import { maxPool2d } from '../ops/maxPool2d.js';
import { mul } from '../ops/mul.js';
import { relu } from '../ops/relu.js';
import { reshape } from '../ops/reshape.js';
import { sqrt } from '../ops/sqrt.js';
import { sub } from '../ops/sub.js';
import type { TensorValue } from './params.js';
import { checkOptions, showValue } from './spec.js';

/** How a C-layer pools its S-plane: the maximum or the mean (a uniformly blurred sum) of each window. */
export type NeocognitronPool = 'max' | 'average';

/** One stage: an S-layer and the C-layer above it. */
export interface NeocognitronStage {
  /** The most S-planes (features) the stage may hold; add-if-silent fills them one by one. */
  readonly planes: number;
  /** Side of an S-cell's square window over the previous C-layer, odd (e.g. 5). */
  readonly window: number;
  /** Selectivity r > 0: an S-cell fires when the c-weighted cosine of its input with its weights exceeds r/(1+r). */
  readonly r: number;
  /** S-layer padding: 'same' keeps the size (odd windows), 'valid' shrinks it by window − 1. */
  readonly padding: 'same' | 'valid';
  /** C-layer pooling. */
  readonly pool: NeocognitronPool;
  /** Side of a C-cell's square window over its S-plane. */
  readonly poolSize: number;
  /** Step between C-cells. */
  readonly poolStride: number;
  /** C-cell saturation α > 0 of ψ[x] = x/(α + x). */
  readonly alpha: number;
}

/** A Neocognitron: the image shape and the stages, bottom to top. Frozen. */
export interface NeocognitronModel {
  /** Shape of one image, [channels, height, width]. */
  readonly inputShape: readonly [number, number, number];
  /** The stages, from the one reading the image upwards. */
  readonly stages: readonly NeocognitronStage[];
}

/** What `neocognitron` takes: the image shape and each stage's options (all but `planes` and `window` have defaults). */
export interface NeocognitronOptions {
  /** Shape of one image (default [1, 28, 28], MNIST). */
  readonly inputShape?: readonly [number, number, number];
  /** The stages, bottom to top (at least one). */
  readonly stages: readonly (Pick<NeocognitronStage, 'planes' | 'window'> & Partial<NeocognitronStage>)[];
}

const STAGE_KEYS = ['planes', 'window', 'r', 'padding', 'pool', 'poolSize', 'poolStride', 'alpha'] as const;

function positiveInt(what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    fail('neocognitron', `${what} must be a positive integer, got ${showValue(v)}`, `${what} ${showValue(v)}`, 'a positive integer');
  }
  return v;
}

function positiveNumber(what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    fail('neocognitron', `${what} must be a positive finite number, got ${showValue(v)}`, `${what} ${showValue(v)}`, 'a positive finite number');
  }
  return v;
}

/**
 * Define a Neocognitron; every option is checked, and the sizes through the
 * stages must stay at least 1×1. Defaults per stage: r = 1, padding 'valid',
 * pool 'max', poolSize 2, poolStride = poolSize, alpha = 0.5.
 *
 * ```ts
 * const model = neocognitron({ stages: [{ planes: 8, window: 5 }, { planes: 24, window: 5, r: 2 }] });
 * ```
 */
export function neocognitron(options: NeocognitronOptions): NeocognitronModel {
  checkOptions('neocognitron', options, ['inputShape', 'stages'], '{ stages: [{ planes: 8, window: 5 }] }');
  if (options === undefined || options === null) fail('neocognitron', 'give { stages: [...] }', describeValue(options), 'an options object with stages');
  const shape = options.inputShape ?? [1, 28, 28];
  if (!Array.isArray(shape) || shape.length !== 3) {
    fail('neocognitron', `inputShape must be [channels, height, width], got ${showValue(shape)}`, `inputShape ${showValue(shape)}`, '[channels, height, width]');
  }
  shape.forEach((d, i) => positiveInt(`inputShape[${i}]`, d));
  if (!Array.isArray(options.stages) || options.stages.length === 0) {
    fail('neocognitron', `stages must be a non-empty array of stage options, got ${showValue(options.stages)}`, `stages ${describeValue(options.stages)}`, 'at least one stage');
  }
  let [, h, w] = shape;
  const stages = options.stages.map((s, i): NeocognitronStage => {
    const at = `stages[${i}]`;
    checkOptions(`neocognitron`, s, STAGE_KEYS, '{ planes: 8, window: 5 }');
    const window = positiveInt(`${at}.window`, s.window);
    if (window % 2 === 0) fail('neocognitron', `${at}.window must be odd (a centre cell), got ${window}`, `${at}.window ${window}`, 'an odd window');
    const padding = s.padding ?? 'valid';
    if (padding !== 'same' && padding !== 'valid') fail('neocognitron', `${at}.padding must be 'same' or 'valid', got ${showValue(padding)}`, `${at}.padding ${showValue(padding)}`, "'same' or 'valid'");
    const pool = s.pool ?? 'max';
    if (pool !== 'max' && pool !== 'average') fail('neocognitron', `${at}.pool must be 'max' or 'average', got ${showValue(pool)}`, `${at}.pool ${showValue(pool)}`, "'max' or 'average'");
    const poolSize = positiveInt(`${at}.poolSize`, s.poolSize ?? 2);
    const poolStride = positiveInt(`${at}.poolStride`, s.poolStride ?? poolSize);
    const stage = Object.freeze({
      planes: positiveInt(`${at}.planes`, s.planes),
      window,
      r: positiveNumber(`${at}.r`, s.r ?? 1),
      padding,
      pool,
      poolSize,
      poolStride,
      alpha: positiveNumber(`${at}.alpha`, s.alpha ?? 0.5),
    });
    if (padding === 'valid') {
      h -= window - 1;
      w -= window - 1;
    }
    if (h < poolSize || w < poolSize) {
      fail(
        'neocognitron',
        `${at}: its S-layer is ${Math.max(h, 0)}×${Math.max(w, 0)}, smaller than the ${window}×${window} window or the pool of ${poolSize}; use smaller windows, 'same' padding or fewer stages`,
        `S-layer ${Math.max(h, 0)}×${Math.max(w, 0)}`,
        `at least ${poolSize}×${poolSize}`,
      );
    }
    h = Math.floor((h - poolSize) / poolStride) + 1;
    w = Math.floor((w - poolSize) / poolStride) + 1;
    return stage;
  });
  return Object.freeze({ inputShape: Object.freeze([...shape]) as unknown as readonly [number, number, number], stages: Object.freeze(stages) });
}

/** The shapes [planes, height, width] of each stage's S-layer and C-layer for `planes` planes per stage (default each stage's maximum). */
export function neocognitronShapes(model: NeocognitronModel, planes?: readonly number[]): {
  /** The S-layer's shape, [planes, height, width]. */
  s: Shape;
  /** The C-layer's shape. */
  c: Shape;
}[] {
  let [, h, w] = model.inputShape;
  return model.stages.map((st, i) => {
    const k = planes?.[i] ?? st.planes;
    if (st.padding === 'valid') {
      h -= st.window - 1;
      w -= st.window - 1;
    }
    const s: Shape = [k, h, w];
    h = Math.floor((h - st.poolSize) / st.poolStride) + 1;
    w = Math.floor((w - st.poolSize) / st.poolStride) + 1;
    return { s, c: [k, h, w] };
  });
}

/**
 * c(κ, ν) of a window over `planes` input planes: a Gaussian of the offset
 * from the centre, σ = window/2, normalised so that all taps sum to 1.
 * Row-major [planes, window, window].
 */
export function inhibitoryWeights(planes: number, window: number): Float64Array {
  const c = new Float64Array(planes * window * window);
  const mid = (window - 1) / 2;
  const sigma = window / 2;
  let total = 0;
  for (let k = 0; k < planes; k++) {
    for (let y = 0; y < window; y++) {
      for (let x = 0; x < window; x++) {
        const g = Math.exp(-((y - mid) ** 2 + (x - mid) ** 2) / (2 * sigma * sigma));
        c[(k * window + y) * window + x] = g;
        total += g;
      }
    }
  }
  for (let i = 0; i < c.length; i++) c[i] /= total;
  return c;
}

/** θ = r/(1+r), the cosine an S-cell's input must exceed, and also its output gain g. */
export const selectivity = (r: number): number => r / (1 + r);

/** Graph input names of stage `l`'s weights: `neocognitron.s<l>.a` [K, K', w, w] and `neocognitron.s<l>.b` [K]. */
export const stageInputNames = (l: number): { a: string; b: string } => ({ a: `neocognitron.s${l}.a`, b: `neocognitron.s${l}.b` });

/** One stage's graph: S-cells, the V-cell energy and C-cells, from the C-layer below. */
export interface StageGraph {
  /** u_S [N, K, H, W]. */
  readonly s: Tensor;
  /** v_C [N, 1, H, W], the V-cells' local input energy at each S position. */
  readonly v: Tensor;
  /** u_C [N, K, H', W']. */
  readonly c: Tensor;
  /** The stage's excitatory weights a [K, K', w, w], a graph input. */
  readonly a: Tensor<'input'>;
  /** The stage's inhibitory weights b [K], a graph input. */
  readonly b: Tensor<'input'>;
}

/**
 * Build stage `l` (0-based) of `model` on `below` [N, K', H, W] (the image or
 * the C-layer underneath) with `planes` S-planes, the formulas of the file
 * comment written as ops: conv2d for Σ a·u and for Σ c·u², sqrt, div, relu,
 * max or average pooling, and the saturation x/(α + x).
 */
export function stageGraph(model: NeocognitronModel, l: number, below: Tensor, planes: number): StageGraph {
  const st = model.stages[l];
  if (st === undefined) fail('stageGraph', `stage ${l} does not exist; the model has ${model.stages.length}`, `stage ${l}`, `0..${model.stages.length - 1}`);
  const kIn = below.shape[1];
  const names = stageInputNames(l);
  const a = input(names.a, [planes, kIn, st.window, st.window]);
  const b = input(names.b, [planes]);
  const cw = constant(inhibitoryWeights(kIn, st.window), [1, kIn, st.window, st.window]);
  const padding = st.padding;
  // v_C(n) = sqrt(Σ c·u²)
  const v = sqrt(conv2d(mul(below, below), cw, { padding }));
  const theta = selectivity(st.r);
  // (1 + Σ a·u) / (1 + θ·b·v) − 1, rectified and scaled by g = θ.
  const excite = add(conv2d(below, a, { padding }), 1);
  const inhibit = add(mul(mul(v, theta), reshape(b, [1, planes, 1, 1])), 1);
  const s = mul(relu(sub(div(excite, inhibit), 1)), theta);
  const pooled = st.pool === 'max' ? maxPool2d(s, { size: st.poolSize, stride: st.poolStride }) : avgPool2d(s, { size: st.poolSize, stride: st.poolStride });
  const c = div(pooled, add(pooled, st.alpha));
  return { s, v, c, a, b };
}

/** The forward graph of a Neocognitron. */
export interface NeocognitronGraph {
  /** The image input `x` [N, C, H, W]. */
  readonly x: Tensor<'input'>;
  /** Each stage's S, V and C tensors and weight inputs, bottom to top. */
  readonly stages: readonly StageGraph[];
  /** The top C-layer, [N, K, H', W']: the features the classifier reads. */
  readonly output: Tensor;
}

/**
 * The forward graph of `model` for `batchSize` images, with `planes[l]`
 * S-planes in stage l (default: each stage's maximum); feed `x` and each
 * stage's weights by `stageInputNames(l)` (or `stateFeeds(state)`).
 *
 * ```ts
 * const g = neocognitronGraph(model, 32, state.planes);
 * const f = compile(g.output, { backend: 'webasm' });
 * ```
 */
export function neocognitronGraph(model: NeocognitronModel, batchSize: number, planes?: readonly number[], depth = model.stages.length): NeocognitronGraph {
  if (!Number.isInteger(batchSize) || batchSize < 1) fail('neocognitronGraph', `batchSize must be a positive integer, got ${showValue(batchSize)}`, `batchSize ${showValue(batchSize)}`, 'a positive integer');
  const x = input('x', [batchSize, ...model.inputShape]);
  const stages: StageGraph[] = [];
  let below: Tensor = x;
  for (let l = 0; l < depth; l++) {
    const k = planes?.[l] ?? model.stages[l].planes;
    if (!Number.isInteger(k) || k < 1) fail('neocognitronGraph', `stage ${l} needs at least one plane, got ${showValue(k)}`, `planes[${l}] ${showValue(k)}`, 'a positive integer');
    const g = stageGraph(model, l, below, k);
    stages.push(g);
    below = g.c;
  }
  return { x, stages, output: below };
}

// ---------------------------------------------------------------------------
// The host form of one S-cell (float64): the learning rule's bookkeeping, and
// the oracle the compiled graph is tested against.

/**
 * The input window of the S-cell at (y, x) over one image's C-planes `below`
 * ([K', H, W] row-major), zeros outside (with 'same' padding the window is
 * centred on (y, x); with 'valid' it starts there). Row-major [K', w, w].
 */
export function inputWindow(below: ArrayLike<number>, shape: readonly [number, number, number], y: number, x: number, window: number, padding: 'same' | 'valid'): Float64Array {
  const [k, h, w] = shape;
  const off = padding === 'same' ? (window - 1) / 2 : 0;
  const out = new Float64Array(k * window * window);
  for (let p = 0; p < k; p++) {
    for (let dy = 0; dy < window; dy++) {
      const yy = y - off + dy;
      if (yy < 0 || yy >= h) continue;
      for (let dx = 0; dx < window; dx++) {
        const xx = x - off + dx;
        if (xx < 0 || xx >= w) continue;
        out[(p * window + dy) * window + dx] = below[(p * h + yy) * w + xx];
      }
    }
  }
  return out;
}

/** v_C of an input window: sqrt(Σ c·u²). */
export function windowEnergy(win: ArrayLike<number>, c: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < win.length; i++) e += c[i] * win[i] * win[i];
  return Math.sqrt(e);
}

/**
 * u_S of one S-cell on an input window (file comment): `a` the plane's
 * weights (the window's length, row-major [K', w, w]), `b` its inhibitory
 * weight, `c` the fixed c(ν), `r` the selectivity.
 */
export function sCell(win: ArrayLike<number>, a: ArrayLike<number>, b: number, c: ArrayLike<number>, r: number): number {
  let e = 0;
  for (let i = 0; i < win.length; i++) e += a[i] * win[i];
  const theta = selectivity(r);
  return theta * Math.max((1 + e) / (1 + theta * b * windowEnergy(win, c)) - 1, 0);
}

// ---------------------------------------------------------------------------
// The learned state

/** One stage's learned weights: `planes` S-planes, a [planes, K', w, w] and b [planes]. */
export interface NeocognitronStageState {
  /** The planes learned (created) so far, at most the stage's `planes`. */
  readonly planes: number;
  /** Excitatory weights a(κ, ν, k), [planes, K', window, window]. */
  readonly a: TensorValue;
  /** Inhibitory weights b(k), [planes]. */
  readonly b: TensorValue;
}

/**
 * The classifier on the top C-layer: labelled reference vectors, and the
 * rule that scores classes by them (src/train/neocognitron.ts,
 * `buildClassifier`): interpolating vectors, or the nearest prototype.
 */
export interface NeocognitronClassifier {
  /**
   * How the references were chosen and are used: 'intvec', the training
   * vectors the interpolating vectors so far misclassified (Fukushima 2007,
   * 2013); 'misclassified', the same with the nearest prototype; 'all',
   * every training vector; 'means', one mean per class.
   */
  readonly rule: 'intvec' | 'misclassified' | 'all' | 'means';
  /** Per class, how many of the references most similar to an input pair into interpolating vectors; 1 (every rule but 'intvec'): the nearest prototype. */
  readonly candidates: number;
  /** The prototypes, unit length, [P, D] (D the top C-layer's size). */
  readonly prototypes: TensorValue;
  /** Each prototype's class (never written after it is made). */
  readonly labels: Uint8Array;
}

/** What a Neocognitron has learned: the model, each trained stage's weights, and the classifier (once trained). Frozen. */
export interface NeocognitronState {
  /** The model the weights belong to. */
  readonly model: NeocognitronModel;
  /** The trained stages, bottom to top (fewer than the model's while training). */
  readonly stages: readonly NeocognitronStageState[];
  /** The nearest-prototype classifier, or null before it is built. */
  readonly classifier: NeocognitronClassifier | null;
}

/** The feeds of the state's stage weights, by `stageInputNames`. */
export function stateFeeds(state: NeocognitronState): Record<string, Float32Array> {
  const feeds: Record<string, Float32Array> = {};
  state.stages.forEach((st, l) => {
    const n = stageInputNames(l);
    feeds[n.a] = st.a.data;
    feeds[n.b] = st.b.data;
  });
  return feeds;
}
