/**
 * The parts of a stable log-sum-exp over the rows of an [N, C] matrix, shared
 * by the softmax cross-entropy loss and its gradient (reference and kernel).
 */
import { k, type Src } from '../backend/gpujs/source.js';

/** A row's max m and sum of exp(x - m) (the stable log-sum-exp's parts), over x[row .. row + c). */
export function rowStats(x: ArrayLike<number>, row: number, c: number): { m: number; total: number } {
  let m = -Infinity;
  for (let t = 0; t < c; t++) if (x[row + t] > m) m = x[row + t];
  let total = 0;
  for (let t = 0; t < c; t++) total += Math.exp(x[row + t] - m);
  return { m, total };
}

/** Kernel source of rowStats for row `row` of x0 `[N, c]`: declares m and total. */
export function rowStatsSource(row: Src, c: number): Src {
  return k`let m = -3.0e38;
    for (let t = 0; t < ${c}; t++) {
      m = Math.max(m, x0[${row} * ${c} + t]);
    }
    let total = 0.0;
    for (let t = 0; t < ${c}; t++) {
      total += Math.exp(x0[${row} * ${c} + t] - m);
    }`;
}
