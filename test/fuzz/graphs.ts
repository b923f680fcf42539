/**
 * Random graphs for the fuzzer (fuzz.test.ts). A case is plain data: the
 * shapes of a few inputs, a list of steps and a plan for the feeds. Each
 * step names an op of the public API and carries a list of small natural
 * numbers, `picks`, from which `buildCase` derives the operands and the
 * attributes against the shapes built so far; a pick of 0 always means the
 * simplest valid choice, so fast-check's shrinking (towards 0) walks a
 * failing case down to a short program with plain arguments. A step with
 * `bad` set replaces one part of its call (an operand, an option, an
 * element of an array) with a wrong value: a negative, a fraction, NaN,
 * null, a string, another tensor of the wrong shape, a hand-built node.
 *
 * `buildCase` makes the calls and writes each one down as a line of
 * TypeScript, so a counterexample prints as a program to paste into a test.
 */
import fc from 'fast-check';
import {
  Tensor,
  add,
  avgPool2d,
  avgPool2dBackward,
  broadcastTo,
  concat,
  constant,
  conv2d,
  conv2dBackpropFilter,
  conv2dBackpropInput,
  div,
  exp,
  fill,
  flatten,
  grad,
  input,
  log,
  logSoftmax,
  matmul,
  max,
  maxPool2d,
  maxPool2dBackward,
  maxPool2dSelect,
  mean,
  mul,
  neg,
  oneHot,
  ones,
  pad,
  relu,
  reluBackward,
  reshape,
  scalar,
  sigmoid,
  slice,
  softmax,
  softmaxCrossEntropy,
  sqrt,
  step,
  sub,
  sum,
  tanh,
  transpose,
  vjp,
  zeros,
  type Feeds,
  type InputSpec,
  type Shape,
} from 'striate';
import { broadcastsTo, sameShape, sizeOf } from '../../src/graph/shape.js';
import { randomValues } from '../helpers.js';

/** The kinds of step: one per function of the public API that builds graph nodes. */
export const fuzzOps = [
  'input',
  'constant',
  'neg',
  'exp',
  'log',
  'sqrt',
  'relu',
  'sigmoid',
  'tanh',
  'step',
  'add',
  'sub',
  'mul',
  'div',
  'reluBackward',
  'reshape',
  'flatten',
  'transpose',
  'broadcastTo',
  'slice',
  'pad',
  'concat',
  'sum',
  'mean',
  'max',
  'matmul',
  'conv2d',
  'conv2dBackpropInput',
  'conv2dBackpropFilter',
  'maxPool2d',
  'maxPool2dBackward',
  'maxPool2dSelect',
  'avgPool2d',
  'avgPool2dBackward',
  'softmax',
  'logSoftmax',
  'softmaxCrossEntropy',
  'oneHot',
  'grad',
  'vjp',
] as const;
export type FuzzOp = (typeof fuzzOps)[number];

export interface Step {
  readonly op: FuzzOp;
  /** Choices of operands and attributes, each read modulo the number of options (0: the simplest). */
  readonly picks: readonly number[];
  /** null: a valid call as far as the builder knows; otherwise which part of the call to spoil, and with what. */
  readonly bad: number | null;
}

/** What goes wrong with the feeds, if anything. */
export const feedFaults = [
  'missing',
  'extra',
  'short',
  'long',
  'nan',
  'infinity',
  'string',
  'null',
  'number',
  'object',
  'wrongShape',
  'nested',
  'bigint',
  'labelOutOfRange',
  'labelFraction',
  'labelNegative',
  'feedsNull',
  'feedsArray',
] as const;
export type FeedFault = (typeof feedFaults)[number];

/** How the valid feeds are written: every form `run` accepts. */
export const feedForms = ['float64', 'float32', 'array', 'shaped', 'int32'] as const;
export type FeedForm = (typeof feedForms)[number];

export interface FeedPlan {
  readonly seed: number;
  readonly form: FeedForm;
  readonly fault: FeedFault | null;
  /** Which input the fault hits (modulo the graph's inputs). */
  readonly at: number;
}

export interface FuzzCase {
  readonly inputs: readonly Shape[];
  readonly steps: readonly Step[];
  /** Further outputs besides the last value built: indices into the values, counted from the end. */
  readonly outputs: readonly number[];
  readonly feeds: FeedPlan;
}

/** What a graph input's feed holds: any values, positive ones, class indices below `depth`, or probabilities. */
export type Domain = { readonly kind: 'any' } | { readonly kind: 'labels'; readonly depth: number } | { readonly kind: 'probs' };

