// SPDX-License-Identifier: MIT
// A corpus of hostile and broken safetensors and IDX files, generated here: gzip bombs, tiny
// files claiming huge shapes, truncated files, overlapping and gapped offsets, duplicate keys,
// __proto__, bad UTF-8 and non-JSON headers, FIFOs, /dev/zero, folders. Each case runs in its
// own child process, with a timeout (a hang fails the case instead of the suite) and with its
// memory measured there: every bad file gives a clear error naming it, nothing hangs, and no
// file of a few KB makes the reader's peak memory grow by more than a few MB.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFile, spawnSync } from 'child_process';
import * as fs from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import * as zlib from 'zlib';
import { ensureBuilt, ROOT } from './helpers/dist';

const DIST = join(ROOT, 'dist', 'lib');
const TIMEOUT_MS = 20_000;
/** Peak memory growth allowed while reading one corpus file (all of them are under 64 KB). */
const PEAK_LIMIT = 16 * 2 ** 20;

type Reader = 'readSafetensorsHeader' | 'readSafetensors' | 'readIdx' | 'readIdxImages' | 'readIdxLabels';

interface Case {
  name: string;
  file: string;
  readers: Reader[];
  /** What the error must say (after the file's path), or 'ok' for files that are valid. */
  error: RegExp | 'ok';
}

interface Outcome {
  ok: boolean;
  name?: string;
  message?: string;
  peakGrowth: number;
  arrayBuffersGrowth: number;
}

let dir = '';
let validSt = '';
let validIdx = '';
const cases: Case[] = [];

// ---- the corpus -----------------------------------------------------------------------------

function stFile(name: string, header: string | Buffer | null, data: Uint8Array = new Uint8Array(0), lengthOverride?: bigint): string {
  const file = join(dir, name);
  const json = header === null ? Buffer.alloc(0) : Buffer.isBuffer(header) ? header : Buffer.from(header, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthOverride ?? BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, json, data]));
  return file;
}

function idxBytes(magic: number, dims: number[], body: Uint8Array | number): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic >>> 0, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d >>> 0, 4 + 4 * i));
  return Buffer.concat([header, typeof body === 'number' ? Buffer.alloc(body) : Buffer.from(body)]);
}

function put(name: string, bytes: Uint8Array): string {
  const file = join(dir, name);
  fs.writeFileSync(file, bytes);
  return file;
}

const ST: Reader[] = ['readSafetensorsHeader', 'readSafetensors'];
const IDX: Reader[] = ['readIdx'];
const t = (dtype: string, shape: unknown, offs: unknown): Record<string, unknown> => ({ dtype, shape, data_offsets: offs });

