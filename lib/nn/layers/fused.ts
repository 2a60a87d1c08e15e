// SPDX-License-Identifier: MIT
// The steps a network runs for a Convolution followed by a Relu and/or a max Pooling, for an
// Affine followed by a Relu or a Sigmoid, and for a BatchNormalization followed by a Relu
// and/or a Dropout. A convolution step applies them in one native call per pass to each
// sample's convolution output while it is in cache, so a pooled step never writes the full
// convolution output out; an affine step applies the activation (and in backward its
// gradient) to each slice of batch rows on the core that computed it; a normalisation step
// runs the test-mode pass of its layers as one pass over the batch. Sequential puts such a step
// in its plan in place of those layers (network.ts); the layer objects themselves are not
// touched and behave as the course's when called directly. The numbers equal theirs bit for
// bit: the same arithmetic on the same values.
import * as k from '../../core/kernels';
import { expectBoolean, outExtent, ShapeError } from '../../core/errors';
import { asTensor, expectTensor, Tensor } from '../../core/tensor';
import { Relu, Sigmoid } from './activations';
import { Convolution, convAlgorithmCode, convGeometry, Pooling } from './conv';
import { Affine, affineDims } from './dense';
import { Buffers, Layer, shapeStr } from './layer';
import { BatchNormalization, BN_EPS, Dropout } from './regularization';

/** A Convolution with the Relu and/or max Pooling after it, run as one step. */
export class FusedConvolution implements Layer {
  readonly name: string;
  /** The Convolution's own tensors: an optimizer updating them updates the Convolution. */
  readonly params: { W: Tensor; b: Tensor };
  readonly grads: { W: Tensor; b: Tensor };
  private readonly buf = new Buffers();
  private x: Tensor | null = null;
  private out: Tensor | null = null;
  private argmax: Int32Array | null = null;

  private constructor(readonly conv: Convolution, readonly relu: boolean, readonly pool: Pooling | null) {
    this.name = ['Convolution', relu ? 'Relu' : '', pool ? 'Pooling' : ''].filter(Boolean).join('+');
    this.params = conv.params;
    this.grads = conv.grads;
  }

  /**
   * The fused step for layers[i..] when layers[i] is a Convolution followed by a Relu and/or a
   * max Pooling, with how many layers it stands for; null otherwise.
   */
  static match(layers: readonly Layer[], i: number): { step: FusedConvolution; span: number } | null {
    const conv = layers[i];
    if (!(conv instanceof Convolution)) return null;
    let span = 1;
    const relu = layers[i + span] instanceof Relu;
    if (relu) span++;
    const next = layers[i + span];
    const pool = next instanceof Pooling ? next : null;
    if (pool) span++;
    return span > 1 ? { step: new FusedConvolution(conv, relu, pool), span } : null;
  }

  outputShape(inputShape: readonly number[]): number[] {
    const shape = this.conv.outputShape(inputShape);
    return this.pool ? this.pool.outputShape(shape) : shape;
  }

  private geometry(fn: string, x: Tensor): k.ConvPoolGeometry & { OH: number; OW: number; POH: number; POW: number } {
    const c = this.conv;
    const g = convGeometry(fn, c.params.W, c.stride, c.pad, x);
    const p = this.pool ?? { poolH: 1, poolW: 1, stride: 1, pad: 0 };
    const name = this.pool ? 'Pooling.forward' : fn;
    return {
      ...g, PH: p.poolH, PW: p.poolW, poolStride: p.stride, poolPad: p.pad,
      POH: outExtent(name, 'input height', g.OH, p.poolH, p.stride, p.pad),
      POW: outExtent(name, 'input width', g.OW, p.poolW, p.stride, p.pad),
    };
  }

  forward(x: Tensor, _train = true): Tensor {
    x = asTensor('Convolution.forward', 'x', x);
    const g = this.geometry('Convolution.forward', x);
    const { W, b } = this.conv.params;
    let out: Tensor;
    if (this.pool) {
      out = this.buf.get('pooled', [g.N, g.FN, g.POH, g.POW]);
      const argmax = this.buf.getInt('argmax', out.data.length);
      k.convPoolForward(x.data, W.data, b.data, out.data, argmax, g, this.relu, convAlgorithmCode(this.conv.algorithm));
      this.argmax = argmax;
    } else {
      out = this.buf.get('out', [g.N, g.FN, g.OH, g.OW]);
      k.convReluForward(x.data, W.data, b.data, out.data, g, convAlgorithmCode(this.conv.algorithm));
    }
    this.x = x;
    this.out = out;
    return out;
  }

