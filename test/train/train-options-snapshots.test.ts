/** `train({ snapshots })`: the state after a step, on the step event, when asked. */
import { lastValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { adam, train, type Optimizer, type OptimizerState, type Params } from 'striate';
import { data, doneOf, run, small, stepsOf, values } from './train-options-fixtures.js';

const base = { model: small(), data, epochs: 2, batchSize: 16, seed: 3, backend: 'reference', evaluate: false } as const;

describe('train with snapshots', () => {
  it('by default step events carry numbers only', async () => {
    const steps = stepsOf(await run(train({ ...base, optimizer: adam() })));
    expect(steps.every((e) => !('state' in e))).toBe(true);
    const off = stepsOf(await run(train({ ...base, optimizer: adam(), snapshots: false })));
    expect(off.every((e) => !('state' in e))).toBe(true);
  });

  it('with true, every step event carries the state after it: what the demo gets by wrapping the optimizer', async () => {
    const optimizer = adam({ lr: 0.01 });
    const recorded: { params: Params; state: OptimizerState }[] = [];
    const recording: Optimizer = {
      ...optimizer,
      step: (p, g, st, at) => {
        const r = optimizer.step(p, g, st, at);
        recorded.push({ params: r.params, state: r.state });
        return r;
      },
    };
    const events = await run(train({ ...base, optimizer: recording, snapshots: true }));
    const steps = stepsOf(events);
    expect(steps).toHaveLength(8);
    steps.forEach((e, i) => {
      const state = e.state!;
      expect(state.params).toBe(recorded[i].params);
      expect(state.optimizer).toBe(recorded[i].state);
      expect(state.step).toBe(i + 1);
      expect(state.epoch).toBe(i < 4 ? 0 : 1); // epochs completed: an epoch counts once its last step is done and evaluated
      expect(Object.isFrozen(state)).toBe(true);
    });
    expect(steps.at(-1)!.state!.params).toBe(doneOf(events).state.params);
  });

  it('with { every: n }, when the run\'s step count is a multiple of n, resumed runs included', async () => {
    const steps = stepsOf(await run(train({ ...base, epochs: 3, optimizer: adam(), snapshots: { every: 5 } })));
    expect(steps.filter((e) => e.state).map((e) => [e.epoch, e.step, e.state!.step])).toEqual([[2, 1, 5], [3, 2, 10]]);
    const first = stepsOf(await run(train({ ...base, optimizer: adam(), snapshots: { every: 3 } })));
    const resumed = stepsOf(await run(train({ ...base, optimizer: adam(), snapshots: { every: 3 }, initial: first[5].state })));
    expect(first.filter((e) => e.state).map((e) => e.state!.step)).toEqual([3, 6]);
    expect(resumed.filter((e) => e.state).map((e) => e.state!.step)).toEqual([9, 12]);
  });

  it('a snapshot resumes the run exactly (the demo\'s pause and resume, without wrapping the optimizer)', async () => {
    const straight = doneOf(await run(train({ ...base, optimizer: adam({ lr: 0.01 }) })));
    const paused = await lastValueFrom(train({ ...base, optimizer: adam({ lr: 0.01 }), snapshots: true }).pipe(take(6 + 1), toArray()));
    const last = stepsOf(paused).at(-1)!;
    expect([last.epoch, last.step]).toEqual([2, 2]);
    const resumed = doneOf(await run(train({ ...base, epochs: 1, optimizer: adam({ lr: 0.01 }), initial: last.state })));
    expect(resumed.state.step).toBe(8);
    expect(values(resumed.state.params)).toEqual(values(straight.state.params));
  });

  it('is checked when train is called', () => {
    expect(() => train({ ...base, optimizer: adam(), snapshots: { every: 0 } })).toThrow('train: snapshots.every must be a positive integer, got 0');
    expect(() => train({ ...base, optimizer: adam(), snapshots: 'yes' as never })).toThrow('train: snapshots must be true, false or { every: n }, got "yes"');
  });
});
