/**
 * The `'auto'` backend: the fastest backend that works here, decided by
 * measurement. The first time it is needed, Striate times training steps of
 * a LeNet-5-shaped net (two conv + ReLU + max-pool stages, a dense layer,
 * softmax cross-entropy, forward and backward, batch 64) on every available
 * gpu.js backend and keeps the fastest for the rest of the process. Each
 * candidate is compiled and warmed up (two steps) first; then ROUNDS rounds
 * time STEPS_PER_ROUND steps of every candidate in turn, each round in
 * another order, and a candidate's time is the median of its rounds, so a
 * spell of load on the machine falls on every candidate alike instead of on
 * whichever was measured then. The reference backend is the oracle, not a
 * candidate. The measurements are kept in `autoBackendReport()`.
 *
 * In Node, WebGPU is a candidate only on a hardware adapter: when Dawn offers
 * nothing but a CPU renderer (llvmpipe, SwiftShader), WebGPU is skipped
 * unmeasured, since it is many times slower there than WebAssembly and
 * compiling its kernels would only lengthen the probe.
 */
import { grad } from '../autodiff/grad.js';
import { add } from '../ops/add.js';
import { conv2d } from '../ops/conv2d.js';
import { input } from '../ops/input.js';
import { matmul } from '../ops/matmul.js';
import { maxPool2d } from '../ops/maxPool2d.js';
import { relu } from '../ops/relu.js';
import { flatten } from '../ops/reshape.js';
import { softmaxCrossEntropy } from '../ops/softmaxCrossEntropy.js';
import { fail as failWith } from '../graph/error.js';
import type { Tensor } from '../graph/tensor.js';
import type { BackendName } from './compiled.js';
import { GpuJsFunction } from './gpujs/executor.js';
import { type GpuJsBackend, gpuJsBackends, unavailableReason } from './gpujs/gpu.js';
import { enableNodeWebGPU, probeNodeWebGPUAdapter } from './gpujs/node-webgpu.js';

/** Rounds of timed steps per candidate (see the file comment). */
export const ROUNDS = 5;
/** Steps per candidate in each round. */
export const STEPS_PER_ROUND = 2;

/** One backend that `'auto'` considered: its time per probe step, or why it was not measured. */
export interface AutoCandidate {
  /** The backend this row is about. */
  readonly backend: GpuJsBackend;
  /** Milliseconds per step, the median of its rounds, or null when the backend is not available or failed. */
  readonly msPerStep: number | null;
  /** Milliseconds per step in each round, in the order the rounds ran (absent when not measured). */
  readonly rounds?: readonly number[];
  /** Why the backend was not measured, or how it failed. */
  readonly note?: string;
}

/** Every name `compile` and `train` accept as `backend`: `'auto'`, `'reference'`, then the gpu.js backends. */
export const backendNames: readonly BackendName[] = ['auto', 'reference', ...gpuJsBackends];

let decision: Promise<{ backend: GpuJsBackend; candidates: AutoCandidate[] }> | null = null;

/** The backend `'auto'` stands for here (measured once per process). */
export async function resolveAutoBackend(): Promise<GpuJsBackend> {
  return (await measure()).backend;
}

/** What `'auto'` measured: every candidate with its time per step or the reason it was skipped. */
export async function autoBackendReport(): Promise<readonly AutoCandidate[]> {
  return (await measure()).candidates;
}

function probeGraph(): { outputs: Tensor[]; feeds: Record<string, Float32Array> } {
  // LeNet-5's shapes at batch 64 (the bench's training batch): the probe
  // should load each backend the way the networks it is chosen for do (a toy
  // graph favours per-call overhead).
  const batch = 64;
  const x = input('x', [batch, 1, 28, 28]);
  const labels = input('labels', [batch]);
  const shapes = { w1: [6, 1, 5, 5], b1: [6], w2: [16, 6, 5, 5], b2: [16], w3: [256, 10] } as const;
  const p = Object.fromEntries(Object.entries(shapes).map(([name, shape]) => [name, input(name, shape)]));
  let h = maxPool2d(relu(conv2d(x, p.w1, { bias: p.b1 })), { size: 2 });
  h = maxPool2d(relu(conv2d(h, p.w2, { bias: p.b2 })), { size: 2 });
  const loss = softmaxCrossEntropy(add(matmul(flatten(h), p.w3), 0), labels);
  const outputs = [loss, ...grad(loss, Object.values(p))];
  const fill = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));
  const feeds: Record<string, Float32Array> = {
    x: fill(batch * 784, (i) => ((i * 37) % 101) / 101),
    labels: fill(batch, (i) => i % 10),
  };
  for (const [name, shape] of Object.entries(shapes)) {
    feeds[name] = fill(shape.reduce((a: number, b: number) => a * b, 1), (i) => ((i % 11) - 5) / 50);
  }
  return { outputs, feeds };
}

