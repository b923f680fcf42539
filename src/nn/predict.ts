/**
 * Inference: class probabilities and top-k labels, and the output of any
 * layer by its name, for any number of examples, on any backend.
 *
 * A predictor builds the model's evaluation graph once for a fixed chunk of
 * `batchSize` examples and compiles it once; each call runs the examples
 * through it chunk by chunk, the last chunk padded with zeros and its padded
 * rows dropped. So a drawing pad can call `predict` on every stroke without
 * compiling anything again (give it `batchSize: 1`), and a test set of 10,000
 * images runs through the same graph in chunks.
 *
 * ```ts
 * const predictor = createPredictor(model, params, { backend: 'cpu', batchSize: 64 });
 * const { topK } = await predictor.predict(images, { topK: 3 });   // topK.labels: count × 3
 * const maps = await predictor.outputs(images, ['conv1', 'relu1']); // maps.conv1.shape: [count, 6, 24, 24]
 * await predictor.dispose();
 * ```
 *
 * Probabilities are the softmax of the logits, computed on the host in
 * float64 (max subtracted first) and stored as float32; top-k labels rank
 * classes by logit with ties to the lower class index (ranking.ts), the rule
 * `evaluate` uses for its top-1 and top-5 accuracy.
 *
 * Test-time crop averaging (`crops: 'ten'`, as AlexNet): the images are
 * larger than the model's input (`imageShape`, e.g. [1, 28, 28] for a model
 * reading [1, 24, 24]); each chunk of examples is cut on the host into each
 * of the ten crops of data/crops.ts in turn (a typed-array copy into one
 * reused chunk buffer), so the one compiled graph runs ten times per chunk,
 * and the ten softmax outputs of each example are averaged. What is averaged
 * is probabilities, as AlexNet averaged its softmax outputs, not logits. The
 * mean is kept as its logarithm, log((1/K) Σ_k softmax(z_k)), summed as a
 * log-sum-exp of the log-softmax values (float64, running maximum), so a
 * probability that underflows in every crop still has a finite log; the
 * prediction's `logits` are that log-mean, whose softmax is exactly the
 * averaged probabilities, and top-k labels rank it (the order of the averaged
 * probabilities). `crops: 'center'` runs the single centre crop instead.
 *
 * ```ts
 * const { topK } = await predictor.predict(images28, { crops: 'ten', imageShape: [1, 28, 28] });
 * ```
 */
import { compile, type BackendName, type CompiledFunction, type RunResult } from '../backend/compile.js';
import type { Feeds } from '../backend/feeds.js';
import { describeValue, fail } from '../graph/error.js';
import { sameShape } from '../graph/shape.js';
import { type Tensor, shapeToString, sizeOf } from '../graph/tensor.js';
import { buildModel, type BuiltModel, checkModel, findLayerOutput, type Model } from './model.js';
import { checkParamRecord, type Params } from './params.js';
import { topKRow } from './ranking.js';
import { checkOptions, showValue } from './spec.js';
import { checkImageShape, CROP_MODES, cropInto, cropWindowsFor, imageCount, type CropMode, type CropWindow } from '../data/crops.js';
import type { Shape } from '../graph/shape.js';

/** Options of `createPredictor` (and of the one-shot `predict` and `layerOutputs`). */
export interface PredictorOptions {
  /** Backend to run on (default `'auto'`, the fastest that works here, as for `train`). */
  backend?: BackendName;
  /**
   * Examples per run of the compiled graph (default 32 for a predictor; the
   * one-shot functions use min(500, count)). Fewer examples than this are
   * padded to a full chunk, so for one example at a time give 1.
   */
  batchSize?: number;
  /**
   * Non-trainable values the graph reads besides the parameters (a
   * `TrainState`'s `stats`, e.g. batch-norm running means), by input name.
   */
  stats?: Params;
}

