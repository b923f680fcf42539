/**
 * A model's structure as JSON, so a checkpoint can be loaded without the code
 * that built the model.
 *
 * Each built-in layer records the arguments it was made from (spec.ts);
 * `modelToJson` writes them as a tree of `{ kind, name?, options?, children? }`
 * and `modelFromJson` calls the same constructors with them again, so the
 * model it returns builds the identical graph: the same layers, automatic
 * names, parameter names and shapes. For example
 *
 * ```json
 * { "format": "striate-model", "version": 1, "name": "tiny", "inputShape": [1, 8, 8],
 *   "forward": { "kind": "sequential", "children": [
 *     { "kind": "conv2d", "name": "c1", "options": { "filters": 4, "size": 3, "init": "heNormal" } },
 *     { "kind": "relu" },
 *     { "kind": "flatten" },
 *     { "kind": "dense", "name": "fc", "options": { "units": 10, "init": "glorotUniform" } } ] } }
 * ```
 *
 * A layer value used in more than one place (shared weights) is written once,
 * with an `"id"`, and its later uses as `{ "kind": "shared", "id": n }`, so the
 * rebuilt model shares those weights too.
 *
 * Reading is strict, as a reader of untrusted files should be: an unknown
 * format version, layer kind, field or option, a missing option, or an option
 * of the wrong type is an error naming where it is; nothing in the JSON is
 * ever run as code (initialisers are named, not stored); and the model read is
 * built once, so an option the constructors accept but the ops refuse (a
 * window larger than its input) fails here, not later.
 */
import { describeValue, fail, StriateError } from '../graph/error.js';
import { checkLayerName, type Layer } from './context.js';
import { type Initializer, initializerFromJson, initializerToJson } from './init.js';
import {
  avgPool2d,
  checkpoint,
  conv2d,
  dense,
  dropout,
  elu,
  flatten,
  globalAvgPool2d,
  leakyRelu,
  localResponseNorm,
  maxPool2d,
  relu,
  relu6,
  residual,
  scope,
  sequential,
  sigmoid,
  tanh,
} from './layers.js';
import { batchNorm, type BatchNormLayerOptions } from './batchNorm.js';
import { concatBranches } from './branches.js';
import { buildModel, checkModel, defineModel, type Model } from './model.js';
import { type LayerKind, layerSpec, showValue } from './spec.js';

/** The `format` field of a model description. */
export const MODEL_FORMAT = 'striate-model';
/** The version of the model description format this Striate writes and reads. */
export const MODEL_FORMAT_VERSION = 1;

/** A value JSON can hold. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** One layer of a model description. */
export interface LayerJson {
  /** A built-in layer kind, or `'shared'`: the layer with this `id` again. */
  kind: LayerKind | 'shared';
  /** The name given to the layer's constructor (absent for automatically named layers). */
  name?: string;
  /** The constructor's options, initialisers by name (`"heNormal"`, `{ "constant": 0 }`). */
  options?: { [key: string]: JsonValue };
  /** Wrapped layers: sequential's items, scope's layer, residual's body and then its shortcut, checkpoint's layer. */
  children?: LayerJson[];
  /** On the first use of a layer used more than once: the number its later uses (`kind: 'shared'`) refer to. */
  id?: number;
}

/** A model description: what `modelToJson` returns and `modelFromJson` reads. */
export interface ModelJson {
  /** Always `"striate-model"`. */
  format: typeof MODEL_FORMAT;
  /** The format version, `MODEL_FORMAT_VERSION`. */
  version: typeof MODEL_FORMAT_VERSION;
  /** The model's name. */
  name: string;
  /** Shape of one example, without the batch dimension. */
  inputShape: number[];
  /** The model's layer (a `sequential` for a model defined from a list of layers). */
  forward: LayerJson;
}

// ---------------------------------------------------------------------------
// The rules of each kind: its name, options and children, and how to build it

/** What an option holds. */
type OptionType = 'positiveInt' | 'pair' | 'padding' | 'boolean' | 'probability' | 'slope' | 'positiveNumber' | 'nonNegativeNumber' | 'initializer';

