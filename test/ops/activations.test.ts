/**
 * The activations leakyRelu, elu and relu6, and the constant power pow:
 * hand goldens on the float64 reference, the gradient at each kink and
 * pole by hand (the VJP and the JVP agreeing on it), fast-check gradient
 * properties away from the kinks (the VJP and the JVP against central
 * differences and each other, and the same for the gradient itself, so the
 * rules differentiate again), errors, and on every Node backend: NaN passed
 * through, and pow's domain (negative bases with integer exponents, NaN for
 * the others, zeros and poles). Last, every property is shown to fail when
 * its op's VJP or JVP is wrong.
 */
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { jvp } from '../../src/autodiff/jvp.js';
import { grad } from '../../src/autodiff/grad.js';
import { compile, type BackendName } from '../../src/backend/compile.js';
import { releaseIdleGpus } from '../../src/backend/gpujs/gpu.js';
import { disableNodeWebGPU } from '../../src/backend/gpujs/node-webgpu.js';
import type { Tensor } from '../../src/graph/tensor.js';
import { add } from '../../src/ops/add.js';
import type { OpName } from '../../src/ops/attrs.js';
import { constant } from '../../src/ops/constant.js';
import { div } from '../../src/ops/div.js';
import { elu } from '../../src/ops/elu.js';
import { ops } from '../../src/ops/index.js';
import { input } from '../../src/ops/input.js';
import { leakyRelu } from '../../src/ops/leakyRelu.js';
import { mul } from '../../src/ops/mul.js';
import type { OpDef } from '../../src/ops/op.js';
import { pow } from '../../src/ops/pow.js';
import { relu6 } from '../../src/ops/relu6.js';
import { sub } from '../../src/ops/sub.js';
import { sum } from '../../src/ops/sum.js';
import { backendStatuses, unavailableBackendTest } from '../backend/backends.js';
import { expectGradientsMatch, propertyRuns, randomValues, seedArb, shapeArb, striateError } from '../helpers.js';

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Evaluate `outputs` on the float64 reference from named feeds. */
function run(outputs: Tensor[], feeds: Record<string, readonly number[]>): Float64Array[] {
  const f = compile(outputs);
  return f.runSync(Object.fromEntries(f.inputs.map(({ name }) => [name, Float64Array.from(feeds[name])]))).map((r) => r.data);
}

/** f at xs on the reference, one output per element. */
function values(f: (x: Tensor) => Tensor, xs: readonly number[]): number[] {
  return Array.from(run([f(input('x', [xs.length]))], { x: xs })[0]);
}

/** The derivative of f at each of xs, by the VJP (grad of the sum) and by the JVP (tangent 1). */
function derivatives(f: (x: Tensor) => Tensor, xs: readonly number[]): { vjp: number[]; jvp: number[] } {
  const x = input('x', [xs.length]);
  const y = f(x);
  const [byVjp] = grad(sum(y), [x]);
  const [byJvp] = jvp([y], [x], [input('t', [xs.length])]);
  const [gv, tv] = run([byVjp, byJvp], { x: xs, t: xs.map(() => 1) });
  return { vjp: Array.from(gv), jvp: Array.from(tv) };
}

/** Numbers equal as Object.is has it, except that +0 and −0 are equal; close within a relative 1e-12. */
function expectValues(got: readonly number[], want: readonly number[]): void {
  expect(got.length).toBe(want.length);
  got.forEach((v, i) => {
    const w = want[i];
    if (Number.isNaN(w) || !Number.isFinite(w)) expect(v, `element ${i}`).toBe(w);
    else expect(Math.abs(v - w), `element ${i}: ${v} vs ${w}`).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(w)));
  });
}

// Domains away from the kinks (by at least 0.05) and poles.
const awayFromZero = (v: number): number => (v >= 0 ? 0.05 + v : v - 0.05);
/** [-1, 1] onto three zones of relu6: (-2, -0.05), (0.05, 5.95), (6.05, 8), by index. */
const relu6Zones = (v: number, i: number): number => {
  const [lo, hi] = [[-2, -0.05], [0.05, 5.95], [6.05, 8]][i % 3];
  return lo + ((v + 1) / 2) * (hi - lo);
};
/** |v| in [0.3, 1.3], the sign kept: negative bases for integer exponents, away from the pole at 0. */
const signedAwayFromZero = (v: number): number => (v >= 0 ? 0.3 + v : v - 0.3);
const positive = (v: number): number => 0.2 + 1.5 * Math.abs(v);
/** |v| in [0.9, 1.1] with its sign: large exponents neither overflow nor vanish. */
const nearOne = (v: number): number => (v >= 0 ? 1 + 0.1 * (v - 0.5) * 2 : -1 + 0.1 * (v + 0.5) * 2);

