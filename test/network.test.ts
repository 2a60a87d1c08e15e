// SPDX-License-Identifier: MIT
// Networks (Sequential and the course's presets) against test/fixtures/layers.json (numpy and
// torch autograd, see test/fixtures/layers.py), backprop against numerical gradients, weight
// decay, parameter naming and live parameters, initialisation and shape errors.
import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'fs';
import { join } from 'path';
import {
  Affine, AvgPooling, BatchNormalization, Convolution, DeepConvNet, Dropout, MultiLayerNet, MultiLayerNetExtend, networkFromConfig,
  getNumThreads, Pooling, Relu, Sequential, setNumThreads, setSeed, Sigmoid, ShapeError, SimpleConvNet, SoftmaxWithLoss, Tensor, tensor,
} from '../lib';
import { worst } from './helpers/floats';
import { Rng } from './helpers/random';

interface Enc { shape: number[]; data: number[] }
interface NetCase {
  kind: string;
  options: Record<string, unknown>;
  params: Record<string, Enc>;
  x: Enc;
  t: number[];
  loss: number;
  lossNoDecay: number;
  penalty: number;
  grads: Record<string, Enc>;
  predict: Enc;
  runningMean?: Enc[];
  runningVar?: Enc[];
  torch: { loss?: number; grads?: Record<string, Enc>; predict?: Enc };
}
const fx = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'layers.json'), 'utf8'));
const NETS = fx.networks as Record<string, NetCase>;

function tens(e: Enc): Tensor {
  return new Tensor(Float32Array.from(e.data), e.shape);
}

function expectClose(a: Tensor, e: Enc, what: string, rtol = 1e-4, atol = 1e-5): void {
  expect({ what, shape: a.shape }).toEqual({ what, shape: e.shape });
  for (let i = 0; i < e.data.length; i++) {
    if (!(Math.abs(a.data[i] - e.data[i]) <= rtol * Math.abs(e.data[i]) + atol)) {
      throw new Error(`${what}[${i}] is ${a.data[i]}, expected ${e.data[i]}`);
    }
  }
}

/** A fixture network with the fixture's parameters written into its own tensors. */
function build(c: NetCase): Sequential {
  const net = networkFromConfig({ kind: c.kind, options: c.options });
  expect(Object.keys(net.params).sort()).toEqual(Object.keys(c.params).sort());
  for (const [k, e] of Object.entries(c.params)) {
    expect({ k, shape: net.params[k].shape }).toEqual({ k, shape: e.shape });
    net.params[k].data.set(e.data);
  }
  return net;
}

function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/**
 * ||g - n|| <= tol·max(||g||, ||n||) + floor per key. The floor (float32 noise of the central
 * differences) lets a gradient that is zero in exact arithmetic pass: a bias right before
 * BatchNormalization has none.
 */
function expectGradsAgree(g: Record<string, Tensor>, n: Record<string, Tensor>, what: string, tol = 1e-2, floor = 1e-3): void {
  expect(Object.keys(g).sort()).toEqual(Object.keys(n).sort());
  for (const k of Object.keys(n)) {
    const diff = new Float64Array(n[k].data.length);
    for (let i = 0; i < diff.length; i++) diff[i] = g[k].data[i] - n[k].data[i];
    const scale = Math.max(norm(g[k].data), norm(n[k].data));
    if (!(norm(diff) <= tol * scale + floor)) {
      throw new Error(`${what}: gradient ${k} (norm ${norm(g[k].data)}) differs from the numerical one (norm ${norm(n[k].data)}) by ${norm(diff)}`);
    }
  }
}

function randomBatch(seed: number, shape: number[], classes: number): { x: Tensor; t: number[] } {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return { x: new Tensor(rng.floats(n), shape), t: Array.from({ length: shape[0] }, () => rng.int(0, classes - 1)) };
}

/**
 * Small random biases: with the course's zero biases, a unit whose inputs are all zero (a dead
 * region after Relu) sits exactly on the next Relu's kink, where central differences average
 * the two one-sided slopes.
 */
function jitterBiases(net: Sequential, seed: number): void {
  const rng = new Rng(seed);
  for (const [k, p] of Object.entries(net.params)) if (k.startsWith('b')) p.data.set(rng.floats(p.data.length, -0.1, 0.1));
}

function cloneGrads(g: Record<string, Tensor>): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(g).map(([k, v]) => [k, v.clone()]));
}

