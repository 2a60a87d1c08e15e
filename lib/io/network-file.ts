// SPDX-License-Identifier: MIT
// Self-describing network files: saveParams writes, beside the tensors, a description of the
// whole network (metadata key `network`, JSON, format version 2): every layer in order with
// its hyper-parameters and the names of its tensors, the tensor layout, the course's
// conventions in words, the expected input, the nn.Sequential that computes the same in
// PyTorch, and the preset's kind and options. loadNetwork rebuilds any preset or Sequential
// from it after checking the file's tensors (names and shapes, from the header alone)
// against it; examples/python reads the same description with numpy alone.
//
// Metadata keys (all strings, as safetensors requires):
//   format  'blasnet'
//   version '2' ('1': blasnet 0.1, `config` only)
//   layout  'blasnet' (W1, b1, ..., Affine W (in, out)) or 'torch' (0.weight, ..., Linear weight (out, in))
//   network the description (NetworkDescription, JSON)
//   config  the network's config, JSON (a preset's { kind, options }), as version 1 wrote it
import { describe, readOptions, ShapeError } from '../core/errors';
import { FileError } from './files';
import { Tensor } from '../core/tensor';
import { BatchNormalization } from '../nn/layers/regularization';
import { Layer, shapeStr } from '../nn/layers/layer';
import {
  blasnetNames, buildLayer, describeLayer, LayerSpec, parseLayerSpec, specOutputShape, tensorKeys, TensorLayout,
  tensorShape, TorchModule, torchModules,
} from '../nn/spec';
import { readSafetensorsHeader, SafetensorsFile, writeSafetensors } from './safetensors';

/** The version of the metadata format saveParams writes. */
export const NETWORK_FORMAT_VERSION = 2;

/** What the network expects as input, beyond its shape; saved when given to saveParams. */
export interface InputDescription {
  /** The range the values were scaled to in training, e.g. [0, 1] for pixels divided by 255. */
  range?: [number, number];
  /** What a sample is and how it was prepared, e.g. "28x28 grey digits, pixel / 255". */
  description?: string;
}

export interface SaveParamsOptions {
  /**
   * 'blasnet' (default): blasnet's names (W1, b1, gamma1, runningMean1, ...) and layouts.
   * 'torch': the state_dict names and layouts of the nn.Sequential in the description
   * (0.weight, 0.bias, ..., nn.Linear weights transposed to (out, in), BatchNorm's
   * running_mean/running_var), for model.load_state_dict of examples/python's builder.
   */
  layout?: TensorLayout;
  /** What the input is (range, description), saved for whoever uses the file. */
  input?: InputDescription;
}

/** A layer as the file describes it: its spec, the names of its tensors and what it outputs. */
export type LayerDescription = (LayerSpec | { type: 'custom'; name: string }) & {
  /** Its tensors by key (W, b; gamma, beta, runningMean, runningVar) -> name in the file. */
  tensors?: Record<string, string>;
  /** Shape of one sample of its output, when the input shape is known. */
  outputShape?: number[];
  [extra: string]: unknown;
};

/** The `network` metadata of a file (format version 2). */
export interface NetworkDescription {
  version: 2;
  /** A preset's class name (MultiLayerNet, MultiLayerNetExtend, SimpleConvNet, DeepConvNet) or 'Sequential'. */
  kind: string;
  /** The network's config: a preset's { kind, options } as given to its constructor. */
  config: Record<string, unknown>;
  /** How the tensors are named and laid out. */
  layout: TensorLayout;
  input: {
    /** One sample without the batch axis, e.g. [1, 28, 28] (NCHW) or [784]; null when unknown. */
    shape: number[] | null;
    dtype: 'float32';
    range: [number, number] | null;
    description: string | null;
  };
  output: { shape: number[] | null; values: string };
  layers: LayerDescription[];
  /** The nn.Sequential that computes the same (null when a layer is not blasnet's own). */
  torch: { modules: TorchModule[] } | null;
  weightDecayLambda: number;
  l1Lambda: number;
  /** The conventions, in words, of the layer kinds present. */
  conventions: Record<string, string>;
}

/** What saving and loading need of a network (Sequential has it all). */
export interface NetworkLike {
  readonly layers: readonly Layer[];
  readonly config: Record<string, unknown>;
  readonly weightDecayLambda: number;
  readonly l1Lambda: number;
  readonly inputShape: readonly number[] | null;
  stateTensors(): Record<string, Tensor>;
  loadParams(file: string): void;
}

