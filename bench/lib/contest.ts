/**
 * The contestants of the LeNet-5 bench and their correctness guard, shared by
 * the Node bench (bench/run.ts) and the browser bench (bench/browser/page.ts).
 * Environment-neutral.
 *
 * Each contestant is checked before it is timed: its loss and gradients at
 * the same weights, and its logits, against Striate's float64 reference
 * backend (TF.js and ConvNetJS get the weights copied across layouts). After
 * timing it is checked again: Striate's trainer at the weights its SGD steps
 * reached (so a backend that skipped work or returned stale results fails),
 * and every inference on two batches that the timed loop alternated.
 */
import type { BackendName } from '../../src/index.js';
import { type Compared, PARAM_NAMES, type Params, compare, initParams, makeBatch } from './lenet.js';
import { type Rate, type TimingOptions, fmtMs, fmtRate, fmtRatio, measureRate, table } from './measure.js';
import { striateInferer, striateTrainer } from './striate.js';
import type { PatchKind } from './tfjs-wasm-patch.js';

export const TRAIN_BATCH = 64;
export const INFER_BATCH = 256;
export const RTOL = 1e-3;

export type Outcome<T> = T | { error: string };
export const isErr = <T>(x: Outcome<T> | undefined): x is { error: string } => !!x && typeof x === 'object' && 'error' in x;
export const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 300);

export interface Check {
  readonly ok: boolean;
  /** Worst relative error over loss, gradients and logits. */
  readonly worst: number;
  readonly against: string;
  readonly details: Compared[];
}

/**
 * The contestants. ONNX Runtime (native, inference only) is the practical
 * limit on this CPU, measured as a reference point: shown with its ratio,
 * never counted as a peer to beat.
 */
export type Library = 'Striate' | 'TF.js' | 'ConvNetJS' | 'ONNX Runtime';

export interface Entry {
  library: Library;
  backend: string;
  /** Threads of a data-parallel Striate contestant (compileParallel on webasm); absent for one. */
  threads?: number;
  note?: string;
  unavailable?: string;
  check?: Check | { error: string };
  train?: Outcome<Rate>;
  /** Training measured with a kernel the bench patched into the library. */
  trainPatched?: string;
  /** The footnote mark of that patch in the table. */
  patchMark?: string;
  /** Why training cannot run out of the box. */
  trainUnsupported?: string;
  infer?: Outcome<Rate>;
  /** 1-minute load average when the contestant started (Node only). */
  load1m?: number;
  /** The first training call: compiling (Striate: kernels and pipeline) and running it, ms. */
  firstMs?: number;
}

export interface Env {
  log(msg: string): void;
  /** 1-minute load average, where the host can tell. */
  load1m?(): number;
}

export function summarizeCheck(details: Compared[], against = "Striate's reference backend (float64)"): Check {
  const worst = Math.max(0, ...details.map((d) => d.relErr));
  return { ok: details.every((d) => d.ok), worst, against, details };
}

type LossGrads = { loss: number; grads: Record<string, ArrayLike<number>> };

/** The fixed data, the initial weights and what the float64 reference makes of them. */
export interface Oracle {
  readonly params: Params;
  readonly train: { x: Float32Array; labels: Float32Array };
  /** Two inference batches, alternated while timing. */
  readonly infer: readonly [{ x: Float32Array }, { x: Float32Array }];
  readonly ref: LossGrads;
  refAt(p: Params): Promise<LossGrads>;
  checkGrads(loss: number, grads: Partial<Record<string, ArrayLike<number>>>, want: LossGrads, tag?: string): Compared[];
  checkLogits(logits: readonly ArrayLike<number>[], tag?: string): Compared[];
  nextInferBatch(): Float32Array;
}

