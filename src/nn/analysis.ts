/**
 * What each layer of a built model costs and sees, read off its graph: the
 * multiply-adds of its convolutions and dense layers per example, and the
 * receptive field of its output on the input image (the lecture's two
 * numbers beside the parameter count).
 *
 * Multiply-adds count the products of weights and inputs (a convolution's
 * output elements times C/groups·kH·kW, the filter's own [O, C/groups, kH, kW]
 * read off its shape; a dense layer's inputs times outputs);
 * bias additions, activations, pooling and normalisation are not counted, as
 * the papers' tables do not count them.
 *
 * The receptive field follows the standard recurrence along each spatial
 * axis: a window of k taps, dilation d and stride s over a map whose cells
 * are `jump` input pixels apart and see `rf` pixels grows the field to
 * rf + (d (k − 1)) · jump and the spacing to jump · s; elementwise ops and
 * channel concatenation keep the widest field of their inputs; an op that
 * mixes every position (flatten into a dense layer, a global pooling) sees
 * the whole image. Padding is ignored (it moves a field, not its size).
 */
import { type Shape, type Tensor, sizeOf, topologicalOrder } from '../graph/tensor.js';
import type { BuiltModel } from './model.js';

/** A layer's receptive field: `[height, width]` in input pixels, or 'all' where the output depends on the whole image. */
export type ReceptiveField = readonly [number, number] | 'all';

interface Field {
  readonly rf: [number, number];
  readonly jump: [number, number];
  readonly all: boolean;
  /**
   * Set where the node holds the spatial axes [H, W] folded into its last
   * axis (a reshape [N, C, H, W] -> [N, a, b, H·W], as localResponseNorm
   * does to pool across channels): the field is that of each folded cell.
   */
  readonly folded?: readonly [number, number];
}

/** Multiply-adds of one node per example of a batch of `batch`. */
function multiplyAdds(node: Tensor, batch: number): number {
  if (node.op === 'conv2d') {
    const [, c, kh, kw] = node.inputs[1].shape;
    return (sizeOf(node.shape) * c * kh * kw) / batch;
  }
  if (node.op === 'matmul') {
    const { transposeA } = (node as Tensor<'matmul'>).attrs;
    const a = node.inputs[0].shape;
    const k = transposeA ? a[0] : a[1];
    return (sizeOf(node.shape) * k) / batch;
  }
  if (node.op === 'batchMatmul') {
    const { transposeA } = (node as Tensor<'batchMatmul'>).attrs;
    const a = node.inputs[0].shape;
    return (sizeOf(node.shape) * (transposeA ? a[1] : a[2])) / batch;
  }
  return 0;
}

const ELEMENTWISE = new Set(['add', 'sub', 'mul', 'div', 'neg', 'exp', 'log', 'sqrt', 'relu', 'leakyRelu', 'elu', 'relu6', 'pow', 'sigmoid', 'tanh', 'step', 'pad', 'after', 'checkpoint', 'customVjp']);

