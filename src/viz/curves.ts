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

/** Refuse `events` unless it is an iterable (not a string); `where` prefixes the message (`run 0 ("a"): `). */
function checkEvents(who: string, events: unknown, where = ''): void {
  if (events === null || typeof (events as Partial<Iterable<unknown>>)?.[Symbol.iterator] !== 'function' || typeof events === 'string') {
    fail(who, `${where}events must be an iterable of the events train() emitted, got ${describeValue(events)}`, describeValue(events), 'an iterable of training events');
  }
}

/**
 * The rows a chart can place: a log axis cannot place 0, negative or
 * non-finite losses (a diverged run), nor a linear one a non-finite
 * accuracy; and the floor of the accuracy axis, the lowest accuracy plotted
 * rounded down to 5%.
 */
function plottable<R extends { metric: 'loss' | 'accuracy'; value: number }>(rows: readonly R[]): { plotted: R[]; accuracyFloor: number } {
  const plotted = rows.filter((r) => Number.isFinite(r.value) && (r.metric === 'accuracy' || r.value > 0));
  const accuracies = plotted.filter((r) => r.metric === 'accuracy').map((r) => r.value);
  return { plotted, accuracyFloor: Math.max(0, Math.floor(Math.min(1, ...accuracies) * 20) / 20) };
}

/** The options both curve charts take, checked; their width and height with the defaults applied. */
function checkCurvesOptions(who: string, options: TrainingCurvesOptions): { width: number; height: number } {
  checkOptions(who, options, ['width', 'height', 'smoothing', 'title']);
  const width = options.width ?? 720;
  const height = options.height ?? 240;
  checkInteger(who, 'width', width, 100, MAX_CHART_SIDE);
  checkInteger(who, 'height', height, 60, MAX_CHART_SIDE);
  checkTitle(who, options.title);
  return { width, height };
}

