import { type Tensor, sizeOf } from '../graph/tensor.js';
import { checkInputCount, makeNode, normalizeAxes, type OpDef } from './op.js';
import { decode, ident, k, offset } from '../kernel/source.js';
import { checkReduceAxes, groupIndex, keptShape, takesFirstMax, takesFirstMaxSource } from './reduce.js';

// The mask is piecewise constant in x (it changes only where the maximum
// changes hands, a set of measure zero): its derivative is 0 wherever it exists.
export const maxMaskOp: OpDef<'maxMask'> = {
  name: 'maxMask',
  shape: (inputs, { axes }) => {
    checkInputCount('maxMask', inputs, 1);
    checkReduceAxes('maxMask', inputs[0], axes);
    return inputs[0];
  },
  vjp: () => [null],
  jvp: () => null, // piecewise constant (see above)
  reference: ([x], { axes }) => {
    const groups = sizeOf(keptShape(x.shape, axes));
    const group = groupIndex(x.shape, axes);
    // Row-major scan: a later element wins only if strictly greater, so ties
    // go to the first; the first NaN wins over everything (reduce.ts).
    const best = new Int32Array(groups).fill(-1);
    for (let i = 0; i < group.length; i++) {
      const gi = group[i];
      if (best[gi] < 0 || takesFirstMax(x.data[i], x.data[best[gi]])) best[gi] = i;
    }
    const out = new Float64Array(x.data.length);
    for (const i of best) out[i] = 1;
    return out;
  },
  // Each element scans its own group in row-major order (a later element wins
  // only if strictly greater, or if it is the group's first NaN: reduce.ts)
  // and is 1 when the winner's position is its own.
  kernel: ({ inputs: [x], attrs: { axes }, ints, grid }) => {
    const coords = x.map((_, d) => ident(`c${d}`));
    const redDims = axes.map((a) => x[a]);
    const count = redDims.reduce((a, b) => a * b, 1);
    const red = axes.map((a) => ident(`r${a}`));
    const scan = x.map((_, d) => (axes.includes(d) ? red[axes.indexOf(d)] : coords[d]));
    const mine = offset(redDims, axes.map((a) => coords[a]));
    return k`${decode(k`i`, x, coords, ints, grid)}
  let best = -3.0e38;
  let bestJ = 0.0;
  for (let j = 0; j < ${count}; j++) {
    ${decode(k`j`, redDims, red, ints)}
    const v = x0[${offset(x, scan)}];
    if (${takesFirstMaxSource(k`v`, k`best`)}) {
      best = v;
      bestJ = j;
    }
  }
  return Math.abs(bestJ - (${mine})) < 0.5 ? 1.0 : 0.0;`;
  },
};

/** 1 at the first maximum (row-major) of each group that `max(x, { axes })` reduces, 0 elsewhere (the first NaN, where the group holds one). */
export function maxMask(x: Tensor, axes?: number | readonly number[]): Tensor<'maxMask'> {
  return makeNode(maxMaskOp, [x], { axes: normalizeAxes('maxMask', axes, x.rank) });
}
