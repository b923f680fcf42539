/**
 * What compile refuses before it builds anything: arguments that are not
 * tensors or options, and graphs with a tensor larger than the backend can
 * address (stated in the error), on every backend.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/backend/compile.js';
import type { BackendName } from '../../src/backend/compiled.js';
import { releaseIdleGpus } from '../../src/backend/gpujs/gpu.js';
import { disableNodeWebGPU } from '../../src/backend/gpujs/node-webgpu.js';
import { add, broadcastTo, input, matmul, mul, relu, type Tensor, transpose } from '../../src/index.js';
import { backendStatuses, unavailableBackendTest } from './backends.js';
import { striateError } from '../helpers.js';

const statuses = await backendStatuses();

afterAll(async () => {
  releaseIdleGpus();
  await disableNodeWebGPU();
});


describe('compile arguments', () => {
  const t = relu(input('x', [2]));

  it.each([
    ['null', null, 'null'],
    ['a string', 'x', 'string "x"'],
    ['a number', 3, 'number 3'],
    ['an object', {}, 'an object with keys (none)'],
    ['an array with a number', [t, 3], 'output 1: number 3'],
    ['an empty array', [], 'an empty array'],
  ])('refuses %s as outputs', (_, outputs, got) => {
    const e = striateError(() => compile(outputs as never));
    expect(e).toMatchObject({ op: 'compile', got, expected: 'a Tensor or an array of Tensors' });
  });

  it.each([
    ['null', null, 'null'],
    ['a backend name', 'webasm', 'string "webasm"'],
    ['an array', [], 'an array of 0'],
  ])('refuses %s as options', (_, options, got) => {
    const e = striateError(() => compile(t, options as never));
    expect(e).toMatchObject({ op: 'compile', got, expected: "an object of options such as { backend: 'webasm' }" });
  });

  it('refuses unknown option keys and backends, naming them', () => {
    const e = striateError(() => compile(t, { backnd: 'cpu' } as never));
    expect(e.message).toBe('compile: unknown option "backnd"; the options are "backend"');
    expect(striateError(() => compile(t, { backend: 'gpu' as never })).got).toBe('backend string "gpu"');
  });
});

/** Graphs too large for every backend: what the issue tried. */
const everywhereTooLarge: [string, () => Tensor][] = [
  ['a 1e10-element matmul of [1e5,1e5] inputs', () => matmul(input('a', [1e5, 1e5]), input('b', [1e5, 1e5]))],
  ['a 1e10-element intermediate from a one-element input', () => mul(broadcastTo(input('x', [1, 1]), [1e5, 1e5]), 2)],
];

const backends: { backend: BackendName; reason: string | null }[] = [{ backend: 'reference', reason: null }, ...statuses];

describe.each(backends)('size limits on backend $backend', ({ backend, reason }) => {
  if (reason !== null) {
    unavailableBackendTest(backend as never, reason);
    return;
  }

  it.each(everywhereTooLarge)('refuses %s at compile time, stating the limit', (_, build) => {
    const e = striateError(() => compile(build(), { backend }));
    expect(e.op).toBe('compile');
    expect(e.message).toMatch(/has 10,000,000,000 elements, more than backend ".+" can hold in one tensor \([\d,]+: .+\)/);
    expect(e.message).toContain(`backend "${backend}"`);
    expect(e.got).toMatch(/\[100000,100000\] \(10,000,000,000 elements\)$/);
    expect(e.expected).toMatch(new RegExp(`^at most [\\d,]+ elements per tensor on backend "${backend}"$`));
  });

  if (backend === 'headlessgl' || backend === 'webgpu') {
    // Flat indices are float32 here: above 2^22 a decoded index is inexact
    // (a [9586979 / 7, 7] transpose read wrong elements before the limit).
    it('refuses a tensor above 2^22 elements, and indexes one of 2^22 exactly', async () => {
      const e = striateError(() => compile(transpose(input('x', [2 ** 22 / 4 + 1, 4])), { backend }));
      expect(e.message).toContain('its kernels index with float32, whose decoded flat indices are exact only below 2^22');
      const rows = 2 ** 22 / 8;
      const f = compile(transpose(input('x', [rows, 8])), { backend });
      const x = Float32Array.from({ length: rows * 8 }, (_, i) => i % 251);
      const [r] = await f.run({ x });
      await f.dispose();
      let wrong = -1;
      for (let i = 0; i < r.data.length && wrong < 0; i++) {
        if (r.data[i] !== x[(i % rows) * 8 + Math.floor(i / rows)]) wrong = i;
      }
      expect(wrong).toBe(-1);
    });
  }

  if (backend === 'webasm' || backend === 'webasm-threads') {
    it('refuses a plan whose tensors fit one by one but not all at once in the 4 GiB wasm memory', () => {
      // five live intermediates of 2^28 floats (1 GiB each): all read by the last add
      const x = broadcastTo(input('x', [1]), [2 ** 28]);
      const parts = [mul(x, 2), mul(x, 3), mul(x, 4), mul(x, 5)];
      const e = striateError(() => compile(parts.reduce((a, b) => add(a, b), x), { backend }));
      expect(e.message).toMatch(/^compile: the graph needs \d+\.\d\d GiB of WebAssembly memory at once .* more than the 4\.00 GiB backend/);
      expect(e.expected).toBe('at most 4,293,918,720 bytes of WebAssembly memory');
    });
  }
});
