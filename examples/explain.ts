/**
 * `npm run explain`: what a trained network has learned, as pictures. Reads
 * the checkpoint `npm start` writes (or one saved with its model) and the
 * test set of its data set (MNIST, or Fashion-MNIST when the checkpoint says
 * so), and writes into --out one PNG per picture and an index.html that
 * shows them with captions:
 *
 * - the filters of every convolution layer (every input channel);
 * - the feature maps of a few test images at each convolution layer (or --layer);
 * - their saliency: vanilla gradient, SmoothGrad, Integrated Gradients, Grad-CAM;
 * - their nearest training images in the last hidden layer's feature space;
 * - their five most probable classes;
 * - a PCA map of the test set's embeddings, coloured by class;
 * - the confusion matrix on the test set;
 * - the input that maximises each class logit (activation maximisation).
 *
 *   npm run explain -- --checkpoint out/checkpoint
 *   npm run explain -- --checkpoint out/checkpoint --images 8 --layer relu2 --limit 2000
 *
 * Written as a user of the package would: everything comes from 'striate'.
 */
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DEFAULT_BACKEND,
  StriateError,
  backendNames,
  buildModel,
  confusionMatrix,
  confusionMatrixSpec,
  convLayerFilters,
  createExplainer,
  createNeighbourIndex,
  createPredictor,
  embeddingMapSpec,
  featureLayer,
  featureMapGridSpec,
  imageGridSpec,
  layerFilterGridSpec,
  maximiseClasses,
  maximiseGridSpec,
  pca,
  summary,
  topK,
  topKChartSpec,
  type ImageTile,
  type BackendName,
  type Model,
  type Params,
} from 'striate';
import { FASHION_MNIST_CLASSES, loadCheckpoint, loadModel, writeChart, type Mnist } from 'striate/node';
import { UsageError, checkBackend, checkOutDir, integer, parseStrict } from './lib/cli.js';
import { DATASETS, DATASET_NAMES, MODEL_NAMES, buildChosen, checkDatasetInstalled, type DatasetName, type ModelKnobs, type ModelName } from './lib/zoo-config.js';

const DEFAULTS = {
  checkpoint: './out/checkpoint',
  images: 5,
  neighbours: 5,
  maximiseSteps: 512,
  backend: DEFAULT_BACKEND as string,
} as const;
/** The most test images a report explains: each adds a row to five pictures. */
const MAX_IMAGES = 20;
/** Drawn of a wide convolution layer: the first filters and input channels (the caption says so). */
const MAX_FILTERS = 64;
const MAX_CHANNELS = 16;
/** Feature maps drawn per layer when --layer is not given: the convolution layers, at most this many (spread from first to last). */
const MAX_DEFAULT_MAP_LAYERS = 4;
const SMOOTHGRAD_SAMPLES = 32;
const IG_STEPS = 50;

const USAGE = `Usage: npm run explain -- [options]      (or: tsx examples/explain.ts [options])

Write pictures of what a trained model has learned (PNG files and an index.html
that shows them): filters, feature maps, saliency, nearest training images and
top-5 of a few test images, a PCA map of the test set and its confusion matrix.

Options:
  --checkpoint DIR       the checkpoint \`npm start\` wrote (default ${DEFAULTS.checkpoint})
  --out DIR              where to write (default: explain/ beside the checkpoint
                         directory, e.g. ./out/explain)
  --images N             test images to explain, 1 to ${MAX_IMAGES} (default ${DEFAULTS.images}): the first
                         of each class in turn, then the next ones
  --layer NAME           the layer whose feature maps to draw (default: the convolution
                         layers, at most ${MAX_DEFAULT_MAP_LAYERS})
  --cam-layer NAME       the layer Grad-CAM weighs, one with [N, C, h, w] output
                         (default: the last convolution layer)
  --embedding-layer NAME the layer whose outputs are mapped by PCA and searched for
                         neighbours (default: the last hidden layer)
  --limit N              test images in the PCA map and the confusion matrix (default all)
  --train-limit N        training images searched for nearest neighbours (default all)
  --neighbours K         nearest training images per test image, 1 to 20 (default ${DEFAULTS.neighbours})
  --maximise-steps N     gradient-ascent steps of activation maximisation per class
                         (default ${DEFAULTS.maximiseSteps}; 0 skips it)
  --backend NAME         compute backend (default ${DEFAULTS.backend}): ${backendNames.join(', ')}
  -h, --help             show this help
`;

