/**
 * Batch normalisation (Ioffe and Szegedy, 2015), as a composite of existing
 * ops: every channel of x is standardised by the mean and variance of the
 * batch, then scaled and shifted by learned γ and β,
 *
 *   y = γ (x − μ) / √(σ² + ε) + β,   μ, σ² over every axis but the channel axis 1
 *   ([N, C] for a dense layer's output, [N, C, H, W] for a convolution's).
 *
 * In training μ and σ² are the batch's own (σ² the biased variance, dividing
 * by the count), and the gradient flows through them: the ops it is built
 * from carry their VJPs and JVPs, so the derivative is the paper's, with the
 * terms through μ and σ², without a hand-written rule to get wrong. At
 * inference μ and σ² are running averages collected in training, given as
 * tensors. `batchNormTraining` also gives the batch's μ and unbiased σ²
 * (dividing by count − 1, as PyTorch keeps it), for the running averages.
 */
import { checkOptions, describeValue } from '../graph/error.js';
import { shapeToString, sizeOf, type Shape, type Tensor } from '../graph/tensor.js';
import { add } from './add.js';
import { div } from './div.js';
import { mul } from './mul.js';
import { checkTensor, opError } from './op.js';
import { reshape } from './reshape.js';
import { sqrt } from './sqrt.js';
import { sub } from './sub.js';
import { mean } from './sum.js';

/** Options of {@link batchNorm}. */
export interface BatchNormOptions {
  /** Added to the variance before the square root (default 1e-5), so that a constant channel does not divide by zero. */
  epsilon?: number;
}

const OP = 'batchNorm';

/** The axes μ and σ² are taken over: all but the channel axis 1. */
function statAxes(x: Tensor): number[] {
  if (x.rank !== 2 && x.rank !== 4) {
    opError(OP, `x must be [N, C] or [N, C, H, W], got ${shapeToString(x.shape)} (rank ${x.rank})`, `x ${shapeToString(x.shape)}`, 'x of rank 2 or 4');
  }
  return x.rank === 2 ? [0] : [0, 2, 3];
}

/** A per-channel vector [C] as a tensor that broadcasts against x. */
function perChannel(what: string, v: Tensor, x: Tensor): Tensor {
  checkTensor(OP, what, v);
  const c = x.shape[1];
  if (v.rank !== 1 || v.shape[0] !== c) {
    opError(OP, `${what} must have shape [${c}], one value per channel of x ${shapeToString(x.shape)}, got ${shapeToString(v.shape)}`, `${what} ${shapeToString(v.shape)}`, `${what} [${c}]`);
  }
  const shape: Shape = x.rank === 2 ? [1, c] : [1, c, 1, 1];
  return reshape(v, shape);
}

function epsilonOf(options: BatchNormOptions | undefined): number {
  const { epsilon = 1e-5 } = checkOptions(OP, options, ['epsilon'], '{ epsilon: 1e-3 }') ?? {};
  if (typeof epsilon !== 'number' || !Number.isFinite(epsilon) || epsilon <= 0) {
    opError(OP, `epsilon must be a finite number > 0, got ${describeValue(epsilon)}`, `epsilon ${describeValue(epsilon)}`, 'a finite number > 0');
  }
  return epsilon;
}

/**
 * Batch normalisation with the batch's own statistics (training): each
 * channel of `x` standardised by its mean and biased variance over the
 * batch (and, for [N, C, H, W], over every position), then `gamma * x̂ +
 * beta` (both [C]). Gradients flow through the statistics.
 *
 * ```ts
 * const y = batchNorm(conv, gamma, beta); // conv [N, C, H, W], gamma and beta [C]
 * ```
 */
export function batchNorm(x: Tensor, gamma: Tensor, beta: Tensor, options?: BatchNormOptions): Tensor {
  return batchNormTraining(x, gamma, beta, options).output;
}

/** What {@link batchNormTraining} returns: the normalised output and the batch's statistics. */
export interface BatchNormTraining {
  /** {@link batchNorm}'s output, the shape of x. */
  readonly output: Tensor;
  /** The batch's mean per channel, [C]. */
  readonly mean: Tensor;
  /** The batch's unbiased variance per channel (dividing by count − 1, as the running average keeps it; the output uses the biased one), [C]. */
  readonly variance: Tensor;
}

/**
 * {@link batchNorm} and the batch's statistics from the same nodes: what a
 * batch-norm layer computes in training, the statistics feeding its running
 * averages.
 */
export function batchNormTraining(x: Tensor, gamma: Tensor, beta: Tensor, options?: BatchNormOptions): BatchNormTraining {
  checkTensor(OP, 'x', x);
  const axes = statAxes(x);
  const epsilon = epsilonOf(options);
  const g = perChannel('gamma', gamma, x);
  const b = perChannel('beta', beta, x);
  const count = sizeOf(axes.map((a) => x.shape[a]));
  if (count < 2) {
    opError(
      OP,
      `x ${shapeToString(x.shape)} has one value per channel, so the batch's variance is 0 and the output would be beta alone; use a batch of 2 or more`,
      `x ${shapeToString(x.shape)}`,
      'at least 2 values per channel',
    );
  }
  const mu = mean(x, { axes, keepDims: true });
  const centered = sub(x, mu);
  const variance = mean(mul(centered, centered), { axes, keepDims: true });
  const output = add(mul(div(centered, sqrt(add(variance, epsilon))), g), b);
  const c = x.shape[1];
  return { output, mean: reshape(mu, [c]), variance: reshape(mul(variance, count / (count - 1)), [c]) };
}

/**
 * Batch normalisation with given statistics (inference): `gamma * (x -
 * mean) / sqrt(variance + epsilon) + beta`, all four [C], e.g. the running
 * averages that training kept.
 */
export function batchNormInference(x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVariance: Tensor, options?: BatchNormOptions): Tensor {
  checkTensor(OP, 'x', x);
  statAxes(x);
  const epsilon = epsilonOf(options);
  const [g, b, m, v] = [perChannel('gamma', gamma, x), perChannel('beta', beta, x), perChannel('mean', runningMean, x), perChannel('variance', runningVariance, x)];
  return add(mul(div(sub(x, m), sqrt(add(v, epsilon))), g), b);
}

