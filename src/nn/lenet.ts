/**
 * LeNet-5 as the lecture gives it (LeCun et al. 1998, with ReLU and max
 * pooling as modern practice and the lecture have it):
 *
 *   conv 6@5×5 (valid, stride 1) → ReLU → max pool 2×2/2
 *   conv 16@5×5                  → ReLU → max pool 2×2/2
 *   dense 120 → ReLU → dense 84 → ReLU → dense 10 (logits)
 *
 * On 28×28 MNIST digits the maps are 24×24 → 12×12 → 8×8 → 4×4, so the MLP
 * reads 16·4·4 = 256 features (the original padded digits to 32×32 and read
 * 16·5·5 = 400). Parameters: conv1 6·(1·25+1) = 156, conv2 16·(6·25+1) = 2,416,
 * fc1 256·120+120 = 30,840, fc2 120·84+84 = 10,164, fc3 84·10+10 = 850;
 * 44,426 in all.
 */
import { fail } from '../graph/error.js';
import type { Shape } from '../graph/tensor.js';
import { conv2d, dense, dropout, flatten, logitInit, maxPool2d, relu } from './layers.js';
import type { Layer } from './context.js';
import { defineModel, type Model } from './model.js';
import { checkOptions, showValue } from './spec.js';

/** Options of `lenet5`. */
export interface LeNet5Options {
  /** Shape of one image (default [1, 28, 28], MNIST). */
  inputShape?: Shape;
  /** Number of classes (default 10). */
  classes?: number;
  /** Dropout rate before fc2 and fc3 (default 0: none, as in the original). */
  dropout?: number;
}

/** LeNet-5 as described in the file comment: 44,426 parameters for 28×28 digits and 10 classes. */
export function lenet5(options: LeNet5Options = {}): Model {
  checkOptions('lenet5', options, ['inputShape', 'classes', 'dropout']);
  const rate = options.dropout ?? 0;
  if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) {
    fail('lenet5', `dropout must be a rate in [0, 1) (0: no dropout), got ${showValue(rate)}`, `dropout ${showValue(rate)}`, 'a rate in [0, 1)');
  }
  const drop = (name: string): Layer[] => (rate > 0 ? [dropout(name, rate)] : []);
  return defineModel('LeNet-5', options.inputShape ?? [1, 28, 28], [
    conv2d('conv1', { filters: 6, size: 5 }),
    relu(),
    maxPool2d({ size: 2, stride: 2 }),
    conv2d('conv2', { filters: 16, size: 5 }),
    relu(),
    maxPool2d({ size: 2, stride: 2 }),
    flatten(),
    dense('fc1', { units: 120 }),
    relu(),
    ...drop('drop1'),
    dense('fc2', { units: 84 }),
    relu(),
    ...drop('drop2'),
    dense('fc3', { units: options.classes ?? 10, init: logitInit }),
  ]);
}
