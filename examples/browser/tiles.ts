/**
 * Small images drawn as a grid of tiles on one canvas, pixel by pixel (no
 * smoothing), each through its own colour map, optionally framed and
 * captioned: the augmentation panel's digits, the look-inside panels' feature
 * maps, saliency, neighbours and maximised inputs.
 */

export type Rgb = readonly [number, number, number];

/** One tile: `height × width` values, row-major, and how a value becomes a colour. */
export interface Tile {
  readonly width: number;
  readonly height: number;
  readonly data: ArrayLike<number>;
  readonly colour: (v: number) => Rgb;
  /** A frame in this CSS colour. */
  readonly frame?: string;
  /** A line of text under the tile. */
  readonly caption?: string;
}

export interface TileLayout {
  /** Tiles a row. */
  readonly columns: number;
  /** Canvas pixels per image pixel. */
  readonly cell: number;
  /** Canvas pixels between tiles. */
  readonly gap: number;
}

const clamp01 = (v: number): number => (v > 0 ? (v < 1 ? v : 1) : 0);

/** Grey: 0 black, 1 white (values outside [0, 1] clamp). */
export const grey = (v: number): Rgb => {
  const g = Math.round(255 * clamp01(v));
  return [g, g, g];
};

/** Black → red → yellow → white for [0, 1]: how strongly a pixel matters. */
export const heat = (v: number): Rgb => {
  const t = clamp01(v);
  return [Math.round(255 * clamp01(3 * t)), Math.round(255 * clamp01(3 * t - 1)), Math.round(255 * clamp01(3 * t - 2))];
};

/** The largest |value| of `data` (at least 1e-12, so that dividing by it is safe). */
export function absMax(data: ArrayLike<number>): number {
  let m = 1e-12;
  for (let i = 0; i < data.length; i++) m = Math.max(m, Math.abs(data[i]));
  return m;
}

/**
 * Draw `tiles` into `canvas` (resized to fit); tiles may differ in size, each
 * row is as tall as its tallest. The pixels are written into one ImageData
 * and put once, on a canvas kept in memory (`willReadFrequently`): these
 * canvases are small and redrawn ten times a second, and a GPU-backed one
 * (on a machine without a GPU, SwiftShader's, on the same cores as training)
 * made the look-inside panels cost training 11% more in `npm run bench:demo`
 * (webasm, 2 cores: 93% of the panels-off rate without drawing, 82% drawing
 * on accelerated canvases, 96% on these).
 */
export function drawTiles(canvas: HTMLCanvasElement, tiles: readonly Tile[], { columns, cell, gap }: TileLayout): void {
  const captionHeight = tiles.some((t) => t.caption) ? 14 : 0;
  const colWidth = Math.max(1, ...tiles.map((t) => t.width)) * cell;
  const rows = Math.ceil(tiles.length / columns);
  const rowHeights = Array.from({ length: rows }, (_, r) => Math.max(1, ...tiles.slice(r * columns, (r + 1) * columns).map((t) => t.height)) * cell + captionHeight);
  const shown = Math.min(columns, tiles.length);
  const width = Math.max(1, shown * colWidth + (shown - 1) * gap);
  const height = Math.max(1, rowHeights.reduce((a, b) => a + b, 0) + (rows - 1) * gap);
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  const picture = ctx.createImageData(width, height);
  const px = picture.data;
  px.fill(255);
  const tops: number[] = [];
  for (let r = 0, top = 0; r < rows; r++) {
    tops.push(top);
    top += rowHeights[r] + gap;
  }
  tiles.forEach((t, n) => {
    const left = (n % columns) * (colWidth + gap);
    const top = tops[Math.floor(n / columns)];
    for (let y = 0; y < t.height; y++) {
      for (let x = 0; x < t.width; x++) {
        const [red, green, blue] = t.colour(t.data[y * t.width + x]);
        for (let dy = 0; dy < cell; dy++) {
          let at = ((top + y * cell + dy) * width + left + x * cell) * 4;
          for (let dx = 0; dx < cell; dx++, at += 4) {
            px[at] = red;
            px[at + 1] = green;
            px[at + 2] = blue;
          }
        }
      }
    }
  });
  ctx.putImageData(picture, 0, 0);
  tiles.forEach((t, n) => {
    if (!t.frame && !t.caption) return;
    const left = (n % columns) * (colWidth + gap);
    const top = tops[Math.floor(n / columns)];
    if (t.frame) {
      ctx.strokeStyle = t.frame;
      ctx.lineWidth = 2;
      ctx.strokeRect(left + 1, top + 1, t.width * cell - 2, t.height * cell - 2);
    }
    if (t.caption) {
      ctx.fillStyle = '#475569';
      ctx.font = '11px system-ui, sans-serif';
      ctx.textAlign = 'center';
      ctx.textBaseline = 'top';
      ctx.fillText(t.caption, left + (t.width * cell) / 2, top + t.height * cell + 2);
    }
  });
}
