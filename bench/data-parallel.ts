/**
 * A measurement, not part of Striate: how fast LeNet-5 inference (batch 256)
 * could run in Node if the batch were split across threads, each running a
 * one-thread fused webasm pipeline on its part, instead of gpu.js's worker
 * pool splitting every step of one pipeline. Prints both, measured in one run.
 *
 * tsx's loader does not reach worker threads here, so bundle first:
 *
 *   npx esbuild bench/data-parallel.ts --bundle --platform=node --format=cjs \
 *     --outfile=/tmp/data-parallel.cjs --external:gl --external:webgpu --log-level=warning \
 *     && node /tmp/data-parallel.cjs
 */
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { compile } from '../src/index.js';
import { lenetGraph } from './lenet-graph.js';

declare const __filename: string;

const BATCH = 256;
const HALF = BATCH / 2;
const SECONDS = 4;

function inferenceGraph(batch: number) {
  const g = lenetGraph(batch);
  const feeds: Record<string, Float32Array> = { ...g.feeds };
  delete feeds.labels;
  return { logits: g.logits, feeds };
}

async function rate(label: string, run: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 20; i++) await run();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < SECONDS * 1000) {
    await run();
    n++;
  }
  console.log(`${label}: ${Math.round((n * BATCH) / ((performance.now() - t0) / 1000))} img/s`);
}

if (!isMainThread) {
  // The worker: the second half of each batch on its own one-thread pipeline.
  const { logits, feeds } = inferenceGraph(HALF);
  const f = compile([logits], { backend: 'webasm' });
  parentPort!.on('message', async (x: Float32Array) => {
    feeds.x = x;
    const [y] = await f.run(feeds);
    parentPort!.postMessage(y.data, [y.data.buffer as ArrayBuffer]);
  });
} else {
  void (async () => {
    const whole = inferenceGraph(BATCH);
    const pool = compile([whole.logits], { backend: 'webasm-threads' });
    await rate("gpu.js's worker pool (webasm-threads), batch 256", () => pool.run(whole.feeds));
    await pool.dispose();

    const half = inferenceGraph(HALF);
    const local = compile([half.logits], { backend: 'webasm' });
    const worker = new Worker(__filename);
    const x = whole.feeds.x;
    const per = x.length / 2;
    await rate('data-parallel: this thread and one worker, 128 images each', () => {
      const theirs = new Promise((resolve) => {
        worker.once('message', resolve);
        worker.postMessage(x.slice(per));
      });
      half.feeds.x = x.subarray(0, per);
      return Promise.all([local.run(half.feeds), theirs]);
    });
    await worker.terminate();
    await local.dispose();
    process.exit(0);
  })();
}
