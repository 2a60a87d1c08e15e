// SPDX-License-Identifier: MIT
// Convolution (im2col, gemm and bias in one native call) and pooling layers, NCHW.
import * as k from '../../core/kernels';
import { expectBoolean, expectInt, outExtent, readOptions, ShapeError } from '../../core/errors';
import { Tensor, asTensor, expectTensor } from '../../core/tensor';
import { Buffers, Layer, shapeStr } from './layer';

/**
 * How a Convolution computes: 'im2col' is the course's im2col + matrix product (sgemm);
 * 'winograd' is Winograd's F(2x2, 3x3) algorithm, for 3x3 windows at stride 1 with pad <= 2 and
 * channel counts (input and filters) that are multiples of 8: 2.25x fewer multiplications, the
 * same results within float rounding; 'direct' computes thin layers (stride 1, at most 32 taps
 * C·FH·FW, such as a first layer on grey images) straight from the padded input, without
 * building im2col columns, the same results within float rounding; 'winograd' and 'direct' are
 * a RangeError where they do not apply. 'auto' takes each where it applies and is the faster
 * one: Winograd with AVX2 or AVX-512 vectors for every such layer (with the baseline's 128-bit
 * vectors only from 64 input x 64 output channels), 'direct' with AVX2 vectors and, with
 * AVX-512, for the forward pass only; im2col elsewhere.
 */
export type ConvAlgorithm = 'auto' | 'im2col' | 'winograd' | 'direct';
export const CONV_ALGORITHMS: readonly ConvAlgorithm[] = ['auto', 'im2col', 'winograd', 'direct'];

/** The kernels' algorithm argument (contract.ts): 0 auto, 1 im2col, 2 Winograd, 3 direct. */
export function convAlgorithmCode(a: ConvAlgorithm): number {
  return CONV_ALGORITHMS.indexOf(a);
}

/**
 * The default algorithm of new Convolution layers: 'auto', or 'im2col' when the environment
 * variable BLASNET_CONV_ALGORITHM says so (the switch that turns Winograd and the direct
 * kernels off everywhere, to compare or to rule them out; 'auto' is the other value it takes).
 */
export function defaultConvAlgorithm(): ConvAlgorithm {
  const raw = process.env.BLASNET_CONV_ALGORITHM;
  const v = (raw ?? '').trim().toLowerCase();
  if (v === '' || v === 'auto') return 'auto';
  if (v === 'im2col') return 'im2col';
  throw new RangeError(`BLASNET_CONV_ALGORITHM must be auto or im2col, got '${raw}'`);
}

export interface ConvolutionOptions {
  /** Skip dx in backward unless asked for (see Layer.backward's inputGradient). */
  skipInputGradient?: boolean;
  /** 'auto' (the default; 'im2col' under BLASNET_CONV_ALGORITHM=im2col), 'im2col', 'winograd' or 'direct': see ConvAlgorithm. */
  algorithm?: ConvAlgorithm;
}

/**
 * The geometry of a convolution with filters W (FN, C, FH, FW) over x, checked: x must be
 * 4-D with C channels and the window must fit. Errors name `fn`.
 */
export function convGeometry(fn: string, W: Tensor, stride: number, pad: number, x: Tensor):
  k.ConvGeometry & { OH: number; OW: number } {
  x = asTensor(fn, 'x', x);
  const [FN, C, FH, FW] = W.shape;
  if (x.shape.length !== 4) throw new ShapeError(`${fn}: input must be 4-D (N, C, H, W), got ${shapeStr(x.shape)}`);
  if (x.shape[1] !== C) throw new ShapeError(`${fn}: input has ${x.shape[1]} channels ${shapeStr(x.shape)}, the layer expects ${C}`);
  const [N, , H, Wd] = x.shape;
  const g = { N, C, H, W: Wd, FN, FH, FW, stride, pad };
  return { ...g, ...k.windowOutput(fn, g) };
}

