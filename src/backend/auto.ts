/**
 * The `'auto'` backend: the fastest backend that works here, decided by
 * measurement. The first time it is needed, Striate times one training step
 * of a LeNet-5-shaped net (two conv + ReLU + max-pool stages, a dense layer,
 * softmax cross-entropy, forward and backward, batch 32) on every available
 * gpu.js backend, after a warm-up, and keeps the fastest for the rest of the
 * process. The reference
 * backend is the oracle, not a candidate. The measurements are kept in
 * `autoBackendReport()`.
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
import { fail } from '../graph/error.js';
import type { Tensor } from '../graph/tensor.js';
import type { BackendName } from './compiled.js';
import { GpuJsFunction } from './gpujs/executor.js';
import { type GpuJsBackend, gpuJsBackends, unavailableReason } from './gpujs/gpu.js';
import { enableNodeWebGPU, probeNodeWebGPUAdapter } from './gpujs/node-webgpu.js';

/** One backend that `'auto'` considered: its time per probe step, or why it was not measured. */
export interface AutoCandidate {
  /** The backend this row is about. */
  readonly backend: GpuJsBackend;
  /** Milliseconds per step, or null when the backend is not available or failed. */
  readonly msPerStep: number | null;
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
  // LeNet-5's shapes at batch 32: the probe should load each backend the way
  // the networks it is chosen for do (a toy graph favours per-call overhead).
  const batch = 32;
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
    const candidates: AutoCandidate[] = [];
    for (const backend of gpuJsBackends) {
      if (backend === 'webgpu' && softwareAdapter) {
        candidates.push({ backend, msPerStep: null, note: `skipped: the only WebGPU adapter is a software renderer (${softwareAdapter.name}); use backend "webgpu" to run on it anyway` });
        continue;
      }
      const reason = (backend === 'webgpu' ? webgpuProblem : null) ?? unavailableReason(backend);
      if (reason) {
        candidates.push({ backend, msPerStep: null, note: reason });
        continue;
      }
      let f: GpuJsFunction | null = null;
      try {
        f = new GpuJsFunction(outputs, backend);
        await f.run(feeds);
        await f.run(feeds);
        const start = performance.now();
        for (let i = 0; i < 3; i++) await f.run(feeds);
        candidates.push({ backend, msPerStep: (performance.now() - start) / 3 });
      } catch (e) {
        candidates.push({ backend, msPerStep: null, note: `failed: ${(e as Error).message}` });
      } finally {
        f?.dispose();
      }
    }
    const measured = candidates.filter((c) => c.msPerStep !== null).sort((a, b) => a.msPerStep! - b.msPerStep!);
    if (measured.length === 0) {
      const notes = candidates.map((c) => `${c.backend}: ${c.note}`).join('; ');
      fail('compile', `backend "auto" found no working backend: ${notes}`, notes, 'one backend that works here');
    }
    return { backend: measured[0].backend, candidates };
  })();
  return decision;
}
