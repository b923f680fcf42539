/**
 * A Striate graph run by TensorFlow.js, op for op: the bench's way of giving
 * TF.js exactly the architecture a zoo builder made (`npm run bench --
 * --model vgg`), without writing each model twice. Environment-neutral.
 *
 * The graph is walked from its outputs (each node evaluated once, when
 * first needed) and every node becomes the TF.js call its users would write:
 *
 * - Layout. TF.js convolves and pools NHWC with HWIO filters (its NCHW
 *   paths are unimplemented on most backends), so every rank-4 value is held
 *   NHWC here, and a parameter read as a convolution's filter is held HWIO:
 *   the caller converts weights in and gradients out with `toTf` / `fromTf`.
 *   Elementwise ops, reductions and concatenations map their axes; a reshape
 *   of a rank-4 value goes through NCHW order (a transpose unless C or H*W is
 *   1, where the orders agree), as a flatten before a dense layer must.
 * - Fusion, as TF.js's layers do it: conv2d with its bias and a following
 *   relu is one `tf.fused.conv2d`; matmul, a bias add and a relu one
 *   `tf.fused.matMul`; Striate's local response normalisation (a composite:
 *   a², a channel-window mean by avgPool2d over a reshape, scale, offset, a
 *   power, times a) is recognised whole and runs as
 *   `tf.localResponseNormalization`.
 * - Grouped convolutions are split along channels into one convolution per
 *   group and concatenated (TF.js's conv2d has no groups); groups equal to
 *   the channels, with as many outputs, run as `tf.depthwiseConv2d` (on
 *   zero-padded input: its fused form takes no explicit padding).
 *
 * An op without a translation is refused naming it, never approximated: the
 * bench's correctness check compares the outcome with Striate's float64
 * reference anyway.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { type Tensor, topologicalOrder } from '../../src/index.js';
import { hwioToOihw, oihwToHwio } from './lenet.js';
import { tf } from './tfjs.js';

type TfTensor = tfTypes.Tensor;

/** How a graph input is held in TF.js. */
export type Layout = 'plain' | 'nhwc' | 'hwio';

export interface GraphInput {
  readonly name: string;
  /** Striate's shape (NCHW, OIHW). */
  readonly shape: readonly number[];
  readonly layout: Layout;
  /** The shape TF.js holds it in. */
  readonly tfShape: number[];
}

export interface TfGraph {
  /** The graph's inputs by name. */
  readonly inputs: ReadonlyMap<string, GraphInput>;
  /** Values of input `name` from Striate's layout into the one TF.js holds. */
  toTf(name: string, data: Float32Array): Float32Array;
  /** Values of input `name` (a gradient, say) from TF.js's layout back into Striate's. */
  fromTf(name: string, data: Float32Array): Float32Array;
  /** The outputs, from feeds in TF.js's layout (call inside tf.tidy); rank-4 outputs come back NHWC. */
  run(feeds: Readonly<Record<string, TfTensor>>): TfTensor[];
}

const NHWC_OF_NCHW = [0, 2, 3, 1];
const NCHW_OF_NHWC = [0, 3, 1, 2];
/** Where NCHW axis a sits in NHWC. */
const NHWC_AXIS = [0, 3, 1, 2];

const fail = (msg: string): never => {
  throw new Error(`bench: graph-tfjs: ${msg}`);
};

/** Elementwise ops of one operand that TF.js has under the same name. */
const UNARY = { neg: tf.neg, sqrt: tf.sqrt, exp: tf.exp, log: tf.log, tanh: tf.tanh, sigmoid: tf.sigmoid } as const;