interface KindRule {
  /** 'required': the layer's parameters or scope are named after it; 'optional': automatic unless given; 'none'. */
  readonly name: 'required' | 'optional' | 'none';
  readonly options: Readonly<Record<string, OptionType>>;
  readonly required: readonly string[];
  /** How many children the layer wraps: [at least, at most]. */
  readonly children: readonly [number, number];
  build(name: string | undefined, options: Record<string, unknown>, children: Layer[]): Layer;
}

const named = (name: string | undefined): { name?: string } => (name === undefined ? {} : { name });
const POOL = { size: 'pair', stride: 'pair', padding: 'padding', dilation: 'pair', ceil: 'boolean' } as const;
const ACTIVATION = { name: 'optional', options: {}, required: [], children: [0, 0] } as const;

/** One rule per built-in kind; a kind added to `LayerKind` without a rule here does not compile. */
const KINDS: { readonly [K in LayerKind]: KindRule } = {
  conv2d: {
    name: 'required',
    options: { filters: 'positiveInt', size: 'pair', stride: 'pair', padding: 'padding', dilation: 'pair', bias: 'boolean', init: 'initializer', biasInit: 'initializer', groups: 'positiveInt' },
    required: ['filters', 'size'],
    children: [0, 0],
    build: (name, o) => conv2d(name!, o as unknown as Parameters<typeof conv2d>[1]),
  },
  dense: {
    name: 'required',
    options: { units: 'positiveInt', bias: 'boolean', init: 'initializer', biasInit: 'initializer' },
    required: ['units'],
    children: [0, 0],
    build: (name, o) => dense(name!, o as unknown as Parameters<typeof dense>[1]),
  },
  relu: { ...ACTIVATION, build: (name) => relu(named(name)) },
  tanh: { ...ACTIVATION, build: (name) => tanh(named(name)) },
  sigmoid: { ...ACTIVATION, build: (name) => sigmoid(named(name)) },
  leakyRelu: {
    name: 'optional',
    options: { alpha: 'slope' },
    required: [],
    children: [0, 0],
    build: (name, o) => leakyRelu({ ...(o as { alpha?: number }), ...named(name) }),
  },
  elu: {
    name: 'optional',
    options: { alpha: 'positiveNumber' },
    required: [],
    children: [0, 0],
    build: (name, o) => elu({ ...(o as { alpha?: number }), ...named(name) }),
  },
  relu6: { ...ACTIVATION, build: (name) => relu6(named(name)) },
  localResponseNorm: {
    name: 'optional',
    options: { size: 'positiveInt', alpha: 'nonNegativeNumber', beta: 'nonNegativeNumber', k: 'positiveNumber' },
    required: [],
    children: [0, 0],
    build: (name, o) => localResponseNorm({ ...(o as Parameters<typeof localResponseNorm>[0]), ...named(name) }),
  },
  globalAvgPool2d: { ...ACTIVATION, build: (name) => globalAvgPool2d(named(name)) },
  flatten: { ...ACTIVATION, build: (name) => flatten(named(name)) },
  maxPool2d: {
    name: 'optional',
    options: POOL,
    required: ['size'],
    children: [0, 0],
    build: (name, o) => maxPool2d({ ...(o as unknown as Parameters<typeof maxPool2d>[0]), ...named(name) }),
  },
  avgPool2d: {
    name: 'optional',
    options: { ...POOL, countIncludePad: 'boolean' },
    required: ['size'],
    children: [0, 0],
    build: (name, o) => avgPool2d({ ...(o as unknown as Parameters<typeof avgPool2d>[0]), ...named(name) }),
  },
  dropout: { name: 'required', options: { rate: 'probability' }, required: ['rate'], children: [0, 0], build: (name, o) => dropout(name!, o.rate as number) },
  batchNorm: {
    name: 'required',
    options: { momentum: 'positiveNumber', epsilon: 'positiveNumber' },
    required: [],
    children: [0, 0],
    build: (name, o) => batchNorm(name!, o as BatchNormLayerOptions),
  },
  sequential: { name: 'none', options: {}, required: [], children: [0, Infinity], build: (_name, _o, children) => sequential(...children) },
  scope: { name: 'required', options: {}, required: [], children: [1, 1], build: (name, _o, [layer]) => scope(name!, layer) },
  checkpoint: { name: 'none', options: {}, required: [], children: [1, 1], build: (_name, _o, [layer]) => checkpoint(layer) },
  concatBranches: { name: 'optional', options: {}, required: [], children: [1, Infinity], build: (name, _o, children) => concatBranches(children, named(name)) },
  residual: {
    name: 'optional',
    options: {},
    required: [],
    children: [1, 2],
    build: (name, _o, [body, shortcut]) => residual(body, shortcut, named(name)),
  },
};

