/**
 * Evaluation: mean cross-entropy and top-1 and top-5 accuracy of a classifier
 * over a data set, in batches through one compiled graph. The graph has a
 * fixed batch size, so the last, smaller batch is padded with zeros and its
 * padded rows ignored.
 *
 * An example counts as correct in the top k when its label is among the k
 * classes with the largest logits, ranked with ties to the lower class index
 * and NaN last (nn/ranking.ts): the rule `predict`'s top-k labels follow, so
 * a label is counted exactly when `predict` would list it. With fewer than k
 * classes every label is in the top k (top-5 accuracy is 1 for 2 to 5
 * classes), and top-5 accuracy is never below top-1 accuracy.
 *
 * With `crops: 'ten'` (AlexNet's test-time averaging, see nn/predict.ts and
 * data/crops.ts) the data set's images are larger than the model's input;
 * each batch is cut into the ten crops in turn and run through the same
 * compiled graph, and each example's ten softmax outputs are averaged. The
 * top-1 and top-5 ranks are those of the averaged probabilities (ties to the
 * lower class, as above, so a label counts exactly when `predict` with the
 * same crops lists it), and the loss is the cross-entropy of the averaged
 * probabilities, −log((1/K) Σ_k softmax(z_k)[label]) over the K = 10 crops
 * (1 for `'center'`) — not the mean of the crops' losses, which is never
 * smaller (Jensen's inequality).
 */
import type { Tensor } from '../graph/tensor.js';
import { shapeToString, sizeOf } from '../graph/tensor.js';
import { stridesOf } from '../graph/shape.js';
import { checkOptions, describeValue, fail } from '../graph/error.js';
import type { Dataset } from '../data/batches.js';
import { compile, type BackendName, type CompiledFunction } from '../backend/compile.js';
import { compileParallel, PARALLEL_BACKENDS, type ParallelBackend } from '../backend/parallel.js';
import { firstNonFinite } from '../backend/feeds.js';
import { input } from '../ops/input.js';
import { classIndexRange, isClassIndex } from '../ops/oneHot.js';
import { softmaxCrossEntropy } from '../ops/softmaxCrossEntropy.js';
import { buildModel, type Model } from '../nn/model.js';
import { CropAverager, cropPlan, type CropPlan } from '../nn/predict.js';
import { CROP_MODES, type CropMode } from '../data/crops.js';
import type { Shape } from '../graph/shape.js';
import { DEFAULT_BACKEND } from './defaults.js';
import type { Params } from '../nn/params.js';
import type { StatSpec } from '../nn/context.js';
import { sameShape } from '../graph/shape.js';
import { labelRank } from '../nn/ranking.js';

/** Name of the labels input of the training and evaluation graphs. */
export const LABELS_INPUT = 'labels';

/** What `evaluate` measures; the error rates are 1 − the accuracies. */
export interface EvaluateResult {
  /** Mean softmax cross-entropy (with crops, of the averaged probabilities). */
  readonly loss: number;
  /**
   * Top-1 accuracy: the fraction of examples whose largest logit (the first,
   * on a tie) is the label's; with crops, the largest averaged probability.
   */
  readonly accuracy: number;
  /** Top-5 accuracy: the fraction whose label is among the 5 largest logits (with crops, averaged probabilities; 1 with 5 classes or fewer). */
  readonly top5Accuracy: number;
  /** Top-1 error, 1 − accuracy. */
  readonly error: number;
  /** Top-5 error, 1 − top5Accuracy. */
  readonly top5Error: number;
  /** Number of examples measured. */
  readonly count: number;
}

/**
 * Number of rows of `logits [rows, classes]` whose label is among the `k`
 * best classes (ties to the lower class index, NaN last; see the file comment).
 */
export function countTopK(logits: ArrayLike<number>, labels: ArrayLike<number>, rows: number, classes: number, k: number): number {
  let correct = 0;
  for (let i = 0; i < rows; i++) if (labelRank(logits, i, classes, labels[i]) < k) correct++;
  return correct;
}

