/**
 * The Neocognitron panel: Fukushima's network trained in the page without
 * backpropagation (neocognitron-worker.ts, the setup `npm start -- --model
 * neocognitron` trains), its learned S-planes drawn when its stage has
 * learned, its test accuracy, and for the drawn digit the class it gives and
 * which S-plane wins in each column. Training starts on request (about a
 * minute on two cores) in its own worker, beside LeNet-5's.
 */
import type { Dataset } from 'striate';
import type { NeoReply, NeoRequest } from './neocognitron-protocol.js';
import { drawTiles, grey, type Rgb } from './tiles.js';

export type NeoPhase = 'idle' | 'training' | 'done' | 'error';

/** What the panel shows, for the page's test hooks. */
export interface NeoSnapshot {
  readonly phase: NeoPhase;
  readonly seen: number;
  readonly of: number;
  readonly planes: number;
  readonly testAccuracy: number | null;
  readonly seconds: number | null;
  /** The classifier's passes so far and its reference vectors. */
  readonly classifier: { readonly pass: number; readonly references: number } | null;
  readonly look: { readonly label: number; readonly active: number; readonly columns: number; readonly planesUsed: number } | null;
  readonly error: string | null;
}

export interface NeoElements {
  readonly button: HTMLButtonElement;
  readonly status: HTMLElement;
  readonly planes: HTMLCanvasElement;
  readonly winners: HTMLCanvasElement;
  readonly label: HTMLElement;
}

/** Plane k of K as a colour: hues around the wheel, alternately dark and light (white stays for silence). */
function planeColour(k: number, K: number): Rgb {
  const h = (k / Math.max(1, K)) * 6;
  const l = k % 2 === 0 ? 0.45 : 0.65;
  const c = (1 - Math.abs(2 * l - 1)) * 0.75;
  const x = c * (1 - Math.abs((h % 2) - 1));
  const [r, g, b] = h < 1 ? [c, x, 0] : h < 2 ? [x, c, 0] : h < 3 ? [0, c, x] : h < 4 ? [0, x, c] : h < 5 ? [x, 0, c] : [c, 0, x];
  const m = l - c / 2;
  return [Math.round(255 * (r + m)), Math.round(255 * (g + m)), Math.round(255 * (b + m))];
}

export class NeocognitronPanel {
  private worker: Worker | null = null;
  private state: NeoSnapshot = { phase: 'idle', seen: 0, of: 0, planes: 0, testAccuracy: null, seconds: null, classifier: null, look: null, error: null };
  private image: Float32Array;
  private nextId = 1;
  private seed = 0;

  constructor(
    private readonly el: NeoElements,
    private readonly data: { readonly train: Dataset; readonly test: Dataset },
    image: Float32Array,
  ) {
    this.image = image;
    el.button.addEventListener('click', () => this.train());
    this.render();
  }

  snapshot(): NeoSnapshot {
    return this.state;
  }

  /** Train from scratch (a new seed each time). */
  train(): void {
    if (!this.worker) {
      this.worker = new Worker(new URL('./neocognitron-worker.ts', import.meta.url), { type: 'module', name: 'striate-neocognitron' });
      this.worker.onmessage = (e: MessageEvent<NeoReply>) => this.onReply(e.data);
      this.worker.onerror = (e: ErrorEvent) => this.set({ phase: 'error', error: `the Neocognitron worker failed: ${e.message}` });
    }
    const { train, test } = this.data;
    this.set({ phase: 'training', seen: 0, of: 0, planes: 0, testAccuracy: null, seconds: null, classifier: null, look: null, error: null });
    this.post({ type: 'train', seed: this.seed++, train: { images: train.images, labels: train.labels, count: train.count }, test: { images: test.images, labels: test.labels, count: test.count } });
  }

  /** The digit to look at (the drawn one, else a test digit); looked at once the network is trained. */
  look(image: Float32Array): void {
    this.image = image;
    if (this.state.phase === 'done') this.post({ type: 'look', id: this.nextId++, image });
  }

  private post(req: NeoRequest): void {
    this.worker!.postMessage(req);
  }

  private set(change: Partial<NeoSnapshot>): void {
    this.state = { ...this.state, ...change };
    this.render();
  }

  private onReply(r: NeoReply): void {
    if (r.type === 'progress') this.set({ seen: r.seen, of: r.of, planes: r.planes });
    else if (r.type === 'stage') {
      this.set({ planes: r.planes.planes, seen: this.state.of });
      const { side, planes, data } = r.planes;
      const tiles = Array.from({ length: planes }, (_, k) => {
        const pic = data.subarray(k * side * side, (k + 1) * side * side);
        let top = 1e-12;
        for (const v of pic) top = Math.max(top, v);
        return { width: side, height: side, data: pic, colour: (v: number) => grey(v / top), frame: `rgb(${planeColour(k, planes).join(',')})` };
      });
      drawTiles(this.el.planes, tiles, { columns: 8, cell: 6, gap: 6 });
    } else if (r.type === 'classifier') {
      this.set({ classifier: { pass: r.pass, references: r.references } });
    } else if (r.type === 'done') {
      this.set({ phase: 'done', testAccuracy: r.testAccuracy, seconds: r.seconds });
      this.look(this.image);
    } else if (r.type === 'look') {
      const { h, w, strongest, planes } = r;
      const used = new Set<number>();
      let active = 0;
      for (const k of strongest) {
        if (k >= 0) {
          active++;
          used.add(k);
        }
      }
      drawTiles(
        this.el.winners,
        [
          { width: 28, height: 28, data: this.image, colour: grey, caption: 'digit' },
          { width: w, height: h, data: strongest, colour: (k: number) => (k < 0 ? [255, 255, 255] : planeColour(k, planes)), caption: `S1: ${used.size} planes win` },
        ],
        { columns: 2, cell: 4, gap: 10 },
      );
      this.set({ look: { label: r.label, active, columns: h * w, planesUsed: used.size } });
    } else {
      this.set({ phase: 'error', error: r.message });
    }
  }

  private render(): void {
    const s = this.state;
    const { button, status, label } = this.el;
    button.disabled = s.phase === 'training';
    button.textContent = s.phase === 'idle' ? 'Train it' : 'Train again';
    status.textContent = {
      idle: 'Trains in a worker on the 10,000 training digits, stage by stage, then builds its interpolating-vector classifier in two passes (a minute or two on two cores).',
      training:
        s.seen < s.of || s.of === 0
          ? `Stage 1 learning: ${s.seen.toLocaleString('en-US')} of ${s.of.toLocaleString('en-US')} images, ${s.planes} planes so far (add-if-silent)…`
          : s.classifier === null
            ? `Stage 1 learned ${s.planes} planes; building the classifier…`
            : `Stage 1 learned ${s.planes} planes; the classifier holds ${s.classifier.references.toLocaleString('en-US')} reference vectors after pass ${s.classifier.pass}…`,
      done: `Test accuracy ${((s.testAccuracy ?? NaN) * 100).toFixed(2)}% on the ${this.data.test.count.toLocaleString('en-US')} test digits, no backpropagation anywhere (${(s.seconds ?? 0).toFixed(0)} s in a worker).`,
      error: `Stopped: ${s.error}`,
    }[s.phase];
    label.textContent = s.look ? `The Neocognitron reads this as ${s.look.label}; ${s.look.active} of ${s.look.columns} columns have an active S-cell.` : '';
  }
}
