import { describe, expect, it } from 'vitest';
import {
  buildModel,
  defineModel,
  initParams,
  lenet5,
  modelFromJson,
  modelToJson,
  nn,
  predict,
  relu as reluOp,
  summary,
  type Layer,
  type Model,
} from 'striate';
import { randomValues } from '../helpers.js';

/** JSON.stringify then parse, as a file would. */
const throughText = (model: Model): Model => modelFromJson(JSON.parse(JSON.stringify(modelToJson(model))));

/** A model with every built-in kind: scopes, residual blocks with and without a shortcut, shared weights, dropout. */
function zoo(): Model {
  const block = (name: string, filters: number, stride: number): Layer =>
    nn.scope(
      name,
      nn.sequential(
        nn.residual(
          nn.sequential(
            nn.conv2d('conv1', { filters, size: 3, stride, padding: 'same', init: nn.glorotNormal }),
            nn.tanh(),
            nn.conv2d('conv2', { filters, size: [3, 1], padding: [1, 0], bias: false, init: nn.heUniform }),
          ),
          stride > 1 || filters !== 4 ? nn.conv2d('proj', { filters, size: 1, stride, biasInit: nn.constantInit(0.25) }) : undefined,
          { name: 'sum' },
        ),
        nn.relu(),
      ),
    );
  const shared = nn.dense('shared', { units: 6, init: nn.lecunNormal, biasInit: nn.onesInit });
  return defineModel('zoo', [4, 8, 8], [
    block('block1', 4, 1),
    block('block2', 6, 2),
    nn.avgPool2d({ size: 2, padding: 'same', countIncludePad: true }),
    nn.maxPool2d({ size: [2, 2], stride: 1, name: 'squeeze' }),
    nn.flatten(),
    nn.dropout('drop', 0.3),
    nn.dense('fc', { units: 6 }),
    nn.sigmoid({ name: 'gate' }),
    shared,
    nn.relu(),
    shared,
    nn.dense('out', { units: 3, init: nn.glorotUniform }),
  ]);
}

/** Parameter names and shapes in build order, and the summary rows. */
function structure(model: Model): unknown {
  return {
    params: buildModel(model).params.map((p) => [p.name, [...p.shape], p.fans]),
    layers: summary(model).layers.map((l) => [l.name, l.kind, [...l.outputShape], l.paramCount]),
    trainingMasks: buildModel(model, { training: true }).masks.map((m) => [m.name, [...m.shape], m.rate]),
  };
}

/** A small AlexNet / network-in-network style model with every activation, local response normalisation, grouped and depthwise convolutions and global pooling. */
function lectureLayers(): Model {
  return defineModel('lecture', [3, 8, 8], [
    nn.conv2d('conv1', { filters: 6, size: 3, padding: 'same' }),
    nn.leakyRelu({ alpha: 0.2 }),
    nn.localResponseNorm({ size: 3, alpha: 1e-3, beta: 0.75, k: 2 }),
    nn.conv2d('conv2', { filters: 5, size: 3, padding: 'same' }),
    nn.elu({ alpha: 0.5, name: 'smooth' }),
    nn.localResponseNorm(),
    nn.conv2d('conv3', { filters: 4, size: 1 }),
    nn.conv2d('depthwise', { filters: 4, size: 3, padding: 'same', groups: 4 }),
    nn.conv2d('grouped', { filters: 6, size: 1, groups: 2 }),
    nn.relu6(),
    nn.leakyRelu(),
    nn.elu(),
    nn.globalAvgPool2d({ name: 'gap' }),
  ]);
}

