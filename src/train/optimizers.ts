/**
 * Optimizers: pure functions from (parameters, gradients, state) to new
 * parameters and state. A step is one immer `produce` over the record
 * `{ params, optimizer }`: it assigns each parameter and each slot entry a
 * new array, and immer returns new frozen records for what changed and keeps
 * the rest (shapes, slots a rule has no use for) by identity. The previous
 * records and their arrays are never written: a `Float32Array` is an opaque
 * leaf to immer (not drafted, and it cannot be frozen), so every step
 * allocates fresh arrays for the values it changes. The arithmetic runs on
 * the host in float64 and is stored as float32.
 *
 * Update rules (PyTorch's conventions, so results can be compared with it):
 *
 *   SGD, momentum μ, weight decay λ, learning rate η, gradient g:
 *     g ← g + λ·p                      (L2 weight decay)
 *     v ← μ·v + g                      (v starts at 0, so the first v is g)
 *     d ← g + μ·v  (Nesterov)   or   d ← v
 *     p ← p − η·d
 *
 *   Adam (Kingma & Ba 2015), step t = 1, 2, ...:
 *     g ← g + λ·p                      (L2; or, decoupled (AdamW), p ← p − η·λ·p first)
 *     m ← β1·m + (1 − β1)·g
 *     v ← β2·v + (1 − β2)·g²
 *     p ← p − η · (m / (1 − β1^t)) / (sqrt(v / (1 − β2^t)) + ε)
 */
import { isDraftable, produce } from 'immer';
import { describeValue, fail } from '../graph/error.js';
import type { Gradients, Params, TensorValue } from '../nn/params.js';
import { checkParamRecord, tensorValue } from '../nn/params.js';
import { checkOptions, showValue } from '../nn/spec.js';
import { type LearningRate, resolveLearningRate, type ScheduleContext } from './schedules.js';

/** Optimizer state: the number of steps taken and per-parameter slots (e.g. `velocity`, or `m` and `v`). */
export interface OptimizerState {
  /** Updates applied so far (0 after `init`); Adam's next update is its t = step + 1. */
  readonly step: number;
  /**
   * Per-parameter values by slot name, then by parameter name, each of its
   * parameter's shape: `velocity` for SGD with momentum (none without), `m`
   * and `v` for Adam.
   */
  readonly slots: Readonly<Record<string, Params>>;
}

/** What `Optimizer.step` returns: new records; the ones it was given are left as they were. */
export interface StepResult {
  /** The updated parameters; each one given gets a new array. */
  readonly params: Params;
  /** The state after the update: `step` one higher and the slots of the moved parameters replaced. */
  readonly state: OptimizerState;
  /** The learning rate used for this step. */
  readonly lr: number;
}

/**
 * An update rule, as `sgd` and `adam` make it: a frozen record of pure
 * functions, so one optimizer can drive any number of runs.
 */
export interface Optimizer {
  /** 'sgd' or 'adam'. */
  readonly name: string;
  /**
   * The options in effect, defaults filled in (e.g. `{ lr, momentum,
   * nesterov, weightDecay }` for SGD); `lr` is the number or schedule given.
   */
  readonly config: Readonly<Record<string, unknown>>;
  /** Zeroed state for `params`. */
  init(params: Params): OptimizerState;
  /**
   * One update. `at` tells a learning-rate schedule where training is; its
   * `step` is always `state.step`. Only the parameters in `params` move, and
   * only their slots: slots the state holds for other parameters (ones that
   * `train` keeps frozen) are kept by identity.
   *
   * @throws StriateError when `state` did not come from `init` or `step`, when a
   * parameter is not a plain `{ shape, data }` record or has no gradient of
   * its size, when the state lacks a slot for it, or when the learning-rate
   * schedule gives a negative or non-finite rate.
   */
  step(params: Params, grads: Gradients, state: OptimizerState, at?: Partial<Omit<ScheduleContext, 'step'>>): StepResult;
}

/** Options of `sgd`; see the update rule at the top of this module. */
export interface SgdOptions {
  /** Learning rate or schedule. */
  lr: LearningRate;
  /** Momentum μ in [0, 1) (default 0). */
  momentum?: number;
  /** Nesterov momentum (default false); needs momentum > 0. */
  nesterov?: boolean;
  /** L2 weight decay λ >= 0 (default 0). */
  weightDecay?: number;
}

