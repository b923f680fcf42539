/**
 * Attributes of every op, by name. This interface is the single list of ops:
 * the registry (`index.ts`) is a mapped type over its keys, so adding an op
 * here without its definition, or a definition without its VJP, is a compile
 * error.
 *
 * Every attribute that reaches generated kernel source is a validated integer
 * (or a finite number); strings never do.
 */
import type { Shape } from '../graph/shape.js';

export type Pair = readonly [number, number];
/** Zero padding of a 2-D window op: rows added at the top and bottom, columns at the left and right. */
export type Pads2d = readonly [top: number, bottom: number, left: number, right: number];

export interface Conv2dAttrs {
  readonly stride: Pair;
  readonly dilation: Pair;
  readonly pads: Pads2d;
  /** When true the node has a third input, the bias `[outChannels]`. */
  readonly hasBias: boolean;
  /**
   * When true the output passes through relu: relu(conv2d(...)) fused into one
   * kernel by compile's rewrite for the device backends (see backend/fuse.ts).
   * `conv2d()` always makes false.
   */
  readonly relu: boolean;
}
export interface Conv2dBackpropInputAttrs extends Omit<Conv2dAttrs, 'hasBias' | 'relu'> {
  /** Shape of the convolution's input `[N, C, H, W]`, which cannot be recovered from the output alone. */
  readonly inputShape: Shape;
}
export interface Conv2dBackpropFilterAttrs extends Omit<Conv2dAttrs, 'hasBias' | 'relu'> {
  /** Shape of the filter `[O, C, kH, kW]`. */
  readonly filterShape: Shape;
}
export interface Pool2dAttrs {
  readonly size: Pair;
  readonly stride: Pair;
  readonly pads: Pads2d;
}
/** maxPool2d(conv2d(...)) fused (backend/fuse.ts): the convolution's attributes and the pool's. */
export interface Conv2dMaxPoolAttrs {
  readonly conv: Conv2dAttrs;
  readonly pool: Pool2dAttrs;
}
export interface AvgPool2dAttrs extends Pool2dAttrs {
  /**
   * false (the default): the mean at a padded border is taken over the window's
   * cells that lie inside the input (TensorFlow's rule); true: over the whole
   * window, padded zeros included (PyTorch's default).
   */
  readonly countIncludePad: boolean;
}
export interface AvgPool2dBackwardAttrs extends AvgPool2dAttrs {
  readonly inputShape: Shape;
}
export interface ReduceAttrs {
  /** Sorted, non-negative, distinct axes. */
  readonly axes: readonly number[];
  readonly keepDims: boolean;
}

export interface OpAttrs {
  input: { readonly name: string };
  /** The values, row-major (a frozen copy: typed arrays cannot be frozen). */
  constant: { readonly value: readonly number[] };
  // elementwise, NumPy broadcasting
  add: {};
  sub: {};
  mul: {};
  div: {};
  neg: {};
  exp: {};
  log: {};
  sqrt: {};
  relu: {};
  /** reluBackward(x, g): g where x > 0, else 0 (relu's gradient in one kernel). */
  reluBackward: {};
  sigmoid: {};
  tanh: {};
  /** 1 where x > 0, else 0: the derivative of relu. Its own derivative is zero. */
  step: {};
  // shapes
  reshape: { readonly shape: Shape };
  broadcastTo: { readonly shape: Shape };
  transpose: { readonly perm: readonly number[] };
  pad: { readonly pads: readonly Pair[]; readonly value: number };
  slice: { readonly begin: readonly number[]; readonly size: readonly number[] };
  concat: { readonly axis: number };
  // reductions
  sum: ReduceAttrs;
  max: ReduceAttrs;
  /** 1 at the first maximum (row-major) of each group reduced by `max` over `axes`, 0 elsewhere. */
  maxMask: { readonly axes: readonly number[] };
  // linear algebra
  /** op(a) op(b), op transposing where the flag is set (read in place, never materialised). */
  matmul: {
    readonly transposeA: boolean;
    readonly transposeB: boolean;
    /** A third input, bias [N], added to every row; and relu applied after. Both made only by backend/fuse.ts; `matmul()` makes false. */
    readonly hasBias: boolean;
    readonly relu: boolean;
  };
  // classification
  softmax: { readonly axis: number };
  logSoftmax: { readonly axis: number };
  oneHot: { readonly depth: number };
  softmaxCrossEntropy: {
    /** 'index': labels `[N]` hold class indices; 'onehot': labels `[N, C]` hold probabilities. */
    readonly labels: 'index' | 'onehot';
    readonly reduction: 'mean' | 'sum' | 'none';
  };
  /** softmaxCrossEntropy's gradient wrt the logits, index labels (the op's VJP builds it). */
  softmaxCrossEntropyBackward: { readonly reduction: 'mean' | 'sum' | 'none' };
  // convolution and pooling
  conv2d: Conv2dAttrs;
  conv2dMaxPool: Conv2dMaxPoolAttrs;
  conv2dBackpropInput: Conv2dBackpropInputAttrs;
  conv2dBackpropFilter: Conv2dBackpropFilterAttrs;
  maxPool2d: Pool2dAttrs;
  /** Inputs (x, dy): routes each dy to the first maximum of its window in x. */
  maxPool2dBackward: Pool2dAttrs;
  /** Inputs (x, dx): reads dx at the first maximum of each window of x (the VJP of maxPool2dBackward). */
  maxPool2dSelect: Pool2dAttrs;
  avgPool2d: AvgPool2dAttrs;
  avgPool2dBackward: AvgPool2dBackwardAttrs;
}

export type OpName = keyof OpAttrs;
