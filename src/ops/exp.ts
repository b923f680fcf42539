import type { Tensor } from '../graph/tensor.js';
import { k } from '../kernel/source.js';
import { defineUnary, unary } from './elementwise.js';
import { mul } from './mul.js';

// d(exp x) = exp(x) dx
export const expOp = defineUnary('exp', Math.exp, (g, node) => [mul(g, node)], (x) => k`Math.exp(${x})`);

export const exp = (x: Tensor | number): Tensor<'exp'> => unary(expOp, x);
