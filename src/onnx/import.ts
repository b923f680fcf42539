/**
 * `importOnnx`: an ONNX convolutional network as a Striate model and its
 * parameter record, to run, fine-tune with `train` and export again.
 *
 * A file is untrusted input, read in two stages. Parsing (at import) checks
 * everything that does not depend on the batch: the opset, that every node
 * is an op and domain Striate supports, every attribute's name, type and
 * value (unknown attributes and unsupported values are refused, naming the
 * node and the attribute), that nodes come in topological order, that every
 * tensor's data agrees with its dimensions. Each node becomes a closure that
 * calls Striate's op builders with the checked integers and finite numbers;
 * strings from the file are only ever compared against fixed values
 * (`auto_pad`, `mode`), never passed on, and names become graph input names
 * only after being reduced to Striate's name alphabet. Building (when the
 * model is built, for any batch size) resolves what needs the input's shape
 * (`auto_pad`, Reshape's 0 and -1); a shape mismatch is a StriateError naming
 * the node. The model is built once at import, so such errors surface there.
 *
 * Float initializers become parameters (trainable: `train` updates them)
 * under their ONNX names (`conv1.weight`), except BatchNormalization's mean
 * and variance, which become statistics (a `TrainState`'s `stats`, updated by
 * the training graph as nn.batchNorm's are); integer initializers and
 * Constant nodes feed shapes, axes and bounds. Dropout is the identity at
 * inference and drops units in training, as nn.dropout does.
 */
import { checkOptions, describeValue, fail, StriateError } from '../graph/error.js';
import { type Shape, type Tensor, sizeOf } from '../graph/tensor.js';
import { add } from '../ops/add.js';
import { avgPool2d } from '../ops/avgPool2d.js';
import { batchNormInference, batchNormTraining } from '../ops/batchNorm.js';
import { concat } from '../ops/concat.js';
import { constant } from '../ops/constant.js';
import { conv2d } from '../ops/conv2d.js';
import { div } from '../ops/div.js';
import { elu } from '../ops/elu.js';
import { exp } from '../ops/exp.js';
import { globalAvgPool2d } from '../ops/globalPool.js';
import { checkInputName } from '../ops/input.js';
import { leakyRelu } from '../ops/leakyRelu.js';
import { log } from '../ops/log.js';
import { logSoftmax } from '../ops/logSoftmax.js';
import { localResponseNorm } from '../ops/lrn.js';
import { matmul } from '../ops/matmul.js';
import { max } from '../ops/max.js';
import { maxPool2d } from '../ops/maxPool2d.js';
import { mul } from '../ops/mul.js';
import { neg } from '../ops/neg.js';
import { pad } from '../ops/pad.js';
import { pow } from '../ops/pow.js';
import { relu } from '../ops/relu.js';
import { relu6 } from '../ops/relu6.js';
import { flatten, reshape } from '../ops/reshape.js';
import { sigmoid } from '../ops/sigmoid.js';
import { slice } from '../ops/slice.js';
import { broadcastTo } from '../ops/broadcastTo.js';
import { softmax } from '../ops/softmax.js';
import { sqrt } from '../ops/sqrt.js';
import { sub } from '../ops/sub.js';
import { mean, sum } from '../ops/sum.js';
import { tanh } from '../ops/tanh.js';
import { transpose } from '../ops/transpose.js';
import type { Pair } from '../ops/attrs.js';
import type { Layer, LayerContext } from '../nn/context.js';
import { buildModel, defineModel, type Model } from '../nn/model.js';
import { type Params, tensorValue } from '../nn/params.js';
import { AttributeType, type AttributeMessage, decodeModel, type NodeMessage, type TensorMessage } from './schema.js';
import { int64Value, readTensor, type TensorData } from './tensors.js';

/** The opsets of the default domain Striate reads. */
export const ONNX_IMPORT_OPSETS = {
  /** The oldest default-domain opset read. */
  min: 11,
  /** The newest default-domain opset read. */
  max: 22,
} as const;

/** Options of {@link importOnnx}. */
export interface ImportOnnxOptions {
  /** The model's name (default: the graph's name, else 'onnx-model'). */
  name?: string;
  /**
   * The shape of one example, `[C, H, W]` without the batch dimension, for a
   * file whose input declares symbolic dimensions beyond the batch (default:
   * the file's input shape without its first dimension).
   */
  inputShape?: Shape;
}

/** What {@link importOnnx} returns. */
export interface ImportedOnnx {
  /** The network as a Striate model (its layers are the file's nodes, named after them). */
  readonly model: Model;
  /** The trainable initializers, by Striate name (see `names`). */
  readonly params: Params;
  /** BatchNormalization's running means and variances, by Striate name: a `TrainState`'s `stats`. */
  readonly stats: Params;
  /** The Striate name of each float initializer, by its ONNX name (the same unless the ONNX name has other characters). */
  readonly names: Readonly<Record<string, string>>;
  /** The name of the file's graph input (Striate's model reads it as `x`). */
  readonly inputName: string;
  /** The name of the file's graph output. */
  readonly outputName: string;
  /** The opset of the default domain the file imports. */
  readonly opset: number;
  /** The tool that wrote the file ('' where the file does not say). */
  readonly producer: {
    /** The file's `producer_name`, e.g. 'pytorch'. */
    readonly name: string;
    /** The file's `producer_version`, e.g. '2.1.0'. */
    readonly version: string;
  };
}

const WHO = 'importOnnx';
/** Integers from attributes and constant inputs: at most this in magnitude (a window, a stride, an axis). */
const MAX_INT = 2 ** 31 - 1;
/** Names the model's graph reserves: its input and train's labels. */
const RESERVED = new Set(['x', 'labels']);

// ---------------------------------------------------------------------------
// Reading one node's attributes and constant inputs

type AttrType = 'int' | 'ints' | 'float' | 'floats' | 'string' | 'tensor';
const ATTR_TYPE: Record<AttrType, number> = {
  int: AttributeType.INT,
  ints: AttributeType.INTS,
  float: AttributeType.FLOAT,
  floats: AttributeType.FLOATS,
  string: AttributeType.STRING,
  tensor: AttributeType.TENSOR,
};
const TYPE_NAMES: Record<number, string> = { 0: 'UNDEFINED', 1: 'FLOAT', 2: 'INT', 3: 'STRING', 4: 'TENSOR', 5: 'GRAPH', 6: 'FLOATS', 7: 'INTS', 8: 'STRINGS', 9: 'TENSORS', 10: 'GRAPHS', 11: 'SPARSE_TENSOR', 12: 'SPARSE_TENSORS', 13: 'TYPE_PROTO', 14: 'TYPE_PROTOS' };

