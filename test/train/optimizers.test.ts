import { describe, expect, it } from 'vitest';
import { tensorValue, type Params } from '../../src/nn/params.js';
import {
  adam,
  constantLr,
  cosineDecay,
  exponentialDecay,
  optimizerStateFromTensors,
  optimizerTensors,
  resolveLearningRate,
  sgd,
  stepDecay,
  type Optimizer,
  type OptimizerState,
} from '../../src/train/index.js';

const params = (values: Record<string, number[]>): Params =>
  Object.freeze(Object.fromEntries(Object.entries(values).map(([k, v]) => [k, tensorValue([v.length], Float32Array.from(v))])));

/** Run steps with the given gradients and return the parameter values after each. */
function run(opt: Optimizer, p0: Params, grads: Record<string, number[]>[]): { values: number[][]; state: OptimizerState } {
  let p = p0;
  let state = opt.init(p0);
  const values: number[][] = [];
  for (const g of grads) {
    const r = opt.step(p, g, state);
    p = r.params;
    state = r.state;
    values.push([...p.w.data]);
  }
  return { values, state };
}

// Hand computations with p0 = 1 and gradient g = 0.5 at each step, η = 0.1.
describe('sgd', () => {
  it('plain: p ← p − η·g', () => {
    const { values } = run(sgd({ lr: 0.1 }), params({ w: [1, -2] }), [{ w: [0.5, -1] }]);
    // 1 − 0.1·0.5 = 0.95; −2 − 0.1·(−1) = −1.9
    expect(values[0][0]).toBeCloseTo(0.95, 6);
    expect(values[0][1]).toBeCloseTo(-1.9, 6);
  });

  it('weight decay λ = 0.1 adds λ·p to the gradient', () => {
    const { values } = run(sgd({ lr: 0.1, weightDecay: 0.1 }), params({ w: [1] }), [{ w: [0.5] }]);
    // g' = 0.5 + 0.1·1 = 0.6; p = 1 − 0.06 = 0.94
    expect(values[0][0]).toBeCloseTo(0.94, 6);
  });

  it('momentum μ = 0.9 with weight decay, two steps', () => {
    const { values, state } = run(sgd({ lr: 0.1, momentum: 0.9, weightDecay: 0.1 }), params({ w: [1] }), [{ w: [0.5] }, { w: [0.5] }]);
    // step 1: g' = 0.6, v = 0.6, p = 1 − 0.06 = 0.94
    expect(values[0][0]).toBeCloseTo(0.94, 6);
    // step 2: g' = 0.5 + 0.094 = 0.594, v = 0.9·0.6 + 0.594 = 1.134, p = 0.94 − 0.1134 = 0.8266
    expect(values[1][0]).toBeCloseTo(0.8266, 6);
    expect(state.step).toBe(2);
    expect(state.slots.velocity.w.data[0]).toBeCloseTo(1.134, 6);
  });

  it('Nesterov momentum, two steps', () => {
    const { values } = run(sgd({ lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.1 }), params({ w: [1] }), [{ w: [0.5] }, { w: [0.5] }]);
    // step 1: g' = 0.6, v = 0.6, d = g' + μv = 0.6 + 0.54 = 1.14, p = 1 − 0.114 = 0.886
    expect(values[0][0]).toBeCloseTo(0.886, 6);
    // step 2: g' = 0.5 + 0.0886 = 0.5886, v = 0.54 + 0.5886 = 1.1286,
    //         d = 0.5886 + 0.9·1.1286 = 1.60434, p = 0.886 − 0.160434 = 0.725566
    expect(values[1][0]).toBeCloseTo(0.725566, 6);
  });

  it('refuses bad settings', () => {
    expect(() => sgd({ lr: -1 })).toThrow(/lr must be a finite number >= 0/);
    expect(() => sgd({ lr: 0.1, momentum: 1 })).toThrow(/momentum must be in \[0, 1\)/);
    expect(() => sgd({ lr: 0.1, nesterov: true })).toThrow(/Nesterov momentum needs momentum > 0/);
  });
});

