/** `striate` training: optimizers, schedules, the training loop as an Observable, metric operators. */
export { DEFAULT_BACKEND } from './defaults.js';
export { countCorrect, countTopK, evaluate, LABELS_INPUT, type EvaluateOptions, type EvaluateResult } from './evaluate.js';
export { ofType, smooth, smoothSteps, stepLosses, throttleLatest, throttleSteps, type ThrottleLatestOptions } from './operators.js';
export {
  adam,
  optimizerStateFromTensors,
  optimizerTensors,
  sgd,
  type AdamOptions,
  type Optimizer,
  type OptimizerState,
  type SgdOptions,
  type StepResult,
} from './optimizers.js';
export { run$, type Runnable } from '../backend/reactive.js';
export {
  constantLr,
  cosineDecay,
  exponentialDecay,
  resolveLearningRate,
  stepDecay,
  type LearningRate,
  type Schedule,
  type ScheduleContext,
} from './schedules.js';
export {
  train,
  type DoneEvent,
  type EpochEvent,
  type StepEvent,
  type TrainData,
  type TrainEvent,
  type TrainOptions,
  type TrainState,
} from './train.js';
