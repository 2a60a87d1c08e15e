// SPDX-License-Identifier: MIT
// A network as data: every layer's kind and hyper-parameters (a LayerSpec), which saveParams
// writes into a file's metadata and loadNetwork rebuilds from, with the names and shapes of
// the tensors each layer holds, under blasnet's names (W1, b1, gamma1, ...) or PyTorch's
// (0.weight, 0.bias, ...) for the nn.Sequential that computes the same (see torchModules).
import { describe, outExtent, ShapeError } from '../core/errors';
import { Tensor } from '../core/tensor';
import { Relu, Sigmoid, Tanh } from './layers/activations';
import { AvgPooling, Convolution, Pooling } from './layers/conv';
import { Affine } from './layers/dense';
import { Layer, shapeStr } from './layers/layer';
import { BatchNormalization, BN_EPS, Dropout } from './layers/regularization';

/** One layer with everything that defines what it computes (its tensors aside). */
export type LayerSpec =
  /** y = x·W + b, W (in, out); an input with more than one axis per sample is flattened first. */
  | { type: 'Affine'; in: number; out: number }
  /** Cross-correlation with W (filters, channels, kernel[0], kernel[1]), zero padding. */
  | { type: 'Convolution'; filters: number; channels: number; kernel: [number, number]; stride: number; pad: number }
  /** Max over windows; padding is zeros that take part in the max (the course's im2col). */
  | { type: 'Pooling'; window: [number, number]; stride: number; pad: number }
  /** Mean over windows; padding is zeros that count in the mean. */
  | { type: 'AvgPooling'; window: [number, number]; stride: number; pad: number }
  | { type: 'Relu' } | { type: 'Sigmoid' } | { type: 'Tanh' }
  /** inverted false (the course): test time multiplies by 1 - ratio; true: training scales by 1 / (1 - ratio). */
  | { type: 'Dropout'; ratio: number; inverted: boolean }
  /** The course's: every feature of the flattened input (N, features) is normalised. */
  | { type: 'BatchNormalization'; features: number; momentum: number; eps: number };

export type LayerType = LayerSpec['type'];

/** The tensors of a layer kind, in the order the file lists them. */
export function tensorKeys(spec: { type: string }): string[] {
  switch (spec.type) {
    case 'Affine': case 'Convolution': return ['W', 'b'];
    case 'BatchNormalization': return ['gamma', 'beta', 'runningMean', 'runningVar'];
    default: return [];
  }
}

/** The shape of one tensor of a layer, in blasnet's layout or PyTorch's (Affine W transposed). */
export function tensorShape(spec: LayerSpec, key: string, layout: TensorLayout = 'blasnet'): number[] {
  switch (spec.type) {
    case 'Affine': return key === 'W' ? (layout === 'torch' ? [spec.out, spec.in] : [spec.in, spec.out]) : [spec.out];
    case 'Convolution': return key === 'W' ? [spec.filters, spec.channels, ...spec.kernel] : [spec.filters];
    case 'BatchNormalization': return [spec.features];
    default: throw new RangeError(`tensorShape: a ${spec.type} layer has no tensor '${key}'`);
  }
}

/** How a file names and lays out its tensors. */
export type TensorLayout = 'blasnet' | 'torch';

/**
 * The spec of a layer object of blasnet's own classes (exactly: a subclass may compute
 * something else), or null for any other layer.
 */
