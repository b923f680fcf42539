/**
 * `npm start -- --model ... --dataset ...` (examples/train-lenet.ts with the
 * tables of examples/lib/zoo-config.ts): every model on every data set is
 * accepted with its own defaults, flags override them, a model-specific flag
 * is refused for a model it does not apply to, the filter chart finds each
 * model's first convolution, and a tiny ResNet run, end to end, writes its
 * checkpoint (batch-norm statistics included) and charts. And --augment:
 * its pipeline by data set, the strength flags and their refusals, and a
 * tiny augmented run that draws augment.png before training.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { augment, augmentGridSpec, filterGridSpec, initParams, paramShapes, statShapes, summary } from 'striate';
import { loadCheckpoint } from 'striate/node';
import { parseFlags } from '../../examples/train-lenet.js';
import { UsageError } from '../../examples/lib/cli.js';
import { DATASETS, DATASET_NAMES, MODELS, MODEL_NAMES, augmentTransforms, buildChosen, describeAugment, firstConvFilters } from '../../examples/lib/zoo-config.js';
import { root, runScript, type ScriptRun } from './script.js';

const script = join(root, 'examples/train-lenet.ts');

const cli = (args: string[]): Promise<ScriptRun> => runScript(script, args);

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
  it("with no flags, LeNet-5 on MNIST at its defaults", () => {
    expect(parseFlags([])).toEqual({
      model: 'lenet5',
      dataset: 'mnist',
      knobs: {},
      epochs: 4,
      batchSize: 128,
      lr: 4e-3,
      optimizer: 'adam',
      schedule: 'cosine',
      backend: 'auto',
      threads: 'auto',
      seed: 1,
      out: './out',
      limit: undefined,
      limitTest: undefined,
      json: false,
    });
    expect(parseFlags(['--optimizer', 'sgd'])!.lr).toBe(0.1);
    // No augmentation unless asked for, and no key for it in the config.
    expect(parseFlags([])).not.toHaveProperty('augment');
    expect(parseFlags(['--dataset', 'fashion-mnist', '--model', 'resnet'])).not.toHaveProperty('augment');
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
    [['--model', 'lenet'], '--model must be one of lenet5, alexnet, vgg, nin, inception, resnet, neocognitron, got "lenet"'],
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
    [['--model', 'bogus'], 'train-lenet: --model must be one of lenet5, alexnet, vgg, nin, inception, resnet, neocognitron, got "bogus"'],
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
    expect(checkpoint.meta).not.toHaveProperty('augment'); // no --augment, no augmentation
    await expect(stat(join(out, 'augment.png'))).rejects.toThrow(/ENOENT/);
    expect(r.stdout).not.toContain('augmenting');
    const model = buildChosen('resnet', 'mnist', { depth: 8, scale: 0.25 });
    expect(Object.keys(checkpoint.params).sort()).toEqual(Object.keys(paramShapes(model)).sort());
    expect(Object.keys(checkpoint.stats).sort()).toEqual(Object.keys(statShapes(model)).sort());
    for (const f of ['curves.png', 'curves.svg', 'filters.png', 'filters.svg']) expect((await stat(join(out, f))).size).toBeGreaterThan(1000);
    expect(await readFile(join(out, 'filters.svg'), 'utf8')).toContain('>conv1 filters after epoch 1</text>');
    expect(await readFile(join(out, 'curves.svg'), 'utf8')).toContain('>ResNet-8 on MNIST: adam, lr 0.001 (cosine), batch 32</text>');
  });
});

/** The augmentation parseFlags makes of `args`. */
const augmentOf = (args: string[]) => parseFlags(args)!.augment;

