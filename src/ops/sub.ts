import type { Tensor } from '../graph/tensor.js';
import { k } from '../kernel/source.js';
import { binary, defineBinary } from './elementwise.js';
import { neg } from './neg.js';

// d(a - b) = da - db
export const subOp = defineBinary('sub', {
  vjp: (g) => [g, neg(g)],
  jvp: ([ta, tb]) => (ta && tb ? sub(ta, tb) : ta ?? neg(tb!)),
  reference: (a, b) => a - b,
  kernel: (a, b) => k`(${a} - ${b})`,
});

/** Elementwise difference `a - b`, broadcasting as {@link add} does; a number is a scalar constant. */
export const sub = (a: Tensor | number, b: Tensor | number): Tensor<'sub'> => binary(subOp, a, b);
