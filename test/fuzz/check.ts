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
import { StriateError, compile, topologicalOrder, type Feeds, type RunResult, type BackendName } from 'striate';
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
    if (!dev.ok) {
      const refused = expectStriate(dev.error, `compile on ${backend}`, withFeeds);
      return { kind: 'deviceOnly', op: refused.op, message: refused.message };
    }
    const sameInputs = (a: typeof ref.value.inputs, b: typeof a) => a.map((i) => `${i.name}[${i.shape}]`).join() === b.map((i) => `${i.name}[${i.shape}]`).join();
    if (!sameInputs(ref.value.inputs, dev.value.inputs)) {
      throw new FuzzFailure('mismatch', 'inputs differ', `the graph's inputs differ on ${backend}: ${JSON.stringify(dev.value.inputs)} vs ${JSON.stringify(ref.value.inputs)}:\n${text}`);
    }
    const got = await settle(() => dev.value.run(feeds));
    if (!got.ok) {
      const refused = expectStriate(got.error, `run on ${backend}`, withFeeds);
      return { kind: 'deviceOnly', op: refused.op, message: refused.message };
    }
    const nudges = [1, 2].map((k) => nudged(feeds, built.domains, c.feeds.seed + k));
    const alts = nudges.map((f) => ref.value.runSync(f));
    // A second run of the same function, with other feeds, must see nothing left over from the first.
    const again = await settle(() => dev.value.run(nudges[0]));
    if (!again.ok) {
      const refused = expectStriate(again.error, `a second run on ${backend}`, withFeeds);
      throw new FuzzFailure('mismatch', `refused a second run: ${generic(refused.message)}`, `${backend} ran the feeds, then refused nudged ones (${refused.message}):\n${withFeeds}`);
    }
    const mismatch = (atol: number) =>
      firstMismatch(want.value, got.value, alts, atol) ?? secondRun(firstMismatch(alts[0], again.value, [want.value, alts[1]], atol));
    // The graph's values are computed again only for a case that fails the strict comparison.
    if (mismatch(0) === null) return { kind: 'matched' };
    const { beyondFloat32, largest } = intermediates(built, feeds);
    if (beyondFloat32) return { kind: 'outOfRange' };
    const found = mismatch(ATOL * largest);
    if (found === null) return { kind: 'matched' };
    const ops = [...new Set(topologicalOrder(built.outputs).map((t) => t.op))].sort().join(' ');
    throw new FuzzFailure('mismatch', `differs from the reference: ${generic(found)} (ops ${ops})`, `${backend} differs from the reference: ${found}\n--- case:\n${withFeeds}`);
  } finally {
    if (dev.ok) await dev.value.dispose();
  }
}