/**
 * A number in [min, max] on a grid of `steps` (fast-check's doubles crowd
 * towards the ends and towards tiny magnitudes, which would make most
 * slopes and exponents trivial).
 */
const evenly = (min: number, max: number, steps = 1000): fc.Arbitrary<number> => fc.integer({ min: 0, max: steps }).map((j) => min + ((max - min) * j) / steps);

const valuesIn = (shape: readonly number[], seed: number, domain: (v: number, i: number) => number) => ({
  shape,
  data: randomValues(sizeOf(shape), seed).map(domain),
});

describe('leakyRelu', () => {
  it('is x for x > 0 and alpha x elsewhere; alpha defaults to 0.01; alpha 0 is relu', () => {
    const xs = [-2, -0.5, 0, 0.5, 3];
    expectValues(values((x) => leakyRelu(x, { alpha: 0.2 }), xs), [-0.4, -0.1, 0, 0.5, 3]);
    expectValues(values((x) => leakyRelu(x), xs), [-0.02, -0.005, 0, 0.5, 3]);
    expectValues(values((x) => leakyRelu(x, { alpha: 0 }), xs), [0, 0, 0, 0.5, 3]);
    expect(leakyRelu(input('x', [2])).attrs).toEqual({ alpha: 0.01 });
  });

  it('has the slope alpha at the kink x = 0 (the left one, as relu takes 0), by the VJP and the JVP alike', () => {
    for (const alpha of [0, 0.01, 0.3]) {
      const d = derivatives((x) => leakyRelu(x, { alpha }), [-1, 0, 1e-300, 2]);
      expectValues(d.vjp, [alpha, alpha, 1, 1]);
      expectValues(d.jvp, d.vjp);
    }
  });

  it('has a VJP and a JVP that match central differences, for any alpha in [0, 1)', () => {
    fc.assert(
      fc.property(shapeArb(0, 3, 4), seedArb, evenly(0, 0.999), (shape, seed, alpha) => {
        expectGradientsMatch((x) => leakyRelu(x, { alpha }), [valuesIn(shape, seed, awayFromZero)]);
      }),
      { numRuns: propertyRuns },
    );
  });

  it('refuses an alpha outside [0, 1), not a finite number, or an unknown option', () => {
    const x = input('x', [3]);
    expect(striateError(() => leakyRelu(x, { alpha: 1 }), 'leakyRelu')).toMatchObject({
      message: 'leakyRelu: alpha must be a finite number in [0, 1), got 1',
      got: 'alpha 1',
      expected: 'a finite number in [0, 1)',
    });
    expect(striateError(() => leakyRelu(x, { alpha: -0.1 })).message).toBe('leakyRelu: alpha must be a finite number in [0, 1), got -0.1');
    expect(striateError(() => leakyRelu(x, { alpha: NaN })).message).toBe('leakyRelu: alpha must be a finite number in [0, 1), got number NaN');
    expect(striateError(() => leakyRelu(x, { alpha: '0.1' as never })).message).toBe('leakyRelu: alpha must be a finite number in [0, 1), got "0.1"');
    expect(striateError(() => leakyRelu(x, { slope: 0.1 } as never)).message).toMatch(/^leakyRelu: unknown option "slope"; the options are "alpha"/);
    expect(striateError(() => leakyRelu(x, null as never)).message).toMatch(/^leakyRelu: options must be an object such as \{ alpha: 0.2 \}/);
  });
});

