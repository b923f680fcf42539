/**
 * Small RxJS operators for metric streams.
 *
 * ```ts
 * train(options).pipe(smoothSteps(0.9), throttleSteps(100)).subscribe(draw);
 * ```
 */
import { asyncScheduler, filter, map, Observable, type MonoTypeOperatorFunction, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import { describeValue, fail, StriateError } from '../graph/error.js';
import { checkOptions, showValue } from '../nn/spec.js';
import type { StepEvent, TrainEvent } from './train.js';

function checkWeight(who: string, weight: number): void {
  if (typeof weight !== 'number' || !(weight >= 0 && weight < 1)) {
    fail(who, `weight must be in [0, 1), got ${showValue(weight)}`, `weight ${showValue(weight)}`, 'a number in [0, 1)');
  }
}

/** The event types a training stream carries. */
const EVENT_TYPES: readonly TrainEvent['type'][] = ['step', 'epoch', 'done'];

/**
 * A debiased exponential moving average (TensorBoard's smoothing):
 * s_t = w·s_{t−1} + (1 − w)·x_t with s_0 = 0, emitted as s_t / (1 − w^t), so
 * the first output is the first input and early outputs are not pulled
 * towards zero. w = 0 passes values through; w near 1 smooths heavily. A
 * non-finite value is passed through unchanged and does not enter the average.
 *
 * ```
 * smooth(0.5):  --1--3--5--|   →   --1--2.333--3.857--|
 * ```
 */
export function smooth(weight: number): MonoTypeOperatorFunction<number> {
  checkWeight('smooth', weight);
  return (source) =>
    new Observable<number>((subscriber) => {
      const average = ema(weight);
      return source.subscribe({
        next: (x) => subscriber.next(average(x)),
        error: (e) => subscriber.error(e),
        complete: () => subscriber.complete(),
      });
    });
}

/** The smoothing function behind `smooth`; its state is private to each call of `ema`. */
function ema(weight: number): (x: number) => number {
  let s = 0;
  let t = 0;
  return (x) => {
    if (!Number.isFinite(x)) return x;
    t++;
    s = weight * s + (1 - weight) * x;
    return s / (1 - weight ** t);
  };
}

/**
 * Smooth the loss and accuracy of step events (as `smooth`); other events
 * pass through unchanged.
 */
export function smoothSteps(weight: number): MonoTypeOperatorFunction<TrainEvent> {
  checkWeight('smoothSteps', weight);
  return (source) =>
    new Observable<TrainEvent>((subscriber) => {
      const loss = ema(weight);
      const accuracy = ema(weight);
      return source.subscribe({
        next: (e) => {
          if (e === null || typeof e !== 'object') {
            subscriber.error(
              new StriateError('smoothSteps', `expects training events, got ${describeValue(e)}; use smooth() for a stream of numbers`, {
                got: describeValue(e),
                expected: 'a training event { type, ... }',
              }),
            );
            return;
          }
          subscriber.next(e.type === 'step' ? Object.freeze({ ...e, loss: loss(e.loss), accuracy: accuracy(e.accuracy) }) : e);
        },
        error: (err) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    });
}

/** Options of `throttleLatest`. */
export interface ThrottleLatestOptions<T> {
  /** Values that are never held back (default: none). A held value is emitted just before one of these. */
  passThrough?: (value: T) => boolean;
  /** The scheduler that times the windows (default RxJS's `asyncScheduler`); a `TestScheduler` in marble tests. */
  scheduler?: SchedulerLike;
}

/**
 * At most one value per `ms` window, always the latest, and never lose the
 * last one: the first value passes at once and opens a window; values during
 * the window replace one another, and the one held when the window closes is
 * emitted and opens the next window. On completion or error the held value is
 * emitted first. `passThrough` values are emitted at once, after any held one.
 *
 * ```
 * throttleLatest(3):  a-b-c-d------e-|   →   a--c--d-----e-|   (frames of 1 ms)
 * ```
 */
export function throttleLatest<T>(ms: number, options: ThrottleLatestOptions<T> = {}): MonoTypeOperatorFunction<T> {
  const who = 'throttleLatest';
  if (typeof ms !== 'number' || !(ms >= 0) || !Number.isFinite(ms)) {
    fail(who, `ms must be a finite number >= 0, got ${showValue(ms)}`, `ms ${showValue(ms)}`, 'a finite number >= 0');
  }
  checkOptions(who, options, ['passThrough', 'scheduler']);
  if (options.passThrough !== undefined && typeof options.passThrough !== 'function') {
    fail(who, `passThrough must be a function (value) => boolean, got ${describeValue(options.passThrough)}`, `passThrough ${describeValue(options.passThrough)}`, 'a function');
  }
  if (options.scheduler !== undefined && (options.scheduler === null || typeof options.scheduler.schedule !== 'function')) {
    fail(who, `scheduler must be an RxJS scheduler, got ${describeValue(options.scheduler)}`, `scheduler ${describeValue(options.scheduler)}`, 'an RxJS SchedulerLike');
  }
  const passThrough = options.passThrough ?? (() => false);
  const scheduler = options.scheduler ?? asyncScheduler;
  return (source) =>
    new Observable<T>((subscriber) => {
      let held: { value: T } | null = null;
      let window: Subscription | null = null;
      const flush = (): void => {
        if (held) {
          const { value } = held;
          held = null;
          subscriber.next(value);
        }
      };
      const openWindow = (): void => {
        window = scheduler.schedule(() => {
          window = null;
          if (held) {
            flush();
            openWindow();
          }
        }, ms);
      };
      const sub = source.subscribe({
        next: (v) => {
          if (passThrough(v)) {
            flush();
            subscriber.next(v);
          } else if (window === null) {
            subscriber.next(v);
            openWindow();
          } else {
            held = { value: v };
          }
        },
        error: (e) => {
          flush();
          subscriber.error(e);
        },
        complete: () => {
          flush();
          subscriber.complete();
        },
      });
      return () => {
        sub.unsubscribe();
        window?.unsubscribe();
      };
    });
}

/**
 * `throttleLatest` for training streams: step events at most one per `ms`
 * (the latest), epoch and done events always and at once. For progress bars
 * and logs that need not see every step.
 */
export function throttleSteps(ms: number, scheduler?: SchedulerLike): MonoTypeOperatorFunction<TrainEvent> {
  return throttleLatest<TrainEvent>(ms, { passThrough: (e) => e.type !== 'step', scheduler });
}

/**
 * Only the events of one type, narrowed to it: `events.pipe(ofType('epoch'))`
 * is an Observable of `EpochEvent`.
 */
export function ofType<K extends TrainEvent['type']>(type: K): OperatorFunction<TrainEvent, Extract<TrainEvent, Record<'type', K>>> {
  if (!EVENT_TYPES.includes(type)) {
    const types = EVENT_TYPES.map((t) => `'${t}'`).join(', ');
    fail('ofType', `unknown event type ${showValue(type)}; the types are ${types}`, `type ${showValue(type)}`, `one of ${types}`);
  }
  return filter((e): e is Extract<TrainEvent, Record<'type', K>> => e.type === type);
}

/** The loss of each step event: `events.pipe(stepLosses(), smooth(0.9))`. */
export function stepLosses(): OperatorFunction<TrainEvent, number> {
  return (source) => source.pipe(ofType('step'), map((e: StepEvent) => e.loss));
}
