/**
 * The op conformance suite (test/backend/cases.ts) in a browser page: every
 * case, forward and gradient, on one gpu.js backend against the float64
 * reference, with the same values and tolerance as
 * test/backend/conformance.test.ts. The Node side (conformance.browser.ts)
 * calls `striateConformance.run(backend)` and asserts per case.
 */
import { releaseIdleGpus } from '../../src/backend/gpujs/gpu.js';
import { checkCase, type OpCase, opCases } from '../backend/cases.js';
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

async function runCase(c: OpCase, backend: BrowserBackend): Promise<CaseResult> {
  const start = performance.now();
  try {
    const worst = await checkCase(c, backend);
    return { name: c.name, error: null, worst, ms: performance.now() - start };
  } catch (e) {
    return { name: c.name, error: (e as Error).message ?? String(e), worst: Infinity, ms: performance.now() - start };
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
