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
 * STRIATE_FUZZ_RUNS=N runs N cases per backend (default 300);
 * STRIATE_FUZZ_BACKENDS=cpu,webasm,... picks the backends (default cpu);
 * STRIATE_FUZZ_SEED (and STRIATE_FUZZ_PATH) replay the run fast-check
 * printed with a failure; STRIATE_FUZZ_ALL=1 goes on past the first
 * failure and prints one shrunk case of every distinct failure.
 */
import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { disableNodeWebGPU, releaseIdleGpus } from 'striate';
import { backendStatuses, unavailableBackendTest } from '../backend/backends.js';
import { FuzzFailure, runCase, type Outcome } from './check.js';
import { caseArb } from './graphs.js';

const runs = Number(process.env.STRIATE_FUZZ_RUNS ?? 300);
const backends = (process.env.STRIATE_FUZZ_BACKENDS ?? 'cpu')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
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

const tallies = new Map<string, Tally>();

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

const statuses = (await backendStatuses()).filter((s) => backends.includes(s.backend));

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
      /** The failures found so far by signature, with fast-check's report (STRIATE_FUZZ_ALL). */
      const found = new Map<string, string>();
      const property = fc.asyncProperty(caseArb, async (c) => {
        // Most of a case runs synchronously (the reference, gpu.js's CPU mode): let vitest's worker answer its calls in between.
        await new Promise((resolve) => setImmediate(resolve));
        try {
          const outcome = await runCase(c, backend);
          if (!tally.shrinking) record(tally, outcome);
        } catch (e) {
          if (!tally.shrinking) {
            tally.cases++;
            if (e instanceof FuzzFailure && e.kind === 'mismatch') tally.mismatches++;
            else tally.crashes++;
          }
          if (e instanceof FuzzFailure && found.has(e.signature)) return;
          tally.shrinking = true;
          throw e;
        }
      });
      if (!collectAll) return void (await fc.assert(property, { numRuns: runs, ...replay }));
      // Every distinct failure: rerun until a run of `runs` cases finds no new signature.
      for (let round = 0; round < MAX_ROUNDS; round++) {
        tally.shrinking = false;
        const result = await fc.check(property, { numRuns: runs });
        if (!result.failed) break;
        const e = result.errorInstance;
        const message = e instanceof Error ? e.message.split('\n--- case:')[0] : String(e);
        found.set(e instanceof FuzzFailure ? e.signature : `harness: ${message}`, `${fc.defaultReportMessage(result) ?? ''}\n${message}`);
      }
      for (const [signature, report] of found) console.log(`=== ${signature}\n${report}`);
      if (found.size > 0) throw new Error(`${found.size} distinct failures, printed above`);
    },
    Math.max(120_000, runs * (collectAll ? 20_000 : 1_000)),
  );
});