const CONVENTIONS: Record<string, string> = {
  weights: 'Affine: y = x·W + b with W of shape (in, out), the transpose of torch.nn.Linear.weight (out, in); an input with '
    + 'more than one axis per sample is flattened first, in (C, H, W) order. Convolution: cross-correlation with W of shape '
    + '(filters, channels, height, width), as torch.nn.Conv2d.weight, zero padding on every side.',
  Pooling: 'Max over each window; the padding is zeros that take part in the max (the course\'s im2col), so a window of '
    + 'negative values touching the border gives 0: in PyTorch, nn.ZeroPad2d(pad) then nn.MaxPool2d with no padding '
    + '(MaxPool2d\'s own padding is -inf). Output size floor((H + 2·pad - window) / stride) + 1.',
  AvgPooling: 'Mean over each window; padded zeros count in the mean (count_include_pad), as nn.ZeroPad2d(pad) then nn.AvgPool2d.',
  Dropout: 'inverted false (the course): training drops units without scaling the rest, and test time multiplies every '
    + 'unit by (1 - ratio): testTimeScale; torch.nn.Dropout does not, it scales in training instead (inverted true).',
  BatchNormalization: 'The course\'s: every feature of the flattened input (N, D) is normalised, D = C·H·W for images '
    + '(not per channel as nn.BatchNorm2d): y = gamma·(x - mean)/sqrt(var + eps) + beta, eps 1e-6 (the course\'s 10e-7). '
    + 'Test time uses runningMean and runningVar; training updates running = momentum·running + (1 - momentum)·batch '
    + 'statistic with the biased batch variance (PyTorch: momentum 1 - momentum, unbiased variance).',
  activations: 'Relu max(0, x); Sigmoid 1 / (1 + exp(-x)); Tanh tanh(x).',
  output: 'predict() returns the last layer\'s output: the class scores (logits). SoftmaxWithLoss, softmax then '
    + 'cross-entropy, follows only in training; the predicted class is the argmax.',
};

const LAYOUT_TEXT: Record<TensorLayout, string> = {
  blasnet: 'blasnet\'s names: the n-th Affine or Convolution holds W{n} and b{n}, the m-th BatchNormalization gamma{m}, '
    + 'beta{m}, runningMean{m} and runningVar{m}; Affine W is (in, out). Each layer lists its tensors.',
  torch: 'PyTorch\'s state_dict names of the nn.Sequential in `torch.modules` (index.weight, index.bias, '
    + 'index.running_mean, index.running_var); nn.Linear weights are (out, in), the transpose of Affine W. Each layer lists its tensors.',
};

/** The extra fields a layer description has beside its spec: they make the conventions explicit. */
function conventionFields(spec: LayerSpec): Record<string, unknown> {
  switch (spec.type) {
    case 'Affine': return { flattensInput: true };
    case 'Convolution': return { padValue: 0 };
    case 'Pooling': return { mode: 'max', padValue: 0 };
    case 'AvgPooling': return { mode: 'average', padValue: 0, countIncludePad: true };
    case 'Dropout': return { testTimeScale: spec.inverted ? 1 : 1 - spec.ratio };
    case 'BatchNormalization': return { over: 'flattened' };
    default: return {};
  }
}

/** The rank of one input sample: from its shape, else from the first layer, else null. */
function inputRank(specs: readonly LayerSpec[], shape: readonly number[] | null): number | null {
  if (shape) return shape.length;
  const first = specs[0]?.type;
  if (first === 'Affine') return 1;
  if (first === 'Convolution' || first === 'Pooling' || first === 'AvgPooling') return 3;
  return null;
}

function kindOf(config: Record<string, unknown>): string {
  return typeof config.kind === 'string' ? config.kind : 'Sequential';
}

function checkInputOption(fn: string, input: unknown): InputDescription {
  const o = readOptions(`${fn}: input`, input as InputDescription | undefined, ['range', 'description']);
  if (o.range !== undefined) {
    const r = o.range as unknown;
    if (!Array.isArray(r) || r.length !== 2 || !r.every((v) => typeof v === 'number' && Number.isFinite(v)) || !(r[0] < r[1])) {
      throw new TypeError(`${fn}: input.range must be [low, high] with low < high, got ${describe(r)}`);
    }
  }
  if (o.description !== undefined && typeof o.description !== 'string') {
    throw new TypeError(`${fn}: input.description must be a string, got ${describe(o.description)}`);
  }
  return o;
}

