/**
 * The messages between the page and its Neocognitron worker
 * (neocognitron-worker.ts), which trains NEOCOGNITRON_SETUP (the model
 * `npm start -- --model neocognitron` trains) on the demo's MNIST subset and
 * then looks at drawn digits with it.
 */

export interface Split {
  readonly images: Float32Array;
  readonly labels: Uint8Array;
  readonly count: number;
}

export type NeoRequest =
  /** Train from scratch with `seed` (a running training is stopped first). */
  | { readonly type: 'train'; readonly train: Split; readonly test: Split; readonly seed: number }
  /** Classify `image` with the trained network, and say which S-plane wins where. */
  | { readonly type: 'look'; readonly id: number; readonly image: Float32Array };

/** One stage's learned planes, as `planePictures` draws them: `planes` squares of `side`², back to back. */
export interface NeoPlanes {
  readonly side: number;
  readonly planes: number;
  readonly data: Float32Array;
}

export type NeoReply =
  /** Progress through the first stage: images seen, planes so far (add-if-silent makes them). */
  | { readonly type: 'progress'; readonly stage: number; readonly seen: number; readonly of: number; readonly planes: number }
  /** A stage has learned: its planes. */
  | { readonly type: 'stage'; readonly stage: number; readonly planes: NeoPlanes }
  /** The classifier has seen the training digits `pass` times and holds `references` vectors. */
  | { readonly type: 'classifier'; readonly pass: number; readonly references: number }
  /** The classifier is built and measured on the test images. */
  | { readonly type: 'done'; readonly testAccuracy: number; readonly seconds: number; readonly tested: number }
  /**
   * A look: the predicted class and, for the first stage, the plane of the
   * strongest S-cell in each column (−1 where all are silent), `[h, w]`.
   */
  | { readonly type: 'look'; readonly id: number; readonly label: number; readonly h: number; readonly w: number; readonly strongest: Int16Array; readonly planes: number }
  | { readonly type: 'error'; readonly message: string };
