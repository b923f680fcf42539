/// <reference lib="webworker" />
/**
 * The demo's training worker: the training session (session.ts), the
 * backends' smoke tests and the picker's timing of the training step
 * (measure.ts) all run here, so a training step never holds up the page.
 * The page (remote-session.ts) sends commands and gets the session's status
 * at every change, its events in batches (EVENTS_MS), and the parameters at
 * most every PARAMS_MS while they change: the page redraws the filters and
 * the predictions from those, and never reads a step's state itself.
 *
 * WebGL2 runs here on an OffscreenCanvas (gpu.js makes one where there is
 * no document), WebGPU on the worker's navigator.gpu, and the threaded wasm
 * backend starts its own workers from here.
 */
import { asyncScheduler, type Subscription, throttleTime } from 'rxjs';
import { compile, input, type Params, relu } from 'striate';
import { type BrowserBackend, browserUnavailableReason } from './backends.js';
import { measureBackends } from './measure.js';
import { demoModel } from './model.js';
import { EVENTS_MS, PARAMS_MS, type TrainerReply, type TrainerRequest } from './trainer-protocol.js';
import { type SessionEvent, type SessionStatus, TrainingSession } from './session.js';

declare const self: DedicatedWorkerGlobalScope;

const reply = (r: TrainerReply, transfer: Transferable[] = []): void => self.postMessage(r, transfer);

/** Run a tiny graph on a backend: catches a backend that is announced but cannot compile or run here. */
async function smokeTest(backend: BrowserBackend): Promise<string | null> {
  const reason = await browserUnavailableReason(backend);
  if (reason) return reason;
  try {
    const f = compile([relu(input('x', [4]))], { backend });
    const [y] = await f.run({ x: [-1, 2, -3, 4] });
    await f.dispose();
    return y.data.join() === '0,2,0,4' ? null : `a test kernel computed ${Array.from(y.data).join(', ')} instead of 0, 2, 0, 4`;
  } catch (e) {
    return `a test kernel failed: ${(e as Error).message}`;
  }
}

/** Each parameter in its own buffer (a step's parameters may be views into one arena), to transfer. */
function detached(params: Params): { params: Params; buffers: ArrayBuffer[] } {
  const out: Record<string, { shape: readonly number[]; data: Float32Array }> = {};
  const buffers: ArrayBuffer[] = [];
  for (const [name, v] of Object.entries(params)) {
    const data = Float32Array.from(v.data);
    out[name] = { shape: v.shape, data };
    buffers.push(data.buffer);
  }
  return { params: out as unknown as Params, buffers };
}

/** An event without a step's state. */
function withoutState(e: SessionEvent): SessionEvent {
  if (e.type !== 'step' || !e.state) return e;
  const { state: _state, ...rest } = e;
  return rest;
}

let session: TrainingSession | null = null;
let measuring: Subscription | null = null;
let pending: SessionEvent[] = [];
let flushTimer: ReturnType<typeof setTimeout> | null = null;

let posted: SessionStatus | null = null;
let pendingStatus: SessionStatus | null = null;

function postStatus(status: SessionStatus): void {
  posted = status;
  pendingStatus = null;
  reply({ type: 'status', status });
}

const flush = (): void => {
  if (flushTimer !== null) clearTimeout(flushTimer);
  flushTimer = null;
  if (pending.length > 0) {
    // A step event's state (parameters, optimizer moments) stays here: the parameters go on their own, throttled.
    reply({ type: 'events', events: pending.map(withoutState) });
    pending = [];
  }
  if (pendingStatus) postStatus(pendingStatus);
};

function stopMeasuring(): void {
  if (!measuring) return;
  measuring.unsubscribe();
  measuring = null;
  reply({ type: 'measured' });
}

function startSession(request: Extract<TrainerRequest, { type: 'init' }>): void {
  const s = new TrainingSession({ model: demoModel, data: { train: request.data.train, test: request.data.test }, ...request.options }, request.backend);
  session = s;
  s.status$.subscribe((status) => {
    // A new step count alone rides with the next batch of events; any other change goes at once,
    // after the events before it, so that the page sees a run's last steps before it is paused or done.
    const last = posted;
    if (last && status.phase === last.phase && status.backend === last.backend && status.epoch === last.epoch && status.error === last.error) {
      pendingStatus = status;
      flushTimer ??= setTimeout(flush, EVENTS_MS);
      return;
    }
    flush();
    postStatus(status);
  });
  s.events$.subscribe((e) => {
    pending.push(e);
    if (e.type !== 'step') flush();
    else flushTimer ??= setTimeout(flush, EVENTS_MS);
  });
  s.params$.pipe(throttleTime(PARAMS_MS, asyncScheduler, { leading: true, trailing: true })).subscribe((p) => {
    const { params, buffers } = detached(p);
    reply({ type: 'params', params, step: s.status.step }, buffers);
  });
  s.reset$.subscribe(() => {
    pending = [];
    reply({ type: 'reset' });
  });
}

async function handle(request: TrainerRequest): Promise<void> {
  switch (request.type) {
    case 'probe': {
      const availability: (readonly [BrowserBackend, string | null])[] = [];
      for (const b of request.backends) availability.push([b, await smokeTest(b)]);
      reply({ type: 'ready', availability });
      return;
    }
    case 'init':
      if (session) throw new Error('the training worker was initialised twice');
      startSession(request);
      return;
    case 'measure':
      stopMeasuring();
      measuring = measureBackends(demoModel, request.backends, { batchSize: request.batchSize }).subscribe({
        next: (measurement) => reply({ type: 'measurement', measurement }),
        error: (e: Error) => {
          measuring = null;
          reply({ type: 'measured', error: e.message ?? String(e) });
        },
        complete: () => {
          measuring = null;
          reply({ type: 'measured' });
        },
      });
      return;
    case 'stopMeasure':
      stopMeasuring();
      return;
  }
  if (!session) throw new Error(`"${request.type}" before the session was set up`);
  switch (request.type) {
    case 'start':
      // Timing and training would compete for the same processor: training wins.
      stopMeasuring();
      session.start();
      return;
    case 'pause':
      session.pause();
      return;
    case 'reset':
      session.reset(request.seed);
      return;
    case 'setBackend':
      session.setBackend(request.backend);
      return;
  }
}

self.onmessage = (e: MessageEvent<TrainerRequest>) => {
  handle(e.data).catch((err: Error) => reply({ type: 'failed', message: `${e.data?.type ?? 'a message'}: ${err.message ?? String(err)}` }));
};
