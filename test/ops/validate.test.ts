import { describe, expect, it } from 'vitest';
import {
  Tensor,
  add,
  avgPool2d,
  broadcastTo,
  buildModel,
  concat,
  constant,
  conv2d,
  conv2dBackpropFilter,
  conv2dBackpropInput,
  div,
  exp,
  grad,
  input,
  lenet5,
  log,
  logSoftmax,
  matmul,
  max,
  maxPool2d,
  maxPool2dBackward,
  maxPool2dSelect,
  avgPool2dBackward,
  mul,
  neg,
  oneHot,
  pad,
  relu,
  reluBackward,
  reshape,
  sigmoid,
  slice,
  softmax,
  softmaxCrossEntropy,
  sqrt,
  step,
  sub,
  sum,
  tanh,
  after,
  checkpoint,
  customVjp,
  topologicalOrder,
  transpose,
  type OpName,
} from '../../src/index.js';
import type { OpAttrs } from '../../src/ops/attrs.js';
import { conv2dMaxPool } from '../../src/ops/conv2dMaxPool.js';
import { elu } from '../../src/ops/elu.js';
import { ops } from '../../src/ops/index.js';
import { leakyRelu } from '../../src/ops/leakyRelu.js';
import { pow } from '../../src/ops/pow.js';
import { relu6 } from '../../src/ops/relu6.js';
import { maxMask } from '../../src/ops/maxMask.js';
import { validateGraph } from '../../src/ops/validate.js';
import { striateError } from '../helpers.js';

const x4 = input('x', [1, 2, 6, 6]);
const w4 = input('w', [3, 2, 3, 3]);
const m = input('m', [2, 3]);
const m3 = input('m3', [2, 2, 3]);
const pool = { size: [2, 2], stride: [2, 2], pads: [0, 0, 0, 0] } as const;

/** The first node of op `op` in the graph of `t`. */
function find<O extends OpName>(t: Tensor, op: O): Tensor<O> {
  const node = topologicalOrder([t]).find((n) => n.op === op);
  if (!node) throw new Error(`no ${op} node`);
  return node as Tensor<O>;
}

/**
 * One valid node per op, built as the library builds it, and for each op with
 * attributes the attributes a hand-built node could get wrong. The mapped type
 * makes an op missing here a compile error.
 */
