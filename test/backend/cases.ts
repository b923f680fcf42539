/**
 * Small graphs for every op, forward and gradient, shared by the conformance
 * suites (Node backends here, browser backends in test/browser). Each case
 * names its inputs' shapes and value domains; `grads` lists the inputs the
 * gradient is taken with respect to (through a random cotangent, so the
 * backward ops run too).
 */
import type { Tensor } from '../../src/graph/tensor.js';
import type { OpName } from '../../src/ops/attrs.js';
import { grad, vjp } from '../../src/autodiff/grad.js';
import { compile, type BackendName } from '../../src/backend/compile.js';
import { input } from '../../src/ops/input.js';
import { distinctValues, randomValues } from '../helpers.js';
import { add } from '../../src/ops/add.js';
import { after } from '../../src/ops/after.js';
import { checkpoint } from '../../src/ops/checkpoint.js';
import { customVjp } from '../../src/ops/customVjp.js';
import { avgPool2d } from '../../src/ops/avgPool2d.js';
import { avgPool2dBackward } from '../../src/ops/avgPool2dBackward.js';
import { batchMatmul } from '../../src/ops/batchMatmul.js';
import { broadcastTo } from '../../src/ops/broadcastTo.js';
import { concat } from '../../src/ops/concat.js';
import { constant } from '../../src/ops/constant.js';
import { conv2d, conv2dOp } from '../../src/ops/conv2d.js';
import { conv2dMaxPool } from '../../src/ops/conv2dMaxPool.js';
import { conv2dBackpropFilter } from '../../src/ops/conv2dBackpropFilter.js';
import { conv2dBackpropInput } from '../../src/ops/conv2dBackpropInput.js';
import { makeNode } from '../../src/ops/op.js';
import { div } from '../../src/ops/div.js';
import { elu } from '../../src/ops/elu.js';
import { globalAvgPool2d } from '../../src/ops/globalPool.js';
import { leakyRelu } from '../../src/ops/leakyRelu.js';
import { localResponseNorm } from '../../src/ops/lrn.js';
import { pow } from '../../src/ops/pow.js';
import { relu6 } from '../../src/ops/relu6.js';
import { exp } from '../../src/ops/exp.js';
import { log } from '../../src/ops/log.js';
import { logSoftmax } from '../../src/ops/logSoftmax.js';
import { matmul, matmulOp } from '../../src/ops/matmul.js';
import { max } from '../../src/ops/max.js';
import { maxMask } from '../../src/ops/maxMask.js';
import { maxPool2d } from '../../src/ops/maxPool2d.js';
import { pool2dAttrs } from '../../src/ops/pool2dGeometry.js';
import { maxPool2dBackward } from '../../src/ops/maxPool2dBackward.js';
import { maxPool2dSelect } from '../../src/ops/maxPool2dSelect.js';
import { mul } from '../../src/ops/mul.js';
import { neg } from '../../src/ops/neg.js';
import { oneHot } from '../../src/ops/oneHot.js';
import { pad } from '../../src/ops/pad.js';
import { relu } from '../../src/ops/relu.js';
import { reluBackward } from '../../src/ops/reluBackward.js';
import { reshape } from '../../src/ops/reshape.js';
import { sigmoid } from '../../src/ops/sigmoid.js';
import { slice } from '../../src/ops/slice.js';
import { softmax } from '../../src/ops/softmax.js';
import { softmaxCrossEntropy } from '../../src/ops/softmaxCrossEntropy.js';
import { softmaxCrossEntropyBackward } from '../../src/ops/softmaxCrossEntropyBackward.js';
import { sqrt } from '../../src/ops/sqrt.js';
import { step } from '../../src/ops/step.js';
import { sub } from '../../src/ops/sub.js';
import { sum, mean } from '../../src/ops/sum.js';
import { tanh } from '../../src/ops/tanh.js';
import { transpose } from '../../src/ops/transpose.js';

export type Domain = 'any' | 'positive' | 'distinct' | { labels: number };

export interface InputCase {
  readonly shape: number[];
  readonly domain?: Domain;
  /** Take the gradient with respect to this input (default true). */
  readonly grad?: boolean;
}

export interface OpCase {
  readonly name: string;
  readonly inputs: readonly InputCase[];
  readonly fn: (...xs: Tensor[]) => Tensor;
  /** Relative tolerance of float32 backends against the float64 reference (default 1e-4). */
  readonly rtol?: number;
}

const X = (shape: number[], domain: Domain = 'any', grad = true): InputCase => ({ shape, domain, grad });

/** A constant of `shape` holding 1, -1, 1, ... (row-major): signs for a positive input. */
const alternating = (shape: number[]): Tensor => constant(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => (i % 2 ? -1 : 1)), shape);

/** The fused op for maxPool2d(relu(conv2d(...))), built directly. */
function fusedConvPool(x: Tensor, w: Tensor, b: Tensor | null, conv: Parameters<typeof conv2d>[2], pool: Parameters<typeof pool2dAttrs>[2]): Tensor {
  const plain = conv2d(x, w, { ...conv, ...(b ? { bias: b } : {}) });
  const withRelu = makeNode(conv2dOp, plain.inputs, { ...plain.attrs, relu: true });
  return conv2dMaxPool(withRelu, pool2dAttrs('test', plain, pool));
}

/**
 * The cases of each op, keyed by op name (the keys of `OpAttrs`), so that an
 * op added to the registry without a device case is a compile error here.
 * Every case under an op builds a node of that op (test/backend/cases.test.ts
 * checks it); cases that chain several ops sit under the one they are about.
 */
