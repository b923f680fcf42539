/**
 * Activation-maximisation images as a Vega-Lite grid: one tile per unit
 * (each class of `maximiseClasses`, each channel of a layer), labelled
 * with the unit (`class 3`, `conv2 channel 5`), every pixel a square.
 *
 * One channel is drawn grey, three as RGB, every tile on the same scale:
 * `range[0]` black, `range[1]` white, values beyond it clamped. The default
 * range is the least and greatest value over all the tiles, so tiles can
 * be compared; give the data's range (`[0, 1]`) to see the images as the
 * model saw them. Non-finite values are magenta. As in filters.ts and
 * augment-grid.ts the layout is computed here in pixels and drawn with rect
 * marks on identity scales, each row of a tile as runs of equal colour.
 * Render it with `renderChart` or `writeChart` from 'striate/node'.
 *
 * ```ts
 * const images = await maximiseClasses(model, params);
 * await writeChart('classes.png', maximiseGridSpec(images, { title: 'What each class looks for' }));
 * ```
 */
import { describeValue, fail } from '../graph/error.js';
import { shapeToString } from '../graph/shape.js';
import { checkOptions, showValue } from '../nn/spec.js';
import { type ChartSpec, MAX_CHART_SIDE, VEGA_LITE_SCHEMA, chartConfig, checkInteger, checkTitle, hexByte, LABEL_HEIGHT, NON_FINITE } from './spec.js';

/** One tile: an image `[C, H, W]` (a `MaximiseResult`) and its label. */
export interface MaximiseTile {
  /** `[C, H, W]`, C 1 or 3. */
  readonly shape: readonly number[];
  /** The image, row-major. */
  readonly data: ArrayLike<number>;
  /** Written above the tile (a `MaximiseResult`'s `label`, e.g. `class 3`). */
  readonly label?: string;
}

/** Layout, labels and colour scale of `maximiseGridSpec`. */
export interface MaximiseGridOptions {
  /** Tiles per row (default 10, or fewer when there are fewer tiles). */
  columns?: number;
  /** Side of one image pixel's square in chart pixels (default: a tile about 84 pixels wide, at least 1 per pixel). */
  cellSize?: number;
  /** Values drawn black and white, [lo, hi] with lo < hi (default: the least and greatest value of all tiles). */
  range?: readonly [number, number];
  /** Labels, one per tile, instead of the tiles' own (default: each tile's `label`, or its index). */
  labels?: readonly string[];
  /** Chart title (default "Activation maximisation"). */
  title?: string;
}

const GAP = 10;

/**
 * The spec of a grid of activation-maximisation images, e.g.
 * `maximiseGridSpec(await maximiseClasses(model, params))`; see the file
 * comment for the colours.
 */