describe('npm start --augment: parsing', () => {
  it('--augment on MNIST: small affine and elastic distortions, never a mirror image', () => {
    expect(augmentOf(['--augment'])).toEqual({ rotate: 10, shift: 2, scaleRange: [0.9, 1.1], shear: 5, elasticAlpha: 34, elasticSigma: 5, noise: 0, flip: 0 });
    expect(augmentTransforms(augmentOf(['--augment'])!)).toEqual({
      affine: { rotate: 10, shift: 2, scale: [0.9, 1.1], shear: 5 },
      elastic: { alpha: 34, sigma: 5 },
    });
    expect(describeAugment(augmentOf(['--augment'])!)).toBe('rotate ±10°, shift ±2 px, zoom 0.9–1.1, shear ±5° and elastic α 34 px σ 5 px, in one resampling');
    // Only the augmentation changes: the rest is LeNet-5 on MNIST's defaults.
    const { augment: _, ...rest } = parseFlags(['--augment'])!;
    expect(rest).toEqual(parseFlags([]));
  });

  it('--augment on Fashion-MNIST: mirror images half the time, no shear or elastic distortion', () => {
    const fashion = augmentOf(['--dataset', 'fashion-mnist', '--augment'])!;
    expect(fashion).toEqual({ rotate: 10, shift: 2, scaleRange: [0.9, 1.1], shear: 0, elasticAlpha: 0, elasticSigma: 5, noise: 0, flip: 0.5 });
    expect(augmentTransforms(fashion)).toEqual({ affine: { rotate: 10, shift: 2, scale: [0.9, 1.1] }, flip: { horizontal: 0.5 } });
    expect(describeAugment(fashion)).toBe('rotate ±10°, shift ±2 px and zoom 0.9–1.1, in one resampling; then a mirror image with probability 0.5');
    for (const d of DATASET_NAMES) expect(augmentOf(['--dataset', d, '--augment'])).toEqual(DATASETS[d].augment);
  });

  it.each([
    [['--rotate', '15'], { rotate: 15 }],
    [['--shift', '3.5'], { shift: 3.5 }],
    [['--scale-range', '0.8,1.2'], { scaleRange: [0.8, 1.2] }],
    [['--scale-range', '1,1.25'], { scaleRange: [1, 1.25] }],
    [['--shear', '12'], { shear: 12 }],
    [['--elastic-alpha', '40'], { elasticAlpha: 40 }],
    [['--elastic-sigma', '4'], { elasticSigma: 4 }],
    [['--noise', '0.05'], { noise: 0.05 }],
    [['--noise', '5e-2'], { noise: 0.05 }],
    [['--flip', '0.25'], { flip: 0.25 }],
    [['--flip', '1'], { flip: 1 }],
    [['--augment', '--rotate', '180', '--shear', '89.5'], { rotate: 180, shear: 89.5 }],
  ])('%j implies --augment and changes only its own part of the MNIST pipeline', (args, own) => {
    expect(augmentOf(args)).toEqual({ ...DATASETS.mnist.augment, ...own });
  });

  it('0 turns a part off (1,1 the zoom); the transforms leave it out', () => {
    const off = (args: string[], dataset = 'mnist') => augmentTransforms(augmentOf(['--dataset', dataset, ...args])!);
    expect(off(['--rotate', '0']).affine).toEqual({ shift: 2, scale: [0.9, 1.1], shear: 5 });
    expect(off(['--shift', '0']).affine).toEqual({ rotate: 10, scale: [0.9, 1.1], shear: 5 });
    expect(off(['--scale-range', '1,1']).affine).toEqual({ rotate: 10, shift: 2, shear: 5 });
    expect(off(['--shear', '0']).affine).toEqual({ rotate: 10, shift: 2, scale: [0.9, 1.1] });
    expect(off(['--elastic-alpha', '0'])).not.toHaveProperty('elastic');
    expect(off(['--flip', '0'], 'fashion-mnist')).not.toHaveProperty('flip');
    expect(off(['--rotate', '0', '--shift', '0', '--scale-range', '1,1', '--shear', '0'])).toEqual({ elastic: { alpha: 34, sigma: 5 } });
    expect(off(['--rotate', '0', '--shift', '0', '--scale-range', '1,1', '--flip', '0', '--noise', '0.1'], 'fashion-mnist')).toEqual({ noise: { std: 0.1 } });
    expect(off(['--elastic-alpha', '20', '--elastic-sigma', '4'], 'fashion-mnist').elastic).toEqual({ alpha: 20, sigma: 4 });
  });

  it("augment() and augmentGridSpec take every data set's pipeline as it is", () => {
    for (const d of DATASET_NAMES) {
      const transforms = augmentTransforms(DATASETS[d].augment);
      expect(() => augment({ imageShape: DATASETS[d].inputShape, ...transforms })).not.toThrow();
      expect(augmentGridSpec(new Float32Array(784).fill(0.5), DATASETS[d].inputShape, transforms)).toHaveProperty('$schema');
    }
  });

  it.each([
    [['--rotate=-5'], '--rotate must be a number of degrees from 0 to 180 written in decimal (e.g. 10), got "-5"'],
    [['--rotate', '181'], '--rotate must be a number of degrees from 0 to 180 written in decimal (e.g. 10), got "181"'],
    [['--rotate', 'ten'], '--rotate must be a number of degrees from 0 to 180 written in decimal (e.g. 10), got "ten"'],
    [['--rotate', '0x10'], '--rotate must be a number of degrees from 0 to 180 written in decimal (e.g. 10), got "0x10"'],
    [['--shift=-1'], '--shift must be a number of pixels >= 0 written in decimal (e.g. 2), got "-1"'],
    [['--shift', 'Infinity'], '--shift must be a number of pixels >= 0 written in decimal (e.g. 2), got "Infinity"'],
    [['--shear', '90'], '--shear must be a number of degrees >= 0 and < 90 written in decimal (e.g. 5), got "90"'],
    [['--scale-range', '1.1,0.9'], '--scale-range must be LO,HI: two numbers > 0 written in decimal, LO <= HI (e.g. 0.9,1.1; 1,1 turns zooming off), got "1.1,0.9"'],
    [['--scale-range', '0,1'], '--scale-range must be LO,HI: two numbers > 0 written in decimal, LO <= HI (e.g. 0.9,1.1; 1,1 turns zooming off), got "0,1"'],
    [['--scale-range', '0.9'], '--scale-range must be LO,HI: two numbers > 0 written in decimal, LO <= HI (e.g. 0.9,1.1; 1,1 turns zooming off), got "0.9"'],
    [['--scale-range', '0.9, 1.1'], '--scale-range must be LO,HI: two numbers > 0 written in decimal, LO <= HI (e.g. 0.9,1.1; 1,1 turns zooming off), got "0.9, 1.1"'],
    [['--scale-range', '0.9,1.1,1.2'], '--scale-range must be LO,HI: two numbers > 0 written in decimal, LO <= HI (e.g. 0.9,1.1; 1,1 turns zooming off), got "0.9,1.1,1.2"'],
    [['--flip', '1.5'], '--flip must be a probability from 0 to 1 written in decimal (e.g. 0.5), got "1.5"'],
    [['--flip=-0.5'], '--flip must be a probability from 0 to 1 written in decimal (e.g. 0.5), got "-0.5"'],
    [['--noise', '1e'], '--noise must be a number >= 0 written in decimal (e.g. 0.1), got "1e"'],
    [['--elastic-alpha', ''], '--elastic-alpha must be a number of pixels >= 0 written in decimal (e.g. 34), got ""'],
    [['--elastic-sigma', '29'], "--elastic-sigma must be a number of pixels from 0 to 28 (the side of MNIST's images) written in decimal (e.g. 5), got \"29\""],
    [
      ['--elastic-sigma', '0'],
      '--elastic-sigma must be > 0 while --elastic-alpha is 34 (the default for MNIST): it is the smoothing of the elastic field; give e.g. --elastic-sigma 5, or --elastic-alpha 0 to turn the elastic distortion off',
    ],
    [
      ['--elastic-alpha', '20', '--elastic-sigma', '0'],
      '--elastic-sigma must be > 0 while --elastic-alpha is 20: it is the smoothing of the elastic field; give e.g. --elastic-sigma 5, or --elastic-alpha 0 to turn the elastic distortion off',
    ],
    [
      ['--dataset', 'fashion-mnist', '--elastic-sigma', '4'],
      '--elastic-sigma has no effect while --elastic-alpha is 0 (the default for Fashion-MNIST); give --elastic-alpha > 0 (e.g. 34) too, or leave --elastic-sigma out',
    ],
    [['--elastic-alpha', '0', '--elastic-sigma', '0'], '--elastic-sigma has no effect while --elastic-alpha is 0; give --elastic-alpha > 0 (e.g. 34) too, or leave --elastic-sigma out'],
    [
      ['--rotate', '0', '--shift', '0', '--scale-range', '1,1', '--shear', '0', '--elastic-alpha', '0'],
      'the augmentation flags turn every distortion off; leave --augment and its strength flags out to train on the images as they are',
    ],
    [['--augment', '--augment'], '--augment is given more than once; give it once'],
    [['--rotate', '5', '--rotate', '10'], '--rotate is given more than once; give it once'],
  ])('%j is refused: %s', (args, message) => {
    expect(refusal(args)).toBe(message);
  });
});

