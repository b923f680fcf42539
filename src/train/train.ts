/**
 * Training as a cold RxJS Observable.
 *
 * `train` builds the training graph (the loss, by default mean softmax
 * cross-entropy, the logits, and the gradient of the loss with respect to
 * every parameter that is not frozen) when it is called; each subscription
 * compiles it and the evaluation graph once, then runs mini-batch steps: pass
 * the batch through the `transform` operator (if any), feed it and the current
 * parameters, read the loss, logits and gradients back, and let the optimizer
 * make the next, immutable, state.
 *
 * Everything a run has learned is one frozen `TrainState` record. Each step
 * replaces it with immer's `produce`: the new record holds the optimizer's
 * new parameters and state and the next step count, and shares what the step
 * did not touch (the statistics, and whatever the optimizer kept) with the
 * previous one by identity. No record or array of an earlier state is
 * written, so a state caught at any step (an epoch's, a paused run's) stays
 * exactly as it was.
 *
 * ```ts
 * train({ model: lenet5(), data: await loadMnist(), optimizer: adam(), epochs: 1, batchSize: 64 })
 *   .subscribe((e) => console.log(e));
 * ```
 *
 * - Cold and seeded: each subscription trains from scratch, and the same seed
 *   on the same backend gives the same events (losses) every time: the
 *   initial values come from (seed, parameter name), the batch order of epoch
 *   e from (seed, e), the dropout masks of step t from (seed, t), and each
 *   batch's own `seed` (for a `transform`) from (seed, epoch, index).
 * - Unsubscribing stops training before the next step (or the next evaluation
 *   batch), tears down a `transform` still working on a batch, and disposes
 *   the compiled graphs: the loop checks a flag between steps and yields to
 *   the event loop after each, so an unsubscribe from a timer, an I/O callback
 *   or a signal handler lands there.
 * - A non-finite loss (or parameter) ends the stream with an error that names
 *   the epoch and step.
 * - Every epoch ends with an evaluation on `data.test` (when given).
 * - The training graph has a fixed batch size: each epoch uses
 *   ⌊count / batchSize⌋ full batches of a fresh shuffle; the few examples left
 *   over differ from epoch to epoch.
 */
import { castDraft, freeze, produce } from 'immer';
import { Observable, type MonoTypeOperatorFunction } from 'rxjs';
import type { Batch, Dataset } from '../data/batches.js';
import { batches } from '../data/batches.js';
import { createRng, mixSeed } from '../data/random.js';
import { grad } from '../autodiff/grad.js';
import { compile, type BackendName, type CompiledFunction } from '../backend/compile.js';
import { compileParallel, MAX_THREADS, PARALLEL_BACKENDS, parallelUnavailable, type Combine, type ParallelBackend } from '../backend/parallel.js';
import type { FeedValue } from '../backend/feeds.js';
import { sameShape } from '../graph/shape.js';
import { shapeToString, sizeOf, Tensor, topologicalOrder } from '../graph/tensor.js';
import { input } from '../ops/input.js';
import { softmaxCrossEntropy } from '../ops/softmaxCrossEntropy.js';
import { dropoutMask } from '../nn/layers.js';
import { buildModel, initParams, initStats, type BuiltModel, type Model } from '../nn/model.js';
import type { StatSpec } from '../nn/context.js';
import { findNonFinite, tensorValue, type Params } from '../nn/params.js';
import { DEFAULT_BACKEND } from './defaults.js';
import { checkDataset, checkExamples, checkStats, classesOf, countCorrect, disposeCompiled, Evaluator, LABELS_INPUT, paramFeeds } from './evaluate.js';
import type { Optimizer, OptimizerState } from './optimizers.js';
import { describeValue, fail } from '../graph/error.js';
import { BatchTransformer } from './transform.js';

/**
 * Everything a run has learned, as one frozen record: parameters, optimizer
 * state, non-trainable statistics, and how far it got. Replaced after every
 * step, never mutated; entries a step leaves alone are shared by identity.
 */
export interface TrainState {
  /** The trainable parameters by name (frozen ones included, unchanged), each a `{ shape, data }` record. */
  readonly params: Params;
  /** The optimizer's step count and slots, to resume from (`initial.optimizer`) or save with a checkpoint. */
  readonly optimizer: OptimizerState;
  /**
   * Non-trainable values by graph input name (a batch-norm layer's running
   * mean and variance), of the same form as `params` but never given to the
   * optimizer: each step's training graph computes their next values from
   * the batch, and evaluation and `predict` read them. Empty for a model
   * that keeps none.
   */
  readonly stats: Params;
  /** Epochs completed. */
  readonly epoch: number;
  /** Steps (updates) completed, over all epochs. */
  readonly step: number;
}

