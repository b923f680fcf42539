/**
 * `npm run batchnorm`: what batch normalisation buys. The same ResNet
 * (src/nn/zoo.ts, He et al.'s 6n + 2 family) is trained twice on MNIST with
 * the same seed, optimizer and learning rate, once with batch norm after
 * every convolution and once without (the convolutions then have biases),
 * and both runs go into one chart, DIR/batch-norm.png and .svg (training
 * loss and accuracy, test accuracy after each epoch), and DIR/batch-norm.json
 * (each run's numbers and events). At the default learning rate, SGD 0.5
 * with Nesterov momentum, the network with batch norm trains and the one
 * without stalls at chance (a loss of ln 10 = 2.30) or diverges (its loss
 * goes non-finite, which train() stops with an error: the run is kept up to
 * there and marked so).
 *
 *   npm run batchnorm                                   # ResNet-8, 2 epochs of 10,000 images, about 6 minutes on 2 cores
 *   npm run batchnorm -- --lr 0.05 --epochs 1 --limit 2000 --out runs/bn-low
 *
 * Written as a user of the package would: it imports 'striate' and 'striate/node' only.
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareCurvesSpec, train, type BackendName, type ChartSpec, type TrainEvent } from 'striate';
import { renderChart, type Mnist } from 'striate/node';
import { UsageError, checkBackend, checkOutDir, choice, integer, parseStrict, positive } from './lib/cli.js';
import { DATASETS, OPTIMIZERS, buildChosen, makeOptimizer, parseLimits, type OptimizerName } from './lib/zoo-config.js';

const DEFAULTS = { depth: 8, lr: 0.5, optimizer: 'sgd', epochs: 2, batchSize: 128, limit: 10000, backend: 'webasm', seed: 1, out: 'runs/batch-norm' } as const;

/** What the comparison writes under --out. */
const FILES = { png: 'batch-norm.png', svg: 'batch-norm.svg', json: 'batch-norm.json' } as const;

const USAGE = `Usage: npm run batchnorm -- [options]      (or: tsx examples/batch-norm.ts [options])

Train the same ResNet on MNIST with and without batch normalisation, with the same
seed, optimizer and constant learning rate, and write both runs' curves to
DIR/${FILES.png} (and ${FILES.svg}) and their numbers to DIR/${FILES.json}.

Options:
  --depth N           weighted layers, 6n + 2: 8, 14, 20, ... (default ${DEFAULTS.depth})
  --lr X              the learning rate, constant (default ${DEFAULTS.lr})
  --optimizer NAME    adam or sgd (SGD with Nesterov momentum 0.9) (default ${DEFAULTS.optimizer})
  --epochs N          passes over the training images (default ${DEFAULTS.epochs})
  --batch-size N      examples per step (default ${DEFAULTS.batchSize})
  --limit N           train on the first N training images (default ${DEFAULTS.limit})
  --limit-test N      test on the first N test images (default all 10000)
  --backend NAME      compute backend (default ${DEFAULTS.backend})
  --seed N            seed of initialisation and shuffling (default ${DEFAULTS.seed})
  --out DIR           output directory (default ${DEFAULTS.out})
  -h, --help          show this help
`;

/** The comparison's command line, checked. */
export interface BatchNormConfig {
  depth: number;
  lr: number;
  optimizer: OptimizerName;
  epochs: number;
  batchSize: number;
  limit: number;
  limitTest?: number;
  backend: string;
  seed: number;
  out: string;
}

