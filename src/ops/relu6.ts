/**
 * The rectifier capped at 6, elementwise: y = min(max(x, 0), 6) (Krizhevsky
 * 2010; MobileNet).
 *
 * Subtle: the gradient is 1 for 0 < x < 6 and 0 elsewhere, so the
 * subgradient 0 is taken at both kinks, x = 0 (relu's choice) and x = 6 (as
 * TensorFlow's Relu6Grad and PyTorch's hardtanh backward do); the VJP and the
 * JVP agree. NaN passes through, as in relu: relu6(NaN) = NaN on every backend.
 */
import type { Tensor } from '../graph/tensor.js';
import { k } from '../kernel/source.js';
import { defineUnary, unary } from './elementwise.js';
import { reluBackward } from './reluBackward.js';
import { sub } from './sub.js';

// dy = [0 < x < 6] dx, 0 at both kinks. 0 < x < 6 exactly where 0 < y < 6
// for y = relu6(x), so the rule reads the output, as relu's does:
//   [0 < y < 6] g = reluBackward(y, reluBackward(6 − y, g))
// (6 − y > 0 exactly where y < 6: a float difference is 0 only for equal
// operands). reluBackward is linear in g with no gradient wrt its mask: the
// second derivative is 0, as it is wherever it exists.
/** The relu6 op: its rules, reference and kernel expression (an elementwise op, see elementwise.ts). */
export const relu6Op = defineUnary('relu6', {
  vjp: (g, node) => [reluBackward(node, reluBackward(sub(6, node), g))],
  jvp: ([t], node) => reluBackward(node, reluBackward(sub(6, node), t!)),
  // Both tests are false for NaN, which passes through.
  reference: (x) => (x <= 0 ? 0 : x >= 6 ? 6 : x),
  // GLSL's and WGSL's min and max may drop a NaN: it is passed through with `x == x` (see reluSource).
  kernel: (x) => k`(${x} == ${x} ? Math.min(Math.max(${x}, 0.0), 6.0) : ${x})`,
});

/**
 * `min(max(x, 0), 6)`, elementwise. Its gradient is 1 where `0 < x < 6` and 0
 * elsewhere (0 at both kinks, `x = 0` and `x = 6`); `relu6(NaN)` is NaN.
 *
 * ```ts
 * const y = relu6(x);
 * ```
 */
export const relu6 = (x: Tensor | number): Tensor<'relu6'> => unary(relu6Op, x);
