/**
 * Forward mode, op by op. `jvpCases` holds one property per op name (a
 * mapped type over `OpName`, so an op added without a case is a compile
 * error). Each property builds a random graph that contains a node of its op
 * (random shapes, attributes and values; some arguments random constants, so
 * that rules also meet inputs with no tangent) and runs `checkGradients` with
 * mode 'both': the JVP against central differences and against the VJP,
 * <c, J t> = <J^T c, t>. It also asserts that the graph holds the op and that
 * jvp called the op's rule; arguments with no derivative (class labels,
 * piecewise-constant inputs) must give exactly zero tangent, and leave the
 * other arguments' tangent unchanged.
 *
 * Then: every property fails when its op's JVP rule is broken (the rule's
 * tangent doubled, or a zero tangent made ones); two hand-written wrong rules
 * (conv2d without its filter term, sub with its signs swapped) fail
 * checkGradients in forward mode but pass mode 'reverse'; and jvp's own
 * contracts (argument checks, rule results, broadcasting, zeros, webasm,
 * Hessian-vector products).
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  StriateError,
  add,
  after,
  avgPool2d,
  avgPool2dBackward,
  broadcastTo,
  checkGradients,
  checkpoint,
  compile,
  concat,
  constant,
  conv2d,
  conv2dBackpropFilter,
  conv2dBackpropInput,
  customVjp,
  div,
  exp,
  grad,
  input,
  jvp,
  log,
  logSoftmax,
  matmul,
  max,
  maxPool2d,
  maxPool2dBackward,
  maxPool2dSelect,
  mul,
  neg,
  ones,
  oneHot,
  pad,
  relu,
  reluBackward,
  reshape,
  sigmoid,
  slice,
  softmax,
  softmaxCrossEntropy,
  sqrt,
  step,
  sub,
  sum,
  tanh,
  topologicalOrder,
  transpose,
  type Padding,
  type Pool2dAttrs,
  type Shape,
  type Tensor,
} from '../../src/index.js';
import type { OpName } from '../../src/ops/attrs.js';
import { addAll } from '../../src/ops/add.js';
import { batchMatmul } from '../../src/ops/batchMatmul.js';
import { conv2dOp } from '../../src/ops/conv2d.js';
import { conv2dMaxPool } from '../../src/ops/conv2dMaxPool.js';
import { elu } from '../../src/ops/elu.js';
import { ops } from '../../src/ops/index.js';
import { leakyRelu } from '../../src/ops/leakyRelu.js';
import { pow } from '../../src/ops/pow.js';
import { relu6 } from '../../src/ops/relu6.js';
import { matmulOp } from '../../src/ops/matmul.js';
import { maxMask } from '../../src/ops/maxMask.js';
import { makeNode, type OpDef } from '../../src/ops/op.js';
import { pool2dAttrs, type Pool2dOptions } from '../../src/ops/pool2dGeometry.js';
import { softmaxCrossEntropyBackward } from '../../src/ops/softmaxCrossEntropyBackward.js';
import { sizeOf } from '../../src/graph/tensor.js';
import { distinctValues, propertyRuns, randomValues, seedArb, shapeArb, striateError } from '../helpers.js';

// ---------------------------------------------------------------------------
// The registry, patched per test (restored after each).

type AnyJvp = (tangents: readonly (Tensor | null)[], node: Tensor<never>) => Tensor | null;
const registry = ops as unknown as Record<OpName, OpDef<never>>;
const original = { ...registry };

/** Replace op `name`'s JVP rule until the end of the test. */
function withJvp(name: OpName, rule: AnyJvp): void {
  registry[name] = { ...registry[name], jvp: rule } as never;
}

afterEach(() => {
  for (const name of Object.keys(original) as OpName[]) registry[name] = original[name];
});

// ---------------------------------------------------------------------------
// Cases: arguments with values, and a graph built from them.

type Domain = 'any' | 'positive' | 'distinct' | { readonly labels: number };

/** One argument of a case: its value, and whether it is a constant in the graph (no tangent) rather than a checked input. */
interface Arg {
  readonly shape: Shape;
  readonly data: Float64Array;
  readonly fixed: boolean;
}

interface Check {
  readonly args: readonly Arg[];
  /** The graph, from one tensor per argument (an input, or a constant for a fixed one). */
  readonly build: (...xs: Tensor[]) => Tensor;
  /** Arguments with no derivative: a tangent given to them alone must give exactly zero, and must not change the others'. */
  readonly ignored?: readonly number[];
  /** Seed of checkGradients' random directions. */
  readonly seed: number;
}

interface JvpCase {
  readonly check: fc.Arbitrary<Check>;
  /** Set for the leaves, whose rule jvp never calls (it gives the xs their tangents itself): why the case still covers the op. */
  readonly leaf?: string;
}

/** Property runs per op: modest, since every op has one (and one deliberately broken run). */
const runs = Math.max(2, Math.ceil(propertyRuns / 6));

function values(n: number, domain: Domain, seed: number): Float64Array {
  if (domain === 'positive') return randomValues(n, seed).map((v) => 0.5 + Math.abs(v));
  // distinctValues holds an exact 0 when n is odd (its ranks are centred on one): a quarter gap
  // off-centre keeps every value at least 0.0025 from relu's kink and step's jump.
  if (domain === 'distinct') return distinctValues(n, seed, 0.01).map((v) => v + 0.0025);
  if (typeof domain === 'object') return randomValues(n, seed).map((v) => Math.min(domain.labels - 1, Math.floor(((v + 1) / 2) * domain.labels)));
  return randomValues(n, seed);
}

const arg = (shape: Shape, domain: Domain, seed: number, fixed = false): Arg => ({ shape, data: values(sizeOf(shape), domain, seed), fixed });

/** Which of n arguments are constants: each one in four, never all of them. */
const fixedArb = (n: number): fc.Arbitrary<boolean[]> =>
  fc.array(fc.nat(3), { minLength: n, maxLength: n }).map((a) => {
    const m = a.map((v) => v === 0);
    if (m.every(Boolean)) m[0] = false;
    return m;
  });

/** A shape that broadcasts to `out`: some leading axes dropped, some axes set to 1. */
const broadcastFrom = (out: readonly number[]): fc.Arbitrary<number[]> =>
  fc
    .tuple(fc.integer({ min: 0, max: out.length }), fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }))
    .map(([drop, unit]) => out.slice(drop).map((d, i) => (unit[i + drop] ? 1 : d)));

/** Evaluate `outputs` on the float64 reference, feeding only what the graph reads. */
function evaluate(outputs: readonly Tensor[], feeds: Readonly<Record<string, Float64Array>> = {}): Float64Array[] {
  const f = compile([...outputs]);
  return f.runSync(Object.fromEntries(f.inputs.map(({ name }) => [name, feeds[name]]))).map((r) => r.data);
}

/** An argument as a constant (for evaluating a case's forward values outside checkGradients). */
const constantOf = (a: Arg): Tensor => constant(a.data, a.shape);

/** Every |v| at least `margin` from 0: a relu's kink is out of reach of the difference step. */
const awayFromZero = (v: Float64Array, margin: number): boolean => v.every((x) => Math.abs(x) >= margin);

/**
 * The pooled windows of z (NCHW) hold no near-ties among their candidates
 * for the maximum (with `relu`, values at or below 0 are all 0 and do not
 * compete), so the difference step cannot move an argmax.
 */
function windowsSeparated(z: Float64Array, shape: Shape, a: Pool2dAttrs, relu: boolean, margin: number): boolean {
  if (relu && !awayFromZero(z, margin)) return false;
  const [n, c, h, w] = shape;
  const [[kh, kw], [sh, sw], [pt, pb, pl, pr]] = [a.size, a.stride, a.pads];
  const [dh, dw] = a.dilation ?? [1, 1];
  const [cb, cr] = a.ceilPads ?? [0, 0];
  const ho = Math.floor((h + pt + pb + cb - dh * (kh - 1) - 1) / sh) + 1;
  const wo = Math.floor((w + pl + pr + cr - dw * (kw - 1) - 1) / sw) + 1;
  for (let p = 0; p < n * c; p++)
    for (let oy = 0; oy < ho; oy++)
      for (let ox = 0; ox < wo; ox++) {
        const cells: number[] = [];
        for (let i = 0; i < kh; i++)
          for (let j = 0; j < kw; j++) {
            const [y, x] = [oy * sh - pt + i * dh, ox * sw - pl + j * dw];
            if (y >= 0 && y < h && x >= 0 && x < w) cells.push(relu ? Math.max(0, z[(p * h + y) * w + x]) : z[(p * h + y) * w + x]);
          }
        cells.sort((u, v) => u - v);
        for (let k = 1; k < cells.length; k++) if (cells[k] > 0 || !relu) if (cells[k] - cells[k - 1] < margin) return false;
      }
  return true;
}

