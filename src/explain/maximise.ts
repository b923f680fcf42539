/**
 * Activation maximisation: the input image that a unit of a network
 * responds to most, found by gradient ascent on the input (Erhan et al.
 * 2009; Simonyan et al. 2014 for class scores; Olah et al. 2017,
 * "Feature Visualization", for the regularisers and the Fourier
 * parameterisation that make the result readable).
 *
 * A unit is one of:
 * - `{ class: c }`: the logit of class c (the model's output before
 *   softmax, so that the image is pushed towards c rather than away from
 *   the other classes);
 * - `{ layer, channel: k }`: the mean of channel k of a layer's output
 *   `[N, K, h, w]` over its positions;
 * - `{ layer, neuron }`: one element of a layer's output, given as its
 *   flat index in one example's output or as its coordinates (`[k, y, x]`
 *   for feature maps).
 *
 * Layers are named as the summary lists them (`conv1`, `relu2`,
 * `block1.conv1`), as for `layerOutput`.
 *
 * **The ascent.** The image x is made from parameters p by a fixed,
 * differentiable map (the parameterisation, below). Every step draws a
 * random affine warp T (the transforms, below) and computes
 *
 * ```
 * J(p) = a(T x(p)) − l2 · mean(x²) − tv · mean |neighbour differences of x|
 * ```
 *
 * with a the unit's value, and moves p uphill along ∂J/∂p with Adam
 * (β₁ 0.9, β₂ 0.999, ε 1e-8; `learningRate` default 0.05, Lucid's). The
 * model's part ∂a/∂(Tx) comes from a graph built with `grad` and compiled
 * once per layer and batch; the warp's transpose carries it back to x on
 * the host (T is a bilinear resampling, a sparse linear map: Tᵀ scatters
 * each output pixel's gradient to its four source pixels with the same
 * weights); the penalties' gradients are added on the host; and a second
 * compiled graph, the VJP of the parameterisation by `grad`, carries the
 * sum to p. The penalties are means (over values, and over the
 * C·(H(W−1) + (H−1)W) pairs of horizontal and vertical neighbours for total
 * variation, whose |d| has derivative sign(d), 0 at 0), so their weights
 * do not depend on the image size; they act on x itself, the image
 * returned, not on its warped copy. Every `blur.every` steps the
 * parameterisation's image u (below, before the squash) is blurred by a
 * Gaussian of `blur.sigma` pixels (Yosinski et al. 2015): separably, with
 * the edge pixels repeated, for pixels; exactly, by multiplying every
 * coefficient by the Gaussian's transfer function exp(−2π²σ²|f|²), for
 * Fourier coefficients (a circular blur of the periodic image).
 *
 * **Transforms** (`transforms`): steps applied in order to the image each
 * step, each drawn afresh: `{ jitter: n }` shifts by dx, dy each uniform
 * in the integers {−n, …, n}; `{ scale: [...] }` zooms about the centre by
 * one factor drawn from the list; `{ rotate: [...] }` rotates about the
 * centre by one angle in degrees drawn from the list (counter-clockwise as
 * displayed). They compose into one affine map, and the warped image is
 * sampled once, bilinearly, as `warpImages` (data/augment.ts) samples:
 * output pixel p reads the image at T⁻¹(p), a neighbour outside the image
 * reads `fill`. The default, `'standard'`, is Lucid's
 * `standard_transforms` (pad 12, jitter 8, scale 0.9…1.1 in steps of 0.02,
 * rotate −10…10° with 0 five more times, jitter 4, for 128–224-pixel
 * images), fitted to a model whose input has a fixed size: the canvas keeps
 * the model's input size, Lucid's padding with grey 0.5 becomes `fill`
 * (default the middle of `range`), and the jitters scale with the image:
 * ±max(1, round(4S/128)) and ±max(1, round(2S/128)) pixels, S = max(H, W)
 * (Lucid's jitter(d) shifts by 0…d, ±d/2 about its mean), so ±1 and ±1 for
 * MNIST's 28 × 28 (see `standardTransforms`). `transforms: []` turns them
 * off.
 *
 * **Parameterisation** (`parameterisation`):
 * - `'fourier'` (default): p holds the coefficients of the image's real
 *   2-D spectrum, scaled by 1/frequency (Lucid's `fft_image`; see
 *   fourier.ts), and u, one plane per channel, is their inverse real DFT,
 *   built from constant cos and sin bases and matmuls.
 * - `'pixels'`: u = p, one value per pixel.
 *
 * With three channels u is first mixed by Lucid's colour decorrelation
 * matrix (the square root of ImageNet's colour covariance, its columns
 * normalised to a largest norm of 1) unless `decorrelate: false`. Then
 * **the range**: with `squash: 'sigmoid'` (default) the image is
 * x = lo + (hi − lo)·sigmoid(u), inside `range` = [lo, hi] (default
 * [0, 1], MNIST's) throughout; with `squash: 'clip'` (pixels only, no
 * decorrelation) x = p, projected back into [lo, hi] after every step
 * (Yosinski et al.'s clipping). p starts as normal noise of standard
 * deviation `initScale` (default 0.01), so x starts mid-grey.
 *
 * **Seeds.** Unit j of a call (its index in the list) draws its start and
 * every transform from its own generator, `createRng(mixSeed(seed, j))`:
 * the same seed gives the same images, and a unit's image does not depend
 * on which units share its batch.
 *
 * Units of the same layer run together, up to `batchSize` (default 16) per
 * batch: the model's inference graph keeps the examples of a batch
 * independent (dropout off, batch norm on its running statistics, which a
 * model with batch norm needs in `stats`). Everything runs on `backend`
 * (default `'reference'`, the float64 interpreter); any backend works.
 *
 * ```ts
 * const unit = await maximise(model, params, { layer: 'conv2', channel: 3 }, { steps: 256 });
 * unit.data;        // the image, 784 values in [0, 1]
 * unit.objective;   // the channel's mean at each step (plot it to see the ascent)
 * const digits = await maximiseClasses(model, params);          // one image per class
 * await writeChart('classes.png', maximiseGridSpec(digits));   // a grid, labelled 'class 0' …
 * ```
 */