export function describeLayer(layer: Layer): LayerSpec | null {
  const ctor = (layer as object).constructor;
  if (ctor === Affine) {
    const [I, O] = (layer as Affine).params.W.shape;
    return { type: 'Affine', in: I, out: O };
  }
  if (ctor === Convolution) {
    const c = layer as Convolution;
    const [FN, C, FH, FW] = c.params.W.shape;
    return { type: 'Convolution', filters: FN, channels: C, kernel: [FH, FW], stride: c.stride, pad: c.pad };
  }
  if (ctor === Pooling || ctor === AvgPooling) {
    const p = layer as Pooling;
    return { type: ctor === Pooling ? 'Pooling' : 'AvgPooling', window: [p.poolH, p.poolW], stride: p.stride, pad: p.pad };
  }
  if (ctor === Relu) return { type: 'Relu' };
  if (ctor === Sigmoid) return { type: 'Sigmoid' };
  if (ctor === Tanh) return { type: 'Tanh' };
  if (ctor === Dropout) {
    const d = layer as Dropout;
    return { type: 'Dropout', ratio: d.ratio, inverted: d.inverted };
  }
  if (ctor === BatchNormalization) {
    const bn = layer as BatchNormalization;
    return { type: 'BatchNormalization', features: bn.params.gamma.data.length, momentum: bn.momentum, eps: BN_EPS };
  }
  return null;
}

/**
 * A layer of the spec with zero (gamma: one) tensors of the right shapes, ready for loadParams;
 * `init(shape, fanIn)` gives the weights instead (the presets' random initialisation).
 */
export function buildLayer(spec: LayerSpec, init?: (shape: number[], fanIn: number) => Tensor): Layer {
  const weights = (shape: number[], fanIn: number): Tensor => (init ? init(shape, fanIn) : Tensor.zeros(shape));
  switch (spec.type) {
    case 'Affine':
      return new Affine(weights([spec.in, spec.out], spec.in), Tensor.zeros([spec.out]));
    case 'Convolution':
      return new Convolution(weights([spec.filters, spec.channels, ...spec.kernel], spec.channels * spec.kernel[0] * spec.kernel[1]),
        Tensor.zeros([spec.filters]), spec.stride, spec.pad);
    case 'Pooling': return new Pooling(spec.window[0], spec.window[1], spec.stride, spec.pad);
    case 'AvgPooling': return new AvgPooling(spec.window[0], spec.window[1], spec.stride, spec.pad);
    case 'Relu': return new Relu();
    case 'Sigmoid': return new Sigmoid();
    case 'Tanh': return new Tanh();
    case 'Dropout': return new Dropout(spec.ratio, { inverted: spec.inverted });
    case 'BatchNormalization': {
      const gamma = Tensor.zeros([spec.features]);
      gamma.data.fill(1);
      return new BatchNormalization(gamma, Tensor.zeros([spec.features]), spec.momentum);
    }
  }
}

/**
 * The output shape of one sample (without the batch axis) for an input shape, as the layer
 * computes it; a ShapeError when they do not fit.
 */
export function specOutputShape(fn: string, spec: LayerSpec, input: readonly number[]): number[] {
  const features = input.reduce((a, d) => a * d, 1);
  switch (spec.type) {
    case 'Affine':
      if (features !== spec.in) throw new ShapeError(`${fn}: Affine expects ${spec.in} features per sample, its input ${shapeStr(input)} has ${features}`);
      return [spec.out];
    case 'BatchNormalization':
      if (features !== spec.features) throw new ShapeError(`${fn}: BatchNormalization has ${spec.features} features, its input ${shapeStr(input)} has ${features}`);
      return [...input];
    case 'Convolution':
      if (input.length !== 3 || input[0] !== spec.channels) {
        throw new ShapeError(`${fn}: Convolution expects (C, H, W) with C = ${spec.channels}, got ${shapeStr(input)}`);
      }
      return [spec.filters, outExtent(fn, 'input height', input[1], spec.kernel[0], spec.stride, spec.pad),
        outExtent(fn, 'input width', input[2], spec.kernel[1], spec.stride, spec.pad)];
    case 'Pooling': case 'AvgPooling':
      if (input.length !== 3) throw new ShapeError(`${fn}: ${spec.type} expects (C, H, W), got ${shapeStr(input)}`);
      return [input[0], outExtent(fn, 'input height', input[1], spec.window[0], spec.stride, spec.pad),
        outExtent(fn, 'input width', input[2], spec.window[1], spec.stride, spec.pad)];
    default:
      return [...input];
  }
}

