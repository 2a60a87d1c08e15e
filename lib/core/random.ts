// SPDX-License-Identifier: MIT
// The library's one random stream: weight initialisation, shuffling and
// dropout masks all draw from it, so setSeed(n) makes a run repeat exactly.
import { describe, expectBoolean, expectInt, expectNumber, product, readOptions } from './errors';
import { Tensor } from './tensor';

// Local names: global lookups are slow inside some sandboxes (jest's vm), and these run per draw.
const { imul, sqrt, log, sin, cos, floor, PI } = Math;

// xoshiro128** over four 32-bit words, seeded through splitmix32.
let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
let spareNormal: number | null = null;

function splitmix32(x: number): () => number {
  return () => {
    x = (x + 0x9e3779b9) | 0;
    let z = x;
    z = imul(z ^ (z >>> 16), 0x85ebca6b);
    z = imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** Seeds every random draw of the library (weights, shuffles, dropout masks). */
export function setSeed(seed: number): void {
  expectInt('setSeed', 'seed', seed, 0);
  const next = splitmix32(seed);
  s0 = next(); s1 = next(); s2 = next(); s3 = next();
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  spareNormal = null;
}

/** The whole state of the library's random stream, as getRandomState returns it (plain JSON). */
export interface RandomState {
  /** The four 32-bit words of the xoshiro128** generator, unsigned. */
  words: [number, number, number, number];
  /** The second normal draw of the last Box–Muller pair, not yet handed out, or null. */
  spareNormal: number | null;
}

/**
 * A snapshot of the random stream (for checkpoints): setRandomState(getRandomState()) later
 * makes every following draw repeat exactly.
 * @example
 *   const saved = getRandomState();
 *   const a = random();
 *   setRandomState(saved);
 *   random() === a; // true
 */
export function getRandomState(): RandomState {
  return { words: [s0 >>> 0, s1 >>> 0, s2 >>> 0, s3 >>> 0], spareNormal };
}

/** Restores a state from getRandomState (checked: four unsigned 32-bit words, not all zero). */
export function setRandomState(state: RandomState): void {
  const fn = 'setRandomState';
  const w = (state as { words?: unknown } | null)?.words;
  if (!Array.isArray(w) || w.length !== 4 || !w.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) {
    throw new TypeError(`${fn}: state.words must be four unsigned 32-bit integers, got ${describe(w)}`);
  }
  if (w.every((v) => v === 0)) throw new RangeError(`${fn}: state.words must not all be 0 (the generator would only give zeros)`);
  const spare = state.spareNormal;
  if (spare !== null && (typeof spare !== 'number' || !Number.isFinite(spare))) {
    throw new TypeError(`${fn}: state.spareNormal must be a finite number or null, got ${describe(spare)}`);
  }
  s0 = w[0] | 0; s1 = w[1] | 0; s2 = w[2] | 0; s3 = w[3] | 0;
  spareNormal = spare;
}

function nextU32(): number {
  const result = imul(rotl(imul(s1, 5), 7), 9) >>> 0;
  const t = s1 << 9;
  s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
  s2 ^= t;
  s3 = rotl(s3, 11);
  return result;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Uniform in [0, 1) with 32 random bits. */
export function random(): number {
  return nextU32() / 4294967296;
}

/** One standard normal draw (Box–Muller, pairs cached): the source of every Gaussian in the library. */
export function standardNormal(): number {
  if (spareNormal !== null) {
    const v = spareNormal;
    spareNormal = null;
    return v;
  }
  let u = 0;
  while (u === 0) u = random();
  const v = random();
  const r = sqrt(-2 * log(u));
  spareNormal = r * sin(2 * PI * v);
  return r * cos(2 * PI * v);
}

/** Fills `out` with std * N(0, 1) draws (each draw in double, then rounded to float32). */
export function fillRandn(out: Float32Array, std = 1): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = std * standardNormal();
  return out;
}

/** Reads a shape given as one array or as dimensions one by one (numpy's randn(1000, 100)). */
function readShape(fn: string, args: readonly unknown[]): number[] {
  const dims = Array.isArray(args[0]) ? args[0] as unknown[] : args;
  if (dims.length === 0) throw new TypeError(`${fn}: give a shape, e.g. ${fn}([1000, 100]) or ${fn}(1000, 100)`);
  return dims.map((d, i) => expectInt(fn, `shape[${i}]`, d, 1));
}

/**
 * A Tensor of standard normal draws from the library's seeded stream (numpy's
 * `np.random.randn`), optionally times `std`: `setSeed(n)` makes it repeat.
 * @example
 *   setSeed(0);
 *   const x = randn(1000, 100);            // np.random.randn(1000, 100)
 *   const w = randn([100, 100], 0.01);     // np.random.randn(100, 100) * 0.01
 */
export function randn(shape: readonly number[], std?: number): Tensor;
export function randn(...dims: number[]): Tensor;
export function randn(...args: unknown[]): Tensor {
  const fn = 'randn';
  const shape = readShape(fn, args);
  let std = 1;
  if (Array.isArray(args[0])) {
    if (args.length > 2) throw new TypeError(`${fn}: takes (shape, std) or dimensions, got ${args.length} arguments starting with an array`);
    if (args[1] !== undefined) std = expectNumber(fn, 'std', args[1]);
  }
  return new Tensor(fillRandn(new Float32Array(product(fn, 'shape', shape)), std), shape);
}

/**
 * A Tensor of draws uniform in [0, 1) from the seeded stream (numpy's `np.random.rand`).
 * @example
 *   const mask = rand(100, 50);   // np.random.rand(100, 50)
 */
export function rand(shape: readonly number[]): Tensor;
export function rand(...dims: number[]): Tensor;
export function rand(...args: unknown[]): Tensor {
  const fn = 'rand';
  if (Array.isArray(args[0]) && args.length > 1) throw new TypeError(`${fn}: takes a shape array or dimensions, not both`);
  const shape = readShape(fn, args);
  const out = new Float32Array(product(fn, 'shape', shape));
  // float32 rounding could turn a draw just below 1 into 1: keep the interval half-open.
  for (let i = 0; i < out.length; i++) out[i] = Math.min(random(), 0.99999994);
  return new Tensor(out, shape);
}

/**
 * A random permutation of 0..n-1 (Fisher–Yates on the seeded stream), as numpy's
 * `np.random.permutation(n)`; `out` (length n) is filled instead of a new array when given.
 * @example
 *   const order = permutation(60000);   // then x.take(order) shuffles the rows
 */
export function permutation(n: number, out?: Int32Array): Int32Array {
  expectInt('permutation', 'n', n, 0);
  if (out === undefined) out = new Int32Array(n);
  else if (!(out instanceof Int32Array) || out.length !== n) {
    throw new TypeError(`permutation: out must be an Int32Array of length ${n}, got ${describe(out)}`);
  }
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = floor(random() * (i + 1));
    const t = out[i]; out[i] = out[j]; out[j] = t;
  }
  return out;
}

export interface ChoiceOptions {
  /** Draw with replacement, as numpy's default (true); false gives k distinct indices. */
  replace?: boolean;
}

/**
 * k indices drawn uniformly from 0..n-1 on the seeded stream, as numpy's
 * `np.random.choice(n, k)`: with replacement by default (the course's mini-batch
 * `batch_mask`), k distinct indices with `{ replace: false }`.
 * @example
 *   const batchMask = choice(trainSize, batchSize);   // np.random.choice(train_size, batch_size)
 *   const xBatch = xTrain.take(batchMask);             // x_train[batch_mask]
 */
export function choice(n: number, k: number, options?: ChoiceOptions): Int32Array {
  const fn = 'choice';
  expectInt(fn, 'n', n, 1);
  expectInt(fn, 'k', k, 0);
  const o = readOptions(fn, options, ['replace']);
  const replace = o.replace === undefined ? true : expectBoolean(fn, 'options.replace', o.replace);
  const out = new Int32Array(k);
  if (replace) {
    for (let i = 0; i < k; i++) out[i] = floor(random() * n);
    return out;
  }
  if (k > n) throw new RangeError(`${fn}: cannot take k = ${k} distinct indices from n = ${n} without replacement (k must be <= n)`);
  // Partial Fisher–Yates over a sparse map: O(k) time and memory, whatever n is.
  const swapped = new Map<number, number>();
  for (let i = 0; i < k; i++) {
    const j = i + floor(random() * (n - i));
    const vj = swapped.get(j) ?? j;
    swapped.set(j, swapped.get(i) ?? i);
    out[i] = vj;
  }
  return out;
}

// Unseeded runs still differ from each other.
setSeed((Date.now() ^ (process.pid << 16) ^ Math.floor(Math.random() * 2 ** 31)) >>> 0);
