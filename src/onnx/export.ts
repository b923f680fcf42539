/**
 * `exportOnnx`: a Striate model, its parameters and its batch-norm
 * statistics as an ONNX model (opset 13), for ONNX Runtime, TensorRT,
 * OpenVINO and the other engines that read ONNX.
 *
 * What is exported is the model's inference graph, as `buildModel` makes it,
 * not its layer description. Why the graph: it is what Striate runs, so the
 * file computes exactly what `predict` computes; every attribute is already
 * resolved there to integers (a 'same' padding split into its four sides, a
 * ceil-rounded pooling's extra cells), which is what ONNX wants; and a model
 * with layers written as plain functions exports too, as long as its ops
 * have an ONNX form. The layer names are not lost: each node is named after
 * the layer whose output it computes (`conv1`, `relu2`, `stage1.block1.bn1`).
 * The composite builders (batch norm, LRN, global average pooling) are found
 * in the graph and written as their one ONNX op (composites.ts).
 *
 * The batch dimension is symbolic (`N`) by default, so the file serves any
 * batch size; Striate builds the graph for one example to write it, and
 * refuses, naming the node, an op that would mix examples (a reshape, slice,
 * pad, concat, transpose, softmax or reduction across the batch axis), for
 * which `batchSize` gives a file of one fixed batch size instead.
 *
 * Every op of the inference graph is in one typed table below (`RULES`), a
 * mapped type over Striate's op names: an op added to Striate without an
 * entry here does not compile. Ops of training graphs only (gradients,
 * losses) are refused with the node's name.
 */
import { checkOptions, describeValue, fail, showValue } from '../graph/error.js';
import { type Shape, type Tensor, sizeOf, topologicalOrder } from '../graph/tensor.js';
import type { OpName } from '../ops/attrs.js';
import { checkInputName } from '../ops/input.js';
import { buildModel, type BuiltModel, checkModel, type Model } from '../nn/model.js';
import type { Params } from '../nn/params.js';
import { checkParams } from '../nn/predict.js';
import { checkStats } from '../train/evaluate.js';
import { type Composite, findComposite } from './composites.js';
import { AttributeType, DataType, encodeModel } from './schema.js';
import { floatTensor, int64Tensor } from './tensors.js';

/** The ONNX opset Striate writes (the default domain, `ai.onnx`). */
export const ONNX_OPSET = 13;
/** The ONNX IR version Striate writes: 7, the IR of opset 13. */
export const ONNX_IR_VERSION = 7;

/** Options of {@link exportOnnx}. */
export interface ExportOnnxOptions {
  /**
   * `'dynamic'` (the default): the batch dimension of the input and output
   * is the symbol `N`, so the file runs on any batch size; a positive integer:
   * that fixed batch size (needed only by a model whose ops mix the examples
   * of a batch, which the dynamic export refuses).
   */
  batchSize?: number | 'dynamic';
  /** Name of the graph's input (default 'x'). */
  inputName?: string;
  /** Name of the graph's output (default 'logits'). */
  outputName?: string;
  /** The model's `doc_string` (default: none). */
  docString?: string;
}

// ---------------------------------------------------------------------------
// Attributes and the graph being written

type Attribute = { name: string; type: number; i?: number; f?: number; ints?: number[]; floats?: number[]; t?: object; s?: Uint8Array };

const attrInt = (name: string, i: number): Attribute => ({ name, type: AttributeType.INT, i });
const attrInts = (name: string, ints: readonly number[]): Attribute => ({ name, type: AttributeType.INTS, ints: [...ints] });
const attrFloat = (name: string, f: number): Attribute => ({ name, type: AttributeType.FLOAT, f });

interface NodeOut {
  name: string;
  op_type: string;
  input: string[];
  output: string[];
  attribute: Attribute[];
}

/** What a rule of `RULES` uses to write the ONNX form of one Striate node. */
interface Emitter {
  /** The ONNX value name of a tensor already written (an input of the node being written). */
  value(t: Tensor): string;
  /** Write an intermediate ONNX node of the node being written; its output's name. */
  emit(opType: string, inputs: readonly string[], attrs?: readonly Attribute[]): string;
  /** Write the ONNX node that computes the Striate node itself (the last one a rule writes). */
  out(opType: string, inputs: readonly string[], attrs?: readonly Attribute[]): void;
  /** A Constant node of int64 values (shapes, axes, pads); its output's name. */
  ints(values: readonly number[], dims?: readonly number[]): string;
  /** A Constant node holding one float32 scalar; its output's name. */
  scalar(v: number): string;
  /** Refuse, in a dynamic-batch export, an op on a tensor carrying the batch when `mixes` says it would mix examples. */
  batchGuard(input: Tensor, mixes: boolean, what: string): void;
  /** True when exporting with a symbolic batch and `t` depends on the model's input. */
  batched(t: Tensor): boolean;
}