const KIND_NAMES = Object.keys(KINDS).map((k) => `"${k}"`).join(', ');

const isNonNegativeInt = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isPositiveInt = (v: unknown): boolean => isNonNegativeInt(v) && (v as number) >= 1;

/** Why `v` is not a valid value of an option of `type`, or null if it is. */
function optionProblem(type: Exclude<OptionType, 'initializer'>, v: unknown): string | null {
  switch (type) {
    case 'positiveInt':
      return isPositiveInt(v) ? null : 'a positive integer';
    case 'pair':
      return isPositiveInt(v) || (Array.isArray(v) && v.length === 2 && v.every(isPositiveInt)) ? null : 'a positive integer or a pair [h, w] of them';
    case 'padding':
      return v === 'valid' || v === 'same' || isNonNegativeInt(v) || (Array.isArray(v) && (v.length === 2 || v.length === 4) && v.every(isNonNegativeInt))
        ? null
        : '"valid", "same", a non-negative integer, [ph, pw] or [top, bottom, left, right]';
    case 'boolean':
      return typeof v === 'boolean' ? null : 'true or false';
    case 'probability':
      return typeof v === 'number' && v >= 0 && v < 1 ? null : 'a number in [0, 1)';
    case 'slope':
      return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v < 1 ? null : 'a finite number in [0, 1)';
    case 'positiveNumber':
      return typeof v === 'number' && Number.isFinite(v) && v > 0 ? null : 'a finite number > 0';
    case 'nonNegativeNumber':
      return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? null : 'a finite number >= 0';
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

/**
 * Run `f`; a `StriateError` from it (a constructor refusing an option, a
 * model that does not build) becomes one of `who`, its message placed by
 * `context` and its got and expected kept. Anything else is passed on as is:
 * it is not the description's fault.
 */
function within<T>(who: string, context: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof StriateError) fail(who, `${context}${err.message}`, err.got, err.expected, err);
    throw err;
  }
}

/** `sequential[2] > scope "block1"`: where a layer sits, for errors. */
function step(path: string, kind: string, name: string | undefined, index?: number): string {
  const here = `${kind}${name !== undefined ? ` "${name}"` : ''}`;
  return `${path ? `${path} > ` : ''}${here}${index !== undefined ? `[${index}]` : ''}`;
}

// ---------------------------------------------------------------------------
// Writing

/**
 * The description of `model` as a plain JSON value (`JSON.stringify` it to
 * store it). Refuses a model with a layer written as a plain function, or
 * with a custom initialiser, naming it: only built-in layers and initialisers
 * can be described.
 */
export function modelToJson(model: Model): ModelJson {
  const who = 'modelToJson';
  checkModel(who, model);
  const uses = new Map<Layer, number>();
  countUses(who, model, model.forward, '', uses);
  const ids = new Map<Layer, number>();
  for (const [layer, n] of uses) if (n > 1) ids.set(layer, ids.size + 1);
  const written = new Set<Layer>();
  return {
    format: MODEL_FORMAT,
    version: MODEL_FORMAT_VERSION,
    name: model.name,
    inputShape: [...model.inputShape],
    forward: writeLayer(who, model.forward, '', ids, written),
  };
}

/** Count how often each layer value occurs, and refuse plain-function layers. */
function countUses(who: string, model: Model, layer: Layer, path: string, uses: Map<Layer, number>): void {
  const n = uses.get(layer) ?? 0;
  uses.set(layer, n + 1);
  if (n > 0) return;
  const spec = layerSpec(layer);
  if (!spec) {
    const what = layer.name ? `a plain function "${layer.name}"` : 'an anonymous plain function';
    fail(
      who,
      `model "${model.name}" has a layer that is ${what}${path ? ` (at ${path})` : ''}, which cannot be described as JSON; ` +
        `build the model from built-in layers (nn.conv2d, nn.dense, nn.relu, nn.sequential, nn.scope, nn.residual, ...), ` +
        `or save the weights only (saveCheckpoint without model) and rebuild the model in code to load them`,
      `a layer that is ${what}`,
      'built-in layers only',
    );
  }
  spec.children?.forEach((child, i) => countUses(who, model, child, step(path, spec.kind, spec.name, i), uses));
}

