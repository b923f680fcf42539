import { describe, expect, it } from 'vitest';
import { compile } from '../../src/backend/compile.js';
import { createRng } from '../../src/data/random.js';
import { add } from '../../src/ops/add.js';
import { elu as eluOp } from '../../src/ops/elu.js';
import { globalAvgPool2d as globalAvgPool2dOp } from '../../src/ops/globalPool.js';
import type { Tensor } from '../../src/graph/tensor.js';
import { input } from '../../src/ops/input.js';
import { leakyRelu as leakyReluOp } from '../../src/ops/leakyRelu.js';
import { localResponseNorm as localResponseNormOp } from '../../src/ops/lrn.js';
import { relu as reluOp } from '../../src/ops/relu.js';
import { relu6 as relu6Op } from '../../src/ops/relu6.js';
import { sum as sumOp } from '../../src/ops/sum.js';
import { randomValues } from '../helpers.js';
import {
  avgPool2d,
  buildModel,
  conv2d,
  defineModel,
  dense,
  dropout,
  dropoutMask,
  elu,
  flatten,
  globalAvgPool2d,
  initParams,
  leakyRelu,
  localResponseNorm,
  maxPool2d,
  relu,
  relu6,
  residual,
  scope,
  sequential,
  summary,
  tanh,
  type Layer,
} from '../../src/nn/index.js';

