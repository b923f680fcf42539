import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile, grad, input, mul, sum } from '../../src/index.js';
import type { Shape, Tensor } from '../../src/index.js';
import type { Pool2dAttrs } from '../../src/ops/attrs.js';
import { avgPool2d } from '../../src/ops/avgPool2d.js';
import { avgPool2dBackward } from '../../src/ops/avgPool2dBackward.js';
import { maxPool2d } from '../../src/ops/maxPool2d.js';
import type { Pool2dOptions } from '../../src/ops/pool2dGeometry.js';
import { maxPool2dBackward } from '../../src/ops/maxPool2dBackward.js';
import { maxPool2dSelect } from '../../src/ops/maxPool2dSelect.js';
import { distinctValues, expectGradientsMatch, propertyRuns, randomValues } from '../helpers.js';

const size = (s: Shape): number => s.reduce((a, b) => a * b, 1);

/** Run a graph of one output on the reference backend, feeding only the inputs it reads (a mean-pool gradient does not read x). */
async function run(y: Tensor, feeds: Record<string, ArrayLike<number>>): Promise<number[]> {
  const f = compile(y);
  const [r] = await f.run(Object.fromEntries(f.inputs.map(({ name }) => [name, feeds[name]])));
  expect(r.shape).toEqual([...y.shape]);
  return Array.from(r.data);
}

// The lecture's map (section 7): its 2x2 means at stride 2 are 3.25, 5.25, 2, 2.
const lectureMap = [1, 1, 2, 4, 5, 6, 7, 8, 3, 2, 1, 0, 1, 2, 3, 4];

