/** Kernel source is built only from templates, validated integers, float literals and checked identifiers. */
import { describe, expect, it } from 'vitest';
import { decode, divFloor, float, gridOf, ident, isSrc, k, offset } from '../../src/kernel/source.js';
import { opDef } from '../../src/ops/index.js';
import { topologicalOrder } from '../../src/graph/tensor.js';
import { input } from '../../src/ops/input.js';
import { opCases } from '../backend/cases.js';

describe('kernel source construction', () => {
  it('splices integers, floats, identifiers and fragments', () => {
    expect(k`a[${3}] + ${float(2)} * ${float(-0.5)} + ${ident('xRow')} + ${k`b`}`.text).toBe('a[3] + 2.0 * -0.5 + xRow + b');
  });

  it('refuses a string, a non-integer, a non-finite float and a bad identifier', () => {
    expect(() => k`${'x0[0]; while(true){}' as unknown as number}`).toThrow(/only validated integers/);
    expect(() => k`${1.5}`).toThrow(/only validated integers/);
    expect(() => k`${2 ** 60}`).toThrow(/only validated integers/);
    expect(() => float(NaN)).toThrow(/finite/);
    expect(() => ident('x; evil()')).toThrow(/not a valid identifier/);
    expect(() => ident('constructor.prototype')).toThrow(/not a valid identifier/);
  });

  it('decodes a flat index into coordinates and back', () => {
    const names = [ident('c0'), ident('c1'), ident('c2')];
    const body = k`${decode(k`i`, [2, 3, 4], names)}
  return ${offset([2, 3, 4], names)};`;
    const fn = new Function('i', body.text) as (i: number) => number;
    for (let i = 0; i < 24; i++) expect(fn(i)).toBe(i);
    // The integer-local spelling (webasm) decodes the same.
    const intBody = k`${decode(k`i`, [2, 3, 4], names, true)}
  return ${offset([2, 3, 4], names)};`;
    expect(intBody.text).toContain('c0++;');
    const intFn = new Function('i', intBody.text) as (i: number) => number;
    for (let i = 0; i < 24; i++) expect(intFn(i)).toBe(i);
    // Broadcast axes (size 1) read nothing.
    expect(offset([1, 3, 1], names).text).toBe('c1');
  });

  it('divides integers exactly: shifts, magic multiplies within i32, a float division past them', () => {
    const cases: [number, number][] = [
      [16, 4096], // a power of two: a shift
      [3, 1000],
      [6, 4096 * 6],
      [25, 2400],
      [576, 64 * 6 * 576], // past the magic range: the float form
      [7, 46341],
    ];
    for (const [d, max] of cases) {
      const text = divFloor(k`v`, d, max).text;
      if ((d & (d - 1)) === 0) expect(text).toContain('>>');
      // Wasm's i32 multiply must not overflow: the emitted factor times max stays below 2^31.
      const m = /\* (\d+)\) >>/.exec(text);
      if (m) expect((max - 1) * Number(m[1])).toBeLessThan(2 ** 31);
      const f = new Function('v', `return ${text};`) as (v: number) => number;
      for (let v = 0; v < max; v++) if (f(v) !== Math.floor(v / d)) throw new Error(`divFloor(${v}, ${d}) gave ${f(v)} (${text})`);
    }
    expect(gridOf([64, 6, 24, 24])).toEqual([384, 24, 24]);
    expect(gridOf([10])).toEqual([1, 1, 10]);
    expect(gridOf([3, 10])).toEqual([1, 3, 10]);
  });

  it('keeps a graph input name out of every generated kernel', () => {
    // Names come from model files and user data; the kernels must not depend on them.
    for (const c of opCases) {
      const evil = c.inputs.map((spec, j) => input(`evil_${j}.constructor`, spec.shape));
      const y = c.fn(...evil);
      for (const node of topologicalOrder([y])) {
        const rule = opDef(node.op).kernel;
        if (typeof rule !== 'function') continue;
        for (const ints of [false, true]) {
          const grid = ints ? gridOf(node.shape) : null;
          const made = rule({ inputs: node.inputs.map((t) => t.shape), attrs: node.attrs as never, out: node.shape, ints, grid });
          const bodies = isSrc(made) ? [made] : made.stages.map((s) => s.body);
          for (const src of bodies) {
            expect(isSrc(src)).toBe(true);
            expect(src.text).not.toContain('evil');
          }
        }
      }
    }
  });
});