/** A constant value a node reads as an input (an initializer or a Constant node's output). */
type ConstantValue = { readonly tensor: TensorData; readonly where: string };

/** One node as the rules see it: its attributes, its inputs, and how to refuse. */
class NodeReader {
  private readonly attrs = new Map<string, AttributeMessage>();
  private readonly used = new Set<string>();

  constructor(
    readonly node: NodeMessage,
    readonly name: string,
    readonly opType: string,
    readonly opset: number,
    private readonly constants: ReadonlyMap<string, ConstantValue>,
  ) {
    for (const a of node.attribute) {
      const key = a.name ?? '';
      if (this.attrs.has(key)) this.refuse(`has the attribute "${key}" twice`, `attribute "${key}" twice`, 'each attribute once');
      this.attrs.set(key, a);
    }
  }

  /** Throw a StriateError naming the node. */
  refuse(message: string, got: string, expected: string): never {
    return fail(WHO, `node "${this.name}" (${this.opType}) ${message}`, got, expected);
  }

  /** Refuse an attribute's value, naming the node and the attribute. */
  badAttr(attr: string, value: unknown, expected: string): never {
    return this.refuse(`has attribute "${attr}" = ${showShort(value)}, which Striate does not support: expected ${expected}`, `${attr} ${showShort(value)}`, expected);
  }

  private get(name: string, type: AttrType): AttributeMessage | undefined {
    const a = this.attrs.get(name);
    this.used.add(name);
    if (a === undefined) return undefined;
    if (a.ref_attr_name) this.refuse(`attribute "${name}" refers to a function's attribute, which only functions may do`, `ref_attr_name "${a.ref_attr_name}"`, 'a value');
    if (a.type !== ATTR_TYPE[type]) {
      const got = TYPE_NAMES[a.type ?? 0] ?? String(a.type);
      this.refuse(`has attribute "${name}" of type ${got}, but ${this.opType}'s "${name}" is of type ${type.toUpperCase()}`, `${name} of type ${got}`, `type ${type.toUpperCase()}`);
    }
    return a;
  }

  private int64(name: string, v: string | number | undefined): number {
    const n = int64Value(v);
    if (n === null || Math.abs(n) > MAX_INT) this.badAttr(name, v, `an integer of magnitude at most ${MAX_INT}`);
    return n;
  }

  int(name: string, fallback: number): number {
    const a = this.get(name, 'int');
    return a === undefined ? fallback : this.int64(name, a.i ?? 0);
  }

  ints(name: string, fallback?: readonly number[]): readonly number[] | undefined {
    const a = this.get(name, 'ints');
    return a === undefined ? fallback : a.ints.map((v) => this.int64(name, v));
  }

  float(name: string, fallback: number): number {
    const a = this.get(name, 'float');
    if (a === undefined) return fallback;
    const f = a.f ?? 0;
    if (!Number.isFinite(f)) this.badAttr(name, f, 'a finite number');
    return f;
  }

  floats(name: string): readonly number[] | undefined {
    const a = this.get(name, 'floats');
    if (a !== undefined && !a.floats.every(Number.isFinite)) this.badAttr(name, a.floats, 'finite numbers');
    return a?.floats;
  }

  string(name: string, fallback: string): string {
    const a = this.get(name, 'string');
    if (a === undefined) return fallback;
    return new TextDecoder('utf-8', { fatal: false }).decode(a.s ?? new Uint8Array());
  }

  tensor(name: string): TensorMessage | undefined {
    return this.get(name, 'tensor')?.t;
  }

  /** Refuse every attribute no rule asked for. */
  done(): void {
    for (const key of this.attrs.keys()) {
      if (!this.used.has(key)) {
        this.refuse(
          `has attribute "${key}", which Striate does not support for ${this.opType} (opset ${this.opset})`,
          `attribute "${key}"`,
          `only the attributes of ${this.opType} Striate reads`,
        );
      }
    }
  }

  /** Whether input `i` is given (absent and '' both mean an omitted optional input). */
  has(i: number): boolean {
    return i < this.node.input.length && this.node.input[i] !== '';
  }

  /** The constant input `i` (an initializer or a Constant node's output), or refuse. */
  constant(i: number, what: string): TensorData {
    const v = this.constants.get(this.node.input[i]);
    if (v === undefined) {
      this.refuse(
        `reads its ${what} (input ${i}, "${this.node.input[i]}") from a computed value; Striate needs it constant (an initializer or a Constant node)`,
        `${what} computed by the graph`,
        `a constant ${what}`,
      );
    }
    return v.tensor;
  }

  /** Constant input `i` as integers (shapes, axes, pads), each checked. */
  constantInts(i: number, what: string): number[] {
    const t = this.constant(i, what);
    if (t.kind !== 'int') this.refuse(`reads its ${what} (input ${i}) from a float tensor; ONNX gives it as int64`, `${what} of floats`, `an int64 ${what}`);
    if (t.data.some((v) => Math.abs(v) > MAX_INT && v !== Number.MAX_SAFE_INTEGER && v !== -Number.MAX_SAFE_INTEGER)) {
      this.refuse(`has a ${what} holding an integer beyond ${MAX_INT}`, `${what} ${showShort(t.data)}`, `integers of magnitude at most ${MAX_INT}`);
    }
    return [...t.data];
  }

  /** Constant input `i` as one float (a bound, a ratio, an exponent), or `fallback` when absent. */
  constantScalar(i: number, what: string, fallback?: number): number | undefined {
    if (!this.has(i)) return fallback;
    const t = this.constant(i, what);
    if (t.data.length !== 1) this.refuse(`needs its ${what} (input ${i}) to be one number, got ${t.data.length}`, `${what} of ${t.data.length} values`, `one ${what}`);
    return t.data[0];
  }
}

