// SPDX-License-Identifier: MIT
// Every native kernel (through the checked wrappers of lib/core/kernels.ts) against the
// float64 reference in test/reference/naive.ts, on seeded random shapes.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as K from '../lib/core/kernels';
import { ensureBuilt } from './helpers/dist';
import { caught } from './helpers/errors';
import { Rng } from './helpers/random';
import * as ref from './reference/naive';

type Geom = ref.Geom;

// The package root, loaded by the child processes (its dist/ build).
const ROOT = path.join(__dirname, '..');
beforeAll(() => ensureBuilt(path.join(ROOT, 'dist', 'index.js')), 120000);

/** |a - e| <= rtol * (|e| + max|e|): relative to the element and to the array's scale. */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rtol = 1e-4): void {
  expect(actual.length).toBe(expected.length);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    if (!(Math.abs(a - e) <= rtol * (Math.abs(e) + scale))) {
      throw new Error(`${what}: element ${i} of ${expected.length} is ${a}, expected ${e} (scale ${scale})`);
    }
  }
}

/** Bit-for-bit equality of two float32 arrays (NaN payloads included). */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return false;
  return true;
}

function dims(g: Geom): { OH: number; OW: number; rows: number; cols: number } {
  const { OH, OW } = ref.outShape(g);
  return { OH, OW, rows: g.N * OH * OW, cols: g.C * g.FH * g.FW };
}

const nanFilled = (n: number): Float32Array => new Float32Array(n).fill(NaN);

/**
 * Window shapes covering every stride 1..3 x pad 0..2, batch 1 in each pair, odd and
 * non-square images and windows; windows that do not fit are redrawn.
 */
function windowCases(seed: number, perPair = 3, maxHW = 9, maxF = 4): Geom[] {
  const rng = new Rng(seed);
  const cases: Geom[] = [];
  for (let stride = 1; stride <= 3; stride++) {
    for (let pad = 0; pad <= 2; pad++) {
      for (let rep = 0; rep < perPair; rep++) {
        for (;;) {
          const g: Geom = {
            N: rep === 0 ? 1 : rng.int(2, 3), C: rng.int(1, 3),
            H: rng.int(1, maxHW), W: rng.int(1, maxHW), FH: rng.int(1, maxF), FW: rng.int(1, maxF),
            stride, pad,
          };
          if (g.H + 2 * pad >= g.FH && g.W + 2 * pad >= g.FW) { cases.push(g); break; }
        }
      }
    }
  }
  return cases;
}

const label = (g: Geom): string =>
  `N${g.N} C${g.C} ${g.H}x${g.W} window ${g.FH}x${g.FW} stride ${g.stride} pad ${g.pad}`;

const initialThreads = K.getNumThreads();
afterAll(() => K.setNumThreads(0));

describe('the shape generator', () => {
  test('covers batch 1, every stride and pad, and non-square images and windows', () => {
    const cases = windowCases(1);
    expect(cases.some((g) => g.N === 1)).toBe(true);
    expect(new Set(cases.map((g) => `${g.stride},${g.pad}`)).size).toBe(9);
    expect(cases.some((g) => g.H !== g.W)).toBe(true);
    expect(cases.some((g) => g.FH !== g.FW)).toBe(true);
    expect(cases.some((g) => g.H % 2 === 1 && g.W % 2 === 1)).toBe(true);
  });
});

