/**
 * The part of the ONNX schema Striate reads and writes, as a protobufjs JSON
 * descriptor, and the two calls that use it: `encodeModel` and `decodeModel`.
 *
 * The messages, field names, numbers, types and packing are those of
 * onnx/onnx's `onnx/onnx.proto` (proto2; checked against the file as of IR
 * version 7, the IR of opset 13, whose field numbers later releases keep).
 * Fields Striate never uses are left out: protobuf skips unknown fields when
 * it decodes, so a file that has them (subgraphs, sparse initializers,
 * training info, metadata) still decodes, and what the importer needs is
 * checked afterwards. The wire format is protobufjs's, not hand-written.
 *
 * protobufjs/light (reflection without the .proto parser) keeps the cost to
 * the pages that import ONNX; the schema is built on first use.
 */
import protobuf from 'protobufjs/light.js';
import { fail } from '../graph/error.js';

const repeated = (type: string, id: number, packed?: boolean) =>
  packed === undefined ? { rule: 'repeated', type, id } : { rule: 'repeated', type, id, options: { packed } };
const optional = (type: string, id: number) => ({ type, id });

/** onnx.proto's messages that Striate uses, with the official field numbers (proto2: repeated scalars unpacked unless marked). */
const ONNX_DESCRIPTOR = {
  nested: {
    onnx: {
      nested: {
        AttributeProto: {
          fields: {
            name: optional('string', 1),
            ref_attr_name: optional('string', 21),
            doc_string: optional('string', 13),
            type: optional('int32', 20), // enum AttributeType, read as its number
            f: optional('float', 2),
            i: optional('int64', 3),
            s: optional('bytes', 4),
            t: optional('TensorProto', 5),
            floats: repeated('float', 7, false),
            ints: repeated('int64', 8, false),
            strings: repeated('bytes', 9),
            tensors: repeated('TensorProto', 10),
          },
        },
        ValueInfoProto: {
          fields: { name: optional('string', 1), type: optional('TypeProto', 2), doc_string: optional('string', 3) },
        },
        NodeProto: {
          fields: {
            input: repeated('string', 1),
            output: repeated('string', 2),
            name: optional('string', 3),
            op_type: optional('string', 4),
            domain: optional('string', 7),
            attribute: repeated('AttributeProto', 5),
            doc_string: optional('string', 6),
          },
        },
        ModelProto: {
          fields: {
            ir_version: optional('int64', 1),
            opset_import: repeated('OperatorSetIdProto', 8),
            producer_name: optional('string', 2),
            producer_version: optional('string', 3),
            domain: optional('string', 4),
            model_version: optional('int64', 5),
            doc_string: optional('string', 6),
            graph: optional('GraphProto', 7),
            metadata_props: repeated('StringStringEntryProto', 14),
          },
        },
        StringStringEntryProto: { fields: { key: optional('string', 1), value: optional('string', 2) } },
        GraphProto: {
          fields: {
            node: repeated('NodeProto', 1),
            name: optional('string', 2),
            initializer: repeated('TensorProto', 5),
            doc_string: optional('string', 10),
            input: repeated('ValueInfoProto', 11),
            output: repeated('ValueInfoProto', 12),
            value_info: repeated('ValueInfoProto', 13),
          },
        },
        TensorProto: {
          fields: {
            dims: repeated('int64', 1, false),
            data_type: optional('int32', 2),
            float_data: repeated('float', 4, true),
            int32_data: repeated('int32', 5, true),
            int64_data: repeated('int64', 7, true),
            name: optional('string', 8),
            doc_string: optional('string', 12),
            raw_data: optional('bytes', 9),
            external_data: repeated('StringStringEntryProto', 13),
            data_location: optional('int32', 14), // enum DataLocation: 0 DEFAULT, 1 EXTERNAL
            double_data: repeated('double', 10, true),
          },
        },
        TensorShapeProto: {
          fields: { dim: repeated('Dimension', 1) },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ['dim_value', 'dim_param'] } },
              fields: { dim_value: optional('int64', 1), dim_param: optional('string', 2), denotation: optional('string', 3) },
            },
          },
        },
        TypeProto: {
          oneofs: { value: { oneof: ['tensor_type'] } },
          fields: { tensor_type: optional('Tensor', 1), denotation: optional('string', 6) },
          nested: {
            Tensor: { fields: { elem_type: optional('int32', 1), shape: optional('TensorShapeProto', 2) } },
          },
        },
        OperatorSetIdProto: { fields: { domain: optional('string', 1), version: optional('int64', 2) } },
      },
    },
  },
};

