/**
 * Class labels are checked once, on the host, for every backend: a graph
 * input that reaches a label position (oneHot's input, softmaxCrossEntropy's
 * index labels, softmaxCrossEntropyBackward's labels), directly or through
 * ops that only move values, is refused by `run` when a fed value is not an
 * integer class index; a constant label is refused when the op is built. A
 * label computed in the graph gives NaN for its row on every backend, the
 * same NaN as the float64 reference, never a neighbouring row's value or a
 * read out of bounds. Bad feeds of any kind are a StriateError naming `run`
 * and the feed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { StriateError } from '../../src/graph/error.js';
import type { Tensor } from '../../src/graph/tensor.js';
import { grad } from '../../src/autodiff/grad.js';
import { compile, type BackendName, type CompiledFunction } from '../../src/backend/compile.js';
import type { Feeds } from '../../src/backend/feeds.js';
import { releaseIdleGpus } from '../../src/backend/gpujs/gpu.js';
import { disableNodeWebGPU } from '../../src/backend/gpujs/node-webgpu.js';
import { add } from '../../src/ops/add.js';
import { broadcastTo } from '../../src/ops/broadcastTo.js';
import { concat } from '../../src/ops/concat.js';
import { constant } from '../../src/ops/constant.js';
import { input } from '../../src/ops/input.js';
import { mul } from '../../src/ops/mul.js';
import { oneHot } from '../../src/ops/oneHot.js';
import { pad } from '../../src/ops/pad.js';
import { relu } from '../../src/ops/relu.js';
import { reshape } from '../../src/ops/reshape.js';
import { slice } from '../../src/ops/slice.js';
import { softmaxCrossEntropy } from '../../src/ops/softmaxCrossEntropy.js';
import { softmaxCrossEntropyBackward } from '../../src/ops/softmaxCrossEntropyBackward.js';
import { sum } from '../../src/ops/sum.js';
import { transpose } from '../../src/ops/transpose.js';
import { backendStatuses, unavailableBackendTest } from './backends.js';

const statuses = await backendStatuses();

afterAll(async () => {
  releaseIdleGpus();
  await disableNodeWebGPU();
});

/** The StriateError `f` throws or rejects with (a test failure when it is anything else). */
async function striateError(f: () => unknown): Promise<StriateError> {
  try {
    await f();
  } catch (err) {
    expect(err).toBeInstanceOf(StriateError);
    return err as StriateError;
  }
  throw new Error('expected a StriateError, but nothing was thrown');
}

const logits = [1, 2, 3, 0.5, -1, 2, 0, 0, 1];

/** Graphs reading the labels input `l` [3] against 3 classes, one per op that reads labels. */
function labelGraphs(l: Tensor): Tensor[] {
  const x = input('x', [3, 3]);
  const loss = softmaxCrossEntropy(x, l, { reduction: 'none' });
  return [oneHot(l, 3), loss, softmaxCrossEntropyBackward(x, l, input('g', [3]), 'none'), grad(sum(loss), [x])[0]];
}

/** Compile `outputs` on `backend`, run `feeds`, dispose; the results' data as plain arrays. */
async function runOn(backend: BackendName, outputs: Tensor[], feeds: Feeds): Promise<number[][]> {
  const f: CompiledFunction = compile(outputs, { backend });
  try {
    return (await f.run(feeds)).map((r) => Array.from(r.data));
  } finally {
    await f.dispose();
  }
}

/** Same NaNs as `want`, and the numbers within float32 tolerance. */
function expectSameValues(got: number[][], want: number[][]): void {
  expect(got.length).toBe(want.length);
  got.forEach((values, o) => {
    expect(values.map(Number.isNaN), `NaN positions of output ${o}`).toEqual(want[o].map(Number.isNaN));
    values.forEach((v, i) => {
      if (!Number.isNaN(want[o][i])) expect(v).toBeCloseTo(want[o][i], 4);
    });
  });
}

