/**
 * The graph node. A `Tensor` is a frozen, symbolic value: the op that makes it,
 * the tensors it reads, the op's attributes and its static shape. Nothing is
 * computed when a Tensor is built; `compile()` turns a set of tensors into a
 * runnable function. Rewrites (autodiff, fusion) make new Tensors that share
 * the old ones, never modify them.
 */
import type { OpAttrs, OpName } from '../ops/attrs.js';
import { describeValue, fail } from './error.js';
import { checkShape, type Shape, shapeToString, sizeOf } from './shape.js';

export { type Shape, shapeToString, sizeOf } from './shape.js';
/** A tensor's element type. Devices compute in float32; the reference backend computes the same graph in float64. */
export type DType = 'float32';

let nextId = 0;

/**
 * A node of a graph: the value that op `O` computes from `inputs`. Build
 * tensors with the op functions (`input`, `conv2d`, `add`, …), never with
 * `new`; run them with `compile`.
 *
 * ```ts
 * const y = relu(add(input('x', [2, 3]), 1));
 * y.op;         // 'relu'
 * y.shape;      // [2, 3]
 * `${y}`;       // the graph, one line per node (see formatGraph)
 * ```
 */
export class Tensor<O extends OpName = OpName> {
  /** Unique in this process and increasing in creation order, so a node's inputs have smaller ids; `%id` in {@link formatGraph}. */
  readonly id: number;
  /** The element type (only float32). */
  readonly dtype: DType = 'float32';

  /** The tensors the op reads, in the order of the op's arguments. */
  readonly inputs: readonly Tensor[];
  /** The op's attributes (see {@link OpAttrs}), deeply frozen. */
  readonly attrs: Readonly<OpAttrs[O]>;
  /** The static shape, outermost axis first; `[]` for a scalar. */
  readonly shape: Shape;

  /**
   * The inputs, attributes and shape are copied and deeply frozen, so that
   * neither the caller's arrays nor a later `node.attrs.stride[0] = 2` can
   * change what a built node computes. Throws a `StriateError` when the
   * inputs are not an array of tensors or the shape is not an array of
   * positive integers with at most 2^53 - 1 elements; whether the node is a
   * valid `op` of its inputs is checked by the op functions, and again by
   * `compile` for nodes built with `new`.
   */
  constructor(
    /** The op that computes this tensor. */
    readonly op: O,
    inputs: readonly Tensor[],
    attrs: Readonly<OpAttrs[O]>,
    shape: Shape,
  ) {
    const name = typeof op === 'string' ? op : 'Tensor';
    checkInputs(name, inputs);
    checkShape(name, shape);
    this.id = nextId++;
    this.inputs = Object.freeze([...inputs]);
    this.attrs = frozenCopy(attrs, `${op} attributes`);
    this.shape = Object.freeze([...shape]);
    Object.freeze(this);
  }

  /** Number of elements. */
  get size(): number {
    return sizeOf(this.shape);
  }

  /** Number of axes: `shape.length`, 0 for a scalar. */
  get rank(): number {
    return this.shape.length;
  }

  /** A readable listing of the whole graph that computes this tensor, one line per node. */
  toString(): string {
    return formatGraph([this]);
  }
}

/** Check that a node's `inputs` are an array of tensors; `op` names the node for the error. */
export function checkInputs(op: string, inputs: unknown): asserts inputs is readonly Tensor[] {
  if (!Array.isArray(inputs)) fail(op, `inputs must be an array of tensors, got ${describeValue(inputs)}`, `inputs ${describeValue(inputs)}`, 'an array of tensors');
  inputs.forEach((t, i) => {
    if (!(t instanceof Tensor)) fail(op, `input ${i} is ${describeValue(t)}, expected a Tensor`, describeValue(t), 'a Tensor');
  });
}

/**
 * A deeply frozen copy of an attribute value: numbers, strings, booleans,
 * arrays and plain objects of them. Typed arrays cannot be frozen, so they are
 * refused (a constant's values are a frozen number array).
 */
function frozenCopy<T>(v: T, what: string): T {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return Object.freeze(v.map((e) => frozenCopy(e, what))) as T;
  if (ArrayBuffer.isView(v)) throw new Error(`${what}: a typed array cannot be frozen into a graph node (a bug in Striate)`);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(v)) out[key] = frozenCopy(value, what);
  return Object.freeze(out) as T;
}

/**
 * Nodes reachable from `outputs`, every node after all of its inputs
 * (depth-first post-order, iterative so that deep graphs such as a 150-layer
 * ResNet do not overflow the stack).
 */
export function topologicalOrder(outputs: readonly Tensor[]): Tensor[] {
  const order: Tensor[] = [];
  const done = new Set<number>();
  const onStack = new Set<number>();
  for (const root of outputs) {
    if (done.has(root.id)) continue;
    const stack: [Tensor, number][] = [[root, 0]];
    onStack.add(root.id);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const [node, next] = top;
      if (next < node.inputs.length) {
        top[1] = next + 1;
        const child = node.inputs[next];
        if (!done.has(child.id) && !onStack.has(child.id)) {
          onStack.add(child.id);
          stack.push([child, 0]);
        }
      } else {
        stack.pop();
        onStack.delete(node.id);
        done.add(node.id);
        order.push(node);
      }
    }
  }
  return order;
}

function formatAttrValue(v: unknown): string {
  if (typeof v === 'function') return `<function${v.name ? ` ${v.name}` : ''}>`;
  if (v instanceof Tensor) return `%${v.id}`;
  if (ArrayBuffer.isView(v)) return `<${(v as unknown as ArrayLike<number>).length} values>`;
  if (Array.isArray(v)) return `[${v.map(formatAttrValue).join(',')}]`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (v !== null && typeof v === 'object') {
    return `{${Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => `${k}: ${formatAttrValue(x)}`)
      .join(', ')}}`;
  }
  return String(v);
}

/** One line per node: `%id = op(%in, ...) {attrs} : [shape]`, inputs first. */
export function formatGraph(outputs: readonly Tensor[]): string {
  const lines = topologicalOrder(outputs).map((t) => {
    const attrs = Object.entries(t.attrs as object).filter(([, v]) => v !== undefined);
    const attrText = attrs.length ? ` ${formatAttrValue(Object.fromEntries(attrs))}` : '';
    const args = t.inputs.map((i) => `%${i.id}`).join(', ');
    return `%${t.id} = ${t.op}(${args})${attrText} : ${shapeToString(t.shape)}`;
  });
  return lines.join('\n');
}