export async function makeOracle(): Promise<Oracle> {
  const params = initParams(1);
  const train = makeBatch(TRAIN_BATCH, 7);
  const infer = [makeBatch(INFER_BATCH, 8), makeBatch(INFER_BATCH, 9)] as const;
  const refAt = async (p: Params) => {
    const t = striateTrainer('reference', TRAIN_BATCH, p);
    try {
      return await t.lossAndGrads(train.x, train.labels);
    } finally {
      await t.dispose();
    }
  };
  const ref = await refAt(params);
  const refI = striateInferer('reference', INFER_BATCH, params);
  const refLogits = [await refI.infer(infer[0].x), await refI.infer(infer[1].x)].map((l) => Float64Array.from(l));
  await refI.dispose();
  let flip = 0;
  return {
    params,
    train,
    infer,
    ref,
    refAt,
    checkGrads(loss, grads, want, tag = '') {
      const details = [compare(`${tag}loss`, [loss], [want.loss], RTOL)];
      for (const name of PARAM_NAMES) {
        const g = grads[name];
        if (g) details.push(compare(`${tag}d${name}`, g, want.grads[name], RTOL));
      }
      return details;
    },
    checkLogits(logits, tag = '') {
      return logits.map((l, k) => compare(`${tag}logits${k}`, l, refLogits[k], RTOL));
    },
    nextInferBatch() {
      return infer[flip++ & 1].x;
    },
  };
}

/** The name of a data-parallel contestant: `webasm×2` for two threads. */
export const parallelName = (backend: string, threads: number): string => `${backend}×${threads}`;

/**
 * Striate on one backend: check, time training, check at the trained weights, check and time inference, check again.
 * `threads` above 1: data-parallel on webasm (compileParallel), named {@link parallelName}.
 */
export async function runStriate(backend: BackendName, o: Oracle, opts: TimingOptions, env: Env, note?: string, threads = 1): Promise<Entry> {
  const name = threads > 1 ? parallelName(backend, threads) : backend;
  const entry: Entry = { library: 'Striate', backend: name, ...(threads > 1 ? { threads } : {}), ...(note ? { note } : {}), ...(env.load1m ? { load1m: env.load1m() } : {}) };
  env.log(`bench: Striate ${name}: check, train, check, infer, check`);
  const details: Compared[] = [];
  try {
    const t = striateTrainer(backend, TRAIN_BATCH, o.params, threads);
    try {
      const t0 = performance.now();
      const got = await t.lossAndGrads(o.train.x, o.train.labels);
      entry.firstMs = performance.now() - t0;
      details.push(...o.checkGrads(got.loss, got.grads, o.ref));
      entry.train = await measureRate(() => t.trainStep(o.train.x, o.train.labels), TRAIN_BATCH, opts).catch((e) => ({ error: errText(e) }));
      const after = await t.lossAndGrads(o.train.x, o.train.labels);
      details.push(...o.checkGrads(after.loss, after.grads, await o.refAt(t.params), 'after training: '));
    } finally {
      await t.dispose();
    }
    const i = striateInferer(backend, INFER_BATCH, o.params, threads);
    try {
      details.push(...o.checkLogits([await i.infer(o.infer[0].x), await i.infer(o.infer[1].x)]));
      entry.infer = await measureRate(() => i.infer(o.nextInferBatch()), INFER_BATCH, opts).catch((e) => ({ error: errText(e) }));
      details.push(...o.checkLogits([await i.infer(o.infer[0].x), await i.infer(o.infer[1].x)], 'after timing: '));
    } finally {
      await i.dispose();
    }
    entry.check = backend === 'reference' ? { ok: true, worst: 0, against: 'itself (the oracle)', details: [] } : summarizeCheck(details);
  } catch (e) {
    entry.check = { error: errText(e) };
    env.log(`bench: Striate ${name} failed: ${errText(e)}`);
  }
  return entry;
}

