/** Shapes, and the shape arithmetic shared by the ops, the autodiff and the backends. */

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
      throw new Error(
        `${op}: shapes ${shapeToString(a)} and ${shapeToString(b)} do not broadcast ` +
          `(dimension ${i} of the result: ${da} vs ${db}; each pair must be equal or 1)`,
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
