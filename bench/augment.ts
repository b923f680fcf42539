/**
 * `npx tsx bench/augment.ts`: what data augmentation costs per batch, next to
 * a training step. A LeNet-5-sized batch (64 images of 1×28×28, synthetic
 * digits from bench/lib/lenet.ts) goes through `augmentImages` under each
 * transformation alone and under all of them at once (Simard et al.'s
 * elastic distortion at α = 34, σ = 4); each is timed as the median of a few
 * rounds (bench/lib/measure.ts) and printed in ms per batch. Then one LeNet-5
 * training step at batch 64 on `--step` (default webasm; `none` skips it),
 * and each augmentation's cost as a share of that step: the issue asks for a
 * kernel or a worker where augmentation costs more than a tenth of a step.
 *
 * A benchmark, not a test: nothing is held against a bound.
 *
 *   npx tsx bench/augment.ts                      # ~10 s on 2 cores
 *   npx tsx bench/augment.ts -- --step none --rounds 3 --round-ms 200
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { augmentImages, type AugmentTransforms } from '../src/data/augment.js';
import type { BackendName } from '../src/index.js';
import { initParams, makeBatch } from './lib/lenet.js';
import { fmtMs, measureRate, table } from './lib/measure.js';
import { striateTrainer } from './lib/striate.js';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '5' },
    'round-ms': { type: 'string', default: '300' },
    step: { type: 'string', default: 'webasm' },
    throughput: { type: 'string', default: '0' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('usage: npx tsx bench/augment.ts -- [--batch 64] [--rounds 5] [--round-ms 300] [--step webasm|cpu|...|none] [--throughput STEPS]');
  process.exit(0);
}
const positive = (flag: string, text: string, zero = false): number => {
  if (!(zero && text === '0') && !/^[1-9]\d*$/.test(text)) {
    console.error(`bench/augment: --${flag} must be a positive integer, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return Number(text);
};
const batch = positive('batch', values.batch);
const rounds = positive('rounds', values.rounds);
const roundMs = positive('round-ms', values['round-ms']);
const throughputSteps = positive('throughput', values.throughput, true);
const timing = { rounds, roundMs, warmupMs: roundMs / 2, warmupSteps: 2 };

const shape = [1, 28, 28];
const transforms: [string, AugmentTransforms][] = [
  ['affine (rotate 15°, shift 2, scale 0.9-1.1, shear 10°)', { affine: { rotate: 15, shift: 2, scale: [0.9, 1.1], shear: 10 } }],
  ['elastic (α 34, σ 4)', { elastic: { alpha: 34, sigma: 4 } }],
  ['affine + elastic (one resampling)', { affine: { rotate: 15, shift: 2, scale: [0.9, 1.1], shear: 10 }, elastic: { alpha: 34, sigma: 4 } }],
  ['crop (padding 2)', { crop: { padding: 2 } }],
  ['flip (0.5)', { flip: { horizontal: 0.5 } }],
  ['contrast (0.8-1.2)', { contrast: { factor: [0.8, 1.2] } }],
  ['brightness (0.1)', { brightness: { delta: 0.1 } }],
  ['noise (std 0.1)', { noise: { std: 0.1 } }],
  [
    'all of them',
    {
      affine: { rotate: 15, shift: 2, scale: [0.9, 1.1], shear: 10 },
      elastic: { alpha: 34, sigma: 4 },
      crop: { padding: 2 },
      flip: { horizontal: 0.5 },
      contrast: { factor: [0.8, 1.2] },
      brightness: { delta: 0.1 },
      noise: { std: 0.1 },
    },
  ],
];

const { x, labels } = makeBatch(batch);
console.log(`augmentImages on ${batch} × 1×28×28, median of ${rounds} rounds of ≥ ${roundMs} ms; ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores`);

let seed = 0;
const measured: [string, number][] = [];
for (const [name, t] of transforms) {
  const rate = await measureRate(() => augmentImages(x, shape, t, seed++), batch, timing);
  measured.push([name, rate.msPerStep]);
}

let stepMs: number | null = null;
if (values.step !== 'none') {
  const trainer = striateTrainer(values.step as BackendName, batch, initParams(1));
  try {
    stepMs = (await measureRate(() => trainer.trainStep(x, labels), batch, timing)).msPerStep;
  } finally {
    await trainer.dispose();
  }
}

const share = (ms: number): string => (stepMs === null ? '—' : `${((100 * ms) / stepMs).toFixed(1)}%`);
console.log(
  table(
    ['augmentation', 'per batch', 'per image', 'of a step'],
    measured.map(([name, ms]) => [name, fmtMs(ms), fmtMs(ms / batch), share(ms)]),
  ),
);
if (stepMs !== null) {
  console.log(`LeNet-5 training step on ${values.step}, batch ${batch}: ${fmtMs(stepMs)}`);
  const over = measured.filter(([, ms]) => ms > stepMs! / 10).map(([name]) => name);
  console.log(over.length === 0 ? 'every augmentation costs under a tenth of a step' : `over a tenth of a step: ${over.join('; ')}`);
}

/**
 * `--throughput STEPS`: train() itself, LeNet-5 on `--step`'s backend for
 * STEPS steps of `--batch`, three times in this one run: without
 * augmentation, with the Simard distortions (affine + elastic) augmented on
 * the training thread, and with the same on one worker thread
 * (`augment({ workers: 1 })`, which train() overlaps with the step), each
 * after a short warm-up run (compiling, starting the worker). The issue asks for at most 10% fewer images a second than without.
 */
