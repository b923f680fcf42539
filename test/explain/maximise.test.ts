import { describe, expect, it } from 'vitest';
import { compile } from '../../src/backend/compile.js';
import { grad } from '../../src/autodiff/grad.js';
import { affineMatrix, warpImages, type AffineMatrix } from '../../src/data/augment.js';
import { StriateError } from '../../src/graph/error.js';
import { constant } from '../../src/ops/constant.js';
import { input } from '../../src/ops/input.js';
import { softmaxCrossEntropy } from '../../src/ops/softmaxCrossEntropy.js';
import { mul } from '../../src/ops/mul.js';
import { sigmoid } from '../../src/ops/sigmoid.js';
import { sum } from '../../src/ops/sum.js';
import * as nn from '../../src/nn/index.js';
import { buildModel, defineModel, initParams, type Model } from '../../src/nn/model.js';
import { tensorValue, type Params } from '../../src/nn/params.js';
import { fourierPlanes, gaussianTransfer, spectrumColumns, spectrumScale } from '../../src/explain/fourier.js';
import {
  applyWarp,
  applyWarpTranspose,
  maximise,
  maximiseAll,
  maximiseClasses,
  standardTransforms,
  warpTaps,
  type MaximiseOptions,
} from '../../src/explain/maximise.js';
import { expectGradientsMatch, randomValues } from '../helpers.js';

// ---------------------------------------------------------------------------
// The Fourier parameterisation

/**
 * numpy's `irfft2(S, s=(h, w))` of the scaled half spectrum, divided by 4,
 * written as numpy computes it: a complex inverse DFT along the rows, then
 * the complex-to-real inverse along the columns, which reads the real part
 * of the columns that are their own mirror image (kx = 0 and, for even w, w/2).
 */
function naivePlane(re: ArrayLike<number>, im: ArrayLike<number>, h: number, w: number, decay = 1): Float64Array {
  const cols = spectrumColumns(w);
  const s = spectrumScale(h, w, decay);
  const out = new Float64Array(h * w);
  // Y[n, kx] = (1/h) Σ_ky S[ky, kx] e^{2πi ky n / h}
  const yr = new Float64Array(h * cols);
  const yi = new Float64Array(h * cols);
  for (let n = 0; n < h; n++) {
    for (let kx = 0; kx < cols; kx++) {
      let r = 0;
      let i = 0;
      for (let ky = 0; ky < h; ky++) {
        const a = re[ky * cols + kx] * s[ky * cols + kx];
        const b = im[ky * cols + kx] * s[ky * cols + kx];
        const t = (2 * Math.PI * ky * n) / h;
        r += a * Math.cos(t) - b * Math.sin(t);
        i += a * Math.sin(t) + b * Math.cos(t);
      }
      yr[n * cols + kx] = r / h;
      yi[n * cols + kx] = i / h;
    }
  }
  for (let n = 0; n < h; n++) {
    for (let m = 0; m < w; m++) {
      let v = yr[n * cols]; // Re Y0
      for (let kx = 1; kx < cols; kx++) {
        const t = (2 * Math.PI * kx * m) / w;
        const term = yr[n * cols + kx] * Math.cos(t) - yi[n * cols + kx] * Math.sin(t);
        v += w % 2 === 0 && kx === w / 2 ? term : 2 * term;
      }
      out[n * w + m] = v / w / 4;
    }
  }
  return out;
}

/** The planes fourierPlanes makes of `q` ([2, count, h, cols]), on the reference backend. */
function planesOf(q: Float64Array, count: number, h: number, w: number, decay = 1): Float64Array {
  const t = input('q', [2, count, h, spectrumColumns(w)]);
  const [u] = compile(fourierPlanes(t, h, w, decay)).runSync({ q });
  expect(u.shape).toEqual([count, h, w]);
  return u.data as Float64Array;
}

