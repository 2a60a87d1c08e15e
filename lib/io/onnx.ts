// SPDX-License-Identifier: MIT
// ONNX export of a network (opset 13), built from the layer objects themselves, with the
// course's conventions written out as plain ONNX operators:
//   Affine              -> Gemm (a Flatten first when the input has more than one dimension)
//   Convolution         -> Conv (zero padding, as the course's im2col)
//   Pooling (max)       -> MaxPool, then with padding a Max with 0 over the windows that reach
//                          into it (the course's padded zeros take part in the max)
//   AvgPooling          -> AveragePool with count_include_pad = 1 (padded zeros count in the mean)
//   Relu/Sigmoid/Tanh   -> Relu/Sigmoid/Tanh
//   BatchNormalization  -> BatchNormalization in inference form over every feature of the
//                          flattened input (Reshape to (N, D) and back for (N, C, H, W) inputs)
//   Dropout             -> Mul by (1 - ratio), the course's test-time scaling; nothing when inverted
// and, after the last layer, the outputs `logits` (what predict returns) and `probabilities`
// (Softmax of the logits, what SoftmaxWithLoss computes before the loss).
import * as fs from 'fs';
import * as path from 'path';
import { describe, expectInt, readOptions, ShapeError } from '../core/errors';
import { packageRoot } from '../core/paths';
import { Tensor } from '../core/tensor';
import { Relu, Sigmoid, Tanh } from '../nn/layers/activations';
import { AvgPooling, Convolution, Pooling } from '../nn/layers/conv';
import { Affine } from '../nn/layers/dense';
import { Layer, shapeStr } from '../nn/layers/layer';
import { BatchNormalization, BN_EPS, Dropout } from '../nn/layers/regularization';
import { writeFileAtomic } from './atomic';
import { ATTRIBUTE_TYPE, DATA_TYPE, onnxModelType } from './onnx-schema';

/** The ONNX operator set the exporter writes (every operator used exists in this form since 13). */
export const ONNX_OPSET = 13;
/** ONNX IR version 7 is the one that goes with opset 13. */
const IR_VERSION = 7;

/** The layers the exporter knows, by constructor (a subclass may compute something else). */
const SUPPORTED = 'Affine, Convolution, Pooling, AvgPooling, Relu, Sigmoid, Tanh, BatchNormalization, Dropout';

/** What exportOnnx needs of a network: its layers and, when known, its input shape. */
export interface OnnxExportable {
  readonly layers: readonly Layer[];
  /** Shape of one input sample when the network was built with one, e.g. [1, 28, 28]. */
  readonly inputShape?: readonly number[] | null;
  /** Every tensor of the network by its saved name (W1, b1, gamma1, runningMean1, ...). */
  stateTensors?(): Record<string, Tensor>;
}

export interface OnnxExportOptions {
  /**
   * Shape of one input sample without the batch dimension, e.g. [1, 28, 28] or [784].
   * Default: the network's own inputShape (the convolutional presets have one), else
   * [inputs of the first Affine]. A network that starts with a Convolution and has no
   * inputShape needs it.
   */
  inputShape?: readonly number[];
  /** Extra key/value strings for the model's metadata_props. */
  metadata?: Record<string, string>;
}

/** What an export wrote. */
export interface OnnxModelInfo {
  /** ONNX operator set version (13). */
  opset: number;
  /** Graph input `input`: [N, ...inputShape], N free. */
  inputShape: number[];
  /** Number of classes: the outputs `logits` and `probabilities` are [N, classes]. */
  classes: number;
  /** The ONNX operators of the graph in order, e.g. ['Conv', 'Relu', 'MaxPool', 'Flatten', 'Gemm', ...]. */
  operators: string[];
}

interface Node {
  opType: string;
  name: string;
  input: string[];
  output: string[];
  attribute: Array<Record<string, unknown>>;
}

interface Initializer {
  name: string;
  dims: number[];
  dataType: number;
  rawData: Uint8Array;
}

const intsAttr = (name: string, ints: number[]): Record<string, unknown> => ({ name, type: ATTRIBUTE_TYPE.INTS, ints });
const intAttr = (name: string, i: number): Record<string, unknown> => ({ name, type: ATTRIBUTE_TYPE.INT, i });
const floatAttr = (name: string, f: number): Record<string, unknown> => ({ name, type: ATTRIBUTE_TYPE.FLOAT, f });

function floatBytes(values: ArrayLike<number>): Uint8Array {
  const dv = new DataView(new ArrayBuffer(values.length * 4));
  for (let i = 0; i < values.length; i++) dv.setFloat32(i * 4, values[i], true);
  return new Uint8Array(dv.buffer);
}

