/**
 * What a built-in layer is made of, kept beside the layer function so that
 * `modelToJson` (serialize.ts) can describe a model without running it.
 *
 * A `Layer` is a plain function, and a function cannot be read back into its
 * arguments; so every built-in layer constructor (conv2d, dense, relu, ...,
 * sequential, scope, residual) registers the arguments it was called with
 * here, keyed by the function it returns. A layer a user writes as a plain
 * function has no entry, and `modelToJson` says so.
 */
import type { Layer } from './context.js';

/** The kinds of built-in layer a model description may contain. */
export type LayerKind =
  | 'conv2d'
  | 'dense'
  | 'relu'
  | 'tanh'
  | 'sigmoid'
  | 'leakyRelu'
  | 'elu'
  | 'relu6'
  | 'flatten'
  | 'maxPool2d'
  | 'avgPool2d'
  | 'globalAvgPool2d'
  | 'localResponseNorm'
  | 'dropout'
  | 'sequential'
  | 'scope'
  | 'residual'
  | 'concatBranches'
  | 'checkpoint'
  | 'batchNorm';

/** A built-in layer's constructor arguments: its kind, its own name, its options and the layers it wraps. */
export interface LayerSpec {
  readonly kind: LayerKind;
  /** The name given to the constructor (unqualified); absent for an automatically named layer. */
  readonly name?: string;
  /** The options given, defined keys only; initialisers stay functions here (serialize.ts names them). */
  readonly options?: object;
  /** Wrapped layers, in order: sequential's items, scope's layer, residual's body then shortcut, concatBranches's branches, checkpoint's layer. */
  readonly children?: readonly Layer[];
}

const specs = new WeakMap<Layer, LayerSpec>();

/** Record what `layer` was made from, and return it. */
export function describeLayer(layer: Layer, spec: LayerSpec): Layer {
  specs.set(layer, Object.freeze(spec));
  return layer;
}

/** What a built-in layer was made from, or undefined for a layer written as a plain function. */
export function layerSpec(layer: Layer): LayerSpec | undefined {
  return specs.get(layer);
}

/**
 * The options of `options` named in `keys`, without the undefined ones, and
 * with arrays copied. A layer builds from this copy too, so the layer and its
 * description agree even if the caller later writes into an array it passed.
 */
export function pickOptions<T extends object, K extends keyof T & string>(options: T | undefined, keys: readonly K[]): Readonly<Pick<T, K>> {
  const out: Partial<Record<K, unknown>> = {};
  if (options) {
    for (const key of keys) {
      const v: unknown = options[key];
      if (v !== undefined) out[key] = Array.isArray(v) ? [...(v as unknown[])] : v;
    }
  }
  return Object.freeze(out) as Readonly<Pick<T, K>>;
}

export { checkOptions, showValue } from '../graph/error.js';
