/**
 * The Neocognitron that `npm start -- --model neocognitron`, bench/neocognitron.ts
 * and the browser demo's Neocognitron panel train. Imports nothing from Node.
 */
import type { NeocognitronOptions, TrainNeocognitronOptions } from 'striate';

/**
 * The Neocognitron `npm start -- --model neocognitron` trains, and how: its
 * stages (as `neocognitron({ inputShape, stages })` takes them) and
 * trainNeocognitron's settings. bench/neocognitron.ts and the browser demo
 * train the same, and the README's figures are measured with it.
 */
export const NEOCOGNITRON_SETUP = {
  stages: [
    { planes: 16, window: 5, r: 3, padding: 'same', pool: 'max', poolSize: 6, poolStride: 3 },
  ],
  /** Epochs per stage. */
  epochs: 1,
  /** Images per compiled forward pass and per update. */
  batchSize: 64,
  /** The stages learn from the first 10,000 training images (they have their planes long before); the classifier from all. */
  stageLimit: 10000,
  /** Least input energy at which a silent position seeds a plane. */
  minEnergy: 0.01,
  /** The interpolating-vector classifier on the top C-layer, each class's 8 references most similar to an input paired. */
  classifier: 'intvec',
  candidates: 8,
  /** The training digits are shown to the classifier twice: the second pass adds the ones references added later turned wrong. */
  classifierPasses: 2,
} as const satisfies { stages: readonly NeocognitronOptions['stages'][number][] } & Record<string, unknown>;


/**
 * trainNeocognitron's settings of the setup for `count` training images (the
 * stages learn from at most `stageLimit` of them): what the CLI, the bench and
 * the demo pass, each adding its model, data, backend and seed, and the CLI
 * its --epochs and --batch-size.
 */
export function setupTraining(count: number): Required<Pick<TrainNeocognitronOptions, 'epochs' | 'batchSize' | 'stageLimit' | 'minEnergy' | 'classifier' | 'candidates' | 'classifierPasses'>> {
  const { epochs, batchSize, stageLimit, minEnergy, classifier, candidates, classifierPasses } = NEOCOGNITRON_SETUP;
  return { epochs, batchSize, stageLimit: Math.min(stageLimit, count), minEnergy, classifier, candidates, classifierPasses };
}
