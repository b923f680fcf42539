/**
 * Which of Striate's backends work in this browser, and why not when they
 * don't. `unavailableReason` answers from what the page exposes; WebGPU also
 * needs an adapter, which only an (asynchronous) request can tell.
 */
import { type GpuJsBackend, unavailableReason } from 'striate';

/** The gpu.js backends a browser can have, fastest kind first. */
export const browserBackends = ['webgpu', 'webgl2', 'webgl', 'webasm-threads', 'webasm', 'cpu'] as const satisfies readonly GpuJsBackend[];
export type BrowserBackend = (typeof browserBackends)[number];

/** Null when `backend` can run in this page, else the reason it cannot. */
export async function browserUnavailableReason(backend: BrowserBackend): Promise<string | null> {
  const reason = unavailableReason(backend);
  if (reason !== null || backend !== 'webgpu') return reason;
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu!;
  const adapter = await gpu.requestAdapter().catch((e: Error) => e);
  if (adapter instanceof Error) return `navigator.gpu.requestAdapter() failed: ${adapter.message}`;
  return adapter
    ? null
    : 'navigator.gpu.requestAdapter() found no adapter (WebGPU is off or blocked for this GPU; on Linux Chrome needs --enable-unsafe-webgpu)';
}

/** Renderer names of GPUs emulated on the CPU: Chromium's SwiftShader, Mesa's llvmpipe and softpipe, Windows' WARP (Basic Render Driver). */
const SOFTWARE_RENDERER = /swiftshader|llvmpipe|softpipe|software|basic render driver/i;

/**
 * For a GPU backend whose adapter is a software renderer, its name; else
 * null. A software GPU runs shaders on the CPU, far slower than wasm (about
 * 20× for LeNet-5 on SwiftShader), and compiling a network's shaders there
 * keeps the page busy for seconds, so the demo does not time it.
 */
export async function softwareRenderer(backend: BrowserBackend): Promise<string | null> {
  if (backend === 'webgl2' || backend === 'webgl') {
    const canvas = document.createElement('canvas');
    const gl: WebGLRenderingContext | WebGL2RenderingContext | null = backend === 'webgl2' ? canvas.getContext('webgl2') : canvas.getContext('webgl');
    if (!gl) return null;
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    const renderer = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
    gl.getExtension('WEBGL_lose_context')?.loseContext();
    return SOFTWARE_RENDERER.test(renderer) ? renderer : null;
  }
  if (backend === 'webgpu') {
    type AdapterInfo = { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
    const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<{ info?: AdapterInfo; isFallbackAdapter?: boolean } | null> } }).gpu;
    const adapter = await gpu?.requestAdapter().catch(() => null);
    if (!adapter) return null;
    const info = adapter.info ?? {};
    const name = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ');
    if (SOFTWARE_RENDERER.test(name)) return name;
    return info.isFallbackAdapter || adapter.isFallbackAdapter ? `a fallback adapter (${name || 'unnamed'})` : null;
  }
  return null;
}
