// SPDX-License-Identifier: MIT
// Every layer's forward and backward against test/fixtures/layers.json (the course's formulas in
// float64 numpy, cross-checked with PyTorch by the script that writes it), and every backward
// against centred differences of the layer's own forward, computed here in float64 with a random
// projection as the scalar loss. Regenerate the fixture with
//   /usr/bin/python3 test/fixtures/layers.py > test/fixtures/layers.json
import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'fs';
import { join } from 'path';
import {
  Affine, AvgPooling, BatchNormalization, col2im, Convolution, Dropout, im2col, Pooling, Relu, setSeed,
  ShapeError, Sigmoid, SoftmaxWithLoss, Tanh, Tensor,
} from '../lib';
import type { Layer } from '../lib';
import { Rng } from './helpers/random';

interface Enc { shape: number[]; data: number[] }
type Case = Record<string, Enc> & { torch: Record<string, Enc> };
const fx = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'layers.json'), 'utf8'));
const L = fx.layers as Record<string, Case & Record<string, unknown>>;

function tens(e: Enc): Tensor {
  return new Tensor(Float32Array.from(e.data), e.shape);
}

/** |a - e| <= rtol·|e| + atol element-wise (and the same shape when `a` is a Tensor). */
function expectClose(a: Tensor | Float32Array, e: Enc, what: string, rtol = 1e-5, atol = 1e-6): void {
  const data = a instanceof Tensor ? a.data : a;
  if (a instanceof Tensor) expect({ what, shape: a.shape }).toEqual({ what, shape: e.shape });
  expect({ what, length: data.length }).toEqual({ what, length: e.data.length });
  for (let i = 0; i < e.data.length; i++) {
    if (!(Math.abs(data[i] - e.data[i]) <= rtol * Math.abs(e.data[i]) + atol)) {
      throw new Error(`${what}[${i}] is ${data[i]}, expected ${e.data[i]}`);
    }
  }
}

/** Checks against the numpy values and the torch values of the same case. */
function expectBoth(a: Tensor | Float32Array, c: Case, key: string, what: string): void {
  expectClose(a, c[key], `${what} ${key} (numpy)`);
  if (c.torch && c.torch[key]) expectClose(a, c.torch[key], `${what} ${key} (torch)`);
}

/**
 * Centred differences of f = Σ proj·forward() (float64 sum) with respect to every element of
 * `target`, in place. The step actually taken is what float32 can represent of old ± h.
 */
function numericGrad(forward: () => Tensor, proj: Float32Array, target: Float32Array, h: number): Float64Array {
  const f = (): number => {
    const out = forward().data;
    let s = 0;
    for (let i = 0; i < out.length; i++) s += proj[i] * out[i];
    return s;
  };
  const g = new Float64Array(target.length);
  for (let i = 0; i < target.length; i++) {
    const old = target[i];
    target[i] = old + h;
    const up = target[i];
    const fp = f();
    target[i] = old - h;
    const down = target[i];
    const fm = f();
    target[i] = old;
    g[i] = (fp - fm) / (up - down);
  }
  return g;
}

/** max |analytic - numeric| relative to max |numeric|: small for a right backward. */
function expectGradClose(analytic: Float32Array, numeric: Float64Array, what: string, tol = 2e-3): void {
  expect(analytic.length).toBe(numeric.length);
  let maxDiff = 0, maxAbs = 0, at = 0;
  for (let i = 0; i < numeric.length; i++) {
    const d = Math.abs(analytic[i] - numeric[i]);
    if (d > maxDiff) { maxDiff = d; at = i; }
    maxAbs = Math.max(maxAbs, Math.abs(numeric[i]));
  }
  expect(maxAbs).toBeGreaterThan(0);
  if (maxDiff > tol * maxAbs) {
    throw new Error(`${what}: backward ${analytic[at]} vs numeric ${numeric[at]} at ${at} (max |numeric| ${maxAbs})`);
  }
}

/**
 * Runs backward(proj) after one forward, then compares dx and every parameter gradient to
 * centred differences of the same forward.
 */
