/**
 * Where a Striate training step spends its time.
 *
 * On the wasm backends (pipelineBreakdown): the LeNet-5 training graph is
 * compiled once on 'webasm' and each kernel step of its fused plan is timed
 * where it runs, inside the pipeline, on one thread (by wrapping gpu.js's
 * per-step dispatch; bench code only). This is the honest view: a node
 * compiled alone is a graph output, which runs on a flat grid and pays an
 * upload and a read-back that the pipeline does not.
 *
 * Elsewhere (trainingBreakdown): every computing node compiled and timed on
 * its own (host arrays in, host array out); the sum of the nodes against the
 * whole step shows what the fused pipeline saves or costs.
 */
import gpujs from 'gpu.js';
import { type BackendName, compile, input, type Tensor, topologicalOrder } from '../../src/index.js';
import { opDef } from '../../src/ops/index.js';
import { makeNode } from '../../src/ops/op.js';
import { lenetGraph } from '../lenet-graph.js';
import { rng, sizeOf } from './lenet.js';
import { type TimingOptions, measureRate } from './measure.js';

export interface NodeTiming {
  readonly op: string;
  readonly shapes: string;
  readonly ms: number;
}

export interface Breakdown {
  readonly backend: string;
  /** 'pipeline': steps timed inside one fused pipeline; 'isolated': nodes compiled and timed alone. */
  readonly method: 'pipeline' | 'isolated';
  readonly nodes: NodeTiming[];
  /** Sum of the node times, ms. */
  readonly sumMs: number;
  /** Time per op kind, ms, largest first. */
  readonly byOp: { op: string; ms: number; count: number }[];
}

const shapeStr = (s: readonly number[]) => `[${s.join(',')}]`;

export async function trainingBreakdown(backend: BackendName, batch: number, o: TimingOptions): Promise<Breakdown> {
  const { loss, grads } = lenetGraph(batch);
  const nodes: NodeTiming[] = [];
  for (const node of topologicalOrder([loss, ...grads])) {
    const def = opDef(node.op);
    if (def.kernel === 'upload' || def.kernel === 'alias') continue;
    const ins = node.inputs.map((t, j) => (t.op === 'constant' ? t : input(`a${j}`, t.shape)));
    const isolated: Tensor = makeNode(def as never, ins, node.attrs as never);
    const f = compile([isolated], { backend });
    const r = rng(5);
    const feeds: Record<string, Float32Array> = {};
    // Class indices where the node reads the graph's labels; random values elsewhere.
    const labelArgs = new Set(node.inputs.flatMap((t, j) => (t.op === 'input' && (t as Tensor<'input'>).attrs.name === 'labels' ? [`a${j}`] : [])));
    for (const spec of f.inputs) {
      const labels = labelArgs.has(spec.name);
      feeds[spec.name] = Float32Array.from({ length: sizeOf(spec.shape) }, (_, i) => (labels ? i % 10 : r() * 2 - 1));
    }
    try {
      const rate = await measureRate(() => f.run(feeds), 1, o);
      nodes.push({ op: node.op, shapes: `${node.inputs.map((t) => shapeStr(t.shape)).join(' ')} -> ${shapeStr(node.shape)}`, ms: rate.msPerStep });
    } finally {
      await f.dispose();
    }
  }
  return summarise(backend, 'isolated', nodes);
}

type Dispatch = (run: unknown, runSimd: unknown, cells: number, sizeX: number, seed: number) => unknown;

/** Each kernel step of the fused training pipeline on 'webasm', timed in place (one thread). */
export async function pipelineBreakdown(batch: number, o: { rounds: number; roundMs: number }): Promise<Breakdown> {
  const { loss, grads, feeds } = lenetGraph(batch);
  const f = compile([loss, ...grads], { backend: 'webasm' });
  const kernelClass = (gpujs as unknown as { WebAssemblyKernel: { dispatchSpans: Dispatch } }).WebAssemblyKernel;
  const dispatch = kernelClass.dispatchSpans;
  const plan = f.plan;
  const total = new Float64Array(plan.length);
  let step = 0;
  kernelClass.dispatchSpans = function (this: unknown, ...a: Parameters<Dispatch>) {
    const t0 = performance.now();
    const r = dispatch.apply(this, a);
    total[step++ % plan.length] += performance.now() - t0;
    return r;
  };
  let runs = 0;
  try {
    for (let w = 0; w < 5; w++) await f.run(feeds); // compile and warm up
    total.fill(0);
    step = 0;
    const end = performance.now() + o.rounds * o.roundMs;
    while (performance.now() < end || runs < 3) {
      await f.run(feeds);
      runs++;
    }
  } finally {
    kernelClass.dispatchSpans = dispatch;
    await f.dispose();
  }
  if (step !== runs * plan.length) throw new Error(`bench: profile saw ${step} kernel dispatches for ${runs} runs of ${plan.length} steps`);
  const nodes = plan.map((p, j) => ({
    op: p.stages > 1 ? `${p.op} (stage ${p.stage + 1}/${p.stages})` : p.op,
    shapes: `${p.inputs.map(shapeStr).join(' ')} -> ${shapeStr(p.output)}`,
    ms: total[j] / runs,
  }));
  return summarise('webasm', 'pipeline', nodes);
}

function summarise(backend: string, method: Breakdown['method'], nodes: NodeTiming[]): Breakdown {
  const byOpMap = new Map<string, { ms: number; count: number }>();
  for (const n of nodes) {
    const e = byOpMap.get(n.op) ?? { ms: 0, count: 0 };
    e.ms += n.ms;
    e.count++;
    byOpMap.set(n.op, e);
  }
  return {
    backend,
    method,
    nodes,
    sumMs: nodes.reduce((a, n) => a + n.ms, 0),
    byOp: [...byOpMap].map(([op, e]) => ({ op, ...e })).sort((a, b) => b.ms - a.ms),
  };
}
