/**
 * One adjustment to gpu.js 2.24's GL kernels (headlessgl, webgl2, webgl),
 * applied once, when a compiled graph first asks for a GL backend (acquireGpu
 * in ./gpu.ts), in Node and in browsers alike. Like wasm/tuning.ts it changes
 * the gpu.js module itself, so other gpu.js GL kernels in the process get it
 * too.
 *
 * **One vertex buffer per context.** Every gpu.js GL kernel draws the same
 * full-screen quad. Its `build()` creates a vertex buffer of its own, fills it
 * with the quad and points the `aPos` and `aTexCoord` attributes at it; its
 * `run()` never points them again. Vertex attribute pointers are state of the
 * context, not of a program (WebGL 1 has no vertex array objects, and gpu.js
 * uses none on WebGL 2), so every kernel draws from the buffer of the
 * kernel built last. Destroying that kernel deletes the buffer under every
 * other kernel: their draws then read no vertices, leave their output
 * textures as they were, and each later run returns the previous run's
 * values without a word. (Striate met this as "a disposed graph makes the
 * live ones stale", and until this patch deferred every GL pipeline's
 * destruction until no graph used the context, so with one long-lived graph
 * the memory of every disposed one stayed.)
 *
 * The patch hands every kernel of a context one shared buffer before it
 * builds (gpu.js's build reuses `this.buffer` when it is set, binding it and
 * writing the same quad into it), and takes it away before a kernel is
 * destroyed, so a kernel's destruction never deletes it. The buffer lives as
 * long as its context (a WeakMap keyed by the context). Tested by
 * test/backend/dispose.test.ts, which fails without it on headlessgl.
 */

/** The part of a gpu.js GL kernel this patch reads and writes. */
interface GlKernelLike {
  context?: WebGLRenderingContext | null;
  buffer?: WebGLBuffer | null;
}

interface GlKernelClass {
  prototype: {
    build(this: GlKernelLike, ...args: unknown[]): unknown;
    destroy(this: GlKernelLike, removeCanvasReferences?: boolean): unknown;
  };
}

const PATCHED = Symbol.for('striate.gl.sharedVertexBuffer');

/** The shared quad buffer of each GL context. */
const buffers = new WeakMap<object, WebGLBuffer>();

function sharedBuffer(gl: WebGLRenderingContext): WebGLBuffer | null {
  let buffer = buffers.get(gl);
  if (buffer === undefined) {
    const created = gl.createBuffer();
    if (created === null) return null; // a lost context: let gpu.js make (and fail on) its own
    // gpu.js's build sizes a buffer only when it creates one; this one gets
    // the size it gives: 4 vertices and 4 texture coordinates of 2 floats.
    gl.bindBuffer(gl.ARRAY_BUFFER, created);
    gl.bufferData(gl.ARRAY_BUFFER, 2 * 8 * Float32Array.BYTES_PER_ELEMENT, gl.STATIC_DRAW);
    buffers.set(gl, created);
    buffer = created;
  }
  return buffer;
}

/**
 * Make gpu.js's GL kernels share one vertex buffer per context (see the file
 * comment). Idempotent; `gpujs` is the gpu.js module (its `WebGLKernel`
 * class, from which the WebGL 2 and headless-gl kernels inherit build and
 * destroy).
 */
export function tuneGpuJsGl(gpujs: unknown): void {
  const kernel = (gpujs as { WebGLKernel?: GlKernelClass }).WebGLKernel;
  if (!kernel) throw new Error('gpu.js has no WebGLKernel class: the GL backends cannot be patched (a gpu.js version Striate does not know)');
  const proto = kernel.prototype as GlKernelClass['prototype'] & { [PATCHED]?: true };
  if (proto[PATCHED]) return;
  const build = proto.build;
  const destroy = proto.destroy;
  proto.build = function (this: GlKernelLike, ...args: unknown[]) {
    if (!this.buffer && this.context) this.buffer = sharedBuffer(this.context);
    return build.apply(this, args);
  };
  proto.destroy = function (this: GlKernelLike, removeCanvasReferences?: boolean) {
    if (this.context && this.buffer && buffers.get(this.context) === this.buffer) this.buffer = null;
    return destroy.call(this, removeCanvasReferences);
  };
  proto[PATCHED] = true;
}
