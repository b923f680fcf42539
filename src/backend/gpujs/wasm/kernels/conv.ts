/**
 * The wasm backends' forms of the convolution family's kernels: the same
 * sums as the portable templates in src/ops (conv2d.ts,
 * conv2dBackpropInput.ts, conv2dBackpropFilter.ts, conv2dMaxPool.ts), spelled
 * for gpu.js's wasm compiler as tuning.ts adjusts it: integer indices, taps
 * spelled out at literal offsets, and reads on the lane axis spelled for
 * vector loads (lanes.ts). Each entry returns null where its form does not
 * apply, and the executor then takes the op's portable template. The
 * measurements that chose each form are in bench/README.md.
 *
 * Grouped convolutions keep these forms: a thread of a grouped op reads
 * one group's channels (its output decoded over [N, G, O/G, ...], the same
 * order and thread grid, by convOutputThread and inputGradientThread), so
 * each form only offsets its channel bases by the group and loops over C/G
 * input or O/G output channels; the lane-axis reads are unchanged.
 */
import type { Shape } from '../../../../graph/tensor.js';
import type { KernelContext, KernelStages } from '../../../../ops/op.js';
import { conv2dDims } from '../../../../ops/conv2d.js';
import { conv2dBackpropInputKernel, inputGradientThread, plusGroup, UNROLL_CHANNELS } from '../../../../ops/conv2dBackpropInput.js';
import { batchParts, conv2dBackpropFilterSource, UNROLL as FILTER_ROW_UNROLL } from '../../../../ops/conv2dBackpropFilter.js';
import type { Conv2dMaxPoolAttrs } from '../../../../ops/attrs.js';
import { convOutputThread, unitSteps } from '../../../../ops/convGeometry.js';
import { decode, type Grid, gridOf, guarded, intLet, join, k, plus, type Src, stepRangeTest } from '../../../../kernel/source.js';
import { laneTerm, onLaneAxis, scalarWasm } from '../lanes.js';

/** Filters with at most this many taps per channel are spelled out tap by tap. */
const UNROLLED_TAPS = 49;

/**
 * conv2d: small filters spelled out tap by tap. With one input channel per
 * thread (one in all, or one per group: depthwise) off the lane axis the
 * portable looped form measured faster.
 */
export function conv2dWasm(ctx: KernelContext<'conv2d'>): Src | null {
  const [, Cg, kH, kW] = ctx.inputs[1];
  if (kH * kW > UNROLLED_TAPS || (Cg === 1 && !onLaneAxis(ctx.out, true, ctx.grid))) return null;
  return conv2dUnrolledTaps(ctx);
}

/**
 * Integer indexing: per input channel, every tap is spelled out and reads x
 * and w at literal offsets from one base per thread; taps that can fall into
 * the zero padding are guarded by comparing the output row or column with a
 * literal (only the tests that can fail for these sizes are emitted).
 */
function conv2dUnrolledTaps(ctx: KernelContext<'conv2d'>): Src {
  const { attrs, out, grid } = ctx;
  const { C, Cg, G, H, W, kH, kW, oH, oW, sh, sw, dh, dw, pt, pl } = conv2dDims(ctx);
  const { head, inputChannel } = convOutputThread(out, G, Cg, [k`n`, k`o`, k`oy`, k`ox`], true, grid);
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
  return k`${head}
  let acc = ${attrs.hasBias ? k`x2[o]` : k`0.0`};
  for (let c = 0; c < ${Cg}; c++) {
    ${intLet(true, k`xb`, k`(n * ${C} + ${inputChannel(k`c`)}) * ${H * W} + oy * ${sh * W}${lanes ? k`` : k` + ox * ${sw}`} - ${pt * W + pl}`)}
    ${intLet(true, k`wb`, k`(o * ${Cg} + c) * ${kH * kW}`)}
    ${join(taps, '\n    ')}
  }
  return ${attrs.relu ? k`Math.max(acc, 0.0)` : k`acc`};`;
}

