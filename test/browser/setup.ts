/**
 * Global setup of `npm run test:browser`: make the MNIST subset, build the
 * demo and the test pages with Vite (production builds, so the tests check
 * the bundle a visitor gets), and serve both on localhost with the
 * cross-origin isolation headers. The test files read the URLs with
 * `inject('demoUrl')` and `inject('testsUrl')`.
 */
import { resolve } from 'node:path';
import { build, preview, type PreviewServer } from 'vite';
import type { TestProject } from 'vitest/node';
import { ensureMnistSubset } from '../../scripts/mnist-subset.js';

declare module 'vitest' {
  export interface ProvidedContext {
    demoUrl: string;
    testsUrl: string;
  }
}

const repo = resolve(import.meta.dirname, '../..');
const servers: PreviewServer[] = [];

async function buildAndServe(configFile: string): Promise<string> {
  const started = performance.now();
  await build({ configFile, logLevel: 'warn' });
  const server = await preview({ configFile, logLevel: 'warn', preview: { port: 0, strictPort: false, host: '127.0.0.1' } });
  servers.push(server);
  const url = server.resolvedUrls?.local[0];
  if (!url) throw new Error(`test:browser: vite preview of ${configFile} printed no URL`);
  console.log(`built and serving ${configFile.replace(`${repo}/`, '')} at ${url} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  return url;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const subset = await ensureMnistSubset();
  console.log(`MNIST subset: ${subset.made ? 'made' : 'up to date'} (${(subset.bytes / 1e6).toFixed(2)} MB)`);
  project.provide('demoUrl', await buildAndServe(resolve(repo, 'examples/browser/vite.config.ts')));
  project.provide('testsUrl', await buildAndServe(resolve(repo, 'test/browser/vite.config.ts')));
  return async () => {
    await Promise.all(servers.map((s) => s.close()));
  };
}