describe('presets against the numpy/torch fixture', () => {
  const names = ['mlp_relu_l2', 'mlp_tanh_l1', 'mlp_sigmoid_l2_l1', 'extend_bn_l2', 'simpleconv', 'deepconv_grad'];

  test.each(names)('%s: gradient(), its loss, the penalty and the test-mode prediction', (name) => {
    const c = NETS[name];
    const net = build(c);
    const grads = net.gradient(tens(c.x), c.t);
    // Only the one training forward of gradient() has updated any running statistics here.
    expect(net.lastLoss).toBeCloseTo(c.lossNoDecay, 5);
    expect(net.penalty()).toBeCloseTo(c.penalty, 5);
    for (const k of Object.keys(c.grads)) {
      expectClose(grads[k], c.grads[k], `${name} grad ${k} (numpy)`);
      expectClose(grads[k], c.torch.grads![k], `${name} grad ${k} (torch)`);
    }
    (c.runningMean ?? []).forEach((rm, i) => {
      const state = net.stateTensors();
      expectClose(state[`runningMean${i + 1}`], rm, `${name} runningMean${i + 1}`);
      expectClose(state[`runningVar${i + 1}`], c.runningVar![i], `${name} runningVar${i + 1}`);
    });
    expectClose(net.predict(tens(c.x)), c.predict, `${name} predict`);
    const loss = net.loss(tens(c.x), c.t);
    expect(loss).toBeCloseTo(c.loss, 5);
    expect(loss).toBeCloseTo(c.torch.loss!, 5);
  });

  test('L2 and L1 add exactly their terms to loss and gradient', () => {
    for (const name of ['mlp_relu_l2', 'mlp_tanh_l1', 'mlp_sigmoid_l2_l1']) {
      const c = NETS[name];
      const plain = build({ ...c, options: { ...c.options, weightDecayLambda: 0, l1Lambda: 0 } });
      const decayed = build(c);
      const g0 = cloneGrads(plain.gradient(tens(c.x), c.t));
      const g1 = decayed.gradient(tens(c.x), c.t);
      const l2 = (c.options.weightDecayLambda as number) ?? 0, l1 = (c.options.l1Lambda as number) ?? 0;
      let sq = 0, abs = 0;
      for (const k of Object.keys(g0)) {
        const w = decayed.params[k].data;
        for (let i = 0; i < w.length; i++) {
          const extra = k.startsWith('W') ? l2 * w[i] + l1 * Math.sign(w[i]) : 0;
          expect(Math.abs(g1[k].data[i] - g0[k].data[i] - extra)).toBeLessThan(1e-6);
          if (k.startsWith('W')) { sq += w[i] * w[i]; abs += Math.abs(w[i]); }
        }
      }
      expect(decayed.loss(tens(c.x), c.t) - plain.loss(tens(c.x), c.t)).toBeCloseTo(0.5 * l2 * sq + l1 * abs, 5);
      expect(0.5 * l2 * sq + l1 * abs).toBeCloseTo(c.penalty, 5);
    }
  });

  test('DeepConvNet (scaled down): test-mode prediction with copied weights equals numpy and torch', () => {
    const c = NETS.deepconv;
    const net = build(c);
    expect(Object.keys(net.params)).toHaveLength(16);
    const y = net.predict(tens(c.x));
    expectClose(y, c.predict, 'deepconv predict (numpy)');
    expectClose(y, c.torch.predict!, 'deepconv predict (torch)');
  });
});

describe('gradient() against numericalGradient()', () => {
  test('MultiLayerNet, relu and sigmoid', () => {
    for (const activation of ['relu', 'sigmoid'] as const) {
      setSeed(1);
      const net = new MultiLayerNet({ inputSize: 8, hiddenSizeList: [6, 5], outputSize: 4, activation, weightDecayLambda: 0.01 });
      const { x, t } = randomBatch(2, [5, 8], 4);
      const g = cloneGrads(net.gradient(x, t));
      expectGradsAgree(g, net.numericalGradient(x, t), `MultiLayerNet ${activation}`);
    }
  });

  test('MultiLayerNetExtend with BatchNormalization, L1, and dropout ratio 0', () => {
    setSeed(2);
    const net = new MultiLayerNetExtend({ inputSize: 7, hiddenSizeList: [6, 5], outputSize: 3, useBatchnorm: true,
      useDropout: true, dropoutRatio: 0, l1Lambda: 0.01 });
    expect(Object.keys(net.params).sort()).toEqual(['W1', 'W2', 'W3', 'b1', 'b2', 'b3', 'beta1', 'beta2', 'gamma1', 'gamma2']);
    const { x, t } = randomBatch(3, [6, 7], 3);
    const g = cloneGrads(net.gradient(x, t));
    expectGradsAgree(g, net.numericalGradient(x, t), 'MultiLayerNetExtend');
  });

  test('MultiLayerNetExtend with dropout 0.3 in training: same mask for every evaluation', () => {
    setSeed(3);
    const net = new MultiLayerNetExtend({ inputSize: 6, hiddenSizeList: [10], outputSize: 3, useDropout: true, dropoutRatio: 0.3 });
    const { x, t } = randomBatch(4, [4, 6], 3);
    setSeed(50);
    const g = cloneGrads(net.gradient(x, t));
    const h = 1e-3;
    for (const key of ['W1', 'b1', 'W2']) {
      const p = net.params[key].data;
      const num = new Float32Array(p.length);
      for (let i = 0; i < p.length; i++) {
        const old = p[i];
        p[i] = old + h; setSeed(50); const fp = net.loss(x, t);
        p[i] = old - h; setSeed(50); const fm = net.loss(x, t);
        p[i] = old;
        num[i] = (fp - fm) / (2 * h);
      }
      expectGradsAgree({ [key]: g[key] }, { [key]: new Tensor(num, net.params[key].shape) }, 'dropout net');
    }
  });

  test('SimpleConvNet on [1, 10, 10]', () => {
    setSeed(4);
    const net = new SimpleConvNet({ inputDim: [1, 10, 10], convParam: { filterNum: 3, filterSize: 3, pad: 0, stride: 1 },
      hiddenSize: 6, outputSize: 4, weightInitStd: 0.3 });
    jitterBiases(net, 14);
    const { x, t } = randomBatch(5, [3, 1, 10, 10], 4);
    const g = cloneGrads(net.gradient(x, t));
    expectGradsAgree(g, net.numericalGradient(x, t), 'SimpleConvNet');
  });

  // Relu and max pooling give this small deep net many kinks near any point, and float32 noise
  // grows with depth: central differences agree to a few per cent only. The exact comparison of
  // its gradient is 'deepconv_grad' above (numpy and torch); this one catches gross errors.
  test('DeepConvNet, scaled down, dropout ratio 0 (loose)', () => {
    setSeed(5);
    const net = new DeepConvNet({ inputDim: [1, 8, 8], hiddenSize: 6, outputSize: 3, dropoutRatio: 0,
      convParams: [2, 2, 3, 3, 4, 4].map((f, i) => ({ filterNum: f, filterSize: 3, pad: i === 3 ? 2 : 1, stride: 1 })) });
    jitterBiases(net, 15);
    const { x, t } = randomBatch(6, [2, 1, 8, 8], 3);
    for (let i = 0; i < x.data.length; i++) x.data[i] = Math.abs(x.data[i]); // pixel-like, >= 0
    const g = cloneGrads(net.gradient(x, t));
    expectGradsAgree(g, net.numericalGradient(x, t, 3e-3), 'DeepConvNet', 0.15);
  });
});

