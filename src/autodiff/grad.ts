/**
 * Reverse-mode automatic differentiation as a graph rewrite. `vjp` walks the
 * graph from the outputs back to the requested inputs and asks each op's VJP
 * rule for its inputs' cotangents; every rule only builds nodes, so the result
 * is an ordinary graph that compiles and runs like any other, and can itself be
 * differentiated (second-order gradients).
 */
import { describeValue, fail } from '../graph/error.js';
import { Tensor, shapeToString, sizeOf, topologicalOrder } from '../graph/tensor.js';
import { broadcastsTo, sameShape } from '../graph/shape.js';
import { add } from '../ops/add.js';
import { ones, zeros } from '../ops/constant.js';
import { opDef } from '../ops/index.js';
import type { Autodiff } from '../ops/op.js';
import { sumTo } from '../ops/sumTo.js';

/**
 * The gradient of the scalar `y` with respect to each of `xs`: symbolic
 * tensors of the same shapes as `xs`. An `x` that `y` does not depend on gets
 * a zero gradient.
 */
export function grad(y: Tensor, xs: readonly Tensor[]): Tensor[] {
  if (!(y instanceof Tensor)) fail('grad', `y must be a Tensor, got ${describeValue(y)}`, `y ${describeValue(y)}`, 'a scalar Tensor');
  checkTensors('grad', 'xs', xs, 'grad(y, [x])');
  if (sizeOf(y.shape) !== 1) {
    fail(
      'grad',
      `the output must be a scalar (one element), got shape ${shapeToString(y.shape)}; ` +
        `reduce it first (e.g. sum or mean) or use vjp(ys, xs, cotangents)`,
      `y of shape ${shapeToString(y.shape)}`,
      'a scalar y (one element)',
    );
  }
  return vjp([y], xs, [ones(y.shape)]);
}

/**
 * Vector-Jacobian products: the cotangents of `xs` given a cotangent for each
 * of `ys` (same shapes as `ys`). Summing over broadcast axes and accumulating
 * the contributions of a node used several times (fan-out) happen here, once.
 */
export function vjp(ys: readonly Tensor[], xs: readonly Tensor[], cotangents: readonly Tensor[]): Tensor[] {
  return reverse(ys, xs, cotangents, false);
}

/**
 * `vjp`, or with `leaves` the partial derivatives with the `xs` as leaves:
 * no cotangent flows past an x into its inputs, so an x that another x is
 * computed from gets only its direct share (the checkpoint op's VJP needs
 * that: its region's arguments are computed from its weights).
 */
function reverse(ys: readonly Tensor[], xs: readonly Tensor[], cotangents: readonly Tensor[], leaves: boolean): Tensor[] {
  checkTensors('vjp', 'ys', ys, 'vjp([y], xs, [c])');
  checkTensors('vjp', 'xs', xs, 'vjp(ys, [x], cotangents)');
  checkTensors('vjp', 'cotangents', cotangents, 'vjp([y], xs, [c])');
  if (ys.length !== cotangents.length) {
    fail(
      'vjp',
      `got ${ys.length} outputs but ${cotangents.length} cotangents; give one cotangent per output`,
      `${cotangents.length} cotangents`,
      `${ys.length} cotangents, one per output`,
    );
  }
  ys.forEach((y, i) => {
    if (!sameShape(y.shape, cotangents[i].shape)) {
      fail(
        'vjp',
        `cotangent ${i} has shape ${shapeToString(cotangents[i].shape)} but output ${i} has shape ${shapeToString(y.shape)}`,
        `cotangent ${i} of shape ${shapeToString(cotangents[i].shape)}`,
        `shape ${shapeToString(y.shape)}, that of output ${i}`,
      );
    }
  });
  const order = topologicalOrder(ys);

  // Only nodes that depend on some x need a cotangent.
  const wanted = new Set(xs.map((x) => x.id));
  const reaches = new Set<number>();
  for (const node of order) {
    if (wanted.has(node.id) || node.inputs.some((i) => reaches.has(i.id))) reaches.add(node.id);
  }

  const cot = new Map<number, Tensor>();
  const accumulate = (node: Tensor, g: Tensor): void => {
    const fitted = sumTo(g, node.shape);
    const prev = cot.get(node.id);
    cot.set(node.id, prev === undefined ? fitted : add(prev, fitted));
  };
  ys.forEach((y, i) => {
    if (reaches.has(y.id)) accumulate(y, cotangents[i]);
  });

  for (let k = order.length - 1; k >= 0; k--) {
    const node = order[k];
    const g = cot.get(node.id);
    if (g === undefined || node.inputs.length === 0 || (leaves && wanted.has(node.id))) continue;
    if (!node.inputs.some((i) => reaches.has(i.id))) continue;
    const grads = checkedCotangents(node, opDef(node.op).vjp(g, node as never, autodiff));
    node.inputs.forEach((inp, i) => {
      const gi = grads[i];
      if (gi !== null && reaches.has(inp.id)) accumulate(inp, gi);
    });
  }
  return xs.map((x) => cot.get(x.id) ?? zeros(x.shape));
}

