// SPDX-License-Identifier: MIT
// Regression tests for what the fuzzer (bench/fuzz) found in the public API: each case is the
// reduced reproduction of a fuzz failure, checked against what the call must do.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, describe, expect, test } from '@jest/globals';
import {
  Affine, AvgPooling, BatchNormalization, Convolution, Dropout, MultiLayerNet, MultiLayerNetExtend, Pooling, Relu, SGD,
  SimpleConvNet, SoftmaxWithLoss, Tanh, Tensor, Trainer, TwoLayerNet, loadNetwork, networkFromConfig, readPickleParams, tensor, writeSafetensors,
} from '../lib';
import { caught } from './helpers/errors';

/**
 * A tensor-like whose getters answer honestly `honest` times and then claim `later` as the
 * shape (the fuzzer's "shifting" tensor-like): a check that reads once and a use that reads
 * again see different tensors.
 */
function shifting(shape: number[], data: Float32Array, honest: number, later: number[]): { shape: number[]; data: Float32Array; reads: () => number } {
  let reads = 0;
  return {
    get shape() { reads++; return reads > honest ? later : shape; },
    get data() { reads++; return data; },
    reads: () => reads,
  };
}

/** A Tensor whose memory is transferred away after it was made (its data length becomes 0). */
function detached(shape: number[]): Tensor {
  const t = new Tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
  structuredClone(t.data.buffer, { transfer: [t.data.buffer as ArrayBuffer] });
  return t;
}

describe('tensor-likes are read once', () => {
  test('SoftmaxWithLoss.forward on a shape that turns into [1, 2 ** 31] after the check computes on the honest one (it hung)', () => {
    const x = shifting([1, 3], Float32Array.of(1, 2, 3), 2, [1, 2 ** 31]);
    const t0 = Date.now();
    const loss = new SoftmaxWithLoss().forward(x as never, [2]);
    expect(Date.now() - t0).toBeLessThan(2000);
    // Softmax of (1, 2, 3) and the course's cross-entropy of class 2, in double precision.
    const e = [1, 2, 3].map((v) => Math.exp(v - 3));
    expect(loss).toBeCloseTo(-Math.log(e[2] / (e[0] + e[1] + e[2]) + 1e-7), 5);
    expect(x.reads()).toBe(2);
  });

  test.each([
    ['Relu.forward', () => new Relu(), [2, 3], 6],
    ['Tanh.forward', () => new Tanh(), [6], 6],
    ['Dropout.forward', () => new Dropout(0.5), [3, 2], 6],
    ['Affine.forward', () => new Affine(Tensor.zeros([3, 2]), Tensor.zeros([2])), [2, 3], 4],
    ['Pooling.forward', () => new Pooling(1, 1), [1, 1, 2, 3], 6],
    ['Convolution.forward', () => new Convolution(Tensor.zeros([1, 1, 1, 1]), Tensor.zeros([1])), [1, 1, 2, 3], 6],
  ] as const)('%s allocates for the shape it checked, not a later answer of [2 ** 31]', (_fn, make, shape, outLength) => {
    const layer = make();
    const x = shifting([...shape], Float32Array.from({ length: 6 }, (_, i) => i - 2), 2, [2 ** 31]);
    const y = layer.forward(x as never);
    expect(y.data.length).toBe(outLength);
    expect(x.reads()).toBe(2);
  });

  test('AvgPooling.backward reads dout once (its data detached on a later read reached the kernel)', () => {
    const p = new AvgPooling(2, 1, 2);
    p.forward(new Tensor(new Float32Array(20).fill(1), [1, 2, 5, 2]));
    let reads = 0;
    const data = Float32Array.of(4, 8, 12, 16);
    const dout = { get shape() { reads++; return [1, 2, 2, 1]; }, get data() { reads++; return reads > 2 ? new Float32Array(0) : data; } };
    const dx = p.backward(dout as never);
    expect(reads).toBe(2);
    // Each dout value spread over its 2x1 window: value / 2 in both cells.
    expect(Array.from(dx.data.subarray(0, 4))).toEqual([2, 0, 2, 0]);
  });
});

describe('Tensors cannot change after they are checked', () => {
  test('a Tensor\'s shape is frozen', () => {
    const t = new Tensor(new Float32Array(6), [2, 3]);
    expect(Object.isFrozen(t.shape)).toBe(true);
    expect(() => { (t.shape as number[])[0] = 2 ** 31; }).toThrow(TypeError);
    expect(t.shape).toEqual([2, 3]);
  });

  test.each([
    ['Relu.forward', () => new Relu().forward(detached([2, 2]))],
    ['Dropout.forward', () => new Dropout(0.5).forward(detached([4]))],
    ['BatchNormalization.forward', () => new BatchNormalization(Tensor.zeros([2]), Tensor.zeros([2])).forward(detached([3, 2]))],
    ['Convolution.forward', () => new Convolution(Tensor.zeros([1, 1, 1, 1]), Tensor.zeros([1])).forward(detached([1, 1, 2, 2]))],
  ])('%s names itself and x for a Tensor whose memory was detached after it was made', (fn, call) => {
    const e = caught(call);
    expect(e.name).toBe('ShapeError');
    expect(e.message).toContain(`${fn}: x has shape`);
    expect(e.message).toContain('its data now holds 0');
  });

  test('tensor(data, null) is refused (null was taken as "no shape")', () => {
    expect(caught(() => tensor([[1, 2]], null as never))).toEqual({ name: 'TypeError', message: expect.stringContaining('tensor: shape must be an array') });
  });

  test('a one-hot t that lies about its shape is refused before it is read', () => {
    const e = caught(() => new SoftmaxWithLoss().forward(Tensor.zeros([4, 3]), { shape: [4, 3], data: new Float32Array(1) } as never));
    expect(e.name).toBe('ShapeError');
    expect(e.message).toMatch(/SoftmaxWithLoss\.forward: t has shape \[4, 3\] \(12 elements\) but its data holds 1/);
  });
});

