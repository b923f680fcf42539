/**
 * `npm run bench -- --model vgg,resnet` (or `--model all`): a training step
 * and inference of each zoo model, Striate against TensorFlow.js, with the
 * same architecture, the same weights and the same data, checked before
 * they are timed like the LeNet-5 contestants (lib/contest.ts).
 *
 * - The model is the zoo's own builder at the CLI's defaults
 *   (examples/lib/zoo-config.ts: MNIST's 28x28 grey input, 10 classes).
 * - Striate runs the graph `train()` compiles: softmax cross-entropy of the
 *   logits, the gradient of every parameter and the batch-norm statistics'
 *   next values, read back to the host, then the SGD update on the host, as
 *   the LeNet-5 bench does. Dropout masks are drawn once (seeded) and fed to
 *   both libraries at every step.
 * - TF.js runs the same graph translated op for op (lib/graph-tfjs.ts:
 *   NHWC, fused conv/dense with bias and relu, its own LRN), with
 *   `tf.train.sgd` differentiating it: forward, backward and the update on
 *   its backend. Only its wasm backend is timed (its cpu backend trains
 *   LeNet-5 at a fraction of wasm's in the main bench), with the bench's
 *   im2col patch for the filter gradient that TF.js wasm lacks (marked **).
 * - The check: loss, every gradient, the statistics' updates and the logits
 *   of two inference batches against Striate's float64 reference backend,
 *   before and after timing (Striate also at the weights its SGD steps reach).
 */
import { type BackendName, type Combine, type Tensor, compile, compileParallel, createRng, grad, input, nn, softmaxCrossEntropy } from '../../src/index.js';
import { MODELS, MODEL_NAMES, type ModelName } from '../../examples/lib/zoo-config.js';
import { type Entry, type Env, INFER_BATCH, TRAIN_BATCH, best, errText, summarizeCheck } from './contest.js';
import { type Compared, LR, compare, makeBatch } from './lenet.js';
import { type TimingOptions, fmtRate, fmtRatio, measureRate, table } from './measure.js';

/**
 * Tolerance of the check: max |a - b| / max |b| per tensor. Looser than
 * LeNet-5's 1e-3: a batch-norm shift's gradient is a sum over the batch and
 * every pixel that nearly cancels, and float32 lands 6e-3 from float64 there
 * (ResNet-8's bn1.beta: Striate webasm 6.19e-3, TF.js wasm 6.20e-3, the two
 * agreeing with each other); a wrong layout or a stale result is off by O(1).
 */
export const ZOO_RTOL = 1e-2;
/**
 * The tolerance of the gradients after training. Once SGD has moved
 * ResNet-8's weights (20 steps), float32 lands up to 1.2e-2 from float64 on
 * its batch-norm layers' gradients, in Striate (webasm) and TF.js (wasm)
 * alike, the two agreeing with each other to every printed digit; TF.js's
 * cpu backend, which accumulates in float64, stays within 3e-3.
 */
export const AFTER_RTOL = 3e-2;
/** The goal of issue 18: Striate's best at least this multiple of the best TF.js, training and inference, on every model. */
export const ZOO_GOAL = 2;

export { MODEL_NAMES };

/** Each contestant's feeds by input name (Striate layout). */
type Feeds = Record<string, Float32Array>;

/** One model, its data, weights and the float64 reference's results. */
export interface ZooOracle {
  readonly name: ModelName;
  /** Images per training step and per inference batch. */
  readonly trainBatch: number;
  readonly inferBatch: number;
  readonly model: nn.Model;
  readonly params: Record<string, Float32Array>;
  readonly stats: Record<string, Float32Array>;
  readonly masks: Record<string, Float32Array>;
  readonly train: { x: Float32Array; labels: Float32Array };
  /** The batch the check after training uses: not the trained one, so that nothing computed for that batch can pass it. */
  readonly after: { x: Float32Array; labels: Float32Array };
  readonly infer: readonly [Float32Array, Float32Array];
  readonly paramCount: number;
  readonly multiplyAdds: number;
  /** Whether the model normalises over the batch (a data-parallel step would normalise each part over its own slice). */
  readonly batchNorm: boolean;
  readonly ref: Results;
  /** The reference's results at `params`, on the batch `after` (the training batch: `ref`). */
  refAt(params: Record<string, Float32Array>): Promise<Results>;
  check(got: Partial<Results>, want: Results, tag?: string, rtol?: number): Compared[];
  checkLogits(logits: readonly ArrayLike<number>[], tag?: string): Compared[];
  nextInferBatch(): Float32Array;
}

