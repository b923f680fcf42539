import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chartLayout,
  createImage,
  encodePng,
  filterGrid,
  getPixel,
  lineChart,
  parseColor,
  writePng,
  type RgbaImage,
} from '../../src/viz/png.js';

function decode(bytes: Buffer): RgbaImage {
  const png = PNG.sync.read(bytes);
  return { width: png.width, height: png.height, data: new Uint8ClampedArray(png.data) };
}

describe('filterGrid', () => {
  it('normalises each filter to its own range and lays tiles out on a grid', () => {
    // Two 2×2 single-channel filters with very different scales; each should span black..white.
    const w = Float32Array.from([0, 1, 2, 3, -100, 100, 0, 50]);
    const img = filterGrid(w, [2, 1, 2, 2], { scale: 2, padding: 1, background: [9, 8, 7] });
    // columns = ceil(sqrt(2)) = 2: width 2*4 + 3*1, height 4 + 2.
    expect([img.width, img.height]).toEqual([11, 6]);
    expect(getPixel(img, 0, 0)).toEqual([9, 8, 7, 255]); // padding
    // Filter 0 at x 1..4, y 1..4, each weight a 2×2 block.
    expect(getPixel(img, 1, 1)).toEqual([0, 0, 0, 255]);
    expect(getPixel(img, 4, 2)).toEqual([85, 85, 85, 255]);
    expect(getPixel(img, 1, 3)).toEqual([170, 170, 170, 255]);
    expect(getPixel(img, 4, 4)).toEqual([255, 255, 255, 255]);
    expect(getPixel(img, 5, 1)).toEqual([9, 8, 7, 255]); // padding between tiles
    // Filter 1 at x 6..9.
    expect(getPixel(img, 6, 1)).toEqual([0, 0, 0, 255]);
    expect(getPixel(img, 8, 1)).toEqual([255, 255, 255, 255]);
    expect(getPixel(img, 6, 3)).toEqual([128, 128, 128, 255]);
    expect(getPixel(img, 8, 3)).toEqual([191, 191, 191, 255]);
  });

  it('shows 3 input channels as RGB and other counts as channel 0', () => {
    // One 1×1 filter with 3 channels: r = min, g = mid, b = max (joint normalisation).
    const rgb = filterGrid(Float32Array.from([-1, 0, 1]), [1, 3, 1, 1], { scale: 1, padding: 0 });
    expect(getPixel(rgb, 0, 0)).toEqual([0, 128, 255, 255]);
    // Two channels: only channel 0 (values 5, 7) is shown; channel 1 (1000) does not affect the range.
    const two = filterGrid(Float32Array.from([5, 7, 1000, 1000]), [1, 2, 1, 2], { scale: 1, padding: 0 });
    expect(getPixel(two, 0, 0)).toEqual([0, 0, 0, 255]);
    expect(getPixel(two, 1, 0)).toEqual([255, 255, 255, 255]);
  });

  it('draws constant filters mid-grey and non-finite weights magenta', () => {
    const img = filterGrid(Float32Array.from([2, 2, Number.NaN, 2]), [1, 1, 2, 2], { scale: 1, padding: 0 });
    expect(getPixel(img, 0, 0)).toEqual([128, 128, 128, 255]);
    expect(getPixel(img, 0, 1)).toEqual([255, 0, 255, 255]);
  });

  it('validates shape and size', () => {
    expect(() => filterGrid(new Float32Array(5), [1, 1, 2, 2])).toThrow(/needs 4 weights but got 5/);
    expect(() => filterGrid(new Float32Array(4), [2, 2])).toThrow(/shape must be \[O, I, kH, kW\]/);
    expect(() => filterGrid(new Float32Array(4), [1, 1, 2, 2], { scale: 0 })).toThrow(/scale must be an integer ≥ 1/);
  });
});

