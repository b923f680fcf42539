import { Tensor, type Shape } from '../graph/tensor.js';
import { opError, type OpDef } from './op.js';

/** A named graph input with a static shape, fed at `run` time. */
export const inputOp: OpDef<'input'> = {
  name: 'input',
  shape: (_inputs, { name }) => {
    void name;
    return [];
  },
  vjp: () => [],
  reference: () => opError('input', 'an input has no computation; the backend reads it from the feeds'),
  kernel: 'upload',
};

const NAME = /^[A-Za-z_][A-Za-z0-9_.:/-]*$/;

export function input(name: string, shape: Shape): Tensor<'input'> {
  if (typeof name !== 'string' || !NAME.test(name)) {
    opError('input', `name must start with a letter or _ and hold only letters, digits and _ . : / -, got ${JSON.stringify(name)}`);
  }
  checkShape('input', shape);
  return new Tensor('input', [], Object.freeze({ name }), [...shape]);
}

export function checkShape(op: string, shape: Shape): void {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    opError(op, `shape must be an array of positive integers, got ${JSON.stringify(shape)}`);
  }
}
