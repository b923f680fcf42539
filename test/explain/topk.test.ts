import { describe, expect, it } from 'vitest';
import { defineModel, initParams, nn, predict, StriateError } from 'striate';
import { top5Error, topK, topKError } from '../../src/explain/topk.js';
import { randomValues } from '../helpers.js';

describe('topK', () => {
  it('lists probabilities best first, ties to the lower label', () => {
    const r = topK([0.1, 0.4, 0.1, 0.4], 3);
    expect(r.scores).toBe('probabilities');
    expect(r.count).toBe(1);
    expect(Array.from(r.labels)).toEqual([1, 3, 0]);
    expect(Array.from(r.probabilities)).toEqual(Array.from(Float32Array.of(0.4, 0.4, 0.1)));
  });

  it('reads logits of any batch, reporting their softmax', () => {
    // Two rows of three classes; row 1 ties classes 0 and 2.
    const logits = [1, 3, 2, 0, -1, 0];
    const r = topK(logits, 2, 3);
    expect(r.scores).toBe('logits');
    expect([r.count, r.classes, r.k]).toEqual([2, 3, 2]);
    expect(Array.from(r.labels)).toEqual([1, 2, 0, 2]);
    const e = [Math.exp(1), Math.exp(3), Math.exp(2)];
    const s = e[0] + e[1] + e[2];
    const f = [Math.exp(0), Math.exp(-1), Math.exp(0)];
    const t = f[0] + f[1] + f[2];
    expect(Array.from(r.probabilities)).toEqual(Array.from(Float32Array.of(e[1] / s, e[2] / s, f[0] / t, f[2] / t)));
  });

  it('ranks NaN last and takes { shape, data } and predictions', async () => {
    const r = topK({ shape: [1, 4], data: [NaN, 2, 5, 2] }, 4, { scores: 'logits' });
    expect(Array.from(r.labels)).toEqual([2, 1, 3, 0]);
    const model = defineModel('m', [3], [nn.dense('d', { units: 6 })]);
    const images = Float32Array.from(randomValues(3 * 5, 2));
    const p = await predict(model, initParams(model, 1), images, { backend: 'reference', topK: 3 });
    const mine = topK(p, 3);
    expect(mine.labels).toEqual(p.topK.labels);
    for (let i = 0; i < mine.probabilities.length; i++) expect(mine.probabilities[i]).toBeCloseTo(p.topK.probabilities[i], 6);
  });

  it("reads a distribution as probabilities unless told 'logits'", () => {
    const row = [0.2, 0.3, 0.5];
    expect(topK(row, 1).probabilities[0]).toBeCloseTo(0.5, 7);
    const asLogits = topK(row, 1, { scores: 'logits' }).probabilities[0];
    const m = Math.exp(0.5) / (Math.exp(0.2) + Math.exp(0.3) + Math.exp(0.5));
    expect(asLogits).toBeCloseTo(m, 7);
    // A row not summing to 1 is taken as logits.
    expect(topK([0.2, 0.3, 0.6], 1).scores).toBe('logits');
  });

  it('refuses k out of range and rows that do not fit', () => {
    expect(() => topK([1, 2, 3], 4)).toThrow('topK: k must be an integer from 1 to 3 (the number of classes), got 4');
    expect(() => topK([1, 2, 3], 0)).toThrow('topK: k must be an integer from 1 to 3 (the number of classes), got 0');
    expect(() => topK([1, 2, 3], 1.5)).toThrow(StriateError);
    expect(() => topK([1, 2, 3, 4, 5], 1, 2)).toThrow('topK: 5 scores are not a whole number of rows of 2 classes');
    expect(() => topK({ shape: [2, 3], data: [1, 2, 3] }, 1)).toThrow('topK: scores of shape [2, 3] need 6 values but hold 3');
    expect(() => topK({ shape: [2, 3], data: new Float32Array(6) }, 1, 4)).toThrow('topK: classes is 4 but the scores have rows of 3');
    expect(() => topK('abc' as never, 1)).toThrow('topK: scores must be count × classes numbers');
    expect(() => topK([1, 2], 1, { scores: 'odds' as never })).toThrow("topK: scores must be 'auto', 'logits' or 'probabilities'");
    expect(() => topK([1, 2], 1, { clases: 2 } as never)).toThrow('topK: unknown option "clases"');
  });
});

describe('topKError', () => {
  // Four examples of four classes.
  const scores = [
    [4, 3, 2, 1], // label 0: rank 0
    [1, 2, 3, 4], // label 0: rank 3
    [0, 5, 5, 0], // label 2: rank 1 (tied with 1, which is lower)
    [9, 9, 9, 9], // label 3: rank 3
  ].flat();
  const labels = [0, 0, 2, 3];

  it('counts the rows whose label is not among the k best', () => {
    expect(topKError(scores, labels, 1)).toBe(3 / 4);
    expect(topKError(scores, labels, 2)).toBe(2 / 4);
    expect(topKError(scores, labels, 3)).toBe(2 / 4);
    expect(topKError(scores, labels, 4)).toBe(0);
    expect(topKError({ shape: [4, 4], data: scores }, labels, 2)).toBe(0.5);
    expect(topKError(scores, labels, 2, 4)).toBe(0.5);
  });

  it('gives the top-5 error', () => {
    const rows = 3;
    const s = new Float32Array(rows * 10);
    for (let r = 0; r < rows; r++) for (let c = 0; c < 10; c++) s[r * 10 + c] = 10 - c; // class 0 best
    expect(top5Error(s, [4, 5, 0])).toBeCloseTo(1 / 3, 12);
    expect(top5Error(s, [0, 1, 2], 10)).toBe(0);
  });

  it('refuses wrong lengths, labels that are not classes and k out of range', () => {
    expect(() => topKError(scores, [0, 1, 2], 1)).toThrow('topKError: 16 scores cannot be cut into 3 rows of equal width; give classes');
    expect(() => topKError(scores, [0, 1, 2], 1, 4)).toThrow('topKError: got 3 labels for 4 rows of scores (16 scores of 4 classes); give one label per row');
    expect(() => topKError(scores, [0, 1, 2, 4], 1)).toThrow('topKError: label 3 is 4, not a class index in [0, 3]');
    expect(() => topKError(scores, [0, 1, 2, 0.5], 1)).toThrow('topKError: label 3 is 0.5');
    expect(() => topKError(scores, labels, 5)).toThrow('topKError: k must be an integer from 1 to 4 (the number of classes), got 5');
    expect(() => topKError(scores, labels, 0)).toThrow('topKError: k must be an integer from 1 to 4');
    expect(() => top5Error(scores, labels)).toThrow('top5Error: k must be an integer from 1 to 4 (the number of classes), got 5');
    expect(() => topKError(scores, 'x' as never, 1)).toThrow('topKError: labels must be an array of class indices');
  });
});
