/**
 * Subscription lifecycle of `train`: cold start, unsubscribe within one step,
 * and disposal of every compiled function. `compile` is wrapped so that each
 * compiled function counts its runs and gains a `dispose()` (as device
 * backends have).
 */
import { lastValueFrom, take, tap, toArray } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRng } from '../../src/data/random.js';
import { conv2d, defineModel, dense, flatten, relu } from '../../src/nn/index.js';
import { adam, sgd, train, type TrainEvent } from '../../src/train/index.js';

const probe = vi.hoisted(() => ({ compiled: 0, runs: 0, disposed: 0, log: [] as string[] }));

vi.mock('../../src/backend/compile.js', async (importOriginal) => {
  const mod = await importOriginal<typeof import('../../src/backend/compile.js')>();
  return {
    ...mod,
    compile: (...args: Parameters<typeof mod.compile>) => {
      const f = mod.compile(...args);
      probe.compiled++;
      return {
        backend: f.backend,
        inputs: f.inputs,
        run: (feeds: Parameters<typeof f.run>[0]) => {
          probe.runs++;
          probe.log.push('run');
          return f.run(feeds);
        },
        // Asynchronous, as the gpu.js backends' dispose() is.
        dispose: async () => {
          await new Promise((r) => setTimeout(r, 5));
          probe.disposed++;
          probe.log.push('dispose');
        },
      };
    },
  };
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until every compiled function has been disposed. Disposal follows the
 * end of the training loop, so once it has happened no further run can start:
 * the counts are final. Waiting on the condition (not a fixed sleep) keeps the
 * tests honest on a loaded machine, where a timer can fire late.
 */
async function disposalDone(expected: number): Promise<void> {
  await vi.waitFor(() => expect(probe.disposed).toBe(expected), { timeout: 20_000, interval: 5 });
  // Nothing more may arrive after that.
  await sleep(20);
  expect(probe.disposed).toBe(expected);
}

function synthetic(count: number, seed: number) {
  const rng = createRng(seed);
  return { images: new Float32Array(count * 64).map(() => rng.next()), labels: new Uint8Array(count).map(() => rng.int(10)), count };
}

const model = defineModel('small', [1, 8, 8], [conv2d('c', { filters: 4, size: 3 }), relu(), flatten(), dense('out', { units: 10 })]);
const data = { train: synthetic(512, 1), test: synthetic(64, 2) };

afterEach(() => {
  Object.assign(probe, { compiled: 0, runs: 0, disposed: 0, log: [] });
});

describe('train lifecycle', () => {
  it('is cold: nothing is built or run before subscribing', async () => {
    const events$ = train({ model, data, optimizer: adam(), epochs: 1, batchSize: 16 });
    await sleep(20);
    expect(probe.compiled).toBe(0);
    expect(probe.runs).toBe(0);
    await lastValueFrom(events$.pipe(take(1)));
    expect(probe.compiled).toBe(2); // the training graph and the evaluation graph
    await disposalDone(2);
    expect(probe.runs).toBe(1);
  });

  it('an unsubscribe from inside a step event stops before the next step and disposes everything', async () => {
    const got = await lastValueFrom(train({ model, data, optimizer: sgd({ lr: 0.01 }), epochs: 3, batchSize: 16 }).pipe(take(3), toArray()));
    expect(got.map((e) => e.type)).toEqual(['step', 'step', 'step']);
    await disposalDone(probe.compiled);
    expect(probe.runs).toBe(3);
  });

  it('an unsubscribe from a timer lands within one step', async () => {
    const events: TrainEvent[] = [];
    const sub = train({ model, data, optimizer: adam(), epochs: 50, batchSize: 16 }).subscribe((e) => events.push(e));
    // Unsubscribe from a timer callback (not from inside an event) once a few steps ran.
    await vi.waitFor(() => expect(events.length).toBeGreaterThan(2), { timeout: 20_000, interval: 5 });
    sub.unsubscribe();
    const runsAtUnsubscribe = probe.runs;
    const eventsAtUnsubscribe = events.length;
    await disposalDone(2);
    expect(probe.runs).toBeLessThanOrEqual(runsAtUnsubscribe + 1);
    expect(events.length).toBe(eventsAtUnsubscribe);
  });

  it('an unsubscribe during the evaluation stops it between batches', async () => {
    // 64 test images in batches of 8: 8 evaluation runs per epoch.
    const sub = train({ model, data: { train: synthetic(32, 3), test: data.test }, optimizer: adam(), epochs: 5, batchSize: 16, evalBatchSize: 8 }).subscribe((e) => {
      if (e.type === 'step' && e.step === 2) setImmediate(() => setImmediate(() => sub.unsubscribe()));
    });
    await disposalDone(2);
    // 2 training runs, then at most a couple of evaluation runs before the unsubscribe lands.
    expect(probe.runs).toBeGreaterThanOrEqual(2);
    expect(probe.runs).toBeLessThan(2 + 8);
  });

  it('disposes before the done event on completion, and after an error', async () => {
    const order: string[] = [];
    let logAtDone: string[] = [];
    await lastValueFrom(
      train({ model, data: { train: synthetic(32, 4) }, optimizer: adam(), epochs: 1, batchSize: 16 }).pipe(
        tap((e) => {
          order.push(e.type);
          if (e.type === 'done') logAtDone = [...probe.log];
        }),
      ),
    );
    expect(logAtDone).toEqual(['run', 'run', 'dispose']);
    expect(order).toEqual(['step', 'step', 'epoch', 'done']);

    Object.assign(probe, { disposed: 0, compiled: 0 });
    await expect(
      lastValueFrom(train({ model, data, optimizer: adam(), epochs: 1, batchSize: 16, onEpochEnd: () => { throw new Error('nope'); } })),
    ).rejects.toThrow('nope');
    expect(probe.disposed).toBe(probe.compiled);
  });
});