import { compile, type BackendName, type CompiledFunction } from '../backend/compile.js';
import { grad } from '../autodiff/grad.js';
import { affineMatrix, gaussianKernel, IDENTITY_MATRIX, type AffineMatrix } from '../data/augment.js';
import { createRng, mixSeed, type Rng } from '../data/random.js';
import { describeValue, fail } from '../graph/error.js';
import { type Tensor, shapeToString, sizeOf } from '../graph/tensor.js';
import { add } from '../ops/add.js';
import { constant } from '../ops/constant.js';
import { input } from '../ops/input.js';
import { matmul } from '../ops/matmul.js';
import { mul } from '../ops/mul.js';
import { reshape } from '../ops/reshape.js';
import { sigmoid } from '../ops/sigmoid.js';
import { sum } from '../ops/sum.js';
import { transpose } from '../ops/transpose.js';
import { buildModel, checkModel, findLayerOutput, type BuiltModel, type Model } from '../nn/model.js';
import { checkParamRecord, type Params } from '../nn/params.js';
import { checkOptions, showValue } from '../nn/spec.js';
import { fourierPlanes, gaussianTransfer, spectrumColumns } from './fourier.js';
import { checkModelParams, IMAGE_INPUT, modelFeeds, positiveInteger } from './graphs.js';

// ---------------------------------------------------------------------------
// Types

/** Maximise the logit of a class (the model's output before softmax). */
export interface ClassObjective {
  /** Class index in [0, classes). */
  readonly class: number;
}

/** Maximise the mean of one channel of a layer's output `[N, K, ...]` over its positions. */
export interface ChannelObjective {
  /** The layer's full name, as the summary lists it (`conv1`, `relu2`). */
  readonly layer: string;
  /** Channel index in [0, K). */
  readonly channel: number;
}

/** Maximise one element of a layer's output. */
export interface NeuronObjective {
  /** The layer's full name, as the summary lists it. */
  readonly layer: string;
  /** The element: its flat index in one example's output, or its coordinates (`[k, y, x]` for feature maps, `[i]` for a dense layer). */
  readonly neuron: number | readonly number[];
}

/** The unit whose input is maximised: a class logit, a channel's mean, or one neuron. */
export type MaximiseObjective = ClassObjective | ChannelObjective | NeuronObjective;

/**
 * One random transform applied to the image at every step (see the file
 * comment): an integer shift in {−n, …, n} along each axis, a zoom by one
 * of the factors, or a rotation by one of the angles (degrees).
 */
export type MaximiseTransform =
  | {
      /** Largest shift n in pixels, an integer ≥ 0. */
      readonly jitter: number;
    }
  | {
      /** Zoom factors (> 0) to draw one from, about the image centre. */
      readonly scale: readonly number[];
    }
  | {
      /** Rotation angles in degrees to draw one from, about the image centre. */
      readonly rotate: readonly number[];
    };

/** Blur the image every few steps (see the file comment). */
export interface BlurOptions {
  /** Blur after every `every`-th step, a positive integer. */
  readonly every: number;
  /** Standard deviation of the Gaussian in pixels, > 0. */
  readonly sigma: number;
}

/** Options of `maximise`, `maximiseAll` and `maximiseClasses`. */
export interface MaximiseOptions {
  /** Backend to run the graphs on (default `'reference'`). */
  backend?: BackendName;
  /** Non-trainable values the model reads (a `TrainState`'s `stats`: batch-norm running averages), by name. */
  stats?: Params;
  /** Units of one layer per batch (default 16). */
  batchSize?: number;
  /** Ascent steps (default 512, as Lucid's `render_vis`). */
  steps?: number;
  /** Adam's step size (default 0.05). */
  learningRate?: number;
  /** What is optimised: `'fourier'` coefficients (default) or `'pixels'`. */
  parameterisation?: 'fourier' | 'pixels';
  /** Fourier only: the spectrum is scaled by 1/|f|^decayPower (default 1). */
  decayPower?: number;
  /** Mix three channels by Lucid's colour decorrelation matrix (default true for three channels; only for three). */
  decorrelate?: boolean;
  /** The data's range [lo, hi], lo < hi (default [0, 1]). */
  range?: readonly [number, number];
  /** How the image is kept in `range`: `'sigmoid'` (default) or `'clip'` (pixels only). */
  squash?: 'sigmoid' | 'clip';
  /** Weight of the L2 penalty mean(x²) (default 0). */
  l2?: number;
  /** Weight of the total-variation penalty, the mean |difference| of neighbouring pixels (default 0). */
  tv?: number;
  /** Random transforms each step: `'standard'` (default, see `standardTransforms`) or a list; `[]` for none. */
  transforms?: 'standard' | readonly MaximiseTransform[];
  /** The value read outside the image by the transforms (default the middle of `range`: Lucid's grey padding). */
  fill?: number;
  /** Blur every few steps (default: never). */
  blur?: BlurOptions;
  /** Seed of the start and of the transforms (default 0). */
  seed?: number;
  /** Standard deviation of the parameters' start (default 0.01). */
  initScale?: number;
}

/** One unit's maximising image, with the ascent that found it. */
export interface MaximiseResult {
  /** The unit maximised. */
  readonly target: MaximiseObjective;
  /** A short name of the unit: `class 3`, `conv1 channel 2`, `fc1 neuron 5`. */
  readonly label: string;
  /** The image's shape, the model's `inputShape` `[C, H, W]`. */
  readonly shape: number[];
  /** The image, row-major, inside `range`. */
  readonly data: Float32Array;
  /** The unit's value at each step, on that step's transformed image, before the step's update: `steps` values. */
  readonly objective: Float32Array;
  /** The penalties (l2 and tv terms, weighted) at each step, on the image before the update. */
  readonly penalty: Float32Array;
  /** The unit's value on the final image, untransformed. */
  readonly value: number;
}

