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
import type { Model } from '../nn/model.js';
import type { Params } from '../nn/params.js';
import { checkParams } from '../nn/predict.js';
import { showValue } from '../nn/spec.js';

/** Name of the image input of every explain graph. */
export const IMAGE_INPUT = 'x';

/** `params` checked as `predict` checks them (nn/predict.ts). */
export const checkModelParams = checkParams;

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
