/** Data augmentation: each transformation against a hand-computed case, the elastic field's smoothness, reproducibility, and the checks. */
import fc from 'fast-check';
import { firstValueFrom, from, lastValueFrom, of, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { adam, train, type Batch } from 'striate';
import {
  affineMatrix,
  augment,
  augmentImages,
  augmentRng,
  elasticField,
  gaussianKernel,
  IDENTITY_MATRIX,
  warpImages,
  type AugmentTransforms,
} from '../../src/data/augment.js';
import { batches } from '../../src/data/batches.js';
import { mirror } from '../../src/data/crops.js';
import { createRng } from '../../src/data/random.js';
import { propertyRuns, striateError } from '../helpers.js';
import { data, doneOf, run, small, stepsOf, values } from '../train/train-options-fixtures.js';

/** Values of a [C, H, W] image as nested rows, channel by channel: what the hand cases are written in. */
function rows(images: Float32Array, [C, H, W]: readonly number[], n = 0): number[][][] {
  return Array.from({ length: C }, (_, c) => Array.from({ length: H }, (_, y) => Array.from(images.subarray(((n * C + c) * H + y) * W, ((n * C + c) * H + y + 1) * W))));
}

/** A 4×4 image with every pixel different, so any move of a pixel shows. */
//  1  2  3  4
//  5  6  7  8
//  9 10 11 12
// 13 14 15 16
const grid = Float32Array.from({ length: 16 }, (_, i) => i + 1);

/** `count` random images of `shape` in [0, 1), seeded. */
function randomImages(count: number, [C, H, W]: readonly number[], seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: count * C * H * W }, () => rng.next());
}

const std = (xs: ArrayLike<number>): { mean: number; std: number } => {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  const mean = s / xs.length;
  let q = 0;
  for (let i = 0; i < xs.length; i++) q += (xs[i] - mean) ** 2;
  return { mean, std: Math.sqrt(q / xs.length) };
};

