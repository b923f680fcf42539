import { type Shape, type Tensor, shapeToString } from '../graph/tensor.js';
import { broadcastIndex, broadcastsTo, checkShape } from '../graph/shape.js';
import { sumTo } from './sumTo.js';
import { checkInputCount, checkTensor, makeNode, opError, type OpDef } from './op.js';
import { decode, ident, k, offset } from '../kernel/source.js';

// Broadcasting copies values; its transpose sums the copies back: d(broadcast x) = sumTo(dx, shape of x).
export const broadcastToOp: OpDef<'broadcastTo'> = {
  name: 'broadcastTo',
  shape: (inputs, { shape }) => {
    checkInputCount('broadcastTo', inputs, 1);
    checkShape('broadcastTo', shape, 'target');
    const [x] = inputs;
    if (!broadcastsTo(x, shape)) {
      opError(
        'broadcastTo',
        `cannot broadcast ${shapeToString(x)} to ${shapeToString(shape)} (aligned from the right, each dimension must equal the target's or be 1)`,
        `input ${shapeToString(x)} and target ${shapeToString(shape)}`,
        'a target of at least the input\'s rank whose dimensions equal the input\'s where those are not 1',
      );
    }
    return shape;
  },
  vjp: (g, { inputs: [x] }) => [sumTo(g, x.shape)],
  // Linear: the tangent is repeated the same way.
  jvp: ([t], { attrs }) => makeNode(broadcastToOp, [t!], attrs),
  reference: ([x], _attrs, out) => {
    const idx = broadcastIndex(x.shape, out);
    const res = new Float64Array(idx.length);
    for (let i = 0; i < idx.length; i++) res[i] = x.data[idx[i]];
    return res;
  },
  kernel: ({ inputs: [x], out, ints, grid }) => {
    const names = out.map((_, d) => ident(`c${d}`));
    return k`${decode(k`i`, out, names, ints, grid)}
  return x0[${offset(x, names.slice(out.length - x.length))}];`;
  },
};

/**
 * `x` repeated to exactly `shape`, by NumPy's broadcasting rule: aligned from
 * the right, each dimension of `x` equals the target's or is 1, and missing
 * leading dimensions are added. Returns `x` itself when its shape is already
 * `shape`. The gradient sums the copies back to `x`'s shape. Throws when
 * `shape` is not an array of positive integers or `x` does not broadcast to it.
 *
 * ```ts
 * broadcastTo(b, [32, 10]);   // b: [10] → [32, 10], one copy per row
 * ```
 */
export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  checkTensor('broadcastTo', 'x', x);
  checkShape('broadcastTo', shape, 'target');
  if (x.shape.length === shape.length && x.shape.every((d, i) => d === shape[i])) return x;
  return makeNode(broadcastToOp, [x], { shape: [...shape] });
}
