/**
 * The gradient of softmaxCrossEntropy with index labels wrt the logits, in
 * one kernel: d_ic = (softmax(x)_ic - [labels_i = c]) p_i, with p_i the
 * loss's cotangent for row i (g_i for 'none', g for 'sum', g / N for
 * 'mean'). It replaces five small kernels (softmax, oneHot, sub and two
 * products), each a step, and on the threaded backends a barrier, of every
 * training step.
 *
 * Inputs (logits [N, C], labels [N], g: [N] for 'none', [] otherwise).
 */
import { type Shape, type Tensor, shapeToString } from '../graph/tensor.js';
import { sameShape } from '../graph/shape.js';
import type { OpAttrs } from './attrs.js';
import { addAll } from './add.js';
import { mul } from './mul.js';
import { checkConstantLabels, isClassIndex, labelTestSource, NAN_UNLESS_KNOWN, oneHot } from './oneHot.js';
import { makeNode, opError, type OpDef } from './op.js';
import { reshape } from './reshape.js';
import { lineStats, lineStatsSource, softmax } from './softmax.js';
import { sub } from './sub.js';
import { sum } from './sum.js';
import { decode, float, k } from '../kernel/source.js';

const OP = 'softmaxCrossEntropyBackward';
type Attrs = OpAttrs['softmaxCrossEntropyBackward'];

/** Refuse a reduction other than the three softmaxCrossEntropy knows (the kernels branch on it). */
export function checkReduction(op: string, reduction: unknown): void {
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none') {
    const shown = JSON.stringify(reduction) ?? String(reduction);
    opError(op, `reduction must be "mean", "sum" or "none", got ${shown}`, `reduction ${shown}`, '"mean", "sum" or "none"');
  }
}

function gShape(n: number, reduction: Attrs['reduction']): Shape {
  return reduction === 'none' ? [n] : [];
}

/** p, the per-row factor, as a node that broadcasts against [N, C]. */
function perRow(g: Tensor, n: number, reduction: Attrs['reduction']): Tensor {
  if (reduction === 'none') return reshape(g, [n, 1]);
  return reduction === 'mean' && n > 1 ? mul(g, 1 / n) : g;
}

// B(x, l, g) = (s - y) p with s = softmax(x) along rows, y = oneHot(l), p per row.
// For a cotangent G of B:
//   d/dx_ij: sum_c G_ic p_i ds_ic/dx_ij = p_i s_ij (G_ij - sum_c G_ic s_ic),
//            i.e. s (q - rowsum(q s)) with q = G p;
//   d/dg:    r_i = sum_c G_ic (s_ic - y_ic), summed as p depends on g
//            (r for 'none', sum(r) for 'sum', sum(r) / N for 'mean');
//   the labels get none.
export const softmaxCrossEntropyBackwardOp: OpDef<'softmaxCrossEntropyBackward'> = {
  name: OP,
  shape: (inputs, { reduction }) => {
    if (inputs.length !== 3) opError(OP, `takes 3 inputs (logits, labels, g), got ${inputs.length}`, `${inputs.length} inputs`, '3 inputs (logits, labels, g)');
    const [logits, labels, g] = inputs;
    checkReduction(OP, reduction);
    if (logits.length !== 2) opError(OP, `logits must have shape [N, C], got ${shapeToString(logits)}`, `logits ${shapeToString(logits)}`, 'logits [N, C]');
    const [n] = logits;
    if (labels.length !== 1 || labels[0] !== n) {
      opError(OP, `labels must have shape [${n}], got ${shapeToString(labels)}`, `labels ${shapeToString(labels)}`, `labels [${n}]`);
    }
    const want = gShape(n, reduction);
    if (!sameShape(g, want)) {
      opError(OP, `g must have shape ${shapeToString(want)} for reduction "${reduction}", got ${shapeToString(g)}`, `g ${shapeToString(g)}`, `g ${shapeToString(want)}`);
    }
    return logits;
  },
  vjp: (gg, { inputs: [logits, labels, g], attrs: { reduction } }) => {
    const [n, c] = logits.shape;
    const s = softmax(logits, 1);
    const q = mul(gg, perRow(g, n, reduction));
    const dx = mul(s, sub(q, sum(mul(q, s), { axes: 1, keepDims: true })));
    const r = sum(mul(gg, sub(s, oneHot(labels, c))), { axes: 1 });
    const dg = reduction === 'none' ? r : reduction === 'mean' && n > 1 ? mul(sum(r), 1 / n) : sum(r);
    return [dx, null, dg];
  },
  // Forwards: dB = p ds + (s - y) dp, with ds = s (dx - rowsum(s dx)) (softmax's JVP);
  // B is linear in g, so (s - y) dp = B(x, labels, dg). The labels get no tangent.
  jvp: ([tx, , tg], { inputs: [logits, labels, g], attrs: { reduction } }) => {
    const [n] = logits.shape;
    const s = softmax(logits, 1);
    const ds = tx && mul(s, sub(tx, sum(mul(s, tx), { axes: 1, keepDims: true })));
    return addAll([ds && mul(ds, perRow(g, n, reduction)), tg && softmaxCrossEntropyBackward(logits, labels, tg, reduction)]);
  },
  reference: ([logits, labels, g], { reduction }) => {
    const [n, c] = logits.shape;
    const x = logits.data;
    const out = new Float64Array(n * c);
    for (let i = 0; i < n; i++) {
      const row = i * c;
      const { m, total } = lineStats(x, row, c, 1);
      const label = labels.data[i];
      if (!isClassIndex(label, c)) {
        out.fill(NaN, row, row + c);
        continue;
      }
      const p = reduction === 'none' ? g.data[i] : reduction === 'mean' ? g.data[0] / n : g.data[0];
      for (let t = 0; t < c; t++) out[row + t] = (Math.exp(x[row + t] - m) / total - (t === label ? 1 : 0)) * p;
    }
    return out;
  },
  // One thread per logit: its row's max and sum of exponentials (C is a
  // class count, small), then its own term; NaN where the row's label is
  // not a class index.
  kernel: ({ inputs: [[n, c]], attrs: { reduction }, out, ints, grid }) => {
    const scale = reduction === 'none' ? k`x2[row]` : reduction === 'mean' && n > 1 ? k`x2[0] * ${float(1 / n)}` : k`x2[0]`;
    return k`${decode(k`i`, out, [k`row`, k`col`], ints, grid)}
  ${lineStatsSource(k`row * ${c}`, c, 1)}
  const p = Math.exp(x0[row * ${c} + col] - m) / total;
  const label = x1[row];
  ${labelTestSource(k`label`, c)}
  const y = Math.abs(label - col) < 0.5 ? 1.0 : 0.0;
  return known > 0.5 ? (p - y) * ${scale} : ${NAN_UNLESS_KNOWN};`;
  },
};

/**
 * The gradient of softmaxCrossEntropy(logits, labels, { reduction }) wrt the
 * logits, for the loss's cotangent g. Labels are checked as
 * {@link softmaxCrossEntropy}'s are; a row whose computed label is not a
 * class index is all NaN.
 */
export function softmaxCrossEntropyBackward(logits: Tensor, labels: Tensor, g: Tensor, reduction: Attrs['reduction']): Tensor<'softmaxCrossEntropyBackward'> {
  const node = makeNode(softmaxCrossEntropyBackwardOp, [logits, labels, g], { reduction });
  checkConstantLabels(OP, labels, logits.shape[1]);
  return node;
}
