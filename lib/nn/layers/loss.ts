// SPDX-License-Identifier: MIT
// Softmax followed by cross-entropy, as one layer (its backward is y - t).
import { describe, ShapeError } from '../../core/errors';
import * as k from '../../core/kernels';
import { Tensor, asTensor, expectTensor } from '../../core/tensor';
import { Buffers, shapeStr } from './layer';

const { log } = Math;

/**
 * Class indices (any integer typed array, e.g. the Uint8Array of readIdxLabels, or number[])
 * or a one-hot Tensor (N, classes).
 */
export type Labels = Int32Array | Uint8Array | Uint8ClampedArray | Int8Array | Int16Array | Uint16Array | Uint32Array
  | readonly number[] | Tensor;

/** Checks labels against (N, classes) and returns them as class indices or the one-hot tensor. */
/** Any typed array of integers: what readIdxLabels returns (Uint8Array) as well as Int32Array. */
function isIntegerArray(t: unknown): t is Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array | Uint32Array {
  return t instanceof Int32Array || t instanceof Uint8Array || t instanceof Int8Array || t instanceof Uint8ClampedArray
    || t instanceof Int16Array || t instanceof Uint16Array || t instanceof Uint32Array;
}

export function checkLabels(fn: string, t: unknown, N: number, classes: number): Int32Array | Tensor {
  if (isIntegerArray(t) || Array.isArray(t)) {
    const arr = t as ArrayLike<number>;
    if (arr.length !== N) throw new ShapeError(`${fn}: t has ${arr.length} labels but x has ${N} rows`);
    for (let i = 0; i < arr.length; i++) {
      const v = arr[i];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= classes) {
        throw new RangeError(`${fn}: t[${i}] must be a class index in [0, ${classes - 1}], got ${describe(v)}`);
      }
    }
    return t instanceof Int32Array ? t : Int32Array.from(arr);
  }
  const o = t as { shape?: unknown; data?: unknown };
  if (o && typeof o === 'object' && Array.isArray(o.shape) && o.data instanceof Float32Array) {
    // A tensor-like's shape is checked against its data like any tensor argument's.
    t = asTensor(fn, 't', t);
    const tt = t as Tensor;
    if (tt.shape.length !== 2 || tt.shape[0] !== N || tt.shape[1] !== classes) {
      throw new ShapeError(`${fn}: one-hot t has shape ${shapeStr(tt.shape)}, x needs [${N}, ${classes}]`);
    }
    return tt;
  }
  throw new TypeError(`${fn}: t must be class indices (an integer typed array such as Int32Array or Uint8Array, or number[]) or a one-hot Tensor, got ${describe(t)}`);
}

/** Row-wise arg max of a (rows, cols) buffer into out. */
export function argmaxRows(data: Float32Array, rows: number, cols: number, out: Int32Array): Int32Array {
  for (let r = 0; r < rows; r++) {
    let best = -Infinity, at = 0;
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const v = data[base + c];
      if (v > best) { best = v; at = c; }
    }
    out[r] = at;
  }
  return out;
}

/**
 * Softmax + cross-entropy error, with the course's 1e-7 inside the log.
 * forward(x, t) returns the mean loss over the batch; backward(dout = 1) returns dx = dout * (y - t) / N.
 * @example
 *   const loss = new SoftmaxWithLoss().forward(scores, labels);
 */
export class SoftmaxWithLoss {
  readonly name = 'SoftmaxWithLoss';
  readonly params: Record<string, Tensor> = {};
  readonly grads: Record<string, Tensor> = {};
  /** Softmax output of the last forward, (N, classes). */
  y: Tensor | null = null;
  /** Labels of the last forward: class indices or the one-hot tensor. */
  t: Int32Array | Tensor | null = null;
  /** Loss of the last forward. */
  loss = NaN;
  private readonly buf = new Buffers();

  forward(x: Tensor, t: Labels): number {
    x = asTensor('SoftmaxWithLoss.forward', 'x', x);
    if (x.shape.length !== 2) throw new ShapeError(`SoftmaxWithLoss.forward: x must be 2-D (N, classes), got ${shapeStr(x.shape)}`);
    const [N, C] = x.shape;
    const labels = checkLabels('SoftmaxWithLoss.forward', t, N, C);
    const y = this.buf.get('y', x.shape);
    const ys = y.data;
    // Each row: exp(x - max) / sum(exp(x - max)), in double, as the course's softmax (native).
    k.softmax(x.data, ys, N, C);
    // One-hot labels are turned into indices by arg max, as the course's cross_entropy_error does.
    const idx = labels instanceof Int32Array ? labels : argmaxRows(labels.data, N, C, this.buf.getInt('idx', N));
    let total = 0;
    for (let r = 0; r < N; r++) total += log(ys[r * C + idx[r]] + 1e-7);
    this.y = y;
    this.t = labels;
    this.loss = -total / N;
    return this.loss;
  }

  backward(dout = 1): Tensor {
    const y = this.y, t = this.t;
    if (y === null || t === null) throw new Error('SoftmaxWithLoss.backward: call forward first');
    if (typeof dout !== 'number' || !Number.isFinite(dout)) {
      throw new TypeError(`SoftmaxWithLoss.backward: dout must be a finite number, got ${describe(dout)}`);
    }
    const [N, C] = y.shape;
    const dx = this.buf.get('dx', y.shape);
    const ys = y.data, g = dx.data;
    const scale = dout / N;
    if (t instanceof Int32Array) {
      for (let i = 0; i < ys.length; i++) g[i] = ys[i] * scale;
      for (let r = 0; r < N; r++) g[r * C + t[r]] -= scale;
    } else {
      const ts = t.data;
      for (let i = 0; i < ys.length; i++) g[i] = (ys[i] - ts[i]) * scale;
    }
    return dx;
  }
}
