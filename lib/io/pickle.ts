// SPDX-License-Identifier: MIT
// The course's parameter files: a Python pickle of a dict of numpy arrays
// (`pickle.dump(params, f)` in save_params). The opcodes are read by the npm
// package pickleparser; this module tells it how to rebuild exactly the few
// Python names such a file refers to (numpy's array and dtype reconstructors,
// _codecs.encode for protocol 2 bytes, OrderedDict) and refuses every other
// name, so nothing in a file can make anything run. Sizes are checked against
// the bytes actually present, and everything built is bounded by the file's size.
import * as fs from 'fs';
import { describe, readOptions } from '../core/errors';
import { checkOptional, OPTIONAL_FEATURES } from '../core/optional';
import { Tensor } from '../core/tensor';

/** Largest pickle read by default: far above the course's files (a few MB). */
const DEFAULT_MAX_BYTES = 1 << 30;

/** An error in a pickle file's content (what it is, where, what was expected). */
export class PickleFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PickleFormatError';
  }
}

interface DType {
  kind: 'f' | 'i' | 'u' | 'b';
  size: number;
  little: boolean;
  /** numpy's name, e.g. 'float64'. */
  name: string;
}

/** What numpy's reconstructors leave for us: raw bytes, a dtype and a shape. */
class NdArray {
  shape: number[] | null = null;
  dtype: DTypeObject | null = null;
  fortran = false;
  raw: Uint8Array | null = null;

  /** ndarray.__setstate__((version, shape, dtype, is_fortran, rawdata)); very old files omit version. */
  __setstate__(state: unknown): void {
    if (!Array.isArray(state) || (state.length !== 5 && state.length !== 4)) {
      throw new PickleFormatError(`an ndarray's state must be (version, shape, dtype, is_fortran, data), got ${describe(state)}`);
    }
    const [shape, dtype, fortran, raw] = state.length === 5 ? state.slice(1) : state;
    this.shape = readShape(shape);
    if (!(dtype instanceof DTypeObject)) throw new PickleFormatError(`an ndarray's dtype must be a numpy.dtype, got ${describe(dtype)}`);
    this.dtype = dtype;
    this.fortran = fortran === true;
    if (Array.isArray(raw)) throw new PickleFormatError('an array of Python objects (dtype object) cannot be read: only numeric arrays');
    this.raw = bytesOf(raw, 'an ndarray\'s data');
  }
}

/** numpy.dtype('f8', False, True) followed by __setstate__((3, '<', ...)). */
class DTypeObject {
  readonly code: string;
  order = '|';

  constructor(code: unknown) {
    if (typeof code !== 'string') throw new PickleFormatError(`numpy.dtype needs a type code such as 'f8', got ${describe(code)}`);
    this.code = code;
  }

  __setstate__(state: unknown): void {
    if (!Array.isArray(state) || state.length < 2 || typeof state[1] !== 'string') {
      throw new PickleFormatError(`a numpy.dtype's state must start (version, byte order), got ${describe(state)}`);
    }
    if (state.length > 3 && state[3] !== null && state[3] !== undefined) {
      throw new PickleFormatError(`a structured dtype (fields) cannot be read: only plain numeric arrays (dtype '${this.code}')`);
    }
    this.order = state[1];
  }

  resolve(): DType {
    const m = /^([fiub])(\d+)$/.exec(this.code);
    const size = m ? Number(m[2]) : 0;
    const kind = m?.[1] as DType['kind'] | undefined;
    const okSize = kind === 'f' ? [2, 4, 8] : kind === 'b' ? [1] : [1, 2, 4, 8];
    if (!m || !kind || !okSize.includes(size)) {
      throw new PickleFormatError(`numpy dtype '${this.code}' is not supported: float16/32/64, (u)int8-64 and bool arrays can be read`);
    }
    if (!['<', '>', '|', '='].includes(this.order)) throw new PickleFormatError(`numpy dtype byte order must be '<', '>', '|' or '=', got '${this.order}'`);
    const little = this.order !== '>';
    const names: Record<string, string> = { f: 'float', i: 'int', u: 'uint', b: 'bool' };
    return { kind, size, little, name: kind === 'b' ? 'bool' : `${names[kind]}${size * 8}` };
  }
}

