import { describeValue } from '../graph/error.js';
import { checkShape } from '../graph/shape.js';
import { Tensor, type Shape, shapeToString, sizeOf } from '../graph/tensor.js';
import { opError, type OpDef } from './op.js';

/** A tensor whose values are part of the graph. Its data travels to devices as a buffer, never as source. */
export const constantOp: OpDef<'constant'> = {
  name: 'constant',
  shape: () => opError('constant', 'build constants with constant(), scalar(), zeros() or fill()', 'a constant built by makeNode', 'constant(), scalar(), zeros() or fill()'),
  vjp: () => [],
  jvp: () => null, // a constant's tangent is zero
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
  checkConstantShape(shape);
  if (typeof value !== 'object' || value === null || typeof value.length !== 'number') {
    opError('constant', `value must be an array of numbers, got ${describeValue(value)}`, `value ${describeValue(value)}`, 'an array or typed array of numbers');
  }
  const data = Array.from(value);
  checkConstantValue(data, shape);
  return new Tensor('constant', [], { value: data }, shape);
}

/**
 * A constant's values against its shape: one finite number per element
 * (checked again by `compile` for nodes built with `new`).
 */
export function checkConstantValue(value: unknown, shape: Shape): void {
  if (!Array.isArray(value) || value.length !== sizeOf(shape)) {
    const count = Array.isArray(value) ? `${value.length} values` : describeValue(value);
    opError(
      'constant',
      `${count} do not fill shape [${shape.join(',')}] (${sizeOf(shape)} elements)`,
      count,
      `${sizeOf(shape)} values, one per element of shape [${shape.join(',')}]`,
    );
  }
  for (let i = 0; i < value.length; i++) {
    const v: unknown = value[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      const shown = typeof v === 'number' ? String(v) : describeValue(v);
      opError('constant', `value ${i} is ${shown}; constants must be finite numbers`, `value ${i} = ${shown}`, 'finite numbers');
    }
  }
}

/** A constant of `shape` with every element `v` (finite). */
export function fill(shape: Shape, v: number): Tensor<'constant'> {
  checkConstantShape(shape);
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

/** The most elements a JavaScript array holds: a constant keeps its values in the graph as one. */
const MAX_CONSTANT_SIZE = 2 ** 32 - 1;

function checkConstantShape(shape: Shape): void {
  checkShape('constant', shape);
  const size = sizeOf(shape);
  if (size > MAX_CONSTANT_SIZE) {
    opError(
      'constant',
      `shape ${shapeToString(shape)} has ${size} elements, more than the ${MAX_CONSTANT_SIZE} a constant can hold ` +
        `(its values live in the graph as a JavaScript array); feed large tensors as inputs`,
      `shape ${shapeToString(shape)} (${size} elements)`,
      `at most ${MAX_CONSTANT_SIZE} elements`,
    );
  }
}