// ---------------------------------------------------------------------------
// Options

const OPTIONS = [
  'backend',
  'stats',
  'batchSize',
  'steps',
  'learningRate',
  'parameterisation',
  'decayPower',
  'decorrelate',
  'range',
  'squash',
  'l2',
  'tv',
  'transforms',
  'fill',
  'blur',
  'seed',
  'initScale',
] as const;

const DEFAULT_STEPS = 512;
const DEFAULT_BATCH = 16;
const DEFAULT_LR = 0.05;
const DEFAULT_INIT = 0.01;
const BETA1 = 0.9;
const BETA2 = 0.999;
const ADAM_EPS = 1e-8;
const SELECT_INPUT = 'select';
const PARAM_INPUT = 'p';
const COTANGENT_INPUT = 'g';

/**
 * Lucid's colour decorrelation (`color_correlation_svd_sqrt`, the square
 * root of ImageNet's colour covariance), rows r, g, b; divided by its
 * largest column norm in `DECORRELATION`.
 */
const COLOUR_SQRT = [
  [0.26, 0.09, 0.02],
  [0.27, 0.0, -0.05],
  [0.27, -0.09, 0.03],
];
const DECORRELATION: number[] = (() => {
  let most = 0;
  for (let j = 0; j < 3; j++) most = Math.max(most, Math.hypot(COLOUR_SQRT[0][j], COLOUR_SQRT[1][j], COLOUR_SQRT[2][j]));
  return COLOUR_SQRT.flat().map((v) => v / most);
})();

/** A transform step, checked. */
type Step = { readonly kind: 'jitter'; readonly n: number } | { readonly kind: 'scale'; readonly choices: readonly number[] } | { readonly kind: 'rotate'; readonly choices: readonly number[] };

/** The checked options. */
interface Plan {
  readonly backend: BackendName;
  readonly stats: Params;
  readonly batchSize: number;
  readonly steps: number;
  readonly learningRate: number;
  readonly parameterisation: 'fourier' | 'pixels';
  readonly decayPower: number;
  readonly decorrelate: boolean;
  readonly lo: number;
  readonly hi: number;
  readonly squash: 'sigmoid' | 'clip';
  readonly l2: number;
  readonly tv: number;
  readonly transforms: readonly Step[];
  readonly fill: number;
  readonly blur: { readonly every: number; readonly sigma: number } | null;
  readonly seed: number;
  readonly initScale: number;
}

/**
 * Lucid's standard transforms fitted to an `height × width` image with a
 * fixed size (see the file comment): jitter ±max(1, round(4S/128)), scale
 * 0.90, 0.92, …, 1.10, rotate −10, −9, …, 10 degrees and 0 five more times,
 * jitter ±max(1, round(2S/128)), S = max(height, width).
 */
export function standardTransforms(height: number, width: number): MaximiseTransform[] {
  const who = 'standardTransforms';
  positiveInteger(who, 'height', height);
  positiveInteger(who, 'width', width);
  const S = Math.max(height, width);
  return [
    { jitter: Math.max(1, Math.round((4 * S) / 128)) },
    { scale: Array.from({ length: 11 }, (_, i) => 1 + (i - 5) / 50) },
    { rotate: [...Array.from({ length: 21 }, (_, i) => i - 10), 0, 0, 0, 0, 0] },
    { jitter: Math.max(1, Math.round((2 * S) / 128)) },
  ];
}

function finite(who: string, what: string, v: unknown, expected: string, ok: (x: number) => boolean): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) fail(who, `${what} must be ${expected}, got ${showValue(v)}`, `${what} ${showValue(v)}`, expected);
  return v;
}

function checkStep(who: string, at: number, t: unknown): Step {
  const what = `transforms[${at}]`;
  const example = '{ jitter: 2 }, { scale: [0.9, 1, 1.1] } or { rotate: [-10, 0, 10] }';
  const proto = typeof t === 'object' && t !== null ? Object.getPrototypeOf(t) : undefined;
  const keys = proto === Object.prototype || proto === null ? Object.keys(t as object) : [];
  if (keys.length !== 1 || !['jitter', 'scale', 'rotate'].includes(keys[0])) {
    fail(who, `${what} must be one of ${example}, got ${showValue(t)}`, `${what} ${showValue(t)}`, example);
  }
  const v = (t as Record<string, unknown>)[keys[0]];
  if (keys[0] === 'jitter') {
    return { kind: 'jitter', n: finite(who, `${what}.jitter`, v, 'a whole number of pixels ≥ 0', (x) => Number.isInteger(x) && x >= 0) };
  }
  const scale = keys[0] === 'scale';
  const expected = scale ? 'a non-empty array of zoom factors > 0, e.g. [0.9, 1, 1.1]' : 'a non-empty array of angles in degrees, e.g. [-10, 0, 10]';
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!scale || x > 0))) {
    fail(who, `${what}.${keys[0]} must be ${expected}, got ${showValue(v)}`, `${what}.${keys[0]} ${showValue(v)}`, expected);
  }
  return { kind: scale ? 'scale' : 'rotate', choices: Object.freeze([...v]) };
}

