/**
 * The wasm backends' form of matmul: on a thread grid the output column n is
 * this.thread.x, and op(b)'s element (k, n) is read at
 * `k * bStride + this.thread.x * nStride`: spelled so, the four lanes of
 * gpu.js's SIMD body read it as one vector load (a uniform element of op(a)
 * is shared). On a flat grid every read would be a four-lane gather, and a
 * scalar module is faster there.
 */
import type { KernelContext } from '../../../../ops/op.js';
import { matmulSource } from '../../../../ops/matmul.js';
import type { Src } from '../../../../kernel/source.js';
import { laneTerm, onLaneAxis, scalarWasm } from '../lanes.js';

export function matmulWasm(ctx: KernelContext<'matmul'>): Src {
  if (onLaneAxis(ctx.out, true, ctx.grid)) return matmulSource(ctx, laneTerm);
  return scalarWasm(matmulSource(ctx, () => null));
}
