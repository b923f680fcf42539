/**
 * `npm run zoo` (examples/zoo.ts): its flags, and tiny zoos run as a user
 * runs them (64 training and 64 test images, one epoch, webasm): the table,
 * the JSON rows and the chart; a run that diverges as a failed row rather
 * than a crash; a time budget; and an interrupted zoo that keeps its
 * finished rows. Each run takes seconds; no timing is asserted beyond the
 * budget itself.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { summary } from 'striate';
import { UsageError } from '../../examples/lib/cli.js';
import { MODELS, MODEL_NAMES, buildChosen } from '../../examples/lib/zoo-config.js';
import { parseZooFlags, planFor, zooMarkdown, type ZooReport, type ZooRow } from '../../examples/zoo.js';
import { root, runScript, type ScriptRun } from './script.js';

const script = join(root, 'examples/zoo.ts');

const zoo = (args: string[]): Promise<ScriptRun> => runScript(script, args);

/** The UsageError message parseZooFlags throws for `args`. */
function refusal(args: string[]): string {
  try {
    parseZooFlags(args);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`parseZooFlags accepted ${JSON.stringify(args)}`);
}

/** The table of zoo.md, the header first, each row split into its cells (the |---| line left out). */
function tableRows(md: string): string[][] {
  return md
    .split('\n')
    .filter((l) => l.startsWith('| '))
    .map((l) => l.slice(2, -2).split(/(?<!\\) \| /));
}

