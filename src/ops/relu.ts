import type { Tensor } from '../graph/tensor.js';
import { k } from '../kernel/source.js';
import { defineUnary, unary } from './elementwise.js';
import { reluBackward } from './reluBackward.js';

// d(max(x, 0)) = [x > 0] dx   (the subgradient 0 is taken at the kink x = 0).
// [x > 0] = [y > 0] for y = relu(x), so the gradient reads relu's own output:
// then nothing in the backward pass reads x, and compile can fuse x's
// producer with the relu (see backend/fuse.ts).
export const reluOp = defineUnary('relu', (x) => (x > 0 ? x : 0), (g, node) => [reluBackward(node, g)], (x) => k`Math.max(${x}, 0.0)`);

export const relu = (x: Tensor | number): Tensor<'relu'> => unary(reluOp, x);
