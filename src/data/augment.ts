/**
 * Data augmentation: random distortions of each training image, drawn
 * afresh for every batch, as an RxJS operator on the stream of batches.
 *
 * ```ts
 * train({ model, data, optimizer, transform: augment({ imageShape: model.inputShape, affine: { rotate: 15, shift: 2 } }) });
 * batches$.pipe(augment({ imageShape: [1, 28, 28], elastic: { alpha: 34, sigma: 4 } }));
 * ```
 *
 * LeCun et al. (1998) brought LeNet-5 from 0.95% to 0.8% test error on
 * MNIST by training on distorted digits (random planar affine maps), and
 * Simard, Steinkraus and Platt (2003, "Best practices for convolutional
 * neural networks applied to visual document analysis") to 0.4% with
 * elastic distortions.
 *
 * The transformations, applied to each image in this fixed order (each one
 * only when its option is given):
 *
 * 1. **Warp** (`affine`, `elastic`): one resampling of the image. Output
 *    pixel p (x right, y down, in pixels) reads the input at
 *    `A⁻¹(p + d(p))`, with A the affine map drawn for the image (see
 *    `affineMatrix`: scale, then shear, then rotation about the image
 *    centre, then a shift) and d Simard's elastic displacement field (see
 *    `elasticField`), by bilinear interpolation; a neighbour outside the
 *    image reads `fill`. So the elastic distortion acts on the affinely
 *    warped image, and the image is interpolated once, not twice.
 * 2. **Crop** (`crop`): the image padded by `padding` pixels of `fill` on
 *    every side and cut back to its size at a random integer offset: a
 *    shift by (oy, ox), each uniform in {−padding, …, padding}, without
 *    interpolation (Krizhevsky et al. 2012; the CIFAR recipe of He et al. 2016).
 * 3. **Flip** (`flip`): columns reversed (x → W − 1 − x) with probability
 *    `horizontal`. Only for data whose mirror image is of the same class:
 *    not digits or letters.
 * 4. **Contrast** (`contrast`): v → m + f·(v − m), f uniform in `factor`,
 *    m the mean of the image (all its channels).
 * 5. **Brightness** (`brightness`): v → v + b, b uniform in [−delta, delta].
 * 6. **Noise** (`noise`): v → v + std·z, z standard normal, drawn for every
 *    value.
 *
 * Values are not clipped: noise and brightness may leave [0, 1].
 *
 * Reproducible: what is drawn for image n of a batch comes from
 * `mixSeed(batch.seed, n)`, and each transformation draws from its own stream
 * of that seed, so the same batch (data and seed) gives the same output on
 * every run, resumed runs included, and turning one transformation on does
 * not change what another draws. Everything runs on the host in float64
 * JavaScript arithmetic and is written to a fresh Float32Array, so the
 * augmented batch does not depend on the backend that trains on it. (The
 * rotation, the Gaussian kernel and the normal draws use `Math.sin`, `cos`,
 * `exp` and `log`, whose last bit the ECMAScript standard leaves to the
 * engine: Node and Chromium agree, another engine may differ in the last
 * place.)
 */
import { concatMap, from, map, type MonoTypeOperatorFunction } from 'rxjs';
import { checkOptions, describeValue, fail, showValue } from '../graph/error.js';
import { type Shape, shapeToString, sizeOf } from '../graph/shape.js';
import { augmentWorkersUnavailable, AugmentWorkers } from './augment-workers.js';
import type { Batch } from './batches.js';
import { checkImageShape, imageCount } from './crops.js';
import { createRng, mixSeed, type Rng } from './random.js';

// ---------------------------------------------------------------------------
// Options

/**
 * A random affine warp, drawn per image: zoom, shear, rotation and shift
 * about the image centre, in that order (see `affineMatrix`). Every field
 * is optional and leaves its part out (the identity) when absent.
 */
export interface AffineOptions {
  /** Largest shift in pixels: dx and dy each uniform in [−shift, shift], not rounded (default 0). */
  readonly shift?: number;
  /** Largest rotation in degrees, in [0, 180]: the angle is uniform in [−rotate, rotate], positive counter-clockwise as displayed (default 0). */
  readonly rotate?: number;
  /** Zoom factor range [min, max], 0 < min ≤ max: the factor is uniform in it, the same along both axes; above 1 enlarges (default [1, 1]). */
  readonly scale?: readonly [number, number];
  /** Largest horizontal shear angle in degrees, in [0, 90): φ uniform in [−shear, shear], x → x + tan(φ)·y (default 0). */
  readonly shear?: number;
}

/** Pad then crop back: a random integer shift with `fill` coming in at the edges. */
export interface CropOptions {
  /** Pixels of `fill` added on every side before the crop, a non-negative integer at most the image's larger side. */
  readonly padding: number;
}

/** Mirror images. */
export interface FlipOptions {
  /** Probability in [0, 1] that an image's columns are reversed. */
  readonly horizontal: number;
}

/** Simard et al.'s (2003) elastic distortion; see `elasticField`. */
export interface ElasticOptions {
  /** Scale of the displacements in pixels, finite and ≥ 0 (Simard et al. used 34 on 28×28 digits). */
  readonly alpha: number;
  /** Standard deviation in pixels of the Gaussian that smooths the field, finite and > 0 (Simard et al.: 4). */
  readonly sigma: number;
}

/** Additive Gaussian noise, independent for every value. */
export interface NoiseOptions {
  /** Standard deviation of the noise, in the images' units, finite and ≥ 0. */
  readonly std: number;
}

/** A random offset added to the whole image. */
export interface BrightnessOptions {
  /** Largest offset, in the images' units, finite and ≥ 0: b uniform in [−delta, delta]. */
  readonly delta: number;
}

