/**
 * Worker threads for Striate's own thread bodies (augmentation workers, the
 * data-parallel executor): Node's `worker_threads` where there is one, and
 * how to start a body from the sources (through tsx) or from the built
 * package (its .js file beside the chunk that starts it).
 */
import type { Worker as NodeWorker } from 'node:worker_threads';

/** Node's `worker_threads` module. */
export type WorkerThreads = typeof import('node:worker_threads');

/** Node's worker_threads, or null where there is none (a browser, Node before 20.16). */
export function workerThreads(): WorkerThreads | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown; versions?: { node?: string } } }).process;
  if (typeof proc?.versions?.node !== 'string' || typeof proc.getBuiltinModule !== 'function') return null;
  return proc.getBuiltinModule('node:worker_threads') as WorkerThreads;
}

/** The cores this process may use (Node's os.availableParallelism), or null where that cannot be told. */
export function availableCores(): number | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const os = proc?.getBuiltinModule?.('node:os') as { availableParallelism?: () => number } | undefined;
  return typeof os?.availableParallelism === 'function' ? os.availableParallelism() : null;
}

/**
 * Start the thread body `body` (a file name without extension, beside the
 * module whose `import.meta.url` is `here`): `<body>.ts` through tsx when
 * Striate runs from its sources, `<body>.js` from the built package. The
 * thread gets no execArgv of this process (tsx's loader flags would not
 * reach it anyway).
 */
export function startWorker(wt: WorkerThreads, here: string, body: string): NodeWorker {
  // Resolved at run time (a page's bundler, which never starts these, does
  // not see the pattern it would try to resolve).
  const self = import.meta.url;
  const fromSources = here.endsWith('.ts');
  return fromSources
    ? new wt.Worker(new URL('./ts-worker.mjs', self), { workerData: { url: new URL(`./${body}.ts`, here).href }, execArgv: [] })
    : new wt.Worker(new URL(`./${body}.js`, here), { execArgv: [] });
}
