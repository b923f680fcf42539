/**
 * Training a Neocognitron without backpropagation, stage by stage, as a cold
 * RxJS Observable; and its nearest-prototype classifier.
 *
 * The forward passes run as compiled graphs (src/nn/neocognitron.ts) on the
 * chosen backend; the learning rule's bookkeeping runs on the host in float64.
 * Stage l learns after stages 0..l-1 are fixed (Fukushima 1980, §3; the
 * formulas are in the header of src/nn/neocognitron.ts). Per batch:
 *
 * 1. Competition. In one image's S-layer, an S-cell (k, n) is a candidate when
 *    it fires (u_S > 0) and is the strongest of every plane k' at every
 *    position n' of its neighbourhood |n' − n|∞ ≤ radius (the S-column
 *    across planes, widened so that one local feature is not learned by two
 *    planes). Ties go to the lower plane, then to the earlier position in
 *    row-major order. Among one plane's candidates, the strongest is the
 *    plane's representative (ties: the earlier position); only
 *    representatives learn.
 * 2. Hebbian reinforcement (1980, eqs. 7-8): for the representative of plane
 *    k̂ at n̂,  Δa(κ, ν, k̂) = q · c(ν) · u_C(κ, n̂+ν),  Δb(k̂) = q · v_C(n̂).
 *    (input × output with the output taken as the winner's 1.) After one
 *    update from zero, b = sqrt(Σ a²/c) exactly; later ones keep it close.
 * 3. Add-if-silent (option, Fukushima 2013 §2.2): where every S-cell of an
 *    image is silent and the input energy v_C exceeds `minEnergy`, the
 *    strongest such position (largest v_C) seeds a new plane with the update
 *    of step 2 applied to zero weights, while the stage has room. Planes
 *    created earlier in the same batch are checked on the host first, so one
 *    batch does not create the same plane twice.
 *
 * Updates of a batch are summed and applied after it (with batchSize 1 this
 * is the paper's one pattern at a time). Without add-if-silent every plane
 * starts from small positive random a and b = 0 (1980) and all planes compete.
 *
 * The classifier (Fukushima 2013 uses an interpolating-vector rule; we use its
 * simpler precursor): the top C-layer of each training image, flattened and
 * scaled to unit length, is a labelled prototype — all of them, one mean per
 * class, or (default) those the prototypes chosen so far misclassify, in one
 * pass. An image takes the label of the prototype of largest cosine.
 */
import { freeze } from 'immer';
import { Observable } from 'rxjs';
import { compile, type BackendName, type CompiledFunction } from '../backend/compile.js';
import type { Dataset } from '../data/batches.js';
import { batches } from '../data/batches.js';
import { createRng } from '../data/random.js';
import { describeValue, fail } from '../graph/error.js';
import { sizeOf, type Tensor } from '../graph/tensor.js';
import {
  inhibitoryWeights,
  inputWindow,
  neocognitronGraph,
  neocognitronShapes,
  sCell,
  stageGraph,
  stageInputNames,
  stateFeeds,
  type NeocognitronClassifier,
  type NeocognitronModel,
  type NeocognitronStageState,
  type NeocognitronState,
} from '../nn/neocognitron.js';
import { tensorValue } from '../nn/params.js';
import { input } from '../ops/input.js';
import { checkOptions, showValue } from '../nn/spec.js';
import { disposeCompiled } from './evaluate.js';

// ---------------------------------------------------------------------------
// The competitive Hebbian rule, on one image (float64, host)

/** An S-cell that won its neighbourhood and represents its plane. */
export interface Winner {
  /** Its plane. */
  readonly plane: number;
  /** Its row in the S-layer. */
  readonly y: number;
  /** Its column in the S-layer. */
  readonly x: number;
  /** Its response u_S. */
  readonly value: number;
}

/**
 * Each plane's representative in one image's S-layer `s` ([K, H, W]
 * row-major, planes ≥ `planes` ignored): see step 1 of the file comment.
 * Sorted by plane.
 */
export function selectWinners(s: ArrayLike<number>, shape: readonly [number, number, number], radius: number, planes = shape[0]): Winner[] {
  const [, h, w] = shape;
  const hw = h * w;
  // The best cell of each column (position), across planes: the largest
  // value, the lower plane on a tie. A cell beats every cell of another
  // column iff it beats that column's best (the order is total: value, then
  // plane, then position), so a candidate is its column's best that beats
  // the best of each column of its neighbourhood; O(K·H·W + H·W·(2r+1)²).
  const bestValue = new Float64Array(hw).fill(-Infinity);
  const bestPlane = new Int32Array(hw).fill(-1);
  for (let k = 0; k < planes; k++) {
    const base = k * hw;
    for (let p = 0; p < hw; p++) {
      const u = s[base + p];
      if (u > bestValue[p]) {
        bestValue[p] = u;
        bestPlane[p] = k;
      }
    }
  }
  const best: (Winner | null)[] = new Array(planes).fill(null);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const me = y * w + x;
      const u = bestValue[me];
      if (!(u > 0)) continue;
      const k = bestPlane[me];
      let wins = true;
      for (let yy = Math.max(0, y - radius); yy <= Math.min(h - 1, y + radius) && wins; yy++) {
        for (let xx = Math.max(0, x - radius); xx <= Math.min(w - 1, x + radius); xx++) {
          const at = yy * w + xx;
          if (at === me) continue;
          const o = bestValue[at];
          // Equal: the lower plane wins, then the earlier position within a plane.
          if (o > u || (o === u && (bestPlane[at] < k || (bestPlane[at] === k && at < me)))) {
            wins = false;
            break;
          }
        }
      }
      if (!wins) continue;
      const cur = best[k];
      if (cur === null || u > cur.value) best[k] = { plane: k, y, x, value: u };
    }
  }
  return best.filter((b): b is Winner => b !== null);
}

