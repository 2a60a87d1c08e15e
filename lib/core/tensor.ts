// SPDX-License-Identifier: MIT
// The one data type: a shape and a live Float32Array, row-major (NCHW for images).
import { describe, expectFloat32, product, ShapeError } from './errors';

/**
 * Elements of a Float32Array now, from its byteLength: in Node 20's optimized code, `length` of
 * a typed array whose memory was just detached can read its old value once length-tracking
 * arrays (over a resizable ArrayBuffer) have been seen at the same place; `byteLength` reads 0.
 */
export function elements(a: Float32Array): number {
  return a.byteLength >>> 2;
}

/**
 * A row-major array of float32 values. `data` is the live buffer: nothing copies it behind your
 * back. `shape` is frozen: a tensor's shape cannot be changed after it is made (reshape() gives
 * another view of the same buffer).
 */
export class Tensor {
  readonly shape: number[];
  readonly data: Float32Array;

  constructor(data: Float32Array, shape: readonly number[]) {
    checkShape('Tensor', shape);
    expectFloat32('Tensor', 'data', data);
    const n = product('Tensor', 'shape', shape);
    if (elements(data) !== n) {
      throw new ShapeError(`Tensor: data has ${elements(data)} elements but shape [${shape.join(', ')}] needs ${n}`);
    }
    this.shape = Object.freeze([...shape]) as number[];
    this.data = data;
  }

  /** Number of elements. */
  get size(): number {
    return this.data.length;
  }

  /** A tensor of zeros. */
  static zeros(shape: readonly number[]): Tensor {
    checkShape('Tensor.zeros', shape);
    return new Tensor(new Float32Array(product('Tensor.zeros', 'shape', shape)), shape);
  }

  /** A copy with its own buffer. */
  clone(): Tensor {
    return new Tensor(this.data.slice(), this.shape);
  }

  /** The same buffer seen with another shape of the same size (no copy). */
  reshape(shape: readonly number[]): Tensor {
    return new Tensor(this.data, shape);
  }

  /**
   * Rows start..end-1 along the first axis as a view on the same buffer (no copy), as numpy's
   * `x[start:end]`: negative positions count from the end and positions past the end are
   * clamped, as in Python slices. `x.rows(0, 300)` is the course's `x[:300]`.
   * @example
   *   const xSmall = xTrain.rows(0, 300);   // x_train[:300], shares xTrain's memory
   */
  rows(start: number, end: number = this.shape[0]): Tensor {
    const fn = 'Tensor.rows';
    if (this.shape.length === 0) throw new ShapeError(`${fn}: a tensor of shape [] has no rows`);
    const n = this.shape[0];
    const at = (v: unknown, name: string): number => {
      if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${fn}: ${name} must be an integer, got ${describe(v)}`);
      return v < 0 ? Math.max(0, n + v) : Math.min(n, v);
    };
    const a = at(start, 'start'), b = at(end, 'end');
    if (b <= a) {
      throw new RangeError(`${fn}: rows(${start}, ${end}) selects no rows of a tensor with ${n} (a Tensor cannot be empty)`);
    }
    const per = this.data.length / n;
    return new Tensor(this.data.subarray(a * per, b * per), [b - a, ...this.shape.slice(1)]);
  }

  /**
   * The rows at `indices` along the first axis, copied into a new tensor in that order, as
   * numpy's `x[batch_mask]` with an index array (negative indices count from the end).
   * @example
   *   const batchMask = choice(xTrain.shape[0], 100);
   *   const xBatch = xTrain.take(batchMask);   // x_train[batch_mask]
   */
  take(indices: ArrayLike<number>): Tensor {
    const fn = 'Tensor.take';
    if (this.shape.length === 0) throw new ShapeError(`${fn}: a tensor of shape [] has no rows`);
    const idx = checkIndices(fn, indices, this.shape[0]);
    const per = this.data.length / this.shape[0];
    const out = new Float32Array(idx.length * per);
    for (let i = 0; i < idx.length; i++) out.set(this.data.subarray(idx[i] * per, (idx[i] + 1) * per), i * per);
    return new Tensor(out, [idx.length, ...this.shape.slice(1)]);
  }

  /** Nested arrays, for printing and tests. */
  toArray(): unknown[] {
    const build = (offset: number, dim: number): unknown[] => {
      const n = this.shape[dim];
      const stride = this.shape.slice(dim + 1).reduce((a, b) => a * b, 1);
      const out: unknown[] = [];
      for (let i = 0; i < n; i++) {
        out.push(dim === this.shape.length - 1 ? this.data[offset + i] : build(offset + i * stride, dim + 1));
      }
      return out;
    };
    return this.shape.length === 0 ? [this.data[0]] : build(0, 0);
  }
}

/** Integer indices into n rows, negative ones counted from the end; at least one. */
function checkIndices(fn: string, indices: unknown, n: number): Int32Array {
  const ok = Array.isArray(indices) || (ArrayBuffer.isView(indices) && !(indices instanceof DataView) && !(indices instanceof BigInt64Array) && !(indices instanceof BigUint64Array));
  if (!ok) throw new TypeError(`${fn}: indices must be an array or typed array of integers, got ${describe(indices)}`);
  const src = indices as ArrayLike<unknown>;
  if (src.length === 0) throw new RangeError(`${fn}: indices must not be empty (a Tensor cannot be empty)`);
  const out = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${fn}: indices[${i}] must be an integer, got ${describe(v)}`);
    if (v < -n || v >= n) throw new RangeError(`${fn}: indices[${i}] = ${v} is out of range for ${n} rows (valid: ${-n} to ${n - 1})`);
    out[i] = v < 0 ? n + v : v;
  }
  return out;
}