/** Far enough apart for the difference step (1e-6, times a sum of at most 48 products of values <= 1 in a convolution). */
const MARGIN = 1e-3;

// -- elementwise ------------------------------------------------------------

function unaryCase(f: (x: Tensor) => Tensor, domain: Domain): JvpCase {
  return {
    check: fc.record({ shape: shapeArb(0, 3, 4), seed: seedArb }).map(({ shape, seed }) => ({ args: [arg(shape, domain, seed)], build: f, seed })),
  };
}

/** Both operands broadcast (from the right, axes of 1), either one a constant, or the same tensor twice. */
function binaryCase(f: (a: Tensor, b: Tensor) => Tensor, da: Domain, db: Domain, ignored?: readonly number[]): JvpCase {
  const shapes = shapeArb(0, 3, 4).chain((out) => fc.tuple(broadcastFrom(out), broadcastFrom(out), fc.constant(out)));
  return {
    check: fc.record({ shapes, fixed: fixedArb(2), same: fc.nat(4), seed: seedArb }).map(({ shapes: [sa, sb, out], fixed, same, seed }) =>
      same === 0
        ? { args: [arg(out, da === 'any' ? db : da, seed)], build: (x: Tensor) => f(x, x), seed }
        : { args: [arg(sa, da, seed, fixed[0]), arg(sb, db, seed + 1, fixed[1])], build: f, ignored, seed },
    ),
  };
}

/**
 * f(x) alone, or times another argument y, where f is piecewise constant in x
 * (x from distinctValues: no tie, no jump within a difference step): x's
 * tangent must vanish, y's must be right. `config` gives x's shape and f's axes.
 */
function maskCase<A>(config: fc.Arbitrary<readonly [Shape, A]>, f: (x: Tensor, axes: A) => Tensor): JvpCase {
  return {
    check: fc.record({ config, fixed: fixedArb(2), alone: fc.boolean(), seed: seedArb }).map(({ config: [shape, axes], fixed, alone, seed }) =>
      alone
        ? { args: [arg(shape, 'distinct', seed)], build: (x: Tensor) => f(x, axes), ignored: [0], seed }
        : { args: [arg(shape, 'distinct', seed, fixed[0]), arg(shape, 'any', seed + 1, fixed[1])], build: (x: Tensor, y: Tensor) => mul(f(x, axes), y), ignored: [0], seed },
    ),
  };
}

/** leakyRelu, elu: an attribute drawn from `alphas`, x from 'distinct' values (times `scale`), away from the kink at 0. */
function alphaCase(f: (x: Tensor, alpha: number) => Tensor, alphas: readonly number[], scale: number): JvpCase {
  return {
    check: fc
      .record({ shape: shapeArb(0, 3, 4), alpha: fc.constantFrom(...alphas), seed: seedArb })
      .map(({ shape, alpha, seed }) => ({ args: [arg(shape, 'distinct', seed)], build: (x: Tensor) => f(mul(x, scale), alpha), seed })),
  };
}

/**
 * relu6 of 100 x + 3, x from 'distinct' values: a quarter or three quarters
 * past an integer, at least 0.25 from both kinks (0 and 6), across both
 * flat parts when there are enough values.
 */
const relu6Case: JvpCase = {
  check: fc.record({ shape: shapeArb(0, 3, 4), seed: seedArb }).map(({ shape, seed }) => ({ args: [arg(shape, 'distinct', seed)], build: (x: Tensor) => relu6(add(mul(x, 100), 3)), seed })),
};

/**
 * pow: integer exponents on bases of both signs (|x| in [0.5, 1.5]),
 * fractional ones on positive bases, and integers past the multiplications
 * (65, 66) on |x| near 1.
 */
const powCase: JvpCase = {
  check: fc
    .record({
      shape: shapeArb(0, 3, 4),
      p: fc.oneof(fc.integer({ min: -3, max: 4 }), fc.constantFrom(-0.75, 0.75, 1.5, 2.5, 65, 66)),
      seed: seedArb,
    })
    .map(({ shape, p, seed }) => {
      const base = values(sizeOf(shape), 'positive', seed);
      const data = Number.isInteger(p) ? base.map((v, i) => (Math.abs(p) > 10 ? 1 + (v - 1) / 10 : v) * (i % 2 ? -1 : 1)) : base;
      return { args: [{ shape, data, fixed: false }], build: (x: Tensor) => pow(x, p), seed };
    }),
};

// -- shapes -----------------------------------------------------------------

const reshapeCase: JvpCase = {
  check: shapeArb(0, 3, 4)
    .chain((shape) =>
      fc.record({
        shape: fc.constant(shape),
        order: fc.shuffledSubarray([...shape.keys()], { minLength: shape.length, maxLength: shape.length }),
        kind: fc.constantFrom('permuted', 'flat', 'inferred'),
        seed: seedArb,
      }),
    )
    .map(({ shape, order, kind, seed }) => {
      const dims = order.map((i) => shape[i]);
      const target = kind === 'flat' ? [sizeOf(shape)] : kind === 'inferred' && dims.length > 0 ? [-1, ...dims.slice(1)] : dims;
      return { args: [arg(shape, 'any', seed)], build: (x: Tensor) => reshape(x, target), seed };
    }),
};

const broadcastToCase: JvpCase = {
  check: fc
    .record({
      shape: shapeArb(0, 3, 3),
      grow: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 3, maxLength: 3 }),
      lead: shapeArb(0, 2, 3),
      seed: seedArb,
    })
    .map(({ shape, grow, lead, seed }) => {
      // Axes of 1 grow; new leading axes appear; never the shape itself (broadcastTo would return x, no node).
      let target = [...lead, ...shape.map((d, i) => (d === 1 ? grow[i] : d))];
      if (target.join() === shape.join()) target = [2, ...target];
      return { args: [arg(shape, 'any', seed)], build: (x: Tensor) => broadcastTo(x, target), seed };
    }),
};

const transposeCase: JvpCase = {
  check: shapeArb(1, 4, 3)
    .chain((shape) =>
      fc.record({ shape: fc.constant(shape), perm: fc.shuffledSubarray([...shape.keys()], { minLength: shape.length, maxLength: shape.length }), seed: seedArb }),
    )
    .map(({ shape, perm, seed }) => ({ args: [arg(shape, 'any', seed)], build: (x: Tensor) => transpose(x, perm), seed })),
};

const padCase: JvpCase = {
  check: shapeArb(1, 3, 3)
    .chain((shape) =>
      fc.record({
        shape: fc.constant(shape),
        pads: fc.array(fc.tuple(fc.nat(2), fc.nat(2)), { minLength: shape.length, maxLength: shape.length }),
        value: fc.constantFrom(0, 0.5, -2),
        seed: seedArb,
      }),
    )
    // A border value that is not 0: the tangent's border must still be 0.
    .map(({ shape, pads, value, seed }) => ({ args: [arg(shape, 'any', seed)], build: (x: Tensor) => pad(x, pads, value), seed })),
};

const sliceCase: JvpCase = {
  check: shapeArb(1, 3, 4)
    .chain((shape) =>
      fc.record({
        shape: fc.constant(shape),
        box: fc.tuple(...shape.map((d) => fc.integer({ min: 0, max: d - 1 }).chain((b) => fc.tuple(fc.constant(b), fc.oneof(fc.constant(-1), fc.integer({ min: 1, max: d - b })))))),
        seed: seedArb,
      }),
    )
    .map(({ shape, box, seed }) => ({ args: [arg(shape, 'any', seed)], build: (x: Tensor) => slice(x, box.map(([b]) => b), box.map(([, s]) => s)), seed })),
};

