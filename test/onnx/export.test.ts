/**
 * exportOnnx against ONNX Runtime: every zoo model and LeNet-5, and a model
 * made to reach every pooling, activation and normalisation rule, computed
 * by ONNX Runtime within 1e-4 of Striate's float64 reference; and the
 * refusals.
 */
import { describe, expect, it } from 'vitest';
import { alexnet, defineModel, inception, initParams, initStats, lenet5, nin, nn, resnet, vgg, type Layer, type Model } from '../../src/index.js';
import { exportOnnx } from '../../src/onnx/index.js';
import { logSoftmax, softmax } from '../../src/index.js';
import { step } from '../../src/ops/step.js';
import { reshape } from '../../src/ops/reshape.js';
import { striateError } from '../helpers.js';
import { decoded, images, opTypes, perturbedStats, relativeDifference, runOrt, sameBytes, striateLogits, TOLERANCE } from './ort.js';

/** The zoo at its default (already small) scales, some narrower still, on 28×28 digits. */
const MODELS: readonly [string, () => Model, readonly string[]][] = [
  ['LeNet-5', () => lenet5(), ['Conv', 'Relu', 'MaxPool', 'Flatten', 'Gemm']],
  ['AlexNet', () => alexnet({ scale: 1 / 16 }), ['Conv', 'LRN', 'MaxPool', 'Gemm']],
  ['VGG-11', () => vgg({ scale: 1 / 16 }), ['Conv', 'MaxPool', 'Gemm']],
  ['NiN', () => nin(), ['Conv', 'MaxPool', 'GlobalAveragePool', 'Flatten']],
  ['GoogLeNet', () => inception({ scale: 1 / 16 }), ['Conv', 'LRN', 'Concat', 'GlobalAveragePool', 'Gemm']],
  ['ResNet-8', () => resnet(), ['Conv', 'BatchNormalization', 'Add', 'GlobalAveragePool', 'Gemm']],
];

/** Worst relative differences measured, printed at the end for the notes. */
const worst: Record<string, number> = {};

async function checkAgainstOrt(model: Model, batch = 3, stats = perturbedStats(initStats(model)), options = {}): Promise<{ bytes: Uint8Array; diff: number }> {
  const params = initParams(model, 7);
  const bytes = exportOnnx(model, params, stats, options);
  const size = model.inputShape.reduce((a, b) => a * b, 1);
  const x = images(batch, size);
  const ours = await striateLogits(model, params, stats, x);
  const theirs = await runOrt(bytes, x, [batch, ...model.inputShape]);
  return { bytes, diff: relativeDifference(theirs, ours) };
}

describe('exportOnnx: the zoo and LeNet-5 in ONNX Runtime', () => {
  it.each(MODELS)('%s: ONNX Runtime computes the logits Striate does, within 1e-4', async (name, make, ops) => {
    const { bytes, diff } = await checkAgainstOrt(make());
    worst[name] = diff;
    expect(diff).toBeLessThan(TOLERANCE);
    const types = opTypes(bytes);
    for (const op of ops) expect(types, `${name} should export a ${op} node`).toContain(op);
    // The composites are written as their ONNX op, never as their pieces.
    expect(types).not.toContain('Pow');
    expect(types).not.toContain('ReduceSum');
    expect(types).not.toContain('MatMul');
  });

  it('writes opset 13, a symbolic batch, layer-named nodes and Striate-named initializers', async () => {
    const m = decoded(exportOnnx(lenet5(), initParams(lenet5(), 1)));
    expect(m.opset_import).toEqual([{ version: '13' }]); // the default domain, '' (proto2 leaves an empty string out)
    expect(m.ir_version).toBe('7');
    expect(m.producer_name).toBe('striate');
    const g = m.graph!;
    expect(g.input.map((v) => v.name)).toEqual(['x']);
    expect(g.input[0].type!.tensor_type!.shape!.dim).toEqual([{ dim_param: 'N' }, { dim_value: '1' }, { dim_value: '28' }, { dim_value: '28' }]);
    expect(g.output[0].name).toBe('logits');
    expect(g.output[0].type!.tensor_type!.shape!.dim).toEqual([{ dim_param: 'N' }, { dim_value: '10' }]);
    expect(g.node.map((n) => n.name)).toEqual(['conv1', 'relu1', 'pool1', 'conv2', 'relu2', 'pool2', 'flatten1', 'fc1', 'relu3', 'fc2', 'relu4', 'fc3']);
    expect(g.initializer.map((t) => t.name)).toEqual(['conv1.w', 'conv1.b', 'conv2.w', 'conv2.b', 'fc1.w', 'fc1.b', 'fc2.w', 'fc2.b', 'fc3.w', 'fc3.b']);
  });

  it('a fixed batchSize writes that batch; the file then runs on it', async () => {
    const model = lenet5();
    const { bytes, diff } = await checkAgainstOrt(model, 2, {}, { batchSize: 2 });
    expect(diff).toBeLessThan(TOLERANCE);
    expect(decoded(bytes).graph!.input[0].type!.tensor_type!.shape!.dim[0]).toEqual({ dim_value: '2' });
  });

  it('dropout is the identity: AlexNet with and without dropout export the same graph', () => {
    const a = alexnet({ scale: 1 / 16 });
    const b = alexnet({ scale: 1 / 16, dropout: 0 });
    expect(sameBytes(exportOnnx(a, initParams(a, 3)), exportOnnx(b, initParams(b, 3)))).toBe(true);
  });
});

