/**
 * The gpu.js instances behind Striate's device backends, and the checks that
 * turn gpu.js's silent fallbacks into errors.
 *
 * gpu.js degrades quietly in several places: `mode: 'webasm'` runs a kernel
 * it cannot compile on the cpu backend, a pipeline's fused executor declines
 * a plan and runs the generic one, headless-gl is an optional dependency
 * whose failed build leaves Node without GL, and WebGPU needs an adapter.
 * Striate asks for exactly the backend named and checks what ran.
 */
import gpujs from 'gpu.js';
import { fail } from '../../graph/error.js';
import { type Grid, intLet, k, type Src } from '../../kernel/source.js';
import { disposedError, type SizeLimit, TYPED_ARRAY_LIMIT } from '../compiled.js';
import { nodeWebGPUStorageLimit } from './node-webgpu.js';
import { tuneGpuJsGl } from './gl-tuning.js';
import { tuneGpuJsWasm } from './wasm/tuning.js';

const { GPU } = gpujs as unknown as { GPU: GpuStatic };

/**
 * The gpu.js backends, by the name `compile` takes: `'cpu'` (gpu.js's
 * JavaScript backend), `'webasm'` and `'webasm-threads'` (WebAssembly, one
 * thread or a worker pool), `'headlessgl'` (Node, the optional `gl`
 * package), `'webgpu'` (browsers; Node with the optional `webgpu` package),
 * and `'webgl2'` and `'webgl'` (browsers). {@link unavailableReason} says
 * whether one can run here. See the README, Backends.
 */
export type GpuJsBackend = 'cpu' | 'webasm' | 'webasm-threads' | 'headlessgl' | 'webgpu' | 'webgl2' | 'webgl';

export const gpuJsBackends: readonly GpuJsBackend[] = ['cpu', 'webasm', 'webasm-threads', 'headlessgl', 'webgpu', 'webgl2', 'webgl'];

interface GpuStatic {
  new (settings: { mode: string }): GpuInstance;
  readonly isHeadlessGLSupported: boolean;
  readonly isWebGPUSupported: boolean;
  readonly isWebGL2Supported: boolean;
  readonly isWebGLSupported: boolean;
  readonly isWebAssemblySupported?: boolean;
}

interface GpuInstance {
  /** The kernel class of the mode (its `features` hold the GL limits). */
  readonly Kernel?: { readonly features?: { readonly maxTextureSize?: number } | null } | null;
  createKernel(source: string, settings: object): KernelFn;
  createPipeline(fn: (...args: unknown[]) => unknown, settings?: object): GpuPipeline;
  readonly pipelines?: unknown[];
  destroy(): void;
}

type KernelFn = ((...args: unknown[]) => unknown) & { destroy?: () => void };

/** A gpu.js pipeline: a compiled graph's plan, run with its arguments. */
export interface GpuPipeline {
  (...args: unknown[]): Promise<unknown>;
  destroy(): Promise<unknown> | void;
  readonly executorKind?: string;
  readonly backend?: string;
  readonly fallbackReason?: string | null;
}

/** Whether `backend` is one of gpu.js's WebAssembly backends (integer indexing, tuned kernels, the patch in wasm/tuning.ts). */
export function isWasmBackend(backend: GpuJsBackend): boolean {
  return backend === 'webasm' || backend === 'webasm-threads';
}

/** Whether Node can find the `gl` package from here, or null when it cannot be told. */
function glInstalled(): boolean | null {
  const getBuiltinModule = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (typeof getBuiltinModule !== 'function') return null;
  const { createRequire } = getBuiltinModule('node:module') as typeof import('node:module');
  try {
    createRequire(import.meta.url).resolve('gl');
    return true;
  } catch {
    return false;
  }
}

/** Why headless-gl does not start in this Node process, as precisely as can be told. */
function headlessGlProblem(): string {
  const installed = glInstalled();
  if (installed === false) {
    return 'the "gl" package is not installed: it is an optional peer dependency of striate; add it with `npm install gl@8.1.6` ' +
      '(it compiles ANGLE when no prebuilt binary fits; see README, Backends), and run under an X display (`xvfb-run -a`)';
  }
  if (!process.env.DISPLAY) return 'there is no X display (DISPLAY is unset): run under `xvfb-run -a`, which headless-gl needs even without a screen';
  return 'the "gl" package is installed but does not start: its native build may have failed or be missing ' +
    '(`npm rebuild gl --foreground-scripts` shows why; see README, Backends)';
}

