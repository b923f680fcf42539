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
import { compile, conv2d, grad, input, maxPool2d, mul, relu, sum } from '../../../../src/index.js';
import type { Tensor } from '../../../../src/index.js';
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
  const { labels, ...images } = g.feeds;
  return compiledSteps(what === 'training' ? [g.loss, ...g.grads] : [g.logits], what === 'training' ? g.feeds : images);
}

/** The tuned steps of `outputs` compiled for webasm and run once on `feeds`, each with its module. */
async function compiledSteps(outputs: Tensor[], feeds: Record<string, Float32Array>): Promise<{ step: PlanStep; module: WasmModuleReport }[]> {
  const f = compile(outputs, { backend: 'webasm' }) as GpuJsFunction;
  const recording = recordWasmModules();
  let modules: WasmModuleReport[] = [];
  try {
    await f.run(Object.fromEntries(f.inputs.map((i) => [i.name, feeds[i.name]])));
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
    // The plan's order is the memory scheduler's (backend/schedule.ts); compare the steps as a set, by op and shape.
    const key = (op: string, output: readonly number[]): string => `${op} ${JSON.stringify(output)}`;
    const byKey = <T extends readonly [string, readonly number[], ...unknown[]]>(rows: readonly T[]): T[] => [...rows].sort((a, b) => (key(a[0], a[1]) < key(b[0], b[1]) ? -1 : 1));
    const steps = await compiled(batch, what);
    const got = byKey(steps.map(({ step, module }) => [step.op, step.output, module.simd, module.vectorReads, module.gathers] as const));
    expected = byKey(expected);
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

/**
 * A grouped and a depthwise convolution take the same tuned forms as their
 * ungrouped twins (the same graph with every filter reading all channels):
 * the forms only offset their channel bases by the group, so each module
 * keeps its SIMD body, its vector reads and its gathers.
 */
describe('grouped convolutions on webasm', () => {
  const batch = 4;
  /** conv (2 groups) → relu → pool → depthwise conv → relu, trained or (its first block) inferred; `grouped` false: the twin. */
  function graph(grouped: boolean, what: 'training' | 'inference') {
    const x = input('x', [batch, 4, 10, 10]);
    const w1 = input('w1', [8, grouped ? 2 : 4, 3, 3]);
    const b1 = input('b1', [8]);
    const w2 = input('w2', [8, grouped ? 1 : 8, 3, 3]);
    const h = maxPool2d(relu(conv2d(x, w1, { bias: b1, groups: grouped ? 2 : 1 })), { size: 2 });
    if (what === 'inference') return { outputs: [h], params: [x, w1, b1] };
    const y = relu(conv2d(h, w2, { padding: 1, groups: grouped ? 8 : 1 }));
    const loss = sum(mul(y, y));
    return { outputs: [loss, ...grad(loss, [x, w1, b1, w2])], params: [x, w1, b1, w2] };
  }
  const feedsOf = (params: Tensor[]) =>
    Object.fromEntries(params.map((t) => [(t as Tensor<'input'>).attrs.name, Float32Array.from({ length: t.size }, (_, i) => ((i * 7919) % 255) / 255 - 0.5)]));
  const convFamily = new Set(['conv2d', 'conv2dBackpropInput', 'conv2dBackpropFilter', 'conv2dMaxPool']);
  const forms = async (grouped: boolean, what: 'training' | 'inference') => {
    const { outputs, params } = graph(grouped, what);
    const steps = await compiledSteps(outputs, feedsOf(params));
    return steps.filter(({ step }) => convFamily.has(step.op)).map(({ step, module }) => [step.op, step.stage, module.simd, module.vectorReads, module.gathers] as const);
  };

  it.each(['training', 'inference'] as const)('%s: every convolution step is tuned, in the form of its ungrouped twin', async (what) => {
    const grouped = await forms(true, what);
    expect(grouped).toEqual(await forms(false, what));
    const ops = grouped.map(([op]) => op);
    if (what === 'inference') expect(ops).toEqual(['conv2dMaxPool']);
    else for (const op of ['conv2d', 'conv2dBackpropInput', 'conv2dBackpropFilter']) expect(ops).toContain(op);
    // Each convolution's nine taps are vector loads (both convolutions run on their grids, inside the graph).
    for (const [op, , simd, vectorReads, gathers] of grouped.filter(([op]) => op === 'conv2d' || op === 'conv2dMaxPool')) {
      expect([op, simd, gathers]).toEqual([op, true, 0]);
      expect(vectorReads).toBeGreaterThanOrEqual(9);
    }
  });
});