/** Options of `adam`; see the update rule at the top of this module. */
export interface AdamOptions {
  /** Learning rate or schedule (default 1e-3). */
  lr?: LearningRate;
  /** Decay β1 of the first-moment (mean) estimate m, in [0, 1) (default 0.9). */
  beta1?: number;
  /** Decay β2 of the second-moment (uncentred variance) estimate v, in [0, 1) (default 0.999). */
  beta2?: number;
  /** ε > 0 added to sqrt(v̂) so the step stays bounded where v̂ is near 0 (default 1e-8). */
  epsilon?: number;
  /** Weight decay λ >= 0 (default 0): L2 on the gradient, or decoupled (AdamW) when `decoupled`. */
  weightDecay?: number;
  /** Apply `weightDecay` as AdamW does, p ← p − η·λ·p before the Adam step, instead of adding λ·p to the gradient (default false). */
  decoupled?: boolean;
}

function checkLr(who: string, lr: LearningRate): void {
  if (typeof lr === 'function') return;
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) {
    fail(who, `lr must be a finite number >= 0 or a schedule, got ${showValue(lr)}`, `lr ${showValue(lr)}`, 'a finite number >= 0 or a schedule');
  }
}

function checkIn(who: string, what: string, v: number, lo: number, hi: number, hiOpen = true): number {
  if (typeof v !== 'number' || !(v >= lo && (hiOpen ? v < hi : v <= hi))) {
    const range = `[${lo}, ${hi}${hiOpen ? ')' : ']'}`;
    fail(who, `${what} must be in ${range}, got ${showValue(v)}`, `${what} ${showValue(v)}`, `a number in ${range}`);
  }
  return v;
}

function checkBoolean(who: string, what: string, v: unknown): boolean {
  if (typeof v !== 'boolean') fail(who, `${what} must be true or false, got ${showValue(v)}`, `${what} ${showValue(v)}`, 'true or false');
  return v;
}

function zerosLike(who: string, params: Params): Params {
  checkParamRecord(`${who}.init`, params);
  const out: Record<string, TensorValue> = {};
  for (const [name, v] of Object.entries(params)) out[name] = tensorValue(v.shape, new Float32Array(v.data.length));
  return Object.freeze(out);
}

function freezeState(step: number, slots: Record<string, Params>): OptimizerState {
  return Object.freeze({ step, slots: Object.freeze(slots) });
}

/** Check that every parameter has a gradient of its size and the state has every slot entry. */
function checkStep(who: string, params: Params, grads: Gradients, state: OptimizerState, slotNames: readonly string[]): void {
  if (!state || typeof state.step !== 'number' || !state.slots) {
    fail(who, "state must come from this optimizer's init() or a previous step()", `state ${describeValue(state)}`, 'an OptimizerState from init() or step()');
  }
  checkParamRecord(who, params);
  if (grads === null || typeof grads !== 'object') {
    fail(who, `grads must be a record of gradients by parameter name, got ${describeValue(grads)}`, `grads ${describeValue(grads)}`, 'a record of gradients');
  }
  for (const [name, p] of Object.entries(params)) {
    // immer drafts plain objects only; anything else it would hand to the
    // step as is, and assigning its `data` would write into the caller's value.
    if (!isDraftable(p)) fail(who, `parameter "${name}" must be a plain { shape, data } record (see tensorValue)`, `"${name}": ${describeValue(p)}`, 'a plain { shape, data } record');
    const g = Object.hasOwn(grads, name) ? grads[name] : undefined;
    if (g === undefined) fail(who, `no gradient for parameter "${name}"`, `no gradient for "${name}"`, 'a gradient for every parameter');
    if (!ArrayBuffer.isView(g) && !Array.isArray(g)) {
      fail(who, `the gradient of "${name}" must be an array of numbers, got ${describeValue(g)}`, `gradient of "${name}": ${describeValue(g)}`, 'a Float32Array, Float64Array or array of numbers');
    }
    if (g.length !== p.data.length) {
      fail(who, `the gradient of "${name}" has ${g.length} values but the parameter has ${p.data.length}`, `${g.length} gradient values`, `${p.data.length} values`);
    }
    for (const s of slotNames) {
      const slot = state.slots[s]?.[name];
      if (slot === undefined || slot === null || !(slot.data instanceof Float32Array) || slot.data.length !== p.data.length) {
        fail(
          who,
          `the optimizer state has no "${s}" of the size of "${name}"; was it made for other parameters?`,
          `state without "${s}" for "${name}"`,
          `a "${s}" of ${p.data.length} values`,
        );
      }
      if (!isDraftable(slot)) {
        fail(who, `the optimizer state's "${s}" of "${name}" must be a plain { shape, data } record`, `"${s}" of "${name}": ${describeValue(slot)}`, 'a plain { shape, data } record');
      }
    }
  }
}