/** A built case: the outputs to compile, the domain of every input by name, and the program that built it. */
export interface BuiltGraph {
  readonly outputs: Tensor[];
  readonly domains: ReadonlyMap<string, Domain>;
  /** The calls made so far, one line of TypeScript each. */
  readonly code: readonly string[];
}

/** An error of `buildCase`, with the op being built and the program up to that call. */
export class BuildFailure extends Error {
  constructor(
    readonly step: FuzzOp,
    readonly code: readonly string[],
    readonly error: unknown,
  ) {
    super(`while building ${step}`, { cause: error });
  }
}

// ---------------------------------------------------------------------------
// Writing calls down as code.

const handBuilt = new WeakMap<object, string>();

/** A value as a TypeScript literal; tensors by their variable name. */
function literal(v: unknown, names: ReadonlyMap<Tensor, string>): string {
  if (v instanceof Tensor) return names.get(v) ?? handBuilt.get(v) ?? `/* tensor ${v.op} [${v.shape}] */`;
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === undefined || v === null || typeof v === 'boolean') return String(v);
  if (ArrayBuffer.isView(v)) {
    const xs = Array.from(v as unknown as ArrayLike<number | bigint>, (x) => literal(x, names));
    return `new ${v.constructor.name}([${xs.join(', ')}])`;
  }
  if (Array.isArray(v)) return `[${v.map((x) => literal(x, names)).join(', ')}]`;
  if (typeof v === 'object') {
    const hb = handBuilt.get(v);
    if (hb) return hb;
    const entries = Object.entries(v).map(([key, x]) => `${/^[A-Za-z_]\w*$/.test(key) ? key : JSON.stringify(key)}: ${literal(x, names)}`);
    return entries.length ? `{ ${entries.join(', ')} }` : '{}';
  }
  return String(v);
}

// ---------------------------------------------------------------------------
// Spoiling a call.

/** Stands for "another tensor of the graph", whatever its shape. */
const OTHER_TENSOR = Symbol('another tensor');
/** Stands for a node made with `new Tensor(...)` instead of an op. */
const HAND_BUILT = Symbol('a hand-built node');
/** Stands for a plain object that only looks like a tensor. */
const TENSOR_LIKE = Symbol('a tensor-like object');

/** The wrong values a spoiled call gets, simplest first. 2 ** 40 is past any size limit, so nothing tries to allocate it. */
const badValues: readonly unknown[] = [
  -1,
  0,
  1.5,
  NaN,
  null,
  undefined,
  'x',
  true,
  2 ** 40,
  [],
  {},
  OTHER_TENSOR,
  HAND_BUILT,
  TENSOR_LIKE,
  -7,
  Infinity,
  [1, 2, 3],
  '2',
];

/** Every part of a call's arguments that can be replaced: each argument, array element and option, at any depth. */
function parts(args: readonly unknown[]): (readonly (string | number)[])[] {
  const out: (readonly (string | number)[])[] = [];
  const walk = (v: unknown, path: readonly (string | number)[]) => {
    out.push(path);
    if (v instanceof Tensor || v === null || typeof v !== 'object' || ArrayBuffer.isView(v)) return;
    for (const [key, x] of Object.entries(v)) walk(x, [...path, Array.isArray(v) ? Number(key) : key]);
  };
  args.forEach((a, i) => walk(a, [i]));
  return out;
}

