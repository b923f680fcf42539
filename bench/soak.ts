/**
 * `npm run bench:soak`: a long training run on each available Node backend,
 * to see that memory stays flat. 10,000 steps (by default) of a small conv
 * net (or LeNet-5, `--model lenet5`) at batch 8 with Adam on MNIST's first
 * training images, through `train()` as a user runs it (batches, feeds,
 * optimizer state, events), without evaluation. For each backend it prints resident memory (RSS), V8 heap used
 * (after a collection) and the live device buffers (`liveDeviceTensors()`)
 * before training, after a warm-up, every tenth of the run, at the last step
 * and after the trainer has disposed its graphs; and the steps/second after
 * the warm-up.
 *
 * A benchmark, not a test: no time is held against a bound. It exits 1 when a
 * backend fails to train, when RSS or heap grows by more than MAX_GROWTH from
 * the warm-up to the last step, when device buffers are added while it runs,
 * or when they do not return to their count before training.
 *
 *   npm run bench:soak                                  # every backend, 10,000 steps each
 *   npm run bench:soak -- --steps 200 --backend webasm  # a smoke run
 *   npm run bench:soak -- --model lenet5
 */
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  adam,
  defineModel,
  disableNodeWebGPU,
  enableNodeWebGPU,
  lenet5,
  liveDeviceTensors,
  nn,
  releaseIdleGpus,
  train,
  unavailableReason,
  type BackendName,
  type GpuJsBackend,
  type Model,
} from '../src/index.js';
import { loadMnist } from '../src/node.js';
import { setup as setupDisplay, teardown as teardownDisplay } from '../test/setup/display.js';
import { table } from './lib/measure.js';

/** The Node device backends, each run by default. `reference` (float64 JavaScript, no device buffers, about 10x slower) runs only when named. */
const NODE_BACKENDS: readonly GpuJsBackend[] = ['cpu', 'webasm', 'webasm-threads', 'headlessgl', 'webgpu'];
const BATCH = 8;

/**
 * The models to soak. `small` has LeNet-5's kinds of layer with few kernels
 * (each step's time is mostly per-kernel overhead on the slow backends), so
 * that 10,000 steps take minutes on headlessgl, the slowest, where LeNet-5
 * takes several times as long (bench/README.md has the figures).
 */
const MODELS = {
  // conv 4@5x5 -> ReLU -> max pool 4/4 -> dense 10: 28x28 -> 24x24 -> 6x6, 104 + 1,450 parameters.
  small: (): Model =>
    defineModel('soak-small', [1, 28, 28], [
      nn.conv2d('conv1', { filters: 4, size: 5 }),
      nn.relu(),
      nn.maxPool2d({ size: 4, stride: 4 }),
      nn.flatten(),
      nn.dense('fc', { units: 10 }),
    ]),
  lenet5: (): Model => lenet5(),
} as const;
type ModelName = keyof typeof MODELS;
const DEFAULT_STEPS = 10_000;
/** The most RSS or heap may grow from the warm-up to the last step, as a factor. */
const MAX_GROWTH = 1.5;

const USAGE = `Usage: npm run bench:soak -- [--steps N] [--backend NAME] [--model NAME]

${DEFAULT_STEPS.toLocaleString('en-US')} training steps (default) of a small conv net, batch ${BATCH}, Adam, on each Node backend
(${NODE_BACKENDS.join(', ')}; reference when named), printing RSS, heap and live device buffers
before, after the warm-up and at the end, and steps/second. Exits 1 when memory grows by more
than ${MAX_GROWTH}x or device buffers are left behind.

  --steps N       training steps per backend (default ${DEFAULT_STEPS})
  --backend NAME  run this backend only
  --model NAME    ${Object.keys(MODELS).join(' or ')} (default small: conv 4@5x5, ReLU, max pool 4/4, dense 10)
  -h, --help      show this help
`;

/** A full collection before each reading, so that heap used is what is live; V8 exposes gc() to a flag set at run time. */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

