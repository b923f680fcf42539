/**
 * A model is a value: a name, the shape of one example, and a `Layer` that
 * maps a batch `[N, ...inputShape]` to logits `[N, classes]`. Building it
 * makes a graph whose parameters are named inputs; `initParams` makes their
 * first values; `summary` lists its layers.
 */
import { describeValue, fail } from '../graph/error.js';
import { checkShape } from '../graph/shape.js';
import { type Shape, Tensor, sizeOf } from '../graph/tensor.js';
import { createRng, mixSeed } from '../data/random.js';
import { input } from '../ops/input.js';
import { type Layer, type LayerInfo, LayerContext, type MaskSpec, type ParamSpec, type StatSpec } from './context.js';
import { hashName } from './init.js';
import { type Params, tensorValue } from './params.js';
import { sequential } from './layers.js';
import { checkOptions, showValue } from './spec.js';
import { layerCosts, type ReceptiveField } from './analysis.js';

/** A model: its name, the shape of one example, and the layer that maps a batch to logits. */
export interface Model {
  /** Shown in summaries and errors, e.g. `LeNet-5`. */
  readonly name: string;
  /** Shape of one example, without the batch dimension, e.g. [1, 28, 28]. */
  readonly inputShape: Shape;
  /** Maps `[N, ...inputShape]` to the output (logits `[N, classes]` for a classifier). */
  readonly forward: Layer;
}

/** A model from its layers (applied in order) or a single layer function. */
export function defineModel(name: string, inputShape: Shape, layers: Layer | readonly Layer[]): Model {
  const who = 'defineModel';
  if (typeof name !== 'string' || name === '') fail(who, 'give the model a name', `name ${showValue(name)}`, 'a non-empty string');
  if (!Array.isArray(inputShape) || inputShape.length === 0 || inputShape.some((d) => !Number.isInteger(d) || d < 1)) {
    fail(
      who,
      `inputShape must be the shape of one example (no batch dimension), e.g. [1, 28, 28], got ${showValue(inputShape)}`,
      `inputShape ${showValue(inputShape)}`,
      'a non-empty array of positive integers',
    );
  }
  checkShape(who, inputShape, 'inputShape');
  if (typeof layers !== 'function' && !Array.isArray(layers)) {
    fail(who, `layers must be a layer or an array of layers, got ${describeValue(layers)}`, describeValue(layers), 'a layer (a function) or an array of layers');
  }
  const forward = typeof layers === 'function' ? layers : sequential(...(layers as readonly Layer[]));
  return Object.freeze({ name, inputShape: Object.freeze([...inputShape]), forward });
}

/** Options of `buildModel`. */
export interface BuildOptions {
  /** Batch dimension of the graph (default 1). */
  batchSize?: number;
  /** Build the training graph: dropout reads masks (default false). */
  training?: boolean;
  /** Name of the image input (default 'x'). */
  inputName?: string;
}

/** A model built into a graph. */
export interface BuiltModel {
  /** The image input `[batchSize, ...inputShape]`. */
  readonly input: Tensor<'input'>;
  /** The model's output, e.g. logits `[batchSize, classes]`. */
  readonly output: Tensor;
  /** Parameters in build order; `paramTensors[i]` is the graph input of `params[i]`. */
  readonly params: readonly ParamSpec[];
  /** The graph inputs of the parameters, in the order of `params`. */
  readonly paramTensors: readonly Tensor<'input'>[];
  /** Dropout masks to feed (training graphs only). */
  readonly masks: readonly MaskSpec[];
  /** Statistics the graph reads (batch-norm running averages), fed from a `TrainState`'s `stats`. */
  readonly stats: readonly StatSpec[];
  /** The graph inputs of the statistics, in the order of `stats`. */
  readonly statTensors: readonly Tensor<'input'>[];
  /** Training graphs: each statistic's value after the step, in the order of `stats`; empty for inference graphs. */
  readonly statUpdates: readonly Tensor[];
  /** One row per layer applied, as the summary lists them. */
  readonly layers: readonly LayerInfo[];
  /** `layerOutputs[i]` is the output tensor of `layers[i]` (find one by name with `layerOutput`). */
  readonly layerOutputs: readonly Tensor[];
}

/** Refuse anything but a `Model` (`who` names the caller). */
export function checkModel(who: string, model: unknown): asserts model is Model {
  const m = model as Partial<Model> | null;
  if (m === null || typeof m !== 'object' || typeof m.forward !== 'function' || !Array.isArray(m.inputShape)) {
    fail(who, `model must be a Model (e.g. lenet5() or defineModel(...)), got ${describeValue(model)}`, describeValue(model), 'a Model');
  }
}

