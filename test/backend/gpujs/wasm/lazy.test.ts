/**
 * The gpu.js patch (src/backend/gpujs/wasm/tuning.ts) is applied when a
 * wasm backend is first used, not on `import 'striate'`: a process that only
 * runs the reference backend, or gpu.js's other modes, keeps gpu.js as it
 * ships. And a gpu.js whose internals are not the ones the patch adjusts is
 * refused with a message, not patched blindly. (Its own file, so that no
 * other test has used a wasm backend in this module graph first.)
 */
import { describe, expect, it } from 'vitest';
import gpujs from 'gpu.js';
import { compile, input, mul } from '../../../../src/index.js';
import { isGpuJsWasmTuned, tuneGpuJsWasm } from '../../../../src/backend/gpujs/wasm/tuning.js';

describe('the gpu.js wasm patch', () => {
  it('is applied when a wasm backend is first used, not on import', async () => {
    expect(isGpuJsWasmTuned(gpujs)).toBe(false);
    const x = input('x', [4]);
    const y = mul(x, 2);
    const onReference = compile([y], { backend: 'reference' });
    await onReference.run({ x: [1, 2, 3, 4] });
    const onCpu = compile([y], { backend: 'cpu' });
    await onCpu.run({ x: [1, 2, 3, 4] });
    await onCpu.dispose();
    expect(isGpuJsWasmTuned(gpujs)).toBe(false);
    const onWasm = compile([y], { backend: 'webasm' });
    expect(isGpuJsWasmTuned(gpujs)).toBe(true);
    const [out] = await onWasm.run({ x: [1, 2, 3, 4] });
    expect(Array.from(out.data)).toEqual([2, 4, 6, 8]);
    await onWasm.dispose();
  });

  it('refuses a gpu.js whose wasm internals it does not know, with a clear message', () => {
    expect(() => tuneGpuJsWasm({})).toThrow('this gpu.js build lacks the WebAssembly backend internals Striate adjusts; Striate needs gpu.js 2.24.1');
    const renamed = { ...(gpujs as object), WebAssemblyKernel: class {} };
    expect(() => tuneGpuJsWasm(renamed)).toThrow('Striate needs gpu.js 2.24.1');
  });
});
