/**
 * 2-D convolution, NCHW, filters [O, C, kH, kW]. As in the lecture (and every
 * deep-learning library) it is a cross-correlation: the filter is not flipped.
 *
 *   y[n,o,i,j] = b[o] + sum_{c,p,q} w[o,c,p,q] * x[n, c, i*sh - pt + p*dh, j*sw - pl + q*dw]
 *
 * where x is zero outside [0,H) x [0,W) (zero padding: pt rows at the top,
 * pl columns at the left; the bottom/right pads only make the output larger).
 *
 * Grouped (AlexNet split its filters across two GPUs this way): with G
 * groups the filter is [O, C/G, kH, kW] and output channel o reads only the
 * C/G input channels of its group g = floor(o / (O/G)),
 *
 *   y[n,o,i,j] = b[o] + sum_{c<C/G,p,q} w[o,c,p,q] * x[n, g*C/G + c, ...]
 *
 * G convolutions side by side, 1/G of the products; G = C is depthwise.
 *
 * Its VJPs are the two other convolution ops, conv2dBackpropInput and
 * conv2dBackpropFilter, whose own VJPs are convolutions again, so gradients
 * of any order are graphs of these three ops (the rules: convGeometry.ts).
 */
import { checkOptions } from '../graph/error.js';
import { type Shape, Tensor, shapeToString } from '../graph/tensor.js';
import { sameShape } from '../graph/shape.js';
import type { Conv2dAttrs } from './attrs.js';
import { conv2dBackpropFilterOp } from './conv2dBackpropFilter.js';
import { conv2dBackpropInputOp } from './conv2dBackpropInput.js';
import { channelGroups, checkGeometry, convOutputHW, convOutputThread, expectShape, geometryOf, need4, resolveGeometry, tapRanges } from './convGeometry.js';
import { checkBoolean, checkInputCount, checkTensor, type KernelContext, type NDArray, makeNode, opError, type OpDef } from './op.js';
import { addAll } from './add.js';
import { reluBackward } from './reluBackward.js';
import { reshape } from './reshape.js';
import { reluSource } from './relu.js';
import { sum } from './sum.js';
import { guarded, intLet, join, k, rangeTest, type Src } from '../kernel/source.js';
import { checkRank4, type Padding } from './window.js';

/** Options of {@link conv2d}: the window's geometry and the bias. */
export interface Conv2dOptions {
  /** Step of the filter over rows and columns (default 1). */
  readonly stride?: number | readonly [number, number];
  /** Zero padding (default 'valid'); see `Padding`. */
  readonly padding?: Padding;
  /** Spacing between filter taps (default 1): a kH x kW filter spans dh*(kH-1)+1 x dw*(kW-1)+1 input cells. */
  readonly dilation?: number | readonly [number, number];
  /** One value per output channel, added to every position: shape [O]. */
  readonly bias?: Tensor;
  /**
   * Split the channels into this many groups (default 1), dividing both the
   * input's channels C and the filters O: the filter is [O, C/groups, kH, kW]
   * and output channel o reads the input channels of group floor(o / (O/groups)).
   * groups = C is a depthwise convolution.
   */
  readonly groups?: number;
}

// ---------------------------------------------------------------------------
// Shape rule

/** conv2d's shape rule (conv2dMaxPool shares it): checks the inputs and attributes, returns [N, O, oH, oW]. */
export function conv2dShape(inputs: readonly Shape[], attrs: Conv2dAttrs): Shape {
  checkBoolean('conv2d', 'hasBias', attrs.hasBias);
  checkBoolean('conv2d', 'relu', attrs.relu);
  checkInputCount('conv2d', inputs, attrs.hasBias ? 3 : 2, attrs.hasBias ? 'x, w, bias' : 'x, w');
  const [x, w, b] = inputs;
  checkRank4('conv2d', 'input', x, '[N,C,H,W]');
  checkRank4('conv2d', 'filter', w, '[O,C,kH,kW]');
  checkGeometry('conv2d', attrs);
  const [oH, oW] = convOutputHW('conv2d', x, w, attrs);
  if (b !== undefined && !sameShape(b, [w[0]])) {
    opError(
      'conv2d',
      `bias must have shape [${w[0]}] (one value per output channel of filter ${shapeToString(w)}), got ${shapeToString(b)}`,
      `bias ${shapeToString(b)}`,
      `shape [${w[0]}], one value per output channel of filter ${shapeToString(w)}`,
    );
  }
  return [x[0], w[0], oH, oW];
}

