/** Striate's public API. */
export { Tensor, formatGraph, topologicalOrder, type Shape } from './graph/tensor.js';
export type { DType } from './graph/tensor.js';
export { StriateError } from './graph/error.js';
export type {
  OpName,
  OpAttrs,
  Pair,
  Pads2d,
  Conv2dAttrs,
  Conv2dBackpropInputAttrs,
  Conv2dBackpropFilterAttrs,
  Conv2dMaxPoolAttrs,
  Pool2dAttrs,
  AvgPool2dAttrs,
  AvgPool2dBackwardAttrs,
  ReduceAttrs,
} from './ops/attrs.js';
export { input } from './ops/input.js';
export { constant, fill, ones, scalar, zeros } from './ops/constant.js';
export { add } from './ops/add.js';
export { sub } from './ops/sub.js';
export { mul } from './ops/mul.js';
export { div } from './ops/div.js';
export { neg } from './ops/neg.js';
export { exp } from './ops/exp.js';
export { log } from './ops/log.js';
export { sqrt } from './ops/sqrt.js';
export { relu } from './ops/relu.js';
export { leakyRelu, type LeakyReluOptions } from './ops/leakyRelu.js';
export { elu, type EluOptions } from './ops/elu.js';
export { relu6 } from './ops/relu6.js';
export { pow } from './ops/pow.js';
export { localResponseNorm, type LocalResponseNormOptions } from './ops/lrn.js';
export { globalAvgPool2d } from './ops/globalPool.js';
export { batchNorm, batchNormInference, batchNormTraining, type BatchNormOptions, type BatchNormTraining } from './ops/batchNorm.js';
export { reluBackward } from './ops/reluBackward.js';
export { step } from './ops/step.js';
export { sigmoid } from './ops/sigmoid.js';
export { tanh } from './ops/tanh.js';
export { reshape, flatten } from './ops/reshape.js';
export { broadcastTo } from './ops/broadcastTo.js';
export { sum, mean, type ReduceOptions } from './ops/sum.js';
export { grad, vjp } from './autodiff/grad.js';
export { jvp } from './autodiff/jvp.js';
export { checkpoint } from './ops/checkpoint.js';
export { customVjp, type CustomVjpOptions, type CustomVjpRule, type CustomJvpRule, type CustomRuleContext } from './ops/customVjp.js';
export { after } from './ops/after.js';
export { checkGradients, type CheckGradientsOptions, type GradientCheckReport } from './autodiff/check.js';
export type { GradientCheckInput } from './autodiff/check.js';
export { compile, type CompileOptions, type BackendName, type CompiledFunction } from './backend/compile.js';
export { compileParallel, parallelUnavailable, PARALLEL_BACKENDS, MAX_THREADS, type Combine, type ParallelBackend, type ParallelOptions } from './backend/parallel.js';
export type { ParallelFunction } from './backend/parallel.js';
export type { Feeds, FeedValue } from './backend/feeds.js';
export type { RunResult } from './backend/compiled.js';
export type { InputSpec } from './backend/feeds.js';
export type { Runnable } from './backend/reactive.js';
export type { AutoFunction } from './backend/compile.js';
export type { ReferenceFunction } from './backend/reference/interpreter.js';
export type { GpuJsFunction, PlanMemory, PlanStep } from './backend/gpujs/executor.js';
export type { Grid } from './kernel/source.js';
export { maxPool2d } from './ops/maxPool2d.js';
export type { Pool2dOptions } from './ops/pool2dGeometry.js';
export { avgPool2d, type AvgPool2dOptions } from './ops/avgPool2d.js';
export { maxPool2dBackward } from './ops/maxPool2dBackward.js';
export { maxPool2dSelect } from './ops/maxPool2dSelect.js';
export { avgPool2dBackward } from './ops/avgPool2dBackward.js';
export { conv2d, type Conv2dOptions } from './ops/conv2d.js';
export { conv2dBackpropInput, type Conv2dBackpropInputOptions } from './ops/conv2dBackpropInput.js';
export { conv2dBackpropFilter, type Conv2dBackpropFilterOptions } from './ops/conv2dBackpropFilter.js';
export type { Padding } from './ops/window.js';
export { transpose } from './ops/transpose.js';
export { pad } from './ops/pad.js';
export { slice } from './ops/slice.js';
export { concat } from './ops/concat.js';
export { max } from './ops/max.js';
export { matmul } from './ops/matmul.js';
export type { MatmulOptions } from './ops/matmul.js';
export { softmax } from './ops/softmax.js';
export { logSoftmax } from './ops/logSoftmax.js';
export { oneHot } from './ops/oneHot.js';
export { softmaxCrossEntropy, type SoftmaxCrossEntropyOptions } from './ops/softmaxCrossEntropy.js';
export type { Reduction } from './ops/softmaxCrossEntropy.js';
export type { Rng } from './data/random.js';
export * as nn from './nn/index.js';
export {
  lenet5,
  alexnet,
  vgg,
  nin,
  inception,
  resnet,
  defineModel,
  buildModel,
  initParams,
  initStats,
  paramShapes,
  statShapes,
  summary,
  formatSummary,
  countParams,
  type Model,
  type Layer,
  type Params,
  type TensorValue,
  type ModelSummary,
} from './nn/index.js';
export {
  train,
  evaluate,
  sgd,
  adam,
  constantLr,
  stepDecay,
  exponentialDecay,
  cosineDecay,
  smooth,
  smoothSteps,
  throttleLatest,
  throttleSteps,
  ofType,
  stepLosses,
  run$,
  optimizerTensors,
  optimizerStateFromTensors,
  DEFAULT_BACKEND,
  type TrainEvent,
  type StepEvent,
  type EpochEvent,
  type DoneEvent,
  type TrainState,
  type TrainOptions,
  type Optimizer,
  type OptimizerState,
  type Schedule,
  type LearningRate,
  type EvaluateResult,
  type StepResult,
  type SgdOptions,
  type AdamOptions,
  type ScheduleContext,
  type ThrottleLatestOptions,
} from './train/index.js';
export type { Dataset } from './data/batches.js';
export type { Batch } from './data/batches.js';
export { createRng } from './data/random.js';
export { crop, centerCrop, tenCrops, mirror, cropWindows, type CropMode, type CropWindow, type CropSize } from './data/crops.js';
export {
  augment,
  augmentImages,
  augmentRng,
  affineMatrix,
  warpImages,
  elasticField,
  gaussianKernel,
  IDENTITY_MATRIX,
  type AugmentOptions,
  type AugmentTransforms,
  type AugmentTransform,
  type AffineOptions,
  type CropOptions,
  type FlipOptions,
  type ElasticOptions,
  type NoiseOptions,
  type BrightnessOptions,
  type ContrastOptions,
  type AffineParams,
  type AffineMatrix,
  type WarpOptions,
  type DisplacementField,
} from './data/augment.js';
export type { LossFunction, LossContext, FrozenParams, SnapshotOptions, TrainData } from './train/train.js';
export { toTensorGroup, freezeParams, tensorValue, type Gradients } from './nn/params.js';
export type { BuildOptions, BuiltModel } from './nn/model.js';
export type { LayerInfo, MaskSpec, ParamSpec } from './nn/context.js';
export type { Fans, Initializer } from './nn/init.js';
export { layerOutput } from './nn/model.js';
export {
  createPredictor,
  predict,
  layerOutputs,
  type Predictor,
  type PredictorOptions,
  type PredictOptions,
  type OutputsOptions,
  type Prediction,
  type LayerOutput,
  type LayerOutputs,
} from './nn/predict.js';
export { modelToJson, modelFromJson, MODEL_FORMAT, MODEL_FORMAT_VERSION, type ModelJson, type LayerJson, type JsonValue } from './nn/serialize.js';
export type { LayerKind } from './nn/spec.js';
export { countCorrect, countTopK, type EvaluateOptions } from './train/evaluate.js';
export { resolveAutoBackend, autoBackendReport, backendNames, type AutoCandidate } from './backend/auto.js';
export { enableNodeWebGPU, disableNodeWebGPU } from './backend/gpujs/node-webgpu.js';
export { unavailableReason, liveDeviceTensors, releaseIdleGpus, type GpuJsBackend } from './backend/gpujs/gpu.js';
export { compareCurvesSpec, trainingCurvesSpec, MAX_COMPARED_RUNS, type CompareCurvesOptions, type CurvesRun, type TrainingCurvesOptions } from './viz/curves.js';
export { filterGridSpec, convLayerFilters, layerFilterGridSpec, type FilterGridOptions, type FilterWeights, type ConvLayerFilters, type LayerFilterGridOptions } from './viz/filters.js';
export { imageGridSpec, featureMapGridSpec, type ImageTile, type TileColour, type ImageGridOptions, type FeatureMapGridOptions } from './viz/feature-maps.js';
export { embeddingMapSpec, type EmbeddingPoints, type EmbeddingMapSpecOptions } from './viz/embedding.js';
export { confusionMatrixSpec, type ConfusionMatrixSpecOptions } from './viz/confusion.js';
export { topKChartSpec, type TopKChartOptions } from './viz/topk.js';
export { augmentGridSpec, type AugmentGridOptions } from './viz/augment-grid.js';
export { neocognitronPlanesSpec, neocognitronWinnersSpec, planePictures, type NeocognitronPlanesOptions, type NeocognitronWinnersOptions, type NeocognitronResponses } from './viz/neocognitron.js';
export { neocognitron, neocognitronGraph, neocognitronShapes, type NeocognitronModel, type NeocognitronOptions, type NeocognitronStage, type NeocognitronPool, type NeocognitronState, type NeocognitronStageState, type NeocognitronClassifier, type NeocognitronGraph, type StageGraph } from './nn/neocognitron.js';
export {
  trainNeocognitron,
  classifyNeocognitron,
  evaluateNeocognitron,
  neocognitronFeatures,
  buildClassifier,
  classifyFeatures,
  interpolatedSimilarity,
  neocognitronResponses,
  selectWinners,
  CLASSIFIER_RULES,
  DEFAULT_CANDIDATES,
  type BuildClassifierOptions,
  type TrainNeocognitronOptions,
  type NeocognitronEvent,
  type NeocognitronStepEvent,
  type NeocognitronStageEvent,
  type NeocognitronDoneEvent,
  type NeocognitronClassifierEvent,
  type NeocognitronRunOptions,
  type Winner,
} from './train/neocognitron.js';
export { topK, topKError, top5Error, type ClassScores, type TopKOptions, type TopKResult } from './explain/topk.js';
export {
  createExplainer,
  vanillaGradient,
  smoothGrad,
  integratedGradients,
  gradCam,
  occlusion,
  resizeBilinear,
  type Explainer,
  type ExplainerOptions,
  type ClassScore,
  type TargetOptions,
  type SmoothGradOptions,
  type IntegratedGradientsOptions,
  type GradCamOptions,
  type OcclusionOptions,
  type Attribution,
  type IntegratedGradientsResult,
  type GradCamResult,
  type OcclusionResult,
  type SpatialMap,
} from './explain/saliency.js';
export {
  createNeighbourIndex,
  nearestNeighbours,
  featureLayer,
  type NeighbourIndex,
  type NeighbourIndexOptions,
  type NeighbourQueryOptions,
  type NearestToOptions,
  type Neighbours,
  type DistanceMetric,
} from './explain/neighbours.js';
export {
  maximise,
  maximiseAll,
  maximiseClasses,
  standardTransforms,
  type MaximiseObjective,
  type ClassObjective,
  type ChannelObjective,
  type NeuronObjective,
  type MaximiseTransform,
  type MaximiseOptions,
  type MaximiseResult,
  type BlurOptions,
} from './explain/maximise.js';
export { exportOnnx, importOnnx, ONNX_IMPORT_OPS, ONNX_IMPORT_OPSETS, ONNX_IR_VERSION, ONNX_OPSET, type ExportOnnxOptions, type ImportedOnnx, type ImportOnnxOptions } from './onnx/index.js';
export { maximiseGridSpec, type MaximiseGridOptions, type MaximiseTile } from './viz/maximise-grid.js';
export { pca, embeddingMap, PCA_JACOBI_MAX_DIM, type PcaOptions, type PcaResult, type PcaMethod, type FeatureRows, type EmbeddingMapOptions, type EmbeddingMap } from './explain/embedding.js';
export { confusionMatrix, type ConfusionMatrix, type ConfusionMatrixOptions } from './explain/confusion.js';
export { CHART_FONT, type ChartSpec } from './viz/spec.js';