function readShape(v: unknown): number[] {
  if (!Array.isArray(v)) throw new PickleFormatError(`an array's shape must be a tuple of integers, got ${describe(v)}`);
  return v.map((d, i) => {
    const n = typeof d === 'bigint' ? Number(d) : d;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      throw new PickleFormatError(`an array's shape[${i}] must be a non-negative integer, got ${describe(d)}`);
    }
    return n;
  });
}

// Python 2 byte strings reach us decoded as windows-1252 by the opcode reader; map those
// code points back to their bytes (latin-1 is the identity below 256).
const CP1252: Record<number, number> = {
  0x20ac: 0x80, 0x201a: 0x82, 0x0192: 0x83, 0x201e: 0x84, 0x2026: 0x85, 0x2020: 0x86, 0x2021: 0x87, 0x02c6: 0x88,
  0x2030: 0x89, 0x0160: 0x8a, 0x2039: 0x8b, 0x0152: 0x8c, 0x017d: 0x8e, 0x2018: 0x91, 0x2019: 0x92, 0x201c: 0x93,
  0x201d: 0x94, 0x2022: 0x95, 0x2013: 0x96, 0x2014: 0x97, 0x02dc: 0x98, 0x2122: 0x99, 0x0161: 0x9a, 0x203a: 0x9b,
  0x0153: 0x9c, 0x017e: 0x9e, 0x0178: 0x9f,
};

function latin1Bytes(s: string, what: string, cp1252: boolean): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const b = c < 256 ? c : cp1252 ? CP1252[c] : undefined;
    if (b === undefined) throw new PickleFormatError(`${what} holds the character U+${c.toString(16).padStart(4, '0')}, which is not a byte`);
    out[i] = b;
  }
  return out;
}

function bytesOf(v: unknown, what: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (typeof v === 'string') return latin1Bytes(v, what, true);
  throw new PickleFormatError(`${what} must be bytes, got ${describe(v)}`);
}

function notCallable(name: string): () => never {
  return () => { throw new PickleFormatError(`${name} cannot be called here`); };
}

/** The only Python names a parameter file may mention, and what each builds. */
function resolver(module: string, name: string): (...args: unknown[]) => unknown {
  const full = `${module}.${name}`;
  switch (full) {
    case 'numpy.core.multiarray._reconstruct':
    case 'numpy._core.multiarray._reconstruct':
      // _reconstruct(numpy.ndarray, (0,), b'b'): an empty array that __setstate__ fills.
      return (cls: unknown) => {
        if (cls !== ndarrayClass) throw new PickleFormatError(`_reconstruct may only build numpy.ndarray, got ${describe(cls)}`);
        return new NdArray();
      };
    case 'numpy.ndarray':
      return ndarrayClass;
    case 'numpy.dtype':
      return (code: unknown) => new DTypeObject(code);
    case 'numpy.core.numeric._frombuffer':
    case 'numpy._core.numeric._frombuffer':
      // Protocol 5: _frombuffer(buffer, dtype, shape, order).
      return (buf: unknown, dtype: unknown, shape: unknown, order: unknown) => {
        const a = new NdArray();
        a.raw = bytesOf(buf, 'an array buffer');
        if (!(dtype instanceof DTypeObject)) throw new PickleFormatError(`_frombuffer needs a numpy.dtype, got ${describe(dtype)}`);
        a.dtype = dtype;
        a.shape = readShape(shape);
        if (order !== 'C' && order !== 'F') throw new PickleFormatError(`_frombuffer's order must be 'C' or 'F', got ${describe(order)}`);
        a.fortran = order === 'F';
        return a;
      };
    case 'numpy.core.multiarray.scalar':
    case 'numpy._core.multiarray.scalar':
      // A numpy scalar (e.g. numpy.float64(0.5)): a 0-d array.
      return (dtype: unknown, raw: unknown) => {
        const a = new NdArray();
        if (!(dtype instanceof DTypeObject)) throw new PickleFormatError(`numpy scalar needs a numpy.dtype, got ${describe(dtype)}`);
        a.dtype = dtype;
        a.shape = [];
        a.raw = bytesOf(raw, 'a numpy scalar');
        return a;
      };
    case '_codecs.encode':
      // Protocol 2 writes bytes as _codecs.encode(text, 'latin1').
      return (text: unknown, encoding: unknown) => {
        if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) {
          throw new PickleFormatError(`_codecs.encode is read only as (text, 'latin1'), got ${describe(text)}, ${describe(encoding)}`);
        }
        return latin1Bytes(text, 'encoded bytes', false);
      };
    case 'collections.OrderedDict':
      return () => new Map();
    default:
      throw new PickleFormatError(`the pickle refers to the Python name ${full}, which is not read: `
        + 'a parameter file holds only a dict of numpy arrays (nothing in a pickle is ever run)');
  }
}