// ---------------------------------------------------------------------------
// VJP
//
// y = conv(x, w) + b is bilinear in (x, w), so for a cotangent g of y
//   <g, dy> = <g, conv(dx, w)> + <g, conv(x, dw)> + <g, db broadcast>
//           = <BI(g, w), dx> + <BF(x, g), dw> + <sum_{n,i,j} g, db>
// where BI = conv2dBackpropInput and BF = conv2dBackpropFilter are, by
// definition, the adjoints of conv(., w) and conv(x, .):
//   dx = conv2dBackpropInput(g, w)    (a "transposed convolution")
//   dw = conv2dBackpropFilter(x, g)   (the correlation of x with g)
//   db = sum(g, axes [0, 2, 3])
// The geometry (stride, dilation, explicit pads, groups) passes through unchanged, and
// the input/filter shapes ride along as attributes: with stride leftovers the
// forward never reads the last rows/columns of x, so x's shape cannot be
// recovered from g's; BI returns zeros there. With groups the same holds block
// by block: each group's BI and BF read only that group's channels of g, x, w.

export function conv2dVjp(gOut: Tensor, node: Tensor<'conv2d'>): readonly (Tensor | null)[] {
  const [x, w] = node.inputs;
  // A fused relu: y = relu(z) and z > 0 exactly where y > 0, so dz = reluBackward(y, g).
  const g = node.attrs.relu ? reluBackward(node, gOut) : gOut;
  const geometry = geometryOf(node.attrs);
  const dx = makeNode(conv2dBackpropInputOp, [g, w], { ...geometry, inputShape: x.shape });
  const dw = makeNode(conv2dBackpropFilterOp, [x, g], { ...geometry, filterShape: w.shape });
  expectShape('conv2d', 'dx', dx, x.shape);
  expectShape('conv2d', 'dw', dw, w.shape);
  if (!node.attrs.hasBias) return [dx, dw];
  return [dx, dw, sum(g, { axes: [0, 2, 3] })];
}

// Forwards: the convolution is bilinear in (x, w) and affine in the bias, so
//   dz = conv2d(dx, w) + conv2d(x, dw) + db (one value per output channel),
// with the node's geometry; a fused relu passes dz where y > 0, as in the VJP.
export function conv2dJvp([tx, tw, tb]: readonly (Tensor | null)[], node: Tensor<'conv2d'>): Tensor | null {
  const [x, w] = node.inputs;
  const attrs = { ...node.attrs, hasBias: false, relu: false };
  const O = w.shape[0];
  const dz = addAll([
    tx && makeNode(conv2dOp, [tx, w], attrs),
    tw && makeNode(conv2dOp, [x, tw], attrs),
    tb ? reshape(tb, [1, O, 1, 1]) : null,
  ]);
  return node.attrs.relu && dz ? reluBackward(node, dz) : dz;
}

// ---------------------------------------------------------------------------
// Reference (float64). One output element at a time, reading what it needs
// (a gather), as a gpu.js kernel thread will.

