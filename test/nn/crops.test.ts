import { describe, expect, it } from 'vitest';
import {
  centerCrop,
  createPredictor,
  defineModel,
  evaluate,
  initParams,
  nn,
  predict,
  StriateError,
  tenCrops,
  tensorValue,
  type Dataset,
  type Params,
} from 'striate';
import { randomValues } from '../helpers.js';

/** A small conv net reading [2, 6, 6] crops, run on [2, 8, 9] images (non-square: crops need not be of square images). */
const small = defineModel('small', [2, 6, 6], [
  nn.conv2d('c1', { filters: 3, size: 3 }),
  nn.relu(),
  nn.maxPool2d({ size: 2 }),
  nn.flatten(),
  nn.dense('fc', { units: 4 }),
]);
const IMAGE = [2, 8, 9];
const PER = 2 * 8 * 9;
const params = initParams(small, 7);
const images = (count: number, seed = 1): Float32Array => Float32Array.from(randomValues(count * PER, seed));

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  expect(worst).toBeLessThan(tol);
}

/** The StriateError a promise rejects with, from `op`. */
async function rejection(p: Promise<unknown>, op: string): Promise<StriateError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(StriateError);
  expect((e as StriateError).op).toBe(op);
  return e as StriateError;
}

describe('predict with crops', () => {
  it("'ten' gives the mean of the probabilities of the ten crops predicted one by one, through a padded last chunk", async () => {
    const count = 7;
    const x = images(count);
    // The ten crops cut by hand, each predicted as a batch of its own.
    const single = await Promise.all(tenCrops(x, IMAGE, 6).map((view) => predict(small, params, view, { backend: 'reference' })));
    const mean = new Float64Array(count * 4);
    for (const p of single) p.probabilities.forEach((v, i) => (mean[i] += v / 10));
    // The averaged prediction, by a predictor of 3 examples per run (7 = 3 + 3 + 1 padded).
    const predictor = createPredictor(small, params, { backend: 'reference', batchSize: 3 });
    try {
      const got = await predictor.predict(x, { crops: 'ten', imageShape: IMAGE, topK: 4 });
      expect(got.count).toBe(count);
      expect(got.classes).toBe(4);
      expectClose(got.probabilities, mean, 1e-6);
      // Its logits are the log of the mean: their softmax is the mean (it already sums to 1).
      expectClose(got.logits, Array.from(mean, Math.log), 1e-5);
      // Top-k ranks the averaged probabilities.
      for (let r = 0; r < count; r++) {
        const row = [...mean.subarray(r * 4, r * 4 + 4)];
        const order = [0, 1, 2, 3].sort((a, b) => row[b] - row[a]);
        expect([...got.topK.labels.subarray(r * 4, r * 4 + 4)]).toEqual(order);
        expectClose(got.topK.probabilities.subarray(r * 4, r * 4 + 4), order.map((c) => row[c]), 1e-6);
      }
      // The same compiled graph still predicts the model's own input size.
      const plain = await predictor.predict(tenCrops(x, IMAGE, 6)[0]);
      expectClose(plain.probabilities, single[0].probabilities, 1e-7);
      // And the averages differ from any one crop's (the crops carry different evidence here).
      expect(Math.max(...Array.from(mean, (m, i) => Math.abs(m - single[4].probabilities[i])))).toBeGreaterThan(1e-3);
    } finally {
      await predictor.dispose();
    }
  });

  it("'center' gives the probabilities of the centre crops, and the one-shot predict takes crops too", async () => {
    const x = images(5, 3);
    const want = await predict(small, params, centerCrop(x, IMAGE, 6), { backend: 'reference' });
    const got = await predict(small, params, x, { backend: 'reference', crops: 'center', imageShape: IMAGE });
    expectClose(got.probabilities, want.probabilities, 1e-7);
    expect(got.topK.labels).toEqual(want.topK.labels);
    // Its logits are the log-probabilities: the model's logits less their log-sum-exp.
    expectClose(got.logits, Array.from(want.probabilities, Math.log), 1e-5);
    // No examples: nothing to run.
    const none = await predict(small, params, new Float32Array(0), { backend: 'reference', crops: 'ten', imageShape: IMAGE });
    expect(none.count).toBe(0);
  });

  it('on cpu agrees with the reference backend', async () => {
    const x = images(4, 5);
    const ref = await predict(small, params, x, { backend: 'reference', crops: 'ten', imageShape: IMAGE });
    const cpu = await predict(small, params, x, { backend: 'cpu', crops: 'ten', imageShape: IMAGE });
    expectClose(cpu.probabilities, ref.probabilities, 1e-5);
  });

  it('refuses crops it cannot cut, naming predict, what it got and what it expects', async () => {
    const x = images(2);
    const p = (options: Parameters<typeof predict>[3]) => predict(small, params, x, { backend: 'reference', ...options });
    let e = await rejection(p({ crops: 'ten' }), 'predict');
    expect(e.message).toMatch(/crops 'ten' needs imageShape, the \[channels, height, width\] of each image/);
    expect(e.expected).toBe('imageShape [channels, height, width]');
    e = await rejection(p({ crops: 'ten', imageShape: [3, 8, 9] }), 'predict');
    expect(e.message).toMatch(/imageShape \[3,8,9\] has 3 channels but model "small" reads \[2,6,6\] \(2 channels\)/);
    expect(e.got).toBe('3 channels (imageShape [3,8,9])');
    e = await rejection(p({ crops: 'center', imageShape: [2, 5, 9] }), 'predict');
    expect(e.message).toMatch(/5×9 images .* are smaller than the 6×6 crop/);
    // Images the size of the crop: ten would be the image and its mirror five times over.
    e = await rejection(predict(small, params, images(1).subarray(0, 72), { backend: 'reference', crops: 'ten', imageShape: [2, 6, 6] }), 'predict');
    expect(e.message).toMatch(/top-left and top-right crops are the same window .* use crops 'center' \(one crop, here the whole image\)/);
    // …whereas a centre crop of them is the image.
    await expect(predict(small, params, images(1).subarray(0, 72), { backend: 'reference', crops: 'center', imageShape: [2, 6, 6] })).resolves.toBeDefined();
    e = await rejection(p({ crops: 'five' as 'ten', imageShape: IMAGE }), 'predict');
    expect(e.expected).toBe("'ten' or 'center'");
    e = await rejection(p({ crops: 'ten', imageShape: [2, 8, 8] }), 'predict');
    expect(e.message).toMatch(/images holds 288 values, which is not a whole number of \[2,8,8\] images \(128 values each\)/);
    e = await rejection(p({ imageShape: IMAGE }), 'predict');
    expect(e.message).toMatch(/imageShape \[2,8,9\] is not the \[2,6,6\] input of model "small"; to read crops of larger images give crops/);
    e = await rejection(p({ crops: 'ten', imageShape: [8, 9] }), 'predict');
    expect(e.message).toMatch(/imageShape must be the \[channels, height, width\]/);
    // A model whose input is no image.
    const flat = defineModel('flat', [7], [nn.dense('d', { units: 3 })]);
    e = await rejection(predict(flat, initParams(flat, 1), new Float32Array(7), { backend: 'reference', crops: 'center', imageShape: [1, 7, 7] }), 'predict');
    expect(e.message).toMatch(/model "flat" reads \[7\]/);
    // The same checks through a predictor, and imageShape may repeat the model's input.
    const predictor = createPredictor(small, params, { backend: 'reference', batchSize: 2 });
    try {
      await rejection(predictor.predict(x, { crops: 'ten', imageShape: [2, 7, 7] }), 'predict');
      await expect(predictor.predict(images(1).subarray(0, 72), { imageShape: [2, 6, 6] })).resolves.toMatchObject({ count: 1 });
    } finally {
      await predictor.dispose();
    }
  });
});