function showShort(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

// ---------------------------------------------------------------------------
// The rules: one per ONNX op Striate reads

/** What a node needs when the model is built. */
interface BuildContext {
  /** The layer context (parameters, statistics, masks, training or not). */
  readonly ctx: LayerContext;
  /** The node's full name (scopes applied): for mask names. */
  readonly name: string;
  /** Input `k` of the node's data inputs, once flattened, when it is a global average pooling ([N, C] rather than [N, C, 1, 1]). */
  flat(k: number): Tensor | undefined;
  /** Whether data input `k` depends on the model's input. */
  batched(k: number): boolean;
  /** The batch size the file declares for its input (null when symbolic). */
  readonly fileBatch: number | null;
}

/** A node ready to build: which inputs are tensors, which of them are statistics, and the builder. */
interface Step {
  /** Indices of the node's inputs that are tensors, in the order `build` receives them. */
  readonly data: readonly number[];
  /** Of those, the indices (into the node's inputs) that are running statistics. */
  readonly stats?: readonly number[];
  /** The kind the summary shows (`conv2d`, `dense`, `relu`, ...). */
  readonly kind: string;
  /** The output; `flat` marks a global average pooling whose flattened form a Flatten can take as it is. */
  build(xs: readonly Tensor[], b: BuildContext): Tensor | { readonly y: Tensor; readonly flat: Tensor };
}

type ImportRule = (n: NodeReader) => Step;

function checkInts(n: NodeReader, attr: string, v: readonly number[] | undefined, length: number, min: number): number[] | undefined {
  if (v === undefined) return undefined;
  if (v.length !== length || v.some((d) => d < min)) n.badAttr(attr, v, `${length} integers >= ${min}${length === 2 || length === 4 ? ' (2-D windows only)' : ''}`);
  return [...v];
}

/** Explicit pads [top, bottom, left, right] from ONNX's `auto_pad` for input `inHW` (resolved at build). */
function autoPads(mode: string, inHW: Pair, kernel: Pair, stride: Pair, dilation: Pair): [number, number, number, number] {
  const side = (i: 0 | 1): [number, number] => {
    const span = dilation[i] * (kernel[i] - 1) + 1;
    const out = Math.ceil(inHW[i] / stride[i]);
    const total = Math.max(0, (out - 1) * stride[i] + span - inHW[i]);
    const small = Math.floor(total / 2);
    return mode === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
  };
  const [t, b] = side(0);
  const [l, r] = side(1);
  return [t, b, l, r];
}

/**
 * The window attributes of Conv, MaxPool and AveragePool, checked (2-D
 * only). `kernel_shape` is required of a pooling; a convolution may leave it
 * out (its filter has the size), and its build checks the two agree.
 */
function windowOf(n: NodeReader, needKernel: boolean, dilated: boolean) {
  const kernel = checkInts(n, 'kernel_shape', n.ints('kernel_shape'), 2, 1) as Pair | undefined;
  if (needKernel && kernel === undefined) n.refuse('has no attribute "kernel_shape"', 'no kernel_shape', 'a kernel_shape [kH, kW]');
  const stride = (checkInts(n, 'strides', n.ints('strides'), 2, 1) ?? [1, 1]) as unknown as Pair;
  const dilation = (dilated ? (checkInts(n, 'dilations', n.ints('dilations'), 2, 1) ?? [1, 1]) : [1, 1]) as unknown as Pair;
  const onnxPads = checkInts(n, 'pads', n.ints('pads'), 4, 0);
  const mode = n.string('auto_pad', 'NOTSET');
  if (!['NOTSET', 'VALID', 'SAME_UPPER', 'SAME_LOWER'].includes(mode)) n.badAttr('auto_pad', mode, 'NOTSET, VALID, SAME_UPPER or SAME_LOWER');
  if (mode !== 'NOTSET' && onnxPads !== undefined && onnxPads.some((p) => p !== 0)) n.badAttr('pads', onnxPads, `no pads with auto_pad ${mode}`);
  // ONNX orders pads [x1_begin, x2_begin, x1_end, x2_end]; Striate [top, bottom, left, right].
  const fixed: [number, number, number, number] = onnxPads ? [onnxPads[0], onnxPads[2], onnxPads[1], onnxPads[3]] : [0, 0, 0, 0];
  const pads = (x: Tensor, size: Pair): [number, number, number, number] =>
    mode === 'SAME_UPPER' || mode === 'SAME_LOWER' ? autoPads(mode, [x.shape[2], x.shape[3]], size, stride, dilation) : fixed;
  return { kernel, stride, dilation, pads };
}

function need4(n: NodeReader, x: Tensor): void {
  if (x.rank !== 4) n.refuse(`reads a tensor of shape [${x.shape.join(', ')}]; Striate reads 2-D windows over [N, C, H, W] only`, `input of rank ${x.rank}`, 'an input [N, C, H, W]');
}

const simple =
  (kind: string, f: (x: Tensor) => Tensor): ImportRule =>
  () => ({ data: [0], kind, build: ([x]) => f(x) });

const binaryRule =
  (kind: string, f: (a: Tensor, b: Tensor) => Tensor): ImportRule =>
  () => ({ data: [0, 1], kind, build: ([a, b]) => f(a, b) });

function axisOf(n: NodeReader, axis: number, rank: number): number {
  if (axis < -rank || axis >= rank) n.badAttr('axis', axis, `an axis in [${-rank}, ${rank - 1}]`);
  return axis < 0 ? axis + rank : axis;
}

function softmaxRule(kind: string, f: (x: Tensor, axis: number) => Tensor): ImportRule {
  return (n) => {
    // Before opset 13 Softmax flattened the axes from `axis` on (default 1);
    // it agrees with the one-axis softmax when that is the last axis.
    const old = n.opset < 13;
    const axis = n.int('axis', old ? 1 : -1);
    return {
      data: [0],
      kind,
      build: ([x]) => {
        const a = axisOf(n, axis, x.rank);
        if (old && a !== x.rank - 1) n.badAttr('axis', axis, `the last axis (${x.rank - 1}): before opset 13 ${n.opType} flattens the axes from "axis" on`);
        return f(x, a);
      },
    };
  };
}

function reduceRule(kind: string, f: (x: Tensor, o: { axes?: number[]; keepDims: boolean }) => Tensor, axesInputFrom: number): ImportRule {
  return (n) => {
    const keepDims = n.int('keepdims', 1);
    if (keepDims !== 0 && keepDims !== 1) n.badAttr('keepdims', keepDims, '0 or 1');
    let axes: number[] | undefined;
    if (n.opset >= axesInputFrom) {
      if (n.int('noop_with_empty_axes', 0) !== 0) n.badAttr('noop_with_empty_axes', 1, '0');
      axes = n.has(1) ? n.constantInts(1, 'axes') : undefined;
    } else {
      axes = n.ints('axes')?.slice();
    }
    return {
      data: [0],
      kind,
      build: ([x]) => f(x, { ...(axes !== undefined && axes.length > 0 ? { axes: axes.map((a) => axisOf(n, a, x.rank)) } : {}), keepDims: keepDims === 1 }),
    };
  };
}

function poolRule(n: NodeReader, kind: 'maxPool2d' | 'avgPool2d'): Step {
  if (n.node.output.length > 1 && n.node.output.slice(1).some((o) => o !== '')) {
    n.refuse('has a second output (the argmax indices), which Striate does not compute', `${n.node.output.length} outputs`, 'one output');
  }
  const dilated = kind === 'maxPool2d' || n.opset >= 19;
  const w = windowOf(n, true, dilated);
  const size = w.kernel!;
  const ceil = n.int('ceil_mode', 0);
  if (ceil !== 0 && ceil !== 1) n.badAttr('ceil_mode', ceil, '0 or 1');
  let countIncludePad = false;
  if (kind === 'maxPool2d') {
    // storage_order only lays out the indices output, which is refused above.
    const order = n.int('storage_order', 0);
    if (order !== 0 && order !== 1) n.badAttr('storage_order', order, '0 or 1');
  } else {
    const c = n.int('count_include_pad', 0);
    if (c !== 0 && c !== 1) n.badAttr('count_include_pad', c, '0 or 1');
    countIncludePad = c === 1;
  }
  return {
    data: [0],
    kind,
    build: ([x]) => {
      need4(n, x);
      const options = { size, stride: w.stride, padding: w.pads(x, size), dilation: w.dilation, ceil: ceil === 1 };
      return kind === 'maxPool2d' ? maxPool2d(x, options) : avgPool2d(x, { ...options, countIncludePad });
    },
  };
}

/** LRN with ONNX's window for an even size: channels c − (size/2 − 1) … c + size/2 (Striate's own holds one more before c). */
function lrnEven(x: Tensor, size: number, alpha: number, beta: number, k: number): Tensor {
  const [nb, c] = x.shape;
  const squares = reshape(mul(x, x), [nb, 1, c, sizeOf(x.shape.slice(2))]);
  const before = Math.floor((size - 1) / 2);
  const after = size - 1 - before;
  const windowMean = avgPool2d(squares, { size: [size, 1], stride: 1, padding: [before, after, 0, 0], countIncludePad: true });
  return mul(x, pow(add(mul(reshape(windowMean, x.shape), alpha), k), -beta));
}

const RULES: Readonly<Record<string, ImportRule>> = {
  Conv: (n) => {
    const group = n.int('group', 1);
    if (group < 1) n.badAttr('group', group, 'an integer >= 1');
    const w = windowOf(n, false, true);
    return {
      data: n.has(2) ? [0, 1, 2] : [0, 1],
      kind: 'conv2d',
      build: ([x, f, b]) => {
        need4(n, x);
        if (f.rank !== 4) n.refuse(`has a filter of shape [${f.shape.join(', ')}]; Striate reads 2-D convolutions, filters [O, C/group, kH, kW]`, `filter of rank ${f.rank}`, 'a filter of rank 4');
        const size: Pair = [f.shape[2], f.shape[3]];
        if (w.kernel !== undefined && (w.kernel[0] !== size[0] || w.kernel[1] !== size[1])) n.badAttr('kernel_shape', w.kernel, `the filter's own size [${size.join(', ')}]`);
        return conv2d(x, f, { stride: w.stride, padding: w.pads(x, size), dilation: w.dilation, groups: group, ...(b ? { bias: b } : {}) });
      },
    };
  },
  MaxPool: (n) => poolRule(n, 'maxPool2d'),
  AveragePool: (n) => poolRule(n, 'avgPool2d'),
  GlobalAveragePool: () => ({
    data: [0],
    kind: 'globalAvgPool2d',
    build: ([x], b) => {
      if (x.rank !== 4) fail(WHO, `node "${b.name}" (GlobalAveragePool) reads shape [${x.shape.join(', ')}]; Striate reads [N, C, H, W]`, `rank ${x.rank}`, 'rank 4');
      const flat = globalAvgPool2d(x);
      return { y: reshape(flat, [x.shape[0], x.shape[1], 1, 1]), flat };
    },
  }),
  GlobalMaxPool: () => ({ data: [0], kind: 'globalMaxPool2d', build: ([x]) => max(x, { axes: [2, 3], keepDims: true }) }),
  BatchNormalization: (n) => {
    const epsilon = n.float('epsilon', 1e-5);
    if (!(epsilon > 0)) n.badAttr('epsilon', epsilon, 'a number > 0');
    // ONNX: running = momentum · running + (1 − momentum) · batch; Striate's momentum is the other weight.
    const momentum = 1 - n.float('momentum', 0.9);
    if (!(momentum > 0 && momentum <= 1)) n.badAttr('momentum', 1 - momentum, 'a number in [0, 1)');
    if (n.opset >= 14 && n.int('training_mode', 0) !== 0) n.badAttr('training_mode', 1, '0 (an inference model)');
    if (n.node.output.slice(1).some((o) => o !== '')) n.refuse('has outputs besides Y (training-mode statistics)', `${n.node.output.length} outputs`, 'one output');
    if (n.node.input.length !== 5 || n.node.input.some((i) => i === '')) n.refuse('needs its five inputs X, scale, B, input_mean, input_var', `${n.node.input.length} inputs`, '5 inputs');
    return {
      data: [0, 1, 2, 3, 4],
      stats: [3, 4],
      kind: 'batchNorm',
      build: ([x, gamma, beta, runningMean, runningVariance], { ctx }) => {
        if (!ctx.training) return batchNormInference(x, gamma, beta, runningMean, runningVariance, { epsilon });
        const t = batchNormTraining(x, gamma, beta, { epsilon });
        ctx.update((runningMean as Tensor<'input'>).attrs.name, add(mul(runningMean, 1 - momentum), mul(t.mean, momentum)));
        ctx.update((runningVariance as Tensor<'input'>).attrs.name, add(mul(runningVariance, 1 - momentum), mul(t.variance, momentum)));
        return t.output;
      },
    };
  },
  LRN: (n) => {
    const size = n.int('size', 0);
    if (size < 1) n.badAttr('size', size, 'a positive integer');
    const alpha = n.float('alpha', 1e-4);
    const beta = n.float('beta', 0.75);
    const k = n.float('bias', 1);
    if (!(alpha >= 0)) n.badAttr('alpha', alpha, 'a number >= 0');
    if (!(beta >= 0)) n.badAttr('beta', beta, 'a number >= 0');
    if (!(k > 0)) n.badAttr('bias', k, 'a number > 0');
    return { data: [0], kind: 'localResponseNorm', build: ([x]) => (size % 2 === 1 ? localResponseNorm(x, { size, alpha, beta, k }) : lrnEven(x, size, alpha, beta, k)) };
  },
  Gemm: (n) => {
    const transA = n.int('transA', 0);
    const transB = n.int('transB', 0);
    if (transA !== 0 && transA !== 1) n.badAttr('transA', transA, '0 or 1');
    if (transB !== 0 && transB !== 1) n.badAttr('transB', transB, '0 or 1');
    const alpha = n.float('alpha', 1);
    const beta = n.float('beta', 1);
    return {
      data: n.has(2) ? [0, 1, 2] : [0, 1],
      kind: 'dense',
      build: ([a, w, c]) => {
        if (a.rank !== 2 || w.rank !== 2) n.refuse(`multiplies shapes [${a.shape.join(', ')}] and [${w.shape.join(', ')}]; Gemm's operands are matrices`, `ranks ${a.rank} and ${w.rank}`, 'two matrices');
        const product = matmul(a, w, { transposeA: transA === 1, transposeB: transB === 1 });
        const scaled = alpha === 1 ? product : mul(product, alpha);
        return c === undefined ? scaled : add(scaled, beta === 1 ? c : mul(c, beta));
      },
    };
  },
  MatMul: binaryRule('matmul', (a, b) => matmul(a, b)),
  Add: binaryRule('add', add),
  Sub: binaryRule('sub', sub),
  Mul: binaryRule('mul', mul),
  Div: binaryRule('div', div),
  Relu: simple('relu', relu),
  Sigmoid: simple('sigmoid', sigmoid),
  Tanh: simple('tanh', tanh),
  Exp: simple('exp', exp),
  Log: simple('log', log),
  Sqrt: simple('sqrt', sqrt),
  Neg: simple('neg', neg),
  Identity: simple('identity', (x) => x),
  LeakyRelu: (n) => {
    const alpha = n.float('alpha', 0.01);
    if (!(alpha >= 0 && alpha < 1)) n.badAttr('alpha', alpha, 'a slope in [0, 1)');
    return { data: [0], kind: 'leakyRelu', build: ([x]) => leakyRelu(x, { alpha }) };
  },
  Elu: (n) => {
    const alpha = n.float('alpha', 1);
    if (!(alpha > 0)) n.badAttr('alpha', alpha, 'a number > 0');
    return { data: [0], kind: 'elu', build: ([x]) => elu(x, { alpha }) };
  },
  Clip: (n) => {
    const lo = n.constantScalar(1, 'min');
    const hi = n.constantScalar(2, 'max');
    if (lo === 0 && hi === 6) return { data: [0], kind: 'relu6', build: ([x]) => relu6(x) };
    if (lo === 0 && hi === undefined) return { data: [0], kind: 'relu', build: ([x]) => relu(x) };
    return n.refuse(
      `clips to [${lo ?? '-inf'}, ${hi ?? 'inf'}]; Striate reads Clip as relu6 (min 0, max 6) or relu (min 0, no max) only`,
      `min ${lo ?? 'none'}, max ${hi ?? 'none'}`,
      'min 0 and max 6, or min 0 and no max',
    );
  },
  Pow: (n) => {
    const exponent = n.constantScalar(1, 'exponent');
    if (exponent === undefined || !Number.isFinite(exponent)) return n.refuse('needs a constant exponent', 'no exponent', 'a constant exponent');
    return { data: [0], kind: 'pow', build: ([x]) => pow(x, exponent) };
  },
  Softmax: softmaxRule('softmax', softmax),
  LogSoftmax: softmaxRule('logSoftmax', logSoftmax),
  Concat: (n) => {
    const axis = n.int('axis', Number.NaN);
    if (Number.isNaN(axis)) n.refuse('has no attribute "axis"', 'no axis', 'an axis');
    return {
      data: n.node.input.map((_, i) => i),
      kind: 'concat',
      build: (xs) => concat(xs, axisOf(n, axis, xs[0].rank)),
    };
  },
  Flatten: (n) => {
    const axis = n.int('axis', 1);
    return {
      data: [0],
      kind: 'flatten',
      build: ([x], b) => {
        const a = axis < 0 ? axis + x.rank : axis;
        if (a < 0 || a > x.rank) n.badAttr('axis', axis, `an axis in [${-x.rank}, ${x.rank}]`);
        if (a === 1) return b.flat(0) ?? flatten(x);
        return reshape(x, [sizeOf(x.shape.slice(0, a)), sizeOf(x.shape.slice(a))]);
      },
    };
  },
  Reshape: (n) => {
    const target = n.constantInts(1, 'shape');
    if (n.opset >= 14 && n.int('allowzero', 0) !== 0) n.badAttr('allowzero', 1, '0');
    if (target.some((d) => d < -1) || target.filter((d) => d === -1).length > 1) n.refuse(`has target shape [${target.join(', ')}]`, `shape ${showShort(target)}`, 'dimensions >= 0 and at most one -1');
    return {
      data: [0],
      kind: 'reshape',
      build: ([x], b) => {
        // 0 copies the input's dimension. A file of fixed batch size often
        // spells the batch in the target too; for the batch-carrying tensor
        // that dimension follows the batch being built.
        const shape = target.map((d, i) => (d === 0 || (i === 0 && b.fileBatch !== null && d === b.fileBatch && b.batched(0)) ? x.shape[i] : d));
        if (shape.some((d) => d === undefined)) n.refuse(`copies dimension (0) beyond the input's rank ${x.rank}`, `shape ${showShort(target)}`, 'a 0 only where the input has that axis');
        return reshape(x, shape);
      },
    };
  },
  Transpose: (n) => {
    const perm = n.ints('perm');
    return {
      data: [0],
      kind: 'transpose',
      build: ([x]) => {
        if (perm !== undefined && (perm.length !== x.rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i))) n.badAttr('perm', perm, `a permutation of 0..${x.rank - 1}`);
        return transpose(x, perm);
      },
    };
  },
  Pad: (n) => {
    const mode = n.string('mode', 'constant');
    if (mode !== 'constant') n.badAttr('mode', mode, '"constant"');
    const pads = n.constantInts(1, 'pads');
    const value = n.constantScalar(2, 'constant_value', 0)!;
    if (n.has(3)) n.refuse('gives "axes" (input 3), which Striate does not read', 'axes', 'pads for every axis');
    if (pads.some((p) => p < 0)) n.refuse(`has negative pads [${pads.join(', ')}] (cropping), which Striate does not read`, `pads ${showShort(pads)}`, 'pads >= 0');
    return {
      data: [0],
      kind: 'pad',
      build: ([x]) => {
        if (pads.length !== 2 * x.rank) n.refuse(`has ${pads.length} pads for an input of rank ${x.rank}`, `${pads.length} pads`, `${2 * x.rank} pads`);
        return pad(x, x.shape.map((_, i) => [pads[i], pads[i + x.rank]] as unknown as Pair), value);
      },
    };
  },
  Dropout: (n) => {
    const ratio = n.opset >= 12 ? n.constantScalar(1, 'ratio', 0.5)! : n.float('ratio', 0.5);
    if (n.opset >= 12 && n.has(2) && n.constantScalar(2, 'training_mode') !== 0) n.refuse('is in training mode (training_mode true)', 'training_mode true', 'an inference model');
    if (!(ratio >= 0 && ratio < 1)) n.refuse(`has ratio ${ratio}`, `ratio ${ratio}`, 'a ratio in [0, 1)');
    if (n.node.output.slice(1).some((o) => o !== '')) n.refuse('has a second output (the mask), which Striate does not compute', `${n.node.output.length} outputs`, 'one output');
    return {
      data: [0],
      kind: 'dropout',
      build: ([x], { ctx, name }) => (ctx.training && ratio > 0 ? mul(x, ctx.mask(`${name}.mask`, x.shape, ratio)) : x),
    };
  },
  Slice: (n) => {
    const starts = n.constantInts(1, 'starts');
    const ends = n.constantInts(2, 'ends');
    const axes = n.has(3) ? n.constantInts(3, 'axes') : starts.map((_, i) => i);
    const steps = n.has(4) ? n.constantInts(4, 'steps') : starts.map(() => 1);
    if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) n.refuse('has starts, ends, axes and steps of different lengths', 'lengths that differ', 'one entry per sliced axis in each');
    if (steps.some((st) => st !== 1)) n.refuse(`has steps [${steps.join(', ')}]; Striate reads slices of step 1 only`, `steps ${showShort(steps)}`, 'steps of 1');
    return {
      data: [0],
      kind: 'slice',
      build: ([x]) => {
        const begin = x.shape.map(() => 0);
        const size = [...x.shape];
        axes.forEach((axis, i) => {
          const a = axisOf(n, axis, x.rank);
          const dim = x.shape[a];
          // ONNX: negative positions count from the end, and both are clamped to [0, dim].
          const at = (v: number): number => Math.min(dim, Math.max(0, v < 0 ? v + dim : v));
          begin[a] = at(starts[i]);
          size[a] = at(ends[i]) - begin[a];
          if (size[a] < 1) n.refuse(`slices nothing from axis ${a} (starts ${starts[i]}, ends ${ends[i]} of ${dim})`, 'an empty slice', 'a slice of at least one element');
        });
        return slice(x, begin, size);
      },
    };
  },
  Expand: (n) => {
    const shape = n.constantInts(1, 'shape');
    if (shape.some((d) => d < 1)) n.refuse(`expands to [${shape.join(', ')}]`, `shape ${showShort(shape)}`, 'dimensions >= 1');
    return {
      data: [0],
      kind: 'broadcastTo',
      build: ([x]) => {
        // Broadcast both ways (numpy's rule): a 1 in either keeps the other's dimension.
        const rank = Math.max(x.rank, shape.length);
        const pad = (s: readonly number[]): number[] => [...Array(rank - s.length).fill(1), ...s];
        const [a, b] = [pad(x.shape), pad(shape)];
        return broadcastTo(x, a.map((d, i) => (d === 1 ? b[i] : d)));
      },
    };
  },
  ReduceSum: reduceRule('sum', sum, 13),
  ReduceMean: reduceRule('mean', mean, 18),
  ReduceMax: reduceRule('max', max, 18),
};