/** A random contrast about the image's mean. */
export interface ContrastOptions {
  /** Range [min, max] of the factor f, 0 ≤ min ≤ max, finite: f uniform in it; 1 keeps the image, 0 makes it its mean. */
  readonly factor: readonly [number, number];
}

/**
 * Which transformations to apply and how strongly: each is off unless
 * given. They are applied in the fixed order of the file comment: warp
 * (affine and elastic, one resampling), crop, flip, contrast, brightness,
 * noise.
 */
export interface AugmentTransforms {
  /** A random affine warp (shift, rotation, zoom, shear), bilinear. */
  readonly affine?: AffineOptions;
  /** Pad by `padding` pixels and crop back to size at a random offset. */
  readonly crop?: CropOptions;
  /** Reverse the columns with a probability. */
  readonly flip?: FlipOptions;
  /** Simard et al.'s elastic distortion, resampled together with `affine`. */
  readonly elastic?: ElasticOptions;
  /** Additive Gaussian noise. */
  readonly noise?: NoiseOptions;
  /** A random additive brightness. */
  readonly brightness?: BrightnessOptions;
  /** A random contrast factor about the image mean. */
  readonly contrast?: ContrastOptions;
  /** The value read outside the image by the warp and brought in by the crop's padding, finite (default 0, MNIST's background). */
  readonly fill?: number;
}

/** `augment`'s options: the transformations and the shape of one image. */
export interface AugmentOptions extends AugmentTransforms {
  /** `[channels, height, width]` of one image, e.g. `model.inputShape` or `[1, 28, 28]`; required. */
  readonly imageShape: Shape;
  /**
   * Worker threads to augment on (an integer 1 to 16; default none: the
   * calling thread). With workers, a batch is augmented beside the training
   * step that `train()` runs meanwhile, and the batches are the same as
   * without. Node only: in a browser, giving it is an error.
   */
  readonly workers?: number;
}

const TRANSFORMS = ['affine', 'crop', 'flip', 'elastic', 'noise', 'brightness', 'contrast', 'fill'] as const;
const AUGMENT_KEYS = ['imageShape', 'workers', ...TRANSFORMS];

/** The most worker threads `augment` starts. */
export const MAX_AUGMENT_WORKERS = 16;

/** A transformation of {@link augment} that draws random numbers (each from its own stream; see {@link augmentRng}). */
export type AugmentTransform = 'affine' | 'elastic' | 'crop' | 'flip' | 'contrast' | 'brightness' | 'noise';

/** Each transformation's own random stream of an image's seed, so that one being on does not change another's draws. */
const STREAM: { readonly [T in AugmentTransform]: number } = {
  affine: 0x61666669, // 'affi'
  elastic: 0x656c6173, // 'elas'
  crop: 0x63726f70, // 'crop'
  flip: 0x666c6970, // 'flip'
  contrast: 0x636f6e74, // 'cont'
  brightness: 0x62726967, // 'brig'
  noise: 0x6e6f6973, // 'nois'
};

// ---------------------------------------------------------------------------
// Checking the options into a plan

/** Gaussian smoothing along one axis of length n: the kernel and the padded line's source indices. */
interface Smoothing {
  readonly kernel: Float64Array;
  readonly radius: number;
  readonly rows: Int32Array;
  readonly cols: Int32Array;
}

/** The checked options, with what can be computed once (the Gaussian kernel) computed. */
interface Plan {
  readonly C: number;
  readonly H: number;
  readonly W: number;
  readonly fill: number;
  readonly affine: { readonly shift: number; readonly rotate: number; readonly scale: readonly [number, number]; readonly shear: number } | null;
  readonly elastic: { readonly alpha: number; readonly smoothing: Smoothing } | null;
  readonly padding: number | null;
  readonly flip: number | null;
  readonly contrast: readonly [number, number] | null;
  readonly brightness: number | null;
  readonly noise: number | null;
}

/** `v` as a number in the range, or an error naming `path` (`noise.std`). */
function checkNumber(who: string, path: string, v: unknown, expected: string, ok: (x: number) => boolean): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) {
    fail(who, `${path} must be ${expected}, got ${showValue(v)}`, `${path} ${showValue(v)}`, expected);
  }
  return v;
}

/** `v` as a [min, max] pair of numbers with lo ≤ min ≤ max, or an error naming `path`. */
function checkRange(who: string, path: string, v: unknown, expected: string, ok: (x: number) => boolean): readonly [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && ok(x)) || v[0] > v[1]) {
    fail(who, `${path} must be ${expected}, got ${showValue(v)}`, `${path} ${showValue(v)}`, expected);
  }
  return [v[0], v[1]];
}

/** `v` as a plain object of the `known` keys, or an error naming `path` and the keys it takes. */
function checkGroup(who: string, path: string, v: unknown, known: readonly string[], example: string): Record<string, unknown> {
  const proto = typeof v === 'object' && v !== null ? Object.getPrototypeOf(v) : undefined;
  if (proto !== Object.prototype && proto !== null) {
    fail(who, `${path} must be an object such as ${example}, got ${describeValue(v)}`, `${path} ${describeValue(v)}`, `an object such as ${example}`);
  }
  const list = known.map((k) => `"${k}"`).join(', ');
  for (const key of Object.keys(v as object)) {
    if (!known.includes(key)) {
      fail(who, `unknown option "${key}" in ${path}; ${path}'s options are ${list}`, `option ${path}.${key}`, `one of ${list}`);
    }
  }
  return v as Record<string, unknown>;
}

