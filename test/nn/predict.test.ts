import { describe, expect, it } from 'vitest';
import {
  buildModel,
  compile,
  conv2d as conv2dOp,
  createPredictor,
  defineModel,
  initParams,
  input,
  layerOutputs,
  lenet5,
  maxPool2d as maxPool2dOp,
  mul,
  nn,
  predict,
  relu as reluOp,
  softmax,
  tensorValue,
  type Layer,
  type Params,
} from 'striate';
import { randomValues } from '../helpers.js';

/** A small conv net: [2, 6, 6] → conv 3@3×3 → relu → pool 2 → dense 4. */
const small = defineModel('small', [2, 6, 6], [
  nn.conv2d('c1', { filters: 3, size: 3 }),
  nn.relu(),
  nn.maxPool2d({ size: 2 }),
  nn.flatten(),
  nn.dense('fc', { units: 4 }),
]);
const PER = 2 * 6 * 6;
const images = (count: number, seed = 1): Float32Array => Float32Array.from(randomValues(count * PER, seed));

/** The model's logits for all `count` examples in one float64 reference run, and their softmax by the op. */
async function reference(params: Params, x: Float32Array, count: number): Promise<{ logits: Float64Array; probs: Float64Array }> {
  const built = buildModel(small, { batchSize: count });
  const f = compile([built.output, softmax(built.output, -1)], { backend: 'reference' });
  const feeds: Record<string, Float32Array> = { x };
  for (const p of built.params) feeds[p.name] = params[p.name].data;
  const [logits, probs] = await f.run(feeds);
  return { logits: logits.data, probs: probs.data };
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  expect(worst).toBeLessThan(tol);
}

