// SPDX-License-Identifier: MIT
// The Winograd F(2x2, 3x3) convolutions (native/winograd.cc: the `algorithm` argument 2 of the
// convolution kernels, and what 'auto' picks for 3x3 stride-1 windows whose channel counts are
// multiples of 8) against the float64 reference in test/reference/naive.ts, beside the im2col
// path on the same inputs; the fused Relu / max-pooling steps equal the separate kernels bit for
// bit on this path too. CI runs this file once per instruction-set level the machine has
// (BLASNET_ISA), so the AVX-512 (16-lane), AVX2 (8-lane, own gemm) and generic engines are each
// checked.
import { describe, expect, test } from '@jest/globals';
import * as K from '../lib/core/kernels';
import { blasInfo, Convolution, DeepConvNet, setSeed, Tensor } from '../lib';
import { caught } from './helpers/errors';
import { nanFilled, sameBits, worst } from './helpers/floats';
import { Rng } from './helpers/random';
import * as ref from './reference/naive';

type Geom = ref.Geom;
const AUTO = 0, IM2COL = 1, WINOGRAD = 2;
/** What 'auto' runs for a shape Winograd fits: Winograd at the avx2 and avx512 levels, and at
 * the generic one (128-bit vectors) from C·FN = 64·64 up, where it was measured to pay. */
const autoRuns = (C: number, FN: number): number => (blasInfo().isa !== 'generic' || C * FN >= 4096 ? WINOGRAD : IM2COL);

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rtol = 1e-4): void {
  expect(actual.length).toBe(expected.length);
  const w = worst(actual, expected);
  if (!(w <= rtol)) throw new Error(`${what}: worst relative error ${w} > ${rtol}`);
}

const g3 = (N: number, C: number, H: number, W: number, pad: number): Geom => ({ N, C, H, W, FH: 3, FW: 3, stride: 1, pad });

// Shapes Winograd takes: pads 0..2, odd and even planes (partial 2x2 tiles), a 1x1 output,
// channel counts of 8 (the 8-lane engines) and 16/32/48 (the 16-lane one on AVX-512), mixed,
// and batches that span several gemm blocks and every reduction block.
const CASES: Array<{ g: Geom; FN: number }> = [
  { g: g3(2, 8, 6, 6, 1), FN: 8 },
  { g: g3(3, 16, 7, 5, 0), FN: 16 },
  { g: g3(1, 8, 5, 9, 2), FN: 24 },
  { g: g3(2, 16, 9, 8, 1), FN: 8 },
  { g: g3(1, 8, 3, 4, 0), FN: 8 },
  { g: g3(1, 16, 1, 1, 1), FN: 16 },
  { g: g3(2, 48, 3, 3, 2), FN: 16 },
  { g: g3(2, 64, 5, 6, 1), FN: 64 },
  { g: g3(3, 32, 14, 14, 2), FN: 32 },
  { g: g3(20, 8, 8, 8, 1), FN: 16 },
  { g: g3(2, 16, 28, 28, 1), FN: 16 },
];
const label = ({ g, FN }: { g: Geom; FN: number }): string => `N${g.N} C${g.C} ${g.H}x${g.W} pad ${g.pad} FN${FN}`;

