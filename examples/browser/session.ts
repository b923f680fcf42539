/**
 * One training run of the demo, with pause, resume, reset and a change of
 * backend in the middle.
 *
 * `train()` is a cold Observable: subscribing trains, unsubscribing stops it
 * before the next step. Pausing is therefore an unsubscribe, and resuming a
 * new subscription that starts from where the last one stopped
 * (`initial: { params, optimizer, epoch, step }`). The parameters and
 * optimizer state after every step come with its step event
 * (`snapshots: true`): the run's own frozen state, shared, not copied.
 * `train()` resumes inside an epoch at its next batch, so a paused and
 * resumed run sees the same batches, in the same order, as one never paused.
 *
 * Everything the session knows (its status, the parameters and optimizer
 * state to resume from, the seed) is one frozen record, replaced with immer's
 * `produce` on every change. A change that leaves the parameters alone (a
 * pause, an epoch count) keeps them by identity, so `params$` (filters,
 * predictions) fires only when they really change, and `status$` only when
 * the status does.
 */
import { type Draft, castDraft, freeze, produce } from 'immer';
import { BehaviorSubject, distinctUntilChanged, map, type Observable, Subject, type Subscription } from 'rxjs';
import { adam, type BackendName, type Dataset, initParams, type Model, type Optimizer, type OptimizerState, type Params, train, type TrainEvent } from 'striate';

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

/** The session's state: one frozen record, replaced (never mutated) on every change. */
interface SessionState {
  readonly status: SessionStatus;
  /** The parameters after the latest step (the initial ones before training). */
  readonly params: Params;
  /** The optimizer state after the latest step; null before the first. */
  readonly optimizer: OptimizerState | null;
  /** Seed of this run's initialisation, shuffling and dropout (a reset picks a new one). */
  readonly seed: number;
}

/**
 * What the page uses of a training session: this file's TrainingSession, or
 * the RemoteSession (remote-session.ts) in front of the training worker
 * that runs one.
 */
export interface Session {
  /** Every training event, numbered over the run. */
  readonly events$: Observable<SessionEvent>;
  /** The parameters after the latest step (the initial ones before training). */
  readonly params$: Observable<Params>;
  readonly status$: Observable<SessionStatus>;
  /** Emits when `reset()` starts a new run. */
  readonly reset$: Observable<void>;
  readonly status: SessionStatus;
  start(): void;
  pause(): void;
  reset(seed: number): void;
  setBackend(backend: BackendName): void;
}

export class TrainingSession implements Session {
  /** Every training event of every subscription, numbered over the run. */
  readonly events$ = new Subject<SessionEvent>();
  /** The parameters after the latest step (the initial ones before training). */
  readonly params$: Observable<Params>;
  readonly status$: Observable<SessionStatus>;
  /** Emits when `reset()` starts a new run (charts clear themselves). */
  readonly reset$ = new Subject<void>();

  private readonly state$: BehaviorSubject<SessionState>;
  private readonly optimizer: Optimizer;
  private subscription: Subscription | null = null;

  constructor(
    private readonly options: Readonly<SessionOptions>,
    backend: BackendName,
  ) {
    this.optimizer = adam({ lr: options.lr });
    this.state$ = new BehaviorSubject<SessionState>(
      freeze(
        { status: { phase: 'idle', backend, epoch: 0, step: 0 }, params: initParams(options.model, options.seed), optimizer: null, seed: options.seed },
        true,
      ),
    );
    this.params$ = this.state$.pipe(
      map((s) => s.params),
      distinctUntilChanged(),
    );
    this.status$ = this.state$.pipe(
      map((s) => s.status),
      distinctUntilChanged(),
    );
  }

  get status(): SessionStatus {
    return this.state$.value.status;
  }

  /** Start, or resume after a pause, on the current backend. */
  start(): void {
    const s = this.status;
    if (s.phase === 'running' || s.phase === 'starting' || s.phase === 'done') return;
    if (s.epoch >= this.options.epochs) return;
    this.update((d) => {
      d.status.phase = 'starting';
      delete d.status.error;
    });
    const { params, optimizer, seed } = this.state$.value;
    const { model, data, batchSize } = this.options;
    this.subscription = train({
      model,
      data,
      optimizer: this.optimizer,
      // Each step event carries the state after it: parameters, optimizer state, step count.
      snapshots: true,
      epochs: this.options.epochs - s.epoch,
      batchSize,
      backend: s.backend,
      seed,
      evalBatchSize: 500,
      initial: { params, optimizer: optimizer ?? undefined, epoch: s.epoch, step: s.step },
    }).subscribe({
      next: (e) => {
        if (e.type === 'step') {
          // Parameters, optimizer state and step count change together, in one new record.
          const state = e.state!;
          this.update((d) => {
            d.params = castDraft(state.params);
            d.optimizer = castDraft(state.optimizer);
            d.status.phase = 'running';
            d.status.step = state.step;
          });
        } else if (e.type === 'epoch') {
          this.update((d) => {
            d.status.epoch += 1;
          });
        }
        this.events$.next({ ...e, globalStep: this.status.step });
      },
      error: (err: unknown) => {
        this.subscription = null;
        this.update((d) => {
          d.status.phase = 'error';
          d.status.error = (err as Error).message ?? String(err);
        });
      },
      complete: () => {
        this.subscription = null;
        this.update((d) => {
          d.status.phase = 'done';
        });
      },
    });
  }

  /** Stop before the next step; `start()` resumes from the last completed step. */
  pause(): void {
    if (!this.subscription) return;
    this.subscription.unsubscribe();
    this.subscription = null;
    this.update((d) => {
      d.status.phase = 'paused';
    });
  }

  /** Forget everything learned: fresh parameters (a new seed each time), step 0, idle. */
  reset(seed = this.state$.value.seed): void {
    this.pause();
    this.update((d) => {
      d.seed = seed;
      d.params = castDraft(initParams(this.options.model, seed));
      d.optimizer = null;
      d.status = { phase: 'idle', backend: d.status.backend, epoch: 0, step: 0 };
    });
    this.reset$.next();
  }

  /** Switch the backend; a running session carries on from its last step on the new one. */
  setBackend(backend: BackendName): void {
    if (backend === this.status.backend) return;
    const wasRunning = this.subscription !== null;
    this.pause();
    this.update((d) => {
      d.status.backend = backend;
      d.status.phase = d.status.phase === 'done' ? 'done' : d.status.step === 0 ? 'idle' : 'paused';
      delete d.status.error;
    });
    if (wasRunning) this.start();
  }

  /** The next state from the current one; emitted only when something changed. */
  private update(recipe: (draft: Draft<SessionState>) => void): void {
    const next = produce(this.state$.value, recipe);
    if (next !== this.state$.value) this.state$.next(next);
  }
}