function checkTransforms(who: string, t: AugmentTransforms, imageShape: Shape): Plan {
  const [C, H, W] = imageShape;
  const fill = t.fill === undefined ? 0 : checkNumber(who, 'fill', t.fill, 'a finite number', () => true);
  let affine: Plan['affine'] = null;
  if (t.affine !== undefined) {
    const a = checkGroup(who, 'affine', t.affine, ['shift', 'rotate', 'scale', 'shear'], '{ rotate: 15, shift: 2 }');
    const opt = (key: string, expected: string, ok: (x: number) => boolean): number =>
      a[key] === undefined ? 0 : checkNumber(who, `affine.${key}`, a[key], expected, ok);
    affine = {
      shift: opt('shift', 'a number of pixels ≥ 0', (x) => x >= 0),
      rotate: opt('rotate', 'a number of degrees in [0, 180]', (x) => x >= 0 && x <= 180),
      scale: a.scale === undefined ? [1, 1] : checkRange(who, 'affine.scale', a.scale, '[min, max] with 0 < min ≤ max, e.g. [0.9, 1.1]', (x) => x > 0),
      shear: opt('shear', 'a number of degrees in [0, 90)', (x) => x >= 0 && x < 90),
    };
  }
  let elastic: Plan['elastic'] = null;
  if (t.elastic !== undefined) {
    const e = checkGroup(who, 'elastic', t.elastic, ['alpha', 'sigma'], '{ alpha: 34, sigma: 4 }');
    const alpha = checkNumber(who, 'elastic.alpha', e.alpha, 'a number of pixels ≥ 0, e.g. 34', (x) => x >= 0);
    const sigma = checkNumber(who, 'elastic.sigma', e.sigma, 'a number of pixels > 0, e.g. 4', (x) => x > 0);
    elastic = { alpha, smoothing: smoothingFor(sigma, H, W) };
  }
  let padding: number | null = null;
  if (t.crop !== undefined) {
    const c = checkGroup(who, 'crop', t.crop, ['padding'], '{ padding: 4 }');
    const most = Math.max(H, W);
    padding = checkNumber(who, 'crop.padding', c.padding, `an integer in [0, ${most}] (the image's larger side)`, (x) => Number.isInteger(x) && x >= 0 && x <= most);
  }
  let flip: number | null = null;
  if (t.flip !== undefined) {
    const f = checkGroup(who, 'flip', t.flip, ['horizontal'], '{ horizontal: 0.5 }');
    flip = checkNumber(who, 'flip.horizontal', f.horizontal, 'a probability in [0, 1]', (x) => x >= 0 && x <= 1);
  }
  let contrast: Plan['contrast'] = null;
  if (t.contrast !== undefined) {
    const c = checkGroup(who, 'contrast', t.contrast, ['factor'], '{ factor: [0.8, 1.2] }');
    contrast = checkRange(who, 'contrast.factor', c.factor, '[min, max] with 0 ≤ min ≤ max, e.g. [0.8, 1.2]', (x) => x >= 0);
  }
  let brightness: number | null = null;
  if (t.brightness !== undefined) {
    const b = checkGroup(who, 'brightness', t.brightness, ['delta'], '{ delta: 0.1 }');
    brightness = checkNumber(who, 'brightness.delta', b.delta, 'a number ≥ 0', (x) => x >= 0);
  }
  let noise: number | null = null;
  if (t.noise !== undefined) {
    const n = checkGroup(who, 'noise', t.noise, ['std'], '{ std: 0.1 }');
    noise = checkNumber(who, 'noise.std', n.std, 'a number ≥ 0', (x) => x >= 0);
  }
  return { C, H, W, fill, affine, elastic, padding, flip, contrast, brightness, noise };
}

/** The checked plan of `augment`'s or `augmentImages`' transforms. */
function planOf(who: string, transforms: unknown, imageShape: unknown, withShape: boolean): Plan {
  if (transforms === null || typeof transforms !== 'object' || Array.isArray(transforms)) {
    const example = withShape ? '{ imageShape: [1, 28, 28], affine: { rotate: 15 } }' : '{ affine: { rotate: 15 } }';
    fail(who, `options must be an object such as ${example}, got ${describeValue(transforms)}`, describeValue(transforms), `an object such as ${example}`);
  }
  checkOptions(who, transforms, withShape ? AUGMENT_KEYS : TRANSFORMS);
  checkImageShape(who, imageShape);
  return checkTransforms(who, transforms as AugmentTransforms, imageShape);
}

// ---------------------------------------------------------------------------
// The affine map

/** The parameters of one affine map; every field is optional and the identity when absent. */
export interface AffineParams {
  /** Rotation in degrees, counter-clockwise as displayed (default 0). */
  readonly angle?: number;
  /** Zoom factor, the same along both axes, > 0 (default 1). */
  readonly scale?: number;
  /** Horizontal shear angle in degrees, in (−90, 90): x → x + tan(shear)·y (default 0). */
  readonly shear?: number;
  /** Shift to the right in pixels (default 0). */
  readonly dx?: number;
  /** Shift down in pixels (default 0). */
  readonly dy?: number;
}

/**
 * A forward affine map of pixel coordinates, `[a, b, c, d, e, f]`: the
 * input pixel at (x, y) (column, row) goes to (a·x + b·y + c, d·x + e·y + f).
 */
export type AffineMatrix = readonly [number, number, number, number, number, number];

/** The identity map. */
export const IDENTITY_MATRIX: AffineMatrix = Object.freeze([1, 0, 0, 0, 1, 0]) as AffineMatrix;

