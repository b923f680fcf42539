import { describe, expect, it } from 'vitest';
import { StriateError, type Tensor, checkGradients, grad, input, mul, sum, vjp } from '../../src/index.js';
import { striateError } from '../helpers.js';


const x = input('x', [2, 3]);
const y = sum(mul(x, x));

/** The StriateError `f` throws, checked to come from `op`. */
const striateErrorOf = (op: string, f: () => unknown): StriateError => striateError(f, op);

describe('grad and vjp arguments', () => {
  it('grad refuses a y that is not a Tensor', () => {
    const e = striateErrorOf('grad', () => grad('loss' as never, [x]));
    expect(e.message).toBe('grad: y must be a Tensor, got string "loss"');
    expect(e).toMatchObject({ got: 'y string "loss"', expected: 'a scalar Tensor' });
  });

  it('grad takes an array of tensors and says how to write a single one', () => {
    // The contract is grad(y, xs[]) → one gradient per x, so a lone tensor is refused rather than guessed at.
    expect(striateErrorOf('grad', () => grad(y, x as never)).message).toBe(
      'grad: xs must be an array of tensors, got a Tensor; for one tensor write grad(y, [x])',
    );
    expect(striateErrorOf('grad', () => grad(y, undefined as never)).message).toBe('grad: xs must be an array of tensors, got undefined');
  });

  it('grad names itself, not constant, for an x that is not a Tensor', () => {
    const e = striateErrorOf('grad', () => grad(y, ['a' as never]));
    expect(e.message).toBe('grad: xs[0] is string "a", expected a Tensor');
    expect(e).toMatchObject({ got: 'xs[0] string "a"', expected: 'a Tensor' });
  });

  it('grad refuses a y that is not a scalar', () => {
    expect(striateErrorOf('grad', () => grad(x, [x])).message).toMatch(/^grad: the output must be a scalar \(one element\), got shape \[2,3\]/);
  });

  it('vjp checks its three arrays', () => {
    const c = input('c', [2, 3]);
    expect(striateErrorOf('vjp', () => vjp(x as never, [x], [c])).message).toBe(
      'vjp: ys must be an array of tensors, got a Tensor; for one tensor write vjp([y], xs, [c])',
    );
    expect(striateErrorOf('vjp', () => vjp([x], [x, 3 as never], [c])).message).toBe('vjp: xs[1] is number 3, expected a Tensor');
    expect(striateErrorOf('vjp', () => vjp([x], [x], [null as never])).message).toBe('vjp: cotangents[0] is null, expected a Tensor');
    expect(striateErrorOf('vjp', () => vjp([x], [x], [])).message).toMatch(/got 1 outputs but 0 cotangents/);
    expect(striateErrorOf('vjp', () => vjp([x], [x], [input('d', [3, 2])])).message).toMatch(/cotangent 0 has shape \[3,2\] but output 0 has shape \[2,3\]/);
  });

  it('checkGradients checks its function, inputs and options', () => {
    const f = (...ts: Tensor[]) => sum(mul(ts[0], ts[0]));
    const ok = { shape: [2], data: [1, 2] };
    expect(striateErrorOf('checkGradients', () => checkGradients('f' as never, [ok])).message).toMatch(/fn must be a function of tensors, got string "f"/);
    expect(striateErrorOf('checkGradients', () => checkGradients(f, ok as never)).message).toMatch(/inputs must be an array of \{ shape, data \}/);
    expect(striateErrorOf('checkGradients', () => checkGradients(f, [null as never])).message).toMatch(/input 0 must be \{ shape, data \}, got null/);
    expect(striateErrorOf('checkGradients', () => checkGradients(f, [{ shape: [-2], data: [1, 2] }])).message).toMatch(/input 0's shape must be an array of positive integers/);
    expect(striateErrorOf('checkGradients', () => checkGradients(f, [ok], null as never)).message).toMatch(/options must be an object/);
    expect(striateErrorOf('checkGradients', () => checkGradients(f, [ok], { tol: 1 } as never)).message).toMatch(/unknown option "tol"/);
    expect(checkGradients(f, [ok]).checks).toBeGreaterThan(0);
  });

  it('still differentiates', () => {
    const [g] = grad(y, [x]);
    expect(g.shape).toEqual([2, 3]);
  });
});