const tiny = ['--datasets', 'mnist', '--limit', '64', '--limit-test', '64', '--batch-size', '32', '--backend', 'webasm'];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'striate-zoo-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('npm run zoo: flags', () => {
  it('defaults: every model on both data sets, each at its own epochs, into runs/zoo', () => {
    expect(parseZooFlags([])).toMatchObject({
      models: [...MODEL_NAMES],
      datasets: ['mnist', 'fashion-mnist'],
      epochs: undefined,
      minutes: undefined,
      optimizer: 'adam',
      seed: 1,
      out: 'runs/zoo',
    });
    expect(parseZooFlags(['--models', 'resnet, lenet5', '--datasets', 'fashion-mnist', '--minutes', '2.5'])).toMatchObject({
      models: ['resnet', 'lenet5'],
      datasets: ['fashion-mnist'],
      minutes: 2.5,
    });
  });

  it.each([
    [['--models', 'lenet5,lenet6'], '--models: "lenet6" is not one of lenet5, alexnet, vgg, nin, inception, resnet'],
    [['--models', 'lenet5,,resnet'], '--models must be a comma-separated list of lenet5, alexnet, vgg, nin, inception, resnet, got "lenet5,,resnet"'],
    [['--models', 'vgg,vgg'], '--models names vgg twice; name it once'],
    [['--datasets', 'cifar10'], '--datasets: "cifar10" is not one of mnist, fashion-mnist'],
    [['--epochs', '2', '--minutes', '1'], 'give --epochs or --minutes, not both'],
    [['--minutes', '0'], '--minutes must be a number > 0 written in decimal (e.g. 0.001 or 1e-3), got "0"'],
    [['--datasets', 'fashion-mnist', '--limit', '70000'], '--limit must be an integer from 1 to 60000 (Fashion-MNIST has 60000 training images), got "70000"'],
    [['--models', 'lenet5,resnet', '--limit', '100'], '--batch-size 128 (the default of lenet5) is more than the 100 training images; lower it with --batch-size or raise --limit'],
    // The zoo trains each model at the builders' defaults: no knobs.
    [['--depth', '8'], /^Unknown option '--depth'/],
    [['--threads', '0'], '--threads must be an integer from 1 to 64 (or auto), got "0"'],
  ])('%j is refused: %s', (args, message) => {
    if (typeof message === 'string') expect(refusal(args)).toBe(message);
    else expect(refusal(args)).toMatch(message);
  });

  it('--augment: each data set gets its own --augment pipeline, and a strength flag changes its part of each', () => {
    const both = parseZooFlags(['--augment'])!.augment!;
    expect(both.mnist).toMatchObject({ rotate: 10, elasticAlpha: 34, flip: 0 });
    expect(both['fashion-mnist']).toMatchObject({ rotate: 10, elasticAlpha: 0, flip: 0.5 });
    expect(parseZooFlags(['--datasets', 'mnist', '--rotate', '5'])!.augment).toEqual({ mnist: expect.objectContaining({ rotate: 5, shift: 2 }) });
    expect(parseZooFlags([])!.augment).toBeUndefined();
    expect(refusal(['--flip', '2'])).toMatch(/^--flip must be a probability from 0 to 1/);
  });

  it('--threads: a count, or auto; planFor decides per model as npm start does', () => {
    expect(parseZooFlags([])!.threads).toBe('auto');
    const two = parseZooFlags(['--threads', '2', '--backend', 'webasm'])!;
    expect(planFor(buildChosen('lenet5', 'mnist', {}), two, 128)).toMatchObject({ backend: 'webasm', threads: 2 });
    // A count given applies to a batch-norm model too; auto would keep it on one thread.
    expect(planFor(buildChosen('resnet', 'mnist', {}), two, 128)).toMatchObject({ backend: 'webasm', threads: 2 });
    expect(planFor(buildChosen('resnet', 'mnist', {}), { ...two, threads: 'auto' }, 128)).toMatchObject({ threads: 1 });
    expect(() => planFor(buildChosen('lenet5', 'mnist', {}), { ...two, threads: 3 }, 128)).toThrow(/--threads 3 must divide the batch size 128/);
  });

  it('a --threads count that a model cannot take is refused before any run', async () => {
    const out = join(dir, 'threads-refused');
    const r = await zoo(['--models', 'lenet5', '--threads', '2', '--backend', 'webasm-threads', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--threads 2 trains on webasm or cpu');
    await expect(readFile(join(out, 'zoo.md'), 'utf8')).rejects.toThrow(/ENOENT/);
  });

  it('a usage error goes to stderr with the usage, exit code 2, and nothing is written', async () => {
    const out = join(dir, 'refused');
    const r = await zoo(['--models', 'lenet6', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr.startsWith('zoo: --models: "lenet6" is not one of')).toBe(true);
    expect(r.stderr).toContain('Usage: npm run zoo -- [options]');
    expect(r.stdout).toBe('');
    await expect(readFile(join(out, 'zoo.md'), 'utf8')).rejects.toThrow(/ENOENT/);
  });

  it('zoo.md: a failed row says why in one cell, its pipes escaped', () => {
    const row = (status: 'ok' | 'failed', error?: string): ZooRow => ({
      status,
      ...(error ? { error } : {}),
      model: 'lenet5',
      modelName: 'LeNet-5',
      dataset: 'mnist',
      datasetName: 'MNIST',
      testAccuracy: status === 'ok' ? 0.9876 : null,
      testLoss: status === 'ok' ? 0.05 : null,
      testImages: 10000,
      trainImages: 60000,
      params: 44426,
      multiplyAdds: 281640,
      imagesPerSecond: status === 'ok' ? 1234.4 : null,
      wallSeconds: 187.4,
      epochs: 10,
      steps: 9370,
      lr: 0.001,
      batchSize: 64,
      optimizer: 'adam',
      seed: 1,
      backend: 'webasm',
      cpu: 'Some CPU',
    });
    const report: ZooReport = {
      command: 'npm run zoo',
      started: '2026-01-01T00:00:00.000Z',
      budget: "each model's default epochs",
      training: 'adam with cosine decay, backend webasm',
      machine: { cpu: 'Some CPU', cores: 2, node: 'v20' },
      rows: [row('ok'), row('failed', 'a | b\nc')],
    };
    const rows = tableRows(zooMarkdown(report));
    expect(rows[1]).toEqual(['LeNet-5', 'MNIST', '98.76%', '44,426', '281,640', '1,234', '3 min 07 s', '10', '0.001', '64', '1', 'webasm', 'Some CPU']);
    expect(rows[2][2]).toBe('failed: a \\| b c');
    expect(rows[2][5]).toBe('n/a');
    expect(rows[2]).toHaveLength(13);
  });
});

describe('npm run zoo: tiny runs', () => {
  it('two models on MNIST for one epoch: zoo.md, zoo.json and zoo.png, one row each', async () => {
    const out = join(dir, 'two');
    const args = ['--models', 'lenet5,resnet', ...tiny, '--epochs', '1', '--out', out];
    const r = await zoo(args);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const md = await readFile(join(out, 'zoo.md'), 'utf8');
    expect(md).toContain(`Command: \`npm run zoo -- ${args.join(' ')}\``);
    const rows = tableRows(md);
    expect(rows[0]).toEqual(['model', 'data set', 'test accuracy', 'parameters', 'multiply-adds / image', 'training images/s', 'wall time', 'epochs', 'lr', 'batch size', 'seed', 'backend', 'machine']);
    expect(rows.slice(1).map((c) => c.slice(0, 2))).toEqual([
      ['LeNet-5', 'MNIST'],
      ['ResNet-8', 'MNIST'],
    ]);
    const report = JSON.parse(await readFile(join(out, 'zoo.json'), 'utf8')) as ZooReport;
    expect(report.command).toBe(`npm run zoo -- ${args.join(' ')}`);
    expect(report.rows).toHaveLength(2);
    for (const [i, name] of (['lenet5', 'resnet'] as const).entries()) {
      const row = report.rows[i];
      const s = summary(buildChosen(name, 'mnist', {}));
      // --threads auto: LeNet-5 on every core up to 4 that divides the batch of 32; ResNet (batch norm) on one.
      const cores = Math.min(availableParallelism(), 4) === 3 ? 2 : Math.min(availableParallelism(), 4);
      const backend = name === 'resnet' || cores < 2 ? 'webasm' : `webasm×${cores}`;
      expect(row).toMatchObject({ status: 'ok', model: name, dataset: 'mnist', testImages: 64, trainImages: 64, epochs: 1, steps: 2, batchSize: 32, lr: MODELS[name].defaults.lr.adam, seed: 1, backend });
      expect([row.params, row.multiplyAdds]).toEqual([s.totalParams, s.totalMultiplyAdds]);
      expect(row.testAccuracy).toBeGreaterThanOrEqual(0);
      expect(row.testAccuracy).toBeLessThanOrEqual(1);
      expect(row.imagesPerSecond).toBeGreaterThan(0);
      expect(row.wallSeconds).toBeGreaterThan(0);
      // The md row says what the JSON row holds.
      expect(rows[i + 1].slice(2, 6)).toEqual([`${(100 * row.testAccuracy!).toFixed(2)}%`, s.totalParams.toLocaleString('en-US'), s.totalMultiplyAdds.toLocaleString('en-US'), Math.round(row.imagesPerSecond!).toLocaleString('en-US')]);
    }
    const png = await readFile(join(out, 'zoo.png'));
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const svg = await readFile(join(out, 'zoo.svg'), 'utf8');
    for (const text of ['Model zoo: test accuracy against cost', 'LeNet-5', 'ResNet-8', 'multiply-adds per image (log scale)']) expect(svg).toContain(`>${text}</text>`);
  });

  it('--augment: the runs train on distorted images, and the table says how', async () => {
    const plain = join(dir, 'plain');
    const distorted = join(dir, 'augmented');
    const common = ['--models', 'lenet5', ...tiny, '--epochs', '1'];
    const [a, b] = await Promise.all([zoo([...common, '--out', plain]), zoo([...common, '--augment', '--elastic-alpha', '0', '--out', distorted])]);
    expect([a.code, b.code, a.stderr, b.stderr]).toEqual([0, 0, '', '']);
    const [p, q] = await Promise.all([plain, distorted].map(async (d) => JSON.parse(await readFile(join(d, 'zoo.json'), 'utf8')) as ZooReport));
    expect(p.training).not.toContain('augmented');
    expect(q.training).toContain('augmented (MNIST: rotate ±10°');
    expect(await readFile(join(distorted, 'zoo.md'), 'utf8')).toContain('augmented (MNIST: rotate ±10°');
    // The same seed and steps: only the images differ.
    expect(q.rows[0].testLoss).not.toBe(p.rows[0].testLoss);
  });

  it('a run whose loss becomes NaN is a failed row with the error; the zoo writes the table and exits with code 1', async () => {
    const out = join(dir, 'diverged');
    const r = await zoo(['--models', 'lenet5', ...tiny, '--epochs', '1', '--optimizer', 'sgd', '--lr', '1e30', '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('1 of 1 run(s) failed');
    const report = JSON.parse(await readFile(join(out, 'zoo.json'), 'utf8')) as ZooReport;
    expect(report.rows).toHaveLength(1);
    expect(report.rows[0]).toMatchObject({ status: 'failed', testAccuracy: null, lr: 1e30 });
    expect(report.rows[0].error).toMatch(/^train: (loss|parameter "[\w.]+") became (NaN|-?Infinity) at epoch 1, step \d/);
    const rows = tableRows(await readFile(join(out, 'zoo.md'), 'utf8'));
    expect(rows[1][2]).toBe(`failed: ${report.rows[0].error}`);
    expect([...(await readFile(join(out, 'zoo.png'))).subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
  });

  it('--minutes: the run trains until the time is up, whatever the epochs, and reports the epochs as a fraction', async () => {
    const out = join(dir, 'minutes');
    const r = await zoo(['--models', 'lenet5', ...tiny, '--minutes', '0.03', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [row] = (JSON.parse(await readFile(join(out, 'zoo.json'), 'utf8')) as ZooReport).rows;
    expect(row.status).toBe('ok');
    expect(row.wallSeconds).toBeGreaterThanOrEqual(1.8);
    expect(row.steps).toBeGreaterThan(0);
    expect(row.epochs).toBe(Math.round((100 * row.steps) / 2) / 100); // 2 steps an epoch
  });

  it('interrupted (SIGINT) after the first run, the zoo keeps that row and exits with code 130', async () => {
    const out = join(dir, 'interrupted');
    const child = spawn(process.execPath, ['--import', 'tsx', script, '--models', 'lenet5,resnet', ...tiny, '--epochs', '20', '--out', out], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Wait for the second run to start, then interrupt it.
    await new Promise<void>((resolve) =>
      child.stdout!.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('[2/2] resnet')) resolve();
      }),
    );
    child.kill('SIGINT');
    expect(await exit).toBe(130);
    expect(stderr).toContain(`interrupted; ${join(out, 'zoo.md')} keeps the 1 finished run(s)`);
    const report = JSON.parse(await readFile(join(out, 'zoo.json'), 'utf8')) as ZooReport;
    expect(report.rows.map((row) => [row.model, row.status])).toEqual([['lenet5', 'ok']]);
    expect(tableRows(await readFile(join(out, 'zoo.md'), 'utf8'))).toHaveLength(2); // the header and lenet5's
  });
});