/** cos and sin of an angle in degrees, exact at multiples of 90° (so a quarter turn moves pixels onto pixels). */
function cosSinDeg(degrees: number): [number, number] {
  const quarter = degrees / 90;
  if (Number.isInteger(quarter)) {
    const k = ((quarter % 4) + 4) % 4;
    return [[1, 0], [0, 1], [-1, 0], [0, -1]][k] as [number, number];
  }
  const r = (degrees * Math.PI) / 180;
  return [Math.cos(r), Math.sin(r)];
}

/**
 * The forward map of an `height × width` image's pixel coordinates that
 * zooms by `scale`, shears by `shear`, rotates by `angle` (in that order,
 * about the image centre ((width − 1) / 2, (height − 1) / 2)), then shifts
 * by (dx, dy). With x right and y down, and (X, Y) = p − centre:
 *
 * ```
 * p' = centre + (dx, dy) + R · Sh · s·(X, Y)
 * R  = [cos θ, sin θ; −sin θ, cos θ]   (counter-clockwise on screen, y down)
 * Sh = [1, tan φ; 0, 1]
 * ```
 *
 * `warpImages` inverts it: each output pixel reads the input where the map
 * sends it from.
 */
export function affineMatrix(params: AffineParams, height: number, width: number): AffineMatrix {
  const who = 'affineMatrix';
  checkOptions(who, params, ['angle', 'scale', 'shear', 'dx', 'dy']);
  if (params === undefined) fail(who, 'params must be an object such as { angle: 90 }, got undefined', 'undefined', 'an object such as { angle: 90 }');
  for (const [name, v] of [['height', height], ['width', width]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) fail(who, `${name} must be a positive integer, got ${showValue(v)}`, `${name} ${showValue(v)}`, 'a positive integer');
  }
  const { angle = 0, scale = 1, shear = 0, dx = 0, dy = 0 } = params;
  checkNumber(who, 'angle', angle, 'a finite number of degrees', () => true);
  checkNumber(who, 'scale', scale, 'a number > 0', (x) => x > 0);
  checkNumber(who, 'shear', shear, 'a number of degrees in (−90, 90)', (x) => x > -90 && x < 90);
  checkNumber(who, 'dx', dx, 'a finite number of pixels', () => true);
  checkNumber(who, 'dy', dy, 'a finite number of pixels', () => true);
  return matrixOf(angle, scale, shear, dx, dy, height, width);
}

/** `affineMatrix` without the checks. */
function matrixOf(angle: number, scale: number, shear: number, dx: number, dy: number, H: number, W: number): AffineMatrix {
  const [cos, sin] = cosSinDeg(angle);
  const t = shear === 0 ? 0 : Math.tan((shear * Math.PI) / 180);
  // R · Sh · s = [cos, sin; −sin, cos] · [s, s·t; 0, s]
  const a = cos * scale;
  const b = (cos * t + sin) * scale;
  const d = -sin * scale;
  const e = (-sin * t + cos) * scale;
  const cx = (W - 1) / 2;
  const cy = (H - 1) / 2;
  // `+ 0` turns −0 (from −sin 0) into 0, so the identity reads as the identity.
  return [a + 0, b + 0, cx + dx - (a * cx + b * cy) + 0, d + 0, e + 0, cy + dy - (d * cx + e * cy) + 0];
}

/** The inverse of a forward map, in the same `[a, b, c, d, e, f]` form. */
function invert(who: string, m: AffineMatrix): AffineMatrix {
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  if (!(Math.abs(det) > 0) || !Number.isFinite(det)) {
    fail(who, `the affine matrix [${m.join(', ')}] cannot be inverted (its determinant is ${det})`, `matrix [${m.join(', ')}]`, 'an invertible affine matrix');
  }
  if (b === 0 && d === 0 && a === 1 && e === 1) return [1, 0, -c, 0, 1, -f]; // a shift: keep it exact
  const ia = e / det;
  const ib = -b / det;
  const id = -d / det;
  const ie = a / det;
  return [ia, ib, -(ia * c + ib * f), id, ie, -(id * c + ie * f)];
}

// ---------------------------------------------------------------------------
// The elastic field

/**
 * A displacement field: pixel (x, y) of the output reads the input at
 * (x + dx[y·width + x], y + dy[y·width + x]), that point taken through the
 * inverse of the affine map first when there is one (`warpImages`).
 */
export interface DisplacementField {
  /** Rows of the field (the image's height). */
  readonly height: number;
  /** Columns of the field (the image's width). */
  readonly width: number;
  /** Horizontal displacement in pixels, row-major, height × width values. */
  readonly dx: Float64Array;
  /** Vertical displacement in pixels, row-major, height × width values. */
  readonly dy: Float64Array;
}

/** Radius of the truncated Gaussian, in standard deviations: beyond 3σ lies 0.27% of its mass. */
const GAUSSIAN_TRUNCATE = 3;

/**
 * The normalised Gaussian kernel of standard deviation `sigma` pixels,
 * truncated at radius ceil(3σ): 2·radius + 1 weights summing to 1,
 * exp(−k² / 2σ²) up to the normalisation, k = −radius … radius.
 */
export function gaussianKernel(sigma: number): Float64Array {
  checkNumber('gaussianKernel', 'sigma', sigma, 'a number of pixels > 0', (x) => x > 0);
  const radius = Math.max(1, Math.ceil(GAUSSIAN_TRUNCATE * sigma));
  const kernel = new Float64Array(2 * radius + 1);
  let total = 0;
  for (let k = -radius; k <= radius; k++) total += kernel[k + radius] = Math.exp(-(k * k) / (2 * sigma * sigma));
  for (let i = 0; i < kernel.length; i++) kernel[i] /= total;
  return kernel;
}

/**
 * Index i of a line of n, reflected at the edges as `d c b a | a b c d | d c b a`
 * (SciPy's 'reflect'), so the smoothed field keeps its size near the border.
 */
