// SPDX-License-Identifier: MIT
// Self-describing files: the metadata describes every layer with its hyper-parameters and
// conventions, loadNetwork rebuilds any preset or Sequential from it (and from blasnet 0.1's
// files), PyTorch's layout, and a file's tensors checked against its description from the
// header alone, before anything is built.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as fs from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import {
  Affine, Layer, loadNetwork, MultiLayerNet, MultiLayerNetExtend, readNetworkDescription, readSafetensors, Relu, Sequential,
  setSeed, ShapeError, SimpleConvNet, SoftmaxWithLoss, Tensor, TwoLayerNet, writeSafetensors,
} from '../lib';
import { describeLayer } from '../lib/nn/spec';
import { Rng } from './helpers/random';
import { zooNetwork } from './helpers/zoo';

let dir = '';
beforeAll(() => { dir = fs.mkdtempSync(join(tmpdir(), 'blasnet-netfile-')); });
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

function batch(seed: number, shape: number[]): Tensor {
  return new Tensor(new Rng(seed).floats(shape.reduce((a, b) => a * b, 1), 0, 1), shape);
}

function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** The zoo network with its BatchNorm running statistics moved by a few training passes. */
function trainedZoo(seed: number): Sequential {
  const net = zooNetwork(seed);
  for (let i = 0; i < 3; i++) net.gradient(batch(50 + i, [8, 1, 28, 28]), [0, 1, 2, 3, 4, 5, 6, 7]);
  return net;
}

/** The header JSON of a file, parsed here from the format's definition. */
function header(file: string): Record<string, { dtype: string; shape: number[]; data_offsets: number[] }> & { __metadata__: Record<string, string> } {
  const buf = fs.readFileSync(file);
  return JSON.parse(buf.subarray(8, 8 + Number(buf.readBigUInt64LE(0))).toString('utf8'));
}

/** A copy of `file` with its metadata changed by `edit` (the tensors as they are). */
function withMetadata(file: string, name: string, edit: (m: Record<string, string>) => void,
  tensors?: (t: Record<string, Tensor>) => void): string {
  const read = readSafetensors(file);
  const m = { ...read.metadata };
  edit(m);
  tensors?.(read.tensors);
  const out = join(dir, name);
  writeSafetensors(out, read.tensors, m);
  return out;
}

function editNetwork(file: string, name: string, edit: (d: Record<string, any>) => void): string { // eslint-disable-line @typescript-eslint/no-explicit-any
  return withMetadata(file, name, (m) => {
    const d = JSON.parse(m.network);
    edit(d);
    m.network = JSON.stringify(d);
  });
}

