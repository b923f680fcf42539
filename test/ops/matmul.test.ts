import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { add, compile, grad, input, mul, relu, sum, tanh, transpose } from '../../src/index.js';
import { matmulOp } from '../../src/ops/matmul.js';
import { makeNode } from '../../src/ops/op.js';
import type { Tensor } from '../../src/index.js';
import { matmul } from '../../src/ops/matmul.js';
import { expectGradientsMatch, propertyRuns, randomValues, seedArb } from '../helpers.js';

const dim = fc.integer({ min: 1, max: 5 });

describe('matmul', () => {
  it('computes the matrix product', async () => {
    await fc.assert(
      fc.asyncProperty(dim, dim, dim, seedArb, async (m, k, n, seed) => {
        const a = randomValues(m * k, seed);
        const b = randomValues(k * n, seed + 1);
        const [c] = await compile(matmul(input('a', [m, k]), input('b', [k, n]))).run({ a, b });
        expect(c.shape).toEqual([m, n]);
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            let s = 0;
            for (let t = 0; t < k; t++) s += a[i * k + t] * b[t * n + j];
            expect(c.data[i * n + j]).toBeCloseTo(s, 12);
          }
      }),
      { numRuns: propertyRuns },
    );
  });

  it('matches a small product by hand', async () => {
    const [c] = await compile(matmul(input('a', [2, 3]), input('b', [3, 1]))).run({ a: [1, 2, 3, 4, 5, 6], b: [1, 0, -1] });
    expect([...c.data]).toEqual([-2, -2]);
  });

  it('has gradients that match central differences', () => {
    fc.assert(
      fc.property(dim, dim, dim, seedArb, (m, k, n, seed) => {
        expectGradientsMatch((a, b) => matmul(a, b), [
          { shape: [m, k], data: randomValues(m * k, seed) },
          { shape: [k, n], data: randomValues(k * n, seed + 1) },
        ]);
      }),
      { numRuns: propertyRuns },
    );
  });

  it('has second derivatives that match central differences', () => {
    // A two-layer net's weight gradient, differentiated again: the VJP's matmuls and transposes differentiate.
    fc.assert(
      fc.property(dim, dim, dim, seedArb, (m, k, n, seed) => {
        const f = (x: Tensor, w1: Tensor, w2: Tensor): Tensor => {
          const y = matmul(tanh(matmul(x, w1)), w2);
          const [g1] = grad(sum(mul(y, y)), [w1]);
          return g1;
        };
        expectGradientsMatch(f, [
          { shape: [m, k], data: randomValues(m * k, seed) },
          { shape: [k, n], data: randomValues(k * n, seed + 1) },
          { shape: [n, 2], data: randomValues(n * 2, seed + 2) },
        ]);
      }),
      { numRuns: Math.ceil(propertyRuns / 3) },
    );
  });

  const flags = fc.record({ transposeA: fc.boolean(), transposeB: fc.boolean() });

  it('multiplies by a transpose in place: the same as transposing first', async () => {
    await fc.assert(
      fc.asyncProperty(dim, dim, dim, flags, seedArb, async (m, k, n, f, seed) => {
        const a = input('a', f.transposeA ? [k, m] : [m, k]);
        const b = input('b', f.transposeB ? [n, k] : [k, n]);
        const explicit = matmul(f.transposeA ? transpose(a, [1, 0]) : a, f.transposeB ? transpose(b, [1, 0]) : b);
        const feeds = { a: randomValues(m * k, seed), b: randomValues(k * n, seed + 1) };
        const [c, want] = await compile([matmul(a, b, f), explicit]).run(feeds);
        expect(c.shape).toEqual([m, n]);
        c.data.forEach((v, i) => expect(v).toBeCloseTo(want.data[i], 12));
      }),
      { numRuns: propertyRuns },
    );
  });

  it('has gradients that match central differences with every transpose flag', () => {
    fc.assert(
      fc.property(dim, dim, dim, flags, seedArb, (m, k, n, f, seed) => {
        expectGradientsMatch((a, b) => matmul(a, b, f), [
          { shape: f.transposeA ? [k, m] : [m, k], data: randomValues(m * k, seed) },
          { shape: f.transposeB ? [n, k] : [k, n], data: randomValues(k * n, seed + 1) },
        ]);
      }),
      { numRuns: propertyRuns },
    );
  });

  it('with a fused bias and relu (what compile makes of a dense layer) equals the unfused layer, gradients included', () => {
    fc.assert(
      fc.property(dim, dim, dim, fc.boolean(), seedArb, (m, k, n, withRelu, seed) => {
        const fused = (a: Tensor, b: Tensor, bias: Tensor) =>
          makeNode(matmulOp, [a, b, bias], { transposeA: false, transposeB: false, hasBias: true, relu: withRelu });
        const plain = (a: Tensor, b: Tensor, bias: Tensor) => (withRelu ? relu(add(matmul(a, b), bias)) : add(matmul(a, b), bias));
        const inputs = [
          { shape: [m, k], data: randomValues(m * k, seed) },
          { shape: [k, n], data: randomValues(k * n, seed + 1) },
          { shape: [n], data: randomValues(n, seed + 2) },
        ];
        const [a, b, bias] = [input('a', [m, k]), input('b', [k, n]), input('bias', [n])];
        const feeds = { a: inputs[0].data, b: inputs[1].data, bias: inputs[2].data };
        const [got, want] = compile([fused(a, b, bias), plain(a, b, bias)]).runSync(feeds);
        got.data.forEach((v, i) => expect(v).toBeCloseTo(want.data[i], 12));
        expectGradientsMatch(fused, inputs);
      }),
      { numRuns: propertyRuns },
    );
  });

  it('rejects shapes that do not multiply', () => {
    expect(() => matmul(input('a', [2, 3]), input('b', [4, 5]))).toThrow(
      'matmul: inner dimensions differ: a [2,3] has 3 columns but b [4,5] has 4 rows; expected a [M, K] and b [K, N]',
    );
    // Batches and vectors multiply (test/ops/batch-matmul.test.ts); a batch whose inner dimension differs does not.
    expect(() => matmul(input('a', [2, 2, 3]), input('b', [4, 5]))).toThrow(
      'matmul: inner dimensions differ: a [2,2,3] has 3 columns but b [4,5] has 4 rows; expected a [..., M, K] and b [..., K, N]',
    );
    expect(() => matmul(input('a', [2, 3]), input('b', [4]))).toThrow('matmul: inner dimensions differ: a [2,3] has 3 columns but b [4] has 4 elements');
    // A matmul node is two matrices: hand-built with a batch, it is refused and pointed to matmul().
    const a3 = input('a', [2, 2, 3]);
    expect(() => makeNode(matmulOp, [a3, input('b', [3, 5])], { transposeA: false, transposeB: false, hasBias: false, relu: false })).toThrow(
      'matmul: a has shape [2,2,3] (rank 3) but a matmul node multiplies 2-D matrices, a [M, K]; build products of vectors or batches with matmul()',
    );
    expect(() => matmul(input('a', [2, 3]), input('b', [2, 5]), { transposeA: true, transposeB: true })).toThrow(
      'matmul: inner dimensions differ: transposed a [2,3] has 2 columns but transposed b [2,5] has 5 rows; expected a [K, M] and b [N, K]',
    );
    expect(() => matmul(input('a', [2, 3]), input('b', [3, 5]), { transposeB: 'yes' as unknown as boolean })).toThrow(
      'matmul: transposeB must be true or false, got "yes"',
    );
  });
});
