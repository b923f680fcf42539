/**
 * The backend picker: one button per backend, each with the training rate
 * measured for it here, and the rule for which one is picked.
 *
 * The visitor's choice comes first: `?backend=` in the address, or a click on
 * a button, is kept whatever the measurement finds. Otherwise the fastest
 * measured backend is picked, and while the measurement runs the pick follows
 * the fastest so far (the cheapest backends are timed first, so an early
 * press of Train already gets a measured one). A GPU backend whose adapter
 * is a software renderer (SwiftShader on a machine without a GPU) is not
 * timed, and says so: it trails wasm by far, and compiling its shaders on the
 * CPU would keep the page busy for seconds. The measurement runs only before
 * training: when training starts it stops, and what it found so far stays on
 * the buttons.
 */
import { concat, distinctUntilChanged, first, from, map, mergeMap, type Observable } from 'rxjs';
import { type BrowserBackend, softwareRenderer } from './backends.js';
import { type BackendRate, fastest, type Measurement } from './measure.js';
import type { Session } from './session.js';

/** The backends the picker offers, in the order it shows them. */
export const choices: readonly { readonly backend: BrowserBackend; readonly label: string }[] = [
  { backend: 'webgpu', label: 'WebGPU' },
  { backend: 'webgl2', label: 'WebGL2' },
  { backend: 'webasm-threads', label: `WASM ×${navigator.hardwareConcurrency || 1}` },
  { backend: 'webasm', label: 'WASM' },
  { backend: 'cpu', label: 'CPU' },
];

/**
 * The order the backends are measured in: quickest to set up and time first
 * (the wasm backends are ready in a fraction of a second; a GPU backend first
 * compiles the network's shaders, a second or more), and the plain-JavaScript
 * CPU backend, the slowest, last.
 */
export const measureOrder: readonly BrowserBackend[] = ['webasm-threads', 'webasm', 'webgpu', 'webgl2', 'cpu'];

export const labelOf = (b: string): string => choices.find((c) => c.backend === b)?.label ?? b;

/** Who picked the backend in use: the visitor (`url`, `click`) or the measurement; `first` before any measurement. */
export type PickedBy = 'url' | 'click' | 'measurement' | 'first';

/** What the picker found for one backend: a measurement, or why it was not timed. */
export type Timing = Measurement | { readonly backend: BrowserBackend; readonly skipped: string };

/** What the picker knows, for the page's status line and the browser tests. */
export interface PickerState {
  readonly pickedBy: PickedBy;
  /** True while backends are being timed. */
  readonly measuring: boolean;
  /** Why the measurement ended early, if it did. */
  readonly stopped?: string;
  readonly measurements: Readonly<Partial<Record<BrowserBackend, Timing>>>;
}

const timed = (ms: Partial<Record<BrowserBackend, Timing>>): Measurement[] => Object.values(ms).filter((m): m is Measurement => !('skipped' in m));

const rateText = (r: BackendRate): string => `${Math.round(r.imagesPerSecond).toLocaleString('en-US')} img/s`;

/**
 * The backend to start on before anything is measured: the one asked for in
 * the address when it works here, else the first working one in measuring
 * order (the first to be timed, and with wasm a backend that is never very slow).
 */
export function provisionalBackend(asked: string | null, usable: readonly BrowserBackend[]): BrowserBackend {
  const preferred = measureOrder.find((b) => usable.includes(b));
  return asked !== null && usable.includes(asked as BrowserBackend) ? (asked as BrowserBackend) : (preferred ?? 'cpu');
}

/** A running picker: what it knows now, and when the measurement is over. */
export interface BackendPicker {
  state(): PickerState;
  /** Resolves when the measurement has ended: finished, failed, or stopped by training. */
  readonly settled: Promise<void>;
}

/**
 * Build the picker's buttons in `picker`, explain the choice in `note`, time
 * the usable backends, and keep `session` on the right one.
 */
