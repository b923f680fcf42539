/**
 * Data parallelism above gpu.js: one graph, built for a part of the batch,
 * run on `threads` parts at once, this thread doing the first part and a
 * worker thread each of the others, every thread with its own one-thread
 * pipeline; the parts' results are then joined (concatenated along the
 * batch, averaged or summed, as the caller says for each output).
 *
 * gpu.js's own worker pool (`webasm-threads`) splits every kernel of one
 * pipeline across threads and meets at a barrier after each; a LeNet-5
 * training step has 35 of them, each a fraction of a millisecond, and on
 * this project's 2-core machine the second thread cost 6% in training and
 * added 30% to inference (`npm run bench`, 2026-12-03). Here the threads
 * meet once a run, through shared memory (see {@link SPIN_MS}): two threads
 * trained LeNet-5 at 1.54x one thread and inferred at 1.75x in that run.
 *
 * ```ts
 * // The training graph of 32 images; run on 64, two threads of 32.
 * const f = compileParallel([loss, ...grads], {
 *   backend: 'webasm', threads: 2, split: ['x', 'labels'], combine: ['mean', ...grads.map(() => 'mean')],
 * });
 * const [l, ...g] = await f.run({ x: images64, labels: labels64, ...params });
 * ```
 *
 * For a mean loss over the batch (plus terms that do not depend on it) the
 * mean of the parts' gradients is the whole batch's gradient, so a training
 * step is the same as on one thread up to float rounding. Batch
 * normalisation is the exception: each part normalises over its own slice
 * of the batch.
 *
 * Node only for now (worker_threads): elsewhere `threads` above 1 is
 * refused with a StriateError saying so, rather than run on one thread.
 */
import type { Worker as NodeWorker } from 'node:worker_threads';
import type { Observable, ObservableInput } from 'rxjs';
import { checkOptions, describeValue, type ErrorFields, errorFromFields, fail } from '../graph/error.js';
import { graphToMessage, type GraphMessage } from '../graph/message.js';
import { sizeOf, type Tensor } from '../graph/tensor.js';
import { availableCores, startWorker, workerThreads } from '../graph/threads.js';
import { compile } from './compile.js';
import { disposedError, type CompiledFunction, type RunResult } from './compiled.js';
import { validateFeeds, type Feeds, type InputSpec } from './feeds.js';
import type { GpuJsFunction } from './gpujs/executor.js';
import { run$ } from './reactive.js';

/** How the parts' values of one output become the whole batch's: concatenated along axis 0, averaged, or summed. */
export type Combine = 'concat' | 'mean' | 'sum';

/** The backends a data-parallel function runs on: each thread runs its own one-thread pipeline of one of these. */
export const PARALLEL_BACKENDS = ['webasm', 'cpu'] as const;
/** One of {@link PARALLEL_BACKENDS}. */
export type ParallelBackend = (typeof PARALLEL_BACKENDS)[number];

/** The most threads one data-parallel function starts. */
export const MAX_THREADS = 64;

/** Options of {@link compileParallel}; all required. */
export interface ParallelOptions {
  /** The backend of every thread's pipeline: `'webasm'` or `'cpu'`. */
  readonly backend: ParallelBackend;
  /** How many parts a run's batch is cut into, one thread each (this one included): an integer from 1 to {@link MAX_THREADS}. */
  readonly threads: number;
  /**
   * The inputs that carry the batch, cut along axis 0: the graph's input of
   * shape `[n, ...]` is fed `[threads * n, ...]` values. Every other input
   * is given to every part whole (the parameters).
   */
  readonly split: readonly string[];
  /** For each output, in order, how the parts' values are joined (see {@link Combine}). */
  readonly combine: readonly Combine[];
}

/** Where the part graph's inputs and outputs lie in a worker's shared buffers, in floats. */
export interface SharedLayout {
  readonly inputs: readonly { readonly name: string; readonly offset: number; readonly length: number }[];
  readonly outputs: readonly { readonly offset: number; readonly length: number }[];
}

/**
 * The one message this thread sends a worker: its graph, and the shared
 * buffers through which every run then goes (its inputs, its outputs, and
 * the control words).
 */