export const casesByOp: { readonly [O in OpName]: readonly OpCase[] } = {
  // Every case's graph starts from inputs (and its gradient reads the
  // cotangent input), so there is no graph about `input` alone to add.
  input: [],
  constant: [
    {
      name: 'constant (broadcast row added to an input)',
      inputs: [X([3, 4])],
      fn: (x) => add(x, constant([0.5, -1.25, 2, 3.75], [4])),
    },
    {
      name: 'constant (full tensor added to an input)',
      inputs: [X([2, 3, 5])],
      fn: (x) => add(constant(Array.from({ length: 30 }, (_, i) => (i % 7) * 0.375 - 1.1), [2, 3, 5]), x),
    },
  ],
  add: [{ name: 'add (broadcast)', inputs: [X([2, 3, 4]), X([3, 1])], fn: add }],
  sub: [{ name: 'sub', inputs: [X([5, 7]), X([5, 7])], fn: sub }],
  mul: [{ name: 'mul (broadcast)', inputs: [X([4, 1, 5]), X([3, 1])], fn: mul }],
  div: [{ name: 'div', inputs: [X([3, 4]), X([4], 'positive')], fn: div }],
  neg: [{ name: 'neg', inputs: [X([17])], fn: neg }],
  exp: [{ name: 'exp', inputs: [X([3, 5])], fn: exp }],
  log: [{ name: 'log', inputs: [X([3, 5], 'positive')], fn: log }],
  sqrt: [{ name: 'sqrt', inputs: [X([3, 5], 'positive')], fn: sqrt }],
  relu: [{ name: 'relu', inputs: [X([4, 6], 'distinct')], fn: relu }],
  reluBackward: [{ name: 'reluBackward', inputs: [X([4, 6], 'distinct'), X([4, 6])], fn: reluBackward }],
  sigmoid: [{ name: 'sigmoid', inputs: [X([4, 6])], fn: sigmoid }],
  tanh: [{ name: 'tanh', inputs: [X([4, 6])], fn: tanh }],
  leakyRelu: [
    // 'distinct' values stay at least 0.025 from the kink.
    { name: 'leakyRelu (alpha 0.2)', inputs: [X([4, 6], 'distinct')], fn: (x) => leakyRelu(x, { alpha: 0.2 }) },
    { name: 'leakyRelu (default alpha 0.01)', inputs: [X([3, 5], 'distinct')], fn: (x) => leakyRelu(x) },
    { name: 'leakyRelu (alpha 0: relu)', inputs: [X([3, 5], 'distinct')], fn: (x) => leakyRelu(x, { alpha: 0 }) },
  ],
  elu: [
    { name: 'elu (alpha 1)', inputs: [X([4, 6], 'distinct')], fn: (x) => elu(mul(x, 4)) },
    { name: 'elu (alpha 0.5)', inputs: [X([4, 6], 'distinct')], fn: (x) => elu(mul(x, 4), { alpha: 0.5 }) },
  ],
  relu6: [
    // 12 x + 3 over 24 'distinct' values: 0.6 apart from -3.9 to 9.9, none within 0.3 of the kinks 0 and 6.
    { name: 'relu6 (both kinks, both flat parts)', inputs: [X([4, 6], 'distinct')], fn: (x) => relu6(add(mul(x, 12), 3)) },
  ],
  pow: [
    // Negative bases: x in [-1, 1] ('any'), or 'positive' values [0.5, 1.5] with alternating signs.
    { name: 'pow 3 (negative bases, by multiplication)', inputs: [X([4, 6])], fn: (x) => pow(x, 3) },
    { name: 'pow -2 (negative bases)', inputs: [X([4, 6], 'positive')], fn: (x) => pow(mul(x, alternating([4, 6])), -2) },
    { name: 'pow 0.75', inputs: [X([4, 6], 'positive')], fn: (x) => pow(x, 0.75) },
    { name: 'pow -0.75', inputs: [X([4, 6], 'positive')], fn: (x) => pow(x, -0.75) },
    { name: 'pow 2.5', inputs: [X([3, 5], 'positive')], fn: (x) => pow(x, 2.5) },
    // Quarters by square roots: the fourth root alone, and with an integer part and a pole's side.
    { name: 'pow 0.25 and -1.75 (by square roots)', inputs: [X([4, 6], 'positive'), X([4, 6], 'positive')], fn: (x, y) => add(pow(x, 0.25), pow(y, -1.75)) },
    {
      // Integer exponents past the multiplications: pow of |x| and the sign by hand; |x| in [0.95, 1.05].
      name: 'pow 65 and 66 (negative bases, by pow of |x|)',
      inputs: [X([4, 6]), X([4, 6])],
      fn: (x, y) => add(pow(mul(add(mul(x, 0.05), 1), alternating([4, 6])), 65), pow(mul(add(mul(y, 0.05), 1), alternating([4, 6])), 66)),
    },
    { name: 'pow 0 (ones, no gradient), times an input', inputs: [X([3, 4]), X([3, 4])], fn: (x, y) => mul(pow(x, 0), y) },
    {
      // AlexNet's local response normalisation, built from mul, reshape, avgPool2d, add and pow.
      name: 'localResponseNorm (size 5, alpha 0.5, beta 0.75, k 2) over 7 channels',
      inputs: [X([2, 7, 3, 4])],
      fn: (x) => localResponseNorm(mul(x, 3), { size: 5, alpha: 0.5, beta: 0.75, k: 2 }),
    },
    { name: 'localResponseNorm (even size 4, defaults otherwise)', inputs: [X([2, 6, 3, 3])], fn: (x) => localResponseNorm(mul(x, 30), { size: 4 }) },
  ],
  step: [
    // 'distinct' values stay at least 0.025 from zero, step's jump.
    { name: 'step', inputs: [X([5, 7], 'distinct')], fn: step },
    {
      // The mask times another input: a gradient that is not zero (wrt y), next to step's zero one (wrt x).
      name: 'step times an input',
      inputs: [X([4, 6], 'distinct'), X([4, 6])],
      fn: (x, y) => mul(step(x), y),
    },
  ],
  reshape: [{ name: 'reshape', inputs: [X([2, 3, 4])], fn: (x) => mul(reshape(x, [4, 6]), 2) }],
  broadcastTo: [{ name: 'broadcastTo', inputs: [X([3, 1])], fn: (x) => broadcastTo(x, [2, 3, 4]) }],
  transpose: [{ name: 'transpose', inputs: [X([2, 3, 4])], fn: (x) => transpose(x, [2, 0, 1]) }],
  pad: [{ name: 'pad', inputs: [X([2, 3])], fn: (x) => pad(x, [[1, 0], [2, 1]], 0.5) }],
  slice: [{ name: 'slice', inputs: [X([4, 5])], fn: (x) => slice(x, [1, 2], [2, -1]) }],
  concat: [{ name: 'concat', inputs: [X([2, 3]), X([2, 2])], fn: (a, b) => concat([a, b], 1) }],
  sum: [
    { name: 'sum (axes, keepDims)', inputs: [X([3, 4, 5])], fn: (x) => sum(x, { axes: [0, 2], keepDims: true }) },
    { name: 'mean', inputs: [X([3, 4, 5])], fn: (x) => mean(x, { axes: [1] }) },
    { name: 'globalAvgPool2d (a mean over each map)', inputs: [X([2, 3, 5, 4])], fn: (x) => globalAvgPool2d(x) },
  ],
  max: [{ name: 'max (axis)', inputs: [X([3, 4, 5], 'distinct')], fn: (x) => max(x, { axes: [1] }) }],
  maxMask: [
    // 'distinct' values: no ties, so the first maximum is the only one.
    { name: 'maxMask (axis 1)', inputs: [X([3, 4, 5], 'distinct')], fn: (x) => maxMask(x, 1) },
    {
      // Two reduced axes that are not adjacent, the mask times another input (a gradient that is not zero).
      name: 'maxMask (axes 0 and 2) times an input',
      inputs: [X([3, 4, 5], 'distinct'), X([3, 4, 5])],
      fn: (x, y) => mul(maxMask(x, [0, 2]), y),
    },
    { name: 'maxMask (all axes)', inputs: [X([2, 3, 4], 'distinct')], fn: (x) => maxMask(x) },
  ],
  matmul: [
    // A batch times one shared matrix: matmul() folds the batch into the rows of one matmul.
    { name: 'matmul [2,3,4,5] @ [5,6], the batch folded into rows', inputs: [X([2, 3, 4, 5]), X([5, 6])], fn: (a, b) => matmul(a, b) },
    { name: 'matmul', inputs: [X([5, 7]), X([7, 3])], fn: (a, b) => matmul(a, b) },
    {
      // relu(matmul(a, b) + bias) as one fused matmul (backend/fuse.ts makes it).
      name: 'matmul with fused bias and relu',
      inputs: [X([5, 7]), X([7, 6]), X([6])],
      fn: (a, b, bias) => makeNode(matmulOp, [a, b, bias], { transposeA: false, transposeB: false, hasBias: true, relu: true }),
    },
    { name: 'matmul transposeA', inputs: [X([7, 5]), X([7, 3])], fn: (a, b) => matmul(a, b, { transposeA: true }) },
    { name: 'matmul transposeB', inputs: [X([5, 9]), X([3, 9])], fn: (a, b) => matmul(a, b, { transposeB: true }) },
    { name: 'matmul transposeA and B', inputs: [X([6, 5]), X([3, 6])], fn: (a, b) => matmul(a, b, { transposeA: true, transposeB: true }) },
    // The op inside the graph (not its output): see the lanes cases of conv2d.
    { name: 'lanes: matmul inside a graph, 12 columns', inputs: [X([5, 7]), X([7, 12])], fn: (a, b) => mul(matmul(a, b), 1.5) },
    {
      name: 'lanes: matmul transposeB inside a graph, 8 columns',
      inputs: [X([5, 9]), X([8, 9])],
      fn: (a, b) => mul(matmul(a, b, { transposeB: true }), 1.5),
    },
  ],
  // matmul() on batches builds batchMatmul (between reshapes and broadcasts).
  batchMatmul: [
    { name: 'batchMatmul', inputs: [X([3, 4, 6]), X([3, 6, 5])], fn: (a, b) => batchMatmul(a, b) },
    { name: 'batchMatmul transposeA', inputs: [X([2, 6, 4]), X([2, 6, 3])], fn: (a, b) => batchMatmul(a, b, { transposeA: true }) },
    { name: 'batchMatmul transposeB', inputs: [X([2, 4, 7]), X([2, 3, 7])], fn: (a, b) => batchMatmul(a, b, { transposeB: true }) },
    { name: 'batchMatmul transposeA and B', inputs: [X([2, 5, 4]), X([2, 3, 5])], fn: (a, b) => batchMatmul(a, b, { transposeA: true, transposeB: true }) },
    // b shared by a batch read transposed: broadcast to the batch (untransposed, the batch folds into one matmul, below under matmul).
    {
      name: 'batchMatmul: matmul [2,3,5,4] (transposeA) @ [5,6], b shared by the batch',
      inputs: [X([2, 3, 5, 4]), X([5, 6])],
      fn: (a, b) => matmul(a, b, { transposeA: true }),
    },
    { name: 'batchMatmul: matmul [1,3,4] @ [2,4,5], a batch of one broadcast', inputs: [X([1, 3, 4]), X([2, 4, 5])], fn: (a, b) => matmul(a, b) },
    // Inside a graph, 8 columns: the thread grid (z the batch) on the backends that have one.
    { name: 'batchMatmul inside a graph, 8 columns', inputs: [X([2, 3, 5]), X([2, 5, 8])], fn: (a, b) => mul(batchMatmul(a, b), 1.5) },
  ],
  softmax: [{ name: 'softmax', inputs: [X([3, 6])], fn: (x) => softmax(x, -1) }],
  logSoftmax: [{ name: 'logSoftmax', inputs: [X([3, 6])], fn: (x) => logSoftmax(x, 1) }],
  oneHot: [{ name: 'oneHot', inputs: [X([5], { labels: 4 }, false)], fn: (l) => oneHot(l, 4) }],
  softmaxCrossEntropy: [
    {
      name: 'softmaxCrossEntropy (index labels)',
      inputs: [X([6, 10]), X([6], { labels: 10 }, false)],
      fn: (z, l) => softmaxCrossEntropy(z, l),
    },
    {
      name: 'softmaxCrossEntropy (one-hot labels)',
      inputs: [X([4, 5]), X([4, 5], 'positive')],
      fn: (z, y) => softmaxCrossEntropy(z, y, { reduction: 'none' }),
    },
  ],
  softmaxCrossEntropyBackward: [
    {
      name: 'softmaxCrossEntropyBackward (none)',
      inputs: [X([6, 10]), X([6], { labels: 10 }, false), X([6])],
      fn: (x, l, g) => softmaxCrossEntropyBackward(x, l, g, 'none'),
    },
    {
      name: 'softmaxCrossEntropyBackward (mean)',
      inputs: [X([6, 10]), X([6], { labels: 10 }, false), X([])],
      fn: (x, l, g) => softmaxCrossEntropyBackward(x, l, g, 'mean'),
    },
  ],
  conv2d: [
    {
      name: 'conv2d (stride 2, same, bias)',
      inputs: [X([2, 3, 9, 9]), X([4, 3, 3, 3]), X([4])],
      fn: (x, w, b) => conv2d(x, w, { stride: 2, padding: 'same', bias: b }),
    },
    {
      name: 'conv2d (dilation 2, padding [1,2])',
      inputs: [X([1, 2, 8, 7]), X([3, 2, 3, 2])],
      fn: (x, w) => conv2d(x, w, { dilation: 2, padding: [1, 2] }),
    },
    {
      // Stride 1, uneven padding, more output channels than the input gradient unrolls.
      name: 'conv2d stride 1, padding [2, 0], 20 channels',
      inputs: [X([2, 3, 6, 5]), X([20, 3, 3, 2])],
      fn: (x, w) => conv2d(x, w, { padding: [2, 0] }),
    },
    {
      // relu(conv2d) is one fused kernel on the device backends (backend/fuse.ts);
      // its gradient goes through reluBackward of the fused output.
      name: 'relu(conv2d) fused, bias, padding 1',
      inputs: [X([2, 3, 7, 6]), X([4, 3, 3, 3]), X([4])],
      fn: (x, w, b) => relu(conv2d(x, w, { padding: 1, bias: b })),
    },
    { name: 'conv2d 1x1 (network in network)', inputs: [X([2, 4, 5, 5]), X([3, 4, 1, 1])], fn: (x, w) => conv2d(x, w) },
    {
      name: 'conv2d LeNet-5 first layer',
      inputs: [X([2, 1, 28, 28]), X([6, 1, 5, 5]), X([6])],
      fn: (x, w, b) => conv2d(x, w, { bias: b }),
    },
    {
      // 2,400 filter taps over 9 images: the filter gradient sums 7 groups of 2 images (the last group short).
      name: 'conv2d LeNet-5 second layer, batch 9',
      inputs: [X([9, 6, 8, 8]), X([16, 6, 5, 5]), X([16])],
      fn: (x, w, b) => conv2d(x, w, { bias: b }),
    },
    // The op inside the graph (not its output), so that on the wasm backends it
    // runs on its thread grid, where its hot reads are spelled lane-affine and
    // gpu.js's SIMD body loads them as vectors (src/backend/gpujs/wasm/tuning.ts):
    // row widths that are multiples of 4 (all vector) and not (vector + scalar
    // tail), strides 1, 2 (two loads and a shuffle) and 3 (four loads), and
    // padding guards (lane-masked reads: range-checked vector loads).
    // (The same for conv2dMaxPool, conv2dBackpropInput and matmul under their names.)
    {
      name: 'lanes: conv2d inside a graph, widths 8 and 4x4 filter taps',
      inputs: [X([2, 3, 10, 11]), X([4, 3, 3, 4]), X([4])],
      fn: (x, w, b) => mul(conv2d(x, w, { bias: b }), 1.5),
    },
    {
      name: 'lanes: conv2d stride 2 inside a graph',
      inputs: [X([1, 2, 11, 17]), X([3, 2, 3, 3])],
      fn: (x, w) => mul(conv2d(x, w, { stride: 2 }), 1.5),
    },
    {
      name: 'lanes: conv2d stride 3, same padding, inside a graph',
      inputs: [X([2, 2, 13, 22]), X([3, 2, 5, 5])],
      fn: (x, w) => mul(conv2d(x, w, { stride: 3, padding: 'same' }), 1.5),
    },
    {
      name: 'lanes: conv2d one channel, padding 2, inside a graph',
      inputs: [X([2, 1, 12, 12]), X([3, 1, 5, 5])],
      fn: (x, w) => mul(conv2d(x, w, { padding: 2 }), 1.5),
    },
    // Grouped: each output channel reads its group's input channels. The gradient
    // runs conv2dBackpropInput and conv2dBackpropFilter with the same groups.
    {
      // Strided: a looped input gradient; the filter gradient in two stages.
      name: 'conv2d grouped (2 groups of 3 channels, stride 2, same, bias)',
      inputs: [X([2, 6, 9, 8]), X([4, 3, 3, 3]), X([4])],
      fn: (x, w, b) => conv2d(x, w, { stride: 2, padding: 'same', bias: b, groups: 2 }),
    },
    {
      // One input channel per group, two filters each (a channel multiplier of 2), a fused relu.
      name: 'relu(conv2d) depthwise (groups = channels, multiplier 2, padding 1), fused',
      inputs: [X([2, 3, 7, 6]), X([6, 1, 3, 3]), X([6])],
      fn: (x, w, b) => relu(conv2d(x, w, { padding: 1, bias: b, groups: 3 })),
    },
    {
      name: 'conv2d grouped, dilation 2, padding [1, 2], 3 groups',
      inputs: [X([1, 6, 8, 7]), X([3, 2, 3, 2])],
      fn: (x, w) => conv2d(x, w, { dilation: 2, padding: [1, 2], groups: 3 }),
    },
    {
      name: 'lanes: conv2d depthwise inside a graph, width 8',
      inputs: [X([2, 4, 10, 10]), X([4, 1, 3, 3]), X([4])],
      fn: (x, w, b) => mul(conv2d(x, w, { bias: b, groups: 4 }), 1.5),
    },
    {
      name: 'lanes: conv2d grouped stride 2 inside a graph',
      inputs: [X([1, 4, 11, 17]), X([6, 2, 3, 3])],
      fn: (x, w) => mul(conv2d(x, w, { stride: 2, groups: 2 }), 1.5),
    },
  ],
  conv2dMaxPool: [
    {
      // A dilated, ceil-rounded pool over the convolution (stride 3, not the size: the portable kernel on every backend).
      name: 'conv2dMaxPool (fused relu, pool 2x2/3 dilated 2, ceil)',
      inputs: [X([1, 2, 9, 9]), X([3, 2, 3, 3]), X([3])],
      fn: (x, w, b) => fusedConvPool(x, w, b, {}, { size: 2, stride: 3, dilation: 2, ceil: true }),
    },
    {
      // maxPool2d(relu(conv2d)) as the fused op (backend/gpujs/wasm/rewrites.ts makes it on the
      // wasm backends): the blocked kernel there (stride 1, no padding, tiling
      // pool, a leftover row and column), the general one elsewhere.
      name: 'conv2dMaxPool (fused relu, 2x2 tiles, leftovers)',
      inputs: [X([2, 3, 9, 8]), X([4, 3, 3, 2]), X([4])],
      fn: (x, w, b) => fusedConvPool(x, w, b, {}, { size: 2 }),
    },
    {
      // Geometry the blocked kernel does not take: the general kernel everywhere.
      name: 'conv2dMaxPool (stride 2, padding 1, overlapping same pool)',
      inputs: [X([1, 2, 9, 9]), X([3, 2, 3, 3])],
      fn: (x, w) => fusedConvPool(x, w, null, { stride: 2, padding: 1 }, { size: 3, stride: 2, padding: 'same' }),
    },
    {
      name: 'lanes: conv2dMaxPool inside a graph, pooled width 8',
      inputs: [X([2, 3, 12, 20]), X([4, 3, 5, 5]), X([4])],
      fn: (x, w, b) => mul(fusedConvPool(x, w, b, {}, { size: 2 }), 1.5),
    },
    {
      name: 'lanes: conv2dMaxPool inside a graph, 3x2 windows, pooled width 6',
      inputs: [X([1, 2, 11, 15]), X([3, 2, 3, 4])],
      fn: (x, w) => mul(fusedConvPool(x, w, null, {}, { size: [3, 2] }), 1.5),
    },
    {
      // Grouped: the blocked kernel on the wasm backends, each pooled output reading its group's channels.
      name: 'conv2dMaxPool grouped (2 groups, fused relu, 2x2 tiles, leftovers)',
      inputs: [X([2, 4, 9, 8]), X([4, 2, 3, 2]), X([4])],
      fn: (x, w, b) => fusedConvPool(x, w, b, { groups: 2 }, { size: 2 }),
    },
    {
      name: 'conv2dMaxPool depthwise (stride 2, padding 1, overlapping same pool)',
      inputs: [X([1, 3, 9, 9]), X([3, 1, 3, 3])],
      fn: (x, w) => fusedConvPool(x, w, null, { stride: 2, padding: 1, groups: 3 }, { size: 3, stride: 2, padding: 'same' }),
    },
    {
      name: 'lanes: conv2dMaxPool depthwise inside a graph, pooled width 8',
      inputs: [X([1, 3, 12, 20]), X([3, 1, 5, 5]), X([3])],
      fn: (x, w, b) => mul(fusedConvPool(x, w, b, { groups: 3 }, { size: 2 }), 1.5),
    },
  ],
  conv2dBackpropInput: [
    {
      // The wasm backends read a zero-padded dy with the full padding (backend/gpujs/wasm/rewrites.ts).
      name: 'lanes: conv2dBackpropInput inside a graph, valid, width 12',
      inputs: [X([2, 5, 8, 8]), X([5, 3, 5, 5])],
      fn: (dy, w) => mul(conv2dBackpropInput(dy, w, { inputShape: [2, 3, 12, 12] }), 1.5),
    },
    {
      name: 'lanes: conv2dBackpropInput inside a graph, padding [2, 0, 1, 1], width 9',
      inputs: [X([2, 3, 8, 9]), X([3, 2, 3, 3])],
      fn: (dy, w) => mul(conv2dBackpropInput(dy, w, { inputShape: [2, 2, 8, 9], padding: [2, 0, 1, 1] }), 1.5),
    },
    {
      // Grouped: the full-padding rewrite and the lane-axis kernel, over each group's output channels.
      name: 'lanes: conv2dBackpropInput grouped inside a graph, valid, width 12',
      inputs: [X([2, 4, 8, 8]), X([4, 2, 5, 5])],
      fn: (dy, w) => mul(conv2dBackpropInput(dy, w, { inputShape: [2, 4, 12, 12], groups: 2 }), 1.5),
    },
    {
      // 20 output channels per group: more than the spelled-out kernel unrolls (a loop over them).
      name: 'conv2dBackpropInput grouped, 2 groups of 20 output channels, stride 1',
      inputs: [X([1, 40, 4, 5]), X([40, 2, 3, 2])],
      fn: (dy, w) => conv2dBackpropInput(dy, w, { inputShape: [1, 4, 6, 6], groups: 2 }),
    },
    {
      name: 'conv2dBackpropInput depthwise, stride 2, padding 1',
      inputs: [X([2, 3, 4, 4]), X([3, 1, 3, 3])],
      fn: (dy, w) => conv2dBackpropInput(dy, w, { inputShape: [2, 3, 8, 8], stride: 2, padding: 1, groups: 3 }),
    },
  ],
  conv2dBackpropFilter: [
    {
      // 108 filter taps over 2 images: the kernel's two stages (a partial sum per image, then their sum).
      name: 'conv2dBackpropFilter (stride 2, padding 1)',
      inputs: [X([2, 3, 9, 9]), X([2, 4, 5, 5])],
      fn: (x, dy) => conv2dBackpropFilter(x, dy, { filterShape: [4, 3, 3, 3], stride: 2, padding: 1 }),
    },
    {
      // One image: the single-stage kernel; dilation 2 and uneven padding.
      name: 'conv2dBackpropFilter (dilation 2, padding [1, 2])',
      inputs: [X([1, 2, 8, 7]), X([1, 3, 6, 9])],
      fn: (x, dy) => conv2dBackpropFilter(x, dy, { filterShape: [3, 2, 3, 2], dilation: 2, padding: [1, 2] }),
    },
    {
      // Grouped, two images: the two stages, each tap reading its group's input channel.
      name: 'conv2dBackpropFilter grouped (3 groups, stride 2, padding 1)',
      inputs: [X([2, 6, 9, 9]), X([2, 3, 5, 5])],
      fn: (x, dy) => conv2dBackpropFilter(x, dy, { filterShape: [3, 2, 3, 3], stride: 2, padding: 1, groups: 3 }),
    },
    {
      name: 'conv2dBackpropFilter depthwise, one image (dilation 2, padding [1, 2])',
      inputs: [X([1, 4, 8, 7]), X([1, 4, 6, 9])],
      fn: (x, dy) => conv2dBackpropFilter(x, dy, { filterShape: [4, 1, 3, 2], dilation: 2, padding: [1, 2], groups: 4 }),
    },
    {
      // The gradient of a gradient through a grouped convolution: every backward op's VJP, grouped.
      name: 'second order through a grouped conv2d',
      inputs: [X([1, 4, 6, 6]), X([4, 2, 3, 3])],
      fn: (x, w) => grad(sum(tanh(conv2d(x, w, { padding: 1, groups: 2 }))), [x, w])[1],
    },
  ],
  maxPool2d: [
    {
      // Dilated taps (PyTorch's MaxPool2d(dilation)), windows inside the input: on the wasm backends the tuned kernel's dilated offsets.
      name: 'maxPool2d 2x2/1 dilated 2',
      inputs: [X([2, 2, 7, 8], 'distinct')],
      fn: (x) => maxPool2d(x, { size: 2, stride: 1, dilation: 2 }),
    },
    {
      // Ceil rounding with padding and dilation: the last windows reach a row past the padding.
      name: 'maxPool2d 3x3/2 dilated [2, 1], padding 1, ceil',
      inputs: [X([1, 2, 8, 9], 'distinct')],
      fn: (x) => maxPool2d(x, { size: 3, stride: 2, dilation: [2, 1], padding: 1, ceil: true }),
    },
    { name: 'maxPool2d 2x2/2', inputs: [X([2, 3, 6, 6], 'distinct')], fn: (x) => maxPool2d(x, { size: 2 }) },
    {
      name: 'maxPool2d 3x3/2 overlapping, same',
      inputs: [X([1, 2, 7, 7], 'distinct')],
      fn: (x) => maxPool2d(x, { size: 3, stride: 2, padding: 'same' }),
    },
    {
      // The gradient of a gradient: runs every backward op's own VJP (maxPool2dSelect included).
      name: 'second order through conv2d and maxPool2d',
      inputs: [X([1, 2, 6, 6], 'distinct'), X([2, 2, 3, 3], 'distinct')],
      fn: (x, w) => grad(sum(tanh(maxPool2d(conv2d(x, w, { padding: 1 }), { size: 2 }))), [x, w])[1],
    },
  ],
  maxPool2dBackward: [
    {
      // Dilated 'tiles' (stride = size, not tiling) with ceil rounding, ties from relu: the gather over the windows with a tap on each cell.
      name: 'maxPool2dBackward 2x2/2 dilated 2, ceil, ties',
      inputs: [X([1, 2, 8, 9]), X([1, 2, 4, 4])],
      fn: (x, dy) => maxPool2dBackward(relu(sub(x, 0.5)), dy, pool2dAttrs('test', x, { size: 2, dilation: 2, ceil: true })),
    },
    {
      // Overlapping windows inside the input, ties included (relu zeros): the
      // gradient routed to each window's first maximum, gathered per cell.
      name: 'maxPool2dBackward 3x3/2 overlapping, valid, ties',
      inputs: [X([1, 2, 9, 8]), X([1, 2, 4, 3])],
      fn: (x, dy) => maxPool2dBackward(relu(sub(x, 0.5)), dy, pool2dAttrs('test', x, { size: 3, stride: 2 })),
    },
    {
      // Windows that tile with stride = size but hang over a 'same'-padded bottom and right edge.
      name: 'maxPool2dBackward 2x2/2 same on 7x5, ties',
      inputs: [X([1, 2, 7, 5]), X([1, 2, 4, 3])],
      fn: (x, dy) => maxPool2dBackward(relu(sub(x, 0.5)), dy, pool2dAttrs('test', x, { size: 2, padding: 'same' })),
    },
    {
      // Tiling windows with a leftover row and column (which get no gradient),
      // and ties: relu makes windows of zeros, whose first cell wins.
      name: 'maxPool2dBackward 2x3/2x3 tiles, leftovers, ties',
      inputs: [X([2, 2, 7, 7]), X([2, 2, 3, 2])],
      fn: (x, dy) => maxPool2dBackward(relu(sub(x, 0.5)), dy, pool2dAttrs('test', x, { size: [2, 3] })),
    },
  ],
  maxPool2dSelect: [
    {
      name: 'maxPool2dSelect [2,3]/[2,1] dilated [3,2], pads [1,0,2,1], ceil',
      inputs: [X([1, 2, 8, 7], 'distinct'), X([1, 2, 8, 7])],
      fn: (x, dx) => maxPool2dSelect(x, dx, pool2dAttrs('test', x, { size: [2, 3], stride: [2, 1], dilation: [3, 2], padding: [1, 0, 2, 1], ceil: true })),
    },
    {
      // dx read at each window's maximum of x ('distinct': no ties); its
      // gradient wrt dx is maxPool2dBackward, wrt x zero.
      name: 'maxPool2dSelect 3x3/2 overlapping, same',
      inputs: [X([1, 2, 7, 7], 'distinct'), X([1, 2, 7, 7])],
      fn: (x, dx) => maxPool2dSelect(x, dx, pool2dAttrs('test', x, { size: 3, stride: 2, padding: 'same' })),
    },
  ],
  avgPool2d: [
    {
      // The mean over the taps; countIncludePad counts the padding but not the ceil row.
      name: 'avgPool2d 3x3/2 dilated 2, padding 1, ceil, countIncludePad',
      inputs: [X([1, 2, 8, 9])],
      fn: (x) => avgPool2d(x, { size: 3, stride: 2, dilation: 2, padding: 1, ceil: true, countIncludePad: true }),
    },
    { name: 'avgPool2d 2x2/2 ceil on 7x9 (partial last windows)', inputs: [X([1, 3, 7, 9])], fn: (x) => avgPool2d(x, { size: 2, ceil: true }) },
    { name: 'avgPool2d 2x2/2', inputs: [X([2, 3, 6, 6])], fn: (x) => avgPool2d(x, { size: 2 }) },
    {
      name: 'avgPool2d 3x3/1 padded',
      inputs: [X([1, 2, 5, 5])],
      fn: (x) => avgPool2d(x, { size: 3, stride: 1, padding: 1 }),
    },
    {
      name: 'avgPool2d 3x3/1 padded, countIncludePad',
      inputs: [X([1, 2, 5, 5])],
      fn: (x) => avgPool2d(x, { size: 3, stride: 1, padding: 1, countIncludePad: true }),
    },
    {
      name: 'second order through avgPool2d',
      inputs: [X([1, 1, 6, 6])],
      fn: (x) => grad(sum(tanh(avgPool2d(mul(x, x), { size: 3, stride: 2, padding: 1 }))), [x])[0],
    },
  ],
  avgPool2dBackward: [
    {
      // 8x8 input: rows padded 1 at the top and one ceil row, columns dilated by 2 and one ceil column.
      name: 'avgPool2dBackward 2x2/2 dilated [1, 2], pads [1, 0, 0, 0], ceil, countIncludePad',
      inputs: [X([1, 2, 5, 4])],
      fn: (dy) =>
        avgPool2dBackward(dy, { size: [2, 2], stride: [2, 2], pads: [1, 0, 0, 0], dilation: [1, 2], ceilPads: [1, 1], countIncludePad: true, inputShape: [1, 2, 8, 8] }),
    },
    {
      // Overlapping windows over a padded border: cells gather from several
      // windows, each dy divided by its window's cells inside the input.
      name: 'avgPool2dBackward 3x3/2 padding 1',
      inputs: [X([1, 2, 4, 4])],
      fn: (dy) => avgPool2dBackward(dy, { size: [3, 3], stride: [2, 2], pads: [1, 1, 1, 1], countIncludePad: false, inputShape: [1, 2, 7, 7] }),
    },
    {
      name: 'avgPool2dBackward 3x3/2 padding 1, countIncludePad',
      inputs: [X([1, 2, 4, 4])],
      fn: (dy) => avgPool2dBackward(dy, { size: [3, 3], stride: [2, 2], pads: [1, 1, 1, 1], countIncludePad: true, inputShape: [1, 2, 7, 7] }),
    },
    {
      // Stride past the window: the cells no window covers get 0.
      name: 'avgPool2dBackward 2x2/3, uncovered cells',
      inputs: [X([2, 3, 3, 3])],
      fn: (dy) => avgPool2dBackward(dy, { size: [2, 2], stride: [3, 3], pads: [0, 0, 0, 0], countIncludePad: false, inputShape: [2, 3, 8, 8] }),
    },
  ],
  after: [
    {
      // The value is x's; the dependency only orders the plan (and gets a zero gradient).
      name: 'after (an ordering edge: the value of tanh(x), after y)',
      inputs: [X([3, 4]), X([2, 5])],
      fn: (x, y) => mul(after(tanh(x), exp(y)), 2),
    },
  ],
  checkpoint: [
    {
      // Two residual blocks, each recomputed in the backward pass; w is read from outside.
      name: 'checkpoint (two recomputed residual blocks sharing a filter)',
      inputs: [X([2, 3, 5, 5]), X([3, 3, 3, 3])],
      fn: (x, w) => {
        const block = checkpoint((h: Tensor) => tanh(add(h, conv2d(sigmoid(h), w, { padding: 'same' }))));
        return block(block(x));
      },
    },
  ],
  customVjp: [
    {
      // A straight-through estimator: step forwards, the identity backwards.
      name: 'customVjp (straight-through step, times an input)',
      inputs: [X([4, 6], 'distinct'), X([4, 6])],
      fn: (x, w) => mul(customVjp((v: Tensor) => step(v), (g) => [g], { name: 'ste' })(x), w),
    },
  ],
};

