import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { compile } from 'vega-lite';
import { renderChart } from 'striate/node';
import { maximiseGridSpec, type MaximiseTile } from '../../src/viz/maximise-grid.js';
import { striateError } from '../helpers.js';

type Run = { tile: number; x0: number; x1: number; y0: number; y1: number; rgb: string };
type Layer = { mark: { type: string }; data: { values: Record<string, unknown>[] } };
const layers = (spec: Record<string, unknown>) => spec.layer as Layer[];
const runsOf = (spec: Record<string, unknown>) => layers(spec)[0].data.values as unknown as Run[];
const labelsOf = (spec: Record<string, unknown>) => layers(spec).find((l) => l.mark.type === 'text')!.data.values.map((v) => v.text);

/** The colour at pixel (x, y) of tile `tile`, read back from the runs. */
function colourAt(runs: readonly Run[], tile: number, x: number, y: number, cell: number): string {
  const mine = runs.filter((r) => r.tile === tile);
  const ox = Math.min(...mine.map((r) => r.x0));
  const oy = Math.min(...mine.map((r) => r.y0));
  const hit = mine.filter((r) => r.y0 === oy + y * cell && r.x0 <= ox + x * cell && ox + x * cell < r.x1);
  expect(hit).toHaveLength(1);
  return hit[0].rgb;
}

const tile = (label: string, f: (i: number) => number): MaximiseTile => ({ label, shape: [1, 4, 3], data: Float32Array.from({ length: 12 }, (_, i) => f(i)) });

describe('maximiseGridSpec', () => {
  it('draws every tile with its label on one grey scale, the least value black and the greatest white', () => {
    const tiles = [tile('class 0', (i) => i / 11), tile('class 1', (i) => (i === 5 ? 2 : 1))];
    const spec = maximiseGridSpec(tiles, { cellSize: 2 });
    expect(labelsOf(spec)).toEqual(['class 0', 'class 1']);
    const runs = runsOf(spec);
    // The shared range is [0, 2]: 1 is mid-grey, 2 white.
    expect(colourAt(runs, 0, 0, 0, 2)).toBe('#000000');
    expect(colourAt(runs, 1, 0, 0, 2)).toBe('#808080');
    expect(colourAt(runs, 1, 2, 1, 2)).toBe('#ffffff');
    for (let t = 0; t < 2; t++) expect(runs.filter((r) => r.tile === t).reduce((a, r) => a + (r.x1 - r.x0) * (r.y1 - r.y0), 0)).toBe(12 * 4);
    // With the data's range given, values beyond it are clamped.
    const fixed = runsOf(maximiseGridSpec(tiles, { cellSize: 2, range: [0, 1], labels: ['a', 'b'] }));
    expect(colourAt(fixed, 1, 2, 1, 2)).toBe('#ffffff');
    expect(colourAt(fixed, 1, 0, 0, 2)).toBe('#ffffff');
    // The scale starts at the least value, not at 0.
    const shifted = runsOf(maximiseGridSpec([tile('t', (i) => 1 + i / 11)], { cellSize: 2 }));
    expect(colourAt(shifted, 0, 0, 0, 2)).toBe('#000000');
    expect(colourAt(shifted, 0, 2, 3, 2)).toBe('#ffffff');
    expect(colourAt(runsOf(maximiseGridSpec([tile('t', () => 0)], { cellSize: 2, range: [-1, 1] })), 0, 1, 1, 2)).toBe('#808080');
    expect(compile(spec as never).spec).toBeDefined();
  });

  it('draws three channels as RGB and lays tiles out in rows of `columns`', () => {
    const rgb: MaximiseTile = { shape: [3, 1, 2], data: [1, 0, 0, 1, 0, 0] };
    const spec = maximiseGridSpec([rgb, rgb, rgb], { columns: 2, cellSize: 5, range: [0, 1] });
    const runs = runsOf(spec);
    expect(colourAt(runs, 0, 0, 0, 5)).toBe('#ff0000');
    expect(colourAt(runs, 0, 1, 0, 5)).toBe('#00ff00');
    expect(labelsOf(spec)).toEqual(['0', '1', '2']);
    expect(spec.width).toBe(2 * 10 + 10);
    expect(Math.max(...runs.filter((r) => r.tile === 2).map((r) => r.y1))).toBeGreaterThan(Math.max(...runs.filter((r) => r.tile === 1).map((r) => r.y1)));
  });

  it('renders to a PNG', async () => {
    const png = await renderChart(maximiseGridSpec([tile('class 0', (i) => i / 11)]), { format: 'png' });
    expect(PNG.sync.read(Buffer.from(png)).width).toBeGreaterThan(30);
  });

  it('refuses what it cannot draw', () => {
    expect(striateError(() => maximiseGridSpec([]), 'maximiseGridSpec').message).toMatch(/non-empty array/);
    expect(striateError(() => maximiseGridSpec([{ shape: [2, 4, 3], data: new Float32Array(24) }])).message).toMatch(/1 or 3 channels/);
    expect(striateError(() => maximiseGridSpec([tile('a', () => 0), { shape: [1, 3, 4], data: new Float32Array(12) }])).message).toMatch(/same shape/);
    expect(striateError(() => maximiseGridSpec([{ shape: [1, 4, 3], data: new Float32Array(5) }])).message).toMatch(/must hold 12 values/);
    expect(striateError(() => maximiseGridSpec([tile('a', () => 0)], { labels: ['a', 'b'] })).message).toMatch(/labels must be 1 strings/);
    expect(striateError(() => maximiseGridSpec([tile('a', () => 0)], { range: [1, 1] })).message).toMatch(/range must be/);
    expect(striateError(() => maximiseGridSpec([tile('a', () => 0)], { colour: true } as never)).message).toMatch(/unknown option "colour"/);
  });
});
