/** `train({ transform })`: every training batch through an RxJS operator, one at a time. */
import { concatMap, filter, map, mergeMap, Observable, type MonoTypeOperatorFunction } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { adam, createRng, sgd, train, type Batch, type TrainEvent } from 'striate';
import { batchSeed, batches } from '../../src/data/batches.js';
import { BatchTransformer } from '../../src/train/transform.js';
import { data, doneOf, run, small, stepsOf, values } from './train-options-fixtures.js';

const base = { model: small(), data, epochs: 2, batchSize: 16, seed: 3, backend: 'reference', evaluate: false } as const;

const invert = (b: Batch): Batch => ({ ...b, images: b.images.map((v) => 1 - v) });

/** Noise drawn from the batch's own seed: reproducible from the batch alone. */
const jitter: MonoTypeOperatorFunction<Batch> = map((b) => {
  const rng = createRng(b.seed);
  return { ...b, images: b.images.map((v) => v + 0.2 * (rng.next() - 0.5)) };
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The error a run ends with, and the steps before it. */
async function failure(options: Parameters<typeof train>[0]): Promise<{ error: Error; steps: number[] }> {
  const events: TrainEvent[] = [];
  const error = await new Promise<Error>((resolve, reject) =>
    train(options).subscribe({ next: (e) => events.push(e), error: resolve, complete: () => reject(new Error('training completed')) }),
  );
  return { error, steps: stepsOf(events).map((e) => e.step) };
}

describe('batches carry their place and a seed of their own', () => {
  it('epoch, index and batchSeed(seed, epoch, index), whatever the order', () => {
    const got = [...batches(data.train, { batchSize: 16, seed: 3, epoch: 2 })];
    expect(got.map((b) => [b.epoch, b.index])).toEqual([[2, 0], [2, 1], [2, 2], [2, 3]]);
    expect(got.map((b) => b.seed)).toEqual([0, 1, 2, 3].map((i) => batchSeed(3, 2, i)));
    expect([...batches(data.train, { batchSize: 16, seed: 3, epoch: 2, shuffle: false })].map((b) => b.seed)).toEqual(got.map((b) => b.seed));
    const seeds = new Set([batchSeed(3, 2, 0), batchSeed(3, 2, 1), batchSeed(3, 1, 0), batchSeed(4, 2, 0), batchSeed(3, 0, 2)]);
    expect(seeds.size).toBe(5);
    expect(Number.isInteger(batchSeed(3, 2, 0)) && batchSeed(3, 2, 0) >= 0 && batchSeed(3, 2, 0) < 2 ** 32).toBe(true);
  });
});

describe('train with a transform', () => {
  it('trains on what the transform makes of each batch, synchronous or asynchronous', async () => {
    const inverted = { train: { ...data.train, images: data.train.images.map((v) => 1 - v) } };
    const plain = await run(train({ ...base, optimizer: adam({ lr: 0.01 }), data: inverted }));
    const sync = await run(train({ ...base, optimizer: adam({ lr: 0.01 }), transform: map(invert) }));
    const async = await run(
      train({
        ...base,
        optimizer: adam({ lr: 0.01 }),
        transform: concatMap(async (b) => {
          await sleep(2);
          return invert(b);
        }),
      }),
    );
    const losses = (events: TrainEvent[]) => stepsOf(events).map((e) => e.loss);
    expect(losses(plain)).toHaveLength(8);
    expect(losses(sync)).toEqual(losses(plain));
    expect(losses(async)).toEqual(losses(plain));
    expect(values(doneOf(async).state.params)).toEqual(values(doneOf(plain).state.params));
  });

  it('sees each batch with its epoch, index and seed, so a seeded augmentation is reproducible, resumed runs included', async () => {
    const seen: Batch[] = [];
    const record: MonoTypeOperatorFunction<Batch> = (source) => source.pipe(map((b) => (seen.push(b), b)), jitter);
    const straight = await run(train({ ...base, optimizer: sgd({ lr: 0.2, momentum: 0.9 }), transform: record }));
    expect(seen.map((b) => [b.epoch, b.index])).toEqual([[0, 0], [0, 1], [0, 2], [0, 3], [1, 0], [1, 1], [1, 2], [1, 3]]);
    expect(seen.map((b) => b.seed)).toEqual(seen.map((b) => batchSeed(3, b.epoch, b.index)));
    const again = await run(train({ ...base, optimizer: sgd({ lr: 0.2, momentum: 0.9 }), transform: jitter }));
    expect(stepsOf(again).map((e) => e.loss)).toEqual(stepsOf(straight).map((e) => e.loss));

    // Paused after 6 steps (inside epoch 2) and resumed: the same batches, the same noise, the same end.
    const first = stepsOf(await run(train({ ...base, optimizer: sgd({ lr: 0.2, momentum: 0.9 }), transform: jitter, snapshots: true })))[5];
    seen.length = 0;
    const resumed = await run(train({ ...base, epochs: 1, optimizer: sgd({ lr: 0.2, momentum: 0.9 }), transform: record, initial: first.state }));
    expect(seen.map((b) => [b.epoch, b.index])).toEqual([[1, 2], [1, 3]]);
    expect(stepsOf(resumed).map((e) => e.loss)).toEqual(stepsOf(straight).slice(6).map((e) => e.loss));
    expect(values(doneOf(resumed).state.params)).toEqual(values(doneOf(straight).state.params));
  });

  it('an operator that errors, drops a batch or emits two ends training with an error naming the step', async () => {
    const options = { ...base, optimizer: adam() };
    const boom = await failure({
      ...options,
      transform: map((b) => {
        if (b.index === 2) throw new Error('flip: bad angle');
        return b;
      }),
    });
    expect(boom.error.message).toBe('train: the transform failed on the batch of epoch 1, step 3: flip: bad angle');
    expect((boom.error.cause as Error).message).toBe('flip: bad angle');
    expect(boom.steps).toEqual([1, 2]);

    const rejected = await failure({ ...options, transform: concatMap(() => Promise.reject(new Error('decode failed'))) });
    expect(rejected.error.message).toBe('train: the transform failed on the batch of epoch 1, step 1: decode failed');

    const dropped = await failure({ ...options, transform: filter((b) => b.index !== 1) });
    expect(dropped.error.message).toBe(
      'train: the transform emitted no batch for the batch of epoch 1, step 2; it must emit exactly one batch for each batch, then complete',
    );
    expect(dropped.steps).toEqual([1]);

    const doubled = await failure({ ...options, transform: mergeMap((b) => [b, b]) });
    expect(doubled.error.message).toMatch(/^train: the transform emitted more than one batch for the batch of epoch 1, step 1;/);
    // Also when the second one comes later and the operator never completes.
    const late = await failure({
      ...options,
      transform: mergeMap(
        (b) =>
          new Observable<Batch>((s) => {
            s.next(b);
            setTimeout(() => s.next(b), 5);
          }),
      ),
    });
    expect(late.error.message).toMatch(/emitted more than one batch for the batch of epoch 1, step 1/);
    expect(late.steps).toEqual([]);
  });

  it('refuses a transformed batch of the wrong form, naming what it got', async () => {
    const options = { ...base, optimizer: adam() };
    const cases: [MonoTypeOperatorFunction<Batch>, string][] = [
      [map((b) => ({ ...b, images: b.images.subarray(36) })), 'emitted 540 image values for the batch of epoch 1, step 1; a batch of 16 needs 16 × 36 = 576'],
      [map((b) => ({ ...b, images: Float64Array.from(b.images) as never })), 'emitted images as Float64Array(576) for the batch of epoch 1, step 1; they must be a Float32Array'],
      [map((b) => ({ ...b, labels: Array.from(b.labels) as never })), 'emitted labels as an array of 16 for the batch of epoch 1, step 1; they must be a Uint8Array'],
      [map((b) => ({ ...b, labels: b.labels.subarray(1) })), 'emitted 15 labels for the batch of epoch 1, step 1; a batch of 16 needs 16'],
      [map((b) => ({ ...b, size: 15 })), 'emitted size 15 for the batch of epoch 1, step 1; it must be the batch size, 16'],
      [map((b) => ({ ...b, labels: b.labels.map((l, i) => (i === 4 ? 7 : l)) })), 'emitted label 4 = 7 for the batch of epoch 1, step 1; labels must be class indices in [0, 3]'],
      [map(() => 42 as never), 'emitted number 42 for the batch of epoch 1, step 1; it must emit a Batch { images, labels, size, ... }'],
      [map((b) => ({ images: b.images }) as never), 'emitted labels as undefined for the batch of epoch 1, step 1; they must be a Uint8Array'],
      [(() => [1, 2]) as never, 'must return an Observable of batches (an RxJS operator such as map(...)), got an array of 2'],
    ];
    for (const [transform, message] of cases) {
      const { error } = await failure({ ...options, transform });
      expect(error.message).toContain(message);
      expect(error.message).toMatch(/^train: the transform /);
    }
  });

  it('is checked when train is called', () => {
    expect(() => train({ ...base, optimizer: adam(), transform: 'flip' as never })).toThrow(
      'train: transform must be an RxJS operator on batches (e.g. map((batch) => ...)), got string "flip"',
    );
  });

  it('unsubscribing tears down the operator in flight, and no batch is transformed after it', async () => {
    let started = 0;
    let cancelled = 0;
    const events: TrainEvent[] = [];
    // The first batch passes at once; the second is held for a minute, unless torn down.
    const slow: MonoTypeOperatorFunction<Batch> = concatMap(
      (b) =>
        new Observable<Batch>((s) => {
          started++;
          let done = false;
          const finish = () => {
            done = true;
            s.next(b);
            s.complete();
          };
          const timer = setTimeout(finish, b.index === 0 ? 0 : 60_000);
          return () => {
            clearTimeout(timer);
            if (!done) cancelled++;
          };
        }),
    );
    const sub = train({ ...base, optimizer: adam(), transform: slow }).subscribe((e) => events.push(e));
    await expect.poll(() => started, { timeout: 20_000, interval: 5 }).toBe(2);
    sub.unsubscribe();
    expect(cancelled).toBe(1);
    await sleep(50);
    expect(started).toBe(2);
    expect(events.map((e) => e.type)).toEqual(['step']);
  });
});

describe('BatchTransformer', () => {
  const shape = { batchSize: 16, sampleSize: 36, classes: 4 };
  const batch = [...batches(data.train, { batchSize: 16 })][0];

  it('resolves a run to null when stopped in flight, and refuses batches after that', async () => {
    let torn = false;
    const t = new BatchTransformer(() => new Observable<Batch>(() => () => (torn = true)), shape);
    const pending = t.run(batch, 'epoch 1, step 1');
    t.stop();
    await expect(pending).resolves.toBeNull();
    expect(torn).toBe(true);
    await expect(t.run(batch, 'epoch 1, step 2')).resolves.toBeNull();
  });

  it('runs each batch as a stream of its own: an operator starts afresh on every batch', async () => {
    let subscriptions = 0;
    const counting: MonoTypeOperatorFunction<Batch> = (source) =>
      new Observable<Batch>((s) => {
        subscriptions++;
        return source.subscribe(s);
      });
    const t = new BatchTransformer(counting, shape);
    expect(await t.run(batch, 'a')).toBe(batch);
    expect(await t.run(batch, 'b')).toBe(batch);
    expect(subscriptions).toBe(2);
  });

  it('an operator that throws when applied is reported as the transform failing', async () => {
    const t = new BatchTransformer(() => {
      throw new Error('not an operator');
    }, shape);
    await expect(t.run(batch, 'epoch 1, step 1')).rejects.toThrow('train: the transform failed on the batch of epoch 1, step 1: not an operator');
  });
});
