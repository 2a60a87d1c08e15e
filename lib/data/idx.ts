// SPDX-License-Identifier: MIT
// Reader for the IDX format of MNIST, Fashion-MNIST and KMNIST: a big-endian
// header (two zero bytes, a type byte, the number of dimensions, then one
// uint32 per dimension) followed by the values. Only unsigned bytes (type 0x08)
// occur in these data sets, so only those are read. Every check names the file,
// because a learner with four files in a folder needs to know which one is bad.
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { describe } from '../core/errors';
import { closeQuietly, openRegularFile, readExactly } from '../io/files';

/** Magic number of an IDX file of uint8 images (N, rows, cols). */
export const IDX_IMAGES_MAGIC = 0x00000803;
/** Magic number of an IDX file of uint8 labels (N). */
export const IDX_LABELS_MAGIC = 0x00000801;

/** A file that is not the IDX data it should be; `file` is the path, the message says what is wrong. */
export class IdxFormatError extends Error {
  readonly file: string;

  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'IdxFormatError';
    this.file = file;
  }
}

/** A whole IDX file of unsigned bytes. */
export interface IdxArray {
  /** The path it was read from. */
  file: string;
  /** Its dimensions, from the header. */
  dims: number[];
  /** The values, row-major, exactly product(dims) of them. */
  data: Uint8Array;
}

/** Images of an IDX3 file. */
export interface IdxImages {
  file: string;
  count: number;
  rows: number;
  cols: number;
  /** count * rows * cols bytes, 0..255, image after image. */
  pixels: Uint8Array;
}

/** Labels of an IDX1 file. */
export interface IdxLabels {
  file: string;
  count: number;
  /** count bytes, each < numClasses. */
  labels: Uint8Array;
}

const TYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte', 0x09: 'signed byte', 0x0b: 'short', 0x0c: 'int', 0x0d: 'float', 0x0e: 'double',
};

