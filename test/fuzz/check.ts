/**
 * The fuzzer's property for one case (graphs.ts makes the cases): it either
 * throws `StriateError` while building, compiling or running, or the device
 * backend returns what the float64 reference returns within float32
 * tolerance. Anything else is a {@link FuzzFailure}: a crash (an exception
 * that is not a StriateError) or a mismatch (results that differ, or one
 * backend refusing what the other runs). The reference refusing a case with
 * a StriateError binds the device to refuse it too; the device alone may
 * refuse a case the reference runs (a size it cannot hold): that is an
 * outcome of its own, counted by the test.
 */
import { StriateError, compile, input, jvp, topologicalOrder, vjp, type BackendName, type CompiledFunction, type Feeds, type ReferenceFunction, type RunResult, type Tensor } from 'striate';
import { sizeOf } from '../../src/graph/shape.js';
import { randomValues } from '../helpers.js';
import { BuildFailure, buildCase, feedsCode, makeFeeds, type BuiltGraph, type Domain, type FuzzCase } from './graphs.js';

/** Error of a float32 result relative to its output's largest magnitude, as in test/backend/cases.ts. */
const RTOL = 1e-4;
/** Relative size of the nudges given to the feeds to measure how sensitive a case's results are (16 float32 ulps). */
const NUDGE = 2 ** -20;
/** Error allowed near zero, relative to the largest value the graph computes anywhere (float32 cancellation). */
const ATOL = 1e-5;
/** More elements than a feed may have here: a graph that takes such an input should have been refused (2 ** 40 is a bad value of graphs.ts). */
const HUGE_INPUT = 2 ** 30;
/** Magnitudes where float32 overflows or loses its precision to underflow, so float64 is no oracle. */
const FLOAT32_HUGE = 1e30;
const FLOAT32_TINY = 1e-30;

export type Stage = 'build' | 'compile' | 'run';

/** What one case came to: refused with a StriateError by both, refused by the device only, matched, or beyond float32. */
export type Outcome =
  | { readonly kind: 'refused'; readonly stage: Stage; readonly op: string }
  | { readonly kind: 'deviceOnly'; readonly op: string; readonly message: string }
  | { readonly kind: 'matched' }
  | { readonly kind: 'outOfRange' };

/** A broken property: a crash (an exception that is not a StriateError) or a silent mismatch. */
export class FuzzFailure extends Error {
  constructor(
    readonly kind: 'crash' | 'mismatch',
    /** What went wrong with the details (numbers, names, shapes) left out: failures with one signature are likely one bug. */
    readonly signature: string,
    message: string,
  ) {
    super(message);
  }
}

/** `text` without the details that vary between cases of one bug: numbers, quoted names, shapes. */
const generic = (text: string) =>
  text
    .replace(/"[^"]*"/g, '"…"')
    .replace(/\[[^\]]*\]/g, '[…]')
    .replace(/-?\d+(\.\d+)?(e[-+]?\d+)?/g, '#');

