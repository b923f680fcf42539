/**
 * Layers: functions that build graph pieces with named parameters.
 *
 * A layer with weights takes its name first (`conv2d('conv1', ...)` reads the
 * graph inputs `conv1.w` and `conv1.b`); layers without weights are named
 * automatically (`relu1`, `pool1`, ...) unless given `{ name }`. Each returns a
 * `Layer`, a function `(x, ctx) => y`, so layers compose as plain functions:
 *
 * ```ts
 * const block = sequential(conv2d('c1', { filters: 64, size: 3, padding: 'same' }), relu());
 * const res: Layer = (x, ctx) => ops.relu(ops.add(block(x, ctx), x)); // a skip connection
 * ```
 *
 * Every layer made here also records its constructor arguments (spec.ts), so
 * a model made of these layers can be saved as JSON (`modelToJson`) and built
 * again without the code that made it.
 */
import { describeValue, fail } from '../graph/error.js';
import { checkShape } from '../graph/shape.js';
import { type Shape, type Tensor, shapeToString, sizeOf } from '../graph/tensor.js';
import type { Rng } from '../data/random.js';
import { add } from '../ops/add.js';
import { avgPool2d as avgPool2dOp, type AvgPool2dOptions } from '../ops/avgPool2d.js';
import { checkpoint as checkpointOp } from '../ops/checkpoint.js';
import { conv2d as conv2dOp } from '../ops/conv2d.js';
import { checkEluAlpha, elu as eluOp, type EluOptions } from '../ops/elu.js';
import { globalAvgPool2d as globalAvgPool2dOp } from '../ops/globalPool.js';
import { checkLeakyReluAlpha, leakyRelu as leakyReluOp, type LeakyReluOptions } from '../ops/leakyRelu.js';
import { localResponseNorm as localResponseNormOp, localResponseNormParams, type LocalResponseNormOptions } from '../ops/lrn.js';
import { matmul } from '../ops/matmul.js';
import { maxPool2d as maxPool2dOp } from '../ops/maxPool2d.js';
import type { Pool2dOptions } from '../ops/pool2dGeometry.js';
import { mul } from '../ops/mul.js';
import { relu as reluOp } from '../ops/relu.js';
import { relu6 as relu6Op } from '../ops/relu6.js';
import { flatten as flattenOp } from '../ops/reshape.js';
import { sigmoid as sigmoidOp } from '../ops/sigmoid.js';
import { tanh as tanhOp } from '../ops/tanh.js';
import type { Padding } from '../ops/window.js';
import { checkLayerName, type Layer } from './context.js';
import { glorotUniform, heNormal, type Initializer, zerosInit } from './init.js';
import { checkOptions, describeLayer, pickOptions, showValue as shown } from './spec.js';

export type { Layer } from './context.js';

function pair(who: string, what: string, v: number | readonly [number, number]): [number, number] {
  const p = typeof v === 'number' ? [v, v] : Array.isArray(v) && v.length === 2 ? [v[0], v[1]] : null;
  if (p === null || !p.every((d) => Number.isInteger(d) && d >= 1)) {
    fail(who, `${what} must be a positive integer or a pair [h, w] of them, got ${shown(v)}`, `${what} ${shown(v)}`, 'a positive integer or a pair [h, w] of them');
  }
  return p as [number, number];
}

function positiveInt(who: string, what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    fail(who, `${what} must be a positive integer, got ${shown(v)}`, `${what} ${shown(v)}`, 'a positive integer');
  }
  return v;
}

function optionalBoolean(who: string, what: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') fail(who, `${what} must be true or false, got ${shown(v)}`, `${what} ${shown(v)}`, 'true or false');
  return v;
}

function optionalInitializer(who: string, what: string, v: unknown, fallback: Initializer): Initializer {
  if (v === undefined) return fallback;
  if (typeof v !== 'function') {
    fail(who, `${what} must be an initialiser (a function such as heNormal or constantInit(0)), got ${describeValue(v)}`, `${what} ${describeValue(v)}`, 'an initialiser function');
  }
  return v as Initializer;
}

