import { type Tensor, shapeToString } from '../graph/tensor.js';
import { checkOptions } from '../graph/error.js';
import { sameShape } from '../graph/shape.js';
import { addAll } from './add.js';
import { ones } from './constant.js';
import { logSoftmax } from './logSoftmax.js';
import { mul } from './mul.js';
import { neg } from './neg.js';
import { checkConstantLabels, isClassIndex, labelTestSource, NAN_UNLESS_KNOWN } from './oneHot.js';
import { makeNode, opError, type OpDef } from './op.js';
import { k, type Src } from '../kernel/source.js';
import { reshape } from './reshape.js';
import { lineStats, lineStatsSource, softmax } from './softmax.js';
import { checkReduction, softmaxCrossEntropyBackward } from './softmaxCrossEntropyBackward.js';
import { sub } from './sub.js';
import { sum } from './sum.js';

/** How {@link softmaxCrossEntropy} combines the per-row losses: their mean, their sum, or none (one loss per row). */
export type Reduction = 'mean' | 'sum' | 'none';

// Per row i, with lse_i = log Σ_c exp(x_ic):  loss_i = Σ_c y_ic (lse_i - x_ic),
// y the one-hot rows of index labels or the given probabilities.
//   ∂loss_i/∂x_ic = softmax(x)_ic Σ_c' y_ic' - y_ic   (= softmax - y when rows of y sum to 1, always for index labels)
//   ∂loss_i/∂y_ic = lse_i - x_ic = -logSoftmax(x)_ic
// The cotangent of each row is g_i ('none'), g ('sum') or g / N ('mean').
// Index labels: softmaxCrossEntropyBackward, one op with its own VJP; one-hot
// labels: built from softmax, logSoftmax and elementwise ops. Both differentiate again.
export const softmaxCrossEntropyOp: OpDef<'softmaxCrossEntropy'> = {
  name: 'softmaxCrossEntropy',
  shape: (inputs, { labels: kind, reduction }) => {
    const op = 'softmaxCrossEntropy';
    if (inputs.length !== 2) opError(op, `takes 2 inputs (logits, labels), got ${inputs.length}`, `${inputs.length} inputs`, '2 inputs (logits, labels)');
    const [logits, labels] = inputs;
    if (logits.length !== 2) opError(op, `logits must have shape [N, C] (rank 2), got ${shapeToString(logits)}`, `logits ${shapeToString(logits)}`, 'logits [N, C]');
    const [n] = logits;
    if (kind === 'index') {
      if (labels.length !== 1 || labels[0] !== n) {
        opError(
          op,
          `index labels must have shape [${n}], one class index per row of logits ${shapeToString(logits)}, got ${shapeToString(labels)}`,
          `labels ${shapeToString(labels)}`,
          `labels [${n}]`,
        );
      }
    } else if (kind === 'onehot') {
      if (!sameShape(labels, logits)) {
        opError(
          op,
          `one-hot labels must have the shape of the logits ${shapeToString(logits)}, got ${shapeToString(labels)}`,
          `labels ${shapeToString(labels)}`,
          `labels ${shapeToString(logits)}`,
        );
      }
    } else {
      opError(op, `the labels attribute must be "index" or "onehot", got ${JSON.stringify(kind)}`, `labels ${JSON.stringify(kind)}`, '"index" or "onehot"');
    }
    checkReduction(op, reduction);
    return reduction === 'none' ? [n] : [];
  },
  vjp: (g, { inputs: [logits, labels], attrs: { labels: kind, reduction } }) => {
    // Index labels: one op (softmaxCrossEntropyBackward.ts), with a VJP of its own.
    if (kind === 'index') return [softmaxCrossEntropyBackward(logits, labels, g, reduction), null];
    const [n] = logits.shape;
    const perRow = reduction === 'none' ? reshape(g, [n, 1]) : reduction === 'mean' && n > 1 ? mul(g, 1 / n) : g;
    const s = softmax(logits, 1);
    const mass = sum(labels, { axes: 1, keepDims: true });
    return [mul(sub(mul(s, mass), labels), perRow), mul(neg(logSoftmax(logits, 1)), perRow)];
  },
  // Forwards, per row: d loss_i = Σ_c ∂loss_i/∂x_ic dx_ic + Σ_c ∂loss_i/∂y_ic dy_ic with the
  // partials above; index labels get no tangent, and their ∂/∂x (softmax - y) is
  // softmaxCrossEntropyBackward with a cotangent of 1 per row (NaN rows for bad labels,
  // as the loss has). The rows then combine as the loss does.
  jvp: ([tx, ty], { inputs: [logits, labels], attrs: { labels: kind, reduction } }) => {
    const [n] = logits.shape;
    const partialX =
      kind === 'index' ? softmaxCrossEntropyBackward(logits, labels, ones([n]), 'none') : sub(mul(softmax(logits, 1), sum(labels, { axes: 1, keepDims: true })), labels);
    const terms = addAll([tx && mul(tx, partialX), kind === 'onehot' && ty ? mul(ty, neg(logSoftmax(logits, 1))) : null]);
    if (terms === null) return null;
    const rows = sum(terms, { axes: 1 });
    return reduction === 'none' ? rows : reduction === 'mean' && n > 1 ? mul(sum(rows), 1 / n) : sum(rows);
  },
  reference: ([logits, labels], { labels: kind, reduction }) => {
    const [n, c] = logits.shape;
    const x = logits.data;
    const y = labels.data;
    const losses = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const row = i * c;
      const { m, total } = lineStats(x, row, c, 1);
      // lse - x_k written as (m - x_k) + log Σ exp(x - m): exact when one logit dominates.
      const logTotal = Math.log(total);
      if (kind === 'index') {
        const k = y[i];
        losses[i] = isClassIndex(k, c) ? m - x[row + k] + logTotal : NaN;
      } else {
        let loss = 0;
        for (let j = 0; j < c; j++) loss += y[row + j] * (m - x[row + j] + logTotal);
        losses[i] = loss;
      }
    }
    if (reduction === 'none') return losses;
    let total = 0;
    for (let i = 0; i < n; i++) total += losses[i];
    return Float64Array.of(reduction === 'mean' ? total / n : total);
  },
  // 'none': one thread per row; 'mean' and 'sum': one thread walks every row
  // (N x C is small next to the convolutions that feed it). An index label
  // that is not a class index reads the row's first logit (never out of
  // bounds) and gives NaN.
  kernel: ({ inputs: [[n, c]], attrs: { labels: kind, reduction } }) => {
    const rowLoss = (row: Src): Src => k`${lineStatsSource(k`${row} * ${c}`, c, 1)}
    const logTotal = Math.log(total);
    ${
      kind === 'index'
        ? k`const label = x1[${row}];
    ${labelTestSource(k`label`, c)}
    const picked = x0[${row} * ${c} + Math.floor((known > 0.5 ? label : 0.0) + 0.5)];
    const loss = known > 0.5 ? m - picked + logTotal : ${NAN_UNLESS_KNOWN};`
        : k`let loss = 0.0;
    for (let t = 0; t < ${c}; t++) {
      loss += x1[${row} * ${c} + t] * (m - x0[${row} * ${c} + t] + logTotal);
    }`
    }`;
    if (reduction === 'none') return k`${rowLoss(k`i`)}
    return loss;`;
    return k`let sumLoss = 0.0;
  for (let r = 0; r < ${n}; r++) {
    ${rowLoss(k`r`)}
    sumLoss += loss;
  }
  return ${reduction === 'mean' ? k`sumLoss / ${n}.0` : k`sumLoss`};`;
  },
};

