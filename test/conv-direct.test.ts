// SPDX-License-Identifier: MIT
// The direct convolution of thin layers (native/conv_direct.cc: the `algorithm` argument 3 of
// the convolution kernels; stride 1, at most 32 taps C·FH·FW) against the float64 reference in
// test/reference/naive.ts, beside the im2col path on the same inputs; what 'auto' takes at each
// instruction-set level; the fused Relu / max-pooling steps equal the separate kernels bit for
// bit on this path too, but for the filter and bias gradients behind a 2x2 max pooling, which
// sum only the windows' winners (within float rounding of the separate kernels). CI runs this file once per instruction-set level the machine has
// (BLASNET_ISA), so the 16-lane (forward) and 8-lane (backward) AVX-512 kernels, the AVX2 and the
// generic ones are each checked.
import { describe, expect, test } from '@jest/globals';
import * as K from '../lib/core/kernels';
import { blasInfo, Convolution, Tensor } from '../lib';
import { nanFilled, sameBits, worst } from './helpers/floats';
import { Rng } from './helpers/random';
import * as ref from './reference/naive';

type Geom = ref.Geom;
const AUTO = 0, IM2COL = 1, DIRECT = 3;
/** What 'auto' runs for a thin layer: the direct kernels at the avx2 level, and at avx512 in forward. */
const autoRuns = (pass: 'forward' | 'backward'): number => {
  const isa = blasInfo().isa;
  return isa === 'avx2' || (isa === 'avx512' && pass === 'forward') ? DIRECT : IM2COL;
};

const geom = (N: number, C: number, H: number, W: number, FH: number, FW: number, pad: number): Geom =>
  ({ N, C, H, W, FH, FW, stride: 1, pad });

// Thin layers: the course's two CNNs' first layers, pads 0..3, planes narrower and wider than a
// vector (1..30 output columns), odd filter counts (partial register blocks), 2-3 channels,
// non-square windows, 1x1 windows, and batches over several reduction blocks.
const CASES: Array<{ g: Geom; FN: number }> = [
  { g: geom(3, 1, 28, 28, 5, 5, 0), FN: 30 },
  { g: geom(2, 1, 28, 28, 3, 3, 1), FN: 16 },
  { g: geom(2, 2, 9, 11, 3, 4, 2), FN: 5 },
  { g: geom(3, 3, 6, 6, 3, 3, 0), FN: 7 },
  { g: geom(2, 1, 5, 5, 1, 1, 0), FN: 1 },
  { g: geom(4, 1, 12, 7, 5, 5, 3), FN: 13 },
  { g: geom(3, 1, 4, 3, 4, 3, 0), FN: 5 },
  { g: geom(2, 32, 5, 5, 1, 1, 0), FN: 3 },
  { g: geom(20, 2, 10, 30, 2, 2, 1), FN: 9 },
  // Even outputs whose rows end part way into a vector (8x14) and planes whose size is no
  // multiple of a vector (6x6: the last floats are summed one by one).
  { g: geom(3, 1, 10, 16, 3, 3, 0), FN: 6 },
  { g: geom(9, 2, 8, 8, 3, 3, 0), FN: 5 },
];
const label = ({ g, FN }: { g: Geom; FN: number }): string =>
  `N${g.N} C${g.C} ${g.H}x${g.W} window ${g.FH}x${g.FW} pad ${g.pad} FN${FN}`;