/** The description of a network and its tensors under the file's names, as saveParams writes them. */
export function describeNetwork(net: NetworkLike, options?: SaveParamsOptions):
  { description: NetworkDescription; tensors: Record<string, Tensor> } {
  const fn = 'saveParams';
  const o = readOptions(fn, options, ['layout', 'input']);
  const layout = o.layout ?? 'blasnet';
  if (layout !== 'blasnet' && layout !== 'torch') throw new RangeError(`${fn}: layout must be 'blasnet' or 'torch', got ${describe(layout)}`);
  const input = checkInputOption(fn, o.input);

  const specs = net.layers.map((l) => describeLayer(l));
  const custom = specs.findIndex((s) => s === null);
  const known = custom < 0 ? specs as LayerSpec[] : null;
  if (layout === 'torch' && known === null) {
    throw new TypeError(`${fn}: layout 'torch' needs blasnet's own layers; layer ${custom} (${net.layers[custom].name}) is not one of them`);
  }
  const inputShape = net.inputShape ? [...net.inputShape] : (specs[0]?.type === 'Affine' ? [specs[0].in] : null);

  // blasnet's names, by identity with the network's own tensors.
  const state = net.stateTensors();
  const byTensor = new Map<Tensor, string>();
  for (const [name, t] of Object.entries(state)) byTensor.set(t, name);
  const layerTensors = (layer: Layer): Record<string, Tensor> => {
    const own: Record<string, Tensor> = { ...layer.params };
    if (layer instanceof BatchNormalization) Object.assign(own, { runningMean: layer.runningMean, runningVar: layer.runningVar });
    return own;
  };
  const torch = known ? torchModules(known, inputRank(known, inputShape)) : null;

  const tensors: Record<string, Tensor> = {};
  let shape: number[] | null = inputShape;
  const layers: LayerDescription[] = net.layers.map((layer, i) => {
    const spec = specs[i];
    const d: LayerDescription = spec ? { ...spec, ...conventionFields(spec) } : { type: 'custom', name: layer.name };
    const own = layerTensors(layer);
    if (Object.keys(own).length > 0) {
      d.tensors = {};
      for (const [key, t] of Object.entries(own)) {
        const name = layout === 'torch' ? (torch as { names: Array<Record<string, string>> }).names[i][key] : byTensor.get(t);
        if (name === undefined) continue;
        d.tensors[key] = name;
        tensors[name] = layout === 'torch' && spec?.type === 'Affine' && key === 'W' ? transpose(t) : t;
      }
    }
    if (shape !== null) {
      try {
        shape = spec ? specOutputShape(fn, spec, shape) : (layer.outputShape ? layer.outputShape(shape) : null);
      } catch {
        shape = null;
      }
      if (shape !== null) d.outputShape = [...shape];
    }
    return d;
  });
  // Tensors of the network that no layer lists (none for blasnet's layers) are kept under their names.
  if (layout === 'blasnet') for (const [name, t] of Object.entries(state)) if (!(name in tensors)) tensors[name] = t;

  const present = new Set<string>(layers.map((l) => l.type));
  const conventions: Record<string, string> = { layout: LAYOUT_TEXT[layout], weights: CONVENTIONS.weights };
  for (const k of ['Pooling', 'AvgPooling', 'Dropout', 'BatchNormalization']) if (present.has(k)) conventions[k] = CONVENTIONS[k];
  if (present.has('Relu') || present.has('Sigmoid') || present.has('Tanh')) conventions.activations = CONVENTIONS.activations;
  conventions.output = CONVENTIONS.output;

  const description: NetworkDescription = {
    version: NETWORK_FORMAT_VERSION,
    kind: kindOf(net.config),
    config: net.config,
    layout,
    input: { shape: inputShape, dtype: 'float32', range: input.range ? [input.range[0], input.range[1]] : null, description: input.description ?? null },
    output: { shape, values: 'logits (class scores); softmax gives the probabilities' },
    layers,
    torch: torch ? { modules: torch.modules } : null,
    weightDecayLambda: net.weightDecayLambda,
    l1Lambda: net.l1Lambda,
    conventions,
  };
  return { description, tensors };
}

