import { type Shape, type Tensor, shapeToString, sizeOf } from '../graph/tensor.js';
import { stridesOf } from '../graph/shape.js';
import { checkInputCount, checkTensor, makeNode, opError, type OpDef } from './op.js';
import { decode, ident, k, join } from '../kernel/source.js';

// Output axis k is input axis perm[k]. A permutation is orthogonal, so its
// transpose is its inverse: d(transpose(x, p)) = transpose(dx, p⁻¹).
export const transposeOp: OpDef<'transpose'> = {
  name: 'transpose',
  shape: (inputs, { perm }) => {
    checkInputCount('transpose', inputs, 1);
    const [x] = inputs;
    const isPerm =
      Array.isArray(perm) &&
      perm.length === x.length &&
      perm.every((p) => Number.isInteger(p) && p >= 0 && p < x.length) &&
      new Set(perm).size === perm.length;
    if (!isPerm) {
      opError(
        'transpose',
        `perm ${JSON.stringify(perm)} is not a permutation of the ${x.length} axes of shape ${shapeToString(x)} ` +
          `(expected each of 0..${x.length - 1} exactly once)`,
        `perm ${JSON.stringify(perm) ?? String(perm)}`,
        `a permutation of 0..${x.length - 1}`,
      );
    }
    return perm.map((p) => x[p]);
  },
  vjp: (g, { attrs: { perm } }) => [transpose(g, inversePermutation(perm))],
  jvp: ([t], { attrs }) => makeNode(transposeOp, [t!], attrs), // linear: the tangent permuted alike
  reference: ([x], { perm }, out) => {
    const res = new Float64Array(sizeOf(out));
    const inStrides = stridesOf(x.shape);
    copyStrided(x.data, 0, perm.map((p) => inStrides[p]), res, 0, stridesOf(out), out);
    return res;
  },
  // Output coordinate k is the coordinate of input axis perm[k].
  kernel: ({ inputs: [x], attrs: { perm }, out, ints, grid }) => {
    const names = out.map((_, d) => ident(`c${d}`));
    const inStrides = stridesOf(x);
    const terms = perm.map((p, d) => k`${names[d]} * ${inStrides[p]}`);
    return k`${decode(k`i`, out, names, ints, grid)}
  return x0[${terms.length ? join(terms, ' + ') : k`0`}];`;
  },
};

/** Permute the axes of `x`: output axis k is input axis `perm[k]`. Without `perm`, reverse the axes (a matrix transpose for 2-D). */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor<'transpose'> {
  checkTensor('transpose', 'x', x);
  // Copied so that a caller mutating its array later cannot change the node; the shape rule validates.
  const p = perm === undefined ? x.shape.map((_, i) => x.rank - 1 - i) : Array.isArray(perm) ? [...perm] : perm;
  return makeNode(transposeOp, [x], { perm: p });
}

export function inversePermutation(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, k) => (inv[p] = k));
  return inv;
}

/**
 * The strided copy shared by transpose, slice, pad and concat: for every index
 * i of `shape` (row-major), dst[dstOffset + i·dstStrides] = src[srcOffset + i·srcStrides].
 * The innermost axis is a plain loop; the outer axes advance an odometer.
 */
export function copyStrided(
  src: Float64Array,
  srcOffset: number,
  srcStrides: readonly number[],
  dst: Float64Array,
  dstOffset: number,
  dstStrides: readonly number[],
  shape: Shape,
): void {
  const rank = shape.length;
  if (rank === 0) {
    dst[dstOffset] = src[srcOffset];
    return;
  }
  const n = shape[rank - 1];
  const ss = srcStrides[rank - 1];
  const ds = dstStrides[rank - 1];
  const rows = sizeOf(shape) / n;
  const counter = new Array<number>(rank - 1).fill(0);
  let s = srcOffset;
  let d = dstOffset;
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) dst[d + j * ds] = src[s + j * ss];
    for (let ax = rank - 2; ax >= 0; ax--) {
      counter[ax]++;
      s += srcStrides[ax];
      d += dstStrides[ax];
      if (counter[ax] < shape[ax]) break;
      s -= srcStrides[ax] * shape[ax];
      d -= dstStrides[ax] * shape[ax];
      counter[ax] = 0;
    }
  }
}