describe('the affine warp', () => {
  it('shifts every value by one pixel for a one-pixel shift, fill coming in', () => {
    const right = warpImages(grid, [1, 4, 4], { matrix: affineMatrix({ dx: 1 }, 4, 4), fill: -1 });
    expect(rows(right, [1, 4, 4])).toEqual([
      [
        [-1, 1, 2, 3],
        [-1, 5, 6, 7],
        [-1, 9, 10, 11],
        [-1, 13, 14, 15],
      ],
    ]);
    const up = warpImages(grid, [1, 4, 4], { matrix: affineMatrix({ dy: -1 }, 4, 4) });
    expect(rows(up, [1, 4, 4])).toEqual([
      [
        [5, 6, 7, 8],
        [9, 10, 11, 12],
        [13, 14, 15, 16],
        [0, 0, 0, 0],
      ],
    ]);
  });

  it('interpolates bilinearly: half a pixel averages neighbours, fill counting outside', () => {
    const half = warpImages(grid, [1, 4, 4], { matrix: affineMatrix({ dx: 0.5 }, 4, 4), fill: 1 });
    // Output x reads x − 0.5: the mean of columns x − 1 and x; column −1 is the fill 1.
    expect(rows(half, [1, 4, 4])[0][0]).toEqual([1, 1.5, 2.5, 3.5]);
    expect(rows(half, [1, 4, 4])[0][3]).toEqual([7, 13.5, 14.5, 15.5]);
  });

  it('turns a quarter turn counter-clockwise: the image reflected left-right, then transposed', () => {
    // An asymmetric image on two channels: no symmetry can hide a wrong direction.
    const shape = [2, 4, 4];
    const images = Float32Array.from({ length: 32 }, (_, i) => (i < 16 ? i + 1 : 100 - i));
    const turned = rows(warpImages(images, shape, { matrix: affineMatrix({ angle: 90 }, 4, 4) }), shape);
    const want = rows(images, shape).map((plane) => plane.map((_, i) => plane.map((row) => row[3 - i]))); // B[i][j] = A[j][W−1−i]
    expect(turned).toEqual(want);
    expect(turned[0][0]).toEqual([4, 8, 12, 16]); // the right column is now the top row
    const back = warpImages(warpImages(images, shape, { matrix: affineMatrix({ angle: 90 }, 4, 4) }), shape, { matrix: affineMatrix({ angle: -90 }, 4, 4) });
    expect([...back]).toEqual([...images]);
    const half = rows(warpImages(grid, [1, 4, 4], { matrix: affineMatrix({ angle: 180 }, 4, 4) }), [1, 4, 4]);
    expect(half[0][0]).toEqual([16, 15, 14, 13]);
  });

  it('zooms and shears about the centre, as computed by hand', () => {
    // One row of 5: centre x = 2, so a zoom by 2 reads x' = 2 + (x − 2) / 2.
    const line = Float32Array.from([0, 1, 2, 3, 4]);
    expect([...warpImages(line, [1, 1, 5], { matrix: affineMatrix({ scale: 2 }, 1, 5) })]).toEqual([1, 1.5, 2, 2.5, 3]);
    expect([...warpImages(line, [1, 1, 5], { matrix: affineMatrix({ scale: 0.5 }, 1, 5) })]).toEqual([0, 0, 2, 4, 0]);
    // Shear 45° on 3×3 (centre row 1): row y moves by (y − 1) pixels to the right.
    const g = Float32Array.from({ length: 9 }, (_, i) => i + 1);
    const sheared = rows(warpImages(g, [1, 3, 3], { matrix: affineMatrix({ shear: 45 }, 3, 3) }), [1, 3, 3])[0];
    const want = [
      [2, 3, 0],
      [4, 5, 6],
      [0, 7, 8],
    ];
    sheared.forEach((row, y) => row.forEach((v, x) => expect(v).toBeCloseTo(want[y][x], 5)));
  });

  it('is the identity at angle 0, scale 1, shear 0 and no shift', () => {
    expect(affineMatrix({ angle: 0, scale: 1, shear: 0, dx: 0, dy: 0 }, 28, 28)).toEqual([...IDENTITY_MATRIX]);
    const images = randomImages(3, [3, 7, 5], 1);
    expect([...warpImages(images, [3, 7, 5], { matrix: affineMatrix({}, 7, 5) })]).toEqual([...images]);
  });

  it('keeps a constant image constant, and never leaves the range of the image and the fill', () => {
    const shape = [1, 9, 9];
    fc.assert(
      fc.property(
        fc.record({
          angle: fc.double({ min: -180, max: 180, noNaN: true }),
          scale: fc.double({ min: 0.9, max: 1.5, noNaN: true }),
          shear: fc.double({ min: -20, max: 20, noNaN: true }),
          dx: fc.double({ min: -1.5, max: 1.5, noNaN: true }),
          dy: fc.double({ min: -1.5, max: 1.5, noNaN: true }),
        }),
        fc.double({ min: -5, max: 5, noNaN: true }).map(Math.fround),
        (params, c) => {
          const image = new Float32Array(81).fill(c);
          const matrix = affineMatrix(params, 9, 9);
          // Fill equal to the image: every bilinear mix of equal values is that value.
          expect(warpImages(image, shape, { matrix, fill: c }).every((v) => v === c)).toBe(true);
          // Fill 0: the centre reads within |shift| · ‖shear⁻¹‖ / scale ≤ 1.5√2 · 1.2 / 0.9 < 3 pixels of the
          // centre, so its four neighbours are inside; and nothing leaves [min(0, c), max(0, c)].
          const out = warpImages(image, shape, { matrix, fill: 0 });
          expect(out[40]).toBeCloseTo(c, 5);
          expect(out.every((v) => v >= Math.min(0, c) - 1e-6 && v <= Math.max(0, c) + 1e-6)).toBe(true);
        },
      ),
      { numRuns: propertyRuns },
    );
  });

  it('refuses bad matrices, parameters and fields', () => {
    expect(striateError(() => affineMatrix({ shear: 90 }, 4, 4), 'affineMatrix').message).toBe('affineMatrix: shear must be a number of degrees in (−90, 90), got 90');
    expect(striateError(() => affineMatrix({ scale: 0 }, 4, 4)).message).toBe('affineMatrix: scale must be a number > 0, got 0');
    expect(striateError(() => affineMatrix({ rotate: 4 } as never, 4, 4)).message).toMatch(/^affineMatrix: unknown option "rotate"/);
    expect(striateError(() => affineMatrix({}, 0, 4)).message).toBe('affineMatrix: height must be a positive integer, got 0');
    expect(striateError(() => warpImages(grid, [1, 4, 4], { matrix: [0, 0, 0, 0, 0, 0] }), 'warpImages').message).toMatch(/cannot be inverted \(its determinant is 0\)/);
    expect(striateError(() => warpImages(grid, [1, 4, 4], { matrix: [1, 0, 0] as never })).message).toMatch(/matrix must be 6 finite numbers/);
    const field = elasticField(createRng(1), 3, 4, 1, 1);
    expect(striateError(() => warpImages(grid, [1, 4, 4], { field })).message).toBe(
      "warpImages: field must be a displacement field of the images' 4 × 4 (from elasticField), got a field of 3 × 4",
    );
    expect(striateError(() => warpImages(grid, [1, 4, 4], { fill: Number.NaN })).message).toBe('warpImages: fill must be a finite number, got number NaN');
    expect(striateError(() => warpImages(grid, [1, 3, 4])).message).toMatch(/^warpImages: images holds 16 values, which is not a whole number of \[1,3,4\] images/);
  });
});