describe('parameters', () => {
  test('net.params are the layers\' own tensors: writing into W1 changes predictions', () => {
    setSeed(6);
    const net = new MultiLayerNet({ inputSize: 4, hiddenSizeList: [3], outputSize: 2 });
    expect(net.params.W1).toBe((net.layers[0] as Affine).params.W);
    const { x } = randomBatch(7, [2, 4], 2);
    const before = net.predict(x).clone();
    net.params.W1.data[0] += 1;
    net.params.b2.data[1] += 0.5;
    const after = net.predict(x);
    expect(after.data).not.toEqual(before.data);
    // The change is what a hand-computed forward gives.
    const W1 = net.params.W1.data, b1 = net.params.b1.data, W2 = net.params.W2.data, b2 = net.params.b2.data;
    for (let n = 0; n < 2; n++) {
      const hidden = [0, 1, 2].map((j) => Math.max(0, b1[j] + [0, 1, 2, 3].reduce((s, i) => s + x.data[n * 4 + i] * W1[i * 3 + j], 0)));
      for (let o = 0; o < 2; o++) {
        const y = b2[o] + hidden.reduce((s, hv, j) => s + hv * W2[j * 2 + o], 0);
        expect(after.data[n * 2 + o]).toBeCloseTo(y, 5);
      }
    }
  });

  test('course initialisation: He / Xavier / fixed std, zero biases, gamma 1 and beta 0', () => {
    const std = (a: Float32Array): number => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
    setSeed(7);
    const he = new MultiLayerNet({ inputSize: 784, hiddenSizeList: [100], outputSize: 10 });
    expect(std(he.params.W1.data) / Math.sqrt(2 / 784)).toBeCloseTo(1, 1);
    expect(std(he.params.W2.data) / Math.sqrt(2 / 100)).toBeGreaterThan(0.9);
    expect(Array.from(he.params.b1.data).every((v) => v === 0)).toBe(true);
    const xavier = new MultiLayerNet({ inputSize: 784, hiddenSizeList: [100], outputSize: 10, weightInitStd: 'sigmoid' });
    expect(std(xavier.params.W1.data) / Math.sqrt(1 / 784)).toBeCloseTo(1, 1);
    const fixed = new MultiLayerNet({ inputSize: 784, hiddenSizeList: [100], outputSize: 10, weightInitStd: 0.01 });
    expect(std(fixed.params.W1.data) / 0.01).toBeCloseTo(1, 1);
    const conv = new SimpleConvNet();
    expect(std(conv.params.W2.data) / 0.01).toBeCloseTo(1, 1);
    const bn = new MultiLayerNetExtend({ inputSize: 5, hiddenSizeList: [4], outputSize: 2, useBatchnorm: true });
    expect(Array.from(bn.params.gamma1.data)).toEqual([1, 1, 1, 1]);
    expect(Array.from(bn.params.beta1.data)).toEqual([0, 0, 0, 0]);
  });

  test('SimpleConvNet and DeepConvNet have the course\'s parameter shapes', () => {
    const s = new SimpleConvNet();
    expect(Object.fromEntries(Object.entries(s.params).map(([k, v]) => [k, v.shape]))).toEqual({
      W1: [30, 1, 5, 5], b1: [30], W2: [4320, 100], b2: [100], W3: [100, 10], b3: [10],
    });
    const d = new DeepConvNet();
    expect(Object.fromEntries(Object.entries(d.params).filter(([k]) => k.startsWith('W')).map(([k, v]) => [k, v.shape]))).toEqual({
      W1: [16, 1, 3, 3], W2: [16, 16, 3, 3], W3: [32, 16, 3, 3], W4: [32, 32, 3, 3], W5: [64, 32, 3, 3],
      W6: [64, 64, 3, 3], W7: [1024, 50], W8: [50, 10],
    });
    expect(d.layers.filter((l) => l instanceof Dropout)).toHaveLength(2);
    const y = d.predict(Tensor.zeros([2, 1, 28, 28]));
    expect(y.shape).toEqual([2, 10]);
  });

  test('accuracy is the share of rows whose arg max equals the label (indices or one-hot)', () => {
    setSeed(8);
    const net = new MultiLayerNet({ inputSize: 5, hiddenSizeList: [4], outputSize: 3 });
    const { x } = randomBatch(9, [50, 5], 3);
    const y = net.predict(x).clone();
    const pred = Array.from({ length: 50 }, (_, n) => {
      const row = Array.from(y.data.subarray(n * 3, n * 3 + 3));
      return row.indexOf(Math.max(...row));
    });
    const t = pred.map((p, i) => (i % 5 === 0 ? (p + 1) % 3 : p)); // exactly 10 wrong
    expect(net.accuracy(x, t)).toBeCloseTo(0.8, 10);
    expect(net.accuracy(x, t, 7)).toBeCloseTo(0.8, 10);
    const onehot = Tensor.zeros([50, 3]);
    t.forEach((c, i) => { onehot.data[i * 3 + c] = 1; });
    expect(net.accuracy(x, onehot)).toBeCloseTo(0.8, 10);
  });
});

