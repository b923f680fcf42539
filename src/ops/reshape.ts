import { type Shape, type Tensor, shapeToString, sizeOf } from '../graph/tensor.js';
import { describeValue } from '../graph/error.js';
import { checkShape } from '../graph/shape.js';
import { checkInputCount, checkTensor, makeNode, opError, type OpDef } from './op.js';

// Reshape only reinterprets the row-major data: d(reshape x) = reshape(dx).
export const reshapeOp: OpDef<'reshape'> = {
  name: 'reshape',
  shape: (inputs, { shape }) => {
    checkInputCount('reshape', inputs, 1);
    checkShape('reshape', shape, 'target');
    const [x] = inputs;
    if (sizeOf(x) !== sizeOf(shape)) {
      opError(
        'reshape',
        `cannot reshape ${shapeToString(x)} (${sizeOf(x)} elements) to ${shapeToString(shape)} (${sizeOf(shape)} elements)`,
        `target ${shapeToString(shape)} (${sizeOf(shape)} elements)`,
        `a shape of ${sizeOf(x)} elements, those of ${shapeToString(x)}`,
      );
    }
    return shape;
  },
  vjp: (g, { inputs: [x] }) => [reshape(g, x.shape)],
  jvp: ([t], node) => reshape(t!, node.shape), // linear: the tangent reshaped alike
  reference: ([x]) => x.data.slice(),
  kernel: 'alias',
};

/** Reshape to `shape`; at most one dimension may be -1 and is then inferred. */
export function reshape(x: Tensor, shape: Shape): Tensor<'reshape'> {
  checkTensor('reshape', 'x', x);
  const known = Array.isArray(shape) ? shape.filter((d) => d !== -1) : [];
  if (!Array.isArray(shape) || shape.some((d) => !(Number.isSafeInteger(d) && (d >= 1 || d === -1))) || shape.length - known.length > 1) {
    const got = Array.isArray(shape) ? JSON.stringify(shape) : describeValue(shape);
    opError('reshape', `target shape must hold positive integers and at most one -1, got ${got}`, `target ${got}`, 'an array of positive integers and at most one -1');
  }
  let target = [...shape];
  if (known.length < shape.length) {
    const rest = sizeOf(x.shape) / sizeOf(known);
    if (!Number.isInteger(rest)) {
      opError(
        'reshape',
        `cannot reshape ${shapeToString(x.shape)} (${sizeOf(x.shape)} elements) to ${JSON.stringify(shape)}`,
        `target ${JSON.stringify(shape)}`,
        `a shape whose known dimensions divide ${sizeOf(x.shape)}, the elements of ${shapeToString(x.shape)}`,
      );
    }
    target = shape.map((d) => (d === -1 ? rest : d));
  }
  return makeNode(reshapeOp, [x], { shape: target });
}

/** Keep the first axis (the batch) and flatten the rest: `[N, C, H, W]` to `[N, C*H*W]`. */
export function flatten(x: Tensor): Tensor<'reshape'> {
  checkTensor('flatten', 'x', x);
  if (x.rank < 1) opError('flatten', 'needs a tensor of rank >= 1, got a scalar', 'a scalar (shape [])', 'a tensor of rank >= 1');
  return reshape(x, [x.shape[0], sizeOf(x.shape.slice(1))]);
}
