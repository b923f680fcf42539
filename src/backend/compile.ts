import type { Observable, ObservableInput } from 'rxjs';
import { run$ } from './reactive.js';
import { checkOptions, describeValue, fail } from '../graph/error.js';
import { Tensor, topologicalOrder } from '../graph/tensor.js';
import { resolveAutoBackend } from './auto.js';
import { collectInputs, type Feeds, type InputSpec } from './feeds.js';
import { GpuJsFunction } from './gpujs/executor.js';
import { type GpuJsBackend, gpuJsBackends } from './gpujs/gpu.js';
import { ReferenceFunction } from './reference/interpreter.js';
import { validateGraph } from '../ops/validate.js';
import { type BackendName, type CompiledFunction, disposedError, type RunResult } from './compiled.js';

export type { BackendName, CompiledFunction, RunResult } from './compiled.js';

/** Options of {@link compile}. */
export interface CompileOptions {
  /**
   * Where the graph runs (default `'reference'`): `'auto'` picks the fastest
   * backend that works here on the first run; see {@link BackendName}.
   */
  backend?: BackendName;
}

/**
 * A graph compiled for `'auto'`: on its first run it learns which backend is
 * fastest here (see auto.ts), compiles for it, and from then on `backend`
 * names it.
 */
export class AutoFunction implements CompiledFunction {
  readonly inputs: readonly InputSpec[];
  private inner: Promise<GpuJsFunction> | null = null;
  private resolved: GpuJsFunction | null = null;
  private disposed = false;

  constructor(
    /** The graph's outputs, in the order `run` returns them. */
    readonly outputs: readonly Tensor[],
  ) {
    this.inputs = collectInputs(topologicalOrder(outputs));
  }

  /** The backend that runs this graph: `'auto'` until the first run has chosen one. */
  get backend(): BackendName {
    return this.resolved?.backend ?? 'auto';
  }

  run$(feeds$: ObservableInput<Feeds>): Observable<RunResult[]> {
    return run$(this, feeds$);
  }

  async run(feeds: Feeds): Promise<RunResult[]> {
    if (this.disposed) throw disposedError();
    this.inner ??= resolveAutoBackend().then((b) => (this.resolved = new GpuJsFunction(this.outputs, b)));
    return (await this.inner).run(feeds);
  }

  /** As GpuJsFunction.dispose: runs started before finish first; later ones reject. */
  async dispose(): Promise<void> {
    this.disposed = true;
    if (this.inner) await this.inner.then((f) => f.dispose(), () => undefined);
  }
}

/**
 * Plan a graph for execution on a backend. The result's `run(feeds)` resolves
 * to one `{ shape, data }` per output, in the order given; `backend` names the
 * backend that really runs it. Asking for a backend that is not available
 * throws, naming the reason; nothing falls back silently.
 */
export function compile(outputs: Tensor | readonly Tensor[], options?: { backend?: 'reference' }): ReferenceFunction;
export function compile(outputs: Tensor | readonly Tensor[], options: { backend: GpuJsBackend }): GpuJsFunction;
export function compile(outputs: Tensor | readonly Tensor[], options: { backend: 'auto' }): AutoFunction;
export function compile(outputs: Tensor | readonly Tensor[], options?: CompileOptions): CompiledFunction;
export function compile(outputs: Tensor | readonly Tensor[], options: CompileOptions = {}): CompiledFunction {
  const list = checkOutputs(outputs);
  checkOptions('compile', options, ['backend'], "{ backend: 'webasm' }");
  // A Tensor built by hand (`new Tensor(...)`) has not met its op's shape
  // rule: every node is checked again before a kernel sees its attributes.
  validateGraph(topologicalOrder(list));
  const backend = options.backend ?? 'reference';
  if (backend === 'reference') return new ReferenceFunction(list);
  if (backend === 'auto') return new AutoFunction(list);
  if ((gpuJsBackends as readonly string[]).includes(backend)) return new GpuJsFunction(list, backend as GpuJsBackend);
  const names = `"reference", "auto", ${gpuJsBackends.map((b) => `"${b}"`).join(', ')}`;
  fail('compile', `unknown backend ${JSON.stringify(backend)}; the backends are ${names}`, `backend ${describeValue(backend)}`, `one of ${names}`);
}

const expectedOutputs = 'a Tensor or an array of Tensors';

/** The outputs as a non-empty array of tensors, or a StriateError naming what was given. */
function checkOutputs(outputs: unknown): readonly Tensor[] {
  if (outputs instanceof Tensor) return [outputs];
  if (!Array.isArray(outputs)) fail('compile', `outputs must be ${expectedOutputs}, got ${describeValue(outputs)}`, describeValue(outputs), expectedOutputs);
  if (outputs.length === 0) fail('compile', 'give at least one output tensor', 'an empty array', expectedOutputs);
  outputs.forEach((t, i) => {
    if (!(t instanceof Tensor)) fail('compile', `output ${i} is ${describeValue(t)}, not a Tensor`, `output ${i}: ${describeValue(t)}`, expectedOutputs);
  });
  return outputs;
}