type IntArray = Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array | Uint32Array;

/**
 * The elements (or rows) at `indices`, copied in that order: the course's `t[batch_mask]` on
 * a label array (any integer typed array or Float32Array keeps its type) or a Tensor.
 * @example
 *   const batchMask = choice(60000, 100);
 *   const tBatch = take(tTrain, batchMask);   // t_train[batch_mask]
 */
export function take<T extends Tensor | IntArray | Float32Array | Float64Array>(a: T, indices: ArrayLike<number>): T {
  if (a instanceof Tensor) return a.take(indices) as T;
  const fn = 'take';
  if (!ArrayBuffer.isView(a) || a instanceof DataView || a instanceof BigInt64Array || a instanceof BigUint64Array) {
    throw new TypeError(`${fn}: a must be a Tensor or a typed array (labels), got ${describe(a)}`);
  }
  const src = a as Exclude<T, Tensor>;
  const idx = checkIndices(fn, indices, src.length);
  const Ctor = src.constructor as new (n: number) => Exclude<T, Tensor>;
  const out = new Ctor(idx.length);
  for (let i = 0; i < idx.length; i++) out[i] = src[idx[i]];
  return out as T;
}

/**
 * The index of the largest value of each row (the first one on ties), as numpy's
 * `np.argmax(y, axis=1)`: the predicted class of each sample of `net.predict(x)`.
 * @example
 *   const pred = argmax(net.predict(xTest.rows(0, 20)));   // Int32Array(20)
 */
export function argmax(y: Tensor): Int32Array {
  y = asTensor('argmax', 'y', y);
  if (y.shape.length < 1) throw new ShapeError('argmax: y must have at least one axis (rows), got shape []');
  const N = y.shape.length === 1 ? 1 : y.shape[0];
  const per = y.data.length / N;
  const out = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    let best = 0, bv = y.data[i * per];
    for (let j = 1; j < per; j++) {
      const v = y.data[i * per + j];
      if (v > bv || (Number.isNaN(v) && !Number.isNaN(bv))) { bv = v; best = j; }
    }
    out[i] = best;
  }
  return out;
}

function checkShape(fn: string, shape: unknown): asserts shape is number[] {
  if (!Array.isArray(shape)) throw new TypeError(`${fn}: shape must be an array of positive integers, got ${describe(shape)}`);
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 1) {
      throw new RangeError(`${fn}: shape[${i}] must be a positive integer, got ${describe(d)}`);
    }
  }
}

/**
 * Makes a Tensor. `data` may be a Float32Array (used as is, not copied), or numbers /
 * nested arrays (copied into a new Float32Array). Without `shape`, nested arrays give it.
 * @example
 *   const x = tensor([[1, 2], [3, 4]]);            // shape [2, 2]
 *   const y = tensor(new Float32Array(6), [2, 3]); // wraps the buffer
 */
