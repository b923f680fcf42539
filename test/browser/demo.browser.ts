/**
 * The demo, end to end, in Chromium, used as a person would: pick a backend,
 * press Train, watch the loss fall, pause and resume, draw a digit with the
 * mouse and get five predictions, reset. Then a short training run on every
 * other browser backend. Screenshots go to out/browser/.
 *
 * STRIATE_DEMO_BACKEND picks the backend of the full walk-through (default
 * webgl2). A backend the browser lacks is skipped with the reason, or fails
 * when STRIATE_REQUIRE_BROWSER_BACKENDS names it.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BrowserBackend } from '../../examples/browser/backends.js';
import type { NeoSnapshot } from '../../examples/browser/neocognitron-panel.js';
import type { PickerState } from '../../examples/browser/picker.js';
import type { SessionStatus } from '../../examples/browser/session.js';
import { chromiumMissing, drawDigit, launchChromium, pageErrors, requiredBrowserBackends } from './chromium.js';

interface DemoHooks {
  ready: boolean;
  status(): SessionStatus;
  speed(): number | null;
  batchSize: number;
  frameMs(): number;
  mainThread(): { trainingSince: number | null; longestTaskMs: number; longTasks: number };
  picker(): PickerState;
  losses(): number[];
  testAccuracy(): number[];
  predictions(): { digit: number; probability: number }[] | null;
  availability(): Record<string, string | null>;
  augment(): { seed: number; tiles: number };
  inspect(): InspectState;
  neocognitron(): NeoSnapshot;
}

/** What the look-inside panels last showed (examples/browser/main.ts). */
interface InspectState {
  updates: number;
  rates: { looks: number; neighbours: number };
  look: { step: number; ms: number; target: number; maps: string[] } | null;
  neighbours: { labels: number[]; distances: number[]; indexStep: number; ms: number } | null;
  maximised: { label: string; value: number; ms: number; step: number; mean: number } | null;
  errors: string[];
}

const shots = resolve(import.meta.dirname, '../../out/browser');
const mainBackend = (process.env.STRIATE_DEMO_BACKEND ?? 'webgl2') as BrowserBackend;
const otherBackends = (['webgpu', 'webgl2', 'webasm-threads', 'webasm', 'cpu'] as const).filter((b) => b !== mainBackend);
const missing = chromiumMissing();

let browser: Browser | null = null;

