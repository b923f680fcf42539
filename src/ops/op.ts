/**
 * What an op is. Every op file under src/ops declares one `OpDef`: its shape
 * rule (which also validates the inputs), its vector-Jacobian product, and its
 * float64 reference implementation. The registry in `index.ts` is a mapped
 * type over every op name, so an op missing any of these does not compile.
 */
import { checkOptions, describeValue, fail } from '../graph/error.js';
import { checkInputs, Tensor, type Shape } from '../graph/tensor.js';
import type { Grid, Src } from '../kernel/source.js';
import type { OpAttrs, OpName } from './attrs.js';

/** A dense float64 array with its shape, row-major. Used by the reference backend. */
export interface NDArray {
  readonly shape: Shape;
  readonly data: Float64Array;
}

export interface OpDef<O extends OpName> {
  readonly name: O;
  /**
   * Output shape from input shapes. Throws a StriateError naming the op, what
   * it got and what it expected when the inputs or the attributes do not fit;
   * it checks every attribute the kernel and the reference read, since
   * compile runs it again on every node (validate.ts), hand-built ones too.
   */
  shape(inputs: readonly Shape[], attrs: OpAttrs[O]): Shape;
  /**
   * Cotangents of the inputs given the cotangent `g` of the output. Builds graph
   * nodes only; never reads data. An entry may be `null` (no gradient flows to
   * that input, e.g. integer labels) and may have any shape that broadcasts to
   * the input's: `grad` sums it back to the input's shape in one central place.
   * `autodiff` is `vjp` itself, for the one rule that differentiates a
   * subgraph (`checkpoint`), so that ops never import the floor above them.
   */
  vjp(g: Tensor, node: Tensor<O>, autodiff: Autodiff): readonly (Tensor | null)[];
  /**
   * The tangent of the output given a tangent for each input (forward mode,
   * `jvp` in src/autodiff/jvp.ts). An entry is `null` where the input's
   * tangent is zero (it does not depend on the differentiated inputs); at
   * least one is not. Builds graph nodes only. Returns `null` when the
   * output's tangent is zero (a piecewise-constant op such as `step`), or a
   * tensor of the output's shape or of one that broadcasts to it: `jvp`
   * broadcasts it in one central place. For every t and c, ⟨c, jvp(t)⟩ must
   * equal ⟨vjp(c), t⟩; `checkGradients` tests both rules against each other.
   */
  jvp(tangents: readonly (Tensor | null)[], node: Tensor<O>): Tensor | null;
  /** The op's meaning, in float64 plain JavaScript: the oracle every backend is tested against. */
  reference(inputs: readonly NDArray[], attrs: OpAttrs[O], outShape: Shape): Float64Array;
  /**
   * The gpu.js kernel template: the body of `function(x0, x1, ...)` computing
   * one element of the flat output, whose index is `i`; inputs are flat
   * arrays named x0, x1, ... Built with the `k` tag (src/kernel/source.ts)
   * from validated integers only. `'upload'`: the value comes from the host
   * (inputs, constants). `'alias'`: the output is the input's flat buffer
   * unchanged (reshape). A rule may also return `KernelStages` when one
   * kernel would leave the device idle (a few outputs, each a long sum).
   */
  kernel: ((ctx: KernelContext<O>) => Src | KernelStages) | 'upload' | 'alias';
}

/** What a VJP rule may call back: reverse mode itself (src/autodiff/grad.ts), handed in by `vjp`. */
export interface Autodiff {
  /** `vjp(ys, xs, cotangents)` with the xs as leaves: no cotangent flows past an x into the tensors it is computed from. */
  vjp(ys: readonly Tensor[], xs: readonly Tensor[], cotangents: readonly Tensor[]): Tensor[];
}

/**
 * An op computed in several kernels, one after the other: stage j reads the
 * op's inputs as x0..x{n-1} and the earlier stages' outputs as x{n}..x{n+j-1};
 * the last stage's output (of the op's size) is the op's value. Used to split
 * a long reduction into partial sums that many threads compute at once.
 */
export interface KernelStages {
  readonly stages: readonly KernelStage[];
}

export interface KernelStage {
  readonly size: number;
  readonly body: Src;
  /**
   * The grid this stage runs on (an earlier stage only; the last one runs on
   * KernelContext.grid): gridOf of the shape its body decodes `i` over, or
   * null for a flat one. Only where KernelContext.ints.
   */
  readonly grid?: Grid | null;
}

