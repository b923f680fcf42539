/**
 * What `compile` returns, on every backend: the one contract the backends
 * implement (the reference interpreter, gpu.js, and `'auto'`).
 */
import type { Observable, ObservableInput } from 'rxjs';
import { fail, StriateError } from '../graph/error.js';
import { shapeToString, sizeOf, type Tensor } from '../graph/tensor.js';
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
  /**
   * Release the device memory; the function cannot run afterwards. Runs
   * already started are not cut short: they finish first, and the memory is
   * released after them; a run started afterwards rejects with a
   * {@link StriateError}. Settles once released; disposing again is harmless.
   */
  dispose(): Promise<void>;
}

/** What one backend can address: the most elements one tensor may have there, and why. */
export interface SizeLimit {
  /** The most elements of one tensor. */
  readonly elements: number;
  /** Why, in words: what the backend stores a tensor in, and how it indexes it. */
  readonly why: string;
}

/** The largest JavaScript typed array in V8 (Node, Chrome): 2^32 elements. */
export const TYPED_ARRAY_LIMIT = 2 ** 32;

/** A count for a message: digits with separators, or three significant digits beyond 2^53. */
export function formatCount(n: number): string {
  return Number.isSafeInteger(n) ? n.toLocaleString('en-US') : n.toPrecision(3);
}

/**
 * Refuse, before any kernel is built or memory taken, a graph with a tensor
 * larger than `backend` can address (inputs, constants and intermediates
 * included), naming the node and the limit.
 */
export function checkSizes(backend: BackendName, nodes: readonly Tensor[], limit: SizeLimit): void {
  for (const node of nodes) {
    const n = sizeOf(node.shape);
    if (n <= limit.elements) continue;
    const what = `${node.op} ${shapeToString(node.shape)}`;
    fail(
      'compile',
      `${what} has ${formatCount(n)} elements, more than backend "${backend}" can hold in one tensor ` +
        `(${formatCount(limit.elements)}: ${limit.why}); use a smaller batch or smaller dimensions, or another backend`,
      `${what} (${formatCount(n)} elements)`,
      `at most ${formatCount(limit.elements)} elements per tensor on backend "${backend}"`,
    );
  }
}

/** What a run of a disposed compiled function rejects with, on every backend. */
export function disposedError(): StriateError {
  return new StriateError('run', 'this compiled function has been disposed', {
    got: 'a disposed compiled function',
    expected: 'a compiled function that has not been disposed; compile the graph again',
  });
}
