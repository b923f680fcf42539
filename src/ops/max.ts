import type { Tensor } from '../graph/tensor.js';
import { sameShape } from '../graph/shape.js';
import { maxMask } from './maxMask.js';
import { mul } from './mul.js';
import { makeNode, type OpDef } from './op.js';
import { k } from '../kernel/source.js';
import { keptShape, reduceAttrs, reduceKernel, reduceReference, reduceShape, takesFirstMax, takesFirstMaxSource } from './reduce.js';
import { reshape } from './reshape.js';
import { sum, type ReduceOptions } from './sum.js';

// d(max x) = dy at the maximum of each group, 0 elsewhere. Where several
// elements tie, any convex combination of them is a subgradient; we send all
// of dy to the first in row-major order (maxMask), as PyTorch does, so ties
// never double the gradient. A NaN is larger than every number (reduce.ts):
// the maximum of a group holding one is NaN, and its gradient goes to the
// group's first NaN.
export const maxOp: OpDef<'max'> = {
  name: 'max',
  shape: (inputs, attrs) => reduceShape('max', inputs, attrs),
  vjp: (g, { inputs: [x], attrs: { axes } }) => {
    const kept = keptShape(x.shape, axes);
    return [mul(sameShape(g.shape, kept) ? g : reshape(g, kept), maxMask(x, axes))];
  },
  // Forwards: the tangent at each group's first maximum, Σ_axes maxMask(x) dx.
  jvp: ([t], { inputs: [x], attrs }) => sum(mul(t!, maxMask(x, attrs.axes)), attrs),
  reference: ([x], { axes }) => reduceReference(x, axes, -Infinity, (acc, v) => (takesFirstMax(v, acc) ? v : acc)),
  kernel: ({ inputs: [x], attrs: { axes }, ints, grid }) =>
    reduceKernel(x, axes, k`-3.0e38`, (acc, v) => k`const v = ${v};
    if (${takesFirstMaxSource(k`v`, acc)}) {
      ${acc} = v;
    }`, ints, grid),
};

/** The largest element over `axes` (all axes when omitted). */
export function max(x: Tensor, options?: ReduceOptions): Tensor<'max'> {
  return makeNode(maxOp, [x], reduceAttrs('max', x, options));
}
