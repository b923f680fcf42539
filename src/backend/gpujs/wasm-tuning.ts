/**
 * Two adjustments to gpu.js 2.24's WebAssembly backend, applied once, before
 * any kernel is built, in Node and in browsers alike (both of gpu.js's builds
 * export the two classes touched here). They change the gpu.js module itself,
 * so other gpu.js kernels in the same process get them too: the first fixes
 * a bug, the second makes their wasm modules scalar.
 *
 * 1. Integer locals that stay integers. gpu.js types a local as a wasm i32
 *    only when it is declared with an integer literal and incremented with
 *    `++` somewhere (loop counters, and Striate's `intLet` declarations);
 *    every other local is an f32, and every array index computed from an f32
 *    costs a float add and an `i32.trunc_sat_f32_s` per read. The first
 *    bytecode walk of a kernel gets this right, but it records each literal
 *    it emitted as 'Integer' in a per-function cache, and every later walk
 *    (a fused pipeline always walks again, against its shared memory layout)
 *    then sees the declaration's `0` as an Integer *value*, which gpu.js
 *    decays to an f32 local. So every counter and index in a pipeline was a
 *    float. Clearing the cache before each scalar walk makes every walk type
 *    the function exactly as the first one did. (The SIMD walk that follows
 *    a scalar walk reads the cache without writing it, as before.)
 *
 * 2. Scalar wasm. gpu.js vectorises a kernel four output cells at a time,
 *    but wasm has no gather, so each array read with a per-cell index is
 *    four scalar loads and lane inserts; with integer indexing the scalar
 *    code is faster for every kernel Striate emits (LeNet-5's second
 *    convolution: 39 ms SIMD, 21 ms scalar, one thread). gpu.js decides per
 *    module from `WebAssemblyKernel.isSIMDSupported`, which is pinned false.
 *
 * Both are checked by test/backend/wasm-tuning.test.ts: the first by looking
 * for float-to-int conversions in a compiled module, the second by the path
 * gpu.js reports.
 */

interface FunctionNodeProto {
  emitFunction(this: { literalTypes: Record<string, string> }, assembler: unknown): unknown;
}

interface GpuJsWasmClasses {
  WebAssemblyFunctionNode?: { prototype: FunctionNodeProto };
  WebAssemblyKernel?: object;
}

const applied = new WeakSet<object>();

/** Apply both adjustments to the gpu.js module object `gpujs` (idempotent). */
export function tuneGpuJsWasm(gpujs: unknown): void {
  const lib = gpujs as GpuJsWasmClasses;
  const node = lib.WebAssemblyFunctionNode;
  const kernel = lib.WebAssemblyKernel;
  if (!node || !kernel || typeof node.prototype.emitFunction !== 'function') {
    throw new Error('striate: this gpu.js build does not export WebAssemblyFunctionNode/WebAssemblyKernel; Striate needs gpu.js 2.24');
  }
  if (applied.has(node)) return;
  applied.add(node);
  const emitFunction = node.prototype.emitFunction;
  node.prototype.emitFunction = function (assembler) {
    this.literalTypes = {};
    return emitFunction.call(this, assembler);
  };
  Object.defineProperty(kernel, 'isSIMDSupported', { configurable: true, get: () => false });
}
