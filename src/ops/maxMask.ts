import { type Shape, type Tensor, shapeToString, sizeOf } from '../graph/tensor.js';
import { makeNode, normalizeAxes, opError, type OpDef } from './op.js';
import { groupIndex, keptShape } from './reduce.js';

// The mask is piecewise constant in x (it changes only where the maximum
// changes hands, a set of measure zero): its derivative is 0 wherever it exists.
export const maxMaskOp: OpDef<'maxMask'> = {
  name: 'maxMask',
  shape: (inputs, { axes }) => {
    if (inputs.length !== 1) opError('maxMask', `takes 1 input, got ${inputs.length}`);
    checkReduceAxes('maxMask', inputs[0], axes);
    return inputs[0];
  },
  vjp: () => [null],
  reference: ([x], { axes }) => {
    const groups = sizeOf(keptShape(x.shape, axes));
    const group = groupIndex(x.shape, axes);
    // Row-major scan: a later element wins only if strictly greater, so ties go to the first.
    const best = new Int32Array(groups).fill(-1);
    for (let i = 0; i < group.length; i++) {
      const k = group[i];
      if (best[k] < 0 || x.data[i] > x.data[best[k]]) best[k] = i;
    }
    const out = new Float64Array(x.data.length);
    for (const i of best) out[i] = 1;
    return out;
  },
};

/** 1 at the first maximum (row-major) of each group that `max(x, { axes })` reduces, 0 elsewhere. */
export function maxMask(x: Tensor, axes?: number | readonly number[]): Tensor<'maxMask'> {
  return makeNode(maxMaskOp, [x], { axes: normalizeAxes('maxMask', axes, x.rank) });
}

/** Reduction axes as the attributes hold them: sorted, distinct, in [0, rank). */
export function checkReduceAxes(op: string, x: Shape, axes: readonly number[]): void {
  const ok =
    Array.isArray(axes) && axes.every((a, i) => Number.isInteger(a) && a >= 0 && a < x.length && (i === 0 || a > axes[i - 1]));
  if (!ok) {
    opError(op, `axes ${JSON.stringify(axes)} must be sorted, distinct axes in [0, ${x.length - 1}] of shape ${shapeToString(x)}`);
  }
}
