// SPDX-License-Identifier: MIT
// The element-wise native kernels (activations, optimizer steps, batch normalisation,
// dropout, multiply, scale) through lib/core/kernels.ts against float64 references written
// here from the course's formulas, on small arrays and on arrays above the 2^20-operation
// threshold where ParallelFor splits the loop over two threads; subarray views check that
// only the output window is written. (Bad arguments of every entry point are derived from
// the contract in test/native-contract.test.ts.)
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as K from '../lib/core/kernels';

type F32 = Float32Array;

// Globals are slow to look up inside jest's sandbox (about 200 ns each), which adds seconds over
// arrays of a million elements: the references and checks use these module-level copies.
const { abs, exp, floor, fround, imul, max, sqrt, tanh } = Math;
const isNan = Number.isNaN;

/** A seeded mulberry32 stream, as test/helpers/random.ts, with the cached Math functions above. */
class Rng {
  private state: number;
  constructor(seed: number) { this.state = seed >>> 0; }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  uniform(lo = -1, hi = 1): number { return lo + (hi - lo) * this.next(); }
  floats(n: number, lo = -1, hi = 1): F32 {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * this.next();
    return a;
  }
}

// Above 2^20 even for the cheapest loops (cost 1 per element), odd so the two chunks differ.
const BIG = (1 << 20) + 4099;
const SENTINEL = -12345.5;

/** |a - e| <= atol + rtol * |e|, element by element, with the first failure named. */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string,
  rtol: number, atol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    const ok = a === e || (isNan(e) ? isNan(a) : abs(a - e) <= atol + rtol * abs(e));
    if (!ok) throw new Error(`${what}: element ${i} of ${expected.length} is ${a}, expected ${e}`);
  }
}

/** Same as expectClose with the tolerance relative to the array's largest magnitude too. */
function expectCloseScaled(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rtol: number): void {
  let scale = 0;
  for (let i = 0; i < expected.length; i++) if (abs(expected[i]) > scale) scale = abs(expected[i]);
  expectClose(actual, expected, what, rtol, rtol * scale);
}

function sameBits(a: F32, b: F32): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return false;
  return true;
}

/**
 * `data` (or n NaNs, for an output) as a view at element `offset` of a larger buffer filled
 * with a sentinel, so any write outside the view shows.
 */
interface Placed { buf: F32; view: F32; offset: number }
function placed(data: F32 | number, offset: number, tail = 3): Placed {
  const n = typeof data === 'number' ? data : data.length;
  const buf = new Float32Array(offset + n + tail).fill(SENTINEL);
  const view = buf.subarray(offset, offset + n);
  if (typeof data === 'number') view.fill(NaN); else view.set(data);
  expect(view.byteOffset).toBe(offset * 4);
  return { buf, view, offset };
}

function expectGuardsIntact(p: Placed, what: string): void {
  for (let i = 0; i < p.buf.length; i++) {
    if (i === p.offset) i += p.view.length;
    if (i < p.buf.length && p.buf[i] !== SENTINEL) {
      throw new Error(`${what}: element ${i - p.offset} relative to the view was written (${p.buf[i]})`);
    }
  }
}

function copy(a: F32): F32 { return new Float32Array(a); }

/** f applied to each element, into a Float64Array (Array.from is slow on a million elements). */
function mapped(a: ArrayLike<number>, f: (v: number) => number): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = f(a[i]);
  return out;
}

// --- references (float64, from the course's formulas) -------------------------------------

const sigmoid = (v: number): number => 1 / (1 + exp(-v));

interface OptCase {
  name: string; kind: number; slots: 0 | 1 | 2;
  /** hyperparameters h0..h3 for step t (1-based; only Adam's lr_t depends on t) */
  hyper(t: number): [number, number, number, number];
  /** One native step with those hyperparameters, by name. */
  step(p: F32, g: F32, s1: F32 | null, s2: F32 | null, h: readonly number[]): void;
}

const ADAM = { lr: 0.001, beta1: 0.9, beta2: 0.999 };
const OPTIMIZERS: OptCase[] = [
  { name: 'SGD', kind: 0, slots: 0, hyper: () => [0.1, 0, 0, 0], step: (p, g, _s1, _s2, [lr]) => K.sgdStep(p, g, lr) },
  {
    name: 'Momentum', kind: 1, slots: 1, hyper: () => [0.1, 0.9, 0, 0],
    step: (p, g, v, _s2, [lr, momentum]) => K.momentumStep(p, g, v as F32, lr, momentum),
  },
  {
    name: 'Nesterov', kind: 2, slots: 1, hyper: () => [0.05, 0.8, 0, 0],
    step: (p, g, v, _s2, [lr, momentum]) => K.nesterovStep(p, g, v as F32, lr, momentum),
  },
  {
    name: 'AdaGrad', kind: 3, slots: 1, hyper: () => [0.1, 1e-7, 0, 0],
    step: (p, g, h, _s2, [lr, eps]) => K.adaGradStep(p, g, h as F32, lr, eps),
  },
  {
    name: 'RMSprop', kind: 4, slots: 1, hyper: () => [0.01, 0.99, 1e-7, 0],
    step: (p, g, h, _s2, [lr, decayRate, eps]) => K.rmspropStep(p, g, h as F32, lr, decayRate, eps),
  },
  {
    name: 'Adam', kind: 5, slots: 2,
    hyper: (t) => [ADAM.lr * sqrt(1 - ADAM.beta2 ** t) / (1 - ADAM.beta1 ** t), ADAM.beta1, ADAM.beta2, 1e-7],
    step: (p, g, m, v, [lrT, beta1, beta2, eps]) => K.adamStep(p, g, m as F32, v as F32, lrT, beta1, beta2, eps),
  },
  // Weight averaging: "p" is the average, "g" the parameter it follows (decay 0.9 moves it a tenth of the way).
  { name: 'averageStep', kind: 6, slots: 0, hyper: () => [0.9, 0, 0, 0], step: (p, g, _s1, _s2, [decay]) => K.averageStep(p, g, decay) },
];

