/**
 * The sharpest direction of LeNet-5's training loss: the top eigenvalue of the
 * Hessian H of the loss on one batch of MNIST training images, with respect to
 * all 44,426 parameters, by power iteration (v ← Hv / ||Hv||). Each step needs
 * one Hessian-vector product Hv, never H itself (44,426² entries).
 *
 *   npx tsx examples/hessian.ts --batch-size 128 --iterations 20
 *   npm start -- --out out && npx tsx examples/hessian.ts --checkpoint out
 *
 * Forward-over-reverse. Hv is the derivative of the gradient along v:
 * d/dε ∇L(w + εv) at ε = 0. `grad(loss, ws)` builds the graph of ∇L (reverse
 * mode); `jvp(grads, ws, vs)` carries the tangent v forward through that graph
 * (forward mode). The result is one graph, compiled once, that gives Hv for
 * any v at a small multiple of the cost of the gradient.
 *
 * Why not reverse-over-reverse, `grad(sum(mul(g, v)), ws)`? It gives the same
 * Hv, but by sweeping the forward and the backward graph backwards once more:
 * every intermediate of both must stay alive until that second sweep reaches
 * it, and reverse mode's bookkeeping (sums back over broadcast axes,
 * accumulation where a tensor is used twice) is done a second time. Forward
 * mode computes each node's tangent from its inputs and their tangents as it
 * goes and keeps nothing for a later sweep, so its graph is smaller and no
 * intermediate waits in memory for a second pass.
 *
 * Power iteration converges to the eigenvalue of largest magnitude, at a rate
 * set by the gap to the next one; the residual ||Hv − λv|| / ||Hv|| says how
 * close v is to an eigenvector (0 for an exact one).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  backendNames,
  buildModel,
  compile,
  createRng,
  grad,
  initParams,
  input,
  jvp,
  lenet5,
  paramShapes,
  softmaxCrossEntropy,
  type BackendName,
  type Model,
  type Tensor,
} from 'striate';
import { loadCheckpoint, loadMnist } from 'striate/node';
import { UsageError, checkBackend, integer, parseStrict } from './lib/cli.js';

/** Options of {@link topHessianEigenvalue}. */
export interface PowerIterationOptions {
  /** Hessian-vector products to compute (at least 1). */
  iterations: number;
  /** Seed of the random start vector. */
  seed: number;
  /** Where the graph runs (default 'webasm'). */
  backend?: BackendName;
  /** Called after each iteration with its number (from 1) and its Rayleigh quotient <v, Hv>. */
  onIteration?: (iteration: number, rayleigh: number) => void;
}

/** What {@link topHessianEigenvalue} found. */
export interface PowerIterationResult {
  /** The last Rayleigh quotient <v, Hv>, v a unit vector: the estimate. */
  eigenvalue: number;
  /** ||Hv − λv|| / ||Hv|| for the last v and λ. */
  residual: number;
  /** The Rayleigh quotient of each iteration, in order (fewer than `iterations` when some Hv is 0: an eigenvalue 0, found exactly). */
  rayleigh: number[];
  /** The unit vector v of the last iteration, one array per parameter (in `params` order). */
  vector: Float64Array[];
  /** The loss at the point. */
  loss: number;
}

type Vector = readonly ArrayLike<number>[];
function dot(a: Vector, b: Vector): number {
  let s = 0;
  a.forEach((ai, i) => {
    for (let j = 0; j < ai.length; j++) s += ai[j] * b[i][j];
  });
  return s;
}
const scaled = (a: Vector, s: number): Float64Array[] => a.map((ai) => Float64Array.from(ai, (x) => x * s));

/**
 * Power iteration for the eigenvalue of largest magnitude of the Hessian of
 * the scalar `loss` with respect to `params`, at the point `feeds` gives
 * (every input the loss reads: the parameters and the data). The
 * Hessian-vector product is forward-over-reverse, compiled once on
 * `options.backend` and run once per iteration.
 */
export async function topHessianEigenvalue(
  loss: Tensor,
  params: readonly Tensor<'input'>[],
  feeds: Readonly<Record<string, ArrayLike<number>>>,
  options: PowerIterationOptions,
): Promise<PowerIterationResult> {
  const { iterations, seed, backend = 'webasm', onIteration } = options;
  if (!Number.isSafeInteger(iterations) || iterations < 1) throw new Error(`iterations must be an integer >= 1, got ${iterations}`);
  const tangents = params.map((w) => input(`tangent/${w.attrs.name}`, w.shape));
  const hvp = jvp(grad(loss, params), params, tangents); // forward over reverse
  const f = compile([loss, ...hvp], { backend });
  try {
    const rng = createRng(seed);
    const start = params.map((w) => Float64Array.from({ length: w.shape.reduce((n, d) => n * d, 1) }, () => rng.normal()));
    let v = scaled(start, 1 / Math.sqrt(dot(start, start)));
    const rayleigh: number[] = [];
    for (let i = 1; ; i++) {
      const all: Record<string, ArrayLike<number>> = { ...feeds };
      tangents.forEach((t, j) => (all[t.attrs.name] = v[j]));
      // Feed only what the graph reads (a run refuses extra feeds).
      const [l, ...hv] = await f.run(Object.fromEntries(f.inputs.map(({ name }) => [name, all[name]])));
      const Hv = hv.map((r) => r.data);
      const lambda = dot(v, Hv);
      rayleigh.push(lambda);
      onIteration?.(i, lambda);
      const size = Math.sqrt(dot(Hv, Hv));
      if (i === iterations || size === 0) {
        const r = Hv.map((h, j) => Float64Array.from(h, (x, k) => x - lambda * v[j][k]));
        return { eigenvalue: lambda, residual: size === 0 ? 0 : Math.sqrt(dot(r, r)) / size, rayleigh, vector: v, loss: l.data[0] };
      }
      v = scaled(Hv, 1 / size);
    }
  } finally {
    await f.dispose();
  }
}

