/**
 * The lecture's architectures after LeNet-5 (section 12), each with its
 * paper's structure and scaled down so that it trains on two CPU cores in
 * minutes: AlexNet, VGG, network in network, GoogLeNet's inception modules
 * and the CIFAR ResNets. Every builder takes the shape of one image
 * (`inputShape`, default [1, 28, 28]: MNIST, Fashion-MNIST; [3, 32, 32] for
 * CIFAR-like RGB) and the number of classes (default 10), and returns a
 * `Model` whose logits are `[N, classes]`.
 *
 * How they are scaled. Each builder takes `scale`, the fraction of the
 * paper's widths (filters per layer, units per dense layer) it builds: a
 * width of n in the paper becomes max(1, round(n · scale)). The defaults
 * (1/8, and 1/2 for the already narrow CIFAR ResNets, with ResNet's depth
 * 8) keep every model within about 1 to 3 million multiply-adds per 28×28
 * example (LeNet-5: 0.28 million); `summary(model).totalMultiplyAdds` gives
 * the exact figure.
 * The papers' inputs are 224×224 (32×32 for NiN's and ResNet's CIFAR
 * networks): on 28×28 and 32×32 inputs the early downsampling is cut back
 * (each builder says how), and every pooling layer pads 'same' (out =
 * ceil(in / stride)), so that a map never shrinks below 1×1 and 28×28 and
 * 32×32 inputs both build.
 *
 * Counting parameters by the lecture's formula: a convolution of L_k filters
 * of M_k × M_k over L_{k−1} maps has L_k (L_{k−1} M_k² + 1) parameters (no
 * +1 without a bias, and L_{k−1}/g in place of L_{k−1} in a convolution
 * split into g groups); a batch-norm layer 2 per channel (scale and shift).
 */
import { fail } from '../graph/error.js';
import type { Shape } from '../graph/tensor.js';
import { batchNorm } from './batchNorm.js';
import type { Layer } from './context.js';
import {
  checkpoint as checkpointLayer,
  conv2d,
  type Conv2dLayerOptions,
  dense,
  dropout,
  flatten,
  globalAvgPool2d,
  localResponseNorm,
  logitInit,
  maxPool2d,
  relu,
  residual,
  scope,
  sequential,
} from './layers.js';
import { defineModel, type Model } from './model.js';
import { checkOptions, showValue } from './spec.js';
import { concatBranches } from './branches.js';

// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// Option checks shared by the builders

interface CommonOptions {
  readonly inputShape?: Shape;
  readonly classes?: number;
  readonly scale?: number;
}

function checkInputShape(who: string, v: unknown): Shape {
  if (v === undefined) return [1, 28, 28];
  if (!Array.isArray(v) || v.length !== 3 || !v.every((d) => Number.isInteger(d) && d >= 1)) {
    fail(
      who,
      `inputShape must be the shape [C, H, W] of one image, e.g. [1, 28, 28] (MNIST) or [3, 32, 32] (RGB), got ${showValue(v)}`,
      `inputShape ${showValue(v)}`,
      'an array [C, H, W] of positive integers',
    );
  }
  return v as Shape;
}

function checkPositiveInt(who: string, what: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    fail(who, `${what} must be a positive integer, got ${showValue(v)}`, `${what} ${showValue(v)}`, 'a positive integer');
  }
  return v;
}

function checkScale(who: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    fail(
      who,
      `scale must be a finite number > 0, the fraction of the paper's widths to build (e.g. 0.125), got ${showValue(v)}`,
      `scale ${showValue(v)}`,
      'a finite number > 0',
    );
  }
  return v;
}

function checkRate(who: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) {
    fail(who, `dropout must be a rate in [0, 1) (0: no dropout), got ${showValue(v)}`, `dropout ${showValue(v)}`, 'a rate in [0, 1)');
  }
  return v;
}

