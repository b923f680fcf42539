// LeNet-5 as a bare graph (no src/nn), for timing the engine alone.
import { add, conv2d, flatten, grad, input, matmul, maxPool2d, relu, softmaxCrossEntropy, type Tensor } from '../src/index.js';

export function lenetGraph(batch: number) {
  const x = input('x', [batch, 1, 28, 28]);
  const labels = input('labels', [batch]);
  const p = {
    c1w: input('c1w', [6, 1, 5, 5]), c1b: input('c1b', [6]),
    c2w: input('c2w', [16, 6, 5, 5]), c2b: input('c2b', [16]),
    f1w: input('f1w', [256, 120]), f1b: input('f1b', [120]),
    f2w: input('f2w', [120, 84]), f2b: input('f2b', [84]),
    f3w: input('f3w', [84, 10]), f3b: input('f3b', [10]),
  };
  let h: Tensor = maxPool2d(relu(conv2d(x, p.c1w, { bias: p.c1b })), { size: 2 });
  h = maxPool2d(relu(conv2d(h, p.c2w, { bias: p.c2b })), { size: 2 });
  h = relu(add(matmul(flatten(h), p.f1w), p.f1b));
  h = relu(add(matmul(h, p.f2w), p.f2b));
  const logits = add(matmul(h, p.f3w), p.f3b);
  const loss = softmaxCrossEntropy(logits, labels);
  const params = Object.values(p);
  const grads = grad(loss, params);
  const feeds: Record<string, Float32Array> = {
    x: Float32Array.from({ length: batch * 784 }, (_, i) => ((i * 7919) % 255) / 255),
    labels: Float32Array.from({ length: batch }, (_, i) => i % 10),
  };
  for (const [name, t] of Object.entries(p)) {
    feeds[name] = Float32Array.from({ length: t.size }, (_, i) => (((i * 2654435761) % 1000) / 1000 - 0.5) * 0.2);
  }
  return { loss, logits, grads, feeds };
}
