/**
 * Training as a cold RxJS Observable.
 *
 * Subscribing builds and compiles two graphs once, the training graph (mean
 * softmax cross-entropy, the logits, and the gradient of the loss with
 * respect to every parameter) and the evaluation graph, then runs mini-batch
 * steps: feed the batch and the current parameters, read the loss, logits and
 * gradients back, and let the optimizer make the next, immutable, state.
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
 *   e from (seed, e), the dropout masks of step t from (seed, t).
 * - Unsubscribing stops training before the next step (or the next evaluation
 *   batch) and disposes the compiled graphs: the loop checks a flag between
 *   steps and yields to the event loop after each, so an unsubscribe from a
 *   timer, an I/O callback or a signal handler lands there.
 * - A non-finite loss (or parameter) ends the stream with an error that names
 *   the epoch and step.
 * - Every epoch ends with an evaluation on `data.test` (when given).
 * - The training graph has a fixed batch size: each epoch uses
 *   ⌊count / batchSize⌋ full batches of a fresh shuffle; the few examples left
 *   over differ from epoch to epoch.
 */
import { castDraft, freeze, produce } from 'immer';
import { Observable } from 'rxjs';
import type { Dataset } from '../data/batches.js';
import { batches } from '../data/batches.js';
import { createRng, mixSeed } from '../data/random.js';
import { grad } from '../autodiff/grad.js';
import { compile, type BackendName } from '../backend/compile.js';
import type { FeedValue } from '../backend/feeds.js';
import { sameShape } from '../graph/shape.js';
import { shapeToString } from '../graph/tensor.js';
import { input } from '../ops/input.js';
import { softmaxCrossEntropy } from '../ops/softmaxCrossEntropy.js';
import { dropoutMask } from '../nn/layers.js';
import { buildModel, initParams, type Model } from '../nn/model.js';
import { findNonFinite, type Params } from '../nn/params.js';
import { DEFAULT_BACKEND } from './defaults.js';
import { checkDataset, classesOf, countCorrect, disposeCompiled, Evaluator, LABELS_INPUT, paramFeeds } from './evaluate.js';
import type { Optimizer, OptimizerState } from './optimizers.js';

/**
 * Everything a run has learned, as one frozen record: parameters, optimizer
 * state, non-trainable statistics, and how far it got. Replaced after every
 * step, never mutated; entries a step leaves alone are shared by identity.
 */
export interface TrainState {
  readonly params: Params;
  readonly optimizer: OptimizerState;
  /**
   * Non-trainable values by graph input name (e.g. a batch-norm layer's
   * running mean and variance), of the same form as `params` but never given
   * to the optimizer. No layer keeps statistics yet, so this is empty; train
   * carries it from `initial.stats` to every state it emits untouched.
   */
  readonly stats: Params;
  /** Epochs completed. */
  readonly epoch: number;
  /** Steps (updates) completed, over all epochs. */
  readonly step: number;
}

/** After every training step. `epoch` counts from 1; `step` counts from 1 within the epoch. */
export interface StepEvent {
  readonly type: 'step';
  readonly epoch: number;
  readonly step: number;
  /** Mean cross-entropy of this batch (before the update). */
  readonly loss: number;
  /** Fraction of this batch classified correctly (before the update). */
  readonly accuracy: number;
  /** Training images per second, averaged over the epoch so far. */
  readonly imagesPerSecond: number;
}

/** After every epoch and its evaluation. Test numbers are null without test data or with `evaluate: false`. */
export interface EpochEvent {
  readonly type: 'epoch';
  readonly epoch: number;
  /** Means of the epoch's step losses and accuracies. */
  readonly trainLoss: number;
  readonly trainAccuracy: number;
  readonly testLoss: number | null;
  readonly testAccuracy: number | null;
  /** Wall time of the epoch, evaluation included. */
  readonly seconds: number;
}

/** The last event: the final state, the last test accuracy, and the wall time of the whole run. */
export interface DoneEvent {
  readonly type: 'done';
  readonly state: TrainState;
  readonly testAccuracy: number | null;
  readonly seconds: number;
}

export type TrainEvent = StepEvent | EpochEvent | DoneEvent;

export interface TrainData {
  readonly train: Dataset;
  readonly test?: Dataset;
}