/**
 * 2-D convolution with filters W (FN, C, FH, FW) and bias b (FN); out (N, FN, OH, OW) with
 * OH = (H + 2*pad - FH) / stride + 1 (floor), as the course's im2col. A 3x3, stride-1 layer
 * whose channel counts are multiples of 8 (DeepConvNet's second to sixth) computes the same
 * convolution with Winograd's F(2x2, 3x3) where that is faster, equal within float rounding;
 * `{ algorithm: 'im2col' }` keeps the course's method (see ConvAlgorithm).
 * @example
 *   const conv = new Convolution(W, b, 1, 0); // W: [30, 1, 5, 5], b: [30]
 *   const y = conv.forward(x);               // x: [N, 1, 28, 28] -> y: [N, 30, 24, 24]
 *   const c2 = new Convolution(W2, b2, 1, 1, { algorithm: 'im2col' }); // W2: [16, 16, 3, 3]
 */
export class Convolution implements Layer {
  readonly name = 'Convolution';
  readonly params: { W: Tensor; b: Tensor };
  readonly grads: { W: Tensor; b: Tensor };
  readonly stride: number;
  readonly pad: number;
  /** backward() skips dx unless its inputGradient argument asks for it. */
  readonly skipInputGradient: boolean;
  /** How it computes: 'auto' (Winograd or the direct kernels where they apply and pay, im2col elsewhere), 'im2col', 'winograd' or 'direct'. */
  readonly algorithm: ConvAlgorithm;
  private readonly buf = new Buffers();
  private x: Tensor | null = null;

  constructor(W: Tensor, b: Tensor, stride = 1, pad = 0, options?: ConvolutionOptions) {
    const o = readOptions('Convolution', options, ['skipInputGradient', 'algorithm']);
    W = asTensor('Convolution', 'W', W);
    b = asTensor('Convolution', 'b', b);
    if (W.shape.length !== 4) throw new ShapeError(`Convolution: W must be 4-D (FN, C, FH, FW), got ${shapeStr(W.shape)}`);
    if (b.data.length !== W.shape[0]) {
      throw new ShapeError(`Convolution: b must have ${W.shape[0]} elements to match W ${shapeStr(W.shape)}, got ${shapeStr(b.shape)}`);
    }
    this.stride = expectInt('Convolution', 'stride', stride, 1);
    this.pad = expectInt('Convolution', 'pad', pad, 0);
    this.params = { W, b };
    this.grads = { W: Tensor.zeros(W.shape), b: Tensor.zeros(b.shape) };
    this.skipInputGradient = o.skipInputGradient === undefined ? false : expectBoolean('Convolution', 'options.skipInputGradient', o.skipInputGradient);
    const algorithm = o.algorithm === undefined ? defaultConvAlgorithm() : o.algorithm;
    if (!(CONV_ALGORITHMS as readonly unknown[]).includes(algorithm)) {
      throw new RangeError(`Convolution: algorithm must be one of ${CONV_ALGORITHMS.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(algorithm)}`);
    }
    this.algorithm = algorithm;
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
    x = asTensor('Convolution.forward', 'x', x);
    const g = convGeometry('Convolution.forward', this.params.W, this.stride, this.pad, x);
    const { N, FN, OH: outH, OW: outW } = g;
    // The course's forward:
    //   col = im2col(x, FH, FW, stride, pad)      (N*outH*outW, C*FH*FW)
    //   col_W = W.reshape(FN, -1).T               (C*FH*FW, FN)
    //   out = np.dot(col, col_W) + b              (N*outH*outW, FN)
    //   out = out.reshape(N, outH, outW, -1).transpose(0, 3, 1, 2)
    // One native call does these steps sample by sample, each sample's columns in a cache-sized
    // scratch, and writes out in (N, FN, outH, outW) order directly; backward recomputes the
    // columns from x instead of keeping col for the whole batch.
    const out = this.buf.get('out', [N, FN, outH, outW]);
    k.convForward(x.data, this.params.W.data, this.params.b.data, out.data, g, convAlgorithmCode(this.algorithm));
    this.x = x;
    return out;
  }

