/**
 * WebGPU in Node. Browsers expose `navigator.gpu`; Node does not, and gpu.js
 * reads it from there. `enableNodeWebGPU()` creates it from the optional
 * `webgpu` package (Dawn) and checks that an adapter answers, so that
 * `compile(..., { backend: 'webgpu' })` can run; `disableNodeWebGPU()` removes
 * every reference again, without which Node would not exit.
 *
 * This file is reached from the browser bundle too (compile → auto), so it
 * imports its Node-only modules lazily, and only in Node: their specifiers
 * are kept out of the bundler's sight (a variable, `@vite-ignore`), so that
 * neither `node:os` nor the native `webgpu` package is bundled for a browser.
 *
 * Dawn's limit notices. Asking Dawn for an adapter makes it print, from
 * native code straight to file descriptor 2, one line per clamped limit for
 * every Vulkan device it enumerates (`Warning: maxDynamicUniformBuffersPer…
 * artificially reduced from 1000000 to 16 …`: llvmpipe, RADV and drivers
 * beside a real GPU alike). Nothing in `create()`'s flags or Dawn's toggles
 * turns that log off (dawn::WarningLog writes unconditionally), and it comes
 * once per instance, synchronously inside `requestAdapter()`. So that one
 * call runs with fd 2 pointed at a temporary file; afterwards fd 2 is
 * restored and whatever else was written there is passed on.
 */
import gpujs from 'gpu.js';
import { fail } from '../../graph/error.js';

/** `import(specifier)` that bundlers leave alone: only ever called in Node. */
const importInNode = <T>(specifier: string): Promise<T> => import(/* @vite-ignore */ specifier) as Promise<T>;

/** What `enableNodeWebGPU` found: whether it made `navigator` itself, and the adapter Dawn offers. */
let state: { created: boolean; adapter: NodeWebGPUAdapter; storageBytes: number | null } | null = null;

/** The adapter behind Node's `navigator.gpu`. */
export interface NodeWebGPUAdapter {
  /** Vendor, device and description, as Dawn reports them. */
  readonly name: string;
  /** A CPU renderer (llvmpipe, SwiftShader, a fallback adapter): slower than the WebAssembly backends. */
  readonly software: boolean;
}

/** The adapter `enableNodeWebGPU` set up, or null before (and in browsers). */
export function nodeWebGPUAdapter(): NodeWebGPUAdapter | null {
  return state?.adapter ?? null;
}

/**
 * The most bytes one storage buffer may hold on the adapter `enableNodeWebGPU`
 * set up (the smaller of its maxStorageBufferBindingSize and maxBufferSize,
 * which gpu.js asks its device for), or null before, and in browsers.
 */
export function nodeWebGPUStorageLimit(): number | null {
  return state?.storageBytes ?? null;
}

/** One of Dawn's limit notices (see the top of this file), with its line end. */
const DAWN_LIMIT_NOTICE = /^Warning: maxDynamic(?:Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?\n?/gm;

/**
 * Run `call` (synchronous native code) with file descriptor 2 captured, then
 * write what it printed there, less Dawn's limit notices, to the real fd 2.
 * Node cannot dup2, so this closes fd 2 and relies on open() taking the
 * lowest free number: it needs fds 0 and 1 open and a stderr that can be
 * reopened through /dev/fd (a tty, pipe or file; not a socket). Elsewhere,
 * and on Windows, `call` runs unfiltered.
 */
export async function withoutDawnNotices<T>(call: () => T): Promise<T> {
  if (typeof process === 'undefined' || !process.versions?.node || process.platform === 'win32') return call();
  const fs = await importInNode<typeof import('node:fs')>('node:fs');
  const os = await importInNode<typeof import('node:os')>('node:os');
  const path = await importInNode<typeof import('node:path')>('node:path');
  let saved: number;
  try {
    fs.fstatSync(0);
    fs.fstatSync(1);
    saved = fs.openSync('/dev/fd/2', 'a');
  } catch {
    return call();
  }
  const capture = path.join(os.tmpdir(), `striate-dawn-${process.pid}-${Date.now()}.log`);
  const restore = (): void => {
    fs.openSync(`/dev/fd/${saved}`, 'a'); // takes number 2 again
    fs.closeSync(saved);
  };
  fs.closeSync(2);
  let captured = false;
  try {
    const fd = fs.openSync(capture, 'w+');
    captured = fd === 2;
    if (!captured) fs.closeSync(fd);
  } catch {
    // could not make the capture file: run unfiltered
  }
  if (!captured) {
    restore();
    fs.rmSync(capture, { force: true });
    return call();
  }
  try {
    return call();
  } finally {
    fs.closeSync(2);
    restore();
    const rest = fs.readFileSync(capture, 'utf8').replace(DAWN_LIMIT_NOTICE, '');
    fs.rmSync(capture, { force: true });
    if (rest) fs.writeSync(2, rest);
  }
}

/** Resolves once `navigator.gpu` works in Node; rejects with the reason when it cannot. */
export async function enableNodeWebGPU(): Promise<void> {
  if (typeof process === 'undefined' || !process.versions?.node) return; // browsers have their own
  if (state) return;
  let mod: { create: (flags: string[]) => unknown; globals: Record<string, unknown> };
  try {
    mod = await importInNode('webgpu');
  } catch (e) {
    const err = e as { code?: string; message?: string };
    if (err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes("'webgpu'")) {
      fail(
        'webgpu',
        'the optional "webgpu" package is not installed; add it with `npm install webgpu` to use WebGPU in Node (it also needs a Vulkan driver; see README, Backends)',
        'no "webgpu" package',
        'the "webgpu" package installed (`npm install webgpu`)',
      );
    }
    const why = String(err.message).split('\n')[0];
    fail('webgpu', `the "webgpu" package is installed but could not be loaded (${why}); \`npm rebuild webgpu\` may help`, `a "webgpu" package that fails to load: ${why}`, 'a "webgpu" package that loads', e);
  }
  const gpu = mod.create([]) as { requestAdapter(): Promise<GpuAdapterLike | null> };
  const adapter = await withoutDawnNotices(() => gpu.requestAdapter()).catch(() => null);
  if (!adapter) {
    fail(
      'webgpu',
      'no WebGPU adapter was found (Dawn needs a Vulkan driver: on Debian 12 install mesa-vulkan-drivers and libvulkan1 from bookworm-backports; see README, Backends)',
      'no WebGPU adapter',
      'a WebGPU adapter (a Vulkan driver for Dawn)',
    );
  }
  Object.assign(globalThis, mod.globals);
  const g = globalThis as unknown as { navigator?: Record<string, unknown> };
  let created = false;
  if (g.navigator === undefined) {
    const os = await importInNode<typeof import('node:os')>('node:os');
    g.navigator = { gpu, hardwareConcurrency: os.availableParallelism() };
    created = true;
  } else {
    Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
  }
  const limits = adapter.limits;
  const storageBytes = limits ? Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize) : NaN;
  state = { created, adapter: describeAdapter(adapter), storageBytes: Number.isFinite(storageBytes) ? storageBytes : null };
}

