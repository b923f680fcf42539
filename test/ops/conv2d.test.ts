import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { add, compile, concat, grad, input, maxPool2d, mul, relu, sigmoid, slice, sum, tanh } from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import { conv2d, conv2dOp } from '../../src/ops/conv2d.js';
import { conv2dMaxPool } from '../../src/ops/conv2dMaxPool.js';
import { pool2dAttrs } from '../../src/ops/pool2dGeometry.js';
import { makeNode } from '../../src/ops/op.js';
import { conv2dBackpropFilter } from '../../src/ops/conv2dBackpropFilter.js';
import { conv2dBackpropInput } from '../../src/ops/conv2dBackpropInput.js';
import type { Padding } from '../../src/ops/window.js';
import { resolvePads, toPair, windowOutput } from '../../src/ops/window.js';
import { expectGradientsMatch, propertyRuns, randomValues, seedArb, striateError } from '../helpers.js';

type Shape4 = [number, number, number, number];
const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
const run1 = (t: Tensor, feeds: Record<string, Float64Array>) => compile(t).runSync(feeds)[0];

// ---------------------------------------------------------------------------
// An independent oracle: the definition, written as directly as possible.
//   y[n,o,i,j] = b[o] + sum_{c,p,q} w[o,c,p,q] x[n, g*C/G + c, i*sh - pt + p*dh, j*sw - pl + q*dw]
// with G groups, g = floor(o / (O/G)) and c < C/G (the filter's second axis).
function naiveConv(
  x: Float64Array, xs: Shape4, w: Float64Array, ws: Shape4,
  stride: [number, number], dilation: [number, number], pads: readonly number[], b?: Float64Array, groups = 1,
): { shape: Shape4; data: Float64Array } {
  const [N, Cx, H, W] = xs;
  const [O, C, kH, kW] = ws;
  expect(C * groups).toBe(Cx);
  const oH = Math.floor((H + pads[0] + pads[1] - dilation[0] * (kH - 1) - 1) / stride[0]) + 1;
  const oW = Math.floor((W + pads[2] + pads[3] - dilation[1] * (kW - 1) - 1) / stride[1]) + 1;
  const out = new Float64Array(N * O * oH * oW);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let i = 0; i < oH; i++)
        for (let j = 0; j < oW; j++) {
          let acc = b ? b[o] : 0;
          const g = Math.floor(o / (O / groups));
          for (let c = 0; c < C; c++)
            for (let p = 0; p < kH; p++)
              for (let q = 0; q < kW; q++) {
                const h = i * stride[0] - pads[0] + p * dilation[0];
                const v = j * stride[1] - pads[2] + q * dilation[1];
                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                acc += w[((o * C + c) * kH + p) * kW + q] * x[((n * Cx + g * C + c) * H + h) * W + v];
              }
          out[((n * O + o) * oH + i) * oW + j] = acc;
        }
  return { shape: [N, O, oH, oW], data: out };
}

// ---------------------------------------------------------------------------
// Valid configurations: batch 1-3, channels 1-4, spatial 1-12, kernels 1-5,
// strides 1-3, dilation 1-2, every padding mode, built so the dilated kernel fits;
// half of them grouped (2 to 4 groups, depthwise where each group has one input channel).
interface Config {
  xShape: Shape4;
  wShape: Shape4;
  options: { stride: [number, number]; dilation: [number, number]; padding: Padding; groups: number };
}

const paddingArb: fc.Arbitrary<Padding> = fc.oneof(
  fc.constant('valid' as const),
  fc.constant('same' as const),
  fc.integer({ min: 0, max: 2 }),
  fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
  fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
);

/** Rows+columns padding of an explicit padding option (0 for 'same', which always fits). */
function padSums(padding: Padding): [number, number] {
  if (padding === 'valid' || padding === 'same') return [0, 0];
  if (typeof padding === 'number') return [2 * padding, 2 * padding];
  if (padding.length === 2) return [2 * padding[0], 2 * padding[1]];
  return [padding[0] + padding[1], padding[2] + padding[3]];
}

