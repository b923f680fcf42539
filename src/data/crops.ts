/**
 * Crops and mirror images of NCHW images, cut on the host: the views that
 * test-time crop averaging runs through a network (`predict` and `evaluate`
 * with `crops: 'ten'`), and the pieces a cropping augmentation is made of.
 *
 * AlexNet (Krizhevsky, Sutskever and Hinton, 2012, section 4.1) trained on
 * random 224×224 patches of 256×256 images and their horizontal reflections,
 * and at test time averaged the network's softmax outputs over ten patches:
 * the four corner patches, the centre patch, and the reflections of those
 * five. `cropWindows('ten', ...)` gives those ten windows in this order:
 *
 * ```
 * 0 top-left   1 top-right   2 bottom-left   3 bottom-right   4 centre
 * 5 to 9: the same five, mirrored (each crop's columns reversed)
 * ```
 *
 * (Caffe's `oversample` uses this order; torchvision's `TenCrop` has the same
 * first five and mirrors the whole image before cropping, which gives the
 * same ten views with the mirrored corners in another order.) The centre
 * crop starts at `floor((H - h) / 2)`, `floor((W - w) / 2)`: when the margin
 * is odd, the extra row or column is left at the bottom or right, as
 * TensorFlow's `resize_with_crop_or_pad` does.
 *
 * A mirror image reverses the columns (x → W − 1 − x) of every row of every
 * channel: a reflection about the vertical axis, left and right swapped, as
 * AlexNet's "horizontal reflections". Rows are never flipped.
 *
 * Ten crops must be ten different windows, or the average would count some
 * view twice: an image only as tall (or as wide) as the crop makes the top
 * and bottom (left and right) corners the same pixels, and an image at most
 * one pixel larger than the crop each way puts the centre crop on the
 * top-left one. Both are refused with a StriateError that names the two
 * windows and points to `'center'`. (Mirrored crops of a symmetric image
 * equal their originals; that is the data, not the geometry, and is
 * allowed.) A centre crop of an image the size of the crop is the image.
 *
 * ```ts
 * // 28×28 MNIST images, a model reading 24×24 crops:
 * const views = tenCrops(mnist.test.images, [1, 28, 28], 24);  // 10 arrays, count × 576 values each
 * const middle = centerCrop(mnist.test.images, [1, 28, 28], 24);
 * const flipped = mirror(mnist.test.images, [1, 28, 28]);
 * ```
 */
import { describeValue, fail, showValue } from '../graph/error.js';
import { type Shape, shapeToString, sizeOf } from '../graph/shape.js';

/** Which crops test-time averaging takes: AlexNet's ten, or the single centre crop. */
export type CropMode = 'ten' | 'center';

/** The crop modes, for checking an option. */
export const CROP_MODES: readonly CropMode[] = Object.freeze(['ten', 'center']);

/** Number of crops a mode takes: 10 for `'ten'`, 1 for `'center'`. */
export function cropCount(mode: CropMode): number {
  return mode === 'ten' ? 10 : 1;
}

/**
 * One crop of an image: a `height × width` window whose top-left pixel is
 * row `top`, column `left`, taken from every channel, and mirrored (columns
 * reversed, within the window) when `mirrored` is true.
 */
export interface CropWindow {
  /** First row, from 0. */
  readonly top: number;
  /** First column, from 0. */
  readonly left: number;
  /** Rows of the crop. */
  readonly height: number;
  /** Columns of the crop. */
  readonly width: number;
  /** Reverse the crop's columns (default false). */
  readonly mirrored?: boolean;
}

/** A crop size: one number for a square crop, or `[height, width]`. */
export type CropSize = number | readonly [number, number];

/** `imageShape` checked: the `[channels, height, width]` of one image. */
export function checkImageShape(who: string, imageShape: unknown, what = 'imageShape'): asserts imageShape is Shape {
  if (!Array.isArray(imageShape) || imageShape.length !== 3 || !imageShape.every((d) => Number.isSafeInteger(d) && d >= 1)) {
    const got = showValue(imageShape);
    fail(who, `${what} must be the [channels, height, width] of one image, e.g. [1, 28, 28], got ${got}`, `${what} ${got}`, '[channels, height, width], positive integers');
  }
}

/** `size` as `[height, width]`, checked. */
function cropSizeOf(who: string, size: unknown): [number, number] {
  const pair = typeof size === 'number' ? [size, size] : size;
  if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((d) => Number.isSafeInteger(d) && d >= 1)) {
    const got = showValue(size);
    fail(who, `the crop size must be a positive integer or [height, width], e.g. 24 or [24, 24], got ${got}`, `size ${got}`, 'a positive integer or [height, width]');
  }
  return [pair[0], pair[1]];
}