/** The smoothing weight for a run of `steps` steps: the option, checked, or 0.9 (0.98 beyond 200 steps). */
function smoothingFor(who: string, options: TrainingCurvesOptions, steps: number): number {
  const smoothing = options.smoothing ?? (steps > 200 ? 0.98 : 0.9);
  if (typeof smoothing !== 'number' || !(smoothing >= 0 && smoothing < 1)) {
    fail(who, `smoothing must be in [0, 1), got ${showValue(smoothing)}`, `smoothing ${showValue(smoothing)}`, 'a number in [0, 1)');
  }
  return smoothing;
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
  checkEvents(who, events);
  const { width, height } = checkCurvesOptions(who, options);

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
  const smoothing = smoothingFor(who, options, steps.length);

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
  // Values an axis cannot place (a diverged run's) are left out rather than fail.
  const { plotted, accuracyFloor } = plottable(rows);

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

/** One run of a comparison: its legend entry and the events train() emitted. */
export interface CurvesRun {
  /** The legend entry, e.g. `with batch norm`. */
  readonly label: string;
  /** The run's events, as `train()` emitted them (`step` and `epoch` are read, the others ignored). */
  readonly events: Iterable<TrainEvent>;
}

/** Size, smoothing and title of the chart `compareCurvesSpec` makes. */
export type CompareCurvesOptions = TrainingCurvesOptions;

/** Runs in one comparison, at most: one colour each from the palette below. */
export const MAX_COMPARED_RUNS = 10;
const RUN_COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/**
 * Several training runs in one chart, to compare them (the same network
 * with and without batch norm, two learning rates): the smoothed training
 * loss of each run (log axis) above its smoothed training accuracy, one
 * colour per run, over the global step, with each run's test values as
 * points at the ends of its epochs. A run whose loss became NaN or infinite
 * (a diverged run) is drawn up to its last finite value, and its legend
 * entry says at which step it went non-finite.
 */
export function compareCurvesSpec(runs: readonly CurvesRun[], options: CompareCurvesOptions = {}): ChartSpec {
  const who = 'compareCurvesSpec';
  if (!Array.isArray(runs) || runs.length === 0 || runs.length > MAX_COMPARED_RUNS) {
    fail(who, `runs must be an array of 1 to ${MAX_COMPARED_RUNS} { label, events }, got ${describeValue(runs)}`, describeValue(runs), `1 to ${MAX_COMPARED_RUNS} runs`);
  }
  const { width, height } = checkCurvesOptions(who, options);
  const labels: string[] = [];
  const rows: { step: number; metric: 'loss' | 'accuracy'; run: string; test: boolean; value: number }[] = [];
  let longest = 0;
  runs.forEach((r, i) => {
    if (r === null || typeof r !== 'object' || typeof r.label !== 'string' || r.label === '') {
      fail(who, `run ${i} must be { label, events } with a non-empty label, got ${describeValue(r)}`, describeValue(r), '{ label: string, events }');
    }
    checkEvents(who, r.events, `run ${i} ("${r.label}"): `);
    const steps: { loss: number; accuracy: number }[] = [];
    const tests: { step: number; loss: number | null; accuracy: number | null }[] = [];
    for (const e of r.events) {
      if (e === null || typeof e !== 'object') fail(who, `run ${i} ("${r.label}") holds ${describeValue(e)}, not a training event`, describeValue(e), 'a training event { type, ... }');
      if (e.type === 'step') steps.push({ loss: e.loss, accuracy: e.accuracy });
      else if (e.type === 'epoch') tests.push({ step: steps.length, loss: e.testLoss, accuracy: e.testAccuracy });
    }
    if (steps.length === 0) fail(who, `run ${i} ("${r.label}") holds no step event, so there is nothing to plot`, 'no step event', 'at least one step event');
    const firstBad = steps.findIndex((s) => !Number.isFinite(s.loss));
    const label = firstBad === -1 ? r.label : `${r.label} (non-finite loss at step ${firstBad + 1})`;
    if (labels.includes(label)) fail(who, `two runs are labelled "${r.label}"; give each its own label`, `label "${r.label}" twice`, 'distinct labels');
    labels.push(label);
    const kept = firstBad === -1 ? steps : steps.slice(0, firstBad);
    longest = Math.max(longest, steps.length);
    const smoothing = smoothingFor(who, options, steps.length);
    for (const metric of ['loss', 'accuracy'] as const) {
      smoothed(kept.map((s) => s[metric]), smoothing).forEach((value, j) => rows.push({ step: j + 1, metric, run: label, test: false, value }));
      for (const t of tests) if (t[metric] !== null) rows.push({ step: t.step, metric, run: label, test: true, value: t[metric]! });
    }
  });
  const { plotted, accuracyFloor } = plottable(rows);
  const x = { field: 'step', type: 'quantitative', title: 'training step', scale: { domain: [0, longest], nice: false } };
  const color = {
    field: 'run',
    type: 'nominal',
    title: null,
    scale: { domain: labels, range: RUN_COLORS.slice(0, labels.length) },
    legend: { orient: 'right', symbolType: 'stroke', labelLimit: 400 },
  };
  const panel = (metric: 'loss' | 'accuracy', yTitle: string, yScale: Record<string, unknown>, yFormat: string) => {
    const y = { field: 'value', type: 'quantitative', title: yTitle, scale: yScale, axis: { format: yFormat } };
    const of = (test: boolean) => ({ filter: { and: [{ field: 'metric', equal: metric }, { field: 'test', equal: test }] } });
    return {
      width,
      height,
      layer: [
        { transform: [of(false)], mark: { type: 'line', strokeWidth: 2, clip: true }, encoding: { x, y, color } },
        { transform: [of(true)], mark: { type: 'point', filled: true, size: 70, shape: 'diamond' }, encoding: { x, y, color } },
      ],
    };
  };
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: { text: options.title ?? 'Training curves compared', subtitle: 'lines: training values, smoothed; diamonds: test values at the ends of epochs' },
    config: chartConfig(),
    data: { values: plotted },
    vconcat: [panel('loss', 'training loss (cross-entropy, log scale)', { type: 'log' }, '~g'), panel('accuracy', 'accuracy', { domain: [accuracyFloor, 1], nice: false }, '.0%')],
    resolve: { scale: { color: 'shared' } },
  };
}
