/**
 * The gradient of conv2d with respect to its input (a "transposed
 * convolution"): given dy [N,O,oH,oW] and the filter w [O,C,kH,kW], the
 * adjoint of x -> conv2d(x, w) applied to dy,
 *
 *   dx[n,c,h,v] = sum over o and over the taps (p,i), (q,j) that connect them:
 *                 i*sh - pt + p*dh = h,  j*sw - pl + q*dw = v,
 *                 0 <= i < oH, 0 <= j < oW
 *                 of dy[n,o,i,j] * w[o,c,p,q].
 *
 * Written as a gather: each dx element sums what reaches it (one output per
 * gpu.js thread, no scatter). Input cells no output reads (beyond the stride
 * leftovers, or under a stride that skips them) get zero.
 *
 * Grouped (w [O, C/G, kH, kW]): input channel c belongs to group
 * g = floor(c / (C/G)) and only that group's O/G output channels read it,
 *
 *   dx[n,c,h,v] = sum over o in [g*O/G, (g+1)*O/G) and the same taps
 *                 of dy[n,o,i,j] * w[o, c - g*C/G, p, q].
 */
import type { Shape, Tensor } from '../graph/tensor.js';
import { shapeToString } from '../graph/tensor.js';
import type { Conv2dBackpropInputAttrs } from './attrs.js';
import { addAll } from './add.js';
import { conv2dOp } from './conv2d.js';
import { conv2dBackpropFilterOp } from './conv2dBackpropFilter.js';
import {
  type ConvGeometry,
  channelGroups,
  checkGeometry,
  convOutputHW,
  describeGeometry,
  expectShape,
  geometryOf,
  need4,
  reachingTaps,
  resolveGeometry,
  unitSteps,
} from './convGeometry.js';
import { checkInputCount, type KernelContext, type NDArray, makeNode, opError, type OpDef, requiredOptions } from './op.js';
import { decode, type Grid, guarded, intLet, join, k, type Src } from '../kernel/source.js';
import { checkRank4, type Padding } from './window.js';

const OP = 'conv2dBackpropInput';

export function conv2dBackpropInputShape(inputs: readonly Shape[], attrs: Conv2dBackpropInputAttrs): Shape {
  checkInputCount(OP, inputs, 2, 'dy, w');
  const [dy, w] = inputs;
  const xs = attrs.inputShape;
  checkRank4(OP, 'dy', dy, '[N,O,oH,oW]');
  checkRank4(OP, 'filter', w, '[O,C,kH,kW]');
  checkRank4(OP, 'inputShape', xs, '[N,C,H,W]');
  checkGeometry(OP, attrs);
  const [oH, oW] = convOutputHW(OP, xs, w, attrs, `inputShape ${shapeToString(xs)}`);
  const expected = [xs[0], w[0], oH, oW];
  if (dy.some((d, i) => d !== expected[i])) {
    opError(
      OP,
      `dy has shape ${shapeToString(dy)} but conv2d of an input ${shapeToString(xs)} with filter ${shapeToString(w)} ` +
        `(${describeGeometry(attrs)}) gives ${shapeToString(expected)}`,
      `dy ${shapeToString(dy)}`,
      `dy ${shapeToString(expected)}`,
    );
  }
  return xs;
}

// dx = BI(dy, w) is bilinear, with BI(., w) the adjoint of conv(., w) and
// BI(dy, .) the adjoint of conv(x, .) read the other way round. For a cotangent gx:
//   <gx, BI(d dy, w)> = <conv(gx, w), d dy>     =>  d dy = conv2d(gx, w)
//   <gx, BI(dy, d w)> = <conv(gx, d w), dy>
//                     = <BF(gx, dy), d w>       =>  d w  = conv2dBackpropFilter(gx, dy)
// Same stride, dilation, explicit pads and groups; because inputShape was checked to
// give exactly dy's size, conv2d(gx, w) is exactly [N,O,oH,oW] even when the
// forward left rows/columns unread.
export function conv2dBackpropInputVjp(gx: Tensor, node: Tensor<'conv2dBackpropInput'>): readonly (Tensor | null)[] {
  const [dy, w] = node.inputs;
  const geometry = geometryOf(node.attrs);
  const ddy = makeNode(conv2dOp, [gx, w], { ...geometry, hasBias: false, relu: false });
  const dw = makeNode(conv2dBackpropFilterOp, [gx, dy], { ...geometry, filterShape: w.shape });
  expectShape(OP, 'd dy', ddy, dy.shape);
  expectShape(OP, 'd w', dw, w.shape);
  return [ddy, dw];
}

