/**
 * The k most probable classes of a few examples (`topK`) as a Vega-Lite bar
 * chart: one small panel per example, its k classes best first, each bar
 * its probability, labelled with the class's name, the true class (when
 * given) in a second colour.
 */
import { describeValue, fail } from '../graph/error.js';
import { checkOptions } from '../nn/spec.js';
import type { TopKResult } from '../explain/topk.js';
import { type ChartSpec, VEGA_LITE_SCHEMA, chartConfig, checkInteger, checkTitle } from './spec.js';

/** Options of `topKChartSpec`. */
export interface TopKChartOptions {
  /** A name per class, indexed by label (default the label itself). */
  classNames?: readonly string[];
  /** The true class of each example, to colour its bar (default none). */
  labels?: ArrayLike<number>;
  /** A title per example's panel (default "example 1", "example 2", …). */
  titles?: readonly string[];
  /** Width of each panel's bars in pixels (default 220). */
  width?: number;
  /** Panels per row (default 4). */
  columns?: number;
  /** Chart title (default "Top-k classes"). */
  title?: string;
}

/** The spec of bar charts of each example's k best classes and their probabilities (see the file comment). */
export function topKChartSpec(result: TopKResult, options: TopKChartOptions = {}): ChartSpec {
  const who = 'topKChartSpec';
  if (result === null || typeof result !== 'object' || !(result.labels instanceof Int32Array) || !(result.probabilities instanceof Float32Array)) {
    fail(who, `expects what topK returns, got ${describeValue(result)}`, describeValue(result), 'a TopKResult');
  }
  checkOptions(who, options, ['classNames', 'labels', 'titles', 'width', 'columns', 'title']);
  checkTitle(who, options.title);
  const { count, k, classes } = result;
  const names = options.classNames;
  if (names !== undefined && (!Array.isArray(names) || names.length !== classes || !names.every((s) => typeof s === 'string'))) {
    fail(who, `classNames must be ${classes} strings, one per class, got ${describeValue(names)}`, `classNames ${describeValue(names)}`, `${classes} strings`);
  }
  const truth = options.labels;
  if (truth !== undefined) {
    const ok = (Array.isArray(truth) || ArrayBuffer.isView(truth)) && truth.length === count && Array.from(truth).every((l) => Number.isInteger(l) && l >= 0 && l < classes);
    if (!ok) fail(who, `labels must be ${count} class indices in [0, ${classes - 1}], got ${describeValue(truth)}`, `labels ${describeValue(truth)}`, `${count} class indices`);
  }
  const titles = options.titles;
  if (titles !== undefined && (!Array.isArray(titles) || titles.length !== count || !titles.every((s) => typeof s === 'string'))) {
    fail(who, `titles must be ${count} strings, one per example, got ${describeValue(titles)}`, `titles ${describeValue(titles)}`, `${count} strings`);
  }
  if (titles !== undefined && new Set(titles).size !== titles.length) fail(who, 'titles must differ from each other: each names its own panel', 'repeated titles', `${count} distinct strings`);
  const width = options.width ?? 220;
  checkInteger(who, 'width', width, 60, 2000);
  const columns = options.columns ?? 4;
  checkInteger(who, 'columns', columns, 1);
  const values: { panel: string; order: number; text: string; p: number; kind: string }[] = [];
  for (let r = 0; r < count; r++) {
    const panel = titles?.[r] ?? `example ${r + 1}`;
    for (let j = 0; j < k; j++) {
      const label = result.labels[r * k + j];
      const p = result.probabilities[r * k + j];
      const kind = truth === undefined ? 'class' : label === truth[r] ? 'true class' : 'other class';
      const shown = Number.isFinite(p) ? p : 0;
      values.push({ panel, order: j + 1, text: `${names?.[label] ?? label}: ${(100 * shown).toFixed(1)}%`, p: shown, kind });
    }
  }
  const kinds = truth === undefined ? ['class'] : ['true class', 'other class'];
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: { text: options.title ?? `Top-${k} classes`, subtitle: truth === undefined ? `${count} example(s)` : `${count} example(s); the true class in orange` },
    config: chartConfig(),
    data: { values },
    facet: { field: 'panel', type: 'nominal', title: null, sort: titles ?? Array.from({ length: count }, (_, r) => `example ${r + 1}`), header: { labelFontSize: 12 } },
    columns,
    spec: {
      width,
      height: { step: 16 },
      encoding: { y: { field: 'order', type: 'ordinal', title: 'rank', axis: { labelExpr: "datum.value + '.'" } } },
      layer: [
        {
          mark: { type: 'bar' },
          encoding: {
            x: { field: 'p', type: 'quantitative', title: 'probability', scale: { domain: [0, 1] }, axis: { format: '.0%' } },
            color: { field: 'kind', type: 'nominal', title: null, scale: { domain: kinds, range: truth === undefined ? ['#4e79a7'] : ['#f28e2b', '#4e79a7'] }, legend: null },
          },
        },
        {
          mark: { type: 'text', align: 'left', dx: 3, fontSize: 10, limit: width },
          encoding: { x: { field: 'p', type: 'quantitative' }, text: { field: 'text' } },
        },
      ],
    },
  };
}

