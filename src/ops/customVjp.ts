/**
 * A function with a gradient the user defines: `customVjp(fn, rule)`. The
 * forward pass computes `fn` as written; the backward pass calls `rule` for
 * the arguments' cotangents instead of differentiating `fn`. For a
 * straight-through estimator, gradient clipping inside a graph, or a
 * numerically kinder gradient than the automatic one.
 *
 * The node: `customVjp(y, ...args)` is `y` (the same buffer on the devices),
 * with the rule among its attributes; it compiles on every backend like any
 * op, since only the rule's graph (ordinary ops) runs in the backward pass.
 */
import { checkOptions, describeValue, fail } from '../graph/error.js';
import { broadcastsTo } from '../graph/shape.js';
import { Tensor, shapeToString } from '../graph/tensor.js';
import { makeNode, opError, type OpDef } from './op.js';

/** What a custom rule is given besides the cotangent: the node's arguments and its output, as graph tensors. */
export interface CustomRuleContext {
  /** The function's arguments, in order. */
  readonly inputs: readonly Tensor[];
  /** Its output (the forward pass's value, for rules that reuse it). */
  readonly output: Tensor;
}

/**
 * A custom VJP rule: the cotangents of the arguments given the output's
 * cotangent `g`, one entry per argument, each a Tensor of that argument's
 * shape (or of one that broadcasts to it) or `null` for no gradient.
 */
export type CustomVjpRule = (g: Tensor, context: CustomRuleContext) => readonly (Tensor | null)[];

/** A custom JVP rule: the output's tangent given one tangent per argument (null: zero), or null for a zero tangent. */
export type CustomJvpRule = (tangents: readonly (Tensor | null)[], context: CustomRuleContext) => Tensor | null;

/** Options of {@link customVjp}. */
export interface CustomVjpOptions {
  /** Names the function in graphs and in errors (default `'custom'`). */
  name?: string;
  /**
   * The forward-mode rule, for `jvp` through the function (and forward-over-
   * reverse Hessians). Without one, `jvp` refuses the function rather than
   * differentiate `fn` and contradict `rule`.
   */
  jvp?: CustomJvpRule;
}

const OP = 'customVjp';

export const customVjpOp: OpDef<'customVjp'> = {
  name: OP,
  shape: (inputs, attrs) => {
    if (inputs.length < 1) opError(OP, 'takes the output y first, got no inputs', 'no inputs', 'inputs (y, ...args)');
    checkRules(attrs);
    return inputs[0];
  },
  // The user's rule, checked: one cotangent per argument, each null or a
  // Tensor of a shape its argument broadcasts to (vjp sums it back); y gets
  // none, since the rule replaces differentiating fn.
  vjp: (g, node) => {
    const [output, ...inputs] = node.inputs;
    const { name, rule } = node.attrs;
    const got: unknown = rule(g, { inputs, output });
    if (!Array.isArray(got) || got.length !== inputs.length) {
      const what = Array.isArray(got) ? `${got.length} cotangents` : describeValue(got);
      fail(OP, `the rule of "${name}" returned ${what} for ${inputs.length} argument${inputs.length === 1 ? '' : 's'}; return one cotangent (or null) per argument`, what, `an array of ${inputs.length} cotangents`);
    }
    got.forEach((c, i) => {
      if (c === null) return;
      if (!(c instanceof Tensor)) fail(OP, `the rule of "${name}" returned ${describeValue(c)} as cotangent ${i}; expected a Tensor or null`, `cotangent ${i} ${describeValue(c)}`, 'a Tensor or null');
      if (!broadcastsTo(inputs[i].shape, c.shape)) {
        fail(
          OP,
          `the rule of "${name}" returned cotangent ${i} of shape ${shapeToString(c.shape)} for argument ${i} of shape ${shapeToString(inputs[i].shape)}`,
          `cotangent ${i} ${shapeToString(c.shape)}`,
          `shape ${shapeToString(inputs[i].shape)}, that of argument ${i}`,
        );
      }
    });
    return [null, ...(got as (Tensor | null)[])];
  },
  jvp: (tangents, node) => {
    const [output, ...inputs] = node.inputs;
    const { name, jvp } = node.attrs;
    if (jvp === null) {
      fail(
        OP,
        `"${name}" has a custom VJP rule but no JVP rule, so forward mode cannot differentiate it; ` +
          `give customVjp a { jvp } option, or use reverse mode (checkGradients: { mode: 'reverse' })`,
        `jvp through "${name}"`,
        'a customVjp with a jvp option',
      );
    }
    const t: unknown = jvp(tangents.slice(1), { inputs, output });
    if (t === null) return null;
    if (!(t instanceof Tensor) || !broadcastsTo(t.shape, output.shape)) {
      const what = t instanceof Tensor ? `a tangent of shape ${shapeToString(t.shape)}` : describeValue(t);
      fail(OP, `the JVP rule of "${name}" returned ${what}; expected null or a Tensor of shape ${shapeToString(output.shape)}`, what, `a Tensor of shape ${shapeToString(output.shape)}`);
    }
    return t;
  },
  reference: ([y]) => y.data.slice(),
  kernel: 'alias',
};

