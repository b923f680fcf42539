/** Command-line flags shared by `npm run bench` and `npm run bench:browser`. */

export type Library = 'striate' | 'tfjs' | 'convnetjs' | 'onnxruntime';

export interface BenchArgs {
  rounds: number;
  quick: boolean;
  only: Set<Library>;
  json: string | null;
  /** Striate backends to measure (default: all Node backends). */
  backends: string[] | null;
  /** Per-op table. */
  ops: boolean;
  /** Striate backends for the per-op table (default: the best training backend of the run). */
  opBackends: string[] | null;
  /** Per-node breakdown of Striate's training step on its best backend. */
  breakdown: boolean;
  /** --model: zoo models to time against TF.js instead of the LeNet-5 bench (names checked by lib/zoo.ts). */
  models: string[] | null;
  /** Whether --json was given (a --model run writes bench/results/models.json otherwise). */
  jsonGiven: boolean;
  help: boolean;
}

export const USAGE = `usage: npm run bench -- [flags]
  --rounds N          timed rounds per measurement (median reported; default 5, --quick 3)
  --quick             a short run (~1 minute): shorter rounds and warm-up, no per-node breakdown
  --only LIST         comma-separated libraries: striate, tfjs, convnetjs, onnxruntime (default all)
  --backends LIST     Striate backends to measure (default: every Node backend, and webasm-parallel:
                      data-parallel webasm on every core up to 4, named webasm×N)
  --json PATH         where to write the results (default bench/results/latest.json; "-" for none)
  --no-ops            skip the per-op table
  --op-backends LIST  Striate backends in the per-op table (default: the run's best training backend)
  --breakdown / --no-breakdown   per-node profile of Striate's training step (default on, off with --quick)
  --model LIST        instead: the zoo models (lenet5, alexnet, vgg, nin, inception, resnet, or all), a training
                      step and inference each, Striate against TF.js wasm on the same graph and weights
                      (results in bench/results/models.json unless --json says otherwise)
  --help`;

export function parseArgs(argv: readonly string[], defaultJson: string | null): BenchArgs {
  const a: BenchArgs = {
    rounds: 0,
    quick: false,
    only: new Set(['striate', 'tfjs', 'convnetjs', 'onnxruntime']),
    json: defaultJson,
    backends: null,
    ops: true,
    opBackends: null,
    breakdown: true,
    models: null,
    jsonGiven: false,
    help: false,
  };
  let breakdownSet = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const [name, inline] = flag.includes('=') ? [flag.slice(0, flag.indexOf('=')), flag.slice(flag.indexOf('=') + 1)] : [flag, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`bench: ${name} needs a value\n${USAGE}`);
      return v;
    };
    switch (name) {
      case '--rounds': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1) throw new Error('bench: --rounds must be a positive integer');
        a.rounds = n;
        break;
      }
      case '--quick':
        a.quick = true;
        break;
      case '--only': {
        const libs = value().split(',').map((s) => s.trim().toLowerCase());
        for (const l of libs) if (!['striate', 'tfjs', 'convnetjs', 'onnxruntime'].includes(l)) throw new Error(`bench: --only takes striate, tfjs, convnetjs, onnxruntime; got ${l}`);
        a.only = new Set(libs as Library[]);
        break;
      }
      case '--backends':
        a.backends = value().split(',').map((s) => s.trim()).filter(Boolean);
        break;
      case '--json': {
        const v = value();
        a.json = v === '-' ? null : v;
        a.jsonGiven = true;
        break;
      }
      case '--op-backends':
        a.opBackends = value().split(',').map((x) => x.trim()).filter(Boolean);
        break;
      case '--model':
      case '--models':
        a.models = value().split(',').map((x) => x.trim().toLowerCase()).filter(Boolean);
        break;
      case '--no-ops':
        a.ops = false;
        break;
      case '--breakdown':
        a.breakdown = true;
        breakdownSet = true;
        break;
      case '--no-breakdown':
        a.breakdown = false;
        breakdownSet = true;
        break;
      case '--help':
      case '-h':
        a.help = true;
        break;
      default:
        throw new Error(`bench: unknown flag ${flag}\n${USAGE}`);
    }
  }
  if (a.rounds === 0) a.rounds = a.quick ? 3 : 5;
  if (a.quick && !breakdownSet) a.breakdown = false;
  return a;
}