function replaced(v: unknown, path: readonly (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  if (Array.isArray(v)) return v.map((x, i) => (i === head ? replaced(x, rest, value) : x));
  const obj = (v ?? {}) as Record<string, unknown>;
  return { ...obj, [head]: replaced(obj[head], rest, value) };
}

// ---------------------------------------------------------------------------
// The builder: the values made so far, their names, and the program.

class Builder {
  readonly pool: Tensor[] = [];
  readonly names = new Map<Tensor, string>();
  readonly code: string[] = [];
  readonly domains = new Map<string, Domain>();
  private picks: readonly number[] = [];
  private next = 0;
  private bad: number | null = null;
  private inputCount = 0;

  begin(step: Step): void {
    this.picks = step.picks;
    this.next = 0;
    this.bad = step.bad;
  }

  /** The next choice among `n` options, 0 when the picks run out. */
  pick(n: number): number {
    if (n <= 1) return 0;
    const p = this.picks[this.next++] ?? 0;
    return p % n;
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + this.pick(hi - lo + 1);
  }

  flag(): boolean {
    return this.pick(2) === 1;
  }

  /** One of `options`, the first when the picks run out. */
  choose<T>(options: readonly T[]): T {
    return options[this.pick(options.length)];
  }

  /** A value built so far: the most recent one unless the picks say otherwise. */
  operand(): Tensor {
    return this.pool[this.pool.length - 1 - this.pick(this.pool.length)];
  }

  /** A new graph input of `shape` whose feeds hold `domain`'s values. */
  newInput(shape: Shape, domain: Domain = { kind: 'any' }, prefix = 'x'): Tensor {
    const name = `${prefix}${this.inputCount++}`;
    this.domains.set(name, domain);
    return this.helper('input', input, [name, [...shape]]) as Tensor;
  }

  /** `x` as a tensor of rank `r`, reshaped (leading 1s added, or leading axes merged) when it is not. */
  asRank(x: Tensor, r: number): Tensor {
    if (x.rank === r) return x;
    const shape = x.rank < r ? [...new Array<number>(r - x.rank).fill(1), ...x.shape] : [sizeOf(x.shape.slice(0, x.rank - r + 1)), ...x.shape.slice(x.rank - r + 1)];
    return this.helper('reshape', reshape, [x, shape]) as Tensor;
  }

  /** A call the builder needs on the way (never spoiled). */
  helper(name: string, fn: (...args: never[]) => unknown, args: readonly unknown[]): unknown {
    return this.emit(name, fn, args);
  }

  /** The step's own call: spoiled when the step is bad. */
  call(name: string, fn: (...args: never[]) => unknown, args: readonly unknown[]): unknown {
    return this.emit(name, fn, this.bad === null ? args : this.spoil(args, this.bad));
  }

  private spoil(args: readonly unknown[], bad: number): unknown[] {
    const ps = parts(args);
    const path = ps[bad % ps.length];
    let value = badValues[Math.floor(bad / ps.length) % badValues.length];
    if (value === OTHER_TENSOR) value = this.pool[bad % this.pool.length];
    else if (value === HAND_BUILT) {
      value = new Tensor('relu', [], {} as never, [2, 2]);
      handBuilt.set(value as object, "new Tensor('relu', [], {}, [2, 2])");
    } else if (value === TENSOR_LIKE) {
      value = { op: 'input', shape: [2, 2], inputs: [], attrs: { name: 'fake' } };
    }
    return replaced(args, path, value) as unknown[];
  }

  private emit(name: string, fn: (...args: never[]) => unknown, args: readonly unknown[]): unknown {
    const text = `${name}(${args.map((a) => literal(a, this.names)).join(', ')})`;
    // Written down before the call, so that a call that throws ends the program.
    this.code.push(`${text};`);
    const result = (fn as (...xs: readonly unknown[]) => unknown)(...args);
    const made = Array.isArray(result) ? result : [result];
    const vars = made.map((t) => {
      if (!(t instanceof Tensor)) return literal(t, this.names);
      if (!this.names.has(t)) {
        this.names.set(t, `t${this.names.size}`);
        this.pool.push(t);
      }
      return this.names.get(t)!;
    });
    this.code[this.code.length - 1] = `const ${Array.isArray(result) ? `[${vars.join(', ')}]` : vars[0]} = ${text};`;
    return result;
  }
}

/** A random permutation of 0..n-1 from the picks (the identity when they are all 0). */
function permutation(b: Builder, n: number): number[] {
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = i - b.pick(i + 1);
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  return perm;
}

/** A shape of `size` elements: a random factorisation of it, rank 1 to 4. */
function factorShape(b: Builder, size: number): number[] {
  const dims: number[] = [];
  let rest = size;
  const rank = b.int(1, 4);
  for (let d = 0; d < rank - 1 && rest > 1; d++) {
    const divisors = Array.from({ length: rest }, (_, i) => i + 1).filter((v) => rest % v === 0);
    const v = divisors[b.pick(divisors.length)];
    dims.push(v);
    rest /= v;
  }
  return [...dims, rest];
}

/** Axes of `rank` as the reductions take them: all (undefined), one (maybe negative) or a set. */
function reduceOptions(b: Builder, rank: number): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  const which = rank === 0 ? 0 : b.pick(3);
  if (which === 1) {
    const axis = b.pick(rank);
    options.axes = b.flag() ? axis - rank : axis;
  } else if (which === 2) {
    options.axes = permutation(b, rank).slice(0, b.int(1, rank));
  }
  if (b.flag()) options.keepDims = true;
  return options;
}

/** A window option as conv2d and the pools take it: one number or a pair. */
function numberOrPair(b: Builder, h: number, w: number): number | [number, number] {
  return h === w && !b.flag() ? h : [h, w];
}

/**
 * A stride, dilation, padding and filter size for an input of height `h` and
 * width `w` that gives an output of at least one row and column.
 */
