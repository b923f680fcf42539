/**
 * The body of one thread of a data-parallel function (parallel.ts): it is
 * sent the graph of one part of the batch once, compiles it for its backend,
 * and then runs it on each part it is sent, its results' buffers transferred
 * back. A mistake comes back as the StriateError's fields, for the main
 * thread to throw again.
 */
import { parentPort } from 'node:worker_threads';
import { StriateError } from '../graph/error.js';
import { graphFromMessage } from '../graph/message.js';
import { compile } from './compile.js';
import type { CompiledFunction } from './compiled.js';
import type { ParallelReply, ParallelRequest, WireError } from './parallel.js';

if (parentPort === null) throw new Error('parallel-worker: this module is the body of a worker thread; it is started by compileParallel');
const port = parentPort;
let fn: CompiledFunction | null = null;

function wire(e: unknown): WireError {
  const s = e instanceof StriateError ? e : null;
  return { message: (e as Error)?.message ?? String(e), op: s?.op ?? null, got: s?.got ?? '', expected: s?.expected ?? '' };
}

port.on('message', (request: ParallelRequest) => {
  void (async () => {
    let reply: ParallelReply;
    try {
      if (request.type === 'graph') {
        fn = compile(graphFromMessage('compileParallel', request.graph), { backend: request.backend });
        reply = { type: 'ready' };
      } else {
        if (fn === null) throw new Error('parallel-worker: a run before the graph');
        const results = await fn.run(request.feeds);
        const outputs = results.map((r) => r.data as Float32Array);
        reply = { type: 'result', id: request.id, outputs };
        port.postMessage(reply, outputs.map((o) => o.buffer as ArrayBuffer));
        return;
      }
    } catch (e) {
      reply = { type: 'error', id: request.type === 'run' ? request.id : null, error: wire(e) };
    }
    port.postMessage(reply);
  })();
});