function reflect(i: number, n: number): number {
  const period = 2 * n;
  const m = ((i % period) + period) % period;
  return m < n ? m : period - 1 - m;
}

/** Where each entry of a padded line of n + 2·radius comes from. */
function paddedIndex(n: number, radius: number): Int32Array {
  const out = new Int32Array(n + 2 * radius);
  for (let j = 0; j < out.length; j++) out[j] = reflect(j - radius, n);
  return out;
}

function smoothingFor(sigma: number, H: number, W: number): Smoothing {
  const kernel = gaussianKernel(sigma);
  const radius = (kernel.length - 1) / 2;
  return { kernel, radius, rows: paddedIndex(H, radius), cols: paddedIndex(W, radius) };
}

/** Scratch arrays of one field, reused image after image. */
interface FieldScratch {
  readonly dx: Float64Array;
  readonly dy: Float64Array;
  readonly tmp: Float64Array;
  readonly line: Float64Array;
}

function fieldScratch(H: number, W: number, radius: number): FieldScratch {
  const n = H * W;
  return { dx: new Float64Array(n), dy: new Float64Array(n), tmp: new Float64Array(n), line: new Float64Array(Math.max(H, W) + 2 * radius) };
}

/**
 * `field` ← alpha · (G_σ ∗ field): the separable Gaussian along rows, then
 * along columns, reflected at the edges. The kernel is symmetric, so each
 * pair of taps k and −k shares one multiplication; the column pass runs
 * along rows, reading memory in order.
 */
function smoothInPlace(field: Float64Array, H: number, W: number, alpha: number, s: Smoothing, tmp: Float64Array, line: Float64Array): void {
  const { kernel, radius: r, cols, rows } = s;
  const g0 = kernel[r];
  // Rows: line = the row padded by reflection, tmp = line ∗ g.
  for (let y = 0; y < H; y++) {
    const row = y * W;
    for (let j = 0; j < W + 2 * r; j++) line[j] = field[row + cols[j]];
    for (let x = 0; x < W; x++) {
      const c = x + r;
      let acc = g0 * line[c];
      for (let k = 1; k <= r; k++) acc += kernel[r + k] * (line[c - k] + line[c + k]);
      tmp[row + x] = acc;
    }
  }
  // Columns: output row y is Σₖ gₖ · (row y − k + row y + k) of tmp, rows reflected at the edges.
  for (let y = 0; y < H; y++) {
    const out = y * W;
    const mid = rows[y + r] * W;
    for (let x = 0; x < W; x++) line[x] = g0 * tmp[mid + x];
    for (let k = 1; k <= r; k++) {
      const g = kernel[r + k];
      const above = rows[y + r - k] * W;
      const below = rows[y + r + k] * W;
      for (let x = 0; x < W; x++) line[x] += g * (tmp[above + x] + tmp[below + x]);
    }
    for (let x = 0; x < W; x++) field[out + x] = alpha * line[x];
  }
}

/** Simard's field into `scratch.dx`, `scratch.dy`: uniform(−1, 1) draws (all of dx, then all of dy, row-major), smoothed, scaled. */
function drawField(rng: Rng, H: number, W: number, alpha: number, s: Smoothing, scratch: FieldScratch): void {
  const { dx, dy, tmp, line } = scratch;
  for (let i = 0; i < dx.length; i++) dx[i] = 2 * rng.next() - 1;
  for (let i = 0; i < dy.length; i++) dy[i] = 2 * rng.next() - 1;
  smoothInPlace(dx, H, W, alpha, s, tmp, line);
  smoothInPlace(dy, H, W, alpha, s, tmp, line);
}

/**
 * Simard et al.'s (2003) elastic displacement field for an `height × width`
 * image: two fields of independent uniform(−1, 1) values, one per axis
 * (drawn from `rng`, all of dx then all of dy, row-major), each convolved
 * with a normalised Gaussian of standard deviation `sigma` pixels (separable,
 * truncated at 3σ, reflected at the edges: `gaussianKernel`) and multiplied
 * by `alpha` pixels. A small sigma leaves the field nearly random; a large one
 * makes it nearly a translation; in between (σ ≈ 4 on 28×28 digits) it
 * bends strokes like a hand does. Each value of the smoothed field has
 * variance α²/3 · (Σₖ gₖ²)², so the displacements shrink as σ grows; `alpha`
 * makes up for it.
 */
export function elasticField(rng: Rng, height: number, width: number, alpha: number, sigma: number): DisplacementField {
  const who = 'elasticField';
  if (rng === null || typeof rng !== 'object' || typeof (rng as Partial<Rng>).next !== 'function') {
    fail(who, `rng must be a generator from createRng(seed), got ${describeValue(rng)}`, `rng ${describeValue(rng)}`, 'an Rng from createRng');
  }
  checkNumber(who, 'height', height, 'a positive integer', (x) => Number.isSafeInteger(x) && x >= 1);
  checkNumber(who, 'width', width, 'a positive integer', (x) => Number.isSafeInteger(x) && x >= 1);
  checkNumber(who, 'alpha', alpha, 'a number of pixels ≥ 0', (x) => x >= 0);
  checkNumber(who, 'sigma', sigma, 'a number of pixels > 0', (x) => x > 0);
  const s = smoothingFor(sigma, height, width);
  const scratch = fieldScratch(height, width, s.radius);
  drawField(rng, height, width, alpha, s, scratch);
  return { height, width, dx: scratch.dx, dy: scratch.dy };
}

// ---------------------------------------------------------------------------
// Resampling

