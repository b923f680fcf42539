/**
 * Every op, forward and gradient, on every gpu.js backend available here,
 * against the float64 reference (float32 tolerance per case).
 */
import { afterAll, describe, it } from 'vitest';
import { releaseIdleGpus } from '../../src/backend/gpujs/gpu.js';
import { disableNodeWebGPU } from '../../src/backend/gpujs/node-webgpu.js';
import { backendStatuses, unavailableBackendTest } from './backends.js';
import { checkCase, opCases } from './cases.js';

const statuses = await backendStatuses();

afterAll(async () => {
  releaseIdleGpus();
  await disableNodeWebGPU();
});

describe.each(statuses)('backend $backend', ({ backend, reason }) => {
  if (reason !== null) return unavailableBackendTest(backend, reason);

  it.each(opCases)('$name matches the reference, forward and gradient', async (c) => {
    await checkCase(c, backend);
  });
});
