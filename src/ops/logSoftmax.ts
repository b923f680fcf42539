import type { Tensor } from '../graph/tensor.js';
import { mul } from './mul.js';
import { makeNode, type OpDef } from './op.js';
import { k } from '../kernel/source.js';
import { checkAxisOp, forEachLine, lineSource, lineStats, resolveAxis, softmax } from './softmax.js';
import { sub } from './sub.js';
import { sum } from './sum.js';

// y = x - log Σ exp(x) along the axis; dy_i = dx_i - Σ_j softmax(x)_j dx_j,
// so the VJP is g - softmax(x) ⊙ Σ g.
export const logSoftmaxOp: OpDef<'logSoftmax'> = {
  name: 'logSoftmax',
  shape: (inputs, { axis }) => checkAxisOp('logSoftmax', inputs, axis),
  vjp: (g, { inputs: [x], attrs: { axis } }) => [sub(g, mul(softmax(x, axis), sum(g, { axes: axis, keepDims: true })))],
  // d logSoftmax(x) = dx - Σ_axis softmax(x) dx (the VJP's transpose: the sum now weighs dx by s).
  jvp: ([t], { inputs: [x], attrs: { axis } }) => sub(t!, sum(mul(softmax(x, axis), t!), { axes: axis, keepDims: true })),
  reference: ([x], { axis }) => {
    const out = new Float64Array(x.data.length);
    const d = x.data;
    forEachLine(x.shape, axis, (base, n, step) => {
      // log Σ exp(x) = m + log Σ exp(x - m), with m the maximum: the sum lies in [1, n].
      const { m, total } = lineStats(d, base, n, step);
      const logTotal = Math.log(total);
      for (let t = 0, p = base; t < n; t++, p += step) out[p] = d[p] - m - logTotal;
    });
    return out;
  },
  kernel: ({ inputs: [x], attrs: { axis } }) => k`${lineSource(x, axis)}
  return x0[i] - m - Math.log(total);`,
};

/** log(softmax(x)) along `axis` (default the last), computed stably as x - max - log Σ exp(x - max). */
export function logSoftmax(x: Tensor, axis = -1): Tensor<'logSoftmax'> {
  return makeNode(logSoftmaxOp, [x], { axis: resolveAxis('logSoftmax', x, axis) });
}