const configArb = (maxBatch = 3, maxChannels = 4, maxSpatial = 12): fc.Arbitrary<Config> =>
  fc
    .record({
      n: fc.integer({ min: 1, max: maxBatch }),
      groups: fc.oneof(fc.constant(1), fc.integer({ min: 2, max: maxChannels })),
      // channels per group, at most maxChannels in all
      cPer: fc.integer({ min: 1, max: maxChannels }),
      oPer: fc.integer({ min: 1, max: maxChannels }),
      k: fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 })),
      stride: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
      dilation: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
      padding: paddingArb,
      extra: fc.tuple(fc.integer({ min: 0, max: 11 }), fc.integer({ min: 0, max: 11 })),
    })
    .map(({ n, groups, cPer, oPer, k, stride, dilation, padding, extra }) => {
      const most = Math.floor(maxChannels / groups);
      const c = groups * (1 + ((cPer - 1) % most));
      const o = groups * (1 + ((oPer - 1) % most));
      const sums = padSums(padding);
      const hw = [0, 1].map((a) => {
        const eff = dilation[a] * (k[a] - 1) + 1;
        const min = Math.max(1, eff - (padding === 'same' ? eff : sums[a]));
        return Math.min(maxSpatial, Math.max(min, 1 + extra[a]));
      });
      return {
        xShape: [n, c, hw[0], hw[1]] as Shape4,
        wShape: [o, c / groups, k[0], k[1]] as Shape4,
        options: { stride, dilation, padding, groups },
      };
    })
    // with maxSpatial < 9 a large dilated kernel may not fit; keep only the ones that do
    .filter(({ xShape, wShape, options }) =>
      [0, 1].every((a) => options.dilation[a] * (wShape[2 + a] - 1) + 1 <= xShape[2 + a] + (options.padding === 'same' ? Infinity : padSums(options.padding)[a])),
    );

const outShapeOf = (cfg: Config): Shape4 => conv2d(input('x', cfg.xShape), input('w', cfg.wShape), cfg.options).shape as unknown as Shape4;

// ---------------------------------------------------------------------------

describe('conv2d forward', () => {
  // Lecture section 5: the 5x5 binary image and the 3x3 filter 101/010/101.
  const image = Float64Array.from([1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0]);
  const filter = Float64Array.from([1, 0, 1, 0, 1, 0, 1, 0, 1]);
  const x = input('x', [1, 1, 5, 5]);
  const w = input('w', [1, 1, 3, 3]);
  const b = input('b', [1]);

  it("gives the lecture's 434/243/234 at stride 1 (and +1 everywhere with bias 1)", () => {
    const y = run1(conv2d(x, w), { x: image, w: filter });
    expect(y.shape).toEqual([1, 1, 3, 3]);
    expect([...y.data]).toEqual([4, 3, 4, 2, 4, 3, 2, 3, 4]);
    const yb = run1(conv2d(x, w, { bias: b }), { x: image, w: filter, b: Float64Array.of(1) });
    expect([...yb.data]).toEqual([5, 4, 5, 3, 5, 4, 3, 4, 5]);
  });

  it("gives the lecture's 44/24 at stride 2", () => {
    const y = run1(conv2d(x, w, { stride: 2 }), { x: image, w: filter });
    expect(y.shape).toEqual([1, 1, 2, 2]);
    expect([...y.data]).toEqual([4, 4, 2, 4]);
  });

  it('is a correlation: the filter is not flipped', () => {
    // An asymmetric filter that picks the top-left tap reads x[i, j] exactly.
    const xv = Float64Array.from({ length: 9 }, (_, i) => i);
    const y = run1(conv2d(input('x', [1, 1, 3, 3]), input('w', [1, 1, 2, 2])), { x: xv, w: Float64Array.of(1, 0, 0, 0) });
    expect([...y.data]).toEqual([0, 1, 3, 4]);
  });

  it('applies dilation (hand-worked golden)', () => {
    // x[r, c] = 5r + c; w = [[1, 2], [3, 4]] dilated by 2 reads x[i,j], x[i,j+2], x[i+2,j], x[i+2,j+2]:
    // y[i,j] = (5i+j) + 2(5i+j+2) + 3(5i+j+10) + 4(5i+j+12) = 50i + 10j + 82.
    const xv = Float64Array.from({ length: 25 }, (_, i) => i);
    const y = run1(conv2d(input('x', [1, 1, 5, 5]), input('w', [1, 1, 2, 2]), { dilation: 2 }), { x: xv, w: Float64Array.of(1, 2, 3, 4) });
    expect(y.shape).toEqual([1, 1, 3, 3]);
    expect([...y.data]).toEqual([82, 92, 102, 132, 142, 152, 182, 192, 202]);
  });

  it("pads 'same' as TensorFlow does: out = ceil(in / stride), the odd row/column at the bottom/right", () => {
    const sameOf = (h: number, w: number, kh: number, kw: number, stride: number | [number, number], dilation: number | [number, number] = 1) =>
      conv2d(input('x', [1, 1, h, w]), input('w', [1, 1, kh, kw]), { padding: 'same', stride, dilation });
    const cases: [Tensor<'conv2d'>, number[], number[]][] = [
      [sameOf(6, 6, 3, 3, 2), [1, 1, 3, 3], [0, 1, 0, 1]], // total padding 1: all of it at the end
      [sameOf(5, 5, 3, 3, 1), [1, 1, 5, 5], [1, 1, 1, 1]],
      [sameOf(7, 7, 4, 4, 1), [1, 1, 7, 7], [1, 2, 1, 2]],
      [sameOf(5, 5, 3, 3, 1, 2), [1, 1, 5, 5], [2, 2, 2, 2]], // dilated to 5x5
      [sameOf(7, 5, 3, 3, [2, 3]), [1, 1, 4, 2], [1, 1, 0, 1]],
      [sameOf(5, 5, 1, 1, 2), [1, 1, 3, 3], [0, 0, 0, 0]],
      [sameOf(1, 1, 5, 5, 3), [1, 1, 1, 1], [2, 2, 2, 2]],
    ];
    for (const [y, shape, pads] of cases) {
      expect(y.shape).toEqual(shape);
      expect(y.attrs.pads).toEqual(pads);
    }
    expect(resolvePads('op', 'same', [6, 6], [3, 3], [2, 2])).toEqual([0, 1, 0, 1]);
  });

  it("'same' with the extra row at the end gives the values of explicit pads [0,1,0,1]", () => {
    const xv = randomValues(36, 3);
    const wv = randomValues(9, 4);
    const xi = input('x', [1, 1, 6, 6]);
    const wi = input('w', [1, 1, 3, 3]);
    const same = run1(conv2d(xi, wi, { padding: 'same', stride: 2 }), { x: xv, w: wv });
    const explicit = run1(conv2d(xi, wi, { padding: [0, 1, 0, 1], stride: 2 }), { x: xv, w: wv });
    const oracle = naiveConv(xv, [1, 1, 6, 6], wv, [1, 1, 3, 3], [2, 2], [1, 1], [0, 1, 0, 1]);
    expect([...same.data]).toEqual([...explicit.data]);
    same.data.forEach((v, i) => expect(v).toBeCloseTo(oracle.data[i], 12));
  });

  it('matches the definition over random shapes, strides, paddings, dilations, groups and biases', () => {
    fc.assert(
      fc.property(configArb(), seedArb, fc.boolean(), (cfg, seed, withBias) => {
        const xv = randomValues(size(cfg.xShape), seed);
        const wv = randomValues(size(cfg.wShape), seed + 1);
        const bv = randomValues(cfg.wShape[0], seed + 2);
        const y = conv2d(input('x', cfg.xShape), input('w', cfg.wShape), { ...cfg.options, bias: withBias ? input('b', [cfg.wShape[0]]) : undefined });
        const got = run1(y, withBias ? { x: xv, w: wv, b: bv } : { x: xv, w: wv });
        const o = cfg.options;
        const pads = resolvePads('t', o.padding, [cfg.xShape[2], cfg.xShape[3]], [o.dilation[0] * (cfg.wShape[2] - 1) + 1, o.dilation[1] * (cfg.wShape[3] - 1) + 1], o.stride);
        const want = naiveConv(xv, cfg.xShape, wv, cfg.wShape, o.stride, o.dilation, pads, withBias ? bv : undefined, o.groups);
        expect(got.shape).toEqual(want.shape);
        // 'same' always gives ceil(in / stride)
        if (o.padding === 'same') expect(got.shape.slice(2)).toEqual([Math.ceil(cfg.xShape[2] / o.stride[0]), Math.ceil(cfg.xShape[3] / o.stride[1])]);
        got.data.forEach((v, i) => expect(Math.abs(v - want.data[i])).toBeLessThan(1e-12));
      }),
      { numRuns: propertyRuns },
    );
  });
});

