import { describe, expect, it } from 'vitest';
import { countCorrect, countTopK, defineModel, evaluate, initParams, nn, predict, tensorValue, type Dataset, type Params } from 'striate';
import { labelRank, topKRow } from '../../src/nn/ranking.js';
import { StriateError } from '../../src/graph/error.js';

/** A model whose logits are its input: one dense layer with w = I and no bias, over 7 classes. */
const C = 7;
const identity = defineModel('identity', [C], [nn.dense('d', { units: C, bias: false })]);
const eye: Params = { 'd.w': tensorValue([C, C], Float32Array.from({ length: C * C }, (_, i) => (i % (C + 1) === 0 ? 1 : 0))) };

// Logits and labels where top-1 and top-5 differ, ties included (ties go to the lower class).
const rows: [number[], number, boolean, boolean][] = [
  // logits                label  top-1  top-5
  [[7, 6, 5, 4, 3, 2, 1], 0, true, true],
  [[7, 6, 5, 4, 3, 2, 1], 4, false, true], // four classes above it
  [[7, 6, 5, 4, 3, 2, 1], 5, false, false], // five above it
  [[1, 1, 1, 1, 1, 1, 1], 0, true, true], // all tied: class order
  [[1, 1, 1, 1, 1, 1, 1], 4, false, true],
  [[1, 1, 1, 1, 1, 1, 1], 5, false, false],
  [[0, 2, 2, 0, 0, 0, 0], 2, false, true], // tied with class 1, which comes first
];
const data: Dataset = {
  images: Float32Array.from(rows.flatMap(([l]) => l)),
  labels: Uint8Array.from(rows.map(([, label]) => label)),
  count: rows.length,
};

describe('evaluate: top-1 and top-5', () => {
  it('counts a label in the top k when fewer than k classes rank before it, ties to the lower class', () => {
    const logits = data.images;
    expect(rows.map(([, label], i) => labelRank(logits, i, C, label))).toEqual([0, 4, 5, 0, 4, 5, 1]);
    expect(countTopK(logits, data.labels, C, C, 1)).toBe(2);
    expect(countCorrect(logits, data.labels, C, C)).toBe(2);
    expect(countTopK(logits, data.labels, C, C, 5)).toBe(5);
    expect(countTopK(logits, data.labels, C, C, C)).toBe(7);
    // NaN ranks last; a label outside the classes is never counted.
    const withNaN = [NaN, 1, NaN, 0];
    expect(labelRank(withNaN, 0, 4, 0)).toBe(2);
    expect(labelRank(withNaN, 0, 4, 1)).toBe(0);
    expect(labelRank(withNaN, 0, 4, 9)).toBe(4);
    const best = new Int32Array(4);
    topKRow(withNaN, 0, 4, 4, best, 0);
    expect([...best]).toEqual([1, 3, 0, 2]);
  });

  it('reports top-1 and top-5 accuracy and error, through a padded last batch', async () => {
    const r = await evaluate({ model: identity, params: eye, data, batchSize: 3, backend: 'reference' });
    expect(r.count).toBe(7);
    expect(r.accuracy).toBeCloseTo(2 / 7, 12);
    expect(r.top5Accuracy).toBeCloseTo(5 / 7, 12);
    expect(r.error).toBeCloseTo(5 / 7, 12);
    expect(r.top5Error).toBeCloseTo(2 / 7, 12);
    // The loss is still the mean cross-entropy, -log softmax(logits)[label].
    const ce = rows.map(([l, label]) => Math.log(l.reduce((s, v) => s + Math.exp(v), 0)) - l[label]);
    expect(r.loss).toBeCloseTo(ce.reduce((a, b) => a + b) / ce.length, 10);
  });

  it("agrees with predict's top-k labels example by example", async () => {
    const p = await predict(identity, eye, data.images, { backend: 'reference', topK: 5 });
    rows.forEach(([, label, top1, top5], i) => {
      const labels = [...p.topK.labels.subarray(i * 5, i * 5 + 5)];
      expect(labels[0] === label).toBe(top1);
      expect(labels.includes(label)).toBe(top5);
    });
  });

  it('refuses, before the first batch, a label out of range or a pixel that is not finite, with its index in the data set', async () => {
    const images = Float32Array.from({ length: 700 * C }, (_, i) => Math.sin(i));
    const labels = Uint8Array.from({ length: 700 }, (_, i) => i % C);
    for (const backend of ['reference', 'cpu'] as const) {
      // Label 620 sits in the second batch of 500; its index is the data set's, not the batch's.
      const badLabel: Dataset = { images, labels: labels.map((l, i) => (i === 620 ? 200 : l)), count: 700 };
      await expect(evaluate({ model: identity, params: eye, data: badLabel, backend })).rejects.toThrow(
        expect.objectContaining({
          op: 'evaluate',
          message: 'evaluate: data label 620 is 200; labels must be integer class indices in [0, 6] (the model has 7 outputs)',
          got: 'label 620 = 200',
          expected: 'an integer class index in [0, 6]',
        }),
      );
      const badPixel: Dataset = { images: images.map((v, i) => (i === 610 * C + 3 ? Infinity : v)), labels, count: 700 };
      await expect(evaluate({ model: identity, params: eye, data: badPixel, backend })).rejects.toThrow(
        expect.objectContaining({
          op: 'evaluate',
          message: 'evaluate: data example 610 holds Infinity at pixel [3] of its [7] image; pixels must be finite numbers',
        }),
      );
    }
    await expect(evaluate({ model: identity, params: eye, data: { ...data, count: 0, images: new Float32Array(0), labels: new Uint8Array(0) } })).rejects.toThrow(
      StriateError,
    );
  });

  it('refuses a batch size that is not a positive integer, an unknown option, and names itself for a missing parameter', async () => {
    for (const batchSize of [0, -3, 2.5, NaN, '8' as never]) {
      await expect(evaluate({ model: identity, params: eye, data, batchSize })).rejects.toThrow(
        expect.objectContaining({ op: 'evaluate', expected: 'a positive integer', message: expect.stringContaining('evaluate: batchSize must be a positive integer, got ') }),
      );
    }
    await expect(evaluate({ model: identity, params: eye, data, batchsize: 8 } as never)).rejects.toThrow(expect.objectContaining({ op: 'evaluate', got: 'option "batchsize"' }));
    await expect(evaluate({ model: identity, params: {}, data })).rejects.toThrow(
      expect.objectContaining({ op: 'evaluate', message: expect.stringContaining('no value for parameter "d.w"') }),
    );
  });

  it('gives top-5 accuracy 1 with fewer than 5 classes', async () => {
    const m = defineModel('three', [4], [nn.dense('d', { units: 3 })]);
    const small: Dataset = { images: Float32Array.from({ length: 20 }, (_, i) => Math.sin(i)), labels: Uint8Array.from([0, 1, 2, 1, 0]), count: 5 };
    const r = await evaluate({ model: m, params: initParams(m, 2), data: small, backend: 'cpu' });
    expect(r.top5Accuracy).toBe(1);
    expect(r.top5Error).toBe(0);
    expect(r.accuracy).toBeLessThanOrEqual(1);
  });
});
