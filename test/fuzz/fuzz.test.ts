/**
 * The fuzzer (issue 19, "nothing silent, nothing lost"): random graphs of
 * random ops with random attributes and feeds, valid and invalid (see
 * graphs.ts). The property: each case either throws `StriateError` (while
 * building, compiling or running), or the device backend returns what the
 * float64 reference returns, within float32 tolerance. Any other exception
 * is a crash; results that differ are a silent mismatch; both fail. When the
 * reference refuses a case with a StriateError the device must refuse it
 * too. The device alone may refuse a case the reference runs (a size it
 * cannot hold), and the count of those is printed.
 *
 * Forward mode has a property of its own (check.ts, `runJvpCase`), on
 * random valid graphs: <c, jvp(t)> equals <vjp(c), t> in float64, both
 * equal central differences where the graph has no kink, the same holds for
 * the graph's VJP (forward over reverse), and for one case in
 * STRIATE_FUZZ_JVP_EVERY the jvp graph compiled on a device backend returns
 * what the reference returns.
 *
 * STRIATE_FUZZ_RUNS=N runs N cases per backend (default 300);
 * STRIATE_FUZZ_BACKENDS=cpu,webasm,... picks the backends (default cpu);
 * STRIATE_FUZZ_JVP_RUNS=N runs N forward-mode cases (default 300);
 * STRIATE_FUZZ_JVP_BACKEND=webasm picks the device backend of the
 * forward-mode property (default webasm; 'none' for none) and
 * STRIATE_FUZZ_JVP_EVERY=K how often it runs there (default 3: cases whose
 * feed seed is a multiple of K);
 * STRIATE_FUZZ_SEED (and STRIATE_FUZZ_PATH) replay the run fast-check
 * printed with a failure (add -t 'forward mode' or -t 'fuzzing backend' to
 * replay one property); STRIATE_FUZZ_ALL=1 goes on past the first failure
 * and prints one shrunk case of every distinct failure.
 */
import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { disableNodeWebGPU, releaseIdleGpus, type BackendName } from 'striate';
import { backendStatuses, unavailableBackendTest } from '../backend/backends.js';
import { FuzzFailure, runCase, runJvpCase, type JvpOutcome, type Outcome } from './check.js';
import { caseArb, validCaseArb } from './graphs.js';

const runs = Number(process.env.STRIATE_FUZZ_RUNS ?? 300);
const backends = (process.env.STRIATE_FUZZ_BACKENDS ?? 'cpu')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const jvpRuns = Number(process.env.STRIATE_FUZZ_JVP_RUNS ?? 300);
const jvpBackend = (process.env.STRIATE_FUZZ_JVP_BACKEND ?? 'webasm').trim();
const jvpEvery = Number(process.env.STRIATE_FUZZ_JVP_EVERY ?? 3);
/** STRIATE_FUZZ_ALL=1: instead of stopping at the first failure, find and shrink one case of every distinct failure. */
const collectAll = process.env.STRIATE_FUZZ_ALL === '1';
const MAX_ROUNDS = 60;
const replay = process.env.STRIATE_FUZZ_SEED === undefined ? {} : { seed: Number(process.env.STRIATE_FUZZ_SEED), path: process.env.STRIATE_FUZZ_PATH };

interface Tally {
  cases: number;
  matched: number;
  outOfRange: number;
  crashes: number;
  mismatches: number;
  refused: Map<string, number>;
  deviceOnly: Map<string, number>;
  /** Set at the first failure, so that fast-check's shrinking runs are not counted as cases. */
  shrinking: boolean;
}

/** The forward-mode property's counts: skipped cases by reason, checked ones by what became of their differences, second-order and device checks. */
interface JvpTally {
  cases: number;
  checked: number;
  crashes: number;
  mismatches: number;
  skipped: Map<string, number>;
  differences: Map<string, number>;
  secondOrder: Map<string, number>;
  device: Map<string, number>;
  /** Checked cases by op: which JVP rules the property reached. */
  ops: Map<string, number>;
  shrinking: boolean;
}

const tallies = new Map<string, Tally>();
let jvpTally: JvpTally | null = null;

const bump = (m: Map<string, number>, key: string) => m.set(key, (m.get(key) ?? 0) + 1);
const listed = (m: Map<string, number>) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .map(([key, n]) => `${key} ${n}`)
    .join(', ') || 'none';

function record(tally: Tally, outcome: Outcome): void {
  tally.cases++;
  if (outcome.kind === 'matched') tally.matched++;
  else if (outcome.kind === 'outOfRange') tally.outOfRange++;
  else if (outcome.kind === 'refused') bump(tally.refused, `${outcome.stage} ${outcome.op}`);
  else bump(tally.deviceOnly, `${outcome.op} (${outcome.message.slice(0, 80)})`);
}

function recordJvp(tally: JvpTally, outcome: JvpOutcome): void {
  tally.cases++;
  if (outcome.kind === 'skipped') return void bump(tally.skipped, outcome.why);
  tally.checked++;
  bump(tally.differences, outcome.differences);
  bump(tally.secondOrder, outcome.secondOrder);
  for (const op of outcome.ops) bump(tally.ops, op);
  const device = outcome.device;
  if (device === null) return;
  if (device.kind === 'deviceOnly') bump(tally.device, `refused (${device.op}: ${device.message.slice(0, 80)})`);
  else bump(tally.device, device.kind);
}

/** Counts a failure of a case (a FuzzFailure's kind; anything else is a crash of the harness). */
function recordFailure(tally: { cases: number; crashes: number; mismatches: number }, e: unknown): void {
  tally.cases++;
  if (e instanceof FuzzFailure && e.kind === 'mismatch') tally.mismatches++;
  else tally.crashes++;
}

