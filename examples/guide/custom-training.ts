// Custom training: your own loss, a frozen layer, a batch transform (augmentation),
// and snapshots of the weights while training.
import { lastValueFrom, map, tap } from 'rxjs';
import { add, adam, createRng, defineModel, initParams, mul, nn, ofType, oneHot, softmaxCrossEntropy, sum, train, type Batch, type LossFunction } from 'striate';
import { loadMnist } from 'striate/node';

const mnist = await loadMnist({ limitTrain: 2000, limitTest: 500 });
const model = defineModel('mini-lenet', [1, 28, 28], [
  nn.conv2d('conv1', { filters: 6, size: 5 }), nn.relu(), nn.maxPool2d({ size: 2 }),
  nn.conv2d('conv2', { filters: 12, size: 5 }), nn.relu(), nn.maxPool2d({ size: 2 }),
  nn.flatten(), nn.dense('fc', { units: 10 }),
]);

// Cross-entropy against smoothed labels (0.91 for the label, 0.01 for the others), plus weight decay on fc.w.
// The loss is built of graph ops, so train() differentiates it.
const loss: LossFunction = (logits, labels, { classes, params }) => {
  const targets = add(mul(oneHot(labels, classes), 0.9), 0.1 / classes);
  const w = params['fc.w'];
  return add(softmaxCrossEntropy(logits, targets), mul(sum(mul(w, w)), 1e-4));
};

// Each batch gets its own noise, drawn from the batch's seed, so seeded runs repeat exactly.
const addNoise = map((b: Batch) => {
  const rng = createRng(b.seed);
  return { ...b, images: b.images.map((v) => v + 0.1 * rng.normal()) };
});

const run = train({
  model,
  data: mnist,
  optimizer: adam({ lr: 0.003 }),
  epochs: 2,
  batchSize: 32,
  backend: 'webasm',
  seed: 1,
  loss,
  frozen: ['conv1.'], // conv1 keeps its initial filters: no gradient is computed for it
  transform: addNoise,
  snapshots: { every: 25 }, // every 25th step event carries the state
});
const { state } = await lastValueFrom(
  run.pipe(
    tap((e) => {
      if (e.type === 'step' && e.state) {
        console.log(`step ${e.state.step}: loss ${e.loss.toFixed(3)}, |fc.w| ${Math.hypot(...e.state.params['fc.w'].data).toFixed(2)}`);
      }
      if (e.type === 'epoch') console.log(`epoch ${e.epoch}: test accuracy ${(100 * e.testAccuracy!).toFixed(1)}%`);
    }),
    ofType('done'),
  ),
);

const initial = initParams(model, 1); // what train() started from, with seed 1
const unchanged = (name: string) => state.params[name].data.every((v, i) => v === initial[name].data[i]);
console.log(`conv1.w unchanged: ${unchanged('conv1.w')}; conv2.w unchanged: ${unchanged('conv2.w')}`);
