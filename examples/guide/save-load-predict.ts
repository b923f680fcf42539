// Save, load and predict: train a small net on 2,000 MNIST digits, save it with its
// description, load it back without the model code, and predict the top 3 classes.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom } from 'rxjs';
import { adam, defineModel, nn, ofType, predict, toTensorGroup, train } from 'striate';
import { loadMnist, loadModel, saveCheckpoint } from 'striate/node';

const backend = 'webasm';
const mnist = await loadMnist({ limitTrain: 2000, limitTest: 100 });
const model = defineModel('mini-lenet', [1, 28, 28], [
  nn.conv2d('conv1', { filters: 6, size: 5 }), nn.relu(), nn.maxPool2d({ size: 2 }),
  nn.conv2d('conv2', { filters: 12, size: 5 }), nn.relu(), nn.maxPool2d({ size: 2 }),
  nn.flatten(), nn.dense('fc', { units: 10 }),
]);
const run = train({ model, data: { train: mnist.train }, optimizer: adam({ lr: 0.003 }), epochs: 2, batchSize: 32, backend, seed: 1 });
const { params } = (await lastValueFrom(run.pipe(ofType('done')))).state;

// The checkpoint holds the weights and a JSON description of the layers.
const dir = process.argv[2] ?? (await mkdtemp(join(tmpdir(), 'striate-guide-')));
await saveCheckpoint(dir, { model, params: toTensorGroup(params), meta: { trainedOn: mnist.train.count } });
console.log(`saved to ${dir}`);

// Later, in another program: no model code needed.
const loaded = await loadModel(dir);
console.log(`loaded "${loaded.model.name}", meta ${JSON.stringify(loaded.meta)}`);

const images = mnist.test.images.subarray(0, 4 * 28 * 28); // the first 4 test digits
const after = await predict(loaded.model, loaded.params, images, { topK: 3, backend });
const { labels, probabilities } = after.topK; // 4 × 3 values, each row best first
for (let i = 0; i < 4; i++) {
  const best = [0, 1, 2].map((j) => `${labels[3 * i + j]} (${(100 * probabilities[3 * i + j]).toFixed(1)}%)`);
  console.log(`digit ${i} is a ${mnist.test.labels[i]}: top 3 ${best.join(', ')}`);
}

// The same model and weights as before saving give the same numbers, bit for bit.
const before = await predict(model, params, images, { topK: 3, backend });
const same = before.logits.every((v, i) => v === after.logits[i]) && before.topK.labels.every((c, i) => c === labels[i]);
console.log(`predictions equal those before saving: ${same}`);