describe('elu', () => {
  it('is x for x > 0 and alpha (e^x − 1) elsewhere; alpha defaults to 1', () => {
    const xs = [-3, -1, -1e-9, 0, 0.5, 2];
    expectValues(values((x) => elu(x), xs), [Math.expm1(-3), Math.expm1(-1), Math.expm1(-1e-9), 0, 0.5, 2]);
    expectValues(values((x) => elu(x, { alpha: 2.5 }), xs), xs.map((v) => (v > 0 ? v : 2.5 * Math.expm1(v))));
    expect(elu(input('x', [2])).attrs).toEqual({ alpha: 1 });
  });

  it('has the slope alpha e^x for x <= 0 (alpha at the kink x = 0) and 1 above, by the VJP and the JVP alike', () => {
    for (const alpha of [0.5, 1, 3]) {
      const xs = [-2, -0.5, 0, 0.25, 1e8];
      const d = derivatives((x) => elu(x, { alpha }), xs);
      expectValues(d.vjp, xs.map((v) => (v > 0 ? 1 : alpha * Math.exp(v))));
      expectValues(d.jvp, d.vjp);
    }
  });

  it('has a VJP and a JVP that match central differences, for any alpha > 0', () => {
    fc.assert(
      fc.property(shapeArb(0, 3, 4), seedArb, evenly(0.05, 4), (shape, seed, alpha) => {
        expectGradientsMatch((x) => elu(x, { alpha }), [valuesIn(shape, seed, (v) => 2 * awayFromZero(v))]);
      }),
      { numRuns: propertyRuns },
    );
  });

  it('refuses an alpha that is not a finite number > 0', () => {
    const x = input('x', [3]);
    expect(striateError(() => elu(x, { alpha: 0 }), 'elu')).toMatchObject({
      message: 'elu: alpha must be a finite number > 0, got 0',
      got: 'alpha 0',
      expected: 'a finite number > 0',
    });
    expect(striateError(() => elu(x, { alpha: Infinity })).message).toBe('elu: alpha must be a finite number > 0, got number Infinity');
    expect(striateError(() => elu(x, { scale: 1 } as never)).message).toMatch(/^elu: unknown option "scale"/);
  });
});

describe('relu6', () => {
  it('is min(max(x, 0), 6)', () => {
    expectValues(values(relu6, [-1, 0, 3, 5.99, 6, 7.5]), [0, 0, 3, 5.99, 6, 6]);
  });

  it('has the gradient 1 on (0, 6) and the subgradient 0 at both kinks, x = 0 and x = 6, by the VJP and the JVP alike', () => {
    const d = derivatives(relu6, [-1, 0, 1e-300, 3, 6 - 1e-12, 6, 7]);
    expect(d.vjp).toEqual([0, 0, 1, 1, 1, 0, 0]);
    expect(d.jvp).toEqual(d.vjp);
  });

  it('has a VJP and a JVP that match central differences', () => {
    fc.assert(
      fc.property(shapeArb(0, 3, 4), seedArb, (shape, seed) => {
        expectGradientsMatch(relu6, [valuesIn(shape, seed, relu6Zones)]);
      }),
      { numRuns: propertyRuns },
    );
  });
});