/** How one Striate op is written: ONNX nodes, the same value as its first input, or refused with a reason. */
type Rule<O extends OpName> = { readonly write: (node: Tensor<O>, e: Emitter) => void } | { readonly alias: true } | { readonly refuse: string };

const TRAINING_ONLY = 'is an op of training graphs (a gradient or a loss), which has no place in an exported inference model';

const unary =
  (opType: string) =>
  (node: Tensor, e: Emitter): void =>
    e.out(opType, [e.value(node.inputs[0])]);
const binary =
  (opType: string) =>
  (node: Tensor, e: Emitter): void =>
    e.out(opType, [e.value(node.inputs[0]), e.value(node.inputs[1])]);

/** ONNX pads order for 2-D windows: [top, left, bottom, right] (x1_begin, x2_begin, x1_end, x2_end). */
const onnxPads = (t: number, b: number, l: number, r: number): number[] => [t, l, b, r];

function conv(node: Tensor<'conv2d'>, e: Emitter, final: boolean): string {
  const a = node.attrs;
  const [, , kH, kW] = node.inputs[1].shape;
  const inputs = node.inputs.map((t) => e.value(t));
  const attrs = [
    attrInts('kernel_shape', [kH, kW]),
    attrInts('strides', a.stride),
    attrInts('pads', onnxPads(...a.pads)),
    attrInts('dilations', a.dilation),
    attrInt('group', a.groups),
  ];
  if (a.relu) {
    const c = e.emit('Conv', inputs, attrs);
    return final ? (e.out('Relu', [c]), '') : e.emit('Relu', [c]);
  }
  return final ? (e.out('Conv', inputs, attrs), '') : e.emit('Conv', inputs, attrs);
}

/** MaxPool of `input` with pool attributes `a`; `final` writes it as the node's own output. */
function maxPool(a: Tensor<'maxPool2d'>['attrs'], input: string, e: Emitter, final: boolean): void {
  const [t, b, l, r] = a.pads;
  const [cb, cr] = a.ceilPads ?? [0, 0];
  const [dh, dw] = a.dilation ?? [1, 1];
  // Ceil rounding's extra cells act as padding for a maximum (never chosen),
  // so they are written as padding and the output size is then exactly
  // floor-rounded. ONNX wants each pad smaller than the window, and the sum
  // is: bottom + extra = (out − 1)·s + span − H − top, and the last window
  // starts inside the input, (out − 1)·s < H + top, so the sum is < span.
  const attrs = [
    attrInts('kernel_shape', a.size),
    attrInts('strides', a.stride),
    attrInts('pads', onnxPads(t, b + cb, l, r + cr)),
    ...(dh !== 1 || dw !== 1 ? [attrInts('dilations', [dh, dw])] : []),
  ];
  if (final) e.out('MaxPool', [input], attrs);
  else e.emit('MaxPool', [input], attrs);
}

function reshapeRule(node: Tensor<'reshape'>, e: Emitter): void {
  const x = node.inputs[0];
  const to = node.attrs.shape;
  if (x.rank >= 1 && to.length === 2 && to[0] === x.shape[0] && to[1] === sizeOf(x.shape.slice(1))) {
    e.out('Flatten', [e.value(x)], [attrInt('axis', 1)]);
    return;
  }
  if (e.batched(x)) {
    // The batch axis must stay the first and unchanged: written as 0, "copy the input's".
    e.batchGuard(x, !(to.length >= 1 && to[0] === x.shape[0]), 'reshape changing the batch axis');
    e.out('Reshape', [e.value(x), e.ints([0, ...to.slice(1)])]);
    return;
  }
  e.out('Reshape', [e.value(x), e.ints(to)]);
}