const concatCase: JvpCase = {
  check: shapeArb(1, 3, 3)
    .chain((shape) =>
      fc.record({
        shape: fc.constant(shape),
        axis: fc.integer({ min: -shape.length, max: shape.length - 1 }),
        widths: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
        fixed: fixedArb(3),
        seed: seedArb,
      }),
    )
    .map(({ shape, axis, widths, fixed, seed }) => {
      const a = axis < 0 ? axis + shape.length : axis;
      // Parts that are constants get zero tangents filled in by the rule.
      const args = widths.map((wd, i) => arg(shape.map((d, k) => (k === a ? wd : d)), 'any', seed + i, fixed[i]));
      if (args.every((x) => x.fixed)) args[0] = { ...args[0], fixed: false };
      return { args, build: (...xs: Tensor[]) => concat(xs, axis), seed };
    }),
};

// -- reductions -------------------------------------------------------------

function reduceCase(f: (x: Tensor, axes: number[] | undefined, keepDims: boolean) => Tensor, domain: Domain, minRank: number): JvpCase {
  return {
    check: shapeArb(minRank, 3, 4)
      .chain((shape) =>
        fc.record({
          shape: fc.constant(shape),
          axes: fc.option(fc.shuffledSubarray([...shape.keys()], { minLength: minRank > 0 ? 1 : 0 })),
          keepDims: fc.boolean(),
          seed: seedArb,
        }),
      )
      .map(({ shape, axes, keepDims, seed }) => ({ args: [arg(shape, domain, seed)], build: (x: Tensor) => f(x, axes ?? undefined, keepDims), seed })),
  };
}

// -- linear algebra ---------------------------------------------------------

const matmulCase: JvpCase = {
  check: fc
    .record({
      m: fc.integer({ min: 1, max: 4 }),
      k: fc.integer({ min: 1, max: 4 }),
      n: fc.integer({ min: 1, max: 4 }),
      transposeA: fc.boolean(),
      transposeB: fc.boolean(),
      // plain: matmul(); the others hand-built as backend/fuse.ts builds them
      fused: fc.constantFrom('plain', 'bias', 'relu', 'bias+relu'),
      fixed: fixedArb(3),
      seed: seedArb,
    })
    .map(({ m, k, n, transposeA, transposeB, fused, fixed, seed }) => {
      const hasBias = fused.includes('bias');
      const withRelu = fused.includes('relu');
      const args = [arg(transposeA ? [k, m] : [m, k], 'any', seed, fixed[0]), arg(transposeB ? [n, k] : [k, n], 'any', seed + 1, fixed[1])];
      if (hasBias) args.push(arg([n], 'any', seed + 2, fixed[2]));
      if (args.every((x) => x.fixed)) args[0] = { ...args[0], fixed: false };
      const node = (relu: boolean) => (...xs: Tensor[]): Tensor =>
        fused === 'plain' ? matmul(xs[0], xs[1], { transposeA, transposeB }) : makeNode(matmulOp, xs, { transposeA, transposeB, hasBias, relu });
      return { args, build: node(withRelu), seed, pre: () => !withRelu || awayFromZero(evaluate([node(false)(...args.map(constantOf))])[0], MARGIN) };
    })
    .filter((c) => c.pre()),
};

/**
 * batchMatmul built directly, or by matmul() from a rank-2 b shared by a
 * batch of rank 2 read transposed (untransposed, matmul() folds the batch
 * into one plain matmul instead), or from a batch of one a broadcast
 * against b's batch of at least two.
 */
const batchMatmulCase: JvpCase = {
  check: fc
    .record({
      p: fc.integer({ min: 1, max: 3 }),
      m: fc.integer({ min: 1, max: 3 }),
      k: fc.integer({ min: 1, max: 3 }),
      n: fc.integer({ min: 1, max: 3 }),
      transposeA: fc.boolean(),
      transposeB: fc.boolean(),
      via: fc.constantFrom('batchMatmul', 'shared b', 'batch of one a'),
      fixed: fixedArb(2),
      seed: seedArb,
    })
    .map(({ p, m, k, n, transposeA, transposeB, via, fixed, seed }) => {
      const flags = { transposeA: transposeA || via === 'shared b', transposeB };
      const am = flags.transposeA ? [k, m] : [m, k];
      const bm = transposeB ? [n, k] : [k, n];
      const [as, bs] = via === 'batchMatmul' ? [[p, ...am], [p, ...bm]] : via === 'shared b' ? [[2, p, ...am], bm] : [[1, ...am], [p + 1, ...bm]];
      return {
        args: [arg(as, 'any', seed, fixed[0]), arg(bs, 'any', seed + 1, fixed[1])],
        build: via === 'batchMatmul' ? (a: Tensor, b: Tensor) => batchMatmul(a, b, flags) : (a: Tensor, b: Tensor) => matmul(a, b, flags),
        seed,
      };
    }),
};

// -- classification ---------------------------------------------------------

function axisCase(f: (x: Tensor, axis: number) => Tensor): JvpCase {
  return {
    check: shapeArb(1, 3, 4)
      .chain((shape) => fc.record({ shape: fc.constant(shape), axis: fc.integer({ min: -shape.length, max: shape.length - 1 }), seed: seedArb }))
      .map(({ shape, axis, seed }) => ({ args: [arg(shape, 'any', seed)], build: (x: Tensor) => f(x, axis), seed })),
  };
}

const oneHotCase: JvpCase = {
  check: fc.record({ labels: shapeArb(1, 2, 3), depth: fc.integer({ min: 1, max: 4 }), seed: seedArb }).map(({ labels, depth, seed }) => ({
    // The labels are a constant for checkGradients (a difference step would make them non-integers); the ignored-tangent check feeds them as an input.
    args: [arg(labels, { labels: depth }, seed, true), arg([...labels, depth], 'any', seed + 1)],
    build: (l: Tensor, y: Tensor) => mul(oneHot(l, depth), y),
    ignored: [0],
    seed,
  })),
};

const reductionArb = fc.constantFrom('mean' as const, 'sum' as const, 'none' as const);

const softmaxCrossEntropyCase: JvpCase = {
  check: fc
    .record({ n: fc.integer({ min: 1, max: 4 }), c: fc.integer({ min: 1, max: 5 }), index: fc.boolean(), reduction: reductionArb, fixed: fixedArb(2), seed: seedArb })
    .map(({ n, c, index, reduction, fixed, seed }) =>
      index
        ? {
            args: [arg([n, c], 'any', seed), arg([n], { labels: c }, seed + 1, true)],
            build: (z: Tensor, l: Tensor) => softmaxCrossEntropy(z, l, { reduction }),
            ignored: [1],
            seed,
          }
        : {
            // Probability labels have a derivative (-log softmax): both arguments checked.
            args: [arg([n, c], 'any', seed, fixed[0]), arg([n, c], 'positive', seed + 1, fixed[1])],
            build: (z: Tensor, y: Tensor) => softmaxCrossEntropy(z, y, { reduction }),
            seed,
          },
    ),
};

const softmaxCrossEntropyBackwardCase: JvpCase = {
  check: fc
    .record({ n: fc.integer({ min: 1, max: 4 }), c: fc.integer({ min: 1, max: 5 }), reduction: reductionArb, fixed: fixedArb(2), seed: seedArb })
    .map(({ n, c, reduction, fixed, seed }) => ({
      args: [arg([n, c], 'any', seed, fixed[0]), arg([n], { labels: c }, seed + 1, true), arg(reduction === 'none' ? [n] : [], 'any', seed + 2, fixed[1])],
      build: (z: Tensor, l: Tensor, g: Tensor) => softmaxCrossEntropyBackward(z, l, g, reduction),
      ignored: [1],
      seed,
    })),
};

// -- convolution and pooling ------------------------------------------------

type Shape4 = [number, number, number, number];

interface ConvConfig {
  readonly x: Shape4;
  readonly w: Shape4;
  readonly options: { readonly stride: [number, number]; readonly dilation: [number, number]; readonly padding: Padding; readonly groups: number };
  /** The output shape. */
  readonly y: Shape4;
}

const convPaddingArb: fc.Arbitrary<Padding> = fc.oneof(
  fc.constant('valid' as const),
  fc.constant('same' as const),
  fc.integer({ min: 0, max: 2 }),
  fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
  fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
);