describe('flags and options are what they say', () => {
  test.each([
    ['Dropout', 'options.inverted', () => new Dropout(0.5, { inverted: {} as never })],
    ['Dropout.forward', 'train', () => new Dropout(0.5).forward(Tensor.zeros([2]), null as never)],
    ['BatchNormalization.forward', 'train', () => new BatchNormalization(Tensor.zeros([1]), Tensor.zeros([1])).forward(Tensor.zeros([2, 1]), 0 as never)],
    ['Affine', 'options.skipInputGradient', () => new Affine(Tensor.zeros([1, 1]), Tensor.zeros([1]), { skipInputGradient: 'yes' as never })],
    ['Affine.backward', 'inputGradient', () => {
      const a = new Affine(Tensor.zeros([1, 1]), Tensor.zeros([1]));
      a.forward(Tensor.zeros([1, 1]));
      return a.backward(Tensor.zeros([1, 1]), Symbol('x') as never);
    }],
    ['MultiLayerNetExtend', 'useDropout', () => new MultiLayerNetExtend({ inputSize: 2, hiddenSizeList: [2], outputSize: 2, useDropout: {} as never })],
    ['MultiLayerNet', 'activation', () => new MultiLayerNet({ inputSize: 2, hiddenSizeList: [2], outputSize: 2, activation: null as never })],
    ['MultiLayerNet', 'weightInitStd', () => new MultiLayerNet({ inputSize: 2, hiddenSizeList: [2], outputSize: 2, weightInitStd: null as never })],
    ['MultiLayerNet', 'l1Lambda', () => new MultiLayerNet({ inputSize: 2, hiddenSizeList: [2], outputSize: 2, l1Lambda: -1 })],
    ['SimpleConvNet', 'weightDecayLambda', () => new SimpleConvNet({ weightDecayLambda: NaN })],
    ['SimpleConvNet', 'outputSize', () => new SimpleConvNet({ outputSize: null as never })],
    ['SimpleConvNet', 'inputDim', () => new SimpleConvNet({ inputDim: null as never })],
    ['SGD', 'options', () => new SGD(new ArrayBuffer(8) as never)],
    ['TwoLayerNet', 'options', () => new TwoLayerNet(new Float32Array(3) as never)],
  ])('%s refuses a bad %s, naming it', (fn, name, call) => {
    const e = caught(call);
    expect(['TypeError', 'RangeError']).toContain(e.name);
    expect(e.message.startsWith(`${fn}: `)).toBe(true);
    expect(e.message).toContain(name);
  });

  test('accuracy refuses batchSize 0 (the loop never advanced: a hang)', () => {
    const net = new MultiLayerNet({ inputSize: 2, hiddenSizeList: [2], outputSize: 2 });
    for (const bad of [0, -1, 0.5, '2', NaN]) {
      const e = caught(() => net.accuracy(Tensor.zeros([3, 2]), [0, 1, 0], bad as never));
      expect(e.message).toMatch(/^accuracy: batchSize must be an integer/);
    }
    // Every batch size counts the same predictions.
    const x = tensor([[1, 0], [0, 1], [1, 1], [0, 0], [2, -1]]);
    const t = [0, 1, 1, 0, 1];
    const all = net.accuracy(x, t);
    for (const b of [1, 2, 3, 5, 7]) expect(net.accuracy(x, t, b)).toBe(all);
  });
});

