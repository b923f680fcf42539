/**
 * What the explain functions share: checking a model's parameters, its
 * statistics and an input image against the model, and feeding a compiled
 * graph of the model its parameters and statistics by name (as a predictor
 * does, nn/predict.ts).
 */
import type { CompiledFunction } from '../backend/compile.js';
import { describeValue, fail } from '../graph/error.js';
import { sameShape } from '../graph/shape.js';
import { shapeToString, sizeOf } from '../graph/tensor.js';
import type { BuiltModel, Model } from '../nn/model.js';
import { checkParamRecord, type Params } from '../nn/params.js';
import { showValue } from '../nn/spec.js';

/** Name of the image input of every explain graph. */
export const IMAGE_INPUT = 'x';

/** Refuse `params` unless they hold every parameter `built` reads, with its shape and a Float32Array. Extra entries are ignored. */
export function checkModelParams(who: string, model: Model, built: BuiltModel, params: Params): void {
  checkParamRecord(who, params);
  for (const p of built.params) {
    const v = Object.hasOwn(params, p.name) ? params[p.name] : undefined;
    if (v === undefined) {
      fail(
        who,
        `params has no "${p.name}" (shape ${shapeToString(p.shape)}), which model "${model.name}" reads; give the parameters of this model (from training, loadModel or initParams)`,
        `no "${p.name}"`,
        `"${p.name}" of shape ${shapeToString(p.shape)}`,
      );
    }
    if (!sameShape(v.shape, p.shape) || v.data.length !== sizeOf(p.shape)) {
      fail(
        who,
        `parameter "${p.name}" has shape ${shapeToString(v.shape)} (${v.data.length} values) but model "${model.name}" needs ${shapeToString(p.shape)}`,
        `"${p.name}" of shape ${shapeToString(v.shape)}`,
        `shape ${shapeToString(p.shape)}`,
      );
    }
  }
}

/**
 * The feeds of `fn` other than those named in `own` (the image and any
 * input the caller feeds itself): each parameter from `params`, each other
 * input (a batch-norm running average) from `stats`, which must hold it with
 * its shape.
 */
export function modelFeeds(who: string, model: Model, fn: CompiledFunction, params: Params, stats: Params, own: readonly string[]): Record<string, Float32Array> {
  const feeds: Record<string, Float32Array> = {};
  for (const { name, shape } of fn.inputs) {
    if (own.includes(name)) continue;
    if (Object.hasOwn(params, name)) {
      feeds[name] = params[name].data;
      continue;
    }
    const v = Object.hasOwn(stats, name) ? stats[name] : undefined;
    if (v === undefined) {
      fail(
        who,
        `model "${model.name}" reads "${name}" (shape ${shapeToString(shape)}), which is not a parameter; give its value in the stats option (a TrainState's stats)`,
        `no stats "${name}"`,
        `stats "${name}" of shape ${shapeToString(shape)}`,
      );
    }
    if (!sameShape(v.shape, shape)) {
      fail(who, `stats "${name}" has shape ${shapeToString(v.shape)} but model "${model.name}" reads ${shapeToString(shape)}`, `stats "${name}" of shape ${shapeToString(v.shape)}`, `shape ${shapeToString(shape)}`);
    }
    feeds[name] = v.data;
  }
  return feeds;
}

/** `image` if it is one example of `model`'s input shape with finite values (Float32Array or Float64Array), else a StriateError. */
export function checkImage(who: string, model: Model, image: unknown, what = 'image'): Float32Array | Float64Array {
  const per = sizeOf(model.inputShape);
  const shape = shapeToString(model.inputShape);
  if (!(image instanceof Float32Array) && !(image instanceof Float64Array)) {
    fail(who, `${what} must be a Float32Array of ${per} values (one example of ${shape}), got ${describeValue(image)}`, `${what} ${describeValue(image)}`, `a Float32Array(${per})`);
  }
  if (image.length !== per) {
    fail(
      who,
      `${what} holds ${image.length} values but model "${model.name}" reads ${shape} (${per} values) per example; give one example`,
      `${what} of ${image.length} values`,
      `${per} values (${shape})`,
    );
  }
  for (let i = 0; i < per; i++) {
    if (!Number.isFinite(image[i])) {
      fail(who, `${what}[${i}] is ${showValue(image[i])}; every value must be a finite number`, `${what}[${i}] ${showValue(image[i])}`, 'finite numbers');
    }
  }
  return image;
}

/** `v` if it is a positive safe integer, else a StriateError naming `what`. */
export function positiveInteger(who: string, what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) fail(who, `${what} must be a positive integer, got ${showValue(v)}`, `${what} ${showValue(v)}`, 'a positive integer');
  return v;
}