describe('exportOnnx: every pooling, activation and normalisation rule, in ONNX Runtime', () => {
  // Each case is a small model; the padding rules are the subtle part, so each combination has its own.
  const conv = (name: string, filters: number, extra = {}): Layer => nn.conv2d(name, { filters, size: 3, padding: 1, ...extra });
  const head = (classes = 5): Layer[] => [nn.flatten(), nn.dense('fc', { units: classes })];
  const CASES: readonly [string, Model][] = [
    ['max pool, ceil rounding', defineModel('a', [2, 9, 9], [conv('c', 3), nn.maxPool2d({ size: 2, ceil: true }), ...head()])],
    ['max pool, ceil and padding', defineModel('a', [2, 10, 10], [conv('c', 3), nn.maxPool2d({ size: 3, stride: 2, padding: 1, ceil: true }), ...head()])],
    ['max pool, dilated, same', defineModel('a', [2, 9, 9], [conv('c', 3), nn.maxPool2d({ size: 2, stride: 2, dilation: 2, padding: 'same' }), ...head()])],
    ['max pool, ceil, stride beyond the window', defineModel('a', [1, 9, 9], [conv('c', 2), nn.maxPool2d({ size: 2, stride: 3, padding: 1, ceil: true }), ...head()])],
    ['average pool, padding not counted', defineModel('a', [2, 9, 9], [conv('c', 3), nn.avgPool2d({ size: 3, stride: 2, padding: 1 }), ...head()])],
    ['average pool, padding counted', defineModel('a', [2, 9, 9], [conv('c', 3), nn.avgPool2d({ size: 3, stride: 2, padding: 1, countIncludePad: true }), ...head()])],
    ['average pool, ceil, padding not counted', defineModel('a', [2, 10, 10], [conv('c', 3), nn.avgPool2d({ size: 3, stride: 2, padding: 1, ceil: true }), ...head()])],
    ['average pool, ceil, padding counted', defineModel('a', [2, 10, 10], [conv('c', 3), nn.avgPool2d({ size: 3, stride: 2, padding: 1, ceil: true, countIncludePad: true }), ...head()])],
    ['average pool, same', defineModel('a', [2, 9, 9], [conv('c', 3), nn.avgPool2d({ size: 2, stride: 2, padding: 'same' }), ...head()])],
    ['strided, dilated, grouped, asymmetric convolutions', defineModel('a', [4, 11, 11], [nn.conv2d('c1', { filters: 6, size: [3, 2], stride: [2, 1], padding: 'same', dilation: [1, 2], groups: 2 }), nn.conv2d('c2', { filters: 4, size: 3, padding: [0, 1, 2, 1], bias: false }), ...head()])],
    ['activations', defineModel('a', [2, 6, 6], [conv('c1', 4), nn.leakyRelu({ alpha: 0.1 }), conv('c2', 4), nn.elu({ alpha: 0.7 }), conv('c3', 4), nn.relu6(), conv('c4', 4), nn.sigmoid(), conv('c5', 4), nn.tanh(), ...head()])],
    ['LRN of an even size (written op by op)', defineModel('a', [6, 5, 5], [conv('c', 6), nn.localResponseNorm({ size: 4, alpha: 0.3, beta: 0.6, k: 1.5 }), ...head()])],
    ['LRN of an odd size', defineModel('a', [6, 5, 5], [conv('c', 6), nn.localResponseNorm({ size: 3, alpha: 0.3, beta: 0.6, k: 1.5 }), ...head()])],
    ['batch norm after a dense layer, epsilon', defineModel('a', [3, 4, 4], [nn.flatten(), nn.dense('d', { units: 8 }), nn.batchNorm('bn', { epsilon: 1e-3 }), nn.relu(), nn.dense('fc', { units: 3 })])],
    ['softmax and log-softmax outputs (plain function layers)', defineModel('a', [2, 4, 4], [...head(6), (x) => softmax(x, 1), nn.dense('g', { units: 4 }), (x) => logSoftmax(x, -1)])],
    ['a residual block with a projection and a checkpoint', defineModel('a', [3, 8, 8], [nn.checkpoint(nn.residual(nn.sequential(conv('a', 4, { stride: 2 }), nn.relu(), conv('b', 4)), nn.conv2d('p', { filters: 4, size: 1, stride: 2 }))), nn.globalAvgPool2d(), nn.dense('fc', { units: 3 })])],
  ];
  it.each(CASES)('%s', async (name, model) => {
    const { bytes, diff } = await checkAgainstOrt(model);
    worst[`case: ${name}`] = diff;
    expect(diff).toBeLessThan(TOLERANCE);
    if (name.includes('even size')) expect(opTypes(bytes)).not.toContain('LRN');
    if (name.includes('odd size')) expect(opTypes(bytes)).toContain('LRN');
    if (name.includes('dense layer')) expect(opTypes(bytes)).toContain('BatchNormalization');
  });

  it('prints the worst differences', () => {
    console.log(Object.entries(worst).map(([k, v]) => `${k}: ${v.toExponential(2)}`).join('\n'));
    expect(Object.keys(worst).length).toBeGreaterThan(0);
  });
});

