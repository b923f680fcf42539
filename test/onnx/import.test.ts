/**
 * importOnnx: files Striate exported and files laid out as PyTorch writes
 * them become models that compute what ONNX Runtime computes from the same
 * file, fine-tune with train() and export again; export → import → export
 * gives the same bytes; and every kind of bad file is refused.
 */
import { lastValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { add, alexnet, broadcastTo, buildModel, compile, concat, defineModel, inception, nn, pad, slice, sum, transpose, type Layer, initParams, initStats, lenet5, nin, ofType, resnet, sgd, summary, train, vgg, type Model, type Params } from '../../src/index.js';
import { exportOnnx, importOnnx } from '../../src/onnx/index.js';
import { AttributeType, encodeModel } from '../../src/onnx/schema.js';
import { striateError } from '../helpers.js';
import { images, perturbedStats, relativeDifference, runOrt, sameBytes, striateLogits, TOLERANCE } from './ort.js';
import { floats, info, pytorchNet, values } from './pytorch.js';

const ZOO: readonly [string, () => Model][] = [
  ['LeNet-5', () => lenet5()],
  ['AlexNet', () => alexnet({ scale: 1 / 16 })],
  ['VGG-11', () => vgg({ scale: 1 / 16 })],
  ['NiN', () => nin()],
  ['GoogLeNet', () => inception({ scale: 1 / 16 })],
  ['ResNet-8', () => resnet()],
];

const worst: Record<string, number> = {};

/** The imported model's logits against ONNX Runtime's on the same file. */
async function importedAgainstOrt(bytes: Uint8Array, batch: number, inputName = 'x') {
  const imported = importOnnx(bytes);
  const size = imported.model.inputShape.reduce((a, b) => a * b, 1);
  const x = images(batch, size, 0.21);
  const ours = await striateLogits(imported.model, imported.params, imported.stats, x);
  const theirs = await runOrt(bytes, x, [batch, ...imported.model.inputShape], inputName);
  return { imported, diff: relativeDifference(ours, theirs) };
}

describe('importOnnx: Striate files', () => {
  it.each(ZOO)('%s: export → import → export gives the same bytes, and the imported model computes what ONNX Runtime does', async (name, make) => {
    const model = make();
    const stats = perturbedStats(initStats(model));
    const bytes = exportOnnx(model, initParams(model, 5), stats);
    const { imported, diff } = await importedAgainstOrt(bytes, 2);
    worst[name] = diff;
    expect(diff).toBeLessThan(TOLERANCE);
    expect(sameBytes(exportOnnx(imported.model, imported.params, imported.stats), bytes)).toBe(true);
    expect(Object.keys(imported.stats).sort()).toEqual(Object.keys(stats).sort());
  });

  it('a model of plain-function layers (slice, pad, sum, broadcastTo, transpose, concat) goes out and back the same, and computes what ONNX Runtime does', async () => {
    const mixer: Layer = (x) => {
      const cut = slice(x, [0, 0, 1, 1], [-1, 2, 4, 4]);
      const framed = pad(cut, [[0, 0], [0, 0], [1, 1], [1, 1]], 0.5);
      const spread = broadcastTo(sum(framed, { axes: [1], keepDims: true }), framed.shape);
      return concat([transpose(add(framed, spread), [0, 1, 3, 2]), x], 1);
    };
    const model = defineModel('mixer', [3, 6, 6], [mixer, nn.flatten(), nn.dense('fc', { units: 4 })]);
    const bytes = exportOnnx(model, initParams(model, 1));
    const { imported, diff } = await importedAgainstOrt(bytes, 3);
    worst['plain-function layers'] = diff;
    expect(diff).toBeLessThan(TOLERANCE);
    expect(sameBytes(exportOnnx(imported.model, imported.params), bytes)).toBe(true);
    const x = images(2, 108);
    expect(relativeDifference(await runOrt(bytes, x, [2, 3, 6, 6]), await striateLogits(model, initParams(model, 1), undefined, x))).toBeLessThan(TOLERANCE);
  });

  it('keeps the layer names and parameter names', () => {
    const model = lenet5();
    const imported = importOnnx(exportOnnx(model, initParams(model, 1)));
    expect(summary(imported.model).layers.map((l) => l.name)).toEqual(['conv1', 'relu1', 'pool1', 'conv2', 'relu2', 'pool2', 'flatten1', 'fc1', 'relu3', 'fc2', 'relu4', 'fc3']);
    expect(Object.keys(imported.params)).toEqual(['conv1.w', 'conv1.b', 'conv2.w', 'conv2.b', 'fc1.w', 'fc1.b', 'fc2.w', 'fc2.b', 'fc3.w', 'fc3.b']);
    expect(summary(imported.model).totalParams).toBe(44426);
    expect(imported.producer.name).toBe('striate');
    expect(imported.opset).toBe(13);
  });
});

/** `count` labelled examples of `model`'s input shape. */
function dataset(model: Model, count: number, classes: number) {
  const size = model.inputShape.reduce((a, b) => a * b, 1);
  return { images: images(count, size, 0.13), labels: Uint8Array.from({ length: count }, (_, i) => i % classes), count };
}

async function fineTune(model: Model, params: Params, stats: Params, classes: number) {
  const run = train({ model, data: { train: dataset(model, 8, classes) }, optimizer: sgd({ lr: 0.05 }), epochs: 1, batchSize: 4, backend: 'reference', seed: 3, initial: { params, stats } });
  return (await lastValueFrom(run.pipe(ofType('done')))).state;
}

const changed = (a: Params, b: Params, name: string): boolean => a[name].data.some((v, i) => v !== b[name].data[i]);

describe('importOnnx: a file laid out as PyTorch exports one', () => {
  it.each([
    ['initializers not listed as inputs', {}],
    ['initializers also listed as graph inputs', { initializersAsInputs: true }],
  ])('%s: imports and computes what ONNX Runtime does', async (label, options) => {
    const bytes = pytorchNet(options);
    const { imported, diff } = await importedAgainstOrt(bytes, 3, 'input');
    worst[`PyTorch layout, ${label}`] = diff;
    expect(diff).toBeLessThan(TOLERANCE);
    expect(Object.keys(imported.params)).toEqual(['conv1.weight', 'conv1.bias', 'bn1.weight', 'bn1.bias', 'conv2.weight', 'conv2.bias', 'fc.weight', 'fc.bias']);
    expect(Object.keys(imported.stats)).toEqual(['bn1.running_mean', 'bn1.running_var']);
    expect(imported.model.inputShape).toEqual([3, 12, 12]);
    expect(imported.inputName).toBe('input');
    expect(imported.outputName).toBe('output');
    expect(imported.producer).toEqual({ name: 'pytorch', version: '2.1.0' });
    expect(summary(imported.model).layers.map((l) => l.name)[0]).toBe('_/conv1/Conv');
  });

  it('a fixed batch size and a constant-folded Reshape [batch, -1] import for any batch size', async () => {
    const bytes = pytorchNet({ fixedBatch: 2 });
    const { diff } = await importedAgainstOrt(bytes, 2, 'input');
    expect(diff).toBeLessThan(TOLERANCE);
    const imported = importOnnx(bytes);
    const x = images(5, 3 * 12 * 12);
    const five = await striateLogits(imported.model, imported.params, imported.stats, x);
    // Each example's logits are those of the file, run two at a time in ONNX Runtime.
    const pairs = await runOrt(bytes, x.slice(0, 2 * 432), [2, 3, 12, 12], 'input');
    expect(relativeDifference(five.slice(0, 10), pairs)).toBeLessThan(TOLERANCE);
  });

  it('fine-tunes with train(): gradients reach every parameter, the running statistics move, and the result exports to what ONNX Runtime computes', async () => {
    const imported = importOnnx(pytorchNet());
    const state = await fineTune(imported.model, imported.params, imported.stats, 5);
    // conv1.bias alone stays: the batch norm after conv1 subtracts each channel's mean, so a
    // per-channel constant has no effect on the loss and its gradient is exactly zero.
    for (const name of Object.keys(imported.params)) if (name !== 'conv1.bias') expect(changed(state.params, imported.params, name), `${name} did not change`).toBe(true);
    expect(relativeDifference(state.params['conv1.bias'].data, imported.params['conv1.bias'].data)).toBeLessThan(1e-6);
    expect(changed(state.stats, imported.stats, 'bn1.running_mean')).toBe(true);
    const bytes = exportOnnx(imported.model, state.params, state.stats);
    const x = images(3, 432, 0.3);
    const diff = relativeDifference(await runOrt(bytes, x, [3, 3, 12, 12]), await striateLogits(imported.model, state.params, state.stats, x));
    worst['PyTorch layout, fine-tuned and exported again'] = diff;
    expect(diff).toBeLessThan(TOLERANCE);
  });

  it('LeNet-5 through ONNX fine-tunes like LeNet-5 itself: the same losses step for step', async () => {
    const model = lenet5();
    const params = initParams(model, 2);
    const imported = importOnnx(exportOnnx(model, params));
    const [a, b] = await Promise.all([fineTune(model, params, {}, 10), fineTune(imported.model, imported.params, {}, 10)]);
    for (const name of Object.keys(params)) expect(relativeDifference(b.params[name].data, a.params[name].data)).toBeLessThan(1e-6);
  });

  it('the other ops and attributes other exporters write (auto_pad, LRN, ceil_mode with count_include_pad, Clip, Pad, ReduceMean, MatMul, Softmax) compute what ONNX Runtime does', async () => {
    const ints = (name: string, v: number[]) => ({ name, type: AttributeType.INTS, ints: v });
    const int = (name: string, i: number) => ({ name, type: AttributeType.INT, i });
    const float = (name: string, f: number) => ({ name, type: AttributeType.FLOAT, f });
    const str = (name: string, v: string) => ({ name, type: AttributeType.STRING, s: new TextEncoder().encode(v) });
    const scalarConst = (out: string, v: number) => ({ name: out, op_type: 'Constant', input: [], output: [out], attribute: [{ name: 'value', type: AttributeType.TENSOR, t: floats('', [], Float32Array.of(v)) }] });
    const bytes = encodeModel({
      ir_version: 8,
      opset_import: [{ domain: '', version: 17 }],
      producer_name: 'hand',
      graph: {
        name: 'ops',
        initializer: [floats('w1', [4, 4, 3, 3], values(144, 21)), floats('b1', [4], values(4, 22)), floats('w2', [8, 5], values(40, 23)), floats('b2', [5], values(5, 24)), { name: 'pads', dims: [8], data_type: 7, int64_data: [0, 0, 1, 1, 0, 0, 0, 0] }],
        node: [
          { name: 'c1', op_type: 'Conv', input: ['x', 'w1', 'b1'], output: ['h1'], attribute: [str('auto_pad', 'SAME_LOWER'), ints('strides', [2, 2])] },
          { name: 'lrn', op_type: 'LRN', input: ['h1'], output: ['h2'], attribute: [int('size', 3), float('alpha', 0.2), float('beta', 0.7), float('bias', 1.3)] },
          { name: 'p1', op_type: 'AveragePool', input: ['h2'], output: ['h3'], attribute: [ints('kernel_shape', [2, 2]), ints('strides', [2, 2]), ints('pads', [1, 1, 0, 0]), int('ceil_mode', 1), int('count_include_pad', 1)] },
          scalarConst('zero', 0),
          scalarConst('six', 6),
          { name: 'clip', op_type: 'Clip', input: ['h2', 'zero', 'six'], output: ['h4'], attribute: [] },
          { name: 'p2', op_type: 'MaxPool', input: ['h4'], output: ['h5'], attribute: [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1]), int('ceil_mode', 1)] },
          { name: 'cat', op_type: 'Concat', input: ['h3', 'h5'], output: ['h6'], attribute: [int('axis', 1)] },
          { name: 'leaky', op_type: 'LeakyRelu', input: ['h6'], output: ['h7'], attribute: [float('alpha', 0.2)] },
          scalarConst('half', 0.5),
          { name: 'pad', op_type: 'Pad', input: ['h7', 'pads', 'half'], output: ['h8'], attribute: [] },
          { name: 'mean', op_type: 'ReduceMean', input: ['h8'], output: ['h9'], attribute: [ints('axes', [2, 3]), int('keepdims', 0)] },
          { name: 'mm', op_type: 'MatMul', input: ['h9', 'w2'], output: ['h10'], attribute: [] },
          { name: 'bias', op_type: 'Add', input: ['h10', 'b2'], output: ['h11'], attribute: [] },
          { name: 'soft', op_type: 'Softmax', input: ['h11'], output: ['y'], attribute: [int('axis', -1)] },
        ],
        input: [info('x', ['N', 4, 9, 9])],
        output: [info('y', ['N', 5])],
      },
    });
    const { imported, diff } = await importedAgainstOrt(bytes, 3);
    worst['hand-written file of the other ops'] = diff;
    expect(diff).toBeLessThan(TOLERANCE);
    // And it exports again to a file ONNX Runtime computes the same from.
    const again = exportOnnx(imported.model, imported.params, imported.stats);
    const x = images(2, 4 * 81);
    expect(relativeDifference(await runOrt(again, x, [2, 4, 9, 9]), await runOrt(bytes, x, [2, 4, 9, 9]))).toBeLessThan(TOLERANCE);
  });

  it("LRN of an even size follows ONNX's window, c − (size/2 − 1) to c + size/2 (ONNX Runtime refuses even sizes; checked against the formula)", async () => {
    const [C, size, alpha, beta, bias] = [5, 4, 0.3, 0.6, 1.2];
    const bytes = file([{ name: 'lrn', op_type: 'LRN', input: ['x'], output: ['y'], attribute: [{ name: 'size', type: AttributeType.INT, i: size }, { name: 'alpha', type: AttributeType.FLOAT, f: alpha }, { name: 'beta', type: AttributeType.FLOAT, f: beta }, { name: 'bias', type: AttributeType.FLOAT, f: bias }] }], {
      inputs: [info('x', ['N', C, 1, 1])],
    });
    const imported = importOnnx(bytes);
    const x = images(2, C);
    const built = buildModel(imported.model, { batchSize: 2 });
    const [y] = await compile([built.output], { backend: 'reference' }).run({ x });
    const f32 = (v: number) => Math.fround(v);
    for (let n = 0; n < 2; n++) {
      for (let c = 0; c < C; c++) {
        let sq = 0;
        for (let j = c - Math.floor((size - 1) / 2); j <= c + Math.ceil((size - 1) / 2); j++) if (j >= 0 && j < C) sq += x[n * C + j] ** 2;
        const want = x[n * C + c] / (f32(bias) + (f32(alpha) / size) * sq) ** f32(beta);
        expect(Math.abs(y.data[n * C + c] - want)).toBeLessThan(1e-6);
      }
    }
  });

  it('prints the worst differences', () => {
    console.log(Object.entries(worst).map(([k, v]) => `${k}: ${v.toExponential(2)}`).join('\n'));
    expect(Object.keys(worst).length).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------
// Refusals, on a one-node file a test changes

type NodeSpec = { name?: string; op_type: string; input: string[]; output: string[]; attribute?: object[] };

function file(nodes: NodeSpec[], extra: { initializer?: object[]; opset?: number; inputs?: object[] } = {}): Uint8Array {
  return encodeModel({
    ir_version: 8,
    opset_import: [{ domain: '', version: extra.opset ?? 17 }],
    graph: {
      name: 'g',
      node: nodes.map((n) => ({ attribute: [], ...n })),
      initializer: extra.initializer ?? [],
      input: extra.inputs ?? [info('x', ['N', 2, 6, 6])],
      output: [info('y', ['N', 2, 6, 6])],
    },
  });
}
const intsAttr = (name: string, ints: number[]) => ({ name, type: AttributeType.INTS, ints });

describe('importOnnx: refusals', () => {
  it('a file it reads, for the refusals below to change one thing of', () => {
    const ok = importOnnx(file([{ name: 'r', op_type: 'Relu', input: ['x'], output: ['y'] }]));
    expect(ok.model.inputShape).toEqual([2, 6, 6]);
  });

  it('an unknown op, naming the node', () => {
    const e = striateError(() => importOnnx(file([{ name: 'up1', op_type: 'Resize', input: ['x'], output: ['y'] }])), 'importOnnx');
    expect(e.message).toContain('node "up1" (Resize)');
    expect(e.message).toContain('Conv');
  });

  it('an op of another domain', () => {
    const nodes = [{ name: 'f', op_type: 'FusedConv', input: ['x'], output: ['y'], domain: 'com.microsoft' }];
    expect(striateError(() => importOnnx(file(nodes)), 'importOnnx').message).toContain('domain "com.microsoft"');
  });

  it('an unsupported attribute, naming the node and the attribute', () => {
    const e = striateError(() => importOnnx(file([{ name: 'r', op_type: 'Relu', input: ['x'], output: ['y'], attribute: [{ name: 'fancy', type: AttributeType.INT, i: 1 }] }])), 'importOnnx');
    expect(e.message).toContain('node "r" (Relu) has attribute "fancy"');
  });

  it.each([
    ['MaxPool', [intsAttr('kernel_shape', [2, 2, 2])], 'kernel_shape'],
    ['MaxPool', [intsAttr('kernel_shape', [2, 2]), { name: 'auto_pad', type: AttributeType.STRING, s: new TextEncoder().encode('SOMETIMES') }], 'auto_pad'],
    ['MaxPool', [intsAttr('kernel_shape', [2, 2]), intsAttr('strides', [0, 1])], 'strides'],
    ['MaxPool', [intsAttr('kernel_shape', [2, 2]), intsAttr('pads', [-1, 0, 0, 0])], 'pads'],
    ['LeakyRelu', [{ name: 'alpha', type: AttributeType.FLOAT, f: 2 }], 'alpha'],
    ['Softmax', [{ name: 'axis', type: AttributeType.INT, i: 7 }], 'axis'],
    ['MaxPool', [{ name: 'kernel_shape', type: AttributeType.FLOATS, floats: [2, 2] }], 'kernel_shape'],
    ['LRN', [{ name: 'size', type: AttributeType.INT, i: 2 ** 40 }], 'size'],
  ])('%s with an unsupported attribute value or type (%#)', (op, attribute, attr) => {
    const e = striateError(() => importOnnx(file([{ name: 'n1', op_type: op, input: ['x'], output: ['y'], attribute }])), 'importOnnx');
    expect(e.message).toContain(`node "n1" (${op})`);
    expect(e.message).toContain(`"${attr}"`);
  });

  it('Clip bounds other than relu6 and relu', () => {
    const initializer = [floats('lo', [], Float32Array.of(-1)), floats('hi', [], Float32Array.of(1))];
    const e = striateError(() => importOnnx(file([{ name: 'c', op_type: 'Clip', input: ['x', 'lo', 'hi'], output: ['y'] }], { initializer })), 'importOnnx');
    expect(e.message).toContain('node "c" (Clip) clips to [-1, 1]');
  });

  it('a truncated file, at every tenth of its length', () => {
    const bytes = pytorchNet();
    for (let k = 1; k < 10; k++) striateError(() => importOnnx(bytes.subarray(0, Math.floor((bytes.length * k) / 10))), 'importOnnx');
  });

  it('random bytes, and an empty file', () => {
    const noise = values(4096, 99).map((v) => v);
    const bytes = new Uint8Array(noise.buffer);
    for (let offset = 0; offset < 64; offset += 8) striateError(() => importOnnx(bytes.subarray(offset)), 'importOnnx');
    striateError(() => importOnnx(new Uint8Array(0)), 'importOnnx');
    striateError(() => importOnnx('model.onnx' as unknown as Uint8Array), 'importOnnx');
  });

  it('a tensor whose data length disagrees with its dims', () => {
    const short = { ...floats('w', [2, 2, 1, 1], values(3, 1)) };
    const conv = [{ name: 'c', op_type: 'Conv', input: ['x', 'w'], output: ['y'] }];
    const e = striateError(() => importOnnx(file(conv, { initializer: [short] })), 'importOnnx');
    expect(e.message).toContain('initializer "w" has dimensions [2, 2, 1, 1] (4 values) but its raw_data holds 3');
    const typed = floats('w', [2, 2, 1, 1], values(5, 1), false);
    expect(striateError(() => importOnnx(file(conv, { initializer: [typed] })), 'importOnnx').message).toContain('float_data holds 5');
    const shape = { name: 's', dims: [4], data_type: 7, int64_data: [1, 2, 6, 6, 1] };
    const reshape = [{ name: 'r', op_type: 'Reshape', input: ['x', 's'], output: ['y'] }];
    expect(striateError(() => importOnnx(file(reshape, { initializer: [shape] })), 'importOnnx').message).toContain('int64_data holds 5');
  });

  it('non-finite weights, external data, an unsupported data type', () => {
    const conv = [{ name: 'c', op_type: 'Conv', input: ['x', 'w'], output: ['y'] }];
    const nan = floats('w', [2, 2, 1, 1], Float32Array.of(1, Number.NaN, 0, 1));
    expect(striateError(() => importOnnx(file(conv, { initializer: [nan] }))).message).toContain('non-finite');
    const external = { name: 'w', dims: [2, 2, 1, 1], data_type: 1, data_location: 1, external_data: [{ key: 'location', value: '../../etc/passwd' }] };
    expect(striateError(() => importOnnx(file(conv, { initializer: [external] }))).message).toContain('external');
    const half = { name: 'w', dims: [2, 2, 1, 1], data_type: 10, raw_data: new Uint8Array(8) };
    expect(striateError(() => importOnnx(file(conv, { initializer: [half] }))).message).toContain('FLOAT16');
  });

  it('nodes out of topological order, an opset outside 11 to 22, two image inputs', () => {
    const nodes = [
      { name: 'b', op_type: 'Relu', input: ['h'], output: ['y'] },
      { name: 'a', op_type: 'Relu', input: ['x'], output: ['h'] },
    ];
    expect(striateError(() => importOnnx(file(nodes))).message).toContain('topological');
    const relu = [{ name: 'r', op_type: 'Relu', input: ['x'], output: ['y'] }];
    expect(striateError(() => importOnnx(file(relu, { opset: 9 }))).message).toContain('opset 9');
    const two = [info('x', ['N', 2, 6, 6]), info('z', ['N', 2, 6, 6])];
    expect(striateError(() => importOnnx(file(relu, { inputs: two }))).message).toContain('2 inputs');
  });

  it('a graph that does not build, naming the node', () => {
    const w = floats('w', [3, 5, 1, 1], values(15, 1));
    const e = striateError(() => importOnnx(file([{ name: 'c', op_type: 'Conv', input: ['x', 'w'], output: ['y'] }], { initializer: [w] })), 'importOnnx');
    expect(e.message).toContain('node "c" (Conv)');
  });
});