const cases: { readonly [O in OpName]: { readonly node: () => Tensor<O>; readonly bad: readonly Partial<OpAttrs[O]>[] } } = {
  input: { node: () => input('x', [2]), bad: [{ name: 'two words' }, { name: 3 as never }] },
  constant: { node: () => constant([1, 2], [2]), bad: [{ value: [1] }, { value: [1, NaN] }, { value: 'ab' as never }] },
  add: { node: () => add(m, 1), bad: [] },
  sub: { node: () => sub(m, m), bad: [] },
  mul: { node: () => mul(m, 2), bad: [] },
  div: { node: () => div(m, 2), bad: [] },
  neg: { node: () => neg(m), bad: [] },
  exp: { node: () => exp(m), bad: [] },
  log: { node: () => log(m), bad: [] },
  sqrt: { node: () => sqrt(m), bad: [] },
  relu: { node: () => relu(m), bad: [] },
  reluBackward: { node: () => reluBackward(m, m), bad: [] },
  sigmoid: { node: () => sigmoid(m), bad: [] },
  tanh: { node: () => tanh(m), bad: [] },
  step: { node: () => step(m), bad: [] },
  leakyRelu: { node: () => leakyRelu(m, { alpha: 0.2 }), bad: [{ alpha: 1 }, { alpha: -0.5 }, { alpha: NaN }, { alpha: '0.1' as never }] },
  elu: { node: () => elu(m), bad: [{ alpha: 0 }, { alpha: -1 }, { alpha: Infinity }, { alpha: null as never }] },
  relu6: { node: () => relu6(m), bad: [] },
  pow: { node: () => pow(m, 0.75), bad: [{ exponent: NaN }, { exponent: -Infinity }, { exponent: 2 ** 30 }, { exponent: '2' as never }] },
  reshape: { node: () => reshape(m, [3, 2]), bad: [{ shape: [-2, -3] }, { shape: [6.5] }, { shape: 6 as never }] },
  broadcastTo: { node: () => broadcastTo(m, [4, 2, 3]) as Tensor<'broadcastTo'>, bad: [{ shape: [-4, 2, 3] }, { shape: [3, 3] }] },
  transpose: { node: () => transpose(m), bad: [{ perm: [0, 0] }, { perm: [-1, 0] }] },
  pad: { node: () => pad(m, [[1, 0], [0, 2]]), bad: [{ pads: [[-1, 0], [0, 2]] }, { pads: [[1, 0]] }, { value: NaN }] },
  slice: { node: () => slice(m, [1, 0], [1, 3]), bad: [{ begin: [-1, 0] }, { size: [1, 0] }, { begin: [1.5, 0] }] },
  concat: { node: () => concat([m, m], 0), bad: [{ axis: 2 }, { axis: -1 }] },
  sum: { node: () => sum(m, { axes: 1 }), bad: [{ axes: [2] }, { axes: [1, 0] }, { keepDims: 'yes' as never }] },
  max: { node: () => max(m, { axes: 0 }), bad: [{ axes: [-1] }, { keepDims: 1 as never }] },
  maxMask: { node: () => maxMask(m, 1), bad: [{ axes: [3] }, { axes: 1 as never }] },
  matmul: {
    node: () => matmul(m, m, { transposeB: true }) as Tensor<'matmul'>,
    bad: [{ transposeA: 'no' as never }, { hasBias: 1 as never }, { relu: null as never }],
  },
  // matmul() on a batch builds it; a flag that is not a boolean, or one that no longer fits the shapes (tA: [2,2,3] read as [2,3,2]).
  batchMatmul: {
    node: () => find(matmul(m3, m3, { transposeB: true }), 'batchMatmul'),
    bad: [{ transposeA: 'no' as never }, { transposeB: undefined as never }, { transposeA: true }],
  },
  softmax: { node: () => softmax(m), bad: [{ axis: -1 }, { axis: 2 }] },
  logSoftmax: { node: () => logSoftmax(m), bad: [{ axis: 0.5 }] },
  oneHot: { node: () => oneHot(input('c', [2]), 4), bad: [{ depth: -3 }, { depth: 2.5 }] },
  softmaxCrossEntropy: {
    node: () => softmaxCrossEntropy(m, input('c', [2])),
    bad: [{ labels: 'hot' as never }, { reduction: 'avg' as never }],
  },
  softmaxCrossEntropyBackward: {
    node: () => {
      const logits = input('logits', [2, 3]);
      return find(grad(softmaxCrossEntropy(logits, input('c', [2])), [logits])[0], 'softmaxCrossEntropyBackward');
    },
    bad: [{ reduction: 'avg' as never }],
  },
  // Bad groups: missing, not an integer >= 1, a string, and (on the 2-channel x4 with 3 filters) one that
  // does not divide the channels (3), or divides them but leaves the filter's channels wrong (2: w4 has 2, not 1).
  conv2d: {
    node: () => conv2d(x4, w4, { padding: 1 }),
    bad: [
      { stride: [-1, 1] }, { pads: [-1, 1, 1, 1] }, { dilation: [0, 1] }, { stride: 2 as never }, { hasBias: true }, { relu: 'yes' as never },
      { groups: 0 }, { groups: 1.5 }, { groups: '1' as never }, { groups: undefined as never }, { groups: 3 }, { groups: 2 },
    ],
  },
  conv2dMaxPool: {
    node: () => conv2dMaxPool(conv2d(x4, w4), pool),
    bad: [
      { pool: { ...pool, stride: [0, 2] } }, { conv: { ...conv2d(x4, w4).attrs, pads: [0, 0, -2, 0] } }, { pool: null as never },
      { conv: { ...conv2d(x4, w4).attrs, groups: -1 } }, { conv: { ...conv2d(x4, w4).attrs, groups: 2 } },
      { pool: { ...pool, dilation: [0, 1] } }, { pool: { ...pool, ceilPads: [1, 1] } },
    ],
  },
  conv2dBackpropInput: {
    node: () => conv2dBackpropInput(input('dy', [1, 3, 4, 4]), w4, { inputShape: [1, 2, 6, 6] }),
    bad: [{ stride: [1, -1] }, { inputShape: [1, 2, 6, -6] }, { pads: [0, 0, 0, 0.5] }, { groups: 0 }, { groups: 2 }, { groups: NaN }],
  },
  conv2dBackpropFilter: {
    node: () => conv2dBackpropFilter(x4, input('dy', [1, 3, 4, 4]), { filterShape: [3, 2, 3, 3] }),
    bad: [{ dilation: [-1, -1] }, { filterShape: [3, 2, 3] }, { groups: 2.5 }, { groups: 3 }, { groups: null as never }],
  },
  maxPool2d: {
    node: () => maxPool2d(x4, { size: 2 }),
    bad: [
      { size: [0, 2] }, { stride: [2, -2] }, { pads: [2, 0, 0, 0] }, { size: 2 as never },
      { dilation: [0, 1] }, { dilation: 2 as never }, { dilation: [6, 1] }, { ceilPads: [-1, 0] }, { ceilPads: [1, 0] },
    ],
  },
  maxPool2dBackward: {
    node: () => maxPool2dBackward(x4, input('dy', [1, 2, 3, 3]), pool),
    bad: [{ stride: [-2, 2] }, { pads: [-1, 0, 0, 0] }, { dilation: [1.5, 1] }, { ceilPads: [0, 2] }],
  },
  maxPool2dSelect: { node: () => maxPool2dSelect(x4, x4, pool), bad: [{ size: [2, -2] }, { dilation: [-1, 1] }] },
  avgPool2d: { node: () => avgPool2d(x4, { size: 2 }), bad: [{ stride: [0, 0] }, { countIncludePad: 'no' as never }, { dilation: [0, 0] }, { ceilPads: [1, 1] }] },
  avgPool2dBackward: {
    node: () => avgPool2dBackward(input('dy', [1, 2, 3, 3]), { ...pool, countIncludePad: false, inputShape: [1, 2, 6, 6] }),
    bad: [{ stride: [2, -2] }, { inputShape: [1, 2, 6] }, { countIncludePad: 0 as never }, { dilation: 'x' as never }, { ceilPads: [1, 0] }],
  },
  after: { node: () => after(m, input('dep', [4])), bad: [] },
  checkpoint: { node: () => checkpoint((v: Tensor) => tanh(mul(v, m)))(m), bad: [{ args: -1 }, { args: 5 }, { args: 0.5 }] },
  customVjp: {
    node: () => customVjp((v: Tensor) => tanh(v), (g) => [g])(m),
    bad: [{ rule: 3 as never }, { name: '' }, { jvp: 'fast' as never }],
  },
};

