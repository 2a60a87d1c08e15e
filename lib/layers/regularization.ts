// SPDX-License-Identifier: MIT
// Dropout and batch normalisation, with the course's conventions.
import { expectNumber, ShapeError } from '../errors';
import { random } from '../random';
import { Tensor, expectTensor } from '../tensor';
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

  constructor(ratio = 0.5, options: DropoutOptions = {}) {
    this.ratio = expectNumber('Dropout', 'ratio', ratio, { min: 0, max: 1, maxExclusive: true });
    this.inverted = options.inverted ?? false;
  }

  outputShape(inputShape: readonly number[]): number[] {
    return [...inputShape];
  }

  forward(x: Tensor, train = true): Tensor {
    expectTensor('Dropout.forward', 'x', x);
    const out = this.buf.get('out', x.shape);
    const xs = x.data, o = out.data;
    this.lastTrain = train;
    this.lastShape = x.shape;
    if (train) {
      const mask = this.buf.get('mask', x.shape).data;
      const keep = this.inverted ? 1 / (1 - this.ratio) : 1;
      for (let i = 0; i < xs.length; i++) {
        const m = random() > this.ratio ? keep : 0;
        mask[i] = m;
        o[i] = xs[i] * m;
      }
      this.mask = mask;
    } else {
      const scale = this.inverted ? 1 : 1 - this.ratio;
      for (let i = 0; i < xs.length; i++) o[i] = xs[i] * scale;
      this.mask = null;
    }
    return out;
  }

  backward(dout: Tensor): Tensor {
    expectTensor('Dropout.backward', 'dout', dout);
    if (this.lastShape.length === 0) throw new Error('Dropout.backward: call forward first');
    const n = this.lastShape.reduce((a, d) => a * d, 1);
    if (dout.data.length !== n) {
      throw new ShapeError(`Dropout.backward: dout shape ${shapeStr(dout.shape)} does not match the output shape ${shapeStr(this.lastShape)}`);
    }
    const dx = this.buf.get('dx', this.lastShape);
    const d = dout.data, g = dx.data;
    if (this.lastTrain && this.mask) {
      const m = this.mask;
      for (let i = 0; i < n; i++) g[i] = d[i] * m[i];
    } else {
      const scale = this.inverted ? 1 : 1 - this.ratio;
      for (let i = 0; i < n; i++) g[i] = d[i] * scale;
    }
    return dx;
  }
}

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
  private readonly mean: Float32Array;
  private inputShape: number[] = [];
  private xc: Tensor | null = null;
  private xn: Tensor | null = null;
  private lastTrain = true;

  constructor(gamma: Tensor, beta: Tensor, momentum = 0.9, options: BatchNormalizationOptions = {}) {
    expectTensor('BatchNormalization', 'gamma', gamma);
    expectTensor('BatchNormalization', 'beta', beta);
    const D = gamma.data.length;
    if (beta.data.length !== D) {
      throw new ShapeError(`BatchNormalization: gamma ${shapeStr(gamma.shape)} and beta ${shapeStr(beta.shape)} must have the same size`);
    }
    this.momentum = expectNumber('BatchNormalization', 'momentum', momentum, { min: 0, max: 1 });
    this.params = { gamma, beta };
    this.grads = { gamma: Tensor.zeros(gamma.shape), beta: Tensor.zeros(beta.shape) };
    this.runningMean = options.runningMean ?? Tensor.zeros([D]);
    this.runningVar = options.runningVar ?? Tensor.zeros([D]);
    for (const [k, t] of [['runningMean', this.runningMean], ['runningVar', this.runningVar]] as const) {
      expectTensor('BatchNormalization', k, t);
      if (t.data.length !== D) throw new ShapeError(`BatchNormalization: ${k} must have ${D} elements, got ${t.data.length}`);
    }
    this.std = new Float32Array(D);
    this.mean = new Float32Array(D);
  }

  outputShape(inputShape: readonly number[]): number[] {
    const D = inputShape.reduce((a, d) => a * d, 1);
    if (D !== this.params.gamma.data.length) {
      throw new ShapeError(`BatchNormalization: input of shape ${shapeStr(inputShape)} has ${D} features, gamma has ${this.params.gamma.data.length}`);
    }
    return [...inputShape];
  }

  forward(x: Tensor, train = true): Tensor {
    expectTensor('BatchNormalization.forward', 'x', x);
    const D = this.params.gamma.data.length;
    const N = x.shape[0];
    if (x.shape.length < 2 || x.data.length !== N * D) {
      throw new ShapeError(`BatchNormalization.forward: input shape ${shapeStr(x.shape)} does not have ${D} features per sample`);
    }
    this.inputShape = x.shape;
    this.lastTrain = train;
    const xs = x.data;
    const xc = this.buf.get('xc', [N, D]), xn = this.buf.get('xn', [N, D]);
    const out = this.buf.get('out', x.shape);
    const c = xc.data, n = xn.data, o = out.data;
    const gamma = this.params.gamma.data, beta = this.params.beta.data;
    const rm = this.runningMean.data, rv = this.runningVar.data;
    const mean = this.mean, std = this.std;
    if (train) {
      mean.fill(0);
      for (let r = 0; r < N; r++) { const b = r * D; for (let j = 0; j < D; j++) mean[j] += xs[b + j]; }
      for (let j = 0; j < D; j++) mean[j] /= N;
      std.fill(0); // holds the variance first
      for (let r = 0; r < N; r++) {
        const b = r * D;
        for (let j = 0; j < D; j++) { const v = xs[b + j] - mean[j]; c[b + j] = v; std[j] += v * v; }
      }
      const m = this.momentum;
      for (let j = 0; j < D; j++) {
        const variance = std[j] / N;
        rm[j] = m * rm[j] + (1 - m) * mean[j];
        rv[j] = m * rv[j] + (1 - m) * variance;
        std[j] = Math.sqrt(variance + 10e-7);
      }
    } else {
      for (let j = 0; j < D; j++) std[j] = Math.sqrt(rv[j] + 10e-7);
      for (let r = 0; r < N; r++) { const b = r * D; for (let j = 0; j < D; j++) c[b + j] = xs[b + j] - rm[j]; }
    }
    for (let r = 0; r < N; r++) {
      const b = r * D;
      for (let j = 0; j < D; j++) {
        const v = c[b + j] / std[j];
        n[b + j] = v;
        o[b + j] = gamma[j] * v + beta[j];
      }
    }
    this.xc = xc;
    this.xn = xn;
    return out;
  }

  backward(dout: Tensor): Tensor {
    const xc = this.xc, xn = this.xn;
    if (xc === null || xn === null) throw new Error('BatchNormalization.backward: call forward first');
    expectTensor('BatchNormalization.backward', 'dout', dout);
    const [N, D] = xc.shape;
    if (dout.data.length !== N * D) {
      throw new ShapeError(`BatchNormalization.backward: dout shape ${shapeStr(dout.shape)} does not match the output shape ${shapeStr(this.inputShape)}`);
    }
    const d = dout.data, c = xc.data, n = xn.data, std = this.std;
    const gamma = this.params.gamma.data;
    const dgamma = this.grads.gamma.data, dbeta = this.grads.beta.data;
    const dx = this.buf.get('dx', this.inputShape);
    const g = dx.data;
    // Per feature j: dxn = gamma*dout; dxc = dxn/std + (2/N) xc dvar with
    // dvar = -0.5 * sum(dxn*xc) / std^3; dx = dxc - mean(dxc).
    const sumD = this.buf.get('sumD', [D]).data, sumDXc = this.buf.get('sumDXc', [D]).data;
    sumD.fill(0); sumDXc.fill(0); dgamma.fill(0);
    for (let r = 0; r < N; r++) {
      const b = r * D;
      for (let j = 0; j < D; j++) {
        const dv = d[b + j];
        sumD[j] += dv;
        dgamma[j] += n[b + j] * dv;
        sumDXc[j] += dv * c[b + j];
      }
    }
    if (!this.lastTrain) {
      // Test mode normalises with the running statistics, constants here: dx = gamma*dout/std.
      for (let j = 0; j < D; j++) dbeta[j] = sumD[j];
      for (let r = 0; r < N; r++) {
        const b = r * D;
        for (let j = 0; j < D; j++) g[b + j] = gamma[j] * d[b + j] / std[j];
      }
      return dx;
    }
    const dmuTerm = this.buf.get('dmu', [D]).data, dvarTerm = this.buf.get('dvar', [D]).data;
    for (let j = 0; j < D; j++) {
      dbeta[j] = sumD[j];
      const s = std[j];
      const dvar = -0.5 * gamma[j] * sumDXc[j] / (s * s * s);
      dvarTerm[j] = (2 / N) * dvar;
      dmuTerm[j] = 0;
    }
    for (let r = 0; r < N; r++) {
      const b = r * D;
      for (let j = 0; j < D; j++) {
        const v = gamma[j] * d[b + j] / std[j] + dvarTerm[j] * c[b + j];
        g[b + j] = v;
        dmuTerm[j] += v;
      }
    }
    for (let j = 0; j < D; j++) dmuTerm[j] /= N;
    for (let r = 0; r < N; r++) {
      const b = r * D;
      for (let j = 0; j < D; j++) g[b + j] -= dmuTerm[j];
    }
    return dx;
  }
}
