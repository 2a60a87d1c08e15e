// SPDX-License-Identifier: MIT
// The IDX loader against the real MNIST test files, Fashion-MNIST, and damaged copies.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import {
  findMnistFiles, IdxFormatError, loadIdxPair, loadMnist, loadMnistSet, readIdx, readIdxImages, readIdxLabels, readMaybeGzip,
} from '../lib/data';
import { Tensor } from '../lib/core/tensor';

// The real MNIST test set: BLASNET_MNIST_DIR, or the shared data folder beside the checkout.
const MNIST_DIR = process.env.BLASNET_MNIST_DIR ?? path.resolve(__dirname, '../../shared/data/mnist');
const T10K_IMAGES = path.join(MNIST_DIR, 't10k-images-idx3-ubyte.gz');
const T10K_LABELS = path.join(MNIST_DIR, 't10k-labels-idx1-ubyte.gz');
const FASHION_DIR = '/usr/share/datasets/fashion-mnist';

// Published class counts of the MNIST test set (LeCun et al.), a fact about the data, not our output.
const T10K_HISTOGRAM = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];

/** A separate, naive IDX reader: gunzip, then read the big-endian header field by field. */
function naiveIdx(file: string): { magic: number; dims: number[]; body: Buffer } {
  const raw = zlib.gunzipSync(fs.readFileSync(file));
  const magic = raw.readUInt32BE(0);
  const ndim = magic & 0xff;
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(raw.readUInt32BE(4 + 4 * i));
  return { magic, dims, body: raw.subarray(4 + 4 * ndim) };
}

/** Writes an IDX file by hand; `magic` and `dims` may lie on purpose. */
function writeIdx(file: string, magic: number, dims: number[], body: Uint8Array, gzip = false): string {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  const bytes = Buffer.concat([header, Buffer.from(body)]);
  fs.writeFileSync(file, gzip ? zlib.gzipSync(bytes) : bytes);
  return file;
}

function histogram(labels: ArrayLike<number>): number[] {
  const h = new Array(10).fill(0);
  for (let i = 0; i < labels.length; i++) h[labels[i]]++;
  return h;
}

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error, none was thrown');
}

const haveMnist = fs.existsSync(T10K_IMAGES) && fs.existsSync(T10K_LABELS);
if (!haveMnist) console.warn(`data.test: the real MNIST test set is not at ${MNIST_DIR} (set BLASNET_MNIST_DIR); its tests are skipped`);