function checkBoolean(who: string, what: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') fail(who, `${what} must be true or false, got ${showValue(v)}`, `${what} ${showValue(v)}`, 'true or false');
  return v;
}

/** The common options, checked: image shape, classes, and the width scale. */
function common(who: string, options: CommonOptions, defaultScale: number): { inputShape: Shape; classes: number; scale: number } {
  return {
    inputShape: checkInputShape(who, options.inputShape),
    classes: checkPositiveInt(who, 'classes', options.classes, 10),
    scale: checkScale(who, options.scale, defaultScale),
  };
}

/** A paper width n at `scale`: max(multiple, round(n · scale) to a multiple of `multiple`). */
function scaled(n: number, scale: number, multiple = 1): number {
  return Math.max(multiple, multiple * Math.round((n * scale) / multiple));
}

/** The overlapping 3/2 max pooling of AlexNet, NiN and GoogLeNet, padded so that out = ceil(in / 2). */
const pool3x2 = (): Layer => maxPool2d({ size: 3, stride: 2, padding: 'same' });

const drop = (name: string, rate: number): Layer[] => (rate > 0 ? [dropout(name, rate)] : []);

// ---------------------------------------------------------------------------
// AlexNet

/** Options of {@link alexnet}. */
export interface AlexNetOptions {
  /** Shape of one image, [C, H, W] (default [1, 28, 28]). */
  inputShape?: Shape;
  /** Number of classes (default 10). */
  classes?: number;
  /**
   * Fraction of the paper's widths (default 1/8): filters 96, 256, 384, 384,
   * 256 and dense units 4096, 4096 become 12, 32, 48, 48, 32 and 512, 512.
   * Filter counts are rounded to even numbers, so that they split in two.
   */
  scale?: number;
  /**
   * 2 (default): conv2, conv4 and conv5 see only the maps of their own half
   * (the paper's two GPUs); 1: every layer sees every map of the layer below.
   */
  groups?: 1 | 2;
  /** Local response normalisation after conv1 and conv2 (default true, as in the paper). */
  lrn?: boolean;
  /** Dropout rate after fc6 and fc7 (default 0.5, as in the paper; 0: none). */
  dropout?: number;
}

/**
 * AlexNet (Krizhevsky, Sutskever & Hinton 2012), the lecture's ImageNet net:
 *
 *   conv1 96@11×11/4 → ReLU → LRN → max pool 3/2 (overlapping)
 *   conv2 256@5×5 pad 2, 2 groups → ReLU → LRN → max pool 3/2
 *   conv3 384@3×3 pad 1 → ReLU
 *   conv4 384@3×3 pad 1, 2 groups → ReLU
 *   conv5 256@3×3 pad 1, 2 groups → ReLU → max pool 3/2
 *   fc6 4096 → ReLU → dropout → fc7 4096 → ReLU → dropout → fc8 (logits)
 *
 * The network was split across two GPUs: conv2, conv4 and conv5 read only
 * the maps on their own GPU (a convolution in 2 groups: L_k (L_{k−1}/2 · M_k²
 * + 1) parameters), conv3 and the dense layers read both. LRN uses the
 * paper's size 5, alpha 1e-4, beta 0.75, k 2.
 *
 * Scaled for 28×28 and 32×32 images: conv1 is 7×7 at stride 2 with padding
 * 3 (the paper's 11×11/4 on 224×224 would leave too little), so the maps are
 * 14 → 7 → 4 → 2 (28×28) or 16 → 8 → 4 → 2 (32×32) across the three pools,
 * and widths are `scale` (default 1/8) of the paper's. The paper trained on
 * 224×224 crops of 256×256 images and averaged ten patches at test time;
 * crops and flips are the data pipeline's business, not the model's.
 *
 * Parameters at the defaults on [1, 28, 28], 10 classes: conv1 12·(1·49+1),
 * conv2 32·(6·25+1), conv3 48·(32·9+1), conv4 48·(24·9+1), conv5
 * 32·(24·9+1), fc6 (32·2·2)·512+512, fc7 512·512+512, fc8 512·10+10.
 */
