/**
 * A screenshot of the demo for the README: build it, serve it, train in
 * Chromium for a while, draw a digit, and save the page.
 *
 *   tsx scripts/demo-screenshot.ts [--backend webasm-threads] [--seconds 60] [--out docs/demo.png] [--width 1320]
 *
 * `--backend fastest` leaves the choice to the page, which times the backends
 * and trains on the fastest (the default a visitor gets).
 */
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build, preview } from 'vite';
import { drawDigit, launchChromium, pageErrors } from '../test/browser/chromium.js';
import { ensureMnistSubset } from './mnist-subset.js';

const repo = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'webasm-threads' },
    seconds: { type: 'string', default: '60' },
    out: { type: 'string', default: 'docs/demo.png' },
    width: { type: 'string', default: '1320' },
    digit: { type: 'string', default: '7' },
    'no-build': { type: 'boolean', default: false },
  },
});

await ensureMnistSubset();
const configFile = resolve(repo, 'examples/browser/vite.config.ts');
if (!values['no-build']) await build({ configFile, logLevel: 'warn' });
const server = await preview({ configFile, logLevel: 'warn', preview: { port: 0, host: '127.0.0.1' } });
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: Number(values.width), height: 900 }, deviceScaleFactor: 1 });
  const errors = pageErrors(page);
  const query = values.backend === 'fastest' ? '?autostart' : `?backend=${encodeURIComponent(values.backend!)}&autostart`;
  await page.goto(`${server.resolvedUrls!.local[0]}${query}`);
  await page.waitForFunction(() => (window as unknown as { striateDemo?: { ready: boolean } }).striateDemo?.ready === true, null, { timeout: 60_000 });
  const started = Date.now();
  while (Date.now() - started < Number(values.seconds) * 1000) {
    await page.waitForTimeout(5000);
    const s = await page.evaluate(() => (window as unknown as { striateDemo: { status(): { phase: string; step: number; epoch: number } } }).striateDemo.status());
    console.log(`${((Date.now() - started) / 1000).toFixed(0)} s: ${s.phase}, step ${s.step}, epoch ${s.epoch}`);
    if (s.phase === 'error' || s.phase === 'done') break;
  }
  await drawDigit(page, '#pad', Number(values.digit) as 7);
  await page.waitForTimeout(800);
  const out = resolve(repo, values.out!);
  await mkdir(dirname(out), { recursive: true });
  await page.screenshot({ path: out, fullPage: true });
  console.log(`saved ${out}${errors.length ? `\npage errors:\n${errors.join('\n')}` : ''}`);
} finally {
  await browser.close();
  await server.close();
}
