import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const script = join(root, 'examples/train-lenet.ts');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', script, ...args], { cwd: root, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('examples/train-lenet.ts', () => {
  it.each([
    [['--bogus'], /Unknown option '--bogus'/],
    [['--epochs', 'two'], /--epochs must be an integer >= 1, got "two"/],
    [['--epochs', '0'], /--epochs must be an integer >= 1/],
    [['--optimizer', 'rmsprop'], /--optimizer must be one of adam, sgd/],
    [['--lr', '0'], /--lr must be a number > 0/],
    [['--lr', '-1'], /Did you forget to specify the option argument for '--lr'/],
    [['--batch-size'], /argument missing|requires an argument|--batch-size/],
    [['extra'], /positional/i],
    [['--backend', 'no-such-backend'], /--backend no-such-backend: compile: unknown backend/],
  ])('%j: usage on stderr, exit code 2', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('Usage: npm start -- [options]');
    expect(r.stdout).toBe('');
  });

  it('--help prints the usage on stdout', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--limit N');
  });

  it('--json prints one event per line, the last the done event without state, and writes the outputs', async () => {
    const out = await mkdtemp(join(tmpdir(), 'striate-cli-'));
    dirs.push(out);
    // A named backend: 'auto' would probe WebGPU, whose driver (Dawn) prints warnings on stderr.
    const r = await cli(['--json', '--backend', 'cpu', '--limit', '64', '--limit-test', '50', '--epochs', '2', '--batch-size', '32', '--seed', '3', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const events = r.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(events.map((e) => e.type)).toEqual(['step', 'step', 'epoch', 'step', 'step', 'epoch', 'done']);
    const done = events.at(-1);
    expect(Object.keys(done).sort()).toEqual(['seconds', 'testAccuracy', 'type']);
    expect(done.testAccuracy).toBe(events[5].testAccuracy);
    expect(events[0]).toMatchObject({ type: 'step', epoch: 1, step: 1 });
    for (const f of ['filters.png', 'curves.png', 'checkpoint/manifest.json', 'checkpoint/weights.bin']) {
      expect((await stat(join(out, f))).size).toBeGreaterThan(0);
    }
    const manifest = JSON.parse(await readFile(join(out, 'checkpoint/manifest.json'), 'utf8'));
    expect(manifest.meta).toMatchObject({ model: 'LeNet-5', epoch: 2, step: 4, optimizer: 'adam', seed: 3 });
    expect(manifest.entries.map((e: { name: string }) => e.name)).toContain('conv1.w');
    expect(manifest.entries.map((e: { name: string }) => e.name)).toContain('m/conv1.w');
  });
});
