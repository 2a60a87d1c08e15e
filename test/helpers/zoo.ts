// SPDX-License-Identifier: MIT
// A Sequential with every kind of layer blasnet has, hyper-parameters away from their
// defaults and each convention exercised where it changes the numbers: a max Pooling with
// padding right after a convolution (negative values meet the padded zeros), an average
// Pooling with padding, BatchNormalization on a 4-D input (per feature of the flattened
// input) with momentum 0.8, course and inverted Dropout, a square Affine (a forgotten
// transpose still fits), Sigmoid and Tanh. For MNIST-shaped input [N, 1, 28, 28].
import {
  Affine, AvgPooling, BatchNormalization, Convolution, Dropout, Pooling, Relu, Sequential, Sigmoid, SoftmaxWithLoss,
  Tanh, Tensor,
} from '../../lib';
import { Rng } from './random';

function randn(rng: Rng, shape: number[], scale: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const t = Tensor.zeros(shape);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - rng.next(), v = rng.next();
    const r = Math.sqrt(-2 * Math.log(u));
    t.data[i] = scale * r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) t.data[i + 1] = scale * r * Math.sin(2 * Math.PI * v);
  }
  return t;
}

/** The zoo network, weights drawn from `seed` (He scale), biases small and non-zero. */
export function zooNetwork(seed: number): Sequential {
  const rng = new Rng(seed);
  const he = (fanIn: number): number => Math.sqrt(2 / fanIn);
  const bias = (n: number): Tensor => new Tensor(rng.floats(n, -0.1, 0.1), [n]);
  const gamma = new Tensor(rng.floats(294, 0.8, 1.2), [294]);
  return new Sequential([
    new Convolution(randn(rng, [4, 1, 3, 3], he(9)), bias(4), 1, 1),      // [4, 28, 28]
    new Pooling(3, 3, 2, 1),                                                // [4, 14, 14], zero padding in the max
    new Tanh(),
    new Convolution(randn(rng, [6, 4, 3, 3], he(36)), bias(6), 2, 0),     // [6, 6, 6]
    new Relu(),
    new AvgPooling(2, 2, 1, 1),                                             // [6, 7, 7], zeros count in the mean
    new BatchNormalization(gamma, bias(294), 0.8),                          // 294 features of the flattened input
    new Dropout(0.2),                                                       // the course's: test time x 0.8
    new Affine(randn(rng, [294, 32], he(294)), bias(32)),
    new Sigmoid(),
    new Dropout(0.1, { inverted: true }),
    new Affine(randn(rng, [32, 32], he(32)), bias(32)),                   // square: a missing transpose fits
    new Relu(),
    new Affine(randn(rng, [32, 10], he(32)), bias(10)),
    new SoftmaxWithLoss(),
  ], { inputShape: [1, 28, 28], weightDecayLambda: 0.001 });
}