describe('maxPool2d and avgPool2d: hand goldens', () => {
  it('2x2 windows at stride 2 on the lecture 4x4 map: maxes 6, 8, 3, 4 and means 3.25, 5.25, 2, 2', async () => {
    const x = input('x', [1, 1, 4, 4]);
    const p = maxPool2d(x, { size: 2 });
    expect(p.shape).toEqual([1, 1, 2, 2]);
    expect(await run(p, { x: lectureMap })).toEqual([6, 8, 3, 4]);
    expect(await run(avgPool2d(x, { size: 2, stride: 2 }), { x: lectureMap })).toEqual([3.25, 5.25, 2, 2]);
  });

  it('routes the max-pool gradient to each window argmax, and spreads the mean-pool gradient evenly', async () => {
    const x = input('x', [1, 1, 4, 4]);
    const c = input('c', [1, 1, 2, 2]);
    const cv = [1, 2, 3, 4];
    const [gMax] = grad(sum(mul(maxPool2d(x, { size: 2 }), c)), [x]);
    // argmaxes: 6 at (1,1), 8 at (1,3), 3 at (2,0), 4 at (3,3)
    expect(await run(gMax, { x: lectureMap, c: cv })).toEqual([
      0, 0, 0, 0,
      0, 1, 0, 2,
      3, 0, 0, 0,
      0, 0, 0, 4,
    ]);
    const [gAvg] = grad(sum(mul(avgPool2d(x, { size: 2 }), c)), [x]);
    expect(await run(gAvg, { x: lectureMap, c: cv })).toEqual([
      0.25, 0.25, 0.5, 0.5,
      0.25, 0.25, 0.5, 0.5,
      0.75, 0.75, 1, 1,
      0.75, 0.75, 1, 1,
    ]);
  });

  it('gives a tied window gradient to its first maximum in row-major order only', async () => {
    const x = input('x', [1, 1, 2, 4]);
    // left window: 5 at (0,0), (0,1), (1,0); right window: 7 at (0,3), (1,2), (1,3)
    const xv = [5, 5, 1, 7, 5, 1, 7, 7];
    const p = maxPool2d(x, { size: 2 });
    expect(await run(p, { x: xv })).toEqual([5, 7]);
    const [g] = grad(sum(mul(p, input('c', [1, 1, 1, 2]))), [x]);
    expect(await run(g, { x: xv, c: [10, 20] })).toEqual([10, 0, 0, 20, 0, 0, 0, 0]);
  });

  it('pools overlapping 3x3 windows at stride 2 (AlexNet), where one cell can win several windows', async () => {
    const a = [
      1, 2, 3, 4, 5,
      6, 9, 8, 7, 0,
      1, 2, 3, 4, 5,
      0, 1, 2, 3, 9,
      5, 4, 3, 2, 1,
    ];
    const x = input('x', [1, 1, 5, 5]);
    const c = input('c', [1, 1, 2, 2]);
    const p = maxPool2d(x, { size: 3, stride: 2 });
    expect(p.shape).toEqual([1, 1, 2, 2]);
    expect(await run(p, { x: a })).toEqual([9, 8, 5, 9]);
    const [g] = grad(sum(mul(p, c)), [x]);
    const expected = new Array(25).fill(0);
    [expected[6], expected[7], expected[20], expected[19]] = [1, 2, 3, 4];
    expect(await run(g, { x: a, c: [1, 2, 3, 4] })).toEqual(expected);

    // The centre cell lies in all four windows; make it the maximum of each: it collects every gradient.
    const b = [...a];
    b[12] = 20;
    expect(await run(p, { x: b })).toEqual([20, 20, 20, 20]);
    const centre = new Array(25).fill(0);
    centre[12] = 10;
    expect(await run(g, { x: b, c: [1, 2, 3, 4] })).toEqual(centre);

    const q = avgPool2d(x, { size: 3, stride: 2 });
    const means = await run(q, { x: a });
    [35 / 9, 39 / 9, 21 / 9, 32 / 9].forEach((m, i) => expect(means[i]).toBeCloseTo(m, 14));
    // each cell receives 1/9 per window covering it: rows and column 2 are covered twice
    const [ga] = grad(sum(q), [x]);
    const cover = [1, 1, 2, 1, 1];
    const gv = await run(ga, { x: a });
    gv.forEach((v, k) => expect(v).toBeCloseTo((cover[Math.floor(k / 5)] * cover[k % 5]) / 9, 14));
  });

  it('leaves the stride leftovers (cells no window reads) with a zero gradient', async () => {
    const x = input('x', [1, 1, 3, 3]);
    const xv = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    const p = maxPool2d(x, { size: 2 });
    expect(p.shape).toEqual([1, 1, 1, 1]);
    expect(await run(grad(sum(p), [x])[0], { x: xv })).toEqual([0, 0, 0, 0, 1, 0, 0, 0, 0]);
    expect(await run(grad(sum(avgPool2d(x, { size: 2 })), [x])[0], { x: xv })).toEqual([0.25, 0.25, 0, 0.25, 0.25, 0, 0, 0, 0]);
  });

  it('divides a padded border mean by the cells inside the input (default) or by the whole window (countIncludePad)', async () => {
    const x = input('x', [1, 1, 3, 3]);
    const xv = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    // window sums with padding 1: corners hold 4 input cells, edges 6, the centre 9
    const sums = [12, 21, 16, 27, 45, 33, 24, 39, 28];
    const inside = await run(avgPool2d(x, { size: 3, stride: 1, padding: 1 }), { x: xv });
    [3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7].forEach((m, i) => expect(inside[i]).toBeCloseTo(m, 14));
    const whole = await run(avgPool2d(x, { size: 3, stride: 1, padding: 1, countIncludePad: true }), { x: xv });
    sums.forEach((s, i) => expect(whole[i]).toBeCloseTo(s / 9, 14));
    // the default keeps a constant map constant at the border; countIncludePad pulls it towards 0
    const ones = new Array(9).fill(1);
    expect(await run(avgPool2d(x, { size: 3, stride: 1, padding: 'same' }), { x: ones })).toEqual(ones);
    const shrunk = await run(avgPool2d(x, { size: 2, stride: 2, padding: 'same', countIncludePad: true }), { x: ones });
    expect(shrunk).toEqual([1, 0.5, 0.5, 0.25]);
  });

  it('pads 2x2/2 "same" at the end only, and never selects a padded cell for the maximum', async () => {
    const x = input('x', [1, 1, 3, 3]);
    const neg = [-1, -2, -3, -4, -5, -6, -7, -8, -9];
    const p = maxPool2d(x, { size: 2, padding: 'same' });
    expect(p.attrs.pads).toEqual([0, 1, 0, 1]);
    expect(p.shape).toEqual([1, 1, 2, 2]);
    expect(await run(p, { x: neg })).toEqual([-1, -3, -7, -9]);
    expect(await run(avgPool2d(x, { size: 2, padding: 'same' }), { x: neg })).toEqual([-3, -4.5, -7.5, -9]);
    // a 3x3 window with padding 1 around an all-negative map: padded zeros would win if they counted
    expect(await run(maxPool2d(x, { size: 3, stride: 1, padding: 1 }), { x: neg })).toEqual([-1, -1, -2, -1, -1, -2, -4, -4, -5]);
  });

  it('pools every image and channel separately, with rectangular windows and strides', async () => {
    const x = input('x', [2, 3, 4, 6]);
    const xv = randomValues(144, 3);
    const p = maxPool2d(x, { size: [2, 3], stride: [2, 3] });
    expect(p.shape).toEqual([2, 3, 2, 2]);
    const out = await run(p, { x: xv });
    for (let plane = 0; plane < 6; plane++)
      for (let oy = 0; oy < 2; oy++)
        for (let ox = 0; ox < 2; ox++) {
          let m = -Infinity;
          for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) m = Math.max(m, xv[plane * 24 + (oy * 2 + i) * 6 + ox * 3 + j]);
          expect(out[plane * 4 + oy * 2 + ox]).toBe(m);
        }
  });
});

