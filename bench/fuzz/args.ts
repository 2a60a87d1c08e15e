// SPDX-License-Identifier: MIT
// Argument generators of the public-API targets: each returns the source text of a valid value
// of its kind or, when asked to mutate, of a hostile one, and records on the Ctx what the call
// must then do (throw naming one of `names`, or either succeed or fail cleanly).
import { Ctx } from './ctx';
import { BAD_INTS, NOT_BOOLEANS, NOT_NUMBERS, NOT_OBJECTS } from './native';
import * as v from './values';

export const J = (x: unknown): string => JSON.stringify(x);
export const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** A list of numbers as source (keeps 2 ** 31, NaN, -0 readable). */
export function listSrc(s: readonly unknown[]): string {
  return `[${s.map((x) => (typeof x === 'number' ? v.numSrc(x) : typeof x === 'bigint' ? `${x}n` : typeof x === 'string' ? J(x) : String(x))).join(', ')}]`;
}

/** A valid Float32Array of n elements (random contents and memory). */
export function dataSrc(c: Ctx, n: number, patterns: readonly v.Pattern[] = v.PATTERNS): string {
  const place = c.r.chance(0.6) ? 'plain' : c.r.pick(v.PLACES);
  return `v.f32(${n}, '${c.r.pick(patterns)}', '${place}')`;
}

/** Finite data only (what the Trainer accepts). */
export const CLEAN: readonly v.Pattern[] = ['ramp', 'hash', 'zeros', 'ones'];

/** A valid tensor of `shape`: a Tensor, a plain tensor-like, a frozen Tensor or a Proxy of one. */
export function tensorSrc(c: Ctx, shape: readonly number[], patterns: readonly v.Pattern[] = v.PATTERNS): string {
  const d = dataSrc(c, prod(shape), patterns);
  const s = J(shape);
  switch (c.r.pick(['Tensor', 'Tensor', 'Tensor', 'like', 'frozen', 'proxy'])) {
    case 'like': return `v.like(${s}, ${d})`;
    case 'frozen': return `Object.freeze(new lib.Tensor(${d}, ${s}))`;
    case 'proxy': return `v.proxied(new lib.Tensor(${d}, ${s}))`;
    default: return `new lib.Tensor(${d}, ${s})`;
  }
}

export interface TensorOpts {
  /** Consistent tensors of shapes the argument does not accept (a ShapeError). */
  wrong?: readonly (readonly number[])[];
  patterns?: readonly v.Pattern[];
}

const NOT_TENSORS: ReadonlyArray<readonly [string, string]> = [
  ...NOT_OBJECTS.filter(([w]) => w !== 'a Float32Array'),
  ['a Float32Array (not a tensor)', 'v.f32(6)'], ['nested arrays', '[[1, 2], [3, 4]]'], ['{}', '({})'], ['a Map', 'new Map()'],
  ['a bigint', '3n'],
];

/**
 * A tensor argument of `shape`. Mutated: not an object, data of the wrong type, a shape that is
 * not an array or has a bad dim, a shape that lies about the data (up to 2^53 and products that
 * overflow), detached or shrunk data (of a plain object or of a real Tensor), a shape changed
 * after construction, throwing getters, getters that change their answer, a consistent tensor of
 * a shape the argument does not accept.
 */