function needRank(who: string, name: string, x: Tensor, rank: number, layout: string): void {
  if (x.rank !== rank) {
    fail(who, `"${name}" expects an input of rank ${rank} ${layout}, got shape ${shapeToString(x.shape)}`, `shape ${shapeToString(x.shape)}`, `rank ${rank} ${layout}`);
  }
}

// ---------------------------------------------------------------------------
// Layers with parameters

/** Options of the `conv2d` layer. */
export interface Conv2dLayerOptions {
  /** Number of filters, i.e. output channels (the lecture's L_k). */
  readonly filters: number;
  /** Filter height and width (the lecture's M_k), one number for a square filter. */
  readonly size: number | readonly [number, number];
  /** Step between filter positions, one number or [sh, sw] (default 1). */
  readonly stride?: number | readonly [number, number];
  /** 'valid' (default) | 'same' | number | [ph, pw], as for the conv2d op. */
  readonly padding?: Padding;
  /** Spacing between filter taps, one number or [dh, dw] (default 1). */
  readonly dilation?: number | readonly [number, number];
  /**
   * Split the channels into this many groups (default 1), as AlexNet split
   * its filters across two GPUs: each filter reads only C/groups input
   * channels, those of its group. It must divide `filters` and the input's
   * channels; groups = C (and filters a multiple of C) is a depthwise convolution.
   */
  readonly groups?: number;
  /** Add a bias per filter (default true). */
  readonly bias?: boolean;
  /** Filter initialiser (default He normal, for a ReLU after the layer). */
  readonly init?: Initializer;
  /** Bias initialiser (default zeros). */
  readonly biasInit?: Initializer;
}

/**
 * A convolution layer: filters `name.w` [filters, C/groups, kH, kW] (C read
 * from the input) and bias `name.b` [filters]. It has
 * filters·(C/groups·kH·kW + 1) parameters: the lecture's
 * L_k (L_{k-1} M_k² + 1) when not grouped.
 */
export function conv2d(name: string, options: Conv2dLayerOptions): Layer {
  const who = 'nn.conv2d';
  checkLayerName(who, name);
  const keys = ['filters', 'size', 'stride', 'padding', 'dilation', 'bias', 'init', 'biasInit', 'groups'] as const;
  checkOptions(who, options, keys);
  const filters = positiveInt(who, 'filters', options?.filters);
  const [kH, kW] = pair(who, 'size', options.size);
  const groups = options.groups === undefined ? 1 : positiveInt(who, 'groups', options.groups);
  if (filters % groups !== 0) {
    fail(who, `filters (${filters}) must be a multiple of groups (${groups}): each group has filters/groups of them`, `filters ${filters}, groups ${groups}`, `filters a multiple of ${groups}`);
  }
  const spec = pickOptions(options, keys);
  const { stride, padding, dilation } = spec;
  const useBias = optionalBoolean(who, 'bias', options.bias, true);
  const init = optionalInitializer(who, 'init', options.init, heNormal);
  const biasInit = optionalInitializer(who, 'biasInit', options.biasInit, zerosInit);
  const owner = {};
  const layer: Layer = (x, ctx) => {
    const full = ctx.qualify(name);
    needRank(who, full, x, 4, '[N, C, H, W]');
    const C = x.shape[1];
    if (C % groups !== 0) {
      fail(
        who,
        `"${full}" has ${groups} groups but its input has ${C} channels, which they cannot split evenly (input shape ${shapeToString(x.shape)})`,
        `${C} input channels, groups ${groups}`,
        `input channels a multiple of ${groups}`,
      );
    }
    // Each output reads C/groups channels x kH x kW taps; each input value
    // reaches the filters/groups filters of its group at kH x kW positions.
    const fans = { fanIn: (C / groups) * kH * kW, fanOut: (filters / groups) * kH * kW };
    const w = ctx.param(`${full}.w`, [filters, C / groups, kH, kW], init, fans, owner);
    const b = useBias ? ctx.param(`${full}.b`, [filters], biasInit, fans, owner) : undefined;
    const y = conv2dOp(x, w, { stride, padding, dilation, bias: b, groups });
    ctx.record(full, 'conv2d', y, b ? [w, b] : [w]);
    return y;
  };
  return describeLayer(layer, { kind: 'conv2d', name, options: spec });
}

