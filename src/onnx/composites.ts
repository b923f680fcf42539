/**
 * Finding Striate's composite builders in a built graph, so that the exporter
 * writes them as the one ONNX op each stands for.
 *
 * Batch normalisation at inference, local response normalisation and global
 * average pooling have no op of their own in Striate: their builders make
 * small graphs of elementwise ops, reshapes, a pooling and a sum. ONNX has
 * one op for each (BatchNormalization, LRN, GlobalAveragePool), which serving
 * engines run faster and other tools recognise. A recogniser reads the
 * builder's arguments off a candidate node (its input, the per-channel
 * vectors, the constants) and then builds the builder's graph again from
 * them and compares it, node for node, with the candidate. Only an exact
 * match is written as the ONNX op; anything else, including a builder whose
 * implementation has changed, is written op by op, which is slower to serve
 * but still right. A test checks that the zoo's models do export these ops.
 */
import type { Tensor } from '../graph/tensor.js';
import { batchNormInference } from '../ops/batchNorm.js';
import { globalAvgPool2d } from '../ops/globalPool.js';
import { localResponseNorm } from '../ops/lrn.js';

/** A composite found in the graph: what it is, the tensors it reads and its ONNX attributes. */
export type Composite =
  | {
      readonly kind: 'batchNorm';
      /** x, gamma, beta, running mean, running variance (the last four [C]). */
      readonly deps: readonly Tensor[];
      readonly epsilon: number;
    }
  | { readonly kind: 'lrn'; readonly deps: readonly [Tensor]; readonly size: number; readonly alpha: number; readonly beta: number; readonly k: number }
  | { readonly kind: 'globalAvgPool'; readonly deps: readonly [Tensor] };

/** Input `i` of `t` when `t` is an `op` node, else null: one step of a path through a pattern. */
function arg(t: Tensor | null, op: string, i: number): Tensor | null {
  return t !== null && t.op === op && t.inputs.length > i ? t.inputs[i] : null;
}

/** The value of a scalar constant node, or null. */
function scalarValue(t: Tensor | null): number | null {
  if (t === null || t.op !== 'constant' || t.shape.length !== 0) return null;
  return (t as Tensor<'constant'>).attrs.value[0];
}

/**
 * Whether `a` and `b` compute the same thing: the same node, or nodes of the
 * same op, attributes and shape whose inputs do. `seen` holds pairs already
 * shown equal (the graphs here are small DAGs).
 */
export function sameGraph(a: Tensor, b: Tensor, seen = new Set<string>()): boolean {
  if (a === b) return true;
  const key = `${a.id}:${b.id}`;
  if (seen.has(key)) return true;
  if (a.op !== b.op || a.op === 'input' || a.inputs.length !== b.inputs.length) return false;
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return false;
  if (JSON.stringify(a.attrs) !== JSON.stringify(b.attrs)) return false;
  if (!a.inputs.every((x, i) => sameGraph(x, b.inputs[i], seen))) return false;
  seen.add(key);
  return true;
}

/** A [C] vector behind a per-channel reshape ([1, C] or [1, C, 1, 1]), or null. */
function perChannel(t: Tensor | null): Tensor | null {
  const v = arg(t, 'reshape', 0);
  return v !== null && v.rank === 1 ? v : null;
}

/**
 * batchNormInference(x, gamma, beta, mean, variance, { epsilon }):
 * add(mul(div(sub(x, m), sqrt(add(v, eps))), g), b), the four vectors reshaped to broadcast.
 */
function batchNorm(y: Tensor): Composite | null {
  const scaled = arg(y, 'add', 0);
  const normalised = arg(scaled, 'mul', 0);
  const centred = arg(normalised, 'div', 0);
  const x = arg(centred, 'sub', 0);
  const shifted = arg(arg(normalised, 'div', 1), 'sqrt', 0);
  const epsilon = scalarValue(arg(shifted, 'add', 1));
  const [beta, gamma, mean, variance] = [perChannel(arg(y, 'add', 1)), perChannel(arg(scaled, 'mul', 1)), perChannel(arg(centred, 'sub', 1)), perChannel(arg(shifted, 'add', 0))];
  if (x === null || epsilon === null || !(epsilon > 0) || !beta || !gamma || !mean || !variance || (x.rank !== 2 && x.rank !== 4)) return null;
  const again = batchNormInference(x, gamma, beta, mean, variance, { epsilon });
  return sameGraph(y, again) ? { kind: 'batchNorm', deps: [x, gamma, beta, mean, variance], epsilon } : null;
}

/**
 * localResponseNorm(x, { size, alpha, beta, k }): mul(x, pow(add(mul(reshape(avgPool2d(reshape(mul(x, x)))), alpha), k), -beta)).
 * ONNX's LRN window is Striate's for an odd size only (for an even size
 * Striate's holds one channel more before c, ONNX's one more after), so an
 * even size is left to the op-by-op export.
 */
function lrn(y: Tensor): Composite | null {
  const x = arg(y, 'mul', 0);
  const power = arg(y, 'mul', 1);
  if (x === null || power === null || power.op !== 'pow' || x.rank !== 4) return null;
  const beta = -(power as Tensor<'pow'>).attrs.exponent;
  const shifted = arg(power, 'pow', 0);
  const k = scalarValue(arg(shifted, 'add', 1));
  const scaled = arg(shifted, 'add', 0);
  const alpha = scalarValue(arg(scaled, 'mul', 1));
  const pooled = arg(arg(scaled, 'mul', 0), 'reshape', 0);
  if (k === null || alpha === null || pooled === null || pooled.op !== 'avgPool2d') return null;
  const size = (pooled as Tensor<'avgPool2d'>).attrs.size[0];
  if (size % 2 === 0 || !(k > 0) || !(alpha >= 0) || !(beta >= 0)) return null;
  const again = localResponseNorm(x, { size, alpha, beta, k });
  return sameGraph(y, again) ? { kind: 'lrn', deps: [x], size, alpha, beta, k } : null;
}

/** globalAvgPool2d(x): the mean over axes 2 and 3, [N, C, H, W] to [N, C]. */
function globalAvgPool(y: Tensor): Composite | null {
  const total = y.op === 'sum' ? y : arg(y, 'mul', 0);
  const x = arg(total, 'sum', 0);
  if (x === null || x.rank !== 4 || y.rank !== 2) return null;
  return sameGraph(y, globalAvgPool2d(x)) ? { kind: 'globalAvgPool', deps: [x] } : null;
}

/** The composite whose output `t` is, or null. */
export function findComposite(t: Tensor): Composite | null {
  switch (t.op) {
    case 'add':
      return batchNorm(t);
    case 'mul':
      return lrn(t) ?? globalAvgPool(t);
    case 'sum':
      return globalAvgPool(t);
    default:
      return null;
  }
}
