/**
 * TensorProto in and out: float32 values as little-endian `raw_data` (as
 * PyTorch writes them) and int64 values in `int64_data`; and, reading, every
 * check a file from elsewhere needs before its numbers are used: a known
 * data type, dimensions that are safe non-negative integers, exactly as many
 * values as the dimensions say, and no external data.
 */
import { fail } from '../graph/error.js';
import { DataType, type TensorMessage } from './schema.js';

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A TensorProto (plain object) of float32 values. */
export function floatTensor(name: string, dims: readonly number[], data: ArrayLike<number>): object {
  const values = data instanceof Float32Array ? data : Float32Array.from(data);
  let raw: Uint8Array;
  if (littleEndian) {
    raw = new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  } else {
    raw = new Uint8Array(values.length * 4);
    const view = new DataView(raw.buffer);
    values.forEach((v, i) => view.setFloat32(4 * i, v, true));
  }
  return { name, dims: [...dims], data_type: DataType.FLOAT, raw_data: raw };
}

/** A TensorProto of int64 values (shapes, axes, pads: small integers). */
export function int64Tensor(name: string, dims: readonly number[], values: readonly number[]): object {
  return { name, dims: [...dims], data_type: DataType.INT64, int64_data: [...values] };
}

/** A decimal string or number from protobuf's int64 fields as a safe integer, or null if it is not one. */
export function int64Value(v: string | number | undefined): number | null {
  if (v === undefined) return null;
  const n = typeof v === 'number' ? v : /^-?\d{1,17}$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(n) ? n : null;
}

/** What a decoded tensor holds: float values or integer values. */
export type TensorData = { readonly kind: 'float'; readonly dims: readonly number[]; readonly data: Float32Array } | { readonly kind: 'int'; readonly dims: readonly number[]; readonly data: readonly number[] };

/** Tensors larger than this are refused: 2^28 elements, a 1 GiB float32 tensor. */
const MAX_ELEMENTS = 2 ** 28;

/**
 * The values of a TensorProto, checked; `where` names it in errors
 * (`initializer "conv1.weight"`, `node "Constant_3" attribute "value"`).
 */
export function readTensor(who: string, where: string, t: TensorMessage): TensorData {
  if (t.data_location === 1 || t.external_data.length > 0) {
    fail(who, `${where} keeps its data in an external file, which Striate does not read; save the model with its data inside the .onnx file`, 'external tensor data', 'tensor data inside the file');
  }
  const dims = t.dims.map((d) => int64Value(d));
  if (dims.some((d) => d === null || d < 0)) {
    fail(who, `${where} has dimensions ${JSON.stringify(t.dims)}; each must be a non-negative integer`, `dims ${JSON.stringify(t.dims)}`, 'non-negative integer dimensions');
  }
  const shape = dims as number[];
  const count = shape.reduce((a, b) => a * b, 1);
  if (count > MAX_ELEMENTS) fail(who, `${where} has ${count} elements, more than the ${MAX_ELEMENTS} Striate reads`, `${count} elements`, `at most ${MAX_ELEMENTS} elements`);
  const type = t.data_type ?? 0;
  const mismatch = (found: number, field: string): never =>
    fail(
      who,
      `${where} has dimensions [${shape.join(', ')}] (${count} values) but its ${field} holds ${found}; the file is corrupt`,
      `${found} values in ${field}`,
      `${count} values, as the dimensions say`,
    );
  const raw = t.raw_data !== undefined && t.raw_data.length > 0 ? t.raw_data : undefined;
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : undefined;
  if (type === DataType.FLOAT || type === DataType.DOUBLE) {
    const width = type === DataType.FLOAT ? 4 : 8;
    const data = new Float32Array(count);
    if (view) {
      if (raw!.length !== count * width) mismatch(raw!.length / width, 'raw_data');
      for (let i = 0; i < count; i++) data[i] = width === 4 ? view.getFloat32(4 * i, true) : view.getFloat64(8 * i, true);
    } else {
      const values = type === DataType.FLOAT ? t.float_data : t.double_data;
      if (values.length !== count) mismatch(values.length, type === DataType.FLOAT ? 'float_data' : 'double_data');
      data.set(values);
    }
    for (let i = 0; i < count; i++) {
      if (!Number.isFinite(data[i])) {
        fail(who, `${where} holds a non-finite value (${data[i]}) at index ${i}`, `value ${data[i]}`, 'finite float32 values');
      }
    }
    return { kind: 'float', dims: shape, data };
  }
  if (type === DataType.INT64 || type === DataType.INT32) {
    const data: number[] = [];
    if (view) {
      const width = type === DataType.INT64 ? 8 : 4;
      if (raw!.length !== count * width) mismatch(raw!.length / width, 'raw_data');
      for (let i = 0; i < count; i++) {
        const v = width === 8 ? view.getBigInt64(8 * i, true) : BigInt(view.getInt32(4 * i, true));
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(-Number.MAX_SAFE_INTEGER)) {
          fail(who, `${where} holds the integer ${v}, beyond what Striate reads`, `integer ${v}`, 'integers of magnitude below 2^53');
        }
        data.push(Number(v));
      }
    } else {
      const values = type === DataType.INT64 ? t.int64_data.map((v) => int64Value(v)) : t.int32_data;
      if (values.length !== count) mismatch(values.length, type === DataType.INT64 ? 'int64_data' : 'int32_data');
      if (values.some((v) => v === null)) fail(who, `${where} holds an integer beyond what Striate reads`, 'an integer beyond 2^53', 'integers of magnitude below 2^53');
      data.push(...(values as number[]));
    }
    return { kind: 'int', dims: shape, data };
  }
  const names: Record<number, string> = { 0: 'UNDEFINED', 2: 'UINT8', 3: 'INT8', 4: 'UINT16', 5: 'INT16', 8: 'STRING', 9: 'BOOL', 10: 'FLOAT16', 12: 'UINT32', 13: 'UINT64', 16: 'BFLOAT16' };
  return fail(
    who,
    `${where} has data type ${names[type] ?? type}; Striate reads FLOAT (and DOUBLE, converted) tensors, and INT64/INT32 for shapes and axes`,
    `data type ${names[type] ?? type}`,
    'FLOAT, DOUBLE, INT64 or INT32',
  );
}
