// SPDX-License-Identifier: MIT
// A seeded PRNG so that every failing test can be replayed with the same data.
// The generator is mulberry32 (32-bit state, public domain algorithm).
import { Tensor } from '../../lib/core/tensor';

export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [lo, hi], both ends included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** Uniform in [lo, hi). */
  uniform(lo = -1, hi = 1): number {
    return lo + (hi - lo) * this.next();
  }

  bool(): boolean {
    return this.next() < 0.5;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** A Float32Array of n values uniform in [lo, hi). */
  floats(n: number, lo = -1, hi = 1): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.uniform(lo, hi);
    return a;
  }
}

/**
 * A small separable toy set of n samples: features uniform in [-1, 1), and the class is the
 * index of the largest of the first `classes` features.
 */
export function toyData(seed: number, n: number, features: number, classes: number): { x: Tensor; t: Int32Array } {
  const rng = new Rng(seed);
  const x = new Tensor(rng.floats(n * features), [n, features]);
  const t = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (x.data[i * features + c] > x.data[i * features + best]) best = c;
    t[i] = best;
  }
  return { x, t };
}
