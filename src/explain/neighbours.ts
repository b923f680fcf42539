/**
 * Nearest neighbours in a network's feature space: which training images a
 * model "sees" as most like a query (Krizhevsky et al. 2012, fig. 4, with the
 * last hidden layer's activations).
 *
 * An index runs a set of images (all 60,000 MNIST training images, say)
 * through the model once, in batches, and keeps the output of one layer for
 * each, flattened, in one Float32Array (`count × dim`). By default that
 * layer is the last hidden layer: the input of the dense layer that makes the
 * model's output. It is found in the built graph: the layer whose output
 * tensor is the model's output must be a `dense` layer; the first input of
 * its product `x · w` is the tensor x it reads; the first layer (in build
 * order) whose output is x names the features. For LeNet-5 that is `relu4`,
 * the 84 rectified outputs of fc2; for a model ending in
 * `flatten({ name: 'features' })` and one dense layer, `features`. A model
 * whose output is made otherwise needs the `layer` option.
 *
 * A query's distances to every indexed image are computed on the host, in
 * float64, straight from the stored features: Euclidean √Σ(a − b)², or the
 * cosine distance 1 − a·b / (|a| |b|) (clamped to [0, 2]; a zero vector has
 * cosine distance 1 to everything, itself included). One query over n images
 * of d features costs n·d multiply-adds (5 million for 60,000 × 84), a few
 * milliseconds in JavaScript, which is less than copying the 20 MB of
 * features to a device and back for a matmul-based |a|² + |b|² − 2a·b would
 * cost; and the direct difference is exact where that formula cancels: an
 * indexed image's distance to itself is exactly 0. The k nearest are kept
 * in a sorted list of k (O(n·k) at worst), nearest first, ties to the lower
 * index, NaN distances last.
 *
 * ```ts
 * const index = await createNeighbourIndex(model, params, mnist.train.images, { backend: 'webasm' });
 * const near = await index.query(mnist.test.images.subarray(0, 784), { k: 5 });
 * near.indices;                          // 5 training images, nearest first
 * index.nearestTo(0, { k: 1 }).distances; // [0]: training image 0 is its own nearest neighbour
 * await index.dispose();
 * ```
 */
import type { BackendName } from '../backend/compile.js';
import { describeValue, fail } from '../graph/error.js';
import { type Tensor, shapeToString, sizeOf } from '../graph/tensor.js';
import { buildModel, checkModel, findLayerOutput, type Model } from '../nn/model.js';
import type { Params } from '../nn/params.js';
import { createPredictor, type Predictor } from '../nn/predict.js';
import { checkOptions, showValue } from '../nn/spec.js';
import { checkModelParams, positiveInteger } from './graphs.js';

/** How far apart two feature vectors are: `'euclidean'` √Σ(a − b)² or `'cosine'` 1 − a·b / (|a| |b|). */
export type DistanceMetric = 'euclidean' | 'cosine';

/** Options of `createNeighbourIndex`. */
export interface NeighbourIndexOptions {
  /** Backend computing the features (default `'auto'`). */
  backend?: BackendName;
  /** Images per run while indexing (default 500). */
  batchSize?: number;
  /** Images per run of a query (default 16): a single query image runs as a batch of this many. */
  queryBatchSize?: number;
  /** Non-trainable values the model reads (a `TrainState`'s `stats`), by name. */
  stats?: Params;
  /** The layer whose output is the feature vector (default: the last hidden layer, see the file comment). */
  layer?: string;
  /** The default metric of queries (default `'euclidean'`). */
  metric?: DistanceMetric;
}

/** Options of a query. */
export interface NeighbourQueryOptions {
  /** Neighbours per query, in [1, count] (default 5, or count when fewer). */
  k?: number;
  /** The metric (default: the index's). */
  metric?: DistanceMetric;
}

/** Options of `nearestTo`. */
export interface NearestToOptions extends NeighbourQueryOptions {
  /** Leave each query image itself out of its neighbours (default false). */
  excludeSelf?: boolean;
}