/** Rows and columns of an explicit padding (0 for 'same', which always fits). */
function padSums(padding: Padding): [number, number] {
  if (padding === 'valid' || padding === 'same') return [0, 0];
  if (typeof padding === 'number') return [2 * padding, 2 * padding];
  if (padding.length === 2) return [2 * padding[0], 2 * padding[1]];
  return [padding[0] + padding[1], padding[2] + padding[3]];
}

/**
 * Convolutions: batch 1-2, channels 1-3, spatial up to 8, filters 1-4 on
 * each axis, strides 1-3, dilations 1-2, every padding mode (uneven ones
 * too), each input just big enough for the dilated filter or bigger; half
 * of them grouped: 2 groups of one channel each, or 3 (depthwise), with one
 * filter per group or two.
 */
const convConfigArb: fc.Arbitrary<ConvConfig> = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }),
    groups: fc.oneof(fc.constant(1), fc.constantFrom(2, 3)),
    cPer: fc.integer({ min: 1, max: 3 }),
    oPer: fc.integer({ min: 1, max: 3 }),
    k: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })),
    stride: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    dilation: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
    padding: convPaddingArb,
    extra: fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 5 })),
  })
  .map(({ n, groups, cPer, oPer, k, stride, dilation, padding, extra }) => {
    // at most 3 input channels; with groups, up to two filters per group
    const c = groups === 1 ? cPer : groups;
    const o = groups === 1 ? oPer : groups * (1 + ((oPer - 1) % 2));
    const sums = padSums(padding);
    const hw = [0, 1].map((a) => {
      const eff = dilation[a] * (k[a] - 1) + 1;
      return Math.min(8, Math.max(1, eff - (padding === 'same' ? eff : sums[a])) + extra[a]);
    });
    return { n, c, o, k, hw, options: { stride, dilation, padding, groups } };
  })
  .filter(({ k, hw, options }) => [0, 1].every((a) => options.dilation[a] * (k[a] - 1) + 1 <= hw[a] + (options.padding === 'same' ? Infinity : padSums(options.padding)[a])))
  .map(({ n, c, o, k, hw, options }) => {
    const x: Shape4 = [n, c, hw[0], hw[1]];
    const w: Shape4 = [o, c / options.groups, k[0], k[1]];
    return { x, w, options, y: conv2d(input('x', x), input('w', w), options).shape as unknown as Shape4 };
  });

/** Raw pooling choices, made into options by `poolOptions` for a given input. */
const rawPoolArb = fc.record({
  kh: fc.integer({ min: 1, max: 3 }),
  kw: fc.integer({ min: 1, max: 3 }),
  square: fc.boolean(),
  // omitted: stride = size (tiling); else overlapping (< size), touching or gapped (> size)
  stride: fc.option(fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })), { freq: 3 }),
  mode: fc.constantFrom('omitted', 'valid', 'same', 'number', 'pair', 'quad'),
  p: fc.array(fc.nat(2), { minLength: 4, maxLength: 4 }),
  countIncludePad: fc.boolean(),
  // spacing of the window's taps (1: adjacent), cut down by poolOptions until the window fits; ceil rounding of the output size
  dh: fc.integer({ min: 1, max: 3 }),
  dw: fc.integer({ min: 1, max: 3 }),
  ceil: fc.boolean(),
});
type RawPool = typeof rawPoolArb extends fc.Arbitrary<infer T> ? T : never;

/** Options for pooling an h x w map: the window fits (it is at most the map), every padding is smaller than it. */
function poolOptions(raw: RawPool, h: number, w: number): Pool2dOptions {
  const kh = Math.min(raw.kh, h);
  const kw = Math.min(raw.square ? raw.kh : raw.kw, w);
  const options: Pool2dOptions = { size: kh === kw && raw.square ? kh : [kh, kw] };
  if (raw.stride !== null) options.stride = raw.stride;
  // The largest dilation up to raw's whose window spans at most the map (d*(k-1)+1 <= h): it fits, and every window holds input cells.
  const dilationFor = (dd: number, k: number, n: number) => (k === 1 ? dd : Math.max(1, Math.min(dd, Math.floor((n - 1) / (k - 1)))));
  const dilation: [number, number] = [dilationFor(raw.dh, kh, h), dilationFor(raw.dw, kw, w)];
  if (dilation[0] !== 1 || dilation[1] !== 1) options.dilation = dilation;
  if (raw.ceil) options.ceil = true;
  const [a, b, c, d] = raw.p;
  if (raw.mode === 'valid' || raw.mode === 'same') options.padding = raw.mode;
  if (raw.mode === 'number') options.padding = a % Math.min(kh, kw);
  if (raw.mode === 'pair') options.padding = [a % kh, b % kw];
  if (raw.mode === 'quad') options.padding = [a % kh, b % kh, c % kw, d % kw];
  return options;
}

interface PoolConfig {
  readonly x: Shape4;
  readonly options: Pool2dOptions;
  readonly attrs: Pool2dAttrs;
  readonly countIncludePad: boolean;
  /** The pooled shape. */
  readonly y: Shape;
}

const poolConfigArb: fc.Arbitrary<PoolConfig> = fc
  .record({ n: fc.integer({ min: 1, max: 2 }), c: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 1, max: 7 }), w: fc.integer({ min: 1, max: 7 }), raw: rawPoolArb })
  .map(({ n, c, h, w, raw }) => {
    const x: Shape4 = [n, c, h, w];
    const options = poolOptions(raw, h, w);
    const probe = maxPool2d(input('probe', x), options);
    return { x, options, attrs: probe.attrs, countIncludePad: raw.countIncludePad, y: probe.shape };
  });

const conv2dCase: JvpCase = {
  check: fc
    .record({ cfg: convConfigArb, bias: fc.boolean(), relu: fc.boolean(), fixed: fixedArb(3), seed: seedArb })
    .map(({ cfg, bias, relu: withRelu, fixed, seed }) => {
      const args = [arg(cfg.x, 'any', seed, fixed[0]), arg(cfg.w, 'any', seed + 1, fixed[1])];
      if (bias) args.push(arg([cfg.w[0]], 'any', seed + 2, fixed[2]));
      if (args.every((a) => a.fixed)) args[0] = { ...args[0], fixed: false };
      // relu: the fused relu(conv2d) that backend/fuse.ts makes, built by hand.
      const node = (r: boolean) => (x: Tensor, w: Tensor, b?: Tensor): Tensor => {
        const plain = conv2d(x, w, { ...cfg.options, ...(b ? { bias: b } : {}) });
        return r ? makeNode(conv2dOp, plain.inputs, { ...plain.attrs, relu: true }) : plain;
      };
      return { args, build: node(withRelu), seed, pre: () => !withRelu || awayFromZero(evaluate([node(false)(...(args.map(constantOf) as [Tensor, Tensor]))])[0], MARGIN) };
    })
    .filter((c) => c.pre()),
};

const conv2dMaxPoolCase: JvpCase = {
  check: fc
    .record({ cfg: convConfigArb, raw: rawPoolArb, bias: fc.boolean(), relu: fc.boolean(), fixed: fixedArb(3), seed: seedArb })
    .map(({ cfg, raw, bias, relu: withRelu, fixed, seed }) => {
      const args = [arg(cfg.x, 'any', seed, fixed[0]), arg(cfg.w, 'any', seed + 1, fixed[1])];
      if (bias) args.push(arg([cfg.w[0]], 'any', seed + 2, fixed[2]));
      if (args.every((a) => a.fixed)) args[0] = { ...args[0], fixed: false };
      const pool = poolOptions(raw, cfg.y[2], cfg.y[3]);
      const plainOf = (x: Tensor, w: Tensor, b?: Tensor) => conv2d(x, w, { ...cfg.options, ...(b ? { bias: b } : {}) });
      // maxPool2d(relu?(conv2d)) as the one node the wasm rewrite makes, built by hand.
      const build = (x: Tensor, w: Tensor, b?: Tensor): Tensor => {
        const plain = plainOf(x, w, b);
        return conv2dMaxPool(makeNode(conv2dOp, plain.inputs, { ...plain.attrs, relu: withRelu }), pool2dAttrs('test', plain, pool));
      };
      const pre = () => {
        const plain = plainOf(...(args.map(constantOf) as [Tensor, Tensor]));
        return windowsSeparated(evaluate([plain])[0], plain.shape, pool2dAttrs('test', plain, pool), withRelu, MARGIN);
      };
      return { args, build, seed, pre };
    })
    .filter((c) => c.pre()),
};

