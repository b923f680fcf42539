/**
 * `npm run test:browser`: Striate in real Chromium (Debian's, driven by
 * playwright-core). test/browser/setup.ts builds and serves the pages; each
 * *.browser.ts file opens them. Files run one after the other: each starts a
 * browser, and the machine is small.
 */
import { defineConfig } from 'vitest/config';
import { striateAlias } from './scripts/striate-alias.js';

export default defineConfig({
  resolve: { alias: striateAlias },
  test: {
    include: ['test/browser/**/*.browser.ts'],
    globalSetup: ['test/browser/setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    reporters: ['default', './test/browser/summary-reporter.ts'],
  },
});