function writeLayer(who: string, layer: Layer, path: string, ids: ReadonlyMap<Layer, number>, written: Set<Layer>): LayerJson {
  const id = ids.get(layer);
  if (id !== undefined && written.has(layer)) return { kind: 'shared', id };
  written.add(layer);
  const spec = layerSpec(layer)!;
  const rule = KINDS[spec.kind];
  const out: LayerJson = { kind: spec.kind };
  if (spec.name !== undefined) out.name = spec.name;
  const options = Object.entries(spec.options ?? {});
  if (options.length > 0) {
    out.options = Object.fromEntries(options.map(([key, v]) => [key, writeOption(who, step(path, spec.kind, spec.name), rule, key, v)]));
  }
  if (spec.children && spec.children.length > 0) {
    out.children = spec.children.map((child, i) => writeLayer(who, child, step(path, spec.kind, spec.name, i), ids, written));
  }
  if (id !== undefined) out.id = id;
  return out;
}

function writeOption(who: string, where: string, rule: KindRule, key: string, v: unknown): JsonValue {
  const type = rule.options[key];
  if (type === 'initializer') {
    const json = initializerToJson(v as Initializer);
    if (json === undefined) {
      fail(
        who,
        `${where} has a custom initialiser for "${key}", which cannot be described as JSON; ` +
          `use a built-in one (heNormal, heUniform, glorotNormal, glorotUniform, lecunNormal, constantInit(v)), ` +
          `or save the weights only (saveCheckpoint without model)`,
        `a custom initialiser for "${key}"`,
        'a built-in initialiser',
      );
    }
    return json as JsonValue;
  }
  const problem = type === undefined ? 'not an option of this layer' : optionProblem(type, v);
  if (problem !== null) {
    fail(who, `${where} has option "${key}" = ${showValue(v)}, which cannot be saved: expected ${problem}`, `${key} ${showValue(v)}`, problem);
  }
  return Array.isArray(v) ? [...(v as JsonValue[])] : (v as JsonValue);
}

// ---------------------------------------------------------------------------
// Reading

/**
 * The model a description (from `modelToJson`, or JSON.parse of one) names:
 * it builds the identical graph, with the same parameter names and shapes.
 * Refuses, naming the place, an unknown format or version, an unknown layer
 * kind, field or option, a missing or ill-typed option, and a model that does
 * not build.
 */
export function modelFromJson(json: unknown): Model {
  const who = 'modelFromJson';
  const description = 'a model description object { format, version, name, inputShape, forward }';
  if (typeof json === 'string') fail(who, 'expected the parsed description (JSON.parse(text)), got a string', 'a string', description);
  if (!isPlainObject(json)) fail(who, `expected ${description}, got ${json === null ? 'null' : typeof json}`, describeValue(json), description);
  if (json.format !== MODEL_FORMAT) {
    fail(who, `"format" is ${showValue(json.format)}, expected "${MODEL_FORMAT}"; this is not a Striate model description`, `format ${showValue(json.format)}`, `format "${MODEL_FORMAT}"`);
  }
  if (json.version !== MODEL_FORMAT_VERSION) {
    const newer = typeof json.version === 'number' && json.version > MODEL_FORMAT_VERSION;
    fail(
      who,
      `the description has format version ${showValue(json.version)}, but this Striate reads only version ${MODEL_FORMAT_VERSION}` +
        (newer ? '; it was written by a newer Striate, load it with that version' : ''),
      `version ${showValue(json.version)}`,
      `version ${MODEL_FORMAT_VERSION}`,
    );
  }
  checkKeys(who, 'the description', json, ['format', 'version', 'name', 'inputShape', 'forward']);
  if (typeof json.name !== 'string') fail(who, `"name" must be a string, got ${showValue(json.name)}`, `name ${showValue(json.name)}`, 'a string');
  const forward = readLayer(who, json.forward, 'forward', new Map());
  const model = within(who, '', () => defineModel(json.name as string, json.inputShape as number[], forward));
  within(who, `model "${model.name}" does not build: `, () => buildModel(model));
  return model;
}