/** What one stage's learning rule works with for one image. */
export interface CompetitionInput {
  /** u_S of the image, [K, H, W] row-major (K the stage's room for planes). */
  readonly s: ArrayLike<number>;
  /** [K, H, W]. */
  readonly sShape: readonly [number, number, number];
  /** v_C at each S position, [H, W]. */
  readonly v: ArrayLike<number>;
  /** u_C of the layer below, [K', H', W'] row-major. */
  readonly below: ArrayLike<number>;
  /** [K', H', W']. */
  readonly belowShape: readonly [number, number, number];
  /** The S-cells' window side. */
  readonly window: number;
  /** The S-layer's padding. */
  readonly padding: 'same' | 'valid';
  /** Neighbourhood radius of the competition. */
  readonly radius: number;
  /** Learning rate q. */
  readonly q: number;
}

/**
 * One image's competitive Hebbian update, added into `da` ([K, K', w, w]) and
 * `db` ([K]): the representatives of the first `planes` planes learn (steps
 * 1-2 of the file comment). Returns the winners.
 */
export function competitiveUpdate(img: CompetitionInput, planes: number, c: ArrayLike<number>, da: Float64Array, db: Float64Array): Winner[] {
  const winners = selectWinners(img.s, img.sShape, img.radius, planes);
  const size = c.length;
  for (const win of winners) {
    const u = inputWindow(img.below, img.belowShape, win.y, win.x, img.window, img.padding);
    const base = win.plane * size;
    for (let i = 0; i < size; i++) da[base + i] += img.q * c[i] * u[i];
    db[win.plane] += img.q * img.v[win.y * img.sShape[2] + win.x];
  }
  return winners;
}

/**
 * The position where add-if-silent would seed a plane: every S-cell there is
 * silent (also those of `extra` planes given as host weights), v_C > minEnergy,
 * and v_C is largest (ties: the earlier position); null when there is none.
 */
export function silentPosition(
  img: CompetitionInput,
  c: ArrayLike<number>,
  minEnergy: number,
  r: number,
  extra: readonly { a: Float64Array; b: number }[] = [],
): { y: number; x: number; v: number } | null {
  const [k, h, w] = img.sShape;
  const order: { y: number; x: number; v: number }[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = img.v[y * w + x];
      if (!(v > minEnergy)) continue;
      let silent = true;
      for (let p = 0; p < k && silent; p++) if (img.s[(p * h + y) * w + x] > 0) silent = false;
      if (silent) order.push({ y, x, v });
    }
  }
  order.sort((p, q) => q.v - p.v || p.y - q.y || p.x - q.x);
  for (const pos of order) {
    if (extra.length === 0) return pos;
    const u = inputWindow(img.below, img.belowShape, pos.y, pos.x, img.window, img.padding);
    if (extra.every((e) => sCell(u, e.a, e.b, c, r) === 0)) return pos;
  }
  return null;
}

// ---------------------------------------------------------------------------
// Events and options

/** After every batch of a stage's training. */
export interface NeocognitronStepEvent {
  /** Always 'step'. */
  readonly type: 'step';
  /** The stage learning, from 0. */
  readonly stage: number;
  /** The epoch of this stage, from 1. */
  readonly epoch: number;
  /** The batch within the epoch, from 1. */
  readonly step: number;
  /** Planes the stage holds after this batch. */
  readonly planes: number;
  /** Planes created by add-if-silent in this batch. */
  readonly added: number;
  /** How many images' representatives each plane had in this batch (length `planes`). */
  readonly winners: readonly number[];
  /** Euclidean norm of this batch's change of the stage's a (new planes included). */
  readonly weightChange: number;
}

/** After a stage has finished learning. */
export interface NeocognitronStageEvent {
  /** Always 'stage'. */
  readonly type: 'stage';
  /** The stage, from 0. */
  readonly stage: number;
  /** Its planes. */
  readonly planes: number;
  /** The state so far (this stage's weights included, no classifier yet). */
  readonly state: NeocognitronState;
}

/** After each presentation of the training vectors to the classifier ('intvec' and 'misclassified'; one event for the other rules). */
export interface NeocognitronClassifierEvent {
  /** Always 'classifier'. */
  readonly type: 'classifier';
  /** The presentation, from 1. */
  readonly pass: number;
  /** Reference vectors after it. */
  readonly references: number;
  /** Reference vectors it added (0: the classifier has converged; no later pass would add any). */
  readonly added: number;
}

/** The last event: the full state, with the classifier, and the accuracies. */
export interface NeocognitronDoneEvent {
  /** Always 'done'. */
  readonly type: 'done';
  /** What was learned. */
  readonly state: NeocognitronState;
  /** Accuracy on `data.test`, or null without it. */
  readonly testAccuracy: number | null;
  /** Wall time of the run, seconds. */
  readonly seconds: number;
}

/** An event of `trainNeocognitron`. */
export type NeocognitronEvent = NeocognitronStepEvent | NeocognitronStageEvent | NeocognitronClassifierEvent | NeocognitronDoneEvent;