/** Every case, op by op (the suites run and name them one by one). */
export const opCases: OpCase[] = Object.values(casesByOp).flat();

function values(n: number, domain: Domain, seed: number): Float64Array {
  if (domain === 'positive') return randomValues(n, seed).map((v) => 0.5 + Math.abs(v));
  if (domain === 'distinct') return distinctValues(n, seed, 0.05);
  if (typeof domain === 'object') return randomValues(n, seed).map((v) => Math.floor(((v + 1) / 2) * domain.labels * 0.999));
  return randomValues(n, seed);
}

/** A case's graph: its output and the gradients of <c, output> with respect to each differentiable input, with feeds. */
export function buildCase(c: OpCase) {
  const xs = c.inputs.map((spec, i) => input(`x${i}`, spec.shape));
  const y = c.fn(...xs);
  const cot = input('cotangent', y.shape);
  const wrt = xs.filter((_, i) => c.inputs[i].grad !== false);
  const grads = vjp([y], wrt, [cot]);
  const feeds: Record<string, Float64Array> = {};
  c.inputs.forEach((spec, i) => {
    feeds[`x${i}`] = values(spec.shape.reduce((a, b) => a * b, 1), spec.domain ?? 'any', 11 + 7 * i);
  });
  feeds.cotangent = randomValues(y.shape.reduce((a, b) => a * b, 1), 99);
  return { outputs: [y, ...grads], feeds };
}

