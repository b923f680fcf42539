/** gpu.js's wasm bytecode builder, which test/backend/gpujs/wasm/tuning.test.ts spies on (gpu.js ships no types for it). */
declare module 'gpu.js/src/backend/web-assembly/wasm-builder.js' {
  export const WasmFunctionEmitter: { prototype: object };
}
