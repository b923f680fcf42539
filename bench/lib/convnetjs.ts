/**
 * LeNet-5 in ConvNetJS (Karpathy, 0.3): plain JavaScript, one image at a
 * time; its Trainer sums per-image gradients over `batch_size` images and
 * then takes the SGD step with their mean (momentum 0, no weight decay).
 * Weights are copied from Striate's layout (ConvNetJS volumes are HWC).
 */
import convnetjs, { type Layer, type Vol } from 'convnetjs';
import { CLASSES, LR, type Params, fc1ToHwc } from './lenet.js';

export interface ConvNetJsLenet {
  /** Train on a batch (one SGD step when the batch completes). */
  trainBatch(xs: readonly Vol[], labels: ArrayLike<number>): number;
  /** Forward a batch, image by image. */
  infer(xs: readonly Vol[]): void;
  /** Mean loss and mean gradients over a batch, without an update, in Striate's layout for the weights checked. */
  lossAndGrads(xs: readonly Vol[], labels: ArrayLike<number>): { loss: number; grads: Partial<Params> };
}

/** One Vol per image (28x28x1). */
export function toVols(x: Float32Array): Vol[] {
  const n = x.length / 784;
  return Array.from({ length: n }, (_, i) => {
    const v = new convnetjs.Vol(28, 28, 1, 0);
    for (let j = 0; j < 784; j++) v.w[j] = x[i * 784 + j];
    return v;
  });
}

export function convnetjsLenet(params: Params, batch: number): ConvNetJsLenet {
  const net = new convnetjs.Net();
  net.makeLayers([
    { type: 'input', out_sx: 28, out_sy: 28, out_depth: 1 },
    { type: 'conv', sx: 5, filters: 6, stride: 1, pad: 0, activation: 'relu' },
    { type: 'pool', sx: 2, stride: 2 },
    { type: 'conv', sx: 5, filters: 16, stride: 1, pad: 0, activation: 'relu' },
    { type: 'pool', sx: 2, stride: 2 },
    { type: 'fc', num_neurons: 120, activation: 'relu' },
    { type: 'fc', num_neurons: 84, activation: 'relu' },
    { type: 'softmax', num_classes: CLASSES },
  ]);
  const convs = net.layers.filter((l) => l.layer_type === 'conv');
  const fcs = net.layers.filter((l) => l.layer_type === 'fc');
  if (convs.length !== 2 || fcs.length !== 3) throw new Error('convnetjs: unexpected layer list');
  const setConv = (l: Layer, w: Float32Array, b: Float32Array, cin: number) => {
    // Striate [O,C,5,5] -> filter o: ((5*fy)+fx)*C + c
    l.filters!.forEach((f, o) => {
      for (let c = 0; c < cin; c++) for (let fy = 0; fy < 5; fy++) for (let fx = 0; fx < 5; fx++) f.w[(5 * fy + fx) * cin + c] = w[((o * cin + c) * 5 + fy) * 5 + fx];
    });
    for (let o = 0; o < b.length; o++) l.biases!.w[o] = b[o];
  };
  const setFc = (l: Layer, w: Float32Array, b: Float32Array, nin: number) => {
    const nout = b.length;
    l.filters!.forEach((f, j) => {
      for (let i = 0; i < nin; i++) f.w[i] = w[i * nout + j];
    });
    for (let j = 0; j < nout; j++) l.biases!.w[j] = b[j];
  };
  setConv(convs[0], params.c1w, params.c1b, 1);
  setConv(convs[1], params.c2w, params.c2b, 6);
  setFc(fcs[0], fc1ToHwc(params.f1w), params.f1b, 256);
  setFc(fcs[1], params.f2w, params.f2b, 120);
  setFc(fcs[2], params.f3w, params.f3b, 84);
  const trainer = new convnetjs.Trainer(net, { method: 'sgd', learning_rate: LR, momentum: 0, batch_size: batch, l1_decay: 0, l2_decay: 0 });
  return {
    trainBatch(xs, labels) {
      let loss = 0;
      for (let i = 0; i < xs.length; i++) loss += trainer.train(xs[i], labels[i]).cost_loss;
      return loss / xs.length;
    },
    infer(xs) {
      for (const x of xs) net.forward(x, false);
    },
    lossAndGrads(xs, labels) {
      for (const l of [...convs, ...fcs]) {
        for (const f of l.filters!) f.dw.fill(0);
        l.biases!.dw.fill(0);
      }
      let loss = 0;
      for (let i = 0; i < xs.length; i++) {
        net.forward(xs[i], true);
        loss += net.backward(labels[i]);
      }
      const n = xs.length;
      const c2w = new Float32Array(16 * 6 * 25);
      convs[1].filters!.forEach((f, o) => {
        for (let c = 0; c < 6; c++) for (let fy = 0; fy < 5; fy++) for (let fx = 0; fx < 5; fx++) c2w[((o * 6 + c) * 5 + fy) * 5 + fx] = f.dw[(5 * fy + fx) * 6 + c] / n;
      });
      const f3w = new Float32Array(84 * 10);
      fcs[2].filters!.forEach((f, j) => {
        for (let i = 0; i < 84; i++) f3w[i * 10 + j] = f.dw[i] / n;
      });
      const c1b = Float32Array.from(convs[0].biases!.dw, (g) => g / n);
      return { loss: loss / n, grads: { c2w, f3w, c1b } };
    },
  };
}