/**
 * TF.js on its current backend (the caller has run tf.setBackend). On 'wasm'
 * without a Conv2DBackpropFilter kernel: record that training fails out of
 * the box, then patch a kernel in (bench/lib/tfjs-wasm-patch.ts: `patch`,
 * default 'js') and mark the training numbers as patched. `trainOnly` skips
 * the inference timing (for a second patch on the same backend).
 */
export async function runTfjs(o: Oracle, opts: TimingOptions, env: Env, options: { note?: string; patch?: PatchKind; trainOnly?: boolean } = {}): Promise<Entry> {
  const { tf, tfLenet } = await import('./tfjs.js');
  const { patchWasmConv2DBackpropFilter, wasmHasConv2DBackpropFilter, patchedKind, patchNote } = await import('./tfjs-wasm-patch.js');
  const backend = tf.getBackend();
  const entry: Entry = { library: 'TF.js', backend, ...(options.note ? { note: options.note } : {}), ...(env.load1m ? { load1m: env.load1m() } : {}) };
  env.log(`bench: TF.js ${backend}${options.patch ? ` (patch ${options.patch})` : ''}: check, ${options.trainOnly ? '' : 'infer, check, '}train`);
  const m = tfLenet(o.params);
  try {
    if (backend === 'wasm') {
      if (!wasmHasConv2DBackpropFilter(tf)) {
        try {
          await m.trainStep(o.train.x, o.train.labels);
        } catch (e) {
          entry.trainUnsupported = errText(e);
        }
      }
      if (!wasmHasConv2DBackpropFilter(tf) || patchedKind()) {
        const kind = options.patch ?? 'js';
        patchWasmConv2DBackpropFilter(tf, kind);
        entry.trainPatched = patchNote(kind);
        entry.patchMark = kind === 'js' ? '*' : '**';
      }
    }
    const t0 = performance.now();
    const got = await m.lossAndGrads(o.train.x, o.train.labels);
    entry.firstMs = performance.now() - t0;
    const details = o.checkGrads(got.loss, got.grads, o.ref);
    if (!options.trainOnly) {
      details.push(...o.checkLogits([await m.infer(o.infer[0].x), await m.infer(o.infer[1].x)]));
      entry.infer = await measureRate(() => m.infer(o.nextInferBatch()), INFER_BATCH, opts).catch((e) => ({ error: errText(e) }));
      details.push(...o.checkLogits([await m.infer(o.infer[0].x), await m.infer(o.infer[1].x)], 'after timing: '));
    }
    entry.check = summarizeCheck(details);
    entry.train = await measureRate(() => m.trainStep(o.train.x, o.train.labels), TRAIN_BATCH, opts).catch((e) => ({ error: errText(e) }));
  } catch (e) {
    entry.check ??= { error: errText(e) };
    env.log(`bench: TF.js ${backend} failed: ${errText(e)}`);
  } finally {
    m.dispose();
  }
  return entry;
}

export async function runConvnetjs(o: Oracle, opts: TimingOptions, env: Env): Promise<Entry> {
  const { convnetjsLenet, toVols } = await import('./convnetjs.js');
  const entry: Entry = { library: 'ConvNetJS', backend: 'js', note: '0.3, float64, one image at a time', ...(env.load1m ? { load1m: env.load1m() } : {}) };
  env.log('bench: ConvNetJS: check, infer, train');
  try {
    const xs = toVols(o.train.x);
    const xi = toVols(o.infer[0].x);
    const t0 = performance.now();
    const got = convnetjsLenet(o.params, TRAIN_BATCH).lossAndGrads(xs, o.train.labels);
    entry.firstMs = performance.now() - t0;
    entry.check = summarizeCheck(o.checkGrads(got.loss, got.grads, o.ref));
    const m = convnetjsLenet(o.params, TRAIN_BATCH);
    entry.infer = await measureRate(() => m.infer(xi), INFER_BATCH, opts);
    entry.train = await measureRate(() => m.trainBatch(xs, o.train.labels), TRAIN_BATCH, opts);
  } catch (e) {
    entry.check ??= { error: errText(e) };
  }
  return entry;
}