function buildCorpus(): void {
  const st = (name: string, error: RegExp | 'ok', header: string | Buffer | null, data?: Uint8Array, len?: bigint, readers = ST): void => {
    cases.push({ name, file: stFile(`${name}.safetensors`, header, data, len), readers, error });
  };
  const j = (o: unknown): string => JSON.stringify(o);
  const f32 = (n: number): Uint8Array => new Uint8Array(4 * n);

  // Sizes and lengths.
  cases.push({ name: 'st-empty', file: put('st-empty.safetensors', new Uint8Array(0)), readers: ST, error: /only 0 bytes/ });
  cases.push({ name: 'st-5-bytes', file: put('st-5-bytes.safetensors', new Uint8Array(5)), readers: ST, error: /only 5 bytes/ });
  st('st-length-max', /header length 18446744073709551615 does not fit a file of/, '{}', undefined, 2n ** 64n - 1n);
  st('st-length-past-end', /header length 4096 does not fit a file of 10 bytes/, '{}', undefined, 4096n);
  st('st-length-zero', /header length is 0/, '{}', undefined, 0n);
  // Header text.
  st('st-bad-utf8', /header is not UTF-8/, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
  st('st-not-json', /header is not JSON/, '{"a": tru');
  st('st-json-array', /does not start with '\{'/, '[1, 2, 3]');
  st('st-trailing-garbage', /header is not JSON/, '{} {}');
  st('st-deep-nesting', /header nests 30001 levels deep/, `{"a":${'['.repeat(30000)}${']'.repeat(30000)}}`);
  st('st-nesting-4', /tensor "a" has shape an Array\(1\)/, j({ a: t('F32', [[1]], [0, 4]) }), f32(1));
  st('st-duplicate-tensor', /key "W1" twice/, `{"W1":${j(t('F32', [1], [0, 4]))},"W1":${j(t('F32', [1], [4, 8]))}}`, f32(2));
  st('st-duplicate-escaped', /key "W1" twice/, `{"W1":${j(t('F32', [1], [0, 4]))},"\\u0057\\u0031":${j(t('F32', [1], [4, 8]))}}`, f32(2));
  st('st-duplicate-metadata', /key "config" twice in \$\["__metadata__"\]/, '{"__metadata__":{"config":"{}","config":"{\\"kind\\":\\"x\\"}"}}');
  st('st-duplicate-field', /key "shape" twice in \$\["a"\]/, '{"a":{"dtype":"F32","shape":[1],"shape":[2],"data_offsets":[0,4]}}', f32(1));
  st('st-proto-name', 'ok', `{"__proto__":${j(t('F32', [1], [0, 4]))},"__metadata__":{"__proto__":"x"}}`, f32(1));
  // __metadata__.
  st('st-metadata-null', /__metadata__ must be an object of strings, got null/, '{"__metadata__":null}');
  st('st-metadata-number-value', /__metadata__ value "epochs" must be a string, got the number 3/, '{"__metadata__":{"epochs":3}}');
  st('st-metadata-array', /__metadata__ must be an object of strings, got an Array/, '{"__metadata__":["a"]}');
  // Entries.
  st('st-entry-number', /tensor "a" must be an object, got the number 5/, '{"a":5}');
  st('st-entry-extra-field', /unknown field "offsets"/, j({ a: { ...t('F32', [1], [0, 4]), offsets: [0, 4] } }), f32(1));
  st('st-dtype-unknown', /dtype the string "F128"; known dtypes are BOOL/, j({ a: t('F128', [1], [0, 16]) }), new Uint8Array(16));
  st('st-dtype-missing', /dtype undefined/, j({ a: { shape: [1], data_offsets: [0, 4] } }), f32(1));
  st('st-shape-negative', /shape an Array\(1\); expected an array of integers >= 0/, j({ a: t('F32', [-1], [0, 4]) }), f32(1));
  st('st-shape-fraction', /shape an Array\(1\)/, j({ a: t('F32', [1.5], [0, 4]) }), f32(1));
  st('st-shape-string', /shape the string "4"/, j({ a: t('F32', '4', [0, 16]) }), f32(4));
  st('st-shape-huge', /shape \[1000000000000000, 1000000000000000, 1000000000000000\] of F32 .* hold 4 bytes/,
    j({ a: t('F32', [1e15, 1e15, 1e15], [0, 4]) }), f32(1));
  st('st-tiny-claims-huge', /ends at byte 40000000000 of the data section, which has 4 bytes/,
    j({ a: t('F32', [100000, 100000], [0, 4e10]) }), f32(1));
  st('st-shape-bytes-mismatch', /shape \[3\] of F32 .* hold 8 bytes/, j({ a: t('F32', [3], [0, 8]) }), f32(2));
  st('st-offsets-reversed', /data_offsets an Array\(2\); expected \[begin, end\]/, j({ a: t('F32', [0], [8, 0]) }), f32(2));
  st('st-offsets-fraction', /data_offsets an Array\(2\)/, j({ a: t('F32', [1], [0.5, 4.5]) }), f32(2));
  st('st-offsets-three', /data_offsets an Array\(3\)/, j({ a: t('F32', [1], [0, 4, 8]) }), f32(2));
  // The same 4 KB claimed by 500 tensors (the shape of the 16 MB / 1.7 GB case, scaled down).
  const same: Record<string, unknown> = {};
  for (let i = 0; i < 500; i++) same[`w${i}`] = t('F32', [1024], [0, 4096]);
  st('st-overlap-many', /overlaps tensor "w\d+"/, j(same), f32(1024));
  st('st-overlap-partial', /tensor "b" \(bytes 4 to 12\) overlaps tensor "a" \(which ends at 8\)/,
    j({ a: t('F32', [2], [0, 8]), b: t('F32', [2], [4, 12]) }), f32(3));
  st('st-gap', /4 bytes between tensor "a" \(ending at 8\) and tensor "b" \(beginning at 12\) belong to no tensor/,
    j({ a: t('F32', [2], [0, 8]), b: t('F32', [2], [12, 20]) }), f32(5));
  st('st-gap-at-start', /8 bytes between the header \(ending at 0\) and tensor "a"/, j({ a: t('F32', [1], [8, 12]) }), f32(3));
  st('st-trailing-bytes', /12 bytes follow the last tensor \("a", ending at 4\)/, j({ a: t('F32', [1], [0, 4]) }), f32(4));
  st('st-trailing-no-tensors', /4 bytes follow the last tensor; the data section/, '{}', f32(1));
  st('st-truncated-data', /ends at byte 400 of the data section, which has 100 bytes/, j({ a: t('F32', [100], [0, 400]) }), new Uint8Array(100));
  st('st-zero-size', 'ok', j({ a: t('F32', [0, 5], [0, 0]), b: t('F64', [2], [0, 16]) }), new Uint8Array(16));
  st('st-f8-data', /dtype F8_E5M2, which blasnet cannot convert/, j({ a: t('F8_E5M2', [4], [0, 4]) }), new Uint8Array(4), undefined, ['readSafetensors']);

  // IDX: raw.
  const idx = (name: string, error: RegExp | 'ok', bytes: Uint8Array, readers = IDX): void => {
    cases.push({ name, file: put(name, bytes), readers, error });
  };
  idx('idx-empty', /is truncated: 0 bytes, too short for an IDX header/, new Uint8Array(0));
  idx('idx-3-bytes', /is truncated: 3 bytes/, new Uint8Array([0, 0, 8]));
  idx('idx-text', /is not an IDX file: it starts with 68 65 6c 6c/, Buffer.from('hello, world'));
  idx('idx-float-type', /holds float values/, idxBytes(0x0d01, [4], 16));
  idx('idx-zero-dims', /has 0 dimensions/, idxBytes(0x0800, [], 0));
  idx('idx-255-dims-short', /header alone needs 1024 for 255 dimensions/, Buffer.from([0, 0, 8, 255, 0, 0, 0, 1]));
  idx('idx-tiny-claims-60000', /is truncated: its header says \[60000, 28, 28\] = 47040000 values, but only 100 bytes follow/,
    idxBytes(0x803, [60000, 28, 28], 100));
  idx('idx-claims-2^96', /announcing \[4294967295, 4294967295, 4294967295\] = .* more than the 2147483647 bytes accepted/,
    idxBytes(0x803, [0xffffffff, 0xffffffff, 0xffffffff], 64));
  idx('idx-extra-bytes', /has 5 bytes more than its header says/, idxBytes(0x801, [10], 15));
  idx('idx-labels-as-images', /holds labels \(magic 0x00000801\), expected images/, idxBytes(0x801, [10], 10), ['readIdxImages']);
  idx('idx-label-out-of-range', /label 3 is 200, expected a class index in 0\.\.9/, idxBytes(0x801, [5], new Uint8Array([1, 2, 3, 200, 4])), ['readIdxLabels']);
  idx('idx-named-gz-raw-text.gz', /is not an IDX file.*named \.gz but was not gzip-compressed/, Buffer.from('<html>not found</html>'));
  // IDX: gzip.
  idx('idx-gz-claims-3.2GB.gz', /announcing \[4081632, 28, 28\] = 3199999488 values, more than the 2147483647 bytes accepted/,
    zlib.gzipSync(idxBytes(0x803, [4081632, 28, 28], 4096)));
  idx('idx-gz-claims-1.5GB.gz', /announcing \[2000000, 28, 28\] = 1568000000 values, but a gzip file of \d+ bytes cannot hold that much/,
    zlib.gzipSync(idxBytes(0x803, [2000000, 28, 28], 4096)));
  const bomb = zlib.gzipSync(Buffer.concat([idxBytes(0x803, [1, 28, 28], 784), Buffer.alloc(32 * 2 ** 20)]), { level: 9 });
  idx('idx-gz-bomb-after-header.gz', /decompresses to more than its header says \(\[1, 28, 28\] = 784 values/, bomb);
  const member2 = zlib.gzipSync(Buffer.alloc(32 * 2 ** 20), { level: 9 });
  idx('idx-gz-bomb-second-member.gz', /decompresses to more than its header says/,
    Buffer.concat([zlib.gzipSync(idxBytes(0x801, [8], 8)), member2]));
  const good = zlib.gzipSync(idxBytes(0x803, [20, 28, 28], 20 * 784));
  idx('idx-gz-truncated.gz', /not a valid gzip file: its compressed data ends early \(the file is truncated\)/, good.subarray(0, good.length - 20));
  idx('idx-gz-cut-in-header.gz', /not a valid gzip file: its compressed data ends early/, good.subarray(0, 12));
  idx('idx-gz-garbage.gz', /not a valid gzip file \(zlib: /, Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from('garbage after the magic')]));
  const crc = Buffer.from(good);
  crc[crc.length - 6] ^= 0xff;
  idx('idx-gz-bad-crc.gz', /not a valid gzip file \(zlib: incorrect data check\)/, crc);
  idx('idx-gz-text.gz', /is not an IDX file: it starts with 3c 68 74 6d/, zlib.gzipSync(Buffer.from('<html>moved</html>')));
  idx('idx-gz-short-of-header.gz', /is truncated: its header says \[20, 28, 28\] = 15680 values, but only 700 bytes follow/,
    zlib.gzipSync(idxBytes(0x803, [20, 28, 28], 700)));
  // A long file name field (FNAME) before any data: the header is looked for further on.
  const named = zlib.gzipSync(idxBytes(0x801, [4], new Uint8Array([1, 2, 3, 4])));
  const fname = Buffer.concat([named.subarray(0, 3), Buffer.from([named[3] | 0x08]), named.subarray(4, 10), Buffer.alloc(20000, 0x61), Buffer.from([0]), named.subarray(10)]);
  idx('idx-gz-long-fname.gz', 'ok', fname);

  // Not regular files.
  const fifo = join(dir, 'model.fifo');
  const haveFifo = spawnSync('mkfifo', [fifo]).status === 0;
  const zeroLink = join(dir, 'zero-link');
  fs.symlinkSync('/dev/zero', zeroLink);
  const sub = join(dir, 'a-folder');
  fs.mkdirSync(sub);
  for (const [readers, tag] of [[ST, 'st'], [[...IDX, 'readIdxImages'] as Reader[], 'idx']] as const) {
    if (haveFifo) cases.push({ name: `${tag}-fifo`, file: fifo, readers, error: /is a FIFO \(named pipe\), not .*only regular files are read/ });
    if (fs.existsSync('/dev/zero')) cases.push({ name: `${tag}-dev-zero`, file: '/dev/zero', readers, error: /is a character device, not/ });
    cases.push({ name: `${tag}-symlink-to-dev-zero`, file: zeroLink, readers, error: /is a character device, not/ });
    cases.push({ name: `${tag}-folder`, file: sub, readers, error: /is a folder, not/ });
    cases.push({ name: `${tag}-missing`, file: join(dir, 'no-such-file'), readers, error: /file not found/ });
  }
}

// ---- the child process ----------------------------------------------------------------------

const CHILD = `
const [reader, file, warm] = process.argv.slice(1);
const st = require(${JSON.stringify(join(DIST, 'io', 'safetensors.js'))});
const idx = require(${JSON.stringify(join(DIST, 'data', 'idx.js'))});
const fns = {
  readSafetensorsHeader: st.readSafetensorsHeader, readSafetensors: st.readSafetensors,
  readIdx: idx.readIdx, readIdxImages: idx.readIdxImages, readIdxLabels: idx.readIdxLabels,
};
const fn = fns[reader];
// Warm up on a valid file, so that loading and compiling are not counted.
try { fn(warm); } catch { /* a valid file of the other kind for readIdxLabels: only compiling matters */ }
global.gc();
// Peak RSS of the call alone: Linux resets the high-water mark (VmHWM) on writing 5 to
// /proc/self/clear_refs; elsewhere the process's maxRSS is used (it can only under-count).
const fs = require('fs');
const kb = (field) => Number(fs.readFileSync('/proc/self/status', 'utf8').split('\\n').find((l) => l.startsWith(field + ':')).replace(/[^0-9]/g, '')) * 1024;
let exact = false;
try { fs.writeFileSync('/proc/self/clear_refs', '5'); exact = true; } catch { /* not Linux */ }
const m0 = process.memoryUsage();
const hwm0 = exact ? kb('VmRSS') : process.resourceUsage().maxRSS * 1024;
let out;
try {
  const r = fn(file);
  out = { ok: true };
  if (r && r.tensors && !(r.tensors instanceof Map) && Object.getPrototypeOf(r.tensors) !== null) out = { ok: false, message: 'tensors has a prototype' };
  if (({}).dtype !== undefined || Object.prototype.shape !== undefined) out = { ok: false, message: 'Object.prototype polluted' };
} catch (e) {
  out = { ok: false, name: e && e.name, message: e && e.message };
}
const peak = exact ? kb('VmHWM') : process.resourceUsage().maxRSS * 1024;
const m1 = process.memoryUsage();
out.peakGrowth = peak - hwm0;
out.arrayBuffersGrowth = m1.arrayBuffers - m0.arrayBuffers;
process.stdout.write(JSON.stringify(out));
`;

/** Runs one reader on one file in a child process; rejects when it hangs or dies. */
function runCase(reader: Reader, file: string): Promise<Outcome> {
  const warm = reader.startsWith('readSafetensors') ? validSt : validIdx;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--expose-gc', '-e', CHILD, reader, file, warm],
      { encoding: 'utf8', timeout: TIMEOUT_MS, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
        if (err && (err as { killed?: boolean }).killed) {
          reject(new Error(`${reader}(${file}) did not finish within ${TIMEOUT_MS / 1000} s (it hangs)`));
        } else if (err) {
          reject(new Error(`${reader}(${file}) ended the process (${err.message}): ${stderr}`));
        } else {
          resolve(JSON.parse(stdout) as Outcome);
        }
      });
  });
}

