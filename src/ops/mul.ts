import type { Tensor } from '../graph/tensor.js';
import { k } from '../kernel/source.js';
import { binary, defineBinary } from './elementwise.js';

// d(a b) = b da + a db
export const mulOp = defineBinary('mul', {
  vjp: (g, { inputs: [a, b] }) => [mul(g, b), mul(g, a)],
  reference: (a, b) => a * b,
  kernel: (a, b) => k`(${a} * ${b})`,
});

export const mul = (a: Tensor | number, b: Tensor | number): Tensor<'mul'> => binary(mulOp, a, b);
