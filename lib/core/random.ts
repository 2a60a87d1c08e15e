// SPDX-License-Identifier: MIT
// The library's one random stream: weight initialisation, shuffling and
// dropout masks all draw from it, so setSeed(n) makes a run repeat exactly.
import { describe, expectInt } from './errors';

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

/** Standard normal draw (Box–Muller, pairs cached). */
export function randn(): number {
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

/** Fills `out` with scale * N(0, 1) draws. */
export function fillRandn(out: Float32Array, scale = 1): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = scale * randn();
  return out;
}

/** A uniformly random permutation of 0..n-1 written into `out` (Fisher–Yates). */
export function permutation(n: number, out: Int32Array = new Int32Array(n)): Int32Array {
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = floor(random() * (i + 1));
    const t = out[i]; out[i] = out[j]; out[j] = t;
  }
  return out;
}

// Unseeded runs still differ from each other.
setSeed((Date.now() ^ (process.pid << 16) ^ Math.floor(Math.random() * 2 ** 31)) >>> 0);
