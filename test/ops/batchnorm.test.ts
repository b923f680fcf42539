/**
 * Batch normalisation, a composite of ops: forward against a loop written
 * from the formula, the gradient through the batch statistics (VJP and JVP)
 * against central differences, the inference form and the statistics kept
 * for running averages, and its errors.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile, input, type Tensor } from '../../src/index.js';
import { batchNorm, batchNormInference, batchNormTraining } from '../../src/ops/batchNorm.js';
import { expectGradientsMatch, propertyRuns, randomValues, seedArb, striateError } from '../helpers.js';

const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** y[n,c,p] = gamma[c] (x[n,c,p] - mean_c) / sqrt(var_c + eps) + beta[c], statistics over n and p. */
function oracle(x: Float64Array, shape: number[], gamma: Float64Array, beta: Float64Array, eps: number, stats?: { mean: Float64Array; variance: Float64Array }) {
  const [N, C] = shape;
  const P = shape.length === 4 ? shape[2] * shape[3] : 1;
  const at = (n: number, c: number, p: number) => (n * C + c) * P + p;
  const y = new Float64Array(x.length);
  const means = new Float64Array(C);
  const unbiased = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) for (let p = 0; p < P; p++) s += x[at(n, c, p)];
    const m = s / (N * P);
    let q = 0;
    for (let n = 0; n < N; n++) for (let p = 0; p < P; p++) q += (x[at(n, c, p)] - m) ** 2;
    const v = q / (N * P);
    means[c] = m;
    unbiased[c] = q / (N * P - 1);
    const useM = stats ? stats.mean[c] : m;
    const useV = stats ? stats.variance[c] : v;
    for (let n = 0; n < N; n++) for (let p = 0; p < P; p++) y[at(n, c, p)] = (gamma[c] * (x[at(n, c, p)] - useM)) / Math.sqrt(useV + eps) + beta[c];
  }
  return { y, means, unbiased };
}

const shapeArb = fc.oneof(
  fc.tuple(fc.integer({ min: 2, max: 5 }), fc.integer({ min: 1, max: 4 })).map(([n, c]) => [n, c]),
  fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 2, max: 4 })).map((s) => [...s]),
);

const run = (outs: Tensor[], feeds: Record<string, Float64Array>) => compile(outs).runSync(feeds).map((r) => r.data);

describe('batchNorm', () => {
  it('matches the formula: output, batch mean and unbiased variance, and the inference form', () => {
    fc.assert(
      fc.property(shapeArb, seedArb, fc.constantFrom(1e-5, 0.1), (shape, seed, epsilon) => {
        const C = shape[1];
        const xv = randomValues(size(shape), seed).map((v) => 3 * v + 1);
        const gv = randomValues(C, seed + 1);
        const bv = randomValues(C, seed + 2);
        const [x, g, b] = [input('x', shape), input('g', [C]), input('b', [C])];
        const t = batchNormTraining(x, g, b, { epsilon });
        const [y, m, v] = run([t.output, t.mean, t.variance], { x: xv, g: gv, b: bv });
        const want = oracle(xv, shape, gv, bv, epsilon);
        y.forEach((val, i) => expect(val).toBeCloseTo(want.y[i], 10));
        m.forEach((val, i) => expect(val).toBeCloseTo(want.means[i], 12));
        v.forEach((val, i) => expect(val).toBeCloseTo(want.unbiased[i], 10));
        const mv = randomValues(C, seed + 3);
        const vv = randomValues(C, seed + 4).map((q) => 0.5 + Math.abs(q));
        const [yi] = run([batchNormInference(x, g, b, input('m', [C]), input('v', [C]), { epsilon })], { x: xv, g: gv, b: bv, m: mv, v: vv });
        const wantI = oracle(xv, shape, gv, bv, epsilon, { mean: mv, variance: vv });
        yi.forEach((val, i) => expect(val).toBeCloseTo(wantI.y[i], 10));
      }),
      { numRuns: propertyRuns },
    );
  });

  it('has the gradient through the batch statistics (VJP and JVP against central differences)', () => {
    fc.assert(
      fc.property(shapeArb, seedArb, (shape, seed) => {
        const C = shape[1];
        expectGradientsMatch((x, g, b) => batchNorm(x, g, b, { epsilon: 0.01 }), [
          { shape, data: randomValues(size(shape), seed) },
          { shape: [C], data: randomValues(C, seed + 1) },
          { shape: [C], data: randomValues(C, seed + 2) },
        ], { rtol: 1e-5 });
      }),
      { numRuns: propertyRuns },
    );
  });

  it('normalises: each channel of the output has mean beta and variance gamma^2 (up to epsilon)', () => {
    const shape = [4, 3, 2, 2];
    const xv = randomValues(size(shape), 9).map((v) => 10 * v - 4);
    const [y] = run([batchNorm(input('x', shape), input('g', [3]), input('b', [3]), { epsilon: 1e-9 })], { x: xv, g: Float64Array.of(1, 2, 0.5), b: Float64Array.of(0, -1, 3) });
    const got = oracle(y, shape, Float64Array.of(1, 1, 1), Float64Array.of(0, 0, 0), 0);
    [0, -1, 3].forEach((beta, c) => expect(got.means[c]).toBeCloseTo(beta, 9));
    [1, 4, 0.25].forEach((g2, c) => expect((got.unbiased[c] * 15) / 16).toBeCloseTo(g2, 6));
  });

  it('refuses a wrong rank, per-channel vectors of the wrong shape, one value per channel and a bad epsilon', () => {
    const x = input('x', [2, 3, 4, 4]);
    const c = input('c', [3]);
    expect(striateError(() => batchNorm(input('x3', [2, 3, 4]), c, c), 'batchNorm').message).toContain('x must be [N, C] or [N, C, H, W], got [2,3,4]');
    expect(striateError(() => batchNorm(x, input('g', [4]), c), 'batchNorm').message).toContain('gamma must have shape [3]');
    expect(striateError(() => batchNormInference(x, c, c, c, input('v', [3, 1])), 'batchNorm').message).toContain('variance must have shape [3]');
    expect(striateError(() => batchNorm(input('one', [1, 3]), c, c), 'batchNorm').message).toContain('one value per channel');
    expect(striateError(() => batchNorm(x, c, c, { epsilon: 0 }), 'batchNorm').expected).toBe('a finite number > 0');
    expect(striateError(() => batchNorm(x, c, c, { eps: 1 } as never), 'batchNorm').got).toBe('option "eps"');
  });
});
