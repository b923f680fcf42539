import { describe, expect, it } from 'vitest';
import { defineModel, initParams, layerOutputs, nn } from 'striate';
import { embeddingMap, pca, symmetricEigen } from '../../src/explain/embedding.js';
import { randomValues, striateError } from '../helpers.js';

/** `count` rows of `dim` features: t·u·spread + noise, t uniform in [−1, 1], with u a unit vector. */
function alongDirection(u: readonly number[], count: number, spread: number, noise: number, seed: number): Float64Array {
  const d = u.length;
  const t = randomValues(count, seed);
  const e = randomValues(count * d, seed + 1);
  const out = new Float64Array(count * d);
  for (let r = 0; r < count; r++) for (let i = 0; i < d; i++) out[r * d + i] = 5 + i + t[r] * spread * u[i] + noise * e[r * d + i];
  return out;
}

/** ‖C v − λ v‖ for the covariance of `rows` (n × d), computed directly. */
function residual(rows: ArrayLike<number>, n: number, d: number, v: ArrayLike<number>, lambda: number): number {
  const mean = Array.from({ length: d }, (_, i) => Array.from({ length: n }, (_, r) => rows[r * d + i]).reduce((a, b) => a + b, 0) / n);
  const cv = new Float64Array(d);
  for (let r = 0; r < n; r++) {
    let dot = 0;
    for (let i = 0; i < d; i++) dot += (rows[r * d + i] - mean[i]) * v[i];
    for (let i = 0; i < d; i++) cv[i] += (dot * (rows[r * d + i] - mean[i])) / (n - 1);
  }
  return Math.hypot(...Array.from(cv, (c, i) => c - lambda * v[i]));
}

