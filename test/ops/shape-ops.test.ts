import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile, grad, input, mul, sum } from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import { concat } from '../../src/ops/concat.js';
import { pad } from '../../src/ops/pad.js';
import { slice } from '../../src/ops/slice.js';
import { transpose } from '../../src/ops/transpose.js';
import { expectGradientsMatch, propertyRuns, randomValues, seedArb, shapeArb } from '../helpers.js';

const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** Row-major multi-index of flat index k: the test's own index arithmetic, independent of the ops'. */
function unravel(k: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let ax = shape.length - 1; ax >= 0; ax--) {
    idx[ax] = k % shape[ax];
    k = Math.floor(k / shape[ax]);
  }
  return idx;
}
const ravel = (idx: readonly number[], shape: readonly number[]): number =>
  idx.reduce((acc, i, ax) => acc * shape[ax] + i, 0);

async function run(y: Tensor, feeds: Record<string, Float64Array>): Promise<{ shape: number[]; data: Float64Array }> {
  const [r] = await compile(y).run(feeds);
  return r as { shape: number[]; data: Float64Array };
}

// A shape with a permutation of its axes.
const transposeCase = shapeArb(0, 4, 3).chain((shape) =>
  fc.tuple(
    fc.constant(shape),
    fc.shuffledSubarray(
      shape.map((_, i) => i),
      { minLength: shape.length, maxLength: shape.length },
    ),
  ),
);

describe('transpose', () => {
  it('moves output axis k to input axis perm[k]', async () => {
    await fc.assert(
      fc.asyncProperty(transposeCase, seedArb, async ([shape, perm], seed) => {
        const data = randomValues(size(shape), seed);
        const y = await run(transpose(input('x', shape), perm), { x: data });
        expect(y.shape).toEqual(perm.map((p) => shape[p]));
        for (let k = 0; k < y.data.length; k++) {
          const o = unravel(k, y.shape);
          const i = new Array<number>(shape.length);
          perm.forEach((p, ax) => (i[p] = o[ax]));
          expect(y.data[k]).toBe(data[ravel(i, shape)]);
        }
      }),
      { numRuns: propertyRuns },
    );
  });

  it('reverses the axes by default (a matrix transpose in 2-D)', async () => {
    const y = await run(transpose(input('x', [2, 3])), { x: Float64Array.of(1, 2, 3, 4, 5, 6) });
    expect(y.shape).toEqual([3, 2]);
    expect([...y.data]).toEqual([1, 4, 2, 5, 3, 6]);
    expect(transpose(input('x', [2, 3, 4])).shape).toEqual([4, 3, 2]);
  });

  it('has a gradient that matches central differences', () => {
    fc.assert(
      fc.property(transposeCase, seedArb, ([shape, perm], seed) => {
        expectGradientsMatch((x) => transpose(x, perm), [{ shape, data: randomValues(size(shape), seed) }]);
      }),
      { numRuns: propertyRuns },
    );
  });

  it('rejects a perm that is not a permutation of the axes', () => {
    const x = input('x', [2, 3]);
    expect(() => transpose(x, [0, 0])).toThrow('transpose: perm [0,0] is not a permutation of the 2 axes of shape [2,3]');
    expect(() => transpose(x, [0])).toThrow('transpose: perm [0] is not a permutation of the 2 axes of shape [2,3]');
    expect(() => transpose(x, [0, 2])).toThrow('(expected each of 0..1 exactly once)');
    expect(() => transpose(x, [1.5, 0])).toThrow('transpose: perm [1.5,0]');
  });
});

// A shape with [before, after] pads per axis and a fill value.
const padCase = shapeArb(0, 3, 3).chain((shape) =>
  fc.tuple(
    fc.constant(shape),
    fc.tuple(...shape.map(() => fc.tuple(fc.nat(2), fc.nat(2)))) as fc.Arbitrary<[number, number][]>,
    fc.double({ min: -5, max: 5, noNaN: true }),
  ),
);

