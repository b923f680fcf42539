/**
 * maxPool2d(conv2d(x, w, b)) as one op (with the convolution's relu, when it
 * has one): made only by compile's rewrite for the wasm backends
 * (backend/gpujs/wasm/rewrites.ts) where nothing else reads the convolution, which is an
 * inference graph's usual shape. Not a public builder.
 *
 * Why: one thread per pooled output computes the whole window of
 * convolution outputs, so each input value and each filter tap it loads
 * serves several products. A thread of a plain convolution computes one
 * output, so every product loads both operands. For a 2x2 pool over a 5x5
 * filter that is 36 input and 25 filter loads for 100 products instead of
 * 200 loads (the wasm backends' blocked kernel, backend/gpujs/wasm/kernels/conv.ts;
 * bench/README.md has what it saves).
 *
 * Inputs (x, w[, b]) as conv2d's; attrs: the convolution's (groups
 * included: each output channel reads its group's input channels, as in
 * conv2d) and the pool's, dilation and ceilPads included (the portable
 * kernel below computes any pool; the rewrite fuses only undilated,
 * floor-rounded pools, the ones the wasm blocked kernel spells out).
 */
import { describeValue } from '../graph/error.js';
import type { Shape, Tensor } from '../graph/tensor.js';
import type { Conv2dMaxPoolAttrs } from './attrs.js';
import { conv2dJvp, conv2dOp, conv2dShape, conv2dVjp } from './conv2d.js';
import { maxPool2dSelect } from './maxPool2dSelect.js';
import { broadcastTo } from './broadcastTo.js';
import { sameShape } from '../graph/shape.js';
import { maxPool2dOp } from './maxPool2d.js';
import { maxPool2dBackward } from './maxPool2dBackward.js';
import { type KernelContext, makeNode, type NDArray, opError, type OpDef } from './op.js';
import { convOutputThread } from './convGeometry.js';
import { pool2dShape } from './pool2dGeometry.js';
import { takesFirstMaxSource } from './reduce.js';
import { reluSource } from './relu.js';
import { intLet, k, type Src } from '../kernel/source.js';

const OP = 'conv2dMaxPool';

function convShapeOf(inputs: readonly Shape[], attrs: Conv2dMaxPoolAttrs): Shape {
  return conv2dShape(inputs, attrs.conv);
}

function conv2dMaxPoolShape(inputs: readonly Shape[], attrs: Conv2dMaxPoolAttrs): Shape {
  for (const part of ['conv', 'pool'] as const) {
    const v: unknown = attrs[part];
    if (typeof v !== 'object' || v === null) opError(OP, `attrs.${part} must be an object, got ${describeValue(v)}`, `${part} ${describeValue(v)}`, `the ${part === 'conv' ? 'convolution' : 'pooling'}'s attributes`);
  }
  return pool2dShape(OP, convShapeOf(inputs, attrs), attrs.pool);
}

// The VJP of the unfused expression: recompute the convolution (a conv2d
// node, its relu included), send g back through the pool, then through the
// convolution.
function conv2dMaxPoolVjp(g: Tensor, node: Tensor<'conv2dMaxPool'>): readonly (Tensor | null)[] {
  const z = makeNode(conv2dOp, node.inputs, node.attrs.conv);
  return conv2dVjp(maxPool2dBackward(z, g, node.attrs.pool), z);
}

// Forwards: the convolution's tangent (its relu included), read at each
// window's first maximum of the convolution, as maxPool2d's JVP reads it.
function conv2dMaxPoolJvp(tangents: readonly (Tensor | null)[], node: Tensor<'conv2dMaxPool'>): Tensor | null {
  const z = makeNode(conv2dOp, node.inputs, node.attrs.conv);
  const dz = conv2dJvp(tangents, z);
  // Along the bias alone dz is [1, O, 1, 1]; the selection reads a full tensor.
  return dz && maxPool2dSelect(z, sameShape(dz.shape, z.shape) ? dz : broadcastTo(dz, z.shape), node.attrs.pool);
}