describe('the Fourier parameterisation', () => {
  it.each([
    [6, 8],
    [5, 7],
    [4, 1],
  ])('is the scaled inverse real DFT of the half spectrum (numpy irfft2 / 4), %i × %i', (h, w) => {
    const cols = spectrumColumns(w);
    const n = h * cols;
    const q = randomValues(2 * 2 * n, 3 + h + w); // two planes
    const u = planesOf(q, 2, h, w);
    for (let c = 0; c < 2; c++) {
      const want = naivePlane(q.subarray(c * n, (c + 1) * n), q.subarray(2 * n + c * n, 2 * n + (c + 1) * n), h, w);
      for (let i = 0; i < h * w; i++) expect(u[c * h * w + i]).toBeCloseTo(want[i], 10);
    }
    // A decay power of 0 scales every coefficient by √(hw) alike.
    const flat = planesOf(q, 2, h, w, 0);
    const want0 = naivePlane(q.subarray(0, n), q.subarray(2 * n, 3 * n), h, w, 0);
    for (let i = 0; i < h * w; i++) expect(flat[i]).toBeCloseTo(want0[i], 10);
  });

  it('makes a cosine of one coefficient, 1/f-scaled; the imaginary parts of self-mirrored coefficients change nothing', () => {
    const h = 4;
    const w = 8;
    const cols = spectrumColumns(w); // 5
    const q = new Float64Array(2 * h * cols);
    q[0 * cols + 1] = 1; // re at (ky 0, kx 1): f = 1/8, s = √32 / (1/8)
    const u = planesOf(q, 1, h, w);
    const s = Math.sqrt(h * w) * 8;
    for (let n = 0; n < h; n++) for (let m = 0; m < w; m++) expect(u[n * w + m]).toBeCloseTo(((2 * s) / (4 * h * w)) * Math.cos((2 * Math.PI * m) / 8), 10);
    const mirrored = new Float64Array(2 * h * cols);
    for (const [ky, kx] of [[0, 0], [0, 4], [2, 0], [2, 4]]) mirrored[h * cols + ky * cols + kx] = 1; // imaginary parts
    expect(Math.max(...planesOf(mirrored, 1, h, w).map(Math.abs))).toBeLessThan(1e-12);
  });

  it("its gradient is the pixel gradient mapped through the basis: ∂⟨u, g⟩/∂q_k = ⟨basis_k, g⟩", () => {
    const h = 5;
    const w = 6;
    const cols = spectrumColumns(w);
    const size = 2 * h * cols;
    const g = randomValues(h * w, 17);
    const q = input('q', [2, 1, h, cols]);
    const gIn = input('g', [1, h, w]);
    const [gq] = compile(grad(sum(mul(fourierPlanes(q, h, w), gIn)), [q])).runSync({ g }); // a linear map: the gradient does not depend on q
    for (let k = 0; k < size; k++) {
      const unit = new Float64Array(size);
      unit[k] = 1;
      const basis = naivePlane(unit.subarray(0, h * cols), unit.subarray(h * cols), h, w);
      const want = basis.reduce((s, v, i) => s + v * g[i], 0);
      expect(gq.data[k]).toBeCloseTo(want, 10);
    }
  });

  it('through a sigmoid, matches central differences (dot-product test, float64)', () => {
    const h = 4;
    const w = 5;
    const cols = spectrumColumns(w);
    const g = constant(randomValues(2 * h * w, 4), [2, h, w]);
    expectGradientsMatch(
      (q) => sum(mul(sigmoid(fourierPlanes(q, h, w)), g)),
      [{ shape: [2, 2, h, cols], data: randomValues(4 * h * cols, 9).map((v) => 3 * v) }],
      { directions: 3, mode: 'reverse' },
    );
  });

  it("blurs by the Gaussian's transfer function: 1 at f = 0, falling with frequency", () => {
    const t = gaussianTransfer(8, 8, 1);
    expect(t[0]).toBe(1);
    expect(t[1]).toBeCloseTo(Math.exp(-2 * Math.PI ** 2 / 64), 12);
    expect(t[4]).toBeLessThan(t[1]);
  });
});

// ---------------------------------------------------------------------------
// The warp