describe('network files: every refusal is a FileError naming the file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-hostile-api-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A saved TwoLayerNet's file with its header changed by `edit`. */
  function edited(name: string, edit: (h: Record<string, any>) => void): string {
    const file = path.join(dir, name);
    new TwoLayerNet({ inputSize: 4, hiddenSize: 3, outputSize: 2 }).saveParams(file);
    const b = fs.readFileSync(file);
    const n = Number(b.readBigUInt64LE(0));
    const h = JSON.parse(b.subarray(8, 8 + n).toString('utf8'));
    const body = b.subarray(8 + n);
    edit(h);
    const text = Buffer.from(JSON.stringify(h));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(text.length));
    fs.writeFileSync(file, Buffer.concat([len, text, body]));
    return file;
  }

  test.each([
    ['a tensor renamed', (h: Record<string, any>) => { h.renamed = h.W1; delete h.W1; }, /has no tensor 'W1'/],
    ['a description that is a string', (h: Record<string, any>) => { h.__metadata__.network = '"x"'; }, /its network description must be a JSON object/],
    ['a description without version', (h: Record<string, any>) => {
      const d = JSON.parse(h.__metadata__.network); delete d.version; h.__metadata__.network = JSON.stringify(d);
    }, /its network description lacks 'version'/],
  ])('%s', (_what, edit, message) => {
    const file = edited(`${_what.replace(/\W/g, '-')}.safetensors`, edit);
    const e = caught(() => loadNetwork(file));
    expect(e.name).toBe('FileError');
    expect(e.message.startsWith(`${file}: `)).toBe(true);
    expect(e.message).toMatch(message);
  });

  test('networkFromConfig: an unknown kind is a RangeError', () => {
    expect(caught(() => networkFromConfig({ kind: 'Bogus', options: {} }))).toEqual({ name: 'RangeError', message: expect.stringMatching(/^networkFromConfig: unknown network kind/) });
  });
});

describe('a detached Tensor is seen after the JIT has met length-tracking arrays', () => {
  test('Relu.forward refuses it every time (Node 20 read a stale length once optimized)', () => {
    const layer = new Relu();
    let refused = 0;
    for (let i = 0; i < 20000; i++) {
      // Length-tracking arrays over resizable memory at the same places in the library's code.
      const rab = new Float32Array(new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer)(24, { maxByteLength: 48 }));
      layer.forward(new Tensor(rab, [6]));
      if (i % 4 === 0) {
        const e = caught(() => layer.forward(detached([6])));
        if (e.name === 'ShapeError' && e.message.startsWith('Relu.forward: x has shape [6]')) refused++;
      }
    }
    expect(refused).toBe(5000);
  });
});

test('readPickleParams: maxBytes null is refused, not taken as the default', () => {
  const e = caught(() => readPickleParams(Uint8Array.of(0x80, 4, 0x7d, 0x2e), { maxBytes: null as never }));
  expect(e.message).toMatch(/^readPickleParams: options\.maxBytes must be a positive integer, got null/);
});

test('SimpleConvNet: a convParam key given as undefined keeps its default', () => {
  const a = new SimpleConvNet({ inputDim: [1, 8, 8], convParam: { filterNum: 2, filterSize: 3, pad: undefined, stride: undefined }, hiddenSize: 3, outputSize: 2 });
  const b = new SimpleConvNet({ inputDim: [1, 8, 8], convParam: { filterNum: 2, filterSize: 3 }, hiddenSize: 3, outputSize: 2 });
  expect(a.params.W1.shape).toEqual([2, 1, 3, 3]);
  // pad 0 and stride 1: a 6x6 map pooled to 3x3, so W2 is (2*3*3, 3), as without the keys.
  expect(a.params.W2.shape).toEqual([18, 3]);
  expect(b.params.W2.shape).toEqual([18, 3]);
});

describe('Trainer and writeSafetensors name what they refuse', () => {
  const net = (): MultiLayerNet => new MultiLayerNet({ inputSize: 3, hiddenSizeList: [2], outputSize: 2 });
  const x = (): Tensor => tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]]);
  test.each([
    ['checkFinite', { checkFinite: null }, /^Trainer: checkFinite must be 'loss' or 'layers', got null/],
    ['optimizer', { optimizer: null }, /^Trainer: optimizer must be a name or an object with update/],
    ['optimizer', { optimizer: 'bogus' }, /^Trainer: optimizer: optimizerFromName: name must be one of/],
    ['optimizerParam', { optimizer: 'nesterov', optimizerParam: () => 1 }, /^Trainer: optimizer, optimizerParam: Nesterov: options must be an object/],
    ['epochs', { epochs: null }, /^Trainer: epochs must be an integer/],
  ])('%s', (_name, opts, message) => {
    const e = caught(() => new Trainer(net(), x(), [0, 1, 0, 1], x(), [0, 1, 0, 1], opts as never));
    expect(e.message).toMatch(message);
  });

  test('xTrain whose samples do not fit the network names the Trainer and xTrain', () => {
    const e = caught(() => new Trainer(net(), tensor([[1, 2], [3, 4]]), [0, 1], tensor([[1, 2]]), [0], { epochs: 1 }));
    expect(e.name).toBe('ShapeError');
    expect(e.message).toMatch(/^Trainer: xTrain \(samples of shape \[2\]\): .*Affine/);
  });

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-hostile-write-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('writeSafetensors refuses a detached tensor by name (V8 threw "Cannot perform Construct on a detached ArrayBuffer")', () => {
    const e = caught(() => writeSafetensors(path.join(dir, 'd.safetensors'), { a: detached([4]) }));
    expect(e.name).toBe('ShapeError');
    expect(e.message).toMatch(/^writeSafetensors: tensors\["a"\] has shape \[4\] \(4 elements\) but its data now holds 0/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
