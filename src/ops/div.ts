import type { Tensor } from '../graph/tensor.js';
import { k } from '../kernel/source.js';
import { binary, defineBinary } from './elementwise.js';
import { mul } from './mul.js';
import { neg } from './neg.js';

// d(a / b) = da / b - (a / b) db / b
export const divOp = defineBinary('div', {
  vjp: (g, node) => {
    const [, b] = node.inputs;
    const ga = div(g, b);
    return [ga, neg(mul(ga, node))];
  },
  reference: (a, b) => a / b,
  kernel: (a, b) => k`(${a} / ${b})`,
});

/**
 * Elementwise quotient `a / b`, broadcasting as {@link add} does; a number is
 * a scalar constant. Zeros in `b` are not checked for.
 */
export const div = (a: Tensor | number, b: Tensor | number): Tensor<'div'> => binary(divOp, a, b);
