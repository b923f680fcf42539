/**
 * The batch-normalisation layer. In a training graph it normalises each
 * channel by the batch's statistics (the gradient flows through them) and
 * moves its running averages towards them; in an inference graph it
 * normalises by the running averages. The averages are statistics, not
 * parameters: graph inputs `<name>.mean` and `<name>.variance` that the
 * optimizer never sees, carried in a `TrainState`'s `stats`, saved with
 * checkpoints and read by `evaluate` and `predict`.
 */
import { describeValue, fail } from '../graph/error.js';
import { shapeToString } from '../graph/tensor.js';
import { add } from '../ops/add.js';
import { batchNormInference, batchNormTraining } from '../ops/batchNorm.js';
import { mul } from '../ops/mul.js';
import { checkLayerName, type Layer } from './context.js';
import { onesInit, zerosInit } from './init.js';
import { checkOptions, describeLayer, pickOptions } from './spec.js';

/** Options of {@link batchNorm}. */
export interface BatchNormLayerOptions {
  /**
   * How far the running averages move towards each batch's statistics
   * (default 0.1, PyTorch's convention): running = (1 − momentum) running +
   * momentum batch. The running variance is the unbiased one.
   */
  momentum?: number;
  /** Added to the variance before the square root (default 1e-5). */
  epsilon?: number;
}

/**
 * Batch normalisation over the channels of `[N, C]` or `[N, C, H, W]`, with
 * a learned scale `<name>.gamma` (ones) and shift `<name>.beta` (zeros) per
 * channel, and the running averages `<name>.mean` (zeros) and
 * `<name>.variance` (ones) as statistics (see the file comment).
 *
 * ```ts
 * nn.sequential(nn.conv2d('c1', { filters: 16, size: 3, padding: 'same', bias: false }), nn.batchNorm('bn1'), nn.relu())
 * ```
 */
export function batchNorm(name: string, options?: BatchNormLayerOptions): Layer {
  const who = 'nn.batchNorm';
  checkLayerName(who, name);
  const keys = ['momentum', 'epsilon'] as const;
  checkOptions(who, options, keys);
  const momentum = options?.momentum ?? 0.1;
  if (typeof momentum !== 'number' || !(momentum > 0 && momentum <= 1)) {
    fail(who, `momentum must be a number in (0, 1], got ${describeValue(momentum)}`, `momentum ${describeValue(momentum)}`, 'a number in (0, 1]');
  }
  const epsilon = options?.epsilon ?? 1e-5;
  if (typeof epsilon !== 'number' || !Number.isFinite(epsilon) || epsilon <= 0) {
    fail(who, `epsilon must be a finite number > 0, got ${describeValue(epsilon)}`, `epsilon ${describeValue(epsilon)}`, 'a finite number > 0');
  }
  const owner = {};
  const layer: Layer = (x, ctx) => {
    const full = ctx.qualify(name);
    if (x.rank !== 2 && x.rank !== 4) {
      fail(who, `"${full}" expects [N, C] or [N, C, H, W], got shape ${shapeToString(x.shape)}`, `shape ${shapeToString(x.shape)}`, 'rank 2 or 4');
    }
    const c = x.shape[1];
    const fans = { fanIn: c, fanOut: c };
    const gamma = ctx.param(`${full}.gamma`, [c], onesInit, fans, owner);
    const beta = ctx.param(`${full}.beta`, [c], zerosInit, fans, owner);
    const runningMean = ctx.stat(`${full}.mean`, [c], 0, owner);
    const runningVariance = ctx.stat(`${full}.variance`, [c], 1, owner);
    let y;
    if (ctx.training) {
      const t = batchNormTraining(x, gamma, beta, { epsilon });
      ctx.update(runningMean.attrs.name, add(mul(runningMean, 1 - momentum), mul(t.mean, momentum)));
      ctx.update(runningVariance.attrs.name, add(mul(runningVariance, 1 - momentum), mul(t.variance, momentum)));
      y = t.output;
    } else {
      y = batchNormInference(x, gamma, beta, runningMean, runningVariance, { epsilon });
    }
    ctx.record(full, 'batchNorm', y, [gamma, beta]);
    return y;
  };
  return describeLayer(layer, { kind: 'batchNorm', name, options: pickOptions(options, keys) });
}
