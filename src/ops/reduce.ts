/**
 * Shape rule and reference loop shared by the reductions (sum, max), and the
 * rule of the maximum that max, maxMask and max pooling share.
 *
 * NaN: a NaN counts as larger than every number, and among NaNs the first
 * (in scan order) wins. So the maximum of a group that holds a NaN is NaN
 * (as in TensorFlow.js and PyTorch), and its "first maximum" (where maxMask
 * puts its 1 and max pooling's gradient goes) is its first NaN; without a
 * NaN it is the first of the largest values. A NaN cannot come from a feed
 * (they are refused) but arises inside a graph (log or sqrt of a negative, 0/0).
 */
import { checkOptions } from '../graph/error.js';
import { type Shape, type Tensor, shapeToString } from '../graph/tensor.js';
import { stridedIndex, stridesOf } from '../graph/shape.js';
import type { ReduceAttrs } from './attrs.js';
import { checkBoolean, checkInputCount, checkTensor, type NDArray, normalizeAxes, opError } from './op.js';
import type { ReduceOptions } from './sum.js';
import { decode, type Grid, ident, k, offset, type Src } from '../kernel/source.js';

/**
 * Whether `v` takes the place of `best`, the first maximum of a scan so far
 * (the rule above): v is a number larger than best, or v is NaN and best is
 * not. Ties keep the earlier element.
 */
export function takesFirstMax(v: number, best: number): boolean {
  // x === x is false exactly for NaN.
  return v === v ? v > best : best === best;
}

/**
 * takesFirstMax as kernel source, for the portable templates; `v` and `best`
 * are locals (each is spelled more than once). Spelled with `==` and `>` only:
 * the device compilers do not all keep NaN through other forms (checked by
 * test/backend/nan.test.ts): Mesa's GLSL compiler (headlessgl) rewrites
 * `!(v <= best)` into `v > best`, and on webgpu (Dawn, lavapipe) `v != v`
 * reads false for a NaN, while `v == v` is false for it everywhere.
 */
export function takesFirstMaxSource(v: Src, best: Src): Src {
  return k`(${v} == ${v} ? ${v} > ${best} : ${best} == ${best})`;
}

/** The shape rule of sum and max: one input, its axes as the attributes hold them, keepDims a boolean. */
export function reduceShape(op: string, inputs: readonly Shape[], attrs: ReduceAttrs): Shape {
  checkInputCount(op, inputs, 1);
  const [x] = inputs;
  checkReduceAxes(op, x, attrs.axes);
  checkBoolean(op, 'keepDims', attrs.keepDims);
  return reducedShape(x, attrs);
}

export function reducedShape(x: Shape, { axes, keepDims }: ReduceAttrs): Shape {
  return keepDims ? keptShape(x, axes) : x.filter((_, i) => !axes.includes(i));
}

/** Reduction axes as the attributes hold them: sorted, distinct, in [0, rank). */
export function checkReduceAxes(op: string, x: Shape, axes: readonly number[]): void {
  const ok =
    Array.isArray(axes) && axes.every((a, i) => Number.isInteger(a) && a >= 0 && a < x.length && (i === 0 || a > axes[i - 1]));
  if (!ok) {
    opError(
      op,
      `axes ${JSON.stringify(axes)} must be sorted, distinct axes in [0, ${x.length - 1}] of shape ${shapeToString(x)}`,
      `axes ${JSON.stringify(axes) ?? String(axes)}`,
      `sorted, distinct integer axes in [0, ${x.length - 1}]`,
    );
  }
}

/** A reduction's options resolved against `x`: the axes normalised, keepDims a boolean (false when omitted). */
export function reduceAttrs(op: string, x: Tensor, options: ReduceOptions | undefined): ReduceAttrs {
  checkTensor(op, 'x', x);
  const { axes, keepDims } = checkOptions(op, options, ['axes', 'keepDims'], '{ axes: 1, keepDims: true }') ?? {};
  return { axes: normalizeAxes(op, axes, x.rank), keepDims: checkBoolean(op, 'keepDims', keepDims ?? false) };
}

/** The input shape with each reduced axis set to 1. */
export function keptShape(x: Shape, axes: readonly number[]): Shape {
  return x.map((d, i) => (axes.includes(i) ? 1 : d));
}

/**
 * For every element of `x`, the flat index of the output group it is reduced
 * into (the row-major index in the kept shape).
 */
export function groupIndex(x: Shape, axes: readonly number[]): Int32Array {
  const ks = stridesOf(keptShape(x, axes));
  return stridedIndex(x, x.map((_, i) => (axes.includes(i) ? 0 : ks[i])));
}

export function reduceReference(x: NDArray, axes: readonly number[], init: number, f: (acc: number, v: number) => number): Float64Array {
  const groups = keptShape(x.shape, axes).reduce((p, d) => p * d, 1);
  const out = new Float64Array(groups).fill(init);
  const idx = groupIndex(x.shape, axes);
  for (let i = 0; i < idx.length; i++) out[idx[i]] = f(out[idx[i]], x.data[i]);
  return out;
}

/**
 * Kernel of a reduction: each thread owns one output group, decodes its kept
 * coordinates, and loops over the reduced elements (one flat loop with a
 * literal bound, decoded into the reduced axes).
 */
export function reduceKernel(x: Shape, axes: readonly number[], init: Src, step: (acc: Src, v: Src) => Src, ints: boolean, grid: Grid | null): Src {
  const keptAxes = x.map((_, d) => d).filter((d) => !axes.includes(d));
  const keptDims = keptAxes.map((d) => x[d]);
  const redDims = axes.map((d) => x[d]);
  const count = redDims.reduce((a, b) => a * b, 1);
  const coords = x.map((_, d) => ident(`c${d}`));
  const keptNames = keptAxes.map((d) => coords[d]);
  const redNames = axes.map((d) => coords[d]);
  return k`${decode(k`i`, keptDims, keptNames, ints, grid)}
  let acc = ${init};
  for (let j = 0; j < ${count}; j++) {
    ${decode(k`j`, redDims, redNames, ints)}
    ${step(k`acc`, k`x0[${offset(x, coords)}]`)}
  }
  return acc;`;
}
