// SPDX-License-Identifier: MIT
// The learner's toolkit in the main package: seeded randn / rand / permutation / choice,
// row selection (x.rows, x.take, take), every layer's output of a forward pass, and the
// course's TwoLayerNet (chapters 4-5).
import { describe, expect, test } from '@jest/globals';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  Affine, choice, Convolution, loadNetwork, MultiLayerNet, MultiLayerNetExtend, networkFromConfig, permutation, Pooling, rand, randn, Relu,
  Sequential, setSeed, SimpleConvNet, take, Tensor, tensor, TwoLayerNet,
} from '../lib';
import { convForward, maxPoolForward } from './reference/naive';

function stats(a: Float32Array): { mean: number; std: number } {
  let s = 0, q = 0;
  for (const v of a) { s += v; q += v * v; }
  const mean = s / a.length;
  return { mean, std: Math.sqrt(q / a.length - mean * mean) };
}

describe('randn, rand, permutation, choice on the seeded stream', () => {
  test('randn takes numpy\'s dimensions or a shape and std; setSeed repeats it exactly', () => {
    setSeed(3);
    const a = randn(1000, 100);
    setSeed(3);
    const b = randn([1000, 100]);
    expect(a.shape).toEqual([1000, 100]);
    expect(b.data).toEqual(a.data);
    const { mean, std } = stats(a.data);
    // 100,000 standard normal draws: mean within 5 standard errors, std within 1%.
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(1e5));
    expect(Math.abs(std - 1)).toBeLessThan(0.01);
    setSeed(3);
    const c = randn([1000, 100], 0.01);
    for (let i = 0; i < 1000; i++) expect(c.data[i]).toBeCloseTo(0.01 * a.data[i], 8);
    setSeed(4);
    expect(randn(5).data).not.toEqual(a.data.subarray(0, 5));
  });

  test('the presets draw their weights from the same randn: one stream, one helper', () => {
    setSeed(11);
    const net = new MultiLayerNet({ inputSize: 6, hiddenSizeList: [5], outputSize: 3, weightInitStd: 0.5 });
    setSeed(11);
    const W1 = randn([6, 5], 0.5), W2 = randn([5, 3], 0.5);
    expect(net.params.W1.data).toEqual(W1.data);
    expect(net.params.W2.data).toEqual(W2.data);
  });

  test('rand is uniform in [0, 1)', () => {
    setSeed(5);
    const u = rand(200, 500).data;
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    const { mean, std } = stats(u);
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(std - Math.sqrt(1 / 12))).toBeLessThan(0.005);
  });

  test('permutation(n) holds every index once, and repeats under setSeed', () => {
    setSeed(1);
    const p = permutation(1000);
    expect(Array.from(p).sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(Array.from(p.subarray(0, 20))).not.toEqual(Array.from({ length: 20 }, (_, i) => i));
    setSeed(1);
    expect(permutation(1000)).toEqual(p);
  });

  test('choice draws with replacement by default (numpy\'s default), uniformly', () => {
    setSeed(2);
    const n = 10, k = 100000;
    const c = choice(n, k);
    const counts = new Array(n).fill(0);
    for (const v of c) counts[v]++;
    expect(Math.min(...c)).toBe(0);
    expect(Math.max(...c)).toBe(n - 1);
    // Chi-square with 9 degrees of freedom: 27.9 is its 0.999 quantile.
    const chi2 = counts.reduce((s, o) => s + (o - k / n) ** 2 / (k / n), 0);
    expect(chi2).toBeLessThan(27.9);
    // 100 draws out of 60,000 with replacement: the course's batch_mask.
    setSeed(2);
    const batch = choice(60000, 100);
    setSeed(2);
    expect(choice(60000, 100)).toEqual(batch);
    // With replacement, 30 draws from 10 must repeat something.
    expect(new Set(choice(10, 30)).size).toBeLessThan(30);
  });

  test('choice without replacement gives distinct indices, k = n a permutation', () => {
    setSeed(9);
    const c = choice(1000, 500, { replace: false });
    expect(new Set(c).size).toBe(500);
    for (const v of c) expect(v >= 0 && v < 1000).toBe(true);
    const all = choice(50, 50, { replace: false });
    expect(Array.from(all).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    // Each index equally likely to be picked: over many draws of 2 of 4, each appears about half the time.
    const counts = [0, 0, 0, 0];
    for (let r = 0; r < 20000; r++) for (const v of choice(4, 2, { replace: false })) counts[v]++;
    for (const ct of counts) expect(Math.abs(ct / 20000 - 0.5)).toBeLessThan(0.02);
  });

  test('bad arguments name the function and what was expected', () => {
    expect(() => (randn as () => Tensor)()).toThrow(/randn: give a shape/);
    expect(() => randn(0)).toThrow(/randn: shape\[0\] must be an integer >= 1/);
    expect(() => randn([2, 1.5])).toThrow(RangeError);
    expect(() => randn([2], NaN)).toThrow(/randn: std must be a finite number/);
    expect(() => choice(5, 6, { replace: false })).toThrow(/cannot take k = 6 distinct indices from n = 5/);
    expect(() => choice(5, 2, { replce: false } as never)).toThrow(/unknown option 'replce' \(did you mean 'replace'\?\)/);
    expect(() => choice(0, 1)).toThrow(/choice: n must be an integer >= 1/);
    expect(() => permutation(-1)).toThrow(RangeError);
  });
});

