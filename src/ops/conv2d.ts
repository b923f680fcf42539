/**
 * 2-D convolution, NCHW, filters [O, C, kH, kW]. As in the lecture (and every
 * deep-learning library) it is a cross-correlation: the filter is not flipped.
 *
 *   y[n,o,i,j] = b[o] + sum_{c,p,q} w[o,c,p,q] * x[n, c, i*sh - pt + p*dh, j*sw - pl + q*dw]
 *
 * where x is zero outside [0,H) x [0,W) (zero padding: pt rows at the top,
 * pl columns at the left; the bottom/right pads only make the output larger).
 *
 * Its VJPs are the two other convolution ops, conv2dBackpropInput and
 * conv2dBackpropFilter, whose own VJPs are convolutions again, so gradients
 * of any order are graphs of these three ops.
 */
import { type Shape, Tensor, shapeToString } from '../graph/tensor.js';
import { sameShape } from '../graph/shape.js';
import type { Conv2dAttrs, Pads2d, Pair } from './attrs.js';
import { conv2dBackpropFilterOp } from './conv2dBackpropFilter.js';
import { conv2dBackpropInputOp } from './conv2dBackpropInput.js';
import { type KernelContext, type NDArray, makeNode, opError, type OpDef } from './op.js';
import type { Src } from '../backend/gpujs/source.js';
import { reluBackward } from './reluBackward.js';
import { sum } from './sum.js';
import { decode, intLet, join, k, laneTerm, onLaneAxis } from '../backend/gpujs/source.js';
import { type Padding, checkPads, effectiveSize, guarded, rangeTest, resolvePads, stepRangeTest, toPair, windowOutput2d } from './window.js';

/** The geometry every convolution op carries: stride, dilation and explicit zero padding. */
export type ConvGeometry = Pick<Conv2dAttrs, 'stride' | 'dilation' | 'pads'>;

/** Whether a convolution steps one cell at a time: stride and dilation 1 on both axes. */
export function unitSteps({ stride, dilation }: Pick<ConvGeometry, 'stride' | 'dilation'>): boolean {
  return stride[0] === 1 && stride[1] === 1 && dilation[0] === 1 && dilation[1] === 1;
}

export interface Conv2dOptions {
  /** Step of the filter over rows and columns (default 1). */
  readonly stride?: number | readonly [number, number];
  /** Zero padding (default 'valid'); see `Padding`. */
  readonly padding?: Padding;
  /** Spacing between filter taps (default 1): a kH x kW filter spans dh*(kH-1)+1 x dw*(kW-1)+1 input cells. */
  readonly dilation?: number | readonly [number, number];
  /** One value per output channel, added to every position: shape [O]. */
  readonly bias?: Tensor;
}

// ---------------------------------------------------------------------------
// Shape rule

/** `shape` must be [a,b,c,d] of positive integers; `layout` names the axes for the error. */
export function checkRank4(op: string, what: string, shape: Shape, layout: string): void {
  if (!Array.isArray(shape) || shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    opError(op, `${what} must have rank 4 ${layout}, got shape ${Array.isArray(shape) ? shapeToString(shape) : String(shape)}`);
  }
}

/** Validate the geometry attributes: they reach kernel source, so they must be integers. */
export function checkGeometry(op: string, attrs: ConvGeometry): void {
  toPair(op, 'stride', attrs.stride as [number, number], 1);
  toPair(op, 'dilation', attrs.dilation as [number, number], 1);
  checkPads(op, attrs.pads);
}

/**
 * The output size [oH, oW] of convolving an input [N,C,H,W] with a filter
 * [O,C,kH,kW], after checking that the channels agree and the (dilated)
 * filter fits the padded input.
 */
export function convOutputHW(op: string, xShape: Shape, wShape: Shape, g: ConvGeometry, inputName = 'input'): Pair {
  const [, C, H, W] = xShape;
  const [, wc, kH, kW] = wShape;
  if (C !== wc) {
    opError(op, `${inputName} has ${C} channels but the filter expects ${wc} (filter shape ${shapeToString(wShape)})`);
  }
  const eff: Pair = [effectiveSize(kH, g.dilation[0]), effectiveSize(kW, g.dilation[1])];
  return windowOutput2d(op, `the ${kH}x${kW} filter (dilated to ${eff[0]}x${eff[1]})`, [H, W], g.pads, eff, g.stride);
}