/** After every training step. `epoch` counts from 1; `step` counts from 1 within the epoch. */
export interface StepEvent {
  /** Always 'step'. */
  readonly type: 'step';
  /** The epoch this step belongs to, from 1 (and counting on from `initial.epoch` when resuming). */
  readonly epoch: number;
  /** The step's place in its epoch, from 1 to ⌊count / batchSize⌋. */
  readonly step: number;
  /** The training loss of this batch, before the update: mean cross-entropy, or the value of the `loss` option. */
  readonly loss: number;
  /** Fraction of this batch classified correctly (before the update). */
  readonly accuracy: number;
  /** Training images per second, averaged over the epoch so far. */
  readonly imagesPerSecond: number;
  /**
   * The state after this step, on the steps the `snapshots` option asks for
   * (absent otherwise, and by default): the parameters and optimizer state
   * to draw, keep or resume from (`initial: event.state`).
   */
  readonly state?: TrainState;
}

/** After every epoch and its evaluation. Test numbers are null without test data or with `evaluate: false`. */
export interface EpochEvent {
  /** Always 'epoch'. */
  readonly type: 'epoch';
  /** The epoch just finished, from 1 (as in its step events). */
  readonly epoch: number;
  /** Mean of the epoch's step losses (each measured before its update). */
  readonly trainLoss: number;
  /** Mean of the epoch's step accuracies, a fraction in [0, 1]. */
  readonly trainAccuracy: number;
  /** Mean softmax cross-entropy over the whole of `data.test` (whatever the `loss` option); null without an evaluation. */
  readonly testLoss: number | null;
  /** Fraction of `data.test` classified correctly (top-1), in [0, 1]; null without an evaluation. */
  readonly testAccuracy: number | null;
  /** Wall time of the epoch, evaluation included. */
  readonly seconds: number;
}

/** The last event: the final state, the last test accuracy, and the wall time of the whole run. */
export interface DoneEvent {
  /** Always 'done'. */
  readonly type: 'done';
  /** The state after the last step: what the run has learned. */
  readonly state: TrainState;
  /** The last epoch's `testAccuracy` (null without an evaluation, or when no epoch ran). */
  readonly testAccuracy: number | null;
  /** Wall time of the whole run in seconds, from subscription to this event. */
  readonly seconds: number;
}

/** An event of a training run: a step, an epoch's end, or the end of the run. */
export type TrainEvent = StepEvent | EpochEvent | DoneEvent;

/** The examples `train` learns from, and those it evaluates on after each epoch. */
export interface TrainData {
  /** The training examples; each of the model's input shape, with labels below the model's class count. */
  readonly train: Dataset;
  /** Examples to evaluate on after each epoch (optional; of the same form as `train`). */
  readonly test?: Dataset;
}

/** What a `loss` function is told besides the logits and labels. */
export interface LossContext {
  /** N, the training graph's batch size. */
  readonly batchSize: number;
  /** C, the number of classes: the logits are `[N, C]`. */
  readonly classes: number;
  /**
   * The graph input of every parameter (frozen ones too), by name, for terms
   * on the weights: `mul(sum(mul(w, w)), 1e-4)` with `w = params['fc.w']`.
   */
  readonly params: Readonly<Record<string, Tensor<'input'>>>;
}

/**
 * A training loss: from the logits `[N, C]` and the batch's labels (an input
 * `[N]` holding integer class indices as floats; `oneHot(labels, C)` makes
 * targets of them) to a scalar, built of graph ops so that `grad` can
 * differentiate it. E.g. mean squared error on the probabilities:
 *
 * ```ts
 * const loss: LossFunction = (logits, labels, { classes }) => {
 *   const d = sub(softmax(logits, -1), oneHot(labels, classes));
 *   return mean(mul(d, d));
 * };
 * ```
 */
export type LossFunction = (logits: Tensor, labels: Tensor<'input'>, context: LossContext) => Tensor;

/**
 * Parameters to leave alone: names (`'c1.w'`) and prefixes ending with '.'
 * (`'c1.'`, every parameter of layer c1), or a predicate on the name.
 */
export type FrozenParams = readonly string[] | ((name: string) => boolean);

/** When step events carry the state: `true` after every step, `{ every: n }` after every n-th. */
export type SnapshotOptions =
  | boolean
  | {
      /** Steps between snapshots, a positive integer: the state rides on the step events whose run step count is a multiple of it. */
      readonly every: number;
    };