describe('pad', () => {
  it('surrounds x with a constant border', async () => {
    await fc.assert(
      fc.asyncProperty(padCase, seedArb, async ([shape, pads, value], seed) => {
        const data = randomValues(size(shape), seed);
        const y = await run(pad(input('x', shape), pads, value), { x: data });
        expect(y.shape).toEqual(shape.map((d, i) => pads[i][0] + d + pads[i][1]));
        for (let k = 0; k < y.data.length; k++) {
          const i = unravel(k, y.shape).map((o, ax) => o - pads[ax][0]);
          const inside = i.every((v, ax) => v >= 0 && v < shape[ax]);
          expect(y.data[k]).toBe(inside ? data[ravel(i, shape)] : value);
        }
      }),
      { numRuns: propertyRuns },
    );
  });

  it('pads with zeros by default', async () => {
    const y = await run(pad(input('x', [2]), [[1, 2]]), { x: Float64Array.of(7, 8) });
    expect([...y.data]).toEqual([0, 7, 8, 0, 0]);
  });

  it('has a gradient that matches central differences', () => {
    fc.assert(
      fc.property(padCase, seedArb, ([shape, pads, value], seed) => {
        expectGradientsMatch((x) => pad(x, pads, value), [{ shape, data: randomValues(size(shape), seed) }]);
      }),
      { numRuns: propertyRuns },
    );
  });

  it('rejects malformed pads and values', () => {
    const x = input('x', [2, 3]);
    expect(() => pad(x, [[1, 1]])).toThrow('pad: got 1 [before, after] pairs for a tensor of rank 2 (shape [2,3]); give one pair per axis');
    expect(() => pad(x, [[0, 0], [-1, 0]])).toThrow('pad: pads[1] is [-1,0]; expected [before, after], two non-negative integers');
    expect(() => pad(x, [[0, 0.5], [0, 0]])).toThrow('pad: pads[0] is [0,0.5]');
    expect(() => pad(x, [[0, 0], [1, 1, 1] as unknown as [number, number]])).toThrow('pad: pads[1] is [1,1,1]');
    expect(() => pad(x, [[0, 0], [0, 0]], NaN)).toThrow('pad: value must be a finite number, got NaN');
    expect(() => pad(x, [[0, 0], [0, 0]], Infinity)).toThrow('pad: value must be a finite number, got Infinity');
  });
});

// A shape with a box inside it; some sizes given as -1 (to the end of the axis).
const sliceCase = shapeArb(0, 3, 4).chain((shape) =>
  fc.tuple(
    fc.constant(shape),
    fc.tuple(
      ...shape.map((d) =>
        fc.integer({ min: 0, max: d - 1 }).chain((b) => fc.tuple(fc.constant(b), fc.oneof(fc.integer({ min: 1, max: d - b }), fc.constant(-1)))),
      ),
    ) as fc.Arbitrary<[number, number][]>,
  ),
);

describe('slice', () => {
  it('reads the box that starts at begin and spans size (-1: to the end)', async () => {
    await fc.assert(
      fc.asyncProperty(sliceCase, seedArb, async ([shape, box], seed) => {
        const begin = box.map(([b]) => b);
        const sz = box.map(([b, s], i) => (s === -1 ? shape[i] - b : s));
        const data = randomValues(size(shape), seed);
        const y = await run(
          slice(
            input('x', shape),
            begin,
            box.map(([, s]) => s),
          ),
          { x: data },
        );
        expect(y.shape).toEqual(sz);
        for (let k = 0; k < y.data.length; k++) {
          const i = unravel(k, y.shape).map((o, ax) => o + begin[ax]);
          expect(y.data[k]).toBe(data[ravel(i, shape)]);
        }
      }),
      { numRuns: propertyRuns },
    );
  });

  it('has a gradient that matches central differences', () => {
    fc.assert(
      fc.property(sliceCase, seedArb, ([shape, box], seed) => {
        const f = (x: Tensor): Tensor =>
          slice(
            x,
            box.map(([b]) => b),
            box.map(([, s]) => s),
          );
        expectGradientsMatch(f, [{ shape, data: randomValues(size(shape), seed) }]);
      }),
      { numRuns: propertyRuns },
    );
  });

  it('rejects boxes that do not fit', () => {
    const x = input('x', [2, 4]);
    expect(() => slice(x, [0], [1, 1])).toThrow('slice: begin [0] has 1 entries but the tensor has rank 2 (shape [2,4]); give one entry per axis');
    expect(() => slice(x, [0, 0], [1])).toThrow('slice: size [1] has 1 entries but the tensor has rank 2');
    expect(() => slice(x, [0, 4], [1, 1])).toThrow('slice: begin[1] = 4 is out of range for axis 1 of size 4 (shape [2,4]); expected an integer in [0, 3]');
    expect(() => slice(x, [-1, 0], [1, 1])).toThrow('slice: begin[0] = -1 is out of range');
    expect(() => slice(x, [0, 2], [1, 3])).toThrow(
      'slice: size[1] = 3 from begin 2 does not fit axis 1 of size 4 (shape [2,4]); expected an integer in [1, 2], or -1 for the rest of the axis',
    );
    expect(() => slice(x, [0, 0], [0, 1])).toThrow('slice: size[0] = 0 from begin 0 does not fit axis 0');
    expect(() => slice(x, [0, 0], [1, -2])).toThrow('slice: size[1] = -2');
  });
});