function checkPlan(who: string, options: MaximiseOptions, channels: number, H: number, W: number): Plan {
  checkOptions(who, options, OPTIONS);
  const o = options ?? {};
  const steps = positiveInteger(who, 'steps', o.steps ?? DEFAULT_STEPS);
  const batchSize = positiveInteger(who, 'batchSize', o.batchSize ?? DEFAULT_BATCH);
  const learningRate = finite(who, 'learningRate', o.learningRate ?? DEFAULT_LR, 'a finite number > 0', (x) => x > 0);
  const parameterisation = o.parameterisation ?? 'fourier';
  if (parameterisation !== 'fourier' && parameterisation !== 'pixels') {
    fail(who, `parameterisation must be 'fourier' or 'pixels', got ${showValue(parameterisation)}`, `parameterisation ${showValue(parameterisation)}`, "'fourier' or 'pixels'");
  }
  if (o.decayPower !== undefined && parameterisation !== 'fourier') {
    fail(who, "decayPower scales Fourier coefficients; give it with parameterisation 'fourier'", `decayPower with parameterisation '${parameterisation}'`, "parameterisation 'fourier'");
  }
  const decayPower = finite(who, 'decayPower', o.decayPower ?? 1, 'a finite number ≥ 0', (x) => x >= 0);
  const decorrelate = o.decorrelate ?? channels === 3;
  if (typeof decorrelate !== 'boolean') fail(who, `decorrelate must be true or false, got ${showValue(decorrelate)}`, `decorrelate ${showValue(decorrelate)}`, 'true or false');
  if (decorrelate && channels !== 3) {
    fail(who, `decorrelate mixes the three colour channels, but the model reads ${channels} channel(s); leave it out`, `decorrelate with ${channels} channel(s)`, 'three channels');
  }
  const r = o.range ?? [0, 1];
  if (!Array.isArray(r) || r.length !== 2 || !r.every((v) => typeof v === 'number' && Number.isFinite(v)) || !(r[0] < r[1])) {
    fail(who, `range must be [lo, hi], finite, lo < hi, e.g. [0, 1], got ${showValue(r)}`, `range ${showValue(r)}`, '[lo, hi] with lo < hi');
  }
  const [lo, hi] = r;
  const squash = o.squash ?? 'sigmoid';
  if (squash !== 'sigmoid' && squash !== 'clip') fail(who, `squash must be 'sigmoid' or 'clip', got ${showValue(squash)}`, `squash ${showValue(squash)}`, "'sigmoid' or 'clip'");
  if (squash === 'clip' && (parameterisation !== 'pixels' || decorrelate)) {
    fail(
      who,
      "squash 'clip' projects the pixels themselves into the range; use it with parameterisation 'pixels' and decorrelate false, or squash 'sigmoid'",
      `squash 'clip' with parameterisation '${parameterisation}'${decorrelate ? ' and decorrelate' : ''}`,
      "parameterisation 'pixels', decorrelate false",
    );
  }
  const l2 = finite(who, 'l2', o.l2 ?? 0, 'a finite number ≥ 0', (x) => x >= 0);
  const tv = finite(who, 'tv', o.tv ?? 0, 'a finite number ≥ 0', (x) => x >= 0);
  const t = o.transforms ?? 'standard';
  let list: readonly MaximiseTransform[];
  if (t === 'standard') list = standardTransforms(H, W);
  else if (Array.isArray(t)) list = t;
  else fail(who, `transforms must be 'standard' or a list such as [{ jitter: 1 }, { rotate: [-5, 0, 5] }], got ${showValue(t)}`, `transforms ${showValue(t)}`, "'standard' or an array of transforms");
  const transforms = list.map((step, i) => checkStep(who, i, step));
  const fill = finite(who, 'fill', o.fill ?? (lo + hi) / 2, 'a finite number', () => true);
  let blur: Plan['blur'] = null;
  if (o.blur !== undefined) {
    const b = o.blur as unknown;
    const proto = typeof b === 'object' && b !== null ? Object.getPrototypeOf(b) : undefined;
    if (proto !== Object.prototype && proto !== null) fail(who, `blur must be an object such as { every: 4, sigma: 0.5 }, got ${describeValue(b)}`, `blur ${describeValue(b)}`, '{ every, sigma }');
    checkOptions(who, b as BlurOptions, ['every', 'sigma'], '{ every: 4, sigma: 0.5 }');
    const every = positiveInteger(who, 'blur.every', (b as BlurOptions).every);
    const sigma = finite(who, 'blur.sigma', (b as BlurOptions).sigma, 'a number of pixels > 0, e.g. 0.5', (x) => x > 0);
    blur = { every, sigma };
  }
  const seed = o.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) fail(who, `seed must be a safe integer, got ${showValue(seed)}`, `seed ${showValue(seed)}`, 'a safe integer');
  const initScale = finite(who, 'initScale', o.initScale ?? DEFAULT_INIT, 'a finite number ≥ 0', (x) => x >= 0);
  const stats = o.stats ?? {};
  checkParamRecord(who, stats, 'stats');
  return {
    backend: o.backend ?? 'reference',
    stats,
    batchSize,
    steps,
    learningRate,
    parameterisation,
    decayPower,
    decorrelate,
    lo,
    hi,
    squash,
    l2,
    tv,
    transforms,
    fill,
    blur,
    seed,
    initScale,
  };
}

// ---------------------------------------------------------------------------
// Units

/** A unit resolved against the built model: which output it reads and with what weights. */
interface Unit {
  readonly index: number;
  readonly target: MaximiseObjective;
  readonly label: string;
  /** The layer's name, or '' for the model's output. */
  readonly layer: string;
  /** The weights over one example's output of the layer: a = Σ output ⊙ weights. */
  readonly weights: Float64Array;
}

function checkIndex(who: string, what: string, v: unknown, n: number, context: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= n) {
    fail(who, `${what} must be an integer in [0, ${n - 1}] (${context}), got ${showValue(v)}`, `${what} ${showValue(v)}`, `an integer in [0, ${n - 1}]`);
  }
  return v;
}

