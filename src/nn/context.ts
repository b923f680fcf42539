/**
 * What a layer sees while it builds its piece of the graph.
 *
 * A `Layer` is a plain function `(x, ctx) => y`: it reads the tensor `x`,
 * asks `ctx` for its parameters (each one a named graph `input`, e.g.
 * `conv1.w`), builds ops, and reports itself for the model summary. Layers
 * compose as functions do, so a residual block is `(x, ctx) => add(body(x,
 * ctx), x)` and `sequential` is just a left fold.
 */
import { describeValue, fail } from '../graph/error.js';
import { type Shape, type Tensor, shapeToString, sizeOf } from '../graph/tensor.js';
import { sameShape } from '../graph/shape.js';
import { input } from '../ops/input.js';
import type { Fans, Initializer } from './init.js';

/** A piece of a model: maps the tensor `x` to its output, asking `ctx` for its parameters and reporting itself to it. */
export type Layer = (x: Tensor, ctx: LayerContext) => Tensor;

/** A parameter the graph reads: its input name, shape, and how to initialise it. */
export interface ParamSpec {
  /** The graph input's name, e.g. `conv1.w`. */
  readonly name: string;
  /** Its dimensions, e.g. [6, 1, 5, 5] for a convolution's filters. */
  readonly shape: Shape;
  /** Makes the parameter's first values (`initParams`). */
  readonly init: Initializer;
  /** The fans the initialiser scales by. */
  readonly fans: Fans;
}

/** A dropout mask the graph reads in training: fed each step, made on the host (see `dropoutMask`). */
export interface MaskSpec {
  /** The graph input's name, e.g. `drop1.mask`. */
  readonly name: string;
  /** The shape of the tensor it masks, batch dimension included. */
  readonly shape: Shape;
  /** Probability of dropping a unit, in [0, 1). */
  readonly rate: number;
}

/**
 * A non-trainable value the graph reads, kept beside the parameters (a
 * batch-norm layer's running mean and variance): its input name, shape and
 * first value. Training graphs also compute its next value (`update`).
 */
export interface StatSpec {
  /** The graph input's name, e.g. `bn1.mean`. */
  readonly name: string;
  /** Its dimensions, e.g. [16] for one value per channel. */
  readonly shape: Shape;
  /** Every element's value before training (`initStats`): 0 for a running mean, 1 for a running variance. */
  readonly initial: number;
}

/** One row of the model summary. */
export interface LayerInfo {
  /** Full name, scopes included: `conv1`, `relu2`, `block1.conv1`. */
  readonly name: string;
  /** What the layer is: `conv2d`, `dense`, `relu`, `maxPool2d`, `add` (a residual sum), ... */
  readonly kind: string;
  /** Output shape without the batch dimension, e.g. [6, 24, 24]. */
  readonly outputShape: Shape;
  /** Names of the parameters this layer created. */
  readonly params: readonly string[];
  /** Number of scalar parameters this row counts. */
  readonly paramCount: number;
}

const LAYER_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * Layer names become parameter name prefixes (`conv1` → `conv1.w`), so they
 * are simple identifiers. `where` places the name in the message (a path in
 * a model description).
 */
export function checkLayerName(who: string, name: unknown, where?: string): string {
  if (typeof name !== 'string' || !LAYER_NAME.test(name)) {
    const shown = typeof name === 'string' ? JSON.stringify(name) : describeValue(name);
    fail(
      who,
      `${where ? `${where}: ` : ''}layer name must start with a letter or _ and hold only letters, digits, _ and -, got ${shown}`,
      `name ${shown}`,
      'a name of letters, digits, _ and -, starting with a letter or _',
    );
  }
  return name;
}

export class LayerContext {
  /** The parameters created so far, in build order. */
  readonly params: ParamSpec[] = [];
  /** The dropout masks created so far (training graphs only). */
  readonly masks: MaskSpec[] = [];
  /** The statistics created so far (batch-norm running averages), in build order. */
  readonly stats: StatSpec[] = [];
  /** Each statistic's next value, by name (training graphs only): what a training step writes back. */
  readonly statUpdates = new Map<string, Tensor>();
  /** One row per layer applied so far, for the summary. */
  readonly layers: LayerInfo[] = [];
  /** The output tensor of each layer: `outputs[i]` is what `layers[i]` made. */
  readonly outputs: Tensor[] = [];
  private readonly tensors = new Map<string, { tensor: Tensor<'input'>; owner: object }>();
  private readonly counted = new Set<string>();
  private readonly autoCounts = new Map<string, number>();
  private readonly scopes: string[] = [];

  /** `training`: build the training graph (dropout active, masks fed). */
  constructor(
    /** Whether this builds the training graph. */
    readonly training: boolean,
  ) {}

  /** The full name of a layer `local` inside the current scopes: `block1.conv1`. */
  qualify(local: string): string {
    return [...this.scopes, local].join('.');
  }