describe('a file describes its network', () => {
  let file = '';
  let net: Sequential;
  beforeAll(() => {
    net = trainedZoo(1);
    file = join(dir, 'zoo.safetensors');
    net.saveParams(file, { input: { range: [0, 1], description: 'MNIST digits, pixel / 255' } });
  });

  test('loadNetwork rebuilds a Sequential of every layer kind: same layers, hyper-parameters, weight decay, predictions', () => {
    const back = loadNetwork(file);
    expect(back.constructor).toBe(Sequential);
    expect(back.layers.map((l) => l.constructor)).toEqual(net.layers.map((l) => l.constructor));
    expect(back.layers.map(describeLayer)).toEqual(net.layers.map(describeLayer));
    expect(back.weightDecayLambda).toBe(0.001);
    expect(back.inputShape).toEqual([1, 28, 28]);
    expect(back.config).toEqual(net.config);
    const x = batch(7, [6, 1, 28, 28]);
    const y = net.predict(x).clone();
    expect(bitsEqual(back.predict(x).data, y.data)).toBe(true);
    // The loss includes the weight decay: the same on both.
    expect(back.loss(x, [1, 2, 3, 4, 5, 6], false)).toBe(net.loss(x, [1, 2, 3, 4, 5, 6], false));
  });

  test('each layer with its hyper-parameters, conventions, tensors and output shape; the input; the metadata version', () => {
    const h = header(file);
    expect(h.__metadata__.format).toBe('blasnet');
    expect(h.__metadata__.version).toBe('2');
    expect(h.__metadata__.layout).toBe('blasnet');
    const d = JSON.parse(h.__metadata__.network);
    expect(d.version).toBe(2);
    expect(d.kind).toBe('Sequential');
    expect(d.input).toEqual({ shape: [1, 28, 28], dtype: 'float32', range: [0, 1], description: 'MNIST digits, pixel / 255' });
    expect(d.output.shape).toEqual([10]);
    // Hand-derived from the zoo network (test/helpers/zoo.ts).
    expect(d.layers.map((l: { type: string }) => l.type)).toEqual(['Convolution', 'Pooling', 'Tanh', 'Convolution', 'Relu',
      'AvgPooling', 'BatchNormalization', 'Dropout', 'Affine', 'Sigmoid', 'Dropout', 'Affine', 'Relu', 'Affine']);
    expect(d.layers[0]).toEqual({ type: 'Convolution', filters: 4, channels: 1, kernel: [3, 3], stride: 1, pad: 1, padValue: 0,
      tensors: { W: 'W1', b: 'b1' }, outputShape: [4, 28, 28] });
    expect(d.layers[1]).toEqual({ type: 'Pooling', mode: 'max', window: [3, 3], stride: 2, pad: 1, padValue: 0, outputShape: [4, 14, 14] });
    expect(d.layers[3].outputShape).toEqual([6, 6, 6]);
    expect(d.layers[5]).toEqual({ type: 'AvgPooling', mode: 'average', window: [2, 2], stride: 1, pad: 1, padValue: 0,
      countIncludePad: true, outputShape: [6, 7, 7] });
    expect(d.layers[6]).toEqual({ type: 'BatchNormalization', features: 294, momentum: 0.8, eps: 1e-6, over: 'flattened',
      tensors: { gamma: 'gamma1', beta: 'beta1', runningMean: 'runningMean1', runningVar: 'runningVar1' }, outputShape: [6, 7, 7] });
    expect(d.layers[7]).toEqual({ type: 'Dropout', ratio: 0.2, inverted: false, testTimeScale: 0.8, outputShape: [6, 7, 7] });
    expect(d.layers[10]).toEqual({ type: 'Dropout', ratio: 0.1, inverted: true, testTimeScale: 1, outputShape: [32] });
    expect(d.layers[8]).toEqual({ type: 'Affine', in: 294, out: 32, flattensInput: true, tensors: { W: 'W3', b: 'b3' }, outputShape: [32] });
    expect(d.weightDecayLambda).toBe(0.001);
    expect(d.conventions.weights).toMatch(/\(in, out\).*transpose of torch\.nn\.Linear\.weight/);
    expect(d.conventions.Dropout).toMatch(/\(1 - ratio\)/);
    expect(d.conventions.BatchNormalization).toMatch(/flattened input/);
    expect(d.conventions.Pooling).toMatch(/zeros that take part in the max/);
    // The nn.Sequential that computes the same, module by module.
    expect(d.torch.modules.map((m: { module: string }) => m.module)).toEqual(['Conv2d', 'ZeroPad2d', 'MaxPool2d', 'Tanh', 'Conv2d',
      'ReLU', 'ZeroPad2d', 'AvgPool2d', 'CourseBatchNorm', 'CourseDropout', 'Flatten', 'Linear', 'Sigmoid', 'Dropout', 'Linear',
      'ReLU', 'Linear']);
    expect(d.torch.modules.map((m: { layer: number }) => m.layer)).toEqual([0, 1, 1, 2, 3, 4, 5, 5, 6, 7, 8, 8, 9, 10, 11, 12, 13]);
    expect(readNetworkDescription(file)).toEqual(d);
  });

  test('presets: the kind, the options and the same layer list; loadNetwork gives the preset class', () => {
    setSeed(2);
    const mlp = new MultiLayerNetExtend({ inputSize: 12, hiddenSizeList: [10, 8], outputSize: 4, useBatchnorm: true,
      useDropout: true, dropoutRatio: 0.3, activation: 'sigmoid' });
    const f = join(dir, 'mlp.safetensors');
    mlp.saveParams(f);
    const d = readNetworkDescription(f);
    expect(d.kind).toBe('MultiLayerNetExtend');
    expect(d.config).toEqual({ kind: 'MultiLayerNetExtend', options: { inputSize: 12, hiddenSizeList: [10, 8], outputSize: 4,
      useBatchnorm: true, useDropout: true, dropoutRatio: 0.3, activation: 'sigmoid' } });
    expect(d.input.shape).toEqual([12]);
    expect(d.layers.map((l) => l.type)).toEqual(['Affine', 'BatchNormalization', 'Sigmoid', 'Dropout', 'Affine',
      'BatchNormalization', 'Sigmoid', 'Dropout', 'Affine']);
    expect(d.torch?.modules[0]).toEqual({ index: 0, module: 'Linear', layer: 0 });
    const back = loadNetwork(f);
    expect(back).toBeInstanceOf(MultiLayerNetExtend);
    const x = batch(3, [5, 12]);
    expect(bitsEqual(back.predict(x).data, mlp.predict(x).clone().data)).toBe(true);

    const two = new TwoLayerNet({ inputSize: 12, hiddenSize: 7, outputSize: 3, activation: 'sigmoid' });
    const f2 = join(dir, 'two.safetensors');
    two.saveParams(f2);
    expect(readNetworkDescription(f2).layers.map((l) => l.type)).toEqual(['Affine', 'Sigmoid', 'Affine']);
    const back2 = loadNetwork(f2);
    expect(back2).toBeInstanceOf(TwoLayerNet);
    expect(bitsEqual(back2.predict(x).data, two.predict(x).clone().data)).toBe(true);
  });
});