/** Loss, gradients by parameter name and statistics' next values by statistic name. */
export interface Results {
  loss: number;
  grads: Record<string, ArrayLike<number>>;
  stats: Record<string, ArrayLike<number>>;
}

/** The training graph of `batch` images: [loss, ...grads (params order), ...statUpdates (stats order)]. */
export function trainingGraph(model: nn.Model, batch: number) {
  const built = nn.buildModel(model, { batchSize: batch, training: true });
  const labels = input('labels', [batch]);
  const loss = softmaxCrossEntropy(built.output, labels);
  const grads = grad(loss, built.paramTensors);
  return { built, loss, grads, outputs: [loss, ...grads, ...built.statUpdates] as Tensor[] };
}

/** The oracle of zoo model `name`, at the bench's batches unless told (the tests use small ones). */
export async function makeZooOracle(name: ModelName, batches: { train: number; infer: number } = { train: TRAIN_BATCH, infer: INFER_BATCH }): Promise<ZooOracle> {
  const { train: trainBatch, infer: inferBatch } = batches;
  const model = MODELS[name].build([1, 28, 28], 10, {});
  const p = nn.initParams(model, 1);
  const params = Object.fromEntries(Object.entries(p).map(([k, v]) => [k, Float32Array.from(v.data)]));
  const stats = Object.fromEntries(Object.entries(nn.initStats(model)).map(([k, v]) => [k, Float32Array.from(v.data)]));
  const graph = trainingGraph(model, trainBatch);
  // Drawn once, as the trainer draws them (nn.dropoutMask), and fed at every step.
  const masks = Object.fromEntries(graph.built.masks.map((m, i) => [m.name, nn.dropoutMask(m.shape, m.rate, createRng(100 + i))]));
  const train = makeBatch(trainBatch, 7);
  const after = makeBatch(trainBatch, 10);
  const infer = [makeBatch(inferBatch, 8).x, makeBatch(inferBatch, 9).x] as const;
  const sum = nn.summary(model);
  const refOn = async (at: Record<string, Float32Array>, batch: { x: Float32Array; labels: Float32Array }): Promise<Results> => {
    const f = compile(graph.outputs, { backend: 'reference' });
    try {
      return splitResults(graph.built, await f.run({ ...at, ...stats, ...masks, x: batch.x, labels: batch.labels }));
    } finally {
      await f.dispose();
    }
  };
  const ref = await refOn(params, train);
  const refAt = (at: Record<string, Float32Array>) => refOn(at, after);
  const inferGraph = nn.buildModel(model, { batchSize: inferBatch });
  const fi = compile([inferGraph.output], { backend: 'reference' });
  const refLogits: Float64Array[] = [];
  for (const x of infer) refLogits.push(Float64Array.from((await fi.run({ ...params, ...stats, x }))[0].data));
  await fi.dispose();
  let flip = 0;
  return {
    name,
    trainBatch,
    inferBatch,
    model,
    params,
    stats,
    masks,
    train,
    after,
    infer,
    paramCount: sum.totalParams,
    multiplyAdds: sum.totalMultiplyAdds,
    batchNorm: graph.built.stats.length > 0,
    ref,
    refAt,
    check(got, want, tag = '', rtol = ZOO_RTOL) {
      const out: Compared[] = [];
      if (got.loss !== undefined) out.push(compare(`${tag}loss`, [got.loss], [want.loss], ZOO_RTOL));
      for (const [k, w] of Object.entries(want.grads)) out.push(got.grads?.[k] ? compare(`${tag}d${k}`, got.grads[k], w, rtol) : { name: `${tag}d${k}`, relErr: Infinity, ok: false });
      for (const [k, w] of Object.entries(want.stats)) if (got.stats) out.push(got.stats[k] ? compare(`${tag}${k}`, got.stats[k], w, ZOO_RTOL) : { name: `${tag}${k}`, relErr: Infinity, ok: false });
      return out;
    },
    checkLogits(logits, tag = '') {
      return logits.map((l, k) => compare(`${tag}logits${k}`, l, refLogits[k], ZOO_RTOL));
    },
    nextInferBatch() {
      return infer[flip++ & 1];
    },
  };
}