export function alexnet(options: AlexNetOptions = {}): Model {
  const who = 'alexnet';
  checkOptions(who, options, ['inputShape', 'classes', 'scale', 'groups', 'lrn', 'dropout']);
  const { inputShape, classes, scale } = common(who, options, 1 / 8);
  const groups = options.groups ?? 2;
  if (groups !== 1 && groups !== 2) {
    fail(who, `groups must be 2 (the paper's two GPUs) or 1 (one tower), got ${showValue(groups)}`, `groups ${showValue(groups)}`, '1 or 2');
  }
  const lrn = checkBoolean(who, 'lrn', options.lrn, true);
  const rate = checkRate(who, options.dropout, 0.5);
  const [f1, f2, f3, f4, f5] = [96, 256, 384, 384, 256].map((n) => scaled(n, scale, 2));
  const units = scaled(4096, scale);
  const norm = (): Layer[] => (lrn ? [localResponseNorm()] : []);

  // The paper's two GPUs are the groups of conv2, conv4 and conv5: each group
  // reads only its own half of the maps below it; conv3 reads both.
  const grouped: Partial<Conv2dLayerOptions> = groups > 1 ? { groups } : {};
  return defineModel('AlexNet', inputShape, [
    conv2d('conv1', { filters: f1, size: 7, stride: 2, padding: 3 }),
    relu(),
    ...norm(),
    pool3x2(),
    conv2d('conv2', { filters: f2, size: 5, padding: 2, ...grouped }),
    relu(),
    ...norm(),
    pool3x2(),
    conv2d('conv3', { filters: f3, size: 3, padding: 1 }),
    relu(),
    conv2d('conv4', { filters: f4, size: 3, padding: 1, ...grouped }),
    relu(),
    conv2d('conv5', { filters: f5, size: 3, padding: 1, ...grouped }),
    relu(),
    pool3x2(),
    flatten(),
    dense('fc6', { units }),
    relu(),
    ...drop('drop6', rate),
    dense('fc7', { units }),
    relu(),
    ...drop('drop7', rate),
    dense('fc8', { units: classes, init: logitInit }),
  ]);
}

// ---------------------------------------------------------------------------
// VGG

/** A column of VGG's Table 1: 'A' (VGG-11), 'B' (13), 'C' (16, with 1×1 convolutions), 'D' (16), 'E' (19). */
export type VggConfig = 'A' | 'B' | 'C' | 'D' | 'E';

/** VGG's configurations (Simonyan & Zisserman 2015, Table 1): convolutions per stage. */
const VGG_CONFIGS: { readonly [C in VggConfig]: readonly number[] } = {
  A: [1, 1, 2, 2, 2],
  B: [2, 2, 2, 2, 2],
  C: [2, 2, 3, 3, 3],
  D: [2, 2, 3, 3, 3],
  E: [2, 2, 4, 4, 4],
};

/** Options of {@link vgg}. */
export interface VggOptions {
  /** Shape of one image, [C, H, W] (default [1, 28, 28]). */
  inputShape?: Shape;
  /** Number of classes (default 10). */
  classes?: number;
  /**
   * A configuration of the paper (default 'A', VGG-11, the cheapest): 'A'
   * [1,1,2,2,2], 'B' [2,2,2,2,2], 'C' [2,2,3,3,3] with the last convolution
   * of stages 3 to 5 1×1, 'D' [2,2,3,3,3] (VGG-16, the lecture's 13 conv + 3
   * FC layers), 'E' [2,2,4,4,4]. Give `config` or `blocks`, not both.
   */
  config?: VggConfig;
  /** 3×3 convolutions per stage, e.g. [1, 1, 2, 2, 2] (VGG-11): any number of stages of at least one. */
  blocks?: readonly number[];
  /**
   * Fraction of the paper's widths (default 1/8): stages of 64, 128, 256,
   * 512, 512 filters (512 for any stage after the fifth) and dense units 4096
   * become 8, 16, 32, 64, 64 and 512.
   */
  scale?: number;
  /** Dropout rate after fc6 and fc7 (default 0.5, as in the paper; 0: none). */
  dropout?: number;
}