describe('x.rows, x.take and take: the course\'s x[:300] and x[batch_mask]', () => {
  const x = tensor([[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]);

  test('rows is a view that follows Python slices', () => {
    const v = x.rows(1, 3);
    expect(v.shape).toEqual([2, 2]);
    expect(v.toArray()).toEqual([[2, 3], [4, 5]]);
    v.data[0] = 42;
    expect(x.data[2]).toBe(42);
    x.data[2] = 2;
    expect(x.rows(0, 300).shape).toEqual([5, 2]);   // past the end is clamped, as x[:300]
    expect(x.rows(-2).toArray()).toEqual([[6, 7], [8, 9]]);   // x[-2:]
    expect(x.rows(0, -4).toArray()).toEqual([[0, 1]]);        // x[:-4]
    const img = Tensor.zeros([4, 1, 2, 2]);
    expect(img.rows(1, 3).shape).toEqual([2, 1, 2, 2]);
    expect(() => x.rows(3, 3)).toThrow(/selects no rows of a tensor with 5/);
    expect(() => x.rows(0.5)).toThrow(TypeError);
  });

  test('take copies the rows in the given order; negative indices count from the end', () => {
    const t = x.take([4, 0, 0, -1]);
    expect(t.toArray()).toEqual([[8, 9], [0, 1], [0, 1], [8, 9]]);
    t.data[0] = -1;
    expect(x.data[8]).toBe(8);
    expect(x.take(new Int32Array([1])).toArray()).toEqual([[2, 3]]);
    expect(() => x.take([5])).toThrow(/indices\[0\] = 5 is out of range for 5 rows/);
    expect(() => x.take([])).toThrow(/must not be empty/);
    expect(() => x.take([1.5])).toThrow(TypeError);
  });

  test('take on labels keeps their typed array type', () => {
    const labels = new Uint8Array([7, 2, 1, 0, 4]);
    const b = take(labels, [1, 3]);
    expect(b).toBeInstanceOf(Uint8Array);
    expect(Array.from(b)).toEqual([2, 0]);
    expect(take(x, [2]).toArray()).toEqual([[4, 5]]);
    expect(() => take([1, 2] as unknown as Uint8Array, [0])).toThrow(/take: a must be a Tensor or a typed array/);
  });
});

describe('layerOutputs: every layer\'s output of one forward pass', () => {
  test('a SimpleConvNet gives each course layer, unfused, equal to naive loops and to predict', () => {
    setSeed(4);
    const net = new SimpleConvNet({ inputDim: [1, 8, 8], convParam: { filterNum: 3, filterSize: 3 }, hiddenSize: 5, outputSize: 4, weightInitStd: 'he' });
    expect(net.fusedRanges.length).toBe(2);  // Conv+Relu+Pooling, Affine+Relu
    const x = randn(2, 1, 8, 8);
    const outs = net.layerOutputs(x);
    expect(outs.map((o) => o.key)).toEqual(['Convolution1', 'Relu1', 'Pooling1', 'Affine1', 'Relu2', 'Affine2']);
    expect(outs.map((o) => o.index)).toEqual([0, 1, 2, 3, 4, 5]);
    const g = { N: 2, C: 1, H: 8, W: 8, FH: 3, FW: 3, stride: 1, pad: 0 };
    const conv = convForward(x.data, net.params.W1.data, net.params.b1.data, 3, g);
    expect(outs[0].output.shape).toEqual([2, 3, 6, 6]);
    for (let i = 0; i < conv.length; i++) expect(outs[0].output.data[i]).toBeCloseTo(conv[i], 5);
    const relu = conv.map((v) => Math.max(0, v));
    for (let i = 0; i < relu.length; i++) expect(outs[1].output.data[i]).toBeCloseTo(relu[i], 5);
    const pooled = maxPoolForward(relu, { N: 2, C: 3, H: 6, W: 6, FH: 2, FW: 2, stride: 2, pad: 0 }).out;
    expect(outs[2].output.shape).toEqual([2, 3, 3, 3]);
    for (let i = 0; i < pooled.length; i++) expect(outs[2].output.data[i]).toBeCloseTo(pooled[i], 5);
    // The last output is what predict gives (fused there), bit for bit.
    expect(outs[5].output.data).toEqual(net.predict(x).data);
  });

  test('outputs are copies: a later pass does not change them', () => {
    setSeed(1);
    const net = new MultiLayerNet({ inputSize: 4, hiddenSizeList: [3, 3], outputSize: 2, activation: 'sigmoid' });
    const x1 = randn(5, 4), x2 = randn(5, 4);
    const first = net.layerOutputs(x1);
    const kept = first.map((o) => o.output.data.slice());
    net.layerOutputs(x2);
    net.predict(x2);
    first.forEach((o, i) => expect(o.output.data).toEqual(kept[i]));
    expect(first.map((o) => o.key)).toEqual(['Affine1', 'Sigmoid1', 'Affine2', 'Sigmoid2', 'Affine3']);
    for (const v of first[1].output.data) expect(v > 0 && v < 1).toBe(true);
  });

  test('train mode runs Dropout and BatchNorm as a training forward does', () => {
    setSeed(1);
    const net = new MultiLayerNetExtend({ inputSize: 4, hiddenSizeList: [50], outputSize: 2, useDropout: true, dropoutRatio: 0.5, useBatchnorm: true });
    const x = randn(8, 4);
    const test0 = net.layerOutputs(x);
    expect(test0.map((o) => o.key)).toEqual(['Affine1', 'BatchNormalization1', 'Relu1', 'Dropout1', 'Affine2']);
    // Test mode scales by 1 - ratio; training mode zeroes about half of the units.
    const relu = test0[2].output.data, drop = test0[3].output.data;
    for (let i = 0; i < relu.length; i++) expect(drop[i]).toBeCloseTo(relu[i] * 0.5, 6);
    const trained = net.layerOutputs(x, { train: true });
    const bn = trained[1].output.data;
    let mean = 0;
    for (let i = 0; i < 8; i++) mean += bn[i * 50] / 8;
    expect(Math.abs(mean)).toBeLessThan(1e-5);   // batch statistics: each feature has mean 0
    const zeroed = Array.from(trained[3].output.data).filter((v, i) => v === 0 && trained[2].output.data[i] > 0).length;
    expect(zeroed).toBeGreaterThan(50);
    expect(() => net.layerOutputs(x, { trian: true } as never)).toThrow(/unknown option 'trian' \(did you mean 'train'\?\)/);
    expect(() => net.layerOutputs(Tensor.zeros([2, 5]))).toThrow(/layer 0 \(Affine\)/);
  });

  test('works on any Sequential, and without a loss layer', () => {
    const net = new Sequential([new Convolution(randn([2, 1, 3, 3]), Tensor.zeros([2])), new Relu(), new Pooling(2, 2, 2),
      new Affine(randn([8, 3]), Tensor.zeros([3]))]);
    const outs = net.layerOutputs(randn(1, 1, 6, 6));
    expect(outs.map((o) => o.output.shape)).toEqual([[1, 2, 4, 4], [1, 2, 4, 4], [1, 2, 2, 2], [1, 3]]);
  });
});

describe('TwoLayerNet, the course\'s chapters 4-5 network', () => {
  test('W1, b1, W2, b2 as the course draws them: 0.01 * randn and zeros', () => {
    setSeed(0);
    const net = new TwoLayerNet({ inputSize: 784, hiddenSize: 50, outputSize: 10 });
    expect(Object.keys(net.params)).toEqual(['W1', 'b1', 'W2', 'b2']);
    expect(net.params.W1.shape).toEqual([784, 50]);
    expect(net.params.W2.shape).toEqual([50, 10]);
    expect(Array.from(net.params.b1.data).every((v) => v === 0)).toBe(true);
    setSeed(0);
    expect(net.params.W1.data).toEqual(randn([784, 50], 0.01).data);
    expect(net.layers.map((l) => l.name)).toEqual(['Affine', 'Relu', 'Affine']);
    const sig = new TwoLayerNet({ inputSize: 4, hiddenSize: 3, outputSize: 2, activation: 'sigmoid' });
    expect(sig.layers[1].name).toBe('Sigmoid');
  });

  test('loss is the course\'s formula, computed here in double; gradient agrees with numericalGradient', () => {
    setSeed(5);
    const net = new TwoLayerNet({ inputSize: 6, hiddenSize: 5, outputSize: 3, weightInitStd: 0.5 });
    for (const k of ['b1', 'b2']) net.params[k].data.set(randn([net.params[k].size], 0.1).data);
    const x = randn(4, 6), t = new Int32Array([0, 2, 1, 2]);
    const { W1, b1, W2, b2 } = net.params;
    let want = 0;
    for (let n = 0; n < 4; n++) {
      const h = Array.from({ length: 5 }, (_, j) => {
        let s = b1.data[j];
        for (let i = 0; i < 6; i++) s += x.data[n * 6 + i] * W1.data[i * 5 + j];
        return Math.max(0, s);
      });
      const y = Array.from({ length: 3 }, (_, k) => h.reduce((s, v, j) => s + v * W2.data[j * 3 + k], b2.data[k]));
      const m = Math.max(...y);
      const lse = m + Math.log(y.reduce((s, v) => s + Math.exp(v - m), 0));
      want += (lse - y[t[n]]) / 4;
    }
    expect(net.loss(x, t)).toBeCloseTo(want, 5);
    const grad = net.gradient(x, t);
    const copy = Object.fromEntries(Object.entries(grad).map(([k, g]) => [k, g.data.slice()]));
    const num = net.numericalGradient(x, t);
    for (const k of ['W1', 'b1', 'W2', 'b2']) {
      for (let i = 0; i < copy[k].length; i++) expect(Math.abs(copy[k][i] - num[k].data[i])).toBeLessThan(2e-3);
    }
    expect(net.accuracy(x, t)).toBeGreaterThanOrEqual(0);
  });

  test('options are strict, with the course\'s names mapped; saved and rebuilt by loadNetwork', () => {
    expect(() => new TwoLayerNet({ input_size: 784, hiddenSize: 50, outputSize: 10 } as never)).toThrow(/unknown option 'input_size' \(did you mean 'inputSize'\?\)/);
    expect(() => new TwoLayerNet({ inputSize: 784, hidden_size: 50, outputSize: 10 } as never)).toThrow(/did you mean 'hiddenSize'/);
    expect(() => new TwoLayerNet(undefined as never)).toThrow(/options \{ inputSize, hiddenSize, outputSize \} are required/);
    setSeed(1);
    const net = new TwoLayerNet({ inputSize: 5, hiddenSize: 4, outputSize: 3 });
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-tln-')), 'two.safetensors');
    net.saveParams(file);
    const back = loadNetwork(file);
    expect(back).toBeInstanceOf(TwoLayerNet);
    expect(back.params.W1.data).toEqual(net.params.W1.data);
    expect(networkFromConfig({ kind: 'TwoLayerNet', options: { inputSize: 2, hiddenSize: 2, outputSize: 2 } })).toBeInstanceOf(TwoLayerNet);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });
});