function checkLayerGradients(layer: Layer, x: Tensor, proj: Tensor, h: number, train = true,
  before: () => void = () => undefined, tol = 2e-3): void {
  before();
  layer.forward(x, train);
  const dx = layer.backward(proj).data.slice();
  const grads: Record<string, Float32Array> = {};
  for (const k of Object.keys(layer.grads)) grads[k] = layer.grads[k].data.slice();
  const fwd = (): Tensor => { before(); return layer.forward(x, train); };
  expectGradClose(dx, numericGrad(fwd, proj.data, x.data, h), `${layer.name} dx`, tol);
  for (const k of Object.keys(layer.params)) {
    expectGradClose(grads[k], numericGrad(fwd, proj.data, layer.params[k].data, h), `${layer.name} d${k}`, tol);
  }
}

describe('Affine', () => {
  test.each(['affine4d', 'affine2d'])('%s: forward and backward equal the fixture', (name) => {
    const c = L[name];
    const x = tens(c.x);
    const layer = new Affine(tens(c.W), tens(c.b));
    expectBoth(layer.forward(x), c, 'out', name);
    const dx = layer.backward(tens(c.dout));
    expectBoth(dx, c, 'dx', name); // dx keeps the 4-D input's shape
    expectBoth(layer.grads.W, c, 'dW', name);
    expectBoth(layer.grads.b, c, 'db', name);
    expect(layer.params.W.data).toBe(layer.W.data);
  });

  test.each(['affine4d', 'affine2d'])('%s: backward equals centred differences', (name) => {
    const c = L[name];
    checkLayerGradients(new Affine(tens(c.W), tens(c.b)), tens(c.x), tens(c.dout), 0.05);
  });

  test('shape mismatches are ShapeErrors naming both shapes', () => {
    const layer = new Affine(Tensor.zeros([12, 4]), Tensor.zeros([4]));
    expect(() => layer.forward(Tensor.zeros([3, 11]))).toThrow(ShapeError);
    expect(() => layer.forward(Tensor.zeros([3, 11]))).toThrow(/\[3, 11\].*\[12, 4\]/);
    expect(() => new Affine(Tensor.zeros([12, 4]), Tensor.zeros([5]))).toThrow(ShapeError);
    expect(() => new Affine({} as Tensor, Tensor.zeros([4]))).toThrow(TypeError);
    layer.forward(Tensor.zeros([3, 12]));
    expect(() => layer.backward(Tensor.zeros([3, 5]))).toThrow(/dout shape \[3, 5\]/);
  });
});

describe('Relu, Sigmoid, Tanh', () => {
  const make: Record<string, () => Layer> = { relu: () => new Relu(), sigmoid: () => new Sigmoid(), tanh: () => new Tanh() };

  test.each(Object.keys(make))('%s: forward and backward equal the fixture', (name) => {
    const c = L[name];
    const layer = make[name]();
    const x = tens(c.x);
    const xBefore = x.data.slice();
    expectBoth(layer.forward(x), c, 'out', name);
    const dout = tens(c.dout);
    const doutBefore = dout.data.slice();
    expectBoth(layer.backward(dout), c, 'dx', name);
    // Neither the input nor dout is overwritten.
    expect(x.data).toEqual(xBefore);
    expect(dout.data).toEqual(doutBefore);
  });

  test.each(Object.keys(make))('%s: backward equals centred differences', (name) => {
    const c = L[name];
    // Relu's inputs are at least 0.05 away from the kink, so a step of 0.01 never crosses it.
    checkLayerGradients(make[name](), tens(c.x), tens(c.dout), 0.01);
  });

  test('backward before forward and a wrong dout are clear errors', () => {
    expect(() => new Relu().backward(Tensor.zeros([2]))).toThrow(/call forward first/);
    const s = new Sigmoid();
    s.forward(Tensor.zeros([2, 3]));
    expect(() => s.backward(Tensor.zeros([2, 2]))).toThrow(ShapeError);
  });
});

