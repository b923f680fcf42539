/**
 * Every user mistake is a `StriateError` a program can act on: a table of bad
 * calls over the public API of the layers, models, predictors, model
 * descriptions, charts, optimizers, schedules, stream operators, augmentation,
 * top-k ranking, saliency and nearest-neighbour search. Each one
 * must throw (or reject, or error its Observable) with a `StriateError` whose
 * op names what refused it, whose message starts with that op, and whose
 * `got` and `expected` say what it was given and what it takes.
 */
import { isObservable, lastValueFrom, of } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { StriateError } from '../src/graph/error.js';
import * as nn from '../src/nn/index.js';
import type { Batch } from '../src/data/batches.js';
import { adam, optimizerStateFromTensors, optimizerTensors, sgd } from '../src/train/optimizers.js';
import { constantLr, cosineDecay, exponentialDecay, resolveLearningRate, stepDecay } from '../src/train/schedules.js';
import { ofType, smooth, smoothSteps, throttleLatest, throttleSteps } from '../src/train/operators.js';
import { BatchTransformer } from '../src/train/transform.js';
import { augmentGridSpec } from '../src/viz/augment-grid.js';
import { trainingCurvesSpec } from '../src/viz/curves.js';
import { filterGridSpec } from '../src/viz/filters.js';
import { renderChart, writeChart } from '../src/viz/render.js';
import type { TrainEvent } from '../src/train/train.js';
import { augment, augmentImages } from '../src/data/augment.js';
import { createExplainer, integratedGradients } from '../src/explain/saliency.js';
import { createNeighbourIndex, featureLayer, nearestNeighbours } from '../src/explain/neighbours.js';
import { top5Error, topK, topKError } from '../src/explain/topk.js';

const bad = <T>(v: unknown): T => v as T;
const small = nn.defineModel('small', [1, 4, 4], [nn.flatten(), nn.dense('d', { units: 3 })]);
const params = nn.initParams(small, 1);
const grads = { 'd.w': new Float32Array(48), 'd.b': new Float32Array(3) };
const at = { step: 1, epoch: 0, stepsPerEpoch: 10, totalSteps: 10 };
const oneStep: TrainEvent[] = [bad({ type: 'step', epoch: 1, step: 1, loss: 1, accuracy: 0.5 })];
const vegaLite = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', mark: 'point' };
const predictor = (): nn.Predictor => nn.createPredictor(small, params, { backend: 'reference', batchSize: 2 });
const batchShape = { batchSize: 2, sampleSize: 3, classes: 4 };
const batch: Batch = bad({ images: new Float32Array(6), labels: new Uint8Array(2), size: 2, seed: 1 });
const transformed = (transform: unknown): Promise<unknown> => new BatchTransformer(bad(transform), batchShape).run(batch, 'epoch 1, step 1');
const explainer = () => createExplainer(small, params, { backend: 'reference' });
const index = () => createNeighbourIndex(small, params, new Float32Array(3 * 16), { backend: 'reference' });
const image = new Float32Array(16);