function checkRules({ name, rule, jvp }: { readonly name: unknown; readonly rule: unknown; readonly jvp: unknown }): void {
  if (typeof name !== 'string' || name === '') opError(OP, `name must be a non-empty string, got ${describeValue(name)}`, `name ${describeValue(name)}`, 'a non-empty string');
  if (typeof rule !== 'function') opError(OP, `rule must be a function (g, { inputs, output }) => cotangents, got ${describeValue(rule)}`, `rule ${describeValue(rule)}`, 'a function');
  if (jvp !== null && typeof jvp !== 'function') opError(OP, `jvp must be a function (tangents, { inputs, output }) => tangent, got ${describeValue(jvp)}`, `jvp ${describeValue(jvp)}`, 'a function or absent');
}

/**
 * `fn` with the gradient `rule` instead of its own. The returned function
 * computes `fn(...args)`; differentiating through it calls
 * `rule(g, { inputs: args, output })`, which returns one cotangent per
 * argument (a Tensor of its shape, or null). A straight-through estimator:
 *
 * ```ts
 * const binarize = customVjp((x) => step(x), (g) => [g], { name: 'binarize' });
 * const [gx] = grad(sum(mul(binarize(x), w)), [x]); // w, as if binarize were the identity
 * ```
 *
 * `fn` may read only its arguments and constants: a tensor it reads from
 * outside would get no gradient (the rule does not know it), so it is
 * refused; pass it as an argument. The rule is checked when a gradient is
 * taken: the wrong count of cotangents or a wrong shape is a StriateError
 * naming the function.
 */
export function customVjp<A extends Tensor[]>(fn: (...args: A) => Tensor, rule: CustomVjpRule, options?: CustomVjpOptions): (...args: A) => Tensor<'customVjp'> {
  if (typeof fn !== 'function') opError(OP, `fn must be a function of tensors, got ${describeValue(fn)}`, `fn ${describeValue(fn)}`, 'a function (...xs: Tensor[]) => Tensor');
  const { name = 'custom', jvp = null } = checkOptions(OP, options, ['name', 'jvp'], "{ name: 'clip' }") ?? {};
  checkRules({ name, rule, jvp });
  return (...args: A): Tensor<'customVjp'> => {
    args.forEach((a, i) => {
      if (!(a instanceof Tensor)) opError(OP, `"${name}": argument ${i} is ${describeValue(a)}, expected a Tensor`, `argument ${i} ${describeValue(a)}`, 'a Tensor');
    });
    const y: unknown = fn(...args);
    if (!(y instanceof Tensor)) opError(OP, `"${name}": fn must return a Tensor, got ${describeValue(y)}`, `a result ${describeValue(y)}`, 'a Tensor');
    checkClosed(name, y, args);
    return makeNode(customVjpOp, [y, ...args], { name, rule, jvp });
  };
}

/** Refuse an `fn` that reads a graph input other than through its arguments (its gradient would be lost). */
function checkClosed(name: string, y: Tensor, args: readonly Tensor[]): void {
  const stop = new Set(args.map((a) => a.id));
  const seen = new Set<number>();
  const stack = [y];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (stop.has(n.id) || seen.has(n.id)) continue;
    seen.add(n.id);
    if (n.op === 'input') {
      const input = (n as Tensor<'input'>).attrs.name;
      fail(
        OP,
        `"${name}": fn reads input "${input}" (%${n.id}), which is not one of its arguments, so its gradient would be lost; ` +
          `pass it as an argument and give its cotangent in the rule`,
        `fn reading input "${input}"`,
        'fn reading only its arguments and constants',
      );
    }
    stack.push(...n.inputs);
  }
}
