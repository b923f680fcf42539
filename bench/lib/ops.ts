/**
 * Per-op timings at LeNet-5's shapes (training batch 64): Striate's kernels
 * against TF.js's for the same operation. Each call goes from host arrays to
 * a host array, for both libraries (Striate: `f.run(feeds)` uploads, runs the
 * kernel and reads back; TF.js: tensors from the host arrays, the op, and
 * `data()`), so per-call overheads count alike. TF.js is NHWC with HWIO
 * filters; the data is the same values in the other layout (their contents do
 * not change the work).
 */
import {
  avgPool2d,
  avgPool2dBackward,
  type BackendName,
  compile,
  conv2d,
  conv2dBackpropFilter,
  conv2dBackpropInput,
  input,
  matmul,
  maxPool2d,
  maxPool2dBackward,
  type Tensor,
} from '../../src/index.js';
import { type Rate, type TimingOptions, measureRate } from './measure.js';
import { rng, sizeOf } from './lenet.js';
import { tf } from './tfjs.js';

export interface OpCase {
  readonly name: string;
  /** Shapes in Striate's layout, for the table. */
  readonly shapes: string;
  /** Striate: the graph, from named inputs. */
  striate(): Tensor;
  /** TF.js: tensors in its layout (made from host arrays each call) and the op. */
  tfInputs: Record<string, number[]>;
  tf(t: Record<string, tf.Tensor>): tf.Tensor;
  /** Op that TF.js's wasm backend lacks and the bench patched in. */
  readonly tfWasmPatched?: boolean;
}

const nhwc = ([n, c, h, w]: readonly number[]) => [n, h, w, c];
const hwio = ([o, c, kh, kw]: readonly number[]) => [kh, kw, c, o];

