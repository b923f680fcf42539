/**
 * A constant power, elementwise: y = x^p for a finite number p (|p| <= 2^24)
 * fixed when the graph is built (an attribute, not a tensor), with
 * JavaScript's Math.pow as the meaning. Local response normalisation uses it (x > 0 there).
 *
 * The domain, the same on the reference and on every backend:
 *   - x > 0: x^p.
 *   - x < 0: (−1)^p |x|^p when p is an integer; NaN when it is not.
 *   - x = 0: 0 for p > 0, 1 for p = 0, and for p < 0 a pole, +Infinity
 *     (−Infinity for x = −0 and an odd p, as Math.pow).
 *   - x NaN: NaN, except x^0 = 1 (as Math.pow(NaN, 0)).
 * The derivative p x^(p−1) is infinite at x = 0 for 0 < p < 1 and p < 0
 * (NaN where the cotangent is 0 there, 0 · Infinity), and NaN for x < 0 and
 * a p that is not an integer.
 *
 * Devices: GLSL's and WGSL's pow are undefined for x < 0 (and for x = 0 and
 * p <= 0), so the kernel never calls pow on anything but |x| > 0: an integer
 * p with |p| <= POW_BY_MULTIPLICATION is computed by multiplications (the sign
 * follows by itself), and otherwise the sign, the zero and the NaN of x < 0
 * are written out; a p in quarters (0.75, −0.75, −1.75: LRN's and its
 * gradient's) of that size is computed from square roots, not pow.
 */
import { describeValue } from '../graph/error.js';
import { Tensor, type Shape } from '../graph/tensor.js';
import { float, ident, join, k, type Src } from '../kernel/source.js';
import type { OpAttrs } from './attrs.js';
import { toTensor } from './constant.js';
import { mul } from './mul.js';
import { checkInputCount, makeNode, opError, type KernelContext, type NDArray, type OpDef } from './op.js';

// 1. Attributes: the exponent alone (attrs.ts); the builder takes it as a number.

/**
 * The largest exponent magnitude, 2^24: every integer up to it is a float32
 * number, so the device's exponent is the reference's (a literal beyond
 * float32's range would not even compile in WGSL).
 */
export const MAX_EXPONENT = 2 ** 24;

/** `exponent` as the attribute holds it: a finite number of magnitude at most MAX_EXPONENT; `op` names who refuses it. */
export function checkExponent(op: string, exponent: unknown): number {
  const expected = `a finite number in [-${MAX_EXPONENT}, ${MAX_EXPONENT}]`;
  if (typeof exponent !== 'number' || !Number.isFinite(exponent) || Math.abs(exponent) > MAX_EXPONENT) {
    const hint = exponent instanceof Tensor ? '; pow takes a constant exponent, for a tensor exponent y use exp(mul(y, log(x)))' : '';
    opError(op, `exponent must be ${expected}, got ${describeValue(exponent)}${hint}`, `exponent ${describeValue(exponent)}`, expected);
  }
  return exponent;
}

// 2. Shape rule

function powShape(inputs: readonly Shape[], { exponent }: OpAttrs['pow']): Shape {
  checkInputCount('pow', inputs, 1);
  checkExponent('pow', exponent);
  return inputs[0];
}

// 3. VJP
// d(x^p) = p x^(p−1) dx (p is a constant: no ln x term). p = 0: y = 1, no
// gradient flows. p = 1: the identity. Otherwise built from pow itself (x^1
// is x), so the rule differentiates again. Where x^(p−1) is infinite or NaN
// (see the header) so is the gradient.

/** `g` times pow's derivative at `x`, for p ≠ 0. */
function derivativeTimes(x: Tensor, g: Tensor, p: number): Tensor {
  if (p === 1) return g;
  return mul(g, mul(p === 2 ? x : pow(x, p - 1), p));
}

function powVjp(g: Tensor, node: Tensor<'pow'>): readonly (Tensor | null)[] {
  const p = node.attrs.exponent;
  return [p === 0 ? null : derivativeTimes(node.inputs[0], g, p)];
}

// 3b. JVP: the same derivative times the tangent; zero (null) for p = 0.
function powJvp([t]: readonly (Tensor | null)[], node: Tensor<'pow'>): Tensor | null {
  const p = node.attrs.exponent;
  return p === 0 ? null : derivativeTimes(node.inputs[0], t!, p);
}

