/**
 * `npm start -- --model ... --dataset ...` (examples/train-lenet.ts with the
 * tables of examples/lib/zoo-config.ts): every model on every data set is
 * accepted with its own defaults, flags override them, a model-specific flag
 * is refused for a model it does not apply to, the filter chart finds each
 * model's first convolution, and a tiny ResNet run, end to end, writes its
 * checkpoint (batch-norm statistics included) and charts.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filterGridSpec, initParams, paramShapes, statShapes, summary } from 'striate';
import { loadCheckpoint } from 'striate/node';
import { parseFlags } from '../../examples/train-lenet.js';
import { UsageError } from '../../examples/lib/cli.js';
import { DATASETS, DATASET_NAMES, MODELS, MODEL_NAMES, buildChosen, firstConvFilters } from '../../examples/lib/zoo-config.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const script = join(root, 'examples/train-lenet.ts');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', script, ...args], { cwd: root, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** The UsageError message parseFlags throws for `args`. */
function refusal(args: string[]): string {
  try {
    parseFlags(args);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`parseFlags accepted ${JSON.stringify(args)}`);
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'striate-zoo-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('npm start --model / --dataset: parsing', () => {
  it("with no flags, LeNet-5 on MNIST at the defaults npm start always had", () => {
    expect(parseFlags([])).toEqual({
      model: 'lenet5',
      dataset: 'mnist',
      knobs: {},
      epochs: 10,
      batchSize: 64,
      lr: 1e-3,
      optimizer: 'adam',
      schedule: 'cosine',
      backend: 'auto',
      seed: 1,
      out: './out',
      limit: undefined,
      limitTest: undefined,
      json: false,
    });
    expect(parseFlags(['--optimizer', 'sgd'])!.lr).toBe(0.05);
  });

  it.each(MODEL_NAMES.flatMap((m) => DATASET_NAMES.map((d) => [m, d] as const)))('--model %s --dataset %s: its defaults, a model that builds, its first filters drawable', (model, dataset) => {
    const c = parseFlags(['--model', model, '--dataset', dataset])!;
    const defaults = MODELS[model].defaults;
    expect(c).toMatchObject({ model, dataset, knobs: {}, epochs: defaults.epochs, batchSize: defaults.batchSize, lr: defaults.lr.adam });
    expect(parseFlags(['--model', model, '--optimizer', 'sgd'])!.lr).toBe(defaults.lr.sgd);
    const built = buildChosen(model, dataset, c.knobs);
    const s = summary(built);
    expect(s.inputShape).toEqual(DATASETS[dataset].inputShape);
    expect(s.layers.at(-1)!.outputShape).toEqual([DATASETS[dataset].classes]);
    const { layer, param } = firstConvFilters(built);
    expect(param).toBe(`${layer}.w`);
    expect(paramShapes(built)[param]).toHaveLength(4);
    // The chart the run draws after each epoch takes the filters as they are.
    expect(filterGridSpec(initParams(built, 1)[param], { title: `${layer} filters` })).toHaveProperty('$schema');
  });

  it('finds the first convolution under its own name: conv1_1 in VGG, mlpconv1.conv1 in NiN', () => {
    expect(firstConvFilters(buildChosen('vgg', 'mnist', {})).layer).toBe('conv1_1');
    expect(firstConvFilters(buildChosen('nin', 'mnist', {})).layer).toBe('mlpconv1.conv1');
    expect(firstConvFilters(buildChosen('resnet', 'mnist', {})).param).toBe('conv1.w');
  });

  it('flags override the model defaults; the knobs reach the builder', () => {
    const c = parseFlags(['--model', 'resnet', '--depth', '14', '--scale', '0.25', '--no-batch-norm', '--epochs', '2', '--batch-size', '16', '--lr', '3e-3'])!;
    expect(c).toMatchObject({ knobs: { depth: 14, scale: 0.25, batchNorm: false }, epochs: 2, batchSize: 16, lr: 3e-3 });
    const resnet = buildChosen('resnet', 'mnist', c.knobs);
    expect(resnet.name).toBe('ResNet-14 (no batch norm)');
    expect(statShapes(resnet)).toEqual({});
    expect(paramShapes(resnet)['conv1.w']).toEqual([4, 1, 3, 3]); // 16 filters at scale 1/4
    expect(Object.keys(statShapes(buildChosen('resnet', 'mnist', parseFlags(['--model', 'resnet'])!.knobs))).length).toBeGreaterThan(0);
    expect(buildChosen('vgg', 'mnist', parseFlags(['--model', 'vgg', '--config', 'D'])!.knobs).name).toBe('VGG-16 (D)');
    expect(paramShapes(buildChosen('alexnet', 'mnist', parseFlags(['--model', 'alexnet', '--scale', '0.25'])!.knobs))['conv1.w']).toEqual([24, 1, 7, 7]);
  });

  it.each([
    [['--model', 'vgg', '--depth', '14'], '--depth applies to --model resnet, not to --model vgg'],
    [['--model', 'resnet', '--config', 'D'], '--config applies to --model vgg, not to --model resnet'],
    [['--model', 'nin', '--no-batch-norm'], '--no-batch-norm applies to --model resnet, not to --model nin'],
    [['--scale', '0.5'], '--scale applies to --model alexnet, vgg, nin, inception, resnet, not to --model lenet5'],
    [['--depth', '8'], '--depth applies to --model resnet, not to --model lenet5'],
    [['--model', 'lenet'], '--model must be one of lenet5, alexnet, vgg, nin, inception, resnet, got "lenet"'],
    [['--dataset', 'cifar10'], '--dataset must be one of mnist, fashion-mnist, got "cifar10"'],
    [['--model', 'resnet', '--depth', '10'], '--depth must be 6n + 2 for n >= 1 blocks per stage (8, 14, 20, 32, 44, 56, 110), got "10"'],
    [['--model', 'resnet', '--depth', '2'], '--depth must be 6n + 2 for n >= 1 blocks per stage (8, 14, 20, 32, 44, 56, 110), got "2"'],
    [['--model', 'vgg', '--config', 'F'], '--config must be one of A, B, C, D, E, got "F"'],
    [['--model', 'inception', '--scale', '0'], '--scale must be a number > 0 written in decimal (e.g. 0.001 or 1e-3), got "0"'],
    [['--dataset', 'fashion-mnist', '--limit', '60001'], '--limit must be an integer from 1 to 60000 (Fashion-MNIST has 60000 training images), got "60001"'],
    [['--dataset', 'fashion-mnist', '--limit-test', '10001'], '--limit-test must be an integer from 1 to 10000 (Fashion-MNIST has 10000 test images), got "10001"'],
    // A batch size nobody gave is named as the model's default.
    [['--model', 'resnet', '--limit', '100'], '--batch-size 128 (the default of --model resnet) is more than the 100 training images; lower it or raise --limit'],
    [['--model', 'resnet', '--batch-size', '200', '--limit', '100'], '--batch-size 200 is more than the 100 training images; lower it or raise --limit'],
    [['--model', 'resnet', '--model', 'vgg'], '--model is given more than once; give it once'],
  ])('%j is refused: %s', (args, message) => {
    expect(refusal(args)).toBe(message);
  });
});

