// SPDX-License-Identifier: MIT
// Dropout and batch normalisation, with the course's conventions.
import * as k from '../../core/kernels';
import { expectBoolean, expectNumber, readOptions, ShapeError } from '../../core/errors';
import { random } from '../../core/random';
import { Tensor, asTensor, expectTensor } from '../../core/tensor';
import { Buffers, Layer, shapeStr } from './layer';

export interface DropoutOptions {
  /**
   * false (default, as the course): keep units unscaled while training and multiply by
   * (1 - ratio) at test time. true: "inverted" dropout, scale kept units by 1 / (1 - ratio)
   * while training and pass through at test time (as PyTorch does).
   */
  inverted?: boolean;
}

/**
 * Dropout (Srivastava et al., 2014, JMLR 15). While training each unit is dropped when a
 * uniform draw is <= ratio; masks come from the library's seeded stream (setSeed).
 * @example
 *   const drop = new Dropout(0.5);
 *   const y = drop.forward(x, true);
 */
export class Dropout implements Layer {
  readonly name = 'Dropout';
  readonly params: Record<string, Tensor> = {};
  readonly grads: Record<string, Tensor> = {};
  readonly ratio: number;
  readonly inverted: boolean;
  private readonly buf = new Buffers();
  private mask: Float32Array | null = null;
  private lastTrain = false;
  private lastShape: number[] = [];

  constructor(ratio = 0.5, options?: DropoutOptions) {
    const o = readOptions('Dropout', options, ['inverted']);
    this.ratio = expectNumber('Dropout', 'ratio', ratio, { min: 0, max: 1, maxExclusive: true });
    this.inverted = o.inverted === undefined ? false : expectBoolean('Dropout', 'options.inverted', o.inverted);
  }

  outputShape(inputShape: readonly number[]): number[] {
    return [...inputShape];
  }

  forward(x: Tensor, train = true): Tensor {
    x = asTensor('Dropout.forward', 'x', x);
    expectBoolean('Dropout.forward', 'train', train);
    const out = this.buf.get('out', x.shape);
    const xs = x.data, o = out.data;
    this.lastTrain = train;
    this.lastShape = x.shape;
    if (train) {
      const mask = this.buf.get('mask', x.shape).data;
      const keep = this.inverted ? 1 / (1 - this.ratio) : 1;
      // One draw from the library's stream seeds the native mask generator (setSeed repeats it).
      k.dropoutForward(xs, o, mask, this.ratio, keep, Math.floor(random() * 2 ** 31), Math.floor(random() * 2 ** 31));
      this.mask = mask;
    } else {
      k.scale(xs, o, this.inverted ? 1 : 1 - this.ratio);
      this.mask = null;
    }
    return out;
  }

  backward(dout: Tensor): Tensor {
    dout = asTensor('Dropout.backward', 'dout', dout);
    if (this.lastShape.length === 0) throw new Error('Dropout.backward: call forward first');
    const n = this.lastShape.reduce((a, d) => a * d, 1);
    if (dout.data.length !== n) {
      throw new ShapeError(`Dropout.backward: dout shape ${shapeStr(dout.shape)} does not match the output shape ${shapeStr(this.lastShape)}`);
    }
    const dx = this.buf.get('dx', this.lastShape);
    if (this.lastTrain && this.mask) {
      k.multiply(dout.data, this.mask, dx.data);
    } else {
      k.scale(dout.data, dx.data, this.inverted ? 1 : 1 - this.ratio);
    }
    return dx;
  }
}

// The course writes 10e-7 (that is 1e-6) under BatchNormalization's square root.
export const BN_EPS = 10e-7;

export interface BatchNormalizationOptions {
  /** Initial running mean (D); zeros by default. */
  runningMean?: Tensor;
  /** Initial running variance (D); zeros by default, as the course. */
  runningVar?: Tensor;
}

/**
 * Batch normalisation (Ioffe & Szegedy, 2015, arXiv:1502.03167) in the course's form: every
 * feature of the flattened input (N, D) is normalised with the batch mean and variance
 * (epsilon 10e-7 = 1e-6 under the square root, as the course writes it); a 4-D input (N, C, H, W) has D = C*H*W features.
 * running = momentum * running + (1 - momentum) * batch statistic; the test pass uses them.
 * @example
 *   const bn = new BatchNormalization(ones([100]), zeros([100]));
 */
