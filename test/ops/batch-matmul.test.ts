/**
 * Batched matmul: `matmul` on operands of rank > 2 (numpy's broadcast batch
 * dimensions, flattened into one batchMatmul node) and on vectors (numpy's
 * promotion), and the batchMatmul op itself: goldens by hand, a plain
 * JavaScript oracle over random broadcast shapes, gradients against central
 * differences (reverse and forward mode), and the errors.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile, grad, input, mul, sum, tanh, topologicalOrder, type Shape, type Tensor } from '../../src/index.js';
import { sizeOf } from '../../src/graph/shape.js';
import { batchMatmul } from '../../src/ops/batchMatmul.js';
import { matmul } from '../../src/ops/matmul.js';
import { expectGradientsMatch, propertyRuns, randomValues, seedArb, striateError } from '../helpers.js';

const dim = fc.integer({ min: 1, max: 3 });
const flagsArb = fc.record({ transposeA: fc.boolean(), transposeB: fc.boolean() });

interface Value {
  readonly shape: Shape;
  readonly data: Float64Array;
}

/** numpy's matmul, written out: vectors promoted, batch dimensions broadcast, flags on the last two axes. */
function oracle(a: Value, b: Value, tA: boolean, tB: boolean): Value {
  const as = a.shape.length === 1 ? [1, a.shape[0]] : a.shape;
  const bs = b.shape.length === 1 ? [b.shape[0], 1] : b.shape;
  const [ar, ac] = as.slice(-2);
  const [br, bc] = bs.slice(-2);
  const [M, K] = tA ? [ac, ar] : [ar, ac];
  const N = tB ? br : bc;
  const aBatch = as.slice(0, -2);
  const bBatch = bs.slice(0, -2);
  const rank = Math.max(aBatch.length, bBatch.length);
  const pad = (s: Shape) => [...new Array<number>(rank - s.length).fill(1), ...s];
  const [pa, pb] = [pad(aBatch), pad(bBatch)];
  const batch = pa.map((d, i) => Math.max(d, pb[i]));
  const out = new Float64Array(sizeOf(batch) * M * N);
  const flatIndex = (coords: readonly number[], dims: readonly number[]) => coords.reduce((f, c, i) => f * dims[i] + (dims[i] === 1 ? 0 : c), 0);
  for (let p = 0; p < sizeOf(batch); p++) {
    const coords: number[] = [];
    for (let i = rank - 1, rest = p; i >= 0; i--) {
      coords.unshift(rest % batch[i]);
      rest = Math.floor(rest / batch[i]);
    }
    const aOff = flatIndex(coords, pa) * M * K;
    const bOff = flatIndex(coords, pb) * K * N;
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a.data[aOff + (tA ? k * M + m : m * K + k)] * b.data[bOff + (tB ? n * K + k : k * N + n)];
        out[(p * M + m) * N + n] = s;
      }
  }
  return { shape: [...batch, ...(a.shape.length === 1 ? [] : [M]), ...(b.shape.length === 1 ? [] : [N])], data: out };
}

/** A batch shape that broadcasts to `out`: some leading axes dropped, some set to 1. */
const broadcastFrom = (out: readonly number[]) =>
  fc
    .tuple(fc.integer({ min: 0, max: out.length }), fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }))
    .map(([drop, unit]) => out.slice(drop).map((d, i) => (unit[i + drop] ? 1 : d)));

/**
 * Operand shapes of a batched product: a batch of rank 0 to 2 that each side
 * broadcasts to, M, K, N, the flags, and now and then a vector operand (a
 * vector has no flag).
 */
const productArb = fc
  .record({ out: fc.array(dim, { maxLength: 2 }), m: dim, k: dim, n: dim, flags: flagsArb, vector: fc.constantFrom('none', 'none', 'none', 'a', 'b') })
  .chain(({ out, ...rest }) => fc.record({ aBatch: broadcastFrom(out), bBatch: broadcastFrom(out), rest: fc.constant(rest), seed: seedArb }))
  .map(({ aBatch, bBatch, rest: { m, k, n, flags, vector }, seed }) => {
    const transposeA = flags.transposeA && vector !== 'a';
    const transposeB = flags.transposeB && vector !== 'b';
    const aShape = vector === 'a' ? [k] : [...aBatch, ...(transposeA ? [k, m] : [m, k])];
    const bShape = vector === 'b' ? [k] : [...bBatch, ...(transposeB ? [n, k] : [k, n])];
    return {
      a: { shape: aShape, data: randomValues(sizeOf(aShape), seed) },
      b: { shape: bShape, data: randomValues(sizeOf(bShape), seed + 1) },
      flags: { transposeA, transposeB },
    };
  });

