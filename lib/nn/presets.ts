// SPDX-License-Identifier: MIT
// The course's networks as presets of Sequential, with its parameter names,
// weight initialisation and defaults (options in camelCase).
import { describe, expectInt, expectNumber, readOptions } from '../core/errors';
import { Relu, Sigmoid, Tanh } from './layers/activations';
import { Convolution, Pooling } from './layers/conv';
import { Affine } from './layers/dense';
import { Layer } from './layers/layer';
import { SoftmaxWithLoss } from './layers/loss';
import { BatchNormalization, Dropout } from './layers/regularization';
import { Sequential } from './network';
import { randn } from '../core/random';
import { readSafetensors } from '../io/safetensors';
import { Tensor } from '../core/tensor';

/** A standard deviation, or 'he'/'relu' (sqrt(2/fanIn)), or 'xavier'/'sigmoid' (sqrt(1/fanIn)). */
export type WeightInit = number | 'he' | 'relu' | 'xavier' | 'sigmoid';
export type Activation = 'relu' | 'sigmoid' | 'tanh';

/** The standard deviation a WeightInit gives for a layer with fanIn inputs per output. */
export function initScale(fn: string, init: WeightInit, fanIn: number): number {
  if (typeof init === 'number') return expectNumber(fn, 'weightInitStd', init, { min: 0 });
  const name = typeof init === 'string' ? init.toLowerCase() : init;
  if (name === 'relu' || name === 'he') return Math.sqrt(2 / fanIn);
  if (name === 'sigmoid' || name === 'xavier') return Math.sqrt(1 / fanIn);
  throw new RangeError(`${fn}: weightInitStd must be a number, 'he'/'relu' or 'xavier'/'sigmoid', got ${describe(init)}`);
}

function activationLayer(fn: string, a: unknown): Layer {
  switch (typeof a === 'string' ? a.toLowerCase() : a) {
    case 'relu': return new Relu();
    case 'sigmoid': return new Sigmoid();
    case 'tanh': return new Tanh();
    default: throw new RangeError(`${fn}: activation must be 'relu', 'sigmoid' or 'tanh', got ${describe(a)}`);
  }
}

const MLP_OPTIONS = ['inputSize', 'hiddenSizeList', 'outputSize', 'activation', 'weightInitStd', 'weightDecayLambda', 'l1Lambda'];
const MLP_EXTEND_OPTIONS = [...MLP_OPTIONS, 'useDropout', 'dropoutRatio', 'useBatchnorm'];
const CONV_PARAM_KEYS = ['filterNum', 'filterSize', 'pad', 'stride'];

export interface MultiLayerNetOptions {
  /** Features per input sample (784 for MNIST). */
  inputSize: number;
  /** Width of each hidden layer, e.g. [100, 100, 100]. */
  hiddenSizeList: number[];
  /** Number of classes. */
  outputSize: number;
  /** 'relu' (default), 'sigmoid' or 'tanh'. */
  activation?: Activation;
  /** Weight initialisation, 'relu' (He) by default. */
  weightInitStd?: WeightInit;
  /** L2 weight decay λ (0.5·λ·ΣW² in the loss). */
  weightDecayLambda?: number;
  /** L1 weight decay λ (λ·Σ|W| in the loss). */
  l1Lambda?: number;
}

export interface MultiLayerNetExtendOptions extends MultiLayerNetOptions {
  /** Dropout after every hidden activation. */
  useDropout?: boolean;
  /** Dropout ratio, 0.5 by default. */
  dropoutRatio?: number;
  /** BatchNormalization between each hidden Affine and its activation. */
  useBatchnorm?: boolean;
}

