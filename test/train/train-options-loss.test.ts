/** `train({ loss })`: a custom training loss, differentiated by `grad`. */
import { describe, expect, it } from 'vitest';
import {
  add,
  input,
  logSoftmax,
  mean,
  mul,
  neg,
  oneHot,
  sgd,
  softmax,
  softmaxCrossEntropy,
  sub,
  sum,
  train,
  type EpochEvent,
  type LossFunction,
  type Tensor,
} from 'striate';
import { CLASSES, data, doneOf, run, small, stepsOf, values } from './train-options-fixtures.js';

const base = { model: small(), data, epochs: 2, batchSize: 16, seed: 3, backend: 'reference' } as const;

/** Mean squared error between the softmax probabilities and one-hot targets. */
const squaredError: LossFunction = (logits, labels, { classes }) => {
  const d = sub(softmax(logits, -1), oneHot(labels, classes));
  return mean(mul(d, d));
};

/** Cross-entropy against targets (1 − ε)·onehot + ε/C. */
const labelSmoothing =
  (epsilon: number): LossFunction =>
  (logits, labels, { classes }) => {
    const targets = add(mul(oneHot(labels, classes), 1 - epsilon), epsilon / classes);
    return mean(sum(mul(neg(targets), logSoftmax(logits, -1)), { axes: [1] }));
  };

describe('train with a custom loss', () => {
  it('twice the cross-entropy gives exactly twice the losses, and with sgd the trajectory of twice the learning rate', async () => {
    const plain = await run(train({ ...base, optimizer: sgd({ lr: 0.2, momentum: 0.9 }) }));
    const doubled = await run(train({ ...base, optimizer: sgd({ lr: 0.1, momentum: 0.9 }), loss: (logits, labels) => mul(softmaxCrossEntropy(logits, labels), 2) }));
    const a = stepsOf(plain);
    const b = stepsOf(doubled);
    expect(b).toHaveLength(8);
    expect(b.map((e) => e.loss)).toEqual(a.map((e) => 2 * e.loss));
    expect(b.map((e) => e.accuracy)).toEqual(a.map((e) => e.accuracy));
    expect(values(doneOf(doubled).state.params)).toEqual(values(doneOf(plain).state.params));
    // The epoch's evaluation is still cross-entropy; its training loss is the custom one.
    const epochs = (events: typeof plain) => events.filter((e): e is EpochEvent => e.type === 'epoch');
    expect(epochs(doubled).map((e) => e.testLoss)).toEqual(epochs(plain).map((e) => e.testLoss));
    expect(epochs(doubled).map((e) => e.trainLoss)).toEqual(epochs(plain).map((e) => 2 * e.trainLoss));
  });

  it.each([
    ['squared error', squaredError, 2],
    ['label smoothing', labelSmoothing(0.1), 0.2],
  ] as const)('a %s loss trains', async (_, loss, lr) => {
    const events = await run(train({ ...base, epochs: 10, optimizer: sgd({ lr, momentum: 0.9 }), loss }));
    const losses = stepsOf(events).map((e) => e.loss);
    const mean4 = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean4(losses.slice(-4))).toBeLessThan(0.5 * mean4(losses.slice(0, 4)));
    expect(doneOf(events).testAccuracy).toBeGreaterThanOrEqual(0.9);
  });

  it('reports the loss it was given: label smoothing with ε = 0 is the cross-entropy', async () => {
    const plain = stepsOf(await run(train({ ...base, optimizer: sgd({ lr: 0.2 }) })));
    const smoothed = stepsOf(await run(train({ ...base, optimizer: sgd({ lr: 0.2 }), loss: labelSmoothing(0) })));
    smoothed.forEach((e, i) => expect(e.loss).toBeCloseTo(plain[i].loss, 12));
    const uniform = stepsOf(await run(train({ ...base, optimizer: sgd({ lr: 0.2 }), loss: labelSmoothing(1) })));
    expect(uniform[0].loss).not.toBeCloseTo(plain[0].loss, 3);
  });

  it('sees the batch size, the classes and every parameter: an L2 penalty on them is sgd weight decay', async () => {
    const seen: string[] = [];
    const lambda = 0.25;
    const penalised: LossFunction = (logits, labels, { batchSize, classes, params }) => {
      seen.push(`${batchSize} ${classes} ${Object.keys(params).join(' ')}`);
      // d/dw (λ/2)·Σw² = λ·w, which is what weightDecay λ adds to the gradient.
      const squares: Tensor[] = Object.values(params).map((w) => sum(mul(w, w)));
      return add(softmaxCrossEntropy(logits, labels), mul(squares.reduce((s, t) => add(s, t)), lambda / 2));
    };
    const withPenalty = await run(train({ ...base, optimizer: sgd({ lr: 0.1 }), loss: penalised }));
    const withDecay = await run(train({ ...base, optimizer: sgd({ lr: 0.1, weightDecay: lambda }) }));
    expect(seen).toEqual([`16 ${CLASSES} c1.w c1.b d1.w d1.b out.w out.b`]); // built once, when train is called
    const p = doneOf(withPenalty).state.params;
    const q = doneOf(withDecay).state.params;
    for (const name of Object.keys(q)) {
      const diff = Math.max(...p[name].data.map((v, i) => Math.abs(v - q[name].data[i])));
      expect(diff, name).toBeLessThan(1e-6);
    }
    expect(stepsOf(withPenalty)[0].loss).toBeGreaterThan(stepsOf(withDecay)[0].loss);
  });

  it('a loss that does not read the labels needs none fed', async () => {
    // Pulls the logits towards zero, whatever the labels.
    const events = await run(train({ ...base, optimizer: sgd({ lr: 0.2 }), loss: (logits) => mean(mul(logits, logits)) }));
    const losses = stepsOf(events).map((e) => e.loss);
    expect(losses).toHaveLength(8);
    expect(Math.max(...losses.slice(-2))).toBeLessThan(0.5 * Math.min(...losses.slice(0, 2)));
  });

  it('is checked when train is called', () => {
    const options = { ...base, optimizer: sgd({ lr: 0.1 }) };
    expect(() => train({ ...options, loss: 'mse' as never })).toThrow('train: loss must be a function (logits, labels, context) => scalar Tensor, got string "mse"');
    expect(() => train({ ...options, loss: (logits, labels) => softmaxCrossEntropy(logits, labels, { reduction: 'none' }) })).toThrow(
      'train: the loss function must return a scalar (one element), got shape [16]; reduce it, e.g. with mean(...)',
    );
    expect(() => train({ ...options, loss: (logits) => mul(logits, 2) })).toThrow(/got shape \[16,4\]/);
    expect(() => train({ ...options, loss: (() => 0.5) as never })).toThrow(
      'train: the loss function must return a Tensor (a scalar built from the logits and labels), got number 0.5',
    );
    expect(() => train({ ...options, loss: (logits) => mean(mul(logits, input('weights', [16, 4]))) })).toThrow(
      'train: the loss reads an input "weights" that train does not feed; build it from the logits, the labels, the parameters and constants',
    );
    expect(() => train({ ...options, loss: () => { throw new Error('my loss: no'); } })).toThrow('my loss: no');
  });
});
