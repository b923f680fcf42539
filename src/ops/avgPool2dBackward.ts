/**
 * The gradient of mean pooling with respect to its input: `dx = A^T dy`, where
 * A is the averaging matrix of avgPool2d (A[o, i] = 1 / count(o) when window
 * o has a tap on cell i; count(o) is the window's taps inside the input, or
 * with `countIncludePad` those inside the input or the user's padding, never
 * the ceil rows: avgPool2d.ts). Each input cell gathers dy / count
 * over the windows that cover it: several when windows overlap, none when the
 * stride skips it (then 0). Padded cells have no gradient.
 *
 * Input dy `[N, C, Ho, Wo]`; output `inputShape` `[N, C, H, W]`, which the
 * attributes carry because it cannot be recovered from dy alone.
 */
import { type Tensor, shapeToString } from '../graph/tensor.js';
import { sameShape } from '../graph/shape.js';
import type { AvgPool2dBackwardAttrs } from './attrs.js';
import { avgPool2dOp } from './avgPool2d.js';
import { coveringSource, decodeCell, gatherCovering, POOL2D_ATTR_KEYS, pool2dShape, poolAttrsOf, poolGeometry, windowCountSource, windowSpans } from './pool2dGeometry.js';
import { checkRank4 } from './window.js';
import { k } from '../kernel/source.js';
import { checkBoolean, checkInputCount, checkInt, makeNode, opError, type OpDef, requiredOptions } from './op.js';

// dx = A^T dy is linear in dy, so its VJP is (A^T)^T g = A g: mean pooling of
// g with the same attributes, avgPool2d(g).
export const avgPool2dBackwardOp: OpDef<'avgPool2dBackward'> = {
  name: 'avgPool2dBackward',
  shape: (inputs, attrs) => {
    const op = 'avgPool2dBackward';
    checkInputCount(op, inputs, 1, 'dy');
    const [dy] = inputs;
    const { inputShape } = attrs;
    checkRank4(op, 'inputShape', inputShape);
    inputShape.forEach((d, i) => checkInt(op, `inputShape[${i}]`, d, 1));
    checkBoolean(op, 'countIncludePad', attrs.countIncludePad);
    const expected = pool2dShape(op, inputShape, attrs);
    if (!sameShape(dy, expected)) {
      opError(
        op,
        `dy has shape ${shapeToString(dy)} but pooling an input of shape ${shapeToString(inputShape)} gives ${shapeToString(expected)}; dy must have that shape`,
        `dy ${shapeToString(dy)}`,
        `dy ${shapeToString(expected)}`,
      );
    }
    return inputShape;
  },
  vjp: (g, { attrs }) => [makeNode(avgPool2dOp, [g], { ...poolAttrsOf(attrs), countIncludePad: attrs.countIncludePad })],
  jvp: ([t], { attrs }) => makeNode(avgPool2dBackwardOp, [t!], attrs), // linear in dy
  // A gather, as a device kernel would run it: each input cell visits the
  // windows that cover it and adds dy / count of each.
  reference: ([dy], attrs) => {
    const g = poolGeometry(attrs.inputShape, attrs);
    const { rowsIn, colsIn, rowsPadded, colsPadded } = windowSpans(g);
    // 1 / count for each window position; the same for every plane.
    const inv = new Float64Array(g.ho * g.wo);
    for (let oy = 0; oy < g.ho; oy++) {
      for (let ox = 0; ox < g.wo; ox++) {
        inv[oy * g.wo + ox] = 1 / (attrs.countIncludePad ? rowsPadded[oy] * colsPadded[ox] : rowsIn[oy] * colsIn[ox]);
      }
    }
    const dyd = dy.data;
    return gatherCovering(g, (_k, w, cell) => dyd[w] * inv[cell]);
  },
  kernel: ({ attrs, ints, grid }) => {
    const g = poolGeometry(attrs.inputShape, attrs);
    return k`${decodeCell(g, ints, grid)}
  let s = 0.0;
  ${coveringSource(g, k`iy`, k`ix`, k`s += x0[p * ${g.ho * g.wo} + oy * ${g.wo} + ox] / ${windowCountSource(g, attrs.countIncludePad, k`oy`, k`ox`)};`, ints)}
  return s;`;
  },
};

/** The input gradient of `avgPool2d` given the output gradient `dy`; `attrs` are the pooling's plus its input shape. */
export function avgPool2dBackward(dy: Tensor, attrs: AvgPool2dBackwardAttrs): Tensor<'avgPool2dBackward'> {
  const keys = [...POOL2D_ATTR_KEYS, 'countIncludePad', 'inputShape'];
  const { countIncludePad, inputShape } = requiredOptions('avgPool2dBackward', attrs, keys, '{ size, stride, pads, countIncludePad, inputShape }');
  // Copied so that a caller mutating its array later cannot change the node; the shape rule validates.
  const shape = Array.isArray(inputShape) ? [...inputShape] : inputShape;
  return makeNode(avgPool2dBackwardOp, [dy], { ...poolAttrsOf(attrs), countIncludePad, inputShape: shape });
}
