/**
 * The demo page: LeNet-5 training on an MNIST subset in the browser, on the
 * backend the visitor picks, with live charts, the first layer's filters, and
 * a drawing pad classified as the network learns, and panels that look inside
 * it (feature maps, saliency, nearest training images, activation
 * maximisation; inspect.ts), and Fukushima's Neocognitron trained on request
 * without backpropagation (neocognitron-panel.ts).
 *
 * The default backend is the fastest here, measured at load (picker.ts);
 * `?backend=webgl2` (or webgpu, webasm, webasm-threads, cpu) picks one
 * instead; `?autostart` starts training when the page is ready (after the
 * measurement, when there is one).
 */
import { auditTime, combineLatest, filter, map, merge, type Observable, startWith, switchMap, zip } from 'rxjs';
import { buildModel, type Params, smoothSteps, type StepEvent, type TrainEvent } from 'striate';
import { type BrowserBackend, softwareRenderer } from './backends.js';
import { drawAugmentations } from './augment.js';
import { accuracyChart, lossChart } from './charts.js';
import { DrawingPad, drawInput } from './digit.js';
import { frameInterval, paint, SOFTWARE_FRAME_MS, setFrameInterval } from './frames.js';
import { drawFilters } from './filters.js';
import type { MaximiseUnit } from './inspect-protocol.js';
import { drawMaps, drawMaximised, drawNeighbours, drawSaliency, LookInside } from './inspect.js';
import { fetchSubset } from './mnist-subset.js';
import { NeocognitronPanel } from './neocognitron-panel.js';
import { demoModel } from './model.js';
import { backendPicker, choices, labelOf, provisionalBackend } from './picker.js';
import { classifier, type Prediction } from './predict.js';
import { Trainer } from './remote-session.js';
import type { SessionEvent, SessionStatus } from './session.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

const EPOCHS = 10;
const BATCH_SIZE = 64;
const SMOOTHING = 0.9;

function setStatus(phase: string, text: string): void {
  $('status').dataset.phase = phase;
  $('status-text').textContent = text;
}