export function opCases(batch = 64): OpCase[] {
  const B = batch;
  const c1x = [B, 1, 28, 28], c1w = [6, 1, 5, 5], c1y = [B, 6, 24, 24];
  const c2x = [B, 6, 12, 12], c2w = [16, 6, 5, 5], c2y = [B, 16, 8, 8];
  const p1y = [B, 6, 12, 12];
  const conv = (name: string, x: number[], w: number[], y: number[]): OpCase => ({
    name: `conv2d ${name}`,
    shapes: `x[${x}] * w[${w}] -> [${y}]`,
    striate: () => conv2d(input('x', x), input('w', w)),
    tfInputs: { x: nhwc(x), w: hwio(w) },
    tf: (t) => tf.conv2d(t.x as tf.Tensor4D, t.w as tf.Tensor4D, 1, 'valid'),
  });
  const bpInput = (name: string, x: number[], w: number[], y: number[]): OpCase => ({
    name: `conv2dBackpropInput ${name}`,
    shapes: `dy[${y}] * w[${w}] -> [${x}]`,
    striate: () => conv2dBackpropInput(input('dy', y), input('w', w), { inputShape: x }),
    tfInputs: { dy: nhwc(y), w: hwio(w) },
    tf: (t) => tf.conv2dTranspose(t.dy as tf.Tensor4D, t.w as tf.Tensor4D, nhwc(x) as [number, number, number, number], 1, 'valid'),
  });
  const bpFilter = (name: string, x: number[], w: number[], y: number[]): OpCase => ({
    name: `conv2dBackpropFilter ${name}`,
    shapes: `x[${x}], dy[${y}] -> [${w}]`,
    striate: () => conv2dBackpropFilter(input('x', x), input('dy', y), { filterShape: w }),
    tfInputs: { x: nhwc(x), dy: nhwc(y) },
    tf: (t) =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x: t.x, dy: t.dy }, {
        strides: [1, 1],
        pad: 'valid',
        dataFormat: 'NHWC',
        dimRoundingMode: undefined,
        filterShape: hwio(w),
      } as never) as tf.Tensor,
    tfWasmPatched: true,
  });
  const pool = (kind: 'max' | 'avg', x: number[], y: number[]): OpCase[] => {
    const fwd = (t: Tensor) => (kind === 'max' ? maxPool2d(t, { size: 2 }) : avgPool2d(t, { size: 2 }));
    const tfFwd = (t: tf.Tensor) => (kind === 'max' ? tf.maxPool(t as tf.Tensor4D, 2, 2, 'valid') : tf.avgPool(t as tf.Tensor4D, 2, 2, 'valid'));
    return [
      {
        name: `${kind}Pool2d 2/2`,
        shapes: `[${x}] -> [${y}]`,
        striate: () => fwd(input('x', x)),
        tfInputs: { x: nhwc(x) },
        tf: (t) => tfFwd(t.x),
      },
      {
        name: `${kind}Pool2d backward`,
        shapes: `x[${x}], dy[${y}] -> [${x}]`,
        striate: () => {
          const xi = input('x', x);
          const p = fwd(xi);
          return kind === 'max'
            ? maxPool2dBackward(xi, input('dy', y), (p as Tensor<'maxPool2d'>).attrs)
            : avgPool2dBackward(input('dy', y), { ...(p as Tensor<'avgPool2d'>).attrs, inputShape: x });
        },
        tfInputs: { x: nhwc(x), dy: nhwc(y) },
        // TF.js's MaxPoolGrad also takes the forward output (it keeps it from the forward pass); it is computed in the timed call too.
        tf: (t) =>
          kind === 'max'
            ? (tf.engine().runKernel('MaxPoolGrad', { dy: t.dy, input: t.x, output: tfFwd(t.x) }, {
                filterSize: [2, 2],
                strides: [2, 2],
                pad: 'valid',
                dimRoundingMode: undefined,
              } as never) as tf.Tensor)
            : (tf.engine().runKernel('AvgPoolGrad', { dy: t.dy, input: t.x }, { filterSize: [2, 2], strides: [2, 2], pad: 'valid' } as never) as tf.Tensor),
      },
    ];
  };
  const mm = (name: string, a: number[], b: number[]): OpCase => ({
    name: `matmul ${name}`,
    shapes: `[${a}] x [${b}]`,
    striate: () => matmul(input('a', a), input('b', b)),
    tfInputs: { a, b },
    tf: (t) => tf.matMul(t.a as tf.Tensor2D, t.b as tf.Tensor2D),
  });
  return [
    conv('conv1', c1x, c1w, c1y),
    conv('conv2', c2x, c2w, c2y),
    bpInput('conv2', c2x, c2w, c2y),
    bpFilter('conv1', c1x, c1w, c1y),
    bpFilter('conv2', c2x, c2w, c2y),
    ...pool('max', c1y, p1y),
    ...pool('avg', c1y, p1y),
    mm('fc1 fwd', [B, 256], [256, 120]),
    mm('fc1 dW', [256, B], [B, 120]),
  ];
}

const randomData = (n: number, seed: number) => {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
};

/** Time one op on a Striate backend: ms per call (median round). */
export async function timeStriateOp(c: OpCase, backend: BackendName, o: TimingOptions): Promise<Rate> {
  const f = compile([c.striate()], { backend });
  const feeds: Record<string, Float32Array> = {};
  f.inputs.forEach((spec, i) => (feeds[spec.name] = randomData(sizeOf(spec.shape), 11 + i)));
  try {
    return await measureRate(() => f.run(feeds), 1, o);
  } finally {
    await f.dispose();
  }
}

/** Time one op on the current TF.js backend: ms per call (median round). */
export async function timeTfOp(c: OpCase, o: TimingOptions): Promise<Rate> {
  const host = Object.entries(c.tfInputs).map(([name, shape], i) => [name, shape, randomData(sizeOf(shape), 11 + i)] as const);
  return measureRate(
    async () => {
      const out = tf.tidy(() => {
        const t: Record<string, tf.Tensor> = {};
        for (const [name, shape, data] of host) t[name] = tf.tensor(data, shape);
        return c.tf(t);
      });
      await out.data();
      out.dispose();
    },
    1,
    o,
  );
}
