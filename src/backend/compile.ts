import type { Tensor } from '../graph/tensor.js';
import { GpuJsFunction } from './gpujs/executor.js';
import { type GpuJsBackend, gpuJsBackends } from './gpujs/gpu.js';
import { ReferenceFunction } from './reference/interpreter.js';

/**
 * `'reference'`: the float64 plain-JavaScript interpreter, the oracle.
 * The others are gpu.js backends (see README, Backends).
 */
export type BackendName = 'reference' | GpuJsBackend;

export interface CompileOptions {
  backend?: BackendName;
}

export type CompiledFunction = ReferenceFunction | GpuJsFunction;

/**
 * Plan a graph for execution on a backend. The result's `run(feeds)` resolves
 * to one `{ shape, data }` per output, in the order given; `backend` names the
 * backend that really runs it. Asking for a backend that is not available
 * throws, naming the reason; nothing falls back silently.
 */
export function compile(outputs: Tensor | readonly Tensor[], options?: { backend?: 'reference' }): ReferenceFunction;
export function compile(outputs: Tensor | readonly Tensor[], options: { backend: GpuJsBackend }): GpuJsFunction;
export function compile(outputs: Tensor | readonly Tensor[], options?: CompileOptions): CompiledFunction;
export function compile(outputs: Tensor | readonly Tensor[], options: CompileOptions = {}): CompiledFunction {
  const list = Array.isArray(outputs) ? (outputs as readonly Tensor[]) : [outputs as Tensor];
  if (list.length === 0) throw new Error('compile: give at least one output tensor');
  const backend = options.backend ?? 'reference';
  if (backend === 'reference') return new ReferenceFunction(list);
  if ((gpuJsBackends as readonly string[]).includes(backend)) return new GpuJsFunction(list, backend as GpuJsBackend);
  throw new Error(
    `compile: unknown backend ${JSON.stringify(backend)}; the backends are "reference", ${gpuJsBackends.map((b) => `"${b}"`).join(', ')}`,
  );
}