export function tensorArg(c: Ctx, mut: boolean, names: string[], shape: readonly number[], o: TensorOpts = {}): string {
  if (!mut) return tensorSrc(c, shape, o.patterns);
  const r = c.r, n = prod(shape), s = J(shape), at = names[0];
  const kinds = ['notObject', 'dataType', 'shapeType', 'shapeDim', 'lying', 'lying', 'detached', 'detachedTensor',
    'shrunkTensor', 'mutatedShape', 'throwingGetter', 'shifting', ...(o.wrong?.length ? ['wrongShape', 'wrongShape', 'wrongShape'] : [])];
  switch (r.pick(kinds)) {
    case 'notObject': {
      const [what, src] = r.pick(NOT_TENSORS);
      c.bad(`${at}: ${what}`, ...names);
      return src;
    }
    case 'dataType': {
      const [what, src] = r.pick([['a Float64Array', `new Float64Array(${n})`], ['an Array', `new Array(${n}).fill(1)`],
        ['an Int32Array', `new Int32Array(${n})`], ['undefined', 'undefined'], ['null', 'null'], ['a Uint8Array', `new Uint8Array(${4 * n})`],
        ['a string', "'abc'"]] as const);
      c.bad(`${at}.data: ${what}`, ...names);
      return `v.like(${s}, ${src})`;
    }
    case 'shapeType': {
      const [what, src] = r.pick([['a string', `'${shape.join(',')}'`], ['null', 'null'], ['undefined', 'undefined'],
        ['an array-like object', `({ length: ${shape.length}, ${shape.map((d, i) => `${i}: ${d}`).join(', ')} })`],
        ['an Int32Array', `Int32Array.of(${shape.join(', ')})`], ['a number', String(n)]] as const);
      c.bad(`${at}.shape: ${what}`, ...names);
      return `v.like(${src}, ${dataSrc(c, n)})`;
    }
    case 'shapeDim': {
      const bad = r.pick(['0', '-1', '0.5', 'NaN', 'Infinity', '-0', "'3'", 'null', '2n', 'undefined', '{}']);
      const k = r.int(0, Math.max(0, shape.length - 1));
      const dims = shape.length ? shape.map((d, i) => (i === k ? bad : String(d))) : [bad];
      c.bad(`${at}.shape[${k}] = ${bad}`, ...names);
      return `v.like([${dims.join(', ')}], ${dataSrc(c, n)})`;
    }
    case 'lying': {
      const cands: number[][] = [[...shape.slice(0, -1), (shape[shape.length - 1] ?? 1) + 1], [1, 2 ** 31], [2 ** 31, 2 ** 31], [2 ** 53],
        [2 ** 26, 2 ** 26, 2 ** 26], [n + 1], [...shape, 2], [2 ** 32, 2 ** 32, 2 ** 32, 2 ** 32], [n, 2 ** 31 - 1]];
      const lie = r.pick(cands.filter((l) => prod(l) !== n));
      c.bad(`${at}: shape ${listSrc(lie)} for ${n} elements`, ...names);
      return `v.like(${listSrc(lie)}, ${dataSrc(c, n)})`;
    }
    case 'detached':
      c.bad(`${at}: a tensor-like whose data is detached`, ...names);
      return `v.like(${s}, v.detachedF32(${n}))`;
    case 'detachedTensor':
      c.bad(`${at}: a Tensor whose data was detached after construction`, ...names);
      return `v.detachData(new lib.Tensor(v.f32(${n}), ${s}))`;
    case 'shrunkTensor':
      c.bad(`${at}: a Tensor whose resizable memory shrank to nothing after construction`, ...names);
      return `v.shrinkData(new lib.Tensor(v.f32(${n}, 'ramp', 'resizable'), ${s}))`;
    case 'mutatedShape': {
      const k = r.int(0, shape.length);
      const x = r.pick([2 ** 31, 0, -1, 2 ** 53, 7]);
      // A Tensor's shape cannot change (it is frozen): the assignment fails and the call is valid;
      // a library whose Tensor allowed it must still refuse the lie.
      c.either(`${at}: a Tensor whose shape[${k}] was set to ${v.numSrc(x)} after construction`, ...names);
      return `v.setShape(new lib.Tensor(${dataSrc(c, n)}, ${s}), ${k}, ${v.numSrc(x)})`;
    }
    case 'throwingGetter': {
      const key = r.pick(['shape', 'data']);
      c.planted(`${at}: a tensor-like whose ${key} getter throws`);
      return `v.throwingLike(${s}, ${dataSrc(c, n)}, '${key}')`;
    }
    case 'shifting': {
      const honest = r.int(1, 4);
      const later = r.pick([[1, 2 ** 31], [2 ** 31], [...shape, 7], [0], [2 ** 53]]);
      const detachLater = r.chance(0.5);
      c.either(`${at}: a tensor-like whose getters answer honestly ${honest} times, then shape ${listSrc(later)}${detachLater ? ' and detached data' : ''}`, ...names);
      return `v.shiftingLike(${s}, v.f32(${n}), ${honest}, ${listSrc(later)}, ${detachLater})`;
    }
    default: {
      const w = r.pick(o.wrong!);
      c.bad(`${at}: shape ${J(w)} (not accepted here)`, ...names);
      return tensorSrc(c, w, o.patterns);
    }
  }
}

export interface IntOpts {
  min: number;
  max?: number;
  /** undefined is valid (the default). */
  optional?: boolean;
  /** The default's value: a valid call writes undefined only when its value is this one. */
  dflt?: number;
}

function inRange(x: number, min: number | undefined, max: number | undefined, minEx = false, maxEx = false): boolean {
  if (!Number.isFinite(x)) return false;
  if (min !== undefined && (minEx ? !(x > min) : !(x >= min))) return false;
  if (max !== undefined && (maxEx ? !(x < max) : !(x <= max))) return false;
  return true;
}