// 4. Reference: Math.pow is the meaning (the header's domain is Math.pow's).
function powReference([x]: readonly NDArray[], { exponent }: OpAttrs['pow']): Float64Array {
  const out = new Float64Array(x.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.pow(x.data[i], exponent);
  return out;
}

// 5. Kernel

/** Integer exponents up to this magnitude are computed by multiplications (at most 2·log2 of it). */
const POW_BY_MULTIPLICATION = 64;

/**
 * base^n, n a non-negative integer, by repeated squaring of the local q0 =
 * base: q{j} = base^(2^j), and base^n the product of those whose bit is set
 * in n. The sign of a negative base and NaN follow by themselves; base^0 = 1
 * for any base.
 */
function byMultiplication(n: number, base: Src = k`x0[i]`): { readonly lines: Src; readonly product: Src } {
  const lines: Src[] = [k`const q0 = ${base};`];
  const factors: Src[] = [];
  for (let j = 0, rest = n; rest > 0; j++, rest = Math.floor(rest / 2)) {
    if (j > 0) lines.push(k`const ${ident(`q${j}`)} = ${ident(`q${j - 1}`)} * ${ident(`q${j - 1}`)};`);
    if (rest % 2 === 1) factors.push(ident(`q${j}`));
  }
  return { lines: join(lines, '\n  '), product: factors.length ? join(factors, ' * ') : k`1.0` };
}

/**
 * a^(m/4) for a > 0 and a non-negative integer m: a^⌊m/4⌋ by squaring times
 * √a and ⁴√a = √√a as m's two low bits ask (LRN's β = 0.75 is √a · √√a).
 * Square roots are one instruction on every backend, where a general pow
 * is a call (gpu.js's wasm imports Math.pow: about 100 ns an element), and
 * each is correctly rounded, so the result is within a few float32 ulps of
 * Math.pow's.
 */
function byRoots(m: number): { readonly lines: Src; readonly product: Src } {
  const { lines, product } = byMultiplication(Math.floor(m / 4), k`a`);
  const roots: Src[] = [];
  const factors: Src[] = Math.floor(m / 4) > 0 ? [product] : [];
  if (m % 4 !== 0) roots.push(k`const s = Math.sqrt(a);`);
  if (m % 2 === 1) roots.push(k`const r = Math.sqrt(s);`);
  if ((m >> 1) % 2 === 1) factors.push(k`s`);
  if (m % 2 === 1) factors.push(k`r`);
  return { lines: join([lines, ...roots], '\n  '), product: join(factors, ' * ') };
}

function powKernel({ attrs: { exponent: p } }: KernelContext<'pow'>): Src {
  if (Number.isInteger(p) && Math.abs(p) <= POW_BY_MULTIPLICATION) {
    if (p === 0) return k`return 1.0;`;
    const { lines, product } = byMultiplication(Math.abs(p));
    // 1 / ±0 is the pole's ±Infinity, as Math.pow gives it.
    return p > 0 ? k`${lines}
  return ${product};` : k`${lines}
  return 1.0 / (${product});`;
  }
  // |x|^p, pow called on |x| > 0 only. At x = 0: 0 for p > 0; the pole for p < 0,
  // 1 / 0 computed when the kernel runs (1 / x for an odd p, whose sign follows x's).
  const odd = Number.isInteger(p) && Math.abs(p) % 2 === 1;
  const zero = p > 0 ? k`0.0` : odd ? k`1.0 / v` : k`1.0 / a`;
  const quarters = 4 * p;
  let power = k`Math.pow(a, ${float(p)})`;
  let powerLines = k``;
  if (Number.isInteger(quarters) && !Number.isInteger(p) && Math.abs(p) <= POW_BY_MULTIPLICATION) {
    const { lines, product } = byRoots(Math.abs(quarters));
    powerLines = k`
  ${lines}`;
    power = p > 0 ? product : k`1.0 / (${product})`;
  }
  const magnitude = k`const v = x0[i];
  const a = Math.abs(v);${powerLines}
  const m = a > 0.0 ? ${power} : ${zero};`;
  if (odd) return k`${magnitude}
  return v == v ? (v < 0.0 ? -m : m) : v;`;
  if (Number.isInteger(p)) return k`${magnitude}
  return v == v ? m : v;`;
  // Not an integer: NaN for x < 0, as ok / ok = 0 / 0 computed when the kernel
  // runs (GLSL has no NaN literal, WGSL refuses a constant 0.0 / 0.0; see
  // NAN_UNLESS_KNOWN in oneHot.ts). A NaN x is passed through with v == v.
  return k`${magnitude}
  const ok = v >= 0.0 ? 1.0 : 0.0;
  return v == v ? (v >= 0.0 ? m : ok / ok) : v;`;
}

// 6. The record
/** The pow op: shape rule, VJP, JVP, float64 reference and portable kernel. */
export const powOp: OpDef<'pow'> = {
  name: 'pow',
  shape: powShape,
  vjp: powVjp,
  jvp: powJvp,
  reference: powReference,
  kernel: powKernel,
};

// 7. The builder

/**
 * `x^exponent`, elementwise, for a constant finite `exponent` (Math.pow's
 * meaning): NaN for `x < 0` unless the exponent is an integer, `+Infinity`
 * at `x = 0` for a negative exponent, and `x^0 = 1`. The gradient
 * `exponent · x^(exponent − 1)` is infinite at 0 for exponents below 1.
 *
 * ```ts
 * const y = pow(x, 0.75);
 * ```
 */
export function pow(x: Tensor | number, exponent: number): Tensor<'pow'> {
  return makeNode(powOp, [toTensor(x)], { exponent: checkExponent('pow', exponent) });
}