// Tensors that agree on every axis except `axis`.
const concatCase = fc
  .tuple(shapeArb(1, 3, 3), fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }), fc.nat(2), fc.boolean())
  .map(([base, lengths, a, negative]) => {
    const axis = a % base.length;
    const shapes = lengths.map((len) => base.map((d, i) => (i === axis ? len : d)));
    return { shapes, axis: negative ? axis - base.length : axis, positive: axis };
  });

describe('concat', () => {
  it('joins tensors along an axis', async () => {
    await fc.assert(
      fc.asyncProperty(concatCase, seedArb, async ({ shapes, axis, positive }, seed) => {
        const xs = shapes.map((s, i) => input(`x${i}`, s));
        const datas = shapes.map((s, i) => randomValues(size(s), seed + i));
        const y = await run(concat(xs, axis), Object.fromEntries(datas.map((d, i) => [`x${i}`, d])));
        const total = shapes.reduce((t, s) => t + s[positive], 0);
        expect(y.shape).toEqual(shapes[0].map((d, i) => (i === positive ? total : d)));
        for (let k = 0; k < y.data.length; k++) {
          const o = unravel(k, y.shape);
          let j = 0;
          let along = o[positive];
          while (along >= shapes[j][positive]) along -= shapes[j++][positive];
          const i = o.map((v, ax) => (ax === positive ? along : v));
          expect(y.data[k]).toBe(datas[j][ravel(i, shapes[j])]);
        }
      }),
      { numRuns: propertyRuns },
    );
  });

  it('has gradients that match central differences', () => {
    fc.assert(
      fc.property(concatCase, seedArb, ({ shapes, axis }, seed) => {
        expectGradientsMatch(
          (...xs) => concat(xs, axis),
          shapes.map((s, i) => ({ shape: s, data: randomValues(size(s), seed + i) })),
        );
      }),
      { numRuns: propertyRuns },
    );
  });

  it('sends each input the cotangent of its own stretch', async () => {
    const a = input('a', [1, 2]);
    const b = input('b', [1, 1]);
    const w = input('w', [1, 3]);
    const [ga, gb] = grad(sum(mul(concat([a, b], 1), w)), [a, b]);
    const [va, vb] = await compile([ga, gb]).run({ w: [10, 20, 30] });
    expect([...va.data]).toEqual([10, 20]);
    expect([...vb.data]).toEqual([30]);
  });

  it('rejects inputs that do not line up', () => {
    expect(() => concat([], 0)).toThrow('concat: needs a non-empty array of tensors, got an empty array');
    expect(() => concat([input('a', [2, 3]), input('b', [3, 3])], 1)).toThrow(
      'concat: input 1 has shape [3,3] but input 0 has shape [2,3]; every input must have rank 2 and the same dimensions except along axis 1',
    );
    expect(() => concat([input('a', [2, 3]), input('b', [2, 3, 1])], 0)).toThrow('concat: input 1 has shape [2,3,1] but input 0 has shape [2,3]');
    expect(() => concat([input('a', [2, 3])], 2)).toThrow('concat: axis 2 is out of range for a tensor of rank 2');
    expect(() => concat([input('a', [])], 0)).toThrow('concat: cannot concatenate scalars (rank 0)');
    expect(() => concat([input('a', [2]), 3 as unknown as Tensor], 0)).toThrow('concat: input 1 is number 3, expected a Tensor');
  });
});