const conv2dBackpropInputCase: JvpCase = {
  check: fc.record({ cfg: convConfigArb, fixed: fixedArb(2), seed: seedArb }).map(({ cfg, fixed, seed }) => ({
    args: [arg(cfg.y, 'any', seed, fixed[0]), arg(cfg.w, 'any', seed + 1, fixed[1])],
    build: (dy: Tensor, w: Tensor) => conv2dBackpropInput(dy, w, { ...cfg.options, inputShape: cfg.x }),
    seed,
  })),
};

const conv2dBackpropFilterCase: JvpCase = {
  check: fc.record({ cfg: convConfigArb, fixed: fixedArb(2), seed: seedArb }).map(({ cfg, fixed, seed }) => ({
    args: [arg(cfg.x, 'any', seed, fixed[0]), arg(cfg.y, 'any', seed + 1, fixed[1])],
    build: (x: Tensor, dy: Tensor) => conv2dBackpropFilter(x, dy, { ...cfg.options, filterShape: cfg.w }),
    seed,
  })),
};

/** A pooling case: x from distinctValues (no ties in any window), the op built from the config. */
function poolCase(args: (p: PoolConfig, fixed: boolean[], seed: number) => Arg[], build: (p: PoolConfig) => (...xs: Tensor[]) => Tensor, ignored?: readonly number[]): JvpCase {
  return {
    check: fc.record({ p: poolConfigArb, fixed: fixedArb(2), seed: seedArb }).map(({ p, fixed, seed }) => ({ args: args(p, fixed, seed), build: build(p), ignored, seed })),
  };
}

// -- autodiff ops -----------------------------------------------------------

const afterCase: JvpCase = {
  check: fc
    .record({ sx: shapeArb(0, 3, 3), sy: shapeArb(0, 3, 3), twoDeps: fc.boolean(), fixed: fixedArb(2), seed: seedArb })
    .map(({ sx, sy, twoDeps, fixed, seed }) => ({
      // The value is tanh(x)'s; y only orders the plan, so its tangent must not reach the output.
      args: [arg(sx, 'any', seed, fixed[0]), arg(sy, 'any', seed + 1, fixed[1])],
      build: (x: Tensor, y: Tensor) => mul(after(tanh(x), exp(y), ...(twoDeps ? [y] : [])), 2),
      seed,
    })),
};

const checkpointCase: JvpCase = {
  check: fc
    .record({ kind: fc.constantFrom('block', 'twoArgs', 'conv'), shape: shapeArb(1, 3, 3), depth: fc.integer({ min: 1, max: 2 }), fixed: fixedArb(2), seed: seedArb })
    .chain((r) => fc.record({ r: fc.constant(r), ws: broadcastFrom(r.shape) }))
    .map(({ r: { kind, shape, depth, fixed, seed }, ws }) => {
      if (kind === 'conv') {
        // Residual conv blocks recomputed in the backward pass, reading the filter from outside.
        const c = shape[0];
        return {
          args: [arg([2, c, 4, 3], 'any', seed, fixed[0]), arg([c, c, 3, 3], 'any', seed + 1, fixed[1])],
          build: (x: Tensor, w: Tensor) => {
            const block = checkpoint((h: Tensor) => tanh(add(h, conv2d(sigmoid(h), w, { padding: 'same' }))));
            return depth === 2 ? block(block(x)) : block(x);
          },
          seed,
        };
      }
      if (kind === 'twoArgs') {
        return {
          args: [arg(shape, 'any', seed, fixed[0]), arg(ws, 'any', seed + 1, fixed[1])],
          build: (x: Tensor, w: Tensor) => checkpoint((a: Tensor, b: Tensor) => tanh(mul(a, sigmoid(b))))(x, w),
          seed,
        };
      }
      return {
        args: [arg(shape, 'any', seed, fixed[0]), arg(ws, 'any', seed + 1, fixed[1])],
        build: (x: Tensor, w: Tensor) => {
          const block = checkpoint((h: Tensor) => tanh(add(h, mul(sigmoid(h), w))));
          return depth === 2 ? block(block(x)) : block(x);
        },
        seed,
      };
    }),
};

const softplus = (v: Tensor): Tensor => log(add(exp(v), 1));

/** Functions with a custom VJP and a JVP rule that agree with each other and with the function (checkGradients sees all three). */
const customFunctions = {
  // y = softplus(a) b, the derivatives written with sigmoid = softplus'
  softplusTimes: customVjp(
    (a: Tensor, b: Tensor) => mul(softplus(a), b),
    (g, { inputs: [a, b] }) => [mul(g, mul(sigmoid(a), b)), mul(g, softplus(a))],
    { name: 'softplusTimes', jvp: ([ta, tb], { inputs: [a, b] }) => addAll([ta && mul(ta, mul(sigmoid(a), b)), tb && mul(tb, softplus(a))]) },
  ),
  // y = v^2
  square: customVjp(
    (v: Tensor) => mul(v, v),
    (g, { inputs: [v] }) => [mul(g, mul(v, 2))],
    { name: 'square', jvp: ([t], { inputs: [v] }) => t && mul(t, mul(v, 2)) },
  ),
  // y = e^v, the rules reading the output
  exp: customVjp((v: Tensor) => exp(v), (g, { output }) => [mul(g, output)], { name: 'exp', jvp: ([t], { output }) => t && mul(t, output) }),
};

const customVjpCase: JvpCase = {
  check: fc
    .record({ kind: fc.constantFrom('softplusTimes', 'square', 'exp'), shape: shapeArb(0, 3, 4), fixed: fixedArb(2), seed: seedArb })
    .map(({ kind, shape, fixed, seed }) =>
      kind === 'softplusTimes'
        ? { args: [arg(shape, 'any', seed, fixed[0]), arg(shape, 'any', seed + 1, fixed[1])], build: (a: Tensor, b: Tensor) => customFunctions.softplusTimes(a, b), seed }
        : { args: [arg(shape, 'any', seed)], build: (v: Tensor) => customFunctions[kind](v), seed },
    ),
};

// ---------------------------------------------------------------------------
// The table: one case per op name.