describe('sgemm', () => {
  const rng = new Rng(11);
  const shapes: Array<[number, number, number]> = [[1, 1, 1], [1, 7, 1], [5, 1, 3], [3, 5, 1], [17, 13, 9], [33, 31, 37]];
  for (let i = 0; i < 6; i++) shapes.push([rng.int(1, 40), rng.int(1, 40), rng.int(1, 40)]);
  for (const [M, N, Kd] of shapes) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        test(`M${M} N${N} K${Kd} transA=${transA} transB=${transB}`, () => {
          const alpha = rng.pick([1, -0.5, 2.25]);
          const beta = rng.pick([0, 1, 0.75, -2]);
          const A = rng.floats(M * Kd), B = rng.floats(Kd * N), C = rng.floats(M * N);
          const want = ref.gemm(transA, transB, M, N, Kd, alpha, A, B, beta, C);
          K.sgemm(transA, transB, M, N, Kd, alpha, A, B, beta, C);
          expectClose(C, want, 'C');
        });
      }
    }
  }

  // From about 2M multiply-adds the rows (M >= N) or columns of C are split over the threads:
  // each slice must address its part of a transposed or untransposed operand correctly.
  for (const [M, N, Kd] of [[301, 37, 420], [37, 301, 420], [160, 160, 170]] as Array<[number, number, number]>) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        test(`split over threads: M${M} N${N} K${Kd} transA=${transA} transB=${transB}`, () => {
          const before = K.getNumThreads();
          K.setNumThreads(2);
          try {
            const A = rng.floats(M * Kd), B = rng.floats(Kd * N), C = rng.floats(M * N);
            const want = ref.gemm(transA, transB, M, N, Kd, 0.5, A, B, -1, C);
            K.sgemm(transA, transB, M, N, Kd, 0.5, A, B, -1, C);
            expectClose(C, want, 'C');
          } finally {
            K.setNumThreads(before);
          }
        });
      }
    }
  }

  // Above 100^3 multiply-adds, on OpenBLAS's AVX-512 cores (small-matrix kernels), a slice is cut
  // into pieces along its longest side (gemm.cc): k pieces accumulate into C (the first with
  // the caller's beta), m and n pieces are blocks of C. Checked in child processes with the
  // cutting forced on (BLASNET_GEMM_PIECES=1, whatever the core) and off, on one thread and on
  // two (slices of slices): layer shapes and the edges of the rule (A·B^T pieces only where
  // m·n <= 1200, a shorter last piece, pieces that would be under 32 long, A^T·B^T never).
  test('gemms cut into pieces for the small-matrix kernels equal the float64 product', () => {
    const shapes: Array<[number, number, number, boolean, boolean]> = [
      [100, 100, 784, false, false], [784, 100, 100, true, false], [100, 100, 4320, false, false],
      [4320, 100, 100, true, false], [100, 784, 100, false, true], [10, 100, 2001, false, true],
      [12, 100, 1999, false, true], [1000, 40, 784, false, false], [100, 40, 785, true, true],
      [40, 1000, 97, false, false], [3000, 20, 30, true, false], [50, 100, 1000, true, false],
    ];
    const inputs = shapes.map(([M, N, Kd]) => ({ A: rng.floats(M * Kd), B: rng.floats(Kd * N), C: rng.floats(M * N) }));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-pieces-'));
    try {
      const file = path.join(dir, 'in.bin');
      fs.writeFileSync(file, Buffer.concat(inputs.flatMap((x) => [x.A, x.B, x.C].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)))));
      // The child runs every shape at 1 and 2 threads and writes the C's in that order.
      const script = `
        const b = require(process.argv[1]), fs = require('fs');
        const shapes = JSON.parse(process.argv[2]), buf = fs.readFileSync(process.argv[3]);
        let at = 0; const take = (n) => { const a = new Float32Array(buf.buffer.slice(buf.byteOffset + at, buf.byteOffset + at + 4 * n)); at += 4 * n; return a; };
        const ins = shapes.map(([M, N, K]) => ({ A: take(M * K), B: take(K * N), C: take(M * N) }));
        const out = [];
        for (const t of [1, 2]) {
          b.setNumThreads(t);
          shapes.forEach(([M, N, K, tA, tB], i) => { const C = Float32Array.from(ins[i].C); b.kernels.sgemm(tA, tB, M, N, K, 0.75, ins[i].A, ins[i].B, -0.5, C); out.push(Buffer.from(C.buffer)); });
        }
        fs.writeFileSync(process.argv[4], Buffer.concat(out));`;
      for (const mode of ['1', '0']) {
        const outFile = path.join(dir, `out${mode}.bin`);
        const r = spawnSync(process.execPath, ['-e', script, ROOT, JSON.stringify(shapes), file, outFile],
          { env: { ...process.env, BLASNET_GEMM_PIECES: mode }, encoding: 'utf8' });
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        const got = fs.readFileSync(outFile);
        let at = 0;
        for (const threads of [1, 2]) {
          shapes.forEach(([M, N, Kd, transA, transB], i) => {
            const C = new Float32Array(got.buffer.slice(got.byteOffset + at, got.byteOffset + at + 4 * M * N));
            at += 4 * M * N;
            const want = ref.gemm(transA, transB, M, N, Kd, 0.75, inputs[i].A, inputs[i].B, -0.5, inputs[i].C);
            expectClose(C, want, `pieces ${mode}, ${threads} thread(s): M${M} N${N} K${Kd} transA=${transA} transB=${transB}`);
          });
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60000);

  test('a transposed operand is read as stored K x M (not just as a reshaped M x K)', () => {
    // A stored 3x2 (K=3, M=2): op(A) = A^T; B = identity 3x3.
    const A = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const B = Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    const C = new Float32Array(6);
    K.sgemm(true, false, 2, 3, 3, 1, A, B, 0, C);
    expect(Array.from(C)).toEqual([1, 3, 5, 2, 4, 6]);
  });
});

describe('affine, addRowVector, columnSums', () => {
  const rng = new Rng(12);
  const shapes: Array<[number, number, number]> = [[1, 1, 1], [1, 9, 4], [7, 1, 3], [5, 3, 1], [13, 29, 11]];
  for (let i = 0; i < 4; i++) shapes.push([rng.int(1, 30), rng.int(1, 30), rng.int(1, 30)]);

  for (const [N, I, O] of shapes) {
    test(`affineForward N${N} I${I} O${O}`, () => {
      const x = rng.floats(N * I), W = rng.floats(I * O), b = rng.floats(O);
      const out = nanFilled(N * O);
      K.affineForward(x, W, b, out, N, I, O);
      const xw = ref.gemm(false, false, N, O, I, 1, x, W, 0, new Float64Array(N * O));
      expectClose(out, ref.addRowVector(xw, b, N, O), 'out');
    });

    test(`affineBackward N${N} I${I} O${O}, with and without dx`, () => {
      const dout = rng.floats(N * O), x = rng.floats(N * I), W = rng.floats(I * O);
      const dx = nanFilled(N * I), dW = nanFilled(I * O), db = nanFilled(O);
      K.affineBackward(dout, x, W, dx, dW, db, N, I, O);
      const wantDW = ref.gemm(true, false, I, O, N, 1, x, dout, 0, new Float64Array(I * O));
      const wantDx = ref.gemm(false, true, N, I, O, 1, dout, W, 0, new Float64Array(N * I));
      const wantDb = ref.columnSums(dout, N, O);
      expectClose(dW, wantDW, 'dW');
      expectClose(db, wantDb, 'db');
      expectClose(dx, wantDx, 'dx');

      const dW2 = nanFilled(I * O), db2 = nanFilled(O);
      K.affineBackward(dout, x, W, null, dW2, db2, N, I, O);
      expectClose(dW2, wantDW, 'dW (dx null)');
      expectClose(db2, wantDb, 'db (dx null)');
    });

    test(`addRowVector and columnSums rows${N} cols${O}`, () => {
      const Y = rng.floats(N * O, -3, 3), b = rng.floats(O, -3, 3);
      const want = ref.addRowVector(Y, b, N, O);
      K.addRowVector(Y, b, N, O);
      expectClose(Y, want, 'Y');

      const X = rng.floats(N * O, -3, 3);
      const out = nanFilled(O);
      K.columnSums(X, N, O, out);
      expectClose(out, ref.columnSums(X, N, O), 'column sums');
    });
  }
});