// Forwards: bilinear in (dy, w), so d = conv2dBackpropInput(d dy, w) + conv2dBackpropInput(dy, dw).
function conv2dBackpropInputJvp([tdy, tw]: readonly (Tensor | null)[], node: Tensor<'conv2dBackpropInput'>): Tensor | null {
  const [dy, w] = node.inputs;
  return addAll([tdy && makeNode(conv2dBackpropInputOp, [tdy, w], node.attrs), tw && makeNode(conv2dBackpropInputOp, [dy, tw], node.attrs)]);
}

function conv2dBackpropInputReference(inputs: readonly NDArray[], attrs: Conv2dBackpropInputAttrs, outShape: Shape): Float64Array {
  const [dy, w] = inputs;
  const [N, C, H, W] = outShape;
  const [O, Cg, kH, kW] = w.shape;
  const { outPer } = channelGroups(C, O, attrs.groups);
  const [, , oH, oW] = dy.shape;
  const [sh, sw] = attrs.stride;
  const [dh, dw] = attrs.dilation;
  const [pt, , pl] = attrs.pads;
  const rows = reachingTaps(H, sh, pt, dh, kH, oH);
  const cols = reachingTaps(W, sw, pl, dw, kW, oW);
  const { start: rStart, tap: rTap, out: rOut } = rows;
  const { start: cStart, tap: cTap, out: cOut } = cols;
  const dyd = dy.data;
  const wd = w.data;
  const out = new Float64Array(N * C * H * W);
  const oHW = oH * oW;
  const kHW = kH * kW;
  let at = 0;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      // the output channels of c's group, and c's channel within the group's filters
      const group = Math.floor(c / Cg);
      const oFirst = group * outPer;
      const cw = c - group * Cg;
      for (let h = 0; h < H; h++) {
        const r0 = rStart[h];
        const r1 = rStart[h + 1];
        for (let v = 0; v < W; v++) {
          const s0 = cStart[v];
          const s1 = cStart[v + 1];
          let acc = 0;
          for (let o = oFirst; o < oFirst + outPer; o++) {
            const dyBase = (n * O + o) * oHW;
            const wBase = (o * Cg + cw) * kHW;
            for (let r = r0; r < r1; r++) {
              const dyRow = dyBase + rOut[r] * oW;
              const wRow = wBase + rTap[r] * kW;
              for (let s = s0; s < s1; s++) acc += dyd[dyRow + cOut[s]] * wd[wRow + cTap[s]];
            }
          }
          out[at++] = acc;
        }
      }
    }
  }
  return out;
}

// Kernel: each input cell (n, c, iy, ix) gathers dy[n, o, oy, ox] * w[o, c, ky, kx]
// over the taps that reached it in the forward pass: oy * sh = iy + pt - ky * dh
// must be a whole output row inside [0, oH), likewise for columns; o runs
// over the output channels of c's group.
// (The wasm backends' forms: backend/gpujs/wasm/kernels/conv.ts.)

/** Output-channel loops up to this long are unrolled (one statement per channel). */
export const UNROLL_CHANNELS = 16;

/** What a conv2dBackpropInput thread knows of its input cell's channel (see {@link inputGradientThread}). */
export interface InputGradientThread {
  /** Decodes the thread's input cell into n, c (or g and cg), iy, ix. */
  readonly head: Src;
  /** The output channels of a group: O / groups. */
  readonly Og: number;
  /** The cell's channel within its group's filters: `c`, or `cg` when grouped. */
  readonly cw: Src;
  /** The index of the group's first output channel (`g * Og`), or null without groups (0). */
  readonly firstOut: Src | null;
}