describe('the warp and its transpose', () => {
  const inverse = (m: AffineMatrix): AffineMatrix => {
    const [a, b, c, d, e, f] = m;
    const det = a * e - b * d;
    return [e / det, -b / det, (b * f - c * e) / det, -d / det, a / det, (c * d - a * f) / det];
  };

  it('samples as warpImages does, fill outside', () => {
    const [C, H, W] = [2, 7, 9];
    const image = Float32Array.from(randomValues(C * H * W, 5));
    const forward = affineMatrix({ angle: 17, scale: 1.2, dx: 1.5, dy: -0.7 }, H, W);
    const want = warpImages(image, [C, H, W], { matrix: forward, fill: 0.5 });
    const got = new Float64Array(C * H * W);
    applyWarp(warpTaps(inverse(forward), H, W), C, image, 0, got, 0, 0.5);
    for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(want[i], 5);
  });

  it('its transpose passes the dot-product test ⟨T x, y⟩ = ⟨x, Tᵀ y⟩ (fill 0)', () => {
    const [C, H, W] = [3, 6, 5];
    const taps = warpTaps(inverse(affineMatrix({ angle: -23, scale: 0.8, dx: 2 }, H, W)), H, W);
    const x = randomValues(C * H * W, 1);
    const y = randomValues(C * H * W, 2);
    const tx = new Float64Array(x.length);
    applyWarp(taps, C, x, 0, tx, 0, 0);
    const ty = new Float64Array(x.length);
    applyWarpTranspose(taps, C, y, 0, ty, 0);
    const left = tx.reduce((s, v, i) => s + v * y[i], 0);
    const right = x.reduce((s, v, i) => s + v * ty[i], 0);
    expect(Math.abs(left)).toBeGreaterThan(0.1);
    expect(left).toBeCloseTo(right, 12);
  });

  it("standard transforms scale Lucid's jitters with the image", () => {
    expect(standardTransforms(28, 28)).toEqual([
      { jitter: 1 },
      { scale: [0.9, 0.92, 0.94, 0.96, 0.98, 1, 1.02, 1.04, 1.06, 1.08, 1.1] },
      { rotate: [-10, -9, -8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 0, 0, 0, 0] },
      { jitter: 1 },
    ]);
    const big = standardTransforms(224, 200);
    expect(big[0]).toEqual({ jitter: 7 });
    expect(big[3]).toEqual({ jitter: 4 });
  });
});

// ---------------------------------------------------------------------------
// The ascent

const N = 16;
const K = 5;
/**
 * A hand-set model on [1, 16, 16]: one 5×5 filter (`edge`) that detects
 * vertical edges (columns −1, −1, 0, 1, 1: the horizontal derivative) or,
 * transposed, horizontal ones, then relu (`act`), then a dense layer.
 */
const edges = defineModel('edges', [1, N, N], [nn.conv2d('edge', { filters: 1, size: K }), nn.relu({ name: 'act' }), nn.flatten(), nn.dense('fc', { units: 2 })]);
function edgeParams(vertical: boolean): Params {
  const w = new Float32Array(K * K);
  const c = (K - 1) / 2;
  for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) w[i * K + j] = Math.sign(vertical ? j - c : i - c);
  const o = (N - K + 1) ** 2;
  return {
    'edge.w': tensorValue([1, 1, K, K], w),
    'edge.b': tensorValue([1], new Float32Array(1)),
    'fc.w': tensorValue([o, 2], new Float32Array(o * 2).fill(0.01)),
    'fc.b': tensorValue([2], new Float32Array(2)),
  };
}

/** Mean |x[y, x+1] − x[y, x]| and mean |x[y+1, x] − x[y, x]| of an H × W image. */
function gradients(data: ArrayLike<number>, H: number, W: number): { horizontal: number; vertical: number } {
  let h = 0;
  let v = 0;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (x + 1 < W) h += Math.abs(data[y * W + x + 1] - data[y * W + x]);
      if (y + 1 < H) v += Math.abs(data[(y + 1) * W + x] - data[y * W + x]);
    }
  }
  return { horizontal: h / (H * (W - 1)), vertical: v / ((H - 1) * W) };
}

