/**
 * The op conformance suite (test/backend/cases.ts) in a browser page: every
 * case, forward and gradient, on one gpu.js backend against the float64
 * reference, with the same values and tolerance as
 * test/backend/conformance.test.ts. The Node side (conformance.browser.ts)
 * calls `striateConformance.run(backend)` and asserts per case.
 */
import { vjp } from '../../src/autodiff/grad.js';
import { compile } from '../../src/backend/compile.js';
import { releaseIdleGpus } from '../../src/backend/gpujs/gpu.js';
import { input } from '../../src/ops/input.js';
import { distinctValues, randomValues } from '../helpers.js';
import { type Domain, type OpCase, opCases } from '../backend/cases.js';
import { type BrowserBackend, browserUnavailableReason } from '../../examples/browser/backends.js';

export interface CaseResult {
  readonly name: string;
  /** Null when the case passed. */
  readonly error: string | null;
  /** Largest error relative to the output's scale, over all outputs. */
  readonly worst: number;
  readonly ms: number;
}

export interface BackendResult {
  readonly backend: BrowserBackend;
  /** Null when the backend ran; else why it is not available here. */
  readonly unavailable: string | null;
  readonly cases: readonly CaseResult[];
  readonly ms: number;
}

function values(n: number, domain: Domain, seed: number): Float64Array {
  if (domain === 'positive') return randomValues(n, seed).map((v) => 0.5 + Math.abs(v));
  if (domain === 'distinct') return distinctValues(n, seed, 0.05);
  if (typeof domain === 'object') return randomValues(n, seed).map((v) => Math.floor(((v + 1) / 2) * domain.labels * 0.999));
  return randomValues(n, seed);
}

/** A case's graph: its output and the gradients of <cotangent, output> (as in conformance.test.ts). */
function buildCase(c: OpCase) {
  const xs = c.inputs.map((spec, i) => input(`x${i}`, spec.shape));
  const y = c.fn(...xs);
  const cot = input('cotangent', y.shape);
  const wrt = xs.filter((_, i) => c.inputs[i].grad !== false);
  const grads = vjp([y], wrt, [cot]);
  const feeds: Record<string, Float64Array> = {};
  c.inputs.forEach((spec, i) => {
    feeds[`x${i}`] = values(spec.shape.reduce((a, b) => a * b, 1), spec.domain ?? 'any', 11 + 7 * i);
  });
  feeds.cotangent = randomValues(y.shape.reduce((a, b) => a * b, 1), 99);
  return { outputs: [y, ...grads], feeds };
}

const only = (f: { inputs: readonly { name: string }[] }, feeds: Record<string, Float64Array>) =>
  Object.fromEntries(f.inputs.map(({ name }) => [name, feeds[name]]));

async function runCase(c: OpCase, backend: BrowserBackend): Promise<CaseResult> {
  const start = performance.now();
  const { outputs, feeds } = buildCase(c);
  const ref = compile(outputs, { backend: 'reference' });
  let worst = 0;
  let dev: ReturnType<typeof compile> | null = null;
  try {
    dev = compile(outputs, { backend });
    if (dev.backend !== backend) throw new Error(`compiled for "${dev.backend}", not "${backend}"`);
    const want = ref.runSync(only(ref, feeds));
    const got = await dev.run(only(dev, feeds));
    const rtol = c.rtol ?? 1e-4;
    for (let o = 0; o < want.length; o++) {
      const g = got[o];
      if (g.shape.join() !== want[o].shape.join()) throw new Error(`output ${o} has shape [${g.shape}] but the reference has [${want[o].shape}]`);
      if (!(g.data instanceof Float32Array)) throw new Error(`output ${o} is not a Float32Array`);
      const scale = Math.max(1e-6, ...Array.from(want[o].data, Math.abs));
      let at = -1;
      let caseWorst = 0;
      want[o].data.forEach((w, k) => {
        const err = Math.abs(g.data[k] - w) / scale;
        if (!(err <= caseWorst)) [caseWorst, at] = [err, k]; // NaN counts as the worst
      });
      worst = Math.max(worst, caseWorst);
      if (!(caseWorst <= rtol)) {
        throw new Error(
          `output ${o} differs from the reference at index ${at}: ${g.data[at]} vs ${want[o].data[at]} ` +
            `(error ${caseWorst.toExponential(2)} of the output's scale ${scale.toExponential(2)}, tolerance ${rtol})`,
        );
      }
    }
    return { name: c.name, error: null, worst, ms: performance.now() - start };
  } catch (e) {
    return { name: c.name, error: (e as Error).message ?? String(e), worst, ms: performance.now() - start };
  } finally {
    await dev?.dispose();
  }
}

const log = (line: string) => {
  document.getElementById('log')!.textContent += `${line}\n`;
};

async function run(backend: BrowserBackend): Promise<BackendResult> {
  const start = performance.now();
  const unavailable = await browserUnavailableReason(backend);
  if (unavailable !== null) {
    log(`${backend}: not available: ${unavailable}`);
    return { backend, unavailable, cases: [], ms: performance.now() - start };
  }
  const cases: CaseResult[] = [];
  for (const c of opCases) {
    const r = await runCase(c, backend);
    cases.push(r);
    log(`${backend}: ${r.error ? 'FAIL' : 'ok  '} ${c.name} (${r.ms.toFixed(0)} ms)${r.error ? `: ${r.error}` : ''}`);
  }
  releaseIdleGpus();
  return { backend, unavailable: null, cases, ms: performance.now() - start };
}

declare global {
  interface Window {
    striateConformance: { ready: true; crossOriginIsolated: boolean; run: typeof run };
  }
}

window.striateConformance = { ready: true, crossOriginIsolated: self.crossOriginIsolated, run };