/** Options of `train`; each is checked when `train` is called. */
export interface TrainOptions {
  /** The model to train; its output must be logits `[N, classes]`. */
  model: Model;
  /** Training examples, and test examples to evaluate on after each epoch. */
  data: TrainData;
  /** How parameters move, e.g. `adam()` or `sgd({ lr: 0.01, momentum: 0.9 })`. */
  optimizer: Optimizer;
  /** Epochs to train (on top of `initial.epoch` when resuming). */
  epochs: number;
  /** Examples per step; the training graph is built for exactly this many. */
  batchSize: number;
  /** Default `DEFAULT_BACKEND`. */
  backend?: BackendName;
  /**
   * Threads that share each training step (default 1): the batch is cut into
   * `threads` equal parts, this thread computes the gradient of one and a
   * worker thread each of the others, every one on its own one-thread
   * pipeline (`compileParallel`), and the optimizer steps on their mean,
   * which for a mean loss over the batch is the whole batch's gradient. It
   * needs `backend` `'webasm'` or `'cpu'`, a `batchSize` that `threads`
   * divides, and Node's worker threads. Differences from one thread: a model
   * with batch normalisation normalises each part over its own slice of the
   * batch (and its running statistics average the parts'); a custom `loss`
   * is built for one part (`context.batchSize` is the part's) and averaged
   * over the parts, which is the whole batch's loss when it is a mean over
   * the batch. The evaluation after each epoch uses the threads too when they
   * divide `evalBatchSize` (the default 500 splits into 2, 4 or 5), else
   * this thread alone; either way it computes the same.
   */
  threads?: number;
  /** Seed of initialisation, shuffling and dropout (default 0). */
  seed?: number;
  /** Train on the first `limit` training examples only. */
  limit?: number;
  /** Evaluate on `data.test` after each epoch (default: when `data.test` is given). */
  evaluate?: boolean;
  /** Examples per run of the evaluation graph (default 500, at most the test set's size). */
  evalBatchSize?: number;
  /**
   * Continue from a state (e.g. a loaded checkpoint, or a `TrainState`): its
   * parameters, its optimizer state (else a fresh one), its statistics (else
   * none) and its epoch and step counts, so the batches and schedules pick up
   * where it stopped. `step` counts every step taken and may lie inside epoch
   * `epoch + 1` (a paused run): training then resumes at that epoch's next
   * batch. The records given are frozen (deeply, the arrays aside) and become
   * part of the run's states.
   */
  initial?: {
    /** Every parameter of the model, by name, of its shape. */
    params: Params;
    /** The optimizer state to continue (default: a fresh `optimizer.init`). */
    optimizer?: OptimizerState;
    /** The model's statistics, each of its shape (default: `initStats(model)`, running means 0 and variances 1). */
    stats?: Params;
    /** Epochs completed (default 0). */
    epoch?: number;
    /** Steps completed over all epochs (default: `epoch` full epochs' worth). */
    step?: number;
  };
  /**
   * Called with the state after each epoch, before the epoch event is
   * emitted, and awaited (e.g. to save a checkpoint). An error ends the stream.
   */
  onEpochEnd?: (state: TrainState, event: EpochEvent) => void | Promise<void>;
  /**
   * The training loss (default: mean softmax cross-entropy), built into the
   * training graph once, when `train` is called; it must return a scalar
   * (one-element) tensor. Step events report its value; the evaluation after
   * each epoch still reports cross-entropy and accuracy.
   */
  loss?: LossFunction;
  /**
   * An RxJS operator that every training batch goes through before its step,
   * e.g. an augmentation that adds noise drawn from the batch's own seed:
   *
   * ```ts
   * transform: map((b) => {
   *   const rng = createRng(b.seed);
   *   return { ...b, images: b.images.map((v) => v + 0.1 * rng.normal()) };
   * }),
   * ```
   *
   * Each batch is the whole of a stream of its own, `of(batch).pipe(transform)`,
   * which must emit exactly one batch of the same size (images as a
   * Float32Array of the same length, labels as a Uint8Array of valid classes)
   * and complete; it may take its time (`concatMap` over a promise), and the
   * step waits for it. What it does with a batch should depend on that batch
   * alone (its data, `epoch`, `index` and `seed`), so that seeded runs and
   * resumed runs see the same batches: the operator is subscribed afresh
   * for every batch, so what it sets up on subscription (a `scan`, a
   * `bufferCount`) starts over each time. An error, no batch, more
   * than one, or a batch of the wrong form ends training with an error naming
   * the step.
   */
  transform?: MonoTypeOperatorFunction<Batch>;
  /**
   * Parameters the optimizer never changes (e.g. `['c1.', 'c2.']` to
   * fine-tune only the last layers): the training graph computes no gradient
   * for them and the optimizer is given only the others, so a fresh optimizer
   * state has no slots for them and the slots of a resumed one stay as they
   * are. Each name or prefix must match a parameter, a predicate at least
   * one, and at least one parameter must stay trainable.
   */
  frozen?: FrozenParams;
  /**
   * Step events carry the state after the step (`event.state`): `true` after
   * every step, `{ every: n }` when the run's step count is a multiple of n.
   * Default false: numbers only.
   */
  snapshots?: SnapshotOptions;
}

/** Seed stream for dropout masks, kept apart from the initialisation and shuffling streams. */
const DROPOUT_STREAM = 0x64726f70; // 'drop'