/** Options of one `predict` call. */
export interface PredictOptions {
  /** Labels per example, best first: an integer in [1, classes] (default min(5, classes)). */
  topK?: number;
  /**
   * Parameters for this call instead of the predictor's (e.g. the latest
   * state of a training run), checked against the model the same way.
   */
  params?: Params;
  /**
   * Test-time crop averaging (default: none, the images are of the model's
   * input shape). `'ten'`: AlexNet's ten crops of the model's input size (the
   * four corners and the centre of each image, and their mirror images; see
   * `cropWindows`), whose softmax probabilities are averaged per example.
   * `'center'`: the single centre crop, the cheap alternative. Needs
   * `imageShape`, a model whose input is an image `[C, h, w]`, and images of
   * the same C channels at least `h × w`; for `'ten'` larger in both height
   * and width, and by 2 or more in one of them, so that the ten windows
   * differ (28×28 images for 24×24 crops are fine; 25×25 are not, their
   * centre crop is the top-left one). Anything else is a StriateError.
   */
  crops?: CropMode;
  /**
   * The `[C, H, W]` of each image in `images`, with `crops` (required there:
   * a flat array does not say how large its images are). Without `crops` it
   * may only repeat the model's input shape.
   */
  imageShape?: Shape;
}

/** Options of one `outputs` call. */
export interface OutputsOptions {
  /** Parameters for this call instead of the predictor's, as for `predict`. */
  params?: Params;
}

/** What `predict` returns for `count` examples of a model with `classes` classes. */
export interface Prediction {
  /** Number of examples. */
  readonly count: number;
  /** Number of classes (the width of the logits). */
  readonly classes: number;
  /**
   * The model's output, `count × classes`, row-major. With `crops`, the log
   * of the averaged probabilities: the logits of the averaged prediction
   * (their softmax is `probabilities`), not an average of the crops' logits.
   */
  readonly logits: Float32Array;
  /** The softmax of each row of the logits, `count × classes` (with `crops`, the mean of the crops' softmax outputs). */
  readonly probabilities: Float32Array;
  /** The `k` best classes of each example, `count × k`, best first, and their probabilities. */
  readonly topK: {
    /** Labels per example. */
    readonly k: number;
    /** The classes, `count × k`, best first. */
    readonly labels: Int32Array;
    /** Their probabilities, `count × k`. */
    readonly probabilities: Float32Array;
  };
}

/** One layer's output for `count` examples: its shape with the batch dimension (= count) first, and its values. */
export interface LayerOutput {
  /** `[count, ...]`: the layer's output shape for `count` examples. */
  readonly shape: number[];
  /** Its values, row-major. */
  readonly data: Float32Array;
}

/** Layer outputs by layer name, as `outputs` returns them. */
export type LayerOutputs = Readonly<Record<string, LayerOutput>>;

/** A model compiled for inference; see `createPredictor`. */
export interface Predictor {
  /** The model it runs. */
  readonly model: Model;
  /** Examples per run of the compiled graph. */
  readonly batchSize: number;
  /** The backend that runs the graph (`'auto'` until its first run has chosen one). */
  readonly backend: BackendName;
  /**
   * Class probabilities and the top-k labels of `images`: count examples of
   * the model's input shape, back to back (count × product of inputShape
   * values; any count, 0 included), or with `crops`, count images of
   * `imageShape` whose crops are averaged (see `PredictOptions.crops`).
   */
  predict(images: Float32Array, options?: PredictOptions): Promise<Prediction>;
  /**
   * The outputs of the layers named `layerNames` (full names, as the model's
   * summary lists them: `conv1`, `relu2`, `block1.conv1`) for `images`. Each
   * set of names is compiled once, on first use.
   */
  outputs(images: Float32Array, layerNames: readonly string[], options?: OutputsOptions): Promise<LayerOutputs>;
  /** Release the compiled graphs (device memory); the predictor cannot run afterwards. */
  dispose(): Promise<void>;
}

/** Name of the image input of a predictor's graphs. */
const INPUT = 'x';
/** As `DEFAULT_BACKEND` (train/defaults.ts, a floor above this one). */
const DEFAULT_PREDICT_BACKEND: BackendName = 'auto';
const DEFAULT_PREDICTOR_BATCH = 32;
const DEFAULT_ONE_SHOT_BATCH = 500;

/**
 * A call's parameters: `own` (the predictor's or explainer's), or the call's
 * `override` checked against the model with `checkParams`.
 */
export function paramsOr(who: string, model: Model, built: BuiltModel, own: Params, override: Params | undefined): Params {
  if (override === undefined) return own;
  checkParams(who, model, built, override);
  return override;
}

/**
 * Check that `params` hold every parameter the graph reads, with its shape
 * and a Float32Array of its size. Extra entries are ignored. Shared with
 * src/explain, whose tools take a model's params as predict does.
 */
