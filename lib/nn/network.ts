// SPDX-License-Identifier: MIT
// Sequential: any stack of layers ending in SoftmaxWithLoss, with the course's
// network methods (predict, loss, accuracy, gradient, numericalGradient), L2
// and L1 weight decay, and save/load in the safetensors format.
import { describe, expectBoolean, expectInt, expectNumber, readOptions, ShapeError } from '../core/errors';
import { Affine } from './layers/dense';
import { FusedAffine, FusedConvolution, FusedNormalization } from './layers/fused';
import { Layer, shapeStr } from './layers/layer';
import { argmaxRows, checkLabels, Labels, SoftmaxWithLoss } from './layers/loss';
import { BatchNormalization } from './layers/regularization';
import { saveNetworkFile, SaveParamsOptions, tensorsForLoad } from '../io/network-file';
import { readPickleParams, ReadPickleOptions } from '../io/pickle';
import { readSafetensors } from '../io/safetensors';
import { exportOnnx, onnxModel, OnnxExportOptions, OnnxModelInfo } from '../io/onnx';
import { addDecayGradient, decayPenalty } from './weight-decay';
import { Tensor, asTensor, expectTensor } from '../core/tensor';

/** A sample shape with the batch dimension in front, as [N, 30, 24, 24]. */
function batchShape(shape: readonly number[]): string {
  return `[${['N', ...shape].join(', ')}]`;
}

export interface SequentialOptions {
  /** L2 weight decay: adds 0.5·λ·ΣW² to the loss and λ·W to each W's gradient. */
  weightDecayLambda?: number;
  /** L1 weight decay: adds λ·Σ|W| to the loss and λ·sign(W) to each W's gradient. */
  l1Lambda?: number;
  /** Shape of one input sample, e.g. [784] or [1, 28, 28]: checked through every layer now. */
  inputShape?: number[];
  /** Anything JSON that describes how to rebuild this network; saved with its parameters. */
  config?: Record<string, unknown>;
  /**
   * Compute the gradient with respect to the network's input in backward() (false by default:
   * nothing in training uses it, so the first Affine or Convolution skips that gemm and
   * backward() returns zeros). Set true to get dx, e.g. for saliency maps. The layers
   * themselves are not changed: called directly, they still return their dx.
   */
  inputGradient?: boolean;
  /**
   * Run each Convolution and the Relu and/or max Pooling right after it as one fused step, one
   * native call per pass, each Affine and the Relu or Sigmoid right after it likewise, and the
   * test-mode pass of each BatchNormalization with the Relu and/or Dropout right after it as
   * one pass (true by default; the numbers are the same bit for bit, a pooled step never writes
   * the full convolution output out). Only this network's forward and backward do so: the
   * layer objects keep their own behaviour when called directly.
   */
  fuse?: boolean;
}

/** One entry of `layerOutputs`: which layer, and a copy of what it returned. */
export interface LayerOutput {
  /** Position in `layers`. */
  index: number;
  /** The course's key: the layer kind numbered within its kind, e.g. 'Relu2'. */
  key: string;
  /** Layer kind, e.g. 'Relu'. */
  name: string;
  /** A copy of the layer's output (the layer's own buffer is reused by its next call). */
  output: Tensor;
}

/**
 * A network as a list of layers plus a SoftmaxWithLoss. Parameters are named as the course
 * names them: the n-th Affine or Convolution holds W{n} and b{n}, the m-th
 * BatchNormalization gamma{m} and beta{m}. `params` holds the very tensors the layers
 * compute with.
 * @example
 *   const net = new Sequential([new Affine(W1, b1), new Relu(), new Affine(W2, b2)]);
 *   const loss = net.loss(x, t);
 */
export class Sequential {
  readonly layers: Layer[];
  readonly lastLayer: SoftmaxWithLoss;
  readonly params: Record<string, Tensor> = {};
  readonly weightDecayLambda: number;
  readonly l1Lambda: number;
  readonly config: Record<string, unknown>;
  /** Shape of one input sample when the network was built with `inputShape`, else null. */
  readonly inputShape: readonly number[] | null;
  private readonly decayKeys: string[] = [];
  private penaltyOfLastLoss = 0;
  /** Per layer, the network-level names of its parameters (W1, b1, ...). */
  private readonly layerParamNames: string[][] = [];
  private readonly bnLayers: BatchNormalization[] = [];
  private readonly gradsOut: Record<string, Tensor> = {};
  /**
   * The step plan forward and backward run: each layer on its own, except that a fused step
   * (see `fuse`) stands for a Convolution and the Relu and/or Pooling after it, an Affine and
   * the Relu or Sigmoid after it, or a BatchNormalization and the Relu and/or Dropout after it. It is made
   * for the layers in `planned` and made again when `layers` no longer holds those.
   */
  private steps: Array<{ layer: Layer; start: number; end: number }> = [];
  private planned: Layer[] = [];
  private readonly fuse: boolean;
  private readonly inputGradient: boolean;