/**
 * VGG (Simonyan & Zisserman 2015): stages of 3×3 convolutions with padding 1
 * (each followed by ReLU; two stacked see 5×5, three 7×7, with fewer
 * parameters and more nonlinearities than one large filter), a 2×2/2 max
 * pool after each stage, widths doubling from 64 to 512, then
 * fc6 4096 → ReLU → dropout → fc7 4096 → ReLU → dropout → fc8 (logits).
 * Convolution j of stage s is `conv{s}_{j}`.
 *
 * Scaled: widths `scale` (default 1/8) of the paper's; the pools pad 'same',
 * so the five stages take 28×28 to 14, 7, 4, 2, 1 (32×32: 16, 8, 4, 2, 1)
 * and fc6 reads the last stage's maps, 1×1 here (7×7 on the paper's
 * 224×224). No local response normalisation (the paper found it did not help).
 *
 * Parameters of 'A' at the defaults on [1, 28, 28], 10 classes: conv1_1
 * 8·(1·9+1), conv2_1 16·(8·9+1), conv3_1 32·(16·9+1), conv3_2 32·(32·9+1),
 * conv4_1 64·(32·9+1), conv4_2, conv5_1 and conv5_2 64·(64·9+1) each; fc6
 * 64·512+512, fc7 512·512+512, fc8 512·10+10.
 */
export function vgg(options: VggOptions = {}): Model {
  const who = 'vgg';
  checkOptions(who, options, ['inputShape', 'classes', 'config', 'blocks', 'scale', 'dropout']);
  const { inputShape, classes, scale } = common(who, options, 1 / 8);
  const rate = checkRate(who, options.dropout, 0.5);
  if (options.config !== undefined && options.blocks !== undefined) {
    fail(who, 'give config (a column of the paper) or blocks (convolutions per stage), not both', 'both config and blocks', 'config or blocks');
  }
  const names = Object.keys(VGG_CONFIGS).map((c) => `'${c}'`).join(', ');
  if (options.config !== undefined && !Object.hasOwn(VGG_CONFIGS, options.config)) {
    fail(who, `config must be one of ${names} (VGG's Table 1), got ${showValue(options.config)}`, `config ${showValue(options.config)}`, `one of ${names}`);
  }
  const blocks = options.blocks;
  if (blocks !== undefined && (!Array.isArray(blocks) || blocks.length === 0 || !blocks.every((n) => Number.isInteger(n) && n >= 1))) {
    fail(
      who,
      `blocks must be a non-empty array of convolutions per stage, each a positive integer, e.g. [1, 1, 2, 2, 2] (VGG-11), got ${showValue(blocks)}`,
      `blocks ${showValue(blocks)}`,
      'a non-empty array of positive integers',
    );
  }
  const config = blocks === undefined ? (options.config ?? 'A') : undefined;
  const stages = blocks ?? VGG_CONFIGS[config!];
  const layers: Layer[] = [];
  stages.forEach((count, s) => {
    const filters = scaled(64 * 2 ** Math.min(s, 3), scale);
    for (let j = 1; j <= count; j++) {
      // Configuration C ends stages 3 to 5 with a 1×1 convolution.
      const size = config === 'C' && s >= 2 && j === count ? 1 : 3;
      layers.push(conv2d(`conv${s + 1}_${j}`, { filters, size, padding: size === 3 ? 1 : 0 }), relu());
    }
    layers.push(maxPool2d({ size: 2, stride: 2, padding: 'same' }));
  });
  const units = scaled(4096, scale);
  const depth = stages.reduce((a, b) => a + b, 0) + 3;
  return defineModel(config === undefined ? `VGG-${depth}` : `VGG-${depth} (${config})`, inputShape, [
    ...layers,
    flatten(),
    dense('fc6', { units }),
    relu(),
    ...drop('drop6', rate),
    dense('fc7', { units }),
    relu(),
    ...drop('drop7', rate),
    dense('fc8', { units: classes, init: logitInit }),
  ]);
}

