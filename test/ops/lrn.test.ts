/**
 * localResponseNorm (AlexNet's local response normalisation across
 * channels) and globalAvgPool2d, the builders made of existing ops: against
 * naive loops written from their formulas, by hand, and with fast-check
 * gradient properties; their errors.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/backend/compile.js';
import { topologicalOrder, type Tensor } from '../../src/graph/tensor.js';
import { globalAvgPool2d } from '../../src/ops/globalPool.js';
import { input } from '../../src/ops/input.js';
import { localResponseNorm, type LocalResponseNormOptions } from '../../src/ops/lrn.js';
import { expectGradientsMatch, propertyRuns, randomValues, seedArb, striateError } from '../helpers.js';

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function evaluate(f: (x: Tensor) => Tensor, shape: readonly number[], data: Float64Array): { shape: readonly number[]; data: Float64Array } {
  const [y] = compile(f(input('x', shape))).runSync({ x: data });
  return { shape: y.shape, data: y.data as Float64Array };
}

/**
 * The oracle, straight from the formula: for every image n, channel c and
 * position p, b = a / (k + alpha/size · Σ_{c' = c − ⌊size/2⌋}^{c + ⌊(size−1)/2⌋} a_{c'}²)^beta,
 * the sum over the channels that exist (zero padding).
 */
function lrnOracle(shape: readonly number[], a: Float64Array, { size, alpha, beta, k }: Required<LocalResponseNormOptions>): Float64Array {
  const [N, C] = shape;
  const P = sizeOf(shape.slice(2));
  const at = (n: number, c: number, p: number) => (n * C + c) * P + p;
  const out = new Float64Array(a.length);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let p = 0; p < P; p++) {
        let s = 0;
        for (let j = c - Math.floor(size / 2); j <= c + Math.floor((size - 1) / 2); j++) if (j >= 0 && j < C) s += a[at(n, j, p)] ** 2;
        out[at(n, c, p)] = a[at(n, c, p)] / (k + (alpha / size) * s) ** beta;
      }
  return out;
}

const lrnShapeArb = fc.oneof(
  fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
  fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 7 })),
  fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 4 })),
);
/** A number in [min, max] on a grid (fast-check's doubles crowd towards tiny magnitudes, where the normalisation does nothing). */
const evenly = (min: number, max: number, steps = 1000): fc.Arbitrary<number> => fc.integer({ min: 0, max: steps }).map((j) => min + ((max - min) * j) / steps);
const lrnParamsArb = fc.record({
  size: fc.integer({ min: 1, max: 8 }),
  alpha: evenly(0, 3),
  beta: evenly(0, 1.5),
  k: evenly(0.25, 3),
});

