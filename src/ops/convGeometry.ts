/**
 * The geometry of the convolution family: conv2d, conv2dBackpropInput (BI)
 * and conv2dBackpropFilter (BF), and what they share: validated stride,
 * dilation and explicit padding, the output size, and which taps and
 * outputs meet along one axis.
 *
 * Understanding the convolution transpose rules. Ignoring the spatial axes,
 * with n = batch, c = input channel, o = output channel, a convolution is
 * a contraction like a matrix product:
 *
 *   conv:  x [n, c]  w [o, c]  ->  y  [n, o]
 *   BI:    dy [n, o] w [o, c]  ->  dx [n, c]    the adjoint of conv(., w)
 *   BF:    x [n, c]  dy [n, o] ->  dw [o, c]    the adjoint of conv(x, .)
 *
 * Spatially, output (i, j) reads input (i*sh - pt + p*dh, j*sw - pl + q*dw)
 * through tap (p, q); BI and BF sum over the same (input, tap, output)
 * triples the other way round, with the same stride, dilation and pads, so
 * none is materialised (no dilated dy, no flipped filter). Each of the three
 * is bilinear, and each VJP is made of the other two:
 *
 *   op     VJP wrt its first input      VJP wrt its second input
 *   conv   BI(g, w)                     BF(x, g)
 *   BI     conv(g, w)                   BF(g, dy)
 *   BF     BI(dy, g)                    conv(x, g)
 *
 * so gradients of any order are graphs of these three ops.
 *
 * Groups. With `groups` G the channels split into G blocks of C/G input and
 * O/G output channels, and output channel o reads only the input channels
 * of its block g = floor(o / (O/G)), through filter w[o, c - g*C/G]: the
 * contraction over c is block-diagonal, one ordinary convolution per block,
 * side by side. The adjoint of a block-diagonal map is block-diagonal with
 * the same blocks, so BI and BF with the same G are again the adjoints, and
 * the table above holds unchanged with every op carrying the node's groups.
 * Depthwise is G = C: one input channel per block.
 */
import { type Shape, Tensor, shapeToString } from '../graph/tensor.js';
import { sameShape } from '../graph/shape.js';
import type { Conv2dAttrs, Pads2d, Pair } from './attrs.js';
import { checkInt, checkTensor, opError } from './op.js';
import { decode, type Grid, intLet, k, type Src } from '../kernel/source.js';
import { type Padding, checkPads, checkPair, checkRank4, effectiveSize, resolvePads, toPair, windowOutput2d } from './window.js';

/** The geometry every convolution op carries: stride, dilation, explicit zero padding and the channel groups. */
export type ConvGeometry = Pick<Conv2dAttrs, 'stride' | 'dilation' | 'pads' | 'groups'>;

/** Whether a convolution steps one cell at a time: stride and dilation 1 on both axes. */
export function unitSteps({ stride, dilation }: Pick<ConvGeometry, 'stride' | 'dilation'>): boolean {
  return stride[0] === 1 && stride[1] === 1 && dilation[0] === 1 && dilation[1] === 1;
}


/** Validate the geometry attributes: they reach kernel source, so they must be integers. */
export function checkGeometry(op: string, attrs: ConvGeometry): void {
  checkPair(op, 'stride', attrs.stride, 1);
  checkPair(op, 'dilation', attrs.dilation, 1);
  checkPads(op, attrs.pads);
  checkInt(op, 'groups', attrs.groups, 1);
}

/**
 * The channel blocks of a grouped convolution of C input and O output
 * channels: `inPer` = C/groups input channels and `outPer` = O/groups
 * output channels per group (the shape rules checked that both divide).
 */
export function channelGroups(C: number, O: number, groups: number): { readonly inPer: number; readonly outPer: number } {
  return { inPer: C / groups, outPer: O / groups };
}

/**
 * The output size [oH, oW] of convolving an input [N,C,H,W] with a filter
 * [O,C/groups,kH,kW], after checking that the groups split both C and O
 * evenly, that the filter has C/groups input channels and that the
 * (dilated) filter fits the padded input.
 */