describe('the elastic field', () => {
  /** Mean |d| over both axes. */
  const meanAbs = (f: { dx: Float64Array; dy: Float64Array }): number => {
    let s = 0;
    for (let i = 0; i < f.dx.length; i++) s += Math.abs(f.dx[i]) + Math.abs(f.dy[i]);
    return s / (2 * f.dx.length);
  };
  /** Mean squared difference of horizontal neighbours over the mean square: 2(1 − ρ₁), small for a smooth field. */
  const roughness = (f: { dx: Float64Array; width: number }): number => {
    let diff = 0;
    let sq = 0;
    for (let i = 0; i < f.dx.length; i++) {
      sq += f.dx[i] ** 2;
      if ((i + 1) % f.width !== 0) diff += (f.dx[i + 1] - f.dx[i]) ** 2;
    }
    return diff / (f.dx.length - f.dx.length / f.width) / (sq / f.dx.length);
  };

  it('is the uniform field smoothed by the 2-D Gaussian (reflected at the edges) and scaled by alpha, by the definition', () => {
    const [H, W, alpha, sigma] = [7, 9, 3, 1.3];
    const field = elasticField(createRng(5), H, W, alpha, sigma);
    const rng = createRng(5);
    const u = [Array.from({ length: H * W }, () => 2 * rng.next() - 1), Array.from({ length: H * W }, () => 2 * rng.next() - 1)];
    const g = gaussianKernel(sigma);
    const r = (g.length - 1) / 2;
    const refl = (i: number, n: number): number => {
      let m = i;
      while (m < 0 || m >= n) m = m < 0 ? -m - 1 : 2 * n - m - 1;
      return m;
    };
    for (const [axis, d] of [field.dx, field.dy].entries()) {
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          let want = 0;
          for (let i = -r; i <= r; i++) for (let j = -r; j <= r; j++) want += g[i + r] * g[j + r] * u[axis][refl(y + i, H) * W + refl(x + j, W)];
          expect(d[y * W + x]).toBeCloseTo(alpha * want, 12);
        }
      }
    }
  });

  it('has a Gaussian kernel of radius ceil(3σ) that sums to one', () => {
    const g = gaussianKernel(4);
    expect(g.length).toBe(25);
    expect(g.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
    expect(g[0]).toBeCloseTo(g[24], 15);
    expect(g[12] / g[20]).toBeCloseTo(Math.exp(64 / 32), 10);
    expect(gaussianKernel(0.1).length).toBe(3);
  });

  it('scales with alpha: the same draws give alpha times the displacement', () => {
    const one = elasticField(createRng(9), 28, 28, 1, 4);
    const many = elasticField(createRng(9), 28, 28, 34, 4);
    expect(meanAbs(many) / meanAbs(one)).toBeCloseTo(34, 10);
    expect(meanAbs(elasticField(createRng(9), 28, 28, 0, 4))).toBe(0);
  });

  it('is smoother for a larger sigma: neighbouring displacements differ less', () => {
    const r = [0.7, 1.5, 3, 6].map((sigma) => {
      let sum = 0;
      for (let s = 0; s < 10; s++) sum += roughness(elasticField(createRng(s), 28, 28, 1, sigma));
      return sum / 10;
    });
    for (let i = 1; i < r.length; i++) expect(r[i]).toBeLessThan(r[i - 1] * 0.6);
  });

  it('has the variance and the neighbour correlation the asked sigma gives', () => {
    // Away from the border, d = α Σ gᵢ gⱼ u, u uniform(−1, 1) of variance 1/3: Var d = α²/3 (Σ g²)²,
    // and horizontal neighbours correlate by ρ₁ = Σ gₖ gₖ₊₁ / Σ gₖ².
    const [sigma, alpha, size] = [2, 5, 32];
    const g = gaussianKernel(sigma);
    const r = (g.length - 1) / 2;
    const g2 = g.reduce((a, v) => a + v * v, 0);
    let lag = 0;
    for (let k = 0; k + 1 < g.length; k++) lag += g[k] * g[k + 1];
    let sq = 0;
    let cross = 0;
    let n = 0;
    for (let s = 0; s < 60; s++) {
      const f = elasticField(createRng(100 + s), size, size, alpha, sigma);
      for (const d of [f.dx, f.dy]) {
        for (let y = r; y < size - r; y++) {
          for (let x = r; x < size - r - 1; x++) {
            sq += d[y * size + x] ** 2;
            cross += d[y * size + x] * d[y * size + x + 1];
            n++;
          }
        }
      }
    }
    expect(sq / n / ((alpha * alpha) / 3) / (g2 * g2)).toBeGreaterThan(0.85);
    expect(sq / n / ((alpha * alpha) / 3) / (g2 * g2)).toBeLessThan(1.15);
    expect(cross / sq).toBeCloseTo(lag / g2, 1);
  });

  it('refuses a bad sigma, alpha, size or generator', () => {
    const rng = createRng(1);
    expect(striateError(() => elasticField(rng, 28, 28, 34, 0), 'elasticField').message).toBe('elasticField: sigma must be a number of pixels > 0, got 0');
    expect(striateError(() => elasticField(rng, 28, 28, -1, 4)).message).toBe('elasticField: alpha must be a number of pixels ≥ 0, got -1');
    expect(striateError(() => elasticField(rng, 2.5, 28, 1, 4)).message).toBe('elasticField: height must be a positive integer, got 2.5');
    expect(striateError(() => elasticField(42 as never, 28, 28, 1, 4)).message).toBe('elasticField: rng must be a generator from createRng(seed), got number 42');
    expect(striateError(() => gaussianKernel(Number.POSITIVE_INFINITY), 'gaussianKernel').message).toBe('gaussianKernel: sigma must be a number of pixels > 0, got number Infinity');
  });
});

