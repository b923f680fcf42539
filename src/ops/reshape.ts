import { type Shape, type Tensor, shapeToString, sizeOf } from '../graph/tensor.js';
import { makeNode, opError, type OpDef } from './op.js';

// Reshape only reinterprets the row-major data: d(reshape x) = reshape(dx).
export const reshapeOp: OpDef<'reshape'> = {
  name: 'reshape',
  shape: ([x], { shape }) => {
    if (sizeOf(x) !== sizeOf(shape)) {
      opError('reshape', `cannot reshape ${shapeToString(x)} (${sizeOf(x)} elements) to ${shapeToString(shape)} (${sizeOf(shape)} elements)`);
    }
    return shape;
  },
  vjp: (g, { inputs: [x] }) => [reshape(g, x.shape)],
  reference: ([x]) => x.data.slice(),
  kernel: 'alias',
};

/** Reshape to `shape`; at most one dimension may be -1 and is then inferred. */
export function reshape(x: Tensor, shape: Shape): Tensor<'reshape'> {
  const known = shape.filter((d) => d !== -1);
  if (shape.some((d) => !(Number.isInteger(d) && (d >= 1 || d === -1))) || shape.length - known.length > 1) {
    opError('reshape', `target shape must hold positive integers and at most one -1, got ${JSON.stringify(shape)}`);
  }
  let target = [...shape];
  if (known.length < shape.length) {
    const rest = sizeOf(x.shape) / sizeOf(known);
    if (!Number.isInteger(rest)) {
      opError('reshape', `cannot reshape ${shapeToString(x.shape)} (${sizeOf(x.shape)} elements) to ${JSON.stringify(shape)}`);
    }
    target = shape.map((d) => (d === -1 ? rest : d));
  }
  return makeNode(reshapeOp, [x], { shape: target });
}

/** Keep the first axis (the batch) and flatten the rest: `[N, C, H, W]` to `[N, C*H*W]`. */
export function flatten(x: Tensor): Tensor<'reshape'> {
  if (x.rank < 1) opError('flatten', 'needs a tensor of rank >= 1, got a scalar');
  return reshape(x, [x.shape[0], sizeOf(x.shape.slice(1))]);
}