describe('pow', () => {
  it('is Math.pow: negative bases with integer exponents, NaN with the others, zeros, poles and x^0 = 1', () => {
    const xs = [-2, -0.5, 0, 0.5, 3];
    for (const p of [3, -2, 0.5, -0.75, 2.5, 0, 1, 65, 66, -65, 100.5]) {
      expectValues(values((x) => pow(x, p), xs), xs.map((v) => Math.pow(v, p)));
    }
    expectValues(values((x) => pow(x, 0.5), [-4, 0, 4]), [NaN, 0, 2]);
    expectValues(values((x) => pow(x, -1), [-0.5, 0, 2]), [-2, Infinity, 0.5]);
    expectValues(values((x) => pow(x, 3), [-2]), [-8]);
    // The sign of a zero, as Math.pow: (−0)^−3 = −Infinity, (−0)^−2 = +Infinity.
    expect(values((x) => pow(x, -3), [-0, 0])).toEqual([-Infinity, Infinity]);
    expect(values((x) => pow(x, -2), [-0])).toEqual([Infinity]);
  });

  it('has the derivative p x^(p−1): zero for p = 0, infinite at 0 for p < 1, NaN for x < 0 and a fractional p', () => {
    const xs = [-2, 0, 0.25, 4];
    for (const p of [3, 2, 1, -1, 0.5, 0]) {
      const d = derivatives((x) => pow(x, p), xs);
      expectValues(d.vjp, xs.map((v) => (p === 0 ? 0 : p * Math.pow(v, p - 1))));
      expectValues(d.jvp, d.vjp);
    }
    expect(derivatives((x) => pow(x, 0.5), [0]).vjp).toEqual([Infinity]);
    expect(derivatives((x) => pow(x, -1), [0]).vjp).toEqual([-Infinity]);
    // p = 0: no gradient flows at all (the VJP's entry is null, the JVP's tangent null).
    const x = input('x', [2]);
    expect(ops.pow.vjp(input('g', [2]), pow(x, 0), undefined as never)).toEqual([null]);
    expect(ops.pow.jvp([input('t', [2])], pow(x, 0))).toBeNull();
  });

  it('has a VJP and a JVP that match central differences: integer exponents on negative bases', () => {
    fc.assert(
      fc.property(shapeArb(0, 3, 4), seedArb, fc.integer({ min: -4, max: 6 }), (shape, seed, p) => {
        expectGradientsMatch((x) => pow(x, p), [valuesIn(shape, seed, signedAwayFromZero)]);
      }),
      { numRuns: propertyRuns },
    );
  });

  it('has a VJP and a JVP that match central differences: fractional exponents on positive bases, large ones near ±1', () => {
    const fractional = evenly(-3, 3, 1200).filter((p) => !Number.isInteger(p));
    fc.assert(
      fc.property(shapeArb(0, 3, 4), seedArb, fractional, fc.constantFrom(65, 66, -65, 100), (shape, seed, p, big) => {
        expectGradientsMatch((x) => pow(x, p), [valuesIn(shape, seed, positive)]);
        expectGradientsMatch((x) => pow(x, big), [valuesIn(shape, seed + 1, nearOne)]);
      }),
      { numRuns: propertyRuns },
    );
  });

  it('refuses an exponent that is not a finite number of magnitude at most 2^24, pointing a tensor exponent elsewhere', () => {
    const x = input('x', [3]);
    expect(striateError(() => pow(x, NaN), 'pow')).toMatchObject({
      message: 'pow: exponent must be a finite number in [-16777216, 16777216], got number NaN',
      got: 'exponent number NaN',
      expected: 'a finite number in [-16777216, 16777216]',
    });
    expect(striateError(() => pow(x, Infinity)).message).toMatch(/got number Infinity$/);
    expect(striateError(() => pow(x, 2 ** 25)).message).toMatch(/got number 33554432$/);
    expect(striateError(() => pow(x, undefined as never)).message).toMatch(/got undefined$/);
    expect(striateError(() => pow(x, input('p', [3]) as never)).message).toMatch(
      /got a Tensor; pow takes a constant exponent, for a tensor exponent y use exp\(mul\(y, log\(x\)\)\)$/,
    );
  });
});

describe('second order: each rule differentiates again', () => {
  // The gradient of <c, f(x)> is c · f'(x): its VJP and JVP (the rules of the
  // ops the first VJP built) against central differences.
  const cases: [string, (x: Tensor) => Tensor, (v: number, i: number) => number][] = [
    ['leakyRelu', (x) => leakyRelu(x, { alpha: 0.2 }), awayFromZero],
    ['elu', (x) => elu(x, { alpha: 0.7 }), awayFromZero],
    ['relu6', relu6, relu6Zones],
    ['pow (integer)', (x) => pow(x, 3), signedAwayFromZero],
    ['pow (fractional)', (x) => pow(x, -0.75), positive],
  ];
  it.each(cases)('%s', (_name, f, domain) => {
    fc.assert(
      fc.property(shapeArb(1, 2, 4), seedArb, (shape, seed) => {
        const c = constant(randomValues(sizeOf(shape), seed + 7), shape);
        expectGradientsMatch((x) => grad(sum(mul(f(x), c)), [x])[0], [valuesIn(shape, seed, domain)]);
      }),
      { numRuns: Math.max(4, Math.ceil(propertyRuns / 4)) },
    );
  });
});

// ---------------------------------------------------------------------------
// On every Node backend

/** `a` with NaN where the mask input `name_m` is 0: a + (m − m) / m (feeds cannot hold NaN). */
function nanInput(name: string, n: number): Tensor {
  const m = input(`${name}_m`, [n]);
  return add(input(name, [n]), div(sub(m, m), m));
}
const nanFeeds = (name: string, xs: readonly number[]) => ({
  [name]: xs.map((v) => (Number.isNaN(v) ? 0 : v)),
  [`${name}_m`]: xs.map((v) => (Number.isNaN(v) ? 0 : 1)),
});