interface Reading {
  /** Steps done when read. */
  step: number;
  rssMb: number;
  heapMb: number;
  buffers: number;
}

function read(step: number): Reading {
  gc();
  const { rss, heapUsed } = process.memoryUsage();
  return { step, rssMb: rss / 2 ** 20, heapMb: heapUsed / 2 ** 20, buffers: liveDeviceTensors() };
}

interface Soak {
  before: Reading;
  warm: Reading;
  trend: Reading[];
  end: Reading;
  after: Reading;
  stepsPerSecond: number;
  lastLoss: number;
}

/** The largest divisor of `steps` up to 200: epochs of that many steps make the run exactly `steps` long. */
function stepsPerEpoch(steps: number): number {
  for (let d = Math.min(steps, 200); d > 1; d--) if (steps % d === 0) return d;
  return 1;
}

async function soak(backend: BackendName, model: Model, steps: number): Promise<Soak> {
  const perEpoch = stepsPerEpoch(steps);
  const { train: images } = await loadMnist({ limitTrain: perEpoch * BATCH, limitTest: 1 });
  const warmSteps = Math.max(1, Math.min(500, Math.floor(steps / 10)));
  const every = Math.max(1, Math.floor(steps / 10));
  const before = read(0);
  const trend: Reading[] = [];
  // Set from the step events: the readings after the warm-up and at the last step, with their times.
  const marks: { warm?: Reading; warmAt?: number; end?: Reading; endAt?: number } = {};
  let lastLoss = NaN;
  let done = 0;
  await new Promise<void>((resolve, reject) => {
    train({ model, data: { train: images }, optimizer: adam(), epochs: steps / perEpoch, batchSize: BATCH, backend, seed: 1, evaluate: false }).subscribe({
      next: (e) => {
        if (e.type !== 'step') return;
        done++;
        lastLoss = e.loss;
        if (done === warmSteps) {
          marks.warm = read(done);
          marks.warmAt = performance.now();
        }
        if (done % every === 0) trend.push(read(done));
        if (done === steps) {
          marks.endAt = performance.now();
          marks.end = read(done);
        }
      },
      error: reject,
      complete: resolve,
    });
  });
  // train() disposes its graphs before it completes; the gpu.js instances go once idle.
  releaseIdleGpus();
  const { warm, warmAt = 0, end, endAt = 0 } = marks;
  if (!warm || !end) throw new Error(`soak: ${done} steps were taken, ${steps} expected`);
  const stepsPerSecond = steps > warmSteps ? ((steps - warmSteps) * 1000) / (endAt - warmAt) : NaN;
  return { before, warm, trend, end, after: read(steps), stepsPerSecond, lastLoss };
}

/** What is wrong with a soak's memory, if anything. */
function problems(s: Soak): string[] {
  const found: string[] = [];
  const grew = (what: string, from: number, to: number): void => {
    if (to > MAX_GROWTH * from) found.push(`${what} grew ${(to / from).toFixed(2)}x (${from.toFixed(0)} -> ${to.toFixed(0)} MB), more than ${MAX_GROWTH}x`);
  };
  grew('RSS', s.warm.rssMb, s.end.rssMb);
  grew('heap used', s.warm.heapMb, s.end.heapMb);
  if (s.end.buffers !== s.warm.buffers) found.push(`live device buffers went from ${s.warm.buffers} after the warm-up to ${s.end.buffers} at the end`);
  if (s.after.buffers !== s.before.buffers) found.push(`${s.after.buffers - s.before.buffers} device buffers are still live after training ended`);
  return found;
}

