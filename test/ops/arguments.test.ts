import { describe, expect, it } from 'vitest';
import {
  StriateError,
  Tensor,
  add,
  avgPool2d,
  avgPool2dBackward,
  broadcastTo,
  concat,
  constant,
  conv2d,
  conv2dBackpropFilter,
  conv2dBackpropInput,
  fill,
  flatten,
  input,
  matmul,
  max,
  maxPool2d,
  maxPool2dBackward,
  mean,
  reshape,
  slice,
  softmax,
  sum,
  transpose,
  zeros,
} from '../../src/index.js';
import { striateError } from '../helpers.js';

/** `f` throws a StriateError from `op` (whose message matches `message`, when given), not a TypeError from deep inside. */
function refusedBy(op: string, f: () => unknown, message?: RegExp | string): StriateError {
  const e = striateError(f, op);
  expect(e.got).not.toBe('');
  expect(e.expected).not.toBe('');
  if (message !== undefined) expect(e.message).toMatch(message);
  return e;
}

const x = input('x', [1, 2, 6, 6]);
const w = input('w', [3, 2, 3, 3]);
const m = input('m', [2, 3]);
const never = <T>(v: T): never => v as never;

describe('op arguments of the wrong kind', () => {
  it('conv2d refuses options that are not an options object, unknown options and a bias that is not a Tensor', () => {
    refusedBy('conv2d', () => conv2d(x, w, never(null)), "conv2d: options must be an object such as { stride: 2, padding: 'same' }, got null");
    refusedBy('conv2d', () => conv2d(x, w, never(2)), /got number 2/);
    refusedBy('conv2d', () => conv2d(x, w, never('same')), /got string "same"/);
    refusedBy('conv2d', () => conv2d(x, w, never([1, 1])), /got an array of 2/);
    refusedBy('conv2d', () => conv2d(x, w, never(input('b', [3]))), /got a Tensor/);
    refusedBy('conv2d', () => conv2d(x, w, never({ strides: 2 })), 'conv2d: unknown option "strides"; the options are "stride", "padding", "dilation", "bias"');
    refusedBy('conv2d', () => conv2d(x, w, { bias: never(3) }), 'conv2d: bias must be a Tensor, got number 3');
    refusedBy('conv2d', () => conv2d(x, w, { stride: never('2') }), /stride must be an integer >= 1/);
  });

  it('the backprop and pooling builders refuse options and attributes that are not objects', () => {
    const dy = input('dy', [1, 3, 4, 4]);
    refusedBy('conv2dBackpropInput', () => conv2dBackpropInput(dy, w, never(null)), /options must be an object/);
    refusedBy('conv2dBackpropFilter', () => conv2dBackpropFilter(x, dy, never(undefined)), /options must be an object .*got undefined/);
    refusedBy('conv2dBackpropInput', () => conv2dBackpropInput(dy, w, never({ inputShape: [1, 2, 6, 6], pad: 1 })), /unknown option "pad"/);
    refusedBy('maxPool2d', () => maxPool2d(x, never(null)), /options must be an object such as \{ size: 2 \}, got null/);
    refusedBy('maxPool2d', () => maxPool2d(x, never(2)), /got number 2/);
    refusedBy('maxPool2d', () => maxPool2d(x, never({ size: 2, countIncludePad: true })), /unknown option "countIncludePad"/);
    refusedBy('avgPool2d', () => avgPool2d(x, never('2')), /got string "2"/);
    refusedBy('maxPool2dBackward', () => maxPool2dBackward(x, input('p', [1, 2, 3, 3]), never(null)), /options must be an object/);
    refusedBy('maxPool2dBackward', () => maxPool2dBackward(x, input('p', [1, 2, 3, 3]), never({ size: 2, stride: 2, pads: [0, 0, 0, 0] })), /size must be a pair/);
    refusedBy('avgPool2dBackward', () => avgPool2dBackward(input('p', [1, 2, 3, 3]), never(null)), /options must be an object/);
    refusedBy('avgPool2dBackward', () => avgPool2dBackward(input('p', [1, 2, 3, 3]), never({ size: [2, 2], stride: [2, 2], pads: [0, 0, 0, 0] })), /inputShape must have rank 4 .*got undefined/);
  });

  it('the reductions refuse options that are null, numbers, strings or arrays, and flags that are not booleans', () => {
    refusedBy('sum', () => sum(m, never(null)), "sum: options must be an object such as { axes: 1, keepDims: true }, got null");
    refusedBy('sum', () => sum(m, never('a')), /got string "a"/);
    refusedBy('sum', () => sum(m, never(1)), /got number 1/);
    refusedBy('sum', () => sum(m, never([1])), /got an array of 1/);
    refusedBy('sum', () => sum(m, never({ axis: 1 })), /unknown option "axis"/);
    refusedBy('sum', () => sum(m, { axes: never(null) }), 'sum: axes must be an integer or an array of integers, got null');
    refusedBy('sum', () => sum(m, { axes: never('1') }), /axes must be an integer or an array/);
    refusedBy('sum', () => sum(m, { keepDims: never('yes') }), 'sum: keepDims must be true or false, got "yes"');
    refusedBy('mean', () => mean(m, never(0)), /options must be an object/);
    refusedBy('max', () => max(m, never(null)), /options must be an object/);
    refusedBy('max', () => max(m, { keepDims: never(1) }), /keepDims must be true or false, got 1/);
    refusedBy('sum', () => sum(never(null)), 'sum: x must be a Tensor, got null');
  });

  it('matmul, softmax, concat, reshape, flatten, transpose and slice refuse arguments of the wrong kind', () => {
    refusedBy('matmul', () => matmul(m, m, never(null)), /options must be an object such as \{ transposeB: true \}/);
    refusedBy('matmul', () => matmul(m, m, never({ transpose: true })), /unknown option "transpose"/);
    refusedBy('softmax', () => softmax(m, never(null)), 'softmax: axis must be an integer, got null');
    refusedBy('softmax', () => softmax(m, never([1])), /axis must be an integer, got an array of 1/);
    refusedBy('concat', () => concat([m, m], never(null)), 'concat: axis must be an integer, got null');
    refusedBy('reshape', () => reshape(m, never(6)), 'reshape: target shape must hold positive integers and at most one -1, got number 6');
    refusedBy('reshape', () => reshape(never(null), [6]), 'reshape: x must be a Tensor, got null');
    refusedBy('reshape', () => reshape(m, [2 ** 60, -1]), /target shape must hold positive integers/);
    refusedBy('flatten', () => flatten(never('x')), /x must be a Tensor/);
    refusedBy('transpose', () => transpose(m, never(1)), /perm 1 is not a permutation/);
    refusedBy('transpose', () => transpose(never(undefined)), /x must be a Tensor, got undefined/);
    refusedBy('slice', () => slice(never(null), [0], [1]), /x must be a Tensor, got null/);
  });

  it('constant and fill take numbers only', () => {
    refusedBy('constant', () => constant(never(null), [2]), 'constant: value must be an array of numbers, got null');
    refusedBy('constant', () => constant(never('12'), [2]), /got string "12"/);
    refusedBy('constant', () => constant(never(['1', '2']), [2]), /value 0 is string "1"; constants must be finite numbers/);
    refusedBy('constant', () => fill([2], never('3')), /value 0 is string "3"/);
    refusedBy('constant', () => constant([1, NaN], [2]), /value 1 is NaN/);
  });

  it('elementwise shapes that do not broadcast are a StriateError', () => {
    const e = refusedBy('add', () => add(input('a', [2]), input('b', [3])), /add: shapes \[2\] and \[3\] do not broadcast/);
    expect(e.got).toBe('shapes [2] and [3]');
  });
});

