/**
 * Small raster visualisations for training runs: a grid of convolution
 * filters and line charts of loss/accuracy, plus PNG output.
 *
 * Everything except `encodePng`/`writePng` is plain array code, so images can
 * also be drawn into a browser canvas (`new ImageData(img.data, img.width)`).
 * We rasterise by hand (Bresenham lines, a 3×5 bitmap font) instead of
 * pulling in a canvas implementation: the charts need nothing fancier, and
 * native canvas packages are a heavy, platform-specific install.
 */
import { writeFile } from 'node:fs/promises';
import { PNG } from 'pngjs';

/** An 8-bit RGBA image, rows top to bottom, 4 bytes per pixel. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

/** '#rgb', '#rrggbb', '#rrggbbaa', or [r, g, b] / [r, g, b, a] with components 0..255. */
export type Color = string | readonly [number, number, number] | readonly [number, number, number, number];

type Rgba = [number, number, number, number];

/** Painted where a weight is NaN or ±Infinity, so a diverged layer is obvious at a glance. */
const NON_FINITE: Rgba = [255, 0, 255, 255];

const PALETTE: readonly string[] = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

export function parseColor(c: Color): Rgba {
  if (typeof c === 'string') {
    const m = /^#([0-9a-f]{3}|[0-9a-f]{6}|[0-9a-f]{8})$/i.exec(c);
    if (!m) throw new Error(`parseColor: cannot read colour ${JSON.stringify(c)}; use '#rgb', '#rrggbb' or [r, g, b]`);
    let h = m[1];
    if (h.length === 3) h = h.replace(/./g, (x) => x + x);
    const n = (i: number): number => parseInt(h.slice(2 * i, 2 * i + 2), 16);
    return [n(0), n(1), n(2), h.length === 8 ? n(3) : 255];
  }
  if (
    Array.isArray(c) &&
    (c.length === 3 || c.length === 4) &&
    c.every((v) => Number.isInteger(v) && v >= 0 && v <= 255)
  ) {
    return [c[0], c[1], c[2], c.length === 4 ? c[3] : 255];
  }
  throw new Error(`parseColor: cannot read colour ${JSON.stringify(c)}; components must be integers 0..255`);
}

/** A new image filled with one colour. */
export function createImage(width: number, height: number, fill: Color = [0, 0, 0, 0]): RgbaImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`createImage: width and height must be positive integers, got ${width}×${height}`);
  }
  const data = new Uint8ClampedArray(width * height * 4);
  const [r, g, b, a] = parseColor(fill);
  for (let i = 0; i < data.length; i += 4) {
    data[i] = r;
    data[i + 1] = g;
    data[i + 2] = b;
    data[i + 3] = a;
  }
  return { width, height, data };
}

/** RGBA of the pixel at (x, y); handy in tests. */
export function getPixel(img: RgbaImage, x: number, y: number): Rgba {
  const i = (y * img.width + x) * 4;
  return [img.data[i], img.data[i + 1], img.data[i + 2], img.data[i + 3]];
}

function setPixel(img: RgbaImage, x: number, y: number, c: Rgba): void {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  const i = (y * img.width + x) * 4;
  img.data[i] = c[0];
  img.data[i + 1] = c[1];
  img.data[i + 2] = c[2];
  img.data[i + 3] = c[3];
}

function fillRect(img: RgbaImage, x: number, y: number, w: number, h: number, c: Rgba): void {
  for (let yy = y; yy < y + h; yy++) for (let xx = x; xx < x + w; xx++) setPixel(img, xx, yy, c);
}

// ---------------------------------------------------------------------------
// Filter grid

export interface FilterGridOptions {
  /** Each weight becomes a scale × scale block of pixels (default 4). */
  scale?: number;
  /** Pixels between filters and around the border (default 2). */
  padding?: number;
  /** Filters per row (default ceil(sqrt(O)), a roughly square grid). */
  columns?: number;
  /** Colour of the padding (default dark blue-grey, distinct from any grey weight). */
  background?: Color;
}

function checkNonNegInt(who: string, name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new Error(`${who}: ${name} must be an integer ≥ ${min}, got ${String(v)}`);
}