export function describeGeometry(g: ConvGeometry): string {
  return `stride [${g.stride.join(',')}], dilation [${g.dilation.join(',')}], pads [${g.pads.join(',')}]`;
}

export function conv2dShape(inputs: readonly Shape[], attrs: Conv2dAttrs): Shape {
  const expected = attrs.hasBias ? 3 : 2;
  if (inputs.length !== expected) {
    opError('conv2d', `takes ${expected} inputs (x, w${attrs.hasBias ? ', bias' : ''}), got ${inputs.length}`);
  }
  const [x, w, b] = inputs;
  checkRank4('conv2d', 'input', x, '[N,C,H,W]');
  checkRank4('conv2d', 'filter', w, '[O,C,kH,kW]');
  checkGeometry('conv2d', attrs);
  const [oH, oW] = convOutputHW('conv2d', x, w, attrs);
  if (b !== undefined && !sameShape(b, [w[0]])) {
    opError('conv2d', `bias must have shape [${w[0]}] (one value per output channel of filter ${shapeToString(w)}), got ${shapeToString(b)}`);
  }
  return [x[0], w[0], oH, oW];
}

// ---------------------------------------------------------------------------
// Reference (float64). One output element at a time, reading what it needs
// (a gather), as a gpu.js kernel thread will.

/**
 * For each output position i along one axis, the half-open range [lo[i], hi[i])
 * of kernel taps p whose input index i*s - padBefore + p*d lies inside [0, inSize).
 */
export function tapRanges(outSize: number, s: number, padBefore: number, d: number, k: number, inSize: number): [Int32Array, Int32Array] {
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  for (let i = 0; i < outSize; i++) {
    const start = i * s - padBefore;
    const a = Math.max(0, Math.ceil(-start / d));
    const b = Math.min(k, Math.floor((inSize - 1 - start) / d) + 1);
    lo[i] = a;
    hi[i] = Math.max(a, b);
  }
  return [lo, hi];
}

function conv2dReference(inputs: readonly NDArray[], attrs: Conv2dAttrs, outShape: Shape): Float64Array {
  const [x, w, b] = inputs;
  const [N, C, H, W] = x.shape;
  const [O, , kH, kW] = w.shape;
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
  let k = 0;
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const bias = bd === null ? 0 : bd[o];
      for (let i = 0; i < oH; i++) {
        const p0 = pLo[i];
        const p1 = pHi[i];
        const rowStart = i * sh - pt;
        for (let j = 0; j < oW; j++) {
          const q0 = qLo[j];
          const q1 = qHi[j];
          const colStart = j * sw - pl;
          let acc = bias;
          for (let c = 0; c < C; c++) {
            const xBase = (n * C + c) * HW + colStart;
            const wBase = (o * C + c) * kHW;
            for (let p = p0; p < p1; p++) {
              const xRow = xBase + (rowStart + p * dh) * W;
              const wRow = wBase + p * kW;
              for (let q = q0; q < q1; q++) acc += xd[xRow + q * dw] * wd[wRow + q];
            }
          }
          out[k++] = attrs.relu && !(acc > 0) ? 0 : acc;
        }
      }
    }
  }
  return out;
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
// The geometry (stride, dilation, explicit pads) passes through unchanged, and
// the input/filter shapes ride along as attributes: with stride leftovers the
// forward never reads the last rows/columns of x, so x's shape cannot be
// recovered from g's; BI returns zeros there.

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

// ---------------------------------------------------------------------------
// Kernel: one output element per thread, the dot product of its receptive
// field with the filter; rows and columns outside the input are the zero padding.

/** Filter rows up to this wide are unrolled: a 5-tap loop spends as much on its counter as on the products. */
const UNROLL = 7;

/** Filters with at most this many taps per channel are spelled out tap by tap with integer indexing. */
const UNROLLED_TAPS = 49;

