/**
 * The batch-transform hook of `train`: each training batch goes through the
 * user's RxJS operator before its step.
 *
 * Training is pulled one step at a time, so the operator is pushed one batch
 * and awaited: each batch is the whole of a stream of its own,
 * `of(batch).pipe(transform)`, which must emit exactly one batch and
 * complete. That contract can be checked without guessing (an operator that
 * drops a batch completes with nothing; one that duplicates it emits twice),
 * so a broken operator ends training with an error instead of a hang. And it
 * keeps training reproducible: what the operator makes of a batch depends on
 * that batch alone (its data and its `seed`), not on what the operator saw
 * before, so a run resumed at step 1,000 transforms its batches exactly as
 * the uninterrupted run did. Asynchronous operators (`concatMap` over a
 * promise) are awaited; stopping unsubscribes the one in flight, which tears
 * its chain down.
 */
import { isObservable, of, type MonoTypeOperatorFunction, type Subscription } from 'rxjs';
import type { Batch } from '../data/batches.js';
import { describeValue, StriateError } from '../graph/error.js';

/** What a transformed batch must look like: the training graph's batch, image size and classes. */
export interface BatchShape {
  readonly batchSize: number;
  readonly sampleSize: number;
  readonly classes: number;
}

/** Runs batches through a transform operator, one at a time; see the file comment. */
export class BatchTransformer {
  /** For each run in flight (train() keeps one ahead of the step): unsubscribes it and resolves it to null. */
  private readonly inFlight = new Set<() => void>();
  private stopped = false;

  constructor(
    private readonly transform: MonoTypeOperatorFunction<Batch>,
    private readonly shape: BatchShape,
  ) {}

  /**
   * The transformed batch, checked against `shape`; null once `stop()` was
   * called. `where` names the batch in errors ("epoch 1, step 3").
   */
  run(batch: Batch, where: string): Promise<Batch | null> {
    if (this.stopped) return Promise.resolve(null);
    return new Promise<Batch | null>((resolve, reject) => {
      const outputs: unknown[] = [];
      let subscription: Subscription | undefined;
      let settled = false;
      let cancel: (() => void) | null = null;
      const settle = (finish: () => void): void => {
        if (settled) return;
        settled = true;
        if (cancel !== null) this.inFlight.delete(cancel);
        finish();
      };
      const fail = (err: unknown): void =>
        settle(() =>
          reject(
            new StriateError(
              'train',
              `the transform failed on the batch of ${where}: ${messageOf(err)}`,
              { got: `a transform that failed: ${messageOf(err)}`, expected: 'a transform that emits one batch per batch' },
              { cause: err },
            ),
          ),
        );
      const miscount = (got: string): void =>
        settle(() =>
          reject(
            new StriateError('train', `the transform emitted ${got} for the batch of ${where}; it must emit exactly one batch for each batch, then complete`, {
              got: `${got} for one batch`,
              expected: 'exactly one batch for each batch',
            }),
          ),
        );
      const next = (b: unknown): void => {
        outputs.push(b);
        if (outputs.length > 1) {
          subscription?.unsubscribe();
          miscount('more than one batch');
        }
      };
      const complete = (): void => {
        if (outputs.length === 0) {
          miscount('no batch');
          return;
        }
        try {
          const checked = checkBatch(outputs[0], this.shape, where);
          settle(() => resolve(checked));
        } catch (err) {
          settle(() => reject(err));
        }
      };

      let output: unknown;
      try {
        output = of(batch).pipe(this.transform);
      } catch (err) {
        fail(err);
        return;
      }
      if (!isObservable(output)) {
        settle(() =>
          reject(
            new StriateError('train', `the transform must return an Observable of batches (an RxJS operator such as map(...)), got ${describeValue(output)}`, {
              got: describeValue(output),
              expected: 'an Observable of batches',
            }),
          ),
        );
        return;
      }
      // A synchronous operator settles inside subscribe(), before `subscription` is set.
      cancel = () => {
        subscription?.unsubscribe();
        settle(() => resolve(null));
      };
      this.inFlight.add(cancel);
      subscription = output.subscribe({ next, error: fail, complete });
      if (settled) subscription.unsubscribe();
    });
  }

  /** Tear down the operator chain in flight (its run resolves to null) and refuse further batches. */
  stop(): void {
    this.stopped = true;
    for (const cancel of [...this.inFlight]) cancel();
  }
}

/** `out` as a `Batch` of `shape`, or an error naming what the transform emitted instead. */
function checkBatch(out: unknown, shape: BatchShape, where: string): Batch {
  const { batchSize, sampleSize, classes } = shape;
  const refuse = (what: string, expected: string): never => {
    throw new StriateError('train', `the transform emitted ${what} for the batch of ${where}; ${expected}`, { got: what, expected });
  };
  if (out === null || typeof out !== 'object') refuse(describeValue(out), 'it must emit a Batch { images, labels, size, ... }');
  const { images, labels, size } = out as Partial<Batch>;
  if (!(images instanceof Float32Array)) return refuse(`images as ${describeValue(images)}`, 'they must be a Float32Array');
  if (images.length !== batchSize * sampleSize) {
    refuse(`${images.length} image values`, `a batch of ${batchSize} needs ${batchSize} × ${sampleSize} = ${batchSize * sampleSize}`);
  }
  if (!(labels instanceof Uint8Array)) return refuse(`labels as ${describeValue(labels)}`, 'they must be a Uint8Array');
  if (labels.length !== batchSize) refuse(`${labels.length} labels`, `a batch of ${batchSize} needs ${batchSize}`);
  if (size !== batchSize) refuse(`size ${JSON.stringify(size)}`, `it must be the batch size, ${batchSize}`);
  const bad = labels.findIndex((label) => label >= classes);
  if (bad >= 0) refuse(`label ${bad} = ${labels[bad]}`, `labels must be class indices in [0, ${classes - 1}]`);
  return out as Batch;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