describe('grouped convolution', () => {
  const feedsOf = (shapes: Record<string, readonly number[]>, seed: number) =>
    Object.fromEntries(Object.entries(shapes).map(([name, shape], i) => [name, randomValues(size(shape), seed + i)]));

  it('groups 1 is the default and changes nothing', () => {
    const x = input('x', [2, 3, 6, 5]);
    const w = input('w', [4, 3, 3, 2]);
    const plain = conv2d(x, w, { stride: 2, padding: 1 });
    const one = conv2d(x, w, { stride: 2, padding: 1, groups: 1 });
    expect(plain.attrs.groups).toBe(1);
    expect(one.attrs).toEqual(plain.attrs);
    const feeds = feedsOf({ x: x.shape, w: w.shape }, 5);
    expect([...run1(one, feeds).data]).toEqual([...run1(plain, feeds).data]);
  });

  it('is the per-group convolutions side by side: slices of x and w convolved, then concatenated', () => {
    // 6 input channels and 4 filters in 2 groups: filters 0-1 read channels 0-2, filters 2-3 channels 3-5.
    const x = input('x', [2, 6, 7, 6]);
    const w = input('w', [4, 3, 3, 2]);
    const b = input('b', [4]);
    const options = { stride: [2, 1] as [number, number], padding: 'same' as const };
    const grouped = conv2d(x, w, { ...options, bias: b, groups: 2 });
    const part = (g: number) =>
      conv2d(slice(x, [0, 3 * g, 0, 0], [2, 3, 7, 6]), slice(w, [2 * g, 0, 0, 0], [2, 3, 3, 2]), { ...options, bias: slice(b, [2 * g], [2]) });
    const sideBySide = concat([part(0), part(1)], 1);
    const feeds = feedsOf({ x: x.shape, w: w.shape, b: b.shape }, 7);
    const got = run1(grouped, feeds);
    const want = run1(sideBySide, feeds);
    expect(got.shape).toEqual(want.shape);
    got.data.forEach((v, i) => expect(v).toBeCloseTo(want.data[i], 12));
  });

  it('depthwise (groups = channels): each filter sees only its own channel (hand-worked golden)', () => {
    // channel 0 holds 1..9, channel 1 all ones; filter 0 picks the top-left tap, filter 1 sums the 2x2 window.
    const xv = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    const wv = Float64Array.of(1, 0, 0, 0, 1, 1, 1, 1);
    const y = run1(conv2d(input('x', [1, 2, 3, 3]), input('w', [2, 1, 2, 2]), { groups: 2 }), { x: xv, w: wv });
    expect(y.shape).toEqual([1, 2, 2, 2]);
    expect([...y.data]).toEqual([1, 2, 4, 5, 4, 4, 4, 4]);
    // A channel multiplier of 2: filters 0, 1 read channel 0 and filters 2, 3 channel 1.
    const wm = Float64Array.of(1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 0, 0, 0);
    const ym = run1(conv2d(input('x', [1, 2, 3, 3]), input('w', [4, 1, 2, 2]), { groups: 2 }), { x: xv, w: wm });
    expect([...ym.data]).toEqual([1, 2, 4, 5, 5, 6, 8, 9, 4, 4, 4, 4, 2, 2, 2, 2]);
  });

  it('grad builds the backprop ops with the same groups, of the input and filter shapes', () => {
    const x = input('x', [2, 6, 7, 7]);
    const w = input('w', [9, 2, 3, 3]);
    const [gx, gw] = grad(sum(conv2d(x, w, { groups: 3, padding: 1 })), [x, w]);
    expect([gx.op, gw.op]).toEqual(['conv2dBackpropInput', 'conv2dBackpropFilter']);
    expect([(gx as Tensor<'conv2dBackpropInput'>).attrs.groups, (gw as Tensor<'conv2dBackpropFilter'>).attrs.groups]).toEqual([3, 3]);
    expect([gx.shape, gw.shape]).toEqual([[2, 6, 7, 7], [9, 2, 3, 3]]);
  });

  it('depthwise with a channel multiplier: the three ops\' gradients match central differences', () => {
    const xShape: Shape4 = [2, 3, 6, 5];
    const wShape: Shape4 = [6, 1, 3, 2];
    const options = { stride: [1, 2] as [number, number], padding: 1, groups: 3 };
    const yShape = conv2d(input('x', xShape), input('w', wShape), options).shape;
    const v = (shape: readonly number[], seed: number) => ({ shape, data: randomValues(size(shape), seed) });
    expectGradientsMatch((x, w, b) => conv2d(x, w, { ...options, bias: b }), [v(xShape, 1), v(wShape, 2), v([6], 3)]);
    expectGradientsMatch((dy, w) => conv2dBackpropInput(dy, w, { ...options, inputShape: xShape }), [v(yShape, 4), v(wShape, 5)]);
    expectGradientsMatch((x, dy) => conv2dBackpropFilter(x, dy, { ...options, filterShape: wShape }), [v(xShape, 6), v(yShape, 7)]);
  });
});

