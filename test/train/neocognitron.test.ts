/**
 * trainNeocognitron's machinery (src/train/neocognitron.ts): the fast
 * winner selection against the brute-force rule, the interpolating-vector
 * classifier on hand-computed cases, the cache of lower stages (each
 * training image is read once), stageLimit, and the webasm backend against
 * the float64 reference.
 */
import { filter, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/backend/compile.js';
import { createRng } from '../../src/data/random.js';
import { StriateError } from '../../src/graph/error.js';
import { input } from '../../src/ops/input.js';
import { neocognitron, stageGraph, stageInputNames, inhibitoryWeights, type NeocognitronClassifier } from '../../src/nn/neocognitron.js';
import { tensorValue } from '../../src/nn/params.js';
import {
  buildClassifier,
  classifyFeatures,
  interpolatedSimilarity,
  neocognitronResponses,
  selectWinners,
  trainNeocognitron,
  type NeocognitronEvent,
} from '../../src/train/neocognitron.js';

/** The rule as written in the file comment, cell by cell: a cell wins if no cell of its neighbourhood (any plane) is larger, ties to the lower plane, then the earlier position. */
function bruteWinners(s: ArrayLike<number>, [k, h, w]: readonly [number, number, number], radius: number) {
  const best: ({ plane: number; y: number; x: number; value: number } | null)[] = new Array(k).fill(null);
  for (let p = 0; p < k; p++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const me = (p * h + y) * w + x;
        const u = s[me];
        if (!(u > 0)) continue;
        let wins = true;
        for (let q = 0; q < k && wins; q++) {
          for (let yy = Math.max(0, y - radius); yy <= Math.min(h - 1, y + radius) && wins; yy++) {
            for (let xx = Math.max(0, x - radius); xx <= Math.min(w - 1, x + radius); xx++) {
              const at = (q * h + yy) * w + xx;
              if (at !== me && (s[at] > u || (s[at] === u && (q < p || (q === p && at < me))))) wins = false;
            }
          }
        }
        if (wins && (best[p] === null || u > best[p]!.value)) best[p] = { plane: p, y, x, value: u };
      }
    }
  }
  return best.filter((b) => b !== null);
}

describe('selectWinners', () => {
  it('matches the cell-by-cell rule on random layers with many ties', () => {
    const rng = createRng(5);
    for (let t = 0; t < 200; t++) {
      const shape = [1 + rng.int(4), 1 + rng.int(6), 1 + rng.int(6)] as const;
      // Values from a few levels (zero included), so that ties and silent cells are common.
      const s = Float64Array.from({ length: shape[0] * shape[1] * shape[2] }, () => rng.int(4) / 4);
      const radius = rng.int(3);
      expect(selectWinners(s, shape, radius)).toEqual(bruteWinners(s, shape, radius));
    }
  });
});

