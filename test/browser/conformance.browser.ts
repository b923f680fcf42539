/**
 * The op conformance suite in Chromium: every case of test/backend/cases.ts,
 * forward and gradient, on each browser backend against the float64
 * reference, run in the page (test/browser/conformance-page.ts) and judged
 * here, one test per case. A backend the browser does not have is skipped
 * with the reason, or fails when STRIATE_REQUIRE_BROWSER_BACKENDS names it.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { opCases } from '../backend/cases.js';
import type { BrowserBackend } from '../../examples/browser/backends.js';
import { chromiumMissing, judgeBrowserBackend, launchChromium, pageErrors } from './chromium.js';
import type { BackendResult } from './conformance-page.js';

const backends: BrowserBackend[] = ['webgl2', 'webgpu', 'webasm', 'webasm-threads', 'cpu', 'webgl'];
const missing = chromiumMissing();
let browser: Browser | null = null;

beforeAll(async () => {
  if (!missing) browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe.each(backends)('Chromium, backend %s', (backend) => {
  let result: BackendResult | null = null;
  let errors: string[] = [];
  let failure: string | null = null;

  beforeAll(async () => {
    if (!browser) return;
    const page = await browser.newPage();
    errors = pageErrors(page);
    try {
      await page.goto(new URL('conformance.html', inject('testsUrl')).href);
      await page.waitForFunction(() => window.striateConformance?.ready === true, null, { timeout: 30_000 });
      result = await page.evaluate((b) => window.striateConformance.run(b), backend);
      const passed = result.cases.filter((c) => c.error === null).length;
      console.log(
        result.unavailable
          ? `${backend}: not available: ${result.unavailable}`
          : `${backend}: ${passed}/${result.cases.length} cases pass in ${(result.ms / 1000).toFixed(1)} s`,
      );
    } catch (e) {
      failure = `${(e as Error).message}${errors.length ? `\npage errors:\n${errors.join('\n')}` : ''}`;
    } finally {
      await page.close();
    }
  });

  it('is available, or skipped with the reason', () => {
    judgeBrowserBackend(backend, 'conformance', { missing, failure, unavailable: result?.unavailable });
  });

  it.for(opCases.map((c) => c.name))('%s matches the reference, forward and gradient', (name, { skip }) => {
    if (!result || result.unavailable !== null) return skip(); // why is reported by the test above
    const r = result.cases.find((c) => c.name === name);
    expect(r, `the page reported no result for "${name}"`).toBeDefined();
    if (r!.error !== null) throw new Error(`${backend}: ${name}: ${r!.error}`);
  });
});