describe('Winograd F(2x2, 3x3) against the float64 reference and the im2col path', () => {
  const rng = new Rng(2024);
  test.each(CASES.map((c) => [label(c), c] as const))('%s', (_l, { g, FN }) => {
    const { OH, OW } = ref.outShape(g);
    const cg = { ...g, FN };
    const x = rng.floats(g.N * g.C * g.H * g.W), W = rng.floats(FN * g.C * 9), b = rng.floats(FN);
    const dout = rng.floats(g.N * FN * OH * OW);
    const want = ref.convForward(x, W, b, FN, g);
    const wantB = ref.convBackward(dout, x, W, FN, g);

    const run = (alg: number): Record<string, Float32Array> => {
      const out = nanFilled(g.N * FN * OH * OW);
      K.convForward(x, W, b, out, cg, alg);
      const dW = nanFilled(W.length), db = nanFilled(FN), dx = nanFilled(x.length);
      K.convBackward(dout, x, W, dW, db, dx, cg, alg);
      return { out, dW, db, dx };
    };
    const wino = run(WINOGRAD), im2col = run(IM2COL), auto = run(AUTO);
    const wants: Record<string, ArrayLike<number>> = { out: want, dW: wantB.dW, db: wantB.db, dx: wantB.dx };
    for (const k of Object.keys(wants)) {
      expectClose(wino[k], wants[k], `winograd ${k}`);
      // As accurate as the im2col path, within a small factor (both are float32 sums).
      expect(worst(wino[k], wants[k])).toBeLessThanOrEqual(Math.max(8 * worst(im2col[k], wants[k]), 2e-7));
      // 'auto' takes Winograd here (where it pays at this level).
      expect(sameBits(auto[k], autoRuns(g.C, FN) === WINOGRAD ? wino[k] : im2col[k])).toBe(true);
    }
    // Two different computations: the rounding differs somewhere (on all but the tiniest case).
    if (g.N * FN * OH * OW >= 64) expect(sameBits(wino.out, im2col.out)).toBe(false);

    // Without dx: the same dW and db, bit for bit.
    const dW2 = nanFilled(W.length), db2 = nanFilled(FN);
    K.convBackward(dout, x, W, dW2, db2, null, cg, WINOGRAD);
    expect(sameBits(dW2, wino.dW)).toBe(true);
    expect(sameBits(db2, wino.db)).toBe(true);

    // The fused Relu: the same bits as convolution then reluForward / reluBackward then convolution.
    const outR = nanFilled(wino.out.length), relu = nanFilled(wino.out.length);
    K.convReluForward(x, W, b, outR, cg, WINOGRAD);
    K.reluForward(wino.out, relu);
    expect(sameBits(outR, relu)).toBe(true);
    const masked = nanFilled(dout.length);
    K.reluBackward(wino.out, dout, masked);
    const wantR = { dW: nanFilled(W.length), db: nanFilled(FN), dx: nanFilled(x.length) };
    K.convBackward(masked, x, W, wantR.dW, wantR.db, wantR.dx, cg, WINOGRAD);
    const dWR = nanFilled(W.length), dbR = nanFilled(FN), dxR = nanFilled(x.length);
    K.convReluBackward(dout, x, W, outR, dWR, dbR, dxR, cg, WINOGRAD);
    expect(sameBits(dWR, wantR.dW)).toBe(true);
    expect(sameBits(dbR, wantR.db)).toBe(true);
    expect(sameBits(dxR, wantR.dx)).toBe(true);
  });

  test("DeepConvNet's layer shapes (c2 / c4 / c6, 20 samples): within the reference tests' tolerance", () => {
    // Relu'd inputs, He-initialised filters and small gradients, as in training.
    const layers = [
      { g: g3(20, 16, 28, 28, 1), FN: 16 },
      { g: g3(20, 32, 14, 14, 2), FN: 32 },
      { g: g3(20, 64, 8, 8, 1), FN: 64 },
    ];
    for (const { g, FN } of layers) {
      const { OH, OW } = ref.outShape(g);
      const x = rng.floats(g.N * g.C * g.H * g.W).map((v) => Math.max(0, v));
      const W = rng.floats(FN * g.C * 9).map((v) => v * Math.sqrt(6 / (g.C * 9)));
      const b = rng.floats(FN).map((v) => v * 0.1);
      const dout = rng.floats(g.N * FN * OH * OW).map((v) => v * 0.01);
      const out = nanFilled(g.N * FN * OH * OW);
      K.convForward(x, W, b, out, { ...g, FN }, WINOGRAD);
      expectClose(out, ref.convForward(x, W, b, FN, g), `${label({ g, FN })} out`, 1e-5);
      const dW = nanFilled(W.length), db = nanFilled(FN), dx = nanFilled(x.length);
      K.convBackward(dout, x, W, dW, db, dx, { ...g, FN }, WINOGRAD);
      const want = ref.convBackward(dout, x, W, FN, g);
      expectClose(dW, want.dW, `${label({ g, FN })} dW`, 1e-5);
      expectClose(db, want.db, `${label({ g, FN })} db`, 1e-5);
      expectClose(dx, want.dx, `${label({ g, FN })} dx`, 1e-5);
    }
  });

  test('a NaN in x reaches exactly the outputs whose windows hold it, as on the im2col path', () => {
    const g = g3(1, 8, 7, 6, 1), FN = 8, cg = { ...g, FN };
    const { OH, OW } = ref.outShape(g);
    for (const at of [0, 3 * 6 + 2, 5 * 6 + 5, 8 * 42 - 1]) {
      const x = rng.floats(g.N * g.C * g.H * g.W), W = rng.floats(FN * g.C * 9), b = rng.floats(FN);
      x[at] = NaN;
      const a = nanFilled(g.N * FN * OH * OW), c = new Float32Array(a.length);
      K.convForward(x, W, b, a, cg, WINOGRAD);
      K.convForward(x, W, b, c, cg, IM2COL);
      expect(Array.from(a, Number.isNaN)).toEqual(Array.from(c, Number.isNaN));
      expect(a.some(Number.isNaN)).toBe(true);
    }
  });
});

