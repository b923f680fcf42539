/**
 * Pictures made of pixels, as Vega-Lite specs: a grid of image tiles
 * (`imageGridSpec`: input images, saliency maps, nearest neighbours, any
 * 2-D map), and the feature maps of a layer for a few inputs
 * (`featureMapGridSpec`: one row of tiles per input, one tile per channel).
 *
 * Each tile is one channel drawn on a colour scale, or three drawn as RGB:
 * - `'grey'`: `range[0]` black to `range[1]` white (default the tile's least
 *   and greatest value); with three channels, each channel on that scale.
 * - `'diverging'`: red for negative, white for 0, blue for positive (as the
 *   filter grids), on [−m, m] with m = `range[1]` (default the tile's largest
 *   |value|): signed attributions, pre-activation feature maps.
 * - `'heat'`: white at `range[0]` (default 0) through orange to dark red at
 *   `range[1]` (default the tile's maximum): magnitudes, Grad-CAM maps.
 * Values beyond the range are clamped; NaN and ±Infinity are magenta.
 *
 * As every chart of images (image-grid.ts's `tileGridSpec`), the layout is
 * computed in pixels and drawn with rect marks on identity scales, each row of a tile as runs of equal colour (the
 * diverging and heat scales on 240 levels), so a flat background costs one
 * rect, not one per pixel.
 *
 * ```ts
 * const out = await predictor.outputs(images, ['conv1']);
 * await writeChart('conv1.png', featureMapGridSpec(out.conv1, { inputs: images, inputShape: [1, 28, 28] }));
 * await writeChart('saliency.png', imageGridSpec([{ data: image, shape: [28, 28], label: 'input' }, { data: g, shape: [28, 28], colour: 'diverging', label: 'gradient' }]));
 * ```
 */
import { describeValue, fail } from '../graph/error.js';
import { checkOptions, showValue } from '../nn/spec.js';
import { tileGridSpec } from './image-grid.js';
import { type ChartSpec, checkInteger, checkTitle, hexByte, NON_FINITE } from './spec.js';

/** How a tile's values become colours (see the file comment). */
export type TileColour = 'grey' | 'diverging' | 'heat';

/** One tile of `imageGridSpec`. */
export interface ImageTile {
  /** The values, row-major in `shape`'s order. */
  readonly data: ArrayLike<number>;
  /** `[h, w]` (one channel), `[1, h, w]` or `[3, h, w]` (RGB, `'grey'` scale only). */
  readonly shape: readonly number[];
  /** Text above the tile (default none). */
  readonly label?: string;
  /** The colour scale (default `'grey'`). */
  readonly colour?: TileColour;
  /** The values at the two ends of the scale, [lo, hi] with lo < hi (default: from the tile, see the file comment). */
  readonly range?: readonly [number, number];
  /** Side of one of this tile's pixels in chart pixels (default: the grid's `cellSize`). */
  readonly cellSize?: number;
}

/** Layout and title of `imageGridSpec`. */
export interface ImageGridOptions {
  /** Tiles per row (default: all in one row, at most 10). */
  columns?: number;
  /** Side of one pixel's square in chart pixels (default: the largest tile about 84 pixels wide, at least 1). */
  cellSize?: number;
  /** Chart title (default "Images"). */
  title?: string;
  /** Lines under the title (default none). */
  subtitle?: string | readonly string[];
}

/** The colours of the heat scale, from its low end to its high end. */
const HEAT: readonly (readonly [number, number, number])[] = [
  [1, 1, 1],
  [0.99, 0.68, 0.38],
  [0.89, 0.29, 0.2],
  [0.5, 0, 0.05],
];
/** The ends of the diverging scale: negative, zero, positive (vega's redblue at its ends). */
const DIVERGING: readonly (readonly [number, number, number])[] = [
  [0.4, 0, 0.12],
  [1, 1, 1],
  [0.02, 0.19, 0.38],
];

