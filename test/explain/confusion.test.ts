import { describe, expect, it } from 'vitest';
import { compilesCleanly } from '../viz/vega.js';
import { striateError } from '../helpers.js';
import { confusionMatrix } from '../../src/explain/confusion.js';
import { confusionMatrixSpec } from '../../src/viz/confusion.js';

// Seven examples of three classes, counted by hand:
//   true 0: predicted 0, 1        → row 0: [1, 1, 0]
//   true 1: predicted 1, 1        → row 1: [0, 2, 0]
//   true 2: predicted 2, 0, 2     → row 2: [1, 0, 2]
const labels = [0, 0, 1, 1, 2, 2, 2];
const predicted = [0, 1, 1, 1, 2, 0, 2];
const COUNTS = [1, 1, 0, 0, 2, 0, 1, 0, 2];

/** Logits whose top-1 class is `predicted` (a tie between 1 and 2 in row 3, which goes to the lower class, 1). */
const logits = [
  [5, 1, 0],
  [0, 4, 1],
  [0, 3, 2],
  [0, 2, 2],
  [1, 0, 9],
  [3, 2, 1],
  [0, 0, 1],
].flat();

describe('confusionMatrix', () => {
  it('counts true class by predicted class, with recall and precision per class', () => {
    const cm = confusionMatrix(predicted, labels);
    expect(cm.classes).toBe(3);
    expect(cm.count).toBe(7);
    expect(Array.from(cm.counts)).toEqual(COUNTS);
    expect(Array.from(cm.support)).toEqual([2, 2, 3]);
    expect(Array.from(cm.predicted)).toEqual([2, 3, 2]);
    // Recall: 1/2, 2/2, 2/3; precision: 1/2, 2/3, 2/2.
    expect(Array.from(cm.recall)).toEqual([0.5, 1, 2 / 3]);
    expect(Array.from(cm.precision)).toEqual([0.5, 2 / 3, 1]);
    expect(cm.accuracy).toBe(5 / 7);
    expect(cm.classNames).toEqual(['0', '1', '2']);
  });

  it('takes the top-1 class of scores in every form topK reads', () => {
    const flat = confusionMatrix(logits, labels, { classes: 3 });
    expect(Array.from(flat.counts)).toEqual(COUNTS);
    expect(Array.from(confusionMatrix({ shape: [7, 3], data: logits }, labels).counts)).toEqual(COUNTS);
    expect(Array.from(confusionMatrix({ logits: Float32Array.from(logits), classes: 3 }, labels).counts)).toEqual(COUNTS);
  });

  it('marks a class with no examples and one never predicted with NaN, and keeps empty classes given', () => {
    const cm = confusionMatrix([0, 0, 1], [0, 1, 1], { classes: 4, classNames: ['a', 'b', 'c', 'd'] });
    expect(cm.classes).toBe(4);
    expect(Array.from(cm.recall)).toEqual([1, 0.5, Number.NaN, Number.NaN]);
    expect(Array.from(cm.precision)).toEqual([0.5, 1, Number.NaN, Number.NaN]);
    expect(cm.classNames).toEqual(['a', 'b', 'c', 'd']);
  });

  it('refuses mismatched lengths, bad class indices and contradictory options', () => {
    const err = (f: () => unknown): string => striateError(f).message;
    expect(err(() => confusionMatrix([0, 1], [0, 1, 1]))).toBe(
      'confusionMatrix: got 2 predictions for 3 labels; give one predicted class per label, or scores with the classes option',
    );
    expect(err(() => confusionMatrix([0, 3], [0, 1], { classes: 3 }))).toBe('confusionMatrix: prediction 1 is 3, not a class index (an integer in [0, 2])');
    expect(err(() => confusionMatrix([0, 1], [0, 1.5]))).toBe('confusionMatrix: label 1 is 1.5, not a class index (an integer ≥ 0)');
    expect(err(() => confusionMatrix([0, -1], [0, 1]))).toMatch(/prediction 1 is -1/);
    expect(err(() => confusionMatrix([0, 1], [0, 1], { classes: 2, classNames: ['a'] }))).toBe('confusionMatrix: classNames has 1 names for 2 classes');
    expect(err(() => confusionMatrix({ shape: [7, 3], data: logits }, labels, { classes: 4 }))).toBe('confusionMatrix: the scores have 3 classes but 4 are given');
    expect(err(() => confusionMatrix({ shape: [6, 3], data: logits.slice(0, 18) }, labels))).toMatch(/the scores hold 6 rows of 3 classes for 7 labels/);
    expect(err(() => confusionMatrix([], []))).toMatch(/no labels, so the number of classes is unknown/);
    expect(err(() => confusionMatrix([0], [0], { class: 2 } as never))).toMatch(/unknown option "class"/);
  });
});

describe('confusionMatrixSpec', () => {
  it('draws one cell per pair of classes, named, coloured by the share of the true class, and compiles cleanly', () => {
    const cm = confusionMatrix(predicted, labels, { classNames: ['cat', 'dog', 'eel'] });
    const spec = confusionMatrixSpec(cm);
    const values = (spec.data as { values: { t: string; p: string; n: number; share: number }[] }).values;
    expect(values).toHaveLength(9);
    const cell = values.find((v) => v.t.startsWith('eel') && v.p.startsWith('cat'))!;
    expect(cell.n).toBe(1);
    expect(cell.share).toBeCloseTo(1 / 3, 12);
    expect(values[0].t).toBe('cat (recall 50.0%)');
    expect(values[1].p).toBe('dog (prec. 66.7%)');
    expect([spec.width, spec.height]).toEqual([120, 120]);
    compilesCleanly(spec);
    expect(() => confusionMatrixSpec({ counts: [1] } as never)).toThrow(/confusionMatrixSpec: expects a confusion matrix/);
  });
});