const run = (y: Tensor, feeds: Record<string, Float64Array>) => compile(y).runSync(feeds)[0];
const opsOf = (y: Tensor) => topologicalOrder([y]).map((t) => t.op);

describe('matmul on batches', () => {
  it('multiplies two batches matrix by matrix (by hand)', () => {
    // [[1,2],[3,4]] [[1,0],[0,1]] and [[0,1],[1,0]] [[2,3],[4,5]]
    const c = run(matmul(input('a', [2, 2, 2]), input('b', [2, 2, 2])), {
      a: Float64Array.from([1, 2, 3, 4, 0, 1, 1, 0]),
      b: Float64Array.from([1, 0, 0, 1, 2, 3, 4, 5]),
    });
    expect(c.shape).toEqual([2, 2, 2]);
    expect([...c.data]).toEqual([1, 2, 3, 4, 4, 5, 2, 3]);
  });

  it('shares a matrix across the batch, and broadcasts a batch of one (by hand)', () => {
    const a = Float64Array.from([1, 2, 3, 4, 5, 6]); // [2, 1, 3]: rows [1,2,3] and [4,5,6]
    const w = Float64Array.from([1, 0, 0, 1, 1, 1]); // [3, 2]
    const c = run(matmul(input('a', [2, 1, 3]), input('w', [3, 2])), { a, w });
    expect(c.shape).toEqual([2, 1, 2]);
    expect([...c.data]).toEqual([4, 5, 10, 11]);
    // [1, 1, 3] against a batch of two [3, 1]: the row is repeated for both.
    const d = run(matmul(input('r', [1, 1, 3]), input('cols', [2, 3, 1])), { r: Float64Array.from([1, 2, 3]), cols: Float64Array.from([1, 1, 1, 0, 1, -1]) });
    expect(d.shape).toEqual([2, 1, 1]);
    expect([...d.data]).toEqual([6, -1]);
  });

  it('applies the transpose flags to the last two axes (by hand)', () => {
    // a [1, 3, 2] read as [2, 3]; b [1, 2, 3] read as [3, 2]
    const c = run(matmul(input('a', [1, 3, 2]), input('b', [1, 2, 3]), { transposeA: true, transposeB: true }), {
      a: Float64Array.from([1, 4, 2, 5, 3, 6]),
      b: Float64Array.from([1, 0, 1, 0, 1, 0]),
    });
    expect(c.shape).toEqual([1, 2, 2]);
    expect([...c.data]).toEqual([4, 2, 10, 5]);
  });

  it('promotes vectors as numpy does (by hand)', () => {
    const v = Float64Array.from([1, 2, 3]);
    const m = Float64Array.from([1, 0, 0, 1, 1, 1]); // [3, 2]
    expect(run(matmul(input('v', [3]), input('m', [3, 2])), { v, m })).toEqual({ shape: [2], data: Float64Array.from([4, 5]) });
    expect(run(matmul(input('m', [2, 3]), input('v', [3])), { v, m })).toEqual({ shape: [2], data: Float64Array.from([1, 6]) });
    expect(run(matmul(input('u', [3]), input('v', [3])), { u: v, v })).toEqual({ shape: [], data: Float64Array.from([14]) });
    const batch = run(matmul(input('v', [3]), input('m', [2, 3, 1])), { v, m });
    expect(batch).toEqual({ shape: [2, 1], data: Float64Array.from([1, 6]) });
  });

  it.each([
    [[2, 3, 4, 5], [5, 6], {}, [2, 3, 4, 6]],
    [[1, 3, 4], [2, 4, 5], {}, [2, 3, 5]],
    [[4, 5], [2, 3, 5, 6], {}, [2, 3, 4, 6]],
    [[2, 1, 5, 4], [3, 6, 5], { transposeA: true, transposeB: true }, [2, 3, 4, 6]],
    [[2, 3, 4, 5], [3, 6, 5], { transposeB: true }, [2, 3, 4, 6]],
    [[2, 3, 4], [4], {}, [2, 3]],
  ] as const)('%j @ %j with %j is %j, as numpy computes it', (as, bs, flags, want) => {
    const a = { shape: [...as], data: randomValues(sizeOf(as), 3) };
    const b = { shape: [...bs], data: randomValues(sizeOf(bs), 4) };
    const got = run(matmul(input('a', a.shape), input('b', b.shape), flags), { a: a.data, b: b.data });
    const expected = oracle(a, b, 'transposeA' in flags, 'transposeB' in flags);
    expect(got.shape).toEqual([...want]);
    expect(expected.shape).toEqual([...want]);
    got.data.forEach((v, i) => expect(v).toBeCloseTo(expected.data[i], 12));
  });

  it('equals numpy over random broadcast shapes, flags and vectors', () => {
    fc.assert(
      fc.property(productArb, ({ a, b, flags }) => {
        const got = run(matmul(input('a', a.shape), input('b', b.shape), flags), { a: a.data, b: b.data });
        const want = oracle(a, b, flags.transposeA, flags.transposeB);
        expect(got.shape).toEqual(want.shape);
        got.data.forEach((v, i) => expect(v).toBeCloseTo(want.data[i], 12));
      }),
      { numRuns: propertyRuns },
    );
  });

  it('has gradients that match central differences (reverse and forward mode), broadcast batches summed back', () => {
    fc.assert(
      fc.property(productArb, ({ a, b, flags }) => {
        expectGradientsMatch((x, y) => matmul(x, y, flags), [a, b]);
      }),
      { numRuns: propertyRuns },
    );
  });

  it('has second derivatives that match central differences', () => {
    // An attention-like product: the gradient wrt one factor, differentiated again, runs batchMatmul's VJP through itself.
    fc.assert(
      fc.property(dim, dim, dim, dim, flagsArb, seedArb, (p, m, k, n, flags, seed) => {
        const f = (x: Tensor, w: Tensor): Tensor => {
          const y = tanh(matmul(x, w, flags));
          const [gw] = grad(sum(mul(y, y)), [w]);
          return gw;
        };
        const xShape = [p, ...(flags.transposeA ? [k, m] : [m, k])];
        const wShape = [p, ...(flags.transposeB ? [n, k] : [k, n])];
        expectGradientsMatch(f, [
          { shape: xShape, data: randomValues(sizeOf(xShape), seed) },
          { shape: wShape, data: randomValues(sizeOf(wShape), seed + 1) },
        ]);
      }),
      { numRuns: Math.ceil(propertyRuns / 3) },
    );
  });

  it('keeps two matrices one matmul node, folds a batch times a shared matrix into one, and makes one batchMatmul for a batch', () => {
    expect(opsOf(matmul(input('a', [2, 3]), input('b', [3, 4])))).toEqual(['input', 'input', 'matmul']);
    // Equal batches of rank 3: no broadcast and no reshape.
    expect(opsOf(matmul(input('a', [5, 2, 3]), input('b', [5, 3, 4])))).toEqual(['input', 'input', 'batchMatmul']);
    // A batch times one shared matrix: the batch folds into the rows of one matmul, b is not copied.
    expect(opsOf(matmul(input('a', [2, 3, 4, 5]), input('b', [5, 6])))).toEqual(['input', 'reshape', 'input', 'matmul', 'reshape']);
    expect(opsOf(matmul(input('a', [2, 3, 4, 5]), input('b', [6, 5]), { transposeB: true }))).toContain('matmul');
    // ...but not when a is read transposed (its rows are not contiguous): then b is broadcast.
    const ops = opsOf(matmul(input('a', [2, 3, 5, 4]), input('b', [5, 6]), { transposeA: true }));
    expect(ops.filter((o) => o === 'batchMatmul')).toHaveLength(1);
    expect(ops.filter((o) => o === 'broadcastTo')).toHaveLength(1);
    expect(ops).not.toContain('matmul');
  });

  it("batchMatmul's gradients are batchMatmuls with flags: no transpose is materialised", () => {
    for (const [transposeA, transposeB] of [[false, false], [false, true], [true, false], [true, true]]) {
      const a = input('a', transposeA ? [2, 4, 3] : [2, 3, 4]);
      const b = input('b', transposeB ? [2, 5, 4] : [2, 4, 5]);
      const gs = grad(sum(batchMatmul(a, b, { transposeA, transposeB })), [a, b]);
      const ops = topologicalOrder(gs).map((t) => t.op);
      expect(ops).not.toContain('transpose');
      expect(gs.map((g) => g.shape)).toEqual([a.shape, b.shape]);
    }
  });
});

