/**
 * Saliency: which parts of an input image a classifier's score for one class
 * depends on. Five methods, each for one image and one target class:
 *
 * - **Vanilla gradient** (Simonyan et al. 2014): ∂S_c/∂x, one value per
 *   input value (channels kept; take |·| or the maximum over channels to
 *   draw it).
 * - **SmoothGrad** (Smilkov et al. 2017): the mean of ∂S_c/∂x over `samples`
 *   copies of x with Gaussian noise N(0, σ²) added to every value, where
 *   σ = `sigma` · (max(x) − min(x)), the noise level as a fraction of the
 *   image's own range (default 0.15, in the paper's 10–20 %; an image with one
 *   value throughout gets no noise). The noise comes from a seeded generator
 *   (data/random.ts), sample after sample, value after value, so the same
 *   seed gives the same result. `sigma: 0` gives the vanilla gradient.
 * - **Integrated Gradients** (Sundararajan et al. 2017): for a baseline x'
 *   (default all zeros), (x − x') ⊙ ∫₀¹ ∂S_c/∂x (x' + α(x − x')) dα, the
 *   integral a Riemann sum over `steps` = m points of the straight path:
 *   `'midpoint'` (default) evaluates α = (k + ½)/m for k = 0 … m−1, each with
 *   weight 1/m; `'trapezoid'` evaluates α = k/m for k = 0 … m, with weight
 *   1/(2m) at both ends and 1/m between (m + 1 gradients). The attributions
 *   then sum to about S_c(x) − S_c(x') (completeness); the result reports
 *   both scores and `delta`, the sum minus that difference, the error of the
 *   Riemann sum: raise `steps` when it is large. For a ReLU network the
 *   integrand is piecewise constant along the path, so the error falls as
 *   1/m for either rule.
 * - **Grad-CAM** (Selvaraju et al. 2017), for a named layer with a 4-D output
 *   A [1, K, h, w] (a convolution or what follows one): channel weights
 *   α_k = (1/hw) Σ_ij ∂S_c/∂A_kij, the spatial mean of the gradient; the map
 *   relu(Σ_k α_k A_k) at the layer's resolution; and that map resized to
 *   the input's H × W bilinearly with half-pixel centres (output pixel i
 *   reads source position (i + ½)·h/H − ½, clamped to the edge: PyTorch's
 *   `align_corners=False`, TensorFlow's `half_pixel_centers`), so a map of
 *   the input's size is returned unchanged. Maps are not normalised.
 * - **Occlusion** (Zeiler & Fergus 2014): a patch of `size` (all channels)
 *   set to `fill` (default 0) at each position of a grid with `stride`
 *   (default: the size): rows 0, s, 2s, … while the patch fits, and one more
 *   flush with the bottom edge when the last one stops short of it (the same
 *   for columns), so every pixel is covered. `drops` holds S_c(x) −
 *   S_c(occluded x) per position (positive: the patch hid evidence for the
 *   class); the per-pixel map is the mean drop over the patches covering
 *   each pixel.
 *
 * The class score S_c is the logit (the model's output before softmax) by
 * default: the logit of class c depends only on the evidence for c, while
 * its probability also falls when another class gains. `score:
 * 'probability'` explains softmax(z)_c and `'logProbability'` log softmax(z)_c
 * instead. The target class defaults to the image's top-1 class (its largest
 * logit, the lower class on a tie, as `predict` ranks).
 *
 * An explainer builds each graph it needs once, on first use, with `grad`
 * (the class score summed over a batch, differentiated by the image input or
 * by the Grad-CAM layer's output) and compiles it once for its backend and
 * batch size: a batch of 1 for the vanilla gradient and Grad-CAM, and for
 * the noisy samples of SmoothGrad, the path points of Integrated Gradients
 * and the occluded images, batches of up to `batchSize` (default 64) rows in
 * as few runs as possible (50 samples run as one batch of 50; 100 as two of
 * 50). Each row's target is fed as a one-hot row, so the examples of a batch
 * stay independent (inference graphs: dropout off, batch norm on its running
 * statistics). Models with batch norm need their statistics: `stats`, as
 * for `createPredictor`.
 *
 * ```ts
 * const explainer = createExplainer(model, params, { backend: 'webasm' });
 * const g = await explainer.vanillaGradient(image);                   // g.data: 784 values, g.target: the top-1 class
 * const ig = await explainer.integratedGradients(image, { target: 3, steps: 50 });
 * const cam = await explainer.gradCam(image, 'relu2');                // cam.data: 28 × 28
 * const occ = await explainer.occlusion(image, { size: 4, stride: 2 });
 * await explainer.dispose();
 * ```
 */