export function checkParams(who: string, model: Model, built: BuiltModel, params: Params): void {
  if (params === null || typeof params !== 'object') {
    fail(who, `params must be a record of parameter values by name (e.g. initParams(model, seed)), got ${describeValue(params)}`, describeValue(params), 'a record of parameter values');
  }
  for (const p of built.params) {
    const v = Object.hasOwn(params, p.name) ? params[p.name] : undefined;
    if (v === undefined) {
      fail(
        who,
        `params has no "${p.name}" (shape ${shapeToString(p.shape)}), which model "${model.name}" reads; ` +
          `give the parameters of this model (from training, loadModel or initParams)`,
        `no "${p.name}"`,
        `"${p.name}" of shape ${shapeToString(p.shape)}`,
      );
    }
    if (v === null || typeof v !== 'object') {
      fail(who, `parameter "${p.name}" must be a { shape, data } value, got ${describeValue(v)}`, `"${p.name}": ${describeValue(v)}`, `a { shape, data } value of shape ${shapeToString(p.shape)}`);
    }
    if (!Array.isArray(v.shape) || !sameShape(v.shape, p.shape)) {
      const got = Array.isArray(v.shape) ? shapeToString(v.shape) : describeValue(v.shape);
      fail(who, `parameter "${p.name}" has shape ${got} but model "${model.name}" needs ${shapeToString(p.shape)}`, `"${p.name}" of shape ${got}`, `shape ${shapeToString(p.shape)}`);
    }
    if (!(v.data instanceof Float32Array) || v.data.length !== sizeOf(p.shape)) {
      fail(
        who,
        `parameter "${p.name}" must hold a Float32Array of ${sizeOf(p.shape)} values, got ${describeValue(v.data)}`,
        `"${p.name}" data ${describeValue(v.data)}`,
        `a Float32Array(${sizeOf(p.shape)})`,
      );
    }
  }
}

/**
 * How a crop-averaged run cuts its images (`predict` and `evaluate` with
 * `crops`), resolved and checked: the images' shape and the windows, each of
 * the model's input size. Internal to predict and evaluate.
 */
export interface CropPlan {
  /** The crop mode asked for. */
  readonly mode: CropMode;
  /** `[C, H, W]` of each image the crops are cut from. */
  readonly imageShape: Shape;
  /** The crops, in `cropWindows` order, each `[C, h, w]` with `[C, h, w]` the model's input shape. */
  readonly windows: readonly CropWindow[];
}

/**
 * The crop plan of options `crops` and `imageShape` for `model`, or null
 * when no crops are asked for (then `imageShape`, if given, must be the
 * model's input shape). Throws a StriateError naming `who` for an unknown
 * mode, a model whose input is not an image `[C, h, w]`, a missing
 * `imageShape`, other channels than the model's, images
 * smaller than the crop, and `'ten'` crops that would coincide.
 */
export function cropPlan(who: string, model: Model, crops: unknown, imageShape: unknown): CropPlan | null {
  const input = model.inputShape;
  if (crops === undefined) {
    if (imageShape === undefined) return null;
    checkImageShape(who, imageShape);
    if (!sameShape(imageShape, input)) {
      fail(
        who,
        `imageShape ${shapeToString(imageShape)} is not the ${shapeToString(input)} input of model "${model.name}"; ` +
          `to read crops of larger images give crops: 'ten' or 'center'`,
        `imageShape ${shapeToString(imageShape)} without crops`,
        `imageShape ${shapeToString(input)}, or a crops option`,
      );
    }
    return null;
  }
  if (!CROP_MODES.includes(crops as CropMode)) {
    fail(who, `crops must be 'ten' (AlexNet's ten crops) or 'center' (the centre crop), got ${showValue(crops)}`, `crops ${showValue(crops)}`, "'ten' or 'center'");
  }
  const mode = crops as CropMode;
  if (input.length !== 3) {
    fail(
      who,
      `crops '${mode}' cut images for a model whose input is an image [channels, height, width], but model "${model.name}" reads ${shapeToString(input)}`,
      `model input ${shapeToString(input)}`,
      'a model input [channels, height, width]',
    );
  }
  if (imageShape === undefined) {
    fail(
      who,
      `crops '${mode}' needs imageShape, the [channels, height, width] of each image in images, from which the ` +
        `${input[1]}×${input[2]} crops model "${model.name}" reads are cut, e.g. imageShape: [${input[0]}, ${input[1] + 4}, ${input[2] + 4}]`,
      'no imageShape',
      'imageShape [channels, height, width]',
    );
  }
  checkImageShape(who, imageShape);
  if (imageShape[0] !== input[0]) {
    fail(
      who,
      `imageShape ${shapeToString(imageShape)} has ${imageShape[0]} channel${imageShape[0] === 1 ? '' : 's'} but model "${model.name}" reads ` +
        `${shapeToString(input)} (${input[0]} channel${input[0] === 1 ? '' : 's'}); crops keep every channel, so they must match`,
      `${imageShape[0]} channels (imageShape ${shapeToString(imageShape)})`,
      `${input[0]} channels, as the model input ${shapeToString(input)}`,
    );
  }
  const windows = cropWindowsFor(who, mode, imageShape, [input[1], input[2]]);
  return Object.freeze({ mode, imageShape: Object.freeze([...imageShape]), windows });
}

