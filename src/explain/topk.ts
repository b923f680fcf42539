/**
 * Top-k classes and the top-k error, for any batch of class scores.
 *
 * A batch of scores is `count × classes` numbers, row after row: logits (a
 * model's output) or probabilities (their softmax). Classes rank as
 * `predict` and `evaluate` rank them (nn/ranking.ts): a larger score first,
 * equal scores to the lower label, NaN after every number. Ranking logits or
 * their softmax gives the same order (softmax is increasing), except where
 * float rounding makes two probabilities equal; then the lower label wins.
 *
 * The probabilities `topK` reports are the scores themselves when the batch
 * holds probabilities, and the softmax of each row (float64, the row's
 * maximum subtracted first) when it holds logits. Which it holds is the
 * `scores` option; by default (`'auto'`) a batch is taken as probabilities
 * when every value is in [0, 1] and every row sums to 1 within 1e-3, and
 * as logits otherwise: logits that happen to form a distribution would be
 * misread, so say `scores: 'logits'` where that can happen.
 *
 * ```ts
 * const best = topK(prediction.logits, 3, 10);     // best.labels: count × 3, best first
 * const err = top5Error(prediction, test.labels);  // the fraction whose label is not in the 5 best
 * ```
 */
import { describeValue, fail } from '../graph/error.js';
import { checkOptions, showValue } from '../nn/spec.js';
import { labelRank, topKRow } from '../nn/ranking.js';

/**
 * A batch of class scores: `count × classes` numbers row after row (with
 * `classes` given beside them), a `{ shape: [count, classes], data }` value
 * (a run result, a layer output), or a `{ logits, classes }` record (what
 * `predict` returns, whose logits are ranked).
 */
export type ClassScores =
  | ArrayLike<number>
  | {
      /** `[count, classes]`. */
      readonly shape: readonly number[];
      /** The scores, row-major. */
      readonly data: ArrayLike<number>;
    }
  | {
      /** The logits, `count × classes`, row-major. */
      readonly logits: ArrayLike<number>;
      /** The width of a row. */
      readonly classes: number;
    };

/** Options of `topK`. */
export interface TopKOptions {
  /** Classes per row, for scores given as a flat array (default: the whole array is one row). */
  classes?: number;
  /**
   * What the scores are (default `'auto'`, see the file comment): `'logits'`
   * (the reported probabilities are their softmax) or `'probabilities'`
   * (reported as they are).
   */
  scores?: 'auto' | 'logits' | 'probabilities';
}

/** The k best classes of each row of a batch, as `topK` returns them. */
export interface TopKResult {
  /** Number of rows (examples). */
  readonly count: number;
  /** Classes per row. */
  readonly classes: number;
  /** Labels per row. */
  readonly k: number;
  /** The labels, `count × k`, each row best first. */
  readonly labels: Int32Array;
  /** Their probabilities, `count × k` (the softmax of logits; see the file comment). */
  readonly probabilities: Float32Array;
  /** Whether the scores were read as logits or as probabilities. */
  readonly scores: 'logits' | 'probabilities';
}

/** Rows of a batch as `topK` and `topKError` read them. */
interface Rows {
  readonly data: ArrayLike<number>;
  readonly count: number;
  readonly classes: number;
}

function isArrayLikeOfNumbers(v: unknown): v is ArrayLike<number> {
  return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
}

function checkClasses(who: string, classes: unknown): number {
  if (typeof classes !== 'number' || !Number.isSafeInteger(classes) || classes < 1) {
    fail(who, `classes must be a positive integer (the width of a row of scores), got ${showValue(classes)}`, `classes ${showValue(classes)}`, 'a positive integer');
  }
  return classes;
}

/**
 * The rows of `scores`; `classes` (optional) is the width of a row of a flat
 * array, or, for a batch that knows its own width, must agree with it.
 * `rowsHint` is the count a flat array without `classes` is cut into.
 */
