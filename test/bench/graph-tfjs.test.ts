/**
 * The bench's translation of Striate graphs into TF.js (bench/lib/graph-tfjs.ts),
 * which `npm run bench -- --model` times against Striate: every translated op
 * must compute what Striate's float64 reference computes, or the zoo bench
 * would compare different models. TF.js's cpu backend (plain JavaScript) runs
 * the translations here; the bench runs them on wasm, behind the same check.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Tensor,
  add,
  avgPool2d,
  compile,
  concat,
  constant,
  conv2d,
  flatten,
  input,
  localResponseNorm,
  matmul,
  maxPool2d,
  mul,
  relu,
  reshape,
  softmax,
  sum,
} from '../../src/index.js';
import { nhwcToNchw, tfGraph } from '../../bench/lib/graph-tfjs.js';
import { tf } from '../../bench/lib/tfjs.js';
import { MODEL_NAMES, makeZooOracle, tfjsZooModel } from '../../bench/lib/zoo.js';
import { compare, rng } from '../../bench/lib/lenet.js';

let previous = '';
beforeAll(async () => {
  previous = tf.getBackend();
  await tf.setBackend('cpu');
});
afterAll(async () => {
  if (previous) await tf.setBackend(previous);
});

const values = (n: number, seed: number) => {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => 2 * r() - 1);
};

/** The graph's outputs from Striate's reference and from the TF.js translation (brought back to NCHW). */
async function both(outputs: Tensor[], seed = 1): Promise<{ want: Float64Array[]; got: Float32Array[] }> {
  const g = tfGraph(outputs);
  const feeds: Record<string, Float32Array> = {};
  [...g.inputs.values()].forEach((i, k) => (feeds[i.name] = values(i.shape.reduce((a, d) => a * d, 1), seed + k)));
  const f = compile(outputs, { backend: 'reference' });
  const want = (await f.run(feeds)).map((o) => Float64Array.from(o.data));
  await f.dispose();
  const tfFeeds = Object.fromEntries([...g.inputs.values()].map((i) => [i.name, tf.tensor(g.toTf(i.name, feeds[i.name]), i.tfShape, 'float32')]));
  const outs = g.run(tfFeeds);
  const got = await Promise.all(
    outs.map(async (o, k) => {
      const d = (await o.data()) as Float32Array;
      return outputs[k].shape.length === 4 ? nhwcToNchw(d, outputs[k].shape) : d;
    }),
  );
  tf.dispose([...outs, ...Object.values(tfFeeds)]);
  return { want, got };
}

async function expectSame(outputs: Tensor[], rtol = 1e-5): Promise<void> {
  const { want, got } = await both(outputs);
  want.forEach((w, k) => {
    const c = compare(`output ${k} (${outputs[k].op})`, got[k], w, rtol);
    expect(c.relErr, c.name).toBeLessThanOrEqual(rtol);
  });
}

describe('graph-tfjs: each translation against the float64 reference', () => {
  const x = input('x', [2, 4, 9, 8]);

  it('convolutions: plain with bias and relu (fused), strided with asymmetric padding, dilated, grouped, depthwise', async () => {
    const w = input('w', [6, 4, 3, 3]);
    const b = input('b', [6]);
    await expectSame([
      relu(conv2d(x, w, { bias: b })),
      conv2d(x, input('w2', [6, 4, 3, 2]), { stride: [2, 1], padding: [1, 0, 2, 1] }),
      conv2d(x, input('w3', [3, 4, 3, 3]), { dilation: 2, padding: 'same' }),
      relu(conv2d(x, input('wg', [6, 2, 3, 3]), { groups: 2, padding: [0, 1, 1, 0], bias: input('bg', [6]) })),
      conv2d(x, input('wd', [4, 1, 3, 3]), { groups: 4, padding: 1, bias: input('bd', [4]) }),
    ]);
  });

  it('pooling: max with padding, mean with and without the padded cells counted', async () => {
    await expectSame([
      maxPool2d(x, { size: 3, stride: 2, padding: [0, 1, 0, 1] }),
      avgPool2d(x, { size: 3, stride: 1, padding: 1, countIncludePad: true }),
      avgPool2d(x, { size: [3, 2], stride: 2, padding: [1, 1, 0, 1] }),
    ]);
  });

  it("local response normalisation, recognised whole (alpha large enough that its scaling shows)", async () => {
    await expectSame([localResponseNorm(relu(x), { size: 3, alpha: 2, beta: 0.75, k: 1 }), localResponseNorm(x, { size: 5, alpha: 0.5, beta: 0.5, k: 2 })]);
  });

  it('reductions: over the batch (left in NCHW order), over channels kept, over the image (global pooling)', async () => {
    await expectSame([sum(x, { axes: [0] }), sum(x, { axes: [1], keepDims: true }), sum(x, { axes: [2, 3] }), sum(x, { axes: [0, 2, 3], keepDims: true }), sum(x, { axes: [1, 3] })]);
  });

  it('reshapes: a flatten (NCHW order), a rank-4 result, unit channels; a concatenation along channels', async () => {
    await expectSame([flatten(x), reshape(x, [4, 2, 9, 8]), reshape(reshape(x, [2, 1, 4, 72]), [2, 4, 9, 8]), concat([x, relu(x)], 1)]);
  });

  it('elementwise ops broadcasting lower-rank operands against NCHW values; a dense layer with bias and relu (fused)', async () => {
    const h = flatten(x);
    await expectSame([
      add(x, input('row', [8])),
      mul(x, reshape(input('perChannel', [4]), [1, 4, 1, 1])),
      mul(x, constant([0.5], [])),
      relu(add(matmul(h, input('fw', [288, 5])), input('fb', [5]))),
      matmul(h, input('fwt', [5, 288]), { transposeB: true }),
    ]);
  });

  it('refuses an op it has no translation for, naming it', () => {
    const feeds = { x: tf.zeros([2, 9, 8, 4]) };
    expect(() => tfGraph([softmax(flatten(x))]).run(feeds)).toThrow(/op softmax .* has no translation/);
    expect(() => tfGraph([maxPool2d(x, { size: 2, ceil: true })]).run(feeds)).toThrow(/maxPool2d with ceil rounding/);
    feeds.x.dispose();
  });
});

describe('graph-tfjs: the zoo models as the bench runs them, at batch 2', () => {
  for (const name of MODEL_NAMES) {
    it(`${name}: loss, gradients, statistics and logits match the float64 reference`, async () => {
      const o = await makeZooOracle(name, { train: 2, infer: 2 });
      const m = await tfjsZooModel(o);
      try {
        const details = [...o.check(await m.lossAndGrads(), o.ref), ...o.checkLogits([await m.infer(o.infer[0]), await m.infer(o.infer[1])])];
        const bad = details.filter((d) => !d.ok);
        expect(bad).toEqual([]);
        expect(details.length).toBeGreaterThan(Object.keys(o.params).length);
        // One SGD step lowers the loss on the batch it saw.
        const before = await m.trainStep();
        expect((await m.lossAndGrads()).loss).toBeLessThan(before);
      } finally {
        m.dispose();
      }
    }, 60_000);
  }
});
