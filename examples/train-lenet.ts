/**
 * `npm start`: train LeNet-5 on MNIST, with a progress bar, a test evaluation
 * and a checkpoint after each epoch, and two pictures at the end:
 * out/filters.png (the first layer's filters) and out/curves.png (loss and
 * accuracy). `--json` prints one JSON event per line instead of the bar.
 *
 *   npm start -- --epochs 1 --limit 2000
 *   npm start -- --optimizer sgd --lr 0.05 --json > run.jsonl
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import type { Subscription } from 'rxjs';
import { autoBackendReport, resolveAutoBackend } from '../src/backend/auto.js';
import { compile, type BackendName } from '../src/backend/compile.js';
import { input } from '../src/ops/input.js';
import { loadMnist } from '../src/data/mnist.js';
import { formatSummary, lenet5, summary, toTensorGroup } from '../src/nn/index.js';
import { saveCheckpoint } from '../src/train/checkpoint.js';
import { DEFAULT_BACKEND } from '../src/train/defaults.js';
import { adam, optimizerTensors, sgd, type Optimizer } from '../src/train/optimizers.js';
import { constantLr, cosineDecay, type Schedule } from '../src/train/schedules.js';
import { train, type EpochEvent, type TrainEvent, type TrainState } from '../src/train/train.js';
import { createImage, filterGrid, lineChart, type RgbaImage, writePng } from '../src/viz/png.js';

const DEFAULTS = {
  epochs: 10,
  batchSize: 64,
  optimizer: 'adam',
  lr: { adam: 1e-3, sgd: 0.05 },
  schedule: 'cosine',
  backend: DEFAULT_BACKEND as string,
  seed: 1,
  out: './out',
} as const;

const USAGE = `Usage: npm start -- [options]      (or: tsx examples/train-lenet.ts [options])

Train LeNet-5 on MNIST and write a checkpoint, filters.png and curves.png.

Options:
  --epochs N          passes over the training set (default ${DEFAULTS.epochs})
  --batch-size N      examples per step (default ${DEFAULTS.batchSize})
  --lr X              peak learning rate (default ${DEFAULTS.lr.adam} for adam, ${DEFAULTS.lr.sgd} for sgd)
  --optimizer NAME    adam or sgd (SGD with Nesterov momentum 0.9) (default ${DEFAULTS.optimizer})
  --schedule NAME     cosine (decay to 0 over the run) or constant (default ${DEFAULTS.schedule})
  --backend NAME      compute backend (default ${DEFAULTS.backend})
  --seed N            seed of initialisation, shuffling and dropout (default ${DEFAULTS.seed})
  --out DIR           output directory (default ${DEFAULTS.out})
  --limit N           train on the first N training images only (default all 60000)
  --limit-test N      evaluate on the first N test images only (default all 10000)
  --json              print one JSON event per line instead of the progress bar
  -h, --help          show this help
`;

interface Config {
  epochs: number;
  batchSize: number;
  lr: number;
  optimizer: 'adam' | 'sgd';
  schedule: 'cosine' | 'constant';
  backend: string;
  seed: number;
  out: string;
  limit?: number;
  limitTest?: number;
  json: boolean;
}

class UsageError extends Error {}

function integer(flag: string, text: string | undefined, min: number, fallback?: number): number | undefined {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (!/^[+-]?\d+$/.test(text.trim()) || !Number.isSafeInteger(v) || v < min) {
    throw new UsageError(`--${flag} must be an integer >= ${min}, got ${JSON.stringify(text)}`);
  }
  return v;
}

function choice<T extends string>(flag: string, text: string | undefined, options: readonly T[], fallback: T): T {
  if (text === undefined) return fallback;
  if (!options.includes(text as T)) throw new UsageError(`--${flag} must be one of ${options.join(', ')}, got ${JSON.stringify(text)}`);
  return text as T;
}

/** Parse the command line; throws UsageError on anything wrong. Returns null for --help. */
function parseFlags(argv: string[]): Config | null {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        epochs: { type: 'string' },
        'batch-size': { type: 'string' },
        lr: { type: 'string' },
        optimizer: { type: 'string' },
        schedule: { type: 'string' },
        backend: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        limit: { type: 'string' },
        'limit-test': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return null;
  const optimizer = choice('optimizer', values.optimizer, ['adam', 'sgd'] as const, DEFAULTS.optimizer);
  let lr: number = DEFAULTS.lr[optimizer];
  if (values.lr !== undefined) {
    lr = Number(values.lr);
    if (values.lr.trim() === '' || !Number.isFinite(lr) || lr <= 0) throw new UsageError(`--lr must be a number > 0, got ${JSON.stringify(values.lr)}`);
  }
  const backend = values.backend ?? DEFAULTS.backend;
  if (backend === '') throw new UsageError('--backend must name a backend');
  if (values.out !== undefined && values.out === '') throw new UsageError('--out must name a directory');
  return {
    epochs: integer('epochs', values.epochs, 1, DEFAULTS.epochs)!,
    batchSize: integer('batch-size', values['batch-size'], 1, DEFAULTS.batchSize)!,
    lr,
    optimizer,
    schedule: choice('schedule', values.schedule, ['cosine', 'constant'] as const, DEFAULTS.schedule),
    backend,
    seed: integer('seed', values.seed, 0, DEFAULTS.seed)!,
    out: values.out ?? DEFAULTS.out,
    limit: integer('limit', values.limit, 1),
    limitTest: integer('limit-test', values['limit-test'], 1),
    json: values.json ?? false,
  };
}

