/**
 * The look-inside panels: what the network does with the digit on the pad
 * (else the first test digit), redrawn as it learns.
 *
 * - **Feature maps** after conv1 and conv2 (their ReLUs), one tile per
 *   channel, each layer on its own grey scale (black 0, white the layer's
 *   largest activation).
 * - **Saliency**: |∂ logit / ∂ pixel| of the predicted class (the vanilla
 *   gradient), black to yellow, beside the digit.
 * - **Nearest training images** in the feature space of the last hidden
 *   layer (relu4, 84 values), with their labels and distances; the index over
 *   the demo's training images is rebuilt every few seconds as the weights
 *   change.
 * - **Activation maximisation** of a chosen unit (a class logit or a conv
 *   channel), on request: the input the current network responds to most.
 *
 * The work runs in two Web Workers (inspect-worker.ts): one for the maps and
 * saliency, one for the neighbours and maximisation, so the page's main
 * thread, which trains, only copies parameters out and draws. Requests are
 * paced: one goes out when its worker has answered the last one and a
 * minimum interval has passed, with the newest image and parameters, so a
 * fast training run never queues stale work.
 */
import { Subject } from 'rxjs';
import type { Params } from 'striate';
import type { InspectReply, InspectRequest, LookReply, MaximiseReply, MaximiseUnit, NeighboursReply } from './inspect-protocol.js';
import { absMax, drawTiles, grey, heat, type Tile } from './tiles.js';

/** At most one look every this many ms (≈ 15 a second): live, and a small share of two cores. */
const LOOK_INTERVAL_MS = 66;
/** At most one neighbour query every this many ms. */
const NEIGHBOURS_INTERVAL_MS = 250;
const SIDE = 28;

/** What a look or a neighbour query is about: an image under the parameters after `step`. */
interface Looked {
  readonly image: Float32Array;
  readonly params: Params;
  readonly step: number;
}

/**
 * One request stream to a worker, paced: at most one request in flight, at
 * least `interval` ms apart; a newer offer replaces one that waits.
 */
class Paced {
  private inFlight = false;
  private pending: Looked | null = null;
  private lastSent = -Infinity;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Reply times of the last two seconds. */
  private readonly replies: number[] = [];
  /** Replies so far. */
  count = 0;

  constructor(
    private readonly interval: number,
    private readonly send: (s: Looked) => void,
  ) {}

  offer(s: Looked): void {
    this.pending = s;
    this.pump();
  }

  /** The worker answered (or failed) the request in flight. */
  answered(ok: boolean): void {
    this.inFlight = false;
    if (ok) {
      this.count++;
      this.replies.push(performance.now());
    }
    this.pump();
  }

  /** Replies a second, over the last two seconds. */
  rate(): number {
    const now = performance.now();
    while (this.replies.length && now - this.replies[0] > 2000) this.replies.shift();
    return this.replies.length / 2;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending = null;
  }

  private pump(): void {
    if (this.inFlight || !this.pending || this.timer) return;
    const wait = this.lastSent + this.interval - performance.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump();
      }, wait);
      return;
    }
    const s = this.pending;
    this.pending = null;
    this.inFlight = true;
    this.lastSent = performance.now();
    this.send(s);
  }
}

/**
 * The parameters with each value in a buffer of its own. A training step's
 * parameters can be views into one large buffer (a backend's arena), and
 * `postMessage` copies a view's whole buffer, not just the view: sending
 * those as they are would copy megabytes a parameter.
 */
function compactParams(params: Params): Params {
  const out: Record<string, Params[string]> = {};
  for (const [name, v] of Object.entries(params)) out[name] = v.data.byteLength === v.data.buffer.byteLength ? v : { shape: v.shape, data: v.data.slice() };
  return out;
}

const compact = (s: Looked): Looked => ({ ...s, params: compactParams(s.params) });

export class LookInside {
  /** Every look's maps and saliency. */
  readonly looks$ = new Subject<LookReply>();
  /** Every neighbour query's answer. */
  readonly neighbours$ = new Subject<NeighboursReply>();
  /** Failures of either worker, as messages. */
  readonly errors$ = new Subject<string>();

  private readonly live: Worker;
  private readonly slow: Worker;
  private nextId = 1;
  private readonly looks: Paced;
  private readonly queries: Paced;
  private readonly maximising = new Map<number, { resolve: (r: MaximiseReply) => void; reject: (e: Error) => void }>();

