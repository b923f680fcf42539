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
import { sizeOf } from '../graph/tensor.js';
import {
  inhibitoryWeights,
  inputWindow,
  neocognitronGraph,
  neocognitronShapes,
  sCell,
  stageInputNames,
  stateFeeds,
  type NeocognitronClassifier,
  type NeocognitronModel,
  type NeocognitronStageState,
  type NeocognitronState,
} from '../nn/neocognitron.js';
import { tensorValue } from '../nn/params.js';
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
  const best: (Winner | null)[] = new Array(planes).fill(null);
  for (let k = 0; k < planes; k++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const u = s[(k * h + y) * w + x];
        if (!(u > 0)) continue;
        if (!isColumnMax(s, h, w, planes, radius, k, y, x, u)) continue;
        const cur = best[k];
        if (cur === null || u > cur.value) best[k] = { plane: k, y, x, value: u };
      }
    }
  }
  return best.filter((b): b is Winner => b !== null);
}

/** Whether (k, y, x) with value u beats every cell of its neighbourhood; ties go to the lower plane, then the earlier position. */
function isColumnMax(s: ArrayLike<number>, h: number, w: number, planes: number, radius: number, k: number, y: number, x: number, u: number): boolean {
  const me = (k * h + y) * w + x;
  for (let kk = 0; kk < planes; kk++) {
    for (let yy = Math.max(0, y - radius); yy <= Math.min(h - 1, y + radius); yy++) {
      for (let xx = Math.max(0, x - radius); xx <= Math.min(w - 1, x + radius); xx++) {
        const at = (kk * h + yy) * w + xx;
        if (at === me) continue;
        const o = s[at];
        if (o > u) return false;
        // Equal: the lower plane wins, then the earlier position within a plane.
        if (o === u && (kk < k || (kk === k && at < me))) return false;
      }
    }
  }
  return true;
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
export type NeocognitronEvent = NeocognitronStepEvent | NeocognitronStageEvent | NeocognitronDoneEvent;

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
  /** How the classifier picks prototypes (default 'misclassified'). */
  classifier?: NeocognitronClassifier['rule'];
}

