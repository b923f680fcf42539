/** Shapes, and the shape arithmetic shared by the ops, the autodiff and the backends. */
import { describeValue, fail } from './error.js';

/** A static tensor shape, outermost axis first. */
export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeToString(shape: Shape): string {
  return `[${shape.join(',')}]`;
}

/**
 * Check that `shape` is a static shape Striate can index: an array of
 * positive safe integers (`[]` for a scalar; a dimension of 0 is refused, as
 * everywhere in Striate) whose product, the element count, is at most
 * `Number.MAX_SAFE_INTEGER`, so that every flat index is an exact integer.
 * What a backend can address is smaller and checked when it compiles.
 * `op` names the op for the error, `what` the shape (`'shape'`, `'target'`).
 */
export function checkShape(op: string, shape: unknown, what = 'shape'): asserts shape is Shape {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 1)) {
    const got = Array.isArray(shape) ? JSON.stringify(shape) : describeValue(shape);
    fail(op, `${what} must be an array of positive integers, got ${got}`, `${what} ${got}`, 'an array of positive integers');
  }
  const size = sizeOf(shape);
  if (!Number.isSafeInteger(size)) {
    fail(
      op,
      `${what} ${shapeToString(shape)} has ${size.toPrecision(3)} elements, more than 2^53 - 1, the most whose flat indices are exact; ` +
        `split the tensor or use smaller dimensions`,
      `${what} ${shapeToString(shape)} (${size.toPrecision(3)} elements)`,
      'at most 2^53 - 1 elements',
    );
  }
}


export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** NumPy broadcasting: align from the right; each pair of dimensions is equal or one of them is 1. */
export function broadcastShapes(op: string, a: Shape, b: Shape): Shape {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      fail(
        op,
        `shapes ${shapeToString(a)} and ${shapeToString(b)} do not broadcast ` +
          `(dimension ${i} of the result: ${da} vs ${db}; each pair must be equal or 1)`,
        `shapes ${shapeToString(a)} and ${shapeToString(b)}`,
        `shapes whose dimensions, aligned from the right, are equal or 1 (dimension ${i}: ${da} vs ${db})`,
      );
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** True when `from` broadcasts to exactly `to`. */
export function broadcastsTo(from: Shape, to: Shape): boolean {
  if (from.length > to.length) return false;
  const off = to.length - from.length;
  return from.every((d, i) => d === 1 || d === to[i + off]);
}

/**
 * For each element of a tensor of shape `out`, the flat index of the element
 * of a tensor of shape `from` (which broadcasts to `out`) that it reads.
 */
export function broadcastIndex(from: Shape, out: Shape): Int32Array {
  const off = out.length - from.length;
  const fromStrides = stridesOf(from);
  // stride of each output axis in `from`, 0 where broadcast
  return stridedIndex(out, out.map((_, i) => (i < off || from[i - off] === 1 ? 0 : fromStrides[i - off])));
}

/**
 * For each element of a tensor of shape `shape`, in row-major order, the flat
 * index `sum_d coord[d] * strides[d]`: a strided walk (a stride of 0 repeats,
 * as in broadcasting and reductions).
 */
export function stridedIndex(shape: Shape, strides: readonly number[]): Int32Array {
  const idx = new Int32Array(sizeOf(shape));
  const counter = new Array<number>(shape.length).fill(0);
  let pos = 0;
  for (let at = 0; at < idx.length; at++) {
    idx[at] = pos;
    for (let ax = shape.length - 1; ax >= 0; ax--) {
      counter[ax]++;
      pos += strides[ax];
      if (counter[ax] < shape[ax]) break;
      pos -= strides[ax] * counter[ax];
      counter[ax] = 0;
    }
  }
  return idx;
}

/** Axes of `out` along which a tensor of shape `from` was broadcast (dimension added or stretched from 1). */
export function broadcastAxes(from: Shape, out: Shape): number[] {
  const off = out.length - from.length;
  const axes: number[] = [];
  for (let i = 0; i < out.length; i++) {
    if (i < off || (from[i - off] === 1 && out[i] !== 1)) axes.push(i);
  }
  return axes;
}