/** Why `backend` cannot run here, or null when it can (as far as can be told without running a kernel). */
export function unavailableReason(backend: GpuJsBackend): string | null {
  const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';
  switch (backend) {
    case 'cpu':
      return null;
    case 'webasm':
      return typeof WebAssembly === 'object' ? null : 'WebAssembly is not available in this JavaScript engine';
    case 'webasm-threads':
      if (typeof WebAssembly !== 'object') return 'WebAssembly is not available in this JavaScript engine';
      if (typeof SharedArrayBuffer === 'undefined') {
        return 'SharedArrayBuffer is not available (a browser page needs the cross-origin isolation headers COOP: same-origin and COEP: require-corp)';
      }
      return null;
    case 'headlessgl':
      if (!isNode) return 'headlessgl runs only in Node; use "webgl2" in a browser';
      return GPU.isHeadlessGLSupported ? null : headlessGlProblem();
    case 'webgpu':
      return GPU.isWebGPUSupported
        ? null
        : isNode
          ? 'navigator.gpu is not set up: WebGPU in Node needs the optional "webgpu" package (`npm install webgpu`), a Vulkan driver, ' +
            'and `await enableNodeWebGPU()` before compile (the CLI and backend "auto" do this themselves; see README, Backends)'
          : 'this browser does not expose navigator.gpu (WebGPU)';
    case 'webgl2':
      if (isNode) return 'webgl2 runs only in a browser; use "headlessgl" in Node';
      return GPU.isWebGL2Supported ? null : 'this browser has no WebGL2 context';
    case 'webgl':
      if (isNode) return 'webgl runs only in a browser; use "headlessgl" in Node';
      return GPU.isWebGLSupported ? null : 'this browser has no WebGL context';
  }
}

export interface GpuHandle {
  /** Whether kernels on this backend index with integer locals (KernelContext.ints). */
  readonly ints: boolean;
  /** The most elements one tensor may have here, and why (checked when a graph compiles). */
  readonly limit: SizeLimit;
  /** The kernel for `source` on a thread grid [z, y, x] (see gridOf; [1, 1, n] is a flat one). */
  kernel(source: Src, grid: Grid, inputs: number): KernelFn;
  pipeline(fn: (...args: unknown[]) => unknown): GpuPipeline;
  /**
   * Give this handle up, destroying `pipeline` (the compiled graph's plan).
   * Settles once its device memory is released.
   */
  release(pipeline: GpuPipeline | null): Promise<void>;
}

/** A cached kernel and how many live compiled graphs use it. */
interface CachedKernel {
  readonly fn: KernelFn;
  users: number;
}

interface SharedGpu {
  gpu: GpuInstance;
  users: number;
  /** Kernels by grid and source: those in use, and up to IDLE_KERNELS unused ones, least recently released first. */
  kernels: Map<string, CachedKernel>;
}

const glFamily = (b: GpuJsBackend): boolean => b === 'headlessgl' || b === 'webgl2' || b === 'webgl';

const shared = new Map<GpuJsBackend, SharedGpu>();

/** The gpu.js mode behind each backend name. */
const modeOf: Record<GpuJsBackend, string> = {
  cpu: 'cpu',
  webasm: 'webasm',
  'webasm-threads': 'webasm',
  headlessgl: 'headlessgl',
  webgpu: 'webgpu',
  webgl2: 'webgl2',
  webgl: 'webgl',
};

/**
 * How many kernels no live graph uses are kept per backend, for the next
 * graph of the same shapes (an evaluation graph compiled again, say); the
 * least recently released beyond this bound are destroyed. Kernels a live
 * graph uses are never evicted, so the cache holds the live graphs' kernels
 * plus at most this many.
 */
export const IDLE_KERNELS = 32;

/**
 * A reference-counted gpu.js instance for `backend`, with a kernel cache
 * shared by every compiled graph (see IDLE_KERNELS for its bound).
 */
