// SPDX-License-Identifier: MIT
// Comparisons of float32 results shared by the kernel suites.

/** Whether a and b hold the same bits, element by element (NaN payloads and -0 included). */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return false;
  return true;
}

/** max |a - e| over (|e| + max|e|): the kernels tests' closeness measure; Infinity on a NaN. */
export function worst(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let scale = 0, w = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]) / (Math.abs(expected[i]) + scale);
    w = Number.isNaN(d) ? Infinity : Math.max(w, d);
  }
  return w;
}

/** n NaNs: an output array whose every element a kernel must write. */
export const nanFilled = (n: number): Float32Array => new Float32Array(n).fill(NaN);