/**
 * Runs the crops of a crop plan through a compiled graph of `batchSize`
 * examples, chunk by chunk, and averages the crops' softmax outputs (see
 * the file comment): for each chunk, each window is cut into one reused
 * buffer, `run` gives its logits `[batchSize, classes]`, and their
 * log-softmax is folded into a running log-sum-exp per example and class.
 * Internal to predict and evaluate.
 */
export class CropAverager {
  /** One chunk of crops, `batchSize × C × h × w`; rows past the chunk's last example are zeros. */
  private readonly x: Float32Array;
  private readonly per: number;
  /** Running maximum and sum of the log-sum-exp, per example and class. */
  private readonly max: Float64Array;
  private readonly sum: Float64Array;
  /** The result of the last chunk: log of the mean probability, `batchSize × classes`. */
  private readonly logMean: Float64Array;

  constructor(
    private readonly plan: CropPlan,
    readonly batchSize: number,
    private readonly classes: number,
  ) {
    const [window] = plan.windows;
    this.per = plan.imageShape[0] * window.height * window.width;
    this.x = new Float32Array(batchSize * this.per);
    this.max = new Float64Array(batchSize * classes);
    this.sum = new Float64Array(batchSize * classes);
    this.logMean = new Float64Array(batchSize * classes);
  }

  /**
   * log((1/K) Σ_k softmax(z_k)) for images `start .. start + rows - 1`, each
   * `[classes]` row after row (the first `rows × classes` values of the
   * result, which is overwritten by the next call).
   */
  async chunk(images: Float32Array, start: number, rows: number, run: (x: Float32Array) => Promise<ArrayLike<number>>): Promise<Float64Array> {
    const { classes, max, sum, x } = this;
    const n = rows * classes;
    max.fill(-Infinity, 0, n);
    sum.fill(0, 0, n);
    x.fill(0, rows * this.per);
    for (const window of this.plan.windows) {
      cropInto(images, this.plan.imageShape, window, start, rows, x);
      const z = await run(x);
      for (let r = 0; r < rows; r++) {
        const at = r * classes;
        // log softmax(z)_c = z_c − m − log Σ exp(z − m), with m the row's maximum.
        let m = -Infinity;
        for (let c = 0; c < classes; c++) m = Math.max(m, z[at + c]);
        let s = 0;
        for (let c = 0; c < classes; c++) s += Math.exp(z[at + c] - m);
        const lse = m + Math.log(s);
        for (let c = 0; c < classes; c++) {
          // Fold l into the running log-sum-exp (max[i], sum[i]): Σ exp(l_k) = exp(max) · sum.
          const l = z[at + c] - lse;
          const i = at + c;
          if (l === -Infinity) continue; // a zero probability adds nothing
          if (l > max[i]) {
            sum[i] = sum[i] * Math.exp(max[i] - l) + 1;
            max[i] = l;
          } else {
            sum[i] += Math.exp(l - max[i]); // NaN stays NaN
          }
        }
      }
    }
    const logK = Math.log(this.plan.windows.length);
    for (let i = 0; i < n; i++) this.logMean[i] = max[i] + Math.log(sum[i]) - logK;
    return this.logMean;
  }
}

class ModelPredictor implements Predictor {
  readonly batchSize: number;
  private readonly built: BuiltModel;
  private readonly perExample: number;
  private readonly paramNames: ReadonlySet<string>;
  private readonly logitsFn: CompiledFunction;
  /** Graphs for `outputs`, by the list of names they return. */
  private readonly layerFns = new Map<string, CompiledFunction>();
  private disposed = false;

