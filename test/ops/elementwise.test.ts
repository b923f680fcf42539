import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { add, compile, div, exp, grad, input, log, mul, neg, relu, reluBackward, sigmoid, sqrt, step, sub, sum, tanh } from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import { broadcastShapes } from '../../src/graph/shape.js';
import { expectGradientsMatch, propertyRuns, randomValues, seedArb, shapeArb } from '../helpers.js';

type Unary = (x: Tensor) => Tensor;
// Each unary op with a map from raw [-1,1] values to its safe domain (away from kinks and poles).
const unaries: [string, Unary, (v: number) => number, (v: number) => number][] = [
  ['neg', neg, (v) => v, (v) => -v],
  ['exp', exp, (v) => v, Math.exp],
  ['log', log, (v) => 0.2 + Math.abs(v), Math.log],
  ['sqrt', sqrt, (v) => 0.2 + Math.abs(v), Math.sqrt],
  ['relu', relu, (v) => (v >= 0 ? 0.05 + v : v - 0.05), (v) => Math.max(v, 0)],
  ['sigmoid', sigmoid, (v) => 3 * v, (v) => 1 / (1 + Math.exp(-v))],
  ['tanh', tanh, (v) => 2 * v, Math.tanh],
];

describe.each(unaries)('%s', (name, op, domain, meaning) => {
  it('computes its meaning on the reference backend', async () => {
    const data = randomValues(12, 7).map(domain);
    const x = input('x', [3, 4]);
    const [y] = await compile(op(x)).run({ x: data });
    expect(y.shape).toEqual([3, 4]);
    y.data.forEach((v, i) => expect(v).toBeCloseTo(meaning(data[i]), 12));
  });

  it('has a gradient that matches central differences', () => {
    fc.assert(
      fc.property(shapeArb(0, 3, 4), seedArb, (shape, seed) => {
        const n = shape.reduce((a, b) => a * b, 1);
        expectGradientsMatch(op, [{ shape, data: randomValues(n, seed).map(domain) }]);
      }),
      { numRuns: propertyRuns },
    );
  });
  void name;
});

type Binary = (a: Tensor, b: Tensor) => Tensor;
const binaries: [string, Binary, (v: number) => number, (a: number, b: number) => number][] = [
  ['add', add, (v) => v, (a, b) => a + b],
  ['sub', sub, (v) => v, (a, b) => a - b],
  ['mul', mul, (v) => v, (a, b) => a * b],
  ['div', div, (v) => (v >= 0 ? 0.3 + v : v - 0.3), (a, b) => a / b],
];

// Pairs of shapes that broadcast: take a shape and knock some dims to 1 or drop leading dims.
const broadcastPair = fc
  .tuple(shapeArb(0, 3, 3), fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), fc.nat(3))
  .map(([shape, ones, drop]) => [shape, shape.map((d, i) => (ones[i] ? 1 : d)).slice(Math.min(drop, shape.length))] as const);

describe.each(binaries)('%s', (_name, op, domain, meaning) => {
  it('broadcasts as NumPy does', async () => {
    const a = input('a', [2, 1, 3]);
    const b = input('b', [4, 1]);
    const ad = randomValues(6, 1);
    const bd = randomValues(4, 2).map(domain);
    const [y] = await compile(op(a, b)).run({ a: ad, b: bd });
    expect(y.shape).toEqual([2, 4, 3]);
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 4; j++)
        for (let k = 0; k < 3; k++) expect(y.data[i * 12 + j * 3 + k]).toBeCloseTo(meaning(ad[i * 3 + k], bd[j]), 12);
  });

  it('has gradients that match central differences, broadcasting included', () => {
    fc.assert(
      fc.property(broadcastPair, fc.boolean(), seedArb, ([s1, s2], swap, seed) => {
        const [sa, sb] = swap ? [s2, s1] : [s1, s2];
        const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
        expectGradientsMatch(op, [
          { shape: sa, data: randomValues(size(sa), seed) },
          { shape: sb, data: randomValues(size(sb), seed + 1).map(domain) },
        ]);
      }),
      { numRuns: propertyRuns },
    );
  });
});

describe('broadcasting errors', () => {
  it('names the op and both shapes', () => {
    expect(() => add(input('a', [2, 3]), input('b', [4, 3]))).toThrow('add: shapes [2,3] and [4,3] do not broadcast');
    expect(() => broadcastShapes('mul', [3], [2])).toThrow(/^mul: /);
  });
});

describe('reluBackward', () => {
  const awayFromKink = (v: number) => (v >= 0 ? 0.05 + v : v - 0.05);

  it('passes g where x > 0 and 0 elsewhere (0 at the kink), like mul(g, step(x))', async () => {
    const x = input('x', [2, 4]);
    const g = input('g', [2, 4]);
    const xd = [-1, 0, 0.5, 2, -0.25, 3, 0, 1e-7];
    const gd = randomValues(8, 3);
    const [y, z] = await compile([reluBackward(x, g), mul(g, step(x))]).run({ x: xd, g: gd });
    y.data.forEach((v, i) => expect(v).toBe(xd[i] > 0 ? gd[i] : 0));
    // (+0 where mul gives -0 for a negative g)
    expect(Array.from(y.data, (v) => v + 0)).toEqual(Array.from(z.data, (v) => v + 0));
  });

  it("is relu's gradient", async () => {
    const x = input('x', [6]);
    const xd = [-2, -0.5, 0.25, 1, 3, -1];
    const [dx] = await compile(grad(sum(mul(relu(x), x)), [x])).run({ x: xd });
    // d/dx relu(x) x = [x > 0] x + relu(x)
    dx.data.forEach((v, i) => expect(v).toBeCloseTo((xd[i] > 0 ? xd[i] : 0) + Math.max(xd[i], 0), 12));
  });

  it('has a gradient that matches central differences (zero wrt x away from the kink)', () => {
    fc.assert(
      fc.property(shapeArb(0, 3, 4), seedArb, (shape, seed) => {
        const n = shape.reduce((a, b) => a * b, 1);
        expectGradientsMatch(reluBackward, [
          { shape, data: randomValues(n, seed).map(awayFromKink) },
          { shape, data: randomValues(n, seed + 1) },
        ]);
      }),
      { numRuns: propertyRuns },
    );
  });
});
