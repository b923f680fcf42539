import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile, constant, grad, input, mean, mul, neg, reshape, sub, sum } from '../../src/index.js';
import { StriateError, type Tensor } from '../../src/index.js';
import { logSoftmax } from '../../src/ops/logSoftmax.js';
import { oneHot } from '../../src/ops/oneHot.js';
import { softmax } from '../../src/ops/softmax.js';
import { softmaxCrossEntropy } from '../../src/ops/softmaxCrossEntropy.js';
import { softmaxCrossEntropyBackward } from '../../src/ops/softmaxCrossEntropyBackward.js';
import { expectGradientsMatch, propertyRuns, randomValues, seedArb, shapeArb } from '../helpers.js';

const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
const values = async (ys: Tensor[], feeds: Record<string, ArrayLike<number>> = {}): Promise<number[][]> =>
  (await compile(ys).run(feeds)).map((r) => [...r.data]);

// A shape of rank >= 1 and an axis of it, sometimes counted from the end.
const axisCase = shapeArb(1, 3, 4).chain((shape) =>
  fc.tuple(fc.constant(shape), fc.integer({ min: 0, max: shape.length - 1 }), fc.boolean()),
).map(([shape, axis, negative]) => ({ shape, axis, given: negative ? axis - shape.length : axis }));

/** softmax along `axis` by hand, without the max shift (the test values are small). */
function softmaxByHand(data: Float64Array, shape: readonly number[], axis: number): Float64Array {
  const inner = size(shape.slice(axis + 1));
  const n = shape[axis];
  const out = new Float64Array(data.length);
  for (let k = 0; k < data.length; k++) {
    const base = k - (Math.floor(k / inner) % n) * inner;
    let total = 0;
    for (let j = 0; j < n; j++) total += Math.exp(data[base + j * inner]);
    out[k] = Math.exp(data[k]) / total;
  }
  return out;
}

const scaled = (n: number, seed: number, scale = 3): Float64Array => randomValues(n, seed).map((v) => v * scale);

describe.each([
  ['softmax', softmax, (s: number) => s],
  ['logSoftmax', logSoftmax, Math.log],
] as const)('%s', (name, op, fromSoftmax) => {
  it('matches its definition along any axis', async () => {
    await fc.assert(
      fc.asyncProperty(axisCase, seedArb, async ({ shape, axis, given }, seed) => {
        const data = scaled(size(shape), seed);
        const [y] = await values([op(input('x', shape), given)], { x: data });
        const expected = softmaxByHand(data, shape, axis);
        y.forEach((v, i) => expect(v).toBeCloseTo(fromSoftmax(expected[i]), 12));
      }),
      { numRuns: propertyRuns },
    );
  });

  it('normalises the last axis by default', async () => {
    const x = input('x', [2, 3]);
    const data = randomValues(6, 9);
    const [a, b] = await values([op(x), op(x, 1)], { x: data });
    expect(a).toEqual(b);
  });

  it('has a gradient that matches central differences', () => {
    fc.assert(
      fc.property(axisCase, seedArb, ({ shape, given }, seed) => {
        expectGradientsMatch((x) => op(x, given), [{ shape, data: scaled(size(shape), seed) }]);
      }),
      { numRuns: propertyRuns },
    );
  });

  it('has second derivatives that match central differences', () => {
    fc.assert(
      fc.property(axisCase, seedArb, ({ shape, given }, seed) => {
        const f = (x: Tensor, c: Tensor): Tensor => grad(sum(mul(op(x, given), c)), [x])[0];
        expectGradientsMatch(f, [
          { shape, data: scaled(size(shape), seed) },
          { shape, data: randomValues(size(shape), seed + 1) },
        ]);
      }),
      { numRuns: Math.ceil(propertyRuns / 3) },
    );
  });

  it('rejects a scalar and an axis out of range', () => {
    expect(() => op(input('x', []))).toThrow(`${name}: needs a tensor of rank >= 1 to normalise along an axis, got a scalar`);
    expect(() => op(input('x', [2, 3]), 2)).toThrow(`${name}: axis 2 is out of range for a tensor of rank 2`);
    expect(() => op(input('x', [2, 3]), -3)).toThrow(`${name}: axis -3 is out of range for a tensor of rank 2`);
  });
});