const now = (): number => performance.now();

/** Let timers, I/O and unsubscribes run before the next step. */
function yieldToEventLoop(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  // Browsers clamp setTimeout(0) to 4 ms or more; a message to ourselves is a
  // macrotask without the clamp, so input and rendering still get their turn.
  if (typeof MessageChannel === 'function') {
    return new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => {
        channel.port1.close();
        resolve();
      };
      channel.port2.postMessage(null);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function positiveInt(what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    fail('train', `${what} must be a positive integer, got ${JSON.stringify(v) ?? describeValue(v)}`, `${what} ${JSON.stringify(v) ?? describeValue(v)}`, 'a positive integer');
  }
  return v;
}

function sliceDataset(data: Dataset, count: number): Dataset {
  const per = data.count === 0 ? 0 : data.images.length / data.count;
  return { images: data.images.subarray(0, count * per), labels: data.labels.subarray(0, count), count };
}

const NO_STATS: Params = Object.freeze({});

/** The statistics' feeds, by input name. */
function statFeeds(stats: Params, specs: readonly StatSpec[]): Record<string, Float32Array> {
  return Object.fromEntries(specs.map((st) => [st.name, stats[st.name].data]));
}

/** The statistics after a step, from the training graph's outputs; a non-finite one stops training. */
function nextStats(specs: readonly StatSpec[], values: readonly { data: ArrayLike<number> }[], epoch: number, step: number): Params {
  const out: Record<string, ReturnType<typeof tensorValue>> = {};
  specs.forEach((st, i) => {
    const data = Float32Array.from(values[i].data);
    const bad = data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      fail('train', `statistic "${st.name}" became ${data[bad]} at epoch ${epoch}, step ${step}; lower the learning rate`, `"${st.name}" ${data[bad]}`, 'finite statistics');
    }
    out[st.name] = tensorValue(st.shape, data);
  });
  return Object.freeze(out);
}

/** Steps between snapshots on step events; 0 for none. */
function snapshotInterval(snapshots: SnapshotOptions | undefined): number {
  if (snapshots === undefined || snapshots === false) return 0;
  if (snapshots === true) return 1;
  if (snapshots !== null && typeof snapshots === 'object') return positiveInt('snapshots.every', snapshots.every);
  fail('train', `snapshots must be true, false or { every: n }, got ${JSON.stringify(snapshots)}`, `snapshots ${JSON.stringify(snapshots)}`, 'true, false or { every: n }');
}

/** The names `frozen` picks out of the model's parameter names, each entry checked. */
function frozenNames(frozen: FrozenParams | undefined, names: readonly string[]): Set<string> {
  if (frozen === undefined) return new Set();
  const list = names.map((n) => `"${n}"`).join(', ');
  let picked: Set<string>;
  if (typeof frozen === 'function') {
    picked = new Set(names.filter((n) => frozen(n)));
    if (picked.size === 0) fail('train', `the frozen predicate matches none of the parameters ${list}`, 'a predicate matching none', `a predicate matching some of ${list}`);
  } else if (Array.isArray(frozen)) {
    picked = new Set();
    for (const entry of frozen as readonly unknown[]) {
      if (typeof entry !== 'string' || entry === '') {
        fail('train', `frozen entries must be parameter names or prefixes ending with '.', got ${JSON.stringify(entry)}`, `frozen entry ${JSON.stringify(entry) ?? describeValue(entry)}`, "a parameter name or a prefix ending with '.'");
      }
      const hits = entry.endsWith('.') ? names.filter((n) => n.startsWith(entry)) : names.filter((n) => n === entry);
      if (hits.length === 0) {
        const layer = !entry.endsWith('.') && names.some((n) => n.startsWith(`${entry}.`));
        fail(
          'train',
          `frozen entry "${entry}" matches no parameter; the parameters are ${list}` +
            (layer ? `; to freeze every parameter of layer "${entry}", write "${entry}."` : ''),
          `frozen entry "${entry}"`,
          `one of ${list}, or a prefix ending with '.'`,
        );
      }
      for (const h of hits) picked.add(h);
    }
  } else {
    fail(
      'train',
      `frozen must be an array of parameter names and prefixes (e.g. ['c1.']) or a predicate (name) => boolean, got ${describeValue(frozen)}`,
      describeValue(frozen),
      'an array of parameter names and prefixes, or a predicate',
    );
  }
  if (picked.size === names.length) fail('train', `frozen covers every parameter (${list}); leave at least one to train`, 'every parameter frozen', 'at least one parameter to train');
  return picked;
}

