import type { Tensor } from '../graph/tensor.js';
import { k } from '../kernel/source.js';
import { defineUnary, unary } from './elementwise.js';
import { mul } from './mul.js';
import { sub } from './sub.js';

// d(tanh x) = (1 - tanh(x)^2) dx
export const tanhOp = defineUnary('tanh', {
  vjp: (g, node) => [mul(g, sub(1, mul(node, node)))],
  jvp: ([t], node) => mul(t!, sub(1, mul(node, node))),
  reference: Math.tanh,
  kernel: (x) => k`(${x} >= 0.0 ? (1.0 - Math.exp(-2.0 * ${x})) / (1.0 + Math.exp(-2.0 * ${x})) : (Math.exp(2.0 * ${x}) - 1.0) / (Math.exp(2.0 * ${x}) + 1.0))`,
});

/** Elementwise hyperbolic tangent, between -1 and 1; computed without overflow for any `x`. */
export const tanh = (x: Tensor | number): Tensor<'tanh'> => unary(tanhOp, x);
