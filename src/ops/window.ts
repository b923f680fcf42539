/**
 * Geometry shared by the 2-D window ops (convolutions and pooling): turning
 * the user's `stride` / `dilation` / `padding` options into validated integer
 * attributes, and the output size of a window sliding over a padded input.
 *
 * Along one axis, an input of size `in` padded by `before` and `after`, a
 * window of effective size `k` (a kernel of size kH dilated by dh spans
 * dh*(kH-1)+1 input cells) moving by `s`, gives
 *
 *     out = floor((in + before + after - k) / s) + 1
 *
 * positions; the last `(in + before + after - k) mod s` cells are never read
 * (the stride leftovers). Pooling can round up instead (PyTorch's
 * `ceil_mode`, {@link ceilExtra}): ceil((in + before + after - k) / s) + 1
 * positions, the last one dropped when it would start past the input, the
 * windows then reading up to s - 1 cells past the padding.
 */
import { describeValue } from '../graph/error.js';
import { type Shape, shapeToString } from '../graph/tensor.js';
import type { Pads2d, Pair } from './attrs.js';
import { opError } from './op.js';

/**
 * The `padding` option of the window ops:
 * - `'valid'`: no padding;
 * - `'same'`: out = ceil(in / stride), the total padding split evenly with the
 *   extra row/column at the end (bottom/right), TensorFlow's rule;
 * - `p`: p rows and columns on every side; `[ph, pw]`: ph rows top and bottom, pw columns left and right;
 * - `[top, bottom, left, right]`: exactly these (what the VJPs pass on).
 */
export type Padding = 'valid' | 'same' | number | readonly [number, number] | Pads2d;

function show(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return `[${v.map(show).join(',')}]`;
  if (typeof v === 'string') return JSON.stringify(v);
  return v === undefined ? 'undefined' : typeof v === 'object' ? JSON.stringify(v) ?? String(v) : String(v);
}

const isIntAtLeast = (v: unknown, min: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min;

/**
 * A `number | [h, w]` option as a validated pair of integers >= `min`, e.g.
 * `toPair('conv2d', 'stride', 2, 1)` is `[2, 2]`. Throws
 * `conv2d: stride must be an integer >= 1 or a pair [h, w] of them, got 0`.
 */
export function toPair(op: string, what: string, v: number | readonly [number, number], min: number): Pair {
  const pair = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(pair) || pair.length !== 2 || !isIntAtLeast(pair[0], min) || !isIntAtLeast(pair[1], min)) {
    const expected = `an integer >= ${min} or a pair [h, w] of them`;
    opError(op, `${what} must be ${expected}, got ${show(v)}`, `${what} ${show(v)}`, expected);
  }
  return [pair[0], pair[1]];
}

/**
 * Check a pair attribute (it reaches kernel source): an array of two integers
 * >= `min`, rows first. Unlike the option {@link toPair} resolves, a single
 * number is refused: a node holds the pair itself.
 */
export function checkPair(op: string, what: string, v: unknown, min: number): Pair {
  if (!Array.isArray(v) || v.length !== 2 || !isIntAtLeast(v[0], min) || !isIntAtLeast(v[1], min)) {
    const expected = `a pair [h, w] of integers >= ${min}`;
    opError(op, `${what} must be ${expected}, got ${show(v)}`, `${what} ${show(v)}`, expected);
  }
  return [v[0], v[1]];
}

/** The span of a kernel of size `k` with dilation `d`: d*(k-1)+1 cells. */
export function effectiveSize(k: number, d: number): number {
  return d * (k - 1) + 1;
}