/** Number of rows of `logits [rows, classes]` whose first largest entry is the label (`countTopK` with k = 1). */
export function countCorrect(logits: ArrayLike<number>, labels: ArrayLike<number>, rows: number, classes: number): number {
  return countTopK(logits, labels, rows, classes, 1);
}

/** The classifier output `[batch, classes]` of a model, or a clear error. */
export function classesOf(who: string, model: Model, output: Tensor, batchSize: number): number {
  if (output.rank !== 2 || output.shape[0] !== batchSize) {
    fail(
      who,
      `model "${model.name}" must map a batch of ${batchSize} to logits [${batchSize}, classes], but gives ${shapeToString(output.shape)}`,
      `output ${shapeToString(output.shape)}`,
      `logits [${batchSize}, classes]`,
    );
  }
  return output.shape[1];
}

/** That `data` is a `Dataset` record (its sizes are checked by `checkDataset`). */
function checkDatasetRecord(who: string, what: string, data: Dataset): void {
  if (!data || !(data.images instanceof Float32Array) || !ArrayBuffer.isView(data.labels) || !Number.isInteger(data.count)) {
    const shape = '{ images: Float32Array, labels: Uint8Array, count }';
    fail(who, `${what} must be ${shape}`, describeValue(data), shape);
  }
}

/**
 * Samples per example of a data set, checked against the model's input
 * shape, or against `imageShape` when given (the images crops are cut from).
 */
export function checkDataset(who: string, what: string, model: Model, data: Dataset, imageShape?: Shape): void {
  checkDatasetRecord(who, what, data);
  const per = sizeOf(imageShape ?? model.inputShape);
  if (data.images.length !== data.count * per || data.labels.length !== data.count) {
    const reads = imageShape
      ? `its images are ${shapeToString(imageShape)} (imageShape, ${per} values) per example`
      : `model "${model.name}" reads ${shapeToString(model.inputShape)} (${per} values) per example`;
    fail(
      who,
      `${what} has ${data.count} examples, ${data.images.length} image values and ${data.labels.length} labels, but ${reads}`,
      `${data.count} examples, ${data.images.length} image values, ${data.labels.length} labels`,
      `${data.count * per} image values and ${data.count} labels`,
    );
  }
}

/**
 * Every example of a data set (already through checkDataset) fit to train
 * or measure on, checked before the first step: each label a class index of
 * the model's `classes` outputs, and each pixel a finite number. The first
 * bad one is reported with its example index (and pixel position in
 * `imageShape`, by default the model's input shape), instead of when its
 * batch comes up.
 */
export function checkExamples(who: string, what: string, model: Model, data: Dataset, classes: number, imageShape: Shape = model.inputShape): void {
  const { labels, images } = data;
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (!isClassIndex(v, classes)) {
      fail(
        who,
        `${what} label ${i} is ${v}; labels must be integer class indices in [0, ${classes - 1}] (the model has ${classes} outputs)`,
        `label ${i} = ${v}`,
        classIndexRange(classes),
      );
    }
  }
  const at = firstNonFinite(images);
  if (at >= 0) {
    const per = sizeOf(imageShape);
    const example = Math.floor(at / per);
    let rest = at - example * per;
    const pixel = stridesOf(imageShape).map((stride) => {
      const c = Math.floor(rest / stride);
      rest -= c * stride;
      return c;
    });
    fail(
      who,
      `${what} example ${example} holds ${images[at]} at pixel ${shapeToString(pixel)} of its ${shapeToString(imageShape)} image; pixels must be finite numbers`,
      `${images[at]} at example ${example}, pixel ${shapeToString(pixel)}`,
      'finite pixel values',
    );
  }
}

/**
 * Dispose a compiled function if its backend holds resources (device memory);
 * waits for backends whose `dispose()` returns a promise.
 */
