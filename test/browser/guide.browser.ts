/**
 * The README's "Build and train in the browser" example, run in Chromium:
 * guide.html calls `trainInPage` (examples/guide/train-in-browser.ts), which
 * trains a small conv net on 'webasm' and writes its progress into the page.
 * Checks what the README states: the model summary, one line per epoch, and
 * a final top-1 and top-5 error that agree with the last epoch's test
 * accuracy. Without Chromium the test is skipped with the reason, or fails
 * when STRIATE_REQUIRE_BROWSER_BACKENDS names webasm.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { chromiumMissing, launchChromium, pageErrors, requiredBrowserBackends } from './chromium.js';
import type { GuideOutcome } from './guide-page.js';

const missing = chromiumMissing();
let browser: Browser | null = null;

beforeAll(async () => {
  if (!missing) browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

it('trains in the page and writes the summary, each epoch and the test error into it', async ({ skip }) => {
  if (missing) {
    if (requiredBrowserBackends.has('webasm')) throw new Error(`backend "webasm" is required (STRIATE_REQUIRE_BROWSER_BACKENDS) but ${missing}`);
    console.warn(`skipping the browser guide: ${missing}`);
    return skip();
  }
  const page = await browser!.newPage();
  const errors = pageErrors(page);
  try {
    const started = Date.now();
    await page.goto(new URL('guide.html', inject('testsUrl')).href);
    await page.waitForFunction(() => window.striateGuide !== undefined, null, { timeout: 30_000 });
    const outcome: GuideOutcome = await page.evaluate(() => window.striateGuide);
    const log = await page.locator('#log').innerText();
    console.log(`${log}\n(${((Date.now() - started) / 1000).toFixed(1)} s in the page)`);
    if (outcome.error !== null) throw new Error(`trainInPage failed: ${outcome.error}`);
    expect(errors).toEqual([]);

    expect(log).toContain('stripes-net (input [N,1,16,16])');
    expect(log).toContain('total parameters: 2,826');
    const epochs = [...log.matchAll(/^epoch (\d+): test accuracy ([\d.]+)%/gm)];
    expect(epochs.map((m) => Number(m[1]))).toEqual([1, 2, 3]);
    const last = Number(epochs[2][2]) / 100;
    // As in Node (train-your-own.ts): about 95% after three epochs, chance being 10%.
    expect(last).toBeGreaterThan(0.85);
    expect(outcome.count).toBe(500);
    // evaluate() on the final parameters measures what the last epoch's evaluation measured.
    expect(outcome.top1Error).toBeCloseTo(1 - last, 6);
    expect(outcome.top5Error).toBeLessThanOrEqual(outcome.top1Error);
    const pct = (v: number) => (100 * v).toFixed(1);
    expect(log).toContain(`test error: top-1 ${pct(outcome.top1Error)}%, top-5 ${pct(outcome.top5Error)}% (500 images)`);
  } catch (e) {
    if (errors.length) (e as Error).message += `\npage errors:\n${errors.join('\n')}`;
    throw e;
  } finally {
    await page.close();
  }
});
