/**
 * Local response normalisation across channels (Krizhevsky, Sutskever and
 * Hinton 2012, section 3.3), a builder made of existing ops (no op of its own):
 *
 *   b_c = a_c / (k + (alpha / size) Σ_{c' = c − ⌊size/2⌋}^{c + ⌊(size−1)/2⌋} a_{c'}²)^beta
 *
 * at every position of every image, for an input [N, C, ...] (channels on
 * axis 1), the sum running over channels that exist: the channel axis is
 * padded with zeros at both ends.
 *
 * The convention for alpha: Caffe's LRN layer (ACROSS_CHANNELS) and
 * PyTorch's LocalResponseNorm divide alpha by the window size, as here. The
 * AlexNet paper (and TensorFlow's local_response_normalization) write
 * `k + α Σ a²` without the division: the paper's α = 1e-4 with n = 5 is
 * alpha = 5e-4 here. The defaults are the paper's numbers (size 5,
 * alpha 1e-4, beta 0.75, k 2) read in this convention, which is PyTorch's
 * (whose default k is 1). The window is PyTorch's too: for an odd size it is
 * the paper's [c − size/2, c + size/2]; for an even size it holds one channel
 * more before c than after.
 *
 * Built as x · (k + alpha · mean_window(x²))^(−beta): the windowed mean is
 * one avgPool2d over [N, 1, C, rest] (a size × 1 window, stride 1, the
 * channel padding counted in the mean, so it is Σ / size), and the power is
 * pow with a positive base (k > 0), so every part differentiates, twice too.
 */
import { checkOptions, showValue } from '../graph/error.js';
import { type Tensor, shapeToString, sizeOf } from '../graph/tensor.js';
import { add } from './add.js';
import { avgPool2d } from './avgPool2d.js';
import { mul } from './mul.js';
import { checkTensor, opError } from './op.js';
import { MAX_EXPONENT, pow } from './pow.js';
import { reshape } from './reshape.js';

/** Options of {@link localResponseNorm}. */
export interface LocalResponseNormOptions {
  /** Channels in the window, a positive integer (default 5, the paper's n). */
  readonly size?: number;
  /** Scale of the windowed sum of squares, divided by `size` (default 1e-4), a finite number >= 0. */
  readonly alpha?: number;
  /** Exponent of the denominator (default 0.75), a finite number in [0, 2^24]. */
  readonly beta?: number;
  /** Additive constant of the denominator (default 2), a finite number > 0. */
  readonly k?: number;
}

/** {@link LocalResponseNormOptions} with every default filled in and every value checked. */
export interface LocalResponseNormParams {
  /** Channels in the window. */
  readonly size: number;
  /** Scale of the windowed sum of squares (divided by size in the formula). */
  readonly alpha: number;
  /** Exponent of the denominator. */
  readonly beta: number;
  /** Additive constant of the denominator. */
  readonly k: number;
}

const EXAMPLE = '{ size: 5, alpha: 1e-4, beta: 0.75, k: 2 }';

function checkNumber(who: string, what: string, v: unknown, ok: (v: number) => boolean, expected: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) opError(who, `${what} must be ${expected}, got ${showValue(v)}`, `${what} ${showValue(v)}`, expected);
  return v;
}

/** The options resolved (defaults filled) and checked; `who` names the caller in errors (`localResponseNorm`, `nn.localResponseNorm`). */
export function localResponseNormParams(who: string, options: LocalResponseNormOptions | undefined): LocalResponseNormParams {
  const { size = 5, alpha = 1e-4, beta = 0.75, k = 2 } = checkOptions(who, options, ['size', 'alpha', 'beta', 'k'], EXAMPLE) ?? {};
  return {
    size: checkNumber(who, 'size', size, (v) => Number.isInteger(v) && v >= 1, 'a positive integer'),
    alpha: checkNumber(who, 'alpha', alpha, (v) => v >= 0, 'a finite number >= 0'),
    beta: checkNumber(who, 'beta', beta, (v) => v >= 0 && v <= MAX_EXPONENT, `a finite number in [0, ${MAX_EXPONENT}]`),
    k: checkNumber(who, 'k', k, (v) => v > 0, 'a finite number > 0'),
  };
}

/**
 * Local response normalisation across channels, as in AlexNet: each value
 * divided by `(k + alpha/size · Σ a²)^beta`, the sum over the `size`
 * channels around it (zeros beyond the first and last channel). `x` is
 * `[N, C, ...]`, channels on axis 1; the result has its shape. Alpha is
 * divided by `size` (Caffe's and PyTorch's convention; the paper's α is
 * `alpha / size`).
 *
 * ```ts
 * const y = localResponseNorm(conv1, { size: 5, alpha: 1e-4, beta: 0.75, k: 2 });
 * ```
 */
export function localResponseNorm(x: Tensor, options: LocalResponseNormOptions = {}): Tensor {
  const who = 'localResponseNorm';
  checkTensor(who, 'x', x);
  const { size, alpha, beta, k } = localResponseNormParams(who, options);
  if (x.rank < 2) {
    opError(
      who,
      `needs an input [N, C, ...] of rank >= 2 (channels on axis 1), got shape ${shapeToString(x.shape)}`,
      `shape ${shapeToString(x.shape)}`,
      'rank >= 2 [N, C, ...]',
    );
  }
  const [n, c] = x.shape;
  // [N, C, ...] as [N, 1, C, rest]: the window runs down the rows, which are the channels.
  const squares = reshape(mul(x, x), [n, 1, c, sizeOf(x.shape.slice(2))]);
  const before = Math.floor(size / 2);
  const after = Math.floor((size - 1) / 2);
  const windowMean = avgPool2d(squares, { size: [size, 1], stride: 1, padding: [before, after, 0, 0], countIncludePad: true });
  const scale = add(mul(reshape(windowMean, x.shape), alpha), k);
  return mul(x, pow(scale, -beta));
}