function splitResults(built: nn.BuiltModel, out: readonly { data: ArrayLike<number> }[]): Results {
  const np = built.params.length;
  return {
    loss: out[0].data[0],
    grads: Object.fromEntries(built.params.map((p, i) => [p.name, out[1 + i].data])),
    stats: Object.fromEntries(built.stats.map((s, i) => [s.name, out[1 + np + i].data])),
  };
}

/** Striate on `backend` (with `threads` above 1: data-parallel on webasm). */
export async function runZooStriate(backend: BackendName, o: ZooOracle, opts: TimingOptions, env: Env, threads = 1, note?: string): Promise<Entry> {
  const label = threads > 1 ? `${backend}×${threads}` : backend;
  const entry: Entry = { library: 'Striate', backend: label, ...(threads > 1 ? { threads } : {}), ...(note ? { note } : {}), ...(env.load1m ? { load1m: env.load1m() } : {}) };
  env.log(`bench: ${o.name}: Striate ${label}: check, train, check, infer, check`);
  const details: Compared[] = [];
  const parallel = (outputs: Tensor[], split: string[], combine: Combine[]) =>
    threads > 1 ? compileParallel(outputs, { backend: backend as 'webasm', threads, split, combine }) : compile(outputs, { backend });
  try {
    const g = trainingGraph(o.model, o.trainBatch / threads);
    const f = parallel(g.outputs, ['x', 'labels', ...g.built.masks.map((m) => m.name)], g.outputs.map((): Combine => 'mean'));
    const params = Object.fromEntries(Object.entries(o.params).map(([k, v]) => [k, v.slice()]));
    const feeds: Feeds = { ...params, ...o.stats, ...o.masks, x: o.train.x, labels: o.train.labels };
    const names = g.built.params.map((p) => p.name);
    try {
      const t0 = performance.now();
      details.push(...o.check(splitResults(g.built, await f.run(feeds)), o.ref));
      entry.firstMs = performance.now() - t0;
      const step = async () => {
        const out = await f.run(feeds);
        names.forEach((n, i) => {
          const p = params[n];
          const d = out[1 + i].data;
          for (let j = 0; j < p.length; j++) p[j] -= LR * d[j];
        });
        return out[0].data[0];
      };
      entry.train = await measureRate(step, o.trainBatch, opts).catch((e) => ({ error: errText(e) }));
      const got = splitResults(g.built, await f.run({ ...feeds, x: o.after.x, labels: o.after.labels }));
      details.push(...o.check(got, await o.refAt(params), 'after training: ', AFTER_RTOL));
    } finally {
      await f.dispose();
    }
    const gi = nn.buildModel(o.model, { batchSize: o.inferBatch / threads });
    const fi = parallel([gi.output], ['x'], ['concat']);
    const ifeeds: Feeds = { ...o.params, ...o.stats };
    const infer = async (x: Float32Array) => {
      ifeeds.x = x;
      return (await fi.run(ifeeds))[0].data;
    };
    try {
      details.push(...o.checkLogits([await infer(o.infer[0]), await infer(o.infer[1])]));
      entry.infer = await measureRate(() => infer(o.nextInferBatch()), o.inferBatch, opts).catch((e) => ({ error: errText(e) }));
      details.push(...o.checkLogits([await infer(o.infer[0]), await infer(o.infer[1])], 'after timing: '));
    } finally {
      await fi.dispose();
    }
    entry.check = summarizeCheck(details);
  } catch (e) {
    entry.check = { error: errText(e) };
    env.log(`bench: ${o.name}: Striate ${label} failed: ${errText(e)}`);
  }
  return entry;
}

type TfTensor = import('@tensorflow/tfjs').Tensor;