import { compile, type BackendName, type CompiledFunction, type RunResult } from '../backend/compile.js';
import { describeValue, fail } from '../graph/error.js';
import { type Tensor, shapeToString, sizeOf } from '../graph/tensor.js';
import { grad } from '../autodiff/grad.js';
import { input } from '../ops/input.js';
import { logSoftmax } from '../ops/logSoftmax.js';
import { mul } from '../ops/mul.js';
import { softmax } from '../ops/softmax.js';
import { sum } from '../ops/sum.js';
import { createRng } from '../data/random.js';
import { buildModel, type BuiltModel, checkModel, findLayerOutput, type Model } from '../nn/model.js';
import { checkParamRecord, type Params } from '../nn/params.js';
import { paramsOr } from '../nn/predict.js';
import { topKRow } from '../nn/ranking.js';
import { checkOptions, showValue } from '../nn/spec.js';
import { checkImage, checkModelParams, IMAGE_INPUT, modelFeeds, positiveInteger } from './graphs.js';

/** What a saliency method explains: the logit of the target class (default), its softmax probability, or its log. */
export type ClassScore = 'logit' | 'probability' | 'logProbability';

/** Options of `createExplainer` (and of the one-shot functions). */
export interface ExplainerOptions {
  /** Backend to run on (default `'auto'`, the fastest that works here). */
  backend?: BackendName;
  /** Non-trainable values the model reads (a `TrainState`'s `stats`: batch-norm running averages), by name. */
  stats?: Params;
  /**
   * The most rows (noisy samples, path points, occluded images) per run
   * (default 64). Rows are split into as few runs as this allows, of equal
   * size; each size is compiled once.
   */
  batchSize?: number;
  /** The class score explained (default `'logit'`; see the file comment). */
  score?: ClassScore;
}

/** The options every method takes: the class to explain, and the parameters to explain it with. */
export interface TargetOptions {
  /** Class index in [0, classes) (default: the image's top-1 class). */
  target?: number;
  /**
   * Parameters for this call instead of the explainer's (e.g. the latest
   * state of a training run, as a live view needs), checked against the
   * model the same way; the compiled graphs are reused.
   */
  params?: Params;
}

/** Options of `smoothGrad`. */
export interface SmoothGradOptions extends TargetOptions {
  /** Noisy copies of the image averaged (default 50). */
  samples?: number;
  /** Noise standard deviation as a fraction of the image's range max − min (default 0.15; 0: no noise). */
  sigma?: number;
  /** Seed of the noise (default 0). */
  seed?: number;
}

/** Options of `integratedGradients`. */
export interface IntegratedGradientsOptions extends TargetOptions {
  /** The path's start: one number for every value, or an image of the input's size (default 0: all zeros). */
  baseline?: number | Float32Array | Float64Array;
  /** Riemann steps m (default 50). */
  steps?: number;
  /** `'midpoint'` (default: m gradients) or `'trapezoid'` (m + 1); see the file comment. */
  rule?: 'midpoint' | 'trapezoid';
}

/** Options of `gradCam`. */
export type GradCamOptions = TargetOptions;

/** Options of `occlusion`. */
export interface OcclusionOptions extends TargetOptions {
  /** The patch's height and width, one number for a square (required). */
  size: number | readonly [number, number];
  /** Step between patch positions, one number or [sh, sw] (default: the size, patches side by side). */
  stride?: number | readonly [number, number];
  /** Value the patch's pixels are set to (default 0). */
  fill?: number;
}

/** Attributions to every input value, as the gradient methods return them. */
export interface Attribution {
  /** The class explained. */
  readonly target: number;
  /** The input's shape, one example (the model's `inputShape`). */
  readonly shape: number[];
  /** One attribution per input value, row-major. */
  readonly data: Float32Array;
}

/** What `integratedGradients` returns: the attributions and how well they add up. */
export interface IntegratedGradientsResult extends Attribution {
  /** S_c(x): the class score of the image. */
  readonly score: number;
  /** S_c(x'): the class score of the baseline. */
  readonly baselineScore: number;
  /** Σ attributions − (score − baselineScore): the Riemann sum's error (0 for exact completeness). */
  readonly delta: number;
}

/** A map over the image: `[H, W]` and its values, row-major. */
export interface SpatialMap {
  /** `[height, width]`. */
  readonly shape: [number, number];
  /** Values, row-major. */
  readonly data: Float32Array;
}

/** What `gradCam` returns. */
export interface GradCamResult extends SpatialMap {
  /** The class explained. */
  readonly target: number;
  /** The layer whose output was weighted. */
  readonly layer: string;
  /** α_k, one weight per channel of the layer. */
  readonly weights: Float32Array;
  /** relu(Σ_k α_k A_k) at the layer's resolution `[h, w]`, before resizing. */
  readonly map: SpatialMap;
}