export const rateOf = (r: Outcome<Rate> | undefined): number | null => (r && !isErr(r) ? r.median : null);
export const trusted = (e: Entry): boolean => !!e.check && !isErr(e.check) && e.check.ok;

/** Striate's reference backend is the oracle (a float64 interpreter), shown but never a candidate for "best". */
export const isOracle = (e: Entry): boolean => e.library === 'Striate' && e.backend === 'reference';

export function best(entries: readonly Entry[], lib: Library, key: 'train' | 'infer'): { entry: Entry; rate: number } | null {
  let top: { entry: Entry; rate: number } | null = null;
  for (const e of entries) {
    const r = rateOf(e[key]);
    if (e.library === lib && !isOracle(e) && trusted(e) && r !== null && (!top || r > top.rate)) top = { entry: e, rate: r };
  }
  return top;
}

export interface Summary {
  striateBestTrain: { backend: string; imagesPerSec: number } | null;
  striateBestInfer: { backend: string; imagesPerSec: number } | null;
  tfjsBestTrain: { backend: string; imagesPerSec: number; patched: boolean } | null;
  tfjsBestInfer: { backend: string; imagesPerSec: number } | null;
  targets: { trainImagesPerSec: number; inferImagesPerSec: number };
  trainTargetMet: boolean | null;
  inferTargetMet: boolean | null;
  fasterThanEveryPeerTrain: boolean | null;
  fasterThanEveryPeerInfer: boolean | null;
  /** ONNX Runtime's native inference, the reference point (not a peer), and Striate's best inference as a share of it. */
  onnxRuntimeInfer: { imagesPerSec: number; striateShare: number | null } | null;
  /** The data-parallel contestant against webasm on one thread in this run (goal: at least 1.8x both ways on two threads). */
  dataParallel: { backend: string; threads: number; trainRatio: number | null; inferRatio: number | null } | null;
}

/** The data-parallel contestant's rates as multiples of webasm's on one thread. */
function dataParallelOf(entries: readonly Entry[]): Summary['dataParallel'] {
  const many = entries.find((e) => e.library === 'Striate' && e.threads !== undefined && trusted(e));
  const one = entries.find((e) => e.library === 'Striate' && e.backend === 'webasm' && trusted(e));
  if (!many || !one) return null;
  const ratio = (key: 'train' | 'infer') => {
    const a = rateOf(many[key]);
    const b = rateOf(one[key]);
    return a !== null && b !== null ? a / b : null;
  };
  return { backend: many.backend, threads: many.threads!, trainRatio: ratio('train'), inferRatio: ratio('infer') };
}

export function summarize(entries: readonly Entry[]): Summary {
  const bs = { train: best(entries, 'Striate', 'train'), infer: best(entries, 'Striate', 'infer') };
  const bt = { train: best(entries, 'TF.js', 'train'), infer: best(entries, 'TF.js', 'infer') };
  const peersBest = (key: 'train' | 'infer') => Math.max(0, ...entries.filter((e) => e.library !== 'Striate' && e.library !== 'ONNX Runtime' && trusted(e)).map((e) => rateOf(e[key]) ?? 0));
  const ort = best(entries, 'ONNX Runtime', 'infer');
  return {
    striateBestTrain: bs.train ? { backend: bs.train.entry.backend, imagesPerSec: bs.train.rate } : null,
    striateBestInfer: bs.infer ? { backend: bs.infer.entry.backend, imagesPerSec: bs.infer.rate } : null,
    tfjsBestTrain: bt.train ? { backend: bt.train.entry.backend, imagesPerSec: bt.train.rate, patched: !!bt.train.entry.trainPatched } : null,
    tfjsBestInfer: bt.infer ? { backend: bt.infer.entry.backend, imagesPerSec: bt.infer.rate } : null,
    targets: { trainImagesPerSec: 3000, inferImagesPerSec: 20000 },
    trainTargetMet: bs.train ? bs.train.rate >= 3000 : null,
    inferTargetMet: bs.infer ? bs.infer.rate >= 20000 : null,
    fasterThanEveryPeerTrain: bs.train ? bs.train.rate > peersBest('train') : null,
    fasterThanEveryPeerInfer: bs.infer ? bs.infer.rate > peersBest('infer') : null,
    onnxRuntimeInfer: ort ? { imagesPerSec: ort.rate, striateShare: bs.infer ? bs.infer.rate / ort.rate : null } : null,
    dataParallel: dataParallelOf(entries),
  };
}