const jvpCases: { readonly [O in OpName]: JvpCase } = {
  input: {
    ...unaryCase((x) => mul(x, x), 'any'),
    leaf:
      'every case differentiates with respect to inputs, whose tangents jvp sets itself without asking the rule; ' +
      '"jvp never asks a leaf for its rule" shows the rule is never called, and that an input not among xs has a zero tangent',
  },
  constant: {
    check: shapeArb(0, 3, 4).chain((shape) => fc.record({ shape: fc.constant(shape), seed: seedArb })).map(({ shape, seed }) => ({
      args: [arg(shape, 'any', seed), arg(shape, 'any', seed + 1, true)],
      build: (x: Tensor, c: Tensor) => add(mul(x, c), c),
      seed,
    })),
    leaf: 'constants sit in this graph and every case with a fixed argument; jvp gives them no tangent without asking the rule (see "jvp never asks a leaf for its rule")',
  },
  add: binaryCase(add, 'any', 'any'),
  sub: binaryCase(sub, 'any', 'any'),
  mul: binaryCase(mul, 'any', 'any'),
  div: binaryCase(div, 'any', 'positive'),
  neg: unaryCase(neg, 'any'),
  exp: unaryCase(exp, 'any'),
  log: unaryCase(log, 'positive'),
  sqrt: unaryCase(sqrt, 'positive'),
  relu: unaryCase(relu, 'distinct'),
  // reluBackward(x, g): piecewise constant in x (the mask), linear in g
  reluBackward: binaryCase(reluBackward, 'distinct', 'any', [0]),
  sigmoid: unaryCase(sigmoid, 'any'),
  tanh: unaryCase(tanh, 'any'),
  step: maskCase(shapeArb(1, 3, 4).map((shape) => [shape, null] as const), (x) => step(x)),
  leakyRelu: alphaCase((x, alpha) => leakyRelu(x, { alpha }), [0, 0.01, 0.3, 0.9], 1),
  elu: alphaCase((x, alpha) => elu(x, { alpha }), [0.5, 1, 2], 50),
  relu6: relu6Case,
  pow: powCase,
  reshape: reshapeCase,
  broadcastTo: broadcastToCase,
  transpose: transposeCase,
  pad: padCase,
  slice: sliceCase,
  concat: concatCase,
  sum: reduceCase((x, axes, keepDims) => sum(x, { axes, keepDims }), 'any', 0),
  max: reduceCase((x, axes, keepDims) => max(x, { axes, keepDims }), 'distinct', 1),
  maxMask: maskCase(
    shapeArb(1, 3, 4).chain((shape) => fc.tuple(fc.constant(shape), fc.option(fc.shuffledSubarray([...shape.keys()], { minLength: 1 })))),
    (x, axes) => maxMask(x, axes ?? undefined),
  ),
  matmul: matmulCase,
  batchMatmul: batchMatmulCase,
  softmax: axisCase(softmax),
  logSoftmax: axisCase(logSoftmax),
  oneHot: oneHotCase,
  softmaxCrossEntropy: softmaxCrossEntropyCase,
  softmaxCrossEntropyBackward: softmaxCrossEntropyBackwardCase,
  conv2d: conv2dCase,
  conv2dMaxPool: conv2dMaxPoolCase,
  conv2dBackpropInput: conv2dBackpropInputCase,
  conv2dBackpropFilter: conv2dBackpropFilterCase,
  maxPool2d: poolCase(
    (p, _f, seed) => [arg(p.x, 'distinct', seed)],
    (p) => (x) => maxPool2d(x, p.options),
  ),
  maxPool2dBackward: poolCase(
    (p, fixed, seed) => [arg(p.x, 'distinct', seed, fixed[0]), arg(p.y, 'any', seed + 1, fixed[1])],
    (p) => (x, dy) => maxPool2dBackward(x, dy, p.attrs),
    [0],
  ),
  maxPool2dSelect: poolCase(
    (p, fixed, seed) => [arg(p.x, 'distinct', seed, fixed[0]), arg(p.x, 'any', seed + 1, fixed[1])],
    (p) => (x, dx) => maxPool2dSelect(x, dx, p.attrs),
    [0],
  ),
  avgPool2d: poolCase(
    (p, _f, seed) => [arg(p.x, 'any', seed)],
    (p) => (x) => avgPool2d(x, { ...p.options, countIncludePad: p.countIncludePad }),
  ),
  avgPool2dBackward: poolCase(
    (p, _f, seed) => [arg(p.y, 'any', seed)],
    (p) => (dy) => avgPool2dBackward(dy, { ...p.attrs, countIncludePad: p.countIncludePad, inputShape: p.x }),
  ),
  after: afterCase,
  checkpoint: checkpointCase,
  customVjp: customVjpCase,
};

// ---------------------------------------------------------------------------
// The property.

/**
 * Check one case of `op`: checkGradients in mode 'both' over the non-fixed
 * arguments, a node of `op` in the graph, the op's rule called, and the
 * ignored arguments' tangents without effect.
 */
function checkCase(op: OpName, c: Check, leaf: boolean): void {
  let calls = 0;
  const rule = registry[op].jvp as AnyJvp;
  withJvp(op, (ts, node) => {
    calls++;
    return rule(ts, node);
  });
  try {
    let graph: readonly Tensor[] = [];
    const fn = (...xs: Tensor[]): Tensor => {
      let j = 0;
      const y = c.build(...c.args.map((a) => (a.fixed ? constantOf(a) : xs[j++])));
      graph = topologicalOrder([y]);
      return y;
    };
    checkGradients(
      fn,
      c.args.filter((a) => !a.fixed),
      { mode: 'both', rtol: 1e-6, directions: 2, fullJacobianUpTo: 40, seed: c.seed },
    );
    expect(graph.some((n) => n.op === op), `the graph holds a ${op} node`).toBe(true);
    expectIgnoredTangents(op, c);
    if (!leaf) expect(calls, `jvp called the ${op} rule`).toBeGreaterThan(0);
  } finally {
    registry[op] = { ...registry[op], jvp: rule } as never;
  }
}

/**
 * The arguments in `c.ignored` (all fed as inputs, labels included): jvp with
 * tangents for them alone gives exactly zero, and adding their tangents to
 * the others' changes nothing.
 */
function expectIgnoredTangents(op: OpName, c: Check): void {
  const ignored = c.ignored ?? [];
  if (ignored.length === 0) return;
  const xs = c.args.map((a, i) => input(`a${i}`, a.shape));
  const ts = c.args.map((a, i) => input(`t${i}`, a.shape));
  const feeds: Record<string, Float64Array> = {};
  c.args.forEach((a, i) => {
    feeds[`a${i}`] = a.data;
    feeds[`t${i}`] = randomValues(sizeOf(a.shape), c.seed + 101 * (i + 1));
  });
  const y = c.build(...xs);
  const rest = c.args.map((_, i) => i).filter((i) => !ignored.includes(i));
  const pick = <T>(list: readonly T[], idx: readonly number[]): T[] => idx.map((i) => list[i]);
  const [alone] = jvp([y], pick(xs, ignored), pick(ts, ignored));
  const [zero] = evaluate([alone], feeds);
  expect(zero.every((v) => v === 0), `${op} JVP: a tangent of arguments ${ignored} (no derivative) alone gives zero`).toBe(true);
  if (rest.length === 0) return;
  const [all, others] = evaluate([jvp([y], xs, ts)[0], jvp([y], pick(xs, rest), pick(ts, rest))[0]], feeds);
  const scale = Math.max(1e-300, ...others.map(Math.abs));
  all.forEach((v, k) => expect(Math.abs(v - others[k]), `${op} JVP: the tangent of arguments ${ignored} changes the output's, at ${k}`).toBeLessThanOrEqual(1e-12 * scale));
}

const cases = Object.entries(jvpCases) as [OpName, JvpCase][];

describe('every op: its JVP matches central differences and its VJP', () => {
  it('has a case for every op in the registry', () => {
    expect(Object.keys(jvpCases).sort()).toEqual(Object.keys(ops).sort());
  });

  for (const [op, jc] of cases) {
    it(`${op}${jc.leaf ? ' (a leaf)' : ''}`, () => {
      fc.assert(
        fc.property(jc.check, (c) => checkCase(op, c, jc.leaf !== undefined)),
        { numRuns: runs },
      );
    });
  }
});

describe('conv2dMaxPool along the bias alone', () => {
  // conv2d's JVP along the bias alone is the bias reshaped to [1, O, 1, 1] (a rule may
  // return a shape that broadcasts); conv2dMaxPool's rule broadcasts it before
  // maxPool2dSelect reads it at each window's maximum (it once passed it as it was).
  it('without relu, the tangent of a bias-only direction is right', () => {
    const x = constant([1, 2], [1, 1, 1, 2]);
    const w = constant([1], [1, 1, 1, 1]);
    const fused = (b: Tensor): Tensor => {
      const c = conv2d(x, w, { bias: b });
      return conv2dMaxPool(c, pool2dAttrs('test', c, { size: [1, 2] }));
    };
    expect(checkGradients(fused, [{ shape: [1], data: [0.25] }]).checks).toBeGreaterThan(0);
  });
});

