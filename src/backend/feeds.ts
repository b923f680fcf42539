/** Feed validation shared by every backend: `run` must refuse bad feeds before any work starts. */
import { type Shape, type Tensor, shapeToString, sizeOf } from '../graph/tensor.js';
import { sameShape } from '../graph/shape.js';

/** A value fed to a graph input: a flat array in row-major order, or one with its shape. */
export type FeedValue = ArrayLike<number> | { readonly shape: readonly number[]; readonly data: ArrayLike<number> };
export type Feeds = Readonly<Record<string, FeedValue>>;

export interface InputSpec {
  readonly name: string;
  readonly shape: Shape;
}

/** The graph's inputs by name; two input nodes may share a name only if they agree on the shape. */
export function collectInputs(nodes: readonly Tensor[]): InputSpec[] {
  const byName = new Map<string, InputSpec>();
  for (const node of nodes) {
    if (node.op !== 'input') continue;
    const name = (node as Tensor<'input'>).attrs.name;
    const prev = byName.get(name);
    if (prev && !sameShape(prev.shape, node.shape)) {
      throw new Error(`compile: two inputs are named "${name}" with different shapes ${shapeToString(prev.shape)} and ${shapeToString(node.shape)}`);
    }
    byName.set(name, { name, shape: node.shape });
  }
  return [...byName.values()];
}

/** Check every feed against the inputs and return the flat data by input name. */
export function validateFeeds(inputs: readonly InputSpec[], feeds: Feeds): Map<string, ArrayLike<number>> {
  if (feeds === null || typeof feeds !== 'object') {
    throw new Error(`run: feeds must be an object mapping input names to arrays, got ${feeds === null ? 'null' : typeof feeds}`);
  }
  const names = new Set(inputs.map((i) => i.name));
  for (const key of Object.keys(feeds)) {
    if (!names.has(key)) {
      const list = inputs.length ? inputs.map((i) => `"${i.name}"`).join(', ') : 'none';
      throw new Error(`run: unknown feed "${key}"; the graph's inputs are ${list}`);
    }
  }
  const out = new Map<string, ArrayLike<number>>();
  for (const { name, shape } of inputs) {
    const v = feeds[name];
    if (v === undefined || v === null) {
      throw new Error(`run: missing feed for input "${name}" (shape ${shapeToString(shape)})`);
    }
    let data: ArrayLike<number>;
    if ('data' in (v as object) && 'shape' in (v as object)) {
      const fv = v as { shape: readonly number[]; data: ArrayLike<number> };
      if (!sameShape(fv.shape, shape)) {
        throw new Error(`run: feed "${name}" has shape ${shapeToString(fv.shape)} but the input expects ${shapeToString(shape)}`);
      }
      data = fv.data;
    } else {
      data = v as ArrayLike<number>;
    }
    if (typeof data.length !== 'number') {
      throw new Error(`run: feed "${name}" must be an array or typed array of numbers`);
    }
    const expected = sizeOf(shape);
    if (data.length !== expected) {
      throw new Error(`run: feed "${name}" has ${data.length} values but input "${name}" has shape ${shapeToString(shape)} (${expected} values)`);
    }
    for (let i = 0; i < data.length; i++) {
      const x = data[i];
      if (typeof x !== 'number' || !Number.isFinite(x)) {
        throw new Error(`run: feed "${name}" holds ${typeof x === 'number' ? x : typeof x} at index ${i}; feeds must be finite numbers`);
      }
    }
    out.set(name, data);
  }
  return out;
}
