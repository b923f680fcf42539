/**
 * The confusion matrix of a classifier on a labelled set: how often each
 * true class was predicted as each class, and from it each class's recall
 * (of the examples of class c, the fraction predicted c) and precision (of
 * the examples predicted c, the fraction that are c).
 *
 * Predictions are given as predicted class indices, one per label, or as
 * class scores (logits or probabilities, any form `topK` reads), whose
 * top-1 class is taken, ranked as `predict` ranks: the larger score, ties to
 * the lower class. A flat array is read as predicted classes when it holds
 * one value per label, and as `labels.length × classes` scores when it
 * holds that many (with `classes` given).
 *
 * ```ts
 * const cm = confusionMatrix(prediction, test.labels);  // from predict's logits
 * cm.counts[3 * 10 + 5];   // threes predicted as fives
 * cm.recall[3];            // fraction of the threes found
 * await writeChart('confusion.png', confusionMatrixSpec(cm));
 * ```
 */
import { describeValue, fail } from '../graph/error.js';
import { checkOptions, showValue } from '../nn/spec.js';
import { topK, type ClassScores } from './topk.js';

/** Options of `confusionMatrix`. */
export interface ConfusionMatrixOptions {
  /** Number of classes (default: from the scores' width, or the names, or 1 + the largest class seen). */
  classes?: number;
  /** A name per class, for charts (default "0", "1", …). */
  classNames?: readonly string[];
}

/** What `confusionMatrix` returns. */
export interface ConfusionMatrix {
  /** Number of classes, C. */
  readonly classes: number;
  /** Number of examples counted. */
  readonly count: number;
  /** The class names, C of them. */
  readonly classNames: readonly string[];
  /** `C × C` counts, row-major: `counts[t · C + p]` examples of true class t predicted p. */
  readonly counts: Int32Array;
  /** Examples of each true class (the row sums). */
  readonly support: Int32Array;
  /** Examples predicted as each class (the column sums). */
  readonly predicted: Int32Array;
  /** Per class, counts[c, c] / support[c]; NaN for a class with no examples. */
  readonly recall: Float64Array;
  /** Per class, counts[c, c] / predicted[c]; NaN for a class never predicted. */
  readonly precision: Float64Array;
  /** The fraction of all examples on the diagonal (NaN for none). */
  readonly accuracy: number;
}

function isNumbers(v: unknown): v is ArrayLike<number> {
  return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
}

function classIndex(who: string, what: string, i: number, v: unknown, classes: number | undefined): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || (classes !== undefined && v >= classes)) {
    const range = classes === undefined ? 'an integer ≥ 0' : `an integer in [0, ${classes - 1}]`;
    fail(who, `${what} ${i} is ${showValue(v)}, not a class index (${range})`, `${what} ${showValue(v)}`, range);
  }
  return v;
}

/**
 * The confusion matrix of `predictions` (predicted classes or class scores;
 * see the file comment) against `labels`, one per example, with per-class
 * recall and precision.
 */
export function confusionMatrix(predictions: ArrayLike<number> | ClassScores, labels: ArrayLike<number>, options: ConfusionMatrixOptions = {}): ConfusionMatrix {
  const who = 'confusionMatrix';
  checkOptions(who, options, ['classes', 'classNames']);
  if (!isNumbers(labels)) fail(who, `labels must be an array of class indices, got ${describeValue(labels)}`, `labels ${describeValue(labels)}`, 'an array of class indices');
  const n = labels.length;
  let classes = options.classes;
  if (classes !== undefined && (typeof classes !== 'number' || !Number.isSafeInteger(classes) || classes < 1)) {
    fail(who, `classes must be a positive integer, got ${showValue(classes)}`, `classes ${showValue(classes)}`, 'a positive integer');
  }
  const names = options.classNames;
  if (names !== undefined) {
    if (!Array.isArray(names) || !names.every((s) => typeof s === 'string')) fail(who, `classNames must be an array of strings, got ${describeValue(names)}`, `classNames ${describeValue(names)}`, 'an array of strings');
    if (classes !== undefined && names.length !== classes) fail(who, `classNames has ${names.length} names for ${classes} classes`, `${names.length} names`, `${classes} names`);
    classes ??= names.length;
  }

  let predicted: ArrayLike<number>;
  if (isNumbers(predictions) && predictions.length === n) {
    predicted = predictions;
  } else {
    // Scores: a flat count × classes array, a { shape, data } value or a { logits, classes } prediction.
    if (isNumbers(predictions) && classes === undefined) {
      fail(
        who,
        `got ${predictions.length} predictions for ${n} labels; give one predicted class per label, or scores with the classes option`,
        `${predictions.length} predictions`,
        `${n} predicted classes, or ${n} × classes scores`,
      );
    }
    if (n === 0) fail(who, 'there are no labels to count', '0 labels', 'at least one label');
    const best = topK(predictions as ClassScores, 1, isNumbers(predictions) ? { classes } : {});
    if (best.count !== n) {
      fail(who, `the scores hold ${best.count} rows of ${best.classes} classes for ${n} labels; give one row per label`, `${best.count} rows`, `${n} rows`);
    }
    if (classes !== undefined && best.classes !== classes) {
      fail(who, `the scores have ${best.classes} classes but ${classes} are given`, `${best.classes} classes`, `${classes} classes`);
    }
    classes = best.classes;
    predicted = best.labels;
  }
  if (n === 0 && classes === undefined) fail(who, 'there are no labels, so the number of classes is unknown; give classes', '0 labels', 'labels, or the classes option');
  let largest = -1;
  for (let i = 0; i < n; i++) {
    largest = Math.max(largest, classIndex(who, 'label', i, labels[i], classes), classIndex(who, 'prediction', i, predicted[i], classes));
  }
  const C = classes ?? largest + 1;
  const counts = new Int32Array(C * C);
  for (let i = 0; i < n; i++) counts[labels[i] * C + predicted[i]]++;
  const support = new Int32Array(C);
  const columns = new Int32Array(C);
  let diagonal = 0;
  for (let t = 0; t < C; t++) {
    for (let p = 0; p < C; p++) {
      support[t] += counts[t * C + p];
      columns[p] += counts[t * C + p];
    }
    diagonal += counts[t * C + t];
  }
  const recall = Float64Array.from(support, (s, c) => (s === 0 ? Number.NaN : counts[c * C + c] / s));
  const precision = Float64Array.from(columns, (s, c) => (s === 0 ? Number.NaN : counts[c * C + c] / s));
  return Object.freeze({
    classes: C,
    count: n,
    classNames: Object.freeze(names ? [...names] : Array.from({ length: C }, (_, i) => String(i))),
    counts,
    support,
    predicted: columns,
    recall,
    precision,
    accuracy: n === 0 ? Number.NaN : diagonal / n,
  });
}