// ---------------------------------------------------------------------------
// Random pooling configurations: batch 1-3, channels 1-4, spatial 1-12,
// windows 1-4, strides 1-3 (overlapping, touching and gapped), every padding mode.

interface PoolCase {
  shape: [number, number, number, number];
  options: Pool2dOptions;
  countIncludePad: boolean;
  seed: number;
}

const paddingModes = ['omitted', 'valid', 'same', 'number', 'pair', 'quad'] as const;

const poolCaseArb: fc.Arbitrary<PoolCase> = fc
  .record({
    n: fc.integer({ min: 1, max: 3 }),
    c: fc.integer({ min: 1, max: 4 }),
    h: fc.integer({ min: 1, max: 12 }),
    w: fc.integer({ min: 1, max: 12 }),
    kh: fc.integer({ min: 1, max: 4 }),
    kw: fc.integer({ min: 1, max: 4 }),
    square: fc.boolean(),
    stride: fc.option(fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })), { freq: 4 }),
    mode: fc.constantFrom(...paddingModes),
    p: fc.array(fc.nat(3), { minLength: 4, maxLength: 4 }),
    countIncludePad: fc.boolean(),
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  })
  .map(({ n, c, h, w, kh, kw: kw0, square, stride, mode, p, countIncludePad, seed }) => {
    const kw = square ? kh : kw0;
    let padding: Pool2dOptions['padding'];
    let pads = [0, 0, 0, 0];
    if (mode === 'valid' || mode === 'same') padding = mode;
    if (mode === 'number') {
      const v = p[0] % Math.min(kh, kw);
      [padding, pads] = [v, [v, v, v, v]];
    } else if (mode === 'pair') {
      const [ph, pw] = [p[0] % kh, p[1] % kw];
      [padding, pads] = [[ph, pw], [ph, ph, pw, pw]];
    } else if (mode === 'quad') {
      pads = [p[0] % kh, p[1] % kh, p[2] % kw, p[3] % kw];
      padding = [pads[0], pads[1], pads[2], pads[3]];
    }
    // the window must fit the padded input ('same' always fits)
    const hh = mode === 'same' ? h : Math.max(h, kh - pads[0] - pads[1]);
    const ww = mode === 'same' ? w : Math.max(w, kw - pads[2] - pads[3]);
    const options: Pool2dOptions = { size: square ? kh : [kh, kw] };
    if (stride !== null) options.stride = stride;
    if (mode !== 'omitted') options.padding = padding;
    return { shape: [n, c, hh, ww] as [number, number, number, number], options, countIncludePad, seed };
  });

