// The lecture's equivalence: a convolution layer computes exactly what one small MLP with shared
// weights computes when it runs on every k×k block of its input and its outputs are laid out as a map.
// Here a 5×5 convolution with 6 filters, ReLU, then a 1×1 convolution with 4, against the MLP
// 25 -> 6 (ReLU) -> 4 run on each 5×5 block: the same weights, the same numbers (to float64 rounding:
// the sums run in another order) and the same multiply-adds.
import { add, compile, conv2d, createRng, defineModel, input, matmul, nn, relu, summary } from 'striate';

const [H, W, k, hidden, out] = [12, 12, 5, 6, 4];
const rng = createRng(1);
const values = (n: number, scale: number) => Float64Array.from({ length: n }, () => scale * rng.normal());
const image = values(H * W, 1);
// One set of weights: filter h of the first convolution is row h of the MLP's first dense layer.
const w1 = values(hidden * k * k, 0.2); // [6, 1, 5, 5] as filters, [6, 25] as the MLP's rows
const b1 = values(hidden, 0.1);
const w2 = values(out * hidden, 0.3); // [4, 6, 1, 1] as filters, [4, 6] as the MLP's rows
const b2 = values(out, 0.1);
const weights = { w1, b1, w2, b2 };

// The convolution side, on the whole image at once (the float64 reference backend, the default).
const x = input('x', [1, 1, H, W]);
const hiddenMaps = relu(conv2d(x, input('w1', [hidden, 1, k, k]), { bias: input('b1', [hidden]) }));
const convolution = conv2d(hiddenMaps, input('w2', [out, hidden, 1, 1]), { bias: input('b2', [out]) });
const [maps] = await compile(convolution).run({ x: image, ...weights });
const [, , oH, oW] = maps.shape;

// The MLP side: one block of k·k pixels in, 4 numbers out: relu(block · w1ᵀ + b1) · w2ᵀ + b2.
const block = input('block', [1, k * k]);
const layer1 = relu(add(matmul(block, input('w1', [hidden, k * k]), { transposeB: true }), input('b1', [hidden])));
const mlp = compile(add(matmul(layer1, input('w2', [out, hidden]), { transposeB: true }), input('b2', [out])));
const mlpAdds = k * k * hidden + hidden * out; // the two products of one run

// Run it on every block (the block at (i, j) feeds output position (i, j)) and lay its outputs out as a map.
const laidOut = new Float64Array(out * oH * oW);
let runs = 0;
for (let i = 0; i < oH; i++) {
  for (let j = 0; j < oW; j++) {
    const pixels = Float64Array.from({ length: k * k }, (_, p) => image[(i + Math.floor(p / k)) * W + j + (p % k)]);
    const [y] = await mlp.run({ block: pixels, ...weights });
    for (let o = 0; o < out; o++) laidOut[(o * oH + i) * oW + j] = y.data[o];
    runs++;
  }
}

let worst = 0;
for (let i = 0; i < laidOut.length; i++) worst = Math.max(worst, Math.abs(laidOut[i] - maps.data[i]));
// The convolution's multiply-adds as the model summary counts them (nn/analysis.ts), from the layer shapes alone.
const asModel = defineModel('conv', [1, H, W], [nn.conv2d('conv1', { filters: hidden, size: k }), nn.relu(), nn.conv2d('conv2', { filters: out, size: 1 })]);
const counted = summary(asModel);
const parameters = w1.length + b1.length + w2.length + b2.length;

const n = (v: number) => v.toLocaleString('en-US');
console.log(`convolution: conv ${k}x${k} ${hidden} filters, relu, conv 1x1 ${out} filters on [1,1,${H},${W}] -> [${maps.shape}]: ${n(counted.totalMultiplyAdds)} multiply-adds, ${n(counted.totalParams)} parameters`);
console.log(`MLP ${k * k} -> ${hidden} relu -> ${out} on each of the ${runs} ${k}x${k} blocks: ${runs} runs x ${mlpAdds} = ${n(runs * mlpAdds)} multiply-adds, ${n(parameters)} parameters, shared`);
console.log(`max |convolution - MLP map| = ${worst.toExponential(1)}`);
console.log(`without sharing, a dense layer from the ${H * W} pixels to the ${hidden}x${oH}x${oW} hidden map alone would need ${n(H * W * hidden * oH * oW)} weights`);
await mlp.dispose();
