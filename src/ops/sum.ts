import { type Tensor, sizeOf } from '../graph/tensor.js';
import { broadcastTo } from './broadcastTo.js';
import { makeNode, type OpDef } from './op.js';
import { keptShape, reduceAttrs, reduceKernel, reduceReference, reduceShape } from './reduce.js';
import { k } from '../kernel/source.js';
import { mul } from './mul.js';
import { reshape } from './reshape.js';

// d(sum x) = broadcast(dy): every summed element receives the cotangent of its sum.
export const sumOp: OpDef<'sum'> = {
  name: 'sum',
  shape: (inputs, attrs) => reduceShape('sum', inputs, attrs),
  vjp: (g, { inputs: [x], attrs }) => [broadcastTo(reshape(g, keptShape(x.shape, attrs.axes)), x.shape)],
  // Linear: the tangent is summed the same way.
  jvp: ([t], { attrs }) => makeNode(sumOp, [t!], attrs),
  reference: ([x], { axes }) => reduceReference(x, axes, 0, (acc, v) => acc + v),
  kernel: ({ inputs: [x], attrs: { axes }, ints, grid }) =>
    reduceKernel(x, axes, k`0.0`, (acc, v) => k`${acc} += ${v};`, ints, grid),
};

/** Which axes {@link sum}, {@link mean} and {@link max} reduce, and whether the result keeps them. */
export interface ReduceOptions {
  /** Axes to reduce (negative counts from the end); all axes when omitted. */
  axes?: number | readonly number[];
  /** Keep each reduced axis as a dimension of size 1 (default false), so the result broadcasts against `x`. */
  keepDims?: boolean;
}

/**
 * The sum of `x` over `options.axes` (all axes by default, giving a scalar).
 * Throws when an axis is out of range for `x`'s rank or repeats.
 *
 * ```ts
 * sum(x);                                    // [N, C] → []
 * sum(x, { axes: -1 });                      // [N, C] → [N]
 * sum(x, { axes: [0], keepDims: true });     // [N, C] → [1, C]
 * ```
 */
export function sum(x: Tensor, options?: ReduceOptions): Tensor<'sum'> {
  return makeNode(sumOp, [x], reduceAttrs('sum', x, options));
}

/** The mean over `axes`: the sum times 1/count. */
export function mean(x: Tensor, options?: ReduceOptions): Tensor {
  const { axes, keepDims } = reduceAttrs('mean', x, options);
  const count = sizeOf(axes.map((a) => x.shape[a]));
  const s = sum(x, { axes, keepDims });
  return count === 1 ? s : mul(s, 1 / count);
}
