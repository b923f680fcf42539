import { describe, expect, it } from 'vitest';
import { add, compile, exp, grad, input, mul, sum, vjp } from '../../src/index.js';

describe('grad', () => {
  it('refuses a non-scalar output with a way forward', () => {
    const x = input('x', [2, 3]);
    expect(() => grad(exp(x), [x])).toThrow(
      'grad: the output must be a scalar (one element), got shape [2,3]; reduce it first (e.g. sum or mean) or use vjp(ys, xs, cotangents)',
    );
  });

  it('accumulates fan-out: d/dx of x*x + x is 2x + 1', async () => {
    const x = input('x', [3]);
    const [g] = grad(sum(add(mul(x, x), x)), [x]);
    const [gv] = await compile(g).run({ x: [1, -2, 0.5] });
    expect([...gv.data]).toEqual([3, -3, 2]);
  });

  it('gives zeros for an input the output does not depend on', async () => {
    const x = input('x', [2]);
    const z = input('z', [2, 2]);
    const [gz] = grad(sum(x), [z]);
    expect(gz.shape).toEqual([2, 2]);
    const [v] = await compile(gz).run({});
    expect([...v.data]).toEqual([0, 0, 0, 0]);
  });

  it('returns a new graph and leaves the old one alone', () => {
    const x = input('x', [2]);
    const y = sum(exp(x));
    const before = y.toString();
    grad(y, [x]);
    expect(y.toString()).toBe(before);
  });

  it('vjp checks cotangent shapes', () => {
    const x = input('x', [2]);
    expect(() => vjp([exp(x)], [x], [input('c', [3])])).toThrow('vjp: cotangent 0 has shape [3] but output 0 has shape [2]');
    expect(() => vjp([exp(x)], [x], [])).toThrow('vjp: got 1 outputs but 0 cotangents');
  });

  it('differentiates twice: d2/dx2 of sum(exp(x) * x) is exp(x) (x + 2)', async () => {
    const x = input('x', [3]);
    const [g] = grad(sum(mul(exp(x), x)), [x]);
    const [h] = grad(sum(g), [x]);
    const xs = [0.1, -0.7, 1.3];
    const [hv] = await compile(h).run({ x: xs });
    hv.data.forEach((v, i) => expect(v).toBeCloseTo(Math.exp(xs[i]) * (xs[i] + 2), 12));
  });
});