  constructor(
    who: string,
    readonly model: Model,
    private readonly params: Params,
    private readonly backendName: BackendName,
    batchSize: number,
    private readonly stats: Params,
  ) {
    this.batchSize = batchSize;
    this.built = buildModel(model, { batchSize, inputName: INPUT });
    this.perExample = sizeOf(model.inputShape);
    this.paramNames = new Set(this.built.params.map((p) => p.name));
    checkParams(who, model, this.built, params);
    this.logitsFn = compile(this.built.output, { backend: backendName });
    this.checkStats(who, this.logitsFn);
  }

  get backend(): BackendName {
    return this.logitsFn.backend;
  }

  async predict(images: Float32Array, options: PredictOptions = {}): Promise<Prediction> {
    const who = 'predict';
    checkOptions(who, options, ['topK', 'params', 'crops', 'imageShape']);
    const out = this.built.output;
    if (out.rank !== 2) {
      fail(
        who,
        `model "${this.model.name}" gives ${shapeToString(out.shape)}, not logits [${this.batchSize}, classes]; ` +
          `predict is for classifiers; read other models with outputs()`,
        `output ${shapeToString(out.shape)}`,
        `logits [${this.batchSize}, classes]`,
      );
    }
    const classes = out.shape[1];
    const k = options.topK ?? Math.min(5, classes);
    if (!Number.isInteger(k) || k < 1 || k > classes) {
      fail(
        who,
        `topK must be an integer from 1 to ${classes} (the number of classes), got ${showValue(options.topK)}`,
        `topK ${showValue(options.topK)}`,
        `an integer in [1, ${classes}]`,
      );
    }
    const plan = cropPlan(who, this.model, options.crops, options.imageShape);
    const params = this.paramsFor(who, options.params);
    const count = plan ? imageCount(who, images, plan.imageShape) : this.countOf(who, images);
    const logits = new Float32Array(count * classes);
    const probabilities = new Float32Array(count * classes);
    const labels = new Int32Array(count * k);
    if (plan) {
      const averager = new CropAverager(plan, this.batchSize, classes);
      const feeds = this.feedsFor(this.logitsFn, params);
      for (let start = 0; start < count; start += this.batchSize) {
        const rows = Math.min(this.batchSize, count - start);
        const logMean = await averager.chunk(images, start, rows, async (x) => (await this.logitsFn.run({ ...feeds, [INPUT]: x }))[0].data);
        const to = start * classes;
        for (let i = 0; i < rows * classes; i++) {
          logits[to + i] = logMean[i];
          probabilities[to + i] = Math.exp(logMean[i]);
        }
        for (let r = 0; r < rows; r++) topKRow(logMean, r, classes, k, labels, (start + r) * k);
      }
    } else {
      await this.runChunks(this.logitsFn, images, count, params, ([result], start, rows) => {
        const raw = result.data;
        for (let r = 0; r < rows; r++) {
          const at = r * classes;
          let max = -Infinity;
          for (let c = 0; c < classes; c++) max = Math.max(max, raw[at + c]);
          let sum = 0;
          for (let c = 0; c < classes; c++) sum += Math.exp(raw[at + c] - max);
          const to = (start + r) * classes;
          for (let c = 0; c < classes; c++) {
            logits[to + c] = raw[at + c];
            probabilities[to + c] = Math.exp(raw[at + c] - max) / sum;
          }
          // Ranked on the backend's own values (float64 on the reference backend), as evaluate ranks them.
          topKRow(raw, r, classes, k, labels, (start + r) * k);
        }
      });
    }
    const bestProbabilities = Float32Array.from(labels, (label, i) => probabilities[Math.floor(i / k) * classes + label]);
    return Object.freeze({ count, classes, logits, probabilities, topK: Object.freeze({ k, labels, probabilities: bestProbabilities }) });
  }

