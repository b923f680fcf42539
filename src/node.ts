/**
 * Striate for Node: everything in the platform-neutral entry (`./index.ts`,
 * which browsers bundle) plus the modules that need Node's file system,
 * zlib or the chart renderer (vega, resvg). Browser bundles must not import this file (the demo's and
 * the browser tests' Vite builds refuse it: scripts/browser-guard.ts).
 */
export * from './index.js';
export { loadIdxFile, loadMnist, MNIST_CLASSES, MNIST_COLS, MNIST_ROWS, type LoadMnistOptions, type Mnist, type MnistSplit } from './data/mnist.js';
export type { IdxArray } from './data/idx.js';
export { FASHION_MNIST_CLASSES, FASHION_MNIST_SEED, FASHION_MNIST_SIZES, fashionMnistSplit, loadFashionMnist, type FashionMnist, type FashionMnistSizes, type FashionMnistSplitIndices, type LoadFashionMnistOptions } from './data/fashion-mnist.js';
export { listCheckpoints, loadCheckpoint, saveCheckpoint, type CheckpointContents, type LoadCheckpointOptions, type LoadedCheckpoint, type Manifest, type SaveCheckpointOptions } from './train/checkpoint.js';
export { loadModel, type LoadModelOptions, type LoadedModel, type TensorData, type TensorGroup, type ManifestEntry, type GroupName } from './train/checkpoint.js';
export { renderChart, writeChart, type RenderChartOptions } from './viz/render.js';
