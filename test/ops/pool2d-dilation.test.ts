/**
 * Dilated pooling and ceil rounding of the output size (maxPool2d and
 * avgPool2d, PyTorch's MaxPool2d(dilation, ceil_mode) and
 * AvgPool2d(ceil_mode, count_include_pad)), and everything they lower to:
 * maxPool2dBackward, maxPool2dSelect, avgPool2dBackward, the fused
 * conv2dMaxPool and the wasm backends' tuned kernels.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { add, compile, conv2d, defineModel, grad, initParams, input, modelFromJson, modelToJson, mul, nn, predict, relu, sum, summary } from '../../src/index.js';
import type { Shape, Tensor } from '../../src/index.js';
import type { Pool2dAttrs } from '../../src/ops/attrs.js';
import { wasmRewrites } from '../../src/backend/gpujs/wasm/rewrites.js';
import { fuseForDevice } from '../../src/backend/fuse.js';
import { avgPool2d } from '../../src/ops/avgPool2d.js';
import { avgPool2dBackward } from '../../src/ops/avgPool2dBackward.js';
import { conv2dMaxPool } from '../../src/ops/conv2dMaxPool.js';
import { maxPool2d } from '../../src/ops/maxPool2d.js';
import { maxPool2dBackward } from '../../src/ops/maxPool2dBackward.js';
import { maxPool2dSelect } from '../../src/ops/maxPool2dSelect.js';
import { pool2dAttrs, type Pool2dOptions } from '../../src/ops/pool2dGeometry.js';
import { distinctValues, expectGradientsMatch, propertyRuns, randomValues, striateError } from '../helpers.js';

const size = (s: Shape): number => s.reduce((a, b) => a * b, 1);
const range = (n: number, from = 1): number[] => Array.from({ length: n }, (_, i) => i + from);

/** Run a graph of one output on the reference backend, feeding only the inputs it reads. */
async function run(y: Tensor, feeds: Record<string, ArrayLike<number>>): Promise<number[]> {
  const f = compile(y);
  const [r] = await f.run(Object.fromEntries(f.inputs.map(({ name }) => [name, feeds[name]])));
  expect(r.shape).toEqual([...y.shape]);
  return Array.from(r.data);
}

const close = (got: readonly number[], want: readonly number[], digits = 14): void => {
  expect(got).toHaveLength(want.length);
  got.forEach((v, i) => expect(v).toBeCloseTo(want[i], digits));
};

/**
 * PyTorch's output size along one axis (aten pooling_output_shape_pad_lr),
 * transcribed independently of src/: floor or ceil of
 * (in + before + after - d*(k-1) - 1) / s, plus 1, and in ceil mode one less
 * when the last window would start at or past in + before.
 */
