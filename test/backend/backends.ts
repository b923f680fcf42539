/**
 * Which backends the conformance tests run on. On a plain machine a backend
 * that is not available is skipped with the reason printed; with
 * STRIATE_REQUIRE_BACKENDS=cpu,webasm,... (set by .ci/run) a missing one fails.
 */
import { it } from 'vitest';
import { unavailableReason, type GpuJsBackend } from '../../src/backend/gpujs/gpu.js';
import { enableNodeWebGPU } from '../../src/backend/gpujs/node-webgpu.js';

export const nodeBackends: GpuJsBackend[] = ['cpu', 'webasm', 'webasm-threads', 'headlessgl', 'webgpu'];

export const required = new Set(
  (process.env.STRIATE_REQUIRE_BACKENDS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

export interface BackendStatus {
  readonly backend: GpuJsBackend;
  readonly reason: string | null;
}

let statuses: Promise<BackendStatus[]> | null = null;

export function backendStatuses(): Promise<BackendStatus[]> {
  statuses ??= (async () => {
    // headless-gl's one probe context (made once per process, when gpu.js is first asked) is made
    // before WebGPU starts. Three fresh-clone runs of .ci/run here each lost headlessgl in one test
    // file (its probe context null) with the probe after enableNodeWebGPU had started Dawn and Mesa's
    // Vulkan driver in the same process; the suspicion is the two drivers starting at once.
    const reasons = new Map(nodeBackends.filter((b) => b !== 'webgpu').map((b) => [b, unavailableReason(b)]));
    const webgpu = await enableNodeWebGPU().then(
      () => null,
      (e: Error) => e.message,
    );
    return nodeBackends.map((backend) => ({
      backend,
      reason: backend === 'webgpu' ? (webgpu ?? unavailableReason(backend)) : reasons.get(backend)!,
    }));
  })();
  return statuses;
}

/**
 * The test that stands for an unavailable backend in a suite run per
 * backend: it fails when STRIATE_REQUIRE_BACKENDS names the backend, and
 * otherwise passes with the reason printed.
 */
export function unavailableBackendTest(backend: GpuJsBackend, reason: string): void {
  it(`is ${required.has(backend) ? 'required but ' : ''}not available: ${reason}`, () => {
    if (required.has(backend)) throw new Error(`backend "${backend}" is required (STRIATE_REQUIRE_BACKENDS) but not available: ${reason}`);
    console.warn(`skipping backend ${backend}: ${reason}`);
  });
}
