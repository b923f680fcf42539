/**
 * The NaN cases (nan-cases.ts; the Node suite is test/backend/nan.test.ts) in
 * Chromium, on each browser backend against the float64 reference, one test
 * per case, and one lifecycle check (disposing a graph beside a live one). The page script (nan-page.ts) is bundled here with esbuild and
 * added to the served conformance page, so that it runs on the same origin
 * with the same headers. A backend the browser does not have is skipped with
 * the reason, or fails when STRIATE_REQUIRE_BROWSER_BACKENDS names it.
 */
import { resolve } from 'node:path';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BrowserBackend } from '../../examples/browser/backends.js';
import { chromiumMissing, judgeBrowserBackend, launchChromium, pageErrors } from './chromium.js';
import { nanCases } from './nan-cases.js';
import type { NanBackendResult } from './nan-page.js';

const backends: BrowserBackend[] = ['webgl2', 'webgpu', 'webasm', 'webasm-threads', 'cpu', 'webgl'];
const missing = chromiumMissing();
let browser: Browser | null = null;
let script = '';

beforeAll(async () => {
  if (missing) return;
  const bundle = await build({
    entryPoints: [resolve(import.meta.dirname, 'nan-page.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'error',
    // as Vite's production build does (immer and test/helpers.ts read process.env)
    define: { 'process.env.NODE_ENV': '"production"', 'process.env': '{}' },
  });
  script = bundle.outputFiles[0].text;
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe.each(backends)('Chromium, backend %s: NaN', (backend) => {
  let result: NanBackendResult | null = null;
  let failure: string | null = null;

  beforeAll(async () => {
    if (!browser) return;
    const page = await browser.newPage();
    const errors = pageErrors(page);
    try {
      await page.goto(new URL('conformance.html', inject('testsUrl')).href);
      await page.addScriptTag({ content: script, type: 'module' });
      await page.waitForFunction(() => window.striateNan?.ready === true, null, { timeout: 30_000 });
      result = await page.evaluate((b) => window.striateNan.run(b), backend);
      const passed = result.cases.filter((c) => c.error === null).length;
      console.log(result.unavailable ? `${backend}: not available: ${result.unavailable}` : `${backend}: ${passed}/${result.cases.length} NaN cases pass`);
    } catch (e) {
      failure = `${(e as Error).message}${errors.length ? `\npage errors:\n${errors.join('\n')}` : ''}`;
    } finally {
      await page.close();
    }
  });

  it('is available, or skipped with the reason', () => {
    judgeBrowserBackend(backend, 'NaN', { missing, failure, unavailable: result?.unavailable });
  });

  it.for(nanCases.map((c) => c.name))('%s: the same NaNs as the reference', (name, { skip }) => {
    if (!result || result.unavailable !== null) return skip(); // why is reported by the test above
    const r = result.cases.find((c) => c.name === name);
    expect(r, `the page reported no result for "${name}"`).toBeDefined();
    if (r!.error !== null) throw new Error(`${backend}: ${name}: ${r!.error}`);
    for (const note of r!.notes) console.info(`${name}: ${note}`);
  });

  it('disposing one graph leaves another live graph correct and frees its buffers at once', ({ skip }) => {
    if (!result || result.unavailable !== null) return skip();
    expect(result.dispose).toBeNull();
  });
});