function readRows(who: string, scores: ClassScores, classes: number | undefined, rowsHint: number | undefined): Rows {
  const expected = 'count × classes numbers, a { shape: [count, classes], data } value or a { logits, classes } prediction';
  let data: ArrayLike<number>;
  let width: number | undefined;
  if (isArrayLikeOfNumbers(scores)) {
    data = scores;
  } else if (scores !== null && typeof scores === 'object' && 'logits' in scores) {
    if (!isArrayLikeOfNumbers(scores.logits)) fail(who, `the prediction's logits must be an array of numbers, got ${describeValue(scores.logits)}`, `logits ${describeValue(scores.logits)}`, 'an array of numbers');
    data = scores.logits;
    width = checkClasses(who, scores.classes);
  } else if (scores !== null && typeof scores === 'object' && 'shape' in scores && 'data' in scores) {
    const { shape } = scores;
    if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0) || shape[1] < 1) {
      fail(who, `scores must have shape [count, classes], got ${showValue(shape)}`, `shape ${showValue(shape)}`, 'a shape [count, classes]');
    }
    if (!isArrayLikeOfNumbers(scores.data)) fail(who, `scores' data must be an array of numbers, got ${describeValue(scores.data)}`, `data ${describeValue(scores.data)}`, 'an array of numbers');
    data = scores.data;
    width = shape[1];
    if (data.length !== shape[0] * shape[1]) {
      fail(who, `scores of shape [${shape.join(', ')}] need ${shape[0] * shape[1]} values but hold ${data.length}`, `${data.length} values`, `${shape[0] * shape[1]} values`);
    }
  } else {
    fail(who, `scores must be ${expected}, got ${describeValue(scores)}`, describeValue(scores), expected);
  }
  if (classes !== undefined) {
    checkClasses(who, classes);
    if (width !== undefined && width !== classes) {
      fail(who, `classes is ${classes} but the scores have rows of ${width}`, `classes ${classes}`, `classes ${width}, the width of the scores`);
    }
    width = classes;
  }
  if (width === undefined) {
    if (rowsHint !== undefined && rowsHint > 0 && data.length % rowsHint === 0 && data.length > 0) width = data.length / rowsHint;
    else if (rowsHint === undefined && data.length > 0) width = data.length;
    else {
      fail(
        who,
        `${data.length} scores cannot be cut into ${rowsHint ?? 1} rows of equal width; give classes`,
        `${data.length} scores for ${rowsHint ?? 1} rows`,
        `a multiple of ${rowsHint ?? 1} scores, or classes`,
      );
    }
  }
  if (data.length % width !== 0) {
    fail(who, `${data.length} scores are not a whole number of rows of ${width} classes`, `${data.length} scores`, `a multiple of ${width} scores (count × classes)`);
  }
  return { data, count: data.length / width, classes: width };
}

function checkK(who: string, k: unknown, classes: number): number {
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > classes) {
    fail(who, `k must be an integer from 1 to ${classes} (the number of classes), got ${showValue(k)}`, `k ${showValue(k)}`, `an integer in [1, ${classes}]`);
  }
  return k;
}

/** Whether every value is in [0, 1] and every row sums to 1 within 1e-3. */
function looksLikeProbabilities({ data, count, classes }: Rows): boolean {
  for (let r = 0; r < count; r++) {
    let s = 0;
    for (let c = 0; c < classes; c++) {
      const v = data[r * classes + c];
      if (!(v >= 0 && v <= 1)) return false;
      s += v;
    }
    if (Math.abs(s - 1) > 1e-3) return false;
  }
  return count > 0;
}

/**
 * The `k` best classes of each row of `scores` and their probabilities,
 * ranked with ties to the lower label (see the file comment, which also
 * says how logits and probabilities are told apart). The third argument is
 * the number of classes of a flat array, or the options.
 *
 * ```ts
 * topK([0.1, 0.7, 0.2], 2);              // labels [1, 2], probabilities [0.7, 0.2]
 * topK(logits, 5, 10).labels;            // count × 5
 * topK(prediction, 3);                   // from predict's logits
 * ```
 */
