import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Run an ES module snippet under tsx in a fresh Node, from the repository root. */
function node(script: string, env: Record<string, string> = {}, imports: string[] = []): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      ['--import', 'tsx', ...imports.flatMap((i) => ['--import', i]), '--input-type=module', '-e', script],
      { cwd: root, timeout: 60_000, env: { ...process.env, ...env } },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve({ stdout, stderr })),
    ),
  );
}

const notice = (kind: string) =>
  `Warning: maxDynamic${kind}BuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n`;

describe('Node WebGPU', () => {
  it.skipIf(process.platform === 'win32')("keeps Dawn's limit notices off stderr and passes everything else on", async () => {
    // What Dawn does inside requestAdapter(): native writes straight to file descriptor 2.
    const script = `
      import { writeSync } from 'node:fs';
      import { withoutDawnNotices } from './src/backend/gpujs/node-webgpu.ts';
      process.stderr.write('before\\n');
      const r = await withoutDawnNotices(() => {
        writeSync(2, ${JSON.stringify(notice('Uniform'))} + 'a real problem\\n' + ${JSON.stringify(notice('Storage'))});
        return 7;
      });
      process.stderr.write('after ' + r + '\\n');`;
    // stderr a file, as with `2> log`: a Node parent's pipes are sockets, which /dev/fd cannot reopen.
    const dir = await mkdtemp(join(tmpdir(), 'striate-stderr-'));
    try {
      const log = join(dir, 'stderr.log');
      const fd = openSync(log, 'w');
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'ignore', fd] });
      const code = await new Promise((resolve) => child.on('exit', resolve));
      closeSync(fd);
      expect(code).toBe(0);
      expect(await readFile(log, 'utf8')).toBe('before\na real problem\nafter 7\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names the package to install when webgpu is missing', async () => {
    const script = `
      import { enableNodeWebGPU } from './src/backend/gpujs/node-webgpu.ts';
      await enableNodeWebGPU().then(() => console.log('enabled'), (e) => console.log(e.message));`;
    const { stdout } = await node(script, { STRIATE_HIDE_PACKAGES: 'webgpu' }, ['./test/viz/fixtures/hide-packages.mjs']);
    expect(stdout.trim()).toBe(
      'webgpu: the optional "webgpu" package is not installed; add it with `npm install webgpu` to use WebGPU in Node (it also needs a Vulkan driver; see README, Backends)',
    );
  });
});
