/**
 * `npm start -- --model neocognitron` (examples/train-lenet.ts): the flags it
 * takes and refuses, and a small run that writes its pictures and its
 * checkpoint, on MNIST and on Fashion-MNIST.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseFlags } from '../../examples/train-lenet.js';
import { UsageError } from '../../examples/lib/cli.js';
import { NEOCOGNITRON_SETUP } from '../../examples/lib/zoo-config.js';
import { root, runScript, type ScriptRun } from './script.js';

const script = join(root, 'examples/train-lenet.ts');

const cli = (args: string[]): Promise<ScriptRun> => runScript(script, args, 170_000);

const hasFashion = (() => {
  try {
    createRequire(import.meta.url).resolve('fashion-mnist/package.json');
    return true;
  } catch {
    return false;
  }
})();

describe('--model neocognitron flags', () => {
  it('takes its defaults from NEOCOGNITRON_SETUP, with webasm unless --backend says otherwise', () => {
    const c = parseFlags(['--model', 'neocognitron'])!;
    expect(c).toMatchObject({ model: 'neocognitron', dataset: 'mnist', epochs: NEOCOGNITRON_SETUP.epochs, batchSize: NEOCOGNITRON_SETUP.batchSize, backend: 'webasm', seed: 1 });
    expect(parseFlags(['--model', 'neocognitron', '--dataset', 'fashion-mnist', '--epochs', '2', '--limit', '500', '--backend', 'cpu'])).toMatchObject({
      dataset: 'fashion-mnist',
      epochs: 2,
      limit: 500,
      backend: 'cpu',
    });
  });

  it('refuses the flags of gradient training, naming them', () => {
    for (const [flag, value] of [['--lr', '0.1'], ['--optimizer', 'sgd'], ['--schedule', 'constant'], ['--depth', '14'], ['--rotate', '10']]) {
      expect(() => parseFlags(['--model', 'neocognitron', flag, value])).toThrow(UsageError);
      expect(() => parseFlags(['--model', 'neocognitron', flag, value])).toThrow(`${flag} does not apply to --model neocognitron`);
    }
    expect(() => parseFlags(['--model', 'neocognitron', '--augment'])).toThrow('--augment does not apply');
    expect(() => parseFlags(['--model', 'neocognitron', '--limit', '100', '--batch-size', '200'])).toThrow(/--batch-size 200 is more than the 100/);
    expect(() => parseFlags(['--model', 'neocognitron', '--limit-test', '10001'])).toThrow(/--limit-test must be an integer from 1 to 10000/);
  });
});

describe('--model neocognitron run', () => {
  for (const dataset of ['mnist', 'fashion-mnist'] as const) {
    it.skipIf(dataset === 'fashion-mnist' && !hasFashion)(`trains on ${dataset} and writes its pictures and checkpoint`, async () => {
      const out = await mkdtemp(join(tmpdir(), 'striate-neo-'));
      try {
        const r = await cli(['--model', 'neocognitron', '--dataset', dataset, '--limit', '300', '--limit-test', '100', '--out', out, '--json']);
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
        const summary = lines.find((l) => l.type === 'summary');
        // Chance is 10%.
        expect(summary.testAccuracy).toBeGreaterThan(0.3);
        expect(lines.filter((l) => l.type === 'stage').length).toBe(NEOCOGNITRON_SETUP.stages.length);
        // A pass per classifierPasses, fewer if one adds nothing.
        const passes = lines.filter((l) => l.type === 'classifier');
        expect(passes.length).toBeGreaterThanOrEqual(1);
        expect(passes.length).toBeLessThanOrEqual(NEOCOGNITRON_SETUP.classifierPasses);
        expect(passes.at(-1).references).toBe(summary.references);
        for (const f of ['neocognitron-planes.png', 'neocognitron-winners.png', 'neocognitron-planes.svg', 'neocognitron-winners.svg']) {
          expect((await stat(join(out, f))).size).toBeGreaterThan(1000);
        }
        const png = await readFile(join(out, 'neocognitron-planes.png'));
        expect(png.subarray(1, 4).toString()).toBe('PNG');
        expect((await stat(join(out, 'neocognitron'))).isDirectory()).toBe(true);
      } finally {
        await rm(out, { recursive: true, force: true });
      }
    }, 180_000);
  }
});
