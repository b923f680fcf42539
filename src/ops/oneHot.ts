import type { Tensor } from '../graph/tensor.js';
import { checkInt, makeNode, opError, type OpDef } from './op.js';
import { k } from '../kernel/source.js';

// Labels are class indices, not quantities: the output is piecewise constant
// in them, and a gradient with respect to an index has no meaning.
export const oneHotOp: OpDef<'oneHot'> = {
  name: 'oneHot',
  shape: (inputs, { depth }) => {
    if (inputs.length !== 1) opError('oneHot', `takes 1 input, got ${inputs.length}`);
    checkInt('oneHot', 'depth', depth, 1);
    return [...inputs[0], depth];
  },
  vjp: () => [null],
  reference: ([labels], { depth }) => {
    const n = labels.data.length;
    const out = new Float64Array(n * depth);
    for (let i = 0; i < n; i++) out[i * depth + checkLabel('oneHot', labels.data, i, depth)] = 1;
    return out;
  },
  // Labels are checked to be whole class indices on the host (reference
  // backend, training loop); a device kernel cannot raise an error.
  kernel: ({ attrs: { depth } }) => k`const row = Math.floor((i + 0.5) / ${depth});
  const cls = i - row * ${depth};
  return Math.abs(x0[row] - cls) < 0.5 ? 1.0 : 0.0;`,
};

/**
 * One-hot rows from class indices: `labels` of shape S (usually `[N]`) holds
 * integers in [0, depth) stored as floats; the result has shape `[...S, depth]`,
 * 1 at each label's class and 0 elsewhere. A label that is not such an integer
 * is an error when the graph runs.
 */
export function oneHot(labels: Tensor, depth: number): Tensor<'oneHot'> {
  return makeNode(oneHotOp, [labels], { depth });
}

/** The class index at `labels[i]`, or an error naming the op, the position and the value. */
export function checkLabel(op: string, labels: Float64Array, i: number, depth: number): number {
  const v = labels[i];
  if (!Number.isInteger(v) || v < 0 || v >= depth) {
    opError(op, `label ${i} is ${v}; labels must be integer class indices in [0, ${depth - 1}]`);
  }
  return v;
}