export interface ParallelRequest {
  readonly graph: GraphMessage;
  /** How long the worker spins for the next run before it sleeps (SPIN_MS, or 0 with more threads than cores). */
  readonly spinMs: number;
  readonly backend: ParallelBackend;
  readonly layout: SharedLayout;
  readonly control: SharedArrayBuffer;
  readonly inputs: SharedArrayBuffer;
  readonly outputs: SharedArrayBuffer;
}

/** What a worker posts: that it is ready, or an error (null generation: compiling failed). */
export type ParallelReply = { readonly type: 'ready' } | { readonly type: 'error'; readonly generation: number | null; readonly error: ErrorFields };

/**
 * The control words of a worker (an Int32Array over `control`): this thread
 * writes the run's generation at REQUEST once the inputs are in place; the
 * worker writes FAILED (1 when that run failed, its error then posted) and
 * then the generation at DONE once the outputs are.
 */
export const REQUEST = 0;
/** See {@link REQUEST}. */
export const DONE = 1;
/** See {@link REQUEST}. */
export const FAILED = 2;

/**
 * How long a waiting thread spins on the control words before it sleeps.
 * Messages and futex wake-ups cost 2–3 ms each on a virtual machine whose
 * idle CPU has halted (measured on this project's 2-core VM: a message to a
 * worker while this thread computed arrived 2.6 ms later), as much as a
 * tenth of a LeNet-5 step; spinning keeps the waiting core awake for the
 * few milliseconds between one part's end and the next run. With more
 * threads than cores nobody spins: a spinning thread would take a core from
 * one that computes.
 */
export const SPIN_MS = 10;

/** Atomics.waitAsync (ES2024; in Node since 16), typed here for an ES2022 lib. */
const waitAsync = (Atomics as unknown as {
  waitAsync(words: Int32Array, index: number, value: number, timeout: number): { async: boolean; value: Promise<unknown> | string };
}).waitAsync;

/**
 * Wait until `words[index]` is no longer `old` and return its value:
 * spinning for `spinMs`, then sleeping (Atomics.waitAsync) in slices of
 * 50 ms, between which `check` may throw (a worker that died).
 */
export async function waitWhile(words: Int32Array, index: number, old: number, spinMs: number, check: () => void = () => undefined): Promise<number> {
  const until = performance.now() + spinMs;
  for (;;) {
    const now = Atomics.load(words, index);
    if (now !== old) return now;
    check();
    if (performance.now() < until) continue;
    const waited = waitAsync(words, index, old, 50);
    if (waited.async) await waited.value;
  }
}

/** Why threads above 1 cannot run here, or null when they can. */
export function parallelUnavailable(): string | null {
  return workerThreads() === null ? 'data-parallel threads need Node 20.16 or later (worker_threads); in a browser, use threads: 1' : null;
}

const COMBINES: readonly Combine[] = ['concat', 'mean', 'sum'];

/** A value for a message: JSON where it has one (2, "cpu"), else described. */
const show = (v: unknown): string => (typeof v === 'number' || typeof v === 'string' ? JSON.stringify(v) : describeValue(v));
const WHO = 'compileParallel';

/**
 * Compile `outputs`, a graph built for one part of the batch, to run on
 * `threads` parts at once; see the file comment. Everything is checked here:
 * the options, the graph (as `compile` checks it), that every `split` input
 * exists and has a batch axis, that a concatenated output has one, and that
 * every op can be sent to a worker thread.
 */