/**
 * Render conv weights of shape [O, I, kH, kW] as a grid of O tiles.
 *
 * Each filter is normalised to its own min..max (min black, max white),
 * because filters in one layer differ in scale and a shared range would
 * leave most of them flat grey. A constant filter is drawn mid-grey. With
 * I === 3 the three input channels are shown as RGB (normalised jointly, so
 * colour balance is kept); otherwise only input channel 0 is shown, in grey.
 * Non-finite weights are painted magenta.
 */
export function filterGrid(weights: Float32Array, shape: readonly number[], options: FilterGridOptions = {}): RgbaImage {
  const who = 'filterGrid';
  if (shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new Error(`${who}: shape must be [O, I, kH, kW] with positive integers, got [${shape.join(', ')}]`);
  }
  const [O, I, kH, kW] = shape;
  if (weights.length !== O * I * kH * kW) {
    throw new Error(
      `${who}: shape [${shape.join(', ')}] needs ${O * I * kH * kW} weights but got ${weights.length}`,
    );
  }
  const scale = options.scale ?? 4;
  const padding = options.padding ?? 2;
  const columns = options.columns ?? Math.ceil(Math.sqrt(O));
  checkNonNegInt(who, 'scale', scale, 1);
  checkNonNegInt(who, 'padding', padding, 0);
  checkNonNegInt(who, 'columns', columns, 1);
  const rows = Math.ceil(O / columns);
  const tileW = kW * scale;
  const tileH = kH * scale;
  const img = createImage(
    columns * tileW + (columns + 1) * padding,
    rows * tileH + (rows + 1) * padding,
    options.background ?? [40, 44, 60, 255],
  );

  const rgb = I === 3;
  const shown = rgb ? 3 : 1;
  const plane = kH * kW;
  for (let o = 0; o < O; o++) {
    const base = o * I * plane;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = base; i < base + shown * plane; i++) {
      const v = weights[i];
      if (Number.isFinite(v)) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    const range = hi - lo;
    const toByte = (v: number): number => (range > 0 ? Math.round(((v - lo) / range) * 255) : 128);
    const ox = padding + (o % columns) * (tileW + padding);
    const oy = padding + Math.floor(o / columns) * (tileH + padding);
    for (let y = 0; y < kH; y++) {
      for (let x = 0; x < kW; x++) {
        const at = base + y * kW + x;
        let c: Rgba;
        if (rgb) {
          const r = weights[at];
          const g = weights[at + plane];
          const b = weights[at + 2 * plane];
          c = Number.isFinite(r) && Number.isFinite(g) && Number.isFinite(b) ? [toByte(r), toByte(g), toByte(b), 255] : NON_FINITE;
        } else {
          const v = weights[at];
          const k = toByte(v);
          c = Number.isFinite(v) ? [k, k, k, 255] : NON_FINITE;
        }
        fillRect(img, ox + x * scale, oy + y * scale, scale, scale, c);
      }
    }
  }
  return img;
}

// ---------------------------------------------------------------------------
// Bitmap font: 3×5 glyphs, each row 3 bits, most significant bit on the left.

