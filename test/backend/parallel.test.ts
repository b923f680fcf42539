/**
 * compileParallel: a graph built for part of a batch, run on several parts at
 * once (this thread and worker threads). The joined results equal the whole
 * batch's graph on one thread: concatenated logits, averaged loss and
 * gradients, summed outputs; bad options are refused before any thread starts;
 * a disposed function refuses to run.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { compile, compileParallel, customVjp, grad, input, mul, sum, type Combine, type ParallelFunction, type Tensor } from 'striate';
import { lenetGraph } from '../../bench/lenet-graph.js';
import { striateError } from '../helpers.js';

const opened: ParallelFunction[] = [];
const open = (f: ParallelFunction): ParallelFunction => (opened.push(f), f);
afterAll(() => Promise.all(opened.map((f) => f.dispose())));

/** The StriateError of compileParallel that `f` throws, its message matching `message`. */
function refused(f: () => unknown, message: RegExp): void {
  expect(striateError(f, 'compileParallel').message).toMatch(message);
}

function closeTo(actual: Float32Array, expected: Float32Array, tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < actual.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  expect(worst).toBeLessThanOrEqual(tolerance * Math.max(scale, 1e-6));
}

describe('compileParallel', () => {
  it.each([2, 3])('LeNet-5 training on %i threads: the whole batch’s loss, logits and gradients', async (threads) => {
    const batch = 12;
    const whole = lenetGraph(batch);
    const part = lenetGraph(batch / threads);
    const one = compile([whole.loss, whole.logits, ...whole.grads], { backend: 'webasm' });
    const combine: Combine[] = ['mean', 'concat', ...part.grads.map((): Combine => 'mean')];
    const many = open(compileParallel([part.loss, part.logits, ...part.grads], { backend: 'webasm', threads, split: ['x', 'labels'], combine }));
    expect(many.inputs.find((i) => i.name === 'x')!.shape).toEqual([batch, 1, 28, 28]);
    expect(many.inputs.find((i) => i.name === 'c1w')!.shape).toEqual([6, 1, 5, 5]);
    const expected = await one.run(whole.feeds);
    // Twice: the second run reuses every thread's pipeline.
    for (let round = 0; round < 2; round++) {
      const got = await many.run(whole.feeds);
      expect(got.map((r) => r.shape)).toEqual(expected.map((r) => r.shape));
      got.forEach((r, k) => closeTo(r.data, expected[k].data as Float32Array, 1e-4));
    }
    await one.dispose();
  });

  it('sums, and one thread runs without workers', async () => {
    const x = input('x', [2, 3]);
    const w = input('w', [3]);
    const y = sum(mul(x, w));
    const f = open(compileParallel([y, mul(x, w)], { backend: 'cpu', threads: 1, split: ['x'], combine: ['sum', 'concat'] }));
    const g = open(compileParallel([y, mul(x, w)], { backend: 'webasm', threads: 2, split: ['x'], combine: ['sum', 'concat'] }));
    const feeds1 = { x: [1, 2, 3, 4, 5, 6], w: [1, 10, 100] };
    const feeds2 = { x: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], w: [1, 10, 100] };
    const [s1, p1] = await f.run(feeds1);
    expect([...s1.data]).toEqual([321 + 654]);
    expect([...p1.data]).toEqual([1, 20, 300, 4, 50, 600]);
    const [s2, p2] = await g.run(feeds2);
    expect(s2.shape).toEqual([]);
    expect([...s2.data]).toEqual([321 + 654 + 987 + 1320]);
    expect(p2.shape).toEqual([4, 3]);
    expect([...p2.data]).toEqual([1, 20, 300, 4, 50, 600, 7, 80, 900, 10, 110, 1200]);
  });

  it('checks the whole batch’s feeds, and runs in order', async () => {
    const x = input('x', [1, 2]);
    const f = open(compileParallel([mul(x, 2)], { backend: 'webasm', threads: 2, split: ['x'], combine: ['concat'] }));
    await expect(f.run({ x: [1, 2] })).rejects.toThrow(/feed "x" has 2 values but input "x" has shape \[2,2\]/);
    await expect(f.run({ x: [1, NaN, 3, 4] })).rejects.toThrow(/finite/);
    const runs = [1, 2, 3].map((k) => f.run({ x: [k, k, k, k] }));
    expect((await Promise.all(runs)).map((r) => [...r[0].data])).toEqual([1, 2, 3].map((k) => [2 * k, 2 * k, 2 * k, 2 * k]));
  });

  it('refuses bad options, naming what it got', () => {
    const x = input('x', [2, 3]);
    const y = sum(x);
    const base = { backend: 'webasm', threads: 2, split: ['x'], combine: ['sum'] } as const;
    refused(() => compileParallel([y], { ...base, backend: 'webasm-threads' as 'webasm' }), /backend must be "webasm" or "cpu", got "webasm-threads"/);
    refused(() => compileParallel([y], { ...base, threads: 0 }), /threads must be an integer from 1 to 64, got 0/);
    refused(() => compileParallel([y], { ...base, threads: 2.5 }), /threads must be an integer/);
    refused(() => compileParallel([y], { ...base, split: ['y'] }), /split names "y", which is not an input of the graph; the inputs are "x"/);
    refused(() => compileParallel([y], { ...base, split: ['x', 'x'] }), /split names "x" twice/);
    refused(() => compileParallel([y], { ...base, combine: ['concat'] }), /combine\[0\] is 'concat' but output 0 \(sum\) is a scalar/);
    refused(() => compileParallel([y], { ...base, combine: [] }), /combine must be an array of one of 'concat', 'mean', 'sum' for each of the 1 outputs/);
    refused(() => compileParallel([y], { ...base, combine: ['max' as Combine] }), /combine\[0\] must be one of concat, mean, sum, got "max"/);
    refused(() => compileParallel([y], { ...base, split: [] , extra: 1 } as never), /extra/);
    const s = input('s', []);
    refused(() => compileParallel([mul(x, s)], { ...base, split: ['s'], combine: ['concat'] }), /split input "s" is a scalar/);
  });

  it('refuses a graph whose ops cannot travel to a worker', () => {
    const x = input('x', [2, 3]);
    const f = customVjp((a: Tensor) => mul(a, 2), (g) => [mul(g, 2)]);
    const y = sum(f(x));
    refused(
      () => compileParallel([y, ...grad(y, [x])], { backend: 'webasm', threads: 2, split: ['x'], combine: ['sum', 'concat'] }),
      /\(customVjp\) has a function among its attributes, which cannot be sent to another thread/,
    );
    // One thread sends nothing anywhere.
    open(compileParallel([y], { backend: 'webasm', threads: 1, split: ['x'], combine: ['sum'] }));
  });

  it('a worker thread that dies fails the run and every later one, naming what happened', async () => {
    const x = input('x', [1, 2]);
    const f = open(compileParallel([mul(x, 2)], { backend: 'webasm', threads: 2, split: ['x'], combine: ['concat'] }));
    await f.run({ x: [1, 2, 3, 4] });
    // The worker is private: end it from outside, as a crash would.
    await (f as unknown as { workers: { worker: { terminate(): Promise<number> } }[] }).workers[0].worker.terminate();
    await expect(f.run({ x: [1, 2, 3, 4] })).rejects.toThrow(/compileParallel: a worker thread exited \(code 1\); compile the graph again/);
    await expect(f.run({ x: [1, 2, 3, 4] })).rejects.toThrow(/exited/);
  });

  it('refuses to run once disposed', async () => {
    const x = input('x', [1, 2]);
    const f = compileParallel([mul(x, 2)], { backend: 'webasm', threads: 2, split: ['x'], combine: ['concat'] });
    await f.run({ x: [1, 2, 3, 4] });
    await f.dispose();
    await expect(f.run({ x: [1, 2, 3, 4] })).rejects.toThrow(/disposed/);
    await f.dispose();
  });
});
