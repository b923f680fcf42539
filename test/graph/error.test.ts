import { describe, expect, it } from 'vitest';
import { errorFields, errorFromFields, StriateError } from '../../src/graph/error.js';

/** What another thread receives: the fields after a structured clone, as postMessage sends them. */
const across = (e: unknown) => structuredClone(errorFields(e));
const otherwise = (message: string) => new Error(`pool: a worker failed: ${message}`);

describe('errorFields and errorFromFields (an error crossing between threads)', () => {
  it('gives back a StriateError with its op, message, got and expected', () => {
    const sent = new StriateError('conv2d', 'filter has 2 input channels, x has 3', { got: 'filter [4,2,3,3]', expected: '3 input channels' });
    const back = errorFromFields(across(sent), otherwise);
    expect(back).toBeInstanceOf(StriateError);
    expect(back.message).toBe(sent.message);
    expect(back.message).toBe('conv2d: filter has 2 input channels, x has 3');
    const s = back as StriateError;
    expect([s.op, s.got, s.expected]).toEqual(['conv2d', 'filter [4,2,3,3]', '3 input channels']);
  });

  it('turns any other error into the caller’s, with its message', () => {
    const back = errorFromFields(across(new TypeError('x is undefined')), otherwise);
    expect(back).not.toBeInstanceOf(StriateError);
    expect(back.message).toBe('pool: a worker failed: x is undefined');
    expect(errorFromFields(across('a thrown string'), otherwise).message).toBe('pool: a worker failed: a thrown string');
  });

  it('keeps the fields of an error that is not a StriateError empty', () => {
    expect(errorFields(new RangeError('out of memory'))).toEqual({ message: 'out of memory', op: null, got: '', expected: '' });
  });
});