/**
 * Which adapter Dawn would offer, asked in a short-lived child process whose
 * stderr is dropped, so that Dawn's notices never reach this process's
 * stderr (the fd 2 capture above cannot reopen a socket, which is what a
 * Node parent's piped stderr is). Resolves to the adapter, or to the reason
 * there is none; `'auto'` uses it to leave a software-only WebGPU alone.
 */
export async function probeNodeWebGPUAdapter(): Promise<NodeWebGPUAdapter | string> {
  if (state) return state.adapter;
  const { createRequire } = await importInNode<typeof import('node:module')>('node:module');
  const { pathToFileURL } = await importInNode<typeof import('node:url')>('node:url');
  const { execFile } = await importInNode<typeof import('node:child_process')>('node:child_process');
  let url: string;
  try {
    url = pathToFileURL(createRequire(import.meta.url).resolve('webgpu')).href;
  } catch {
    return 'webgpu: the optional "webgpu" package is not installed; add it with `npm install webgpu` to use WebGPU in Node';
  }
  const script = `const { create } = await import(${JSON.stringify(url)});
    const a = await create([]).requestAdapter().catch(() => null);
    const i = a?.info ?? {};
    process.stdout.write(JSON.stringify(a && { isFallbackAdapter: a.isFallbackAdapter, info: { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description, isFallbackAdapter: i.isFallbackAdapter } }));
    process.exit(0);`;
  const out = await new Promise<string | null>((resolve) =>
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 30_000 }, (err, stdout) => resolve(err ? null : stdout)),
  );
  if (out === null) return 'webgpu: the "webgpu" package could not be loaded or crashed while looking for an adapter';
  const adapter = JSON.parse(out) as GpuAdapterLike | null;
  return adapter ? describeAdapter(adapter) : 'webgpu: no WebGPU adapter was found (Dawn needs a Vulkan driver; see README, Backends)';
}

/** The part of a GPUAdapter read here (`info` since WebGPU 2024; Dawn also sets `isFallbackAdapter`). */
interface GpuAdapterLike {
  readonly limits?: { readonly maxStorageBufferBindingSize: number; readonly maxBufferSize: number };
  readonly info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  readonly isFallbackAdapter?: boolean;
}

function describeAdapter(adapter: GpuAdapterLike): NodeWebGPUAdapter {
  const info = adapter.info ?? {};
  const name = info.description || [info.vendor, info.device].filter((s) => s).join(' ') || 'unnamed adapter';
  const software =
    info.isFallbackAdapter === true ||
    adapter.isFallbackAdapter === true ||
    info.architecture === 'software' ||
    /llvmpipe|lavapipe|swiftshader|software/i.test(name);
  return { name, software };
}

/**
 * Remove `navigator.gpu` again (dispose WebGPU-backed compiled functions
 * first). gpu.js keeps one WebGPU device per process; it is released here
 * too, or enabling WebGPU again in the same process could hang or crash.
 */
export async function disableNodeWebGPU(): Promise<void> {
  if (!state) return;
  const { WebGPUContext } = gpujs as unknown as { WebGPUContext?: { destroy(): Promise<void> | void } };
  await WebGPUContext?.destroy();
  const g = globalThis as unknown as { navigator?: Record<string, unknown> };
  if (state.created) delete g.navigator;
  else if (g.navigator) delete g.navigator.gpu;
  state = null;
}
