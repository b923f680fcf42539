/**
 * NaN inside a graph: relu, max (a reduction), maxMask and max pooling (forward,
 * gradient and the gradient's gradient), and the fused relu of conv2d and
 * matmul and the fused conv2dMaxPool, give the same NaNs on the float64
 * reference and on every gpu.js backend: the cases, shared by the Node suite
 * (test/backend/nan.test.ts) and the browser one (nan.browser.ts, whose page
 * is nan-page.ts).
 *
 * The rule (src/ops/reduce.ts, takesFirstMax): relu(NaN) = NaN; a NaN is
 * larger than every number, and among NaNs the first wins, so a max group or
 * pooling window holding a NaN gives NaN and routes its gradient (maxMask,
 * maxPool2dBackward, maxPool2dSelect) to its first NaN in row-major order.
 *
 * Feeds cannot hold NaN (they are refused), so each graph makes its own:
 * `nanInput` adds (m - m) / m, which is 0 where the mask input m is 1 and
 * 0/0 = NaN where it is 0; other cases take log or sqrt of a negative.
 */
import type { Tensor } from '../../src/graph/tensor.js';
import { vjp, grad } from '../../src/autodiff/grad.js';
import { compile, type BackendName } from '../../src/backend/compile.js';
import type { GpuJsFunction } from '../../src/backend/gpujs/executor.js';
import { isWasmBackend, type GpuJsBackend } from '../../src/backend/gpujs/gpu.js';
import { add } from '../../src/ops/add.js';
import { conv2d, conv2dOp } from '../../src/ops/conv2d.js';
import { conv2dMaxPool } from '../../src/ops/conv2dMaxPool.js';
import { div } from '../../src/ops/div.js';
import { input } from '../../src/ops/input.js';
import { log } from '../../src/ops/log.js';
import { matmul } from '../../src/ops/matmul.js';
import { max } from '../../src/ops/max.js';
import { maxMask } from '../../src/ops/maxMask.js';
import { maxPool2d } from '../../src/ops/maxPool2d.js';
import { maxPool2dBackward } from '../../src/ops/maxPool2dBackward.js';
import { maxPool2dSelect } from '../../src/ops/maxPool2dSelect.js';
import { makeNode } from '../../src/ops/op.js';
import { pool2dAttrs } from '../../src/ops/pool2dGeometry.js';
import { pow } from '../../src/ops/pow.js';
import { relu } from '../../src/ops/relu.js';
import { sqrt } from '../../src/ops/sqrt.js';
import { sub } from '../../src/ops/sub.js';
import { sum } from '../../src/ops/sum.js';
import { randomValues } from '../helpers.js';

export type Feeds = Record<string, Float64Array>;

/** `a` with NaN where the mask input `name_m` is 0: a + (m - m) / m. */
function nanInput(name: string, shape: number[]): Tensor {
  const m = input(`${name}_m`, shape);
  return add(input(name, shape), div(sub(m, m), m));
}

/** Feeds of nanInput(name): the values (0 at a NaN) and the mask (0 at a NaN, 1 elsewhere). */
function nanFeeds(name: string, values: readonly number[]): Feeds {
  return {
    [name]: Float64Array.from(values, (v) => (Number.isNaN(v) ? 0 : v)),
    [`${name}_m`]: Float64Array.from(values, (v) => (Number.isNaN(v) ? 0 : 1)),
  };
}

const N = NaN;
const ramp = (n: number, from = 1) => Float64Array.from({ length: n }, (_, i) => from + i);

/** What the plan of a device backend must (and must not) contain. */
export interface PlanCheck {
  /** How many steps of these ops the plan has (0: fused away). */
  readonly steps?: Readonly<Record<string, number>>;
  /** On the wasm backends: ops that must have a step with the tuned kernel. */
  readonly tunedOnWasm?: readonly string[];
}

export interface NanCase {
  readonly name: string;
  readonly outputs: () => Tensor[];
  readonly feeds: Feeds;
  /** Hand-checked reference outputs (NaN where NaN is expected), compared within 1e-12; null: not hand-checked. */
  readonly expected?: readonly (readonly number[] | null)[];
  /** A hand-checked predicate on the reference's NaN positions, output by output (flat index), where `expected` gives no values. */
  readonly nanAt?: readonly ((i: number) => boolean)[];
  readonly plan?: PlanCheck;
  /**
   * Outputs of log or sqrt of a negative, which GLSL and WGSL leave undefined
   * (Mesa and lavapipe give NaN; Chromium's SwiftShader gives log|x| for
   * log): output `o` is judged on a device against `f` of the device's own
   * output `from` (not against the reference), and output `from` is compared
   * with the reference only where the device gives NaN or a number as the
   * reference does (a note is returned where it does not).
   */
  readonly ownSource?: Readonly<Record<number, { readonly from: number; readonly f: (v: number) => number }>>;
}

