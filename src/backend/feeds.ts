/** Feed validation shared by every backend: `run` must refuse bad feeds before any work starts. */
import { describeValue, fail } from '../graph/error.js';
import { type Shape, type Tensor, shapeToString, sizeOf } from '../graph/tensor.js';
import { sameShape } from '../graph/shape.js';
import { classIndexRange, isClassIndex, labelPath, labelUse } from '../ops/oneHot.js';

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
 * wrong count or shape, a value that is not a finite number, and, for an
 * input read as class labels (see {@link InputSpec.classes}), a value that
 * is not an integer class index.
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
  /**
   * Present when the input's values are read as class indices: when they
   * reach oneHot's input or the index labels of softmaxCrossEntropy (or its
   * gradient), directly or through ops that only move values (reshape,
   * transpose, broadcastTo, concat, pad). Every fed value must then be an
   * integer in [0, classes); the smallest count where several ops read it.
   */
  readonly classes?: number;
}

/**
 * The graph's inputs by name; two input nodes may share a name only if they
 * agree on the shape. Each input read as class labels gets its `classes`.
 */
export function collectInputs(nodes: readonly Tensor[]): InputSpec[] {
  const shapes = new Map<string, Shape>();
  const classes = new Map<string, number>();
  for (const node of nodes) {
    if (node.op === 'input') {
      const name = (node as Tensor<'input'>).attrs.name;
      const prev = shapes.get(name);
      if (prev && !sameShape(prev, node.shape)) {
        fail(
          'compile',
          `two inputs are named "${name}" with different shapes ${shapeToString(prev)} and ${shapeToString(node.shape)}`,
          `inputs "${name}" ${shapeToString(prev)} and ${shapeToString(node.shape)}`,
          'one shape per input name',
        );
      }
      shapes.set(name, node.shape);
    }
    const use = labelUse(node);
    if (use === null) continue;
    for (const t of labelPath(use.labels)) {
      if (t.op !== 'input') continue;
      const name = (t as Tensor<'input'>).attrs.name;
      classes.set(name, Math.min(classes.get(name) ?? Infinity, use.classes));
    }
  }
  return [...shapes].map(([name, shape]) => {
    const c = classes.get(name);
    return c === undefined ? { name, shape } : { name, shape, classes: c };
  });
}

const FEED = 'an array or typed array of numbers, or { shape, data }';

/** Check every feed against the inputs and return the flat data by input name. */
export function validateFeeds(inputs: readonly InputSpec[], feeds: Feeds): Map<string, ArrayLike<number>> {
  if (feeds === null || typeof feeds !== 'object') {
    fail('run', `feeds must be an object mapping input names to arrays, got ${describeValue(feeds)}`, describeValue(feeds), 'an object of feeds by input name');
  }
  const names = new Set(inputs.map((i) => i.name));
  for (const key of Object.keys(feeds)) {
    if (!names.has(key)) {
      const list = inputs.length ? inputs.map((i) => `"${i.name}"`).join(', ') : 'none';
      fail('run', `unknown feed "${key}"; the graph's inputs are ${list}`, `feed "${key}"`, `feeds for ${list}`);
    }
  }
  const out = new Map<string, ArrayLike<number>>();
  for (const spec of inputs) {
    const { name, shape } = spec;
    const v: unknown = feeds[name];
    if (v === undefined || v === null) {
      fail('run', `missing feed for input "${name}" (shape ${shapeToString(shape)})`, `feed "${name}" ${String(v)}`, `${sizeOf(shape)} values for shape ${shapeToString(shape)}`);
    }
    const data = feedData(name, shape, v);
    const expected = sizeOf(shape);
    if (data.length !== expected) {
      fail(
        'run',
        `feed "${name}" has ${data.length} values but input "${name}" has shape ${shapeToString(shape)} (${expected} values)`,
        `${data.length} values`,
        `${expected} values for shape ${shapeToString(shape)}`,
      );
    }
    const i = firstNonFinite(data);
    if (i >= 0) {
      const x = data[i];
      const shown = typeof x === 'number' ? String(x) : describeValue(x);
      fail('run', `feed "${name}" holds ${typeof x === 'number' ? x : typeof x} at index ${i}; feeds must be finite numbers`, `${shown} at index ${i}`, 'finite numbers');
    }
    if (spec.classes !== undefined) checkLabelFeed(name, data, spec.classes);
    out.set(name, data);
  }
  return out;
}

/** The flat values of feed `v` for input `name`: an array-like, or `{ shape, data }` whose shape is the input's. */
function feedData(name: string, shape: Shape, v: unknown): ArrayLike<number> {
  if (typeof v !== 'object' && typeof v !== 'function') {
    fail('run', `feed "${name}" is ${describeValue(v)}; a feed must be ${FEED}`, describeValue(v), FEED);
  }
  const record = v as Partial<{ shape: unknown; data: unknown }>;
  let data: unknown = v;
  if ('data' in record || 'shape' in record) {
    if (!Array.isArray(record.shape) || !('data' in record)) {
      fail('run', `feed "${name}" must be { shape, data } with shape an array, got ${describeValue(v)}`, describeValue(v), `{ shape: ${shapeToString(shape)}, data }`);
    }
    if (!sameShape(record.shape, shape)) {
      fail('run', `feed "${name}" has shape ${shapeToString(record.shape)} but the input expects ${shapeToString(shape)}`, `shape ${shapeToString(record.shape)}`, `shape ${shapeToString(shape)}`);
    }
    data = record.data;
  }
  if (data === null || typeof data !== 'object' || typeof (data as ArrayLike<unknown>).length !== 'number') {
    fail('run', `feed "${name}" must be ${FEED}, got ${data === v ? '' : 'data '}${describeValue(data)}`, describeValue(data), FEED);
  }
  return data as ArrayLike<number>;
}

/** Refuse a label feed holding a value that is not an integer in [0, classes) (already known to be finite). */
function checkLabelFeed(name: string, data: ArrayLike<number>, classes: number): void {
  for (let i = 0; i < data.length; i++) {
    if (isClassIndex(data[i], classes)) continue;
    fail(
      'run',
      `feed "${name}" holds ${data[i]} at index ${i}, but its values are class labels: integers in [0, ${classes - 1}]`,
      `${data[i]} at index ${i}`,
      classIndexRange(classes),
    );
  }
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