function conv2dMaxPoolReference(inputs: readonly NDArray[], attrs: Conv2dMaxPoolAttrs, outShape: Shape): Float64Array {
  const convShape = convShapeOf(
    inputs.map((a) => a.shape),
    attrs,
  );
  const z = conv2dOp.reference(inputs, attrs.conv, convShape);
  return maxPool2dOp.reference([{ shape: convShape, data: z }], attrs.pool, outShape);
}

/**
 * Any geometry, any backend: each pooled output computes the convolution at
 * every window tap inside the convolution's output (the pool's padding and
 * ceil rows skipped; taps dilation cells apart) and keeps the first
 * maximum's value (NaN where the window holds one: ops/reduce.ts). Every
 * window has a tap inside (pool2dShape checked), so `seen` is always set.
 */
function conv2dMaxPoolKernel({ inputs, attrs, out, ints, grid }: KernelContext<'conv2dMaxPool'>): Src {
  const [x, w] = inputs;
  const [, C, H, W] = x;
  const [, Cg, kH, kW] = w;
  const { head, inputChannel } = convOutputThread(out, attrs.conv.groups, Cg, [k`n`, k`o`, k`py`, k`px`], ints, grid);
  const { stride: [sh, sw], dilation: [dh, dw], pads: [pt, , pl] } = attrs.conv;
  const { size: [ph, pw], stride: [psh, psw], pads: [ppt, , ppl] } = attrs.pool;
  const [pdh, pdw] = attrs.pool.dilation ?? [1, 1];
  const [oH, oW] = convShapeOf(inputs, attrs).slice(2);
  return k`${head}
  let best = 0.0;
  let seen = 0.0;
  for (let ty = 0; ty < ${ph}; ty++) {
    ${intLet(ints, k`oy`, k`py * ${psh} - ${ppt} + ${pdh === 1 ? k`ty` : k`ty * ${pdh}`}`)}
    for (let tx = 0; tx < ${pw}; tx++) {
      ${intLet(ints, k`ox`, k`px * ${psw} - ${ppl} + ${pdw === 1 ? k`tx` : k`tx * ${pdw}`}`)}
      if (oy >= 0 && oy < ${oH} && ox >= 0 && ox < ${oW}) {
        let acc = ${attrs.conv.hasBias ? k`x2[o]` : k`0.0`};
        for (let c = 0; c < ${Cg}; c++) {
          for (let ky = 0; ky < ${kH}; ky++) {
            ${intLet(ints, k`iy`, k`oy * ${sh} - ${pt} + ky * ${dh}`)}
            if (iy >= 0 && iy < ${H}) {
              for (let kx = 0; kx < ${kW}; kx++) {
                ${intLet(ints, k`ix`, k`ox * ${sw} - ${pl} + kx * ${dw}`)}
                if (ix >= 0 && ix < ${W}) {
                  acc += x0[((n * ${C} + ${inputChannel(k`c`)}) * ${H} + iy) * ${W} + ix] * x1[((o * ${Cg} + c) * ${kH} + ky) * ${kW} + kx];
                }
              }
            }
          }
        }
        if (seen < 0.5 || ${takesFirstMaxSource(k`acc`, k`best`)}) {
          best = acc;
          seen = 1.0;
        }
      }
    }
  }
  return ${attrs.conv.relu ? reluSource(k`best`) : k`best`};`;
}

export const conv2dMaxPoolOp: OpDef<'conv2dMaxPool'> = {
  name: OP,
  shape: conv2dMaxPoolShape,
  vjp: conv2dMaxPoolVjp,
  jvp: conv2dMaxPoolJvp,
  reference: conv2dMaxPoolReference,
  kernel: conv2dMaxPoolKernel,
};

/** The fused node for maxPool2d(conv) (see backend/gpujs/wasm/rewrites.ts); `conv` is a conv2d node. */
export function conv2dMaxPool(conv: Tensor<'conv2d'>, pool: Conv2dMaxPoolAttrs['pool']): Tensor<'conv2dMaxPool'> {
  return makeNode(conv2dMaxPoolOp, conv.inputs, { conv: conv.attrs, pool });
}