describe('npm start --augment: the CLI', () => {
  it('--help lists --augment, each pipeline and every strength flag', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    const line = (start: string): string => r.stdout.split('\n').find((l) => l.trimStart().startsWith(start)) ?? '';
    expect(line('--augment')).toContain('by --dataset');
    for (const d of DATASET_NAMES) expect(line(`${d}: `)).toContain(describeAugment(DATASETS[d].augment));
    expect(line('--scale-range LO,HI')).toContain('(default 0.9,1.1)');
    expect(line('--flip P')).toContain('(default mnist 0, fashion-mnist 0.5)');
    for (const flag of ['--rotate DEG', '--shift PX', '--shear DEG', '--elastic-alpha X', '--elastic-sigma X', '--noise STD']) expect(line(flag)).toMatch(/\(default /);
  });

  it('a bad strength: the message and the usage on stderr, exit code 2, before any work', async () => {
    const r = await cli(['--scale-range', '1.1,0.9']);
    expect(r.code).toBe(2);
    expect(r.stderr.startsWith('train-lenet: --scale-range must be LO,HI: two numbers > 0 written in decimal, LO <= HI (e.g. 0.9,1.1; 1,1 turns zooming off), got "1.1,0.9"\n\nUsage: npm start -- [options]')).toBe(true);
    expect(r.stdout).toBe('');
  });

  it('--augment (1 step on webasm): augment.png and .svg of training image 1, the pipeline in words, the transforms in the checkpoint', async () => {
    const out = join(dir, 'augment');
    const plain = join(dir, 'augment-plain');
    // One thread: the log line below is then the same on a machine of any size.
    const tiny = ['--limit', '64', '--limit-test', '64', '--epochs', '1', '--batch-size', '64', '--lr', '0.001', '--backend', 'webasm', '--threads', '1'];
    // The same run without --augment, beside it, to see that the distorted images are what it trains on.
    const [r, p] = await Promise.all([cli(['--augment', ...tiny, '--out', out]), cli([...tiny, '--out', plain])]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(p.code).toBe(0);
    const transforms = augmentTransforms(DATASETS.mnist.augment);
    expect(r.stdout).toContain(
      'training on 64 images, testing on 64; 1 epoch(s), batch 64, adam lr 0.001 (cosine), backend webasm, seed 1\n' +
        `augmenting each training batch afresh: ${describeAugment(DATASETS.mnist.augment)} (20 draws of training image 1 in ${join(out, 'augment.png')})\n\n`,
    );
    const png = await readFile(join(out, 'augment.png'));
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.length).toBeGreaterThan(1000);
    const svg = await readFile(join(out, 'augment.svg'), 'utf8');
    expect(svg).toMatch(/>MNIST training image 1 \(label \d\) under 20 augmentations<\/text>/);
    expect(svg).toContain('>20<');
    expect(r.stdout).toContain(`${join(out, 'augment.png')}, ${join(out, 'augment.svg')}`); // the "wrote" line names them
    const checkpoint = await loadCheckpoint(join(out, 'checkpoint'));
    expect(checkpoint.meta).toMatchObject({ model: 'LeNet-5', epoch: 1, step: 1, augment: transforms });
    const unaugmented = await loadCheckpoint(join(plain, 'checkpoint'));
    expect(unaugmented.meta).not.toHaveProperty('augment');
    expect(checkpoint.params['conv1.w'].data).not.toEqual(unaugmented.params['conv1.w'].data);
  });
});
