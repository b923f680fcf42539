/**
 * The float64 reference backend: a plain-JavaScript interpreter that runs each
 * op's `reference` implementation in topological order. It is the oracle the
 * device backends are tested against, so it favours clarity over speed.
 */
import type { Observable, ObservableInput } from 'rxjs';
import { run$ } from '../reactive.js';
import { type Tensor, topologicalOrder } from '../../graph/tensor.js';
import { opDef } from '../../ops/index.js';
import type { NDArray } from '../../ops/op.js';
import { collectInputs, type Feeds, type InputSpec, validateFeeds } from '../feeds.js';
import { checkSizes, type CompiledFunction, disposedError, type RunResult, TYPED_ARRAY_LIMIT } from '../compiled.js';

/**
 * A graph compiled for the `'reference'` backend: each run interprets the
 * ops' float64 references in topological order, in plain JavaScript, and
 * drops each value after its last use. Results are `Float64Array`s; `runSync`
 * runs without a promise.
 */
export class ReferenceFunction implements CompiledFunction<Float64Array> {
  readonly backend = 'reference' as const;
  readonly inputs: readonly InputSpec[];
  private readonly order: Tensor[];
  /** For each step, the values that can be dropped after it (last use). */
  private readonly frees: number[][];
  private disposed = false;

  constructor(
    /** The graph's outputs, in the order `run` returns them. */
    readonly outputs: readonly Tensor[],
  ) {
    this.order = topologicalOrder(outputs);
    checkSizes('reference', this.order, { elements: TYPED_ARRAY_LIMIT, why: 'each value is a Float64Array, and a JavaScript typed array holds at most 2^32 elements' });
    this.inputs = collectInputs(this.order);
    const keep = new Set(outputs.map((o) => o.id));
    const lastUse = new Map<number, number>();
    this.order.forEach((node, step) => node.inputs.forEach((i) => lastUse.set(i.id, step)));
    this.frees = this.order.map(() => []);
    for (const [id, step] of lastUse) if (!keep.has(id)) this.frees[step].push(id);
  }

  /** Nothing to release on the reference backend, but as on every backend, the function cannot run afterwards. */
  dispose(): Promise<void> {
    this.disposed = true;
    return Promise.resolve();
  }

  run$(feeds$: ObservableInput<Feeds>): Observable<RunResult<Float64Array>[]> {
    return run$(this, feeds$);
  }

  async run(feeds: Feeds): Promise<RunResult<Float64Array>[]> {
    return this.runSync(feeds);
  }

  /** Synchronous run; the reference backend needs no device round trip. Throws on bad feeds or after dispose, as `run` rejects. */
  runSync(feeds: Feeds): RunResult<Float64Array>[] {
    if (this.disposed) throw disposedError();
    const fed = validateFeeds(this.inputs, feeds);
    const values = new Map<number, NDArray>();
    this.order.forEach((node, step) => {
      let data: Float64Array;
      if (node.op === 'input') {
        data = Float64Array.from(fed.get((node as Tensor<'input'>).attrs.name)!);
      } else {
        const args = node.inputs.map((i) => values.get(i.id)!);
        data = opDef(node.op).reference(args, node.attrs as never, node.shape);
      }
      values.set(node.id, { shape: node.shape, data });
      for (const id of this.frees[step]) values.delete(id);
    });
    return this.outputs.map((o) => ({ shape: [...o.shape], data: values.get(o.id)!.data.slice() }));
  }
}
