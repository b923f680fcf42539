import type { Tensor } from '../graph/tensor.js';
import { k } from '../kernel/source.js';
import { binary, defineBinary } from './elementwise.js';

// d(a + b) = da + db
export const addOp = defineBinary('add', {
  vjp: (g) => [g, g],
  jvp: ([ta, tb]) => (ta && tb ? add(ta, tb) : ta ?? tb),
  reference: (a, b) => a + b,
  kernel: (a, b) => k`(${a} + ${b})`,
});

/**
 * Elementwise sum `a + b`. Shapes broadcast as in NumPy: aligned from the
 * right, each pair of dimensions equal or one of them 1, missing leading
 * dimensions taken as 1; the result has the broadcast shape. A number is a
 * scalar constant. The gradient of a broadcast input is summed back to its
 * shape. Throws when an input is neither a Tensor nor a number, or when the
 * shapes do not broadcast.
 *
 * ```ts
 * const y = add(matmul(x, w), b);   // [batch, out] + [out]: the bias added to every row
 * const z = add(x, 1);              // 1 added to every element
 * ```
 */
export const add = (a: Tensor | number, b: Tensor | number): Tensor<'add'> => binary(addOp, a, b);

/**
 * The sum of the terms that are not null, or null when all are: how a JVP
 * rule adds the contributions of its inputs' tangents (null: a zero tangent).
 */
export function addAll(terms: readonly (Tensor | null)[]): Tensor | null {
  return terms.reduce<Tensor | null>((s, t) => (t === null ? s : s === null ? t : add(s, t)), null);
}