/**
 * Run `one` on `count` cases of `arb`: to the first failure, which
 * fast-check shrinks and reports with its seed (replayed by
 * STRIATE_FUZZ_SEED and STRIATE_FUZZ_PATH), or with STRIATE_FUZZ_ALL to
 * every distinct failure. `one` records its outcomes unless `tally` is
 * shrinking; a failure is recorded here.
 */
async function fuzz<C>(
  arb: fc.Arbitrary<C>,
  count: number,
  tally: { cases: number; crashes: number; mismatches: number; shrinking: boolean },
  one: (c: C) => Promise<void>,
): Promise<void> {
  /** The failures found so far by signature, with fast-check's report (STRIATE_FUZZ_ALL). */
  const found = new Map<string, string>();
  const property = fc.asyncProperty(arb, async (c) => {
    // Most of a case runs synchronously (the reference, gpu.js's CPU mode): let vitest's worker answer its calls in between.
    await new Promise((resolve) => setImmediate(resolve));
    try {
      await one(c);
    } catch (e) {
      if (!tally.shrinking) recordFailure(tally, e);
      if (e instanceof FuzzFailure && found.has(e.signature)) return;
      tally.shrinking = true;
      throw e;
    }
  });
  if (!collectAll) return void (await fc.assert(property, { numRuns: count, ...replay }));
  // Every distinct failure: rerun until a run of `count` cases finds no new signature.
  for (let round = 0; round < MAX_ROUNDS; round++) {
    tally.shrinking = false;
    const result = await fc.check(property, { numRuns: count });
    if (!result.failed) break;
    const e = result.errorInstance;
    const message = e instanceof Error ? e.message.split('\n--- case:')[0] : String(e);
    found.set(e instanceof FuzzFailure ? e.signature : `harness: ${message}`, `${fc.defaultReportMessage(result) ?? ''}\n${message}`);
  }
  for (const [signature, report] of found) console.log(`=== ${signature}\n${report}`);
  if (found.size > 0) throw new Error(`${found.size} distinct failures, printed above`);
}

const allStatuses = await backendStatuses();
const statuses = allStatuses.filter((s) => backends.includes(s.backend));
const jvpStatus = jvpBackend === 'none' ? null : (allStatuses.find((s) => s.backend === jvpBackend) ?? { backend: jvpBackend, reason: `"${jvpBackend}" is not a Node backend` });

afterAll(async () => {
  for (const [backend, t] of tallies) {
    const refused = [...t.refused.values()].reduce((a, b) => a + b, 0);
    const deviceOnly = [...t.deviceOnly.values()].reduce((a, b) => a + b, 0);
    console.log(
      `fuzz on ${backend}: ${t.cases} cases; ${t.matched} matched the reference; ` +
        `${refused} raised StriateError (by stage and op: ${listed(t.refused)}); ` +
        `${deviceOnly} refused by ${backend} only (${listed(t.deviceOnly)}); ${t.outOfRange} beyond float32's range; ` +
        `${t.crashes} crashes; ${t.mismatches} silent mismatches`,
    );
  }
  if (jvpTally !== null) {
    const t = jvpTally;
    console.log(
      `fuzz of forward mode: ${t.cases} valid cases; ${t.checked} with jvp = vjp; skipped: ${listed(t.skipped)}; ` +
        `central differences: ${listed(t.differences)}; second order (jvp and vjp of the vjp graph): ${listed(t.secondOrder)}; jvp graph on ${jvpStatus?.backend ?? 'no device'}: ${listed(t.device)}; ` +
        `${t.crashes} crashes; ${t.mismatches} mismatches; checked cases by op: ${listed(t.ops)}`,
    );
  }
  releaseIdleGpus();
  await disableNodeWebGPU();
});

describe.each(statuses)('fuzzing backend $backend', ({ backend, reason }) => {
  if (reason !== null) return unavailableBackendTest(backend, reason);

  it(
    `${runs} random graphs either raise StriateError or match the reference`,
    async () => {
      const tally: Tally = { cases: 0, matched: 0, outOfRange: 0, crashes: 0, mismatches: 0, refused: new Map(), deviceOnly: new Map(), shrinking: false };
      tallies.set(backend, tally);
      await fuzz(caseArb, runs, tally, async (c) => {
        const outcome = await runCase(c, backend);
        if (!tally.shrinking) record(tally, outcome);
      });
    },
    Math.max(120_000, runs * (collectAll ? 20_000 : 1_000)),
  );
});

describe('forward mode (jvp)', () => {
  const device = jvpStatus !== null && jvpStatus.reason === null ? (jvpStatus.backend as BackendName) : null;
  if (jvpStatus !== null && jvpStatus.reason !== null) unavailableBackendTest(jvpStatus.backend as never, jvpStatus.reason);

  it(
    `${jvpRuns} random valid graphs and their vjp graphs: <c, jvp(t)> = <vjp(c), t>, both match differences where smooth, ` +
      `and the jvp graph on ${device ?? 'no device'} matches the reference in one case of ${jvpEvery}`,
    async () => {
      const tally: JvpTally = { cases: 0, checked: 0, crashes: 0, mismatches: 0, skipped: new Map(), differences: new Map(), secondOrder: new Map(), device: new Map(), ops: new Map(), shrinking: false };
      jvpTally = tally;
      await fuzz(validCaseArb, jvpRuns, tally, async (c) => {
        const outcome = await runJvpCase(c, device !== null && c.feeds.seed % jvpEvery === 0 ? device : null);
        if (!tally.shrinking) recordJvp(tally, outcome);
      });
    },
    Math.max(120_000, jvpRuns * (collectAll ? 20_000 : 1_000)),
  );
});