describe('SoftmaxWithLoss', () => {
  const sm = L.softmax as unknown as Record<string, { x: Enc; t: number[] | Enc; loss: number; dx: Enc;
    dx_dout2_5: Enc; torch: { loss: number; dx: Enc } }>;

  test.each(['index', 'onehot', 'tiny'])('%s labels: loss and dx equal the fixture', (name) => {
    const c = sm[name];
    const labels = Array.isArray(c.t) ? c.t : tens(c.t);
    const layer = new SoftmaxWithLoss();
    const loss = layer.forward(tens(c.x), labels);
    expect(loss).toBeCloseTo(c.loss, 5);
    expect(loss).toBeCloseTo(c.torch.loss, 5);
    expectClose(layer.backward(), c.dx, `${name} dx`);
    expectClose(layer.backward(1), c.torch.dx, `${name} dx (torch)`);
    expectClose(layer.backward(2.5), c.dx_dout2_5, `${name} dx with dout 2.5`);
  });

  test('index labels as Int32Array give the same as number[]', () => {
    const c = sm.index;
    const a = new SoftmaxWithLoss().forward(tens(c.x), c.t as number[]);
    const b = new SoftmaxWithLoss().forward(tens(c.x), Int32Array.from(c.t as number[]));
    expect(a).toBe(b);
  });

  test('the 1e-7 inside the log bounds the loss of a hopeless prediction', () => {
    // p(class 0) = e^-30 ≈ 1e-13: without the 1e-7 the loss would be about 30.
    expect(sm.tiny.loss).toBeLessThan(16.2);
    expect(new SoftmaxWithLoss().forward(tens(sm.tiny.x), sm.tiny.t as number[])).toBeCloseTo(sm.tiny.loss, 4);
  });

  test('dx equals centred differences of the loss', () => {
    const c = sm.index;
    const layer = new SoftmaxWithLoss();
    const x = tens(c.x);
    layer.forward(x, c.t as number[]);
    const dx = layer.backward().data.slice();
    const lossOnly = (): Tensor => tensorOf([layer.forward(x, c.t as number[])]);
    expectGradClose(dx, numericGrad(lossOnly, Float32Array.of(1), x.data, 1e-2), 'SoftmaxWithLoss dx');
  });

  test('bad labels are clear errors', () => {
    const layer = new SoftmaxWithLoss();
    const x = Tensor.zeros([2, 3]);
    expect(() => layer.forward(x, [0])).toThrow(ShapeError);
    expect(() => layer.forward(x, [0, 3])).toThrow(/t\[1\].*\[0, 2\].*3/);
    expect(() => layer.forward(x, Tensor.zeros([2, 4]))).toThrow(/\[2, 4\].*\[2, 3\]/);
    expect(() => layer.forward(x, 'cat' as never)).toThrow(TypeError);
    expect(() => layer.forward(Tensor.zeros([6]), [0])).toThrow(ShapeError);
    expect(() => new SoftmaxWithLoss().backward()).toThrow(/call forward first/);
  });
});

function tensorOf(values: number[]): Tensor {
  return new Tensor(Float32Array.from(values), [values.length]);
}

describe('Dropout', () => {
  const c = L.dropout_test;

  test('test mode scales by 1 - ratio as the course; inverted passes through', () => {
    const d = new Dropout(c.ratio as unknown as number);
    expectClose(d.forward(tens(c.x), false), c.out, 'dropout out');
    expectClose(d.backward(tens(c.dout)), c.dx, 'dropout dx');
    const inv = new Dropout(c.ratio as unknown as number, { inverted: true });
    expectClose(inv.forward(tens(c.x), false), c.out_inverted, 'inverted out');
    expectClose(inv.backward(tens(c.dout)), c.dx_inverted, 'inverted dx');
  });

  test('training masks: units are kept unscaled (inverted: scaled by 1/(1-ratio)), about ratio dropped', () => {
    const rng = new Rng(11);
    const x = new Tensor(rng.floats(20000, 0.5, 1.5), [200, 100]);
    for (const inverted of [false, true]) {
      setSeed(3);
      const d = new Dropout(0.3, { inverted });
      const out = d.forward(x, true).clone();
      const keep = inverted ? 1 / 0.7 : 1;
      let dropped = 0;
      for (let i = 0; i < x.data.length; i++) {
        if (out.data[i] === 0) dropped++;
        else expect(Math.abs(out.data[i] - x.data[i] * keep)).toBeLessThan(1e-6);
      }
      expect(Math.abs(dropped / x.data.length - 0.3)).toBeLessThan(0.015);
      // backward uses the same mask
      const ones = new Tensor(new Float32Array(x.data.length).fill(1), x.shape);
      const dx = d.backward(ones);
      for (let i = 0; i < x.data.length; i++) expect(dx.data[i] === 0).toBe(out.data[i] === 0);
    }
  });

  test('same seed, same mask; another seed, another mask', () => {
    const x = new Tensor(new Float32Array(1000).fill(1), [10, 100]);
    const run = (seed: number): Float32Array => { setSeed(seed); return new Dropout(0.5).forward(x, true).data.slice(); };
    expect(run(5)).toEqual(run(5));
    expect(run(5)).not.toEqual(run(6));
  });

  test('training backward equals centred differences with the mask held fixed', () => {
    const rng = new Rng(4);
    const x = new Tensor(rng.floats(24), [4, 6]);
    const proj = new Tensor(rng.floats(24), [4, 6]);
    checkLayerGradients(new Dropout(0.4, { inverted: true }), x, proj, 0.01, true, () => setSeed(99));
  });

  test('a ratio outside [0, 1) is a RangeError, a non-number a TypeError', () => {
    expect(() => new Dropout(1)).toThrow(RangeError);
    expect(() => new Dropout(-0.1)).toThrow(/ratio/);
    expect(() => new Dropout('0.5' as never)).toThrow(TypeError);
  });
});