describe('augmentImages', () => {
  const shape = [1, 6, 6] as const;
  const images = randomImages(50, shape, 7);

  it('crops with padding p: a window shifted by at most p pixels, fill coming in; every shift happens', () => {
    const p = 2;
    const out = augmentImages(images, shape, { crop: { padding: p }, fill: -1 }, 11);
    const shifts = new Set<string>();
    for (let n = 0; n < 50; n++) {
      const got = rows(out, shape, n)[0];
      const src = rows(images, shape, n)[0];
      const found: string[] = [];
      for (let oy = -p; oy <= p; oy++) {
        for (let ox = -p; ox <= p; ox++) {
          const ok = got.every((row, y) => row.every((v, x) => v === (src[y + oy]?.[x + ox] ?? -1)));
          if (ok) found.push(`${oy},${ox}`);
        }
      }
      expect(found).toHaveLength(1);
      shifts.add(found[0]);
    }
    expect(shifts.size).toBeGreaterThan(15); // of 25, in 50 draws
    // And the draw is the one augmentRng describes: oy, then ox.
    const rng = augmentRng(11, 3, 'crop');
    const [oy, ox] = [rng.int(5) - 2, rng.int(5) - 2];
    expect(rows(out, shape, 3)[0][3][3]).toBe(rows(images, shape, 3)[0][3 + oy][3 + ox]);
  });

  it('flips: probability 1 is the mirror image, twice is the identity, 0 never, 0.5 about half', () => {
    const once = augmentImages(images, shape, { flip: { horizontal: 1 } }, 1);
    expect([...once]).toEqual([...mirror(images, [...shape])]);
    expect([...augmentImages(once, shape, { flip: { horizontal: 1 } }, 2)]).toEqual([...images]);
    expect([...augmentImages(images, shape, { flip: { horizontal: 0 } }, 3)]).toEqual([...images]);
    const many = randomImages(400, shape, 3);
    const flipped = augmentImages(many, shape, { flip: { horizontal: 0.5 } }, 4);
    let n = 0;
    for (let i = 0; i < 400; i++) if (flipped[i * 36] !== many[i * 36]) n++;
    expect(n).toBeGreaterThan(160);
    expect(n).toBeLessThan(240);
  });

  it('adds Gaussian noise of the asked std', () => {
    const big = new Float32Array(64 * 784).fill(0.5);
    const out = augmentImages(big, [1, 28, 28], { noise: { std: 0.1 } }, 5);
    const { mean, std: s } = std(out.map((v) => v - 0.5));
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect(s).toBeGreaterThan(0.098);
    expect(s).toBeLessThan(0.102);
  });

  it('adds one brightness offset per image, in [−delta, delta]', () => {
    const out = augmentImages(images, shape, { brightness: { delta: 0.3 } }, 6);
    const offsets = Array.from({ length: 50 }, (_, n) => {
      const b = -0.3 + 0.6 * augmentRng(6, n, 'brightness').next();
      for (let i = 0; i < 36; i++) expect(out[n * 36 + i] - images[n * 36 + i]).toBeCloseTo(b, 6);
      expect(Math.abs(b)).toBeLessThanOrEqual(0.3);
      return b;
    });
    expect(Math.min(...offsets)).toBeLessThan(-0.15);
    expect(Math.max(...offsets)).toBeGreaterThan(0.15);
  });

  it('scales the contrast about the image mean: m + f(v − m), f in the range', () => {
    const twice = augmentImages(images, shape, { contrast: { factor: [2, 2] } }, 7);
    const flat = augmentImages(images, shape, { contrast: { factor: [0, 0] } }, 7);
    const ranged = augmentImages(images, shape, { contrast: { factor: [0.5, 1.5] } }, 7);
    for (let n = 0; n < 50; n++) {
      const src = images.subarray(n * 36, (n + 1) * 36);
      const m = src.reduce((a, v) => a + v, 0) / 36;
      for (let i = 0; i < 36; i++) {
        expect(twice[n * 36 + i]).toBeCloseTo(m + 2 * (src[i] - m), 5);
        expect(flat[n * 36 + i]).toBeCloseTo(m, 6);
      }
      // f read off the pixel farthest from the mean, then checked on every pixel.
      const far = src.reduce((best, v, i) => (Math.abs(v - m) > Math.abs(src[best] - m) ? i : best), 0);
      const f = (ranged[n * 36 + far] - m) / (src[far] - m);
      expect(f).toBeGreaterThan(0.5 - 1e-3);
      expect(f).toBeLessThan(1.5 + 1e-3);
      for (let i = 0; i < 36; i++) expect(ranged[n * 36 + i] - m).toBeCloseTo(f * (src[i] - m), 4);
    }
  });

  it('resamples the affine warp and the elastic field once, as warpImages does with the draws augmentRng describes', () => {
    const big = randomImages(4, [2, 12, 10], 8);
    const t = { affine: { rotate: 20, shift: 1.5, scale: [0.9, 1.2], shear: 10 }, elastic: { alpha: 8, sigma: 2 }, fill: 0.25 } as const;
    const out = augmentImages(big, [2, 12, 10], t, 9);
    for (let n = 0; n < 4; n++) {
      const a = augmentRng(9, n, 'affine');
      const u = (lo: number, hi: number) => lo + (hi - lo) * a.next();
      const matrix = affineMatrix({ angle: u(-20, 20), scale: u(0.9, 1.2), shear: u(-10, 10), dx: u(-1.5, 1.5), dy: u(-1.5, 1.5) }, 12, 10);
      const field = elasticField(augmentRng(9, n, 'elastic'), 12, 10, 8, 2);
      const one = big.subarray(n * 240, (n + 1) * 240);
      expect([...out.subarray(n * 240, (n + 1) * 240)]).toEqual([...warpImages(one, [2, 12, 10], { matrix, field, fill: 0.25 })]);
    }
  });

  it('applies the transformations in the documented order: warp, crop, flip, contrast, brightness, noise', () => {
    // Brightness after the warp: what the warp brought in is fill + b, not fill.
    const shifted = augmentImages(images, shape, { affine: { scale: [0.2, 0.2] }, brightness: { delta: 0.5 }, fill: 2 }, 3);
    const b = augmentRng(3, 0, 'brightness');
    expect(shifted[0]).toBeCloseTo(2 + (-0.5 + b.next()), 6);
    // Noise after contrast: contrast 0 flattens the image, and the noise is still there.
    const noisy = augmentImages(images, shape, { contrast: { factor: [0, 0] }, noise: { std: 0.1 } }, 3);
    expect(std(noisy.subarray(0, 36)).std).toBeGreaterThan(0.03);
    // Flip after crop: crop's fill lands on the side the flip sends it to.
    const t: AugmentTransforms = { crop: { padding: 3 }, flip: { horizontal: 1 }, fill: -9 };
    const both = augmentImages(images, shape, t, 12);
    const cropped = augmentImages(images, shape, { crop: { padding: 3 }, fill: -9 }, 12);
    expect([...both]).toEqual([...mirror(cropped, [...shape])]);
  });

  it('draws each transformation from a stream of its own, unrelated to the others', () => {
    // Flip and brightness each draw one uniform: from one shared stream, flipped images would be exactly those made darker.
    const many = randomImages(400, shape, 13);
    const out = augmentImages(many, shape, { flip: { horizontal: 0.5 }, brightness: { delta: 0.5 } }, 8);
    let agree = 0;
    for (let n = 0; n < 400; n++) {
      const at = n * 36;
      const flipped = Math.abs(out[at] - out[at + 1] - (many[at + 5] - many[at + 4])) < 1e-5;
      const darker = out[at] < (flipped ? many[at + 5] : many[at]);
      if (flipped === darker) agree++;
    }
    expect(agree).toBeGreaterThan(160);
    expect(agree).toBeLessThan(240);
  });

  it('draws each transformation from its own stream: turning one on does not change another', () => {
    const affine = { affine: { rotate: 30, shift: 1 } } as const;
    const alone = augmentImages(images, shape, affine, 4);
    const brighter = augmentImages(images, shape, { ...affine, brightness: { delta: 0.2 } }, 4);
    for (let n = 0; n < 50; n++) {
      const d = brighter[n * 36] - alone[n * 36];
      for (let i = 0; i < 36; i++) expect(brighter[n * 36 + i] - alone[n * 36 + i]).toBeCloseTo(d, 5);
    }
  });

  it('is reproducible: the same seed gives the same images, another seed others, and equal images in a batch differ', () => {
    const t: AugmentTransforms = { affine: { rotate: 10, scale: [0.9, 1.1] }, elastic: { alpha: 4, sigma: 2 }, crop: { padding: 1 }, flip: { horizontal: 0.5 }, noise: { std: 0.05 } };
    const a = augmentImages(images, shape, t, 21);
    expect([...augmentImages(images, shape, t, 21)]).toEqual([...a]);
    expect([...augmentImages(images, shape, t, 22)]).not.toEqual([...a]);
    const twins = new Float32Array(72);
    twins.set(images.subarray(0, 36));
    twins.set(images.subarray(0, 36), 36);
    const out = augmentImages(twins, shape, t, 21);
    expect([...out.subarray(0, 36)]).toEqual([...a.subarray(0, 36)]);
    expect([...out.subarray(36)]).not.toEqual([...out.subarray(0, 36)]);
  });

  it('leaves images unchanged, bit for bit, under options that do nothing', () => {
    const none: AugmentTransforms = {
      affine: { shift: 0, rotate: 0, scale: [1, 1], shear: 0 },
      elastic: { alpha: 0, sigma: 3 },
      crop: { padding: 0 },
      flip: { horizontal: 0 },
      contrast: { factor: [1, 1] },
      brightness: { delta: 0 },
      noise: { std: 0 },
    };
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), (C, H, W, seed) => {
        const imgs = randomImages(3, [C, H, W], seed);
        expect([...augmentImages(imgs, [C, H, W], none, seed)]).toEqual([...imgs]);
        expect([...augmentImages(imgs, [C, H, W], {}, seed)]).toEqual([...imgs]);
      }),
      { numRuns: propertyRuns },
    );
  });

  it('never writes its input', () => {
    const copy = Float32Array.from(images);
    const t: AugmentTransforms = { affine: { rotate: 10 }, elastic: { alpha: 4, sigma: 2 }, crop: { padding: 2 }, flip: { horizontal: 1 }, contrast: { factor: [0.5, 2] }, brightness: { delta: 1 }, noise: { std: 1 } };
    const out = augmentImages(images, shape, t, 1);
    expect(out).not.toBe(images);
    expect([...images]).toEqual([...copy]);
  });

  it('refuses bad options, naming the option, what it got and what it expects', () => {
    const cases: [unknown, string, string?][] = [
      [{ noise: { std: -0.1 } }, 'noise.std must be a number ≥ 0, got -0.1', 'noise.std -0.1'],
      [{ elastic: { alpha: 34, sigma: 0 } }, 'elastic.sigma must be a number of pixels > 0, e.g. 4, got 0', 'elastic.sigma 0'],
      [{ elastic: { sigma: 4 } }, 'elastic.alpha must be a number of pixels ≥ 0, e.g. 34, got undefined'],
      [{ flip: { horizontal: 2 } }, 'flip.horizontal must be a probability in [0, 1], got 2', 'flip.horizontal 2'],
      [{ flip: { vertical: 0.5 } }, 'unknown option "vertical" in flip; flip\'s options are "horizontal"', 'option flip.vertical'],
      [{ rotate: 10 }, 'unknown option "rotate"; the options are "affine", "crop", "flip", "elastic", "noise", "brightness", "contrast", "fill"'],
      [{ affine: { rotate: '10' } }, 'affine.rotate must be a number of degrees in [0, 180], got "10"'],
      [{ affine: { rotate: 270 } }, 'affine.rotate must be a number of degrees in [0, 180], got 270'],
      [{ affine: { shear: 90 } }, 'affine.shear must be a number of degrees in [0, 90), got 90'],
      [{ affine: { scale: 1.1 } }, 'affine.scale must be [min, max] with 0 < min ≤ max, e.g. [0.9, 1.1], got 1.1'],
      [{ affine: { scale: [1.2, 0.9] } }, 'affine.scale must be [min, max] with 0 < min ≤ max, e.g. [0.9, 1.1], got [1.2,0.9]'],
      [{ affine: { shift: Number.NaN } }, 'affine.shift must be a number of pixels ≥ 0, got number NaN'],
      [{ affine: 15 }, 'affine must be an object such as { rotate: 15, shift: 2 }, got number 15'],
      [{ crop: { padding: 1.5 } }, "crop.padding must be an integer in [0, 6] (the image's larger side), got 1.5"],
      [{ crop: { padding: 7 } }, "crop.padding must be an integer in [0, 6] (the image's larger side), got 7"],
      [{ contrast: { factor: [-1, 1] } }, 'contrast.factor must be [min, max] with 0 ≤ min ≤ max, e.g. [0.8, 1.2], got [-1,1]'],
      [{ brightness: { delta: -1 } }, 'brightness.delta must be a number ≥ 0, got -1'],
      [{ fill: null }, 'fill must be a finite number, got null'],
      [null, 'options must be an object such as { affine: { rotate: 15 } }, got null'],
    ];
    for (const [t, message, got] of cases) {
      const e = striateError(() => augmentImages(images, shape, t as AugmentTransforms, 1), 'augmentImages');
      expect(e.message).toBe(`augmentImages: ${message}`);
      if (got !== undefined) expect(e.got).toBe(got);
      if (t !== null) expect(striateError(() => augment({ imageShape: shape, ...(t as object) }), 'augment').message).toMatch(/^augment: /);
    }
    expect(striateError(() => augmentImages(images, shape, {}, 1.5)).message).toBe('augmentImages: seed must be a safe integer, got 1.5');
    expect(striateError(() => augmentImages(images, [6, 6], {}, 1)).message).toMatch(/^augmentImages: imageShape must be the \[channels, height, width\] of one image/);
    expect(striateError(() => augmentRng(1, 0, 'rotate' as never), 'augmentRng').message).toMatch(/^augmentRng: transform must be one of 'affine', 'elastic'/);
  });
});