beforeAll(async () => {
  await mkdir(shots, { recursive: true });
  if (!missing) browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

const hooks = (page: Page) => ({
  status: () => page.evaluate(() => (window as unknown as { striateDemo: DemoHooks }).striateDemo.status()),
  losses: () => page.evaluate(() => (window as unknown as { striateDemo: DemoHooks }).striateDemo.losses()),
  availability: () => page.evaluate(() => (window as unknown as { striateDemo: DemoHooks }).striateDemo.availability()),
});

/** Open the demo on `backend`; null (after failing or warning) when the backend is not available. */
async function openDemo(backend: BrowserBackend): Promise<{ page: Page; errors: string[] } | null> {
  const page = await browser!.newPage({ viewport: { width: 1320, height: 900 } });
  const errors = pageErrors(page);
  const started = Date.now();
  await page.goto(`${inject('demoUrl')}?backend=${backend}`);
  await page.waitForFunction(() => (window as unknown as { striateDemo?: DemoHooks }).striateDemo?.ready === true, null, { timeout: 60_000 });
  console.log(`demo ready in ${((Date.now() - started) / 1000).toFixed(1)} s (backend checks and MNIST included)`);
  const reason = (await hooks(page).availability())[backend];
  if (reason) {
    await page.close();
    if (requiredBrowserBackends.has(backend)) throw new Error(`backend "${backend}" is required (STRIATE_REQUIRE_BROWSER_BACKENDS) but the demo finds it unavailable: ${reason}`);
    console.warn(`skipping the demo on ${backend}: ${reason}`);
    return null;
  }
  expect((await hooks(page).status()).backend).toBe(backend);
  return { page, errors };
}

/** Wait until the session has made `steps` steps; fail with the page's state and errors otherwise. */
async function waitForSteps(page: Page, errors: string[], steps: number, timeoutMs: number): Promise<SessionStatus> {
  const started = Date.now();
  for (;;) {
    const s = await hooks(page).status();
    if (s.phase === 'error') throw new Error(`training stopped with an error: ${s.error}`);
    if (s.step >= steps) return s;
    if (Date.now() - started > timeoutMs) {
      throw new Error(`only ${s.step} of ${steps} steps after ${timeoutMs / 1000} s (phase ${s.phase})${errors.length ? `; page errors:\n${errors.join('\n')}` : ''}`);
    }
    await page.waitForTimeout(250);
  }
}

/** Pixels of the canvas `id` that are neither white nor black: something was drawn on it. */
function inkedPixels(page: Page, id: string): Promise<number> {
  return page.evaluate((id) => {
    const c = document.getElementById(id) as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 0 && d[i] + d[i + 1] + d[i + 2] < 765) n++;
    return n;
  }, id);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The loss must fall: the last steps' mean well below the first steps'. */
function expectLossFalls(losses: number[], window = 8): void {
  const first = mean(losses.slice(0, window));
  const last = mean(losses.slice(-window));
  console.log(`loss: first ${window} steps ${first.toFixed(3)}, last ${window} steps ${last.toFixed(3)} (${losses.length} steps)`);
  expect(first).toBeGreaterThan(1.5); // a fresh 10-class net starts near ln 10 = 2.30
  expect(last).toBeLessThan(0.75 * first);
}

describe.skipIf(missing !== null)(`the demo on ${mainBackend}, as a person uses it`, () => {
  let page: Page;
  let errors: string[] = [];
  let available = true;

  beforeAll(async () => {
    const opened = await openDemo(mainBackend);
    if (!opened) available = false;
    else ({ page, errors } = opened);
  });
  afterAll(async () => {
    await page?.close();
  });

  it('trains when Train is pressed, and the loss falls', async ({ skip }) => {
    if (!available) skip();
    const filters = () => page.evaluate(() => (document.getElementById('filters') as HTMLCanvasElement).toDataURL());
    const filtersBefore = await filters();
    await page.click('#train');
    const started = Date.now();
    const s = await waitForSteps(page, errors, 40, 90_000);
    expect(await filters(), 'the first-layer filters are redrawn as they learn').not.toBe(filtersBefore);
    console.log(`${mainBackend}: ${s.step} steps in ${((Date.now() - started) / 1000).toFixed(1)} s (compile included)`);
    expectLossFalls(await hooks(page).losses());
    expect(await page.locator('#status').getAttribute('data-phase')).toBe('running');
    // The numbers are drawn in the page's next shared frame (examples/browser/frames.ts).
    await expect.poll(async () => Number((await page.locator('#stat-step').textContent())!.replace(/,/g, '')), { timeout: 5_000 }).toBeGreaterThanOrEqual(40);
  });

  it('pauses: no steps while paused', async ({ skip }) => {
    if (!available) skip();
    await page.click('#train'); // Pause
    await page.waitForFunction(() => (window as unknown as { striateDemo: DemoHooks }).striateDemo.status().phase === 'paused');
    const at = (await hooks(page).status()).step;
    await page.waitForTimeout(1500);
    expect((await hooks(page).status()).step, 'no step while paused').toBe(at);
    expect(await page.locator('#train').textContent()).toBe('Resume');
  });

  // Drawn while paused (drawing while training is the per-backend tests' part).
  it('classifies a digit drawn with the mouse: five classes with probabilities', async ({ skip }) => {
    if (!available) skip();
    await drawDigit(page, '#pad', 7);
    const rows = page.locator('#predictions .prediction');
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(5);
    const shown = await rows.evaluateAll((els) =>
      els.map((el) => ({ digit: Number(el.querySelector('.digit')!.textContent), p: parseFloat(el.querySelector('.p')!.textContent!) / 100 })),
    );
    console.log(`drawn 7, predictions: ${shown.map((r) => `${r.digit} ${(r.p * 100).toFixed(1)}%`).join(', ')}`);
    expect(new Set(shown.map((r) => r.digit)).size).toBe(5);
    for (const r of shown) {
      expect(Number.isInteger(r.digit) && r.digit >= 0 && r.digit <= 9).toBe(true);
      expect(r.p).toBeGreaterThanOrEqual(0);
    }
    for (let i = 1; i < shown.length; i++) expect(shown[i].p).toBeLessThanOrEqual(shown[i - 1].p);
    expect(shown.reduce((a, r) => a + r.p, 0)).toBeLessThanOrEqual(1.005);
    await page.screenshot({ path: resolve(shots, `demo-${mainBackend}.png`), fullPage: true });
  });

  it('shows the drawn digit under twenty augmentations, and new draws on request', async ({ skip }) => {
    if (!available) skip();
    const picture = () => page.evaluate(() => (document.getElementById('augment') as HTMLCanvasElement).toDataURL());
    const state = () => page.evaluate(() => (window as unknown as { striateDemo: DemoHooks }).striateDemo.augment());
    // The digit drawn by the test before this one.
    expect(await state()).toEqual({ seed: 1, tiles: 20 });
    const first = await picture();
    // Not blank: some tile pixels are light (a digit), and the grid is not one colour.
    const light = await page.evaluate(() => {
      const c = document.getElementById('augment') as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] > 128 && d[i] < 255) n++;
      return n;
    });
    expect(light, 'the augmented digits are drawn').toBeGreaterThan(100);
    await page.click('#augment-again');
    await expect.poll(state).toEqual({ seed: 2, tiles: 20 });
    expect(await picture(), 'new draws give a new grid').not.toBe(first);
  });

  it('resumes where it paused, and the predictions follow the weights', async ({ skip }) => {
    if (!available) skip();
    const at = (await hooks(page).status()).step;
    const before = await page.evaluate(() => (window as unknown as { striateDemo: DemoHooks }).striateDemo.predictions());
    await page.click('#train'); // Resume
    await waitForSteps(page, errors, at + 5, 60_000);
    expectLossFalls(await hooks(page).losses());
    await expect
      .poll(() => page.evaluate(() => (window as unknown as { striateDemo: DemoHooks }).striateDemo.predictions()), { timeout: 10_000 })
      .not.toEqual(before);
    expect(await page.locator('#predictions .prediction').count()).toBe(5);
  });

  it('looks inside as it trains: feature maps and saliency follow the weights, neighbours share the predicted class, maximisation on request', async ({ skip }) => {
    if (!available) skip();
    const inspect = () => page.evaluate(() => (window as unknown as { striateDemo: DemoHooks }).striateDemo.inspect());
    const canvas = (id: string) => page.evaluate((id) => (document.getElementById(id) as HTMLCanvasElement).toDataURL(), id);
    const inked = (id: string) => inkedPixels(page, id);
    // Training runs (resumed by the test before); the panels show the digit drawn earlier.
    expect((await hooks(page).status()).phase).toBe('running');
    const first = await inspect();
    expect(first.look, 'the panels have looked at the digit').not.toBeNull();
    expect(first.look!.maps).toEqual(['relu1 [6,24,24]', 'relu2 [16,8,8]']);
    const maps = await canvas('maps-relu2');
    await expect.poll(async () => (await inspect()).look!.step, { timeout: 30_000, message: 'a look with newer weights' }).toBeGreaterThan(first.look!.step);
    // Drawn in the page's next shared frame (examples/browser/frames.ts), at most FRAME_MS after the look arrives.
    await expect.poll(() => canvas('maps-relu2'), { timeout: 5_000, message: "conv2's maps are redrawn with the new weights" }).not.toBe(maps);
    for (const id of ['maps-relu1', 'maps-relu2', 'saliency']) expect(await inked(id), `${id} is drawn`).toBeGreaterThan(50);
    // The nearest training images: eight, nearest first, most of them of the class the network predicts for the digit.
    await expect.poll(async () => (await inspect()).neighbours !== null, { timeout: 60_000, message: 'the neighbour index is built' }).toBe(true);
    const { look, neighbours } = await inspect();
    expect(neighbours!.labels).toHaveLength(8);
    for (let i = 0; i < 8; i++) {
      expect(Number.isFinite(neighbours!.distances[i]) && neighbours!.distances[i] >= 0).toBe(true);
      if (i > 0) expect(neighbours!.distances[i]).toBeGreaterThanOrEqual(neighbours!.distances[i - 1]);
    }
    const agree = neighbours!.labels.filter((l) => l === look!.target).length;
    console.log(`look inside: look at step ${look!.step} (${look!.ms.toFixed(1)} ms), predicted ${look!.target}; neighbours ${neighbours!.labels.join(',')} (index of step ${neighbours!.indexStep}); ${first.updates} → ${(await inspect()).updates} looks`);
    expect(agree, 'most neighbours have the predicted class').toBeGreaterThanOrEqual(4);
    await expect.poll(() => inked('neighbours'), { timeout: 5_000 }).toBeGreaterThan(50);
    // Activation maximisation of class 3, in the other worker, while training goes on.
    await page.selectOption('#max-unit', { label: 'class 3' });
    await page.click('#maximise');
    await expect.poll(async () => (await inspect()).maximised?.label ?? (await inspect()).errors.join('; '), { timeout: 90_000 }).toBe('class 3');
    const m = (await inspect()).maximised!;
    console.log(`maximised class 3 to ${m.value.toFixed(2)} in ${(m.ms / 1000).toFixed(1)} s (weights of step ${m.step})`);
    expect(Number.isFinite(m.value)).toBe(true);
    expect(m.mean, 'a picture, not a blank').toBeGreaterThan(0.02);
    expect(m.mean).toBeLessThan(0.98);
    expect(await inked('maximised')).toBeGreaterThan(50);
    expect(await page.locator('#max-note').textContent()).toContain('class 3:');
    // Unticking "live" stops the updates that follow the weights.
    await page.setChecked('#inspect-live', false);
    await page.waitForTimeout(500);
    const paused = (await inspect()).updates;
    await waitForSteps(page, errors, (await hooks(page).status()).step + 3, 60_000);
    await page.waitForTimeout(500);
    expect((await inspect()).updates, 'no looks while not live').toBe(paused);
    await page.setChecked('#inspect-live', true);
    await expect.poll(async () => (await inspect()).updates, { timeout: 30_000 }).toBeGreaterThan(paused);
    expect((await inspect()).errors).toEqual([]);
    await page.screenshot({ path: resolve(shots, `demo-inspect-${mainBackend}.png`), fullPage: true });
  });

  it('resets to a fresh network', async ({ skip }) => {
    if (!available) skip();
    await page.click('#reset');
    await page.waitForFunction(() => (window as unknown as { striateDemo: DemoHooks }).striateDemo.status().phase === 'idle');
    expect((await hooks(page).status()).step).toBe(0);
    expect(await hooks(page).losses()).toEqual([]);
    expect(await page.locator('#train').textContent()).toBe('Train');
    expect(errors, 'the page logged errors').toEqual([]);
  });
});