/** The node rebuilt with `new Tensor`, its attributes changed by `patch`. */
const handBuilt = (node: Tensor, patch: object, shape = node.shape): Tensor =>
  new Tensor(node.op, node.inputs, { ...node.attrs, ...patch } as never, shape);


describe('validateGraph', () => {
  it('has a case for every op in the registry', () => {
    expect(Object.keys(cases).sort()).toEqual(Object.keys(ops).sort());
  });

  for (const [op, { node, bad }] of Object.entries(cases) as [OpName, (typeof cases)[OpName]][]) {
    it(`accepts ${op} as its builder makes it, and refuses it hand-built with a wrong shape or attributes`, () => {
      const t = node();
      expect(t.op).toBe(op);
      expect(() => validateGraph(topologicalOrder([t]))).not.toThrow();
      expect(() => validateGraph([handBuilt(t, {})])).not.toThrow();
      // An input's shape is its own: only its attributes can be wrong.
      if (op !== 'input') {
        const wrongShape = striateError(() => validateGraph([handBuilt(t, {}, [...t.shape, 2])]));
        expect(wrongShape.op).toBe(op);
        expect(wrongShape.message).toMatch(new RegExp(`^${op}: node %\\d+ is invalid: `));
      }
      for (const patch of bad) {
        const e = striateError(() => validateGraph([handBuilt(t, patch)]));
        expect(e.op).toBe(op);
        expect(e.message).toMatch(new RegExp(`^${op}: node %\\d+ is invalid: `));
      }
    });
  }

  it('names the node of a negative stride, with the fields of the shape rule', () => {
    const good = conv2d(x4, w4);
    const node = new Tensor('conv2d', [x4, w4], { ...good.attrs, stride: [-1, 1] }, good.shape);
    const e = striateError(() => validateGraph(topologicalOrder([node])));
    expect(e.message).toBe(`conv2d: node %${node.id} is invalid: stride must be a pair [h, w] of integers >= 1, got [-1,1]`);
    expect(e).toMatchObject({ op: 'conv2d', got: 'stride [-1,1]', expected: 'a pair [h, w] of integers >= 1' });
  });

  it('accepts grouped convolutions and their gradients as built, and names a hand-built bad groups', () => {
    const x = input('xg', [2, 6, 7, 7]);
    const w = input('wg', [4, 3, 3, 3]);
    const y = conv2d(x, w, { groups: 2, padding: 1 });
    const depthwise = conv2d(x, input('wd', [6, 1, 3, 3]), { groups: 6 });
    expect(() => validateGraph(topologicalOrder([y, depthwise, ...grad(add(sum(y), sum(depthwise)), [x, w])]))).not.toThrow();
    const node = new Tensor('conv2d', [x, w], { ...y.attrs, groups: 3 }, y.shape);
    const e = striateError(() => validateGraph([node]));
    expect(e.message).toBe(
      `conv2d: node %${node.id} is invalid: the filter [4,3,3,3] has 4 output channels, which 3 groups cannot split evenly; use a number of filters that 3 divides`,
    );
    expect(striateError(() => validateGraph([new Tensor('conv2d', [x, w], { ...y.attrs, groups: 0 }, y.shape)])).message).toMatch(
      /^conv2d: node %\d+ is invalid: groups must be an integer >= 1, got 0$/,
    );
  });

  it('refuses an unknown op, a wrong input count and attributes that are not an object', () => {
    expect(striateError(() => validateGraph([new Tensor('conv3d' as never, [], {} as never, [2])]))).toMatchObject({ op: 'conv3d' });
    expect(striateError(() => validateGraph([new Tensor('relu', [], {} as never, [2, 2])])).message).toMatch(/^relu: node %\d+ is invalid: takes 1 input, got 0$/);
    expect(striateError(() => validateGraph([new Tensor('sum', [m], null as never, [])])).message).toMatch(/^sum: node %\d+ is invalid: its attributes are null$/);
    expect(striateError(() => validateGraph([new Tensor('input', [m], { name: 'x' }, [2, 3])])).message).toMatch(/takes 0 inputs, got 1/);
  });

  it('refuses a node whose inputs are not Tensors', () => {
    const node = Object.assign(Object.create(Tensor.prototype), { id: -1, op: 'relu', inputs: [{ shape: [2] }], attrs: {}, shape: [2] });
    expect(striateError(() => validateGraph([node])).message).toMatch(/^relu: node %-1 is invalid: input 0 is an object with keys shape/);
    expect(striateError(() => validateGraph(['x' as never]))).toMatchObject({ op: 'compile' });
  });

  it('accepts a whole LeNet-5 training graph: forward, loss and every gradient', () => {
    const built = buildModel(lenet5(), { batchSize: 2 });
    const loss = softmaxCrossEntropy(built.output, input('labels', [2]));
    const grads = grad(loss, [...built.paramTensors]);
    expect(() => validateGraph(topologicalOrder([loss, ...grads]))).not.toThrow();
  });
});
