// SPDX-License-Identifier: MIT
// readSafetensorsHeader / readSafetensors / writeSafetensors and the atomic writer under them:
// the header read alone, other dtypes converted as numpy converts them (files written by Python),
// zero-size and scalar tensors, names that are JavaScript's own (__proto__), and writes that
// fail (full disk, file size limit, a folder in the way) naming their file and leaving nothing.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import {
  ATOMIC_TEMP_RE, atomicTempPid, FileError, readSafetensors, readSafetensorsHeader, removeStaleTemps, Tensor, writeFileAtomic, writeSafetensors,
} from '../lib';
import { findDuplicateKey, nestingDepth } from '../lib/io/json';
import { ensureBuilt, ROOT } from './helpers/dist';

const DIST_ST = join(ROOT, 'dist', 'lib', 'io', 'safetensors.js');

let dir = '';
beforeAll(() => { dir = fs.mkdtempSync(join(tmpdir(), 'blasnet-st-')); });
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

const PYTHON = '/usr/bin/python3';
const haveNumpy = fs.existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;

/** A safetensors file written byte by byte from a header object (or raw header text). */
function writeRaw(file: string, header: unknown, data: Uint8Array = new Uint8Array(0)): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, json, data]));
  return file;
}

function f32bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

describe('readSafetensorsHeader', () => {
  test('gives names, dtypes, shapes, offsets and metadata of a file written by writeSafetensors', () => {
    const file = join(dir, 'h.safetensors');
    writeSafetensors(file, {
      W1: new Tensor(new Float32Array(6), [2, 3]),
      b1: new Tensor(new Float32Array(3), [3]),
    }, { format: 'blasnet', note: 'x' });
    const h = readSafetensorsHeader(file);
    expect([...h.tensors.keys()].sort()).toEqual(['W1', 'b1']);
    expect(h.tensors.get('W1')).toEqual({ dtype: 'F32', shape: [2, 3], dataOffsets: [0, 24] });
    expect(h.tensors.get('b1')).toEqual({ dtype: 'F32', shape: [3], dataOffsets: [24, 36] });
    expect({ ...h.metadata }).toEqual({ format: 'blasnet', note: 'x' });
    expect(Object.getPrototypeOf(h.metadata)).toBeNull();
    expect(h.dataStart).toBe(8 + h.headerLength);
    expect(h.fileSize).toBe(fs.statSync(file).size);
    expect(h.dataStart % 8).toBe(0);
  });

  test('reads only the header: a 4 GiB tensor in a sparse file is described without reading it', () => {
    const file = join(dir, 'sparse.safetensors');
    const bytes = 2 ** 32;
    writeRaw(file, { big: { dtype: 'F32', shape: [2 ** 15, 2 ** 15], data_offsets: [0, bytes] } });
    const headerEnd = fs.statSync(file).size;
    fs.truncateSync(file, headerEnd + bytes); // a hole: no disk used, 4 GiB to read
    const before = process.memoryUsage();
    const h = readSafetensorsHeader(file);
    const after = process.memoryUsage();
    expect(h.tensors.get('big')!.shape).toEqual([32768, 32768]);
    expect(h.fileSize).toBe(headerEnd + bytes);
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(16 * 2 ** 20);
    expect(after.rss - before.rss).toBeLessThan(64 * 2 ** 20);
    fs.rmSync(file);
  });

  test('names that are Object.prototype\'s own (__proto__, constructor) are plain keys', () => {
    const file = writeRaw(join(dir, 'proto.safetensors'), '{"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},' +
      '"constructor":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"__metadata__":{"__proto__":"m","toString":"t"}}',
    Buffer.from(new Float32Array([1.5, 2.5]).buffer));
    const h = readSafetensorsHeader(file);
    expect([...h.tensors.keys()]).toEqual(['__proto__', 'constructor']);
    expect(Object.getOwnPropertyNames(h.metadata).sort()).toEqual(['__proto__', 'toString']);
    expect(h.metadata.__proto__).toBe('m');
    const r = readSafetensors(file);
    expect(Object.getPrototypeOf(r.tensors)).toBeNull();
    expect(Object.keys(r.tensors).sort()).toEqual(['__proto__', 'constructor']);
    expect(Array.from(r.tensors.__proto__.data)).toEqual([1.5]);
    expect(Array.from((r.tensors['constructor'] as unknown as Tensor).data)).toEqual([2.5]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test('zero-size tensors are valid; readSafetensors lists them in empty; a scalar becomes shape [1]', () => {
    const file = writeRaw(join(dir, 'zero.safetensors'), {
      a: { dtype: 'F32', shape: [3, 0], data_offsets: [0, 0] },
      s: { dtype: 'F32', shape: [], data_offsets: [0, 4] },
      z: { dtype: 'F64', shape: [0], data_offsets: [4, 4] },
    }, Buffer.from(new Float32Array([7]).buffer));
    const h = readSafetensorsHeader(file);
    expect(h.tensors.get('a')!.shape).toEqual([3, 0]);
    const r = readSafetensors(file);
    expect({ ...r.empty }).toEqual({ a: [3, 0], z: [0] });
    expect(Object.keys(r.tensors)).toEqual(['s']);
    expect(r.tensors.s.shape).toEqual([1]);
    expect(r.tensors.s.data[0]).toBe(7);
    // An empty file of tensors is valid too.
    expect(readSafetensors(writeRaw(join(dir, 'none.safetensors'), {})).header.tensors.size).toBe(0);
  });

  test('the header may end in padding spaces (as the format allows)', () => {
    const file = writeRaw(join(dir, 'pad.safetensors'), `${JSON.stringify({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } })}     `,
      Buffer.from(new Float32Array([3]).buffer));
    expect(readSafetensors(file).tensors.a.data[0]).toBe(3);
  });

  test('bad arguments are TypeErrors naming the function', () => {
    expect(() => readSafetensorsHeader('' as never)).toThrow(/readSafetensorsHeader: file must be a non-empty path string/);
    expect(() => readSafetensors(3 as never)).toThrow(TypeError);
    expect(() => writeSafetensors(join(dir, 'x'), { a: { shape: [1], data: new Float32Array(1) } as never })).toThrow(/tensors\["a"\] must be a Tensor/);
    expect(() => writeSafetensors(join(dir, 'x'), {}, { a: 1 as never })).toThrow(/metadata\["a"\] must be a string/);
    expect(fs.existsSync(join(dir, 'x'))).toBe(false);
  });
});

(haveNumpy ? describe : describe.skip)('other dtypes convert to float32 as numpy converts them', () => {
  // Python writes the file (its own header and bytes) and, separately, the float32 bit pattern
  // that numpy gives for every value; bfloat16 is made by hand from float32 bits (round to
  // nearest even), as numpy has no bfloat16.
  const script = String.raw`
import json, sys, numpy as np
out_file, expect_file = sys.argv[1:]
rng = np.random.default_rng(7)
base = np.concatenate([rng.standard_normal(60) * 10.0 ** rng.integers(-9, 9, 60),
    [0.0, -0.0, 1.0, -1.5, 1 / 3, 65504.0, 65520.0, 1e-7, 6e-8, 3.0e38, 3.5e38, -1e39, 1e-46, 2.0 ** -149, np.inf, -np.inf, np.nan]])
with np.errstate(over='ignore', under='ignore'):
    f32 = base.astype(np.float32)
    f16 = base.astype(np.float16)
bits = f32.view(np.uint32).astype(np.uint64)
bf = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
bf[np.isnan(f32)] = 0x7FC0
i64 = np.array([0, 1, -1, 2**24 + 1, 2**53 + 1, 2**62 + 2**38 + 1, -(2**62 + 2**38 + 1), 2**63 - 1, -2**63, 12345678901], dtype='<i8')
u64 = np.array([0, 2**64 - 1, 2**63 + 2**39 + 2**38, 2**62 + 2**38, 16777217, 7], dtype='<u8')
tensors = [
    ('f64', '<f8', 'F64', base.reshape(7, 11)),
    ('f16', '<f2', 'F16', f16.reshape(77)),
    ('bf16', '<u2', 'BF16', bf.reshape(11, 7)),
    ('i8', '<i1', 'I8', rng.integers(-128, 128, 24).reshape(2, 3, 4)),
    ('u8', '<u1', 'U8', rng.integers(0, 256, 24)),
    ('i16', '<i2', 'I16', rng.integers(-32768, 32768, 10)),
    ('u16', '<u2', 'U16', rng.integers(0, 65536, 10)),
    ('i32', '<i4', 'I32', np.array([0, -1, 2**24, 2**24 + 1, -(2**31), 2**31 - 1, 123456789], dtype=np.int64)),
    ('u32', '<u4', 'U32', np.array([0, 2**32 - 1, 2**24 + 3, 4000000001], dtype=np.int64)),
    ('i64', '<i8', 'I64', i64),
    ('u64', '<u8', 'U64', u64),
    ('bool', '<u1', 'BOOL', np.array([[0, 1, 1], [0, 0, 1]])),
]
header, blobs, expect, off = {}, [], {}, 0
for name, np_dtype, st_dtype, values in tensors:
    raw = np.ascontiguousarray(values.astype(np_dtype)).tobytes()
    header[name] = {'dtype': st_dtype, 'shape': list(values.shape), 'data_offsets': [off, off + len(raw)]}
    blobs.append(raw)
    off += len(raw)
    flat = values.astype(np_dtype).reshape(-1)
    if st_dtype == 'BF16':
        as32 = (flat.astype(np.uint32) << 16).view(np.float32)
    else:
        with np.errstate(over='ignore'):
            as32 = flat.astype(np.float32)
    if st_dtype in ('F64',):
        finite = np.isfinite(flat)
        lost = finite & (as32.astype(np.float64) != flat)
        overflowed = int(np.sum(lost & np.isinf(as32)))
        rounded = int(np.sum(lost & ~np.isinf(as32)))
    elif st_dtype in ('I32', 'U32', 'I64', 'U64'):
        rounded = sum(1 for a, b in zip(flat.tolist(), as32.tolist()) if int(b) != int(a))
        overflowed = 0
    else:
        rounded = overflowed = 0
    expect[name] = {'dtype': st_dtype, 'shape': list(values.shape), 'bits': as32.view(np.uint32).tolist(),
                    'rounded': rounded, 'overflowed': overflowed}
header['__metadata__'] = {'written_by': 'numpy'}
text = json.dumps(header).encode()
text += b' ' * ((8 - len(text) % 8) % 8)
with open(out_file, 'wb') as f:
    f.write(len(text).to_bytes(8, 'little'))
    f.write(text)
    for b in blobs:
        f.write(b)
with open(expect_file, 'w') as f:
    json.dump(expect, f)
`;
  type Expected = Record<string, { dtype: string; shape: number[]; bits: number[]; rounded: number; overflowed: number }>;
  let file = '';
  let expected: Expected = {};
  beforeAll(() => {
    file = join(dir, 'numpy-dtypes.safetensors');
    const expectFile = join(dir, 'numpy-dtypes.json');
    const r = spawnSync(PYTHON, ['-c', script, file, expectFile], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
    expected = JSON.parse(fs.readFileSync(expectFile, 'utf8')) as Expected;
  });

  test('every value equals numpy\'s float32 conversion, bit for bit (NaN as NaN)', () => {
    const { tensors, converted, metadata } = readSafetensors(file);
    expect(metadata.written_by).toBe('numpy');
    expect(Object.keys(tensors).sort()).toEqual(Object.keys(expected).sort());
    for (const [name, e] of Object.entries(expected)) {
      const t = tensors[name];
      expect(t.shape).toEqual(e.shape);
      const got = f32bits(t.data);
      const want = Float32Array.from(new Float32Array(new Uint32Array(e.bits).buffer));
      for (let i = 0; i < e.bits.length; i++) {
        if (Number.isNaN(want[i])) expect(t.data[i]).toBeNaN();
        else if (got[i] !== e.bits[i]) throw new Error(`${name}[${i}]: got ${t.data[i]} (0x${got[i].toString(16)}), numpy gives ${want[i]} (0x${e.bits[i].toString(16)})`);
      }
    }
    // Every tensor was stored in another dtype, so every one is reported, with what was lost.
    expect(Object.keys(converted).sort()).toEqual(Object.keys(expected).sort());
    for (const [name, e] of Object.entries(expected)) {
      expect({ name, ...converted[name] }).toEqual({ name, from: e.dtype, rounded: e.rounded, overflowed: e.overflowed });
    }
  });

  test('the reference file exercises what it should (overflow, rounding, 64-bit ties)', () => {
    expect(expected.f64.overflowed).toBeGreaterThanOrEqual(2);
    expect(expected.f64.rounded).toBeGreaterThan(50);
    expect(expected.i64.rounded).toBeGreaterThanOrEqual(5);
    expect(expected.u64.rounded).toBeGreaterThanOrEqual(2);
  });

  test('F32 tensors are not reported as converted', () => {
    const f = join(dir, 'plain.safetensors');
    writeSafetensors(f, { a: new Tensor(new Float32Array([1, 2]), [2]) });
    expect(Object.keys(readSafetensors(f).converted)).toEqual([]);
  });
});

test('a dtype blasnet cannot convert (F8) is refused by name; its header still reads', () => {
  const file = writeRaw(join(dir, 'f8.safetensors'), { q: { dtype: 'F8_E4M3', shape: [4], data_offsets: [0, 4] } }, new Uint8Array(4));
  expect(readSafetensorsHeader(file).tensors.get('q')!.dtype).toBe('F8_E4M3');
  expect(() => readSafetensors(file)).toThrow(/f8\.safetensors: .*tensor "q" has dtype F8_E4M3, which blasnet cannot convert/);
});

describe('atomic writes', () => {
  test('writeFileAtomic writes strings, bytes and chunk sequences whole, and leaves no temporary file', () => {
    const sub = fs.mkdtempSync(join(dir, 'aw-'));
    const f = join(sub, 'out.txt');
    writeFileAtomic(f, 'héllo');
    expect(fs.readFileSync(f, 'utf8')).toBe('héllo');
    writeFileAtomic(f, new Uint8Array([1, 2, 3]));
    expect([...fs.readFileSync(f)]).toEqual([1, 2, 3]);
    writeFileAtomic(f, ['a', Buffer.from('b'), 'c']);
    expect(fs.readFileSync(f, 'utf8')).toBe('abc');
    expect(fs.readdirSync(sub)).toEqual(['out.txt']);
  });

  test('a full disk (ENOSPC) is an error naming the file and saying the disk is full; old file kept, temp removed', () => {
    const sub = fs.mkdtempSync(join(dir, 'enospc-'));
    const f = join(sub, 'model.safetensors');
    writeSafetensors(f, { a: new Tensor(new Float32Array([1]), [1]) });
    const good = fs.readFileSync(f);
    // The real error of a full device, from writing to /dev/full, raised by the write of the data.
    let enospc: unknown = new Error('no /dev/full');
    try {
      const fd = fs.openSync('/dev/full', 'w');
      try { fs.writeSync(fd, Buffer.alloc(8)); } finally { fs.closeSync(fd); }
    } catch (err) {
      enospc = err;
    }
    expect((enospc as NodeJS.ErrnoException).code).toBe('ENOSPC');
    // The module object itself (the `import * as` namespace has read-only bindings to it).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeFs = require('fs') as typeof fs;
    const realWrite = nodeFs.writeSync;
    let calls = 0;
    const spy = jest.spyOn(nodeFs, 'writeSync').mockImplementation(((...args: unknown[]) => {
      if (++calls === 2) throw enospc;
      return (realWrite as (...a: unknown[]) => number)(...args);
    }) as never);
    try {
      let err: FileError | undefined;
      try {
        writeSafetensors(f, { a: new Tensor(new Float32Array([2]), [1]) });
      } catch (e) {
        err = e as FileError;
      }
      expect(err).toBeInstanceOf(FileError);
      expect(err!.message).toMatch(/model\.safetensors: cannot be written: the disk is full .*\(ENOSPC\)/);
      expect(err!.code).toBe('ENOSPC');
      expect(err!.file).toBe(f);
    } finally {
      spy.mockRestore();
    }
    expect(fs.readFileSync(f).equals(good)).toBe(true);
    expect(fs.readdirSync(sub)).toEqual(['model.safetensors']);
  });

  test('a file size limit hit for real (ulimit -f, EFBIG) names the file and leaves no temporary file', () => {
    const sub = fs.mkdtempSync(join(dir, 'efbig-'));
    const f = join(sub, 'big.safetensors');
    ensureBuilt(DIST_ST);
    // The compiled writer, in a child shell under a 64 KB file size limit.
    const js = `
      const { writeSafetensors } = require(${JSON.stringify(DIST_ST)});
      const { Tensor } = require(${JSON.stringify(join(ROOT, 'dist', 'lib', 'core', 'tensor.js'))});
      try { writeSafetensors(${JSON.stringify(f)}, { a: new Tensor(new Float32Array(1 << 16), [1 << 16]) }); console.log('written'); }
      catch (e) { console.log(e.message); }`;
    const r = spawnSync('/bin/sh', ['-c', `ulimit -f 64 && exec "${process.execPath}" -e '${js.replace(/'/g, "'\\''")}'`], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/big\.safetensors: cannot be written: the file is larger than the system allows .*\(EFBIG\)/);
    expect(fs.readdirSync(sub)).toEqual([]);
  });

  test('a missing folder, or a folder in the place of the file: errors naming the path', () => {
    expect(() => writeFileAtomic(join(dir, 'nope', 'x.txt'), 'x')).toThrow(/x\.txt: cannot be written: the folder .*nope does not exist \(ENOENT\)/);
    const sub = fs.mkdtempSync(join(dir, 'taken-'));
    fs.mkdirSync(join(sub, 'x'));
    expect(() => writeFileAtomic(join(sub, 'x'), 'x')).toThrow(/x: cannot be written: a folder of that name is in the way/);
    expect(fs.readdirSync(sub)).toEqual(['x']);
  });

  test('while a write is under way its temporary file sits next to the target, named for this process', () => {
    const sub = fs.mkdtempSync(join(dir, 'during-'));
    let during: string[] = [];
    writeFileAtomic(join(sub, 'model.safetensors'), (function* chunks() {
      yield 'first half, ';
      during = fs.readdirSync(sub);
      yield 'second half';
    })());
    expect(during).toHaveLength(1);
    const m = ATOMIC_TEMP_RE.exec(during[0]);
    expect(m && [m[1], Number(m[2])]).toEqual(['model.safetensors', process.pid]);
    expect(atomicTempPid(during[0])).toBe(process.pid);
    expect(fs.readdirSync(sub)).toEqual(['model.safetensors']);
    expect(fs.readFileSync(join(sub, 'model.safetensors'), 'utf8')).toBe('first half, second half');
  });

  test('temporary files are recognisable; removeStaleTemps removes those of dead processes only', () => {
    const sub = fs.mkdtempSync(join(dir, 'stale-'));
    // A process that has exited: its pid is free (or reused, which only keeps the file).
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout.trim());
    const names = {
      dead: `.model.safetensors.${deadPid}.blasnet-0123abcd.tmp`,
      legacy: `.model.safetensors.${deadPid}.1712345678901.tmp`,
      live: `.model.safetensors.${process.ppid}.blasnet-89abcdef.tmp`,
      other: 'model.safetensors',
    };
    for (const n of Object.values(names)) fs.writeFileSync(join(sub, n), 'x');
    expect(atomicTempPid(names.dead)).toBe(deadPid);
    expect(atomicTempPid(names.legacy)).toBe(deadPid);
    expect(atomicTempPid(names.other)).toBeNull();
    let alive = true;
    try { process.kill(deadPid, 0); } catch { alive = false; }
    const removed = removeStaleTemps(sub);
    if (!alive) expect(removed.sort()).toEqual([join(sub, names.dead), join(sub, names.legacy)].sort());
    expect(fs.existsSync(join(sub, names.live))).toBe(true);
    expect(fs.existsSync(join(sub, names.other))).toBe(true);
    // Old enough, even a live process's temporary file goes.
    expect(removeStaleTemps(sub, { olderThanMs: -1 })).toEqual([join(sub, names.live)]);
  });
});

describe('the strict JSON pass under the header reader', () => {
  test('finds a key repeated in one object, decoded, at any depth; siblings may share keys', () => {
    expect(findDuplicateKey('{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}')).toBeNull();
    expect(findDuplicateKey('{"a":1,"a":2}')).toEqual({ key: 'a', path: '$' });
    expect(findDuplicateKey('{"a\\"b":1,"a\\u0022b":2}')).toEqual({ key: 'a"b', path: '$' });
    expect(findDuplicateKey('{"x":"\\\\","y":"{\\"x\\":1}","x":1}')).toEqual({ key: 'x', path: '$' });
    expect(findDuplicateKey('{"t":[0,{"k":1,"k":2}]}')).toEqual({ key: 'k', path: '$["t"][1]' });
    expect(findDuplicateKey('{"m":{"s":"a,b:c","s2":"]}"},"n":{"s":1,"s":2}}')).toEqual({ key: 's', path: '$["n"]' });
  });

  test('measures nesting without parsing, strings skipped', () => {
    expect(nestingDepth('{}')).toBe(1);
    expect(nestingDepth('{"a":{"shape":[1,2]}}')).toBe(3);
    expect(nestingDepth('{"a":"[[[[{{{{"}')).toBe(1);
    expect(nestingDepth('['.repeat(1000) + ']'.repeat(1000))).toBe(1000);
  });
});
