/**
 * checkpoint(fn): the same values and derivatives as fn, with the backward
 * pass recomputing fn's region instead of keeping it.
 *  - A deep residual stack (conv2d, relu, tanh, add) with and without
 *    checkpointed blocks gives the same loss, gradient, reverse-over-reverse
 *    and forward-over-reverse Hessian-vector products and JVP: to rounding in
 *    float64 on the reference backend, to float32 rounding on webasm.
 *  - The corner cases of a region (nested checkpoints, an argument fn ignores,
 *    fn returning its argument, fn depending on no argument, weights read from
 *    outside, the same argument twice, a free tensor computed from another)
 *    match the plain function, and checkGradients passes on one.
 *  - Memory, on webasm: a checkpointed residual stack's training plan holds
 *    clearly fewer bytes than the plain one (measured: 0.44 of it at 16 blocks,
 *    0.41 at 32), the recomputed convolutions run after the backward pass has
 *    begun, and the forward-only plan is the plain one's, step for step.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  add,
  checkGradients,
  checkpoint,
  compile,
  constant,
  conv2d,
  grad,
  input,
  jvp,
  mul,
  relu,
  sum,
  tanh,
  type GpuJsFunction,
  type Shape,
  type Tensor,
} from '../../src/index.js';
import { releaseIdleGpus } from '../../src/backend/gpujs/gpu.js';
import { sizeOf } from '../../src/graph/tensor.js';
import { randomValues, striateError } from '../helpers.js';

type Feeds = Record<string, Float64Array>;
type Block = (h: Tensor) => Tensor;

afterAll(() => releaseIdleGpus());

/** Values in [-scale, scale] for every input of `tensors`' graphs, seeded by the input's position. */
function feedsFor(f: { inputs: readonly { name: string; shape: Shape }[] }, scale: (name: string) => number): Feeds {
  return Object.fromEntries(f.inputs.map(({ name, shape }, i) => [name, randomValues(sizeOf(shape), 7 + 13 * i).map((v) => v * scale(name))]));
}

/** Every output of `got` within rtol of the largest magnitude of the same output of `want` (plus atol). */
function expectSame(got: readonly { data: ArrayLike<number> }[], want: readonly { data: ArrayLike<number> }[], rtol: number, what: string): void {
  expect(got.length).toBe(want.length);
  want.forEach((w, o) => {
    const g = got[o].data;
    expect(g.length, `${what}: output ${o} length`).toBe(w.data.length);
    const scale = Math.max(1e-30, ...Array.from(w.data, Math.abs));
    let worst = 0;
    let at = 0;
    for (let k = 0; k < g.length; k++) {
      const err = Math.abs(g[k] - w.data[k]);
      if (!(err <= worst)) [worst, at] = [err, k];
    }
    expect(worst, `${what}: output ${o} differs at ${at}: ${g[at]} vs ${w.data[at]} (scale ${scale})`).toBeLessThanOrEqual(rtol * scale + 1e-300);
  });
}

/**
 * A residual stack on x [2,3,6,6]: block i is h + tanh(conv2d(relu(conv2d(h, a_i)), b_i))
 * ('same' padding), every block checkpointed or none. The outputs: the loss
 * sum(tanh(h) * c), its gradient by x and every filter, the reverse-over-reverse
 * HVP grad(<g, v>), the forward-over-reverse HVP jvp(g, t) and the JVP of the loss.
 */