/** The ONNX ops Striate imports, for the documentation and the errors. */
export const ONNX_IMPORT_OPS: readonly string[] = [...Object.keys(RULES), 'Constant'].sort();

// ---------------------------------------------------------------------------

/** `s` in the alphabet of Striate's graph input names (letters, digits, _ . : / -, starting with a letter or _). */
function safeName(s: string, fallback: string): string {
  let out = s.replace(/[^A-Za-z0-9_.:/-]/g, '_');
  if (out === '') out = fallback;
  if (!/^[A-Za-z_]/.test(out)) out = `_${out}`;
  return out;
}

function valueShape(v: { type?: { tensor_type?: { elem_type?: number; shape?: { dim: { dim_value?: string | number; dim_param?: string }[] } } } }) {
  const t = v.type?.tensor_type;
  if (t === undefined) return null;
  return { elemType: t.elem_type ?? 0, dims: t.shape?.dim.map((d) => (d.dim_value !== undefined ? int64Value(d.dim_value) : null)) };
}

/** What a float initializer read as data is: a parameter, or a batch norm's running mean or variance. */
type Use = 'param' | 'mean' | 'variance';

interface ParsedNode {
  readonly name: string;
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly output: string;
  readonly step: Step;
}

/**
 * The Striate model of the ONNX model in `bytes` (a `.onnx` file's
 * contents), with its parameters and batch-norm statistics. The model maps
 * `[N, ...inputShape]` to the graph's output and can be built for any batch
 * size; `train`, `evaluate`, `createPredictor` and `exportOnnx` take it as
 * they take a model made of layers, and its summary lists the file's nodes.
 *
 * ```ts
 * const { model, params, stats } = importOnnx(bytes);
 * const run = train({ model, data, optimizer: adam(), epochs: 1, batchSize: 32, initial: { params, stats } });
 * ```
 *
 * Ops read (2-D convolutional networks): Conv, MaxPool, AveragePool,
 * GlobalAveragePool, GlobalMaxPool, BatchNormalization, LRN, Gemm, MatMul,
 * Add, Sub, Mul, Div, Relu, LeakyRelu, Elu, Clip (as relu6 or relu),
 * Sigmoid, Tanh, Exp, Log, Sqrt, Neg, Pow, Softmax, LogSoftmax, Concat,
 * Flatten, Reshape, Transpose, Pad, Slice, Expand, Identity, Dropout, ReduceSum,
 * ReduceMean, ReduceMax and Constant, of opsets 11 to 22. Throws a
 * StriateError for bytes that are not an ONNX model (truncated, random), an
 * unsupported op, attribute or attribute value (naming the node and the
 * attribute), a tensor whose data disagrees with its dimensions, and a
 * graph Striate cannot build.
 */