describe('interpolating vectors', () => {
  it('the best interpolating vector between two references, by hand', () => {
    // X_i = (1,0), X_j = (0,1), x = (1,1)/√2: x is their midpoint's direction, cosine 1.
    expect(interpolatedSimilarity(Math.SQRT1_2, Math.SQRT1_2, 0)).toBeCloseTo(1, 14);
    // x = (0,1), X_i = (1,0), X_j = (0.6,0.8): x lies outside the cone between them; the best is X_j itself, 0.8.
    expect(interpolatedSimilarity(0, 0.8, 0.6)).toBe(0.8);
    // Identical references: one direction.
    expect(interpolatedSimilarity(0.3, 0.3, 1)).toBe(0.3);
    // Against a brute-force search over λ in 3-D.
    const rng = createRng(2);
    const unit = (v: number[]) => v.map((t) => t / Math.hypot(...v));
    const dot = (u: number[], v: number[]) => u.reduce((s, t, i) => s + t * v[i], 0);
    for (let t = 0; t < 50; t++) {
      const [a, b, x] = [0, 1, 2].map(() => unit([rng.next(), rng.next(), rng.next()]));
      let want = -Infinity;
      for (let l = 0; l <= 5000; l++) {
        const lam = l / 5000;
        const v = a.map((ai, i) => (1 - lam) * ai + lam * b[i]);
        want = Math.max(want, dot(v, x) / Math.hypot(...v));
      }
      expect(interpolatedSimilarity(dot(x, a), dot(x, b), dot(a, b))).toBeCloseTo(want, 6);
    }
  });

  // Training vectors in order; the third class-0 vector lies between the first two.
  const c1 = [0.8, 0.8, 0.2];
  const rows = [c1, [1, 0, 0], [0, 1, 0], [1, 1, 0]];
  const labels = Uint8Array.from([1, 0, 0, 0]);
  const features = Float32Array.from(rows.flat());

  it('add-if-silent at the top: a vector the interpolation already classifies right is not added (the nearest prototype adds it)', () => {
    const iv = buildClassifier(features, labels, 'intvec', { candidates: 4 });
    // (1,0,0) and (0,1,0) are added (class 0 has none, then (0,1,0) is nearer class 1's vector);
    // (1,1,0)/√2 has cosine 1 with the midpoint of class 0's pair against 0.985 with class 1's vector.
    expect(Array.from(iv.labels)).toEqual([1, 0, 0]);
    expect(iv.rule).toBe('intvec');
    const nn = buildClassifier(features, labels, 'misclassified');
    expect(Array.from(nn.labels)).toEqual([1, 0, 0, 0]);
    expect(nn.candidates).toBe(1);
  });

  it('passes: a second pass adds a vector that a later reference turned wrong; a pass that adds none ends learning', () => {
    // (1,0) class 0 is added; (0.8,0.6) class 0 is then right (cosine 0.8 with it); (0.6,0.8) class 1 is added.
    // Shown again, (0.8,0.6) has cosine 0.96 with class 1's reference against 0.8: wrong, so it is added;
    // a third pass finds every vector right and adds nothing.
    const f = Float32Array.from([1, 0, 0.8, 0.6, 0.6, 0.8]);
    const l = Uint8Array.from([0, 0, 1]);
    for (const rule of ['intvec', 'misclassified'] as const) {
      expect(Array.from(buildClassifier(f, l, rule).labels)).toEqual([0, 1]);
      const two = buildClassifier(f, l, rule, { passes: 2 });
      expect(Array.from(two.labels)).toEqual([0, 1, 0]);
      expect(Array.from(two.prototypes.data)).toEqual(Array.from(Float32Array.from([1, 0, 0.6, 0.8, 0.8, 0.6])));
      expect(Array.from(classifyFeatures(two, f))).toEqual([0, 0, 1]);
      expect(buildClassifier(f, l, rule, { passes: 5 })).toEqual(two);
    }
    expect(() => buildClassifier(f, l, 'intvec', { passes: 0 })).toThrow(/buildClassifier: passes must be a positive integer, got 0/);
    expect(() => buildClassifier(f, l, 'intvec', { pass: 2 } as never)).toThrow(StriateError);
  });

  it('classifies by the best interpolating vector of each class', () => {
    // References: class 0 at (1,0,0) and (0,1,0), class 1 at (0.8,0.8,0.2) (unit rows).
    const n = Math.hypot(...c1);
    const refs = Float32Array.from([1, 0, 0, 0, 1, 0, ...c1.map((t) => t / n)]);
    const make = (candidates: number): NeocognitronClassifier => ({ rule: 'intvec', candidates, prototypes: tensorValue([3, 3], refs), labels: Uint8Array.from([0, 0, 1]) });
    const x = Float32Array.from([1, 1, 0, 0.1, 0, 1]);
    // (1,1,0): class 0 by interpolation, class 1 by the nearest prototype (candidates 1); (0.1,0,1) is nearer class 1 either way.
    expect(Array.from(classifyFeatures(make(2), x))).toEqual([0, 1]);
    expect(Array.from(classifyFeatures(make(1), x))).toEqual([1, 1]);
    expect(() => buildClassifier(features, labels, 'knn' as never)).toThrow(StriateError);
    expect(() => classifyFeatures(make(2), new Float32Array(4))).toThrow(/rows of 3 values/);
  });
});

/** Oriented bars, as in test/nn/neocognitron.test.ts. */
function bars(count: number, side: number, seed: number) {
  const rng = createRng(seed);
  const images = new Float32Array(count * side * side);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const o = rng.int(4);
    const [dy, dx] = [[1, 0], [0, 1], [1, 1], [1, -1]][o];
    const cy = 3 + rng.int(side - 6);
    const cx = 3 + rng.int(side - 6);
    for (let t = -2; t <= 2; t++) images[i * side * side + (cy + t * dy) * side + cx + t * dx] = 1;
    labels[i] = o;
  }
  return { images, labels, count };
}

