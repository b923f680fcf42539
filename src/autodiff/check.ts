/**
 * Gradient checking for users and for our own tests, in the spirit of
 * PyTorch's `gradcheck` and JAX's `check_grads`: the VJP and the JVP of a
 * function built from Striate ops are compared with central finite
 * differences, and with each other, in float64 on the reference backend.
 *
 * The dot-product test avoids building the Jacobian: for a random direction t
 * and a random cotangent c, <c, J t> (from finite differences of f along t)
 * must equal <J^T c, t> (from the VJP) and <c, J t> from the JVP; and the two
 * analytic sides must equal each other, which no finite difference blurs. For
 * small functions the full Jacobian can be compared entry by entry as well:
 * rows from the VJP, columns from the JVP, both against differences.
 */
import { checkOptions, describeValue, fail } from '../graph/error.js';
import { checkShape } from '../graph/shape.js';
import { type Shape, type Tensor, sizeOf } from '../graph/tensor.js';
import { input } from '../ops/input.js';
import { ReferenceFunction } from '../backend/reference/interpreter.js';
import { vjp } from './grad.js';
import { jvp } from './jvp.js';
import { createRng } from '../data/random.js';

/** Options of {@link checkGradients}: step, tolerances and how many random checks. */
export interface CheckGradientsOptions {
  /** Finite-difference step along each random direction t (default 1e-6): f(x ± eps t), t in [-1, 1] elementwise. */
  eps?: number;
  /** Largest accepted relative error (default 1e-6). */
  rtol?: number;
  /** Absolute slack added to the tolerance, for results near zero (default 1e-9). */
  atol?: number;
  /** Number of random (t, c) pairs for the dot-product test (default 3). */
  directions?: number;
  /** Also compare the full Jacobian when inputs and outputs together have at most this many elements (default 0: never). */
  fullJacobianUpTo?: number;
  /** Seed of the random directions (default 1). */
  seed?: number;
  /**
   * Which derivatives to check (default `'both'`): `'reverse'` the VJP only,
   * `'forward'` the JVP only. `'both'` also checks the two against each other.
   */
  mode?: 'both' | 'reverse' | 'forward';
}

/** A point to check gradients at: one argument of the function, with its values. */
export interface GradientCheckInput {
  /** The argument's shape. */
  readonly shape: Shape;
  /** Its values, row-major: one per element of `shape`. */
  readonly data: ArrayLike<number>;
}

/** What {@link checkGradients} compared, when every check passed. */
export interface GradientCheckReport {
  /** Largest relative error seen over all checks. */
  readonly maxRelativeError: number;
  /** Number of scalar comparisons made. */
  readonly checks: number;
}

/**
 * Check the derivatives of `fn` at `inputs`, reverse mode (`vjp`) and forward
 * mode (`jvp`). Throws an Error describing the first mismatch when a check
 * fails; otherwise returns a report.
 *
 * ```ts
 * checkGradients((x, w) => sum(relu(conv2d(x, w))), [xValue, wValue]);
 * ```
 */