export function importOnnx(bytes: Uint8Array, options: ImportOnnxOptions = {}): ImportedOnnx {
  checkOptions(WHO, options, ['name', 'inputShape']);
  if (!(bytes instanceof Uint8Array)) fail(WHO, `expected the bytes of an .onnx file (a Uint8Array), got ${describeValue(bytes)}`, describeValue(bytes), 'a Uint8Array');
  if (bytes.length === 0) fail(WHO, 'the file is empty', '0 bytes', 'the bytes of an ONNX model');
  const message = decodeModel(WHO, bytes);
  const graph = message.graph;
  if (graph === undefined || graph.node.length === 0) {
    fail(WHO, 'the bytes decode but hold no graph (or a graph without nodes): not an ONNX model, or a truncated one', 'no graph', 'a ModelProto with a graph');
  }
  const ir = int64Value(message.ir_version);
  if (ir === null || ir < 3) fail(WHO, `the model's ir_version is ${message.ir_version ?? 'absent'}; Striate reads IR version 3 or later (opset imports)`, `ir_version ${message.ir_version}`, 'ir_version >= 3');
  const opsetEntry = message.opset_import.find((o) => (o.domain ?? '') === '' || o.domain === 'ai.onnx');
  const opset = int64Value(opsetEntry?.version) ?? 0;
  if (opset < ONNX_IMPORT_OPSETS.min || opset > ONNX_IMPORT_OPSETS.max) {
    fail(
      WHO,
      `the model imports opset ${opsetEntry ? opset : '(none)'} of the default domain; Striate reads opsets ${ONNX_IMPORT_OPSETS.min} to ${ONNX_IMPORT_OPSETS.max} (convert it with onnx.version_converter)`,
      `opset ${opsetEntry ? opset : 'none'}`,
      `opset ${ONNX_IMPORT_OPSETS.min} to ${ONNX_IMPORT_OPSETS.max}`,
    );
  }

  // Initializers: float ones are candidates for parameters, int ones for shapes and axes.
  const inits = new Map<string, TensorData>();
  for (const t of graph.initializer) {
    const name = t.name ?? '';
    if (name === '') fail(WHO, 'the graph has an initializer without a name', 'an unnamed initializer', 'named initializers');
    if (inits.has(name)) fail(WHO, `the graph has two initializers named "${name}"`, `initializer "${name}" twice`, 'distinct names');
    inits.set(name, readTensor(WHO, `initializer "${name}"`, t));
  }

  // The image input: the one graph input that is not an initializer (PyTorch's older exporters list the initializers as inputs too).
  const inputs = graph.input.filter((v) => !inits.has(v.name ?? ''));
  if (inputs.length !== 1) {
    const names = inputs.map((v) => `"${v.name}"`).join(', ') || 'none';
    fail(WHO, `the graph has ${inputs.length} inputs besides its initializers (${names}); Striate reads models of one input, the images`, `${inputs.length} inputs`, 'one input');
  }
  const inputName = inputs[0].name ?? '';
  const declared = valueShape(inputs[0]);
  if (declared === null || declared.elemType !== 1) fail(WHO, `input "${inputName}" is not a float tensor`, `input type ${declared?.elemType ?? 'unknown'}`, 'a FLOAT tensor input');
  let inputShape: Shape;
  if (options.inputShape !== undefined) {
    const s = options.inputShape;
    if (!Array.isArray(s) || s.length === 0 || !s.every((d) => Number.isSafeInteger(d) && d >= 1)) {
      fail(WHO, `inputShape must be the shape of one example without the batch, e.g. [3, 32, 32], got ${showShort(s)}`, `inputShape ${showShort(s)}`, 'positive integers');
    }
    inputShape = [...s];
  } else {
    const dims = declared.dims;
    if (dims === undefined || dims.length < 2 || dims.slice(1).some((d) => d === null || d < 1)) {
      fail(
        WHO,
        `input "${inputName}" has shape [${(dims ?? []).map((d) => d ?? '?').join(', ')}]; give options.inputShape, the shape of one example without the batch`,
        `input shape [${(dims ?? []).map((d) => d ?? '?').join(', ')}]`,
        'a static shape beyond the batch dimension, or options.inputShape',
      );
    }
    inputShape = dims.slice(1) as number[];
  }
  const fileBatch = declared.dims?.[0] ?? null;
  if (graph.output.length !== 1) fail(WHO, `the graph has ${graph.output.length} outputs; Striate reads models of one output`, `${graph.output.length} outputs`, 'one output');
  const outputName = graph.output[0].name ?? '';

  // Nodes, in the file's order, which ONNX requires to be topological.
  const constants = new Map<string, ConstantValue>();
  for (const [name, t] of inits) constants.set(name, { tensor: t, where: `initializer "${name}"` });
  const defined = new Set<string>([inputName, ...inits.keys()]);
  const nodeNames = new Set<string>();
  const parsed: ParsedNode[] = [];
  const dataUse = new Map<string, Use>();
  graph.node.forEach((node, index) => {
    const opType = node.op_type ?? '';
    const name = uniqueName(nodeNames, safeName(node.name ?? '', `${opType || 'node'}_${index}`));
    const domain = node.domain ?? '';
    if (domain !== '' && domain !== 'ai.onnx') {
      fail(WHO, `node "${name}" (${opType}) is of domain "${domain}"; Striate reads the default ONNX domain only`, `domain "${domain}"`, 'the default domain');
    }
    const reader = new NodeReader(node, name, opType, opset, constants);
    for (const i of node.input) {
      if (i !== '' && !defined.has(i)) reader.refuse(`reads "${i}", which no earlier node, input or initializer defines (nodes must be in topological order)`, `undefined value "${i}"`, 'values defined before use');
    }
    const outputs = node.output.filter((o) => o !== '');
    if (outputs.length === 0) reader.refuse('has no output', 'no output', 'an output');
    for (const o of outputs) {
      if (defined.has(o)) reader.refuse(`writes "${o}", which is already defined`, `"${o}" defined twice`, 'each value defined once');
      defined.add(o);
    }
    if (opType === 'Constant') {
      constants.set(outputs[0], { tensor: constantNode(reader), where: `node "${name}"` });
      reader.done();
      return;
    }
    const rule = Object.hasOwn(RULES, opType) ? RULES[opType] : undefined;
    if (rule === undefined) {
      return reader.refuse(`is an op Striate does not import; it reads ${ONNX_IMPORT_OPS.join(', ')}`, `op ${showShort(opType)}`, 'one of the ops Striate imports');
    }
    const step = rule(reader);
    reader.done();
    for (const i of step.data) {
      const value = node.input[i];
      if (value === undefined || value === '') reader.refuse(`lacks its input ${i}`, `no input ${i}`, `input ${i}`);
      const constantValue = constants.get(value);
      if (constantValue && constantValue.tensor.kind === 'int') reader.refuse(`reads the integer tensor "${value}" as data; Striate's tensors are float`, `int64 "${value}" as data`, 'a float tensor');
      if (inits.has(value)) {
        const use: Use = step.stats?.includes(i) ? (i === step.stats[0] ? 'mean' : 'variance') : 'param';
        if ((dataUse.get(value) ?? use) !== use) reader.refuse(`reads "${value}" as a ${use}, which another node reads as a ${dataUse.get(value)}`, `"${value}" in two roles`, 'one role per initializer');
        dataUse.set(value, use);
      } else if (step.stats?.includes(i)) {
        reader.refuse(`reads its running ${i === 3 ? 'mean' : 'variance'} from "${value}", which is not an initializer`, `computed statistics "${value}"`, 'statistics given as initializers');
      }
    }
    parsed.push({ name, opType, inputs: [...node.input], output: outputs[0], step });
  });
  if (!defined.has(outputName)) fail(WHO, `the graph's output "${outputName}" is not computed by any node`, `output "${outputName}"`, 'an output a node computes');

  // Striate names for the float initializers used as data.
  const names: Record<string, string> = {};
  const taken = new Set<string>(RESERVED);
  for (const value of dataUse.keys()) {
    const wanted = safeName(value, 'param');
    names[value] = uniqueName(taken, wanted);
    checkInputName(names[value]);
  }
  const params: Record<string, ReturnType<typeof tensorValue>> = {};
  const stats: Record<string, ReturnType<typeof tensorValue>> = {};
  for (const [value, use] of dataUse) {
    const t = inits.get(value)!;
    if (t.dims.some((d) => d < 1)) fail(WHO, `initializer "${value}" has an empty dimension [${t.dims.join(', ')}]`, `dims [${t.dims.join(', ')}]`, 'dimensions >= 1');
    (use === 'param' ? params : stats)[names[value]] = tensorValue(t.dims, (t as Extract<TensorData, { kind: 'float' }>).data);
  }

  const layer = importedLayer(parsed, inputName, outputName, inits, constants, dataUse, names, fileBatch);
  const modelName = options.name ?? (graph.name || 'onnx-model');
  if (typeof modelName !== 'string' || modelName === '') fail(WHO, `name must be a non-empty string, got ${showShort(modelName)}`, `name ${showShort(modelName)}`, 'a non-empty string');
  const model = defineModel(modelName, inputShape, layer);
  try {
    buildModel(model);
  } catch (err) {
    if (err instanceof StriateError && err.op === WHO) throw err;
    if (err instanceof StriateError) fail(WHO, `the model does not build: ${err.message}`, err.got, err.expected, err);
    throw err;
  }
  return Object.freeze({
    model,
    params: Object.freeze(params),
    stats: Object.freeze(stats),
    names: Object.freeze(names),
    inputName,
    outputName,
    opset,
    producer: Object.freeze({ name: message.producer_name ?? '', version: message.producer_version ?? '' }),
  });
}

