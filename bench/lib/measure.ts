/**
 * Timing: a warm-up, then several rounds of back-to-back steps; each round
 * gives items per second, and the median round is the number reported.
 * Environment-neutral; `cpuNow` is injected where the host can tell CPU time
 * (Node's process.cpuUsage), so a loaded machine can be told apart from a
 * slow contestant.
 */

export interface TimingOptions {
  /** Number of timed rounds (median reported). */
  readonly rounds: number;
  /** Each round runs steps until at least this long has passed (at least one step). */
  readonly roundMs: number;
  /** Warm-up after the first step: run until this long has passed (at least `warmupSteps` steps). */
  readonly warmupMs: number;
  readonly warmupSteps: number;
  /** Process CPU time in ms (user + system, all threads), when the host can tell it. */
  readonly cpuNow?: () => number;
}

export interface Rate {
  /** Median items/s over the rounds. */
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** Items/s of each round, in order. */
  readonly rounds: number[];
  /** Steps timed in all rounds. */
  readonly steps: number;
  /** Milliseconds per step at the median rate. */
  readonly msPerStep: number;
  /** First step (includes compiling kernels), ms. */
  readonly firstStepMs: number;
  /** Process CPU ms per step over the timed rounds (all threads), when known. */
  readonly cpuMsPerStep?: number;
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Time `step` (which processes `items` items) in rounds; see TimingOptions. */
export async function measureRate(step: () => unknown, items: number, o: TimingOptions): Promise<Rate> {
  let t0 = performance.now();
  await step();
  const firstStepMs = performance.now() - t0;
  t0 = performance.now();
  for (let n = 0; n < o.warmupSteps || performance.now() - t0 < o.warmupMs; n++) await step();
  const rates: number[] = [];
  let steps = 0;
  let timedMs = 0;
  const cpu0 = o.cpuNow?.();
  for (let r = 0; r < o.rounds; r++) {
    const start = performance.now();
    let n = 0;
    let elapsed = 0;
    do {
      await step();
      n++;
      elapsed = performance.now() - start;
    } while (elapsed < o.roundMs);
    rates.push((n * items * 1000) / elapsed);
    steps += n;
    timedMs += elapsed;
  }
  const cpu1 = o.cpuNow?.();
  const med = median(rates);
  return {
    median: med,
    min: Math.min(...rates),
    max: Math.max(...rates),
    rounds: rates,
    steps,
    msPerStep: (items * 1000) / med,
    firstStepMs,
    ...(cpu0 !== undefined && cpu1 !== undefined ? { cpuMsPerStep: (cpu1 - cpu0) / steps } : {}),
  };
}

/** Fixed-width text table: right-aligned numbers, left-aligned text. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const isNum = (s: string) => /^[-+]?[\d,.]+(x|%| ms)?$/.test(s.trim()) || s.trim() === '—';
  const line = (r: readonly string[]) =>
    r.map((c, i) => (i > 0 && isNum(c) ? (c ?? '').padStart(widths[i]) : (c ?? '').padEnd(widths[i]))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export const fmtRate = (x: number | undefined | null): string =>
  x === undefined || x === null || !Number.isFinite(x) ? '—' : x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1);

export const fmtRatio = (x: number | undefined | null): string =>
  x === undefined || x === null || !Number.isFinite(x) ? '—' : x >= 10 ? `${x.toFixed(1)}x` : `${x.toFixed(2)}x`;

export const fmtMs = (x: number | undefined | null): string =>
  x === undefined || x === null || !Number.isFinite(x) ? '—' : x >= 100 ? `${Math.round(x)} ms` : x >= 1 ? `${x.toFixed(1)} ms` : `${x.toFixed(3)} ms`;