/** Options of {@link softmaxCrossEntropy}. */
export interface SoftmaxCrossEntropyOptions {
  /** 'mean' over the rows (default) and 'sum' give a scalar; 'none' gives one loss per row, shape [N]. */
  reduction?: Reduction;
}

/**
 * Cross-entropy between softmax(logits) and the labels, computed stably with
 * log-sum-exp. `logits` is `[N, C]`; `labels` is either `[N]` integer class
 * indices (stored as floats) or `[N, C]` one-hot rows or probabilities. The
 * kind is read from the labels' rank. Index labels get no gradient;
 * probability labels do.
 *
 * Index labels are checked as {@link oneHot}'s are: a fed label that is not
 * an integer in [0, C) is refused by `run`, naming the input and the index
 * of the first bad value, and a constant one here; a label computed in the
 * graph that is not one gives a NaN loss for its row (and so a NaN mean or
 * sum) on every backend.
 */
export function softmaxCrossEntropy(
  logits: Tensor,
  labels: Tensor,
  options?: SoftmaxCrossEntropyOptions,
): Tensor<'softmaxCrossEntropy'> {
  const reduction = checkOptions('softmaxCrossEntropy', options, ['reduction'], "{ reduction: 'sum' }")?.reduction ?? 'mean';
  const rank = labels?.shape?.length;
  const kind = rank === 1 ? 'index' : rank === 2 ? 'onehot' : undefined;
  if (kind === undefined && Array.isArray(labels?.shape)) {
    opError(
      'softmaxCrossEntropy',
      `labels must be class indices [N] or one-hot rows [N, C]${Array.isArray(logits?.shape) ? ` for logits ${shapeToString(logits.shape)}` : ''}, ` +
        `got shape ${shapeToString(labels.shape)}`,
      `labels ${shapeToString(labels.shape)}`,
      'labels [N] or [N, C]',
    );
  }
  // A non-tensor labels argument is reported by makeNode.
  const node = makeNode(softmaxCrossEntropyOp, [logits, labels], { labels: kind ?? 'index', reduction });
  if (kind === 'index') checkConstantLabels('softmaxCrossEntropy', labels, logits.shape[1]);
  return node;
}
