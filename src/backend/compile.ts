import type { Tensor } from '../graph/tensor.js';
import { ReferenceFunction } from './reference/interpreter.js';

export type BackendName = 'reference';

export interface CompileOptions {
  backend?: BackendName;
}

/**
 * Plan a graph for execution on a backend. The result's `run(feeds)` resolves
 * to one `{ shape, data }` per output, in the order given.
 */
export function compile(outputs: Tensor | readonly Tensor[], options: CompileOptions = {}): ReferenceFunction {
  const list = Array.isArray(outputs) ? (outputs as readonly Tensor[]) : [outputs as Tensor];
  if (list.length === 0) throw new Error('compile: give at least one output tensor');
  const backend = options.backend ?? 'reference';
  switch (backend) {
    case 'reference':
      return new ReferenceFunction(list);
    default:
      throw new Error(`compile: unknown backend ${JSON.stringify(backend)}; available: "reference"`);
  }
}