function stackGraph(blocks: number, checkpointed: boolean): Tensor[] {
  const shape = [2, 3, 6, 6];
  const x = input('x', shape);
  const ws: Tensor[] = [];
  let h: Tensor = x;
  for (let i = 0; i < blocks; i++) {
    const a = input(`a${i}`, [3, 3, 3, 3]);
    const b = input(`b${i}`, [3, 3, 3, 3]);
    ws.push(a, b);
    const block: Block = (v) => add(v, tanh(conv2d(relu(conv2d(v, a, { padding: 'same' })), b, { padding: 'same' })));
    h = checkpointed ? checkpoint(block)(h) : block(h);
  }
  const loss = sum(mul(tanh(h), input('c', shape)));
  const params = [x, ...ws];
  const gs = grad(loss, params);
  const vs = params.map((p, i) => input(`v${i}`, p.shape));
  const ts = params.map((p, i) => input(`t${i}`, p.shape));
  const gv = gs.reduce<Tensor | null>((s, g, i) => (s === null ? sum(mul(g, vs[i])) : add(s, sum(mul(g, vs[i])))), null)!;
  const hvpReverse = grad(gv, params);
  const hvpForward = jvp(gs, params, ts);
  const [dLoss] = jvp([loss], params, ts);
  return [loss, ...gs, ...hvpReverse, ...hvpForward, dLoss];
}

const filterScale = (name: string): number => (/^[ab]\d/.test(name) ? 0.3 : 1);

describe('checkpoint: a residual stack with and without checkpointed blocks', () => {
  it('gives the same loss, gradient, second-order gradients and JVPs in float64 (reference)', () => {
    const plain = compile(stackGraph(6, false));
    const ck = compile(stackGraph(6, true));
    const feeds = feedsFor(plain, filterScale);
    expect(ck.inputs.map((i) => i.name).sort()).toEqual(plain.inputs.map((i) => i.name).sort());
    const want = plain.runSync(feeds);
    // 1 loss, 13 gradients, 13 + 13 HVPs, 1 JVP
    expect(want.length).toBe(41);
    expect(want.some((r) => r.data.some((v) => v !== 0))).toBe(true);
    expectSame(ck.runSync(feeds), want, 1e-12, 'checkpointed vs plain (reference)');
  });

  it('gives the same results in float32 on webasm, and those of the reference', async () => {
    const plainGraph = stackGraph(4, false);
    const ref = compile(plainGraph);
    const plain = compile(plainGraph, { backend: 'webasm' });
    const ck = compile(stackGraph(4, true), { backend: 'webasm' });
    try {
      const feeds = feedsFor(ref, filterScale);
      const want = ref.runSync(feeds);
      const gotPlain = await plain.run(feeds);
      const gotCk = await ck.run(feeds);
      expectSame(gotCk, gotPlain, 1e-5, 'checkpointed vs plain (webasm)');
      expectSame(gotCk, want, 2e-4, 'checkpointed webasm vs plain reference');
    } finally {
      await plain.dispose();
      await ck.dispose();
    }
  });
});

/**
 * A function of inputs `shapes` built twice, once plain and once with
 * checkpoint in it (`build(checkpointed)`), and its loss's gradient by every
 * input: both give the same on the reference backend (float64) and on webasm.
 */
async function expectCheckpointInvisible(shapes: readonly Shape[], build: (xs: readonly Tensor[], checkpointed: boolean) => Tensor): Promise<void> {
  const graph = (checkpointed: boolean): Tensor[] => {
    const xs = shapes.map((s, i) => input(`x${i}`, s));
    const loss = build(xs, checkpointed);
    return [loss, ...grad(loss, xs)];
  };
  const plainGraph = graph(false);
  const ckGraph = graph(true);
  const plain = compile(plainGraph);
  const ck = compile(ckGraph);
  // Fed every input, whether or not a graph reads it.
  const feeds: Feeds = Object.fromEntries(shapes.map((s, i) => [`x${i}`, randomValues(sizeOf(s), 31 + i)]));
  const only = (f: { inputs: readonly { name: string }[] }): Feeds => Object.fromEntries(f.inputs.map(({ name }) => [name, feeds[name]]));
  const want = plain.runSync(only(plain));
  expectSame(ck.runSync(only(ck)), want, 1e-12, 'checkpointed vs plain (reference)');
  const dev = compile(ckGraph, { backend: 'webasm' });
  try {
    expectSame(await dev.run(only(dev)), want, 1e-5, 'checkpointed (webasm) vs plain (reference)');
  } finally {
    await dev.dispose();
  }
}