describe('Winograd with fused max pooling: the same bits as convolution, Relu and pooling apart', () => {
  const rng = new Rng(77);
  // 2x2 stride-2 pools over even planes take the in-tile path; odd planes and other windows
  // take the generic one.
  const cases = [
    { g: g3(3, 16, 8, 8, 1), FN: 16, pool: { PH: 2, PW: 2, stride: 2, pad: 0 } },
    { g: g3(2, 8, 14, 12, 2), FN: 8, pool: { PH: 2, PW: 2, stride: 2, pad: 0 } },
    { g: g3(20, 8, 8, 8, 1), FN: 32, pool: { PH: 2, PW: 2, stride: 2, pad: 0 } },
    { g: g3(2, 8, 7, 9, 1), FN: 8, pool: { PH: 2, PW: 2, stride: 2, pad: 0 } },
    { g: g3(2, 16, 8, 8, 1), FN: 8, pool: { PH: 3, PW: 3, stride: 2, pad: 1 } },
  ];
  test.each(cases.map((c) => [`${label(c)}, pool ${c.pool.PH}x${c.pool.PW}/${c.pool.stride} pad ${c.pool.pad}`, c] as const))(
    '%s', (_l, { g, FN, pool }) => {
      const { OH, OW } = ref.outShape(g);
      const pg = { N: g.N, C: FN, H: OH, W: OW, FH: pool.PH, FW: pool.PW, stride: pool.stride, pad: pool.pad };
      const P = ref.outShape(pg);
      const x = rng.floats(g.N * g.C * g.H * g.W), W = rng.floats(FN * g.C * 9), b = rng.floats(FN);
      const dpooled = rng.floats(g.N * FN * P.OH * P.OW);
      const cg = { ...g, FN };
      const fg = { ...cg, PH: pool.PH, PW: pool.PW, poolStride: pool.stride, poolPad: pool.pad };
      for (const relu of [false, true]) {
        const conv = nanFilled(g.N * FN * OH * OW);
        K.convForward(x, W, b, conv, cg, WINOGRAD);
        const out = nanFilled(conv.length);
        if (relu) K.reluForward(conv, out); else out.set(conv);
        const wantPooled = nanFilled(dpooled.length), wantArg = new Int32Array(dpooled.length);
        K.maxPoolForward(out, wantPooled, wantArg, pg);
        const dout = nanFilled(out.length);
        K.maxPoolBackward(dpooled, wantArg, dout, pg);
        const dconv = nanFilled(out.length);
        if (relu) K.reluBackward(conv, dout, dconv); else dconv.set(dout);
        const wantDW = nanFilled(W.length), wantDb = nanFilled(FN), wantDx = nanFilled(x.length);
        K.convBackward(dconv, x, W, wantDW, wantDb, wantDx, cg, WINOGRAD);

        for (const alg of autoRuns(g.C, FN) === WINOGRAD ? [WINOGRAD, AUTO] : [WINOGRAD]) {
          const pooled = nanFilled(dpooled.length), argmax = new Int32Array(dpooled.length).fill(-7);
          K.convPoolForward(x, W, b, pooled, argmax, fg, relu, alg);
          expect(sameBits(pooled, wantPooled)).toBe(true);
          expect(argmax).toEqual(wantArg);
          const dW = nanFilled(W.length), db = nanFilled(FN), dx = nanFilled(x.length);
          K.convPoolBackward(dpooled, x, W, pooled, argmax, dW, db, dx, fg, relu, alg);
          expect(sameBits(dW, wantDW)).toBe(true);
          expect(sameBits(db, wantDb)).toBe(true);
          expect(sameBits(dx, wantDx)).toBe(true);
          const dW2 = nanFilled(W.length), db2 = nanFilled(FN);
          K.convPoolBackward(dpooled, x, W, pooled, argmax, dW2, db2, null, fg, relu, alg);
          expect(sameBits(dW2, wantDW)).toBe(true);
          expect(sameBits(db2, wantDb)).toBe(true);
        }
        // And the reference: pooled values of the (Relu'd) float64 convolution.
        const conv64 = ref.convForward(x, W, b, FN, g).map((v) => (relu && v <= 0 ? 0 : v));
        expectClose(wantPooled, ref.maxPoolForward(conv64, pg).out, 'pooled');
      }
    });

  test('NaN outputs win their pool windows, and argmax values outside a window are routed as maxPoolBackward routes them', () => {
    const g = g3(1, 8, 4, 4, 1), FN = 8, cg = { ...g, FN };
    const fg = { ...cg, PH: 2, PW: 2, poolStride: 2, poolPad: 0 };
    const x = rng.floats(8 * 16), W = rng.floats(FN * 8 * 9), b = rng.floats(FN);
    x[5] = NaN; // channel 0, (1, 1): every output of the first tile of every filter
    const pooled = nanFilled(FN * 4), argmax = new Int32Array(FN * 4);
    K.convPoolForward(x, W, b, pooled, argmax, fg, true, WINOGRAD);
    for (let f = 0; f < FN; f++) {
      expect(pooled[f * 4]).toBeNaN();
      expect(argmax[f * 4]).toBe(0);
    }
    // Winners pointing elsewhere in the plane, outside it, or negative.
    const odd = argmax.slice();
    odd[0] = 15; odd[1] = -1; odd[2] = 1 << 20; odd[5] = 0;
    const dpooled = rng.floats(FN * 4), finite = pooled.map((v) => (Number.isNaN(v) ? 1 : v));
    const conv = new Float32Array(FN * 16);
    const dconv = nanFilled(conv.length);
    K.maxPoolBackward(dpooled, odd, dconv, { N: 1, C: FN, H: 4, W: 4, FH: 2, FW: 2, stride: 2, pad: 0 });
    // relu = false: the routed gradient as is.
    const wantDW = nanFilled(W.length), wantDb = nanFilled(FN), wantDx = nanFilled(x.length);
    K.convBackward(dconv, x, W, wantDW, wantDb, wantDx, cg, WINOGRAD);
    const dW = nanFilled(W.length), db = nanFilled(FN), dx = nanFilled(x.length);
    K.convPoolBackward(dpooled, x, W, finite, odd, dW, db, dx, fg, false, WINOGRAD);
    expect(sameBits(dW, wantDW)).toBe(true);
    expect(sameBits(db, wantDb)).toBe(true);
    expect(sameBits(dx, wantDx)).toBe(true);
  });
});

