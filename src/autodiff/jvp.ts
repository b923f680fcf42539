/**
 * Forward-mode automatic differentiation as a graph rewrite. `jvp` walks the
 * graph from the inputs being differentiated towards the outputs and asks
 * each op's JVP rule for its output's tangent given its inputs' tangents, so
 * one pass gives J·t for a whole direction t at about the cost of one forward
 * pass (the double-VJP trick costs two reverse passes). Like `vjp`, every
 * rule only builds nodes: the result is an ordinary graph that compiles on
 * every backend and can be differentiated again (`jvp` of `grad` gives
 * Hessian-vector products by forward-over-reverse).
 */
import { describeValue, fail } from '../graph/error.js';
import { broadcastsTo, sameShape } from '../graph/shape.js';
import { Tensor, shapeToString, topologicalOrder } from '../graph/tensor.js';
import { broadcastTo } from '../ops/broadcastTo.js';
import { zeros } from '../ops/constant.js';
import { opDef } from '../ops/index.js';
import { checkTensors } from './grad.js';

/**
 * Jacobian-vector products: the tangent of each of `ys` when each of `xs`
 * moves along its tangent (same shapes as `xs`), i.e. J·t. A `y` that does
 * not depend on any `x` gets a zero tangent.
 *
 * The `xs` are independent variables: none may be computed from another (a
 * tangent given for a computed tensor would contradict the one its inputs
 * give it), and none may appear twice.
 *
 * ```ts
 * const x = input('x', [3]);
 * const t = input('t', [3]);
 * const [dy] = jvp([mul(x, x)], [x], [t]); // 2 x t, elementwise
 * ```
 */
export function jvp(ys: readonly Tensor[], xs: readonly Tensor[], tangents: readonly Tensor[]): Tensor[] {
  checkTensors('jvp', 'ys', ys, 'jvp([y], xs, tangents)');
  checkTensors('jvp', 'xs', xs, 'jvp(ys, [x], [t])');
  checkTensors('jvp', 'tangents', tangents, 'jvp(ys, [x], [t])');
  if (xs.length !== tangents.length) {
    fail('jvp', `got ${xs.length} inputs but ${tangents.length} tangents; give one tangent per input`, `${tangents.length} tangents`, `${xs.length} tangents, one per input`);
  }
  xs.forEach((x, i) => {
    if (!sameShape(x.shape, tangents[i].shape)) {
      fail(
        'jvp',
        `tangent ${i} has shape ${shapeToString(tangents[i].shape)} but input ${i} has shape ${shapeToString(x.shape)}`,
        `tangent ${i} of shape ${shapeToString(tangents[i].shape)}`,
        `shape ${shapeToString(x.shape)}, that of input ${i}`,
      );
    }
  });
  checkIndependent(xs);

  const tangent = new Map<number, Tensor>();
  xs.forEach((x, i) => tangent.set(x.id, tangents[i]));
  for (const node of topologicalOrder(ys)) {
    if (tangent.has(node.id) || node.inputs.length === 0) continue;
    const ts = node.inputs.map((inp) => tangent.get(inp.id) ?? null);
    if (ts.every((t) => t === null)) continue;
    const t = checkedTangent(node, opDef(node.op).jvp(ts, node as never));
    if (t !== null) tangent.set(node.id, sameShape(t.shape, node.shape) ? t : broadcastTo(t, node.shape));
  }
  return ys.map((y) => tangent.get(y.id) ?? zeros(y.shape));
}

/** Refuse `xs` that repeat a tensor or compute one from another (see `jvp`). */
function checkIndependent(xs: readonly Tensor[]): void {
  const index = new Map<number, number>();
  xs.forEach((x, i) => {
    const first = index.get(x.id);
    if (first !== undefined) fail('jvp', `xs[${i}] is the same tensor as xs[${first}]; give each input once`, `xs[${i}] = xs[${first}]`, 'distinct tensors');
    index.set(x.id, i);
  });
  xs.forEach((x, i) => {
    for (const node of topologicalOrder(x.inputs)) {
      const j = index.get(node.id);
      if (j !== undefined) {
        fail(
          'jvp',
          `xs[${i}] is computed from xs[${j}]; differentiate with respect to independent tensors (inputs, parameters), ` +
            `and let jvp carry the tangent from one to the other`,
          `xs[${i}] (${x.op}) depending on xs[${j}]`,
          'independent tensors',
        );
      }
    }
  });
}

/**
 * A JVP rule's result, checked against its node: null or a Tensor of the
 * node's shape or of one that broadcasts to it. A rule that breaks this is a
 * bug in the op, named in the error, rather than a silently wrong tangent.
 */
function checkedTangent(node: Tensor, t: unknown): Tensor | null {
  const rule = `${node.op} JVP`;
  if (t === null) return null;
  if (!(t instanceof Tensor)) throw new Error(`${rule}: returned ${describeValue(t)}, expected a Tensor or null (a bug in the op's JVP rule)`);
  if (!broadcastsTo(t.shape, node.shape)) {
    throw new Error(
      `${rule}: the tangent has shape ${shapeToString(t.shape)} but the output has shape ${shapeToString(node.shape)}; ` +
        `a tangent must have its output's shape or one that broadcasts to it (a bug in the op's JVP rule)`,
    );
  }
  return t;
}
