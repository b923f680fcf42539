/**
 * The leaky rectifier, elementwise: y = x for x > 0, α x for x <= 0, with a
 * constant slope α in [0, 1) (default 0.01; Maas et al. 2013).
 *
 * Subtle: the gradient at the kink x = 0 is the left slope α (as relu takes
 * its left slope 0 there), and the VJP and the JVP agree on it. NaN passes
 * through, as in relu: leakyRelu(NaN) = NaN on every backend. α = 0 is relu
 * itself (its kernel is relu's, so leakyRelu(-Infinity) is 0 there, not
 * 0 · -Infinity).
 */
import { showValue } from '../graph/error.js';
import type { Shape, Tensor } from '../graph/tensor.js';
import { float, k, type Src } from '../kernel/source.js';
import { add } from './add.js';
import { toTensor } from './constant.js';
import { mul } from './mul.js';
import type { OpAttrs } from './attrs.js';
import { checkInputCount, makeNode, opError, requiredOptions, type KernelContext, type NDArray, type OpDef } from './op.js';
import { reluSource } from './relu.js';
import { reluBackward } from './reluBackward.js';

// 1. Attributes

/** Options of {@link leakyRelu}. */
export interface LeakyReluOptions {
  /** The slope for x <= 0, a finite number in [0, 1) (default 0.01). */
  readonly alpha?: number;
}

/** `alpha` as the attribute holds it: a finite number in [0, 1); `op` names who refuses it. */
export function checkLeakyReluAlpha(op: string, alpha: unknown): number {
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha < 0 || alpha >= 1) {
    opError(op, `alpha must be a finite number in [0, 1), got ${showValue(alpha)}`, `alpha ${showValue(alpha)}`, 'a finite number in [0, 1)');
  }
  return alpha;
}

// 2. Shape rule

function leakyReluShape(inputs: readonly Shape[], { alpha }: OpAttrs['leakyRelu']): Shape {
  checkInputCount('leakyRelu', inputs, 1);
  checkLeakyReluAlpha('leakyRelu', alpha);
  return inputs[0];
}

// 3. VJP
// dy = (x > 0 ? 1 : α) dx, the left slope α at the kink x = 0. Since α >= 0,
// x > 0 exactly where y > 0, so the rule reads the op's own output (nothing
// in the backward pass reads x, as for relu):
//   slope · g = α g + (1 − α) [y > 0] g = α g + reluBackward(y, (1 − α) g).
// reluBackward is linear in g and has no gradient wrt y, so the second
// derivative is 0, as it is wherever it exists.

/** `g` times leakyRelu's slope at the points whose outputs are `y`. */
function slopeTimes(y: Tensor, g: Tensor, alpha: number): Tensor {
  if (alpha === 0) return reluBackward(y, g);
  return add(mul(g, alpha), reluBackward(y, mul(g, 1 - alpha)));
}

function leakyReluVjp(g: Tensor, node: Tensor<'leakyRelu'>): readonly (Tensor | null)[] {
  return [slopeTimes(node, g, node.attrs.alpha)];
}

// 3b. JVP: the same slope, times the tangent.
function leakyReluJvp([t]: readonly (Tensor | null)[], node: Tensor<'leakyRelu'>): Tensor | null {
  return slopeTimes(node, t!, node.attrs.alpha);
}

// 4. Reference: `x <= 0` is false for NaN, which passes through.
function leakyReluReference([x]: readonly NDArray[], { alpha }: OpAttrs['leakyRelu']): Float64Array {
  const out = new Float64Array(x.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = x.data[i];
    out[i] = v <= 0 ? (alpha === 0 ? 0 : alpha * v) : v;
  }
  return out;
}

// 5. Kernel: NaN is passed through explicitly with `x == x`, the NaN test every
// backend keeps (see reluSource); α reaches the source only through float().

/** leakyRelu(x) as kernel source, NaN kept; `x` is spelled several times (a local or a plain read). */
export function leakyReluSource(x: Src, alpha: number): Src {
  if (alpha === 0) return reluSource(x);
  return k`(${x} == ${x} ? (${x} > 0.0 ? ${x} : ${float(alpha)} * ${x}) : ${x})`;
}

function leakyReluKernel({ attrs: { alpha } }: KernelContext<'leakyRelu'>): Src {
  return k`return ${leakyReluSource(k`x0[i]`, alpha)};`;
}

// 6. The record
/** The leakyRelu op: shape rule, VJP, JVP, float64 reference and portable kernel. */
export const leakyReluOp: OpDef<'leakyRelu'> = {
  name: 'leakyRelu',
  shape: leakyReluShape,
  vjp: leakyReluVjp,
  jvp: leakyReluJvp,
  reference: leakyReluReference,
  kernel: leakyReluKernel,
};

// 7. The builder

/**
 * The leaky rectifier, elementwise: `x` where `x > 0`, `alpha * x` elsewhere,
 * `alpha` in [0, 1) (default 0.01). Its gradient is 1 where `x > 0` and
 * `alpha` elsewhere (`alpha` at the kink `x = 0`); `leakyRelu(NaN)` is NaN.
 *
 * ```ts
 * const y = leakyRelu(x, { alpha: 0.2 });
 * ```
 */
export function leakyRelu(x: Tensor | number, options: LeakyReluOptions = {}): Tensor<'leakyRelu'> {
  const { alpha = 0.01 } = requiredOptions('leakyRelu', options, ['alpha'], '{ alpha: 0.2 }');
  return makeNode(leakyReluOp, [toTensor(x)], { alpha: checkLeakyReluAlpha('leakyRelu', alpha) });
}
