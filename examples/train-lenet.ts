/**
 * `npm start`: train LeNet-5 on MNIST, with a progress bar, a test evaluation
 * and a checkpoint after each epoch, and two charts, rewritten after each
 * epoch: out/curves.png (loss and accuracy) and out/filters.png (the first
 * layer's filters), each also as .svg. `--json` prints one JSON event per
 * line instead of the bar.
 *
 *   npm start -- --epochs 1 --limit 2000
 *   npm start -- --optimizer sgd --lr 0.05 --json > run.jsonl
 *
 * Written as a user of the package would: it imports 'striate' and 'striate/node' only.
 */
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import type { Subscription } from 'rxjs';
import {
  DEFAULT_BACKEND,
  adam,
  autoBackendReport,
  backendNames,
  compile,
  constantLr,
  cosineDecay,
  enableNodeWebGPU,
  filterGridSpec,
  formatSummary,
  input,
  lenet5,
  nn,
  optimizerTensors,
  resolveAutoBackend,
  sgd,
  summary,
  train,
  trainingCurvesSpec,
  type BackendName,
  type EpochEvent,
  type Optimizer,
  type Schedule,
  type TrainEvent,
  type TrainState,
} from 'striate';
import { loadMnist, saveCheckpoint, writeChart } from 'striate/node';

/** The sizes of MNIST's splits, the most --limit and --limit-test can keep. */
const MNIST_SIZE = { train: 60000, test: 10000 } as const;

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

Train LeNet-5 on MNIST and write a checkpoint, curves.png and filters.png (and .svg).

Options:
  --epochs N          passes over the training set (default ${DEFAULTS.epochs})
  --batch-size N      examples per step (default ${DEFAULTS.batchSize})
  --lr X              peak learning rate (default ${DEFAULTS.lr.adam} for adam, ${DEFAULTS.lr.sgd} for sgd)
  --optimizer NAME    adam or sgd (SGD with Nesterov momentum 0.9) (default ${DEFAULTS.optimizer})
  --schedule NAME     cosine (decay to 0 over the run) or constant (default ${DEFAULTS.schedule})
  --backend NAME      compute backend (default ${DEFAULTS.backend}): ${backendNames.join(', ')}
                      ("auto" measures which is fastest here; webgpu needs \`npm install webgpu\`,
                      headlessgl \`npm install gl\` and an X display)
  --seed N            seed of initialisation, shuffling and dropout (default ${DEFAULTS.seed})
  --out DIR           output directory (default ${DEFAULTS.out})
  --limit N           train on the first N training images only (default all ${MNIST_SIZE.train})
  --limit-test N      evaluate on the first N test images only (default all ${MNIST_SIZE.test})
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

/**
 * The spellings a number may take on the command line: plain decimal digits, for integers;
 * and with a fraction or exponent (0.001, 3e-4, .5), for --lr. Number() would also take
 * ' 1', '', '0x10', '0b1', '+1' and 'Infinity'.
 */
const INTEGER = /^\d+$/;
const DECIMAL = /^(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** What an integer option may be: at least `min`, at most `max` (for the reason `why`, if given). */
interface IntegerRange {
  min: number;
  max?: number;
  why?: string;
}

/** The integer `text` spells, or undefined where the option was not given. */
function integer(flag: string, text: string | undefined, { min, max = Number.MAX_SAFE_INTEGER, why }: IntegerRange): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!INTEGER.test(text) || !Number.isSafeInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}${why ? ` (${why})` : ''}`;
    throw new UsageError(`--${flag} must be an integer ${range}, got ${JSON.stringify(text)}`);
  }
  return v;
}

