import { defineConfig } from 'vitest/config';
import { striateAlias } from './scripts/striate-alias.js';

export default defineConfig({
  resolve: { alias: striateAlias },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/display.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    // The memory tests call global.gc() so that resident-memory readings are not garbage waiting for collection.
    pool: 'forks',
    poolOptions: { forks: { execArgv: ['--expose-gc'] } },
  },
});