describe('createPredictor', () => {
  const params = initParams(small, 7);

  it.each([
    ['reference', 1e-6],
    ['cpu', 1e-5],
  ] as const)('on %s gives the softmax of the logits for a count that is not a multiple of the chunk', async (backend, tol) => {
    const count = 7;
    const x = images(count);
    const want = await reference(params, x, count);
    const predictor = createPredictor(small, params, { backend, batchSize: 3 });
    try {
      expect(predictor.batchSize).toBe(3);
      const got = await predictor.predict(x, { topK: 4 });
      expect(got.count).toBe(count);
      expect(got.classes).toBe(4);
      expect(got.probabilities).toBeInstanceOf(Float32Array);
      expectClose(got.logits, want.logits, tol);
      expectClose(got.probabilities, want.probs, tol);
      // A second call through the same compiled graph, with fewer examples than a chunk.
      const again = await predictor.predict(x.subarray(0, 2 * PER));
      expect(again.count).toBe(2);
      expect(again.probabilities).toEqual(got.probabilities.subarray(0, 8));
    } finally {
      await predictor.dispose();
    }
  });

  it('lists the top k best first, ties to the lower class, with their probabilities', async () => {
    // A dense layer with w = I (3 → 3 of 4 outputs) and bias [0, 0, 0, 2]: the logits are [x0, x1, x2, 2].
    const m = defineModel('lin', [3], [nn.dense('d', { units: 4 })]);
    const w = new Float32Array([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]);
    const p: Params = { 'd.w': tensorValue([3, 4], w), 'd.b': tensorValue([4], new Float32Array([0, 0, 0, 2])) };
    const x = new Float32Array([
      1, 3, 3, // logits [1, 3, 3, 2]: 1 and 2 tie above 3 above 0
      5, -1, 0, // [5, -1, 0, 2]
      2, 2, 2, // [2, 2, 2, 2]: all tie, so class order
    ]);
    const r = await predict(m, p, x, { backend: 'reference', topK: 3 });
    expect(r.topK.k).toBe(3);
    expect([...r.topK.labels]).toEqual([1, 2, 3, 0, 3, 2, 0, 1, 2]);
    for (let i = 0; i < 9; i++) {
      const row = Math.floor(i / 3);
      expect(r.topK.probabilities[i]).toBe(r.probabilities[row * 4 + r.topK.labels[i]]);
    }
    expect(r.probabilities[3]).toBeCloseTo(Math.exp(2) / (Math.exp(1) + 2 * Math.exp(3) + Math.exp(2)), 6);
    // Default k: min(5, classes).
    expect((await predict(m, p, x, { backend: 'reference' })).topK.k).toBe(4);
  });

  it('handles no examples, and takes other parameters per call', async () => {
    const predictor = createPredictor(small, params, { backend: 'reference', batchSize: 2 });
    const none = await predictor.predict(new Float32Array(0), { topK: 2 });
    expect([none.count, none.probabilities.length, none.topK.labels.length]).toEqual([0, 0, 0]);
    const x = images(3, 5);
    const other = initParams(small, 8);
    const mine = await predictor.predict(x);
    const theirs = await predictor.predict(x, { params: other });
    expect(theirs.logits).toEqual((await predict(small, other, x, { backend: 'reference' })).logits);
    expect(theirs.logits).not.toEqual(mine.logits);
    await predictor.dispose();
    await expect(predictor.predict(x)).rejects.toThrow('predict: this predictor has been disposed; make a new one with createPredictor');
    await predictor.dispose(); // twice is fine
  });

  it('refuses wrong images, parameters, k and options with messages', async () => {
    expect(() => createPredictor(small, {}, { backend: 'reference' })).toThrow(
      'createPredictor: params has no "c1.w" (shape [3,2,3,3]), which model "small" reads',
    );
    const wrong = { ...params, 'fc.w': tensorValue([27, 4], new Float32Array(108)) };
    expect(() => createPredictor(small, wrong, { backend: 'reference' })).toThrow(
      'createPredictor: parameter "fc.w" has shape [27,4] but model "small" needs [12,4]',
    );
    expect(() => createPredictor(small, params, { batchSize: 0 })).toThrow('createPredictor: batchSize must be a positive integer, got 0');
    expect(() => createPredictor(small, params, { backend: 'gpu' as never })).toThrow(/unknown backend "gpu"/);
    expect(() => createPredictor({} as never, params)).toThrow(/createPredictor: model must be a Model/);

    const predictor = createPredictor(small, params, { backend: 'reference', batchSize: 2 });
    await expect(predictor.predict(new Float32Array(PER + 1))).rejects.toThrow(
      'predict: images holds 73 values, which is not a whole number of examples: model "small" reads [2,6,6] (72 values) per example',
    );
    await expect(predictor.predict([1, 2] as never)).rejects.toThrow('predict: images must be a Float32Array of count × 72 values ([2,6,6] per example), got an array');
    for (const k of [0, 5, 1.5]) {
      await expect(predictor.predict(images(1), { topK: k })).rejects.toThrow(`predict: topK must be an integer from 1 to 4 (the number of classes), got ${k}`);
    }
    await expect(predictor.predict(images(1), { params: {} })).rejects.toThrow('predict: params has no "c1.w"');
    await predictor.dispose();

    const features = defineModel('features', [2, 6, 6], [nn.conv2d('c1', { filters: 3, size: 3 })]);
    await expect(predict(features, params, images(1), { backend: 'reference' })).rejects.toThrow(
      'predict: model "features" gives [1,3,4,4], not logits [1, classes]; predict is for classifiers; read other models with outputs()',
    );
  });

  it('feeds graph inputs other than parameters from stats, and asks for them by name', async () => {
    // A plain-function layer that reads a non-trainable input, as a batch-norm layer's running statistics would be.
    const scaled: Layer = (x) => mul(x, input('gain', [1, 4]));
    const m = defineModel('scaled', [3], [nn.dense('d', { units: 4 }), scaled]);
    const p = initParams(m, 1);
    expect(() => createPredictor(m, p, { backend: 'reference' })).toThrow(
      'createPredictor: model "scaled" reads "gain" (shape [1,4]), which is not a parameter; give its value in the stats option',
    );
    const stats = { gain: tensorValue([1, 4], new Float32Array([1, 2, 3, 4])) };
    const x = new Float32Array([0.5, -1, 2]);
    const plain = await predict(defineModel('plain', [3], [nn.dense('d', { units: 4 })]), p, x, { backend: 'reference' });
    const withGain = await predict(m, p, x, { backend: 'reference', stats });
    expectClose(withGain.logits, Array.from(plain.logits, (v, i) => v * (i + 1)), 1e-6);
  });

  it('on webasm agrees with the reference backend', async () => {
    const x = images(5, 3);
    const want = await reference(params, x, 5);
    const got = await predict(small, params, x, { backend: 'webasm', batchSize: 2 });
    expectClose(got.probabilities, want.probs, 1e-5);
  });
});

