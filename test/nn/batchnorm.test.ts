/**
 * The batch-norm layer and the statistics it keeps: the two graphs it builds,
 * its running averages moved by train exactly as the formula says, read by
 * evaluate and predict, refused when missing, saved with a model
 * description, and the gradient through the batch statistics in training.
 */
import { describe, expect, it } from 'vitest';
import { lastValueFrom } from 'rxjs';
import { filter } from 'rxjs/operators';
import {
  buildModel,
  defineModel,
  evaluate,
  initParams,
  initStats,
  modelFromJson,
  modelToJson,
  nn,
  predict,
  sgd,
  statShapes,
  summary,
  train,
  type Dataset,
  type TrainEvent,
} from '../../src/index.js';
import { batches } from '../../src/data/batches.js';
import { striateError } from '../helpers.js';

const model = defineModel('bn-net', [2, 3, 3], [nn.batchNorm('bn', { momentum: 0.25 }), nn.flatten(), nn.dense('fc', { units: 3 })]);

function dataset(count: number, seed = 1): Dataset {
  const images = Float32Array.from({ length: count * 18 }, (_, i) => Math.sin(i * 0.37 + seed) * 2 + (Math.floor(i / 9) % 2) * 3);
  const labels = Uint8Array.from({ length: count }, (_, i) => (i * 7 + seed) % 3);
  return { images, labels, count };
}

