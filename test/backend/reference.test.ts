import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { add, compile, input, mul } from '../../src/index.js';
import { firstNonFinite } from '../../src/backend/feeds.js';

describe('run validates feeds', () => {
  const x = input('x', [2, 3]);
  const y = input('y', [3]);
  const f = compile(add(x, y), { backend: 'reference' });

  it('reports the backend and the inputs', () => {
    expect(f.backend).toBe('reference');
    expect(f.inputs.map((i) => i.name).sort()).toEqual(['x', 'y']);
  });

  it('rejects a missing feed, naming the input and its shape', async () => {
    await expect(f.run({ x: new Float32Array(6) })).rejects.toThrow('run: missing feed for input "y" (shape [3])');
  });

  it('rejects an unknown feed, listing the inputs', async () => {
    await expect(f.run({ x: new Float32Array(6), y: [1, 2, 3], z: [1] })).rejects.toThrow(
      'run: unknown feed "z"; the graph\'s inputs are "x", "y"',
    );
  });

  it('rejects a wrongly sized feed', async () => {
    await expect(f.run({ x: new Float32Array(5), y: [1, 2, 3] })).rejects.toThrow(
      'run: feed "x" has 5 values but input "x" has shape [2,3] (6 values)',
    );
    await expect(f.run({ x: { shape: [3, 2], data: new Float32Array(6) }, y: [1, 2, 3] })).rejects.toThrow(
      'run: feed "x" has shape [3,2] but the input expects [2,3]',
    );
  });

  it('rejects non-finite values', async () => {
    await expect(f.run({ x: [0, 0, 0, 0, NaN, 0], y: [1, 2, 3] })).rejects.toThrow('run: feed "x" holds NaN at index 4');
    await expect(f.run({ x: new Float32Array(6), y: [1, Infinity, 3] })).rejects.toThrow('run: feed "y" holds Infinity at index 1');
  });

  it('finds the first non-finite value of a typed array wherever it is (block scan)', () => {
    // Long arrays are scanned in blocks of 4,096 by partial sums; every
    // position, length and kind of bad value must still be found, first.
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom(NaN, Infinity, -Infinity)), { maxLength: 3 }),
        fc.boolean(),
        (n, bad, f64) => {
          const a = f64 ? new Float64Array(n) : new Float32Array(n);
          for (let i = 0; i < n; i++) a[i] = Math.sin(i) * 1e30;
          let want = -1;
          for (const [at, v] of bad) {
            a[at % n] = v;
            want = want < 0 ? at % n : Math.min(want, at % n);
          }
          expect(firstNonFinite(a)).toBe(want);
        },
      ),
    );
    expect(firstNonFinite([1, 2, '3' as unknown as number])).toBe(2);
    expect(firstNonFinite([])).toBe(-1);
  });

  it('returns results in the order asked, with shapes', async () => {
    const g = compile([mul(x, 2), y]);
    const [a, b] = await g.run({ x: [1, 2, 3, 4, 5, 6], y: [7, 8, 9] });
    expect(a).toEqual({ shape: [2, 3], data: Float64Array.from([2, 4, 6, 8, 10, 12]) });
    expect(b.shape).toEqual([3]);
  });

  it('refuses an unknown backend and inputs that share a name with different shapes', () => {
    expect(() => compile(x, { backend: 'quantum' as never })).toThrow('compile: unknown backend "quantum"');
    expect(() => compile(add(input('a', [2]), input('a', [3, 2])))).toThrow(
      'compile: two inputs are named "a" with different shapes [2] and [3,2]',
    );
  });
});