const ndarrayClass = notCallable('numpy.ndarray');

/** Converts one array's bytes to float32 in C (row-major) order. */
function toFloat32(a: NdArray, key: string): { data: Float32Array; shape: number[]; dtype: string } {
  if (!a.shape || !a.dtype || !a.raw) throw new PickleFormatError(`'${key}': the array was never given its data`);
  const dt = a.dtype.resolve();
  let n = 1;
  for (const d of a.shape) n *= d;
  if (!Number.isSafeInteger(n)) throw new PickleFormatError(`'${key}': shape (${a.shape.join(', ')}) is too large`);
  if (n === 0) throw new PickleFormatError(`'${key}': shape (${a.shape.join(', ')}) has no elements`);
  if (a.raw.byteLength !== n * dt.size) {
    throw new PickleFormatError(`'${key}': shape (${a.shape.join(', ')}) of ${dt.name} needs ${n * dt.size} bytes, the file holds ${a.raw.byteLength}`);
  }
  const view = new DataView(a.raw.buffer, a.raw.byteOffset, a.raw.byteLength);
  const read = ((): ((i: number) => number) => {
    const le = dt.little, s = dt.size;
    switch (`${dt.kind}${s}`) {
      case 'f2': return (i) => half(view.getUint16(i * 2, le));
      case 'f4': return (i) => view.getFloat32(i * 4, le);
      case 'f8': return (i) => view.getFloat64(i * 8, le);
      case 'i1': return (i) => view.getInt8(i);
      case 'u1': case 'b1': return (i) => view.getUint8(i);
      case 'i2': return (i) => view.getInt16(i * 2, le);
      case 'u2': return (i) => view.getUint16(i * 2, le);
      case 'i4': return (i) => view.getInt32(i * 4, le);
      case 'u4': return (i) => view.getUint32(i * 4, le);
      case 'i8': return (i) => Number(view.getBigInt64(i * 8, le));
      default: return (i) => Number(view.getBigUint64(i * 8, le));
    }
  })();
  const out = new Float32Array(n);
  if (!a.fortran || a.shape.length < 2) {
    for (let i = 0; i < n; i++) out[i] = read(i);
  } else {
    // Column-major data: element (i0, i1, ..., ik) sits at i0 + d0*(i1 + d1*(...)).
    const dims = a.shape, k = dims.length;
    const fStride = new Array<number>(k);
    fStride[0] = 1;
    for (let j = 1; j < k; j++) fStride[j] = fStride[j - 1] * dims[j - 1];
    const idx = new Array<number>(k).fill(0);
    for (let c = 0; c < n; c++) {
      let f = 0;
      for (let j = 0; j < k; j++) f += idx[j] * fStride[j];
      out[c] = read(f);
      for (let j = k - 1; j >= 0; j--) {
        if (++idx[j] < dims[j]) break;
        idx[j] = 0;
      }
    }
  }
  return { data: out, shape: a.shape, dtype: dt.name };
}

