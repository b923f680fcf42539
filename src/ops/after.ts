/**
 * `after(x, ...deps)` is `x`, computed no earlier than `deps`: an ordering
 * edge with no arithmetic (XLA calls it an optimization barrier). The
 * checkpoint op's VJP (checkpoint.ts) reads the region it recomputes through
 * it, with the incoming cotangent as the dependency, so that the recomputed
 * activations are made just before the backward pass needs them rather than
 * early in the schedule, where they would sit in memory as long as the
 * originals would have. On the device backends it costs nothing: the output
 * is the input's buffer (`'alias'`).
 */
import { type Tensor, shapeToString } from '../graph/tensor.js';
import { checkTensor, makeNode, opError, type OpDef } from './op.js';

// Its value is x's, whatever deps hold: d(after(x, deps)) = dx, and deps get nothing.
export const afterOp: OpDef<'after'> = {
  name: 'after',
  shape: (inputs) => {
    if (inputs.length < 2) {
      opError('after', `takes x and at least one dependency, got ${inputs.length} input${inputs.length === 1 ? '' : 's'}`, `${inputs.length} inputs`, 'at least 2 inputs (x, ...deps)');
    }
    return inputs[0];
  },
  vjp: (g, { inputs }) => [g, ...inputs.slice(1).map(() => null)],
  jvp: ([t]) => t,
  reference: ([x]) => x.data.slice(),
  kernel: 'alias',
};

/**
 * `x`, scheduled after every tensor of `deps` has been computed: an ordering
 * edge for the compiled plan, with no arithmetic and no copy. Gradients flow
 * to `x` only.
 */
export function after(x: Tensor, ...deps: Tensor[]): Tensor<'after'> {
  checkTensor('after', 'x', x);
  if (deps.length === 0) opError('after', `give at least one tensor to wait for after x ${shapeToString(x.shape)}`, 'no dependencies', 'after(x, dep, ...)');
  return makeNode(afterOp, [x, ...deps], {});
}
