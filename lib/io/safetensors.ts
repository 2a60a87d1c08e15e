// SPDX-License-Identifier: MIT
// The safetensors file format: an 8-byte little-endian header length N, a JSON header of N bytes
// { name: { dtype, shape, data_offsets: [begin, end] }, __metadata__: { str: str } }, then the
// raw little-endian tensor bytes, offsets counted from the end of the header.
//
// Reading is bounded by the file: only a regular file is opened, the header is read alone and
// validated completely (unique keys, dtypes, shapes that match their byte counts, offsets that
// tile the data section exactly, no gap, no overlap, no trailing bytes) before a single tensor
// byte is read or allocated, so a file of a few KB can never cost more than a few KB.
// Tensors of other float and integer dtypes (F64, F16, BF16, I8 ... U64, BOOL) are converted
// to float32, and the conversion is reported.
import { asTensor, Tensor } from '../core/tensor';
import { describe } from '../core/errors';
import { closeQuietly, FileError, OpenFile, openRegularFile, readExactly } from './files';
import { findDuplicateKey, nestingDepth } from './json';
import { writeFileAtomic } from './atomic';

/** The dtypes of the safetensors format that blasnet knows, with their sizes in bytes. */
export const SAFETENSORS_DTYPE_BYTES: Readonly<Record<string, number>> = Object.freeze({
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
});

/** The dtypes readSafetensors converts to float32 (F32 itself is read as is). */
export const SAFETENSORS_READABLE_DTYPES: readonly string[] = Object.freeze(
  ['F32', 'F64', 'F16', 'BF16', 'I8', 'U8', 'I16', 'U16', 'I32', 'U32', 'I64', 'U64', 'BOOL']);

/** Longest JSON header accepted (the format's reference reader uses the same 100 MB). */
export const SAFETENSORS_MAX_HEADER = 100_000_000;

/** One tensor as the header describes it; `dataOffsets` count from the start of the data section. */
export interface SafetensorsTensorInfo {
  dtype: string;
  shape: number[];
  dataOffsets: [number, number];
}

/** A validated header, read without touching the tensor data. */
export interface SafetensorsHeader {
  /** The path it was read from. */
  file: string;
  /** Every tensor in header order (a Map: any name, `__proto__` included, is just a key). */
  tensors: Map<string, SafetensorsTensorInfo>;
  /** The `__metadata__` strings, in an object without prototype ({} when absent). */
  metadata: Record<string, string>;
  /** Bytes of the JSON header (N). */
  headerLength: number;
  /** Where the data section starts in the file (8 + N). */
  dataStart: number;
  /** Size of the whole file in bytes. */
  fileSize: number;
}

/** How one tensor stored in another dtype was converted to float32. */
export interface SafetensorsConversion {
  /** The dtype in the file, e.g. 'F64', 'BF16', 'I64'. */
  from: string;
  /** Values that float32 cannot hold exactly and were rounded to the nearest float32. */
  rounded: number;
  /** Finite values beyond float32's range that became ±Infinity. */
  overflowed: number;
}

export interface SafetensorsFile {
  /** Tensors with at least one element, as float32, in an object without prototype. */
  tensors: Record<string, Tensor>;
  /** The `__metadata__` strings, in an object without prototype. */
  metadata: Record<string, string>;
  /** Tensors stored in a dtype other than F32, by name, with how they were converted. */
  converted: Record<string, SafetensorsConversion>;
  /** Tensors with no element (a 0 in their shape, allowed by the format), by name, with their shape. */
  empty: Record<string, number[]>;
  /** The validated header. */
  header: SafetensorsHeader;
}

/** A file that is not a valid safetensors file; `file` is its path, the message says what is wrong. */
export class SafetensorsFormatError extends Error {
  readonly file: string;

  constructor(file: string, problem: string) {
    super(`${file}: not a valid safetensors file: ${problem}`);
    this.name = 'SafetensorsFormatError';
    this.file = file;
  }
}

const WHAT = 'a safetensors file';
const MAX_DEPTH = 16;