/** What `occlusion` returns: the drop in the class score per patch position, and per pixel (`shape`, `data`). */
export interface OcclusionResult extends SpatialMap {
  /** The class explained. */
  readonly target: number;
  /** S_c of the unoccluded image. */
  readonly score: number;
  /** The top row of each row of positions (`rows` of them). */
  readonly ys: Int32Array;
  /** The left column of each column of positions (`cols` of them). */
  readonly xs: Int32Array;
  /** S_c(x) − S_c(x with the patch at (ys[i], xs[j])), at `i · cols + j`. */
  readonly drops: Float32Array;
}

/** A model compiled for saliency; see `createExplainer`. */
export interface Explainer {
  /** The model it explains. */
  readonly model: Model;
  /** Number of classes (the width of the model's output). */
  readonly classes: number;
  /** The most rows per run. */
  readonly batchSize: number;
  /** The class score explained. */
  readonly score: ClassScore;
  /** The backend that runs the graphs (`'auto'` until a first run has chosen one). */
  readonly backend: BackendName;
  /** ∂S_c/∂x for `image`, one example of the model's input shape. */
  vanillaGradient(image: Float32Array | Float64Array, options?: TargetOptions): Promise<Attribution>;
  /** The mean gradient over noisy copies of `image` (see the file comment). */
  smoothGrad(image: Float32Array | Float64Array, options?: SmoothGradOptions): Promise<Attribution>;
  /** Integrated Gradients from a baseline to `image` (see the file comment). */
  integratedGradients(image: Float32Array | Float64Array, options?: IntegratedGradientsOptions): Promise<IntegratedGradientsResult>;
  /** Grad-CAM on the layer named `layer` (its full name, as the summary lists it), resized to the input's height and width. */
  gradCam(image: Float32Array | Float64Array, layer: string, options?: GradCamOptions): Promise<GradCamResult>;
  /** The drop in the class score as a patch hides each part of `image` (see the file comment). */
  occlusion(image: Float32Array | Float64Array, options: OcclusionOptions): Promise<OcclusionResult>;
  /** Release the compiled graphs; the explainer cannot run afterwards. */
  dispose(): Promise<void>;
}

/** Name of the one-hot target input of the score graphs (`:` cannot occur in a parameter's name). */
const TARGET_INPUT = 'explain:target';
const DEFAULT_BACKEND: BackendName = 'auto';
const DEFAULT_BATCH = 64;
const DEFAULT_SAMPLES = 50;
const DEFAULT_SIGMA = 0.15;
const DEFAULT_STEPS = 50;
const SCORES: readonly ClassScore[] = ['logit', 'probability', 'logProbability'];
const EXPLAINER_OPTIONS = ['backend', 'stats', 'batchSize', 'score'];

/** A compiled graph of the model for `batch` rows, with its parameter and statistic feeds. */
interface Graph {
  readonly fn: CompiledFunction;
  readonly batch: number;
  readonly feeds: Record<string, Float32Array>;
  /** The names of the inputs it reads. */
  readonly reads: ReadonlySet<string>;
}

/**
 * One run of `g` on images `x` (and one-hot targets `sel`). A graph need not
 * read its image: the gradient of a model that is affine in its input (conv,
 * batch norm, dense) is a constant, so it is fed only what it reads.
 */
function runGraph(g: Graph, x: Float32Array | Float64Array, sel?: Float32Array): Promise<RunResult[]> {
  const feeds: Record<string, ArrayLike<number>> = { ...g.feeds };
  if (g.reads.has(IMAGE_INPUT)) feeds[IMAGE_INPUT] = x;
  if (sel && g.reads.has(TARGET_INPUT)) feeds[TARGET_INPUT] = sel;
  return g.fn.run(feeds);
}

/** Rows for a run: row r of the run's image buffer is written by `fill(r, buffer, offset)`. */
type FillRow = (row: number, into: Float32Array | Float64Array, offset: number) => void;

/** Equal run sizes for `rows` rows, at most `most` each: as few runs as that allows. */
function runSize(rows: number, most: number): number {
  return Math.ceil(rows / Math.ceil(rows / most));
}

function pairOf(who: string, what: string, v: unknown): [number, number] {
  const p = typeof v === 'number' ? [v, v] : Array.isArray(v) && v.length === 2 ? [v[0], v[1]] : null;
  if (p === null || !p.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 1)) {
    fail(who, `${what} must be a positive integer or a pair [h, w] of them, got ${showValue(v)}`, `${what} ${showValue(v)}`, 'a positive integer or a pair [h, w] of them');
  }
  return p as [number, number];
}

function finiteNumber(who: string, what: string, v: unknown, min = -Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
    const range = min === -Infinity ? 'a finite number' : `a finite number ≥ ${min}`;
    fail(who, `${what} must be ${range}, got ${showValue(v)}`, `${what} ${showValue(v)}`, range);
  }
  return v;
}

/**
 * Positions of a patch of `size` along an axis of `extent`: 0, stride, …
 * while the patch fits, and `extent − size` when the last one stops short.
 */