/** One step of the course's common/optimizer.py update for `kind`, in float64, in place. */
function refOptimizerStep(kind: number, p: Float64Array, g: ArrayLike<number>, s1: Float64Array, s2: Float64Array,
  h: readonly number[]): void {
  const [h0, h1, h2, h3] = h;
  for (let i = 0; i < p.length; i++) {
    const gi = g[i];
    switch (kind) {
      case 0: p[i] -= h0 * gi; break;
      case 1: s1[i] = h1 * s1[i] - h0 * gi; p[i] += s1[i]; break;
      case 2:
        // The course's current order: the parameter moves with the velocity from before the step.
        p[i] += h1 * h1 * s1[i];
        p[i] -= (1 + h1) * h0 * gi;
        s1[i] *= h1; s1[i] -= h0 * gi;
        break;
      case 3: s1[i] += gi * gi; p[i] -= h0 * gi / (sqrt(s1[i]) + h1); break;
      case 4:
        s1[i] *= h1; s1[i] += (1 - h1) * gi * gi;
        p[i] -= h0 * gi / (sqrt(s1[i]) + h2);
        break;
      case 5:
        s1[i] += (1 - h1) * (gi - s1[i]);
        s2[i] += (1 - h2) * (gi * gi - s2[i]);
        p[i] -= h0 * s1[i] / (sqrt(s2[i]) + h3);
        break;
      case 6: p[i] += (1 - h0) * (gi - p[i]); break;
      default: throw new Error(`no reference for kind ${kind}`);
    }
  }
}

interface BnForward {
  out: Float64Array; xc: Float64Array; xn: Float64Array; std: Float64Array;
  runMean: Float64Array; runVar: Float64Array;
}

/** The course's BatchNormalization.__forward over rows of x (N, D), with eps passed in. */
function refBnForward(x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>,
  runMean0: ArrayLike<number>, runVar0: ArrayLike<number>, N: number, D: number,
  momentum: number, eps: number, train: boolean): BnForward {
  const xc = new Float64Array(N * D), xn = new Float64Array(N * D), out = new Float64Array(N * D);
  const std = new Float64Array(D);
  const runMean = Float64Array.from(runMean0), runVar = Float64Array.from(runVar0);
  for (let j = 0; j < D; j++) {
    if (train) {
      let mu = 0;
      for (let r = 0; r < N; r++) mu += x[r * D + j];
      mu /= N;
      let v = 0;
      for (let r = 0; r < N; r++) {
        const c = x[r * D + j] - mu;
        xc[r * D + j] = c;
        v += c * c;
      }
      v /= N;
      std[j] = sqrt(v + eps);
      runMean[j] = momentum * runMean[j] + (1 - momentum) * mu;
      runVar[j] = momentum * runVar[j] + (1 - momentum) * v;
    } else {
      std[j] = sqrt(runVar[j] + eps);
      for (let r = 0; r < N; r++) xc[r * D + j] = x[r * D + j] - runMean[j];
    }
    for (let r = 0; r < N; r++) {
      xn[r * D + j] = xc[r * D + j] / std[j];
      out[r * D + j] = gamma[j] * xn[r * D + j] + beta[j];
    }
  }
  return { out, xc, xn, std, runMean, runVar };
}

/**
 * The course's BatchNormalization.__backward (train) from the forward's xc, xn, std; after a
 * test-mode forward mean and std are constants, so dx = gamma * dout / std.
 */
