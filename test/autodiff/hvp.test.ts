/**
 * Hessian-vector products by forward-over-reverse: with `[g] = grad(L, [w])`,
 * `jvp([g], [w], [v])` is the directional derivative of the gradient,
 * d/dε ∇L(w + ε v) at ε = 0 = H v. It is checked three ways, in float64 on the
 * reference backend, over small random networks:
 *  - against reverse-over-reverse, `grad(<g, v>, [w])` = ∇<∇L, v> = H v
 *    (both analytic, so they agree to rounding);
 *  - against central differences of the gradient, (∇L(w + εv) − ∇L(w − εv)) / 2ε;
 *  - symmetry, <u, H v> = <v, H u>, which a wrong second derivative of a
 *    single op usually breaks.
 * ReLU and max pooling make the loss piecewise smooth. Their second
 * derivatives vanish inside a piece, but a difference step that crosses a kink
 * or changes a pool's argmax measures a jump, so the conv net is checked only
 * where the whole segment w ± εv lies in one piece (`sameRouting`).
 * One small conv net also runs forward-over-reverse on webasm, against the reference.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  add,
  avgPool2d,
  compile,
  conv2d,
  grad,
  input,
  jvp,
  matmul,
  maxPool2d,
  mul,
  relu,
  reshape,
  sigmoid,
  softmaxCrossEntropy,
  sum,
  tanh,
  type Shape,
  type Tensor,
} from '../../src/index.js';
import { sizeOf } from '../../src/graph/tensor.js';
import { distinctValues, propertyRuns, randomValues, seedArb } from '../helpers.js';

/** A scalar loss of named parameters at a point: the data it reads (x, labels) are fixed feeds. */
interface Problem {
  readonly params: readonly { readonly name: string; readonly shape: Shape; readonly value: Float64Array }[];
  readonly data: Readonly<Record<string, Float64Array>>;
  /** Builds the loss from one tensor per parameter (in `params` order); reads `input('x')` and `input('labels')`. */
  readonly loss: (ws: readonly Tensor[]) => Tensor;
}

type Feeds = Record<string, Float64Array>;
type Block = readonly Float64Array[];

/** Compile `outputs` on the reference backend once; run it with only the feeds it reads. */
function runner(outputs: readonly Tensor[]): (feeds: Feeds) => Float64Array[] {
  const f = compile(outputs);
  return (feeds) => f.runSync(Object.fromEntries(f.inputs.map(({ name }) => [name, feeds[name]]))).map((r) => r.data);
}

const flat = (blocks: Block): Float64Array => Float64Array.from(blocks.flatMap((b) => [...b]));
const dot = (a: Block, b: Block): number => {
  const x = flat(a);
  const y = flat(b);
  return x.reduce((s, xi, i) => s + xi * y[i], 0);
};
const norm = (a: Block): number => Math.sqrt(dot(a, a));
const axpy = (w: Block, s: number, v: Block): Float64Array[] => w.map((wi, i) => wi.map((x, j) => x + s * v[i][j]));

/** Every element within rtol of the largest magnitude of either side (plus atol): one scale for all parameters. */
function expectClose(got: Block, want: Block, rtol: number, what: string, atol = 1e-12): void {
  const a = flat(got);
  const b = flat(want);
  expect(a.length).toBe(b.length);
  const scale = Math.max(...a.map(Math.abs), ...b.map(Math.abs));
  let worst = 0;
  a.forEach((ai, i) => (worst = Math.max(worst, Math.abs(ai - b[i]))));
  expect(Number.isFinite(scale), `${what}: non-finite values`).toBe(true);
  expect(worst, `${what}: max |difference| ${worst} against max |value| ${scale}`).toBeLessThanOrEqual(rtol * scale + atol);
}

/** The graphs of one problem: gradient, forward-over-reverse and reverse-over-reverse HVPs. */
function hessianGraphs(p: Problem) {
  const ws = p.params.map((q) => input(q.name, q.shape));
  const vs = p.params.map((q) => input(`v/${q.name}`, q.shape));
  const g = grad(p.loss(ws), ws);
  // <g, v> summed over every parameter: its gradient is H v.
  const gv = g.map((gi, i): Tensor => sum(mul(gi, vs[i]))).reduce((s, t) => add(s, t));
  return {
    gradient: runner(g),
    forwardOverReverse: runner(jvp(g, ws, vs)),
    reverseOverReverse: runner(grad(gv, ws)),
  };
}