function checkKeys(who: string, where: string, o: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key)) {
      const fields = allowed.map((k) => `"${k}"`).join(', ');
      fail(who, `${where} has an unknown field "${key}"; the fields are ${fields}`, `field "${key}"`, `one of ${fields}`);
    }
  }
}

function readLayer(who: string, json: unknown, path: string, defined: Map<number, Layer>): Layer {
  const layerObject = 'a layer object { kind, name?, options?, children? }';
  if (!isPlainObject(json)) fail(who, `${path} must be ${layerObject}, got ${showValue(json)}`, showValue(json), layerObject);
  const kind = json.kind;
  if (kind === 'shared') {
    checkKeys(who, `${path} (shared)`, json, ['kind', 'id']);
    const layer = typeof json.id === 'number' ? defined.get(json.id) : undefined;
    if (!layer) {
      fail(who, `${path} refers to layer id ${showValue(json.id)}, but no layer before it has that id`, `id ${showValue(json.id)}`, 'the id of a layer before it');
    }
    return layer;
  }
  if (typeof kind !== 'string' || !Object.hasOwn(KINDS, kind)) {
    fail(who, `${path} has unknown layer kind ${showValue(kind)}; the kinds are ${KIND_NAMES} and "shared"`, `kind ${showValue(kind)}`, `one of ${KIND_NAMES}, "shared"`);
  }
  const rule = KINDS[kind as LayerKind];
  const name = json.name;
  const where = `${path} (${kind}${typeof name === 'string' ? ` "${name}"` : ''})`;
  checkKeys(who, where, json, ['kind', 'name', 'options', 'children', 'id']);

  if (rule.name === 'none' && name !== undefined) fail(who, `${where} takes no name, got ${showValue(name)}`, `name ${showValue(name)}`, 'no name');
  if (rule.name === 'required' && name === undefined) fail(who, `${where} needs a "name"`, 'no name', 'a "name"');
  if (name !== undefined) checkLayerName(who, name, where);

  const given = json.options ?? {};
  if (!isPlainObject(given)) fail(who, `${where} "options" must be an object, got ${showValue(given)}`, `options ${showValue(given)}`, 'an object');
  const known = Object.keys(rule.options);
  const options: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(given)) {
    const type = Object.hasOwn(rule.options, key) ? rule.options[key] : undefined;
    if (type === undefined) {
      const list = known.length ? known.map((k) => `"${k}"`).join(', ') : 'none';
      fail(who, `${where} has an unknown option "${key}"; the options of ${kind} are ${list}`, `option "${key}"`, known.length ? `one of ${list}` : 'no options');
    }
    if (type === 'initializer') {
      options[key] = initializerFromJson(who, v, `${where} option "${key}"`);
      continue;
    }
    const problem = optionProblem(type, v);
    if (problem !== null) fail(who, `${where} option "${key}" must be ${problem}, got ${showValue(v)}`, `${key} ${showValue(v)}`, problem);
    options[key] = Array.isArray(v) ? [...v] : v;
  }
  for (const key of rule.required) {
    if (!Object.hasOwn(options, key)) fail(who, `${where} needs the option "${key}"`, `no option "${key}"`, `the option "${key}"`);
  }

  const list = json.children ?? [];
  if (!Array.isArray(list)) fail(who, `${where} "children" must be an array, got ${showValue(list)}`, `children ${showValue(list)}`, 'an array of layers');
  const [least, most] = rule.children;
  if (list.length < least || list.length > most) {
    const wanted = least === most ? `${least}` : most === Infinity ? `at least ${least}` : `${least} to ${most}`;
    fail(who, `${where} must have ${wanted} children, got ${list.length}`, `${list.length} children`, `${wanted} children`);
  }
  const children = list.map((child, i) => readLayer(who, child, `${path}.children[${i}]`, defined));

  const layer = within(who, `${where}: `, () => rule.build(name as string | undefined, options, children));
  if (json.id !== undefined) {
    if (!isPositiveInt(json.id) || defined.has(json.id as number)) {
      fail(who, `${where} has id ${showValue(json.id)}; an id must be a positive integer used by one layer only`, `id ${showValue(json.id)}`, 'a positive integer used by one layer only');
    }
    defined.set(json.id as number, layer);
  }
  return layer;
}
