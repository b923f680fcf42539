import { describe, expect, it } from 'vitest';
import { buildModel, compile, defineModel, initParams, initStats, layerOutputs, nn, predict, StriateError, tensorValue, type Model, type Params } from 'striate';
import {
  createExplainer,
  gradCam,
  integratedGradients,
  occlusion,
  resizeBilinear,
  smoothGrad,
  vanillaGradient,
} from '../../src/explain/saliency.js';
import { randomValues } from '../helpers.js';

/** A small conv net: [2, 6, 6] → conv 3@3×3 → relu → pool 2 → dense 4. */
const small = defineModel('small', [2, 6, 6], [
  nn.conv2d('c1', { filters: 3, size: 3 }),
  nn.relu(),
  nn.maxPool2d({ size: 2 }),
  nn.flatten(),
  nn.dense('fc', { units: 4 }),
]);
const smallParams = initParams(small, 7);
const image = (n: number, seed: number): Float32Array => Float32Array.from(randomValues(n, seed));
const smallImage = image(72, 3);

/** The model's logits for one image, in float64, by the reference interpreter. */
async function logitsOf(model: Model, params: Params, x: ArrayLike<number>): Promise<Float64Array> {
  const built = buildModel(model, { batchSize: 1 });
  const feeds: Record<string, ArrayLike<number>> = { x };
  for (const p of built.params) feeds[p.name] = params[p.name].data;
  const [z] = await compile(built.output, { backend: 'reference' }).run(feeds);
  return z.data as Float64Array;
}

/**
 * A model that cannot see odd rows or odd columns: a 1×1 convolution with
 * stride 2 on [1, 7, 7] reads pixels (2i, 2j) only.
 */
const strided = defineModel('strided', [1, 7, 7], [
  nn.conv2d('c', { filters: 3, size: 1, stride: 2 }),
  nn.relu(),
  nn.flatten(),
  nn.dense('fc', { units: 4 }),
]);
const stridedParams = initParams(strided, 11);
const unseen = (i: number): boolean => Math.floor(i / 7) % 2 === 1 || (i % 7) % 2 === 1;

/**
 * Hand-set weights on [1, 8, 8]: conv 2@2×2 stride 2 (channel 0 the mean of
 * each 2×2 block, channel 1 minus it) → relu (`relu1`, [2, 4, 4]) → dense 2,
 * where class 0 is the mean of channel 0 over the top-left quadrant and
 * class 1 the mean of channel 1 over the bottom-right: class 0 sees only
 * the top-left quadrant, class 1 only the bottom-right.
 */