/** The k nearest indexed images of each query. */
export interface Neighbours {
  /** Number of queries. */
  readonly count: number;
  /** Neighbours per query. */
  readonly k: number;
  /** Indices into the indexed images, `count × k`, nearest first (ties to the lower index). */
  readonly indices: Int32Array;
  /** Their distances, `count × k`. */
  readonly distances: Float32Array;
}

/** Features of a set of images, for nearest-neighbour queries; see `createNeighbourIndex`. */
export interface NeighbourIndex {
  /** The model the features come from. */
  readonly model: Model;
  /** The layer whose output the features are. */
  readonly layer: string;
  /** Number of indexed images. */
  readonly count: number;
  /** Features per image (the layer's output size per example). */
  readonly dim: number;
  /** The queries' default metric. */
  readonly metric: DistanceMetric;
  /** The features, `count × dim`, row-major: row i is image i's. */
  readonly features: Float32Array;
  /** The features of `images` (count × the model's input size), `count × dim`. */
  featuresOf(images: Float32Array): Promise<Float32Array>;
  /** The nearest indexed images to each of `images`, whose features are computed first. */
  query(images: Float32Array, options?: NeighbourQueryOptions): Promise<Neighbours>;
  /** The nearest indexed images to each of the feature vectors `features` (`count × dim`). */
  search(features: ArrayLike<number>, options?: NeighbourQueryOptions): Neighbours;
  /** The nearest indexed images to indexed images `indices` (one index or several). */
  nearestTo(indices: number | readonly number[], options?: NearestToOptions): Neighbours;
  /** Release the compiled graph that computes query features. */
  dispose(): Promise<void>;
}

const DEFAULT_BACKEND: BackendName = 'auto';
const DEFAULT_INDEX_BATCH = 500;
const DEFAULT_QUERY_BATCH = 16;
const DEFAULT_K = 5;
const METRICS: readonly DistanceMetric[] = ['euclidean', 'cosine'];
const INDEX_OPTIONS = ['backend', 'batchSize', 'queryBatchSize', 'stats', 'layer', 'metric'];

/**
 * The name of `model`'s last hidden layer: the layer whose output the dense
 * layer making the model's output reads (see the file comment), or an error
 * saying to name a layer.
 */
export function featureLayer(model: Model): string {
  return findFeatureLayer('featureLayer', model);
}

function findFeatureLayer(who: string, model: Model): string {
  checkModel(who, model);
  const built = buildModel(model);
  const { output, layers, layerOutputs } = built;
  const last = layers.findIndex((l, i) => l.kind === 'dense' && layerOutputs[i].id === output.id);
  const names = layers.map((l) => l.name).join(', ');
  const nameOne = `give the layer option, one of ${names}`;
  if (last < 0) {
    fail(who, `the output of model "${model.name}" is not made by a dense layer, so it has no default feature layer; ${nameOne}`, 'no dense output layer', 'a layer name');
  }
  // The dense layer's product x · w: a matmul whose second input is the parameter `<name>.w`.
  const weight = `${layers[last].name}.w`;
  const seen = new Set<number>();
  const stack: Tensor[] = [output];
  let x: Tensor | undefined;
  while (stack.length && x === undefined) {
    const t = stack.pop()!;
    if (seen.has(t.id)) continue;
    seen.add(t.id);
    const w = t.inputs[1] as Tensor<'input'> | undefined;
    if (t.op === 'matmul' && w?.op === 'input' && w.attrs.name === weight) x = t.inputs[0];
    else if (t.op !== 'input') stack.push(...t.inputs);
  }
  const j = x === undefined ? -1 : layerOutputs.findIndex((o) => o.id === x.id);
  if (j < 0) {
    fail(who, `the input of the output layer "${layers[last].name}" of model "${model.name}" is not a named layer's output; ${nameOne}`, 'no named layer before the output', 'a layer name');
  }
  return layers[j].name;
}

function checkMetric(who: string, metric: unknown): DistanceMetric {
  if (!METRICS.includes(metric as DistanceMetric)) fail(who, `metric must be 'euclidean' or 'cosine', got ${showValue(metric)}`, `metric ${showValue(metric)}`, "'euclidean' or 'cosine'");
  return metric as DistanceMetric;
}