describe('im2col and col2im', () => {
  const cases = windowCases(21);
  const rng = new Rng(22);

  test.each(cases.map((g) => [label(g), g] as const))('im2col %s', (_l, g) => {
    const { rows, cols } = dims(g);
    const x = rng.floats(g.N * g.C * g.H * g.W);
    // NaN first: padded entries must be written as zeros, not left alone.
    const col = nanFilled(rows * cols);
    K.im2col(x, col, g);
    // A copy of float32 values: the reference is exact, so is the kernel.
    expect(col).toEqual(Float32Array.from(ref.im2col(x, g)));
  });

  test.each(cases.map((g) => [label(g), g] as const))('col2im %s', (_l, g) => {
    const { rows, cols } = dims(g);
    const c = rng.floats(rows * cols);
    const dx = nanFilled(g.N * g.C * g.H * g.W);
    K.col2im(c, dx, g);
    expectClose(dx, ref.col2im(c, g), 'dx');
  });

  test.each(cases.map((g) => [label(g), g] as const))('col2im is the adjoint of im2col: %s', (_l, g) => {
    const { rows, cols } = dims(g);
    const x = rng.floats(g.N * g.C * g.H * g.W);
    const c = rng.floats(rows * cols);
    const ix = new Float32Array(rows * cols);
    const tc = new Float32Array(x.length);
    K.im2col(x, ix, g);
    K.col2im(c, tc, g);
    let lhs = 0, rhs = 0, mag = 0;
    for (let i = 0; i < ix.length; i++) { lhs += ix[i] * c[i]; mag += Math.abs(ix[i] * c[i]); }
    for (let i = 0; i < x.length; i++) rhs += x[i] * tc[i];
    expect(Math.abs(lhs - rhs)).toBeLessThanOrEqual(1e-5 * (mag + 1));
  });

  test('a hand-checked case: 1x1x3x3 input, 2x2 window, stride 1, pad 1', () => {
    const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const g: Geom = { N: 1, C: 1, H: 3, W: 3, FH: 2, FW: 2, stride: 1, pad: 1 };
    const col = new Float32Array(16 * 4);
    K.im2col(x, col, g);
    // Row (oh=0, ow=0) sees the top-left corner: three pads and x[0,0].
    expect(Array.from(col.subarray(0, 4))).toEqual([0, 0, 0, 1]);
    // Row (oh=1, ow=1) covers x[0..1, 0..1].
    expect(Array.from(col.subarray(5 * 4, 6 * 4))).toEqual([1, 2, 4, 5]);
    // Row (oh=3, ow=3) sees x[2,2] and three pads.
    expect(Array.from(col.subarray(15 * 4, 16 * 4))).toEqual([9, 0, 0, 0]);
  });
});

/**
 * "Same" convolutions (stride 1, OW == W: 2*pad == FW-1), which the kernels copy as whole
 * shifted planes rather than row by row: 3x3 pad 1 as in DeepConvNet, 5-wide pad 2, 1x1,
 * even window heights, a one-row image whose window rows all fall in the padding. Then
 * odd windows padded wider than that (DeepConvNet's 3x3 pad 2), which go the same way
 * through a padded copy of the input.
 */
const sameCases: Geom[] = [
  { N: 2, C: 2, H: 5, W: 6, FH: 3, FW: 3, stride: 1, pad: 1 },
  { N: 3, C: 2, H: 8, W: 8, FH: 3, FW: 3, stride: 1, pad: 1 },
  { N: 1, C: 3, H: 4, W: 7, FH: 2, FW: 5, stride: 1, pad: 2 },
  { N: 2, C: 1, H: 3, W: 2, FH: 1, FW: 1, stride: 1, pad: 0 },
  { N: 1, C: 2, H: 1, W: 4, FH: 3, FW: 3, stride: 1, pad: 1 },
  { N: 2, C: 2, H: 6, W: 1, FH: 4, FW: 3, stride: 1, pad: 1 },
  { N: 2, C: 2, H: 4, W: 5, FH: 3, FW: 3, stride: 1, pad: 2 },
  { N: 1, C: 2, H: 5, W: 3, FH: 4, FW: 5, stride: 1, pad: 3 },
  { N: 2, C: 1, H: 1, W: 1, FH: 3, FW: 3, stride: 1, pad: 2 },
];

