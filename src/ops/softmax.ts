import { describeValue } from '../graph/error.js';
import { type Shape, Tensor, shapeToString, sizeOf } from '../graph/tensor.js';
import { mul } from './mul.js';
import { checkInputCount, makeNode, normalizeAxes, opError, type OpDef } from './op.js';
import { k, type Src } from '../kernel/source.js';
import { sub } from './sub.js';
import { sum } from './sum.js';

// s = exp(x) / Σ exp(x) along the axis; ds_i = s_i (dx_i - Σ_j s_j dx_j), so
// the VJP is s ⊙ (g - Σ(g ⊙ s)). It reads the node s itself, and is built from
// mul/sub/sum/softmax, so it differentiates again.
export const softmaxOp: OpDef<'softmax'> = {
  name: 'softmax',
  shape: (inputs, { axis }) => checkAxisOp('softmax', inputs, axis),
  vjp: (g, s) => [mul(s, sub(g, sum(mul(g, s), { axes: s.attrs.axis, keepDims: true })))],
  // ds = s (dx - Σ_axis s dx), the Jacobian being symmetric: the VJP's formula with g = dx.
  jvp: ([t], s) => mul(s, sub(t!, sum(mul(t!, s), { axes: s.attrs.axis, keepDims: true }))),
  reference: ([x], { axis }) => {
    const out = new Float64Array(x.data.length);
    const d = x.data;
    forEachLine(x.shape, axis, (base, n, step) => {
      // Subtracting the maximum keeps every exponent <= 0: no overflow, and at least one term is 1.
      let m = -Infinity;
      for (let t = 0, p = base; t < n; t++, p += step) if (d[p] > m) m = d[p];
      let total = 0;
      for (let t = 0, p = base; t < n; t++, p += step) total += out[p] = Math.exp(d[p] - m);
      for (let t = 0, p = base; t < n; t++, p += step) out[p] /= total;
    });
    return out;
  },
  kernel: ({ inputs: [x], attrs: { axis } }) => k`${lineSource(x, axis)}
  return Math.exp(x0[i] - m) / total;`,
};

/** exp(x) / Σ exp(x) along `axis` (default the last), computed stably. */
export function softmax(x: Tensor, axis = -1): Tensor<'softmax'> {
  return makeNode(softmaxOp, [x], { axis: resolveAxis('softmax', x, axis) });
}

/** Shape rule of softmax and logSoftmax: one input of rank >= 1, an axis in [0, rank). */
export function checkAxisOp(op: string, inputs: readonly Shape[], axis: number): Shape {
  checkInputCount(op, inputs, 1);
  const [x] = inputs;
  if (x.length === 0) opError(op, 'needs a tensor of rank >= 1 to normalise along an axis, got a scalar', 'a scalar (shape [])', 'a tensor of rank >= 1');
  if (!Number.isInteger(axis) || axis < 0 || axis >= x.length) {
    opError(
      op,
      `axis ${axis} is out of range for shape ${shapeToString(x)}; expected an integer in [0, ${x.length - 1}]`,
      `axis ${describeValue(axis)}`,
      `an integer in [0, ${x.length - 1}]`,
    );
  }
  return x;
}

/** A negative axis counts from the end; a scalar or a non-tensor is left for makeNode and the shape rule to report. */
export function resolveAxis(op: string, x: Tensor, axis: number): number {
  if (typeof axis !== 'number') opError(op, `axis must be an integer, got ${describeValue(axis)}`, `axis ${describeValue(axis)}`, 'an integer axis');
  return x instanceof Tensor && x.rank > 0 ? normalizeAxes(op, axis, x.rank)[0] : axis;
}

/**
 * Call `f(base, n, step)` once per line of `shape` along `axis`: the line's
 * elements are at flat indices base, base + step, ..., base + (n-1)·step.
 */
export function forEachLine(shape: Shape, axis: number, f: (base: number, n: number, step: number) => void): void {
  const n = shape[axis];
  const inner = sizeOf(shape.slice(axis + 1));
  const outer = sizeOf(shape.slice(0, axis));
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) f(o * n * inner + i, n, inner);
  }
}

/**
 * Kernel source shared by softmax and logSoftmax: for element i, the maximum
 * `m` of its line along `axis` and `total` = Σ exp(x - m) over that line.
 * (Each element recomputes its line's sums: lines are short, typically the classes.)
 */
export function lineSource(x: Shape, axis: number): Src {
  const n = x[axis];
  const step = x.slice(axis + 1).reduce((a, b) => a * b, 1);
  return k`const along = Math.floor((i + 0.5) / ${step}) - Math.floor((i + 0.5) / ${step * n}) * ${n};
  const base = i - along * ${step};
  ${lineStatsSource(k`base`, n, step)}`;
}

/**
 * Kernel source declaring `m`, the maximum of x0[base + t*step] for t < n,
 * and `total` = Σ exp(x0[base + t*step] - m): the parts of a stable
 * log-sum-exp (softmax, logSoftmax, the cross-entropy loss and its gradient).
 */
export function lineStatsSource(base: Src, n: number, step: number): Src {
  return k`let m = -3.0e38;
  for (let t = 0; t < ${n}; t++) {
    m = Math.max(m, x0[${base} + t * ${step}]);
  }
  let total = 0.0;
  for (let t = 0; t < ${n}; t++) {
    total += Math.exp(x0[${base} + t * ${step}] - m);
  }`;
}

/** lineStatsSource's float64 twin: the maximum m of d[base + t*step], t < n, and Σ exp(d - m). */
export function lineStats(d: ArrayLike<number>, base: number, n: number, step: number): { m: number; total: number } {
  let m = -Infinity;
  for (let t = 0, p = base; t < n; t++, p += step) if (d[p] > m) m = d[p];
  let total = 0;
  for (let t = 0, p = base; t < n; t++, p += step) total += Math.exp(d[p] - m);
  return { m, total };
}
