import type { Tensor } from '../graph/tensor.js';
import { k } from '../kernel/source.js';
import { defineUnary, unary } from './elementwise.js';
import { mul } from './mul.js';

// d(exp x) = exp(x) dx
export const expOp = defineUnary('exp', {
  vjp: (g, node) => [mul(g, node)],
  reference: Math.exp,
  kernel: (x) => k`Math.exp(${x})`,
});

export const exp = (x: Tensor | number): Tensor<'exp'> => unary(expOp, x);