  backward(dout: Tensor, inputGradient = true): Tensor {
    const x = this.x, out = this.out;
    if (x === null || out === null) throw new Error(`${this.name}.backward: call forward first`);
    dout = asTensor(`${this.name}.backward`, 'dout', dout);
    if (dout.data.length !== out.data.length) {
      throw new ShapeError(`${this.name}.backward: dout shape ${shapeStr(dout.shape)} does not match the output shape ${shapeStr(out.shape)}`);
    }
    const g = this.geometry('Convolution.backward', x);
    const { W } = this.conv.params, { W: dW, b: db } = this.conv.grads;
    const dx = inputGradient ? this.buf.get('dx', x.shape) : null;
    if (this.pool) {
      k.convPoolBackward(dout.data, x.data, W.data, out.data, this.argmax as Int32Array, dW.data, db.data,
        dx ? dx.data : null, g, this.relu, convAlgorithmCode(this.conv.algorithm));
    } else {
      k.convReluBackward(dout.data, x.data, W.data, out.data, dW.data, db.data, dx ? dx.data : null, g,
        convAlgorithmCode(this.conv.algorithm));
    }
    return dx ?? this.buf.get('dxSkipped', x.shape);
  }
}

/** The fused affine kernels of each activation an Affine step can take in. */
const AFFINE_KERNELS = [
  { layer: Relu, name: 'Affine+Relu', forward: k.affineReluForward, backward: k.affineReluBackward },
  { layer: Sigmoid, name: 'Affine+Sigmoid', forward: k.affineSigmoidForward, backward: k.affineSigmoidBackward },
] as const;

/**
 * An Affine with the Relu or the Sigmoid right after it, run as one step: one native call per
 * pass, the same numbers bit for bit as the two layers. Backward skips dx when asked, as
 * Affine's does.
 */
export class FusedAffine implements Layer {
  readonly name: string;
  /** The Affine's own tensors: an optimizer updating them updates the Affine. */
  readonly params: { W: Tensor; b: Tensor };
  readonly grads: { W: Tensor; b: Tensor };
  private readonly buf = new Buffers();
  private x: Tensor | null = null;
  private out: Tensor | null = null;

  private constructor(readonly affine: Affine, readonly activation: Relu | Sigmoid,
    private readonly kernels: typeof AFFINE_KERNELS[number]) {
    this.name = kernels.name;
    this.params = affine.params;
    this.grads = affine.grads;
  }

  /** The fused step for layers[i..] when layers[i] is an Affine followed by a Relu or a Sigmoid; null otherwise. */
  static match(layers: readonly Layer[], i: number): { step: FusedAffine; span: number } | null {
    const affine = layers[i], activation = layers[i + 1];
    if (!(affine instanceof Affine)) return null;
    const kernels = AFFINE_KERNELS.find((f) => activation instanceof f.layer);
    if (kernels === undefined) return null;
    return { step: new FusedAffine(affine, activation as Relu | Sigmoid, kernels), span: 2 };
  }

  outputShape(inputShape: readonly number[]): number[] {
    return this.affine.outputShape(inputShape);
  }

  forward(x: Tensor, _train = true): Tensor {
    x = asTensor('Affine.forward', 'x', x);
    const { W, b } = this.affine.params;
    const { N, I, O } = affineDims(x, W);
    const out = this.buf.get('out', [N, O]);
    this.kernels.forward(x.data, W.data, b.data, out.data, N, I, O);
    this.x = x;
    this.out = out;
    return out;
  }

