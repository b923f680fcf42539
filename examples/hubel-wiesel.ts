/**
 * Hubel and Wiesel's simple and complex cells, the idea the Neocognitron's
 * S- and C-cells make into a network (Hubel & Wiesel 1962; Fukushima 1980 §1).
 *
 * Simple cells: a bank of fixed oriented filters (a bar of one orientation,
 * positive on the bar, negative beside it, zero mean), rectified:
 *   simple(θ, n) = max(0, Σ_ν f_θ(ν) · x(n+ν))
 * Complex cells: the strongest simple cell of the same orientation over
 * nearby positions (a 5×5 max pool, stride 1):
 *   complex(θ, n) = max_{|ν|∞ ≤ 2} simple(θ, n+ν)
 *
 * The program shows a vertical bar at the centre of a 15×15 image, then
 * shifted right by 1, 2 and 3 pixels, then with Gaussian noise, and prints the
 * vertical simple cell and the vertical complex cell at the centre, with the
 * horizontal complex cell for contrast. The simple cell's response falls to
 * zero once the bar leaves its window's centre line; the complex cell keeps
 * responding while the shift stays within its pooling radius (2 pixels), and
 * falls silent at 3, outside its receptive field. Run it: `npx tsx examples/hubel-wiesel.ts [--backend cpu]`.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile, constant, conv2d, createRng, input, maxPool2d, relu, type BackendName } from 'striate';

/** Image side; the centre cell is (7, 7). */
export const SIDE = 15;
const K = 5;
/** Orientations of the bank, degrees. */
export const ORIENTATIONS = [0, 45, 90, 135] as const;

/** A K×K oriented bar filter: +1 on the line through the centre at `deg` (0 = vertical), a negative constant elsewhere, summing to zero. */
function barFilter(deg: number): Float64Array {
  const f = new Float64Array(K * K);
  const t = (deg * Math.PI) / 180;
  const mid = (K - 1) / 2;
  let on = 0;
  for (let y = 0; y < K; y++) {
    for (let x = 0; x < K; x++) {
      // Distance from the line through the centre with direction (sin t, cos t) in (x, y).
      const d = Math.abs((x - mid) * Math.cos(t) - (y - mid) * Math.sin(t));
      f[y * K + x] = d < 0.5 ? 1 : 0;
      on += f[y * K + x];
    }
  }
  const off = on / (K * K - on);
  for (let i = 0; i < f.length; i++) if (f[i] === 0) f[i] = -off;
  return f;
}

/** A vertical bar of width 1 at column `column`, intensity 1, with optional Gaussian noise of standard deviation `noise`. */
export function verticalBar(column: number, noise = 0, seed = 1): Float32Array {
  const img = new Float32Array(SIDE * SIDE);
  const rng = createRng(seed);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) img[y * SIDE + x] = (x === column ? 1 : 0) + (noise > 0 ? noise * rng.normal() : 0);
  }
  return img;
}

/** One row of the demonstration: which stimulus, and the centre cells' responses. */
export interface Response {
  /** The stimulus, e.g. 'shift 2' or 'noise 0.3'. */
  readonly stimulus: string;
  /** The vertical simple cell at the centre. */
  readonly simple: number;
  /** The vertical complex cell at the centre. */
  readonly complex: number;
  /** The horizontal complex cell at the centre (orientation selectivity). */
  readonly complexHorizontal: number;
}

/** Run the bank on the stimuli (shifts 0..3, then the centred bar with noise 0.3) and return the centre responses. */
export async function hubelWiesel(backend: BackendName = 'reference'): Promise<Response[]> {
  const stimuli: [string, Float32Array][] = [0, 1, 2, 3].map((s) => [`shift ${s}`, verticalBar(7 + s)] as [string, Float32Array]);
  stimuli.push(['noise 0.3', verticalBar(7, 0.3, 7)]);
  stimuli.push(['shift 2 + noise 0.3', verticalBar(9, 0.3, 8)]);
  const n = stimuli.length;
  const bank = new Float64Array(ORIENTATIONS.length * K * K);
  ORIENTATIONS.forEach((deg, i) => bank.set(barFilter(deg), i * K * K));
  const x = input('x', [n, 1, SIDE, SIDE]);
  const simple = relu(conv2d(x, constant(bank, [ORIENTATIONS.length, 1, K, K]), { padding: 'same' }));
  const complex = maxPool2d(simple, { size: 5, stride: 1, padding: 'same' });
  const f = compile([simple, complex], { backend });
  const images = new Float32Array(n * SIDE * SIDE);
  stimuli.forEach(([, img], i) => images.set(img, i * SIDE * SIDE));
  const [s, c] = await f.run({ x: images });
  await f.dispose();
  const at = (data: ArrayLike<number>, i: number, o: number): number => data[((i * ORIENTATIONS.length + o) * SIDE + 7) * SIDE + 7];
  const vertical = ORIENTATIONS.indexOf(0);
  const horizontal = ORIENTATIONS.indexOf(90);
  return stimuli.map(([stimulus], i) => ({ stimulus, simple: at(s.data, i, vertical), complex: at(c.data, i, vertical), complexHorizontal: at(c.data, i, horizontal) }));
}

async function main(argv: string[]): Promise<void> {
  const i = argv.indexOf('--backend');
  const backend = (i >= 0 ? argv[i + 1] : 'reference') as BackendName;
  const rows = await hubelWiesel(backend);
  console.log('stimulus              simple(vertical)  complex(vertical)  complex(horizontal)');
  for (const r of rows) console.log(`${r.stimulus.padEnd(22)}${r.simple.toFixed(3).padStart(16)}${r.complex.toFixed(3).padStart(19)}${r.complexHorizontal.toFixed(3).padStart(21)}`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