/** Options of the `dense` layer. */
export interface DenseLayerOptions {
  /** Number of output features. */
  readonly units: number;
  /** Add a bias (default true). */
  readonly bias?: boolean;
  /** Weight initialiser (default He normal). */
  readonly init?: Initializer;
  /** Bias initialiser (default zeros). */
  readonly biasInit?: Initializer;
}

/**
 * A fully connected layer: `x [N, in] · name.w [in, units] + name.b [units]`.
 * The input must be 2-D; put `flatten()` after convolutions.
 */
export function dense(name: string, options: DenseLayerOptions): Layer {
  const who = 'nn.dense';
  checkLayerName(who, name);
  const keys = ['units', 'bias', 'init', 'biasInit'] as const;
  checkOptions(who, options, keys);
  const units = positiveInt(who, 'units', options?.units);
  const useBias = optionalBoolean(who, 'bias', options.bias, true);
  const init = optionalInitializer(who, 'init', options.init, heNormal);
  const biasInit = optionalInitializer(who, 'biasInit', options.biasInit, zerosInit);
  const owner = {};
  const layer: Layer = (x, ctx) => {
    const full = ctx.qualify(name);
    if (x.rank !== 2) {
      fail(who, `"${full}" expects an input [N, features], got shape ${shapeToString(x.shape)}; put flatten() before it`, `shape ${shapeToString(x.shape)}`, 'rank 2 [N, features]');
    }
    const fanIn = x.shape[1];
    const w = ctx.param(`${full}.w`, [fanIn, units], init, { fanIn, fanOut: units }, owner);
    const b = useBias ? ctx.param(`${full}.b`, [units], biasInit, { fanIn, fanOut: units }, owner) : undefined;
    const y = b ? add(matmul(x, w), b) : matmul(x, w);
    ctx.record(full, 'dense', y, b ? [w, b] : [w]);
    return y;
  };
  return describeLayer(layer, { kind: 'dense', name, options: pickOptions(options, keys) });
}

// ---------------------------------------------------------------------------
// Layers without parameters

/** The option every layer without parameters takes: its name. */
export interface NamedOptions {
  /** Name in the summary (default: kind and a counter, e.g. `relu2`). */
  readonly name?: string;
}

/**
 * A layer without parameters: `f` maps x to y, and the layer is named
 * `options.name` or automatically (`autoKind` and a counter). `spec` holds
 * the options besides the name, for the description.
 */
function simple(
  kind: 'relu' | 'tanh' | 'sigmoid' | 'leakyRelu' | 'elu' | 'relu6' | 'flatten' | 'maxPool2d' | 'avgPool2d' | 'globalAvgPool2d' | 'localResponseNorm',
  autoKind: string,
  options: NamedOptions | undefined,
  f: (x: Tensor, name: string) => Tensor,
  spec?: { readonly keys: readonly string[]; readonly options: object },
): Layer {
  checkOptions(`nn.${kind}`, options, ['name', ...(spec?.keys ?? [])]);
  if (options?.name !== undefined) checkLayerName(`nn.${kind}`, options.name);
  const layer: Layer = (x, ctx) => {
    const name = options?.name !== undefined ? ctx.qualify(options.name) : ctx.autoName(autoKind);
    const y = f(x, name);
    ctx.record(name, kind, y);
    return y;
  };
  return describeLayer(layer, { kind, ...(options?.name !== undefined ? { name: options.name } : {}), ...(spec ? { options: spec.options } : {}) });
}