/** TensorProto.DataType values Striate reads or writes. */
export const DataType = { FLOAT: 1, INT32: 6, INT64: 7, DOUBLE: 11 } as const;
/** AttributeProto.AttributeType values. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8, TENSORS: 9, GRAPHS: 10 } as const;

// ---------------------------------------------------------------------------
// The decoded shapes of the messages (what toObject gives: int64 as decimal
// strings, bytes as Uint8Array, arrays always present)

/** A decoded AttributeProto. */
export interface AttributeMessage {
  name?: string;
  ref_attr_name?: string;
  type?: number;
  f?: number;
  i?: string | number;
  s?: Uint8Array;
  t?: TensorMessage;
  floats: number[];
  ints: (string | number)[];
  strings: Uint8Array[];
  tensors: TensorMessage[];
}
/** A decoded TensorProto. */
export interface TensorMessage {
  dims: (string | number)[];
  data_type?: number;
  float_data: number[];
  int32_data: number[];
  int64_data: (string | number)[];
  double_data: number[];
  name?: string;
  raw_data?: Uint8Array;
  external_data: { key?: string; value?: string }[];
  data_location?: number;
}
/** A decoded TensorShapeProto.Dimension. */
export interface DimensionMessage {
  dim_value?: string | number;
  dim_param?: string;
}
/** A decoded ValueInfoProto. */
export interface ValueInfoMessage {
  name?: string;
  type?: { tensor_type?: { elem_type?: number; shape?: { dim: DimensionMessage[] } } };
}
/** A decoded NodeProto. */
export interface NodeMessage {
  input: string[];
  output: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  attribute: AttributeMessage[];
}
/** A decoded GraphProto. */
export interface GraphMessage {
  node: NodeMessage[];
  name?: string;
  initializer: TensorMessage[];
  input: ValueInfoMessage[];
  output: ValueInfoMessage[];
  value_info: ValueInfoMessage[];
}
/** A decoded ModelProto. */
export interface ModelMessage {
  ir_version?: string | number;
  opset_import: { domain?: string; version?: string | number }[];
  producer_name?: string;
  producer_version?: string;
  doc_string?: string;
  graph?: GraphMessage;
  metadata_props: { key?: string; value?: string }[];
}

let modelType: protobuf.Type | undefined;

function model(): protobuf.Type {
  modelType ??= protobuf.Root.fromJSON(ONNX_DESCRIPTOR).lookupType('onnx.ModelProto');
  return modelType;
}

/**
 * A ModelProto's bytes from a plain object of its fields (int64 fields as
 * numbers, bytes as Uint8Array). `verify` runs first, so a field of the
 * wrong type is a bug report rather than silently wrong bytes.
 */
export function encodeModel(message: object): Uint8Array {
  const type = model();
  const problem = type.verify(message);
  if (problem) throw new Error(`exportOnnx: the ONNX message does not fit onnx.proto (${problem}); a bug in Striate`);
  return new Uint8Array(type.encode(type.fromObject(message)).finish());
}

/** The ModelProto in `bytes`, as plain objects; a StriateError for bytes that are not one (truncated, or not protobuf at all). */
export function decodeModel(who: string, bytes: Uint8Array): ModelMessage {
  const type = model();
  let decoded: protobuf.Message;
  try {
    decoded = type.decode(bytes);
  } catch (err) {
    fail(
      who,
      `the bytes are not an ONNX model: protobuf decoding failed (${(err as Error).message}); the file may be truncated or not an .onnx file`,
      `${bytes.length} bytes that do not decode`,
      'the bytes of an ONNX ModelProto',
      err,
    );
  }
  return type.toObject(decoded, { longs: String, arrays: true, defaults: false }) as ModelMessage;
}