/**
 * Image `src[srcAt ..]` resampled into `out[outAt ..]`: output pixel p reads
 * the input at `inv(p + field(p))` by bilinear interpolation, `fill` outside.
 */
function resample(
  src: Float32Array,
  srcAt: number,
  out: Float32Array,
  outAt: number,
  C: number,
  H: number,
  W: number,
  inv: AffineMatrix,
  fdx: Float64Array | null,
  fdy: Float64Array | null,
  fill: number,
): void {
  const [ia, ib, ic, id, ie, iff] = inv;
  const plane = H * W;
  for (let y = 0, i = 0; y < H; y++) {
    for (let x = 0; x < W; x++, i++) {
      const px = fdx === null ? x : x + fdx[i];
      const py = fdy === null ? y : y + fdy[i];
      const sx = ia * px + ib * py + ic;
      const sy = id * px + ie * py + iff;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      if (x0 >= 0 && y0 >= 0 && x0 < W - 1 && y0 < H - 1) {
        // All four neighbours inside: the common case.
        for (let c = 0, at = srcAt + y0 * W + x0; c < C; c++, at += plane) {
          const v00 = src[at];
          const v01 = src[at + 1];
          const top = v00 + fx * (v01 - v00);
          const v10 = src[at + W];
          const bottom = v10 + fx * (src[at + W + 1] - v10);
          out[outAt + c * plane + i] = top + fy * (bottom - top);
        }
      } else if (x0 < -1 || y0 < -1 || x0 >= W || y0 >= H || Number.isNaN(sx) || Number.isNaN(sy)) {
        for (let c = 0; c < C; c++) out[outAt + c * plane + i] = fill;
      } else {
        // Near the border: a neighbour outside the image reads `fill`.
        const inX0 = x0 >= 0;
        const inX1 = x0 + 1 < W;
        const inY0 = y0 >= 0;
        const inY1 = y0 + 1 < H;
        for (let c = 0; c < C; c++) {
          const at = srcAt + c * plane + y0 * W + x0;
          const v00 = inY0 && inX0 ? src[at] : fill;
          const v01 = inY0 && inX1 ? src[at + 1] : fill;
          const v10 = inY1 && inX0 ? src[at + W] : fill;
          const v11 = inY1 && inX1 ? src[at + W + 1] : fill;
          const top = v00 + fx * (v01 - v00);
          const bottom = v10 + fx * (v11 - v10);
          out[outAt + c * plane + i] = top + fy * (bottom - top);
        }
      }
    }
  }
}

/** How `warpImages` resamples: an affine map, a displacement field, or both, and the value outside. */
export interface WarpOptions {
  /** The forward affine map (`affineMatrix`), inverted to sample (default the identity). */
  readonly matrix?: AffineMatrix;
  /** A displacement field of the images' height and width (`elasticField`), applied after the affine map. */
  readonly field?: DisplacementField;
  /** The value of pixels outside the input, finite (default 0). */
  readonly fill?: number;
}

/**
 * Every image in `images` (count images of `imageShape`, `[C, H, W]`, NCHW)
 * warped by the same map: output pixel p (x right, y down) is the input at
 * `matrix⁻¹(p + field(p))`, bilinearly interpolated, a neighbour outside
 * the image reading `fill`; every channel alike. A fresh Float32Array of the
 * same size. Where the sample lands on a pixel (a whole-pixel shift, a
 * quarter turn of a square image) the value is copied exactly.
 *
 * ```ts
 * warpImages(images, [1, 28, 28], { matrix: affineMatrix({ angle: 10, dx: 1 }, 28, 28) });
 * ```
 */
export function warpImages(images: Float32Array, imageShape: Shape, options: WarpOptions = {}): Float32Array {
  const who = 'warpImages';
  checkImageShape(who, imageShape);
  const count = imageCount(who, images, imageShape);
  checkOptions(who, options, ['matrix', 'field', 'fill']);
  const [C, H, W] = imageShape;
  const matrix = options.matrix ?? IDENTITY_MATRIX;
  if (!Array.isArray(matrix) || matrix.length !== 6 || !matrix.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    fail(who, `matrix must be 6 finite numbers [a, b, c, d, e, f] (from affineMatrix), got ${showValue(matrix)}`, `matrix ${showValue(matrix)}`, '[a, b, c, d, e, f], finite');
  }
  const { field } = options;
  if (field !== undefined) {
    const ok =
      field !== null &&
      typeof field === 'object' &&
      field.height === H &&
      field.width === W &&
      field.dx instanceof Float64Array &&
      field.dy instanceof Float64Array &&
      field.dx.length === H * W &&
      field.dy.length === H * W;
    if (!ok) {
      const got = field !== null && typeof field === 'object' ? `a field of ${showValue(field.height)} × ${showValue(field.width)}` : describeValue(field);
      fail(who, `field must be a displacement field of the images' ${H} × ${W} (from elasticField), got ${got}`, `field ${got}`, `a ${H} × ${W} DisplacementField`);
    }
  }
  const fill = options.fill === undefined ? 0 : checkNumber(who, 'fill', options.fill, 'a finite number', () => true);
  const inv = invert(who, matrix);
  const out = new Float32Array(images.length);
  const per = C * H * W;
  for (let n = 0; n < count; n++) resample(images, n * per, out, n * per, C, H, W, inv, field?.dx ?? null, field?.dy ?? null, fill);
  return out;
}

// ---------------------------------------------------------------------------
// The pipeline

/** What one call of the pipeline needs besides the plan: scratch arrays, allocated once per call. */
interface Work {
  readonly field: FieldScratch | null;
  readonly image: Float32Array;
}

/** A uniform draw in [lo, hi]. */
const uniform = (rng: Rng, lo: number, hi: number): number => lo + (hi - lo) * rng.next();