/**
 * blasnet's tensor names, layer by layer, as Sequential gives them: the n-th layer with a
 * weight (Affine or Convolution) holds W{n} and b{n}, the m-th BatchNormalization gamma{m},
 * beta{m}, runningMean{m} and runningVar{m}.
 */
export function blasnetNames(specs: readonly { type: string }[]): Array<Record<string, string>> {
  let dense = 0, bn = 0;
  return specs.map((s) => {
    const keys = tensorKeys(s);
    if (keys.length === 0) return {};
    const n = s.type === 'BatchNormalization' ? ++bn : ++dense;
    return Object.fromEntries(keys.map((k) => [k, `${k}${n}`]));
  });
}

/** One module of the PyTorch nn.Sequential that computes what the layers compute. */
export interface TorchModule {
  /** Its index in the nn.Sequential (the prefix of its state_dict names). */
  index: number;
  /**
   * torch.nn class, or one of the two modules the conventions need (examples/python):
   * CourseDropout (test time multiplies by 1 - ratio) and CourseBatchNorm (BatchNorm1d over
   * the flattened features, reshaped back, running variance from the biased batch variance).
   */
  module: 'Flatten' | 'Linear' | 'Conv2d' | 'ZeroPad2d' | 'MaxPool2d' | 'AvgPool2d' | 'ReLU' | 'Sigmoid' | 'Tanh'
    | 'Dropout' | 'CourseDropout' | 'CourseBatchNorm';
  /** The index of the blasnet layer it comes from. */
  layer: number;
}

const TORCH_KEYS: Record<string, string> = {
  W: 'weight', b: 'bias', gamma: 'weight', beta: 'bias', runningMean: 'running_mean', runningVar: 'running_var',
};

/**
 * The nn.Sequential equivalent of the layers, and PyTorch's state_dict name of each tensor.
 * `inputRank` is the number of axes of one input sample (1 for (N, features), 3 for images),
 * or null when unknown: an Affine whose input may have more than one axis gets an nn.Flatten
 * before its nn.Linear. A max or average Pooling with pad > 0 is nn.ZeroPad2d then the pool:
 * the course's padded zeros take part in the max (MaxPool2d's own padding is -inf).
 */
export function torchModules(specs: readonly LayerSpec[], inputRank: number | null):
  { modules: TorchModule[]; names: Array<Record<string, string>> } {
  const modules: TorchModule[] = [];
  const names: Array<Record<string, string>> = [];
  let rank = inputRank;
  specs.forEach((s, layer) => {
    const add = (module: TorchModule['module']): number => {
      modules.push({ index: modules.length, module, layer });
      return modules.length - 1;
    };
    let main: number;
    switch (s.type) {
      case 'Affine':
        if (rank !== 1) add('Flatten');
        main = add('Linear');
        rank = 1;
        break;
      case 'Convolution': main = add('Conv2d'); rank = 3; break;
      case 'Pooling': case 'AvgPooling':
        if (s.pad > 0) add('ZeroPad2d');
        main = add(s.type === 'Pooling' ? 'MaxPool2d' : 'AvgPool2d');
        rank = 3;
        break;
      case 'Relu': main = add('ReLU'); break;
      case 'Sigmoid': main = add('Sigmoid'); break;
      case 'Tanh': main = add('Tanh'); break;
      case 'Dropout': main = add(s.inverted ? 'Dropout' : 'CourseDropout'); break;
      case 'BatchNormalization': main = add('CourseBatchNorm'); break;
    }
    names.push(Object.fromEntries(tensorKeys(s).map((k) => [k, `${main}.${TORCH_KEYS[k]}`])));
  });
  return { modules, names };
}

// ---- reading specs back from JSON ---------------------------------------------------------

