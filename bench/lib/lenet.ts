/**
 * LeNet-5 as every contestant of the bench runs it, with one set of weights
 * and one batch of data, and the layout conversions between Striate, TF.js
 * and ConvNetJS. Environment-neutral (Node and the browser bundle use it).
 *
 *   conv 6@5x5 valid -> ReLU -> max pool 2/2 -> conv 16@5x5 -> ReLU -> max pool 2/2
 *   -> dense 120 ReLU -> dense 84 ReLU -> dense 10 -> softmax cross-entropy (mean)
 *
 * on 28x28x1 inputs: 44,426 parameters.
 *
 * Layouts:
 * - Striate: NCHW activations, conv filters [O,C,kH,kW], dense weights [in, out];
 *   the flatten before fc1 reads [16,4,4] in (c, h, w) order.
 * - TF.js:   NHWC activations, conv filters HWIO [kH,kW,C,O], dense [in, out];
 *   its flatten reads [4,4,16] in (h, w, c) order, so fc1's rows are permuted.
 * - ConvNetJS: volumes are (x, y, depth) stored ((sx*y)+x)*depth+d, i.e. HWC;
 *   each conv filter is a volume 5x5xC; each dense neuron has one weight per
 *   input in the HWC flatten order (as TF.js).
 */

export const LR = 0.01;
export const CLASSES = 10;

export const PARAM_SHAPES = {
  c1w: [6, 1, 5, 5],
  c1b: [6],
  c2w: [16, 6, 5, 5],
  c2b: [16],
  f1w: [256, 120],
  f1b: [120],
  f2w: [120, 84],
  f2b: [84],
  f3w: [84, 10],
  f3b: [10],
} as const;

export type ParamName = keyof typeof PARAM_SHAPES;
export const PARAM_NAMES = Object.keys(PARAM_SHAPES) as ParamName[];
export type Params = Record<ParamName, Float32Array>;

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, d) => a * d, 1);

/** A small deterministic PRNG (mulberry32), uniform in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** He-uniform weights (fan-in) and small biases, deterministic for a seed. Striate layout. */
export function initParams(seed = 1): Params {
  const r = rng(seed);
  const fanIn: Record<ParamName, number> = { c1w: 25, c1b: 25, c2w: 150, c2b: 150, f1w: 256, f1b: 256, f2w: 120, f2b: 120, f3w: 84, f3b: 84 };
  const out = {} as Params;
  for (const name of PARAM_NAMES) {
    const n = sizeOf(PARAM_SHAPES[name]);
    const isBias = name.endsWith('b');
    const limit = isBias ? 0.05 : Math.sqrt(6 / fanIn[name]);
    out[name] = Float32Array.from({ length: n }, () => (2 * r() - 1) * limit);
  }
  return out;
}

export function cloneParams(p: Params): Params {
  const out = {} as Params;
  for (const name of PARAM_NAMES) out[name] = p[name].slice();
  return out;
}

/** A batch of synthetic 28x28 "digits": smooth blobs, values in [0, 1], labels 0..9. */
export function makeBatch(batch: number, seed = 7): { x: Float32Array; labels: Float32Array } {
  const r = rng(seed);
  const x = new Float32Array(batch * 784);
  const labels = new Float32Array(batch);
  for (let n = 0; n < batch; n++) {
    labels[n] = n % CLASSES;
    const cy = 8 + r() * 12;
    const cx = 8 + r() * 12;
    const s = 3 + r() * 5;
    for (let y = 0; y < 28; y++) {
      for (let xx = 0; xx < 28; xx++) {
        const d2 = (y - cy) ** 2 + (xx - cx) ** 2;
        x[n * 784 + y * 28 + xx] = Math.min(1, Math.exp(-d2 / (2 * s * s)) + 0.1 * r());
      }
    }
  }
  return { x, labels };
}

/** Conv filter [O,C,kH,kW] -> HWIO [kH,kW,C,O]. */
export function oihwToHwio(w: Float32Array, [o, c, kh, kw]: readonly number[]): Float32Array {
  const out = new Float32Array(w.length);
  for (let a = 0; a < o; a++)
    for (let b = 0; b < c; b++)
      for (let p = 0; p < kh; p++) for (let q = 0; q < kw; q++) out[((p * kw + q) * c + b) * o + a] = w[((a * c + b) * kh + p) * kw + q];
  return out;
}

/** HWIO [kH,kW,C,O] -> [O,C,kH,kW]. */
export function hwioToOihw(w: Float32Array, [o, c, kh, kw]: readonly number[]): Float32Array {
  const out = new Float32Array(w.length);
  for (let a = 0; a < o; a++)
    for (let b = 0; b < c; b++)
      for (let p = 0; p < kh; p++) for (let q = 0; q < kw; q++) out[((a * c + b) * kh + p) * kw + q] = w[((p * kw + q) * c + b) * o + a];
  return out;
}

/** Row r of fc1 in Striate's (c,h,w) flatten order -> its row in the (h,w,c) order of TF.js and ConvNetJS. */
export function fc1RowToHwc(r: number): number {
  const c = Math.floor(r / 16);
  const h = Math.floor((r % 16) / 4);
  const w = r % 4;
  return (h * 4 + w) * 16 + c;
}

/** fc1 [256,120] with rows in (c,h,w) order -> rows in (h,w,c) order, and back. */
export function fc1ToHwc(w: Float32Array): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < 256; r++) out.set(w.subarray(r * 120, r * 120 + 120), fc1RowToHwc(r) * 120);
  return out;
}
export function fc1FromHwc(w: Float32Array): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < 256; r++) out.set(w.subarray(fc1RowToHwc(r) * 120, fc1RowToHwc(r) * 120 + 120), r * 120);
  return out;
}

/** Parameters in TF.js layout (conv HWIO, fc1 rows in HWC order). */
export function toTfLayout(p: Params): Params {
  return {
    ...p,
    c1w: oihwToHwio(p.c1w, PARAM_SHAPES.c1w),
    c2w: oihwToHwio(p.c2w, PARAM_SHAPES.c2w),
    f1w: fc1ToHwc(p.f1w),
  };
}
export function fromTfLayout(p: Params): Params {
  return {
    ...p,
    c1w: hwioToOihw(p.c1w, PARAM_SHAPES.c1w),
    c2w: hwioToOihw(p.c2w, PARAM_SHAPES.c2w),
    f1w: fc1FromHwc(p.f1w),
  };
}

/** The TF.js shape of each parameter: conv filters [O, C, kH, kW] become HWIO [kH, kW, C, O]; the rest are the same. */
export const TF_SHAPES = Object.fromEntries(
  Object.entries(PARAM_SHAPES).map(([name, shape]) => [name, shape.length === 4 ? [shape[2], shape[3], shape[1], shape[0]] : [...shape]]),
) as Record<ParamName, number[]>;


export interface Compared {
  readonly name: string;
  /** max |a - b| / max(|b|), over the tensor. */
  readonly relErr: number;
  readonly ok: boolean;
}

/** Compare a tensor with the reference: max abs difference relative to the reference's largest magnitude. */
export function compare(name: string, got: ArrayLike<number>, want: ArrayLike<number>, rtol = 2e-3): Compared {
  if (got.length !== want.length) return { name, relErr: Infinity, ok: false };
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= diff)) diff = Number.isNaN(d) ? Infinity : d;
    scale = Math.max(scale, Math.abs(want[i]));
  }
  const relErr = diff / Math.max(scale, 1e-12);
  return { name, relErr, ok: relErr <= rtol };
}