/** The number > 0 that `text` spells, or `fallback` where the option was not given. */
function positive(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (!DECIMAL.test(text) || !Number.isFinite(v) || v <= 0) {
    throw new UsageError(`--${flag} must be a number > 0 written in decimal (e.g. 0.001 or 1e-3), got ${JSON.stringify(text)}`);
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
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      tokens: true,
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
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, tokens } = parsed;
  // parseArgs keeps the last of a repeated option: refuse, since either reading may be the intended one.
  const given = new Set<string>();
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    if (given.has(t.name)) throw new UsageError(`--${t.name} is given more than once; give it once`);
    given.add(t.name);
  }
  if (values.help) return null;
  const optimizer = choice('optimizer', values.optimizer, ['adam', 'sgd'] as const, DEFAULTS.optimizer);
  const lr = positive('lr', values.lr, DEFAULTS.lr[optimizer]);
  const backend = values.backend ?? DEFAULTS.backend;
  if (backend === '') throw new UsageError(`--backend must name a backend: ${backendNames.join(', ')}`);
  if (values.out !== undefined && values.out === '') throw new UsageError('--out must name a directory');
  const config: Config = {
    epochs: integer('epochs', values.epochs, { min: 1 }) ?? DEFAULTS.epochs,
    batchSize: integer('batch-size', values['batch-size'], { min: 1 }) ?? DEFAULTS.batchSize,
    lr,
    optimizer,
    schedule: choice('schedule', values.schedule, ['cosine', 'constant'] as const, DEFAULTS.schedule),
    backend,
    seed: integer('seed', values.seed, { min: 0 }) ?? DEFAULTS.seed,
    out: values.out ?? DEFAULTS.out,
    limit: integer('limit', values.limit, { min: 1, max: MNIST_SIZE.train, why: `MNIST has ${MNIST_SIZE.train} training images` }),
    limitTest: integer('limit-test', values['limit-test'], { min: 1, max: MNIST_SIZE.test, why: `MNIST has ${MNIST_SIZE.test} test images` }),
    json: values.json ?? false,
  };
  const examples = config.limit ?? MNIST_SIZE.train;
  if (config.batchSize > examples) {
    throw new UsageError(`--batch-size ${config.batchSize} is more than the ${examples} training images; lower it or raise --limit`);
  }
  return config;
}

/** Where the run writes under --out: saveCheckpoint's directory and the charts. */
const CHECKPOINT_DIR = 'checkpoint';
const CHART_FILES = ['curves.png', 'curves.svg', 'filters.png', 'filters.svg'];

/** Why a file system call failed, in words, for the errors a wrong --out gives. */
function reason(err: unknown): string {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'the file system is read-only';
    case 'ENOSPC':
    case 'EDQUOT':
      return 'no space left';
    case 'EISDIR':
      return 'it is a directory';
    case 'ENOENT':
      return 'the file system takes no new files there';
    default:
      return (err as Error).message;
  }
}

/**
 * Make `dir` and the levels above it that are missing, and write a probe file
 * in it: access() says yes to root where the file system still refuses (under
 * /proc or /sys). The levels are made one at a time: `mkdir -p` in Node loops
 * for ever where the kernel refuses new entries (under /proc, say).
 */
async function makeWritableDir(out: string, dir: string): Promise<void> {
  const missing: string[] = [];
  let at = dir;
  let found = await stat(at).catch(() => null);
  while (!found && dirname(at) !== at) {
    missing.unshift(at);
    at = dirname(at);
    found = await stat(at).catch(() => null);
  }
  if (found && !found.isDirectory()) {
    throw new UsageError(at === out ? `--out ${out}: this is a file, not a directory` : `--out ${out}: ${at} is a file, not a directory`);
  }
  const probe = join(dir, `.train-lenet-probe-${process.pid}`);
  try {
    for (const level of missing) await mkdir(level);
    await (await open(probe, 'wx')).close();
    await rm(probe);
  } catch (err) {
    const where = dir === out ? '' : ` in ${dir}`;
    throw new UsageError(`--out ${out}: cannot write${where} (${reason(err)}); choose a directory you can write to`);
  }
}