describe('softmax and logSoftmax with large logits', () => {
  it('give finite, exact results', async () => {
    const x = input('x', [3, 3]);
    const data = [1000, -1000, 0, 1000, 1000, 1000, -1000, -1000, -1000];
    const [s, l] = await values([softmax(x), logSoftmax(x)], { x: data });
    expect(s).toEqual([1, 0, 0, 1 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3]);
    const third = -Math.log(3);
    expect(l).toEqual([0, -2000, -1000, third, third, third, third, third, third]);
  });

  it('give finite, exact gradients', async () => {
    const x = input('x', [1, 3]);
    const c = input('c', [1, 3]);
    // d/dx Σ c·logSoftmax(x) = c - softmax(x) Σ c = c - [Σc, 0, 0] here.
    const [gl] = grad(sum(mul(logSoftmax(x), c)), [x]);
    const [gs] = grad(sum(mul(softmax(x), c)), [x]);
    const [vl, vs] = await values([gl, gs], { x: [1000, -1000, 0], c: [1, 2, 4] });
    expect(vl).toEqual([1 - 7, 2, 4]);
    expect(vs).toEqual([0, 0, 0]);
  });
});

describe('oneHot', () => {
  it('turns class indices into one-hot rows', async () => {
    const [y] = await values([oneHot(input('l', [3]), 4)], { l: [2, 0, 3] });
    expect(y).toEqual([0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1]);
    expect(oneHot(input('l', [2, 5]), 3).shape).toEqual([2, 5, 3]);
  });

  it('refuses fed labels that are not class indices when the graph runs, naming the input, the index and the value', async () => {
    const f = compile(oneHot(input('l', [3]), 3));
    const expected = 'an integer class index in [0, 2]';
    await expect(f.run({ l: [0, 1.5, 2] })).rejects.toThrow('run: feed "l" holds 1.5 at index 1, but its values are class labels: integers in [0, 2]');
    await expect(f.run({ l: [0, 1, 3] })).rejects.toThrow(expect.objectContaining({ op: 'run', got: '3 at index 2', expected }));
    await expect(f.run({ l: [-1, 1, 2] })).rejects.toThrow(expect.objectContaining({ op: 'run', got: '-1 at index 0', expected }));
  });

  it('refuses constant labels that are not class indices when built', () => {
    expect(() => oneHot(constant([7], [1]), 3)).toThrow(StriateError);
    expect(() => oneHot(constant([0, 2, 3], [3]), 3)).toThrow('oneHot: constant label 2 is 3; labels must be integer class indices in [0, 2]');
  });

  it('gives a row of NaN for a computed label that is not a class index', async () => {
    const [y] = await values([oneHot(sub(input('l', [3]), 1), 3)], { l: [3, 4, 1.5] });
    expect(y.slice(0, 3)).toEqual([0, 0, 1]);
    expect(y.slice(3).every(Number.isNaN)).toBe(true);
  });

  it('rejects a depth that is not a positive integer', () => {
    expect(() => oneHot(input('l', [3]), 0)).toThrow('oneHot: depth must be an integer >= 1, got 0');
    expect(() => oneHot(input('l', [3]), 2.5)).toThrow('oneHot: depth must be an integer >= 1, got 2.5');
  });

  it('sends no gradient to the labels', async () => {
    const l = input('l', [2]);
    const [g] = grad(sum(mul(oneHot(l, 3), input('w', [2, 3]))), [l]);
    const [v] = await values([g], {});
    expect(v).toEqual([0, 0]);
  });
});