/** IEEE half precision bits to a number. */
function half(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

export interface ReadPickleOptions {
  /** Refuse files larger than this many bytes (1 GiB). */
  maxBytes?: number;
}

export interface PickleParams {
  /** Every array of the dict as a float32 Tensor, keyed as in the file. */
  tensors: Record<string, Tensor>;
  /** numpy's dtype of each array before conversion, e.g. 'float64'. */
  dtypes: Record<string, string>;
}

/**
 * Reads a pickle of a dict of numpy arrays, as the course's `save_params` writes it
 * (`params.pkl`, `deep_convnet_params.pkl`; pickle protocols 2 to 5, numpy 1.x or 2.x), into
 * float32 Tensors. float64 arrays (the course's) are rounded to float32. Only numpy arrays,
 * dicts and the names that rebuild them are accepted: a file that mentions anything else is
 * refused, and nothing in it is ever run.
 * @example
 *   const { tensors, dtypes } = readPickleParams('deep_convnet_params.pkl');
 *   console.log(tensors.W1.shape, dtypes.W1);   // [16, 1, 3, 3] 'float64'
 */
export function readPickleParams(source: string | Uint8Array, options?: ReadPickleOptions): PickleParams {
  const fn = 'readPickleParams';
  const o = readOptions(fn, options, ['maxBytes']);
  const maxBytes = o.maxBytes === undefined ? DEFAULT_MAX_BYTES : o.maxBytes;
  if (typeof maxBytes !== 'number' || !Number.isSafeInteger(maxBytes) || maxBytes < 1) {
    throw new RangeError(`${fn}: options.maxBytes must be a positive integer, got ${describe(maxBytes)}`);
  }
  let bytes: Uint8Array;
  let where: string;
  if (typeof source === 'string') {
    if (source === '') throw new TypeError(`${fn}: source must be a file path or a Uint8Array, got the empty string`);
    where = source;
    const size = fs.statSync(source).size;
    if (size > maxBytes) throw new RangeError(`${where}: is ${size} bytes, more than options.maxBytes (${maxBytes})`);
    bytes = fs.readFileSync(source);
  } else if (source instanceof Uint8Array) {
    where = `${fn}: the pickle`;
    if (source.byteLength > maxBytes) throw new RangeError(`${where} is ${source.byteLength} bytes, more than options.maxBytes (${maxBytes})`);
    bytes = source;
  } else {
    throw new TypeError(`${fn}: source must be a file path or a Uint8Array, got ${describe(source)}`);
  }
  if (bytes.byteLength < 2 || bytes[0] !== 0x80 || bytes[1] < 2 || bytes[1] > 5) {
    throw new PickleFormatError(`${where}: not a pickle of protocol 2 to 5 (it starts with ${Array.from(bytes.subarray(0, 2), (b) => b.toString(16).padStart(2, '0')).join(' ') || 'nothing'}; `
      + 'the course writes its parameters with pickle.dump, which gives protocol 3 or 4)');
  }
  // pickleparser is an optional peer dependency, loaded on first use: only users of the course's files need it.
  const f = OPTIONAL_FEATURES.pickles;
  checkOptional(f.packages, `${fn}: ${f.purpose}`);
  const { Parser } = require('pickleparser') as typeof import('pickleparser');
  let root: unknown;
  try {
    const parser = new Parser({
      nameResolver: { resolve: resolver },
      unpicklingTypeOfDictionary: 'Map',
      unpicklingTypeOfSet: 'array',
    });
    root = parser.parse(bytes);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new PickleFormatError(`${where}: cannot be read as the course's parameter pickle: ${msg}`);
  }
  if (!(root instanceof Map)) {
    throw new PickleFormatError(`${where}: holds ${root instanceof NdArray ? 'a single array' : describe(root)}, not a dict of numpy arrays as save_params writes`);
  }
  const tensors: Record<string, Tensor> = Object.create(null);
  const dtypes: Record<string, string> = Object.create(null);
  const done = new Map<NdArray, { data: Float32Array; shape: number[]; dtype: string }>();
  // Every element made comes from a byte of the file: at most 4 output bytes per input byte
  // (uint8 -> float32), even when one array is listed under many keys.
  let budget = 4 * bytes.byteLength;
  for (const [key, value] of root) {
    if (typeof key !== 'string') throw new PickleFormatError(`${where}: a key of the dict is ${describe(key)}, not a string`);
    if (!(value instanceof NdArray)) throw new PickleFormatError(`${where}: '${key}' is ${describe(value)}, not a numpy array`);
    let conv = done.get(value);
    if (!conv) {
      try {
        conv = toFloat32(value, key);
      } catch (err) {
        throw new PickleFormatError(`${where}: ${(err as Error).message}`);
      }
      budget -= conv.data.byteLength;
      if (budget < 0) throw new PickleFormatError(`${where}: its arrays would take more memory than the file can justify`);
      done.set(value, conv);
    }
    tensors[key] = new Tensor(conv.data, conv.shape);
    dtypes[key] = conv.dtype;
  }
  return { tensors: { ...tensors }, dtypes: { ...dtypes } };
}
