/**
 * The demo as a page a visitor opens: it works from any path of a plain
 * static server (as on GitHub Pages), says so when a file cannot be loaded,
 * picks its default backend by timing the backends and shows the rates, keeps
 * the visitor's own choice, and fits a phone's width.
 *
 * The walk-through of training, drawing and the backends is demo.browser.ts.
 */
import { createServer, type Server } from 'node:http';
import { mkdir, readFile } from 'node:fs/promises';
import { basename, dirname, extname, resolve, sep } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BrowserBackend } from '../../examples/browser/backends.js';
import type { PickerState } from '../../examples/browser/picker.js';
import type { SessionStatus } from '../../examples/browser/session.js';
import { chromiumMissing, launchChromium, pageErrors } from './chromium.js';

interface DemoHooks {
  ready: boolean;
  status(): SessionStatus;
  availability(): Record<string, string | null>;
  picker(): PickerState;
}

/** Where the global setup builds the demo (examples/browser/vite.config.ts). */
const demoDir = resolve(import.meta.dirname, '../../dist/demo');
const shots = resolve(import.meta.dirname, '../../out/browser');
const missing = chromiumMissing();

let browser: Browser | null = null;
let server: Server | null = null;
/** The demo under a sub-path of a plain static server: no COOP/COEP headers, as GitHub Pages serves it. */
let subPathUrl = '';

const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.bin': 'application/octet-stream' };

/** A static file server for `root` (what `python3 -m http.server` does), on a free port. */
async function staticServer(root: string): Promise<{ server: Server; url: string }> {
  const s = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const file = resolve(root, `.${path.endsWith('/') ? `${path}index.html` : path}`);
    const body = file.startsWith(root + sep) ? await readFile(file).catch(() => null) : null;
    if (!body) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': types[extname(file)] ?? 'application/octet-stream' }).end(body);
  });
  await new Promise<void>((done) => s.listen(0, '127.0.0.1', done));
  const address = s.address();
  if (address === null || typeof address === 'string') throw new Error('staticServer: no port');
  return { server: s, url: `http://127.0.0.1:${address.port}/` };
}

beforeAll(async () => {
  if (missing) return;
  await mkdir(shots, { recursive: true });
  browser = await launchChromium();
  const served = await staticServer(dirname(demoDir));
  server = served.server;
  subPathUrl = `${served.url}${basename(demoDir)}/`;
});
afterAll(async () => {
  await browser?.close();
  await new Promise((done) => (server ? server.close(done) : done(undefined)));
});

const demo = (page: Page) => ({
  status: () => page.evaluate(() => (window as unknown as { striateDemo: DemoHooks }).striateDemo.status()),
  availability: () => page.evaluate(() => (window as unknown as { striateDemo: DemoHooks }).striateDemo.availability()),
  picker: () => page.evaluate(() => (window as unknown as { striateDemo: DemoHooks }).striateDemo.picker()),
});

async function open(url: string, viewport = { width: 1280, height: 860 }): Promise<{ page: Page; errors: string[]; failed: string[] }> {
  const page = await browser!.newPage({ viewport });
  const errors = pageErrors(page);
  const failed: string[] = [];
  page.on('response', (r) => {
    if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
  });
  page.on('requestfailed', (r) => failed.push(`${r.failure()?.errorText} ${r.url()}`));
  await page.goto(url);
  return { page, errors, failed };
}

/** Wait until the demo is ready, or has given up with an error (then fail, quoting it). */
async function waitReady(page: Page): Promise<void> {
  await page.waitForFunction(
    () => (window as unknown as { striateDemo?: DemoHooks }).striateDemo?.ready === true || document.getElementById('status')?.dataset.phase === 'error',
    null,
    { timeout: 60_000 },
  );
  const phase = await page.locator('#status').getAttribute('data-phase');
  if (phase === 'error') throw new Error(`the demo stopped with: ${await page.locator('#status-text').textContent()}`);
}

