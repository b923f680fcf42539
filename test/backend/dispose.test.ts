/**
 * Disposing one compiled graph must not disturb another on the same backend
 * (gpu.js 2.24 on GL returned a stale result on the next run of every other
 * pipeline after one was destroyed), and a disposed graph refuses to run.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/backend/compile.js';
import { liveDeviceTensors, releaseIdleGpus } from '../../src/backend/gpujs/gpu.js';
import { disableNodeWebGPU } from '../../src/backend/gpujs/node-webgpu.js';
import { input, mul, relu, StriateError } from '../../src/index.js';
import { backendStatuses } from './backends.js';

const statuses = await backendStatuses();

afterAll(async () => {
  releaseIdleGpus();
  await disableNodeWebGPU();
});

describe.each(statuses.filter((s) => s.reason === null))('dispose on backend $backend', ({ backend }) => {
  it('leaves other live graphs correct, and refuses to run afterwards', async () => {
    const before = liveDeviceTensors();
    const f1 = compile([mul(input('x', [4]), 2)], { backend });
    const f2 = compile([relu(input('z', [8]))], { backend });
    expect(Array.from((await f1.run({ x: [1, 2, 3, 4] }))[0].data)).toEqual([2, 4, 6, 8]);
    await f2.run({ z: new Float32Array(8) });
    await f2.dispose();
    expect(Array.from((await f1.run({ x: [5, 6, 7, 8] }))[0].data)).toEqual([10, 12, 14, 16]);
    await expect(f2.run({ z: new Float32Array(8) })).rejects.toThrow('run: this compiled function has been disposed');
    await expect(f2.run({ z: new Float32Array(8) })).rejects.toThrow(StriateError);
    await f1.dispose();
    expect(liveDeviceTensors()).toBe(before);
  });
});