function checkPath(fn: string, file: unknown): asserts file is string {
  if (typeof file !== 'string' || file === '') throw new TypeError(`${fn}: file must be a non-empty path string, got ${describe(file)}`);
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function nullObject<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

function quote(name: string): string {
  return JSON.stringify(name.length > 60 ? `${name.slice(0, 60)}…` : name);
}

/** Reads and validates the header of an open file. */
function readHeaderFrom(f: OpenFile): SafetensorsHeader {
  const file = f.file;
  const bad = (why: string): SafetensorsFormatError => new SafetensorsFormatError(file, why);
  if (f.size < 8) throw bad(`only ${f.size} bytes, shorter than the 8-byte header length`);
  const prefix = new Uint8Array(8);
  readExactly(f, prefix, 0);
  const n = new DataView(prefix.buffer).getBigUint64(0, true);
  if (n === 0n) throw bad('its header length is 0');
  if (n > BigInt(f.size - 8)) {
    throw bad(`its header length ${n} does not fit a file of ${f.size} bytes (truncated, or another format)`);
  }
  if (n > BigInt(SAFETENSORS_MAX_HEADER)) throw bad(`its header length ${n} is over the ${SAFETENSORS_MAX_HEADER} bytes accepted`);
  const headerLength = Number(n);
  const bytes = new Uint8Array(headerLength);
  readExactly(f, bytes, 8);
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw bad('its header is not UTF-8 text');
  }
  if (text[0] !== '{') throw bad(`its header does not start with '{' (it starts with ${JSON.stringify(text.slice(0, 8))})`);
  // A header nests three levels ({ name: { shape: [...] } }); far deeper is no header at all.
  const depth = nestingDepth(text);
  if (depth > MAX_DEPTH) throw bad(`its header nests ${depth} levels deep; a safetensors header has 3`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw bad(`its header is not JSON (${(err as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw bad('its header is not a JSON object');
  const dup = findDuplicateKey(text);
  if (dup) {
    throw bad(`its header has the key ${quote(dup.key)} twice${dup.path === '$' ? '' : ` in ${dup.path}`}; ` +
      'readers would disagree on which one counts');
  }

  const dataStart = 8 + headerLength;
  const dataLength = f.size - dataStart;
  const tensors = new Map<string, SafetensorsTensorInfo>();
  const metadata = nullObject<string>();
  for (const [name, entry] of Object.entries(parsed as object) as [string, unknown][]) {
    if (name === '__metadata__') {
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
        throw bad(`its __metadata__ must be an object of strings, got ${describe(entry)}`);
      }
      for (const [k, v] of Object.entries(entry) as [string, unknown][]) {
        if (typeof v !== 'string') throw bad(`its __metadata__ value ${quote(k)} must be a string, got ${describe(v)}`);
        metadata[k] = v;
      }
      continue;
    }
    const where = `tensor ${quote(name)}`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw bad(`${where} must be an object, got ${describe(entry)}`);
    const e = entry as Record<string, unknown>;
    for (const k of Object.keys(e)) {
      if (k !== 'dtype' && k !== 'shape' && k !== 'data_offsets') {
        throw bad(`${where} has the unknown field ${quote(k)} (expected dtype, shape, data_offsets)`);
      }
    }
    const dtype = e.dtype;
    if (typeof dtype !== 'string' || !Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPE_BYTES, dtype)) {
      throw bad(`${where} has dtype ${describe(dtype)}; known dtypes are ${Object.keys(SAFETENSORS_DTYPE_BYTES).join(', ')}`);
    }
    const width = SAFETENSORS_DTYPE_BYTES[dtype];
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw bad(`${where} has shape ${describe(shape)}; expected an array of integers >= 0`);
    }
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0) || offs[0] > offs[1]) {
      throw bad(`${where} has data_offsets ${describe(offs)}; expected [begin, end] with 0 <= begin <= end`);
    }
    const [begin, end] = offs as [number, number];
    if (end > dataLength) {
      throw bad(`${where} ends at byte ${end} of the data section, which has ${dataLength} bytes (truncated?)`);
    }
    // The element count, compared as it grows: it can never exceed the bytes it claims, which
    // the file holds (checked above), so no multiplication runs away.
    const bytesHeld = end - begin;
    const zero = shape.includes(0);
    let count = zero ? 0 : 1;
    if (!zero) {
      for (const d of shape as number[]) {
        count *= d;
        if (count * width > bytesHeld) break;
      }
    }
    if (count * width !== bytesHeld) {
      throw bad(`${where} has shape [${shape.join(', ')}] of ${dtype} (${width} byte${width > 1 ? 's' : ''} each) ` +
        `but data_offsets [${begin}, ${end}] hold ${bytesHeld} bytes`);
    }
    tensors.set(name, { dtype, shape: [...shape] as number[], dataOffsets: [begin, end] });
  }

  // The tensors must tile the data section: sorted by offsets, each begins where the one before
  // ended, the first at 0 and the last at the end of the file.
  const spans = [...tensors].sort(([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let at = 0;
  let prev = '';
  for (const [name, t] of spans) {
    const [begin, end] = t.dataOffsets;
    if (begin < at) {
      throw bad(`tensor ${quote(name)} (bytes ${begin} to ${end}) overlaps tensor ${quote(prev)} (which ends at ${at})`);
    }
    if (begin > at) {
      throw bad(`${begin - at} bytes between ${prev ? `tensor ${quote(prev)}` : 'the header'} (ending at ${at}) ` +
        `and tensor ${quote(name)} (beginning at ${begin}) belong to no tensor`);
    }
    at = end;
    prev = name;
  }
  if (at !== dataLength) {
    throw bad(`${dataLength - at} bytes follow the last tensor${prev ? ` (${quote(prev)}, ending at ${at})` : ''}; ` +
      'the data section must end with the last tensor');
  }
  return { file, tensors, metadata, headerLength, dataStart, fileSize: f.size };
}

/**
 * Reads and validates only the header of a safetensors file: the 8-byte length and the JSON,
 * never the tensor data, whatever the header claims. Every check of the format is made here
 * (keys unique, dtypes known, shapes matching their byte counts, offsets tiling the data
 * section with no gap, overlap or trailing byte), so a caller can compare names and shapes
 * with what it expects before allocating anything.
 * @example
 *   const { tensors, metadata } = readSafetensorsHeader('model.safetensors');
 *   tensors.get('W1'); // { dtype: 'F32', shape: [784, 100], dataOffsets: [0, 313600] }
 */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  checkPath('readSafetensorsHeader', file);
  const f = openRegularFile(file, WHAT);
  try {
    return readHeaderFrom(f);
  } finally {
    closeQuietly(f);
  }
}

// ---- conversion to float32 ----------------------------------------------------------------

const little = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
let halfTable: Float32Array | null = null;

/** All 65,536 IEEE half-precision values as float32 (every one is exact in float32). */
function halfToFloat(): Float32Array {
  if (halfTable) return halfTable;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) t[h] = sign * mant * 2 ** -24;
    else if (exp === 31) t[h] = mant ? NaN : sign * Infinity;
    else t[h] = sign * (1024 + mant) * 2 ** (exp - 25);
  }
  halfTable = t;
  return t;
}

const SAFE = 2n ** 53n;

/**
 * A 64-bit integer rounded once, to the nearest float32 (ties to even). Number(b) would round
 * to float64 first, and that first rounding can land on a float32 tie and tip it the wrong way;
 * instead the bits below the 53 kept are folded into a sticky bit, which float32 rounding then
 * sees correctly.
 */
function bigIntToFloat32(b: bigint): number {
  if (b >= -SAFE && b <= SAFE) return Math.fround(Number(b));
  const neg = b < 0n;
  const a = neg ? -b : b;
  const shift = BigInt(a.toString(2).length - 53);
  let m = a >> shift;
  if ((a & ((1n << shift) - 1n)) !== 0n) m |= 1n;
  const v = Math.fround(Number(m) * 2 ** Number(shift));
  return neg ? -v : v;
}

/** Converts `count` little-endian values of `dtype` in `raw` into `out`; returns what was lost. */
function convert(dtype: string, raw: Uint8Array, out: Float32Array): { rounded: number; overflowed: number } {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const n = out.length;
  let rounded = 0;
  let overflowed = 0;
  const fround = Math.fround;
  const exactInt = (v: number): void => {
    const f = fround(v);
    if (f !== v) rounded++;
  };
  switch (dtype) {
    case 'F64':
      for (let i = 0; i < n; i++) {
        const v = dv.getFloat64(i * 8, true);
        const f = fround(v);
        if (f !== v && v === v) {
          if (f === Infinity || f === -Infinity) overflowed++;
          else rounded++;
        }
        out[i] = f;
      }
      break;
    case 'F16': {
      const t = halfToFloat();
      for (let i = 0; i < n; i++) out[i] = t[dv.getUint16(i * 2, true)];
      break;
    }
    case 'BF16': {
      // bfloat16 is the upper half of a float32: shift its bits into place.
      const bits = new Uint32Array(out.buffer, out.byteOffset, n);
      for (let i = 0; i < n; i++) bits[i] = dv.getUint16(i * 2, true) << 16;
      break;
    }
    case 'BOOL':
      for (let i = 0; i < n; i++) out[i] = raw[i] === 0 ? 0 : 1;
      break;
    case 'U8': for (let i = 0; i < n; i++) out[i] = raw[i]; break;
    case 'I8': for (let i = 0; i < n; i++) out[i] = dv.getInt8(i); break;
    case 'I16': for (let i = 0; i < n; i++) out[i] = dv.getInt16(i * 2, true); break;
    case 'U16': for (let i = 0; i < n; i++) out[i] = dv.getUint16(i * 2, true); break;
    case 'I32':
      for (let i = 0; i < n; i++) { const v = dv.getInt32(i * 4, true); exactInt(v); out[i] = v; }
      break;
    case 'U32':
      for (let i = 0; i < n; i++) { const v = dv.getUint32(i * 4, true); exactInt(v); out[i] = v; }
      break;
    case 'I64':
    case 'U64':
      for (let i = 0; i < n; i++) {
        const b = dtype === 'I64' ? dv.getBigInt64(i * 8, true) : dv.getBigUint64(i * 8, true);
        const f = bigIntToFloat32(b);
        if (BigInt(f) !== b) rounded++;
        out[i] = f;
      }
      break;
    default:
      throw new Error(`convert: no conversion from ${dtype}`);
  }
  return { rounded, overflowed };
}

/**
 * Reads a safetensors file into float32 Tensors. The header is validated completely first (see
 * readSafetensorsHeader), so a damaged or hostile file is refused before any tensor is
 * allocated, with an Error naming the file. Tensors stored as F64, F16, BF16 or an integer or
 * BOOL dtype are converted to float32 and listed in `converted` (with how many values were
 * rounded or overflowed); tensors with no element are listed in `empty`. A scalar (shape [])
 * becomes a Tensor of shape [1].
 * @example
 *   const { tensors, metadata, converted } = readSafetensors('model.safetensors');
 *   for (const [name, c] of Object.entries(converted)) console.log(`${name}: converted from ${c.from}`);
 */
export function readSafetensors(file: string): SafetensorsFile {
  checkPath('readSafetensors', file);
  const f = openRegularFile(file, WHAT);
  try {
    const header = readHeaderFrom(f);
    for (const [name, t] of header.tensors) {
      if (!SAFETENSORS_READABLE_DTYPES.includes(t.dtype)) {
        throw new SafetensorsFormatError(file, `tensor ${quote(name)} has dtype ${t.dtype}, which blasnet cannot convert to ` +
          `float32 (it reads ${SAFETENSORS_READABLE_DTYPES.join(', ')})`);
      }
    }
    const tensors = nullObject<Tensor>();
    const converted = nullObject<SafetensorsConversion>();
    const empty = nullObject<number[]>();
    for (const [name, t] of header.tensors) {
      const [begin, end] = t.dataOffsets;
      const count = (end - begin) / SAFETENSORS_DTYPE_BYTES[t.dtype];
      if (count === 0) {
        empty[name] = [...t.shape];
        continue;
      }
      const data = new Float32Array(count);
      if (t.dtype === 'F32') {
        const bytes = new Uint8Array(data.buffer);
        readExactly(f, bytes, header.dataStart + begin);
        if (!little) {
          const dv = new DataView(data.buffer);
          for (let i = 0; i < count; i++) data[i] = dv.getFloat32(i * 4, true);
        }
      } else {
        const raw = new Uint8Array(end - begin);
        readExactly(f, raw, header.dataStart + begin);
        const lost = convert(t.dtype, raw, data);
        converted[name] = { from: t.dtype, ...lost };
      }
      tensors[name] = new Tensor(data, t.shape.length ? t.shape : [1]);
    }
    return { tensors, metadata: header.metadata, converted, empty, header };
  } finally {
    closeQuietly(f);
  }
}

// ---- writing ------------------------------------------------------------------------------

/**
 * Writes float32 tensors and string metadata to `file` as F32 safetensors, atomically (see
 * writeFileAtomic: a crash or a full disk never leaves a half-written file in its place).
 * @example
 *   writeSafetensors('weights.safetensors', { W1: net.params.W1 }, { note: 'epoch 3' });
 */
export function writeSafetensors(file: string, tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): void {
  const fn = 'writeSafetensors';
  checkPath(fn, file);
  if (tensors === null || typeof tensors !== 'object') throw new TypeError(`${fn}: tensors must be an object of Tensors, got ${describe(tensors)}`);
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw new TypeError(`${fn}: metadata must be an object of strings, got ${describe(metadata)}`);
  }
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new TypeError(`${fn}: metadata[${JSON.stringify(k)}] must be a string, got ${describe(v)}`);
  }
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = nullObject();
  const checked = nullObject<Tensor>();
  if (Object.keys(metadata).length > 0) header.__metadata__ = { ...metadata };
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__') throw new RangeError(`${fn}: a tensor cannot be named '__metadata__' (the format reserves it)`);
    const given: unknown = tensors[name];
    if (!(given instanceof Tensor)) throw new TypeError(`${fn}: tensors[${JSON.stringify(name)}] must be a Tensor, got ${describe(given)}`);
    // Read once, its data length checked again (memory detached since the Tensor was made is refused here).
    const t = asTensor(fn, `tensors[${JSON.stringify(name)}]`, given);
    checked[name] = t;
    const bytes = t.data.byteLength;
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so that the data starts 8-byte aligned.
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));

  function* chunks(): Generator<Uint8Array> {
    yield prefix;
    yield headerBytes;
    for (const name of names) {
      const t = checked[name];
      if (little) {
        yield new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      } else {
        const dv = new DataView(new ArrayBuffer(t.data.byteLength));
        t.data.forEach((v, i) => dv.setFloat32(i * 4, v, true));
        yield new Uint8Array(dv.buffer);
      }
    }
  }
  writeFileAtomic(file, chunks());
}

