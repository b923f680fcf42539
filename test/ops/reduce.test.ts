import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile, grad, input, mean, mul, sum } from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import { max } from '../../src/ops/max.js';
import { maxMask } from '../../src/ops/maxMask.js';
import { distinctValues, expectGradientsMatch, propertyRuns, randomValues, seedArb, shapeArb } from '../helpers.js';

const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

// A shape, a subset of its axes (sometimes omitted: all axes), and keepDims.
const reduceCase = shapeArb(0, 3, 4).chain((shape) =>
  fc.tuple(
    fc.constant(shape),
    fc.option(fc.subarray(shape.map((_, i) => i)), { nil: undefined }),
    fc.boolean(),
    fc.boolean(),
  ),
);
/** The axes as a user might write them: some counted from the end. */
const asGiven = (axes: number[] | undefined, rank: number, negative: boolean): number[] | undefined =>
  axes && negative ? axes.map((a) => a - rank) : axes;

/** Reduce by hand over a multi-index walk: the test's oracle. */
function reduceByHand(data: Float64Array, shape: readonly number[], axes: readonly number[], f: (a: number, b: number) => number, init: number) {
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = new Float64Array(size(kept)).fill(init);
  for (let k = 0; k < data.length; k++) {
    let rest = k;
    let g = 0;
    let stride = 1;
    for (let ax = shape.length - 1; ax >= 0; ax--) {
      const i = rest % shape[ax];
      rest = Math.floor(rest / shape[ax]);
      if (!axes.includes(ax)) g += i * stride;
      stride *= kept[ax];
    }
    out[g] = f(out[g], data[k]);
  }
  return { kept, out };
}

describe('max', () => {
  it('takes the largest element over the axes', async () => {
    await fc.assert(
      fc.asyncProperty(reduceCase, seedArb, async ([shape, axes, keepDims, negative], seed) => {
        const data = randomValues(size(shape), seed);
        const all = axes ?? shape.map((_, i) => i);
        const [y] = await compile(max(input('x', shape), { axes: asGiven(axes, shape.length, negative), keepDims })).run({ x: data });
        const { kept, out } = reduceByHand(data, shape, all, Math.max, -Infinity);
        expect(y.shape).toEqual(keepDims ? kept : shape.filter((_, i) => !all.includes(i)));
        expect([...y.data]).toEqual([...out]);
      }),
      { numRuns: propertyRuns },
    );
  });

  it('has a gradient that matches central differences (distinct values: no ties)', () => {
    fc.assert(
      fc.property(reduceCase, seedArb, ([shape, axes, keepDims, negative], seed) => {
        const f = (x: Tensor): Tensor => max(x, { axes: asGiven(axes, shape.length, negative), keepDims });
        expectGradientsMatch(f, [{ shape, data: distinctValues(size(shape), seed) }]);
      }),
      { numRuns: propertyRuns },
    );
  });

  it('sends the gradient of a tie to the first maximum in row-major order', async () => {
    const x = input('x', [2, 3]);
    // Row 0 ties at columns 1 and 2; row 1 ties at columns 0 and 1; column 1 ties between rows.
    const data = [1, 3, 3, 3, 3, 0];
    const gradOf = async (options: Parameters<typeof max>[1]): Promise<number[]> => {
      const [g] = grad(sum(max(x, options)), [x]);
      const [v] = await compile(g).run({ x: data });
      return [...v.data];
    };
    expect(await gradOf({ axes: 1 })).toEqual([0, 1, 0, 1, 0, 0]);
    expect(await gradOf({ axes: 0 })).toEqual([0, 1, 1, 1, 0, 0]);
    expect(await gradOf({})).toEqual([0, 1, 0, 0, 0, 0]);
    expect(await gradOf({ axes: [0, 1], keepDims: true })).toEqual([0, 1, 0, 0, 0, 0]);
    // All equal: exactly one element gets it, never a multiple of the cotangent.
    const [g] = grad(sum(max(x)), [x]);
    const [v] = await compile(g).run({ x: [2, 2, 2, 2, 2, 2] });
    expect([...v.data]).toEqual([1, 0, 0, 0, 0, 0]);
  });

  it('passes a weighted cotangent through keepDims and to the right group', async () => {
    const x = input('x', [2, 2, 2]);
    const w = input('w', [2, 1, 2]);
    const [g] = grad(sum(mul(max(x, { axes: 1, keepDims: true }), w)), [x]);
    const [v] = await compile(g).run({ x: [0, 5, 1, 4, 7, 2, 6, 3], w: [10, 20, 30, 40] });
    expect([...v.data]).toEqual([0, 20, 10, 0, 30, 0, 0, 40]);
  });

  it('has a second derivative of zero away from ties', () => {
    const f = (x: Tensor): Tensor => {
      const [g] = grad(sum(mul(max(x, { axes: 1 }), max(x, { axes: 1 }))), [x]);
      return g;
    };
    expectGradientsMatch(f, [{ shape: [3, 4], data: distinctValues(12, 5) }]);
  });

  it('rejects bad axes', () => {
    const x = input('x', [2, 3]);
    expect(() => max(x, { axes: 2 })).toThrow('max: axis 2 is out of range for a tensor of rank 2');
    expect(() => max(x, { axes: [1, -1] })).toThrow('max: axes [1,-1] repeat an axis');
  });
});

describe('maxMask', () => {
  it('marks the first maximum of each group', async () => {
    const x = input('x', [2, 3]);
    const data = [1, 3, 3, 3, 3, 0];
    const masks = await compile([maxMask(x, 1), maxMask(x, 0), maxMask(x), maxMask(x, [])]).run({ x: data });
    expect(masks.map((m) => [...m.data])).toEqual([
      [0, 1, 0, 1, 0, 0],
      [0, 1, 1, 1, 0, 0],
      [0, 1, 0, 0, 0, 0],
      [1, 1, 1, 1, 1, 1],
    ]);
  });

  it('has a zero gradient', () => {
    expectGradientsMatch((x) => maxMask(x, 0), [{ shape: [3, 2], data: distinctValues(6, 3) }]);
  });

  it('rejects bad axes', () => {
    expect(() => maxMask(input('x', [2]), 1)).toThrow('maxMask: axis 1 is out of range for a tensor of rank 1');
  });
});

describe('sum and mean', () => {
  it('match a sum by hand', async () => {
    await fc.assert(
      fc.asyncProperty(reduceCase, seedArb, async ([shape, axes, keepDims], seed) => {
        const data = randomValues(size(shape), seed);
        const all = axes ?? shape.map((_, i) => i);
        const [s, m] = await compile([sum(input('x', shape), { axes, keepDims }), mean(input('x', shape), { axes, keepDims })]).run({ x: data });
        const { out } = reduceByHand(data, shape, all, (a, b) => a + b, 0);
        const count = size(all.map((a) => shape[a]));
        out.forEach((v, i) => {
          expect(s.data[i]).toBeCloseTo(v, 12);
          expect(m.data[i]).toBeCloseTo(v / count, 12);
        });
      }),
      { numRuns: propertyRuns },
    );
  });

  it('have gradients that match central differences', () => {
    fc.assert(
      fc.property(reduceCase, seedArb, ([shape, axes, keepDims, negative], seed) => {
        const given = asGiven(axes, shape.length, negative);
        expectGradientsMatch((x) => sum(x, { axes: given, keepDims }), [{ shape, data: randomValues(size(shape), seed) }]);
        expectGradientsMatch((x) => mean(x, { axes: given, keepDims }), [{ shape, data: randomValues(size(shape), seed) }]);
      }),
      { numRuns: propertyRuns },
    );
  });
});
