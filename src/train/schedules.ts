/**
 * Learning-rate schedules: functions from the position in training to a rate.
 * An optimizer takes a fixed number or one of these.
 *
 * ```ts
 * adam({ lr: cosineDecay(1e-3) })                    // from 1e-3 to 0 over the run
 * sgd({ lr: stepDecay(0.1, { every: 10 }), momentum: 0.9 })  // ×0.1 every 10 epochs
 * ```
 */

import { describeValue, fail } from '../graph/error.js';
import { checkOptions, showValue } from '../nn/spec.js';

/** Where training is when a step is taken. */
export interface ScheduleContext {
  /** Updates applied before this one (0 for the first step). */
  readonly step: number;
  /** Epochs completed before this step (0 during the first epoch). */
  readonly epoch: number;
  /** Steps in one epoch (Infinity when unknown). */
  readonly stepsPerEpoch: number;
  /** Steps in the whole run (Infinity when unknown). */
  readonly totalSteps: number;
}

/**
 * A learning-rate schedule: the rate for the step at `at`, a finite number
 * >= 0 (the optimizer throws on anything else). Called once per step; it
 * should depend on `at` alone, so that seeded and resumed runs agree.
 */
export type Schedule = (at: ScheduleContext) => number;

/** What an optimizer's `lr` option takes: a fixed rate >= 0, or a `Schedule`. */
export type LearningRate = number | Schedule;

function checkRate(who: string, what: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    fail(who, `${what} must be a finite number >= 0, got ${showValue(v)}`, `${what} ${showValue(v)}`, 'a finite number >= 0');
  }
  return v;
}

/** The options object of a schedule, checked: an object whose keys are all `known`. */
function scheduleOptions<T extends object>(who: string, options: T, known: readonly string[]): T {
  if (options === undefined) fail(who, `give the options (${known.join(', ')})`, 'no options', `an object with ${known.join(', ')}`);
  return checkOptions(who, options, known);
}

/**
 * The rate at `at`, checked. `who` names the optimizer asking, for the error
 * when a schedule gives a rate that is negative or not a finite number.
 */
export function resolveLearningRate(lr: LearningRate, at: ScheduleContext, who = 'resolveLearningRate'): number {
  if (at === null || typeof at !== 'object' || !Number.isInteger(at.step)) {
    fail(who, `the schedule context must be { step, epoch, stepsPerEpoch, totalSteps }, got ${describeValue(at)}`, describeValue(at), 'a ScheduleContext');
  }
  const v = typeof lr === 'function' ? lr(at) : lr;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    fail(
      who,
      `learning rate schedule gave ${String(v)} at step ${at.step}; a learning rate must be a finite number >= 0`,
      `rate ${showValue(v)} at step ${at.step}`,
      'a finite number >= 0',
    );
  }
  return v;
}

/** The same rate at every step. */
export function constantLr(lr: number): Schedule {
  checkRate('constantLr', 'lr', lr);
  return () => lr;
}

/** lr · factor^⌊epoch / every⌋: e.g. divide by 10 every 30 epochs. */
export function stepDecay(lr: number, options: { every: number; factor?: number }): Schedule {
  const who = 'stepDecay';
  checkRate(who, 'lr', lr);
  const { every } = scheduleOptions(who, options, ['every', 'factor']);
  const factor = options.factor ?? 0.1;
  if (!Number.isInteger(every) || every < 1) {
    fail(who, `every must be a positive number of epochs, got ${showValue(every)}`, `every ${showValue(every)}`, 'a positive integer (epochs)');
  }
  checkRate('stepDecay', 'factor', factor);
  return ({ epoch }) => lr * factor ** Math.floor(epoch / every);
}

/**
 * lr · rate^(step / every): smooth exponential decay. `every` is in steps and
 * defaults to one epoch, so `rate` is the factor per epoch.
 */
export function exponentialDecay(lr: number, options: { rate: number; every?: number }): Schedule {
  const who = 'exponentialDecay';
  checkRate(who, 'lr', lr);
  const { rate, every } = scheduleOptions(who, options, ['rate', 'every']);
  checkRate(who, 'rate', rate);
  if (every !== undefined && !(typeof every === 'number' && every > 0 && Number.isFinite(every))) {
    fail(who, `every must be a positive number of steps, got ${showValue(every)}`, `every ${showValue(every)}`, 'a finite number > 0 (steps)');
  }
  return ({ step, stepsPerEpoch }) => {
    const period = every ?? stepsPerEpoch;
    if (!Number.isFinite(period)) {
      fail(who, 'give `every` (in steps); the number of steps per epoch is not known here', 'no every, stepsPerEpoch unknown', 'an every option (in steps)');
    }
    return lr * rate ** (step / period);
  };
}

/**
 * Cosine decay (Loshchilov & Hutter 2017, without restarts): after an optional
 * linear warm-up of `warmup` steps from 0, the rate falls from `lr` to `final`
 * along half a cosine over `steps` steps (default: the whole run), then stays
 * at `final`.
 */
export function cosineDecay(lr: number, options: { final?: number; warmup?: number; steps?: number } = {}): Schedule {
  const who = 'cosineDecay';
  checkRate(who, 'lr', lr);
  checkOptions(who, options, ['final', 'warmup', 'steps']);
  const final = checkRate(who, 'final', options.final ?? 0);
  const warmup = options.warmup ?? 0;
  if (!Number.isInteger(warmup) || warmup < 0) {
    fail(who, `warmup must be a whole number of steps, got ${showValue(warmup)}`, `warmup ${showValue(warmup)}`, 'a whole number of steps');
  }
  if (options.steps !== undefined && !(Number.isInteger(options.steps) && options.steps >= 1)) {
    fail(who, `steps must be a positive whole number of steps, got ${showValue(options.steps)}`, `steps ${showValue(options.steps)}`, 'a positive integer');
  }
  return ({ step, totalSteps }) => {
    const steps = options.steps ?? totalSteps;
    if (!Number.isFinite(steps)) fail(who, 'give `steps`; the length of the run is not known here', 'no steps, run length unknown', 'a steps option');
    if (step < warmup) return (lr * (step + 1)) / warmup;
    const span = Math.max(1, steps - warmup);
    const t = Math.min(1, (step - warmup) / span);
    return final + 0.5 * (lr - final) * (1 + Math.cos(Math.PI * t));
  };
}