function convGeometry(b: Builder, h: number, w: number) {
  const dh = b.int(1, 2);
  const dw = b.int(1, 2);
  const paddingKind = b.pick(6);
  const ph = paddingKind >= 3 ? b.int(0, 1) : 0;
  const pw = paddingKind >= 4 ? b.int(0, 1) : ph;
  // The largest filter (up to 3) whose dilated extent fits the input and the padding on one side.
  const room = (size: number, pad: number, d: number) => Math.max(1, Math.min(3, Math.floor((size + pad - 1) / d) + 1));
  const kh = b.int(1, room(h, ph, dh));
  const kw = b.int(1, room(w, pw, dw));
  const sh = b.int(1, 2);
  const sw = b.int(1, 2);
  const padding = [undefined, 'valid', 'same', ph, [ph, pw], [ph, b.int(0, 1), pw, b.int(0, 1)]][paddingKind];
  const options: Record<string, unknown> = {};
  if (sh !== 1 || sw !== 1) options.stride = numberOrPair(b, sh, sw);
  if (padding !== undefined) options.padding = padding;
  if (dh !== 1 || dw !== 1) options.dilation = numberOrPair(b, dh, dw);
  return { kh, kw, options };
}

/** Pooling options for an input of height `h` and width `w`: each padding smaller than the window. */
function poolOptions(b: Builder, h: number, w: number) {
  const kh = b.int(1, Math.min(3, h));
  const kw = b.int(1, Math.min(3, w));
  const options: Record<string, unknown> = { size: numberOrPair(b, kh, kw) };
  if (b.flag()) options.stride = numberOrPair(b, b.int(1, 2), b.int(1, 2));
  const padding = b.pick(5);
  if (padding === 1) options.padding = 'valid';
  if (padding === 2) options.padding = 'same';
  if (padding === 3) options.padding = Math.min(kh, kw) - 1;
  if (padding === 4) options.padding = [b.int(0, kh - 1), b.int(0, kh - 1), b.int(0, kw - 1), b.int(0, kw - 1)];
  return options;
}

/** The resolved attributes of maxPool2d(x, options), which the backward ops take, read off a node built on the side. */
function resolvedPool(x: Tensor, options: Record<string, unknown>) {
  const node = maxPool2d(x, options as never);
  const { size, stride, pads } = node.attrs;
  return { attrs: { size: [...size], stride: [...stride], pads: [...pads] }, out: node.shape };
}

/** A second operand for an elementwise op with `a`: mostly one that broadcasts with it. */
function partner(b: Builder, a: Tensor): Tensor | number {
  switch (b.pick(5)) {
    case 0: {
      const fits = b.pool.filter((t) => broadcastsTo(t.shape, a.shape));
      return fits[fits.length - 1 - b.pick(fits.length)];
    }
    case 1:
      return b.choose([2, -0.5, 0.25, 3]);
    case 2: {
      const keep = a.shape.slice(a.rank - b.pick(a.rank + 1));
      return b.newInput(keep.map((d) => (b.flag() ? 1 : d)));
    }
    case 3: {
      const shape = a.shape.slice(a.rank - b.pick(a.rank + 1));
      const values = randomValues(sizeOf(shape), 7 + b.pick(100)).map((v) => Math.fround(v * 2));
      return b.helper('constant', constant, [Array.from(values), [...shape]]) as Tensor;
    }
    default:
      return b.operand();
  }
}

/** A tensor of `shape`: one built already when there is one, else a new input. */
function tensorOfShape(b: Builder, shape: Shape): Tensor {
  const fits = b.pool.filter((t) => sameShape(t.shape, shape));
  return fits.length && b.flag() ? fits[b.pick(fits.length)] : b.newInput(shape);
}

/** `x`, or a scalar `x` reshaped to `[1]` for the ops that need an axis. */
const atLeastRank1 = (b: Builder, x: Tensor): Tensor => b.asRank(x, Math.max(1, x.rank));

const unaryFns = { neg, exp, log, sqrt, relu, sigmoid, tanh, step } as const;
const binaryFns = { add, sub, mul, div, reluBackward } as const;

type Maker = (b: Builder) => void;