describe('convolution', () => {
  const cases = [...windowCases(31, 2), ...sameCases];
  const rng = new Rng(32);

  test.each(cases.map((g) => [label(g), g] as const))('forward and backward %s', (_l, g) => {
    const FN = rng.int(1, 4);
    const cg = { ...g, FN };
    const { OH, OW } = dims(g);
    const x = rng.floats(g.N * g.C * g.H * g.W);
    const W = rng.floats(FN * g.C * g.FH * g.FW);
    const b = rng.floats(FN);
    const out = nanFilled(g.N * FN * OH * OW);
    K.convForward(x, W, b, out, cg, 0);
    expectClose(out, ref.convForward(x, W, b, FN, g), 'out');

    const dout = rng.floats(out.length);
    const want = ref.convBackward(dout, x, W, FN, g);
    const dW = nanFilled(W.length), db = nanFilled(FN), dx = nanFilled(x.length);
    K.convBackward(dout, x, W, dW, db, dx, cg, 0);
    expectClose(dW, want.dW, 'dW');
    expectClose(db, want.db, 'db');
    expectClose(dx, want.dx, 'dx');

    // Without dx, dW and db come out the same, bit for bit.
    const dW2 = nanFilled(W.length), db2 = nanFilled(FN);
    K.convBackward(dout, x, W, dW2, db2, null, cg, 0);
    expect(sameBits(dW2, dW)).toBe(true);
    expect(sameBits(db2, db)).toBe(true);

    // The fused Relu: convolution then reluForward, and reluBackward then convBackward, bit for bit.
    const outR = nanFilled(out.length), relu = nanFilled(out.length);
    K.convReluForward(x, W, b, outR, cg, 0);
    K.reluForward(out, relu);
    expect(sameBits(outR, relu)).toBe(true);
    const masked = nanFilled(out.length);
    K.reluBackward(out, dout, masked);
    const wantR = { dW: nanFilled(W.length), db: nanFilled(FN), dx: nanFilled(x.length) };
    K.convBackward(masked, x, W, wantR.dW, wantR.db, wantR.dx, cg, 0);
    const dW5 = nanFilled(W.length), db5 = nanFilled(FN), dx5 = nanFilled(x.length);
    K.convReluBackward(dout, x, W, outR, dW5, db5, dx5, cg, 0);
    expect(sameBits(dW5, wantR.dW)).toBe(true);
    expect(sameBits(db5, wantR.db)).toBe(true);
    expect(sameBits(dx5, wantR.dx)).toBe(true);
    // And against the float64 reference of the masked gradient.
    const refR = ref.convBackward(masked, x, W, FN, g);
    expectClose(dW5, refR.dW, 'dW (relu)');
    expectClose(dx5, refR.dx, 'dx (relu)');
  });

  test.each(cases.slice(0, 9).map((g) => [label(g), g] as const))(
    'is the course\'s im2col, gemm and bias, as Convolution\'s comments say: %s', (_l, g) => {
      const FN = rng.int(1, 4);
      const { OH, OW, rows, cols } = dims(g);
      const x = rng.floats(g.N * g.C * g.H * g.W), W = rng.floats(FN * cols), b = rng.floats(FN);
      // col = im2col(x); out = col · Wᵀ + b (rows n, oh, ow), then transposed to (N, FN, OH, OW).
      const col = new Float32Array(rows * cols);
      K.im2col(x, col, g);
      const outT = new Float32Array(rows * FN);
      K.sgemm(false, true, rows, FN, cols, 1, col, W, 0, outT);
      K.addRowVector(outT, b, rows, FN);
      const course = new Float32Array(outT.length);
      const S = OH * OW;
      for (let n = 0; n < g.N; n++) for (let s = 0; s < S; s++) for (let f = 0; f < FN; f++) course[(n * FN + f) * S + s] = outT[(n * S + s) * FN + f];
      const out = new Float32Array(outT.length);
      K.convForward(x, W, b, out, { ...g, FN }, 0);
      expectClose(out, course, 'out vs im2col · Wᵀ + b', 1e-5);
      // Backward: dW = doutᵀ · col, dcol = dout · W, dx = col2im(dcol).
      const dout = rng.floats(out.length);
      const doutT = new Float32Array(rows * FN);
      for (let n = 0; n < g.N; n++) for (let s = 0; s < S; s++) for (let f = 0; f < FN; f++) doutT[(n * S + s) * FN + f] = dout[(n * FN + f) * S + s];
      const dWc = new Float32Array(FN * cols), dcol = new Float32Array(rows * cols), dxc = new Float32Array(x.length);
      K.sgemm(true, false, FN, cols, rows, 1, doutT, col, 0, dWc);
      K.sgemm(false, false, rows, cols, FN, 1, doutT, W, 0, dcol);
      K.col2im(dcol, dxc, g);
      const dW = new Float32Array(W.length), db = new Float32Array(FN), dx = new Float32Array(x.length);
      K.convBackward(dout, x, W, dW, db, dx, { ...g, FN }, 0);
      expectClose(dW, dWc, 'dW vs doutᵀ · col', 1e-5);
      expectClose(dx, dxc, 'dx vs col2im(dout · W)', 1e-5);
    });

  test('a hand-checked case: 3x3 ones, 2x2 ones filter, bias 0.5', () => {
    const g: Geom = { N: 1, C: 1, H: 3, W: 3, FH: 2, FW: 2, stride: 1, pad: 0 };
    const out = new Float32Array(4);
    K.convForward(new Float32Array(9).fill(1), new Float32Array(4).fill(1), Float32Array.from([0.5]), out, { ...g, FN: 1 }, 0);
    expect(Array.from(out)).toEqual([4.5, 4.5, 4.5, 4.5]);
  });
});

