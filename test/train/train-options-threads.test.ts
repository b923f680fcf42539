/**
 * train({ threads }): each step's batch cut across threads (compileParallel).
 * Without batch normalisation a run on several threads is the run on one, up
 * to float rounding: the same losses, accuracies and parameters, dropout
 * included (the masks are drawn for the whole batch and cut with it). Bad
 * combinations are refused when train is called.
 */
import { describe, expect, it } from 'vitest';
import { adam, defineModel, initParams, nn, sgd, train, type StepEvent } from 'striate';
import { Evaluator } from '../../src/train/evaluate.js';
import { striateError } from '../helpers.js';
import { CLASSES, data, doneOf, run, small, stepsOf } from './train-options-fixtures.js';

const dropped = () =>
  defineModel('dropped', [1, 6, 6], [
    nn.conv2d('c1', { filters: 3, size: 3 }),
    nn.relu(),
    nn.flatten(),
    nn.dense('d1', { units: 16 }),
    nn.relu(),
    nn.dropout('drop', 0.5),
    nn.dense('out', { units: CLASSES }),
  ]);

const losses = (steps: readonly StepEvent[]) => steps.map((s) => s.loss);

describe('train({ threads })', () => {
  it.each([
    { name: 'small', model: small, threads: 2 },
    { name: 'with dropout', model: dropped, threads: 2 },
    { name: 'with dropout', model: dropped, threads: 4 },
  ])('$name on $threads threads trains as on one thread', async ({ model, threads }) => {
    const options = { model: model(), data, optimizer: adam({ lr: 0.01 }), epochs: 2, batchSize: 16, seed: 3, backend: 'webasm' } as const;
    const one = await run(train(options));
    const many = await run(train({ ...options, threads }));
    const a = stepsOf(one);
    const b = stepsOf(many);
    expect(b.length).toBe(a.length);
    losses(b).forEach((l, i) => expect(l).toBeCloseTo(losses(a)[i], 4));
    expect(b.map((s) => s.accuracy)).toEqual(a.map((s) => s.accuracy));
    const pa = doneOf(one).state.params;
    const pb = doneOf(many).state.params;
    for (const name of Object.keys(pa)) {
      pb[name].data.forEach((v, j) => expect(v).toBeCloseTo(pa[name].data[j], 3));
    }
    expect(doneOf(many).testAccuracy).toBe(doneOf(one).testAccuracy);
  });

  it('the evaluation is cut across the threads when they divide its batch, and computes the same', async () => {
    const model = small();
    const params = initParams(model, 5);
    const one = new Evaluator(model, 32, 'webasm');
    const two = new Evaluator(model, 32, 'webasm', null, 2);
    const odd = new Evaluator(model, 31, 'webasm', null, 2); // 31 does not split: one thread
    try {
      const a = (await one.run(params, data.test))!;
      for (const b of [(await two.run(params, data.test))!, (await odd.run(params, data.test))!]) {
        expect(b.loss).toBeCloseTo(a.loss, 5);
        expect(b.accuracy).toBe(a.accuracy);
        expect(b.top5Accuracy).toBe(a.top5Accuracy);
      }
      expect((two as unknown as { fn: object }).fn.constructor.name).toBe('ParallelFunction');
      expect((odd as unknown as { fn: object }).fn.constructor.name).toBe('GpuJsFunction');
    } finally {
      await Promise.all([one.dispose(), two.dispose(), odd.dispose()]);
    }
  });

  it('refuses threads it cannot run, when train is called', () => {
    const base = { model: small(), data, optimizer: sgd({ lr: 0.1 }), epochs: 1, batchSize: 16, backend: 'webasm' } as const;
    const message = (f: () => unknown) => striateError(f, 'train').message;
    expect(message(() => train({ ...base, threads: 3 }))).toMatch(/batchSize 16 does not split into 3 equal parts/);
    expect(message(() => train({ ...base, threads: 2, backend: 'webasm-threads' }))).toMatch(/threads 2 needs backend "webasm" or "cpu", got "webasm-threads"/);
    expect(message(() => train({ ...base, threads: 2, backend: 'auto' }))).toMatch(/got "auto"/);
    expect(message(() => train({ ...base, threads: 0 }))).toMatch(/threads/);
    expect(message(() => train({ ...base, threads: 128 }))).toMatch(/threads must be at most 64, got 128/);
  });
});
