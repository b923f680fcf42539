/**
 * `npm run bench`: LeNet-5 training and inference images/second for Striate
 * on every Node backend, side by side with TensorFlow.js (cpu and wasm) and
 * ConvNetJS, in one run; then a per-op table against TF.js and a per-node
 * profile of Striate's training step. Prints the tables and writes JSON
 * (bench/results/latest.json). `npm run bench -- --help` lists the flags.
 *
 * Every contestant is checked before and after it is timed (see
 * lib/contest.ts): loss, gradients and logits at the same weights against
 * Striate's float64 reference backend. A contestant that fails the check is
 * shown as FAIL and never counts as "best".
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setup as setupDisplay, teardown as teardownDisplay } from '../test/setup/display.js';
import { type BenchArgs, USAGE, parseArgs } from './lib/args.js';
import type { Breakdown } from './lib/breakdown.js';
import {
  type Entry,
  type Env,
  INFER_BATCH,
  TRAIN_BATCH,
  best,
  errText,
  isErr,
  makeOracle,
  rateOf,
  renderMain,
  parallelName,
  runConvnetjs,
  runStriate,
  runTfjs,
  summarize,
} from './lib/contest.js';
import { LR } from './lib/lenet.js';
import { runOnnxRuntime } from './lib/onnxruntime.js';
import { type TimingOptions, fmtMs, fmtRatio, table } from './lib/measure.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** --backends: Node backends, and webasm-parallel (data-parallel: webasm on every core up to 4, compileParallel). */
const STRIATE_BACKENDS = ['reference', 'cpu', 'webasm', 'webasm-threads', 'webasm-parallel', 'headlessgl', 'webgpu'] as const;
const PARALLEL_THREADS = Math.min(os.availableParallelism(), 4);
type NodeBackend = Exclude<(typeof STRIATE_BACKENDS)[number], 'webasm-parallel'>;

const loadavg = () => os.loadavg().map((x) => Number(x.toFixed(2)));
const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const env: Env = {
  log: (msg) => process.stderr.write(`${msg}\n`),
  load1m: () => loadavg()[0],
};

/** How a mode runs one Striate contestant: on one backend, or data-parallel on webasm (a string instead: it cannot here, and why). */
interface StriateRunners {
  one(backend: NodeBackend): Promise<Entry>;
  parallel(threads: number): Promise<Entry> | string;
}

/**
 * The entries of the Striate backends `--backends` names (`defaults` without
 * it), in order: an unknown name is refused before anything runs, WebGPU is
 * enabled first where it is asked for, and a backend this machine lacks is
 * an entry with the reason instead of a timing.
 */
async function striateEntries(given: readonly string[] | null | undefined, defaults: readonly string[], run: StriateRunners): Promise<Entry[]> {
  const backends = given ?? defaults;
  for (const b of backends) if (!(STRIATE_BACKENDS as readonly string[]).includes(b)) throw new Error(`bench: --backends: unknown Node backend ${b}`);
  const { unavailableReason } = await import('../src/backend/gpujs/gpu.js');
  let webgpuReason: string | null = null;
  if (backends.includes('webgpu')) {
    const { enableNodeWebGPU } = await import('../src/backend/gpujs/node-webgpu.js');
    await enableNodeWebGPU().catch((e) => (webgpuReason = errText(e)));
  }
  const entries: Entry[] = [];
  for (const backend of backends as (NodeBackend | 'webasm-parallel')[]) {
    if (backend === 'webasm-parallel') {
      const ran = PARALLEL_THREADS < 2 ? 'one core here: data parallelism needs two' : run.parallel(PARALLEL_THREADS);
      if (typeof ran === 'string') entries.push({ library: 'Striate', backend: parallelName('webasm', Math.max(2, PARALLEL_THREADS)), unavailable: ran });
      else entries.push(await ran);
      continue;
    }
    const reason = backend === 'reference' ? null : backend === 'webgpu' && webgpuReason ? webgpuReason : unavailableReason(backend);
    if (reason) {
      env.log(`bench: Striate ${backend}: not available: ${reason}`);
      entries.push({ library: 'Striate', backend, unavailable: reason });
      continue;
    }
    entries.push(await run.one(backend));
  }
  return entries;
}

