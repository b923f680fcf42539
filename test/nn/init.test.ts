import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/data/random.js';
import {
  conv2d,
  constantInit,
  defineModel,
  dense,
  flatten,
  glorotNormal,
  glorotUniform,
  heNormal,
  heUniform,
  initParams,
  lecunNormal,
  lenet5,
  relu,
  zerosInit,
} from '../../src/nn/index.js';

function moments(a: Float32Array): { mean: number; variance: number; maxAbs: number } {
  let s = 0;
  let s2 = 0;
  let maxAbs = 0;
  for (const x of a) {
    s += x;
    s2 += x * x;
    maxAbs = Math.max(maxAbs, Math.abs(x));
  }
  const mean = s / a.length;
  return { mean, variance: s2 / a.length - mean * mean, maxAbs };
}

describe('initialisers', () => {
  const fans = { fanIn: 150, fanOut: 400 };
  const shape = [200, 300];

  it.each([
    ['heNormal', heNormal, 2 / 150],
    ['heUniform', heUniform, 2 / 150],
    ['glorotNormal', glorotNormal, 2 / 550],
    ['glorotUniform', glorotUniform, 2 / 550],
    ['lecunNormal', lecunNormal, 1 / 150],
  ] as const)('%s has mean 0 and its variance', (_name, init, variance) => {
    const m = moments(init(shape, fans, createRng(1)));
    // 60,000 samples: the sample variance is within a few percent.
    expect(Math.abs(m.mean)).toBeLessThan(0.02 * Math.sqrt(variance));
    expect(m.variance / variance).toBeGreaterThan(0.97);
    expect(m.variance / variance).toBeLessThan(1.03);
  });

  it('uniform initialisers stay within their limit sqrt(3·Var)', () => {
    expect(moments(heUniform(shape, fans, createRng(2))).maxAbs).toBeLessThanOrEqual(Math.sqrt(6 / 150));
    expect(moments(glorotUniform(shape, fans, createRng(2))).maxAbs).toBeLessThanOrEqual(Math.sqrt(6 / 550));
  });

  it('constant initialisers use no randomness', () => {
    expect([...zerosInit([3], fans, createRng(0))]).toEqual([0, 0, 0]);
    expect([...constantInit(0.5)([2], fans, createRng(0))]).toEqual([0.5, 0.5]);
    expect(() => constantInit(NaN)).toThrow(/finite/);
  });
});

describe('initParams', () => {
  it('is reproducible from the seed and differs between seeds', () => {
    const a = initParams(lenet5(), 42);
    const b = initParams(lenet5(), 42);
    const c = initParams(lenet5(), 43);
    for (const name of Object.keys(a)) expect(b[name].data).toEqual(a[name].data);
    expect(c['conv1.w'].data).not.toEqual(a['conv1.w'].data);
    expect(c['fc1.w'].data).not.toEqual(a['fc1.w'].data);
  });

  it('gives each parameter its own stream: adding a layer does not change the others', () => {
    const small = defineModel('small', [1, 8, 8], [conv2d('c1', { filters: 2, size: 3 }), relu(), flatten(), dense('out', { units: 3 })]);
    const larger = defineModel('larger', [1, 8, 8], [
      conv2d('c0', { filters: 1, size: 1 }),
      conv2d('c1', { filters: 2, size: 3 }),
      relu(),
      flatten(),
      dense('out', { units: 3 }),
    ]);
    const a = initParams(small, 5);
    const b = initParams(larger, 5);
    expect(b['c1.w'].data).toEqual(a['c1.w'].data);
    expect(b['out.w'].data).toEqual(a['out.w'].data);
  });

  it('uses He variance for a conv filter: fanIn = C·kH·kW', () => {
    const m = defineModel('wide', [8, 10, 10], [conv2d('c', { filters: 256, size: 5 })]);
    const v = moments(initParams(m, 9)['c.w'].data).variance; // 256·8·25 = 51,200 weights
    expect(v / (2 / (8 * 25))).toBeGreaterThan(0.96);
    expect(v / (2 / (8 * 25))).toBeLessThan(1.04);
  });
});
