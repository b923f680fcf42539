/**
 * `augment({ workers })`: batches augmented on worker threads are the batches
 * of the calling thread, bit for bit; `train()` starts the next batch's
 * transform before it runs the current step, so an asynchronous transform
 * works beside the step; bad `workers` values are refused.
 */
import { concatMap, lastValueFrom, of } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { adam, augment, train, type Batch, type TrainEvent } from 'striate';
import { AugmentWorkers } from '../../src/data/augment-workers.js';
import { striateError } from '../helpers.js';
import { data, doneOf, run, small } from '../train/train-options-fixtures.js';

const shape = [1, 28, 28];
const transforms = { affine: { rotate: 15, shift: 2, scale: [0.9, 1.1] as [number, number], shear: 10 }, elastic: { alpha: 34, sigma: 4 }, noise: { std: 0.05 } };

function batchOf(n: number, seed: number): Batch {
  const images = new Float32Array(n * 784);
  for (let i = 0; i < images.length; i++) images[i] = ((i * 7919) % 251) / 251;
  return { images, labels: new Int32Array(n), size: n, seed, epoch: 0, index: 0 } as unknown as Batch;
}

describe('augment with workers', () => {
  it('gives the batches of the calling thread, bit for bit, and leaves the input as it was', async () => {
    const op = augment({ imageShape: shape, ...transforms, workers: 2 });
    const same = augment({ imageShape: shape, ...transforms });
    for (const seed of [1, 2, 3]) {
      const batch = batchOf(8, seed);
      const before = batch.images.slice();
      const [a, b] = await Promise.all([lastValueFrom(of(batch).pipe(op)), lastValueFrom(of(batch).pipe(same))]);
      expect(a.images).not.toBe(batch.images);
      expect(Buffer.from(a.images.buffer).equals(Buffer.from(b.images.buffer))).toBe(true);
      expect(a.labels).toBe(batch.labels);
      expect(a.seed).toBe(seed);
      expect(batch.images).toEqual(before);
    }
  }, 60_000);

  it('runs batches on up to `workers` threads at once, and ends them when idle or closed', async () => {
    const pool = new AugmentWorkers(2, shape, transforms);
    const batches = [1, 2, 3, 4].map((s) => batchOf(4, s));
    const outs = await Promise.all(batches.map((b) => pool.run(b.images, b.seed)));
    expect(pool.running).toBe(2);
    expect(outs.map((o) => o.length)).toEqual([4 * 784, 4 * 784, 4 * 784, 4 * 784]);
    await pool.close();
    expect(pool.running).toBe(0);
  }, 60_000);

  it('refuses a batch the workers cannot take before it leaves the thread', async () => {
    const op = augment({ imageShape: shape, elastic: { alpha: 34, sigma: 4 }, workers: 1 });
    const bad = { ...batchOf(4, 1), size: 5 } as Batch;
    await expect(lastValueFrom(of(bad).pipe(op))).rejects.toThrow(/augment: the batch holds 4 images/);
  });

  it.each([0, -1, 1.5, 17, Number.NaN, '2', null])('refuses workers %s', (workers) => {
    const e = striateError(() => augment({ imageShape: shape, noise: { std: 0.1 }, workers: workers as number }));
    expect(e.op).toBe('augment');
    expect(e.message).toMatch(/workers must be an integer from 1 to 16/);
  });
});

describe('train starts the next batch transform before the step', () => {
  it('the transform of batch k + 1 begins before step k is reported, and the results are those of a plain run', async () => {
    const log: string[] = [];
    const base = { model: small(), data, epochs: 1, batchSize: 16, seed: 3, backend: 'reference', evaluate: false, optimizer: adam({ lr: 0.01 }) } as const;
    const transform = concatMap(async (b: Batch) => {
      log.push(`transform ${b.index}`);
      await new Promise((r) => setTimeout(r, 1));
      return { ...b, images: b.images.map((v) => 1 - v) };
    });
    const events: TrainEvent[] = [];
    await new Promise<void>((resolve, reject) =>
      train({ ...base, transform }).subscribe({
        next: (e) => {
          events.push(e);
          if (e.type === 'step') log.push(`step ${e.step}`);
        },
        error: reject,
        complete: resolve,
      }),
    );
    expect(log).toEqual(['transform 0', 'transform 1', 'step 1', 'transform 2', 'step 2', 'transform 3', 'step 3', 'step 4']);
    const inverted = { train: { ...data.train, images: data.train.images.map((v) => 1 - v) } };
    const plain = await run(train({ ...base, data: inverted }));
    expect(doneOf(events).state.params).toEqual(doneOf(plain).state.params);
  });

  it('with augment workers, trains to exactly the parameters of augmenting on the calling thread', async () => {
    const base = { model: small(), data, epochs: 1, batchSize: 16, seed: 5, backend: 'reference', evaluate: false, optimizer: adam({ lr: 0.01 }) } as const;
    const imageShape = base.model.inputShape;
    const inThread = await run(train({ ...base, transform: augment({ imageShape, affine: { rotate: 10 }, noise: { std: 0.05 } }) }));
    const onWorkers = await run(train({ ...base, transform: augment({ imageShape, affine: { rotate: 10 }, noise: { std: 0.05 }, workers: 1 }) }));
    expect(doneOf(onWorkers).state.params).toEqual(doneOf(inThread).state.params);
  }, 60_000);
});
