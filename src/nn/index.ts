/** `striate/nn`: layers, initialisers, models. Exported from the package as the `nn` namespace. */
export { LayerContext, type Layer, type LayerInfo, type MaskSpec, type ParamSpec, type StatSpec } from './context.js';
export {
  constantInit,
  glorotNormal,
  glorotUniform,
  hashName,
  heNormal,
  heUniform,
  lecunNormal,
  onesInit,
  zerosInit,
  type Fans,
  type Initializer,
} from './init.js';
export {
  avgPool2d,
  checkpoint,
  conv2d,
  dense,
  dropout,
  dropoutMask,
  elu,
  flatten,
  globalAvgPool2d,
  leakyRelu,
  localResponseNorm,
  maxPool2d,
  relu,
  relu6,
  residual,
  scope,
  sequential,
  sigmoid,
  tanh,
  type Conv2dLayerOptions,
  type DenseLayerOptions,
  type NamedOptions,
} from './layers.js';
export { batchNorm, type BatchNormLayerOptions } from './batchNorm.js';
export { lenet5, type LeNet5Options } from './lenet.js';
export { concatBranches } from './branches.js';
export { alexnet, inception, nin, resnet, vgg, type AlexNetOptions, type InceptionOptions, type NinOptions, type ResNetOptions, type VggConfig, type VggOptions } from './zoo.js';
export {
  buildModel,
  defineModel,
  formatSummary,
  initParams,
  initStats,
  layerOutput,
  paramShapes,
  statShapes,
  summary,
  type BuildOptions,
  type BuiltModel,
  type LayerSummary,
  type Model,
  type ModelSummary,
} from './model.js';
export type { ReceptiveField } from './analysis.js';
export {
  countParams,
  findNonFinite,
  freezeParams,
  tensorValue,
  toTensorGroup,
  type Gradients,
  type Params,
  type TensorData,
  type TensorValue,
} from './params.js';
export {
  createPredictor,
  layerOutputs,
  predict,
  type LayerOutput,
  type LayerOutputs,
  type OutputsOptions,
  type Prediction,
  type PredictOptions,
  type Predictor,
  type PredictorOptions,
} from './predict.js';
export { MODEL_FORMAT, MODEL_FORMAT_VERSION, modelFromJson, modelToJson, type JsonValue, type LayerJson, type ModelJson } from './serialize.js';
export type { LayerKind } from './spec.js';