const FIELDS: Record<LayerType, string[]> = {
  Affine: ['in', 'out'],
  Convolution: ['filters', 'channels', 'kernel', 'stride', 'pad'],
  Pooling: ['window', 'stride', 'pad'],
  AvgPooling: ['window', 'stride', 'pad'],
  Relu: [], Sigmoid: [], Tanh: [],
  Dropout: ['ratio', 'inverted'],
  BatchNormalization: ['features', 'momentum', 'eps'],
};

/** The layer kinds a file may describe. */
export const LAYER_TYPES = Object.keys(FIELDS) as LayerType[];

/**
 * A LayerSpec from parsed JSON, every field checked (`where` names it in errors, e.g.
 * "model.safetensors: layer 3"); fields listed in `extra` are allowed and left to the caller.
 */
export function parseLayerSpec(where: string, raw: unknown, extra: readonly string[] = []): LayerSpec {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new TypeError(`${where} must be an object, got ${describe(raw)}`);
  const r = raw as Record<string, unknown>;
  const type = r.type;
  if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(FIELDS, type)) {
    throw new RangeError(`${where} has type ${describe(type)}; blasnet rebuilds ${LAYER_TYPES.join(', ')}`);
  }
  const fields = FIELDS[type as LayerType];
  for (const k of Object.keys(r)) {
    if (k !== 'type' && !fields.includes(k) && !extra.includes(k)) throw new RangeError(`${where} (${type}) has the unknown field '${k}'`);
  }
  for (const k of fields) if (!(k in r)) throw new RangeError(`${where} (${type}) lacks the field '${k}'`);
  const int = (k: string, min = 1): number => {
    const v = r[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 2147483647) {
      throw new RangeError(`${where} (${type}): ${k} must be an integer >= ${min}, got ${describe(v)}`);
    }
    return v;
  };
  const pair = (k: string): [number, number] => {
    const v = r[k];
    if (!Array.isArray(v) || v.length !== 2 || !v.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 1 && d <= 2147483647)) {
      throw new RangeError(`${where} (${type}): ${k} must be [height, width] of positive integers, got ${describe(v)}`);
    }
    return [v[0], v[1]];
  };
  switch (type as LayerType) {
    case 'Affine': return { type: 'Affine', in: int('in'), out: int('out') };
    case 'Convolution':
      return { type: 'Convolution', filters: int('filters'), channels: int('channels'), kernel: pair('kernel'), stride: int('stride'), pad: int('pad', 0) };
    case 'Pooling': case 'AvgPooling':
      return { type: type as 'Pooling' | 'AvgPooling', window: pair('window'), stride: int('stride'), pad: int('pad', 0) };
    case 'Relu': return { type: 'Relu' };
    case 'Sigmoid': return { type: 'Sigmoid' };
    case 'Tanh': return { type: 'Tanh' };
    case 'Dropout': {
      const ratio = r.ratio;
      if (typeof ratio !== 'number' || !(ratio >= 0 && ratio < 1)) throw new RangeError(`${where} (Dropout): ratio must be a number in [0, 1), got ${describe(ratio)}`);
      if (typeof r.inverted !== 'boolean') throw new TypeError(`${where} (Dropout): inverted must be a boolean, got ${describe(r.inverted)}`);
      return { type: 'Dropout', ratio, inverted: r.inverted };
    }
    case 'BatchNormalization': {
      const momentum = r.momentum;
      if (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1)) {
        throw new RangeError(`${where} (BatchNormalization): momentum must be a number in [0, 1], got ${describe(momentum)}`);
      }
      if (r.eps !== BN_EPS) {
        throw new RangeError(`${where} (BatchNormalization): eps is ${describe(r.eps)}; blasnet's BatchNormalization uses the course's ${BN_EPS}`);
      }
      return { type: 'BatchNormalization', features: int('features'), momentum, eps: BN_EPS };
    }
  }
}