const mean = (a: ArrayLike<number>, from: number, to: number): number => {
  let s = 0;
  for (let i = from; i < to; i++) s += a[i];
  return s / (to - from);
};

describe('activation maximisation of a vertical-edge filter', () => {
  it.each([
    ['pixels', { parameterisation: 'pixels', steps: 200 }, 10],
    ['Fourier coefficients, blurred every 4 steps', { steps: 200, blur: { every: 4, sigma: 0.5 } }, 3],
  ] as [string, MaximiseOptions, number][])('makes vertical stripes, and a horizontal-edge filter horizontal ones (%s, standard transforms)', async (_name, options, ratio) => {
    const v = await maximise(edges, edgeParams(true), { layer: 'act', channel: 0 }, options);
    const h = await maximise(edges, edgeParams(false), { layer: 'act', channel: 0 }, options);
    expect(v.shape).toEqual([1, N, N]);
    expect(v.label).toBe('act channel 0');
    const gv = gradients(v.data, N, N);
    const gh = gradients(h.data, N, N);
    expect(gv.horizontal).toBeGreaterThan(ratio * gv.vertical);
    expect(gh.vertical).toBeGreaterThan(ratio * gh.horizontal);
    // Stripes, not a flat image: the pixels span most of [0, 1].
    expect(Math.max(...v.data) - Math.min(...v.data)).toBeGreaterThan(0.8);
    for (const r of [v, h]) for (const x of r.data) expect(x >= 0 && x <= 1).toBe(true);
  });

  it('raises the objective: the last steps and the final image well above the start', async () => {
    const r = await maximise(edges, edgeParams(true), { layer: 'act', channel: 0 }, { steps: 60 });
    expect(r.objective).toHaveLength(60);
    expect(r.penalty).toHaveLength(60);
    const start = r.objective[0];
    expect(mean(r.objective, 50, 60)).toBeGreaterThan(start + 1);
    expect(r.value).toBeGreaterThan(start + 1);
    // Without transforms the ascent climbs nearly monotonically (Adam may overshoot a little).
    const plain = await maximise(edges, edgeParams(true), { layer: 'act', channel: 0 }, { steps: 40, transforms: [] });
    expect(mean(plain.objective, 30, 40)).toBeGreaterThan(mean(plain.objective, 10, 20));
    expect(mean(plain.objective, 10, 20)).toBeGreaterThan(mean(plain.objective, 0, 5));
    expect(plain.value).toBeCloseTo(plain.objective[39], 1);
  });

  it('the penalties pull as documented: l2 darkens the image, tv smooths it', async () => {
    const base: MaximiseOptions = { steps: 60, parameterisation: 'pixels', transforms: [] };
    const target = { layer: 'act', channel: 0 } as const;
    const free = await maximise(edges, edgeParams(true), target, base);
    const dark = await maximise(edges, edgeParams(true), target, { ...base, l2: 20 });
    const smooth = await maximise(edges, edgeParams(true), target, { ...base, tv: 20 });
    const meanSquare = (d: Float32Array) => d.reduce((s, v) => s + v * v, 0) / d.length;
    expect(meanSquare(dark.data)).toBeLessThan(0.5 * meanSquare(free.data));
    expect(dark.penalty[59]).toBeGreaterThan(0);
    expect(free.penalty[59]).toBe(0);
    const g = (d: Float32Array) => gradients(d, N, N).horizontal + gradients(d, N, N).vertical;
    expect(g(smooth.data)).toBeLessThan(0.5 * g(free.data));
  });
});

