// Look inside a trained net: a layer's feature maps, the first layer's filters as a chart, the
// training digits nearest a test digit in feature space, its top 5 classes and the top-5 error,
// what its class score depends on (Integrated Gradients, Grad-CAM), and the distortions the net
// was trained on.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom } from 'rxjs';
import {
  adam,
  augment,
  augmentGridSpec,
  createExplainer,
  createNeighbourIndex,
  createPredictor,
  defineModel,
  filterGridSpec,
  nn,
  ofType,
  top5Error,
  topK,
  train,
  type AugmentTransforms,
} from 'striate';
import { loadMnist, writeChart } from 'striate/node';

const backend = 'webasm';
const mnist = await loadMnist({ limitTrain: 2000, limitTest: 500 });
const model = defineModel('mini-lenet', [1, 28, 28], [
  nn.conv2d('conv1', { filters: 6, size: 5 }), nn.relu(), nn.maxPool2d({ size: 2 }),
  nn.conv2d('conv2', { filters: 12, size: 5 }), nn.relu(), nn.maxPool2d({ size: 2 }),
  nn.flatten({ name: 'features' }), nn.dense('fc', { units: 10 }),
]);

// Each training digit is distorted afresh in every batch: a small rotation, shift and zoom, then an elastic warp.
const distortions: AugmentTransforms = { affine: { rotate: 10, shift: 2, scale: [0.9, 1.1] }, elastic: { alpha: 34, sigma: 5 } };
const transform = augment({ imageShape: model.inputShape, ...distortions });
const run = train({ model, data: { train: mnist.train }, optimizer: adam({ lr: 0.003 }), epochs: 2, batchSize: 32, backend, seed: 1, transform });
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

// The training digits nearest test digit 0, by the features the final dense layer reads.
const digit = test.images.subarray(0, 28 * 28);
const index = await createNeighbourIndex(model, params, mnist.train.images, { backend });
const near = await index.query(digit, { k: 5 });
const neighbours = [...near.indices].map((i, j) => `${mnist.train.labels[i]} (${near.distances[j].toFixed(2)})`);
console.log(`test digit 0 is a ${test.labels[0]}; its 5 nearest training digits (layer ${index.layer}) are ${neighbours.join(', ')}`);
await index.dispose();

// The 5 best classes of every test digit, ranked as predict ranks them, and the top-5 error.
const prediction = await predictor.predict(test.images);
const best = topK(prediction, 5);
console.log(`its top 5 classes: ${[0, 1, 2, 3, 4].map((j) => `${best.labels[j]} (${(100 * best.probabilities[j]).toFixed(1)}%)`).join(', ')}`);
console.log(`top-5 error on ${test.count} test digits: ${(100 * top5Error(prediction, test.labels)).toFixed(1)}%`);
await predictor.dispose();

// Saliency of test digit 0's top class: each gradient graph is built with grad and compiled once.
const explainer = createExplainer(model, params, { backend });
const ig = await explainer.integratedGradients(digit, { steps: 50 });
const attributed = ig.data.reduce((s, v) => s + v, 0);
console.log(`integrated gradients of class ${ig.target}: f(x) - f(0) = ${(ig.score - ig.baselineScore).toFixed(3)}, attributions sum to ${attributed.toFixed(3)}, gap ${ig.delta.toExponential(1)}`);
const cam = await explainer.gradCam(digit, 'relu2');
const total = cam.data.reduce((s, v) => s + v, 0);
const onInk = cam.data.reduce((s, v, i) => s + (digit[i] > 0.5 ? v : 0), 0);
const inked = digit.filter((v) => v > 0.5).length;
const peak = cam.data.indexOf(Math.max(...cam.data));
console.log(
  `grad-cam on relu2 [${cam.map.shape}] resized to [${cam.shape}]: peak at row ${Math.floor(peak / 28)}, column ${peak % 28}; ` +
    `${(100 * onInk / total).toFixed(0)}% of its mass on the ${(100 * inked / digit.length).toFixed(0)}% of pixels the digit inks`,
);
await explainer.dispose();

// Test digit 0 under 20 draws of the distortions it was trained with.
await writeChart(join(dir, 'augment.png'), augmentGridSpec(digit, model.inputShape, distortions, { count: 20 }));
console.log(`wrote ${join(dir, 'augment.png')}`);