export class BatchNormalization implements Layer {
  readonly name = 'BatchNormalization';
  readonly params: { gamma: Tensor; beta: Tensor };
  readonly grads: { gamma: Tensor; beta: Tensor };
  readonly momentum: number;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  private readonly buf = new Buffers();
  private readonly std: Float32Array;
  private inputShape: number[] = [];
  private xc: Tensor | null = null;
  private xn: Tensor | null = null;
  private lastTrain = true;

  constructor(gamma: Tensor, beta: Tensor, momentum = 0.9, options?: BatchNormalizationOptions) {
    const o = readOptions('BatchNormalization', options, ['runningMean', 'runningVar']);
    gamma = asTensor('BatchNormalization', 'gamma', gamma);
    beta = asTensor('BatchNormalization', 'beta', beta);
    const D = gamma.data.length;
    if (beta.data.length !== D) {
      throw new ShapeError(`BatchNormalization: gamma ${shapeStr(gamma.shape)} and beta ${shapeStr(beta.shape)} must have the same size`);
    }
    this.momentum = expectNumber('BatchNormalization', 'momentum', momentum, { min: 0, max: 1 });
    this.params = { gamma, beta };
    this.grads = { gamma: Tensor.zeros(gamma.shape), beta: Tensor.zeros(beta.shape) };
    this.runningMean = o.runningMean === undefined ? Tensor.zeros([D]) : asTensor('BatchNormalization', 'runningMean', o.runningMean);
    this.runningVar = o.runningVar === undefined ? Tensor.zeros([D]) : asTensor('BatchNormalization', 'runningVar', o.runningVar);
    for (const [k, t] of [['runningMean', this.runningMean], ['runningVar', this.runningVar]] as const) {
      if (t.data.length !== D) throw new ShapeError(`BatchNormalization: ${k} must have ${D} elements, got ${t.data.length}`);
    }
    this.std = new Float32Array(D);
  }

  outputShape(inputShape: readonly number[]): number[] {
    const D = inputShape.reduce((a, d) => a * d, 1);
    if (D !== this.params.gamma.data.length) {
      throw new ShapeError(`BatchNormalization: input of shape ${shapeStr(inputShape)} has ${D} features, gamma has ${this.params.gamma.data.length}`);
    }
    return [...inputShape];
  }

  forward(x: Tensor, train = true): Tensor {
    x = asTensor('BatchNormalization.forward', 'x', x);
    expectBoolean('BatchNormalization.forward', 'train', train);
    const D = this.params.gamma.data.length;
    const N = x.shape[0];
    if (x.shape.length < 2 || x.data.length !== N * D) {
      throw new ShapeError(`BatchNormalization.forward: input shape ${shapeStr(x.shape)} does not have ${D} features per sample`);
    }
    this.inputShape = x.shape;
    this.lastTrain = train;
    const xc = this.buf.get('xc', [N, D]), xn = this.buf.get('xn', [N, D]);
    const out = this.buf.get('out', x.shape);
    k.batchNormForward(x.data, this.params.gamma.data, this.params.beta.data, this.runningMean.data,
      this.runningVar.data, xc.data, xn.data, this.std, out.data, N, D, this.momentum, BN_EPS, train);
    this.xc = xc;
    this.xn = xn;
    return out;
  }

  backward(dout: Tensor): Tensor {
    const xc = this.xc, xn = this.xn;
    if (xc === null || xn === null) throw new Error('BatchNormalization.backward: call forward first');
    dout = asTensor('BatchNormalization.backward', 'dout', dout);
    const [N, D] = xc.shape;
    if (dout.data.length !== N * D) {
      throw new ShapeError(`BatchNormalization.backward: dout shape ${shapeStr(dout.shape)} does not match the output shape ${shapeStr(this.inputShape)}`);
    }
    const dx = this.buf.get('dx', this.inputShape);
    k.batchNormBackward(dout.data, this.params.gamma.data, xc.data, xn.data, this.std,
      this.grads.gamma.data, this.grads.beta.data, dx.data, N, D, this.lastTrain);
    return dx;
  }
}
