import { firstValueFrom, from, lastValueFrom, Subject, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/backend/compile.js';
import type { Feeds } from '../../src/backend/feeds.js';
import { input } from '../../src/ops/input.js';
import { mul } from '../../src/ops/mul.js';
import { run$ } from '../../src/backend/reactive.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A fake compiled function whose runs take different times, recording how many overlap. */
function fake(delays: number[]) {
  let active = 0;
  let maxActive = 0;
  const started: number[] = [];
  return {
    started,
    get maxActive() {
      return maxActive;
    },
    async run(feeds: Feeds): Promise<number> {
      const k = (feeds.k as number[])[0];
      started.push(k);
      active++;
      maxActive = Math.max(maxActive, active);
      await sleep(delays[k]);
      active--;
      if (k === 99) throw new Error('run: boom');
      return k * 10;
    },
  };
}

describe('run$', () => {
  it('runs one feeds value at a time and keeps the order, even when later runs are quicker', async () => {
    const f = fake([30, 1, 15, 0]);
    const results = await firstValueFrom(run$(f, from([0, 1, 2, 3].map((k) => ({ k: [k] })))).pipe(toArray()));
    expect(results).toEqual([0, 10, 20, 30]);
    expect(f.maxActive).toBe(1);
    expect(f.started).toEqual([0, 1, 2, 3]);
  });

  it('starts nothing before subscription and nothing after unsubscribing', async () => {
    const f = fake([5, 5, 5, 5]);
    const feeds$ = new Subject<Feeds>();
    const r$ = run$(f, feeds$);
    expect(f.started).toEqual([]);
    const got = firstValueFrom(r$.pipe(take(1)));
    for (const k of [0, 1, 2]) feeds$.next({ k: [k] });
    expect(await got).toBe(0);
    await sleep(30);
    expect(f.started).toEqual([0]);
  });

  it('ends with the error of a rejected run', async () => {
    const f = fake({ 0: 1, 99: 1 } as unknown as number[]);
    await expect(firstValueFrom(run$(f, from([{ k: [0] }, { k: [99] }, { k: [0] }])).pipe(toArray()))).rejects.toThrow('run: boom');
    expect(f.started).toEqual([0, 99]);
  });

  it('drives a compiled graph', async () => {
    const x = input('x', [3]);
    const f = compile(mul(x, 2), { backend: 'reference' });
    const out = await firstValueFrom(run$(f, from([{ x: [1, 2, 3] }, { x: [4, 5, 6] }])).pipe(toArray()));
    expect(out.map(([y]) => [...y.data])).toEqual([
      [2, 4, 6],
      [8, 10, 12],
    ]);
  });

  it('refuses a non-runnable', () => {
    expect(() => run$({} as never, from([]))).toThrow(/run\(feeds\) method/);
  });
});

describe('f.run$ on a compiled graph', () => {
  it('maps an observable of feeds to results, one at a time, in order', async () => {
    const x = input('x', [2]);
    for (const backend of ['reference', 'cpu'] as const) {
      const f = compile(mul(x, 3), { backend });
      const results = await lastValueFrom(f.run$(from([{ x: [1, 2] }, { x: [3, 4] }, { x: [5, 6] }])).pipe(toArray()));
      expect(results.map(([r]) => Array.from(r.data))).toEqual([[3, 6], [9, 12], [15, 18]]);
      await f.dispose();
    }
  });
});
