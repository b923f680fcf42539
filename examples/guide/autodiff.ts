/**
 * Autodiff beyond one reverse pass (README, Forward mode, custom gradients,
 * rematerialisation): a directional derivative by forward mode, a
 * straight-through estimator by a custom VJP, and a deep residual stack
 * whose backward pass recomputes its blocks instead of keeping them.
 *
 *   npx tsx examples/guide/autodiff.ts
 */
import { add, checkpoint, compile, conv2d, customVjp, grad, input, jvp, mul, relu, step, sum, tanh, vjp, type Tensor } from 'striate';

const x = input('x', [1, 2, 6, 6]);
const w = input('w', [2, 2, 3, 3]);
const values = (n: number, k: number) => Float64Array.from({ length: n }, (_, i) => Math.sin(i * k) / 2);
const feeds = { x: values(72, 0.7), w: values(36, 1.3), t: values(72, 2.1), c: values(72, 0.4) };

// 1. Forward mode: J·t in one pass, the same number as <Jᵀc, t> from reverse mode.
const y = tanh(conv2d(x, w, { padding: 'same' }));
const [yDot] = jvp([y], [x], [input('t', x.shape)]);
const [xBar] = vjp([y], [x], [input('c', y.shape)]);
const [forward, reverse] = compile([sum(mul(yDot, input('c', y.shape))), sum(mul(xBar, input('t', x.shape)))]).runSync(feeds);
console.log(`<c, J t> = ${forward.data[0].toFixed(12)} (jvp), ${reverse.data[0].toFixed(12)} (vjp)`);

// 2. A custom gradient: binarize forwards, pass the gradient straight through backwards.
const binarize = customVjp((v: Tensor) => step(v), (g) => [g], { name: 'binarize' });
const [gx] = grad(sum(mul(binarize(x), x)), [x]);
const [gxValue] = compile(gx).runSync({ x: feeds.x });
// d/dx of sum(binarize(x) * x) is binarize(x) + x, as if binarize were the identity.
console.log(`straight-through gradient: ${[...gxValue.data.slice(0, 4)].map((v) => v.toFixed(3)).join(', ')}, ...`);

// 3. Rematerialisation: 24 residual blocks; the backward pass recomputes each block
// from its input instead of keeping its activations from the forward pass.
const images = input('images', [8, 8, 16, 16]);
const filter = input('filter', [8, 8, 3, 3]);
const block = (h: Tensor) => relu(add(h, conv2d(relu(conv2d(h, filter, { padding: 'same' })), filter, { padding: 'same' })));
const recomputed = checkpoint(block);
let plain: Tensor = images;
let light: Tensor = images;
for (let i = 0; i < 24; i++) {
  plain = block(plain);
  light = recomputed(light);
}
const training = (out: Tensor) => compile(grad(sum(mul(out, out)), [filter]), { backend: 'webasm' });
const [heavy, lean] = [training(plain), training(light)];
const data = { images: values(8 * 8 * 16 * 16, 0.3), filter: values(576, 0.9).map((v) => v / 8) };
const [[gPlain], [gLight]] = [await heavy.run(data), await lean.run(data)];
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
console.log(`activations alive at once: ${mib(heavy.memory.peakLiveBytes)} as written, ${mib(lean.memory.peakLiveBytes)} checkpointed`);
console.log(`same gradient: ${gPlain.data.every((v, i) => Math.abs(v - gLight.data[i]) <= 1e-4 * Math.max(1, Math.abs(v)))}`);
await Promise.all([heavy.dispose(), lean.dispose()]);
