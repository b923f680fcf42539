/**
 * Mean pooling over 2-D windows of an NCHW tensor: each output cell is the
 * mean of its `size` window of one channel (the lecture's mean pooling,
 * section 7: 2x2 windows at stride 2 on [[1,1,2,4],[5,6,7,8],[3,2,1,0],[1,2,3,4]]
 * give 3.25, 5.25, 2, 2). Windows move by `stride` and may overlap.
 *
 * The mean at a padded border. Padded cells are zeros, and the question is
 * what to divide by:
 * - `countIncludePad: false` (the default, TensorFlow's rule): the number of
 *   the window's cells that lie inside the input. Padding then does not bias
 *   the border means towards zero: a constant map pools to the same constant.
 * - `countIncludePad: true` (PyTorch's default): the whole window, kH * kW,
 *   padded zeros included.
 * Without padding both rules agree. Each padding must be smaller than the
 * window, so every window holds at least one input cell and no divisor is 0.
 *
 * Dilation (`dilation`: taps d cells apart) and ceil rounding (`ceil`): the
 * mean is over the window's taps, counted as above (the taps inside the
 * input, or with countIncludePad the taps inside the input or the user's
 * padding). The rows and columns ceil rounding adds past the padding are
 * never counted, even with countIncludePad: PyTorch's AvgPool2d(ceil_mode,
 * count_include_pad) divides by the window clipped to the padded input too.
 * (PyTorch's AvgPool2d has no dilation; with dilation 1 the rules are its.)
 */
import type { Tensor } from '../graph/tensor.js';
import { avgPool2dBackward } from './avgPool2dBackward.js';
import { decodeWindow, POOL2D_OPTION_KEYS, pool2dAttrs, pool2dShape, poolAttrsOf, poolGeometry, windowCountSource, windowSpans, type Pool2dOptions } from './pool2dGeometry.js';
import { k } from '../kernel/source.js';
import { checkBoolean, checkInputCount, makeNode, type OpDef } from './op.js';

// y = A x with A[o, i] = 1 / count(o) when window o has a tap on cell i, else 0.
// y is linear in x, so the VJP is A^T g: each input cell gathers g / count(o)
// over the windows o that cover it, which is avgPool2dBackward(g).
export const avgPool2dOp: OpDef<'avgPool2d'> = {
  name: 'avgPool2d',
  shape: (inputs, attrs) => {
    checkInputCount('avgPool2d', inputs, 1, 'x');
    checkBoolean('avgPool2d', 'countIncludePad', attrs.countIncludePad);
    return pool2dShape('avgPool2d', inputs[0], attrs);
  },
  vjp: (g, { inputs: [x], attrs }) => [avgPool2dBackward(g, { ...poolAttrsOf(attrs), countIncludePad: attrs.countIncludePad, inputShape: x.shape })],
  jvp: ([t], { attrs }) => makeNode(avgPool2dOp, [t!], attrs), // linear: the tangent pooled alike
  reference: ([x], attrs) => {
    const g = poolGeometry(x.shape, attrs);
    const { r0, r1, c0, c1, rowsIn, colsIn, rowsPadded, colsPadded } = windowSpans(g);
    const xd = x.data;
    const out = new Float64Array(g.planes * g.ho * g.wo);
    const plane = g.h * g.w;
    let o = 0;
    for (let p = 0; p < g.planes; p++) {
      const base = p * plane;
      for (let oy = 0; oy < g.ho; oy++) {
        for (let ox = 0; ox < g.wo; ox++) {
          let s = 0;
          for (let i = r0[oy]; i < r1[oy]; i += g.dh) {
            const row = base + i * g.w;
            for (let j = c0[ox]; j < c1[ox]; j += g.dw) s += xd[row + j];
          }
          out[o++] = s / (attrs.countIncludePad ? rowsPadded[oy] * colsPadded[ox] : rowsIn[oy] * colsIn[ox]);
        }
      }
    }
    return out;
  },
  kernel: ({ inputs: [x], attrs, ints, grid }) => {
    const g = poolGeometry(x, attrs);
    return k`${decodeWindow(g, ints, grid)}
  let s = 0.0;
  for (let ky = 0; ky < ${g.kh}; ky++) {
    const iy = oy * ${g.sh} - ${g.pt} + ${g.dh === 1 ? k`ky` : k`ky * ${g.dh}`};
    for (let kx = 0; kx < ${g.kw}; kx++) {
      const ix = ox * ${g.sw} - ${g.pl} + ${g.dw === 1 ? k`kx` : k`kx * ${g.dw}`};
      if (iy >= 0 && iy < ${g.h} && ix >= 0 && ix < ${g.w}) {
        s += x0[p * ${g.h * g.w} + iy * ${g.w} + ix];
      }
    }
  }
  return s / ${windowCountSource(g, attrs.countIncludePad, k`oy`, k`ox`)};`;
  },
};

/** Options of `avgPool2d`: those of `maxPool2d` and the divisor rule at padded borders. */
export interface AvgPool2dOptions extends Pool2dOptions {
  /**
   * false (the default, TensorFlow): a window's mean divides by its cells inside
   * the input; true (PyTorch's default): by the whole window, padded zeros
   * included, except the cells `ceil` rounding adds past the padding (never
   * counted, as in PyTorch).
   */
  countIncludePad?: boolean;
}

/**
 * Mean pooling of `x` `[N, C, H, W]` over `size` windows; the result is
 * `[N, C, Ho, Wo]` with Ho = floor((H + padTop + padBottom - span) / strideH) + 1,
 * span = dilationH * (sizeH - 1) + 1 (rounded up with `ceil: true`, as maxPool2d).
 * Padded cells are zeros; by default the mean divides by the number of the
 * window's cells inside the input (TensorFlow), with `countIncludePad: true`
 * by the full window (PyTorch), less the cells ceil rounding adds past the
 * padding, which are never counted.
 *
 * ```ts
 * const q = avgPool2d(y, { size: 3, stride: 1, padding: 'same' });   // border means over the cells inside
 * const r = avgPool2d(y, { size: 3, stride: 1, padding: 1, countIncludePad: true });  // always / 9
 * const c = avgPool2d(y, { size: 2, ceil: true, countIncludePad: true });  // a last half window divides by 2
 * ```
 */
export function avgPool2d(x: Tensor, options: AvgPool2dOptions): Tensor<'avgPool2d'> {
  const attrs = pool2dAttrs('avgPool2d', x, options, [...POOL2D_OPTION_KEYS, 'countIncludePad']);
  const countIncludePad = checkBoolean('avgPool2d', 'countIncludePad', options.countIncludePad ?? false);
  return makeNode(avgPool2dOp, [x], { ...attrs, countIncludePad });
}
