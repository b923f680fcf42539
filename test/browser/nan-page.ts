/**
 * The NaN cases (nan-cases.ts) in a browser page: each case on one gpu.js
 * backend against the float64 reference. nan.browser.ts bundles this file
 * and adds it to the served conformance page (same origin, so WebGPU's
 * secure context and the cross-origin isolation that webasm-threads needs),
 * then calls `striateNan.run(backend)` and asserts per case.
 */
import { compile } from '../../src/backend/compile.js';
import { liveDeviceTensors, releaseIdleGpus } from '../../src/backend/gpujs/gpu.js';
import { input } from '../../src/ops/input.js';
import { mul } from '../../src/ops/mul.js';
import { relu } from '../../src/ops/relu.js';
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
  /**
   * Null when disposing one compiled graph left another live one correct and
   * released its own buffers at once (test/backend/dispose.test.ts in Node;
   * on GL it needs src/backend/gpujs/gl-tuning.ts); else what went wrong.
   */
  readonly dispose: string | null;
}

async function checkDispose(backend: BrowserBackend): Promise<string | null> {
  const f1 = compile([mul(input('x', [4]), 2)], { backend });
  const f2 = compile([relu(input('z', [8]))], { backend });
  try {
    await f1.run({ x: [1, 2, 3, 4] });
    const withF1 = liveDeviceTensors();
    await f2.run({ z: new Float32Array(8) });
    await f2.dispose();
    if (liveDeviceTensors() !== withF1) return `the disposed graph's buffers stayed: ${liveDeviceTensors()} live, ${withF1} expected`;
    for (const [x, want] of [[[5, 6, 7, 8], [10, 12, 14, 16]], [[9, 9, 9, 9], [18, 18, 18, 18]]]) {
      const got = Array.from((await f1.run({ x }))[0].data);
      if (got.join() !== want.join()) return `the live graph gave [${got}] for x = [${x}], expected [${want}]`;
    }
    return null;
  } catch (e) {
    return (e as Error).message ?? String(e);
  } finally {
    await f1.dispose();
    await f2.dispose();
  }
}

async function run(backend: BrowserBackend): Promise<NanBackendResult> {
  const unavailable = await browserUnavailableReason(backend);
  if (unavailable !== null) return { backend, unavailable, cases: [], dispose: null };
  const cases: NanCaseResult[] = [];
  for (const c of nanCases) {
    try {
      cases.push({ name: c.name, error: null, notes: await checkNanCase(c, backend) });
    } catch (e) {
      cases.push({ name: c.name, error: (e as Error).message ?? String(e), notes: [] });
    }
  }
  const dispose = await checkDispose(backend);
  releaseIdleGpus();
  return { backend, unavailable: null, cases, dispose };
}

declare global {
  interface Window {
    striateNan: { ready: true; run: typeof run };
  }
}

window.striateNan = { ready: true, run };