function int64Bytes(values: readonly number[]): Uint8Array {
  const dv = new DataView(new ArrayBuffer(values.length * 8));
  values.forEach((v, i) => dv.setBigInt64(i * 8, BigInt(v), true));
  return new Uint8Array(dv.buffer);
}

/** Exact class check: a subclass of a supported layer may compute something the exporter cannot know. */
function is<T>(layer: Layer, cls: new (...args: never[]) => T): layer is Layer & T {
  return Object.getPrototypeOf(layer) === cls.prototype;
}

function layerLabel(layer: unknown): string {
  const l = layer as { name?: unknown; constructor?: { name?: string } } | null;
  if (l && typeof l.name === 'string' && l.name !== '') return l.name;
  return l?.constructor?.name ?? describe(layer);
}

/** ONNX runtimes refuse pooling padding as wide as the window (a window of padding alone). */
function windowPadCheck(fn: string, where: string, PH: number, PW: number, pad: number): void {
  if (pad >= PH || pad >= PW) {
    throw new RangeError(`${fn}: ${where} pads by ${pad}, not less than its ${PH}x${PW} window; ONNX pooling needs the padding smaller than the window`);
  }
}

/** Builds the graph; returns the ModelProto as an object for protobufjs, and what it holds. */
function buildModel(fn: string, net: OnnxExportable, options?: OnnxExportOptions): { model: Record<string, unknown>; info: OnnxModelInfo } {
  const o = readOptions(fn, options, ['inputShape', 'metadata']);
  if (!net || !Array.isArray(net.layers)) {
    throw new TypeError(`${fn}: net must be a network with a layers array (a Sequential or preset), got ${describe(net)}`);
  }
  const layers = net.layers;
  // Refuse unsupported layers before anything else, naming the first one.
  layers.forEach((layer, i) => {
    const ok = [Affine, Convolution, Pooling, AvgPooling, Relu, Sigmoid, Tanh, BatchNormalization, Dropout]
      .some((cls) => layer !== null && typeof layer === 'object' && is(layer, cls as new (...args: never[]) => unknown));
    if (!ok) {
      throw new TypeError(`${fn}: layer ${i} (${layerLabel(layer)}) cannot be exported to ONNX; supported layers are ${SUPPORTED}`);
    }
  });
  if (layers.length === 0) throw new TypeError(`${fn}: the network has no layers`);

  let inputShape: number[];
  if (o.inputShape !== undefined) {
    if (!Array.isArray(o.inputShape) || o.inputShape.length === 0) {
      throw new TypeError(`${fn}: inputShape must be a non-empty array of positive integers like [1, 28, 28], got ${describe(o.inputShape)}`);
    }
    inputShape = o.inputShape.map((d, i) => expectInt(fn, `inputShape[${i}]`, d));
  } else if (net.inputShape) {
    inputShape = [...net.inputShape];
  } else if (is(layers[0], Affine)) {
    inputShape = [layers[0].params.W.shape[0]];
  } else {
    throw new TypeError(`${fn}: the network starts with ${layerLabel(layers[0])} and was built without inputShape, so its input height and width are unknown; pass { inputShape: [C, H, W] }`);
  }
  if (o.metadata !== undefined) {
    if (o.metadata === null || typeof o.metadata !== 'object' || Array.isArray(o.metadata)
      || Object.values(o.metadata).some((v) => typeof v !== 'string')) {
      throw new TypeError(`${fn}: metadata must be an object of strings, got ${describe(o.metadata)}`);
    }
  }

  // The saved names of the network's tensors (W1, b1, gamma1, runningMean1, ...), for the initializers.
  const names = new Map<Tensor, string>();
  if (typeof net.stateTensors === 'function') {
    for (const [name, t] of Object.entries(net.stateTensors())) names.set(t, name);
  }
  const nodes: Node[] = [];
  const inits: Initializer[] = [];
  const used = new Set<string>(['input', 'logits', 'probabilities']);
  const unique = (want: string): string => {
    let name = want;
    for (let k = 2; used.has(name); k++) name = `${want}_${k}`;
    used.add(name);
    return name;
  };
  const floatInit = (t: Tensor | null, fallback: string, dims: number[], values?: ArrayLike<number>): string => {
    const name = unique((t && names.get(t)) ?? fallback);
    const data = values ?? (t as Tensor).data;
    inits.push({ name, dims, dataType: DATA_TYPE.FLOAT, rawData: floatBytes(data) });
    return name;
  };
  const int64Init = (fallback: string, values: number[]): string => {
    const name = unique(fallback);
    inits.push({ name, dims: [values.length], dataType: DATA_TYPE.INT64, rawData: int64Bytes(values) });
    return name;
  };
  let cur = 'input';
  const emit = (i: number, opType: string, inputs: string[], attribute: Array<Record<string, unknown>> = []): void => {
    const out = unique(`layer${i}_${opType}`);
    nodes.push({ opType, name: unique(`${opType}_${i}`), input: inputs, output: [out], attribute });
    cur = out;
  };

  let shape = [...inputShape];
  layers.forEach((layer, i) => {
    const where = `layer ${i} (${layerLabel(layer)})`;
    let next: number[];
    try {
      next = layer.outputShape ? layer.outputShape(shape) : shape;
    } catch (err) {
      throw new ShapeError(`${fn}: ${where} does not accept the per-sample shape ${shapeStr(shape)}: ${(err as Error).message}`);
    }
    if (is(layer, Affine)) {
      const W = layer.params.W, b = layer.params.b;
      if (shape.length > 1) emit(i, 'Flatten', [cur], [intAttr('axis', 1)]);
      emit(i, 'Gemm', [cur, floatInit(W, `layer${i}_W`, W.shape), floatInit(b, `layer${i}_b`, b.shape)]);
    } else if (is(layer, Convolution)) {
      const W = layer.params.W, b = layer.params.b;
      const [, , FH, FW] = W.shape;
      const p = layer.pad, s = layer.stride;
      emit(i, 'Conv', [cur, floatInit(W, `layer${i}_W`, W.shape), floatInit(b, `layer${i}_b`, [W.shape[0]])], [
        intsAttr('kernel_shape', [FH, FW]), intsAttr('strides', [s, s]), intsAttr('pads', [p, p, p, p]),
        intsAttr('dilations', [1, 1]), intAttr('group', 1),
      ]);
    } else if (is(layer, Pooling)) {
      const p = layer.pad, s = layer.stride, PH = layer.poolH, PW = layer.poolW;
      windowPadCheck(fn, where, PH, PW, p);
      emit(i, 'MaxPool', [cur], [intsAttr('kernel_shape', [PH, PW]), intsAttr('strides', [s, s]), intsAttr('pads', [p, p, p, p])]);
      if (p > 0) {
        // ONNX MaxPool's padding never wins the max; the course's padded zeros do. So every
        // window that reaches into the padding also takes the max with 0: an element-wise Max
        // with a constant (OH, OW) mask, 0 there and -inf elsewhere. (A Pad node before the
        // MaxPool says the same, but onnxruntime's graph optimiser folds a zero Pad into
        // MaxPool's own padding and so changes the result.)
        const [, H, W] = shape, [, OH, OW] = next;
        const mask = new Float32Array(OH * OW);
        for (let oy = 0; oy < OH; oy++) {
          for (let ox = 0; ox < OW; ox++) {
            const y0 = oy * s - p, x0 = ox * s - p;
            const touches = y0 < 0 || x0 < 0 || y0 + PH > H || x0 + PW > W;
            mask[oy * OW + ox] = touches ? 0 : -Infinity;
          }
        }
        emit(i, 'Max', [cur, floatInit(null, `layer${i}_pad_zeros`, [1, 1, OH, OW], mask)]);
      }
    } else if (is(layer, AvgPooling)) {
      const p = layer.pad, s = layer.stride;
      windowPadCheck(fn, where, layer.poolH, layer.poolW, p);
      emit(i, 'AveragePool', [cur], [intsAttr('kernel_shape', [layer.poolH, layer.poolW]), intsAttr('strides', [s, s]),
        intsAttr('pads', [p, p, p, p]), intAttr('count_include_pad', 1)]);
    } else if (is(layer, Relu) || is(layer, Sigmoid) || is(layer, Tanh)) {
      emit(i, layer.name, [cur]);
    } else if (is(layer, BatchNormalization)) {
      const D = layer.params.gamma.data.length;
      const bnInputs = (): string[] => [cur,
        floatInit(layer.params.gamma, `layer${i}_gamma`, [D]), floatInit(layer.params.beta, `layer${i}_beta`, [D]),
        floatInit(layer.runningMean, `layer${i}_runningMean`, [D]), floatInit(layer.runningVar, `layer${i}_runningVar`, [D])];
      const attrs = [floatAttr('epsilon', BN_EPS)];
      if (shape.length === 1) {
        emit(i, 'BatchNormalization', bnInputs(), attrs);
      } else {
        // The course normalises each of the C*H*W features on its own, not per channel.
        emit(i, 'Reshape', [cur, int64Init(`layer${i}_flat_shape`, [0, D])]);
        emit(i, 'BatchNormalization', bnInputs(), attrs);
        emit(i, 'Reshape', [cur, int64Init(`layer${i}_shape`, [0, ...shape])]);
      }
    } else if (is(layer, Dropout)) {
      // Test time: the course scales by (1 - ratio); inverted dropout passes through.
      if (!layer.inverted) emit(i, 'Mul', [cur, floatInit(null, `layer${i}_keep`, [], [1 - layer.ratio])]);
    }
    shape = next;
  });
  if (shape.length !== 1) {
    throw new ShapeError(`${fn}: the network's output per sample is ${shapeStr(shape)}; ONNX export needs a vector of class scores (end with an Affine)`);
  }
  const classes = shape[0];
  if (nodes.length === 0) emit(layers.length, 'Identity', [cur]);
  nodes[nodes.length - 1].output = ['logits'];
  nodes.push({ opType: 'Softmax', name: unique('Softmax'), input: ['logits'], output: ['probabilities'], attribute: [intAttr('axis', 1)] });

  const tensorType = (dims: Array<number | string>): Record<string, unknown> => ({
    tensorType: {
      elemType: DATA_TYPE.FLOAT,
      shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
    },
  });
  const operators = nodes.map((n) => n.opType);
  const layerList = layers.map((l) => layerLabel(l)).join(', ');
  const metadata: Record<string, string> = {
    'blasnet.layers': layerList,
    'blasnet.input': `float32 [N, ${inputShape.join(', ')}], as the network was trained on (loadMnist: pixel / 255, white digit on black)`,
    'blasnet.outputs': 'logits: class scores before softmax (what predict returns); probabilities: softmax of the logits',
    'blasnet.conventions': `Dropout as the course's test-time scaling x * (1 - ratio); BatchNormalization over every feature of the flattened input, epsilon ${BN_EPS}; padded pooling counts the padded zeros`,
    ...(o.metadata ?? {}),
  };
  const model = {
    irVersion: IR_VERSION,
    producerName: 'blasnet',
    producerVersion: packageVersion(),
    docString: `blasnet network: ${layerList}`,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    graph: {
      name: 'blasnet',
      node: nodes,
      initializer: inits,
      input: [{ name: 'input', type: tensorType(['N', ...inputShape]) }],
      output: [
        { name: 'logits', type: tensorType(['N', classes]), docString: 'class scores before softmax, as predict returns them' },
        { name: 'probabilities', type: tensorType(['N', classes]), docString: 'softmax of the logits' },
      ],
    },
  };
  return { model, info: { opset: ONNX_OPSET, inputShape, classes, operators } };
}