describe('labels of the graph inputs', () => {
  it('are recorded when the inputs are collected, with the smallest class count and through ops that only move values', () => {
    const l = input('l', [2]);
    const f = compile([oneHot(l, 5), softmaxCrossEntropy(input('x', [2, 3]), l)]);
    expect(f.inputs).toEqual([
      { name: 'l', shape: [2], classes: 3 },
      { name: 'x', shape: [2, 3] },
    ]);
    const moved = [
      oneHot(reshape(input('a', [1, 2]), [2]), 4),
      oneHot(transpose(input('b', [2, 1])), 4),
      oneHot(broadcastTo(input('c', [1]), [3]), 4),
      oneHot(concat([input('d', [1]), input('e', [2])], 0), 4),
      oneHot(pad(input('p', [1]), [[1, 1]]), 4),
    ];
    expect(compile(moved).inputs.map((s) => [s.name, s.classes])).toEqual(['a', 'b', 'c', 'd', 'e', 'p'].map((n) => [n, 4]));
    // A slice drops values (which may be anything), and a computed label is checked on the device.
    const unchecked = compile([oneHot(slice(input('s', [2]), [0], [1]), 4), oneHot(add(input('t', [1]), 1), 4)]);
    expect(unchecked.inputs.map((s) => s.classes)).toEqual([undefined, undefined]);
    // The one-hot kind of softmaxCrossEntropy reads probabilities, not class indices.
    expect(compile(softmaxCrossEntropy(input('z', [2, 3]), input('y', [2, 3]))).inputs.every((s) => s.classes === undefined)).toBe(true);
  });
});

describe('constant labels', () => {
  it('are checked when the op is built', async () => {
    const e = await striateError(() => oneHot(constant([7], [1]), 3));
    expect(e).toMatchObject({ op: 'oneHot', got: 'label 7', expected: 'an integer class index in [0, 2]' });
    expect(e.message).toBe('oneHot: constant label 0 is 7; labels must be integer class indices in [0, 2]');
    const x = input('x', [2, 3]);
    await expect(striateError(() => softmaxCrossEntropy(x, constant([0, 1.5], [2])))).resolves.toMatchObject({ op: 'softmaxCrossEntropy', got: 'label 1.5' });
    await expect(striateError(() => softmaxCrossEntropyBackward(x, reshape(constant([-1, 0], [1, 2]), [2]), input('g', []), 'mean'))).resolves.toMatchObject({
      op: 'softmaxCrossEntropyBackward',
      got: 'label -1',
    });
    const border = await striateError(() => oneHot(pad(input('l', [2]), [[0, 1]], -1), 3));
    expect(border.message).toBe('oneHot: the border value of a pad on the labels is -1; labels must be integer class indices in [0, 2]');
    // Valid ones build.
    expect(oneHot(constant([0, 2], [2]), 3).shape).toEqual([2, 3]);
    expect(softmaxCrossEntropy(x, constant([2, 0], [2])).shape).toEqual([]);
  });
});

const backends: { backend: BackendName; reason: string | null }[] = [{ backend: 'reference', reason: null }, ...statuses];