function patchPositions(extent: number, size: number, stride: number): Int32Array {
  const out: number[] = [];
  for (let p = 0; p + size <= extent; p += stride) out.push(p);
  if (out[out.length - 1] !== extent - size) out.push(extent - size);
  return Int32Array.from(out);
}

/**
 * `src` [h, w] resized to [H, W] bilinearly with half-pixel centres: output
 * pixel i reads source position (i + ½)·h/H − ½, clamped to [0, h − 1].
 */
export function resizeBilinear(src: ArrayLike<number>, [h, w]: readonly [number, number], [H, W]: readonly [number, number]): Float32Array {
  const out = new Float32Array(H * W);
  const coords = (n: number, N: number) =>
    Array.from({ length: N }, (_, i) => {
      const s = Math.min(Math.max(((i + 0.5) * n) / N - 0.5, 0), n - 1);
      const lo = Math.floor(s);
      return { lo, hi: Math.min(lo + 1, n - 1), t: s - lo };
    });
  const ys = coords(h, H);
  const xs = coords(w, W);
  for (let i = 0; i < H; i++) {
    const { lo: y0, hi: y1, t: ty } = ys[i];
    for (let j = 0; j < W; j++) {
      const { lo: x0, hi: x1, t: tx } = xs[j];
      const top = src[y0 * w + x0] * (1 - tx) + src[y0 * w + x1] * tx;
      const bottom = src[y1 * w + x0] * (1 - tx) + src[y1 * w + x1] * tx;
      out[i * W + j] = top * (1 - ty) + bottom * ty;
    }
  }
  return out;
}

class ModelExplainer implements Explainer {
  readonly classes: number;
  private readonly graphs = new Map<string, Graph>();
  private readonly per: number;
  /** The model built for one row: what parameters are checked against. */
  private readonly built: BuiltModel;
  private disposed = false;

  constructor(
    who: string,
    readonly model: Model,
    private readonly params: Params,
    private readonly backendName: BackendName,
    readonly batchSize: number,
    private readonly stats: Params,
    readonly score: ClassScore,
  ) {
    const built = buildModel(model, { batchSize: 1, inputName: IMAGE_INPUT });
    this.built = built;
    if (built.output.rank !== 2) {
      fail(
        who,
        `model "${model.name}" gives ${shapeToString(built.output.shape)}, not logits [1, classes]; saliency explains a classifier's class scores`,
        `output ${shapeToString(built.output.shape)}`,
        'logits [1, classes]',
      );
    }
    this.classes = built.output.shape[1];
    this.per = sizeOf(model.inputShape);
    checkModelParams(who, model, built, params);
    // Compile the forward graph now, so missing statistics are refused at once.
    this.graph(who, 'forward', 1);
  }

  get backend(): BackendName {
    const first = this.graphs.values().next().value;
    return first ? first.fn.backend : this.backendName;
  }

  async vanillaGradient(image: Float32Array | Float64Array, options: TargetOptions = {}): Promise<Attribution> {
    const who = 'vanillaGradient';
    checkOptions(who, options, ['target', 'params']);
    const x = this.checkInput(who, image);
    const params = this.paramsFor(who, options.params);
    const target = await this.targetOf(who, x, options.target, params);
    const g = this.graph(who, 'gradient', 1, undefined, params);
    const [gx] = await runGraph(g, x, this.oneHot(1, 1, target));
    return this.attribution(target, Float32Array.from(gx.data));
  }

