/**
 * `npm run build` (and `npm pack`, through `prepack`): the package's dist/.
 *
 *   dist/index.js, dist/node.js, dist/chunk-*.js   Node: ESM, code shared by the two entries in chunks
 *   dist/browser/index.js, dist/browser/**.js      browsers (the `browser` export condition): one ES module per
 *                                                  source module, so that a bundler drops what a page does not
 *                                                  use (the `nn` namespace's members included)
 *   dist/browser/vendor/gpu.js                     gpu.js for browsers, one ES module (see gpuJsForBrowsers)
 *   dist/types/**.d.ts                             declarations, from tsc
 *   dist/require.cjs                               require('striate'): Node's require(esm), or a clear error
 *   dist/THIRD-PARTY-NOTICES.md                    licences of the bundled code
 *
 * gpu.js is bundled in, with the parts of it that run (acorn, gpu-mock.js):
 * as a dependency it would install `webgpu@0.2.9` (84 MB, which gpu.js never
 * imports) and its optional `gl` (a native build of ANGLE) for every user.
 * Bundled, the default install is Striate, immer and rxjs; `gl` and `webgpu`
 * are optional peers that a user adds for the headlessgl and Node WebGPU
 * backends, and that the bundle `require`s only when those backends start.
 * Everything in `dependencies` and `peerDependencies` stays external.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { build, type BuildOptions, type Plugin } from 'esbuild';

const repo = resolve(import.meta.dirname, '..');
const require_ = createRequire(join(repo, 'package.json'));
const dist = join(repo, 'dist');
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
};

/** Bundled packages whose licences ship in THIRD-PARTY-NOTICES.md. */
const BUNDLED = ['gpu.js', 'acorn', 'gpu-mock.js'];

const external = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})].flatMap((name) => [
  name,
  `${name}/*`,
]);

const common: BuildOptions = {
  bundle: true,
  format: 'esm',
  target: 'es2022',
  external,
  legalComments: 'inline',
  logLevel: 'warning',
  metafile: true,
};