/** The feeds of a run at parameters `w` along direction `v`. */
function feedsAt(p: Problem, w: Block, v?: Block): Feeds {
  const feeds: Feeds = { ...p.data };
  p.params.forEach((q, i) => {
    feeds[q.name] = w[i];
    if (v) feeds[`v/${q.name}`] = v[i];
  });
  return feeds;
}

/** Directions in [-1, 1] for every parameter, from a seed. */
const direction = (p: Problem, seed: number): Float64Array[] => p.params.map((q, i) => randomValues(sizeOf(q.shape), seed + 7919 * (i + 1)));

/**
 * Central-difference step along v (|v| ≤ 1 elementwise): truncation ~ε² relative to the
 * HVP, and rounding ~ulp(g)/ε absolute, g the gradient. The rounding term does not shrink
 * with the HVP, so where the HVP is tiny beside the gradient it is the bound (differencesTol).
 */
const EPS = 1e-5;

/** The three checks of the file comment at the problem's point, along v (and u for symmetry). */
function checkHvp(p: Problem, v: Block, u: Block): void {
  const h = hessianGraphs(p);
  const w = p.params.map((q) => q.value);
  const hv = h.forwardOverReverse(feedsAt(p, w, v));
  expectClose(hv, h.reverseOverReverse(feedsAt(p, w, v)), 1e-10, 'forward-over-reverse vs reverse-over-reverse');

  const plus = h.gradient(feedsAt(p, axpy(w, EPS, v)));
  const minus = h.gradient(feedsAt(p, axpy(w, -EPS, v)));
  const differences = plus.map((gp, i) => gp.map((x, j) => (x - minus[i][j]) / (2 * EPS)));
  // Each difference rounds g(w ± εv) to float64 (the reference interpreter): error ≤ a few ulp(|g|) / ε.
  const gScale = Math.max(...flat(plus).map(Math.abs), ...flat(minus).map(Math.abs));
  const differencesTol = 1e-12 + (64 * Number.EPSILON * gScale) / EPS;
  expectClose(hv, differences, 1e-6, 'forward-over-reverse vs central differences of the gradient', differencesTol);

  const hu = h.forwardOverReverse(feedsAt(p, w, u));
  const [uHv, vHu] = [dot(u, hv), dot(v, hu)];
  expect(Math.abs(uHv - vHu), `<u, Hv> = ${uHv} but <v, Hu> = ${vHu}`).toBeLessThanOrEqual(1e-10 * (norm(u) * norm(hv) + norm(v) * norm(hu)) + 1e-14);
}

/** Class indices in [0, classes) as floats, from a seed. */
const labelValues = (n: number, classes: number, seed: number): Float64Array =>
  randomValues(n, seed).map((r) => Math.min(classes - 1, Math.floor(((r + 1) / 2) * classes)));

/** A dense layer's parameters: weights [inputs, units] and bias [units]. */
const denseParams = (name: string, inputs: number, units: number, seed: number) => [
  { name: `${name}.w`, shape: [inputs, units], value: randomValues(inputs * units, seed) },
  { name: `${name}.b`, shape: [units], value: randomValues(units, seed + 1) },
];
const dense = (x: Tensor, w: Tensor, b: Tensor): Tensor => add(matmul(x, w), b);

/** tanh and sigmoid hidden layers, softmax cross-entropy on top. */
function mlp({ n, d0, d1, d2, classes, seed }: { n: number; d0: number; d1: number; d2: number; classes: number; seed: number }): Problem {
  return {
    params: [...denseParams('fc1', d0, d1, seed), ...denseParams('fc2', d1, d2, seed + 2), ...denseParams('fc3', d2, classes, seed + 4)],
    data: { x: randomValues(n * d0, seed + 6), labels: labelValues(n, classes, seed + 7) },
    loss: ([w1, b1, w2, b2, w3, b3]) => {
      const h1 = tanh(dense(input('x', [n, d0]), w1, b1));
      const h2 = sigmoid(dense(h1, w2, b2));
      return softmaxCrossEntropy(dense(h2, w3, b3), input('labels', [n]));
    },
  };
}

interface ConvNetSpec {
  n: number;
  c: number;
  h: number;
  w: number;
  filters: number;
  k: number;
  padding: number;
  classes: number;
  seed: number;
}

