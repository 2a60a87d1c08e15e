// SPDX-License-Identifier: MIT
// Shifted-copy augmentation against a naive reference written here: a pixel-by-pixel lookup
// with bounds checks, and the library's random stream replayed to know which shifts were drawn.
import { describe, expect, test } from '@jest/globals';
import { setSeed, shiftAugment, shiftImages, ShapeError, Tensor } from '../lib';
import { random } from '../lib/core/random';
import { Rng } from './helpers/random';

/** out[n][c][i][j] = x[n][c][i - dy][j - dx], or 0 outside: one pixel at a time. */
function naiveShift(x: Float32Array, N: number, C: number, H: number, W: number, shifts: number[][]): Float32Array {
  const out = new Float32Array(N * C * H * W);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < H; i++) {
        for (let j = 0; j < W; j++) {
          const si = i - shifts[n][0], sj = j - shifts[n][1];
          const inside = si >= 0 && si < H && sj >= 0 && sj < W;
          out[((n * C + c) * H + i) * W + j] = inside ? x[((n * C + c) * H + si) * W + sj] : 0;
        }
      }
    }
  }
  return out;
}

describe('shiftImages', () => {
  test('equals the naive lookup for every shift in -6..6 on 2-channel 5x4 images (including shifts off the image)', () => {
    const rng = new Rng(5);
    const shifts: number[][] = [];
    for (let dy = -6; dy <= 6; dy++) for (let dx = -6; dx <= 6; dx++) shifts.push([dy, dx]);
    const N = shifts.length, C = 2, H = 5, W = 4;
    const x = new Tensor(rng.floats(N * C * H * W), [N, C, H, W]);
    const got = shiftImages(x, shifts as [number, number][]);
    expect(got.shape).toEqual([N, C, H, W]);
    expect(Array.from(got.data)).toEqual(Array.from(naiveShift(x.data, N, C, H, W, shifts)));
    // The input is left as it was; a zero shift copies.
    expect(got.data).not.toBe(x.data);
    const zero = shiftImages(x, shifts.map(() => [0, 0]));
    expect(Array.from(zero.data)).toEqual(Array.from(x.data));
  });

  test('flattened square images and [N, H, W] work as one channel', () => {
    const rng = new Rng(6);
    const x = new Tensor(rng.floats(3 * 36), [3, 36]);
    const shifts = [[1, 2], [-2, 0], [0, -1]];
    expect(Array.from(shiftImages(x, shifts as [number, number][]).data)).toEqual(Array.from(naiveShift(x.data, 3, 1, 6, 6, shifts)));
    const x3 = new Tensor(x.data, [3, 6, 6]);
    expect(shiftImages(x3, shifts as [number, number][]).shape).toEqual([3, 6, 6]);
  });

  test('bad input is named', () => {
    expect(() => shiftImages(Tensor.zeros([2, 10]), [[0, 0], [0, 0]])).toThrow(/10 pixels are not square/);
    expect(() => shiftImages(Tensor.zeros([2, 4]), [[0, 0]])).toThrow(ShapeError);
    expect(() => shiftImages(Tensor.zeros([1, 4]), [[0.5, 0]] as never)).toThrow(/shifts\[0\]/);
    expect(() => shiftImages(Tensor.zeros([4]), [])).toThrow(/\[N, C, H, W\]/);
  });
});

describe('shiftAugment', () => {
  test('the originals, then each copy shifted by the draws of the seeded stream (dy then dx, image by image)', () => {
    const rng = new Rng(7);
    const N = 4, H = 7, W = 7;
    const x = new Tensor(rng.floats(N * H * W), [N, 1, H, W]);
    const t = Int32Array.from([3, 1, 4, 1]);
    setSeed(42);
    const got = shiftAugment(x, t, 2, { maxShift: 3 });
    // Replay the stream: 2 copies x 4 images x (dy, dx), each uniform in -3..3.
    setSeed(42);
    const want: number[] = Array.from(x.data);
    const seen = new Set<string>();
    for (let c = 0; c < 2; c++) {
      const shifts: number[][] = [];
      for (let n = 0; n < N; n++) {
        const dy = Math.floor(random() * 7) - 3, dx = Math.floor(random() * 7) - 3;
        shifts.push([dy, dx]);
        seen.add(`${dy},${dx}`);
      }
      want.push(...naiveShift(x.data, N, 1, H, W, shifts));
    }
    expect(got.x.shape).toEqual([12, 1, H, W]);
    expect(Array.from(got.x.data)).toEqual(want);
    expect(Array.from(got.t as Int32Array)).toEqual([3, 1, 4, 1, 3, 1, 4, 1, 3, 1, 4, 1]);
    expect(seen.size).toBeGreaterThan(1);
  });

  test('shifts stay within maxShift (default 2) and cover the range', () => {
    // One bright pixel in the middle of a 9x9 image shows where each copy moved it.
    const N = 400, S = 9;
    const x = Tensor.zeros([N, S * S]);
    for (let n = 0; n < N; n++) x.data[n * S * S + 4 * S + 4] = 1;
    setSeed(1);
    const { x: out } = shiftAugment(x, new Int32Array(N), 1);
    const moves = new Set<string>();
    for (let n = 0; n < N; n++) {
      const img = out.data.subarray((N + n) * S * S, (N + n + 1) * S * S);
      const at = img.indexOf(1);
      moves.add(`${Math.floor(at / S) - 4},${(at % S) - 4}`);
    }
    const want = new Set<string>();
    for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) want.add(`${dy},${dx}`);
    expect(moves).toEqual(want);
  });

  test('one-hot labels repeat as rows; 0 copies returns the data; Uint8Array labels become class indices', () => {
    const x = new Tensor(new Rng(8).floats(2 * 16), [2, 16]);
    const onehot = new Tensor(Float32Array.from([0, 1, 1, 0]), [2, 2]);
    const r = shiftAugment(x, onehot, 1);
    expect((r.t as Tensor).shape).toEqual([4, 2]);
    expect(Array.from((r.t as Tensor).data)).toEqual([0, 1, 1, 0, 0, 1, 1, 0]);
    const same = shiftAugment(x, Uint8Array.from([2, 5]), 0);
    expect(same.x).toBe(x);
    expect(Array.from(same.t as Int32Array)).toEqual([2, 5]);
    expect(() => shiftAugment(x, [1], 1)).toThrow(/1 labels but x has 2 rows/);
    expect(() => shiftAugment(x, [1, 2], -1)).toThrow(/copies/);
    expect(() => shiftAugment(x, [1, 2], 1, { shift: 2 } as never)).toThrow(/unknown option 'shift'.*maxShift/);
  });
});
