/**
 * The wasm backends' tuned kernels, keyed by op name. The executor asks here
 * first on `webasm` and `webasm-threads`; an op with no entry, or whose entry
 * returns null for these shapes and attributes, runs its portable template
 * (the op file's `kernel`). A tuned kernel computes exactly what the
 * portable one does: the device conformance suite checks both against the
 * float64 reference, and test/backend/gpujs/wasm/kernels.test.ts checks that
 * LeNet-5's kernels still take these forms and still get vector loads.
 */
import type { OpName } from '../../../../ops/attrs.js';
import type { KernelContext, KernelStages } from '../../../../ops/op.js';
import type { Src } from '../../../../kernel/source.js';
import { conv2dBackpropFilterWasm, conv2dBackpropInputWasm, conv2dMaxPoolWasm, conv2dWasm } from './conv.js';
import { matmulWasm } from './matmul.js';
import { maxPool2dBackwardWasm, maxPool2dSelectWasm, maxPool2dWasm } from './pool.js';

/** A tuned kernel: the source for these shapes and attributes, or null where the op's portable template should run. */
export type TunedKernel<O extends OpName> = (ctx: KernelContext<O>) => Src | KernelStages | null;

export const wasmKernels: { readonly [O in OpName]?: TunedKernel<O> } = {
  conv2d: conv2dWasm,
  conv2dBackpropInput: conv2dBackpropInputWasm,
  conv2dBackpropFilter: conv2dBackpropFilterWasm,
  conv2dMaxPool: conv2dMaxPoolWasm,
  matmul: matmulWasm,
  maxPool2d: maxPool2dWasm,
  maxPool2dSelect: maxPool2dSelectWasm,
  maxPool2dBackward: maxPool2dBackwardWasm,
};

/** The tuned kernel of `op` for `ctx`, or null (no entry, or it does not apply). */
export function wasmKernel<O extends OpName>(op: O, ctx: KernelContext<O>): Src | KernelStages | null {
  const tuned = wasmKernels[op] as TunedKernel<O> | undefined;
  return tuned ? tuned(ctx) : null;
}