export function checkGradients(
  fn: (...xs: Tensor[]) => Tensor,
  inputs: readonly GradientCheckInput[],
  options: CheckGradientsOptions = {},
): GradientCheckReport {
  const who = 'checkGradients';
  if (typeof fn !== 'function') fail(who, `fn must be a function of tensors, got ${describeValue(fn)}`, `fn ${describeValue(fn)}`, 'a function (...xs: Tensor[]) => Tensor');
  if (!Array.isArray(inputs)) fail(who, `inputs must be an array of { shape, data }, got ${describeValue(inputs)}`, `inputs ${describeValue(inputs)}`, 'an array of { shape, data }');
  const known = ['eps', 'rtol', 'atol', 'directions', 'fullJacobianUpTo', 'seed', 'mode'];
  const { eps = 1e-6, rtol = 1e-6, atol = 1e-9, directions = 3, fullJacobianUpTo = 0, seed = 1, mode = 'both' } = checkOptions(who, options, known, '{ rtol: 1e-5 }') ?? {};
  if (mode !== 'both' && mode !== 'reverse' && mode !== 'forward') {
    fail(who, `mode must be "both", "reverse" or "forward", got ${describeValue(mode)}`, `mode ${describeValue(mode)}`, '"both", "reverse" or "forward"');
  }
  const reverse = mode !== 'forward';
  const forwardMode = mode !== 'reverse';
  inputs.forEach((x, i) => {
    if (typeof x !== 'object' || x === null || (!ArrayBuffer.isView(x.data) && !Array.isArray(x.data))) {
      fail(who, `input ${i} must be { shape, data }, got ${describeValue(x)}`, `input ${i} ${describeValue(x)}`, '{ shape, data } with data an array of numbers');
    }
    checkShape(who, x.shape, `input ${i}'s shape`);
    if (x.data.length !== sizeOf(x.shape)) {
      fail(
        'checkGradients',
        `input ${i} has ${x.data.length} values but shape [${x.shape.join(',')}] needs ${sizeOf(x.shape)}`,
        `input ${i} of ${x.data.length} values`,
        `${sizeOf(x.shape)} values, one per element of shape [${x.shape.join(',')}]`,
      );
    }
  });
  const xs = inputs.map((x, i) => input(`x${i}`, x.shape));
  const y = fn(...xs);
  const c = input('cotangent', y.shape);
  const forward = new ReferenceFunction([y]);
  const backward = reverse ? new ReferenceFunction(vjp([y], xs, [c])) : null;
  const ts = inputs.map((x, i) => input(`t${i}`, x.shape));
  const tangentFn = forwardMode ? new ReferenceFunction(jvp([y], xs, ts)) : null;
  const base: Record<string, Float64Array> = {};
  inputs.forEach((x, i) => (base[`x${i}`] = Float64Array.from(x.data)));
  // Seeded directions make a failure reproducible.
  const rng = createRng(seed);
  const randomArray = (n: number): Float64Array => Float64Array.from({ length: n }, () => rng.next() * 2 - 1);

  // A graph need not read every input (the gradient of a sum does not read x): feed only what it reads.
  const only = (f: ReferenceFunction, feeds: Record<string, Float64Array>): Record<string, Float64Array> =>
    Object.fromEntries(f.inputs.map(({ name }) => [name, feeds[name]]));
  const evalAt = (feeds: Record<string, Float64Array>): Float64Array => forward.runSync(only(forward, feeds))[0].data;
  const vjpAt = (cv: Float64Array): Float64Array[] =>
    backward!.runSync(only(backward!, { ...base, cotangent: cv })).map((r) => r.data);
  const jvpAt = (tv: Float64Array[]): Float64Array => {
    const feeds: Record<string, Float64Array> = { ...base };
    tv.forEach((t, i) => (feeds[`t${i}`] = t));
    return tangentFn!.runSync(only(tangentFn!, feeds))[0].data;
  };
  /** f(x + eps t) - f(x - eps t), divided by 2 eps: the directional derivative J t. */
  const jvpByDifferences = (ts: Float64Array[]): Float64Array => {
    const plus: Record<string, Float64Array> = {};
    const minus: Record<string, Float64Array> = {};
    inputs.forEach((_, i) => {
      const x = base[`x${i}`];
      const t = ts[i];
      const p = new Float64Array(x.length);
      const m = new Float64Array(x.length);
      for (let k = 0; k < x.length; k++) {
        p[k] = x[k] + eps * t[k];
        m[k] = x[k] - eps * t[k];
      }
      plus[`x${i}`] = p;
      minus[`x${i}`] = m;
    });
    const fp = evalAt(plus);
    const fm = evalAt(minus);
    return fp.map((v, k) => (v - fm[k]) / (2 * eps));
  };

  let worst = 0;
  let checks = 0;
  /** `numeric` (finite differences, or the VJP when `by` is 'the JVP and the VJP') against `analytic`. */
  const compare = (numeric: number, analytic: number, what: () => string, by: 'VJP' | 'JVP' | 'JVP and VJP' = 'VJP'): void => {
    const err = Math.abs(numeric - analytic);
    const rel = err / Math.max(Math.abs(numeric), Math.abs(analytic), 1e-300);
    checks++;
    if (err > atol + rtol * Math.max(Math.abs(numeric), Math.abs(analytic))) {
      const sides = by === 'JVP and VJP' ? `the VJP gives ${numeric} but the JVP gives ${analytic}` : `finite differences give ${numeric} but the ${by} gives ${analytic}`;
      throw new Error(`checkGradients: ${what()}: ${sides} (relative error ${rel.toExponential(2)} > ${rtol})`);
    }
    if (err > atol) worst = Math.max(worst, rel);
  };
  const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
    let s = 0;
    for (let k = 0; k < a.length; k++) s += a[k] * b[k];
    return s;
  };

  const ySize = sizeOf(y.shape);
  for (let d = 0; d < directions; d++) {
    const tv = inputs.map((x) => randomArray(sizeOf(x.shape)));
    const cv = randomArray(ySize);
    const numeric = dot(cv, jvpByDifferences(tv));
    let byVjp = 0;
    if (reverse) {
      vjpAt(cv).forEach((gi, i) => (byVjp += dot(gi, tv[i])));
      compare(numeric, byVjp, () => `dot-product test ${d} (<c, J t> vs <J^T c, t>)`);
    }
    if (forwardMode) {
      const byJvp = dot(cv, jvpAt(tv));
      compare(numeric, byJvp, () => `JVP test ${d} (<c, J t>, J t by differences and by the JVP)`, 'JVP');
      if (reverse) compare(byVjp, byJvp, () => `JVP-VJP test ${d} (<J^T c, t> vs <c, J t>)`, 'JVP and VJP');
    }
  }

  const inSize = inputs.reduce((s, x) => s + sizeOf(x.shape), 0);
  if (fullJacobianUpTo > 0 && inSize + ySize <= fullJacobianUpTo) {
    // Rows of J from the VJP with unit cotangents; columns from differences
    // along unit directions, and from the JVP along the same directions.
    const rows: Float64Array[][] = [];
    for (let r = 0; r < ySize && reverse; r++) {
      const e = new Float64Array(ySize);
      e[r] = 1;
      rows.push(vjpAt(e));
    }
    inputs.forEach((x, i) => {
      for (let k = 0; k < sizeOf(x.shape); k++) {
        const tv = inputs.map((xx, j) => {
          const t = new Float64Array(sizeOf(xx.shape));
          if (j === i) t[k] = 1;
          return t;
        });
        const col = jvpByDifferences(tv);
        const jcol = forwardMode ? jvpAt(tv) : null;
        for (let r = 0; r < ySize; r++) {
          if (reverse) compare(col[r], rows[r][i][k], () => `d output[${r}] / d input ${i}[${k}]`);
          if (jcol) compare(col[r], jcol[r], () => `d output[${r}] / d input ${i}[${k}]`, 'JVP');
        }
      }
    });
  }
  return { maxRelativeError: worst, checks };
}
