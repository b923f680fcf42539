/**
 * Reads a tensor shaped like the pooling's input at the first maximum of each
 * window of x: `y = P(x) dx`, where P(x) is the 0/1 matrix of maxPool2d (so
 * `maxPool2d(x) = maxPool2dSelect(x, x)`). It is the VJP of maxPool2dBackward
 * with respect to dy, and what makes second-order gradients through max
 * pooling work.
 *
 * Inputs (x, dx): both `[N, C, H, W]`; output `[N, C, Ho, Wo]`.
 */
import { type Tensor, shapeToString } from '../graph/tensor.js';
import { sameShape } from '../graph/shape.js';
import type { Pool2dAttrs } from './attrs.js';
import { argmaxSource, decodeWindow, firstArgmax, POOL2D_ATTR_KEYS, poolAttrsOf, poolGeometry, pool2dShape } from './pool2dGeometry.js';
import { k } from '../kernel/source.js';
import { maxPool2dBackward } from './maxPool2dBackward.js';
import { checkInputCount, makeNode, opError, type OpDef, requiredOptions } from './op.js';

// y = P(x) dx is linear in dx, so its VJP wrt dx is P(x)^T g = maxPool2dBackward(x, g).
// Wrt x: P(x) is constant between ties, so the derivative is 0 almost everywhere (null).
export const maxPool2dSelectOp: OpDef<'maxPool2dSelect'> = {
  name: 'maxPool2dSelect',
  shape: (inputs, attrs) => {
    checkInputCount('maxPool2dSelect', inputs, 2, 'x, dx');
    const [x, dx] = inputs;
    const out = pool2dShape('maxPool2dSelect', x, attrs);
    if (!sameShape(dx, x)) {
      opError(
        'maxPool2dSelect',
        `dx has shape ${shapeToString(dx)} but x has shape ${shapeToString(x)}; they must be equal`,
        `dx ${shapeToString(dx)}`,
        `dx ${shapeToString(x)}, the shape of x`,
      );
    }
    return out;
  },
  vjp: (g, { inputs: [x], attrs }) => [null, maxPool2dBackward(x, g, attrs)],
  jvp: ([, tdx], { inputs: [x], attrs }) => (tdx ? makeNode(maxPool2dSelectOp, [x, tdx], attrs) : null), // linear in dx; constant in x a.e.
  reference: ([x, dx], attrs) => {
    const arg = firstArgmax(x, attrs);
    const out = new Float64Array(arg.length);
    for (let o = 0; o < arg.length; o++) out[o] = dx.data[arg[o]];
    return out;
  },
  kernel: ({ inputs: [x], attrs, ints, grid }) => {
    const g = poolGeometry(x, attrs);
    return k`${decodeWindow(g, ints, grid)}
  ${argmaxSource(g, k`p`, k`oy`, k`ox`, ints)}
  return x1[bestAt];`;
  },
};

/** `dx` read at the first maximum of each window of `x`; `attrs` are the pooling's. */
export function maxPool2dSelect(x: Tensor, dx: Tensor, attrs: Pool2dAttrs): Tensor<'maxPool2dSelect'> {
  requiredOptions('maxPool2dSelect', attrs, POOL2D_ATTR_KEYS, '{ size, stride, pads }');
  return makeNode(maxPool2dSelectOp, [x, dx], poolAttrsOf(attrs));
}
