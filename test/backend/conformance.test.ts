/**
 * Every op, forward and gradient, on every gpu.js backend available here,
 * against the float64 reference (float32 tolerance per case).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { vjp } from '../../src/autodiff/grad.js';
import { compile } from '../../src/backend/compile.js';
import { releaseIdleGpus } from '../../src/backend/gpujs/gpu.js';
import { disableNodeWebGPU } from '../../src/backend/gpujs/node-webgpu.js';
import { input } from '../../src/ops/input.js';
import { distinctValues, randomValues } from '../helpers.js';
import { backendStatuses, required } from './backends.js';
import { type Domain, opCases } from './cases.js';

const statuses = await backendStatuses();

function values(n: number, domain: Domain, seed: number): Float64Array {
  if (domain === 'positive') return randomValues(n, seed).map((v) => 0.5 + Math.abs(v));
  if (domain === 'distinct') return distinctValues(n, seed, 0.05);
  if (typeof domain === 'object') return randomValues(n, seed).map((v) => Math.floor(((v + 1) / 2) * domain.labels * 0.999));
  return randomValues(n, seed);
}

/** Build a case's graph: its output and the gradients of <c, output> with respect to each differentiable input. */
function buildCase(c: (typeof opCases)[number]) {
  const xs = c.inputs.map((spec, i) => input(`x${i}`, spec.shape));
  const y = c.fn(...xs);
  const cot = input('cotangent', y.shape);
  const wrt = xs.filter((_, i) => c.inputs[i].grad !== false);
  const grads = vjp([y], wrt, [cot]);
  const feeds: Record<string, Float64Array> = {};
  c.inputs.forEach((spec, i) => {
    feeds[`x${i}`] = values(spec.shape.reduce((a, b) => a * b, 1), spec.domain ?? 'any', 11 + 7 * i);
  });
  feeds.cotangent = randomValues(y.shape.reduce((a, b) => a * b, 1), 99);
  return { outputs: [y, ...grads], feeds };
}

/** The inputs a compiled function reads (a gradient graph need not read every input). */
function only(f: { inputs: readonly { name: string }[] }, feeds: Record<string, Float64Array>) {
  return Object.fromEntries(f.inputs.map(({ name }) => [name, feeds[name]]));
}

afterAll(async () => {
  releaseIdleGpus();
  await disableNodeWebGPU();
});

describe.each(statuses)('backend $backend', ({ backend, reason }) => {
  if (reason !== null) {
    it(`is ${required.has(backend) ? 'required but ' : ''}not available: ${reason}`, () => {
      if (required.has(backend)) throw new Error(`backend "${backend}" is required (STRIATE_REQUIRE_BACKENDS) but not available: ${reason}`);
      console.warn(`skipping backend ${backend}: ${reason}`);
    });
    return;
  }

  it.each(opCases)('$name matches the reference, forward and gradient', async (c) => {
    const { outputs, feeds } = buildCase(c);
    const ref = compile(outputs, { backend: 'reference' });
    const dev = compile(outputs, { backend });
    try {
      expect(dev.backend).toBe(backend);
      const want = ref.runSync(only(ref, feeds));
      const got = await dev.run(only(dev, feeds));
      const rtol = c.rtol ?? 1e-4;
      got.forEach((g, o) => {
        expect(g.shape).toEqual(want[o].shape);
        expect(g.data).toBeInstanceOf(Float32Array);
        // float32 against float64: relative to the output's scale, so that near-zero entries are judged fairly
        const scale = Math.max(1e-6, ...Array.from(want[o].data, Math.abs));
        let worst = 0;
        let at = -1;
        want[o].data.forEach((w, k) => {
          const err = Math.abs(g.data[k] - w) / scale;
          if (err > worst) [worst, at] = [err, k];
        });
        if (worst > rtol) {
          throw new Error(
            `${c.name}: output ${o} differs from the reference at index ${at}: ${g.data[at]} vs ${want[o].data[at]} ` +
              `(error ${worst.toExponential(2)} of the output's scale ${scale.toExponential(2)}, tolerance ${rtol})`,
          );
        }
      });
    } finally {
      dev.dispose();
    }
  });
});