describe('shape checks and bad options', () => {
  test('Sequential built with an inputShape names the layer and both shapes', () => {
    const layers = [new Affine(Tensor.zeros([6, 5]), Tensor.zeros([5])), new Relu(),
      new Affine(Tensor.zeros([4, 3]), Tensor.zeros([3])), new SoftmaxWithLoss()];
    expect(() => new Sequential(layers, { inputShape: [6] })).toThrow(ShapeError);
    expect(() => new Sequential(layers, { inputShape: [6] })).toThrow(/layer 2 \(Affine\).*\[5\].*\[4, 3\]/);
    const convs = [new Convolution(Tensor.zeros([2, 3, 3, 3]), Tensor.zeros([2])), new BatchNormalization(Tensor.zeros([7]), Tensor.zeros([7]))];
    expect(() => new Sequential(convs, { inputShape: [3, 6, 6] })).toThrow(/layer 1 \(BatchNormalization\).*\[2, 4, 4\]/);
    expect(() => new Sequential(convs.slice(0, 1), { inputShape: [1, 6, 6] })).toThrow(/layer 0 \(Convolution\).*\[1, 6, 6\]/);
  });

  test('data of the wrong shape entering predict/loss names the layer and the shapes', () => {
    setSeed(9);
    const net = new MultiLayerNet({ inputSize: 6, hiddenSizeList: [5], outputSize: 3 });
    expect(() => net.predict(Tensor.zeros([2, 7]))).toThrow(ShapeError);
    expect(() => net.predict(Tensor.zeros([2, 7]))).toThrow(/layer 0 \(Affine\).*\[2, 7\].*\[6, 5\]/);
    expect(() => net.loss(Tensor.zeros([2, 6]), [0, 1, 2])).toThrow(/3 labels.*2 rows/);
    const conv = new SimpleConvNet({ inputDim: [1, 10, 10], convParam: { filterNum: 2, filterSize: 3 }, hiddenSize: 4 });
    expect(() => conv.predict(Tensor.zeros([1, 2, 10, 10]))).toThrow(/layer 0 \(Convolution\).*2 channels/);
    expect(() => conv.predict(Tensor.zeros([1, 1, 12, 12]))).toThrow(/layer 3 \(Affine\).*\[1, 2, 5, 5\]/);
  });

  test('bad preset options are TypeErrors/RangeErrors naming the option', () => {
    const ok = { inputSize: 4, hiddenSizeList: [3], outputSize: 2 };
    expect(() => new MultiLayerNet({ ...ok, inputSize: 0 })).toThrow(/inputSize/);
    expect(() => new MultiLayerNet({ ...ok, hiddenSizeList: 3 as never })).toThrow(TypeError);
    expect(() => new MultiLayerNet({ ...ok, hiddenSizeList: [3, -1] })).toThrow(/hiddenSizeList\[1\]/);
    expect(() => new MultiLayerNet({ ...ok, activation: 'gelu' as never })).toThrow(/activation/);
    expect(() => new MultiLayerNet({ ...ok, weightInitStd: 'lecun' as never })).toThrow(/weightInitStd/);
    expect(() => new MultiLayerNet({ ...ok, weightDecayLambda: -1 })).toThrow(RangeError);
    expect(() => new MultiLayerNetExtend({ ...ok, useDropout: true, dropoutRatio: 1 })).toThrow(/dropoutRatio/);
    expect(() => new SimpleConvNet({ inputDim: [1, 28] as never })).toThrow(/inputDim/);
    expect(() => new SimpleConvNet({ inputDim: [1, 4, 4] })).toThrow(RangeError);
    expect(() => networkFromConfig({ kind: 'ResNet' })).toThrow(/unknown network kind/);
    expect(() => new Sequential([])).toThrow(TypeError);
    expect(() => new Sequential([new SoftmaxWithLoss(), new Relu()] as never)).toThrow(/SoftmaxWithLoss may only be the last/);
  });
});