describe('trainNeocognitron: lower stages cached, stageLimit, webasm', () => {
  const side = 12;
  const data = bars(48, side, 4);
  const model = neocognitron({
    inputShape: [1, side, side],
    stages: [
      { planes: 4, window: 3, r: 1.5, padding: 'same', poolSize: 2 },
      { planes: 6, window: 3, r: 1, padding: 'same', poolSize: 2 },
    ],
  });

  it('reads each training image once for stage 1 and once for its C-layer; stage 2 learns from the cache', async () => {
    let reads = 0;
    class Counting extends Float32Array {
      override subarray(begin?: number, end?: number): Float32Array<ArrayBuffer> {
        reads++;
        return super.subarray(begin, end);
      }
    }
    const counted = { ...data, images: Counting.from(data.images) as Float32Array };
    const events: NeocognitronEvent[] = await lastValueFrom(trainNeocognitron({ model, data: { train: counted }, backend: 'reference', batchSize: 8, epochs: 2 }).pipe(toArray()));
    expect(events.at(-1)?.type).toBe('done');
    // Two epochs of stage 1 (48 per epoch, one per image), plus 6 chunks for C1 and the learning set's view once.
    expect(reads).toBe(2 * 48 + 6 + 1);
    expect(events.filter((e) => e.type === 'step' && e.stage === 1).length).toBe(12);
  });

  it('stageLimit: the stages learn from the first images only; the classifier from all', async () => {
    const events = await lastValueFrom(trainNeocognitron({ model, data: { train: data }, backend: 'reference', batchSize: 8, stageLimit: 16, classifier: 'all' }).pipe(toArray()));
    expect(events.filter((e) => e.type === 'step').length).toBe(4);
    const done = events.at(-1)!;
    if (done.type !== 'done') throw new Error('no done event');
    expect(done.state.classifier!.labels.length).toBe(48);
    expect(() => trainNeocognitron({ model, data: { train: data }, stageLimit: 49 })).toThrow(/stageLimit 49 is more than the 48/);
  });

  it('classifierPasses: a classifier event per pass until one adds nothing, and unsubscribing stops the classifier', async () => {
    const big = bars(2400, side, 5);
    const events = await lastValueFrom(trainNeocognitron({ model, data: { train: big }, backend: 'reference', batchSize: 64, stageLimit: 64, classifierPasses: 6 }).pipe(toArray()));
    const passes = events.filter((e) => e.type === 'classifier');
    expect(passes.length).toBeGreaterThanOrEqual(2);
    expect(passes.map((e) => e.pass)).toEqual(passes.map((_, i) => i + 1));
    // Each pass adds some until the last (which adds none, or is the sixth).
    expect(passes.slice(0, -1).every((e) => e.added > 0)).toBe(true);
    expect(passes.at(-1)!.added === 0 || passes.length === 6).toBe(true);
    const done = events.at(-1)!;
    if (done.type !== 'done') throw new Error('no done event');
    expect(done.state.classifier!.labels.length).toBe(passes.at(-1)!.references);
    expect(passes.reduce((n, e) => n + e.added, 0)).toBe(passes.at(-1)!.references);

    // Unsubscribing at the first pass's event ends the run there: nothing after it, no completion.
    const seen: NeocognitronEvent[] = [];
    let completed = false;
    const sub = trainNeocognitron({ model, data: { train: big }, backend: 'reference', batchSize: 64, stageLimit: 64, classifierPasses: 6 }).subscribe({
      next: (e) => {
        seen.push(e);
        if (e.type === 'classifier') sub.unsubscribe();
      },
      complete: () => (completed = true),
    });
    await new Promise((r) => setTimeout(r, 1500));
    expect(seen.at(-1)).toMatchObject({ type: 'classifier', pass: 1 });
    expect(completed).toBe(false);
  }, 60_000);

  it('on webasm: a stage matches the float64 reference, and training learns the same planes', async () => {
    const rng = createRng(8);
    const x = Float32Array.from({ length: 2 * side * side }, () => rng.next());
    const a = Float32Array.from({ length: 4 * 9 }, () => rng.next());
    const cw = inhibitoryWeights(1, 3);
    const b = Float32Array.from({ length: 4 }, (_, k) => 0.8 * Math.sqrt(a.subarray(k * 9, k * 9 + 9).reduce((t, w, i) => t + (w * w) / cw[i], 0)));
    const g = stageGraph(model, 0, input('x', [2, 1, side, side]), 4);
    const n = stageInputNames(0);
    const feeds = { x, [n.a]: a, [n.b]: b };
    const [sr, cr] = await compile([g.s, g.c], { backend: 'reference' }).run(feeds);
    const f = compile([g.s, g.c], { backend: 'webasm' });
    const [sw, cwv] = await f.run(feeds);
    for (let i = 0; i < sr.data.length; i++) expect(sw.data[i]).toBeCloseTo(sr.data[i], 5);
    for (let i = 0; i < cr.data.length; i++) expect(cwv.data[i]).toBeCloseTo(cr.data[i], 5);
    await (f as { dispose?: () => Promise<void> }).dispose?.();

    const run = (backend: 'webasm' | 'reference') =>
      lastValueFrom(trainNeocognitron({ model, data: { train: data, test: data }, backend, batchSize: 8, classifier: 'intvec' }).pipe(filter((e) => e.type === 'done')));
    const [dw, dr] = await Promise.all([run('webasm'), run('reference')]);
    if (dw.type !== 'done' || dr.type !== 'done') throw new Error('no done event');
    expect(dw.state.stages.map((s) => s.planes)).toEqual(dr.state.stages.map((s) => s.planes));
    dw.state.stages.forEach((st, l) => st.a.data.forEach((v, i) => expect(v).toBeCloseTo(dr.state.stages[l].a.data[i], 3)));
    expect(dw.testAccuracy).toBeCloseTo(dr.testAccuracy!, 10);
    // neocognitronResponses on webasm: its winners are selectWinners of its S-layers.
    const r = await neocognitronResponses(dw.state, data.images.slice(0, side * side), { backend: 'webasm' });
    expect(r.stages.length).toBe(2);
    r.stages.forEach((st) => expect(st.winners).toEqual(selectWinners(st.s, st.shape, 2)));
    expect(r.stages[0].winners.length).toBeGreaterThan(0);
  });
});