describe('checkpoint: corner cases of the region', () => {
  it('nests: a checkpointed pair of checkpointed blocks', async () => {
    await expectCheckpointInvisible([[1, 2, 5, 5], [2, 2, 3, 3], [2, 2, 3, 3]], ([x, w1, w2], ck) => {
      const inner = (w: Tensor): Block => {
        const f: Block = (h) => add(h, tanh(conv2d(h, w, { padding: 'same' })));
        return ck ? checkpoint(f) : f;
      };
      const pair: Block = (h) => inner(w2)(inner(w1)(h));
      const outer = ck ? checkpoint(pair) : pair;
      return sum(tanh(outer(outer(x))));
    });
  });

  it('passes an argument fn ignores a zero gradient', async () => {
    await expectCheckpointInvisible([[3, 4], [3, 4], [4]], ([x, z, w], ck) => {
      const f = (a: Tensor, _b: Tensor): Tensor => tanh(mul(a, w));
      const y = (ck ? checkpoint(f) : f)(x, z);
      return sum(add(mul(y, y), z));
    });
    // and on its own, with the ignored argument reaching the loss only through the checkpoint
    const x = input('x', [3]);
    const z = input('z', [3]);
    const [gz] = grad(sum(checkpoint((a: Tensor, _b: Tensor) => tanh(a))(x, z)), [z]);
    const f = compile(gz);
    expect(f.inputs).toEqual([]); // the zero gradient reads nothing
    expect([...f.runSync({})[0].data]).toEqual([0, 0, 0]);
  });

  it('differentiates fn returning its argument unchanged', async () => {
    await expectCheckpointInvisible([[2, 3], [3]], ([x, w], ck) => {
      const f: Block = (h) => h;
      const y = (ck ? checkpoint(f) : f)(mul(x, w));
      return sum(tanh((ck ? checkpoint(f) : f)(y)));
    });
  });

  it('sends the gradient to what fn read when its output depends on no argument', async () => {
    await expectCheckpointInvisible([[2, 3], [2, 3], [3]], ([x, v, w], ck) => {
      const f = (_a: Tensor): Tensor => mul(tanh(v), w);
      const y = (ck ? checkpoint(f) : f)(x);
      return sum(mul(y, add(x, 1)));
    });
    // fn returning a tensor it read, as it is
    await expectCheckpointInvisible([[2, 3], [2, 3]], ([x, w], ck) => {
      const f = (_a: Tensor): Tensor => w;
      return sum(mul(tanh((ck ? checkpoint(f) : f)(x)), x));
    });
    // a constant: nothing to differentiate, a zero gradient for the argument
    await expectCheckpointInvisible([[3]], ([x], ck) => {
      const f = (_a: Tensor): Tensor => constant([1, 2, 3], [3]);
      return sum(mul((ck ? checkpoint(f) : f)(x), x));
    });
  });

  it('gives weights read from outside their gradient, shared by several blocks', async () => {
    await expectCheckpointInvisible([[2, 2, 5, 5], [2, 2, 3, 3], [2, 1, 1]], ([x, w, bias], ck) => {
      const f: Block = (h) => tanh(add(conv2d(h, w, { padding: 'same' }), bias));
      const block = ck ? checkpoint(f) : f;
      return sum(mul(block(block(block(x))), x));
    });
  });

  it('gives weights their gradient when the argument itself is computed from them', async () => {
    // the argument conv2d(x, w) is computed from the free weight w: w's
    // cotangent through the argument must not be counted twice
    await expectCheckpointInvisible([[1, 2, 5, 5], [2, 2, 3, 3]], ([x, w], ck) => {
      const f: Block = (h) => tanh(conv2d(h, w, { padding: 'same' }));
      const block = ck ? checkpoint(f) : f;
      return sum(block(conv2d(x, w, { padding: 'same' })));
    });
  });

  it('differentiates a free tensor computed from another free tensor once', async () => {
    await expectCheckpointInvisible([[3, 4], [4]], ([x, w], ck) => {
      const tw = tanh(w);
      const f: Block = (h) => mul(add(mul(h, w), tw), tw);
      return sum(mul((ck ? checkpoint(f) : f)(x), x));
    });
  });

  it('reads a tensor computed from its argument outside fn (recomputed with the region)', async () => {
    await expectCheckpointInvisible([[3, 4], [4]], ([x, w], ck) => {
      const z = tanh(mul(x, w)); // built outside fn, but from fn's argument
      const f: Block = (h) => mul(h, z);
      return sum(add((ck ? checkpoint(f) : f)(x), z));
    });
  });

  it('takes the same argument twice', async () => {
    await expectCheckpointInvisible([[3, 4], [4]], ([x, w], ck) => {
      const f = (a: Tensor, b: Tensor): Tensor => mul(tanh(mul(a, w)), b);
      const h = tanh(x);
      return sum((ck ? checkpoint(f) : f)(h, h));
    });
  });

  it('passes checkGradients (reverse, forward and both against each other)', () => {
    const block = (w: Tensor): Block => checkpoint((h: Tensor) => add(h, tanh(conv2d(h, w, { padding: 'same' }))));
    const report = checkGradients(
      (x, w, v) => sum(mul(block(w)(block(w)(x)), v)),
      [
        { shape: [1, 2, 3, 3], data: randomValues(18, 1) },
        { shape: [2, 2, 3, 3], data: randomValues(36, 2).map((z) => z * 0.5) },
        { shape: [1, 2, 3, 3], data: randomValues(18, 3) },
      ],
      { mode: 'both', rtol: 1e-6, directions: 3 },
    );
    // 3 directions, each: differences vs VJP, differences vs JVP, VJP vs JVP
    expect(report.checks).toBe(9);
  });
});

