import { describe, expect, it } from 'vitest';
import { compilesCleanly } from './vega.js';
import { striateError } from '../helpers.js';
import { featureMapGridSpec, imageGridSpec } from '../../src/viz/feature-maps.js';

type Run = { x0: number; x1: number; y0: number; y1: number; rgb: string };
type Label = { x: number; y: number; text: string };
type Layer = { data: { values: (Run | Label)[] }; mark: { type: string; filled?: boolean } };
const layers = (spec: Record<string, unknown>) => spec.layer as Layer[];
const runs = (spec: Record<string, unknown>) => layers(spec)[0].data.values as Run[];
const labels = (spec: Record<string, unknown>) => (layers(spec).find((l) => l.mark.type === 'text')?.data.values ?? []) as Label[];
/** The colour of chart pixel (x, y): the run that covers it. */
const colourAt = (spec: Record<string, unknown>, x: number, y: number) => runs(spec).find((r) => r.x0 <= x && x < r.x1 && r.y0 <= y && y < r.y1)?.rgb;

describe('imageGridSpec', () => {
  it('lays tiles out in pixels: columns, cell size, gaps and label rows', () => {
    const tile = { data: new Float32Array(12), shape: [3, 4] };
    // 5 tiles, 2 to a row → 3 rows; each slot 4 × 3 pixels at 5 chart pixels, 10-pixel gaps, no labels.
    const spec = imageGridSpec([tile, tile, tile, tile, tile], { columns: 2, cellSize: 5 });
    expect(spec.width).toBe(2 * 20 + 10);
    expect(spec.height).toBe(3 * 15 + 2 * 10);
    // With a label the rows grow by the label's height (16).
    const labelled = imageGridSpec([{ ...tile, label: 'a' }, tile], { cellSize: 5 });
    expect([labelled.width, labelled.height]).toEqual([2 * 20 + 10, 16 + 15]);
    expect(labels(labelled)).toEqual([{ x: 10, y: 12, text: 'a' }]);
    // A null leaves its slot empty; a tile with its own cell size sets the slot size.
    const mixed = imageGridSpec([null, { ...tile, cellSize: 10 }], { cellSize: 5 });
    expect(mixed.width).toBe(2 * 40 + 10);
    expect(Math.min(...runs(mixed).map((r) => r.x0))).toBe(50);
    compilesCleanly(spec);
  });

  it('draws one channel grey and three as RGB', () => {
    // Grey: 0 black, 2 white, 1 mid-grey (0x80), over the tile's own range.
    const grey = imageGridSpec([{ data: [0, 1, 2, 2], shape: [2, 2] }], { cellSize: 1 });
    expect([colourAt(grey, 0, 0), colourAt(grey, 1, 0), colourAt(grey, 0, 1)]).toEqual(['#000000', '#808080', '#ffffff']);
    // Equal neighbours share one run: the bottom row is one rect of width 2.
    expect(runs(grey).filter((r) => r.y0 === 1)).toHaveLength(1);
    // RGB [3, 1, 2]: pixel 0 = (r, g, b) = (1, 0, 0), pixel 1 = (0, 1, 1), on the range [0, 1].
    const rgb = imageGridSpec([{ data: [1, 0, 0, 1, 0, 1], shape: [3, 1, 2], range: [0, 1] }], { cellSize: 1 });
    expect([colourAt(rgb, 0, 0), colourAt(rgb, 1, 0)]).toEqual(['#ff0000', '#00ffff']);
    // [1, h, w] is grey, as [h, w].
    expect(runs(imageGridSpec([{ data: [0, 1], shape: [1, 1, 2] }], { cellSize: 1 })).map((r) => r.rgb)).toEqual(['#000000', '#ffffff']);
  });

  it('draws signed maps diverging about zero and magnitudes as heat, and non-finite values in magenta', () => {
    const div = imageGridSpec([{ data: [-2, 0, 1], shape: [1, 3], colour: 'diverging' }], { cellSize: 1 });
    const [neg, zero, pos] = [0, 1, 2].map((x) => colourAt(div, x, 0)!);
    expect(zero).toBe('#ffffff');
    // Red end for −2 = −max|v|, halfway to blue for 1.
    expect(neg).toBe('#66001f');
    expect(parseInt(pos.slice(5, 7), 16)).toBeGreaterThan(parseInt(pos.slice(1, 3), 16));
    const heat = imageGridSpec([{ data: [0, 4, Number.NaN], shape: [1, 3], colour: 'heat' }], { cellSize: 1 });
    expect([colourAt(heat, 0, 0), colourAt(heat, 1, 0), colourAt(heat, 2, 0)]).toEqual(['#ffffff', '#80000d', '#ff00ff']);
    expect(JSON.stringify(heat.title)).toContain('1 non-finite value(s) in magenta');
  });

  it('refuses bad tiles and options', () => {
    const message = (f: () => unknown): string => striateError(f).message;
    expect(message(() => imageGridSpec([{ data: [1, 2, 3], shape: [2, 2] }]))).toBe('imageGridSpec: tile 0 of shape [2, 2] needs 4 values, got 3 values');
    expect(message(() => imageGridSpec([{ data: new Float32Array(8), shape: [2, 2, 2] }]))).toMatch(/tile 0 must be shaped \[h, w\], \[1, h, w\] or \[3, h, w\]/);
    expect(message(() => imageGridSpec([{ data: new Float32Array(12), shape: [3, 2, 2], colour: 'heat' }]))).toMatch(/3 channels, drawn as RGB on the grey scale only/);
    expect(message(() => imageGridSpec([{ data: [1], shape: [1, 1], range: [1, 0] }]))).toMatch(/range must be \[lo, hi\], finite, lo < hi/);
    expect(message(() => imageGridSpec([null]))).toMatch(/there is no tile to draw/);
    expect(message(() => imageGridSpec([{ data: [1], shape: [1, 1] }], { columns: 0 }))).toMatch(/columns must be an integer >= 1, got 0/);
  });
});

