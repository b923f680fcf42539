/**
 * ONNX files laid out the way PyTorch's exporter (torch.onnx.export, opset
 * 17) writes a small conv net, built here with protobufjs through Striate's
 * onnx.proto descriptor: initializers named after the module's state dict
 * (`conv1.weight`, `bn1.running_mean`), optionally repeated as graph inputs
 * (keep_initializers_as_inputs), nodes named `/conv1/Conv` writing
 * `/conv1/Conv_output_0`, every default attribute written out, Gemm with
 * transB=1 over a weight [out, in], Flatten axis=1, value_info shapes, a
 * symbolic batch `batch_size`, producer 'pytorch'.
 */
import { AttributeType, encodeModel } from '../../src/onnx/schema.js';

/** A seeded stream of values in [-scale, scale). */
export function values(n: number, seed: number, scale = 0.5): Float32Array {
  let s = seed >>> 0 || 1;
  return new Float32Array(n).map(() => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 2 ** 32 - 0.5) * 2 * scale;
  });
}

const ints = (name: string, v: number[]) => ({ name, type: AttributeType.INTS, ints: v });
const int = (name: string, i: number) => ({ name, type: AttributeType.INT, i });
const float = (name: string, f: number) => ({ name, type: AttributeType.FLOAT, f });

/** A float initializer, in raw_data (as PyTorch writes them) or float_data. */
export function floats(name: string, dims: number[], data: Float32Array, raw = true) {
  return raw
    ? { name, dims, data_type: 1, raw_data: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) }
    : { name, dims, data_type: 1, float_data: Array.from(data) };
}

/** A value_info entry of a float tensor; `null` dims are the symbolic batch. */
export function info(name: string, dims: (number | string)[]) {
  return { name, type: { tensor_type: { elem_type: 1, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dim_param: d } : { dim_value: d })) } } } };
}

/** Options of {@link pytorchNet}. */
export interface PytorchOptions {
  /** Repeat the initializers as graph inputs (PyTorch's keep_initializers_as_inputs=True). */
  initializersAsInputs?: boolean;
  /** A fixed batch size instead of 'batch_size', and a Reshape to [batch, -1] instead of Flatten (PyTorch's constant-folded x.view(n, -1)). */
  fixedBatch?: number;
}

/**
 * conv1 3→6 3×3 pad 1 → bn1 → relu → max pool 2 → conv2 6→8 3×3 (2 groups)
 * → relu → global average pool → flatten → fc 8→5: on [N, 3, 12, 12].
 */
export function pytorchNet(options: PytorchOptions = {}): Uint8Array {
  const batch: number | string = options.fixedBatch ?? 'batch_size';
  const inits = [
    floats('conv1.weight', [6, 3, 3, 3], values(162, 1)),
    floats('conv1.bias', [6], values(6, 2), false),
    floats('bn1.weight', [6], values(6, 3).map((v) => 1 + v)),
    floats('bn1.bias', [6], values(6, 4)),
    floats('bn1.running_mean', [6], values(6, 5)),
    floats('bn1.running_var', [6], values(6, 6).map((v) => 1 + v)),
    floats('conv2.weight', [8, 3, 3, 3], values(216, 7)),
    floats('conv2.bias', [8], values(8, 8)),
    floats('fc.weight', [5, 8], values(40, 9)),
    floats('fc.bias', [5], values(5, 10)),
  ];
  const shapeInit = options.fixedBatch !== undefined ? [{ name: 'onnx::Reshape_30', dims: [2], data_type: 7, int64_data: [options.fixedBatch, -1] }] : [];
  const flatten =
    options.fixedBatch !== undefined
      ? { name: '/Reshape', op_type: 'Reshape', input: ['/avgpool/GlobalAveragePool_output_0', 'onnx::Reshape_30'], output: ['/Reshape_output_0'], attribute: [] }
      : { name: '/Flatten', op_type: 'Flatten', input: ['/avgpool/GlobalAveragePool_output_0'], output: ['/Flatten_output_0'], attribute: [int('axis', 1)] };
  const flatName = flatten.output[0];
  const nodes = [
    { name: '/conv1/Conv', op_type: 'Conv', input: ['input', 'conv1.weight', 'conv1.bias'], output: ['/conv1/Conv_output_0'], attribute: [ints('dilations', [1, 1]), int('group', 1), ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1]), ints('strides', [1, 1])] },
    {
      name: '/bn1/BatchNormalization',
      op_type: 'BatchNormalization',
      input: ['/conv1/Conv_output_0', 'bn1.weight', 'bn1.bias', 'bn1.running_mean', 'bn1.running_var'],
      output: ['/bn1/BatchNormalization_output_0'],
      attribute: [float('epsilon', 1e-5), float('momentum', 0.9), int('training_mode', 0)],
    },
    { name: '/relu/Relu', op_type: 'Relu', input: ['/bn1/BatchNormalization_output_0'], output: ['/relu/Relu_output_0'], attribute: [] },
    { name: '/pool/MaxPool', op_type: 'MaxPool', input: ['/relu/Relu_output_0'], output: ['/pool/MaxPool_output_0'], attribute: [int('ceil_mode', 0), ints('kernel_shape', [2, 2]), ints('pads', [0, 0, 0, 0]), ints('strides', [2, 2])] },
    { name: '/conv2/Conv', op_type: 'Conv', input: ['/pool/MaxPool_output_0', 'conv2.weight', 'conv2.bias'], output: ['/conv2/Conv_output_0'], attribute: [ints('dilations', [1, 1]), int('group', 2), ints('kernel_shape', [3, 3]), ints('pads', [0, 0, 0, 0]), ints('strides', [1, 1])] },
    { name: '/relu_1/Relu', op_type: 'Relu', input: ['/conv2/Conv_output_0'], output: ['/relu_1/Relu_output_0'], attribute: [] },
    { name: '/avgpool/GlobalAveragePool', op_type: 'GlobalAveragePool', input: ['/relu_1/Relu_output_0'], output: ['/avgpool/GlobalAveragePool_output_0'], attribute: [] },
    flatten,
    { name: '/fc/Gemm', op_type: 'Gemm', input: [flatName, 'fc.weight', 'fc.bias'], output: ['output'], attribute: [float('alpha', 1), float('beta', 1), int('transB', 1)] },
  ];
  const asInputs = options.initializersAsInputs ? inits.map((t) => info(t.name, t.dims)) : [];
  return encodeModel({
    ir_version: 8,
    opset_import: [{ domain: '', version: 17 }],
    producer_name: 'pytorch',
    producer_version: '2.1.0',
    graph: {
      name: 'main_graph',
      node: nodes,
      initializer: [...inits, ...shapeInit],
      input: [info('input', [batch, 3, 12, 12]), ...asInputs],
      output: [info('output', [batch, 5])],
      value_info: [
        info('/conv1/Conv_output_0', [batch, 6, 12, 12]),
        info('/relu/Relu_output_0', [batch, 6, 12, 12]),
        info('/pool/MaxPool_output_0', [batch, 6, 6, 6]),
        info('/conv2/Conv_output_0', [batch, 8, 4, 4]),
        info('/avgpool/GlobalAveragePool_output_0', [batch, 8, 1, 1]),
        info(flatName, [batch, 8]),
      ],
    },
  });
}