function conv2dReference(inputs: readonly NDArray[], attrs: Conv2dAttrs, outShape: Shape): Float64Array {
  const [x, w, b] = inputs;
  const [N, C, H, W] = x.shape;
  const [O, Cg, kH, kW] = w.shape;
  const { outPer } = channelGroups(C, O, attrs.groups);
  const [, , oH, oW] = outShape;
  const [sh, sw] = attrs.stride;
  const [dh, dw] = attrs.dilation;
  const [pt, , pl] = attrs.pads;
  const xd = x.data;
  const wd = w.data;
  const bd = attrs.hasBias ? b.data : null;
  const [pLo, pHi] = tapRanges(oH, sh, pt, dh, kH, H);
  const [qLo, qHi] = tapRanges(oW, sw, pl, dw, kW, W);
  const out = new Float64Array(N * O * oH * oW);
  const HW = H * W;
  const kHW = kH * kW;
  let at = 0;
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const bias = bd === null ? 0 : bd[o];
      // the first input channel of o's group
      const c0 = Math.floor(o / outPer) * Cg;
      for (let i = 0; i < oH; i++) {
        const p0 = pLo[i];
        const p1 = pHi[i];
        const rowStart = i * sh - pt;
        for (let j = 0; j < oW; j++) {
          const q0 = qLo[j];
          const q1 = qHi[j];
          const colStart = j * sw - pl;
          let acc = bias;
          for (let c = 0; c < Cg; c++) {
            const xBase = (n * C + c0 + c) * HW + colStart;
            const wBase = (o * Cg + c) * kHW;
            for (let p = p0; p < p1; p++) {
              const xRow = xBase + (rowStart + p * dh) * W;
              const wRow = wBase + p * kW;
              for (let q = q0; q < q1; q++) acc += xd[xRow + q * dw] * wd[wRow + q];
            }
          }
          out[at++] = attrs.relu && acc <= 0 ? 0 : acc;
        }
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Kernel: one output element per thread, the dot product of its receptive
// field with the filter; rows and columns outside the input are the zero padding.
// (The wasm backends spell small filters out tap by tap: backend/gpujs/wasm/kernels/conv.ts.)

/** Filter rows up to this wide are unrolled: a 5-tap loop spends as much on its counter as on the products. */
const UNROLL = 7;

/**
 * The sizes and geometry a conv2d kernel template needs, by name: C input
 * channels, of which a thread reads Cg (C/groups), in G groups.
 */
export function conv2dDims({ inputs: [x, w], attrs, out }: KernelContext<'conv2d'>) {
  const [, C, H, W] = x;
  const [, Cg, kH, kW] = w;
  const [, O, oH, oW] = out;
  const [sh, sw] = attrs.stride;
  const [dh, dw] = attrs.dilation;
  const [pt, , pl] = attrs.pads;
  const G = attrs.groups;
  return { C, Cg, G, H, W, kH, kW, O, oH, oW, sh, sw, dh, dw, pt, pl };
}

function conv2dKernel(ctx: KernelContext<'conv2d'>): Src {
  const { attrs, ints } = ctx;
  const { C, Cg, H, W, kH, kW, oH, oW, sh, sw, dh, dw, pt, pl } = conv2dDims(ctx);
  const { head, inputChannel } = convOutputThread(ctx.out, attrs.groups, Cg, [k`n`, k`o`, k`oy`, k`ox`], ints, ctx.grid);
  const rowTest = rangeTest(k`iy`, -pt, (oH - 1) * sh - pt + (kH - 1) * dh, H);
  const colTest = rangeTest(k`ix`, -pl, (oW - 1) * sw - pl + (kW - 1) * dw, W);
  // Index arithmetic is hoisted out of the inner loop: per tap, one add for
  // each operand's address.
  return k`${head}
  let acc = ${attrs.hasBias ? k`x2[o]` : k`0.0`};
  ${intLet(ints, k`colStart`, k`ox * ${sw} - ${pl}`)}
  for (let c = 0; c < ${Cg}; c++) {
    ${intLet(ints, k`xPlane`, k`(n * ${C} + ${inputChannel(k`c`)}) * ${H * W}`)}
    ${intLet(ints, k`wPlane`, k`(o * ${Cg} + c) * ${kH * kW}`)}
    for (let ky = 0; ky < ${kH}; ky++) {
      ${intLet(ints, k`iy`, k`oy * ${sh} - ${pt} + ky * ${dh}`)}
      ${intLet(ints, k`xRow`, k`xPlane + iy * ${W} + colStart`)}
      ${intLet(ints, k`wRow`, k`wPlane + ky * ${kW}`)}
      ${guarded(
        rowTest,
        colTest === null
          ? kW <= UNROLL
            ? join(
                Array.from({ length: kW }, (_, kx) => k`acc += x0[xRow + ${kx * dw}] * x1[wRow + ${kx}];`),
                '\n      ',
              )
            : k`for (let kx = 0; kx < ${kW}; kx++) {
        acc += x0[xRow + kx * ${dw}] * x1[wRow + kx];
      }`
          : k`for (let kx = 0; kx < ${kW}; kx++) {
        ${intLet(ints, k`ix`, k`colStart + kx * ${dw}`)}
        ${guarded(colTest, k`acc += x0[xRow + kx * ${dw}] * x1[wRow + kx];`)}
      }`,
      )}
    }
  }
  return ${attrs.relu ? reluSource(k`acc`) : k`acc`};`;
}


export const conv2dOp: OpDef<'conv2d'> = {
  name: 'conv2d',
  shape: conv2dShape,
  vjp: conv2dVjp,
  jvp: conv2dJvp,
  reference: conv2dReference,
  kernel: conv2dKernel,
};

/**
 * 2-D convolution (cross-correlation) of `x` [N,C,H,W] with `w` [O,C,kH,kW]
 * (`[O, C/groups, kH, kW]` when grouped), plus an optional bias [O]: the
 * output is [N, O, oH, oW] with oH = floor((H + pt + pb - dh*(kH-1) - 1) / sh) + 1
 * (likewise oW).
 *
 * ```ts
 * const y = conv2d(x, w, { stride: 2, padding: 'same', bias: b });
 * const depthwise = conv2d(x, input('dw', [C, 1, 3, 3]), { groups: C, padding: 'same' });
 * ```
 */
export function conv2d(x: Tensor, w: Tensor, options?: Conv2dOptions): Tensor<'conv2d'> {
  need4('conv2d', 'input', x, '[N,C,H,W]');
  need4('conv2d', 'filter', w, '[O,C,kH,kW]');
  const { bias, ...window } = checkOptions('conv2d', options, ['stride', 'padding', 'dilation', 'bias', 'groups'], "{ stride: 2, padding: 'same' }") ?? {};
  const geometry = resolveGeometry('conv2d', window, [x.shape[2], x.shape[3]], [w.shape[2], w.shape[3]]);
  const hasBias = bias !== undefined;
  if (hasBias) checkTensor('conv2d', 'bias', bias);
  const inputs = hasBias ? [x, w, bias] : [x, w];
  return makeNode(conv2dOp, inputs, { ...geometry, hasBias, relu: false });
}