function measure(): Promise<{ backend: GpuJsBackend; candidates: AutoCandidate[] }> {
  decision ??= (async () => {
    // In Node, ask a child process first which adapter Dawn has, and load Dawn here only for a
    // hardware one: loading it prints native notices on stderr (see node-webgpu.ts).
    const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';
    const probed = isNode ? await probeNodeWebGPUAdapter() : null;
    const softwareAdapter = typeof probed === 'object' && probed?.software ? probed : null;
    let webgpuProblem = typeof probed === 'string' ? probed : null;
    if (webgpuProblem === null && softwareAdapter === null) {
      // Why WebGPU cannot be used says more than "navigator.gpu is not set up".
      webgpuProblem = await enableNodeWebGPU().then(
        () => null,
        (e: Error) => e.message,
      );
    }
    const { outputs, feeds } = probeGraph();
    const notes = new Map<GpuJsBackend, string>();
    const live = new Map<GpuJsBackend, GpuJsFunction>();
    const fail = (backend: GpuJsBackend, e: unknown): void => {
      notes.set(backend, `failed: ${(e as Error).message}`);
      live.get(backend)?.dispose();
      live.delete(backend);
    };
    for (const backend of gpuJsBackends) {
      if (backend === 'webgpu' && softwareAdapter) {
        notes.set(backend, `skipped: the only WebGPU adapter is a software renderer (${softwareAdapter.name}); use backend "webgpu" to run on it anyway`);
        continue;
      }
      const reason = (backend === 'webgpu' ? webgpuProblem : null) ?? unavailableReason(backend);
      if (reason) {
        notes.set(backend, reason);
        continue;
      }
      try {
        const f = new GpuJsFunction(outputs, backend);
        live.set(backend, f);
        await f.run(feeds);
        await f.run(feeds);
      } catch (e) {
        fail(backend, e);
      }
    }
    const rounds = new Map<GpuJsBackend, number[]>([...live.keys()].map((b) => [b, []]));
    for (let r = 0; r < ROUNDS; r++) {
      const order = [...live.keys()];
      // Each round starts one candidate further on.
      const turned = [...order.slice(r % Math.max(order.length, 1)), ...order.slice(0, r % Math.max(order.length, 1))];
      for (const backend of turned) {
        const f = live.get(backend);
        if (!f) continue;
        try {
          const start = performance.now();
          for (let i = 0; i < STEPS_PER_ROUND; i++) await f.run(feeds);
          rounds.get(backend)!.push((performance.now() - start) / STEPS_PER_ROUND);
        } catch (e) {
          fail(backend, e);
        }
      }
    }
    for (const f of live.values()) f.dispose();
    const candidates: AutoCandidate[] = gpuJsBackends.map((backend) => {
      const times = rounds.get(backend);
      if (notes.has(backend) || !times) return { backend, msPerStep: null, note: notes.get(backend) ?? 'not measured' };
      return { backend, msPerStep: median(times), rounds: Object.freeze([...times]) };
    });
    const measured = candidates.filter((c) => c.msPerStep !== null).sort((a, b) => a.msPerStep! - b.msPerStep!);
    if (measured.length === 0) {
      const all = candidates.map((c) => `${c.backend}: ${c.note}`).join('; ');
      failWith('compile', `backend "auto" found no working backend: ${all}`, all, 'one backend that works here');
    }
    return { backend: measured[0].backend, candidates };
  })();
  return decision;
}

/** The median of some numbers (the mean of the middle two for an even count). */
function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