export function topK(scores: ClassScores, k: number, options?: number | TopKOptions): TopKResult {
  const who = 'topK';
  const opts: TopKOptions = typeof options === 'number' ? { classes: options } : (checkOptions(who, options, ['classes', 'scores']) ?? {});
  const rows = readRows(who, scores, opts.classes, undefined);
  const { data, count, classes } = rows;
  checkK(who, k, classes);
  const kind = opts.scores ?? 'auto';
  if (kind !== 'auto' && kind !== 'logits' && kind !== 'probabilities') {
    fail(who, `scores must be 'auto', 'logits' or 'probabilities', got ${showValue(kind)}`, `scores ${showValue(kind)}`, "'auto', 'logits' or 'probabilities'");
  }
  const read = kind === 'auto' ? (looksLikeProbabilities(rows) ? 'probabilities' : 'logits') : kind;
  const labels = new Int32Array(count * k);
  const probabilities = new Float32Array(count * k);
  for (let r = 0; r < count; r++) {
    topKRow(data, r, classes, k, labels, r * k);
    const at = r * classes;
    if (read === 'probabilities') {
      for (let j = 0; j < k; j++) probabilities[r * k + j] = data[at + labels[r * k + j]];
    } else {
      // softmax(z)_c = exp(z_c − m) / Σ exp(z − m), with m the row's maximum.
      let m = -Infinity;
      for (let c = 0; c < classes; c++) m = Math.max(m, data[at + c]);
      let s = 0;
      for (let c = 0; c < classes; c++) s += Math.exp(data[at + c] - m);
      for (let j = 0; j < k; j++) probabilities[r * k + j] = Math.exp(data[at + labels[r * k + j]] - m) / s;
    }
  }
  return Object.freeze({ count, classes, k, labels, probabilities, scores: read });
}

/**
 * The top-k error of a batch: the fraction of rows whose label is not among
 * their `k` best classes (ranked as `topK` ranks them, so a label counts as
 * found exactly when `topK` lists it). `scores` holds one row per label; its
 * width is `classes` when given, else its length over the number of labels.
 * Each label must be an integer class index; k must not exceed the number
 * of classes. An empty batch whose width is known (`classes` given, or a
 * `[0, classes]` shape) has an error of 0.
 *
 * ```ts
 * topKError(prediction, test.labels, 1);   // the top-1 error
 * topKError(logits, labels, 5, 10);
 * ```
 */
export function topKError(scores: ClassScores, labels: ArrayLike<number>, k: number, classes?: number): number {
  return topKErrorOf('topKError', scores, labels, k, classes);
}

/** The top-5 error (ILSVRC's measure): `topKError(scores, labels, 5, classes)`. */
export function top5Error(scores: ClassScores, labels: ArrayLike<number>, classes?: number): number {
  return topKErrorOf('top5Error', scores, labels, 5, classes);
}

function topKErrorOf(who: string, scores: ClassScores, labels: ArrayLike<number>, k: number, classes: number | undefined): number {
  if (!isArrayLikeOfNumbers(labels)) fail(who, `labels must be an array of class indices, got ${describeValue(labels)}`, `labels ${describeValue(labels)}`, 'an array of class indices');
  const rows = readRows(who, scores, classes, labels.length);
  if (rows.count !== labels.length) {
    fail(
      who,
      `got ${labels.length} labels for ${rows.count} rows of scores (${rows.data.length} scores of ${rows.classes} classes); give one label per row`,
      `${labels.length} labels`,
      `${rows.count} label${rows.count === 1 ? '' : 's'}, one per row`,
    );
  }
  checkK(who, k, rows.classes);
  let missed = 0;
  for (let r = 0; r < rows.count; r++) {
    const label = labels[r];
    if (!Number.isInteger(label) || label < 0 || label >= rows.classes) {
      fail(who, `label ${r} is ${showValue(label)}, not a class index in [0, ${rows.classes - 1}]`, `label ${showValue(label)}`, `an integer in [0, ${rows.classes - 1}]`);
    }
    if (labelRank(rows.data, r, rows.classes, label) >= k) missed++;
  }
  return rows.count === 0 ? 0 : missed / rows.count;
}