describe.skipIf(missing !== null).each(otherBackends)('the demo trains on %s', (backend) => {
  it('the loss falls over 30 steps', async ({ skip }) => {
    const opened = await openDemo(backend);
    if (!opened) return skip();
    const { page, errors } = opened;
    try {
      // The picker times the bare training step in the training worker first (as the bench times it); then train.
      await page.waitForFunction(() => !(window as unknown as { striateDemo: DemoHooks }).striateDemo.picker().measuring, null, { timeout: 60_000 });
      await page.click('#train');
      const started = Date.now();
      const s = await waitForSteps(page, errors, 30, 90_000);
      console.log(`${backend}: ${s.step} steps in ${((Date.now() - started) / 1000).toFixed(1)} s (compile included)`);
      expectLossFalls(await hooks(page).losses(), 6);
      // The page's training rate over three seconds beside the bare step's, and the page's longest task while it trained.
      const report = () =>
        page.evaluate(() => {
          const d = (window as unknown as { striateDemo: DemoHooks }).striateDemo;
          return { step: d.status().step, at: performance.now(), batch: d.batchSize, frameMs: d.frameMs(), timing: d.picker().measurements, main: d.mainThread() };
        });
      const a = await report();
      await page.waitForTimeout(3000);
      const b = await report();
      const rate = ((b.step - a.step) * b.batch * 1000) / (b.at - a.at);
      const bare = b.timing[backend];
      const bareRate = bare && 'rate' in bare ? bare.rate.imagesPerSecond : null;
      console.log(
        `${backend}: the page trains at ${Math.round(rate)} img/s (batch ${b.batch}, steps over 3 s, drawing every ${b.frameMs} ms)` +
          (bareRate ? `; the bare step (loss and gradients, no update) timed at ${Math.round(bareRate)} img/s in the same worker: ${((100 * rate) / bareRate).toFixed(0)}%` : '; the bare step was not timed here') +
          `; the page's longest task while training: ${b.main.longestTaskMs.toFixed(0)} ms (${b.main.longTasks} long tasks since the page opened)`,
      );
      expect(b.step).toBeGreaterThan(a.step);
      {
        // Training runs in a worker, which leaves the page free: draw while it trains.
        await drawDigit(page, '#pad', 3);
        await expect.poll(() => page.locator('#predictions .prediction').count(), { timeout: 10_000 }).toBe(5);
        expect((await hooks(page).status()).phase, 'still training while the digit was drawn').toBe('running');
      }
      await page.click('#train'); // Pause, so that the screenshot holds still
      await page.screenshot({ path: resolve(shots, `demo-${backend}.png`), fullPage: true });
      expect(errors, 'the page logged errors').toEqual([]);
    } finally {
      await page.close();
    }
  });
});