const mb = (x: number): string => x.toFixed(1);
const describe = (r: Reading): string => `RSS ${mb(r.rssMb)} MB, heap ${mb(r.heapMb)} MB, ${r.buffers} device buffers`;

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, strict: true, options: { steps: { type: 'string' }, backend: { type: 'string' }, model: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    process.stderr.write(`soak: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const steps = values.steps === undefined ? DEFAULT_STEPS : Number(values.steps);
  const known: readonly string[] = [...NODE_BACKENDS, 'reference'];
  if ((values.steps !== undefined && !/^\d+$/.test(values.steps)) || !Number.isSafeInteger(steps) || steps < 1) {
    process.stderr.write(`soak: --steps must be an integer >= 1, got ${JSON.stringify(values.steps)}\n\n${USAGE}`);
    return 2;
  }
  if (values.backend !== undefined && !known.includes(values.backend)) {
    process.stderr.write(`soak: --backend must be one of ${known.join(', ')}, got ${JSON.stringify(values.backend)}\n\n${USAGE}`);
    return 2;
  }
  const modelName = values.model ?? 'small';
  if (!Object.hasOwn(MODELS, modelName)) {
    process.stderr.write(`soak: --model must be one of ${Object.keys(MODELS).join(', ')}, got ${JSON.stringify(values.model)}\n\n${USAGE}`);
    return 2;
  }
  const model = MODELS[modelName as ModelName]();
  const backends = (values.backend === undefined ? NODE_BACKENDS : [values.backend]) as readonly BackendName[];

  // headless-gl needs an X display: a private Xvfb is started when there is none (as the tests do).
  if (backends.includes('headlessgl')) await setupDisplay();
  const webgpu = backends.includes('webgpu') ? await enableNodeWebGPU().then(() => null, (e: Error) => e.message) : null;
  const rows: string[][] = [];
  let failed = false;
  try {
    console.log(`soak: ${steps.toLocaleString('en-US')} steps of ${model.name}, batch ${BATCH}, Adam, per backend; node ${process.version}`);
    for (const backend of backends) {
      const reason = backend === 'reference' ? null : backend === 'webgpu' && webgpu ? webgpu : unavailableReason(backend as GpuJsBackend);
      if (reason !== null) {
        console.log(`\n${backend}: skipped, not available: ${reason}`);
        rows.push([backend, 'skipped', '', '', '', '', '']);
        continue;
      }
      console.log(`\n${backend}: training ...`);
      let s: Soak;
      try {
        s = await soak(backend, model, steps);
      } catch (err) {
        failed = true;
        console.log(`${backend}: FAILED: ${(err as Error).message}`);
        rows.push([backend, 'FAILED', '', '', '', '', '']);
        continue;
      }
      const found = problems(s);
      failed ||= found.length > 0;
      const line = (label: string, text: string): void => console.log(`  ${label.padEnd(24)} ${text}`);
      line('before training:', describe(s.before));
      line(`after ${s.warm.step} warm-up steps:`, describe(s.warm));
      line(`RSS every ${s.trend[0]?.step ?? steps} steps:`, `${s.trend.map((r) => r.rssMb.toFixed(0)).join(' ')} MB`);
      line(`at step ${s.end.step}:`, describe(s.end));
      line('after training:', describe(s.after));
      line('after the warm-up:', `${s.stepsPerSecond.toFixed(1)} steps/s; last loss ${s.lastLoss.toFixed(4)}`);
      for (const p of found) console.log(`  MEMORY: ${p}`);
      rows.push([
        backend,
        found.length > 0 ? 'GREW' : 'flat',
        s.stepsPerSecond.toFixed(1),
        `${mb(s.warm.rssMb)} -> ${mb(s.end.rssMb)}`,
        `${mb(s.warm.heapMb)} -> ${mb(s.end.heapMb)}`,
        `${s.warm.buffers} -> ${s.end.buffers}`,
        `${s.before.buffers} -> ${s.after.buffers}`,
      ]);
    }
  } finally {
    await disableNodeWebGPU();
    await teardownDisplay();
  }
  console.log(`\n${table(['backend', 'memory', 'steps/s', 'RSS MB (warm -> end)', 'heap MB', 'buffers (warm -> end)', 'buffers (before -> after)'], rows)}`);
  return failed ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`soak: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