/** 'same' padding along one axis (TensorFlow): out = ceil(in/s), total padding split with the odd cell at the end. */
function samePads(inSize: number, k: number, s: number): [number, number] {
  const out = Math.ceil(inSize / s);
  const total = Math.max((out - 1) * s + k - inSize, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/**
 * The explicit zero padding `[top, bottom, left, right]` for a `padding`
 * option, given the input's spatial size, the effective (dilation applied)
 * kernel size and the stride.
 */
export function resolvePads(op: string, padding: Padding, inHW: Pair, kernelHW: Pair, stride: Pair): Pads2d {
  if (padding === 'valid') return [0, 0, 0, 0];
  if (padding === 'same') {
    const [t, b] = samePads(inHW[0], kernelHW[0], stride[0]);
    const [l, r] = samePads(inHW[1], kernelHW[1], stride[1]);
    return [t, b, l, r];
  }
  const expected = `'valid', 'same', an integer >= 0, a pair [ph, pw] or [top, bottom, left, right] of them`;
  const bad = (): never => opError(op, `padding must be ${expected}, got ${show(padding)}`, `padding ${show(padding)}`, expected);
  if (typeof padding === 'number') return isIntAtLeast(padding, 0) ? [padding, padding, padding, padding] : bad();
  if (!Array.isArray(padding) || !padding.every((p) => isIntAtLeast(p, 0))) return bad();
  if (padding.length === 2) return [padding[0], padding[0], padding[1], padding[1]];
  if (padding.length === 4) return [padding[0], padding[1], padding[2], padding[3]];
  return bad();
}

/** Check attribute pads (they reach kernel source): four integers >= 0. */
export function checkPads(op: string, pads: unknown): Pads2d {
  if (!Array.isArray(pads) || pads.length !== 4 || !pads.every((p) => isIntAtLeast(p, 0))) {
    const expected = 'four integers >= 0 [top, bottom, left, right]';
    opError(op, `pads must be ${expected}, got ${show(pads)}`, `pads ${show(pads)}`, expected);
  }
  return pads as unknown as Pads2d;
}

/**
 * Output size along one axis: floor((in + padSum - k) / s) + 1, where `k` is
 * the effective window size. Throws when the window does not fit the padded input.
 */
export function windowOutput(op: string, inSize: number, padSum: number, effectiveKernel: number, stride: number): number {
  const padded = inSize + padSum;
  if (effectiveKernel > padded) {
    opError(
      op,
      `the window of ${effectiveKernel} is larger than the padded input ${padded} (input ${inSize} plus ${padSum} padding)`,
      `a window of ${effectiveKernel} over a padded input of ${padded}`,
      `a window of at most ${padded}`,
    );
  }
  return Math.floor((padded - effectiveKernel) / stride) + 1;
}

/**
 * The cells ceil rounding of the output size adds after the padding along
 * one axis: 0 where floor and ceil agree (or where the window does not fit,
 * which windowOutput reports). PyTorch's rule (pooling_output_shape): out =
 * ceil((in + before + after - k) / s) + 1 with `k` the effective window,
 * less one when the last window would start at or past in + before, i.e. past
 * the input's last cell (a window starting there would read only padding);
 * the extra is then (out - 1) * s + k - (in + before + after), in [0, s).
 */
export function ceilExtra(inSize: number, before: number, after: number, effectiveKernel: number, stride: number): number {
  const padded = inSize + before + after;
  if (effectiveKernel > padded) return 0;
  let out = Math.ceil((padded - effectiveKernel) / stride) + 1;
  if ((out - 1) * stride >= inSize + before) out--;
  return Math.max(0, (out - 1) * stride + effectiveKernel - padded);
}

/**
 * Output height and width of a window sliding over `inHW` padded by `pads`.
 * `what` names the window for the error, e.g. `the 5x5 filter (dilated to 9x9)`
 * or `the 3x3 pooling window`: `conv2d: the 5x5 filter (dilated to 5x5) is
 * larger than the padded input 3x3 (input 3x3, pads top 0, bottom 0, left 0, right 0)`.
 */
export function windowOutput2d(op: string, what: string, inHW: Pair, pads: Pads2d, effectiveHW: Pair, stride: Pair): Pair {
  const ph = inHW[0] + pads[0] + pads[1];
  const pw = inHW[1] + pads[2] + pads[3];
  if (effectiveHW[0] > ph || effectiveHW[1] > pw) {
    opError(
      op,
      `${what} is larger than the padded input ${ph}x${pw} (input ${inHW[0]}x${inHW[1]}, ` +
        `pads top ${pads[0]}, bottom ${pads[1]}, left ${pads[2]}, right ${pads[3]}); ` +
        `use a smaller window, more padding or padding 'same'`,
      `${what} over a padded input ${ph}x${pw}`,
      `a window of at most ${ph}x${pw}`,
    );
  }
  return [
    windowOutput(op, inHW[0], pads[0] + pads[1], effectiveHW[0], stride[0]),
    windowOutput(op, inHW[1], pads[2] + pads[3], effectiveHW[1], stride[1]),
  ];
}

/**
 * `shape` must be [a, b, c, d] of positive integers; `layout` names the axes
 * for the error, e.g. `conv2d: filter must have rank 4 [O,C,kH,kW], got shape [3,5,5] (rank 3)`.
 */
export function checkRank4(op: string, what: string, shape: Shape | undefined, layout = '[N, C, H, W]'): void {
  if (!Array.isArray(shape) || shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    const got = Array.isArray(shape) ? `shape ${shapeToString(shape)}${shape.length === 4 ? '' : ` (rank ${shape.length})`}` : describeValue(shape);
    opError(op, `${what} must have rank 4 ${layout}, got ${got}`, `${what} ${got}`, `rank 4 ${layout} of positive integers`);
  }
}
