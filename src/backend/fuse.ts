/**
 * The compile-time rewrite for every device backend: relu(conv2d(...))
 * becomes one conv2d node with `relu: true`, computed in one kernel (the
 * activation applied as each output is written), when nothing else reads the
 * convolution's output. It saves a pass over, and the memory of, the largest
 * activations of a conv net. Likewise a dense layer: relu(matmul(a, b) +
 * bias) becomes one matmul node with the bias and the relu. relu's gradient
 * reads relu's own output (ops/relu.ts), so a training graph fuses as well as
 * an inference one. (The rewrites only the wasm backends use are in
 * gpujs/wasm/rewrites.ts, written with `rewrite` below.)
 *
 * Nodes are frozen: a rewrite builds new nodes for what it replaces and for
 * everything downstream of them, and shares every other node. The reference
 * backend runs graphs as written (it is the oracle the fused kernels are
 * checked against).
 */
import { type Tensor, topologicalOrder } from '../graph/tensor.js';
import { opDef } from '../ops/index.js';
import { makeNode } from '../ops/op.js';

/** What a rewrite rule sees of the graph being rewritten. */
export interface RewriteContext {
  /** The node as rebuilt so far (itself when nothing upstream changed). */
  now(t: Tensor): Tensor;
  /** Whether exactly one node (or one graph output) reads `t`. */
  alone(t: Tensor): boolean;
}

/**
 * Rewrite a graph node by node, in topological order: `rule` returns the
 * replacement of a node (built from `now` of its inputs), or null to keep it;
 * a kept node whose inputs were rebuilt is rebuilt on them.
 */
export function rewrite(outputs: readonly Tensor[], rule: (node: Tensor, ctx: RewriteContext) => Tensor | null): Tensor[] {
  const order = topologicalOrder(outputs);
  // Readers of each node, a graph output counting as one.
  const readers = new Map<number, number>();
  const read = (t: Tensor) => readers.set(t.id, (readers.get(t.id) ?? 0) + 1);
  for (const node of order) node.inputs.forEach(read);
  outputs.forEach(read);

  const rebuilt = new Map<number, Tensor>();
  const ctx: RewriteContext = { now: (t) => rebuilt.get(t.id) ?? t, alone: (t) => readers.get(t.id) === 1 };
  for (const node of order) {
    const replacement = rule(node, ctx);
    if (replacement) rebuilt.set(node.id, replacement);
    else if (node.inputs.some((t) => rebuilt.has(t.id))) {
      rebuilt.set(node.id, makeNode(opDef(node.op) as never, node.inputs.map(ctx.now), node.attrs as never));
    }
  }
  return outputs.map(ctx.now);
}

/** relu into the convolution or product it follows, and a bias into the product. */
export function fuseForDevice(outputs: readonly Tensor[]): Tensor[] {
  return rewrite(outputs, (node, { now, alone }) => {
    const [producer] = node.inputs;
    if (node.op === 'relu' && alone(producer)) {
      // relu into the convolution or product (bias included) it follows
      const inner = now(producer);
      if ((inner.op === 'conv2d' || inner.op === 'matmul') && !(inner as Tensor<'conv2d' | 'matmul'>).attrs.relu) {
        return makeNode(opDef(inner.op) as never, inner.inputs, { ...inner.attrs, relu: true } as never);
      }
    }
    if (node.op === 'add') {
      // matmul(a, b) + bias[N], either way round, into the product
      const [x, y] = node.inputs.map(now);
      const [m, bias, original] = x.op === 'matmul' ? [x, y, node.inputs[0]] : [y, x, node.inputs[1]];
      const attrs = (m as Tensor<'matmul'>).attrs;
      if (m.op === 'matmul' && alone(original) && !attrs.hasBias && !attrs.relu && bias.shape.length === 1 && bias.shape[0] === m.shape[1]) {
        return makeNode(opDef('matmul'), [...m.inputs, bias], { ...attrs, hasBias: true });
      }
    }
    return null;
  });
}