/** Fused against unfused gradients: the same bits, but for `rounded` (within 1e-6, see worst). */
function expectSameGradients(gf: Record<string, Tensor>, gp: Record<string, Tensor>, rounded: string[]): void {
  expect(Object.keys(gf).sort()).toEqual(Object.keys(gp).sort());
  for (const key of Object.keys(gp)) {
    if (rounded.includes(key)) expect(worst(gf[key].data, gp[key].data)).toBeLessThanOrEqual(1e-6);
    else expect(Array.from(gf[key].data)).toEqual(Array.from(gp[key].data));
  }
}

describe('Convolution followed by Relu runs fused', () => {
  test('fused and unfused networks give the same loss, predictions and gradients', () => {
    const build = (fuse: boolean): Sequential => {
      setSeed(7);
      const W1 = Tensor.zeros([4, 2, 3, 3]);
      const W2 = Tensor.zeros([4 * 3 * 3, 3]);
      for (const t of [W1, W2]) for (let i = 0; i < t.data.length; i++) t.data[i] = Math.sin(i * 1.7) * 0.5;
      return new Sequential([
        new Convolution(W1, tensor([0.1, -0.2, 0.05, 0]), 1, 1), new Relu(), new Pooling(2, 2, 2),
        new Affine(W2, Tensor.zeros([3])), new SoftmaxWithLoss(),
      ], { fuse, inputGradient: true });
    };
    const x = Tensor.zeros([5, 2, 6, 6]);
    for (let i = 0; i < x.data.length; i++) x.data[i] = Math.cos(i * 0.37);
    const t = [0, 1, 2, 1, 0];
    const fused = build(true), plain = build(false);
    expect(fused.fusedRanges).toEqual([[0, 3]]);
    expect(plain.fusedRanges).toEqual([]);
    expect(fused.loss(x, t)).toBe(plain.loss(x, t));
    expect(Array.from(fused.predict(x).data)).toEqual(Array.from(plain.predict(x).data));
    const gf = fused.gradient(x, t), gp = plain.gradient(x, t);
    // The filter and bias gradients of a convolution behind a 2x2 max pooling may sum only the
    // windows' winners (the direct kernels do): within float rounding. Everything else: the same bits.
    expectSameGradients(gf, gp, ['W1', 'b1']);
    const dxF = fused.backward(1), dxP = plain.backward(1);
    expect(Array.from(dxF.data)).toEqual(Array.from(dxP.data));
  });

  test('a Pooling after a Convolution (with or without Relu) fuses too, with the same results', () => {
    // Conv, Relu, Pooling 3x3 stride 2 pad 1 (overlapping windows); Conv, Pooling 2x2 (no Relu);
    // Conv, Relu, AvgPooling (not fused).
    const build = (fuse: boolean): Sequential => {
      const W1 = Tensor.zeros([3, 2, 3, 3]), W2 = Tensor.zeros([4, 3, 2, 2]), W3 = Tensor.zeros([2, 4, 1, 1]);
      const W4 = Tensor.zeros([2 * 1 * 1, 3]);
      for (const t of [W1, W2, W3, W4]) for (let i = 0; i < t.data.length; i++) t.data[i] = Math.sin(i * 1.3 + t.data.length) * 0.5;
      return new Sequential([
        new Convolution(W1, tensor([0.1, -0.3, 0]), 1, 1), new Relu(), new Pooling(3, 3, 2, 1),
        new Convolution(W2, tensor([0, 0.2, -0.1, 0.05]), 1, 0), new Pooling(2, 2, 2),
        new Convolution(W3, tensor([0.1, 0]), 1, 0), new Relu(), new AvgPooling(2, 2, 2),
        new Affine(W4, Tensor.zeros([3])), new SoftmaxWithLoss(),
      ], { fuse, inputGradient: true });
    };
    const x = Tensor.zeros([4, 2, 9, 9]);
    for (let i = 0; i < x.data.length; i++) x.data[i] = Math.cos(i * 0.41);
    const t = [0, 1, 2, 1];
    const fused = build(true), plain = build(false);
    // Conv+Relu+Pooling, Conv+Pooling, Conv+Relu (the AvgPooling stays on its own).
    expect(fused.fusedRanges).toEqual([[0, 3], [3, 5], [5, 7]]);
    expect(fused.loss(x, t)).toBe(plain.loss(x, t));
    expect(Array.from(fused.predict(x).data)).toEqual(Array.from(plain.predict(x).data));
    const gf = fused.gradient(x, t), gp = plain.gradient(x, t);
    // The second convolution's pooling is 2x2 (see the test above); the first's 3x3 windows overlap.
    expectSameGradients(gf, gp, ['W2', 'b2']);
    expect(Array.from(fused.backward(1).data)).toEqual(Array.from(plain.backward(1).data));
  });

  test('the layers of a fused network still work on their own', () => {
    const W = Tensor.zeros([2, 1, 3, 3]);
    for (let i = 0; i < W.data.length; i++) W.data[i] = Math.sin(i * 0.9);
    const conv = new Convolution(W, tensor([0.1, -0.1]), 1, 1), relu = new Relu(), pool = new Pooling(2, 2, 2);
    const net = new Sequential([conv, relu, pool, new Affine(Tensor.zeros([2 * 2 * 2, 2]), Tensor.zeros([2])),
      new SoftmaxWithLoss()]);
    expect(net.fusedRanges).toEqual([[0, 3]]);
    const x = Tensor.zeros([3, 1, 4, 4]);
    for (let i = 0; i < x.data.length; i++) x.data[i] = Math.cos(i * 0.53);
    net.gradient(x, [0, 1, 0]);
    // Direct calls give each layer's own output, as if no network had been built.
    const y = conv.forward(x);
    expect(y.shape).toEqual([3, 2, 4, 4]);
    expect(y.data.some((v) => v < 0)).toBe(true);
    const r = relu.forward(y);
    expect(r.data.every((v) => v >= 0)).toBe(true);
    expect(pool.forward(r).shape).toEqual([3, 2, 2, 2]);
    const d = pool.backward(onesLike([3, 2, 2, 2]));
    expect(d.shape).toEqual([3, 2, 4, 4]);
    expect(d.data.reduce((a, v) => a + v, 0)).toBe(3 * 2 * 2 * 2);  // one 1 per window
  });
});