/** relu as the rule has it (ops/relu.ts). */
const relu64 = (v: number) => (v <= 0 ? 0 : v);

// maxPool2d 2x2/2 over one 4x8 plane; windows in row-major window order:
//   W00 (4, 1, 4, 2)          no NaN, a tie: the first 4
//   W01 (3, 1, 2, NaN)        one NaN, last
//   W02 (9, 1, NaN, 2)        a NaN after a larger number
//   W03 (5, NaN, NaN, 6)      two NaNs: the first
//   W10 (NaN, 8, 7, 9)        a NaN first
//   W11 (-1, -2, -3, 0)       no NaN, the maximum last
//   W12 (NaN, NaN, NaN, NaN)  all NaN: the first
//   W13 (-5, -3, -3, -4)      no NaN, a tie: the first -3
const pool4x8 = [
  4, 1, 3, 1, 9, 1, 5, N,
  4, 2, 2, N, N, 2, N, 6,
  N, 8, -1, -2, N, N, -5, -3,
  7, 9, -3, 0, N, N, -3, -4,
];
const poolShape = [1, 1, 4, 8];
const poolAttrs = () => pool2dAttrs('test', input('shape', poolShape), { size: 2 });
// The cell (flat index) each window's gradient goes to: W00 (0,0), W01 (1,3),
// W02 (1,4), W03 (0,7), W10 (2,0), W11 (3,3), W12 (2,4), W13 (2,7).
const winners = [0, 11, 12, 7, 16, 27, 20, 23];
const dy8 = [10, 20, 30, 40, 50, 60, 70, 80];
const scattered = (n: number, at: readonly number[], values: readonly number[]) => {
  const out = new Array<number>(n).fill(0);
  at.forEach((j, w) => (out[j] += values[w]));
  return out;
};

// max and maxMask over [2, 3, 4] (plane, row, column).
const max234 = [
  1, 5, 2, 0,
  N, 3, 7, -1,
  4, N, N, -2,

  -1, -2, -3, -4,
  -1, -2, -3, -4,
  -1, N, -9, 9,
];

// Convolutions: x [1, 2, 6, 10] with one NaN, channel 0, row 2, column 5.
const convX = (() => {
  const v = Array.from(randomValues(2 * 6 * 10, 5));
  v[2 * 10 + 5] = N;
  return v;
})();
const convW = randomValues(3 * 2 * 3 * 3, 6);
const convB = Float64Array.from([0.1, -0.2, 0.05]);
const convFeeds = (): Feeds => ({ ...nanFeeds('x', convX), w: convW, b: convB });
/** Flat index of [n, c, i, j] in a [*, C, H, W] tensor → (c, i, j). */
const cij = (i: number, C: number, H: number, W: number) => [Math.floor(i / (H * W)) % C, Math.floor(i / W) % H, i % W] as const;
const within = (v: number, lo: number, hi: number) => v >= lo && v <= hi;

/** The fused maxPool2d(relu(conv2d)) node, built directly (compile makes it only on the wasm backends). */
function fusedConvPool(x: Tensor, w: Tensor, b: Tensor, conv: Parameters<typeof conv2d>[2], pool: Parameters<typeof pool2dAttrs>[2]): Tensor {
  const plain = conv2d(x, w, { ...conv, bias: b });
  const withRelu = makeNode(conv2dOp, plain.inputs, { ...plain.attrs, relu: true });
  return conv2dMaxPool(withRelu, pool2dAttrs('test', plain, pool));
}

