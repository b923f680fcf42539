/**
 * Learning-rate schedules: functions from the position in training to a rate.
 * An optimizer takes a fixed number or one of these.
 *
 * ```ts
 * adam({ lr: cosineDecay(1e-3) })                    // from 1e-3 to 0 over the run
 * sgd({ lr: stepDecay(0.1, { every: 10 }), momentum: 0.9 })  // ×0.1 every 10 epochs
 * ```
 */

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
    throw new Error(`${who}: ${what} must be a finite number >= 0, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** The rate at `at`, checked. */
export function resolveLearningRate(lr: LearningRate, at: ScheduleContext): number {
  const v = typeof lr === 'function' ? lr(at) : lr;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new Error(`learning rate schedule gave ${String(v)} at step ${at.step}; a learning rate must be a finite number >= 0`);
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
  checkRate('stepDecay', 'lr', lr);
  const { every } = options;
  const factor = options.factor ?? 0.1;
  if (!Number.isInteger(every) || every < 1) throw new Error(`stepDecay: every must be a positive number of epochs, got ${JSON.stringify(every)}`);
  checkRate('stepDecay', 'factor', factor);
  return ({ epoch }) => lr * factor ** Math.floor(epoch / every);
}

/**
 * lr · rate^(step / every): smooth exponential decay. `every` is in steps and
 * defaults to one epoch, so `rate` is the factor per epoch.
 */
export function exponentialDecay(lr: number, options: { rate: number; every?: number }): Schedule {
  checkRate('exponentialDecay', 'lr', lr);
  checkRate('exponentialDecay', 'rate', options.rate);
  const { rate, every } = options;
  if (every !== undefined && !(every > 0)) throw new Error(`exponentialDecay: every must be a positive number of steps, got ${JSON.stringify(every)}`);
  return ({ step, stepsPerEpoch }) => {
    const period = every ?? stepsPerEpoch;
    if (!Number.isFinite(period)) throw new Error('exponentialDecay: give `every` (in steps); the number of steps per epoch is not known here');
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
  checkRate('cosineDecay', 'lr', lr);
  const final = checkRate('cosineDecay', 'final', options.final ?? 0);
  const warmup = options.warmup ?? 0;
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`cosineDecay: warmup must be a whole number of steps, got ${JSON.stringify(warmup)}`);
  return ({ step, totalSteps }) => {
    const steps = options.steps ?? totalSteps;
    if (!Number.isFinite(steps)) throw new Error('cosineDecay: give `steps`; the length of the run is not known here');
    if (step < warmup) return (lr * (step + 1)) / warmup;
    const span = Math.max(1, steps - warmup);
    const t = Math.min(1, (step - warmup) / span);
    return final + 0.5 * (lr - final) * (1 + Math.cos(Math.PI * t));
  };
}