function buildMlp(fn: string, o: MultiLayerNetExtendOptions, extend: boolean): Layer[] {
  if (o === undefined) throw new TypeError(`${fn}: options { inputSize, hiddenSizeList, outputSize } are required`);
  readOptions(fn, o, extend ? MLP_EXTEND_OPTIONS : MLP_OPTIONS);
  const inputSize = expectInt(fn, 'inputSize', o.inputSize);
  const outputSize = expectInt(fn, 'outputSize', o.outputSize);
  if (!Array.isArray(o.hiddenSizeList)) throw new TypeError(`${fn}: hiddenSizeList must be an array of positive integers, got ${describe(o.hiddenSizeList)}`);
  const hidden = o.hiddenSizeList.map((h, i) => expectInt(fn, `hiddenSizeList[${i}]`, h));
  const init = o.weightInitStd ?? 'relu';
  const activation = o.activation ?? 'relu';
  const useDropout = extend && (o.useDropout ?? false);
  const useBatchnorm = extend && (o.useBatchnorm ?? false);
  const ratio = o.dropoutRatio ?? 0.5;
  const sizes = [inputSize, ...hidden, outputSize];
  const layers: Layer[] = [];
  for (let i = 1; i < sizes.length; i++) {
    const W = randn([sizes[i - 1], sizes[i]], initScale(fn, init, sizes[i - 1]));
    layers.push(new Affine(W, Tensor.zeros([sizes[i]]), { skipInputGradient: i === 1 }));
    if (i === sizes.length - 1) break;
    if (useBatchnorm) {
      const gamma = Tensor.zeros([sizes[i]]);
      gamma.data.fill(1);
      layers.push(new BatchNormalization(gamma, Tensor.zeros([sizes[i]])));
    }
    layers.push(activationLayer(fn, activation));
    if (useDropout) layers.push(new Dropout(ratio));
  }
  layers.push(new SoftmaxWithLoss() as unknown as Layer);
  return layers;
}

function cleanConfig(kind: string, o: object): Record<string, unknown> {
  return { kind, options: JSON.parse(JSON.stringify(o)) };
}

/**
 * The course's fully connected network: (Affine, activation) per hidden layer, then Affine and
 * SoftmaxWithLoss. Parameters W1, b1, ..., W{n+1}, b{n+1}.
 * @example
 *   const net = new MultiLayerNet({ inputSize: 784, hiddenSizeList: [100, 100], outputSize: 10 });
 */
export class MultiLayerNet extends Sequential {
  constructor(options: MultiLayerNetOptions) {
    super(buildMlp('MultiLayerNet', options, false), {
      weightDecayLambda: options?.weightDecayLambda, l1Lambda: options?.l1Lambda,
      config: cleanConfig('MultiLayerNet', options ?? {}),
    });
  }
}

/**
 * MultiLayerNet with optional BatchNormalization (gamma{i}, beta{i}) and Dropout per hidden
 * layer: Affine, [BatchNorm], activation, [Dropout].
 * @example
 *   const net = new MultiLayerNetExtend({ inputSize: 784, hiddenSizeList: [100], outputSize: 10, useBatchnorm: true });
 */
export class MultiLayerNetExtend extends Sequential {
  constructor(options: MultiLayerNetExtendOptions) {
    super(buildMlp('MultiLayerNetExtend', options, true), {
      weightDecayLambda: options?.weightDecayLambda, l1Lambda: options?.l1Lambda,
      config: cleanConfig('MultiLayerNetExtend', options ?? {}),
    });
  }
}

export interface TwoLayerNetOptions {
  /** Features per input sample (784 for MNIST). */
  inputSize: number;
  /** Units of the hidden layer (the course uses 50 in ch04-05, 100 in its exercises). */
  hiddenSize: number;
  /** Number of classes. */
  outputSize: number;
  /** Standard deviation of the Gaussian weights: 0.01, as the course; or 'he' / 'xavier'. */
  weightInitStd?: WeightInit;
  /** 'relu' (chapter 5's network, default) or 'sigmoid' (chapter 4's). */
  activation?: Activation;
}

/**
 * The course's TwoLayerNet (chapters 4 and 5): Affine1, Relu1, Affine2, SoftmaxWithLoss, with
 * params W1 (inputSize x hiddenSize), b1, W2 (hiddenSize x outputSize), b2 drawn as
 * `weightInitStd * randn` (0.01) and zero biases, and the course's methods `predict`, `loss`,
 * `accuracy`, `numericalGradient` and `gradient`.
 * @example
 *   setSeed(0);
 *   const net = new TwoLayerNet({ inputSize: 784, hiddenSize: 50, outputSize: 10 });
 *   const grad = net.gradient(xTrain.rows(0, 3), tTrain.subarray(0, 3));   // grad.W1, grad.b1, ...
 */
export class TwoLayerNet extends Sequential {
  constructor(options: TwoLayerNetOptions) {
    const fn = 'TwoLayerNet';
    if (options === undefined) throw new TypeError(`${fn}: options { inputSize, hiddenSize, outputSize } are required`);
    readOptions(fn, options, ['inputSize', 'hiddenSize', 'outputSize', 'weightInitStd', 'activation']);
    const inputSize = expectInt(fn, 'inputSize', options.inputSize);
    const hiddenSize = expectInt(fn, 'hiddenSize', options.hiddenSize);
    const outputSize = expectInt(fn, 'outputSize', options.outputSize);
    const init = options.weightInitStd ?? 0.01;
    const act = activationLayer(fn, options.activation ?? 'relu');
    super([
      new Affine(randn([inputSize, hiddenSize], initScale(fn, init, inputSize)), Tensor.zeros([hiddenSize])),
      act,
      new Affine(randn([hiddenSize, outputSize], initScale(fn, init, hiddenSize)), Tensor.zeros([outputSize])),
      new SoftmaxWithLoss(),
    ], { config: cleanConfig('TwoLayerNet', options) });
  }
}

