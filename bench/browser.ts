/**
 * `npm run bench:browser`: the LeNet-5 bench in Chromium — Striate's webgl2,
 * webgpu, webasm and webasm-threads backends against TF.js's webgl, webgpu
 * and wasm backends (ConvNetJS as the plain-JavaScript baseline), with the
 * same correctness checks and timing as `npm run bench`.
 *
 * It bundles bench/browser/page.ts with esbuild, serves it from 127.0.0.1
 * with the cross-origin isolation headers (SharedArrayBuffer for the threaded
 * wasm backends; localhost is a secure context, which WebGPU needs), and
 * drives the system's Chromium with playwright-core (no browser download).
 *
 * On a machine without a GPU, Chromium renders WebGL2 and WebGPU with
 * SwiftShader (software), so those numbers say nothing about GPUs: run it on
 * a machine with one, with `--gpu` (drops the SwiftShader flags) and, if
 * needed, `--headed`.
 *
 *   npm run bench:browser -- [--quick] [--rounds N] [--gpu] [--headed]
 *     [--chromium PATH] [--striate LIST] [--tfjs LIST] [--no-convnetjs]
 *     [--json PATH] [--timeout SECONDS]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { chromium } from 'playwright-core';
import type { PageConfig, PageResult } from './browser/page.js';
import { renderMain, summarize } from './lib/contest.js';
import type { TimingOptions } from './lib/measure.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

const USAGE = `usage: npm run bench:browser -- [flags]
  --quick             a short smoke run (small rounds)
  --rounds N          timed rounds per measurement (default 5, --quick 2)
  --striate LIST      Striate backends (default webgl2,webgpu,webasm,webasm-threads)
  --tfjs LIST         TF.js backends (default webgl,webgpu,wasm)
  --no-convnetjs      leave out ConvNetJS
  --gpu               use the machine's GPU: no SwiftShader flags (default: SwiftShader, for GPU-less machines)
  --headed            show the browser window (some GPU drivers need it)
  --chromium PATH     the Chromium to drive (default $STRIATE_CHROMIUM or /usr/bin/chromium)
  --json PATH         where to write the results (default bench/results/browser-latest.json; "-" for none)
  --timeout SECONDS   give up after this long (default 900)`;

interface Args {
  quick: boolean;
  rounds: number;
  striate: string[];
  tfjs: string[];
  convnetjs: boolean;
  gpu: boolean;
  headed: boolean;
  chromium: string;
  json: string | null;
  timeoutS: number;
}

function parseArgs(argv: string[]): Args | null {
  const a: Args = {
    quick: false,
    rounds: 0,
    striate: ['webgl2', 'webgpu', 'webasm', 'webasm-threads'],
    tfjs: ['webgl', 'webgpu', 'wasm'],
    convnetjs: true,
    gpu: false,
    headed: false,
    chromium: process.env.STRIATE_CHROMIUM ?? '/usr/bin/chromium',
    json: path.join(here, 'results', 'browser-latest.json'),
    timeoutS: 900,
  };
  const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = argv[i].includes('=') ? [argv[i].slice(0, argv[i].indexOf('=')), argv[i].slice(argv[i].indexOf('=') + 1)] : [argv[i], undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`bench:browser: ${name} needs a value\n${USAGE}`);
      return v;
    };
    switch (name) {
      case '--quick': a.quick = true; break;
      case '--rounds': a.rounds = Number(value()); if (!Number.isInteger(a.rounds) || a.rounds < 1) throw new Error('--rounds must be a positive integer'); break;
      case '--striate': a.striate = list(value()); break;
      case '--tfjs': a.tfjs = list(value()); break;
      case '--no-convnetjs': a.convnetjs = false; break;
      case '--gpu': a.gpu = true; break;
      case '--headed': a.headed = true; break;
      case '--chromium': a.chromium = value(); break;
      case '--json': { const v = value(); a.json = v === '-' ? null : v; break; }
      case '--timeout': a.timeoutS = Number(value()); break;
      case '--help': case '-h': console.log(USAGE); return null;
      default: throw new Error(`bench:browser: unknown flag ${argv[i]}\n${USAGE}`);
    }
  }
  if (a.rounds === 0) a.rounds = a.quick ? 2 : 5;
  return a;
}

/** Node built-ins reached only on Node code paths of Striate (guarded at run time): empty in the bundle. */
const nodeStubs: Plugin = {
  name: 'node-stubs',
  setup(b) {
    b.onResolve({ filter: /^(node:.*|webgpu|gl)$/ }, (r) => ({ path: r.path, namespace: 'node-stub' }));
    b.onLoad({ filter: /.*/, namespace: 'node-stub' }, () => ({ contents: 'export default {};', loader: 'js' }));
  },
};

