/**
 * maxPool2d(conv2d(x, w, b)) as one op (with the convolution's relu, when it
 * has one): made only by compile's rewrite for the wasm backends
 * (backend/fuse.ts) where nothing else reads the convolution, which is an
 * inference graph's usual shape. Not a public builder.
 *
 * Why: one thread per pooled output computes the whole window of
 * convolution outputs, so each input value and each filter tap it loads
 * serves several products. A thread of a plain convolution computes one
 * output, so every product loads both operands. For a 2x2 pool over a 5x5
 * filter that is 36 input and 25 filter loads for 100 products instead of
 * 200 loads: LeNet-5's conv layers with their pools run ~1.7x faster.
 *
 * Inputs (x, w[, b]) as conv2d's; attrs: the convolution's and the pool's.
 */
import type { Shape, Tensor } from '../graph/tensor.js';
import type { Conv2dMaxPoolAttrs } from './attrs.js';
import { conv2dOp, conv2dShape, conv2dVjp, unitSteps } from './conv2d.js';
import { maxPool2dOp, pool2dShape } from './maxPool2d.js';
import { maxPool2dBackward } from './maxPool2dBackward.js';
import { type KernelContext, makeNode, type NDArray, type OpDef } from './op.js';
import { decode, intLet, join, k, laneTerm, onLaneAxis, type Src } from '../backend/gpujs/source.js';

const OP = 'conv2dMaxPool';

function convShapeOf(inputs: readonly Shape[], attrs: Conv2dMaxPoolAttrs): Shape {
  return conv2dShape(inputs, attrs.conv);
}

/** Largest filter and window the blocked kernel spells out. */
const MAX_TAPS = 49;
const MAX_WINDOW = 9;

/**
 * Whether the blocked kernel applies: a stride-1, undilated, unpadded
 * convolution and a pool whose windows tile its output (stride = size, no
 * padding), small enough to spell out. The rewrite fuses only these.
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
    kH * kW <= MAX_TAPS &&
    pool.size[0] * pool.size[1] <= MAX_WINDOW
  );
}

function reference(inputs: readonly NDArray[], attrs: Conv2dMaxPoolAttrs, outShape: Shape): Float64Array {
  const convShape = convShapeOf(
    inputs.map((a) => a.shape),
    attrs,
  );
  const z = conv2dOp.reference(inputs, attrs.conv, convShape);
  return maxPool2dOp.reference([{ shape: convShape, data: z }], attrs.pool, outShape);
}

// The VJP of the unfused expression: recompute the convolution (a conv2d
// node, its relu included), send g back through the pool, then through the
// convolution.
function vjp(g: Tensor, node: Tensor<'conv2dMaxPool'>): readonly (Tensor | null)[] {
  const z = makeNode(conv2dOp, node.inputs, node.attrs.conv);
  return conv2dVjp(maxPool2dBackward(z, g, node.attrs.pool), z);
}

function kernel(ctx: KernelContext<'conv2dMaxPool'>): Src {
  const { inputs, attrs } = ctx;
  if (ctx.ints && blockedKernelApplies(attrs.conv, attrs.pool, inputs[1])) return blockedKernel(ctx);
  return generalKernel(ctx);
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
function blockedKernel({ inputs: [x, w], attrs, out, grid }: KernelContext<'conv2dMaxPool'>): Src {
  const [, C, H, W] = x;
  const [, , kH, kW] = w;
  const [N, O, pH, pW] = out;
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
  const best = Array.from({ length: cells - 1 }, (_, j) => k`if (a${j + 1} > best) {
    best = a${j + 1};
  }`);
  return k`${decode(k`i`, [N, O, pH, pW], [k`n`, k`o`, k`py`, k`px`], true, grid)}
  ${join(inits, '\n  ')}
  let v = 0.0;
  for (let c = 0; c < ${C}; c++) {
    ${intLet(true, k`xb`, k`(n * ${C} + c) * ${H * W} + py * ${ph * W}${lanes ? k`` : k` + px * ${pw}`}`)}
    ${intLet(true, k`wb`, k`(o * ${C} + c) * ${kH * kW}`)}
    ${join(body, '\n    ')}
  }
  let best = a0;
  ${join(best, '\n  ')}
  return ${attrs.conv.relu ? k`Math.max(best, 0.0)` : k`best`};`;
}

/**
 * Any geometry, any backend: each pooled output computes the convolution at
 * every window cell inside the convolution's output (the pool's padding
 * skipped) and keeps the first maximum's value.
 */
function generalKernel({ inputs, attrs, out, ints, grid }: KernelContext<'conv2dMaxPool'>): Src {
  const [x, w] = inputs;
  const [, C, H, W] = x;
  const [, , kH, kW] = w;
  const [N, O, pH, pW] = out;
  const { stride: [sh, sw], dilation: [dh, dw], pads: [pt, , pl] } = attrs.conv;
  const { size: [ph, pw], stride: [psh, psw], pads: [ppt, , ppl] } = attrs.pool;
  const [oH, oW] = convShapeOf(inputs, attrs).slice(2);
  return k`${decode(k`i`, [N, O, pH, pW], [k`n`, k`o`, k`py`, k`px`], ints, grid)}
  let best = 0.0;
  let seen = 0.0;
  for (let ty = 0; ty < ${ph}; ty++) {
    ${intLet(ints, k`oy`, k`py * ${psh} - ${ppt} + ty`)}
    for (let tx = 0; tx < ${pw}; tx++) {
      ${intLet(ints, k`ox`, k`px * ${psw} - ${ppl} + tx`)}
      if (oy >= 0 && oy < ${oH} && ox >= 0 && ox < ${oW}) {
        let acc = ${attrs.conv.hasBias ? k`x2[o]` : k`0.0`};
        for (let c = 0; c < ${C}; c++) {
          for (let ky = 0; ky < ${kH}; ky++) {
            ${intLet(ints, k`iy`, k`oy * ${sh} - ${pt} + ky * ${dh}`)}
            if (iy >= 0 && iy < ${H}) {
              for (let kx = 0; kx < ${kW}; kx++) {
                ${intLet(ints, k`ix`, k`ox * ${sw} - ${pl} + kx * ${dw}`)}
                if (ix >= 0 && ix < ${W}) {
                  acc += x0[((n * ${C} + c) * ${H} + iy) * ${W} + ix] * x1[((o * ${C} + c) * ${kH} + ky) * ${kW} + kx];
                }
              }
            }
          }
        }
        if (seen < 0.5 || acc > best) {
          best = acc;
          seen = 1.0;
        }
      }
    }
  }
  return ${attrs.conv.relu ? k`Math.max(best, 0.0)` : k`best`};`;
}

export const conv2dMaxPoolOp: OpDef<'conv2dMaxPool'> = {
  name: OP,
  shape: (inputs, attrs) => pool2dShape(OP, convShapeOf(inputs, attrs), attrs.pool),
  vjp,
  reference,
  kernel,
};

/** The fused node for maxPool2d(conv) (see backend/fuse.ts); `conv` is a conv2d node. */
export function conv2dMaxPool(conv: Tensor<'conv2d'>, pool: Conv2dMaxPoolAttrs['pool']): Tensor<'conv2dMaxPool'> {
  return makeNode(conv2dMaxPoolOp, conv.inputs, { conv: conv.attrs, pool });
}