describe('adam', () => {
  it('one and two steps by hand (η = 0.1, β1 = 0.9, β2 = 0.999, ε = 1e-8)', () => {
    const { values, state } = run(adam({ lr: 0.1 }), params({ w: [1] }), [{ w: [0.5] }, { w: [-0.25] }]);
    // step 1 (g = 0.5): m = 0.05, v = 0.001·0.25 = 0.00025, m̂ = 0.05/0.1 = 0.5, v̂ = 0.00025/0.001 = 0.25,
    //   p = 1 − 0.1·0.5/(0.5 + 1e-8) = 0.900000002
    expect(values[0][0]).toBeCloseTo(0.9, 7);
    // step 2 (g = −0.25): m = 0.045 − 0.025 = 0.02, v = 0.999·0.00025 + 0.001·0.0625 = 0.00031225,
    //   m̂ = 0.02/(1 − 0.81) = 0.1052632, v̂ = 0.00031225/(1 − 0.998001) = 0.1562031, sqrt = 0.3952254,
    //   p = 0.9 − 0.1·0.1052632/0.3952254 = 0.9 − 0.0266337 = 0.8733663
    expect(values[1][0]).toBeCloseTo(0.8733663, 6);
    expect(state.step).toBe(2);
    expect(state.slots.m.w.data[0]).toBeCloseTo(0.02, 7);
    expect(state.slots.v.w.data[0]).toBeCloseTo(0.00031225, 9);
  });

  it('the first step moves every weight by about η, whatever the gradient scale (ε aside)', () => {
    const { values } = run(adam({ lr: 0.01 }), params({ w: [0, 0, 0] }), [{ w: [1e-3, -3, 1e3] }]);
    expect(values[0][0]).toBeCloseTo(-0.01, 6);
    expect(values[0][1]).toBeCloseTo(0.01, 6);
    expect(values[0][2]).toBeCloseTo(-0.01, 6);
  });

  it('weight decay: L2 (into the moments) or decoupled (AdamW)', () => {
    // L2: g' = 0.5 + 0.1·1 = 0.6, first step still moves by η: p = 1 − 0.1 = 0.9
    expect(run(adam({ lr: 0.1, weightDecay: 0.1 }), params({ w: [1] }), [{ w: [0.5] }]).values[0][0]).toBeCloseTo(0.9, 6);
    // AdamW: p = (1 − η·λ)·1 − η·1 = 0.99 − 0.1 = 0.89
    expect(run(adam({ lr: 0.1, weightDecay: 0.1, decoupled: true }), params({ w: [1] }), [{ w: [0.5] }]).values[0][0]).toBeCloseTo(0.89, 6);
  });
});

