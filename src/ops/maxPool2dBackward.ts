/**
 * The gradient of max pooling with respect to its input: `dx = P(x)^T dy`,
 * where P(x) is the 0/1 matrix that picks the first maximum of each window
 * (see pool2dGeometry.ts for the tie rule). Each input cell receives the sum of dy
 * over the windows whose first maximum it is; with overlapping windows one
 * cell can win several, and a cell that wins none gets 0.
 *
 * Inputs (x, dy): x `[N, C, H, W]` (to find the maxima) and dy `[N, C, Ho, Wo]`;
 * output `[N, C, H, W]`. The attributes are the pooling's, dilation and
 * ceilPads included; with dilation a cell receives dy only from the windows
 * that have a tap on it.
 */
import { type Tensor, shapeToString } from '../graph/tensor.js';
import { sameShape } from '../graph/shape.js';
import type { Pool2dAttrs } from './attrs.js';
import { argmaxSource, coveringSource, decodeCell, firstArgmax, gatherCovering, POOL2D_ATTR_KEYS, poolAttrsOf, poolGeometry, pool2dShape } from './pool2dGeometry.js';
import { k } from '../kernel/source.js';
import { maxPool2dSelect } from './maxPool2dSelect.js';
import { checkInputCount, makeNode, opError, type OpDef, requiredOptions } from './op.js';

// dx = P(x)^T dy is linear in dy, so its VJP wrt dy is P(x) g: read g at each
// window's first maximum, which is maxPool2dSelect(x, g). Wrt x: P(x) is
// constant between ties, so the derivative is 0 almost everywhere (null).
export const maxPool2dBackwardOp: OpDef<'maxPool2dBackward'> = {
  name: 'maxPool2dBackward',
  shape: (inputs, attrs) => {
    checkInputCount('maxPool2dBackward', inputs, 2, 'x, dy');
    const [x, dy] = inputs;
    const expected = pool2dShape('maxPool2dBackward', x, attrs);
    if (!sameShape(dy, expected)) {
      opError(
        'maxPool2dBackward',
        `dy has shape ${shapeToString(dy)} but pooling x ${shapeToString(x)} gives ${shapeToString(expected)}; dy must have that shape`,
        `dy ${shapeToString(dy)}`,
        `dy ${shapeToString(expected)}`,
      );
    }
    return x;
  },
  vjp: (g, { inputs: [x], attrs }) => [null, maxPool2dSelect(x, g, attrs)],
  jvp: ([, tdy], { inputs: [x], attrs }) => (tdy ? makeNode(maxPool2dBackwardOp, [x, tdy], attrs) : null), // linear in dy; constant in x a.e.
  // A gather, as a device kernel would run it: each input cell visits the
  // windows that cover it and adds dy of those whose first maximum it is.
  reference: ([x, dy], attrs) => {
    const arg = firstArgmax(x, attrs);
    const dyd = dy.data;
    return gatherCovering(poolGeometry(x.shape, attrs), (at, w) => (arg[w] === at ? dyd[w] : 0));
  },
  // Each input cell visits the windows that cover it, finds each window's
  // first maximum, and adds that window's dy when the maximum is itself.
  kernel: ({ inputs: [x], attrs, ints, grid }) => {
    const g = poolGeometry(x, attrs);
    return k`${decodeCell(g, ints, grid)}
  let s = 0.0;
  ${coveringSource(g, k`iy`, k`ix`, k`${argmaxSource(g, k`p`, k`oy`, k`ox`, ints)}
          if (Math.abs(bestAt - i) < 0.5) {
            s += x1[p * ${g.ho * g.wo} + oy * ${g.wo} + ox];
          }`, ints)}
  return s;`;
  },
};

/** The input gradient of `maxPool2d(x, ...)` given the output gradient `dy`; `attrs` are the pooling's. */
export function maxPool2dBackward(x: Tensor, dy: Tensor, attrs: Pool2dAttrs): Tensor<'maxPool2dBackward'> {
  requiredOptions('maxPool2dBackward', attrs, POOL2D_ATTR_KEYS, '{ size, stride, pads }');
  return makeNode(maxPool2dBackwardOp, [x, dy], poolAttrsOf(attrs));
}