function resolveUnit(who: string, model: Model, built: BuiltModel, target: unknown, index: number): Unit {
  const what = `target ${index}`;
  const example = "{ class: 3 }, { layer: 'conv2', channel: 5 } or { layer: 'fc1', neuron: 7 }";
  const proto = typeof target === 'object' && target !== null ? Object.getPrototypeOf(target) : undefined;
  if (proto !== Object.prototype && proto !== null) fail(who, `${what} must be a unit such as ${example}, got ${describeValue(target)}`, `${what} ${describeValue(target)}`, example);
  const t = target as Record<string, unknown>;
  if (Object.hasOwn(t, 'class')) {
    checkOptions(who, t, ['class'], '{ class: 3 }');
    const out = built.output;
    if (out.rank !== 2) {
      fail(who, `model "${model.name}" gives ${shapeToString(out.shape)}, not logits [1, classes]; maximise a layer's channel or neuron instead`, `output ${shapeToString(out.shape)}`, 'logits [1, classes]');
    }
    const classes = out.shape[1];
    const c = checkIndex(who, `${what}: class`, t.class, classes, `model "${model.name}" has ${classes} classes`);
    const weights = new Float64Array(classes);
    weights[c] = 1;
    return { index, target: Object.freeze({ class: c }), label: `class ${c}`, layer: '', weights };
  }
  if (!Object.hasOwn(t, 'layer') || (!Object.hasOwn(t, 'channel') && !Object.hasOwn(t, 'neuron'))) {
    fail(who, `${what} must be a unit such as ${example}, got ${showValue(target)}`, `${what} ${showValue(target)}`, example);
  }
  const layer = t.layer;
  if (typeof layer !== 'string') fail(who, `${what}: layer must be a layer name (a string), got ${showValue(layer)}`, `layer ${showValue(layer)}`, 'a layer name');
  const a = findLayerOutput(who, built, layer);
  const shape = a.shape.slice(1);
  const per = sizeOf(shape);
  const weights = new Float64Array(per);
  if (Object.hasOwn(t, 'channel')) {
    checkOptions(who, t, ['layer', 'channel'], "{ layer: 'conv2', channel: 5 }");
    if (shape.length < 2) {
      fail(who, `layer "${layer}" gives ${shapeToString(a.shape)}, which has no channels with positions; maximise one of its neurons: { layer: '${layer}', neuron: i }`, `layer "${layer}" of shape ${shapeToString(a.shape)}`, 'a layer with an output [N, K, h, w]');
    }
    const k = checkIndex(who, `${what}: channel`, t.channel, shape[0], `layer "${layer}" has ${shape[0]} channels`);
    const plane = per / shape[0];
    weights.fill(1 / plane, k * plane, (k + 1) * plane);
    return { index, target: Object.freeze({ layer, channel: k }), label: `${layer} channel ${k}`, layer, weights };
  }
  checkOptions(who, t, ['layer', 'neuron'], "{ layer: 'fc1', neuron: 7 }");
  const n = t.neuron;
  let flat: number;
  let shown: string;
  if (Array.isArray(n)) {
    if (n.length !== shape.length) {
      fail(who, `${what}: neuron [${n.join(', ')}] has ${n.length} coordinates but layer "${layer}" gives ${shapeToString(shape)} per example`, `neuron ${showValue(n)}`, `${shape.length} coordinates`);
    }
    flat = 0;
    n.forEach((v, d) => (flat = flat * shape[d] + checkIndex(who, `${what}: neuron[${d}]`, v, shape[d], `layer "${layer}" gives ${shapeToString(shape)} per example`)));
    shown = `[${n.join(',')}]`;
  } else {
    flat = checkIndex(who, `${what}: neuron`, n, per, `layer "${layer}" has ${per} values per example`);
    shown = String(flat);
  }
  weights[flat] = 1;
  const neuron = Array.isArray(n) ? Object.freeze([...n]) : flat;
  return { index, target: Object.freeze({ layer, neuron }), label: `${layer} neuron ${shown}`, layer, weights };
}

// ---------------------------------------------------------------------------
// The warp and its transpose

/**
 * The bilinear taps of an `height × width` image sampled at `inv(p)` for
 * every output pixel p: `index[4i + k]` the source pixel of tap k of output
 * pixel i (−1 outside the image, where `fill` is read) and `weight[4i + k]`
 * its weight; taps (x₀, y₀), (x₀+1, y₀), (x₀, y₀+1), (x₀+1, y₀+1) with
 * weights (1−fx)(1−fy), fx(1−fy), (1−fx)fy, fx·fy, as `warpImages` samples.
 */
export interface WarpTaps {
  /** Source pixel of each tap, 4 per output pixel; −1 outside. */
  readonly index: Int32Array;
  /** Weight of each tap. */
  readonly weight: Float64Array;
}

/** The taps of the inverse map `inv` (output pixel → source point) on an `height × width` image (see `WarpTaps`). */
export function warpTaps(inv: AffineMatrix, height: number, width: number, into?: WarpTaps): WarpTaps {
  const n = height * width;
  const taps = into ?? { index: new Int32Array(4 * n), weight: new Float64Array(4 * n) };
  const [a, b, c, d, e, f] = inv;
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i++) {
      const sx = a * x + b * y + c;
      const sy = d * x + e * y + f;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const inX0 = x0 >= 0 && x0 < width;
      const inX1 = x0 + 1 >= 0 && x0 + 1 < width;
      const inY0 = y0 >= 0 && y0 < height;
      const inY1 = y0 + 1 >= 0 && y0 + 1 < height;
      const at = 4 * i;
      taps.index[at] = inY0 && inX0 ? y0 * width + x0 : -1;
      taps.index[at + 1] = inY0 && inX1 ? y0 * width + x0 + 1 : -1;
      taps.index[at + 2] = inY1 && inX0 ? (y0 + 1) * width + x0 : -1;
      taps.index[at + 3] = inY1 && inX1 ? (y0 + 1) * width + x0 + 1 : -1;
      taps.weight[at] = (1 - fx) * (1 - fy);
      taps.weight[at + 1] = fx * (1 - fy);
      taps.weight[at + 2] = (1 - fx) * fy;
      taps.weight[at + 3] = fx * fy;
    }
  }
  return taps;
}

