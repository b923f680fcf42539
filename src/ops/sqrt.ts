import type { Tensor } from '../graph/tensor.js';
import { k } from '../kernel/source.js';
import { div } from './div.js';
import { defineUnary, unary } from './elementwise.js';
import { mul } from './mul.js';

// d(sqrt x) = dx / (2 sqrt x)
export const sqrtOp = defineUnary('sqrt', {
  vjp: (g, node) => [div(g, mul(node, 2))],
  jvp: ([t], node) => div(t!, mul(node, 2)),
  reference: Math.sqrt,
  kernel: (x) => k`Math.sqrt(${x})`,
});

/** Elementwise square root: NaN for negative `x`; the gradient `dx / (2 sqrt x)` is infinite at 0. */
export const sqrt = (x: Tensor | number): Tensor<'sqrt'> => unary(sqrtOp, x);