describe.each([['Relu', () => new Relu()], ['Sigmoid', () => new Sigmoid()]] as const)('Affine followed by %s runs fused', (actName, act) => {
  // 100 rows through 100x100 weights: the fused kernels cut the batch into slices, one per
  // core; the small layers run whole. Row 1 of the input is zeros (-0 among them) and the
  // first bias of each layer 0, so some pre-activations are exactly 0, the Relu mask's edge.
  // Other widths leave the vector loops tails of several lengths: with 99 units the fused
  // step's two 50-row slices end in a scalar tail where the unfused layer's whole-batch loop
  // is still in its vector body.
  // (NaN and infinities: test/native/gemm_test.cc, where they do not swamp the whole batch.)
  const build = (fuse: boolean, I: number, H: number): Sequential => {
    const rng = new Rng(21);
    const W = (r: number, c: number): Tensor => new Tensor(rng.floats(r * c, -0.3, 0.3), [r, c]);
    const b = (n: number): Tensor => { const t = new Tensor(rng.floats(n, -0.1, 0.1), [n]); t.data[0] = 0; return t; };
    return new Sequential([
      new Affine(W(I, H), b(H)), act(), new Affine(W(H, H), b(H)), act(), new Affine(W(H, 3), b(3)), act(),
      new Affine(W(3, 4), b(4)), new SoftmaxWithLoss(),
    ], { fuse, inputGradient: true });
  };
  const input = (N: number, I: number): Tensor => {
    const x = new Tensor(new Rng(5).floats(N * I, -2, 2), [N, I]);
    x.data.fill(0, I, 2 * I);
    x.data[I + 1] = -0;
    return x;
  };
  const bits = (t: Tensor): string[] => Array.from(t.data, (v) => Object.is(v, -0) ? '-0' : String(v));

  test.each([[100, 100, 100], [7, 5, 6], [33, 9, 13], [100, 300, 99]])('N %i, I %i, H %i: loss, predictions, gradients and dx equal the unfused layers bit for bit, at 1 and 2 threads', (N, I, H) => {
    const x = input(N, I);
    const t = Array.from({ length: N }, (_, i) => (i * 7) % 4);
    const before = getNumThreads();
    const runs: Array<{ loss: number; pred: string[]; grads: string[][]; dx: string[] }> = [];
    try {
      for (const threads of [1, 2]) {
        setNumThreads(threads);
        for (const fuse of [true, false]) {
          const net = build(fuse, I, H);
          expect(net.fusedRanges).toEqual(fuse ? [[0, 2], [2, 4], [4, 6]] : []);
          const loss = net.loss(x, t);
          const grads = net.gradient(x, t);
          const dx = net.backward(1);
          runs.push({ loss, pred: bits(net.predict(x)), grads: Object.keys(grads).map((key) => bits(grads[key])), dx: bits(dx) });
        }
      }
    } finally {
      setNumThreads(before);
    }
    // Not a trivial comparison: the gradients are live (and for the Relu, its mask drops some).
    expect(runs[0].grads.flat().filter((v) => v !== '0' && v !== '-0').length).toBeGreaterThan(10);
    expect(runs[0].dx.every((v) => v !== 'NaN')).toBe(true);
    for (const run of runs.slice(1)) expect(run).toEqual(runs[0]);
  });

  test(`the Affine and the ${actName} still work on their own, and a wrong width names the Affine`, () => {
    const net = build(true, 6, 5);
    expect(net.summary()).toContain(`${actName} (fused with layer 0)`);
    const x = input(4, 6);
    net.gradient(x, [0, 1, 2, 3]);
    const affine = net.layers[0] as Affine, activation = net.layers[1];
    const y = affine.forward(x);
    expect(y.data.some((v) => v < 0)).toBe(true);  // the Affine's own output, before the activation
    const z = activation.forward(y);
    expect(z.data.every((v) => v >= 0)).toBe(true);
    expect(z.data.some((v, i) => v !== y.data[i])).toBe(true);
    expect(() => net.predict(Tensor.zeros([3, 7]))).toThrow(/layer 0 \(Affine\): Affine\.forward: input shape \[3, 7\] does not fit W \[6, 5\]/);
  });
});