/** Options of `trainNeocognitron`; checked when it is called. */
export interface TrainNeocognitronOptions {
  /** The model (see `neocognitron`). */
  model: NeocognitronModel;
  /** Training images (and labels, for the classifier), and optional test images. */
  data: {
    /** The images the stages learn from (labels are used only by the classifier). */
    readonly train: Dataset;
    /** Images to measure test accuracy on at the end (optional). */
    readonly test?: Dataset;
  };
  /** Epochs over the training images per stage (default 1). */
  epochs?: number;
  /** Images per compiled forward pass and per update (default 32). */
  batchSize?: number;
  /** Where the forward passes run (default 'webasm'). */
  backend?: BackendName;
  /** Seed of the shuffling and of random initial weights (default 0). */
  seed?: number;
  /** Learn from the first `limit` training images only. */
  limit?: number;
  /** Learning rate q, one for all stages or one per stage (default 16). */
  q?: number | readonly number[];
  /** Competition neighbourhood radius, one or per stage (default 2). */
  radius?: number | readonly number[];
  /** Create planes where all cells are silent (default true); false: all planes start random, 1980. */
  addIfSilent?: boolean;
  /** Least v_C at which a silent position seeds a plane (default 0.1). */
  minEnergy?: number;
  /** Without add-if-silent: initial a uniform in [0, initScale) (default 0.01). */
  initScale?: number;
  /** The classifier on the top C-layer (default 'intvec'): see `buildClassifier`. */
  classifier?: NeocognitronClassifier['rule'];
  /** The interpolating-vector classifier: per class, how many of its most similar reference vectors pair up (default 8; see `buildClassifier`). */
  candidates?: number;
  /** 'intvec' and 'misclassified': how many times the training vectors are shown to the classifier (default 1; see `buildClassifier`). */
  classifierPasses?: number;
  /** The stages learn from the first `stageLimit` training images only (default all); the classifier learns from all. */
  stageLimit?: number;
}

const OPTION_KEYS = [
  'model',
  'data',
  'epochs',
  'batchSize',
  'backend',
  'seed',
  'limit',
  'q',
  'radius',
  'addIfSilent',
  'minEnergy',
  'initScale',
  'classifier',
  'candidates',
  'classifierPasses',
  'stageLimit',
] as const;

/** The classifier rules `trainNeocognitron` and `buildClassifier` take. */
export const CLASSIFIER_RULES = ['intvec', 'misclassified', 'all', 'means'] as const;

function positiveInt(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail('trainNeocognitron', `${what} must be a positive integer, got ${showValue(v)}`, `${what} ${showValue(v)}`, 'a positive integer');
  return v;
}

function perStage(v: unknown, what: string, stages: number, dflt: number, check: (x: unknown, w: string) => number): number[] {
  if (v === undefined) return new Array(stages).fill(dflt);
  if (Array.isArray(v)) {
    if (v.length !== stages) fail('trainNeocognitron', `${what} must have one entry per stage (${stages}), got ${v.length}`, `${what} of ${v.length}`, `${stages} entries`);
    return v.map((x, i) => check(x, `${what}[${i}]`));
  }
  return new Array(stages).fill(check(v, what));
}

const positive = (v: unknown, what: string): number => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail('trainNeocognitron', `${what} must be a positive finite number, got ${showValue(v)}`, `${what} ${showValue(v)}`, 'a positive finite number');
  return v;
};
const wholeNumber = (v: unknown, what: string): number => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail('trainNeocognitron', `${what} must be a whole number, got ${showValue(v)}`, `${what} ${showValue(v)}`, 'a whole number');
  return v;
};

function checkData(what: string, d: unknown, model: NeocognitronModel): Dataset {
  const per = sizeOf(model.inputShape);
  const ds = d as Partial<Dataset> | null;
  if (!ds || !(ds.images instanceof Float32Array) || !(ds.labels instanceof Uint8Array) || typeof ds.count !== 'number' || ds.count < 1) {
    fail('trainNeocognitron', `${what} must be a Dataset { images: Float32Array, labels: Uint8Array, count ≥ 1 }, got ${describeValue(d)}`, describeValue(d), 'a Dataset');
  }
  if (ds.images.length !== ds.count * per || ds.labels.length !== ds.count) {
    fail(
      'trainNeocognitron',
      `${what} holds ${ds.images.length} pixels and ${ds.labels.length} labels for ${ds.count} images of ${per} pixels ([${model.inputShape.join(', ')}])`,
      `${ds.images.length} pixels, ${ds.labels.length} labels`,
      `${ds.count * per} pixels, ${ds.count} labels`,
    );
  }
  return ds as Dataset;
}

const now = (): number => performance.now();
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

// ---------------------------------------------------------------------------
// Training

/**
 * Train `options.model` on `options.data.train` stage by stage (file comment),
 * then build the classifier. Cold: each subscription trains from scratch, the
 * same seed giving the same events. Unsubscribing stops it before the next
 * batch and disposes the compiled graphs. Bad options throw a StriateError
 * when it is called; backend failures arrive on the error channel.
 *
 * Each stage runs as its own compiled graph on the C-layer below it, which
 * is computed once for every training image when the stage below has
 * finished and kept (float32) until the stage above has learned: no lower
 * stage is computed twice, and the top C-layer so kept is what the
 * classifier learns from.
 *
 * ```ts
 * trainNeocognitron({ model, data: await loadMnist({ limitTrain: 1000 }), backend: 'cpu' })
 *   .subscribe((e) => e.type === 'done' && console.log(e.testAccuracy));
 * ```
 */
