/**
 * Parameter values: the numbers that live outside the graph. A model's graph
 * reads each parameter through a named `input` node (`conv1.w`, `fc1.b`, ...);
 * a `Params` record maps those names to their current values.
 *
 * A `Params` record is immutable: the record and each entry are frozen, and a
 * training step makes a new record with new arrays rather than writing into
 * the old ones. (A `Float32Array` with elements cannot be frozen in
 * JavaScript, so "never written after it is made" is a promise this library
 * keeps, not one the runtime enforces; treat `data` as read-only.)
 */
import { describeValue, fail } from '../graph/error.js';
import { checkShape } from '../graph/shape.js';
import { type Shape, shapeToString, sizeOf } from '../graph/tensor.js';

/** One parameter's value: its shape and its float32 data, row-major. */
export interface TensorValue {
  /** Its dimensions, e.g. [6, 1, 5, 5]. */
  readonly shape: Shape;
  /** Its values, row-major; never written after it is made. */
  readonly data: Float32Array;
}

/** A tensor as a checkpoint stores it: a plain shape array and float32 values, row-major. */
export interface TensorData {
  /** Its dimensions. */
  shape: number[];
  /** Its values, row-major. */
  data: Float32Array;
}

/** Parameter values by graph input name, e.g. `{ 'conv1.w': {shape: [6,1,5,5], data}, ... }`. */
export type Params = Readonly<Record<string, TensorValue>>;

/** Gradients by parameter name, as a backend returns them (float32 or float64). */
export type Gradients = Readonly<Record<string, ArrayLike<number>>>;

/** A frozen `TensorValue`. The data array is taken as is, not copied. */
export function tensorValue(shape: Shape, data: Float32Array): TensorValue {
  const who = 'tensorValue';
  checkShape(who, shape);
  if (!(data instanceof Float32Array)) {
    fail(who, `data must be a Float32Array, got ${Object.prototype.toString.call(data)}`, `data ${describeValue(data)}`, 'a Float32Array');
  }
  if (data.length !== sizeOf(shape)) {
    fail(
      who,
      `shape ${shapeToString(shape)} needs ${sizeOf(shape)} values but data holds ${data.length}`,
      `${data.length} values`,
      `${sizeOf(shape)} values, for shape ${shapeToString(shape)}`,
    );
  }
  return Object.freeze({ shape: Object.freeze([...shape]), data });
}

/**
 * Refuse anything but a record of `{ shape, data: Float32Array }` values
 * (`who` names the caller, `what` the record in the message).
 */
export function checkParamRecord(who: string, params: unknown, what = 'params'): asserts params is Params {
  if (params === null || typeof params !== 'object' || Array.isArray(params) || ArrayBuffer.isView(params)) {
    fail(who, `${what} must be a record of tensor values by name (e.g. initParams(model, seed)), got ${describeValue(params)}`, describeValue(params), 'a record of { shape, data } values');
  }
  for (const [name, v] of Object.entries(params)) {
    const entry = v as Partial<TensorValue> | null;
    if (entry === null || typeof entry !== 'object' || !Array.isArray(entry.shape) || !(entry.data instanceof Float32Array)) {
      fail(who, `${what} "${name}" must be a { shape, data: Float32Array } value (see tensorValue), got ${describeValue(v)}`, `"${name}": ${describeValue(v)}`, 'a { shape, data: Float32Array } value');
    }
  }
}

/** Freeze a record of tensor values (the entries are frozen too). */
export function freezeParams(entries: Iterable<readonly [string, TensorValue]>): Params {
  if (entries === null || typeof (entries as Partial<Iterable<unknown>>)?.[Symbol.iterator] !== 'function') {
    fail('freezeParams', `entries must be an iterable of [name, value] pairs, got ${describeValue(entries)}`, describeValue(entries), 'an iterable of [name, value] pairs');
  }
  const out: Record<string, TensorValue> = {};
  for (const entry of entries) {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || entry[1] === null || typeof entry[1] !== 'object') {
      fail('freezeParams', `each entry must be a [name, { shape, data }] pair, got ${describeValue(entry)}`, describeValue(entry), 'a [name, { shape, data }] pair');
    }
    const [name, v] = entry;
    const intact = Object.isFrozen(v) && Array.isArray(v.shape) && v.data instanceof Float32Array && sizeOf(v.shape) === v.data.length;
    out[name] = intact ? v : tensorValue(v.shape, v.data);
  }
  return Object.freeze(out);
}

/** Total number of scalar parameters. */
export function countParams(params: Params): number {
  checkParamRecord('countParams', params);
  let n = 0;
  for (const v of Object.values(params)) n += v.data.length;
  return n;
}

/** Plain `{ shape: number[], data }` entries, as `saveCheckpoint` takes them. */
export function toTensorGroup(params: Params): Record<string, TensorData> {
  checkParamRecord('toTensorGroup', params);
  const out: Record<string, TensorData> = {};
  for (const [name, v] of Object.entries(params)) out[name] = { shape: [...v.shape], data: v.data };
  return out;
}

/** The first parameter (in record order) that holds a NaN or an infinity, or null. */
export function findNonFinite(params: Params): {
  /** The parameter's name. */
  name: string;
  /** The position of the value in its data. */
  index: number;
  /** The value: NaN, Infinity or -Infinity. */
  value: number;
} | null {
  checkParamRecord('findNonFinite', params);
  for (const [name, { data }] of Object.entries(params)) {
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) return { name, index: i, value: data[i] };
    }
  }
  return null;
}