function torchOutSize(inSize: number, before: number, after: number, k: number, s: number, d: number, ceil: boolean): number {
  let out = Math.floor((inSize + before + after - d * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (out - 1) * s >= inSize + before) out--;
  return out;
}

describe('dilated and ceil-rounded pooling: hand goldens', () => {
  // x[i][j] = 5i + j + 1 on a 5x5 map
  const x25 = range(25);

  it('pools 2x2 windows with dilation 2 at stride 1 on a 5x5 map: taps (oy, ox), (oy, ox+2), (oy+2, ox), (oy+2, ox+2)', async () => {
    const x = input('x', [1, 1, 5, 5]);
    const p = maxPool2d(x, { size: 2, stride: 1, dilation: 2 });
    expect(p.shape).toEqual([1, 1, 3, 3]); // floor((5 - 3) / 1) + 1
    expect(p.attrs.dilation).toEqual([2, 2]);
    expect(await run(p, { x: x25 })).toEqual([13, 14, 15, 18, 19, 20, 23, 24, 25]);
    // each mean is x[oy][ox] + (0 + 2 + 10 + 12) / 4
    close(await run(avgPool2d(x, { size: 2, stride: 1, dilation: 2 }), { x: x25 }), [7, 8, 9, 12, 13, 14, 17, 18, 19]);
    // the gradient of each window goes to its tap (oy+2, ox+2)
    const c = input('c', [1, 1, 3, 3]);
    const [g] = grad(sum(mul(p, c)), [x]);
    const want = new Array(25).fill(0);
    for (let oy = 0; oy < 3; oy++) for (let ox = 0; ox < 3; ox++) want[(oy + 2) * 5 + ox + 2] = 10 + oy * 3 + ox;
    expect(await run(g, { x: x25, c: range(9, 10) })).toEqual(want);
    // a mean's gradient reaches only the taps: row (column) i is a tap of windows i and i - 2
    const cover = [1, 1, 2, 1, 1];
    const [ga] = grad(sum(avgPool2d(x, { size: 2, stride: 1, dilation: 2 })), [x]);
    close(await run(ga, { x: x25 }), x25.map((_, k) => (cover[Math.floor(k / 5)] * cover[k % 5]) / 4));
  });

  it('does not see a cell between the taps: only the window with a tap on it does', async () => {
    const x = input('x', [1, 1, 5, 5]);
    const xv = new Array(25).fill(-1);
    xv[6] = 100; // (1, 1): a tap of window (1, 1) only; the centre (not a tap) of window (0, 0)
    expect(await run(maxPool2d(x, { size: 2, stride: 1, dilation: 2 }), { x: xv })).toEqual([-1, -1, -1, -1, 100, -1, -1, -1, -1]);
    // undilated 3x3 windows (the same span) see it from four windows
    expect(await run(maxPool2d(x, { size: 3, stride: 1 }), { x: xv })).toEqual([100, 100, -1, 100, 100, -1, -1, -1, -1]);
  });

  it('rounds up with ceil: 2x2/2 on 5x5 gives 3x3, the last windows partial, their means over the cells inside', async () => {
    const x = input('x', [1, 1, 5, 5]);
    expect(maxPool2d(x, { size: 2 }).shape).toEqual([1, 1, 2, 2]);
    const p = maxPool2d(x, { size: 2, ceil: true });
    expect(p.shape).toEqual([1, 1, 3, 3]);
    expect(p.attrs.ceilPads).toEqual([1, 1]);
    expect(await run(p, { x: x25 })).toEqual([7, 9, 10, 17, 19, 20, 22, 24, 25]);
    const means = [4, 6, 7.5, 14, 16, 17.5, 21.5, 23.5, 25];
    close(await run(avgPool2d(x, { size: 2, ceil: true }), { x: x25 }), means);
    // no padding: countIncludePad changes nothing, the ceil cells are never counted (PyTorch)
    close(await run(avgPool2d(x, { size: 2, ceil: true, countIncludePad: true }), { x: x25 }), means);
    // gradients: max to each window's bottom-right cell inside; mean 1/4, 1/2 or 1 by the window's cells inside
    const [g] = grad(sum(p), [x]);
    const want = new Array(25).fill(0);
    for (const i of [1, 3, 4]) for (const j of [1, 3, 4]) want[i * 5 + j] = 1;
    expect(await run(g, { x: x25 })).toEqual(want);
    const [ga] = grad(sum(avgPool2d(x, { size: 2, ceil: true, countIncludePad: true })), [x]);
    const f = (i: number) => (i < 4 ? 0.5 : 1);
    close(await run(ga, { x: x25 }), x25.map((_, k) => f(Math.floor(k / 5)) * f(k % 5)));
  });

  it('counts the user padding with countIncludePad but never the ceil rows (3x3/2, padding 1, ceil, on 4x4 ones)', async () => {
    const x = input('x', [1, 1, 4, 4]);
    const ones = new Array(16).fill(1);
    const opts: Pool2dOptions = { size: 3, stride: 2, padding: 1, ceil: true };
    const p = avgPool2d(x, { ...opts, countIncludePad: true });
    // floor((4 + 2 - 3) / 2) + 1 = 2; ceil gives 3, the last window on rows 3 (input), 4 (padding), 5 (ceil)
    expect(p.shape).toEqual([1, 1, 3, 3]);
    expect(p.attrs.ceilPads).toEqual([1, 1]);
    // rows inside / rows counted per window: 2/3, 3/3, 1/2 (PyTorch: hend = min(hstart + k, H + pad))
    const r = [2 / 3, 1, 1 / 2];
    close(await run(p, { x: ones }), r.flatMap((a) => r.map((b) => a * b)));
    close(await run(avgPool2d(x, opts), { x: ones }), ones.slice(0, 9));
  });

  it('rounds up with dilation: 2x2/2 dilated by 2 on 6x6, the last windows reading one tap row and column', async () => {
    const x = input('x', [1, 1, 6, 6]);
    const xv = range(36); // x[i][j] = 6i + j + 1
    const p = maxPool2d(x, { size: 2, dilation: 2, ceil: true });
    expect(maxPool2d(x, { size: 2, dilation: 2 }).shape).toEqual([1, 1, 2, 2]);
    expect(p.shape).toEqual([1, 1, 3, 3]);
    expect(await run(p, { x: xv })).toEqual([15, 17, 17, 27, 29, 29, 27, 29, 29]);
    // tap rows inside: {0, 2}, {2, 4}, {4}: means 1, 3, 4
    close(await run(avgPool2d(x, { size: 2, dilation: 2, ceil: true, countIncludePad: true }), { x: xv }), [8, 10, 11, 20, 22, 23, 26, 28, 29]);
  });

  it("drops a last window that would start in the padding past the input (PyTorch's rule)", () => {
    const x = input('x', [1, 1, 5, 5]);
    // (5 + 2 - 2) / 2 = 2.5: ceil would give 4 windows, the 4th starting at row 5 = H; dropped, so 3 as floor
    const p = maxPool2d(x, { size: 2, padding: 1, ceil: true });
    expect(p.shape).toEqual([1, 1, 3, 3]);
    expect(p.attrs.ceilPads).toBeUndefined();
    expect(torchOutSize(5, 1, 1, 2, 2, 1, true)).toBe(3);
  });

  it('leaves the attributes of an undilated, floor-rounded pooling as they were', () => {
    const x = input('x', [1, 1, 6, 6]);
    expect(maxPool2d(x, { size: 2, dilation: 1, ceil: false }).attrs).toEqual({ size: [2, 2], stride: [2, 2], pads: [0, 0, 0, 0] });
    expect(maxPool2d(x, { size: 2, ceil: true }).attrs).toEqual({ size: [2, 2], stride: [2, 2], pads: [0, 0, 0, 0] }); // 6 / 2: ceil = floor
    expect(avgPool2d(x, { size: 3, dilation: [2, 1] }).attrs).toEqual({ size: [3, 3], stride: [3, 3], pads: [0, 0, 0, 0], dilation: [2, 1], countIncludePad: false });
  });
});

// ---------------------------------------------------------------------------
// Random configurations: spatial 1-9, windows 1-3, dilations 1-3, strides 1-3,
// any padding below the dilated window or 'same', floor or ceil rounding.

interface Case {
  shape: [number, number, number, number];
  options: Pool2dOptions;
  countIncludePad: boolean;
  seed: number;
}

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }),
    c: fc.integer({ min: 1, max: 2 }),
    h: fc.integer({ min: 1, max: 9 }),
    w: fc.integer({ min: 1, max: 9 }),
    kh: fc.integer({ min: 1, max: 3 }),
    kw: fc.integer({ min: 1, max: 3 }),
    dh: fc.integer({ min: 1, max: 3 }),
    dw: fc.integer({ min: 1, max: 3 }),
    stride: fc.option(fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })), { freq: 4 }),
    same: fc.boolean(),
    p: fc.array(fc.nat(8), { minLength: 4, maxLength: 4 }),
    ceil: fc.boolean(),
    countIncludePad: fc.boolean(),
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  })
  .map(({ n, c, h, w, kh, kw, dh, dw, stride, same, p, ceil, countIncludePad, seed }) => {
    const [eh, ew] = [dh * (kh - 1) + 1, dw * (kw - 1) + 1];
    const pads = same ? [0, 0, 0, 0] : [p[0] % eh, p[1] % eh, p[2] % ew, p[3] % ew];
    const options: Pool2dOptions = { size: [kh, kw], dilation: [dh, dw], ceil, padding: same ? 'same' : [pads[0], pads[1], pads[2], pads[3]] };
    if (stride !== null) options.stride = stride;
    // the dilated window must fit the padded input ('same' always fits)
    const hh = Math.max(h, eh - pads[0] - pads[1]);
    const ww = Math.max(w, ew - pads[2] - pads[3]);
    return { shape: [n, c, hh, ww] as [number, number, number, number], options, countIncludePad, seed };
  });

