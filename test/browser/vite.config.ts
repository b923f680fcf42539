/** Builds the browser test pages (test/browser/*.html) into dist/browser-tests. */
import { resolve } from 'node:path';
import { defineConfig } from 'vite';
import { browserGuard } from '../../scripts/browser-guard.js';
import { striateAlias } from '../../scripts/striate-alias.js';
import { isolationHeaders } from '../../examples/browser/vite.config.js';

const here = import.meta.dirname;

export default defineConfig({
  root: here,
  logLevel: 'warn',
  plugins: [browserGuard()],
  resolve: { alias: striateAlias },
  server: { headers: isolationHeaders },
  preview: { headers: isolationHeaders },
  build: {
    outDir: resolve(here, '../../dist/browser-tests'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    rollupOptions: { input: { conformance: resolve(here, 'conformance.html'), guide: resolve(here, 'guide.html') } },
  },
});
