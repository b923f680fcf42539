/**
 * TensorFlow.js 4.22's wasm backend registers no `Conv2DBackpropFilter`
 * kernel, so a conv net cannot be trained on it out of the box (the gradient
 * of conv2d with respect to its filter throws "Kernel 'Conv2DBackpropFilter'
 * not registered for backend 'wasm'"). The bench reports that, and then
 * registers this kernel to measure training anyway; every number measured
 * with it is labelled "patched".
 *
 * The kernel is the straightforward direct algorithm in JavaScript (the one
 * TF.js's own cpu backend uses), reading x and dy from the wasm heap and
 * writing the filter gradient there, with the loops ordered so the innermost
 * one runs over contiguous output channels (NHWC / HWIO):
 *
 *   dW[p, q, c, o] = sum over b, i, j of x[b, i*sh - pt + p*dh, j*sw - pl + q*dw, c] * dy[b, i, j, o]
 *
 * Accumulated in float64, stored as float32.
 *
 * A second, faster variant (`patchWasmConv2DBackpropFilter(tf, 'matmul')`)
 * builds the transposed im2col matrix P^T [kH*kW*C, N*oH*oW] in JavaScript and lets
 * the wasm backend's own BatchMatMul (XNNPACK) compute dW = P^T dy: the
 * strongest TF.js wasm training number the bench can give without changing
 * TF.js. Both are checked against Striate's float64 reference by the bench's
 * correctness guard.
 */
import type * as tfNs from '@tensorflow/tfjs';

type Tf = typeof tfNs;

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: 'float32'): tfNs.TensorInfo;
  typedArrayFromHeap(t: tfNs.TensorInfo): Float32Array;
  incRef(dataId: unknown): void;
  disposeData(dataId: unknown, force?: boolean): boolean;
}

export type PatchKind = 'js' | 'matmul';

/** What a contestant measured with the patch says of it. */
export const patchNote = (kind: PatchKind): string => `${PATCHED_KERNEL} registered by the bench: ${PATCH_DESCRIPTION[kind]} (bench/lib/tfjs-wasm-patch.ts)`;

export const PATCH_DESCRIPTION: Record<PatchKind, string> = {
  js: 'direct loops in JavaScript on the wasm heap, as TF.js cpu computes it',
  matmul: "im2col (transposed) in JavaScript, then dW = patches^T x dy by TF.js wasm's own BatchMatMul (XNNPACK)",
};

let registered: PatchKind | null = null;

export const PATCHED_KERNEL = 'Conv2DBackpropFilter';

/** Whether the wasm backend has a Conv2DBackpropFilter kernel (its own, or the bench's). */
export function wasmHasConv2DBackpropFilter(tf: Tf): boolean {
  return tf.getKernel(PATCHED_KERNEL, 'wasm') !== undefined;
}

/** Which of the bench's kernels is registered now, if any. */
export const patchedKind = (): PatchKind | null => registered;

/**
 * Register a Conv2DBackpropFilter kernel for 'wasm' (replacing one this module
 * registered before; never one TF.js has of its own). Returns whether it did.
 */
export function patchWasmConv2DBackpropFilter(tf: Tf, kind: PatchKind = 'js'): boolean {
  if (registered === kind) return false;
  if (registered) tf.unregisterKernel(PATCHED_KERNEL, 'wasm');
  else if (wasmHasConv2DBackpropFilter(tf)) return false;
  registered = kind;
  tf.registerKernel({
    kernelName: PATCHED_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, dy } = inputs as { x: tfNs.TensorInfo; dy: tfNs.TensorInfo };
      const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as {
        strides: number | [number, number];
        pad: 'valid' | 'same' | number;
        dataFormat: 'NHWC' | 'NCHW';
        dimRoundingMode?: 'floor' | 'round' | 'ceil';
        filterShape: [number, number, number, number];
      };
      if (dataFormat !== 'NHWC') throw new Error('bench patch: Conv2DBackpropFilter supports NHWC only');
      const info = tf.backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number],
        filterShape,
        strides,
        1,
        pad,
        dimRoundingMode,
        false,
        'channelsLast',
      );
      const b = backend as unknown as WasmBackendLike;
      return kind === 'js' ? directLoops(b, x, dy, filterShape, info) : im2colMatMul(tf, b, x, dy, filterShape, info);
    },
  });
  return true;
}