function refBnBackward(dout: ArrayLike<number>, gamma: ArrayLike<number>, xc: ArrayLike<number>,
  xn: ArrayLike<number>, std: ArrayLike<number>, N: number, D: number, train: boolean):
  { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const dx = new Float64Array(N * D), dgamma = new Float64Array(D), dbeta = new Float64Array(D);
  for (let j = 0; j < D; j++) {
    let dstd = 0;
    for (let r = 0; r < N; r++) {
      const i = r * D + j;
      dbeta[j] += dout[i];
      dgamma[j] += xn[i] * dout[i];
      const dxn = gamma[j] * dout[i];
      dx[i] = dxn / std[j];
      dstd -= (dxn * xc[i]) / (std[j] * std[j]);
    }
    if (!train) continue;
    const dvar = (0.5 * dstd) / std[j];
    let dmu = 0;
    for (let r = 0; r < N; r++) {
      const i = r * D + j;
      dx[i] += (2 / N) * xc[i] * dvar;
      dmu += dx[i];
    }
    for (let r = 0; r < N; r++) dx[r * D + j] -= dmu / N;
  }
  return { dx, dgamma, dbeta };
}

// --- thread setup -------------------------------------------------------------------------

const initialThreads = K.getNumThreads();
beforeAll(() => {
  K.setNumThreads(2);
  // Both OpenBLAS and the loop kernels: the large cases below run on two loop threads.
  expect(K.blasInfo().numThreads).toBe(2);
});
afterAll(() => K.setNumThreads(initialThreads));

/** Runs `fn` with one loop thread, then restores two. */
function singleThreaded(fn: () => void): void {
  K.setNumThreads(1);
  try { fn(); } finally { K.setNumThreads(2); }
}

// --- activations --------------------------------------------------------------------------

interface ForwardCase { fn: 'reluForward' | 'sigmoidForward' | 'tanhForward'; ref: (v: number) => number; rtol: number; atol: number }
const FORWARD: ForwardCase[] = [
  { fn: 'reluForward', ref: (v) => (v > 0 ? v : 0), rtol: 0, atol: 0 },
  { fn: 'sigmoidForward', ref: sigmoid, rtol: 2e-7, atol: 1e-30 },
  { fn: 'tanhForward', ref: tanh, rtol: 5e-7, atol: 1e-30 },
];

interface BackwardCase {
  fn: 'reluBackward' | 'sigmoidBackward' | 'tanhBackward';
  /** the saved array's values: x for relu, the forward output for sigmoid and tanh */
  saved: (rng: Rng) => number;
  ref: (s: number, d: number) => number;
  rtol: number; atol: number;
}
const BACKWARD: BackwardCase[] = [
  { fn: 'reluBackward', saved: (r) => (r.next() < 0.05 ? 0 : r.uniform(-3, 3)), ref: (x, d) => (x > 0 ? d : 0), rtol: 0, atol: 0 },
  { fn: 'sigmoidBackward', saved: (r) => r.uniform(0, 1), ref: (o, d) => d * (1 - o) * o, rtol: 1e-6, atol: 1e-12 },
  // 1 - out^2 cancels near |out| = 1; the float32 square is off by up to 2^-24.
  { fn: 'tanhBackward', saved: (r) => r.uniform(-1, 1), ref: (o, d) => d * (1 - o * o), rtol: 1e-6, atol: 2e-7 },
];

/** Random activations plus the edges: zeros, +-0, large magnitudes that saturate, infinities. */
function activationInput(rng: Rng, n: number): F32 {
  const x = rng.floats(n, -6, 6);
  const edges = [0, -0, 1e-30, -1e-30, 30, -30, 88, -88, 100, -100, 1e30, -1e30, Infinity, -Infinity];
  for (let i = 0; i < edges.length && i < n; i++) x[(i * 7919) % n] = edges[i];
  return x;
}

describe('activation forward kernels', () => {
  test.each(FORWARD)('$fn matches the float64 formula on small arrays (edges included)', ({ fn, ref, rtol, atol }) => {
    const rng = new Rng(11);
    for (const n of [1, 2, 7, 8, 9, 33, 1000]) {
      const x = activationInput(rng, n);
      const x0 = copy(x);
      const out = new Float32Array(n).fill(NaN);
      K[fn](x, out);
      expectClose(out, Array.from(x, ref), `${fn} n=${n}`, rtol, atol);
      expect(sameBits(x, x0)).toBe(true);
    }
  });

  test('relu passes positives through exactly and zeroes the rest; sigmoid and tanh saturate without NaN', () => {
    const x = Float32Array.from([-1e30, -3, -0, 0, 1e-38, 2.5, 1e30, Infinity, -Infinity]);
    const r = new Float32Array(x.length), s = new Float32Array(x.length), t = new Float32Array(x.length);
    K.reluForward(x, r); K.sigmoidForward(x, s); K.tanhForward(x, t);
    expect(Array.from(r)).toEqual([0, 0, 0, 0, fround(1e-38), 2.5, fround(1e30), Infinity, 0]);
    expect(s[0]).toBe(0); expect(s[6]).toBe(1); expect(s[7]).toBe(1); expect(s[8]).toBe(0); expect(s[3]).toBe(0.5);
    expect(t[0]).toBe(-1); expect(t[6]).toBe(1); expect(t[7]).toBe(1); expect(t[8]).toBe(-1); expect(t[3]).toBe(0);
  });

  test.each(FORWARD)('$fn on > 2^20 elements through offset views writes only the output window, same bits on 1 and 2 threads',
    ({ fn, ref, rtol, atol }) => {
      const rng = new Rng(12);
      const x = placed(activationInput(rng, BIG), 5);
      const x0 = copy(x.view);
      const out = placed(BIG, 3);
      K[fn](x.view, out.view);
      expectClose(out.view, mapped(x.view, ref), `${fn} big`, rtol, atol);
      expectGuardsIntact(out, `${fn} out`);
      expect(sameBits(x.view, x0)).toBe(true);
      const one = new Float32Array(BIG).fill(NaN);
      singleThreaded(() => K[fn](x.view, one));
      expect(sameBits(one, out.view)).toBe(true);
    });
});