/**
 * An independent oracle, PyTorch's loops written out: every tap of every
 * window, padded ones included; the max skips padding, the mean divides by
 * the taps inside the input, or with countIncludePad by the taps below
 * H + bottom and W + right (hend = min(hstart + k, H + pad) in aten's avg
 * pooling, written for taps), never the ceil rows. `empty` counts windows
 * without an input tap.
 */
function oracle(x: ArrayLike<number>, shape: Shape, a: Pool2dAttrs, ceil: boolean, countIncludePad: boolean) {
  const [n, c, h, w] = shape;
  const [[kh, kw], [sh, sw], [pt, pb, pl, pr]] = [a.size, a.stride, a.pads];
  const [dh, dw] = a.dilation ?? [1, 1];
  const ho = torchOutSize(h, pt, pb, kh, sh, dh, ceil);
  const wo = torchOutSize(w, pl, pr, kw, sw, dw, ceil);
  const max: number[] = [];
  const mean: number[] = [];
  const argmax: number[] = [];
  let empty = 0;
  for (let plane = 0; plane < n * c; plane++)
    for (let oy = 0; oy < ho; oy++)
      for (let ox = 0; ox < wo; ox++) {
        let [best, at, total, inside, padded] = [-Infinity, -1, 0, 0, 0];
        for (let ty = 0; ty < kh; ty++)
          for (let tx = 0; tx < kw; tx++) {
            const [i, j] = [oy * sh - pt + ty * dh, ox * sw - pl + tx * dw];
            if (i < h + pb && j < w + pr) padded++;
            if (i < 0 || i >= h || j < 0 || j >= w) continue;
            const k = plane * h * w + i * w + j;
            if (x[k] > best) [best, at] = [x[k], k];
            total += x[k];
            inside++;
          }
        if (inside === 0) empty++;
        max.push(best);
        argmax.push(at);
        mean.push(total / (countIncludePad ? padded : inside));
      }
  return { outShape: [n, c, ho, wo], max, mean, argmax, empty };
}