function hex(bytes: Uint8Array, n: number): string {
  return Array.from(bytes.subarray(0, n), (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/**
 * Largest IDX data accepted, in bytes (2 GiB - 1): far above MNIST's 47 MB or EMNIST's 550 MB,
 * and a bound on what a damaged or hostile header can make blasnet allocate.
 */
export const IDX_MAX_BYTES = 2 ** 31 - 1;

/**
 * Most bytes deflate can produce from one compressed byte (its best case is 258 bytes per
 * 2 bits, about 1032:1). A gzip file announcing more than this times its size is a lie.
 */
const DEFLATE_MAX_RATIO = 1032;

const WHAT = 'an IDX file';
/** The longest IDX header: 4 bytes, then 255 dimensions of 4 bytes. */
const MAX_HEADER = 4 + 4 * 255;

function isGzip(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

/** A zlib failure in words: truncated, or damaged. */
function gzipError(file: string, err: unknown): IdxFormatError {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'Z_BUF_ERROR' || /unexpected end/i.test(e.message ?? '')) {
    return new IdxFormatError(file, 'is not a valid gzip file: its compressed data ends early (the file is truncated); ' +
      'download it again');
  }
  return new IdxFormatError(file, `is not a valid gzip file (zlib: ${e.message ?? String(err)}); ` +
    'it may be damaged, download it again');
}

/**
 * The bytes of a file, gunzipped when they start with the gzip magic (whatever the file is
 * called). Only regular files are read; the decompressed size is capped at `maxBytes` (default
 * IDX_MAX_BYTES) and at what deflate can produce from the file's size, so a small file cannot
 * inflate to gigabytes. readIdx does better: it reads the IDX header first and caps the output
 * at exactly what it announces.
 * @example
 *   const bytes = readMaybeGzip('t10k-labels-idx1-ubyte.gz'); // 10,008 bytes
 */
export function readMaybeGzip(file: string, opts: { maxBytes?: number } = {}): Uint8Array {
  if (typeof file !== 'string' || file === '') {
    throw new TypeError(`readMaybeGzip: file must be a non-empty path string, got ${describe(file)}`);
  }
  const maxBytes = opts.maxBytes ?? IDX_MAX_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new RangeError(`readMaybeGzip: maxBytes must be an integer >= 0, got ${describe(maxBytes)}`);
  }
  const raw = readWithin(file, maxBytes);
  // Detect by content: some browsers save MNIST downloads already decompressed under the .gz name.
  if (!isGzip(raw)) return raw;
  const cap = Math.min(maxBytes, DEFLATE_MAX_RATIO * raw.length + 1024);
  try {
    return zlib.gunzipSync(raw, { maxOutputLength: Math.max(cap, 1) });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new IdxFormatError(file, `decompresses to more than ${cap} bytes, more than accepted; ` +
        'it is not a data file blasnet can read');
    }
    throw gzipError(file, err);
  }
}

function readWithin(file: string, maxBytes: number): Buffer {
  const f = openRegularFile(file, WHAT);
  try {
    if (f.size > maxBytes) {
      throw new IdxFormatError(file, `is ${f.size} bytes, more than the ${maxBytes} accepted`);
    }
    const buf = Buffer.allocUnsafe(f.size);
    readExactly(f, buf, 0);
    return buf;
  } finally {
    closeQuietly(f);
  }
}

/** What an IDX header says, checked: dimensions, header size and data size. */
interface IdxHeader {
  dims: number[];
  headerBytes: number;
  size: number;
}

/**
 * Parses and checks the IDX header at the start of `bytes`, which hold the first MAX_HEADER
 * bytes of the content or all of it when it is shorter. `named` is added to format errors.
 */
function parseIdxHeader(bytes: Uint8Array, file: string, named: string): IdxHeader {
  if (bytes.length < 4) {
    throw new IdxFormatError(file, `is truncated: ${bytes.length} bytes, too short for an IDX header${named}`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new IdxFormatError(file, `is not an IDX file: it starts with ${hex(bytes, 4)}, ` +
      `expected 00 00 08 01 (labels) or 00 00 08 03 (images)${named}`);
  }
  const type = bytes[2];
  const ndim = bytes[3];
  if (type !== 0x08) {
    const name = TYPE_NAMES[type] ?? 'unknown type';
    throw new IdxFormatError(file, `holds ${name} values (type byte 0x${type.toString(16).padStart(2, '0')}); ` +
      'only unsigned bytes (0x08) are supported');
  }
  if (ndim === 0) throw new IdxFormatError(file, 'has 0 dimensions in its header');
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) {
    throw new IdxFormatError(file, `is truncated: ${bytes.length} bytes, but its header alone needs ${headerBytes} ` +
      `for ${ndim} dimensions`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let size = 1;
  for (let i = 0; i < ndim; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    size *= d;
  }
  if (size > IDX_MAX_BYTES) {
    throw new IdxFormatError(file, `has a header announcing [${dims.join(', ')}] = ${size} values, more than the ` +
      `${IDX_MAX_BYTES} bytes accepted (IDX_MAX_BYTES); the header is damaged or the file is not a data set`);
  }
  return { dims, headerBytes, size };
}

/** Checks that `have` data bytes match what the header announces (the messages of a raw file). */
function checkDataLength(file: string, h: IdxHeader, have: number): void {
  if (have < h.size) {
    throw new IdxFormatError(file, `is truncated: its header says [${h.dims.join(', ')}] = ${h.size} values, ` +
      `but only ${have} bytes follow the ${h.headerBytes}-byte header`);
  }
  if (have > h.size) {
    throw new IdxFormatError(file, `has ${have - h.size} bytes more than its header says ` +
      `([${h.dims.join(', ')}] = ${h.size} values after a ${h.headerBytes}-byte header); it is not a clean IDX file`);
  }
}

/**
 * Parses IDX bytes (already decompressed). `file` only names the source in errors.
 * @example
 *   const { dims, data } = parseIdx(fs.readFileSync('t10k-labels-idx1-ubyte'), 't10k-labels-idx1-ubyte');
 */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  const gzName = /\.gz$/i.test(file) && !isGzip(bytes);
  const h = parseIdxHeader(bytes, file, gzName ? ' (it is named .gz but was not gzip-compressed)' : '');
  checkDataLength(file, h, bytes.length - h.headerBytes);
  return { file, dims: h.dims, data: bytes.subarray(h.headerBytes, h.headerBytes + h.size) };
}

/** What a reader expects of a file: its magic number, for messages about swapped files. */
interface Expectation {
  magic: number;
  what: string;
  ndim: number;
}

/** Refuses a header of the other kind (swapped file names) or another dimension count, before any data is read. */
function checkMagic(file: string, head: Uint8Array, e: Expectation): void {
  if (head.length < 4) return;
  const got = new DataView(head.buffer, head.byteOffset, 4).getUint32(0, false);
  const otherMagic = e.magic === IDX_IMAGES_MAGIC ? IDX_LABELS_MAGIC : IDX_IMAGES_MAGIC;
  if (got === otherMagic) {
    // The other kind of MNIST file: say so plainly, the likeliest mix-up of the four names.
    const other = e.what === 'images' ? 'labels (magic 0x00000801)' : 'images (magic 0x00000803)';
    throw new IdxFormatError(file, `holds ${other}, expected ${e.what} ` +
      `(magic 0x${e.magic.toString(16).padStart(8, '0')}); are the file names swapped?`);
  }
  if (head[0] === 0 && head[1] === 0 && head[2] === 0x08 && got !== e.magic) {
    throw new IdxFormatError(file, `has magic number 0x${got.toString(16).padStart(8, '0')} ` +
      `(${head[3]} dimensions), expected 0x${e.magic.toString(16).padStart(8, '0')} for ${e.what} ` +
      `(${e.ndim} dimension${e.ndim === 1 ? '' : 's'})`);
  }
}

/**
 * The first decompressed bytes of a gzip file, at least `want` of them when the file has that
 * many: growing prefixes of the compressed bytes are inflated with a sync flush (so a prefix
 * cut anywhere is no error), each yielding at most DEFLATE_MAX_RATIO times its size.
 */
function gunzipPrefix(file: string, compressed: Uint8Array, want: number): Buffer {
  let out = Buffer.alloc(0);
  for (let n = 64; ; n *= 4) {
    const take = Math.min(n, compressed.length);
    try {
      out = zlib.gunzipSync(compressed.subarray(0, take), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    } catch (err) {
      throw gzipError(file, err);
    }
    if (out.length >= want) return out;
    if (take === compressed.length) {
      // The whole file gives less than asked: inflate it properly, so that a truncated or
      // damaged stream is reported as such (its output is shorter than `want`, so small).
      try {
        return zlib.gunzipSync(compressed, { maxOutputLength: Math.max(want, 1) });
      } catch (err) {
        throw gzipError(file, err);
      }
    }
  }
}

/**
 * Reads an IDX file header first: the header is decoded (from the first bytes, or the first
 * inflated bytes of a gzip file) and checked before the data is read, and the data must be
 * exactly what it announces: a raw file's size is compared with it before anything is
 * allocated, a gzip file is inflated with its output capped at that size.
 */
function readIdxFile(file: string, expect?: Expectation): IdxArray {
  const f = openRegularFile(file, WHAT);
  try {
    const head = new Uint8Array(Math.min(f.size, MAX_HEADER));
    readExactly(f, head, 0);
    if (!isGzip(head)) {
      const named = /\.gz$/i.test(file) ? ' (it is named .gz but was not gzip-compressed)' : '';
      if (expect) checkMagic(file, head, expect);
      const h = parseIdxHeader(head, file, named);
      checkDataLength(file, h, f.size - h.headerBytes);
      const data = new Uint8Array(h.size);
      readExactly(f, data, h.headerBytes);
      return { file, dims: h.dims, data };
    }
    // The compressed file: its size is bounded by the largest data a header may announce.
    if (f.size > IDX_MAX_BYTES) throw new IdxFormatError(file, `is ${f.size} bytes, more than the ${IDX_MAX_BYTES} accepted`);
    const compressed = Buffer.allocUnsafe(f.size);
    readExactly(f, compressed, 0);
    const start = gunzipPrefix(file, compressed, MAX_HEADER);
    if (expect) checkMagic(file, start, expect);
    const h = parseIdxHeader(start, file, '');
    const total = h.headerBytes + h.size;
    if (total > DEFLATE_MAX_RATIO * f.size + 1024) {
      throw new IdxFormatError(file, `has a header announcing [${h.dims.join(', ')}] = ${h.size} values, but a gzip file ` +
        `of ${f.size} bytes cannot hold that much (deflate gives at most about ${DEFLATE_MAX_RATIO} bytes per byte); ` +
        'the file is truncated, its header is damaged, or it is a decompression bomb');
    }
    let bytes: Buffer;
    try {
      // One output chunk of exactly the announced size: no second copy when the chunks are joined.
      bytes = zlib.gunzipSync(compressed, { maxOutputLength: Math.max(total, 1), chunkSize: Math.max(total, 64) });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new IdxFormatError(file, `decompresses to more than its header says ([${h.dims.join(', ')}] = ` +
          `${h.size} values after a ${h.headerBytes}-byte header); it is not a clean IDX file`);
      }
      throw gzipError(file, err);
    }
    checkDataLength(file, h, bytes.length - h.headerBytes);
    return { file, dims: h.dims, data: bytes.subarray(h.headerBytes) };
  } finally {
    closeQuietly(f);
  }
}

/**
 * Reads any IDX file of unsigned bytes, raw or gzip-compressed. Only regular files are read
 * (a FIFO or a device is refused), the header is checked before the data, and the data must
 * be exactly what the header announces (a gzip file is never inflated beyond it).
 * @example
 *   const { dims } = readIdx('t10k-images-idx3-ubyte.gz'); // [10000, 28, 28]
 */
export function readIdx(file: string): IdxArray {
  if (typeof file !== 'string' || file === '') {
    throw new TypeError(`readIdx: file must be a non-empty path string, got ${describe(file)}`);
  }
  return readIdxFile(file);
}

/**
 * Reads an IDX3 file of images (magic 0x00000803), raw or gzip-compressed.
 * @example
 *   const { count, rows, cols, pixels } = readIdxImages('/data/t10k-images-idx3-ubyte.gz');
 *   pixels[0 * rows * cols + 14 * cols + 14]; // centre pixel of the first image, 0..255
 */
export function readIdxImages(file: string): IdxImages {
  if (typeof file !== 'string' || file === '') {
    throw new TypeError(`readIdxImages: file must be a non-empty path string, got ${describe(file)}`);
  }
  const { dims, data } = readExpecting(file, IDX_IMAGES_MAGIC, 'images', 3);
  const [count, rows, cols] = dims;
  if (rows === 0 || cols === 0) {
    throw new IdxFormatError(file, `has images of ${rows}x${cols} pixels`);
  }
  return { file, count, rows, cols, pixels: data };
}

/**
 * Reads an IDX1 file of labels (magic 0x00000801), raw or gzip-compressed; each label must be
 * below `numClasses` (10 for MNIST, Fashion-MNIST and KMNIST).
 * @example
 *   const { labels } = readIdxLabels('/data/t10k-labels-idx1-ubyte.gz');
 *   labels[0]; // 7 for the MNIST test set
 */
export function readIdxLabels(file: string, opts: { numClasses?: number } = {}): IdxLabels {
  if (typeof file !== 'string' || file === '') {
    throw new TypeError(`readIdxLabels: file must be a non-empty path string, got ${describe(file)}`);
  }
  const numClasses = opts.numClasses ?? 10;
  if (typeof numClasses !== 'number') {
    throw new TypeError(`readIdxLabels: numClasses must be an integer in 1..256, got ${describe(numClasses)}`);
  }
  if (!Number.isInteger(numClasses) || numClasses < 1 || numClasses > 256) {
    throw new RangeError(`readIdxLabels: numClasses must be an integer in 1..256, got ${describe(numClasses)}`);
  }
  const { dims, data } = readExpecting(file, IDX_LABELS_MAGIC, 'labels', 1);
  for (let i = 0; i < data.length; i++) {
    if (data[i] >= numClasses) {
      throw new IdxFormatError(file, `label ${i} is ${data[i]}, expected a class index in 0..${numClasses - 1}`);
    }
  }
  return { file, count: dims[0], labels: data };
}

function readExpecting(file: string, magic: number, what: string, ndim: number): IdxArray {
  const arr = readIdxFile(file, { magic, what, ndim });
  if (arr.dims.length !== ndim) {
    // Unreachable after the magic check; kept so a future relaxation cannot slip through.
    throw new IdxFormatError(file, `has ${arr.dims.length} dimensions, expected ${ndim} for ${what}`);
  }
  return arr;
}

/**
 * The first existing file among the usual spellings of an IDX name in `dir`:
 * `train-images-idx3-ubyte`, `train-images.idx3-ubyte` (a common re-upload), each raw or `.gz`.
 * Returns null when none exists, with the names it tried in `tried`.
 */
export function findIdxFile(dir: string, base: string, tried: string[] = []): string | null {
  const dotted = base.replace(/-(idx\d)-/, '.$1-');
  for (const name of [base, `${base}.gz`, dotted, `${dotted}.gz`]) {
    if (tried.includes(name)) continue;
    tried.push(name);
    const p = path.join(dir, name);
    if (fs.existsSync(p) && fs.statSync(p).isFile()) return p;
  }
  return null;
}
