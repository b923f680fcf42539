/**
 * Rematerialisation. `checkpoint(fn)` is `fn`, except that the backward pass
 * does not keep the activations computed inside it: it recomputes them from
 * fn's arguments when it reaches the region, then runs the region's backward
 * pass on the copies. A deep network split into checkpointed blocks keeps
 * only the blocks' inputs alive between the forward and the backward pass
 * (about √depth of the memory, for about one more forward pass of compute).
 *
 * The node: `checkpoint(y, ...args, ...free)` is `y` (the same buffer on the
 * devices), where `args` are fn's arguments and `free` the tensors fn read
 * from outside (weights, mostly), so that they receive their cotangents
 * through this node. The region is every node between `args` and `y`; it is
 * found again from the node's inputs, so the node carries nothing but the
 * count of `args`.
 */
import { describeValue } from '../graph/error.js';
import { after } from './after.js';
import { opDef } from './index.js';
import { checkInt, makeNode, opError, type OpDef } from './op.js';
import { Tensor, topologicalOrder } from '../graph/tensor.js';

// The value is y's, so forwards the tangent is y's. Backwards, with g the
// cotangent of y: recompute the region on after(arg, g) (the copies are
// scheduled once g exists, not during the forward pass), differentiate the
// copy, and hand the cotangents to args and free; y itself gets none (its
// region would otherwise be differentiated a second time, on the originals).
export const checkpointOp: OpDef<'checkpoint'> = {
  name: 'checkpoint',
  shape: (inputs, { args }) => {
    if (inputs.length < 1) opError('checkpoint', 'takes the region output y first, got no inputs', 'no inputs', 'inputs (y, ...args, ...free)');
    checkInt('checkpoint', 'args', args, 0, inputs.length - 1);
    return inputs[0];
  },
  vjp: (g, node, autodiff) => {
    const { ys, xs } = recomputed(node, g);
    return [null, ...autodiff.vjp(ys, xs, [g])];
  },
  jvp: ([t]) => t,
  reference: ([y]) => y.data.slice(),
  kernel: 'alias',
};

/**
 * The region of a checkpoint node rebuilt on `after(arg, g)`: the copy of y,
 * and the tensors to differentiate it by (the delayed args, then the free
 * tensors, in the node's input order).
 */
function recomputed(node: Tensor<'checkpoint'>, g: Tensor): { ys: Tensor[]; xs: Tensor[] } {
  const [y, ...rest] = node.inputs;
  const args = rest.slice(0, node.attrs.args);
  const free = rest.slice(node.attrs.args);
  const copy = new Map<number, Tensor>();
  const delayed = args.map((a) => {
    const d = after(a, g);
    copy.set(a.id, d);
    return d;
  });
  for (const n of regionOf(y, args)) {
    copy.set(n.id, makeNode(opDef(n.op) as never, n.inputs.map((i) => copy.get(i.id) ?? i), n.attrs as never));
  }
  return { ys: [copy.get(y.id) ?? y], xs: [...delayed, ...free] };
}

/** The nodes computed from `args` on the way to `y`, inputs first (args themselves excluded). */
function regionOf(y: Tensor, args: readonly Tensor[]): Tensor[] {
  const from = new Set(args.map((a) => a.id));
  const region: Tensor[] = [];
  for (const n of topologicalOrder([y])) {
    if (from.has(n.id)) continue;
    if (n.inputs.some((i) => from.has(i.id))) {
      from.add(n.id);
      region.push(n);
    }
  }
  return region;
}

/**
 * `fn` with rematerialisation: the returned function computes the same
 * tensor, but a gradient taken through it recomputes the activations inside
 * `fn` during the backward pass instead of keeping them from the forward
 * pass. Use it on the blocks of a deep network to trade compute for memory:
 *
 * ```ts
 * const block = checkpoint((x) => relu(add(x, conv2d(relu(conv2d(x, w1, { padding: 'same' })), w2, { padding: 'same' }))));
 * let h = x;
 * for (let i = 0; i < 20; i++) h = block(h);
 * const [gw1, gw2] = grad(loss(h), [w1, w2]); // keeps one activation per block
 * ```
 *
 * `fn` may read tensors other than its arguments (weights): they receive
 * their gradients as usual. The recomputation is of the graph `fn` built,
 * not a second call of `fn`, so it is the same computation whatever `fn`
 * does. Forward mode (`jvp`) and the forward pass see no difference.
 */
export function checkpoint<A extends Tensor[]>(fn: (...args: A) => Tensor): (...args: A) => Tensor<'checkpoint'> {
  if (typeof fn !== 'function') opError('checkpoint', `fn must be a function of tensors, got ${describeValue(fn)}`, `fn ${describeValue(fn)}`, 'a function (...xs: Tensor[]) => Tensor');
  return (...args: A): Tensor<'checkpoint'> => {
    args.forEach((a, i) => {
      if (!(a instanceof Tensor)) opError('checkpoint', `argument ${i} is ${describeValue(a)}, expected a Tensor`, `argument ${i} ${describeValue(a)}`, 'a Tensor');
    });
    const y: unknown = fn(...args);
    if (!(y instanceof Tensor)) opError('checkpoint', `fn must return a Tensor, got ${describeValue(y)}`, `a result ${describeValue(y)}`, 'a Tensor');
    return makeNode(checkpointOp, [y, ...args, ...freeTensors(y, args)], { args: args.length });
  };
}

/**
 * What the region reads from outside: the tensors not computed from `args`
 * that a region node reads (y itself when it does not depend on `args`).
 * Constants are left out: they have no gradient to receive.
 */
function freeTensors(y: Tensor, args: readonly Tensor[]): Tensor[] {
  const region = regionOf(y, args);
  const inside = new Set([...args, ...region].map((n) => n.id));
  const free = new Map<number, Tensor>();
  const consider = (t: Tensor): void => {
    if (!inside.has(t.id) && t.op !== 'constant') free.set(t.id, t);
  };
  if (!inside.has(y.id)) consider(y);
  for (const n of region) n.inputs.forEach(consider);
  return [...free.values()];
}