describe('conv2d backprop ops', () => {
  it('conv2dBackpropInput gives zeros on the rows/columns a strided conv never reads', () => {
    // 6x6 input, 3x3 filter, stride 2, valid: outputs read rows/cols 0..4, never 5.
    const dy = input('dy', [1, 1, 2, 2]);
    const w = input('w', [1, 1, 3, 3]);
    const dx = run1(conv2dBackpropInput(dy, w, { inputShape: [1, 1, 6, 6], stride: 2 }), { dy: Float64Array.of(1, 2, 3, 4), w: Float64Array.from({ length: 9 }, (_, i) => i + 1) });
    expect(dx.shape).toEqual([1, 1, 6, 6]);
    for (let k = 0; k < 6; k++) {
      expect(dx.data[5 * 6 + k]).toBe(0);
      expect(dx.data[k * 6 + 5]).toBe(0);
    }
    // dx[2,2] is where all four windows overlap: sum of dy[i,j] * w[2-2i, 2-2j].
    expect(dx.data[2 * 6 + 2]).toBe(1 * 9 + 2 * 7 + 3 * 3 + 4 * 1);
  });

  it('grad builds conv2dBackpropInput, conv2dBackpropFilter and a sum for the bias', () => {
    const x = input('x', [2, 3, 7, 7]);
    const w = input('w', [4, 3, 3, 3]);
    const b = input('b', [4]);
    const y = conv2d(x, w, { stride: 2, padding: 1, bias: b });
    const [gx, gw, gb] = grad(sum(y), [x, w, b]);
    expect([gx.op, gw.op, gb.op]).toEqual(['conv2dBackpropInput', 'conv2dBackpropFilter', 'sum']);
    expect([gx.shape, gw.shape, gb.shape]).toEqual([[2, 3, 7, 7], [4, 3, 3, 3], [4]]);
  });

  it('conv2dBackpropFilter resolves the forward padding against the input', () => {
    const dw = conv2dBackpropFilter(input('x', [1, 2, 6, 6]), input('dy', [1, 3, 3, 3]), { filterShape: [3, 2, 3, 3], stride: 2, padding: 'same' });
    expect(dw.shape).toEqual([3, 2, 3, 3]);
    expect(dw.attrs.pads).toEqual([0, 1, 0, 1]);
  });
});

