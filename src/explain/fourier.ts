/**
 * The Fourier parameterisation of an image (Olah et al. 2017, "Feature
 * Visualization", Lucid's `fft_image`): instead of its pixels, optimise the
 * coefficients of its 2-D real spectrum, each scaled by 1/frequency, so
 * that a step of the same size moves every frequency by about the same
 * amount of energy in the image, and the high frequencies that plain pixel
 * ascent fills with noise start small (a decorrelated, "whitened" space:
 * natural images have roughly a 1/f amplitude spectrum).
 *
 * For an `h × w` plane the half spectrum has `h × cols` complex
 * coefficients, cols = ⌊w/2⌋ + 1 (the other half is its complex conjugate,
 * since the image is real), row ky at frequency fy = fftfreq(h)[ky] (ky/h,
 * or (ky − h)/h past the middle), column kx at fx = kx/w. Coefficient
 * X = a + ib (a, b optimised) is scaled by
 *
 * ```
 * s(ky, kx) = √(h·w) / max(√(fx² + fy²), 1/max(h, w))^decay        (decay 1 by default)
 * ```
 *
 * and the image is the inverse real DFT of the scaled spectrum, divided by
 * 4 (Lucid's constant), as numpy's `irfft2(S, s=(h, w)) / 4`:
 *
 * ```
 * u[n, m] = 1/(4hw) Σ_ky Σ_kx c_kx · s · (a cos θ − b sin θ),   θ = 2π(ky·n/h + kx·m/w)
 * ```
 *
 * with c_kx = 1 for kx = 0 and, for even w, kx = w/2 (their own mirror
 * images), and 2 for the others (each stands for itself and its conjugate).
 * The imaginary parts of those self-mirrored coefficients change nothing
 * in the image; their gradient is 0.
 *
 * The inverse DFT is a fixed linear map, built here from graph constants
 * and matmuls so that `grad` differentiates it (its VJP is the transposed
 * map, i.e. the forward DFT, which autodiff finds from the matmul rule):
 * separably, first along the columns (`[C·h, cols] × [cols, w]`, the cos
 * and sin bases of kx), then along the rows (`[h, h] × [C, h, w]`), so it
 * costs 2hw(cols + h)·C multiply-adds per image instead of the 2h·cols·hw·C
 * of one dense basis.
 */
import { fail } from '../graph/error.js';
import { type Tensor, shapeToString } from '../graph/tensor.js';
import { add } from '../ops/add.js';
import { constant } from '../ops/constant.js';
import { matmul } from '../ops/matmul.js';
import { mul } from '../ops/mul.js';
import { reshape } from '../ops/reshape.js';
import { slice } from '../ops/slice.js';
import { sub } from '../ops/sub.js';
import { showValue } from '../nn/spec.js';

/** Columns of the half spectrum of a plane `width` wide: ⌊width/2⌋ + 1. */
export function spectrumColumns(width: number): number {
  return Math.floor(width / 2) + 1;
}

/** numpy's `fftfreq(n)[k]`: k/n for k < ⌈n/2⌉, (k − n)/n after. */
function frequency(k: number, n: number): number {
  return k < Math.ceil(n / 2) ? k / n : (k - n) / n;
}

/**
 * |f| = √(fx² + fy²) in cycles per pixel of every coefficient of the half
 * spectrum of an `height × width` plane, `height × cols` values row-major
 * (Lucid's `rfft2d_freqs`).
 */
export function spectrumFrequencies(height: number, width: number): Float64Array {
  const cols = spectrumColumns(width);
  const out = new Float64Array(height * cols);
  for (let ky = 0; ky < height; ky++) {
    const fy = frequency(ky, height);
    for (let kx = 0; kx < cols; kx++) {
      const fx = kx / width;
      out[ky * cols + kx] = Math.sqrt(fx * fx + fy * fy);
    }
  }
  return out;
}

/**
 * The scale s of every coefficient (see the file comment), `height × cols`
 * values: √(hw) / max(|f|, 1/max(h, w))^decayPower.
 */