/** Wait until the picker has finished timing the backends; returns what it found and how long that took. */
async function waitMeasured(page: Page): Promise<{ state: PickerState; seconds: number }> {
  const started = Date.now();
  await page.waitForFunction(() => !(window as unknown as { striateDemo: DemoHooks }).striateDemo.picker().measuring, null, { timeout: 60_000 });
  return { state: await demo(page).picker(), seconds: (Date.now() - started) / 1000 };
}

/** The timed backends, fastest first. */
function ranked(state: PickerState): { backend: BrowserBackend; imagesPerSecond: number }[] {
  return Object.values(state.measurements)
    .flatMap((m) => (m && 'rate' in m ? [m.rate] : []))
    .sort((a, b) => b.imagesPerSecond - a.imagesPerSecond);
}

describe.skipIf(missing !== null)('the demo hosted as static files', () => {
  it('works under a sub-path of a plain static server (/demo/, as on GitHub Pages), and trains', async () => {
    const { page, errors, failed } = await open(subPathUrl);
    try {
      await waitReady(page);
      expect(failed, 'requests that failed').toEqual([]);
      expect(await page.locator('#status').getAttribute('data-phase')).toBe('idle');
      // Without cross-origin isolation the threaded backend is off, and the page says why.
      expect((await demo(page).availability())['webasm-threads']).toMatch(/SharedArrayBuffer/);
      expect(await page.locator('#backend-notes').textContent()).toMatch(/SharedArrayBuffer/);
      await page.click('[data-backend="webasm"]');
      await page.click('#train');
      await expect.poll(async () => (await demo(page).status()).step, { timeout: 60_000 }).toBeGreaterThanOrEqual(3);
      expect((await demo(page).status()).phase).toBe('running');
      await page.click('#train');
      expect(errors, 'the page logged errors').toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('says what went wrong when the MNIST subset cannot be fetched, instead of "Loading…"', async () => {
    const page = await browser!.newPage();
    try {
      await page.route('**/mnist-subset.bin', (r) => r.fulfill({ status: 404, body: 'not found' }));
      await page.goto(subPathUrl);
      await page.waitForSelector('#status[data-phase="error"]', { timeout: 60_000 });
      const text = await page.locator('#status-text').textContent();
      console.log(`status with the data missing: ${text}`);
      expect(text).toContain(`${subPathUrl}mnist-subset.bin`);
      expect(text).toContain('404');
    } finally {
      await page.close();
    }
  });

  it("says what went wrong when the page's script cannot be loaded", async () => {
    const page = await browser!.newPage();
    try {
      await page.route('**/assets/*.js', (r) => r.fulfill({ status: 404, body: 'not found' }));
      await page.goto(subPathUrl);
      await page.waitForSelector('#status[data-phase="error"]', { timeout: 30_000 });
      const text = await page.locator('#status-text').textContent();
      console.log(`status with the script missing: ${text}`);
      expect(text).toMatch(new RegExp(`could not load ${subPathUrl}assets/.+\\.js`));
    } finally {
      await page.close();
    }
  });
});

describe.skipIf(missing !== null)('the default backend, picked by measuring', () => {
  it('times the backends, picks the fastest, and shows every rate on the picker', async () => {
    const { page, errors } = await open(inject('demoUrl'));
    try {
      await waitReady(page);
      const { state, seconds } = await waitMeasured(page);
      const order = ranked(state);
      console.log(
        `measured in ${seconds.toFixed(1)} s after ready: ${order.map((r) => `${r.backend} ${Math.round(r.imagesPerSecond)} img/s`).join(', ')}; ` +
          `${await page.locator('#backend-choice').textContent()}`,
      );
      expect(state.pickedBy).toBe('measurement');
      expect(order.length, 'at least one backend was timed').toBeGreaterThan(0);
      expect((await demo(page).status()).backend).toBe(order[0].backend);
      expect(await page.locator(`[data-backend="${order[0].backend}"]`).getAttribute('aria-checked')).toBe('true');
      // Every usable backend was timed, or set aside as a software GPU; each button shows what was found.
      const availability = await demo(page).availability();
      for (const [backend, reason] of Object.entries(availability)) {
        const shown = (await page.locator(`[data-backend="${backend}"] .rate`).textContent()) ?? '';
        const m = state.measurements[backend as BrowserBackend];
        if (reason !== null) {
          expect(m, `${backend} is unavailable and not timed`).toBeUndefined();
          continue;
        }
        expect(m, `${backend} has a measurement`).toBeDefined();
        if ('rate' in m!) expect(shown).toBe(`${Math.round(m.rate.imagesPerSecond).toLocaleString('en-US')} img/s`);
        else if ('skipped' in m!) expect(shown).toBe('software');
        else expect(shown).toBe('failed');
      }
      const note = (await page.locator('#backend-choice').textContent()) ?? '';
      expect(note).toContain('fastest');
      expect(note).toContain(await page.locator(`[data-backend="${order[0].backend}"]`).evaluate((b) => b.firstChild!.textContent!));
      expect(errors, 'the page logged errors').toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('keeps the backend asked for in the address, and still shows the rates', async () => {
    // CPU, the plain-JavaScript backend, is slower than wasm everywhere: the measurement would not pick it.
    const { page } = await open(`${inject('demoUrl')}?backend=cpu`);
    try {
      await waitReady(page);
      const { state } = await waitMeasured(page);
      expect(ranked(state)[0].backend, 'the measurement found a faster backend than the one asked for').not.toBe('cpu');
      expect(state.pickedBy).toBe('url');
      expect((await demo(page).status()).backend).toBe('cpu');
      expect(await page.locator('#backend-choice').textContent()).toContain('?backend=cpu');
      expect(await page.locator('[data-backend="cpu"] .rate').textContent()).toMatch(/^[\d,]+ img\/s$/);
    } finally {
      await page.close();
    }
  });

  it('keeps a backend clicked while the measurement runs: the page answers meanwhile', async () => {
    const { page } = await open(inject('demoUrl'));
    try {
      await waitReady(page);
      // One task in the page: click, and note whether the measurement was still running then.
      const during = await page.evaluate(() => {
        const demo = (window as unknown as { striateDemo: DemoHooks }).striateDemo;
        const measuring = demo.picker().measuring;
        document.querySelector<HTMLButtonElement>('[data-backend="cpu"]')!.click();
        return measuring;
      });
      if (!during) console.warn('the measurement was over before the click; the click was still checked');
      const { state } = await waitMeasured(page);
      expect(ranked(state)[0].backend).not.toBe('cpu');
      expect(state.pickedBy).toBe('click');
      expect((await demo(page).status()).backend).toBe('cpu');
    } finally {
      await page.close();
    }
  });

  it('stops measuring when training starts, and trains', async () => {
    const { page, errors } = await open(inject('demoUrl'));
    try {
      await waitReady(page);
      await page.click('#train');
      await expect.poll(async () => (await demo(page).status()).step, { timeout: 90_000 }).toBeGreaterThanOrEqual(2);
      const state = await demo(page).picker();
      expect(state.measuring).toBe(false);
      if (state.stopped) expect(await page.locator('#backend-choice').textContent()).toContain('Training started before');
      await page.click('#train');
      expect(errors, 'the page logged errors').toEqual([]);
    } finally {
      await page.close();
    }
  });
});

/** Elements whose right edge is past the viewport, with their sizes, to name in a failure. */
const overflowing = (page: Page) =>
  page.evaluate(() => {
    const out: string[] = [];
    for (const el of document.querySelectorAll<HTMLElement>('body *')) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > innerWidth + 0.5) out.push(`${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}.${el.className} right ${Math.round(r.right)}`);
    }
    return { scroll: document.documentElement.scrollWidth - innerWidth, elements: out.slice(0, 12) };
  });

/** Width of each chart's plot and of the box it sits in. */
const chartWidths = (page: Page) =>
  page.evaluate(() =>
    ['loss-chart', 'accuracy-chart'].map((id) => {
      const el = document.getElementById(id)!;
      return { id, box: el.clientWidth, plot: el.querySelector('.uplot')!.getBoundingClientRect().width };
    }),
  );

describe.skipIf(missing !== null)('the demo on a phone', () => {
  it('fits 390 px: nothing sticks out, every picker button shows, the charts have axes before training', async () => {
    const { page } = await open(inject('demoUrl'), { width: 390, height: 844 });
    try {
      await waitReady(page);
      expect(await overflowing(page)).toEqual({ scroll: 0, elements: [] });
      for (const b of await page.locator('#backends button').all()) {
        const box = (await b.boundingBox())!;
        expect(box.x, `${await b.textContent()} starts inside the page`).toBeGreaterThanOrEqual(0);
        expect(box.x + box.width, `${await b.textContent()} ends inside the page`).toBeLessThanOrEqual(390);
      }
      for (const c of await chartWidths(page)) expect(c.plot, `${c.id} fits its box`).toBeLessThanOrEqual(c.box + 1);
      // The loss chart, empty at load, still draws both axes (dark tick labels left of and below the plot) and says what will appear.
      const inked = await page.evaluate(() => {
        const canvas = document.querySelector<HTMLCanvasElement>('#loss-chart canvas')!;
        const { width, height } = canvas;
        const px = canvas.getContext('2d')!.getImageData(0, 0, width, height).data;
        const plot = document.querySelector('#loss-chart .u-over')!.getBoundingClientRect();
        const box = canvas.getBoundingClientRect();
        const [left, bottom] = [((plot.left - box.left) / box.width) * width, ((plot.bottom - box.top) / box.height) * height];
        const dark = { yAxis: 0, xAxis: 0 };
        for (let y = 0; y < height; y++) {
          for (let x = 0; x < width; x++) {
            const i = (y * width + x) * 4;
            if (px[i + 3] === 0 || px[i] >= 128) continue;
            if (x < left && y < bottom) dark.yAxis++;
            else if (y > bottom) dark.xAxis++;
          }
        }
        return dark;
      });
      expect(inked.yAxis, 'dark pixels left of the empty loss plot (the loss axis)').toBeGreaterThan(50);
      expect(inked.xAxis, 'dark pixels below the empty loss plot (the step axis)').toBeGreaterThan(50);
      expect(await page.locator('#loss-chart').getAttribute('data-empty')).toMatch(/Press Train/);
      // The measured rates make the picker's buttons wider: still nothing sticks out.
      await waitMeasured(page);
      expect(await overflowing(page)).toEqual({ scroll: 0, elements: [] });
      await page.screenshot({ path: resolve(shots, 'demo-390.png'), fullPage: true });
    } finally {
      await page.close();
    }
  });

  it('follows a resize from 1280 px to 390 px: the charts shrink with the page', async () => {
    const { page } = await open(inject('demoUrl'), { width: 1280, height: 860 });
    try {
      await waitReady(page);
      const wide = await chartWidths(page);
      await page.setViewportSize({ width: 390, height: 844 });
      await expect.poll(() => overflowing(page), { timeout: 5000 }).toEqual({ scroll: 0, elements: [] });
      const narrow = await chartWidths(page);
      console.log(`chart widths at 1280 px: ${wide.map((c) => Math.round(c.plot)).join(', ')}; at 390 px: ${narrow.map((c) => Math.round(c.plot)).join(', ')}`);
      for (const c of narrow) {
        expect(c.plot, `${c.id} fits its box`).toBeLessThanOrEqual(c.box + 1);
        expect(c.plot, `${c.id} fills its box`).toBeGreaterThan(0.9 * c.box);
      }
    } finally {
      await page.close();
    }
  });
});
