import type { Tensor } from '../graph/tensor.js';
import type { OpName } from './attrs.js';
import { checkInt, makeNode, opError, type OpDef } from './op.js';
import { float, k, type Src } from '../kernel/source.js';

// Labels are class indices, not quantities: the output is piecewise constant
// in them, and a gradient with respect to an index has no meaning.
export const oneHotOp: OpDef<'oneHot'> = {
  name: 'oneHot',
  shape: (inputs, { depth }) => {
    if (inputs.length !== 1) opError('oneHot', `takes 1 input, got ${inputs.length}`, `${inputs.length} inputs`, '1 input (the labels)');
    checkInt('oneHot', 'depth', depth, 1);
    return [...inputs[0], depth];
  },
  vjp: () => [null],
  jvp: () => null, // piecewise constant in the labels
  reference: ([labels], { depth }) => {
    const n = labels.data.length;
    const out = new Float64Array(n * depth);
    for (let i = 0; i < n; i++) {
      const v = labels.data[i];
      if (isClassIndex(v, depth)) out[i * depth + v] = 1;
      else out.fill(NaN, i * depth, (i + 1) * depth);
    }
    return out;
  },
  kernel: ({ attrs: { depth } }) => k`const row = Math.floor((i + 0.5) / ${depth});
  const cls = i - row * ${depth};
  const label = x0[row];
  ${labelTestSource(k`label`, depth)}
  return known > 0.5 ? (Math.abs(label - cls) < 0.5 ? 1.0 : 0.0) : ${NAN_UNLESS_KNOWN};`,
};

/**
 * One-hot rows from class indices: `labels` of shape S (usually `[N]`) holds
 * integers in [0, depth) stored as floats; the result has shape `[...S, depth]`,
 * 1 at each label's class and 0 elsewhere.
 *
 * Labels are checked on the host, on every backend (see `labelPath` in src/ops/oneHot.ts):
 * a graph input that reaches `labels` through ops that only move values is
 * refused by `run` when a fed value is not such an integer, and a constant
 * is refused here, when the op is built. A label computed in the graph
 * (from an argmax, say) cannot be checked before it exists: a row whose
 * label is not a class index is all NaN, on every backend, never a
 * neighbouring row's value or a read out of bounds.
 *
 * ```ts
 * oneHot(input('labels', [32]), 10);   // [32, 10]
 * oneHot(constant([7], [1]), 3);       // throws: 7 is not a class index in [0, 2]
 * ```
 */
export function oneHot(labels: Tensor, depth: number): Tensor<'oneHot'> {
  const node = makeNode(oneHotOp, [labels], { depth });
  checkConstantLabels('oneHot', labels, depth);
  return node;
}

/** Whether `v` is a class index among `classes` classes: an integer in [0, classes). */
export function isClassIndex(v: unknown, classes: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < classes;
}

/** The words for what a label must be, for messages and a StriateError's `expected`. */
export function classIndexRange(classes: number): string {
  return `an integer class index in [0, ${classes - 1}]`;
}

/** Where an op reads class indices: its labels input and the number of classes. */
export interface LabelUse {
  /** The tensor read as class indices. */
  readonly labels: Tensor;
  /** Each label must be an integer in [0, classes). */
  readonly classes: number;
}

/**
 * Where `node` reads class indices (oneHot's input, softmaxCrossEntropy's
 * index labels, softmaxCrossEntropyBackward's labels), or null for an op
 * that reads none.
 */
export function labelUse(node: Tensor): LabelUse | null {
  switch (node.op) {
    case 'oneHot':
      return { labels: node.inputs[0], classes: (node as Tensor<'oneHot'>).attrs.depth };
    case 'softmaxCrossEntropy':
      return (node as Tensor<'softmaxCrossEntropy'>).attrs.labels === 'index' ? { labels: node.inputs[1], classes: node.inputs[0].shape[1] } : null;
    case 'softmaxCrossEntropyBackward':
      return { labels: node.inputs[1], classes: node.inputs[0].shape[1] };
    default:
      return null;
  }
}

/**
 * The ops whose every output value is one of their inputs' values (or pad's
 * constant border), and every input value reaches the output: a label
 * passes through them unchanged, so a constraint on the output is one on
 * the inputs. `slice` is not among them: it drops values, which may be
 * anything (a label column next to other data).
 */
const CARRIES_LABELS: ReadonlySet<OpName> = new Set<OpName>(['reshape', 'transpose', 'broadcastTo', 'concat', 'pad']);

/**
 * `labels` and every node whose values reach it unchanged, through the ops
 * that only move values (reshape, transpose, broadcastTo, concat, pad): the
 * graph inputs among them get a label constraint when a graph is compiled
 * (backend/feeds.ts, collectInputs), and the constants are checked when the
 * op reading the labels is built.
 */
export function labelPath(labels: Tensor): Tensor[] {
  const seen = new Map<number, Tensor>();
  const stack = [labels];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (seen.has(t.id)) continue;
    seen.set(t.id, t);
    if (CARRIES_LABELS.has(t.op)) stack.push(...t.inputs);
  }
  return [...seen.values()];
}

/**
 * Refuse, when an op is built, a constant label that is not a class index:
 * a constant on the label path, or the border value of a pad on it.
 */
export function checkConstantLabels(op: string, labels: Tensor, classes: number): void {
  for (const t of labelPath(labels)) {
    const values = t.op === 'constant' ? (t as Tensor<'constant'>).attrs.value : t.op === 'pad' ? [(t as Tensor<'pad'>).attrs.value] : [];
    const bad = values.findIndex((v) => !isClassIndex(v, classes));
    if (bad < 0) continue;
    const what = t.op === 'pad' ? `the border value of a pad on the labels is ${values[bad]}` : `constant label ${bad} is ${values[bad]}`;
    opError(op, `${what}; labels must be integer class indices in [0, ${classes - 1}]`, `label ${values[bad]}`, classIndexRange(classes));
  }
}

/**
 * Kernel source declaring `known`: 1.0 where the float local `label` is an
 * integer class index in [0, classes), else 0.0 (also for NaN, for which
 * every comparison is false). A few compares per label, no extra pass.
 */
export function labelTestSource(label: Src, classes: number): Src {
  return k`const known = ${label} >= 0.0 && ${label} < ${float(classes)} && Math.floor(${label}) == ${label} ? 1.0 : 0.0;`;
}

/**
 * NaN where `known` (labelTestSource) is 0: known / known, 0/0 computed when
 * the kernel runs. GLSL has no NaN literal, WGSL refuses a constant 0.0 /
 * 0.0, and Mesa and lavapipe fold 0.0 / known to 0 (0 times anything).
 */
export const NAN_UNLESS_KNOWN: Src = k`(known / known)`;
