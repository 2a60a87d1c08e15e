// SPDX-License-Identifier: MIT
// Element-wise activations. Each keeps what its backward needs (Relu the mask
// through the input sign, Sigmoid and Tanh their output) and leaves dout alone.
import * as k from '../kernels';
import { ShapeError } from '../errors';
import { Tensor, expectTensor } from '../tensor';
import { Buffers, Layer, shapeStr } from './layer';

abstract class Elementwise implements Layer {
  abstract readonly name: string;
  readonly params: Record<string, Tensor> = {};
  readonly grads: Record<string, Tensor> = {};
  protected readonly buf = new Buffers();
  protected out: Tensor | null = null;

  outputShape(inputShape: readonly number[]): number[] {
    return [...inputShape];
  }

  protected checkDout(dout: Tensor): Tensor {
    const out = this.out;
    if (out === null) throw new Error(`${this.name}.backward: call forward first`);
    expectTensor(`${this.name}.backward`, 'dout', dout);
    if (dout.data.length !== out.data.length) {
      throw new ShapeError(`${this.name}.backward: dout shape ${shapeStr(dout.shape)} does not match the output shape ${shapeStr(out.shape)}`);
    }
    return out;
  }

  abstract forward(x: Tensor, train?: boolean): Tensor;
  abstract backward(dout: Tensor): Tensor;
}

/** out = max(0, x); the gradient passes where x > 0. */
export class Relu extends Elementwise {
  readonly name = 'Relu';
  private x: Tensor | null = null;

  forward(x: Tensor, _train = true): Tensor {
    expectTensor('Relu.forward', 'x', x);
    const out = this.buf.get('out', x.shape);
    k.reluForward(x.data, out.data);
    this.x = x;
    this.out = out;
    return out;
  }

  backward(dout: Tensor): Tensor {
    this.checkDout(dout);
    const x = this.x as Tensor;
    const dx = this.buf.get('dx', x.shape);
    k.reluBackward(x.data, dout.data, dx.data);
    return dx;
  }
}

/** out = 1 / (1 + exp(-x)); dx = dout * (1 - out) * out. */
export class Sigmoid extends Elementwise {
  readonly name = 'Sigmoid';

  forward(x: Tensor, _train = true): Tensor {
    expectTensor('Sigmoid.forward', 'x', x);
    const out = this.buf.get('out', x.shape);
    k.sigmoidForward(x.data, out.data);
    this.out = out;
    return out;
  }

  backward(dout: Tensor): Tensor {
    const out = this.checkDout(dout);
    const dx = this.buf.get('dx', out.shape);
    k.sigmoidBackward(out.data, dout.data, dx.data);
    return dx;
  }
}

/** out = tanh(x); dx = dout * (1 - out^2). */
export class Tanh extends Elementwise {
  readonly name = 'Tanh';

  forward(x: Tensor, _train = true): Tensor {
    expectTensor('Tanh.forward', 'x', x);
    const out = this.buf.get('out', x.shape);
    k.tanhForward(x.data, out.data);
    this.out = out;
    return out;
  }

  backward(dout: Tensor): Tensor {
    const out = this.checkDout(dout);
    const dx = this.buf.get('dx', out.shape);
    k.tanhBackward(out.data, dout.data, dx.data);
    return dx;
  }
}
