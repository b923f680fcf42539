/**
 * The kill test: a child process saves checkpoints in a loop and is killed
 * with SIGKILL at random moments, many times; after every kill, loading the
 * directory must give the save that was complete before the kill or the one
 * under way, whole (every value checked), never an error and never a mix.
 * STRIATE_KILL_RUNS=N sets the number of kills (default 40).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../src/data/random.js';
import { listCheckpoints, loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';
import { killContents } from './fixtures/kill-contents.js';

const RUNS = Number(process.env.STRIATE_KILL_RUNS ?? 40);
const SEED = Number(process.env.STRIATE_KILL_SEED ?? 19);

let work: string;
let child: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'striate-kill-'));
  // One bundle, so each child starts in a fraction of the time tsx takes.
  child = join(work, 'save-loop.mjs');
  await build({ entryPoints: [resolve(import.meta.dirname, 'fixtures/save-loop.ts')], bundle: true, platform: 'node', format: 'esm', outfile: child, logLevel: 'error' });
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Run the save loop from save `first`, SIGKILL it `delayMs` after its first save starts; the last saves it started and finished (-1: none). */
function saveUntilKilled(dir: string, first: number, delayMs: number): Promise<{ started: number; done: number }> {
  return new Promise((done, reject) => {
    const proc = spawn(process.execPath, [child, dir, String(first)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    proc.stdout.on('data', (chunk: Buffer) => {
      out += chunk;
      if (timer === undefined && out.includes('start')) timer = setTimeout(() => proc.kill('SIGKILL'), delayMs);
    });
    proc.stderr.on('data', (chunk: Buffer) => (err += chunk));
    proc.on('error', reject);
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') return reject(new Error(`the save loop ended with code ${code} before it was killed:\n${err}`));
      const last = (word: string): number => Math.max(-1, ...[...out.matchAll(new RegExp(`^${word} (\\d+)$`, 'gm'))].map((m) => Number(m[1])));
      done({ started: last('start'), done: last('done') });
    });
  });
}

/** The save `loadCheckpoint(dir)` gives, checked whole against `killContents`; throws on any mismatch. */
async function loadWhole(dir: string): Promise<number> {
  const loaded = await loadCheckpoint(dir);
  const i = (loaded.meta as { i: number }).i;
  const want = killContents(i);
  const groups = [
    [loaded.params, want.params],
    [loaded.optimizer, want.optimizer!],
  ] as const;
  for (const [got, expected] of groups) {
    expect(Object.keys(got)).toEqual(Object.keys(expected));
    for (const [name, t] of Object.entries(expected)) {
      expect(got[name].shape, `save ${i}: ${name}`).toEqual(t.shape);
      const wrong = got[name].data.findIndex((v, k) => v !== t.data[k]);
      expect(wrong, `save ${i}: ${name} differs at ${wrong}`).toBe(-1);
    }
  }
  return i;
}

describe('checkpoints under SIGKILL', () => {
  it(`a save killed at random ${RUNS} times always leaves the old or the new checkpoint, whole`, async () => {
    const dir = join(work, 'checkpoint');
    await saveCheckpoint(dir, killContents(0));
    const rng = createRng(SEED);
    const counts = { kills: 0, midSave: 0, loadsOld: 0, loadsNew: 0, errors: 0 };
    const errors: string[] = [];
    let next = 1;
    let current = 0;
    for (let run = 0; run < RUNS; run++) {
      // Up to about five saves' time: kills land in every phase of a save, the first included.
      const { started, done } = await saveUntilKilled(dir, next, rng.next() * 60);
      counts.kills++;
      const old = Math.max(current, done);
      if (started > old) counts.midSave++;
      try {
        const i = await loadWhole(dir);
        if (i === old) counts.loadsOld++;
        else if (i === started) counts.loadsNew++;
        else throw new Error(`loaded save ${i}, but the last complete one was ${old} and the one under way ${started}`);
        current = i;
      } catch (err) {
        counts.errors++;
        errors.push(`kill ${run + 1}: ${(err as Error).message}`);
      }
      next = started + 1;
    }
    console.log(`kill test: ${JSON.stringify(counts)}`);
    expect(errors).toEqual([]);
    expect(counts.loadsOld + counts.loadsNew).toBe(RUNS);
    expect(counts.midSave).toBeGreaterThan(RUNS / 2); // the kills did land during saves

    // The next save removes whatever the killed ones left.
    const last = await saveCheckpoint(dir, killContents(next));
    expect(await loadWhole(dir)).toBe(next);
    const prev = (await listCheckpoints(dir))[1];
    expect((await readdir(dir)).sort()).toEqual(
      [prev, last.save!].flatMap((n) => [`manifest-${String(n).padStart(6, '0')}.json`, `weights-${String(n).padStart(6, '0')}.bin`]).concat('manifest.json').sort(),
    );
  });
});