/** max(x, 0), elementwise. */
export const relu = (options?: NamedOptions): Layer => simple('relu', 'relu', options, (x) => reluOp(x));
/** tanh(x), elementwise. */
export const tanh = (options?: NamedOptions): Layer => simple('tanh', 'tanh', options, (x) => tanhOp(x));
/** 1 / (1 + exp(−x)), elementwise. */
export const sigmoid = (options?: NamedOptions): Layer => simple('sigmoid', 'sigmoid', options, (x) => sigmoidOp(x));

/**
 * The leaky rectifier, elementwise: `x` where `x > 0`, `alpha · x` elsewhere
 * (`alpha` in [0, 1), default 0.01), as the leakyRelu op. Named `leakyRelu1`, ... unless given a name.
 */
export function leakyRelu(options?: LeakyReluOptions & NamedOptions): Layer {
  const keys = ['alpha'] as const;
  checkOptions('nn.leakyRelu', options, ['name', ...keys]);
  const spec = pickOptions(options, keys);
  if (spec.alpha !== undefined) checkLeakyReluAlpha('nn.leakyRelu', spec.alpha);
  return simple('leakyRelu', 'leakyRelu', options, (x) => leakyReluOp(x, spec), { keys, options: spec });
}

/**
 * The exponential linear unit, elementwise: `x` where `x > 0`, `alpha (e^x − 1)`
 * elsewhere (`alpha` > 0, default 1), as the elu op. Named `elu1`, ... unless given a name.
 */
export function elu(options?: EluOptions & NamedOptions): Layer {
  const keys = ['alpha'] as const;
  checkOptions('nn.elu', options, ['name', ...keys]);
  const spec = pickOptions(options, keys);
  if (spec.alpha !== undefined) checkEluAlpha('nn.elu', spec.alpha);
  return simple('elu', 'elu', options, (x) => eluOp(x, spec), { keys, options: spec });
}

/** `min(max(x, 0), 6)`, elementwise, as the relu6 op. Named `relu6_1`, `relu6_2`, ... unless given a name. */
export const relu6 = (options?: NamedOptions): Layer => simple('relu6', 'relu6_', options, (x) => relu6Op(x));

/**
 * Local response normalisation across channels (AlexNet), as the
 * localResponseNorm builder: each value divided by
 * `(k + alpha/size · Σ a²)^beta` over the `size` channels around it (defaults
 * size 5, alpha 1e-4, beta 0.75, k 2; alpha is divided by size, as in Caffe and
 * PyTorch). The input is `[N, C, ...]`. Named `lrn1`, ... unless given a name.
 */
export function localResponseNorm(options?: LocalResponseNormOptions & NamedOptions): Layer {
  const who = 'nn.localResponseNorm';
  const keys = ['size', 'alpha', 'beta', 'k'] as const;
  checkOptions(who, options, ['name', ...keys]);
  const spec = pickOptions(options, keys);
  localResponseNormParams(who, spec);
  return simple(
    'localResponseNorm',
    'lrn',
    options,
    (x, name) => {
      if (x.rank < 2) {
        fail(who, `"${name}" expects an input of rank >= 2 [N, C, ...], got shape ${shapeToString(x.shape)}`, `shape ${shapeToString(x.shape)}`, 'rank >= 2 [N, C, ...]');
      }
      return localResponseNormOp(x, spec);
    },
    { keys, options: spec },
  );
}

/**
 * Global average pooling: `[N, C, H, W]` to `[N, C]`, the mean of each
 * channel's map (network in network, ResNet), as the globalAvgPool2d builder.
 * Named `pool1`, ... (counted with the other pooling layers) unless given a name.
 */
export const globalAvgPool2d = (options?: NamedOptions): Layer =>
  simple('globalAvgPool2d', 'pool', options, (x, name) => {
    needRank('nn.globalAvgPool2d', name, x, 4, '[N, C, H, W]');
    return globalAvgPool2dOp(x);
  });

/** `[N, C, H, W]` (or any rank) to `[N, C·H·W]`. */
export const flatten = (options?: NamedOptions): Layer => simple('flatten', 'flatten', options, (x) => flattenOp(x));