describe('exportOnnx: refusals', () => {
  it('an op with no ONNX form, naming the node', () => {
    const model = defineModel('stepper', [1, 4, 4], [nn.flatten({ name: 'flat' }), nn.dense('fc', { units: 3 }), (x) => step(x)]);
    const e = striateError(() => exportOnnx(model, initParams(model, 1)), 'exportOnnx');
    expect(e.message).toMatch(/node "step_\d+" \(step\)/);
  });

  it('a model with batch norm and no statistics', () => {
    const e = striateError(() => exportOnnx(resnet(), initParams(resnet(), 1)), 'exportOnnx');
    expect(e.message).toContain('stage1.block1.bn1.mean');
  });

  it('parameters missing or of the wrong shape', () => {
    const params = initParams(lenet5(), 1);
    striateError(() => exportOnnx(lenet5(), { ...params, 'fc3.b': { shape: [9], data: new Float32Array(9) } }), 'exportOnnx');
    const { ['conv1.w']: _, ...rest } = params;
    striateError(() => exportOnnx(lenet5(), rest), 'exportOnnx');
  });

  it('a reshape across the batch in a dynamic export, which a fixed batch size allows', async () => {
    const model = defineModel('mixer', [2, 3], [(x) => reshape(x, [1, x.size]), nn.dense('fc', { units: 2 })]);
    const params = initParams(model, 1);
    const e = striateError(() => exportOnnx(model, params), 'exportOnnx');
    expect(e.message).toContain('batchSize');
    const bytes = exportOnnx(model, params, undefined, { batchSize: 1 });
    const x = images(1, 6);
    expect(relativeDifference(await runOrt(bytes, x, [1, 2, 3]), await striateLogits(model, params, undefined, x))).toBeLessThan(TOLERANCE);
  });

  it('bad options', () => {
    const params = initParams(lenet5(), 1);
    striateError(() => exportOnnx(lenet5(), params, undefined, { batchSize: 0 }), 'exportOnnx');
    striateError(() => exportOnnx(lenet5(), params, undefined, { inputName: 'a b' }), 'exportOnnx');
    striateError(() => exportOnnx(lenet5(), params, undefined, { outputName: 'x' }), 'exportOnnx');
    striateError(() => exportOnnx(lenet5(), params, undefined, { opset: 9 } as object), 'exportOnnx');
  });
});