// ---------------------------------------------------------------------------
// Gradients: dot-product test (and the full Jacobian when small) against
// central differences in float64, relative error < 1e-6. Every op is linear in
// each argument, so central differences are exact up to rounding.

describe('conv2d gradients', () => {
  it('conv2d: d/dx, d/dw and d/dbias match central differences', () => {
    fc.assert(
      fc.property(configArb(), seedArb, (cfg, seed) => {
        const o = cfg.wShape[0];
        expectGradientsMatch((x, w, b) => conv2d(x, w, { ...cfg.options, bias: b }), [
          { shape: cfg.xShape, data: randomValues(size(cfg.xShape), seed) },
          { shape: cfg.wShape, data: randomValues(size(cfg.wShape), seed + 1) },
          { shape: [o], data: randomValues(o, seed + 2) },
        ], { seed });
      }),
      { numRuns: propertyRuns },
    );
  });

  it('conv2dBackpropInput: d/d dy and d/dw match central differences (second-order conv2d)', () => {
    fc.assert(
      fc.property(configArb(), seedArb, (cfg, seed) => {
        const yShape = outShapeOf(cfg);
        expectGradientsMatch((dy, w) => conv2dBackpropInput(dy, w, { ...cfg.options, inputShape: cfg.xShape }), [
          { shape: yShape, data: randomValues(size(yShape), seed) },
          { shape: cfg.wShape, data: randomValues(size(cfg.wShape), seed + 1) },
        ], { seed });
      }),
      { numRuns: propertyRuns },
    );
  });

  it('conv2dBackpropFilter: d/dx and d/d dy match central differences (second-order conv2d)', () => {
    fc.assert(
      fc.property(configArb(), seedArb, (cfg, seed) => {
        const yShape = outShapeOf(cfg);
        expectGradientsMatch((x, dy) => conv2dBackpropFilter(x, dy, { ...cfg.options, filterShape: cfg.wShape }), [
          { shape: cfg.xShape, data: randomValues(size(cfg.xShape), seed) },
          { shape: yShape, data: randomValues(size(yShape), seed + 1) },
        ], { seed });
      }),
      { numRuns: propertyRuns },
    );
  });

  it('gradients of gradients: differentiating grad through every VJP of the three ops', () => {
    // F(x, w) = |d f/dx|^2 + |d f/dw|^2 with f = sum(tanh(conv2d(x, w))): its gradient runs through the
    // VJPs of conv2dBackpropInput and conv2dBackpropFilter (which build conv2d, BI and BF again).
    fc.assert(
      fc.property(configArb(2, 3, 8), seedArb, (cfg, seed) => {
        expectGradientsMatch(
          (x, w) => {
            const [gx, gw] = grad(sum(tanh(conv2d(x, w, cfg.options))), [x, w]);
            return add(sum(mul(gx, gx)), sum(mul(gw, gw)));
          },
          [
            { shape: cfg.xShape, data: randomValues(size(cfg.xShape), seed) },
            { shape: cfg.wShape, data: randomValues(size(cfg.wShape), seed + 1).map((a) => a / 2) },
          ],
          { seed, fullJacobianUpTo: 0 },
        );
      }),
      { numRuns: Math.ceil(propertyRuns / 3) },
    );
  });
});

