/**
 * The adjustments Striate makes to gpu.js's wasm backend
 * (src/backend/gpujs/wasm/tuning.ts) and the integer indexing they serve:
 * a pipeline's kernels keep integer loop counters and index locals in the
 * scalar and the SIMD body (no float-to-int conversion is emitted for a
 * kernel whose indexing is all integer); lane-affine reads are vector loads;
 * modules get a SIMD body (`run_simd`) unless the template marks the kernel
 * scalar.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import gpujs, { GPU } from 'gpu.js';
import { tuneGpuJsWasm } from '../../../../src/backend/gpujs/wasm/tuning.js';
import { WasmFunctionEmitter } from 'gpu.js/src/backend/web-assembly/wasm-builder.js';
import { compile } from '../../../../src/backend/compile.js';
import { intLet, k } from '../../../../src/kernel/source.js';
import { conv2d, input, matmul, maxPool2d, mul, relu, sigmoid, sum } from '../../../../src/index.js';
import { conv2dBackpropInput } from '../../../../src/ops/conv2dBackpropInput.js';
import { randomValues } from '../../../helpers.js';

type EmitterProto = Record<string, (this: unknown, ...a: unknown[]) => unknown>;
const proto = (WasmFunctionEmitter as unknown as { prototype: EmitterProto }).prototype;

describe('gpu.js wasm backend as Striate runs it', () => {
  // Some cases build gpu.js kernels directly, without a compiled graph to
  // apply the adjustments first.
  beforeAll(() => tuneGpuJsWasm(gpujs));
  let conversions = 0;
  let vectorLoads = 0;
  let modules: WebAssembly.Module[] = [];
  const truncSat = proto.i32TruncSatF32S;
  const v128Load = proto.v128Load;
  const OriginalModule = WebAssembly.Module;
  beforeEach(() => {
    conversions = 0;
    vectorLoads = 0;
    modules = [];
    proto.i32TruncSatF32S = function (this: unknown, ...a: unknown[]) {
      conversions++;
      return truncSat.apply(this, a);
    };
    proto.v128Load = function (this: unknown, ...a: unknown[]) {
      vectorLoads++;
      return v128Load.apply(this, a);
    };
    // Record every module gpu.js compiles.
    (WebAssembly as { Module: unknown }).Module = new Proxy(OriginalModule, {
      construct(target, args) {
        const m = new target(args[0] as BufferSource);
        modules.push(m);
        return m;
      },
    });
  });
  afterEach(() => {
    proto.i32TruncSatF32S = truncSat;
    proto.v128Load = v128Load;
    (WebAssembly as { Module: unknown }).Module = OriginalModule;
  });

  it('keeps loop counters and index locals integers inside a fused pipeline', async () => {
    // matmul [4, 8] x [8, 4]: the output index splits by shifts, the loop
    // counter and every address are integers, so nothing converts a float to
    // an int. Without the fix the pipeline's second bytecode walk typed the
    // counter as a float and every read converted.
    const a = input('a', [4, 8]);
    const b = input('b', [8, 4]);
    const f = compile([matmul(a, b)], { backend: 'webasm' });
    const av = Float32Array.from(randomValues(32, 1));
    const bv = Float32Array.from(randomValues(32, 2));
    const [y] = await f.run({ a: av, b: bv });
    await f.dispose();
    expect(modules.length).toBeGreaterThan(0);
    expect(conversions).toBe(0);
    let want = 0;
    for (let t = 0; t < 8; t++) want += av[t] * bv[t * 4];
    expect(y.data[0]).toBeCloseTo(want, 5);
  });

  it('keeps them integers in the SIMD body too, and reads lane-affine indices with vector loads', async () => {
    // The product inside the graph runs on its grid [1, 4, 8]: n is thread.x,
    // b's row is read at `k * 8 + this.thread.x`, a vector load, and the
    // module has a SIMD body. Without clearing the literal cache before the
    // vector walk, its counters and indices were floats again.
    const a = input('a', [4, 8]);
    const b = input('b', [8, 8]);
    const f = compile([mul(matmul(a, b), 2)], { backend: 'webasm' });
    const av = Float32Array.from(randomValues(32, 5));
    const bv = Float32Array.from(randomValues(64, 6));
    const [y] = await f.run({ a: av, b: bv });
    await f.dispose();
    expect(f.plan.map((s) => [s.op, s.grid])).toEqual([
      ['matmul', [1, 4, 8]],
      ['mul', [1, 4, 8]],
    ]);
    expect(modules.every((m) => WebAssembly.Module.exports(m).some((e) => e.name === 'run_simd'))).toBe(true);
    expect(conversions).toBe(0);
    expect(vectorLoads).toBeGreaterThan(0);
    for (const [m, n] of [[0, 0], [3, 7], [2, 5]]) {
      let want = 0;
      for (let t = 0; t < 8; t++) want += av[m * 8 + t] * bv[t * 8 + n];
      expect(y.data[m * 8 + n]).toBeCloseTo(2 * want, 5);
    }
  });

  it('leaves an index with a fractional term to gpu.js (the sum is converted, not each term)', () => {
    // h + h + thread.x reads a[1 + x]; converting each term alone would read a[x].
    const gpu = new GPU({ mode: 'webasm' });
    const kernel = gpu.createKernel(
      function (this: { thread: { x: number } }, a: number[]) {
        const h = 0.5;
        return a[h + h + this.thread.x];
      },
      { output: [8] },
    );
    const a = Float32Array.from({ length: 9 }, (_, j) => 10 + j);
    const got = Array.from(kernel(a) as Float32Array);
    expect(modules.some((m) => WebAssembly.Module.exports(m).some((e) => e.name === 'run_simd'))).toBe(true);
    expect(got).toEqual([11, 12, 13, 14, 15, 16, 17, 18]);
    gpu.destroy();
  });

  it('guards the vector loads after a lane-divergent return (the retired lanes still run the code)', () => {
    // Lane 0 returns early; the read after it is at index -1 for that lane,
    // which an unguarded vector load would take as a huge address and trap on.
    const gpu = new GPU({ mode: 'webasm' });
    const kernel = gpu.createKernel(
      function (this: { thread: { x: number } }, a: number[]) {
        if (this.thread.x < 1) {
          return -1;
        }
        return a[this.thread.x - 1];
      },
      { output: [8] },
    );
    const a = Float32Array.from({ length: 8 }, (_, j) => 10 + j);
    const got = Array.from(kernel(a) as Float32Array);
    expect(modules.some((m) => WebAssembly.Module.exports(m).some((e) => e.name === 'run_simd'))).toBe(true);
    expect(got).toEqual([-1, 10, 11, 12, 13, 14, 15, 16]);
    gpu.destroy();
  });

  it('builds a scalar module for a kernel its template marks scalar', async () => {
    // A strided, dilated input gradient (which the wasm rewrites leave
    // strided) keeps its per-column border tests, which run lane-masked (by
    // gathers) in SIMD: its template marks it scalar.
    const dy = input('dy', [2, 3, 3, 3]);
    const w = input('w', [3, 2, 3, 3]);
    const f = compile([conv2dBackpropInput(dy, w, { inputShape: [2, 2, 9, 9], stride: 2, dilation: 2 })], { backend: 'webasm' });
    await f.run({ dy: Float32Array.from(randomValues(54, 3)), w: Float32Array.from(randomValues(54, 4)) });
    await f.dispose();
    expect(f.plan.map((s) => s.op)).toEqual(['conv2dBackpropInput']);
    expect(modules.length).toBe(1);
    const names = WebAssembly.Module.exports(modules[0]).map((e) => e.name);
    expect(names).toContain('run');
    expect(names).not.toContain('run_simd');
  });

  it('runs a kernel on the grid of its output, graph outputs included where their rows are 4k wide, unless it never reads the grid', () => {
    const x = input('x', [2, 3, 10, 10]);
    const w = input('w', [4, 3, 3, 3]);
    const h = conv2d(x, w);
    const f = compile([relu(h), maxPool2d(h, { size: 2 }), maxPool2d(h, { size: 3, stride: 2 })], { backend: 'webasm' });
    // In the memory scheduler's order (backend/schedule.ts): compared as a set.
    const sorted = <T,>(rows: T[]): T[] => rows.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
    expect(sorted(f.plan.map((s) => [s.op, s.cells, s.grid]))).toEqual(sorted([
      ['conv2d', 2 * 4 * 8 * 8, [8, 8, 8]],
      ['relu', 2 * 4 * 8 * 8, null], // its body only needs i: flat
      ['maxPool2d', 2 * 4 * 4 * 4, [8, 4, 4]], // a graph output, rows 4 wide: on its grid
      ['maxPool2d', 2 * 4 * 3 * 3, null], // a graph output, rows 3 wide: flat
    ]));
    const g = compile([sum(sigmoid(h))], { backend: 'webasm' });
    // sigmoid is internal, but its body only needs i: flat
    expect(g.plan.map((s) => [s.op, s.grid])).toEqual([
      ['conv2d', [8, 8, 8]],
      ['sigmoid', null],
      ['sum', null],
    ]);
    expect(compile([relu(h)], { backend: 'cpu' }).plan.every((s) => s.grid === null)).toBe(true);
  });

  it('spells an integer local the way gpu.js types as an integer, and a plain const elsewhere', () => {
    expect(intLet(true, k`n`, k`i * 2`).text).toBe('let n = 0;\n  n++;\n  n = i * 2;');
    expect(intLet(false, k`n`, k`i * 2`).text).toBe('const n = i * 2;');
  });
});
