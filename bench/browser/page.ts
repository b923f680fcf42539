/**
 * The browser side of `npm run bench:browser` (bundled by bench/browser.ts
 * with esbuild and served from localhost, cross-origin isolated). It runs the
 * same contestants, checks and timing as the Node bench (bench/lib/contest.ts)
 * on the browser's backends: Striate's webgl2, webgpu, webasm and
 * webasm-threads, and TF.js's webgl, webgpu and wasm; ConvNetJS as the
 * plain-JavaScript baseline. `window.runBench(config)` resolves to the results.
 */
import '@tensorflow/tfjs-backend-webgpu';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import type { BackendName } from '../../src/index.js';
import { unavailableReason } from '../../src/backend/gpujs/gpu.js';
import type { GpuJsBackend } from '../../src/backend/gpujs/gpu.js';
import { type Entry, type Env, errText, makeOracle, runConvnetjs, runStriate, runTfjs } from '../lib/contest.js';
import type { TimingOptions } from '../lib/measure.js';
import { tf, wasmNote } from '../lib/tfjs.js';

export interface PageConfig {
  striate: string[];
  tfjs: string[];
  convnetjs: boolean;
  timing: TimingOptions;
}

export interface PageResult {
  userAgent: string;
  crossOriginIsolated: boolean;
  hardwareConcurrency: number;
  webgl: { vendor: string; renderer: string } | null;
  webgpu: { vendor: string; architecture: string; device: string; description: string } | null;
  tfjs: string;
  entries: Entry[];
}

declare global {
  interface Window {
    runBench(config: PageConfig): Promise<PageResult>;
    benchReady: boolean;
  }
}

function webglInfo(): PageResult['webgl'] {
  const gl = document.createElement('canvas').getContext('webgl2');
  if (!gl) return null;
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  return {
    vendor: String(gl.getParameter(ext ? ext.UNMASKED_VENDOR_WEBGL : gl.VENDOR)),
    renderer: String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER)),
  };
}

async function webgpuInfo(): Promise<PageResult['webgpu']> {
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<{ info?: Record<string, string> } | null> } }).gpu;
  const adapter = await gpu?.requestAdapter().catch(() => null);
  if (!adapter) return null;
  const i = adapter.info ?? {};
  return { vendor: i.vendor ?? '', architecture: i.architecture ?? '', device: i.device ?? '', description: i.description ?? '' };
}

window.runBench = async (config) => {
  const env: Env = { log: (msg) => console.log(msg) };
  setWasmPaths('/wasm/');
  const result: PageResult = {
    userAgent: navigator.userAgent,
    crossOriginIsolated: self.crossOriginIsolated,
    hardwareConcurrency: navigator.hardwareConcurrency,
    webgl: webglInfo(),
    webgpu: await webgpuInfo(),
    tfjs: tf.version.tfjs,
    entries: [],
  };
  env.log('bench: reference loss, gradients and logits (float64)');
  const oracle = await makeOracle();
  for (const backend of config.striate) {
    const reason = backend === 'reference' ? null : unavailableReason(backend as GpuJsBackend);
    if (reason) {
      result.entries.push({ library: 'Striate', backend, unavailable: reason });
      continue;
    }
    result.entries.push(await runStriate(backend as BackendName, oracle, config.timing, env));
  }
  for (const backend of config.tfjs) {
    const ok = await tf.setBackend(backend).catch((e) => (env.log(`bench: TF.js ${backend}: ${errText(e)}`), false));
    if (!ok) {
      result.entries.push({ library: 'TF.js', backend, unavailable: `tf.setBackend('${backend}') failed (see the console)` });
      continue;
    }
    await tf.ready();
    let note: string | undefined;
    if (backend === 'wasm') {
      note = await wasmNote(getThreadsCount);
    }
    result.entries.push(await runTfjs(oracle, config.timing, env, { note }));
    if (backend === 'wasm') result.entries.push(await runTfjs(oracle, config.timing, env, { note, patch: 'matmul', trainOnly: true }));
  }
  if (config.convnetjs) result.entries.push(await runConvnetjs(oracle, config.timing, env));
  return result;
};
window.benchReady = true;