describe('second order: Hessian-vector product of a small conv net', () => {
  // f(x) = sum(tanh(conv2d(sigmoid(conv2d(x, w1, b1)), w2))): H v from grad of <grad f, v>
  // must equal the central difference of grad f along v.
  const xShape: Shape4 = [2, 2, 7, 6];
  const x = input('x', xShape);
  const v = input('v', xShape);
  const w1 = input('w1', [3, 2, 3, 3]);
  const b1 = input('b1', [3]);
  const w2 = input('w2', [2, 3, 2, 2]);
  const f = sum(tanh(conv2d(sigmoid(conv2d(x, w1, { stride: [2, 1], padding: 'same', bias: b1 })), w2, { dilation: [1, 2], padding: 1 })));
  const [g] = grad(f, [x]);
  const [hv] = grad(sum(mul(g, v)), [x]);
  const params = { w1: randomValues(54, 11).map((a) => a * 1.5), b1: randomValues(3, 12), w2: randomValues(24, 13).map((a) => a * 1.5) };

  it('matches central differences of the gradient', () => {
    const xv = randomValues(size(xShape), 21);
    const vv = randomValues(size(xShape), 22);
    const eps = 1e-5;
    const gradAt = compile(g);
    const at = (s: number) => gradAt.runSync({ ...params, x: xv.map((a, i) => a + s * eps * vv[i]) })[0].data;
    const gp = at(1);
    const gm = at(-1);
    const hvv = compile(hv).runSync({ ...params, x: xv, v: vv })[0].data;
    const scale = Math.max(...hvv.map(Math.abs));
    expect(scale).toBeGreaterThan(1e-2); // the Hessian is not trivially zero
    hvv.forEach((h, i) => expect(Math.abs(h - (gp[i] - gm[i]) / (2 * eps))).toBeLessThan(1e-6 * scale));
  });

  it('is symmetric: <H u, v> = <u, H v>', () => {
    const xv = randomValues(size(xShape), 31);
    const uv = randomValues(size(xShape), 32);
    const vv = randomValues(size(xShape), 33);
    const hvp = compile(hv);
    const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, ai, i) => s + ai * b[i], 0);
    const hu = hvp.runSync({ ...params, x: xv, v: uv })[0].data;
    const hvv = hvp.runSync({ ...params, x: xv, v: vv })[0].data;
    const a = dot(hu, vv);
    const b = dot(uv, hvv);
    expect(Math.abs(a - b)).toBeLessThan(1e-10 * Math.max(1, Math.abs(a)));
  });
});

// ---------------------------------------------------------------------------

