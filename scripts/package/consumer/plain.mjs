// A consumer's first program, as plain JavaScript: build a small conv net,
// train it a few steps on made-up data, and predict. Run by
// scripts/package/consumer-test.ts in a project where only the packed
// tarball was installed.
import { lastValueFrom } from 'rxjs';
import { adam, compile, defineModel, formatSummary, input, nn, predict, relu, summary, train, unavailableReason } from 'striate';

// 4 classes of 1×8×8 images: class k is bright in quadrant k, plus noise.
function makeData(count, seed) {
  let s = seed >>> 0;
  const random = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const images = new Float32Array(count * 64);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const k = i % 4;
    labels[i] = k;
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 8; x++) {
        const inside = (y < 4) === (k < 2) && (x < 4) === (k % 2 === 0);
        images[i * 64 + y * 8 + x] = (inside ? 1 : 0) + 0.2 * (random() - 0.5);
      }
    }
  }
  return { images, labels, count };
}

const model = defineModel('quadrants', [1, 8, 8], [
  nn.conv2d('c1', { filters: 4, size: 3, padding: 'same' }),
  nn.relu(),
  nn.maxPool2d({ size: 2, stride: 2 }),
  nn.flatten(),
  nn.dense('out', { units: 4 }),
]);
console.log(formatSummary(summary(model)));

const data = { train: makeData(256, 1), test: makeData(64, 2) };
const done = await lastValueFrom(
  train({ model, data, optimizer: adam({ lr: 0.01 }), epochs: 3, batchSize: 32, backend: 'cpu', seed: 1 }),
);
if (done.type !== 'done') throw new Error(`expected the done event, got ${done.type}`);
console.log(`test accuracy ${done.testAccuracy}`);

// Two threads share each step (the built parallel-worker.js beside the package's chunks): the same run up to rounding.
const two = await lastValueFrom(
  train({ model, data, optimizer: adam({ lr: 0.01 }), epochs: 3, batchSize: 32, backend: 'webasm', seed: 1, threads: 2 }),
);
const one = await lastValueFrom(
  train({ model, data, optimizer: adam({ lr: 0.01 }), epochs: 3, batchSize: 32, backend: 'webasm', seed: 1 }),
);
const drift = Math.max(...one.state.params['out.w'].data.map((v, i) => Math.abs(v - two.state.params['out.w'].data[i])));
if (!(drift < 1e-3) || two.testAccuracy !== one.testAccuracy) throw new Error(`threads: 2 should train as one thread: drift ${drift}, accuracy ${two.testAccuracy} vs ${one.testAccuracy}`);
console.log(`threads 2: test accuracy ${two.testAccuracy}, parameters within ${drift.toExponential(1)} of one thread's`);

const result = await predict(model, done.state.params, data.test.images.subarray(0, 5 * 64), { backend: 'cpu', topK: 2 });
const top1 = Array.from({ length: result.count }, (_, i) => result.topK.labels[i * 2]);
console.log(`predicted ${top1.join(',')} for labels ${Array.from(data.test.labels.subarray(0, 5)).join(',')}`);
if (done.testAccuracy < 0.9) throw new Error(`the quadrant net should learn: test accuracy ${done.testAccuracy}`);

// The optional native backends are not installed here: asking for one names the package to add.
const reason = unavailableReason('headlessgl');
if (!/npm install gl/.test(reason ?? '')) throw new Error(`headlessgl without gl should say to install it, said: ${reason}`);
let refused = null;
try {
  await compile([relu(input('x', [2]))], { backend: 'headlessgl' }).run({ x: new Float32Array(2) });
} catch (error) {
  refused = error.message;
}
if (!/npm install gl/.test(refused ?? '')) throw new Error(`compile on headlessgl without gl should fail naming the package, got: ${refused}`);
console.log(`headlessgl without gl: ${refused}`);
console.log('plain.mjs: ok');