/** The main table with its notes, as printed. */
export function renderMain(entries: readonly Entry[], opts: { withCpu: boolean; withLoad: boolean; targets: boolean; checkNote?: boolean }): string[] {
  const bestTf = { train: best(entries, 'TF.js', 'train'), infer: best(entries, 'TF.js', 'infer') };
  const out: string[] = [];
  out.push(`xTF.js = images/s / best TF.js backend in this run${bestTf.train?.entry.trainPatched ? ' (for training, the patched TF.js wasm counts)' : ''}`, '');
  const checkText = (e: Entry) => {
    if (e.unavailable) return 'n/a';
    if (!e.check) return '—';
    if (isErr(e.check)) return 'ERROR';
    if (e.backend === 'reference' && e.library === 'Striate') return 'oracle';
    return `${e.check.ok ? 'ok' : 'FAIL'} ${e.check.worst.toExponential(0)}`;
  };
  const perCpuS = (r: Outcome<Rate> | undefined, items: number) => (r && !isErr(r) && r.cpuMsPerStep ? (items * 1000) / r.cpuMsPerStep : null);
  const rows = entries.map((e) => {
    const tr = rateOf(e.train);
    const inf = rateOf(e.infer);
    const trText = e.unavailable ? 'n/a' : isErr(e.train) ? 'error' : tr === null ? (e.trainUnsupported ? 'unsupported' : '—') : fmtRate(tr) + (e.trainPatched ? (e.patchMark ?? '*') : '');
    return [
      e.library,
      e.backend + (e.note && e.library !== 'ConvNetJS' ? ` (${e.note})` : ''),
      checkText(e),
      trText,
      tr !== null && bestTf.train ? fmtRatio(tr / bestTf.train.rate) : '—',
      ...(opts.withCpu ? [fmtRate(perCpuS(e.train, TRAIN_BATCH))] : []),
      e.unavailable ? 'n/a' : isErr(e.infer) ? 'error' : fmtRate(inf),
      inf !== null && bestTf.infer ? fmtRatio(inf / bestTf.infer.rate) : '—',
      ...(opts.withCpu ? [fmtRate(perCpuS(e.infer, INFER_BATCH))] : []),
      fmtMs(e.firstMs),
      ...(opts.withLoad ? [e.load1m === undefined ? '—' : e.load1m.toFixed(2)] : []),
    ];
  });
  const cpuCol = opts.withCpu ? ['img/CPU-s'] : [];
  out.push(
    table(
      ['library', 'backend', 'check', 'train img/s', 'xTF.js', ...cpuCol, 'infer img/s', 'xTF.js', ...cpuCol, 'compile+1st', ...(opts.withLoad ? ['load'] : [])],
      rows,
    ),
    '',
    ...(opts.checkNote === false
      ? []
      : [
          `check: loss, every gradient and the logits at the same weights against Striate's float64 reference, before and after timing (Striate: again at the`,
          `  weights its SGD steps reached; inference alternates two batches, so stale results fail); max |a-b| / max|b| per tensor, worst shown; tolerance ${RTOL}`,
        ]),
    ...(opts.withCpu ? ['img/CPU-s: images per second of process CPU time (all threads): less sensitive to other load on the machine, but no credit for using several cores'] : []),
    `compile+1st: the first training call (building kernels, first run; ONNX Runtime: creating its session)${opts.withLoad ? '; load: 1-minute load average when the contestant started' : ''}`,
    ...(entries.some(isOracle) ? ["Striate's reference backend is the float64 oracle, not a device backend: shown, never counted as Striate's best"] : []),
  );
  for (const e of entries) {
    if (e.unavailable) out.push(`${e.library} ${e.backend}: not available: ${e.unavailable}`);
    if (e.trainUnsupported) out.push(`${e.library} ${e.backend}: cannot train out of the box: ${e.trainUnsupported}`);
    if (e.trainPatched) out.push(`${e.patchMark ?? '*'} ${e.library} ${e.backend} training is PATCHED: ${e.trainPatched}${e.infer ? '; its inference is unpatched' : ''}`);
    if (e.check && isErr(e.check)) out.push(`${e.library} ${e.backend}: error: ${e.check.error}`);
    if (isErr(e.train)) out.push(`${e.library} ${e.backend}: training error: ${e.train.error}`);
    if (isErr(e.infer)) out.push(`${e.library} ${e.backend}: inference error: ${e.infer.error}`);
    if (e.check && !isErr(e.check) && !e.check.ok) {
      const bad = e.check.details.filter((d) => !d.ok);
      out.push(`${e.library} ${e.backend}: CHECK FAILED (numbers not trusted): ${bad.slice(0, 6).map((d) => `${d.name} ${d.relErr.toExponential(1)}`).join(', ')}${bad.length > 6 ? ', ...' : ''}`);
    }
  }
  const s = summarize(entries);
  if (s.striateBestTrain || s.striateBestInfer) {
    out.push('');
    if (opts.targets) out.push(
      `Striate best: training ${fmtRate(s.striateBestTrain?.imagesPerSec)} img/s (${s.striateBestTrain?.backend ?? '—'}; target 3,000: ${s.trainTargetMet ? 'met' : 'NOT met'}), ` +
        `inference ${fmtRate(s.striateBestInfer?.imagesPerSec)} img/s (${s.striateBestInfer?.backend ?? '—'}; target 20,000: ${s.inferTargetMet ? 'met' : 'NOT met'})`,
    );
    else out.push(`Striate best: training ${fmtRate(s.striateBestTrain?.imagesPerSec)} img/s (${s.striateBestTrain?.backend ?? '—'}), inference ${fmtRate(s.striateBestInfer?.imagesPerSec)} img/s (${s.striateBestInfer?.backend ?? '—'})`);
    out.push(
      `faster than every peer in this run: training ${s.fasterThanEveryPeerTrain ? 'yes' : 'NO'}, inference ${s.fasterThanEveryPeerInfer ? 'yes' : 'NO'}`,
    );
    if (s.dataParallel) {
      const d = s.dataParallel;
      const goal = d.threads === 2 ? ` (goal on two threads: 1.8x: ${(d.trainRatio ?? 0) >= 1.8 && (d.inferRatio ?? 0) >= 1.8 ? 'met' : 'NOT met'})` : '';
      out.push(`data-parallel ${d.backend} against webasm on one thread: training ${d.trainRatio === null ? '—' : fmtRatio(d.trainRatio)}, inference ${d.inferRatio === null ? '—' : fmtRatio(d.inferRatio)}${goal}`);
    }
    if (s.onnxRuntimeInfer?.striateShare != null) {
      const times = 1 / s.onnxRuntimeInfer.striateShare;
      out.push(
        `ONNX Runtime native (a reference point, not a peer): inference ${fmtRate(s.onnxRuntimeInfer.imagesPerSec)} img/s; Striate's best is ${fmtRatio(s.onnxRuntimeInfer.striateShare)} of it, ` +
          `${times.toFixed(1)}x behind (goal: within 3x: ${times <= 3 ? 'met' : 'NOT met'})`,
      );
    }
  }
  return out;
}