/** [what is called, the op that must refuse it, the call]. */
const cases: [string, string, () => unknown][] = [
  // Layers
  ['conv2d with a dotted name', 'nn.conv2d', () => nn.conv2d('conv.1', { filters: 1, size: 3 })],
  ['conv2d with null options', 'nn.conv2d', () => nn.conv2d('c', bad(null))],
  ['conv2d with size null', 'nn.conv2d', () => nn.conv2d('c', { filters: 1, size: bad(null) })],
  ['conv2d with a string bias', 'nn.conv2d', () => nn.conv2d('c', { filters: 1, size: 3, bias: bad('yes') })],
  ['conv2d with a number as init', 'nn.conv2d', () => nn.conv2d('c', { filters: 1, size: 3, init: bad(3) })],
  ['conv2d with an unknown option', 'nn.conv2d', () => nn.conv2d('c', bad({ filters: 1, size: 3, kernel: 3 }))],
  ['dense with 2.5 units', 'nn.dense', () => nn.dense('d', { units: 2.5 })],
  ['dense with a numeric bias', 'nn.dense', () => nn.dense('d', { units: 1, bias: bad(1) })],
  ['dense on an image', 'nn.dense', () => nn.buildModel(nn.defineModel('m', [1, 4, 4], [nn.dense('d', { units: 2 })]))],
  ['dropout with rate NaN', 'nn.dropout', () => nn.dropout('d', NaN)],
  ['dropoutMask without a generator', 'dropoutMask', () => nn.dropoutMask([2], 0.5, bad(null))],
  ['relu with string options', 'nn.relu', () => nn.relu(bad('x'))],
  ['relu with a misspelt option', 'nn.relu', () => nn.relu(bad({ nmae: 'x' }))],
  ['maxPool2d without options', 'nn.maxPool2d', () => nn.maxPool2d(bad(undefined))],
  ['maxPool2d on a vector', 'nn.maxPool2d', () => nn.buildModel(nn.defineModel('m', [4], [nn.maxPool2d({ size: 2 })]))],
  ['avgPool2d with null options', 'nn.avgPool2d', () => nn.avgPool2d(bad(null))],
  ['sequential of null', 'nn.sequential', () => nn.sequential(bad(null))],
  ['scope of null', 'nn.scope', () => nn.scope('s', bad(null))],
  ['residual with null options', 'nn.residual', () => nn.residual(nn.relu(), undefined, bad(null))],
  ['residual of mismatched shapes', 'nn.residual', () => nn.buildModel(nn.defineModel('m', [2, 4, 4], [nn.residual(nn.conv2d('c', { filters: 3, size: 1 }))]))],
  ['two layers with one name', 'nn', () => nn.buildModel(nn.defineModel('m', [4], [nn.dense('d', { units: 4 }), nn.dense('d', { units: 4 })]))],
  ['leakyRelu with alpha 1', 'nn.leakyRelu', () => nn.buildModel(nn.defineModel('m', [4], [nn.leakyRelu({ alpha: 1 })]))],
  ['elu with a misspelt option', 'nn.elu', () => nn.elu(bad({ alfa: 1 }))],
  ['localResponseNorm with size 0', 'nn.localResponseNorm', () => nn.localResponseNorm({ size: 0 })],
  ['globalAvgPool2d on a vector', 'nn.globalAvgPool2d', () => nn.buildModel(nn.defineModel('m', [4], [nn.globalAvgPool2d()]))],
  ['batchNorm with momentum 2', 'nn.batchNorm', () => nn.batchNorm('bn', { momentum: 2 })],
  ['batchNorm on a vector of rank 3', 'nn.batchNorm', () => nn.buildModel(nn.defineModel('m', [2, 4], [nn.batchNorm('bn')]))],
  ['batchNorm applied twice in training', 'nn', () => {
    const bn = nn.batchNorm('bn');
    return nn.buildModel(nn.defineModel('m', [2, 2, 2], [bn, bn]), { training: true });
  }],
  ['checkpoint of null', 'nn.checkpoint', () => nn.checkpoint(bad(null))],
  ['constantInit of a string', 'constantInit', () => nn.constantInit(bad('1'))],
  ['hashName of null', 'hashName', () => nn.hashName(bad(null))],
  // Models
  ['lenet5 with null options', 'lenet5', () => nn.lenet5(bad(null))],
  ['lenet5 with dropout -1', 'lenet5', () => nn.lenet5({ dropout: -1 })],
  ['lenet5 with a misspelt option', 'lenet5', () => nn.lenet5(bad({ clases: 3 }))],
  ['defineModel without a name', 'defineModel', () => nn.defineModel('', [1], [])],
  ['defineModel with layers null', 'defineModel', () => nn.defineModel('m', [1], bad(null))],
  ['defineModel with an input too large to index', 'defineModel', () => nn.defineModel('m', [2 ** 40, 2 ** 40], [])],
  ['buildModel of null', 'buildModel', () => nn.buildModel(bad(null))],
  ['buildModel with batchSize 1e300', 'buildModel', () => nn.buildModel(small, { batchSize: 1e300 })],
  ['buildModel with a string training flag', 'buildModel', () => nn.buildModel(small, { training: bad('yes') })],
  ['buildModel with an unknown option', 'buildModel', () => nn.buildModel(small, bad({ batch: 3 }))],
  ['buildModel of a layer that returns a number', 'buildModel', () => nn.buildModel(nn.defineModel('m', [1], bad(() => 3)))],
  ['initParams with seed NaN', 'initParams', () => nn.initParams(small, NaN)],
  ['initParams of null', 'initParams', () => nn.initParams(bad(null), 1)],
  ['layerOutput of null', 'layerOutput', () => nn.layerOutput(bad(null), 'x')],
  ['layerOutput of an unknown layer', 'layerOutput', () => nn.layerOutput(nn.buildModel(small), 'conv9')],
  ['paramShapes of null', 'paramShapes', () => nn.paramShapes(bad(null))],
  ['summary of a number', 'summary', () => nn.summary(bad(3))],
  ['formatSummary of null', 'formatSummary', () => nn.formatSummary(bad(null))],
  // Parameter values
  ['tensorValue of a negative shape', 'tensorValue', () => nn.tensorValue([-1, -1], new Float32Array(1))],
  ['tensorValue of a plain array', 'tensorValue', () => nn.tensorValue([2], bad([1, 2]))],
  ['tensorValue of too few values', 'tensorValue', () => nn.tensorValue([3], new Float32Array(2))],
  ['freezeParams of null', 'freezeParams', () => nn.freezeParams(bad(null))],
  ['freezeParams of a null value', 'freezeParams', () => nn.freezeParams([['a', bad(null)]])],
  ['countParams of null', 'countParams', () => nn.countParams(bad(null))],
  ['findNonFinite of a record of nulls', 'findNonFinite', () => nn.findNonFinite(bad({ a: null }))],
  ['toTensorGroup of null', 'toTensorGroup', () => nn.toTensorGroup(bad(null))],
  // Predictors
  ['createPredictor of null params', 'createPredictor', () => nn.createPredictor(small, bad(null))],
  ['createPredictor with a null parameter', 'createPredictor', () => nn.createPredictor(small, bad({ 'd.w': null, 'd.b': null }))],
  ['createPredictor with an unknown option', 'createPredictor', () => nn.createPredictor(small, params, bad({ batch: 3 }))],
  ['createPredictor with a null stats entry', 'createPredictor', () => nn.createPredictor(small, params, bad({ stats: { a: null } }))],
  ['createPredictor of a model-like object', 'createPredictor', () => nn.createPredictor(bad({}), params)],
  ['predict with null options', 'predict', () => predictor().predict(new Float32Array(16), bad(null))],
  ['predict with topK 0', 'predict', () => predictor().predict(new Float32Array(16), { topK: 0 })],
  ['predict of a plain array', 'predict', () => predictor().predict(bad([1, 2]))],
  ['predict of a part of an example', 'predict', () => predictor().predict(new Float32Array(17))],
  ['predict after dispose', 'predict', async () => {
    const p = predictor();
    await p.dispose();
    return p.predict(new Float32Array(16));
  }],
  ['outputs with null options', 'layerOutputs', () => predictor().outputs(new Float32Array(16), ['d'], bad(null))],
  ['outputs of no layers', 'layerOutputs', () => predictor().outputs(new Float32Array(16), [])],
  ['one-shot predict with a misspelt option', 'predict', () => nn.predict(small, params, new Float32Array(16), bad({ topk: 1, backend: 'reference' }))],
  ['one-shot layerOutputs of a number layer name', 'layerOutputs', () => nn.layerOutputs(small, params, new Float32Array(16), [bad(3)], { backend: 'reference' })],
  // Model descriptions
  ['modelToJson of null', 'modelToJson', () => nn.modelToJson(bad(null))],
  ['modelToJson of a plain-function layer', 'modelToJson', () => nn.modelToJson(nn.defineModel('anon', [3], (x) => x))],
  ['modelFromJson of a string', 'modelFromJson', () => nn.modelFromJson('{}')],
  ['modelFromJson of another format', 'modelFromJson', () => nn.modelFromJson({ ...nn.modelToJson(small), format: 'keras' })],
  ['modelFromJson of a bad inputShape', 'modelFromJson', () => nn.modelFromJson({ ...nn.modelToJson(small), inputShape: 'x' })],
  ['modelFromJson of a dotted layer name', 'modelFromJson', () => {
    const json = nn.modelToJson(small);
    json.forward.children![1].name = 'a.b';
    return nn.modelFromJson(json);
  }],
  ['modelFromJson of an unknown initialiser', 'modelFromJson', () => {
    const json = nn.modelToJson(small);
    json.forward.children![1].options!.init = 'evil';
    return nn.modelFromJson(json);
  }],
  ['modelFromJson of a layer its constructor refuses', 'modelFromJson', () => {
    const json = nn.modelToJson(small);
    json.forward.children![1].options!.units = 0;
    return nn.modelFromJson(json);
  }],
  // Charts
  ['trainingCurvesSpec of null', 'trainingCurvesSpec', () => trainingCurvesSpec(bad(null))],
  ['trainingCurvesSpec of null events', 'trainingCurvesSpec', () => trainingCurvesSpec(bad([null]))],
  ['trainingCurvesSpec of no steps', 'trainingCurvesSpec', () => trainingCurvesSpec([])],
  ['trainingCurvesSpec with a string smoothing', 'trainingCurvesSpec', () => trainingCurvesSpec(oneStep, { smoothing: bad('0.5') })],
  ['trainingCurvesSpec with a width of 1e12', 'trainingCurvesSpec', () => trainingCurvesSpec(oneStep, { width: 1e12 })],
  ['trainingCurvesSpec with a numeric title', 'trainingCurvesSpec', () => trainingCurvesSpec(oneStep, { title: bad(3) })],
  ['trainingCurvesSpec with a misspelt option', 'trainingCurvesSpec', () => trainingCurvesSpec(oneStep, bad({ widht: 800 }))],
  ['filterGridSpec of null', 'filterGridSpec', () => filterGridSpec(bad(null))],
  ['filterGridSpec of a null shape', 'filterGridSpec', () => filterGridSpec(bad({ data: [], shape: null }))],
  ['filterGridSpec of null data', 'filterGridSpec', () => filterGridSpec(bad({ data: null, shape: [1, 1, 1, 1] }))],
  ['filterGridSpec of strings', 'filterGridSpec', () => filterGridSpec(bad({ data: ['a'], shape: [1, 1, 1, 1] }))],
  ['filterGridSpec with null options', 'filterGridSpec', () => filterGridSpec({ data: [1], shape: [1, 1, 1, 1] }, bad(null))],
  ['renderChart of a Vega spec', 'renderChart', () => renderChart(bad({ $schema: 'https://vega.github.io/schema/vega/v5.json' }))],
  ['renderChart with null options', 'renderChart', () => renderChart(vegaLite, bad(null))],
  ['renderChart with a string of font files', 'renderChart', () => renderChart(vegaLite, { fontFiles: bad('abc') })],
  ['renderChart of a spec vega-lite cannot compile', 'renderChart', () => renderChart(bad({ ...vegaLite, mark: 'nonsense' }), { format: 'svg' })],
  ['writeChart to null', 'writeChart', () => writeChart(bad(null), vegaLite)],
  ['writeChart to a .jpg', 'writeChart', () => writeChart('chart.jpg', vegaLite)],
  ['writeChart into a missing directory', 'writeChart', () => writeChart('/nonexistent-striate-dir/chart.svg', vegaLite)],
  // Optimizers
  ['sgd of null', 'sgd', () => sgd(bad(null))],
  ['sgd without lr', 'sgd', () => sgd(bad({}))],
  ['sgd with a misspelt option', 'sgd', () => sgd(bad({ lr: 0.1, momentm: 0.9 }))],
  ['sgd with a string nesterov', 'sgd', () => sgd({ lr: 0.1, momentum: 0.5, nesterov: bad('yes') })],
  ['sgd with momentum NaN', 'sgd', () => sgd({ lr: 0.1, momentum: NaN })],
  ['adam of null', 'adam', () => adam(bad(null))],
  ['adam with a misspelt option', 'adam', () => adam(bad({ learningRate: 0.1 }))],
  ['adam with epsilon 0', 'adam', () => adam({ epsilon: 0 })],
  ['adam.init of null', 'adam.init', () => adam().init(bad(null))],
  ['adam.step of null params', 'adam', () => adam().step(bad(null), grads, adam().init(params))],
  ['adam.step of null gradients', 'adam', () => adam().step(params, bad(null), adam().init(params))],
  ['adam.step of string gradients', 'adam', () => adam().step(params, bad({ 'd.w': 'x'.repeat(48), 'd.b': 'abc' }), adam().init(params))],
  ['adam.step of a foreign state', 'adam', () => adam().step(params, grads, bad({ step: 0, slots: {} }))],
  ['sgd.step with a misspelt position', 'sgd', () => sgd({ lr: 0.1 }).step(params, grads, sgd({ lr: 0.1 }).init(params), bad({ epoch: 0, total: 3 }))],
  ['a schedule that gives NaN', 'sgd', () => sgd({ lr: () => NaN }).step(params, grads, sgd({ lr: () => NaN }).init(params))],
  ['optimizerTensors of null', 'optimizerTensors', () => optimizerTensors(bad(null))],
  ['optimizerStateFromTensors of null', 'optimizerStateFromTensors', () => optimizerStateFromTensors(0, bad(null))],
  ['optimizerStateFromTensors of a key without a parameter', 'optimizerStateFromTensors', () => optimizerStateFromTensors(0, { 'm/': nn.tensorValue([1], new Float32Array(1)) })],
  ['optimizerStateFromTensors at step -1', 'optimizerStateFromTensors', () => optimizerStateFromTensors(-1, {})],
  // Schedules
  ['constantLr of a string', 'constantLr', () => constantLr(bad('1'))],
  ['stepDecay of null options', 'stepDecay', () => stepDecay(0.1, bad(null))],
  ['stepDecay without options', 'stepDecay', () => stepDecay(0.1, bad(undefined))],
  ['exponentialDecay of null options', 'exponentialDecay', () => exponentialDecay(0.1, bad(null))],
  ['exponentialDecay every Infinity', 'exponentialDecay', () => exponentialDecay(0.1, { rate: 0.5, every: Infinity })],
  ['cosineDecay of null options', 'cosineDecay', () => cosineDecay(0.1, bad(null))],
  ['cosineDecay over -5 steps', 'cosineDecay', () => cosineDecay(0.1, { steps: -5 })],
  ['cosineDecay with no length known', 'cosineDecay', () => cosineDecay(0.1)({ ...at, totalSteps: Infinity })],
  ['resolveLearningRate without a position', 'resolveLearningRate', () => resolveLearningRate(() => 1, bad(null))],
  ['resolveLearningRate of a negative rate', 'resolveLearningRate', () => resolveLearningRate(() => -1, at)],
  // Stream operators
  ['smooth of a string weight', 'smooth', () => smooth(bad('0.5'))],
  ['smoothSteps of weight 1', 'smoothSteps', () => smoothSteps(1)],
  ['smoothSteps over numbers', 'smoothSteps', () => of(1, 2).pipe(smoothSteps(0.5) as never)],
  ['throttleLatest with null options', 'throttleLatest', () => throttleLatest(1, null as never)],
  ['throttleLatest with a string passThrough', 'throttleLatest', () => throttleLatest(1, { passThrough: 'x' as never })],
  ['throttleSteps of NaN', 'throttleLatest', () => throttleSteps(NaN)],
  ['ofType of an unknown type', 'ofType', () => ofType('stpe' as never)],
  // train's batch transform
  ['a transform that returns no Observable', 'train', () => transformed(() => 3)],
  ['a transform that emits twice', 'train', () => transformed(() => of(batch, batch))],
  ['a transform that throws', 'train', () => transformed(() => {
    throw new Error('nope');
  })],
  ['a transform that emits too few labels', 'train', () => transformed(() => of({ ...batch, labels: new Uint8Array(1) }))],
  // Augmentation
  ['augment without an imageShape', 'augment', () => augment(bad({ affine: { rotate: 10 } }))],
  ['augment with a misspelt transform', 'augment', () => augment(bad({ imageShape: [1, 4, 4], elastc: { alpha: 34, sigma: 4 } }))],
  ['augment with a misspelt affine option', 'augment', () => augment(bad({ imageShape: [1, 4, 4], affine: { rotation: 10 } }))],
  ['augment rotating by 200 degrees', 'augment', () => augment({ imageShape: [1, 4, 4], affine: { rotate: 200 } })],
  ['augment with a zoom range the wrong way round', 'augment', () => augment({ imageShape: [1, 4, 4], affine: { scale: [1.1, 0.9] } })],
  ['augment with elastic sigma 0', 'augment', () => augment({ imageShape: [1, 4, 4], elastic: { alpha: 34, sigma: 0 } })],
  ['augment of a batch of another image size', 'augment', () => of(batch).pipe(augment({ imageShape: [1, 4, 4], noise: { std: 0.1 } }))],
  ['augmentImages with a string seed', 'augmentImages', () => augmentImages(image, [1, 4, 4], { noise: { std: 0.1 } }, bad('1'))],
  ['augmentGridSpec of part of an image', 'augmentGridSpec', () => augmentGridSpec(new Float32Array(15), [1, 4, 4], { noise: { std: 0.1 } })],
  ['augmentGridSpec of 2 channels', 'augmentGridSpec', () => augmentGridSpec(new Float32Array(32), [2, 4, 4], {})],
  // Top-k
  ['topK with k 0', 'topK', () => topK([0.1, 0.7, 0.2], 0)],
  ['topK with k above the classes', 'topK', () => topK([0.1, 0.7, 0.2], 4)],
  ['topK of a string', 'topK', () => topK(bad('0.1, 0.7'), 1)],
  ['topK of 5 scores in rows of 3', 'topK', () => topK([1, 2, 3, 4, 5], 1, 3)],
  ['topK with scores "softmax"', 'topK', () => topK([1, 2, 3], 1, { scores: bad('softmax') })],
  ['top5Error of 3 classes', 'top5Error', () => top5Error([1, 2, 3], [0], 3)],
  ['top5Error with a label per value', 'top5Error', () => top5Error([1, 2, 3, 4, 5, 6], [0, 1, 2], 6)],
  ['topKError with label 10 of 10 classes', 'topKError', () => topKError(new Float32Array(10), [10], 1)],
  // Saliency
  ['createExplainer with a misspelt option', 'createExplainer', () => createExplainer(small, params, bad({ backend: 'reference', batch: 4 }))],
  ['createExplainer with score "softmax"', 'createExplainer', () => createExplainer(small, params, { backend: 'reference', score: bad('softmax') })],
  ['createExplainer with batchSize 0', 'createExplainer', () => createExplainer(small, params, { backend: 'reference', batchSize: 0 })],
  ['createExplainer without parameters', 'createExplainer', () => createExplainer(small, bad({}), { backend: 'reference' })],
  ['vanillaGradient of class 3 of 3', 'vanillaGradient', () => explainer().vanillaGradient(image, { target: 3 })],
  ['vanillaGradient of a part of an image', 'vanillaGradient', () => explainer().vanillaGradient(new Float32Array(15))],
  ['smoothGrad with sigma -1', 'smoothGrad', () => explainer().smoothGrad(image, { sigma: -1 })],
  ['integratedGradients with 0 steps', 'integratedGradients', () => explainer().integratedGradients(image, { steps: 0 })],
  ['integratedGradients with a baseline of another size', 'integratedGradients', () => explainer().integratedGradients(image, { baseline: new Float32Array(4) })],
  ['one-shot integratedGradients with rule "simpson"', 'integratedGradients', () => integratedGradients(small, params, image, { backend: 'reference', rule: bad('simpson') })],
  ['gradCam of an unknown layer', 'gradCam', () => explainer().gradCam(image, 'conv9')],
  ['gradCam of a layer without feature maps', 'gradCam', () => explainer().gradCam(image, 'd')],
  ['occlusion without options', 'occlusion', () => explainer().occlusion(image, bad(undefined))],
  ['occlusion with a patch larger than the image', 'occlusion', () => explainer().occlusion(image, { size: 5 })],
  ['an explainer after dispose', 'vanillaGradient', async () => {
    const e = explainer();
    await e.dispose();
    return e.vanillaGradient(image);
  }],
  // Nearest neighbours
  ['createNeighbourIndex of an unknown layer', 'createNeighbourIndex', () => createNeighbourIndex(small, params, image, { backend: 'reference', layer: 'conv9' })],
  ['createNeighbourIndex of part of an image', 'createNeighbourIndex', () => createNeighbourIndex(small, params, new Float32Array(20), { backend: 'reference' })],
  ['createNeighbourIndex with metric "manhattan"', 'createNeighbourIndex', () => createNeighbourIndex(small, params, image, { backend: 'reference', metric: bad('manhattan') })],
  ['featureLayer of a model without a dense output', 'featureLayer', () => featureLayer(nn.defineModel('m', [1, 4, 4], [nn.flatten()]))],
  ['a query with k 0', 'NeighbourIndex.query', async () => (await index()).query(image, { k: 0 })],
  ['a query for more neighbours than images', 'NeighbourIndex.query', async () => (await index()).query(image, { k: 4 })],
  ['nearestTo image 3 of 3', 'NeighbourIndex.nearestTo', async () => (await index()).nearestTo(3)],
  ['nearestTo 3 neighbours of one of 3 images, excluding itself', 'NeighbourIndex.nearestTo', async () => (await index()).nearestTo(0, { k: 3, excludeSelf: true })],
  ['search of features of another width', 'NeighbourIndex.search', async () => (await index()).search(new Float32Array(5))],
  ['one-shot nearestNeighbours of part of a query image', 'nearestNeighbours', () => nearestNeighbours(small, params, image, new Float32Array(15), { backend: 'reference' })],
  ['one-shot nearestNeighbours with a misspelt option', 'nearestNeighbours', () => nearestNeighbours(small, params, image, image, bad({ backend: 'reference', K: 1 }))],
  ['one-shot nearestNeighbours with k = 1.5', 'nearestNeighbours', () => nearestNeighbours(small, params, image, image, { backend: 'reference', k: 1.5 })],
];

