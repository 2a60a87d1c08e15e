// SPDX-License-Identifier: MIT
// The course's networks as presets of Sequential, with its parameter names,
// weight initialisation and defaults (options in camelCase).
import { describe, expectBoolean, expectInt, expectNumber, readOptions } from '../core/errors';
import { Layer } from './layers/layer';
import { BN_EPS } from './layers/regularization';
import { SoftmaxWithLoss } from './layers/loss';
import { Sequential } from './network';
import { randn } from '../core/random';
import { loadNetworkFile } from '../io/network-file';
import { Tensor } from '../core/tensor';
import { buildLayer, LayerSpec, specOutputShape } from './spec';

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

/** The weight-decay options of a preset, checked under the preset's name (Sequential checks them again). */
function checkDecay(fn: string, o: { weightDecayLambda?: unknown; l1Lambda?: unknown }): void {
  for (const key of ['weightDecayLambda', 'l1Lambda'] as const) {
    if (o[key] !== undefined) expectNumber(fn, key, o[key], { min: 0 });
  }
}

function activationSpec(fn: string, a: unknown): LayerSpec {
  switch (typeof a === 'string' ? a.toLowerCase() : a) {
    case 'relu': return { type: 'Relu' };
    case 'sigmoid': return { type: 'Sigmoid' };
    case 'tanh': return { type: 'Tanh' };
    default: throw new RangeError(`${fn}: activation must be 'relu', 'sigmoid' or 'tanh', got ${describe(a)}`);
  }
}

/**
 * What a preset's options give, computed without allocating a single weight: its layers in
 * order with their hyper-parameters, the shape of one input sample and the weight
 * initialisation. The constructors build from it; loadNetwork checks a file against it.
 */
export interface PresetPlan {
  layers: LayerSpec[];
  inputShape: number[];
  init: WeightInit;
}

