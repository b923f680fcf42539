/**
 * LeNet-5 in Striate, from the bare graph in bench/lenet-graph.ts: a
 * training step is one compiled graph computing the loss and the gradient of
 * every parameter (forward and backward), read back to the host, followed by
 * the SGD update on the host (p -= lr * g); inference is the logits graph.
 * With `threads` above 1 both are data-parallel (compileParallel on webasm):
 * the graph of batch / threads images runs on every thread, the gradients
 * averaged and the logits concatenated. Environment-neutral (threads: Node).
 */
import { type BackendName, type Combine, compile, compileParallel } from '../../src/index.js';
import { lenetGraph } from '../lenet-graph.js';
import { LR, PARAM_NAMES, PARAM_SHAPES, type Params, cloneParams } from './lenet.js';

type Compiled = ReturnType<typeof compile>;

export interface StriateTrainer {
  readonly backend: string;
  /** The current parameters (updated in place by each step). */
  readonly params: Params;
  /** Loss and gradients at the current parameters, without an update (Float32Array or Float64Array data). */
  lossAndGrads(x: Float32Array, labels: Float32Array): Promise<{ loss: number; grads: Record<string, ArrayLike<number>> }>;
  /** One SGD step; resolves to the loss before the update. */
  trainStep(x: Float32Array, labels: Float32Array): Promise<number>;
  dispose(): Promise<void>;
}

export interface StriateInferer {
  readonly backend: string;
  infer(x: Float32Array): Promise<ArrayLike<number>>;
  dispose(): Promise<void>;
}

/** The graph's parameter inputs are named like lenet.ts's parameters, in the same order: check it once. */
function checkParamOrder(grads: readonly { shape: readonly number[] }[]): void {
  PARAM_NAMES.forEach((name, i) => {
    const want = PARAM_SHAPES[name];
    const got = grads[i].shape;
    if (got.length !== want.length || got.some((d, j) => d !== want[j])) {
      throw new Error(`bench: lenet-graph parameter ${i} has shape [${got}], expected ${name} [${want}]`);
    }
  });
}

/** The graph `outputs` of `batch / threads` images, compiled for `threads` parts on webasm, or whole on `backend` for one thread. */
function compileFor(backend: BackendName, threads: number, outputs: ReturnType<typeof lenetGraph>['grads'], split: string[], combine: Combine[]): Compiled {
  if (threads === 1) return compile(outputs, { backend });
  if (backend !== 'webasm') throw new Error(`bench: data-parallel threads run on webasm, not ${backend}`);
  return compileParallel(outputs, { backend, threads, split, combine });
}

export function striateTrainer(backend: BackendName, batch: number, initial: Params, threads = 1): StriateTrainer {
  const { loss, grads } = lenetGraph(batch / threads);
  checkParamOrder(grads);
  const f: Compiled = compileFor(backend, threads, [loss, ...grads], ['x', 'labels'], ['mean', ...grads.map((): Combine => 'mean')]);
  const params = cloneParams(initial);
  const feeds: Record<string, Float32Array> = { ...params };
  const run = async (x: Float32Array, labels: Float32Array) => {
    feeds.x = x;
    feeds.labels = labels;
    return f.run(feeds);
  };
  return {
    get backend() {
      return String(f.backend);
    },
    params,
    async lossAndGrads(x, labels) {
      const [l, ...gs] = await run(x, labels);
      const out: Record<string, ArrayLike<number>> = {};
      PARAM_NAMES.forEach((name, i) => (out[name] = gs[i].data));
      return { loss: l.data[0], grads: out };
    },
    async trainStep(x, labels) {
      const [l, ...gs] = await run(x, labels);
      for (let i = 0; i < PARAM_NAMES.length; i++) {
        const p = params[PARAM_NAMES[i]];
        const g = gs[i].data;
        for (let j = 0; j < p.length; j++) p[j] -= LR * g[j];
      }
      return l.data[0];
    },
    async dispose() {
      await f.dispose();
    },
  };
}

export function striateInferer(backend: BackendName, batch: number, params: Params, threads = 1): StriateInferer {
  const { logits } = lenetGraph(batch / threads);
  const f: Compiled = compileFor(backend, threads, [logits], ['x'], ['concat']);
  const names = new Set(f.inputs.map((i) => i.name));
  const feeds: Record<string, Float32Array> = {};
  for (const name of PARAM_NAMES) if (names.has(name)) feeds[name] = params[name];
  return {
    get backend() {
      return String(f.backend);
    },
    async infer(x) {
      feeds.x = x;
      const [out] = await f.run(feeds);
      return out.data;
    },
    async dispose() {
      await f.dispose();
    },
  };
}