/** A zoo model in TF.js on its current backend: the oracle's graph translated (lib/graph-tfjs.ts), its weights, data and masks. */
export interface TfZooModel {
  /** Loss, gradients and statistics' updates at the current weights (Striate's layouts), no update. */
  lossAndGrads(): Promise<Results>;
  /** One `tf.train.sgd` step on the oracle's training batch; resolves to the loss. */
  trainStep(): Promise<number>;
  /** Logits of an inference batch (NCHW images, as Striate takes them). */
  infer(x: Float32Array): Promise<Float32Array>;
  dispose(): void;
}

export async function tfjsZooModel(o: ZooOracle): Promise<TfZooModel> {
  const { tf } = await import('./tfjs.js');
  const { tfGraph } = await import('./graph-tfjs.js');
  const built = nn.buildModel(o.model, { batchSize: o.trainBatch, training: true });
  const builtInfer = nn.buildModel(o.model, { batchSize: o.inferBatch });
  const names = built.params.map((p) => p.name);
  const kept: TfTensor[] = [];
  const g = tfGraph([built.output, ...built.statUpdates]);
  const gi = tfGraph([builtInfer.output]);
  const constant = (graph: typeof g, name: string, data: Float32Array) => {
    const t = tf.keep(tf.tensor(graph.toTf(name, data), graph.inputs.get(name)!.tfShape, 'float32'));
    kept.push(t);
    return t;
  };
  const vars = Object.fromEntries(names.map((n) => [n, tf.variable(tf.tensor(g.toTf(n, o.params[n]), g.inputs.get(n)!.tfShape, 'float32'), true)]));
  kept.push(...Object.values(vars));
  const varList = names.map((n) => vars[n]);
  const fixed: Record<string, TfTensor> = { ...vars };
  for (const [k, v] of Object.entries(o.stats)) fixed[k] = constant(g, k, v);
  for (const [k, v] of Object.entries(o.masks)) fixed[k] = constant(g, k, v);
  fixed.x = constant(g, 'x', o.train.x);
  const labels = tf.keep(tf.oneHot(tf.tensor1d(Int32Array.from(o.train.labels), 'int32'), 10));
  kept.push(labels);
  const ifixed: Record<string, TfTensor> = { ...vars };
  for (const [k, v] of Object.entries(o.stats)) ifixed[k] = constant(gi, k, v);
  const opt = tf.train.sgd(LR);
  // The loss TF.js minimises; the statistics' updates are computed on the way, as Striate's step computes them.
  const lossOf = (out: TfTensor[]) => tf.losses.softmaxCrossEntropy(labels, out[0]) as import('@tensorflow/tfjs').Scalar;
  return {
    async lossAndGrads() {
      const r = tf.tidy(() => {
        let stats: TfTensor[] = [];
        const vg = tf.variableGrads(() => {
          const out = g.run(fixed);
          stats = out.slice(1).map((s) => tf.keep(s));
          return lossOf(out);
        }, varList);
        return { value: vg.value, grads: vg.grads, stats };
      });
      const out: Results = { loss: (await r.value.data())[0], grads: {}, stats: {} };
      for (const n of names) out.grads[n] = g.fromTf(n, (await r.grads[vars[n].name].data()) as Float32Array);
      for (const [i, s] of built.stats.entries()) out.stats[s.name] = g.fromTf(s.name, (await r.stats[i].data()) as Float32Array);
      tf.dispose([r.value, ...Object.values(r.grads), ...r.stats]);
      return out;
    },
    async trainStep() {
      const cost = tf.tidy(() => opt.minimize(() => lossOf(g.run(fixed)), true, varList)!);
      const v = (await cost.data())[0];
      cost.dispose();
      return v;
    },
    async infer(x) {
      const out = tf.tidy(() => gi.run({ ...ifixed, x: tf.tensor(gi.toTf('x', x), gi.inputs.get('x')!.tfShape, 'float32') })[0]);
      const data = (await out.data()) as Float32Array;
      out.dispose();
      return data;
    },
    dispose() {
      opt.dispose();
      tf.dispose(kept);
    },
  };
}