describe('convolution with fused max pooling', () => {
  const rng = new Rng(37);
  // Convolution windows as above, each with a random pooling window that fits its output:
  // 1..3 wide, stride 1..3 (overlapping windows included), pad 0..1.
  const cases = [...windowCases(38, 1), ...sameCases].map((g) => {
    const { OH, OW } = dims(g);
    for (;;) {
      const pool = { PH: rng.int(1, 3), PW: rng.int(1, 3), stride: rng.int(1, 3), pad: rng.int(0, 1) };
      if (OH + 2 * pool.pad >= pool.PH && OW + 2 * pool.pad >= pool.PW) return { g, pool };
    }
  });
  cases.push({ g: { N: 3, C: 4, H: 12, W: 12, FH: 3, FW: 3, stride: 1, pad: 1 }, pool: { PH: 2, PW: 2, stride: 2, pad: 0 } });
  cases.push({ g: { N: 2, C: 3, H: 11, W: 9, FH: 5, FW: 5, stride: 1, pad: 0 }, pool: { PH: 2, PW: 2, stride: 2, pad: 0 } });

  test.each(cases.map((c) => [`${label(c.g)}, pool ${c.pool.PH}x${c.pool.PW} stride ${c.pool.stride} pad ${c.pool.pad}`, c] as const))(
    'equals convolution then pooling, bit for bit, and the reference: %s', (_l, { g, pool }) => {
      const FN = rng.int(1, 4);
      const { OH, OW } = dims(g);
      const pg = { N: g.N, C: FN, H: OH, W: OW, FH: pool.PH, FW: pool.PW, stride: pool.stride, pad: pool.pad };
      const P = ref.outShape(pg);
      const x = rng.floats(g.N * g.C * g.H * g.W), W = rng.floats(FN * g.C * g.FH * g.FW), b = rng.floats(FN);
      const dpooled = rng.floats(g.N * FN * P.OH * P.OW);
      const cg = { ...g, FN };
      const fg = { ...cg, PH: pool.PH, PW: pool.PW, poolStride: pool.stride, poolPad: pool.pad };
      for (const relu of [false, true]) {
        // Unfused: convolution, its Relu (when fused too), max pooling, and their backward passes.
        const conv = nanFilled(g.N * FN * OH * OW);
        K.convForward(x, W, b, conv, cg, 0);
        const out = nanFilled(conv.length);
        if (relu) K.reluForward(conv, out); else out.set(conv);
        const wantPooled = nanFilled(dpooled.length), wantArg = new Int32Array(dpooled.length);
        K.maxPoolForward(out, wantPooled, wantArg, pg);
        const dout = nanFilled(out.length);
        K.maxPoolBackward(dpooled, wantArg, dout, pg);
        const dconv = nanFilled(out.length);
        if (relu) K.reluBackward(conv, dout, dconv); else dconv.set(dout);
        const wantDW = nanFilled(W.length), wantDb = nanFilled(FN), wantDx = nanFilled(x.length);
        K.convBackward(dconv, x, W, wantDW, wantDb, wantDx, cg, 0);

        const pooled = nanFilled(dpooled.length), argmax = new Int32Array(dpooled.length).fill(-7);
        K.convPoolForward(x, W, b, pooled, argmax, fg, relu, 0);
        expect(sameBits(pooled, wantPooled)).toBe(true);
        expect(argmax).toEqual(wantArg);
        const dW = nanFilled(W.length), db = nanFilled(FN), dx = nanFilled(x.length);
        K.convPoolBackward(dpooled, x, W, pooled, argmax, dW, db, dx, fg, relu, 0);
        expect(sameBits(dW, wantDW)).toBe(true);
        expect(sameBits(db, wantDb)).toBe(true);
        expect(sameBits(dx, wantDx)).toBe(true);
        // dx null: the same dW and db.
        const dW2 = nanFilled(W.length), db2 = nanFilled(FN);
        K.convPoolBackward(dpooled, x, W, pooled, argmax, dW2, db2, null, fg, relu, 0);
        expect(sameBits(dW2, wantDW)).toBe(true);
        expect(sameBits(db2, wantDb)).toBe(true);

        // Against the float64 reference: pooled values of the (Relu'd) convolution, and the
        // gradients of dpooled routed through the argmax the kernel chose.
        const conv64 = ref.convForward(x, W, b, FN, g).map((v) => (relu && v <= 0 ? 0 : v));
        const wantRef = ref.maxPoolForward(conv64, pg);
        expectClose(pooled, wantRef.out, 'pooled');
        const routed = new Float64Array(out.length);
        for (let p = 0; p < g.N * FN; p++) {
          for (let i = 0; i < P.OH * P.OW; i++) {
            const a = argmax[p * P.OH * P.OW + i];
            if (a >= 0 && !(relu && pooled[p * P.OH * P.OW + i] <= 0)) routed[p * OH * OW + a] += dpooled[p * P.OH * P.OW + i];
          }
        }
        const want = ref.convBackward(routed, x, W, FN, g);
        expectClose(dW, want.dW, 'dW');
        expectClose(db, want.db, 'db');
        expectClose(dx, want.dx, 'dx');
      }
    });

  test('argmax values outside the plane are ignored, never written through', () => {
    const g = { N: 1, C: 1, H: 4, W: 4, FH: 1, FW: 1, stride: 1, pad: 0 };
    const pool = { PH: 2, PW: 2, stride: 2, pad: 0 };
    const x = rng.floats(16), W = Float32Array.from([1]), dW = new Float32Array(1), db = new Float32Array(1);
    const dx = nanFilled(16);
    const fg = { ...g, FN: 1, PH: pool.PH, PW: pool.PW, poolStride: pool.stride, poolPad: pool.pad };
    K.convPoolBackward(new Float32Array(4).fill(1), x, W, new Float32Array(4), Int32Array.from([0, -5, 16, 1 << 30]), dW, db, dx, fg, false, 0);
    expect(Array.from(dx)).toEqual([1, ...new Array<number>(15).fill(0)]);
    expect(db[0]).toBe(1);
  });
});