const makers: { readonly [O in FuzzOp]: Maker } = {
  input: (b) => {
    // A second input of an existing name (one input if the shapes agree, an error if not), or a new one.
    const shape = Array.from({ length: b.pick(4) }, () => b.int(1, 4));
    const reuse = b.pick(4) === 3 && b.domains.size > 0;
    const name = reuse ? [...b.domains.keys()][b.pick(b.domains.size)] : `in${b.pool.length}`;
    if (!reuse) b.domains.set(name, { kind: 'any' });
    b.call('input', input, [name, shape]);
  },
  constant: (b) => {
    const shape = Array.from({ length: b.pick(3) }, () => b.int(1, 4));
    const v = b.choose([0.5, 1, -2, 0]);
    switch (b.pick(5)) {
      case 0:
        return void b.call('constant', constant, [Array.from(randomValues(sizeOf(shape), 3 + b.pick(50)), Math.fround), shape]);
      case 1:
        return void b.call('fill', fill, [shape, v]);
      case 2:
        return void b.call('scalar', scalar, [v]);
      case 3:
        return void b.call('zeros', zeros, [shape]);
      default:
        return void b.call('ones', ones, [shape]);
    }
  },
  ...(Object.fromEntries(
    Object.entries(unaryFns).map(([name, fn]) => [name, (b: Builder) => void b.call(name, fn, [b.pick(8) === 7 ? 0.5 : b.operand()])]),
  ) as { [O in keyof typeof unaryFns]: Maker }),
  ...(Object.fromEntries(
    Object.entries(binaryFns).map(([name, fn]) => [
      name,
      (b: Builder) => {
        const a = b.operand();
        const other = partner(b, a);
        b.call(name, fn, b.flag() ? [other, a] : [a, other]);
      },
    ]),
  ) as { [O in keyof typeof binaryFns]: Maker }),
  reshape: (b) => {
    const x = b.operand();
    const shape = factorShape(b, x.size);
    if (b.pick(4) === 3) shape[b.pick(shape.length)] = -1;
    b.call('reshape', reshape, [x, shape]);
  },
  flatten: (b) => void b.call('flatten', flatten, [b.asRank(b.operand(), b.int(1, 4))]),
  transpose: (b) => {
    const x = b.operand();
    b.call('transpose', transpose, b.pick(4) === 3 ? [x] : [x, permutation(b, x.rank)]);
  },
  broadcastTo: (b) => {
    const x = b.operand();
    const lead = Array.from({ length: b.pick(3) }, () => b.int(1, 3));
    b.call('broadcastTo', broadcastTo, [x, [...lead, ...x.shape.map((d) => (d === 1 ? b.int(1, 4) : d))]]);
  },
  slice: (b) => {
    const x = b.operand();
    const begin = x.shape.map((d) => b.pick(d));
    const size = x.shape.map((d, i) => (b.pick(4) === 3 ? -1 : b.int(1, d - begin[i])));
    b.call('slice', slice, [x, begin, size]);
  },
  pad: (b) => {
    const x = b.operand();
    const pads = x.shape.map(() => [b.pick(3), b.pick(3)]);
    b.call('pad', pad, b.flag() ? [x, pads, b.choose([0.5, -1, 2])] : [x, pads]);
  },
  concat: (b) => {
    const x = atLeastRank1(b, b.operand());
    const axis = b.pick(x.rank);
    const others = Array.from({ length: b.int(1, 2) }, () => tensorOfShape(b, x.shape.map((d, i) => (i === axis ? b.int(1, 3) : d))));
    b.call('concat', concat, [[x, ...others], b.flag() ? axis - x.rank : axis]);
  },
  sum: (b) => {
    const x = b.operand();
    b.call('sum', sum, [x, reduceOptions(b, x.rank)]);
  },
  mean: (b) => {
    const x = b.operand();
    b.call('mean', mean, [x, reduceOptions(b, x.rank)]);
  },
  max: (b) => {
    const x = b.operand();
    b.call('max', max, [x, reduceOptions(b, x.rank)]);
  },
  matmul: (b) => {
    // 0: two matrices; 1: a batch [p, ., .] times one matrix; 2: two batches, b's of p or of one (broadcast).
    const batched = b.pick(3);
    const a = b.asRank(b.operand(), batched === 0 ? 2 : 3);
    const transposeA = b.flag();
    const transposeB = b.flag();
    const k = transposeA ? a.shape[a.rank - 2] : a.shape[a.rank - 1];
    const n = b.int(1, 4);
    const batch = batched === 2 ? [b.flag() ? 1 : a.shape[0]] : [];
    const w = tensorOfShape(b, [...batch, ...(transposeB ? [n, k] : [k, n])]);
    const options: Record<string, unknown> = {};
    if (transposeA) options.transposeA = true;
    if (transposeB) options.transposeB = true;
    b.call('matmul', matmul, Object.keys(options).length || b.flag() ? [a, w, options] : [a, w]);
  },
  conv2d: (b) => {
    const x = b.asRank(b.operand(), 4);
    const [, c, h, w] = x.shape;
    const { kh, kw, options } = convGeometry(b, h, w);
    const outChannels = b.int(1, 3);
    const filter = tensorOfShape(b, [outChannels, c, kh, kw]);
    if (b.flag()) options.bias = tensorOfShape(b, [outChannels]);
    b.call('conv2d', conv2d, [x, filter, options]);
  },
  conv2dBackpropInput: (b) => {
    const x = b.asRank(b.operand(), 4);
    const { kh, kw, options } = convGeometry(b, x.shape[2], x.shape[3]);
    const filter = tensorOfShape(b, [b.int(1, 3), x.shape[1], kh, kw]);
    const dy = b.newInput(conv2d(x, filter, options).shape);
    b.call('conv2dBackpropInput', conv2dBackpropInput, [dy, filter, { inputShape: [...x.shape], ...options }]);
  },
  conv2dBackpropFilter: (b) => {
    const x = b.asRank(b.operand(), 4);
    const { kh, kw, options } = convGeometry(b, x.shape[2], x.shape[3]);
    const filterShape = [b.int(1, 3), x.shape[1], kh, kw];
    const dy = b.newInput(conv2d(x, input('w', filterShape), options).shape);
    b.call('conv2dBackpropFilter', conv2dBackpropFilter, [x, dy, { filterShape, ...options }]);
  },
  maxPool2d: (b) => {
    const x = b.asRank(b.operand(), 4);
    b.call('maxPool2d', maxPool2d, [x, poolOptions(b, x.shape[2], x.shape[3])]);
  },
  maxPool2dBackward: (b) => {
    const x = b.asRank(b.operand(), 4);
    const { attrs, out } = resolvedPool(x, poolOptions(b, x.shape[2], x.shape[3]));
    b.call('maxPool2dBackward', maxPool2dBackward, [x, b.newInput(out), attrs]);
  },
  maxPool2dSelect: (b) => {
    const x = b.asRank(b.operand(), 4);
    const { attrs } = resolvedPool(x, poolOptions(b, x.shape[2], x.shape[3]));
    b.call('maxPool2dSelect', maxPool2dSelect, [x, tensorOfShape(b, x.shape), attrs]);
  },
  avgPool2d: (b) => {
    const x = b.asRank(b.operand(), 4);
    const options = poolOptions(b, x.shape[2], x.shape[3]);
    if (b.flag()) options.countIncludePad = b.flag();
    b.call('avgPool2d', avgPool2d, [x, options]);
  },
  avgPool2dBackward: (b) => {
    const x = b.asRank(b.operand(), 4);
    const { attrs, out } = resolvedPool(x, poolOptions(b, x.shape[2], x.shape[3]));
    b.call('avgPool2dBackward', avgPool2dBackward, [b.newInput(out), { ...attrs, countIncludePad: b.flag(), inputShape: [...x.shape] }]);
  },
  softmax: (b) => {
    const x = atLeastRank1(b, b.operand());
    b.call('softmax', softmax, b.flag() ? [x] : [x, b.flag() ? b.pick(x.rank) - x.rank : b.pick(x.rank)]);
  },
  logSoftmax: (b) => {
    const x = atLeastRank1(b, b.operand());
    b.call('logSoftmax', logSoftmax, b.flag() ? [x] : [x, b.flag() ? b.pick(x.rank) - x.rank : b.pick(x.rank)]);
  },
  softmaxCrossEntropy: (b) => {
    const logits = b.asRank(b.operand(), 2);
    const [n, classes] = logits.shape;
    const kind = b.pick(4);
    const labels =
      kind === 0
        ? b.newInput([n], { kind: 'labels', depth: classes }, 'labels')
        : kind === 1
          ? b.newInput([n, classes], { kind: 'probs' }, 'probs')
          : kind === 2
            ? b.helper('oneHot', oneHot, [b.newInput([n], { kind: 'labels', depth: classes }, 'labels'), classes])
            : b.operand();
    const reduction = b.choose([undefined, 'mean', 'sum', 'none']);
    b.call('softmaxCrossEntropy', softmaxCrossEntropy, reduction === undefined ? [logits, labels] : [logits, labels, { reduction }]);
  },
  oneHot: (b) => {
    const depth = b.int(1, 5);
    const labels =
      b.pick(4) === 3 ? b.operand() : b.newInput(Array.from({ length: b.pick(3) }, () => b.int(1, 4)), { kind: 'labels', depth }, 'labels');
    b.call('oneHot', oneHot, [labels, depth]);
  },
  grad: (b) => {
    let y = b.operand();
    if (y.size !== 1) y = (b.flag() ? b.helper('mean', mean, [y]) : b.helper('sum', sum, [y])) as Tensor;
    b.call('grad', grad, [y, wrt(b)]);
  },
  vjp: (b) => {
    const y = b.operand();
    b.call('vjp', vjp, [[y], wrt(b), [b.newInput(y.shape)]]);
  },
};