/** `channels` planes of `src` (from `srcAt`) sampled by `taps` into `out` (from `outAt`), `fill` outside: the warp T x. */
export function applyWarp(taps: WarpTaps, channels: number, src: ArrayLike<number>, srcAt: number, out: Float64Array, outAt: number, fill: number): void {
  const plane = taps.index.length / 4;
  for (let ch = 0; ch < channels; ch++) {
    const s = srcAt + ch * plane;
    const o = outAt + ch * plane;
    for (let i = 0; i < plane; i++) {
      let v = 0;
      for (let k = 4 * i; k < 4 * i + 4; k++) {
        const j = taps.index[k];
        v += taps.weight[k] * (j < 0 ? fill : src[s + j]);
      }
      out[o + i] = v;
    }
  }
}

/**
 * The transpose of `applyWarp` (without the constant `fill` part, whose
 * derivative is 0): each output pixel's `g` scattered to its taps' source
 * pixels with the same weights, added into `out` (from `outAt`). So
 * ⟨T x, y⟩ = ⟨x, Tᵀ y⟩ + fill · Σ (weights outside) y.
 */
export function applyWarpTranspose(taps: WarpTaps, channels: number, g: ArrayLike<number>, gAt: number, out: Float64Array, outAt: number): void {
  const plane = taps.index.length / 4;
  for (let ch = 0; ch < channels; ch++) {
    const s = gAt + ch * plane;
    const o = outAt + ch * plane;
    for (let i = 0; i < plane; i++) {
      const gi = g[s + i];
      if (gi === 0) continue;
      for (let k = 4 * i; k < 4 * i + 4; k++) {
        const j = taps.index[k];
        if (j >= 0) out[o + j] += taps.weight[k] * gi;
      }
    }
  }
}

/** p ∘ q: the map v ↦ p(q(v)). */
function compose(p: AffineMatrix, q: AffineMatrix): AffineMatrix {
  const [pa, pb, pc, pd, pe, pf] = p;
  const [qa, qb, qc, qd, qe, qf] = q;
  return [pa * qa + pb * qd, pa * qb + pb * qe, pa * qc + pb * qf + pc, pd * qa + pe * qd, pd * qb + pe * qe, pd * qc + pe * qf + pf];
}

/**
 * One draw of the transforms (in their order, from `rng`) as the inverse
 * map that samples it: for T = tₙ ∘ … ∘ t₁, T⁻¹ = t₁⁻¹ ∘ … ∘ tₙ⁻¹.
 */
function drawInverse(steps: readonly Step[], rng: Rng, H: number, W: number): AffineMatrix {
  let inv: AffineMatrix = IDENTITY_MATRIX;
  for (const s of steps) {
    let step: AffineMatrix;
    if (s.kind === 'jitter') {
      const dx = rng.int(2 * s.n + 1) - s.n;
      const dy = rng.int(2 * s.n + 1) - s.n;
      step = [1, 0, -dx, 0, 1, -dy];
    } else if (s.kind === 'scale') {
      step = affineMatrix({ scale: 1 / s.choices[rng.int(s.choices.length)] }, H, W);
    } else {
      step = affineMatrix({ angle: -s.choices[rng.int(s.choices.length)] }, H, W);
    }
    inv = compose(inv, step);
  }
  return inv;
}

// ---------------------------------------------------------------------------
// Host pieces: penalties, blur, Adam

/** Weighted l2 and tv penalties of one image at `x[at …]`; their gradient subtracted from `g[at …]` (ascent on J = a − penalty). */
function penalise(plan: Plan, C: number, H: number, W: number, x: ArrayLike<number>, at: number, g: Float64Array): number {
  const n = C * H * W;
  let total = 0;
  if (plan.l2 > 0) {
    let s = 0;
    const k = (2 * plan.l2) / n;
    for (let i = 0; i < n; i++) {
      const v = x[at + i];
      s += v * v;
      g[at + i] -= k * v;
    }
    total += (plan.l2 * s) / n;
  }
  if (plan.tv > 0) {
    const pairs = C * (H * (W - 1) + (H - 1) * W);
    if (pairs > 0) {
      const k = plan.tv / pairs;
      let s = 0;
      for (let c = 0; c < C; c++) {
        for (let y = 0; y < H; y++) {
          for (let xx = 0; xx < W; xx++) {
            const i = at + (c * H + y) * W + xx;
            if (xx + 1 < W) {
              const d = x[i + 1] - x[i];
              s += Math.abs(d);
              const sg = Math.sign(d) * k;
              g[i + 1] -= sg;
              g[i] += sg;
            }
            if (y + 1 < H) {
              const d = x[i + W] - x[i];
              s += Math.abs(d);
              const sg = Math.sign(d) * k;
              g[i + W] -= sg;
              g[i] += sg;
            }
          }
        }
      }
      total += k * s;
    }
  }
  return total;
}

/** Gaussian blur of `planes` planes of `height × width` at `v[at …]`, separable, edge pixels repeated. */
function blurPlanes(v: Float64Array, at: number, planes: number, height: number, width: number, kernel: Float64Array): void {
  const r = (kernel.length - 1) / 2;
  const tmp = new Float64Array(height * width);
  for (let p = 0; p < planes; p++) {
    const o = at + p * height * width;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let s = 0;
        for (let k = -r; k <= r; k++) s += kernel[k + r] * v[o + y * width + Math.min(width - 1, Math.max(0, x + k))];
        tmp[y * width + x] = s;
      }
    }
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let s = 0;
        for (let k = -r; k <= r; k++) s += kernel[k + r] * tmp[Math.min(height - 1, Math.max(0, y + k)) * width + x];
        v[o + y * width + x] = s;
      }
    }
  }
}

