/**
 * How a kernel template spells its reads for gpu.js's SIMD wasm body, as
 * the patch in tuning.ts reads them: the contract between the tuned kernels
 * (kernels/) and the patch, in one place.
 *
 * gpu.js's SIMD body computes four adjacent output cells at once (thread.x =
 * base + 0..3). A read whose index is spelled
 * `<integer terms without this.thread.x> + this.thread.x * s` is a vector
 * load (tuning.ts, adjustment 2); the same index through a local holding
 * this.thread.x is a four-lane gather, about three times slower. The test in
 * test/backend/gpujs/wasm/kernels.test.ts counts both for every tuned kernel
 * of LeNet-5, so a re-spelled template fails it instead of going quietly slow.
 */
import { type Grid, gridOf, k, sameGrid, type Src } from '../../../kernel/source.js';

/**
 * Whether a kernel for an output of `shape` running on `grid` has its last
 * output coordinate as `this.thread.x` (decode's grid path): then a read
 * spelled with `laneTerm` is a vector load in the SIMD body.
 */
export function onLaneAxis(shape: readonly number[], ints: boolean, grid: Grid | null): boolean {
  return ints && grid !== null && shape.length >= 2 && sameGrid(gridOf(shape), grid);
}

/** `this.thread.x * stride`, spelled the way tuning.ts recognises a lane-affine term. */
export function laneTerm(stride: number): Src {
  return stride === 1 ? k`this.thread.x` : k`this.thread.x * ${stride}`;
}

const scalarMark = k`/* striate: scalar wasm */`;

/**
 * Marks a kernel body to be built as a scalar wasm module (no SIMD body):
 * for kernels whose reads are mostly four-lane gathers, which run slower
 * in SIMD than scalar (tuning.ts, adjustment 3).
 */
export function scalarWasm(body: Src): Src {
  return k`${scalarMark}
  ${body}`;
}

/** The text of scalarWasm's mark, which tuning.ts looks for in a kernel's source. */
export const SCALAR_WASM_MARK = scalarMark.text;
