import { describe, expect, it } from 'vitest';
import { add, compile, input, mul } from '../../src/index.js';

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
