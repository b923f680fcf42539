/**
 * Augmentation off the main thread: `augment({ ..., workers: n })` hands each
 * batch to one of n worker threads (augment-worker.ts), so the host work of
 * a warp — Simard's elastic field above all, about half a LeNet-5 step on
 * two cores — runs beside the training step instead of before it. `train()`
 * asks for the next batch's transform before it runs the current step
 * (train.ts), which is what lets the two overlap.
 *
 * The workers run the very `augmentImages` of the main thread on the same
 * (images, transforms, seed), so the batches are the same, bit for bit, with
 * or without workers. They start when the first batch comes, and end after
 * `IDLE_MS` with nothing to do (and never keep Node from exiting), so an
 * operator needs no closing; a stopped training run leaves at most the batch
 * in flight to finish.
 *
 * Node only for now (worker_threads). In a browser, `workers` is refused with
 * a StriateError saying so rather than quietly run on the main thread.
 */
import type { Worker as NodeWorker } from 'node:worker_threads';
import { errorFromFields, fail, StriateError } from '../graph/error.js';
import type { Shape } from '../graph/tensor.js';
import type { AugmentTransforms } from './augment.js';
import type { AugmentReply, AugmentRequest } from './augment-worker.js';
import { startWorker, workerThreads, type WorkerThreads } from '../graph/threads.js';

/** A worker with nothing to do ends after this many milliseconds. */
export const IDLE_MS = 10_000;

/**
 * Why `augment({ workers })` cannot run here, or null when it can: worker
 * threads need Node (20.16 or later, for `process.getBuiltinModule`).
 */
export function augmentWorkersUnavailable(): string | null {
  return workerThreads() === null ? 'augmentation workers need Node 20.16 or later (worker_threads); in a browser, leave workers out' : null;
}

interface Pending {
  readonly request: AugmentRequest;
  readonly resolve: (images: Float32Array) => void;
  readonly reject: (e: unknown) => void;
}

interface Slot {
  readonly worker: NodeWorker;
  job: Pending | null;
}

/** A pool of augmentation workers; see the file comment. */
export class AugmentWorkers {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 0;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly size: number,
    private readonly imageShape: Shape,
    private readonly transforms: AugmentTransforms,
  ) {}

  /** Workers running now (0 before the first batch and after IDLE_MS idle). */
  get running(): number {
    return this.slots.length;
  }

  /**
   * `augmentImages(images, imageShape, transforms, seed)` on a worker. The
   * images are copied to it (the caller's array is left as it was).
   */
  run(images: Float32Array, seed: number): Promise<Float32Array> {
    const wt = workerThreads();
    if (wt === null) fail('augment', 'workers are not available here', 'workers on a platform without worker threads', augmentWorkersUnavailable()!);
    if (this.idleTimer !== null) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    return new Promise<Float32Array>((resolve, reject) => {
      const request: AugmentRequest = { id: this.nextId++, images: images.slice(), imageShape: [...this.imageShape], transforms: this.transforms, seed };
      this.queue.push({ request, resolve, reject });
      this.dispatch(wt);
    });
  }

  /** Ends every worker now; batches in flight or queued are refused. */
  async close(): Promise<void> {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const closed = new StriateError('augment', 'the augmentation workers were closed before this batch was done', {
      got: 'a batch in flight when the workers closed',
      expected: 'close() after the last batch',
    });
    for (const p of this.queue.splice(0)) p.reject(closed);
    const slots = this.slots.splice(0);
    for (const s of slots) s.job?.reject(closed);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private dispatch(wt: WorkerThreads): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => s.job === null);
      if (!slot && this.slots.length < this.size) slot = this.spawn(wt);
      if (!slot) return;
      const job = this.queue.shift()!;
      slot.job = job;
      slot.worker.postMessage(job.request, [job.request.images.buffer as ArrayBuffer]);
    }
    this.armIdle();
  }

  private spawn(wt: WorkerThreads): Slot {
    const worker = startWorker(wt, import.meta.url, 'augment-worker');
    worker.unref();
    const slot: Slot = { worker, job: null };
    worker.on('message', (reply: AugmentReply) => {
      const job = slot.job;
      slot.job = null;
      if (job === null || job.request.id !== reply.id) return; // a reply after close()
      if ('images' in reply) job.resolve(reply.images);
      else job.reject(errorFromFields(reply.error, (message) => new Error(`augment: a worker failed on a batch: ${message}`)));
      this.dispatch(wt);
    });
    worker.on('error', (e) => this.lose(slot, new Error(`augment: a worker thread failed: ${(e as Error)?.message ?? String(e)}`, { cause: e })));
    worker.on('exit', (code) => {
      if (this.slots.includes(slot)) this.lose(slot, new Error(`augment: a worker thread exited (code ${code}) with a batch in flight`));
    });
    this.slots.push(slot);
    return slot;
  }

  /** A worker that died: its batch fails, and a new one takes the queue. */
  private lose(slot: Slot, error: Error): void {
    const i = this.slots.indexOf(slot);
    if (i !== -1) this.slots.splice(i, 1);
    const job = slot.job;
    slot.job = null;
    job?.reject(error);
    const wt = workerThreads();
    if (wt !== null && this.queue.length > 0) this.dispatch(wt);
  }

  /** With nothing queued or in flight, end the workers after IDLE_MS. */
  private armIdle(): void {
    if (this.queue.length > 0 || this.slots.some((s) => s.job !== null) || this.slots.length === 0) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.queue.length > 0 || this.slots.some((s) => s.job !== null)) return;
      const slots = this.slots.splice(0);
      for (const s of slots) void s.worker.terminate();
    }, IDLE_MS);
    (this.idleTimer as { unref?: () => void }).unref?.();
  }
}
