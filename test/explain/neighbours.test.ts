import { describe, expect, it } from 'vitest';
import { defineModel, initParams, layerOutputs, lenet5, nn, StriateError } from 'striate';
import { createNeighbourIndex, featureLayer, nearestNeighbours } from '../../src/explain/neighbours.js';
import { randomValues } from '../helpers.js';

/** [2, 6, 6] → conv 3@3×3 → relu → pool 2 → dense 8 → relu → dense 4: features are relu2's 8 values. */
const small = defineModel('small', [2, 6, 6], [
  nn.conv2d('c1', { filters: 3, size: 3 }),
  nn.relu(),
  nn.maxPool2d({ size: 2 }),
  nn.flatten(),
  nn.dense('fc1', { units: 8 }),
  nn.relu(),
  nn.dense('fc2', { units: 4 }),
]);
const params = initParams(small, 5);
const PER = 72;
const COUNT = 40;
const images = Float32Array.from(randomValues(COUNT * PER, 17));

/** Distances from row `q` of `queries` to every row of `features` (float64, by the definitions). */
function bruteForce(features: Float32Array, queries: Float32Array, q: number, dim: number, metric: 'euclidean' | 'cosine'): number[] {
  const a = queries.subarray(q * dim, (q + 1) * dim);
  const out: number[] = [];
  for (let r = 0; r < features.length / dim; r++) {
    const b = features.subarray(r * dim, (r + 1) * dim);
    if (metric === 'euclidean') out.push(Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0)));
    else {
      const dot = a.reduce((s, v, i) => s + v * b[i], 0);
      const n = Math.hypot(...a) * Math.hypot(...b);
      out.push(n === 0 ? 1 : 1 - dot / n);
    }
  }
  return out;
}

describe('featureLayer', () => {
  it('is the input of the dense layer that makes the output', () => {
    expect(featureLayer(small)).toBe('relu2');
    expect(featureLayer(lenet5())).toBe('relu4');
    expect(featureLayer(lenet5({ dropout: 0.5 }))).toBe('relu4');
    const named = defineModel('named', [1, 8, 8], [nn.conv2d('c', { filters: 2, size: 3 }), nn.flatten({ name: 'features' }), nn.dense('fc', { units: 3 })]);
    expect(featureLayer(named)).toBe('features');
  });

  it('is refused where the output is not a dense layer', () => {
    const conv = defineModel('convOut', [1, 4, 4], [nn.conv2d('c', { filters: 2, size: 3 }), nn.globalAvgPool2d()]);
    expect(() => featureLayer(conv)).toThrow('featureLayer: the output of model "convOut" is not made by a dense layer, so it has no default feature layer; give the layer option, one of c, pool1');
  });
});