describe('broadcastTo', () => {
  const b = input('b', [3]);

  it('refuses a target that is not an array of positive integers', () => {
    refusedBy('broadcastTo', () => broadcastTo(b, [-3]), 'broadcastTo: target must be an array of positive integers, got [-3]');
    refusedBy('broadcastTo', () => broadcastTo(input('s', [1]), [2.5]), /got \[2.5\]/);
    refusedBy('broadcastTo', () => broadcastTo(input('s', [1]), [2, 0]), /got \[2,0\]/);
    refusedBy('broadcastTo', () => broadcastTo(b, never('3')), /got string "3"/);
    refusedBy('broadcastTo', () => broadcastTo(b, never(null)), /got null/);
    refusedBy('broadcastTo', () => broadcastTo(b, never(3)), /got number 3/);
  });

  it('refuses a target the input does not broadcast to, and an input that is not a Tensor', () => {
    refusedBy('broadcastTo', () => broadcastTo(b, [2, 4]), /cannot broadcast \[3\] to \[2,4\]/);
    refusedBy('broadcastTo', () => broadcastTo(b, [1]), /cannot broadcast \[3\] to \[1\]/);
    refusedBy('broadcastTo', () => broadcastTo(never([3]), [2, 3]), /x must be a Tensor, got an array of 1/);
  });

  it('still broadcasts what broadcasts', () => {
    expect(broadcastTo(b, [2, 3]).shape).toEqual([2, 3]);
    expect(broadcastTo(b, [3])).toBe(b);
  });
});

describe('sizes checked when a node is built', () => {
  it('refuses dimensions that are not positive safe integers, a 0 among them', () => {
    refusedBy('input', () => input('x', [0]), 'input: shape must be an array of positive integers, got [0]');
    refusedBy('input', () => input('x', [1e300]), /got \[1e\+300\]/);
    refusedBy('input', () => input('x', [2 ** 53]), /shape must be an array of positive integers/);
    refusedBy('constant', () => zeros([2, 0]), /got \[2,0\]/);
  });

  it('refuses shapes of more than 2^53 - 1 elements, whatever op makes them', () => {
    const e = refusedBy('input', () => input('x', [2 ** 30, 2 ** 30, 2 ** 30]), /shape \[1073741824,1073741824,1073741824\] has 1.24e\+27 elements, more than 2\^53 - 1/);
    expect(e.expected).toBe('at most 2^53 - 1 elements');
    const a = input('a', [2 ** 27, 1]);
    const b = input('b', [1, 2 ** 27]);
    refusedBy('matmul', () => matmul(a, b), /matmul: shape \[134217728,134217728\] has 1.80e\+16 elements/);
    refusedBy('relu', () => new Tensor('relu', [], {}, [2 ** 27, 2 ** 27]), /has 1.80e\+16 elements/);
    expect(input('x', [2 ** 26, 2 ** 26]).size).toBe(2 ** 52);
  });

  it('refuses a constant too large to hold in the graph, instead of a RangeError', () => {
    refusedBy('constant', () => zeros([1e5, 1e5]), /constant: shape \[100000,100000\] has 10000000000 elements, more than the 4294967295 a constant can hold/);
  });

  it('refuses hand-built nodes whose inputs or shape are not what a node holds', () => {
    refusedBy('relu', () => new Tensor('relu', never('x'), {}, [2]), 'relu: inputs must be an array of tensors, got string "x"');
    refusedBy('relu', () => new Tensor('relu', never([3]), {}, [2]), 'relu: input 0 is number 3, expected a Tensor');
    refusedBy('relu', () => new Tensor('relu', [m], {}, never(null)), 'relu: shape must be an array of positive integers, got null');
    refusedBy('relu', () => new Tensor('relu', [m], {}, [-2, 3]), /got \[-2,3\]/);
  });
});