/** An integer argument (as expectInt reads it: below 2^31 unless max says otherwise). */
export function intArg(c: Ctx, mut: boolean, names: string[], valid: number, o: IntOpts): string {
  if (!mut) return o.optional && (o.dflt === undefined || o.dflt === valid) && c.r.chance(0.2) ? 'undefined' : v.numSrc(valid);
  const r = c.r, at = names[0];
  const max = o.max ?? 2 ** 31 - 1;
  if (r.chance(0.4)) {
    const [what, src] = r.pick(NOT_NUMBERS);
    if (src === 'undefined' && o.optional) c.ok(`${at}: undefined (the default)`);
    else c.bad(`${at}: ${what}`, ...names);
    return src;
  }
  const x = r.pick([...BAD_INTS, o.min - 1, o.min + 0.5, max + 1, -0]);
  if (Number.isInteger(x) && x >= o.min && x <= max) c.ok(`${at} = ${v.numSrc(x)} (in range)`);
  else c.bad(`${at} = ${v.numSrc(x)}`, ...names);
  return v.numSrc(x);
}

export interface NumOpts {
  min?: number;
  max?: number;
  minExclusive?: boolean;
  maxExclusive?: boolean;
  optional?: boolean;
}

/** A finite number argument in a range (as expectNumber reads it). */
export function numArg(c: Ctx, mut: boolean, names: string[], valid: number, o: NumOpts = {}): string {
  if (!mut) return o.optional && c.r.chance(0.2) ? 'undefined' : v.numSrc(valid);
  const r = c.r, at = names[0];
  if (r.chance(0.4)) {
    const [what, src] = r.pick(NOT_NUMBERS);
    if (src === 'undefined' && o.optional) c.ok(`${at}: undefined (the default)`);
    else c.bad(`${at}: ${what}`, ...names);
    return src;
  }
  const cands = [NaN, Infinity, -Infinity, 1e300, -1e300, -0];
  if (o.min !== undefined) cands.push(o.min - 1, o.min - 1e-9, o.min);
  if (o.max !== undefined) cands.push(o.max + 1, o.max);
  const x = r.pick(cands);
  if (inRange(x, o.min, o.max, o.minExclusive, o.maxExclusive)) c.ok(`${at} = ${v.numSrc(x)} (in range)`);
  else c.bad(`${at} = ${v.numSrc(x)}`, ...names);
  return v.numSrc(x);
}

/** A boolean argument. */
export function boolArg(c: Ctx, mut: boolean, names: string[], o: { optional?: boolean } = {}): string {
  if (!mut) return o.optional && c.r.chance(0.3) ? 'undefined' : String(c.r.chance(0.5));
  const [what, src] = c.r.pick(NOT_BOOLEANS);
  if (src === 'undefined' && o.optional) c.ok(`${names[0]}: undefined (the default)`);
  else c.bad(`${names[0]}: ${what}`, ...names);
  return src;
}

/** A field of an options object: its valid value, or (mut) a hostile one recorded on the Ctx. */
export type FieldGen = (mut: boolean) => string;