describe('determinism', () => {
  const target = { layer: 'act', channel: 0 } as const;
  it('the same seed gives the same image and ascent; another seed another', async () => {
    const options: MaximiseOptions = { steps: 20, seed: 5 };
    const a = await maximise(edges, edgeParams(true), target, options);
    const b = await maximise(edges, edgeParams(true), target, options);
    expect(b.data).toEqual(a.data);
    expect(b.objective).toEqual(a.objective);
    const c = await maximise(edges, edgeParams(true), target, { ...options, seed: 6 });
    expect(c.data).not.toEqual(a.data);
  });

  it("a unit's image does not depend on the units beside it in its batch", async () => {
    const options: MaximiseOptions = { steps: 15, seed: 2, parameterisation: 'pixels', blur: { every: 5, sigma: 0.7 } };
    // Three units of one layer run as one batch of 3 (and, with batchSize 1, as three batches of 1).
    const units = [target, { layer: 'act', neuron: [0, 3, 4] }, { layer: 'act', neuron: 17 }] as const;
    const together = await maximiseAll(edges, edgeParams(true), units, options);
    const alone = await maximise(edges, edgeParams(true), target, options);
    const split = await maximiseAll(edges, edgeParams(true), units, { ...options, batchSize: 1 });
    expect(together[0].data).toEqual(alone.data);
    for (const j of [1, 2]) expect(split[j].data).toEqual(together[j].data);
    expect(together[1].data).not.toEqual(together[2].data);
    expect(together.map((r) => r.label)).toEqual(['act channel 0', 'act neuron [0,3,4]', 'act neuron 17']);
  });
});

describe('on a device backend', () => {
  it('webasm follows the float64 reference within float32 rounding (Fourier, transforms, blur)', async () => {
    const options: MaximiseOptions = { steps: 6, seed: 3, blur: { every: 3, sigma: 0.6 }, l2: 0.1, tv: 0.1 };
    const target = { layer: 'act', channel: 0 } as const;
    const ref = await maximise(edges, edgeParams(true), target, options);
    const wasm = await maximise(edges, edgeParams(true), target, { ...options, backend: 'webasm' });
    for (let i = 0; i < ref.data.length; i++) expect(Math.abs(wasm.data[i] - ref.data[i])).toBeLessThan(1e-3);
    for (let s = 0; s < 6; s++) expect(wasm.objective[s]).toBeCloseTo(ref.objective[s], 3);
    expect(wasm.value).toBeCloseTo(ref.value, 3);
  });
});

// ---------------------------------------------------------------------------
// Classes

/** A tiny conv net on [1, 8, 8] with 3 classes. */
const tiny = defineModel('tiny', [1, 8, 8], [nn.conv2d('c1', { filters: 4, size: 3 }), nn.relu(), nn.flatten(), nn.dense('fc', { units: 3 })]);

/**
 * `tiny`, trained a little (120 steps of full-batch gradient descent on the
 * reference backend) to tell a horizontal bar (class 0), a vertical bar (1)
 * and a 3×3 square (2) apart, each at a random place on faint noise.
 */
const tinyParams: Params = (() => {
  const count = 60;
  const images = new Float64Array(count * 64);
  const labels = new Float64Array(count);
  const noise = randomValues(count * 64, 8);
  const place = randomValues(count * 2, 9);
  for (let n = 0; n < count; n++) {
    const c = n % 3;
    labels[n] = c;
    const y0 = Math.floor(((place[2 * n] + 1) / 2) * 5.99);
    const x0 = Math.floor(((place[2 * n + 1] + 1) / 2) * 5.99);
    for (let i = 0; i < 64; i++) images[n * 64 + i] = 0.1 * Math.abs(noise[n * 64 + i]);
    for (let k = 0; k < 3; k++) {
      if (c === 0) for (let j = 0; j < 3; j++) images[n * 64 + (y0 + 1) * 8 + x0 + j] = 1;
      if (c === 1) for (let j = 0; j < 3; j++) images[n * 64 + (y0 + j) * 8 + x0 + 1] = 1;
      if (c === 2) for (let j = 0; j < 3; j++) images[n * 64 + (y0 + k) * 8 + x0 + j] = 1;
    }
  }
  const built = buildModel(tiny, { batchSize: count });
  const y = input('labels', [count]);
  const grads = grad(softmaxCrossEntropy(built.output, y), [...built.paramTensors]);
  const fn = compile(grads);
  const values = built.params.map((p) => Float64Array.from(initParams(tiny, 3)[p.name].data));
  for (let step = 0; step < 120; step++) {
    const feeds: Record<string, ArrayLike<number>> = { x: images, labels };
    built.params.forEach((p, i) => (feeds[p.name] = values[i]));
    const g = fn.runSync(feeds);
    values.forEach((v, i) => v.forEach((_, j) => (v[j] -= 0.5 * g[i].data[j])));
  }
  return Object.fromEntries(built.params.map((p, i) => [p.name, tensorValue([...p.shape], Float32Array.from(values[i]))]));
})();