/** The attributes the builder derives from a case's options. */
const attrsOf = (k: PoolCase): Pool2dAttrs => maxPool2d(input('probe', k.shape), k.options).attrs;

/**
 * An independent oracle: pooling written the obvious way, visiting every cell
 * of every window (padded ones included) and scattering the gradient.
 */
function naivePool(x: ArrayLike<number>, shape: Shape, a: Pool2dAttrs, countIncludePad: boolean) {
  const [n, c, h, w] = shape;
  const [[kh, kw], [sh, sw], [pt, pb, pl, pr]] = [a.size, a.stride, a.pads];
  const ho = Math.floor((h + pt + pb - kh) / sh) + 1;
  const wo = Math.floor((w + pl + pr - kw) / sw) + 1;
  const max: number[] = [];
  const mean: number[] = [];
  const argmax: number[] = [];
  for (let plane = 0; plane < n * c; plane++)
    for (let oy = 0; oy < ho; oy++)
      for (let ox = 0; ox < wo; ox++) {
        let best = -Infinity;
        let at = -1;
        let total = 0;
        let count = 0;
        for (let dy = 0; dy < kh; dy++)
          for (let dx = 0; dx < kw; dx++) {
            const [i, j] = [oy * sh - pt + dy, ox * sw - pl + dx];
            if (i < 0 || i >= h || j < 0 || j >= w) continue; // padding: -infinity for max, 0 for the mean
            const k = plane * h * w + i * w + j;
            if (x[k] > best) [best, at] = [x[k], k];
            total += x[k];
            count++;
          }
        max.push(best);
        argmax.push(at);
        mean.push(total / (countIncludePad ? kh * kw : count));
      }
  return { outShape: [n, c, ho, wo], max, mean, argmax };
}

const runSeeds = { numRuns: propertyRuns };