export function compileParallel(outputs: Tensor | readonly Tensor[], options: ParallelOptions): ParallelFunction {
  if (options === null || typeof options !== 'object') {
    fail(WHO, `options must be { backend, threads, split, combine }, got ${describeValue(options)}`, describeValue(options), '{ backend, threads, split, combine }');
  }
  checkOptions(WHO, options, ['backend', 'threads', 'split', 'combine'], "{ backend: 'webasm', threads: 2, split: ['x'], combine: ['concat'] }");
  const { backend, threads } = options;
  if (!(PARALLEL_BACKENDS as readonly unknown[]).includes(backend)) {
    fail(
      WHO,
      `backend must be ${PARALLEL_BACKENDS.map((b) => `"${b}"`).join(' or ')}, got ${show(backend)}: each thread runs its own one-thread pipeline ` +
        "(webasm-threads would put gpu.js's worker pool under each, and a GPU backend has one device for all)",
      `backend ${show(backend)}`,
      PARALLEL_BACKENDS.join(' or '),
    );
  }
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    fail(WHO, `threads must be an integer from 1 to ${MAX_THREADS}, got ${show(threads)}`, `threads ${show(threads)}`, `an integer from 1 to ${MAX_THREADS}`);
  }
  const unavailable = threads > 1 ? parallelUnavailable() : null;
  if (unavailable) fail(WHO, unavailable, `threads ${threads} without worker threads`, 'threads: 1 here');
  // compile checks the outputs and every node of the graph.
  const local = compile(outputs, { backend }) as GpuJsFunction;
  try {
    const split = checkSplit(options.split, local.inputs);
    const combine = checkCombine(options.combine, local.outputs);
    const graph = threads > 1 ? graphToMessage(WHO, local.outputs) : null;
    return new ParallelFunction(local, backend, threads, split, combine, graph);
  } catch (e) {
    void local.dispose();
    throw e;
  }
}

function checkSplit(split: unknown, inputs: readonly InputSpec[]): ReadonlySet<string> {
  const names = inputs.map((i) => `"${i.name}"`).join(', ') || 'none';
  if (!Array.isArray(split)) fail(WHO, `split must be an array of input names, got ${describeValue(split)}`, describeValue(split), `names among the inputs ${names}`);
  const out = new Set<string>();
  for (const name of split as unknown[]) {
    const spec = inputs.find((i) => i.name === name);
    if (spec === undefined) fail(WHO, `split names ${show(name)}, which is not an input of the graph; the inputs are ${names}`, `split ${show(name)}`, `one of ${names}`);
    if (out.has(spec.name)) fail(WHO, `split names "${spec.name}" twice`, `"${spec.name}" twice`, 'each input at most once');
    if (spec.shape.length === 0) fail(WHO, `split input "${spec.name}" is a scalar; only an input with a batch axis (axis 0) can be split`, `"${spec.name}" of shape []`, 'an input of rank 1 or more');
    out.add(spec.name);
  }
  return out;
}

function checkCombine(combine: unknown, outputs: readonly Tensor[]): readonly Combine[] {
  if (!Array.isArray(combine) || combine.length !== outputs.length) {
    fail(
      WHO,
      `combine must be an array of one of ${COMBINES.map((c) => `'${c}'`).join(', ')} for each of the ${outputs.length} outputs, got ${describeValue(combine)}`,
      describeValue(combine),
      `${outputs.length} entries`,
    );
  }
  (combine as unknown[]).forEach((c, i) => {
    if (!(COMBINES as readonly unknown[]).includes(c)) fail(WHO, `combine[${i}] must be one of ${COMBINES.join(', ')}, got ${show(c)}`, show(c), COMBINES.join(', '));
    if (c === 'concat' && outputs[i].shape.length === 0) {
      fail(WHO, `combine[${i}] is 'concat' but output ${i} (${outputs[i].op}) is a scalar; concatenate outputs with a batch axis, average or sum the others`, `output ${i} of shape []`, "'mean' or 'sum' for a scalar");
    }
  });
  return combine as Combine[];
}

/** A worker thread, its shared buffers, and the errors it has posted. */
interface Thread {
  readonly worker: NodeWorker;
  readonly ready: Promise<void>;
  readonly control: Int32Array;
  readonly inputs: Float32Array;
  readonly outputs: Float32Array;
  /** Errors of failed runs, by generation, as they arrive. */
  readonly errors: Map<number, Error>;
}

