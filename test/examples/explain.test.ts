/**
 * The report as a user meets it (examples/explain.ts): its flags, its usage
 * errors, and one end-to-end run on a tiny checkpoint saved here the way
 * `npm start` saves one (parameters and metadata, no model description),
 * with small limits so that it takes seconds.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initParams, nn } from 'striate';
import { saveCheckpoint } from 'striate/node';
import { escapeHtml, parseFlags } from '../../examples/explain.js';
import { UsageError } from '../../examples/lib/cli.js';
import { root, runScript, type ScriptRun } from './script.js';

const script = join(root, 'examples/explain.ts');

const cli = (args: string[]): Promise<ScriptRun> => runScript(script, args);

let dir: string;
let checkpoint: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'striate-explain-'));
  checkpoint = join(dir, 'run', 'checkpoint');
  const model = nn.lenet5();
  // As examples/train-lenet.ts saves LeNet-5 on MNIST: the parameters, the statistics (none) and meta.model.
  await saveCheckpoint(checkpoint, { params: nn.toTensorGroup(initParams(model, 3)), stats: {}, meta: { model: model.name, epoch: 1, testAccuracy: 0.1 } });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('explain flags', () => {
  it('defaults: out/checkpoint, and the pictures beside it in explain/', () => {
    const c = parseFlags([])!;
    expect(c.checkpoint).toBe(join(process.cwd(), 'out', 'checkpoint'));
    expect(c.out).toBe(join(process.cwd(), 'out', 'explain'));
    expect([c.images, c.neighbours, c.limit, c.trainLimit, c.layer, c.maximiseSteps]).toEqual([5, 5, undefined, undefined, undefined, 512]);
    expect(parseFlags(['--maximise-steps', '0'])!.maximiseSteps).toBe(0);
    expect(parseFlags(['--checkpoint', '/a/b/ck'])!.out).toBe('/a/b/explain');
    expect(parseFlags(['--help'])).toBeNull();
  });

  it('refuses bad values with a sentence naming the flag', () => {
    const usage = (argv: string[]) => {
      try {
        parseFlags(argv);
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as Error).message;
      }
      throw new Error('no usage error');
    };
    expect(usage(['--images', '0'])).toBe('--images must be an integer from 1 to 20 (each adds a row to five pictures), got "0"');
    expect(usage(['--images', 'many'])).toMatch(/--images must be an integer/);
    expect(usage(['--limit', '1'])).toMatch(/--limit must be an integer from 2 to 10000/);
    expect(usage(['--limit', '3', '--images', '4'])).toBe('--limit 3 is fewer than the 4 images to explain (--images); raise --limit or lower --images');
    expect(usage(['--train-limit', '2', '--neighbours', '3'])).toMatch(/--train-limit 2 is fewer than the 3 neighbours/);
    expect(usage(['--layer', ''])).toBe('--layer must name a layer');
    expect(usage(['--maximise-steps', '1.5'])).toMatch(/--maximise-steps must be an integer from 0/);
    expect(usage(['--checkpoint', ''])).toBe('--checkpoint must name a checkpoint directory');
    expect(usage(['--frobnicate'])).toMatch(/Unknown option '--frobnicate'/);
    expect(usage(['--images', '2', '--images', '3'])).toBe('--images is given more than once; give it once');
  });

  it('escapes the text it writes into the page', () => {
    expect(escapeHtml(`<b class="x">Tom & Jerry's</b>`)).toBe('&lt;b class=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/b&gt;');
  });
});

describe('npm run explain', () => {
  it('writes the pictures of a checkpoint and a page that shows each of them', async () => {
    const out = join(dir, 'report');
    const run = await cli(['--checkpoint', checkpoint, '--out', out, '--images', '2', '--limit', '30', '--train-limit', '40', '--neighbours', '3', '--maximise-steps', '4', '--backend', 'reference']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const pictures = [
      'filters-conv1.png',
      'filters-conv2.png',
      'features-conv1.png',
      'features-conv2.png',
      'saliency.png',
      'neighbours.png',
      'top5.png',
      'embedding.png',
      'confusion.png',
      'maximise.png',
    ];
    const html = await readFile(join(out, 'index.html'), 'utf8');
    for (const file of pictures) {
      const bytes = await readFile(join(out, file));
      // A PNG, and not an empty one.
      expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
      expect(bytes.length).toBeGreaterThan(2000);
      expect(html).toContain(`<img src="${file}"`);
    }
    // Every image the page shows is there; captions are escaped text; the missing part is said to be missing.
    const referenced = [...html.matchAll(/<img src="([^"]+)"/g)].map((m) => m[1]);
    expect(referenced.sort()).toEqual([...pictures].sort());
    const captions = [...html.matchAll(/<figcaption>(.*?)<\/figcaption>/g)].map((m) => m[1].replace(/<\/?strong>/g, ''));
    expect(captions).toHaveLength(pictures.length);
    for (const caption of captions) expect(caption).not.toMatch(/[<>]/);
    expect(html).toContain('LeNet-5 on MNIST');
    expect(run.stdout).toMatch(/wrote 11 files/);
  });

  it('refuses a layer the model does not have, and a missing checkpoint, as usage errors', async () => {
    const bad = await cli(['--checkpoint', checkpoint, '--out', join(dir, 'bad'), '--layer', 'conv9', '--backend', 'reference']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('explain: --layer: model LeNet-5 has no layer "conv9"; its layers are conv1, relu1, pool1, conv2');
    await expect(stat(join(dir, 'bad', 'index.html'))).rejects.toThrow();
    const cam = await cli(['--checkpoint', checkpoint, '--out', join(dir, 'bad'), '--cam-layer', 'fc1', '--backend', 'reference']);
    expect(cam.code).toBe(2);
    expect(cam.stderr).toContain('--cam-layer fc1 gives [N, 120], not feature maps [N, C, h, w]');
    const missing = await cli(['--checkpoint', join(dir, 'nowhere'), '--backend', 'reference']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/explain: --checkpoint .*nowhere: /);
  });
});
