/**
 * The life of a compiled function on every backend: dispose during a run
 * lets that run finish, a run after dispose rejects, disposing twice is
 * fine, and what a disposed function used is given back (its kernels join a
 * bounded idle cache; its handle lets go of the gpu.js instance).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/backend/compile.js';
import type { BackendName } from '../../src/backend/compiled.js';
import type { GpuHandle } from '../../src/backend/gpujs/gpu.js';
import { gpuCacheStats, IDLE_KERNELS, releaseIdleGpus } from '../../src/backend/gpujs/gpu.js';
import { disableNodeWebGPU } from '../../src/backend/gpujs/node-webgpu.js';
import { exp, input, mul, neg, relu, sigmoid, StriateError, tanh } from '../../src/index.js';
import { backendStatuses, unavailableBackendTest } from './backends.js';

const statuses = await backendStatuses();

afterAll(async () => {
  releaseIdleGpus();
  await disableNodeWebGPU();
});

const backends: { backend: BackendName; reason: string | null }[] = [{ backend: 'reference', reason: null }, ...statuses];

describe.each(backends)('lifecycle on backend $backend', ({ backend, reason }) => {
  if (reason !== null) {
    unavailableBackendTest(backend as never, reason);
    return;
  }

  it('lets a run in flight finish when disposed, then refuses to run; disposing twice is fine', async () => {
    const f = compile([mul(input('x', [4]), 2)], { backend });
    const first = f.run({ x: [1, 2, 3, 4] });
    const second = f.run({ x: [5, 6, 7, 8] });
    const disposed = f.dispose();
    expect(Array.from((await first)[0].data)).toEqual([2, 4, 6, 8]);
    expect(Array.from((await second)[0].data)).toEqual([10, 12, 14, 16]);
    await disposed;
    await expect(f.run({ x: [1, 2, 3, 4] })).rejects.toThrow(StriateError);
    await expect(f.run({ x: [1, 2, 3, 4] })).rejects.toMatchObject({ op: 'run', message: 'run: this compiled function has been disposed' });
    await f.dispose();
  });
});

describe('reference backend after dispose', () => {
  it('refuses runSync too', async () => {
    const f = compile(relu(input('x', [2])));
    await f.dispose();
    expect(() => f.runSync({ x: [1, 2] })).toThrow(expect.objectContaining({ op: 'run' }));
  });
});

describe.each(statuses)('kernel cache on backend $backend', ({ backend, reason }) => {
  if (reason !== null) {
    unavailableBackendTest(backend, reason);
    return;
  }

  it(`keeps the kernels live graphs use and at most ${IDLE_KERNELS} idle ones, and lets a disposed graph's handle go`, async () => {
    const keep = compile([relu(input('k', [4]))], { backend });
    await keep.run({ k: [1, -2, 3, -4] });
    const before = gpuCacheStats()[backend]!;
    expect(before.users).toBe(1);
    // Each size is six kernels no other graph has: more than IDLE_KERNELS in all.
    for (let n = 5; n < 5 + Math.ceil((IDLE_KERNELS + 1) / 6); n++) {
      const f = compile([mul(sigmoid(tanh(exp(neg(relu(input('a', [n])))))), 2)], { backend });
      await f.run({ a: new Float32Array(n).fill(1) });
      await f.dispose();
      const handle = (f as unknown as { handle: GpuHandle }).handle;
      expect(() => handle.pipeline(() => [])).toThrow(StriateError); // holds no instance any more
    }
    const after = gpuCacheStats()[backend]!;
    expect(after.users).toBe(1);
    expect(after.idle).toBe(IDLE_KERNELS);
    expect(after.kernels - after.idle).toBe(before.kernels - before.idle); // keep's, still there
    expect(Array.from((await keep.run({ k: [-1, 2, -3, 4] }))[0].data)).toEqual([0, 2, 0, 4]);
    await keep.dispose();
    expect(gpuCacheStats()[backend]).toMatchObject({ users: 0, kernels: gpuCacheStats()[backend]!.idle });
    releaseIdleGpus();
    expect(gpuCacheStats()[backend]).toBeUndefined();
  }, 300_000); // kernels compile slowly on software GL and WebGPU
});
