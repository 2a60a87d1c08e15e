// SPDX-License-Identifier: MIT
// The same inputs give the same bits at any thread count: every split of the work is fixed by
// the data's shape (sample blocks for the convolution's weight gradient, slices for large
// gemms), and partial sums are added in a fixed order. Checked at 1, 2, 3, 4 and 8 threads on
// the kernels that reduce (convolution backward, split gemms), on training steps of the
// course's two CNNs, and in two worker_threads training at the same time.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash } from 'crypto';
import * as path from 'path';
import { Worker } from 'worker_threads';
import * as K from '../lib/core/kernels';
import { Adam, DeepConvNet, setSeed, SimpleConvNet, Tensor } from '../lib';
import type { Sequential } from '../lib';
import { ensureBuilt, ROOT } from './helpers/dist';
import { Rng } from './helpers/random';

const THREADS = [1, 2, 3, 4, 8];
const initialThreads = K.getNumThreads();
afterAll(() => K.setNumThreads(initialThreads));

const hash = (...arrays: ArrayLike<number>[]): string => {
  const h = createHash('sha256');
  for (const a of arrays) h.update(Buffer.from((a as Float32Array).buffer, (a as Float32Array).byteOffset, (a as Float32Array).byteLength));
  return h.digest('hex');
};

/** fn's result hash at each thread count (all equal when deterministic). */
function perThreads(fn: () => string): Record<number, string> {
  const out: Record<number, string> = {};
  for (const t of THREADS) {
    K.setNumThreads(t);
    out[t] = fn();
  }
  K.setNumThreads(initialThreads);
  return out;
}

function expectAllEqual(byThreads: Record<number, string>): void {
  const first = byThreads[THREADS[0]];
  for (const t of THREADS) expect(`${t} threads: ${byThreads[t]}`).toBe(`${t} threads: ${first}`);
}

describe('kernels that sum over the batch', () => {
  const rng = new Rng(91);
  // 48 samples: 24 blocks of 2; enough work that every thread count really splits it.
  const g = { N: 48, C: 3, H: 16, W: 16, FN: 8, FH: 3, FW: 3, stride: 1, pad: 1 };
  const S = 16 * 16, KK = 3 * 3 * 3;
  const x = rng.floats(g.N * g.C * g.H * g.W), W = rng.floats(g.FN * KK), b = rng.floats(g.FN);
  const dout = rng.floats(g.N * g.FN * S, -1, 1);

  test('convolution backward: dW, db and dx', () => {
    const byThreads = perThreads(() => {
      const dW = new Float32Array(W.length), db = new Float32Array(g.FN), dx = new Float32Array(x.length);
      K.convBackward(dout, x, W, dW, db, dx, g, 0);
      return hash(dW, db, dx);
    });
    expectAllEqual(byThreads);
  });

  test('the fused convolution + Relu + pooling, forward and backward', () => {
    const fg = { ...g, PH: 2, PW: 2, poolStride: 2, poolPad: 0 };
    const P = g.N * g.FN * 8 * 8;
    const dpooled = rng.floats(P);
    const byThreads = perThreads(() => {
      const pooled = new Float32Array(P), argmax = new Int32Array(P);
      K.convPoolForward(x, W, b, pooled, argmax, fg, true, 0);
      const dW = new Float32Array(W.length), db = new Float32Array(g.FN), dx = new Float32Array(x.length);
      K.convPoolBackward(dpooled, x, W, pooled, argmax, dW, db, dx, fg, true, 0);
      return hash(pooled, argmax, dW, db, dx);
    });
    expectAllEqual(byThreads);
  });

  // Winograd F(2x2, 3x3) (16 channels): gemm blocks of samples fixed by the shape, the filter
  // gradient summed over fixed reduction blocks in block order.
  describe('Winograd F(2x2, 3x3)', () => {
    const wg = { N: 48, C: 16, H: 12, W: 12, FN: 16, FH: 3, FW: 3, stride: 1, pad: 1 };
    const wx = rng.floats(wg.N * wg.C * 144), wW = rng.floats(wg.FN * wg.C * 9), wb = rng.floats(wg.FN);
    const wdout = rng.floats(wg.N * wg.FN * 144);
    test('forward, and backward: dW, db and dx', () => {
      expectAllEqual(perThreads(() => {
        const out = new Float32Array(wdout.length);
        K.convForward(wx, wW, wb, out, wg, 2);
        const dW = new Float32Array(wW.length), db = new Float32Array(wg.FN), dx = new Float32Array(wx.length);
        K.convBackward(wdout, wx, wW, dW, db, dx, wg, 2);
        return hash(out, dW, db, dx);
      }));
    });
    test('the fused convolution + Relu + 2x2 pooling, forward and backward', () => {
      const fg = { ...wg, PH: 2, PW: 2, poolStride: 2, poolPad: 0 };
      const P = wg.N * wg.FN * 36;
      const dpooled = rng.floats(P);
      expectAllEqual(perThreads(() => {
        const pooled = new Float32Array(P), argmax = new Int32Array(P);
        K.convPoolForward(wx, wW, wb, pooled, argmax, fg, true, 2);
        const dW = new Float32Array(wW.length), db = new Float32Array(wg.FN), dx = new Float32Array(wx.length);
        K.convPoolBackward(dpooled, wx, wW, pooled, argmax, dW, db, dx, fg, true, 2);
        return hash(pooled, argmax, dW, db, dx);
      }));
    });
  });

  // OpenBLAS's small-matrix kernels (SkylakeX and others) sum a smaller call in another order:
  // slices cut by the thread count gave other bits for these shapes at 3 to 8 threads.
  test.each([[100, 40, 784], [100, 784, 40], [30, 300, 300], [100, 50, 1024], [1024, 100, 50], [100, 100, 4320]])(
    'sgemm %i x %i x %i (all four transpositions)', (M, N, Kd) => {
      const A = rng.floats(M * Kd), B = rng.floats(Kd * N), C0 = rng.floats(M * N);
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          expectAllEqual(perThreads(() => {
            const C = C0.slice();
            K.sgemm(ta, tb, M, N, Kd, 1, A, B, 1, C);
            return hash(C);
          }));
        }
      }
    });

  test('affine backward (a split gemm for dW and dx)', () => {
    const N = 100, I = 784, O = 40;
    const xa = rng.floats(N * I), Wa = rng.floats(I * O), douta = rng.floats(N * O);
    expectAllEqual(perThreads(() => {
      const dW = new Float32Array(I * O), db = new Float32Array(O), dx = new Float32Array(N * I);
      K.affineBackward(douta, xa, Wa, dx, dW, db, N, I, O);
      return hash(dW, db, dx);
    }));
  });
});