/** Output axis `a` of `x` in ONNX: the same, with its size checked against the batch rule. */
function reduce(node: Tensor<'sum'> | Tensor<'max'>, e: Emitter, opType: string): void {
  const x = node.inputs[0];
  const { axes, keepDims } = node.attrs;
  e.batchGuard(x, axes.includes(0), `${node.op} over the batch axis`);
  const keep = attrInt('keepdims', keepDims ? 1 : 0);
  if (opType === 'ReduceSum') e.out(opType, [e.value(x), e.ints(axes)], [keep]);
  else e.out(opType, [e.value(x)], [attrInts('axes', axes), keep]);
}

function matmulRule(node: Tensor<'matmul'>, e: Emitter): void {
  const { transposeA, transposeB, hasBias, relu } = node.attrs;
  const inputs = node.inputs.map((t) => e.value(t));
  const flags = [...(transposeA ? [attrInt('transA', 1)] : []), ...(transposeB ? [attrInt('transB', 1)] : [])];
  const opType = hasBias || transposeA || transposeB ? 'Gemm' : 'MatMul';
  if (relu) e.out('Relu', [e.emit(opType, inputs, opType === 'Gemm' ? flags : [])]);
  else e.out(opType, inputs, opType === 'Gemm' ? flags : []);
}