describe('checkpoint: errors', () => {
  it('refuses an fn that is not a function', () => {
    const e = striateError(() => checkpoint(3 as never), 'checkpoint');
    expect(e.message).toBe('checkpoint: fn must be a function of tensors, got number 3');
  });

  it('refuses an argument that is not a Tensor', () => {
    const f = checkpoint((a: Tensor, b: Tensor) => add(a, b));
    const e = striateError(() => f(input('x', [2]), [1, 2] as never), 'checkpoint');
    expect(e.message).toBe('checkpoint: argument 1 is an array of 2, expected a Tensor');
  });

  it('refuses an fn whose result is not a Tensor', () => {
    const f = checkpoint((() => ({ shape: [2] })) as never as Block);
    const e = striateError(() => f(input('x', [2])), 'checkpoint');
    expect(e.message).toBe('checkpoint: fn must return a Tensor, got an object with keys shape');
    expect(e.got).toBe('a result an object with keys shape');
  });
});

/**
 * The training graph of a residual stack of `blocks` blocks on [8,8,16,16]
 * activations, h + conv2d(tanh(conv2d(h, a_i)), b_i), every block checkpointed
 * or none: [loss, ...filter gradients], or [loss] alone with `forwardOnly`.
 * (With two convolutions a block's backward pass reads its inner activation
 * first, so a recomputation that did not wait for the cotangent would be
 * scheduled during the forward pass.)
 */
function trainingGraph(blocks: number, checkpointed: boolean, forwardOnly = false): Tensor[] {
  const x = input('x', [8, 8, 16, 16]);
  const ws: Tensor[] = [];
  let h: Tensor = x;
  for (let i = 0; i < blocks; i++) {
    const a = input(`a${i}`, [8, 8, 3, 3]);
    const b = input(`b${i}`, [8, 8, 3, 3]);
    ws.push(a, b);
    const block: Block = (v) => add(v, conv2d(tanh(conv2d(v, a, { padding: 'same' })), b, { padding: 'same' }));
    h = checkpointed ? checkpoint(block)(h) : block(h);
  }
  const loss = sum(mul(h, h));
  return forwardOnly ? [loss] : [loss, ...grad(loss, ws)];
}