describe('pca', () => {
  it('gives the mean, the variances and the coordinates of a hand-made set exactly', () => {
    // (±3, 0) and (0, ±1) around (10, −2): C = diag(18/3, 2/3), so PC1 = x, PC2 = y.
    const rows = [13, -2, 7, -2, 10, -1, 10, -3];
    const r = pca(rows, { dim: 2 });
    expect(Array.from(r.mean)).toEqual([10, -2]);
    expect(Array.from(r.variances)).toEqual([6, 2 / 3].map((v) => expect.closeTo(v, 12)));
    expect(r.totalVariance).toBeCloseTo(20 / 3, 12);
    expect(Array.from(r.explained)).toEqual([0.9, 0.1].map((v) => expect.closeTo(v, 12)));
    expect(Array.from(r.axes)).toEqual([1, 0, 0, 1].map((v) => expect.closeTo(v, 12)));
    expect(Array.from(r.projections)).toEqual([3, 0, -3, 0, 0, 1, 0, -1].map((v) => expect.closeTo(v, 12)));
    expect([r.count, r.dim, r.components, r.method, r.converged]).toEqual([4, 2, 2, 'jacobi', true]);
  });

  it('recovers a known principal direction, with its sign fixed', () => {
    const u = [1, 3, -2, 0, 0.5].map((v, _, a) => v / Math.hypot(...a));
    const rows = alongDirection(u, 2000, 10, 0.05, 3);
    const r = pca({ shape: [2000, 5], data: rows }, { components: 3 });
    const axis = Array.from(r.axes.subarray(0, 5));
    // The largest coordinate (3/√14.25) comes out positive, so the axis is +u, not −u.
    axis.forEach((a, i) => expect(a).toBeCloseTo(u[i], 3));
    // Uniform t in [−1, 1] has variance 1/3: λ_1 ≈ 100/3; the noise gives each other axis ≈ 0.05²/3.
    expect(r.variances[0]).toBeGreaterThan(30);
    expect(r.variances[1]).toBeLessThan(0.01);
    expect(r.explained[0]).toBeGreaterThan(0.999);
    // Each kept pair is an eigenpair of the covariance, checked against C computed by the definition.
    for (let j = 0; j < 3; j++) expect(residual(rows, 2000, 5, r.axes.subarray(j * 5, (j + 1) * 5), r.variances[j])).toBeLessThan(1e-9 * r.variances[0]);
  });

  it('orders the components by the variance they explain, and all of them explain it all', () => {
    const n = 300;
    const d = 6;
    const raw = randomValues(n * d, 11);
    // Scale the coordinates of a rotated basis unequally, so every variance differs.
    const scales = [0.3, 4, 1, 2.5, 0.1, 6];
    const rows = raw.map((v, i) => v * scales[i % d] + 0.2 * raw[(i + 1) % raw.length]);
    const r = pca(rows, { dim: d, components: d });
    for (let j = 1; j < d; j++) expect(r.variances[j]).toBeLessThanOrEqual(r.variances[j - 1]);
    expect(r.explained.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
    // Axes orthonormal.
    for (let a = 0; a < d; a++) {
      for (let b = 0; b < d; b++) {
        const dot = Array.from({ length: d }, (_, i) => r.axes[a * d + i] * r.axes[b * d + i]).reduce((x, y) => x + y, 0);
        expect(dot).toBeCloseTo(a === b ? 1 : 0, 10);
      }
    }
    // Each coordinate's variance is its eigenvalue.
    for (let j = 0; j < d; j++) {
      const col = Array.from({ length: n }, (_, i) => r.projections[i * d + j]);
      expect(col.reduce((s, v) => s + v * v, 0) / (n - 1)).toBeCloseTo(r.variances[j], 9);
    }
  });

  it('gives the same components by subspace iteration as by Jacobi', () => {
    const n = 400;
    const d = 30;
    const raw = randomValues(n * d, 5);
    const rows = raw.map((v, i) => v * (1 + (i % d) / 3));
    const jac = pca(rows, { dim: d, components: 3, method: 'jacobi' });
    const sub = pca(rows, { dim: d, components: 3, method: 'subspace' });
    expect(sub.method).toBe('subspace');
    expect(sub.converged).toBe(true);
    expect(sub.iterations).toBeGreaterThan(0);
    for (let j = 0; j < 3; j++) expect(sub.variances[j]).toBeCloseTo(jac.variances[j], 8);
    for (let i = 0; i < 3 * d; i++) expect(sub.axes[i]).toBeCloseTo(jac.axes[i], 5);
  });

  it('uses subspace iteration for a wide layer and still finds its directions', () => {
    const n = 60;
    const d = 600;
    const raw = randomValues(n * d, 9);
    // Features 0 and 1 vary most (by 10 and 5); the others are small noise.
    const rows = raw.map((v, i) => v * (i % d === 0 ? 10 : i % d === 1 ? 5 : 0.01));
    const r = pca(rows, { dim: d });
    expect(r.method).toBe('subspace');
    expect(r.converged).toBe(true);
    expect(Math.abs(r.axes[0])).toBeGreaterThan(0.9999);
    expect(Math.abs(r.axes[d + 1])).toBeGreaterThan(0.9999);
    expect(r.explained[0]).toBeGreaterThan(r.explained[1]);
  });

  it('diagonalises a symmetric matrix (Jacobi)', () => {
    // [[2, 1], [1, 2]]: eigenvalues 3 and 1, eigenvectors (1, 1)/√2 and (1, −1)/√2.
    const { values, vectors } = symmetricEigen(Float64Array.from([2, 1, 1, 2]), 2);
    const order = values[0] > values[1] ? [0, 1] : [1, 0];
    expect([values[order[0]], values[order[1]]]).toEqual([expect.closeTo(3, 14), expect.closeTo(1, 14)]);
    expect(Math.abs(vectors[order[0]])).toBeCloseTo(Math.SQRT1_2, 14);
    expect(vectors[order[0]] * vectors[2 + order[0]]).toBeCloseTo(0.5, 14);
  });

  it('handles 10,000 LeNet-5-sized embeddings (84 features) quickly', () => {
    const rows = Float32Array.from(randomValues(10000 * 84, 21), (v) => Math.max(0, v));
    const started = performance.now();
    const r = pca({ shape: [10000, 84], data: rows });
    const ms = performance.now() - started;
    expect(r.projections).toHaveLength(20000);
    expect(ms).toBeLessThan(5000); // a second or two on 2 shared cores; the bound leaves room for a loaded machine
  });

  it('refuses too few rows, non-finite values, bad components and unknown options', () => {
    const err = (f: () => unknown): string => striateError(f).message;
    expect(err(() => pca([1, 2], { dim: 2 }))).toBe('pca: PCA needs at least 2 rows to measure a variance, got 1');
    expect(err(() => pca([1, 2, Number.NaN, 4], { dim: 2 }))).toBe('pca: value 2 (row 1, feature 0) is number NaN; every feature must be a finite number');
    expect(err(() => pca([1, 2, 3, 4], { dim: 2, components: 3 }))).toBe('pca: components must be an integer from 1 to 2 (the features per row), got 3');
    expect(err(() => pca([1, 2, 3, 4], { dim: 2, components: 0 }))).toMatch(/components must be an integer from 1 to 2/);
    expect(err(() => pca([1, 2, 3, 4]))).toMatch(/need the dim option/);
    expect(err(() => pca([1, 2, 3, 4, 5], { dim: 2 }))).toMatch(/5 values are not a whole number of rows of 2 features/);
    expect(err(() => pca({ shape: [2, 3], data: [1, 2, 3, 4, 5] }))).toMatch(/need 6 values but hold 5/);
    expect(err(() => pca([1, 2, 3, 4], { dim: 2, method: 'svd' as never }))).toMatch(/method must be 'auto', 'jacobi' or 'subspace'/);
    expect(err(() => pca([1, 2, 3, 4], { dim: 2, component: 2 } as never))).toMatch(/unknown option "component"/);
    expect(err(() => pca('rows' as never))).toMatch(/rows must be count × dim numbers/);
  });
});

describe('embeddingMap', () => {
  const model = defineModel('tiny', [1, 4, 4], [nn.flatten(), nn.dense('fc1', { units: 6 }), nn.relu(), nn.dense('fc2', { units: 3 })]);
  const params = initParams(model, 2);
  const images = Float32Array.from(randomValues(30 * 16, 4));

  it("is the PCA of the last hidden layer's outputs", async () => {
    const map = await embeddingMap(model, params, images, { backend: 'reference', batchSize: 7 });
    expect(map.layer).toBe('relu1');
    const { relu1 } = await layerOutputs(model, params, images, ['relu1'], { backend: 'reference' });
    const direct = pca(relu1);
    expect(map.pca.projections).toEqual(direct.projections);
    expect(map.pca.count).toBe(30);
  });

  it('refuses a layer the model does not have, and a single image', async () => {
    await expect(embeddingMap(model, params, images, { layer: 'nope', backend: 'reference' })).rejects.toThrow(/embeddingMap: the model has no layer named "nope"/);
    await expect(embeddingMap(model, params, images.subarray(0, 16), { backend: 'reference' })).rejects.toThrow('embeddingMap: an embedding map needs at least 2 images, got 1');
  });
});