/** The colour at `t` in [0, 1] along evenly spaced `stops`. */
function ramp(stops: readonly (readonly [number, number, number])[], t: number): string {
  const u = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(u));
  const f = u - i;
  return `#${[0, 1, 2].map((c) => hexByte(stops[i][c] + f * (stops[i + 1][c] - stops[i][c]))).join('')}`;
}

function isNumbers(v: unknown): v is ArrayLike<number> {
  return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
}

/** A checked tile: channels, height, width, and the function that colours pixel (y, x). */
interface Prepared {
  /** Chart pixels per tile pixel, when the tile sets its own. */
  readonly cell: number | undefined;
  readonly h: number;
  readonly w: number;
  readonly label: string | undefined;
  readonly colourAt: (y: number, x: number) => string;
}

function prepare(who: string, tile: ImageTile, index: number): Prepared {
  const what = `tile ${index}`;
  if (tile === null || typeof tile !== 'object') fail(who, `${what} must be a { data, shape } value or null, got ${describeValue(tile)}`, describeValue(tile), 'a { data, shape } tile');
  checkOptions(who, tile, ['data', 'shape', 'label', 'colour', 'range', 'cellSize']);
  if (tile.cellSize !== undefined) checkInteger(who, `${what}'s cellSize`, tile.cellSize, 1);
  const { shape, data } = tile;
  const ok = Array.isArray(shape) && (shape.length === 2 || shape.length === 3) && shape.every((d) => Number.isSafeInteger(d) && d >= 1);
  if (!ok || (shape.length === 3 && shape[0] !== 1 && shape[0] !== 3)) {
    fail(who, `${what} must be shaped [h, w], [1, h, w] or [3, h, w], got ${showValue(shape)}`, `shape ${showValue(shape)}`, '[h, w], [1, h, w] or [3, h, w]');
  }
  const C = shape.length === 3 ? shape[0] : 1;
  const h = shape[shape.length - 2];
  const w = shape[shape.length - 1];
  if (!isNumbers(data) || data.length !== C * h * w) {
    const got = isNumbers(data) ? `${data.length} values` : describeValue(data);
    fail(who, `${what} of shape [${shape.join(', ')}] needs ${C * h * w} values, got ${got}`, got, `${C * h * w} values`);
  }
  if (tile.label !== undefined && typeof tile.label !== 'string') fail(who, `${what}'s label must be a string, got ${showValue(tile.label)}`, `label ${showValue(tile.label)}`, 'a string');
  const colour = tile.colour ?? 'grey';
  if (colour !== 'grey' && colour !== 'diverging' && colour !== 'heat') {
    fail(who, `${what}'s colour must be 'grey', 'diverging' or 'heat', got ${showValue(colour)}`, `colour ${showValue(colour)}`, "'grey', 'diverging' or 'heat'");
  }
  if (C === 3 && colour !== 'grey') fail(who, `${what} has 3 channels, drawn as RGB on the grey scale only; give one channel for '${colour}'`, `3 channels with '${colour}'`, "one channel, or colour 'grey'");
  let lo = Infinity;
  let hi = -Infinity;
  let big = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (Number.isFinite(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
      big = Math.max(big, Math.abs(v));
    }
  }
  let range: [number, number];
  if (tile.range !== undefined) {
    const r = tile.range;
    if (!Array.isArray(r) || r.length !== 2 || !r.every((v) => typeof v === 'number' && Number.isFinite(v)) || !(r[0] < r[1])) {
      fail(who, `${what}'s range must be [lo, hi], finite, lo < hi, got ${showValue(r)}`, `range ${showValue(r)}`, '[lo, hi] with lo < hi');
    }
    range = [r[0], r[1]];
  } else if (colour === 'grey') {
    range = lo < hi ? [lo, hi] : Number.isFinite(lo) ? [lo - 0.5, lo + 0.5] : [0, 1];
  } else if (colour === 'diverging') {
    range = [-(big || 1), big || 1];
  } else {
    range = [0, hi > 0 ? hi : 1];
  }
  const [a, b] = range;
  const plane = h * w;
  // 240 levels (divisible by the ramps' 2 and 3 segments, so 0 and the stops are exact): runs of near-equal values merge.
  const quantise = (t: number): number => Math.round(Math.min(1, Math.max(0, t)) * 240) / 240;
  return {
    cell: tile.cellSize,
    h,
    w,
    label: tile.label,
    colourAt: (y, x) => {
      const at = y * w + x;
      if (C === 3) {
        const vs = [data[at], data[plane + at], data[2 * plane + at]];
        if (!vs.every(Number.isFinite)) return NON_FINITE;
        return `#${vs.map((v) => hexByte((v - a) / (b - a))).join('')}`;
      }
      const v = data[at];
      if (!Number.isFinite(v)) return NON_FINITE;
      if (colour === 'grey') return `#${hexByte((v - a) / (b - a)).repeat(3)}`;
      if (colour === 'heat') return ramp(HEAT, quantise((v - a) / (b - a)));
      // Diverging: the scale is symmetric about 0, with m = the larger |end|.
      const m = Math.max(Math.abs(a), Math.abs(b));
      return ramp(DIVERGING, quantise(0.5 + v / (2 * m)));
    },
  };
}