/** The builder's attributes for a case, or null where it refuses the geometry. */
function tryAttrs(k: Case): Pool2dAttrs | null {
  try {
    return maxPool2d(input('probe', k.shape), k.options).attrs;
  } catch {
    return null;
  }
}

const accepted = caseArb.filter((k) => tryAttrs(k) !== null);
const runs = { numRuns: propertyRuns };

describe('dilated and ceil-rounded pooling on random configurations', () => {
  it("refuses a geometry exactly when some window would read only padding, and gives PyTorch's output size", () => {
    fc.assert(
      fc.property(caseArb, (k) => {
        const a = tryAttrs(k);
        // the attributes 'same' resolves to, or the case's own pads, dilation and stride
        const probe = a ?? pool2dAttrs('probe', input('probe', k.shape), { ...k.options, ceil: false });
        const want = oracle(new Array(size(k.shape)).fill(0), k.shape, probe, k.options.ceil ?? false, false);
        expect(a === null).toBe(want.empty > 0);
        if (a === null) {
          expect(() => maxPool2d(input('x', k.shape), k.options)).toThrow(/reads only padding/);
          return;
        }
        expect(maxPool2d(input('x', k.shape), k.options).shape).toEqual(want.outShape);
        if (k.options.padding === 'same') {
          // ceil changes nothing with 'same': out = ceil(in / stride) either way
          const [sh, sw] = a.stride;
          expect(want.outShape.slice(2)).toEqual([Math.ceil(k.shape[2] / sh), Math.ceil(k.shape[3] / sw)]);
          expect(a.ceilPads).toBeUndefined();
        }
      }),
      runs,
    );
  });

  it('match the oracle forward and backward on the reference, and ties (small integers) go to the first maximum', async () => {
    await fc.assert(
      fc.asyncProperty(accepted, async (k) => {
        const a = tryAttrs(k)!;
        const xv = randomValues(size(k.shape), k.seed).map((v) => Math.round(v * 3));
        const want = oracle(xv, k.shape, a, k.options.ceil ?? false, k.countIncludePad);
        const x = input('x', k.shape);
        const dy = input('dy', want.outShape);
        const dyv = randomValues(size(want.outShape), k.seed + 1);
        const attrs = { ...a, countIncludePad: k.countIncludePad, inputShape: k.shape };
        const f = compile([
          maxPool2d(x, k.options),
          avgPool2d(x, { ...k.options, countIncludePad: k.countIncludePad }),
          maxPool2dBackward(x, dy, a),
          maxPool2dSelect(x, x, a),
          avgPool2dBackward(dy, attrs),
        ]);
        const [mx, mean, dx, sel, dxMean] = await f.run({ x: xv, dy: dyv });
        expect(Array.from(mx.data)).toEqual(want.max);
        mean.data.forEach((v, i) => expect(v).toBeCloseTo(want.mean[i], 12));
        const scattered = new Array(size(k.shape)).fill(0);
        want.argmax.forEach((at, o) => (scattered[at] += dyv[o]));
        dx.data.forEach((v, i) => expect(v).toBeCloseTo(scattered[i], 12));
        expect(Array.from(sel.data)).toEqual(want.max);
        // the mean's gradient: dy / count scattered to every tap inside the input
        const spread = new Array(size(k.shape)).fill(0);
        for (let at = 0; at < size(k.shape); at++) {
          const e = new Array(size(k.shape)).fill(0);
          e[at] = 1;
          // column at of A: the mean of the one-hot map e
          const col = oracle(e, k.shape, a, k.options.ceil ?? false, k.countIncludePad).mean;
          spread[at] = col.reduce((s, v, o) => s + v * dyv[o], 0);
        }
        dxMean.data.forEach((v, i) => expect(v).toBeCloseTo(spread[i], 12));
      }),
      { numRuns: Math.ceil(propertyRuns / 2) },
    );
  });

  const gradientCases: [string, (k: Case) => void][] = [
    ['maxPool2d wrt x', (k) => expectGradientsMatch((x) => maxPool2d(x, k.options), [{ shape: k.shape, data: distinctValues(size(k.shape), k.seed) }])],
    [
      'avgPool2d wrt x',
      (k) =>
        expectGradientsMatch((x) => avgPool2d(x, { ...k.options, countIncludePad: k.countIncludePad }), [
          { shape: k.shape, data: randomValues(size(k.shape), k.seed) },
        ]),
    ],
    [
      'maxPool2dBackward wrt x and dy',
      (k) => {
        const a = tryAttrs(k)!;
        const dyShape = maxPool2d(input('probe', k.shape), k.options).shape;
        expectGradientsMatch((x, dy) => maxPool2dBackward(x, dy, a), [
          { shape: k.shape, data: distinctValues(size(k.shape), k.seed) },
          { shape: dyShape, data: randomValues(size(dyShape), k.seed + 1) },
        ]);
      },
    ],
    [
      'maxPool2dSelect wrt x and dx',
      (k) => {
        const a = tryAttrs(k)!;
        expectGradientsMatch((x, dx) => maxPool2dSelect(x, dx, a), [
          { shape: k.shape, data: distinctValues(size(k.shape), k.seed) },
          { shape: k.shape, data: randomValues(size(k.shape), k.seed + 1) },
        ]);
      },
    ],
    [
      'avgPool2dBackward wrt dy',
      (k) => {
        const attrs = { ...tryAttrs(k)!, countIncludePad: k.countIncludePad, inputShape: k.shape };
        const dyShape = maxPool2d(input('probe', k.shape), k.options).shape;
        expectGradientsMatch((dy) => avgPool2dBackward(dy, attrs), [{ shape: dyShape, data: randomValues(size(dyShape), k.seed) }]);
      },
    ],
    [
      'second order: through the max-pool gradient and the mean-pool gradient',
      (k) => {
        const yShape = maxPool2d(input('probe', k.shape), k.options).shape;
        const xv = { shape: k.shape, data: distinctValues(size(k.shape), k.seed) };
        const cv = { shape: yShape, data: randomValues(size(yShape), k.seed + 1) };
        expectGradientsMatch((x, c) => grad(sum(mul(maxPool2d(x, k.options), c)), [x])[0], [xv, cv]);
        const opts = { ...k.options, countIncludePad: k.countIncludePad };
        expectGradientsMatch((x, c) => grad(sum(mul(avgPool2d(x, opts), c)), [x])[0], [xv, cv]);
      },
    ],
  ];

  // checkGradients compares the VJP and the JVP with central differences and with each other.
  it.each(gradientCases)('%s: gradients (VJP and JVP) match central differences', (_name, check) => {
    fc.assert(fc.property(accepted, check), { numRuns: Math.ceil(propertyRuns / 2) });
  });
});

