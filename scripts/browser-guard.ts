/**
 * A Vite plugin that fails a browser build when a Node-only module reaches
 * it: a Node built-in (`fs`, `node:os`, ...), a package that only runs in
 * Node (pngjs, the native `gl` and `webgpu` packages), or one of Striate's
 * Node-only files. Vite would otherwise replace a built-in with an empty stub
 * and only warn, and the page would fail later, at run time, far from the
 * import that caused it.
 *
 * Dynamic imports whose specifier is not a literal (node-webgpu.ts's
 * `importInNode`) are invisible here by design: they only run in Node.
 */
import { builtinModules } from 'node:module';
import { relative, resolve } from 'node:path';
import type { Plugin } from 'vite';

const repo = resolve(import.meta.dirname, '..');

/** Packages that cannot run in a browser. */
const nodePackages = new Set(['pngjs', 'gl', 'webgpu', 'cli-progress']);

/** Striate's own files that import Node modules (fs, zlib, child_process): never part of a browser bundle. */
const nodeFiles = new Set(['src/data/mnist.ts', 'src/train/checkpoint.ts', 'src/viz/render.ts', 'src/node.ts'].map((f) => resolve(repo, f)));

const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/**
 * Built-ins that a package asks for inside a guard of its own, and works
 * without: the package file, the built-in, and why it is safe. These resolve
 * to `export default null` (what the guard sees when the built-in is absent)
 * instead of failing the build.
 */
const guardedBuiltins: ReadonlyArray<{ file: string; builtin: string; why: string }> = [
  {
    file: 'node_modules/protobufjs/src/util/fs.js',
    builtin: 'fs',
    why: 'protobufjs/light (ONNX) requires fs in a try/catch and uses it only to load .proto files, which Striate never does',
  },
];

const absent = '\0striate-absent-builtin';

function packageName(id: string): string {
  const parts = id.split('/');
  return id.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

export function browserGuard(): Plugin {
  const fail = (what: string, importer: string | undefined): never => {
    const from = importer ? relative(repo, importer) : 'the entry';
    throw new Error(`browser build: ${from} imports ${what}, which only runs in Node; keep it out of the browser bundle (see src/node.ts)`);
  };
  return {
    name: 'striate-browser-guard',
    enforce: 'pre',
    async resolveId(id, importer, options) {
      if (id.startsWith('\0') || id.startsWith('/@') || id.startsWith('virtual:')) return null;
      if (importer && guardedBuiltins.some((g) => g.builtin === id && importer.split('?')[0] === resolve(repo, g.file))) return absent;
      if (builtins.has(id) || builtins.has(id.split('/')[0])) fail(`the Node built-in "${id}"`, importer);
      if (!id.startsWith('.') && !id.startsWith('/') && nodePackages.has(packageName(id))) fail(`the Node-only package "${id}"`, importer);
      if (id.startsWith('.') && importer) {
        const resolved = await this.resolve(id, importer, { ...options, skipSelf: true });
        const file = resolved?.id.split('?')[0];
        if (file && nodeFiles.has(file)) fail(`the Node-only module ${relative(repo, file)}`, importer);
        return resolved;
      }
      return null;
    },
    load(id) {
      return id === absent ? 'export default null;' : null;
    },
  };
}