describe('direct convolution against the float64 reference and the im2col path', () => {
  const rng = new Rng(77);
  test.each(CASES.map((c) => [label(c), c] as const))('%s', (_l, { g, FN }) => {
    const { OH, OW } = ref.outShape(g);
    const cg = { ...g, FN };
    const KK = g.C * g.FH * g.FW;
    const x = rng.floats(g.N * g.C * g.H * g.W), W = rng.floats(FN * KK), b = rng.floats(FN);
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
    const direct = run(DIRECT), im2col = run(IM2COL), auto = run(AUTO);
    const wants: Record<string, ArrayLike<number>> = { out: want, dW: wantB.dW, db: wantB.db, dx: wantB.dx };
    for (const k of Object.keys(wants)) {
      const w = worst(direct[k], wants[k]);
      if (!(w <= 1e-5)) throw new Error(`direct ${k}: worst relative error ${w} > 1e-5`);
      // As accurate as the im2col path, within a small factor (both are float32 sums).
      expect(w).toBeLessThanOrEqual(Math.max(8 * worst(im2col[k], wants[k]), 2e-7));
      const pass = k === 'out' ? 'forward' : 'backward';
      expect(sameBits(auto[k], autoRuns(pass) === DIRECT ? direct[k] : im2col[k])).toBe(true);
    }

    // Without dx: the same dW and db, bit for bit.
    const dW2 = nanFilled(W.length), db2 = nanFilled(FN);
    K.convBackward(dout, x, W, dW2, db2, null, cg, DIRECT);
    expect(sameBits(dW2, direct.dW)).toBe(true);
    expect(sameBits(db2, direct.db)).toBe(true);

    // The fused Relu: the same bits as the convolution then reluForward / reluBackward.
    const outR = nanFilled(direct.out.length), relu = nanFilled(direct.out.length);
    K.convReluForward(x, W, b, outR, cg, DIRECT);
    K.reluForward(direct.out, relu);
    expect(sameBits(outR, relu)).toBe(true);
    const masked = nanFilled(dout.length);
    K.reluBackward(direct.out, dout, masked);
    const sep = { dW: nanFilled(W.length), db: nanFilled(FN), dx: nanFilled(x.length) };
    K.convBackward(masked, x, W, sep.dW, sep.db, sep.dx, cg, DIRECT);
    const fused = { dW: nanFilled(W.length), db: nanFilled(FN), dx: nanFilled(x.length) };
    K.convReluBackward(dout, x, W, outR, fused.dW, fused.db, fused.dx, cg, DIRECT);
    for (const k of ['dW', 'db', 'dx'] as const) expect(sameBits(fused[k], sep[k])).toBe(true);

    // The fused 2x2 max pooling (where the output has room for a window): the pooled values and
    // winners of the separate kernels.
    if (OH >= 2 && OW >= 2) {
      const pg = { N: g.N, C: FN, H: OH, W: OW, FH: 2, FW: 2, stride: 2, pad: 0 };
      const { OH: POH, OW: POW } = ref.outShape(pg);
      const P = g.N * FN * POH * POW;
      const pooled = nanFilled(P), argmax = new Int32Array(P).fill(-7);
      K.convPoolForward(x, W, b, pooled, argmax, { ...cg, PH: 2, PW: 2, poolStride: 2, poolPad: 0 }, true, DIRECT);
      const sepPool = nanFilled(P), sepArg = new Int32Array(P);
      K.maxPoolForward(relu, sepPool, sepArg, pg);
      expect(sameBits(pooled, sepPool)).toBe(true);
      expect(Array.from(argmax)).toEqual(Array.from(sepArg));

      // Its backward, which multiplies only the winners (where the 2x2 windows tile the output):
      // dW and db within float rounding of maxPoolBackward, reluBackward and convBackward one
      // after the other (its sums run over the windows, theirs over vector lanes) and as close
      // to the float64 reference; dx the same bits. With and without the Relu and dx; some
      // pooled gradients are ±0.
      if (OH % 2 === 0 && OW % 2 === 0) {
        const dpooled = rng.floats(P);
        for (let i = 0; i < P; i += 5) dpooled[i] = i % 10 === 0 ? 0 : -0;
        for (const withRelu of [true, false]) {
          const pooledIn = nanFilled(P), argIn = new Int32Array(P);
          K.convPoolForward(x, W, b, pooledIn, argIn, { ...cg, PH: 2, PW: 2, poolStride: 2, poolPad: 0 }, withRelu, DIRECT);
          const routed = nanFilled(dout.length);
          K.maxPoolBackward(dpooled, argIn, routed, pg);
          if (withRelu) K.reluBackward(direct.out, routed.slice(), routed);
          const exact = ref.convBackward(routed, x, W, FN, g);
          for (const wantDx of [true, false]) {
            const apart = { dW: nanFilled(W.length), db: nanFilled(FN), dx: nanFilled(x.length) };
            K.convBackward(routed, x, W, apart.dW, apart.db, wantDx ? apart.dx : null, cg, DIRECT);
            const one = { dW: nanFilled(W.length), db: nanFilled(FN), dx: nanFilled(x.length) };
            K.convPoolBackward(dpooled, x, W, pooledIn, argIn, one.dW, one.db, wantDx ? one.dx : null,
              { ...cg, PH: 2, PW: 2, poolStride: 2, poolPad: 0 }, withRelu, DIRECT);
            const what = `fused pooling backward (relu ${withRelu}, dx ${wantDx})`;
            for (const k of ['dW', 'db'] as const) {
              const w = worst(one[k], exact[k]);
              if (!(w <= Math.max(4 * worst(apart[k], exact[k]), 1e-6))) throw new Error(`${what}: ${k} worst relative error ${w}`);
              if (!(worst(one[k], apart[k]) <= 1e-6)) throw new Error(`${what}: ${k} differs from the separate kernels by more than rounding`);
            }
            if (wantDx && !sameBits(one.dx, apart.dx)) throw new Error(`${what}: dx differs from the separate kernels`);
          }
        }
      }
    }
  });

  // The pooled forward reads the wide outputs straight into the pooled planes (CompactPool2x2):
  // pooled rows of 1 to 18 windows (partial vectors at every width), with and without the Relu,
  // and inputs holding NaN, +Inf and -Inf, against the separate kernels (direct convolution,
  // reluForward, maxPoolForward): the same bits and the same winners, ties and NaN included.
  test.each([2, 8, 18, 26, 34, 36])('pooled forward on %i-wide outputs: the separate kernels\' bits and winners, with NaN and Inf', (OW) => {
    const g = geom(3, 2, 8, OW + 2, 3, 3, 0), FN = 5, cg = { ...g, FN };
    const { OH } = ref.outShape(g);
    const pg = { N: g.N, C: FN, H: OH, W: OW, FH: 2, FW: 2, stride: 2, pad: 0 };
    const P = g.N * FN * (OH / 2) * (OW / 2);
    for (const special of [false, true]) {
      const x = rng.floats(g.N * g.C * g.H * g.W);
      // Zero weights on one filter: all-zero windows (after the bias) tie, the first must win.
      const W = rng.floats(FN * g.C * 9), b = rng.floats(FN);
      W.fill(0, 9 * g.C, 18 * g.C);
      if (special) {
        x[3] = NaN;
        x[x.length - 2] = Infinity;
        x[g.C * g.H * g.W + g.W + 1] = -Infinity;
      }
      const conv = nanFilled(g.N * FN * OH * OW);
      K.convForward(x, W, b, conv, cg, DIRECT);
      for (const relu of [true, false]) {
        const act = nanFilled(conv.length);
        if (relu) K.reluForward(conv, act); else act.set(conv);
        const want = nanFilled(P), wantArg = new Int32Array(P);
        K.maxPoolForward(act, want, wantArg, pg);
        const pooled = nanFilled(P), argmax = new Int32Array(P).fill(-7);
        K.convPoolForward(x, W, b, pooled, argmax, { ...cg, PH: 2, PW: 2, poolStride: 2, poolPad: 0 }, relu, DIRECT);
        expect(sameBits(pooled, want)).toBe(true);
        expect(Array.from(argmax)).toEqual(Array.from(wantArg));
        if (special) expect(pooled.some((v) => Number.isNaN(v))).toBe(true);
      }
    }
  });

  // The pooled backward checks every winner against its window, a vector of windows at a time
  // over the whole pooled plane and one at a time past the last whole vector; a winner anywhere
  // else (another window's row or column, outside the plane, negative) sends the sample to the
  // dense kernels: the same bits as maxPoolBackward then convBackward. 18x18 outputs: 81
  // windows, a tail of 1 at every vector width.
  test.each([
    ['the next window of its row', 2, 4],
    ['the window below', 0, 2 * 18],
    ['the window above', 30, -2 * 18],
    ['before the plane', 0, -1000],
    ['past the plane', 9, 5000],
    ['the last window (the tail) reaching the one to its left', 80, -2],
  ])('a winner moved to %s: the dense kernels\' bits', (_what, at, shift) => {
    // One sample: the check sends the whole sample, not one window, to the dense kernels.
    const g = geom(1, 1, 22, 22, 5, 5, 0), FN = 3, cg = { ...g, FN };
    const pg = { N: g.N, C: FN, H: 18, W: 18, FH: 2, FW: 2, stride: 2, pad: 0 };
    const fg = { ...cg, PH: 2, PW: 2, poolStride: 2, poolPad: 0 };
    const P = g.N * FN * 81;
    const x = rng.floats(g.N * 22 * 22), W = rng.floats(FN * 25), b = rng.floats(FN);
    const pooled = nanFilled(P), argmax = new Int32Array(P);
    K.convPoolForward(x, W, b, pooled, argmax, fg, false, DIRECT);
    // In the second filter's plane.
    const i = 81 + at;
    argmax[i] += shift;
    const dpooled = rng.floats(P);
    const routed = nanFilled(g.N * FN * 18 * 18);
    K.maxPoolBackward(dpooled, argmax, routed, pg);
    const want = { dW: nanFilled(W.length), db: nanFilled(FN), dx: nanFilled(x.length) };
    K.convBackward(routed, x, W, want.dW, want.db, want.dx, cg, DIRECT);
    const got = { dW: nanFilled(W.length), db: nanFilled(FN), dx: nanFilled(x.length) };
    K.convPoolBackward(dpooled, x, W, pooled, argmax, got.dW, got.db, got.dx, fg, false, DIRECT);
    for (const k of ['dW', 'db', 'dx'] as const) expect(sameBits(got[k], want[k])).toBe(true);
    // And with every winner in its window, within rounding of them (the winners' sums).
    argmax[i] -= shift;
    K.maxPoolBackward(dpooled, argmax, routed, pg);
    K.convBackward(routed, x, W, want.dW, want.db, want.dx, cg, DIRECT);
    K.convPoolBackward(dpooled, x, W, pooled, argmax, got.dW, got.db, got.dx, fg, false, DIRECT);
    expect(sameBits(got.dW, want.dW)).toBe(false);
    for (const k of ['dW', 'db'] as const) expect(worst(got[k], want[k])).toBeLessThan(1e-5);
    expect(sameBits(got.dx, want.dx)).toBe(true);
  });

  test('a layer the direct kernels do not fit is refused with the reason: stride 2, and 36 taps', () => {
    expect(() => K.convForward(new Float32Array(81), new Float32Array(4 * 9), new Float32Array(4), new Float32Array(4 * 4 * 4),
      { N: 1, C: 1, H: 9, W: 9, FN: 4, FH: 3, FW: 3, stride: 2, pad: 0 }, DIRECT))
      .toThrow(/algorithm 3 \(direct\) needs stride 1 and C·FH·FW <= 32; got stride 2, C·FH·FW 9/);
    expect(() => K.convForward(new Float32Array(243), new Float32Array(4 * 36), new Float32Array(4), new Float32Array(4 * 6 * 7),
      { N: 1, C: 3, H: 9, W: 9, FN: 4, FH: 4, FW: 3, stride: 1, pad: 0 }, DIRECT))
      .toThrow(/got stride 1, C·FH·FW 36/);
  });

  test("Convolution's algorithm option 'direct' agrees with 'im2col' within rounding", () => {
    const W = new Tensor(rng.floats(30 * 25), [30, 1, 5, 5]), b = new Tensor(rng.floats(30), [30]);
    const x = new Tensor(rng.floats(4 * 784, 0, 1), [4, 1, 28, 28]);
    const dout = new Tensor(rng.floats(4 * 30 * 576), [4, 30, 24, 24]);
    const result = (algorithm: 'im2col' | 'direct'): Float32Array[] => {
      const conv = new Convolution(W.clone(), b.clone(), 1, 0, { algorithm });
      expect(conv.algorithm).toBe(algorithm);
      const out = conv.forward(x, true).data.slice();
      const dx = conv.backward(dout, true).data.slice();
      return [out, dx, conv.grads.W.data.slice(), conv.grads.b.data.slice()];
    };
    const d = result('direct'), i = result('im2col');
    for (let k = 0; k < 4; k++) expect(worst(d[k], i[k])).toBeLessThan(1e-5);
    expect(() => new Convolution(W, b, 2, 0, { algorithm: 'direct' }).forward(x, true))
      .toThrow(/^convForward: algorithm 3 \(direct\) needs stride 1/);
  });
});
