/** `train({ frozen })`: parameters that get no gradient and that the optimizer never changes. */
import { describe, expect, it, vi } from 'vitest';
import { map } from 'rxjs';
import { adam, initParams, mul, sgd, softmaxCrossEntropy, topologicalOrder, train, type Optimizer, type Tensor } from 'striate';
import { data, doneOf, run, small, stepsOf, values } from './train-options-fixtures.js';

/** The output lists of every graph compiled (the training graph first in each run). */
const compiled = vi.hoisted(() => [] as (readonly Tensor[])[]);

vi.mock('../../src/backend/compile.js', async (importOriginal) => {
  const mod = await importOriginal<typeof import('../../src/backend/compile.js')>();
  return {
    ...mod,
    compile: (...args: Parameters<typeof mod.compile>) => {
      compiled.push([args[0]].flat());
      return mod.compile(...args);
    },
  };
});

const base = { model: small(), data, epochs: 2, batchSize: 16, seed: 3, backend: 'reference', evaluate: false } as const;
const initial = initParams(small(), 3);
const bytes = (a: Float32Array): number[] => [...new Uint8Array(a.buffer, a.byteOffset, a.byteLength)];

describe('train with frozen parameters', () => {
  it('leaves them exactly as they were, keeps them by identity, and gives the optimizer no slots for them', async () => {
    const done = doneOf(await run(train({ ...base, optimizer: adam({ lr: 0.01, weightDecay: 0.1 }), frozen: ['c1.', 'out.b'] })));
    const { params, optimizer } = done.state;
    for (const name of ['c1.w', 'c1.b', 'out.b']) {
      expect(bytes(params[name].data), name).toEqual(bytes(initial[name].data));
    }
    for (const name of ['d1.w', 'd1.b', 'out.w']) expect(params[name].data, name).not.toEqual(initial[name].data);
    expect(Object.keys(params)).toEqual(['c1.w', 'c1.b', 'd1.w', 'd1.b', 'out.w', 'out.b']);
    expect(Object.isFrozen(params)).toBe(true);
    expect(Object.keys(optimizer.slots.m).sort()).toEqual(['d1.b', 'd1.w', 'out.w']);
    expect(Object.keys(optimizer.slots.v).sort()).toEqual(['d1.b', 'd1.w', 'out.w']);
    expect(optimizer.step).toBe(8);

    // Given the initial values, the frozen ones are carried by identity.
    const given = doneOf(await run(train({ ...base, optimizer: sgd({ lr: 0.1 }), frozen: ['c1.'], initial: { params: initial } })));
    expect(given.state.params['c1.w']).toBe(initial['c1.w']);
    expect(given.state.params['c1.b']).toBe(initial['c1.b']);
  });

  it('the others follow the gradient as they would with those parameters held fixed', async () => {
    // Oracle: sgd on everything, then the frozen values put back.
    const inner = sgd({ lr: 0.2, momentum: 0.9 });
    const holding: Optimizer = {
      ...inner,
      step: (p, g, st, at) => {
        const r = inner.step(p, g, st, at);
        return { ...r, params: { ...r.params, 'd1.w': p['d1.w'], 'd1.b': p['d1.b'] } };
      },
    };
    const expected = await run(train({ ...base, optimizer: holding }));
    const got = await run(train({ ...base, optimizer: sgd({ lr: 0.2, momentum: 0.9 }), frozen: ['d1.'] }));
    expect(stepsOf(got).map((e) => e.loss)).toEqual(stepsOf(expected).map((e) => e.loss));
    expect(values(doneOf(got).state.params)).toEqual(values(doneOf(expected).state.params));
  });

  it('builds no gradient for them: with the first layer frozen, no convolution backward pass at all', () => {
    const opsOf = (outputs: readonly Tensor[]) => new Set(topologicalOrder(outputs).map((t) => t.op));
    compiled.length = 0;
    const everything = train({ ...base, optimizer: adam() });
    const firstFrozen = train({ ...base, optimizer: adam(), frozen: ['c1.'] });
    // Compiling happens on subscription; take the graphs from there.
    const subs = [everything.subscribe(), firstFrozen.subscribe()];
    subs.forEach((s) => s.unsubscribe());
    const [all, frozen] = compiled;
    expect(all).toHaveLength(2 + 6); // loss, logits, six gradients
    expect(frozen).toHaveLength(2 + 4);
    expect(opsOf(all).has('conv2dBackpropFilter')).toBe(true);
    expect(opsOf(frozen).has('conv2dBackpropFilter')).toBe(false);
    expect(opsOf(frozen).has('conv2dBackpropInput')).toBe(false);
  });

  it('takes a predicate on the name', async () => {
    const done = doneOf(await run(train({ ...base, optimizer: adam({ lr: 0.01 }), frozen: (name) => name.endsWith('.b') })));
    for (const name of ['c1.b', 'd1.b', 'out.b']) expect(bytes(done.state.params[name].data), name).toEqual(bytes(initial[name].data));
    expect(Object.keys(done.state.optimizer.slots.m).sort()).toEqual(['c1.w', 'd1.w', 'out.w']);
  });

  it('resumed with an optimizer state that has slots for them, keeps those slots untouched', async () => {
    const before = doneOf(await run(train({ ...base, epochs: 1, optimizer: adam({ lr: 0.01 }) }))).state;
    const after = doneOf(await run(train({ ...base, epochs: 1, optimizer: adam({ lr: 0.01 }), frozen: ['c1.'], initial: before }))).state;
    for (const slot of ['m', 'v']) {
      expect(after.optimizer.slots[slot]['c1.w']).toBe(before.optimizer.slots[slot]['c1.w']);
      expect(after.optimizer.slots[slot]['c1.b']).toBe(before.optimizer.slots[slot]['c1.b']);
      expect(after.optimizer.slots[slot]['d1.w']).not.toBe(before.optimizer.slots[slot]['d1.w']);
    }
    expect(after.params['c1.w']).toBe(before.params['c1.w']);
  });

  it('works with the other options together on a compiled backend (webasm)', async () => {
    const events = await run(
      train({
        ...base,
        epochs: 4,
        backend: 'webasm',
        optimizer: adam({ lr: 0.02 }),
        frozen: ['c1.'],
        loss: (logits, labels) => mul(softmaxCrossEntropy(logits, labels), 2),
        transform: map((b) => ({ ...b, images: b.images.map((v) => 1 - v) })),
        snapshots: { every: 4 },
      }),
    );
    const steps = stepsOf(events);
    expect(steps.filter((e) => e.state).map((e) => e.state!.step)).toEqual([4, 8, 12, 16]);
    expect(steps.at(-1)!.loss).toBeLessThan(steps[0].loss);
    const { params } = doneOf(events).state;
    expect(bytes(params['c1.w'].data)).toEqual(bytes(initial['c1.w'].data));
    expect(params['out.w'].data).not.toEqual(initial['out.w'].data);
  });

  it('is checked when train is called: every name or prefix must match, and something must stay trainable', () => {
    const options = { ...base, optimizer: adam() };
    const list = '"c1.w", "c1.b", "d1.w", "d1.b", "out.w", "out.b"';
    expect(() => train({ ...options, frozen: ['c2.'] })).toThrow(`train: frozen entry "c2." matches no parameter; the parameters are ${list}`);
    expect(() => train({ ...options, frozen: ['c1'] })).toThrow(
      `train: frozen entry "c1" matches no parameter; the parameters are ${list}; to freeze every parameter of layer "c1", write "c1."`,
    );
    expect(() => train({ ...options, frozen: ['c1.w', 'c1.x'] })).toThrow(/^train: frozen entry "c1.x" matches no parameter/);
    expect(() => train({ ...options, frozen: () => false })).toThrow(`train: the frozen predicate matches none of the parameters ${list}`);
    expect(() => train({ ...options, frozen: ['c1.', 'd1.', 'out.'] })).toThrow(`train: frozen covers every parameter (${list}); leave at least one to train`);
    expect(() => train({ ...options, frozen: 'c1.' as never })).toThrow(
      `train: frozen must be an array of parameter names and prefixes (e.g. ['c1.']) or a predicate (name) => boolean, got string "c1."`,
    );
    expect(() => train({ ...options, frozen: ['c1.', 3] as never })).toThrow("train: frozen entries must be parameter names or prefixes ending with '.', got 3");
    expect(() => train({ ...options, frozen: [] })).not.toThrow();
  });
});