export function acquireGpu(backend: GpuJsBackend): GpuHandle {
  const reason = unavailableReason(backend);
  if (reason) fail('compile', `backend "${backend}" is not available: ${reason}`, `backend "${backend}"`, 'a backend available here (see unavailableReason)');
  // The wasm backends' adjustments to gpu.js, made when one is first used
  // (they change the shared gpu.js module: see wasm/tuning.ts).
  if (isWasmBackend(backend)) tuneGpuJsWasm(gpujs);
  // The GL backends' one, which lets a disposed graph's kernels go at once (gl-tuning.ts).
  if (glFamily(backend)) tuneGpuJsGl(gpujs);
  let entry = shared.get(backend);
  if (!entry) {
    entry = { gpu: new GPU({ mode: modeOf[backend] }), users: 0, kernels: new Map() };
    shared.set(backend, entry);
  }
  entry.users++;
  // Dropped on release, so that a disposed graph pins neither the instance nor its kernels.
  let e: SharedGpu | null = entry;
  const used = new Set<string>();
  const ints = isWasmBackend(backend);
  const live = (): SharedGpu => {
    if (e === null) throw disposedError();
    return e;
  };
  return {
    ints,
    limit: sizeLimit(backend, entry.gpu),
    kernel(source, grid, inputs) {
      const cache = live();
      const key = `${grid.join('x')}|${source.text}`;
      let cached = cache.kernels.get(key);
      if (!cached) {
        const [z, y, x] = grid;
        if (!ints && (z !== 1 || y !== 1)) throw new Error(`compile: backend "${backend}" runs flat kernels only, got a grid [${grid}] (a bug in Striate)`);
        const fn = cache.gpu.createKernel(wrap(source, inputs, ints, grid).text, {
          output: z === 1 && y === 1 ? [x] : [x, y, z],
          // Every loop bound is a literal from a validated shape; never let gpu.js cap it.
          loopMaxIterations: 1 << 30,
          precision: 'single',
          tactic: 'precision',
          dynamicOutput: false,
          dynamicArguments: false,
        });
        cached = { fn, users: 0 };
      }
      // (Re)inserted: the map's order is the order idle kernels are evicted in.
      cache.kernels.delete(key);
      cache.kernels.set(key, cached);
      if (!used.has(key)) {
        used.add(key);
        cached.users++;
      }
      return cached.fn;
    },
    pipeline(fn) {
      return live().gpu.createPipeline(fn, backend === 'webasm' ? { threads: false } : {});
    },
    async release(pipeline) {
      if (e === null) return;
      const cache = e;
      e = null;
      cache.users--;
      for (const key of used) {
        const cached = cache.kernels.get(key)!;
        cached.users--;
        // Last released, last evicted.
        cache.kernels.delete(key);
        cache.kernels.set(key, cached);
      }
      used.clear();
      if (pipeline !== null) await pipeline.destroy();
      evictIdleKernels(cache);
    },
  };
}

/** Bytes of one wasm32 memory: 65,536 pages of 64 KiB. */
export const WASM_MEMORY_BYTES = 2 ** 32;

/** Pages gpu.js's wasm modules declare beyond their data (web-assembly/kernel.js, _assembleModule). */
export const WASM_SPARE_PAGES = 16;

/**
 * Flat indices on the GL and WebGPU backends are float32: exact integers up
 * to 2^24, but decoding one into coordinates divides in floats, which is
 * exact only below 2^22 (kernel/source.ts, decode). Beyond that a kernel
 * reads or writes the wrong element without a word, so larger tensors are
 * refused there.
 */
const FLOAT_INDEX_LIMIT = 2 ** 22;

/** What one tensor may hold on `backend`, the instance's own limits read where it has them. */
function sizeLimit(backend: GpuJsBackend, gpu: GpuInstance): SizeLimit {
  const floatIndex = { elements: FLOAT_INDEX_LIMIT, why: 'its kernels index with float32, whose decoded flat indices are exact only below 2^22' };
  switch (backend) {
    case 'cpu':
      return { elements: TYPED_ARRAY_LIMIT, why: 'a JavaScript typed array holds at most 2^32 elements' };
    case 'webasm':
    case 'webasm-threads':
      return {
        elements: Math.floor((WASM_MEMORY_BYTES - WASM_SPARE_PAGES * 65536) / 4),
        why: 'a wasm32 memory addresses 4 GiB, of which gpu.js keeps 1 MiB, and holds float32 values',
      };
    case 'headlessgl':
    case 'webgl2':
    case 'webgl': {
      // A kernel's output is a texture of one float32 per texel, at most maxTextureSize on a side.
      const side = gpu.Kernel?.features?.maxTextureSize;
      return side !== undefined && side * side < FLOAT_INDEX_LIMIT
        ? { elements: side * side, why: `this GL context's textures are at most ${side} x ${side} texels, one value each` }
        : floatIndex;
    }
    case 'webgpu': {
      // Each tensor is one storage buffer; gpu.js asks the device for the adapter's own limit
      // (known in Node once enableNodeWebGPU has run; elsewhere the 128 MiB every device has).
      const bytes = nodeWebGPUStorageLimit() ?? 2 ** 27;
      return bytes / 4 < FLOAT_INDEX_LIMIT
        ? { elements: Math.floor(bytes / 4), why: `this WebGPU device binds at most ${bytes} bytes per storage buffer (maxStorageBufferBindingSize, maxBufferSize)` }
        : floatIndex;
    }
  }
}