describe('layers', () => {
  it('conv2d reads its input channels and honours stride and padding', () => {
    const m = defineModel('m', [3, 9, 9], [conv2d('c', { filters: 4, size: 3, stride: 2, padding: 'same' })]);
    const b = buildModel(m, { batchSize: 2 });
    expect(b.output.shape).toEqual([2, 4, 5, 5]);
    expect(b.params.map((p) => [p.name, [...p.shape], p.fans])).toEqual([
      ['c.w', [4, 3, 3, 3], { fanIn: 27, fanOut: 36 }],
      ['c.b', [4], { fanIn: 27, fanOut: 36 }],
    ]);
  });

  it('conv2d with groups: filters [F, C/groups, kH, kW], F·(C/groups·kH·kW + 1) parameters, the fans of one group', () => {
    // AlexNet's split: 6 channels in 2 groups, each of the 4 filters reads 3 of them.
    const m = defineModel('m', [6, 9, 9], [conv2d('c', { filters: 4, size: 3, groups: 2 })]);
    const b = buildModel(m, { batchSize: 2 });
    expect(b.output.shape).toEqual([2, 4, 7, 7]);
    expect(b.output.op).toBe('conv2d');
    expect((b.output as Tensor<'conv2d'>).attrs.groups).toBe(2);
    expect(b.params.map((p) => [p.name, [...p.shape], p.fans])).toEqual([
      ['c.w', [4, 3, 3, 3], { fanIn: 27, fanOut: 18 }],
      ['c.b', [4], { fanIn: 27, fanOut: 18 }],
    ]);
    expect(summary(m).totalParams).toBe((6 / 2) * 3 * 3 * 4 + 4);
    // Depthwise with a channel multiplier of 2: one input channel per filter.
    const d = defineModel('d', [3, 8, 8], [conv2d('dw', { filters: 6, size: 3, groups: 3, padding: 'same', bias: false })]);
    expect(buildModel(d).params.map((p) => [p.name, [...p.shape], p.fans])).toEqual([['dw.w', [6, 1, 3, 3], { fanIn: 9, fanOut: 18 }]]);
    expect(summary(d).totalParams).toBe(1 * 3 * 3 * 6);
  });

  it('a grouped conv2d layer computes the grouped convolution', async () => {
    const m = defineModel('m', [2, 3, 3], [conv2d('c', { filters: 2, size: 2, groups: 2, bias: false })]);
    const f = compile(buildModel(m, { batchSize: 1 }).output);
    // channel 0 holds 1..9, channel 1 all ones; filter 0 picks the top-left tap, filter 1 sums the window.
    const [y] = await f.run({ x: [1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 1, 1, 1, 1, 1, 1, 1, 1], 'c.w': [1, 0, 0, 0, 1, 1, 1, 1] });
    expect([...y.data]).toEqual([1, 2, 4, 5, 4, 4, 4, 4]);
  });

  it('conv2d refuses groups that are not a positive integer or do not divide the filters or the channels', () => {
    expect(() => conv2d('c', { filters: 4, size: 3, groups: 0 })).toThrow('nn.conv2d: groups must be a positive integer, got 0');
    expect(() => conv2d('c', { filters: 4, size: 3, groups: 1.5 })).toThrow('nn.conv2d: groups must be a positive integer, got 1.5');
    expect(() => conv2d('c', { filters: 5, size: 3, groups: 2 })).toThrow('nn.conv2d: filters (5) must be a multiple of groups (2)');
    const m = defineModel('m', [6, 9, 9], [conv2d('c', { filters: 4, size: 3, groups: 4 })]);
    expect(() => buildModel(m)).toThrow('nn.conv2d: "c" has 4 groups but its input has 6 channels, which they cannot split evenly (input shape [1,6,9,9])');
    expect(() => buildModel(m)).toThrow(expect.objectContaining({ op: 'nn.conv2d', got: '6 input channels, groups 4' }));
  });

  it('bias: false leaves the bias out', () => {
    const m = defineModel('m', [5], [dense('d', { units: 2, bias: false })]);
    expect(buildModel(m).params.map((p) => p.name)).toEqual(['d.w']);
    expect(summary(m).totalParams).toBe(10);
  });

  it('dense computes x·w + b', async () => {
    const m = defineModel('m', [2], [dense('d', { units: 3 })]);
    const b = buildModel(m, { batchSize: 1 });
    const f = compile(b.output);
    const [y] = await f.run({ x: [1, 2], 'd.w': [1, 2, 3, 4, 5, 6], 'd.b': [0.5, 0, -1] });
    // [1,2]·[[1,2,3],[4,5,6]] = [9, 12, 15]
    expect([...y.data]).toEqual([9.5, 12, 14]);
  });

  it('dense on an image asks for flatten()', () => {
    const m = defineModel('m', [1, 4, 4], [dense('d', { units: 3 })]);
    expect(() => buildModel(m)).toThrow(/^nn.dense: "d" expects an input \[N, features\], got shape \[1,1,4,4\]; put flatten\(\) before it/);
    expect(() => buildModel(m)).toThrow(expect.objectContaining({ op: 'nn.dense', got: 'shape [1,1,4,4]' }));
  });

  it('refuses bad names and options with messages', () => {
    expect(() => conv2d('conv.1', { filters: 1, size: 3 })).toThrow(/layer name/);
    expect(() => conv2d('c', { filters: 0, size: 3 })).toThrow(/filters must be a positive integer/);
    expect(() => dense('d', { units: 2.5 })).toThrow(/units must be a positive integer/);
    expect(() => dropout('d', 1)).toThrow(/rate must be a probability in \[0, 1\)/);
    expect(() => defineModel('m', [], [])).toThrow(/inputShape/);
  });

  it('two different layers with one name are an error; one layer applied twice shares its weights', () => {
    const twins = defineModel('m', [4], [dense('d', { units: 4 }), dense('d', { units: 4 })]);
    expect(() => buildModel(twins)).toThrow(/two layers both have a parameter named "d.w"/);
    const shared = dense('d', { units: 4 });
    const siamese = defineModel('m', [4], [shared, relu(), shared]);
    const b = buildModel(siamese);
    expect(b.params.map((p) => p.name)).toEqual(['d.w', 'd.b']);
    expect(summary(siamese).totalParams).toBe(20);
    expect(summary(siamese).layers.map((l) => l.paramCount)).toEqual([20, 0, 0]);
  });

  it('scope prefixes names; sequential nests; unnamed layers are numbered per scope', () => {
    const block = (name: string): Layer => scope(name, sequential(conv2d('conv', { filters: 2, size: 3, padding: 1 }), relu()));
    const m = defineModel('m', [2, 6, 6], [block('b1'), block('b2'), maxPool2d({ size: 2 }), avgPool2d({ size: 3 }), flatten(), tanh({ name: 'squash' })]);
    const s = summary(m);
    expect(s.layers.map((l) => l.name)).toEqual(['b1.conv', 'b1.relu1', 'b2.conv', 'b2.relu1', 'pool1', 'pool2', 'flatten1', 'squash']);
    expect(buildModel(m).params.map((p) => p.name)).toEqual(['b1.conv.w', 'b1.conv.b', 'b2.conv.w', 'b2.conv.b']);
    expect(s.layers.at(-1)!.outputShape).toEqual([2]);
  });

  it('residual adds a skip connection (identity or a projection) and checks shapes', () => {
    const body = sequential(conv2d('a', { filters: 3, size: 3, padding: 'same' }), relu(), conv2d('b', { filters: 3, size: 3, padding: 'same' }));
    const m = defineModel('res', [3, 5, 5], [residual(body), relu()]);
    expect(buildModel(m).output.shape).toEqual([1, 3, 5, 5]);
    expect(summary(m).layers.map((l) => l.kind)).toEqual(['conv2d', 'relu', 'conv2d', 'add', 'relu']);

    const down = residual(conv2d('a2', { filters: 8, size: 3, stride: 2, padding: 'same' }), conv2d('proj', { filters: 8, size: 1, stride: 2 }));
    expect(buildModel(defineModel('down', [3, 6, 6], [down])).output.shape).toEqual([1, 8, 3, 3]);

    const bad = residual(conv2d('a3', { filters: 8, size: 3, padding: 'same' }));
    expect(() => buildModel(defineModel('bad', [3, 6, 6], [bad]))).toThrow(/residual: the body gives \[1,8,6,6\] but the shortcut gives \[1,3,6,6\]/);
  });

  it('plain functions compose with layers (functional style)', async () => {
    const c = conv2d('c', { filters: 1, size: 1, bias: false });
    const m = defineModel('fn', [1, 2, 2], (x, ctx) => flatten()(reluOp(add(c(x, ctx), x)), ctx));
    const b = buildModel(m);
    const [y] = await compile(b.output).run({ x: [1, -2, 3, -4], 'c.w': [2] });
    // relu(2x + x) = relu(3x)
    expect([...y.data]).toEqual([3, 0, 9, 0]);
    expect(Object.keys(initParams(m, 0))).toEqual(['c.w']);
  });
});

