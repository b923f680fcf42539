/**
 * flatResult: how a compiled graph turns what gpu.js returns for an output
 * (a Float32Array, or rows of one for a kernel run on its grid) into one
 * flat Float32Array.
 */
import { describe, expect, it } from 'vitest';
import { flatResult } from '../../src/backend/gpujs/executor.js';

describe('flatResult', () => {
  it('uses rows that are consecutive views of one array as that array, without a copy', () => {
    const data = Float32Array.from({ length: 24 }, (_, j) => j);
    const rows2d = [0, 1, 2, 3].map((y) => data.subarray(y * 6, y * 6 + 6));
    const flat2d = flatResult(rows2d, 24);
    expect(flat2d.buffer).toBe(data.buffer);
    expect(Array.from(flat2d)).toEqual(Array.from(data));
    const rows3d = [0, 1].map((z) => [0, 1, 2].map((y) => data.subarray((z * 3 + y) * 4, (z * 3 + y) * 4 + 4)));
    expect(flatResult(rows3d, 24).buffer).toBe(data.buffer);
    expect(flatResult(data, 24)).toBe(data);
  });

  it('copies rows in row-major order otherwise, and refuses a wrong count', () => {
    const rows = [Float32Array.of(1, 2), Float32Array.of(3, 4)]; // separate arrays
    const flat = flatResult(rows, 4);
    expect(Array.from(flat)).toEqual([1, 2, 3, 4]);
    expect(flat.buffer).not.toBe(rows[0].buffer);
    const data = Float32Array.from({ length: 8 }, (_, j) => j);
    const reversed = [data.subarray(4, 8), data.subarray(0, 4)]; // views, but out of order
    expect(Array.from(flatResult(reversed, 8))).toEqual([4, 5, 6, 7, 0, 1, 2, 3]);
    expect(Array.from(flatResult([5, 6, 7], 3))).toEqual([5, 6, 7]);
    expect(() => flatResult([Float32Array.of(1, 2)], 3)).toThrow('gpu.js returned 2 values for an output of 3');
  });
});