async function bundle(): Promise<string> {
  const result = await build({
    entryPoints: [path.join(here, 'browser', 'page.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    minify: false,
    logLevel: 'error',
    define: { 'process.env.NODE_ENV': '"production"', global: 'globalThis' },
    plugins: [nodeStubs],
  });
  return result.outputFiles[0].text;
}

/** Serve the page, the bundle and TF.js's wasm binaries (from node_modules) on 127.0.0.1, cross-origin isolated. */
async function serve(js: string): Promise<{ server: Server; url: string }> {
  const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
  const html = '<!doctype html><meta charset="utf-8"><title>Striate bench</title><script type="module" src="/bench.js"></script>';
  const headers = {
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Embedder-Policy': 'require-corp',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Cache-Control': 'no-store',
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const send = (status: number, type: string, body: string | Buffer) => {
      res.writeHead(status, { ...headers, 'Content-Type': type });
      res.end(body);
    };
    if (url.pathname === '/' || url.pathname === '/index.html') return send(200, 'text/html; charset=utf-8', html);
    if (url.pathname === '/bench.js') return send(200, 'text/javascript; charset=utf-8', js);
    if (url.pathname === '/favicon.ico') return send(204, 'image/x-icon', '');
    const m = /^\/wasm\/(tfjs-backend-wasm(?:-simd|-threaded-simd)?\.wasm)$/.exec(url.pathname);
    if (m && existsSync(path.join(wasmDir, m[1]))) return send(200, 'application/wasm', readFileSync(path.join(wasmDir, m[1])));
    send(404, 'text/plain', 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

/**
 * Chromium flags. Without a GPU: WebGL2 through ANGLE on SwiftShader, and
 * WebGPU (which needs --enable-unsafe-webgpu on Linux and a secure context)
 * on SwiftShader's Vulkan. With --gpu: the machine's GPU, blocklist ignored.
 */
function chromiumArgs(a: Args): string[] {
  const common = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--enable-unsafe-webgpu'];
  return a.gpu
    ? [...common, '--ignore-gpu-blocklist', '--enable-gpu-rasterization', '--enable-features=Vulkan']
    : [...common, '--disable-gpu-sandbox', '--enable-unsafe-swiftshader', '--use-angle=swiftshader'];
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (!args) return 0;
  if (!existsSync(args.chromium)) throw new Error(`bench:browser: no Chromium at ${args.chromium} (apt-get install chromium, or pass --chromium PATH)`);
  const started = Date.now();
  const loadStart = os.loadavg().map((x) => Number(x.toFixed(2)));
  process.stderr.write('bench:browser: bundling bench/browser/page.ts\n');
  const js = await bundle();
  const { server, url } = await serve(js);
  const browser = await chromium.launch({ executablePath: args.chromium, args: chromiumArgs(args), headless: !args.headed });
  let result: PageResult;
  try {
    const page = await browser.newPage();
    page.on('console', (m) => process.stderr.write(`  [page] ${m.text()}\n`));
    page.on('pageerror', (e) => process.stderr.write(`  [page error] ${e.message}\n`));
    await page.goto(url);
    await page.waitForFunction(() => window.benchReady === true, undefined, { timeout: 60_000 });
    const timing: TimingOptions = args.quick
      ? { rounds: args.rounds, roundMs: 300, warmupMs: 300, warmupSteps: 1 }
      : { rounds: args.rounds, roundMs: 1000, warmupMs: 1000, warmupSteps: 2 };
    const config: PageConfig = { striate: args.striate, tfjs: args.tfjs, convnetjs: args.convnetjs, timing };
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`bench:browser: no result after ${args.timeoutS} s`)), args.timeoutS * 1000).unref());
    result = await Promise.race([page.evaluate((c) => window.runBench(c), config), timeout]);
  } finally {
    await browser.close().catch(() => undefined);
    server.close();
  }
  const loadEnd = os.loadavg().map((x) => Number(x.toFixed(2)));
  const durationS = (Date.now() - started) / 1000;
  const gpuLine = [
    result.webgl ? `WebGL2: ${result.webgl.renderer}` : 'WebGL2: none',
    result.webgpu ? `WebGPU: ${[result.webgpu.vendor, result.webgpu.architecture, result.webgpu.description].filter(Boolean).join(' ') || 'adapter without info'}` : 'WebGPU: none',
  ].join('; ');
  const out = [
    `LeNet-5 in Chromium (${result.userAgent.match(/Chrome\/[\d.]+/)?.[0] ?? result.userAgent}), ${args.gpu ? 'GPU mode' : 'SwiftShader (software GPU): WebGL/WebGPU numbers say nothing about a real GPU'}`,
    `${gpuLine}; crossOriginIsolated ${result.crossOriginIsolated}; ${result.hardwareConcurrency} logical cores; TF.js ${result.tfjs}`,
    `host: ${os.cpus()[0]?.model ?? 'unknown'}, ${os.availableParallelism()} cores; load average ${loadStart.join(' ')} at start, ${loadEnd.join(' ')} at end; ${durationS.toFixed(0)} s`,
    `images/s: median of ${args.rounds} rounds${args.quick ? ' (--quick)' : ''}; training batch 64 (forward, backward, SGD update), inference batch 256`,
    ...renderMain(result.entries, { withCpu: false, withLoad: false, targets: false }),
  ];
  const text = out.join('\n');
  console.log(text);
  if (args.json) {
    mkdirSync(path.dirname(path.resolve(args.json)), { recursive: true });
    const json = {
      bench: 'Striate LeNet-5 in Chromium vs TensorFlow.js (npm run bench:browser)',
      host: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.availableParallelism(), node: process.version, date: new Date().toISOString() },
      load: { start: loadStart, end: loadEnd },
      durationS,
      mode: args.gpu ? 'gpu' : 'swiftshader',
      chromiumArgs: chromiumArgs(args),
      ...result,
      summary: summarize(result.entries),
      table: text,
    };
    writeFileSync(args.json, JSON.stringify(json, (_k, v) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(6)) : v), 2) + '\n');
    process.stderr.write(`bench:browser: wrote ${args.json}\n`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  },
);
