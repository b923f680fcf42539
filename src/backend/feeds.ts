/** Feed validation shared by every backend: `run` must refuse bad feeds before any work starts. */
import { type Shape, type Tensor, shapeToString, sizeOf } from '../graph/tensor.js';
import { sameShape } from '../graph/shape.js';

/** A value fed to a graph input: a flat array in row-major order, or one with its shape. */
export type FeedValue =
  | ArrayLike<number>
  | {
      /** The input's shape; must equal it exactly. */
      readonly shape: readonly number[];
      /** The values, row-major. */
      readonly data: ArrayLike<number>;
    };

/**
 * The values of a run: one {@link FeedValue} per graph input, keyed by the
 * input's name. `run` refuses, before any work, a missing or unknown name, a
 * wrong count or shape, and a value that is not a finite number.
 *
 * ```ts
 * await f.run({ x: new Float32Array(32 * 784), labels: { shape: [32], data: batchLabels } });
 * ```
 */
export type Feeds = Readonly<Record<string, FeedValue>>;

/** One named input of a compiled graph: what a run must feed. */
export interface InputSpec {
  /** The name given to {@link input}: the key of its feed. */
  readonly name: string;
  /** Its static shape: a feed holds one value per element, the product of the dimensions. */
  readonly shape: Shape;
}

/** The graph's inputs by name; two input nodes may share a name only if they agree on the shape. */
export function collectInputs(nodes: readonly Tensor[]): InputSpec[] {
  const byName = new Map<string, InputSpec>();
  for (const node of nodes) {
    if (node.op !== 'input') continue;
    const name = (node as Tensor<'input'>).attrs.name;
    const prev = byName.get(name);
    if (prev && !sameShape(prev.shape, node.shape)) {
      throw new Error(`compile: two inputs are named "${name}" with different shapes ${shapeToString(prev.shape)} and ${shapeToString(node.shape)}`);
    }
    byName.set(name, { name, shape: node.shape });
  }
  return [...byName.values()];
}

/** Check every feed against the inputs and return the flat data by input name. */
export function validateFeeds(inputs: readonly InputSpec[], feeds: Feeds): Map<string, ArrayLike<number>> {
  if (feeds === null || typeof feeds !== 'object') {
    throw new Error(`run: feeds must be an object mapping input names to arrays, got ${feeds === null ? 'null' : typeof feeds}`);
  }
  const names = new Set(inputs.map((i) => i.name));
  for (const key of Object.keys(feeds)) {
    if (!names.has(key)) {
      const list = inputs.length ? inputs.map((i) => `"${i.name}"`).join(', ') : 'none';
      throw new Error(`run: unknown feed "${key}"; the graph's inputs are ${list}`);
    }
  }
  const out = new Map<string, ArrayLike<number>>();
  for (const { name, shape } of inputs) {
    const v = feeds[name];
    if (v === undefined || v === null) {
      throw new Error(`run: missing feed for input "${name}" (shape ${shapeToString(shape)})`);
    }
    let data: ArrayLike<number>;
    if ('data' in (v as object) && 'shape' in (v as object)) {
      const fv = v as { shape: readonly number[]; data: ArrayLike<number> };
      if (!sameShape(fv.shape, shape)) {
        throw new Error(`run: feed "${name}" has shape ${shapeToString(fv.shape)} but the input expects ${shapeToString(shape)}`);
      }
      data = fv.data;
    } else {
      data = v as ArrayLike<number>;
    }
    if (typeof data.length !== 'number') {
      throw new Error(`run: feed "${name}" must be an array or typed array of numbers`);
    }
    const expected = sizeOf(shape);
    if (data.length !== expected) {
      throw new Error(`run: feed "${name}" has ${data.length} values but input "${name}" has shape ${shapeToString(shape)} (${expected} values)`);
    }
    const i = firstNonFinite(data);
    if (i >= 0) {
      const x = data[i];
      throw new Error(`run: feed "${name}" holds ${typeof x === 'number' ? x : typeof x} at index ${i}; feeds must be finite numbers`);
    }
    out.set(name, data);
  }
  return out;
}

/**
 * The index of the first value of `data` that is not a finite number, or -1.
 * Typed arrays (every feed on the hot path) are scanned in blocks without a
 * branch per value: x - x is 0 for a finite x and NaN for NaN and
 * ±Infinity, so a block's four partial sums are 0 exactly when all its
 * values are finite; only a failing block is searched value by value.
 */
export function firstNonFinite(data: ArrayLike<number>): number {
  if (data instanceof Float32Array || data instanceof Float64Array) return firstNonFiniteTyped(data);
  for (let i = 0; i < data.length; i++) {
    const x = data[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) return i;
  }
  return -1;
}

const BLOCK = 4096;

function firstNonFiniteTyped(a: Float32Array | Float64Array): number {
  const n = a.length;
  for (let start = 0; start < n; start += BLOCK) {
    const end = Math.min(n, start + BLOCK);
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let i = start;
    for (; i + 3 < end; i += 4) {
      s0 += a[i] - a[i];
      s1 += a[i + 1] - a[i + 1];
      s2 += a[i + 2] - a[i + 2];
      s3 += a[i + 3] - a[i + 3];
    }
    for (; i < end; i++) s0 += a[i] - a[i];
    if (s0 + s1 + s2 + s3 !== 0) {
      for (let j = start; j < end; j++) if (!Number.isFinite(a[j])) return j;
    }
  }
  return -1;
}