export const nanCases: NanCase[] = [
  {
    name: 'relu of 0/0',
    outputs: () => [relu(nanInput('x', [8]))],
    feeds: nanFeeds('x', [N, -1, 2, N, 0, 3, -0.5, N]),
    expected: [[N, 0, 2, N, 0, 3, 0, N]],
  },
  {
    name: 'relu of log and sqrt of negatives',
    outputs: () => {
      const a = input('a', [8]);
      return [log(a), relu(log(a)), sqrt(a), relu(sub(sqrt(a), 1))];
    },
    feeds: { a: Float64Array.from([-1, 0.5, 2, -3, 1, 4, 0.25, 9]) },
    expected: [
      [N, Math.log(0.5), Math.log(2), N, 0, Math.log(4), Math.log(0.25), Math.log(9)],
      [N, 0, Math.log(2), N, 0, Math.log(4), 0, Math.log(9)],
      [N, Math.SQRT1_2, Math.SQRT2, N, 1, 2, 0.5, 3],
      [N, 0, Math.SQRT2 - 1, N, 0, 1, 0, 2],
    ],
    ownSource: { 1: { from: 0, f: relu64 }, 3: { from: 2, f: (v) => relu64(v - 1) } },
  },
  {
    // Exponents in quarters are computed from square roots on the devices
    // (src/ops/pow.ts), not pow: the domain must stay Math.pow's.
    name: 'pow in quarters (by square roots) of negatives, zeros and NaN',
    outputs: () => {
      const a = nanInput('a', [8]);
      const b = nanInput('b', [8]);
      return [pow(a, 0.75), pow(a, 2.25), pow(a, 0.25), pow(b, -0.75), pow(b, -1.75)];
    },
    feeds: { ...nanFeeds('a', [-2, -0.5, 0, 0.25, 4, N, 16, 2.5]), ...nanFeeds('b', [-2, 0.5, 4, N, 16, 0.25, -1, 3]) },
    expected: [
      [N, N, 0, 0.25 ** 0.75, 4 ** 0.75, N, 8, 2.5 ** 0.75],
      [N, N, 0, 0.25 ** 2.25, 4 ** 2.25, N, 16 ** 2.25, 2.5 ** 2.25],
      [N, N, 0, Math.SQRT1_2, Math.SQRT2, N, 2, 2.5 ** 0.25],
      [N, 0.5 ** -0.75, 4 ** -0.75, N, 0.125, 0.25 ** -0.75, N, 3 ** -0.75],
      [N, 0.5 ** -1.75, 4 ** -1.75, N, 16 ** -1.75, 0.25 ** -1.75, N, 3 ** -1.75],
    ],
  },
  {
    name: 'max over an axis, maxMask, and the gradient of max',
    outputs: () => {
      const x = nanInput('x', [2, 3, 4]);
      const rows = max(x, { axes: [1] });
      const [dx] = grad(sum(rows), [x.inputs[0]]);
      return [rows, max(x, { axes: [2] }), max(x), maxMask(x, [1]), maxMask(x, [2]), dx];
    },
    feeds: nanFeeds('x', max234),
    expected: [
      [N, N, N, 0, -1, N, -3, 9],
      [5, N, N, -1, -1, N],
      [N],
      [0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1],
      [0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0],
      [0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1],
    ],
  },
  {
    name: 'maxPool2d 2x2/2: forward, gradient (to the first NaN) and its gradient',
    outputs: () => {
      const x = nanInput('x', poolShape);
      const y = maxPool2d(x, { size: 2 });
      const dy = input('dy', [1, 1, 2, 4]);
      const [dx] = vjp([y], [x.inputs[0]], [dy]);
      const s = input('s', poolShape);
      // The gradient's gradient: the VJP of dx wrt dy is maxPool2dSelect(x, s).
      const [ddy] = vjp([dx], [dy], [s]);
      return [y, dx, ddy, maxPool2dBackward(x, dy, poolAttrs()), maxPool2dSelect(x, s, poolAttrs())];
    },
    feeds: { ...nanFeeds('x', pool4x8), dy: Float64Array.from(dy8), s: ramp(32) },
    expected: [
      [4, N, N, N, N, 0, N, -3],
      scattered(32, winners, dy8),
      winners.map((j) => j + 1),
      scattered(32, winners, dy8),
      winners.map((j) => j + 1),
    ],
    plan: { tunedOnWasm: ['maxPool2d', 'maxPool2dBackward', 'maxPool2dSelect'] },
  },
  {
    // Overlapping windows inside the input (the wasm backends' tuned gather) and
    // 'same' padding (the portable templates everywhere).
    name: 'maxPool2d 3x3/2 overlapping, valid and same, forward and gradient',
    outputs: () => {
      const x = nanInput('x', [1, 2, 7, 9]);
      const valid = maxPool2d(x, { size: 3, stride: 2 });
      const same = maxPool2d(x, { size: 3, stride: 2, padding: 'same' });
      const [dValid] = vjp([valid], [x.inputs[0]], [input('gv', valid.shape)]);
      const [dSame] = vjp([same], [x.inputs[0]], [input('gs', same.shape)]);
      return [valid, same, dValid, dSame];
    },
    feeds: (() => {
      const v = Array.from(randomValues(2 * 7 * 9, 3));
      for (const j of [0, 4, 13, 21, 22, 40, 62, 63, 64, 100, 125]) v[j] = N;
      return { ...nanFeeds('x', v), gv: ramp(2 * 3 * 4), gs: ramp(2 * 4 * 5) };
    })(),
    plan: { tunedOnWasm: ['maxPool2dBackward'] },
  },
  {
    // Fused on every device backend into one conv2d with relu; on the wasm
    // backends the tuned kernel, spelled tap by tap.
    name: 'relu(conv2d) fused, padding 1, bias',
    outputs: () => [relu(conv2d(nanInput('x', [1, 2, 6, 10]), input('w', [3, 2, 3, 3]), { padding: 1, bias: input('b', [3]) }))],
    feeds: convFeeds(),
    // The NaN at (2, 5) reaches the outputs (1..3, 4..6) of every output channel.
    nanAt: [(i) => {
      const [, y, x] = cij(i, 3, 6, 10);
      return within(y, 1, 3) && within(x, 4, 6);
    }],
    plan: { steps: { relu: 0, conv2d: 1 } },
  },
  {
    name: 'relu(matmul + bias) fused',
    outputs: () => {
      const a = nanInput('a', [3, 4]);
      return [relu(add(matmul(a, input('bm', [4, 8])), input('bias', [8])))];
    },
    feeds: { ...nanFeeds('a', [0.5, -1, 2, 0.25, 1, 2, N, -3, -2, 0.5, -1, 1]), bm: randomValues(32, 8), bias: randomValues(8, 9) },
    nanAt: [(i) => Math.floor(i / 8) === 1],
    // the one add left is nanInput's
    plan: { steps: { relu: 0, add: 1, matmul: 1 } },
  },
  {
    // compile turns maxPool2d(conv2d) into conv2dMaxPool on the wasm backends
    // (stride-1 unpadded convolution, 2x2/2 pool: the blocked kernel).
    name: 'maxPool2d(relu(conv2d)) and maxPool2d(conv2d): the wasm backends fuse them',
    outputs: () => {
      const x = nanInput('x', [1, 2, 6, 10]);
      const w = input('w', [3, 2, 3, 3]);
      const b = input('b', [3]);
      return [maxPool2d(relu(conv2d(x, w, { bias: b })), { size: 2 }), maxPool2d(conv2d(x, w, { bias: b }), { size: 2 })];
    },
    feeds: convFeeds(),
    // conv outputs (0..2, 3..5) are NaN: pooled rows 0..1, columns 1..2 (in
    // pooled column 1 the NaN is the window's second column).
    nanAt: [0, 1].map(() => (i: number) => {
      const [, y, x] = cij(i, 3, 2, 4);
      return within(y, 0, 1) && within(x, 1, 2);
    }),
    plan: { tunedOnWasm: ['conv2dMaxPool'] },
  },
  {
    name: 'conv2dMaxPool built directly: 2x2 tiles and stride 2, padding 1, 3x3/2 same',
    outputs: () => {
      const x = nanInput('x', [1, 2, 6, 10]);
      const w = input('w', [3, 2, 3, 3]);
      const b = input('b', [3]);
      return [fusedConvPool(x, w, b, {}, { size: 2 }), fusedConvPool(x, w, b, { stride: 2, padding: 1 }, { size: 3, stride: 2, padding: 'same' })];
    },
    feeds: convFeeds(),
    nanAt: [
      (i) => {
        const [, y, x] = cij(i, 3, 2, 4);
        return within(y, 0, 1) && within(x, 1, 2);
      },
      // stride 2, padding 1: conv output (oy, ox) reads rows 2oy-1..2oy+1 and
      // columns 2ox-1..2ox+1, so (1, 2) and (1, 3) of the 3x5 output are NaN;
      // the 'same' 3x3/2 pool over 3x5 gives 2x3 windows (padding 1 on each
      // side), rows 0..1 / 1..2 and columns 0..1 / 1..3 / 3..4.
      (i) => {
        const [, , x] = cij(i, 3, 2, 3);
        return within(x, 1, 2);
      },
    ],
  },
];

