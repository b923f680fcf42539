import { afterAll, describe, expect, it } from 'vitest';
import { autoBackendReport, backendNames, compile, input, mul, resolveAutoBackend, StriateError } from 'striate';
import { ROUNDS } from '../../src/backend/auto.js';
import { gpuCacheStats, gpuJsBackends } from '../../src/backend/gpujs/gpu.js';
import { disableNodeWebGPU, probeNodeWebGPUAdapter } from '../../src/backend/gpujs/node-webgpu.js';

afterAll(async () => {
  await disableNodeWebGPU();
});

describe("backend 'auto'", () => {
  it('lists every backend name compile takes', () => {
    expect(backendNames).toEqual(['auto', 'reference', ...gpuJsBackends]);
  });

  it('considers every gpu.js backend, picks the fastest measured, and skips WebGPU on a software adapter', async () => {
    const report = await autoBackendReport();
    expect(report.map((c) => c.backend)).toEqual([...gpuJsBackends]);
    const measured = report.filter((c) => c.msPerStep !== null).sort((a, b) => a.msPerStep! - b.msPerStep!);
    expect(await resolveAutoBackend()).toBe(measured[0].backend);
    // Every measured candidate has ROUNDS interleaved rounds, and its time is their median.
    for (const c of measured) {
      expect(c.rounds).toHaveLength(ROUNDS);
      const sorted = [...c.rounds!].sort((a, b) => a - b);
      expect(c.msPerStep).toBe(sorted[(ROUNDS - 1) / 2]);
    }
    const webgpu = report.find((c) => c.backend === 'webgpu')!;
    const adapter = await probeNodeWebGPUAdapter();
    if (typeof adapter === 'string') {
      // The reason names what is missing, not an API a CLI user cannot call.
      expect(webgpu.note).toMatch(/^webgpu: /);
    } else if (adapter.software) {
      expect(webgpu.msPerStep).toBeNull();
      expect(webgpu.note).toBe(`skipped: the only WebGPU adapter is a software renderer (${adapter.name}); use backend "webgpu" to run on it anyway`);
    } else {
      expect(webgpu.note ?? '').not.toMatch(/skipped/);
    }
  }, 120_000);

  it('lets its first run finish when disposed during it, then refuses to run and gives its backend back', async () => {
    const backend = await resolveAutoBackend();
    const users = gpuCacheStats()[backend]?.users ?? 0;
    const f = compile(mul(input('x', [3]), 2), { backend: 'auto' });
    const running = f.run({ x: [1, 2, 3] });
    const disposed = f.dispose();
    expect(Array.from((await running)[0].data)).toEqual([2, 4, 6]);
    await disposed;
    expect(gpuCacheStats()[backend]?.users ?? 0).toBe(users);
    await expect(f.run({ x: [1, 2, 3] })).rejects.toThrow(StriateError);
    await f.dispose();
  }, 120_000);
});