describe('maxPool2d and avgPool2d on random configurations', () => {
  it('match the naive oracle forward, "same" gives ceil(in / stride), and ties (small integers) go to the first maximum', async () => {
    await fc.assert(
      fc.asyncProperty(poolCaseArb, async (k) => {
        const a = attrsOf(k);
        // small integers: many ties, which the reference must break exactly as the oracle does
        const xv = randomValues(size(k.shape), k.seed).map((v) => Math.round(v * 3));
        const dyShape = maxPool2d(input('probe', k.shape), k.options).shape;
        const dyv = randomValues(size(dyShape), k.seed + 1);
        const naive = naivePool(xv, k.shape, a, k.countIncludePad);
        expect(dyShape).toEqual(naive.outShape);
        if (k.options.padding === 'same') {
          const [sh, sw] = a.stride;
          expect(dyShape.slice(2)).toEqual([Math.ceil(k.shape[2] / sh), Math.ceil(k.shape[3] / sw)]);
        }
        const x = input('x', k.shape);
        const dy = input('dy', dyShape);
        const f = compile([
          maxPool2d(x, k.options),
          avgPool2d(x, { ...k.options, countIncludePad: k.countIncludePad }),
          maxPool2dBackward(x, dy, a),
          maxPool2dSelect(x, x, a),
        ]);
        const [mx, mean, dx, sel] = await f.run({ x: xv, dy: dyv });
        expect(Array.from(mx.data)).toEqual(naive.max);
        mean.data.forEach((v, i) => expect(v).toBeCloseTo(naive.mean[i], 12));
        const scattered = new Array(size(k.shape)).fill(0);
        naive.argmax.forEach((at, o) => (scattered[at] += dyv[o]));
        dx.data.forEach((v, i) => expect(v).toBeCloseTo(scattered[i], 12));
        expect(Array.from(sel.data)).toEqual(naive.max);
      }),
      runSeeds,
    );
  });

  const gradientCases: [string, (k: PoolCase) => void][] = [
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
        const a = attrsOf(k);
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
        const a = attrsOf(k);
        expectGradientsMatch((x, dx) => maxPool2dSelect(x, dx, a), [
          { shape: k.shape, data: distinctValues(size(k.shape), k.seed) },
          { shape: k.shape, data: randomValues(size(k.shape), k.seed + 1) },
        ]);
      },
    ],
    [
      'avgPool2dBackward wrt dy',
      (k) => {
        const attrs = { ...attrsOf(k), countIncludePad: k.countIncludePad, inputShape: k.shape };
        const dyShape = maxPool2d(input('probe', k.shape), k.options).shape;
        expectGradientsMatch((dy) => avgPool2dBackward(dy, attrs), [{ shape: dyShape, data: randomValues(size(dyShape), k.seed) }]);
      },
    ],
  ];

  it.each(gradientCases)('%s: gradients match central differences (relative error < 1e-6)', (_name, check) => {
    fc.assert(fc.property(poolCaseArb, check), runSeeds);
  });

  it('differentiates twice: the gradient of a max-pool gradient, as a function of x and the cotangent c', () => {
    fc.assert(
      fc.property(poolCaseArb, (k) => {
        const yShape = maxPool2d(input('probe', k.shape), k.options).shape;
        const xv = { shape: k.shape, data: distinctValues(size(k.shape), k.seed) };
        const cv = { shape: yShape, data: randomValues(size(yShape), k.seed + 1) };
        // x, c -> d/dx sum(maxPool2d(x) * c) = maxPool2dBackward(x, c): its VJP runs maxPool2dSelect
        const firstOrder = (x: Tensor, c: Tensor): Tensor => grad(sum(mul(maxPool2d(x, k.options), c)), [x])[0];
        expectGradientsMatch(firstOrder, [xv, cv]);
        // one more level: d/dc sum(firstOrder(x, c) * d) = maxPool2dSelect(x, d), whose VJP runs maxPool2dBackward
        const dv = { shape: k.shape, data: randomValues(size(k.shape), k.seed + 2) };
        expectGradientsMatch((x, c, d) => grad(sum(mul(firstOrder(x, c), d)), [c])[0], [xv, cv, dv]);
        // and through mean pooling
        const opts = { ...k.options, countIncludePad: k.countIncludePad };
        expectGradientsMatch((x, c) => grad(sum(mul(avgPool2d(x, opts), c)), [x])[0], [xv, cv]);
      }),
      { ...runSeeds, numRuns: Math.ceil(propertyRuns / 2) },
    );
  });
});

