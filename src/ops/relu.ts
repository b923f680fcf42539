import type { Tensor } from '../graph/tensor.js';
import { k } from '../backend/gpujs/source.js';
import { defineUnary, unary } from './elementwise.js';
import { reluBackward } from './reluBackward.js';

// d(max(x, 0)) = [x > 0] dx   (the subgradient 0 is taken at the kink x = 0)
export const reluOp = defineUnary('relu', (x) => (x > 0 ? x : 0), (g, { inputs: [x] }) => [reluBackward(x, g)], (x) => k`Math.max(${x}, 0.0)`);

export const relu = (x: Tensor | number): Tensor<'relu'> => unary(reluOp, x);