const quadrant = defineModel('quadrant', [1, 8, 8], [nn.conv2d('conv', { filters: 2, size: 2, stride: 2 }), nn.relu(), nn.flatten(), nn.dense('fc', { units: 2 })]);
const quadrantParams: Params = (() => {
  const w = new Float32Array(8).fill(0.25);
  w.fill(-0.25, 4);
  const fc = new Float32Array(32 * 2); // [32 features (c, h, w), 2 classes]
  for (let h = 0; h < 4; h++) {
    for (let x = 0; x < 4; x++) {
      if (h < 2 && x < 2) fc[(0 * 16 + h * 4 + x) * 2 + 0] = 0.25;
      if (h >= 2 && x >= 2) fc[(1 * 16 + h * 4 + x) * 2 + 1] = 0.25;
    }
  }
  return {
    'conv.w': tensorValue([2, 1, 2, 2], w),
    'conv.b': tensorValue([2], new Float32Array(2)),
    'fc.w': tensorValue([32, 2], fc),
    'fc.b': tensorValue([2], new Float32Array(2)),
  };
})();
/** Small noise everywhere, a bright blob in the top-left quadrant and a dark one in the bottom-right. */
const quadrantImage = (() => {
  const x = Float32Array.from(randomValues(64, 5), (v) => 0.05 * v);
  for (const [i, j] of [[1, 1], [1, 2], [2, 1], [2, 2], [0, 3]]) x[i * 8 + j] = 1;
  for (const [i, j] of [[5, 5], [5, 6], [6, 5], [6, 6], [7, 4]]) x[i * 8 + j] = -1;
  return x;
})();
/** The share of a map's total in the pixels where `inside(i, j)`. */
function share(data: ArrayLike<number>, W: number, inside: (i: number, j: number) => boolean): number {
  let all = 0;
  let part = 0;
  for (let p = 0; p < data.length; p++) {
    all += data[p];
    if (inside(Math.floor(p / W), p % W)) part += data[p];
  }
  return part / all;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe('vanilla gradient', () => {
  it('is the derivative of the target logit (central differences, float64)', async () => {
    const explainer = createExplainer(small, smallParams, { backend: 'reference' });
    try {
      const z = await logitsOf(small, smallParams, smallImage);
      const top = z.indexOf(Math.max(...z));
      const g = await explainer.vanillaGradient(smallImage);
      expect(g.target).toBe(top);
      expect(g.shape).toEqual([2, 6, 6]);
      const g2 = await explainer.vanillaGradient(smallImage, { target: 2 });
      expect(g2.target).toBe(2);
      const h = 1e-4;
      for (const i of [0, 7, 20, 41, 71]) {
        const up = Float64Array.from(smallImage);
        const down = Float64Array.from(smallImage);
        up[i] += h;
        down[i] -= h;
        const fd = ((await logitsOf(small, smallParams, up))[2] - (await logitsOf(small, smallParams, down))[2]) / (2 * h);
        expect(g2.data[i]).toBeCloseTo(fd, 5);
      }
    } finally {
      await explainer.dispose();
    }
  });

  it("explains the softmax probability with score: 'probability'", async () => {
    const g = await vanillaGradient(small, smallParams, smallImage, { backend: 'reference', score: 'probability', target: 1 });
    const h = 1e-4;
    for (const i of [3, 30]) {
      const up = Float64Array.from(smallImage);
      const down = Float64Array.from(smallImage);
      up[i] += h;
      down[i] -= h;
      const p = async (x: Float64Array): Promise<number> => {
        const z = await logitsOf(small, smallParams, x);
        const m = Math.max(...z);
        const e = Array.from(z, (v) => Math.exp(v - m));
        return e[1] / e.reduce((a, b) => a + b, 0);
      };
      expect(g.data[i]).toBeCloseTo(((await p(up)) - (await p(down))) / (2 * h), 6);
    }
  });

  it('is 0 at every pixel the model cannot see', async () => {
    const x = image(49, 8);
    const g = await vanillaGradient(strided, stridedParams, x, { backend: 'reference', target: 0 });
    let seenNonZero = 0;
    for (let i = 0; i < 49; i++) {
      if (unseen(i)) expect(g.data[i]).toBe(0);
      else if (g.data[i] !== 0) seenNonZero++;
    }
    expect(seenNonZero).toBeGreaterThan(8); // 16 seen pixels, most with a gradient
  });
});

describe('SmoothGrad', () => {
  it('with sigma 0 equals the vanilla gradient', async () => {
    // tanh, not ReLU: a ReLU net's gradient is piecewise constant, so small noise could hide in it.
    const smooth = defineModel('smooth', [2, 6, 6], [nn.conv2d('c1', { filters: 3, size: 3 }), nn.tanh(), nn.flatten(), nn.dense('fc', { units: 4 })]);
    const explainer = createExplainer(smooth, initParams(smooth, 2), { backend: 'reference', batchSize: 4 });
    try {
      const plain = await explainer.vanillaGradient(smallImage, { target: 1 });
      const smooth = await explainer.smoothGrad(smallImage, { target: 1, sigma: 0, samples: 10 });
      expect(smooth.target).toBe(1);
      expect(maxAbsDiff(smooth.data, plain.data)).toBeLessThan(1e-12);
    } finally {
      await explainer.dispose();
    }
  });

  it('is seeded, independent of the batch size, and differs from the vanilla gradient with noise', async () => {
    const a = await smoothGrad(small, smallParams, smallImage, { backend: 'reference', target: 0, samples: 12, seed: 3, batchSize: 5 });
    const b = await smoothGrad(small, smallParams, smallImage, { backend: 'reference', target: 0, samples: 12, seed: 3 });
    const c = await smoothGrad(small, smallParams, smallImage, { backend: 'reference', target: 0, samples: 12, seed: 4 });
    const plain = await vanillaGradient(small, smallParams, smallImage, { backend: 'reference', target: 0 });
    expect(maxAbsDiff(a.data, b.data)).toBeLessThan(1e-7);
    expect(maxAbsDiff(a.data, c.data)).toBeGreaterThan(1e-4);
    expect(maxAbsDiff(a.data, plain.data)).toBeGreaterThan(1e-4);
  });

  it('is 0 at every pixel the model cannot see', async () => {
    const g = await smoothGrad(strided, stridedParams, image(49, 9), { backend: 'reference', target: 1, samples: 8, sigma: 0.3 });
    for (let i = 0; i < 49; i++) if (unseen(i)) expect(g.data[i]).toBe(0);
  });
});

describe('Integrated Gradients', () => {
  // Non-zero biases put ReLU kinks along the path from a zero baseline too (with zero biases the
  // net is linear along the ray α·x, and any rule is exact).
  const biased: Params = {
    ...smallParams,
    'c1.b': tensorValue([3], Float32Array.from(randomValues(3, 99), (v) => 0.3 * v)),
    'fc.b': tensorValue([4], Float32Array.from(randomValues(4, 98), (v) => 0.3 * v)),
  };

  it.each([
    ['midpoint', 64],
    ['trapezoid', 128],
  ] as const)('is complete with the %s rule (%i steps): the attributions sum to f(x) − f(baseline) within 1%%', async (rule, steps) => {
    const explainer = createExplainer(small, biased, { backend: 'reference', batchSize: 50 });
    try {
      for (const [seed, baseline] of [[3, 0], [4, 0.5], [5, 0], [6, -0.3]] as const) {
        const x = image(72, seed);
        const ig = await explainer.integratedGradients(x, { rule, steps, baseline });
        const z = await logitsOf(small, biased, x);
        const z0 = await logitsOf(small, biased, new Float64Array(72).fill(baseline));
        expect(ig.score).toBeCloseTo(z[ig.target], 10);
        expect(ig.baselineScore).toBeCloseTo(z0[ig.target], 10);
        const total = ig.data.reduce((s, v) => s + v, 0);
        const change = ig.score - ig.baselineScore;
        expect(Math.abs(change)).toBeGreaterThan(0.5);
        expect(Math.abs(total - change)).toBeLessThan(0.01 * Math.abs(change));
        expect(ig.delta).toBeCloseTo(total - change, 5);
      }
    } finally {
      await explainer.dispose();
    }
  });

  it('takes a baseline image, and is 0 at every pixel the model cannot see', async () => {
    const x = image(49, 12);
    const baseline = image(49, 13);
    const ig = await integratedGradients(strided, stridedParams, x, { backend: 'reference', baseline, steps: 20, target: 2 });
    for (let i = 0; i < 49; i++) if (unseen(i)) expect(ig.data[i]).toBe(0);
    expect(ig.data.some((v) => v !== 0)).toBe(true);
  });
});

describe('Grad-CAM', () => {
  it('puts its mass in the quadrant the class depends on', async () => {
    const explainer = createExplainer(quadrant, quadrantParams, { backend: 'reference' });
    try {
      const tl = await explainer.gradCam(quadrantImage, 'relu1', { target: 0 });
      const br = await explainer.gradCam(quadrantImage, 'relu1', { target: 1 });
      expect(tl.shape).toEqual([8, 8]);
      expect(tl.map.shape).toEqual([4, 4]);
      const topLeft = (half: number) => (i: number, j: number) => i < half && j < half;
      const bottomRight = (half: number) => (i: number, j: number) => i >= half && j >= half;
      // At the layer's 4×4 resolution nearly all of it; resized to 8×8 the bilinear ramp lends
      // the pixels just across the quadrant's edges some of it.
      expect(share(tl.map.data, 4, topLeft(2))).toBeGreaterThan(0.9);
      expect(share(br.map.data, 4, bottomRight(2))).toBeGreaterThan(0.9);
      expect(share(tl.data, 8, topLeft(4))).toBeGreaterThan(0.75);
      expect(share(br.data, 8, bottomRight(4))).toBeGreaterThan(0.75);
      expect(share(tl.data, 8, bottomRight(4))).toBeLessThan(0.05);
      expect(share(br.data, 8, topLeft(4))).toBeLessThan(0.05);
      // Without a target it explains the top class, here class 0 (the bright blob is brighter).
      expect((await explainer.gradCam(quadrantImage, 'relu1')).target).toBe(0);
    } finally {
      await explainer.dispose();
    }
  });

  it('weights each channel by the spatial mean of the gradient', async () => {
    const cam = await gradCam(quadrant, quadrantParams, quadrantImage, 'relu1', { backend: 'reference', target: 0 });
    // ∂S_0/∂A is 1/4 on channel 0's four top-left cells and 0 elsewhere: α = [4 · (1/4) / 16, 0].
    expect(Array.from(cam.weights)).toEqual([1 / 16, 0]);
    const { relu1 } = await layerOutputs(quadrant, quadrantParams, quadrantImage, ['relu1'], { backend: 'reference' });
    expect(maxAbsDiff(cam.map.data, Array.from(relu1.data.subarray(0, 16), (a) => a / 16))).toBeLessThan(1e-7);
  });

  it('resizes bilinearly with half-pixel centres', () => {
    expect(Array.from(resizeBilinear([0, 1], [1, 2], [1, 4]))).toEqual([0, 0.25, 0.75, 1]);
    const src = Float32Array.from(randomValues(12, 1));
    expect(resizeBilinear(src, [3, 4], [3, 4])).toEqual(src);
    expect(Array.from(resizeBilinear([2, 2, 2, 2], [2, 2], [5, 3]))).toEqual(new Array(15).fill(2));
  });
});

describe('occlusion', () => {
  it('gives no change where the patch hides only what the model cannot see', async () => {
    const x = image(49, 21);
    const occ = await occlusion(strided, stridedParams, x, { backend: 'reference', size: 1, target: 3, batchSize: 10 });
    expect(Array.from(occ.ys)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    let seenChange = 0;
    for (let p = 0; p < 49; p++) {
      if (unseen(p)) expect(occ.drops[p]).toBe(0);
      else if (occ.drops[p] !== 0) seenChange++;
    }
    expect(seenChange).toBeGreaterThan(8);
    // A 1×1 patch covers one pixel: the per-pixel map is the drops.
    expect(occ.data).toEqual(occ.drops);
  });

  it('measures the drop of the class score per position, with positions flush to the edge', async () => {
    const explainer = createExplainer(quadrant, quadrantParams, { backend: 'reference', batchSize: 3 });
    try {
      const occ = await explainer.occlusion(quadrantImage, { size: 3, stride: 2, fill: 0, target: 0 });
      expect(Array.from(occ.ys)).toEqual([0, 2, 4, 5]);
      expect(Array.from(occ.xs)).toEqual([0, 2, 4, 5]);
      const z = await logitsOf(quadrant, quadrantParams, quadrantImage);
      expect(occ.score).toBeCloseTo(z[0], 6);
      for (const [i, j] of [[0, 0], [1, 2], [3, 3]]) {
        const hidden = Float64Array.from(quadrantImage);
        for (let y = occ.ys[i]; y < occ.ys[i] + 3; y++) for (let x = occ.xs[j]; x < occ.xs[j] + 3; x++) hidden[y * 8 + x] = 0;
        expect(occ.drops[i * 4 + j]).toBeCloseTo(z[0] - (await logitsOf(quadrant, quadrantParams, hidden))[0], 6);
      }
      // Class 0 depends on the top-left quadrant only: patches outside it change nothing.
      for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) if (occ.ys[i] >= 4 || occ.xs[j] >= 4) expect(occ.drops[i * 4 + j]).toBe(0);
      expect(occ.drops[0]).toBeGreaterThan(0);
    } finally {
      await explainer.dispose();
    }
  });
});

describe('a model with batch norm', () => {
  it('reads its running statistics from stats, as predict does', async () => {
    const bn = defineModel('bn', [1, 4, 4], [nn.conv2d('c', { filters: 2, size: 3 }), nn.batchNorm('bn'), nn.flatten(), nn.dense('d', { units: 3 })]);
    const params = initParams(bn, 1);
    const stats = { ...initStats(bn), 'bn.mean': tensorValue([2], Float32Array.of(0.3, -0.2)), 'bn.variance': tensorValue([2], Float32Array.of(2, 0.5)) };
    const x = image(16, 4);
    const ig = await integratedGradients(bn, params, x, { backend: 'reference', stats, target: 1, steps: 8 });
    const p = await predict(bn, params, x, { backend: 'reference', stats });
    expect(ig.score).toBeCloseTo(p.logits[1], 5);
    // Conv, batch norm and dense are affine: the path integral is exact for any rule.
    expect(Math.abs(ig.delta)).toBeLessThan(1e-6);
  });
});

describe('per-call params', () => {
  it('explain with the call\'s parameters, as an explainer made with them does, and leave the explainer\'s own alone', async () => {
    const other = initParams(small, 8);
    const ref = { backend: 'reference' as const };
    const mine = createExplainer(small, smallParams, ref);
    const theirs = createExplainer(small, other, ref);
    try {
      const before = await mine.vanillaGradient(smallImage);
      for (const method of ['vanillaGradient', 'smoothGrad', 'integratedGradients'] as const) {
        const got = await mine[method](smallImage, { params: other, ...(method === 'smoothGrad' ? { samples: 4 } : {}) });
        const want = await theirs[method](smallImage, method === 'smoothGrad' ? { samples: 4 } : {});
        expect(got.target).toBe(want.target);
        expect(Array.from(got.data)).toEqual(Array.from(want.data));
      }
      const cam = await mine.gradCam(smallImage, 'relu1', { params: other, target: 1 });
      expect(Array.from(cam.data)).toEqual(Array.from((await theirs.gradCam(smallImage, 'relu1', { target: 1 })).data));
      const occ = await mine.occlusion(smallImage, { size: 2, params: other, target: 3 });
      expect(Array.from(occ.drops)).toEqual(Array.from((await theirs.occlusion(smallImage, { size: 2, target: 3 })).drops));
      // The two parameter sets explain differently, and the explainer's own are still its default.
      expect(Array.from((await mine.vanillaGradient(smallImage, { params: other, target: 0 })).data)).not.toEqual(Array.from((await mine.vanillaGradient(smallImage, { target: 0 })).data));
      expect(Array.from((await mine.vanillaGradient(smallImage)).data)).toEqual(Array.from(before.data));
      await expect(mine.vanillaGradient(smallImage, { params: {} })).rejects.toThrow('vanillaGradient: params has no "c1.w" (shape [3,2,3,3])');
      await expect(mine.gradCam(smallImage, 'relu1', { params: { ...other, 'fc.b': tensorValue([5], new Float32Array(5)) } })).rejects.toThrow(
        'gradCam: parameter "fc.b" has shape [5] but model "small" needs [4]',
      );
    } finally {
      await mine.dispose();
      await theirs.dispose();
    }
  });
});

describe('errors', () => {
  const ref = { backend: 'reference' as const };

  it('name the function and say what was wrong', async () => {
    const explainer = createExplainer(small, smallParams, ref);
    try {
      await expect(explainer.gradCam(smallImage, 'nope')).rejects.toThrow('gradCam: the model has no layer named "nope"; its layers are c1, relu1, pool1, flatten1, fc');
      await expect(explainer.gradCam(smallImage, 'fc')).rejects.toThrow('gradCam: layer "fc" gives [1,4], not feature maps [N, C, h, w]');
      await expect(explainer.vanillaGradient(smallImage, { target: 4 })).rejects.toThrow('vanillaGradient: target must be a class index in [0, 3] (model "small" has 4 classes), got 4');
      await expect(explainer.integratedGradients(smallImage, { target: -1 })).rejects.toThrow('integratedGradients: target must be a class index in [0, 3]');
      await expect(explainer.smoothGrad(new Float32Array(71))).rejects.toThrow('smoothGrad: image holds 71 values but model "small" reads [2,6,6] (72 values) per example; give one example');
      await expect(explainer.occlusion(new Float32Array(10), { size: 2 })).rejects.toThrow('occlusion: image holds 10 values');
      await expect(explainer.occlusion(smallImage, { size: 7 })).rejects.toThrow('occlusion: the 7×7 patch is larger than the 6×6 image');
      await expect(explainer.occlusion(smallImage, { size: 0 } as never)).rejects.toThrow('occlusion: size must be a positive integer or a pair [h, w] of them, got 0');
      await expect(explainer.integratedGradients(smallImage, { baseline: new Float32Array(3) })).rejects.toThrow('integratedGradients: baseline holds 3 values');
      await expect(explainer.integratedGradients(smallImage, { rule: 'simpson' as never })).rejects.toThrow("integratedGradients: rule must be 'midpoint' or 'trapezoid'");
      await expect(explainer.smoothGrad(smallImage, { sigma: -1 })).rejects.toThrow('smoothGrad: sigma must be a finite number ≥ 0, got -1');
      await expect(explainer.smoothGrad(smallImage, { samples: 0 })).rejects.toThrow('smoothGrad: samples must be a positive integer, got 0');
      await expect(explainer.vanillaGradient(smallImage, { targte: 1 } as never)).rejects.toThrow('vanillaGradient: unknown option "targte"');
      const nan = Float32Array.from(smallImage);
      nan[5] = NaN;
      await expect(explainer.vanillaGradient(nan)).rejects.toThrow('vanillaGradient: image[5] is number NaN; every value must be a finite number');
      await expect(explainer.vanillaGradient(smallImage, { target: 4 })).rejects.toBeInstanceOf(StriateError);
    } finally {
      await explainer.dispose();
    }
    await expect(explainer.vanillaGradient(smallImage)).rejects.toThrow('vanillaGradient: this explainer has been disposed');
  });

  it('refuse bad explainers and models', async () => {
    expect(() => createExplainer(small, {}, ref)).toThrow('createExplainer: params has no "c1.w" (shape [3,2,3,3])');
    expect(() => createExplainer(small, smallParams, { ...ref, score: 'prob' as never })).toThrow("createExplainer: score must be 'logit', 'probability' or 'logProbability'");
    expect(() => createExplainer(small, smallParams, { ...ref, batchSize: 1.5 })).toThrow('createExplainer: batchSize must be a positive integer, got 1.5');
    await expect(gradCam(small, smallParams, smallImage, 'nope', ref)).rejects.toThrow('gradCam: the model has no layer named "nope"');
    await expect(occlusion(small, smallParams, smallImage, { ...ref, size: 2, strid: 1 } as never)).rejects.toThrow('occlusion: unknown option "strid"');
    const flat = defineModel('flat', [5], [nn.dense('d', { units: 3 })]);
    await expect(occlusion(flat, initParams(flat, 1), new Float32Array(5), { ...ref, size: 1 })).rejects.toThrow('occlusion: model "flat" reads [5], not an image [C, H, W]');
    const bn = defineModel('bn', [1, 4, 4], [nn.conv2d('c', { filters: 2, size: 3 }), nn.batchNorm('bn'), nn.flatten(), nn.dense('d', { units: 2 })]);
    expect(() => createExplainer(bn, initParams(bn, 1), ref)).toThrow('createExplainer: model "bn" reads "bn.mean" (shape [2]), which is not a parameter; give its value in the stats option');
  });
});

describe('on webasm', () => {
  it('agrees with the reference backend', async () => {
    const ref = createExplainer(small, smallParams, { backend: 'reference', batchSize: 8 });
    const wasm = createExplainer(small, smallParams, { backend: 'webasm', batchSize: 8 });
    try {
      const scale = (a: ArrayLike<number>): number => Math.max(...Array.from(a, Math.abs));
      for (const method of ['vanillaGradient', 'smoothGrad', 'integratedGradients'] as const) {
        const want = await ref[method](smallImage, { target: 1 });
        const got = await wasm[method](smallImage, { target: 1 });
        expect(maxAbsDiff(got.data, want.data)).toBeLessThan(1e-4 * scale(want.data));
      }
      const cw = await ref.gradCam(smallImage, 'relu1', { target: 2 });
      const cg = await wasm.gradCam(smallImage, 'relu1', { target: 2 });
      expect(maxAbsDiff(cg.data, cw.data)).toBeLessThan(1e-4 * Math.max(1e-6, scale(cw.data)));
      const ow = await ref.occlusion(smallImage, { size: 2, target: 0 });
      const og = await wasm.occlusion(smallImage, { size: 2, target: 0 });
      expect(maxAbsDiff(og.drops, ow.drops)).toBeLessThan(1e-4 * scale(ow.drops));
    } finally {
      await ref.dispose();
      await wasm.dispose();
    }
  });
});