function makeOptimizer(c: Config): Optimizer {
  const lr: Schedule = c.schedule === 'cosine' ? cosineDecay(c.lr) : constantLr(c.lr);
  return c.optimizer === 'adam' ? adam({ lr }) : sgd({ lr, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
}

/** Images stacked top to bottom, left-aligned, on white. */
function stack(images: readonly RgbaImage[]): RgbaImage {
  const width = Math.max(...images.map((i) => i.width));
  const out = createImage(width, images.reduce((h, i) => h + i.height, 0), '#ffffff');
  let y0 = 0;
  for (const img of images) {
    for (let y = 0; y < img.height; y++) {
      out.data.set(img.data.subarray(y * img.width * 4, (y + 1) * img.width * 4), ((y0 + y) * width) * 4);
    }
    y0 += img.height;
  }
  return out;
}

/** Debiased moving average of a series (as the smooth operator), for the curves. */
function smoothed(values: readonly number[], weight: number): number[] {
  let s = 0;
  return values.map((x, i) => {
    s = weight * s + (1 - weight) * x;
    return s / (1 - weight ** (i + 1));
  });
}

/** Per-step curves plus the test numbers of each epoch, held as a step function over that epoch's steps. */
class Curves {
  readonly loss: number[] = [];
  readonly accuracy: number[] = [];
  readonly testLoss: number[] = [];
  readonly testAccuracy: number[] = [];

  step(loss: number, accuracy: number): void {
    this.loss.push(loss);
    this.accuracy.push(accuracy);
  }

  epoch(e: EpochEvent): void {
    const n = this.loss.length - this.testLoss.length;
    for (let i = 0; i < n; i++) {
      this.testLoss.push(e.testLoss ?? NaN);
      this.testAccuracy.push(e.testAccuracy ?? NaN);
    }
  }

  image(): RgbaImage {
    const w = this.loss.length > 200 ? 0.98 : 0.9;
    // The loss spans orders of magnitude (2.3 at the start, ~0.01 at the end): plot its log10.
    const log10 = (xs: number[]): number[] => xs.map((v) => (v > 0 ? Math.log10(v) : NaN));
    const lossChart = lineChart(
      [
        { name: 'train loss (smoothed)', values: log10(smoothed(this.loss, w)) },
        { name: 'test loss (end of epoch)', values: log10(this.testLoss) },
      ],
      { title: 'log10 loss per step', width: 800, height: 360 },
    );
    // Accuracy: the last 10% are where a good network lives; the first steps are off the bottom.
    const lowest = Math.min(0.9, ...this.testAccuracy.filter((v) => Number.isFinite(v)));
    const accChart = lineChart(
      [
        { name: 'train accuracy (smoothed)', values: smoothed(this.accuracy, w) },
        { name: 'test accuracy (end of epoch)', values: this.testAccuracy },
      ],
      { title: 'accuracy per step', width: 800, height: 360, yRange: [Math.max(0, Math.floor(lowest * 20) / 20), 1] },
    );
    return stack([lossChart, accChart]);
  }
}

async function disposeIfPossible(f: unknown): Promise<void> {
  const dispose = (f as { dispose?: unknown }).dispose;
  if (typeof dispose === 'function') await dispose.call(f);
}

const pct = (x: number | null): string => (x === null ? 'n/a' : `${(100 * x).toFixed(2)}%`);

async function main(argv: string[]): Promise<number> {
  let config: Config | null;
  try {
    config = parseFlags(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`train-lenet: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (config === null) {
    process.stdout.write(USAGE);
    return 0;
  }
  const c = config;
  try {
    // Refuse an unknown or unavailable backend up front, as a bad flag.
    await disposeIfPossible(compile(input('probe', [1]), { backend: c.backend as BackendName }));
  } catch (err) {
    process.stderr.write(`train-lenet: --backend ${c.backend}: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const out = resolve(c.out);
  await mkdir(out, { recursive: true });
  const log = (line: string): void => {
    if (!c.json) process.stdout.write(`${line}\n`);
  };

  let backendText = c.backend;
  if (c.backend === 'auto') {
    // Measure once, up front, so that the log says which backend trains.
    log('choosing the fastest backend ("auto") ...');
    const report = await autoBackendReport();
    const chosen = await resolveAutoBackend();
    const timings = report
      .filter((r) => r.msPerStep !== null)
      .map((r) => `${r.backend} ${r.msPerStep!.toFixed(1)} ms`)
      .join(', ');
    backendText = `auto = ${chosen} (probe step: ${timings})`;
  }
  const model = lenet5();
  const data = await loadMnist({ limitTrain: c.limit, limitTest: c.limitTest });
  log(formatSummary(summary(model)));
  log(
    `\ntraining on ${data.train.count} images, testing on ${data.test.count}; ${c.epochs} epoch(s), batch ${c.batchSize}, ` +
      `${c.optimizer} lr ${c.lr} (${c.schedule}), backend ${backendText}, seed ${c.seed}\n`,
  );

  const curves = new Curves();
  const stepsPerEpoch = Math.floor(data.train.count / c.batchSize);
  const bar = c.json
    ? null
    : new cliProgress.SingleBar(
        {
          format: 'epoch {epoch} |{bar}| {value}/{total} | loss {loss} | acc {acc} | {ips} img/s | eta {eta_formatted}',
          hideCursor: true,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
  let smoothLoss = 0;
  let smoothAcc = 0;
  let seen = 0;

  const saveOutputs = async (state: TrainState, e: EpochEvent): Promise<void> => {
    curves.epoch(e);
    await saveCheckpoint(join(out, 'checkpoint'), {
      params: toTensorGroup(state.params),
      optimizer: optimizerTensors(state.optimizer),
      meta: {
        model: model.name,
        epoch: state.epoch,
        step: state.step,
        optimizer: c.optimizer,
        optimizerStep: state.optimizer.step,
        lr: c.lr,
        schedule: c.schedule,
        seed: c.seed,
        backend: c.backend,
        testAccuracy: e.testAccuracy,
      },
    });
    const w = state.params['conv1.w'];
    await writePng(join(out, 'filters.png'), filterGrid(w.data, w.shape, { scale: 12, padding: 4, columns: 6 }));
    await writePng(join(out, 'curves.png'), curves.image());
  };

  const onEvent = (e: TrainEvent): void => {
    if (c.json) {
      process.stdout.write(`${JSON.stringify(e.type === 'done' ? { type: e.type, testAccuracy: e.testAccuracy, seconds: e.seconds } : e)}\n`);
    }
    if (e.type === 'step') {
      curves.step(e.loss, e.accuracy);
      seen++;
      const w = Math.min(0.95, 1 - 1 / seen);
      smoothLoss = w * smoothLoss + (1 - w) * e.loss;
      smoothAcc = w * smoothAcc + (1 - w) * e.accuracy;
      if (bar) {
        const payload = { epoch: `${e.epoch}/${c.epochs}`, loss: smoothLoss.toFixed(4), acc: pct(smoothAcc), ips: e.imagesPerSecond.toFixed(0) };
        if (e.step === 1) bar.start(stepsPerEpoch, 1, payload);
        else bar.update(e.step, payload);
        if (e.step === stepsPerEpoch) {
          bar.stop();
          log(`  evaluating on ${data.test.count} test images ...`);
        }
      }
    } else if (e.type === 'epoch') {
      log(
        `epoch ${e.epoch}: train loss ${e.trainLoss.toFixed(4)} acc ${pct(e.trainAccuracy)} | ` +
          `test loss ${e.testLoss?.toFixed(4) ?? 'n/a'} acc ${pct(e.testAccuracy)} | ${e.seconds.toFixed(1)} s`,
      );
    } else {
      log(
        `\ndone: test accuracy ${pct(e.testAccuracy)} after ${c.epochs} epoch(s) in ${e.seconds.toFixed(1)} s\n` +
          `wrote ${join(out, 'checkpoint')}/, ${join(out, 'filters.png')}, ${join(out, 'curves.png')}`,
      );
    }
  };

  return new Promise<number>((resolveExit) => {
    let subscription: Subscription | null = null;
    const onSigint = (): void => {
      subscription?.unsubscribe();
      bar?.stop();
      process.stderr.write('\ninterrupted; training stopped\n');
      resolveExit(130);
    };
    process.once('SIGINT', onSigint);
    const finish = (code: number): void => {
      process.off('SIGINT', onSigint);
      resolveExit(code);
    };
    try {
      subscription = train({
        model,
        data,
        optimizer: makeOptimizer(c),
        epochs: c.epochs,
        batchSize: c.batchSize,
        backend: c.backend as BackendName,
        seed: c.seed,
        onEpochEnd: saveOutputs,
      }).subscribe({
        next: onEvent,
        error: (err: Error) => {
          bar?.stop();
          process.stderr.write(`train-lenet: ${err.message}\n`);
          finish(1);
        },
        complete: () => finish(0),
      });
    } catch (err) {
      // Options that train() refuses (e.g. a batch size larger than --limit) are usage errors.
      process.stderr.write(`train-lenet: ${(err as Error).message}\n\n${USAGE}`);
      finish(2);
    }
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`train-lenet: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