const GLYPH_W = 3;
const GLYPH_H = 5;
// prettier-ignore
const FONT: Record<string, readonly number[]> = {
  '0': [7, 5, 5, 5, 7], '1': [2, 6, 2, 2, 7], '2': [7, 1, 7, 4, 7], '3': [7, 1, 7, 1, 7],
  '4': [5, 5, 7, 1, 1], '5': [7, 4, 7, 1, 7], '6': [7, 4, 7, 5, 7], '7': [7, 1, 1, 2, 2],
  '8': [7, 5, 7, 5, 7], '9': [7, 5, 7, 1, 7],
  A: [2, 5, 7, 5, 5], B: [6, 5, 6, 5, 6], C: [3, 4, 4, 4, 3], D: [6, 5, 5, 5, 6],
  E: [7, 4, 6, 4, 7], F: [7, 4, 6, 4, 4], G: [3, 4, 5, 5, 3], H: [5, 5, 7, 5, 5],
  I: [7, 2, 2, 2, 7], J: [1, 1, 1, 5, 2], K: [5, 5, 6, 5, 5], L: [4, 4, 4, 4, 7],
  M: [5, 7, 7, 5, 5], N: [6, 5, 5, 5, 5], O: [2, 5, 5, 5, 2], P: [6, 5, 6, 4, 4],
  Q: [2, 5, 5, 6, 3], R: [6, 5, 6, 5, 5], S: [3, 4, 2, 1, 6], T: [7, 2, 2, 2, 2],
  U: [5, 5, 5, 5, 7], V: [5, 5, 5, 5, 2], W: [5, 5, 7, 7, 5], X: [5, 5, 2, 5, 5],
  Y: [5, 5, 2, 2, 2], Z: [7, 1, 2, 4, 7],
  ' ': [0, 0, 0, 0, 0], '.': [0, 0, 0, 0, 2], ',': [0, 0, 0, 2, 4], '-': [0, 0, 7, 0, 0],
  '+': [0, 2, 7, 2, 0], ':': [0, 2, 0, 2, 0], '/': [1, 1, 2, 4, 4], '%': [5, 1, 2, 4, 5],
  '(': [2, 4, 4, 4, 2], ')': [2, 1, 1, 1, 2], '_': [0, 0, 0, 0, 7], '=': [0, 7, 0, 7, 0],
  '?': [7, 1, 2, 0, 2], '[': [6, 4, 4, 4, 6], ']': [3, 1, 1, 1, 3], '*': [0, 5, 2, 5, 0],
};

/** Width in pixels of `text` drawn at `scale` (one blank column between glyphs). */
export function textWidth(text: string, scale: number): number {
  return text.length === 0 ? 0 : (text.length * (GLYPH_W + 1) - 1) * scale;
}

/** Draw `text` with its top-left corner at (x, y). Lower case is drawn as upper case; unknown characters as '?'. */
export function drawText(img: RgbaImage, text: string, x: number, y: number, color: Color, scale = 1): void {
  const c = parseColor(color);
  let cx = x;
  for (const ch of text.toUpperCase()) {
    const g = FONT[ch] ?? FONT['?'];
    for (let row = 0; row < GLYPH_H; row++) {
      for (let col = 0; col < GLYPH_W; col++) {
        if (g[row] & (1 << (GLYPH_W - 1 - col))) fillRect(img, cx + col * scale, y + row * scale, scale, scale, c);
      }
    }
    cx += (GLYPH_W + 1) * scale;
  }
}

// ---------------------------------------------------------------------------
// Line chart

export interface Series {
  name: string;
  /** One value per step; NaN or ±Infinity leave a gap. */
  values: readonly number[];
  /** Line colour (default: from a built-in palette, by position). */
  color?: Color;
}

export interface LineChartOptions {
  width?: number;
  height?: number;
  title?: string;
  /** Fixed y range, e.g. [0, 1] for accuracy; by default fitted to the data and rounded to nice ticks. */
  yRange?: readonly [number, number];
  /** Line thickness in pixels (default 1). */
  lineWidth?: number;
  /** Draw a legend with the series names (default true when there is more than one series). */
  legend?: boolean;
}

/** The plot area of a chart in pixel coordinates (inclusive), and the data ranges mapped onto it. */
export interface ChartLayout {
  left: number;
  top: number;
  right: number;
  bottom: number;
  xMax: number;
  yMin: number;
  yMax: number;
}

const WHITE: Rgba = [255, 255, 255, 255];
const BLACK: Rgba = [0, 0, 0, 255];
const GRID: Rgba = [225, 225, 225, 255];
const TEXT: Rgba = [40, 40, 40, 255];

