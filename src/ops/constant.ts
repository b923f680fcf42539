import { Tensor, type Shape, sizeOf } from '../graph/tensor.js';
import { checkShape } from './input.js';
import { opError, type OpDef } from './op.js';

/** A tensor whose values are part of the graph. Its data travels to devices as a buffer, never as source. */
export const constantOp: OpDef<'constant'> = {
  name: 'constant',
  shape: () => opError('constant', 'build constants with constant(), scalar(), zeros() or fill()'),
  vjp: () => [],
  reference: (_inputs, { value }) => Float64Array.from(value),
  kernel: 'upload',
};

/**
 * A constant tensor of `shape` holding `value`, row-major: one number per
 * element, `[]` for a scalar. The values are copied into the graph (later
 * changes to `value` do not reach it) and travel to a device as a buffer.
 * Throws when `shape` is not an array of positive integers, the count does
 * not fill the shape, or a value is not finite.
 *
 * ```ts
 * const eye = constant([1, 0, 0, 1], [2, 2]);
 * ```
 */
export function constant(value: ArrayLike<number>, shape: Shape): Tensor<'constant'> {
  checkShapeOrScalar(shape);
  if (value.length !== sizeOf(shape)) {
    opError('constant', `${value.length} values do not fill shape [${shape.join(',')}] (${sizeOf(shape)} elements)`);
  }
  const data = Array.from(value, Number);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) opError('constant', `value ${i} is ${data[i]}; constants must be finite`);
  }
  return new Tensor('constant', [], { value: data }, shape);
}

/** A constant of `shape` with every element `v` (finite). */
export function fill(shape: Shape, v: number): Tensor<'constant'> {
  checkShapeOrScalar(shape);
  return constant(new Array<number>(sizeOf(shape)).fill(v), shape);
}

/** A rank-0 constant `v`. Ops that take `Tensor | number` make one from a number themselves. */
export const scalar = (v: number): Tensor<'constant'> => fill([], v);
/** A constant of `shape` filled with 0. */
export const zeros = (shape: Shape): Tensor<'constant'> => fill(shape, 0);
/** A constant of `shape` filled with 1. */
export const ones = (shape: Shape): Tensor<'constant'> => fill(shape, 1);

/** Numbers become scalar constants, so that `mul(x, 2)` reads naturally. */
export function toTensor(v: Tensor | number): Tensor {
  return typeof v === 'number' ? scalar(v) : v;
}

function checkShapeOrScalar(shape: Shape): void {
  if (Array.isArray(shape) && shape.length === 0) return;
  checkShape('constant', shape);
}
