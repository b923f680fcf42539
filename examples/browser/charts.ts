/**
 * Live loss and accuracy charts (uPlot). Both share the x axis, the training
 * step over the whole run. Step values arrive every few milliseconds; the
 * charts keep them in plain arrays and redraw in the page's shared frame
 * (frames.ts), at most every FRAME_MS. They follow their element's width as the page is resized, and
 * before the first step show their axes and a line saying what will appear.
 */
import uPlot from 'uplot';
import { paint } from './frames.js';

export const COLORS = {
  raw: 'rgba(37, 99, 235, 0.22)',
  train: '#2563eb',
  test: '#ea580c',
  grid: '#e5e7eb',
  axis: '#475569',
};

const CHART_HEIGHT = 300;
const font = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const labelFont = '600 12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

function axes(yLabel: string, yValues: uPlot.Axis['values']): uPlot.Axis[] {
  const common = { stroke: COLORS.axis, font, labelFont, grid: { stroke: COLORS.grid, width: 1 }, ticks: { stroke: COLORS.grid, width: 1 } };
  return [
    { ...common, label: 'training step', labelSize: 22, size: 34 },
    { ...common, label: yLabel, labelSize: 26, size: 52, values: yValues },
  ];
}

const testPoints = { show: true, size: 8, width: 2, fill: '#fff', stroke: COLORS.test };

interface Series {
  x: number[];
  raw: (number | null)[];
  smooth: (number | null)[];
  test: (number | null)[];
}

/** One chart: a raw per-step series, its smoothed curve, and per-epoch test points. */
class LiveChart {
  private readonly plot: uPlot;
  private readonly data: Series = { x: [], raw: [], smooth: [], test: [] };
  private static count = 0;
  /** This chart's key in the shared frame. */
  private readonly key = `chart ${LiveChart.count++}`;

  constructor(
    private readonly el: HTMLElement,
    private readonly opts: { yLabel: string; raw: string; smooth: string; test: string; empty: string; log?: boolean; percent?: boolean },
  ) {
    const fmt0 = opts.percent ? (v: number) => `${(v * 100).toFixed(1)}%` : (v: number) => v.toFixed(3);
    // The legend shows the values under the cursor, and the latest ones when the cursor is elsewhere.
    const fmt = (u: uPlot, v: number | null, s: number, idx: number | null): string => {
      if (idx == null) {
        const col = u.data[s] as (number | null)[];
        for (let i = col.length - 1; i >= 0; i--) if (col[i] != null) return fmt0(col[i]!);
        return '–';
      }
      return v == null ? '–' : fmt0(v);
    };
    this.plot = new uPlot(
      {
        width: el.clientWidth || 600,
        height: CHART_HEIGHT,
        cursor: { drag: { x: false, y: false }, points: { size: 6 } },
        legend: { show: true, live: true },
        scales: {
          // Without data (before the first step) the axes still show a typical range.
          x: { time: false, range: (_u, min, max) => (min == null || max == null || min === max ? [0, Math.max(100, max ?? 0)] : [min, max]) },
          y: opts.log
            ? { distr: 3, log: 10, range: (_u, min, max) => (min == null || max == null ? [0.1, 10] : uPlot.rangeLog(min, max, 10, true)) }
            : { range: (_u, _min, max) => [0, Math.max(1, max ?? 1)] },
        },
        axes: axes(opts.yLabel, opts.percent ? (_u, splits) => splits.map((v) => `${Math.round(v * 100)}%`) : undefined),
        series: [
          { label: 'step', value: (u, v, _s, idx) => String(idx == null ? (u.data[0].at(-1) ?? '–') : v) },
          { label: opts.raw, stroke: COLORS.raw, width: 1, points: { show: false }, value: fmt },
          { label: opts.smooth, stroke: COLORS.train, width: 2.5, points: { show: false }, value: fmt },
          { label: opts.test, stroke: COLORS.test, width: 2, spanGaps: true, points: testPoints, value: fmt },
        ],
      },
      [[], [], [], []],
      el,
    );
    new ResizeObserver(() => this.plot.setSize({ width: el.clientWidth, height: CHART_HEIGHT })).observe(el);
    this.showEmpty(true);
  }

  addStep(step: number, raw: number, smooth: number): void {
    if (this.data.x.length === 0) this.showEmpty(false);
    this.data.x.push(step);
    this.data.raw.push(raw);
    this.data.smooth.push(smooth);
    this.data.test.push(null);
    this.redraw();
  }

  /** A test value at the latest step (the end of an epoch). */
  addTest(value: number): void {
    const n = this.data.test.length;
    if (n === 0) return;
    this.data.test[n - 1] = value;
    this.redraw();
  }

  clear(): void {
    this.data.x.length = this.data.raw.length = this.data.smooth.length = this.data.test.length = 0;
    this.showEmpty(true);
    this.redraw();
  }

  /** The line in the empty plot saying what will appear there (CSS draws it from `data-empty`). */
  private showEmpty(empty: boolean): void {
    if (empty) this.el.dataset.empty = this.opts.empty;
    else delete this.el.dataset.empty;
  }

  private redraw(): void {
    paint(this.key, () => {
      const d = this.data;
      this.plot.setData([d.x, d.raw, d.smooth, d.test] as uPlot.AlignedData);
    });
  }
}

export function lossChart(el: HTMLElement): LiveChart {
  return new LiveChart(el, {
    yLabel: 'cross-entropy (log scale)',
    raw: 'batch',
    smooth: 'train (smoothed)',
    test: 'test',
    empty: 'Press Train: the loss of every batch appears here.',
    log: true,
  });
}

export function accuracyChart(el: HTMLElement): LiveChart {
  return new LiveChart(el, {
    yLabel: 'accuracy',
    raw: 'batch',
    smooth: 'train (smoothed)',
    test: 'test',
    empty: 'Press Train: the accuracy of every batch appears here.',
    percent: true,
  });
}

export type { LiveChart };
