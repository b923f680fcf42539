/**
 * One image under many augmentations, as a Vega-Lite spec: the original
 * first, then `count` augmented views of it in a grid, each pixel a square,
 * so a reader sees at a glance how strong the distortions are before
 * training on them.
 *
 * View k (from 1) is image k − 1 of `augmentImages` run on `count` copies of
 * the image with `seed`: exactly what `augment` makes of a batch of those
 * copies whose seed is `seed`. One channel is drawn grey, three as RGB, every
 * tile on the same scale: `range[0]` black, `range[1]` white (default the
 * original's least and greatest value), values beyond it clamped, so a
 * brightness or contrast change shows as one. Non-finite values are magenta.
 *
 * As in filters.ts the layout is computed here in pixels and drawn with rect
 * marks on identity scales. Each row of a tile is drawn as runs of equal
 * colour, so a digit's flat background costs one rect, not 28. Render it
 * with `renderChart` or `writeChart` from 'striate/node' (the CLI's
 * augment.png), or embed it in a page.
 *
 * ```ts
 * const spec = augmentGridSpec(mnist.test.images.subarray(0, 784), [1, 28, 28], { affine: { rotate: 15 }, elastic: { alpha: 34, sigma: 4 } });
 * await writeChart('augment.png', spec);
 * ```
 */
import { augmentImagesFor, type AugmentTransforms } from '../data/augment.js';
import { checkImageShape } from '../data/crops.js';
import { describeValue, fail } from '../graph/error.js';
import { type Shape, shapeToString, sizeOf } from '../graph/shape.js';
import { checkOptions, showValue } from '../nn/spec.js';
import { labelledImageGrid } from './image-grid.js';
import { type ChartSpec, checkInteger, checkTitle } from './spec.js';

/** Layout, seed and colour scale of the grid `augmentGridSpec` makes. */
export interface AugmentGridOptions {
  /** Augmented views, an integer in [1, 400] (default 20). */
  count?: number;
  /** The seed the views are drawn from, a safe integer (default 0): a batch's `seed`. */
  seed?: number;
  /** Tiles per row (default 7, or fewer when there are fewer tiles). */
  columns?: number;
  /** Side of one image pixel's square in chart pixels (default: a tile about 84 pixels wide, at least 1 per pixel). */
  cellSize?: number;
  /** Values drawn black and white, [lo, hi] with lo < hi (default the original's least and greatest value). */
  range?: readonly [number, number];
  /** Draw the original as the first tile (default true). */
  original?: boolean;
  /** Chart title (default "Augmentations"). */
  title?: string;
}

const MAX_COUNT = 400;

/** A few words for each transformation in `t` (already checked), for the subtitle. */
function describeTransforms(t: AugmentTransforms): string {
  const parts: string[] = [];
  if (t.affine) {
    const a = t.affine;
    const bits = [
      a.rotate ? `rotate ±${a.rotate}°` : '',
      a.shift ? `shift ±${a.shift} px` : '',
      a.scale && (a.scale[0] !== 1 || a.scale[1] !== 1) ? `scale ${a.scale[0]}–${a.scale[1]}` : '',
      a.shear ? `shear ±${a.shear}°` : '',
    ].filter((b) => b !== '');
    parts.push(`affine ${bits.length ? bits.join(', ') : '(identity)'}`);
  }
  if (t.elastic) parts.push(`elastic α ${t.elastic.alpha} px, σ ${t.elastic.sigma} px`);
  if (t.crop) parts.push(`crop padding ${t.crop.padding}`);
  if (t.flip) parts.push(`flip p ${t.flip.horizontal}`);
  if (t.contrast) parts.push(`contrast ×${t.contrast.factor[0]}–${t.contrast.factor[1]}`);
  if (t.brightness) parts.push(`brightness ±${t.brightness.delta}`);
  if (t.noise) parts.push(`noise std ${t.noise.std}`);
  if (t.fill !== undefined && t.fill !== 0) parts.push(`fill ${t.fill}`);
  return parts.length ? parts.join('; ') : 'no augmentation';
}

