/**
 * NaN inside a graph gives the same NaNs on the float64 reference (checked
 * by hand here) and on every Node backend: relu, max over an axis, maxMask,
 * max pooling with its gradient and the gradient's gradient, the fused relu
 * of conv2d and of matmul + bias, and the wasm backends' fused conv2dMaxPool.
 * The cases and the rule are in test/browser/nan-cases.ts (the browser suite,
 * test/browser/nan.browser.ts, runs the same ones).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { releaseIdleGpus } from '../../src/backend/gpujs/gpu.js';
import { disableNodeWebGPU } from '../../src/backend/gpujs/node-webgpu.js';
import { checkNanCase, checkReferenceByHand, nanCases } from '../browser/nan-cases.js';
import { backendStatuses, unavailableBackendTest } from './backends.js';

const statuses = await backendStatuses();

afterAll(async () => {
  releaseIdleGpus();
  await disableNodeWebGPU();
});

describe('the float64 reference', () => {
  it.each(nanCases.filter((c) => c.expected || c.nanAt))('$name: NaN where the rule puts it (hand-checked)', (c) => {
    expect(checkReferenceByHand(c)).toBeGreaterThan(0);
  });
});

describe.each(statuses)('backend $backend', ({ backend, reason }) => {
  if (reason !== null) return unavailableBackendTest(backend, reason);

  it.each(nanCases)('$name: the same NaNs as the reference', async (c) => {
    for (const note of await checkNanCase(c, backend)) console.info(`${c.name}: ${note}`);
  });
});