describe('lineChart', () => {
  const series = [
    { name: 'loss', values: [2.3, 1.2, 0.8, 0.5, 0.4, 0.35, 0.3, 0.28, 0.25, 0.2], color: '#ff0000' },
    { name: 'acc', values: [0.1, 0.5, 0.7, 0.8, 0.85, 0.88, 0.9, 0.91, 0.92, 0.93], color: [0, 0, 255] as const },
  ];

  it('draws axes, ticks and both lines where the layout says', () => {
    const opts = { width: 320, height: 200, title: 'LeNet on MNIST' };
    const img = lineChart(series, opts);
    const L = chartLayout(series, opts);
    expect([img.width, img.height]).toEqual([320, 200]);
    expect(getPixel(img, 0, 0)).toEqual([255, 255, 255, 255]); // background
    // Axes.
    expect(getPixel(img, L.left, Math.round((L.top + L.bottom) / 2))).toEqual([0, 0, 0, 255]);
    expect(getPixel(img, Math.round((L.left + L.right) / 2), L.bottom)).toEqual([0, 0, 0, 255]);
    // The y range was rounded out to nice ticks around the data.
    expect(L.yMin).toBe(0);
    expect(L.yMax).toBeCloseTo(2.5, 10);
    expect(L.xMax).toBe(9);
    // A y tick mark left of the axis at y = yMin.
    expect(getPixel(img, L.left - 2, L.bottom)).toEqual([0, 0, 0, 255]);
    // Each series' last point is drawn at its mapped pixel.
    const yOf = (v: number) => Math.round(L.bottom - ((v - L.yMin) / (L.yMax - L.yMin)) * (L.bottom - L.top));
    expect(getPixel(img, L.right, yOf(0.2))).toEqual([255, 0, 0, 255]);
    expect(getPixel(img, L.right, yOf(0.93))).toEqual([0, 0, 255, 255]);
    // The first loss point is at the left edge, just inside the axis.
    const red = (x: number) => {
      const ys: number[] = [];
      for (let y = 0; y < img.height; y++) if (getPixel(img, x, y).join() === '255,0,0,255') ys.push(y);
      return ys;
    };
    expect(red(L.left + 1).length).toBeGreaterThan(0);
    // Title text was drawn (some dark pixels in the top band).
    let dark = 0;
    for (let y = 0; y < L.top - 6; y++) for (let x = 0; x < img.width; x++) if (getPixel(img, x, y)[0] < 100) dark++;
    expect(dark).toBeGreaterThan(20);
  });

  it('honours a fixed y range, clips outside it and leaves gaps at NaN', () => {
    const s = [{ name: 'acc', values: [0.5, Number.NaN, 0.5, 2], color: '#00ff00' }];
    const opts = { width: 200, height: 120, yRange: [0, 1] as const, legend: false };
    const img = lineChart(s, opts);
    const L = chartLayout(s, opts);
    expect([L.yMin, L.yMax]).toEqual([0, 1]);
    const y = Math.round((L.top + L.bottom) / 2);
    const xOf = (i: number) => Math.round(L.left + (i / 3) * (L.right - L.left));
    expect(getPixel(img, xOf(0), y)).toEqual([0, 255, 0, 255]);
    // No line between point 0 and point 2 across the NaN.
    expect(getPixel(img, xOf(1), y)).not.toEqual([0, 255, 0, 255]);
    // Nothing green above the plot area even though the last value is 2.
    for (let yy = 0; yy < L.top; yy++) for (let x = 0; x < img.width; x++) expect(getPixel(img, x, yy)).not.toEqual([0, 255, 0, 255]);
  });

  it('copes with empty and flat series, and rejects bad options', () => {
    expect(lineChart([], { width: 100, height: 80 }).width).toBe(100);
    const flat = chartLayout([{ name: 'x', values: [3, 3, 3] }], {});
    expect(flat.yMin).toBeLessThan(3);
    expect(flat.yMax).toBeGreaterThan(3);
    expect(() => lineChart(series, { width: 10, height: 10 })).toThrow(/at least 80×60/);
    expect(() => lineChart(series, { yRange: [1, 0] })).toThrow(/min < max/);
    expect(() => parseColor('red')).toThrow(/cannot read colour "red"/);
    expect(parseColor('#0f8')).toEqual([0, 255, 136, 255]);
  });
});

describe('PNG output', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'striate-png-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('encodes an image that decodes back to the same size and pixels', async () => {
    const img = createImage(3, 2, [10, 20, 30, 255]);
    img.data.set([255, 0, 0, 128], (1 * 3 + 2) * 4); // (2, 1): translucent red
    const path = join(dir, 'tiny.png');
    await writePng(path, img);
    const back = decode(await readFile(path));
    expect([back.width, back.height]).toEqual([3, 2]);
    expect(getPixel(back, 0, 0)).toEqual([10, 20, 30, 255]);
    expect(getPixel(back, 2, 1)).toEqual([255, 0, 0, 128]);
    expect(back.data).toEqual(img.data);
  });

  it('round-trips a filter grid and a chart through PNG', async () => {
    const grid = filterGrid(Float32Array.from({ length: 6 * 25 }, (_, i) => Math.sin(i)), [6, 1, 5, 5]);
    const gridBack = decode(encodePng(grid));
    expect([gridBack.width, gridBack.height]).toEqual([grid.width, grid.height]);
    expect(gridBack.data).toEqual(grid.data);
    const chart = lineChart([{ name: 'loss', values: [3, 2, 1.5, 1], color: '#123456' }], { width: 160, height: 100 });
    await writePng(join(dir, 'chart.png'), chart);
    expect(decode(await readFile(join(dir, 'chart.png'))).data).toEqual(chart.data);
  });

  it('rejects an image whose buffer does not match its size', () => {
    expect(() => encodePng({ width: 2, height: 2, data: new Uint8ClampedArray(15) })).toThrow(/needs 16 bytes but has 15/);
  });
});
