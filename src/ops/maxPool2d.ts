/**
 * Max pooling over 2-D windows of an NCHW tensor: each output cell is the
 * largest value in its `size` window of one channel (the lecture's complex
 * cell / C-plane, section 7). Windows move by `stride` and may overlap
 * (AlexNet's 3x3 windows at stride 2).
 *
 * Padding follows conv2d ('valid' | 'same' | number | [ph, pw]), but a padded
 * cell is -infinity for max pooling: it is never selected, so the output is
 * always a value of the input. Each padding must be smaller than the window
 * (`padding < size`), which guarantees that every window holds at least one
 * cell of the input.
 *
 * Dilation spaces the window's taps `dilation` cells apart (PyTorch's
 * MaxPool2d(dilation)); `ceil: true` rounds the output size up (PyTorch's
 * ceil_mode), the last windows then reaching past the padding into cells
 * that, like padding, are never the maximum. Padding must then be smaller
 * than the dilated window, and a geometry whose window would read only
 * padding is refused (pool2dGeometry.ts has the proof of when that can happen).
 *
 * Ties: the gradient goes to the FIRST maximum of each window, in row-major
 * window order (as PyTorch does). `maxPool2dBackward` and `maxPool2dSelect`
 * use the same rule, so forward, backward and double-backward agree.
 *
 * NaN: a NaN is larger than every number (as in TensorFlow.js and PyTorch):
 * a window holding one pools to NaN, and its gradient goes to the window's
 * first NaN (the rule: ops/reduce.ts, takesFirstMax).
 */
import type { Tensor } from '../graph/tensor.js';
import { maxPool2dBackward } from './maxPool2dBackward.js';
import { maxPool2dSelect } from './maxPool2dSelect.js';
import { checkInputCount, makeNode, type OpDef } from './op.js';
import { argmaxSource, decodeWindow, firstArgmax, pool2dAttrs, pool2dShape, type Pool2dOptions, poolGeometry } from './pool2dGeometry.js';
import { k } from '../kernel/source.js';

// y = P(x) x, where P(x) is the 0/1 matrix that picks the first argmax of each
// window. P is constant between ties, so the differential is dy = P(x) dx and
// the VJP is its transpose: P(x)^T g, g routed back to each window's first
// argmax (and summed where one cell wins several windows).
export const maxPool2dOp: OpDef<'maxPool2d'> = {
  name: 'maxPool2d',
  shape: (inputs, attrs) => {
    checkInputCount('maxPool2d', inputs, 1, 'x');
    return pool2dShape('maxPool2d', inputs[0], attrs);
  },
  vjp: (g, { inputs: [x], attrs }) => [maxPool2dBackward(x, g, attrs)],
  // Forwards: each window passes the tangent of its first maximum, P(x) dx.
  jvp: ([t], { inputs: [x], attrs }) => maxPool2dSelect(x, t!, attrs),
  reference: ([x], attrs) => {
    const arg = firstArgmax(x, attrs);
    const out = new Float64Array(arg.length);
    for (let o = 0; o < arg.length; o++) out[o] = x.data[arg[o]];
    return out;
  },
  kernel: ({ inputs: [x], attrs, ints, grid }) => {
    const g = poolGeometry(x, attrs);
    return k`${decodeWindow(g, ints, grid)}
  ${argmaxSource(g, k`p`, k`oy`, k`ox`, ints)}
  return best;`;
  },
};

/**
 * Max pooling of `x` `[N, C, H, W]` over `size` windows; the result is
 * `[N, C, Ho, Wo]` with Ho = floor((H + padTop + padBottom - span) / strideH) + 1,
 * span = dilationH * (sizeH - 1) + 1 (ceil instead of floor with `ceil: true`,
 * the last window kept only when it starts inside the input or the top
 * padding: PyTorch's output-size rule). Window (oy, ox) reads the cells
 * (oy*strideH - padTop + ky*dilationH, ox*strideW - padLeft + kx*dilationW).
 * Padded cells count as -infinity (never the maximum). The gradient of each
 * window goes to its first maximum in row-major order. A window holding a NaN
 * gives NaN, and its gradient goes to its first NaN.
 *
 * ```ts
 * const p = maxPool2d(y, { size: 2 });                 // LeNet-5: 2x2 windows, stride 2
 * const q = maxPool2d(y, { size: 3, stride: 2 });      // AlexNet: overlapping 3x3 windows
 * const r = maxPool2d(y, { size: 2, stride: 1, dilation: 2, ceil: true }); // taps two cells apart, size rounded up
 * ```
 */
export function maxPool2d(x: Tensor, options: Pool2dOptions): Tensor<'maxPool2d'> {
  return makeNode(maxPool2dOp, [x], pool2dAttrs('maxPool2d', x, options));
}