/** Compile on webasm, hand the plan to `look`, and dispose. */
async function withPlan<T>(outputs: readonly Tensor[], look: (f: GpuJsFunction) => T): Promise<T> {
  const f = compile(outputs, { backend: 'webasm' });
  try {
    return look(f);
  } finally {
    await f.dispose();
  }
}

describe('checkpoint: memory on webasm', () => {
  const ratios = new Map<number, { plain: number; checkpointed: number }>();

  it.each([16, 32])('a training plan of %i checkpointed blocks holds clearly less device memory', async (blocks) => {
    const plain = await withPlan(trainingGraph(blocks, false), (f) => f.memory);
    const ck = await withPlan(trainingGraph(blocks, true), (f) => f.memory);
    ratios.set(blocks, { plain: plain.bytes, checkpointed: ck.bytes });
    console.log(`${blocks} blocks: checkpointed ${ck.bytes} bytes (${ck.buffers} buffers), plain ${plain.bytes} (${plain.buffers}), ratio ${(ck.bytes / plain.bytes).toFixed(3)}`);
    // the same inputs: only the intermediate buffers differ
    expect(ck.argumentBytes).toBe(plain.argumentBytes);
    // measured 0.444 at 16 blocks and 0.406 at 32
    expect(ck.bytes / plain.bytes).toBeLessThan(blocks >= 32 ? 0.5 : 0.55);
  });

  it('saves more at 32 blocks than at 16', () => {
    const at = (n: number): number => ratios.get(n)!.plain - ratios.get(n)!.checkpointed;
    expect(ratios.size).toBe(2);
    expect(at(32)).toBeGreaterThan(1.5 * at(16));
  });

  it('recomputes the blocks after the backward pass has begun, not during the forward pass', async () => {
    const blocks = 8;
    // the ops of the plan's steps, one per node (a kernel in stages counted once, at its last)
    const ops = (f: GpuJsFunction): string[] => f.plan.filter((s) => s.stage === s.stages - 1).map((s) => s.op);
    const plan = await withPlan(trainingGraph(blocks, true), ops);
    const plainPlan = await withPlan(trainingGraph(blocks, false), ops);
    // the forward pass ends with the loss's sum; everything after it is the backward pass
    const forwardEnd = plan.indexOf('sum');
    expect(forwardEnd).toBeGreaterThan(0);
    const convs = (ops: readonly string[]): number => ops.filter((op) => op === 'conv2d').length;
    expect(convs(plan.slice(0, forwardEnd))).toBe(2 * blocks);
    expect(convs(plainPlan)).toBe(2 * blocks);
    // each block's first conv2d once more, recomputed (the second's output is not needed backwards)
    const backward = plan.slice(forwardEnd);
    expect(convs(backward)).toBe(blocks);
    // and each just in time: the k-th recomputation (of block N-1-k) comes after
    // the filter gradients of block N-k and before those of block N-1-k
    const recomputed = backward.flatMap((op, i) => (op === 'conv2d' ? [i] : []));
    const filterGrads = backward.flatMap((op, i) => (op === 'conv2dBackpropFilter' ? [i] : []));
    expect(filterGrads.length).toBe(2 * blocks);
    recomputed.forEach((at, k) => {
      expect(at).toBeLessThan(filterGrads[2 * k]);
      if (k > 0) expect(at).toBeGreaterThan(filterGrads[2 * k - 1]);
    });
  });

  it('costs nothing without gradients: the forward plan is the plain one, step for step', async () => {
    for (const blocks of [3, 16]) {
      const ck = await withPlan(trainingGraph(blocks, true, true), (f) => ({ plan: f.plan, memory: f.memory }));
      const plain = await withPlan(trainingGraph(blocks, false, true), (f) => ({ plan: f.plan, memory: f.memory }));
      expect(ck.plan.length).toBe(plain.plan.length);
      expect(ck.plan).toEqual(plain.plan);
      expect(ck.memory).toEqual(plain.memory);
    }
  });
});