describe('matmul refuses batched shapes that do not multiply', () => {
  it('names both shapes when the inner dimensions differ', () => {
    const e = striateError(() => matmul(input('a', [2, 3, 4, 5]), input('b', [2, 6, 7])), 'matmul');
    expect(e.message).toBe('matmul: inner dimensions differ: a [2,3,4,5] has 5 columns but b [2,6,7] has 6 rows; expected a [..., M, K] and b [..., K, N]');
    expect(e.got).toBe('a [2,3,4,5] and b [2,6,7]');
    expect(() => matmul(input('a', [2, 3, 4]), input('b', [2, 5, 4]), { transposeA: true, transposeB: true })).toThrow(
      'matmul: inner dimensions differ: transposed a [2,3,4] has 3 columns but transposed b [2,5,4] has 4 rows; expected a [..., K, M] (transposeA) and b [..., N, K] (transposeB)',
    );
    expect(() => matmul(input('v', [4]), input('m', [2, 3, 5]))).toThrow('matmul: inner dimensions differ: a [4] has 4 elements but b [2,3,5] has 3 rows');
  });

  it('names the batch dimensions that do not broadcast', () => {
    const e = striateError(() => matmul(input('a', [2, 3, 4, 5]), input('b', [4, 5, 6])), 'matmul');
    expect(e.message).toBe(
      'matmul: the batch dimensions of a [2,3,4,5] and b [4,5,6] do not broadcast: [2,3] vs [4] (aligned from the right, each pair must be equal or 1; 3 vs 4 here)',
    );
    expect(e.expected).toBe('batch dimensions that broadcast: aligned from the right, each pair equal or 1');
  });

  it('refuses a scalar operand and a transpose flag on a vector', () => {
    expect(() => matmul(input('s', []), input('b', [2, 3]))).toThrow('matmul: a is a scalar (shape []) but matmul multiplies vectors and matrices; multiply by a scalar with mul');
    expect(() => matmul(input('a', [2, 3]), input('v', [3]), { transposeB: true })).toThrow(
      'matmul: transposeB is set but b [3] is a vector, which has no transpose; drop transposeB',
    );
  });

  it('refuses a result too large to index, naming matmul', () => {
    expect(() => matmul(input('a', [2 ** 20, 1, 2 ** 17, 1]), input('b', [2 ** 17, 1, 2 ** 17]))).toThrow(/^matmul: result \[.*\] has .* elements, more than 2\^53 - 1/);
  });

  it('batchMatmul itself refuses what is not a batch of matching matrices', () => {
    expect(() => batchMatmul(input('a', [2, 3]), input('b', [2, 3, 4]))).toThrow(
      'batchMatmul: a has shape [2,3] (rank 2) but batchMatmul multiplies a batch of matrices, a [B, M, K]; matmul() flattens any batch dimensions into one',
    );
    expect(() => batchMatmul(input('a', [2, 3, 4]), input('b', [3, 4, 5]))).toThrow(
      'batchMatmul: the batches differ: a [2,3,4] holds 2 matrices but b [3,4,5] holds 3; broadcast them to one batch first (matmul() does)',
    );
    expect(() => batchMatmul(input('a', [2, 3, 4]), input('b', [2, 5, 4]))).toThrow(
      'batchMatmul: inner dimensions differ: a [2,3,4] has 4 columns but b [2,5,4] has 5 rows; expected a [B, M, K] and b [B, K, N]',
    );
    expect(() => batchMatmul(input('a', [2, 3, 4]), input('b', [2, 4, 5]), { transposeA: 1 as never })).toThrow('batchMatmul: transposeA must be true or false, got 1');
    expect(() => batchMatmul(input('a', [2, 3, 4]), input('b', [2, 4, 5]), { transpose: true } as never)).toThrow('batchMatmul: unknown option "transpose"');
  });
});