export function tensor(data: Float32Array | ArrayLike<number> | unknown[], shape?: readonly number[]): Tensor {
  if (shape !== undefined && !Array.isArray(shape)) {
    throw new TypeError(`tensor: shape must be an array of positive integers (or left out), got ${describe(shape)}`);
  }
  if (data instanceof Float32Array) {
    return new Tensor(data, shape ?? [data.length]);
  }
  if (ArrayBuffer.isView(data)) {
    const arr = Float32Array.from(data as unknown as ArrayLike<number>);
    return new Tensor(arr, shape ?? [arr.length]);
  }
  if (!Array.isArray(data)) throw new TypeError(`tensor: data must be a Float32Array or an array of numbers, got ${describe(data)}`);
  const inferred: number[] = [];
  let level: unknown = data;
  while (Array.isArray(level)) {
    inferred.push(level.length);
    level = level[0];
  }
  const flat = (data as unknown[]).flat(Infinity) as unknown[];
  for (let i = 0; i < flat.length; i++) {
    if (typeof flat[i] !== 'number') throw new TypeError(`tensor: element ${i} must be a number, got ${describe(flat[i])}`);
  }
  const arr = Float32Array.from(flat as number[]);
  const s = shape ?? inferred;
  if (!shape && product('tensor', 'data', s) !== arr.length) {
    throw new ShapeError(`tensor: nested arrays are ragged (shape [${s.join(', ')}] from the first elements, ${arr.length} numbers in all)`);
  }
  return new Tensor(arr, s);
}

/**
 * The checked Tensor of an argument: a Tensor as it is (its data length checked again), or a
 * tensor-like { shape, data } read once (each property one read, the shape copied) and wrapped
 * in a Tensor over the same data. Entry points use this rather than reading a caller's object
 * again after checking it: a getter that answers differently on a later read (a shape of
 * [1, 2 ** 31] after an honest one) cannot reach a loop or an allocation.
 * @example
 *   x = asTensor('Affine.forward', 'x', x);
 */
export function asTensor(fn: string, name: string, v: unknown): Tensor {
  if (v instanceof Tensor) {
    expectTensor(fn, name, v);
    return v;
  }
  if (v === null || typeof v !== 'object') expectTensor(fn, name, v);
  const o = v as { shape?: unknown; data?: unknown };
  const shape = o.shape;
  const data = o.data;
  const snapshot = { shape: Array.isArray(shape) ? [...shape] : shape, data };
  expectTensor(fn, name, snapshot);
  return new Tensor(snapshot.data, snapshot.shape);
}

/**
 * Throws unless v is a Tensor, or a tensor-like { shape, data: Float32Array } whose shape is
 * an array of positive integers with data.length elements in all (a TypeError for the wrong
 * kind of value, a ShapeError when shape and data disagree). A Tensor's frozen shape was
 * checked by its constructor, and its data length is checked again (memory can be detached or
 * shrunk later); a plain object is checked at every call, so a lying shape never reaches a
 * loop or a kernel.
 */
export function expectTensor(fn: string, name: string, v: unknown): asserts v is Tensor {
  if (v instanceof Tensor) {
    // Its shape is frozen, but its memory may have been detached (transferred to a worker) or
    // a resizable buffer under it shrunk since it was made.
    let n = 1;
    for (const d of v.shape) n *= d;
    if (elements(v.data) !== n) {
      throw new ShapeError(`${fn}: ${name} has shape [${v.shape.join(', ')}] (${n} elements) but its data now holds ${elements(v.data)} `
        + '(its memory was detached or resized after the Tensor was made)');
    }
    return;
  }
  const o = v as { shape?: unknown; data?: unknown };
  if (!o || typeof o !== 'object' || !Array.isArray(o.shape) || !(o.data instanceof Float32Array)) {
    throw new TypeError(`${fn}: ${name} must be a Tensor ({ shape, data: Float32Array }), got ${describe(v)}`);
  }
  const shape = o.shape as unknown[];
  let n = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 1) {
      throw new ShapeError(`${fn}: ${name}.shape[${i}] must be a positive integer, got ${describe(d)}`);
    }
    n *= d;
  }
  if (n !== elements(o.data)) {
    throw new ShapeError(`${fn}: ${name} has shape [${shape.join(', ')}] (${n} elements) but its data holds ${elements(o.data)}`);
  }
}
