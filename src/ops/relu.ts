import type { Tensor } from '../graph/tensor.js';
import { k, type Src } from '../kernel/source.js';
import { defineUnary, unary } from './elementwise.js';
import { reluBackward } from './reluBackward.js';

// d(max(x, 0)) = [x > 0] dx   (the subgradient 0 is taken at the kink x = 0).
// [x > 0] = [y > 0] for y = relu(x), so the gradient reads relu's own output:
// then nothing in the backward pass reads x, and compile can fuse x's
// producer with the relu (see backend/fuse.ts).
//
// NaN: relu(NaN) = NaN on every backend, as in TensorFlow.js and PyTorch
// (`x <= 0` is false for NaN, so the reference passes it through). A fused
// relu (conv2d, matmul, conv2dMaxPool) is spelled the same way.
export const reluOp = defineUnary('relu', {
  vjp: (g, node) => [reluBackward(node, g)],
  jvp: ([t], node) => reluBackward(node, t!),
  reference: (x) => (x <= 0 ? 0 : x),
  kernel: (x) => reluSource(x),
});

/**
 * max(x, 0) as kernel source, NaN kept. GLSL's and WGSL's max(NaN, 0) may
 * return 0 (Mesa's, lavapipe's and SwiftShader's do), so a NaN is passed
 * through explicitly; `x == x` is the NaN test every backend keeps (see
 * takesFirstMaxSource, reduce.ts). `x` is spelled three times: a local or a
 * plain read. (wasm's f32.max keeps NaN by itself.)
 */
export function reluSource(x: Src): Src {
  return k`(${x} == ${x} ? Math.max(${x}, 0.0) : ${x})`;
}

/**
 * Elementwise `max(x, 0)`, the rectified linear unit. Its gradient is `dx`
 * where `x > 0` and 0 elsewhere (0 at the kink `x = 0`); `relu(NaN)` is NaN
 * on every backend. The device backends compute a relu in the kernel of
 * the convolution or dense layer it follows, when nothing else reads that
 * layer's output.
 */
export const relu = (x: Tensor | number): Tensor<'relu'> => unary(reluOp, x);
