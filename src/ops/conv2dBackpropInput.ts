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
 */
import type { Shape, Tensor } from '../graph/tensor.js';
import { shapeToString } from '../graph/tensor.js';
import type { Conv2dBackpropInputAttrs } from './attrs.js';
import {
  type ConvGeometry,
  checkGeometry,
  checkRank4,
  conv2dOp,
  convOutputHW,
  describeGeometry,
  expectShape,
  geometryOf,
  need4,
  plus,
  resolveGeometry,
  unitSteps,
} from './conv2d.js';
import { conv2dBackpropFilterOp } from './conv2dBackpropFilter.js';
import { type KernelContext, type NDArray, makeNode, opError, type OpDef } from './op.js';
import { decode, type Grid, intLet, join, k, laneTerm, onLaneAxis, scalarWasm, type Src } from '../backend/gpujs/source.js';
import { guarded, type Padding, stepRangeTest } from './window.js';

const OP = 'conv2dBackpropInput';

export function conv2dBackpropInputShape(inputs: readonly Shape[], attrs: Conv2dBackpropInputAttrs): Shape {
  if (inputs.length !== 2) opError(OP, `takes 2 inputs (dy, w), got ${inputs.length}`);
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
    );
  }
  return xs;
}

/** For each input index h along one axis, the (tap p, output i) pairs with i*s - padBefore + p*d = h, 0 <= i < outSize (CSR lists). */
function reachingTaps(inSize: number, s: number, padBefore: number, d: number, k: number, outSize: number) {
  const start = new Int32Array(inSize + 1);
  const taps: number[] = [];
  const outs: number[] = [];
  for (let h = 0; h < inSize; h++) {
    start[h] = taps.length;
    for (let p = 0; p < k; p++) {
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

function conv2dBackpropInputReference(inputs: readonly NDArray[], attrs: Conv2dBackpropInputAttrs, outShape: Shape): Float64Array {
  const [dy, w] = inputs;
  const [N, C, H, W] = outShape;
  const [O, , kH, kW] = w.shape;
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
  let k = 0;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let h = 0; h < H; h++) {
        const r0 = rStart[h];
        const r1 = rStart[h + 1];
        for (let v = 0; v < W; v++) {
          const s0 = cStart[v];
          const s1 = cStart[v + 1];
          let acc = 0;
          for (let o = 0; o < O; o++) {
            const dyBase = (n * O + o) * oHW;
            const wBase = (o * C + c) * kHW;
            for (let r = r0; r < r1; r++) {
              const dyRow = dyBase + rOut[r] * oW;
              const wRow = wBase + rTap[r] * kW;
              for (let s = s0; s < s1; s++) acc += dyd[dyRow + cOut[s]] * wd[wRow + cTap[s]];
            }
          }
          out[k++] = acc;
        }
      }
    }
  }
  return out;
}

// dx = BI(dy, w) is bilinear, with BI(., w) the adjoint of conv(., w) and
// BI(dy, .) the adjoint of conv(x, .) read the other way round. For a cotangent gx:
//   <gx, BI(d dy, w)> = <conv(gx, w), d dy>     =>  d dy = conv2d(gx, w)
//   <gx, BI(dy, d w)> = <conv(gx, d w), dy>
//                     = <BF(gx, dy), d w>       =>  d w  = conv2dBackpropFilter(gx, dy)
// Same stride, dilation and explicit pads; because inputShape was checked to
// give exactly dy's size, conv2d(gx, w) is exactly [N,O,oH,oW] even when the
// forward left rows/columns unread.
function conv2dBackpropInputVjp(gx: Tensor, node: Tensor<'conv2dBackpropInput'>): readonly (Tensor | null)[] {
  const [dy, w] = node.inputs;
  const geometry = geometryOf(node.attrs);
  const ddy = makeNode(conv2dOp, [gx, w], { ...geometry, hasBias: false, relu: false });
  const dw = makeNode(conv2dBackpropFilterOp, [gx, dy], { ...geometry, filterShape: w.shape });
  expectShape(OP, 'd dy', ddy, dy.shape);
  expectShape(OP, 'd w', dw, w.shape);
  return [ddy, dw];
}

// Kernel: each input cell (n, c, iy, ix) gathers dy[n, o, oy, ox] * w[o, c, ky, kx]
// over the taps that reached it in the forward pass: oy * sh = iy + pt - ky * dh
// must be a whole output row inside [0, oH), likewise for columns.
/** Output-channel loops up to this long are unrolled (one statement per channel). */
const UNROLL = 16;

// A tap guarded by a test on the input column runs lane-masked in gpu.js's
// SIMD body and reads by gathers there: 2.4x slower than the scalar module
// (LeNet-5's conv2 input gradient: 14.8 vs 6.1 ms per batch of 64, one wasm
// thread). So the kernel is built scalar unless no column test can fail
// (the wasm backends pad dy to the full padding first, backend/fuse.ts):
// then laneTapsKernel reads dy by vector loads. LeNet-5's conv2: 4.6 ms
// scalar -> 0.3 (padding dy) + 3.3 ms, per batch of 64 on one wasm thread.
function conv2dBackpropInputKernel(ctx: KernelContext<'conv2dBackpropInput'>): Src {
  if (!ctx.ints) return inputGradientKernel(ctx);
  if (laneTapsApply(ctx)) {
    const [pt, , pl] = ctx.attrs.pads;
    return laneTapsKernel(ctx.out, ctx.inputs[0], ctx.inputs[1], pt, pl, ctx.grid);
  }
  return scalarWasm(inputGradientKernel(ctx));
}

