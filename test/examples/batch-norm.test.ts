/**
 * `npm run batchnorm` (examples/batch-norm.ts): its flags and their
 * refusals, and a tiny run end to end: two runs of the same ResNet, with
 * and without batch norm, one chart and a JSON file with both runs' events.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBatchNormFlags, type BatchNormRun } from '../../examples/batch-norm.js';
import { UsageError } from '../../examples/lib/cli.js';
import { root, runScript, type ScriptRun } from './script.js';

const script = join(root, 'examples/batch-norm.ts');

const cli = (args: string[]): Promise<ScriptRun> => runScript(script, args);

function refusal(args: string[]): string {
  try {
    parseBatchNormFlags(args);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`parseBatchNormFlags accepted ${JSON.stringify(args)}`);
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'striate-batchnorm-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('npm run batchnorm', () => {
  it('has defaults that show the point (SGD at 0.5, ResNet-8, 10,000 images) and takes its flags', () => {
    expect(parseBatchNormFlags([])).toEqual({ depth: 8, lr: 0.5, optimizer: 'sgd', epochs: 2, batchSize: 128, limit: 10000, backend: 'webasm', seed: 1, out: 'runs/batch-norm' });
    expect(parseBatchNormFlags(['--depth', '20', '--lr', '0.05', '--optimizer', 'adam', '--limit-test', '500'])).toMatchObject({ depth: 20, lr: 0.05, optimizer: 'adam', limitTest: 500 });
    expect(parseBatchNormFlags(['--help'])).toBeNull();
  });

  it('refuses bad values with the usual messages', () => {
    expect(refusal(['--depth', '10'])).toMatch(/--depth must be 6n \+ 2/);
    expect(refusal(['--depth', '2'])).toMatch(/--depth/);
    expect(refusal(['--lr', '0'])).toMatch(/--lr/);
    expect(refusal(['--optimizer', 'rmsprop'])).toMatch(/--optimizer/);
    expect(refusal(['--limit', '70000'])).toMatch(/MNIST has 60000 training images/);
    expect(refusal(['--batch-size', '1'])).toMatch(/--batch-size/);
    expect(refusal(['--frobnicate'])).toMatch(/frobnicate/);
  });

  it('trains the same ResNet with and without batch norm and writes one chart and both runs', async () => {
    const out = join(dir, 'bn');
    const r = await cli(['--limit', '256', '--limit-test', '200', '--epochs', '1', '--batch-size', '64', '--out', out]);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/with batch norm +ResNet-8: 4 steps/);
    expect(r.stdout).toMatch(/without batch norm +ResNet-8 \(no batch norm\): 4 steps/);
    for (const f of ['batch-norm.png', 'batch-norm.svg']) expect((await stat(join(out, f))).size).toBeGreaterThan(1000);
    const json = JSON.parse(await readFile(join(out, 'batch-norm.json'), 'utf8')) as { runs: BatchNormRun[] };
    expect(json.runs.map((x) => [x.label, x.batchNorm, x.steps])).toEqual([
      ['with batch norm', true, 4],
      ['without batch norm', false, 4],
    ]);
    for (const run of json.runs) {
      expect(run.events.filter((e) => e.type === 'step')).toHaveLength(4);
      expect(run.testAccuracy).toBeGreaterThanOrEqual(0);
    }
    // The same seed and data, different networks: the first losses differ.
    const first = json.runs.map((x) => (x.events[0] as { loss: number }).loss);
    expect(first[0]).not.toBe(first[1]);
    const usage = await cli(['--epochs', 'x']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^batchnorm: --epochs/);
  }, 120_000);
});
