import { describe, expect, it, vi } from 'vitest';
import { compile } from 'vega-lite';
import { trainingCurvesSpec, type TrainEvent } from 'striate';

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