describe('grouped convolutions in forward mode', () => {
  // The random cases above are half grouped; here one fixed grouped and one depthwise
  // configuration for each op of the family, and the tangent graphs' groups.
  const v = (shape: number[], seed: number) => ({ shape, data: randomValues(sizeOf(shape), seed) });
  const grouped = { stride: [2, 1] as [number, number], padding: 'same' as const, groups: 2 };
  const depthwise = { padding: 1, dilation: 2, groups: 3 };

  it.each([
    ['2 groups', [2, 4, 6, 5], [6, 2, 3, 2], grouped],
    ['depthwise, multiplier 2', [1, 3, 7, 6], [6, 1, 2, 3], depthwise],
  ] as const)('%s: conv2d, conv2dBackpropInput and conv2dBackpropFilter', (_, xs, ws, options) => {
    const xShape = [...xs];
    const wShape = [...ws];
    const yShape = [...conv2d(input('x', xShape), input('w', wShape), options).shape];
    expect(checkGradients((x, w, b) => conv2d(x, w, { ...options, bias: b }), [v(xShape, 1), v(wShape, 2), v([wShape[0]], 3)]).checks).toBeGreaterThan(0);
    expect(checkGradients((dy, w) => conv2dBackpropInput(dy, w, { ...options, inputShape: xShape }), [v(yShape, 4), v(wShape, 5)]).checks).toBeGreaterThan(0);
    expect(checkGradients((x, dy) => conv2dBackpropFilter(x, dy, { ...options, filterShape: wShape }), [v(xShape, 6), v(yShape, 7)]).checks).toBeGreaterThan(0);
  });

  it("a grouped node's tangent is built of convolutions with the node's groups", () => {
    const x = input('x', [2, 4, 6, 5]);
    const w = input('w', [6, 2, 3, 2]);
    const [t] = jvp([conv2d(x, w, grouped)], [x, w], [input('tx', [2, 4, 6, 5]), input('tw', [6, 2, 3, 2])]);
    const convs = topologicalOrder([t]).filter((n) => n.op === 'conv2d') as Tensor<'conv2d'>[];
    expect(convs.map((n) => n.inputs.map((i) => (i as Tensor<'input'>).attrs.name))).toEqual([['tx', 'w'], ['x', 'tw']]);
    expect(convs.map((n) => n.attrs.groups)).toEqual([2, 2]);
  });
});

describe('every property fails when its op has a wrong JVP rule', () => {
  // The rule's tangent doubled, or, where the rule returns null (a zero
  // tangent), ones instead. A leaf's rule is never called, so breaking it
  // changes nothing (see "jvp never asks a leaf for its rule").
  for (const [op, jc] of cases.filter(([, j]) => j.leaf === undefined)) {
    it(op, () => {
      const rule = original[op].jvp as AnyJvp;
      withJvp(op, (ts, node) => {
        const t = rule(ts, node);
        return t === null ? ones(node.shape) : mul(t, 2);
      });
      expect(() =>
        fc.assert(
          fc.property(jc.check, (c) => checkCase(op, c, false)),
          { numRuns: 4 * runs, endOnFailure: true, includeErrorInReport: true },
        ),
      ).toThrow(/JVP/);
    });
  }
});

// ---------------------------------------------------------------------------

