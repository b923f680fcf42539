/**
 * One training run of the demo, with pause, resume, reset and a change of
 * backend in the middle.
 *
 * `train()` is a cold Observable: subscribing trains, unsubscribing stops it
 * before the next step. Pausing is therefore an unsubscribe, and resuming a
 * new subscription that starts from where the last one stopped
 * (`initial: { params, optimizer, epoch, step }`). The parameters and
 * optimizer state after every step are caught by wrapping the optimizer
 * (its `step` is a pure function; the wrapper only records what it returns),
 * since step events carry numbers, not state.
 * `train()` resumes inside an epoch at its next batch, so a paused and
 * resumed run sees the same batches, in the same order, as one never paused.
 */
import { BehaviorSubject, Subject, type Subscription } from 'rxjs';
import type { Dataset } from '../../src/data/batches.js';
import { adam, type BackendName, initParams, type Model, type Optimizer, type OptimizerState, type Params, train, type TrainEvent } from '../../src/index.js';

export type Phase = 'idle' | 'starting' | 'running' | 'paused' | 'done' | 'error';

export interface SessionStatus {
  readonly phase: Phase;
  readonly backend: BackendName;
  /** Epochs completed. */
  readonly epoch: number;
  /** Updates so far, over all epochs and resumes. */
  readonly step: number;
  readonly error?: string;
}

export interface SessionOptions {
  model: Model;
  data: { train: Dataset; test: Dataset };
  epochs: number;
  batchSize: number;
  seed: number;
  lr: number;
}

/** A step event numbered over the whole run (`globalStep`), not just within its epoch. */
export type SessionEvent = TrainEvent & { readonly globalStep: number };

export class TrainingSession {
  /** Every training event of every subscription, numbered over the run. */
  readonly events$ = new Subject<SessionEvent>();
  /** The parameters after the latest step (the initial ones before training). */
  readonly params$: BehaviorSubject<Params>;
  readonly status$: BehaviorSubject<SessionStatus>;
  /** Emits when `reset()` starts a new run (charts clear themselves). */
  readonly reset$ = new Subject<void>();

  private readonly optimizer: Optimizer;
  private optState: OptimizerState | null = null;
  private subscription: Subscription | null = null;

  constructor(
    private readonly options: SessionOptions,
    backend: BackendName,
  ) {
    this.optimizer = adam({ lr: options.lr });
    this.params$ = new BehaviorSubject(initParams(options.model, options.seed));
    this.status$ = new BehaviorSubject<SessionStatus>({ phase: 'idle', backend, epoch: 0, step: 0 });
  }

  get status(): SessionStatus {
    return this.status$.value;
  }

  /** Start, or resume after a pause, on the current backend. */
  start(): void {
    const s = this.status;
    if (s.phase === 'running' || s.phase === 'starting' || s.phase === 'done') return;
    if (s.epoch >= this.options.epochs) return;
    this.setStatus({ phase: 'starting', error: undefined });
    const { model, data, batchSize, seed } = this.options;
    // Record each update as the optimizer makes it; the step event follows in the same tick.
    const inner = this.optimizer;
    let pending: { params: Params; state: OptimizerState } | null = null;
    const recording: Optimizer = {
      name: inner.name,
      config: inner.config,
      init: (p) => inner.init(p),
      step: (p, g, st, at) => {
        const r = inner.step(p, g, st, at);
        pending = { params: r.params, state: r.state };
        return r;
      },
    };
    const from = { params: this.params$.value, optimizer: this.optState ?? undefined, epoch: s.epoch, step: s.step };
    this.subscription = train({
      model,
      data,
      optimizer: recording,
      epochs: this.options.epochs - s.epoch,
      batchSize,
      backend: s.backend,
      seed,
      evalBatchSize: 500,
      initial: from,
    }).subscribe({
      next: (e) => {
        if (e.type === 'step') {
          const step = this.status.step + 1;
          if (pending) {
            this.optState = pending.state;
            this.params$.next(pending.params);
            pending = null;
          }
          this.setStatus({ phase: 'running', step });
          this.events$.next({ ...e, globalStep: step });
        } else if (e.type === 'epoch') {
          this.setStatus({ epoch: this.status.epoch + 1 });
          this.events$.next({ ...e, globalStep: this.status.step });
        } else {
          this.events$.next({ ...e, globalStep: this.status.step });
        }
      },
      error: (err: unknown) => {
        this.subscription = null;
        this.setStatus({ phase: 'error', error: (err as Error).message ?? String(err) });
      },
      complete: () => {
        this.subscription = null;
        this.setStatus({ phase: 'done' });
      },
    });
  }

  /** Stop before the next step; `start()` resumes from the last completed step. */
  pause(): void {
    if (!this.subscription) return;
    this.subscription.unsubscribe();
    this.subscription = null;
    this.setStatus({ phase: 'paused' });
  }

  /** Forget everything learned: fresh parameters (a new seed each time), step 0, idle. */
  reset(seed = this.options.seed): void {
    this.pause();
    this.optState = null;
    this.options.seed = seed;
    this.params$.next(initParams(this.options.model, seed));
    this.setStatus({ phase: 'idle', epoch: 0, step: 0, error: undefined });
    this.reset$.next();
  }

  /** Switch the backend; a running session carries on from its last step on the new one. */
  setBackend(backend: BackendName): void {
    if (backend === this.status.backend) return;
    const wasRunning = this.subscription !== null;
    this.pause();
    const phase = this.status.phase === 'done' ? 'done' : this.status.step === 0 ? 'idle' : 'paused';
    this.setStatus({ backend, phase, error: undefined });
    if (wasRunning) this.start();
  }

  private setStatus(patch: Partial<SessionStatus>): void {
    this.status$.next({ ...this.status, ...patch });
  }
}