function context(who: string, state: OptimizerState, at: Partial<Omit<ScheduleContext, 'step'>> | undefined): ScheduleContext {
  checkOptions(who, at, ['epoch', 'stepsPerEpoch', 'totalSteps']);
  return {
    step: state.step,
    epoch: at?.epoch ?? 0,
    stepsPerEpoch: at?.stepsPerEpoch ?? Infinity,
    totalSteps: at?.totalSteps ?? Infinity,
  };
}

/**
 * Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay.
 *
 * @throws StriateError when `lr` is missing, negative or not finite, when `momentum`
 * is outside [0, 1), `weightDecay` is negative, or `nesterov` is set without
 * momentum.
 */
export function sgd(options: SgdOptions): Optimizer {
  const who = 'sgd';
  checkOptions(who, options, ['lr', 'momentum', 'nesterov', 'weightDecay']);
  if (!options || options.lr === undefined) fail(who, 'give a learning rate, e.g. sgd({ lr: 0.01, momentum: 0.9 })', 'no lr', 'an lr option');
  checkLr(who, options.lr);
  const momentum = checkIn(who, 'momentum', options.momentum ?? 0, 0, 1);
  const nesterov = checkBoolean(who, 'nesterov', options.nesterov ?? false);
  const weightDecay = checkIn(who, 'weightDecay', options.weightDecay ?? 0, 0, Infinity);
  if (nesterov && momentum === 0) fail(who, 'Nesterov momentum needs momentum > 0', 'nesterov with momentum 0', 'momentum > 0');
  const slotNames = momentum > 0 ? ['velocity'] : [];
  const lrOption = options.lr;
  return Object.freeze({
    name: 'sgd',
    config: Object.freeze({ lr: options.lr, momentum, nesterov, weightDecay }),
    init: (params: Params) => freezeState(0, momentum > 0 ? { velocity: zerosLike(who, params) } : {}),
    step(params: Params, grads: Gradients, state: OptimizerState, at?: Partial<Omit<ScheduleContext, 'step'>>): StepResult {
      checkStep(who, params, grads, state, slotNames);
      const lr = resolveLearningRate(lrOption, context(who, state, at), who);
      const next = produce({ params, optimizer: state }, (d) => {
        for (const [name, p] of Object.entries(params)) {
          // Read the previous values from the base records, write new arrays into the draft.
          const g = grads[name];
          const pd = p.data;
          const np = new Float32Array(pd.length);
          if (momentum > 0) {
            const vOld = state.slots.velocity[name].data;
            const nv = new Float32Array(pd.length);
            for (let i = 0; i < pd.length; i++) {
              const gi = g[i] + weightDecay * pd[i];
              const vi = momentum * vOld[i] + gi;
              nv[i] = vi;
              np[i] = pd[i] - lr * (nesterov ? gi + momentum * vi : vi);
            }
            d.optimizer.slots.velocity[name].data = nv;
          } else {
            for (let i = 0; i < pd.length; i++) np[i] = pd[i] - lr * (g[i] + weightDecay * pd[i]);
          }
          d.params[name].data = np;
        }
        d.optimizer.step += 1;
      });
      return Object.freeze({ params: next.params, state: next.optimizer, lr });
    },
  });
}

/**
 * Adam, with optional L2 or decoupled (AdamW) weight decay.
 *
 * @throws StriateError when `lr` is negative or not finite, when `beta1` or `beta2`
 * is outside [0, 1), `epsilon` is not a finite number > 0, or `weightDecay`
 * is negative.
 */