/** What {@link compileParallel} returns; see the file comment. */
export class ParallelFunction implements CompiledFunction<Float32Array> {
  /** The graph's inputs, the split ones with the whole batch's shape. */
  readonly inputs: readonly InputSpec[];
  private readonly workers: Thread[] = [];
  private readonly layout: SharedLayout;
  private queue: Promise<unknown> = Promise.resolve();
  private generation = 0;
  private broken: Error | null = null;
  private disposed = false;
  private disposing: Promise<void> | null = null;
  /** How long a waiting thread spins (see SPIN_MS). */
  private readonly spinMs: number;

  constructor(
    private readonly local: GpuJsFunction,
    /** The backend of every thread. */
    readonly backend: ParallelBackend,
    /** How many parts a run is cut into, one thread each. */
    readonly threads: number,
    private readonly split: ReadonlySet<string>,
    /** How each output's parts are joined. */
    readonly combine: readonly Combine[],
    graph: GraphMessage | null,
  ) {
    this.inputs = Object.freeze(
      local.inputs.map((spec) => (split.has(spec.name) ? Object.freeze({ ...spec, shape: Object.freeze([spec.shape[0] * threads, ...spec.shape.slice(1)]) }) : spec)),
    );
    let at = 0;
    const place = (length: number) => ({ offset: (at += length) - length, length });
    const inputs = local.inputs.map((spec) => ({ name: spec.name, ...place(sizeOf(spec.shape)) }));
    const inputFloats = at;
    at = 0;
    const outputs = local.outputs.map((t) => place(sizeOf(t.shape)));
    this.layout = { inputs, outputs };
    this.spinMs = threads <= (availableCores() ?? 1) ? SPIN_MS : 0;
    if (graph !== null) for (let i = 1; i < threads; i++) this.workers.push(this.spawn(graph, inputFloats, at));
  }

  /** The part graph's outputs, in the order `run` returns them (a concatenated one's result has `threads` times its axis 0). */
  get outputs(): readonly Tensor[] {
    return this.local.outputs;
  }

  run$(feeds$: ObservableInput<Feeds>): Observable<RunResult<Float32Array>[]> {
    return run$(this, feeds$);
  }