/**
 * A hand-checkable classifier of [1, 2, 2] crops into three classes: "top"
 * (a bright pixel in the crop's top row), "bottom" (in its bottom row) and
 * "nothing". Logits L·[top row sum, bottom row sum, 1/2]: with L = 60 each
 * crop votes for one class with probability 1 − O(e^−30). Mirroring a crop
 * keeps its rows, so a crop and its mirror image vote alike.
 */
const L = 60;
const rowsModel = defineModel('rows', [1, 2, 2], [nn.flatten(), nn.dense('d', { units: 3 })]);
const rowsParams = (scale: number): Params => ({
  // w [4 pixels (p00, p01, p10, p11), 3 classes]
  'd.w': tensorValue([4, 3], Float32Array.from([1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0].map((v) => v * scale))),
  'd.b': tensorValue([3], Float32Array.from([0, 0, scale / 2])),
});
// 4×4 images; 2×2 crops: top-left rows 0-1 × columns 0-1, top-right 0-1 × 2-3, bottom-left 2-3 × 0-1,
// bottom-right 2-3 × 2-3, centre 1-2 × 1-2.
//   A: . . . .    centre: top row (1,1) (1,2)  → top
//      . # # .    top-left, top-right: bottom row → bottom
//      . . . .    bottom-left: (3,0) in its bottom row → bottom
//      # . . .    bottom-right: nothing
// Ten-crop mean for A: top 2/10, bottom 6/10, nothing 2/10; the centre crop alone says top.
const A = [0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0];
const B = new Array<number>(16).fill(0); // every crop: nothing
const handData: Dataset = { images: Float32Array.from([...A, ...A, ...B]), labels: Uint8Array.from([1, 1, 2]), count: 3 };
/** log Σ exp. */
const lse = (z: number[]): number => {
  const m = Math.max(...z);
  return m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
};

