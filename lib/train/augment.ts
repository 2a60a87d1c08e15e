// SPDX-License-Identifier: MIT
// Data augmentation by shifted copies: more training images from the same digits, each moved
// by a few pixels (the vacated border is zero, what falls off the edge is lost). Shifts are
// drawn from the library's seeded stream, so setSeed(n) repeats them.
import { describe, expectInt, readOptions, ShapeError } from '../core/errors';
import { random } from '../core/random';
import { asTensor, expectTensor, Tensor } from '../core/tensor';
import { checkLabels, Labels } from '../nn/layers/loss';

/** (channels, height, width) of the images in `x`: [N, C, H, W], [N, H, W] or square [N, H*W]. */
export function imageGeometry(fn: string, x: Tensor): [number, number, number] {
  const s = x.shape;
  if (s.length === 4) return [s[1], s[2], s[3]];
  if (s.length === 3) return [1, s[1], s[2]];
  if (s.length === 2) {
    const side = Math.round(Math.sqrt(s[1]));
    if (side * side === s[1]) return [1, side, side];
    throw new ShapeError(`${fn}: flattened images of ${s[1]} pixels are not square; give x as [N, C, H, W]`);
  }
  throw new ShapeError(`${fn}: x must be images [N, C, H, W], [N, H, W] or square flattened [N, H*W], got shape [${s.join(', ')}]`);
}

/**
 * Every image of `x` moved by shifts[n] = [dy, dx] pixels (down and right when positive): the
 * pixel at (i, j) of the result is the input's (i - dy, j - dx), or 0 where that lies outside.
 * Returns a new tensor of x's shape; every channel of an image moves together.
 * @example
 *   const moved = shiftImages(x, Array.from({ length: x.shape[0] }, () => [1, -2]));
 */
export function shiftImages(x: Tensor, shifts: ReadonlyArray<readonly [number, number]>): Tensor {
  const fn = 'shiftImages';
  x = asTensor(fn, 'x', x);
  const [C, H, W] = imageGeometry(fn, x);
  const N = x.shape[0];
  if (!Array.isArray(shifts) || shifts.length !== N) {
    throw new ShapeError(`${fn}: shifts must hold one [dy, dx] per image (${N}), got ${describe(shifts)}`);
  }
  const P = C * H * W;
  const out = new Float32Array(N * P);
  for (let n = 0; n < N; n++) {
    const sh = shifts[n];
    if (!Array.isArray(sh) || sh.length !== 2 || !Number.isInteger(sh[0]) || !Number.isInteger(sh[1])) {
      throw new TypeError(`${fn}: shifts[${n}] must be [dy, dx] integers, got ${describe(sh)}`);
    }
    shiftInto(x.data, n * P, out, n * P, C, H, W, sh[0], sh[1]);
  }
  return new Tensor(out, [...x.shape]);
}

/**
 * Image src[from..] (C, H, W) moved by (dy, dx) into dst[to..], whose pixels outside the moved
 * image must already be 0. Rows are copied element by element: at 28 pixels a plain loop beats
 * a subarray and set() per row. (The Trainer's augmentShifts uses it too.)
 */
export function shiftInto(src: Float32Array, from: number, dst: Float32Array, to: number, C: number, H: number, W: number,
  dy: number, dx: number): void {
  // Rows and columns of the result that receive a pixel: [i0, i1) x [j0, j1).
  const i0 = Math.max(0, dy), i1 = Math.min(H, H + dy);
  const j0 = Math.max(0, dx), j1 = Math.min(W, W + dx);
  if (i0 >= i1 || j0 >= j1) return;
  for (let c = 0; c < C; c++) {
    const plane = c * H * W;
    for (let i = i0; i < i1; i++) {
      const s = from + plane + (i - dy) * W - dx, d = to + plane + i * W;
      for (let j = j0; j < j1; j++) dst[d + j] = src[s + j];
    }
  }
}

export interface ShiftAugmentOptions {
  /** Largest shift in pixels, each direction drawn uniformly from -maxShift..maxShift (2). */
  maxShift?: number;
}

/**
 * The training set followed by `copies` shifted copies of it: copy k holds every image moved by
 * a shift (dy, dx) drawn for it from the library's random stream (dy first, then dx, image by
 * image, copy by copy), each uniform in -maxShift..maxShift. Labels are repeated to match, as
 * class indices (Int32Array) or rows of a one-hot Tensor. `copies` = 0 returns x and t as they are.
 * @example
 *   setSeed(1);
 *   const { x, t } = shiftAugment(xTrain, tTrain, 3); // 4 times the samples
 */
export function shiftAugment(x: Tensor, t: Labels, copies: number, options?: ShiftAugmentOptions): { x: Tensor; t: Int32Array | Tensor } {
  const fn = 'shiftAugment';
  x = asTensor(fn, 'x', x);
  const o = readOptions(fn, options, ['maxShift']);
  const n = expectInt(fn, 'copies', copies, 0);
  const maxShift = expectInt(fn, 'maxShift', o.maxShift ?? 2, 0);
  const [C, H, W] = imageGeometry(fn, x);
  const N = x.shape[0];
  // Class count for the label check: the one-hot width, or anything above the largest index.
  const classes = t instanceof Tensor ? t.shape[1] : 2 ** 31 - 1;
  const labels = checkLabels(fn, t, N, classes);
  if (n === 0) return { x, t: labels };
  const P = N === 0 ? 0 : x.data.length / N;
  const xs = new Float32Array(N * P * (n + 1));
  xs.set(x.data);
  const span = 2 * maxShift + 1;
  // Each copy written in place (the array starts zeroed): no intermediate tensor per copy.
  for (let c = 1; c <= n; c++) {
    for (let i = 0; i < N; i++) {
      const dy = Math.floor(random() * span) - maxShift;
      const dx = Math.floor(random() * span) - maxShift;
      shiftInto(x.data, i * P, xs, (c * N + i) * P, C, H, W, dy, dx);
    }
  }
  const xOut = new Tensor(xs, [N * (n + 1), ...x.shape.slice(1)]);
  if (labels instanceof Int32Array) {
    const ts = new Int32Array(N * (n + 1));
    for (let c = 0; c <= n; c++) ts.set(labels, c * N);
    return { x: xOut, t: ts };
  }
  const K = labels.shape[1];
  const ts = new Float32Array(N * (n + 1) * K);
  for (let c = 0; c <= n; c++) ts.set(labels.data, c * N * K);
  return { x: xOut, t: new Tensor(ts, [N * (n + 1), K]) };
}
