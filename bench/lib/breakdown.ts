/**
 * Where a Striate training step spends its time: every computing node of the
 * LeNet-5 training graph (forward and backward), compiled and timed on its own
 * (host arrays in, host array out) on one backend. The sum of the nodes
 * against the whole step shows what the fused pipeline saves or costs
 * (uploads, read-backs, per-call overhead).
 */
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
  const byOpMap = new Map<string, { ms: number; count: number }>();
  for (const n of nodes) {
    const e = byOpMap.get(n.op) ?? { ms: 0, count: 0 };
    e.ms += n.ms;
    e.count++;
    byOpMap.set(n.op, e);
  }
  return {
    backend,
    nodes,
    sumMs: nodes.reduce((a, n) => a + n.ms, 0),
    byOp: [...byOpMap].map(([op, e]) => ({ op, ...e })).sort((a, b) => b.ms - a.ms),
  };
}