// ---------------------------------------------------------------------------
// Network in network

/** Options of {@link nin}. */
export interface NinOptions {
  /** Shape of one image, [C, H, W] (default [1, 28, 28]). */
  inputShape?: Shape;
  /** Number of classes (default 10): the filters of the last 1×1 convolution. */
  classes?: number;
  /** Fraction of the paper's widths (default 1/8): 192, 160, 96 become 24, 20, 12. */
  scale?: number;
  /** Dropout rate after the first two mlpconv blocks' pools (default 0.5, as in the paper; 0: none). */
  dropout?: number;
}

/**
 * Network in network (Lin, Chen & Yan 2014), its CIFAR-10 network: three
 * mlpconv blocks, each a spatial convolution followed by two 1×1
 * convolutions (a small MLP slid over every position: the lecture's "1×1
 * filters are network in network"), all with ReLU:
 *
 *   mlpconv1: 192@5×5 pad 2, 160@1×1, 96@1×1 → max pool 3/2 → dropout
 *   mlpconv2: 192@5×5 pad 2, 192@1×1, 192@1×1 → max pool 3/2 → dropout
 *   mlpconv3: 192@3×3 pad 1, 192@1×1, classes@1×1 → global average pool
 *
 * No dense layers: the last 1×1 convolution makes one map per class and
 * their means are the logits. Layer j of block b is `mlpconv{b}.conv{j}`.
 *
 * Scaled: widths `scale` (default 1/8) of the paper's; the pools pad
 * 'same', so the maps are 28 → 14 → 7 (32 → 16 → 8). The last 1×1
 * convolution has no ReLU after it, so logits may be negative (the Caffe
 * model has one; with it a class can never score below zero).
 *
 * Parameters at the defaults on [1, 28, 28], 10 classes: 24·(1·25+1),
 * 20·(24+1), 12·(20+1); 24·(12·25+1), 24·(24+1), 24·(24+1); 24·(24·9+1),
 * 24·(24+1), 10·(24+1).
 */
export function nin(options: NinOptions = {}): Model {
  const who = 'nin';
  checkOptions(who, options, ['inputShape', 'classes', 'scale', 'dropout']);
  const { inputShape, classes, scale } = common(who, options, 1 / 8);
  const rate = checkRate(who, options.dropout, 0.5);
  const w = (n: number): number => scaled(n, scale);
  const mlpconv = (name: string, size: number, widths: readonly [number, number, number], last = false): Layer =>
    scope(
      name,
      sequential(
        conv2d('conv1', { filters: widths[0], size, padding: (size - 1) / 2 }),
        relu(),
        conv2d('conv2', { filters: widths[1], size: 1 }),
        relu(),
        conv2d('conv3', { filters: widths[2], size: 1, ...(last ? { init: logitInit } : {}) }),
        ...(last ? [] : [relu()]),
      ),
    );
  return defineModel('NiN', inputShape, [
    mlpconv('mlpconv1', 5, [w(192), w(160), w(96)]),
    pool3x2(),
    ...drop('drop1', rate),
    mlpconv('mlpconv2', 5, [w(192), w(192), w(192)]),
    pool3x2(),
    ...drop('drop2', rate),
    mlpconv('mlpconv3', 3, [w(192), w(192), classes], true),
    globalAvgPool2d(),
  ]);
}

// ---------------------------------------------------------------------------
// GoogLeNet's inception modules

