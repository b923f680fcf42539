import { describe, expect, it } from 'vitest';
import { defineModel, initParams, lenet5, nn, StriateError } from 'striate';
import { convLayerFilters, filterGridSpec, layerFilterGridSpec } from '../../src/viz/filters.js';

type Cell = { filter: number; channel: string; w: number };
type Layer = { data: { values: (Cell & { rgb?: string })[] }; encoding: Record<string, { scale?: { scheme?: string } | null }> };
const layers = (spec: Record<string, unknown>) => spec.layer as Layer[];
const weightCells = (spec: Record<string, unknown>) => layers(spec).find((l) => l.encoding.color?.scale?.scheme)!.data.values;
const rgbTiles = (spec: Record<string, unknown>) => layers(spec).find((l) => l.encoding.fill)?.data.values ?? [];

/** A colour model: conv1 reads the 3-channel image; conv2 has 3 input channels too, but reads conv1's maps. */
const colour = defineModel('colour', [3, 8, 8], [
  nn.conv2d('conv1', { filters: 3, size: 3 }),
  nn.relu(),
  nn.conv2d('conv2', { filters: 4, size: 3 }),
  nn.flatten(),
  nn.dense('fc', { units: 2 }),
]);

describe('convLayerFilters', () => {
  it("finds every convolution layer's filters by name, in build order", () => {
    const model = lenet5();
    const params = initParams(model, 1);
    const found = convLayerFilters(model, params);
    expect(found.map((f) => [f.layer, f.param, f.weights.shape, f.readsInput])).toEqual([
      ['conv1', 'conv1.w', [6, 1, 5, 5], true],
      ['conv2', 'conv2.w', [16, 6, 5, 5], false],
    ]);
    expect(found[1].weights).toBe(params['conv2.w']);
  });

  it('finds convolutions inside scopes and residual blocks by their full names', () => {
    const model = nn.resnet({ inputShape: [1, 16, 16], classes: 3, depth: 8, scale: 0.25 });
    const found = convLayerFilters(model, initParams(model, 1));
    expect(found.length).toBeGreaterThan(3);
    for (const f of found) expect(f.param).toBe(`${f.layer}.w`);
    expect(found.some((f) => f.layer.includes('.'))).toBe(true);
  });

  it('refuses parameters that do not fit the model', () => {
    expect(() => convLayerFilters(lenet5(), {})).toThrow(StriateError);
  });
});

describe('layerFilterGridSpec', () => {
  const params = initParams(colour, 3);

  it('draws every filter and input channel of the layer named', () => {
    const spec = layerFilterGridSpec(lenet5(), initParams(lenet5(), 2), 'conv2');
    const cells = weightCells(spec);
    expect(cells).toHaveLength(16 * 6 * 25);
    expect(new Set(cells.map((c) => c.channel))).toEqual(new Set(['in 0', 'in 1', 'in 2', 'in 3', 'in 4', 'in 5']));
    expect(rgbTiles(spec)).toHaveLength(0);
    expect(JSON.stringify(spec.title)).toContain('conv2 filters');
  });

  it('draws the filters reading a colour image as RGB, and no others', () => {
    const first = layerFilterGridSpec(colour, params, 'conv1');
    expect(rgbTiles(first)).toHaveLength(3 * 9);
    expect(new Set(weightCells(first).map((c) => c.channel))).toEqual(new Set(['R', 'G', 'B']));
    const second = layerFilterGridSpec(colour, params, 'conv2');
    expect(rgbTiles(second)).toHaveLength(0);
    expect(new Set(weightCells(second).map((c) => c.channel))).toEqual(new Set(['in 0', 'in 1', 'in 2']));
    // filterGridSpec alone takes any three channels as RGB unless told otherwise.
    expect(rgbTiles(filterGridSpec(params['conv2.w']))).toHaveLength(4 * 9);
    expect(rgbTiles(filterGridSpec(params['conv2.w'], { rgb: false }))).toHaveLength(0);
  });

  it('draws the first filters and channels of a wide layer, and says so', () => {
    const spec = layerFilterGridSpec(lenet5(), initParams(lenet5(), 2), 'conv2', { maxFilters: 4, maxChannels: 2 });
    const cells = weightCells(spec);
    expect(cells).toHaveLength(4 * 2 * 25);
    const w = initParams(lenet5(), 2)['conv2.w'].data;
    // Filter 3, channel 1, first weight: (3·6 + 1)·25 in the full layer.
    expect(cells.find((c) => c.filter === 3 && c.channel === 'in 1')!.w).toBe(w[(3 * 6 + 1) * 25]);
    expect(JSON.stringify(spec.title)).toContain('the first 4 of 16 filters, 2 of 6 input channels');
  });

  it('refuses a layer that does not exist or is not a convolution, naming those there are', () => {
    expect(() => layerFilterGridSpec(colour, params, 'conv3')).toThrow('layerFilterGridSpec: model "colour" has no convolution layer named "conv3"; its convolution layers are conv1, conv2');
    expect(() => layerFilterGridSpec(colour, params, 'fc')).toThrow(/no convolution layer named "fc"/);
    const mlp = defineModel('mlp', [4], [nn.dense('fc', { units: 2 })]);
    expect(() => layerFilterGridSpec(mlp, initParams(mlp, 1), 'fc')).toThrow(/it has no convolution layer/);
    expect(() => filterGridSpec(params['conv1.w'], { rgb: 'yes' as never })).toThrow(/rgb must be true or false/);
    expect(() => filterGridSpec({ data: new Float32Array(4), shape: [1, 1, 2, 2] }, { rgb: true })).toThrow(/rgb needs filters with 3 input channels, these have 1/);
  });
});