export function convOutputHW(op: string, xShape: Shape, wShape: Shape, g: ConvGeometry, inputName = 'input'): Pair {
  const [, C, H, W] = xShape;
  const [O, wc, kH, kW] = wShape;
  const G = g.groups;
  if (C % G !== 0) {
    opError(
      op,
      `${inputName} has ${C} channels, which ${G} groups cannot split evenly; use a number of groups that divides ${C}`,
      `groups ${G} for ${C} input channels`,
      `a number of groups that divides ${C}`,
    );
  }
  if (O % G !== 0) {
    opError(
      op,
      `the filter ${shapeToString(wShape)} has ${O} output channels, which ${G} groups cannot split evenly; use a number of filters that ${G} divides`,
      `groups ${G} for ${O} output channels`,
      `a number of output channels that ${G} divides`,
    );
  }
  if (G === 1 && C !== wc) {
    opError(
      op,
      `${inputName} has ${C} channels but the filter expects ${wc} (filter shape ${shapeToString(wShape)})`,
      `filters ${shapeToString(wShape)} (${wc} input channels)`,
      `${C} input channels, those of the input ${shapeToString(xShape)}`,
    );
  }
  if (G > 1 && C / G !== wc) {
    opError(
      op,
      `${inputName} has ${C} channels, ${C / G} for each of the ${G} groups, but the filter expects ${wc} (filter shape ${shapeToString(wShape)}); ` +
        `a grouped filter is [O, C/groups, kH, kW]`,
      `filters ${shapeToString(wShape)} (${wc} input channels per group)`,
      `${C / G} input channels per group (${C} channels in ${G} groups)`,
    );
  }
  const eff: Pair = [effectiveSize(kH, g.dilation[0]), effectiveSize(kW, g.dilation[1])];
  return windowOutput2d(op, `the ${kH}x${kW} filter (dilated to ${eff[0]}x${eff[1]})`, [H, W], g.pads, eff, g.stride);
}

/**
 * The start of a thread's source for element `i` of a convolution's output
 * (or of a pooling over one) of shape [N, O, a, b]: `head` decodes i into
 * the four `names` (n, o and two spatial coordinates), and
 * `inputChannel(c)` is the channel of x that filter channel c (of
 * `inPer` = C/groups) reads: c itself without groups; with them i is
 * decoded over [N, G, O/G, a, b] (the same row-major order, and the same
 * thread grid) into n, g, og, a, b, then o = g * O/G + og, and the channel
 * is g * inPer + c.
 */
export function convOutputThread(
  shape: Shape,
  groups: number,
  inPer: number,
  names: readonly [Src, Src, Src, Src],
  ints: boolean,
  grid: Grid | null,
): { readonly head: Src; readonly inputChannel: (c: Src) => Src } {
  const [N, O, a, b] = shape;
  const [n, o, ya, xb] = names;
  if (groups === 1) return { head: decode(k`i`, [N, O, a, b], names, ints, grid), inputChannel: (c) => c };
  const outPer = O / groups;
  return {
    head: k`${decode(k`i`, [N, groups, outPer, a, b], [n, k`g`, k`og`, ya, xb], ints, grid)}
  ${intLet(ints, o, k`g * ${outPer} + og`)}`,
    inputChannel: (c) => k`g * ${inPer} + ${c}`,
  };
}

/** The geometry in words, for messages: `stride [1,1], dilation [1,1], pads [0,0,0,0]` (and `, groups 2` when grouped). */
export function describeGeometry(g: ConvGeometry): string {
  const groups = g.groups === 1 ? '' : `, groups ${g.groups}`;
  return `stride [${g.stride.join(',')}], dilation [${g.dilation.join(',')}], pads [${g.pads.join(',')}]${groups}`;
}


/**
 * For each output position i along one axis, the half-open range [lo[i], hi[i])
 * of kernel taps p whose input index i*s - padBefore + p*d lies inside [0, inSize).
 */