describe('a neighbour index', () => {
  it("finds each training image's nearest neighbour: itself, at distance 0", async () => {
    const index = await createNeighbourIndex(small, params, images, { backend: 'reference', batchSize: 7 });
    try {
      expect(index.layer).toBe('relu2');
      expect([index.count, index.dim]).toEqual([COUNT, 8]);
      const { relu2 } = await layerOutputs(small, params, images, ['relu2'], { backend: 'reference' });
      expect(index.features).toEqual(relu2.data);
      // Queried as images, through the query graph (batches of 16, the last one padded).
      const near = await index.query(images, { k: 3 });
      expect(near.count).toBe(COUNT);
      for (let q = 0; q < COUNT; q++) {
        expect(near.indices[q * 3]).toBe(q);
        expect(near.distances[q * 3]).toBe(0);
      }
      // Queried by index, from the stored rows.
      const byIndex = index.nearestTo([0, 9, 39], { k: 1 });
      expect(Array.from(byIndex.indices)).toEqual([0, 9, 39]);
      expect(Array.from(byIndex.distances)).toEqual([0, 0, 0]);
      for (const metric of ['euclidean', 'cosine'] as const) {
        const r = index.nearestTo(4, { k: 1, metric });
        expect(r.indices[0]).toBe(4);
        expect(r.distances[0]).toBeLessThan(1e-7);
      }
    } finally {
      await index.dispose();
    }
  });

  it.each(['euclidean', 'cosine'] as const)('ranks by %s distance as the definition does, nearest first', async (metric) => {
    const index = await createNeighbourIndex(small, params, images, { backend: 'reference', metric });
    try {
      const queries = Float32Array.from(randomValues(3 * PER, 23));
      const qf = await index.featuresOf(queries);
      const k = 6;
      const near = await index.query(queries, { k });
      for (let q = 0; q < 3; q++) {
        const all = bruteForce(index.features, qf, q, index.dim, metric);
        const want = all.map((d, i) => ({ d, i })).sort((a, b) => a.d - b.d || a.i - b.i).slice(0, k);
        expect(Array.from(near.indices.subarray(q * k, (q + 1) * k))).toEqual(want.map((w) => w.i));
        for (let j = 0; j < k; j++) expect(near.distances[q * k + j]).toBeCloseTo(want[j].d, 6);
      }
      // search() on the feature vectors gives the same answer.
      expect(index.search(qf, { k }).indices).toEqual(near.indices);
    } finally {
      await index.dispose();
    }
  });

  it('breaks ties to the lower index, and can leave the query out', async () => {
    // Image 5 repeated as image 12: both are at distance 0 from either.
    const dup = Float32Array.from(images);
    dup.set(images.subarray(5 * PER, 6 * PER), 12 * PER);
    const index = await createNeighbourIndex(small, params, dup, { backend: 'reference' });
    try {
      const r = index.nearestTo(12, { k: 2 });
      expect(Array.from(r.indices)).toEqual([5, 12]);
      expect(Array.from(r.distances)).toEqual([0, 0]);
      const other = index.nearestTo([12, 5], { k: 1, excludeSelf: true });
      expect(Array.from(other.indices)).toEqual([5, 12]);
      const notSelf = index.nearestTo(3, { k: 2, excludeSelf: true });
      expect(notSelf.indices).not.toContain(3);
    } finally {
      await index.dispose();
    }
  });

  it('answers in one call with nearestNeighbours', async () => {
    const near = await nearestNeighbours(small, params, images, images.subarray(2 * PER, 4 * PER), { backend: 'reference', k: 2, layer: 'pool1' });
    expect(near.indices[0]).toBe(2);
    expect(near.indices[2]).toBe(3);
    expect(near.distances[0]).toBe(0);
  });

  it('on webasm finds the same neighbours as on the reference backend', async () => {
    const ref = await createNeighbourIndex(small, params, images, { backend: 'reference' });
    const wasm = await createNeighbourIndex(small, params, images, { backend: 'webasm', batchSize: 16 });
    try {
      let worst = 0;
      for (let i = 0; i < ref.features.length; i++) worst = Math.max(worst, Math.abs(ref.features[i] - wasm.features[i]));
      expect(worst).toBeLessThan(1e-5);
      const queries = Float32Array.from(randomValues(2 * PER, 31));
      const a = await ref.query(queries, { k: 4 });
      const b = await wasm.query(queries, { k: 4 });
      expect(b.indices).toEqual(a.indices);
      for (let i = 0; i < a.distances.length; i++) expect(b.distances[i]).toBeCloseTo(a.distances[i], 4);
      const self = await wasm.query(images.subarray(0, 3 * PER), { k: 1 });
      expect(Array.from(self.indices)).toEqual([0, 1, 2]);
      for (const d of self.distances) expect(d).toBeLessThan(1e-5);
    } finally {
      await ref.dispose();
      await wasm.dispose();
    }
  });
});

describe('errors', () => {
  const ref = { backend: 'reference' as const };

  it('name the function and say what was wrong', async () => {
    await expect(createNeighbourIndex(small, params, images, { ...ref, layer: 'nope' })).rejects.toThrow(
      'createNeighbourIndex: the model has no layer named "nope"; its layers are c1, relu1, pool1, flatten1, fc1, relu2, fc2',
    );
    await expect(createNeighbourIndex(small, params, new Float32Array(PER + 1), ref)).rejects.toThrow(
      'createNeighbourIndex: images holds 73 values, not a whole, non-zero number of images: model "small" reads [2,6,6] (72 values) per image',
    );
    await expect(createNeighbourIndex(small, {}, images, ref)).rejects.toThrow('createNeighbourIndex: params has no "c1.w"');
    await expect(createNeighbourIndex(small, params, images, { ...ref, metric: 'manhattan' as never })).rejects.toThrow("createNeighbourIndex: metric must be 'euclidean' or 'cosine'");
    await expect(nearestNeighbours(small, params, images, new Float32Array(3), ref)).rejects.toThrow('nearestNeighbours: queries holds 3 values');
    const index = await createNeighbourIndex(small, params, images.subarray(0, 4 * PER), ref);
    try {
      expect(() => index.nearestTo(0, { k: 5 })).toThrow('NeighbourIndex.nearestTo: k must be an integer from 1 to 4 (the number of indexed images), got 5');
      expect(() => index.nearestTo(0, { k: 4, excludeSelf: true })).toThrow('NeighbourIndex.nearestTo: k must be an integer from 1 to 3 (the 4 indexed images less the query itself), got 4');
      expect(() => index.nearestTo(4)).toThrow('NeighbourIndex.nearestTo: index 4 is not an indexed image; the index holds images 0 to 3');
      expect(() => index.search(new Float32Array(7))).toThrow('NeighbourIndex.search: features must be count × 8 numbers (the 8 features of layer "relu2" per query), got 7 values');
      expect(() => index.search(new Float32Array(8), { k: 0 })).toThrow(StriateError);
      await expect(index.query(new Float32Array(5))).rejects.toThrow('NeighbourIndex.query: images holds 5 values');
    } finally {
      await index.dispose();
    }
    await expect(index.query(images.subarray(0, PER))).rejects.toThrow('NeighbourIndex.query: this neighbour index has been disposed');
  });
});
