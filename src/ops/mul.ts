import type { Tensor } from '../graph/tensor.js';
import { k } from '../kernel/source.js';
import { binary, defineBinary } from './elementwise.js';
import { addAll } from './add.js';

// d(a b) = b da + a db
export const mulOp = defineBinary('mul', {
  vjp: (g, { inputs: [a, b] }) => [mul(g, b), mul(g, a)],
  jvp: ([ta, tb], { inputs: [a, b] }) => addAll([ta && mul(ta, b), tb && mul(a, tb)]),
  reference: (a, b) => a * b,
  kernel: (a, b) => k`(${a} * ${b})`,
});

/**
 * Elementwise product `a * b`, broadcasting as {@link add} does; a number is a
 * scalar constant, so `mul(x, 2)` doubles every element of `x`.
 */
export const mul = (a: Tensor | number, b: Tensor | number): Tensor<'mul'> => binary(mulOp, a, b);