describe('featureMapGridSpec', () => {
  const N = 2;
  const C = 3;
  const maps = { shape: [N, C, 4, 4], data: Float32Array.from({ length: N * C * 16 }, (_, i) => i % 7) };

  it('draws one row per example: its input, then one tile per channel, on one scale for the layer', () => {
    const inputs = Float32Array.from({ length: N * 64 }, (_, i) => (i % 64) / 64);
    const spec = featureMapGridSpec(maps, { inputs, inputShape: [1, 8, 8], labels: ['a', 'b'], cellSize: 4 });
    const text = labels(spec).map((l) => l.text);
    expect(text).toEqual(['a', 'ch 0', 'ch 1', 'ch 2', 'b', 'ch 0', 'ch 1', 'ch 2']);
    // Slots of 16 chart pixels (4 × 4 maps at 4; the 8 × 8 inputs at 2), 4 to a row, 10 apart.
    expect(spec.width).toBe(4 * 16 + 3 * 10);
    expect(spec.height).toBe(2 * (16 + 16) + 10);
    // Values 0 … 6 everywhere ≥ 0: grey from 0 (black) to 6 (white), the same in every tile.
    const first = runs(spec).filter((r) => r.x0 >= 26 && r.x0 < 42 && r.y0 < 32);
    expect(new Set(first.map((r) => r.rgb)).has('#000000')).toBe(true);
    expect(JSON.stringify(spec.title)).toContain('one scale for all maps (0.00 to 6.00)');
    compilesCleanly(spec);
  });

  it('wraps wide layers, draws signed maps diverging, and lays a dense layer out as a near-square tile', () => {
    const wide = featureMapGridSpec({ shape: [1, 5, 2, 2], data: Float32Array.from({ length: 20 }, (_, i) => i - 10) }, { columns: 2, cellSize: 3 });
    // 5 channels, 2 to a line → 3 lines for the one example; negative values → diverging.
    expect(labels(wide).map((l) => l.text)).toEqual(['#1 ch 0', '#1 ch 1', '#1 ch 2', '#1 ch 3', '#1 ch 4']);
    expect(wide.height).toBe(3 * (16 + 6) + 2 * 10);
    expect(JSON.stringify(wide.title)).toContain('red negative, white 0, blue positive');
    // 84 units → 7 × 12.
    const dense = featureMapGridSpec({ shape: [1, 84], data: new Float32Array(84).fill(1) }, { cellSize: 2 });
    expect([dense.width, dense.height]).toEqual([24, 16 + 14]);
    expect(labels(dense)[0].text).toBe('#1: 84 units');
  });

  it('refuses maps that are not feature maps or units, and inputs that do not match', () => {
    expect(() => featureMapGridSpec({ shape: [1, 2, 3], data: new Float32Array(6) })).toThrow(/must be shaped \[N, C, h, w\] \(feature maps\) or \[N, units\]/);
    expect(() => featureMapGridSpec({ shape: [1, 2], data: new Float32Array(3) })).toThrow(/need 2 values but hold 3/);
    expect(() => featureMapGridSpec(maps, { inputs: new Float32Array(10), inputShape: [1, 8, 8] })).toThrow(/inputs must hold the 2 input images of the maps \(2 × 64 values\)/);
    expect(() => featureMapGridSpec(maps, { inputs: new Float32Array(128), inputShape: [2, 8, 4] })).toThrow(/inputShape must be \[C, H, W\] with 1 or 3 channels/);
    expect(() => featureMapGridSpec(maps, { labels: ['only one'] })).toThrow(/labels must be 2 strings/);
    expect(() => featureMapGridSpec(maps, { scale: 'global' as never })).toThrow(/scale must be 'layer' or 'channel'/);
  });
});