// ---------------------------------------------------------------------------
// Devices: cpu and webasm (tuned kernels where they apply, the portable ones
// elsewhere) against the float64 reference, forward and backward.

const deviceConfigs: [string, Shape, Pool2dOptions, boolean][] = [
  ['2x2/1 dilated 2, windows inside (the tuned wasm kernels)', [2, 3, 9, 8], { size: 2, stride: 1, dilation: 2 }, false],
  ['2x2/2 dilated 2, strided like tiles but not tiling', [1, 2, 9, 9], { size: 2, dilation: 2 }, true],
  // Undilated, the windows would end inside the input; dilated by 3, the last ones reach the bottom and right padding.
  ['2x2/1 dilated 3, padding [0, 1, 0, 1]', [1, 2, 6, 7], { size: 2, stride: 1, dilation: 3, padding: [0, 1, 0, 1] }, false],
  ['3x3/2 dilated [2, 1], padding 1, ceil', [2, 2, 8, 9], { size: 3, stride: 2, dilation: [2, 1], padding: 1, ceil: true }, true],
  ['2x2/2 ceil on 7x9 (partial last windows)', [1, 3, 7, 9], { size: 2, ceil: true }, false],
  ['[2,3]/[2,1] dilated [3,2], pads [1,0,2,1], ceil', [1, 2, 8, 7], { size: [2, 3], stride: [2, 1], dilation: [3, 2], padding: [1, 0, 2, 1], ceil: true }, true],
  ["3x3/2 dilated 2, 'same', ceil", [1, 2, 7, 6], { size: 3, stride: 2, dilation: 2, padding: 'same', ceil: true }, false],
];

