/**
 * 1,000 forward+backward steps of a small conv net on each available backend:
 * live device buffers return to their starting count once the graph is
 * disposed, stay constant while it runs, and resident memory grows by less
 * than 50 MB.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { grad } from '../../src/autodiff/grad.js';
import { compile } from '../../src/backend/compile.js';
import { liveDeviceTensors, releaseIdleGpus } from '../../src/backend/gpujs/gpu.js';
import { disableNodeWebGPU } from '../../src/backend/gpujs/node-webgpu.js';
import { add, conv2d, flatten, input, matmul, maxPool2d, relu, softmaxCrossEntropy } from '../../src/index.js';
import { randomValues } from '../helpers.js';
import { backendStatuses, required } from './backends.js';

const statuses = await backendStatuses();
const steps = Number(process.env.STRIATE_MEMORY_STEPS ?? 1000);

function smallNet() {
  const x = input('x', [8, 1, 12, 12]);
  const labels = input('labels', [8]);
  const w = input('w', [4, 1, 3, 3]);
  const b = input('b', [4]);
  const v = input('v', [4 * 5 * 5, 10]);
  const h = maxPool2d(relu(conv2d(x, w, { bias: b })), { size: 2 });
  const loss = softmaxCrossEntropy(add(matmul(flatten(h), v), 0.1), labels);
  const feeds = {
    x: Float32Array.from(randomValues(8 * 144, 1)),
    labels: Float32Array.from({ length: 8 }, (_, i) => i % 10),
    w: Float32Array.from(randomValues(36, 2)),
    b: new Float32Array(4),
    v: Float32Array.from(randomValues(1000, 3)).map((z) => z * 0.1),
  };
  return { outputs: [loss, ...grad(loss, [w, b, v])], feeds };
}

afterAll(async () => {
  releaseIdleGpus();
  await disableNodeWebGPU();
});

describe.each(statuses)('memory on backend $backend', ({ backend, reason }) => {
  it(`stays bounded over ${steps} training steps`, async () => {
    if (reason !== null) {
      if (required.has(backend)) throw new Error(`backend "${backend}" is required but not available: ${reason}`);
      console.warn(`skipping backend ${backend}: ${reason}`);
      return;
    }
    const { outputs, feeds } = smallNet();
    const before = liveDeviceTensors();
    const f = compile(outputs, { backend });
    // warm-up: kernels compiled, plan buffers allocated, driver caches and JIT settled
    for (let i = 0; i < 300; i++) await f.run(feeds);
    const during = liveDeviceTensors();
    expect(during).toBeGreaterThan(before);
    // Resident memory sampled every 100 steps (after a collection); growth is
    // the median of the last three samples minus the median of the first
    // three, so that one noisy reading cannot pass or fail the test.
    const samples: number[] = [];
    const sample = (): void => {
      global.gc?.();
      samples.push(process.memoryUsage().rss / 2 ** 20);
    };
    sample();
    for (let i = 0; i < steps; i++) {
      const [loss] = await f.run(feeds);
      if (!Number.isFinite(loss.data[0])) throw new Error(`loss is ${loss.data[0]} at step ${i}`);
      if ((i + 1) % 100 === 0) sample();
    }
    expect(liveDeviceTensors()).toBe(during);
    const median3 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[1];
    const grownMb = median3(samples.slice(-3)) - median3(samples.slice(0, 3));
    await f.dispose();
    expect(liveDeviceTensors()).toBe(before);
    console.log(
      `${backend}: ${steps} steps, rss grew ${grownMb.toFixed(1)} MB (samples every 100 steps: ${samples.map((m) => m.toFixed(0)).join(' ')}), ` +
        `${during - before} device buffers while live`,
    );
    expect(grownMb).toBeLessThan(50);
  });
});
