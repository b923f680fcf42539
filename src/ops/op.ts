/**
 * What an op is. Every op file under src/ops declares one `OpDef`: its shape
 * rule (which also validates the inputs), its vector-Jacobian product, and its
 * float64 reference implementation. The registry in `index.ts` is a mapped
 * type over every op name, so an op missing any of these does not compile.
 */
import { Tensor, type Shape } from '../graph/tensor.js';
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
   * Output shape from input shapes. Throws an `Error` naming the op, what it
   * got and what it expected when the inputs do not fit.
   */
  shape(inputs: readonly Shape[], attrs: OpAttrs[O]): Shape;
  /**
   * Cotangents of the inputs given the cotangent `g` of the output. Builds graph
   * nodes only; never reads data. An entry may be `null` (no gradient flows to
   * that input, e.g. integer labels) and may have any shape that broadcasts to
   * the input's: `grad` sums it back to the input's shape in one central place.
   */
  vjp(g: Tensor, node: Tensor<O>): readonly (Tensor | null)[];
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
  for (const [i, t] of inputs.entries()) {
    if (!(t instanceof Tensor)) {
      throw new Error(`${def.name}: input ${i} is ${describe(t)}, expected a Tensor`);
    }
  }
  const shape = def.shape(
    inputs.map((t) => t.shape),
    attrs,
  );
  return new Tensor(def.name, inputs, attrs, shape);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? `an object (${(v as object).constructor?.name ?? 'Object'})` : `${typeof v} ${String(v)}`;
}

/** Throw a shape error in the house style: `op: what went wrong`. */
export function opError(op: string, message: string): never {
  throw new Error(`${op}: ${message}`);
}


/** Check that `v` is an integer within [min, max]; used for every attribute that reaches kernel source. */
export function checkInt(op: string, what: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`;
    opError(op, `${what} must be ${range}, got ${typeof v === 'number' ? v : JSON.stringify(v)}`);
  }
  return v;
}

/** Normalise an `axes` attribute: negative axes count from the end; duplicates and out-of-range axes are errors. */
export function normalizeAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const out = list.map((a) => {
    if (!Number.isInteger(a) || a < -rank || a >= rank) {
      opError(op, `axis ${a} is out of range for a tensor of rank ${rank}`);
    }
    return a < 0 ? a + rank : a;
  });
  if (new Set(out).size !== out.length) opError(op, `axes ${JSON.stringify(list)} repeat an axis`);
  return out.sort((a, b) => a - b);
}