/**
 * Max pooling (`size`, `stride` defaults to `size`, `padding`, `dilation`,
 * `ceil`), as the maxPool2d op; the options pass through to it unchanged.
 */
export function maxPool2d(options: Pool2dOptions & NamedOptions): Layer {
  const keys = ['size', 'stride', 'padding', 'dilation', 'ceil'] as const;
  checkOptions('nn.maxPool2d', options, ['name', ...keys]);
  if (options === undefined) fail('nn.maxPool2d', 'give the pooling window, e.g. maxPool2d({ size: 2 })', 'no options', 'options with a size');
  const pool = pickOptions(options, keys);
  return simple(
    'maxPool2d',
    'pool',
    options,
    (x, name) => {
      needRank('nn.maxPool2d', name, x, 4, '[N, C, H, W]');
      return maxPool2dOp(x, pool);
    },
    { keys, options: pool },
  );
}

/** Mean pooling (maxPool2d's options and `countIncludePad`), as the avgPool2d op; the options pass through to it unchanged. */
export function avgPool2d(options: AvgPool2dOptions & NamedOptions): Layer {
  const keys = ['size', 'stride', 'padding', 'dilation', 'ceil', 'countIncludePad'] as const;
  checkOptions('nn.avgPool2d', options, ['name', ...keys]);
  if (options === undefined) fail('nn.avgPool2d', 'give the pooling window, e.g. avgPool2d({ size: 2 })', 'no options', 'options with a size');
  const pool = pickOptions(options, keys);
  return simple(
    'avgPool2d',
    'pool',
    options,
    (x, name) => {
      needRank('nn.avgPool2d', name, x, 4, '[N, C, H, W]');
      return avgPool2dOp(x, pool);
    },
    { keys, options: pool },
  );
}

/**
 * Inverted dropout (Srivastava et al. 2014; AlexNet's FC layers). In the
 * training graph the output is `x · mask`, where the mask, a graph input
 * named `name.mask` with x's shape, is made on the host for every step by
 * `dropoutMask`: each unit is 0 with probability `rate` and 1/(1 − rate)
 * otherwise, so E[x · mask] = x and the evaluation graph is the identity.
 */
export function dropout(name: string, rate: number): Layer {
  const who = 'nn.dropout';
  checkLayerName(who, name);
  checkRate(who, rate);
  const layer: Layer = (x, ctx) => {
    const full = ctx.qualify(name);
    const y = ctx.training && rate > 0 ? mul(x, ctx.mask(`${full}.mask`, x.shape, rate)) : x;
    ctx.record(full, 'dropout', y);
    return y;
  };
  return describeLayer(layer, { kind: 'dropout', name, options: Object.freeze({ rate }) });
}

function checkRate(who: string, rate: unknown): void {
  if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) {
    fail(who, `rate must be a probability in [0, 1), got ${shown(rate)}`, `rate ${shown(rate)}`, 'a probability in [0, 1)');
  }
}

/** A dropout mask of `shape`: 0 with probability `rate`, else 1/(1 − rate). */
export function dropoutMask(shape: Shape, rate: number, rng: Rng): Float32Array {
  const who = 'dropoutMask';
  checkShape(who, shape);
  checkRate(who, rate);
  if (rng === null || typeof rng !== 'object' || typeof rng.next !== 'function') {
    fail(who, `rng must be a random generator (createRng(seed)), got ${describeValue(rng)}`, describeValue(rng), 'a random generator with next()');
  }
  const keep = 1 - rate;
  const scale = 1 / keep;
  const out = new Float32Array(sizeOf(shape));
  for (let i = 0; i < out.length; i++) out[i] = rng.next() < keep ? scale : 0;
  return out;
}

// ---------------------------------------------------------------------------
// Composition

/** Apply layers one after another. */
export function sequential(...layers: readonly (Layer | readonly Layer[])[]): Layer {
  const list = layers.flat() as Layer[];
  list.forEach((l, i) => {
    if (typeof l !== 'function') fail('nn.sequential', `item ${i} is ${describeValue(l)}, expected a layer (a function)`, `item ${i}: ${describeValue(l)}`, 'a layer (a function)');
  });
  return describeLayer((x, ctx) => list.reduce((h, layer) => layer(h, ctx), x), { kind: 'sequential', children: Object.freeze(list) });
}

