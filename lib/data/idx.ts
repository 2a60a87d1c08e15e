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
 * The bytes of a file, gunzipped when they start with the gzip magic (whatever the file is called).
 * (A Node Buffer, typed as the Uint8Array it is so that the declarations need no @types/node.)
 */
export function readMaybeGzip(file: string): Uint8Array {
  if (typeof file !== 'string' || file === '') {
    throw new TypeError(`readMaybeGzip: file must be a non-empty path string, got ${describe(file)}`);
  }
  let raw: Buffer;
  try {
    raw = fs.readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new Error(`${file}: file not found`);
    if (e.code === 'EISDIR') throw new Error(`${file}: is a directory, not an IDX file`);
    throw new Error(`${file}: cannot be read (${e.message})`);
  }
  // Detect by content: some browsers save MNIST downloads already decompressed under the .gz name.
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return zlib.gunzipSync(raw);
    } catch (err) {
      throw new IdxFormatError(file, `is not a valid gzip file (${(err as Error).message}); ` +
        'it may be truncated or damaged, download it again');
    }
  }
  return raw;
}

/**
 * Parses IDX bytes (already decompressed). `file` only names the source in errors.
 * @example
 *   const { dims, data } = parseIdx(fs.readFileSync('t10k-labels-idx1-ubyte'), 't10k-labels-idx1-ubyte');
 */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  const gzName = /\.gz$/i.test(file) && !(bytes[0] === 0x1f && bytes[1] === 0x8b);
  const named = gzName ? ' (it is named .gz but was not gzip-compressed)' : '';
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
  const have = bytes.length - headerBytes;
  if (have < size) {
    throw new IdxFormatError(file, `is truncated: its header says [${dims.join(', ')}] = ${size} values, ` +
      `but only ${have} bytes follow the ${headerBytes}-byte header`);
  }
  if (have > size) {
    throw new IdxFormatError(file, `has ${have - size} bytes more than its header says ` +
      `([${dims.join(', ')}] = ${size} values after a ${headerBytes}-byte header); it is not a clean IDX file`);
  }
  return { file, dims, data: bytes.subarray(headerBytes, headerBytes + size) };
}

/**
 * Reads any IDX file of unsigned bytes, raw or gzip-compressed.
 * @example
 *   const { dims } = readIdx('t10k-images-idx3-ubyte.gz'); // [10000, 28, 28]
 */
export function readIdx(file: string): IdxArray {
  return parseIdx(readMaybeGzip(file), file);
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
  const bytes = readMaybeGzip(file);
  if (bytes.length >= 4) {
    const got = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, false);
    const otherMagic = magic === IDX_IMAGES_MAGIC ? IDX_LABELS_MAGIC : IDX_IMAGES_MAGIC;
    if (got === otherMagic) {
      // The other kind of MNIST file: say so plainly, the likeliest mix-up of the four names.
      const other = what === 'images' ? 'labels (magic 0x00000801)' : 'images (magic 0x00000803)';
      throw new IdxFormatError(file, `holds ${other}, expected ${what} ` +
        `(magic 0x${magic.toString(16).padStart(8, '0')}); are the file names swapped?`);
    }
    if (bytes[0] === 0 && bytes[1] === 0 && bytes[2] === 0x08 && got !== magic) {
      throw new IdxFormatError(file, `has magic number 0x${got.toString(16).padStart(8, '0')} ` +
        `(${bytes[3]} dimensions), expected 0x${magic.toString(16).padStart(8, '0')} for ${what} ` +
        `(${ndim} dimension${ndim === 1 ? '' : 's'})`);
    }
  }
  const arr = parseIdx(bytes, file);
  if (arr.dims.length !== ndim) {
    // Unreachable after the magic check above; kept so a future relaxation cannot slip through.
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