export async function disposeCompiled(f: unknown): Promise<void> {
  const dispose = (f as { dispose?: unknown } | null)?.dispose;
  if (typeof dispose === 'function') await dispose.call(f);
}

/** Feeds for the parameter inputs: their data arrays, by name. */
export function paramFeeds(who: string, params: Params, names: readonly string[]): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const name of names) {
    const v = params[name];
    if (v === undefined) fail(who, `no value for parameter "${name}"; the parameters do not belong to this model`, `no "${name}"`, `a value for every parameter of the model`);
    out[name] = v.data;
  }
  return out;
}

/**
 * Refuse `stats` (`what` names them: `initial.stats`, the stats option)
 * unless it holds every statistic of `specs`, each of its shape.
 */
export function checkStats(who: string, what: string, stats: unknown, specs: readonly StatSpec[]): asserts stats is Params {
  if (stats === null || typeof stats !== 'object') fail(who, `${what} must be a Params record, got ${describeValue(stats)}`, describeValue(stats), 'a Params record');
  const record = stats as Record<string, { shape?: unknown } | undefined>;
  for (const st of specs) {
    const v = Object.hasOwn(record, st.name) ? record[st.name] : undefined;
    if (v === undefined) {
      fail(who, `${what} has no "${st.name}", a statistic of the model (a TrainState's stats, or initStats(model))`, `no "${st.name}"`, `"${st.name}" ${shapeToString(st.shape)}`);
    }
    if (!Array.isArray(v.shape) || !sameShape(v.shape as number[], st.shape)) {
      const got = Array.isArray(v.shape) ? shapeToString(v.shape as number[]) : describeValue(v.shape);
      fail(who, `${what} "${st.name}" has shape ${got} but the model reads ${shapeToString(st.shape)}`, `"${st.name}" ${got}`, `"${st.name}" ${shapeToString(st.shape)}`);
    }
  }
}

/**
 * One compiled evaluation graph, reused for every evaluation of a training
 * run. With a crop plan (`cropPlan`), the data's images are of the plan's
 * image shape, and the graph (logits only) runs once per crop per batch.
 */
export class Evaluator {
  readonly batchSize: number;
  readonly classes: number;
  private readonly fn: CompiledFunction;
  private readonly paramNames: readonly string[];
  /** The model's statistics (batch-norm running averages), fed beside the parameters. */
  readonly stats: readonly StatSpec[];
  private readonly perExample: number;
  private readonly averager: CropAverager | null;

  /**
   * `threads` above 1 (train's, on a backend compileParallel takes) cuts each
   * evaluation batch across that many threads when it divides the batch;
   * inference graphs compute the same either way (batch norm reads its
   * running statistics), so only the speed changes.
   */
  constructor(readonly model: Model, batchSize: number, backend: BackendName, crops: CropPlan | null = null, threads = 1) {
    const parts = threads > 1 && batchSize % threads === 0 && (PARALLEL_BACKENDS as readonly string[]).includes(backend) ? threads : 1;
    const built = buildModel(model, { batchSize: batchSize / parts, training: false });
    this.classes = classesOf('evaluate', model, built.output, batchSize / parts);
    const x = built.input.attrs.name;
    if (crops) {
      // The loss of averaged probabilities is computed on the host, so the graph gives logits alone.
      const outputs = [built.output];
      this.fn = parts > 1 ? compileParallel(outputs, { backend: backend as ParallelBackend, threads: parts, split: [x], combine: ['concat'] }) : compile(outputs, { backend });
    } else {
      const labels = input(LABELS_INPUT, [batchSize / parts]);
      const losses = softmaxCrossEntropy(built.output, labels, { reduction: 'none' });
      const outputs = [losses, built.output];
      this.fn =
        parts > 1
          ? compileParallel(outputs, { backend: backend as ParallelBackend, threads: parts, split: [x, LABELS_INPUT], combine: ['concat', 'concat'] })
          : compile(outputs, { backend });
    }
    this.batchSize = batchSize;
    this.paramNames = built.params.map((p) => p.name);
    this.stats = built.stats;
    this.perExample = sizeOf(model.inputShape);
    this.averager = crops ? new CropAverager(crops, batchSize, this.classes) : null;
  }