  async smoothGrad(image: Float32Array | Float64Array, options: SmoothGradOptions = {}): Promise<Attribution> {
    const who = 'smoothGrad';
    checkOptions(who, options, ['target', 'params', 'samples', 'sigma', 'seed']);
    const x = this.checkInput(who, image);
    const samples = positiveInteger(who, 'samples', options.samples ?? DEFAULT_SAMPLES);
    const sigma = finiteNumber(who, 'sigma', options.sigma ?? DEFAULT_SIGMA, 0);
    const params = this.paramsFor(who, options.params);
    const seed = options.seed ?? 0;
    if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) fail(who, `seed must be a safe integer, got ${showValue(seed)}`, `seed ${showValue(seed)}`, 'a safe integer');
    const target = await this.targetOf(who, x, options.target, params);
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < x.length; i++) {
      lo = Math.min(lo, x[i]);
      hi = Math.max(hi, x[i]);
    }
    const sd = sigma * (hi - lo);
    const rng = createRng(seed);
    const per = this.per;
    // Rows are filled in order, so the noise is drawn sample after sample whatever the run size.
    const fill: FillRow = (_row, into, at) => {
      for (let i = 0; i < per; i++) into[at + i] = x[i] + (sd === 0 ? 0 : sd * rng.normal());
    };
    const total = new Float64Array(per);
    await this.gradientRows(who, samples, target, params, fill, (_row, g, at) => {
      for (let i = 0; i < per; i++) total[i] += g[at + i];
    });
    return this.attribution(target, Float32Array.from(total, (v) => v / samples));
  }

  async integratedGradients(image: Float32Array | Float64Array, options: IntegratedGradientsOptions = {}): Promise<IntegratedGradientsResult> {
    const who = 'integratedGradients';
    checkOptions(who, options, ['target', 'params', 'baseline', 'steps', 'rule']);
    const x = this.checkInput(who, image);
    const steps = positiveInteger(who, 'steps', options.steps ?? DEFAULT_STEPS);
    const params = this.paramsFor(who, options.params);
    const rule = options.rule ?? 'midpoint';
    if (rule !== 'midpoint' && rule !== 'trapezoid') fail(who, `rule must be 'midpoint' or 'trapezoid', got ${showValue(rule)}`, `rule ${showValue(rule)}`, "'midpoint' or 'trapezoid'");
    const per = this.per;
    const b = options.baseline ?? 0;
    const baseline =
      typeof b === 'number'
        ? new Float64Array(per).fill(finiteNumber(who, 'baseline', b))
        : b instanceof Float32Array || b instanceof Float64Array
          ? checkImage(who, this.model, b, 'baseline')
          : fail(who, `baseline must be a number or an image of ${per} values, got ${describeValue(b)}`, `baseline ${describeValue(b)}`, `a number or a Float32Array(${per})`);
    const target = await this.targetOf(who, x, options.target, params);
    // Path points α with their weights.
    const alphas: number[] = [];
    const weights: number[] = [];
    if (rule === 'midpoint') {
      for (let k = 0; k < steps; k++) {
        alphas.push((k + 0.5) / steps);
        weights.push(1 / steps);
      }
    } else {
      for (let k = 0; k <= steps; k++) {
        alphas.push(k / steps);
        weights.push(k === 0 || k === steps ? 1 / (2 * steps) : 1 / steps);
      }
    }
    const fill: FillRow = (row, into, at) => {
      const a = alphas[row];
      for (let i = 0; i < per; i++) into[at + i] = baseline[i] + a * (x[i] - baseline[i]);
    };
    const total = new Float64Array(per);
    await this.gradientRows(who, alphas.length, target, params, fill, (row, g, at) => {
      for (let i = 0; i < per; i++) total[i] += weights[row] * g[at + i];
    });
    // The two ends' scores by the forward graph, so the path shares its gradient graph with SmoothGrad's samples.
    const score = await this.scoreOf(who, x, target, params);
    const baselineScore = await this.scoreOf(who, baseline, target, params);
    const data = new Float32Array(per);
    let attributed = 0;
    for (let i = 0; i < per; i++) {
      const v = (x[i] - baseline[i]) * total[i];
      data[i] = v === 0 ? 0 : v; // no −0 where a pixel has no gradient
      attributed += v;
    }
    return Object.freeze({ ...this.attribution(target, data), score, baselineScore, delta: attributed - (score - baselineScore) });
  }

  async gradCam(image: Float32Array | Float64Array, layer: string, options: GradCamOptions = {}): Promise<GradCamResult> {
    const who = 'gradCam';
    checkOptions(who, options, ['target', 'params']);
    const [, H, W] = this.imageShape(who);
    const x = this.checkInput(who, image);
    const params = this.paramsFor(who, options.params);
    const g = this.graph(who, 'gradCam', 1, layer, params);
    const target = await this.targetOf(who, x, options.target, params);
    const [a, ga] = await runGraph(g, x, this.oneHot(1, 1, target));
    const [, K, h, w] = a.shape;
    const hw = h * w;
    const weights = new Float32Array(K);
    const map = new Float64Array(hw);
    for (let c = 0; c < K; c++) {
      // α_k: the spatial mean of ∂S_c/∂A_k.
      let s = 0;
      for (let i = 0; i < hw; i++) s += ga.data[c * hw + i];
      const alpha = s / hw;
      weights[c] = alpha;
      for (let i = 0; i < hw; i++) map[i] += alpha * a.data[c * hw + i];
    }
    for (let i = 0; i < hw; i++) map[i] = Math.max(map[i], 0);
    const small = Float32Array.from(map);
    return Object.freeze({
      target,
      layer,
      weights,
      map: Object.freeze({ shape: [h, w] as [number, number], data: small }),
      shape: [H, W] as [number, number],
      data: resizeBilinear(map, [h, w], [H, W]),
    });
  }

  async occlusion(image: Float32Array | Float64Array, options: OcclusionOptions): Promise<OcclusionResult> {
    const who = 'occlusion';
    if (options === undefined) fail(who, 'give the options with the patch size, e.g. { size: 4 }', 'no options', '{ size, stride?, fill?, target? }');
    checkOptions(who, options, ['target', 'params', 'size', 'stride', 'fill']);
    const [C, H, W] = this.imageShape(who);
    const x = this.checkInput(who, image);
    const [ph, pw] = pairOf(who, 'size', options.size);
    const [sh, sw] = pairOf(who, 'stride', options.stride ?? options.size);
    if (ph > H || pw > W) {
      fail(who, `the ${ph}×${pw} patch is larger than the ${H}×${W} image`, `size [${ph}, ${pw}]`, `a patch of at most ${H}×${W}`);
    }
    const fillValue = finiteNumber(who, 'fill', options.fill ?? 0);
    const params = this.paramsFor(who, options.params);
    const target = options.target === undefined ? undefined : this.checkTarget(who, options.target);
    const ys = patchPositions(H, ph, sh);
    const xs = patchPositions(W, pw, sw);
    const positions = ys.length * xs.length;
    // Row 0: the image itself; row 1 + p: the image with patch p.
    const fill: FillRow = (row, into, at) => {
      into.set(x, at);
      if (row === 0) return;
      const p = row - 1;
      const y0 = ys[Math.floor(p / xs.length)];
      const x0 = xs[p % xs.length];
      for (let c = 0; c < C; c++) {
        for (let i = y0; i < y0 + ph; i++) into.fill(fillValue, at + c * H * W + i * W + x0, at + c * H * W + i * W + x0 + pw);
      }
    };
    const rows = await this.forwardRows(who, positions + 1, params, fill);
    const classes = this.classes;
    const logits = rows.logits;
    const t = target ?? this.top1(logits, 0);
    const score = rows.scores[t];
    const drops = new Float32Array(positions);
    for (let p = 0; p < positions; p++) drops[p] = score - rows.scores[(p + 1) * classes + t];
    // Per pixel: the mean drop over the patches that cover it.
    const sums = new Float64Array(H * W);
    const counts = new Uint32Array(H * W);
    for (let p = 0; p < positions; p++) {
      const y0 = ys[Math.floor(p / xs.length)];
      const x0 = xs[p % xs.length];
      for (let i = y0; i < y0 + ph; i++) {
        for (let j = x0; j < x0 + pw; j++) {
          sums[i * W + j] += drops[p];
          counts[i * W + j]++;
        }
      }
    }
    return Object.freeze({
      target: t,
      score,
      ys,
      xs,
      drops,
      shape: [H, W] as [number, number],
      data: Float32Array.from(sums, (s, i) => s / counts[i]),
    });
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const fns = [...this.graphs.values()].map((g) => g.fn);
    this.graphs.clear();
    await Promise.all(fns.map((f) => f.dispose()));
  }

  // -------------------------------------------------------------------------

  private checkUsable(who: string): void {
    if (this.disposed) fail(who, 'this explainer has been disposed; make a new one with createExplainer', 'a disposed explainer', 'an explainer not yet disposed');
  }

  private checkInput(who: string, image: unknown): Float32Array | Float64Array {
    this.checkUsable(who);
    return checkImage(who, this.model, image);
  }

  /** The model's input as [C, H, W], or an error: Grad-CAM and occlusion work on images. */
  private imageShape(who: string): [number, number, number] {
    const s = this.model.inputShape;
    if (s.length !== 3) {
      fail(who, `model "${this.model.name}" reads ${shapeToString(s)}, not an image [C, H, W]`, `inputShape ${shapeToString(s)}`, 'an image input [C, H, W]');
    }
    return [s[0], s[1], s[2]];
  }

  /** The explainer's parameters, or the call's own, checked against the model. */
  private paramsFor(who: string, override: Params | undefined): Params {
    this.checkUsable(who);
    return paramsOr(who, this.model, this.built, this.params, override);
  }

  private checkTarget(who: string, target: unknown): number {
    const n = this.classes;
    if (typeof target !== 'number' || !Number.isInteger(target) || target < 0 || target >= n) {
      fail(who, `target must be a class index in [0, ${n - 1}] (model "${this.model.name}" has ${n} classes), got ${showValue(target)}`, `target ${showValue(target)}`, `an integer in [0, ${n - 1}]`);
    }
    return target;
  }

  /** The given target, checked, or the image's top-1 class. */
  private async targetOf(who: string, x: Float32Array | Float64Array, target: number | undefined, params: Params): Promise<number> {
    if (target !== undefined) return this.checkTarget(who, target);
    const g = this.graph(who, 'forward', 1, undefined, params);
    const [logits] = await runGraph(g, x);
    return this.top1(logits.data, 0);
  }

  /** The class score of `target` for one image, by the forward graph. */
  private async scoreOf(who: string, x: Float32Array | Float64Array, target: number, params: Params): Promise<number> {
    const g = this.graph(who, 'forward', 1, undefined, params);
    const results = await runGraph(g, x);
    return (results[1] ?? results[0]).data[target];
  }

  private top1(logits: ArrayLike<number>, row: number): number {
    const out = new Int32Array(1);
    topKRow(logits, row, this.classes, 1, out, 0);
    return out[0];
  }

  /** `rows` × classes with 1 at each of the first `real` rows' target, 0 elsewhere (padded rows select nothing). */
  private oneHot(rows: number, real: number, target: number): Float32Array {
    const sel = new Float32Array(rows * this.classes);
    for (let r = 0; r < real; r++) sel[r * this.classes + target] = 1;
    return sel;
  }

  private attribution(target: number, data: Float32Array): Attribution {
    return Object.freeze({ target, shape: [...this.model.inputShape], data });
  }

  /** A buffer of `rows` images: float64 on the reference backend, so its rows keep their precision. */
  private imageBuffer(rows: number): Float32Array | Float64Array {
    return this.backendName === 'reference' ? new Float64Array(rows * this.per) : new Float32Array(rows * this.per);
  }

  /**
   * Gradients of the target's score for `count` rows made by `fill`, run in
   * as few equal batches as `batchSize` allows; `take(row, g, offset)`
   * gets each row's gradient at `g[offset …]`.
   */
  private async gradientRows(
    who: string,
    count: number,
    target: number,
    params: Params,
    fill: FillRow,
    take: (row: number, g: ArrayLike<number>, at: number) => void,
  ): Promise<void> {
    const g = this.graph(who, 'gradient', runSize(count, this.batchSize), undefined, params);
    const B = g.batch;
    const x = this.imageBuffer(B);
    const full = this.oneHot(B, B, target);
    for (let start = 0; start < count; start += B) {
      const rows = Math.min(B, count - start);
      if (rows < B) x.fill(0, rows * this.per);
      for (let r = 0; r < rows; r++) fill(start + r, x, r * this.per);
      const sel = rows < B ? this.oneHot(B, rows, target) : full;
      const [gx] = await runGraph(g, x, sel);
      for (let r = 0; r < rows; r++) take(start + r, gx.data, r * this.per);
    }
  }

  /** The logits and the class scores (`count` × classes each) of `count` rows made by `fill`. */
  private async forwardRows(who: string, count: number, params: Params, fill: FillRow): Promise<{ logits: Float64Array; scores: Float64Array }> {
    const g = this.graph(who, 'forward', runSize(count, this.batchSize), undefined, params);
    const B = g.batch;
    const n = this.classes;
    const x = this.imageBuffer(B);
    const logits = new Float64Array(count * n);
    const scores = new Float64Array(count * n);
    for (let start = 0; start < count; start += B) {
      const rows = Math.min(B, count - start);
      if (rows < B) x.fill(0, rows * this.per);
      for (let r = 0; r < rows; r++) fill(start + r, x, r * this.per);
      const results = await runGraph(g, x);
      logits.set(results[0].data.subarray(0, rows * n), start * n);
      scores.set((results[1] ?? results[0]).data.subarray(0, rows * n), start * n);
    }
    return { logits, scores };
  }

  /**
   * The graph `kind` for `batch` rows, built and compiled on first use:
   * `'forward'` returns the logits (and the class scores, when they are not
   * the logits); `'gradient'` the gradient by the image of the sum of each
   * row's score of its one-hot target; `'gradCam'` the output A of `layer`
   * and the gradient of that sum by A. The rows are independent, so the
   * gradient of the sum is each row's own gradient. With `params` other
   * than the explainer's, the same compiled graph with feeds of those.
   */
  private graph(who: string, kind: 'forward' | 'gradient' | 'gradCam', batch: number, layer?: string, params: Params = this.params): Graph {
    const g = this.compiledGraph(who, kind, batch, layer);
    return params === this.params ? g : { ...g, feeds: modelFeeds(who, this.model, g.fn, params, this.stats, [IMAGE_INPUT, TARGET_INPUT]) };
  }

  /** The explainer's own graph `kind` (see `graph`), compiled on first use and kept. */
  private compiledGraph(who: string, kind: 'forward' | 'gradient' | 'gradCam', batch: number, layer?: string): Graph {
    this.checkUsable(who);
    const key = `${kind}:${batch}:${layer ?? ''}`;
    const cached = this.graphs.get(key);
    if (cached) return cached;
    const built = buildModel(this.model, { batchSize: batch, inputName: IMAGE_INPUT });
    const logits = built.output;
    const scores = this.score === 'logit' ? logits : this.score === 'probability' ? softmax(logits, -1) : logSoftmax(logits, -1);
    let outputs: Tensor[];
    if (kind === 'forward') {
      outputs = scores === logits ? [logits] : [logits, scores];
    } else {
      const sel = input(TARGET_INPUT, [batch, this.classes]);
      const perRow = sum(mul(scores, sel), { axes: -1 });
      const total = sum(perRow);
      if (kind === 'gradient') {
        outputs = grad(total, [built.input]);
      } else {
        const a = findLayerOutput(who, built, layer as string);
        if (a.rank !== 4) {
          fail(
            who,
            `layer "${layer}" gives ${shapeToString(a.shape)}, not feature maps [N, C, h, w]; name a convolution or a layer after one (before flatten)`,
            `layer "${layer}" of shape ${shapeToString(a.shape)}`,
            'a layer with a 4-D output [N, C, h, w]',
          );
        }
        outputs = [a, ...grad(total, [a])];
      }
    }
    const fn = compile(outputs, { backend: this.backendName });
    const feeds = modelFeeds(who, this.model, fn, this.params, this.stats, [IMAGE_INPUT, TARGET_INPUT]);
    const graph: Graph = { fn, batch, feeds, reads: new Set(fn.inputs.map((i) => i.name)) };
    this.graphs.set(key, graph);
    return graph;
  }
}