describe('npm start --model / --dataset: the CLI', () => {
  it('--help lists the models, the data sets, the knobs and the defaults by model', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    const line = (start: string): string => r.stdout.split('\n').find((l) => l.trimStart().startsWith(start)) ?? '';
    expect(line('--model NAME')).toContain(MODEL_NAMES.join(', '));
    expect(line('--dataset NAME')).toContain(DATASET_NAMES.join(', '));
    expect(line('--depth N')).toContain('(resnet)');
    expect(line('--config NAME')).toContain('(vgg)');
    expect(line('--no-batch-norm')).toContain('(resnet)');
    expect(line('--scale X')).toContain('(every model but lenet5)');
    expect(line('resnet ')).toMatch(/^ {2}resnet\s+5\s+128\s+0.001 \/ 0.05$/);
  });

  it.each([
    [['--model', 'bogus'], 'train-lenet: --model must be one of lenet5, alexnet, vgg, nin, inception, resnet, got "bogus"'],
    [['--model', 'vgg', '--depth', '14'], 'train-lenet: --depth applies to --model resnet, not to --model vgg'],
  ])('%j: the message and the usage on stderr, exit code 2, before any work', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr.startsWith(`${message}\n\nUsage: npm start -- [options]`)).toBe(true);
    expect(r.stdout).toBe('');
  });

  it('--model resnet --depth 8 --scale 0.25 (2 steps on webasm): its summary, its checkpoint with batch-norm statistics, its charts', async () => {
    const out = join(dir, 'resnet');
    const r = await cli(['--model', 'resnet', '--depth', '8', '--scale', '0.25', '--limit', '64', '--limit-test', '32', '--epochs', '1', '--batch-size', '32', '--backend', 'webasm', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('ResNet-8 (input [N,1,28,28])\n')).toBe(true);
    expect(r.stdout).toContain('total parameters: 5,142');
    expect(r.stdout).toContain('training on 64 images, testing on 32; 1 epoch(s), batch 32, adam lr 0.001 (cosine), backend webasm, seed 1');
    const checkpoint = await loadCheckpoint(join(out, 'checkpoint'));
    expect(checkpoint.meta).toMatchObject({ model: 'ResNet-8', zooModel: 'resnet', modelOptions: { depth: 8, scale: 0.25 }, epoch: 1, step: 2 });
    expect(checkpoint.meta).not.toHaveProperty('dataset'); // MNIST, as LeNet-5's checkpoints always were
    const model = buildChosen('resnet', 'mnist', { depth: 8, scale: 0.25 });
    expect(Object.keys(checkpoint.params).sort()).toEqual(Object.keys(paramShapes(model)).sort());
    expect(Object.keys(checkpoint.stats).sort()).toEqual(Object.keys(statShapes(model)).sort());
    for (const f of ['curves.png', 'curves.svg', 'filters.png', 'filters.svg']) expect((await stat(join(out, f))).size).toBeGreaterThan(1000);
    expect(await readFile(join(out, 'filters.svg'), 'utf8')).toContain('>conv1 filters after epoch 1</text>');
    expect(await readFile(join(out, 'curves.svg'), 'utf8')).toContain('>ResNet-8 on MNIST: adam, lr 0.001 (cosine), batch 32</text>');
  });
});
