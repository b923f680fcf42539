import type { Tensor } from '../graph/tensor.js';
import { k } from '../kernel/source.js';
import { div } from './div.js';
import { defineUnary, unary } from './elementwise.js';

// d(log x) = dx / x
export const logOp = defineUnary('log', {
  vjp: (g, { inputs: [x] }) => [div(g, x)],
  jvp: ([t], { inputs: [x] }) => div(t!, x),
  reference: Math.log,
  kernel: (x) => k`Math.log(${x})`,
});

/**
 * Elementwise natural logarithm: `-Infinity` at 0 and NaN for negative `x`,
 * with gradient `dx / x`. For the log of a softmax use {@link logSoftmax},
 * which stays finite.
 */
export const log = (x: Tensor | number): Tensor<'log'> => unary(logOp, x);
