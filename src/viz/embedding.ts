/**
 * An embedding map as a Vega-Lite scatter chart: each example a point at
 * its first two principal coordinates (`pca`, `embeddingMap`), coloured by
 * its class, the axes titled with the fraction of the variance each
 * explains. Points are small and slightly transparent, so 10,000 of them
 * still show where the classes overlap.
 */
import { describeValue, fail } from '../graph/error.js';
import { checkOptions, showValue } from '../nn/spec.js';
import { type ChartSpec, MAX_CHART_SIDE, VEGA_LITE_SCHEMA, chartConfig, checkInteger, checkTitle } from './spec.js';

/** The points `embeddingMapSpec` draws: `pca`'s result, or any `count × components` coordinates. */
export interface EmbeddingPoints {
  /** Coordinates, `count × components`, row-major; the first two are drawn. */
  readonly projections: ArrayLike<number>;
  /** Coordinates per point, at least 2. */
  readonly components: number;
  /** The fraction of the variance along each component, for the axis titles (optional). */
  readonly explained?: ArrayLike<number>;
}

/** Options of `embeddingMapSpec`. */
export interface EmbeddingMapSpecOptions {
  /** A name per class, indexed by label (default the label itself). */
  classNames?: readonly string[];
  /** Width and height of the plot in pixels (default 560). */
  size?: number;
  /** Area of a point in square pixels (default 12, or 30 for fewer than 1,000 points). */
  pointSize?: number;
  /** Chart title (default "Embedding map (PCA)"). */
  title?: string;
  /** A line under the title (default: the number of points). */
  subtitle?: string;
}

/** Ten colours that stay apart (Tableau 10), one per class of MNIST; more classes cycle vega's category20. */
const TABLEAU10 = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

/**
 * The spec of a scatter plot of `points` (their first two coordinates),
 * one colour per label in `labels` (one class index per point).
 */
export function embeddingMapSpec(points: EmbeddingPoints, labels: ArrayLike<number>, options: EmbeddingMapSpecOptions = {}): ChartSpec {
  const who = 'embeddingMapSpec';
  if (points === null || typeof points !== 'object') fail(who, `points must be a PCA result { projections, components }, got ${describeValue(points)}`, describeValue(points), 'a { projections, components } value');
  checkOptions(who, options, ['classNames', 'size', 'pointSize', 'title', 'subtitle']);
  checkTitle(who, options.title);
  const { projections, components } = points;
  if (typeof components !== 'number' || !Number.isInteger(components) || components < 2) {
    fail(who, `points need at least 2 components to draw a map, got ${showValue(components)}`, `components ${showValue(components)}`, 'components ≥ 2');
  }
  const isNumbers = (v: unknown): v is ArrayLike<number> => Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
  if (!isNumbers(projections) || projections.length % components !== 0) {
    fail(who, `projections must be count × ${components} numbers, got ${describeValue(projections)}`, describeValue(projections), `count × ${components} numbers`);
  }
  const count = projections.length / components;
  if (!isNumbers(labels) || labels.length !== count) {
    fail(who, `labels must be ${count} class indices, one per point, got ${describeValue(labels)}`, `labels ${describeValue(labels)}`, `${count} class indices`);
  }
  const names = options.classNames;
  if (names !== undefined && (!Array.isArray(names) || !names.every((s) => typeof s === 'string'))) {
    fail(who, `classNames must be an array of strings, got ${describeValue(names)}`, `classNames ${describeValue(names)}`, 'an array of strings');
  }
  const size = options.size ?? 560;
  checkInteger(who, 'size', size, 100, MAX_CHART_SIDE);
  const pointSize = options.pointSize ?? (count < 1000 ? 30 : 12);
  if (typeof pointSize !== 'number' || !(pointSize > 0 && pointSize <= 1000)) fail(who, `pointSize must be a number in (0, 1000], got ${showValue(pointSize)}`, `pointSize ${showValue(pointSize)}`, 'a number in (0, 1000]');
  if (options.subtitle !== undefined && typeof options.subtitle !== 'string') fail(who, `subtitle must be a string, got ${showValue(options.subtitle)}`, `subtitle ${showValue(options.subtitle)}`, 'a string');

  let largest = -1;
  const values: { x: number; y: number; c: string; i: number }[] = [];
  for (let i = 0; i < count; i++) {
    const label = labels[i];
    if (!Number.isInteger(label) || label < 0 || (names !== undefined && label >= names.length)) {
      const range = names === undefined ? 'an integer ≥ 0' : `an integer in [0, ${names.length - 1}]`;
      fail(who, `label ${i} is ${showValue(label)}, not a class index (${range})`, `label ${showValue(label)}`, range);
    }
    const x = projections[i * components];
    const y = projections[i * components + 1];
    if (!Number.isFinite(x) || !Number.isFinite(y)) fail(who, `point ${i} is at (${x}, ${y}); every coordinate must be finite`, `point (${x}, ${y})`, 'finite coordinates');
    largest = Math.max(largest, label);
    values.push({ x, y, c: names?.[label] ?? String(label), i });
  }
  const classes = names ? names.length : largest + 1;
  const domain = Array.from({ length: classes }, (_, c) => names?.[c] ?? String(c));
  const axisTitle = (j: number): string => {
    const e = points.explained?.[j];
    return typeof e === 'number' && Number.isFinite(e) ? `PC${j + 1} (${(100 * e).toFixed(1)}% of the variance)` : `PC${j + 1}`;
  };
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: { text: options.title ?? 'Embedding map (PCA)', subtitle: options.subtitle ?? `${count} points, coloured by class` },
    config: chartConfig(),
    width: size,
    height: size,
    data: { values },
    mark: { type: 'circle', opacity: 0.6, size: pointSize },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: axisTitle(0), scale: { zero: false, nice: true } },
      y: { field: 'y', type: 'quantitative', title: axisTitle(1), scale: { zero: false, nice: true } },
      color: {
        field: 'c',
        type: 'nominal',
        title: 'class',
        sort: domain,
        scale: classes <= TABLEAU10.length ? { domain, range: TABLEAU10.slice(0, classes) } : { domain, scheme: 'category20' },
        legend: { symbolOpacity: 1, labelLimit: 200 },
      },
      tooltip: [{ field: 'i', title: 'example' }, { field: 'c', title: 'class' }],
    },
  };
}