/** The feeds a compiled function reads (a gradient graph need not read every input). */
export const onlyFeeds = (f: { inputs: readonly { name: string }[] }, feeds: Record<string, Float64Array>) =>
  Object.fromEntries(f.inputs.map(({ name }) => [name, feeds[name]]));

/**
 * Run a case on `backend` and on the float64 reference; throw a sentence
 * naming the output and index when they differ by more than the case's
 * tolerance, relative to the output's scale (so near-zero entries are judged
 * fairly). Returns the worst error seen.
 */
export async function checkCase(c: OpCase, backend: BackendName): Promise<number> {
  const { outputs, feeds } = buildCase(c);
  const ref = compile(outputs, { backend: 'reference' });
  const dev = compile(outputs, { backend });
  try {
    if (dev.backend !== backend) throw new Error(`compiled for "${dev.backend}", not "${backend}"`);
    const want = ref.runSync(onlyFeeds(ref, feeds));
    const got = await dev.run(onlyFeeds(dev, feeds));
    const rtol = c.rtol ?? 1e-4;
    let worst = 0;
    for (let o = 0; o < want.length; o++) {
      const g = got[o];
      if (g.shape.join() !== want[o].shape.join()) throw new Error(`output ${o} has shape [${g.shape}] but the reference has [${want[o].shape}]`);
      if (!(g.data instanceof Float32Array)) throw new Error(`output ${o} is not a Float32Array`);
      const scale = Math.max(1e-6, ...Array.from(want[o].data, Math.abs));
      let at = -1;
      let caseWorst = 0;
      want[o].data.forEach((w, k) => {
        const err = Math.abs(g.data[k] - w) / scale;
        if (!(err <= caseWorst)) [caseWorst, at] = [err, k]; // NaN counts as the worst
      });
      worst = Math.max(worst, caseWorst);
      if (!(caseWorst <= rtol)) {
        throw new Error(
          `${c.name}: output ${o} differs from the reference at index ${at}: ${g.data[at]} vs ${want[o].data[at]} ` +
            `(error ${caseWorst.toExponential(2)} of the output's scale ${scale.toExponential(2)}, tolerance ${rtol})`,
        );
      }
    }
    return worst;
  } finally {
    await dev.dispose();
  }
}
