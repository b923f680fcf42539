import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { ofType, smooth, smoothSteps, stepLosses, throttleLatest, throttleSteps, type TrainEvent } from '../../src/train/index.js';

const scheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const round = (x: number): number => Math.round(x * 1e9) / 1e9;

const step = (k: number, loss = k, accuracy = 0): TrainEvent => ({ type: 'step', epoch: 1, step: k, loss, accuracy, imagesPerSecond: 100 });
const epoch: TrainEvent = { type: 'epoch', epoch: 1, trainLoss: 1, trainAccuracy: 0.5, testLoss: 1, testAccuracy: 0.5, seconds: 2 };

describe('smooth', () => {
  it('is a debiased exponential moving average', () => {
    scheduler().run(({ cold, expectObservable }) => {
      // w = 0.5: s1 = 0.5 → 0.5/0.5 = 1; s2 = 0.25 + 1.5 = 1.75 → 1.75/0.75 = 7/3;
      //          s3 = 0.875 + 2.5 = 3.375 → 3.375/0.875 = 27/7
      const src = cold('-a-b-c-|', { a: 1, b: 3, c: 5 });
      expectObservable(src.pipe(smooth(0.5), map(round))).toBe('-a-b-c-|', { a: 1, b: round(7 / 3), c: round(27 / 7) });
    });
  });

  it('weight 0 passes values through; non-finite values pass without entering the average', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('abc|', { a: 4, b: 2, c: 9 }).pipe(smooth(0))).toBe('abc|', { a: 4, b: 2, c: 9 });
      // w = 0.5: 2 → 2; NaN → NaN; 4 → (0.5·1 + 2)/0.75 = 10/3
      expectObservable(cold('abc|', { a: 2, b: NaN, c: 4 }).pipe(smooth(0.5), map(round))).toBe('abc|', { a: 2, b: NaN, c: round(10 / 3) });
    });
  });

  it('keeps separate state per subscription, and passes errors', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const s = cold('ab|', { a: 2, b: 4 }).pipe(smooth(0.5), map(round));
      expectObservable(s).toBe('ab|', { a: 2, b: round(10 / 3) });
      expectObservable(s).toBe('ab|', { a: 2, b: round(10 / 3) });
      expectObservable(cold('a#', { a: 1 }).pipe(smooth(0.9))).toBe('a#', { a: 1 });
    });
    expect(() => smooth(1)).toThrow(/weight must be in \[0, 1\)/);
  });

  it('smoothSteps smooths the loss and accuracy of step events only', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold('abe|', { a: step(1, 2, 0), b: step(2, 4, 1), e: epoch });
      const out = src.pipe(smoothSteps(0.5), map((e) => (e.type === 'step' ? [round(e.loss), round(e.accuracy)] : e.type)));
      expectObservable(out).toBe('abe|', { a: [2, 0], b: [round(10 / 3), round(2 / 3)], e: 'epoch' });
    });
  });

  it('ofType and stepLosses pick events', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold('aeb|', { a: step(1, 0.7), e: epoch, b: step(2, 0.5) });
      expectObservable(src.pipe(ofType('epoch'))).toBe('-e-|', { e: epoch });
      expectObservable(src.pipe(stepLosses())).toBe('a-b|', { a: 0.7, b: 0.5 });
    });
  });
});

describe('throttleLatest', () => {
  it('emits the first value at once and then the latest value at the end of each window', () => {
    scheduler().run(({ cold, expectObservable }) => {
      // window 5: a@1 opens [1,6); b, c held, c@6 opens [6,11), nothing held at 11 so the window closes;
      // d@16 opens [16,21), e held and emitted @21; completion @23.
      const src = cold('-a-b-c----------d-e----|');
      expectObservable(src.pipe(throttleLatest(5))).toBe('-a----c---------d----e-|');
    });
  });

  it('emits a held value before completing or erroring', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-a-b|').pipe(throttleLatest(5))).toBe('-a--(b|)');
      expectObservable(cold('-a-b#').pipe(throttleLatest(5))).toBe('-a--(b#)');
    });
  });

  it('unsubscribing unsubscribes from the source', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      // window 4: a@1, b held → @5; the window [5,9) closes empty; c@12 opens [12,16); d is held when we leave @14.
      const src = cold('-a-b--------c-d-|');
      expectObservable(src.pipe(throttleLatest(4)), '^-------------!').toBe('-a---b------c-');
      expectSubscriptions(src.subscriptions).toBe('^-------------!');
    });
  });

  it('throttleSteps never holds back epoch or done events, and flushes the held step before them', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const values = { a: step(1), b: step(2), c: step(3), e: epoch };
      const src = cold('a-b-c-e------|', values);
      // a opens a 10 ms window; b then c are held; the epoch event flushes c and passes at once.
      expectObservable(src.pipe(throttleSteps(10))).toBe('a-----(ce)---|', values);
    });
  });
});