describe('choosing the algorithm', () => {
  const rng = new Rng(5);
  test("'auto' keeps im2col where Winograd does not apply; asking for Winograd there is a RangeError naming why", () => {
    const shapes: Array<{ g: Geom; FN: number }> = [
      { g: g3(2, 4, 6, 6, 1), FN: 8 }, // C not a multiple of 8
      { g: g3(2, 8, 6, 6, 1), FN: 12 }, // FN not a multiple of 8
      { g: { ...g3(2, 8, 7, 7, 1), stride: 2 }, FN: 8 },
      { g: { ...g3(2, 8, 7, 7, 1), FH: 5, FW: 5 }, FN: 8 },
      { g: g3(1, 8, 3, 3, 3), FN: 8 }, // pad 3
    ];
    for (const { g, FN } of shapes) {
      const { OH, OW } = ref.outShape(g);
      const x = rng.floats(g.N * g.C * g.H * g.W), W = rng.floats(FN * g.C * g.FH * g.FW), b = rng.floats(FN);
      const a = nanFilled(g.N * FN * OH * OW), c = nanFilled(a.length);
      K.convForward(x, W, b, a, { ...g, FN }, AUTO);
      K.convForward(x, W, b, c, { ...g, FN }, IM2COL);
      expect(sameBits(a, c)).toBe(true);
      const e = caught(() => K.convForward(x, W, b, a, { ...g, FN }, WINOGRAD));
      expect(e.name).toBe('RangeError');
      expect(e.message).toMatch(/^convForward: .*Winograd.*needs a 3x3 window, stride 1, pad <= 2, and C and FN multiples of 8/);
    }
  });

  test("Convolution's algorithm option: 'winograd' and 'im2col' agree within rounding; a bad value is a RangeError", () => {
    const W = new Tensor(rng.floats(16 * 8 * 9), [16, 8, 3, 3]), b = new Tensor(rng.floats(16), [16]);
    const x = new Tensor(rng.floats(2 * 8 * 10 * 10), [2, 8, 10, 10]);
    const dout = new Tensor(rng.floats(2 * 16 * 10 * 10), [2, 16, 10, 10]);
    const result = (algorithm: 'im2col' | 'winograd' | 'auto'): Float32Array[] => {
      const conv = new Convolution(W, b, 1, 1, { algorithm });
      expect(conv.algorithm).toBe(algorithm);
      const out = conv.forward(x, true).data.slice();
      const dx = conv.backward(dout, true).data.slice();
      return [out, dx, conv.grads.W.data.slice(), conv.grads.b.data.slice()];
    };
    const w = result('winograd'), i = result('im2col'), a = result('auto');
    for (let k = 0; k < 4; k++) {
      expect(worst(w[k], i[k])).toBeLessThan(1e-5);
      expect(sameBits(a[k], autoRuns(8, 16) === WINOGRAD ? w[k] : i[k])).toBe(true);
    }
    expect(() => new Convolution(W, b, 1, 1, { algorithm: 'fft' as 'auto' })).toThrow(RangeError);
    expect(() => new Convolution(W, b, 1, 1, { algorithm: 'fft' as 'auto' })).toThrow(/^Convolution: algorithm must be one of 'auto', 'im2col', 'winograd', 'direct', got "fft"/);
  });

  test('BLASNET_CONV_ALGORITHM=im2col: a DeepConvNet (fused conv + Relu + pool steps) built under it runs im2col, and agrees with the default one within rounding', () => {
    const make = (env: string | undefined): DeepConvNet => {
      const before = process.env.BLASNET_CONV_ALGORITHM;
      if (env === undefined) delete process.env.BLASNET_CONV_ALGORITHM; else process.env.BLASNET_CONV_ALGORITHM = env;
      try {
        setSeed(9);
        return new DeepConvNet({ inputDim: [1, 12, 12], hiddenSize: 10, outputSize: 4, dropoutRatio: 0,
          convParams: [8, 8, 16, 16, 16, 16].map((f, i) => ({ filterNum: f, filterSize: 3, pad: i === 3 ? 2 : 1, stride: 1 })) });
      } finally {
        if (before === undefined) delete process.env.BLASNET_CONV_ALGORITHM; else process.env.BLASNET_CONV_ALGORITHM = before;
      }
    };
    const x = new Tensor(rng.floats(6 * 144, 0, 1), [6, 1, 12, 12]);
    const t = Int32Array.from([0, 1, 2, 3, 1, 2]);
    const grads = (net: DeepConvNet): Record<string, Float32Array> =>
      Object.fromEntries(Object.entries(net.gradient(x, t)).map(([k, v]) => [k, v.data.slice()]));
    const wino = grads(make(undefined)), im2col = grads(make('im2col'));
    const convs = (net: DeepConvNet): string[] => net.layers.filter((l): l is Convolution => l instanceof Convolution).map((l) => l.algorithm);
    expect(convs(make('im2col'))).toEqual(new Array(6).fill('im2col'));
    expect(convs(make('auto'))).toEqual(new Array(6).fill('auto'));
    expect(() => make('winograd')).toThrow(/^BLASNET_CONV_ALGORITHM must be auto or im2col, got 'winograd'/);
    expect(Object.keys(wino).sort()).toEqual(Object.keys(im2col).sort());
    for (const k of Object.keys(wino)) {
      expect(worst(wino[k], im2col[k])).toBeLessThan(1e-4);
    }
    // The first layer (C = 1) is im2col in both; the others take Winograd by default where it pays.
    if (autoRuns(8, 8) === WINOGRAD) expect(sameBits(wino.W2, im2col.W2)).toBe(false);
  });
});
