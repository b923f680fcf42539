/**
 * Training curves as a Vega-Lite spec: loss (log axis) above accuracy, over
 * the global step. Each panel shows the per-batch values faintly, their
 * smoothed trend, and the test values as points at the steps where they were
 * measured (the ends of epochs), with a dashed rule at every epoch end.
 *
 * Pure data in, spec out: no Node APIs, so pages use it as Node does.
 */
import { describeValue, fail } from '../graph/error.js';
import { checkOptions, showValue } from '../nn/spec.js';
import type { TrainEvent } from '../train/train.js';
import { type ChartSpec, MAX_CHART_SIDE, VEGA_LITE_SCHEMA, chartConfig, checkInteger, checkTitle } from './spec.js';

/** Size and title of the chart `trainingCurvesSpec` makes. */
export interface TrainingCurvesOptions {
  /** Width of the plot area in pixels (default 720). */
  width?: number;
  /** Height of each of the two panels in pixels (default 240). */
  height?: number;
  /**
   * Weight of the debiased moving average of the smoothed lines, in [0, 1)
   * (default 0.9, or 0.98 beyond 200 steps). 0 draws the raw values.
   */
  smoothing?: number;
  /** Chart title (default "Training curves"). */
  title?: string;
}

/** One plotted value; `series` is the legend entry. */
interface Row {
  step: number;
  epoch: number;
  metric: 'loss' | 'accuracy';
  series: Series;
  value: number;
}

const SERIES = ['train (per batch)', 'train (smoothed)', 'test (end of epoch)'] as const;
type Series = (typeof SERIES)[number];
const COLORS: Record<Series, string> = {
  'train (per batch)': '#9ecae9',
  'train (smoothed)': '#1f77b4',
  'test (end of epoch)': '#d62728',
};

/** Epoch labels above the rules are dropped beyond this many epochs, where they would collide. */
const MAX_EPOCH_LABELS = 20;

/**
 * A debiased exponential moving average, as the `smooth` operator computes:
 * s_t = w·s_{t−1} + (1 − w)·x_t, emitted as s_t / (1 − w^t).
 */
function smoothed(values: readonly number[], weight: number): number[] {
  let s = 0;
  let t = 0;
  return values.map((x) => {
    if (!Number.isFinite(x)) return x;
    t++;
    s = weight * s + (1 - weight) * x;
    return s / (1 - weight ** t);
  });
}

/**
 * The spec of a training run's loss and accuracy, from its events (as
 * `train()` emits them, in order; `done` events are ignored). Steps are
 * counted across epochs from 1; a test value is drawn at the step after
 * which it was measured, never before.
 *
 * The loss axis is logarithmic (a run goes from 2.3 to 0.01); values that
 * are not positive and finite are left out of it. The accuracy axis spans
 * all the plotted values, up to 1.
 */
