/**
 * A labelled grid of images as a Vega-Lite chart: the layout, the pixels as
 * runs of equal colour (one rect per run, so a 28×28 digit is a few hundred
 * marks, not 784), a frame round each tile and its label above it. Shared by
 * the charts that show images (augment-grid.ts, maximise-grid.ts); each
 * chooses its tiles, labels, colour scale and notes.
 */
import { fail } from '../graph/error.js';
import { type ChartSpec, chartConfig, hexByte, LABEL_HEIGHT, MAX_CHART_SIDE, NON_FINITE, VEGA_LITE_SCHEMA, pixelAxis, pixelRect } from './spec.js';

/** Pixels between tiles. */
export const GRID_GAP = 10;

/** One tile: a `[C, H, W]` image (C 1 for grey, 3 for RGB) and its label. */
export interface GridTile {
  readonly data: ArrayLike<number>;
  readonly label: string;
}

/** How the grid is drawn. */
export interface ImageGridLayout {
  /** Channels (1 grey, 3 RGB), height and width of every tile's image. */
  readonly C: number;
  readonly H: number;
  readonly W: number;
  /** Chart pixels per image pixel. */
  readonly cell: number;
  /** Tiles a row (fewer when there are fewer tiles). */
  readonly columns: number;
  /** The colour scale's ends: lo black, hi white, clamped. */
  readonly lo: number;
  readonly hi: number;
  /** What to say when the grid is too large ("use a smaller cellSize or other columns"). */
  readonly tooLarge: string;
}

/**
 * The chart of `tiles` laid out by `layout`, titled `title` with `notes`
 * under it (a note on non-finite pixels, drawn magenta, is added when there
 * are any). `who` names the caller in errors.
 */
export function labelledImageGrid(who: string, tiles: readonly GridTile[], layout: ImageGridLayout, title: string, notes: readonly string[]): ChartSpec {
  const { C, H, W, cell, lo, hi } = layout;
  const cols = Math.min(layout.columns, tiles.length);
  const rows = Math.ceil(tiles.length / cols);
  const tileW = W * cell;
  const tileH = H * cell;
  const width = cols * tileW + (cols - 1) * GRID_GAP;
  const height = rows * (LABEL_HEIGHT + tileH) + (rows - 1) * GRID_GAP;
  if (width > MAX_CHART_SIDE || height > MAX_CHART_SIDE) {
    fail(
      who,
      `the grid would be ${width} × ${height} pixels, more than the ${MAX_CHART_SIDE} a chart can have; ${layout.tooLarge}`,
      `${width} × ${height} pixels`,
      `at most ${MAX_CHART_SIDE} × ${MAX_CHART_SIDE}`,
    );
  }
  const level = (v: number): string => hexByte((v - lo) / (hi - lo));

  const runs: { tile: number; x0: number; x1: number; y0: number; y1: number; rgb: string }[] = [];
  const frames: { x0: number; x1: number; y0: number; y1: number }[] = [];
  const texts: { x: number; y: number; text: string }[] = [];
  const plane = H * W;
  let nonFinite = 0;
  tiles.forEach((t, k) => {
    const data = t.data;
    const ox = (k % cols) * (tileW + GRID_GAP);
    const oy = Math.floor(k / cols) * (LABEL_HEIGHT + tileH + GRID_GAP) + LABEL_HEIGHT;
    texts.push({ x: ox + tileW / 2, y: oy - 4, text: t.label });
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

  const position = pixelRect(width, height);
  const subtitle = nonFinite > 0 ? [...notes, `${nonFinite} non-finite pixel(s) in magenta`] : [...notes];
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: { text: title, subtitle },
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
        encoding: { x: pixelAxis('x', width), y: pixelAxis('y', height), text: { field: 'text' } },
      },
    ],
  };
}
