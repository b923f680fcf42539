/**
 * The NaN cases (nan-cases.ts) in a browser page: each case on one gpu.js
 * backend against the float64 reference. nan.browser.ts bundles this file
 * and adds it to the served conformance page (same origin, so WebGPU's
 * secure context and the cross-origin isolation that webasm-threads needs),
 * then calls `striateNan.run(backend)` and asserts per case.
 */
import { releaseIdleGpus } from '../../src/backend/gpujs/gpu.js';
import { type BrowserBackend, browserUnavailableReason } from '../../examples/browser/backends.js';
import { checkNanCase, nanCases } from './nan-cases.js';

export interface NanCaseResult {
  readonly name: string;
  /** Null when the case passed. */
  readonly error: string | null;
  /** What the device did differently where that is allowed (see NanCase.ownSource). */
  readonly notes: readonly string[];
}

export interface NanBackendResult {
  readonly backend: BrowserBackend;
  /** Null when the backend ran; else why it is not available here. */
  readonly unavailable: string | null;
  readonly cases: readonly NanCaseResult[];
}

async function run(backend: BrowserBackend): Promise<NanBackendResult> {
  const unavailable = await browserUnavailableReason(backend);
  if (unavailable !== null) return { backend, unavailable, cases: [] };
  const cases: NanCaseResult[] = [];
  for (const c of nanCases) {
    try {
      cases.push({ name: c.name, error: null, notes: await checkNanCase(c, backend) });
    } catch (e) {
      cases.push({ name: c.name, error: (e as Error).message ?? String(e), notes: [] });
    }
  }
  releaseIdleGpus();
  return { backend, unavailable: null, cases };
}

declare global {
  interface Window {
    striateNan: { ready: true; run: typeof run };
  }
}

window.striateNan = { ready: true, run };