const xsDevice = [-2, -1.5, -0.5, -0, 0, 0.5, 1.5, 2, 5.5, 7, NaN];
const deviceOutputs = (x: Tensor): [string, Tensor][] => [
  ['leakyRelu alpha 0.2', leakyRelu(x, { alpha: 0.2 })],
  ['leakyRelu alpha 0', leakyRelu(x, { alpha: 0 })],
  ['elu alpha 0.5', elu(x, { alpha: 0.5 })],
  ['relu6', relu6(x)],
  // Large positive exponents of x / 4, so that every value is within float32's range.
  ...[3, -2, -3, 0, 1, 0.5, -0.75, 2.5, 65, 66, -65, -67, 100.5, -1].map((p): [string, Tensor] => [`pow ${p}`, pow(p > 10 ? mul(x, 0.25) : x, p)]),
];

afterAll(async () => {
  releaseIdleGpus();
  await disableNodeWebGPU();
});

describe.each(await backendStatuses())('on backend $backend', ({ backend, reason }) => {
  if (reason !== null) return unavailableBackendTest(backend, reason);

  // The poles' signs too: (−0)^−3 = −Infinity, (+0)^−3 = +Infinity, (±0)^−2 = +Infinity.
  it("gives the reference's values: NaN passed through, negative bases with integer exponents, NaN for fractional ones, zeros and poles", async () => {
    const named = deviceOutputs(nanInput('x', xsDevice.length));
    const outputs = named.map(([, t]) => t);
    const feeds = nanFeeds('x', xsDevice);
    const want = run(outputs, feeds);
    const dev = compile(outputs, { backend: backend as BackendName });
    try {
      expect(dev.backend).toBe(backend);
      const got = await dev.run(Object.fromEntries(dev.inputs.map(({ name }) => [name, Float64Array.from(feeds[name])])));
      named.forEach(([what], o) => {
        // Values below float32's range (7^-65) are compared within an absolute 1e-35.
        want[o].forEach((w, i) => {
          const v = got[o].data[i];
          const where = `${what} at x = ${xsDevice[i]}: ${v} vs ${w}`;
          if (Number.isNaN(w) || !Number.isFinite(w)) expect(v, where).toBe(w);
          else expect(Math.abs(v - w), where).toBeLessThanOrEqual(1e-5 * Math.max(1e-30, Math.abs(w)));
        });
      });
      expect(want.some((w) => w.some(Number.isNaN)) && want.some((w) => w.some((v) => v === Infinity))).toBe(true);
    } finally {
      await dev.dispose();
    }
  });
});

// ---------------------------------------------------------------------------
// The properties fail when a rule is wrong.

type AnyDef = OpDef<never>;
const registry = ops as unknown as Record<OpName, AnyDef>;
const original = { ...registry };
afterEach(() => {
  for (const name of Object.keys(original) as OpName[]) registry[name] = original[name];
});

describe('every gradient property here fails when its op has a wrong VJP or JVP', () => {
  // Each rule's result doubled: the VJP in mode 'reverse' (the JVP left alone) and
  // the JVP in mode 'forward', so each failure is the broken rule's.
  const broken: [OpName, (x: Tensor) => Tensor, (v: number, i: number) => number][] = [
    ['leakyRelu', (x) => leakyRelu(x, { alpha: 0.2 }), awayFromZero],
    ['elu', (x) => elu(x, { alpha: 0.7 }), awayFromZero],
    ['relu6', relu6, relu6Zones],
    ['pow', (x) => pow(x, -0.75), positive],
  ];
  const data = (domain: (v: number, i: number) => number) => [valuesIn([2, 3], 5, domain)];

  it.each(broken)('%s: a doubled VJP', (op, f, domain) => {
    const rule = original[op].vjp;
    registry[op] = { ...original[op], vjp: (g, node, ad) => rule(g, node, ad).map((t) => t && mul(t, 2)) } as AnyDef;
    expect(() => expectGradientsMatch(f, data(domain), { mode: 'reverse' })).toThrow(/but the VJP gives/);
  });

  it.each(broken)('%s: a doubled JVP', (op, f, domain) => {
    const rule = original[op].jvp;
    registry[op] = { ...original[op], jvp: (ts, node) => { const t = rule(ts, node); return t && mul(t, 2); } } as AnyDef;
    expect(() => expectGradientsMatch(f, data(domain), { mode: 'forward' })).toThrow(/but the JVP gives/);
  });

  it('and the unbroken rules pass the same checks', () => {
    for (const [, f, domain] of broken) expectGradientsMatch(f, data(domain));
  });
});