  constructor(layers: Array<Layer | SoftmaxWithLoss>, opts?: SequentialOptions) {
    const options = readOptions('Sequential', opts,
      ['weightDecayLambda', 'l1Lambda', 'inputShape', 'config', 'inputGradient', 'fuse']);
    if (!Array.isArray(layers) || layers.length === 0) {
      throw new TypeError(`Sequential: layers must be a non-empty array of layers, got ${describe(layers)}`);
    }
    const last = layers[layers.length - 1];
    const body = (last instanceof SoftmaxWithLoss ? layers.slice(0, -1) : layers) as Layer[];
    this.lastLayer = last instanceof SoftmaxWithLoss ? last : new SoftmaxWithLoss();
    body.forEach((l, i) => {
      if (l instanceof SoftmaxWithLoss) throw new TypeError(`Sequential: SoftmaxWithLoss may only be the last layer (found at ${i})`);
      if (!l || typeof l.forward !== 'function' || typeof l.backward !== 'function') {
        throw new TypeError(`Sequential: layers[${i}] must be a layer with forward and backward, got ${describe(l)}`);
      }
    });
    this.layers = body;
    this.fuse = options.fuse ?? true;
    this.inputGradient = options.inputGradient ?? false;
    this.weightDecayLambda = expectNumber('Sequential', 'weightDecayLambda', options.weightDecayLambda ?? 0, { min: 0 });
    this.l1Lambda = expectNumber('Sequential', 'l1Lambda', options.l1Lambda ?? 0, { min: 0 });
    this.config = options.config ?? { kind: 'Sequential', layers: body.map((l) => l.name) };

    let dense = 0, bn = 0;
    for (const layer of body) {
      const keys = Object.keys(layer.params);
      const names: string[] = [];
      this.layerParamNames.push(names);
      if (keys.length === 0) continue;
      let n: number;
      if (layer instanceof BatchNormalization) {
        n = ++bn;
        this.bnLayers.push(layer);
      } else {
        n = ++dense;
      }
      const lp = layer.params as Record<string, Tensor>, lg = layer.grads as Record<string, Tensor>;
      for (const key of keys) {
        const name = `${key}${n}`;
        names.push(name);
        this.params[name] = lp[key];
        this.gradsOut[name] = lg[key];
        if (key === 'W') this.decayKeys.push(name);
      }
    }
    if (options.inputShape) this.checkShapes(options.inputShape);
    this.inputShape = options.inputShape ? Object.freeze([...options.inputShape]) : null;
  }