/** The number of images in `images` of shape `imageShape` each, or an error. */
export function imageCount(who: string, images: unknown, imageShape: Shape): number {
  const per = sizeOf(imageShape);
  if (!(images instanceof Float32Array)) {
    fail(who, `images must be a Float32Array of count × ${per} values (${shapeToString(imageShape)} per image), got ${describeValue(images)}`, `images ${describeValue(images)}`, `a Float32Array of count × ${per} values`);
  }
  if (images.length % per !== 0) {
    fail(
      who,
      `images holds ${images.length} values, which is not a whole number of ${shapeToString(imageShape)} images (${per} values each)`,
      `${images.length} image values`,
      `a multiple of ${per}`,
    );
  }
  return images.length / per;
}

/**
 * The windows of crop mode `mode` for `[C, H, W]` images cut to `h × w`
 * (`size`), in the order of the file comment: for `'ten'`, top-left,
 * top-right, bottom-left, bottom-right, centre, then those five mirrored;
 * for `'center'`, the centre crop alone. `who` names the caller in errors.
 */
export function cropWindowsFor(who: string, mode: CropMode, imageShape: Shape, size: readonly [number, number]): readonly CropWindow[] {
  const [, H, W] = imageShape;
  const [h, w] = size;
  const image = `${H}×${W}`;
  const crop = `${h}×${w}`;
  if (h > H || w > W) {
    fail(
      who,
      `the ${image} images (imageShape ${shapeToString(imageShape)}) are smaller than the ${crop} crop, so no crop fits; ` +
        `give images at least ${crop}, or read them with a model whose input is at most ${image}`,
      `${image} images`,
      `images at least ${crop}`,
    );
  }
  const centre = { top: Math.floor((H - h) / 2), left: Math.floor((W - w) / 2), height: h, width: w, mirrored: false };
  if (mode === 'center') return Object.freeze([Object.freeze(centre)]);
  const five = [
    { name: 'top-left', top: 0, left: 0 },
    { name: 'top-right', top: 0, left: W - w },
    { name: 'bottom-left', top: H - h, left: 0 },
    { name: 'bottom-right', top: H - h, left: W - w },
    { name: 'centre', top: centre.top, left: centre.left },
  ];
  // Ten different windows, or a refusal: two corners coincide when the image is only as tall or as wide as the
  // crop, and the centre is the top-left corner when the image is at most one pixel larger each way.
  for (let i = 0; i < five.length; i++) {
    for (let j = i + 1; j < five.length; j++) {
      const a = five[i];
      const b = five[j];
      if (a.top !== b.top || a.left !== b.left) continue;
      const where = `rows ${a.top}..${a.top + h - 1}, columns ${a.left}..${a.left + w - 1}`;
      fail(
        who,
        `ten crops of ${image} images at ${crop} would repeat a view: the ${a.name} and ${b.name} crops are the same window (${where}); ` +
          `the image must be larger than the crop in both height and width, and at least 2 pixels larger in one of them; ` +
          `give larger images, or use crops 'center' (one crop${h === H && w === W ? ', here the whole image' : ''})`,
        `${image} images, ${crop} crops (${a.name} = ${b.name})`,
        `images larger than ${crop} in height and width, by 2 or more in one`,
      );
    }
  }
  return Object.freeze(
    [false, true].flatMap((mirrored) => five.map(({ top, left }) => Object.freeze({ top, left, height: h, width: w, mirrored }))),
  );
}

/** `window` checked against `[C, H, W]` images. */
function checkWindow(who: string, window: unknown, imageShape: Shape): asserts window is CropWindow {
  const [, H, W] = imageShape;
  const wnd = window as Partial<CropWindow> | null;
  const ok =
    wnd !== null &&
    typeof wnd === 'object' &&
    Number.isSafeInteger(wnd.top) &&
    Number.isSafeInteger(wnd.left) &&
    Number.isSafeInteger(wnd.height) &&
    Number.isSafeInteger(wnd.width) &&
    (wnd.mirrored === undefined || typeof wnd.mirrored === 'boolean');
  if (!ok) {
    fail(who, `window must be { top, left, height, width, mirrored? } with integer fields, got ${showValue(window)}`, `window ${showValue(window)}`, '{ top, left, height, width, mirrored? }');
  }
  const { top, left, height, width } = wnd as CropWindow;
  if (top < 0 || left < 0 || height < 1 || width < 1 || top + height > H || left + width > W) {
    const got = `rows ${top}..${top + height - 1}, columns ${left}..${left + width - 1}`;
    fail(
      who,
      `the window (${got}) does not lie inside the ${H}×${W} images; it needs 0 ≤ top, top + height ≤ ${H}, 0 ≤ left, left + width ≤ ${W} and a positive height and width`,
      got,
      `a window inside rows 0..${H - 1}, columns 0..${W - 1}`,
    );
  }
}