describe("PyTorch's layout", () => {
  let net: Sequential;
  let file = '';
  beforeAll(() => {
    net = trainedZoo(3);
    file = join(dir, 'zoo-torch.safetensors');
    net.saveParams(file, { layout: 'torch' });
  });

  test("state_dict names of the nn.Sequential, nn.Linear weights as (out, in), BatchNorm's running_mean and running_var", () => {
    const h = header(file);
    expect(h.__metadata__.layout).toBe('torch');
    const names = Object.keys(h).filter((k) => k !== '__metadata__').sort();
    // Module indices from the list above: Conv2d 0, Conv2d 4, CourseBatchNorm 8, Linear 11, 14, 16.
    expect(names).toEqual(['0.bias', '0.weight', '11.bias', '11.weight', '14.bias', '14.weight', '16.bias', '16.weight',
      '4.bias', '4.weight', '8.bias', '8.running_mean', '8.running_var', '8.weight'].sort());
    const t = readSafetensors(file).tensors;
    const s = net.stateTensors();
    expect(t['11.weight'].shape).toEqual([32, 294]);
    expect(t['14.weight'].shape).toEqual([32, 32]);
    for (const [torchName, ours] of [['11.weight', 'W3'], ['14.weight', 'W4'], ['16.weight', 'W5']]) {
      const [I, O] = s[ours].shape;
      for (let i = 0; i < I; i++) for (let o = 0; o < O; o++) expect(t[torchName].data[o * I + i]).toBe(s[ours].data[i * O + o]);
    }
    expect(bitsEqual(t['0.weight'].data, s.W1.data)).toBe(true);
    expect(bitsEqual(t['8.weight'].data, s.gamma1.data)).toBe(true);
    expect(bitsEqual(t['8.running_var'].data, s.runningVar1.data)).toBe(true);
    expect(bitsEqual(t['8.running_mean'].data, s.runningMean1.data)).toBe(true);
    const d = readNetworkDescription(file);
    expect(d.layers[11].tensors).toEqual({ W: '14.weight', b: '14.bias' });
    expect(d.conventions.layout).toMatch(/\(out, in\)/);
  });

  test('loadNetwork and loadParams read it back: bit-identical predictions', () => {
    const x = batch(11, [4, 1, 28, 28]);
    const y = net.predict(x).clone();
    expect(bitsEqual(loadNetwork(file).predict(x).data, y.data)).toBe(true);
    const other = zooNetwork(4);
    expect(bitsEqual(other.predict(x).data, y.data)).toBe(false);
    other.loadParams(file);
    expect(bitsEqual(other.predict(x).data, y.data)).toBe(true);
  });
});

