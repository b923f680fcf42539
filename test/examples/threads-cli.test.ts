/**
 * `npm start -- --threads N|auto`: how many threads share each training step
 * (data-parallel, src/backend/parallel.ts). threadPlan decides from the
 * backend given, what auto chose, the batch size and the cores; a count the
 * backend cannot take is refused; a tiny run on two threads trains, says so,
 * and records the count in its checkpoint.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from 'striate/node';
import { parseFlags } from '../../examples/train-lenet.js';
import { AUTO_THREADS_MAX, UsageError, threadPlan } from '../../examples/lib/cli.js';
import { root, runScript } from './script.js';

const script = join(root, 'examples/train-lenet.ts');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'striate-threads-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('npm start --threads', () => {
  it('parses a count or auto, the default', () => {
    expect(parseFlags([])!.threads).toBe('auto');
    expect(parseFlags(['--threads', 'auto'])!.threads).toBe('auto');
    expect(parseFlags(['--threads', '3'])!.threads).toBe(3);
    for (const bad of ['0', '65', '1.5', 'two', '']) {
      expect(() => parseFlags(['--threads', bad])).toThrow(UsageError);
    }
    expect(() => parseFlags(['--threads', '0'])).toThrow(/--threads must be an integer from 1 to 64 \(or auto\), got "0"/);
    expect(() => parseFlags(['--model', 'neocognitron', '--threads', '2'])).toThrow(/--threads does not apply to --model neocognitron/);
  });

  it.each([
    // given, chosen, flag, batch, cores -> backend, threads
    ['auto', 'webasm', 'auto', 64, 2, 'webasm', 2],
    ['auto', 'webasm-threads', 'auto', 64, 2, 'webasm', 2],
    ['auto', 'webasm', 'auto', 64, 16, 'webasm', AUTO_THREADS_MAX],
    ['auto', 'webasm', 'auto', 64, 3, 'webasm', 2],
    ['auto', 'webasm', 'auto', 63, 2, 'webasm', 1],
    ['auto', 'webasm', 'auto', 64, 1, 'webasm', 1],
    ['auto', 'headlessgl', 'auto', 64, 8, 'headlessgl', 1],
    ['auto', 'webgpu', 'auto', 64, 8, 'webgpu', 1],
    ['webasm', 'webasm', 'auto', 64, 2, 'webasm', 2],
    ['cpu', 'cpu', 'auto', 64, 2, 'cpu', 2],
    ['webasm-threads', 'webasm-threads', 'auto', 64, 2, 'webasm-threads', 1],
    ['reference', 'reference', 'auto', 64, 2, 'reference', 1],
    ['auto', 'headlessgl', 3, 63, 2, 'webasm', 3],
    ['cpu', 'cpu', 2, 64, 1, 'cpu', 2],
    ['headlessgl', 'headlessgl', 1, 64, 8, 'headlessgl', 1],
  ] as const)('--backend %s (%s) --threads %s, batch %i, %i cores: %s on %i', (given, chosen, flag, batch, cores, backend, threads) => {
    expect(threadPlan(given, chosen, flag, batch, cores)).toMatchObject({ backend, threads });
  });

  it('auto keeps one thread for a model with batch normalisation; a count given is a count', () => {
    expect(threadPlan('auto', 'webasm', 'auto', 64, 2, true)).toMatchObject({ backend: 'webasm', threads: 1, why: '--threads auto: one thread for a model with batch normalisation' });
    expect(threadPlan('webasm', 'webasm', 2, 64, 2, true)).toMatchObject({ backend: 'webasm', threads: 2 });
  });

  it('auto leaves a core to an augmentation worker; a count given is a count', () => {
    expect(threadPlan('auto', 'webasm', 'auto', 128, 2, false, 1)).toMatchObject({ threads: 1, why: '--threads auto: one thread (2 cores here, 1 taken by augmentation)' });
    expect(threadPlan('auto', 'webasm', 'auto', 128, 4, false, 1)).toMatchObject({ backend: 'webasm', threads: 2, why: '--threads auto: 2 of the 4 cores here, 1 taken by augmentation' });
    expect(threadPlan('webasm', 'webasm', 2, 128, 2, false, 1)).toMatchObject({ threads: 2 });
  });

  it('refuses a count the backend or the batch cannot take', () => {
    expect(() => threadPlan('webasm-threads', 'webasm-threads', 2, 64, 2)).toThrow(/--threads 2 trains on webasm or cpu, one pipeline a thread; --backend webasm-threads cannot/);
    expect(() => threadPlan('headlessgl', 'headlessgl', 2, 64, 2)).toThrow(UsageError);
    expect(() => threadPlan('webasm', 'webasm', 3, 64, 2)).toThrow(/--threads 3 must divide the batch size 64/);
  });

  it('a tiny run on two threads says so and records it', async () => {
    const out = join(dir, 'two');
    const r = await runScript(script, ['--backend', 'webasm', '--threads', '2', '--limit', '256', '--limit-test', '100', '--epochs', '1', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('backend webasm; training on webasm in 2 threads, each on 64 images of a batch (--threads 2)');
    expect(r.stdout).toMatch(/done: test accuracy \d+\.\d\d% after 1 epoch/);
    expect((await loadCheckpoint(join(out, 'checkpoint'))).meta).toMatchObject({ backend: 'webasm', threads: 2, epoch: 1, step: 2 });
  });

  it('refuses --threads 2 on a backend that cannot take it, before training', async () => {
    const r = await runScript(script, ['--backend', 'webasm-threads', '--threads', '2', '--limit', '256', '--epochs', '1', '--out', join(dir, 'refused')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--threads 2 trains on webasm or cpu');
    expect(r.stdout).not.toContain('training on');
  });
});