/** Softmax probabilities of one image, float64 on the reference backend. */
function probabilities(model: Model, params: Params, x: ArrayLike<number>): number[] {
  const built = buildModel(model);
  const feeds: Record<string, ArrayLike<number>> = { x };
  for (const p of built.params) feeds[p.name] = params[p.name].data;
  const [z] = compile(built.output).runSync(feeds);
  const top = Math.max(...z.data);
  const e = [...z.data].map((v) => Math.exp(v - top));
  const total = e.reduce((s, v) => s + v, 0);
  return e.map((v) => v / total);
}

describe('class logits', () => {
  it("maximiseClasses raises each class's logit, and with it its probability, from a grey start", async () => {
    const results = await maximiseClasses(tiny, tinyParams, { steps: 80 });
    expect(results.map((r) => r.label)).toEqual(['class 0', 'class 1', 'class 2']);
    const grey = probabilities(tiny, tinyParams, new Float32Array(64).fill(0.5));
    results.forEach((r, c) => {
      expect(r.target).toEqual({ class: c });
      const p = probabilities(tiny, tinyParams, r.data);
      // A logit, not a probability, is maximised: another class's logit may rise with it (a square holds
      // bars), so the class need not win, but its probability rises by orders of magnitude.
      // (Grey already reads as a square: class 2 can only stay near certain.)
      expect(p[c]).toBeGreaterThan(Math.min(1000 * grey[c], 0.99));
      expect(p[c]).toBeGreaterThan(0.01);
      expect(r.value).toBeGreaterThan(r.objective[0] + 5);
    });
  });

  it('works on three channels with the colour decorrelation, and with clipped pixels inside the range', async () => {
    const rgb = defineModel('rgb', [3, 6, 6], [nn.conv2d('c', { filters: 2, size: 3 }), nn.relu(), nn.flatten(), nn.dense('fc', { units: 2 })]);
    const params = initParams(rgb, 1);
    const r = await maximise(rgb, params, { class: 1 }, { steps: 30, range: [-1, 1] });
    expect(r.shape).toEqual([3, 6, 6]);
    for (const x of r.data) expect(x > -1 && x < 1).toBe(true);
    expect(r.value).toBeGreaterThan(r.objective[0]);
    const clipped = await maximise(rgb, params, { class: 0 }, { steps: 30, parameterisation: 'pixels', squash: 'clip', decorrelate: false, learningRate: 0.2 });
    for (const x of clipped.data) expect(x >= 0 && x <= 1).toBe(true);
    expect(clipped.data.filter((x) => x === 0 || x === 1).length).toBeGreaterThan(10); // pushed against the bounds
    expect(clipped.value).toBeGreaterThan(clipped.objective[0]);
  });
});

// ---------------------------------------------------------------------------
// Errors

