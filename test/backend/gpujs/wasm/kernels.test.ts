/**
 * The wasm backends' tuned kernels (src/backend/gpujs/wasm/kernels/) keep
 * their fast form on the graphs `npm run bench` times: LeNet-5's training
 * step (batch 64) and inference (batch 256). The conformance suite already
 * checks that every kernel computes the right values; this checks what it
 * cannot see. A tuned kernel that silently stops applying (its shape test
 * changed) and falls back to the op's portable template, a module that loses
 * its SIMD body, or a read re-spelled so that gpu.js's SIMD body gathers it
 * lane by lane instead of loading it as a vector (lanes.ts) is still correct
 * but several times slower, and fails here.
 *
 * The table is what each step compiled to when it was last measured fast
 * (bench/README.md). A change that gives more vector reads or fewer gathers
 * may tighten it; one that loosens it must come with a bench run showing it
 * is not slower.
 */
import { describe, expect, it } from 'vitest';
import { compile } from '../../../../src/index.js';
import type { GpuJsFunction, PlanStep } from '../../../../src/backend/gpujs/executor.js';
import { recordWasmModules, type WasmModuleReport } from '../../../../src/backend/gpujs/wasm/tuning.js';
import { lenetGraph } from '../../../../bench/lenet-graph.js';

/** [op, output shape, SIMD body, at least this many vector reads, at most this many gathers]; tuned steps only. */
type Expected = readonly [op: string, output: readonly number[], simd: boolean, vectorReads: number, gathers: number];

const training: readonly Expected[] = [
  ['conv2d', [64, 6, 24, 24], true, 25, 0],
  ['maxPool2d', [64, 6, 12, 12], true, 0, 4],
  ['conv2d', [64, 16, 8, 8], true, 25, 0],
  ['maxPool2d', [64, 16, 4, 4], true, 0, 4],
  ['matmul', [64, 120], true, 5, 0],
  ['matmul', [64, 84], true, 5, 0],
  ['matmul', [64, 10], true, 5, 0],
  ['matmul', [64, 84], true, 6, 0],
  ['matmul', [64, 120], true, 4, 0],
  ['matmul', [64, 256], true, 4, 0],
  ['maxPool2dBackward', [64, 16, 8, 8], true, 0, 5],
  ['conv2dBackpropInput', [64, 6, 12, 12], true, 25, 0],
  ['maxPool2dBackward', [64, 6, 24, 24], true, 0, 5],
  ['conv2dBackpropFilter', [6, 1, 5, 5], true, 24, 0],
  ['conv2dBackpropFilter', [6, 1, 5, 5], true, 0, 1],
  ['conv2dBackpropFilter', [16, 6, 5, 5], true, 8, 0],
  ['conv2dBackpropFilter', [16, 6, 5, 5], true, 0, 1],
  ['matmul', [256, 120], true, 4, 0],
  ['matmul', [120, 84], true, 4, 0],
  ['matmul', [84, 10], false, 0, 0],
];

const inference: readonly Expected[] = [
  ['conv2dMaxPool', [256, 6, 12, 12], true, 36, 0],
  ['conv2dMaxPool', [256, 16, 4, 4], true, 36, 0],
  ['matmul', [256, 120], true, 5, 0],
  ['matmul', [256, 84], true, 5, 0],
  ['matmul', [256, 10], false, 0, 0],
];

/** Each tuned step of the plan with what its module came out as. */
async function compiled(batch: number, what: 'training' | 'inference'): Promise<{ step: PlanStep; module: WasmModuleReport }[]> {
  const g = lenetGraph(batch);
  const f = compile(what === 'training' ? [g.loss, ...g.grads] : [g.logits], { backend: 'webasm' }) as GpuJsFunction;
  const { labels, ...images } = g.feeds;
  const recording = recordWasmModules();
  let modules: WasmModuleReport[] = [];
  try {
    await f.run(what === 'training' ? g.feeds : images);
  } finally {
    modules = recording.stop();
    await f.dispose();
  }
  return f.plan
    .filter((step) => step.tuned)
    .map((step) => {
      const module = modules.find((m) => m.source.includes(step.source));
      if (!module) throw new Error(`no wasm module was assembled for the ${step.op} step ${JSON.stringify(step.output)}`);
      return { step, module };
    });
}

describe.each([
  ['training', 64, training],
  ['inference', 256, inference],
] as const)('LeNet-5 %s (batch %i) on webasm', (what, batch, expected) => {
  it('uses a tuned kernel for the steps it was tuned for, each in its fast form', async () => {
    const steps = await compiled(batch, what);
    const got = steps.map(({ step, module }) => [step.op, step.output, module.simd, module.vectorReads, module.gathers] as const);
    expect(got.map(([op, output]) => [op, output])).toEqual(expected.map(([op, output]) => [op, output]));
    got.forEach(([op, output, simd, vectorReads, gathers], j) => {
      const [, , wantSimd, atLeast, atMost] = expected[j];
      const where = `${op} ${JSON.stringify(output)} (step ${j})`;
      expect(simd, `${where}: SIMD body`).toBe(wantSimd);
      expect(vectorReads, `${where}: vector reads`).toBeGreaterThanOrEqual(atLeast);
      expect(gathers, `${where}: four-lane gathers`).toBeLessThanOrEqual(atMost);
    });
  });
});