describe.each(backends)('backend $backend', ({ backend, reason }) => {
  if (reason !== null) return unavailableBackendTest(backend as Exclude<BackendName, 'reference' | 'auto'>, reason);

  it('refuses a fed label that is not an integer class index, naming the input and the first bad index', async () => {
    const l = input('l', [3]);
    const f = compile(labelGraphs(l), { backend });
    const base = { x: logits, g: [1, 1, 1] };
    try {
      for (const [labels, at, shown] of [
        [[0, 1, 3], 2, '3'],
        [[0, 1.5, 2], 1, '1.5'],
        [[-1, 0, 1], 0, '-1'],
        [[1, 1e6, 2], 1, '1000000'],
      ] as const) {
        const e = await striateError(() => f.run({ ...base, l: [...labels] }));
        expect(e.op).toBe('run');
        expect(e.got).toBe(`${shown} at index ${at}`);
        expect(e.expected).toBe('an integer class index in [0, 2]');
        expect(e.message).toBe(`run: feed "l" holds ${shown} at index ${at}, but its values are class labels: integers in [0, 2]`);
      }
      // Through a reshape, too; and valid labels run.
      const r = compile(oneHot(reshape(input('m', [1, 3]), [3]), 3), { backend });
      try {
        await expect(striateError(() => r.run({ m: [0, 2, 3] }))).resolves.toMatchObject({ op: 'run', got: '3 at index 2' });
        expect(Array.from((await r.run({ m: [2, 0, 1] }))[0].data)).toEqual([0, 0, 1, 1, 0, 0, 0, 1, 0]);
      } finally {
        await r.dispose();
      }
    } finally {
      await f.dispose();
    }
  });

  it('gives NaN for the row of a computed label that is not a class index, as the reference does', async () => {
    // l + o is computed in the graph: l and o are not labels themselves.
    const l = add(input('l', [3]), input('o', [3]));
    const outputs = [...labelGraphs(l), softmaxCrossEntropy(input('x', [3, 3]), l), softmaxCrossEntropy(input('x', [3, 3]), l, { reduction: 'sum' })];
    for (const labels of [
      [0, 3, 1], // one past the last class: not a neighbouring row's logit
      [2, 0.5, 1], // not an integer: not rounded
      [-1, 2, 1e6], // out of bounds both ways: no trap
    ]) {
      const feeds = { l: labels, o: [0, 0, 0], x: logits, g: [1, 2, 3] };
      const want = await runOn('reference', outputs, feeds);
      const bad = labels.map((v) => !(Number.isInteger(v) && v >= 0 && v < 3));
      // By hand: each output's rows are NaN exactly where the label is bad (the mean and the sum wherever one is).
      expect(want[0].map(Number.isNaN)).toEqual(bad.flatMap((b) => [b, b, b]));
      expect(want[1].map(Number.isNaN)).toEqual(bad);
      expect(want[2].map(Number.isNaN)).toEqual(bad.flatMap((b) => [b, b, b]));
      expect(want[3].map(Number.isNaN)).toEqual(bad.flatMap((b) => [b, b, b]));
      expect(Number.isNaN(want[4][0]) && Number.isNaN(want[5][0])).toBe(true);
      expectSameValues(await runOn(backend, outputs, feeds), want);
    }
    // Valid computed labels give the values of fed ones.
    const feeds = { l: [1, 0, 2], o: [1, 2, -2], x: logits, g: [1, 2, 3] };
    const fed = await runOn('reference', labelGraphs(input('l', [3])), { l: [2, 2, 0], x: logits, g: [1, 2, 3] });
    expectSameValues(await runOn(backend, outputs.slice(0, 4), feeds), fed);
  });

  it('gives NaN for the row of a label sliced out of a wider input', async () => {
    const t = input('t', [2, 2]);
    const l = reshape(slice(t, [0, 0], [2, 1]), [2]);
    const y = oneHot(l, 2);
    // Column 1 is not labels (5 and -4 are fine there); row 1's label, 7, is not a class.
    const got = await runOn(backend, [y], { t: [1, 5, 7, -4] });
    expect(got[0].map((v) => (Number.isNaN(v) ? 'NaN' : v))).toEqual([0, 1, 'NaN', 'NaN']);
  });

  it('refuses feeds of the wrong kind with a StriateError naming run and the feed', async () => {
    const f = compile(relu(mul(input('x', [2]), 2)), { backend });
    const cases: [unknown, string, string][] = [
      ['ab', 'string "ab"', 'run: feed "x" is string "ab"; a feed must be an array or typed array of numbers, or { shape, data }'],
      [3, 'number 3', 'run: feed "x" is number 3; a feed must be'],
      [true, 'boolean true', 'run: feed "x" is boolean true; a feed must be'],
      [{ shape: [2], data: null }, 'null', 'run: feed "x" must be an array or typed array of numbers, or { shape, data }, got data null'],
      [{ shape: [2], data: 5 }, 'number 5', 'run: feed "x" must be'],
      [{ shape: [2], data: {} }, 'an object with keys (none)', 'run: feed "x" must be'],
      [{ shape: 'ab', data: [1, 2] }, 'an object with keys shape, data', 'run: feed "x" must be { shape, data } with shape an array'],
      [{ data: [1, 2] }, 'an object with keys data', 'run: feed "x" must be { shape, data } with shape an array'],
      [{ length: 'two' }, 'an object with keys length', 'run: feed "x" must be'],
      [new Map(), 'a Map', 'run: feed "x" must be'],
    ];
    try {
      for (const [value, got, message] of cases) {
        const e = await striateError(() => f.run({ x: value } as unknown as Feeds));
        expect(e.op).toBe('run');
        expect(e.got).toBe(got);
        expect(e.message.startsWith(message), e.message).toBe(true);
      }
      await expect(striateError(() => f.run('x' as unknown as Feeds))).resolves.toMatchObject({ op: 'run', got: 'string "x"' });
      expect(Array.from((await f.run({ x: { shape: [2], data: [1, -1] } }))[0].data)).toEqual([2, 0]);
    } finally {
      await f.dispose();
    }
  });
});
