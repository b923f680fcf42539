import type { Tensor } from '../graph/tensor.js';
import { k } from '../kernel/source.js';
import { binary, defineBinary } from './elementwise.js';

// The gradient of relu: g where x > 0, else 0 (the subgradient 0 at the kink),
// one kernel instead of mul(g, step(x)). Linear in g, so its VJP wrt g is
// reluBackward(x, cotangent); wrt x it is zero almost everywhere (null).
export const reluBackwardOp = defineBinary('reluBackward', {
  vjp: (gg, { inputs: [x] }) => [null, reluBackward(x, gg)],
  jvp: ([, tg], { inputs: [x] }) => (tg ? reluBackward(x, tg) : null),
  reference: (x, g) => (x > 0 ? g : 0),
  kernel: (x, g) => k`(${x} > 0.0 ? ${g} : 0.0)`,
});

/** `g` where `x > 0`, else 0: relu's gradient for an upstream gradient `g` (broadcasts like `mul`). */
export const reluBackward = (x: Tensor | number, g: Tensor | number): Tensor<'reluBackward'> => binary(reluBackwardOp, x, g);