function uniqueName(taken: Set<string>, base: string): string {
  let name = base;
  for (let k = 2; taken.has(name); k++) name = `${base}_${k}`;
  taken.add(name);
  return name;
}

/** A Constant node's value, checked. */
function constantNode(n: NodeReader): TensorData {
  const t = n.tensor('value');
  const f = n.float('value_float', Number.NaN);
  const fs = n.floats('value_floats');
  const i = n.int('value_int', Number.NaN);
  const is = n.ints('value_ints');
  const given = [t !== undefined, !Number.isNaN(f), fs !== undefined, !Number.isNaN(i), is !== undefined].filter(Boolean).length;
  if (given !== 1) n.refuse('must give its value in exactly one of value, value_float, value_floats, value_int, value_ints', `${given} values`, 'one value');
  if (t !== undefined) return readTensor(WHO, `node "${n.name}" attribute "value"`, t);
  if (!Number.isNaN(f)) return { kind: 'float', dims: [], data: Float32Array.of(f) };
  if (fs !== undefined) return { kind: 'float', dims: [fs.length], data: Float32Array.from(fs) };
  if (!Number.isNaN(i)) return { kind: 'int', dims: [], data: [i] };
  return { kind: 'int', dims: [is!.length], data: [...is!] };
}

/** The Layer that builds the parsed nodes into a graph (the imported model's forward). */
function importedLayer(
  parsed: readonly ParsedNode[],
  inputName: string,
  outputName: string,
  inits: ReadonlyMap<string, TensorData>,
  constants: ReadonlyMap<string, ConstantValue>,
  dataUse: ReadonlyMap<string, Use>,
  names: Readonly<Record<string, string>>,
  fileBatch: number | null,
): Layer {
  const owner = {};
  return (x: Tensor, ctx: LayerContext): Tensor => {
    const env = new Map<string, Tensor>([[inputName, x]]);
    const flats = new Map<string, Tensor>();
    const batched = new Set<string>([inputName]);
    const leaf = (value: string): Tensor => {
      const known = env.get(value);
      if (known) return known;
      let t: Tensor;
      const use = dataUse.get(value);
      if (use !== undefined) {
        const data = inits.get(value) as Extract<TensorData, { kind: 'float' }>;
        const full = ctx.qualify(names[value]);
        const shape = [...data.dims];
        if (use !== 'param') {
          t = ctx.stat(full, shape, use === 'variance' ? 1 : 0, owner);
        } else {
          const fanOut = shape[0] ?? 1;
          const fanIn = shape.length > 1 ? sizeOf(shape.slice(1)) : fanOut;
          t = ctx.param(full, shape, () => data.data.slice(), { fanIn, fanOut }, owner);
        }
      } else {
        const c = constants.get(value)!.tensor as Extract<TensorData, { kind: 'float' }>;
        t = constant(c.data, [...c.dims]);
      }
      env.set(value, t);
      return t;
    };
    for (const p of parsed) {
      const dataNames = p.step.data.map((i) => p.inputs[i]);
      const xs = dataNames.map(leaf);
      const full = ctx.qualify(p.name);
      let result: ReturnType<Step['build']>;
      try {
        result = p.step.build(xs, {
          ctx,
          name: full,
          flat: (k) => flats.get(dataNames[k]),
          batched: (k) => batched.has(dataNames[k]),
          fileBatch,
        });
      } catch (err) {
        if (err instanceof StriateError && err.op !== WHO) fail(WHO, `node "${p.name}" (${p.opType}): ${err.message}`, err.got, err.expected, err);
        throw err;
      }
      const y = 'flat' in result ? result.y : result;
      if ('flat' in result) flats.set(p.output, result.flat);
      env.set(p.output, y);
      if (dataNames.some((v) => batched.has(v))) batched.add(p.output);
      const paramTensors = xs.filter((t, k) => t.op === 'input' && dataUse.get(dataNames[k]) === 'param') as Tensor<'input'>[];
      ctx.record(full, p.step.kind, y, paramTensors);
    }
    const out = env.get(outputName);
    if (out === undefined) {
      const c = constants.get(outputName);
      if (c && c.tensor.kind === 'float') return constant(c.tensor.data, [...c.tensor.dims]);
      fail(WHO, `the graph's output "${outputName}" is not a float tensor a node computes`, `output "${outputName}"`, 'an output a node computes');
    }
    return out;
  };
}
