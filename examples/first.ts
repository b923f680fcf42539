// The README's first example: a small conv graph, its gradient, run on the reference backend.
import { compile, conv2d, grad, input, maxPool2d, mul, relu, sum } from 'striate';

const x = input('x', [2, 3, 9, 9]); // named graph input, static shape (NCHW)
const w = input('w', [4, 3, 3, 3]); // filters [out, in, kH, kW]
const b = input('b', [4]);
const y = relu(conv2d(x, w, { stride: 2, padding: 1, bias: b }));
const p = maxPool2d(y, { size: 2, stride: 2 });
const c = input('c', p.shape);
const loss = sum(mul(p, c));
const [gx, gw, gb] = grad(loss, [x, w, b]); // new symbolic tensors, same shapes as x, w, b

console.log(loss.toString()); // one line per node: op, attributes, shape

const f = compile([p, gx, gw, gb], { backend: 'reference' });
const [pv, gxv, gwv, gbv] = await f.run({
  x: new Float32Array(2 * 3 * 9 * 9).fill(0.5),
  w: new Float32Array(4 * 3 * 3 * 3).fill(0.1),
  b: [0, 0.1, 0.2, 0.3],
  c: new Float32Array(p.shape.reduce((a, d) => a * d, 1)).fill(1),
});
console.log(pv.shape, gwv.data.slice(0, 4)); // each result is { shape, data }
console.log(gxv.shape, gbv.data);