describe('localResponseNorm', () => {
  it('matches a naive loop over the formula: any size (odd, even, wider than the channels), alpha, beta, k, rank 2 to 4', () => {
    fc.assert(
      fc.property(lrnShapeArb, lrnParamsArb, seedArb, (shape, params, seed) => {
        const data = randomValues(sizeOf(shape), seed).map((v) => 2 * v);
        const y = evaluate((x) => localResponseNorm(x, params), shape, data);
        expect(y.shape).toEqual(shape);
        const want = lrnOracle(shape, data, params);
        y.data.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(want[i]))));
      }),
      { numRuns: propertyRuns },
    );
  });

  it('by hand: three channels, size 3, alpha / size = 1, beta = 1, k = 1', () => {
    // a = [1, 2, 3] at one position: sums of squares over the windows [0,1], [0,2], [1,2] are 5, 14, 13.
    const y = evaluate((x) => localResponseNorm(x, { size: 3, alpha: 3, beta: 1, k: 1 }), [1, 3, 1, 1], Float64Array.from([1, 2, 3]));
    expect(Array.from(y.data)).toEqual([1 / 6, 2 / 15, 3 / 14].map((v) => expect.closeTo(v, 14)));
  });

  it('divides alpha by size (Caffe and PyTorch): size 1 is a / (k + alpha a²)^beta', () => {
    const a = Float64Array.from([0.5, -2, 3]);
    const y = evaluate((x) => localResponseNorm(x, { size: 1, alpha: 0.5, beta: 0.75, k: 2 }), [1, 3], a);
    y.data.forEach((v, i) => expect(v).toBeCloseTo(a[i] / (2 + 0.5 * a[i] ** 2) ** 0.75, 14));
  });

  it("defaults to AlexNet's numbers, size 5, alpha 1e-4, beta 0.75, k 2, and is made of existing ops", () => {
    const shape = [2, 7, 3, 3];
    const data = randomValues(sizeOf(shape), 3).map((v) => 40 * v);
    const byDefault = evaluate((x) => localResponseNorm(x), shape, data).data;
    expect(byDefault).toEqual(evaluate((x) => localResponseNorm(x, { size: 5, alpha: 1e-4, beta: 0.75, k: 2 }), shape, data).data);
    expect(Array.from(byDefault)).toEqual(Array.from(lrnOracle(shape, data, { size: 5, alpha: 1e-4, beta: 0.75, k: 2 }), (v) => expect.closeTo(v, 12)));
    const ops = new Set(topologicalOrder([localResponseNorm(input('x', shape))]).map((t) => t.op));
    expect([...ops].sort()).toEqual(['add', 'avgPool2d', 'constant', 'input', 'mul', 'pow', 'reshape']);
  });

  it('has a VJP and a JVP that match central differences', () => {
    fc.assert(
      fc.property(lrnShapeArb, lrnParamsArb, seedArb, (shape, params, seed) => {
        expectGradientsMatch((x) => localResponseNorm(x, params), [{ shape, data: randomValues(sizeOf(shape), seed).map((v) => 2 * v) }], { fullJacobianUpTo: 40 });
      }),
      { numRuns: Math.max(4, Math.ceil(propertyRuns / 2)) },
    );
  });

  it('refuses bad options and an input without channels, naming what is wrong', () => {
    const x = input('x', [1, 4, 2, 2]);
    expect(striateError(() => localResponseNorm(x, { size: 0 }), 'localResponseNorm')).toMatchObject({
      message: 'localResponseNorm: size must be a positive integer, got 0',
      got: 'size 0',
      expected: 'a positive integer',
    });
    expect(striateError(() => localResponseNorm(x, { size: 2.5 })).message).toBe('localResponseNorm: size must be a positive integer, got 2.5');
    expect(striateError(() => localResponseNorm(x, { alpha: -1 })).message).toBe('localResponseNorm: alpha must be a finite number >= 0, got -1');
    expect(striateError(() => localResponseNorm(x, { beta: NaN })).message).toBe('localResponseNorm: beta must be a finite number in [0, 16777216], got number NaN');
    expect(striateError(() => localResponseNorm(x, { k: 0 })).message).toBe('localResponseNorm: k must be a finite number > 0, got 0');
    expect(striateError(() => localResponseNorm(x, { bias: 1 } as never)).message).toMatch(/^localResponseNorm: unknown option "bias"; the options are "size", "alpha", "beta", "k"/);
    expect(striateError(() => localResponseNorm(input('v', [5])))).toMatchObject({
      message: 'localResponseNorm: needs an input [N, C, ...] of rank >= 2 (channels on axis 1), got shape [5]',
      got: 'shape [5]',
    });
    expect(striateError(() => localResponseNorm([1, 2] as never)).message).toMatch(/^localResponseNorm: x must be a Tensor/);
  });
});

describe('globalAvgPool2d', () => {
  it('is the mean of each channel over its whole map, [N, C, H, W] to [N, C]', () => {
    fc.assert(
      fc.property(fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 })), seedArb, (shape, seed) => {
        const [N, C, H, W] = shape;
        const data = randomValues(sizeOf(shape), seed);
        const y = evaluate(globalAvgPool2d, shape, data);
        expect(y.shape).toEqual([N, C]);
        for (let p = 0; p < N * C; p++) {
          let s = 0;
          for (let j = 0; j < H * W; j++) s += data[p * H * W + j];
          expect(y.data[p]).toBeCloseTo(s / (H * W), 13);
        }
      }),
      { numRuns: propertyRuns },
    );
  });

  it('has a VJP and a JVP that match central differences (g / (H·W) over each map)', () => {
    fc.assert(
      fc.property(fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })), seedArb, (shape, seed) => {
        expectGradientsMatch(globalAvgPool2d, [{ shape, data: randomValues(sizeOf(shape), seed) }]);
      }),
      { numRuns: propertyRuns },
    );
  });

  it('refuses an input that is not [N, C, H, W]', () => {
    expect(striateError(() => globalAvgPool2d(input('x', [2, 3, 4])), 'globalAvgPool2d')).toMatchObject({
      message: 'globalAvgPool2d: needs an input [N, C, H, W] of rank 4, got shape [2,3,4]',
      got: 'shape [2,3,4]',
      expected: 'rank 4 [N, C, H, W]',
    });
    expect(striateError(() => globalAvgPool2d(null as never)).message).toMatch(/^globalAvgPool2d: x must be a Tensor, got null/);
  });
});
