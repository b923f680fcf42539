/**
 * A confusion matrix (`confusionMatrix`) as a Vega-Lite heat map: true
 * classes down, predicted classes across, each cell coloured by the
 * fraction of its true class predicted so (the row's share, so a rare class
 * is as visible as a common one) and labelled with its count; each row's
 * label carries the class's recall and each column's its precision.
 */
import { describeValue, fail } from '../graph/error.js';
import { checkOptions } from '../nn/spec.js';
import type { ConfusionMatrix } from '../explain/confusion.js';
import { type ChartSpec, VEGA_LITE_SCHEMA, chartConfig, checkInteger, checkTitle } from './spec.js';

/** Options of `confusionMatrixSpec`. */
export interface ConfusionMatrixSpecOptions {
  /** Side of one cell in pixels (default 40). */
  cellSize?: number;
  /** Chart title (default "Confusion matrix"). */
  title?: string;
}

const pct = (v: number): string => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : 'n/a');

/** The spec of a heat map of `cm` (see the file comment). */
export function confusionMatrixSpec(cm: ConfusionMatrix, options: ConfusionMatrixSpecOptions = {}): ChartSpec {
  const who = 'confusionMatrixSpec';
  if (cm === null || typeof cm !== 'object' || !(cm.counts instanceof Int32Array) || typeof cm.classes !== 'number' || cm.counts.length !== cm.classes * cm.classes) {
    fail(who, `expects a confusion matrix (from confusionMatrix), got ${describeValue(cm)}`, describeValue(cm), 'a ConfusionMatrix');
  }
  checkOptions(who, options, ['cellSize', 'title']);
  checkTitle(who, options.title);
  const cell = options.cellSize ?? 40;
  checkInteger(who, 'cellSize', cell, 8, 200);
  const C = cm.classes;
  const rowName = (t: number): string => `${cm.classNames[t]} (recall ${pct(cm.recall[t])})`;
  const colName = (p: number): string => `${cm.classNames[p]} (prec. ${pct(cm.precision[p])})`;
  const values: { t: string; p: string; n: number; share: number; text: string }[] = [];
  for (let t = 0; t < C; t++) {
    for (let p = 0; p < C; p++) {
      const n = cm.counts[t * C + p];
      const share = cm.support[t] === 0 ? 0 : n / cm.support[t];
      values.push({ t: rowName(t), p: colName(p), n, share, text: n === 0 ? '' : String(n) });
    }
  }
  const rows = Array.from({ length: C }, (_, t) => rowName(t));
  const cols = Array.from({ length: C }, (_, p) => colName(p));
  const position = {
    x: { field: 'p', type: 'ordinal', title: 'predicted class (precision)', sort: cols, axis: { labelAngle: -45, labelLimit: 400, grid: false } },
    y: { field: 't', type: 'ordinal', title: 'true class (recall)', sort: rows, axis: { labelLimit: 400, grid: false } },
  };
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: { text: options.title ?? 'Confusion matrix', subtitle: `${cm.count} examples, accuracy ${pct(cm.accuracy)}; colour: the share of each true class` },
    config: chartConfig(),
    width: C * cell,
    height: C * cell,
    data: { values },
    encoding: position,
    layer: [
      {
        mark: { type: 'rect' },
        encoding: {
          color: { field: 'share', type: 'quantitative', title: 'share of row', scale: { scheme: 'blues', domain: [0, 1] }, legend: { format: '.0%' } },
          tooltip: [{ field: 't', title: 'true' }, { field: 'p', title: 'predicted' }, { field: 'n', title: 'count' }],
        },
      },
      {
        mark: { type: 'text', fontSize: Math.max(8, Math.min(12, Math.round(cell / 3.5))) },
        encoding: {
          text: { field: 'text' },
          color: { condition: { test: 'datum.share > 0.5', value: 'white' }, value: '#222' },
        },
      },
    ],
  };
}