// ---------------------------------------------------------------------------
// The graphs

interface ParamGraphs {
  /** p → the image x [B, C, H, W]; null when x = p ('clip'). */
  readonly image: CompiledFunction | null;
  /** p, g → ∂⟨x(p), g⟩/∂p; null when x = p. */
  readonly back: CompiledFunction | null;
  /** Parameters per unit. */
  readonly per: number;
}

/** The parameterisation of the file comment for a batch of B images [C, H, W], as a tensor function of p. */
function imageOf(plan: Plan, p: Tensor, B: number, C: number, H: number, W: number): Tensor {
  let u: Tensor;
  if (plan.parameterisation === 'fourier') {
    const cols = spectrumColumns(W);
    const spectrum = reshape(transpose(p, [1, 0, 2, 3, 4]), [2, B * C, H, cols]);
    u = reshape(fourierPlanes(spectrum, H, W, plan.decayPower), [B, C, H, W]);
  } else {
    u = p;
  }
  if (plan.decorrelate) u = reshape(matmul(constant(DECORRELATION, [3, 3]), reshape(u, [B, 3, H * W])), [B, C, H, W]);
  if (plan.squash === 'clip') return u;
  return add(mul(sigmoid(u), plan.hi - plan.lo), plan.lo);
}

function paramGraphs(plan: Plan, B: number, C: number, H: number, W: number): ParamGraphs {
  const pShape = plan.parameterisation === 'fourier' ? [B, 2, C, H, spectrumColumns(W)] : [B, C, H, W];
  const per = sizeOf(pShape) / B;
  if (plan.squash === 'clip') return { image: null, back: null, per };
  const p = input(PARAM_INPUT, pShape);
  const x = imageOf(plan, p, B, C, H, W);
  const g = input(COTANGENT_INPUT, x.shape);
  const [gp] = grad(sum(mul(x, g)), [p]);
  return { image: compile([x], { backend: plan.backend }), back: compile([gp], { backend: plan.backend }), per };
}

interface ObjectiveGraph {
  /** x, select → [a per row [B], ∂Σa/∂x]. */
  readonly fn: CompiledFunction;
  readonly feeds: Record<string, Float32Array>;
  /** Values of the layer's output per example. */
  readonly per: number;
}

function objectiveGraph(who: string, model: Model, params: Params, plan: Plan, layer: string, B: number): ObjectiveGraph {
  const built = buildModel(model, { batchSize: B, inputName: IMAGE_INPUT });
  const a = layer === '' ? built.output : findLayerOutput(who, built, layer);
  const sel = input(SELECT_INPUT, a.shape);
  const axes = a.shape.slice(1).map((_, i) => i + 1);
  const perRow = sum(mul(a, sel), { axes });
  const [gx] = grad(sum(perRow), [built.input]);
  const fn = compile([perRow, gx], { backend: plan.backend });
  const feeds = modelFeeds(who, model, fn, params, plan.stats, [IMAGE_INPUT, SELECT_INPUT]);
  return { fn, feeds, per: sizeOf(a.shape) / B };
}

// ---------------------------------------------------------------------------
// The ascent

/** Run one batch of units (all of one layer) and return their results, in the order of `units`. */
async function ascend(who: string, model: Model, params: Params, plan: Plan, units: readonly Unit[], C: number, H: number, W: number): Promise<MaximiseResult[]> {
  const B = units.length;
  const per = C * H * W;
  const feed = (v: Float64Array): Float64Array | Float32Array => (plan.backend === 'reference' ? v : Float32Array.from(v));
  const pg = paramGraphs(plan, B, C, H, W);
  const og = objectiveGraph(who, model, params, plan, units[0].layer, B);
  try {
    const select = new Float64Array(B * og.per);
    units.forEach((u, b) => select.set(u.weights, b * og.per));
    const selectFeed = feed(select);
    const rngs = units.map((u) => createRng(mixSeed(plan.seed, u.index)));
    const P = pg.per;
    const p = new Float64Array(B * P);
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < P; i++) p[b * P + i] = plan.initScale * rngs[b].normal();
    }
    if (plan.squash === 'clip') for (let i = 0; i < p.length; i++) p[i] = Math.min(plan.hi, Math.max(plan.lo, p[i] + (plan.lo + plan.hi) / 2));
    const m = new Float64Array(p.length);
    const v = new Float64Array(p.length);
    const objective = units.map(() => new Float32Array(plan.steps));
    const penalty = units.map(() => new Float32Array(plan.steps));
    const warped = new Float64Array(B * per);
    const gx = new Float64Array(B * per);
    const taps = units.map(() => ({ index: new Int32Array(4 * H * W), weight: new Float64Array(4 * H * W) }));
    const warp = plan.transforms.length > 0;
    const kernel = plan.blur && plan.parameterisation === 'pixels' ? gaussianKernel(plan.blur.sigma) : null;
    const transfer = plan.blur && plan.parameterisation === 'fourier' ? gaussianTransfer(H, W, plan.blur.sigma) : null;

    const imageNow = async (): Promise<ArrayLike<number>> => (pg.image ? (await pg.image.run({ [PARAM_INPUT]: feed(p) }))[0].data : p);

    for (let step = 0; step < plan.steps; step++) {
      const x = await imageNow();
      for (let b = 0; b < B; b++) {
        if (warp) {
          warpTaps(drawInverse(plan.transforms, rngs[b], H, W), H, W, taps[b]);
          applyWarp(taps[b], C, x, b * per, warped, b * per, plan.fill);
        } else {
          for (let i = 0; i < per; i++) warped[b * per + i] = x[b * per + i];
        }
      }
      const [a, ga] = await og.fn.run({ ...og.feeds, [IMAGE_INPUT]: feed(warped), [SELECT_INPUT]: selectFeed });
      gx.fill(0);
      for (let b = 0; b < B; b++) {
        if (warp) applyWarpTranspose(taps[b], C, ga.data, b * per, gx, b * per);
        else for (let i = 0; i < per; i++) gx[b * per + i] = ga.data[b * per + i];
        objective[b][step] = a.data[b];
        penalty[b][step] = penalise(plan, C, H, W, x, b * per, gx);
      }
      const gp = pg.back ? (await pg.back.run({ [PARAM_INPUT]: feed(p), [COTANGENT_INPUT]: feed(gx) }))[0].data : gx;
      // Adam, uphill.
      const t = step + 1;
      const c1 = 1 - BETA1 ** t;
      const c2 = 1 - BETA2 ** t;
      for (let i = 0; i < p.length; i++) {
        const gi = gp[i];
        m[i] = BETA1 * m[i] + (1 - BETA1) * gi;
        v[i] = BETA2 * v[i] + (1 - BETA2) * gi * gi;
        p[i] += (plan.learningRate * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + ADAM_EPS);
      }
      if (plan.squash === 'clip') for (let i = 0; i < p.length; i++) p[i] = Math.min(plan.hi, Math.max(plan.lo, p[i]));
      if (plan.blur && t % plan.blur.every === 0) {
        if (kernel) for (let b = 0; b < B; b++) blurPlanes(p, b * P, C, H, W, kernel);
        if (transfer) {
          // p per unit: [2, C, H, cols]; every plane of coefficients times the transfer function.
          for (let q = 0; q < p.length; q++) p[q] *= transfer[q % transfer.length];
        }
      }
    }

    const x = Float64Array.from(await imageNow());
    const [final] = await og.fn.run({ ...og.feeds, [IMAGE_INPUT]: feed(x), [SELECT_INPUT]: selectFeed });
    return units.map((u, b) =>
      Object.freeze({
        target: u.target,
        label: u.label,
        shape: [C, H, W],
        data: Float32Array.from(x.subarray(b * per, (b + 1) * per)),
        objective: objective[b],
        penalty: penalty[b],
        value: final.data[b],
      }),
    );
  } finally {
    await Promise.all([pg.image?.dispose(), pg.back?.dispose(), og.fn.dispose()]);
  }
}

