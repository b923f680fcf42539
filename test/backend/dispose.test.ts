/**
 * Disposing one compiled graph must not disturb another on the same backend
 * (gpu.js 2.24 on GL returned stale results from every other pipeline after
 * one was destroyed: its kernels drew from the destroyed one's vertex buffer,
 * see src/backend/gpujs/gl-tuning.ts), its device buffers go at once even
 * while another graph lives, and a disposed graph refuses to run.
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
    const withF1 = liveDeviceTensors();
    await f2.run({ z: new Float32Array(8) });
    expect(liveDeviceTensors()).toBeGreaterThan(withF1);
    await f2.dispose();
    // Released now, not when the last graph on the backend goes.
    expect(liveDeviceTensors()).toBe(withF1);
    expect(Array.from((await f1.run({ x: [5, 6, 7, 8] }))[0].data)).toEqual([10, 12, 14, 16]);
    expect(Array.from((await f1.run({ x: [9, 9, 9, 9] }))[0].data)).toEqual([18, 18, 18, 18]);
    await expect(f2.run({ z: new Float32Array(8) })).rejects.toThrow('run: this compiled function has been disposed');
    await expect(f2.run({ z: new Float32Array(8) })).rejects.toThrow(StriateError);
    await f1.dispose();
    expect(liveDeviceTensors()).toBe(before);
  });
});