describe('BatchNormalization followed by Relu and/or Dropout runs fused in test mode', () => {
  const filled = (shape: number[], f: (i: number) => number): Tensor => {
    const t = Tensor.zeros(shape);
    for (let i = 0; i < t.data.length; i++) t.data[i] = f(i);
    return t;
  };
  // Affine, BN, Relu, Dropout; Affine, BN, Dropout (inverted); Affine, BN, Relu; Affine.
  const build = (fuse: boolean): Sequential => {
    setSeed(11);
    const D = 7;
    const bn = (k: number): BatchNormalization => new BatchNormalization(
      filled([D], (i) => 0.5 + Math.abs(Math.sin(i + k))), filled([D], (i) => Math.cos(i * 1.1 + k) * 0.3), 0.8);
    return new Sequential([
      new Affine(filled([5, D], (i) => Math.sin(i * 0.7)), filled([D], (i) => 0.1 * i - 0.3)), bn(1), new Relu(), new Dropout(0.3),
      new Affine(filled([D, D], (i) => Math.cos(i * 0.9)), Tensor.zeros([D])), bn(2), new Dropout(0.2, { inverted: true }),
      new Affine(filled([D, D], (i) => Math.sin(i * 1.3)), Tensor.zeros([D])), bn(3), new Relu(),
      new Affine(filled([D, 3], (i) => Math.cos(i * 0.4)), Tensor.zeros([3])), new SoftmaxWithLoss(),
    ], { fuse, inputGradient: true });
  };
  const x = filled([6, 5], (i) => Math.cos(i * 0.37) * 2);
  const t = [0, 1, 2, 1, 0, 2];

  test('the plan fuses the three groups, and only with fuse on', () => {
    expect(build(true).fusedRanges).toEqual([[1, 4], [5, 7], [8, 10]]);
    expect(build(false).fusedRanges).toEqual([]);
  });

  test('training, then test-mode predictions equal the unfused layers bit for bit (NaN and ±0 too)', () => {
    const fused = build(true), plain = build(false);
    // Each network's Dropout masks come from the library's stream: the same seed before each.
    const grad = (net: Sequential, seed: number): Record<string, Tensor> => { setSeed(seed); return net.gradient(x, t); };
    for (let step = 0; step < 3; step++) {
      const gf = grad(fused, 100 + step), gp = grad(plain, 100 + step);
      for (const key of Object.keys(gp)) expect(Array.from(gf[key].data)).toEqual(Array.from(gp[key].data));
      for (const key of Object.keys(gp)) {
        for (const net of [fused, plain]) {
          const p = net.params[key].data, g = (net === fused ? gf : gp)[key].data;
          for (let i = 0; i < p.length; i++) p[i] -= 0.1 * g[i];
        }
      }
    }
    // Running statistics are those of the three training steps; the test pass uses them.
    expect(Array.from(fused.predict(x).data)).toEqual(Array.from(plain.predict(x).data));
    const odd = x.clone();
    odd.data[0] = NaN; odd.data[1] = -0; odd.data[7] = Infinity; odd.data[8] = -1e30;
    const yf = Array.from(fused.predict(odd).data), yp = Array.from(plain.predict(odd).data);
    expect(yf.map((v) => Object.is(v, -0) ? '-0' : String(v))).toEqual(yp.map((v) => Object.is(v, -0) ? '-0' : String(v)));
    expect(fused.accuracy(x, t)).toBe(plain.accuracy(x, t));
  });

  test('the test-mode pass equals the course formula out = scale·max(0, gamma·(x - mean)/sqrt(var + eps) + beta)', () => {
    const net = build(true);
    net.gradient(x, t);
    const bn = net.layers[1] as BatchNormalization;
    const h = net.layers[0].forward(x, false);
    const y = net.layers.slice(1, 4).reduce((v, l) => l.forward(v, false), h);  // the layers on their own
    const D = 7;
    for (let i = 0; i < h.data.length; i++) {
      const j = i % D;
      const z = bn.params.gamma.data[j] * (h.data[i] - bn.runningMean.data[j]) / Math.sqrt(bn.runningVar.data[j] + 1e-6)
        + bn.params.beta.data[j];
      expect(y.data[i]).toBeCloseTo(0.7 * Math.max(0, z), 5);
    }
    // and the network's fused pass gives those very numbers.
    const viaNet = net.layerOutputs(x).find((o) => o.index === 3)!.output;
    expect(Array.from(viaNet.data)).toEqual(Array.from(y.data));
  });

  test('a backward after a test-mode loss gives the unfused gradients', () => {
    const fused = build(true), plain = build(false);
    setSeed(5);
    fused.gradient(x, t);
    setSeed(5);
    plain.gradient(x, t);
    expect(fused.loss(x, t, false)).toBe(plain.loss(x, t, false));
    const dxF = fused.backward(1), dxP = plain.backward(1);
    expect(dxF.data.some((v) => v !== 0)).toBe(true);
    expect(Array.from(dxF.data)).toEqual(Array.from(dxP.data));
    // The test-mode backward's parameter gradients (BatchNormalization: dgamma = Σ xn·dout).
    const grads = (net: Sequential): number[][] => net.layers.flatMap((l) => Object.values(l.grads).map((g) => Array.from(g.data)));
    expect(grads(fused)).toEqual(grads(plain));
  });

  test('a wrong input width names the BatchNormalization and both shapes', () => {
    const net = new Sequential([new BatchNormalization(filled([4], () => 1), Tensor.zeros([4])), new Relu(),
      new Affine(Tensor.zeros([4, 2]), Tensor.zeros([2])), new SoftmaxWithLoss()]);
    expect(net.fusedRanges).toEqual([[0, 2]]);
    expect(() => net.predict(Tensor.zeros([3, 5]))).toThrow(/layer 0 \(BatchNormalization\): BatchNormalization\.forward: input shape \[3, 5\] does not have 4 features per sample/);
  });
});

