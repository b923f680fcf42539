/**
 * The body of one thread of a data-parallel function (parallel.ts): it is
 * sent the graph of one part of the batch and its shared buffers once,
 * compiles the graph for its backend, and then runs it each time the
 * REQUEST word moves on, on the inputs this thread finds in the shared
 * buffer, writing its outputs to the other before it moves DONE. A mistake
 * comes back as the StriateError's fields, for the main thread to throw
 * again.
 */
import { parentPort } from 'node:worker_threads';
import { errorFields } from '../graph/error.js';
import { graphFromMessage } from '../graph/message.js';
import { compile } from './compile.js';
import { DONE, FAILED, REQUEST, waitWhile, type ParallelReply, type ParallelRequest } from './parallel.js';

if (parentPort === null) throw new Error('parallel-worker: this module is the body of a worker thread; it is started by compileParallel');
const port = parentPort;

const post = (reply: ParallelReply): void => port.postMessage(reply);

let started = false;
// A listener for the life of the thread: it keeps the thread's event loop
// alive while it sleeps on the control words (a pending Atomics.waitAsync
// does not). Only the first message is a request.
port.on('message', (request: ParallelRequest) => {
  if (started) return;
  started = true;
  void (async () => {
    let fn;
    try {
      fn = compile(graphFromMessage('compileParallel', request.graph), { backend: request.backend });
    } catch (e) {
      post({ type: 'error', generation: null, error: errorFields(e) });
      return;
    }
    const control = new Int32Array(request.control);
    const inputs = new Float32Array(request.inputs);
    const outputs = new Float32Array(request.outputs);
    const feeds = Object.fromEntries(request.layout.inputs.map(({ name, offset, length }) => [name, inputs.subarray(offset, offset + length)]));
    // Generation 0: nothing asked yet (this thread writes the first request only after 'ready').
    let seen = 0;
    post({ type: 'ready' });
    for (;;) {
      seen = await waitWhile(control, REQUEST, seen, request.spinMs);
      let failed = 0;
      try {
        const results = await fn.run(feeds);
        results.forEach((r, k) => outputs.set(r.data, request.layout.outputs[k].offset));
      } catch (e) {
        failed = 1;
        post({ type: 'error', generation: seen, error: errorFields(e) });
      }
      Atomics.store(control, FAILED, failed);
      Atomics.store(control, DONE, seen);
      Atomics.notify(control, DONE);
    }
  })();
});