/** TF.js on its current backend (the caller has run tf.setBackend and, on wasm, patched the filter gradient in). */
export async function runZooTfjs(o: ZooOracle, opts: TimingOptions, env: Env, patched?: { text: string; mark: string }): Promise<Entry> {
  const { tf } = await import('./tfjs.js');
  const backend = tf.getBackend();
  const entry: Entry = { library: 'TF.js', backend, ...(env.load1m ? { load1m: env.load1m() } : {}) };
  if (patched) Object.assign(entry, { trainPatched: patched.text, patchMark: patched.mark });
  env.log(`bench: ${o.name}: TF.js ${backend}: check, infer, check, train`);
  let m: TfZooModel | null = null;
  try {
    m = await tfjsZooModel(o);
    const t0 = performance.now();
    const details = o.check(await m.lossAndGrads(), o.ref);
    entry.firstMs = performance.now() - t0;
    const { infer } = m;
    details.push(...o.checkLogits([await infer(o.infer[0]), await infer(o.infer[1])]));
    entry.infer = await measureRate(() => infer(o.nextInferBatch()), o.inferBatch, opts).catch((e) => ({ error: errText(e) }));
    details.push(...o.checkLogits([await infer(o.infer[0]), await infer(o.infer[1])], 'after timing: '));
    entry.check = summarizeCheck(details);
    entry.train = await measureRate(m.trainStep, o.trainBatch, opts).catch((e) => ({ error: errText(e) }));
  } catch (e) {
    entry.check ??= { error: errText(e) };
    env.log(`bench: ${o.name}: TF.js ${backend} failed: ${errText(e)}`);
  } finally {
    m?.dispose();
  }
  return entry;
}

/** One model's outcome: its contestants and the ratios of the bests. */
export interface ZooResult {
  model: ModelName;
  params: number;
  multiplyAdds: number;
  entries: Entry[];
  train: ZooSide;
  infer: ZooSide;
}

/** One way (training or inference): each library's best trusted rate, and Striate's as a multiple of TF.js's. */
export interface ZooSide {
  striate: { backend: string; rate: number } | null;
  tfjs: { backend: string; rate: number } | null;
  ratio: number | null;
}

export function zooResult(o: ZooOracle, entries: Entry[]): ZooResult {
  const side = (key: 'train' | 'infer'): ZooSide => {
    const [s, t] = [best(entries, 'Striate', key), best(entries, 'TF.js', key)];
    return {
      striate: s && { backend: s.entry.backend, rate: s.rate },
      tfjs: t && { backend: t.entry.backend, rate: t.rate },
      ratio: s && t ? s.rate / t.rate : null,
    };
  };
  return { model: o.name, params: o.paramCount, multiplyAdds: o.multiplyAdds, entries, train: side('train'), infer: side('infer') };
}

/** `--model` names: the zoo's, or `all`. */
export function parseModels(list: readonly string[]): ModelName[] {
  const names = list.flatMap((m) => (m === 'all' ? [...MODEL_NAMES] : [m]));
  for (const m of names) if (!(MODEL_NAMES as readonly string[]).includes(m)) throw new Error(`bench: --model takes ${MODEL_NAMES.join(', ')} or all; got ${m}`);
  return [...new Set(names)] as ModelName[];
}

/** The table across models: each side's best, TF.js's, and the ratio against the goal. */
export function renderZooSummary(results: readonly ZooResult[]): string[] {
  const rows = results.map((r) => {
    const side = ({ striate: s, tfjs: t, ratio }: ZooSide) => [s ? `${fmtRate(s.rate)} (${s.backend})` : '—', t ? fmtRate(t.rate) : '—', ratio === null ? '—' : fmtRatio(ratio)];
    const ok = (r.train.ratio ?? 0) >= ZOO_GOAL && (r.infer.ratio ?? 0) >= ZOO_GOAL;
    return [r.model, r.params.toLocaleString('en-US'), (r.multiplyAdds / 1e6).toFixed(2), ...side(r.train), ...side(r.infer), ok ? 'met' : 'NOT met'];
  });
  return [
    table(['model', 'params', 'M mult-adds/img', 'Striate train img/s', 'TF.js', 'ratio', 'Striate infer img/s', 'TF.js', 'ratio', `goal ${ZOO_GOAL}x both`], rows),
    '',
    `ratio = Striate's best / TF.js's best (its wasm backend, training with the bench's im2col filter-gradient patch), each checked against the float64 reference`,
  ];
}