/**
 * GoogLeNet's inception modules (Szegedy et al. 2015, Table 1), by stage:
 * #1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj.
 */
const INCEPTION_MODULES: readonly (readonly (readonly [string, readonly [number, number, number, number, number, number]])[])[] = [
  [
    ['inception3a', [64, 96, 128, 16, 32, 32]],
    ['inception3b', [128, 128, 192, 32, 96, 64]],
  ],
  [
    ['inception4a', [192, 96, 208, 16, 48, 64]],
    ['inception4b', [160, 112, 224, 24, 64, 64]],
    ['inception4c', [128, 128, 256, 24, 64, 64]],
    ['inception4d', [112, 144, 288, 32, 64, 64]],
    ['inception4e', [256, 160, 320, 32, 128, 128]],
  ],
  [
    ['inception5a', [256, 160, 320, 32, 128, 128]],
    ['inception5b', [384, 192, 384, 48, 128, 128]],
  ],
];

/** Options of {@link inception}. */
export interface InceptionOptions {
  /** Shape of one image, [C, H, W] (default [1, 28, 28]). */
  inputShape?: Shape;
  /** Number of classes (default 10). */
  classes?: number;
  /** Fraction of the paper's widths (default 1/8): inception 3a's 64, 96, 128, 16, 32, 32 become 8, 12, 16, 2, 4, 4. */
  scale?: number;
  /**
   * Inception modules in stages 3, 4 and 5 (default [2, 5, 2], the paper's
   * nine): the first ones of the paper's list of each stage, at least 1 and
   * at most 2, 5 and 2.
   */
  modules?: readonly [number, number, number];
  /** Local response normalisation in the stem (default true, as in the paper). */
  lrn?: boolean;
  /** Dropout rate before the classifier (default 0.4, as in the paper; 0: none). */
  dropout?: number;
}

/**
 * One inception module: four branches on the same input, concatenated along
 * the channels, each convolution followed by ReLU:
 * 1×1; 1×1 reduction then 3×3 (pad 1); 1×1 reduction then 5×5 (pad 2);
 * 3×3/1 max pool (pad 1) then a 1×1 projection. `w` holds the paper's six
 * widths (already scaled).
 */
function inceptionModule(name: string, w: readonly number[]): Layer {
  const [n1, r3, n3, r5, n5, proj] = w;
  return scope(
    name,
    concatBranches([
      sequential(conv2d('b1x1', { filters: n1, size: 1 }), relu()),
      sequential(conv2d('b3x3_reduce', { filters: r3, size: 1 }), relu(), conv2d('b3x3', { filters: n3, size: 3, padding: 1 }), relu()),
      sequential(conv2d('b5x5_reduce', { filters: r5, size: 1 }), relu(), conv2d('b5x5', { filters: n5, size: 5, padding: 2 }), relu()),
      sequential(maxPool2d({ size: 3, stride: 1, padding: 1 }), conv2d('pool_proj', { filters: proj, size: 1 }), relu()),
    ]),
  );
}

/**
 * GoogLeNet (Szegedy et al. 2015), built of inception modules (see the
 * module's branches above; a module of input C has n1(C+1) + r3(C+1) +
 * n3(9·r3+1) + r5(C+1) + n5(25·r5+1) + proj(C+1) parameters and n1 + n3 + n5
 * + proj output channels):
 *
 *   stem: conv1 64@7×7/2 pad 3 → ReLU → LRN → conv2_reduce 64@1×1 → ReLU
 *         → conv2 192@3×3 pad 1 → ReLU → LRN → max pool 3/2
 *   inception 3a, 3b → max pool 3/2 → 4a … 4e → max pool 3/2 → 5a, 5b
 *   global average pool → dropout 40% → fc (logits)
 *
 * Module m of stage s is `inception{s}{m}` (`inception3a.b3x3` ...).
 *
 * Scaled for 28×28 and 32×32 images: of the stem's two 3/2 max pools only
 * the second is kept, so the maps are 14 → 7 → 4 → 2 (32×32: 16 → 8 → 4 →
 * 2) from the stem to stage 5 (the paper's 224×224 go 112 → 28 → 14 → 7);
 * widths are `scale` (default 1/8) of the paper's; `modules` builds fewer
 * modules per stage. The two auxiliary classifiers the paper trained with
 * are left out.
 */