  /**
   * Evaluate `params` (and the model's statistics `stats`, checked by the
   * caller) on `data`; resolves to null if `stopped()` turns true between batches.
   */
  async run(params: Params, data: Dataset, stopped: () => boolean = () => false, between?: () => Promise<void>, stats: Params = {}): Promise<EvaluateResult | null> {
    const B = this.batchSize;
    const per = this.perExample;
    const feedsBase: Record<string, Float32Array> = paramFeeds('evaluate', params, this.paramNames);
    for (const st of this.stats) feedsBase[st.name] = stats[st.name].data;
    let lossSum = 0;
    let correct = 0;
    let correct5 = 0;
    for (let start = 0; start < data.count; start += B) {
      if (stopped()) return null;
      const rows = Math.min(B, data.count - start);
      if (this.averager) {
        const logMean = await this.averager.chunk(data.images, start, rows, async (x) => (await this.fn.run({ ...feedsBase, x }))[0].data);
        const labels = data.labels.subarray(start, start + rows);
        // Cross-entropy of the averaged probabilities: −log mean_k softmax(z_k)[label].
        for (let i = 0; i < rows; i++) lossSum -= logMean[i * this.classes + labels[i]];
        correct += countCorrect(logMean, labels, rows, this.classes);
        correct5 += countTopK(logMean, labels, rows, this.classes, 5);
        if (between) await between();
        continue;
      }
      let x = data.images.subarray(start * per, (start + rows) * per);
      const labels = new Float32Array(B);
      for (let i = 0; i < rows; i++) labels[i] = data.labels[start + i];
      if (rows < B) {
        const padded = new Float32Array(B * per);
        padded.set(x);
        x = padded;
      }
      const [losses, logits] = await this.fn.run({ ...feedsBase, x, [LABELS_INPUT]: labels });
      for (let i = 0; i < rows; i++) lossSum += losses.data[i];
      correct += countCorrect(logits.data, labels, rows, this.classes);
      correct5 += countTopK(logits.data, labels, rows, this.classes, 5);
      if (between) await between();
    }
    const n = data.count;
    const accuracy = n > 0 ? correct / n : NaN;
    const top5Accuracy = n > 0 ? correct5 / n : NaN;
    return Object.freeze({ loss: n > 0 ? lossSum / n : NaN, accuracy, top5Accuracy, error: 1 - accuracy, top5Error: 1 - top5Accuracy, count: n });
  }

  dispose(): Promise<void> {
    return disposeCompiled(this.fn);
  }
}

/** What `evaluate` takes. */
export interface EvaluateOptions {
  /** The classifier: its output must be logits `[N, classes]`. */
  model: Model;
  /** Its parameter values, e.g. a `TrainState`'s or `loadModel`'s. */
  params: Params;
  /** The labelled examples to measure on. */
  data: Dataset;
  /** Default `DEFAULT_BACKEND`. */
  backend?: BackendName;
  /** Examples per run of the graph (default 500, at most the data set's size). */
  batchSize?: number;
  /** The model's statistics (a `TrainState`'s `stats`: batch-norm running averages), required when the model keeps any. */
  stats?: Params;
  /**
   * Test-time crop averaging (default none). `'ten'`: each example's
   * prediction is the mean of the softmax outputs of AlexNet's ten crops of
   * its image (four corners, centre, and their mirror images) at the
   * model's input size; `'center'`: the centre crop alone. The data's
   * images are then larger than the model's input, e.g. 28×28 MNIST for a
   * model reading [1, 24, 24]; the loss is the cross-entropy of the averaged
   * probabilities. See `PredictOptions.crops` for what is refused.
   */
  crops?: CropMode;
  /**
   * `[C, H, W]` of the data's images, with `crops`. By default the images
   * are taken to be square with the model's channels: H = W =
   * √(values per example / C), refused when that is not a whole number.
   */
  imageShape?: Shape;
}