type ConvInfo = ReturnType<Tf['backend_util']['computeConv2DInfo']>;

function directLoops(b: WasmBackendLike, x: tfNs.TensorInfo, dy: tfNs.TensorInfo, filterShape: number[], info: ConvInfo): tfNs.TensorInfo {
  const out = b.makeOutput([...filterShape], 'float32');
  // Views after makeOutput: growing the heap would detach earlier ones.
  const xv = b.typedArrayFromHeap(x);
  const dyv = b.typedArrayFromHeap(dy);
  const dw = b.typedArrayFromHeap(out);
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, strideHeight, strideWidth } = info;
  const { filterHeight, filterWidth, dilationHeight, dilationWidth } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const acc = new Float64Array(filterHeight * filterWidth * inChannels * outChannels);
  for (let n = 0; n < batchSize; n++) {
    for (let i = 0; i < outHeight; i++) {
      for (let j = 0; j < outWidth; j++) {
        const dyOff = ((n * outHeight + i) * outWidth + j) * outChannels;
        for (let p = 0; p < filterHeight; p++) {
          const xr = i * strideHeight - pt + p * dilationHeight;
          if (xr < 0 || xr >= inHeight) continue;
          for (let q = 0; q < filterWidth; q++) {
            const xc = j * strideWidth - pl + q * dilationWidth;
            if (xc < 0 || xc >= inWidth) continue;
            const xOff = ((n * inHeight + xr) * inWidth + xc) * inChannels;
            const wOff = (p * filterWidth + q) * inChannels * outChannels;
            for (let c = 0; c < inChannels; c++) {
              const xval = xv[xOff + c];
              const o0 = wOff + c * outChannels;
              for (let o = 0; o < outChannels; o++) acc[o0 + o] += xval * dyv[dyOff + o];
            }
          }
        }
      }
    }
  }
  dw.set(acc);
  return out;
}

function im2colMatMul(tf: Tf, b: WasmBackendLike, x: tfNs.TensorInfo, dy: tfNs.TensorInfo, filterShape: number[], info: ConvInfo): tfNs.TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, strideHeight, strideWidth } = info;
  const { filterHeight, filterWidth, dilationHeight, dilationWidth } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const rows = batchSize * outHeight * outWidth;
  const cols = filterHeight * filterWidth * inChannels;
  // The transposed patch matrix P^T [kH*kW*C, N*oH*oW], written row by row (contiguous), so the product needs no transpose.
  const patchesT = b.makeOutput([1, cols, rows], 'float32');
  const pv = b.typedArrayFromHeap(patchesT);
  const xv = b.typedArrayFromHeap(x);
  for (let p = 0; p < filterHeight; p++) {
    for (let q = 0; q < filterWidth; q++) {
      for (let c = 0; c < inChannels; c++) {
        let k = ((p * filterWidth + q) * inChannels + c) * rows;
        for (let n = 0; n < batchSize; n++) {
          for (let i = 0; i < outHeight; i++) {
            const xr = i * strideHeight - pt + p * dilationHeight;
            const rowOk = xr >= 0 && xr < inHeight;
            const base = (n * inHeight + xr) * inWidth;
            for (let j = 0; j < outWidth; j++, k++) {
              const xc = j * strideWidth - pl + q * dilationWidth;
              pv[k] = rowOk && xc >= 0 && xc < inWidth ? xv[(base + xc) * inChannels + c] : 0;
            }
          }
        }
      }
    }
  }
  b.incRef(dy.dataId);
  const dy3: tfNs.TensorInfo = { dataId: dy.dataId, shape: [1, rows, outChannels], dtype: 'float32' };
  const matMul = tf.getKernel('BatchMatMul', 'wasm');
  if (!matMul) throw new Error('bench patch: the wasm backend has no BatchMatMul kernel');
  const prod = matMul.kernelFunc({ inputs: { a: patchesT, b: dy3 }, backend: b as never, attrs: { transposeA: false, transposeB: false } }) as tfNs.TensorInfo;
  b.disposeData(patchesT.dataId);
  b.disposeData(dy3.dataId);
  return { dataId: prod.dataId, shape: [...filterShape], dtype: 'float32' };
}
