import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/node.js';
import { root, runScript, type ScriptRun } from '../examples/script.js';

const script = join(root, 'examples/train-lenet.ts');

const cli = (args: string[]): Promise<ScriptRun> => runScript(script, args, 60_000);

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('examples/train-lenet.ts', () => {
  it.concurrent.each([
    [['--bogus'], /Unknown option '--bogus'/],
    [['--epochs', 'two'], /--epochs must be an integer >= 1, got "two"/],
    [['--epochs', '0'], /--epochs must be an integer >= 1/],
    [['--optimizer', 'rmsprop'], /--optimizer must be one of adam, sgd/],
    [['--lr', '0'], /--lr must be a number > 0/],
    [['--lr', '-1'], /Did you forget to specify the option argument for '--lr'/],
    [['--batch-size'], /argument missing|requires an argument|--batch-size/],
    [['extra'], /positional/i],
    [['--backend', 'no-such-backend'], /--backend no-such-backend: compile: unknown backend/],
    [['--limit', '70000'], /--limit must be an integer from 1 to 60000 \(MNIST has 60000 training images\), got "70000"/],
    [['--limit-test', '10001'], /--limit-test must be an integer from 1 to 10000 \(MNIST has 10000 test images\)/],
    // Numbers are plain decimal: Number() alone would read each of these as a number.
    [['--lr', '0x10'], /--lr must be a number > 0 written in decimal \(e.g. 0.001 or 1e-3\), got "0x10"/],
    [['--lr', ' 1'], /--lr must be a number > 0 written in decimal .*, got " 1"/],
    [['--lr=+1'], /--lr must be a number > 0 written in decimal .*, got "\+1"/],
    [['--lr', ''], /--lr must be a number > 0 written in decimal .*, got ""/],
    [['--lr', 'Infinity'], /--lr must be a number > 0 written in decimal .*, got "Infinity"/],
    [['--epochs', '1.5'], /--epochs must be an integer >= 1, got "1.5"/],
    [['--batch-size', ' 8'], /--batch-size must be an integer >= 1, got " 8"/],
    [['--limit', '1e3'], /--limit must be an integer from 1 to 60000 .*, got "1e3"/],
    [['--seed=-1'], /--seed must be an integer >= 0, got "-1"/],
    // Every check comes before any output: no model summary before this one.
    [['--batch-size', '100', '--limit', '50'], /--batch-size 100 is more than the 50 training images; lower it or raise --limit/],
    // parseArgs alone keeps the last of a repeated option.
    [['--epochs', '1', '--epochs', '2'], /--epochs is given more than once; give it once/],
    [['--json', '--json'], /--json is given more than once/],
  ])('%j: usage on stderr, exit code 2', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('Usage: npm start -- [options]');
    expect(r.stdout).toBe('');
  });

  describe('an --out the run cannot write to is refused before training, naming the path and the reason', () => {
    // Paths under a regular file or under /proc fail for root too (CI runs as root, where chmod protects nothing).
    async function outDir(): Promise<string> {
      const out = await mkdtemp(join(tmpdir(), 'striate-cli-out-'));
      dirs.push(out);
      return out;
    }
    const cases: [string, (out: string) => Promise<[string, RegExp]>][] = [
      [
        'a path under a file',
        async (out) => {
          await writeFile(join(out, 'file'), '');
          return [join(out, 'file', 'run'), /--out (\S+)\/file\/run: \1\/file is a file, not a directory/];
        },
      ],
      [
        'a checkpoint that is a file',
        async (out) => {
          await writeFile(join(out, 'checkpoint'), '');
          return [out, /--out (\S+): \1\/checkpoint is a file, not a directory/];
        },
      ],
      [
        'a chart path that is a directory',
        async (out) => {
          await mkdir(join(out, 'curves.png'));
          return [out, /--out (\S+): cannot write \1\/curves.png \(it is a directory\); move it away or choose another directory/];
        },
      ],
    ];
    if (process.platform === 'linux') {
      // access() says yes to root here; only a write finds out.
      cases.push(['an existing directory that takes no files (/proc)', async () => ['/proc', /--out \/proc: cannot write \(the file system takes no new files there\)/]]);
    }
    it.concurrent.each(cases)('%s', async (_, arrange) => {
      const [out, message] = await arrange(await outDir());
      const r = await cli(['--backend', 'cpu', '--limit', '128', '--epochs', '1', '--out', out]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain('Usage: npm start -- [options]');
      expect(r.stdout).toBe('');
    });
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
    for (const f of ['filters.png', 'curves.png']) {
      expect((await stat(join(out, f))).size).toBeGreaterThan(0);
    }
    // Read through loadCheckpoint: the files inside the checkpoint directory are saveCheckpoint's business.
    const checkpoint = await loadCheckpoint(join(out, 'checkpoint'));
    expect(checkpoint.meta).toMatchObject({ model: 'LeNet-5', epoch: 2, step: 4, optimizer: 'adam', seed: 3 });
    expect(Object.keys(checkpoint.params)).toContain('conv1.w');
    expect(Object.keys(checkpoint.optimizer)).toContain('m/conv1.w');
  });
});
