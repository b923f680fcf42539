/**
 * Inside this repository, `import … from 'striate'` and `'striate/node'` mean
 * the sources, so that examples, tests and the demo read exactly as a user's
 * code does. tsconfig.json's `paths` say the same to tsc and tsx; this is the
 * same map for Vite and Vitest. (Node's own self-reference would go to the
 * built dist/ instead, which only the consumer test uses.)
 */
import { resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '..');

export const striateAlias = [
  { find: /^striate$/, replacement: resolve(repo, 'src/index.ts') },
  { find: /^striate\/node$/, replacement: resolve(repo, 'src/node.ts') },
];
