/**
 * Which of Striate's backends work in this browser, and why not when they
 * don't. `unavailableReason` answers from what the page exposes; WebGPU also
 * needs an adapter, which only an (asynchronous) request can tell.
 */
import { type GpuJsBackend, unavailableReason } from '../../src/index.js';

/** The gpu.js backends a browser can have, fastest kind first. */
export const browserBackends = ['webgpu', 'webgl2', 'webgl', 'webasm-threads', 'webasm', 'cpu'] as const satisfies readonly GpuJsBackend[];
export type BrowserBackend = (typeof browserBackends)[number];

/** Null when `backend` can run in this page, else the reason it cannot. */
export async function browserUnavailableReason(backend: BrowserBackend): Promise<string | null> {
  const reason = unavailableReason(backend);
  if (reason !== null || backend !== 'webgpu') return reason;
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu!;
  const adapter = await gpu.requestAdapter().catch((e: Error) => e);
  if (adapter instanceof Error) return `navigator.gpu.requestAdapter() failed: ${adapter.message}`;
  return adapter
    ? null
    : 'navigator.gpu.requestAdapter() found no adapter (WebGPU is off or blocked for this GPU; on Linux Chrome needs --enable-unsafe-webgpu)';
}