/** The field of `node` from its inputs' fields (`image` the input's [H, W]). */
function fieldOf(node: Tensor, fields: ReadonlyMap<number, Field>, image: Shape): Field | undefined {
  const ins = node.inputs.map((t) => fields.get(t.id)).filter((f): f is Field => f !== undefined);
  if (ins.length === 0) return undefined;
  const widest = ins.reduce((a, b) => (b.all || (!a.all && b.rf[0] * b.rf[1] > a.rf[0] * a.rf[1]) ? b : a));
  const whole: Field = { rf: [image[0], image[1]], jump: widest.jump, all: true };
  if (widest.all) return whole;
  const window = (k: readonly number[], s: readonly number[], d: readonly number[]): Field => ({
    rf: [widest.rf[0] + d[0] * (k[0] - 1) * widest.jump[0], widest.rf[1] + d[1] * (k[1] - 1) * widest.jump[1]],
    jump: [widest.jump[0] * s[0], widest.jump[1] * s[1]],
    all: false,
  });
  if (widest.folded) return foldedFieldOf(node, widest, whole);
  switch (node.op) {
    case 'conv2d': {
      const a = (node as Tensor<'conv2d'>).attrs;
      const [, , kh, kw] = node.inputs[1].shape;
      return fields.has(node.inputs[0].id) ? window([kh, kw], a.stride, a.dilation) : undefined;
    }
    case 'maxPool2d':
    case 'avgPool2d': {
      // A pool's dilation widens its field as a convolution's does; ceil rounding adds windows, not width.
      const a = (node as Tensor<'maxPool2d'>).attrs;
      return window(a.size, a.stride, a.dilation ?? [1, 1]);
    }
    case 'concat':
      return (node as Tensor<'concat'>).attrs.axis === 1 ? widest : whole;
    case 'reshape': {
      // A reshape that keeps the spatial axes (e.g. a bias to [1, C, 1, 1]) changes nothing; one that folds
      // them into the last axis keeps the field, folded (see Field); any other mixes them.
      const from = node.inputs[0].shape;
      if (node.rank === 4 && node.shape[2] === from[2] && node.shape[3] === from[3]) return widest;
      if (from.length === 4 && node.rank === 4 && node.shape[0] === from[0] && node.shape[3] === from[2] * from[3]) {
        return { ...widest, folded: [from[2], from[3]] };
      }
      return whole;
    }
    default:
      if (ELEMENTWISE.has(node.op) && node.rank === 4) return widest;
      return whole;
  }
}

/**
 * The field of `node` whose input holds folded spatial axes: elementwise
 * ops and pooling along the other axes only (a window one column wide, as
 * localResponseNorm's across channels) keep it; the reshape that unfolds
 * the axes, [N, a, b, H·W] -> [N, C, H, W], restores it; anything else mixes.
 */
function foldedFieldOf(node: Tensor, widest: Field, whole: Field): Field {
  const [h, w] = widest.folded!;
  switch (node.op) {
    case 'maxPool2d':
    case 'avgPool2d': {
      const a = (node as Tensor<'maxPool2d'>).attrs;
      const columnsKept = a.size[1] === 1 && a.stride[1] === 1 && a.pads[2] === 0 && a.pads[3] === 0 && (a.ceilPads ?? [0, 0])[1] === 0;
      return columnsKept ? widest : whole;
    }
    case 'reshape': {
      const { folded: _, ...unfolded } = widest;
      if (node.rank === 4 && node.shape[2] === h && node.shape[3] === w) return unfolded;
      return node.rank === 4 && node.shape[3] === h * w ? widest : whole;
    }
    default:
      return ELEMENTWISE.has(node.op) && node.rank === 4 ? widest : whole;
  }
}

/**
 * Per layer of `built` (in the order of `built.layers`): the multiply-adds
 * per example of the nodes the layer added to the graph, and the receptive
 * field of its output. `built` is a model built for the image input
 * `[N, C, H, W]` (other inputs get 'all').
 */
export function layerCosts(built: BuiltModel): { multiplyAdds: number[]; receptiveFields: ReceptiveField[] } {
  const batch = built.input.shape[0];
  const image = built.input.rank === 4 ? built.input.shape.slice(2) : [1, 1];
  const fields = new Map<number, Field>();
  if (built.input.rank === 4) fields.set(built.input.id, { rf: [1, 1], jump: [1, 1], all: false });
  const counted = new Set<number>();
  const multiply: number[] = [];
  const receptive: ReceptiveField[] = [];
  for (const out of built.layerOutputs) {
    let macs = 0;
    for (const node of topologicalOrder([out])) {
      if (counted.has(node.id)) continue;
      counted.add(node.id);
      macs += multiplyAdds(node, batch);
      const f = fieldOf(node, fields, image);
      if (f) fields.set(node.id, f);
    }
    multiply.push(macs);
    const f = fields.get(out.id);
    receptive.push(f === undefined || f.all ? 'all' : [f.rf[0], f.rf[1]]);
  }
  return { multiplyAdds: multiply, receptiveFields: receptive };
}