  /** A fresh name for an unnamed layer of `kind` in the current scope: `relu1`, `relu2`, ... */
  autoName(kind: string): string {
    const key = this.qualify(kind);
    const n = (this.autoCounts.get(key) ?? 0) + 1;
    this.autoCounts.set(key, n);
    return this.qualify(`${kind}${n}`);
  }

  /** Build `f` with every name prefixed by `name.` (nested scopes join with dots). */
  within<T>(name: string, f: () => T): T {
    this.scopes.push(checkLayerName('scope', name));
    try {
      return f();
    } finally {
      this.scopes.pop();
    }
  }

  /**
   * The graph input for parameter `name` (a full name such as `conv1.w`).
   * `owner` identifies the layer value asking: the same layer applied twice
   * gets the same tensor (shared weights), while two different layers that
   * claim one name are an error.
   */
  param(name: string, shape: Shape, init: Initializer, fans: Fans, owner: object): Tensor<'input'> {
    const prev = this.tensors.get(name);
    if (prev) {
      if (prev.owner !== owner) {
        fail(
          'nn',
          `two layers both have a parameter named "${name}"; give every layer a unique name (apply the same layer value twice to share weights)`,
          `two layers with the parameter "${name}"`,
          'a unique name for every layer',
        );
      }
      if (!sameShape(prev.tensor.shape, shape)) {
        fail(
          'nn',
          `layer parameter "${name}" was first built with shape ${shapeToString(prev.tensor.shape)} and now with ${shapeToString(shape)}; ` +
            `a layer applied twice (shared weights) needs inputs with the same channels/features`,
          `"${name}" of shape ${shapeToString(shape)}`,
          `shape ${shapeToString(prev.tensor.shape)}, as first built`,
        );
      }
      return prev.tensor;
    }
    const tensor = input(name, shape);
    this.tensors.set(name, { tensor, owner });
    this.params.push(Object.freeze({ name, shape: tensor.shape, init, fans: Object.freeze({ ...fans }) }));
    return tensor;
  }

  /**
   * The graph input for statistic `name`, a non-trainable value of `shape`
   * that starts at `initial` (see {@link StatSpec}); `owner` as for `param`:
   * the same layer applied twice reads the same statistic.
   */
  stat(name: string, shape: Shape, initial: number, owner: object): Tensor<'input'> {
    const prev = this.tensors.get(name);
    if (prev) {
      if (prev.owner !== owner || !this.stats.some((st) => st.name === name)) {
        fail('nn', `two layers both use the name "${name}"; give every layer a unique name`, `two uses of "${name}"`, 'a unique name for every layer');
      }
      return prev.tensor;
    }
    const tensor = input(name, shape);
    this.tensors.set(name, { tensor, owner });
    this.stats.push(Object.freeze({ name, shape: tensor.shape, initial }));
    return tensor;
  }

  /**
   * The value statistic `name` takes after this training step (training
   * graphs only). A layer that keeps statistics and is applied twice in one
   * graph would give two next values; that is refused.
   */
  update(name: string, value: Tensor): void {
    const spec = this.stats.find((st) => st.name === name);
    if (!spec) throw new Error(`nn: update of "${name}", which is not a statistic (a bug in the layer)`);
    if (!this.training) throw new Error(`nn: update of "${name}" in an inference graph (a bug in the layer)`);
    if (!sameShape(value.shape, spec.shape)) throw new Error(`nn: update of "${name}" has shape ${shapeToString(value.shape)}, not ${shapeToString(spec.shape)} (a bug in the layer)`);
    if (this.statUpdates.has(name)) {
      fail(
        'nn',
        `the layer keeping statistic "${name}" is applied twice in one training graph, so it would have two running averages; ` +
          'give each application its own layer (its own name)',
        `"${name}" updated twice`,
        'a layer with statistics applied once',
      );
    }
    this.statUpdates.set(name, value);
  }

  /** The graph input for a dropout mask of `shape` (training graphs only). */
  mask(name: string, shape: Shape, rate: number): Tensor<'input'> {
    if (this.tensors.has(name) || this.masks.some((m) => m.name === name)) {
      fail('nn', `the name "${name}" is used twice; give every dropout layer a unique name`, `"${name}" used twice`, 'a unique name for every dropout layer');
    }
    const tensor = input(name, shape);
    this.masks.push(Object.freeze({ name, shape: tensor.shape, rate }));
    return tensor;
  }

  /**
   * Report a layer for the summary, and its output for `layerOutput`. Its
   * count is the size of the parameters it lists that no earlier row counted
   * (a layer applied twice counts once).
   */
  record(name: string, kind: string, output: Tensor, params: readonly Tensor<'input'>[] = []): void {
    const fresh = params.filter((p) => !this.counted.has(p.attrs.name));
    for (const p of fresh) this.counted.add(p.attrs.name);
    this.layers.push(
      Object.freeze({
        name,
        kind,
        outputShape: Object.freeze(output.shape.slice(1)),
        params: Object.freeze(fresh.map((p) => p.attrs.name)),
        paramCount: fresh.reduce((n, p) => n + sizeOf(p.shape), 0),
      }),
    );
    this.outputs.push(output);
  }
}