/** Writes the network's tensors and its description to `file`, atomically (saveParams). */
export function saveNetworkFile(net: NetworkLike, file: string, options?: SaveParamsOptions): void {
  if (typeof file !== 'string' || file === '') throw new TypeError(`saveParams: file must be a path, got ${describe(file)}`);
  const { description, tensors } = describeNetwork(net, options);
  writeSafetensors(file, tensors, {
    format: 'blasnet',
    version: String(NETWORK_FORMAT_VERSION),
    layout: description.layout,
    network: JSON.stringify(description),
    config: JSON.stringify(net.config),
  });
}

function transpose(t: Tensor): Tensor {
  const [R, C] = t.shape;
  const out = new Float32Array(R * C);
  const a = t.data;
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) out[c * R + r] = a[r * C + c];
  return new Tensor(out, [C, R]);
}

// ---- reading ------------------------------------------------------------------------------

/** A description parsed and checked, with the specs of its layers (every layer blasnet's own). */
interface ParsedDescription {
  description: NetworkDescription;
  specs: LayerSpec[];
  /** Per layer, its tensors' names in the file. */
  names: Array<Record<string, string>>;
}

const DESCRIPTION_KEYS = ['version', 'kind', 'config', 'layout', 'input', 'output', 'layers', 'torch', 'weightDecayLambda', 'l1Lambda', 'conventions'];
const LAYER_EXTRAS = ['tensors', 'outputShape', 'flattensInput', 'padValue', 'mode', 'countIncludePad', 'testTimeScale', 'over'];

function isShape(v: unknown): v is number[] {
  return Array.isArray(v) && v.length <= 8 && v.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 1 && d <= 2147483647);
}

/** Parses and checks the `network` metadata of a file: everything loadNetwork relies on. */
function parseDescription(file: string, text: string, layoutKey: string | undefined): ParsedDescription {
  const bad = (why: string): Error => new FileError(file, `${file}: its network description ${why}`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw bad('is not valid JSON');
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw bad(`must be a JSON object, got ${describe(raw)}`);
  const d = raw as Record<string, unknown>;
  for (const k of DESCRIPTION_KEYS) if (!(k in d)) throw bad(`lacks '${k}'`);
  if (d.version !== NETWORK_FORMAT_VERSION) throw bad(`has version ${describe(d.version)}, expected ${NETWORK_FORMAT_VERSION}`);
  if (typeof d.kind !== 'string') throw bad(`has kind ${describe(d.kind)}, expected a string`);
  if (d.config === null || typeof d.config !== 'object' || Array.isArray(d.config)) throw bad(`has config ${describe(d.config)}, expected an object`);
  if (d.layout !== 'blasnet' && d.layout !== 'torch') throw bad(`has layout ${describe(d.layout)}, expected 'blasnet' or 'torch'`);
  if (layoutKey !== undefined && layoutKey !== d.layout) throw bad(`says layout '${d.layout}' but the metadata key layout says '${layoutKey}'`);
  for (const k of ['weightDecayLambda', 'l1Lambda']) {
    const v = d[k];
    if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) throw bad(`has ${k} ${describe(v)}, expected a number >= 0`);
  }
  const input = d.input as Record<string, unknown> | null;
  if (input === null || typeof input !== 'object' || (input.shape !== null && !isShape(input.shape))) {
    throw bad(`has input ${describe(input)}; expected { shape: [positive integers] or null, ... }`);
  }
  if (!Array.isArray(d.layers) || d.layers.length === 0 || d.layers.length > 100000) throw bad(`has layers ${describe(d.layers)}, expected a non-empty array`);
  const layout = d.layout as TensorLayout;

  const specs = d.layers.map((l, i) => {
    const where = `${file}: layer ${i}`;
    if (l !== null && typeof l === 'object' && (l as { type?: unknown }).type === 'custom') {
      throw new TypeError(`${where} is a layer of its own class (${describe((l as { name?: unknown }).name)}), which loadNetwork cannot rebuild; `
        + 'build the network by hand and call net.loadParams(file)');
    }
    const spec = parseLayerSpec(where, l, LAYER_EXTRAS);
    const r = l as Record<string, unknown>;
    for (const [k, v] of Object.entries(conventionFields(spec))) {
      if (k in r && r[k] !== v) throw new RangeError(`${where} (${spec.type}): ${k} is ${describe(r[k])}; blasnet's ${spec.type} has ${describe(v)}`);
    }
    return spec;
  });

  const shape = input.shape as number[] | null;
  const torch = torchModules(specs, inputRank(specs, shape));
  const names = layout === 'torch' ? torch.names : blasnetNames(specs);
  d.layers.forEach((l, i) => {
    const listed = (l as { tensors?: unknown }).tensors;
    const want = names[i];
    const keys = Object.keys(want);
    if (keys.length === 0 && listed === undefined) return;
    if (listed === null || typeof listed !== 'object' || JSON.stringify(listed) !== JSON.stringify(want)) {
      throw bad(`names the tensors of layer ${i} (${specs[i].type}) ${JSON.stringify(listed)}; in layout '${layout}' they are ${JSON.stringify(want)}`);
    }
  });
  const savedTorch = d.torch as { modules?: unknown } | null;
  if (savedTorch !== null && JSON.stringify(savedTorch?.modules) !== JSON.stringify(torch.modules)) {
    throw bad('lists PyTorch modules that do not follow from its layers');
  }
  return { description: d as unknown as NetworkDescription, specs, names };
}

