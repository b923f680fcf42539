import { PNG } from 'pngjs';
import { compilesCleanly } from './vega.js';
import { describe, expect, it } from 'vitest';
import { renderChart } from 'striate/node';
import { augmentImages, type AugmentTransforms } from '../../src/data/augment.js';
import { augmentGridSpec } from '../../src/viz/augment-grid.js';
import { striateError } from '../helpers.js';

type Run = { tile: number; x0: number; x1: number; y0: number; y1: number; rgb: string };
type Layer = { mark: { type: string; filled?: boolean }; data: { values: Record<string, unknown>[] }; encoding: Record<string, unknown> };
const layers = (spec: Record<string, unknown>) => spec.layer as Layer[];
const runsOf = (spec: Record<string, unknown>) => layers(spec)[0].data.values as unknown as Run[];
const labelsOf = (spec: Record<string, unknown>) => layers(spec).find((l) => l.mark.type === 'text')!.data.values.map((v) => v.text);

/** The colour the grid shows at pixel (x, y) of tile `tile`, read back from its runs. */
function colourAt(runs: readonly Run[], tile: number, x: number, y: number, cell: number): string {
  const mine = runs.filter((r) => r.tile === tile);
  const ox = Math.min(...mine.map((r) => r.x0));
  const oy = Math.min(...mine.map((r) => r.y0));
  const px = ox + x * cell;
  const hit = mine.filter((r) => r.y0 === oy + y * cell && r.x0 <= px && px < r.x1);
  expect(hit).toHaveLength(1);
  return hit[0].rgb;
}

const grey = (v: number): string => `#${Math.round(Math.min(1, Math.max(0, v)) * 255).toString(16).padStart(2, '0').repeat(3)}`;

/** An asymmetric 6×5 grey image in [0, 1]: an L of ones on zeros, and one pixel at 0.5. */
const image = Float32Array.from({ length: 30 }, (_, i) => {
  const [y, x] = [Math.floor(i / 5), i % 5];
  return x === 1 || y === 4 ? 1 : i === 3 ? 0.5 : 0;
});