/** Whether the spelled-out kernel applies: integer indexing, stride and dilation 1, few enough products. */
function spelledOut({ inputs: [dy, w], attrs, ints }: KernelContext<'conv2dBackpropInput'>): boolean {
  const [, O] = dy;
  const [, , kH, kW] = w;
  return ints && unitSteps(attrs) && kH * kW * Math.min(O, UNROLL) <= UNROLLED_PRODUCTS;
}

/** Whether laneTapsKernel applies: stride and dilation 1, a small filter, on the lane axis, no column test that can fail. */
function laneTapsApply(ctx: KernelContext<'conv2dBackpropInput'>): boolean {
  const { attrs, inputs: [, w], out, ints, grid } = ctx;
  return unitSteps(attrs) && w[2] * w[3] <= MAX_LANE_TAPS && onLaneAxis(out, ints, grid) && columnTests(ctx).every((t) => t === null);
}

/** Largest filter laneTapsKernel spells out per output channel. */
const MAX_LANE_TAPS = 49;

/** The test on the input column ix for each filter column kx (null: it cannot fail). */
function columnTests({ inputs: [dy, w], attrs, out }: KernelContext<'conv2dBackpropInput'>): (Src | null)[] {
  const kW = w[3];
  const pl = attrs.pads[2];
  return Array.from({ length: kW }, (_, kx) => stepRangeTest(k`ix`, 1, pl - kx, dy[3], out[3]));
}