describe('pooling', () => {
  const cases = windowCases(41, 3, 9, 3);
  const rng = new Rng(42);

  test.each(cases.map((g) => [label(g), g] as const))('max pooling with ties %s', (_l, g) => {
    const { OH, OW } = dims(g);
    // Small integers: many exact ties, including ties with the padded zeros,
    // so the "first maximum in (ph, pw) order wins" rule is exercised.
    const x = new Float32Array(g.N * g.C * g.H * g.W).map(() => rng.int(-2, 2));
    const out = nanFilled(g.N * g.C * OH * OW);
    const argmax = new Int32Array(out.length).fill(12345);
    K.maxPoolForward(x, out, argmax, g);
    const want = ref.maxPoolForward(x, g);
    expect(out).toEqual(Float32Array.from(want.out));
    expect(argmax).toEqual(want.argmax);

    const dout = rng.floats(out.length);
    const dx = nanFilled(x.length);
    K.maxPoolBackward(dout, argmax, dx, g);
    expectClose(dx, ref.maxPoolBackward(dout, x, g), 'dx');
  });

  test.each(cases.map((g) => [label(g), g] as const))('max pooling, negative input %s', (_l, g) => {
    const { OH, OW } = dims(g);
    // All inputs negative: a window touching the padding must return 0 and argmax -1.
    const x = rng.floats(g.N * g.C * g.H * g.W, -5, -0.1);
    const out = nanFilled(g.N * g.C * OH * OW);
    const argmax = new Int32Array(out.length);
    K.maxPoolForward(x, out, argmax, g);
    const want = ref.maxPoolForward(x, g);
    expect(out).toEqual(Float32Array.from(want.out));
    expect(argmax).toEqual(want.argmax);
    if (g.pad > 0) expect(argmax).toContain(-1);
  });

  test.each(cases.map((g) => [label(g), g] as const))('average pooling %s', (_l, g) => {
    const { OH, OW } = dims(g);
    const x = rng.floats(g.N * g.C * g.H * g.W);
    const out = nanFilled(g.N * g.C * OH * OW);
    K.avgPoolForward(x, out, g);
    expectClose(out, ref.avgPoolForward(x, g), 'out');
    const dout = rng.floats(out.length);
    const dx = nanFilled(x.length);
    K.avgPoolBackward(dout, dx, g);
    expectClose(dx, ref.avgPoolBackward(dout, g), 'dx');
  });

  test('a hand-checked case: 2x2 max and average over a 4x4 plane, stride 2', () => {
    const g: Geom = { N: 1, C: 1, H: 4, W: 4, FH: 2, FW: 2, stride: 2, pad: 0 };
    const x = Float32Array.from([1, 5, 2, 0, 3, 4, 8, 8, 0, 0, 1, 1, 0, -1, 1, 1]);
    const out = new Float32Array(4), argmax = new Int32Array(4), avg = new Float32Array(4);
    K.maxPoolForward(x, out, argmax, g);
    K.avgPoolForward(x, avg, g);
    expect(Array.from(out)).toEqual([5, 8, 0, 1]);
    // The first 8 (index 6) wins over the second (7); the first 0 (8) over the others.
    expect(Array.from(argmax)).toEqual([1, 6, 8, 10]);
    expect(Array.from(avg)).toEqual([13 / 4, 18 / 4, -1 / 4, 1]);
  });
});