describe('checked before anything is built', () => {
  test('a small file claiming a huge MultiLayerNet (blasnet 0.1 metadata): a ShapeError from the header, nothing allocated', () => {
    const file = join(dir, 'huge-claim.safetensors');
    writeSafetensors(file, { W1: Tensor.zeros([2, 3]), b1: Tensor.zeros([3]), W2: Tensor.zeros([3, 2]), b2: Tensor.zeros([2]) }, {
      format: 'blasnet', version: '1',
      config: JSON.stringify({ kind: 'MultiLayerNet', options: { inputSize: 20000, hiddenSizeList: [10000], outputSize: 10 } }),
    });
    expect(fs.statSync(file).size).toBeLessThan(600);
    const before = process.memoryUsage().arrayBuffers;
    expect(() => loadNetwork(file)).toThrow(ShapeError);
    expect(() => loadNetwork(file)).toThrow(/huge-claim\.safetensors: tensor 'W1' has shape \[2, 3\], its layer 0 \(Affine .*\) needs \[20000, 10000\]/);
    // The network it claims would take 800 MB.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
  });

  test('a description whose layers do not fit its tensors, or lack some, or name extra ones', () => {
    const file = join(dir, 'small.safetensors');
    setSeed(5);
    const layers = [new Affine(Tensor.zeros([4, 3]), Tensor.zeros([3])), new Relu(), new Affine(Tensor.zeros([3, 2]), Tensor.zeros([2]))];
    new Sequential([...layers, new SoftmaxWithLoss()]).saveParams(file);
    expect(loadNetwork(file).layers.length).toBe(3);
    const wide = editNetwork(file, 'wide.safetensors', (d) => { d.layers[0].in = 400000; d.input.shape = [400000]; });
    expect(() => loadNetwork(wide)).toThrow(/tensor 'W1' has shape \[4, 3\], its layer 0 \(Affine .*\) needs \[400000, 3\]/);
    const missing = withMetadata(file, 'missing.safetensors', () => {}, (t) => { delete t.b2; });
    expect(() => loadNetwork(missing)).toThrow(/has no tensor 'b2' \(it holds W1, W2, b1\)/);
    const extra = withMetadata(file, 'extra.safetensors', () => {}, (t) => { t.W9 = Tensor.zeros([1]); });
    expect(() => loadNetwork(extra)).toThrow(/holds tensors its layers do not have: W9/);
  });

  test('inconsistent or foreign descriptions are refused with the reason', () => {
    setSeed(6);
    const file = join(dir, 'simple.safetensors');
    new SimpleConvNet({ inputDim: [1, 10, 10], convParam: { filterNum: 2, filterSize: 3, pad: 0, stride: 1 }, hiddenSize: 4 }).saveParams(file);
    expect(loadNetwork(file)).toBeInstanceOf(SimpleConvNet);
    const cases: Array<[string, (d: Record<string, any>) => void, RegExp]> = [ // eslint-disable-line @typescript-eslint/no-explicit-any
      ['options', (d) => { d.layers[2].stride = 1; }, /its SimpleConvNet options give other layers than the file lists: layer 2 is Pooling .*"stride":2.* by the options, Pooling .*"stride":1/],
      ['names', (d) => { d.layers[0].tensors = { W: 'W2', b: 'b2' }; }, /names the tensors of layer 0 \(Convolution\) .*W2.*they are .*W1/],
      ['padValue', (d) => { d.layers[2].padValue = '-inf'; }, /layer 2 \(Pooling\): padValue is the string "-inf"; blasnet's Pooling has the number 0/],
      ['eps', (d) => { d.layers.splice(1, 0, { type: 'BatchNormalization', features: 128, momentum: 0.9, eps: 1e-5 }); }, /eps is the number 0.00001; blasnet's BatchNormalization uses the course's 0.000001/],
      ['type', (d) => { d.layers[1].type = 'LeakyRelu'; }, /layer 1 has type the string "LeakyRelu"; blasnet rebuilds Affine, Convolution/],
      ['unknown field', (d) => { d.layers[1].slope = 0.1; }, /layer 1 \(Relu\) has the unknown field 'slope'/],
      ['version', (d) => { d.version = 3; }, /has version the number 3, expected 2/],
      ['torch', (d) => { d.torch.modules[0].module = 'Linear'; }, /lists PyTorch modules that do not follow from its layers/],
    ];
    for (const [name, edit, pattern] of cases) {
      expect(() => loadNetwork(editNetwork(file, `${name}.safetensors`, edit))).toThrow(pattern);
    }
    const future = withMetadata(file, 'future.safetensors', (m) => { m.version = '3'; });
    expect(() => loadNetwork(future)).toThrow(/metadata format version the string "3"; this blasnet reads versions 1 and 2/);
    const bad = withMetadata(file, 'badjson.safetensors', (m) => { m.network = '{"version": 2,'; });
    expect(() => loadNetwork(bad)).toThrow(/its network description is not valid JSON/);
  });

  test('a layer of the user\'s own class: saved (blasnet layout), refused by loadNetwork and by the torch layout, naming it', () => {
    class Scale implements Layer {
      readonly name = 'Scale';
      readonly params = { s: new Tensor(new Float32Array([2]), [1]) };
      readonly grads = { s: Tensor.zeros([1]) };
      forward(x: Tensor): Tensor { return new Tensor(x.data.map((v) => v * this.params.s.data[0]), x.shape); }
      backward(d: Tensor): Tensor { return d; }
    }
    const net = new Sequential([new Affine(Tensor.zeros([3, 2]), Tensor.zeros([2])), new Scale(), new SoftmaxWithLoss()]);
    const file = join(dir, 'custom.safetensors');
    net.saveParams(file);
    expect(readSafetensors(file).tensors.s2.data[0]).toBe(2);
    expect(() => loadNetwork(file)).toThrow(/layer 1 is a layer of its own class \(the string "Scale"\).*net\.loadParams\(file\)/);
    expect(() => net.saveParams(join(dir, 'custom-torch.safetensors'), { layout: 'torch' }))
      .toThrow(/layout 'torch' needs blasnet's own layers; layer 1 \(Scale\)/);
    const copy = new Sequential([new Affine(Tensor.zeros([3, 2]), Tensor.zeros([2])), new Scale(), new SoftmaxWithLoss()]);
    copy.params.s2.data[0] = 0;
    copy.loadParams(file);
    expect(copy.params.s2.data[0]).toBe(2);
  });

  test('bad saveParams options are refused', () => {
    const net = new MultiLayerNet({ inputSize: 3, hiddenSizeList: [2], outputSize: 2 });
    const f = join(dir, 'opts.safetensors');
    expect(() => net.saveParams(f, { layout: 'pytorch' as never })).toThrow(/layout must be 'blasnet' or 'torch'/);
    expect(() => net.saveParams(f, { layuot: 'torch' } as never)).toThrow(/unknown option 'layuot' \(did you mean 'layout'\?\)/);
    expect(() => net.saveParams(f, { input: { range: [1, 0] } })).toThrow(/input\.range must be \[low, high\] with low < high/);
    expect(fs.existsSync(f)).toBe(false);
  });
});

describe('files of blasnet 0.1 (metadata version 1)', () => {
  /** What blasnet 0.1's saveParams wrote: the tensors, format, version '1' and the config alone. */
  function v1File(name: string, net: Sequential): string {
    const file = join(dir, name);
    writeSafetensors(file, net.stateTensors(), { format: 'blasnet', version: '1', config: JSON.stringify(net.config) });
    return file;
  }

  test('a preset loads from its options, with bit-identical predictions', () => {
    setSeed(7);
    const net = new SimpleConvNet({ inputDim: [1, 10, 10], convParam: { filterNum: 2, filterSize: 3, pad: 1, stride: 1 }, hiddenSize: 4 });
    const back = loadNetwork(v1File('v1-simple.safetensors', net));
    expect(back).toBeInstanceOf(SimpleConvNet);
    const x = batch(12, [3, 1, 10, 10]);
    expect(bitsEqual(back.predict(x).data, net.predict(x).clone().data)).toBe(true);
    expect(() => readNetworkDescription(join(dir, 'v1-simple.safetensors'))).toThrow(/no blasnet network description/);
  });

  test('a Sequential (only layer names) is refused with what to do', () => {
    const net = new Sequential([new Affine(Tensor.zeros([3, 2]), Tensor.zeros([2])), new Relu(), new SoftmaxWithLoss()]);
    const file = v1File('v1-seq.safetensors', net);
    expect(() => loadNetwork(file)).toThrow(/saved by blasnet 0\.1.*build the network by hand, call net\.loadParams\(file\), and save it again/);
    const copy = new Sequential([new Affine(Tensor.zeros([3, 2]), Tensor.zeros([2])), new Relu(), new SoftmaxWithLoss()]);
    expect(() => copy.loadParams(file)).not.toThrow();
  });
});