/** The number of images in `images` of `model`, or an error saying what was expected. */
function imageCount(who: string, model: Model, images: unknown, what: string): number {
  const per = sizeOf(model.inputShape);
  const shape = shapeToString(model.inputShape);
  if (!(images instanceof Float32Array)) {
    fail(who, `${what} must be a Float32Array of count × ${per} values (${shape} per image), got ${describeValue(images)}`, `${what} ${describeValue(images)}`, `a Float32Array of count × ${per} values`);
  }
  if (images.length === 0 || images.length % per !== 0) {
    fail(
      who,
      `${what} holds ${images.length} values, not a whole, non-zero number of images: model "${model.name}" reads ${shape} (${per} values) per image`,
      `${images.length} values`,
      `a positive multiple of ${per}`,
    );
  }
  return images.length / per;
}

/**
 * Row after row of `queries` (each `dim` values, read by `row(q)`), the `k`
 * nearest rows of `features` (`count × dim`) by `metric`, skipping row
 * `skip(q)` (−1: none).
 */
function searchRows(
  features: Float32Array,
  norms: Float64Array | null,
  count: number,
  dim: number,
  queries: number,
  row: (q: number) => ArrayLike<number>,
  skip: (q: number) => number,
  k: number,
  metric: DistanceMetric,
): Neighbours {
  const indices = new Int32Array(queries * k);
  const distances = new Float32Array(queries * k);
  const keys = new Float64Array(k);
  const best = new Int32Array(k);
  const values = new Float64Array(k);
  const a = new Float64Array(dim);
  for (let q = 0; q < queries; q++) {
    const src = row(q);
    let aa = 0;
    for (let i = 0; i < dim; i++) {
      a[i] = src[i];
      aa += a[i] * a[i];
    }
    const qNorm = Math.sqrt(aa);
    const excluded = skip(q);
    let n = 0;
    for (let r = 0; r < count; r++) {
      if (r === excluded) continue;
      const at = r * dim;
      let d: number;
      if (metric === 'euclidean') {
        let s = 0;
        for (let i = 0; i < dim; i++) {
          const e = a[i] - features[at + i];
          s += e * e;
        }
        d = Math.sqrt(s);
      } else {
        let s = 0;
        for (let i = 0; i < dim; i++) s += a[i] * features[at + i];
        const nn = qNorm * norms![r];
        d = nn === 0 ? 1 : Math.min(2, Math.max(0, 1 - s / nn));
      }
      const key = Number.isNaN(d) ? Infinity : d;
      // Rows come in increasing order, so a tie keeps the earlier (lower) index ahead.
      if (n === k && !(key < keys[k - 1])) continue;
      let at2 = n < k ? n++ : k - 1;
      while (at2 > 0 && key < keys[at2 - 1]) {
        keys[at2] = keys[at2 - 1];
        best[at2] = best[at2 - 1];
        values[at2] = values[at2 - 1];
        at2--;
      }
      keys[at2] = key;
      best[at2] = r;
      values[at2] = d;
    }
    indices.set(best, q * k);
    for (let j = 0; j < k; j++) distances[q * k + j] = values[j];
  }
  return Object.freeze({ count: queries, k, indices, distances });
}

class FeatureIndex implements NeighbourIndex {
  readonly count: number;
  readonly dim: number;
  private norms: Float64Array | null = null;
  private queryPredictor: Predictor | null = null;
  private disposed = false;

  constructor(
    readonly model: Model,
    private readonly params: Params,
    readonly layer: string,
    readonly features: Float32Array,
    dim: number,
    readonly metric: DistanceMetric,
    private readonly predictorOptions: { backend: BackendName; batchSize: number; stats: Params | undefined },
  ) {
    this.dim = dim;
    this.count = features.length / dim;
  }

  async featuresOf(images: Float32Array): Promise<Float32Array> {
    return this.featuresFor('featuresOf', images);
  }

