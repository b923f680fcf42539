/**
 * ONNX Runtime's native build as the bench's reference contestant (Node
 * only: onnxruntime-node is a native addon, so this stays out of
 * lib/contest.ts, which the browser bench bundles).
 */
import os from 'node:os';
import { type Entry, type Env, INFER_BATCH, type Oracle, errText, summarizeCheck } from './contest.js';
import type { Params } from './lenet.js';
import { type TimingOptions, measureRate } from './measure.js';

/** Striate's LeNet-5 parameter names (lenet5()) for the bench's. */
const LENET5_NAMES: Record<string, string> = {
  c1w: 'conv1.w', c1b: 'conv1.b', c2w: 'conv2.w', c2b: 'conv2.b',
  f1w: 'fc1.w', f1b: 'fc1.b', f2w: 'fc2.w', f2b: 'fc2.b', f3w: 'fc3.w', f3b: 'fc3.b',
};

/**
 * ONNX Runtime's native CPU build (onnxruntime-node), inference only: the
 * bench's LeNet-5 and weights exported with Striate's exportOnnx, the same
 * logits checks as every contestant, then timed at the inference batch,
 * with its default threads (one per core) and full graph optimisation.
 */
export async function runOnnxRuntime(o: Oracle, opts: TimingOptions, env: Env): Promise<Entry> {
  const entry: Entry = { library: 'ONNX Runtime', backend: 'native cpu', ...(env.load1m ? { load1m: env.load1m() } : {}) };
  env.log('bench: ONNX Runtime native: check, infer, check');
  try {
    const ort = await import('onnxruntime-node');
    const { exportOnnx, lenet5, paramShapes } = await import('../../src/index.js');
    const model = lenet5();
    const shapes = paramShapes(model);
    const params = Object.fromEntries(Object.entries(LENET5_NAMES).map(([bench, name]) => [name, { shape: shapes[name], data: o.params[bench as keyof Params] }]));
    const t0 = performance.now();
    const session = await ort.InferenceSession.create(exportOnnx(model, params), { graphOptimizationLevel: 'all' });
    entry.firstMs = performance.now() - t0;
    entry.note = `onnxruntime-node ${ort.env.versions.node ?? ort.env.versions.common}, its default threads, ${os.availableParallelism()} cores`;
    entry.trainUnsupported = "inference only: onnxruntime-node has no training";
    const infer = async (x: Float32Array): Promise<Float32Array> => {
      const out = await session.run({ x: new ort.Tensor('float32', x, [INFER_BATCH, 1, 28, 28]) });
      return out[session.outputNames[0]].data as Float32Array;
    };
    try {
      const details = o.checkLogits([await infer(o.infer[0].x), await infer(o.infer[1].x)]);
      entry.infer = await measureRate(() => infer(o.nextInferBatch()), INFER_BATCH, opts).catch((e) => ({ error: errText(e) }));
      details.push(...o.checkLogits([await infer(o.infer[0].x), await infer(o.infer[1].x)], 'after timing: '));
      entry.check = summarizeCheck(details);
    } finally {
      await session.release();
    }
  } catch (e) {
    entry.check ??= { error: errText(e) };
    env.log(`bench: ONNX Runtime failed: ${errText(e)}`);
  }
  return entry;
}