const OPTION_KEYS = ['model', 'data', 'epochs', 'batchSize', 'backend', 'seed', 'limit', 'q', 'radius', 'addIfSilent', 'minEnergy', 'initScale', 'classifier'] as const;

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
  if (options.limit !== undefined) {
    const limit = positiveInt(options.limit, 'limit');
    if (limit > trainSet.count) fail('trainNeocognitron', `limit ${limit} is more than the ${trainSet.count} training images`, `limit ${limit}`, `at most ${trainSet.count}`);
    const per = sizeOf(model.inputShape);
    trainSet = { images: trainSet.images.subarray(0, limit * per), labels: trainSet.labels.subarray(0, limit), count: limit };
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
  const rule = options.classifier ?? 'misclassified';
  if (rule !== 'all' && rule !== 'means' && rule !== 'misclassified') {
    fail('trainNeocognitron', `classifier must be 'all', 'means' or 'misclassified', got ${showValue(rule)}`, `classifier ${showValue(rule)}`, "'all', 'means' or 'misclassified'");
  }

  return new Observable<NeocognitronEvent>((subscriber) => {
    let stopped = false;
    const resources: CompiledFunction[] = [];
    const start = now();

    const loop = async (): Promise<void> => {
      let state: NeocognitronState = freeze({ model, stages: [], classifier: null }, true);
      const inShape = model.inputShape;
      for (let l = 0; l < n; l++) {
        const st = model.stages[l];
        const room = st.planes;
        const planesBelow = state.stages.map((s) => s.planes);
        const belowShape = (l === 0 ? [...inShape] : neocognitronShapes(model, planesBelow)[l - 1].c) as [number, number, number];
        const kIn = belowShape[0];
        const size = kIn * st.window * st.window;
        const c = inhibitoryWeights(kIn, st.window);
        const a = new Float64Array(room * size);
        const b = new Float64Array(room);
        let planes = 0;
        if (!addIfSilent) {
          const rng = createRng(seed + 7919 * (l + 1));
          for (let i = 0; i < a.length; i++) a[i] = initScale * rng.next();
          planes = room;
        }
        const g = neocognitronGraph(model, batchSize, [...planesBelow, room], l + 1);
        const below = l === 0 ? g.x : g.stages[l - 1].c;
        const f = compile([g.stages[l].s, g.stages[l].v, below], { backend });
        resources.push(f);
        const sShape = g.stages[l].s.shape.slice(1) as [number, number, number];
        const lowerFeeds = stateFeeds(state);
        const names = stageInputNames(l);
        const per = sizeOf(inShape);
        for (let e = 0; e < epochs; e++) {
          for (const batch of batches(trainSet, { batchSize, shuffle: true, seed, epoch: e + l * 1000 })) {
            if (stopped) return;
            const x = new Float32Array(batchSize * per);
            x.set(batch.images);
            const [sOut, vOut, bOut] = await f.run({ ...lowerFeeds, x, [names.a]: Float32Array.from(a), [names.b]: Float32Array.from(b) });
            if (stopped) return;
            const da = new Float64Array(a.length);
            const db = new Float64Array(b.length);
            const counts = new Array(room).fill(0);
            const fresh: { a: Float64Array; b: number }[] = [];
            const sSize = sizeOf(sShape);
            const vSize = sShape[1] * sShape[2];
            const bSize = sizeOf(belowShape);
            for (let i = 0; i < batch.size; i++) {
              const img: CompetitionInput = {
                s: sOut.data.subarray(i * sSize, (i + 1) * sSize),
                sShape,
                v: vOut.data.subarray(i * vSize, (i + 1) * vSize),
                below: bOut.data.subarray(i * bSize, (i + 1) * bSize),
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
        subscriber.next(Object.freeze({ type: 'stage', stage: l, planes, state }));
      }
      const features = await neocognitronFeatures(state, trainSet.images, { backend, batchSize, stopped: () => stopped });
      if (features === null || stopped) return;
      const classifier = buildClassifier(features, trainSet.labels, rule);
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

// ---------------------------------------------------------------------------
// Features and the classifier

/** Options of `neocognitronFeatures` and `classifyNeocognitron`. */
export interface NeocognitronRunOptions {
  /** Where the forward pass runs (default 'webasm'). */
  backend?: BackendName;
  /** Images per compiled run (default 32); the last chunk is padded with zeros. */
  batchSize?: number;
}

/**
 * The top C-layer of each image ([count, D] row-major, D = its planes × height
 * × width), through the state's trained stages, compiled once and run chunk by
 * chunk. Returns null when `stopped` turns true between chunks.
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
  const g = neocognitronGraph(state.model, batchSize, state.stages.map((s) => s.planes), state.stages.length);
  const d = sizeOf(g.output.shape) / batchSize;
  const out = new Float32Array(count * d);
  const f = compile(g.output, { backend: options.backend ?? 'webasm' });
  try {
    const feeds = stateFeeds(state);
    for (let i = 0; i < count; i += batchSize) {
      if (options.stopped?.()) return null;
      const m = Math.min(batchSize, count - i);
      const x = new Float32Array(batchSize * per);
      x.set(images.subarray(i * per, (i + m) * per));
      const [y] = await f.run({ ...feeds, x });
      out.set(y.data.subarray(0, m * d), i * d);
    }
  } finally {
    await disposeCompiled(f);
  }
  return out;
}

function positiveIntFor(who: string, v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(who, `${what} must be a positive integer, got ${showValue(v)}`, `${what} ${showValue(v)}`, 'a positive integer');
  return v;
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

/** The index of the prototype of largest cosine with unit row `x` (ties: the first). */
function nearest(protos: ArrayLike<number>, p: number, d: number, x: ArrayLike<number>, xOff: number): number {
  let best = -1;
  let bestDot = -Infinity;
  for (let i = 0; i < p; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += protos[i * d + j] * x[xOff + j];
    if (s > bestDot) {
      bestDot = s;
      best = i;
    }
  }
  return best;
}

/** The prototypes of `rule` from training features [count, D] and labels (see the file comment). */
export function buildClassifier(features: ArrayLike<number>, labels: Uint8Array, rule: NeocognitronClassifier['rule']): NeocognitronClassifier {
  const count = labels.length;
  const d = features.length / count;
  const unit = unitRows(features, count, d);
  let protos: Float64Array;
  let protoLabels: number[];
  if (rule === 'all') {
    protos = unit;
    protoLabels = Array.from(labels);
  } else if (rule === 'means') {
    const classes = [...new Set(labels)].sort((x, y) => x - y);
    const sums = new Float64Array(classes.length * d);
    classes.forEach((cl, ci) => {
      for (let i = 0; i < count; i++) if (labels[i] === cl) for (let j = 0; j < d; j++) sums[ci * d + j] += unit[i * d + j];
    });
    protos = unitRows(sums, classes.length, d);
    protoLabels = classes;
  } else {
    const rows: number[] = [];
    protoLabels = [];
    const buf = new Float64Array(count * d);
    for (let i = 0; i < count; i++) {
      const k = rows.length === 0 ? -1 : nearest(buf, rows.length, d, unit, i * d);
      if (k < 0 || protoLabels[k] !== labels[i]) {
        buf.set(unit.subarray(i * d, (i + 1) * d), rows.length * d);
        rows.push(i);
        protoLabels.push(labels[i]);
      }
    }
    protos = buf.subarray(0, rows.length * d);
  }
  return freeze({ rule, prototypes: tensorValue([protoLabels.length, d], Float32Array.from(protos)), labels: Uint8Array.from(protoLabels) });
}

/**
 * Classify images by the state's nearest prototype on the top C-layer
 * (cosine similarity); the state must hold a classifier (a 'done' event's).
 */
export async function classifyNeocognitron(state: NeocognitronState, images: Float32Array, options: NeocognitronRunOptions = {}): Promise<Uint8Array> {
  checkOptions('classifyNeocognitron', options, ['backend', 'batchSize']);
  const cl = state?.classifier;
  if (!cl) fail('classifyNeocognitron', 'the state has no classifier; use the state of a "done" event of trainNeocognitron', describeValue(cl), 'a state with a classifier');
  const features = (await neocognitronFeatures(state, images, options)) as Float32Array;
  const [p, d] = cl.prototypes.shape;
  const count = features.length / d;
  const unit = unitRows(features, count, d);
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = cl.labels[nearest(cl.prototypes.data, p, d, unit, i * d)];
  return out;
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