describe('the step plan leaves the layers as they are', () => {
  const filled = (shape: number[], f: (i: number) => number): Tensor => {
    const t = Tensor.zeros(shape);
    for (let i = 0; i < t.data.length; i++) t.data[i] = f(i);
    return t;
  };

  test('the first layer of a network still returns its dx when called directly (only the network skips it)', () => {
    const cases: Array<[Sequential, number[]]> = [
      [new Sequential([new Affine(filled([6, 3], (i) => Math.sin(i)), Tensor.zeros([3])), new SoftmaxWithLoss()]), [2, 6]],
      [new Sequential([new Convolution(filled([2, 1, 3, 3], (i) => Math.cos(i)), Tensor.zeros([2]), 1, 1), new Relu(),
        new Affine(filled([2 * 4 * 4, 3], (i) => Math.sin(i * 0.3)), Tensor.zeros([3])), new SoftmaxWithLoss()]), [2, 1, 4, 4]],
      [new SimpleConvNet({ inputDim: [1, 6, 6], convParam: { filterNum: 2, filterSize: 3 }, hiddenSize: 4, outputSize: 3 }), [2, 1, 6, 6]],
      [new MultiLayerNet({ inputSize: 6, hiddenSizeList: [4], outputSize: 3 }), [2, 6]],
    ];
    for (const [net, input] of cases) {
      const x = filled(input, (i) => Math.sin(i * 0.7));
      net.gradient(x, [0, 1]);
      // The network's own backward returns zeros for its input ...
      expect(net.backward(1).data.every((v) => v === 0)).toBe(true);
      // ... while the first layer, called on its own, computes its dx as the course's does.
      const first = net.layers[0];
      const y = first.forward(x);
      const dx = first.backward(filled(y.shape, (i) => ((i % 5) - 2) * 0.25));
      expect(dx.shape).toEqual(x.shape);
      expect(dx.data.some((v) => v !== 0)).toBe(true);
    }
  });

  test('a layer replaced in net.layers is what the network runs, inside a fused range too', () => {
    const W = filled([2, 1, 3, 3], (i) => Math.sin(i * 0.9));
    const build = (): Sequential => new Sequential([new Convolution(W.clone(), tensor([0.1, -0.1]), 1, 1), new Relu(), new Pooling(2, 2, 2),
      new Affine(filled([2 * 2 * 2, 2], (i) => Math.cos(i)), Tensor.zeros([2])), new SoftmaxWithLoss()]);
    const x = filled([3, 1, 4, 4], (i) => Math.cos(i * 0.53));
    const net = build();
    expect(net.fusedRanges).toEqual([[0, 3]]);
    // The Pooling replaced by an AvgPooling: no longer fused, and the output is the average pool's.
    net.layers[2] = new AvgPooling(2, 2, 2);
    expect(net.fusedRanges).toEqual([[0, 2]]);
    const want = build();
    want.layers[2] = new AvgPooling(2, 2, 2);
    const plain = new Sequential([...want.layers, new SoftmaxWithLoss()], { fuse: false });
    expect(Array.from(net.predict(x).data)).toEqual(Array.from(plain.predict(x).data));
  });
});

function onesLike(shape: number[]): Tensor {
  const t = Tensor.zeros(shape);
  t.data.fill(1);
  return t;
}