/** One rule per op of Striate; a missing entry is a compile error. */
const RULES: { readonly [O in OpName]: Rule<O> } = {
  input: { refuse: 'is written by the exporter itself' },
  constant: { refuse: 'is written by the exporter itself' },
  add: { write: binary('Add') },
  sub: { write: binary('Sub') },
  mul: { write: binary('Mul') },
  div: { write: binary('Div') },
  neg: { write: unary('Neg') },
  exp: { write: unary('Exp') },
  log: { write: unary('Log') },
  sqrt: { write: unary('Sqrt') },
  relu: { write: unary('Relu') },
  sigmoid: { write: unary('Sigmoid') },
  tanh: { write: unary('Tanh') },
  leakyRelu: { write: (node, e) => e.out('LeakyRelu', [e.value(node.inputs[0])], [attrFloat('alpha', node.attrs.alpha)]) },
  elu: { write: (node, e) => e.out('Elu', [e.value(node.inputs[0])], [attrFloat('alpha', node.attrs.alpha)]) },
  // Clip-13 takes its bounds as inputs.
  relu6: { write: (node, e) => e.out('Clip', [e.value(node.inputs[0]), e.scalar(0), e.scalar(6)]) },
  pow: { write: (node, e) => e.out('Pow', [e.value(node.inputs[0]), e.scalar(node.attrs.exponent)]) },
  reshape: { write: reshapeRule },
  broadcastTo: {
    write: (node, e) => {
      const x = node.inputs[0];
      const to = node.attrs.shape;
      // Expand broadcasts like numpy; in a dynamic export the batch axis is written as 1 (keep the input's).
      if (e.batched(x)) {
        e.batchGuard(x, x.rank !== to.length || x.shape[0] !== to[0], 'broadcastTo along the batch axis');
        e.out('Expand', [e.value(x), e.ints([1, ...to.slice(1)])]);
      } else {
        e.out('Expand', [e.value(x), e.ints(to)]);
      }
    },
  },
  transpose: {
    write: (node, e) => {
      e.batchGuard(node.inputs[0], node.attrs.perm[0] !== 0, 'transpose moving the batch axis');
      e.out('Transpose', [e.value(node.inputs[0])], [attrInts('perm', node.attrs.perm)]);
    },
  },
  pad: {
    write: (node, e) => {
      const { pads, value } = node.attrs;
      e.batchGuard(node.inputs[0], pads[0][0] !== 0 || pads[0][1] !== 0, 'pad along the batch axis');
      e.out('Pad', [e.value(node.inputs[0]), e.ints([...pads.map((p) => p[0]), ...pads.map((p) => p[1])]), e.scalar(value)], []);
    },
  },
  slice: {
    write: (node, e) => {
      const x = node.inputs[0];
      const { begin, size } = node.attrs;
      e.batchGuard(x, begin[0] !== 0 || size[0] !== x.shape[0], 'slice along the batch axis');
      const axes = begin.map((_, i) => i);
      const ends = begin.map((b, i) => (i === 0 && e.batched(x) ? Number.MAX_SAFE_INTEGER : b + size[i]));
      e.out('Slice', [e.value(x), e.ints(begin), e.ints(ends), e.ints(axes)]);
    },
  },
  concat: {
    write: (node, e) => {
      node.inputs.forEach((t) => e.batchGuard(t, node.attrs.axis === 0, 'concat along the batch axis'));
      e.out('Concat', node.inputs.map((t) => e.value(t)), [attrInt('axis', node.attrs.axis)]);
    },
  },
  sum: { write: (node, e) => reduce(node, e, 'ReduceSum') },
  max: { write: (node, e) => reduce(node, e, 'ReduceMax') },
  matmul: { write: matmulRule },
  batchMatmul: {
    write: (node, e) => {
      const [a, b] = node.inputs;
      const swap = (t: Tensor, flag: boolean): string => (flag ? e.emit('Transpose', [e.value(t)], [attrInts('perm', [0, 2, 1])]) : e.value(t));
      e.batchGuard(a, true, 'a batched matrix product of the model input');
      e.out('MatMul', [swap(a, node.attrs.transposeA), swap(b, node.attrs.transposeB)]);
    },
  },
  softmax: {
    write: (node, e) => {
      e.batchGuard(node.inputs[0], node.attrs.axis === 0, 'softmax over the batch axis');
      e.out('Softmax', [e.value(node.inputs[0])], [attrInt('axis', node.attrs.axis)]);
    },
  },
  logSoftmax: {
    write: (node, e) => {
      e.batchGuard(node.inputs[0], node.attrs.axis === 0, 'log-softmax over the batch axis');
      e.out('LogSoftmax', [e.value(node.inputs[0])], [attrInt('axis', node.attrs.axis)]);
    },
  },
  conv2d: { write: (node, e) => void conv(node, e, true) },
  conv2dMaxPool: {
    write: (node, e) => {
      // Rebuilt as the convolution and then the pooling it fused.
      const c = { ...node, attrs: node.attrs.conv } as unknown as Tensor<'conv2d'>;
      maxPool(node.attrs.pool as Tensor<'maxPool2d'>['attrs'], conv(c, e, false), e, true);
    },
  },
  maxPool2d: { write: (node, e) => maxPool(node.attrs, e.value(node.inputs[0]), e, true) },
  avgPool2d: {
    write: (node, e) => {
      const a = node.attrs;
      const [dh, dw] = a.dilation ?? [1, 1];
      if (dh !== 1 || dw !== 1) {
        fail('exportOnnx', `node ${showValue('avgPool2d')} has dilation [${dh}, ${dw}]; ONNX's AveragePool has no dilation before opset 19 (Striate writes 13)`, `dilation [${dh}, ${dw}]`, 'dilation [1, 1]');
      }
      const [t, b, l, r] = a.pads;
      const [cb, cr] = a.ceilPads ?? [0, 0];
      const window = [attrInts('kernel_shape', a.size), attrInts('strides', a.stride)];
      const x = e.value(node.inputs[0]);
      if (!a.countIncludePad || (cb === 0 && cr === 0)) {
        // Excluded from the mean, ceil rounding's cells are padding like the others.
        e.out('AveragePool', [x], [...window, attrInts('pads', onnxPads(t, b + cb, l, r + cr)), attrInt('count_include_pad', a.countIncludePad ? 1 : 0)]);
        return;
      }
      // Counted padding but uncounted ceil cells (PyTorch's rule): the padding
      // becomes real zeros, and the ceil cells padding that is not counted.
      const padded = e.emit('Pad', [x, e.ints([0, 0, t, l, 0, 0, b, r]), e.scalar(0)]);
      e.out('AveragePool', [padded], [...window, attrInts('pads', onnxPads(0, cb, 0, cr)), attrInt('count_include_pad', 0)]);
    },
  },
  after: { alias: true },
  checkpoint: { alias: true },
  customVjp: { alias: true },
  reluBackward: { refuse: TRAINING_ONLY },
  step: { refuse: "is the derivative of relu, which only gradients use; it has no ONNX form in Striate's export" },
  maxMask: { refuse: TRAINING_ONLY },
  oneHot: { refuse: TRAINING_ONLY },
  softmaxCrossEntropy: { refuse: TRAINING_ONLY },
  softmaxCrossEntropyBackward: { refuse: TRAINING_ONLY },
  conv2dBackpropInput: { refuse: TRAINING_ONLY },
  conv2dBackpropFilter: { refuse: TRAINING_ONLY },
  maxPool2dBackward: { refuse: TRAINING_ONLY },
  maxPool2dSelect: { refuse: TRAINING_ONLY },
  avgPool2dBackward: { refuse: TRAINING_ONLY },
};