/** What the command line asks for, checked as far as it can be before the checkpoint is read. */
export interface ExplainConfig {
  /** The checkpoint directory, resolved. */
  checkpoint: string;
  /** The output directory, resolved. */
  out: string;
  /** Test images explained. */
  images: number;
  /** The feature-map layer (--layer), if given. */
  layer?: string;
  /** The Grad-CAM layer, if given. */
  camLayer?: string;
  /** The embedding layer, if given. */
  embeddingLayer?: string;
  /** Test images in the map and the matrix (default: all). */
  limit?: number;
  /** Training images indexed (default: all). */
  trainLimit?: number;
  /** Neighbours per image. */
  neighbours: number;
  /** Steps of activation maximisation per class (0: none). */
  maximiseSteps: number;
  /** The backend name as given. */
  backend: string;
}

function layerFlag(flag: string, text: string | undefined): string | undefined {
  if (text !== undefined && text === '') throw new UsageError(`--${flag} must name a layer`);
  return text;
}

/** Parse the command line; throws UsageError on anything wrong. Returns null for --help. */
export function parseFlags(argv: readonly string[]): ExplainConfig | null {
  const values = parseStrict(argv, {
    checkpoint: { type: 'string' },
    out: { type: 'string' },
    images: { type: 'string' },
    layer: { type: 'string' },
    'cam-layer': { type: 'string' },
    'embedding-layer': { type: 'string' },
    limit: { type: 'string' },
    'train-limit': { type: 'string' },
    neighbours: { type: 'string' },
    'maximise-steps': { type: 'string' },
    backend: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return null;
  if (values.checkpoint === '') throw new UsageError('--checkpoint must name a checkpoint directory');
  if (values.out === '') throw new UsageError('--out must name a directory');
  const backend = values.backend ?? DEFAULTS.backend;
  if (backend === '') throw new UsageError(`--backend must name a backend: ${backendNames.join(', ')}`);
  const checkpoint = resolve(values.checkpoint ?? DEFAULTS.checkpoint);
  const images = integer('images', values.images, { min: 1, max: MAX_IMAGES, why: 'each adds a row to five pictures' }) ?? DEFAULTS.images;
  const limit = integer('limit', values.limit, { min: 2, max: Math.max(...DATASET_NAMES.map((d) => DATASETS[d].sizes.test)), why: 'the largest test set' });
  if (limit !== undefined && limit < images) throw new UsageError(`--limit ${limit} is fewer than the ${images} images to explain (--images); raise --limit or lower --images`);
  const neighbours = integer('neighbours', values.neighbours, { min: 1, max: 20 }) ?? DEFAULTS.neighbours;
  const trainLimit = integer('train-limit', values['train-limit'], { min: 1, max: Math.max(...DATASET_NAMES.map((d) => DATASETS[d].sizes.train)), why: 'the largest training set' });
  if (trainLimit !== undefined && trainLimit < neighbours) {
    throw new UsageError(`--train-limit ${trainLimit} is fewer than the ${neighbours} neighbours asked for (--neighbours); raise --train-limit or lower --neighbours`);
  }
  return {
    checkpoint,
    // Beside the checkpoint: out/checkpoint → out/explain, where npm start's other pictures are.
    out: resolve(values.out ?? join(dirname(checkpoint), 'explain')),
    images,
    layer: layerFlag('layer', values.layer),
    camLayer: layerFlag('cam-layer', values['cam-layer']),
    embeddingLayer: layerFlag('embedding-layer', values['embedding-layer']),
    limit,
    trainLimit,
    neighbours,
    maximiseSteps: integer('maximise-steps', values['maximise-steps'], { min: 0, max: 100_000 }) ?? DEFAULTS.maximiseSteps,
    backend,
  };
}

/** The model, its values and where they came from: what the checkpoint says. */
interface Loaded {
  model: Model;
  params: Params;
  stats: Params;
  dataset: DatasetName;
  meta: Record<string, unknown>;
}

/**
 * The checkpoint's model and data set: its stored description when it has
 * one, else what `npm start` records in the metadata (zooModel and
 * modelOptions beside LeNet-5's name, dataset beside MNIST).
 */
async function loadExplained(dir: string): Promise<Loaded> {
  let stored;
  try {
    stored = await loadCheckpoint(dir);
  } catch (err) {
    if (err instanceof StriateError) throw new UsageError(`--checkpoint ${dir}: ${err.message}`);
    throw err;
  }
  const meta = stored.meta !== null && typeof stored.meta === 'object' ? (stored.meta as Record<string, unknown>) : {};
  const dataset = (meta.dataset ?? 'mnist') as DatasetName;
  if (!DATASET_NAMES.includes(dataset)) throw new UsageError(`--checkpoint ${dir}: its data set ${JSON.stringify(meta.dataset)} is not one of ${DATASET_NAMES.join(', ')}`);
  let model = stored.model;
  if (model === null) {
    const zoo = (meta.zooModel ?? 'lenet5') as ModelName;
    if (!MODEL_NAMES.includes(zoo)) throw new UsageError(`--checkpoint ${dir}: its model ${JSON.stringify(meta.zooModel)} is not one of ${MODEL_NAMES.join(', ')}`);
    if (meta.zooModel === undefined && meta.model !== undefined && meta.model !== 'LeNet-5') {
      throw new UsageError(`--checkpoint ${dir}: it holds model ${JSON.stringify(meta.model)} without its description; save it with saveCheckpoint's model option, or with npm start`);
    }
    const knobs = (meta.modelOptions !== null && typeof meta.modelOptions === 'object' ? meta.modelOptions : {}) as ModelKnobs;
    model = buildChosen(zoo, dataset, knobs);
  }
  try {
    const { params, stats } = await loadModel(dir, { model });
    return { model, params, stats, dataset, meta };
  } catch (err) {
    if (err instanceof StriateError) throw new UsageError(`--checkpoint ${dir}: ${err.message}`);
    throw err;
  }
}

/** A layer name as a file name part. */
const fileName = (layer: string): string => layer.replace(/[^A-Za-z0-9_-]/g, '_');

/** Text for HTML: the five characters that could end it or start markup, escaped. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** One picture of the report: its file (relative to --out), heading and caption. */
interface Figure {
  file: string;
  heading: string;
  caption: string;
}

/**
 * Activation maximisation per class (src/explain/maximise.ts, another part
 * of issue 15): the input that maximises each class logit, by `steps` steps
 * of regularised gradient ascent, drawn as one grid to `maximise.png`.
 * Returns null (the page then says it was skipped) when `steps` is 0.
 */
async function maximiseFigure(model: Model, params: Params, stats: Params, backend: BackendName, steps: number, out: string, classNames: readonly string[]): Promise<Figure | null> {
  if (steps === 0) return null;
  const results = await maximiseClasses(model, params, { backend, stats, steps });
  const file = 'maximise.png';
  await writeChart(join(out, file), maximiseGridSpec(results, { range: [0, 1], labels: results.map((_, c) => classNames[c]), title: `The input that maximises each class logit (${steps} steps)` }));
  return {
    file,
    heading: 'Activation maximisation',
    caption:
      `For each class, the image that maximises its logit, found by ${steps} steps of gradient ascent on the input from a faint random start ` +
      '(Fourier parameterisation, random jitter, scale and rotation every step: Lucid\'s standard transforms), drawn on the data\'s range [0, 1]; ' +
      `the logits reached: ${results.map((r, c) => `${classNames[c]} ${r.value.toFixed(1)}`).join(', ')}.`,
  };
}

/** The first test image of each class in turn (0, 1, …), then the next unused ones, `count` in all. */
function pickImages(labels: Uint8Array, count: number, classes: number): number[] {
  const picked: number[] = [];
  const used = new Set<number>();
  for (let c = 0; c < classes && picked.length < count; c++) {
    const i = labels.indexOf(c);
    if (i >= 0) {
      picked.push(i);
      used.add(i);
    }
  }
  for (let i = 0; picked.length < count && i < labels.length; i++) if (!used.has(i)) picked.push(i);
  return picked;
}

/** |v| of an attribution over the channels of each pixel (the largest), `[H, W]`. */
function maxAbsOverChannels(data: Float32Array, [C, H, W]: readonly number[]): Float32Array {
  const out = new Float32Array(H * W);
  for (let c = 0; c < C; c++) for (let i = 0; i < H * W; i++) out[i] = Math.max(out[i], Math.abs(data[c * H * W + i]));
  return out;
}

/** The sum over channels of each pixel, `[H, W]` (IG's attributions add up). */
function sumOverChannels(data: Float32Array, [C, H, W]: readonly number[]): Float32Array {
  const out = new Float32Array(H * W);
  for (let c = 0; c < C; c++) for (let i = 0; i < H * W; i++) out[i] += data[c * H * W + i];
  return out;
}

async function run(c: ExplainConfig, log: (line: string) => void): Promise<string[]> {
  const loaded = await loadExplained(c.checkpoint);
  const { model, params, stats, dataset } = loaded;
  const entry = DATASETS[dataset];
  checkDatasetInstalled('checkpoint', dataset);
  const built = buildModel(model);
  const layerNames = built.layers.map((l) => l.name);
  const shapeOf = (name: string): readonly number[] => built.layers.find((l) => l.name === name)!.outputShape;
  const checkLayer = (flag: string, name: string | undefined): void => {
    if (name !== undefined && !layerNames.includes(name)) throw new UsageError(`--${flag}: model ${model.name} has no layer ${JSON.stringify(name)}; its layers are ${layerNames.join(', ')}`);
  };
  checkLayer('layer', c.layer);
  checkLayer('cam-layer', c.camLayer);
  checkLayer('embedding-layer', c.embeddingLayer);
  const convs = summary(model).layers.filter((l) => l.kind === 'conv2d').map((l) => l.name);
  const camLayer = c.camLayer ?? convs[convs.length - 1];
  if (camLayer === undefined) throw new UsageError(`model ${model.name} has no convolution layer for Grad-CAM; give --cam-layer`);
  if (shapeOf(camLayer).length !== 3) throw new UsageError(`--cam-layer ${camLayer} gives [N, ${shapeOf(camLayer).join(', ')}], not feature maps [N, C, h, w]; name a convolution or a layer after one (before flatten)`);
  let embeddingLayer: string;
  try {
    embeddingLayer = c.embeddingLayer ?? featureLayer(model);
  } catch (err) {
    throw new UsageError(`model ${model.name} has no default embedding layer (${(err as Error).message}); give --embedding-layer`);
  }
  const spread = (names: string[], most: number): string[] =>
    names.length <= most ? names : Array.from(new Set(Array.from({ length: most }, (_, i) => names[Math.round((i * (names.length - 1)) / (most - 1))])));
  const mapLayers = c.layer !== undefined ? [c.layer] : spread(convs, MAX_DEFAULT_MAP_LAYERS);
  for (const name of mapLayers) {
    const rank = shapeOf(name).length;
    if (rank !== 1 && rank !== 3) throw new UsageError(`--layer ${name} gives [N, ${shapeOf(name).join(', ')}]; name a layer with feature maps [N, C, h, w] or units [N, n]`);
  }
  if (c.limit !== undefined && c.limit > entry.sizes.test) throw new UsageError(`--limit ${c.limit} is more than the ${entry.sizes.test} test images of ${entry.label}`);
  if (c.trainLimit !== undefined && c.trainLimit > entry.sizes.train) throw new UsageError(`--train-limit ${c.trainLimit} is more than the ${entry.sizes.train} training images of ${entry.label}`);
  const filters = convLayerFilters(model, params);
  const files = [
    ...filters.map((f) => `filters-${fileName(f.layer)}.png`),
    ...mapLayers.map((l) => `features-${fileName(l)}.png`),
    'saliency.png',
    'neighbours.png',
    'top5.png',
    'embedding.png',
    'confusion.png',
    'maximise.png',
    'index.html',
  ];
  await checkOutDir(c.out, [], files);
  await checkBackend(c.backend);
  const backend = c.backend as BackendName;

  if (entry.loading) log(entry.loading);
  const data: Mnist = await entry.load({ limitTrain: c.trainLimit, limitTest: c.limit });
  const classNames: readonly string[] = dataset === 'fashion-mnist' ? FASHION_MNIST_CLASSES : Array.from({ length: entry.classes }, (_, i) => String(i));
  const per = model.inputShape.reduce((a, b) => a * b, 1);
  const [C, H, W] = model.inputShape;
  const test = data.test;
  const picked = pickImages(test.labels, c.images, entry.classes);
  const chosen = new Float32Array(picked.length * per);
  picked.forEach((i, r) => chosen.set(test.images.subarray(i * per, (i + 1) * per), r * per));
  const imageOf = (r: number): Float32Array => chosen.subarray(r * per, (r + 1) * per);
  const tag = (r: number): string => `#${picked[r]} (${classNames[test.labels[picked[r]]]})`;
  const figures: (Figure & { group: string })[] = [];
  const written: string[] = [];
  const write = async (file: string, spec: Parameters<typeof writeChart>[1]): Promise<void> => {
    await writeChart(join(c.out, file), spec);
    written.push(file);
    log(`  wrote ${file}`);
  };

  log(`model ${model.name} from ${c.checkpoint}; ${entry.label}: ${test.count} test, ${data.train.count} training images; backend ${c.backend}`);

  // Filters of every convolution layer.
  for (const f of filters) {
    const [O, I, kH, kW] = f.weights.shape;
    const file = `filters-${fileName(f.layer)}.png`;
    await write(file, layerFilterGridSpec(model, params, f.layer, { maxFilters: MAX_FILTERS, maxChannels: MAX_CHANNELS, cellSize: Math.max(3, Math.round(40 / kW)) }));
    const part = O > MAX_FILTERS || I > MAX_CHANNELS ? ` (the first ${Math.min(O, MAX_FILTERS)} filters and ${Math.min(I, MAX_CHANNELS)} input channels)` : '';
    figures.push({
      group: 'Filters',
      file,
      heading: `Filters of ${f.layer}`,
      caption: `${O} filters of ${I} input channel(s), ${kH}×${kW}${part}; red negative, blue positive, one scale for the layer${f.readsInput && I === 3 ? '; the first tile of each shows its three channels as RGB' : ''}.`,
    });
  }

  // Logits of the test images: the top-5, the confusion matrix.
  const predictor = createPredictor(model, params, { backend, batchSize: Math.min(500, test.count), stats });
  try {
    log(`running the ${test.count} test images ...`);
    // One pass gives the logits and the embedding layer's features; the logits are the output of the layer that makes the model's output.
    const outputLayer = built.layers.find((_, i) => built.layerOutputs[i].id === built.output.id)?.name;
    const wanted = outputLayer === undefined || outputLayer === embeddingLayer ? [embeddingLayer] : [embeddingLayer, outputLayer];
    const outputs = await predictor.outputs(test.images, wanted);
    const scores = outputLayer === undefined ? (await predictor.predict(test.images)).logits : outputs[outputLayer].data;
    const prediction = { logits: scores, classes: scores.length / test.count };
    const maps = await predictor.outputs(chosen, mapLayers);
    for (const layer of mapLayers) {
      const file = `features-${fileName(layer)}.png`;
      await write(file, featureMapGridSpec(maps[layer], { inputs: chosen, inputShape: C === 1 || C === 3 ? model.inputShape : undefined, labels: picked.map((_, r) => tag(r)), title: `Feature maps of ${layer}` }));
      figures.push({
        group: 'Feature maps',
        file,
        heading: `Feature maps of ${layer}`,
        caption: `The output of ${layer} ([${shapeOf(layer).join(', ')}] per image) for each test image, one tile per channel, on one scale for the layer.`,
      });
    }

    const best = topK(pickRows(prediction.logits, picked, prediction.classes), Math.min(5, prediction.classes), prediction.classes);
    await write('top5.png', topKChartSpec(best, { classNames: [...classNames], labels: picked.map((i) => test.labels[i]), titles: picked.map((_, r) => `test image ${tag(r)}`) }));
    figures.push({ group: 'Top-5', file: 'top5.png', heading: `Top-${best.k} classes`, caption: `The ${best.k} most probable classes of each test image, with their softmax probabilities; the true class in orange.` });

    const cm = confusionMatrix(prediction, test.labels, { classNames: [...classNames] });
    await write('confusion.png', confusionMatrixSpec(cm, { title: `Confusion matrix of ${model.name} on ${test.count} ${entry.label} test images` }));
    figures.push({
      group: 'Test set',
      file: 'confusion.png',
      heading: 'Confusion matrix',
      caption: `Test accuracy ${(100 * cm.accuracy).toFixed(2)}% on ${cm.count} images. Rows: true class (with recall), columns: predicted class (with precision); each cell's count, coloured by its share of the row.`,
    });

    log(`PCA of the ${test.count} test images' ${embeddingLayer} outputs ...`);
    const features = outputs[embeddingLayer];
    const started = performance.now();
    const map = pca(features, { components: 2 });
    const ms = performance.now() - started;
    await write('embedding.png', embeddingMapSpec(map, test.labels, { classNames: [...classNames], title: `${model.name}: ${embeddingLayer} of ${test.count} test images, by PCA` }));
    figures.push({
      group: 'Test set',
      file: 'embedding.png',
      heading: `Embedding map (PCA of ${embeddingLayer})`,
      caption:
        `Each test image at its first two principal coordinates of its ${map.dim} ${embeddingLayer} features, coloured by its true class. ` +
        `PC1 and PC2 explain ${(100 * map.explained[0]).toFixed(1)}% and ${(100 * map.explained[1]).toFixed(1)}% of the variance (${map.method}, ${ms.toFixed(0)} ms).`,
    });
  } finally {
    await predictor.dispose();
  }

  // Saliency of each chosen image for its predicted class.
  log('saliency ...');
  const explainer = createExplainer(model, params, { backend, stats });
  try {
    const tiles: (ImageTile | null)[] = [];
    const deltas: string[] = [];
    for (let r = 0; r < picked.length; r++) {
      const x = imageOf(r);
      const g = await explainer.vanillaGradient(x);
      const sg = await explainer.smoothGrad(x, { target: g.target, samples: SMOOTHGRAD_SAMPLES });
      const ig = await explainer.integratedGradients(x, { target: g.target, steps: IG_STEPS });
      const cam = await explainer.gradCam(x, camLayer, { target: g.target });
      deltas.push(`${tag(r)}: ${ig.delta.toExponential(1)}`);
      const input: ImageTile = C === 1 || C === 3 ? { data: x, shape: [C, H, W], label: `${tag(r)} → ${classNames[g.target]}` } : { data: x.subarray(0, H * W), shape: [H, W], label: tag(r) };
      tiles.push(
        input,
        { data: maxAbsOverChannels(g.data, [C, H, W]), shape: [H, W], colour: 'heat', label: '|gradient|' },
        { data: maxAbsOverChannels(sg.data, [C, H, W]), shape: [H, W], colour: 'heat', label: '|SmoothGrad|' },
        { data: sumOverChannels(ig.data, [C, H, W]), shape: [H, W], colour: 'diverging', label: 'Int. Gradients' },
        { data: cam.data, shape: [H, W], colour: 'heat', label: 'Grad-CAM' },
      );
    }
    await write('saliency.png', imageGridSpec(tiles, { columns: 5, cellSize: 4, title: 'Saliency of the predicted class (its logit)' }));
    figures.push({
      group: 'Saliency',
      file: 'saliency.png',
      heading: 'Saliency maps',
      caption:
        `For each test image and its predicted class: the gradient of the logit by the input (its magnitude), SmoothGrad (${SMOOTHGRAD_SAMPLES} noisy copies, noise 15% of the range), ` +
        `Integrated Gradients from a black image (${IG_STEPS} steps; red lowers the logit, blue raises it; completeness error ${deltas.join(', ')}) and Grad-CAM on ${camLayer}. Each map on its own scale.`,
    });
  } finally {
    await explainer.dispose();
  }

  // Nearest training images in the embedding layer's feature space.
  log(`indexing ${data.train.count} training images for nearest neighbours ...`);
  const index = await createNeighbourIndex(model, params, data.train.images, { backend, stats, layer: embeddingLayer });
  try {
    const k = Math.min(c.neighbours, index.count);
    const near = await index.query(chosen, { k });
    const tiles: ImageTile[] = [];
    const shape = C === 1 || C === 3 ? [C, H, W] : [H, W];
    const plane = (img: Float32Array): Float32Array => (C === 1 || C === 3 ? img : img.subarray(0, H * W));
    for (let r = 0; r < picked.length; r++) {
      tiles.push({ data: plane(imageOf(r)), shape, label: `test ${tag(r)}`, range: [0, 1] });
      for (let j = 0; j < k; j++) {
        const t = near.indices[r * k + j];
        tiles.push({ data: plane(data.train.images.subarray(t * per, (t + 1) * per)), shape, label: `${classNames[data.train.labels[t]]}, d ${near.distances[r * k + j].toFixed(2)}`, range: [0, 1] });
      }
    }
    await write('neighbours.png', imageGridSpec(tiles, { columns: k + 1, cellSize: 4, title: `Nearest training images in ${embeddingLayer} (Euclidean)` }));
    figures.push({
      group: 'Neighbours',
      file: 'neighbours.png',
      heading: 'Nearest training images',
      caption: `Each test image (first column) and the ${k} training images (of ${index.count}) whose ${index.dim} ${embeddingLayer} features are nearest to its own, with their class and Euclidean distance.`,
    });
  } finally {
    await index.dispose();
  }

  if (c.maximiseSteps > 0) log(`activation maximisation of ${entry.classes} classes, ${c.maximiseSteps} steps ...`);
  const maximised = await maximiseFigure(model, params, stats, backend, c.maximiseSteps, c.out, classNames);
  if (maximised) {
    figures.push({ ...maximised, group: 'Activation maximisation' });
    written.push(maximised.file);
    log(`  wrote ${maximised.file}`);
  }

  const meta = loaded.meta;
  const facts: [string, string][] = [
    ['model', model.name],
    ['checkpoint', c.checkpoint],
    ['data set', `${entry.label} (${test.count} test images, ${data.train.count} training images searched)`],
    ['epoch', meta.epoch === undefined ? 'n/a' : String(meta.epoch)],
    ['test accuracy at the checkpoint', typeof meta.testAccuracy === 'number' ? `${(100 * meta.testAccuracy).toFixed(2)}%` : 'n/a'],
    ['backend', c.backend],
  ];
  const groups = [...new Set(figures.map((f) => f.group))];
  const html = [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>${escapeHtml(`${model.name}: what it has learned`)}</title>`,
    '<style>body{font-family:Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}' +
      'img{max-width:100%;height:auto;border:1px solid #ddd}figure{margin:1.5em 0}figcaption{color:#555;margin-top:.4em}' +
      'table{border-collapse:collapse}td{padding:.15em .8em .15em 0}</style>',
    '</head>',
    '<body>',
    `<h1>${escapeHtml(`${model.name} on ${entry.label}: what it has learned`)}</h1>`,
    '<table>',
    ...facts.map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(v)}</td></tr>`),
    '</table>',
    ...groups.flatMap((g) => [
      `<h2>${escapeHtml(g)}</h2>`,
      ...figures
        .filter((f) => f.group === g)
        .map((f) => `<figure><img src="${escapeHtml(encodeURI(f.file))}" alt="${escapeHtml(f.heading)}"><figcaption><strong>${escapeHtml(f.heading)}.</strong> ${escapeHtml(f.caption)}</figcaption></figure>`),
    ]),
    ...(maximised ? [] : ['<h2>Activation maximisation</h2>', '<p>Skipped (--maximise-steps 0).</p>']),
    '</body>',
    '</html>',
    '',
  ].join('\n');
  await writeFile(join(c.out, 'index.html'), html);
  written.push('index.html');
  return written;
}

/** Rows `rows` of `logits` (`count × classes`), in that order. */
function pickRows(logits: Float32Array, rows: readonly number[], classes: number): Float32Array {
  const out = new Float32Array(rows.length * classes);
  rows.forEach((i, r) => out.set(logits.subarray(i * classes, (i + 1) * classes), r * classes));
  return out;
}

async function main(argv: string[]): Promise<number> {
  const usageError = (message: string): number => {
    process.stderr.write(`explain: ${message}\n\n${USAGE}`);
    return 2;
  };
  let config: ExplainConfig | null;
  try {
    config = parseFlags(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return usageError(err.message);
  }
  if (config === null) {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    const started = performance.now();
    const seconds = (): string => ((performance.now() - started) / 1000).toFixed(1);
    const files = await run(config, (line) => process.stdout.write(`[${seconds()} s] ${line}\n`));
    process.stdout.write(`wrote ${files.length} files in ${((performance.now() - started) / 1000).toFixed(1)} s: ${join(config.out, 'index.html')} (${files.filter((f) => f !== 'index.html').join(', ')})\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return usageError(err.message);
  }
}

// Run when executed (`npm run explain`, `tsx examples/explain.ts`), not when a test imports parseFlags.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`explain: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