/** The error `call` throws, rejects with or errors its Observable with; undefined if it succeeds. */
async function errorOf(call: () => unknown): Promise<unknown> {
  try {
    const out = call();
    if (isObservable(out)) await lastValueFrom(out);
    else await out;
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('StriateError for every user mistake', () => {
  it.each(cases)('%s: %s refuses it', async (_what, op, call) => {
    const err = await errorOf(call);
    expect(err).toBeInstanceOf(StriateError);
    const e = err as StriateError;
    expect(e.name).toBe('StriateError');
    expect(e.op).toBe(op);
    expect(e.message.startsWith(`${op}: `)).toBe(true);
    expect(e.message.startsWith(`${op}: ${op}: `)).toBe(false);
    expect(e.got).toMatch(/\S/);
    expect(e.expected).toMatch(/\S/);
  });

  it('keeps got and expected of an error that a model description passes on, and its cause', async () => {
    const json = nn.modelToJson(small);
    json.forward.children![0].kind = 'relu'; // no flatten before the dense layer
    const err = (await errorOf(() => nn.modelFromJson(json))) as StriateError;
    expect(err.message).toBe(
      'modelFromJson: model "small" does not build: nn.dense: "d" expects an input [N, features], got shape [1,1,4,4]; put flatten() before it',
    );
    expect(err).toMatchObject({ op: 'modelFromJson', got: 'shape [1,1,4,4]', expected: 'rank 2 [N, features]' });
    expect(err.cause).toBeInstanceOf(StriateError);
    expect((err.cause as StriateError).op).toBe('nn.dense');
  });

  it('names a misspelt option and the options there are', () => {
    expect(() => sgd(bad({ lr: 0.1, momentm: 0.9 }))).toThrow(
      expect.objectContaining({
        message: 'sgd: unknown option "momentm"; the options are "lr", "momentum", "nesterov", "weightDecay"',
        got: 'option "momentm"',
      }),
    );
  });

  it('leaves a user transform\u2019s own error as the cause', async () => {
    const own = new Error('nope');
    const err = (await errorOf(() => transformed(() => {
      throw own;
    }))) as StriateError;
    expect(err.message).toBe('train: the transform failed on the batch of epoch 1, step 1: nope');
    expect(err.cause).toBe(own);
  });
});