  async query(images: Float32Array, options: NeighbourQueryOptions = {}): Promise<Neighbours> {
    const who = 'NeighbourIndex.query';
    checkOptions(who, options, ['k', 'metric']);
    const { k, metric } = this.queryOptions(who, options, 0);
    const features = await this.featuresFor(who, images);
    const queries = features.length / this.dim;
    return searchRows(this.features, this.normsFor(metric), this.count, this.dim, queries, (q) => features.subarray(q * this.dim, (q + 1) * this.dim), () => -1, k, metric);
  }

  search(features: ArrayLike<number>, options: NeighbourQueryOptions = {}): Neighbours {
    const who = 'NeighbourIndex.search';
    checkOptions(who, options, ['k', 'metric']);
    const { k, metric } = this.queryOptions(who, options, 0);
    const dim = this.dim;
    if (!(Array.isArray(features) || (ArrayBuffer.isView(features) && !(features instanceof DataView))) || features.length === 0 || features.length % dim !== 0) {
      const got = Array.isArray(features) || ArrayBuffer.isView(features) ? `${(features as ArrayLike<number>).length} values` : describeValue(features);
      fail(who, `features must be count × ${dim} numbers (the ${dim} features of layer "${this.layer}" per query), got ${got}`, `features ${got}`, `a positive multiple of ${dim} numbers`);
    }
    return searchRows(this.features, this.normsFor(metric), this.count, dim, features.length / dim, (q) => sliceView(features, q * dim, dim), () => -1, k, metric);
  }

  nearestTo(indices: number | readonly number[], options: NearestToOptions = {}): Neighbours {
    const who = 'NeighbourIndex.nearestTo';
    checkOptions(who, options, ['k', 'metric', 'excludeSelf']);
    const list = typeof indices === 'number' ? [indices] : indices;
    if (!Array.isArray(list) || list.length === 0) fail(who, `indices must be an index or a non-empty array of them, got ${showValue(indices)}`, `indices ${showValue(indices)}`, 'an index or a non-empty array of indices');
    list.forEach((i) => {
      if (!Number.isInteger(i) || i < 0 || i >= this.count) {
        fail(who, `index ${showValue(i)} is not an indexed image; the index holds images 0 to ${this.count - 1}`, `index ${showValue(i)}`, `an integer in [0, ${this.count - 1}]`);
      }
    });
    const excludeSelf = options.excludeSelf ?? false;
    if (typeof excludeSelf !== 'boolean') fail(who, `excludeSelf must be true or false, got ${showValue(excludeSelf)}`, `excludeSelf ${showValue(excludeSelf)}`, 'true or false');
    const { k, metric } = this.queryOptions(who, options, excludeSelf ? 1 : 0);
    const dim = this.dim;
    return searchRows(
      this.features,
      this.normsFor(metric),
      this.count,
      dim,
      list.length,
      (q) => this.features.subarray(list[q] * dim, (list[q] + 1) * dim),
      (q) => (excludeSelf ? list[q] : -1),
      k,
      metric,
    );
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    const p = this.queryPredictor;
    this.queryPredictor = null;
    await p?.dispose();
  }

  private queryOptions(who: string, options: NeighbourQueryOptions, excluded: number): { k: number; metric: DistanceMetric } {
    const most = this.count - excluded;
    const k = options.k ?? Math.min(DEFAULT_K, most);
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > most) {
      const why = excluded ? ` (the ${this.count} indexed images less the query itself)` : ` (the number of indexed images)`;
      fail(who, `k must be an integer from 1 to ${most}${why}, got ${showValue(options.k)}`, `k ${showValue(options.k)}`, `an integer in [1, ${most}]`);
    }
    return { k, metric: options.metric === undefined ? this.metric : checkMetric(who, options.metric) };
  }

  private normsFor(metric: DistanceMetric): Float64Array | null {
    if (metric !== 'cosine') return null;
    if (!this.norms) {
      const { features, dim } = this;
      this.norms = new Float64Array(this.count);
      for (let r = 0; r < this.count; r++) {
        let s = 0;
        for (let i = 0; i < dim; i++) s += features[r * dim + i] * features[r * dim + i];
        this.norms[r] = Math.sqrt(s);
      }
    }
    return this.norms;
  }

  private async featuresFor(who: string, images: Float32Array): Promise<Float32Array> {
    if (this.disposed) fail(who, 'this neighbour index has been disposed; make a new one with createNeighbourIndex', 'a disposed index', 'an index not yet disposed');
    imageCount(who, this.model, images, 'images');
    this.queryPredictor ??= createPredictor(this.model, this.params, this.predictorOptions);
    const out = await this.queryPredictor.outputs(images, [this.layer]);
    return out[this.layer].data;
  }
}

