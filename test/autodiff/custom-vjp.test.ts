/**
 * customVjp(fn, rule, { name, jvp }): fn forwards, the user's rule backwards.
 *  - Rules do what they say: a straight-through estimator passes the identity
 *    gradient, a clipping rule clips, a rule sees the function's arguments and
 *    output, a cotangent of a larger (broadcast) shape is summed back.
 *  - A wrong rule is a StriateError from 'customVjp' naming the function:
 *    the wrong count, a non-Tensor, a wrong shape, a non-array; so is an fn
 *    that reads a graph input other than its arguments (constants are fine),
 *    and forward mode without a `jvp` option or with a misshapen JVP.
 *  - A rule made of ordinary ops differentiates again (second order), and the
 *    graph compiles on every Node backend with the reference's results.
 *  - formatGraph prints the rule as `<function>`.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  add,
  checkGradients,
  compile,
  constant,
  customVjp,
  formatGraph,
  grad,
  input,
  jvp,
  mul,
  neg,
  relu,
  step,
  sub,
  sum,
  tanh,
  type BackendName,
  type CustomRuleContext,
  type Tensor,
} from '../../src/index.js';
import { releaseIdleGpus, unavailableReason, type GpuJsBackend } from '../../src/backend/gpujs/gpu.js';
import { sizeOf } from '../../src/graph/tensor.js';
import { distinctValues, randomValues, striateError } from '../helpers.js';
import { unavailableBackendTest } from '../backend/backends.js';

type Feeds = Record<string, Float64Array>;

afterAll(() => releaseIdleGpus());

/** Run `outputs` on the reference backend (float64) with the feeds it reads. */
function run(outputs: Tensor | readonly Tensor[], feeds: Feeds): Float64Array[] {
  const f = compile(outputs);
  return f.runSync(Object.fromEntries(f.inputs.map(({ name }) => [name, feeds[name]]))).map((r) => r.data);
}

/** g with every element clipped to [-c, c], from ordinary ops: g - relu(g - c) + relu(-g - c). */
const clip = (g: Tensor, c: number): Tensor => add(sub(g, relu(sub(g, c))), relu(sub(neg(g), c)));

/** tanh with its gradient written by hand, from the output: d tanh x = (1 - y²) dx. */
const customTanh = customVjp((x: Tensor) => tanh(x), (g, { output }) => [mul(g, sub(1, mul(output, output)))], {
  name: 'tanh by hand',
  jvp: ([t], { output }) => (t === null ? null : mul(t, sub(1, mul(output, output)))),
});