export interface KernelContext<O extends OpName> {
  readonly inputs: readonly Shape[];
  readonly attrs: OpAttrs[O];
  readonly out: Shape;
  /**
   * Whether index locals may be integers (the webasm backends): templates
   * declare them with `intLet` / `decode(..., ints)`, and the flat output
   * index `i` is one. See src/kernel/source.ts.
   */
  readonly ints: boolean;
  /**
   * The thread grid the kernel runs on, gridOf(out), where the backend has
   * integer indexing (for a graph output, when its rows are a multiple of 4
   * wide); null for a flat one. Pass it to `decode` with `ints`: decoding `i` over `out` then reads
   * the last two coordinates off the thread ids.
   */
  readonly grid: Grid | null;
}

/** Build a frozen node for `def`, checking the input shapes first. */
export function makeNode<O extends OpName>(def: OpDef<O>, inputs: readonly Tensor[], attrs: OpAttrs[O]): Tensor<O> {
  checkInputs(def.name, inputs);
  const shape = def.shape(
    inputs.map((t) => t.shape),
    attrs,
  );
  return new Tensor(def.name, inputs, attrs, shape);
}

/**
 * Throw a {@link StriateError} in the house style: `op: what went wrong`, with
 * what the op got and what it expected as fields (shapes as `[2,3]`).
 */
export function opError(op: string, message: string, got: string, expected: string): never {
  fail(op, message, got, expected);
}

/**
 * A shape rule's first check: the node has `count` inputs, named in `names`
 * for the message (`conv2d: takes 3 inputs (x, w, bias), got 2`).
 */
export function checkInputCount(op: string, inputs: readonly unknown[], count: number, names?: string): void {
  if (inputs.length !== count) {
    const takes = `${count} input${count === 1 ? '' : 's'}`;
    opError(op, `takes ${takes}${names === undefined ? '' : ` (${names})`}, got ${inputs.length}`, `${inputs.length} inputs`, takes);
  }
}

/** Check that an op's argument `what` is a Tensor (`conv2d: filter must be a Tensor, got null`). */
export function checkTensor(op: string, what: string, v: unknown): asserts v is Tensor {
  if (!(v instanceof Tensor)) opError(op, `${what} must be a Tensor, got ${describeValue(v)}`, `${what} ${describeValue(v)}`, 'a Tensor');
}

/**
 * A builder's required options argument (pooling's `{ size }`, the backprop
 * ops' shapes): refused when missing, else checked by `checkOptions`
 * (src/graph/error.ts): a plain object of the `known` keys only.
 */
export function requiredOptions<T>(op: string, options: T, known: readonly string[], example: string): T {
  if (options === undefined) {
    opError(op, `options must be an object such as ${example}, got undefined`, 'undefined', `an object of options such as ${example}`);
  }
  return checkOptions(op, options, known, example);
}

/** Check that the flag `what` is true or false; used for options and for attributes a kernel branches on. */
export function checkBoolean(op: string, what: string, v: unknown): boolean {
  if (typeof v !== 'boolean') {
    const shown = JSON.stringify(v) ?? String(v);
    opError(op, `${what} must be true or false, got ${shown}`, `${what} ${shown}`, 'true or false');
  }
  return v;
}


/** Check that `v` is an integer within [min, max]; used for every attribute that reaches kernel source. */
export function checkInt(op: string, what: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`;
    const shown = typeof v === 'number' ? String(v) : JSON.stringify(v) ?? String(v);
    opError(op, `${what} must be ${range}, got ${shown}`, `${what} ${shown}`, range);
  }
  return v;
}

/** Normalise an `axes` attribute: negative axes count from the end; duplicates and out-of-range axes are errors. */
export function normalizeAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  if (typeof axes !== 'number' && !Array.isArray(axes)) {
    const what = `axes ${describeValue(axes)}`;
    opError(op, `axes must be an integer or an array of integers, got ${describeValue(axes)}`, what, 'an integer axis or an array of them');
  }
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const out = list.map((a) => {
    if (!Number.isInteger(a) || a < -rank || a >= rank) {
      opError(op, `axis ${a} is out of range for a tensor of rank ${rank}`, `axis ${a}`, `an integer axis in [${-rank}, ${rank - 1}]`);
    }
    return a < 0 ? a + rank : a;
  });
  if (new Set(out).size !== out.length) opError(op, `axes ${JSON.stringify(list)} repeat an axis`, `axes ${JSON.stringify(list)}`, 'distinct axes');
  return out.sort((a, b) => a - b);
}