  backward(dout: Tensor, inputGradient = !this.affine.skipInputGradient): Tensor {
    const x = this.x, out = this.out;
    if (x === null || out === null) throw new Error(`${this.name}.backward: call forward first`);
    expectBoolean(`${this.name}.backward`, 'inputGradient', inputGradient);
    dout = asTensor(`${this.name}.backward`, 'dout', dout);
    if (dout.data.length !== out.data.length) {
      throw new ShapeError(`${this.name}.backward: dout shape ${shapeStr(dout.shape)} does not match the output shape ${shapeStr(out.shape)}`);
    }
    const { W } = this.affine.params, { W: dW, b: db } = this.affine.grads;
    const [I, O] = W.shape;
    const dx = inputGradient ? this.buf.get('dx', x.shape) : null;
    this.kernels.backward(dout.data, x.data, W.data, out.data, dx ? dx.data : null, dW.data, db.data, x.shape[0], I, O);
    return dx ?? this.buf.get('dxSkipped', x.shape);
  }
}

/**
 * A BatchNormalization with the Relu and/or Dropout right after it. Training runs the three
 * layers one after another, as they are; a test-mode pass (predict, accuracy) runs them as one
 * native pass over the batch that keeps nothing for backward and equals their outputs bit for
 * bit. A backward after a test-mode pass (loss(x, t, false) then backward()) first replays the
 * layers' own test-mode forward on the same input, then runs their backward.
 */
export class FusedNormalization implements Layer {
  readonly name: string;
  /** The BatchNormalization's own tensors. */
  readonly params: { gamma: Tensor; beta: Tensor };
  readonly grads: { gamma: Tensor; beta: Tensor };
  private readonly buf = new Buffers();
  private readonly layers: Layer[];
  private x: Tensor | null = null;
  /** Whether the last forward was the fused test-mode pass (the layers hold nothing of it). */
  private fusedPass = false;

  private constructor(readonly bn: BatchNormalization, readonly relu: Relu | null, readonly dropout: Dropout | null) {
    this.layers = [bn, relu, dropout].filter((l): l is NonNullable<typeof l> => l !== null);
    this.name = this.layers.map((l) => l.name).join('+');
    this.params = bn.params;
    this.grads = bn.grads;
  }

  /**
   * The fused step for layers[i..] when layers[i] is a BatchNormalization followed by a Relu
   * and/or a Dropout, with how many layers it stands for; null otherwise.
   */
  static match(layers: readonly Layer[], i: number): { step: FusedNormalization; span: number } | null {
    const bn = layers[i];
    if (!(bn instanceof BatchNormalization)) return null;
    let span = 1;
    const relu = layers[i + span] instanceof Relu ? layers[i + span] as Relu : null;
    if (relu) span++;
    const dropout = layers[i + span] instanceof Dropout ? layers[i + span] as Dropout : null;
    if (dropout) span++;
    return span > 1 ? { step: new FusedNormalization(bn, relu, dropout), span } : null;
  }

  outputShape(inputShape: readonly number[]): number[] {
    return this.bn.outputShape(inputShape);
  }

  forward(x: Tensor, train = true): Tensor {
    x = asTensor('BatchNormalization.forward', 'x', x);
    expectBoolean('BatchNormalization.forward', 'train', train);
    this.x = x;
    if (train) {
      this.fusedPass = false;
      let y = x;
      for (const layer of this.layers) y = layer.forward(y, true);
      return y;
    }
    const bn = this.bn;
    const D = bn.params.gamma.data.length;
    const N = x.shape[0];
    if (x.shape.length < 2 || x.data.length !== N * D) {
      throw new ShapeError(`BatchNormalization.forward: input shape ${shapeStr(x.shape)} does not have ${D} features per sample`);
    }
    const out = this.buf.get('out', x.shape);
    const d = this.dropout;
    const scale = d === null || d.inverted ? 1 : 1 - d.ratio;
    k.batchNormInfer(x.data, bn.params.gamma.data, bn.params.beta.data, bn.runningMean.data, bn.runningVar.data,
      out.data, N, D, BN_EPS, this.relu !== null, scale);
    this.fusedPass = true;
    return out;
  }

  backward(dout: Tensor, _inputGradient = true): Tensor {
    const x = this.x;
    if (x === null) throw new Error(`${this.name}.backward: call forward first`);
    if (this.fusedPass) {
      let y = x;
      for (const layer of this.layers) y = layer.forward(y, false);
      this.fusedPass = false;
    }
    let d = dout;
    for (let i = this.layers.length - 1; i >= 0; i--) d = this.layers[i].backward(d);
    return d;
  }
}
