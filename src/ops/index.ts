/**
 * The op registry: one entry per op name in `OpAttrs`. The mapped type makes a
 * missing op, or an op without its shape rule, VJP or reference, a compile error.
 */
import type { OpName } from './attrs.js';
import type { OpDef } from './op.js';

import { addOp } from './add.js';
import { afterOp } from './after.js';
import { checkpointOp } from './checkpoint.js';
import { customVjpOp } from './customVjp.js';
import { avgPool2dOp } from './avgPool2d.js';
import { avgPool2dBackwardOp } from './avgPool2dBackward.js';
import { batchMatmulOp } from './batchMatmul.js';
import { broadcastToOp } from './broadcastTo.js';
import { concatOp } from './concat.js';
import { constantOp } from './constant.js';
import { conv2dOp } from './conv2d.js';
import { conv2dMaxPoolOp } from './conv2dMaxPool.js';
import { conv2dBackpropFilterOp } from './conv2dBackpropFilter.js';
import { conv2dBackpropInputOp } from './conv2dBackpropInput.js';
import { divOp } from './div.js';
import { eluOp } from './elu.js';
import { expOp } from './exp.js';
import { inputOp } from './input.js';
import { leakyReluOp } from './leakyRelu.js';
import { logOp } from './log.js';
import { logSoftmaxOp } from './logSoftmax.js';
import { matmulOp } from './matmul.js';
import { maxOp } from './max.js';
import { maxMaskOp } from './maxMask.js';
import { maxPool2dOp } from './maxPool2d.js';
import { maxPool2dBackwardOp } from './maxPool2dBackward.js';
import { maxPool2dSelectOp } from './maxPool2dSelect.js';
import { mulOp } from './mul.js';
import { negOp } from './neg.js';
import { oneHotOp } from './oneHot.js';
import { padOp } from './pad.js';
import { powOp } from './pow.js';
import { reluOp } from './relu.js';
import { relu6Op } from './relu6.js';
import { reluBackwardOp } from './reluBackward.js';
import { reshapeOp } from './reshape.js';
import { sigmoidOp } from './sigmoid.js';
import { sliceOp } from './slice.js';
import { softmaxOp } from './softmax.js';
import { softmaxCrossEntropyOp } from './softmaxCrossEntropy.js';
import { softmaxCrossEntropyBackwardOp } from './softmaxCrossEntropyBackward.js';
import { sqrtOp } from './sqrt.js';
import { stepOp } from './step.js';
import { subOp } from './sub.js';
import { sumOp } from './sum.js';
import { tanhOp } from './tanh.js';
import { transposeOp } from './transpose.js';

export const ops: { readonly [O in OpName]: OpDef<O> } = {
  input: inputOp,
  constant: constantOp,
  add: addOp,
  sub: subOp,
  mul: mulOp,
  div: divOp,
  neg: negOp,
  exp: expOp,
  log: logOp,
  sqrt: sqrtOp,
  relu: reluOp,
  reluBackward: reluBackwardOp,
  sigmoid: sigmoidOp,
  tanh: tanhOp,
  step: stepOp,
  leakyRelu: leakyReluOp,
  elu: eluOp,
  relu6: relu6Op,
  pow: powOp,
  reshape: reshapeOp,
  broadcastTo: broadcastToOp,
  transpose: transposeOp,
  pad: padOp,
  slice: sliceOp,
  concat: concatOp,
  sum: sumOp,
  max: maxOp,
  maxMask: maxMaskOp,
  matmul: matmulOp,
  batchMatmul: batchMatmulOp,
  softmax: softmaxOp,
  logSoftmax: logSoftmaxOp,
  oneHot: oneHotOp,
  softmaxCrossEntropy: softmaxCrossEntropyOp,
  softmaxCrossEntropyBackward: softmaxCrossEntropyBackwardOp,
  conv2d: conv2dOp,
  conv2dMaxPool: conv2dMaxPoolOp,
  conv2dBackpropInput: conv2dBackpropInputOp,
  conv2dBackpropFilter: conv2dBackpropFilterOp,
  maxPool2d: maxPool2dOp,
  maxPool2dBackward: maxPool2dBackwardOp,
  maxPool2dSelect: maxPool2dSelectOp,
  avgPool2d: avgPool2dOp,
  avgPool2dBackward: avgPool2dBackwardOp,
  after: afterOp,
  checkpoint: checkpointOp,
  customVjp: customVjpOp,
};

export function opDef<O extends OpName>(name: O): OpDef<O> {
  return ops[name] as OpDef<O>;
}