/** A graph running every pooling op of a configuration: forward, both gradients, the selection and a second-order gradient. */
function poolingGraph(shape: Shape, options: Pool2dOptions, countIncludePad: boolean): Tensor[] {
  const x = input('x', shape);
  const mp = maxPool2d(x, options);
  const ap = avgPool2d(x, { ...options, countIncludePad });
  const c = input('c', mp.shape);
  const dx = input('dx', shape);
  const [gx] = grad(add(sum(mul(mp, c)), sum(mul(ap, c))), [x]);
  const [gxMax] = grad(sum(mul(mp, c)), [x]);
  const [gc] = grad(sum(mul(gxMax, dx)), [c]); // maxPool2dSelect, through maxPool2dBackward's VJP
  return [mp, ap, gx, gc, maxPool2dSelect(x, dx, mp.attrs)];
}

async function expectDevicesAgree(outputs: Tensor[], feeds: Record<string, ArrayLike<number>>, backends: readonly ('cpu' | 'webasm')[] = ['cpu', 'webasm']): Promise<void> {
  const want = await compile(outputs).run(feeds);
  for (const backend of backends) {
    const f = compile(outputs, { backend });
    const got = await f.run(feeds);
    await f.dispose();
    got.forEach((r, i) => {
      expect(r.shape).toEqual(want[i].shape);
      r.data.forEach((v, j) => expect(Math.abs(v - want[i].data[j]), `${backend} output ${i} element ${j}`).toBeLessThan(1e-4 * (1 + Math.abs(want[i].data[j]))));
    });
  }
}

describe('dilated and ceil-rounded pooling on the devices', () => {
  it.each(deviceConfigs)('%s: cpu and webasm agree with the reference', async (_name, shape, options, countIncludePad) => {
    const outputs = poolingGraph(shape, options, countIncludePad);
    const cShape = outputs[0].shape;
    await expectDevicesAgree(outputs, { x: distinctValues(size(shape), 3), c: randomValues(size(cShape), 4), dx: randomValues(size(shape), 5) });
  }, 60_000);

  it('computes a fused conv2dMaxPool with a dilated, ceil-rounded pool as the unfused graph', async () => {
    const x = input('x', [1, 2, 9, 9]);
    const w = input('w', [3, 2, 3, 3]);
    const b = input('b', [3]);
    const conv = conv2d(x, w, { bias: b });
    const pool = pool2dAttrs('test', conv, { size: 2, stride: 3, dilation: 2, ceil: true });
    expect(pool.ceilPads).toEqual([2, 2]); // 7x7 convolution: ceil((7 - 3) / 3) + 1 = 3 windows, the last reaching 2 past
    const fused = conv2dMaxPool(conv, pool);
    const plain = maxPool2d(conv, { size: 2, stride: 3, dilation: 2, ceil: true });
    expect(fused.shape).toEqual(plain.shape);
    const feeds = { x: randomValues(162, 1), w: randomValues(54, 2), b: randomValues(3, 3) };
    const [want] = await compile(plain).run(feeds);
    const [ref] = await compile(fused).run(feeds);
    close(Array.from(ref.data), Array.from(want.data), 12);
    // its VJP and JVP carry the pool's attributes
    expectGradientsMatch((xx, ww) => conv2dMaxPool(conv2d(xx, ww), pool2dAttrs('test', conv2d(xx, ww), { size: 2, stride: 3, dilation: 2, ceil: true })), [
      { shape: [1, 2, 9, 9], data: randomValues(162, 6) },
      { shape: [3, 2, 3, 3], data: randomValues(54, 7) },
    ]);
    await expectDevicesAgree([fused], feeds);
  }, 60_000);

  it('fuses only undilated, floor-rounded pools into conv2dMaxPool on the wasm backends', async () => {
    const x = input('x', [1, 2, 10, 10]);
    const w = input('w', [3, 2, 3, 3]);
    const pooled = (options: Pool2dOptions) => maxPool2d(relu(conv2d(x, w)), options);
    expect(wasmRewrites(fuseForDevice([pooled({ size: 2 })]))[0].op).toBe('conv2dMaxPool');
    for (const options of [{ size: 2, dilation: 2 }, { size: 3, ceil: true }] as Pool2dOptions[]) {
      const y = pooled(options);
      expect(wasmRewrites(fuseForDevice([y]))[0].op).toBe('maxPool2d');
      const f = compile([y], { backend: 'webasm' });
      expect(f.plan.map((s) => s.op)).toEqual(['conv2d', 'maxPool2d']);
      await f.dispose();
      await expectDevicesAgree([y], { x: randomValues(200, 8), w: randomValues(54, 9) }, ['webasm']);
    }
  }, 60_000);
});

