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
  /** The output's shape (a fresh array, the tensor's static shape). */
  readonly shape: number[];
  /** Its values, row-major: one per element of `shape`. */
  readonly data: D;
}

/**
 * A graph planned for a backend, as {@link compile} returns it: run it as
 * many times as you like with different feeds, then `dispose()` it. `D` is
 * the element array of its results: `Float64Array` on the reference
 * backend, `Float32Array` on the devices.
 *
 * ```ts
 * const f = compile([loss, ...grads], { backend: 'webasm' });
 * const [l, ...g] = await f.run({ x: images, labels });
 * await f.dispose();
 * ```
 */
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