describe('zero copy: subarrays are read and written in place', () => {
  const rng = new Rng(51);

  /** `inner` placed at an odd element offset inside a larger buffer of random sentinels. */
  function embed(inner: Float32Array): { big: Float32Array; view: Float32Array; before: Float32Array } {
    const lead = rng.int(1, 7), tail = rng.int(1, 7);
    const big = rng.floats(lead + inner.length + tail, 100, 200);
    const view = big.subarray(lead, lead + inner.length);
    view.set(inner);
    return { big, view, before: big.slice() };
  }

  /** Outside the view nothing changed, bit for bit. */
  function expectOnlyWindowChanged(e: { big: Float32Array; view: Float32Array; before: Float32Array }): void {
    const lead = e.view.byteOffset / 4;
    const end = lead + e.view.length;
    expect(e.view.buffer).toBe(e.big.buffer);
    expect(sameBits(e.big.subarray(0, lead), e.before.subarray(0, lead))).toBe(true);
    expect(sameBits(e.big.subarray(end), e.before.subarray(end))).toBe(true);
  }

  const unchanged = (e: { big: Float32Array; before: Float32Array }): boolean => sameBits(e.big, e.before);

  test('sgemm writes C inside a larger buffer and reads A, B at their byteOffset', () => {
    const M = 7, N = 5, Kd = 9;
    const A = embed(rng.floats(M * Kd)), B = embed(rng.floats(N * Kd)), C = embed(rng.floats(M * N));
    expect(A.view.byteOffset % 16).not.toBe(0);
    const want = ref.gemm(false, true, M, N, Kd, 0.5, A.view, B.view, 2, C.view);
    K.sgemm(false, true, M, N, Kd, 0.5, A.view, B.view, 2, C.view);
    expectClose(C.view, want, 'C');
    expectOnlyWindowChanged(C);
    expect(unchanged(A) && unchanged(B)).toBe(true);
  });

  test('affineForward/Backward, addRowVector, columnSums on subarrays', () => {
    const N = 5, I = 6, O = 3;
    const x = embed(rng.floats(N * I)), W = embed(rng.floats(I * O)), b = embed(rng.floats(O));
    const out = embed(new Float32Array(N * O));
    K.affineForward(x.view, W.view, b.view, out.view, N, I, O);
    const xw = ref.gemm(false, false, N, O, I, 1, x.view, W.view, 0, new Float64Array(N * O));
    expectClose(out.view, ref.addRowVector(xw, b.view, N, O), 'out');
    expectOnlyWindowChanged(out);

    const dout = embed(rng.floats(N * O));
    const dx = embed(new Float32Array(N * I)), dW = embed(new Float32Array(I * O)), db = embed(new Float32Array(O));
    K.affineBackward(dout.view, x.view, W.view, dx.view, dW.view, db.view, N, I, O);
    expectClose(dW.view, ref.gemm(true, false, I, O, N, 1, x.view, dout.view, 0, new Float64Array(I * O)), 'dW');
    expectClose(db.view, ref.columnSums(dout.view, N, O), 'db');
    expectClose(dx.view, ref.gemm(false, true, N, I, O, 1, dout.view, W.view, 0, new Float64Array(N * I)), 'dx');
    for (const e of [dx, dW, db]) expectOnlyWindowChanged(e);
    expect([x, W, b, dout].every(unchanged)).toBe(true);

    const Y = embed(rng.floats(N * O));
    const wantY = ref.addRowVector(Y.view, b.view, N, O);
    K.addRowVector(Y.view, b.view, N, O);
    expectClose(Y.view, wantY, 'Y');
    expectOnlyWindowChanged(Y);

    const sums = embed(new Float32Array(O));
    K.columnSums(dout.view, N, O, sums.view);
    expectClose(sums.view, ref.columnSums(dout.view, N, O), 'sums');
    expectOnlyWindowChanged(sums);
  });

  test('im2col, col2im, convForward and convBackward on subarrays', () => {
    const g: Geom = { N: 2, C: 3, H: 7, W: 5, FH: 3, FW: 2, stride: 2, pad: 1 };
    const FN = 4;
    const { OH, OW, rows, cols } = dims(g);
    const x = embed(rng.floats(g.N * g.C * g.H * g.W));
    const col = embed(new Float32Array(rows * cols));
    K.im2col(x.view, col.view, g);
    expect(Array.from(col.view)).toEqual(Array.from(ref.im2col(x.view, g)));
    expectOnlyWindowChanged(col);

    const dx = embed(new Float32Array(x.view.length));
    K.col2im(col.view, dx.view, g);
    expectClose(dx.view, ref.col2im(col.view, g), 'col2im');
    expectOnlyWindowChanged(dx);

    const W = embed(rng.floats(FN * cols)), b = embed(rng.floats(FN));
    const out = embed(new Float32Array(g.N * FN * OH * OW));
    K.convForward(x.view, W.view, b.view, out.view, { ...g, FN }, 0);
    expectClose(out.view, ref.convForward(x.view, W.view, b.view, FN, g), 'out');
    expectOnlyWindowChanged(out);

    const dout = embed(rng.floats(out.view.length));
    const dW = embed(new Float32Array(W.view.length)), db = embed(new Float32Array(FN));
    const dx2 = embed(new Float32Array(x.view.length));
    K.convBackward(dout.view, x.view, W.view, dW.view, db.view, dx2.view, { ...g, FN }, 0);
    const want = ref.convBackward(dout.view, x.view, W.view, FN, g);
    expectClose(dW.view, want.dW, 'dW');
    expectClose(db.view, want.db, 'db');
    expectClose(dx2.view, want.dx, 'dx');
    for (const e of [dW, db, dx2]) expectOnlyWindowChanged(e);
    expect([x, W, b, dout].every(unchanged)).toBe(true);
  });

  test('pooling on subarrays, argmax inside a larger Int32Array', () => {
    const g: Geom = { N: 2, C: 2, H: 5, W: 6, FH: 2, FW: 3, stride: 2, pad: 1 };
    const { OH, OW } = dims(g);
    const x = embed(rng.floats(g.N * g.C * g.H * g.W));
    const out = embed(new Float32Array(g.N * g.C * OH * OW));
    const bigArg = new Int32Array(out.view.length + 6).fill(-777);
    const argmax = bigArg.subarray(3, 3 + out.view.length);
    K.maxPoolForward(x.view, out.view, argmax, g);
    const want = ref.maxPoolForward(x.view, g);
    expect(Array.from(out.view)).toEqual(Array.from(want.out));
    expect(Array.from(argmax)).toEqual(Array.from(want.argmax));
    expect(Array.from(bigArg.subarray(0, 3))).toEqual([-777, -777, -777]);
    expect(Array.from(bigArg.subarray(3 + out.view.length))).toEqual([-777, -777, -777]);
    expectOnlyWindowChanged(out);

    const dout = embed(rng.floats(out.view.length));
    const dx = embed(new Float32Array(x.view.length));
    K.maxPoolBackward(dout.view, argmax, dx.view, g);
    expectClose(dx.view, ref.maxPoolBackward(dout.view, x.view, g), 'max dx');
    expectOnlyWindowChanged(dx);

    const avg = embed(new Float32Array(out.view.length));
    K.avgPoolForward(x.view, avg.view, g);
    expectClose(avg.view, ref.avgPoolForward(x.view, g), 'avg out');
    expectOnlyWindowChanged(avg);
    const adx = embed(new Float32Array(x.view.length));
    K.avgPoolBackward(dout.view, adx.view, g);
    expectClose(adx.view, ref.avgPoolBackward(dout.view, g), 'avg dx');
    expectOnlyWindowChanged(adx);
    expect([x, dout].every(unchanged)).toBe(true);
  });
});

