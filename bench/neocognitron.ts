/**
 * The Neocognitron on MNIST: trains stage by stage without backpropagation
 * (src/train/neocognitron.ts) on the first --train images (default all
 * 60,000), classifies the first --test (default 10,000) by nearest
 * prototype, and prints the test accuracy and the wall time.
 *
 *   npx tsx bench/neocognitron.ts [--train 60000] [--test 10000] [--epochs 1] [--backend webasm] [--batch 64]
 *
 * Measured numbers belong in bench/README.md.
 */
import { parseArgs } from 'node:util';
import { filter, lastValueFrom } from 'rxjs';
import { neocognitron, trainNeocognitron, type BackendName } from '../src/index.js';
import { loadMnist } from '../src/node.js';

const { values } = parseArgs({
  options: {
    train: { type: 'string', default: '60000' },
    test: { type: 'string', default: '10000' },
    epochs: { type: 'string', default: '1' },
    backend: { type: 'string', default: 'webasm' },
    batch: { type: 'string', default: '64' },
  },
  strict: true,
});
const int = (name: string, v: string): number => {
  if (!/^[0-9]+$/.test(v) || Number(v) < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
  return Number(v);
};
const mnist = await loadMnist({ limitTrain: int('train', values.train), limitTest: int('test', values.test) });
const model = neocognitron({ stages: [{ planes: 8, window: 5, r: 1.5 }, { planes: 24, window: 5, r: 1 }] });
const start = performance.now();
const done = await lastValueFrom(
  trainNeocognitron({ model, data: mnist, backend: values.backend as BackendName, epochs: int('epochs', values.epochs), batchSize: int('batch', values.batch) }).pipe(
    filter((e) => e.type !== 'step'),
    filter((e) => {
      if (e.type === 'stage') console.log(`stage ${e.stage}: ${e.planes} planes, ${((performance.now() - start) / 1000).toFixed(1)} s`);
      return e.type === 'done';
    }),
  ),
);
if (done.type === 'done') {
  const protos = done.state.classifier?.labels.length ?? 0;
  console.log(`test accuracy ${((done.testAccuracy ?? 0) * 100).toFixed(2)}% on ${mnist.test.count} digits, ${protos} prototypes, ${done.seconds.toFixed(1)} s (${values.backend})`);
}