describe('activation backward kernels', () => {
  test.each(BACKWARD)('$fn matches the float64 formula on small arrays', ({ fn, saved, ref, rtol, atol }) => {
    const rng = new Rng(21);
    for (const n of [1, 3, 8, 17, 1000]) {
      const s = Float32Array.from({ length: n }, () => saved(rng));
      const dout = rng.floats(n, -2, 2);
      const s0 = copy(s), d0 = copy(dout);
      const dx = new Float32Array(n).fill(NaN);
      K[fn](s, dout, dx);
      const want = Array.from(s, (v, i) => ref(v, dout[i]));
      expectClose(dx, want, `${fn} n=${n}`, rtol, atol);
      expect(sameBits(s, s0) && sameBits(dout, d0)).toBe(true);
    }
  });

  test('relu backward zeroes the gradient where x is 0 or negative', () => {
    const x = Float32Array.from([-2, -0, 0, 1e-38, 3]);
    const dout = Float32Array.from([5, 6, 7, 8, 9]);
    const dx = new Float32Array(5).fill(NaN);
    K.reluBackward(x, dout, dx);
    expect(Array.from(dx)).toEqual([0, 0, 0, 8, 9]);
  });

  test.each(BACKWARD)('$fn on > 2^20 elements through offset views writes only dx\'s window, same bits on 1 and 2 threads',
    ({ fn, saved, ref, rtol, atol }) => {
      const rng = new Rng(22);
      const sv = new Float32Array(BIG);
      for (let i = 0; i < BIG; i++) sv[i] = saved(rng);
      const s = placed(sv, 1);
      const dout = placed(rng.floats(BIG, -2, 2), 6);
      const dx = placed(BIG, 2);
      K[fn](s.view, dout.view, dx.view);
      const want = new Float64Array(BIG);
      for (let i = 0; i < BIG; i++) want[i] = ref(s.view[i], dout.view[i]);
      expectClose(dx.view, want, `${fn} big`, rtol, atol);
      expectGuardsIntact(dx, `${fn} dx`);
      const one = new Float32Array(BIG);
      singleThreaded(() => K[fn](s.view, dout.view, one));
      expect(sameBits(one, dx.view)).toBe(true);
    });
});

// --- multiply and scale --------------------------------------------------------------------

describe('multiply and scale', () => {
  test('multiply is the float32-rounded product, on small and > 2^20 element views', () => {
    const rng = new Rng(31);
    for (const n of [1, 5, 64, BIG]) {
      const a = placed(rng.floats(n, -10, 10), 3);
      const b = placed(rng.floats(n, -10, 10), 1);
      const out = placed(n, 4);
      K.multiply(a.view, b.view, out.view);
      // The float64 product of two float32s is exact, so one fround is the correctly rounded float32 product.
      const want = new Float64Array(n);
      for (let i = 0; i < n; i++) want[i] = fround(a.view[i] * b.view[i]);
      expectClose(out.view, want, `multiply n=${n}`, 0, 0);
      expectGuardsIntact(out, 'multiply out');
    }
  });

  test('multiply may write over a or b exactly (the documented in-place use)', () => {
    const rng = new Rng(32);
    const a = rng.floats(100), b = rng.floats(100);
    const want = Array.from(a, (v, i) => fround(v * b[i]));
    const a1 = copy(a);
    K.multiply(a1, b, a1);
    expectClose(a1, want, 'multiply into a', 0, 0);
    const b1 = copy(b);
    K.multiply(a, b1, b1);
    expectClose(b1, want, 'multiply into b', 0, 0);
  });

  test('scale is x times float32(s), on small and > 2^20 element views, and in place', () => {
    const rng = new Rng(33);
    for (const [n, s] of [[1, 2], [9, -0.3], [BIG, 1 / 0.7]] as const) {
      const x = placed(rng.floats(n, -5, 5), 2);
      const out = placed(n, 7);
      K.scale(x.view, out.view, s);
      const sf = fround(s);
      expectClose(out.view, mapped(x.view, (v) => fround(v * sf)), `scale n=${n}`, 0, 0);
      expectGuardsIntact(out, 'scale out');
      const inPlace = copy(x.view);
      K.scale(inPlace, inPlace, s);
      expect(sameBits(inPlace, out.view)).toBe(true);
    }
  });
});