/** The model's input as [C, H, W], or an error: activation maximisation makes images. */
function imageShape(who: string, model: Model): [number, number, number] {
  const s = model.inputShape;
  if (s.length !== 3) fail(who, `model "${model.name}" reads ${shapeToString(s)}, not an image [C, H, W]`, `inputShape ${shapeToString(s)}`, 'an image input [C, H, W]');
  return [s[0], s[1], s[2]];
}

async function run(who: string, model: Model, params: Params, targets: readonly unknown[], options: MaximiseOptions): Promise<MaximiseResult[]> {
  checkModel(who, model);
  const [C, H, W] = imageShape(who, model);
  const plan = checkPlan(who, options, C, H, W);
  const built = buildModel(model, { batchSize: 1, inputName: IMAGE_INPUT });
  checkModelParams(who, model, built, params);
  const units = targets.map((t, i) => resolveUnit(who, model, built, t, i));
  // Units of one layer run together, in batches of up to batchSize, in the order given.
  const byLayer = new Map<string, Unit[]>();
  for (const u of units) byLayer.set(u.layer, [...(byLayer.get(u.layer) ?? []), u]);
  const results = new Array<MaximiseResult>(units.length);
  for (const group of byLayer.values()) {
    for (let start = 0; start < group.length; start += plan.batchSize) {
      const batch = group.slice(start, start + plan.batchSize);
      const out = await ascend(who, model, params, plan, batch, C, H, W);
      batch.forEach((u, b) => (results[u.index] = out[b]));
    }
  }
  return results;
}

/**
 * The image that maximises `target` (a class logit, a layer's channel or
 * one neuron) for the model `model` with parameters `params`, by gradient
 * ascent with the regularisers, transforms and parameterisation of
 * `options` (see the file comment).
 */
export async function maximise(model: Model, params: Params, target: MaximiseObjective, options: MaximiseOptions = {}): Promise<MaximiseResult> {
  const [result] = await run('maximise', model, params, [target], options);
  return result;
}

/**
 * The maximising image of each of `targets`, in their order: unit j draws
 * from `mixSeed(seed, j)`, and units of one layer run together in batches
 * (see the file comment).
 */
export async function maximiseAll(model: Model, params: Params, targets: readonly MaximiseObjective[], options: MaximiseOptions = {}): Promise<MaximiseResult[]> {
  const who = 'maximiseAll';
  if (!Array.isArray(targets) || targets.length === 0) {
    fail(who, `targets must be a non-empty array of units such as { class: 3 }, got ${describeValue(targets)}`, `targets ${describeValue(targets)}`, 'a non-empty array of units');
  }
  return run(who, model, params, targets, options);
}

/**
 * One maximising image per class of the classifier `model` (class c's
 * logit, c = 0 … classes − 1), in class order; draw them as a grid with
 * `maximiseGridSpec`.
 */
export async function maximiseClasses(model: Model, params: Params, options: MaximiseOptions = {}): Promise<MaximiseResult[]> {
  const who = 'maximiseClasses';
  checkModel(who, model);
  const out = buildModel(model, { batchSize: 1, inputName: IMAGE_INPUT }).output;
  if (out.rank !== 2) {
    fail(who, `model "${model.name}" gives ${shapeToString(out.shape)}, not logits [1, classes]; maximise a layer's channels with maximiseAll`, `output ${shapeToString(out.shape)}`, 'logits [1, classes]');
  }
  return run(who, model, params, Array.from({ length: out.shape[1] }, (_, c) => ({ class: c })), options);
}