describe('BatchNormalization', () => {
  test.each(['bn2d', 'bn4d'])('%s: training, running statistics and test mode equal the fixture', (name) => {
    const c = L[name];
    const bn = new BatchNormalization(tens(c.gamma), tens(c.beta));
    expect(bn.momentum).toBe(0.9);
    expect(Array.from(bn.runningVar.data).every((v) => v === 0)).toBe(true);
    bn.forward(tens(c.x1), true);
    expectBoth(bn.forward(tens(c.x2), true), c, 'out2', name);
    expectBoth(bn.backward(tens(c.dout)), c, 'dx2', name);
    expectBoth(bn.grads.gamma, c, 'dgamma2', name);
    expectBoth(bn.grads.beta, c, 'dbeta2', name);
    expectBoth(bn.runningMean, c, 'runningMean', name);
    expectBoth(bn.runningVar, c, 'runningVar', name);
    const out3 = bn.forward(tens(c.x3), false);
    expectBoth(out3, c, 'out3', name);
    // Test mode leaves the running statistics alone.
    expectClose(bn.runningMean, c.runningMean, 'runningMean after test forward');
  });

  test.each(['bn2d', 'bn4d'])('%s: test-mode backward is the derivative of the test-mode forward', (name) => {
    const c = L[name];
    const bn = new BatchNormalization(tens(c.gamma), tens(c.beta));
    bn.forward(tens(c.x1), true);
    bn.forward(tens(c.x2), true);
    bn.forward(tens(c.x3), false);
    expectBoth(bn.backward(tens(c.dout3)), c, 'dx3', name);
    expectClose(bn.grads.gamma, c.dgamma3, 'dgamma3');
    expectClose(bn.grads.beta, c.dbeta3, 'dbeta3');
  });

  test.each(['bn2d', 'bn4d'])('%s: training backward equals centred differences', (name) => {
    const c = L[name];
    checkLayerGradients(new BatchNormalization(tens(c.gamma), tens(c.beta)), tens(c.x2), tens(c.dout), 1e-2);
  });

  test('test-mode backward equals centred differences', () => {
    const c = L.bn2d;
    const bn = new BatchNormalization(tens(c.gamma), tens(c.beta));
    bn.forward(tens(c.x1), true);
    checkLayerGradients(bn, tens(c.x3), tens(c.dout3), 1e-2, false);
  });

  test('mismatched sizes are ShapeErrors', () => {
    expect(() => new BatchNormalization(Tensor.zeros([4]), Tensor.zeros([5]))).toThrow(ShapeError);
    const bn = new BatchNormalization(Tensor.zeros([4]), Tensor.zeros([4]));
    expect(() => bn.forward(Tensor.zeros([3, 5]))).toThrow(/\[3, 5\].*4 features/);
    expect(() => new BatchNormalization(Tensor.zeros([4]), Tensor.zeros([4]), 1.5)).toThrow(RangeError);
  });
});

