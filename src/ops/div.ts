import type { Tensor } from '../graph/tensor.js';
import { k } from '../kernel/source.js';
import { binary, defineBinary } from './elementwise.js';
import { mul } from './mul.js';
import { neg } from './neg.js';
import { sub } from './sub.js';

// d(a / b) = da / b - (a / b) db / b
export const divOp = defineBinary('div', {
  vjp: (g, node) => {
    const [, b] = node.inputs;
    const ga = div(g, b);
    return [ga, neg(mul(ga, node))];
  },
  // (da - (a / b) db) / b
  jvp: ([ta, tb], node) => {
    const [, b] = node.inputs;
    const minusDb = tb && mul(node, tb);
    return div(ta && minusDb ? sub(ta, minusDb) : ta ?? neg(minusDb!), b);
  },
  reference: (a, b) => a / b,
  kernel: (a, b) => k`(${a} / ${b})`,
});

/**
 * Elementwise quotient `a / b`, broadcasting as {@link add} does; a number is
 * a scalar constant. Zeros in `b` are not checked for.
 */
export const div = (a: Tensor | number, b: Tensor | number): Tensor<'div'> => binary(divOp, a, b);
