/**
 * The contracts `vjp` holds every op's rule to, and the frozen attributes
 * every node carries: a broken rule or a mutated node fails loudly, naming
 * the op, instead of giving a silently wrong gradient.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { conv2d, exp, grad, input, mul, reshape, sum } from '../../src/index.js';
import { ops } from '../../src/ops/index.js';
import type { OpDef } from '../../src/ops/op.js';

const registry = ops as unknown as Record<string, OpDef<never>>;
const original = { ...registry };

/** Replace one op's VJP rule for the duration of a test. */
function withRule(name: 'exp' | 'mul', vjp: (...a: never[]) => unknown): void {
  registry[name] = { ...original[name], vjp } as never;
}

afterEach(() => {
  registry.exp = original.exp;
  registry.mul = original.mul;
});

describe('vjp checks each rule it calls', () => {
  const x = input('x', [3, 4]);

  it('passes the rules as written', () => {
    const [g] = grad(sum(exp(mul(x, x))), [x]);
    expect(g.shape).toEqual([3, 4]);
  });

  it('rejects a rule that returns too few cotangents, naming the op (it used to give zero gradients)', () => {
    withRule('mul', () => []);
    expect(() => grad(sum(mul(x, x)), [x])).toThrow('mul VJP: returned 0 cotangents for 2 inputs');
  });

  it('rejects a rule that returns too many', () => {
    withRule('exp', (g: never) => [g, g]);
    expect(() => grad(sum(exp(x)), [x])).toThrow('exp VJP: returned 2 cotangents for 1 input');
  });

  it('rejects a cotangent that is not a tensor', () => {
    withRule('exp', () => [undefined]);
    expect(() => grad(sum(exp(x)), [x])).toThrow('exp VJP: cotangent 0 is undefined, expected a Tensor or null');
  });

  it("rejects a cotangent whose shape the input's shape does not broadcast to", () => {
    withRule('exp', () => [input('wrong', [4, 3])]);
    expect(() => grad(sum(exp(x)), [x])).toThrow(
      "exp VJP: cotangent 0 has shape [4,3] but input 0 has shape [3,4]; a cotangent must have its input's shape or one that shape broadcasts to",
    );
  });

  it('accepts a broadcast-shaped cotangent and sums it back to the input (the one central place)', async () => {
    withRule('exp', () => [input('wide', [2, 3, 4])]);
    const [g] = grad(sum(exp(x)), [x]);
    expect(g.shape).toEqual([3, 4]);
  });
});

describe('node attributes are deeply frozen', () => {
  it('refuses to change what a built node computes', () => {
    const y = conv2d(input('x', [1, 1, 8, 8]), input('w', [2, 1, 3, 3]), { stride: 2 });
    expect(Object.isFrozen(y.attrs)).toBe(true);
    expect(Object.isFrozen(y.attrs.stride)).toBe(true);
    expect(() => {
      (y.attrs.stride as unknown as number[])[0] = 1;
    }).toThrow(TypeError);
    expect(() => {
      (y.attrs as { pads: unknown }).pads = [0, 0, 0, 0];
    }).toThrow(TypeError);
    expect(y.attrs.stride).toEqual([2, 2]);
    expect(() => {
      (y.shape as number[])[0] = 5;
    }).toThrow(TypeError);
  });

  it("copies the caller's arrays rather than freezing them", () => {
    const shape = [4, 3];
    const y = reshape(input('x', [3, 4]), shape);
    shape[0] = 12;
    expect(Object.isFrozen(shape)).toBe(false);
    expect(y.attrs.shape).toEqual([4, 3]);
    expect(y.shape).toEqual([4, 3]);
  });
});
