/**
 * Shared by the ONNX tests: running a file in ONNX Runtime, Striate's own
 * logits on the float64 reference backend, the relative difference the
 * tests hold to (1e-4), and reading a file's nodes back.
 */
import * as ort from 'onnxruntime-node';
import { expect } from 'vitest';
import { type Model, type Params, predict } from '../../src/index.js';
import { decodeModel, type ModelMessage } from '../../src/onnx/schema.js';

/** The tolerance of the issue: logits within 1e-4, relative to the largest logit. */
export const TOLERANCE = 1e-4;

/** The outputs of `bytes` in ONNX Runtime (CPU) for `x` of `shape` fed as `inputName`. */
export async function runOrt(bytes: Uint8Array, x: Float32Array, shape: readonly number[], inputName = 'x'): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled' });
  try {
    const out = await session.run({ [inputName]: new ort.Tensor('float32', x, [...shape]) });
    return out[session.outputNames[0]].data as Float32Array;
  } finally {
    await session.release();
  }
}

/** Striate's logits for `x` (`n` examples), on the reference backend (float64). */
export async function striateLogits(model: Model, params: Params, stats: Params | undefined, x: Float32Array): Promise<Float32Array> {
  return (await predict(model, params, x, { backend: 'reference', ...(stats ? { stats } : {}) })).logits;
}

/** max |a − b| / max |b|: the difference relative to the largest reference value. */
export function relativeDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return scale === 0 ? worst : worst / scale;
}

/** Deterministic inputs away from round numbers: sin of a scaled index. */
export function images(count: number, size: number, phase = 0.37): Float32Array {
  return new Float32Array(count * size).map((_, i) => Math.sin(i * phase + 0.1));
}

/** The decoded model in `bytes`. */
export const decoded = (bytes: Uint8Array): ModelMessage => decodeModel('test', bytes);

/** The op types of the file's nodes, in order. */
export const opTypes = (bytes: Uint8Array): string[] => decoded(bytes).graph!.node.map((n) => n.op_type ?? '');

/** A copy of `stats` moved off their initial values (means 0, variances 1), so that batch norm is not the identity. */
export function perturbedStats(stats: Params): Params {
  return Object.fromEntries(
    Object.entries(stats).map(([name, v]) => [name, { shape: v.shape, data: v.data.map((s, i) => s + 0.2 * Math.abs(Math.sin(3 * i + name.length))) }]),
  );
}

/** Whether two files are the same bytes (vitest's deep equality is slow on megabytes). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