describe('augment, the operator', () => {
  const imageShape = [1, 6, 6];
  const transforms: AugmentTransforms = { affine: { rotate: 15, shift: 1 }, elastic: { alpha: 3, sigma: 2 }, noise: { std: 0.05 } };
  const batch: Batch = { ...[...batches(data.train, { batchSize: 16, seed: 3 })][0] };

  it('augments the images of each batch from its seed, passing the rest through, the input untouched', async () => {
    const before = Float32Array.from(batch.images);
    const labels = Uint8Array.from(batch.labels);
    const out = await firstValueFrom(of(batch).pipe(augment({ imageShape, ...transforms })));
    expect([...out.images]).toEqual([...augmentImages(batch.images, imageShape, transforms, batch.seed)]);
    expect([...out.images]).not.toEqual([...before]);
    expect(out.images).not.toBe(batch.images);
    expect({ ...out, images: null }).toEqual({ ...batch, images: null });
    expect([...batch.images]).toEqual([...before]);
    expect([...batch.labels]).toEqual([...labels]);
  });

  it('works on any stream of batches, each from its own seed', async () => {
    const stream = from(batches(data.train, { batchSize: 16, seed: 3 })).pipe(augment({ imageShape, ...transforms }));
    const got = await lastValueFrom(stream.pipe(toArray()));
    expect(got.map((b) => b.index)).toEqual([0, 1, 2, 3]);
    const plain = [...batches(data.train, { batchSize: 16, seed: 3 })];
    got.forEach((b, i) => expect([...b.images]).toEqual([...augmentImages(plain[i].images, imageShape, transforms, plain[i].seed)]));
  });

  it('refuses a batch that does not fit imageShape, or has no seed, and a missing imageShape', async () => {
    const op = augment({ imageShape: [1, 5, 5], noise: { std: 0.1 } });
    await expect(firstValueFrom(of(batch).pipe(op))).rejects.toThrow(
      'augment: images holds 576 values, which is not a whole number of [1,5,5] images (25 values each)',
    );
    await expect(firstValueFrom(of({ ...batch, size: 15 }).pipe(augment({ imageShape })))).rejects.toThrow(
      'augment: the batch holds 16 images of [1,6,6] (576 values) but its size is 15; imageShape must be the shape of one image of the batch (36 values)',
    );
    await expect(firstValueFrom(of({ ...batch, seed: undefined as never }).pipe(augment({ imageShape })))).rejects.toThrow('augment: batch.seed must be a safe integer, got undefined');
    expect(striateError(() => augment({ noise: { std: 0.1 } } as never), 'augment').message).toBe(
      'augment: imageShape must be the [channels, height, width] of one image, e.g. [1, 28, 28], got undefined',
    );
    expect(striateError(() => augment(undefined as never)).message).toBe(
      'augment: options must be an object such as { imageShape: [1, 28, 28], affine: { rotate: 15 } }, got undefined',
    );
  });

  it('inside train(): a fixed seed trains to the same parameters twice; no augmentation, or another, to others', async () => {
    const options = (seed: number) =>
      ({ model: small(), data, epochs: 1, batchSize: 16, seed, backend: 'reference', evaluate: false, optimizer: adam({ lr: 0.01 }), transform: augment({ imageShape, ...transforms }) }) as const;
    const first = await run(train(options(3)));
    const second = await run(train(options(3)));
    expect(stepsOf(first)).toHaveLength(4);
    expect(values(doneOf(second).state.params)).toEqual(values(doneOf(first).state.params));
    const plain = await run(train({ ...options(3), transform: undefined }));
    expect(values(doneOf(plain).state.params)).not.toEqual(values(doneOf(first).state.params));
    const other = await run(train({ ...options(3), transform: augment({ imageShape, ...transforms, noise: { std: 0.06 } }) }));
    expect(values(doneOf(other).state.params)).not.toEqual(values(doneOf(first).state.params));
  });
});
