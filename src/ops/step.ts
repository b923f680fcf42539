import type { Tensor } from '../graph/tensor.js';
import { k } from '../kernel/source.js';
import { defineUnary, unary } from './elementwise.js';

// [x > 0] is piecewise constant: its derivative is 0 wherever it exists.
export const stepOp = defineUnary('step', {
  vjp: () => [null],
  jvp: () => null,
  reference: (x) => (x > 0 ? 1 : 0),
  kernel: (x) => k`(${x} > 0.0 ? 1.0 : 0.0)`,
});

/**
 * 1 where `x > 0`, else 0, elementwise: the derivative of {@link relu}. No
 * gradient flows through it (its derivative is 0 wherever it exists).
 */
export const step = (x: Tensor | number): Tensor<'step'> => unary(stepOp, x);