/** NCHW data -> NHWC data of the same tensor. */
function nchwToNhwc(d: Float32Array, [n, c, h, w]: readonly number[]): Float32Array {
  const out = new Float32Array(d.length);
  for (let b = 0; b < n; b++) for (let k = 0; k < c; k++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[((b * h + y) * w + x) * c + k] = d[((b * c + k) * h + y) * w + x];
  return out;
}
/** NHWC data -> NCHW data of the tensor of NCHW shape `[n, c, h, w]`. */
export function nhwcToNchw(d: Float32Array, [n, c, h, w]: readonly number[]): Float32Array {
  const out = new Float32Array(d.length);
  for (let b = 0; b < n; b++) for (let k = 0; k < c; k++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[((b * c + k) * h + y) * w + x] = d[((b * h + y) * w + x) * c + k];
  return out;
}

/** A rank-4 value held NHWC, as NCHW (no copy where the two orders agree). */
function toNchw(t: TfTensor): TfTensor {
  const [n, h, w, c] = t.shape;
  return c === 1 || h * w === 1 ? tf.reshape(t, [n, c, h, w]) : tf.transpose(t, NCHW_OF_NHWC);
}
/** An NCHW-ordered rank-4 value, held NHWC. */
function toNhwc(t: TfTensor): TfTensor {
  const [n, c, h, w] = t.shape;
  return c === 1 || h * w === 1 ? tf.reshape(t, [n, h, w, c]) : tf.transpose(t, NHWC_OF_NCHW);
}

type Node = Tensor;
type Attrs = Record<string, unknown>;
const attrs = (t: Node) => t.attrs as unknown as Attrs;
const pair = (v: unknown) => v as [number, number];
const pads4 = (v: unknown) => v as [number, number, number, number];

/** Build the TF.js evaluator of the graph computing `outputs`. */
export function tfGraph(outputs: readonly Tensor[]): TfGraph {
  const order = topologicalOrder(outputs);
  const consumers = new Map<number, { node: Node; slot: number }[]>();
  for (const t of order) t.inputs.forEach((x, slot) => (consumers.get(x.id) ?? consumers.set(x.id, []).get(x.id)!).push({ node: t, slot }));
  const uses = (t: Node) => consumers.get(t.id) ?? [];
  const onlyUser = (t: Node, op: string) => {
    const u = uses(t);
    return u.length === 1 && u[0].node.op === op && !outputs.includes(t);
  };

  const inputs = new Map<string, GraphInput>();
  for (const t of order) {
    if (t.op !== 'input') continue;
    const name = attrs(t).name as string;
    const us = uses(t);
    const asFilter = us.filter((u) => u.node.op === 'conv2d' && u.slot === 1);
    if (asFilter.length && asFilter.length !== us.length) fail(`input "${name}" is a convolution's filter and also read otherwise`);
    const shape = [...t.shape];
    const layout: Layout = asFilter.length ? 'hwio' : shape.length === 4 ? 'nhwc' : 'plain';
    const tfShape = layout === 'hwio' ? [shape[2], shape[3], shape[1], shape[0]] : layout === 'nhwc' ? [shape[0], shape[2], shape[3], shape[1]] : shape;
    inputs.set(name, { name, shape, layout, tfShape });
  }
  const inputOf = (name: string) => inputs.get(name) ?? fail(`no input "${name}"`);

  const constants = new Map<number, TfTensor>();

  function run(feeds: Readonly<Record<string, TfTensor>>): TfTensor[] {
    const memo = new Map<number, TfTensor>();
    const val = (t: Node): TfTensor => {
      let v = memo.get(t.id);
      if (!v) {
        v = evaluate(t);
        const want = t.op === 'input' ? inputOf(attrs(t).name as string).tfShape : t.shape.length === 4 ? [t.shape[0], t.shape[2], t.shape[3], t.shape[1]] : [...t.shape];
        if (v.shape.length !== want.length || v.shape.some((d, i) => d !== want[i])) fail(`node %${t.id} (${t.op}) came out [${v.shape}], expected [${want}]`);
        memo.set(t.id, v);
      }
      return v;
    };
    /** An operand of a rank-4 elementwise op, brought to rank 4 and NHWC. */
    const operand = (x: Node, rank: number): TfTensor => {
      const v = val(x);
      if (rank !== 4 || x.shape.length === 4 || x.shape.length === 0) return v;
      return toNhwc(tf.reshape(v, [...Array(4 - x.shape.length).fill(1), ...x.shape]));
    };

    const conv = (t: Node, relu: boolean): TfTensor => {
      const a = attrs(t);
      const [x, w] = [val(t.inputs[0]), val(t.inputs[1])];
      const bias = a.hasBias ? val(t.inputs[2]) : undefined;
      const [pt, pb, pl, pr] = pads4(a.pads);
      const pad: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [pt, pb], [pl, pr], [0, 0]];
      const strides = pair(a.stride);
      const dilations = pair(a.dilation);
      const activation = relu || a.relu ? 'relu' : 'linear';
      const groups = a.groups as number;
      const c = t.inputs[0].shape[1];
      const o = t.shape[1];
      if (groups === 1) return tf.fused.conv2d({ x: x as never, filter: w as never, strides, pad, dilations, bias, activation });
      if (groups === c && o === c) {
        // Its fused op takes no explicit padding: the zeros are padded first.
        const padded = pt + pb + pl + pr > 0 ? tf.pad(x, pad) : x;
        const filter = tf.reshape(w, [w.shape[0]!, w.shape[1]!, c, 1]);
        return tf.fused.depthwiseConv2d({ x: padded as never, filter: filter as never, strides, pad: 'valid', dilations, bias, activation });
      }
      const xs = tf.split(x, groups, 3);
      const ws = tf.split(w, groups, 3);
      const bs = bias ? tf.split(bias, groups, 0) : [];
      const parts = xs.map((xg, g) => tf.fused.conv2d({ x: xg as never, filter: ws[g] as never, strides, pad, dilations, bias: bs[g], activation }));
      return tf.concat(parts, 3);
    };

    const matmul = (t: Node, bias: TfTensor | undefined, relu: boolean): TfTensor => {
      const a = attrs(t);
      const [x, y] = [val(t.inputs[0]), val(t.inputs[1])];
      if (t.shape.length > 3) fail(`matmul of rank ${t.shape.length}`);
      const b = a.hasBias ? val(t.inputs[2]) : bias;
      const activation = relu || a.relu ? 'relu' : 'linear';
      return tf.fused.matMul({ a: x as never, b: y as never, transposeA: !!a.transposeA, transposeB: !!a.transposeB, bias: b, activation });
    };

    /** Striate's LRN composite ending at `t` (mul(a, pow(add(mul(reshape(avgPool(reshape(mul(a, a)))), α), k), −β))), or null. */
    const lrn = (t: Node): TfTensor | null => {
      if (t.op !== 'mul' || t.shape.length !== 4) return null;
      for (const [ai, pi] of [[0, 1], [1, 0]]) {
        const a = t.inputs[ai];
        const p = t.inputs[pi];
        if (p.op !== 'pow' || !onlyUser(p, 'mul')) continue;
        const add = p.inputs[0];
        if (add.op !== 'add' || !onlyUser(add, 'pow')) continue;
        const [scaled, kNode] = add.inputs;
        if (kNode.op !== 'constant' || kNode.shape.length !== 0 || scaled.op !== 'mul' || !onlyUser(scaled, 'add')) continue;
        const [back, alphaNode] = scaled.inputs;
        if (alphaNode.op !== 'constant' || alphaNode.shape.length !== 0 || back.op !== 'reshape' || !onlyUser(back, 'mul')) continue;
        const pool = back.inputs[0];
        if (pool.op !== 'avgPool2d' || !onlyUser(pool, 'reshape')) continue;
        const pa = attrs(pool);
        const [n, one] = pair(pa.size);
        const [r0, r1, c0, c1] = pads4(pa.pads);
        const plain = !pa.dilation && !pa.ceilPads && pa.countIncludePad === true;
        const flat = pool.inputs[0];
        if (!plain || one !== 1 || n % 2 !== 1 || r0 !== (n - 1) / 2 || r1 !== r0 || c0 !== 0 || c1 !== 0 || pair(pa.stride).some((s) => s !== 1)) continue;
        const [N, C, H, W] = a.shape;
        const sq = flat.inputs[0];
        const same = (s: readonly number[], want: readonly number[]) => s.length === want.length && s.every((d, i) => d === want[i]);
        if (flat.op !== 'reshape' || !same(flat.shape, [N, 1, C, H * W]) || !same(back.shape, [N, C, H, W])) continue;
        if (sq.op !== 'mul' || sq.inputs[0] !== a || sq.inputs[1] !== a) continue;
        const alpha = (attrs(alphaNode).value as number[])[0];
        const k = (attrs(kNode).value as number[])[0];
        const beta = -(attrs(p).exponent as number);
        // b = a (k + α·Σ_window a² / n)^(−β): TF's depthRadius (n−1)/2, bias k, alpha α/n, beta β.
        return tf.localResponseNormalization(val(a) as never, (n - 1) / 2, k, alpha / n, beta);
      }
      return null;
    };

    function evaluate(t: Node): TfTensor {
      const a = attrs(t);
      const rank = t.shape.length;
      switch (t.op) {
        case 'input': {
          const name = a.name as string;
          const v = feeds[name] ?? fail(`no feed for input "${name}"`);
          const want = inputOf(name).tfShape;
          if (v.shape.length !== want.length || v.shape.some((d, i) => d !== want[i])) fail(`feed "${name}" is [${v.shape}], expected [${want}]`);
          return v;
        }
        case 'constant': {
          let c = constants.get(t.id);
          if (!c) {
            const base = tf.tensor(a.value as number[], [...t.shape], 'float32');
            c = tf.keep(rank === 4 ? toNhwc(base) : base);
            constants.set(t.id, c);
          }
          return c;
        }
        case 'conv2d':
          return conv(t, false);
        case 'matmul':
          return matmul(t, undefined, false);
        case 'relu': {
          const x = t.inputs[0];
          if (x.op === 'conv2d' && onlyUser(x, 'relu')) return conv(x, true);
          if (x.op === 'add' && onlyUser(x, 'relu')) {
            const fused = matmulBias(x);
            if (fused) return matmul(fused.mm, fused.bias, true);
          }
          return tf.relu(val(x));
        }
        case 'add': {
          const fused = matmulBias(t);
          if (fused) return matmul(fused.mm, fused.bias, false);
          return tf.add(operand(t.inputs[0], rank), operand(t.inputs[1], rank));
        }
        case 'mul':
          return lrn(t) ?? tf.mul(operand(t.inputs[0], rank), operand(t.inputs[1], rank));
        case 'sub':
          return tf.sub(operand(t.inputs[0], rank), operand(t.inputs[1], rank));
        case 'div':
          return tf.div(operand(t.inputs[0], rank), operand(t.inputs[1], rank));
        case 'neg':
        case 'sqrt':
        case 'exp':
        case 'log':
        case 'tanh':
        case 'sigmoid':
          return UNARY[t.op](val(t.inputs[0]));
        case 'pow':
          return tf.pow(val(t.inputs[0]), tf.scalar(a.exponent as number));
        case 'leakyRelu':
          return tf.leakyRelu(val(t.inputs[0]), a.alpha as number);
        case 'relu6':
          return tf.relu6(val(t.inputs[0]));
        case 'maxPool2d':
        case 'avgPool2d': {
          if (a.dilation && pair(a.dilation).some((d) => d !== 1)) fail(`${t.op} with dilation ${String(a.dilation)}`);
          const [ch, cw] = a.ceilPads ? pair(a.ceilPads) : [0, 0];
          if (ch || cw) fail(`${t.op} with ceil rounding`);
          const [pt, pb, pl, pr] = pads4(a.pads);
          const x = val(t.inputs[0]);
          const size = pair(a.size);
          const stride = pair(a.stride);
          if (t.op === 'maxPool2d') return tf.maxPool(x as never, size, stride, [[0, 0], [pt, pb], [pl, pr], [0, 0]]);
          // TF.js averages over the cells inside the input (Striate's countIncludePad false); zeros padded first count them.
          if (a.countIncludePad && pt + pb + pl + pr > 0) return tf.avgPool(tf.pad(x, [[0, 0], [pt, pb], [pl, pr], [0, 0]]) as never, size, stride, 'valid');
          return tf.avgPool(x as never, size, stride, [[0, 0], [pt, pb], [pl, pr], [0, 0]]);
        }
        case 'sum': {
          const x = t.inputs[0];
          const axes = a.axes as number[];
          const keep = !!a.keepDims;
          if (x.shape.length !== 4) return tf.sum(val(x), axes, keep);
          const v = tf.sum(val(x), axes.map((ax) => NHWC_AXIS[ax]), keep);
          if (keep) return v;
          // The axes left, in the order TF.js holds them; Striate's order is ascending.
          const left = [0, 2, 3, 1].filter((ax) => !axes.includes(ax));
          const sorted = [...left].sort((p, q) => p - q);
          return left.every((ax, i) => ax === sorted[i]) ? v : tf.transpose(v, sorted.map((ax) => left.indexOf(ax)));
        }
        case 'reshape': {
          const x = t.inputs[0];
          const v = x.shape.length === 4 ? toNchw(val(x)) : val(x);
          const r = tf.reshape(v, [...t.shape]);
          return rank === 4 ? toNhwc(r) : r;
        }
        case 'concat': {
          const axis = a.axis as number;
          return tf.concat(t.inputs.map((x) => val(x)), rank === 4 ? NHWC_AXIS[axis] : axis);
        }
        default:
          return fail(`op ${t.op} (node %${t.id}) has no translation`);
      }
    }

    /** add(matmul(...), bias of rank 1), the matmul read by nothing else: fused as TF.js's dense layer does. */
    function matmulBias(t: Node): { mm: Node; bias: TfTensor } | null {
      if (t.op !== 'add' || t.shape.length !== 2) return null;
      for (const [mi, bi] of [[0, 1], [1, 0]]) {
        const mm = t.inputs[mi];
        const b = t.inputs[bi];
        if (mm.op === 'matmul' && !attrs(mm).hasBias && onlyUser(mm, 'add') && b.shape.length === 1 && b.shape[0] === t.shape[1]) return { mm, bias: val(b) };
      }
      return null;
    }

    return outputs.map((o) => val(o));
  }

  return {
    inputs,
    toTf(name, data) {
      const i = inputOf(name);
      if (i.layout === 'hwio') return oihwToHwio(data, i.shape);
      if (i.layout === 'nhwc') return nchwToNhwc(data, i.shape);
      return data;
    },
    fromTf(name, data) {
      const i = inputOf(name);
      if (i.layout === 'hwio') return hwioToOihw(data, i.shape);
      if (i.layout === 'nhwc') return nhwcToNchw(data, i.shape);
      return data;
    },
    run,
  };
}