/** The stream of transformation `what` for the image whose seed is `imageSeed`. */
const streamOf = (imageSeed: number, what: AugmentTransform): Rng => createRng(mixSeed(imageSeed, STREAM[what]));


/**
 * The generator transformation `transform` draws from for image `index` of
 * images augmented with seed `seed` (a batch's `seed`): `createRng` of
 * `mixSeed(mixSeed(seed, index), stream)`, one stream per transformation.
 * What each draws from it, in order: affine the angle, zoom, shear, dx and
 * dy (all five, whichever are on, each uniform in its range); elastic the
 * field (`elasticField`); crop oy then ox (`int(2·padding + 1) − padding`,
 * nothing at padding 0); flip one `next()` (flipped when below the
 * probability); contrast and brightness one uniform each; noise one normal
 * per value in NCHW order (nothing at std 0).
 * For reproducing or inspecting a draw; `augment` needs none of it.
 */
export function augmentRng(seed: number, index: number, transform: AugmentTransform): Rng {
  const who = 'augmentRng';
  checkSeed(who, 'seed', seed);
  if (!Number.isSafeInteger(index) || index < 0) fail(who, `index must be a non-negative integer, got ${showValue(index)}`, `index ${showValue(index)}`, 'a non-negative integer');
  if (!Object.hasOwn(STREAM, transform)) {
    const list = Object.keys(STREAM).map((k) => `'${k}'`).join(', ');
    fail(who, `transform must be one of ${list}, got ${showValue(transform)}`, `transform ${showValue(transform)}`, `one of ${list}`);
  }
  return streamOf(mixSeed(seed, index), transform);
}

/** Image `n` of `src` through the pipeline into `out`, its seed `imageSeed`. */
function augmentOne(plan: Plan, work: Work, src: Float32Array, out: Float32Array, n: number, imageSeed: number): void {
  const { C, H, W, fill } = plan;
  const plane = H * W;
  const per = C * plane;
  const at = n * per;

  // 1. Warp: the affine map and the elastic field, one resampling.
  if (plan.affine !== null || plan.elastic !== null) {
    let inv = IDENTITY_MATRIX;
    if (plan.affine !== null) {
      const { shift, rotate, scale, shear } = plan.affine;
      const rng = streamOf(imageSeed, 'affine');
      // All five are drawn whichever are on, so each parameter's draw does not depend on the others' options.
      const angle = uniform(rng, -rotate, rotate);
      const zoom = uniform(rng, scale[0], scale[1]);
      const phi = uniform(rng, -shear, shear);
      const dx = uniform(rng, -shift, shift);
      const dy = uniform(rng, -shift, shift);
      inv = invert('augment', matrixOf(angle, zoom, phi, dx, dy, H, W));
    }
    let fdx: Float64Array | null = null;
    let fdy: Float64Array | null = null;
    if (plan.elastic !== null && work.field !== null) {
      drawField(streamOf(imageSeed, 'elastic'), H, W, plan.elastic.alpha, plan.elastic.smoothing, work.field);
      fdx = work.field.dx;
      fdy = work.field.dy;
    }
    resample(src, at, out, at, C, H, W, inv, fdx, fdy, fill);
  } else {
    out.set(src.subarray(at, at + per), at);
  }

  // 2. Crop: a whole-pixel shift by (oy, ox) in [−padding, padding], fill coming in.
  if (plan.padding !== null && plan.padding > 0) {
    const p = plan.padding;
    const rng = streamOf(imageSeed, 'crop');
    const oy = rng.int(2 * p + 1) - p;
    const ox = rng.int(2 * p + 1) - p;
    if (oy !== 0 || ox !== 0) {
      const image = work.image;
      image.set(out.subarray(at, at + per));
      // Output (y, x) is the input at (y + oy, x + ox).
      const x0 = Math.max(0, -ox);
      const x1 = Math.min(W, W - ox);
      for (let c = 0; c < C; c++) {
        for (let y = 0; y < H; y++) {
          const row = at + c * plane + y * W;
          const sy = y + oy;
          if (sy < 0 || sy >= H || x0 >= x1) {
            out.fill(fill, row, row + W);
            continue;
          }
          out.fill(fill, row, row + x0);
          const from = c * plane + sy * W + x0 + ox;
          out.set(image.subarray(from, from + (x1 - x0)), row + x0);
          out.fill(fill, row + x1, row + W);
        }
      }
    }
  }

  // 3. Flip: columns reversed with probability `horizontal`.
  if (plan.flip !== null && streamOf(imageSeed, 'flip').next() < plan.flip) {
    for (let r = 0; r < C * H; r++) {
      const row = at + r * W;
      for (let l = row, h = row + W - 1; l < h; l++, h--) {
        const t = out[l];
        out[l] = out[h];
        out[h] = t;
      }
    }
  }

  // 4. Contrast about the mean, written f·v + (1 − f)·m so that f = 1 keeps v exactly.
  if (plan.contrast !== null) {
    const f = uniform(streamOf(imageSeed, 'contrast'), plan.contrast[0], plan.contrast[1]);
    let sum = 0;
    for (let i = at; i < at + per; i++) sum += out[i];
    const rest = (1 - f) * (sum / per);
    for (let i = at; i < at + per; i++) out[i] = f * out[i] + rest;
  }

  // 5. Brightness.
  if (plan.brightness !== null) {
    const b = uniform(streamOf(imageSeed, 'brightness'), -plan.brightness, plan.brightness);
    for (let i = at; i < at + per; i++) out[i] += b;
  }

  // 6. Noise.
  if (plan.noise !== null && plan.noise > 0) {
    const rng = streamOf(imageSeed, 'noise');
    const std = plan.noise;
    for (let i = at; i < at + per; i++) out[i] += std * rng.normal();
  }
}