if (throughputSteps > 0 && values.step !== 'none') {
  const { adam, augment, lenet5, train } = await import('../src/index.js');
  const { lastValueFrom } = await import('rxjs');
  const count = throughputSteps * batch;
  const images = new Float32Array(count * 784);
  for (let i = 0; i < count; i += batch) images.set(x.subarray(0, Math.min(batch, count - i) * 784), i * 784);
  const trainSet = { images, labels: Uint8Array.from({ length: count }, (_, i) => labels[i % batch]), count };
  const model = lenet5();
  const simard = { affine: { rotate: 15, shift: 2, scale: [0.9, 1.1] as [number, number], shear: 10 }, elastic: { alpha: 34, sigma: 4 } };
  const runs: [string, ReturnType<typeof augment> | undefined][] = [
    ['no augmentation', undefined],
    ['affine + elastic, training thread', augment({ imageShape: model.inputShape, ...simard })],
    ['affine + elastic, 1 worker', augment({ imageShape: model.inputShape, ...simard, workers: 1 })],
  ];
  const rates: [string, number][] = [];
  const trainOn = (set: typeof trainSet, transform: ReturnType<typeof augment> | undefined) =>
    lastValueFrom(train({ model, data: { train: set }, optimizer: adam({ lr: 0.001 }), epochs: 1, batchSize: batch, backend: values.step as BackendName, evaluate: false, seed: 1, transform }));
  // Warm-up before each timed run: the kernels compiled, the worker started.
  const warm = { images: images.subarray(0, 4 * batch * 784), labels: trainSet.labels.subarray(0, 4 * batch), count: 4 * batch };
  for (const [name, transform] of runs) {
    await trainOn(warm, transform);
    const done = await trainOn(trainSet, transform);
    if (done.type !== 'done') throw new Error('bench/augment: training did not finish');
    rates.push([name, (throughputSteps * batch) / done.seconds]);
  }
  const plain = rates[0][1];
  console.log(`\ntrain(), LeNet-5 on ${values.step}, ${throughputSteps} steps of batch ${batch}:`);
  console.log(table(['run', 'images/s', 'fewer than without'], rates.map(([name, r]) => [name, r.toFixed(0), `${((100 * (plain - r)) / plain).toFixed(1)}%`])));
}
