// Look inside a trained net: a layer's feature maps, the first layer's filters as a chart,
// the nearest neighbours of a test digit in feature space, and its top 5 classes.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom } from 'rxjs';
import { adam, createPredictor, defineModel, filterGridSpec, nn, ofType, train } from 'striate';
import { loadMnist, writeChart } from 'striate/node';

const backend = 'webasm';
const mnist = await loadMnist({ limitTrain: 2000, limitTest: 500 });
const model = defineModel('mini-lenet', [1, 28, 28], [
  nn.conv2d('conv1', { filters: 6, size: 5 }), nn.relu(), nn.maxPool2d({ size: 2 }),
  nn.conv2d('conv2', { filters: 12, size: 5 }), nn.relu(), nn.maxPool2d({ size: 2 }),
  nn.flatten({ name: 'features' }), nn.dense('fc', { units: 10 }),
]);
const run = train({ model, data: { train: mnist.train }, optimizer: adam({ lr: 0.003 }), epochs: 2, batchSize: 32, backend, seed: 1 });
const { params } = (await lastValueFrom(run.pipe(ofType('done')))).state;

// A predictor compiles once and answers for any number of images.
const predictor = createPredictor(model, params, { backend, batchSize: 100 });
const test = mnist.test;
const { relu1, features } = await predictor.outputs(test.images, ['relu1', 'features']);
console.log(`relu1 (feature maps): shape [${relu1.shape}]; features: shape [${features.shape}]`);

// The filters of conv1 [6, 1, 5, 5] on one diverging colour scale, with a colour bar.
const dir = process.argv[2] ?? (await mkdtemp(join(tmpdir(), 'striate-guide-')));
await writeChart(join(dir, 'filters.png'), filterGridSpec(params['conv1.w'], { title: 'conv1 filters' }));
console.log(`wrote ${join(dir, 'filters.png')}`);

// Nearest neighbours of test digit 0 by cosine similarity of their features.
const n = features.shape[1];
const row = (i: number) => features.data.subarray(i * n, (i + 1) * n);
const norm = (v: Float32Array) => Math.hypot(...v);
const cosine = (a: Float32Array, b: Float32Array) => a.reduce((s, x, k) => s + x * b[k], 0) / (norm(a) * norm(b) || 1);
const nearest = Array.from({ length: test.count - 1 }, (_, j) => j + 1)
  .map((j) => ({ j, similarity: cosine(row(0), row(j)) }))
  .sort((a, b) => b.similarity - a.similarity)
  .slice(0, 5);
console.log(`test digit 0 is a ${test.labels[0]}; its 5 nearest neighbours are ${nearest.map(({ j }) => test.labels[j]).join(', ')}`);

const { topK } = await predictor.predict(test.images.subarray(0, 28 * 28), { topK: 5 });
console.log(`its top 5 classes: ${[...topK.labels].map((c, k) => `${c} (${(100 * topK.probabilities[k]).toFixed(1)}%)`).join(', ')}`);
await predictor.dispose();