function conv2dKernel(ctx: KernelContext<'conv2d'>): Src {
  const [, , kH, kW] = ctx.inputs[1];
  // One input channel off the lane axis: the looped form measured faster
  // (LeNet-5's conv1: 2.8 vs 3.3 ms per batch of 64, one scalar wasm thread).
  if (ctx.ints && kH * kW <= UNROLLED_TAPS && (ctx.inputs[0][1] > 1 || onLaneAxis(ctx.out, true, ctx.grid))) return unrolledTapsKernel(ctx);
  return loopedKernel(ctx);
}

/**
 * Integer indexing: per input channel, every tap is spelled out and reads x
 * and w at literal offsets from one base per thread; taps that can fall into
 * the zero padding are guarded by comparing the output row or column with a
 * literal (only the tests that can fail for these sizes are emitted).
 * LeNet-5's conv2: 4.8 -> 4.45 ms per batch of 64 on one wasm thread.
 */
function unrolledTapsKernel(ctx: KernelContext<'conv2d'>): Src {
  const { attrs, out, grid } = ctx;
  const { C, H, W, kH, kW, O, oH, oW, sh, sw, dh, dw, pt, pl } = kernelDims(ctx);
  // On a thread grid ox is this.thread.x: reads of x are spelled
  // `xb + this.thread.x * sw + offset` (xb without ox), one vector load for
  // four outputs in gpu.js's SIMD body; the filter reads are uniform.
  const lanes = onLaneAxis(out, true, grid);
  // Tap t of an axis reads input index o*s - pad + t*d: tested on the output
  // index o against literals, where it can leave the input.
  const taps: Src[] = [];
  for (let ky = 0; ky < kH; ky++) {
    const row: Src[] = [];
    for (let kx = 0; kx < kW; kx++) {
      const product = k`acc += x0[${plus(lanes ? k`xb + ${laneTerm(sw)}` : k`xb`, ky * dh * W + kx * dw)}] * x1[${plus(k`wb`, ky * kW + kx)}];`;
      row.push(guarded(stepRangeTest(k`ox`, sw, kx * dw - pl, W, oW), product));
    }
    taps.push(guarded(stepRangeTest(k`oy`, sh, ky * dh - pt, H, oH), join(row, '\n    ')));
  }
  return k`${decode(k`i`, [out[0], O, oH, oW], [k`n`, k`o`, k`oy`, k`ox`], true, grid)}
  let acc = ${attrs.hasBias ? k`x2[o]` : k`0.0`};
  for (let c = 0; c < ${C}; c++) {
    ${intLet(true, k`xb`, k`(n * ${C} + c) * ${H * W} + oy * ${sh * W}${lanes ? k`` : k` + ox * ${sw}`} - ${pt * W + pl}`)}
    ${intLet(true, k`wb`, k`(o * ${C} + c) * ${kH * kW}`)}
    ${join(taps, '\n    ')}
  }
  return ${attrs.relu ? k`Math.max(acc, 0.0)` : k`acc`};`;
}

/** `base + off` or `base - |off|`, off a literal. */
export function plus(base: Src, off: number): Src {
  return off === 0 ? base : off > 0 ? k`${base} + ${off}` : k`${base} - ${-off}`;
}

/** The sizes and geometry a conv2d kernel template needs, by name. */
function kernelDims({ inputs: [x, w], attrs, out }: KernelContext<'conv2d'>) {
  const [, C, H, W] = x;
  const [, , kH, kW] = w;
  const [, O, oH, oW] = out;
  const [sh, sw] = attrs.stride;
  const [dh, dw] = attrs.dilation;
  const [pt, , pl] = attrs.pads;
  return { C, H, W, kH, kW, O, oH, oW, sh, sw, dh, dw, pt, pl };
}