export function backendPicker(options: {
  picker: HTMLElement;
  note: HTMLElement;
  session: Session;
  /** Times the training step on each backend, in order (measure.ts's measureBackends, where training runs). */
  measure: (backends: readonly BrowserBackend[], batchSize: number) => Observable<Measurement>;
  batchSize: number;
  availability: ReadonlyMap<BrowserBackend, string | null>;
  asked: string | null;
}): BackendPicker {
  const { picker, note, session, measure, batchSize, availability, asked } = options;
  const usable = choices.map((c) => c.backend).filter((b) => availability.get(b) === null);
  const measurements: Partial<Record<BrowserBackend, Timing>> = {};
  let pickedBy: PickedBy = asked !== null && usable.includes(asked as BrowserBackend) ? 'url' : 'first';
  let measuring = usable.length > 0;
  let stopped: string | undefined;
  let settle: () => void = () => undefined;
  const settled = new Promise<void>((resolve) => (settle = resolve));

  const rates = new Map<BrowserBackend, HTMLElement>();
  for (const c of choices) {
    const reason = availability.get(c.backend) ?? null;
    const b = document.createElement('button');
    b.type = 'button';
    b.setAttribute('role', 'radio');
    b.dataset.backend = c.backend;
    const rate = document.createElement('span');
    rate.className = 'rate';
    b.append(c.label, rate);
    rates.set(c.backend, rate);
    b.disabled = reason !== null;
    b.title = reason ? `${c.label} is not available: ${reason}` : `Train on ${c.backend}`;
    b.addEventListener('click', () => {
      pickedBy = 'click';
      session.setBackend(c.backend);
      render();
    });
    picker.append(b);
  }

  const render = (): void => {
    if (usable.length === 0) return;
    for (const c of choices) {
      const m = measurements[c.backend];
      const el = rates.get(c.backend)!;
      if (availability.get(c.backend) !== null) continue;
      const button = el.parentElement!;
      if (m && 'skipped' in m) {
        el.textContent = 'software';
        button.title = `Train on ${c.backend}: not timed, because ${m.skipped}`;
      } else if (m && 'rate' in m) {
        el.textContent = rateText(m.rate);
        button.title =
          `Train on ${c.backend}: measured ${rateText(m.rate)} (${m.rate.msPerStep.toFixed(0)} ms a step of ${batchSize} images, ` +
          `mean of ${m.rate.steps}; the first step, compiling its kernels, took ${m.rate.firstMs.toFixed(0)} ms)`;
      } else if (m) {
        el.textContent = 'failed';
        button.title = `${c.label} failed the measured training step: ${m.failed}`;
      } else {
        el.textContent = measuring ? '…' : '–';
      }
    }
    const best = fastest(timed(measurements));
    const current = labelOf(session.status.backend);
    const bestText = best ? `${labelOf(best.backend)}, ${rateText(best)}` : null;
    const how = `one training step of ${batchSize} images, timed on each backend`;
    let text: string;
    if (pickedBy === 'url' || pickedBy === 'click') {
      const because = pickedBy === 'url' ? `asked for in the address (?backend=${asked})` : 'as you picked';
      text = `${current}, ${because}.${bestText ? ` Fastest measured here: ${bestText}.` : ''}${measuring ? ' Measuring the others…' : ''}`;
    } else if (measuring) {
      text = `Measuring the backends (${how}) to pick the fastest${bestText ? `; so far ${bestText}` : ''}…`;
    } else if (best) {
      const soft = choices.filter((c) => measurements[c.backend] && 'skipped' in measurements[c.backend]!).map((c) => c.label);
      const untimed = soft.length ? `; ${soft.join(' and ')} ${soft.length === 1 ? 'runs' : 'run'} on a software GPU here and ${soft.length === 1 ? 'was' : 'were'} not timed` : '';
      text = `${current} picked: the fastest here (${how}${untimed}).`;
    } else {
      text = `${current}: no backend could be timed, so the first that works is used.`;
    }
    note.textContent = stopped ? `${text} ${stopped}` : text;
    note.dataset.pickedBy = pickedBy;
  };

  const order = measureOrder.filter((b) => usable.includes(b));
  // First the software GPUs are found and set aside (a quick question to each adapter), then the rest are timed.
  const timings$: Observable<Timing> = from(
    Promise.all(order.map(async (backend) => ({ backend, software: await softwareRenderer(backend).catch(() => null) }))),
  ).pipe(
    mergeMap((found) => {
      const skipped: Timing[] = found.flatMap(({ backend, software }) =>
        software ? [{ backend, skipped: `its adapter is ${software}, a GPU emulated on the CPU, far slower than WASM` }] : [],
      );
      const rest = found.filter((f) => !f.software).map((f) => f.backend);
      return concat(from(skipped), measure(rest, batchSize));
    }),
  );
  const measurement = timings$.subscribe({
    next: (m) => {
      measurements[m.backend] = m;
      const best = fastest(timed(measurements));
      const s = session.status;
      if (best && pickedBy !== 'url' && pickedBy !== 'click' && s.phase === 'idle' && s.step === 0) {
        pickedBy = 'measurement';
        session.setBackend(best.backend);
      }
      render();
    },
    error: (e: Error) => {
      measuring = false;
      stopped = `(The measurement failed: ${e.message}.)`;
      render();
      settle();
    },
    complete: () => {
      measuring = false;
      render();
      settle();
    },
  });
  // Training and timing would compete for the same processor: training wins.
  session.status$.pipe(first((s) => s.phase !== 'idle')).subscribe(() => {
    if (!measuring) return;
    measurement.unsubscribe();
    measuring = false;
    const left = order.filter((b) => !measurements[b]).map(labelOf);
    if (left.length) stopped = `(Training started before ${left.join(', ')} ${left.length === 1 ? 'was' : 'were'} timed.)`;
    render();
    settle();
  });
  if (!measuring) settle();
  // The session's status comes from the training worker: redraw when its backend changes.
  session.status$.pipe(map((s) => s.backend), distinctUntilChanged()).subscribe(() => render());
  render();

  return { state: () => ({ pickedBy, measuring, stopped, measurements: { ...measurements } }), settled };
}
