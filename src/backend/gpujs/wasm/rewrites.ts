/**
 * The graph rewrites only the wasm backends use, after fuseForDevice
 * (backend/fuse.ts), because only their tuned kernels (kernels/) gain from
 * them:
 *
 * - `convPool`: a max pool whose input is a convolution (relu fused or not)
 *   that nothing else reads becomes one conv2dMaxPool node where its blocked
 *   kernel applies (kernels/conv.ts) and the pool is undilated and
 *   floor-rounded (the blocked kernel spells out tiles of adjacent cells
 *   that end inside the convolution's output; a dilated or ceil-rounded pool
 *   stays a maxPool2d node, whose kernels handle it). Training graphs keep
 *   their convolutions (the backward pass reads them); inference graphs fuse.
 * - `padInputGradient`: a stride-1 input gradient (conv2dBackpropInput)
 *   reads a zero-padded copy of its dy with the full padding (k - 1 on every
 *   side), the same sum with the zero products spelled in: its kernel then
 *   has no border tests on the input column, which would run lane-masked in
 *   gpu.js's SIMD body, so its reads become vector loads. A strided,
 *   undilated one first becomes a stride-1 one: its dy with s − 1 zeros
 *   between cells (and the rows and columns the forward size's floor left
 *   out, at the end) is the dy of a stride-1 convolution of the same input
 *   and filter, with the same sum; the portable strided kernel tests every
 *   tap for divisibility and ran about ten times slower per product than
 *   the stride-1 lane kernel, which more than pays for the s² zeros.
 * - `padFilterGradient`: a filter gradient (conv2dBackpropFilter) of a padded
 *   convolution reads a zero-padded copy of its x and has no padding of its
 *   own: the same sum (the products with the padding are zero), with no
 *   border test on any read, so its loop over the output columns is spelled
 *   out (src/ops/conv2dBackpropFilter.ts) and runs unmasked.
 *
 * All three keep the convolution's attributes, its groups included: the blocked
 * and spelled-out kernels take grouped convolutions (kernels/conv.ts).
 */
import type { Tensor } from '../../../graph/tensor.js';
import type { Pool2dAttrs } from '../../../ops/attrs.js';
import { conv2dMaxPool } from '../../../ops/conv2dMaxPool.js';
import { unitSteps } from '../../../ops/convGeometry.js';
import { opDef } from '../../../ops/index.js';
import { makeNode } from '../../../ops/op.js';
import { pad } from '../../../ops/pad.js';
import { reshape } from '../../../ops/reshape.js';
import { slice } from '../../../ops/slice.js';
import { rewrite } from '../../fuse.js';
import { blockedKernelApplies } from './kernels/conv.js';

export interface WasmRewrites {
  readonly convPool?: boolean;
  readonly padInputGradient?: boolean;
  readonly padFilterGradient?: boolean;
}

/** The padding that turns conv2dBackpropInput(dy, w) into the full-padding one over pad(dy), or null where none applies. */
function fullPaddingOf(attrs: Tensor<'conv2dBackpropInput'>['attrs'], filter: readonly number[]): readonly [number, number, number, number] | null {
  const [, , kH, kW] = filter;
  const [pt, pb, pl, pr] = attrs.pads;
  if (!unitSteps(attrs)) return null;
  const extra = [kH - 1 - pt, kH - 1 - pb, kW - 1 - pl, kW - 1 - pr] as const;
  if (extra.some((e) => e < 0) || extra.every((e) => e === 0)) return null;
  return extra;
}

/**
 * A strided, undilated input gradient as a stride-1 one (see the file
 * comment), or null where it is not strided or is dilated: dy's cells s
 * apart, zeros between, cut to the stride-1 convolution's output size.
 */
function unitStrideInputGradient(dy: Tensor, w: Tensor, attrs: Tensor<'conv2dBackpropInput'>['attrs']): Tensor<'conv2dBackpropInput'> | null {
  const [sh, sw] = attrs.stride;
  const [dh, dw] = attrs.dilation;
  if ((sh === 1 && sw === 1) || dh !== 1 || dw !== 1) return null;
  const [N, O, oH, oW] = dy.shape;
  const [, , kH, kW] = w.shape;
  const [H, W] = attrs.inputShape.slice(-2);
  const [pt, pb, pl, pr] = attrs.pads;
  const tH = H + pt + pb - kH + 1;
  const tW = W + pl + pr - kW + 1;
  const spread = reshape(pad(reshape(dy, [N * O * oH, 1, oW, 1]), [[0, 0], [0, sh - 1], [0, 0], [0, sw - 1]]), [N, O, oH * sh, oW * sw]);
  const zeros = slice(spread, [0, 0, 0, 0], [N, O, tH, tW]);
  return makeNode(opDef('conv2dBackpropInput'), [zeros, w], { ...attrs, stride: [1, 1] });
}

/** A pool of adjacent taps whose output size is floor-rounded: the only pools the blocked conv2dMaxPool kernel computes. */
function plainPool({ dilation, ceilPads }: Pool2dAttrs): boolean {
  return (dilation === undefined || (dilation[0] === 1 && dilation[1] === 1)) && (ceilPads === undefined || (ceilPads[0] === 0 && ceilPads[1] === 0));
}

/** Apply the wasm rewrites named in `which` (all by default). */
export function wasmRewrites(outputs: readonly Tensor[], which: WasmRewrites = { convPool: true, padInputGradient: true, padFilterGradient: true }): Tensor[] {
  return rewrite(outputs, (node, { now, alone }) => {
    if (which.convPool && node.op === 'maxPool2d' && alone(node.inputs[0])) {
      const conv = now(node.inputs[0]);
      const pool = (node as Tensor<'maxPool2d'>).attrs;
      if (conv.op === 'conv2d' && plainPool(pool) && blockedKernelApplies((conv as Tensor<'conv2d'>).attrs, pool, conv.inputs[1].shape)) {
        return conv2dMaxPool(conv as Tensor<'conv2d'>, pool);
      }
    }
    if (which.padInputGradient && node.op === 'conv2dBackpropInput') {
      const unit = unitStrideInputGradient(now(node.inputs[0]), now(node.inputs[1]), (node as Tensor<'conv2dBackpropInput'>).attrs);
      const attrs = (unit ?? (node as Tensor<'conv2dBackpropInput'>)).attrs;
      const [dy, w] = unit ? unit.inputs : node.inputs.map(now);
      const extra = fullPaddingOf(attrs, w.shape);
      if (extra) {
        const [et, eb, el, er] = extra;
        const [, , kH, kW] = w.shape;
        const padded = pad(dy, [[0, 0], [0, 0], [et, eb], [el, er]]);
        return makeNode(opDef('conv2dBackpropInput'), [padded, w], { ...attrs, pads: [kH - 1, kH - 1, kW - 1, kW - 1] });
      }
      if (unit) return unit;
    }
    if (which.padFilterGradient && node.op === 'conv2dBackpropFilter') {
      const attrs = (node as Tensor<'conv2dBackpropFilter'>).attrs;
      const [pt, pb, pl, pr] = attrs.pads;
      if (pt > 0 || pb > 0 || pl > 0 || pr > 0) {
        const [x, dy] = node.inputs.map(now);
        const padded = pad(x, [[0, 0], [0, 0], [pt, pb], [pl, pr]]);
        return makeNode(opDef('conv2dBackpropFilter'), [padded, dy], { ...attrs, pads: [0, 0, 0, 0] });
      }
    }
    return null;
  });
}
