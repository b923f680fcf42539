/**
 * The exponential linear unit, elementwise (Clevert et al. 2016):
 * y = x for x > 0, α (e^x − 1) for x <= 0, with a constant α > 0 (default 1).
 *
 * Subtle: for α ≠ 1 the slope jumps at x = 0 (from α to 1); the gradient
 * there is the left slope α (as relu takes its left slope 0), in the VJP and
 * the JVP alike. For α = 1 there is no kink. NaN passes through, as in relu:
 * elu(NaN) = NaN on every backend. The kernel computes e^x − 1, so for tiny
 * |x| a float32 device loses the relative precision that the reference's
 * expm1 keeps (the absolute error stays about α·1e-7).
 */
import { showValue } from '../graph/error.js';
import type { Shape, Tensor } from '../graph/tensor.js';
import { float, k, type Src } from '../kernel/source.js';
import { add } from './add.js';
import type { OpAttrs } from './attrs.js';
import { toTensor } from './constant.js';
import { mul } from './mul.js';
import { checkInputCount, makeNode, opError, requiredOptions, type KernelContext, type NDArray, type OpDef } from './op.js';
import { relu } from './relu.js';
import { reluBackward } from './reluBackward.js';
import { sub } from './sub.js';

// 1. Attributes

/** Options of {@link elu}. */
export interface EluOptions {
  /** The scale of the negative part, a finite number > 0 (default 1): elu tends to −alpha as x → −∞. */
  readonly alpha?: number;
}

/** `alpha` as the attribute holds it: a finite number > 0; `op` names who refuses it. */
export function checkEluAlpha(op: string, alpha: unknown): number {
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha <= 0) {
    opError(op, `alpha must be a finite number > 0, got ${showValue(alpha)}`, `alpha ${showValue(alpha)}`, 'a finite number > 0');
  }
  return alpha;
}

// 2. Shape rule

function eluShape(inputs: readonly Shape[], { alpha }: OpAttrs['elu']): Shape {
  checkInputCount('elu', inputs, 1);
  checkEluAlpha('elu', alpha);
  return inputs[0];
}

// 3. VJP
// dy = (x > 0 ? 1 : α e^x) dx = (x > 0 ? 1 : y + α) dx, the left slope α at x = 0.
// Since α > 0, x > 0 exactly where y > 0, so the rule reads the output y:
//   slope · g = (min(y, 0) + α) g + (1 − α) [y > 0] g
//             = (min(y, 0) + α) g + reluBackward(y, (1 − α) g),
// with min(y, 0) = y − relu(y), which is exactly 0 for y > 0 (no cancellation
// for large y, as (y + α) g − (y + α − 1) g would have). Built from
// differentiable ops: the second derivative is [y <= 0] (y + α) = α e^x.

/** `g` times elu's slope at the points whose outputs are `y`. */
function slopeTimes(y: Tensor, g: Tensor, alpha: number): Tensor {
  const left = mul(g, add(sub(y, relu(y)), alpha));
  return alpha === 1 ? left : add(left, reluBackward(y, mul(g, 1 - alpha)));
}

function eluVjp(g: Tensor, node: Tensor<'elu'>): readonly (Tensor | null)[] {
  return [slopeTimes(node, g, node.attrs.alpha)];
}

// 3b. JVP: the same slope, times the tangent.
function eluJvp([t]: readonly (Tensor | null)[], node: Tensor<'elu'>): Tensor | null {
  return slopeTimes(node, t!, node.attrs.alpha);
}

// 4. Reference: `x <= 0` is false for NaN, which passes through.
function eluReference([x]: readonly NDArray[], { alpha }: OpAttrs['elu']): Float64Array {
  const out = new Float64Array(x.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = x.data[i];
    out[i] = v <= 0 ? alpha * Math.expm1(v) : v;
  }
  return out;
}

// 5. Kernel: NaN passed through with `x == x` (see reluSource); α only through float().
function eluKernel({ attrs: { alpha } }: KernelContext<'elu'>): Src {
  const x = k`x0[i]`;
  return k`return (${x} == ${x} ? (${x} > 0.0 ? ${x} : ${float(alpha)} * (Math.exp(${x}) - 1.0)) : ${x});`;
}

// 6. The record
/** The elu op: shape rule, VJP, JVP, float64 reference and portable kernel. */
export const eluOp: OpDef<'elu'> = {
  name: 'elu',
  shape: eluShape,
  vjp: eluVjp,
  jvp: eluJvp,
  reference: eluReference,
  kernel: eluKernel,
};

// 7. The builder

/**
 * The exponential linear unit, elementwise: `x` where `x > 0`, `alpha (e^x − 1)`
 * elsewhere (`alpha` > 0, default 1). Its gradient is 1 where `x > 0` and
 * `alpha e^x` elsewhere (`alpha` at `x = 0`); `elu(NaN)` is NaN.
 *
 * ```ts
 * const y = elu(x, { alpha: 0.5 });
 * ```
 */
export function elu(x: Tensor | number, options: EluOptions = {}): Tensor<'elu'> {
  const { alpha = 1 } = requiredOptions('elu', options, ['alpha'], '{ alpha: 1 }');
  return makeNode(eluOp, [toTensor(x)], { alpha: checkEluAlpha('elu', alpha) });
}