export function spectrumScale(height: number, width: number, decayPower = 1): Float64Array {
  if (typeof decayPower !== 'number' || !Number.isFinite(decayPower) || decayPower < 0) {
    fail('spectrumScale', `decayPower must be a finite number ≥ 0 (1: Lucid's 1/f), got ${showValue(decayPower)}`, `decayPower ${showValue(decayPower)}`, 'a finite number ≥ 0');
  }
  const f = spectrumFrequencies(height, width);
  const floor = 1 / Math.max(height, width);
  const root = Math.sqrt(height * width);
  return f.map((v) => root / Math.max(v, floor) ** decayPower);
}

/**
 * The transfer function of a Gaussian blur of standard deviation `sigma`
 * pixels, exp(−2π²σ²|f|²), for every coefficient of the half spectrum:
 * multiplying the coefficients by it blurs the (periodic) image u.
 */
export function gaussianTransfer(height: number, width: number, sigma: number): Float64Array {
  const f = spectrumFrequencies(height, width);
  const k = 2 * Math.PI * Math.PI * sigma * sigma;
  return f.map((v) => Math.exp(-k * v * v));
}

/** Lucid's constant: the image of the scaled spectrum is divided by 4. */
const LUCID_DIVISOR = 4;

/**
 * The planes u `[count, h, w]` of the spectrum `coefficients`, a tensor
 * `[2, count, h, cols]` (real parts, then imaginary parts; count = images ×
 * channels), by the scaled inverse real DFT of the file comment, built
 * from constants and matmuls (differentiable by `grad`).
 */
export function fourierPlanes(coefficients: Tensor, height: number, width: number, decayPower = 1): Tensor {
  const who = 'fourierPlanes';
  const cols = spectrumColumns(width);
  const s = coefficients.shape;
  if (s.length !== 4 || s[0] !== 2 || s[2] !== height || s[3] !== cols) {
    fail(
      who,
      `the coefficients of ${height} × ${width} planes must be shaped [2, count, ${height}, ${cols}], got ${shapeToString(s)}`,
      `coefficients ${shapeToString(s)}`,
      `[2, count, ${height}, ${cols}]`,
    );
  }
  const count = s[1];
  const scale = constant(spectrumScale(height, width, decayPower), [height, cols]);
  const re = mul(reshape(slice(coefficients, [0, 0, 0, 0], [1, count, height, cols]), [count, height, cols]), scale);
  const im = mul(reshape(slice(coefficients, [1, 0, 0, 0], [1, count, height, cols]), [count, height, cols]), scale);
  // Along the columns: Z[ky, m] = Σ_kx c_kx X[ky, kx] e^{2πi kx m / w} / (4hw).
  const cw = new Float64Array(cols * width);
  const sw = new Float64Array(cols * width);
  const norm = LUCID_DIVISOR * height * width;
  for (let kx = 0; kx < cols; kx++) {
    const c = kx === 0 || (width % 2 === 0 && kx === width / 2) ? 1 : 2;
    for (let m = 0; m < width; m++) {
      const t = (2 * Math.PI * ((kx * m) % width)) / width;
      cw[kx * width + m] = (c * Math.cos(t)) / norm;
      sw[kx * width + m] = (c * Math.sin(t)) / norm;
    }
  }
  const Cw = constant(cw, [cols, width]);
  const Sw = constant(sw, [cols, width]);
  const flatRe = reshape(re, [count * height, cols]);
  const flatIm = reshape(im, [count * height, cols]);
  const zr = reshape(sub(matmul(flatRe, Cw), matmul(flatIm, Sw)), [count, height, width]);
  const zi = reshape(add(matmul(flatRe, Sw), matmul(flatIm, Cw)), [count, height, width]);
  // Along the rows: u[n, m] = Re Σ_ky Z[ky, m] e^{2πi ky n / h} = Σ_ky cos·Zr − sin·Zi.
  const ch = new Float64Array(height * height);
  const sh = new Float64Array(height * height);
  for (let n = 0; n < height; n++) {
    for (let ky = 0; ky < height; ky++) {
      const t = (2 * Math.PI * ((ky * n) % height)) / height;
      ch[n * height + ky] = Math.cos(t);
      sh[n * height + ky] = Math.sin(t);
    }
  }
  return sub(matmul(constant(ch, [height, height]), zr), matmul(constant(sh, [height, height]), zi));
}
