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

// The course's (Python, snake_case) spellings of option names, and its own typo
// `dropout_ration`, mapped to blasnet's names: a ported call gets a pointed hint.
const COURSE_NAMES: Record<string, string> = {
  input_size: 'inputSize', hidden_size_list: 'hiddenSizeList', hidden_size: 'hiddenSize', output_size: 'outputSize',
  weight_init_std: 'weightInitStd', weight_decay_lambda: 'weightDecayLambda', use_dropout: 'useDropout',
  dropout_ration: 'dropoutRatio', dropout_ratio: 'dropoutRatio', use_batchnorm: 'useBatchnorm', useBatchNorm: 'useBatchnorm',
  input_dim: 'inputDim', conv_param: 'convParam', filter_num: 'filterNum', filter_size: 'filterSize',
  mini_batch_size: 'miniBatchSize', optimizer_param: 'optimizerParam', evaluate_sample_num_per_epoch: 'evaluateSampleNumPerEpoch',
  one_hot_label: 'oneHotLabel', epoch: 'epochs', decay_rate: 'decayRate', learning_rate: 'lr', max_iter: 'maxIterations', activation_function: 'activation',
};

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = prev[j];
      prev[j] = next;
    }
  }
  return prev[b.length];
}

/** The valid name a mistyped or course-spelled option most likely meant, or undefined. */
export function suggestName(key: string, allowed: readonly string[]): string | undefined {
  const mapped = COURSE_NAMES[key];
  if (mapped !== undefined && allowed.includes(mapped)) return mapped;
  const lower = key.toLowerCase().replace(/_/g, '');
  const same = allowed.find((a) => a.toLowerCase() === lower);
  if (same) return same;
  let best: string | undefined, bestD = Infinity;
  for (const a of allowed) {
    const d = editDistance(lower, a.toLowerCase());
    if (d < bestD) { bestD = d; best = a; }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(key.length / 4)) ? best : undefined;
}

/**
 * Checks an options object: undefined gives {}, anything but a plain object is a TypeError, and
 * an unknown key is a RangeError listing the valid names, with a "did you mean" that maps the
 * course's snake_case names to blasnet's.
 */
export function readOptions<T extends object>(fn: string, options: T | undefined, allowed: readonly string[]): Partial<T> {
  if (options === undefined) return {};
  // A plain object (or a class instance); not an array, typed array, ArrayBuffer, Map, Date, ...
  if (options === null || typeof options !== 'object' || Object.prototype.toString.call(options) !== '[object Object]') {
    throw new TypeError(`${fn}: options must be an object like { ${allowed.join(', ')} }, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      const hint = suggestName(key, allowed);
      throw new RangeError(`${fn}: unknown option '${key}'${hint ? ` (did you mean '${hint}'?)` : ''}; valid options are ${allowed.join(', ')}`);
    }
  }
  return options;
}