/** Parse the command line; throws UsageError on anything wrong, returns null for --help. */
export function parseBatchNormFlags(argv: readonly string[]): BatchNormConfig | null {
  const values = parseStrict(argv, {
    depth: { type: 'string' },
    lr: { type: 'string' },
    optimizer: { type: 'string' },
    epochs: { type: 'string' },
    'batch-size': { type: 'string' },
    limit: { type: 'string' },
    'limit-test': { type: 'string' },
    backend: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return null;
  const depth = integer('depth', values.depth, { min: 8 }) ?? DEFAULTS.depth;
  if ((depth - 2) % 6 !== 0) throw new UsageError(`--depth must be 6n + 2 for n >= 1 blocks per stage (8, 14, 20, 32, ...), got ${JSON.stringify(values.depth)}`);
  const limits = parseLimits('mnist', values);
  return {
    depth,
    lr: positive('lr', values.lr) ?? DEFAULTS.lr,
    optimizer: choice('optimizer', values.optimizer, OPTIMIZERS, DEFAULTS.optimizer),
    epochs: integer('epochs', values.epochs, { min: 1 }) ?? DEFAULTS.epochs,
    batchSize: integer('batch-size', values['batch-size'], { min: 2 }) ?? DEFAULTS.batchSize,
    limit: limits.limit ?? DEFAULTS.limit,
    ...(limits.limitTest !== undefined ? { limitTest: limits.limitTest } : {}),
    backend: values.backend ?? DEFAULTS.backend,
    seed: integer('seed', values.seed, { min: 0 }) ?? DEFAULTS.seed,
    out: values.out ?? DEFAULTS.out,
  };
}

/** One of the two runs, as batch-norm.json holds it. */
export interface BatchNormRun {
  /** `with batch norm` or `without batch norm`. */
  label: string;
  /** Batch normalisation after every convolution. */
  batchNorm: boolean;
  /** The model's name and parameter count. */
  model: string;
  /** Training steps taken. */
  steps: number;
  /** The mean training loss of the last epoch finished, or null. */
  trainLoss: number | null;
  /** Test accuracy after the last epoch finished, or null. */
  testAccuracy: number | null;
  /** Why the run ended early (the loss went non-finite), or null. */
  stopped: string | null;
  /** Seconds of training. */
  seconds: number;
  /** The step and epoch events (without their states). */
  events: TrainEvent[];
}

/** Train one of the two networks; never rejects (a run that stops with an error keeps its events and says why). */
function runOne(batchNorm: boolean, c: BatchNormConfig, data: Mnist, log: (line: string) => void): Promise<BatchNormRun> {
  const model = buildChosen('resnet', 'mnist', { depth: c.depth, batchNorm });
  const run: BatchNormRun = {
    label: batchNorm ? 'with batch norm' : 'without batch norm',
    batchNorm,
    model: model.name,
    steps: 0,
    trainLoss: null,
    testAccuracy: null,
    stopped: null,
    seconds: 0,
    events: [],
  };
  const start = performance.now();
  return new Promise((done) => {
    const finish = (): void => {
      run.seconds = (performance.now() - start) / 1000;
      done(run);
    };
    train({
      model,
      data,
      optimizer: makeOptimizer(c.optimizer, c.lr, 'constant'),
      epochs: c.epochs,
      batchSize: c.batchSize,
      backend: c.backend as BackendName,
      seed: c.seed,
    }).subscribe({
      next: (e) => {
        if (e.type === 'step') {
          run.steps++;
          run.events.push({ ...e, state: undefined });
        } else if (e.type === 'epoch') {
          run.events.push({ ...e, state: undefined } as TrainEvent);
          run.trainLoss = e.trainLoss;
          run.testAccuracy = e.testAccuracy;
          log(`  ${run.label}, epoch ${e.epoch}: train loss ${e.trainLoss.toFixed(4)}, test accuracy ${pct(e.testAccuracy)}`);
        }
      },
      error: (err: unknown) => {
        run.stopped = err instanceof Error ? err.message : String(err);
        log(`  ${run.label}: stopped at step ${run.steps}: ${run.stopped}`);
        finish();
      },
      complete: finish,
    });
  });
}

const pct = (x: number | null): string => (x === null ? 'n/a' : `${(100 * x).toFixed(2)}%`);

/** The chart of the two runs. */
export function batchNormChart(runs: readonly BatchNormRun[], c: BatchNormConfig): ChartSpec {
  const title = `${runs[0].model} on MNIST (${c.limit.toLocaleString('en-US')} images): ${c.optimizer} at a constant lr ${c.lr}, batch ${c.batchSize}, seed ${c.seed}`;
  return compareCurvesSpec(
    runs.map((r) => ({ label: r.label, events: r.events })),
    { title },
  );
}

async function main(argv: string[]): Promise<number> {
  let c: BatchNormConfig | null;
  const usageError = (message: string): number => {
    process.stderr.write(`batchnorm: ${message}\n\n${USAGE}`);
    return 2;
  };
  try {
    c = parseBatchNormFlags(argv);
    if (c === null) {
      process.stdout.write(USAGE);
      return 0;
    }
    await checkOutDir(resolve(c.out), [], Object.values(FILES));
    await checkBackend(c.backend);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return usageError(err.message);
  }
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  const data = await DATASETS.mnist.load({ limitTrain: c.limit, limitTest: c.limitTest });
  log(
    `batchnorm: ResNet-${c.depth} on ${data.train.count} MNIST training images, ${c.epochs} epoch(s), ${c.optimizer} lr ${c.lr} (constant), ` +
      `batch ${c.batchSize}, seed ${c.seed}, backend ${c.backend}; ${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}`,
  );
  const runs: BatchNormRun[] = [];
  for (const batchNorm of [true, false]) runs.push(await runOne(batchNorm, c, data, log));
  const out = resolve(c.out);
  const spec = batchNormChart(runs, c);
  const [png, svg] = await Promise.all([renderChart(spec, { format: 'png' }), renderChart(spec, { format: 'svg' })]);
  await Promise.all([
    writeFile(join(out, FILES.png), png),
    writeFile(join(out, FILES.svg), svg),
    writeFile(join(out, FILES.json), `${JSON.stringify({ config: c, cpu: os.cpus()[0]?.model.trim() ?? null, runs }, null, 1)}\n`),
  ]);
  for (const r of runs) {
    log(
      `${r.label.padEnd(20)} ${r.model}: ${r.steps} steps in ${r.seconds.toFixed(1)} s, last train loss ${r.trainLoss?.toFixed(4) ?? 'n/a'}, ` +
        `test accuracy ${pct(r.testAccuracy)}${r.stopped ? ` (stopped: ${r.stopped})` : ''}`,
    );
  }
  log(`wrote ${join(out, FILES.png)}, ${FILES.svg} and ${FILES.json}`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
