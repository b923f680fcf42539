/**
 * The messages between the page and its training worker (trainer-worker.ts).
 * The worker builds the demo's model itself (model.ts) and owns the training
 * session; only values cross: the data set once, commands one way, and the
 * session's status, its step and epoch events (without their state) and,
 * at most every PARAMS_MS while training, the latest parameters the other.
 */
import type { Params } from 'striate';
import type { BrowserBackend } from './backends.js';
import type { Measurement } from './measure.js';
import type { MnistSubset } from './mnist-subset.js';
import type { SessionEvent, SessionOptions, SessionStatus } from './session.js';

/** The parameters come back at most this often while training (ms): often enough for the filters, the predictions and the look-inside panels. */
export const PARAMS_MS = 100;
/** Step events are sent in batches at most this often (ms): the page draws once a frame anyway. */
export const EVENTS_MS = 50;

export type TrainerRequest =
  /** Smoke-test these backends here (answered by `ready`). */
  | { readonly type: 'probe'; readonly backends: readonly BrowserBackend[] }
  /** Set up the session: the data (copied), its settings and first backend. */
  | {
      readonly type: 'init';
      readonly data: Pick<MnistSubset, 'train' | 'test'>;
      readonly options: Omit<SessionOptions, 'model' | 'data'>;
      readonly backend: BrowserBackend;
    }
  | { readonly type: 'start' }
  | { readonly type: 'pause' }
  | { readonly type: 'reset'; readonly seed: number }
  | { readonly type: 'setBackend'; readonly backend: BrowserBackend }
  /** Time the training step on `backends`, in order (measure.ts); `stopMeasure` ends it before the next step. */
  | { readonly type: 'measure'; readonly backends: readonly BrowserBackend[]; readonly batchSize: number }
  | { readonly type: 'stopMeasure' };

export type TrainerReply =
  /** The answer to `probe`: null for a backend that works in the worker, else why not. */
  | { readonly type: 'ready'; readonly availability: readonly (readonly [BrowserBackend, string | null])[] }
  | { readonly type: 'status'; readonly status: SessionStatus }
  | { readonly type: 'events'; readonly events: readonly SessionEvent[] }
  /** The parameters after step `step` (each `data` its own copy). */
  | { readonly type: 'params'; readonly params: Params; readonly step: number }
  /** A reset started a new run: the page clears its charts. */
  | { readonly type: 'reset' }
  | { readonly type: 'measurement'; readonly measurement: Measurement }
  /** The measurement ended: finished, stopped, or failed with `error`. */
  | { readonly type: 'measured'; readonly error?: string }
  /** Something failed outside the session (a bad message, the data): shown on the page. */
  | { readonly type: 'failed'; readonly message: string };