(haveMnist ? describe : describe.skip)('real MNIST test files', () => {
  let ref!: { images: ReturnType<typeof naiveIdx>; labels: ReturnType<typeof naiveIdx> };
  beforeAll(() => {
    ref = { images: naiveIdx(T10K_IMAGES), labels: naiveIdx(T10K_LABELS) };
  });

  test('readIdxImages and readIdxLabels read 10,000 images of 28x28 and their labels', () => {
    const img = readIdxImages(T10K_IMAGES);
    expect(ref.images.magic).toBe(0x803);
    expect([img.count, img.rows, img.cols]).toEqual([10000, 28, 28]);
    expect(img.pixels.length).toBe(10000 * 784);
    expect(Buffer.from(img.pixels).equals(ref.images.body)).toBe(true);
    const lab = readIdxLabels(T10K_LABELS);
    expect(lab.count).toBe(10000);
    expect(lab.labels[0]).toBe(7); // the famous first test digit
    const h = histogram(lab.labels);
    expect(h.reduce((a, b) => a + b, 0)).toBe(10000);
    expect(h).toEqual(T10K_HISTOGRAM);
    expect(h).toEqual(histogram(ref.labels.body));
  });

  test('readIdx returns the header dimensions', () => {
    expect(readIdx(T10K_LABELS).dims).toEqual([10000]);
    expect(readIdx(T10K_IMAGES).dims).toEqual([10000, 28, 28]);
  });

  test('loadIdxPair: normalized, flattened, class indices by default', () => {
    const { x, t } = loadIdxPair(T10K_IMAGES, T10K_LABELS);
    expect(x).toBeInstanceOf(Tensor);
    expect(x.shape).toEqual([10000, 784]);
    expect(t).toBeInstanceOf(Int32Array);
    expect(Array.from(t)).toEqual(Array.from(ref.labels.body));
    const body = ref.images.body;
    const want = new Float32Array(body.length);
    for (let i = 0; i < body.length; i++) want[i] = body[i] / 255;
    expect(Buffer.from(x.data.buffer).equals(Buffer.from(want.buffer))).toBe(true);
    let min = Infinity;
    let max = -Infinity;
    for (const v of x.data) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    expect(min).toBe(0);
    expect(max).toBe(1);
  });

  test('loadIdxPair: normalize=false gives 0..255, flatten=false gives [n, 1, 28, 28], one-hot labels', () => {
    const { x, t } = loadIdxPair(T10K_IMAGES, T10K_LABELS, { normalize: false, flatten: false, oneHotLabel: true });
    expect(x.shape).toEqual([10000, 1, 28, 28]);
    expect(t.shape).toEqual([10000, 10]);
    expect(Array.from(x.data.subarray(0, 5000))).toEqual(Array.from(ref.images.body.subarray(0, 5000)));
    expect(Math.max(...x.data.subarray(0, 784 * 50))).toBe(255);
    for (let i = 0; i < 10000; i++) {
      const row = Array.from(t.data.subarray(i * 10, i * 10 + 10));
      expect(row.reduce((a, b) => a + b, 0)).toBe(1);
      if (row[ref.labels.body[i]] !== 1) throw new Error(`one-hot row ${i} does not mark ${ref.labels.body[i]}`);
    }
  });

  test('a folder with only the test files: the error names the missing training files', () => {
    const err = thrown(() => loadMnist({ dir: MNIST_DIR }));
    expect(err.message).toContain('train-images-idx3-ubyte');
    expect(err.message).toContain('train-labels-idx1-ubyte');
    expect(err.message).toContain(MNIST_DIR);
    expect(err.message).toContain("loadMnistSet('test', { dir })");
    expect(err.message).not.toContain('t10k-images-idx3-ubyte (looked');
  });

  test("loadMnistSet('test') reads the test files alone, as the naive reader does", () => {
    const { x, t } = loadMnistSet('test', { dir: MNIST_DIR, normalize: false });
    expect(x.shape).toEqual([10000, 784]);
    expect(t).toBeInstanceOf(Int32Array);
    expect(Array.from(t)).toEqual(Array.from(ref.labels.body));
    expect(Buffer.from(Uint8Array.from(x.data)).equals(ref.images.body)).toBe(true);
    expect(histogram(t)).toEqual(T10K_HISTOGRAM);
    const img = loadMnistSet('test', { dir: MNIST_DIR, flatten: false, oneHotLabel: true });
    expect(img.x.shape).toEqual([10000, 1, 28, 28]);
    expect(img.t.shape).toEqual([10000, 10]);
    expect(findMnistFiles(MNIST_DIR, { only: 'test' }).testImages).toBe(T10K_IMAGES);
  });

  test("loadMnistSet('train') on a folder without training files names them; bad arguments are refused", () => {
    const err = thrown(() => loadMnistSet('train', { dir: MNIST_DIR }));
    expect(err.message).toContain('train-images-idx3-ubyte (looked');
    expect(err.message).toContain('train-labels-idx1-ubyte (looked');
    expect(err.message).not.toContain('t10k-images-idx3-ubyte (looked');
    expect(() => loadMnistSet('validation' as never)).toThrow(/loadMnistSet: set must be 'train' or 'test', got the string "validation"/);
    expect(() => loadMnistSet('test', { only: 'test' } as never)).toThrow(/unknown option 'only'/);
    expect(() => findMnistFiles(MNIST_DIR, { only: 'all' as never })).toThrow(/only must be 'train' or 'test'/);
  });
});

