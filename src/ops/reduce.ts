/** Shape rule and reference loop shared by the reductions (sum, max). */
import type { Shape } from '../graph/tensor.js';
import { stridesOf } from '../graph/shape.js';
import type { ReduceAttrs } from './attrs.js';
import type { NDArray } from './op.js';

export function reducedShape(x: Shape, { axes, keepDims }: ReduceAttrs): Shape {
  return keepDims ? keptShape(x, axes) : x.filter((_, i) => !axes.includes(i));
}

/** The input shape with each reduced axis set to 1. */
export function keptShape(x: Shape, axes: readonly number[]): Shape {
  return x.map((d, i) => (axes.includes(i) ? 1 : d));
}

/**
 * For every element of `x`, the flat index of the output group it is reduced
 * into (the row-major index in the kept shape).
 */
export function groupIndex(x: Shape, axes: readonly number[]): Int32Array {
  const kept = keptShape(x, axes);
  const ks = stridesOf(kept);
  const n = x.reduce((p, d) => p * d, 1);
  const idx = new Int32Array(n);
  const counter = new Array<number>(x.length).fill(0);
  const st = x.map((_, i) => (axes.includes(i) ? 0 : ks[i]));
  let pos = 0;
  for (let k = 0; k < n; k++) {
    idx[k] = pos;
    for (let ax = x.length - 1; ax >= 0; ax--) {
      counter[ax]++;
      pos += st[ax];
      if (counter[ax] < x[ax]) break;
      pos -= st[ax] * counter[ax];
      counter[ax] = 0;
    }
  }
  return idx;
}

export function reduceReference(x: NDArray, axes: readonly number[], init: number, f: (acc: number, v: number) => number): Float64Array {
  const groups = keptShape(x.shape, axes).reduce((p, d) => p * d, 1);
  const out = new Float64Array(groups).fill(init);
  const idx = groupIndex(x.shape, axes);
  for (let i = 0; i < idx.length; i++) out[idx[i]] = f(out[idx[i]], x.data[i]);
  return out;
}