/** Runs `jobs` two at a time (the children are single-threaded; CI has two cores). */
async function inPairs<T>(jobs: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]();
    }
  };
  await Promise.all([lane(), lane()]);
  return out;
}

beforeAll(() => {
  ensureBuilt(join(DIST, 'io', 'safetensors.js'));
  dir = fs.mkdtempSync(join(tmpdir(), 'blasnet-hostile-'));
  validSt = stFile('valid.safetensors', JSON.stringify({ a: t('F32', [2], [0, 8]) }), new Uint8Array(8));
  validIdx = put('valid-labels', idxBytes(0x801, [3], new Uint8Array([1, 2, 3])));
  buildCorpus();
}, 120_000);
afterAll(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

describe('hostile files', () => {
  test('the corpus is small: every generated file is under 64 KB', () => {
    for (const c of cases) {
      const s = fs.existsSync(c.file) ? fs.statSync(c.file) : null;
      if (s?.isFile()) expect({ name: c.name, small: s.size < 65536 }).toEqual({ name: c.name, small: true });
    }
    expect(cases.length).toBe(74);
  });

  test('the memory measurement sees an allocation: reading a valid 24 MB tensor raises the peak by about 24 MB', async () => {
    const big = stFile('control.safetensors', JSON.stringify({ a: t('F32', [6 * 2 ** 20], [0, 24 * 2 ** 20]) }));
    fs.truncateSync(big, fs.statSync(big).size + 24 * 2 ** 20); // zeros, stored as a hole
    const o = await runCase('readSafetensors', big);
    expect(o.ok).toBe(true);
    expect(o.peakGrowth).toBeGreaterThan(20 * 2 ** 20);
    expect(o.arrayBuffersGrowth).toBeGreaterThan(20 * 2 ** 20);
    fs.rmSync(big);
  });

  test('each file gives a clear error naming it (or loads, when valid), within the time and memory bounds', async () => {
    const failures: string[] = [];
    const peaks: number[] = [];
    const named: [string, number][] = [];
    const runs = cases.flatMap((c) => c.readers.map((reader) => ({ c, reader })));
    const outcomes = await inPairs(runs.map(({ c, reader }) => () => runCase(reader, c.file).catch((err: Error) => err)));
    runs.forEach(({ c, reader }, i) => {
      const o = outcomes[i];
      const where = `${c.name} / ${reader}`;
      if (o instanceof Error) {
        failures.push(`${where}: ${o.message}`);
        return;
      }
      peaks.push(o.peakGrowth);
      named.push([where, o.peakGrowth]);
      if (c.error === 'ok') {
        if (!o.ok) failures.push(`${where}: expected to load, got ${o.message}`);
      } else if (o.ok) {
        failures.push(`${where}: expected an error matching ${c.error}, but it loaded`);
      } else {
        if (!o.message!.startsWith(`${c.file}: `)) failures.push(`${where}: the message does not start with the path: ${o.message}`);
        if (!c.error.test(o.message!)) failures.push(`${where}: expected ${c.error}, got: ${o.message}`);
        if (o.name === 'TypeError' || (o.name === 'RangeError' && /call stack/.test(o.message!))) failures.push(`${where}: a bare ${o.name}: ${o.message}`);
      }
      if (o.peakGrowth > PEAK_LIMIT || o.arrayBuffersGrowth > PEAK_LIMIT) {
        failures.push(`${where}: memory grew by ${(o.peakGrowth / 2 ** 20).toFixed(1)} MB peak RSS, ` +
          `${(o.arrayBuffersGrowth / 2 ** 20).toFixed(1)} MB array buffers (limit ${PEAK_LIMIT / 2 ** 20} MB)`);
      }
    });
    if (process.env.BLASNET_HOSTILE_REPORT) {
      process.stderr.write(`peak RSS growth per case: max ${(Math.max(...peaks) / 2 ** 20).toFixed(2)} MB, ` +
        `median ${(peaks.sort((a, b) => a - b)[peaks.length >> 1] / 2 ** 20).toFixed(2)} MB over ${peaks.length} runs; largest: ` +
        `${named.sort((a, b) => b[1] - a[1]).slice(0, 4).map(([w, p]) => `${w} ${(p / 2 ** 20).toFixed(2)} MB`).join(', ')}\n`);
    }
    expect(failures).toEqual([]);
    expect(peaks).toHaveLength(runs.length);
  });
});