/** conv2d (with bias) → relu → maxPool2d 2×2/2 → dense → softmax cross-entropy; x and the conv's parameters are distinct values. */
function convNet(s: ConvNetSpec): Problem & { preActivation: (ws: readonly Tensor[]) => Tensor; poolShape: Shape } {
  const oh = s.h + 2 * s.padding - s.k + 1;
  const ow = s.w + 2 * s.padding - s.k + 1;
  const features = s.filters * Math.floor(oh / 2) * Math.floor(ow / 2);
  const xShape = [s.n, s.c, s.h, s.w];
  const wShape = [s.filters, s.c, s.k, s.k];
  const spread = (size: number, seed: number) => distinctValues(size, seed, 2 / size);
  const preActivation = ([cw, cb]: readonly Tensor[]): Tensor => conv2d(input('x', xShape), cw, { bias: cb, padding: s.padding });
  return {
    params: [
      { name: 'conv.w', shape: wShape, value: spread(sizeOf(wShape), s.seed) },
      { name: 'conv.b', shape: [s.filters], value: spread(s.filters, s.seed + 1) },
      ...denseParams('fc', features, s.classes, s.seed + 2),
    ],
    data: { x: spread(sizeOf(xShape), s.seed + 4), labels: labelValues(s.n, s.classes, s.seed + 5) },
    loss: (ws) => {
      const pooled = maxPool2d(relu(preActivation(ws)), { size: 2, stride: 2 });
      return softmaxCrossEntropy(dense(reshape(pooled, [s.n, features]), ws[2], ws[3]), input('labels', [s.n]));
    },
    preActivation,
    poolShape: [s.n, s.filters, oh, ow],
  };
}

/**
 * Which cell of each 2×2/2 window of relu(pre) the maximum comes from, or -1
 * where the window is all ≤ 0 (relu passes no gradient there).
 */
function routing(pre: Float64Array, [n, c, h, w]: Shape): number[] {
  const out: number[] = [];
  for (let plane = 0; plane < n * c; plane++) {
    for (let i = 0; i + 1 < h; i += 2) {
      for (let j = 0; j + 1 < w; j += 2) {
        let best = -1;
        for (const [di, dj] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
          const at = (plane * h + i + di) * w + j + dj;
          if (pre[at] > 0 && (best < 0 || pre[at] > pre[best])) best = at;
        }
        out.push(best);
      }
    }
  }
  return out;
}

/**
 * Whether the loss is smooth on the whole segment w ± εv. The pre-activations
 * are affine in the conv's parameters, so if each window picks the same
 * positive cell (or none) at both ends it does so all along: the pooled
 * outputs are then one affine function on the segment, and the differences
 * measure the Hessian rather than a jump.
 */
function sameRouting(p: ReturnType<typeof convNet>, v: Block): boolean {
  const ws = p.params.map((q) => input(q.name, q.shape));
  const pre = runner([p.preActivation(ws)]);
  const w = p.params.map((q) => q.value);
  const [plus] = pre(feedsAt(p, axpy(w, EPS, v)));
  const [minus] = pre(feedsAt(p, axpy(w, -EPS, v)));
  const [a, b] = [routing(plus, p.poolShape), routing(minus, p.poolShape)];
  return a.every((x, i) => x === b[i]);
}

/** conv2d (stride, padding) → tanh → avgPool2d (size, stride, padding, countIncludePad) → dense → softmax cross-entropy. */
function avgPoolNet(s: {
  n: number;
  c: number;
  h: number;
  filters: number;
  k: number;
  stride: number;
  padding: number;
  pool: number;
  poolStride: number;
  poolPadding: number;
  countIncludePad: boolean;
  classes: number;
  seed: number;
}): Problem {
  const oh = Math.floor((s.h + 2 * s.padding - s.k) / s.stride) + 1;
  const size = Math.min(s.pool, oh);
  const poolPadding = Math.min(s.poolPadding, size - 1);
  const ph = Math.floor((oh + 2 * poolPadding - size) / s.poolStride) + 1;
  const features = s.filters * ph * ph;
  const xShape = [s.n, s.c, s.h, s.h];
  const wShape = [s.filters, s.c, s.k, s.k];
  return {
    params: [
      { name: 'conv.w', shape: wShape, value: randomValues(sizeOf(wShape), s.seed) },
      { name: 'conv.b', shape: [s.filters], value: randomValues(s.filters, s.seed + 1) },
      ...denseParams('fc', features, s.classes, s.seed + 2),
    ],
    data: { x: randomValues(sizeOf(xShape), s.seed + 4), labels: labelValues(s.n, s.classes, s.seed + 5) },
    loss: ([cw, cb, fw, fb]) => {
      const y = tanh(conv2d(input('x', xShape), cw, { bias: cb, stride: s.stride, padding: s.padding }));
      const pooled = avgPool2d(y, { size, stride: s.poolStride, padding: poolPadding, countIncludePad: s.countIncludePad });
      return softmaxCrossEntropy(dense(reshape(pooled, [s.n, features]), fw, fb), input('labels', [s.n]));
    },
  };
}