/** Build `layer` with every name inside prefixed by `name.`: `scope('block1', conv2d('conv1', ...))` reads `block1.conv1.w`. */
export function scope(name: string, layer: Layer): Layer {
  checkLayerName('nn.scope', name);
  if (typeof layer !== 'function') fail('nn.scope', `the layer of scope "${name}" is ${describeValue(layer)}, expected a layer (a function)`, describeValue(layer), 'a layer (a function)');
  return describeLayer((x, ctx) => ctx.within(name, () => layer(x, ctx)), { kind: 'scope', name, children: Object.freeze([layer]) });
}

/**
 * A skip connection (ResNet): `body(x) + shortcut(x)`, the shortcut being the
 * identity unless given (e.g. a strided 1×1 convolution when shapes change).
 */
export function residual(body: Layer, shortcut?: Layer, options?: NamedOptions): Layer {
  const who = 'nn.residual';
  checkOptions(who, options, ['name']);
  if (options?.name !== undefined) checkLayerName(who, options.name);
  if (typeof body !== 'function') fail(who, `the body is ${describeValue(body)}, expected a layer (a function)`, `body ${describeValue(body)}`, 'a layer (a function)');
  if (shortcut !== undefined && typeof shortcut !== 'function') {
    fail(
      who,
      `the shortcut is ${describeValue(shortcut)}, expected a layer (a function) or nothing (the identity)`,
      `shortcut ${describeValue(shortcut)}`,
      'a layer (a function) or undefined',
    );
  }
  const layer: Layer = (x, ctx) => {
    const y = body(x, ctx);
    const s = shortcut ? shortcut(x, ctx) : x;
    if (y.shape.length !== s.shape.length || y.shape.some((d, i) => d !== s.shape[i])) {
      fail(
        who,
        `the body gives ${shapeToString(y.shape)} but the shortcut gives ${shapeToString(s.shape)}; ` +
          `give a shortcut layer (e.g. a 1x1 conv2d with the body's stride) that matches`,
        `body ${shapeToString(y.shape)}, shortcut ${shapeToString(s.shape)}`,
        'a shortcut of the shape of the body',
      );
    }
    const out = add(y, s);
    ctx.record(options?.name !== undefined ? ctx.qualify(options.name) : ctx.autoName('add'), 'add', out);
    return out;
  };
  return describeLayer(layer, {
    kind: 'residual',
    ...(options?.name !== undefined ? { name: options.name } : {}),
    children: Object.freeze(shortcut ? [body, shortcut] : [body]),
  });
}

/**
 * `layer` with rematerialisation (see {@link checkpoint} in the ops): the
 * same outputs, parameters and names, but a gradient taken through it keeps
 * only the layer's input for the backward pass and recomputes the
 * activations inside it when the backward pass reaches it. Wrap the blocks
 * of a deep network to trade about one more forward pass of compute for the
 * memory of their activations:
 *
 * ```ts
 * const block = (i: number) => nn.checkpoint(nn.residual(nn.sequential(nn.conv2d(`c${i}a`, { filters: 16, size: 3, padding: 'same' }), nn.relu(), nn.conv2d(`c${i}b`, { filters: 16, size: 3, padding: 'same' }))));
 * ```
 *
 * Inference and forward mode see no difference.
 */
export function checkpoint(layer: Layer): Layer {
  const who = 'nn.checkpoint';
  if (typeof layer !== 'function') fail(who, `the layer is ${describeValue(layer)}, expected a layer (a function)`, describeValue(layer), 'a layer (a function)');
  return describeLayer((x, ctx) => checkpointOp((h: Tensor) => layer(h, ctx))(x), { kind: 'checkpoint', children: Object.freeze([layer]) });
}

/** Default initialiser for a final (logit) layer. */
export const logitInit: Initializer = glorotUniform;
