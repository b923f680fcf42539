/**
 * The messages between the page and its two look-inside workers
 * (inspect-worker.ts). Both workers build the demo's model themselves
 * (model.ts), so only values cross: images, parameters, results. Parameters
 * travel as `{ shape, data }` records, copied by structured clone.
 */
import type { Params } from 'striate';

/** The layers whose feature maps the panel shows: conv1's and conv2's, after their ReLUs. */
export const MAP_LAYERS = ['relu1', 'relu2'] as const;

/** The unit an activation-maximisation request asks for. */
export type MaximiseUnit = { readonly class: number } | { readonly layer: string; readonly channel: number };

export type InspectRequest =
  /** The training images the neighbour index searches (count × 784). */
  | { readonly type: 'init'; readonly images: Float32Array }
  /** Feature maps and saliency of `image` under `params` (the state after step `step`). */
  | { readonly type: 'look'; readonly id: number; readonly image: Float32Array; readonly params: Params; readonly step: number }
  /** The nearest training images to `image`; the index is rebuilt with `params` when it is stale. */
  | { readonly type: 'neighbours'; readonly id: number; readonly image: Float32Array; readonly params: Params; readonly step: number }
  /** The input that maximises `unit` under `params`, by `steps` ascent steps. */
  | { readonly type: 'maximise'; readonly id: number; readonly unit: MaximiseUnit; readonly params: Params; readonly step: number; readonly steps: number };

/** One layer's output for the looked-at image: `[C, h, w]` maps. */
export interface Maps {
  readonly layer: string;
  readonly shape: readonly [number, number, number];
  readonly data: Float32Array;
}

export interface LookReply {
  readonly type: 'look';
  readonly id: number;
  /** The step of the parameters it was computed with. */
  readonly step: number;
  /** The feature maps of each shown layer. */
  readonly maps: readonly Maps[];
  /** The predicted class, and ∂logit/∂pixel of it (28 × 28). */
  readonly saliency: { readonly target: number; readonly data: Float32Array };
  /** Time the worker spent on it, in ms. */
  readonly ms: number;
}

export interface NeighboursReply {
  readonly type: 'neighbours';
  readonly id: number;
  /** Indices of the nearest training images and their distances, nearest first. */
  readonly indices: Int32Array;
  readonly distances: Float32Array;
  /** The step of the parameters the index (and so the query) used. */
  readonly indexStep: number;
  /** How long building that index took, in ms. */
  readonly indexMs: number;
  /** Time the worker spent on this request (a rebuild included), in ms. */
  readonly ms: number;
}

export interface MaximiseReply {
  readonly type: 'maximise';
  readonly id: number;
  readonly step: number;
  readonly label: string;
  /** The image (28 × 28, in [0, 1]). */
  readonly data: Float32Array;
  /** The unit's value on it. */
  readonly value: number;
  readonly ms: number;
}

export type InspectReply = LookReply | NeighboursReply | MaximiseReply | { readonly type: 'error'; readonly id: number; readonly message: string };