function writeComposite(c: Composite, e: Emitter): void {
  switch (c.kind) {
    case 'batchNorm':
      e.out('BatchNormalization', c.deps.map((t) => e.value(t)), [attrFloat('epsilon', c.epsilon)]);
      return;
    case 'lrn':
      e.out('LRN', [e.value(c.deps[0])], [attrInt('size', c.size), attrFloat('alpha', c.alpha), attrFloat('beta', c.beta), attrFloat('bias', c.k)]);
      return;
    case 'globalAvgPool':
      // ONNX keeps the two pooled axes ([N, C, 1, 1]); Striate's result is [N, C].
      e.out('Flatten', [e.emit('GlobalAveragePool', [e.value(c.deps[0])])], [attrInt('axis', 1)]);
      return;
  }
}

// ---------------------------------------------------------------------------

type Plan =
  | { readonly kind: 'alias'; readonly of: Tensor }
  | { readonly kind: 'composite'; readonly composite: Composite }
  | { readonly kind: 'gemm'; readonly deps: readonly [Tensor, Tensor, Tensor]; readonly matmul: Tensor<'matmul'> }
  | { readonly kind: 'op' };

/**
 * A dense layer's add(matmul(a, w), b), b a vector [units] and the product
 * used by nothing else: one Gemm, as other exporters write a linear layer.
 */
function gemmOf(t: Tensor, uses: ReadonlyMap<Tensor, number>): Plan | null {
  if (t.op !== 'add') return null;
  const [m, b] = t.inputs;
  if (m.op !== 'matmul' || uses.get(m) !== 1 || b.rank !== 1 || b.shape[0] !== t.shape[1] || t.rank !== 2) return null;
  const mm = m as Tensor<'matmul'>;
  if (mm.attrs.hasBias || mm.attrs.relu) return null;
  return { kind: 'gemm', deps: [mm.inputs[0], mm.inputs[1], b], matmul: mm };
}

/**
 * Refuse a model whose graph depends on the batch size beyond the batch axis
 * itself (a reshape to [1, N·K], a constant 1/N): built for 2 and for 3
 * examples, its graphs must agree node for node, except that a tensor
 * carrying the batch has 2 rows in one and 3 in the other.
 */
function checkBatchFree(who: string, model: Model, inputName: string): void {
  const [two, three] = [2, 3].map((batchSize) => buildModel(model, { batchSize, inputName }));
  const [a, b] = [topologicalOrder([two.output]), topologicalOrder([three.output])];
  const names = new Map<Tensor, string>();
  two.layerOutputs.forEach((t, i) => names.has(t) || names.set(t, two.layers[i].name));
  // A shape with its batch rows named, and the attributes that hold shapes (reshape, broadcastTo, slice) likewise.
  const rows = (shape: readonly number[] | undefined, batch: number): unknown[] | undefined => (shape && shape[0] === batch ? ['N', ...shape.slice(1)] : shape?.slice());
  const carriers = (built: BuiltModel, order: readonly Tensor[]): Set<Tensor> => {
    const set = new Set<Tensor>();
    for (const t of order) if (t === built.input || t.inputs.some((i) => set.has(i))) set.add(t);
    return set;
  };
  const [batchedA, batchedB] = [carriers(two, a), carriers(three, b)];
  const key = (t: Tensor, batch: number, batched: Set<Tensor>): string => {
    if (!batched.has(t)) return JSON.stringify([t.op, t.inputs.length, t.shape, t.attrs]);
    const attrs = { ...(t.attrs as Record<string, unknown>) };
    if (t.op === 'reshape' || t.op === 'broadcastTo') attrs.shape = rows(attrs.shape as number[], batch);
    if (t.op === 'slice') attrs.size = rows(attrs.size as number[], batch);
    return JSON.stringify([t.op, t.inputs.length, rows(t.shape, batch), attrs]);
  };
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const [s, t] = [a[i], b[i]];
    if (s !== undefined && t !== undefined && key(s, 2, batchedA) === key(t, 3, batchedB)) continue;
    const where = s === undefined ? 'a node' : `node "${names.get(s) ?? `${s.op}_${i}`}" (${s.op})`;
    fail(
      who,
      `model "${model.name}" builds a different graph for 2 and for 3 examples at ${where}: its ops mix the examples of a batch, which a file with a symbolic batch size cannot express; export with a fixed batchSize (e.g. { batchSize: 1 })`,
      `a graph that depends on the batch size at ${where}`,
      'a model that treats the examples of a batch separately, or a fixed batchSize',
    );
  }
}

