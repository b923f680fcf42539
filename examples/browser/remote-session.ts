/**
 * The page's side of the training worker (trainer-worker.ts): `Trainer`
 * starts the worker, asks it which backends work there, times the training
 * step on them for the picker, and sets up a `RemoteSession`, which the page
 * uses exactly as it would a TrainingSession (the `Session` interface):
 * commands go to the worker, and the status, the events and the parameters
 * come back from it. The page's thread only draws.
 */
import { BehaviorSubject, distinctUntilChanged, Observable, Subject } from 'rxjs';
import { initParams, type Model, type Params } from 'striate';
import type { BrowserBackend } from './backends.js';
import type { Measurement } from './measure.js';
import type { MnistSubset } from './mnist-subset.js';
import type { Session, SessionEvent, SessionOptions, SessionStatus } from './session.js';
import type { TrainerReply, TrainerRequest } from './trainer-protocol.js';

export class Trainer {
  /** Failures the worker reports outside the session, and the worker's own crash. */
  readonly errors$ = new Subject<string>();
  private readonly worker: Worker;
  private ready: ((a: Map<BrowserBackend, string | null>) => void) | null = null;
  private measurement: { next(m: Measurement): void; done(error?: string): void } | null = null;
  private session: RemoteSession | null = null;

  constructor() {
    this.worker = new Worker(new URL('./trainer-worker.ts', import.meta.url), { type: 'module', name: 'striate-trainer' });
    this.worker.onmessage = (e: MessageEvent<TrainerReply>) => this.onReply(e.data);
    this.worker.onerror = (e: ErrorEvent) => this.errors$.next(`the training worker failed: ${e.message}`);
  }

  /** Null for each backend that works in the training worker, else why not. */
  probe(backends: readonly BrowserBackend[]): Promise<Map<BrowserBackend, string | null>> {
    return new Promise((resolve) => {
      this.ready = resolve;
      this.post({ type: 'probe', backends });
    });
  }

  /** The training step timed on each backend in the worker, in order (measure.ts); unsubscribing stops it. */
  measure(backends: readonly BrowserBackend[], batchSize: number): Observable<Measurement> {
    return new Observable<Measurement>((subscriber) => {
      this.measurement = {
        next: (m) => subscriber.next(m),
        done: (error) => (error ? subscriber.error(new Error(error)) : subscriber.complete()),
      };
      this.post({ type: 'measure', backends, batchSize });
      return () => {
        if (this.measurement === null) return;
        this.measurement = null;
        this.post({ type: 'stopMeasure' });
      };
    });
  }

  /** The training session, run by the worker on `data` (copied to it) from `backend`. */
  startSession(model: Model, data: Pick<MnistSubset, 'train' | 'test'>, options: Omit<SessionOptions, 'model' | 'data'>, backend: BrowserBackend): RemoteSession {
    if (this.session) throw new Error('Trainer: one session per worker');
    this.session = new RemoteSession((r) => this.post(r), initParams(model, options.seed), backend);
    this.post({ type: 'init', data: { train: data.train, test: data.test }, options, backend });
    return this.session;
  }

  private post(r: TrainerRequest): void {
    this.worker.postMessage(r);
  }

  private onReply(r: TrainerReply): void {
    switch (r.type) {
      case 'ready':
        this.ready?.(new Map(r.availability));
        this.ready = null;
        return;
      case 'measurement':
        this.measurement?.next(r.measurement);
        return;
      case 'measured': {
        const m = this.measurement;
        this.measurement = null;
        m?.done(r.error);
        return;
      }
      case 'failed':
        this.errors$.next(r.message);
        return;
      default:
        this.session?.receive(r);
    }
  }
}

/** A training session run by the worker: the same surface as TrainingSession. */
export class RemoteSession implements Session {
  readonly events$ = new Subject<SessionEvent>();
  readonly reset$ = new Subject<void>();
  readonly params$: Observable<Params>;
  readonly status$: Observable<SessionStatus>;
  private readonly params: BehaviorSubject<Params>;
  private readonly statusNow: BehaviorSubject<SessionStatus>;

  constructor(
    private readonly post: (r: TrainerRequest) => void,
    initial: Params,
    backend: BrowserBackend,
  ) {
    this.params = new BehaviorSubject(initial);
    this.params$ = this.params.asObservable();
    this.statusNow = new BehaviorSubject<SessionStatus>({ phase: 'idle', backend, epoch: 0, step: 0 });
    this.status$ = this.statusNow.pipe(distinctUntilChanged());
  }

  /** The status as the worker last reported it. */
  get status(): SessionStatus {
    return this.statusNow.value;
  }

  start(): void {
    this.post({ type: 'start' });
  }

  pause(): void {
    this.post({ type: 'pause' });
  }

  reset(seed: number): void {
    this.post({ type: 'reset', seed });
  }

  setBackend(backend: BrowserBackend): void {
    this.post({ type: 'setBackend', backend });
  }

  /** A reply from the worker about this session. */
  receive(r: Extract<TrainerReply, { type: 'status' | 'events' | 'params' | 'reset' }>): void {
    switch (r.type) {
      case 'status':
        this.statusNow.next(Object.freeze(r.status));
        return;
      case 'events':
        for (const e of r.events) this.events$.next(e);
        return;
      case 'params':
        this.params.next(Object.freeze(r.params));
        return;
      case 'reset':
        this.reset$.next();
        return;
    }
  }
}