  async outputs(images: Float32Array, layerNames: readonly string[], options: OutputsOptions = {}): Promise<LayerOutputs> {
    const who = 'layerOutputs';
    checkOptions(who, options, ['params']);
    if (!Array.isArray(layerNames) || layerNames.length === 0) {
      fail(
        who,
        `give a non-empty array of layer names, e.g. ['conv1', 'relu1'], got ${showValue(layerNames)}`,
        `layerNames ${showValue(layerNames)}`,
        'a non-empty array of layer names',
      );
    }
    const names = [...new Set(layerNames)];
    const tensors = names.map((name) => findLayerOutput(who, this.built, name));
    const params = this.paramsFor(who, options.params);
    const count = this.countOf(who, images);
    const fn = this.layerFunction(who, names, tensors);
    const sizes = tensors.map((t) => sizeOf(t.shape) / this.batchSize);
    const data = sizes.map((size) => new Float32Array(count * size));
    await this.runChunks(fn, images, count, params, (results, start, rows) => {
      results.forEach((r, i) => data[i].set(r.data.subarray(0, rows * sizes[i]), start * sizes[i]));
    });
    return Object.freeze(
      Object.fromEntries(names.map((name, i) => [name, Object.freeze({ shape: [count, ...tensors[i].shape.slice(1)], data: data[i] })])),
    );
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const fns = [this.logitsFn, ...this.layerFns.values()];
    this.layerFns.clear();
    await Promise.all(fns.map((f) => f.dispose()));
  }

  /** The compiled graph returning `tensors` (the outputs of the layers `names`), made on first use. */
  private layerFunction(who: string, names: readonly string[], tensors: readonly Tensor[]): CompiledFunction {
    const key = names.join('\n');
    let fn = this.layerFns.get(key);
    if (!fn) {
      this.checkUsable(who);
      fn = compile(tensors, { backend: this.backendName });
      this.checkStats(who, fn);
      this.layerFns.set(key, fn);
    }
    return fn;
  }

  private checkUsable(who: string): void {
    if (this.disposed) fail(who, 'this predictor has been disposed; make a new one with createPredictor', 'a disposed predictor', 'a predictor not yet disposed');
  }

  private paramsFor(who: string, override: Params | undefined): Params {
    this.checkUsable(who);
    return paramsOr(who, this.model, this.built, this.params, override);
  }

  /** Every graph input other than the images and the parameters must be in `stats`, with its shape. */
  private checkStats(who: string, fn: CompiledFunction): void {
    for (const { name, shape } of fn.inputs) {
      if (name === INPUT || this.paramNames.has(name)) continue;
      const v = Object.hasOwn(this.stats, name) ? this.stats[name] : undefined;
      if (v === undefined) {
        fail(
          who,
          `model "${this.model.name}" reads "${name}" (shape ${shapeToString(shape)}), which is not a parameter; ` +
            `give its value in the stats option (a TrainState's stats)`,
          `no stats "${name}"`,
          `stats "${name}" of shape ${shapeToString(shape)}`,
        );
      }
      if (!sameShape(v.shape, shape)) {
        fail(
          who,
          `stats "${name}" has shape ${shapeToString(v.shape)} but model "${this.model.name}" reads ${shapeToString(shape)}`,
          `stats "${name}" of shape ${shapeToString(v.shape)}`,
          `shape ${shapeToString(shape)}`,
        );
      }
    }
  }

  /** The number of examples in `images`, or an error that says what was expected. */
  private countOf(who: string, images: Float32Array): number {
    const per = this.perExample;
    const shape = shapeToString(this.model.inputShape);
    if (!(images instanceof Float32Array)) {
      fail(who, `images must be a Float32Array of count × ${per} values (${shape} per example), got ${describeValue(images)}`, `images ${describeValue(images)}`, `a Float32Array of count × ${per} values`);
    }
    if (images.length % per !== 0) {
      fail(
        who,
        `images holds ${images.length} values, which is not a whole number of examples: ` +
          `model "${this.model.name}" reads ${shape} (${per} values) per example`,
        `${images.length} image values`,
        `a multiple of ${per}`,
      );
    }
    return images.length / per;
  }

  /** The feeds of `fn` other than the images: parameters and stats, by name. */
  private feedsFor(fn: CompiledFunction, params: Params): Record<string, Float32Array> {
    const feeds: Record<string, Float32Array> = {};
    for (const { name } of fn.inputs) {
      if (name !== INPUT) feeds[name] = (this.paramNames.has(name) ? params[name] : this.stats[name]).data;
    }
    return feeds;
  }

  /** Run `fn` on `images` chunk by chunk; `take` gets each chunk's results, its first example and its real rows. */
  private async runChunks(
    fn: CompiledFunction,
    images: Float32Array,
    count: number,
    params: Params,
    take: (results: readonly RunResult[], start: number, rows: number) => void,
  ): Promise<void> {
    const B = this.batchSize;
    const per = this.perExample;
    const feeds = this.feedsFor(fn, params);
    let padded: Float32Array | null = null;
    for (let start = 0; start < count; start += B) {
      const rows = Math.min(B, count - start);
      let x = images.subarray(start * per, (start + rows) * per);
      if (rows < B) {
        padded ??= new Float32Array(B * per);
        padded.set(x);
        x = padded;
      }
      const results = await fn.run({ ...feeds, [INPUT]: x } satisfies Feeds);
      take(results, start, rows);
    }
  }
}