describe('nn.batchNorm', () => {
  it('builds batch statistics into the training graph and running averages into the inference one', () => {
    const inference = buildModel(model, { batchSize: 4 });
    expect(inference.params.map((p) => p.name)).toEqual(['bn.gamma', 'bn.beta', 'fc.w', 'fc.b']);
    expect(inference.stats.map((s) => [s.name, [...s.shape], s.initial])).toEqual([
      ['bn.mean', [2], 0],
      ['bn.variance', [2], 1],
    ]);
    expect(inference.statUpdates).toEqual([]);
    const training = buildModel(model, { batchSize: 4, training: true });
    expect(training.statUpdates.map((t) => t.shape)).toEqual([[2], [2]]);
    expect(statShapes(model)).toEqual({ 'bn.mean': [2], 'bn.variance': [2] });
    const stats = initStats(model);
    expect([...stats['bn.mean'].data]).toEqual([0, 0]);
    expect([...stats['bn.variance'].data]).toEqual([1, 1]);
    expect(summary(model).layers[0]).toMatchObject({ name: 'bn', kind: 'batchNorm', paramCount: 4 });
  });

  it('train moves the running averages by momentum towards each batch mean and unbiased variance', async () => {
    const data = dataset(12);
    const batchSize = 4;
    const events: TrainEvent[] = [];
    const done = await lastValueFrom(
      train({ model, data: { train: data }, optimizer: sgd({ lr: 0.1 }), epochs: 1, batchSize, seed: 3, backend: 'reference', snapshots: { every: 1 } }).pipe(
        filter((e) => (events.push(e), e.type === 'done')),
      ),
    );
    // Replay the batches train drew and apply the update by hand.
    let mean = [0, 0];
    let variance = [1, 1];
    for (const b of batches(data, { batchSize, shuffle: true, seed: 3, epoch: 0, dropLast: true })) {
      for (let c = 0; c < 2; c++) {
        const xs: number[] = [];
        for (let n = 0; n < batchSize; n++) for (let p = 0; p < 9; p++) xs.push(b.images[n * 18 + c * 9 + p]);
        const m = xs.reduce((a, v) => a + v, 0) / xs.length;
        const v = xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1);
        mean[c] = 0.75 * mean[c] + 0.25 * m;
        variance[c] = 0.75 * variance[c] + 0.25 * v;
      }
    }
    const stats = done.type === 'done' ? done.state.stats : {};
    [...stats['bn.mean'].data].forEach((v, c) => expect(v).toBeCloseTo(mean[c], 5));
    [...stats['bn.variance'].data].forEach((v, c) => expect(v).toBeCloseTo(variance[c], 4));
    // Every step's snapshot carries that step's statistics, and they move.
    const snaps = events.flatMap((e) => (e.type === 'step' && e.state ? [e.state.stats['bn.mean'].data[0]] : []));
    expect(snaps.length).toBe(3);
    expect(new Set(snaps).size).toBe(3);
  });

  it('evaluate and predict read the statistics given, and refuse a model without them', async () => {
    const params = initParams(model, 2);
    const data = dataset(6, 4);
    const stats = { 'bn.mean': { shape: [2], data: Float32Array.of(1, 3) }, 'bn.variance': { shape: [2], data: Float32Array.of(4, 0.5) } };
    const a = await evaluate({ model, params, data, stats, backend: 'reference' });
    const b = await evaluate({ model, params, data, stats: initStats(model), backend: 'reference' });
    expect(a.loss).not.toBeCloseTo(b.loss, 6);
    const p = await predict(model, params, data.images.subarray(0, 18), { stats, backend: 'reference' });
    const q = await predict(model, params, data.images.subarray(0, 18), { stats: initStats(model), backend: 'reference' });
    expect(p.logits).not.toEqual(q.logits);
    await expect(evaluate({ model, params, data })).rejects.toThrow(expect.objectContaining({ op: 'evaluate', message: expect.stringContaining('has no "bn.mean"') }));
    await expect(evaluate({ model, params, data, stats: { ...stats, 'bn.variance': { shape: [3], data: new Float32Array(3) } } })).rejects.toThrow(
      expect.objectContaining({ op: 'evaluate', message: expect.stringContaining('"bn.variance" has shape [3] but the model reads [2]') }),
    );
  });

  it('train refuses initial statistics of the wrong shape, and a layer applied twice', () => {
    const data = dataset(8);
    const params = initParams(model, 1);
    expect(
      striateError(() => train({ model, data: { train: data }, optimizer: sgd({ lr: 0.1 }), epochs: 1, batchSize: 4, initial: { params, stats: { 'bn.mean': { shape: [2], data: new Float32Array(2) } } } }), 'train').message,
    ).toContain('initial.stats has no "bn.variance"');
    const bn = nn.batchNorm('shared');
    const twice = defineModel('twice', [2, 3, 3], [bn, bn, nn.flatten(), nn.dense('fc', { units: 3 })]);
    expect(buildModel(twice).stats.length).toBe(2);
    expect(striateError(() => buildModel(twice, { training: true }), 'nn').message).toContain('applied twice in one training graph');
  });

  it('round-trips through a model description, and refuses bad options', () => {
    const back = modelFromJson(JSON.parse(JSON.stringify(modelToJson(model))));
    expect(buildModel(back).stats.map((s) => s.name)).toEqual(['bn.mean', 'bn.variance']);
    expect(modelToJson(back)).toEqual(modelToJson(model));
    expect(striateError(() => nn.batchNorm('b', { momentum: 0 }), 'nn.batchNorm').expected).toBe('a number in (0, 1]');
    expect(striateError(() => nn.batchNorm('b', { epsilon: -1 }), 'nn.batchNorm').expected).toBe('a finite number > 0');
    expect(striateError(() => nn.batchNorm('b', { eps: 1 } as never), 'nn.batchNorm').got).toBe('option "eps"');
  });

  it('trains on a wasm backend like on the reference (the same losses, within float32)', async () => {
    const conv = defineModel('bn-conv', [1, 6, 6], [
      nn.conv2d('c', { filters: 3, size: 3, bias: false }),
      nn.batchNorm('bn'),
      nn.relu(),
      nn.flatten(),
      nn.dense('fc', { units: 3 }),
    ]);
    const data: Dataset = { images: Float32Array.from({ length: 16 * 36 }, (_, i) => Math.cos(i * 0.21)), labels: Uint8Array.from({ length: 16 }, (_, i) => i % 3), count: 16 };
    const losses = async (backend: 'reference' | 'webasm') => {
      const out: number[] = [];
      await lastValueFrom(
        train({ model: conv, data: { train: data }, optimizer: sgd({ lr: 0.5 }), epochs: 2, batchSize: 8, backend }).pipe(filter((e) => (e.type === 'step' && out.push(e.loss), e.type === 'done'))),
      );
      return out;
    };
    const [ref, wasm] = [await losses('reference'), await losses('webasm')];
    expect(ref.length).toBe(4);
    wasm.forEach((l, i) => expect(l).toBeCloseTo(ref[i], 4));
    expect(ref[3]).toBeLessThan(ref[0]);
  });
});
