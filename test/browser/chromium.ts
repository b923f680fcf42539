/**
 * Debian's Chromium driven by playwright-core (no browser download): the
 * flags that give a headless, GPU-less machine WebGL2 and WebGPU through
 * SwiftShader. Measured with Chromium 156 on Debian 12:
 * - WebGL2 works with these flags (ANGLE on SwiftShader's Vulkan).
 * - WebGPU needs `--enable-unsafe-webgpu` (without it requestAdapter()
 *   resolves to null on Linux) and a secure context: http://localhost pages
 *   get a SwiftShader adapter, about:blank and setContent() pages have no
 *   navigator.gpu. `--enable-features=Vulkan` or
 *   `--use-webgpu-adapter=swiftshader` are not needed.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';

export const chromiumPath = process.env.STRIATE_CHROMIUM ?? '/usr/bin/chromium';

export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--enable-unsafe-swiftshader',
  '--enable-unsafe-webgpu',
  '--use-angle=swiftshader',
];

/** Why Chromium cannot be started here, or null. */
export function chromiumMissing(): string | null {
  return existsSync(chromiumPath) ? null : `no Chromium at ${chromiumPath} (apt-get install chromium, or set STRIATE_CHROMIUM)`;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true });
}

/** Browser backends that must work (STRIATE_REQUIRE_BROWSER_BACKENDS=webgl2,webgpu,...); others skip when missing. */
export const requiredBrowserBackends = new Set(
  (process.env.STRIATE_REQUIRE_BROWSER_BACKENDS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

/** Collect the page's console errors and uncaught exceptions, to quote when a test fails. */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  return errors;
}

/** Strokes of a few digits, as polylines in the unit square (x right, y down). */
export const digitStrokes: Record<number, [number, number][][]> = {
  7: [
    [[0.22, 0.2], [0.5, 0.19], [0.78, 0.2], [0.66, 0.42], [0.54, 0.63], [0.45, 0.84]],
    [[0.36, 0.52], [0.72, 0.52]],
  ],
  3: [[[0.28, 0.22], [0.5, 0.15], [0.7, 0.24], [0.68, 0.4], [0.46, 0.5], [0.7, 0.6], [0.72, 0.76], [0.5, 0.86], [0.26, 0.78]]],
  2: [[[0.28, 0.3], [0.42, 0.17], [0.62, 0.18], [0.7, 0.34], [0.6, 0.52], [0.28, 0.82], [0.74, 0.82]]],
};

/** Draw a digit on a canvas with the mouse, as a person would (many small moves per stroke). */
export async function drawDigit(page: Page, selector: string, digit: keyof typeof digitStrokes): Promise<void> {
  // The mouse moves in viewport coordinates: bring the pad into view first (a click lower down may have scrolled it away).
  await page.locator(selector).scrollIntoViewIfNeeded();
  const box = await page.locator(selector).boundingBox();
  if (!box) throw new Error(`drawDigit: ${selector} is not visible`);
  const at = ([x, y]: [number, number]) => [box.x + x * box.width, box.y + y * box.height] as const;
  for (const stroke of digitStrokes[digit]) {
    await page.mouse.move(...at(stroke[0]));
    await page.mouse.down();
    for (let i = 1; i < stroke.length; i++) await page.mouse.move(...at(stroke[i]), { steps: 8 });
    await page.mouse.up();
  }
}

/**
 * The body of a browser suite's "is available, or skipped with the reason"
 * test for one backend: `missing` is why Chromium cannot run at all,
 * `failure` why the page failed, `unavailable` what the page said of the
 * backend (null: available; undefined: the page gave no result, an error).
 * A backend named in STRIATE_REQUIRE_BROWSER_BACKENDS must run.
 */
export function judgeBrowserBackend(
  backend: string,
  suite: string,
  { missing, failure, unavailable }: { missing: string | null; failure: string | null; unavailable: string | null | undefined },
): void {
  if (missing) {
    if (requiredBrowserBackends.has(backend)) throw new Error(`backend "${backend}" is required (STRIATE_REQUIRE_BROWSER_BACKENDS) but ${missing}`);
    console.warn(`skipping browser backend ${backend}: ${missing}`);
    return;
  }
  if (failure) throw new Error(`the ${suite} page failed on ${backend}: ${failure}`);
  if (unavailable === undefined) throw new Error(`the ${suite} page gave no result on ${backend}`);
  if (unavailable !== null) {
    if (requiredBrowserBackends.has(backend)) {
      throw new Error(`backend "${backend}" is required (STRIATE_REQUIRE_BROWSER_BACKENDS) but not available in Chromium: ${unavailable}`);
    }
    console.warn(`skipping browser backend ${backend}: ${unavailable}`);
  }
}