export function trainNeocognitron(options: TrainNeocognitronOptions): Observable<NeocognitronEvent> {
  checkOptions('trainNeocognitron', options, OPTION_KEYS, '{ model, data, epochs: 1 }');
  const model = options?.model;
  if (!model || !Array.isArray(model.stages) || !Array.isArray(model.inputShape)) {
    fail('trainNeocognitron', `model must be a NeocognitronModel (see neocognitron(...)), got ${describeValue(model)}`, describeValue(model), 'a NeocognitronModel');
  }
  let trainSet = checkData('data.train', options.data?.train, model);
  const testSet = options.data.test === undefined ? null : checkData('data.test', options.data.test, model);
  const epochs = positiveInt(options.epochs ?? 1, 'epochs');
  const batchSize = positiveInt(options.batchSize ?? 32, 'batchSize');
  const backend = options.backend ?? 'webasm';
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed)) fail('trainNeocognitron', `seed must be a safe integer, got ${showValue(seed)}`, `seed ${showValue(seed)}`, 'a safe integer');
  const per = sizeOf(model.inputShape);
  if (options.limit !== undefined) {
    const limit = positiveInt(options.limit, 'limit');
    if (limit > trainSet.count) fail('trainNeocognitron', `limit ${limit} is more than the ${trainSet.count} training images`, `limit ${limit}`, `at most ${trainSet.count}`);
    trainSet = { images: trainSet.images.subarray(0, limit * per), labels: trainSet.labels.subarray(0, limit), count: limit };
  }
  const stageLimit = options.stageLimit === undefined ? trainSet.count : positiveInt(options.stageLimit, 'stageLimit');
  if (stageLimit > trainSet.count) {
    fail('trainNeocognitron', `stageLimit ${stageLimit} is more than the ${trainSet.count} training images`, `stageLimit ${stageLimit}`, `at most ${trainSet.count}`);
  }
  const n = model.stages.length;
  const qs = perStage(options.q, 'q', n, 16, positive);
  const radii = perStage(options.radius, 'radius', n, 2, wholeNumber);
  const addIfSilent = options.addIfSilent ?? true;
  if (typeof addIfSilent !== 'boolean') fail('trainNeocognitron', `addIfSilent must be true or false, got ${showValue(addIfSilent)}`, `addIfSilent ${showValue(addIfSilent)}`, 'a boolean');
  const minEnergy = options.minEnergy ?? 0.1;
  if (typeof minEnergy !== 'number' || !(minEnergy >= 0) || !Number.isFinite(minEnergy)) {
    fail('trainNeocognitron', `minEnergy must be a finite number ≥ 0, got ${showValue(minEnergy)}`, `minEnergy ${showValue(minEnergy)}`, 'a finite number ≥ 0');
  }
  const initScale = positive(options.initScale ?? 0.01, 'initScale');
  const rule = checkRule('trainNeocognitron', options.classifier ?? 'intvec');
  const candidates = positiveInt(options.candidates ?? DEFAULT_CANDIDATES, 'candidates');
  const classifierPasses = positiveInt(options.classifierPasses ?? 1, 'classifierPasses');

  return new Observable<NeocognitronEvent>((subscriber) => {
    let stopped = false;
    const resources: CompiledFunction[] = [];
    const start = now();

    /** Compile `outputs` and keep it for disposal. */
    const compiled = (outputs: Tensor[]): CompiledFunction => {
      const f = compile(outputs, { backend });
      resources.push(f);
      return f;
    };
    const release = async (f: CompiledFunction): Promise<void> => {
      const i = resources.indexOf(f);
      if (i >= 0) resources.splice(i, 1);
      await disposeCompiled(f);
    };

    const loop = async (): Promise<void> => {
      let state: NeocognitronState = freeze({ model, stages: [], classifier: null }, true);
      // The layer below the stage learning, for every training image: the images, then each C-layer in turn.
      let below: Float32Array = trainSet.images;
      let belowShape = [...model.inputShape] as [number, number, number];
      for (let l = 0; l < n; l++) {
        const st = model.stages[l];
        const room = st.planes;
        const kIn = belowShape[0];
        const size = kIn * st.window * st.window;
        const bSize = sizeOf(belowShape);
        const c = inhibitoryWeights(kIn, st.window);
        const a = new Float64Array(room * size);
        const b = new Float64Array(room);
        let planes = 0;
        if (!addIfSilent) {
          const rng = createRng(seed + 7919 * (l + 1));
          for (let i = 0; i < a.length; i++) a[i] = initScale * rng.next();
          planes = room;
        }
        const g = stageGraph(model, l, input(BELOW, [batchSize, ...belowShape]), room);
        const f = compiled([g.s, g.v]);
        const sShape = g.s.shape.slice(1) as [number, number, number];
        const sSize = sizeOf(sShape);
        const vSize = sShape[1] * sShape[2];
        const names = stageInputNames(l);
        const learnSet: Dataset = { images: below.subarray(0, stageLimit * bSize), labels: trainSet.labels.subarray(0, stageLimit), count: stageLimit };
        for (let e = 0; e < epochs; e++) {
          for (const batch of batches(learnSet, { batchSize, shuffle: true, seed, epoch: e + l * 1000 })) {
            if (stopped) return;
            const x = new Float32Array(batchSize * bSize);
            x.set(batch.images);
            const [sOut, vOut] = await f.run({ [BELOW]: x, [names.a]: Float32Array.from(a), [names.b]: Float32Array.from(b) });
            if (stopped) return;
            const da = new Float64Array(a.length);
            const db = new Float64Array(b.length);
            const counts = new Array(room).fill(0);
            const fresh: { a: Float64Array; b: number }[] = [];
            for (let i = 0; i < batch.size; i++) {
              const img: CompetitionInput = {
                s: sOut.data.subarray(i * sSize, (i + 1) * sSize),
                sShape,
                v: vOut.data.subarray(i * vSize, (i + 1) * vSize),
                below: x.subarray(i * bSize, (i + 1) * bSize),
                belowShape,
                window: st.window,
                padding: st.padding,
                radius: radii[l],
                q: qs[l],
              };
              for (const w of competitiveUpdate(img, planes, c, da, db)) counts[w.plane]++;
              if (addIfSilent && planes + fresh.length < room) {
                const pos = silentPosition(img, c, minEnergy, st.r, fresh);
                if (pos) {
                  const u = inputWindow(img.below, belowShape, pos.y, pos.x, st.window, st.padding);
                  const na = new Float64Array(size);
                  for (let j = 0; j < size; j++) na[j] = qs[l] * c[j] * u[j];
                  fresh.push({ a: na, b: qs[l] * pos.v });
                }
              }
            }
            for (const p of fresh) {
              da.set(p.a, planes * size);
              db[planes] = p.b;
              counts[planes] = 1;
              planes++;
            }
            let change = 0;
            for (let j = 0; j < a.length; j++) {
              a[j] += da[j];
              change += da[j] * da[j];
            }
            for (let j = 0; j < b.length; j++) b[j] += db[j];
            subscriber.next(
              Object.freeze({
                type: 'step',
                stage: l,
                epoch: e + 1,
                step: batch.index + 1,
                planes,
                added: fresh.length,
                winners: Object.freeze(counts.slice(0, planes)),
                weightChange: Math.sqrt(change),
              }),
            );
            await yieldToEventLoop();
          }
        }
        await release(f);
        if (planes === 0) {
          fail(
            'trainNeocognitron',
            `stage ${l} learned no plane: no input window had energy above minEnergy ${minEnergy}; lower minEnergy`,
            'no planes',
            'at least one plane',
          );
        }
        const stageState: NeocognitronStageState = {
          planes,
          a: tensorValue([planes, kIn, st.window, st.window], Float32Array.from(a.subarray(0, planes * size))),
          b: tensorValue([planes], Float32Array.from(b.subarray(0, planes))),
        };
        state = freeze({ ...state, stages: [...state.stages, stageState] }, true);
        // This stage's C-layer for every training image, once, for the stage above (or the classifier).
        const next = await runStage(state, l, below, trainSet.count, { backend, batchSize, stopped: () => stopped, keep: resources });
        if (next === null) return;
        below = next.out;
        belowShape = next.shape;
        subscriber.next(Object.freeze({ type: 'stage', stage: l, planes, state }));
        await yieldToEventLoop();
      }
      if (stopped) return;
      // In chunks, so that the event loop runs and unsubscribing stops it.
      const learning = classifierSteps('trainNeocognitron', below, trainSet.labels, rule, { candidates, passes: classifierPasses });
      let next = learning.next();
      for (; !next.done; next = learning.next()) {
        if (next.value !== null) subscriber.next(next.value);
        await yieldToEventLoop();
        if (stopped) return;
      }
      const classifier = next.value;
      state = freeze({ ...state, classifier }, true);
      let testAccuracy: number | null = null;
      if (testSet) {
        const labels = await classifyNeocognitron(state, testSet.images, { backend, batchSize });
        if (stopped) return;
        testAccuracy = labels.reduce((s, y, i) => s + (y === testSet.labels[i] ? 1 : 0), 0) / testSet.count;
      }
      await disposeAll();
      subscriber.next(Object.freeze({ type: 'done', state, testAccuracy, seconds: (now() - start) / 1000 }));
      subscriber.complete();
    };

    const disposeAll = async (): Promise<void> => {
      for (const r of resources.splice(0)) await disposeCompiled(r);
    };

    loop().then(
      () => disposeAll().catch((err: unknown) => subscriber.error(err)),
      async (err: unknown) => {
        await disposeAll().catch(() => undefined);
        subscriber.error(err);
      },
    );
    return () => {
      stopped = true;
    };
  });
}