export interface ConvParam {
  filterNum: number;
  filterSize: number;
  pad: number;
  stride: number;
}

export interface SimpleConvNetOptions {
  /** (C, H, W) of one input, [1, 28, 28] by default. */
  inputDim?: [number, number, number];
  /** { filterNum: 30, filterSize: 5, pad: 0, stride: 1 } by default. */
  convParam?: Partial<ConvParam>;
  hiddenSize?: number;
  outputSize?: number;
  /** 0.01 by default, as the course. */
  weightInitStd?: WeightInit;
  weightDecayLambda?: number;
  l1Lambda?: number;
}

function checkInputDim(fn: string, d: unknown): [number, number, number] {
  if (!Array.isArray(d) || d.length !== 3) throw new TypeError(`${fn}: inputDim must be [C, H, W], got ${describe(d)}`);
  return d.map((v, i) => expectInt(fn, `inputDim[${i}]`, v)) as [number, number, number];
}

/**
 * The course's simple CNN: Convolution, Relu, Pooling 2x2 stride 2, Affine, Relu, Affine,
 * SoftmaxWithLoss. Parameters W1/b1 (conv), W2/b2, W3/b3.
 * @example
 *   const net = new SimpleConvNet(); // MNIST-shaped input [N, 1, 28, 28]
 */
export class SimpleConvNet extends Sequential {
  constructor(options: SimpleConvNetOptions = {}) {
    const fn = 'SimpleConvNet';
    readOptions(fn, options, ['inputDim', 'convParam', 'hiddenSize', 'outputSize', 'weightInitStd', 'weightDecayLambda', 'l1Lambda']);
    const [C, H, W] = checkInputDim(fn, options.inputDim ?? [1, 28, 28]);
    const cp = { filterNum: 30, filterSize: 5, pad: 0, stride: 1, ...readOptions(`${fn}: convParam`, options.convParam, CONV_PARAM_KEYS) };
    const FN = expectInt(fn, 'convParam.filterNum', cp.filterNum);
    const FS = expectInt(fn, 'convParam.filterSize', cp.filterSize);
    const pad = expectInt(fn, 'convParam.pad', cp.pad, 0);
    const stride = expectInt(fn, 'convParam.stride', cp.stride);
    const hidden = expectInt(fn, 'hiddenSize', options.hiddenSize ?? 100);
    const out = expectInt(fn, 'outputSize', options.outputSize ?? 10);
    const init = options.weightInitStd ?? 0.01;
    const conv = new Convolution(randn([FN, C, FS, FS], initScale(fn, init, C * FS * FS)), Tensor.zeros([FN]),
      stride, pad, { skipInputGradient: true });
    const pool = new Pooling(2, 2, 2);
    const poolShape = pool.outputShape(conv.outputShape([C, H, W]));
    const flat = poolShape[0] * poolShape[1] * poolShape[2];
    super([
      conv, new Relu(), pool,
      new Affine(randn([flat, hidden], initScale(fn, init, flat)), Tensor.zeros([hidden])), new Relu(),
      new Affine(randn([hidden, out], initScale(fn, init, hidden)), Tensor.zeros([out])),
      new SoftmaxWithLoss(),
    ], {
      weightDecayLambda: options.weightDecayLambda, l1Lambda: options.l1Lambda, inputShape: [C, H, W],
      config: cleanConfig('SimpleConvNet', options),
    });
  }
}

export interface DeepConvNetOptions {
  inputDim?: [number, number, number];
  /** Six convolutions; the course's are 16, 16, 32, 32, 64, 64 filters of 3x3, pad 1 but the fourth (pad 2). */
  convParams?: ConvParam[];
  hiddenSize?: number;
  outputSize?: number;
  /** Dropout ratio of the two Dropout layers (0.5). */
  dropoutRatio?: number;
  /** He initialisation by default, as the course. */
  weightInitStd?: WeightInit;
}