function checkName(who: string, what: string, v: unknown, fallback: string): string {
  if (v === undefined) return fallback;
  if (typeof v !== 'string') fail(who, `${what} must be a string, got ${describeValue(v)}`, `${what} ${describeValue(v)}`, 'a name (a string)');
  try {
    checkInputName(v);
  } catch {
    fail(who, `${what} must start with a letter or _ and hold only letters, digits and _ . : / -, got ${JSON.stringify(v)}`, `${what} ${JSON.stringify(v)}`, 'a simple name such as "x"');
  }
  return v;
}

/**
 * The ONNX model (opset 13) of `model` with the values of `params` and, for
 * a model with batch normalisation, `stats` (a `TrainState`'s `stats`: the
 * running means and variances, written as BatchNormalization's inputs): the
 * bytes of a `.onnx` file. The graph is the inference graph (dropout is the
 * identity, batch norm uses the statistics). Parameters become initializers
 * under their Striate names (`conv1.w`, `fc1.b`), nodes are named after
 * their layers, the input is `x` `[N, ...inputShape]` and the output
 * `logits`, with a symbolic batch `N` unless `options.batchSize` fixes it.
 *
 * ```ts
 * const bytes = exportOnnx(lenet5(), state.params);          // a Uint8Array
 * const session = await ort.InferenceSession.create(bytes);  // onnxruntime-node or -web
 * const { logits } = await session.run({ x: new ort.Tensor('float32', images, [n, 1, 28, 28]) });
 * ```
 *
 * Ops written: Conv, MaxPool, AveragePool, GlobalAveragePool, BatchNormalization,
 * LRN, Gemm, MatMul, Add, Sub, Mul, Div, Relu, LeakyRelu, Elu, Clip (relu6),
 * Sigmoid, Tanh, Exp, Log, Sqrt, Neg, Pow, Softmax, LogSoftmax, Concat, Flatten,
 * Reshape, Transpose, Expand, Pad, Slice, ReduceSum, ReduceMax, Constant.
 * Throws a StriateError naming the node for an op with no ONNX form (the
 * ops of gradients and losses), for parameters or statistics that are
 * missing or of the wrong shape, and for bad options.
 */