// conv2dBackpropInput. A tap guarded by a test on the input column runs
// lane-masked in gpu.js's SIMD body and reads by gathers there, which is
// slower than the scalar module. So the kernel is built scalar unless no
// column test can fail (rewrites.ts pads dy to the full padding first): then
// inputGradientLaneTaps reads dy by vector loads.
export function conv2dBackpropInputWasm(ctx: KernelContext<'conv2dBackpropInput'>): Src {
  const [pt, , pl] = ctx.attrs.pads;
  const { groups } = ctx.attrs;
  if (laneTapsApply(ctx)) return inputGradientLaneTaps(ctx.out, ctx.inputs[0], ctx.inputs[1], pt, pl, groups, ctx.grid);
  if (spelledOut(ctx)) return scalarWasm(inputGradientUnrolledTaps(ctx.out, ctx.inputs[0], ctx.inputs[1], pt, pl, groups, ctx.grid));
  return scalarWasm(conv2dBackpropInputKernel(ctx));
}

/** Whether the spelled-out kernel applies: integer indexing, stride and dilation 1, few enough products (per group's output channels). */
function spelledOut({ inputs: [dy, w], attrs }: KernelContext<'conv2dBackpropInput'>): boolean {
  const [, O] = dy;
  const [, , kH, kW] = w;
  return unitSteps(attrs) && kH * kW * Math.min(O / attrs.groups, UNROLL_CHANNELS) <= UNROLLED_PRODUCTS;
}

/** Whether inputGradientLaneTaps applies: stride and dilation 1, a small filter, on the lane axis, no column test that can fail. */
function laneTapsApply(ctx: KernelContext<'conv2dBackpropInput'>): boolean {
  const { attrs, inputs: [, w], out, ints, grid } = ctx;
  return unitSteps(attrs) && w[2] * w[3] <= MAX_LANE_TAPS && onLaneAxis(out, ints, grid) && columnTests(ctx).every((t) => t === null);
}

/** Largest filter inputGradientLaneTaps spells out per output channel. */
const MAX_LANE_TAPS = 49;

/** The test on the input column ix for each filter column kx (null: it cannot fail). */
function columnTests({ inputs: [dy, w], attrs, out }: KernelContext<'conv2dBackpropInput'>): (Src | null)[] {
  const kW = w[3];
  const pl = attrs.pads[2];
  return Array.from({ length: kW }, (_, kx) => stepRangeTest(k`ix`, 1, pl - kx, dy[3], out[3]));
}

/** The most products the unrolled-taps kernel may spell out (taps x unrolled channels). */
const UNROLLED_PRODUCTS = 512;

/**
 * Stride and dilation 1, integer indexing: every tap (ky, kx) is spelled out,
 * guarded by the tests on (iy, ix) that can fail for these sizes, and reads
 * dy and w at literal offsets from one base per thread; the output channels
 * are unrolled up to UNROLL_CHANNELS (a loop beyond). With no loop over the taps and
 * no per-tap address arithmetic this is much faster than the looped form
 * (bench/README.md, 'The figures behind each tuned kernel's form').
 */