export interface TrainOptions {
  model: Model;
  data: TrainData;
  optimizer: Optimizer;
  epochs: number;
  batchSize: number;
  /** Default `DEFAULT_BACKEND`. */
  backend?: BackendName;
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
  initial?: { params: Params; optimizer?: OptimizerState; stats?: Params; epoch?: number; step?: number };
  /**
   * Called with the state after each epoch, before the epoch event is
   * emitted, and awaited (e.g. to save a checkpoint). An error ends the stream.
   */
  onEpochEnd?: (state: TrainState, event: EpochEvent) => void | Promise<void>;
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
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`train: ${what} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function sliceDataset(data: Dataset, count: number): Dataset {
  const per = data.count === 0 ? 0 : data.images.length / data.count;
  return { images: data.images.subarray(0, count * per), labels: data.labels.subarray(0, count), count };
}

const NO_STATS: Params = Object.freeze({});

/** Train `model` on `data`; see the file comment. Options are checked when `train` is called. */
export function train(options: TrainOptions): Observable<TrainEvent> {
  const { model, data, optimizer, onEpochEnd } = options;
  if (!model || typeof model.forward !== 'function') throw new Error('train: model must be a Model (e.g. lenet5())');
  if (!optimizer || typeof optimizer.step !== 'function') throw new Error('train: optimizer must be an Optimizer (e.g. adam() or sgd({ lr }))');
  const epochs = positiveInt('epochs', options.epochs);
  const batchSize = positiveInt('batchSize', options.batchSize);
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new Error(`train: seed must be a safe integer, got ${JSON.stringify(seed)}`);
  const backend = options.backend ?? DEFAULT_BACKEND;
  checkDataset('train', 'data.train', model, data?.train);
  if (data.test !== undefined) checkDataset('train', 'data.test', model, data.test);
  let trainSet = data.train;
  if (options.limit !== undefined) {
    const limit = positiveInt('limit', options.limit);
    if (limit > trainSet.count) throw new Error(`train: limit ${limit} is more than the ${trainSet.count} training examples`);
    trainSet = sliceDataset(trainSet, limit);
  }
  if (batchSize > trainSet.count) {
    throw new Error(`train: batchSize ${batchSize} is more than the ${trainSet.count} training examples; lower the batch size or train on more examples`);
  }
  const testSet = data.test && data.test.count > 0 && (options.evaluate ?? true) ? data.test : null;
  if (options.evaluate === true && testSet === null) throw new Error('train: evaluate is true but data.test is missing or empty');
  const evalBatchSize = testSet ? Math.min(positiveInt('evalBatchSize', options.evalBatchSize ?? 500), testSet.count) : 0;
  const initial = options.initial;
  const firstEpoch = initial?.epoch ?? 0;
  if (!Number.isInteger(firstEpoch) || firstEpoch < 0) throw new Error(`train: initial.epoch must be a whole number, got ${JSON.stringify(firstEpoch)}`);
  const stepsPerEpoch = Math.floor(trainSet.count / batchSize);
  // A state saved inside an epoch (a paused run) resumes at its next batch:
  // initial.step counts every step taken, initial.epoch the finished epochs.
  const initialStep = initial?.step ?? firstEpoch * stepsPerEpoch;
  const doneInEpoch = initialStep - firstEpoch * stepsPerEpoch;
  if (!Number.isInteger(initialStep) || doneInEpoch < 0 || doneInEpoch >= stepsPerEpoch) {
    throw new Error(
      `train: initial.step ${JSON.stringify(initial?.step)} does not fall in epoch ${firstEpoch + 1} ` +
        `(steps ${firstEpoch * stepsPerEpoch}..${(firstEpoch + 1) * stepsPerEpoch - 1} with ${stepsPerEpoch} steps per epoch)`,
    );
  }

  return new Observable<TrainEvent>((subscriber) => {
    let unsubscribed = false;
    const stopped = (): boolean => unsubscribed || subscriber.closed;
    const resources: unknown[] = [];

    const loop = async (): Promise<void> => {
      const runStart = now();
      // Build and compile once.
      const built = buildModel(model, { batchSize, training: true });
      const classes = classesOf('train', model, built.output, batchSize);
      const labelsInput = input(LABELS_INPUT, [batchSize]);
      const loss = softmaxCrossEntropy(built.output, labelsInput);
      const grads = grad(loss, built.paramTensors);
      const trainFn = compile([loss, built.output, ...grads], { backend });
      resources.push(trainFn);
      const evaluator = testSet ? new Evaluator(model, evalBatchSize, backend) : null;
      if (evaluator) resources.push(evaluator);
      const names = built.params.map((p) => p.name);

      const params = initial?.params ?? initParams(model, seed);
      for (const p of built.params) {
        const v = params[p.name];
        if (v === undefined) throw new Error(`train: the initial parameters have no "${p.name}"`);
        if (!sameShape(v.shape, p.shape)) {
          throw new Error(`train: initial parameter "${p.name}" has shape ${shapeToString(v.shape)} but the model needs ${shapeToString(p.shape)}`);
        }
      }
      let state: TrainState = freeze(
        { params, optimizer: initial?.optimizer ?? optimizer.init(params), stats: initial?.stats ?? NO_STATS, epoch: firstEpoch, step: initialStep },
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
        for (const batch of batches(trainSet, { batchSize, shuffle: true, seed, epoch: e, dropLast: true })) {
          if (stopped()) return;
          if (skip > 0) {
            skip--;
            continue;
          }
          const step = steps + 1;
          const labels = Float32Array.from(batch.labels);
          const feeds: Record<string, FeedValue> = { ...paramFeeds(state.params, names), x: batch.images, [LABELS_INPUT]: labels };
          if (built.masks.length > 0) {
            const rng = createRng(mixSeed(mixSeed(seed, DROPOUT_STREAM), state.step));
            for (const m of built.masks) feeds[m.name] = dropoutMask(m.shape, m.rate, rng);
          }
          const out = await trainFn.run(feeds);
          if (stopped()) return;
          const lossValue = out[0].data[0];
          if (!Number.isFinite(lossValue)) {
            throw new Error(`train: loss became ${lossValue} at epoch ${e + 1}, step ${step}; lower the learning rate`);
          }
          const correct = countCorrect(out[1].data, labels, batchSize, classes);
          const gradients: Record<string, ArrayLike<number>> = {};
          names.forEach((name, i) => (gradients[name] = out[2 + i].data));
          const next = optimizer.step(state.params, gradients, state.optimizer, { epoch: e, stepsPerEpoch, totalSteps });
          const bad = findNonFinite(next.params);
          if (bad) {
            throw new Error(
              `train: parameter "${bad.name}" became ${bad.value} at epoch ${e + 1}, step ${step} (loss ${lossValue}); lower the learning rate`,
            );
          }
          state = produce(state, (d) => {
            d.params = castDraft(next.params);
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
            }),
          );
          await yieldToEventLoop();
        }
        if (stopped()) return;
        let testLoss: number | null = null;
        let testAccuracy: number | null = null;
        if (evaluator && testSet) {
          const r = await evaluator.run(state.params, testSet, stopped, yieldToEventLoop);
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
    };
  });
}