/** Build `model` into a graph for a batch of `batchSize` examples (see `BuiltModel`). */
export function buildModel(model: Model, options: BuildOptions = {}): BuiltModel {
  const who = 'buildModel';
  checkModel(who, model);
  checkOptions(who, options, ['batchSize', 'training', 'inputName']);
  const batchSize = options.batchSize ?? 1;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    fail(who, `batchSize must be a positive integer, got ${String(batchSize)}`, `batchSize ${showValue(batchSize)}`, 'a positive integer');
  }
  const training = options.training ?? false;
  if (typeof training !== 'boolean') fail(who, `training must be true or false, got ${showValue(training)}`, `training ${showValue(training)}`, 'true or false');
  const inputName = options.inputName ?? 'x';
  const x = input(inputName, [batchSize, ...model.inputShape]);
  const ctx = new LayerContext(training);
  const output = model.forward(x, ctx);
  if (!(output instanceof Tensor)) {
    fail(who, `model "${model.name}" maps its input to ${describeValue(output)}; a layer must return a Tensor`, describeValue(output), 'a Tensor');
  }
  for (const name of [...ctx.params.map((p) => p.name), ...ctx.masks.map((m) => m.name), ...ctx.stats.map((st) => st.name)]) {
    if (name === inputName) {
      fail(who, `model "${model.name}" has a parameter named "${name}", the name of its input`, `parameter "${name}"`, `a name other than the input's, "${inputName}"`);
    }
  }
  const tensors = new Map<string, Tensor<'input'>>();
  // Parameters are the model's graph inputs other than x and the masks.
  const stack: Tensor[] = [output, ...ctx.statUpdates.values()];
  const seen = new Set<number>();
  while (stack.length) {
    const t = stack.pop()!;
    if (seen.has(t.id)) continue;
    seen.add(t.id);
    if (t.op === 'input') tensors.set((t as Tensor<'input'>).attrs.name, t as Tensor<'input'>);
    stack.push(...t.inputs);
  }
  const params = ctx.params.filter((p) => tensors.has(p.name));
  const stats = ctx.stats.filter((st) => tensors.has(st.name));
  for (const st of stats) {
    if (training && !ctx.statUpdates.has(st.name)) throw new Error(`buildModel: statistic "${st.name}" has no update in the training graph (a bug in its layer)`);
  }
  return Object.freeze({
    input: x,
    output,
    params: Object.freeze(params),
    paramTensors: Object.freeze(params.map((p) => tensors.get(p.name)!)),
    masks: Object.freeze([...ctx.masks]),
    stats: Object.freeze(stats),
    statTensors: Object.freeze(stats.map((st) => tensors.get(st.name)!)),
    statUpdates: Object.freeze(training ? stats.map((st) => ctx.statUpdates.get(st.name)!) : []),
    layers: Object.freeze([...ctx.layers]),
    layerOutputs: Object.freeze([...ctx.outputs]),
  });
}

/**
 * The output tensor of the layer named `name` in a built model (a full name,
 * as the summary lists it: `conv1`, `relu2`, `block1.conv1`), e.g. to compile
 * a graph that returns a feature map. A layer applied more than once (shared
 * weights) has one output per application, so its name is refused as
 * ambiguous; name the layers after it instead.
 */
export function layerOutput(built: BuiltModel, name: string): Tensor {
  return findLayerOutput('layerOutput', built, name);
}

/** `layerOutput`, with `who` naming the caller in errors. */
export function findLayerOutput(who: string, built: BuiltModel, name: string): Tensor {
  if (built === null || typeof built !== 'object' || !Array.isArray(built.layers) || !Array.isArray(built.layerOutputs)) {
    fail(who, `expected a built model (from buildModel), got ${describeValue(built)}`, describeValue(built), 'a BuiltModel');
  }
  if (typeof name !== 'string') fail(who, `a layer name must be a string, got ${showValue(name)}`, `name ${showValue(name)}`, 'a layer name (a string)');
  const found = built.layers.flatMap((l, i) => (l.name === name ? [i] : []));
  const names = built.layers.map((l) => l.name).join(', ');
  if (found.length === 0) {
    fail(who, `the model has no layer named "${name}"; its layers are ${names}`, `layer "${name}"`, `one of ${names}`);
  }
  if (found.length > 1) {
    fail(
      who,
      `layer "${name}" is applied ${found.length} times (shared weights), so it has ${found.length} outputs; ` +
        `ask for a layer that follows one of its applications instead`,
      `layer "${name}", applied ${found.length} times`,
      'a layer applied once',
    );
  }
  return built.layerOutputs[found[0]];
}

/** Parameter shapes by name: the `expect` of `loadCheckpoint`. */
export function paramShapes(model: Model): Record<string, number[]> {
  checkModel('paramShapes', model);
  return Object.fromEntries(buildModel(model).params.map((p) => [p.name, [...p.shape]]));
}

/**
 * Initial parameter values, reproducible from `seed`. Each parameter draws
 * from its own generator, seeded by (seed, hash of its name): the values of
 * `conv1.w` do not change when a layer is added elsewhere.
 */
