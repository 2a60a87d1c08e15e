// SPDX-License-Identifier: MIT
// Affine: out = x W + b, by one native call (sgemm seeded with the bias).
import * as k from '../../core/kernels';
import { expectBoolean, readOptions, ShapeError } from '../../core/errors';
import { Tensor, asTensor, expectTensor } from '../../core/tensor';
import { Buffers, Layer, shapeStr } from './layer';

export interface AffineOptions {
  /** Skip dx in backward unless asked for (see Layer.backward's inputGradient). */
  skipInputGradient?: boolean;
}

/** N, I, O of an affine pass of x through W (I, O), or a ShapeError naming Affine.forward and both shapes. */
export function affineDims(x: Tensor, W: Tensor): { N: number; I: number; O: number } {
  const [I, O] = W.shape;
  const N = x.shape[0];
  if (x.shape.length < 2 || x.data.length !== N * I) {
    throw new ShapeError(`Affine.forward: input shape ${shapeStr(x.shape)} does not fit W ${shapeStr(W.shape)} (need (N, ${I}) or (N, ...) with ${I} features)`);
  }
  return { N, I, O };
}

/**
 * Fully connected layer. W is (I, O), b is (O). A 4-D input (N, C, H, W) is flattened to
 * (N, C*H*W); backward returns dx in the input's own shape.
 * @example
 *   const fc = new Affine(Tensor.zeros([784, 100]), Tensor.zeros([100]));
 *   const y = fc.forward(x); // (N, 100)
 */
export class Affine implements Layer {
  readonly name = 'Affine';
  readonly params: { W: Tensor; b: Tensor };
  readonly grads: { W: Tensor; b: Tensor };
  /** backward() skips dx unless its inputGradient argument asks for it. */
  readonly skipInputGradient: boolean;
  private x: Tensor | null = null;
  private readonly buf = new Buffers();

  constructor(W: Tensor, b: Tensor, options?: AffineOptions) {
    const o = readOptions('Affine', options, ['skipInputGradient']);
    W = asTensor('Affine', 'W', W);
    b = asTensor('Affine', 'b', b);
    if (W.shape.length !== 2) throw new ShapeError(`Affine: W must be 2-D (in, out), got shape ${shapeStr(W.shape)}`);
    if (b.shape.length !== 1 || b.shape[0] !== W.shape[1]) {
      throw new ShapeError(`Affine: b must have shape [${W.shape[1]}] to match W ${shapeStr(W.shape)}, got ${shapeStr(b.shape)}`);
    }
    this.params = { W, b };
    this.grads = { W: Tensor.zeros(W.shape), b: Tensor.zeros(b.shape) };
    this.skipInputGradient = o.skipInputGradient === undefined ? false : expectBoolean('Affine', 'options.skipInputGradient', o.skipInputGradient);
  }

  get W(): Tensor { return this.params.W; }
  get b(): Tensor { return this.params.b; }
  get dW(): Tensor { return this.grads.W; }
  get db(): Tensor { return this.grads.b; }

  outputShape(inputShape: readonly number[]): number[] {
    const features = inputShape.reduce((a, d) => a * d, 1);
    if (features !== this.params.W.shape[0]) {
      throw new ShapeError(`Affine: input of shape ${shapeStr(inputShape)} has ${features} features per sample, W ${shapeStr(this.params.W.shape)} expects ${this.params.W.shape[0]}`);
    }
    return [this.params.W.shape[1]];
  }

  forward(x: Tensor, _train = true): Tensor {
    x = asTensor('Affine.forward', 'x', x);
    const { N, I, O } = affineDims(x, this.params.W);
    this.x = x;
    const out = this.buf.get('out', [N, O]);
    k.affineForward(x.data, this.params.W.data, this.params.b.data, out.data, N, I, O);
    return out;
  }

  backward(dout: Tensor, inputGradient = !this.skipInputGradient): Tensor {
    const x = this.x;
    if (x === null) throw new Error('Affine.backward: call forward first');
    expectBoolean('Affine.backward', 'inputGradient', inputGradient);
    dout = asTensor('Affine.backward', 'dout', dout);
    const [I, O] = this.params.W.shape;
    const N = x.shape[0];
    if (dout.data.length !== N * O) {
      throw new ShapeError(`Affine.backward: dout shape ${shapeStr(dout.shape)} does not match the output shape [${N}, ${O}]`);
    }
    const dx = inputGradient ? this.buf.get('dx', x.shape) : null;
    k.affineBackward(dout.data, x.data, this.params.W.data, dx ? dx.data : null,
      this.grads.W.data, this.grads.b.data, N, I, O);
    // Without dx the caller gets an all-zero placeholder of the right shape.
    return dx ?? this.buf.get('dxSkipped', x.shape);
  }
}