describe('customVjp: rules', () => {
  it('a straight-through estimator passes the identity gradient', () => {
    const binarize = customVjp((x: Tensor) => step(x), (g) => [g], { name: 'binarize' });
    const x = input('x', [3, 4]);
    const w = input('w', [3, 4]);
    const y = binarize(x);
    const [gx, gw] = grad(sum(mul(y, w)), [x, w]);
    const feeds = { x: distinctValues(12, 1, 0.1), w: randomValues(12, 2) };
    const [yv, gxv, gwv] = run([y, gx, gw], feeds);
    expect([...yv]).toEqual([...feeds.x].map((v) => (v > 0 ? 1 : 0)));
    expect([...gxv]).toEqual([...feeds.w]); // as if binarize were the identity (step's own gradient is zero)
    expect([...gwv]).toEqual([...yv]);
    const [plain] = grad(sum(mul(step(x), w)), [x]);
    expect([...run(plain, feeds)[0]]).toEqual(new Array(12).fill(0));
  });

  it('a clipping rule clips the cotangent, and leaves the forward value alone', () => {
    const clipped = customVjp((x: Tensor) => x, (g) => [clip(g, 0.5)], { name: 'clip' });
    const x = input('x', [8]);
    const c = input('c', [8]);
    const y = clipped(x);
    const [gx] = grad(sum(mul(y, c)), [x]);
    const feeds = { x: randomValues(8, 3), c: Float64Array.from([-2, -0.6, -0.5, -0.1, 0, 0.3, 0.5, 3]) };
    const [yv, gxv] = run([y, gx], feeds);
    expect([...yv]).toEqual([...feeds.x]);
    expect([...gxv]).toEqual([-0.5, -0.5, -0.5, -0.1, 0, 0.3, 0.5, 0.5]);
  });

  it('the rule sees the arguments, the output and the cotangent', () => {
    const seen: { g: Tensor; context: CustomRuleContext }[] = [];
    let inner: Tensor | null = null;
    const f = customVjp(
      (a: Tensor, b: Tensor) => (inner = mul(tanh(a), b)),
      (g, context) => {
        seen.push({ g, context });
        return [null, g];
      },
      { name: 'spy' },
    );
    const a = input('a', [2, 3]);
    const b = input('b', [2, 3]);
    const y = f(a, b);
    expect(seen).toEqual([]); // the rule runs when a gradient is taken, not before
    expect(y.op).toBe('customVjp');
    expect(y.inputs[0]).toBe(inner);
    const [ga, gb] = grad(sum(mul(y, 3)), [a, b]);
    expect(seen.length).toBe(1);
    const { g, context } = seen[0];
    expect(context.inputs.length).toBe(2);
    expect(context.inputs[0]).toBe(a);
    expect(context.inputs[1]).toBe(b);
    expect(context.output).toBe(inner);
    expect(g.shape).toEqual([2, 3]);
    const feeds = { a: randomValues(6, 4), b: randomValues(6, 5) };
    const [gav, gbv, gv] = run([ga, gb, g], feeds);
    expect([...gav]).toEqual(new Array(6).fill(0)); // null: no gradient
    expect([...gbv]).toEqual(new Array(6).fill(3));
    expect([...gv]).toEqual(new Array(6).fill(3));
  });

  it('a rule using the output gives the same gradients as the op it replaces', () => {
    const x = input('x', [2, 5]);
    const [g] = grad(sum(mul(customTanh(x), x)), [x]);
    const [want] = grad(sum(mul(tanh(x), x)), [x]);
    const feeds = { x: randomValues(10, 6) };
    const [gv] = run(g, feeds);
    const [wv] = run(want, feeds);
    gv.forEach((v, i) => expect(v).toBeCloseTo(wv[i], 14));
  });

  it('accepts a cotangent of a shape its argument broadcasts to, and sums it back', () => {
    const shift = customVjp((x: Tensor, b: Tensor) => add(x, b), (g) => [g, mul(g, 2)], { name: 'shift' });
    const x = input('x', [4, 3]);
    const b = input('b', [3]);
    const y = shift(x, b);
    expect(y.shape).toEqual([4, 3]);
    const c = input('c', [4, 3]);
    const [gx, gb] = grad(sum(mul(y, c)), [x, b]);
    expect(gb.shape).toEqual([3]);
    const feeds = { x: randomValues(12, 7), b: randomValues(3, 8), c: randomValues(12, 9) };
    const [gxv, gbv] = run([gx, gb], feeds);
    expect([...gxv]).toEqual([...feeds.c]);
    [0, 1, 2].forEach((j) => expect(gbv[j]).toBeCloseTo(2 * (feeds.c[j] + feeds.c[3 + j] + feeds.c[6 + j] + feeds.c[9 + j]), 14));
  });

  it('allows constants in fn', () => {
    const f = customVjp((x: Tensor) => add(mul(x, constant([1, 2, 3], [3])), 0.5), (g) => [mul(g, 10)], { name: 'affine' });
    const x = input('x', [3]);
    const y = f(x);
    const [gx] = grad(sum(y), [x]);
    const [yv, gv] = run([y, gx], { x: Float64Array.from([1, 1, 1]) });
    expect([...yv]).toEqual([1.5, 2.5, 3.5]);
    expect([...gv]).toEqual([10, 10, 10]);
  });
});

