/**
 * What `compile` returns, on every backend: the one contract the backends
 * implement (the reference interpreter, gpu.js, and `'auto'`).
 */
import type { Observable, ObservableInput } from 'rxjs';
import type { Tensor } from '../graph/tensor.js';
import type { Feeds, InputSpec } from './feeds.js';
import type { GpuJsBackend } from './gpujs/gpu.js';

/**
 * `'reference'`: the float64 plain-JavaScript interpreter, the oracle.
 * The others are gpu.js backends (see README, Backends).
 */
export type BackendName = 'reference' | 'auto' | GpuJsBackend;

/** One output of a run: its shape and its values, row-major (float64 on the reference backend, float32 on devices). */
export interface RunResult<D extends Float32Array | Float64Array = Float32Array | Float64Array> {
  readonly shape: number[];
  readonly data: D;
}

export interface CompiledFunction<D extends Float32Array | Float64Array = Float32Array | Float64Array> {
  /** The graph's outputs, in the order `run` returns them. */
  readonly outputs: readonly Tensor[];
  /** The named inputs a run must feed, each with its shape. */
  readonly inputs: readonly InputSpec[];
  /** The backend that runs the graph (`'auto'` until its first run has chosen one). */
  readonly backend: BackendName;
  /** One run: validates the feeds, then resolves to one result per output. */
  run(feeds: Feeds): Promise<RunResult<D>[]>;
  /**
   * Drive the graph with an observable of feeds: one run at a time, in order
   * (see run$ in reactive.ts); unsubscribing starts no further runs.
   */
  run$(feeds$: ObservableInput<Feeds>): Observable<RunResult<D>[]>;
  /** Release the device memory; the function cannot run afterwards. Settles once released. */
  dispose(): Promise<void>;
}