// --- softmax ------------------------------------------------------------------------------

describe('softmax', () => {
  /** The course's softmax of one row, in float64. */
  const refSoftmax = (row: ArrayLike<number>): Float64Array => {
    let m = -Infinity;
    for (let i = 0; i < row.length; i++) m = max(m, row[i]);
    const e = mapped(row, (v) => exp(v - m));
    let sum = 0;
    for (let i = 0; i < e.length; i++) sum += e[i];
    return mapped(e, (v) => v / sum);
  };

  test('each row matches the float64 formula and sums to 1; large logits do not overflow', () => {
    const rng = new Rng(31);
    for (const [rows, cols] of [[1, 1], [3, 4], [7, 10], [100, 10], [2, 1000]]) {
      const x = rng.floats(rows * cols, -8, 8);
      x[0] = 1000; // exp(1000) overflows without the shift by the maximum
      const out = placed(rows * cols, 2);
      K.softmax(x, out.view, rows, cols);
      expectGuardsIntact(out, 'softmax out');
      for (let r = 0; r < rows; r++) {
        const got = out.view.subarray(r * cols, (r + 1) * cols);
        expectClose(got, refSoftmax(x.subarray(r * cols, (r + 1) * cols)), `softmax ${rows}x${cols} row ${r}`, 1e-6, 1e-30);
        let s = 0;
        for (let i = 0; i < cols; i++) s += got[i];
        expect(abs(s - 1)).toBeLessThan(1e-5);
      }
    }
  });

  test('in place (out = x) gives the same bits, on 1 and 2 threads', () => {
    const rng = new Rng(32);
    const rows = 3000, cols = 400; // above the threshold where the rows are split over threads
    const x = rng.floats(rows * cols, -5, 5);
    const out = new Float32Array(x.length);
    K.softmax(x, out, rows, cols);
    const inPlace = copy(x);
    K.softmax(inPlace, inPlace, rows, cols);
    expect(sameBits(inPlace, out)).toBe(true);
    singleThreaded(() => {
      const one = new Float32Array(x.length);
      K.softmax(x, one, rows, cols);
      expect(sameBits(one, out)).toBe(true);
    });
  });
});

// --- optimizer steps ----------------------------------------------------------------------

/** Runs `steps` native steps of `c` on float32 copies of p0 and returns them with the float64 reference. */
function runOptimizer(c: OptCase, p0: F32, grads: F32[], views: boolean) {
  const n = p0.length;
  const p = placed(p0, views ? 3 : 0, views ? 2 : 0);
  const s1 = c.slots >= 1 ? placed(new Float32Array(n), views ? 5 : 0, views ? 2 : 0) : null;
  const s2 = c.slots === 2 ? placed(new Float32Array(n), views ? 1 : 0, views ? 2 : 0) : null;
  const rp = Float64Array.from(p0), r1 = new Float64Array(n), r2 = new Float64Array(n);
  grads.forEach((g, k) => {
    const h = c.hyper(k + 1);
    c.step(p.view, g, s1 ? s1.view : null, s2 ? s2.view : null, h);
    refOptimizerStep(c.kind, rp, g, r1, r2, h);
  });
  return { p, s1, s2, rp, r1, r2 };
}

describe('optimizer steps', () => {
  test.each(OPTIMIZERS)('$name: 3 steps match the course\'s update loop in float64 (parameters and state)', (c) => {
    const rng = new Rng(40 + c.kind);
    const n = 257;
    const p0 = rng.floats(n, -1, 1);
    const grads = [0, 1, 2].map(() => rng.floats(n, -1, 1));
    // A gradient that stays 0: AdaGrad/RMSprop/Adam must leave that parameter alone (eps, no 0/0).
    for (const g of grads) g[0] = 0;
    const { p, s1, s2, rp, r1, r2 } = runOptimizer(c, p0, grads, false);
    expectCloseScaled(p.view, rp, `${c.name} p`, 2e-6);
    // (The average follows its parameter, 0 there: it moves like every other element.)
    if (c.kind !== 6) expect(p.view[0]).toBe(p0[0]);
    if (s1) expectCloseScaled(s1.view, r1, `${c.name} s1`, 2e-6);
    if (s2) expectCloseScaled(s2.view, r2, `${c.name} s2`, 2e-6);
    // The steps did move the parameters (a kernel that does nothing would fail above too,
    // unless the reference were also inert).
    let moved = 0;
    for (let i = 0; i < n; i++) moved = max(moved, abs(rp[i] - p0[i]));
    expect(moved).toBeGreaterThan(1e-4);
  });

  test.each(OPTIMIZERS)('$name on > 2^20 elements through offset views: only the windows change, same bits on 1 and 2 threads', (c) => {
    const rng = new Rng(50 + c.kind);
    const p0 = rng.floats(BIG, -1, 1);
    const grads = [0, 1, 2].map(() => rng.floats(BIG, -1, 1));
    const { p, s1, s2, rp, r1, r2 } = runOptimizer(c, p0, grads, true);
    expectCloseScaled(p.view, rp, `${c.name} p big`, 2e-6);
    expectGuardsIntact(p, `${c.name} p`);
    if (s1) { expectCloseScaled(s1.view, r1, `${c.name} s1 big`, 2e-6); expectGuardsIntact(s1, `${c.name} s1`); }
    if (s2) { expectCloseScaled(s2.view, r2, `${c.name} s2 big`, 2e-6); expectGuardsIntact(s2, `${c.name} s2`); }
    singleThreaded(() => {
      const one = runOptimizer(c, p0, grads, false);
      expect(sameBits(one.p.view, p.view)).toBe(true);
      if (s1 && one.s1) expect(sameBits(one.s1.view, s1.view)).toBe(true);
      if (s2 && one.s2) expect(sameBits(one.s2.view, s2.view)).toBe(true);
    });
  });

  test('the gradient is only read', () => {
    const rng = new Rng(59);
    const g = rng.floats(50), g0 = copy(g);
    const p = rng.floats(50), m = new Float32Array(50), v = new Float32Array(50);
    K.adamStep(p, g, m, v, 0.01, 0.9, 0.999, 1e-7);
    expect(sameBits(g, g0)).toBe(true);
  });
});

