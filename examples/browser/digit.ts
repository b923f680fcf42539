/**
 * The drawing pad: pointer strokes as observables, and the drawing turned
 * into an MNIST-like input.
 *
 * strokes$ emits one Observable per stroke (pointer down … up), each
 * emitting the stroke's points; drawing$ emits the 28×28 input after every
 * change (throttled), or null when the pad is empty.
 */
import { animationFrameScheduler, auditTime, fromEvent, map, merge, mergeMap, type Observable, pairwise, share, startWith, Subject, takeUntil } from 'rxjs';

export interface Point {
  readonly x: number;
  readonly y: number;
}

export const INPUT_SIZE = 28;

export class DrawingPad {
  /** One inner observable of points per stroke. */
  readonly strokes$: Observable<Observable<Point>>;
  /** The network's input (28×28, [0, 1], NCHW order) after each change, or null when empty. */
  readonly drawing$: Observable<Float32Array | null>;
  private readonly cleared$ = new Subject<void>();
  private readonly ctx: CanvasRenderingContext2D;
  private empty = true;

  constructor(private readonly canvas: HTMLCanvasElement) {
    this.ctx = canvas.getContext('2d', { willReadFrequently: true })!;
    this.clear();
    const point = (e: PointerEvent): Point => {
      const r = canvas.getBoundingClientRect();
      return { x: ((e.clientX - r.left) / r.width) * canvas.width, y: ((e.clientY - r.top) / r.height) * canvas.height };
    };
    const down$ = fromEvent<PointerEvent>(canvas, 'pointerdown');
    const move$ = fromEvent<PointerEvent>(canvas, 'pointermove');
    const up$ = merge(fromEvent<PointerEvent>(window, 'pointerup'), fromEvent<PointerEvent>(canvas, 'pointercancel'));
    this.strokes$ = down$.pipe(
      map((start) => {
        start.preventDefault();
        canvas.setPointerCapture?.(start.pointerId);
        return move$.pipe(startWith(start), takeUntil(up$), map(point), share());
      }),
      share(),
    );
    const inked$ = this.strokes$.pipe(
      mergeMap((stroke) => stroke.pipe(startWith(null), pairwise())),
      map(([a, b]) => this.ink(a ?? b!, b!)),
    );
    this.drawing$ = merge(inked$, this.cleared$).pipe(
      auditTime(0, animationFrameScheduler),
      map(() => (this.empty ? null : toMnistInput(canvas))),
      share(),
    );
  }

  clear(): void {
    this.ctx.fillStyle = '#000';
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.empty = true;
    this.cleared$.next();
  }

  private ink(a: Point, b: Point): void {
    const c = this.ctx;
    c.strokeStyle = '#fff';
    c.fillStyle = '#fff';
    c.lineCap = 'round';
    c.lineJoin = 'round';
    c.lineWidth = this.canvas.width / 13;
    c.beginPath();
    c.moveTo(a.x, a.y);
    c.lineTo(b.x + (a === b ? 0.01 : 0), b.y);
    c.stroke();
    this.empty = false;
  }
}

/**
 * MNIST's own preparation (LeCun et al.): the digit's bounding box scaled to
 * fit 20×20 keeping its aspect ratio (anti-aliased), then placed in a 28×28
 * field so that its centre of mass is at the centre.
 */
export function toMnistInput(canvas: HTMLCanvasElement): Float32Array | null {
  const { width, height } = canvas;
  const src = canvas.getContext('2d', { willReadFrequently: true })!.getImageData(0, 0, width, height).data;
  let [x0, y0, x1, y1] = [width, height, -1, -1];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (src[(y * width + x) * 4] > 16) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return null;
  const bw = x1 - x0 + 1;
  const bh = y1 - y0 + 1;
  const scale = 20 / Math.max(bw, bh);
  const w = Math.max(1, Math.round(bw * scale));
  const h = Math.max(1, Math.round(bh * scale));
  // Downscale in halving steps: one big drawImage step would alias thin strokes away.
  let step: HTMLCanvasElement | OffscreenCanvas = canvas;
  let [sx, sy, sw, sh] = [x0, y0, bw, bh];
  while (sw / 2 > w && sh / 2 > h) {
    const half = new OffscreenCanvas(Math.ceil(sw / 2), Math.ceil(sh / 2));
    const hc = half.getContext('2d')!;
    hc.imageSmoothingQuality = 'high';
    hc.drawImage(step, sx, sy, sw, sh, 0, 0, half.width, half.height);
    [step, sx, sy, sw, sh] = [half, 0, 0, half.width, half.height];
  }
  const small = new OffscreenCanvas(w, h);
  const sc = small.getContext('2d', { willReadFrequently: true })!;
  sc.imageSmoothingQuality = 'high';
  sc.drawImage(step, sx, sy, sw, sh, 0, 0, w, h);
  const px = sc.getImageData(0, 0, w, h).data;
  let mass = 0;
  let mx = 0;
  let my = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = px[(y * w + x) * 4] / 255;
      mass += v;
      mx += v * x;
      my += v * y;
    }
  }
  const ox = Math.round(INPUT_SIZE / 2 - (mass > 0 ? mx / mass : w / 2) - 0.5);
  const oy = Math.round(INPUT_SIZE / 2 - (mass > 0 ? my / mass : h / 2) - 0.5);
  const out = new Float32Array(INPUT_SIZE * INPUT_SIZE);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const tx = x + ox;
      const ty = y + oy;
      if (tx >= 0 && tx < INPUT_SIZE && ty >= 0 && ty < INPUT_SIZE) out[ty * INPUT_SIZE + tx] = px[(y * w + x) * 4] / 255;
    }
  }
  return out;
}

/** Draw a 28×28 input (values in [0, 1]) into a canvas, white on black. */
export function drawInput(canvas: HTMLCanvasElement, input: Float32Array | null): void {
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(INPUT_SIZE, INPUT_SIZE);
  for (let i = 0; i < INPUT_SIZE * INPUT_SIZE; i++) {
    const v = Math.round((input?.[i] ?? 0) * 255);
    img.data.set([v, v, v, 255], i * 4);
  }
  canvas.width = INPUT_SIZE;
  canvas.height = INPUT_SIZE;
  ctx.putImageData(img, 0, 0);
}