/**
 * Make sure the run can write all it writes under --out, before any time is
 * spent training: --out and its checkpoint directory (made if missing) take a
 * file, and each chart that is there already can be opened for writing.
 * Throws UsageError naming the path and the reason in words.
 */
async function checkOutDir(out: string): Promise<void> {
  await makeWritableDir(out, out);
  await makeWritableDir(out, join(out, CHECKPOINT_DIR));
  for (const chart of CHART_FILES.map((f) => join(out, f))) {
    try {
      await (await open(chart, 'r+')).close();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new UsageError(`--out ${out}: cannot write ${chart} (${reason(err)}); move it away or choose another directory`);
    }
  }
}

function makeOptimizer(c: Config): Optimizer {
  const lr: Schedule = c.schedule === 'cosine' ? cosineDecay(c.lr) : constantLr(c.lr);
  return c.optimizer === 'adam' ? adam({ lr }) : sgd({ lr, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
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
  const usageError = (message: string): number => {
    process.stderr.write(`train-lenet: ${message}\n\n${USAGE}`);
    return 2;
  };
  const out = resolve(c.out);
  try {
    await checkOutDir(out);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return usageError(err.message);
  }
  try {
    // In Node, WebGPU needs navigator.gpu made from the webgpu package first; 'auto' does this itself.
    if (c.backend === 'webgpu') await enableNodeWebGPU();
    // Refuse an unknown or unavailable backend up front, as a bad flag.
    await disposeIfPossible(compile(input('probe', [1]), { backend: c.backend as BackendName }));
  } catch (err) {
    return usageError(`--backend ${c.backend}: ${(err as Error).message}`);
  }
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
    const skipped = report.filter((r) => r.msPerStep === null).map((r) => r.backend);
    backendText = `auto = ${chosen} (probe step: ${timings}${skipped.length ? `; not measured: ${skipped.join(', ')}` : ''})`;
  }
  const model = lenet5();
  const data = await loadMnist({ limitTrain: c.limit, limitTest: c.limitTest });
  // Every flag has been checked by now: the summary opens the run proper.
  log(formatSummary(summary(model)));
  log(
    `\ntraining on ${data.train.count} images, testing on ${data.test.count}; ${c.epochs} epoch(s), batch ${c.batchSize}, ` +
      `${c.optimizer} lr ${c.lr} (${c.schedule}), backend ${backendText}, seed ${c.seed}\n`,
  );

  // The step and epoch events so far, from which the curves are drawn.
  const history: TrainEvent[] = [];
  const charts = CHART_FILES.map((f) => join(out, f));
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
    history.push(e);
    await saveCheckpoint(join(out, CHECKPOINT_DIR), {
      params: nn.toTensorGroup(state.params),
      optimizer: optimizerTensors(state.optimizer),
      stats: nn.toTensorGroup(state.stats),
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
    const curves = trainingCurvesSpec(history, { title: `LeNet-5 on MNIST: ${c.optimizer}, lr ${c.lr} (${c.schedule}), batch ${c.batchSize}` });
    const filters = filterGridSpec(state.params['conv1.w'], { title: `conv1 filters after epoch ${e.epoch}`, cellSize: 14 });
    const [curvesPng, curvesSvg, filtersPng, filtersSvg] = charts;
    await Promise.all([writeChart(curvesPng, curves), writeChart(curvesSvg, curves), writeChart(filtersPng, filters), writeChart(filtersSvg, filters)]);
  };

  const onEvent = (e: TrainEvent): void => {
    if (c.json) {
      process.stdout.write(`${JSON.stringify(e.type === 'done' ? { type: e.type, testAccuracy: e.testAccuracy, seconds: e.seconds } : e)}\n`);
    }
    if (e.type === 'step') {
      history.push(e);
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
          `wrote ${join(out, CHECKPOINT_DIR)}/, ${charts.join(', ')}`,
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