  /**
   * The network as a table, as Keras's model.summary(): every layer in order with its output
   * shape for one batch of N samples of `inputShape` (by default the network's own inputShape,
   * else the first Affine's input size; '?' when none is known), its parameters (course names)
   * and their count, then the totals.
   * BatchNorm running statistics count as non-trainable parameters.
   * @example
   *   console.log(new SimpleConvNet().summary());
   */
  summary(inputShape?: readonly number[]): string {
    let shape: number[] | null = null;
    if (inputShape !== undefined) {
      if (!Array.isArray(inputShape) || !inputShape.every((d) => Number.isInteger(d) && d > 0)) {
        throw new TypeError(`summary: inputShape must be an array of positive integers (one sample, without the batch dimension), got ${describe(inputShape)}`);
      }
      this.checkShapes(inputShape);
      shape = [...inputShape];
    } else if (this.inputShape) {
      shape = [...this.inputShape];
    } else if (this.layers[0] instanceof Affine) {
      shape = [this.layers[0].params.W.shape[0]];
    }
    const fused = new Map<number, number>();
    for (const [a, b] of this.fusedRanges) for (let i = a; i < b; i++) fused.set(i, a);
    const rows: string[][] = [];
    let trainable = 0, nonTrainable = 0;
    const count = (t: Tensor): number => t.data.length;
    this.layers.forEach((layer, i) => {
      if (shape && layer.outputShape) shape = layer.outputShape(shape);
      else if (!layer.outputShape) shape = null;
      const names = this.layerParamNames[i];
      let n = 0;
      for (const name of names) n += count(this.params[name]);
      trainable += n;
      if (layer instanceof BatchNormalization) nonTrainable += count(layer.runningMean) + count(layer.runningVar);
      const what = names.map((name) => `${name} ${shapeStr(this.params[name].shape)}`).join(', ');
      const note = fused.has(i) ? ` (fused with layer ${fused.get(i)})` : '';
      rows.push([String(i), `${layer.name}${fused.has(i) && fused.get(i) !== i ? note : ''}`,
        shape ? batchShape(shape) : '?', n.toLocaleString('en-US'), what]);
    });
    rows.push(['', this.lastLayer.name, 'scalar loss', '0', '']);
    const head = ['#', 'Layer', 'Output shape', 'Params', 'Parameters'];
    const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
    const line = (r: string[]): string => r.map((cell, c) => (c === 3 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd();
    const rule = (ch: string): string => ch.repeat(widths.reduce((a, w) => a + w + 2, -2));
    const kind = typeof this.config.kind === 'string' ? this.config.kind : 'Sequential';
    const given = inputShape ?? this.inputShape ?? (this.layers[0] instanceof Affine ? [this.layers[0].params.W.shape[0]] : null);
    const input = given ? batchShape(given) : 'unknown (pass summary(inputShape))';
    const total = trainable + nonTrainable;
    return [
      `${kind}: input ${input}`,
      rule('_'), line(head), rule('='), ...rows.map(line), rule('='),
      `Total params: ${total.toLocaleString('en-US')} (${(total * 4 / 1024 / 1024).toFixed(2)} MiB as float32)`,
      `Trainable params: ${trainable.toLocaleString('en-US')}`,
      `Non-trainable params: ${nonTrainable.toLocaleString('en-US')}${nonTrainable ? ' (BatchNorm running mean and variance)' : ''}`,
      `Weight decay: L2 ${this.weightDecayLambda}, L1 ${this.l1Lambda}`,
      rule('_'),
    ].join('\n');
  }

  /** The summary() table. */
  toString(): string {
    return this.summary();
  }

  /** Index ranges [start, end) of `layers` that run as one fused step (see `fuse`). */
  get fusedRanges(): ReadonlyArray<readonly [number, number]> {
    return this.plan().filter((s) => s.end - s.start > 1).map((s) => [s.start, s.end] as const);
  }

  /** The step plan for the layers `layers` holds now. */
  private plan(): ReadonlyArray<{ layer: Layer; start: number; end: number }> {
    const layers = this.layers;
    if (layers.length === this.planned.length && layers.every((l, i) => l === this.planned[i])) return this.steps;
    const steps: Array<{ layer: Layer; start: number; end: number }> = [];
    for (let i = 0; i < layers.length;) {
      const match = this.fuse
        ? FusedConvolution.match(layers, i) ?? FusedAffine.match(layers, i) ?? FusedNormalization.match(layers, i)
        : null;
      const span = match ? match.span : 1;
      steps.push({ layer: match ? match.step : layers[i], start: i, end: i + span });
      i += span;
    }
    this.steps = steps;
    this.planned = [...layers];
    return steps;
  }

  /** Runs one sample shape through every layer's outputShape; a mismatch names the layer and both shapes. */
  checkShapes(inputShape: readonly number[]): number[] {
    let shape = [...inputShape];
    this.layers.forEach((layer, i) => {
      if (!layer.outputShape) return;
      try {
        shape = layer.outputShape(shape);
      } catch (err) {
        throw new ShapeError(`Sequential: layer ${i} (${layer.name}) does not accept the output ${shapeStr(shape)} of ${i === 0 ? 'the input' : `layer ${i - 1} (${this.layers[i - 1].name})`}: ${(err as Error).message}`);
      }
    });
    return shape;
  }

  /** Forward through every layer but the loss. train = false by default, as the course. */
  predict(x: Tensor, train = false): Tensor {
    x = asTensor('predict', 'x', x);
    let y = x;
    for (const step of this.plan()) {
      try {
        y = step.layer.forward(y, train);
      } catch (err) {
        if (err instanceof ShapeError) {
          throw new ShapeError(`layer ${step.start} (${this.layers[step.start].name}): ${err.message}`);
        }
        throw err;
      }
    }
    return y;
  }

  /**
   * Every layer's output of one forward pass, in order, each as a copy of its own: the
   * course's activations (`for layer in net.layers.values(): x = layer.forward(x)`) without
   * hand-walking `layers` and cloning reused buffers. Each course layer is run on its own,
   * never fused, so the Relu and Pooling after a Convolution get entries too; the last
   * output equals `predict(x, train)`. `key` numbers the layers of each kind as the course
   * names them ('Affine1', 'Relu1', 'Affine2', ...). In training mode (`train: true`)
   * Dropout draws a mask and BatchNormalization uses and updates its batch statistics, as
   * a training forward does.
   * @example
   *   const outs = net.layerOutputs(x);
   *   for (const { key, output } of outs) console.log(key, output.shape);
   */
  layerOutputs(x: Tensor, options?: { train?: boolean }): LayerOutput[] {
    x = asTensor('layerOutputs', 'x', x);
    const o = readOptions('layerOutputs', options, ['train']);
    const train = o.train === undefined ? false : expectBoolean('layerOutputs', 'options.train', o.train);
    const counts = new Map<string, number>();
    const out: LayerOutput[] = [];
    let y = x;
    this.layers.forEach((layer, index) => {
      try {
        y = layer.forward(y, train);
      } catch (err) {
        if (err instanceof ShapeError) throw new ShapeError(`layer ${index} (${layer.name}): ${err.message}`);
        throw err;
      }
      const n = (counts.get(layer.name) ?? 0) + 1;
      counts.set(layer.name, n);
      out.push({ index, key: `${layer.name}${n}`, name: layer.name, output: y.clone() });
    });
    return out;
  }

  /** Loss of a batch: softmax cross-entropy plus the weight-decay penalties. */
  loss(x: Tensor, t: Labels, train = true): number {
    const y = this.predict(x, train);
    const data = this.lastLayer.forward(y, t);
    this.penaltyOfLastLoss = this.penalty();
    return data + this.penaltyOfLastLoss;
  }

  /** The weight-decay penalty the last loss() (or gradient()) added: penalty() of the weights it saw. */
  get lastPenalty(): number {
    return this.penaltyOfLastLoss;
  }

  /** 0.5·λ2·ΣW² + λ1·Σ|W| over every W (l2Penalty + l1Penalty of the weights). */
  penalty(): number {
    if (this.weightDecayLambda === 0 && this.l1Lambda === 0) return 0;
    return decayPenalty(this.decayKeys.map((key) => this.params[key].data), this.weightDecayLambda, this.l1Lambda);
  }

  /** Fraction of correct predictions (test mode), evaluated in chunks of batchSize rows. */
  accuracy(x: Tensor, t: Labels, batchSize = 1000): number {
    x = asTensor('accuracy', 'x', x);
    expectInt('accuracy', 'batchSize', batchSize, 1);
    const N = x.shape[0];
    const per = x.data.length / N;
    let labels: Int32Array | null = null;
    let correct = 0;
    for (let start = 0; start < N; start += batchSize) {
      const n = Math.min(batchSize, N - start);
      const xb = new Tensor(x.data.subarray(start * per, (start + n) * per), [n, ...x.shape.slice(1)]);
      const y = this.predict(xb, false);
      const C = y.shape[1];
      if (labels === null) {
        const checked = checkLabels('accuracy', t, N, C);
        labels = checked instanceof Int32Array ? checked : argmaxRows(checked.data, N, C, new Int32Array(N));
      }
      const pred = argmaxRows(y.data, n, C, new Int32Array(n));
      for (let i = 0; i < n; i++) if (pred[i] === labels[start + i]) correct++;
    }
    return N === 0 ? 0 : correct / N;
  }

  /** Backward from the loss (after loss()): fills every layer's grads, plus weight decay. */
  backward(dout = 1): Tensor {
    let d = this.lastLayer.backward(dout);
    // Every step but the first passes its input gradient on; the first computes it only when
    // asked (inputGradient), and otherwise returns zeros.
    const steps = this.plan();
    for (let k = steps.length - 1; k >= 0; k--) d = steps[k].layer.backward(d, k > 0 || this.inputGradient);
    if (this.weightDecayLambda !== 0 || this.l1Lambda !== 0) {
      for (const key of this.decayKeys) {
        addDecayGradient(this.gradsOut[key].data, this.params[key].data, this.weightDecayLambda, this.l1Lambda);
      }
    }
    return d;
  }

  /** Gradients of loss(x, t) by backpropagation, keyed like params (live tensors of the layers). */
  gradient(x: Tensor, t: Labels): Record<string, Tensor> {
    this.loss(x, t, true);
    this.backward(1);
    return this.gradsOut;
  }

  /** Loss of the last forward pass, without the penalty (as the course's trainer reports it). */
  get lastLoss(): number {
    return this.lastLayer.loss;
  }

  /**
   * Gradients by central differences, (f(p + h) - f(p - h)) / 2h per parameter element.
   * h defaults to 1e-3 rather than the course's 1e-4 because the arithmetic is float32.
   */
  numericalGradient(x: Tensor, t: Labels, h = 1e-3): Record<string, Tensor> {
    expectNumber('numericalGradient', 'h', h, { min: 0, minExclusive: true });
    const grads: Record<string, Tensor> = {};
    for (const [name, p] of Object.entries(this.params)) {
      const g = Tensor.zeros(p.shape);
      for (let i = 0; i < p.data.length; i++) {
        const old = p.data[i];
        p.data[i] = old + h;
        const fp = this.loss(x, t, true);
        p.data[i] = old - h;
        const fm = this.loss(x, t, true);
        p.data[i] = old;
        g.data[i] = (fp - fm) / (2 * h);
      }
      grads[name] = g;
    }
    return grads;
  }

  /**
   * Loads the course's own parameter file, the pickle that its `save_params` writes
   * (`params.pkl` of ch07's SimpleConvNet, `deep_convnet_params.pkl` of ch08's DeepConvNet, or
   * any network's dict of W1, b1, ..., gamma1, beta1 numpy arrays), into this network's
   * tensors in place. Names and shapes must match this network's `params` exactly; float64
   * arrays (the course trains in float64) are rounded to float32. BatchNormalization's
   * running averages are not in the course's file (they live on its layers) and stay as they
   * are. Nothing is changed when the file does not fit. Returns each parameter's dtype in
   * the file.
   * @example
   *   const net = new DeepConvNet();
   *   net.loadCourseParams('deep_convnet_params.pkl');   // { W1: 'float64', ... }
   *   console.log(net.accuracy(xTest, tTest));
   */
  loadCourseParams(file: string | Uint8Array, options?: ReadPickleOptions): Record<string, string> {
    const where = typeof file === 'string' ? file : 'loadCourseParams: the pickle';
    const { tensors, dtypes } = readPickleParams(file, options);
    for (const [name, t] of Object.entries(this.params)) {
      const src = tensors[name];
      if (!src) throw new Error(`${where}: has no array '${name}' (it holds ${Object.keys(tensors).join(', ') || 'none'}); this network's parameters are ${Object.keys(this.params).join(', ')}`);
      if (src.shape.join() !== t.shape.join()) {
        throw new ShapeError(`${where}: '${name}' has shape ${shapeStr(src.shape)}, this network needs ${shapeStr(t.shape)}`);
      }
    }
    const extra = Object.keys(tensors).filter((k) => !(k in this.params));
    if (extra.length) throw new Error(`${where}: holds arrays this network does not have: ${extra.join(', ')} (its parameters are ${Object.keys(this.params).join(', ')})`);
    for (const [name, t] of Object.entries(this.params)) t.data.set(tensors[name].data);
    return dtypes;
  }

  /** Every tensor that defines the network's behaviour: params plus BatchNorm running statistics. */
  stateTensors(): Record<string, Tensor> {
    const out: Record<string, Tensor> = { ...this.params };
    this.bnLayers.forEach((bn, i) => {
      out[`runningMean${i + 1}`] = bn.runningMean;
      out[`runningVar${i + 1}`] = bn.runningVar;
    });
    return out;
  }

  /**
   * Saves parameters (and BatchNorm running statistics) to a safetensors file, atomically, with
   * a description of the whole network in its metadata (every layer with its hyper-parameters,
   * the conventions, the input, the PyTorch equivalent), from which loadNetwork(file) rebuilds
   * it. `{ layout: 'torch' }` writes PyTorch's state_dict names and layouts instead; `input`
   * records what the input is (range, description).
   * @example
   *   net.saveParams('convnet.safetensors', { input: { range: [0, 1], description: 'MNIST pixels / 255' } });
   *   net.saveParams('convnet-torch.safetensors', { layout: 'torch' }); // model.load_state_dict in PyTorch
   */
  saveParams(file: string, options?: SaveParamsOptions): void {
    saveNetworkFile(this, file, options);
  }

  /**
   * Writes the network as an ONNX model (opset 13) for onnxruntime and other ONNX tools:
   * input `input` [N, ...inputShape], outputs `logits` (what predict returns) and
   * `probabilities` (their softmax). Dropout is written as the course's test-time scaling and
   * BatchNormalization in inference form, so the model computes what predict computes.
   * A layer with no ONNX form is refused with a TypeError naming it.
   * @example
   *   net.exportOnnx('convnet.onnx');                            // presets know their input shape
   *   seq.exportOnnx('seq.onnx', { inputShape: [1, 28, 28] });  // a Sequential that starts with a Convolution
   */
  exportOnnx(file: string, options?: OnnxExportOptions): OnnxModelInfo {
    return exportOnnx(this, file, options);
  }

  /**
   * The ONNX model of exportOnnx as bytes, with what it holds (`info`).
   * @example
   *   const { bytes } = net.toOnnx();
   */
  toOnnx(options?: OnnxExportOptions): { bytes: Uint8Array; info: OnnxModelInfo } {
    return onnxModel(this, options);
  }

  /**
   * Loads parameters saved by saveParams into this network's own tensors (in place). Every
   * name and shape must match, and every value must be finite (a NaN or an infinity is an
   * error naming the tensor, unless `{ allowNonFinite: true }`); nothing is changed when the
   * file does not fit.
   * @example
   *   net.loadParams('convnet.safetensors');
   */
  loadParams(file: string, options?: LoadParamsOptions): void {
    if (typeof file !== 'string' || file === '') throw new TypeError(`loadParams: file must be a path, got ${describe(file)}`);
    const o = readOptions('loadParams', options, ['allowNonFinite']);
    const allowNonFinite = o.allowNonFinite === undefined ? false : expectBoolean('loadParams', 'allowNonFinite', o.allowNonFinite);
    const read = readSafetensors(file);
    // A file in PyTorch's layout is renamed to blasnet's names (and Affine weights transposed).
    this.loadStateTensors(tensorsForLoad(file, read), file, allowNonFinite, read.empty);
  }

  /**
   * Copies tensors named as stateTensors() into this network (checked as loadParams does;
   * `source` names where they came from in errors, `empty` lists tensors of no element).
   */
  loadStateTensors(tensors: Record<string, Tensor>, source: string, allowNonFinite = false, empty: Record<string, number[]> = {}): void {
    const mine = this.stateTensors();
    for (const [name, t] of Object.entries(mine)) {
      const src = tensors[name];
      if (!src && empty[name]) {
        throw new ShapeError(`${source}: tensor '${name}' has shape ${shapeStr(empty[name])} (no element), the network needs ${shapeStr(t.shape)}`);
      }
      if (!src) throw new RangeError(`${source}: has no tensor '${name}' (it holds ${Object.keys(tensors).join(', ') || 'none'})`);
      if (src.data.length !== t.data.length || src.shape.join() !== t.shape.join()) {
        throw new ShapeError(`${source}: tensor '${name}' has shape ${shapeStr(src.shape)}, the network needs ${shapeStr(t.shape)}`);
      }
    }
    const extra = [...Object.keys(tensors), ...Object.keys(empty)].filter((k) => !Object.prototype.hasOwnProperty.call(mine, k));
    if (extra.length) throw new Error(`${source}: holds tensors this network does not have: ${extra.join(', ')}`);
    if (!allowNonFinite) {
      for (const name of Object.keys(mine)) {
        const bad = countNonFinite(tensors[name].data);
        if (bad > 0) {
          throw new RangeError(`${source}: tensor '${name}' holds ${bad} non-finite value${bad === 1 ? '' : 's'} (NaN or infinity) of ${tensors[name].data.length}; `
            + 'a training that diverged saved it. Pass { allowNonFinite: true } to load it anyway');
        }
      }
    }
    for (const [name, t] of Object.entries(mine)) t.data.set(tensors[name].data);
  }
}

/** How many elements of `a` are NaN or ±Infinity. */
export function countNonFinite(a: Float32Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    // v - v is 0 for every finite v and NaN for NaN and both infinities.
    if (v - v !== 0) n++;
  }
  return n;
}

export interface LoadParamsOptions {
  /** Load NaN and infinite values too (false: they are an error naming the tensor). */
  allowNonFinite?: boolean;
}