/** The graph input name of a stage's own graph: the layer below it. */
const BELOW = 'neocognitron.below';

/**
 * Stage `l`'s C-layer for `count` inputs `below` (the layer under it,
 * row-major), through its own compiled graph, chunk by chunk; null when
 * `stopped` turns true. The compiled graph is disposed before it returns
 * (and listed in `keep` meanwhile, so that an error path disposes it too).
 */
async function runStage(
  state: NeocognitronState,
  l: number,
  below: Float32Array,
  count: number,
  options: { backend: BackendName; batchSize: number; stopped?: () => boolean; keep?: CompiledFunction[] },
): Promise<{ out: Float32Array; shape: [number, number, number] } | null> {
  const { model } = state;
  const planes = state.stages.map((s) => s.planes);
  const belowShape = (l === 0 ? [...model.inputShape] : neocognitronShapes(model, planes)[l - 1].c) as [number, number, number];
  const bSize = sizeOf(belowShape);
  const { batchSize } = options;
  const g = stageGraph(model, l, input(BELOW, [batchSize, ...belowShape]), planes[l]);
  const shape = g.c.shape.slice(1) as [number, number, number];
  const d = sizeOf(shape);
  const out = new Float32Array(count * d);
  const f = compile(g.c, { backend: options.backend });
  options.keep?.push(f);
  try {
    const names = stageInputNames(l);
    const feeds = { [names.a]: state.stages[l].a.data, [names.b]: state.stages[l].b.data };
    const x = new Float32Array(batchSize * bSize);
    for (let i = 0; i < count; i += batchSize) {
      if (options.stopped?.()) return null;
      const m = Math.min(batchSize, count - i);
      x.fill(0);
      x.set(below.subarray(i * bSize, (i + m) * bSize));
      const [y] = await f.run({ ...feeds, [BELOW]: x });
      out.set(y.data.subarray(0, m * d), i * d);
    }
  } finally {
    const k = options.keep?.indexOf(f) ?? -1;
    if (k >= 0) options.keep!.splice(k, 1);
    await disposeCompiled(f);
  }
  return { out, shape };
}

// ---------------------------------------------------------------------------
// Features

/** Options of `neocognitronFeatures` and `classifyNeocognitron`. */
export interface NeocognitronRunOptions {
  /** Where the forward pass runs (default 'webasm'). */
  backend?: BackendName;
  /** Images per compiled run (default 32); the last chunk is padded with zeros. */
  batchSize?: number;
}

/**
 * The top C-layer of each image ([count, D] row-major, D = its planes × height
 * × width), through the state's trained stages, each stage compiled once and
 * run chunk by chunk over the whole layer below it. Returns null when
 * `stopped` turns true between chunks.
 */
