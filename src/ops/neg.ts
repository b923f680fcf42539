import type { Tensor } from '../graph/tensor.js';
import { k } from '../kernel/source.js';
import { defineUnary, unary } from './elementwise.js';

// d(-x) = -dx
export const negOp = defineUnary('neg', {
  vjp: (g) => [neg(g)],
  jvp: ([t]) => neg(t!),
  reference: (x) => -x,
  kernel: (x) => k`(-${x})`,
});

/** Elementwise negation `-x`. */
export const neg = (x: Tensor | number): Tensor<'neg'> => unary(negOp, x);