describe('pooling errors name the op, what it got and what it expected', () => {
  const x = input('x', [1, 2, 4, 4]);

  it('rejects an input that is not [N, C, H, W]', () => {
    expect(() => maxPool2d(input('v', [4, 4]), { size: 2 })).toThrow('maxPool2d: input must have rank 4 [N, C, H, W], got shape [4,4] (rank 2)');
    expect(() => avgPool2d(input('v', [1, 1, 1, 4, 4]), { size: 2 })).toThrow(
      'avgPool2d: input must have rank 4 [N, C, H, W], got shape [1,1,1,4,4] (rank 5)',
    );
    expect(() => maxPool2d([1, 2] as never, { size: 2 })).toThrow('maxPool2d: the input must be a Tensor, got an array of 2');
  });

  it('rejects a window larger than the padded input', () => {
    expect(() => maxPool2d(x, { size: 5 })).toThrow(/^maxPool2d: the 5x5 pooling window is larger than the padded input 4x4 \(input 4x4, pads top 0, bottom 0, left 0, right 0\)/);
    expect(() => avgPool2d(x, { size: [2, 7], padding: [1, 1] })).toThrow(/^avgPool2d: the 2x7 pooling window is larger than the padded input 6x6/);
  });

  it('rejects a stride or size that is zero, negative or not an integer', () => {
    expect(() => maxPool2d(x, { size: 2, stride: 0 })).toThrow(/^maxPool2d: stride must be an integer >= 1 or a pair \[h, w\] of them, got 0$/);
    expect(() => avgPool2d(x, { size: 2, stride: 1.5 })).toThrow(/^avgPool2d: stride must be an integer >= 1 .*got 1\.5$/);
    expect(() => maxPool2d(x, { size: 2, stride: [1, -1] })).toThrow(/^maxPool2d: stride must be an integer >= 1 .*got \[1,-1\]$/);
    expect(() => maxPool2d(x, { size: 0 })).toThrow(/^maxPool2d: size must be an integer >= 1 .*got 0$/);
    expect(() => maxPool2d(x, {} as never)).toThrow(/^maxPool2d: size must be an integer >= 1 .*got undefined$/);
    expect(() => maxPool2d(x, undefined as never)).toThrow('maxPool2d: options must be an object such as { size: 2 }, got undefined');
  });

  it('rejects negative or malformed padding', () => {
    expect(() => avgPool2d(x, { size: 2, padding: -1 })).toThrow(/^avgPool2d: padding must be 'valid', 'same', an integer >= 0.*got -1$/);
    expect(() => maxPool2d(x, { size: 3, padding: [1, -1] })).toThrow(/^maxPool2d: padding must be .*got \[1,-1\]$/);
    expect(() => maxPool2d(x, { size: 3, padding: 'full' as never })).toThrow(/^maxPool2d: padding must be .*got "full"$/);
  });

  it('rejects padding as large as the window, where a window could hold only padding', () => {
    expect(() => maxPool2d(x, { size: 2, padding: 2 })).toThrow(
      'maxPool2d: padding [top 2, bottom 2, left 2, right 2] must be smaller than the 2x2 window on each side ' +
        '(at most 1 rows and 1 columns), or a window could lie wholly in the padding',
    );
    expect(() => avgPool2d(x, { size: [3, 2], padding: [0, 2] })).toThrow(
      /^avgPool2d: padding \[top 0, bottom 0, left 2, right 2\] must be smaller than the 3x2 window/,
    );
  });

  it('rejects a countIncludePad that is not a boolean', () => {
    expect(() => avgPool2d(x, { size: 2, countIncludePad: 1 as never })).toThrow('avgPool2d: countIncludePad must be true or false, got 1');
  });

  it('rejects backward inputs of the wrong shapes', () => {
    const a = maxPool2d(x, { size: 2 }).attrs;
    expect(() => maxPool2dBackward(x, input('dy', [1, 2, 3, 3]), a)).toThrow(
      'maxPool2dBackward: dy has shape [1,2,3,3] but pooling x [1,2,4,4] gives [1,2,2,2]; dy must have that shape',
    );
    expect(() => maxPool2dSelect(x, input('dx', [1, 2, 2, 2]), a)).toThrow(
      'maxPool2dSelect: dx has shape [1,2,2,2] but x has shape [1,2,4,4]; they must be equal',
    );
    const attrs = { ...a, countIncludePad: false, inputShape: [1, 2, 4, 4] };
    expect(() => avgPool2dBackward(input('dy', [1, 2, 4, 4]), attrs)).toThrow(
      'avgPool2dBackward: dy has shape [1,2,4,4] but pooling an input of shape [1,2,4,4] gives [1,2,2,2]; dy must have that shape',
    );
    expect(() => avgPool2dBackward(input('dy', [1, 2, 2, 2]), { ...attrs, inputShape: [2, 4, 4] })).toThrow(
      'avgPool2dBackward: inputShape must have rank 4 [N, C, H, W], got shape [2,4,4] (rank 3)',
    );
    expect(() => maxPool2dBackward(x, input('dy', [1, 2, 2, 2]), { ...a, stride: [0, 2] })).toThrow(
      'maxPool2dBackward: stride must be a pair [h, w] of integers >= 1, got [0,2]',
    );
    expect(() => maxPool2dSelect(x, x, { ...a, pads: [0, 0, -1, 0] })).toThrow(/^maxPool2dSelect: pads must be four integers >= 0/);
  });
});