/** Row `q` of a flat array as an indexable view (typed arrays are sliced without copying). */
function sliceView(features: ArrayLike<number>, start: number, length: number): ArrayLike<number> {
  if (ArrayBuffer.isView(features)) return (features as unknown as Float64Array).subarray(start, start + length);
  return Array.prototype.slice.call(features, start, start + length) as number[];
}

/**
 * An index of the features of `images` (count × the model's input size):
 * each image is run through the model once, in batches of `batchSize`, and
 * the output of `layer` (default: the last hidden layer) kept, to answer
 * nearest-neighbour queries on the host (see the file comment). Call
 * `dispose()` when done querying.
 */
export async function createNeighbourIndex(model: Model, params: Params, images: Float32Array, options: NeighbourIndexOptions = {}): Promise<NeighbourIndex> {
  return makeIndex('createNeighbourIndex', model, params, images, options);
}

async function makeIndex(who: string, model: Model, params: Params, images: Float32Array, options: NeighbourIndexOptions): Promise<FeatureIndex> {
  checkModel(who, model);
  checkOptions(who, options, INDEX_OPTIONS);
  const layer = options.layer ?? findFeatureLayer(who, model);
  const built = buildModel(model);
  checkModelParams(who, model, built, params);
  const out = findLayerOutput(who, built, layer);
  const dim = sizeOf(out.shape) / out.shape[0];
  const metric = checkMetric(who, options.metric ?? 'euclidean');
  const count = imageCount(who, model, images, 'images');
  const backend = options.backend ?? DEFAULT_BACKEND;
  const batchSize = positiveInteger(who, 'batchSize', options.batchSize ?? DEFAULT_INDEX_BATCH);
  const queryBatchSize = positiveInteger(who, 'queryBatchSize', options.queryBatchSize ?? DEFAULT_QUERY_BATCH);
  const predictor = createPredictor(model, params, { backend, batchSize: Math.min(batchSize, count), stats: options.stats });
  let features: Float32Array;
  try {
    features = (await predictor.outputs(images, [layer]))[layer].data;
  } finally {
    await predictor.dispose();
  }
  return new FeatureIndex(model, params, layer, features, dim, metric, { backend, batchSize: queryBatchSize, stats: options.stats });
}

/**
 * The `k` nearest of `images` to each of `queries` in one call: indexes
 * `images`, queries, and disposes the index. To query again, keep an index
 * from `createNeighbourIndex`.
 */
export async function nearestNeighbours(
  model: Model,
  params: Params,
  images: Float32Array,
  queries: Float32Array,
  options: NeighbourIndexOptions & NeighbourQueryOptions = {},
): Promise<Neighbours> {
  const who = 'nearestNeighbours';
  checkModel(who, model);
  checkOptions(who, options, [...INDEX_OPTIONS, 'k']);
  const { k, ...rest } = options;
  imageCount(who, model, queries, 'queries');
  // k checked here too, before the index is built, so that a mistake costs nothing and names this function.
  const most = imageCount(who, model, images, 'images');
  if (k !== undefined && (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > most)) {
    fail(who, `k must be an integer from 1 to ${most} (the number of indexed images), got ${showValue(k)}`, `k ${showValue(k)}`, `an integer in [1, ${most}]`);
  }
  const index = await makeIndex(who, model, params, images, rest);
  try {
    return await index.query(queries, k === undefined ? {} : { k });
  } finally {
    await index.dispose();
  }
}
