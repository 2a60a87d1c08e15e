// SPDX-License-Identifier: MIT
// Element-wise activations, each one native call per pass. Relu keeps its input (the mask
// is x > 0), Sigmoid and Tanh their output; none of them changes dout.
import * as k from '../../core/kernels';
import { ShapeError } from '../../core/errors';
import { Tensor, asTensor, expectTensor } from '../../core/tensor';
import { Buffers, Layer, shapeStr } from './layer';

type Kernel = (input: Float32Array, out: Float32Array) => void;
type BackwardKernel = (saved: Float32Array, dout: Float32Array, dx: Float32Array) => void;

abstract class Elementwise implements Layer {
  abstract readonly name: string;
  readonly params: Record<string, Tensor> = {};
  readonly grads: Record<string, Tensor> = {};
  private readonly buf = new Buffers();
  /** What backward needs from the forward pass: the input (Relu) or the output. */
  private saved: Tensor | null = null;

  constructor(private readonly fwd: Kernel, private readonly bwd: BackwardKernel,
    private readonly keepsInput: boolean) {}

  outputShape(inputShape: readonly number[]): number[] {
    return [...inputShape];
  }

  forward(x: Tensor, _train = true): Tensor {
    x = asTensor(`${this.name}.forward`, 'x', x);
    const out = this.buf.get('out', x.shape);
    this.fwd(x.data, out.data);
    this.saved = this.keepsInput ? x : out;
    return out;
  }

  backward(dout: Tensor): Tensor {
    const saved = this.saved;
    if (saved === null) throw new Error(`${this.name}.backward: call forward first`);
    dout = asTensor(`${this.name}.backward`, 'dout', dout);
    if (dout.data.length !== saved.data.length) {
      throw new ShapeError(`${this.name}.backward: dout shape ${shapeStr(dout.shape)} does not match the output shape ${shapeStr(saved.shape)}`);
    }
    const dx = this.buf.get('dx', saved.shape);
    this.bwd(saved.data, dout.data, dx.data);
    return dx;
  }
}

/**
 * out = max(0, x), zero where x <= 0 as the course's mask; the gradient passes where x > 0.
 * @example
 *   const y = new Relu().forward(x);
 */
export class Relu extends Elementwise {
  readonly name = 'Relu';
  constructor() { super(k.reluForward, k.reluBackward, true); }
}

/**
 * out = 1 / (1 + exp(-x)); dx = dout * (1 - out) * out.
 * @example
 *   const y = new Sigmoid().forward(x);
 */
export class Sigmoid extends Elementwise {
  readonly name = 'Sigmoid';
  constructor() { super(k.sigmoidForward, k.sigmoidBackward, false); }
}

/**
 * out = tanh(x); dx = dout * (1 - out^2).
 * @example
 *   const y = new Tanh().forward(x);
 */
export class Tanh extends Elementwise {
  readonly name = 'Tanh';
  constructor() { super(k.tanhForward, k.tanhBackward, false); }
}