// --- batch normalisation ------------------------------------------------------------------

interface BnArrays {
  x: F32; gamma: F32; beta: F32; runMean: F32; runVar: F32; dout: F32;
}

function bnInputs(rng: Rng, N: number, D: number): BnArrays {
  const x = new Float32Array(N * D);
  // Per-feature offsets and spreads, so centring and scaling both matter.
  const shift = Array.from({ length: D }, () => rng.uniform(-3, 3));
  const spread = Array.from({ length: D }, () => rng.uniform(0.1, 4));
  for (let r = 0; r < N; r++) for (let j = 0; j < D; j++) x[r * D + j] = shift[j] + spread[j] * rng.uniform(-1, 1);
  return {
    x, gamma: rng.floats(D, 0.5, 2), beta: rng.floats(D, -1, 1),
    runMean: rng.floats(D, -1, 1), runVar: rng.floats(D, 0.2, 3), dout: rng.floats(N * D, -1, 1),
  };
}

/** Native forward and backward on offset views; returns the views and their placements. */
function bnNative(a: BnArrays, N: number, D: number, momentum: number, eps: number, train: boolean) {
  const rows = N * D;
  const runMean = placed(a.runMean, 2), runVar = placed(a.runVar, 1);
  const xc = placed(rows, 3), xn = placed(rows, 1), std = placed(D, 4), out = placed(rows, 5);
  const x = placed(a.x, 7), gamma = placed(a.gamma, 1), beta = placed(a.beta, 2);
  K.batchNormForward(x.view, gamma.view, beta.view, runMean.view, runVar.view, xc.view, xn.view,
    std.view, out.view, N, D, momentum, eps, train);
  const dgamma = placed(D, 3), dbeta = placed(D, 2), dx = placed(rows, 6);
  const dout = placed(a.dout, 4);
  K.batchNormBackward(dout.view, gamma.view, xc.view, xn.view, std.view, dgamma.view, dbeta.view, dx.view, N, D, train);
  for (const [name, p] of Object.entries({ runMean, runVar, xc, xn, std, out, dgamma, dbeta, dx })) {
    expectGuardsIntact(p, `batchNorm ${name}`);
  }
  expect(sameBits(x.view, a.x) && sameBits(gamma.view, a.gamma) && sameBits(beta.view, a.beta)).toBe(true);
  expect(sameBits(dout.view, a.dout)).toBe(true);
  return { runMean: runMean.view, runVar: runVar.view, xc: xc.view, xn: xn.view, std: std.view, out: out.view,
    dgamma: dgamma.view, dbeta: dbeta.view, dx: dx.view };
}

function checkBn(N: number, D: number, momentum: number, eps: number, train: boolean, seed: number): void {
  const a = bnInputs(new Rng(seed), N, D);
  const got = bnNative(a, N, D, momentum, eps, train);
  const want = refBnForward(a.x, a.gamma, a.beta, a.runMean, a.runVar, N, D, momentum, eps, train);
  const tag = `N${N} D${D} ${train ? 'train' : 'test'} eps ${eps}`;
  expectClose(got.std, want.std, `std ${tag}`, 1e-6, 0);
  expectClose(got.runMean, want.runMean, `runMean ${tag}`, 1e-6, 1e-6);
  expectClose(got.runVar, want.runVar, `runVar ${tag}`, 1e-5, 1e-7);
  expectCloseScaled(got.xc, want.xc, `xc ${tag}`, 1e-6);
  expectCloseScaled(got.xn, want.xn, `xn ${tag}`, 1e-5);
  expectCloseScaled(got.out, want.out, `out ${tag}`, 1e-5);
  if (!train) {
    // Test mode reads the running statistics and leaves them as they were.
    expect(sameBits(got.runMean, a.runMean) && sameBits(got.runVar, a.runVar)).toBe(true);
  }
  // Backward from the reference's own xc, xn, std, so only the backward formula is compared.
  const back = refBnBackward(a.dout, a.gamma, want.xc, want.xn, want.std, N, D, train);
  expectCloseScaled(got.dbeta, back.dbeta, `dbeta ${tag}`, 1e-5);
  expectCloseScaled(got.dgamma, back.dgamma, `dgamma ${tag}`, 1e-5);
  // In training dx is a difference of terms of size gamma * dout / std that nearly cancel (for
  // N = 1 and 2 exactly, up to eps), so float32 rounding is measured against those terms.
  let term = 0;
  for (let i = 0; i < N * D; i++) term = max(term, abs((a.gamma[i % D] * a.dout[i]) / want.std[i % D]));
  expectClose(got.dx, back.dx, `dx ${tag}`, 1e-5, (train ? 1e-6 : 1e-7) * term);
}

