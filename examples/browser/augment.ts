/**
 * The augmentation panel: one digit (the one drawn on the pad, else the first
 * training image) under twenty draws of the distortions `npm start --
 * --augment` trains MNIST with (an affine warp and Simard's elastic field),
 * so a visitor can see how strong they are. `augmentImages` is the very code
 * `augment()` runs on training batches; the seed makes each grid repeatable,
 * and "New draws" takes the next one.
 */
import { augmentImages, type AugmentTransforms } from 'striate';
import { drawTiles, grey, type Tile } from './tiles.js';

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
  const tiles: Tile[] = [image, ...Array.from({ length: count }, (_, n) => augmented.subarray(n * SIDE * SIDE, (n + 1) * SIDE * SIDE))].map((data, t) => ({
    width: SIDE,
    height: SIDE,
    data,
    colour: grey,
    frame: t === 0 ? '#f59e0b' : undefined,
  }));
  drawTiles(canvas, tiles, { columns, cell, gap });
  return augmented;
}
