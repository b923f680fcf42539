/**
 * The augmentation panel: one digit (the one drawn on the pad, else the first
 * training image) under twenty draws of the distortions `npm start --
 * --augment` trains MNIST with (an affine warp and Simard's elastic field),
 * so a visitor can see how strong they are. `augmentImages` is the very code
 * `augment()` runs on training batches; the seed makes each grid repeatable,
 * and "New draws" takes the next one.
 */
import { augmentImages, type AugmentTransforms } from 'striate';

/** The distortions shown: the CLI's --augment defaults for digits (DIGIT_AUGMENT in examples/lib/zoo-config.ts). */
export const DIGIT_DISTORTIONS: AugmentTransforms = {
  affine: { rotate: 10, shift: 2, scale: [0.9, 1.1], shear: 5 },
  elastic: { alpha: 34, sigma: 5 },
};

const SIDE = 28;

/**
 * Draw `image` (28×28, values in [0, 1]) and `count` augmentations of it
 * (seed `seed`) into `canvas`, `columns` tiles a row, `cell` pixels per
 * pixel; the first tile is the image itself. Returns the augmented images.
 */
export function drawAugmentations(canvas: HTMLCanvasElement, image: Float32Array, seed: number, count = 20, columns = 7, cell = 2, gap = 4): Float32Array {
  const copies = new Float32Array(count * SIDE * SIDE);
  for (let n = 0; n < count; n++) copies.set(image, n * SIDE * SIDE);
  const augmented = augmentImages(copies, [1, SIDE, SIDE], DIGIT_DISTORTIONS, seed);
  const tiles = count + 1;
  const rows = Math.ceil(tiles / columns);
  const tile = SIDE * cell;
  const width = columns * tile + (columns - 1) * gap;
  const height = rows * tile + (rows - 1) * gap;
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  const picture = ctx.createImageData(SIDE, SIDE);
  const scratch = document.createElement('canvas');
  scratch.width = SIDE;
  scratch.height = SIDE;
  const sctx = scratch.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  for (let t = 0; t < tiles; t++) {
    const src = t === 0 ? image : augmented.subarray((t - 1) * SIDE * SIDE, t * SIDE * SIDE);
    for (let i = 0; i < SIDE * SIDE; i++) {
      const v = Math.round(255 * Math.max(0, Math.min(1, src[i])));
      picture.data.set([v, v, v, 255], i * 4);
    }
    sctx.putImageData(picture, 0, 0);
    const left = (t % columns) * (tile + gap);
    const top = Math.floor(t / columns) * (tile + gap);
    ctx.drawImage(scratch, left, top, tile, tile);
    if (t === 0) {
      ctx.strokeStyle = '#f59e0b';
      ctx.lineWidth = 2;
      ctx.strokeRect(left + 1, top + 1, tile - 2, tile - 2);
    }
  }
  return augmented;
}