export function inception(options: InceptionOptions = {}): Model {
  const who = 'inception';
  checkOptions(who, options, ['inputShape', 'classes', 'scale', 'modules', 'lrn', 'dropout']);
  const { inputShape, classes, scale } = common(who, options, 1 / 8);
  const lrn = checkBoolean(who, 'lrn', options.lrn, true);
  const rate = checkRate(who, options.dropout, 0.4);
  const most = INCEPTION_MODULES.map((s) => s.length);
  const modules = options.modules ?? most;
  if (!Array.isArray(modules) || modules.length !== 3 || !modules.every((n, i) => Number.isInteger(n) && n >= 1 && n <= most[i])) {
    fail(
      who,
      `modules must be the inception modules of stages 3, 4 and 5, [a, b, c] with 1 <= a <= 2, 1 <= b <= 5, 1 <= c <= 2 (the paper: [2, 5, 2]), got ${showValue(modules)}`,
      `modules ${showValue(modules)}`,
      'an array [a, b, c] of integers with 1 <= a <= 2, 1 <= b <= 5, 1 <= c <= 2',
    );
  }
  const w = (n: number): number => scaled(n, scale);
  const norm = (): Layer[] => (lrn ? [localResponseNorm()] : []);
  const stages = INCEPTION_MODULES.flatMap((list, s) => [
    ...(s > 0 ? [pool3x2()] : []),
    ...list.slice(0, modules[s]).map(([name, widths]) => inceptionModule(name, widths.map(w))),
  ]);
  return defineModel('GoogLeNet', inputShape, [
    conv2d('conv1', { filters: w(64), size: 7, stride: 2, padding: 3 }),
    relu(),
    ...norm(),
    conv2d('conv2_reduce', { filters: w(64), size: 1 }),
    relu(),
    conv2d('conv2', { filters: w(192), size: 3, padding: 1 }),
    relu(),
    ...norm(),
    pool3x2(),
    ...stages,
    globalAvgPool2d(),
    ...drop('drop', rate),
    dense('fc', { units: classes, init: logitInit }),
  ]);
}

// ---------------------------------------------------------------------------
// ResNet

/** Options of {@link resnet}. */
export interface ResNetOptions {
  /** Shape of one image, [C, H, W] (default [1, 28, 28]). */
  inputShape?: Shape;
  /** Number of classes (default 10). */
  classes?: number;
  /**
   * Weighted layers, 6n + 2 for n blocks per stage: 8 (default: one block
   * per stage, the cheapest), 14, 20 (the paper's smallest), 32, 44, 56, 110.
   */
  depth?: number;
  /** Fraction of the paper's widths (default 1/2): stages of 16, 32, 64 filters become 8, 16, 32. */
  scale?: number;
  /**
   * Batch normalisation after every convolution (default true, as in the
   * paper; the convolutions then have no bias). false builds the same
   * network without it (convolutions with biases), for comparison.
   */
  batchNorm?: boolean;
  /** Wrap every residual block in nn.checkpoint: recompute its activations in the backward pass instead of keeping them (default false). */
  checkpoint?: boolean;
}