function inputGradientKernel(ctx: KernelContext<'conv2dBackpropInput'>): Src {
  const { inputs: [dy, w], attrs, out, ints, grid } = ctx;
  const [N, C, H, W] = out;
  const [, O, oH, oW] = dy;
  const [, , kH, kW] = w;
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
  if (spelledOut(ctx)) return unrolledTapsKernel(out, dy, w, pt, pl, grid);
  if (unitSteps(attrs)) {
    // Stride and dilation 1: the taps that reach (iy, ix) form a rectangle,
    // ky in [max(0, iy+pt-oH+1), min(kH-1, iy+pt)], likewise kx. One test per
    // tap (loop bounds stay literals, as WGSL needs), none in the inner loop
    // over the output channels.
    return k`${decode(k`i`, [N, C, H, W], [k`n`, k`c`, k`iy`, k`ix`], ints, grid)}
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
          ${intLet(ints, k`dyAt`, k`n * ${O * oH * oW} + (iy + ${pt} - ky) * ${oW} + ix + ${pl} - kx`)}
          ${intLet(ints, k`wAt`, k`c * ${kH * kW} + ky * ${kW} + kx`)}
          ${
            O <= UNROLL
              ? join(
                  Array.from({ length: O }, (_, o) => k`acc += x0[dyAt + ${o * oH * oW}] * x1[wAt + ${o * C * kH * kW}];`),
                  '\n          ',
                )
              : k`for (let o = 0; o < ${O}; o++) {
            acc += x0[dyAt + o * ${oH * oW}] * x1[wAt + o * ${C * kH * kW}];
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
  return k`${decode(k`i`, [N, C, H, W], [k`n`, k`c`, k`iy`, k`ix`], ints, grid)}
  let acc = 0.0;
  for (let o = 0; o < ${O}; o++) {
    ${intLet(ints, k`dyPlane`, k`(n * ${O} + o) * ${oH * oW}`)}
    ${intLet(ints, k`wPlane`, k`(o * ${C} + c) * ${kH * kW}`)}
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

/** The most products the unrolled-taps kernel may spell out (taps x unrolled channels). */
const UNROLLED_PRODUCTS = 512;

/**
 * Stride and dilation 1, integer indexing: every tap (ky, kx) is spelled out,
 * guarded by the tests on (iy, ix) that can fail for these sizes, and reads
 * dy and w at literal offsets from one base per thread; the output channels
 * are unrolled up to UNROLL (a loop beyond). With no loop over the taps and
 * no per-tap address arithmetic this is ~40% faster than the looped form
 * (LeNet-5's conv2: 8.0 -> 4.9 ms per batch of 64, one wasm thread).
 */
function unrolledTapsKernel(out: Shape, dy: Shape, w: Shape, pt: number, pl: number, grid: Grid | null): Src {
  const [N, C, H, W] = out;
  const [, O, oH, oW] = dy;
  const [, , kH, kW] = w;
  const plane = oH * oW;
  const filter = C * kH * kW;
  // Tap (ky, kx) reaches input cell (iy, ix) from output cell (iy + pt - ky, ix + pl - kx),
  // which must lie inside dy: tested on iy and ix against literals.
  const products = (off: number, wOff: number): Src =>
    O <= UNROLL
      ? join(
          Array.from({ length: O }, (_, o) => k`acc += x0[${plus(k`dyAt`, off + o * plane)}] * x1[${plus(k`wAt`, wOff + o * filter)}];`),
          '\n      ',
        )
      : k`for (let o = 0; o < ${O}; o++) {
        acc += x0[${plus(k`dyAt`, off)} + o * ${plane}] * x1[${plus(k`wAt`, wOff)} + o * ${filter}];
      }`;
  const rows: Src[] = [];
  for (let ky = 0; ky < kH; ky++) {
    const cols: Src[] = [];
    for (let kx = 0; kx < kW; kx++) {
      cols.push(guarded(stepRangeTest(k`ix`, 1, pl - kx, oW, W), products(-(ky * oW + kx), ky * kW + kx)));
    }
    rows.push(guarded(stepRangeTest(k`iy`, 1, pt - ky, oH, H), join(cols, '\n    ')));
  }
  return k`${decode(k`i`, [N, C, H, W], [k`n`, k`c`, k`iy`, k`ix`], true, grid)}
  ${intLet(true, k`dyAt`, k`n * ${O * plane} + (iy + ${pt}) * ${oW} + ix + ${pl}`)}
  ${intLet(true, k`wAt`, k`c * ${kH * kW}`)}
  let acc = 0.0;
  ${join(rows, '\n  ')}
  return acc;`;
}

/**
 * The spelled-out kernel on the lane axis with no border test on the input
 * column (a full-padding dy, see backend/fuse.ts): per output channel o, the
 * filter's taps are spelled out, each a read of dy at
 * `dyO + this.thread.x + offset` (one vector load for four input columns in
 * gpu.js's SIMD body) and of w (uniform). No column test can fail here
 * (laneTapsApply checked), so none is emitted; row tests are uniform. The
 * loop over o keeps the body small (LeNet-5's conv2, batch 64, one wasm
 * thread): this form 3.3 ms; the loop over o inside each tap 4.2; all
 * O x kH x kW products spelled out 7.4 (a body too big for the
 * instruction cache).
 */
function laneTapsKernel(out: Shape, dy: Shape, w: Shape, pt: number, pl: number, grid: Grid | null): Src {
  const [N, C, H, W] = out;
  const [, O, oH, oW] = dy;
  const [, , kH, kW] = w;
  const rows: Src[] = [];
  for (let ky = 0; ky < kH; ky++) {
    const cols: Src[] = [];
    for (let kx = 0; kx < kW; kx++) {
      cols.push(k`acc += x0[${plus(k`dyO + ${laneTerm(1)}`, -(ky * oW + kx))}] * x1[${plus(k`wO`, ky * kW + kx)}];`);
    }
    rows.push(guarded(stepRangeTest(k`iy`, 1, pt - ky, oH, H), join(cols, '\n    ')));
  }
  return k`${decode(k`i`, [N, C, H, W], [k`n`, k`c`, k`iy`, k`ix`], true, grid)}
  let acc = 0.0;
  for (let o = 0; o < ${O}; o++) {
    ${intLet(true, k`dyO`, k`(n * ${O} + o) * ${oH * oW} + (iy + ${pt}) * ${oW} + ${pl}`)}
    ${intLet(true, k`wO`, k`(o * ${C} + c) * ${kH * kW}`)}
    ${join(rows, '\n    ')}
  }
  return acc;`;
}

export const conv2dBackpropInputOp: OpDef<'conv2dBackpropInput'> = {
  name: OP,
  shape: conv2dBackpropInputShape,
  vjp: conv2dBackpropInputVjp,
  reference: conv2dBackpropInputReference,
  kernel: conv2dBackpropInputKernel,
};

export interface Conv2dBackpropInputOptions {
  /** The shape [N,C,H,W] of the convolution's input. */
  readonly inputShape: Shape;
  readonly stride?: number | readonly [number, number];
  /** The forward convolution's padding; 'same' is resolved against `inputShape`. */
  readonly padding?: Padding;
  readonly dilation?: number | readonly [number, number];
}

/**
 * The gradient of `conv2d(x, w, options)` with respect to `x`, given the
 * output gradient `dy`: a tensor of shape `options.inputShape`.
 */
export function conv2dBackpropInput(dy: Tensor, w: Tensor, options: Conv2dBackpropInputOptions): Tensor<'conv2dBackpropInput'> {
  need4(OP, 'dy', dy, '[N,O,oH,oW]');
  need4(OP, 'filter', w, '[O,C,kH,kW]');
  const inputShape = options?.inputShape;
  checkRank4(OP, 'inputShape', inputShape, '[N,C,H,W]');
  const geometry: ConvGeometry = resolveGeometry(OP, options, [inputShape[2], inputShape[3]], [w.shape[2], w.shape[3]]);
  return makeNode(conv2dBackpropInputOp, [dy, w], { ...geometry, inputShape: [...inputShape] });
}