function timing(args: BenchArgs): TimingOptions {
  return args.quick
    ? { rounds: args.rounds, roundMs: 300, warmupMs: 300, warmupSteps: 1, cpuNow }
    : { rounds: args.rounds, roundMs: 1000, warmupMs: 1000, warmupSteps: 2, cpuNow };
}

interface OpRow {
  op: string;
  shapes: string;
  /** Striate, by backend. */
  striate: Record<string, { ms: number } | { error: string }>;
  tfjs: Record<string, { ms: number; patched?: boolean } | { error: string }>;
}

/** Write a results document as JSON (fractions to six significant digits). */
function writeResults(file: string, doc: unknown): void {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileSync(file, JSON.stringify(doc, (_k, v) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(6)) : v), 2) + '\n');
  env.log(`bench: wrote ${file}`);
}

/** TF.js's wasm backend module, its binaries taken from node_modules (no network). */
async function tfjsWasm() {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm')) + path.sep);
  return wasm;
}

type Machine = { cpu: string; cores: number; memoryGiB: number; node: string; platform: string; date: string };

/**
 * `--model`: each zoo model's training step and inference, Striate (webasm,
 * webasm-threads, and data-parallel webasm×N where the model has no batch
 * norm) against TF.js wasm on the same graph (lib/zoo.ts).
 */
