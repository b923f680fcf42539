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
 */
import gpujs from 'gpu.js';

/** `import(specifier)` that bundlers leave alone: only ever called in Node. */
const importInNode = <T>(specifier: string): Promise<T> => import(/* @vite-ignore */ specifier) as Promise<T>;

let state: { created: boolean } | null = null;

/** Resolves once `navigator.gpu` works in Node; rejects with the reason when it cannot. */
export async function enableNodeWebGPU(): Promise<void> {
  if (typeof process === 'undefined' || !process.versions?.node) return; // browsers have their own
  if (state) return;
  let mod: { create: (flags: string[]) => unknown; globals: Record<string, unknown> };
  try {
    mod = await importInNode('webgpu');
  } catch (e) {
    throw new Error(`webgpu: the optional "webgpu" package could not be loaded (${(e as Error).message.split('\n')[0]})`);
  }
  const gpu = mod.create([]) as { requestAdapter(): Promise<unknown> };
  const adapter = await gpu.requestAdapter().catch(() => null);
  if (!adapter) {
    throw new Error(
      'webgpu: no WebGPU adapter was found (Dawn needs a Vulkan driver: on Debian 12 install mesa-vulkan-drivers and libvulkan1 from bookworm-backports; see README, Backends)',
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
  state = { created };
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
