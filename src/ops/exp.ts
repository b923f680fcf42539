import type { Tensor } from '../graph/tensor.js';
import { k } from '../kernel/source.js';
import { defineUnary, unary } from './elementwise.js';
import { mul } from './mul.js';

// d(exp x) = exp(x) dx
export const expOp = defineUnary('exp', {
  vjp: (g, node) => [mul(g, node)],
  jvp: ([t], node) => mul(t!, node),
  reference: Math.exp,
  kernel: (x) => k`Math.exp(${x})`,
});

/**
 * Elementwise `e^x`. In float32 it overflows to Infinity above x ≈ 88.7:
 * for probabilities from logits use {@link softmax}, {@link logSoftmax} or
 * {@link softmaxCrossEntropy}, which subtract the maximum first.
 */
export const exp = (x: Tensor | number): Tensor<'exp'> => unary(expOp, x);
