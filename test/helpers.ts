/**
 * Shared tools of the op tests: random values kept away from kinks and ties,
 * and the gradient property used by every op's test file.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { StriateError } from '../src/graph/error.js';
import type { Tensor } from '../src/graph/tensor.js';
import type { Shape } from '../src/graph/tensor.js';
import { sizeOf } from '../src/graph/tensor.js';
import { checkGradients, type CheckGradientsOptions } from '../src/autodiff/check.js';

/** Deterministic values in [-1, 1] from a seed (mulberry32). */
export function randomValues(n: number, seed: number): Float64Array {
  let a = seed >>> 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/**
 * Distinct values whose pairwise gaps are at least `gap`, shuffled, in about
 * [-span/2, span/2], and none within gap/2 of zero: no ReLU kinks, no max ties.
 */
export function distinctValues(n: number, seed: number, gap = 0.01): Float64Array {
  const r = randomValues(n, seed);
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => r[i] - r[j]);
  const out = new Float64Array(n);
  order.forEach((idx, rank) => {
    let v = (rank - n / 2 + 0.5) * gap;
    out[idx] = v;
  });
  return out;
}

export const seedArb = fc.integer({ min: 1, max: 2 ** 31 - 1 });

/** Shape arbitrary: rank in [minRank, maxRank], dims in [1, maxDim]. */
export const shapeArb = (minRank = 0, maxRank = 3, maxDim = 4): fc.Arbitrary<number[]> =>
  fc.array(fc.integer({ min: 1, max: maxDim }), { minLength: minRank, maxLength: maxRank });

export function value(shape: Shape, seed: number): { shape: Shape; data: Float64Array } {
  return { shape, data: randomValues(sizeOf(shape), seed) };
}

/** The gradient property: dot-product test plus the full Jacobian for small sizes, relative error < 1e-6. */
export function expectGradientsMatch(
  fn: (...xs: Tensor[]) => Tensor,
  inputs: readonly { shape: Shape; data: ArrayLike<number> }[],
  options: CheckGradientsOptions = {},
): void {
  checkGradients(fn, inputs, { rtol: 1e-6, directions: 2, fullJacobianUpTo: 60, ...options });
}

export const propertyRuns = Number(process.env.STRIATE_PROPERTY_RUNS ?? 60);

/** The StriateError `f` throws (from `op`, when given); fails the test when `f` throws anything else or nothing. */
export function striateError(f: () => unknown, op?: string): StriateError {
  let error: unknown = null;
  try {
    f();
  } catch (e) {
    error = e;
  }
  expect(error, 'expected a StriateError, but nothing was thrown').not.toBeNull();
  expect(error).toBeInstanceOf(StriateError);
  if (op !== undefined) expect((error as StriateError).op).toBe(op);
  return error as StriateError;
}