export async function neocognitronFeatures(
  state: NeocognitronState,
  images: Float32Array,
  options: NeocognitronRunOptions & { stopped?: () => boolean } = {},
): Promise<Float32Array | null> {
  const per = sizeOf(state.model.inputShape);
  if (!(images instanceof Float32Array) || images.length % per !== 0) {
    fail('neocognitronFeatures', `images must be a Float32Array of whole images of ${per} pixels, got ${describeValue(images)}`, describeValue(images), `a multiple of ${per} values`);
  }
  if (state.stages.length === 0) fail('neocognitronFeatures', 'the state has no trained stage', 'no stages', 'at least one trained stage');
  const batchSize = positiveIntFor('neocognitronFeatures', options.batchSize ?? 32, 'batchSize');
  const count = images.length / per;
  let below = images;
  for (let l = 0; l < state.stages.length; l++) {
    const next = await runStage(state, l, below, count, { backend: options.backend ?? 'webasm', batchSize, stopped: options.stopped });
    if (next === null) return null;
    below = next.out;
  }
  return below;
}

function positiveIntFor(who: string, v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(who, `${what} must be a positive integer, got ${showValue(v)}`, `${what} ${showValue(v)}`, 'a positive integer');
  return v;
}

// ---------------------------------------------------------------------------
// The classifier on the top C-layer
//
// Every rule keeps labelled reference vectors X_i (unit length) and scores
// each class by a similarity; an input takes the class of the largest score
// (ties: the lower class).
//
// Nearest prototype ('all', 'means', 'misclassified'): a class's score is
// the largest cosine x·X_i over its references.
//
// Interpolating vectors ('intvec'; K. Fukushima, "Interpolating vectors for
// robust pattern recognition", Neural Networks 20, 904-916, 2007, and the
// 2013 review §4): between every two reference vectors X_i, X_j of one class
// lie the interpolating vectors (1−λ)X_i + λX_j, 0 ≤ λ ≤ 1, and a class's
// score is the largest cosine between x and any of its interpolating vectors
// (λ = 0 and 1 included, so it is never below the nearest prototype's). For
// unit x, X_i, X_j with p = x·X_i, q = x·X_j, g = X_i·X_j, the best λ is the
// direction of x's projection onto the plane of X_i and X_j when that
// projection lies between them, α = p − q·g > 0 and β = q − p·g > 0:
//   s_ij = sqrt( (p² + q² − 2·p·q·g) / (1 − g²) ),
// and max(p, q) otherwise (and when g = 1, one direction). Only pairs among
// each class's `candidates` references of largest p are scored (Fukushima
// pairs every two; the best pair almost always joins two near references,
// and this keeps a class's cost linear in its references; `candidates` as
// large as the references gives every pair).
// Learning (add-if-silent at the top layer, Fukushima 2007 §3, 2013 §4):
// the training vectors are shown once, in order; one that the references so
// far classify wrongly (its class has no reference yet, or another class
// scores higher) becomes a new reference of its class. The references are
// never moved. Showing them again (`passes`) adds the vectors that references
// added after them have since turned wrong: on MNIST's top C-layer a second
// pass added about a quarter more references and removed 12–18% of the test
// errors (two seeds).

/** The default `candidates` of the interpolating-vector classifier. */
export const DEFAULT_CANDIDATES = 8;

function checkRule(who: string, rule: unknown): NeocognitronClassifier['rule'] {
  if (!(CLASSIFIER_RULES as readonly unknown[]).includes(rule)) {
    fail(who, `classifier must be 'intvec', 'misclassified', 'all' or 'means', got ${showValue(rule)}`, `classifier ${showValue(rule)}`, CLASSIFIER_RULES.join(', '));
  }
  return rule as NeocognitronClassifier['rule'];
}

/** Rows of `features` ([count, D]) scaled to unit length (a zero row stays zero), float64. */
function unitRows(features: ArrayLike<number>, count: number, d: number): Float64Array {
  const out = new Float64Array(count * d);
  for (let i = 0; i < count; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += features[i * d + j] ** 2;
    const k = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < d; j++) out[i * d + j] = features[i * d + j] * k;
  }
  return out;
}

/**
 * The largest cosine between unit x and the interpolating vectors of unit
 * X_i, X_j, from p = x·X_i, q = x·X_j and g = X_i·X_j (the comment above).
 */
export function interpolatedSimilarity(p: number, q: number, g: number): number {
  const edge = Math.max(p, q);
  if (!(g < 1 - 1e-12)) return edge;
  if (p - q * g <= 0 || q - p * g <= 0) return edge;
  const s2 = (p * p + q * q - 2 * p * q * g) / (1 - g * g);
  // Rounding can put the projection a hair below an edge it equals.
  return Math.max(edge, Math.sqrt(Math.max(s2, 0)));
}

/** Reference vectors growing one by one, with the dot products between those of each class (for the interpolation). */
class References {
  vectors: Float64Array;
  labels: number[] = [];
  /** Per class: the indices of its references, and their Gram matrix (row-major, `cap` wide). */
  readonly classes = new Map<number, { members: number[]; gram: Float64Array; cap: number }>();

  constructor(readonly d: number, capacity = 64) {
    this.vectors = new Float64Array(capacity * d);
  }

  get count(): number {
    return this.labels.length;
  }

  add(v: ArrayLike<number>, offset: number, label: number): void {
    const { d } = this;
    const i = this.count;
    if ((i + 1) * d > this.vectors.length) {
      const grown = new Float64Array(this.vectors.length * 2);
      grown.set(this.vectors);
      this.vectors = grown;
    }
    for (let j = 0; j < d; j++) this.vectors[i * d + j] = v[offset + j];
    this.labels.push(label);
    let cl = this.classes.get(label);
    if (cl === undefined) {
      cl = { members: [], gram: new Float64Array(16 * 16), cap: 16 };
      this.classes.set(label, cl);
    }
    const m = cl.members.length;
    if (m + 1 > cl.cap) {
      const cap = cl.cap * 2;
      const gram = new Float64Array(cap * cap);
      for (let r = 0; r < m; r++) gram.set(cl.gram.subarray(r * cl.cap, r * cl.cap + m), r * cap);
      cl.gram = gram;
      cl.cap = cap;
    }
    for (let r = 0; r < m; r++) {
      const o = cl.members[r];
      let s = 0;
      for (let j = 0; j < d; j++) s += this.vectors[o * d + j] * this.vectors[i * d + j];
      cl.gram[r * cl.cap + m] = s;
      cl.gram[m * cl.cap + r] = s;
    }
    cl.gram[m * cl.cap + m] = 1;
    cl.members.push(i);
  }
}

