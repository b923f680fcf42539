/**
 * Does `'auto'` pick a backend within 10% of the fastest here? Measures the
 * truth once in this process: the bench's LeNet-5 training step (batch 64,
 * forward, backward, SGD update) on every backend auto considers, in
 * interleaved rounds of about a second each, the median kept. Then starts
 * `--runs` fresh processes, each of which resolves 'auto' (its own probe) and
 * prints its choice, and says for each run whether the choice trains within
 * 10% of the fastest.
 *
 *   npx tsx bench/auto.ts [--runs 10] [--rounds 3]
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { autoBackendReport, resolveAutoBackend, type BackendName } from '../src/index.js';
import { initParams, makeBatch } from './lib/lenet.js';
import { striateTrainer } from './lib/striate.js';

const argv = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`bench/auto: --${name} must be a whole number >= 1`);
  return v;
};

if (argv.includes('--child')) {
  // One fresh process: auto's probe and its choice, as one JSON line.
  const report = await autoBackendReport();
  console.log(JSON.stringify({ chosen: await resolveAutoBackend(), report }));
  process.exit(0);
}

const runs = flag('runs', 10);
const rounds = flag('rounds', 3);
const report = await autoBackendReport();
const candidates = report.filter((c) => c.msPerStep !== null).map((c) => c.backend as BackendName);
console.log(`candidates here: ${candidates.join(', ')}; not measured: ${report.filter((c) => c.msPerStep === null).map((c) => c.backend).join(', ')}`);

const batch = makeBatch(64, 7);
const trainers = candidates.map((b) => striateTrainer(b, 64, initParams(1)));
for (const t of trainers) for (let i = 0; i < 3; i++) await t.trainStep(batch.x, batch.labels);
const rates = new Map<string, number[]>(candidates.map((b) => [b, []]));
for (let r = 0; r < rounds; r++) {
  for (const [k, t] of trainers.entries()) {
    let n = 0;
    const start = performance.now();
    while (performance.now() - start < 1000) {
      await t.trainStep(batch.x, batch.labels);
      n++;
    }
    rates.get(candidates[k])!.push((n * 64 * 1000) / (performance.now() - start));
  }
}
await Promise.all(trainers.map((t) => t.dispose()));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const truth = new Map(candidates.map((b) => [b, median(rates.get(b)!)]));
const fastest = Math.max(...truth.values());
console.log(`training img/s, median of ${rounds} interleaved rounds: ${candidates.map((b) => `${b} ${Math.round(truth.get(b)!)}`).join(', ')}`);

const script = fileURLToPath(import.meta.url);
let good = 0;
for (let i = 1; i <= runs; i++) {
  const out = execFileSync(process.execPath, ['--import', 'tsx', script, '--child'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const { chosen, report: probe } = JSON.parse(out.trim().split('\n').at(-1)!) as { chosen: string; report: { backend: string; msPerStep: number | null }[] };
  const share = (truth.get(chosen as BackendName) ?? 0) / fastest;
  const ok = share >= 0.9;
  if (ok) good++;
  const timings = probe.filter((c) => c.msPerStep !== null).map((c) => `${c.backend} ${c.msPerStep!.toFixed(1)} ms`).join(', ');
  console.log(`run ${i}: auto chose ${chosen} (probe: ${timings}): ${(100 * share).toFixed(0)}% of the fastest ${ok ? 'ok' : 'MORE THAN 10% SLOWER'}`);
}
console.log(`auto within 10% of the fastest in ${good} of ${runs} fresh runs`);
process.exit(0);
