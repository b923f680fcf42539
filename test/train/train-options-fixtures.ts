/**
 * What the train-options tests share: a small learnable data set, a small
 * model, and ways to collect a run's events.
 */
import { lastValueFrom, toArray, type Observable } from 'rxjs';
import { createRng } from '../../src/data/random.js';
import { defineModel, nn, type Dataset, type DoneEvent, type Params, type StepEvent, type TrainEvent } from 'striate';

export const CLASSES = 4;

/**
 * `count` images [1, 6, 6] in 4 classes: class k lights up the k-th 3×3
 * quadrant, over uniform noise in [0, 0.3). Learnable in a few epochs.
 */
export function quadrants(count: number, seed: number): Dataset {
  const rng = createRng(seed);
  const images = new Float32Array(count * 36);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const k = rng.int(CLASSES);
    labels[i] = k;
    for (let p = 0; p < 36; p++) {
      const row = Math.floor(p / 6);
      const col = p % 6;
      const inQuadrant = Math.floor(row / 3) * 2 + Math.floor(col / 3) === k;
      images[i * 36 + p] = rng.next() * 0.3 + (inQuadrant ? 0.7 : 0);
    }
  }
  return { images, labels, count };
}

/** Parameters c1.w, c1.b, d1.w, d1.b, out.w, out.b. */
export const small = () =>
  defineModel('small', [1, 6, 6], [
    nn.conv2d('c1', { filters: 2, size: 3 }),
    nn.relu(),
    nn.flatten(),
    nn.dense('d1', { units: 8 }),
    nn.relu(),
    nn.dense('out', { units: CLASSES }),
  ]);

export const data = { train: quadrants(64, 1), test: quadrants(32, 2) };

export const run = (events$: Observable<TrainEvent>): Promise<TrainEvent[]> => lastValueFrom(events$.pipe(toArray()));

export const stepsOf = (events: readonly TrainEvent[]): StepEvent[] => events.filter((e): e is StepEvent => e.type === 'step');

export const doneOf = (events: readonly TrainEvent[]): DoneEvent => events.at(-1) as DoneEvent;

/** Each parameter's values as a plain array, to compare runs. */
export const values = (params: Params): Record<string, number[]> => Object.fromEntries(Object.entries(params).map(([k, v]) => [k, [...v.data]]));