(fs.existsSync(FASHION_DIR) ? test : test.skip)('Fashion-MNIST from its Debian folder: 60,000 + 10,000', () => {
  const files = findMnistFiles(FASHION_DIR);
  expect(path.dirname(files.trainImages)).toBe(FASHION_DIR);
  const d = loadMnist({ dir: FASHION_DIR });
  expect(d.xTrain.shape).toEqual([60000, 784]);
  expect(d.xTest.shape).toEqual([10000, 784]);
  // Fashion-MNIST is balanced by construction: 6,000 and 1,000 of each class.
  expect(histogram(d.tTrain)).toEqual(new Array(10).fill(6000));
  expect(histogram(d.tTest)).toEqual(new Array(10).fill(1000));
  const ref = naiveIdx(path.join(FASHION_DIR, 't10k-labels-idx1-ubyte.gz'));
  expect(Array.from(d.tTest)).toEqual(Array.from(ref.body));
});

describe('damaged and mismatched files', () => {
  let tmp: string;
  const n = 100;
  let pixels: Uint8Array;
  let labels: Uint8Array;
  const p = (name: string): string => path.join(tmp, name);

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-idx-'));
    if (haveMnist) {
      const img = naiveIdx(T10K_IMAGES);
      const lab = naiveIdx(T10K_LABELS);
      pixels = new Uint8Array(img.body.subarray(0, n * 784));
      labels = new Uint8Array(lab.body.subarray(0, n));
    } else {
      // Without the real files: any bytes and digits do (a fixed pattern, not one digit repeated).
      pixels = Uint8Array.from({ length: n * 784 }, (_, i) => (i * 37 + (i >> 7)) & 0xff);
      labels = Uint8Array.from({ length: n }, (_, i) => (i * 7) % 10);
    }
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const idxHeaderAndBody = (): Buffer => {
    const h = Buffer.alloc(8);
    h.writeUInt32BE(0x801, 0);
    h.writeUInt32BE(n, 4);
    return Buffer.concat([h, Buffer.from(labels)]);
  };

  test('small valid files load, raw and gzipped alike', () => {
    writeIdx(p('ok-images'), 0x803, [n, 28, 28], pixels);
    writeIdx(p('ok-labels.gz'), 0x801, [n], labels, true);
    const { x, t } = loadIdxPair(p('ok-images'), p('ok-labels.gz'), { normalize: false });
    expect(x.shape).toEqual([n, 784]);
    expect(Array.from(x.data)).toEqual(Array.from(pixels));
    expect(Array.from(t)).toEqual(Array.from(labels));
  });

  test('a .gz name on an uncompressed file is still read', () => {
    writeIdx(p('plain-labels.gz'), 0x801, [n], labels, false);
    expect(Array.from(readIdxLabels(p('plain-labels.gz')).labels)).toEqual(Array.from(labels));
  });

  test('truncated raw file', () => {
    const f = writeIdx(p('trunc-images'), 0x803, [n, 28, 28], pixels);
    fs.truncateSync(f, 16 + 784 * 10 + 5);
    const err = thrown(() => readIdxImages(f));
    expect(err).toBeInstanceOf(IdxFormatError);
    expect((err as IdxFormatError).file).toBe(f);
    expect(err.message).toContain(f);
    expect(err.message).toMatch(/truncated/);
    expect(err.message).toContain(String(n * 784));
    expect(err.message).toContain(String(784 * 10 + 5));
  });

  test('truncated header', () => {
    const f = p('short-labels');
    fs.writeFileSync(f, Buffer.from([0, 0, 8, 1, 0, 0]));
    expect(() => readIdxLabels(f)).toThrow(/short-labels: is truncated/);
  });

  test('truncated gzip stream', () => {
    const f = writeIdx(p('trunc-images.gz'), 0x803, [n, 28, 28], pixels, true);
    const full = fs.readFileSync(f);
    fs.writeFileSync(f, full.subarray(0, Math.floor(full.length / 2)));
    const err = thrown(() => readIdxImages(f));
    expect(err.message).toContain(f);
    expect(err.message).toMatch(/not a valid gzip file/);
  });

  test('bad gzip: gzip magic followed by garbage', () => {
    const f = p('bad-labels.gz');
    fs.writeFileSync(f, Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from('this is not deflate data at all')]));
    const err = thrown(() => readIdxLabels(f));
    expect(err).toBeInstanceOf(IdxFormatError);
    expect(err.message).toContain(f);
    expect(err.message).toMatch(/not a valid gzip file/);
  });

  test('wrong magic number', () => {
    const f = writeIdx(p('magic-images'), 0x804, [n, 28, 28, 1], pixels);
    const err = thrown(() => readIdxImages(f));
    expect(err.message).toContain(f);
    expect(err.message).toMatch(/magic number 0x00000804/);
    expect(err.message).toMatch(/expected 0x00000803/);
  });

  test('not an IDX file at all', () => {
    const f = p('README-images');
    fs.writeFileSync(f, '# not data\n');
    expect(() => readIdxImages(f)).toThrow(/README-images: is not an IDX file: it starts with 23 20 6e 6f/);
  });

  test('non-byte values are rejected with their type', () => {
    const f = writeIdx(p('float-images'), 0x0d03, [1, 2, 2], new Uint8Array(16));
    expect(() => readIdxImages(f)).toThrow(/float-images: holds float values/);
  });

  test('swapped images and labels files', () => {
    writeIdx(p('sw-images'), 0x803, [n, 28, 28], pixels);
    writeIdx(p('sw-labels'), 0x801, [n], labels);
    const err = thrown(() => loadIdxPair(p('sw-labels'), p('sw-images')));
    expect(err.message).toContain(p('sw-labels'));
    expect(err.message).toMatch(/holds labels.*expected images/);
  });

  test('extra bytes after the data', () => {
    const f = writeIdx(p('long-labels'), 0x801, [n], Buffer.concat([Buffer.from(labels), Buffer.alloc(3)]));
    expect(() => readIdxLabels(f)).toThrow(/long-labels: has 3 bytes more than its header says/);
  });

  test('image and label counts that do not match', () => {
    writeIdx(p('mm-images'), 0x803, [n, 28, 28], pixels);
    writeIdx(p('mm-labels'), 0x801, [n - 1], labels.subarray(0, n - 1));
    const err = thrown(() => loadIdxPair(p('mm-images'), p('mm-labels')));
    expect(err.message).toContain(p('mm-images'));
    expect(err.message).toContain(p('mm-labels'));
    expect(err.message).toContain(`${n - 1} labels`);
    expect(err.message).toContain(`${n} images`);
  });

  test('a label above 9', () => {
    const bad = labels.slice();
    bad[5] = 12;
    const f = writeIdx(p('big-labels'), 0x801, [n], bad);
    const err = thrown(() => readIdxLabels(f));
    expect(err.message).toContain(f);
    expect(err.message).toMatch(/label 5 is 12, expected a class index in 0\.\.9/);
    // With more classes declared, the same file is fine.
    expect(readIdxLabels(f, { numClasses: 13 }).labels[5]).toBe(12);
  });

  test('readMaybeGzip: raw or gzip by content, output capped by maxBytes, only regular files', () => {
    const raw = Buffer.from(idxHeaderAndBody());
    const f = p('maybe.gz');
    fs.writeFileSync(f, zlib.gzipSync(raw));
    expect(Buffer.from(readMaybeGzip(f)).equals(raw)).toBe(true);
    fs.writeFileSync(p('maybe-raw'), raw);
    expect(Buffer.from(readMaybeGzip(p('maybe-raw'))).equals(raw)).toBe(true);
    expect(() => readMaybeGzip(f, { maxBytes: raw.length - 1 })).toThrow(new RegExp(`maybe\\.gz: decompresses to more than ${raw.length - 1} bytes`));
    expect(() => readMaybeGzip(p('maybe-raw'), { maxBytes: 10 })).toThrow(/maybe-raw: is \d+ bytes, more than the 10 accepted/);
    expect(() => readMaybeGzip(tmp)).toThrow(/is a folder, not an IDX file/);
    expect(() => readMaybeGzip(f, { maxBytes: -1 })).toThrow(RangeError);
  });

  test('a missing file is named', () => {
    expect(() => readIdxImages(p('nope-images'))).toThrow(`${p('nope-images')}: file not found`);
  });

  test('loadMnist on a folder: both spellings, train/test mixed raw and gz, and a damaged member named', () => {
    const dir = p('set');
    fs.mkdirSync(dir);
    writeIdx(path.join(dir, 'train-images-idx3-ubyte'), 0x803, [60, 28, 28], pixels.subarray(0, 60 * 784));
    writeIdx(path.join(dir, 'train-labels-idx1-ubyte.gz'), 0x801, [60], labels.subarray(0, 60), true);
    writeIdx(path.join(dir, 't10k-images.idx3-ubyte'), 0x803, [40, 28, 28], pixels.subarray(60 * 784), false);
    writeIdx(path.join(dir, 't10k-labels.idx1-ubyte.gz'), 0x801, [40], labels.subarray(60), true);
    const d = loadMnist({ dir, flatten: false, oneHotLabel: true });
    expect(d.xTrain.shape).toEqual([60, 1, 28, 28]);
    expect(d.xTest.shape).toEqual([40, 1, 28, 28]);
    expect(d.tTrain.shape).toEqual([60, 10]);
    expect(d.xTest.data[0]).toBe(Math.fround(pixels[60 * 784] / 255));
    for (let i = 0; i < 40; i++) expect(d.tTest.data[i * 10 + labels[60 + i]]).toBe(1);

    const labelsGz = path.join(dir, 'train-labels-idx1-ubyte.gz');
    const gz = fs.readFileSync(labelsGz);
    fs.writeFileSync(labelsGz, gz.subarray(0, gz.length - 12));
    expect(() => loadMnist({ dir })).toThrow(labelsGz);
  });

  test('loadMnist on a folder whose training and test images differ in size', () => {
    const dir = p('sizes');
    fs.mkdirSync(dir);
    writeIdx(path.join(dir, 'train-images-idx3-ubyte'), 0x803, [2, 28, 28], pixels.subarray(0, 2 * 784));
    writeIdx(path.join(dir, 'train-labels-idx1-ubyte'), 0x801, [2], labels.subarray(0, 2));
    writeIdx(path.join(dir, 't10k-images-idx3-ubyte'), 0x803, [2, 14, 56], pixels.subarray(0, 2 * 784));
    writeIdx(path.join(dir, 't10k-labels-idx1-ubyte'), 0x801, [2], labels.subarray(0, 2));
    expect(() => loadMnist({ dir })).toThrow(/t10k-images-idx3-ubyte: has 14x56 images .* 28x28/);
  });
});