function step(what: string): () => void {
  const t0 = performance.now();
  return () => console.log(`build: ${what} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}

// The demo and the browser tests build into dist/ too (dist/demo, dist/browser-tests): leave them.
mkdirSync(dist, { recursive: true });
for (const file of readdirSync(dist)) if (/^(index|node|augment-worker|parallel-worker|chunk-.*)\.js$/.test(file)) rmSync(join(dist, file));
for (const sub of ['types', 'browser']) rmSync(join(dist, sub), { recursive: true, force: true });

let done = step('declarations (tsc)');
execFileSync(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', join(repo, 'tsconfig.build.json')], {
  stdio: 'inherit',
});
done();

done = step('Node bundle');
const nodeResult = await build({
  ...common,
  // augment-worker and parallel-worker: the bodies of augment({ workers })'s
  // threads and of compileParallel's (train({ threads })), which
  // src/graph/threads.ts starts as ./<body>.js beside the chunk that asks.
  entryPoints: {
    index: join(repo, 'src/index.ts'),
    node: join(repo, 'src/node.ts'),
    'augment-worker': join(repo, 'src/data/augment-worker.ts'),
    'parallel-worker': join(repo, 'src/backend/parallel-worker.ts'),
  },
  outdir: dist,
  platform: 'node',
  splitting: true,
  chunkNames: 'chunk-[hash]',
  // gpu.js's sources are CommonJS and load `gl` with require() inside a
  // try/catch; an ES module has no `require`, so the Node build makes one.
  banner: { js: "import { createRequire as __striateCreateRequire } from 'node:module';\nconst require = __striateCreateRequire(import.meta.url);" },
});
done();

/**
 * The browser bundle takes gpu.js from its CommonJS sources, as the Node
 * bundle does, instead of its prebuilt dist/gpu-browser.js, and leaves out
 * the two parts of gpu.js that Striate never calls:
 *   - `kernel.toString()`, which writes a kernel out as standalone JavaScript
 *     (the kernel-string modules, and the gl-wiretap recorder they use);
 *   - `mode: 'dev'`, which runs kernels as plain JavaScript (gpu-mock.js).
 * Either one, called in a browser, throws an Error that says so. The
 * Node-only modules gpu.js requires inside try/catch or Node-only branches
 * (`gl`, `os`, `worker_threads`) become empty modules, as gpu.js's own browser
 * build makes them. This saves about 6 KB gzip of a page's JavaScript.
 */
const gpuJsForBrowsers: Plugin = {
  name: 'gpu.js-for-browsers',
  setup(b) {
    const stubs = 'striate-gpujs-stub';
    b.onResolve({ filter: /^gpu\.js$/ }, () => ({ path: require_.resolve('gpu.js/src/browser.js') }));
    b.onResolve({ filter: /^(gl|os|worker_threads)$/ }, () => ({ path: 'empty', namespace: stubs }));
    b.onResolve({ filter: /^gpu-mock\.js$/ }, () => ({ path: 'gpu-mock', namespace: stubs }));
    b.onResolve({ filter: /\/kernel-string$/ }, (args) =>
      args.importer.includes('node_modules/gpu.js/src/backend/') ? { path: 'kernel-string', namespace: stubs } : undefined,
    );
    const missing = (what: string) => `function () { throw new Error(${JSON.stringify(`${what} is not in Striate's browser bundle of gpu.js`)}); }`;
    const contents: Record<string, string> = {
      empty: 'module.exports = {};',
      'gpu-mock': `module.exports = { gpuMock: ${missing("gpu.js's dev mode (mode: 'dev')")} };`,
      'kernel-string': `module.exports = { glKernelString: ${missing('kernel.toString()')}, cpuKernelString: ${missing('kernel.toString()')} };`,
    };
    b.onLoad({ filter: /.*/, namespace: stubs }, (args) => ({ contents: contents[args.path], loader: 'js' }));
  },
};

done = step('browser modules');
const browserDir = join(dist, 'browser');
const vendorGpuJs = join(browserDir, 'vendor/gpu.js');
// gpu.js, as one ES module whose default export is gpu.js's module.exports.
const vendorResult = await build({
  ...common,
  entryPoints: [require_.resolve('gpu.js/src/browser.js')],
  outfile: vendorGpuJs,
  platform: 'browser',
  plugins: [gpuJsForBrowsers],
});
// The modules of src/ that src/index.ts reaches, found by a bundle that is not written.
const reach = await build({ ...common, entryPoints: [join(repo, 'src/index.ts')], external: [...external, 'gpu.js'], platform: 'browser', write: false, outdir: browserDir });
const modules = Object.keys(reach.metafile!.inputs)
  .map((path) => resolve(repo, path))
  .filter((path) => path.startsWith(join(repo, 'src') + '/'));
/** Every import stays an import; `gpu.js` becomes the relative path of the vendored module. */
const oneModuleEach: Plugin = {
  name: 'one-module-each',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      if (args.path === 'gpu.js') {
        const out = join(browserDir, relative(join(repo, 'src'), args.importer));
        let path = relative(dirname(out), vendorGpuJs);
        if (!path.startsWith('.')) path = `./${path}`;
        return { path, external: true };
      }
      return { path: args.path, external: true };
    });
  },
};
await build({
  ...common,
  entryPoints: modules,
  outbase: join(repo, 'src'),
  outdir: browserDir,
  platform: 'browser',
  plugins: [oneModuleEach],
});
const browserResult = { metafile: { inputs: { ...vendorResult.metafile!.inputs, ...reach.metafile!.inputs } } };
done();

/** The bundled packages that really went in, with their licence texts. */
function notices(): string {
  const inputs = new Set([...Object.keys(nodeResult.metafile!.inputs), ...Object.keys(browserResult.metafile!.inputs)]);
  const used = BUNDLED.filter((name) => [...inputs].some((p) => p.includes(`node_modules/${name}/`)));
  const unexpected = [...inputs]
    .map((p) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(p)?.[1])
    .filter((name): name is string => name !== undefined && !BUNDLED.includes(name));
  if (unexpected.length) {
    throw new Error(`build: bundled packages without a licence notice: ${[...new Set(unexpected)].join(', ')}; add them to BUNDLED in scripts/build.ts or make them external`);
  }
  const sections = used.map((name) => {
    const dir = dirname(require_.resolve(`${name}/package.json`));
    const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string; license: string };
    const licence = readFileSync(join(dir, 'LICENSE'), 'utf8').trim();
    return `## ${name} ${meta.version} (${meta.license})\n\n\`\`\`\n${licence}\n\`\`\``;
  });
  return `# Third-party code bundled in Striate's dist/\n\n${sections.join('\n\n')}\n`;
}

writeFileSync(join(dist, 'THIRD-PARTY-NOTICES.md'), notices());
copyFileSync(join(repo, 'scripts/package/require.cjs'), join(dist, 'require.cjs'));
console.log('build: dist/ written');