describe('a wrong JVP rule fails checkGradients in forward mode, and reverse mode alone does not see it', () => {
  const xv = { shape: [2, 2, 6, 5], data: randomValues(120, 1) };
  const wv = { shape: [3, 2, 3, 2], data: randomValues(36, 2) };
  const convFn = (x: Tensor, w: Tensor) => conv2d(x, w, { stride: [2, 1], padding: 'same', dilation: [1, 2] });
  const av = { shape: [3, 4], data: randomValues(12, 3) };
  const bv = { shape: [4], data: randomValues(4, 4) };

  it('passes with the rules as written', () => {
    expect(checkGradients(convFn, [xv, wv]).checks).toBeGreaterThan(0);
    expect(checkGradients(sub, [av, bv]).checks).toBeGreaterThan(0);
  });

  it("conv2d's JVP without the filter term", () => {
    withJvp('conv2d', ([tx, , tb], node) => (original.conv2d.jvp as AnyJvp)([tx, null, tb ?? null], node));
    expect(() => checkGradients(convFn, [xv, wv])).toThrow(/checkGradients: JVP test 0 .*the JVP gives/);
    expect(() => checkGradients(convFn, [xv, wv], { mode: 'forward' })).toThrow(/JVP/);
    // The filter term is only missed when w moves: with x alone the rule is right.
    expect(() => checkGradients((x) => convFn(x, constant(wv.data, wv.shape)), [xv])).not.toThrow();
    expect(checkGradients(convFn, [xv, wv], { mode: 'reverse' }).checks).toBeGreaterThan(0);
  });

  it("sub's JVP with its signs swapped (tb - ta)", () => {
    withJvp('sub', ([ta, tb]) => (ta && tb ? sub(tb, ta) : ta ? neg(ta) : tb));
    expect(() => checkGradients(sub, [av, bv])).toThrow(/JVP/);
    expect(() => checkGradients(sub, [av, bv], { mode: 'forward' })).toThrow(/JVP/);
    expect(checkGradients(sub, [av, bv], { mode: 'reverse' }).checks).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------

describe('customVjp in forward mode', () => {
  const square = customVjp((v: Tensor) => mul(v, v), (g, { inputs: [v] }) => [mul(g, mul(v, 2))], { name: 'sq' });
  const xv = { shape: [2, 3], data: randomValues(6, 5) };

  it('without a { jvp } option: jvp refuses the function, naming it; reverse mode still works', () => {
    const x = input('x', [2, 3]);
    const e = striateError(() => jvp([square(x)], [x], [input('t', [2, 3])]), 'customVjp');
    expect(e.message).toContain('"sq" has a custom VJP rule but no JVP rule');
    expect(e.message).toContain('give customVjp a { jvp } option');
    expect(() => checkGradients(square, [xv])).toThrow(StriateError);
    expect(() => checkGradients(square, [xv])).toThrow('no JVP rule');
    expect(checkGradients(square, [xv], { mode: 'reverse' }).checks).toBeGreaterThan(0);
  });

  it('with a { jvp } rule that returns a tangent of the wrong shape: a StriateError naming the function', () => {
    const bad = customVjp((v: Tensor) => mul(v, v), (g) => [g], { name: 'badJvp', jvp: () => input('wrong', [3, 2]) });
    const x = input('x', [2, 3]);
    const e = striateError(() => jvp([bad(x)], [x], [input('t', [2, 3])]), 'customVjp');
    expect(e.message).toContain('the JVP rule of "badJvp" returned a tangent of shape [3,2]; expected null or a Tensor of shape [2,3]');
  });

  it("a { jvp } rule that contradicts its VJP rule is caught by mode 'both' (JVP against the VJP and against differences)", () => {
    const wrong = customVjp((v: Tensor) => mul(v, v), (g, { inputs: [v] }) => [mul(g, mul(v, 2))], { name: 'sq', jvp: ([t], { inputs: [v] }) => t && mul(t, v) });
    expect(() => checkGradients(wrong, [xv])).toThrow(/JVP/);
    expect(checkGradients(wrong, [xv], { mode: 'reverse' }).checks).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------

describe("jvp's contracts", () => {
  const x = input('x', [3, 4]);
  const t = input('t', [3, 4]);
  const y = exp(x);

  it('refuses arguments that are not arrays of tensors', () => {
    let e = striateError(() => jvp(y as never, [x], [t]), 'jvp');
    expect(e.message).toBe('jvp: ys must be an array of tensors, got a Tensor; for one tensor write jvp([y], xs, tangents)');
    e = striateError(() => jvp([y], x as never, [t]), 'jvp');
    expect(e.message).toBe('jvp: xs must be an array of tensors, got a Tensor; for one tensor write jvp(ys, [x], [t])');
    e = striateError(() => jvp([y], [x], t as never), 'jvp');
    expect(e.message).toContain('tangents must be an array of tensors');
    e = striateError(() => jvp([y], [x], [[1, 2]] as never), 'jvp');
    expect(e.message).toBe('jvp: tangents[0] is an array of 2, expected a Tensor');
    expect(e).toMatchObject({ got: 'tangents[0] an array of 2', expected: 'a Tensor' });
    expect(striateError(() => jvp([null] as never, [x], [t]), 'jvp').message).toBe('jvp: ys[0] is null, expected a Tensor');
  });

  it('refuses a count mismatch between xs and tangents', () => {
    const w = input('w', [4]);
    const e = striateError(() => jvp([add(x, w)], [x, w], [t]), 'jvp');
    expect(e.message).toBe('jvp: got 2 inputs but 1 tangents; give one tangent per input');
    expect(e).toMatchObject({ got: '1 tangents', expected: '2 tangents, one per input' });
  });

  it("refuses a tangent of another shape than its input's, even one that would broadcast", () => {
    let e = striateError(() => jvp([y], [x], [input('t', [4, 3])]), 'jvp');
    expect(e.message).toBe('jvp: tangent 0 has shape [4,3] but input 0 has shape [3,4]');
    expect(e).toMatchObject({ got: 'tangent 0 of shape [4,3]', expected: 'shape [3,4], that of input 0' });
    e = striateError(() => jvp([y], [x], [input('t', [4])]), 'jvp');
    expect(e.message).toBe('jvp: tangent 0 has shape [4] but input 0 has shape [3,4]');
  });

  it('refuses the same x twice', () => {
    const e = striateError(() => jvp([y], [x, x], [t, t]), 'jvp');
    expect(e.message).toBe('jvp: xs[1] is the same tensor as xs[0]; give each input once');
  });

  it('refuses an x computed from another x, in either order', () => {
    const h = tanh(x);
    let e = striateError(() => jvp([exp(h)], [x, h], [t, t]), 'jvp');
    expect(e.message).toMatch(/^jvp: xs\[1\] is computed from xs\[0\]; differentiate with respect to independent tensors/);
    expect(e).toMatchObject({ got: 'xs[1] (tanh) depending on xs[0]', expected: 'independent tensors' });
    e = striateError(() => jvp([exp(h)], [h, x], [t, t]), 'jvp');
    expect(e.message).toMatch(/^jvp: xs\[0\] is computed from xs\[1\]/);
  });

  it('names the op of a rule that returns something other than a Tensor or null (a plain Error: a bug, not a user mistake)', () => {
    for (const junk of ['junk', undefined, [t], 3]) {
      withJvp('exp', () => junk as never);
      let error: unknown = null;
      try {
        jvp([y], [x], [t]);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(StriateError);
      expect((error as Error).message).toMatch(/^exp JVP: returned .*, expected a Tensor or null \(a bug in the op's JVP rule\)$/);
    }
  });

  it("names the op of a rule whose tangent does not broadcast to the output's shape", () => {
    withJvp('exp', () => input('wrong', [4, 3]));
    let error: unknown = null;
    try {
      jvp([y], [x], [t]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(StriateError);
    expect((error as Error).message).toBe(
      "exp JVP: the tangent has shape [4,3] but the output has shape [3,4]; a tangent must have its output's shape or one that broadcasts to it (a bug in the op's JVP rule)",
    );
  });

  it('broadcasts a tangent that broadcasts to the output (the one central place)', () => {
    const row = [1, -2, 3, 0.5];
    withJvp('exp', () => constant(row, [4]));
    const [d] = jvp([y], [x], [t]);
    expect(d.shape).toEqual([3, 4]);
    expect(d.op).toBe('broadcastTo');
    expect([...evaluate([d])[0]]).toEqual([...row, ...row, ...row]);
  });

  it("broadcasts add's tangent of a broadcast operand: d(x + b) along b alone is b's tangent on every row", () => {
    const b = input('b', [4]);
    const tb = input('tb', [4]);
    const [d] = jvp([add(x, b)], [b], [tb]);
    expect(d.shape).toEqual([3, 4]);
    const tv = Float64Array.of(1, 2, 3, 4);
    expect([...evaluate([d], { tb: tv })[0]]).toEqual([...tv, ...tv, ...tv]);
  });

  it('gives zeros to a y that does not depend on the xs, and an x among the ys its own tangent', () => {
    const other = input('other', [2, 5]);
    const [z, same, through] = jvp([exp(other), x, mul(exp(other), 2)], [x], [t]);
    expect(z.shape).toEqual([2, 5]);
    expect(z.op).toBe('constant');
    expect([...evaluate([z])[0]]).toEqual(new Array(10).fill(0));
    expect(same).toBe(t);
    expect([...evaluate([through])[0]]).toEqual(new Array(10).fill(0));
  });

  it('jvp never asks a leaf for its rule: inputs not among xs and constants have zero tangents', () => {
    withJvp('input', () => {
      throw new Error('input JVP called');
    });
    withJvp('constant', () => {
      throw new Error('constant JVP called');
    });
    const w = input('w', [3, 4]);
    const c = constant(randomValues(12, 9), [3, 4]);
    const [d] = jvp([add(mul(x, w), mul(c, w))], [x], [t]);
    const xv = randomValues(12, 10);
    const wv = randomValues(12, 11);
    const tv = randomValues(12, 12);
    const [got] = evaluate([d], { x: xv, w: wv, t: tv });
    got.forEach((v, k) => expect(v).toBeCloseTo(tv[k] * wv[k], 14)); // d(x w + c w) = t w
    // The rules themselves, called directly, say the same: a leaf's tangent is zero.
    expect(original.input.jvp([], x as never)).toBeNull();
    expect(original.constant.jvp([], c as never)).toBeNull();
  });

  it("compiles and runs on 'webasm', matching the reference within float32 tolerance (a small conv net)", async () => {
    // y = tanh(avgPool2d(conv2d(sigmoid(conv2d(x, w1, b1)), w2))), differentiated along x, w1 and b1 at once.
    const xs = [input('x', [2, 2, 7, 6]), input('w1', [3, 2, 3, 3]), input('b1', [3]), input('w2', [2, 3, 2, 2])];
    const [xi, w1, b1, w2] = xs;
    const h = sigmoid(conv2d(xi, w1, { padding: 'same', stride: [1, 2], bias: b1 }));
    const yv = tanh(avgPool2d(conv2d(h, w2, { dilation: [2, 1], padding: 1 }), { size: 2, padding: 'same' }));
    const wrt = xs.slice(0, 3);
    const tangents = wrt.map((v) => input(`t/${(v as Tensor<'input'>).attrs.name}`, v.shape));
    const outs = jvp([yv], wrt, tangents);
    const feeds: Record<string, Float64Array> = {};
    [...xs, ...tangents].forEach((v, i) => (feeds[(v as Tensor<'input'>).attrs.name] = randomValues(sizeOf(v.shape), 50 + i)));
    const [want] = evaluate(outs, feeds);
    const device = compile(outs, { backend: 'webasm' });
    try {
      expect(device.backend).toBe('webasm');
      const [got] = await device.run(Object.fromEntries(device.inputs.map(({ name }) => [name, feeds[name]])));
      expect(got.data).toBeInstanceOf(Float32Array);
      expect(got.shape).toEqual([...yv.shape]);
      const scale = Math.max(...want.map(Math.abs));
      expect(scale).toBeGreaterThan(1e-2);
      want.forEach((w, k) => expect(Math.abs(got.data[k] - w), `at ${k}`).toBeLessThanOrEqual(1e-4 * scale));
    } finally {
      await device.dispose();
    }
  });

  it('jvp of grad is grad of a dot: J_grad v = grad <grad L, v> (the Hessian-vector product, both ways)', () => {
    // L(w, b) = <c, tanh(conv2d(x, w, b))>: the Hessian is symmetric, so forward-over-reverse
    // and reverse-over-reverse give the same H v, to rounding.
    const xi = input('x', [2, 2, 6, 6]);
    const w = input('w', [3, 2, 3, 3]);
    const b = input('b', [3]);
    const c = input('c', [2, 3, 3, 3]);
    const loss = sum(mul(tanh(conv2d(xi, w, { stride: 2, padding: 'same', bias: b })), c));
    const [gw, gb] = grad(loss, [w, b]);
    const vw = input('vw', w.shape);
    const vb = input('vb', b.shape);
    const forwardOverReverse = jvp([gw, gb], [w, b], [vw, vb]);
    const reverseOverReverse = grad(add(sum(mul(gw, vw)), sum(mul(gb, vb))), [w, b]);
    const feeds = Object.fromEntries(
      [xi, w, b, c, vw, vb].map((v, i) => [(v as Tensor<'input'>).attrs.name, randomValues(sizeOf(v.shape), 70 + i)]),
    );
    const got = evaluate([...forwardOverReverse, ...reverseOverReverse], feeds);
    for (let k = 0; k < 2; k++) {
      const [a, r] = [got[k], got[k + 2]];
      const scale = Math.max(...r.map(Math.abs));
      expect(scale).toBeGreaterThan(1e-2);
      a.forEach((v, i) => expect(Math.abs(v - r[i])).toBeLessThanOrEqual(1e-12 * scale));
    }
  });
});