/** `model`'s training loss on a batch of `batchSize` (mean softmax cross-entropy, as `train` builds it), reading inputs `x` and `labels`. */
export function trainingLoss(model: Model, batchSize: number): { loss: Tensor; params: readonly Tensor<'input'>[] } {
  const built = buildModel(model, { batchSize });
  return { loss: softmaxCrossEntropy(built.output, input('labels', [batchSize])), params: built.paramTensors };
}

const DEFAULTS = { backend: 'webasm', batchSize: 128, iterations: 20, seed: 1 } as const;

const USAGE = `Usage: npx tsx examples/hessian.ts [options]

Estimate the top eigenvalue of the Hessian of LeNet-5's training loss on the
first N MNIST training images, by power iteration with Hessian-vector products.

Options:
  --backend NAME      compute backend (default ${DEFAULTS.backend}): ${backendNames.join(', ')}
  --batch-size N      training images in the loss (default ${DEFAULTS.batchSize})
  --iterations N      power iterations (default ${DEFAULTS.iterations})
  --seed N            seed of the start vector, and of initParams without --checkpoint (default ${DEFAULTS.seed})
  --checkpoint DIR    parameters from a checkpoint: the --out directory of \`npm start\`, or its
                      checkpoint/ folder (default: untrained parameters from initParams)
  -h, --help          show this help
`;

interface Config {
  backend: string;
  batchSize: number;
  iterations: number;
  seed: number;
  checkpoint?: string;
}

/** Parse the command line; throws UsageError on anything wrong. Returns null for --help. */
function parseFlags(argv: readonly string[]): Config | null {
  const values = parseStrict(argv, {
    backend: { type: 'string' },
    'batch-size': { type: 'string' },
    iterations: { type: 'string' },
    seed: { type: 'string' },
    checkpoint: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return null;
  if (values.backend === '') throw new UsageError(`--backend must name a backend: ${backendNames.join(', ')}`);
  if (values.checkpoint === '') throw new UsageError('--checkpoint must name a directory');
  return {
    backend: values.backend ?? DEFAULTS.backend,
    batchSize: integer('batch-size', values['batch-size'], { min: 1, max: 60000, why: 'MNIST has 60000 training images' }) ?? DEFAULTS.batchSize,
    iterations: integer('iterations', values.iterations, { min: 1 }) ?? DEFAULTS.iterations,
    seed: integer('seed', values.seed, { min: 0 }) ?? DEFAULTS.seed,
    checkpoint: values.checkpoint,
  };
}

/** The parameters by name: from the checkpoint in `dir` (npm start's --out, or its checkpoint/ folder), checked against `model`. */
async function checkpointParams(model: Model, dir: string): Promise<Record<string, { data: Float32Array }>> {
  const inner = join(dir, 'checkpoint');
  const at = !existsSync(join(dir, 'manifest.json')) && existsSync(join(inner, 'manifest.json')) ? inner : dir;
  return (await loadCheckpoint(at, { expect: paramShapes(model) })).params;
}

async function main(argv: string[]): Promise<number> {
  let c: Config | null;
  try {
    c = parseFlags(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`hessian: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (c === null) {
    process.stdout.write(USAGE);
    return 0;
  }
  const usageError = (message: string): number => {
    process.stderr.write(`hessian: ${message}\n\n${USAGE}`);
    return 2;
  };
  try {
    // Refuse an unknown or unavailable backend up front, as a bad flag.
    await checkBackend(c.backend);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return usageError(err.message);
  }
  const model = lenet5();
  let params: Record<string, { data: Float32Array }>;
  try {
    params = c.checkpoint === undefined ? initParams(model, c.seed) : await checkpointParams(model, resolve(c.checkpoint));
  } catch (err) {
    return usageError(`--checkpoint ${c.checkpoint}: ${(err as Error).message}`);
  }
  const mnist = await loadMnist({ limitTrain: c.batchSize, limitTest: 0 });
  const { loss, params: tensors } = trainingLoss(model, c.batchSize);
  const feeds: Record<string, ArrayLike<number>> = { x: mnist.train.images, labels: Float32Array.from(mnist.train.labels) };
  for (const w of tensors) feeds[w.attrs.name] = params[w.attrs.name].data;

  const where = c.checkpoint === undefined ? `initParams(seed ${c.seed})` : `checkpoint ${c.checkpoint}`;
  console.log(`LeNet-5 at ${where}, loss on the first ${c.batchSize} MNIST training images; ${c.iterations} iterations on ${c.backend}`);
  const result = await topHessianEigenvalue(loss, tensors, feeds, {
    iterations: c.iterations,
    seed: c.seed,
    backend: c.backend as BackendName,
    onIteration: (i, lambda) => console.log(`iteration ${String(i).padStart(3)}: <v, Hv> = ${lambda.toPrecision(8)}`),
  });
  console.log(`loss ${result.loss.toFixed(4)}; top Hessian eigenvalue ≈ ${result.eigenvalue.toPrecision(6)}, residual ||Hv - λv|| / ||Hv|| = ${result.residual.toExponential(2)}`);
  return 0;
}

// Run when executed (`tsx examples/hessian.ts`), not when a test imports the functions above.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`hessian: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
