import { describe, expect, it } from 'vitest';
import { compilesCleanly } from './vega.js';
import { topK } from 'striate';
import { pca } from '../../src/explain/embedding.js';
import { embeddingMapSpec } from '../../src/viz/embedding.js';
import { topKChartSpec } from '../../src/viz/topk.js';
import { randomValues } from '../helpers.js';

describe('embeddingMapSpec', () => {
  it('draws each point at its first two coordinates, coloured by its class, with the variance on the axes', () => {
    const rows = Float64Array.from(randomValues(50 * 4, 3));
    const labels = Array.from({ length: 50 }, (_, i) => i % 3);
    const map = pca(rows, { dim: 4, components: 3 });
    const spec = embeddingMapSpec(map, labels, { classNames: ['a', 'b', 'c'] });
    const values = (spec.data as { values: { x: number; y: number; c: string; i: number }[] }).values;
    expect(values).toHaveLength(50);
    expect(values[7]).toEqual({ x: map.projections[21], y: map.projections[22], c: 'b', i: 7 });
    const enc = spec.encoding as Record<string, { title?: string; scale?: { domain?: string[] } }>;
    expect(enc.x.title).toBe(`PC1 (${(100 * map.explained[0]).toFixed(1)}% of the variance)`);
    expect(enc.color.scale!.domain).toEqual(['a', 'b', 'c']);
    compilesCleanly(spec);
  });

  it('refuses labels that do not match the points', () => {
    const map = { projections: [0, 1, 2, 3], components: 2 };
    expect(() => embeddingMapSpec(map, [0])).toThrow('embeddingMapSpec: labels must be 2 class indices, one per point, got an array of 1');
    expect(() => embeddingMapSpec(map, [0, 2], { classNames: ['a', 'b'] })).toThrow(/label 1 is 2, not a class index \(an integer in \[0, 1\]\)/);
    expect(() => embeddingMapSpec({ projections: [0, 1], components: 1 }, [0, 0])).toThrow(/at least 2 components/);
    expect(() => embeddingMapSpec({ projections: [0, Number.NaN], components: 2 }, [0])).toThrow(/point 0 is at \(0, NaN\)/);
  });
});

describe('topKChartSpec', () => {
  it("lists each example's k best classes in order with their probabilities, the true one marked", () => {
    const best = topK([0.1, 0.6, 0.3, 0.5, 0.2, 0.3], 2, { classes: 3 });
    const spec = topKChartSpec(best, { classNames: ['x', 'y', 'z'], labels: [2, 0], titles: ['first', 'second'] });
    const values = (spec.data as { values: { panel: string; order: number; text: string; kind: string }[] }).values;
    expect(values.map((v) => [v.panel, v.order, v.text, v.kind])).toEqual([
      ['first', 1, 'y: 60.0%', 'other class'],
      ['first', 2, 'z: 30.0%', 'true class'],
      ['second', 1, 'x: 50.0%', 'true class'],
      ['second', 2, 'z: 30.0%', 'other class'],
    ]);
    compilesCleanly(spec);
  });

  it('refuses options that do not fit the result', () => {
    const best = topK([0.1, 0.9], 1, { classes: 2 });
    expect(() => topKChartSpec(best, { classNames: ['a'] })).toThrow(/classNames must be 2 strings/);
    expect(() => topKChartSpec(best, { labels: [5] })).toThrow(/labels must be 1 class indices in \[0, 1\]/);
    const two = topK([0.1, 0.9, 0.5, 0.5], 1, { classes: 2 });
    expect(() => topKChartSpec(two, { titles: ['same', 'same'] })).toThrow(/titles must differ from each other/);
  });
});