describe('options and targets are checked', () => {
  const p = edgeParams(true);
  const target = { layer: 'act', channel: 0 } as const;
  const refused = async (options: unknown, message: RegExp, t: unknown = target) => {
    const e = await maximise(edges, p, t as never, options as MaximiseOptions).then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(StriateError);
    expect((e as StriateError).op).toBe('maximise');
    expect((e as Error).message).toMatch(message);
  };

  it.each([
    [{ stpes: 10 }, /unknown option "stpes"/],
    [{ steps: 0 }, /steps must be a positive integer/],
    [{ steps: 2.5 }, /steps must be a positive integer/],
    [{ learningRate: -1 }, /learningRate must be a finite number > 0/],
    [{ l2: -0.1 }, /l2 must be a finite number ≥ 0/],
    [{ tv: Number.NaN }, /tv must be a finite number ≥ 0/],
    [{ parameterisation: 'wavelets' }, /parameterisation must be 'fourier' or 'pixels'/],
    [{ parameterisation: 'pixels', decayPower: 2 }, /decayPower scales Fourier coefficients/],
    [{ decayPower: -1 }, /decayPower must be a finite number ≥ 0/],
    [{ decorrelate: true }, /decorrelate mixes the three colour channels, but the model reads 1/],
    [{ range: [1, 0] }, /range must be \[lo, hi\]/],
    [{ squash: 'clip' }, /squash 'clip' projects the pixels/],
    [{ squash: 'tanh' }, /squash must be 'sigmoid' or 'clip'/],
    [{ transforms: 'lucid' }, /transforms must be 'standard' or a list/],
    [{ transforms: [{ jitter: -1 }] }, /transforms\[0\]\.jitter must be a whole number of pixels ≥ 0/],
    [{ transforms: [{ jitter: 1 }, { scale: [] }] }, /transforms\[1\]\.scale must be a non-empty array of zoom factors > 0/],
    [{ transforms: [{ scale: [0.9, 0] }] }, /zoom factors > 0/],
    [{ transforms: [{ rotate: [5], jitter: 1 }] }, /transforms\[0\] must be one of/],
    [{ transforms: [{ shear: 3 }] }, /transforms\[0\] must be one of/],
    [{ fill: Infinity }, /fill must be a finite number/],
    [{ blur: { every: 0, sigma: 1 } }, /blur\.every must be a positive integer/],
    [{ blur: { every: 2, sigma: 0 } }, /blur\.sigma must be a number of pixels > 0/],
    [{ blur: { every: 2, sigma: 1, size: 3 } }, /unknown option "size"/],
    [{ blur: 3 }, /blur must be an object/],
    [{ seed: 1.5 }, /seed must be a safe integer/],
    [{ initScale: -1 }, /initScale must be a finite number ≥ 0/],
    [{ batchSize: 0 }, /batchSize must be a positive integer/],
  ])('refuses %j', async (options, message) => refused(options, message));

  it.each([
    [{ class: 2 }, /class must be an integer in \[0, 1\] \(model "edges" has 2 classes\)/],
    [{ class: 0, layer: 'act' }, /unknown option "layer"/],
    [{ layer: 'act', channel: 1 }, /channel must be an integer in \[0, 0\]/],
    [{ layer: 'fc', channel: 0 }, /layer "fc" gives \[1,2\], which has no channels/],
    [{ layer: 'nope', channel: 0 }, /no layer named "nope"/],
    [{ layer: 'act', neuron: 144 }, /neuron must be an integer in \[0, 143\]/],
    [{ layer: 'act', neuron: [0, 12] }, /has 2 coordinates but layer "act" gives \[1,12,12\]/],
    [{ layer: 'act', neuron: [0, 12, 0] }, /neuron\[1\] must be an integer in \[0, 11\]/],
    [{ layer: 'act' }, /must be a unit such as/],
    ['conv1', /must be a unit such as/],
  ])('refuses the target %j', async (t, message) => refused({}, message, t));

  it('refuses a model without an image input and a bad targets list', async () => {
    const flat = defineModel('flat', [4], [nn.dense('fc', { units: 2 })]);
    await expect(maximise(flat, initParams(flat, 1), { class: 0 })).rejects.toThrow(/reads \[4\], not an image/);
    await expect(maximiseAll(edges, p, [])).rejects.toThrow(StriateError);
    const wrong = { ...p, 'edge.w': tensorValue([1, 1, 3, 3], new Float32Array(9)) };
    await expect(maximise(edges, wrong, target)).rejects.toThrow(StriateError);
  });
});