/** x·X_i for every reference, x the unit row at `offset` of `xs`. */
function dots(refs: ArrayLike<number>, count: number, d: number, xs: ArrayLike<number>, offset: number, out: Float64Array): void {
  const tail = d - (d % 4);
  for (let i = 0; i < count; i++) {
    // Four partial sums: about twice as fast as one in V8.
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    const base = i * d;
    let j = 0;
    for (; j < tail; j += 4) {
      s0 += refs[base + j] * xs[offset + j];
      s1 += refs[base + j + 1] * xs[offset + j + 1];
      s2 += refs[base + j + 2] * xs[offset + j + 2];
      s3 += refs[base + j + 3] * xs[offset + j + 3];
    }
    for (; j < d; j++) s0 += refs[base + j] * xs[offset + j];
    out[i] = s0 + s1 + s2 + s3;
  }
}

/**
 * The class of largest score (ties: the lower class) from the cosines `p`
 * with every reference; `candidates` 1 is the nearest prototype. -1 with no
 * reference.
 */
function bestClass(p: Float64Array, classes: References['classes'], candidates: number): number {
  let best = -1;
  let bestScore = -Infinity;
  const top = new Int32Array(candidates);
  const topP = new Float64Array(candidates);
  for (const [label, cl] of [...classes.entries()].sort((x, y) => x[0] - y[0])) {
    // The `candidates` members of largest p, by insertion.
    let t = 0;
    for (let r = 0; r < cl.members.length; r++) {
      const v = p[cl.members[r]];
      if (t < candidates) t++;
      else if (!(v > topP[t - 1])) continue;
      let k = t - 1;
      while (k > 0 && topP[k - 1] < v) {
        topP[k] = topP[k - 1];
        top[k] = top[k - 1];
        k--;
      }
      topP[k] = v;
      top[k] = r;
    }
    let score = t > 0 ? topP[0] : -Infinity;
    for (let i = 0; i < t; i++) {
      for (let j = i + 1; j < t; j++) {
        const s = interpolatedSimilarity(topP[i], topP[j], cl.gram[top[i] * cl.cap + top[j]]);
        if (s > score) score = s;
      }
    }
    if (score > bestScore) {
      bestScore = score;
      best = label;
    }
  }
  return best;
}

/** The references of a classifier, for scoring (the Gram matrices built once per classifier). */
const REFERENCE_CACHE = new WeakMap<NeocognitronClassifier, References>();

function referencesOf(cl: NeocognitronClassifier): References {
  let refs = REFERENCE_CACHE.get(cl);
  if (refs === undefined) {
    const [p, d] = cl.prototypes.shape;
    refs = new References(d, Math.max(1, p));
    for (let i = 0; i < p; i++) refs.add(cl.prototypes.data, i * d, cl.labels[i]);
    REFERENCE_CACHE.set(cl, refs);
  }
  return refs;
}

/** Options of `buildClassifier`. */
export interface BuildClassifierOptions {
  /** 'intvec': per class, how many of its most similar references pair up (default 8). */
  candidates?: number;
  /**
   * 'intvec' and 'misclassified': how many times the training vectors are
   * shown, in order (default 1, Fukushima's once). A later pass adds the
   * vectors that the references so far still classify wrongly (references
   * added after a vector was shown can turn it wrong); learning ends early
   * after a pass that adds none, since every later one would add none too.
   */
  passes?: number;
}

/**
 * Training vectors per chunk of `classifierSteps`: on MNIST's top C-layer
 * (1,024 values, up to 2,600 references) a vector takes up to about 4 ms, so
 * unsubscribing waits at most about 0.4 s; the yields cost about 1 ms each.
 */
const CLASSIFIER_CHUNK = 100;

/**
 * The classifier of `rule` from training features [count, D] and labels (the
 * comment above): 'intvec' (interpolating vectors over add-if-silent
 * references), 'misclassified' (the training vectors the references so far
 * label wrongly, nearest prototype), 'all' (every training vector) or
 * 'means' (one mean per class). See `BuildClassifierOptions` for the passes.
 */
export function buildClassifier(features: ArrayLike<number>, labels: Uint8Array, rule: NeocognitronClassifier['rule'], options: BuildClassifierOptions = {}): NeocognitronClassifier {
  const steps = classifierSteps('buildClassifier', features, labels, rule, options);
  let next = steps.next();
  while (!next.done) next = steps.next();
  return next.value;
}

/**
 * buildClassifier's work in chunks: yields null after each chunk of
 * training vectors and an event after each pass, and returns the classifier.
 */