/** A few Adam steps of a network on fixed data; the hash of its parameters after them. */
function train(make: () => Sequential, N: number, steps: number): string {
  setSeed(11);
  const net = make();
  const x = Tensor.zeros([N, 1, 28, 28]);
  for (let i = 0; i < x.data.length; i++) x.data[i] = 0.5 + 0.5 * Math.sin(i * 0.013 + (i % 7));
  const t = Int32Array.from({ length: N }, (_, i) => (i * 3) % 10);
  const opt = new Adam({ lr: 0.001 });
  for (let s = 0; s < steps; s++) opt.update(net.params, net.gradient(x, t));
  return hash(...Object.values(net.params).map((p) => p.data));
}

describe('training steps', () => {
  test('SimpleConvNet: 3 steps of batch 100', () => {
    expectAllEqual(perThreads(() => train(() => new SimpleConvNet({ weightInitStd: 'he' }), 100, 3)));
  });

  test('DeepConvNet: 2 steps of batch 50 (Dropout included)', () => {
    expectAllEqual(perThreads(() => train(() => new DeepConvNet(), 50, 2)));
  });
});

describe('two worker_threads training at the same time', () => {
  const DIST = path.join(ROOT, 'dist', 'lib', 'index.js');
  beforeAll(() => ensureBuilt(DIST));

  test('get the same bits as each other and as the main thread alone', async () => {
    const code = `
      const { parentPort, workerData } = require('worker_threads');
      const lib = require(${JSON.stringify(DIST)});
      lib.setNumThreads(workerData.threads);
      lib.setSeed(11);
      const net = new lib.SimpleConvNet({ weightInitStd: 'he' });
      const N = 100, x = lib.Tensor.zeros([N, 1, 28, 28]);
      for (let i = 0; i < x.data.length; i++) x.data[i] = 0.5 + 0.5 * Math.sin(i * 0.013 + (i % 7));
      const t = Int32Array.from({ length: N }, (_, i) => (i * 3) % 10);
      const opt = new lib.Adam({ lr: 0.001 });
      for (let s = 0; s < 3; s++) opt.update(net.params, net.gradient(x, t));
      const h = require('crypto').createHash('sha256');
      for (const p of Object.values(net.params)) h.update(Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength));
      parentPort.postMessage(h.digest('hex'));`;
    const run = (threads: number): Promise<string> => new Promise((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: { threads } });
      w.once('message', (m: string) => { resolve(m); void w.terminate(); });
      w.once('error', reject);
    });
    const [a, b] = await Promise.all([run(2), run(3)]);
    K.setNumThreads(1);
    const alone = train(() => new SimpleConvNet({ weightInitStd: 'he' }), 100, 3);
    K.setNumThreads(initialThreads);
    expect(a).toBe(alone);
    expect(b).toBe(alone);
  });
});