/** Where in src/ an error was thrown: the first frame of its stack in the library. */
function thrownAt(e: Error): string {
  const frame = (e.stack ?? '').split('\n').find((line) => line.includes('/src/'));
  return frame?.match(/\(?([^()\s]*\/src\/[^:]+)/)?.[1].replace(/.*\/src\//, 'src/') ?? 'outside src/';
}

type Settled<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

async function settle<T>(f: () => T | Promise<T>): Promise<Settled<T>> {
  try {
    return { ok: true, value: await f() };
  } catch (error) {
    return { ok: false, error };
  }
}

function describeError(e: unknown): string {
  if (!(e instanceof Error)) return `a thrown ${typeof e}: ${String(e)}`;
  const stack = (e.stack ?? '').split('\n').slice(1, 5).join('\n');
  const cause = e.cause === undefined ? '' : `\ncaused by ${describeError(e.cause)}`;
  return `${e.name}: ${e.message}\n${stack}${cause}`;
}

/** The case as a program and its feeds, for a failure's message. */
function caseText(built: BuiltGraph | readonly string[], feeds?: unknown): string {
  const code = Array.isArray(built) ? built : (built as BuiltGraph).code;
  return `${code.join('\n')}${feeds === undefined ? '' : `\nawait compile(outputs, { backend }).run(${feedsCode(feeds)});`}`;
}

/** `e` must be a StriateError; anything else is a crash of `what`. */
function expectStriate(e: unknown, what: string, text: string): StriateError {
  if (e instanceof StriateError) return e;
  const signature = e instanceof Error ? `${e.name} in ${thrownAt(e)}: ${generic(e.message)}` : `a thrown ${typeof e}`;
  throw new FuzzFailure('crash', `crash ${signature}`, `${what} threw something other than a StriateError:\n${describeError(e)}\n--- case:\n${text}`);
}

/** The feeds nudged by a relative NUDGE (labels left alone): valid feeds only, the reference has run them. */
function nudged(feeds: Feeds, domains: ReadonlyMap<string, Domain>, seed: number): Feeds {
  const out: Record<string, unknown> = {};
  Object.entries(feeds).forEach(([name, v], i) => {
    if (domains.get(name)?.kind === 'labels') return void (out[name] = v);
    const shaped = !('length' in (v as object));
    const data = (shaped ? (v as { data: ArrayLike<number> }).data : v) as ArrayLike<number>;
    const r = randomValues(data.length, seed + 17 * i);
    const moved = Float64Array.from(data, (x, k) => x * (1 + NUDGE * r[k]));
    out[name] = shaped ? { shape: (v as unknown as { shape: number[] }).shape, data: moved } : moved;
  });
  return out as Feeds;
}

/**
 * Every value the graph computes, on the reference: whether one overflows
 * or underflows float32 somewhere (then float64 is no oracle), and the
 * largest magnitude among them (the scale of the rounding errors that a
 * result near zero, such as a sum that cancels, may carry).
 */
function intermediates(built: BuiltGraph, feeds: Feeds): { beyondFloat32: boolean; largest: number } {
  const all = compile(topologicalOrder(built.outputs), { backend: 'reference' }).runSync(feeds);
  let largest = 0;
  let beyondFloat32 = false;
  for (const { data } of all) {
    for (const v of data) {
      if (!Number.isFinite(v) || v === 0) continue;
      largest = Math.max(largest, Math.abs(v));
      beyondFloat32 ||= Math.abs(v) > FLOAT32_HUGE || Math.abs(v) < FLOAT32_TINY;
    }
  }
  return { beyondFloat32, largest };
}

/**
 * The first element where the device's result is not the reference's, or
 * null. An element passes when it is within RTOL of its output's largest
 * magnitude plus the spread the reference itself shows when the feeds are
 * nudged (so an ill-conditioned result, such as a difference of nearly
 * equal values or a step next to its jump, is judged by its own
 * sensitivity), plus `atol`; NaN must meet NaN and an infinity the same infinity,
 * unless nudging changes them.
 */
function firstMismatch(want: readonly RunResult[], got: readonly RunResult[], alts: readonly (readonly RunResult[])[], atol: number): string | null {
  for (let o = 0; o < want.length; o++) {
    const [w, g] = [want[o], got[o]];
    if (g.shape.join() !== w.shape.join()) return `output ${o} has shape [${g.shape}] but the reference has [${w.shape}]`;
    if (!(g.data instanceof Float32Array)) return `output ${o} is not a Float32Array`;
    if (g.data.length !== w.data.length) return `output ${o} has ${g.data.length} values, the reference ${w.data.length}`;
    const scale = Math.max(1e-6, ...Array.from(w.data, (v) => (Number.isFinite(v) ? Math.abs(v) : 0)));
    for (let i = 0; i < w.data.length; i++) {
      const [wv, gv] = [w.data[i], g.data[i]];
      const others = alts.map((a) => a[o].data[i]);
      if (!Number.isFinite(wv) || others.some((v) => !Number.isFinite(v))) {
        const stable = others.every((v) => Object.is(v, wv) || (Number.isNaN(v) && Number.isNaN(wv)));
        if (stable && !(Object.is(gv, wv) || (Number.isNaN(gv) && Number.isNaN(wv)))) return `output ${o}[${i}] is ${gv} but the reference has ${wv}`;
        continue;
      }
      const spread = Math.max(0, ...others.map((v) => Math.abs(v - wv)));
      const err = Math.abs(gv - wv);
      if (!(err <= RTOL * scale + spread + atol)) {
        return `output ${o}[${i}] is ${gv} but the reference has ${wv} (error ${err.toExponential(2)}, output scale ${scale.toExponential(2)}, spread under nudging ${spread.toExponential(2)})`;
      }
    }
  }
  return null;
}

const secondRun = (mismatch: string | null) => (mismatch === null ? null : `second run (feeds nudged): ${mismatch}`);

/** One case on `backend`: its outcome, or a FuzzFailure. */
export async function runCase(c: FuzzCase, backend: BackendName): Promise<Outcome> {
  let built: BuiltGraph;
  try {
    built = buildCase(c);
  } catch (e) {
    const code = e instanceof BuildFailure ? e.code : [];
    const error = e instanceof BuildFailure ? e.error : e;
    return { kind: 'refused', stage: 'build', op: expectStriate(error, 'building the graph', caseText(code)).op };
  }
  const text = caseText(built);
  const ref = await settle(() => compile(built.outputs, { backend: 'reference' }));
  const dev = await settle(() => compile(built.outputs, { backend }));
  try {
    if (!ref.ok) {
      const refused = expectStriate(ref.error, 'compile on the reference', text);
      if (dev.ok) {
        const got = await settle(() => dev.value.run(makeFeeds(dev.value.inputs, built.domains, c.feeds)));
        if (got.ok) throw new FuzzFailure('mismatch', `ran what the reference refused to compile: ${generic(refused.message)}`, `the reference refused to compile (${refused.message}) but ${backend} ran:\n${text}`);
        expectStriate(got.error, `run on ${backend}`, text);
      } else {
        expectStriate(dev.error, `compile on ${backend}`, text);
      }
      return { kind: 'refused', stage: 'compile', op: refused.op };
    }
    const huge = ref.value.inputs.find(({ shape }) => sizeOf(shape) > HUGE_INPUT);
    if (huge) {
      throw new FuzzFailure('mismatch', 'compiled a graph with an input too large to feed', `compiled a graph with input "${huge.name}" of shape [${huge.shape}], too large to feed:\n${text}`);
    }
    const feeds = makeFeeds(ref.value.inputs, built.domains, c.feeds);
    const withFeeds = caseText(built, feeds);
    const want = await settle(() => ref.value.run(feeds));
    if (want.ok === false) {
      const refused = expectStriate(want.error, 'run on the reference', withFeeds);
      const got = dev.ok ? await settle(() => dev.value.run(feeds)) : dev;
      if (got.ok) throw new FuzzFailure('mismatch', `ran what the reference refused to run: ${generic(refused.message)}`, `the reference refused the run (${refused.message}) but ${backend} returned results:\n${withFeeds}`);
      expectStriate(got.error, `${backend}`, withFeeds);
      return { kind: 'refused', stage: 'run', op: refused.op };
    }
    return await againstReference(built, ref.value, dev, feeds, want.value, c.feeds.seed, backend, text, withFeeds);
  } finally {
    if (dev.ok) await dev.value.dispose();
  }
}

/**
 * The second half of the property, once the reference has run `graph` on
 * `feeds` and returned `want`: the device's compile (`dev`) and its run must
 * give the same within float32 tolerance, and so must a second run with
 * nudged feeds. The device may refuse with a StriateError (deviceOnly);
 * anything else is a FuzzFailure. `seed` makes the nudges; `text` and
 * `withFeeds` are the case as a program, without and with its feeds.
 */
async function againstReference(
  graph: BuiltGraph,
  ref: ReferenceFunction,
  dev: Settled<CompiledFunction>,
  feeds: Feeds,
  want: readonly RunResult[],
  seed: number,
  backend: BackendName,
  text: string,
  withFeeds: string,
): Promise<Outcome> {
  if (!dev.ok) {
    const refused = expectStriate(dev.error, `compile on ${backend}`, withFeeds);
    return { kind: 'deviceOnly', op: refused.op, message: refused.message };
  }
  const sameInputs = (a: typeof ref.inputs, b: typeof a) => a.map((i) => `${i.name}[${i.shape}]`).join() === b.map((i) => `${i.name}[${i.shape}]`).join();
  if (!sameInputs(ref.inputs, dev.value.inputs)) {
    throw new FuzzFailure('mismatch', 'inputs differ', `the graph's inputs differ on ${backend}: ${JSON.stringify(dev.value.inputs)} vs ${JSON.stringify(ref.inputs)}:\n${text}`);
  }
  const got = await settle(() => dev.value.run(feeds));
  if (!got.ok) {
    const refused = expectStriate(got.error, `run on ${backend}`, withFeeds);
    return { kind: 'deviceOnly', op: refused.op, message: refused.message };
  }
  const nudges = [1, 2].map((k) => nudged(feeds, graph.domains, seed + k));
  const alts = nudges.map((f) => ref.runSync(f));
  // A second run of the same function, with other feeds, must see nothing left over from the first.
  const again = await settle(() => dev.value.run(nudges[0]));
  if (!again.ok) {
    const refused = expectStriate(again.error, `a second run on ${backend}`, withFeeds);
    throw new FuzzFailure('mismatch', `refused a second run: ${generic(refused.message)}`, `${backend} ran the feeds, then refused nudged ones (${refused.message}):\n${withFeeds}`);
  }
  const mismatch = (atol: number) => firstMismatch(want, got.value, alts, atol) ?? secondRun(firstMismatch(alts[0], again.value, [want, alts[1]], atol));
  // The graph's values are computed again only for a case that fails the strict comparison.
  if (mismatch(0) === null) return { kind: 'matched' };
  const { beyondFloat32, largest } = intermediates(graph, feeds);
  if (beyondFloat32) return { kind: 'outOfRange' };
  const found = mismatch(ATOL * largest);
  if (found === null) return { kind: 'matched' };
  const ops = [...new Set(topologicalOrder(graph.outputs).map((t) => t.op))].sort().join(' ');
  throw new FuzzFailure('mismatch', `differs from the reference: ${generic(found)} (ops ${ops})`, `${backend} differs from the reference: ${found}\n--- case:\n${withFeeds}`);
}

// ---------------------------------------------------------------------------
// Forward mode: jvp against vjp, against differences, and on a device.

/**
 * Relative error allowed between <c, J t> from the JVP and <J^T c, t> from
 * the VJP. Both are exact algebra on the same graph, so only float64
 * rounding separates them.
 */
const JVP_RTOL = 1e-8;
/**
 * The absolute floor of that comparison: a derivative that cancels to about
 * 0 inside its graph (that of sum(softmax(x)), say) carries the rounding of
 * the values it cancels. Relative to ||c||_1 times the largest value the jvp
 * graph computes, plus ||t||_1 times the largest the vjp graph computes.
 */
const JVP_FLOOR = 1e-12;
/** The step h of the central differences along t (inputs and tangents are about 1 in size). */
const FD_STEP = 1e-3;
/** Error allowed between <c, J t> and its central differences, relative to the larger, besides their own error estimate. */
const FD_RTOL = 1e-6;
/**
 * The rounding floor of the differences, as JVP_FLOOR's: relative to ||c||_1
 * times the largest value the graph computes, divided by the step.
 */
const FD_FLOOR = 1e-12;
/**
 * How far apart the differences with steps h and h/2 may be, relative to the
 * larger, for the step to resolve the function: further apart (a pole or the
 * edge of a log's domain within a few steps), the check is skipped.
 */
const FD_RESOLVED = 1e-3;
/**
 * Ops whose value has kinks, jumps or ties, where central differences
 * measure no derivative (a max over broadcast copies is a tie every time).
 * Where a graph holds one, only the JVP-VJP identity is checked: both rules
 * pick the same one-sided derivative there, so it holds exactly.
 */
const KINKED: ReadonlySet<string> = new Set([
  'relu',
  'reluBackward',
  'step',
  'max',
  'maxMask',
  'maxPool2d',
  'maxPool2dBackward',
  'maxPool2dSelect',
  'conv2dMaxPool',
  'oneHot',
]);

/** Why a case got no forward-mode check: it is no valid graph with finite values and derivatives at its feeds. */
export type JvpSkip = 'build refused' | 'reference refused' | 'non-finite outputs' | 'nothing to differentiate' | 'non-finite derivatives';

/** What became of a check against central differences: done, or skipped for a kink, a non-finite value or a step that does not resolve the function. */
export type Differences = 'matched' | 'kinked' | 'non-finite' | 'unresolved';

/**
 * What a forward-mode case came to: skipped, or checked (the JVP-VJP
 * identity held on the graph), with the ops of the graphs differentiated,
 * what became of the check against differences, of the same two checks on
 * the graph's VJP (second order: `jvp` over `vjp`), and of the device check
 * (null when none was asked for).
 */
export type JvpOutcome =
  | { readonly kind: 'skipped'; readonly why: JvpSkip }
  | {
      readonly kind: 'checked';
      readonly ops: readonly string[];
      readonly differences: Differences;
      readonly secondOrder: Differences | 'nothing to differentiate' | 'non-finite derivatives';
      readonly device: Outcome | null;
    };

/** Values in [-1, 1] exactly representable in float32, so that a device is fed what the reference is. */
const float32Values = (n: number, seed: number): Float64Array => randomValues(n, seed).map(Math.fround);

const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += a[k] * b[k];
  return s;
};

const norm1 = (a: ArrayLike<number>): number => Array.from(a).reduce((s, v) => s + Math.abs(v), 0);

const allFinite = (results: readonly RunResult[]) => results.every(({ data }) => data.every(Number.isFinite));

type Values = Record<string, Float64Array>;

/** The feeds `f` reads, out of `values` (a jvp graph need not read every input). */
const only = (f: ReferenceFunction, values: Readonly<Values>): Values => Object.fromEntries(f.inputs.map(({ name }) => [name, values[name]]));

/** The largest finite magnitude among all the values the graph of `outputs` computes at `values`. */
function largestValue(outputs: readonly Tensor[], values: Readonly<Values>): number {
  const all = compile(topologicalOrder(outputs), { backend: 'reference' });
  let largest = 0;
  for (const { data } of all.runSync(only(all, values))) for (const v of data) if (Number.isFinite(v)) largest = Math.max(largest, Math.abs(v));
  return largest;
}

/** A JVP or VJP that throws on a graph the reference runs is a bug of a rule or of the rewrite, whatever it throws. */
function expectBuilt<T>(f: () => T, what: string, text: string): T {
  try {
    return f();
  } catch (e) {
    const signature = e instanceof Error ? `${e.name} in ${thrownAt(e)}: ${generic(e.message)}` : `a thrown ${typeof e}`;
    throw new FuzzFailure('crash', `${what} threw ${signature}`, `${what} threw on a graph the reference runs:\n${describeError(e)}\n--- case:\n${text}`);
  }
}

/** One dot-product test that passed: what the differences, the second order and the device check need of it. */
interface DotTest {
  /** What the names of its tangents and cotangents start with. */
  readonly tag: string;
  /** The names of the inputs differentiated, each with one tangent `${tag}tangent.${name}`. */
  readonly names: readonly string[];
  /** The cotangents' names, one per output. */
  readonly cotangents: readonly string[];
  /** J t for each output, and its graph on the reference with its results. */
  readonly jt: readonly Tensor[];
  readonly jvpFn: ReferenceFunction;
  readonly jtv: readonly RunResult[];
  /** J^T c for each differentiated input node, and its graph on the reference. */
  readonly gs: readonly Tensor[];
  readonly vjpFn: ReferenceFunction;
  /** <c, J t> by the JVP. */
  readonly byJvp: number;
  /** The program so far, the jvp and vjp calls included. */
  readonly text: string;
  readonly ops: readonly string[];
}

/**
 * The JVP-VJP identity for the graph of `outputs` (`vars` names them in the
 * program) at `values`, which gain random tangents for every input that is
 * not a label (one per name: two nodes of one name are one input) and
 * random cotangents for every output, named with `tag`. Returns why it was
 * skipped, or what passed; throws a FuzzFailure when the identity breaks.
 */
function dotProductTest(
  outputs: readonly Tensor[],
  domains: ReadonlyMap<string, Domain>,
  values: Values,
  tag: string,
  seed: number,
  code: string,
  vars: string,
): DotTest | 'nothing to differentiate' | 'non-finite derivatives' {
  const order = topologicalOrder(outputs);
  const xs = order.filter((t): t is Tensor<'input'> => t.op === 'input' && domains.get((t as Tensor<'input'>).attrs.name)?.kind !== 'labels');
  const names = [...new Set(xs.map((x) => x.attrs.name))];
  if (names.length === 0) return 'nothing to differentiate';
  const tangentOf = new Map(names.map((name) => [name, input(`${tag}tangent.${name}`, xs.find((x) => x.attrs.name === name)!.shape)]));
  const cotangents = outputs.map((y, o) => input(`${tag}cotangent.${o}`, y.shape));
  names.forEach((name, i) => (values[`${tag}tangent.${name}`] = float32Values(sizeOf(tangentOf.get(name)!.shape), seed + 1009 + 31 * i)));
  outputs.forEach((y, o) => (values[`${tag}cotangent.${o}`] = float32Values(sizeOf(y.shape), seed + 2003 + 31 * o)));

  const [level, order2] = tag === '' ? ['', ''] : ['2', 'second order: '];
  const [xsVar, jtVar, gsVar] = [`xs${level}`, `jt${level}`, `gs${level}`];
  const text = [
    code,
    `const ${xsVar} = topologicalOrder(${vars}).filter((t) => t.op === 'input' && ${JSON.stringify(names)}.includes(t.attrs.name));`,
    `const ${jtVar} = jvp(${vars}, ${xsVar}, ${xsVar}.map((x) => input(\`${tag}tangent.\${x.attrs.name}\`, x.shape)));`,
    `const ${gsVar} = vjp(${vars}, ${xsVar}, ${vars}.map((y, o) => input(\`${tag}cotangent.\${o}\`, y.shape)));`,
    `// <${tag}cotangent.*, ${jtVar}> must equal <${gsVar}, ${tag}tangent.*>`,
  ].join('\n');
  const withValues = () => `${text}\n// feeds: ${feedsCode(values)}`;
  const jt = expectBuilt(() => jvp(outputs, xs, xs.map((x) => tangentOf.get(x.attrs.name)!)), 'jvp', text);
  const gs = expectBuilt(() => vjp(outputs, xs, cotangents), 'vjp', text);
  const jvpFn = expectBuilt(() => compile(jt, { backend: 'reference' }), 'compiling the jvp graph on the reference', text);
  const vjpFn = expectBuilt(() => compile(gs, { backend: 'reference' }), 'compiling the vjp graph on the reference', text);
  const jtv = expectBuilt(() => jvpFn.runSync(only(jvpFn, values)), 'running the jvp graph on the reference', withValues());
  const gv = expectBuilt(() => vjpFn.runSync(only(vjpFn, values)), 'running the vjp graph on the reference', withValues());
  if (!allFinite(jtv) || !allFinite(gv)) return 'non-finite derivatives';

  const ops = [...new Set(order.map((t) => t.op))].sort();
  // <c, J t> from the JVP and <J^T c, t> from the VJP (each input node's cotangent against its name's tangent).
  const byJvp = outputs.reduce((s, _, o) => s + dot(values[`${tag}cotangent.${o}`], jtv[o].data), 0);
  const byVjp = xs.reduce((s, x, i) => s + dot(gv[i].data, values[`${tag}tangent.${x.attrs.name}`]), 0);
  const err = Math.abs(byJvp - byVjp);
  const allowed = JVP_RTOL * Math.max(Math.abs(byJvp), Math.abs(byVjp));
  // The floor is computed only for a case that fails without it.
  if (!(err <= allowed)) {
    const cNorm = outputs.reduce((s, _, o) => s + norm1(values[`${tag}cotangent.${o}`]), 0);
    const tNorm = xs.reduce((s, x) => s + norm1(values[`${tag}tangent.${x.attrs.name}`]), 0);
    const floor = JVP_FLOOR * (cNorm * largestValue(jt, values) + tNorm * largestValue(gs, values));
    if (!(err <= allowed + floor)) {
      const rel = err / Math.max(Math.abs(byJvp), Math.abs(byVjp), 1e-300);
      throw new FuzzFailure(
        'mismatch',
        `${order2}jvp and vjp disagree (ops ${ops.join(' ')})`,
        `${order2}<c, J t> is ${byJvp} by the JVP but <J^T c, t> is ${byVjp} by the VJP (error ${err.toExponential(2)}, relative ${rel.toExponential(2)}, ` +
          `floor for cancellation ${floor.toExponential(2)}; ops ${ops.join(' ')})\n--- case:\n${withValues()}`,
      );
    }
  }
  const cotangentNames = outputs.map((_, o) => `${tag}cotangent.${o}`);
  return { tag, names, cotangents: cotangentNames, jt, jvpFn, jtv, gs, vjpFn, byJvp, text, ops };
}

/**
 * The forward-mode property for one case, in float64 on the reference
 * backend. With t a random tangent for every graph input that is not a
 * label, and c a random cotangent for every output:
 *
 * - <c, jvp(t)> equals <vjp(c), t> within JVP_RTOL (plus a floor for
 *   cancellation): exact algebra, so this holds at kinks and ties too;
 * - for a graph with no kinked op, both equal Richardson-extrapolated
 *   central differences of <c, f(x + h t)> within FD_RTOL;
 * - the same two hold for the graph's VJP as a function of x and c, which
 *   takes every backward op (reluBackward, maxMask, the backprop convs, ...)
 *   through its JVP rule: forward over reverse;
 * - with `backend`, the jvp graph compiled there returns what the reference
 *   returns within float32 tolerance (the main property's comparison).
 *
 * A case that does not build, that the reference refuses, or whose outputs
 * or derivatives are not finite at its feeds is skipped. A broken property
 * is a {@link FuzzFailure}: a JVP or VJP that throws (a crash), or values
 * that differ (a mismatch).
 */
export async function runJvpCase(c: FuzzCase, backend: BackendName | null): Promise<JvpOutcome> {
  let built: BuiltGraph;
  try {
    built = buildCase(c);
  } catch (e) {
    const code = e instanceof BuildFailure ? e.code : [];
    expectStriate(e instanceof BuildFailure ? e.error : e, 'building the graph', caseText(code));
    return { kind: 'skipped', why: 'build refused' };
  }
  const { outputs, domains } = built;
  const ref = await settle(() => compile(outputs, { backend: 'reference' }));
  if (!ref.ok) {
    expectStriate(ref.error, 'compile on the reference', caseText(built));
    return { kind: 'skipped', why: 'reference refused' };
  }
  const feeds = makeFeeds(ref.value.inputs, domains, { ...c.feeds, form: 'float64', fault: null }) as Values;
  const ys = await settle(() => ref.value.runSync(feeds));
  if (!ys.ok) {
    expectStriate(ys.error, 'run on the reference', caseText(built, feeds));
    return { kind: 'skipped', why: 'reference refused' };
  }
  if (!allFinite(ys.value)) return { kind: 'skipped', why: 'non-finite outputs' };

  const values: Values = { ...feeds };
  const first = dotProductTest(outputs, domains, values, '', c.feeds.seed, caseText(built), 'outputs');
  if (typeof first === 'string') return { kind: 'skipped', why: first };
  const differences = againstDifferences(ref.value, first, values);

  // Second order: the VJP graph as a function of the inputs and the cotangents.
  const gradDomains = new Map([...domains, ...first.cotangents.map((n) => [n, { kind: 'any' }] as const)]);
  const second = dotProductTest(first.gs, gradDomains, values, 'second.', c.feeds.seed + 5003, first.text, 'gs');
  const secondOrder = typeof second === 'string' ? second : againstDifferences(first.vjpFn, second, values);
  const ops = [...new Set([...first.ops, ...(typeof second === 'string' ? [] : second.ops)])].sort();
  if (backend === null) return { kind: 'checked', ops, differences, secondOrder, device: null };

  // The jvp graph on the device, judged as the main property judges a graph.
  const graph: BuiltGraph = {
    outputs: [...first.jt],
    domains: new Map([...domains, ...first.names.map((n) => [`tangent.${n}`, { kind: 'any' }] as const)]),
    code: [first.text],
  };
  const fed = only(first.jvpFn, values);
  const dev = await settle(() => compile(first.jt, { backend }));
  try {
    const text = `${first.text}\nawait compile(jt, { backend }).run(${feedsCode(fed)});`;
    const device = await againstReference(graph, first.jvpFn, dev, fed, first.jtv, c.feeds.seed + 3001, backend, first.text, text);
    return { kind: 'checked', ops, differences, secondOrder, device };
  } finally {
    if (dev.ok) await dev.value.dispose();
  }
}

/**
 * <c, J t> by central differences of `f` (the graph of `test`) along its
 * tangents, Richardson-extrapolated from steps h and h/2, against the JVP's. The
 * tolerance is FD_RTOL plus twice the gap between the two steps' estimates
 * (the error of the coarser one, far more than the extrapolation's) plus
 * FD_FLOOR for rounding. Returns 'kinked' without computing
 * for a graph with a kink or tie, 'non-finite' where a shifted point leaves
 * the graph's domain (a log of a value near 0), 'unresolved' where the two
 * steps disagree by more than FD_RESOLVED (a pole near), 'matched', or
 * throws a FuzzFailure.
 */
function againstDifferences(f: ReferenceFunction, test: DotTest, values: Readonly<Values>): Differences {
  const kinked = topologicalOrder(f.outputs).some((t) => KINKED.has(t.op) || (t.attrs as { relu?: boolean }).relu === true);
  if (kinked) return 'kinked';
  const { tag, byJvp } = test;
  const order2 = tag === '' ? '' : 'second order: ';
  const at = (s: number) => {
    const shifted = only(f, values);
    for (const name of test.names) shifted[name] = values[name].map((v, k) => v + s * values[`${tag}tangent.${name}`][k]);
    return f.runSync(shifted);
  };
  const centred = (h: number): number | null => {
    const [plus, minus] = [at(h), at(-h)];
    if (!allFinite(plus) || !allFinite(minus)) return null;
    let s = 0;
    test.cotangents.forEach((name, o) => {
      const cv = values[name];
      const [p, m] = [plus[o].data, minus[o].data];
      for (let k = 0; k < cv.length; k++) s += (cv[k] * (p[k] - m[k])) / (2 * h);
    });
    return s;
  };
  const coarse = centred(FD_STEP);
  const fine = centred(FD_STEP / 2);
  if (coarse === null || fine === null) return 'non-finite';
  const gap = Math.abs(coarse - fine);
  const estimate = (4 * fine - coarse) / 3;
  const err = Math.abs(byJvp - estimate);
  const tolerance = (floor: number) => FD_RTOL * Math.max(Math.abs(byJvp), Math.abs(estimate)) + 2 * gap + floor;
  const resolved = (floor: number) => gap <= FD_RESOLVED * Math.max(Math.abs(coarse), Math.abs(fine)) + floor;
  if (resolved(0) && err <= tolerance(0)) return 'matched';
  // Only now the floor, for differences that cancel to about 0 inside the graph (as the VJP of a logSoftmax of equal values does).
  const floor = (FD_FLOOR * test.cotangents.reduce((s, name) => s + norm1(values[name]), 0) * largestValue(f.outputs, values)) / FD_STEP;
  if (!resolved(floor)) return 'unresolved';
  const tol = tolerance(floor);
  if (!(err <= tol)) {
    const ops = test.ops.join(' ');
    throw new FuzzFailure(
      'mismatch',
      `${order2}jvp and vjp disagree with differences (ops ${ops})`,
      `${order2}<c, J t> is ${byJvp} by the JVP and the VJP but ${estimate} by central differences (steps ${FD_STEP} and ${FD_STEP / 2} give ` +
        `${coarse} and ${fine}; error ${err.toExponential(2)} > tolerance ${tol.toExponential(2)}; ops ${ops})\n--- case:\n${test.text}\n// feeds: ${feedsCode(values)}`,
    );
  }
  return 'matched';
}