describe('dropout', () => {
  it('is the identity when not training', () => {
    const m = defineModel('m', [4], [dropout('drop', 0.5)]);
    const b = buildModel(m);
    expect(b.output).toBe(b.input);
  });

  it('multiplies by a fed mask when training', async () => {
    const m = defineModel('m', [4], [dropout('drop', 0.5)]);
    const b = buildModel(m, { batchSize: 1, training: true });
    expect(b.masks).toEqual([{ name: 'drop.mask', shape: [1, 4], rate: 0.5 }]);
    const [y] = await compile(b.output).run({ x: [1, 2, 3, 4], 'drop.mask': [2, 0, 2, 0] });
    expect([...y.data]).toEqual([2, 0, 6, 0]);
  });

  it('masks are seeded, hold 0 or 1/(1 − rate), and keep the expectation (inverted dropout)', () => {
    const a = dropoutMask([100, 100], 0.25, createRng(7));
    expect(dropoutMask([100, 100], 0.25, createRng(7))).toEqual(a);
    const values = new Set(a);
    expect([...values].sort()).toEqual([0, Math.fround(4 / 3)]);
    const kept = a.filter((v) => v !== 0).length / a.length;
    expect(kept).toBeGreaterThan(0.73);
    expect(kept).toBeLessThan(0.77);
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean).toBeGreaterThan(0.97);
    expect(mean).toBeLessThan(1.03);
  });
});

