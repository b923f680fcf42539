/**
 * Mini-batching with seeded, reproducible shuffling.
 *
 * The order of epoch `e` depends only on (seed, e): each epoch draws its
 * permutation from its own generator, `createRng(mixSeed(seed, epoch))`. So a
 * run resumed from a checkpoint at epoch 7 sees exactly the batches the
 * uninterrupted run would have seen, without replaying epochs 0..6.
 *
 * Each batch also carries where it sits (its epoch and its index in the
 * epoch) and a seed of its own, `batchSeed(seed, epoch, index)`, so that what
 * is drawn for one batch (an augmentation's crops and flips) is reproducible
 * in the same way: from the batch alone, whatever came before it.
 */
import { describeValue, fail } from '../graph/error.js';
import { createRng, mixSeed } from './random.js';

/** A labelled dataset: `count` samples stored back to back, e.g. an MnistSplit. */
export interface Dataset {
  /** `count * sampleSize` values; sample i occupies [i * sampleSize, (i + 1) * sampleSize). */
  images: Float32Array;
  /** `count` class indices, one per sample, in the same order (0 to 9 for MNIST). */
  labels: Uint8Array;
  /** Number of samples, a non-negative integer. */
  count: number;
}

/**
 * One mini-batch, as `batches` yields it and as `train` hands it to its
 * `transform` operator.
 */
export interface Batch {
  /** `size * sampleSize` values, a fresh array (see `batches`). */
  images: Float32Array;
  /** `size` class indices, a fresh array in the same order as `images`. */
  labels: Uint8Array;
  /** Number of samples in this batch; the last one may be smaller unless `dropLast`. */
  size: number;
  /** The epoch the batch belongs to, from 0 (`BatchOptions.epoch`); `train`'s events number it `epoch + 1`. */
  epoch: number;
  /** Position of the batch in its epoch, from 0; `train`'s step events number it `index + 1`. */
  index: number;
  /**
   * This batch's own seed, `batchSeed(runSeed, epoch, index)`: a uint32 to
   * seed whatever is drawn for this batch alone, e.g.
   * `createRng(batch.seed)` for an augmentation. It depends on nothing else,
   * so a resumed run draws for each batch what the uninterrupted run drew.
   */
  seed: number;
}

export interface BatchOptions {
  /** Samples per batch, a positive integer. */
  batchSize: number;
  /** Visit samples in a seeded random order (default true). False keeps dataset order. */
  shuffle?: boolean;
  /** Run seed, any safe integer (default 0). */
  seed?: number;
  /** Epoch number, a non-negative integer (default 0); different epochs get different orders. */
  epoch?: number;
  /** Skip a final batch smaller than `batchSize` (default false). */
  dropLast?: boolean;
}

/** Seed stream of the per-batch seeds, kept apart from the shuffling stream `mixSeed(seed, epoch)`. */
const BATCH_STREAM = 0x62617463; // 'batc'

/**
 * The seed of batch `index` of epoch `epoch` in a run seeded `seed` (the
 * `seed` of that `Batch`): deterministic in the three, and unrelated to the
 * seeds of the shuffle, of other batches and of other runs.
 */
export function batchSeed(seed: number, epoch: number, index: number): number {
  return mixSeed(mixSeed(mixSeed(seed, BATCH_STREAM), epoch), index);
}

/**
 * The sample order for one epoch: a permutation of 0..count-1, deterministic
 * in (seed, epoch). Uses Fisher–Yates with unbiased `rng.int`, so every
 * permutation is equally likely.
 */
export function epochOrder(count: number, seed: number, epoch: number): Uint32Array {
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  const rng = createRng(mixSeed(seed, epoch));
  for (let i = count - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

function checkDataset(ds: Dataset): number {
  if (!ds || typeof ds !== 'object' || !ArrayBuffer.isView(ds.images) || !ArrayBuffer.isView(ds.labels)) {
    const shape = '{ images: Float32Array, labels: Uint8Array, count }';
    fail('batches', `dataset must be ${shape}, got ${describeValue(ds)}`, describeValue(ds), shape);
  }
  const { images, labels, count } = ds;
  if (!Number.isInteger(count) || count < 0) {
    fail('batches', `dataset.count must be a non-negative integer, got ${String(count)}`, `count ${String(count)}`, 'a non-negative integer');
  }
  if (labels.length !== count) {
    fail('batches', `dataset has count ${count} but ${labels.length} labels; they must match`, `${labels.length} labels`, `${count} labels`);
  }
  if (count === 0) return 0;
  if (images.length % count !== 0) {
    fail(
      'batches',
      `dataset has ${images.length} image values, which is not a multiple of count ${count}; ` +
        `each sample must have the same number of values`,
      `${images.length} image values`,
      `a multiple of ${count}`,
    );
  }
  return images.length / count;
}

/**
 * Yield the mini-batches of one epoch.
 *
 * Every batch gets freshly allocated arrays rather than views into the
 * dataset or a reused buffer: consumers (e.g. an RxJS pipeline or an async
 * upload to the GPU) may hold on to a batch after asking for the next one,
 * and a shared buffer would be overwritten under them. At MNIST sizes the
 * copy is negligible next to the forward/backward pass.
 */
export function batches(dataset: Dataset, options: BatchOptions): Generator<Batch, void, undefined> {
  const { batchSize, shuffle = true, seed = 0, epoch = 0, dropLast = false } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    fail('batches', `batchSize must be a positive integer, got ${String(batchSize)}`, `batchSize ${String(batchSize)}`, 'a positive integer');
  }
  if (!Number.isInteger(epoch) || epoch < 0) {
    fail('batches', `epoch must be a non-negative integer, got ${String(epoch)}`, `epoch ${String(epoch)}`, 'a non-negative integer');
  }
  if (!Number.isSafeInteger(seed)) {
    fail('batches', `seed must be a safe integer, got ${String(seed)}`, `seed ${String(seed)}`, 'a safe integer');
  }
  const sampleSize = checkDataset(dataset);
  const { count, images, labels } = dataset;
  // Validation above runs at call time; only the batching itself is lazy.
  const order = shuffle ? epochOrder(count, seed, epoch) : null;
  return generate(images, labels, count, sampleSize, batchSize, dropLast, order, seed, epoch);
}

function* generate(
  images: Float32Array,
  labels: Uint8Array,
  count: number,
  sampleSize: number,
  batchSize: number,
  dropLast: boolean,
  order: Uint32Array | null,
  seed: number,
  epoch: number,
): Generator<Batch, void, undefined> {
  for (let start = 0, index = 0; start < count; start += batchSize, index++) {
    const size = Math.min(batchSize, count - start);
    if (size < batchSize && dropLast) return;
    const outImages = new Float32Array(size * sampleSize);
    const outLabels = new Uint8Array(size);
    if (order === null) {
      outImages.set(images.subarray(start * sampleSize, (start + size) * sampleSize));
      outLabels.set(labels.subarray(start, start + size));
    } else {
      for (let k = 0; k < size; k++) {
        const src = order[start + k];
        outImages.set(images.subarray(src * sampleSize, (src + 1) * sampleSize), k * sampleSize);
        outLabels[k] = labels[src];
      }
    }
    yield { images: outImages, labels: outLabels, size, epoch, index, seed: batchSeed(seed, epoch, index) };
  }
}

/** Number of batches `batches` yields for `count` samples. */
export function batchCount(count: number, batchSize: number, dropLast = false): number {
  return dropLast ? Math.floor(count / batchSize) : Math.ceil(count / batchSize);
}