describe.skipIf(missing !== null)('the Neocognitron panel', () => {
  it('trains without backpropagation in a worker, draws its planes, and reads the test digit and a drawn one', async ({ skip }) => {
    const opened = await openDemo('webasm');
    if (!opened) return skip();
    const { page, errors } = opened;
    const neo = () => page.evaluate(() => (window as unknown as { striateDemo: DemoHooks }).striateDemo.neocognitron());
    try {
      expect((await neo()).phase).toBe('idle');
      await page.click('#neo-train');
      await expect.poll(async () => (await neo()).phase, { timeout: 300_000, interval: 1000 }).toMatch(/done|error/);
      const s = await neo();
      expect(s.error).toBeNull();
      console.log(`Neocognitron in the page: ${s.planes} planes, test accuracy ${((s.testAccuracy ?? 0) * 100).toFixed(2)}% in ${(s.seconds ?? 0).toFixed(1)} s`);
      expect(s.planes, 'add-if-silent made planes').toBeGreaterThanOrEqual(8);
      expect(s.testAccuracy, 'no backprop, and still reads digits').toBeGreaterThan(0.9);
      expect(await inkedPixels(page, 'neo-planes'), 'the learned planes are drawn').toBeGreaterThan(50);
      // The first test digit is a 7: looked at as soon as the network is trained (seed 0, so the same every run).
      await expect.poll(async () => (await neo()).look?.label ?? -1, { timeout: 30_000 }).toBe(7);
      const first = (await neo()).look!;
      expect(first.active).toBeGreaterThan(20);
      expect(first.planesUsed).toBeGreaterThanOrEqual(2);
      expect(await inkedPixels(page, 'neo-winners')).toBeGreaterThan(50);
      // A drawn digit is looked at in turn.
      await drawDigit(page, '#pad', 3);
      await expect.poll(async () => (await neo()).look!.active, { timeout: 30_000 }).not.toBe(first.active);
      const drawn = (await neo()).look!;
      console.log(`drawn 3: the Neocognitron reads ${drawn.label}, ${drawn.active} of ${drawn.columns} columns active, ${drawn.planesUsed} planes win`);
      expect(Number.isInteger(drawn.label) && drawn.label >= 0 && drawn.label <= 9).toBe(true);
      expect(await page.locator('#neo-status').textContent()).toContain('Test accuracy');
      expect(errors, 'the page logged errors').toEqual([]);
    } finally {
      await page.close();
    }
  });
});