/**
 * Mean loss and top-1 and top-5 accuracy (and error) of `params` on `data`.
 * Rejects with a StriateError, before the first batch runs, when `data`
 * does not fit the model, is empty, or holds a label that is not a class
 * index of the model's outputs or a pixel that is not finite (naming the
 * example's index in `data`), and, with `crops`, when the images do not fit
 * the crops (see `EvaluateOptions.crops`).
 *
 * ```ts
 * // a model reading [1, 24, 24] crops, measured on 28×28 MNIST
 * const r = await evaluate({ model, params, data: mnist.test, crops: 'ten' });
 * ```
 */
export async function evaluate(options: EvaluateOptions): Promise<EvaluateResult> {
  checkOptions('evaluate', options, ['model', 'params', 'data', 'backend', 'batchSize', 'crops', 'imageShape', 'stats'], '{ model, params, data }');
  const { model, params, data } = options;
  const imageShape = options.imageShape ?? inferImageShape(model, options.crops, data);
  const crops = cropPlan('evaluate', model, options.crops, imageShape);
  checkDataset('evaluate', 'data', model, data, crops?.imageShape);
  if (data.count === 0) fail('evaluate', 'the data set is empty', '0 examples', 'at least one example');
  const wanted = options.batchSize ?? 500;
  if (typeof wanted !== 'number' || !Number.isInteger(wanted) || wanted < 1) {
    const shown = JSON.stringify(wanted) ?? describeValue(wanted);
    fail('evaluate', `batchSize must be a positive integer, got ${shown}`, `batchSize ${shown}`, 'a positive integer');
  }
  const batchSize = Math.min(wanted, data.count);
  const evaluator = new Evaluator(model, batchSize, options.backend ?? DEFAULT_BACKEND, crops);
  try {
    checkExamples('evaluate', 'data', model, data, evaluator.classes, crops?.imageShape);
    const stats = options.stats ?? {};
    checkStats('evaluate', 'the stats option', stats, evaluator.stats);
    return (await evaluator.run(params, data, undefined, undefined, stats))!;
  } finally {
    await evaluator.dispose();
  }
}

/**
 * The square `[C, H, H]` images of `data` for `crops` when no `imageShape`
 * is given: C the model's channels, H = √(values per example / C). Undefined
 * without crops or with a model that cannot take them (`cropPlan` reports
 * that); a StriateError for data that is no data set or is empty, or whose
 * values per example are not C whole squares.
 */
function inferImageShape(model: Model, crops: CropMode | undefined, data: Dataset): Shape | undefined {
  const who = 'evaluate';
  if (crops === undefined || !CROP_MODES.includes(crops) || !Array.isArray(model?.inputShape) || model.inputShape.length !== 3) return undefined;
  checkDatasetRecord(who, 'data', data);
  if (data.count < 1) fail(who, 'the data set is empty', '0 examples', 'at least one example');
  const C = model.inputShape[0];
  const per = data.images.length / data.count;
  const side = Math.round(Math.sqrt(per / C));
  if (!Number.isInteger(per) || side * side * C !== per) {
    const values = Number.isInteger(per) ? `${per} values per example` : `${data.images.length} image values for ${data.count} examples`;
    fail(
      who,
      `crops '${crops}': data has ${values}, which is not ${C} square channel${C === 1 ? '' : 's'} of model "${model.name}"'s ${shapeToString(model.inputShape)} input; ` +
        `give imageShape, the [channels, height, width] of each image (non-square images need it)`,
      values,
      `${C} × H × H values per example, or an imageShape`,
    );
  }
  return [C, side, side];
}
