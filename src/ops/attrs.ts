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
import type { CustomJvpRule, CustomVjpRule } from './customVjp.js';

/** Two integers for the two spatial axes, rows first: `[h, w]`; as a padding, `[before, after]` on one axis. */
export type Pair = readonly [number, number];
/** Zero padding of a 2-D window op: rows added at the top and bottom, columns at the left and right. */
export type Pads2d = readonly [top: number, bottom: number, left: number, right: number];

/** A `conv2d` node's attributes: {@link Conv2dOptions} resolved to integers. */
export interface Conv2dAttrs {
  /** Step of the filter over rows and columns, each >= 1. */
  readonly stride: Pair;
  /** Spacing between filter taps over rows and columns, each >= 1 (1: adjacent taps). */
  readonly dilation: Pair;
  /** The zero padding, resolved (a 'same' padding already split between the sides). */
  readonly pads: Pads2d;
  /**
   * How many groups the channels are split into, an integer >= 1 dividing
   * both the input's channels C and the filter's output channels O: output
   * channel o reads only the C/groups input channels of its group
   * floor(o / (O/groups)), and the filter is `[O, C/groups, kH, kW]`. 1 is a
   * plain convolution; groups = C is a depthwise one.
   */
  readonly groups: number;
  /** When true the node has a third input, the bias `[outChannels]`. */
  readonly hasBias: boolean;
  /**
   * When true the output passes through relu: relu(conv2d(...)) fused into one
   * kernel by compile's rewrite for the device backends (see backend/fuse.ts).
   * `conv2d()` always makes false.
   */
  readonly relu: boolean;
}
/** A `conv2dBackpropInput` node's attributes: the forward convolution's geometry (its groups included) and the shape of its input. */
export interface Conv2dBackpropInputAttrs extends Omit<Conv2dAttrs, 'hasBias' | 'relu'> {
  /** Shape of the convolution's input `[N, C, H, W]`, which cannot be recovered from the output alone. */
  readonly inputShape: Shape;
}
/** A `conv2dBackpropFilter` node's attributes: the forward convolution's geometry (its groups included) and the shape of its filter. */
export interface Conv2dBackpropFilterAttrs extends Omit<Conv2dAttrs, 'hasBias' | 'relu'> {
  /** Shape of the filter `[O, C/groups, kH, kW]`. */
  readonly filterShape: Shape;
}
/**
 * A pooling node's attributes: {@link Pool2dOptions} resolved to integers.
 * `dilation` and `ceilPads` are optional, absent meaning their defaults
 * ([1, 1] and [0, 0]); the builders leave them out at their defaults, so an
 * undilated, floor-rounded pooling's node is as before they existed.
 */
export interface Pool2dAttrs {
  /** Window height and width (taps, before dilation). */
  readonly size: Pair;
  /** Step between windows over rows and columns. */
  readonly stride: Pair;
  /** The user's padding, resolved; each side smaller than the dilated window on its axis. */
  readonly pads: Pads2d;
  /**
   * Spacing between window taps over rows and columns, each >= 1 (absent: [1, 1]):
   * tap (ky, kx) of window (oy, ox) reads input cell (oy*sh - top + ky*dh, ox*sw - left + kx*dw).
   */
  readonly dilation?: Pair;
  /**
   * Rows added at the bottom and columns at the right by ceil rounding of the
   * output size, beyond `pads` (absent: [0, 0], floor rounding). Each is 0 or
   * exactly what the ceil rule gives for the node's input (the shape rule
   * checks), hence below the stride. They act as padding for the maximum but
   * are never counted in a mean, even with countIncludePad (PyTorch's rule).
   */
  readonly ceilPads?: Pair;
}
/** maxPool2d(conv2d(...)) fused (backend/gpujs/wasm/rewrites.ts): the convolution's attributes (its groups included) and the pool's. */
export interface Conv2dMaxPoolAttrs {
  /** The convolution's attributes. */
  readonly conv: Conv2dAttrs;
  /** The pooling's attributes, over the convolution's output. */
  readonly pool: Pool2dAttrs;
}
/** An `avgPool2d` node's attributes: the window, and what a border mean divides by. */
export interface AvgPool2dAttrs extends Pool2dAttrs {
  /**
   * false (the default): the mean at a padded border is taken over the window's
   * cells that lie inside the input (TensorFlow's rule); true: over the whole
   * window, padded zeros included (PyTorch's default).
   */
  readonly countIncludePad: boolean;
}
/** An `avgPool2dBackward` node's attributes: the forward pooling's, and the shape of its input. */
export interface AvgPool2dBackwardAttrs extends AvgPool2dAttrs {
  /** Shape of the pooling's input `[N, C, H, W]`, the shape of the gradient this node computes. */
  readonly inputShape: Shape;
}
/** A `sum` or `max` node's attributes: {@link ReduceOptions} resolved. */
export interface ReduceAttrs {
  /** Sorted, non-negative, distinct axes. */
  readonly axes: readonly number[];
  /** Whether each reduced axis stays as a dimension of size 1. */
  readonly keepDims: boolean;
}