describe('batch normalisation', () => {
  test('the float64 reference backward is the gradient of the reference forward (central differences)', () => {
    const rng = new Rng(60);
    const N = 4, D = 3, eps = 1e-3, momentum = 0.9;
    const a = bnInputs(rng, N, D);
    const x = Float64Array.from(a.x);
    for (const train of [true, false]) {
      const loss = (xs: Float64Array): number => {
        const f = refBnForward(xs, a.gamma, a.beta, a.runMean, a.runVar, N, D, momentum, eps, train);
        let s = 0;
        for (let i = 0; i < N * D; i++) s += f.out[i] * a.dout[i];
        return s;
      };
      const f = refBnForward(x, a.gamma, a.beta, a.runMean, a.runVar, N, D, momentum, eps, train);
      const { dx } = refBnBackward(a.dout, a.gamma, f.xc, f.xn, f.std, N, D, train);
      const h = 1e-6;
      for (let i = 0; i < N * D; i++) {
        const xp = Float64Array.from(x), xm = Float64Array.from(x);
        xp[i] += h; xm[i] -= h;
        expect(abs((loss(xp) - loss(xm)) / (2 * h) - dx[i])).toBeLessThan(1e-6);
      }
    }
  });

  test.each([
    [7, 5, 0.9, 10e-7], [1, 4, 0.9, 1e-5], [2, 1, 0, 1e-7], [16, 33, 1, 1e-3], [9, 6, 0.5, 2.5],
  ])('train and test mode, N=%i D=%i momentum=%f eps=%f: forward, running statistics and backward', (N, D, momentum, eps) => {
    checkBn(N, D, momentum, eps, true, 61 + N);
    checkBn(N, D, momentum, eps, false, 71 + N);
  });

  test('eps is used as passed: a large eps changes std and the output', () => {
    const a = bnInputs(new Rng(62), 5, 3);
    const small = bnNative(a, 5, 3, 0.9, 1e-7, true);
    const large = bnNative(a, 5, 3, 0.9, 4, true);
    for (let j = 0; j < 3; j++) expect(large.std[j] ** 2 - small.std[j] ** 2).toBeCloseTo(4, 4);
  });

  test('a training forward updates the running statistics step after step as momentum * old + (1 - momentum) * batch', () => {
    const rng = new Rng(63);
    const N = 8, D = 4, momentum = 0.7, eps = 1e-5;
    const runMean = new Float32Array(D), runVar = new Float32Array(D).fill(1);
    let rm: ArrayLike<number> = Float64Array.from(runMean), rv: ArrayLike<number> = Float64Array.from(runVar);
    for (let step = 0; step < 4; step++) {
      const a = bnInputs(rng, N, D);
      const xc = new Float32Array(N * D), xn = new Float32Array(N * D), out = new Float32Array(N * D), std = new Float32Array(D);
      K.batchNormForward(a.x, a.gamma, a.beta, runMean, runVar, xc, xn, std, out, N, D, momentum, eps, true);
      const want = refBnForward(a.x, a.gamma, a.beta, rm, rv, N, D, momentum, eps, true);
      rm = want.runMean; rv = want.runVar;
      expectClose(runMean, rm, `runMean step ${step}`, 1e-5, 1e-6);
      expectClose(runVar, rv, `runVar step ${step}`, 1e-5, 1e-6);
    }
  });

  test('more than 2^20 elements (N=1030, D=1024) through offset views, train and test', () => {
    checkBn(1030, 1024, 0.9, 10e-7, true, 64);
    checkBn(1030, 1024, 0.9, 10e-7, false, 65);
  });
});

// --- dropout ------------------------------------------------------------------------------