  /** One run on the whole batch: the feeds are checked as `compile`'s are, then cut, run on every thread, and joined. */
  run(feeds: Feeds): Promise<RunResult<Float32Array>[]> {
    if (this.disposed) return Promise.reject(disposedError());
    const result = this.queue.then(() => this.runNow(feeds));
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Ends the workers and frees every thread's memory; a run in flight finishes first. */
  dispose(): Promise<void> {
    this.disposed = true;
    this.disposing ??= (async () => {
      await this.queue;
      await Promise.all(this.workers.map((t) => t.worker.terminate()));
      await this.local.dispose();
    })();
    return this.disposing;
  }

  private async runNow(feeds: Feeds): Promise<RunResult<Float32Array>[]> {
    if (this.disposed) throw disposedError();
    const checked = validateFeeds(this.inputs, feeds);
    if (this.broken) throw this.broken;
    // Keep the process alive while the run is out (idle workers do not).
    for (const t of this.workers) t.worker.ref();
    try {
      return await this.runParts(checked);
    } finally {
      for (const t of this.workers) t.worker.unref();
    }
  }

  private async runParts(checked: Map<string, ArrayLike<number>>): Promise<RunResult<Float32Array>[]> {
    await Promise.all(this.workers.map((t) => t.ready));
    const mine: Record<string, ArrayLike<number>> = {};
    for (const [j, spec] of this.inputs.entries()) {
      const data = checked.get(spec.name)!;
      const { offset, length } = this.layout.inputs[j];
      if (this.split.has(spec.name)) {
        const whole = data instanceof Float32Array ? data : Float32Array.from(data);
        // This thread's part is a view; each worker's is copied into its inputs.
        mine[spec.name] = whole.subarray(0, length);
        this.workers.forEach((t, i) => t.inputs.set(whole.subarray((i + 1) * length, (i + 2) * length), offset));
      } else {
        mine[spec.name] = data;
        for (const t of this.workers) t.inputs.set(data, offset);
      }
    }
    const generation = ++this.generation;
    for (const t of this.workers) {
      Atomics.store(t.control, REQUEST, generation);
      Atomics.notify(t.control, REQUEST);
    }
    const parts: Float32Array[][] = [];
    let failure: unknown = null;
    try {
      parts.push((await this.local.run(mine)).map((o) => o.data));
    } catch (e) {
      failure = e;
    }
    // Every part ends before the run does, so that runs never overlap on a thread.
    for (const t of this.workers) {
      try {
        parts.push(await this.finished(t, generation));
      } catch (e) {
        failure ??= e;
      }
    }
    if (failure !== null) throw failure;
    return this.combine.map((how, k) => this.join(how, k, parts.map((r) => r[k])));
  }

  /** The outputs of worker `t`'s run `generation` (views of its shared outputs), once it is done. */
  private async finished(t: Thread, generation: number): Promise<Float32Array[]> {
    let done = Atomics.load(t.control, DONE);
    while (done !== generation) {
      done = await waitWhile(t.control, DONE, done, this.spinMs, () => {
        if (this.broken) throw this.broken;
      });
    }
    if (Atomics.load(t.control, FAILED) !== 0) {
      // The error was posted before DONE was written; wait for its message.
      for (;;) {
        const error = t.errors.get(generation);
        if (error) throw error;
        if (this.broken) throw this.broken;
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }
    return this.layout.outputs.map(({ offset, length }) => t.outputs.subarray(offset, offset + length));
  }

  private join(how: Combine, k: number, parts: Float32Array[]): RunResult<Float32Array> {
    const shape = [...this.local.outputs[k].shape];
    if (how === 'concat') {
      shape[0] *= this.threads;
      const out = new Float32Array(sizeOf(shape));
      parts.forEach((p, i) => out.set(p, i * p.length));
      return { shape, data: out };
    }
    const out = new Float32Array(parts[0].length);
    const scale = how === 'mean' ? 1 / this.threads : 1;
    for (let j = 0; j < out.length; j++) {
      let s = 0;
      for (const p of parts) s += p[j];
      out[j] = s * scale;
    }
    return { shape, data: out };
  }

  private spawn(graph: GraphMessage, inputFloats: number, outputFloats: number): Thread {
    const wt = workerThreads()!;
    const worker = startWorker(wt, import.meta.url, 'parallel-worker');
    let ready!: { resolve: () => void; reject: (e: unknown) => void };
    const request: ParallelRequest = {
      graph,
      spinMs: this.spinMs,
      backend: this.backend,
      layout: this.layout,
      control: new SharedArrayBuffer(4 * 4),
      inputs: new SharedArrayBuffer(4 * inputFloats),
      outputs: new SharedArrayBuffer(4 * outputFloats),
    };
    const thread: Thread = {
      worker,
      ready: new Promise<void>((resolve, reject) => (ready = { resolve, reject })),
      control: new Int32Array(request.control),
      inputs: new Float32Array(request.inputs),
      outputs: new Float32Array(request.outputs),
      errors: new Map(),
    };
    thread.ready.catch(() => undefined);
    worker.on('message', (reply: ParallelReply) => {
      if (reply.type === 'ready') ready.resolve();
      else if (reply.generation === null) this.lose(rethrown(reply.error), ready.reject);
      else thread.errors.set(reply.generation, rethrown(reply.error));
    });
    worker.on('error', (e) => this.lose(new Error(`compileParallel: a worker thread failed: ${(e as Error)?.message ?? String(e)}`, { cause: e }), ready.reject));
    worker.on('exit', (code) => {
      if (!this.disposed) this.lose(new Error(`compileParallel: a worker thread exited (code ${code}); compile the graph again`), ready.reject);
    });
    worker.postMessage(request);
    worker.unref();
    return thread;
  }

  /** A worker that failed or died: the run in flight fails, and so does every later one. */
  private lose(error: Error, rejectReady: (e: unknown) => void): void {
    this.broken ??= error;
    rejectReady(error);
  }
}

/** A worker's error, thrown again on this thread (a StriateError stays one). */
function rethrown(e: ErrorFields): Error {
  return errorFromFields(e, (message) => new Error(`compileParallel: a worker thread failed: ${message}`));
}