export function exportOnnx(model: Model, params: Params, stats?: Params, options: ExportOnnxOptions = {}): Uint8Array {
  const who = 'exportOnnx';
  checkModel(who, model);
  checkOptions(who, options, ['batchSize', 'inputName', 'outputName', 'docString']);
  const batchOption = options.batchSize ?? 'dynamic';
  if (batchOption !== 'dynamic' && !(Number.isSafeInteger(batchOption) && (batchOption as number) >= 1)) {
    fail(who, `batchSize must be 'dynamic' or a positive integer, got ${showValue(batchOption)}`, `batchSize ${showValue(batchOption)}`, "'dynamic' or a positive integer");
  }
  const dynamic = batchOption === 'dynamic';
  const inputName = checkName(who, 'inputName', options.inputName, 'x');
  const outputName = checkName(who, 'outputName', options.outputName, 'logits');
  if (outputName === inputName) fail(who, `inputName and outputName are both "${inputName}"`, `both "${inputName}"`, 'two different names');
  if (options.docString !== undefined && typeof options.docString !== 'string') {
    fail(who, `docString must be a string, got ${describeValue(options.docString)}`, `docString ${describeValue(options.docString)}`, 'a string');
  }
  const built = buildModel(model, { batchSize: dynamic ? 1 : (batchOption as number), inputName });
  if (dynamic) checkBatchFree(who, model, inputName);
  checkParams(who, model, built, params);
  if (built.stats.length > 0) {
    if (stats === undefined) {
      const names = built.stats.map((s) => `"${s.name}"`).join(', ');
      fail(
        who,
        `model "${model.name}" reads the statistics ${names} (batch-norm running averages); give them as the third argument (a TrainState's stats, or initStats(model))`,
        'no stats',
        `stats with ${names}`,
      );
    }
    checkStats(who, 'stats', stats, built.stats);
  }
  const values: Record<string, { shape: Shape; data: unknown }> = { ...(stats ?? {}), ...params };
  const reserved = new Set<string>([inputName, outputName, ...built.params.map((p) => p.name), ...built.stats.map((s) => s.name)]);
  if (reserved.size < 2 + built.params.length + built.stats.length) {
    fail(who, `a parameter or statistic of model "${model.name}" is named "${outputName}", the output's name; give another outputName`, `a parameter named "${outputName}"`, 'an outputName no parameter has');
  }

  // Layer names for the nodes: the first layer whose output a tensor is.
  const layerNames = new Map<Tensor, string>();
  built.layerOutputs.forEach((t, i) => {
    if (!layerNames.has(t)) layerNames.set(t, built.layers[i].name);
  });

  // How often each tensor is read, in the forward graph.
  const forward = topologicalOrder([built.output]);
  const uses = new Map<Tensor, number>();
  for (const t of forward) for (const i of t.inputs) uses.set(i, (uses.get(i) ?? 0) + 1);

  // What each tensor becomes: an alias of another, a composite, a Gemm, or its own op.
  const plans = new Map<Tensor, Plan>();
  const planOf = (t: Tensor): Plan => {
    let p = plans.get(t);
    if (p === undefined) {
      const rule = RULES[t.op] as Rule<OpName>;
      const composite = 'write' in rule ? findComposite(t) : null;
      p = 'alias' in rule ? { kind: 'alias', of: t.inputs[0] } : composite ? { kind: 'composite', composite } : (gemmOf(t, uses) ?? { kind: 'op' });
      plans.set(t, p);
    }
    return p;
  };
  const depsOf = (t: Tensor): readonly Tensor[] => {
    const p = planOf(t);
    return p.kind === 'alias' ? [p.of] : p.kind === 'composite' ? p.composite.deps : p.kind === 'gemm' ? p.deps : t.inputs;
  };

  // Post-order over the plan's dependencies (iterative: deep ResNets).
  const order: Tensor[] = [];
  const state = new Map<Tensor, 'open' | 'done'>();
  const stack: [Tensor, number][] = [[built.output, 0]];
  state.set(built.output, 'open');
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const deps = depsOf(top[0]);
    if (top[1] < deps.length) {
      const d = deps[top[1]++];
      if (!state.has(d)) {
        state.set(d, 'open');
        stack.push([d, 0]);
      }
    } else {
      stack.pop();
      state.set(top[0], 'done');
      order.push(top[0]);
    }
  }

  // Which tensors carry the batch: those that depend on the model's input.
  const batchedSet = new Set<Tensor>();
  for (const t of forward) {
    if (t === built.input || t.inputs.some((i) => batchedSet.has(i))) batchedSet.add(t);
  }

  let output = built.output;
  for (let p = planOf(output); p.kind === 'alias'; p = planOf(output)) output = p.of;

  const nodes: NodeOut[] = [];
  const initializers: object[] = [];
  const names = new Map<Tensor, string>();
  const taken = new Set<string>(reserved);
  let counter = 0;
  const fresh = (base: string): string => {
    let name = base;
    for (let k = 2; taken.has(name); k++) name = `${base}_${k}`;
    taken.add(name);
    return name;
  };
  let current: { node: Tensor; base: string; parts: number } | null = null;

  const e: Emitter = {
    value(t) {
      const name = names.get(t);
      if (name === undefined) throw new Error(`exportOnnx: tensor %${t.id} (${t.op}) used before it was written (a bug in Striate)`);
      return name;
    },
    emit(opType, inputs, attrs = []) {
      const name = fresh(`${current!.base}_${current!.parts++}`);
      nodes.push({ name, op_type: opType, input: [...inputs], output: [name], attribute: [...attrs] });
      return name;
    },
    out(opType, inputs, attrs = []) {
      const node = current!.node;
      const valueName = node === output ? outputName : current!.base;
      nodes.push({ name: current!.base, op_type: opType, input: [...inputs], output: [valueName], attribute: [...attrs] });
      names.set(node, valueName);
    },
    ints(values, dims = [values.length]) {
      const name = fresh(`const_${counter++}`);
      nodes.push({ name, op_type: 'Constant', input: [], output: [name], attribute: [{ name: 'value', type: AttributeType.TENSOR, t: int64Tensor('', dims, values) }] });
      return name;
    },
    scalar(v) {
      const name = fresh(`const_${counter++}`);
      nodes.push({ name, op_type: 'Constant', input: [], output: [name], attribute: [{ name: 'value', type: AttributeType.TENSOR, t: floatTensor('', [], [v]) }] });
      return name;
    },
    batched: (t) => dynamic && batchedSet.has(t),
    batchGuard(input, mixes, what) {
      if (dynamic && mixes && batchedSet.has(input)) {
        fail(
          who,
          `node "${current!.base}" (${current!.node.op}) is a ${what}, which a file with a symbolic batch size cannot express; export with a fixed batchSize (e.g. { batchSize: 1 })`,
          `${what} in node "${current!.base}"`,
          'ops that treat the examples of a batch separately, or a fixed batchSize',
        );
      }
    },
  };

  for (const t of order) {
    if (t.op === 'input') {
      const name = (t as Tensor<'input'>).attrs.name;
      names.set(t, name);
      if (t === built.input) continue;
      const v = values[name];
      if (!(v?.data instanceof Float32Array) || v.data.length !== sizeOf(t.shape)) {
        fail(who, `"${name}" must hold a Float32Array of ${sizeOf(t.shape)} values, got ${describeValue(v?.data)}`, `"${name}" data ${describeValue(v?.data)}`, `a Float32Array(${sizeOf(t.shape)})`);
      }
      if (!v.data.every(Number.isFinite)) fail(who, `"${name}" holds a value that is not finite`, `"${name}" with NaN or Infinity`, 'finite values');
      initializers.push(floatTensor(name, t.shape, v.data));
      continue;
    }
    const plan = planOf(t);
    if (plan.kind === 'alias') {
      names.set(t, e.value(plan.of));
      continue;
    }
    // The counter moves for every node, named or not, so that a model imported
    // from this file (whose nodes all have names then) numbers its constants the same.
    const base = fresh(layerNames.get(t) ?? `${t.op}_${counter}`);
    counter++;
    current = { node: t, base, parts: 0 };
    if (t.op === 'constant') {
      const valueName = t === output ? outputName : base;
      nodes.push({ name: base, op_type: 'Constant', input: [], output: [valueName], attribute: [{ name: 'value', type: AttributeType.TENSOR, t: floatTensor('', t.shape, (t as Tensor<'constant'>).attrs.value) }] });
      names.set(t, valueName);
    } else if (plan.kind === 'composite') {
      writeComposite(plan.composite, e);
    } else if (plan.kind === 'gemm') {
      const { transposeA, transposeB } = plan.matmul.attrs;
      e.out('Gemm', plan.deps.map((d) => e.value(d)), [...(transposeA ? [attrInt('transA', 1)] : []), ...(transposeB ? [attrInt('transB', 1)] : [])]);
    } else {
      const rule = RULES[t.op] as Rule<OpName>;
      if ('refuse' in rule) {
        fail(who, `node "${base}" (${t.op}) ${rule.refuse}`, `op ${t.op} in node "${base}"`, 'ops of an inference graph');
      }
      (rule as { write: (n: Tensor, e: Emitter) => void }).write(t, e);
    }
    current = null;
  }
  // A model whose output is its input or a parameter still needs a node making the output.
  if (names.get(output) !== outputName) {
    nodes.push({ name: fresh('output'), op_type: 'Identity', input: [e.value(output)], output: [outputName], attribute: [] });
  }

  const dims = (t: Tensor): object[] => t.shape.map((d, i) => (i === 0 && dynamic && batchedSet.has(t) ? { dim_param: 'N' } : { dim_value: d }));
  const valueInfo = (name: string, t: Tensor): object => ({ name, type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: dims(t) } } } });
  return encodeModel({
    ir_version: ONNX_IR_VERSION,
    opset_import: [{ domain: '', version: ONNX_OPSET }],
    producer_name: 'striate',
    ...(options.docString !== undefined ? { doc_string: options.docString } : {}),
    graph: {
      name: model.name,
      node: nodes,
      initializer: initializers,
      input: [valueInfo(inputName, built.input)],
      output: [valueInfo(outputName, output)],
    },
  });
}
