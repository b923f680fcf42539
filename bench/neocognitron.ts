/**
 * The Neocognitron on MNIST, as `npm start -- --model neocognitron` trains it
 * (NEOCOGNITRON_SETUP in examples/lib/neocognitron-setup.ts): stage by stage without
 * backpropagation (src/train/neocognitron.ts) on the first --train images
 * (default all 60,000), then the interpolating-vector classifier (or
 * --classifier), tested on the first --test (default 10,000). Prints the
 * test accuracy and the wall time.
 *
 * With --readout it also trains, separately and named as such, a linear
 * read-out by gradient (softmax regression with Adam, --readout-epochs) on
 * the same top C-layer features: a measure of the features, not part of the
 * Neocognitron, which has no backpropagation anywhere.
 *
 *   npx tsx bench/neocognitron.ts [--train 60000] [--test 10000] [--backend webasm] [--seed 0] [--classifier intvec] [--readout]
 *
 * Measured numbers belong in bench/README.md.
 */
import { parseArgs } from 'node:util';
import { filter, lastValueFrom } from 'rxjs';
import { adam, cosineDecay, defineModel, nn, neocognitronFeatures, train, trainNeocognitron, type BackendName, type NeocognitronClassifier } from '../src/index.js';
import { loadMnist } from '../src/node.js';
import { NEOCOGNITRON_SETUP, buildNeocognitron, setupTraining } from '../examples/lib/zoo-config.js';

const { values } = parseArgs({
  options: {
    train: { type: 'string', default: '60000' },
    test: { type: 'string', default: '10000' },
    backend: { type: 'string', default: 'webasm' },
    seed: { type: 'string', default: '0' },
    classifier: { type: 'string', default: NEOCOGNITRON_SETUP.classifier },
    readout: { type: 'boolean', default: false },
    'readout-epochs': { type: 'string', default: '10' },
  },
  strict: true,
});
const int = (name: string, v: string, min = 1): number => {
  if (!/^[0-9]+$/.test(v) || Number(v) < min) throw new Error(`--${name} must be an integer >= ${min}, got ${v}`);
  return Number(v);
};
const backend = values.backend as BackendName;
const seed = int('seed', values.seed, 0);
const mnist = await loadMnist({ limitTrain: int('train', values.train), limitTest: int('test', values.test) });
const model = buildNeocognitron('mnist');
const start = performance.now();
const secs = (): string => ((performance.now() - start) / 1000).toFixed(1);
const done = await lastValueFrom(
  trainNeocognitron({
    model,
    data: mnist,
    backend,
    seed,
    ...setupTraining(mnist.train.count),
    classifier: values.classifier as NeocognitronClassifier['rule'],
  }).pipe(
    filter((e) => {
      if (e.type === 'stage') console.log(`stage ${e.stage + 1}: ${e.planes} planes, ${secs()} s`);
      if (e.type === 'classifier') console.log(`classifier pass ${e.pass}: ${e.references} reference vectors (${e.added} added), ${secs()} s`);
      return e.type === 'done';
    }),
  ),
);
if (done.type !== 'done') throw new Error('no done event');
const refs = done.state.classifier?.labels.length ?? 0;
console.log(
  `Neocognitron (no backpropagation), ${values.classifier} classifier: test accuracy ${((done.testAccuracy ?? 0) * 100).toFixed(2)}% on ${mnist.test.count} digits, ` +
    `trained on ${mnist.train.count}, ${refs} reference vectors, ${done.seconds.toFixed(1)} s (${backend}, seed ${seed})`,
);

if (values.readout) {
  // Separately, and not the Neocognitron's: softmax regression by gradient on its top C-layer.
  const t0 = performance.now();
  const trainF = (await neocognitronFeatures(done.state, mnist.train.images, { backend, batchSize: 64 }))!;
  const testF = (await neocognitronFeatures(done.state, mnist.test.images, { backend, batchSize: 64 }))!;
  const d = trainF.length / mnist.train.count;
  const readout = defineModel('readout', [d], nn.dense('fc', { units: 10 }));
  const epochs = int('readout-epochs', values['readout-epochs']);
  const last = await lastValueFrom(
    train({
      model: readout,
      data: { train: { images: trainF, labels: mnist.train.labels, count: mnist.train.count }, test: { images: testF, labels: mnist.test.labels, count: mnist.test.count } },
      optimizer: adam({ lr: cosineDecay(3e-3) }),
      epochs,
      batchSize: 128,
      backend,
      seed,
    }).pipe(filter((e) => e.type === 'done')),
  );
  if (last.type === 'done') {
    console.log(
      `gradient-trained linear read-out on the top C-layer (${d} features; not part of the Neocognitron): test accuracy ${((last.testAccuracy ?? 0) * 100).toFixed(2)}%, ` +
        `${epochs} epochs, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
  }
}