/** All `count` images of `images` through the plan, image n seeded `mixSeed(seed, n)`: a fresh array. */
function runPlan(plan: Plan, images: Float32Array, count: number, seed: number): Float32Array {
  const { C, H, W } = plan;
  const work: Work = {
    field: plan.elastic === null ? null : fieldScratch(H, W, plan.elastic.smoothing.radius),
    image: new Float32Array(plan.padding ? C * H * W : 0),
  };
  const out = new Float32Array(images.length);
  for (let n = 0; n < count; n++) augmentOne(plan, work, images, out, n, mixSeed(seed, n));
  return out;
}

function checkSeed(who: string, what: string, seed: unknown): asserts seed is number {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    fail(who, `${what} must be a safe integer, got ${showValue(seed)}`, `${what} ${showValue(seed)}`, 'a safe integer');
  }
}

/**
 * `images` (count images of `imageShape`, `[C, H, W]`, NCHW) through the
 * transformations of `transforms`, in the order of the file comment, image n
 * drawing from `mixSeed(seed, n)`: a fresh Float32Array of the same size;
 * `images` is not written. The same (images, transforms, seed) always gives
 * the same result. What `augment` does to a batch, with `batch.seed`.
 *
 * ```ts
 * const out = augmentImages(batch.images, [1, 28, 28], { affine: { rotate: 15 }, noise: { std: 0.05 } }, batch.seed);
 * ```
 */
export function augmentImages(images: Float32Array, imageShape: Shape, transforms: AugmentTransforms, seed: number): Float32Array {
  return augmentImagesFor('augmentImages', images, imageShape, transforms, seed);
}

/** `augmentImages` for a caller that names itself in errors (`who`), e.g. a chart of augmentations. */
export function augmentImagesFor(who: string, images: Float32Array, imageShape: Shape, transforms: AugmentTransforms, seed: number): Float32Array {
  const plan = planOf(who, transforms, imageShape, false);
  const count = imageCount(who, images, imageShape);
  checkSeed(who, 'seed', seed);
  return runPlan(plan, images, count, seed);
}

/**
 * Data augmentation as an RxJS operator on batches: each batch's images
 * through random shifts, rotations, zooms and shears (`affine`), elastic
 * distortions (`elastic`), crops with padding (`crop`), mirror images
 * (`flip`), contrast, brightness and Gaussian noise, each only when given
 * and in that fixed order (warp, crop, flip, contrast, brightness, noise;
 * see the file comment). What is drawn for image n of a batch depends only
 * on `batch.seed` and n, so the operator is `train`'s `transform` as it
 * must be: the same batch gives the same augmented batch on every run and
 * backend. Labels, size, epoch, index and seed pass through; the images are
 * a fresh array (the batch's own are not written).
 *
 * The options are checked when `augment` is called; a batch whose images do
 * not hold `size` images of `imageShape` is refused when it comes.
 *
 * ```ts
 * train({ model, data, optimizer, transform: augment({ imageShape: model.inputShape, affine: { rotate: 15, shift: 2, scale: [0.9, 1.1] } }) });
 * ```
 */
export function augment(options: AugmentOptions): MonoTypeOperatorFunction<Batch> {
  const who = 'augment';
  const shape = options !== null && typeof options === 'object' ? options.imageShape : undefined;
  const plan = planOf(who, options, shape, true);
  const imageShape = [plan.C, plan.H, plan.W];
  const check = (batch: Batch): number => {
    if (batch === null || typeof batch !== 'object') {
      fail(who, `expects batches { images, labels, size, seed, ... }, got ${describeValue(batch)}`, describeValue(batch), 'a Batch');
    }
    const count = imageCount(who, batch.images, imageShape);
    if (count !== batch.size) {
      fail(
        who,
        `the batch holds ${count} images of ${shapeToString(imageShape)} (${batch.images.length} values) but its size is ${showValue(batch.size)}; ` +
          `imageShape must be the shape of one image of the batch (${sizeOf(imageShape)} values)`,
        `${batch.images.length} values for size ${showValue(batch.size)}`,
        `size × ${sizeOf(imageShape)} values`,
      );
    }
    checkSeed(who, 'batch.seed', batch.seed);
    return count;
  };
  const workers = options.workers;
  if (workers === undefined) return map((batch: Batch): Batch => ({ ...batch, images: runPlan(plan, batch.images, check(batch), batch.seed) }));
  if (typeof workers !== 'number' || !Number.isInteger(workers) || workers < 1 || workers > MAX_AUGMENT_WORKERS) {
    fail(who, `workers must be an integer from 1 to ${MAX_AUGMENT_WORKERS}, got ${showValue(workers)}`, `workers ${showValue(workers)}`, `an integer from 1 to ${MAX_AUGMENT_WORKERS}`);
  }
  const unavailable = augmentWorkersUnavailable();
  if (unavailable !== null) fail(who, `workers: ${unavailable}`, `workers ${workers}`, 'no workers option here');
  // Only the transformations travel to the workers (structured clone): plain numbers and pairs.
  const transforms: Record<string, unknown> = {};
  for (const key of TRANSFORMS) if ((options as unknown as Record<string, unknown>)[key] !== undefined) transforms[key] = (options as unknown as Record<string, unknown>)[key];
  const pool = new AugmentWorkers(workers, imageShape, transforms as AugmentTransforms);
  return concatMap((batch: Batch) => {
    check(batch);
    return from(pool.run(batch.images, batch.seed)).pipe(map((images): Batch => ({ ...batch, images })));
  });
}