export function trainingCurvesSpec(events: Iterable<TrainEvent>, options: TrainingCurvesOptions = {}): ChartSpec {
  const who = 'trainingCurvesSpec';
  if (events === null || typeof (events as Partial<Iterable<unknown>>)?.[Symbol.iterator] !== 'function' || typeof events === 'string') {
    fail(who, `events must be an iterable of the events train() emitted, got ${describeValue(events)}`, describeValue(events), 'an iterable of training events');
  }
  checkOptions(who, options, ['width', 'height', 'smoothing', 'title']);
  const width = options.width ?? 720;
  const height = options.height ?? 240;
  checkInteger(who, 'width', width, 100, MAX_CHART_SIDE);
  checkInteger(who, 'height', height, 60, MAX_CHART_SIDE);
  checkTitle(who, options.title);

  const steps: { step: number; epoch: number; loss: number; accuracy: number }[] = [];
  const epochs: { step: number; epoch: number; testLoss: number | null; testAccuracy: number | null }[] = [];
  let index = 0;
  for (const e of events) {
    if (e === null || typeof e !== 'object') {
      fail(who, `event ${index} is ${describeValue(e)}, not a training event`, describeValue(e), 'a training event { type, ... }');
    }
    if (e.type === 'step') steps.push({ step: steps.length + 1, epoch: e.epoch, loss: e.loss, accuracy: e.accuracy });
    else if (e.type === 'epoch') epochs.push({ step: steps.length, epoch: e.epoch, testLoss: e.testLoss, testAccuracy: e.testAccuracy });
    index++;
  }
  if (steps.length === 0) {
    fail(who, 'the events hold no step event, so there is nothing to plot; pass the events train() emitted', 'no step event', 'at least one step event');
  }
  const smoothing = options.smoothing ?? (steps.length > 200 ? 0.98 : 0.9);
  if (typeof smoothing !== 'number' || !(smoothing >= 0 && smoothing < 1)) {
    fail(who, `smoothing must be in [0, 1), got ${showValue(smoothing)}`, `smoothing ${showValue(smoothing)}`, 'a number in [0, 1)');
  }

  const rows: Row[] = [];
  for (const metric of ['loss', 'accuracy'] as const) {
    const raw = steps.map((s) => s[metric]);
    const trend = smoothed(raw, smoothing);
    steps.forEach((s, i) => {
      rows.push({ step: s.step, epoch: s.epoch, metric, series: 'train (per batch)', value: raw[i] });
      rows.push({ step: s.step, epoch: s.epoch, metric, series: 'train (smoothed)', value: trend[i] });
    });
    for (const e of epochs) {
      const value = metric === 'loss' ? e.testLoss : e.testAccuracy;
      if (value !== null) rows.push({ step: e.step, epoch: e.epoch, metric, series: 'test (end of epoch)', value });
    }
  }
  // A log axis cannot place 0, negative or non-finite values (a diverged run): leave them out rather than fail.
  const plotted = rows.filter((r) => Number.isFinite(r.value) && (r.metric === 'accuracy' || r.value > 0));
  const accuracies = plotted.filter((r) => r.metric === 'accuracy').map((r) => r.value);
  const accuracyFloor = Math.max(0, Math.floor(Math.min(1, ...accuracies) * 20) / 20);

  const x = {
    field: 'step',
    type: 'quantitative',
    title: 'training step',
    scale: { domain: [0, steps.length], nice: false },
  };
  const color = {
    field: 'series',
    type: 'nominal',
    title: null,
    scale: { domain: [...SERIES], range: SERIES.map((s) => COLORS[s]) },
    legend: { orient: 'right', symbolType: 'stroke', labelLimit: 400 },
  };
  const epochEnds = epochs.map((e) => ({ step: e.step, label: `epoch ${e.epoch}` }));

  const panel = (metric: 'loss' | 'accuracy', yTitle: string, yScale: Record<string, unknown>, yFormat: string, labels: boolean) => {
    const y = { field: 'value', type: 'quantitative', title: yTitle, scale: yScale, axis: { format: yFormat } };
    const ofSeries = (series: Series) => ({ filter: { and: [{ field: 'metric', equal: metric }, { field: 'series', equal: series }] } });
    const layer: Record<string, unknown>[] = [
      {
        data: { values: epochEnds },
        mark: { type: 'rule', color: '#999', strokeDash: [4, 4] },
        encoding: { x: { field: 'step', type: 'quantitative' } },
      },
      {
        transform: [ofSeries('train (per batch)')],
        mark: { type: 'line', strokeWidth: 1, clip: true },
        encoding: { x, y, color },
      },
      {
        transform: [ofSeries('train (smoothed)')],
        mark: { type: 'line', strokeWidth: 2, clip: true },
        encoding: { x, y, color },
      },
      {
        transform: [ofSeries('test (end of epoch)')],
        mark: { type: 'line', point: { filled: true, size: 60 }, strokeWidth: 1.5, strokeDash: [2, 2] },
        encoding: { x, y, color },
      },
    ];
    if (labels && epochEnds.length <= MAX_EPOCH_LABELS) {
      layer.push({
        data: { values: epochEnds },
        mark: { type: 'text', align: 'right', baseline: 'top', dx: -3, dy: 3, fontSize: 10, color: '#666' },
        encoding: { x: { field: 'step', type: 'quantitative' }, y: { value: 0 }, text: { field: 'label' } },
      });
    }
    return { width, height, layer };
  };

  return {
    $schema: VEGA_LITE_SCHEMA,
    title: { text: options.title ?? 'Training curves', subtitle: `${steps.length} steps, ${epochs.length} epoch(s); dashed rules mark the ends of epochs` },
    config: chartConfig(),
    data: { values: plotted },
    vconcat: [
      panel('loss', 'loss (cross-entropy, log scale)', { type: 'log' }, '~g', true),
      panel('accuracy', 'accuracy', { domain: [accuracyFloor, 1], nice: false }, '.0%', false),
    ],
    resolve: { scale: { color: 'shared' } },
  };
}