/** Destroy the least recently released kernels no live graph uses, beyond IDLE_KERNELS. */
function evictIdleKernels(cache: SharedGpu): void {
  let idle = 0;
  for (const c of cache.kernels.values()) if (c.users === 0) idle++;
  for (const [key, c] of cache.kernels) {
    if (idle <= IDLE_KERNELS) break;
    if (c.users > 0) continue;
    c.fn.destroy?.();
    cache.kernels.delete(key);
    idle--;
  }
}

/**
 * For tests: per backend with a gpu.js instance, the compiled graphs using
 * it, and its cached kernels, in use and idle.
 */
export function gpuCacheStats(): Partial<Record<GpuJsBackend, { users: number; kernels: number; idle: number }>> {
  const stats: Partial<Record<GpuJsBackend, { users: number; kernels: number; idle: number }>> = {};
  for (const [backend, entry] of shared) {
    const idle = [...entry.kernels.values()].filter((c) => c.users === 0).length;
    stats[backend] = { users: entry.users, kernels: entry.kernels.size, idle };
  }
  return stats;
}

/** Destroy every gpu.js instance no compiled graph uses any more (kernels included). */
export function releaseIdleGpus(): void {
  for (const [backend, entry] of shared) {
    if (entry.users === 0) {
      for (const { fn } of entry.kernels.values()) fn.destroy?.();
      entry.gpu.destroy();
      shared.delete(backend);
    }
  }
}

/**
 * Device buffers held right now by live compiled graphs, over every backend:
 * each gpu.js pipeline holds one buffer per plan slot (intermediates share
 * slots after their last use). Returns to its earlier value when the graphs
 * are disposed.
 */
export function liveDeviceTensors(): number {
  let n = 0;
  for (const { gpu } of shared.values()) {
    const pipelines = (gpu as unknown as { pipelines?: { plan?: { buffers?: unknown[] } | null }[] }).pipelines ?? [];
    for (const p of pipelines) n += p.plan?.buffers?.length ?? 0;
  }
  return n;
}

/** The whole kernel function: parameters x0..x{n-1}, the flat output index i (an integer local with `ints`; from the thread ids on a grid), the op's body. */
function wrap(body: Src, inputs: number, ints: boolean, [z, y, x]: Grid): Src {
  const index = z === 1 && y === 1 ? k`this.thread.x` : k`this.thread.x + ${x} * (this.thread.y + ${y} * this.thread.z)`;
  return k`function(${paramList(inputs)}) {
  ${intLet(ints, k`i`, index)}
  ${body}
}`;
}

function paramList(n: number): Src {
  const parts = Array.from({ length: n }, (_, i) => k`x${i}`);
  return parts.reduce((acc, p, i) => (i === 0 ? p : k`${acc}, ${p}`), k``);
}

/**
 * After the first run: check that the pipeline ran on the backend that was
 * asked for, in the way asked for, and fail loudly otherwise.
 */
export function expectedExecution(backend: GpuJsBackend, pipeline: GpuPipeline, largestStep: number): void {
  const ran = pipeline.backend;
  const kind = pipeline.executorKind;
  // gpu.js names the mode of the kernels that ran; its GL kernel classes
  // (headless and browser alike) report their family name 'gpu'.
  const accepted = backend === 'headlessgl' || backend === 'webgl2' || backend === 'webgl' ? [modeOf[backend], 'gpu'] : [modeOf[backend]];
  // fallbackReason is also set when nothing fell back (a GL or cpu plan is
  // "not fused" by design), so it is only quoted, never used as the test.
  const why = pipeline.fallbackReason ? ` (gpu.js says: ${pipeline.fallbackReason})` : '';
  if (ran !== undefined && !accepted.includes(ran)) {
    throw new Error(`run: backend "${backend}" was asked for, but gpu.js ran the graph on "${ran}"${why}`);
  }
  if (backend === 'webasm' && kind !== 'fused-sync') {
    throw new Error(`run: backend "webasm" expected gpu.js's fused wasm executor, but it used "${kind}"${why}`);
  }
  // gpu.js splits a plan across workers only when its largest step has at
  // least two workers' worth (2 x 4096) of cells; smaller plans run fused on
  // the calling thread by design, which is not a fallback.
  const threadable = largestStep >= 2 * 4096;
  if (backend === 'webasm-threads' && (threadable ? kind !== 'fused-threaded' : !kind?.startsWith('fused'))) {
    throw new Error(`run: backend "webasm-threads" expected gpu.js's threaded wasm executor, but it used "${kind}"${why}`);
  }
}
