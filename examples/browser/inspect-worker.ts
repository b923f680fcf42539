/// <reference lib="webworker" />
/**
 * A look-inside worker of the demo. The page runs two (inspect.ts): one for
 * the live panels (`look`), one for the work that takes longer
 * (`neighbours`, `maximise`), so that an index rebuild or a maximisation
 * never holds up the feature maps. Neither competes with training for the
 * page's main thread.
 *
 * - **look**: the feature maps of the digit after conv1 and conv2 (their
 *   ReLUs) and its vanilla-gradient saliency for the predicted class, with
 *   the parameters that come with the request (`outputs` and
 *   `vanillaGradient` take per-call `params`, so nothing is compiled again).
 * - **neighbours**: its nearest training images in the last hidden layer's
 *   feature space (`featureLayer`: relu4, the 84 outputs of fc2). The index
 *   over the demo's training images is rebuilt with the request's parameters
 *   when they are newer than the index's and the last build is older than
 *   `REINDEX_MS`; the query uses the index's own parameters, so query and
 *   index share one feature space.
 * - **maximise**: `maximise` of the unit asked for, with the library's
 *   defaults (Fourier parameterisation, Lucid's standard transforms).
 *
 * Everything runs on the `webasm` backend (compiled WebAssembly kernels, one
 * thread). A failure comes back as an `error` reply naming the request.
 */
import { createExplainer, createNeighbourIndex, createPredictor, type Explainer, featureLayer, maximise, type NeighbourIndex, type Params, type Predictor } from 'striate';
import { type InspectReply, type InspectRequest, MAP_LAYERS, type Maps } from './inspect-protocol.js';
import { demoModel } from './model.js';

declare const self: DedicatedWorkerGlobalScope;

const BACKEND = 'webasm';
/** Nearest training images per query. */
const K = 8;
/** The neighbour index is rebuilt at most this often (ms), and only when the parameters changed. */
const REINDEX_MS = 15_000;

let images: Float32Array | null = null;
let predictor: Predictor | null = null;
let explainer: Explainer | null = null;
let index: { readonly index: NeighbourIndex; readonly step: number; readonly ms: number; readonly at: number } | null = null;

const reply = (r: InspectReply, transfer: Transferable[] = []): void => self.postMessage(r, transfer);

async function look(id: number, image: Float32Array, params: Params, step: number): Promise<void> {
  const started = performance.now();
  predictor ??= createPredictor(demoModel, params, { backend: BACKEND, batchSize: 1 });
  explainer ??= createExplainer(demoModel, params, { backend: BACKEND, batchSize: 1 });
  const out = await predictor.outputs(image, MAP_LAYERS, { params });
  const maps: Maps[] = MAP_LAYERS.map((layer) => {
    const { shape, data } = out[layer];
    return { layer, shape: [shape[1], shape[2], shape[3]], data };
  });
  const saliency = await explainer.vanillaGradient(image, { params });
  const ms = performance.now() - started;
  reply({ type: 'look', id, step, maps, saliency: { target: saliency.target, data: saliency.data }, ms }, [...maps.map((m) => m.data.buffer), saliency.data.buffer]);
}

async function neighbours(id: number, image: Float32Array, params: Params, step: number): Promise<void> {
  const started = performance.now();
  if (!images) throw new Error('no training images to search (the page sends them first)');
  if (!index || (index.step !== step && performance.now() - index.at > REINDEX_MS)) {
    const built = await createNeighbourIndex(demoModel, params, images, { backend: BACKEND, layer: featureLayer(demoModel), queryBatchSize: 1 });
    const old = index;
    index = { index: built, step, ms: performance.now() - started, at: performance.now() };
    await old?.index.dispose();
  }
  const near = await index.index.query(image, { k: K });
  reply({ type: 'neighbours', id, indices: near.indices, distances: near.distances, indexStep: index.step, indexMs: index.ms, ms: performance.now() - started }, [
    near.indices.buffer,
    near.distances.buffer,
  ]);
}

async function handle(req: InspectRequest): Promise<void> {
  if (req.type === 'init') {
    images = req.images;
    return;
  }
  try {
    if (req.type === 'look') await look(req.id, req.image, req.params, req.step);
    else if (req.type === 'neighbours') await neighbours(req.id, req.image, req.params, req.step);
    else {
      const started = performance.now();
      const r = await maximise(demoModel, req.params, req.unit, { steps: req.steps, backend: BACKEND });
      reply({ type: 'maximise', id: req.id, step: req.step, label: r.label, data: r.data, value: r.value, ms: performance.now() - started }, [r.data.buffer]);
    }
  } catch (e) {
    reply({ type: 'error', id: req.id, message: `${req.type}: ${(e as Error).message ?? String(e)}` });
  }
}

// One request at a time, in order.
let queue = Promise.resolve();
self.onmessage = (e: MessageEvent<InspectRequest>) => {
  queue = queue.then(() => handle(e.data));
};