/** The layers of the plan, weights drawn in layer order with the plan's initialisation. */
function buildPlan(fn: string, plan: PresetPlan): Layer[] {
  const init = (shape: number[], fanIn: number): Tensor => randn(shape, initScale(fn, plan.init, fanIn));
  return plan.layers.map((spec) => buildLayer(spec, init));
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

function planMlp(fn: string, o: MultiLayerNetExtendOptions, extend: boolean): PresetPlan {
  if (o === undefined) throw new TypeError(`${fn}: options { inputSize, hiddenSizeList, outputSize } are required`);
  readOptions(fn, o, extend ? MLP_EXTEND_OPTIONS : MLP_OPTIONS);
  const inputSize = expectInt(fn, 'inputSize', o.inputSize);
  const outputSize = expectInt(fn, 'outputSize', o.outputSize);
  if (!Array.isArray(o.hiddenSizeList)) throw new TypeError(`${fn}: hiddenSizeList must be an array of positive integers, got ${describe(o.hiddenSizeList)}`);
  const hidden = o.hiddenSizeList.map((h, i) => expectInt(fn, `hiddenSizeList[${i}]`, h));
  const activation = activationSpec(fn, o.activation === undefined ? 'relu' : o.activation);
  const useDropout = extend && o.useDropout !== undefined && expectBoolean(fn, 'useDropout', o.useDropout);
  const useBatchnorm = extend && o.useBatchnorm !== undefined && expectBoolean(fn, 'useBatchnorm', o.useBatchnorm);
  const ratio = o.dropoutRatio === undefined ? 0.5 : expectNumber(fn, 'dropoutRatio', o.dropoutRatio, { min: 0, max: 1, maxExclusive: true });
  checkDecay(fn, o);
  const sizes = [inputSize, ...hidden, outputSize];
  const layers: LayerSpec[] = [];
  for (let i = 1; i < sizes.length; i++) {
    layers.push({ type: 'Affine', in: sizes[i - 1], out: sizes[i] });
    if (i === sizes.length - 1) break;
    if (useBatchnorm) layers.push({ type: 'BatchNormalization', features: sizes[i], momentum: 0.9, eps: BN_EPS });
    layers.push(activation);
    if (useDropout) layers.push({ type: 'Dropout', ratio, inverted: false });
  }
  return { layers, inputShape: [inputSize], init: o.weightInitStd === undefined ? 'relu' : o.weightInitStd };
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
    const plan = planMlp('MultiLayerNet', options, false);
    super([...buildPlan('MultiLayerNet', plan), new SoftmaxWithLoss()], {
      weightDecayLambda: options?.weightDecayLambda, l1Lambda: options?.l1Lambda, inputShape: plan.inputShape,
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
    const plan = planMlp('MultiLayerNetExtend', options, true);
    super([...buildPlan('MultiLayerNetExtend', plan), new SoftmaxWithLoss()], {
      weightDecayLambda: options?.weightDecayLambda, l1Lambda: options?.l1Lambda, inputShape: plan.inputShape,
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

function planTwoLayerNet(options: TwoLayerNetOptions): PresetPlan {
  const fn = 'TwoLayerNet';
  if (options === undefined) throw new TypeError(`${fn}: options { inputSize, hiddenSize, outputSize } are required`);
  readOptions(fn, options, ['inputSize', 'hiddenSize', 'outputSize', 'weightInitStd', 'activation']);
  const inputSize = expectInt(fn, 'inputSize', options.inputSize);
  const hiddenSize = expectInt(fn, 'hiddenSize', options.hiddenSize);
  const outputSize = expectInt(fn, 'outputSize', options.outputSize);
  const act = activationSpec(fn, options.activation === undefined ? 'relu' : options.activation);
  return {
    layers: [{ type: 'Affine', in: inputSize, out: hiddenSize }, act, { type: 'Affine', in: hiddenSize, out: outputSize }],
    inputShape: [inputSize],
    init: options.weightInitStd === undefined ? 0.01 : options.weightInitStd,
  };
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
    const plan = planTwoLayerNet(options);
    super([...buildPlan('TwoLayerNet', plan), new SoftmaxWithLoss()], { inputShape: plan.inputShape, config: cleanConfig('TwoLayerNet', options) });
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
    const plan = planSimpleConvNet(options);
    super([...buildPlan('SimpleConvNet', plan), new SoftmaxWithLoss()], {
      weightDecayLambda: options.weightDecayLambda, l1Lambda: options.l1Lambda, inputShape: plan.inputShape,
      config: cleanConfig('SimpleConvNet', options),
    });
  }
}

function planSimpleConvNet(options: SimpleConvNetOptions): PresetPlan {
  const fn = 'SimpleConvNet';
  readOptions(fn, options, ['inputDim', 'convParam', 'hiddenSize', 'outputSize', 'weightInitStd', 'weightDecayLambda', 'l1Lambda']);
  checkDecay(fn, options);
  const [C, H, W] = checkInputDim(fn, options.inputDim === undefined ? [1, 28, 28] : options.inputDim);
  // A key given as undefined keeps its default, as a missing one does.
  const given = readOptions(`${fn}: convParam`, options.convParam, CONV_PARAM_KEYS) as Partial<ConvParam>;
  const cp: Record<keyof ConvParam, unknown> = { filterNum: 30, filterSize: 5, pad: 0, stride: 1 };
  for (const key of CONV_PARAM_KEYS as Array<keyof ConvParam>) if (given[key] !== undefined) cp[key] = given[key];
  const FN = expectInt(fn, 'convParam.filterNum', cp.filterNum);
  const FS = expectInt(fn, 'convParam.filterSize', cp.filterSize);
  const pad = expectInt(fn, 'convParam.pad', cp.pad, 0);
  const stride = expectInt(fn, 'convParam.stride', cp.stride);
  const hidden = expectInt(fn, 'hiddenSize', (options.hiddenSize === undefined ? 100 : options.hiddenSize));
  const out = expectInt(fn, 'outputSize', (options.outputSize === undefined ? 10 : options.outputSize));
  const conv: LayerSpec = { type: 'Convolution', filters: FN, channels: C, kernel: [FS, FS], stride, pad };
  const pool: LayerSpec = { type: 'Pooling', window: [2, 2], stride: 2, pad: 0 };
  const poolShape = specOutputShape(fn, pool, specOutputShape(fn, conv, [C, H, W]));
  const flat = poolShape[0] * poolShape[1] * poolShape[2];
  return {
    layers: [conv, { type: 'Relu' }, pool, { type: 'Affine', in: flat, out: hidden }, { type: 'Relu' }, { type: 'Affine', in: hidden, out }],
    inputShape: [C, H, W],
    init: options.weightInitStd === undefined ? 0.01 : options.weightInitStd,
  };
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
    const plan = planDeepConvNet(options);
    super([...buildPlan('DeepConvNet', plan), new SoftmaxWithLoss()], { inputShape: plan.inputShape, config: cleanConfig('DeepConvNet', options) });
  }
}

function planDeepConvNet(options: DeepConvNetOptions): PresetPlan {
  const fn = 'DeepConvNet';
  readOptions(fn, options, ['inputDim', 'convParams', 'hiddenSize', 'outputSize', 'dropoutRatio', 'weightInitStd']);
  const [C, H, W] = checkInputDim(fn, options.inputDim === undefined ? [1, 28, 28] : options.inputDim);
  const params = (options.convParams === undefined ? DEEP_CONV_PARAMS : options.convParams);
  if (!Array.isArray(params) || params.length !== 6) throw new TypeError(`${fn}: convParams must be an array of 6 conv parameter objects, got ${describe(params)}`);
  const hidden = expectInt(fn, 'hiddenSize', (options.hiddenSize === undefined ? 50 : options.hiddenSize));
  const out = expectInt(fn, 'outputSize', (options.outputSize === undefined ? 10 : options.outputSize));
  const ratio = options.dropoutRatio === undefined ? 0.5 : expectNumber(fn, 'dropoutRatio', options.dropoutRatio, { min: 0, max: 1, maxExclusive: true });
  const layers: LayerSpec[] = [];
  let shape: number[] = [C, H, W];
  params.forEach((p, i) => {
    readOptions(`${fn}: convParams[${i}]`, p, CONV_PARAM_KEYS);
    const FN = expectInt(fn, `convParams[${i}].filterNum`, p.filterNum);
    const FS = expectInt(fn, `convParams[${i}].filterSize`, p.filterSize);
    const conv: LayerSpec = { type: 'Convolution', filters: FN, channels: shape[0], kernel: [FS, FS],
      stride: expectInt(fn, `convParams[${i}].stride`, p.stride), pad: expectInt(fn, `convParams[${i}].pad`, p.pad, 0) };
    shape = specOutputShape(fn, conv, shape);
    layers.push(conv, { type: 'Relu' });
    if (i % 2 === 1) {
      const pool: LayerSpec = { type: 'Pooling', window: [2, 2], stride: 2, pad: 0 };
      shape = specOutputShape(fn, pool, shape);
      layers.push(pool);
    }
  });
  const flat = shape[0] * shape[1] * shape[2];
  const dropout: LayerSpec = { type: 'Dropout', ratio, inverted: false };
  layers.push({ type: 'Affine', in: flat, out: hidden }, { type: 'Relu' }, dropout, { type: 'Affine', in: hidden, out }, dropout);
  return { layers, inputShape: [C, H, W], init: options.weightInitStd === undefined ? 'he' : options.weightInitStd };
}

/**
 * The plan of a preset from its kind and options (as saved in `config`), or null when `kind`
 * is not a preset; bad options throw as the constructor would. Nothing is allocated.
 * @example
 *   presetPlan('SimpleConvNet', {}).layers[3]; // { type: 'Affine', in: 4320, out: 100 }
 */
export function presetPlan(kind: unknown, options: unknown): PresetPlan | null {
  const o = (options ?? {}) as never;
  switch (kind) {
    case 'TwoLayerNet': return planTwoLayerNet(o);
    case 'MultiLayerNet': return planMlp('MultiLayerNet', o, false);
    case 'MultiLayerNetExtend': return planMlp('MultiLayerNetExtend', o, true);
    case 'SimpleConvNet': return planSimpleConvNet(o);
    case 'DeepConvNet': return planDeepConvNet(o);
    default: return null;
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
    default: throw new RangeError(`networkFromConfig: unknown network kind ${describe(c?.kind)}; saved presets are TwoLayerNet, MultiLayerNet, MultiLayerNetExtend, SimpleConvNet, DeepConvNet`);
  }
}

/**
 * Rebuilds the network saved in a file by saveParams (any preset or Sequential of blasnet's
 * layers), with its parameters loaded. The file describes every layer with its
 * hyper-parameters; before anything is built, the names and shapes of its tensors (read from
 * the header alone) are checked against that description, and a preset's options against
 * its layers. Files of blasnet 0.1 (metadata version 1) load too.
 * @example
 *   const net = loadNetwork('runs/train-2026-12-01T10-00-00/model.safetensors');
 *   net.predict(x);
 */
export function loadNetwork(file: string): Sequential {
  return loadNetworkFile(file, {
    plan: presetPlan,
    preset: networkFromConfig,
    sequential: (layers, opts) => new Sequential([...layers, new SoftmaxWithLoss()], opts),
  });
}