export function tapRanges(outSize: number, s: number, padBefore: number, d: number, kSize: number, inSize: number): [Int32Array, Int32Array] {
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  for (let i = 0; i < outSize; i++) {
    const start = i * s - padBefore;
    const a = Math.max(0, Math.ceil(-start / d));
    const b = Math.min(kSize, Math.floor((inSize - 1 - start) / d) + 1);
    lo[i] = a;
    hi[i] = Math.max(a, b);
  }
  return [lo, hi];
}


/** Just the geometry of a convolution's attributes, groups included (drops hasBias, relu, inputShape, filterShape). */
export function geometryOf(attrs: ConvGeometry): ConvGeometry {
  return { stride: attrs.stride, dilation: attrs.dilation, pads: attrs.pads, groups: attrs.groups };
}

/** A VJP must return exactly the shape of what it differentiates; anything else is a bug here, not the user's. */
export function expectShape(op: string, what: string, t: Tensor, shape: Shape): void {
  if (!sameShape(t.shape, shape)) {
    throw new Error(`${op} VJP: built ${what} of shape ${shapeToString(t.shape)} but expected ${shapeToString(shape)} (a bug in Striate)`);
  }
}

/** Check that `t` is a Tensor of rank 4 before its shape is used to resolve options. */
export function need4(op: string, what: string, t: unknown, layout: string): Tensor {
  checkTensor(op, what, t);
  checkRank4(op, what, t.shape, layout);
  return t;
}

/** Resolve stride/dilation/padding/groups options against an input of spatial size inHW and a filter of size kHW. */
export function resolveGeometry(
  op: string,
  options: { stride?: number | readonly [number, number]; padding?: Padding; dilation?: number | readonly [number, number]; groups?: number },
  inHW: Pair,
  kHW: Pair,
): ConvGeometry {
  const stride = toPair(op, 'stride', options.stride ?? 1, 1);
  const dilation = toPair(op, 'dilation', options.dilation ?? 1, 1);
  const groups = checkInt(op, 'groups', options.groups ?? 1, 1);
  const eff: Pair = [effectiveSize(kHW[0], dilation[0]), effectiveSize(kHW[1], dilation[1])];
  const pads = resolvePads(op, options.padding ?? 'valid', inHW, eff, stride);
  return { stride, dilation, pads: pads as Pads2d, groups };
}

/**
 * For each kernel tap p along one axis, the half-open range [lo[p], hi[p]) of
 * output positions i whose input index i*s - padBefore + p*d lies in [0, inSize).
 */
export function outputRanges(kSize: number, s: number, padBefore: number, d: number, inSize: number, outSize: number): [Int32Array, Int32Array] {
  const lo = new Int32Array(kSize);
  const hi = new Int32Array(kSize);
  for (let p = 0; p < kSize; p++) {
    const shift = p * d - padBefore; // input index = i*s + shift
    const a = Math.max(0, Math.ceil(-shift / s));
    const b = Math.min(outSize, Math.floor((inSize - 1 - shift) / s) + 1);
    lo[p] = a;
    hi[p] = Math.max(a, b);
  }
  return [lo, hi];
}

/** For each input index h along one axis, the (tap p, output i) pairs with i*s - padBefore + p*d = h, 0 <= i < outSize (CSR lists). */
export function reachingTaps(inSize: number, s: number, padBefore: number, d: number, kSize: number, outSize: number) {
  const start = new Int32Array(inSize + 1);
  const taps: number[] = [];
  const outs: number[] = [];
  for (let h = 0; h < inSize; h++) {
    start[h] = taps.length;
    for (let p = 0; p < kSize; p++) {
      const t = h + padBefore - p * d;
      if (t >= 0 && t % s === 0 && t / s < outSize) {
        taps.push(p);
        outs.push(t / s);
      }
    }
  }
  start[inSize] = taps.length;
  return { start, tap: Int32Array.from(taps), out: Int32Array.from(outs) };
}
