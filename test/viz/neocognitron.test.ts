/**
 * The Neocognitron's pictures (src/viz/neocognitron.ts): the back-projected
 * plane features on hand-made states, the winners chart's layout, and both
 * rendered to PNG.
 */
import { describe, expect, it } from 'vitest';
import { StriateError } from '../../src/graph/error.js';
import { inhibitoryWeights, neocognitron, type NeocognitronState } from '../../src/nn/neocognitron.js';
import { tensorValue } from '../../src/nn/params.js';
import { renderChart } from '../../src/viz/render.js';
import { neocognitronPlanesSpec, neocognitronWinnersSpec, planePictures } from '../../src/viz/neocognitron.js';

const model = neocognitron({
  inputShape: [1, 8, 8],
  stages: [
    { planes: 2, window: 3, padding: 'same', poolSize: 2 },
    { planes: 1, window: 1, padding: 'same', poolSize: 2 },
  ],
});
const c = inhibitoryWeights(1, 3);
// Stage 1: plane 0 prefers a vertical bar (a = c · bar), plane 1 the centre pixel only.
const bar = [0, 1, 0, 0, 1, 0, 0, 1, 0];
const a1 = Float32Array.from([...bar.map((v, i) => 2 * v * c[i]), ...bar.map((_, i) => (i === 4 ? 3 * c[i] : 0))]);
const state: NeocognitronState = {
  model,
  stages: [
    { planes: 2, a: tensorValue([2, 1, 3, 3], a1), b: tensorValue([2], Float32Array.from([1, 1])) },
    // Stage 2: one plane, window 1, weight 1 on C-plane 0 and 0.5 on C-plane 1; c = 1/2 per input plane.
    { planes: 1, a: tensorValue([1, 2, 1, 1], Float32Array.from([0.5, 0.25])), b: tensorValue([1], Float32Array.from([1])) },
  ],
  classifier: null,
};

describe('neocognitron pictures', () => {
  it("stage 1's tile is a/c; a higher plane's is its weights/c spread over the C-cell's pool, through the planes below", () => {
    const [p1, p2] = planePictures(state);
    expect(p1.side).toBe(3);
    expect(Array.from(p1.data.subarray(0, 9)).map((v) => +v.toFixed(5))).toEqual(bar.map((v) => 2 * v));
    expect(p1.data[9 + 4]).toBeCloseTo(3, 6);
    // Side: the 2×2 pool of one C-cell, each S-cell seeing a 3×3 window: 2 + 3 − 1 = 4.
    expect(p2.side).toBe(4);
    // Pixel (1,1) is under the window of the S-cells at pool offsets (0,0), (0,1), (1,0), (1,1) at their
    // window positions (1,1), (1,0), (0,1), (0,0): the bar has 2 at (1,1) and (0,1); the dot 3 at (1,1).
    // weight/c: 0.5/0.5 = 1 for plane 0, 0.25/0.5 = 0.5 for plane 1, each spread over 4 S-cells.
    const want = (1 / 4) * (2 + 2) + (0.5 / 4) * 3;
    expect(p2.data[1 * 4 + 1]).toBeCloseTo(want, 6);
    // Pixel (0,0) is seen only by the S-cell at pool offset (0,0), at its window's corner, where both pictures are 0.
    expect(p2.data[0]).toBeCloseTo(0, 12);
  });

  it('the planes chart has one row per stage and renders to PNG', async () => {
    const spec = neocognitronPlanesSpec(state);
    const layer = spec.layer as { data: { values: { stage?: number; text?: string }[] } }[];
    expect(layer[0].data.values.filter((v) => v.stage === 1).length).toBe(2 * 9);
    expect(layer[0].data.values.filter((v) => v.stage === 2).length).toBe(16);
    expect(layer[1].data.values.map((v) => v.text)).toEqual([expect.stringMatching(/^stage 1: 2 S-planes/), expect.stringMatching(/^stage 2: 1 S-planes.*16×16|^stage 2: 1 S-planes.*4×4/)]);
    const png = await renderChart(spec);
    expect(Array.from(png.subarray(1, 4))).toEqual([0x50, 0x4e, 0x47]);
    expect(() => neocognitronPlanesSpec({ ...state, stages: [] })).toThrow(StriateError);
  });

  it('the winners chart colours each column by its strongest plane and outlines the winners', async () => {
    const s1 = new Float32Array(2 * 64);
    s1[3 * 8 + 4] = 0.5; // plane 0 at (3,4)
    s1[64 + 5 * 8 + 1] = 0.7; // plane 1 at (5,1)
    const s2 = new Float32Array(16);
    const responses = {
      image: new Float32Array(64).fill(0.5),
      stages: [
        { s: s1, shape: [2, 8, 8] as [number, number, number], winners: [{ plane: 0, y: 3, x: 4 }, { plane: 1, y: 5, x: 1 }] },
        { s: s2, shape: [1, 4, 4] as [number, number, number], winners: [] },
      ],
    };
    const spec = neocognitronWinnersSpec(state, responses, { label: '7' });
    const layer = spec.layer as { data: { values: { what?: string; plane?: number | null; fill?: string; text?: string }[] } }[];
    const s1cells = layer[0].data.values.filter((v) => v.what === 'S1');
    expect(s1cells.length).toBe(64);
    expect(s1cells.filter((v) => v.plane !== null).map((v) => v.plane)).toEqual([0, 1]);
    expect(s1cells.filter((v) => v.fill === '#ffffff').length).toBe(62);
    expect(layer[1].data.values.length).toBe(2);
    expect(layer[2].data.values.map((v) => v.text)).toEqual(['input (7)', 'S1: 2 planes, 2 of 64 columns fire, 2 winners', 'S2: 1 planes, 0 of 16 columns fire, 0 winners']);
    const png = await renderChart(spec);
    expect(png.length).toBeGreaterThan(1000);
    expect(() => neocognitronWinnersSpec(state, { ...responses, stages: [{ ...responses.stages[0], shape: [2, 8, 7] }, responses.stages[1]] })).toThrow(/must be u_S of shape \[2, 8, 8\]/);
  });
});