describe('Convolution', () => {
  test.each(['conv_s2p1', 'conv_s1p0'])('%s: forward and backward equal the fixture', (name) => {
    const c = L[name];
    const conv = new Convolution(tens(c.W), tens(c.b), c.stride as unknown as number, c.pad as unknown as number);
    expectBoth(conv.forward(tens(c.x)), c, 'out', name);
    expectBoth(conv.backward(tens(c.dout)), c, 'dx', name);
    expectBoth(conv.grads.W, c, 'dW', name);
    expectBoth(conv.grads.b, c, 'db', name);
  });

  test.each(['conv_s2p1', 'conv_s1p0'])('%s: backward equals centred differences', (name) => {
    const c = L[name];
    const conv = new Convolution(tens(c.W), tens(c.b), c.stride as unknown as number, c.pad as unknown as number);
    checkLayerGradients(conv, tens(c.x), tens(c.dout), 0.05);
  });

  test('a wrong channel count or filter that does not fit is a ShapeError/RangeError naming the shapes', () => {
    const conv = new Convolution(Tensor.zeros([4, 3, 3, 2]), Tensor.zeros([4]));
    expect(() => conv.forward(Tensor.zeros([2, 2, 5, 7]))).toThrow(ShapeError);
    expect(() => conv.forward(Tensor.zeros([2, 2, 5, 7]))).toThrow(/2 channels.*expects 3/);
    expect(() => conv.forward(Tensor.zeros([2, 3, 2, 7]))).toThrow(RangeError);
    expect(() => new Convolution(Tensor.zeros([4, 3, 3, 2]), Tensor.zeros([3]))).toThrow(ShapeError);
    expect(() => new Convolution(Tensor.zeros([4, 3, 3, 2]), Tensor.zeros([4]), 0)).toThrow(/stride/);
  });
});

describe('Pooling and AvgPooling', () => {
  const names = ['pool_2x2s2', 'pool_3x3s1p1', 'pool_3x2s2', 'avgpool_2x2s2', 'avgpool_3x3s1p1'];
  const make = (c: Record<string, unknown>): Layer => {
    const args = [c.poolH, c.poolW, c.stride, c.pad] as number[];
    return c.average ? new AvgPooling(args[0], args[1], args[2], args[3]) : new Pooling(args[0], args[1], args[2], args[3]);
  };

  test.each(names)('%s: forward and backward equal the fixture', (name) => {
    const c = L[name];
    const layer = make(c);
    expectBoth(layer.forward(tens(c.x)), c, 'out', name);
    expectBoth(layer.backward(tens(c.dout)), c, 'dx', name);
  });

  test.each(names)('%s: backward equals centred differences', (name) => {
    const c = L[name];
    // Inputs are a shuffled grid 0.02 apart (and 0.01 away from the padded zeros): a step of
    // 0.005 never changes which entry wins a window.
    checkLayerGradients(make(c), tens(c.x), tens(c.dout), 0.005);
  });

  test('padded zeros take part in the max (all-negative input)', () => {
    const x = new Tensor(Float32Array.from({ length: 9 }, (_, i) => -1 - i), [1, 1, 3, 3]);
    const out = new Pooling(3, 3, 1, 1).forward(x);
    // Every window but the centre one reaches into the padding, whose zero wins; the centre sees -1.
    expect(Array.from(out.data)).toEqual([0, 0, 0, 0, -1, 0, 0, 0, 0]);
  });

  test('defaults: stride 1, pad 0 as the course', () => {
    const p = new Pooling(2, 2);
    expect([p.stride, p.pad]).toEqual([1, 0]);
    expect(p.forward(Tensor.zeros([1, 1, 4, 5])).shape).toEqual([1, 1, 3, 4]);
  });

  test('bad arguments are clear errors', () => {
    expect(() => new Pooling(0, 2)).toThrow(/poolH/);
    expect(() => new Pooling(2, 2).forward(Tensor.zeros([4, 4]))).toThrow(ShapeError);
    expect(() => new Pooling(5, 5).forward(Tensor.zeros([1, 1, 4, 4]))).toThrow(RangeError);
  });
});

describe('im2col / col2im', () => {
  const c = L.im2col as unknown as Record<string, Enc & number> & { torch: Record<string, Enc> };

  test('im2col equals the course order (numpy) and torch unfold', () => {
    const col = im2col(tens(c.x), c.filterH, c.filterW, c.stride, c.pad);
    expectClose(col, c.col, 'col');
    expectClose(col, c.torch.col, 'col (torch)');
  });

  test('col2im is the adjoint (numpy) and torch fold', () => {
    const back = col2im(tens(c.dcol), c.x.shape, c.filterH, c.filterW, c.stride, c.pad);
    expectClose(back, c.back, 'col2im');
    expectClose(back, c.torch.back, 'col2im (torch)');
  });

  test('bad input is a clear error', () => {
    expect(() => im2col(Tensor.zeros([3, 4]), 2, 2)).toThrow(/4-D/);
    expect(() => col2im(Tensor.zeros([3, 4]), [1, 1, 4, 4], 2, 2)).toThrow(/needs/);
  });
});