describe('modelToJson / modelFromJson', () => {
  it.each([
    ['lenet5()', lenet5()],
    ['lenet5 with dropout', lenet5({ dropout: 0.5, classes: 7, inputShape: [1, 32, 32] })],
    ['a model with scope, residual, dropout and shared weights', zoo()],
    ['a model with leakyRelu, elu, relu6, localResponseNorm, grouped convolutions and globalAvgPool2d', lectureLayers()],
  ])('round-trips %s: the same parameters, layers, initial values and outputs', async (_, model) => {
    const copy = throughText(model);
    expect(copy.name).toBe(model.name);
    expect(copy.inputShape).toEqual(model.inputShape);
    expect(structure(copy)).toEqual(structure(model));
    // The initialisers are kept too: the same seed gives the same first values.
    const params = initParams(model, 11);
    expect(initParams(copy, 11)).toEqual(params);
    const per = model.inputShape.reduce((a, b) => a * b, 1);
    const x = Float32Array.from(randomValues(3 * per, 4));
    const [a, b] = await Promise.all([model, copy].map((m) => predict(m, params, x, { backend: 'reference' })));
    expect(b.logits).toEqual(a.logits);
    // Describing the copy gives the same description.
    expect(modelToJson(copy)).toEqual(modelToJson(model));
  });

  it('writes a plain description: kinds, names, options, children; initialisers by name; a shared layer once', () => {
    const shared = nn.dense('s', { units: 8, bias: false }); // [N, 2·2·2] → [N, 8], twice
    const m = defineModel('tiny', [1, 4, 4], [
      nn.conv2d('c', { filters: 2, size: 3, init: nn.heUniform, biasInit: nn.constantInit(-0.5) }),
      nn.relu(),
      nn.flatten({ name: 'flat' }),
      shared,
      shared,
    ]);
    expect(JSON.parse(JSON.stringify(modelToJson(m)))).toEqual({
      format: 'striate-model',
      version: 1,
      name: 'tiny',
      inputShape: [1, 4, 4],
      forward: {
        kind: 'sequential',
        children: [
          { kind: 'conv2d', name: 'c', options: { filters: 2, size: 3, init: 'heUniform', biasInit: { constant: -0.5 } } },
          { kind: 'relu' },
          { kind: 'flatten', name: 'flat' },
          { kind: 'dense', name: 's', options: { units: 8, bias: false }, id: 1 },
          { kind: 'shared', id: 1 },
        ],
      },
    });
    // Not the same name and shape twice by accident: the copy's two uses share one parameter.
    expect(buildModel(throughText(m)).params.map((p) => p.name)).toEqual(['c.w', 'c.b', 's.w']);
  });

  it('writes a grouped convolution with its groups, and builds it grouped again', () => {
    const children = modelToJson(lectureLayers()).forward.children!;
    expect(children.filter((c) => c.kind === 'conv2d' && c.options?.groups !== undefined)).toEqual([
      { kind: 'conv2d', name: 'depthwise', options: { filters: 4, size: 3, padding: 'same', groups: 4 } },
      { kind: 'conv2d', name: 'grouped', options: { filters: 6, size: 1, groups: 2 } },
    ]);
    const shapes = Object.fromEntries(buildModel(throughText(lectureLayers())).params.map((p) => [p.name, [...p.shape]]));
    expect([shapes['depthwise.w'], shapes['grouped.w']]).toEqual([[4, 1, 3, 3], [6, 2, 1, 1]]);
  });

  it('writes the activations, local response normalisation and global pooling with the options given', () => {
    const children = modelToJson(lectureLayers()).forward.children!;
    expect(children.filter((c) => c.kind !== 'conv2d')).toEqual([
      { kind: 'leakyRelu', options: { alpha: 0.2 } },
      { kind: 'localResponseNorm', options: { size: 3, alpha: 1e-3, beta: 0.75, k: 2 } },
      { kind: 'elu', name: 'smooth', options: { alpha: 0.5 } },
      { kind: 'localResponseNorm' },
      { kind: 'relu6' },
      { kind: 'leakyRelu' },
      { kind: 'elu' },
      { kind: 'globalAvgPool2d', name: 'gap' },
    ]);
  });

  it('refuses ill-typed and out-of-range options of the activations and of localResponseNorm', () => {
    const refuse = (layer: object): (() => Model) => () =>
      modelFromJson({ format: 'striate-model', version: 1, name: 'm', inputShape: [3, 4, 4], forward: { kind: 'sequential', children: [layer] } });
    expect(refuse({ kind: 'leakyRelu', options: { alpha: 1 } })).toThrow(
      'modelFromJson: forward.children[0] (leakyRelu) option "alpha" must be a finite number in [0, 1), got 1',
    );
    expect(refuse({ kind: 'elu', options: { alpha: 0 } })).toThrow('forward.children[0] (elu) option "alpha" must be a finite number > 0, got 0');
    expect(refuse({ kind: 'elu', options: { alpha: '1' } })).toThrow('option "alpha" must be a finite number > 0, got "1"');
    expect(refuse({ kind: 'relu6', options: { alpha: 1 } })).toThrow('forward.children[0] (relu6) has an unknown option "alpha"; the options of relu6 are none');
    expect(refuse({ kind: 'localResponseNorm', options: { size: 2.5 } })).toThrow('option "size" must be a positive integer, got 2.5');
    expect(refuse({ kind: 'localResponseNorm', options: { beta: -1 } })).toThrow('option "beta" must be a finite number >= 0, got -1');
    expect(refuse({ kind: 'localResponseNorm', options: { k: 0 } })).toThrow('option "k" must be a finite number > 0, got 0');
    expect(refuse({ kind: 'localResponseNorm', options: { bias: 1 } })).toThrow(
      'has an unknown option "bias"; the options of localResponseNorm are "size", "alpha", "beta", "k"',
    );
    // Well typed but refused by the layer itself: the constructor's error, placed.
    expect(refuse({ kind: 'localResponseNorm', options: { beta: 1e9 } })).toThrow(
      'modelFromJson: forward.children[0] (localResponseNorm): nn.localResponseNorm: beta must be a finite number in [0, 16777216], got 1000000000',
    );
    expect(refuse({ kind: 'globalAvgPool2d', name: 'g' })).not.toThrow();
  });

  it('reads a description written by hand as the model written in code', () => {
    const inCode = defineModel('hand', [2], [
      nn.dense('a', { units: 3, init: nn.lecunNormal, biasInit: nn.constantInit(0.1) }),
      nn.dense('b', { units: 2, init: nn.glorotNormal }),
    ]);
    const byHand = modelFromJson({
      format: 'striate-model',
      version: 1,
      name: 'hand',
      inputShape: [2],
      forward: {
        kind: 'sequential',
        children: [
          { kind: 'dense', name: 'a', options: { units: 3, init: 'lecunNormal', biasInit: { constant: 0.1 } } },
          { kind: 'dense', name: 'b', options: { units: 2, init: 'glorotNormal' } },
        ],
      },
    });
    expect(initParams(byHand, 3)).toEqual(initParams(inCode, 3));
    expect(initParams(byHand, 3)['a.b'].data).toEqual(new Float32Array(3).fill(0.1));
  });

  it('takes no later writes into an array the caller passed', () => {
    const size: [number, number] = [3, 3];
    const m = defineModel('m', [1, 6, 6], [nn.conv2d('c', { filters: 1, size, stride: size })]);
    size[0] = 1;
    expect(modelToJson(m).forward.children![0].options).toEqual({ filters: 1, size: [3, 3], stride: [3, 3] });
    expect(buildModel(m).output.shape).toEqual([1, 1, 2, 2]);
  });

  it('refuses a layer written as a plain function, and a custom initialiser, saying what to do', () => {
    const skip: Layer = (x, ctx) => reluOp(nn.dense('d', { units: 3 })(x, ctx));
    const m = defineModel('custom', [3], [nn.dense('a', { units: 3 }), nn.scope('blk', nn.sequential(nn.relu(), skip))]);
    expect(() => modelToJson(m)).toThrow(
      'modelToJson: model "custom" has a layer that is a plain function "skip" (at sequential[1] > scope "blk"[0] > sequential[1]), ' +
        'which cannot be described as JSON; build the model from built-in layers',
    );
    expect(() => modelToJson(m)).toThrow(/or save the weights only \(saveCheckpoint without model\)/);
    expect(() => modelToJson(defineModel('anon', [3], (x) => x))).toThrow('model "anon" has a layer that is an anonymous plain function, which');

    const mine = (shape: readonly number[]): Float32Array => new Float32Array(shape.reduce((a, b) => a * b, 1));
    const withInit = defineModel('init', [3], [nn.dense('d', { units: 2, init: mine })]);
    expect(() => modelToJson(withInit)).toThrow('modelToJson: sequential[0] > dense "d" has a custom initialiser for "init", which cannot be described as JSON');
  });

  describe('refuses a bad description, naming the place', () => {
    const good = (): ReturnType<typeof modelToJson> => JSON.parse(JSON.stringify(modelToJson(lenet5())));
    const refuse = (edit: (j: any) => void): (() => Model) => {
      const j = good();
      edit(j);
      return () => modelFromJson(j);
    };

    it('an unknown or newer format version, or another format', () => {
      expect(refuse((j) => (j.version = 2))).toThrow(
        'modelFromJson: the description has format version 2, but this Striate reads only version 1; it was written by a newer Striate',
      );
      expect(refuse((j) => (j.version = '1'))).toThrow('modelFromJson: the description has format version "1", but this Striate reads only version 1');
      expect(refuse((j) => (j.format = 'keras'))).toThrow('modelFromJson: "format" is "keras", expected "striate-model"');
      expect(() => modelFromJson(JSON.stringify(good()))).toThrow('modelFromJson: expected the parsed description (JSON.parse(text)), got a string');
      expect(refuse((j) => (j.extra = 1))).toThrow('modelFromJson: the description has an unknown field "extra"');
    });

    it('an unknown layer kind, field or option', () => {
      expect(refuse((j) => (j.forward.children[1].kind = 'gelu'))).toThrow(
        'modelFromJson: forward.children[1] has unknown layer kind "gelu"; the kinds are "conv2d", "dense", "relu"',
      );
      expect(refuse((j) => (j.forward.children[0].options.kernel = 5))).toThrow(
        'modelFromJson: forward.children[0] (conv2d "conv1") has an unknown option "kernel"; the options of conv2d are "filters", "size"',
      );
      expect(refuse((j) => (j.forward.children[0].code = 'alert(1)'))).toThrow('forward.children[0] (conv2d "conv1") has an unknown field "code"');
      expect(refuse((j) => (j.forward.children[0].options.init = 'Function("return 1")()'))).toThrow(
        /forward.children\[0\] \(conv2d "conv1"\) option "init": unknown initialiser "Function\(\\"return 1\\"\)\(\)"; expected one of "heNormal"/,
      );
    });

    it('missing, ill-typed and out-of-range options, and a model that does not build', () => {
      expect(refuse((j) => delete j.forward.children[0].options.size)).toThrow('forward.children[0] (conv2d "conv1") needs the option "size"');
      expect(refuse((j) => (j.forward.children[0].options.filters = 0))).toThrow(
        'forward.children[0] (conv2d "conv1") option "filters" must be a positive integer, got 0',
      );
      expect(refuse((j) => (j.forward.children[0].options.padding = { evil: true }))).toThrow(/option "padding" must be "valid", "same", a non-negative integer/);
      expect(refuse((j) => (j.forward.children[0].options.bias = 'yes'))).toThrow('option "bias" must be true or false, got "yes"');
      expect(refuse((j) => (j.forward.children[0].options.groups = 0))).toThrow(
        'forward.children[0] (conv2d "conv1") option "groups" must be a positive integer, got 0',
      );
      // LeNet-5's conv1 has 6 filters: 4 groups do not divide them; its conv2 reads 6 channels, which 4 groups cannot split.
      expect(refuse((j) => (j.forward.children[0].options.groups = 4))).toThrow('forward.children[0] (conv2d "conv1"): nn.conv2d: filters (6) must be a multiple of groups (4)');
      expect(refuse((j) => (j.forward.children[3].options.groups = 4))).toThrow(/modelFromJson: model "LeNet-5" does not build: .*"conv2" has 4 groups but its input has 6 channels/);
      expect(refuse((j) => delete j.forward.children[0].name)).toThrow('forward.children[0] (conv2d) needs a "name"');
      expect(refuse((j) => (j.forward.children[0].name = 'a.b'))).toThrow(/forward.children\[0\] \(conv2d "a.b"\): layer name must start with a letter/);
      expect(refuse((j) => (j.forward.name = 'x'))).toThrow('forward (sequential "x") takes no name');
      expect(refuse((j) => (j.forward.children[2].options.size = 40))).toThrow(/modelFromJson: model "LeNet-5" does not build: maxPool2d/);
      expect(refuse((j) => (j.inputShape = [1, -28, 28]))).toThrow(/modelFromJson: defineModel: inputShape must be the shape of one example/);
      expect(refuse((j) => j.forward.children.push({ kind: 'shared', id: 4 }))).toThrow(
        'forward.children[12] refers to layer id 4, but no layer before it has that id',
      );
      expect(refuse((j) => (j.forward = { kind: 'scope', name: 's', children: [] }))).toThrow('forward (scope "s") must have 1 children, got 0');
    });
  });
});