type Reduction = 'mean' | 'sum' | 'none';
const reductionArb = fc.constantFrom<Reduction>('mean', 'sum', 'none');
const problem = fc.record({ n: fc.integer({ min: 1, max: 4 }), c: fc.integer({ min: 1, max: 5 }), seed: seedArb, reduction: reductionArb });
const labelsOf = (n: number, c: number, seed: number): number[] => Array.from(randomValues(n, seed), (v) => Math.min(c - 1, Math.floor(((v + 1) / 2) * c)));
const oneHotOf = (labels: number[], c: number): number[] => labels.flatMap((k) => Array.from({ length: c }, (_, j) => (j === k ? 1 : 0)));
/** A loss with a scalar result: reduce 'none' by a weighted sum so that every row's gradient is checked separately. */
const scalarLoss = (loss: Tensor, n: number): Tensor => (loss.rank === 0 ? loss : sum(mul(loss, constant(randomValues(n, 77), [n]))));

/**
 * A summed loss reaches |f| ~ 30, and central differences of f carry roundoff
 * of about ulp(f) / eps ~ 1e-9 whatever the size of the entry: a Jacobian entry
 * near 1e-5 (softmax of a low logit) cannot be resolved to 1e-6 relative. An
 * absolute floor of 1e-8 covers the roundoff; larger entries still meet rtol 1e-6.
 */
const differenceFloor = { atol: 1e-8 };

