import { describe, expect, it } from 'vitest';
import { add, exp, input, mul, relu, sum, topologicalOrder, type Tensor } from '../../src/index.js';

describe('graph nodes', () => {
  it('are frozen values', () => {
    const x = input('x', [2, 3]);
    const y = relu(add(x, 1));
    expect(Object.isFrozen(y)).toBe(true);
    expect(Object.isFrozen(y.shape)).toBe(true);
    expect(Object.isFrozen(y.inputs)).toBe(true);
    expect(Object.isFrozen(y.attrs)).toBe(true);
    expect(() => {
      (y as unknown as { op: string }).op = 'exp';
    }).toThrow(TypeError);
    expect(y.op).toBe('relu');
    expect(y.dtype).toBe('float32');
  });

  it('are ordered inputs first, each once, even when shared', () => {
    const x = input('x', [3]);
    const a = exp(x);
    const y = add(mul(a, a), a);
    const order = topologicalOrder([y]);
    expect(order.filter((n) => n === a)).toHaveLength(1);
    const pos = new Map(order.map((n, i) => [n.id, i]));
    for (const n of order) for (const i of n.inputs) expect(pos.get(i.id)!).toBeLessThan(pos.get(n.id)!);
    expect(order[order.length - 1]).toBe(y);
  });

  it('survive a very deep chain without overflowing the stack', () => {
    let t: Tensor = input('x', [1]);
    for (let i = 0; i < 50_000; i++) t = add(t, 1);
    // x, 50,000 adds and their 50,000 scalar constants
    expect(topologicalOrder([t])).toHaveLength(100_001);
  });

  it('print one line per node with op, attributes and shape', () => {
    const x = input('x', [2, 3]);
    const y = sum(relu(x), { axes: [1], keepDims: true });
    const lines = y.toString().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^%\d+ = input\(\) \{name: "x"\} : \[2,3\]$/);
    expect(lines[1]).toMatch(/^%\d+ = relu\(%\d+\) : \[2,3\]$/);
    expect(lines[2]).toMatch(/^%\d+ = sum\(%\d+\) \{axes: \[1\], keepDims: true\} : \[2,1\]$/);
  });

  it('reject bad input names and shapes', () => {
    expect(() => input('', [1])).toThrow('input: name must start with a letter');
    expect(() => input('x', [2, 0])).toThrow('input: shape must be an array of positive integers, got [2,0]');
    expect(() => input('x', [2.5])).toThrow('input: shape must be an array of positive integers');
  });
});