describe('leakyRelu, elu, relu6, localResponseNorm and globalAvgPool2d', () => {
  const layers = () => [
    leakyRelu({ alpha: 0.2 }),
    elu(),
    relu6({ name: 'cap' }),
    localResponseNorm({ size: 3, alpha: 0.5 }),
    leakyRelu(),
    globalAvgPool2d(),
  ];

  it('are named automatically (counted per kind, pools together), carry no parameters, and end in [N, C]', () => {
    const m = defineModel('m', [3, 4, 5], [maxPool2d({ size: 1 }), ...layers(), relu6(), localResponseNorm(), elu({ name: 'e', alpha: 0.5 })]);
    const s = summary(m);
    expect(s.layers.map((l) => [l.name, l.kind, [...l.outputShape]])).toEqual([
      ['pool1', 'maxPool2d', [3, 4, 5]],
      ['leakyRelu1', 'leakyRelu', [3, 4, 5]],
      ['elu1', 'elu', [3, 4, 5]],
      ['cap', 'relu6', [3, 4, 5]],
      ['lrn1', 'localResponseNorm', [3, 4, 5]],
      ['leakyRelu2', 'leakyRelu', [3, 4, 5]],
      ['pool2', 'globalAvgPool2d', [3]],
      ['relu6_1', 'relu6', [3]],
      ['lrn2', 'localResponseNorm', [3]],
      ['e', 'elu', [3]],
    ]);
    expect(s.totalParams).toBe(0);
    expect(buildModel(m, { batchSize: 2 }).output.shape).toEqual([2, 3]);
  });

  it('compute what their ops compute, with the options given', async () => {
    const shape = [2, 3, 4, 5];
    const data = randomValues(120, 9).map((v) => 8 * v);
    const m = defineModel('m', shape.slice(1), layers());
    const byLayers = compile(buildModel(m, { batchSize: 2 }).output).runSync({ x: data });
    const x = input('x', shape);
    const h = leakyReluOp(localResponseNormOp(relu6Op(eluOp(leakyReluOp(x, { alpha: 0.2 }))), { size: 3, alpha: 0.5 }));
    const [byOps] = await compile(globalAvgPool2dOp(h)).run({ x: data });
    expect(byLayers[0].data).toEqual(byOps.data);
  });

  it('refuse bad options when made, and an input of the wrong rank when built, naming the layer', () => {
    expect(() => leakyRelu({ alpha: 1 })).toThrow(expect.objectContaining({ op: 'nn.leakyRelu', message: 'nn.leakyRelu: alpha must be a finite number in [0, 1), got 1' }));
    expect(() => elu({ alpha: -1 })).toThrow('nn.elu: alpha must be a finite number > 0, got -1');
    expect(() => localResponseNorm({ size: 0 })).toThrow('nn.localResponseNorm: size must be a positive integer, got 0');
    expect(() => localResponseNorm({ k: 0 })).toThrow('nn.localResponseNorm: k must be a finite number > 0, got 0');
    expect(() => relu6({ alpha: 1 } as never)).toThrow(/^nn.relu6: unknown option "alpha"; the options are "name"/);
    expect(() => leakyRelu({ name: 'a.b' })).toThrow(/layer name/);
    expect(() => buildModel(defineModel('m', [4], [globalAvgPool2d()]))).toThrow(
      'nn.globalAvgPool2d: "pool1" expects an input of rank 4 [N, C, H, W], got shape [1,4]',
    );
    // A plain layer summing [N, 4] to [N] before it: rank 1.
    const toRank1: Layer = (x) => sumOp(x, { axes: 1 });
    expect(() => buildModel(defineModel('m', [4], [toRank1, localResponseNorm({ name: 'n' })]))).toThrow(
      'nn.localResponseNorm: "n" expects an input of rank >= 2 [N, C, ...], got shape [1]',
    );
  });
});