describe('augmentGridSpec', () => {
  it('draws the original first, then each view as augmentImages makes it of copies of the image, on one grey scale', () => {
    const t: AugmentTransforms = { affine: { rotate: 20, shift: 1 }, noise: { std: 0.1 } };
    const spec = augmentGridSpec(image, [1, 6, 5], t, { count: 5, seed: 9, cellSize: 3 });
    const runs = runsOf(spec);
    expect(labelsOf(spec)).toEqual(['original', '1', '2', '3', '4', '5']);
    for (let y = 0; y < 6; y++) for (let x = 0; x < 5; x++) expect(colourAt(runs, 0, x, y, 3)).toBe(grey(image[y * 5 + x]));
    const copies = new Float32Array(150);
    for (let k = 0; k < 5; k++) copies.set(image, k * 30);
    const views = augmentImages(copies, [1, 6, 5], t, 9);
    for (let k = 0; k < 5; k++) {
      for (let y = 0; y < 6; y++) for (let x = 0; x < 5; x++) expect(colourAt(runs, k + 1, x, y, 3)).toBe(grey(views[k * 30 + y * 5 + x]));
    }
    // Each tile covers its H × W pixels exactly once: areas add up.
    for (let t = 0; t < 6; t++) {
      const area = runs.filter((r) => r.tile === t).reduce((a, r) => a + (r.x1 - r.x0) * (r.y1 - r.y0), 0);
      expect(area).toBe(30 * 9);
    }
    expect(JSON.stringify(spec.title)).toContain('affine rotate ±20°, shift ±1 px; noise std 0.1');
  });

  it('draws equal neighbours as one run, and lays tiles out in rows of `columns`', () => {
    const flat = new Float32Array(30).fill(0.25);
    const spec = augmentGridSpec(flat, [1, 6, 5], {}, { count: 3, columns: 2, cellSize: 2, original: false });
    const runs = runsOf(spec);
    expect(runs).toHaveLength(3 * 6); // one run per row of each tile
    expect(labelsOf(spec)).toEqual(['1', '2', '3']);
    const top = (t: number) => Math.min(...runs.filter((r) => r.tile === t).map((r) => r.y0));
    const left = (t: number) => Math.min(...runs.filter((r) => r.tile === t).map((r) => r.x0));
    expect(top(1)).toBe(top(0));
    expect(left(1)).toBeGreaterThan(left(0) + 10);
    expect(top(2)).toBeGreaterThan(top(0) + 12);
    expect(left(2)).toBe(left(0));
    expect(spec.width).toBe(2 * 10 + 10);
    // A flat image is mid-grey.
    expect(runs[0].rgb).toBe(grey(0.5));
  });

  it('draws three channels as RGB, clamps to range, and paints non-finite pixels magenta', () => {
    const rgb = Float32Array.from([1, 0, 2, -1, 0.5, 0.5, 0, 0, 0, Number.NaN, 0.25, 1]); // [3, 2, 2]: R, G, B planes
    const spec = augmentGridSpec(rgb, [3, 2, 2], {}, { count: 1, range: [0, 1], cellSize: 1 });
    const runs = runsOf(spec);
    expect(colourAt(runs, 0, 0, 0, 1)).toBe('#ff8000'); // R 1, G 0.5, B 0
    expect(colourAt(runs, 0, 1, 0, 1)).toBe('#ff00ff'); // NaN in B
    expect(colourAt(runs, 0, 0, 1, 1)).toBe('#ff0040'); // R 2 → 1, G 0, B 0.25
    expect(colourAt(runs, 0, 1, 1, 1)).toBe('#0000ff'); // R −1 → 0, G 0, B 1
    expect(JSON.stringify(spec.title)).toContain('2 non-finite pixel(s) in magenta');
  });

  it('compiles with vega-lite without a warning, and renders to a PNG that shows the views', async () => {
    // A red square on blue: no text is drawn in either colour, so the PNG's red pixels are the tiles'.
    const square = new Float32Array(3 * 64);
    for (let i = 0; i < 64; i++) {
      const inside = Math.floor(i / 8) >= 2 && Math.floor(i / 8) < 6 && i % 8 >= 2 && i % 8 < 6;
      square[i] = inside ? 1 : 0;
      square[128 + i] = inside ? 0 : 1;
    }
    const spec = augmentGridSpec(square, [3, 8, 8], { crop: { padding: 1 } }, { count: 20, cellSize: 4, range: [0, 1] });
    compilesCleanly(spec);
    const png = PNG.sync.read(Buffer.from(await renderChart(spec, { scale: 1 })));
    expect(png.width).toBeGreaterThanOrEqual(spec.width as number);
    let red = 0;
    for (let i = 0; i < png.width * png.height; i++) {
      const [r, g, b] = [png.data[4 * i], png.data[4 * i + 1], png.data[4 * i + 2]];
      if (r > 200 && g < 60 && b < 60) red++;
    }
    // 21 tiles, each with the whole 4×4 square inside (a crop shift of at most 1 keeps it in), 4×4 chart pixels a pixel.
    expect(red).toBeGreaterThan(0.9 * 21 * 16 * 16);
    expect(red).toBeLessThan(1.1 * 21 * 16 * 16);
  });

  it('refuses a wrong image, shape, transformation or option, naming itself', () => {
    expect(striateError(() => augmentGridSpec(new Float32Array(60), [1, 6, 5], {}), 'augmentGridSpec').message).toBe(
      'augmentGridSpec: image must be one image of [1,6,5] (30 values), got 60 values; from a data set, pass images.subarray(k * 30, (k + 1) * 30)',
    );
    expect(striateError(() => augmentGridSpec(new Float32Array(60), [2, 6, 5], {})).message).toMatch(/^augmentGridSpec: draws grey \(1 channel\) or RGB \(3 channel\) images, got imageShape \[2,6,5\]/);
    expect(striateError(() => augmentGridSpec(image, [1, 6, 5], { noise: { std: -1 } }), 'augmentGridSpec').message).toBe('augmentGridSpec: noise.std must be a number ≥ 0, got -1');
    expect(striateError(() => augmentGridSpec(image, [1, 6, 5], {}, { count: 0 })).message).toBe('augmentGridSpec: count must be an integer in [1, 400], got 0');
    expect(striateError(() => augmentGridSpec(image, [1, 6, 5], {}, { range: [1, 0] })).message).toMatch(/^augmentGridSpec: range must be \[lo, hi\], finite, lo < hi/);
    expect(striateError(() => augmentGridSpec(image, [1, 6, 5], {}, { seed: 0.5 })).message).toBe('augmentGridSpec: seed must be a safe integer, got 0.5');
    expect(striateError(() => augmentGridSpec(image, [1, 6, 5], {}, { size: 3 } as never)).message).toMatch(/^augmentGridSpec: unknown option "size"/);
    expect(striateError(() => augmentGridSpec(image, [1, 6, 5], {}, { cellSize: 4000 })).message).toMatch(/^augmentGridSpec: the grid would be .* pixels, more than the 16384/);
  });
});