/** Reverse mode as the op rules see it (the checkpoint op's VJP differentiates its recomputed region by its arguments, as leaves). */
const autodiff: Autodiff = { vjp: (ys, xs, cotangents) => reverse(ys, xs, cotangents, true) };

/**
 * Check that `v` is an array of tensors (`what` names the argument of `op`);
 * a lone Tensor is refused with the spelling to use instead (`hint`), since
 * these functions take and return arrays.
 */
export function checkTensors(op: string, what: string, v: unknown, hint: string): asserts v is readonly Tensor[] {
  if (!Array.isArray(v)) {
    const lone = v instanceof Tensor ? `; for one tensor write ${hint}` : '';
    fail(op, `${what} must be an array of tensors, got ${describeValue(v)}${lone}`, `${what} ${describeValue(v)}`, 'an array of tensors');
  }
  v.forEach((t, i) => {
    if (!(t instanceof Tensor)) fail(op, `${what}[${i}] is ${describeValue(t)}, expected a Tensor`, `${what}[${i}] ${describeValue(t)}`, 'a Tensor');
  });
}

/**
 * A VJP rule's result, checked against its node: one entry per input, each
 * null or a Tensor of that input's shape or of one it broadcasts to (accumulate
 * sums it back). A rule that breaks this is a bug in the op, named in the error,
 * rather than a silently zero or misshapen gradient.
 */
function checkedCotangents(node: Tensor, grads: readonly (Tensor | null | undefined)[]): readonly (Tensor | null)[] {
  const rule = `${node.op} VJP`;
  if (!Array.isArray(grads) || grads.length !== node.inputs.length) {
    const got = Array.isArray(grads) ? `${grads.length} cotangents` : `${typeof grads} instead of an array of cotangents`;
    throw new Error(`${rule}: returned ${got} for ${node.inputs.length} input${node.inputs.length === 1 ? '' : 's'} (a bug in the op's VJP rule)`);
  }
  return grads.map((gi, i) => {
    if (gi === null) return null;
    if (!(gi instanceof Tensor)) {
      throw new Error(`${rule}: cotangent ${i} is ${gi === undefined ? 'undefined' : typeof gi}, expected a Tensor or null (a bug in the op's VJP rule)`);
    }
    const shape = node.inputs[i].shape;
    if (!broadcastsTo(shape, gi.shape)) {
      throw new Error(
        `${rule}: cotangent ${i} has shape ${shapeToString(gi.shape)} but input ${i} has shape ${shapeToString(shape)}; ` +
          `a cotangent must have its input's shape or one that shape broadcasts to (a bug in the op's VJP rule)`,
      );
    }
    return gi;
  });
}
