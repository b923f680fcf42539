import type { Tensor } from '../graph/tensor.js';
import { k } from '../kernel/source.js';
import { defineUnary, unary } from './elementwise.js';
import { mul } from './mul.js';
import { sub } from './sub.js';

// Stable for large |x|: exp is only taken of a non-positive number.
function sigmoidValue(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

// d(sigmoid x) = sigmoid(x) (1 - sigmoid(x)) dx
export const sigmoidOp = defineUnary('sigmoid', {
  vjp: (g, node) => [mul(g, mul(node, sub(1, node)))],
  jvp: ([t], node) => mul(t!, mul(node, sub(1, node))),
  reference: sigmoidValue,
  kernel: (x) => k`(${x} >= 0.0 ? 1.0 / (1.0 + Math.exp(-${x})) : Math.exp(${x}) / (1.0 + Math.exp(${x})))`,
});

/** The logistic function `1 / (1 + e^-x)`, elementwise, between 0 and 1; computed without overflow for any `x`. */
export const sigmoid = (x: Tensor | number): Tensor<'sigmoid'> => unary(sigmoidOp, x);