function pct(v: number | null | undefined, digits = 1): string {
  return v == null ? '–' : `${(v * 100).toFixed(digits)}%`;
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const model = demoModel;
  const firstConv = buildModel(model).params.find((p) => p.shape.length === 4)!.name;

  // Training runs in a worker (trainer-worker.ts): the backends are probed there, while the page loads MNIST.
  setStatus('loading', 'Checking backends and loading MNIST…');
  const trainer = new Trainer();
  const [availability, data] = await Promise.all([trainer.probe(choices.map((c) => c.backend)), fetchSubset(new URL('mnist-subset.bin', document.baseURI).href)]);
  $('data-info').textContent =
    `the first ${data.train.count.toLocaleString('en-US')} MNIST training images; ` +
    `${data.test.count.toLocaleString('en-US')} test images for the test curve.`;
  const asked = params.get('backend');
  const usable = choices.filter((c) => availability.get(c.backend) === null).map((c) => c.backend);
  const session = trainer.startSession(model, data, { epochs: EPOCHS, batchSize: BATCH_SIZE, seed: 1, lr: 1e-3 }, provisionalBackend(asked, usable));
  trainer.errors$.subscribe((message) => setStatus('error', `Training stopped: ${message}`));

  // Backend picker: the visitor's choice, else the fastest measured here.
  const picker = $('backends');
  const backendChoice = backendPicker({
    picker,
    note: $('backend-choice'),
    session,
    measure: (backends, batchSize) => trainer.measure(backends, batchSize),
    batchSize: BATCH_SIZE,
    availability,
    asked,
  });
  const notes = choices.flatMap((c) => (availability.get(c.backend) ? [`${c.label}: ${availability.get(c.backend)}.`] : []));
  if (asked !== null && !choices.some((c) => c.backend === asked)) {
    notes.unshift(`?backend=${asked} is not one of ${choices.map((c) => c.backend).join(', ')}.`);
  } else if (asked !== null && !usable.includes(asked as BrowserBackend)) {
    notes.unshift(`Asked for ${labelOf(asked)}, which is not available here.`);
  }
  // Without a GPU the browser composites every frame on the CPU, beside training: draw less often.
  const software = await softwareRenderer('webgl2').catch(() => null);
  if (software) setFrameInterval(SOFTWARE_FRAME_MS);
  const drawing = software ? ` The page redraws once a second while it trains: it is composited on the CPU here (${software}), on the cores that train.` : '';
  $('backend-notes').textContent = ((notes.length ? `Not available here — ${notes.join(' ')}` : '') + drawing).trim();

  // Controls.
  const trainButton = $<HTMLButtonElement>('train');
  const resetButton = $<HTMLButtonElement>('reset');
  trainButton.addEventListener('click', () => {
    const phase = session.status.phase;
    if (phase === 'running' || phase === 'starting') session.pause();
    else session.start();
  });
  let seed = 1;
  resetButton.addEventListener('click', () => session.reset(++seed));

  // Status, buttons and the picker follow the session.
  const showStatus = (s: SessionStatus): void => {
    for (const b of picker.querySelectorAll<HTMLButtonElement>('button')) b.setAttribute('aria-checked', String(b.dataset.backend === s.backend));
    const name = labelOf(s.backend);
    trainButton.disabled = usable.length === 0 || s.phase === 'done';
    trainButton.textContent = { idle: 'Train', starting: 'Pause', running: 'Pause', paused: 'Resume', done: 'Done', error: 'Retry' }[s.phase];
    resetButton.disabled = s.step === 0 && s.phase !== 'error';
    const epoch = Math.min(s.epoch + 1, EPOCHS);
    $('stat-epoch').textContent = s.step === 0 && s.phase === 'idle' ? `– / ${EPOCHS}` : `${s.phase === 'done' ? EPOCHS : epoch} / ${EPOCHS}`;
    $('stat-step').textContent = s.step.toLocaleString('en-US');
    const text = {
      idle: `Ready to train on ${name}`,
      starting: `Compiling LeNet-5 for ${name}…`,
      running: `Training on ${name} · epoch ${epoch} of ${EPOCHS}`,
      paused: `Paused at step ${s.step.toLocaleString('en-US')} · ${name}`,
      done: `Finished ${EPOCHS} epochs on ${name}`,
      error: `Stopped: ${s.error}`,
    }[s.phase];
    setStatus(usable.length === 0 ? 'error' : s.phase, usable.length === 0 ? 'No backend works in this browser (see the notes below).' : text);
  };
  // A new phase or backend shows at once; a new step count alone waits for the shared frame.
  let shown: SessionStatus | null = null;
  session.status$.subscribe((s: SessionStatus) => {
    if (shown && s.phase === shown.phase && s.backend === shown.backend && s.epoch === shown.epoch) paint('status', () => showStatus((shown = session.status)));
    else showStatus((shown = s));
  });

  // Charts and numbers, fed by the training events (smoothing restarts with each reset).
  const loss = lossChart($('loss-chart'));
  const accuracy = accuracyChart($('accuracy-chart'));
  const history = { losses: [] as number[], testAccuracy: [] as number[] };
  const events$ = session.reset$.pipe(
    startWith(undefined),
    switchMap(() => {
      const steps$ = session.events$.pipe(filter((e): e is SessionEvent & StepEvent => e.type === 'step'));
      const smooth$ = (steps$ as Observable<TrainEvent>).pipe(smoothSteps(SMOOTHING)) as Observable<StepEvent>;
      const smoothed$ = zip(steps$, smooth$);
      const rest$ = session.events$.pipe(filter((e) => e.type !== 'step'));
      return merge(smoothed$.pipe(map(([raw, smooth]) => ({ kind: 'step' as const, raw, smooth }))), rest$.pipe(map((e) => ({ kind: 'other' as const, e }))));
    }),
  );
  session.reset$.subscribe(() => {
    loss.clear();
    accuracy.clear();
    history.losses.length = history.testAccuracy.length = 0;
    for (const id of ['stat-loss', 'stat-speed']) $(id).textContent = '–';
    $('stat-test').innerHTML = '<span class="pending">after the first epoch</span>';
  });
  let speed: number | null = null;
  events$.subscribe((ev) => {
    if (ev.kind === 'step') {
      const { raw, smooth } = ev;
      speed = raw.imagesPerSecond;
      history.losses.push(raw.loss);
      loss.addStep(raw.globalStep, raw.loss, smooth.loss);
      accuracy.addStep(raw.globalStep, raw.accuracy, smooth.accuracy);
      paint('numbers', () => {
        $('stat-loss').textContent = smooth.loss.toFixed(3);
        $('stat-speed').textContent = Math.round(raw.imagesPerSecond).toLocaleString('en-US');
      });
    } else if (ev.e.type === 'epoch') {
      if (ev.e.testLoss !== null) loss.addTest(ev.e.testLoss);
      if (ev.e.testAccuracy !== null) {
        accuracy.addTest(ev.e.testAccuracy);
        history.testAccuracy.push(ev.e.testAccuracy);
        $('stat-test').textContent = pct(ev.e.testAccuracy, 2);
      }
    }
  });

  // The first layer's filters, redrawn in the shared frame as the weights change.
  session.params$.subscribe((p: Params) =>
    paint('filters', () => {
      const scale = drawFilters($<HTMLCanvasElement>('filters'), p[firstConv]);
      $('scale-max').textContent = `+${scale.toFixed(2)}`;
      $('scale-min').textContent = `−${scale.toFixed(2)}`;
    }),
  );

  // The drawing pad: strokes → 28×28 input → top-5 classes, again whenever the weights change.
  const pad = new DrawingPad($<HTMLCanvasElement>('pad'));
  $('clear').addEventListener('click', () => pad.clear());
  const classify = classifier(model);
  const predictions$ = combineLatest([pad.drawing$.pipe(startWith(null)), session.params$.pipe(auditTime(200))]).pipe(
    map(([image, p]) => ({ image, top: image ? classify(image, p) : null })),
  );
  const list = $('predictions');
  let latest: Prediction[] | null = null;
  predictions$.subscribe(({ image, top }) => {
    latest = top;
    paint('predictions', () => {
      drawInput($<HTMLCanvasElement>('seen'), image);
      if (!top) {
        list.innerHTML = '<li class="empty">Draw a digit in the black square. The five most likely classes appear here, and change as the network learns.</li>';
        return;
      }
      list.replaceChildren(
        ...top.map(({ digit, probability }) => {
          const li = document.createElement('li');
          li.className = 'prediction';
          li.innerHTML = `<span class="digit">${digit}</span><span class="bar"><span style="width:${(probability * 100).toFixed(1)}%"></span></span><span class="p">${pct(probability)}</span>`;
          return li;
        }),
      );
    });
  });

  // The augmentation panel: the drawn digit (else the first training digit) under twenty draws.
  let augmentSeed = 1;
  let augmentedTiles = 0;
  const firstDigit = data.train.images.slice(0, 28 * 28);
  const redrawAugment = (image: Float32Array | null): void => {
    augmentedTiles = drawAugmentations($<HTMLCanvasElement>('augment'), image ?? firstDigit, augmentSeed).length / (28 * 28);
  };
  let drawn: Float32Array | null = null;
  pad.drawing$.pipe(startWith(null)).subscribe((image) => {
    drawn = image;
    redrawAugment(image);
  });
  $('augment-again').addEventListener('click', () => {
    augmentSeed++;
    redrawAugment(drawn);
  });

  // Look inside: the drawn digit (else the first test digit) under the latest weights, in two workers.
  const inspector = new LookInside(data.train.images);
  const testDigit = data.test.images.slice(0, 28 * 28);
  let lookImage: Float32Array = testDigit;
  let latestParams: Params | null = null;
  const liveBox = $<HTMLInputElement>('inspect-live');
  const lookNow = (): void => {
    if (latestParams) inspector.look(lookImage, latestParams, session.status.step);
  };
  session.params$.subscribe((p: Params) => {
    latestParams = p;
    if (liveBox.checked) lookNow();
  });
  const neo = new NeocognitronPanel(
    { button: $<HTMLButtonElement>('neo-train'), status: $('neo-status'), planes: $<HTMLCanvasElement>('neo-planes'), winners: $<HTMLCanvasElement>('neo-winners'), label: $('neo-label') },
    data,
    testDigit,
  );
  pad.drawing$.subscribe((image) => {
    lookImage = image ?? testDigit;
    lookNow();
    neo.look(lookImage);
  });
  liveBox.addEventListener('change', lookNow);
  let lastLook: { step: number; ms: number; target: number; maps: string[] } | null = null;
  let lastNeighbours: { labels: number[]; distances: number[]; indexStep: number; ms: number } | null = null;
  const inspectErrors: string[] = [];
  inspector.looks$.subscribe((r) => {
    const image = lookImage;
    paint('look', () => {
      drawMaps((layer) => $<HTMLCanvasElement>(`maps-${layer}`), r);
      drawSaliency($<HTMLCanvasElement>('saliency'), image, r);
      const rates = inspector.rates();
      $('inspect-rate').textContent = `${rates.looks.toFixed(1)} updates/s · ${r.ms.toFixed(0)} ms each in a worker · weights of step ${r.step.toLocaleString('en-US')}`;
    });
    lastLook = { step: r.step, ms: r.ms, target: r.saliency.target, maps: r.maps.map((m) => `${m.layer} [${m.shape.join(',')}]`) };
  });
  inspector.neighbours$.subscribe((n) => {
    paint('neighbours', () => {
      drawNeighbours($<HTMLCanvasElement>('neighbours'), n, data.train.images, data.train.labels);
      $('neighbours-note').textContent =
        `Label · distance. Searched: ${data.train.count.toLocaleString('en-US')} training images, indexed with the weights of step ` +
        `${n.indexStep.toLocaleString('en-US')} (in ${Math.round(n.indexMs)} ms; indexed again every few seconds while they change).`;
    });
    lastNeighbours = { labels: Array.from(n.indices, (i) => data.train.labels[i]), distances: Array.from(n.distances), indexStep: n.indexStep, ms: n.ms };
  });
  inspector.errors$.subscribe((message) => {
    inspectErrors.push(message);
    $('inspect-error').textContent = `Look inside stopped: ${message}`;
  });

  // Activation maximisation, on request, of a class logit or a convolution channel.
  const MAX_STEPS = 256;
  const units: { label: string; unit: MaximiseUnit }[] = [
    ...Array.from({ length: 10 }, (_, c) => ({ label: `class ${c}`, unit: { class: c } })),
    ...Array.from({ length: 16 }, (_, k) => ({ label: `conv2 channel ${k}`, unit: { layer: 'conv2', channel: k } })),
    ...Array.from({ length: 6 }, (_, k) => ({ label: `conv1 channel ${k}`, unit: { layer: 'conv1', channel: k } })),
  ];
  const unitSelect = $<HTMLSelectElement>('max-unit');
  unitSelect.replaceChildren(...units.map((u, i) => Object.assign(document.createElement('option'), { value: String(i), textContent: u.label })));
  const maximiseButton = $<HTMLButtonElement>('maximise');
  let maximised: { label: string; value: number; ms: number; step: number; mean: number } | null = null;
  maximiseButton.addEventListener('click', () => {
    if (!latestParams) return;
    const { label, unit } = units[Number(unitSelect.value)];
    const step = session.status.step;
    maximiseButton.disabled = true;
    $('max-note').textContent = `Ascending on ${label} with the weights of step ${step.toLocaleString('en-US')} (${MAX_STEPS} steps)…`;
    inspector
      .maximise(unit, latestParams, step, MAX_STEPS)
      .then((r) => {
        drawMaximised($<HTMLCanvasElement>('maximised'), r);
        maximised = { label: r.label, value: r.value, ms: r.ms, step: r.step, mean: r.data.reduce((a, b) => a + b, 0) / r.data.length };
        $('max-note').textContent = `${r.label}: ${r.value.toFixed(2)} on this input, weights of step ${r.step.toLocaleString('en-US')} (${(r.ms / 1000).toFixed(1)} s in a worker).`;
      })
      .catch((e: Error) => {
        inspectErrors.push(e.message);
        $('max-note').textContent = `Maximisation failed: ${e.message}`;
      })
      .finally(() => {
        maximiseButton.disabled = false;
      });
  });

  // The page's longest task since training first ran (PerformanceObserver's long tasks, 50 ms and more; `longTasks` counts them all, loading included): training runs in a worker, so the page should have none.
  let trainingSince: number | null = null;
  let longestTaskMs = 0;
  let longTasks = 0;
  session.status$.subscribe((s) => {
    if (s.phase === 'running' && trainingSince === null) trainingSince = performance.now();
  });
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        longTasks++;
        if (trainingSince !== null && e.startTime >= trainingSince) longestTaskMs = Math.max(longestTaskMs, e.duration);
      }
    }).observe({ type: 'longtask', buffered: true });
  } catch {
    // No long-task timing in this browser: the hook reports 0.
  }

  // Read-only hooks for the browser tests (test/browser/demo.browser.ts).
  (window as unknown as { striateDemo: unknown }).striateDemo = {
    ready: true,
    status: () => session.status,
    batchSize: BATCH_SIZE,
    frameMs: () => frameInterval(),
    /** Training images per second of the latest step event (the epoch so far), null before the first. */
    speed: () => speed,
    mainThread: () => ({ trainingSince, longestTaskMs, longTasks }),
    losses: () => [...history.losses],
    testAccuracy: () => [...history.testAccuracy],
    predictions: () => latest,
    availability: () => Object.fromEntries(availability),
    picker: () => backendChoice.state(),
    augment: () => ({ seed: augmentSeed, tiles: augmentedTiles }),
    neocognitron: () => neo.snapshot(),
    inspect: () => ({ updates: inspector.updates, rates: inspector.rates(), look: lastLook, neighbours: lastNeighbours, maximised, errors: [...inspectErrors] }),
  };

  // Autostart trains on the backend asked for, or else on the one the measurement picks.
  if (params.has('autostart') && usable.length > 0) {
    if (backendChoice.state().pickedBy !== 'url') await backendChoice.settled;
    session.start();
  }
}

main().catch((e: Error) => {
  setStatus('error', `The demo failed to start: ${e.message}`);
  console.error(e);
});