/** What a gradient is taken with respect to: one or two graph inputs, now and then any value. */
function wrt(b: Builder): Tensor[] {
  const inputs = b.pool.filter((t) => t.op === 'input');
  const from = b.pick(4) === 3 || inputs.length === 0 ? b.pool : inputs;
  return Array.from({ length: b.int(1, 2) }, () => from[b.pick(from.length)]);
}

/**
 * Build a case with the public API. Returns the outputs (the last value built
 * and the extra ones the case names) or throws a {@link BuildFailure} holding
 * the error a call threw and the program up to and including that call.
 */
export function buildCase(c: FuzzCase): BuiltGraph {
  const b = new Builder();
  for (const shape of c.inputs) b.newInput(shape);
  for (const s of c.steps) {
    b.begin(s);
    try {
      makers[s.op](b);
    } catch (e) {
      b.code.push(`// ↑ threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      throw new BuildFailure(s.op, b.code, e);
    }
  }
  const last = b.pool[b.pool.length - 1];
  const extra = c.outputs.map((i) => b.pool[b.pool.length - 1 - (i % b.pool.length)]);
  const outputs = [...new Set([last, ...extra])];
  b.code.push(`const outputs = [${outputs.map((t) => b.names.get(t)).join(', ')}];`);
  return { outputs, domains: b.domains, code: b.code };
}

// ---------------------------------------------------------------------------
// Feeds.

/** Valid values for an input of `shape` holding `domain`, exactly representable in float32. */
function values(shape: Shape, domain: Domain, seed: number): number[] {
  const r = randomValues(sizeOf(shape), seed);
  if (domain.kind === 'labels') return Array.from(r, (v) => Math.floor(((v + 1) / 2) * domain.depth * 0.999));
  if (domain.kind === 'probs') return Array.from(r, (v) => Math.fround((v + 1) / 2));
  return Array.from(r, (v) => Math.fround(2 * v));
}

function written(v: readonly number[], shape: Shape, form: FeedForm, domain: Domain): unknown {
  if (form === 'float32') return Float32Array.from(v);
  if (form === 'array') return [...v];
  if (form === 'shaped') return { shape: [...shape], data: Float64Array.from(v) };
  if (form === 'int32' && domain.kind === 'labels') return Int32Array.from(v);
  return Float64Array.from(v);
}

/** The feeds of a graph with `inputs`, as the plan says: valid, or with one fault. */
export function makeFeeds(inputs: readonly InputSpec[], domains: ReadonlyMap<string, Domain>, plan: FeedPlan): Feeds {
  const feeds: Record<string, unknown> = {};
  inputs.forEach(({ name, shape }, i) => {
    feeds[name] = written(values(shape, domains.get(name) ?? { kind: 'any' }, plan.seed + 31 * i), shape, plan.form, domains.get(name) ?? { kind: 'any' });
  });
  const fault = plan.fault;
  if (fault === null) return feeds as Feeds;
  if (fault === 'feedsNull') return null as never;
  if (fault === 'feedsArray') return Object.values(feeds) as never;
  if (fault === 'extra') return { ...feeds, extra: [1] } as Feeds;
  spoilInput(feeds, inputs, domains, plan, fault);
  return feeds as Feeds;
}

type InputFault = Exclude<FeedFault, 'extra' | 'feedsNull' | 'feedsArray'>;

/** Spoil the feed of one input (a label input for the label faults, if the graph has one). */
function spoilInput(feeds: Record<string, unknown>, inputs: readonly InputSpec[], domains: ReadonlyMap<string, Domain>, plan: FeedPlan, fault: InputFault): void {
  const labelled = inputs.filter(({ name }) => domains.get(name)?.kind === 'labels');
  const isLabelFault = fault === 'labelOutOfRange' || fault === 'labelFraction' || fault === 'labelNegative';
  const targets = isLabelFault ? labelled : inputs;
  if (targets.length === 0) return;
  const { name, shape } = targets[plan.at % targets.length];
  const domain = domains.get(name) ?? { kind: 'any' };
  const v = values(shape, domain, plan.seed);
  const at = plan.at % v.length;
  const withValue = (x: unknown) => v.map((y, i) => (i === at ? x : y));
  const spoiled: Record<InputFault, () => unknown> = {
    missing: () => undefined,
    short: () => Float64Array.from(v.slice(1)),
    long: () => Float64Array.from([...v, 0]),
    nan: () => Float64Array.from(withValue(NaN) as number[]),
    infinity: () => Float32Array.from(withValue(-Infinity) as number[]),
    string: () => withValue('1'),
    null: () => null,
    number: () => 1,
    object: () => ({ values: v }),
    wrongShape: () => ({ shape: [...shape, 1], data: Float64Array.from(v) }),
    nested: () => [v],
    bigint: () => BigInt64Array.from(v.map(() => 1n)),
    labelOutOfRange: () => Float64Array.from(withValue(domain.kind === 'labels' ? domain.depth : 1) as number[]),
    labelFraction: () => Float64Array.from(withValue(0.5) as number[]),
    labelNegative: () => Float64Array.from(withValue(-1) as number[]),
  };
  const spoilt = spoiled[fault]();
  if (spoilt === undefined) delete feeds[name];
  else feeds[name] = spoilt;
}

/** The feeds written as code, long arrays shortened. */
export function feedsCode(feeds: unknown): string {
  if (feeds === null || typeof feeds !== 'object' || Array.isArray(feeds)) return literal(feeds, new Map());
  const entries = Object.entries(feeds).map(([k, v]) => {
    const n = (v as { length?: number } | null)?.length;
    const text = literal(v, new Map());
    return `${/^[A-Za-z_]\w*$/.test(k) ? k : JSON.stringify(k)}: ${typeof n === 'number' && n > 16 ? `${text.slice(0, 120)}… /* ${n} values */` : text}`;
  });
  return `{ ${entries.join(', ')} }`;
}

// ---------------------------------------------------------------------------
// Arbitraries.

const shapeArb = fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 0, maxLength: 4 });

/** Small input shapes keep the device kernels quick: about 200 elements at most. */
const smallShapeArb = shapeArb.filter((s) => sizeOf(s) <= 216);

/** null, except once in `n` times a value of `arb` (shrinking towards null). */
const mostlyNull = <T>(arb: fc.Arbitrary<T>, n: number): fc.Arbitrary<T | null> =>
  fc.oneof({ weight: n - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });

/** Steps that are spoiled once in `badOneIn` times, or never (null). */
const stepArbOf = (badOneIn: number | null): fc.Arbitrary<Step> =>
  fc.record({
    op: fc.constantFrom(...fuzzOps),
    picks: fc.array(fc.nat({ max: 1000 }), { minLength: 0, maxLength: 16 }),
    bad: badOneIn === null ? fc.constant(null) : mostlyNull(fc.nat({ max: 1000 }), badOneIn),
  });

/** Feed plans with a fault once in `faultOneIn` times, or never (null). */
const feedPlanArbOf = (faultOneIn: number | null): fc.Arbitrary<FeedPlan> =>
  fc.record({
    seed: fc.integer({ min: 1, max: 2 ** 30 }),
    form: fc.constantFrom(...feedForms),
    fault: faultOneIn === null ? fc.constant(null) : mostlyNull(fc.constantFrom(...feedFaults), faultOneIn),
    at: fc.nat({ max: 1000 }),
  });

/** Cases of 1 to 3 inputs and 1 to 6 of `steps`, fed as `feeds` plans; each prints as its program. */
const caseArbOf = (steps: fc.Arbitrary<Step>, feeds: fc.Arbitrary<FeedPlan>): fc.Arbitrary<FuzzCase> =>
  fc
    .record({
      inputs: fc.array(smallShapeArb, { minLength: 1, maxLength: 3 }),
      steps: fc.array(steps, { minLength: 1, maxLength: 6 }),
      outputs: fc.array(fc.nat({ max: 20 }), { maxLength: 2 }),
      feeds,
    })
    .map((c) => Object.assign(c, { [fc.toStringMethod]: () => caseCode(c) }));

/** A random case: 1 to 3 inputs, 1 to 6 steps, mostly valid calls and feeds. */
export const caseArb: fc.Arbitrary<FuzzCase> = caseArbOf(stepArbOf(12), feedPlanArbOf(6));

/**
 * A random case with no spoiled call and no faulty feed, for the forward-mode
 * property (check.ts, `runJvpCase`). Its picks may still make a call the
 * builder cannot foresee to be wrong (an input name reused with another
 * shape); such a case is skipped there, not failed.
 */
export const validCaseArb: fc.Arbitrary<FuzzCase> = caseArbOf(stepArbOf(null), feedPlanArbOf(null));

/** The case as a program: the calls, then the run. */
export function caseCode(c: FuzzCase): string {
  let code: readonly string[];
  try {
    code = buildCase(c).code;
  } catch (e) {
    code = e instanceof BuildFailure ? e.code : [`// build threw ${String(e)}`];
  }
  return `\n${code.join('\n')}\n// feeds: ${JSON.stringify(c.feeds)}\n`;
}