/**
 * Every op's attributes, keyed by op name: what `Tensor<O>.attrs` holds for a
 * node of op `O`, as the op's function validated and resolved them. The keys
 * are the ops; a node's `op` is one of them.
 */
export interface OpAttrs {
  /** A graph input: the name its feed is given under. */
  input: {
    /** The feed's key in `run(feeds)`. */
    readonly name: string;
  };
  /** A constant tensor. */
  constant: {
    /** The values, row-major (a frozen copy: typed arrays cannot be frozen). */
    readonly value: readonly number[];
  };
  // elementwise, NumPy broadcasting
  /** a + b; no attributes. */
  add: {};
  /** a - b; no attributes. */
  sub: {};
  /** a * b; no attributes. */
  mul: {};
  /** a / b; no attributes. */
  div: {};
  /** -x; no attributes. */
  neg: {};
  /** e^x; no attributes. */
  exp: {};
  /** ln x; no attributes. */
  log: {};
  /** √x; no attributes. */
  sqrt: {};
  /** max(x, 0); no attributes. */
  relu: {};
  /** reluBackward(x, g): g where x > 0, else 0 (relu's gradient in one kernel). */
  reluBackward: {};
  /** 1 / (1 + e^-x); no attributes. */
  sigmoid: {};
  /** tanh x; no attributes. */
  tanh: {};
  /** 1 where x > 0, else 0: the derivative of relu. Its own derivative is zero. */
  step: {};
  /** x > 0 ? x : alpha x, the leaky rectifier. */
  leakyRelu: {
    /** The slope for x <= 0, a finite number in [0, 1). */
    readonly alpha: number;
  };
  /** x > 0 ? x : alpha (e^x − 1), the exponential linear unit. */
  elu: {
    /** The scale of the negative part, a finite number > 0. */
    readonly alpha: number;
  };
  /** min(max(x, 0), 6); no attributes. */
  relu6: {};
  /** x^exponent for a constant exponent (Math.pow's meaning: NaN for x < 0 and a fractional exponent). */
  pow: {
    /** The exponent, a finite number of magnitude at most 2^24. */
    readonly exponent: number;
  };
  // shapes
  /** The same values in another shape (no copy on devices). */
  reshape: {
    /** The new shape, -1 already inferred. */
    readonly shape: Shape;
  };
  /** The input repeated along broadcast axes. */
  broadcastTo: {
    /** The target shape. */
    readonly shape: Shape;
  };
  /** The input's axes permuted. */
  transpose: {
    /** Output axis k is input axis `perm[k]`. */
    readonly perm: readonly number[];
  };
  /** A constant border around the input. */
  pad: {
    /** `[before, after]` elements added on each axis. */
    readonly pads: readonly Pair[];
    /** The border's value. */
    readonly value: number;
  };
  /** A box cut out of the input. */
  slice: {
    /** The box's first element on each axis. */
    readonly begin: readonly number[];
    /** The box's extent on each axis, -1 already resolved. */
    readonly size: readonly number[];
  };
  /** The inputs joined along one axis. */
  concat: {
    /** The axis they are joined along, non-negative. */
    readonly axis: number;
  };
  // reductions
  /** A sum over some axes. */
  sum: ReduceAttrs;
  /** A maximum over some axes. */
  max: ReduceAttrs;
  /** 1 at the first maximum (row-major) of each group reduced by `max` over `axes`, 0 elsewhere. */
  maxMask: {
    /** The reduced axes, as in {@link ReduceAttrs}. */
    readonly axes: readonly number[];
  };
  // linear algebra
  /** op(a) op(b), op transposing where the flag is set (read in place, never materialised). */
  matmul: {
    /** Read `a` transposed (stored `[K, M]`). */
    readonly transposeA: boolean;
    /** Read `b` transposed (stored `[N, K]`). */
    readonly transposeB: boolean;
    /** A third input, bias [N], added to every row; and relu applied after. Both made only by backend/fuse.ts; `matmul()` makes false. */
    readonly hasBias: boolean;
    /** Relu applied to the result (see `hasBias`). */
    readonly relu: boolean;
  };
  /** op(a[p]) op(b[p]) for each p of the leading (batch) axis; `matmul()` makes it for operands of rank > 2. */
  batchMatmul: {
    /** Read each `a[p]` transposed (a stored `[B, K, M]`). */
    readonly transposeA: boolean;
    /** Read each `b[p]` transposed (b stored `[B, N, K]`). */
    readonly transposeB: boolean;
  };
  // classification
  /** Softmax along one axis. */
  softmax: {
    /** The axis, non-negative. */
    readonly axis: number;
  };
  /** Log-softmax along one axis. */
  logSoftmax: {
    /** The axis, non-negative. */
    readonly axis: number;
  };
  /** One-hot rows from class indices. */
  oneHot: {
    /** The number of classes: the length of each row. */
    readonly depth: number;
  };
  /** Softmax cross-entropy of logits `[N, C]` against labels. */
  softmaxCrossEntropy: {
    /** 'index': labels `[N]` hold class indices; 'onehot': labels `[N, C]` hold probabilities. */
    readonly labels: 'index' | 'onehot';
    /** How the rows' losses are combined. */
    readonly reduction: 'mean' | 'sum' | 'none';
  };
  /** softmaxCrossEntropy's gradient wrt the logits, index labels (the op's VJP builds it). */
  softmaxCrossEntropyBackward: {
    /** The forward op's reduction. */
    readonly reduction: 'mean' | 'sum' | 'none';
  };
  // convolution and pooling
  /** A 2-D convolution, grouped or not, with bias and fused relu. */
  conv2d: Conv2dAttrs;
  /** A convolution and the max pool after it, one kernel (made only by the wasm backends' rewrites). */
  conv2dMaxPool: Conv2dMaxPoolAttrs;
  /** A convolution's gradient wrt its input. */
  conv2dBackpropInput: Conv2dBackpropInputAttrs;
  /** A convolution's gradient wrt its filter. */
  conv2dBackpropFilter: Conv2dBackpropFilterAttrs;
  /** 2-D max pooling. */
  maxPool2d: Pool2dAttrs;
  /** Inputs (x, dy): routes each dy to the first maximum of its window in x. */
  maxPool2dBackward: Pool2dAttrs;
  /** Inputs (x, dx): reads dx at the first maximum of each window of x (the VJP of maxPool2dBackward). */
  maxPool2dSelect: Pool2dAttrs;
  /** 2-D mean pooling. */
  avgPool2d: AvgPool2dAttrs;
  /** Mean pooling's gradient wrt its input. */
  avgPool2dBackward: AvgPool2dBackwardAttrs;
  // autodiff
  /** Inputs (x, ...deps): x, scheduled after deps (an ordering edge; no attributes). */
  after: {};
  /** Inputs (y, ...args, ...free): y, whose region between args and y the backward pass recomputes. */
  checkpoint: {
    /** How many of the inputs after y are the function's arguments (the rest are the tensors it read from outside). */
    readonly args: number;
  };
  /** Inputs (y, ...args): y, differentiated by a user's rule instead of through its graph. */
  customVjp: {
    /** The function's name, for graphs and errors. */
    readonly name: string;
    /** The cotangents of args from y's cotangent (see {@link CustomVjpRule}). */
    readonly rule: CustomVjpRule;
    /** The tangent of y from args' tangents, or null: forward mode refuses the node. */
    readonly jvp: CustomJvpRule | null;
  };
}

/** The name of an op: `'conv2d'`, `'add'`, … (every key of {@link OpAttrs}). */
export type OpName = keyof OpAttrs;
