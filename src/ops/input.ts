import { describeValue } from '../graph/error.js';
import { checkShape } from '../graph/shape.js';
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
  jvp: () => null, // a leaf: jvp gives the differentiated inputs their tangents itself
  reference: () => {
    throw new Error('input: an input has no computation; the backend reads it from the feeds (a bug in Striate)');
  },
  kernel: 'upload',
};

const NAME = /^[A-Za-z_][A-Za-z0-9_.:/-]*$/;

/**
 * A named graph input with a static shape, fed at run time: `run(feeds)` of
 * a compiled graph takes its values as `feeds[name]`, row-major. `name`
 * starts with a letter or `_` and holds only letters, digits and `_ . : / -`;
 * `shape` is an array of positive integers (`[]` for a scalar). Two inputs
 * of one graph may share a name only if they have the same shape (then they
 * are one input). Throws when the name or the shape is malformed.
 *
 * ```ts
 * const x = input('x', [32, 1, 28, 28]);   // a batch of 32 grey 28×28 images, NCHW
 * const f = compile(relu(x));
 * const [y] = await f.run({ x: pixels });   // pixels: 32 * 28 * 28 numbers
 * ```
 */
export function input(name: string, shape: Shape): Tensor<'input'> {
  checkInputName(name);
  checkShape('input', shape);
  return new Tensor('input', [], Object.freeze({ name }), [...shape]);
}

/** An input's name, as {@link input} documents it (checked again by `compile` for nodes built with `new`). */
export function checkInputName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    opError(
      'input',
      `name must start with a letter or _ and hold only letters, digits and _ . : / -, got ${JSON.stringify(name) ?? String(name)}`,
      `name ${describeValue(name)}`,
      'a name that starts with a letter or _ and holds only letters, digits and _ . : / -',
    );
  }
}
