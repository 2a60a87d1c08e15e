// SPDX-License-Identifier: MIT
// blasnet: the course's deep-learning building blocks over OpenBLAS.
export * as kernels from './core/kernels';
export { setNumThreads, getNumThreads, threadInfo, blasInfo } from './core/kernels';
export type { BlasInfo, ThreadInfo, WindowGeometry, ConvGeometry, ConvPoolGeometry } from './core/kernels';
export { ShapeError } from './core/errors';
export { Tensor, tensor, take, argmax } from './core/tensor';
export { setSeed, randn, rand, permutation, choice, getRandomState, setRandomState } from './core/random';
export type { ChoiceOptions, RandomState } from './core/random';
export { im2col, col2im } from './nn/im2col';
export type { Layer } from './nn/layers/layer';
export { Affine } from './nn/layers/dense';
export type { AffineOptions } from './nn/layers/dense';
export { Relu, Sigmoid, Tanh } from './nn/layers/activations';
export { SoftmaxWithLoss } from './nn/layers/loss';
export type { Labels } from './nn/layers/loss';
export { Dropout, BatchNormalization } from './nn/layers/regularization';
export type { DropoutOptions, BatchNormalizationOptions } from './nn/layers/regularization';
export { Convolution, Pooling, AvgPooling } from './nn/layers/conv';
export type { ConvAlgorithm, ConvolutionOptions } from './nn/layers/conv';
export { Sequential } from './nn/network';
export type { SequentialOptions, LoadParamsOptions, LayerOutput } from './nn/network';
export {
  TwoLayerNet, MultiLayerNet, MultiLayerNetExtend, SimpleConvNet, DeepConvNet, networkFromConfig, loadNetwork, initScale, presetPlan,
} from './nn/presets';
export type {
  TwoLayerNetOptions, MultiLayerNetOptions, MultiLayerNetExtendOptions, SimpleConvNetOptions, DeepConvNetOptions, ConvParam, WeightInit, Activation,
  PresetPlan,
} from './nn/presets';
export * from './train/optimizers';
export { Trainer, NonFiniteError } from './train/trainer';
export type {
  TrainerOptions, TrainHistory, IterationInfo, EvalInfo, EvaluateAt, RunOptions, NonFiniteSource, AugmentShifts, AverageWeights,
} from './train/trainer';
export { stepDecay, exponentialDecay } from './train/schedule';
export type { LrSchedule, StepDecayOptions } from './train/schedule';
export { shiftAugment, shiftImages } from './train/augment';
export type { ShiftAugmentOptions } from './train/augment';
export { readCheckpoint } from './train/checkpoint';
export type { CheckpointContents } from './train/checkpoint';
export {
  readSafetensors, readSafetensorsHeader, writeSafetensors, SafetensorsFormatError,
  SAFETENSORS_DTYPE_BYTES, SAFETENSORS_READABLE_DTYPES, SAFETENSORS_MAX_HEADER,
} from './io/safetensors';
export type {
  SafetensorsFile, SafetensorsHeader, SafetensorsTensorInfo, SafetensorsConversion,
} from './io/safetensors';
export { writeFileAtomic, removeStaleTemps, atomicTempPid, ATOMIC_TEMP_RE } from './io/atomic';
export type { AtomicData } from './io/atomic';
export { FileError } from './io/files';
export { readNetworkDescription, NETWORK_FORMAT_VERSION } from './io/network-file';
export type { SaveParamsOptions, InputDescription, NetworkDescription, LayerDescription } from './io/network-file';
export type { LayerSpec, TensorLayout, TorchModule } from './nn/spec';
export { readPickleParams, PickleFormatError } from './io/pickle';
export type { ReadPickleOptions, PickleParams } from './io/pickle';
export { exportOnnx, onnxModel, ONNX_OPSET } from './io/onnx';
export type { OnnxExportOptions, OnnxModelInfo, OnnxExportable } from './io/onnx';
export * from './data';
