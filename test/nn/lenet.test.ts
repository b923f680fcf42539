import { describe, expect, it } from 'vitest';
import { buildModel, formatSummary, initParams, lenet5, paramShapes, summary } from '../../src/nn/index.js';

// The lecture's count for a convolutional layer with L_k filters of size M_k×M_k
// over L_{k-1} input maps: L_k (L_{k-1} M_k² + 1) (weights plus one bias per filter).
const convParams = (L: number, Lprev: number, M: number): number => L * (Lprev * M * M + 1);

describe('LeNet-5', () => {
  const model = lenet5();

  it('has the lecture layers with the output shapes of a 28×28 digit (24 → 12 → 8 → 4)', () => {
    const s = summary(model);
    expect(s.layers.map((l) => [l.name, l.kind, [...l.outputShape]])).toEqual([
      ['conv1', 'conv2d', [6, 24, 24]],
      ['relu1', 'relu', [6, 24, 24]],
      ['pool1', 'maxPool2d', [6, 12, 12]],
      ['conv2', 'conv2d', [16, 8, 8]],
      ['relu2', 'relu', [16, 8, 8]],
      ['pool2', 'maxPool2d', [16, 4, 4]],
      ['flatten1', 'flatten', [256]],
      ['fc1', 'dense', [120]],
      ['relu3', 'relu', [120]],
      ['fc2', 'dense', [84]],
      ['relu4', 'relu', [84]],
      ['fc3', 'dense', [10]],
    ]);
  });

  it('counts parameters by the lecture formula, by hand', () => {
    const byLayer = Object.fromEntries(summary(model).layers.map((l) => [l.name, l.paramCount]));
    // conv1: 6 filters of 1×5×5 plus 6 biases = 6·(1·25 + 1) = 156
    expect(byLayer.conv1).toBe(156);
    expect(byLayer.conv1).toBe(convParams(6, 1, 5));
    // conv2: 16 filters of 6×5×5 plus 16 biases = 16·(6·25 + 1) = 2416
    expect(byLayer.conv2).toBe(2416);
    expect(byLayer.conv2).toBe(convParams(16, 6, 5));
    // The MLP: 256·120 + 120 = 30840; 120·84 + 84 = 10164; 84·10 + 10 = 850.
    expect(byLayer.fc1).toBe(30840);
    expect(byLayer.fc2).toBe(10164);
    expect(byLayer.fc3).toBe(850);
    for (const name of ['relu1', 'pool1', 'relu2', 'pool2', 'flatten1', 'relu3', 'relu4']) expect(byLayer[name]).toBe(0);
    // Σ conv + MLP = 156 + 2416 + 30840 + 10164 + 850 = 44426
    expect(summary(model).totalParams).toBe(44426);
  });

  it('names its parameters as graph inputs conv1.w, conv1.b, ..., fc3.b with the NCHW/[in,out] shapes', () => {
    expect(paramShapes(model)).toEqual({
      'conv1.w': [6, 1, 5, 5],
      'conv1.b': [6],
      'conv2.w': [16, 6, 5, 5],
      'conv2.b': [16],
      'fc1.w': [256, 120],
      'fc1.b': [120],
      'fc2.w': [120, 84],
      'fc2.b': [84],
      'fc3.w': [84, 10],
      'fc3.b': [10],
    });
    const built = buildModel(model, { batchSize: 7 });
    expect(built.input.shape).toEqual([7, 1, 28, 28]);
    expect(built.output.shape).toEqual([7, 10]);
    expect(built.paramTensors.map((t) => [t.op, t.attrs.name])).toEqual(built.params.map((p) => ['input', p.name]));
    expect(built.masks).toEqual([]);
  });

  it('initialises every parameter with its shape; biases start at zero', () => {
    const p = initParams(model, 3);
    expect(Object.keys(p)).toEqual(Object.keys(paramShapes(model)));
    for (const [name, v] of Object.entries(p)) {
      expect(v.data).toBeInstanceOf(Float32Array);
      expect(v.data.length).toBe(v.shape.reduce((a, b) => a * b, 1));
      if (name.endsWith('.b')) expect(v.data.every((x) => x === 0)).toBe(true);
      else expect(v.data.some((x) => x !== 0)).toBe(true);
    }
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p['conv1.w'])).toBe(true);
  });

  it('formats a summary table with the total', () => {
    const text = formatSummary(summary(model));
    expect(text).toContain('LeNet-5 (input [N,1,28,28])');
    expect(text).toMatch(/conv1\s+conv2d\s+\[N,6,24,24\]\s+156/);
    expect(text).toMatch(/fc1\s+dense\s+\[N,120\]\s+30,840/);
    expect(text).toContain('total parameters: 44,426');
  });

  it('adds dropout layers (with masks in the training graph only) when asked', () => {
    const m = lenet5({ dropout: 0.5 });
    expect(summary(m).totalParams).toBe(44426);
    expect(buildModel(m, { batchSize: 4, training: true }).masks.map((k) => [k.name, [...k.shape], k.rate])).toEqual([
      ['drop1.mask', [4, 120], 0.5],
      ['drop2.mask', [4, 84], 0.5],
    ]);
    expect(buildModel(m, { batchSize: 4 }).masks).toEqual([]);
  });
});
