// SPDX-License-Identifier: MIT
// blasnet: the course's deep-learning building blocks over OpenBLAS.
export * as kernels from './kernels';
export { setNumThreads, getNumThreads, blasInfo } from './kernels';
export type { BlasInfo, WindowGeometry } from './kernels';
export { ShapeError } from './errors';
export { Tensor, tensor } from './tensor';
export { setSeed } from './random';
export { im2col, col2im } from './functional';
export type { Layer } from './layers/layer';
export { Affine } from './layers/dense';
export type { AffineOptions } from './layers/dense';
export { Relu, Sigmoid, Tanh } from './layers/activations';
export { SoftmaxWithLoss } from './layers/loss';
export type { Labels } from './layers/loss';
export { Dropout, BatchNormalization } from './layers/regularization';
export type { DropoutOptions, BatchNormalizationOptions } from './layers/regularization';
export { Convolution, Pooling, AvgPooling } from './layers/conv';
export type { ConvolutionOptions } from './layers/conv';
export { Sequential } from './network';
export type { SequentialOptions } from './network';
export {
  MultiLayerNet, MultiLayerNetExtend, SimpleConvNet, DeepConvNet, networkFromConfig, loadNetwork, initScale,
} from './presets';
export type {
  MultiLayerNetOptions, MultiLayerNetExtendOptions, SimpleConvNetOptions, DeepConvNetOptions, ConvParam, WeightInit, Activation,
} from './presets';
export * from './optimizers';
export { Trainer } from './trainer';
export type { TrainerOptions, TrainHistory, IterationInfo, EvalInfo } from './trainer';
export { readSafetensors, writeSafetensors } from './safetensors';
export * from './data';