describe('softmaxCrossEntropy', () => {
  it('equals -Σ onehot·logSoftmax(logits) per row, by hand and as a graph', async () => {
    await fc.assert(
      fc.asyncProperty(problem, async ({ n, c, seed, reduction }) => {
        const x = scaled(n * c, seed);
        const labels = labelsOf(n, c, seed + 1);
        const logits = input('x', [n, c]);
        const l = input('l', [n]);
        const composed = neg(sum(mul(oneHot(l, c), logSoftmax(logits)), { axes: 1 }));
        const reduced = reduction === 'mean' ? mean(composed) : reduction === 'sum' ? sum(composed) : composed;
        const [loss, graphLoss] = await values([softmaxCrossEntropy(logits, l, { reduction }), reduced], { x, l: labels });
        const rows = labels.map((k, i) => {
          const row = x.slice(i * c, (i + 1) * c);
          return Math.log(row.reduce((s, v) => s + Math.exp(v), 0)) - row[k];
        });
        const byHand = reduction === 'none' ? rows : [rows.reduce((a, b) => a + b, 0) / (reduction === 'mean' ? n : 1)];
        expect(loss.length).toBe(byHand.length);
        loss.forEach((v, i) => {
          expect(v).toBeCloseTo(byHand[i], 12);
          expect(v).toBeCloseTo(graphLoss[i], 12);
        });
      }),
      { numRuns: propertyRuns },
    );
  });

  it('gives the same loss and logits gradient for index and one-hot labels', async () => {
    await fc.assert(
      fc.asyncProperty(problem, async ({ n, c, seed, reduction }) => {
        const logits = input('x', [n, c]);
        const byIndex = scalarLoss(softmaxCrossEntropy(logits, input('l', [n]), { reduction }), n);
        const byRows = scalarLoss(softmaxCrossEntropy(logits, input('y', [n, c]), { reduction }), n);
        const labels = labelsOf(n, c, seed + 1);
        const [a, ga, b, gb] = await values([byIndex, grad(byIndex, [logits])[0], byRows, grad(byRows, [logits])[0]], {
          x: scaled(n * c, seed),
          l: labels,
          y: oneHotOf(labels, c),
        });
        expect(a[0]).toBeCloseTo(b[0], 12);
        ga.forEach((v, i) => expect(v).toBeCloseTo(gb[i], 12));
      }),
      { numRuns: propertyRuns },
    );
  });

  it('has a logits gradient that matches central differences (index labels)', () => {
    fc.assert(
      fc.property(problem, ({ n, c, seed, reduction }) => {
        const labels = constant(labelsOf(n, c, seed + 1), [n]);
        expectGradientsMatch((x) => softmaxCrossEntropy(x, labels, { reduction }), [{ shape: [n, c], data: scaled(n * c, seed) }], differenceFloor);
      }),
      { numRuns: propertyRuns },
    );
  });

  it('has logits and label gradients that match central differences (probability labels, any row sums)', () => {
    fc.assert(
      fc.property(problem, ({ n, c, seed, reduction }) => {
        expectGradientsMatch(
          (x, y) => softmaxCrossEntropy(x, y, { reduction }),
          [
            { shape: [n, c], data: scaled(n * c, seed) },
            { shape: [n, c], data: randomValues(n * c, seed + 1).map((v) => (v + 1) / 2) },
          ],
          differenceFloor,
        );
      }),
      { numRuns: propertyRuns },
    );
  });

  it('has second derivatives that match central differences', () => {
    fc.assert(
      fc.property(problem, fc.boolean(), ({ n, c, seed, reduction }, byIndex) => {
        const labels = byIndex ? constant(labelsOf(n, c, seed + 1), [n]) : constant(oneHotOf(labelsOf(n, c, seed + 1), c), [n, c]);
        const f = (x: Tensor): Tensor => grad(scalarLoss(softmaxCrossEntropy(x, labels, { reduction }), n), [x])[0];
        expectGradientsMatch(f, [{ shape: [n, c], data: scaled(n * c, seed) }], differenceFloor);
      }),
      { numRuns: Math.ceil(propertyRuns / 3) },
    );
  });

  it('is finite and exact with large logits', async () => {
    const x = input('x', [3, 3]);
    const l = input('l', [3]);
    const loss = softmaxCrossEntropy(x, l, { reduction: 'none' });
    const [g] = grad(sum(loss), [x]);
    const [lv, gv] = await values([loss, g], { x: [1000, -1000, 0, 1000, -1000, 0, 1000, -1000, 0], l: [0, 1, 2] });
    expect(lv).toEqual([0, 2000, 1000]);
    expect(gv).toEqual([0, 0, 0, 1, -1, 0, 1, 0, -1]);
  });

  it('means over rows by default', async () => {
    const x = input('x', [2, 2]);
    const l = input('l', [2]);
    expect(softmaxCrossEntropy(x, l).shape).toEqual([]);
    expect(softmaxCrossEntropy(x, l, { reduction: 'sum' }).shape).toEqual([]);
    expect(softmaxCrossEntropy(x, l, { reduction: 'none' }).shape).toEqual([2]);
    const [m, s] = await values([softmaxCrossEntropy(x, l), softmaxCrossEntropy(x, l, { reduction: 'sum' })], { x: [0, 0, 0, 0], l: [0, 1] });
    expect(m[0]).toBeCloseTo(Math.LN2, 15);
    expect(s[0]).toBeCloseTo(2 * Math.LN2, 15);
  });

  it('refuses index labels that are not class indices: fed ones when the graph runs, constant ones when built', async () => {
    const f = compile(softmaxCrossEntropy(input('x', [2, 3]), input('l', [2])));
    const x = [0, 0, 0, 0, 0, 0];
    await expect(f.run({ x, l: [0, 3] })).rejects.toThrow('run: feed "l" holds 3 at index 1, but its values are class labels: integers in [0, 2]');
    await expect(f.run({ x, l: [0.5, 1] })).rejects.toThrow(expect.objectContaining({ op: 'run', got: '0.5 at index 0' }));
    expect(() => softmaxCrossEntropy(input('x', [2, 3]), constant([0, 3], [2]))).toThrow(
      expect.objectContaining({ op: 'softmaxCrossEntropy', got: 'label 3', expected: 'an integer class index in [0, 2]' }),
    );
  });

  it('gives a NaN loss for the row of a computed label that is not a class index', async () => {
    const x = input('x', [2, 3]);
    const l = sub(input('l', [2]), 1);
    const [rows, total] = await values([softmaxCrossEntropy(x, l, { reduction: 'none' }), softmaxCrossEntropy(x, l)], { x: [0, 0, 0, 0, 0, 0], l: [1, 4] });
    expect(rows[0]).toBeCloseTo(Math.log(3), 12);
    expect(Number.isNaN(rows[1]) && Number.isNaN(total[0])).toBe(true);
  });

  it('rejects shapes that do not fit', () => {
    const x = input('x', [4, 3]);
    expect(() => softmaxCrossEntropy(input('x', [4, 3, 2]), input('l', [4]))).toThrow(
      'softmaxCrossEntropy: logits must have shape [N, C] (rank 2), got [4,3,2]',
    );
    expect(() => softmaxCrossEntropy(x, input('l', [3]))).toThrow(
      'softmaxCrossEntropy: index labels must have shape [4], one class index per row of logits [4,3], got [3]',
    );
    expect(() => softmaxCrossEntropy(x, input('y', [4, 2]))).toThrow(
      'softmaxCrossEntropy: one-hot labels must have the shape of the logits [4,3], got [4,2]',
    );
    expect(() => softmaxCrossEntropy(x, input('y', [4, 3, 1]))).toThrow(
      'softmaxCrossEntropy: labels must be class indices [N] or one-hot rows [N, C] for logits [4,3], got shape [4,3,1]',
    );
    expect(() => softmaxCrossEntropy(x, input('l', [4]), { reduction: 'avg' as Reduction })).toThrow(
      'softmaxCrossEntropy: reduction must be "mean", "sum" or "none", got "avg"',
    );
  });
});