describe('optimizer state is immutable', () => {
  const optimizers: [string, () => Optimizer][] = [
    ['sgd', () => sgd({ lr: 0.1 })],
    ['sgd with momentum', () => sgd({ lr: 0.1, momentum: 0.9, weightDecay: 0.01 })],
    ['sgd with Nesterov momentum', () => sgd({ lr: 0.1, momentum: 0.9, nesterov: true })],
    ['adam', () => adam({ lr: 0.1 })],
    ['adamw', () => adam({ lr: 0.1, weightDecay: 0.1, decoupled: true })],
  ];

  /** Every object in a state, by path, and a copy of every array's values. */
  function snapshot(p: Params, s: OptimizerState): { objects: Map<string, unknown>; values: Map<string, number[]> } {
    const objects = new Map<string, unknown>([['params', p], ['state', s], ['slots', s.slots]]);
    const values = new Map<string, number[]>();
    const entries = (where: string, record: Params) => {
      objects.set(where, record);
      for (const [name, v] of Object.entries(record)) {
        objects.set(`${where}.${name}`, v).set(`${where}.${name}.shape`, v.shape).set(`${where}.${name}.data`, v.data);
        values.set(`${where}.${name}`, [...v.data]);
      }
    };
    entries('params', p);
    for (const [slot, record] of Object.entries(s.slots)) entries(`slots.${slot}`, record);
    values.set('step', [s.step]);
    return { objects, values };
  }

  /** Every frozen object of a state: the records, their entries, the shapes (not the arrays: a typed array cannot be frozen). */
  const frozenParts = (p: Params, s: OptimizerState): object[] => [
    p,
    s,
    s.slots,
    ...[p, ...Object.values(s.slots)].flatMap((record) => [record, ...Object.values(record).flatMap((v) => [v, v.shape])]),
  ];

  it.each(optimizers)('%s: a step returns new frozen records and leaves the previous state as it was, values and identity', (_, make) => {
    const opt = make();
    const p = params({ w: [1, 2], b: [-0.5] });
    // The state after one step (momentum and moments non-zero), then a second step from it.
    const { params: p1, state: s1 } = opt.step(p, { w: [0.5, 0.5], b: [1] }, opt.init(p));
    const before = snapshot(p1, s1);
    const r = opt.step(p1, { w: [-0.25, 1], b: [0.5] }, s1);

    // New records, all frozen.
    expect(r.params).not.toBe(p1);
    expect(r.state).not.toBe(s1);
    expect(r.state.step).toBe(2);
    for (const o of [r, ...frozenParts(r.params, r.state)]) expect(Object.isFrozen(o)).toBe(true);
    for (const name of ['w', 'b']) {
      expect(r.params[name]).not.toBe(p1[name]);
      expect(r.params[name].data).not.toBe(p1[name].data);
      for (const slot of Object.keys(s1.slots)) expect(r.state.slots[slot][name].data).not.toBe(s1.slots[slot][name].data);
    }
    // The previous state: the same objects, the same values.
    const after = snapshot(p1, s1);
    for (const [where, o] of before.objects) expect(after.objects.get(where), where).toBe(o);
    expect(after.values).toEqual(before.values);
  });

  it.each(optimizers)('%s: what a step does not change is shared by identity', (_, make) => {
    const opt = make();
    const p = params({ w: [1, 2], b: [-0.5] });
    const s0 = opt.init(p);
    const r = opt.step(p, { w: [0.5, 0.5], b: [1] }, s0);
    for (const name of ['w', 'b']) {
      expect(r.params[name].shape).toBe(p[name].shape);
      for (const slot of Object.keys(s0.slots)) expect(r.state.slots[slot][name].shape).toBe(s0.slots[slot][name].shape);
    }
    if (Object.keys(s0.slots).length === 0) expect(r.state.slots).toBe(s0.slots);
    // A slot the rule does not use (here one a checkpoint brought along) is carried as it is.
    const extra = optimizerStateFromTensors(s0.step, { ...optimizerTensors(s0), 'ema/w': { shape: [2], data: Float32Array.of(7, 8) } });
    const r2 = opt.step(p, { w: [0.5, 0.5], b: [1] }, extra);
    expect(r2.state.slots.ema).toBe(extra.slots.ema);
    expect([...r2.state.slots.ema.w.data]).toEqual([7, 8]);
  });

  it('mutating a state throws (strict mode), at every level but the arrays\' elements', () => {
    const opt = adam({ lr: 0.1 });
    const p = params({ w: [1, 2] });
    const r = opt.step(p, { w: [0.5, 0.5] }, opt.init(p));
    const attempts: [string, () => void][] = [
      ['replace a parameter', () => ((r.params as Record<string, unknown>).w = r.params.w)],
      ['add a parameter', () => ((r.params as Record<string, unknown>).u = r.params.w)],
      ['delete a parameter', () => delete (r.params as Record<string, unknown>).w],
      ['replace its data', () => ((r.params.w as { data: Float32Array }).data = new Float32Array(2))],
      ['reshape it', () => ((r.params.w.shape as number[])[0] = 1)],
      ['push to its shape', () => (r.params.w.shape as number[]).push(1)],
      ['set the step count', () => ((r.state as { step: number }).step = 0)],
      ['replace a slot', () => ((r.state.slots as Record<string, unknown>).m = {})],
      ['replace a slot entry', () => ((r.state.slots.m as Record<string, unknown>).w = r.params.w)],
      ['replace a slot entry\'s data', () => ((r.state.slots.v.w as { data: Float32Array }).data = new Float32Array(2))],
      ['change the result', () => ((r as { lr: number }).lr = 1)],
    ];
    for (const [what, attempt] of attempts) expect(attempt, what).toThrow(TypeError);
  });

  it('refuses parameters that are not plain records, rather than write into them', () => {
    class Value {
      constructor(
        readonly shape: number[],
        public data: Float32Array,
      ) {}
    }
    const opt = sgd({ lr: 0.1 });
    const odd = { w: new Value([2], Float32Array.of(1, 2)) };
    expect(() => opt.step(odd, { w: [1, 1] }, opt.init(odd))).toThrow('sgd: parameter "w" must be a plain { shape, data } record (see tensorValue)');
    expect([...odd.w.data]).toEqual([1, 2]);
  });

  it('reports missing or mis-sized gradients by parameter name', () => {
    const opt = sgd({ lr: 0.1, momentum: 0.5 });
    const p = params({ w: [1, 2] });
    expect(() => opt.step(p, {}, opt.init(p))).toThrow(/no gradient for parameter "w"/);
    expect(() => opt.step(p, { w: [1] }, opt.init(p))).toThrow(/the gradient of "w" has 1 values but the parameter has 2/);
    expect(() => opt.step(params({ w: [1, 2], u: [3] }), { w: [1, 1], u: [1] }, opt.init(p))).toThrow(/no "velocity" of the size of "u"/);
  });

  it('round-trips through checkpoint tensors', () => {
    const opt = adam();
    const p = params({ 'fc1.w': [1, 2] });
    const { state } = opt.step(p, { 'fc1.w': [1, 1] }, opt.init(p));
    const tensors = optimizerTensors(state);
    expect(Object.keys(tensors).sort()).toEqual(['m/fc1.w', 'v/fc1.w']);
    const back = optimizerStateFromTensors(state.step, tensors);
    expect(back.step).toBe(1);
    expect(back.slots.m['fc1.w'].data).toEqual(state.slots.m['fc1.w'].data);
    expect(back.slots.v['fc1.w'].data).toEqual(state.slots.v['fc1.w'].data);
  });
});