describe('shape errors', () => {
  const x = (s: number[]) => input('x', s);
  const w = (s: number[]) => input('w', s);

  it('names a channel mismatch', () => {
    expect(() => conv2d(x([1, 3, 9, 9]), w([6, 1, 5, 5]))).toThrow('conv2d: input has 3 channels but the filter expects 1 (filter shape [6,1,5,5])');
  });

  it('names a filter larger than the padded input, dilation included', () => {
    expect(() => conv2d(x([1, 1, 3, 3]), w([1, 1, 5, 5]))).toThrow(
      'conv2d: the 5x5 filter (dilated to 5x5) is larger than the padded input 3x3 (input 3x3, pads top 0, bottom 0, left 0, right 0)',
    );
    expect(() => conv2d(x([1, 1, 5, 6]), w([1, 1, 3, 2]), { dilation: 3 })).toThrow('conv2d: the 3x2 filter (dilated to 7x4) is larger than the padded input 5x6');
    expect(() => conv2d(x([1, 1, 3, 3]), w([1, 1, 5, 5]), { padding: 1 })).not.toThrow();
    expect(() => windowOutput('pool', 2, 0, 3, 1)).toThrow('pool: the window of 3 is larger than the padded input 2');
  });

  it('names a bad stride', () => {
    const msg = (got: string) => `conv2d: stride must be an integer >= 1 or a pair [h, w] of them, got ${got}`;
    expect(() => conv2d(x([1, 1, 5, 5]), w([1, 1, 3, 3]), { stride: 0 })).toThrow(msg('0'));
    expect(() => conv2d(x([1, 1, 5, 5]), w([1, 1, 3, 3]), { stride: 1.5 })).toThrow(msg('1.5'));
    expect(() => conv2d(x([1, 1, 5, 5]), w([1, 1, 3, 3]), { stride: [1, 0] })).toThrow(msg('[1,0]'));
    expect(() => conv2d(x([1, 1, 5, 5]), w([1, 1, 3, 3]), { stride: [1, 2, 3] as never })).toThrow(msg('[1,2,3]'));
    expect(toPair('maxPool2d', 'size', 3, 1)).toEqual([3, 3]);
  });

  it('names a bad padding', () => {
    const msg = (got: string) =>
      `conv2d: padding must be 'valid', 'same', an integer >= 0, a pair [ph, pw] or [top, bottom, left, right] of them, got ${got}`;
    expect(() => conv2d(x([1, 1, 5, 5]), w([1, 1, 3, 3]), { padding: -1 })).toThrow(msg('-1'));
    expect(() => conv2d(x([1, 1, 5, 5]), w([1, 1, 3, 3]), { padding: [1, -1] })).toThrow(msg('[1,-1]'));
    expect(() => conv2d(x([1, 1, 5, 5]), w([1, 1, 3, 3]), { padding: 0.5 })).toThrow(msg('0.5'));
    expect(() => conv2d(x([1, 1, 5, 5]), w([1, 1, 3, 3]), { padding: 'full' as never })).toThrow(msg('"full"'));
    expect(() => conv2d(x([1, 1, 5, 5]), w([1, 1, 3, 3]), { padding: [1, 1, 1] as never })).toThrow(msg('[1,1,1]'));
  });

  it('names a rank mismatch', () => {
    expect(() => conv2d(x([3, 9, 9]), w([6, 3, 5, 5]))).toThrow('conv2d: input must have rank 4 [N,C,H,W], got shape [3,9,9]');
    expect(() => conv2d(x([1, 3, 9, 9]), w([3, 5, 5]))).toThrow('conv2d: filter must have rank 4 [O,C,kH,kW], got shape [3,5,5]');
    expect(() => conv2d(x([1, 3, 9, 9]), null as never)).toThrow('conv2d: filter must be a Tensor, got null');
  });

  it('names a bias of the wrong shape', () => {
    expect(() => conv2d(x([1, 1, 9, 9]), w([6, 1, 5, 5]), { bias: input('b', [5]) })).toThrow(
      'conv2d: bias must have shape [6] (one value per output channel of filter [6,1,5,5]), got [5]',
    );
    expect(() => conv2d(x([1, 1, 9, 9]), w([6, 1, 5, 5]), { bias: input('b', [1, 6]) })).toThrow('got [1,6]');
  });

  it('names a bad dilation', () => {
    const msg = 'conv2d: dilation must be an integer >= 1 or a pair [h, w] of them, got';
    expect(() => conv2d(x([1, 1, 9, 9]), w([1, 1, 3, 3]), { dilation: 0 })).toThrow(`${msg} 0`);
    expect(() => conv2d(x([1, 1, 9, 9]), w([1, 1, 3, 3]), { dilation: [2, -1] })).toThrow(`${msg} [2,-1]`);
    expect(() => conv2d(x([1, 1, 9, 9]), w([1, 1, 3, 3]), { dilation: NaN })).toThrow(`${msg} NaN`);
  });

  it('names bad groups: not an integer >= 1, not dividing the channels, a filter not [O, C/groups, kH, kW]', () => {
    const msg = (got: string) => `conv2d: groups must be an integer >= 1, got ${got}`;
    expect(() => conv2d(x([1, 4, 5, 5]), w([4, 4, 3, 3]), { groups: 0 })).toThrow(msg('0'));
    expect(() => conv2d(x([1, 4, 5, 5]), w([4, 4, 3, 3]), { groups: 1.5 })).toThrow(msg('1.5'));
    expect(() => conv2d(x([1, 4, 5, 5]), w([4, 4, 3, 3]), { groups: '2' as never })).toThrow(msg('"2"'));
    expect(() => conv2d(x([1, 6, 5, 5]), w([4, 2, 3, 3]), { groups: 4 })).toThrow(
      'conv2d: input has 6 channels, which 4 groups cannot split evenly; use a number of groups that divides 6',
    );
    expect(() => conv2d(x([1, 6, 5, 5]), w([5, 3, 3, 3]), { groups: 2 })).toThrow(
      'conv2d: the filter [5,3,3,3] has 5 output channels, which 2 groups cannot split evenly; use a number of filters that 2 divides',
    );
    // The whole input's channels where each group's were due:
    expect(() => conv2d(x([1, 6, 5, 5]), w([4, 6, 3, 3]), { groups: 2 })).toThrow(
      'conv2d: input has 6 channels, 3 for each of the 2 groups, but the filter expects 6 (filter shape [4,6,3,3]); a grouped filter is [O, C/groups, kH, kW]',
    );
    const e = striateError(() => conv2d(x([1, 6, 5, 5]), w([4, 2, 3, 3]), { groups: 2 }), 'conv2d');
    expect(e).toMatchObject({ got: 'filters [4,2,3,3] (2 input channels per group)', expected: '3 input channels per group (6 channels in 2 groups)' });
    expect(() => conv2d(x([1, 6, 5, 5]), w([6, 1, 3, 3]), { groups: 6 })).not.toThrow();
  });

  it('names grouped mismatches in the backprop ops, groups in the geometry', () => {
    expect(() => conv2dBackpropInput(input('dy', [2, 4, 3, 3]), w([4, 3, 3, 3]), { inputShape: [2, 6, 7, 7], groups: 2 })).toThrow(
      'conv2dBackpropInput: dy has shape [2,4,3,3] but conv2d of an input [2,6,7,7] with filter [4,3,3,3] (stride [1,1], dilation [1,1], pads [0,0,0,0], groups 2) gives [2,4,5,5]',
    );
    expect(() => conv2dBackpropInput(input('dy', [2, 4, 5, 5]), w([4, 3, 3, 3]), { inputShape: [2, 6, 7, 7], groups: 3 })).toThrow(
      'conv2dBackpropInput: the filter [4,3,3,3] has 4 output channels, which 3 groups cannot split evenly',
    );
    expect(() => conv2dBackpropFilter(x([2, 6, 7, 7]), input('dy', [2, 4, 5, 5]), { filterShape: [4, 6, 3, 3], groups: 2 })).toThrow(
      'conv2dBackpropFilter: input has 6 channels, 3 for each of the 2 groups, but the filter expects 6',
    );
    expect(() => conv2dBackpropFilter(x([2, 6, 7, 7]), input('dy', [2, 4, 5, 5]), { filterShape: [4, 3, 3, 3], groups: -2 })).toThrow(
      'conv2dBackpropFilter: groups must be an integer >= 1, got -2',
    );
    expect(conv2dBackpropFilter(x([2, 6, 7, 7]), input('dy', [2, 4, 5, 5]), { filterShape: [4, 3, 3, 3], groups: 2 }).shape).toEqual([4, 3, 3, 3]);
  });

  it('names mismatches in the backprop ops', () => {
    const dy = input('dy', [2, 4, 3, 3]);
    expect(() => conv2dBackpropInput(dy, w([4, 3, 3, 3]), { inputShape: [2, 3, 7, 7] })).toThrow(
      'conv2dBackpropInput: dy has shape [2,4,3,3] but conv2d of an input [2,3,7,7] with filter [4,3,3,3] (stride [1,1], dilation [1,1], pads [0,0,0,0]) gives [2,4,5,5]',
    );
    expect(() => conv2dBackpropInput(dy, w([4, 3, 3, 3]), { inputShape: [2, 3, 7, 7], stride: 2 })).not.toThrow();
    expect(() => conv2dBackpropInput(dy, w([4, 2, 3, 3]), { inputShape: [2, 3, 7, 7], stride: 2 })).toThrow(
      'conv2dBackpropInput: inputShape [2,3,7,7] has 3 channels but the filter expects 2 (filter shape [4,2,3,3])',
    );
    expect(() => conv2dBackpropInput(dy, w([4, 3, 3, 3]), { inputShape: [3, 7, 7] })).toThrow(
      'conv2dBackpropInput: inputShape must have rank 4 [N,C,H,W], got shape [3,7,7]',
    );
    expect(() => conv2dBackpropFilter(x([2, 3, 7, 7]), dy, { filterShape: [4, 3, 3, 3], padding: 'same' })).toThrow(
      'conv2dBackpropFilter: dy has shape [2,4,3,3] but conv2d of the input [2,3,7,7] with a filter [4,3,3,3] (stride [1,1], dilation [1,1], pads [1,1,1,1]) gives [2,4,7,7]',
    );
    expect(() => conv2dBackpropFilter(x([2, 3, 7, 7]), dy, { filterShape: [4, 3, 3, 3], padding: 'same', stride: [0, 1] })).toThrow(
      'conv2dBackpropFilter: stride must be an integer >= 1',
    );
  });
});