/** The graph `train` compiles; built once, when `train` is called. */
interface TrainingGraph {
  readonly built: BuiltModel;
  readonly classes: number;
  /** The loss, the logits, the gradient of each trainable parameter (in `trainable` order), then each statistic's next value (in `built.stats` order). */
  readonly outputs: readonly Tensor[];
  /** The parameters the optimizer changes. */
  readonly trainable: readonly string[];
  /** Whether any parameter is frozen. */
  readonly someFrozen: boolean;
  /** Whether the loss reads the labels (a custom loss need not, and an unread input cannot be fed). */
  readonly readsLabels: boolean;
}

function buildTrainingGraph(model: Model, batchSize: number, lossFn: LossFunction | undefined, frozen: FrozenParams | undefined): TrainingGraph {
  const built = buildModel(model, { batchSize, training: true });
  const classes = classesOf('train', model, built.output, batchSize);
  const names = built.params.map((p) => p.name);
  const skip = frozenNames(frozen, names);
  const labels = input(LABELS_INPUT, [batchSize]);
  const loss = lossFn
    ? customLoss(lossFn, built, labels, {
        batchSize,
        classes,
        params: Object.freeze(Object.fromEntries(names.map((n, i) => [n, built.paramTensors[i]]))),
      })
    : softmaxCrossEntropy(built.output, labels);
  // Frozen parameters are not asked for, so no node of their gradient is built.
  const trainableAt = names.flatMap((n, i) => (skip.has(n) ? [] : [i]));
  const grads = grad(loss, trainableAt.map((i) => built.paramTensors[i]));
  const readsLabels = topologicalOrder([loss]).some((t) => t.op === 'input' && (t as Tensor<'input'>).attrs.name === LABELS_INPUT);
  return {
    built,
    classes,
    outputs: [loss, built.output, ...grads, ...built.statUpdates],
    trainable: trainableAt.map((i) => names[i]),
    someFrozen: skip.size > 0,
    readsLabels,
  };
}

/** Refuse `threads` above 1 where it cannot run, naming why. */
function checkThreads(threads: number, batchSize: number, backend: BackendName): void {
  if (threads > MAX_THREADS) fail('train', `threads must be at most ${MAX_THREADS}, got ${threads}`, `threads ${threads}`, `at most ${MAX_THREADS}`);
  if (!(PARALLEL_BACKENDS as readonly string[]).includes(backend)) {
    const list = PARALLEL_BACKENDS.map((b) => `"${b}"`).join(' or ');
    fail(
      'train',
      `threads ${threads} needs backend ${list}, got ${JSON.stringify(backend)}: each thread runs its own one-thread pipeline`,
      `threads ${threads} with backend ${JSON.stringify(backend)}`,
      `backend ${list}, or threads 1`,
    );
  }
  if (batchSize % threads !== 0) {
    fail('train', `batchSize ${batchSize} does not split into ${threads} equal parts; use a multiple of threads`, `batchSize ${batchSize} with threads ${threads}`, `a multiple of ${threads}`);
  }
  const unavailable = parallelUnavailable();
  if (unavailable) fail('train', unavailable, `threads ${threads} without worker threads`, 'threads 1 here');
}

/**
 * The training graph of one part run on `threads` parts (parallel.ts): the
 * batch's images, labels and dropout masks cut along the batch; the loss,
 * the gradients and the statistics' next values averaged, the logits
 * concatenated.
 */
function compileParts(graph: TrainingGraph, backend: ParallelBackend, threads: number): CompiledFunction {
  const split = [graph.built.input.attrs.name, ...(graph.readsLabels ? [LABELS_INPUT] : []), ...graph.built.masks.map((m) => m.name)];
  const combine: Combine[] = graph.outputs.map((_, i) => (i === 1 ? 'concat' : 'mean'));
  return compileParallel(graph.outputs, { backend, threads, split, combine });
}

/** The custom loss of the built model, checked: a scalar that reads only what train feeds. */
function customLoss(lossFn: LossFunction, built: BuiltModel, labels: Tensor<'input'>, context: LossContext): Tensor {
  const loss: unknown = lossFn(built.output, labels, context);
  if (!(loss instanceof Tensor)) {
    fail('train', `the loss function must return a Tensor (a scalar built from the logits and labels), got ${describeValue(loss)}`, describeValue(loss), 'a scalar Tensor');
  }
  if (sizeOf(loss.shape) !== 1) {
    fail(
      'train',
      `the loss function must return a scalar (one element), got shape ${shapeToString(loss.shape)}; reduce it, e.g. with mean(...)`,
      `shape ${shapeToString(loss.shape)}`,
      'a scalar (one element)',
    );
  }
  const fed = new Set([built.input.attrs.name, LABELS_INPUT, ...built.params.map((p) => p.name), ...built.masks.map((m) => m.name), ...built.stats.map((st) => st.name)]);
  for (const t of topologicalOrder([loss])) {
    const name = t.op === 'input' ? (t as Tensor<'input'>).attrs.name : null;
    if (name !== null && !fed.has(name)) {
      fail(
        'train',
        `the loss reads an input "${name}" that train does not feed; build it from the logits, the labels, the parameters and constants`,
        `input "${name}"`,
        'a loss built from the logits, the labels, the parameters and constants',
      );
    }
  }
  return loss;
}

