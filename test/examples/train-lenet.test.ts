/**
 * The CLI as a user meets it (examples/train-lenet.ts): the help, usage
 * errors found before any work starts, a plain run whose stderr stays empty,
 * and the backends that need an optional package. More flag cases are in
 * test/train/cli.test.ts.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendNames } from 'striate';
import { probeNodeWebGPUAdapter } from '../../src/backend/gpujs/node-webgpu.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const script = join(root, 'examples/train-lenet.ts');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the CLI with piped stdio (as a CI job or a Node parent runs it). */
function cli(args: string[], options: { imports?: string[]; env?: Record<string, string> } = {}): Promise<Run> {
  const imports = ['tsx', ...(options.imports ?? [])].flatMap((i) => ['--import', i]);
  return new Promise((resolve) => {
    execFile(process.execPath, [...imports, script, ...args], { cwd: root, timeout: 120_000, env: { ...process.env, ...options.env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** Run the CLI with stderr going to a file, as `2> log` or a terminal would (not a socket). */
async function cliToFile(args: string[], dir: string): Promise<Run> {
  const log = join(dir, 'stderr.log');
  const fd = openSync(log, 'w');
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: root, stdio: ['ignore', 'pipe', fd] });
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? -1)));
  closeSync(fd);
  return { code, stdout, stderr: await readFile(log, 'utf8') };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'striate-lenet-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Tiny runs: 64 training images, 2 steps, 32 test images. */
const tiny = ['--limit', '64', '--limit-test', '32', '--epochs', '1', '--batch-size', '32'];

describe('train-lenet CLI', () => {
  it('--help lists every backend name', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    const line = r.stdout.split('\n').find((l) => l.trimStart().startsWith('--backend NAME'))!;
    expect(line).toContain(backendNames.join(', '));
    expect(r.stdout).toContain('npm install webgpu');
  });

  it.each([
    [['--limit', '70000'], /--limit must be an integer from 1 to 60000 \(MNIST has 60000 training images\), got "70000"/],
    [['--limit-test', '10001'], /--limit-test must be an integer from 1 to 10000 \(MNIST has 10000 test images\), got "10001"/],
    [['--lr', '0x10'], /--lr must be a number > 0 written in decimal \(e.g. 0.001 or 1e-3\), got "0x10"/],
    [['--lr', 'Infinity'], /--lr must be a number > 0 written in decimal/],
    [['--batch-size', '100', '--limit', '64'], /--batch-size 100 is more than the 64 training images; lower it or raise --limit/],
    [['--out', 'package.json'], /--out .*package.json: this is a file, not a directory/],
    [['--out', 'package.json/charts'], /--out .*package.json\/charts: .*package.json is a file, not a directory/],
  ])('%j is refused before any work, with the usage, exit code 2', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/EACCES|ENOTDIR|EEXIST|errno/);
    expect(r.stderr).toContain('Usage: npm start -- [options]');
    expect(r.stdout).toBe(''); // no summary, no "choosing the fastest backend"
  });

  it.skipIf(process.platform !== 'linux')('refuses an --out that cannot be created, in plain words', async () => {
    const r = await cli(['--out', '/proc/striate-out']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('train-lenet: --out /proc/striate-out: cannot write (the file system takes no new files there); choose a directory you can write to');
  });

  it('a plain run (backend auto) prints nothing on stderr and writes the charts as PNG and SVG', async () => {
    const out = join(dir, 'auto');
    const r = await cli([...tiny, '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/backend auto = \S+ \(probe step: /);
    for (const f of ['curves.png', 'curves.svg', 'filters.png', 'filters.svg']) expect((await stat(join(out, f))).size).toBeGreaterThan(1000);
    const curves = await readFile(join(out, 'curves.svg'), 'utf8');
    for (const text of ['training step', 'epoch 1', 'test (end of epoch)', 'loss (cross-entropy, log scale)']) expect(curves).toContain(`>${text}</text>`);
    expect(await readFile(join(out, 'filters.svg'), 'utf8')).toContain('>conv1 filters after epoch 1</text>');
  }, 120_000);

  it('--export-onnx writes an ONNX file that ONNX Runtime runs, and --augment trains on a worker thread', async () => {
    const out = join(dir, 'onnx');
    const file = join(out, 'models', 'lenet5.onnx');
    const r = await cli([...tiny, '--backend', 'webasm', '--augment', '--out', out, '--export-onnx', file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`, ${file}`);
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(file);
    const { logits } = await session.run({ x: new ort.Tensor('float32', new Float32Array(2 * 784).fill(0.5), [2, 1, 28, 28]) });
    expect(logits.dims).toEqual([2, 10]);
    expect(Array.from(logits.data as Float32Array).every(Number.isFinite)).toBe(true);
  }, 120_000);

  it('--export-onnx must name a .onnx file, and --model neocognitron refuses it', async () => {
    const bad = await cli(['--export-onnx', 'model.txt']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--export-onnx must name a .onnx file, e.g. out/model.onnx, got "model.txt"');
    const neo = await cli(['--model', 'neocognitron', '--export-onnx', 'x.onnx']);
    expect(neo.code).toBe(2);
    expect(neo.stderr).toContain('--export-onnx does not apply to --model neocognitron');
  });

  it('--backend webgpu enables WebGPU itself, or says what is missing', async () => {
    const adapter = await probeNodeWebGPUAdapter();
    const r = await cliToFile([...tiny, '--backend', 'webgpu', '--out', join(dir, 'webgpu')], dir);
    if (typeof adapter === 'string') {
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`train-lenet: --backend webgpu: ${adapter.split(';')[0]}`);
    } else {
      expect(r.stderr).toBe(''); // Dawn's limit notices are filtered out
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('backend webgpu');
    }
  }, 120_000);

  it('--backend webgpu without the webgpu package names the package to install', async () => {
    const r = await cli([...tiny, '--backend', 'webgpu'], { imports: ['./test/viz/fixtures/hide-packages.mjs'], env: { STRIATE_HIDE_PACKAGES: 'webgpu' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('train-lenet: --backend webgpu: webgpu: the optional "webgpu" package is not installed; add it with `npm install webgpu`');
    expect(r.stdout).toBe('');
  });
});