/**
 * The start of a conv2dBackpropInput thread's source, shared with the wasm
 * forms. Without groups the input cell is decoded into n, c, iy, ix; with
 * them over [N, G, Cg, H, W] (the same row-major order) into n, g, cg, iy,
 * ix, and the cell sums over output channels firstOut + o, o < Og, reading
 * their filters at channel cw.
 */
export function inputGradientThread(out: Shape, w: Shape, groups: number, ints: boolean, grid: Grid | null): InputGradientThread {
  const [N, C, H, W] = out;
  const [O, Cg] = w;
  const Og = O / groups;
  if (groups === 1) return { head: decode(k`i`, [N, C, H, W], [k`n`, k`c`, k`iy`, k`ix`], ints, grid), Og, cw: k`c`, firstOut: null };
  return { head: decode(k`i`, [N, groups, Cg, H, W], [k`n`, k`g`, k`cg`, k`iy`, k`ix`], ints, grid), Og, cw: k`cg`, firstOut: k`g * ${Og}` };
}

/** `base + term * scale`, or base alone where term is null (no groups). */
export function plusGroup(base: Src, term: Src | null, scale: number): Src {
  return term === null ? base : k`${base} + ${term} * ${scale}`;
}

/** The portable kernel (the wasm backends build it scalar where their spelled-out forms do not apply). */
export function conv2dBackpropInputKernel(ctx: KernelContext<'conv2dBackpropInput'>): Src {
  const { inputs: [dy, w], attrs, out, ints, grid } = ctx;
  const [, , H, W] = out;
  const [, O, oH, oW] = dy;
  const [, Cg, kH, kW] = w;
  const { head, Og, cw, firstOut } = inputGradientThread(out, w, attrs.groups, ints, grid);
  // output channel o of the cell's group, o < Og
  const oOf = (o: Src) => (firstOut === null ? o : k`(${firstOut} + ${o})`);
  const [sh, sw] = attrs.stride;
  const [dh, dw] = attrs.dilation;
  const [pt, , pl] = attrs.pads;
  // Only the tests that can fail for these sizes are emitted: with stride 1
  // every t is a whole output index, and its bounds are tested only where a
  // tap can fall outside [0, oH).
  const tap = (t: Src, o: Src, s: number, tMin: number, tMax: number, outSize: number) => {
    const parts: Src[] = [];
    if (tMin < 0) parts.push(k`${t} >= 0`);
    if (Math.floor(tMax / s) >= outSize) parts.push(k`${o} < ${outSize}`);
    if (s > 1) parts.push(k`Math.abs(${o} * ${s} - ${t}) < 0.5`);
    return {
      index: intLet(ints, o, s === 1 ? t : k`Math.floor((${t} + 0.5) / ${s})`),
      test: parts.length ? join(parts, ' && ') : null,
    };
  };
  if (unitSteps(attrs)) {
    // Stride and dilation 1: the taps that reach (iy, ix) form a rectangle,
    // ky in [max(0, iy+pt-oH+1), min(kH-1, iy+pt)], likewise kx. One test per
    // tap (loop bounds stay literals, as WGSL needs), none in the inner loop
    // over the output channels.
    return k`${head}
  ${intLet(ints, k`kyLo`, k`Math.max(0, iy + ${pt - oH + 1})`)}
  ${intLet(ints, k`kyHi`, k`Math.min(${kH - 1}, iy + ${pt})`)}
  ${intLet(ints, k`kxLo`, k`Math.max(0, ix + ${pl - oW + 1})`)}
  ${intLet(ints, k`kxHi`, k`Math.min(${kW - 1}, ix + ${pl})`)}
  let acc = 0.0;
  for (let a = 0; a < ${kH}; a++) {
    ${intLet(ints, k`ky`, k`kyLo + a`)}
    if (ky <= kyHi) {
      for (let b = 0; b < ${kW}; b++) {
        ${intLet(ints, k`kx`, k`kxLo + b`)}
        if (kx <= kxHi) {
          ${intLet(ints, k`dyAt`, plusGroup(k`n * ${O * oH * oW} + (iy + ${pt} - ky) * ${oW} + ix + ${pl} - kx`, firstOut, oH * oW))}
          ${intLet(ints, k`wAt`, plusGroup(k`${cw} * ${kH * kW} + ky * ${kW} + kx`, firstOut, Cg * kH * kW))}
          ${
            Og <= UNROLL_CHANNELS
              ? join(
                  Array.from({ length: Og }, (_, o) => k`acc += x0[dyAt + ${o * oH * oW}] * x1[wAt + ${o * Cg * kH * kW}];`),
                  '\n          ',
                )
              : k`for (let o = 0; o < ${Og}; o++) {
            acc += x0[dyAt + o * ${oH * oW}] * x1[wAt + o * ${Cg * kH * kW}];
          }`
          }
        }
      }
    }
  }
  return acc;`;
  }
  const row = tap(k`ty`, k`oy`, sh, pt - (kH - 1) * dh, H - 1 + pt, oH);
  const col = tap(k`tx`, k`ox`, sw, pl - (kW - 1) * dw, W - 1 + pl, oW);
  return k`${head}
  let acc = 0.0;
  for (let o = 0; o < ${Og}; o++) {
    ${intLet(ints, k`dyPlane`, k`(n * ${O} + ${oOf(k`o`)}) * ${oH * oW}`)}
    ${intLet(ints, k`wPlane`, k`(${oOf(k`o`)} * ${Cg} + ${cw}) * ${kH * kW}`)}
    for (let ky = 0; ky < ${kH}; ky++) {
      ${intLet(ints, k`ty`, k`iy + ${pt} - ky * ${dh}`)}
      ${row.index}
      ${guarded(
        row.test,
        k`for (let kx = 0; kx < ${kW}; kx++) {
        ${intLet(ints, k`tx`, k`ix + ${pl} - kx * ${dw}`)}
        ${col.index}
        ${guarded(col.test, k`acc += x0[dyPlane + oy * ${oW} + ox] * x1[wPlane + ky * ${kW} + kx];`)}
      }`,
      )}
    }
  }
  return acc;`;
}