export function adam(options: AdamOptions = {}): Optimizer {
  const who = 'adam';
  checkOptions(who, options, ['lr', 'beta1', 'beta2', 'epsilon', 'weightDecay', 'decoupled']);
  const lrOption = options.lr ?? 1e-3;
  checkLr(who, lrOption);
  const beta1 = checkIn(who, 'beta1', options.beta1 ?? 0.9, 0, 1);
  const beta2 = checkIn(who, 'beta2', options.beta2 ?? 0.999, 0, 1);
  const epsilon = options.epsilon ?? 1e-8;
  if (typeof epsilon !== 'number' || !(epsilon > 0) || !Number.isFinite(epsilon)) {
    fail(who, `epsilon must be a finite number > 0, got ${showValue(epsilon)}`, `epsilon ${showValue(epsilon)}`, 'a finite number > 0');
  }
  const weightDecay = checkIn(who, 'weightDecay', options.weightDecay ?? 0, 0, Infinity);
  const decoupled = checkBoolean(who, 'decoupled', options.decoupled ?? false);
  return Object.freeze({
    name: 'adam',
    config: Object.freeze({ lr: lrOption, beta1, beta2, epsilon, weightDecay, decoupled }),
    init: (params: Params) => freezeState(0, { m: zerosLike(who, params), v: zerosLike(who, params) }),
    step(params: Params, grads: Gradients, state: OptimizerState, at?: Partial<Omit<ScheduleContext, 'step'>>): StepResult {
      checkStep(who, params, grads, state, ['m', 'v']);
      const lr = resolveLearningRate(lrOption, context(who, state, at), who);
      const t = state.step + 1;
      const c1 = 1 - beta1 ** t;
      const c2 = 1 - beta2 ** t;
      const l2 = decoupled ? 0 : weightDecay;
      const shrink = decoupled ? 1 - lr * weightDecay : 1;
      const next = produce({ params, optimizer: state }, (d) => {
        for (const [name, p] of Object.entries(params)) {
          // Read the previous values from the base records, write new arrays into the draft.
          const g = grads[name];
          const pd = p.data;
          const mOld = state.slots.m[name].data;
          const vOld = state.slots.v[name].data;
          const np = new Float32Array(pd.length);
          const nm = new Float32Array(pd.length);
          const nv = new Float32Array(pd.length);
          for (let i = 0; i < pd.length; i++) {
            const gi = g[i] + l2 * pd[i];
            const mi = beta1 * mOld[i] + (1 - beta1) * gi;
            const vi = beta2 * vOld[i] + (1 - beta2) * gi * gi;
            nm[i] = mi;
            nv[i] = vi;
            np[i] = shrink * pd[i] - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + epsilon);
          }
          d.params[name].data = np;
          d.optimizer.slots.m[name].data = nm;
          d.optimizer.slots.v[name].data = nv;
        }
        d.optimizer.step = t;
      });
      return Object.freeze({ params: next.params, state: next.optimizer, lr });
    },
  });
}

/**
 * Optimizer state as named tensors for a checkpoint: `velocity/conv1.w`,
 * `m/fc1.b`, ...; the step count goes in the checkpoint's metadata. The data
 * arrays are the state's own, not copies.
 */
export function optimizerTensors(state: OptimizerState): Record<
  string,
  {
    /** The parameter's shape, a fresh array. */
    shape: number[];
    /** The slot's values, row-major, of the state itself (not a copy). */
    data: Float32Array;
  }
> {
  if (state === null || typeof state !== 'object' || state.slots === null || typeof state.slots !== 'object') {
    fail('optimizerTensors', `state must be an optimizer state (from init() or step()), got ${describeValue(state)}`, describeValue(state), 'an OptimizerState');
  }
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [slot, values] of Object.entries(state.slots)) {
    for (const [name, v] of Object.entries(values)) out[`${slot}/${name}`] = { shape: [...v.shape], data: v.data };
  }
  return out;
}

/**
 * The inverse of `optimizerTensors`: a state at `step` whose slots are the
 * `slot/parameter` entries of `tensors`, sharing their arrays.
 *
 * @throws StriateError when `step` is not a whole number >= 0 or a key is not of
 * the form `slot/parameter`.
 */
export function optimizerStateFromTensors(step: number, tensors: Readonly<Record<string, { shape: readonly number[]; data: Float32Array }>>): OptimizerState {
  const who = 'optimizerStateFromTensors';
  if (!Number.isSafeInteger(step) || step < 0) fail(who, `step must be a whole number, got ${showValue(step)}`, `step ${showValue(step)}`, 'a whole number');
  checkParamRecord(who, tensors, 'tensors');
  const slots: Record<string, Record<string, TensorValue>> = {};
  for (const [key, v] of Object.entries(tensors)) {
    const cut = key.indexOf('/');
    if (cut <= 0 || cut === key.length - 1) fail(who, `"${key}" is not of the form slot/parameter`, `key "${key}"`, 'a key of the form slot/parameter');
    const slot = key.slice(0, cut);
    (slots[slot] ??= {})[key.slice(cut + 1)] = tensorValue(v.shape, v.data);
  }
  return freezeState(step, Object.fromEntries(Object.entries(slots).map(([k, v]) => [k, Object.freeze(v)])));
}