describe('customVjp: a wrong rule is refused, naming the function', () => {
  const x = input('x', [2, 3]);
  const b = input('b', [3]);
  const gradThrough = (rule: (g: Tensor) => unknown, name = 'my rule'): string => {
    const f = customVjp((u: Tensor, v: Tensor) => add(u, v), rule as never, { name });
    const y = f(x, b); // building the node does not call the rule
    const e = striateError(() => grad(sum(y), [x, b]), 'customVjp');
    expect(e.message).toContain(`"${name}"`);
    return e.message;
  };

  it('the wrong count of cotangents', () => {
    expect(gradThrough((g) => [g])).toBe(
      'customVjp: the rule of "my rule" returned 1 cotangents for 2 arguments; return one cotangent (or null) per argument',
    );
    expect(gradThrough((g) => [g, g, g], 'three')).toContain('returned 3 cotangents for 2 arguments');
    expect(gradThrough(() => [])).toContain('returned 0 cotangents for 2 arguments');
  });

  it('a cotangent that is not a Tensor', () => {
    expect(gradThrough((g) => [g, 1])).toBe('customVjp: the rule of "my rule" returned number 1 as cotangent 1; expected a Tensor or null');
    expect(gradThrough((g) => [undefined, g])).toContain('returned undefined as cotangent 0');
  });

  it('a cotangent of the wrong shape (smaller than the argument counts as wrong)', () => {
    expect(gradThrough((g) => [g, input('z', [2])])).toBe(
      'customVjp: the rule of "my rule" returned cotangent 1 of shape [2] for argument 1 of shape [3]',
    );
    expect(gradThrough((g) => [input('z', [3]), g])).toContain('returned cotangent 0 of shape [3] for argument 0 of shape [2,3]');
  });

  it('a result that is not an array', () => {
    expect(gradThrough((g) => g)).toContain('the rule of "my rule" returned ');
    expect(gradThrough(() => null)).toContain('returned null for 2 arguments');
    expect(gradThrough(() => undefined, 'custom')).toMatch(/^customVjp: the rule of "custom" returned undefined for 2 arguments/);
  });

  it('names the default name "custom" when none is given', () => {
    const f = customVjp((u: Tensor) => tanh(u), (() => 7) as never);
    expect(striateError(() => grad(sum(f(x)), [x]), 'customVjp').message).toContain('the rule of "custom" returned number 7');
  });

  it('an fn that reads a graph input other than its arguments', () => {
    const w = input('w', [2, 3]);
    const f = customVjp((u: Tensor) => mul(tanh(u), w), (g) => [g], { name: 'leaky' });
    const e = striateError(() => f(x), 'customVjp');
    expect(e.message).toBe(
      `customVjp: "leaky": fn reads input "w" (%${w.id}), which is not one of its arguments, so its gradient would be lost; ` +
        'pass it as an argument and give its cotangent in the rule',
    );
    // through a tensor computed from the input, too
    const tw = tanh(w);
    expect(striateError(() => customVjp((u: Tensor) => add(u, tw), (g) => [g])(x), 'customVjp').message).toContain('fn reads input "w"');
    // and passed as an argument, it is fine
    expect(customVjp((u: Tensor, v: Tensor) => mul(tanh(u), v), (g) => [g, g])(x, w).shape).toEqual([2, 3]);
  });

  it('fn, rule, options and arguments of the wrong kind', () => {
    expect(striateError(() => customVjp(3 as never, (g) => [g]), 'customVjp').message).toContain('fn must be a function');
    expect(striateError(() => customVjp((u: Tensor) => u, 'rule' as never), 'customVjp').message).toContain('rule must be a function');
    expect(striateError(() => customVjp((u: Tensor) => u, (g) => [g], { name: '' }), 'customVjp').message).toContain('name must be a non-empty string');
    expect(striateError(() => customVjp((u: Tensor) => u, (g) => [g], { jvp: 1 as never }), 'customVjp').message).toContain('jvp must be a function');
    expect(striateError(() => customVjp((u: Tensor) => u, (g) => [g], { nmae: 'x' } as never), 'customVjp').message).toContain('nmae');
    const f = customVjp((u: Tensor) => u, (g) => [g], { name: 'id' });
    expect(striateError(() => f([1, 2] as never), 'customVjp').message).toBe('customVjp: "id": argument 0 is an array of 2, expected a Tensor');
    const g = customVjp((() => 5) as never as (u: Tensor) => Tensor, (c) => [c], { name: 'five' });
    expect(striateError(() => g(x), 'customVjp').message).toBe('customVjp: "five": fn must return a Tensor, got number 5');
  });
});