/**
 * Copy `window` of images `first .. first + rows - 1` of `images` (NCHW,
 * `imageShape` per image) to `out` from `outOffset`, image after image, each
 * `[C, height, width]`. Nothing is checked: the callers have.
 */
export function cropInto(
  images: Float32Array,
  imageShape: Shape,
  window: CropWindow,
  first: number,
  rows: number,
  out: Float32Array,
  outOffset = 0,
): void {
  const [C, H, W] = imageShape;
  const { top, left, height, width } = window;
  const plane = H * W;
  let o = outOffset;
  for (let n = first; n < first + rows; n++) {
    for (let c = 0; c < C; c++) {
      const base = (n * C + c) * plane + left;
      for (let y = top; y < top + height; y++) {
        const at = base + y * W;
        if (window.mirrored) {
          for (let x = at + width - 1; x >= at; x--) out[o++] = images[x];
        } else {
          out.set(images.subarray(at, at + width), o);
          o += width;
        }
      }
    }
  }
}

/** `window` of every image: a fresh array of count × C × height × width values. */
function cutAll(images: Float32Array, imageShape: Shape, count: number, window: CropWindow): Float32Array {
  const out = new Float32Array(count * imageShape[0] * window.height * window.width);
  cropInto(images, imageShape, window, 0, count, out);
  return out;
}

/**
 * The windows of crop mode `mode` for images of `imageShape`
 * (`[channels, height, width]`) cut to `size` (a number for a square crop,
 * or `[height, width]`): for `'ten'` AlexNet's ten (top-left, top-right,
 * bottom-left, bottom-right, centre, then those five mirrored), for
 * `'center'` the centre crop alone. Throws a StriateError if the crop is
 * larger than the image, or, for `'ten'`, when two of the windows would
 * coincide (an image not larger than the crop in both height and width, or
 * at most one pixel larger in each).
 */
export function cropWindows(mode: CropMode, imageShape: Shape, size: CropSize): readonly CropWindow[] {
  const who = 'cropWindows';
  if (!CROP_MODES.includes(mode)) fail(who, `mode must be 'ten' or 'center', got ${showValue(mode)}`, `mode ${showValue(mode)}`, "'ten' or 'center'");
  checkImageShape(who, imageShape);
  return cropWindowsFor(who, mode, imageShape, cropSizeOf(who, size));
}

/**
 * `window` of every image in `images` (count images of `imageShape`,
 * `[channels, height, width]`, back to back): a fresh Float32Array of
 * count × channels × window.height × window.width values, mirrored when
 * `window.mirrored`. The building block of the other crops, and of random
 * crops for augmentation.
 */
export function crop(images: Float32Array, imageShape: Shape, window: CropWindow): Float32Array {
  const who = 'crop';
  checkImageShape(who, imageShape);
  const count = imageCount(who, images, imageShape);
  checkWindow(who, window, imageShape);
  return cutAll(images, imageShape, count, window);
}

/**
 * The centre crop of size `size` (a number or `[height, width]`) of every
 * image in `images` (count images of `imageShape`), starting at
 * `floor((H - h) / 2)`, `floor((W - w) / 2)`: count × C × h × w values.
 */
export function centerCrop(images: Float32Array, imageShape: Shape, size: CropSize): Float32Array {
  const who = 'centerCrop';
  checkImageShape(who, imageShape);
  const count = imageCount(who, images, imageShape);
  const [window] = cropWindowsFor(who, 'center', imageShape, cropSizeOf(who, size));
  return cutAll(images, imageShape, count, window);
}

/**
 * AlexNet's ten crops of size `size` of every image in `images` (count
 * images of `imageShape`): ten arrays, one per window of
 * `cropWindows('ten', imageShape, size)` in that order, array k holding crop
 * k of every image (count × C × h × w values). So array k can be run through
 * a model as a batch of its own.
 */
export function tenCrops(images: Float32Array, imageShape: Shape, size: CropSize): Float32Array[] {
  const who = 'tenCrops';
  checkImageShape(who, imageShape);
  const count = imageCount(who, images, imageShape);
  return cropWindowsFor(who, 'ten', imageShape, cropSizeOf(who, size)).map((window) => cutAll(images, imageShape, count, window));
}

/**
 * The mirror image of every image in `images` (count images of
 * `imageShape`): columns reversed, x → W − 1 − x, in every row and channel;
 * a fresh array of the same size.
 */
export function mirror(images: Float32Array, imageShape: Shape): Float32Array {
  const who = 'mirror';
  checkImageShape(who, imageShape);
  const count = imageCount(who, images, imageShape);
  return cutAll(images, imageShape, count, { top: 0, left: 0, height: imageShape[1], width: imageShape[2], mirrored: true });
}
