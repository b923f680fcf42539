import { describe, expect, it, vi } from 'vitest';
import { compile } from 'vega-lite';
import { compareCurvesSpec, trainingCurvesSpec, MAX_COMPARED_RUNS, type TrainEvent } from 'striate';

/** A run of `epochs` epochs of `steps` steps: the loss falls from 2.3 over two decades, the accuracy rises. */
function run(epochs: number, steps: number, testAccuracy = (e: number) => 0.8 + 0.05 * e): TrainEvent[] {
  const events: TrainEvent[] = [];
  let k = 0;
  for (let epoch = 1; epoch <= epochs; epoch++) {
    for (let step = 1; step <= steps; step++, k++) {
      events.push({ type: 'step', epoch, step, loss: 2.3 * 0.97 ** k, accuracy: Math.min(1, 0.1 + k / 100), imagesPerSecond: 100 });
    }
    events.push({ type: 'epoch', epoch, trainLoss: 1, trainAccuracy: 0.5, testLoss: 0.5 / epoch, testAccuracy: testAccuracy(epoch), seconds: 1 });
  }
  return events;
}

type Rows = { step: number; metric: string; series: string; value: number }[];
type Panel = { layer: { mark: { type: string }; encoding: Record<string, { scale?: Record<string, unknown>; legend?: Record<string, unknown> }>; data?: { values: { step: number }[] } }[] };
const rowsOf = (spec: Record<string, unknown>) => (spec.data as { values: Rows }).values;
const panels = (spec: Record<string, unknown>) => spec.vconcat as Panel[];

describe('trainingCurvesSpec', () => {
  it('puts test values at the steps after which they were measured, never at step 0', () => {
    const spec = trainingCurvesSpec(run(2, 30));
    for (const metric of ['loss', 'accuracy']) {
      const test = rowsOf(spec).filter((r) => r.metric === metric && r.series === 'test (end of epoch)');
      expect(test.map((r) => r.step)).toEqual([30, 60]);
    }
    expect(rowsOf(spec).find((r) => r.series === 'test (end of epoch)' && r.metric === 'accuracy')?.value).toBeCloseTo(0.85, 12);
    // Steps are counted across epochs from 1.
    const batches = rowsOf(spec).filter((r) => r.metric === 'loss' && r.series === 'train (per batch)');
    expect(batches.map((r) => r.step)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    // The epochs' dashed rules stand at the same steps.
    const rule = panels(spec)[0].layer.find((l) => l.mark.type === 'rule')!;
    expect(rule.data!.values.map((v) => v.step)).toEqual([30, 60]);
  });

  it('draws the loss on a log axis and leaves out values a log axis cannot place', () => {
    const events = run(1, 10);
    events[3] = { ...(events[3] as Extract<TrainEvent, { type: 'step' }>), loss: 0 };
    events[4] = { ...(events[4] as Extract<TrainEvent, { type: 'step' }>), loss: Number.NaN };
    const spec = trainingCurvesSpec(events, { smoothing: 0 });
    const loss = panels(spec)[0].layer.find((l) => l.mark.type === 'line')!;
    expect(loss.encoding.y.scale).toEqual({ type: 'log' });
    const raw = rowsOf(spec).filter((r) => r.metric === 'loss' && r.series === 'train (per batch)');
    expect(raw.map((r) => r.step)).toEqual([1, 2, 3, 6, 7, 8, 9, 10]);
    expect(raw.every((r) => r.value > 0)).toBe(true);
  });

  it('smooths with a debiased moving average', () => {
    const events: TrainEvent[] = [1, 3, 5].map((loss, i) => ({ type: 'step', epoch: 1, step: i + 1, loss, accuracy: 0.5, imagesPerSecond: 1 }));
    const smooth = rowsOf(trainingCurvesSpec(events, { smoothing: 0.5 })).filter((r) => r.metric === 'loss' && r.series === 'train (smoothed)');
    expect(smooth.map((r) => r.value)).toEqual([1, 7 / 3, 27 / 7].map((v) => expect.closeTo(v, 12)));
  });

  it('shows every accuracy on its axis, however low the test accuracy is', () => {
    const spec = trainingCurvesSpec(run(2, 5, (e) => (e === 1 ? 0.03 : 0.5)));
    const acc = panels(spec)[1].layer.find((l) => l.mark.type === 'line')!;
    const [lo, hi] = acc.encoding.y.scale!.domain as number[];
    const values = rowsOf(spec).filter((r) => r.metric === 'accuracy').map((r) => r.value);
    expect(lo).toBeLessThanOrEqual(Math.min(...values));
    expect(lo).toBeLessThanOrEqual(0.03);
    expect(hi).toBe(1);
  });

  it('keeps the legend outside the plot and compiles with vega-lite without a warning', () => {
    const spec = trainingCurvesSpec(run(3, 8));
    const color = panels(spec)[0].layer.find((l) => l.mark.type === 'line')!.encoding.color;
    expect(color.legend!.orient).toBe('right');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const vg = compile(spec as never).spec;
      expect(warn).not.toHaveBeenCalled();
      expect(vg.scales?.some((s) => s.type === 'log')).toBe(true);
    } finally {
      warn.mockRestore();
    }
  });

  it('refuses an empty history and bad options', () => {
    expect(() => trainingCurvesSpec([])).toThrow(/trainingCurvesSpec: the events hold no step event/);
    expect(() => trainingCurvesSpec(run(1, 3), { smoothing: 1 })).toThrow(/smoothing must be in \[0, 1\), got 1/);
    expect(() => trainingCurvesSpec(run(1, 3), { width: 10 })).toThrow(/width must be an integer in \[100, 16384\], got 10/);
    expect(() => trainingCurvesSpec(run(1, 3), { width: 1e9 })).toThrow(expect.objectContaining({ op: 'trainingCurvesSpec', got: 'width 1000000000' }));
  });
});

