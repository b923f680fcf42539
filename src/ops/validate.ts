/**
 * Re-checking a graph before it is compiled. The op functions validate every
 * node they build, but `Tensor` is exported and its constructor takes any op
 * name, inputs and attributes: a hand-built node could carry a negative
 * stride or pad, which the kernels would read as a validated integer and
 * compute something wrong. So compile runs each node's shape rule again (the
 * rule also checks every attribute its kernel reads) and compares the result
 * with the shape the node records.
 */
import { describeValue, fail, StriateError } from '../graph/error.js';
import { sameShape } from '../graph/shape.js';
import { type Shape, Tensor, shapeToString } from '../graph/tensor.js';
import type { OpAttrs, OpName } from './attrs.js';
import { checkConstantValue } from './constant.js';
import { ops } from './index.js';
import { checkInputName } from './input.js';
import { checkInputCount } from './op.js';

/**
 * What a graph's leaves must hold instead of a shape rule: their shape comes
 * from the node itself (the constructor checked it), so only the attributes
 * are left to check against it.
 */
const leafChecks: { readonly [O in 'input' | 'constant']: (attrs: OpAttrs[O], shape: Shape) => void } = {
  input: ({ name }) => checkInputName(name),
  constant: ({ value }, shape) => checkConstantValue(value, shape),
};

/**
 * Check that every node of `nodes` is what its op would have built: a Tensor
 * of a known op, with Tensor inputs, attributes that its shape rule accepts
 * for those inputs, and the shape that rule gives. Throws a StriateError
 * naming the first node that is not (`conv2d: node %12 is invalid: stride must
 * be a pair [h, w] of integers >= 1, got [-1,1]`); its `op` is the node's op.
 *
 * ```ts
 * validateGraph(topologicalOrder(outputs));
 * ```
 */
export function validateGraph(nodes: readonly Tensor[]): void {
  for (const node of nodes) validateNode(node);
}

function validateNode(node: unknown): void {
  if (!(node instanceof Tensor)) {
    fail('compile', `a graph node is ${describeValue(node)}, not a Tensor`, describeValue(node), 'a Tensor');
  }
  const { op } = node;
  const name = `%${node.id} ${String(op)}`;
  if (!isOpName(op)) {
    const known = Object.keys(ops);
    fail(String(op), `node ${name} has an unknown op ${describeValue(op)}`, `op ${describeValue(op)}`, `one of ${known.join(', ')}`);
  }
  const where = `node %${node.id} is invalid: `;
  if (typeof node.attrs !== 'object' || node.attrs === null) {
    fail(op, `${where}its attributes are ${describeValue(node.attrs)}`, `attributes ${describeValue(node.attrs)}`, `the attributes of a ${op} node`);
  }
  // The constructor refuses inputs that are not Tensors; a node made without it (Object.create) is caught here.
  node.inputs.forEach((t, i) => {
    if (!(t instanceof Tensor)) fail(op, `${where}input ${i} is ${describeValue(t)}, expected a Tensor`, describeValue(t), 'a Tensor');
  });
  const expected = rethrownFor(op, where, () => ruleShape(op, node));
  if (!sameShape(expected, node.shape)) {
    fail(
      op,
      `${where}it records shape ${shapeToString(node.shape)} but ${op} of inputs ` +
        `${node.inputs.map((t) => shapeToString(t.shape)).join(', ') || '(none)'} gives ${shapeToString(expected)}`,
      `shape ${shapeToString(node.shape)}`,
      `shape ${shapeToString(expected)}`,
    );
  }
}

function isOpName(v: unknown): v is OpName {
  return typeof v === 'string' && Object.hasOwn(ops, v);
}

/** The shape `op` gives the node's inputs and attributes (a leaf's own, once its attributes fit it). */
function ruleShape(op: OpName, node: Tensor): Shape {
  if (op === 'input' || op === 'constant') {
    checkInputCount(op, node.inputs, 0);
    leafChecks[op](node.attrs as never, node.shape);
    return node.shape;
  }
  return ops[op].shape(
    node.inputs.map((t) => t.shape),
    node.attrs as never,
  );
}

/**
 * Run `check`, turning what it throws into a StriateError that names the
 * node: a shape rule's own StriateError keeps its fields; anything else (a
 * rule reading an attribute of the wrong kind) becomes one, with its cause.
 */
function rethrownFor<T>(op: string, where: string, check: () => T): T {
  try {
    return check();
  } catch (e) {
    if (e instanceof StriateError) {
      const text = e.message.startsWith(`${e.op}: `) ? e.message.slice(e.op.length + 2) : e.message;
      fail(op, `${where}${text}`, e.got, e.expected, e);
    }
    const text = e instanceof Error ? e.message : String(e);
    fail(op, `${where}its attributes do not fit the op (${text})`, 'attributes of the wrong kind', `the attributes of a ${op} node`, e);
  }
}
