/**
 * The compile-time rewrite for the device backends: relu(conv2d(...)) becomes
 * one conv2d node with `relu: true`, computed in one kernel (the activation
 * applied as each output is written), when nothing else reads the
 * convolution's output. It saves a pass over, and the memory of, the largest
 * activations of a conv net. Likewise a dense layer: relu(matmul(a, b) +
 * bias) becomes one matmul node with the bias and the relu. relu's gradient
 * reads relu's own output (ops/relu.ts), so a training graph fuses as well as
 * an inference one.
 *
 * On the wasm backends (`convPool`), a max pool whose input is such a
 * convolution (relu fused or not) and nothing else's becomes one
 * conv2dMaxPool node where its blocked kernel applies. Training graphs keep
 * their convolutions (the backward pass reads them); inference graphs fuse.
 *
 * Also on the wasm backends (`padInputGradient`), a stride-1 input gradient
 * (conv2dBackpropInput) reads a zero-padded copy of its dy with the full
 * padding (k - 1 on every side), the same sum with the zero products
 * spelled in: its kernel then has no border tests on the input column,
 * which would run lane-masked in gpu.js's SIMD body, so its reads become
 * vector loads (ops/conv2dBackpropInput.ts).
 *
 * Nodes are frozen: the rewrite builds new nodes for the fused convolutions
 * and for everything downstream of them, and shares every other node. The
 * reference backend runs graphs as written (it is the oracle the fused
 * kernels are checked against).
 */
import { type Tensor, topologicalOrder } from '../graph/tensor.js';
import { opDef } from '../ops/index.js';
import { makeNode } from '../ops/op.js';
import { blockedKernelApplies, conv2dMaxPool } from '../ops/conv2dMaxPool.js';
import { pad } from '../ops/pad.js';
import { unitSteps } from '../ops/conv2d.js';

export interface FuseOptions {
  /**
   * Also fuse maxPool2d(conv) into one conv2dMaxPool node where its blocked
   * kernel applies (ops/conv2dMaxPool.ts): the wasm backends, whose integer
   * indexing that kernel needs.
   */
  readonly convPool?: boolean;
  /** Also read a stride-1 input gradient's dy zero-padded to the full padding (the wasm backends). */
  readonly padInputGradient?: boolean;
}

/** The padding that turns conv2dBackpropInput(dy, w) into the full-padding one over pad(dy), or null where none applies. */
function fullPaddingOf(attrs: Tensor<'conv2dBackpropInput'>['attrs'], filter: readonly number[]): readonly [number, number, number, number] | null {
  const [, , kH, kW] = filter;
  const [pt, pb, pl, pr] = attrs.pads;
  if (!unitSteps(attrs)) return null;
  const extra = [kH - 1 - pt, kH - 1 - pb, kW - 1 - pl, kW - 1 - pr] as const;
  if (extra.some((e) => e < 0) || extra.every((e) => e === 0)) return null;
  return extra;
}

export function fuseForDevice(outputs: readonly Tensor[], options: FuseOptions = {}): Tensor[] {
  const order = topologicalOrder(outputs);
  // Readers of each node, a graph output counting as one.
  const readers = new Map<number, number>();
  const read = (t: Tensor) => readers.set(t.id, (readers.get(t.id) ?? 0) + 1);
  for (const node of order) node.inputs.forEach(read);
  outputs.forEach(read);

  const alone = (t: Tensor) => readers.get(t.id) === 1;

  const rebuilt = new Map<number, Tensor>();
  const now = (t: Tensor): Tensor => rebuilt.get(t.id) ?? t;
  for (const node of order) {
    const [producer] = node.inputs;
    if (node.op === 'relu' && alone(producer)) {
      // relu into the convolution or product (bias included) it follows
      const inner = now(producer);
      if ((inner.op === 'conv2d' || inner.op === 'matmul') && !(inner as Tensor<'conv2d' | 'matmul'>).attrs.relu) {
        rebuilt.set(node.id, makeNode(opDef(inner.op) as never, inner.inputs, { ...inner.attrs, relu: true } as never));
        continue;
      }
    }
    if (node.op === 'add') {
      // matmul(a, b) + bias[N], either way round, into the product
      const [x, y] = node.inputs.map(now);
      const [m, bias, original] = x.op === 'matmul' ? [x, y, node.inputs[0]] : [y, x, node.inputs[1]];
      const attrs = (m as Tensor<'matmul'>).attrs;
      if (m.op === 'matmul' && alone(original) && !attrs.hasBias && !attrs.relu && bias.shape.length === 1 && bias.shape[0] === m.shape[1]) {
        rebuilt.set(node.id, makeNode(opDef('matmul'), [...m.inputs, bias], { ...attrs, hasBias: true }));
        continue;
      }
    }
    if (options.convPool && node.op === 'maxPool2d' && alone(producer)) {
      const conv = now(producer);
      const pool = (node as Tensor<'maxPool2d'>).attrs;
      if (conv.op === 'conv2d' && blockedKernelApplies((conv as Tensor<'conv2d'>).attrs, pool, conv.inputs[1].shape)) {
        rebuilt.set(node.id, conv2dMaxPool(conv as Tensor<'conv2d'>, pool));
        continue;
      }
    }
    if (options.padInputGradient && node.op === 'conv2dBackpropInput') {
      const attrs = (node as Tensor<'conv2dBackpropInput'>).attrs;
      const [dy, w] = node.inputs.map(now);
      const extra = fullPaddingOf(attrs, w.shape);
      if (extra) {
        const [et, eb, el, er] = extra;
        const [, , kH, kW] = w.shape;
        const padded = pad(dy, [[0, 0], [0, 0], [et, eb], [el, er]]);
        rebuilt.set(node.id, makeNode(opDef('conv2dBackpropInput'), [padded, w], { ...attrs, pads: [kH - 1, kH - 1, kW - 1, kW - 1] }));
        continue;
      }
    }
    if (node.inputs.some((t) => rebuilt.has(t.id))) {
      rebuilt.set(node.id, makeNode(opDef(node.op) as never, node.inputs.map(now), node.attrs as never));
    }
  }
  return outputs.map(now);
}