const snake = (k: string): string => k.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`);

/**
 * An options object read by readOptions: some of `fields` with valid values (the `required`
 * ones always). Mutated: not an object, an unknown key, the course's snake_case spelling of a
 * key, a bad value of a field, an own "__proto__" key, a throwing getter, a bad value inherited
 * from a prototype.
 */
export function optionsArg(c: Ctx, mut: boolean, fields: Record<string, FieldGen>, o: { optional?: boolean; required?: string[]; name?: string } = {}): string {
  const r = c.r;
  const name = o.name ?? 'options';
  const keys = Object.keys(fields).filter((k) => (o.required ?? []).includes(k) || r.chance(0.5));
  if (!mut && o.optional && keys.length === 0 && r.chance(0.5)) return 'undefined';
  const kinds = mut ? ['topType', 'unknownKey', 'courseName', 'field', 'field', 'field', 'proto', 'getter', 'inherited'] : ['none'];
  const kind = r.pick(kinds);
  const chosenField = kind === 'field' || kind === 'getter' || kind === 'inherited' ? r.pick(Object.keys(fields)) : null;
  const entries = keys.filter((k) => k !== chosenField).map((k) => `${J(k)}: ${fields[k](false)}`);
  switch (kind) {
    case 'topType': {
      const [what, src] = r.pick(NOT_OBJECTS);
      if (src === 'undefined' && o.optional && !(o.required ?? []).length) c.ok(`${name}: undefined`);
      else if (src === 'undefined') c.bad(`${name}: undefined (required)`, name, ...(o.required ?? []));
      else c.bad(`${name}: ${what}`, name);
      return src;
    }
    case 'unknownKey':
      c.bad(`${name}: an unknown key 'bogusOption'`, 'bogusOption');
      return `{ ${[...entries, 'bogusOption: 1'].join(', ')} }`;
    case 'courseName': {
      const k = r.pick(Object.keys(fields));
      const sk = snake(k) === k ? `${k}_x` : snake(k);
      c.bad(`${name}: the key '${sk}'`, sk);
      return `{ ${[...entries, `${sk}: ${fields[k](false)}`].join(', ')} }`;
    }
    case 'field':
      return `{ ${[...entries, `${J(chosenField)}: ${fields[chosenField!](true)}`].join(', ')} }`;
    case 'proto':
      c.bad(`${name}: an own key "__proto__"`, '__proto__');
      return `Object.assign(JSON.parse('{"__proto__": {"lr": 5}}'), { ${entries.join(', ')} })`;
    case 'getter':
      c.planted(`${name}.${chosenField}: a getter that throws`);
      return `v.withThrowingGetter({ ${[...entries, `${J(chosenField)}: ${fields[chosenField!](false)}`].join(', ')} }, ${J(chosenField)})`;
    case 'inherited': {
      const before = c.snapshot();
      const bad = fields[chosenField!](true);
      const planted = c.marker;
      // What the field generator recorded applies only if inherited keys are read: either way
      // (a getter it planted may still throw through).
      c.restore(before);
      if (planted) c.marker = true;
      c.either(`${name}.${chosenField}: a bad value inherited from the prototype`, chosenField!);
      return `Object.assign(Object.create({ ${J(chosenField)}: ${bad} }), { ${entries.join(', ')} })`;
    }
    default:
      return `{ ${entries.join(', ')} }`;
  }
}

/**
 * Class labels for N samples of C classes: an integer typed array, number[] or a one-hot tensor.
 * Mutated: a wrong count, a value outside 0..C-1 (or not an integer), a float array, not an
 * array at all, a one-hot tensor of the wrong shape or one that lies, a throwing element.
 */
export function labelsArg(c: Ctx, mut: boolean, names: string[], N: number, C: number, o: { oneHot?: boolean } = {}): string {
  const r = c.r;
  const vals = Array.from({ length: N }, () => r.int(0, C - 1));
  if (!mut) {
    const form = r.pick(['Int32Array', 'Uint8Array', 'array', 'Uint16Array', ...(o.oneHot === false ? [] : ['oneHot'])]);
    if (form === 'array') return J(vals);
    if (form === 'oneHot') return `lib.tensor(${J(vals.map((k) => Array.from({ length: C }, (_, j) => (j === k ? 1 : 0))))})`;
    return `${form}.from(${J(vals)})`;
  }
  const at = names[0];
  const kind = r.pick(['count', 'value', 'value', 'type', 'oneHotShape', 'oneHotLie', 'throwing']);
  switch (kind) {
    case 'count': {
      const m = r.pick([N + 1, N - 1, 0, 2 * N]);
      c.bad(`${at}: ${m} labels for ${N} samples`, ...names);
      return `Int32Array.from(${J(Array.from({ length: m }, () => 0))})`;
    }
    case 'value': {
      const k = r.int(0, N - 1);
      const bad = r.pick([String(C), '-1', '0.5', 'NaN', "'1'", 'null', '2 ** 31', 'Infinity']);
      const arr = vals.map((x, i) => (i === k ? bad : String(x)));
      const inInt32 = ['-1', String(C), '2 ** 31'].includes(bad);
      c.bad(`${at}[${k}] = ${bad}`, ...names);
      return inInt32 && r.chance(0.5) ? `Int32Array.from([${arr.join(', ')}])` : `[${arr.join(', ')}]`;
    }
    case 'type': {
      const [what, src] = r.pick([['a Float32Array', `new Float32Array(${N})`], ['a Float64Array', `new Float64Array(${N})`],
        ['a string', "'0'"], ['null', 'null'], ['undefined', 'undefined'], ['a number', '3'], ['a BigInt64Array', `new BigInt64Array(${N})`],
        ['an object', '({})']] as const);
      c.bad(`${at}: ${what}`, ...names);
      return src;
    }
    case 'oneHotShape': {
      const s = r.pick([[N, C + 1], [N + 1, C], [N * C], [N, C, 1]]);
      c.bad(`${at}: a one-hot tensor of shape ${J(s)}`, ...names);
      return tensorSrc(c, s);
    }
    case 'oneHotLie': {
      const d = r.pick([1, N * C + 1, 0].filter((x) => x !== N * C));
      c.bad(`${at}: a one-hot tensor-like of shape [${N}, ${C}] with ${d} values`, ...names);
      return `v.like(${J([N, C])}, v.f32(${d}))`;
    }
    default:
      c.planted(`${at}: a label array whose element getter throws`);
      return `v.throwingArray(${J(vals)}, ${r.int(0, N - 1)})`;
  }
}
