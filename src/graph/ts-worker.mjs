// Starts a worker thread whose body is a TypeScript module of this source
// tree (workerData.url), by registering tsx first: used only when Striate
// runs from its sources (tsx, vitest); the package's dist starts the built
// .js bodies directly. See threads.ts.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.url);