describe('dropoutForward', () => {
  const N = 1 << 20;
  const ratio = 0.3;
  const keep = 1 / (1 - ratio);
  const x = new Rng(80).floats(N, -2, 2);

  function drop(hi: number, lo: number, r = ratio, k = keep): { out: F32; mask: F32 } {
    const out = new Float32Array(N).fill(NaN), mask = new Float32Array(N).fill(NaN);
    K.dropoutForward(x, out, mask, r, k, hi, lo);
    return { out, mask };
  }

  test('mask values are 0 or keep, zeros make up ratio of 1M elements within 0.5% (and in each quarter), out = x * mask', () => {
    const { out, mask } = drop(12345, 678);
    const kf = fround(keep);
    let zeros = 0;
    const quarter = [0, 0, 0, 0];
    for (let i = 0; i < N; i++) {
      const m = mask[i];
      if (m !== 0 && m !== kf) throw new Error(`mask[${i}] is ${m}, expected 0 or ${kf}`);
      if (m === 0) { zeros++; quarter[floor((4 * i) / N)]++; }
      const want = fround(x[i] * m);
      if (out[i] !== want) throw new Error(`out[${i}] is ${out[i]}, expected ${want}`);
    }
    expect(abs(zeros / N - ratio)).toBeLessThan(0.005);
    for (const q of quarter) expect(abs(q / (N / 4) - ratio)).toBeLessThan(0.01);
  });

  test('other ratios: 0 keeps everything, 0.9 drops about 90%', () => {
    const none = drop(1, 2, 0, 1);
    expect(none.mask.every((m) => m === 1)).toBe(true);
    expect(sameBits(none.out, x)).toBe(true);
    const most = drop(3, 4, 0.9, 10);
    let zeros = 0;
    for (let i = 0; i < N; i++) if (most.mask[i] === 0) zeros++;
    expect(abs(zeros / N - 0.9)).toBeLessThan(0.005);
  });

  test('the same seeds give identical masks; a different seedHigh, seedLow or swapped pair differs', () => {
    const a = drop(777, 4242).mask;
    expect(sameBits(drop(777, 4242).mask, a)).toBe(true);
    const differing = (b: F32): number => {
      let d = 0;
      for (let i = 0; i < N; i++) if (a[i] !== b[i]) d++;
      return d / N;
    };
    // Independent masks disagree on 2 * 0.3 * 0.7 = 42% of positions.
    for (const [hi, lo] of [[778, 4242], [777, 4243], [4242, 777], [0, 0], [2 ** 31 - 1, 2 ** 31 - 1]]) {
      expect(abs(differing(drop(hi, lo).mask) - 0.42)).toBeLessThan(0.01);
    }
  });

  test('the draws are splitmix64 from the seed (a sequential BigInt reference), whatever the thread count', () => {
    // The reference: state = seed; per element state += γ, z = mix(state), u = (z >> 11)·2^-53,
    // kept when u > ratio. The kernel computes draw i on its own (seed + (i + 1)·γ), vectorised
    // and split over threads: the masks must be these, on every path and thread count.
    const M64 = (1n << 64n) - 1n;
    const hi = 5, lo = 77, n = 4096;
    let state = ((BigInt(hi) << 31n) ^ BigInt(lo)) & M64;
    const want = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      state = (state + 0x9e3779b97f4a7c15n) & M64;
      let z = state;
      z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
      z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
      z ^= z >> 31n;
      want[i] = Number(z >> 11n) / 2 ** 53 > ratio ? fround(keep) : 0;
    }
    const before = K.getNumThreads();
    try {
      for (const threads of [1, 2, 3]) {
        K.setNumThreads(threads);
        const { mask } = drop(hi, lo);
        expect(sameBits(mask.subarray(0, n), want)).toBe(true);
      }
    } finally {
      K.setNumThreads(before);
    }
  });

  test('offset views: only the out and mask windows are written', () => {
    const n = 1000;
    const xs = placed(x.subarray(0, n), 3);
    const out = placed(n, 2), mask = placed(n, 5);
    K.dropoutForward(xs.view, out.view, mask.view, ratio, keep, 9, 10);
    expectGuardsIntact(out, 'dropout out');
    expectGuardsIntact(mask, 'dropout mask');
    // The same stream as on an unshifted array.
    const mask2 = new Float32Array(n), out2 = new Float32Array(n);
    K.dropoutForward(x.subarray(0, n), out2, mask2, ratio, keep, 9, 10);
    expect(sameBits(mask.view, mask2) && sameBits(out.view, out2)).toBe(true);
  });
});

// --- after refused calls ------------------------------------------------------------------

describe('refused calls leave the kernels working', () => {
  test('a few bad calls (every kind is derived from the contract in native-contract.test.ts), then the kernels compute', () => {
    const x = Float32Array.from([-1, 2]), out = new Float32Array(2);
    expect(() => K.reluForward(x, new Float32Array(3))).toThrow(/reluForward: 'out' must have 2 elements/);
    expect(() => K.sgdStep(x, x, 0.5)).toThrow(/sgdStep: 'p' and 'g' must not share memory/);
    K.reluForward(x, out);
    expect(Array.from(out)).toEqual([0, 2]);
    const p = Float32Array.from([1, 1]);
    K.sgdStep(p, Float32Array.from([1, -1]), 0.5);
    expect(Array.from(p)).toEqual([0.5, 1.5]);
  });
});