function specText(s: LayerSpec): string {
  const { type, ...rest } = s;
  return Object.keys(rest).length ? `${type} ${JSON.stringify(rest)}` : type;
}

/** What loadNetworkFile needs from the presets (lib/nn/presets supplies them). */
export interface LoadHooks<N extends NetworkLike> {
  /** A preset's layers and input shape from its kind and options; null when `kind` is not a preset. */
  plan(kind: unknown, options: unknown): { layers: LayerSpec[]; inputShape: number[] } | null;
  /** The preset built from its config, as its constructor builds it. */
  preset(config: unknown): N;
  /** A Sequential of the layers. */
  sequential(layers: Layer[], options: { config: Record<string, unknown>; weightDecayLambda: number; l1Lambda: number; inputShape?: number[] }): N;
}

/**
 * The network description of a file written by saveParams (metadata format 2): its layers with
 * their hyper-parameters and tensor names, the input, the conventions, the PyTorch modules.
 * Only the header is read.
 * @example
 *   const d = readNetworkDescription('convnet.safetensors');
 *   d.layers.map((l) => l.type); // ['Convolution', 'Relu', 'Pooling', 'Affine', 'Relu', 'Affine']
 */
export function readNetworkDescription(file: string): NetworkDescription {
  const { metadata } = readSafetensorsHeader(file);
  if (metadata.format !== 'blasnet' || metadata.version !== String(NETWORK_FORMAT_VERSION) || typeof metadata.network !== 'string') {
    throw new FileError(file, `${file}: has no blasnet network description (metadata version ${NETWORK_FORMAT_VERSION}); `
      + 'files of blasnet 0.1 load with loadNetwork and are described when saved again');
  }
  return parseDescription(file, metadata.network, metadata.layout).description;
}