describe('layer outputs', () => {
  const params = initParams(small, 3);

  it('gives each named layer output with the batch dimension, equal to the ops built by hand', async () => {
    const count = 5;
    const x = images(count, 9);
    // The same graph by hand, for all five examples at once.
    const xi = input('x', [count, 2, 6, 6]);
    const c1 = conv2dOp(xi, input('c1.w', [3, 2, 3, 3]), { bias: input('c1.b', [3]) });
    const r1 = reluOp(c1);
    const p1 = maxPool2dOp(r1, { size: 2 });
    const [c1v, r1v, p1v] = await compile([c1, r1, p1], { backend: 'reference' }).run({
      x,
      'c1.w': params['c1.w'].data,
      'c1.b': params['c1.b'].data,
    });

    const predictor = createPredictor(small, params, { backend: 'reference', batchSize: 2 });
    const out = await predictor.outputs(x, ['c1', 'relu1', 'pool1']);
    expect(Object.keys(out)).toEqual(['c1', 'relu1', 'pool1']);
    expect(out.c1.shape).toEqual([5, 3, 4, 4]);
    expect(out.relu1.shape).toEqual([5, 3, 4, 4]);
    expect(out.pool1.shape).toEqual([5, 3, 2, 2]);
    expectClose(out.c1.data, c1v.data, 1e-6);
    expectClose(out.relu1.data, r1v.data, 1e-6);
    expectClose(out.pool1.data, p1v.data, 1e-6);
    // The last layer's output is the logits predict returns.
    const again = await predictor.outputs(x, ['fc']);
    expect(again.fc.data).toEqual((await predictor.predict(x)).logits);
    await predictor.dispose();

    const oneShot = await layerOutputs(small, params, x, ['flatten1'], { backend: 'cpu' });
    expect(oneShot.flatten1.shape).toEqual([5, 12]);
    expectClose(oneShot.flatten1.data, p1v.data, 1e-5);
  });

  it('names the layers that exist when asked for one that does not, and refuses shared layers as ambiguous', async () => {
    await expect(layerOutputs(small, params, images(1), ['conv1'], { backend: 'reference' })).rejects.toThrow(
      'layerOutputs: the model has no layer named "conv1"; its layers are c1, relu1, pool1, flatten1, fc',
    );
    await expect(layerOutputs(small, params, images(1), [], { backend: 'reference' })).rejects.toThrow(/give a non-empty array of layer names/);

    const shared = nn.dense('s', { units: 3 });
    const twice = defineModel('twice', [3], [shared, nn.relu(), shared]);
    await expect(layerOutputs(twice, initParams(twice, 1), new Float32Array(3), ['s'], { backend: 'reference' })).rejects.toThrow(
      'layerOutputs: layer "s" is applied 2 times (shared weights), so it has 2 outputs',
    );
    const ok = await layerOutputs(twice, initParams(twice, 1), new Float32Array([1, 2, 3]), ['relu1'], { backend: 'reference' });
    expect(ok.relu1.shape).toEqual([1, 3]);
  });

  it('reads LeNet-5 feature maps by name', async () => {
    const model = lenet5();
    const out = await layerOutputs(model, initParams(model, 1), new Float32Array(2 * 784).fill(0.5), ['conv1', 'pool2', 'fc3'], { backend: 'cpu' });
    expect(Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.shape]))).toEqual({ conv1: [2, 6, 24, 24], pool2: [2, 16, 4, 4], fc3: [2, 10] });
  });
});