function positiveInt(who: string, what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) fail(who, `${what} must be a positive integer, got ${showValue(v)}`, `${what} ${showValue(v)}`, 'a positive integer');
  return v;
}

/** The options a predictor is made with; the one-shot `predict` takes `topK`, `crops` and `imageShape` besides. */
const PREDICTOR_OPTIONS = ['backend', 'batchSize', 'stats'];

function makePredictor(who: string, model: Model, params: Params, options: PredictorOptions, defaultBatch: number, known = PREDICTOR_OPTIONS): ModelPredictor {
  checkModel(who, model);
  if (options === null || typeof options !== 'object') fail(who, `options must be an object, got ${describeValue(options)}`, describeValue(options), 'an object of options');
  checkOptions(who, options, known);
  const batchSize = positiveInt(who, 'batchSize', options.batchSize ?? defaultBatch);
  const stats = options.stats ?? {};
  checkParamRecord(who, stats, 'stats');
  return new ModelPredictor(who, model, params, options.backend ?? DEFAULT_PREDICT_BACKEND, batchSize, stats);
}

/**
 * A predictor for `model` with parameters `params`: its graph is built and
 * compiled once for chunks of `batchSize` examples, and every `predict` or
 * `outputs` call reuses it. Checks that `params` hold every parameter of the
 * model with its shape. Call `dispose()` when done to release device memory.
 */
export function createPredictor(model: Model, params: Params, options: PredictorOptions = {}): Predictor {
  return makePredictor('createPredictor', model, params, options, DEFAULT_PREDICTOR_BATCH);
}

/** The chunk size of a one-shot call: the option, else all the examples (at most 500) in one run. */
function oneShotBatch(model: Model, images: Float32Array, options: PredictorOptions & Pick<PredictOptions, 'imageShape'>): number {
  if (options?.batchSize !== undefined) return options.batchSize;
  const shape = Array.isArray(options?.imageShape) ? options.imageShape : model && Array.isArray(model.inputShape) ? model.inputShape : [1];
  const per = Math.max(1, sizeOf(shape.filter((d) => Number.isSafeInteger(d) && d >= 1)));
  const count = images instanceof Float32Array ? Math.floor(images.length / per) : 1;
  return Math.max(1, Math.min(DEFAULT_ONE_SHOT_BATCH, count));
}

/**
 * Class probabilities and the top-k labels of `images` in one call: creates
 * a predictor, runs it and disposes it. To predict repeatedly, keep a
 * predictor from `createPredictor` instead, which compiles once. With
 * `crops: 'ten'` and `imageShape`, the softmax outputs of each image's ten
 * crops are averaged (see `PredictOptions.crops`):
 *
 * ```ts
 * // a model reading [1, 24, 24], on 28×28 MNIST images
 * const p = await predict(model, params, mnist.test.images, { crops: 'ten', imageShape: [1, 28, 28] });
 * ```
 */
export async function predict(
  model: Model,
  params: Params,
  images: Float32Array,
  options: PredictorOptions & Pick<PredictOptions, 'topK' | 'crops' | 'imageShape'> = {},
): Promise<Prediction> {
  const predictor = makePredictor('predict', model, params, options, oneShotBatch(model, images, options), [...PREDICTOR_OPTIONS, 'topK', 'crops', 'imageShape']);
  try {
    return await predictor.predict(images, { topK: options.topK, crops: options.crops, imageShape: options.imageShape });
  } finally {
    await predictor.dispose();
  }
}

/**
 * The outputs of the layers named `layerNames` for `images` in one call
 * (what filter views, feature maps and nearest-neighbour search read): creates
 * a predictor, runs it and disposes it.
 */
export async function layerOutputs(
  model: Model,
  params: Params,
  images: Float32Array,
  layerNames: readonly string[],
  options: PredictorOptions = {},
): Promise<LayerOutputs> {
  const predictor = makePredictor('layerOutputs', model, params, options, oneShotBatch(model, images, options));
  try {
    return await predictor.outputs(images, layerNames);
  } finally {
    await predictor.dispose();
  }
}