function makeExplainer(who: string, model: Model, params: Params, options: ExplainerOptions, extra: readonly string[] = []): ModelExplainer {
  checkModel(who, model);
  checkOptions(who, options, [...EXPLAINER_OPTIONS, ...extra]);
  const batchSize = positiveInteger(who, 'batchSize', options.batchSize ?? DEFAULT_BATCH);
  const score = options.score ?? 'logit';
  if (!SCORES.includes(score)) fail(who, `score must be 'logit', 'probability' or 'logProbability', got ${showValue(score)}`, `score ${showValue(score)}`, "'logit', 'probability' or 'logProbability'");
  const stats = options.stats ?? {};
  checkParamRecord(who, stats, 'stats');
  return new ModelExplainer(who, model, params, options.backend ?? DEFAULT_BACKEND, batchSize, stats, score);
}

/**
 * An explainer for the classifier `model` with parameters `params` (and
 * `stats` for a model with batch norm): its saliency graphs are built and
 * compiled once each, on first use, and reused by every call. Call
 * `dispose()` when done. See the file comment for the methods.
 */
export function createExplainer(model: Model, params: Params, options: ExplainerOptions = {}): Explainer {
  return makeExplainer('createExplainer', model, params, options);
}

/** Run `f` on a fresh explainer made from the explainer options among `options`, then dispose it. */
async function oneShot<O extends object, R>(
  who: string,
  model: Model,
  params: Params,
  options: ExplainerOptions & O,
  own: readonly string[],
  f: (e: ModelExplainer, rest: O) => Promise<R>,
): Promise<R> {
  checkOptions(who, options, [...EXPLAINER_OPTIONS, ...own]);
  const opts = (options ?? {}) as Record<string, unknown>;
  const mine: Record<string, unknown> = {};
  const rest: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(opts)) (EXPLAINER_OPTIONS.includes(key) ? mine : rest)[key] = v;
  const explainer = makeExplainer(who, model, params, mine as ExplainerOptions);
  try {
    return await f(explainer, rest as O);
  } finally {
    await explainer.dispose();
  }
}

