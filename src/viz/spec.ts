/**
 * What Striate's chart builders return: plain Vega-Lite specifications
 * (https://vega.github.io/vega-lite/), data inlined. They are JSON-like
 * objects with no behaviour, so the same spec can be embedded in a page
 * (vega-embed), saved as JSON, or rendered to SVG/PNG in Node with
 * `renderChart` from 'striate/node'.
 *
 * The type is deliberately loose: Striate's published types must not depend
 * on vega-lite, which is an optional peer dependency.
 */

import { fail } from '../graph/error.js';
import { showValue } from '../nn/spec.js';

/** A Vega-Lite specification: an object with a `$schema` naming a Vega-Lite version. */
export interface ChartSpec {
  /** The Vega-Lite JSON schema URL, which names the version the spec is written for. */
  readonly $schema: string;
  readonly [key: string]: unknown;
}

/** The Vega-Lite schema the builders write. */
export const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/**
 * The font family list charts ask for. Unquoted names on purpose: resvg
 * reads a quoted second entry of a family list as missing. Liberation Sans
 * (metrics of Arial) and DejaVu Sans are what a Debian machine with
 * fontconfig or Chromium has; other systems find Helvetica or Arial.
 */
export const CHART_FONT = 'Helvetica, Arial, Liberation Sans, DejaVu Sans, sans-serif';

/** Config shared by the builders: the font everywhere, no frame around the view. */
export function chartConfig(): Record<string, unknown> {
  return {
    font: CHART_FONT,
    view: { stroke: null },
    title: { fontSize: 15, subtitleFontSize: 12, subtitleColor: '#555', anchor: 'start' },
    axis: { labelFontSize: 11, titleFontSize: 12, grid: true, gridColor: '#e8e8e8' },
    legend: { labelFontSize: 11, titleFontSize: 12 },
  };
}

/**
 * The largest width or height, in pixels, a chart builder lays out: the
 * canvas limit of the common browsers, and far more than a readable chart needs.
 */
export const MAX_CHART_SIDE = 16384;

/** Painted where a value is NaN or ±Infinity in the image charts (filters, augmentations), so a diverged value is obvious at a glance. */
export const NON_FINITE = '#ff00ff';

/** Height of a tile's label in the image charts, in pixels. */
export const LABEL_HEIGHT = 16;

/** `v` in [0, 1] (clamped) as two hex digits, for `#rrggbb` colours. */
export const hexByte = (v: number): string => Math.round(Math.min(1, Math.max(0, v)) * 255).toString(16).padStart(2, '0');

/** Throws when `v` is not an integer in [`min`, `max`] (an option of a chart builder). */
export function checkInteger(who: string, name: string, v: number, min: number, max = Infinity): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    const range = max === Infinity ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`;
    fail(who, `${name} must be ${range}, got ${showValue(v)}`, `${name} ${showValue(v)}`, range);
  }
}

/** Throws when `v` is given and is not a string (a chart's title). */
export function checkTitle(who: string, v: unknown): void {
  if (v !== undefined && typeof v !== 'string') fail(who, `title must be a string, got ${showValue(v)}`, `title ${showValue(v)}`, 'a string');
}

/**
 * An identity scale for a chart drawn in pixels: `field`'s value is its
 * position, 0 to `size`, with no axis. Image grids place rects and labels
 * with it.
 */
export function pixelAxis(field: string, size: number): Record<string, unknown> {
  return { field, type: 'quantitative', scale: { domain: [0, size], range: [0, size], nice: false, zero: false }, axis: null };
}

/** The x, x2, y, y2 encoding of rects whose fields x0, x1, y0, y1 are pixel positions in a `width × height` chart. */
export function pixelRect(width: number, height: number): Record<string, unknown> {
  return { x: pixelAxis('x0', width), x2: { field: 'x1' }, y: pixelAxis('y0', height), y2: { field: 'y1' } };
}