/** The entries of `params` named in `names`. */
function pick(params: Params, names: readonly string[]): Params {
  return Object.fromEntries(names.map((n) => [n, params[n]]));
}

/**
 * Train `model` on `data`; see the file comment.
 *
 * Errors come two ways. `train` itself throws, synchronously, when the
 * options are wrong: a bad count, seed or option, data that does not fit the
 * model (image size, a label out of range, a pixel that is not finite: the
 * whole data set is checked up front), a model whose graph cannot be built or
 * has no `[N, classes]` output, a `loss` that is not a scalar, a `frozen`
 * entry that matches no parameter, `initial` parameters of the wrong shapes.
 * Everything that can only go wrong while training runs arrives through the
 * Observable's error channel: the backend (unavailable, failing to compile
 * or run), a non-finite loss or parameter, an error of the optimizer or of
 * `onEpochEnd`, a `transform` that fails or emits a wrong batch.
 */
export function train(options: TrainOptions): Observable<TrainEvent> {
  const { model, data, optimizer, onEpochEnd, transform } = options;
  if (!model || typeof model.forward !== 'function') fail('train', 'model must be a Model (e.g. lenet5())', describeValue(model), 'a Model');
  if (!optimizer || typeof optimizer.step !== 'function') {
    fail('train', 'optimizer must be an Optimizer (e.g. adam() or sgd({ lr }))', describeValue(optimizer), 'an Optimizer');
  }
  const epochs = positiveInt('epochs', options.epochs);
  const batchSize = positiveInt('batchSize', options.batchSize);
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed)) fail('train', `seed must be a safe integer, got ${JSON.stringify(seed)}`, `seed ${JSON.stringify(seed) ?? describeValue(seed)}`, 'a safe integer');
  const backend = options.backend ?? DEFAULT_BACKEND;
  const threads = options.threads === undefined ? 1 : positiveInt('threads', options.threads);
  if (threads > 1) checkThreads(threads, batchSize, backend);
  if (options.loss !== undefined && typeof options.loss !== 'function') {
    fail('train', `loss must be a function (logits, labels, context) => scalar Tensor, got ${describeValue(options.loss)}`, describeValue(options.loss), 'a function');
  }
  if (transform !== undefined && typeof transform !== 'function') {
    fail('train', `transform must be an RxJS operator on batches (e.g. map((batch) => ...)), got ${describeValue(transform)}`, describeValue(transform), 'an RxJS operator');
  }
  const snapshotEvery = snapshotInterval(options.snapshots);
  checkDataset('train', 'data.train', model, data?.train);
  if (data.test !== undefined) checkDataset('train', 'data.test', model, data.test);
  let trainSet = data.train;
  if (options.limit !== undefined) {
    const limit = positiveInt('limit', options.limit);
    if (limit > trainSet.count) {
      fail('train', `limit ${limit} is more than the ${trainSet.count} training examples`, `limit ${limit}`, `at most ${trainSet.count}`);
    }
    trainSet = sliceDataset(trainSet, limit);
  }
  if (batchSize > trainSet.count) {
    fail(
      'train',
      `batchSize ${batchSize} is more than the ${trainSet.count} training examples; lower the batch size or train on more examples`,
      `batchSize ${batchSize}`,
      `at most ${trainSet.count}`,
    );
  }
  const testSet = data.test && data.test.count > 0 && (options.evaluate ?? true) ? data.test : null;
  if (options.evaluate === true && testSet === null) {
    fail('train', 'evaluate is true but data.test is missing or empty', 'no test examples', 'data.test with examples');
  }
  const evalBatchSize = testSet ? Math.min(positiveInt('evalBatchSize', options.evalBatchSize ?? 500), testSet.count) : 0;
  const initial = options.initial;
  const firstEpoch = initial?.epoch ?? 0;
  if (!Number.isInteger(firstEpoch) || firstEpoch < 0) {
    fail('train', `initial.epoch must be a whole number, got ${JSON.stringify(firstEpoch)}`, `initial.epoch ${JSON.stringify(firstEpoch)}`, 'a whole number');
  }
  const stepsPerEpoch = Math.floor(trainSet.count / batchSize);
  // A state saved inside an epoch (a paused run) resumes at its next batch:
  // initial.step counts every step taken, initial.epoch the finished epochs.
  const initialStep = initial?.step ?? firstEpoch * stepsPerEpoch;
  const doneInEpoch = initialStep - firstEpoch * stepsPerEpoch;
  if (!Number.isInteger(initialStep) || doneInEpoch < 0 || doneInEpoch >= stepsPerEpoch) {
    fail(
      'train',
      `initial.step ${JSON.stringify(initial?.step)} does not fall in epoch ${firstEpoch + 1} ` +
        `(steps ${firstEpoch * stepsPerEpoch}..${(firstEpoch + 1) * stepsPerEpoch - 1} with ${stepsPerEpoch} steps per epoch)`,
      `initial.step ${JSON.stringify(initial?.step)}`,
      `a step in ${firstEpoch * stepsPerEpoch}..${(firstEpoch + 1) * stepsPerEpoch - 1}`,
    );
  }

  const graph = buildTrainingGraph(model, batchSize / threads, options.loss, options.frozen);
  const { built, classes, trainable } = graph;
  checkExamples('train', 'data.train', model, trainSet, classes);
  if (testSet) checkExamples('train', 'data.test', model, testSet, classes);
  if (initial !== undefined) {
    if (!initial.params || typeof initial.params !== 'object') {
      fail('train', `initial.params must be a Params record, got ${describeValue(initial.params)}`, describeValue(initial.params), 'a Params record');
    }
    for (const p of built.params) {
      const v = initial.params[p.name];
      if (v === undefined) fail('train', `the initial parameters have no "${p.name}"`, `no "${p.name}"`, `a value for "${p.name}" ${shapeToString(p.shape)}`);
      if (!sameShape(v.shape, p.shape)) {
        fail(
          'train',
          `initial parameter "${p.name}" has shape ${shapeToString(v.shape)} but the model needs ${shapeToString(p.shape)}`,
          `"${p.name}" ${shapeToString(v.shape)}`,
          `"${p.name}" ${shapeToString(p.shape)}`,
        );
      }
    }
  }
  if (initial?.stats !== undefined) checkStats('train', 'initial.stats', initial.stats, built.stats);
  const names = built.params.map((p) => p.name);
  // With parameters frozen, the optimizer sees (and keeps slots for) only the trainable ones.
  const forOptimizer = (params: Params): Params => (graph.someFrozen ? pick(params, trainable) : params);

  return new Observable<TrainEvent>((subscriber) => {
    let unsubscribed = false;
    const stopped = (): boolean => unsubscribed || subscriber.closed;
    const resources: unknown[] = [];
    const transformer = transform ? new BatchTransformer(transform, { batchSize, sampleSize: sizeOf(model.inputShape), classes }) : null;

    const loop = async (): Promise<void> => {
      const runStart = now();
      // Compile once.
      const trainFn = threads > 1 ? compileParts(graph, backend as ParallelBackend, threads) : compile(graph.outputs, { backend });
      resources.push(trainFn);
      const evaluator = testSet ? new Evaluator(model, evalBatchSize, backend, null, threads) : null;
      const statStart = 2 + trainable.length;
      if (evaluator) resources.push(evaluator);

      const params = initial?.params ?? initParams(model, seed);
      let state: TrainState = freeze(
        {
          params,
          optimizer: initial?.optimizer ?? optimizer.init(forOptimizer(params)),
          stats: initial?.stats ?? (built.stats.length > 0 ? initStats(model) : NO_STATS),
          epoch: firstEpoch,
          step: initialStep,
        },
        true,
      );
      const totalSteps = (firstEpoch + epochs) * stepsPerEpoch;
      let lastTestAccuracy: number | null = null;

      for (let e = firstEpoch; e < firstEpoch + epochs; e++) {
        const epochStart = now();
        let lossSum = 0;
        let correctSum = 0;
        // Batches of a resumed epoch that were already trained on are skipped;
        // the epoch's train loss and accuracy then cover the rest of it.
        let skip = e === firstEpoch ? doneInEpoch : 0;
        let steps = skip;
        let counted = 0;
        const drawn = batches(trainSet, { batchSize, shuffle: true, seed, epoch: e, dropLast: true })[Symbol.iterator]();
        for (; skip > 0; skip--) drawn.next();
        // The batch of `step`, transformed. The next one's transform starts
        // before this step runs, so that an asynchronous transform (augment's
        // workers) works beside the step; each batch's transform depends on
        // that batch alone (transform.ts), so the order changes nothing else.
        const transformed = (step: number): Promise<Batch | null> | null => {
          const next = drawn.next();
          if (next.done) return null;
          if (!transformer) return Promise.resolve(next.value);
          const pending = transformer.run(next.value, `epoch ${e + 1}, step ${step}`);
          // Awaited after the step; a failure meanwhile is not unhandled.
          pending.catch(() => undefined);
          return pending;
        };
        let ahead = stopped() ? null : transformed(steps + 1);
        while (ahead !== null) {
          if (stopped()) return;
          const step = steps + 1;
          const batch = await ahead;
          if (batch === null || stopped()) return;
          ahead = transformed(step + 1);
          const labels = Float32Array.from(batch.labels);
          const feeds: Record<string, FeedValue> = { ...paramFeeds('train', state.params, names), ...statFeeds(state.stats, built.stats), x: batch.images };
          if (graph.readsLabels) feeds[LABELS_INPUT] = labels;
          if (built.masks.length > 0) {
            const rng = createRng(mixSeed(mixSeed(seed, DROPOUT_STREAM), state.step));
            // Masks of the whole batch (with threads, the graph's are a part's).
            for (const m of built.masks) feeds[m.name] = dropoutMask([m.shape[0] * threads, ...m.shape.slice(1)], m.rate, rng);
          }
          const out = await trainFn.run(feeds);
          if (stopped()) return;
          const lossValue = out[0].data[0];
          if (!Number.isFinite(lossValue)) {
            fail('train', `loss became ${lossValue} at epoch ${e + 1}, step ${step}; lower the learning rate`, `loss ${lossValue}`, 'a finite loss');
          }
          const correct = countCorrect(out[1].data, labels, batchSize, classes);
          const gradients: Record<string, ArrayLike<number>> = {};
          trainable.forEach((name, i) => (gradients[name] = out[2 + i].data));
          const next = optimizer.step(forOptimizer(state.params), gradients, state.optimizer, { epoch: e, stepsPerEpoch, totalSteps });
          const bad = findNonFinite(next.params);
          if (bad) {
            fail(
              'train',
              `parameter "${bad.name}" became ${bad.value} at epoch ${e + 1}, step ${step} (loss ${lossValue}); lower the learning rate`,
              `"${bad.name}" ${bad.value}`,
              'finite parameters',
            );
          }
          // The statistics' next values, copied out of the backend's buffers.
          const stats = built.stats.length === 0 ? state.stats : nextStats(built.stats, out.slice(statStart), e + 1, step);
          state = produce(state, (d) => {
            // Frozen parameters stay in the record by identity.
            d.params = castDraft(graph.someFrozen ? { ...state.params, ...next.params } : next.params);
            d.stats = castDraft(stats);
            d.optimizer = castDraft(next.state);
            d.step += 1;
          });
          steps = step;
          counted++;
          lossSum += lossValue;
          correctSum += correct;
          const seconds = (now() - epochStart) / 1000;
          subscriber.next(
            Object.freeze({
              type: 'step',
              epoch: e + 1,
              step,
              loss: lossValue,
              accuracy: correct / batchSize,
              imagesPerSecond: seconds > 0 ? (counted * batchSize) / seconds : 0,
              ...(snapshotEvery > 0 && state.step % snapshotEvery === 0 ? { state } : {}),
            }),
          );
          await yieldToEventLoop();
        }
        if (stopped()) return;
        let testLoss: number | null = null;
        let testAccuracy: number | null = null;
        if (evaluator && testSet) {
          const r = await evaluator.run(state.params, testSet, stopped, yieldToEventLoop, state.stats);
          if (r === null || stopped()) return;
          testLoss = r.loss;
          testAccuracy = r.accuracy;
        }
        state = produce(state, (d) => {
          d.epoch = e + 1;
        });
        const event: EpochEvent = Object.freeze({
          type: 'epoch',
          epoch: e + 1,
          trainLoss: lossSum / counted,
          trainAccuracy: correctSum / (counted * batchSize),
          testLoss,
          testAccuracy,
          seconds: (now() - epochStart) / 1000,
        });
        if (onEpochEnd) await onEpochEnd(state, event);
        if (stopped()) return;
        subscriber.next(event);
        lastTestAccuracy = testAccuracy;
      }
      const done: DoneEvent = Object.freeze({
        type: 'done',
        state,
        testAccuracy: lastTestAccuracy,
        seconds: (now() - runStart) / 1000,
      });
      // Free the compiled graphs before the consumer hears that training is over.
      await disposeAll();
      subscriber.next(done);
      subscriber.complete();
    };

    /** Dispose every compiled graph once (later calls find nothing left); rethrows the first failure. */
    const disposeAll = async (): Promise<void> => {
      const failures: unknown[] = [];
      for (const r of resources.splice(0)) {
        try {
          await (r instanceof Evaluator ? r.dispose() : disposeCompiled(r));
        } catch (err) {
          failures.push(err);
        }
      }
      if (failures.length > 0) throw failures[0];
    };

    loop().then(
      // Ended: completed, or stopped by an unsubscribe (then disposal is all that is left).
      () => disposeAll().catch((err: unknown) => subscriber.error(err)),
      async (err: unknown) => {
        // The training error is the one to report, not a disposal failure after it.
        await disposeAll().catch(() => undefined);
        subscriber.error(err);
      },
    );

    return () => {
      unsubscribed = true;
      // A transform still working on a batch is torn down; the loop then ends and disposes.
      transformer?.stop();
    };
  });
}