export const conv2dBackpropInputOp: OpDef<'conv2dBackpropInput'> = {
  name: OP,
  shape: conv2dBackpropInputShape,
  vjp: conv2dBackpropInputVjp,
  jvp: conv2dBackpropInputJvp,
  reference: conv2dBackpropInputReference,
  kernel: conv2dBackpropInputKernel,
};

/**
 * Options of {@link conv2dBackpropInput}: the shape it cannot infer from its inputs, and
 * the forward convolution's geometry exactly as given to {@link conv2d}.
 */
export interface Conv2dBackpropInputOptions {
  /** The shape [N,C,H,W] of the convolution's input. */
  readonly inputShape: Shape;
  /** The forward convolution's stride (default 1). */
  readonly stride?: number | readonly [number, number];
  /** The forward convolution's padding; 'same' is resolved against `inputShape`. */
  readonly padding?: Padding;
  /** The forward convolution's dilation (default 1). */
  readonly dilation?: number | readonly [number, number];
  /** The forward convolution's groups (default 1); the filter is [O, C/groups, kH, kW]. */
  readonly groups?: number;
}

/**
 * The gradient of `conv2d(x, w, options)` with respect to `x`, given the
 * output gradient `dy`: a tensor of shape `options.inputShape`.
 */
export function conv2dBackpropInput(dy: Tensor, w: Tensor, options: Conv2dBackpropInputOptions): Tensor<'conv2dBackpropInput'> {
  need4(OP, 'dy', dy, '[N,O,oH,oW]');
  need4(OP, 'filter', w, '[O,C,kH,kW]');
  const { inputShape, ...window } = requiredOptions(OP, options, ['inputShape', 'stride', 'padding', 'dilation', 'groups'], '{ inputShape: [1, 3, 8, 8] }');
  checkRank4(OP, 'inputShape', inputShape, '[N,C,H,W]');
  const geometry: ConvGeometry = resolveGeometry(OP, window, [inputShape[2], inputShape[3]], [w.shape[2], w.shape[3]]);
  return makeNode(conv2dBackpropInputOp, [dy, w], { ...geometry, inputShape: [...inputShape] });
}