function loopedKernel(ctx: KernelContext<'conv2d'>): Src {
  const { attrs, out, ints, grid } = ctx;
  const { C, H, W, kH, kW, O, oH, oW, sh, sw, dh, dw, pt, pl } = kernelDims(ctx);
  const rowTest = rangeTest(k`iy`, -pt, (oH - 1) * sh - pt + (kH - 1) * dh, H);
  const colTest = rangeTest(k`ix`, -pl, (oW - 1) * sw - pl + (kW - 1) * dw, W);
  // Index arithmetic is hoisted out of the inner loop: per tap, one add for
  // each operand's address.
  return k`${decode(k`i`, [out[0], O, oH, oW], [k`n`, k`o`, k`oy`, k`ox`], ints, grid)}
  let acc = ${attrs.hasBias ? k`x2[o]` : k`0.0`};
  ${intLet(ints, k`colStart`, k`ox * ${sw} - ${pl}`)}
  for (let c = 0; c < ${C}; c++) {
    ${intLet(ints, k`xPlane`, k`(n * ${C} + c) * ${H * W}`)}
    ${intLet(ints, k`wPlane`, k`(o * ${C} + c) * ${kH * kW}`)}
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
  return ${attrs.relu ? k`Math.max(acc, 0.0)` : k`acc`};`;
}

export const conv2dOp: OpDef<'conv2d'> = {
  name: 'conv2d',
  shape: conv2dShape,
  vjp: conv2dVjp,
  reference: conv2dReference,
  kernel: conv2dKernel,
};

/** Just the geometry of a convolution's attributes (drops hasBias, inputShape, filterShape). */
export function geometryOf(attrs: ConvGeometry): ConvGeometry {
  return { stride: attrs.stride, dilation: attrs.dilation, pads: attrs.pads };
}

/** A VJP must return exactly the shape of what it differentiates; anything else is a bug here, not the user's. */
export function expectShape(op: string, what: string, t: Tensor, shape: Shape): void {
  if (!sameShape(t.shape, shape)) {
    throw new Error(`${op} VJP: built ${what} of shape ${shapeToString(t.shape)} but expected ${shapeToString(shape)} (a bug in Striate)`);
  }
}

/** Check that `t` is a Tensor of rank 4 before its shape is used to resolve options. */
export function need4(op: string, what: string, t: unknown, layout: string): Tensor {
  if (!(t instanceof Tensor)) opError(op, `${what} must be a Tensor, got ${t === null ? 'null' : typeof t}`);
  checkRank4(op, what, t.shape, layout);
  return t;
}

/** Resolve stride/dilation/padding options against an input of spatial size inHW and a filter of size kHW. */
export function resolveGeometry(
  op: string,
  options: { stride?: number | readonly [number, number]; padding?: Padding; dilation?: number | readonly [number, number] },
  inHW: Pair,
  kHW: Pair,
): ConvGeometry {
  const stride = toPair(op, 'stride', options.stride ?? 1, 1);
  const dilation = toPair(op, 'dilation', options.dilation ?? 1, 1);
  const eff: Pair = [effectiveSize(kHW[0], dilation[0]), effectiveSize(kHW[1], dilation[1])];
  const pads = resolvePads(op, options.padding ?? 'valid', inHW, eff, stride);
  return { stride, dilation, pads: pads as Pads2d };
}

/**
 * 2-D convolution (cross-correlation) of `x` [N,C,H,W] with `w` [O,C,kH,kW],
 * plus an optional bias [O]: the output is [N, O, oH, oW] with
 * oH = floor((H + pt + pb - dh*(kH-1) - 1) / sh) + 1 (likewise oW).
 *
 * ```ts
 * const y = conv2d(x, w, { stride: 2, padding: 'same', bias: b });
 * ```
 */
export function conv2d(x: Tensor, w: Tensor, options: Conv2dOptions = {}): Tensor<'conv2d'> {
  need4('conv2d', 'input', x, '[N,C,H,W]');
  need4('conv2d', 'filter', w, '[O,C,kH,kW]');
  const geometry = resolveGeometry('conv2d', options, [x.shape[2], x.shape[3]], [w.shape[2], w.shape[3]]);
  const hasBias = options.bias !== undefined;
  const inputs = hasBias ? [x, w, options.bias as Tensor] : [x, w];
  return makeNode(conv2dOp, inputs, { ...geometry, hasBias, relu: false });
}