function* classifierSteps(
  who: string,
  features: ArrayLike<number>,
  labels: Uint8Array,
  rule: NeocognitronClassifier['rule'],
  options: BuildClassifierOptions,
): Generator<NeocognitronClassifierEvent | null, NeocognitronClassifier> {
  checkRule(who, rule);
  checkOptions(who, options, ['candidates', 'passes']);
  const count = labels.length;
  if (count === 0 || features.length % count !== 0) {
    fail(who, `features must hold one row per label (${count} labels), got ${features.length} values`, `${features.length} values`, `a multiple of ${count}`);
  }
  const d = features.length / count;
  const candidates = rule === 'intvec' ? positiveIntFor(who, options.candidates ?? DEFAULT_CANDIDATES, 'candidates') : 1;
  const passes = positiveIntFor(who, options.passes ?? 1, 'passes');
  const unit = unitRows(features, count, d);
  let protos: Float64Array;
  let protoLabels: number[];
  if (rule === 'all') {
    protos = unit;
    protoLabels = Array.from(labels);
    yield Object.freeze({ type: 'classifier', pass: 1, references: count, added: count });
  } else if (rule === 'means') {
    const classes = [...new Set(labels)].sort((x, y) => x - y);
    const sums = new Float64Array(classes.length * d);
    classes.forEach((cl, ci) => {
      for (let i = 0; i < count; i++) if (labels[i] === cl) for (let j = 0; j < d; j++) sums[ci * d + j] += unit[i * d + j];
    });
    protos = unitRows(sums, classes.length, d);
    protoLabels = classes;
    yield Object.freeze({ type: 'classifier', pass: 1, references: classes.length, added: classes.length });
  } else {
    const refs = new References(d);
    let p = new Float64Array(64);
    for (let pass = 1; pass <= passes; pass++) {
      const before = refs.count;
      for (let i = 0; i < count; i++) {
        if (p.length < refs.count) p = new Float64Array(refs.count * 2);
        dots(refs.vectors, refs.count, d, unit, i * d, p);
        if (bestClass(p, refs.classes, candidates) !== labels[i]) refs.add(unit, i * d, labels[i]);
        if ((i + 1) % CLASSIFIER_CHUNK === 0 && i + 1 < count) yield null;
      }
      const added = refs.count - before;
      yield Object.freeze({ type: 'classifier', pass, references: refs.count, added });
      if (added === 0) break;
    }
    protos = refs.vectors.subarray(0, refs.count * d);
    protoLabels = refs.labels;
  }
  return freeze({ rule, candidates, prototypes: tensorValue([protoLabels.length, d], Float32Array.from(protos)), labels: Uint8Array.from(protoLabels) });
}

/** Labels of `features` ([count, D], the top C-layer) by classifier `cl`. */
export function classifyFeatures(cl: NeocognitronClassifier, features: ArrayLike<number>): Uint8Array {
  const [p, d] = cl.prototypes.shape;
  if (features.length % d !== 0) fail('classifyFeatures', `features must be rows of ${d} values (the classifier's), got ${features.length} values`, `${features.length} values`, `a multiple of ${d}`);
  const count = features.length / d;
  const unit = unitRows(features, count, d);
  const refs = referencesOf(cl);
  const sims = new Float64Array(Math.max(1, p));
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    dots(cl.prototypes.data, p, d, unit, i * d, sims);
    out[i] = bestClass(sims, refs.classes, cl.candidates);
  }
  return out;
}

/**
 * Classify images by the state's classifier on the top C-layer; the state
 * must hold a classifier (a 'done' event's).
 */
export async function classifyNeocognitron(state: NeocognitronState, images: Float32Array, options: NeocognitronRunOptions = {}): Promise<Uint8Array> {
  checkOptions('classifyNeocognitron', options, ['backend', 'batchSize']);
  const cl = state?.classifier;
  if (!cl) fail('classifyNeocognitron', 'the state has no classifier; use the state of a "done" event of trainNeocognitron', describeValue(cl), 'a state with a classifier');
  const features = (await neocognitronFeatures(state, images, options)) as Float32Array;
  return classifyFeatures(cl, features);
}

/** Fraction of `data` that `classifyNeocognitron` labels correctly, with the count. */
export async function evaluateNeocognitron(state: NeocognitronState, data: Dataset, options: NeocognitronRunOptions = {}): Promise<{
  /** The fraction of images classified right. */
  accuracy: number;
  /** How many images were classified right. */
  correct: number;
  /** How many images were classified. */
  count: number;
}> {
  const labels = await classifyNeocognitron(state, data.images, options);
  const correct = labels.reduce((s, y, i) => s + (y === data.labels[i] ? 1 : 0), 0);
  return { accuracy: correct / data.count, correct, count: data.count };
}

/**
 * One image's S-layers through the state's trained stages, with each
 * stage's competition winners (`selectWinners` at `radius`, default 2), for
 * `neocognitronWinnersSpec`.
 */
export async function neocognitronResponses(
  state: NeocognitronState,
  image: Float32Array,
  options: { backend?: BackendName; radius?: number } = {},
): Promise<{
  /** The image. */
  image: Float32Array;
  /** Per stage: u_S [K, H, W], its shape, and the winners. */
  stages: {
    /** u_S, the stage's S-cell outputs, row-major [K, H, W]. */
    s: Float32Array;
    /** `[K, H, W]`: planes, rows and columns. */
    shape: [number, number, number];
    /** The cells that won the stage's competition (`selectWinners`). */
    winners: Winner[];
  }[];
}> {
  checkOptions('neocognitronResponses', options, ['backend', 'radius']);
  const per = sizeOf(state.model.inputShape);
  if (!(image instanceof Float32Array) || image.length !== per) {
    fail('neocognitronResponses', `image must be a Float32Array of ${per} values ([${state.model.inputShape.join(', ')}]), got ${describeValue(image)}`, describeValue(image), `${per} values`);
  }
  if (state.stages.length === 0) fail('neocognitronResponses', 'the state has no trained stage', 'no stages', 'at least one trained stage');
  const radius = wholeNumber(options.radius ?? 2, 'radius');
  const g = neocognitronGraph(state.model, 1, state.stages.map((s) => s.planes), state.stages.length);
  const f = compile(
    g.stages.map((s) => s.s),
    { backend: options.backend ?? 'webasm' },
  );
  try {
    const outs = await f.run({ ...stateFeeds(state), x: image });
    return {
      image,
      stages: outs.map((o) => {
        const shape = o.shape.slice(1) as [number, number, number];
        const s = Float32Array.from(o.data);
        return { s, shape, winners: selectWinners(s, shape, radius) };
      }),
    };
  } finally {
    await disposeCompiled(f);
  }
}