/**
 * The spec of a grid of one image (`image`, `C × H × W` values of
 * `imageShape`, one or three channels) under `count` draws of the
 * augmentations `transforms` (`augment`'s options without `imageShape`),
 * after the original. See the file comment for what view k is and how
 * values become colours.
 */
export function augmentGridSpec(image: ArrayLike<number>, imageShape: Shape, transforms: AugmentTransforms, options: AugmentGridOptions = {}): ChartSpec {
  const who = 'augmentGridSpec';
  checkImageShape(who, imageShape);
  checkOptions(who, options, ['count', 'seed', 'columns', 'cellSize', 'range', 'original', 'title']);
  checkTitle(who, options.title);
  const [C, H, W] = imageShape;
  const per = sizeOf(imageShape);
  if (C !== 1 && C !== 3) {
    fail(
      who,
      `draws grey (1 channel) or RGB (3 channel) images, got imageShape ${shapeToString(imageShape)} with ${C} channels; draw one channel at a time with imageShape [1, ${H}, ${W}]`,
      `${C} channels`,
      '1 or 3 channels',
    );
  }
  const isNumbers = Array.isArray(image) || (ArrayBuffer.isView(image) && !(image instanceof DataView));
  if (!isNumbers || image.length !== per) {
    const got = isNumbers ? `${image.length} values` : describeValue(image);
    fail(
      who,
      `image must be one image of ${shapeToString(imageShape)} (${per} values), got ${got}; from a data set, pass images.subarray(k * ${per}, (k + 1) * ${per})`,
      `image ${got}`,
      `${per} values`,
    );
  }
  const count = options.count ?? 20;
  checkInteger(who, 'count', count, 1, MAX_COUNT);
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed)) fail(who, `seed must be a safe integer, got ${showValue(seed)}`, `seed ${showValue(seed)}`, 'a safe integer');
  const original = options.original ?? true;
  if (typeof original !== 'boolean') fail(who, `original must be true or false, got ${showValue(original)}`, `original ${showValue(original)}`, 'true or false');

  const source = Float32Array.from(image);
  const copies = new Float32Array(count * per);
  for (let k = 0; k < count; k++) copies.set(source, k * per);
  const views = augmentImagesFor(who, copies, imageShape, transforms, seed);

  let lo = Infinity;
  let hi = -Infinity;
  for (const v of source) {
    if (Number.isFinite(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  if (!(lo < hi)) [lo, hi] = Number.isFinite(lo) ? [lo - 0.5, lo + 0.5] : [0, 1]; // a flat image is mid-grey
  if (options.range !== undefined) {
    const r = options.range;
    if (!Array.isArray(r) || r.length !== 2 || !r.every((v) => typeof v === 'number' && Number.isFinite(v)) || !(r[0] < r[1])) {
      fail(who, `range must be [lo, hi], finite, lo < hi, e.g. [0, 1], got ${showValue(r)}`, `range ${showValue(r)}`, '[lo, hi] with lo < hi');
    }
    [lo, hi] = r;
  }
  const tiles = count + (original ? 1 : 0);
  const cell = options.cellSize ?? Math.max(1, Math.round(84 / Math.max(H, W)));
  checkInteger(who, 'cellSize', cell, 1);
  const columns = options.columns ?? Math.min(tiles, 7);
  checkInteger(who, 'columns', columns, 1);
  const shown = Array.from({ length: tiles }, (_, t) => {
    const view = original ? t - 1 : t;
    return view < 0 ? { data: source, label: 'original' } : { data: views.subarray(view * per, (view + 1) * per), label: `${view + 1}` };
  });
  const notes = [
    describeTransforms(transforms),
    `${count} draws, seed ${seed}; ${C === 1 ? 'grey' : 'RGB'}: ${lo.toPrecision(3)} black, ${hi.toPrecision(3)} white, clamped`,
  ];
  return labelledImageGrid(who, shown, { C, H, W, cell, columns, lo, hi, tooLarge: 'use a smaller cellSize, fewer views or other columns' }, options.title ?? 'Augmentations', notes);
}