describe('rejects bad input', () => {
  test('options of the wrong type, unknown options, bad paths', () => {
    expect(() => loadMnist({ normalize: 'yes' as unknown as boolean })).toThrow(
      new TypeError('loadMnist: normalize must be a boolean, got the string "yes"'));
    expect(() => loadMnist({ one_hot_label: true } as never)).toThrow(/unknown option 'one_hot_label' \(did you mean 'oneHotLabel'\?\)/);
    expect(() => loadMnist({ dir: 5 as unknown as string })).toThrow(TypeError);
    expect(() => loadMnist({ dir: 5 as unknown as string })).toThrow(/dir must be a non-empty path string, got the number 5/);
    expect(() => loadMnist(null as never)).toThrow(/options must be an object like \{ normalize, flatten, oneHotLabel, dir, cacheDir \}, got null/);
    expect(() => loadIdxPair(T10K_IMAGES, undefined as never)).toThrow(/loadIdxPair: labelsPath must be/);
    expect(() => loadIdxPair(T10K_IMAGES, T10K_LABELS, { flatten: 1 } as never)).toThrow(/flatten must be a boolean/);
    expect(() => readIdxLabels(T10K_LABELS, { numClasses: 0 })).toThrow(RangeError);
    expect(() => readIdxImages('' as string)).toThrow(TypeError);
  });

  test('a data folder that does not exist, or is a file', () => {
    expect(() => loadMnist({ dir: '/no/such/folder' })).toThrow('loadMnist: data folder /no/such/folder does not exist');
    expect(() => loadMnist({ dir: __filename })).toThrow(/is not a folder/);
  });
});
