/**
 * Seeded weight initialisers. Each one maps a shape, the layer's fans and a
 * random generator to fresh float32 values.
 *
 * Fans: for a dense weight `[in, out]`, fanIn = in and fanOut = out; for a
 * convolution filter `[O, C, kH, kW]`, every output sees C·kH·kW inputs
 * (fanIn) and every input reaches O·kH·kW outputs (fanOut).
 *
 * - He (Kaiming; He et al. 2015): Var(w) = 2 / fanIn. With ReLU, half of the
 *   pre-activations are cut to zero, so doubling the LeCun variance keeps the
 *   variance of the activations constant from layer to layer.
 * - Glorot (Xavier; Glorot & Bengio 2010): Var(w) = 2 / (fanIn + fanOut), a
 *   compromise between keeping forward activations and backward gradients at
 *   constant variance; suited to tanh/sigmoid and to the final (logit) layer.
 * - LeCun: Var(w) = 1 / fanIn.
 * A uniform distribution on [-a, a] has variance a²/3, so a = sqrt(3·Var).
 */
import { describeValue, fail } from '../graph/error.js';
import { type Shape, sizeOf } from '../graph/tensor.js';
import type { Rng } from '../data/random.js';

/** How many inputs feed each output of a layer (`fanIn`) and how many outputs each input reaches (`fanOut`); see the file comment. */
export interface Fans {
  /** Inputs per output: `in` for a dense weight, C·kH·kW for a convolution. */
  readonly fanIn: number;
  /** Outputs per input: `out` for a dense weight, O·kH·kW for a convolution. */
  readonly fanOut: number;
}

/** Fresh values for a parameter of `shape`, drawn from `rng`. */
export type Initializer = (shape: Shape, fans: Fans, rng: Rng) => Float32Array;

function normalWith(std: (f: Fans) => number): Initializer {
  return (shape, fans, rng) => {
    const s = std(fans);
    const out = new Float32Array(sizeOf(shape));
    for (let i = 0; i < out.length; i++) out[i] = rng.normal() * s;
    return out;
  };
}

function uniformWith(limit: (f: Fans) => number): Initializer {
  return (shape, fans, rng) => {
    const a = limit(fans);
    const out = new Float32Array(sizeOf(shape));
    for (let i = 0; i < out.length; i++) out[i] = (2 * rng.next() - 1) * a;
    return out;
  };
}

/** N(0, 2/fanIn): for layers followed by ReLU. */
export const heNormal: Initializer = normalWith(({ fanIn }) => Math.sqrt(2 / fanIn));
/** U(±sqrt(6/fanIn)): He variance, uniform. */
export const heUniform: Initializer = uniformWith(({ fanIn }) => Math.sqrt(6 / fanIn));
/** N(0, 2/(fanIn+fanOut)). */
export const glorotNormal: Initializer = normalWith(({ fanIn, fanOut }) => Math.sqrt(2 / (fanIn + fanOut)));
/** U(±sqrt(6/(fanIn+fanOut))): Glorot variance, uniform. */
export const glorotUniform: Initializer = uniformWith(({ fanIn, fanOut }) => Math.sqrt(6 / (fanIn + fanOut)));
/** N(0, 1/fanIn). */
export const lecunNormal: Initializer = normalWith(({ fanIn }) => Math.sqrt(1 / fanIn));

/**
 * How a model description names a built-in initialiser: the name of a
 * random one (`"heNormal"`), or `{ constant: v }` for `constantInit(v)`.
 */
export type InitializerJson = NamedInitializer | { readonly constant: number };

const NAMED = { heNormal, heUniform, glorotNormal, glorotUniform, lecunNormal } as const;

/** The names of the random built-in initialisers. */
export type NamedInitializer = keyof typeof NAMED;

const descriptions = new WeakMap<Initializer, InitializerJson>(
  Object.entries(NAMED).map(([name, init]) => [init, name as NamedInitializer]),
);

/** Every value `v` (biases: zeros). Uses no random numbers. */
export function constantInit(v: number): Initializer {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    const shown = typeof v === 'number' ? String(v) : describeValue(v);
    fail('constantInit', `value must be finite, got ${shown}`, `value ${shown}`, 'a finite number');
  }
  const init: Initializer = (shape) => new Float32Array(sizeOf(shape)).fill(v);
  descriptions.set(init, Object.freeze({ constant: v }));
  return init;
}

/** Zeros: `constantInit(0)`, the default for biases. */
export const zerosInit: Initializer = constantInit(0);
/** Ones: `constantInit(1)`. */
export const onesInit: Initializer = constantInit(1);

/**
 * A 32-bit FNV-1a hash of a parameter name. Each parameter draws from its own
 * generator seeded by (run seed, hash of its name), so adding or reordering
 * layers does not change the initial values of the others.
 */
export function hashName(name: string): number {
  if (typeof name !== 'string') fail('hashName', `name must be a string, got ${describeValue(name)}`, describeValue(name), 'a string');
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The description of a built-in initialiser, or undefined for one written as a plain function. */
export function initializerToJson(init: Initializer): InitializerJson | undefined {
  return descriptions.get(init);
}

/** The initialiser a description names; for anything else an error of `who`, placed by `where` (the option's path). */
export function initializerFromJson(who: string, json: unknown, where?: string): Initializer {
  if (typeof json === 'string' && Object.hasOwn(NAMED, json)) return NAMED[json as NamedInitializer];
  if (json !== null && typeof json === 'object' && !Array.isArray(json)) {
    const keys = Object.keys(json);
    const v = (json as { constant?: unknown }).constant;
    if (keys.length === 1 && keys[0] === 'constant' && typeof v === 'number' && Number.isFinite(v)) return constantInit(v);
  }
  const expected = `one of ${Object.keys(NAMED).map((n) => `"${n}"`).join(', ')} or { "constant": <finite number> }`;
  const shown = JSON.stringify(json) ?? describeValue(json);
  fail(who, `${where ? `${where}: ` : ''}unknown initialiser ${shown}; expected ${expected}`, `initialiser ${shown}`, expected);
}
