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
import { labelledImageGrid } from './image-grid.js';
import { type ChartSpec, checkInteger, checkTitle } from './spec.js';

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
  const count = tiles.length;
  const cell = options.cellSize ?? Math.max(1, Math.round(84 / Math.max(H, W)));
  checkInteger(who, 'cellSize', cell, 1);
  const columns = options.columns ?? Math.min(count, 10);
  checkInteger(who, 'columns', columns, 1);
  const notes = [`${count} unit(s); ${C === 1 ? 'grey' : 'RGB'}: ${lo.toPrecision(3)} black, ${hi.toPrecision(3)} white, clamped`];
  return labelledImageGrid(
    who,
    tiles.map((t, k) => ({ data: t.data, label: labels[k] })),
    { C, H, W, cell, columns, lo, hi, tooLarge: 'use a smaller cellSize or other columns' },
    options.title ?? 'Activation maximisation',
    notes,
  );
}
