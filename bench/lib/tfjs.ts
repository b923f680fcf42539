/**
 * LeNet-5 in TensorFlow.js, written with its core API the way TF.js's layers
 * run it (fused conv2d / matMul with bias and ReLU, NHWC, HWIO filters),
 * trained with `tf.train.sgd` (forward, backward and the update on the
 * backend). Environment-neutral: Node uses the cpu and wasm backends, the
 * browser bench webgl, webgpu and wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { CLASSES, LR, PARAM_NAMES, type ParamName, type Params, TF_SHAPES, fromTfLayout, toTfLayout } from './lenet.js';

export { tf };

type Vars = Record<ParamName, tf.Variable>;

function forward(v: Vars, x: tf.Tensor4D): tf.Tensor2D {
  const n = x.shape[0];
  const conv = (h: tf.Tensor4D, w: tf.Variable, b: tf.Variable) =>
    tf.fused.conv2d({ x: h, filter: w as tf.Tensor4D, strides: 1, pad: 'valid', bias: b, activation: 'relu' });
  let h = tf.maxPool(conv(x, v.c1w, v.c1b), 2, 2, 'valid');
  h = tf.maxPool(conv(h, v.c2w, v.c2b), 2, 2, 'valid');
  let f = tf.reshape(h, [n, 256]) as tf.Tensor2D;
  f = tf.fused.matMul({ a: f, b: v.f1w as tf.Tensor2D, bias: v.f1b, activation: 'relu' }) as tf.Tensor2D;
  f = tf.fused.matMul({ a: f, b: v.f2w as tf.Tensor2D, bias: v.f2b, activation: 'relu' }) as tf.Tensor2D;
  return tf.fused.matMul({ a: f, b: v.f3w as tf.Tensor2D, bias: v.f3b }) as tf.Tensor2D;
}

function lossOf(v: Vars, x: tf.Tensor4D, labels: tf.Tensor1D): tf.Scalar {
  return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, CLASSES), forward(v, x)) as tf.Scalar;
}

export interface TfLenet {
  readonly backend: string;
  /** One SGD step on (x, labels) of `batch` images; resolves to the loss. */
  trainStep(x: Float32Array, labels: Float32Array): Promise<number>;
  /** Logits of a batch, read back to the host. */
  infer(x: Float32Array): Promise<Float32Array>;
  /** Loss and gradients on a batch, gradients in Striate's layout (no update). */
  lossAndGrads(x: Float32Array, labels: Float32Array): Promise<{ loss: number; grads: Params }>;
  dispose(): void;
}

/** Build the model on `backend` (already set with tf.setBackend) from Striate-layout parameters. */
export function tfLenet(params: Params): TfLenet {
  const backend = tf.getBackend();
  const tp = toTfLayout(params);
  const v = {} as Vars;
  for (const name of PARAM_NAMES) v[name] = tf.variable(tf.tensor(tp[name], TF_SHAPES[name]), true);
  const varList = PARAM_NAMES.map((n) => v[n]);
  const opt = tf.train.sgd(LR);
  const inputs = (x: Float32Array, labels?: Float32Array) => {
    const n = x.length / 784;
    return {
      xt: tf.tensor4d(x, [n, 28, 28, 1]),
      lt: labels ? tf.tensor1d(Int32Array.from(labels), 'int32') : null,
    };
  };
  return {
    backend,
    async trainStep(x, labels) {
      const cost = tf.tidy(() => {
        const { xt, lt } = inputs(x, labels);
        return opt.minimize(() => lossOf(v, xt, lt!), true, varList)!;
      });
      const value = (await cost.data())[0];
      cost.dispose();
      return value;
    },
    async infer(x) {
      const out = tf.tidy(() => forward(v, inputs(x).xt));
      const data = (await out.data()) as Float32Array;
      out.dispose();
      return data;
    },
    async lossAndGrads(x, labels) {
      const { value, grads } = tf.tidy(() => {
        const { xt, lt } = inputs(x, labels);
        return tf.variableGrads(() => lossOf(v, xt, lt!), varList);
      });
      const out = {} as Params;
      for (const name of PARAM_NAMES) out[name] = (await grads[v[name].name].data()) as Float32Array;
      const loss = (await value.data())[0];
      tf.dispose([value, ...Object.values(grads)]);
      return { loss, grads: fromTfLayout(out) };
    },
    dispose() {
      tf.dispose(varList);
      opt.dispose();
    },
  };
}

/** How TF.js's wasm backend runs here, e.g. "SIMD, 1 thread" (call after tf.setBackend('wasm')). */
export async function wasmNote(getThreadsCount: () => number): Promise<string> {
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  const n = threads ? getThreadsCount() : 1;
  return `${simd ? 'SIMD' : 'no SIMD'}, ${threads ? 'threaded build, ' : ''}${n} thread${n === 1 ? '' : 's'}`;
}
