// Build and train your own model: a small conv net that tells the angle of the
// stripes in an image (stripes.ts), with progress, then its top-1 and top-5 error.
import { lastValueFrom, tap } from 'rxjs';
import { adam, defineModel, evaluate, formatSummary, nn, ofType, summary, train } from 'striate';
import { stripes } from './stripes.js';

// Layers with weights are named (their parameters are conv1.w, conv1.b, ...); the others are named for you.
const model = defineModel('stripes-net', [1, 16, 16], [
  nn.conv2d('conv1', { filters: 8, size: 5, padding: 'same' }),
  nn.relu(),
  nn.maxPool2d({ size: 2 }),
  nn.conv2d('conv2', { filters: 16, size: 3 }),
  nn.relu(),
  nn.maxPool2d({ size: 2 }),
  nn.flatten(),
  nn.dense('fc', { units: 10 }),
]);
console.log(formatSummary(summary(model)));

const data = { train: stripes(2000, 1), test: stripes(500, 2) };
const backend = 'webasm'; // one thread, runs anywhere; the default, 'auto', measures which backend is fastest here

// train() returns a cold Observable of events: it starts when subscribed (lastValueFrom subscribes).
const done = await lastValueFrom(
  train({ model, data, optimizer: adam({ lr: 0.003 }), epochs: 3, batchSize: 32, backend, seed: 1 }).pipe(
    tap((e) => {
      if (e.type === 'epoch') {
        console.log(`epoch ${e.epoch}: train loss ${e.trainLoss.toFixed(3)}, test accuracy ${(100 * e.testAccuracy!).toFixed(1)}% (${e.seconds.toFixed(1)} s)`);
      }
    }),
    ofType('done'), // the last event: the final state
  ),
);

const result = await evaluate({ model, params: done.state.params, data: data.test, backend });
console.log(`test error: top-1 ${(100 * result.error).toFixed(1)}%, top-5 ${(100 * result.top5Error).toFixed(1)}% (${result.count} images)`);
