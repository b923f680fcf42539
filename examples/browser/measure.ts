/**
 * Which backend trains fastest in this browser, found by timing, as Striate's
 * `'auto'` does in Node (src/backend/auto.ts): what a backend's name says
 * (WebGPU) and what it does here (WebGPU on SwiftShader, a CPU, about 12×
 * slower than threaded wasm) can be far apart.
 *
 * Each candidate compiles the demo's real training step (LeNet-5's loss, logits
 * and every parameter's gradient, forward and backward, at the demo's batch
 * size), runs it once to warm up (kernel compilation included), then times a
 * few more steps. The optimizer update is left out: it is the same JavaScript
 * on every backend.
 *
 * Kept cheap, and the page usable meanwhile: the candidates go one after the
 * other, cheapest to compile first, so a good answer comes early; the loop
 * yields to the event loop after every step (a step on a backend that runs on
 * the main thread blocks it for that step, never longer); a candidate stops
 * timing after `targetMs` of timed steps, or after one step once it is
 * clearly slower than the best so far; and unsubscribing stops the
 * measurement before its next step.
 */
import { Observable } from 'rxjs';
import { buildModel, compile, grad, initParams, input, type Model, softmaxCrossEntropy } from 'striate';
import type { BrowserBackend } from './backends.js';

/** One backend's timing of the training step. */
export interface BackendRate {
  readonly backend: BrowserBackend;
  /** Training images per second: the batch size over the mean time of a timed step. */
  readonly imagesPerSecond: number;
  /** Mean milliseconds per timed step. */
  readonly msPerStep: number;
  /** The warm-up step, kernel compilation included. */
  readonly firstMs: number;
  /** How many steps were timed (the warm-up not counted). */
  readonly steps: number;
}

/** What the measurement found for one backend: its rate, or why it could not be timed. */
export type Measurement = { readonly backend: BrowserBackend; readonly rate: BackendRate } | { readonly backend: BrowserBackend; readonly failed: string };

export interface MeasureOptions {
  /** The batch size training uses (the step is timed at that size). */
  readonly batchSize: number;
  /** Stop timing a backend after this many milliseconds of timed steps (default 200). */
  readonly targetMs?: number;
  /** Time at most this many steps per backend (default 5). */
  readonly maxSteps?: number;
  /** After one timed step, a backend this many times slower than the best so far is not timed further (default 2). */
  readonly hopelessRatio?: number;
}

/** Let the page handle input and paint between two steps. */
const yieldToPage = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/** The fastest of the measured backends, or null when none was timed. */
export function fastest(measurements: Iterable<Measurement>): BackendRate | null {
  let best: BackendRate | null = null;
  for (const m of measurements) if ('rate' in m && (best === null || m.rate.msPerStep < best.msPerStep)) best = m.rate;
  return best;
}

/**
 * Time `model`'s training step on each of `backends`, in the order given.
 * Emits one measurement per backend as soon as it is done, then completes;
 * unsubscribing stops before the next step and frees what was compiled.
 */
export function measureBackends(model: Model, backends: readonly BrowserBackend[], options: MeasureOptions): Observable<Measurement> {
  const { batchSize, targetMs = 200, maxSteps = 5, hopelessRatio = 2 } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`measureBackends: batchSize must be a positive integer, got ${batchSize}`);
  if (!(targetMs > 0) || !Number.isInteger(maxSteps) || maxSteps < 1 || !(hopelessRatio > 1)) {
    throw new Error(
      `measureBackends: expected targetMs > 0, an integer maxSteps >= 1 and hopelessRatio > 1, got ${targetMs}, ${maxSteps} and ${hopelessRatio}`,
    );
  }
  return new Observable<Measurement>((subscriber) => {
    let stopped = false;

    const built = buildModel(model, { batchSize, training: true });
    const labels = input('labels', [batchSize]);
    const loss = softmaxCrossEntropy(built.output, labels);
    const outputs = [loss, built.output, ...grad(loss, built.paramTensors)];
    const params = initParams(model, 1);
    const feeds: Record<string, Float32Array> = {
      [built.input.attrs.name]: Float32Array.from({ length: batchSize * built.input.shape.slice(1).reduce((a, b) => a * b, 1) }, (_, i) => ((i * 37) % 101) / 101),
      labels: Float32Array.from({ length: batchSize }, (_, i) => i % 10),
    };
    for (const p of built.params) feeds[p.name] = params[p.name].data;
    for (const m of built.masks) feeds[m.name] = new Float32Array(m.shape.reduce((a, b) => a * b, 1)).fill(1);

    /** Time one backend; null when stopped in the middle. */
    const time = async (backend: BrowserBackend, best: BackendRate | null): Promise<BackendRate | null> => {
      const f = compile(outputs, { backend });
      try {
        let started = performance.now();
        await f.run(feeds);
        const firstMs = performance.now() - started;
        let timed = 0;
        let steps = 0;
        do {
          await yieldToPage();
          if (stopped) return null;
          started = performance.now();
          await f.run(feeds);
          timed += performance.now() - started;
          steps++;
        } while (timed < targetMs && steps < maxSteps && !(best && timed / steps > hopelessRatio * best.msPerStep));
        const msPerStep = timed / steps;
        return { backend, imagesPerSecond: (1000 * batchSize) / msPerStep, msPerStep, firstMs, steps };
      } finally {
        await f.dispose();
      }
    };

    void (async () => {
      const found: Measurement[] = [];
      for (const backend of backends) {
        await yieldToPage();
        if (stopped) return;
        let m: Measurement;
        try {
          const rate = await time(backend, fastest(found));
          if (rate === null) return;
          m = { backend, rate };
        } catch (e) {
          m = { backend, failed: (e as Error).message ?? String(e) };
        }
        if (stopped) return;
        found.push(m);
        subscriber.next(m);
      }
      subscriber.complete();
    })();

    // A step in flight finishes; the loop sees the flag after it and disposes what it compiled.
    return () => {
      stopped = true;
    };
  });
}