// ---------------------------------------------------------------------------

describe('dilation and ceil errors name the op, what it got and what it expected', () => {
  const x = input('x', [1, 2, 4, 4]);

  it('rejects a dilation that is zero, negative, not an integer or not a number', () => {
    expect(() => maxPool2d(x, { size: 2, dilation: 0 })).toThrow(/^maxPool2d: dilation must be an integer >= 1 or a pair \[h, w\] of them, got 0$/);
    expect(() => avgPool2d(x, { size: 2, dilation: -1 })).toThrow(/^avgPool2d: dilation must be an integer >= 1 .*got -1$/);
    expect(() => maxPool2d(x, { size: 2, dilation: 1.5 })).toThrow(/^maxPool2d: dilation must be an integer >= 1 .*got 1\.5$/);
    expect(() => maxPool2d(x, { size: 2, dilation: 'x' as never })).toThrow(/^maxPool2d: dilation must be an integer >= 1 .*got "x"$/);
    expect(() => maxPool2d(x, { size: 2, dilation: [2, 0] })).toThrow(/^maxPool2d: dilation must be an integer >= 1 .*got \[2,0\]$/);
    expect(striateError(() => maxPool2d(x, { size: 2, dilation: 0 }), 'maxPool2d').expected).toBe('an integer >= 1 or a pair [h, w] of them');
  });

  it('rejects a ceil that is not a boolean, and misspelt options', () => {
    expect(() => maxPool2d(x, { size: 2, ceil: 1 as never })).toThrow('maxPool2d: ceil must be true or false, got 1');
    expect(() => avgPool2d(x, { size: 2, ceil: 'yes' as never })).toThrow('avgPool2d: ceil must be true or false, got "yes"');
    expect(() => maxPool2d(x, { size: 2, dilations: 2 } as never)).toThrow(/^maxPool2d: unknown option "dilations"/);
  });

  it('rejects a dilated window that does not fit the padded input, or padding as wide as the dilated window', () => {
    expect(() => maxPool2d(x, { size: 3, dilation: 2 })).toThrow(
      /^maxPool2d: the 3x3 pooling window \(dilated to 5x5\) is larger than the padded input 4x4 \(input 4x4, pads top 0, bottom 0, left 0, right 0\)/,
    );
    expect(() => avgPool2d(x, { size: 2, dilation: [1, 4], ceil: true })).toThrow(/^avgPool2d: the 2x2 pooling window \(dilated to 2x5\) is larger than the padded input 4x4/);
    expect(() => maxPool2d(x, { size: 2, dilation: 2, padding: 3 })).toThrow(
      'maxPool2d: padding [top 3, bottom 3, left 3, right 3] must be smaller than the 2x2 window (dilated to 3x3) on each side ' +
        '(at most 2 rows and 2 columns), or a window could lie wholly in the padding',
    );
    // padding 2 is below the dilated window of 3, though not below the 2 taps
    expect(maxPool2d(x, { size: 2, dilation: 2, padding: 2 }).shape).toEqual([1, 2, 3, 3]);
  });

  it('rejects a geometry whose taps step over the whole input', () => {
    const small = input('s', [1, 1, 2, 2]);
    // taps at rows -2 and 2, then -1 and 3: never rows 0 or 1 (columns: -2 and 1 reach column 1, -1 and 2 reach nothing)
    expect(() => maxPool2d(small, { size: 2, stride: 1, dilation: 4, padding: 2 })).toThrow(
      'maxPool2d: the 2x2 pooling window (dilated to 5x5) at output row 0 reads only padding: its taps, input rows -2 to 2 every 4, ' +
        'step over all 2 input rows; use a smaller dilation or less padding',
    );
    expect(() => avgPool2d(small, { size: [1, 2], stride: 1, dilation: [1, 3], padding: [0, 2] })).toThrow(
      /^avgPool2d: the 1x2 pooling window \(dilated to 1x4\) at output column 1 reads only padding: its taps, input columns -1 to 2 every 3/,
    );
  });

  it('rejects hand-built attributes: a bad dilation, ceilPads not what ceil rounding gives', () => {
    const a = maxPool2d(x, { size: 2 }).attrs;
    const dy = input('dy', [1, 2, 2, 2]);
    expect(() => maxPool2dBackward(x, dy, { ...a, dilation: [0, 1] })).toThrow('maxPool2dBackward: dilation must be a pair [h, w] of integers >= 1, got [0,1]');
    expect(() => maxPool2dSelect(x, x, { ...a, dilation: 2 as never })).toThrow('maxPool2dSelect: dilation must be a pair [h, w] of integers >= 1, got 2');
    expect(() => maxPool2dSelect(x, x, { ...a, ceilPads: [-1, 0] })).toThrow('maxPool2dSelect: ceilPads must be a pair [h, w] of integers >= 0, got [-1,0]');
    const odd = input('odd', [1, 1, 5, 4]);
    const b = maxPool2d(odd, { size: 2 }).attrs;
    expect(() => maxPool2dSelect(odd, odd, { ...b, ceilPads: [3, 0] })).toThrow(
      'maxPool2dSelect: ceilPads must hold 0 (floor rounding) or the rows and columns ceil rounding adds for an input 5x4 (pads [0,0,0,0]): here [0 or 1, 0], got [3,0]',
    );
    expect(() => avgPool2dBackward(input('g', [1, 1, 3, 2]), { ...b, ceilPads: [1, 1], countIncludePad: false, inputShape: [1, 1, 5, 4] })).toThrow(
      /^avgPool2dBackward: ceilPads must hold 0 .*\[0 or 1, 0\], got \[1,1\]$/,
    );
    // the ceil rows a builder found are accepted, and give the ceil-rounded shape
    expect(maxPool2dSelect(odd, odd, { ...b, ceilPads: [1, 0] }).shape).toEqual([1, 1, 3, 2]);
  });
});