/**
 * Throws unless `got` has NaN exactly where `want` has, and is within `rtol`
 * of the output's scale (its largest magnitude) elsewhere.
 */
export function checkAgrees(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, what: string): void {
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} values but the reference has ${want.length}`);
  let scale = 1e-6;
  for (let j = 0; j < want.length; j++) if (!Number.isNaN(want[j])) scale = Math.max(scale, Math.abs(want[j]));
  for (let j = 0; j < want.length; j++) {
    const g = got[j];
    const w = want[j];
    const same = Number.isNaN(w) || Number.isNaN(g) ? Number.isNaN(w) === Number.isNaN(g) : Math.abs(g - w) <= rtol * scale;
    if (!same) throw new Error(`${what}: index ${j} is ${g} but the reference has ${w}`);
  }
}

/** The case on the float64 reference. */
export function nanReference(c: NanCase) {
  const f = compile(c.outputs(), { backend: 'reference' });
  return f.runSync(Object.fromEntries(f.inputs.map(({ name }) => [name, c.feeds[name]])));
}

/**
 * Throws unless each of the reference's outputs has NaN exactly where the
 * case's hand-worked `expected` values or `nanAt` positions say (and the
 * values agree within 1e-12); returns how many outputs were checked.
 */
export function checkReferenceByHand(c: NanCase): number {
  const out = nanReference(c);
  let checked = 0;
  out.forEach(({ data }, o) => {
    const hand = c.expected?.[o];
    if (hand) checkAgrees(data, hand, 1e-12, `output ${o}`);
    const nanAt = c.nanAt?.[o];
    if (nanAt) {
      const wrong = Array.from(data, (v, j) => (Number.isNaN(v) !== nanAt(j) ? j : -1)).filter((j) => j >= 0);
      if (wrong.length) throw new Error(`output ${o}: NaN-ness differs from the hand-worked positions at indices ${wrong.join(', ')}`);
    }
    if (!hand && !nanAt) throw new Error(`output ${o} has no hand-worked values or NaN positions`);
    checked++;
  });
  return checked;
}

/**
 * Throws unless the case gives the same NaNs (and, elsewhere, float32-close
 * values) on `backend` as on the reference (see ownSource for the
 * exceptions), and the plan has the steps the case names (fusions made,
 * tuned wasm kernels used). Returns notes on what the device does
 * differently where that is allowed.
 */
export async function checkNanCase(c: NanCase, backend: GpuJsBackend): Promise<string[]> {
  const notes: string[] = [];
  const want = nanReference(c);
  const dev = compile(c.outputs(), { backend: backend as BackendName }) as GpuJsFunction;
  try {
    if (dev.backend !== backend) throw new Error(`compiled for "${dev.backend}", not "${backend}"`);
    const got = await dev.run(Object.fromEntries(dev.inputs.map(({ name }) => [name, c.feeds[name]])));
    const sources = new Set(Object.values(c.ownSource ?? {}).map((s) => s.from));
    got.forEach(({ data }, o) => {
      const own = c.ownSource?.[o];
      if (own) return checkAgrees(data, Array.from(got[own.from].data, own.f), 1e-4, `${backend}, output ${o} (of the device's output ${own.from})`);
      if (!sources.has(o)) return checkAgrees(data, want[o].data, 1e-4, `${backend}, output ${o}`);
      try {
        checkAgrees(data, want[o].data, 1e-4, `output ${o}`);
      } catch (e) {
        notes.push(`${backend}: ${(e as Error).message} (an operation the device language leaves undefined there)`);
      }
    });
    const ops = dev.plan.map((s) => s.op);
    for (const [op, n] of Object.entries(c.plan?.steps ?? {})) {
      const have = ops.filter((o) => o === op).length;
      if (have !== n) throw new Error(`the plan has ${have} ${op} steps, not ${n}: [${ops.join(', ')}]`);
    }
    if (isWasmBackend(backend)) {
      const tuned = dev.plan.filter((s) => s.tuned).map((s) => s.op);
      for (const op of c.plan?.tunedOnWasm ?? []) {
        if (!tuned.includes(op)) throw new Error(`${op} did not run its tuned wasm kernel (tuned steps: [${tuned.join(', ')}])`);
      }
    }
  } finally {
    await dev.dispose();
  }
  return notes;
}
