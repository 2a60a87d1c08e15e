// SPDX-License-Identifier: MIT
// Convolution (im2col + sgemm in one native call) and pooling layers, NCHW.
import * as k from '../../core/kernels';
import { expectInt, outExtent, readOptions, ShapeError } from '../../core/errors';
import { Tensor, expectTensor } from '../../core/tensor';
import { Buffers, Layer, shapeStr } from './layer';

export interface ConvolutionOptions {
  /** Skip dx in backward (for a network's first layer, whose input gradient nobody uses). */
  skipInputGradient?: boolean;
}

function expect4d(fn: string, x: Tensor, C: number): void {
  if (x.shape.length !== 4) throw new ShapeError(`${fn}: input must be 4-D (N, C, H, W), got ${shapeStr(x.shape)}`);
  if (x.shape[1] !== C) throw new ShapeError(`${fn}: input has ${x.shape[1]} channels ${shapeStr(x.shape)}, the layer expects ${C}`);
}

/**
 * 2-D convolution with filters W (FN, C, FH, FW) and bias b (FN); out (N, FN, OH, OW) with
 * OH = (H + 2*pad - FH) / stride + 1 (floor), as the course's im2col.
 * @example
 *   const conv = new Convolution(W, b, 1, 0); // W: [30, 1, 5, 5], b: [30]
 *   const y = conv.forward(x);               // x: [N, 1, 28, 28] -> y: [N, 30, 24, 24]
 */
export class Convolution implements Layer {
  readonly name = 'Convolution';
  readonly params: { W: Tensor; b: Tensor };
  readonly grads: { W: Tensor; b: Tensor };
  readonly stride: number;
  readonly pad: number;
  skipInputGradient: boolean;
  private readonly buf = new Buffers();
  private geom: k.WindowGeometry | null = null;
  private x: Tensor | null = null;
  private out: Tensor | null = null;
  /** What the last forward pass fused, which its backward must undo the same way. */
  private pooled: { window: k.PoolWindow; argmax: Int32Array } | null = null;
  private reluDone = false;

  constructor(W: Tensor, b: Tensor, stride = 1, pad = 0, options?: ConvolutionOptions) {
    const o = readOptions('Convolution', options, ['skipInputGradient']);
    expectTensor('Convolution', 'W', W);
    expectTensor('Convolution', 'b', b);
    if (W.shape.length !== 4) throw new ShapeError(`Convolution: W must be 4-D (FN, C, FH, FW), got ${shapeStr(W.shape)}`);
    if (b.data.length !== W.shape[0]) {
      throw new ShapeError(`Convolution: b must have ${W.shape[0]} elements to match W ${shapeStr(W.shape)}, got ${shapeStr(b.shape)}`);
    }
    this.stride = expectInt('Convolution', 'stride', stride, 1);
    this.pad = expectInt('Convolution', 'pad', pad, 0);
    this.params = { W, b };
    this.grads = { W: Tensor.zeros(W.shape), b: Tensor.zeros(b.shape) };
    this.skipInputGradient = o.skipInputGradient ?? false;
  }

  outputShape(inputShape: readonly number[]): number[] {
    const [FN, C, FH, FW] = this.params.W.shape;
    if (inputShape.length !== 3 || inputShape[0] !== C) {
      throw new ShapeError(`Convolution: input ${shapeStr(inputShape)} must be (C, H, W) with C = ${C} for W ${shapeStr(this.params.W.shape)}`);
    }
    return [FN, outExtent('Convolution', 'input height', inputShape[1], FH, this.stride, this.pad),
      outExtent('Convolution', 'input width', inputShape[2], FW, this.stride, this.pad)];
  }

  forward(x: Tensor, _train = true): Tensor {
    return this.forwardFused(x, false, null);
  }

  /**
   * Forward with the Relu and/or max Pooling that follow this layer applied in the same
   * native call, on each sample while it is in cache (Sequential does this; the layers
   * themselves are left untouched): returns max(0, conv) when relu, pooled by `pool` when
   * given, and the full convolution output is then never written out. The results equal
   * those of the separate layers bit for bit; backward() undoes whatever the last forward did.
   */
  forwardFused(x: Tensor, relu: boolean, pool: Pooling | null): Tensor {
    expectTensor('Convolution.forward', 'x', x);
    const [FN, C, FH, FW] = this.params.W.shape;
    expect4d('Convolution.forward', x, C);
    const [N, , H, W] = x.shape;
    const g = { N, C, H, W, FH, FW, stride: this.stride, pad: this.pad };
    const { OH, OW } = k.windowOutput('Convolution.forward', g);
    this.geom = g;
    this.x = x;
    this.reluDone = relu;
    if (pool !== null) {
      const window = { PH: pool.poolH, PW: pool.poolW, stride: pool.stride, pad: pool.pad };
      const pg = k.fusedPoolOutput('Convolution.forward', g, FN, window);
      const pooled = this.buf.get('pooled', [N, FN, pg.OH, pg.OW]);
      const argmax = this.buf.getInt('argmax', pooled.data.length);
      k.convPoolForward(x.data, this.params.W.data, this.params.b.data, pooled.data, argmax, FN, g, window, relu);
      this.pooled = { window, argmax };
      this.out = pooled;
      return pooled;
    }
    const out = this.buf.get('out', [N, FN, OH, OW]);
    // The columns are not kept: backward recomputes them per sample from x, which costs
    // less than writing and reading the whole batch's im2col matrix through memory.
    k.convForward(x.data, this.params.W.data, this.params.b.data, null, out.data, FN, g, relu);
    this.pooled = null;
    this.out = out;
    return out;
  }