function inputGradientUnrolledTaps(out: Shape, dy: Shape, w: Shape, pt: number, pl: number, groups: number, grid: Grid | null): Src {
  const [, , H, W] = out;
  const [, O, oH, oW] = dy;
  const [, Cg, kH, kW] = w;
  const plane = oH * oW;
  const filter = Cg * kH * kW;
  // the output channels of the cell's group: firstOut + o, o < Og
  const { head, Og, cw, firstOut } = inputGradientThread(out, w, groups, true, grid);
  // Tap (ky, kx) reaches input cell (iy, ix) from output cell (iy + pt - ky, ix + pl - kx),
  // which must lie inside dy: tested on iy and ix against literals.
  const products = (off: number, wOff: number): Src =>
    Og <= UNROLL_CHANNELS
      ? join(
          Array.from({ length: Og }, (_, o) => k`acc += x0[${plus(k`dyAt`, off + o * plane)}] * x1[${plus(k`wAt`, wOff + o * filter)}];`),
          '\n      ',
        )
      : k`for (let o = 0; o < ${Og}; o++) {
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
  return k`${head}
  ${intLet(true, k`dyAt`, plusGroup(k`n * ${O * plane} + (iy + ${pt}) * ${oW} + ix + ${pl}`, firstOut, plane))}
  ${intLet(true, k`wAt`, plusGroup(k`${cw} * ${kH * kW}`, firstOut, filter))}
  let acc = 0.0;
  ${join(rows, '\n  ')}
  return acc;`;
}

/**
 * The spelled-out kernel on the lane axis with no border test on the input
 * column (a full-padding dy, see rewrites.ts): per output channel o, the
 * filter's taps are spelled out, each a read of dy at
 * `dyO + this.thread.x + offset` (one vector load for four input columns in
 * gpu.js's SIMD body) and of w (uniform). No column test can fail here
 * (laneTapsApply checked), so none is emitted; row tests are uniform. The
 * loop over o keeps the body small: it measured faster than the loop over o
 * inside each tap, and than all O x kH x kW products spelled out (a body too
 * big for the instruction cache; bench/README.md has the figures).
 */
function inputGradientLaneTaps(out: Shape, dy: Shape, w: Shape, pt: number, pl: number, groups: number, grid: Grid | null): Src {
  const [, , H] = out;
  const [, O, oH, oW] = dy;
  const [, Cg, kH, kW] = w;
  // output channel o of the cell's group, o < Og
  const { head, Og, cw, firstOut } = inputGradientThread(out, w, groups, true, grid);
  const oOf = firstOut === null ? k`o` : k`(${firstOut} + o)`;
  const rows: Src[] = [];
  for (let ky = 0; ky < kH; ky++) {
    const cols: Src[] = [];
    for (let kx = 0; kx < kW; kx++) {
      cols.push(k`acc += x0[${plus(k`dyO + ${laneTerm(1)}`, -(ky * oW + kx))}] * x1[${plus(k`wO`, ky * kW + kx)}];`);
    }
    rows.push(guarded(stepRangeTest(k`iy`, 1, pt - ky, oH, H), join(cols, '\n    ')));
  }
  return k`${head}
  let acc = 0.0;
  for (let o = 0; o < ${Og}; o++) {
    ${intLet(true, k`dyO`, k`(n * ${O} + ${oOf}) * ${oH * oW} + (iy + ${pt}) * ${oW} + ${pl}`)}
    ${intLet(true, k`wO`, k`(${oOf} * ${Cg} + ${cw}) * ${kH * kW}`)}
    ${join(rows, '\n    ')}
  }
  return acc;`;
}

/**
 * conv2dBackpropFilter: the portable template's sums, with the filter column
 * kx on the lane axis: on a thread grid kx is this.thread.x, and the x reads
 * are spelled `xRow + this.thread.x * dw + offset` (xPlane without kx), one
 * vector load for four taps; the dy reads are uniform.
 */
export function conv2dBackpropFilterWasm(ctx: KernelContext<'conv2dBackpropFilter'>): Src | KernelStages {
  if (outputChannelLanesApply(ctx)) return filterGradientOutputLanes(ctx);
  return conv2dBackpropFilterSource(ctx, (shape, grid) => (onLaneAxis(shape, true, grid) ? laneTerm(ctx.attrs.dilation[1]) : null));
}

/**
 * Whether filterGradientOutputLanes applies: integer indexing, no groups, no
 * padding (rewrites.ts pads x first), a filter row narrower than a quad
 * (kW < 4: 1×1 and 3×3 filters) and output channels in whole quads (O a
 * multiple of 4). At kW = 5 (LeNet-5's conv2, [16, 6, 5, 5] from batch 64)
 * the two forms measured the same (4.7 and 5.0 ms, medians of three
 * alternating runs of 150 steps), so 5-wide rows keep the kx lanes.
 */
function outputChannelLanesApply({ inputs: [, dy], attrs, ints, out }: KernelContext<'conv2dBackpropFilter'>): boolean {
  const [, O] = dy;
  return ints && attrs.groups === 1 && attrs.pads.every((p) => p === 0) && O % 4 === 0 && out[3] < 4;
}

/**
 * The filter gradient with the output channel o on the lane axis: stage 1
 * runs on the grid of [parts, kH, kW, C, O], so this.thread.x is o, and each
 * thread sums x[n, c, iy, ix] · dy[n, o, oy, ox] over its part of the batch.
 * The x reads are the same for the four lanes (one load, broadcast), the dy
 * reads are spelled `dyRow + this.thread.x * oH·oW + ox` (four loads at
 * literal offsets, no gather), and the products run four lanes wide. Stage 2
 * adds the parts and writes the [O, C, kH, kW] layout. The parts of the batch
 * and the unrolled rows are the portable kernel's. With the tap column kx
 * on the lane axis instead (conv2dBackpropFilterSource's wasm spelling), a
 * 3- or 5-wide filter row never fills a quad and the kernel runs scalar.
 */
function filterGradientOutputLanes({ inputs: [x, dy], attrs }: KernelContext<'conv2dBackpropFilter'>): KernelStages {
  const [N, C, H, W] = x;
  const [, O, oH, oW] = dy;
  const [kH, kW] = [attrs.filterShape[2], attrs.filterShape[3]];
  const [sh, sw] = attrs.stride;
  const [dh, dw] = attrs.dilation;
  const taps = O * C * kH * kW;
  const { parts, perPart } = batchParts(N, taps);
  const plane = oH * oW;
  const partialShape = [parts, kH, kW, C, O];
  const grid = gridOf(partialShape);
  const row: Src[] = [];
  for (let ox = 0; ox < oW; ox++) row.push(k`acc += x0[${plus(k`xRow`, ox * sw)}] * x1[dyRow + ${laneTerm(plane)} + ${ox}];`);
  const columns =
    oW <= FILTER_ROW_UNROLL
      ? join(row, '\n      ')
      : k`for (let ox = 0; ox < ${oW}; ox++) {
        acc += x0[xRow + ox * ${sw}] * x1[dyRow + ${laneTerm(plane)} + ox];
      }`;
  return {
    stages: [
      {
        size: parts * taps,
        grid,
        body: k`${decode(k`i`, partialShape, [k`part`, k`ky`, k`kx`, k`c`, k`o`], true, grid)}
  let acc = 0.0;
  for (let t = 0; t < ${perPart}; t++) {
    ${intLet(true, k`n`, k`part * ${perPart} + t`)}
    ${guarded(
      parts * perPart > N ? k`n < ${N}` : null,
      k`${intLet(true, k`xPlane`, k`(n * ${C} + c) * ${H * W} + ky * ${dh * W} + kx * ${dw}`)}
    ${intLet(true, k`dyPlane`, k`n * ${O * plane}`)}
    for (let oy = 0; oy < ${oH}; oy++) {
      ${intLet(true, k`xRow`, k`xPlane + oy * ${sh * W}`)}
      ${intLet(true, k`dyRow`, k`dyPlane + oy * ${oW}`)}
      ${columns}
    }`,
    )}
  }
  return acc;`,
      },
      {
        size: taps,
        body: k`${decode(k`i`, [O, C, kH, kW], [k`o`, k`c`, k`ky`, k`kx`], true)}
  ${intLet(true, k`at`, k`((ky * ${kW} + kx) * ${C} + c) * ${O} + o`)}
  let acc = 0.0;
  for (let part = 0; part < ${parts}; part++) {
    acc += x2[part * ${taps} + at];
  }
  return acc;`,
      },
    ],
  };
}

// conv2dMaxPool (made by rewrites.ts only where blockedKernelApplies).

/** conv2dMaxPool: the blocked kernel where it applies. */
export function conv2dMaxPoolWasm(ctx: KernelContext<'conv2dMaxPool'>): Src | null {
  const { inputs, attrs } = ctx;
  return blockedKernelApplies(attrs.conv, attrs.pool, inputs[1]) ? conv2dMaxPoolBlocked(ctx) : null;
}

/** Largest filter and window the blocked kernel spells out. */
const MAX_TAPS = 49;
const MAX_WINDOW = 9;

/**
 * Whether the blocked kernel applies: a stride-1, undilated, unpadded
 * convolution and a pool whose windows tile its output (stride = size, no
 * padding, no dilation, no ceil rounding), small enough to spell out. The
 * rewrite fuses only these.
 */
export function blockedKernelApplies(conv: Conv2dMaxPoolAttrs['conv'], pool: Conv2dMaxPoolAttrs['pool'], filter: Shape): boolean {
  const [, , kH, kW] = filter;
  const zeros = (p: readonly number[]) => p.every((v) => v === 0);
  return (
    unitSteps(conv) &&
    zeros(conv.pads) &&
    pool.stride[0] === pool.size[0] &&
    pool.stride[1] === pool.size[1] &&
    zeros(pool.pads) &&
    (pool.dilation ?? [1, 1]).every((d) => d === 1) &&
    zeros(pool.ceilPads ?? [0, 0]) &&
    kH * kW <= MAX_TAPS &&
    pool.size[0] * pool.size[1] <= MAX_WINDOW
  );
}

/**
 * Integer indexing, the geometry blockedKernelApplies accepts: per input
 * channel the filter goes into locals, then each input value of the
 * window's receptive field is loaded once and added into every accumulator
 * (one per window cell) it reaches. On a thread grid px is this.thread.x
 * and each input read is spelled `xb + this.thread.x * pw + offset` with xb
 * free of px: gpu.js's SIMD body then loads it for four pooled outputs at
 * once (two vector loads and a shuffle for pw = 2) instead of gathering.
 */
function conv2dMaxPoolBlocked({ inputs: [x, w], attrs, out, grid }: KernelContext<'conv2dMaxPool'>): Src {
  const [, C, H, W] = x;
  const [, Cg, kH, kW] = w;
  const { head, inputChannel } = convOutputThread(out, attrs.conv.groups, Cg, [k`n`, k`o`, k`py`, k`px`], true, grid);
  const [ph, pw] = attrs.pool.size;
  const cells = ph * pw;
  const lanes = onLaneAxis(out, true, grid);
  const acc = (dy: number, dx: number) => k`a${dy * pw + dx}`;
  const body: Src[] = [];
  for (let t = 0; t < kH * kW; t++) body.push(k`const w${t} = x1[wb + ${t}];`);
  for (let r = 0; r < ph + kH - 1; r++) {
    for (let q = 0; q < pw + kW - 1; q++) {
      const uses: Src[] = [];
      for (let dy = 0; dy < ph; dy++) {
        for (let dx = 0; dx < pw; dx++) {
          const [ky, kx] = [r - dy, q - dx];
          if (ky >= 0 && ky < kH && kx >= 0 && kx < kW) uses.push(k`${acc(dy, dx)} += v * w${ky * kW + kx};`);
        }
      }
      body.push(k`v = x0[${lanes ? k`xb + ${laneTerm(pw)}` : k`xb`} + ${r * W + q}];`, ...uses);
    }
  }
  const start = attrs.conv.hasBias ? k`x2[o]` : k`0.0`;
  const inits = Array.from({ length: cells }, (_, j) => k`let a${j} = ${start};`);
  // wasm's f32.max (and f32x4.max) returns NaN when either operand is NaN:
  // the NaN rule of max pooling (src/ops/reduce.ts), with no branch; the
  // fused relu's Math.max below keeps a NaN the same way.
  const best = Array.from({ length: cells - 1 }, (_, j) => k`best = Math.max(best, a${j + 1});`);
  return k`${head}
  ${join(inits, '\n  ')}
  let v = 0.0;
  for (let c = 0; c < ${Cg}; c++) {
    ${intLet(true, k`xb`, k`(n * ${C} + ${inputChannel(k`c`)}) * ${H * W} + py * ${ph * W}${lanes ? k`` : k` + px * ${pw}`}`)}
    ${intLet(true, k`wb`, k`(o * ${Cg} + c) * ${kH * kW}`)}
    ${join(body, '\n    ')}
  }
  let best = a0;
  ${join(best, '\n  ')}
  return ${attrs.conv.relu ? k`Math.max(best, 0.0)` : k`best`};`;
}
