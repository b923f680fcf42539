/**
 * A grid of images as a Vega-Lite chart: the layout, the pixels as runs of
 * equal colour (one rect per run, so a 28×28 digit is a few hundred marks,
 * not 784), a frame round each tile and its label above it. `tileGridSpec`
 * draws tiles that say how to colour each pixel; it is what every chart of
 * images draws with (`imageGridSpec` in feature-maps.ts, and through
 * `labelledImageGrid` augment-grid.ts and maximise-grid.ts, which choose
 * their tiles, labels, colour scale and notes).
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

/** A tile of `tileGridSpec`: its size, its pixels' colours and its label. */
export interface ColouredTile {
  /** Height and width in image pixels. */
  readonly h: number;
  readonly w: number;
  /** Chart pixels per image pixel. */
  readonly cell: number;
  /** Text above the tile (none: no label). */
  readonly label?: string;
  /** The colour of pixel (y, x), `#rrggbb`, or `NON_FINITE` for a value that is not finite. */
  readonly colourAt: (y: number, x: number) => string;
}

/** Title, notes and wording of `tileGridSpec`. */
export interface TileGridText {
  readonly title: string;
  /** Lines under the title. */
  readonly notes: readonly string[];
  /** What non-finite pixels are called in the note added when there are any ("pixel(s)"). */
  readonly nonFinite: string;
  /** What to say when the grid is too large ("use a smaller cellSize or other columns"). */
  readonly tooLarge: string;
  /** Keep an empty list of notes as an empty subtitle (default false: no subtitle). */
  readonly alwaysSubtitle?: boolean;
}

/**
 * The chart of `tiles`, `columns` to a row, a `null` leaving its slot empty;
 * slots are as large as the largest tile, and a row of labels sits above
 * each row of tiles when any tile has a label. Runs carry their tile's index
 * (`tile`). `who` names the caller in errors.
 */
export function tileGridSpec(who: string, tiles: readonly (ColouredTile | null)[], columns: number, text: TileGridText): ChartSpec {
  const real = tiles.filter((t): t is ColouredTile => t !== null);
  const slotH = Math.max(...real.map((t) => t.h * t.cell));
  const slotW = Math.max(...real.map((t) => t.w * t.cell));
  const cols = Math.min(columns, tiles.length);
  const rows = Math.ceil(tiles.length / cols);
  const top = real.some((t) => t.label !== undefined) ? LABEL_HEIGHT : 0;
  const width = cols * slotW + (cols - 1) * GRID_GAP;
  const height = rows * (top + slotH) + (rows - 1) * GRID_GAP;
  if (width > MAX_CHART_SIDE || height > MAX_CHART_SIDE) {
    fail(
      who,
      `the grid would be ${width} × ${height} pixels, more than the ${MAX_CHART_SIDE} a chart can have; ${text.tooLarge}`,
      `${width} × ${height} pixels`,
      `at most ${MAX_CHART_SIDE} × ${MAX_CHART_SIDE}`,
    );
  }
  const runs: { tile: number; x0: number; x1: number; y0: number; y1: number; rgb: string }[] = [];
  const frames: { x0: number; x1: number; y0: number; y1: number }[] = [];
  const labels: { x: number; y: number; text: string }[] = [];
  let nonFinite = 0;
  tiles.forEach((t, k) => {
    if (t === null) return;
    const { cell } = t;
    const ox = (k % cols) * (slotW + GRID_GAP);
    const oy = Math.floor(k / cols) * (top + slotH + GRID_GAP) + top;
    if (t.label !== undefined) labels.push({ x: ox + (t.w * cell) / 2, y: oy - 4, text: t.label });
    frames.push({ x0: ox - 0.5, x1: ox + t.w * cell + 0.5, y0: oy - 0.5, y1: oy + t.h * cell + 0.5 });
    for (let y = 0; y < t.h; y++) {
      let start = 0;
      let colour = '';
      for (let x = 0; x <= t.w; x++) {
        const c = x < t.w ? t.colourAt(y, x) : '';
        if (c === NON_FINITE) nonFinite++;
        if (x > 0 && c !== colour) {
          runs.push({ tile: k, x0: ox + start * cell, x1: ox + x * cell, y0: oy + y * cell, y1: oy + (y + 1) * cell, rgb: colour });
          start = x;
        }
        colour = c;
      }
    }
  });
  const position = pixelRect(width, height);
  const notes = nonFinite > 0 ? [...text.notes, `${nonFinite} non-finite ${text.nonFinite} in magenta`] : [...text.notes];
  const layer: Record<string, unknown>[] = [
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
  ];
  if (labels.length > 0) {
    layer.push({
      data: { values: labels },
      mark: { type: 'text', baseline: 'alphabetic', align: 'center', fontSize: 11, color: '#333' },
      encoding: { x: pixelAxis('x', width), y: pixelAxis('y', height), text: { field: 'text' } },
    });
  }
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: notes.length || text.alwaysSubtitle ? { text: text.title, subtitle: notes } : { text: text.title },
    config: chartConfig(),
    width,
    height,
    layer,
  };
}

/**
 * The chart of `tiles` laid out by `layout`, titled `title` with `notes`
 * under it (a note on non-finite pixels, drawn magenta, is added when there
 * are any). `who` names the caller in errors.
 */
export function labelledImageGrid(who: string, tiles: readonly GridTile[], layout: ImageGridLayout, title: string, notes: readonly string[]): ChartSpec {
  const { C, H, W, cell, lo, hi } = layout;
  const level = (v: number): string => hexByte((v - lo) / (hi - lo));
  const plane = H * W;
  const coloured = tiles.map(
    (t): ColouredTile => ({
      h: H,
      w: W,
      cell,
      label: t.label,
      colourAt: (y, x) => {
        const vs = C === 1 ? [t.data[y * W + x]] : [0, 1, 2].map((ch) => t.data[ch * plane + y * W + x]);
        return vs.every(Number.isFinite) ? `#${C === 1 ? level(vs[0]).repeat(3) : vs.map(level).join('')}` : NON_FINITE;
      },
    }),
  );
  return tileGridSpec(who, coloured, layout.columns, { title, notes, nonFinite: 'pixel(s)', tooLarge: layout.tooLarge, alwaysSubtitle: true });
}