describe('customVjp: forward mode', () => {
  it('refuses jvp through a function without a jvp option, saying what to do', () => {
    const f = customVjp((u: Tensor) => tanh(u), (g) => [g], { name: 'no jvp' });
    const x = input('x', [3]);
    const e = striateError(() => jvp([sum(f(x))], [x], [input('t', [3])]), 'customVjp');
    expect(e.message).toBe(
      'customVjp: "no jvp" has a custom VJP rule but no JVP rule, so forward mode cannot differentiate it; ' +
        "give customVjp a { jvp } option, or use reverse mode (checkGradients: { mode: 'reverse' })",
    );
    // reverse mode alone is fine
    expect(checkGradients((u) => sum(mul(customTanh(u), u)), [{ shape: [3], data: randomValues(3, 1) }], { mode: 'reverse' }).checks).toBe(3);
  });

  it('uses the jvp option, checked against differences and against the rule (checkGradients, mode both)', () => {
    const x = input('x', [4]);
    const t = input('t', [4]);
    const [dy] = jvp([customTanh(x)], [x], [t]);
    const feeds = { x: randomValues(4, 2), t: randomValues(4, 3) };
    const [dv] = run(dy, feeds);
    dv.forEach((v, i) => expect(v).toBeCloseTo(feeds.t[i] * (1 - Math.tanh(feeds.x[i]) ** 2), 14));
    const report = checkGradients((u, w) => sum(mul(customTanh(mul(u, w)), u)), [
      { shape: [2, 3], data: randomValues(6, 4) },
      { shape: [3], data: randomValues(3, 5) },
    ], { mode: 'both', fullJacobianUpTo: 20 });
    expect(report.checks).toBeGreaterThan(9);
  });

  it('a jvp option returning null gives a zero tangent', () => {
    const f = customVjp((u: Tensor) => tanh(u), (g) => [g], { name: 'frozen', jvp: () => null });
    const x = input('x', [3]);
    const [dy] = jvp([f(x)], [x], [input('t', [3])]);
    expect([...run(dy, { x: randomValues(3, 1), t: randomValues(3, 2) })[0]]).toEqual([0, 0, 0]);
  });

  it('refuses a jvp option returning the wrong shape or a non-Tensor', () => {
    const x = input('x', [2, 3]);
    const t = input('t', [2, 3]);
    const wrong = customVjp((u: Tensor) => tanh(u), (g) => [g], { name: 'wide', jvp: () => input('z', [3, 3]) });
    expect(striateError(() => jvp([wrong(x)], [x], [t]), 'customVjp').message).toBe(
      'customVjp: the JVP rule of "wide" returned a tangent of shape [3,3]; expected null or a Tensor of shape [2,3]',
    );
    const notTensor = customVjp((u: Tensor) => tanh(u), (g) => [g], { name: 'seven', jvp: () => 7 as never });
    expect(striateError(() => jvp([notTensor(x)], [x], [t]), 'customVjp').message).toContain('the JVP rule of "seven" returned number 7');
    // a tangent that broadcasts to the output is fine
    const narrow = customVjp((u: Tensor) => tanh(u), (g) => [g], { name: 'narrow', jvp: () => input('z', [3]) });
    expect(jvp([narrow(x)], [x], [t])[0].shape).toEqual([2, 3]);
  });
});

