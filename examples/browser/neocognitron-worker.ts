/// <reference lib="webworker" />
/**
 * The demo's Neocognitron worker: trains Fukushima's network without
 * backpropagation (`trainNeocognitron`, the setup of `npm start -- --model
 * neocognitron`, on the demo's 10,000 training images) on the `webasm`
 * backend, sends its progress and each stage's learned planes
 * (`planePictures`), measures it on the test images, and then classifies
 * drawn digits (`classifyNeocognitron`) and says which S-plane wins where
 * (`neocognitronResponses`). A new `train` request stops the one running
 * (unsubscribing stops `trainNeocognitron` before its next batch).
 */
import { classifyNeocognitron, neocognitron, neocognitronResponses, type NeocognitronState, planePictures, trainNeocognitron } from 'striate';
import type { Subscription } from 'rxjs';
import { NEOCOGNITRON_SETUP, setupTraining } from '../lib/neocognitron-setup.js';
import type { NeoReply, NeoRequest } from './neocognitron-protocol.js';

declare const self: DedicatedWorkerGlobalScope;

const BACKEND = 'webasm';
/** At most one progress message every this many ms. */
const PROGRESS_MS = 200;

const model = neocognitron({ inputShape: [1, 28, 28], stages: NEOCOGNITRON_SETUP.stages });
let state: NeocognitronState | null = null;
let running: Subscription | null = null;

const reply = (r: NeoReply, transfer: Transferable[] = []): void => self.postMessage(r, transfer);

function train(req: Extract<NeoRequest, { type: 'train' }>): void {
  running?.unsubscribe();
  state = null;
  const training = setupTraining(req.train.count);
  const { stageLimit, batchSize: batch, epochs } = training;
  let last = -Infinity;
  running = trainNeocognitron({
    model,
    data: { train: req.train, test: req.test },
    backend: BACKEND,
    seed: req.seed,
    ...training,
  }).subscribe({
    next: (e) => {
      if (e.type === 'step') {
        const now = performance.now();
        if (now - last < PROGRESS_MS) return;
        last = now;
        reply({ type: 'progress', stage: e.stage, seen: Math.min(e.step * batch, stageLimit), of: stageLimit * epochs, planes: e.planes });
      } else if (e.type === 'stage') {
        const p = planePictures(e.state)[e.stage];
        const data = Float32Array.from(p.data);
        reply({ type: 'stage', stage: e.stage, planes: { side: p.side, planes: p.planes, data } }, [data.buffer]);
      } else if (e.type === 'classifier') {
        reply({ type: 'classifier', pass: e.pass, references: e.references });
      } else {
        state = e.state;
        reply({ type: 'done', testAccuracy: e.testAccuracy ?? NaN, seconds: e.seconds, tested: req.test.count });
      }
    },
    error: (err: unknown) => reply({ type: 'error', message: `training: ${(err as Error).message ?? String(err)}` }),
  });
}

async function look(id: number, image: Float32Array): Promise<void> {
  if (!state) return;
  const [label] = await classifyNeocognitron(state, image, { backend: BACKEND });
  const r = await neocognitronResponses(state, image, { backend: BACKEND });
  const { s, shape } = r.stages[0];
  const [K, h, w] = shape;
  const strongest = new Int16Array(h * w).fill(-1);
  for (let i = 0; i < h * w; i++) {
    let best = 0;
    for (let k = 0; k < K; k++) {
      if (s[k * h * w + i] > best) {
        best = s[k * h * w + i];
        strongest[i] = k;
      }
    }
  }
  reply({ type: 'look', id, label, h, w, strongest, planes: K }, [strongest.buffer]);
}

let queue = Promise.resolve();
self.onmessage = (e: MessageEvent<NeoRequest>) => {
  const req = e.data;
  if (req.type === 'train') train(req);
  else
    queue = queue.then(() =>
      look(req.id, req.image).catch((err: unknown) => reply({ type: 'error', message: `look: ${(err as Error).message ?? String(err)}` })),
    );
};