describe('thread count', () => {
  // Large enough that the loop kernels really split the batch over two threads.
  const g: Geom = { N: 8, C: 3, H: 17, W: 15, FH: 3, FW: 4, stride: 1, pad: 1 };
  const FN = 6;
  const { OH, OW, cols } = dims(g);
  const rng = new Rng(61);
  const x = rng.floats(g.N * g.C * g.H * g.W), W = rng.floats(FN * cols), b = rng.floats(FN);
  const dout = rng.floats(g.N * FN * OH * OW);
  const A = rng.floats(150 * 170), B = rng.floats(170 * 160);

  function runAll(): Record<string, Float32Array | Int32Array> {
    const out = new Float32Array(dout.length);
    K.convForward(x, W, b, out, { ...g, FN }, 0);
    const dW = new Float32Array(W.length), db = new Float32Array(FN), dx = new Float32Array(x.length);
    K.convBackward(dout, x, W, dW, db, dx, { ...g, FN }, 0);
    const pg: Geom = { ...g, FH: 2, FW: 2, stride: 2, pad: 0 };
    const p = dims(pg);
    const pout = new Float32Array(g.N * g.C * p.OH * p.OW), arg = new Int32Array(pout.length);
    K.maxPoolForward(x, pout, arg, pg);
    const C = new Float32Array(150 * 160);
    K.sgemm(false, false, 150, 160, 170, 1, A, B, 0, C);
    return { out, dW, db, dx, pout, arg, C };
  }

  test('setNumThreads(1) and setNumThreads(2) give the same results, bit for bit', () => {
    K.setNumThreads(1);
    expect(K.getNumThreads()).toBe(1);
    expect(K.blasInfo().numThreads).toBe(1);
    const one = runAll();
    K.setNumThreads(2);
    expect(K.getNumThreads()).toBe(2);
    expect(K.blasInfo().numThreads).toBe(2);
    const two = runAll();
    expect(two.arg).toEqual(one.arg);
    for (const k of ['out', 'dW', 'db', 'dx', 'C', 'pout']) expect(sameBits(two[k] as Float32Array, one[k] as Float32Array)).toBe(true);
    // And both match the reference, so neither is consistently wrong.
    expectClose(two.out, ref.convForward(x, W, b, FN, g), 'out vs reference');
    expectClose(two.dx, ref.convBackward(dout, x, W, FN, g).dx, 'dx vs reference');
  });
});

describe('blasInfo and setNumThreads', () => {
  test('blasInfo reports OpenBLAS, its version, threads and CPU kernel', () => {
    const info = K.blasInfo();
    expect(info.library).toBe('OpenBLAS');
    expect(info.version).toMatch(/^\d+\.\d+/);
    expect(info.config).toContain(info.version);
    expect(info.numThreads).toBe(K.getNumThreads());
    expect(typeof info.corename).toBe('string');
    expect(info.corename.length).toBeGreaterThan(0);
    expect(['sequential', 'pthreads', 'openmp']).toContain(info.threading);
  });

  test('blasInfo follows setNumThreads', () => {
    K.setNumThreads(1);
    expect(K.blasInfo().numThreads).toBe(1);
    K.setNumThreads(initialThreads);
    expect(K.blasInfo().numThreads).toBe(K.getNumThreads());
    expect(K.getNumThreads()).toBe(initialThreads);
  });

  test('the default is automatic: up to the core count, 1 or all of them in use; setNumThreads(0) returns to it', () => {
    K.setNumThreads(0);
    const info = K.blasInfo();
    expect(info.threadMode).toBe('auto');
    const cores = Math.min(os.availableParallelism?.() ?? os.cpus().length, K.MAX_THREADS);
    expect(info.numThreads).toBe(Math.max(1, cores));
    expect([1, info.numThreads]).toContain(info.threadsInUse);
    expect(K.threadInfo()).toEqual({ mode: 'auto', most: info.numThreads, inUse: info.threadsInUse });
    K.setNumThreads(3);
    expect(K.threadInfo()).toEqual({ mode: 'fixed', most: 3, inUse: 3 });
    expect(K.blasInfo().threadMode).toBe('fixed');
    K.setNumThreads(0);
    expect(K.threadInfo().mode).toBe('auto');
    // A fresh process starts automatic (as a user gets it).
    const child = spawnSync(process.execPath,
      ['-e', `const b = require(${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))}); console.log(JSON.stringify(b.threadInfo()))`],
      { encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toMatchObject({ mode: 'auto', most: info.numThreads });
    K.setNumThreads(initialThreads);
  });

  test.each([
    [-1, 'RangeError'], [1.5, 'RangeError'], [NaN, 'RangeError'], [Infinity, 'RangeError'],
    [K.MAX_THREADS + 1, 'RangeError'], [256, 'RangeError'], ['2', 'TypeError'], [undefined, 'TypeError'], [null, 'TypeError'],
  ] as const)('setNumThreads(%p) throws (never clamps) and keeps the thread count', (bad, name) => {
    const before = K.getNumThreads();
    // The addon's errors come from another realm than jest's: compare by name.
    const e = caught(() => K.setNumThreads(bad as unknown as number));
    expect(e.name).toBe(name);
    expect(e.message).toMatch(new RegExp(`^setNumThreads: argument 0 'n' must be (a number|an integer in \\[0, ${K.MAX_THREADS}\\])`));
    expect(K.getNumThreads()).toBe(before);
  });

  test('the limit itself is accepted and used', () => {
    K.setNumThreads(K.MAX_THREADS);
    expect(K.getNumThreads()).toBe(K.MAX_THREADS);
    expect(K.blasInfo().maxThreads).toBe(K.MAX_THREADS);
    K.setNumThreads(initialThreads);
  });
});