describe('learning-rate schedules', () => {
  const at = (step: number, epoch = 0, stepsPerEpoch = 10, totalSteps = 100) => ({ step, epoch, stepsPerEpoch, totalSteps });

  it('constant', () => {
    expect(constantLr(0.3)(at(57))).toBe(0.3);
  });

  it('step decay by epochs', () => {
    const s = stepDecay(0.1, { every: 2, factor: 0.5 });
    expect([0, 1, 2, 3, 4].map((e) => s(at(0, e)))).toEqual([0.1, 0.1, 0.05, 0.05, 0.025]);
  });

  it('exponential decay, per epoch by default', () => {
    const s = exponentialDecay(1, { rate: 0.5 });
    expect(s(at(0))).toBe(1);
    expect(s(at(10))).toBeCloseTo(0.5, 12);
    expect(s(at(5))).toBeCloseTo(Math.SQRT1_2, 12);
    expect(exponentialDecay(1, { rate: 0.5, every: 2 })(at(4))).toBeCloseTo(0.25, 12);
  });

  it('cosine decay over the run, with warm-up', () => {
    const s = cosineDecay(1);
    expect(s(at(0))).toBe(1);
    expect(s(at(50))).toBeCloseTo(0.5, 12);
    expect(s(at(100))).toBeCloseTo(0, 12);
    expect(s(at(150))).toBeCloseTo(0, 12);
    const w = cosineDecay(1, { warmup: 4, steps: 14, final: 0.1 });
    expect([0, 1, 2, 3].map((k) => w(at(k)))).toEqual([0.25, 0.5, 0.75, 1]);
    expect(w(at(9))).toBeCloseTo(0.55, 12);
    expect(w(at(14))).toBeCloseTo(0.1, 12);
    expect(() => cosineDecay(1)({ step: 0, epoch: 0, stepsPerEpoch: Infinity, totalSteps: Infinity })).toThrow(/give `steps`/);
  });

  it('an optimizer evaluates its schedule at its own step count and the given epoch', () => {
    const opt = sgd({ lr: stepDecay(1, { every: 1, factor: 0.1 }) });
    const p = params({ w: [0] });
    const s = opt.init(p);
    expect(opt.step(p, { w: [1] }, s, { epoch: 0 }).lr).toBe(1);
    expect(opt.step(p, { w: [1] }, s, { epoch: 2 }).params.w.data[0]).toBeCloseTo(-0.01, 9);
    expect(() => resolveLearningRate(() => NaN, at(3))).toThrow(/schedule gave NaN at step 3/);
  });
});