describe('softmaxCrossEntropyBackward (the index-label gradient as one op)', () => {
  const reductions = ['mean', 'sum', 'none'] as const;

  it('equals (softmax - oneHot) times the per-row cotangent, and its gradients match central differences', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 2, max: 6 }), fc.constantFrom(...reductions), seedArb, async (n, c, reduction, seed) => {
        const labels = constant(Array.from({ length: n }, (_, i) => (i * 7 + seed) % c), [n]);
        const gShape = reduction === 'none' ? [n] : [];
        const x = input('x', [n, c]);
        const g = input('g', gShape);
        const xs = randomValues(n * c, seed).map((v) => 3 * v);
        const gs = randomValues(Math.max(1, n * Number(reduction === 'none')), seed + 1);
        const perRow = reduction === 'none' ? reshape(g, [n, 1]) : reduction === 'mean' ? mul(g, 1 / n) : g;
        const composite = mul(sub(softmax(x, 1), oneHot(labels, c)), perRow);
        const [got, want] = await compile([softmaxCrossEntropyBackward(x, labels, g, reduction), composite]).run({ x: xs, g: gs });
        got.data.forEach((v, i) => expect(v).toBeCloseTo(want.data[i], 12));
        expectGradientsMatch((xx, gg) => softmaxCrossEntropyBackward(xx, labels, gg, reduction), [
          { shape: [n, c], data: xs },
          { shape: gShape, data: gs },
        ]);
      }),
      { numRuns: propertyRuns },
    );
  });

  it('is what softmaxCrossEntropy with index labels differentiates to', () => {
    const x = input('x', [3, 4]);
    const [dx] = grad(softmaxCrossEntropy(x, input('l', [3])), [x]);
    expect(dx.op).toBe('softmaxCrossEntropyBackward');
  });

  it('rejects a cotangent of the wrong shape', () => {
    expect(() => softmaxCrossEntropyBackward(input('x', [3, 4]), input('l', [3]), input('g', []), 'none')).toThrow(
      expect.objectContaining({
        op: 'softmaxCrossEntropyBackward',
        message: 'softmaxCrossEntropyBackward: g must have shape [3] for reduction "none", got []',
        got: 'g []',
        expected: 'g [3]',
      }),
    );
  });

  it('gives a row of NaN for a computed label that is not a class index', async () => {
    const [d] = await values([softmaxCrossEntropyBackward(input('x', [2, 2]), sub(input('l', [2]), 1), input('g', []), 'sum')], { x: [0, 0, 0, 0], l: [1, -1], g: [1] });
    expect(d.slice(0, 2)).toEqual([-0.5, 0.5]);
    expect(d.slice(2).every(Number.isNaN)).toBe(true);
  });
});