describe('compareCurvesSpec', () => {
  type CRows = { step: number; metric: string; run: string; test: boolean; value: number }[];
  const crows = (spec: Record<string, unknown>) => (spec.data as { values: CRows }).values;
  /** A run whose loss becomes NaN at step `at` (1-based) and stays so. */
  const diverging = (steps: number, at: number): TrainEvent[] =>
    Array.from({ length: steps }, (_, k) => ({ type: 'step', epoch: 1, step: k + 1, loss: k + 1 >= at ? NaN : 2.3 + k, accuracy: 0.1, imagesPerSecond: 100 }) as TrainEvent);

  it('draws each run in its own colour, smoothed, with its test values at the ends of its epochs', () => {
    const spec = compareCurvesSpec([
      { label: 'with batch norm', events: run(2, 10) },
      { label: 'without batch norm', events: run(1, 15, () => 0.1) },
    ], { smoothing: 0 });
    const rows = crows(spec);
    const color = panels(spec)[0].layer[0].encoding.color;
    expect(color.scale!.domain).toEqual(['with batch norm', 'without batch norm']);
    expect((color.scale!.range as string[])[0]).not.toBe((color.scale!.range as string[])[1]);
    // smoothing 0: the raw values, step by step, per run
    const a = rows.filter((r) => r.run === 'with batch norm' && r.metric === 'loss' && !r.test);
    expect(a.map((r) => r.step)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    a.forEach((r, k) => expect(r.value).toBeCloseTo(2.3 * 0.97 ** k, 12));
    const tests = rows.filter((r) => r.test && r.metric === 'accuracy');
    expect(tests.map((r) => [r.run, r.step, r.value])).toEqual([
      ['with batch norm', 10, 0.8500000000000001],
      ['with batch norm', 20, 0.9],
      ['without batch norm', 15, 0.1],
    ]);
    // The x axis spans the longer run.
    expect((panels(spec)[0].layer[0].encoding.x.scale as { domain: number[] }).domain).toEqual([0, 20]);
  });

  it('smooths each run on its own, as the smooth operator does', () => {
    const spec = compareCurvesSpec([{ label: 'a', events: run(1, 3) }], { smoothing: 0.5 });
    const loss = crows(spec).filter((r) => r.metric === 'loss' && !r.test).map((r) => r.value);
    const x = [2.3, 2.3 * 0.97, 2.3 * 0.97 ** 2];
    // s1 = x1; s2 = (0.25 x1 + 0.5 x2) / 0.75; s3 = (0.125 x1 + 0.25 x2 + 0.5 x3) / 0.875
    expect(loss[0]).toBeCloseTo(x[0], 12);
    expect(loss[1]).toBeCloseTo((0.25 * x[0] + 0.5 * x[1]) / 0.75, 12);
    expect(loss[2]).toBeCloseTo((0.125 * x[0] + 0.25 * x[1] + 0.5 * x[2]) / 0.875, 12);
  });

  it('draws a diverged run up to its last finite loss and says in the legend where it went non-finite', () => {
    const spec = compareCurvesSpec([{ label: 'fine', events: run(1, 8) }, { label: 'no BN', events: diverging(8, 5) }], { smoothing: 0 });
    const label = 'no BN (non-finite loss at step 5)';
    expect(panels(spec)[0].layer[0].encoding.color.scale!.domain).toEqual(['fine', label]);
    const bad = crows(spec).filter((r) => r.run === label && r.metric === 'loss');
    expect(bad.map((r) => r.step)).toEqual([1, 2, 3, 4]);
    expect(crows(spec).every((r) => Number.isFinite(r.value))).toBe(true);
  });

  it('compiles with vega-lite without a warning', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const vg = compile(compareCurvesSpec([{ label: 'a', events: run(2, 5) }, { label: 'b', events: run(2, 5) }]) as never).spec;
      expect(warn).not.toHaveBeenCalled();
      expect(vg.scales?.some((s) => s.type === 'log')).toBe(true);
    } finally {
      warn.mockRestore();
    }
  });

  it('refuses no runs, too many, unlabelled or twice-labelled runs, runs without steps and bad options', () => {
    expect(() => compareCurvesSpec([])).toThrow(/compareCurvesSpec: runs must be an array of 1 to 10/);
    expect(() => compareCurvesSpec(Array.from({ length: MAX_COMPARED_RUNS + 1 }, (_, i) => ({ label: `r${i}`, events: run(1, 2) })))).toThrow(/1 to 10/);
    expect(() => compareCurvesSpec([{ label: '', events: run(1, 2) }])).toThrow(/run 0 must be \{ label, events \} with a non-empty label/);
    expect(() => compareCurvesSpec([{ label: 'a', events: 'x' as never }])).toThrow(/run 0 \("a"\): events must be an iterable/);
    expect(() => compareCurvesSpec([{ label: 'a', events: [] }])).toThrow(/run 0 \("a"\) holds no step event/);
    expect(() => compareCurvesSpec([{ label: 'a', events: run(1, 2) }, { label: 'a', events: run(1, 2) }])).toThrow(/two runs are labelled "a"/);
    expect(() => compareCurvesSpec([{ label: 'a', events: run(1, 2) }], { smoothing: 1 })).toThrow(/smoothing must be in \[0, 1\), got 1/);
    expect(() => compareCurvesSpec([{ label: 'a', events: run(1, 2) }], { colour: 1 } as never)).toThrow(expect.objectContaining({ op: 'compareCurvesSpec' }));
  });
});