/** `createExplainer(...).vanillaGradient(image, options)` in one call (compiles, runs, disposes). */
export function vanillaGradient(model: Model, params: Params, image: Float32Array | Float64Array, options: ExplainerOptions & Omit<TargetOptions, 'params'> = {}): Promise<Attribution> {
  return oneShot('vanillaGradient', model, params, options, ['target'], (e, o: TargetOptions) => e.vanillaGradient(image, o));
}

/** `createExplainer(...).smoothGrad(image, options)` in one call. */
export function smoothGrad(model: Model, params: Params, image: Float32Array | Float64Array, options: ExplainerOptions & Omit<SmoothGradOptions, 'params'> = {}): Promise<Attribution> {
  return oneShot('smoothGrad', model, params, options, ['target', 'samples', 'sigma', 'seed'], (e, o: SmoothGradOptions) => e.smoothGrad(image, o));
}

/** `createExplainer(...).integratedGradients(image, options)` in one call. */
export function integratedGradients(
  model: Model,
  params: Params,
  image: Float32Array | Float64Array,
  options: ExplainerOptions & Omit<IntegratedGradientsOptions, 'params'> = {},
): Promise<IntegratedGradientsResult> {
  return oneShot('integratedGradients', model, params, options, ['target', 'baseline', 'steps', 'rule'], (e, o: IntegratedGradientsOptions) => e.integratedGradients(image, o));
}

/** `createExplainer(...).gradCam(image, layer, options)` in one call. */
export function gradCam(model: Model, params: Params, image: Float32Array | Float64Array, layer: string, options: ExplainerOptions & Omit<GradCamOptions, 'params'> = {}): Promise<GradCamResult> {
  return oneShot('gradCam', model, params, options, ['target'], (e, o: GradCamOptions) => e.gradCam(image, layer, o));
}

/** `createExplainer(...).occlusion(image, options)` in one call. */
export function occlusion(model: Model, params: Params, image: Float32Array | Float64Array, options: ExplainerOptions & Omit<OcclusionOptions, 'params'>): Promise<OcclusionResult> {
  return oneShot('occlusion', model, params, options, ['target', 'size', 'stride', 'fill'], (e, o: OcclusionOptions) => e.occlusion(image, o));
}