  backward(dout: Tensor, inputGradient = !this.skipInputGradient): Tensor {
    const x = this.x;
    if (x === null) throw new Error('Convolution.backward: call forward first');
    expectBoolean('Convolution.backward', 'inputGradient', inputGradient);
    dout = asTensor('Convolution.backward', 'dout', dout);
    const g = convGeometry('Convolution.backward', this.params.W, this.stride, this.pad, x);
    const outShape = [g.N, g.FN, g.OH, g.OW];
    if (dout.data.length !== g.N * g.FN * g.OH * g.OW) {
      throw new ShapeError(`Convolution.backward: dout shape ${shapeStr(dout.shape)} does not match the output shape ${shapeStr(outShape)}`);
    }
    // The course's backward (dout as (N*outH*outW, FN)):
    //   db = np.sum(dout, axis=0)
    //   dW = np.dot(col.T, dout), reshaped to (FN, C, FH, FW)
    //   dcol = np.dot(dout, col_W.T);  dx = col2im(dcol, x.shape, FH, FW, stride, pad)
    // Again one native call, sample by sample (dx skipped when nobody needs it).
    const dx = inputGradient ? this.buf.get('dx', x.shape) : null;
    k.convBackward(dout.data, x.data, this.params.W.data, this.grads.W.data, this.grads.b.data,
      dx ? dx.data : null, g, convAlgorithmCode(this.algorithm));
    return dx ?? this.buf.get('dxSkipped', x.shape);
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
    x = asTensor(`${this.name}.forward`, 'x', x);
    if (x.shape.length !== 4) throw new ShapeError(`${this.name}.forward: input must be 4-D (N, C, H, W), got ${shapeStr(x.shape)}`);
    const [N, C, H, W] = x.shape;
    const g = { N, C, H, W, FH: this.poolH, FW: this.poolW, stride: this.stride, pad: this.pad };
    return { ...g, ...k.windowOutput(`${this.name}.forward`, g) };
  }

  /** dout read once and checked against the last forward's output: its Tensor and the geometry. */
  protected checkDout(arg: Tensor): { dout: Tensor; g: k.WindowGeometry & { OH: number; OW: number } } {
    const g = this.geom;
    if (g === null) throw new Error(`${this.name}.backward: call forward first`);
    const dout = asTensor(`${this.name}.backward`, 'dout', arg);
    const { OH, OW } = k.windowOutput(`${this.name}.backward`, g);
    if (dout.data.length !== g.N * g.C * OH * OW) {
      throw new ShapeError(`${this.name}.backward: dout shape ${shapeStr(dout.shape)} does not match the output shape [${g.N}, ${g.C}, ${OH}, ${OW}]`);
    }
    return { dout, g: { ...g, OH, OW } };
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
    x = asTensor(`${this.name}.forward`, 'x', x);
    const g = this.geometry(x);
    const out = this.buf.get('out', [g.N, g.C, g.OH, g.OW]);
    const argmax = this.buf.getInt('argmax', out.data.length);
    k.maxPoolForward(x.data, out.data, argmax, g);
    this.geom = g;
    this.argmax = argmax;
    return out;
  }

  backward(dout: Tensor): Tensor {
    const { dout: d, g } = this.checkDout(dout);
    dout = d;
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
    x = asTensor(`${this.name}.forward`, 'x', x);
    const g = this.geometry(x);
    const out = this.buf.get('out', [g.N, g.C, g.OH, g.OW]);
    k.avgPoolForward(x.data, out.data, g);
    this.geom = g;
    return out;
  }

  backward(dout: Tensor): Tensor {
    const { dout: d, g } = this.checkDout(dout);
    dout = d;
    const dx = this.buf.get('dx', [g.N, g.C, g.H, g.W]);
    k.avgPoolBackward(dout.data, dx.data, g);
    return dx;
  }
}
