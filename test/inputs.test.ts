// SPDX-License-Identifier: MIT
// What public entry points accept: tensor-likes are checked against their data (a lying shape
// is refused at once, never looped over), and class labels may be any integer typed array.
import { describe, expect, test } from '@jest/globals';
import { Affine, MultiLayerNet, Relu, SoftmaxWithLoss, Tensor, tensor, Trainer } from '../lib';
import { caught } from './helpers/errors';

describe('tensor-likes', () => {
  const lying = { shape: [1, 2 ** 31], data: new Float32Array(3) };
  test.each([
    ['SoftmaxWithLoss.forward', () => new SoftmaxWithLoss().forward(lying as never, [0])],
    ['Affine.forward', () => new Affine(Tensor.zeros([3, 2]), Tensor.zeros([2])).forward(lying as never)],
    ['Relu.forward', () => new Relu().forward(lying as never)],
    ['predict', () => new MultiLayerNet({ inputSize: 3, hiddenSizeList: [2], outputSize: 2 }).predict(lying as never)],
  ])('%s refuses a shape whose product is not data.length', (fn, call) => {
    const e = caught(call);
    expect(e.name).toBe('ShapeError');
    expect(e.message).toContain(fn);
    expect(e.message).toContain('2147483648 elements');
    expect(e.message).toContain('holds 3');
  });

  test('a shape with a zero, negative or fractional dimension is refused', () => {
    for (const shape of [[0, 3], [-1, -3], [1.5, 2]]) {
      const e = caught(() => new Relu().forward({ shape, data: new Float32Array(3) } as never));
      expect(e.message).toMatch(/x\.shape\[0\] must be a positive integer/);
    }
  });

  test('an honest tensor-like works like a Tensor', () => {
    const y = new Relu().forward({ shape: [1, 3], data: new Float32Array([-1, 0, 2]) } as never);
    expect(Array.from(y.data)).toEqual([0, 0, 2]);
  });
});

describe('labels', () => {
  const x = tensor([[1, 2, 0.5], [0.1, -1, 3]]);
  test.each([
    ['Uint8Array', new Uint8Array([1, 2])], ['Uint16Array', new Uint16Array([1, 2])], ['Int8Array', new Int8Array([1, 2])],
    ['Uint32Array', new Uint32Array([1, 2])], ['number[]', [1, 2]],
  ])('%s gives the same loss as Int32Array', (_name, t) => {
    const ref = new SoftmaxWithLoss().forward(x, new Int32Array([1, 2]));
    expect(new SoftmaxWithLoss().forward(x, t as never)).toBe(ref);
  });

  test('a float array is still refused (it could be one-hot data)', () => {
    const e = caught(() => new SoftmaxWithLoss().forward(x, new Float32Array([1, 2]) as never));
    expect(e.name).toBe('TypeError');
    expect(e.message).toMatch(/integer typed array/);
  });

  test('out-of-range labels in a Uint8Array name the index', () => {
    const e = caught(() => new SoftmaxWithLoss().forward(x, new Uint8Array([1, 7])));
    expect(e.message).toMatch(/t\[1\] must be a class index in \[0, 2\], got the number 7/);
  });

  test('the Trainer and accuracy take readIdxLabels-style Uint8Array labels', () => {
    const net = new MultiLayerNet({ inputSize: 3, hiddenSizeList: [4], outputSize: 3 });
    const t = new Uint8Array([1, 2]);
    expect(net.accuracy(x, t)).toBeGreaterThanOrEqual(0);
    const trainer = new Trainer(net, x, t, x, t, { epochs: 1, miniBatchSize: 2, verbose: false });
    const h = trainer.train();
    expect(h.trainLossList).toHaveLength(1);
  });
});