  backward(dout: Tensor): Tensor {
    const g = this.geom, x = this.x;
    if (g === null || x === null) throw new Error('Convolution.backward: call forward first');
    expectTensor('Convolution.backward', 'dout', dout);
    const FN = this.params.W.shape[0];
    const out = this.out as Tensor;
    if (dout.data.length !== out.data.length) {
      throw new ShapeError(`Convolution.backward: dout shape ${shapeStr(dout.shape)} does not match the output shape ${shapeStr(out.shape)}`);
    }
    const inShape = [g.N, g.C, g.H, g.W];
    const dx = this.skipInputGradient ? null : this.buf.get('dx', inShape);
    if (this.pooled !== null) {
      k.convPoolBackward(dout.data, x.data, this.params.W.data, this.grads.W.data, this.grads.b.data,
        dx ? dx.data : null, this.reluDone ? out.data : null, this.pooled.argmax, FN, g, this.pooled.window);
    } else {
      k.convBackward(dout.data, x.data, null, this.params.W.data, this.grads.W.data, this.grads.b.data,
        null, dx ? dx.data : null, FN, g, this.reluDone ? out.data : null);
    }
    return dx ?? this.buf.get('dxSkipped', inShape);
  }
}

abstract class PoolingBase implements Layer {
  abstract readonly name: string;
  readonly params: Record<string, Tensor> = {};
  readonly grads: Record<string, Tensor> = {};
  readonly poolH: number;
  readonly poolW: number;
  readonly stride: number;
  readonly pad: number;
  protected readonly buf = new Buffers();
  protected geom: k.WindowGeometry | null = null;

  constructor(fn: string, poolH: number, poolW: number, stride: number, pad: number) {
    this.poolH = expectInt(fn, 'poolH', poolH, 1);
    this.poolW = expectInt(fn, 'poolW', poolW, 1);
    this.stride = expectInt(fn, 'stride', stride, 1);
    this.pad = expectInt(fn, 'pad', pad, 0);
  }

  outputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length !== 3) throw new ShapeError(`${this.name}: input ${shapeStr(inputShape)} must be (C, H, W)`);
    return [inputShape[0], outExtent(this.name, 'input height', inputShape[1], this.poolH, this.stride, this.pad),
      outExtent(this.name, 'input width', inputShape[2], this.poolW, this.stride, this.pad)];
  }

  protected geometry(x: Tensor): k.WindowGeometry & { OH: number; OW: number } {
    expectTensor(`${this.name}.forward`, 'x', x);
    if (x.shape.length !== 4) throw new ShapeError(`${this.name}.forward: input must be 4-D (N, C, H, W), got ${shapeStr(x.shape)}`);
    const [N, C, H, W] = x.shape;
    const g = { N, C, H, W, FH: this.poolH, FW: this.poolW, stride: this.stride, pad: this.pad };
    return { ...g, ...k.windowOutput(`${this.name}.forward`, g) };
  }

  protected checkDout(dout: Tensor): k.WindowGeometry & { OH: number; OW: number } {
    const g = this.geom;
    if (g === null) throw new Error(`${this.name}.backward: call forward first`);
    expectTensor(`${this.name}.backward`, 'dout', dout);
    const { OH, OW } = k.windowOutput(`${this.name}.backward`, g);
    if (dout.data.length !== g.N * g.C * OH * OW) {
      throw new ShapeError(`${this.name}.backward: dout shape ${shapeStr(dout.shape)} does not match the output shape [${g.N}, ${g.C}, ${OH}, ${OW}]`);
    }
    return { ...g, OH, OW };
  }

  abstract forward(x: Tensor, train?: boolean): Tensor;
  abstract backward(dout: Tensor): Tensor;
}

/**
 * Max pooling over poolH x poolW windows (stride 1 and pad 0 by default, as the course's
 * Pooling). Padding reads as zero, as the course's im2col gives it; the first maximum wins.
 * @example
 *   const pool = new Pooling(2, 2, 2); // (N, C, 24, 24) -> (N, C, 12, 12)
 */
export class Pooling extends PoolingBase {
  readonly name: string = 'Pooling';
  private argmax: Int32Array | null = null;

  constructor(poolH: number, poolW: number, stride = 1, pad = 0) {
    super('Pooling', poolH, poolW, stride, pad);
  }

  forward(x: Tensor, _train = true): Tensor {
    const g = this.geometry(x);
    const out = this.buf.get('out', [g.N, g.C, g.OH, g.OW]);
    const argmax = this.buf.getInt('argmax', out.data.length);
    k.maxPoolForward(x.data, out.data, argmax, g);
    this.geom = g;
    this.argmax = argmax;
    return out;
  }

  backward(dout: Tensor): Tensor {
    const g = this.checkDout(dout);
    const dx = this.buf.get('dx', [g.N, g.C, g.H, g.W]);
    k.maxPoolBackward(dout.data, this.argmax as Int32Array, dx.data, g);
    return dx;
  }
}

/** Average pooling; padded zeros count in the mean. Same arguments as Pooling. */
export class AvgPooling extends PoolingBase {
  readonly name: string = 'AvgPooling';

  constructor(poolH: number, poolW: number, stride = 1, pad = 0) {
    super('AvgPooling', poolH, poolW, stride, pad);
  }

  forward(x: Tensor, _train = true): Tensor {
    const g = this.geometry(x);
    const out = this.buf.get('out', [g.N, g.C, g.OH, g.OW]);
    k.avgPoolForward(x.data, out.data, g);
    this.geom = g;
    return out;
  }

  backward(dout: Tensor): Tensor {
    const g = this.checkDout(dout);
    const dx = this.buf.get('dx', [g.N, g.C, g.H, g.W]);
    k.avgPoolBackward(dout.data, dx.data, g);
    return dx;
  }
}
