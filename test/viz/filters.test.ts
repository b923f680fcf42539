import { describe, expect, it, vi } from 'vitest';
import { compile } from 'vega-lite';
import { filterGridSpec } from 'striate';

type Cell = { x0: number; x1: number; y0: number; y1: number; w: number | null; filter: number; channel: string; rgb?: string };
type Layer = { mark: { type: string; color?: string }; data: { values: Cell[] }; encoding: Record<string, { scale?: { domain?: number[]; domainMid?: number; scheme?: string } | null; legend?: unknown }> };
const layers = (spec: Record<string, unknown>) => spec.layer as Layer[];
const weightLayer = (spec: Record<string, unknown>) => layers(spec).find((l) => l.encoding.color?.scale?.scheme)!;

describe('filterGridSpec', () => {
  it('puts all filters on one diverging scale, symmetric about zero, with a colour bar', () => {
    // Two filters of very different size: the shared scale is set by the larger.
    const spec = filterGridSpec({ data: [0.1, -0.2, 0.05, 0, 3, -1, 2, -0.5], shape: [2, 1, 2, 2] });
    const color = weightLayer(spec).encoding.color;
    expect(color.scale).toEqual({ scheme: 'redblue', domain: [-3, 3], domainMid: 0 });
    expect(color.legend).toMatchObject({ orient: 'right' });
    const cells = weightLayer(spec).data.values;
    expect(cells.map((c) => c.w)).toEqual([0.1, -0.2, 0.05, 0, 3, -1, 2, -0.5].map((v) => expect.closeTo(v, 6)));
    expect(new Set(cells.map((c) => c.filter))).toEqual(new Set([0, 1]));
  });

  it('shows every input channel as its own tile, side by side', () => {
    const data = Float32Array.from({ length: 4 * 2 * 3 * 3 }, (_, i) => i - 30);
    const spec = filterGridSpec({ data, shape: [4, 2, 3, 3] }, { cellSize: 5, columns: 2 });
    const cells = weightLayer(spec).data.values;
    expect(cells).toHaveLength(4 * 2 * 9);
    const tile = (filter: number, channel: string) => cells.filter((c) => c.filter === filter && c.channel === channel);
    // Channel 1 of filter 0 starts one tile (15 px) and a gap to the right of channel 0, on the same rows.
    const left = Math.min(...tile(0, 'in 0').map((c) => c.x0));
    const right = Math.min(...tile(0, 'in 1').map((c) => c.x0));
    expect(right - left).toBeGreaterThan(15);
    expect(tile(0, 'in 1').map((c) => c.y0)).toEqual(tile(0, 'in 0').map((c) => c.y0));
    // Weight (o, i, y, x) = data[((o*2 + i)*3 + y)*3 + x]: filter 3, channel 1, y 2, x 1.
    const c = tile(3, 'in 1').find((c) => c.x0 === Math.min(...tile(3, 'in 1').map((c) => c.x0)) + 5 && c.y0 === Math.max(...tile(3, 'in 1').map((c) => c.y0)))!;
    expect(c.w).toBe(data[((3 * 2 + 1) * 3 + 2) * 3 + 1]);
    // Two columns: filter 2 starts a second row.
    expect(Math.min(...tile(2, 'in 0').map((c) => c.y0))).toBeGreaterThan(Math.max(...tile(0, 'in 0').map((c) => c.y1)));
    expect(spec.width).toBeGreaterThanOrEqual(Math.max(...cells.map((c) => c.x1)));
    expect(spec.height).toBeGreaterThanOrEqual(Math.max(...cells.map((c) => c.y1)));
  });

  it('draws three-channel filters as RGB on the shared scale too, besides each channel', () => {
    // One 1×1 filter (r, g, b) = (−2, 0, 1) and one (0.5, 0.5, 0.5): max |w| = 2.
    const spec = filterGridSpec({ data: [-2, 0, 1, 0.5, 0.5, 0.5], shape: [2, 3, 1, 1] });
    const rgb = layers(spec).find((l) => l.encoding.fill)!;
    expect(rgb.encoding.fill.scale).toBeNull();
    // 0.5 + w / (2 · 2): −2 → 0, 0 → 0.5 (0x80), 1 → 0.75 (0xbf), 0.5 → 0.625 (159, 0x9f).
    expect(rgb.data.values.map((c) => c.rgb)).toEqual(['#0080bf', '#9f9f9f']);
    expect(weightLayer(spec).data.values.map((c) => c.channel)).toEqual(['R', 'G', 'B', 'R', 'G', 'B']);
  });

  it('paints non-finite weights apart instead of dropping them silently', () => {
    const spec = filterGridSpec({ data: [1, Number.NaN, -1, Number.POSITIVE_INFINITY], shape: [1, 1, 2, 2] });
    expect(weightLayer(spec).data.values).toHaveLength(2);
    const bad = layers(spec).find((l) => l.mark.color === '#ff00ff')!;
    expect(bad.data.values).toHaveLength(2);
    expect(JSON.stringify(spec.title)).toContain('2 non-finite weight(s)');
  });

  it('compiles with vega-lite without a warning', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      compile(filterGridSpec({ data: Float32Array.from({ length: 6 * 3 * 25 }, (_, i) => Math.sin(i)), shape: [6, 3, 5, 5] }) as never);
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });

  it('validates shape, size and options', () => {
    expect(() => filterGridSpec({ data: new Float32Array(5), shape: [1, 1, 2, 2] })).toThrow(/filterGridSpec: shape \[1, 1, 2, 2\] needs 4 weights but got 5/);
    expect(() => filterGridSpec({ data: new Float32Array(4), shape: [2, 2] })).toThrow(/must be shaped \[outChannels, inChannels, kH, kW\]/);
    expect(() => filterGridSpec({ data: new Float32Array(4), shape: [1, 1, 2, 2] }, { columns: 0 })).toThrow(/columns must be an integer >= 1, got 0/);
  });
});