describe('evaluate with crops', () => {
  it("'ten': accuracy and loss of the averaged probabilities, checked by hand, through a padded last batch", async () => {
    for (const batchSize of [2, 3]) {
      const r = await evaluate({ model: rowsModel, params: rowsParams(L), data: handData, crops: 'ten', backend: 'reference', batchSize });
      expect(r.count).toBe(3);
      expect(r.accuracy).toBe(1); // A: bottom (6/10), B: nothing
      expect(r.top5Accuracy).toBe(1);
      // Cross-entropy of the mean: −log 0.6 twice, −log 1 once.
      expect(r.loss).toBeCloseTo((-2 * Math.log(0.6)) / 3, 9);
    }
    // predict agrees: the same averaged probabilities and the same top-1.
    const p = await predict(rowsModel, rowsParams(L), handData.images, { backend: 'reference', crops: 'ten', imageShape: [1, 4, 4], topK: 1 });
    expectClose(p.probabilities, [0.2, 0.6, 0.2, 0.2, 0.6, 0.2, 0, 0, 1], 1e-7);
    expect([...p.topK.labels]).toEqual([1, 1, 2]);
  });

  it("'center' sees only the centre crop, as evaluate without crops on centre-cropped data does", async () => {
    const r = await evaluate({ model: rowsModel, params: rowsParams(L), data: handData, crops: 'center', imageShape: [1, 4, 4], backend: 'reference' });
    expect(r.accuracy).toBeCloseTo(1 / 3, 12); // A's centre says top
    // A: logits [2L, 0, L/2], label bottom; B: [0, 0, L/2], label nothing.
    const want = (2 * lse([2 * L, 0, L / 2]) + lse([0, 0, L / 2]) - L / 2) / 3;
    expect(r.loss).toBeCloseTo(want, 9);
    const cropped = { ...handData, images: centerCrop(handData.images, [1, 4, 4], 2) };
    const plain = await evaluate({ model: rowsModel, params: rowsParams(L), data: cropped, backend: 'reference' });
    expect(plain.accuracy).toBeCloseTo(r.accuracy, 12);
    expect(plain.loss).toBeCloseTo(r.loss, 9);
  });

  it('keeps the loss finite when a probability underflows in every crop', async () => {
    // Scale 2000: B's crops give logits [0, 0, 1000]; its label "top" has probability e^−1000 in each (0 in float64),
    // and the cross-entropy of the mean is still 1000 + log(1 + 2e^−1000) = 1000.
    const data: Dataset = { images: Float32Array.from(B), labels: Uint8Array.from([0]), count: 1 };
    const r = await evaluate({ model: rowsModel, params: rowsParams(2000), data, crops: 'ten', backend: 'reference' });
    expect(r.loss).toBeCloseTo(1000, 6);
    expect(r.accuracy).toBe(0);
  });

  it('agrees with predict on the small conv net, example by example, on cpu too', async () => {
    const count = 5;
    const x = images(count, 9);
    const labels = Uint8Array.from([0, 1, 2, 3, 1]);
    const p = await predict(small, params, x, { backend: 'reference', crops: 'ten', imageShape: IMAGE, topK: 1 });
    const ce = [...labels].reduce((s, label, i) => s - Math.log(p.probabilities[i * 4 + label]), 0) / count;
    const correct = [...labels].filter((label, i) => p.topK.labels[i] === label).length;
    for (const backend of ['reference', 'cpu'] as const) {
      const r = await evaluate({ model: small, params, data: { images: x, labels, count }, crops: 'ten', imageShape: IMAGE, backend, batchSize: 2 });
      expect(r.loss).toBeCloseTo(ce, backend === 'reference' ? 6 : 4);
      expect(r.accuracy).toBeCloseTo(correct / count, 12);
    }
  });

  it('infers square images from the data, and refuses what it cannot crop, naming evaluate', async () => {
    const base = { model: rowsModel, params: rowsParams(L), backend: 'reference' as const };
    // [1, 4, 4] from 16 values per example and the model's one channel.
    const inferred = await evaluate({ ...base, data: handData, crops: 'ten' });
    const given = await evaluate({ ...base, data: handData, crops: 'ten', imageShape: [1, 4, 4] });
    expect(inferred).toEqual(given);
    // 15 values per example: not a square; non-square images need imageShape.
    const odd: Dataset = { images: new Float32Array(30), labels: Uint8Array.from([0, 1]), count: 2 };
    let e = await rejection(evaluate({ ...base, data: odd, crops: 'ten' }), 'evaluate');
    expect(e.message).toMatch(/data has 15 values per example, which is not 1 square channel of model "rows"'s \[1,2,2\] input; give imageShape/);
    const r = await evaluate({ ...base, data: odd, crops: 'ten', imageShape: [1, 3, 5] });
    expect(r.count).toBe(2);
    e = await rejection(evaluate({ ...base, data: odd, crops: 'ten', imageShape: [1, 4, 4] }), 'evaluate');
    expect(e.message).toMatch(/data has 2 examples, 30 image values and 2 labels, but its images are \[1,4,4\] \(imageShape, 16 values\) per example/);
    e = await rejection(evaluate({ ...base, data: handData, crops: 'ten', imageShape: [3, 4, 4] }), 'evaluate');
    expect(e.message).toMatch(/has 3 channels but model "rows" reads \[1,2,2\] \(1 channel\)/);
    e = await rejection(evaluate({ ...base, data: { ...handData, images: new Float32Array(27), count: 3 }, crops: 'ten' }), 'evaluate');
    expect(e.message).toMatch(/top-left and centre crops are the same window/);
    e = await rejection(evaluate({ ...base, data: handData, crops: 'all' as 'ten' }), 'evaluate');
    expect(e.expected).toBe("'ten' or 'center'");
    e = await rejection(evaluate({ ...base, data: handData, imageShape: [1, 4, 4] }), 'evaluate');
    expect(e.message).toMatch(/imageShape \[1,4,4\] is not the \[1,2,2\] input of model "rows"/);
    e = await rejection(evaluate({ ...base, data: { images: new Float32Array(0), labels: new Uint8Array(0), count: 0 }, crops: 'ten' }), 'evaluate');
    expect(e.message).toMatch(/the data set is empty/);
    // A non-finite pixel is reported at its place in the full image.
    const bad = Float32Array.from(handData.images);
    bad[16 + 15] = NaN;
    e = await rejection(evaluate({ ...base, data: { ...handData, images: bad }, crops: 'ten' }), 'evaluate');
    expect(e.message).toMatch(/example 1 holds NaN at pixel \[0,3,3\] of its \[1,4,4\] image/);
  });
});