describe('conv2dMaxPool (the fused maxPool2d(relu(conv2d)) that compile makes)', () => {
  const fused = (x: Tensor, w: Tensor, b: Tensor, pool: number, groups: number): Tensor => {
    const c = conv2d(x, w, { bias: b, groups });
    return conv2dMaxPool(makeNode(conv2dOp, c.inputs, { ...c.attrs, relu: true }), pool2dAttrs('test', c, { size: pool }));
  };
  const unfused = (x: Tensor, w: Tensor, b: Tensor, pool: number, groups: number): Tensor => maxPool2d(relu(conv2d(x, w, { bias: b, groups })), { size: pool });

  it('equals the unfused expression, and its gradient matches central differences (grouped too)', () => {
    fc.assert(
      // groups 3 with one input channel each is depthwise
      fc.property(fc.integer({ min: 1, max: 3 }), fc.constantFrom(1, 3), fc.integer({ min: 2, max: 3 }), seedArb, (c, groups, pool, seed) => {
        const xs = [2, c * groups, 7, 6];
        const ws = [3, c, 2, 3];
        const feeds = { x: Float64Array.from(randomValues(size(xs), seed)), w: Float64Array.from(randomValues(size(ws), seed + 1)), b: Float64Array.from(randomValues(3, seed + 2)) };
        const [x, w, b] = [input('x', xs), input('w', ws), input('b', [3])];
        const got = run1(fused(x, w, b, pool, groups), feeds);
        const want = run1(unfused(x, w, b, pool, groups), feeds);
        expect(got.shape).toEqual(want.shape);
        got.data.forEach((v, i) => expect(v).toBeCloseTo(want.data[i], 12));
        expectGradientsMatch((x, w, b) => fused(x, w, b, pool, groups), [
          { shape: xs, data: feeds.x },
          { shape: ws, data: feeds.w },
          { shape: [3], data: feeds.b },
        ]);
      }),
      { numRuns: Math.ceil(propertyRuns / 3) },
    );
  });
});