async function zooMain(args: BenchArgs, opts: TimingOptions, machine: Machine, loadStart: number[], started: number): Promise<void> {
  const { AFTER_RTOL, ZOO_GOAL, ZOO_RTOL, makeZooOracle, parseModels, renderZooSummary, runZooStriate, runZooTfjs, zooResult } = await import('./lib/zoo.js');
  const models = parseModels(args.models!);
  const { tf, wasmNote } = await import('./lib/tfjs.js');
  const wasm = await tfjsWasm();
  const { patchWasmConv2DBackpropFilter, patchNote } = await import('./lib/tfjs-wasm-patch.js');
  const results = [];
  for (const name of models) {
    env.log(`bench: ${name}: reference loss, gradients, statistics and logits (float64)`);
    const o = await makeZooOracle(name);
    const entries: Entry[] = [];
    if (args.only.has('striate')) {
      entries.push(
        ...(await striateEntries(args.backends, ['webasm', 'webasm-threads', 'webasm-parallel'], {
          one: (b) => runZooStriate(b, o, opts, env),
          parallel: (threads) =>
            o.batchNorm
              ? 'batch norm: each part would normalise over its own slice, so the step differs from the whole batch'
              : runZooStriate('webasm', o, opts, env, threads, `data-parallel: ${threads} threads`),
        })),
      );
    }
    if (args.only.has('tfjs')) {
      if (await tf.setBackend('wasm').catch(() => false)) {
        await tf.ready();
        patchWasmConv2DBackpropFilter(tf, 'matmul');
        const e = await runZooTfjs(o, opts, env, { text: patchNote('matmul'), mark: '**' });
        e.note = await wasmNote(wasm.getThreadsCount);
        entries.push(e);
      } else entries.push({ library: 'TF.js', backend: 'wasm', unavailable: "tf.setBackend('wasm') failed" });
    }
    results.push(zooResult(o, entries));
  }
  const loadEnd = loadavg();
  const durationS = (Date.now() - started) / 1000;
  const out: string[] = [
    `The zoo's models (npm run zoo's defaults, 28x28x1, 10 classes), SGD lr ${LR}: Striate against TF.js on the same graph, weights and data`,
    `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.platform}, ${machine.date}`,
    `load average (1/5/15 min): ${loadStart.join(' ')} at start, ${loadEnd.join(' ')} at end; ${durationS.toFixed(0)} s`,
    `images/s: median of ${args.rounds} rounds${args.quick ? ' (--quick)' : ''}; training batch ${TRAIN_BATCH} (forward, backward, SGD update), inference batch ${INFER_BATCH}; check tolerance ${ZOO_RTOL} (gradients after training ${AFTER_RTOL})`,
  ];
  for (const r of results) {
    out.push('', `== ${r.model}: ${r.params.toLocaleString('en-US')} parameters, ${(r.multiplyAdds / 1e6).toFixed(2)} M multiply-adds per image`, '');
    out.push(...renderMain(r.entries, { withCpu: true, withLoad: true, targets: false, checkNote: false }));
  }
  out.push('', `Summary (goal: Striate's best at least ${ZOO_GOAL}x TF.js's best, training and inference, on every model)`, '', ...renderZooSummary(results));
  out.push(
    '',
    `check: loss, every gradient, the batch-norm statistics' updates and the logits of two inference batches against Striate's float64 reference, before and`,
    `  after timing (Striate again at the weights its SGD steps reached); max |a-b| / max|b| per tensor, worst shown`,
    `TF.js runs the graph translated op for op (bench/lib/graph-tfjs.ts: NHWC, fused conv and dense with bias and relu, its own LRN); its cpu backend is not timed`,
  );
  const text = out.join('\n');
  console.log(text);
  const json = args.jsonGiven ? args.json : path.join(here, 'results', 'models.json');
  if (json) {
    const doc = {
      bench: 'Striate zoo models vs TensorFlow.js (npm run bench -- --model ...)',
      machine,
      load: { start: loadStart, end: loadEnd },
      durationS,
      args: { rounds: args.rounds, quick: args.quick, models, only: [...args.only], backends: args.backends },
      timing: { ...opts, cpuNow: undefined },
      versions: { tfjs: tf.version.tfjs, node: process.version },
      batch: { train: TRAIN_BATCH, infer: INFER_BATCH },
      goal: ZOO_GOAL,
      results,
      table: text,
    };
    writeResults(json, doc);
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), path.join(here, 'results', 'latest.json'));
  if (args.help) {
    console.log(USAGE);
    return;
  }
  const started = Date.now();
  // headless-gl needs an X display: start a private Xvfb when there is none (as the tests do).
  await setupDisplay();
  const loadStart = loadavg();
  const machine = {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    date: new Date().toISOString(),
  };
  env.log(`bench: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; load average ${loadStart.join(' ')}`);
  const opts = timing(args);
  if (args.models) {
    await zooMain(args, opts, machine, loadStart, started);
    return;
  }

  env.log('bench: reference loss, gradients and logits (float64)');
  const oracle = await makeOracle();
  const entries: Entry[] = [];

  // ---- Striate, every Node backend -------------------------------------------------------
  if (args.only.has('striate')) {
    entries.push(
      ...(await striateEntries(args.backends, STRIATE_BACKENDS, {
        one: (b) => runStriate(b, oracle, opts, env, b === 'reference' ? 'float64 interpreter' : undefined),
        parallel: (threads) => runStriate('webasm', oracle, opts, env, `data-parallel: ${threads} threads, one pipeline each`, threads),
      })),
    );
  }

  // ---- TensorFlow.js: cpu, wasm ----------------------------------------------------------
  let tfVersions: { tfjs: string; wasm?: string } | null = null;
  const needTf = args.only.has('tfjs');
  if (needTf) {
    const { tf, wasmNote } = await import('./lib/tfjs.js');
    const wasm = await tfjsWasm();
    tfVersions = { tfjs: tf.version.tfjs };
    for (const backend of ['cpu', 'wasm'] as const) {
      if (!(await tf.setBackend(backend).catch(() => false))) {
        entries.push({ library: 'TF.js', backend, unavailable: `tf.setBackend('${backend}') failed` });
        continue;
      }
      await tf.ready();
      let note: string | undefined;
      if (backend === 'wasm') {
        note = await wasmNote(wasm.getThreadsCount);
        tfVersions.wasm = note;
      }
      entries.push(await runTfjs(oracle, opts, env, { note }));
      // The stronger patch too: TF.js wasm's best possible training number without changing TF.js.
      if (backend === 'wasm') entries.push(await runTfjs(oracle, opts, env, { note, patch: 'matmul', trainOnly: true }));
    }
  }

  // ---- ConvNetJS -------------------------------------------------------------------------
  if (args.only.has('convnetjs')) entries.push(await runConvnetjs(oracle, opts, env));

  // ---- ONNX Runtime, native, inference only: the reference point -------------------------
  if (args.only.has('onnxruntime')) entries.push(await runOnnxRuntime(oracle, opts, env));

  // ---- Per-op table: Striate's best training backend against TF.js -----------------------
  const opRows: OpRow[] = [];
  // The per-op table and the profile time one pipeline: a data-parallel best is webasm's.
  const bestTrain = best(entries, 'Striate', 'train')?.entry;
  const opBackend = (bestTrain?.threads ? 'webasm' : bestTrain?.backend) as NodeBackend | undefined;
  const opBackends = (args.opBackends ?? (opBackend ? [opBackend] : [])) as NodeBackend[];
  if (args.ops && (opBackends.length || needTf)) {
    const { opCases, timeStriateOp, timeTfOp } = await import('./lib/ops.js');
    const opOpts: TimingOptions = { rounds: Math.min(args.rounds, 3), roundMs: args.quick ? 80 : 200, warmupMs: args.quick ? 40 : 100, warmupSteps: 1 };
    const cases = opCases(TRAIN_BATCH);
    for (const c of cases) opRows.push({ op: c.name, shapes: c.shapes, striate: {}, tfjs: {} });
    for (const backend of opBackends) {
      env.log(`bench: per-op timings, Striate ${backend}`);
      for (const [k, c] of cases.entries()) {
        opRows[k].striate[backend] = await timeStriateOp(c, backend, opOpts).then(
          (r) => ({ ms: r.msPerStep }),
          (e) => ({ error: errText(e) }),
        );
      }
    }
    if (needTf) {
      const { tf } = await import('./lib/tfjs.js');
      const { patchWasmConv2DBackpropFilter } = await import('./lib/tfjs-wasm-patch.js');
      // TF.js cpu is far behind wasm and slow to time (seconds per backprop-filter call): left out of --quick.
      for (const backend of args.quick ? (['wasm'] as const) : (['wasm', 'cpu'] as const)) {
        if (!(await tf.setBackend(backend).catch(() => false))) continue;
        if (backend === 'wasm') patchWasmConv2DBackpropFilter(tf, 'matmul');
        env.log(`bench: per-op timings, TF.js ${backend}`);
        for (const [k, c] of cases.entries()) {
          opRows[k].tfjs[backend] = await timeTfOp(c, opOpts).then(
            (r) => ({ ms: r.msPerStep, ...(backend === 'wasm' && c.tfWasmPatched ? { patched: true } : {}) }),
            (e) => ({ error: errText(e) }),
          );
        }
      }
    }
  }

  // ---- Per-node profile of Striate's training step ---------------------------------------
  let breakdown: Breakdown | null = null;
  if (args.breakdown && opBackend) {
    const { pipelineBreakdown, trainingBreakdown } = await import('./lib/breakdown.js');
    const inPipeline = opBackend === 'webasm' || opBackend === 'webasm-threads';
    env.log(`bench: profile of the training step, Striate ${inPipeline ? 'webasm, steps timed inside the pipeline' : opBackend}`);
    breakdown = await (
      inPipeline
        ? pipelineBreakdown(TRAIN_BATCH, { rounds: 3, roundMs: args.quick ? 300 : 1000 })
        : trainingBreakdown(opBackend, TRAIN_BATCH, { rounds: 3, roundMs: args.quick ? 50 : 100, warmupMs: 50, warmupSteps: 1 })
    ).catch((e) => (env.log(`bench: breakdown failed: ${errText(e)}`), null));
  }

  const loadEnd = loadavg();
  const durationS = (Date.now() - started) / 1000;

  // ---- Print -----------------------------------------------------------------------------
  const out: string[] = [
    `LeNet-5 (28x28x1; conv 6@5x5, pool, conv 16@5x5, pool, dense 120-84-10; softmax cross-entropy), SGD lr ${LR}`,
    `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.platform}, ${machine.date}`,
    `load average (1/5/15 min): ${loadStart.join(' ')} at start, ${loadEnd.join(' ')} at end; ${durationS.toFixed(0)} s`,
    `images/s: median of ${args.rounds} rounds${args.quick ? ' (--quick)' : ''}; training batch ${TRAIN_BATCH} (forward, backward, SGD update), inference batch ${INFER_BATCH}`,
    ...renderMain(entries, { withCpu: true, withLoad: true, targets: true }),
  ];

  if (opRows.length) {
    const tfCols = ['wasm', 'cpu'].filter((b) => opRows.some((r) => r.tfjs[b]));
    const ms = (x: OpRow['tfjs'][string] | undefined) =>
      !x ? '—' : isErr(x) ? 'error' : fmtMs(x.ms) + ('patched' in x && x.patched ? '**' : '');
    const rows = opRows.map((r) => {
      const fastest = (xs: (OpRow['tfjs'][string] | undefined)[]) => Math.min(...xs.filter((x): x is { ms: number } => !!x && !isErr(x)).map((x) => x.ms));
      const s = fastest(opBackends.map((b) => r.striate[b]));
      const tfBest = fastest(tfCols.map((b) => r.tfjs[b]));
      return [r.op, r.shapes, ...opBackends.map((b) => ms(r.striate[b])), ...tfCols.map((b) => ms(r.tfjs[b])), Number.isFinite(s) && Number.isFinite(tfBest) ? fmtRatio(tfBest / s) : '—'];
    });
    out.push(
      '',
      `Per op at LeNet-5 shapes (batch ${TRAIN_BATCH}): ms per call, host arrays in -> host array out (uploads and read-back included for both), median of ${Math.min(args.rounds, 3)} rounds`,
      `speedup = best TF.js time / best Striate time (> 1: Striate faster)${tfCols.includes('wasm') ? "; ** = the bench's im2col + matMul kernel (TF.js wasm has none)" : ''}`,
      '',
      table(['op', 'shapes (NCHW / OIHW)', ...opBackends.map((b) => `Striate ${b}`), ...tfCols.map((b) => `TF.js ${b}`), 'speedup'], rows),
    );
    for (const r of opRows) {
      for (const [b, x] of Object.entries(r.striate)) if (isErr(x)) out.push(`${r.op}: Striate ${b}: ${x.error}`);
      for (const [b, x] of Object.entries(r.tfjs)) if (isErr(x)) out.push(`${r.op}: TF.js ${b}: ${x.error}`);
    }
  }

  if (breakdown) {
    const same = entries.find((e) => e.library === 'Striate' && e.backend === breakdown?.backend);
    const sameRate = same ? rateOf(same.train) : null;
    const stepMs = sameRate ? (TRAIN_BATCH * 1000) / sameRate : null;
    const b = breakdown;
    const how =
      b.method === 'pipeline'
        ? `each of the ${b.nodes.length} kernel steps of its fused plan timed where it runs, inside the pipeline, on one thread`
        : `each of its ${b.nodes.length} computing nodes compiled and timed alone (host in, host out)`;
    out.push(
      '',
      `Profile of one Striate training step on ${b.backend}: ${how}`,
      `sum of the ${b.method === 'pipeline' ? 'steps' : 'nodes'} ${fmtMs(b.sumMs)}${stepMs ? `; the whole step (one pipeline, host SGD update) ${fmtMs(stepMs)}` : ''}`,
      '',
      table(['op', b.method === 'pipeline' ? 'steps' : 'nodes', 'ms', 'share'], b.byOp.map((x) => [x.op, String(x.count), fmtMs(x.ms), `${((100 * x.ms) / b.sumMs).toFixed(1)}%`])),
      '',
      table([b.method === 'pipeline' ? 'largest steps' : 'largest nodes', 'inputs -> output', 'ms'], [...b.nodes].sort((x, y) => y.ms - x.ms).slice(0, 10).map((n) => [n.op, n.shapes, fmtMs(n.ms)])),
    );
  }
  const text = out.join('\n');
  console.log(text);

  if (args.json) {
    const json = {
      bench: 'Striate LeNet-5 vs TensorFlow.js vs ConvNetJS (npm run bench)',
      machine,
      load: { start: loadStart, end: loadEnd },
      durationS,
      args: { rounds: args.rounds, quick: args.quick, only: [...args.only], backends: args.backends },
      timing: { ...opts, cpuNow: undefined },
      versions: { tfjs: tfVersions?.tfjs ?? null, tfjsWasm: tfVersions?.wasm ?? null, convnetjs: '0.3.0', node: process.version },
      batch: { train: TRAIN_BATCH, infer: INFER_BATCH },
      summary: summarize(entries),
      entries,
      ops: opRows,
      breakdown,
      table: text,
    };
    writeResults(args.json, json);
  }
}

main()
  .then(
    () => 0,
    (e) => {
      console.error(e instanceof Error ? (e.stack ?? e.message) : e);
      return 1;
    },
  )
  .then(async (code) => {
    await teardownDisplay();
    // gpu.js worker pools, Dawn and headless-gl keep handles open; the bench is done.
    process.exit(code);
  });
