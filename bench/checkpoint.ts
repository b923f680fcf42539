/**
 * `npm run bench:checkpoint`: what rematerialisation buys and costs. A deep
 * ResNet of He et al.'s 6n+2 family (three stages of n basic blocks, 16, 32
 * and 64 filters, a strided 1×1 projection where a stage starts; no batch
 * norm yet) on 28×28 grey images, its training step (loss and every
 * parameter's gradient) compiled twice: as written, and with each residual
 * block wrapped in `nn.checkpoint`. For each it prints the plan's device
 * memory (`GpuJsFunction.memory`: what gpu.js allocates for the plan, inputs
 * and parameters included; and the live peak, the most bytes of values alive
 * at once, which an allocator sharing buffers across shapes would need), the kernel steps, the median step time and the
 * process's resident memory after the runs; and checks that both give the
 * same loss and gradients.
 *
 * A benchmark, not a test: nothing is held against a bound.
 *
 *   npm run bench:checkpoint                             # n = 3, 9 (ResNet-20, -56), batch 16, webasm
 *   npm run bench:checkpoint -- --n 3 --batch 8 --steps 3 --backend webasm-threads
 */
import { parseArgs } from 'node:util';
import os from 'node:os';
import {
  buildModel,
  compile,
  defineModel,
  grad,
  initParams,
  input,
  nn,
  softmaxCrossEntropy,
  type GpuJsBackend,
  type Layer,
  type Model,
} from '../src/index.js';
import { fmtMs, median, table } from './lib/measure.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '3,9' },
    batch: { type: 'string', default: '16' },
    steps: { type: 'string', default: '5' },
    backend: { type: 'string', default: 'webasm' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('usage: npm run bench:checkpoint -- [--n 3,9] [--batch 16] [--steps 5] [--backend webasm]');
  process.exit(0);
}
const positive = (flag: string, text: string): number => {
  if (!/^[1-9]\d*$/.test(text)) {
    console.error(`bench:checkpoint: --${flag} must be a positive integer, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return Number(text);
};
const depths = values.n.split(',').map((t) => positive('n', t));
const batch = positive('batch', values.batch);
const steps = positive('steps', values.steps);
const backend = values.backend as GpuJsBackend;

/** He et al.'s CIFAR ResNet, 6n+2 layers, each basic block checkpointed when `remat`. */
function resnet(n: number, remat: boolean): Model {
  const layers: Layer[] = [nn.conv2d('stem', { filters: 16, size: 3, padding: 'same' }), nn.relu()];
  [16, 32, 64].forEach((filters, stage) => {
    for (let b = 0; b < n; b++) {
      const stride = stage > 0 && b === 0 ? 2 : 1;
      const id = `s${stage + 1}b${b + 1}`;
      const body = nn.sequential(
        nn.conv2d('conv1', { filters, size: 3, stride, padding: 'same' }),
        nn.relu(),
        nn.conv2d('conv2', { filters, size: 3, padding: 'same' }),
      );
      const shortcut = stride === 1 ? undefined : nn.conv2d('project', { filters, size: 1, stride });
      const block = nn.scope(id, nn.sequential(nn.residual(body, shortcut), nn.relu()));
      layers.push(remat ? nn.checkpoint(block) : block);
    }
  });
  layers.push(nn.avgPool2d({ size: 7 }), nn.flatten(), nn.dense('logits', { units: 10 }));
  return defineModel(`resnet${6 * n + 2}${remat ? '-checkpointed' : ''}`, [1, 28, 28], layers);
}

interface Measured {
  readonly bytes: number;
  readonly peakLiveBytes: number;
  readonly buffers: number;
  readonly kernels: number;
  readonly msPerStep: number;
  readonly rssMiB: number;
  readonly results: Float32Array[];
}

async function measure(model: Model, feeds: Record<string, Float32Array>): Promise<Measured> {
  const built = buildModel(model, { batchSize: batch });
  const loss = softmaxCrossEntropy(built.output, input('labels', [batch]));
  const grads = grad(loss, [...built.paramTensors]);
  const f = compile([loss, ...grads], { backend });
  const first = await f.run(feeds);
  const times: number[] = [];
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now();
    await f.run(feeds);
    times.push(performance.now() - t0);
  }
  const out = { ...f.memory, kernels: f.plan.length, msPerStep: median(times), rssMiB: process.memoryUsage().rss / 2 ** 20, results: first.map((r) => r.data.slice()) };
  await f.dispose();
  return out;
}

const mib = (b: number): string => (b / 2 ** 20).toFixed(1);
console.log(`Checkpointed ResNet blocks on ${backend}, batch ${batch}, median of ${steps} steps; ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores`);
const rows: string[][] = [];
let worst = 0;
for (const n of depths) {
  const plain = resnet(n, false);
  const params = initParams(plain, 1);
  const feeds: Record<string, Float32Array> = {};
  for (const [name, v] of Object.entries(params)) feeds[name] = Float32Array.from(v.data as ArrayLike<number>);
  feeds.x = Float32Array.from({ length: batch * 28 * 28 }, (_, i) => Math.sin(i * 0.37) * 0.5 + 0.5);
  feeds.labels = Float32Array.from({ length: batch }, (_, i) => i % 10);
  const a = await measure(plain, feeds);
  const b = await measure(resnet(n, true), feeds);
  a.results.forEach((r, i) => r.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - b.results[i][k]) / Math.max(1e-3, Math.abs(v))))));
  for (const [what, m] of [['as written', a], ['checkpointed', b]] as const) {
    rows.push([`ResNet-${6 * n + 2}`, what, mib(m.bytes), mib(m.peakLiveBytes), String(m.buffers), String(m.kernels), fmtMs(m.msPerStep), m.rssMiB.toFixed(0)]);
  }
  const ratio = (x: number, y: number): string => `${(x / y).toFixed(2)}x`;
  rows.push(['', 'ratio', ratio(b.bytes, a.bytes), ratio(b.peakLiveBytes, a.peakLiveBytes), '', '', ratio(b.msPerStep, a.msPerStep), '']);
}
console.log(table(['model', 'blocks', 'plan MiB', 'live peak MiB', 'buffers', 'kernels', 'step', 'RSS MiB'], rows));
console.log(`largest relative difference between the two versions' loss and gradients: ${worst.toExponential(2)}`);
if (worst > 1e-2) {
  console.error('bench:checkpoint: the checkpointed network computes different gradients');
  process.exit(1);
}