/**
 * The spec of a grid of image tiles (see the file comment for the colour
 * scales), `columns` to a row, a `null` leaving its slot empty. Each tile
 * may have its own size; slots are as large as the largest tile.
 */
export function imageGridSpec(tiles: readonly (ImageTile | null)[], options: ImageGridOptions = {}): ChartSpec {
  const who = 'imageGridSpec';
  if (!Array.isArray(tiles)) fail(who, `tiles must be an array of { data, shape } tiles, got ${describeValue(tiles)}`, describeValue(tiles), 'an array of tiles');
  checkOptions(who, options, ['columns', 'cellSize', 'title', 'subtitle']);
  checkTitle(who, options.title);
  const sub = options.subtitle;
  if (sub !== undefined && typeof sub !== 'string' && !(Array.isArray(sub) && sub.every((s) => typeof s === 'string'))) {
    fail(who, `subtitle must be a string or an array of strings, got ${showValue(sub)}`, `subtitle ${showValue(sub)}`, 'a string or strings');
  }
  const prepared = tiles.map((t, i) => (t === null ? null : prepare(who, t, i)));
  const real = prepared.filter((p): p is Prepared => p !== null);
  if (real.length === 0) fail(who, 'there is no tile to draw; give at least one', 'no tiles', 'at least one tile');
  const unscaled = real.filter((p) => p.cell === undefined);
  const side = unscaled.length ? Math.max(...unscaled.map((p) => Math.max(p.h, p.w))) : 1;
  const cell = options.cellSize ?? Math.max(1, Math.round(84 / side));
  checkInteger(who, 'cellSize', cell, 1);
  const columns = options.columns ?? Math.min(tiles.length, 10);
  checkInteger(who, 'columns', columns, 1);
  const placed = prepared.map((p) => (p === null ? null : { h: p.h, w: p.w, cell: p.cell ?? cell, label: p.label, colourAt: p.colourAt }));
  const notes = sub === undefined ? [] : typeof sub === 'string' ? [sub] : [...sub];
  return tileGridSpec(who, placed, columns, {
    title: options.title ?? 'Images',
    notes,
    nonFinite: 'value(s)',
    tooLarge: 'use a smaller cellSize, fewer tiles or other columns',
  });
}

/** Options of `featureMapGridSpec`. */
export interface FeatureMapGridOptions {
  /** The images the maps are of, drawn first in each row: count × the product of `inputShape` values. */
  inputs?: ArrayLike<number>;
  /** The shape of one input image, `[C, H, W]` with C 1 or 3 (required with `inputs`). */
  inputShape?: readonly number[];
  /** A label per example, over its input tile (default "input 1", "input 2", …). */
  labels?: readonly string[];
  /** Channels per row (default min(channels, 16)); an example with more continues on the next rows. */
  columns?: number;
  /** Side of one map pixel in chart pixels (default: a map about 48 pixels wide, at least 2). */
  cellSize?: number;
  /** `'layer'` (default): one range for every map, so channels compare; `'channel'`: each map its own. */
  scale?: 'layer' | 'channel';
  /** `'grey'`, `'diverging'`, or `'auto'` (default: diverging when some value is negative, else grey). */
  colour?: 'auto' | 'grey' | 'diverging';
  /** Chart title (default "Feature maps"). */
  title?: string;
}

