// SPDX-License-Identifier: MIT
// Argument checks shared by every public entry point. Each error names the
// function and the argument, says what was expected and what arrived.

/** Thrown when two shapes that must fit together do not (names both sides). */
export class ShapeError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'ShapeError';
  }
}

/** A short description of any value, for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : `the number ${v}`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'boolean') return `the boolean ${v}`;
  if (typeof v === 'bigint') return `the bigint ${v}`;
  if (typeof v === 'function') return 'a function';
  if (ArrayBuffer.isView(v)) {
    const len = (v as unknown as { length?: number }).length;
    return `a ${v.constructor.name}${len !== undefined ? `(${len})` : ''}`;
  }
  if (Array.isArray(v)) return `an Array(${v.length})`;
  return `an object (${Object.prototype.toString.call(v).slice(8, -1)})`;
}

export function expectFloat32(fn: string, name: string, v: unknown): asserts v is Float32Array {
  if (!(v instanceof Float32Array)) {
    throw new TypeError(`${fn}: ${name} must be a Float32Array, got ${describe(v)}`);
  }
}

export function expectInt32(fn: string, name: string, v: unknown): asserts v is Int32Array {
  if (!(v instanceof Int32Array)) {
    throw new TypeError(`${fn}: ${name} must be an Int32Array, got ${describe(v)}`);
  }
}

const INT_MAX = 2147483647;

/** An integer in [min, 2^31 - 1]; TypeError for non-numbers, RangeError otherwise. */
export function expectInt(fn: string, name: string, v: unknown, min = 1): number {
  if (typeof v !== 'number') {
    throw new TypeError(`${fn}: ${name} must be an integer >= ${min}, got ${describe(v)}`);
  }
  if (!Number.isInteger(v) || v < min || v > INT_MAX) {
    throw new RangeError(`${fn}: ${name} must be an integer >= ${min} (and < 2^31), got ${describe(v)}`);
  }
  return v;
}

/** A finite number, optionally within [min, max] (exclusive bounds when asked). */
export function expectNumber(fn: string, name: string, v: unknown,
  opts: { min?: number; max?: number; minExclusive?: boolean; maxExclusive?: boolean } = {}): number {
  if (typeof v !== 'number') {
    throw new TypeError(`${fn}: ${name} must be a number, got ${describe(v)}`);
  }
  const { min, max, minExclusive, maxExclusive } = opts;
  const lowOk = min === undefined || (minExclusive ? v > min : v >= min);
  const highOk = max === undefined || (maxExclusive ? v < max : v <= max);
  if (!Number.isFinite(v) || !lowOk || !highOk) {
    const lo = min === undefined ? '' : `${minExclusive ? '>' : '>='} ${min}`;
    const hi = max === undefined ? '' : `${maxExclusive ? '<' : '<='} ${max}`;
    const range = [lo, hi].filter(Boolean).join(' and ');
    throw new RangeError(`${fn}: ${name} must be a finite number${range ? ' ' + range : ''}, got ${describe(v)}`);
  }
  return v;
}

export function expectBoolean(fn: string, name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new TypeError(`${fn}: ${name} must be a boolean, got ${describe(v)}`);
  return v;
}

/** Product of dimensions, with a RangeError when it exceeds what a buffer can hold. */
export function product(fn: string, what: string, dims: readonly number[]): number {
  let p = 1;
  for (const d of dims) p *= d;
  if (!Number.isSafeInteger(p) || p > 2 ** 32) {
    throw new RangeError(`${fn}: ${what} of shape [${dims.join(', ')}] has ${p} elements, more than a buffer can hold`);
  }
  return p;
}

/** Checks that a typed array holds exactly the elements of `dims`. */
export function expectLength(fn: string, name: string, arr: { length: number }, dims: readonly number[]): void {
  const want = product(fn, name, dims);
  if (arr.length !== want) {
    throw new RangeError(`${fn}: ${name} must have ${want} elements for shape [${dims.join(', ')}], got ${arr.length}`);
  }
}

/** Output extent of a sliding window, or a RangeError when the window does not fit. */
export function outExtent(fn: string, what: string, size: number, k: number, stride: number, pad: number): number {
  const span = size + 2 * pad - k;
  if (span < 0) {
    throw new RangeError(`${fn}: a window of ${k} with pad ${pad} does not fit ${what} ${size}`);
  }
  return Math.floor(span / stride) + 1;
}