export function initParams(model: Model, seed: number): Params {
  const who = 'initParams';
  checkModel(who, model);
  if (!Number.isSafeInteger(seed)) {
    fail(who, `seed must be a safe integer (for example 42 or Date.now()), got ${showValue(seed)}`, `seed ${showValue(seed)}`, 'a safe integer');
  }
  const out: Record<string, ReturnType<typeof tensorValue>> = {};
  for (const p of buildModel(model).params) {
    const data = p.init(p.shape, p.fans, createRng(mixSeed(seed, hashName(p.name))));
    if (!(data instanceof Float32Array) || data.length !== sizeOf(p.shape)) {
      fail(
        who,
        `the initialiser of "${p.name}" must return a Float32Array of ${sizeOf(p.shape)} values`,
        describeValue(data),
        `a Float32Array(${sizeOf(p.shape)})`,
      );
    }
    out[p.name] = tensorValue(p.shape, data);
  }
  return Object.freeze(out);
}

/**
 * The statistics' first values (batch-norm running means 0 and variances
 * 1), by name: a `TrainState`'s `stats` before training. Empty for a model
 * that keeps none.
 */
export function initStats(model: Model): Params {
  checkModel('initStats', model);
  const out: Record<string, ReturnType<typeof tensorValue>> = {};
  for (const st of buildModel(model).stats) out[st.name] = tensorValue(st.shape, new Float32Array(sizeOf(st.shape)).fill(st.initial));
  return Object.freeze(out);
}

/** Statistic shapes by name (the stats a model's `TrainState` carries). */
export function statShapes(model: Model): Record<string, number[]> {
  checkModel('statShapes', model);
  return Object.fromEntries(buildModel(model).stats.map((st) => [st.name, [...st.shape]]));
}

/** What `summary` returns. */
export interface ModelSummary {
  /** The model's name. */
  readonly name: string;
  /** Shape of one example, without the batch dimension. */
  readonly inputShape: Shape;
  /** One row per layer applied, in build order. */
  readonly layers: readonly LayerSummary[];
  /** Number of scalar parameters in all. */
  readonly totalParams: number;
  /** Multiply-adds of one example's forward pass, in all. */
  readonly totalMultiplyAdds: number;
}

/** A row of the summary: the layer, what it costs per example and what its output sees (see nn/analysis.ts). */
export interface LayerSummary extends LayerInfo {
  /** Multiply-adds per example of the convolutions and products this layer adds (biases, activations, pooling not counted). */
  readonly multiplyAdds: number;
  /** The receptive field of the layer's output on the input image, `[h, w]` pixels, or 'all' once every position is mixed. */
  readonly receptiveField: ReceptiveField;
}

/**
 * Each layer's output shape, parameter count (the lecture's formula: a
 * convolution's kH·kW·C·filters weights plus a bias per filter), multiply-adds
 * per example and receptive field; and the totals.
 */
export function summary(model: Model): ModelSummary {
  checkModel('summary', model);
  const built = buildModel(model);
  const { multiplyAdds, receptiveFields } = layerCosts(built);
  const layers = built.layers.map((l, i) => Object.freeze({ ...l, multiplyAdds: multiplyAdds[i], receptiveField: receptiveFields[i] }));
  return Object.freeze({
    name: model.name,
    inputShape: model.inputShape,
    layers: Object.freeze(layers),
    totalParams: built.params.reduce((n, p) => n + sizeOf(p.shape), 0),
    totalMultiplyAdds: multiplyAdds.reduce((a, b) => a + b, 0),
  });
}

/** The summary as a text table. */
export function formatSummary(s: ModelSummary): string {
  if (s === null || typeof s !== 'object' || !Array.isArray(s.layers) || !Array.isArray(s.inputShape)) {
    fail('formatSummary', `expected a model summary (from summary(model)), got ${describeValue(s)}`, describeValue(s), 'a ModelSummary');
  }
  const batched = (shape: Shape): string => `[N,${shape.join(',')}]`;
  const count = (n: number): string => n.toLocaleString('en-US');
  const field = (f: ReceptiveField | undefined): string => (f === undefined ? '' : f === 'all' ? 'all' : `${f[0]}x${f[1]}`);
  const rows = s.layers.map((l) => [l.name, l.kind, batched(l.outputShape), count(l.paramCount), l.multiplyAdds === undefined ? '' : count(l.multiplyAdds), field(l.receptiveField)]);
  const head = ['layer', 'kind', 'output shape', 'params', 'mult-adds', 'field'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]): string => r.map((c, i) => (i >= 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const rule = '-'.repeat(widths.reduce((a, b) => a + b + 2, -2));
  return [
    `${s.name} (input ${batched(s.inputShape)})`,
    rule,
    line(head),
    rule,
    ...rows.map(line),
    rule,
    `total parameters: ${s.totalParams.toLocaleString('en-US')}` +
      (s.totalMultiplyAdds === undefined ? '' : `, multiply-adds per example: ${s.totalMultiplyAdds.toLocaleString('en-US')}`),
  ].join('\n');
}