const DEEP_CONV_PARAMS: ConvParam[] = [
  { filterNum: 16, filterSize: 3, pad: 1, stride: 1 },
  { filterNum: 16, filterSize: 3, pad: 1, stride: 1 },
  { filterNum: 32, filterSize: 3, pad: 1, stride: 1 },
  { filterNum: 32, filterSize: 3, pad: 2, stride: 1 },
  { filterNum: 64, filterSize: 3, pad: 1, stride: 1 },
  { filterNum: 64, filterSize: 3, pad: 1, stride: 1 },
];

/**
 * The course's deeper CNN (about 99.4% on MNIST): conv-relu-conv-relu-pool three times, then
 * Affine, Relu, Dropout, Affine, Dropout, SoftmaxWithLoss. Parameters W1..W8, b1..b8.
 * @example
 *   const net = new DeepConvNet();
 */
export class DeepConvNet extends Sequential {
  constructor(options: DeepConvNetOptions = {}) {
    const fn = 'DeepConvNet';
    readOptions(fn, options, ['inputDim', 'convParams', 'hiddenSize', 'outputSize', 'dropoutRatio', 'weightInitStd']);
    const [C, H, W] = checkInputDim(fn, options.inputDim ?? [1, 28, 28]);
    const params = options.convParams ?? DEEP_CONV_PARAMS;
    if (!Array.isArray(params) || params.length !== 6) throw new TypeError(`${fn}: convParams must be an array of 6 conv parameter objects, got ${describe(params)}`);
    const hidden = expectInt(fn, 'hiddenSize', options.hiddenSize ?? 50);
    const out = expectInt(fn, 'outputSize', options.outputSize ?? 10);
    const ratio = options.dropoutRatio ?? 0.5;
    const init = options.weightInitStd ?? 'he';
    const layers: Layer[] = [];
    let shape: number[] = [C, H, W];
    params.forEach((p, i) => {
      readOptions(`${fn}: convParams[${i}]`, p, CONV_PARAM_KEYS);
      const FN = expectInt(fn, `convParams[${i}].filterNum`, p.filterNum);
      const FS = expectInt(fn, `convParams[${i}].filterSize`, p.filterSize);
      const fanIn = shape[0] * FS * FS;
      const conv = new Convolution(randn([FN, shape[0], FS, FS], initScale(fn, init, fanIn)), Tensor.zeros([FN]),
        expectInt(fn, `convParams[${i}].stride`, p.stride), expectInt(fn, `convParams[${i}].pad`, p.pad, 0),
        { skipInputGradient: i === 0 });
      shape = conv.outputShape(shape);
      layers.push(conv, new Relu());
      if (i % 2 === 1) {
        const pool = new Pooling(2, 2, 2);
        shape = pool.outputShape(shape);
        layers.push(pool);
      }
    });
    const flat = shape[0] * shape[1] * shape[2];
    layers.push(
      new Affine(randn([flat, hidden], initScale(fn, init, flat)), Tensor.zeros([hidden])), new Relu(), new Dropout(ratio),
      new Affine(randn([hidden, out], initScale(fn, init, hidden)), Tensor.zeros([out])), new Dropout(ratio),
    );
    super([...layers, new SoftmaxWithLoss()], { inputShape: [C, H, W], config: cleanConfig('DeepConvNet', options) });
  }
}

/** Builds a preset network from the config saved with its parameters. */
export function networkFromConfig(config: unknown): Sequential {
  const c = config as { kind?: unknown; options?: unknown };
  const o = (c?.options ?? {}) as never;
  switch (c?.kind) {
    case 'TwoLayerNet': return new TwoLayerNet(o);
    case 'MultiLayerNet': return new MultiLayerNet(o);
    case 'MultiLayerNetExtend': return new MultiLayerNetExtend(o);
    case 'SimpleConvNet': return new SimpleConvNet(o);
    case 'DeepConvNet': return new DeepConvNet(o);
    default: throw new Error(`networkFromConfig: unknown network kind ${describe(c?.kind)}; saved presets are TwoLayerNet, MultiLayerNet, MultiLayerNetExtend, SimpleConvNet, DeepConvNet`);
  }
}

/** Rebuilds a preset network from a file written by saveParams, with its parameters loaded. */
export function loadNetwork(file: string): Sequential {
  const { metadata } = readSafetensors(file);
  if (metadata.format !== 'blasnet' || typeof metadata.config !== 'string') {
    throw new Error(`${file}: has no blasnet network configuration in its metadata; use net.loadParams(file) on a network built by hand`);
  }
  let config: unknown;
  try {
    config = JSON.parse(metadata.config);
  } catch {
    throw new Error(`${file}: its network configuration is not valid JSON`);
  }
  const net = networkFromConfig(config);
  net.loadParams(file);
  return net;
}
