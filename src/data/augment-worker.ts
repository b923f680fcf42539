/**
 * The body of one augmentation worker thread (`augment({ workers })`, see
 * augment-workers.ts): each message is a batch's images with the
 * transformations and the batch's seed; the answer is `augmentImages` of
 * them, computed by the same code as in the main thread (so the result is
 * bit for bit the same), its buffer transferred back. A mistake comes back as
 * the StriateError's fields, for the main thread to throw again.
 */
import { parentPort } from 'node:worker_threads';
import { type ErrorFields, errorFields } from '../graph/error.js';
import { augmentImagesFor, type AugmentTransforms } from './augment.js';

/** What the main thread sends: one batch to augment. */
export interface AugmentRequest {
  readonly id: number;
  readonly images: Float32Array;
  readonly imageShape: readonly number[];
  readonly transforms: AugmentTransforms;
  readonly seed: number;
}

/** What the worker answers: the augmented images, or the error that refused them. */
export type AugmentReply =
  | { readonly id: number; readonly images: Float32Array }
  | { readonly id: number; readonly error: ErrorFields };

if (parentPort === null) throw new Error('augment-worker: this module is the body of a worker thread; it is started by augment({ workers })');
const port = parentPort;
port.on('message', (job: AugmentRequest) => {
  let reply: AugmentReply;
  try {
    const images = augmentImagesFor('augment', job.images, job.imageShape, job.transforms, job.seed);
    reply = { id: job.id, images };
    port.postMessage(reply, [images.buffer as ArrayBuffer]);
    return;
  } catch (e) {
    reply = { id: job.id, error: errorFields(e) };
  }
  port.postMessage(reply);
});