// ---------------------------------------------------------------------------

describe('dilation and ceil through the layers', () => {
  const model = () =>
    defineModel('dilated', [2, 11, 11], [
      nn.conv2d('c', { filters: 3, size: 3 }), // 9x9, rf 3
      nn.maxPool2d({ size: 2, stride: 2, dilation: 2, ceil: true }), // span 3: (9 - 3) / 2 + 1 = 4, floor or ceil
      nn.avgPool2d({ size: [2, 3], stride: 1, dilation: [1, 2], padding: 1, ceil: true, countIncludePad: true, name: 'mean' }), // 5x2
      nn.flatten(),
    ]);

  it('passes the options to the ops and widens the receptive field by the dilation', () => {
    const s = summary(model());
    const pool = s.layers[1];
    expect(pool.kind).toBe('maxPool2d');
    expect(pool.outputShape).toEqual([3, 4, 4]);
    expect(s.layers[2].outputShape).toEqual([3, 5, 2]);
    // conv: 3; the pool: 3 + dilation 2 * (2 - 1) * jump 1 = 5; the mean: 5 + [1, 2*2] * jump 2 = [7, 13]
    expect(s.layers.slice(0, 3).map((l) => l.receptiveField)).toEqual([[3, 3], [5, 5], [7, 13]]);
  });

  it('round-trips the options through modelToJson / modelFromJson, with the same outputs', async () => {
    const m = model();
    const json = modelToJson(m);
    const layers = (json.forward.children ?? []).map((l) => [l.kind, l.options]);
    expect(layers[1]).toEqual(['maxPool2d', { size: 2, stride: 2, dilation: 2, ceil: true }]);
    expect(layers[2]).toEqual(['avgPool2d', { size: [2, 3], stride: 1, dilation: [1, 2], padding: 1, ceil: true, countIncludePad: true }]);
    const copy = modelFromJson(JSON.parse(JSON.stringify(json)));
    expect(modelToJson(copy)).toEqual(json);
    expect(summary(copy).layers.map((l) => [...l.outputShape])).toEqual(summary(m).layers.map((l) => [...l.outputShape]));
    const params = initParams(m, 3);
    const xv = Float32Array.from(randomValues(2 * 2 * 121, 5));
    const [a, b] = await Promise.all([m, copy].map((mm) => predict(mm, params, xv, { backend: 'reference' })));
    expect(b.logits).toEqual(a.logits);
  });

  it('refuses bad dilation and ceil options in a description', () => {
    const json = modelToJson(model());
    const bad = (options: Record<string, unknown>) => {
      const j = JSON.parse(JSON.stringify(json));
      j.forward.children[1].options = { ...j.forward.children[1].options, ...options };
      return () => modelFromJson(j);
    };
    expect(bad({ dilation: 0 })).toThrow(/dilation.*a positive integer or a pair \[h, w\] of them/);
    expect(bad({ ceil: 'yes' })).toThrow(/ceil.*true or false/);
  });
});
