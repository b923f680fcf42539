/**
 * The browser demo: `npm run demo` serves it (dev server), `vite build` with
 * this config writes it to dist/demo. Both are cross-origin isolated
 * (COOP/COEP), which SharedArrayBuffer, and so gpu.js's threaded wasm
 * backend ('webasm-threads'), needs.
 *
 * The build refers to its files relatively (`base: './'`), and the page
 * fetches the MNIST subset relative to itself, so dist/demo works from any
 * path: `/`, or `/demo/` on GitHub Pages.
 */
import { resolve } from 'node:path';
import { defineConfig } from 'vite';
import { browserGuard } from '../../scripts/browser-guard.js';
import { striateAlias } from '../../scripts/striate-alias.js';

const here = import.meta.dirname;

/** Cross-origin isolation: the page may use SharedArrayBuffer (threaded wasm). */
export const isolationHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  root: here,
  base: './',
  plugins: [browserGuard()],
  // The look-inside workers (inspect-worker.ts) are ES modules, built with the same guard.
  worker: { format: 'es', plugins: () => [browserGuard()] },
  resolve: { alias: striateAlias },
  server: { headers: isolationHeaders, port: 5173, host: '127.0.0.1' },
  preview: { headers: isolationHeaders, port: 4173, host: '127.0.0.1' },
  build: {
    outDir: resolve(here, '../../dist/demo'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
  },
});