const convNetArb = fc.record({
  n: fc.integer({ min: 1, max: 2 }),
  c: fc.integer({ min: 1, max: 2 }),
  h: fc.integer({ min: 4, max: 7 }),
  w: fc.integer({ min: 4, max: 7 }),
  filters: fc.integer({ min: 1, max: 3 }),
  k: fc.integer({ min: 2, max: 3 }),
  padding: fc.integer({ min: 0, max: 1 }),
  classes: fc.integer({ min: 2, max: 4 }),
  seed: seedArb,
});

describe('Hessian-vector products: forward-over-reverse', () => {
  it('MLP with tanh and sigmoid: matches reverse-over-reverse, differences of the gradient, and is symmetric', () => {
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 1, max: 3 }),
          d0: fc.integer({ min: 1, max: 4 }),
          d1: fc.integer({ min: 1, max: 4 }),
          d2: fc.integer({ min: 1, max: 4 }),
          classes: fc.integer({ min: 2, max: 4 }),
          seed: seedArb,
        }),
        (spec) => {
          const p = mlp(spec);
          checkHvp(p, direction(p, spec.seed + 11), direction(p, spec.seed + 13));
        },
      ),
      { numRuns: propertyRuns },
    );
  });

  it('conv2d + relu + maxPool2d + dense + softmaxCrossEntropy: the same three checks, where w ± εv stays in one smooth piece', () => {
    fc.assert(
      fc.property(convNetArb, (spec) => {
        const p = convNet(spec);
        const v = direction(p, spec.seed + 11);
        fc.pre(sameRouting(p, v));
        checkHvp(p, v, direction(p, spec.seed + 13));
      }),
      { numRuns: propertyRuns },
    );
  });

  it('conv2d + tanh + avgPool2d (strides, padding, countIncludePad) + dense: the same three checks', () => {
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 1, max: 2 }),
          c: fc.integer({ min: 1, max: 2 }),
          h: fc.integer({ min: 3, max: 7 }),
          filters: fc.integer({ min: 1, max: 3 }),
          k: fc.integer({ min: 1, max: 3 }),
          stride: fc.integer({ min: 1, max: 2 }),
          padding: fc.integer({ min: 0, max: 1 }),
          pool: fc.integer({ min: 1, max: 3 }),
          poolStride: fc.integer({ min: 1, max: 2 }),
          poolPadding: fc.integer({ min: 0, max: 1 }),
          countIncludePad: fc.boolean(),
          classes: fc.integer({ min: 2, max: 4 }),
          seed: seedArb,
        }),
        (spec) => {
          const p = avgPoolNet(spec);
          checkHvp(p, direction(p, spec.seed + 11), direction(p, spec.seed + 13));
        },
      ),
      { numRuns: propertyRuns },
    );
  });

  it('on webasm matches the reference within float32 tolerance (conv + relu + max pool net)', async () => {
    const p = convNet({ n: 2, c: 2, h: 8, w: 8, filters: 3, k: 3, padding: 1, classes: 4, seed: 42 });
    const v = direction(p, 43);
    // One fixed case: make sure float32 rounding cannot flip a relu or an argmax, so a mismatch is the code's.
    const ws = p.params.map((q) => input(q.name, q.shape));
    const w = p.params.map((q) => q.value);
    const [pre] = runner([p.preActivation(ws)])(feedsAt(p, w));
    expect(Math.min(...pre.map(Math.abs))).toBeGreaterThan(1e-3);
    expect(sameRouting(p, v)).toBe(true);

    const hv = jvp(grad(p.loss(ws), ws), ws, p.params.map((q) => input(`v/${q.name}`, q.shape)));
    const want = runner(hv)(feedsAt(p, w, v));
    const device = compile(hv, { backend: 'webasm' });
    try {
      const feeds = feedsAt(p, w, v);
      const got = await device.run(Object.fromEntries(device.inputs.map(({ name }) => [name, feeds[name]])));
      expectClose(got.map((r) => Float64Array.from(r.data)), want, 2e-5, 'webasm vs reference', 1e-7);
    } finally {
      await device.dispose();
    }
  });
});