  /** `trainImages`: the training images (count × 784) the neighbours come from. */
  constructor(trainImages: Float32Array) {
    const start = (): Worker => {
      const w = new Worker(new URL('./inspect-worker.ts', import.meta.url), { type: 'module', name: 'striate-inspect' });
      w.onmessage = (e: MessageEvent<InspectReply>) => this.onReply(e.data);
      w.onerror = (e: ErrorEvent) => this.errors$.next(`a look-inside worker failed: ${e.message}`);
      return w;
    };
    this.live = start();
    this.slow = start();
    this.post(this.slow, { type: 'init', images: trainImages.slice() });
    this.looks = new Paced(LOOK_INTERVAL_MS, (s) => this.post(this.live, { type: 'look', id: this.nextId++, ...compact(s) }));
    this.queries = new Paced(NEIGHBOURS_INTERVAL_MS, (s) => this.post(this.slow, { type: 'neighbours', id: this.nextId++, ...compact(s) }));
  }

  /** Look at `image` under `params` (after step `step`): maps, saliency and neighbours, as soon as the workers are free. */
  look(image: Float32Array, params: Params, step: number): void {
    this.looks.offer({ image, params, step });
    this.queries.offer({ image, params, step });
  }

  /** Looks (maps and saliency) answered so far. */
  get updates(): number {
    return this.looks.count;
  }

  /** Looks answered a second, and neighbour queries, over the last two seconds. */
  rates(): { looks: number; neighbours: number } {
    return { looks: this.looks.rate(), neighbours: this.queries.rate() };
  }

  /** The input that maximises `unit` under `params`, by `steps` steps of gradient ascent. */
  maximise(unit: MaximiseUnit, params: Params, step: number, steps: number): Promise<MaximiseReply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.maximising.set(id, { resolve, reject });
      this.post(this.slow, { type: 'maximise', id, unit, params: compactParams(params), step, steps });
    });
  }

  dispose(): void {
    this.looks.stop();
    this.queries.stop();
    this.live.terminate();
    this.slow.terminate();
  }

  private post(w: Worker, req: InspectRequest): void {
    w.postMessage(req);
  }

  private onReply(r: InspectReply): void {
    if (r.type === 'maximise' || (r.type === 'error' && this.maximising.has(r.id))) {
      const waiting = this.maximising.get(r.id);
      this.maximising.delete(r.id);
      if (r.type === 'maximise') waiting?.resolve(r);
      else waiting?.reject(new Error(r.message));
      return;
    }
    if (r.type === 'look') {
      this.looks.answered(true);
      this.looks$.next(r);
    } else if (r.type === 'neighbours') {
      this.queries.answered(true);
      this.neighbours$.next(r);
    } else {
      // An error reply: from whichever stream it belongs to; both stop asking until the next offer.
      this.errors$.next(r.message);
      if (r.message.startsWith('look')) this.looks.answered(false);
      else this.queries.answered(false);
    }
  }
}

/** The feature maps of each layer into the canvas `canvasFor(layer)`: one row of tiles, on the layer's own scale. */
export function drawMaps(canvasFor: (layer: string) => HTMLCanvasElement, result: LookReply): void {
  for (const m of result.maps) {
    const [C, h, w] = m.shape;
    const scale = absMax(m.data);
    const tiles: Tile[] = Array.from({ length: C }, (_, c) => ({ width: w, height: h, data: m.data.subarray(c * h * w, (c + 1) * h * w), colour: (v: number) => grey(v / scale) }));
    drawTiles(canvasFor(m.layer), tiles, { columns: C, cell: 3, gap: 4 });
  }
}

/** The digit, and |gradient| of the predicted class's logit by each pixel beside it. */
export function drawSaliency(canvas: HTMLCanvasElement, image: Float32Array, result: LookReply): void {
  const g = result.saliency.data;
  const scale = absMax(g);
  drawTiles(
    canvas,
    [
      { width: SIDE, height: SIDE, data: image, colour: grey, caption: 'digit' },
      { width: SIDE, height: SIDE, data: g, colour: (v) => heat(Math.abs(v) / scale), caption: `∂ logit ${result.saliency.target}` },
    ],
    { columns: 2, cell: 4, gap: 10 },
  );
}

/** The nearest training images with their labels and distances. */
export function drawNeighbours(canvas: HTMLCanvasElement, n: NeighboursReply, images: Float32Array, labels: ArrayLike<number>): void {
  const tiles: Tile[] = Array.from(n.indices, (i, j) => ({
    width: SIDE,
    height: SIDE,
    data: images.subarray(i * SIDE * SIDE, (i + 1) * SIDE * SIDE),
    colour: grey,
    caption: `${labels[i]} · ${n.distances[j].toFixed(1)}`,
  }));
  drawTiles(canvas, tiles, { columns: 4, cell: 2, gap: 8 });
}

/** A maximised input. */
export function drawMaximised(canvas: HTMLCanvasElement, r: MaximiseReply): void {
  drawTiles(canvas, [{ width: SIDE, height: SIDE, data: r.data, colour: grey }], { columns: 1, cell: 5, gap: 0 });
}
