/**
 * Classifying the hand-drawn digit: the model built for one image, with a
 * softmax on its logits, compiled once on the float64 reference backend
 * (a single 28×28 image is about 0.3 million multiply-adds: a few
 * milliseconds in plain JavaScript, and it never competes with the training
 * run for the device).
 */
import { buildModel, compile, type Model, type Params, softmax } from 'striate';

export interface Prediction {
  readonly digit: number;
  readonly probability: number;
}

export function classifier(model: Model): (image: Float32Array, params: Params) => Prediction[] {
  const built = buildModel(model, { batchSize: 1 });
  const f = compile([softmax(built.output, -1)], { backend: 'reference' });
  const names = built.params.map((p) => p.name);
  return (image, params) => {
    const feeds: Record<string, Float32Array> = { [built.input.attrs.name]: image };
    for (const n of names) feeds[n] = params[n].data;
    const [probs] = f.runSync(feeds);
    return Array.from(probs.data, (probability, digit) => ({ digit, probability }))
      .sort((a, b) => b.probability - a.probability)
      .slice(0, 5);
  };
}
