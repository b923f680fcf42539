/**
 * The strict command-line parsing that `npm start` (examples/train-lenet.ts),
 * `npm run zoo` (examples/zoo.ts) and examples/hessian.ts share: every
 * mistake is a {@link UsageError} with a sentence naming the flag, what it
 * got and what it takes, found before any work starts; and the checks that
 * an --out directory can take the files a run writes.
 *
 * Written as a user of the package would: it imports 'striate' only.
 */
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { compile, enableNodeWebGPU, input, MAX_THREADS, PARALLEL_BACKENDS, type BackendName } from 'striate';

/** A mistake on the command line: the script prints its message and the usage, and exits with code 2. */
export class UsageError extends Error {}

/**
 * The spellings a number may take on the command line: plain decimal digits, for integers;
 * and with a fraction or exponent (0.001, 3e-4, .5), for --lr and the augmentation strengths.
 * Number() would also take ' 1', '', '0x10', '0b1', '+1' and 'Infinity'.
 */
const INTEGER = /^\d+$/;
const DECIMAL = /^(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** What an integer option may be: at least `min`, at most `max` (for the reason `why`, if given). */
export interface IntegerRange {
  /** The least value taken. */
  min: number;
  /** The largest value taken (default: any safe integer). */
  max?: number;
  /** Why `max` is the largest, shown in the message, e.g. "MNIST has 60000 training images". */
  why?: string;
}

/** The integer `text` spells, or undefined where the option was not given. */
export function integer(flag: string, text: string | undefined, { min, max = Number.MAX_SAFE_INTEGER, why }: IntegerRange): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!INTEGER.test(text) || !Number.isSafeInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}${why ? ` (${why})` : ''}`;
    throw new UsageError(`--${flag} must be an integer ${range}, got ${JSON.stringify(text)}`);
  }
  return v;
}

/** The number > 0 that `text` spells, or undefined where the option was not given. */
export function positive(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!DECIMAL.test(text) || !Number.isFinite(v) || v <= 0) {
    throw new UsageError(`--${flag} must be a number > 0 written in decimal (e.g. 0.001 or 1e-3), got ${JSON.stringify(text)}`);
  }
  return v;
}

/** What a number ≥ 0 may be: at most `max` (or below it), and how the message names it. */
export interface DecimalRange {
  /** What the number is, for the message (default "a number"): "a number of degrees", "a probability". */
  what?: string;
  /** The largest value taken (default: any finite number). */
  max?: number;
  /** Take only numbers below `max`, not `max` itself (a shear of 90° is no longer a shear) (default false). */
  belowMax?: boolean;
  /** Why `max` is the largest, shown in the message, e.g. "the images' side". */
  why?: string;
  /** A value to show in the message, e.g. "10" (default "0.5"). */
  example?: string;
}

/**
 * The number ≥ 0 that `text` spells in plain decimal (as for --lr: 10, 0.5,
 * .5, 1e-1), within `range`, or undefined where the option was not given.
 */
export function nonNegative(flag: string, text: string | undefined, range: DecimalRange = {}): number | undefined {
  if (text === undefined) return undefined;
  const { what = 'a number', max = Infinity, belowMax = false, why, example = '0.5' } = range;
  const v = Number(text);
  if (!DECIMAL.test(text) || !Number.isFinite(v) || v < 0 || (belowMax ? v >= max : v > max)) {
    const limits = max === Infinity ? '>= 0' : belowMax ? `>= 0 and < ${max}` : `from 0 to ${max}`;
    throw new UsageError(`--${flag} must be ${what} ${limits}${why ? ` (${why})` : ''} written in decimal (e.g. ${example}), got ${JSON.stringify(text)}`);
  }
  return v;
}

/**
 * The pair `LO,HI` of numbers > 0 with LO <= HI that `text` spells, each in
 * plain decimal, no spaces, or undefined where the option was not given.
 * `note` ends the message, e.g. "e.g. 0.9,1.1".
 */
export function positivePair(flag: string, text: string | undefined, note: string): [number, number] | undefined {
  if (text === undefined) return undefined;
  const parts = text.split(',');
  const [lo, hi] = parts.map(Number);
  if (parts.length !== 2 || !parts.every((p) => DECIMAL.test(p)) || !(Number.isFinite(lo) && Number.isFinite(hi)) || !(lo > 0) || !(lo <= hi)) {
    throw new UsageError(`--${flag} must be LO,HI: two numbers > 0 written in decimal, LO <= HI (${note}), got ${JSON.stringify(text)}`);
  }
  return [lo, hi];
}

/** `text` if it is one of `options`, `fallback` where the option was not given; else a UsageError listing them. */
export function choice<T extends string>(flag: string, text: string | undefined, options: readonly T[], fallback: T): T;
export function choice<T extends string>(flag: string, text: string | undefined, options: readonly T[]): T | undefined;
export function choice<T extends string>(flag: string, text: string | undefined, options: readonly T[], fallback?: T): T | undefined {
  if (text === undefined) return fallback;
  if (!options.includes(text as T)) throw new UsageError(`--${flag} must be one of ${options.join(', ')}, got ${JSON.stringify(text)}`);
  return text as T;
}

/**
 * A comma-separated list of `options` (`lenet5,resnet`), in the order given,
 * or `fallback` where the option was not given. An empty entry, an unknown
 * name or one named twice is refused.
 */
export function choices<T extends string>(flag: string, text: string | undefined, options: readonly T[], fallback: readonly T[]): T[] {
  if (text === undefined) return [...fallback];
  const names = text.split(',').map((s) => s.trim());
  const picked: T[] = [];
  for (const name of names) {
    if (name === '') throw new UsageError(`--${flag} must be a comma-separated list of ${options.join(', ')}, got ${JSON.stringify(text)}`);
    if (!options.includes(name as T)) throw new UsageError(`--${flag}: ${JSON.stringify(name)} is not one of ${options.join(', ')}`);
    if (picked.includes(name as T)) throw new UsageError(`--${flag} names ${name} twice; name it once`);
    picked.push(name as T);
  }
  return picked;
}

/** How an option is spelled for {@link parseStrict}: a flag that takes a value, or a switch. */
export type OptionKind = { type: 'string' } | { type: 'boolean'; short?: string };

/**
 * `parseArgs`, strict: no positionals, no unknown options, and no option
 * given twice (parseArgs alone keeps the last of a repeated option, while
 * either reading may be the intended one). Its own errors become UsageErrors.
 * Returns the values by option name, strings for flags and true for switches.
 */
export function parseStrict<O extends Record<string, OptionKind>>(
  argv: readonly string[],
  options: O,
): { [K in keyof O]?: O[K] extends { type: 'boolean' } ? boolean : string } {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], strict: true, allowPositionals: false, tokens: true, options });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const given = new Set<string>();
  for (const t of parsed.tokens) {
    if (t.kind !== 'option') continue;
    if (given.has(t.name)) throw new UsageError(`--${t.name} is given more than once; give it once`);
    given.add(t.name);
  }
  return parsed.values as { [K in keyof O]?: O[K] extends { type: 'boolean' } ? boolean : string };
}

/** Why a file system call failed, in words, for the errors a wrong --out gives. */
export function reason(err: unknown): string {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'the file system is read-only';
    case 'ENOSPC':
    case 'EDQUOT':
      return 'no space left';
    case 'EISDIR':
      return 'it is a directory';
    case 'ENOENT':
      return 'the file system takes no new files there';
    default:
      return (err as Error).message;
  }
}

/**
 * Make `dir` and the levels above it that are missing, and write a probe file
 * in it: access() says yes to root where the file system still refuses (under
 * /proc or /sys). The levels are made one at a time: `mkdir -p` in Node loops
 * for ever where the kernel refuses new entries (under /proc, say). `out` is
 * the --out the user gave, which the messages name.
 */
async function makeWritableDir(out: string, dir: string): Promise<void> {
  const missing: string[] = [];
  let at = dir;
  let found = await stat(at).catch(() => null);
  while (!found && dirname(at) !== at) {
    missing.unshift(at);
    at = dirname(at);
    found = await stat(at).catch(() => null);
  }
  if (found && !found.isDirectory()) {
    throw new UsageError(at === out ? `--out ${out}: this is a file, not a directory` : `--out ${out}: ${at} is a file, not a directory`);
  }
  const probe = join(dir, `.striate-probe-${process.pid}`);
  try {
    for (const level of missing) await mkdir(level);
    await (await open(probe, 'wx')).close();
    await rm(probe);
  } catch (err) {
    const where = dir === out ? '' : ` in ${dir}`;
    throw new UsageError(`--out ${out}: cannot write${where} (${reason(err)}); choose a directory you can write to`);
  }
}

/**
 * Make sure a run can write all it writes under `out` (--out, resolved),
 * before any time is spent training: `out` and each of `dirs` below it (made
 * if missing) take a file, and each of `files` below it that is there
 * already can be opened for writing. Throws UsageError naming the path and
 * the reason in words.
 */
export async function checkOutDir(out: string, dirs: readonly string[], files: readonly string[]): Promise<void> {
  await makeWritableDir(out, out);
  for (const d of dirs) await makeWritableDir(out, join(out, d));
  for (const file of files.map((f) => join(out, f))) {
    try {
      await (await open(file, 'r+')).close();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new UsageError(`--out ${out}: cannot write ${file} (${reason(err)}); move it away or choose another directory`);
    }
  }
}

/**
 * Refuse an unknown or unavailable backend up front, as a bad flag: compile
 * a one-input graph on it. In Node, WebGPU needs navigator.gpu made from the
 * webgpu package first ('auto' does this itself). Throws UsageError
 * `--backend NAME: why`.
 */
export async function checkBackend(backend: string): Promise<void> {
  try {
    if (backend === 'webgpu') await enableNodeWebGPU();
    const f = compile(input('probe', [1]), { backend: backend as BackendName });
    const dispose = (f as { dispose?: unknown }).dispose;
    if (typeof dispose === 'function') await dispose.call(f);
  } catch (err) {
    throw new UsageError(`--backend ${backend}: ${(err as Error).message}`);
  }
}

/** What --threads takes: a count, or 'auto'. */
export type ThreadsFlag = number | 'auto';

/** The most threads `--threads auto` uses: beyond four, LeNet-5's parts get too small to gain. */
export const AUTO_THREADS_MAX = 4;

/** `--threads`, checked: 'auto' (the default) or an integer from 1 to {@link MAX_THREADS}. */
export function threadsFlag(text: string | undefined): ThreadsFlag {
  if (text === undefined || text === 'auto') return 'auto';
  return integer('threads', text, { min: 1, max: MAX_THREADS, why: 'or auto' })!;
}

/** How a run trains: the backend every thread runs, how many threads share each step, and why, for the log. */
export interface ThreadPlan {
  readonly backend: BackendName;
  readonly threads: number;
  readonly why: string;
}

/**
 * The backend and thread count a run trains with. `given` is --backend as
 * given, `chosen` what it stands for (auto's pick, else `given`). A count
 * above 1 trains data-parallel on webasm (or cpu, when asked for): with
 * `--backend auto` that is webasm whatever auto picked, and any other
 * backend is refused. `auto` uses data parallelism where it can: on the
 * webasm family (auto picking webasm or webasm-threads, or --backend webasm
 * or cpu), the most threads up to the cores here (at most
 * {@link AUTO_THREADS_MAX}) that divide the batch; elsewhere (a GPU backend,
 * --backend webasm-threads) one thread, and one for a model with batch
 * normalisation (`batchNorm`), whose parts would each normalise over their
 * own slice of the batch: auto never changes what a run computes. `busy`
 * cores are taken by other threads of the run (an augmentation worker) and
 * not counted: on two cores, `npm start --augment` trained one epoch in
 * 28.8 s on two threads and 28.3 s on one.
 */
export function threadPlan(given: string, chosen: BackendName, flag: ThreadsFlag, batchSize: number, cores: number, batchNorm = false, busy = 0): ThreadPlan {
  const parallelOn = (b: string): b is 'webasm' | 'cpu' => (PARALLEL_BACKENDS as readonly string[]).includes(b);
  if (flag !== 'auto') {
    if (flag === 1) return { backend: chosen, threads: 1, why: '--threads 1' };
    if (given !== 'auto' && !parallelOn(given)) {
      throw new UsageError(`--threads ${flag} trains on webasm or cpu, one pipeline a thread; --backend ${given} cannot (use --threads 1)`);
    }
    if (batchSize % flag !== 0) throw new UsageError(`--threads ${flag} must divide the batch size ${batchSize} (each thread takes an equal part)`);
    return { backend: parallelOn(given) ? given : 'webasm', threads: flag, why: `--threads ${flag}` };
  }
  const family = given === 'auto' ? chosen === 'webasm' || chosen === 'webasm-threads' : parallelOn(given);
  if (!family) return { backend: chosen, threads: 1, why: `--threads auto: one thread on ${chosen}` };
  if (batchNorm) return { backend: chosen, threads: 1, why: '--threads auto: one thread for a model with batch normalisation' };
  const free = cores - busy;
  let threads = Math.max(1, Math.min(free, AUTO_THREADS_MAX));
  while (batchSize % threads !== 0) threads--;
  const others = busy > 0 ? `, ${busy} taken by augmentation` : '';
  if (threads === 1) return { backend: chosen, threads: 1, why: `--threads auto: one thread (${cores} core${cores === 1 ? '' : 's'} here${others})` };
  return { backend: parallelOn(given) ? given : 'webasm', threads, why: `--threads auto: ${threads} of the ${cores} cores here${others}` };
}
