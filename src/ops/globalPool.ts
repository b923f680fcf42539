/**
 * Global average pooling (Lin, Chen and Yan 2014, Network in Network): the
 * mean of each channel's whole map, [N, C, H, W] to [N, C]. A builder made of
 * existing ops (the mean over axes 2 and 3, a sum times 1/(H·W)); no op of
 * its own, so its gradient spreads g / (H·W) over the map.
 */
import { type Tensor, shapeToString } from '../graph/tensor.js';
import { checkTensor, opError } from './op.js';
import { mean } from './sum.js';

/**
 * The mean of each channel over its whole map: `x` `[N, C, H, W]` gives
 * `[N, C]`, as a network in network's last layer or a ResNet's pooling
 * before its classifier.
 *
 * ```ts
 * const logits = globalAvgPool2d(conv2d(h, w));   // [N, classes, H, W] -> [N, classes]
 * ```
 */
export function globalAvgPool2d(x: Tensor): Tensor {
  const who = 'globalAvgPool2d';
  checkTensor(who, 'x', x);
  if (x.rank !== 4) {
    opError(who, `needs an input [N, C, H, W] of rank 4, got shape ${shapeToString(x.shape)}`, `shape ${shapeToString(x.shape)}`, 'rank 4 [N, C, H, W]');
  }
  return mean(x, { axes: [2, 3] });
}