describe('customVjp: second order', () => {
  it('differentiates a rule made of ordinary ops again, as the op it replaces', () => {
    const x = input('x', [6]);
    const v = input('v', [6]);
    const second = (th: (u: Tensor) => Tensor): Tensor[] => {
      const [g] = grad(sum(mul(th(x), x)), [x]);
      const [h] = grad(sum(mul(g, v)), [x]); // Hessian-vector product
      const [hf] = jvp([g], [x], [v]); // forward-over-reverse, through the jvp option
      return [g, h, hf];
    };
    const feeds = { x: randomValues(6, 11), v: randomValues(6, 12) };
    const got = run(second(customTanh), feeds);
    const want = run(second(tanh), feeds);
    got.forEach((o, k) => o.forEach((value, i) => expect(value, `output ${k}[${i}]`).toBeCloseTo(want[k][i], 13)));
    expect(want[1].some((value) => Math.abs(value) > 1e-3)).toBe(true);
  });
});

/**
 * The Node backends besides the reference (webgpu left out: it needs a Vulkan
 * driver); an unavailable one is skipped with its reason, or fails when
 * STRIATE_REQUIRE_BACKENDS names it (headlessgl needs a display: xvfb-run -a).
 */
const deviceBackends: GpuJsBackend[] = ['cpu', 'webasm', 'webasm-threads', 'headlessgl'];

/** A graph of several custom functions: forward values and gradients by every input. */
function customGraph(): Tensor[] {
  const x = input('x', [4, 6]);
  const w = input('w', [4, 6]);
  const b = input('b', [6]);
  const binarize = customVjp((u: Tensor) => step(u), (g) => [g], { name: 'ste' });
  const clipped = customVjp((u: Tensor) => u, (g) => [clip(g, 0.3)], { name: 'clip' });
  const shift = customVjp((u: Tensor, c: Tensor) => add(u, c), (g) => [g, mul(g, 2)], { name: 'shift' });
  const y = add(mul(binarize(x), w), customTanh(clipped(shift(w, b))));
  const loss = sum(mul(y, y));
  return [y, loss, ...grad(loss, [x, w, b])];
}

describe.each(['reference' as const, ...deviceBackends])('customVjp compiled on %s', (backend: BackendName) => {
  const reason = backend === 'reference' ? null : unavailableReason(backend as GpuJsBackend);
  if (reason !== null) return unavailableBackendTest(backend as GpuJsBackend, reason);

  it('gives the results of the reference backend', async () => {
    const outputs = customGraph();
    const ref = compile(outputs);
    const feeds: Feeds = {
      x: distinctValues(24, 21, 0.05),
      w: randomValues(24, 22),
      b: randomValues(6, 23),
    };
    const want = ref.runSync(feeds);
    const f = compile(outputs, { backend });
    try {
      expect(f.backend).toBe(backend);
      const got = await f.run(feeds);
      want.forEach((w, o) => {
        const scale = Math.max(...Array.from(w.data, Math.abs));
        expect(got[o].shape).toEqual(w.shape);
        expect(got[o].data.length).toBe(sizeOf(w.shape));
        got[o].data.forEach((v, i) => expect(Math.abs(v - w.data[i]), `output ${o}[${i}]`).toBeLessThanOrEqual(1e-5 * scale));
      });
    } finally {
      await f.dispose();
    }
  });
});

describe('customVjp: printing', () => {
  it('formatGraph shows the rule as <function>, named when the rule has a name', () => {
    const x = input('x', [2]);
    const anonymous = customVjp((u: Tensor) => tanh(u), (g) => [g], { name: 'ste' })(x);
    const text = formatGraph([anonymous]);
    expect(text).toContain(`%${anonymous.id} = customVjp(%${anonymous.inputs[0].id}, %${x.id}) {name: "ste", rule: <function>, jvp: null} : [2]`);
    function passThrough(g: Tensor): Tensor[] {
      return [g];
    }
    const named = customVjp((u: Tensor) => tanh(u), passThrough, { name: 'named', jvp: ([t]) => t })(x);
    expect(formatGraph([named])).toMatch(/= customVjp\(%\d+, %\d+\) \{name: "named", rule: <function passThrough>, jvp: <function jvp>\} : \[2\]$/m);
  });
});