let version: string | null = null;
function packageVersion(): string {
  if (version === null) {
    try {
      version = String((JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version?: unknown }).version ?? 'unknown');
    } catch {
      version = 'unknown';
    }
  }
  return version;
}

/**
 * The network as the bytes of an ONNX model (opset 13): input `input` [N, ...inputShape],
 * outputs `logits` and `probabilities` [N, classes]. Unsupported layers are refused with a
 * TypeError naming the layer.
 * @example
 *   const { bytes, info } = onnxModel(net);  // e.g. for a browser page or an upload
 */
export function onnxModel(net: OnnxExportable, options?: OnnxExportOptions): { bytes: Uint8Array; info: OnnxModelInfo } {
  return encode('onnxModel', net, options);
}

function encode(fn: string, net: OnnxExportable, options?: OnnxExportOptions): { bytes: Uint8Array; info: OnnxModelInfo } {
  const { model, info } = buildModel(fn, net, options);
  const type = onnxModelType();
  return { bytes: type.encode(type.fromObject(model)).finish(), info };
}

/**
 * Writes the network to `file` as an ONNX model (opset 13), atomically (temporary file,
 * fsync, rename): input `input` [N, ...inputShape]; outputs `logits` (what predict returns)
 * and `probabilities` (their softmax), [N, classes]. Dropout becomes the course's test-time
 * scaling, BatchNormalization its inference form over every feature, padded pooling counts
 * the padded zeros, as in blasnet. Also available as `net.exportOnnx(file)`.
 * @example
 *   const net = new SimpleConvNet();
 *   // ... train ...
 *   exportOnnx(net, 'convnet.onnx');  // onnxruntime: session.run({ input }) -> { logits, probabilities }
 */
export function exportOnnx(net: OnnxExportable, file: string, options?: OnnxExportOptions): OnnxModelInfo {
  if (typeof file !== 'string' || file === '') throw new TypeError(`exportOnnx: file must be a path, got ${describe(file)}`);
  const { bytes, info } = encode('exportOnnx', net, options);
  writeFileAtomic(file, bytes);
  return info;
}