/**
 * The CIFAR ResNets of He, Zhang, Ren & Sun (2016, section 4.2), 6n + 2
 * weighted layers:
 *
 *   conv1 16@3×3 pad 1 → BN → ReLU
 *   stage 1: n blocks of 16 filters; stage 2: n blocks of 32, the first at
 *   stride 2; stage 3: n blocks of 64, the first at stride 2
 *   global average pool → fc (logits)
 *
 * A basic block: conv 3×3 (stride s) → BN → ReLU → conv 3×3 → BN, plus the
 * shortcut, then ReLU. The shortcut is the identity, except where the block
 * changes the shape (the first block of stages 2 and 3), where it is a
 * projection: a 1×1 convolution at stride 2 → BN (the paper's option B; its
 * CIFAR runs used option A, zero-padded identities, which have no
 * parameters). Convolutions before a batch norm have no bias (the norm's
 * shift takes its place). Block b of stage s is `stage{s}.block{b}`, its
 * layers `conv1`, `bn1`, `conv2`, `bn2`, `proj`, `proj_bn`.
 *
 * Scaled: widths `scale` (default 1/2) of the paper's and depth 8 by
 * default (the paper's runs start at 20, four times the multiply-adds);
 * 28×28 images give maps of 28, 14 and 7 in the three stages (32×32: 32,
 * 16, 8).
 *
 * Parameters (with batch norm) for width f per stage: conv1 9·C·f₁ + 2f₁; a
 * block of f filters on f channels 2·9f² + 4f; with a projection from f/2
 * channels 9(f/2)f + 9f² + (f/2)f + 6f; fc 4f₁·classes + classes.
 */
export function resnet(options: ResNetOptions = {}): Model {
  const who = 'resnet';
  checkOptions(who, options, ['inputShape', 'classes', 'depth', 'scale', 'batchNorm', 'checkpoint']);
  const { inputShape, classes, scale } = common(who, options, 1 / 2);
  const depth = options.depth ?? 8;
  if (typeof depth !== 'number' || !Number.isInteger(depth) || depth < 8 || (depth - 2) % 6 !== 0) {
    fail(
      who,
      `depth must be 6n + 2 for n >= 1 blocks per stage (8, 14, 20, 32, 44, 56, 110), got ${showValue(depth)}`,
      `depth ${showValue(depth)}`,
      '6n + 2 with n >= 1: 8, 14, 20, 32, ...',
    );
  }
  const bn = checkBoolean(who, 'batchNorm', options.batchNorm, true);
  const remat = checkBoolean(who, 'checkpoint', options.checkpoint, false);
  const n = (depth - 2) / 6;
  const widths = [16, 32, 64].map((f) => scaled(f, scale));
  // A convolution and, with batch norm, its norm (the convolution then without bias).
  const convBn = (name: string, norm: string, o: { filters: number; size: number; stride?: number; padding?: number }): Layer[] => [
    conv2d(name, { ...o, bias: !bn }),
    ...(bn ? [batchNorm(norm)] : []),
  ];
  const block = (filters: number, stride: number, project: boolean): Layer => {
    const body = sequential(
      ...convBn('conv1', 'bn1', { filters, size: 3, stride, padding: 1 }),
      relu(),
      ...convBn('conv2', 'bn2', { filters, size: 3, padding: 1 }),
    );
    const shortcut = project ? sequential(...convBn('proj', 'proj_bn', { filters, size: 1, stride })) : undefined;
    const b = sequential(residual(body, shortcut), relu());
    return remat ? checkpointLayer(b) : b;
  };
  const stages = widths.map((filters, s) => {
    const blocks = Array.from({ length: n }, (_, i) => {
      const stride = s > 0 && i === 0 ? 2 : 1;
      return scope(`block${i + 1}`, block(filters, stride, s > 0 && i === 0));
    });
    return scope(`stage${s + 1}`, sequential(blocks));
  });
  return defineModel(bn ? `ResNet-${depth}` : `ResNet-${depth} (no batch norm)`, inputShape, [
    ...convBn('conv1', 'bn1', { filters: widths[0], size: 3, padding: 1 }),
    relu(),
    ...stages,
    globalAvgPool2d(),
    dense('fc', { units: classes, init: logitInit }),
  ]);
}