export function maximiseGridSpec(tiles: readonly MaximiseTile[], options: MaximiseGridOptions = {}): ChartSpec {
  const who = 'maximiseGridSpec';
  if (!Array.isArray(tiles) || tiles.length === 0) {
    fail(who, `tiles must be a non-empty array of images (maximiseClasses' results), got ${describeValue(tiles)}`, `tiles ${describeValue(tiles)}`, 'a non-empty array of { shape, data }');
  }
  checkOptions(who, options, ['columns', 'cellSize', 'range', 'labels', 'title']);
  checkTitle(who, options.title);
  const first = tiles[0]?.shape;
  if (!Array.isArray(first) || first.length !== 3 || !first.every((d) => Number.isInteger(d) && d >= 1) || (first[0] !== 1 && first[0] !== 3)) {
    const got = Array.isArray(first) ? shapeToString(first) : describeValue(first);
    fail(who, `tile 0 must be an image [C, H, W] with 1 or 3 channels, got shape ${got}`, `shape ${got}`, '[1 or 3, H, W]');
  }
  const [C, H, W] = first;
  const per = C * H * W;
  tiles.forEach((t, i) => {
    const s = t?.shape;
    if (!Array.isArray(s) || s.length !== 3 || s[0] !== C || s[1] !== H || s[2] !== W) {
      const got = Array.isArray(s) ? shapeToString(s) : describeValue(s);
      fail(who, `tile ${i} has shape ${got} but tile 0 has ${shapeToString(first)}; every tile must have the same shape`, `tile ${i} of shape ${got}`, shapeToString(first));
    }
    const d = t.data as ArrayLike<number>;
    const isNumbers = Array.isArray(d) || (ArrayBuffer.isView(d) && !(d instanceof DataView));
    if (!isNumbers || d.length !== per) {
      const got = isNumbers ? `${d.length} values` : describeValue(d);
      fail(who, `tile ${i} must hold ${per} values (${shapeToString(first)}), got ${got}`, `tile ${i} ${got}`, `${per} values`);
    }
  });
  const labels = options.labels ?? tiles.map((t, i) => t.label ?? String(i));
  if (!Array.isArray(labels) || labels.length !== tiles.length || !labels.every((l) => typeof l === 'string')) {
    fail(who, `labels must be ${tiles.length} strings, one per tile, got ${showValue(labels)}`, `labels ${showValue(labels)}`, `${tiles.length} strings`);
  }

  let lo = Infinity;
  let hi = -Infinity;
  for (const t of tiles) {
    for (let i = 0; i < per; i++) {
      const v = t.data[i];
      if (Number.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
  }
  if (!(lo < hi)) [lo, hi] = Number.isFinite(lo) ? [lo - 0.5, lo + 0.5] : [0, 1]; // flat images are mid-grey
  if (options.range !== undefined) {
    const r = options.range;
    if (!Array.isArray(r) || r.length !== 2 || !r.every((v) => typeof v === 'number' && Number.isFinite(v)) || !(r[0] < r[1])) {
      fail(who, `range must be [lo, hi], finite, lo < hi, e.g. [0, 1], got ${showValue(r)}`, `range ${showValue(r)}`, '[lo, hi] with lo < hi');
    }
    [lo, hi] = r;
  }
  const level = (v: number): string => hexByte((v - lo) / (hi - lo));

  const count = tiles.length;
  const cell = options.cellSize ?? Math.max(1, Math.round(84 / Math.max(H, W)));
  checkInteger(who, 'cellSize', cell, 1);
  const columns = options.columns ?? Math.min(count, 10);
  checkInteger(who, 'columns', columns, 1);
  const cols = Math.min(columns, count);
  const rows = Math.ceil(count / cols);
  const tileW = W * cell;
  const tileH = H * cell;
  const width = cols * tileW + (cols - 1) * GAP;
  const height = rows * (LABEL_HEIGHT + tileH) + (rows - 1) * GAP;
  if (width > MAX_CHART_SIDE || height > MAX_CHART_SIDE) {
    fail(
      who,
      `the grid would be ${width} × ${height} pixels, more than the ${MAX_CHART_SIDE} a chart can have; use a smaller cellSize or other columns`,
      `${width} × ${height} pixels`,
      `at most ${MAX_CHART_SIDE} × ${MAX_CHART_SIDE}`,
    );
  }

  const runs: { tile: number; x0: number; x1: number; y0: number; y1: number; rgb: string }[] = [];
  const frames: { x0: number; x1: number; y0: number; y1: number }[] = [];
  const texts: { x: number; y: number; text: string }[] = [];
  const plane = H * W;
  let nonFinite = 0;
  tiles.forEach((t, k) => {
    const data = t.data;
    const ox = (k % cols) * (tileW + GAP);
    const oy = Math.floor(k / cols) * (LABEL_HEIGHT + tileH + GAP) + LABEL_HEIGHT;
    texts.push({ x: ox + tileW / 2, y: oy - 4, text: labels[k] });
    frames.push({ x0: ox - 0.5, x1: ox + tileW + 0.5, y0: oy - 0.5, y1: oy + tileH + 0.5 });
    for (let y = 0; y < H; y++) {
      let start = 0;
      let colour = '';
      for (let x = 0; x <= W; x++) {
        let c = '';
        if (x < W) {
          const vs = C === 1 ? [data[y * W + x]] : [0, 1, 2].map((ch) => data[ch * plane + y * W + x]);
          if (vs.every(Number.isFinite)) c = `#${C === 1 ? level(vs[0]).repeat(3) : vs.map(level).join('')}`;
          else {
            c = NON_FINITE;
            nonFinite++;
          }
        }
        if (x > 0 && c !== colour) {
          runs.push({ tile: k, x0: ox + start * cell, x1: ox + x * cell, y0: oy + y * cell, y1: oy + (y + 1) * cell, rgb: colour });
          start = x;
        }
        colour = c;
      }
    }
  });

  const at = (field: string, size: number) => ({
    field,
    type: 'quantitative',
    scale: { domain: [0, size], range: [0, size], nice: false, zero: false },
    axis: null,
  });
  const position = { x: at('x0', width), x2: { field: 'x1' }, y: at('y0', height), y2: { field: 'y1' } };
  const notes = [`${count} unit(s); ${C === 1 ? 'grey' : 'RGB'}: ${lo.toPrecision(3)} black, ${hi.toPrecision(3)} white, clamped`];
  if (nonFinite > 0) notes.push(`${nonFinite} non-finite pixel(s) in magenta`);
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: { text: options.title ?? 'Activation maximisation', subtitle: notes },
    config: chartConfig(),
    width,
    height,
    layer: [
      {
        data: { values: runs },
        mark: { type: 'rect' },
        encoding: { ...position, fill: { field: 'rgb', type: 'nominal', scale: null, legend: null } },
      },
      {
        data: { values: frames },
        mark: { type: 'rect', filled: false, stroke: '#bbbbbb', strokeWidth: 1 },
        encoding: position,
      },
      {
        data: { values: texts },
        mark: { type: 'text', baseline: 'alphabetic', align: 'center', fontSize: 11, color: '#333' },
        encoding: { x: at('x', width), y: at('y', height), text: { field: 'text' } },
      },
    ],
  };
}