/** The factor pair (h, w) of n with h ≤ w closest to square: how a dense layer's n units are laid out. */
function unitGrid(n: number): [number, number] {
  let h = Math.floor(Math.sqrt(n));
  while (n % h !== 0) h--;
  return [h, n / h];
}

/**
 * The spec of a layer's outputs for a few examples: `maps` is a layer
 * output `{ shape, data }` (as `Predictor.outputs` returns it), `[N, C, h,
 * w]` feature maps (one tile per channel) or `[N, units]` (one tile of the
 * units, laid out as the most nearly square h × w with h · w = units), one
 * row of tiles per example, after its input image when `inputs` are given.
 */
export function featureMapGridSpec(maps: { readonly shape: readonly number[]; readonly data: ArrayLike<number> }, options: FeatureMapGridOptions = {}): ChartSpec {
  const who = 'featureMapGridSpec';
  if (maps === null || typeof maps !== 'object' || !Array.isArray(maps.shape) || !isNumbers(maps.data)) {
    fail(who, `maps must be a layer output { shape, data }, got ${describeValue(maps)}`, describeValue(maps), 'a { shape, data } layer output');
  }
  checkOptions(who, options, ['inputs', 'inputShape', 'labels', 'columns', 'cellSize', 'scale', 'colour', 'title']);
  checkTitle(who, options.title);
  const { shape, data } = maps;
  if (!(shape.length === 2 || shape.length === 4) || !shape.every((d) => Number.isSafeInteger(d) && d >= 1)) {
    fail(who, `maps must be shaped [N, C, h, w] (feature maps) or [N, units] (a dense layer), got ${showValue(shape)}`, `shape ${showValue(shape)}`, '[N, C, h, w] or [N, units]');
  }
  const size = shape.reduce((a, b) => a * b, 1);
  if (data.length !== size) fail(who, `maps of shape [${shape.join(', ')}] need ${size} values but hold ${data.length}`, `${data.length} values`, `${size} values`);
  const N = shape[0];
  const [C, h, w] = shape.length === 4 ? [shape[1], shape[2], shape[3]] : [1, ...unitGrid(shape[1])];
  const scale = options.scale ?? 'layer';
  if (scale !== 'layer' && scale !== 'channel') fail(who, `scale must be 'layer' or 'channel', got ${showValue(scale)}`, `scale ${showValue(scale)}`, "'layer' or 'channel'");
  const colourOption = options.colour ?? 'auto';
  if (colourOption !== 'auto' && colourOption !== 'grey' && colourOption !== 'diverging') {
    fail(who, `colour must be 'auto', 'grey' or 'diverging', got ${showValue(colourOption)}`, `colour ${showValue(colourOption)}`, "'auto', 'grey' or 'diverging'");
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    if (Number.isFinite(data[i])) {
      lo = Math.min(lo, data[i]);
      hi = Math.max(hi, data[i]);
    }
  }
  const colour: TileColour = colourOption === 'auto' ? (lo < 0 ? 'diverging' : 'grey') : colourOption;
  const big = Math.max(Math.abs(lo), Math.abs(hi));
  const layerRange: [number, number] | undefined =
    scale === 'channel' || !Number.isFinite(lo) ? undefined : colour === 'diverging' ? [-(big || 1), big || 1] : lo < hi ? [lo, hi] : [lo - 0.5, lo + 0.5];

  let inputs: ArrayLike<number> | undefined;
  let inputShape: readonly number[] | undefined;
  if (options.inputs !== undefined || options.inputShape !== undefined) {
    inputShape = options.inputShape;
    inputs = options.inputs;
    if (!Array.isArray(inputShape) || inputShape.length !== 3 || !inputShape.every((d) => Number.isSafeInteger(d) && d >= 1) || (inputShape[0] !== 1 && inputShape[0] !== 3)) {
      fail(who, `with inputs, inputShape must be [C, H, W] with 1 or 3 channels, got ${showValue(inputShape)}`, `inputShape ${showValue(inputShape)}`, '[1, H, W] or [3, H, W]');
    }
    const per = inputShape[0] * inputShape[1] * inputShape[2];
    if (!isNumbers(inputs) || inputs.length !== N * per) {
      const got = isNumbers(inputs) ? `${inputs.length} values` : describeValue(inputs);
      fail(who, `inputs must hold the ${N} input images of the maps (${N} × ${per} values), got ${got}`, `inputs ${got}`, `${N * per} values`);
    }
  }
  const labels = options.labels;
  if (labels !== undefined && (!Array.isArray(labels) || labels.length !== N || !labels.every((s) => typeof s === 'string'))) {
    fail(who, `labels must be ${N} strings, one per example, got ${describeValue(labels)}`, `labels ${describeValue(labels)}`, `${N} strings`);
  }
  const columns = options.columns ?? Math.min(C, 16);
  checkInteger(who, 'columns', columns, 1);
  const cols = Math.min(columns, C);
  const cellSize = options.cellSize ?? Math.max(2, Math.round(48 / Math.max(h, w)));
  checkInteger(who, 'cellSize', cellSize, 1);

  // One slot per channel, `cols` to a line, after the input (or an empty slot under it on continued lines).
  const lead = inputs === undefined ? 0 : 1;
  // An input is drawn about as large as a map (at least 1 chart pixel per image pixel).
  const inputCell = lead ? Math.max(1, Math.round((Math.max(h, w) * cellSize) / Math.max(inputShape![1], inputShape![2]))) : cellSize;
  const lines = Math.ceil(C / cols);
  const tiles: (ImageTile | null)[] = [];
  const plane = h * w;
  for (let n = 0; n < N; n++) {
    for (let line = 0; line < lines; line++) {
      if (lead) {
        if (line === 0) {
          const per = inputShape![0] * inputShape![1] * inputShape![2];
          const img = Array.prototype.slice.call(inputs!, n * per, (n + 1) * per) as number[];
          tiles.push({ data: img, shape: inputShape!, label: labels?.[n] ?? `input ${n + 1}`, cellSize: inputCell });
        } else tiles.push(null);
      }
      for (let j = 0; j < cols; j++) {
        const c = line * cols + j;
        if (c >= C) {
          tiles.push(null);
          continue;
        }
        const at = (n * C + c) * plane;
        const values = isNumbersSubarray(data, at, at + plane);
        const label = shape.length === 4 ? `${lead ? '' : `${labels?.[n] ?? `#${n + 1}`} `}ch ${c}` : `${labels?.[n] ?? `#${n + 1}`}: ${shape[1]} units`;
        tiles.push({ data: values, shape: [h, w], colour, label, ...(layerRange ? { range: layerRange } : {}) });
      }
    }
  }
  const spec = imageGridSpec(tiles, {
    columns: lead + cols,
    cellSize,
    title: options.title ?? 'Feature maps',
    subtitle: [
      `[${shape.join(', ')}]; ${colour === 'diverging' ? 'red negative, white 0, blue positive' : 'black low, white high'}` +
        (layerRange ? `, one scale for all maps (${layerRange[0].toPrecision(3)} to ${layerRange[1].toPrecision(3)})` : ', each map on its own scale'),
    ],
  });
  return spec;
}

/** `data[from, to)` as a plain array or a typed subarray. */
function isNumbersSubarray(data: ArrayLike<number>, from: number, to: number): ArrayLike<number> {
  if (ArrayBuffer.isView(data)) return (data as unknown as Float32Array).subarray(from, to);
  return Array.prototype.slice.call(data, from, to) as number[];
}