/** A "nice" step (1, 2 or 5 × 10^k) giving about `target` intervals over `range`. */
function niceStep(range: number, target: number): number {
  const raw = range / target;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

function ticks(lo: number, hi: number, step: number): number[] {
  const out: number[] = [];
  // Work in integer multiples of step so 0.1 + 0.2 style drift cannot add or drop a tick.
  const first = Math.ceil(lo / step - 1e-9);
  const last = Math.floor(hi / step + 1e-9);
  for (let k = first; k <= last; k++) out.push(k * step);
  return out;
}

function formatTick(v: number, step: number): string {
  if (v === 0) return '0';
  if (Math.abs(v) >= 1e6 || Math.abs(v) < 1e-4) return v.toExponential(1);
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return v.toFixed(decimals);
}

/**
 * Compute where `lineChart` puts the plot area and which data ranges it
 * shows; exported so tests and overlays can map data to pixels.
 */
export function chartLayout(series: readonly Series[], options: LineChartOptions = {}): ChartLayout & { yTicks: number[]; yStep: number; textScale: number } {
  const width = options.width ?? 640;
  const height = options.height ?? 400;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 80 || height < 60) {
    throw new Error(`lineChart: width and height must be integers of at least 80×60 pixels, got ${width}×${height}`);
  }
  const textScale = Math.min(width, height) >= 300 ? 2 : 1;

  let n = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of series) {
    n = Math.max(n, s.values.length);
    for (const v of s.values) {
      if (Number.isFinite(v)) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
  }
  let yMin: number;
  let yMax: number;
  let yStep: number;
  if (options.yRange) {
    [yMin, yMax] = options.yRange;
    if (!Number.isFinite(yMin) || !Number.isFinite(yMax) || !(yMax > yMin)) {
      throw new Error(`lineChart: yRange must be two finite numbers [min, max] with min < max, got [${yMin}, ${yMax}]`);
    }
    yStep = niceStep(yMax - yMin, 5);
  } else {
    if (lo > hi) {
      lo = 0; // no finite data: draw empty axes over [0, 1]
      hi = 1;
    } else if (lo === hi) {
      // A flat series still needs a non-empty range to be drawn in the middle.
      const d = lo === 0 ? 1 : Math.abs(lo) * 0.1;
      lo -= d;
      hi += d;
    }
    yStep = niceStep(hi - lo, 5);
    yMin = Math.floor(lo / yStep + 1e-9) * yStep;
    yMax = Math.ceil(hi / yStep - 1e-9) * yStep;
  }
  const yTicks = ticks(yMin, yMax, yStep);
  const labelW = Math.max(0, ...yTicks.map((t) => textWidth(formatTick(t, yStep), textScale)));
  const pad = 6 * textScale;
  const tickLen = 4 * textScale;
  const glyphH = GLYPH_H * textScale;
  const titleH = options.title ? GLYPH_H * (textScale + 1) + pad : 0;
  return {
    left: pad + labelW + textScale + tickLen,
    top: pad + titleH + Math.ceil(glyphH / 2),
    right: width - 1 - pad - textWidth('0', textScale),
    bottom: height - 1 - pad - glyphH - tickLen,
    xMax: Math.max(0, n - 1),
    yMin,
    yMax,
    yTicks,
    yStep,
    textScale,
  };
}

/** Bresenham's line, stamping a square brush of side `w`, clipped to `clip`. */
function drawLine(img: RgbaImage, x0: number, y0: number, x1: number, y1: number, c: Rgba, w: number, clip: ChartLayout): void {
  const dx = Math.abs(x1 - x0);
  const dy = -Math.abs(y1 - y0);
  const sx = x0 < x1 ? 1 : -1;
  const sy = y0 < y1 ? 1 : -1;
  let err = dx + dy;
  const off = Math.floor((w - 1) / 2);
  for (;;) {
    for (let by = 0; by < w; by++) {
      for (let bx = 0; bx < w; bx++) {
        const px = x0 - off + bx;
        const py = y0 - off + by;
        if (px >= clip.left && px <= clip.right && py >= clip.top && py <= clip.bottom) setPixel(img, px, py, c);
      }
    }
    if (x0 === x1 && y0 === y1) break;
    const e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x0 += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y0 += sy;
    }
  }
}

/**
 * Draw series as lines over step index (x = 0 .. longest length − 1), with
 * axes, tick marks and labels, light horizontal grid lines, an optional
 * title and a legend. Values outside a fixed `yRange` are clipped.
 */
