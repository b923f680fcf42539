/**
 * Striate for Node: everything in the platform-neutral entry (`./index.ts`,
 * which browsers bundle) plus the modules that need Node's file system,
 * zlib or the chart renderer (vega, resvg). Browser bundles must not import this file (the demo's and
 * the browser tests' Vite builds refuse it: scripts/browser-guard.ts).
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { describeValue, fail } from './graph/error.js';
import type { Model } from './nn/model.js';
import type { Params } from './nn/params.js';
import { exportOnnx, type ExportOnnxOptions, importOnnx, type ImportedOnnx, type ImportOnnxOptions } from './onnx/index.js';

export * from './index.js';
export { loadIdxFile, loadMnist, MNIST_CLASSES, MNIST_COLS, MNIST_ROWS, type LoadMnistOptions, type Mnist, type MnistSplit } from './data/mnist.js';
export type { IdxArray } from './data/idx.js';
export { FASHION_MNIST_CLASSES, FASHION_MNIST_SEED, FASHION_MNIST_SIZES, fashionMnistSplit, loadFashionMnist, type FashionMnist, type FashionMnistSizes, type FashionMnistSplitIndices, type LoadFashionMnistOptions } from './data/fashion-mnist.js';
export { listCheckpoints, loadCheckpoint, saveCheckpoint, type CheckpointContents, type LoadCheckpointOptions, type LoadedCheckpoint, type Manifest, type SaveCheckpointOptions } from './train/checkpoint.js';
export { loadModel, type LoadModelOptions, type LoadedModel, type TensorData, type TensorGroup, type ManifestEntry, type GroupName } from './train/checkpoint.js';
export { renderChart, writeChart, type RenderChartOptions } from './viz/render.js';

// ---------------------------------------------------------------------------
// ONNX files

function checkPath(who: string, path: unknown): asserts path is string {
  if (typeof path !== 'string' || path === '') fail(who, `path must be a file path (a non-empty string), got ${describeValue(path)}`, describeValue(path), 'a file path');
}

/**
 * Write `model` with `params` (and `stats`, for batch norm) to the ONNX file
 * `path`, as `exportOnnx` makes it. The write is atomic: the bytes go to a
 * temporary file in the same directory, which is then renamed over `path`,
 * so a reader (or a crash) never sees half a file.
 *
 * ```ts
 * await saveOnnx('out/lenet5.onnx', model, state.params);
 * ```
 */
export async function saveOnnx(path: string, model: Model, params: Params, stats?: Params, options?: ExportOnnxOptions): Promise<void> {
  checkPath('saveOnnx', path);
  const bytes = exportOnnx(model, params, stats, options);
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temp, bytes);
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}

/**
 * The Striate model, parameters and statistics of the ONNX file at `path`,
 * as `importOnnx` reads them (it checks the file as untrusted input).
 *
 * ```ts
 * const { model, params, stats } = await loadOnnx('resnet18.onnx');
 * ```
 */
export async function loadOnnx(path: string, options?: ImportOnnxOptions): Promise<ImportedOnnx> {
  checkPath('loadOnnx', path);
  const bytes = await readFile(path);
  return importOnnx(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), options);
}
