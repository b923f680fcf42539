/**
 * A graph as plain data, to hand to another thread: `graphToMessage` lists
 * the nodes reachable from some outputs (each after its inputs) as op,
 * attributes, shape and the indices of its inputs; `graphFromMessage` builds
 * the same graph of new nodes from such a list. Structured cloning (a
 * worker's `postMessage`) carries the list as it is.
 *
 * Only graphs whose attributes are data travel: an op whose attributes hold
 * a function (a `customVjp` rule) cannot, and is refused naming the node.
 * The receiver builds nodes with `new Tensor` and must `compile` them, which
 * checks every node against its op's rules again, so a message never reaches
 * a kernel unchecked.
 */
import type { OpAttrs, OpName } from '../ops/attrs.js';
import { describeValue, fail } from './error.js';
import { type Shape, Tensor, topologicalOrder } from './tensor.js';

/** One node of a {@link GraphMessage}. */
export interface NodeMessage {
  /** The node's op. */
  readonly op: OpName;
  /** The op's attributes (plain data). */
  readonly attrs: unknown;
  /** The node's shape. */
  readonly shape: Shape;
  /** The nodes it reads, as indices of earlier entries of `nodes`. */
  readonly inputs: readonly number[];
}

/** A graph as plain data; see the file comment. */
export interface GraphMessage {
  /** Every node, each after the nodes it reads. */
  readonly nodes: readonly NodeMessage[];
  /** The graph's outputs, as indices of `nodes`, in their order. */
  readonly outputs: readonly number[];
}

/** The graph that computes `outputs`, as plain data (see the file comment); `who` names the caller in errors. */
export function graphToMessage(who: string, outputs: readonly Tensor[]): GraphMessage {
  const order = topologicalOrder(outputs);
  const index = new Map<number, number>();
  const nodes = order.map((t, i) => {
    index.set(t.id, i);
    const data = findNonData(t.attrs);
    if (data !== null) {
      fail(
        who,
        `node %${t.id} (${t.op}) has ${data} among its attributes, which cannot be sent to another thread; ` +
          'run graphs with such ops (customVjp) on one thread',
        `${t.op} with ${data}`,
        'a graph whose attributes are numbers, strings, booleans and arrays of them',
      );
    }
    return { op: t.op, attrs: t.attrs, shape: t.shape, inputs: t.inputs.map((x) => index.get(x.id)!) };
  });
  return { nodes, outputs: outputs.map((t) => index.get(t.id)!) };
}

/** The outputs of the graph a {@link GraphMessage} describes, as new nodes. Compile them before trusting them. */
export function graphFromMessage(who: string, message: GraphMessage): Tensor[] {
  const bad = (what: string): never => fail(who, `not a graph message: ${what}`, what, 'a message made by graphToMessage');
  if (message === null || typeof message !== 'object' || !Array.isArray(message.nodes) || !Array.isArray(message.outputs)) bad(describeValue(message));
  const built: Tensor[] = [];
  for (const [i, node] of message.nodes.entries()) {
    if (node === null || typeof node !== 'object' || !Array.isArray(node.inputs)) bad(`node ${i} is ${describeValue(node)}`);
    const inputs = node.inputs.map((j) => (Number.isInteger(j) && j >= 0 && j < i ? built[j] : bad(`node ${i} reads ${describeValue(j)}`)));
    built.push(new Tensor(node.op, inputs, node.attrs as Readonly<OpAttrs[OpName]>, node.shape));
  }
  return message.outputs.map((j) => (Number.isInteger(j) && j >= 0 && j < built.length ? built[j] : bad(`output ${describeValue(j)}`)));
}

/** What in an attribute value is not plain data (a function, a tensor), or null. */
function findNonData(v: unknown): string | null {
  if (typeof v === 'function') return 'a function';
  if (v === null || typeof v !== 'object') return null;
  if (v instanceof Tensor) return 'a tensor';
  for (const e of Array.isArray(v) ? v : Object.values(v)) {
    const found = findNonData(e);
    if (found !== null) return found;
  }
  return null;
}