export function lineChart(series: readonly Series[], options: LineChartOptions = {}): RgbaImage {
  const L = chartLayout(series, options);
  const width = options.width ?? 640;
  const height = options.height ?? 400;
  const lineWidth = options.lineWidth ?? 1;
  checkNonNegInt('lineChart', 'lineWidth', lineWidth, 1);
  const ts = L.textScale;
  const img = createImage(width, height, WHITE);
  const colors = series.map((s, i) => parseColor(s.color ?? PALETTE[i % PALETTE.length]));

  const xPix = (i: number): number =>
    L.xMax === 0 ? Math.round((L.left + L.right) / 2) : Math.round(L.left + (i / L.xMax) * (L.right - L.left));
  const yPix = (v: number): number => Math.round(L.bottom - ((v - L.yMin) / (L.yMax - L.yMin)) * (L.bottom - L.top));
  const tickLen = 4 * ts;
  const glyphH = GLYPH_H * ts;

  // Grid and y ticks.
  for (const t of L.yTicks) {
    const y = yPix(t);
    for (let x = L.left + 1; x <= L.right; x++) setPixel(img, x, y, GRID);
    fillRect(img, L.left - tickLen, y, tickLen, 1, BLACK);
    const label = formatTick(t, L.yStep);
    drawText(img, label, L.left - tickLen - ts - textWidth(label, ts), y - Math.floor(glyphH / 2), TEXT, ts);
  }
  // X ticks: whole steps only.
  const xStep = Math.max(1, niceStep(Math.max(L.xMax, 1), Math.max(2, Math.floor((L.right - L.left) / (40 * ts)))));
  for (const t of ticks(0, L.xMax, Math.round(xStep))) {
    const x = xPix(t);
    fillRect(img, x, L.bottom + 1, 1, tickLen, BLACK);
    const label = String(t);
    drawText(img, label, x - Math.floor(textWidth(label, ts) / 2), L.bottom + tickLen + 2 * ts, TEXT, ts);
  }
  // Axes on top of the grid.
  fillRect(img, L.left, L.top, 1, L.bottom - L.top + 1, BLACK);
  fillRect(img, L.left, L.bottom, L.right - L.left + 1, 1, BLACK);
  if (options.title) {
    const s = ts + 1;
    drawText(img, options.title, Math.floor((width - textWidth(options.title, s)) / 2), 6 * ts, TEXT, s);
  }

  // The data, drawn over the axes: a value at yMin or step 0 lies on an axis
  // and would otherwise be invisible. Clipped to the plot area for yRange.
  const clip = L;
  series.forEach((s, k) => {
    let prev: [number, number] | null = null;
    s.values.forEach((v, i) => {
      if (!Number.isFinite(v)) {
        prev = null;
        return;
      }
      const p: [number, number] = [xPix(i), yPix(v)];
      drawLine(img, prev ? prev[0] : p[0], prev ? prev[1] : p[1], p[0], p[1], colors[k], lineWidth, clip);
      prev = p;
    });
  });

  // Legend, top right inside the plot area.
  if (options.legend ?? series.length > 1) {
    const rowH = glyphH + 3 * ts;
    const swatch = 10 * ts;
    const textW = Math.max(0, ...series.map((s) => textWidth(s.name, ts)));
    const boxW = swatch + 3 * ts + textW + 4 * ts;
    const boxH = series.length * rowH + 2 * ts;
    const bx = L.right - boxW - 2 * ts;
    const by = L.top + 2 * ts;
    fillRect(img, bx, by, boxW, boxH, WHITE);
    series.forEach((s, k) => {
      const y = by + 2 * ts + k * rowH;
      fillRect(img, bx + 2 * ts, y + Math.floor(glyphH / 2), swatch, Math.max(lineWidth, ts), colors[k]);
      drawText(img, s.name, bx + 2 * ts + swatch + 3 * ts, y, TEXT, ts);
    });
  }
  return img;
}

// ---------------------------------------------------------------------------
// PNG output (Node)

/** Encode an RGBA image as PNG bytes. */
export function encodePng(image: RgbaImage): Buffer {
  const { width, height, data } = image;
  if (data.length !== width * height * 4) {
    throw new Error(`encodePng: a ${width}×${height} RGBA image needs ${width * height * 4} bytes but has ${data.length}`);
  }
  const png = new PNG({ width, height });
  png.data.set(data);
  return PNG.sync.write(png);
}

/** Write an RGBA image to `path` as a PNG file. */
export async function writePng(path: string, image: RgbaImage): Promise<void> {
  await writeFile(path, encodePng(image));
}