/** loadNetwork: see lib/nn/presets. */
export function loadNetworkFile<N extends NetworkLike>(file: string, hooks: LoadHooks<N>): N {
  if (typeof file !== 'string' || file === '') throw new TypeError(`loadNetwork: file must be a path, got ${describe(file)}`);
  const header = readSafetensorsHeader(file);
  const { metadata } = header;
  const noConfig = (): Error => new Error(`${file}: has no blasnet network configuration in its metadata; use net.loadParams(file) on a network built by hand`);
  if (metadata.format !== 'blasnet') throw noConfig();

  let specs: LayerSpec[];
  let names: Array<Record<string, string>>;
  let config: Record<string, unknown>;
  let description: NetworkDescription | null = null;
  let plan: { layers: LayerSpec[]; inputShape: number[] } | null;
  if (metadata.version === '1' || metadata.version === undefined) {
    // blasnet 0.1: the config alone; a preset's layers follow from its options.
    if (typeof metadata.config !== 'string') throw noConfig();
    try {
      config = JSON.parse(metadata.config);
    } catch {
      throw new FileError(file, `${file}: its network configuration is not valid JSON`);
    }
    plan = hooks.plan(config?.kind, config?.options);
    if (plan === null) {
      if (config?.kind === 'Sequential') {
        throw new FileError(file, `${file}: was saved by blasnet 0.1, whose files name a Sequential's layers but not their hyper-parameters `
          + `(${describe(config.layers)}); build the network by hand, call net.loadParams(file), and save it again to get a file loadNetwork rebuilds`);
      }
      // Not a preset the plans know: the presets' own factory names the kinds it knows.
      hooks.preset(config);
      throw new RangeError(`networkFromConfig: unknown network kind ${describe(config?.kind)}`);
    }
    specs = plan.layers;
    names = blasnetNames(specs);
  } else if (metadata.version === String(NETWORK_FORMAT_VERSION)) {
    if (typeof metadata.network !== 'string') throw new FileError(file, `${file}: its metadata (version 2) has no network description`);
    const parsed = parseDescription(file, metadata.network, metadata.layout);
    description = parsed.description;
    ({ specs, names } = parsed);
    config = description.config;
    plan = hooks.plan(description.kind, config.options);
    if (plan !== null) {
      // A preset: its options must give exactly the layers the file lists.
      const i = plan.layers.findIndex((s, k) => k >= specs.length || JSON.stringify(s) !== JSON.stringify(specs[k]));
      if (i >= 0 || plan.layers.length !== specs.length) {
        const k = i >= 0 ? i : plan.layers.length;
        throw new FileError(file, `${file}: its ${description.kind} options give other layers than the file lists: layer ${k} is `
          + `${k < plan.layers.length ? specText(plan.layers[k]) : 'absent'} by the options, ${k < specs.length ? specText(specs[k]) : 'absent'} in the file`);
      }
    }
  } else {
    throw new FileError(file, `${file}: was written in blasnet's metadata format version ${describe(metadata.version)}; this blasnet reads versions 1 and ${NETWORK_FORMAT_VERSION}`);
  }

  // Every tensor the layers need, by name and shape, against the header: before any allocation.
  const layout: TensorLayout = description?.layout ?? 'blasnet';
  const expected = new Map<string, { shape: number[]; layer: number }>();
  specs.forEach((s, i) => {
    for (const key of tensorKeys(s)) expected.set(names[i][key], { shape: tensorShape(s, key, layout), layer: i });
  });
  const held = [...header.tensors.keys()];
  for (const [name, want] of expected) {
    const got = header.tensors.get(name);
    if (!got) throw new FileError(file, `${file}: has no tensor '${name}' (it holds ${held.sort().join(', ') || 'none'})`);
    if (got.shape.join() !== want.shape.join()) {
      throw new ShapeError(`${file}: tensor '${name}' has shape ${shapeStr(got.shape)}, its layer ${want.layer} (${specText(specs[want.layer])}) needs ${shapeStr(want.shape)}`);
    }
  }
  const extra = held.filter((k) => !expected.has(k));
  if (extra.length) throw new FileError(file, `${file}: holds tensors its layers do not have: ${extra.join(', ')}`);

  let net: N;
  if (plan !== null) {
    net = hooks.preset(config);
  } else {
    const d = description as NetworkDescription;
    net = hooks.sequential(specs.map((s) => buildLayer(s)), {
      config, weightDecayLambda: d.weightDecayLambda, l1Lambda: d.l1Lambda, inputShape: d.input.shape ?? undefined,
    });
  }
  net.loadParams(file);
  return net;
}

/**
 * The tensors of a file under blasnet's names and layouts (loadParams): a file in PyTorch's
 * layout is renamed by its description and its Affine weights transposed back to (in, out).
 */
export function tensorsForLoad(file: string, read: SafetensorsFile): Record<string, Tensor> {
  const m = read.metadata;
  if (m.format !== 'blasnet' || m.layout !== 'torch') return read.tensors;
  const { specs, names } = parseDescription(file, m.network, m.layout);
  const ours = blasnetNames(specs);
  const out = Object.create(null) as Record<string, Tensor>;
  specs.forEach((s, i) => {
    for (const key of tensorKeys(s)) {
      const t = read.tensors[names[i][key]];
      if (t === undefined) continue;
      out[ours[i][key]] = s.type === 'Affine' && key === 'W' && t.shape.length === 2 ? transpose(t) : t;
    }
  });
  for (const [name, t] of Object.entries(read.tensors)) if (!Object.values(names).some((n) => Object.values(n).includes(name))) out[name] = t;
  return out;
}

