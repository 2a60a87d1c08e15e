// SPDX-License-Identifier: MIT
// The course's parameter pickles, written here by Debian's python3-numpy for every pickle
// protocol, read into SimpleConvNet and DeepConvNet: the arrays bit-equal numpy's float32
// rounding, and the networks' predictions equal the course's forward pass computed in numpy.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { DeepConvNet, MultiLayerNet, PickleFormatError, readPickleParams, SimpleConvNet, Tensor } from '../lib';

const PYTHON = '/usr/bin/python3';
let dir: string;
interface Ref {
  numpy: string;
  default_protocol: number;
  x: number[];
  simple_logits: number[][];
  deep_logits: number[][];
  simple: Record<string, { shape: number[]; f32: number[] }>;
  deep_shapes: Record<string, number[]>;
  odd: Record<string, { shape: number[]; f32: number[]; dtype: string }>;
}
let ref: Ref;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-pickle-'));
  execFileSync(PYTHON, [path.join(__dirname, 'fixtures', 'course_pickle.py'), dir], { stdio: 'pipe' });
  ref = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8'));
}, 120000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const file = (name: string): string => path.join(dir, name);

function maxRelDiff(a: ArrayLike<number>, b: number[]): number {
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return worst;
}

describe('readPickleParams', () => {
  test.each([2, 3, 4, 5])('protocol %i: every array equals numpy\'s float32 rounding, shapes and dtypes kept', (p) => {
    const { tensors, dtypes } = readPickleParams(file(`simple_p${p}.pkl`));
    expect(Object.keys(tensors).sort()).toEqual(['W1', 'W2', 'W3', 'b1', 'b2', 'b3']);
    for (const [k, want] of Object.entries(ref.simple)) {
      expect(tensors[k].shape).toEqual(want.shape);
      expect(Array.from(tensors[k].data)).toEqual(want.f32);
      expect(dtypes[k]).toBe('float64');
    }
  });

  test.each([2, 3, 4, 5])('protocol %i: Fortran order, big-endian, float16/32, integers and bools', (p) => {
    const { tensors, dtypes } = readPickleParams(file(`odd_p${p}.pkl`));
    for (const [k, want] of Object.entries(ref.odd)) {
      expect(tensors[k].shape).toEqual(want.shape);
      expect(Array.from(tensors[k].data)).toEqual(want.f32);
      expect(dtypes[k]).toBe(want.dtype);
    }
  });

  test('the course\'s default pickle.dump protocol and an OrderedDict read too', () => {
    expect(ref.default_protocol).toBeGreaterThanOrEqual(3);
    expect(readPickleParams(file('deep_default.pkl')).tensors.W7.shape).toEqual([1024, 50]);
    const od = readPickleParams(file('ordered_p2.pkl')).tensors;
    expect(Object.keys(od)).toEqual(['W1', 'b1']);
    expect(od.b1.shape).toEqual([4]);
  });

  test('numpy 2.x module names (numpy._core) read as numpy 1.x ones', () => {
    const bytes = fs.readFileSync(file('simple_p2.pkl'));
    const renamed = Buffer.from(bytes.toString('latin1').split('cnumpy.core.multiarray\n').join('cnumpy._core.multiarray\n'), 'latin1');
    expect(renamed.length).toBeGreaterThan(bytes.length);
    const { tensors } = readPickleParams(new Uint8Array(renamed));
    expect(Array.from(tensors.b3.data)).toEqual(ref.simple.b3.f32);
  });

  test('a pickle that calls os.system is refused and nothing runs', () => {
    expect(() => readPickleParams(file('evil.pkl'))).toThrow(/refers to the Python name (posix|os)\.system, which is not read/);
    expect(fs.existsSync(file('pwned'))).toBe(false);
  });

  test('clear errors for what is not a dict of numeric arrays, truncated files and lying shapes', () => {
    expect(() => readPickleParams(file('list.pkl'))).toThrow(/not a dict of numpy arrays/);
    expect(() => readPickleParams(file('objects.pkl'))).toThrow(PickleFormatError);
    const good = fs.readFileSync(file('simple_p3.pkl'));
    expect(() => readPickleParams(new Uint8Array(good.subarray(0, good.length - 100)))).toThrow(/cannot be read as the course's parameter pickle/);
    expect(() => readPickleParams(new Uint8Array(Buffer.from('{"W1": [1, 2]}')))).toThrow(/not a pickle of protocol 2 to 5/);
    expect(() => readPickleParams(new Uint8Array(0))).toThrow(/not a pickle/);
    // b3 is stored as shape (10,): claim (11,) and the data no longer fits.
    const s = good.toString('latin1');
    const at = s.lastIndexOf('K\n\x85');
    expect(at).toBeGreaterThan(0);
    const lying = Buffer.from(s.slice(0, at) + 'K\x0b\x85' + s.slice(at + 3), 'latin1');
    expect(() => readPickleParams(new Uint8Array(lying))).toThrow(/shape \(11\) of float64 needs 88 bytes, the file holds 80/);
    expect(() => readPickleParams(file('simple_p3.pkl'), { maxBytes: 1000 })).toThrow(/more than options.maxBytes/);
    expect(() => readPickleParams(42 as unknown as string)).toThrow(TypeError);
    expect(() => readPickleParams(file('simple_p3.pkl'), { max_bytes: 5 } as never)).toThrow(/unknown option 'max_bytes' \(did you mean 'maxBytes'\?\)/);
    expect(() => readPickleParams(file('nope.pkl'))).toThrow(/ENOENT/);
  });

  test('one buffer behind many arrays cannot make it allocate far beyond the file size', () => {
    // Protocol 5 by hand: a 4 KiB float64 buffer memoised once, then 2,000 arrays of it.
    const parts: Buffer[] = [Buffer.from([0x80, 0x05, 0x7d, 0x28])];   // PROTO 5, EMPTY_DICT, MARK
    const str = (t: string): Buffer => Buffer.concat([Buffer.from([0x8c, t.length]), Buffer.from(t, 'latin1')]);
    const data = Buffer.alloc(4096);
    for (let i = 0; i < 2000; i++) {
      parts.push(str(`a${i}`));
      if (i === 0) {
        parts.push(str('numpy.core.numeric'), str('_frombuffer'), Buffer.from([0x93, 0x94]));   // STACK_GLOBAL, MEMOIZE -> 0
        const len = Buffer.alloc(8); len.writeUInt32LE(data.length, 0);
        parts.push(Buffer.from([0x28, 0x96]), len, data, Buffer.from([0x94]));                 // MARK, BYTEARRAY8, MEMOIZE -> 1
        parts.push(str('numpy'), str('dtype'), Buffer.from([0x93]), str('f8'), Buffer.from([0x89, 0x88, 0x87, 0x52, 0x94])); // dtype -> 2
        parts.push(Buffer.from([0x4d, 0x00, 0x02, 0x85]), str('C'), Buffer.from([0x74, 0x52]));   // (512,), 'C', TUPLE, REDUCE
      } else {
        parts.push(Buffer.from([0x68, 0x00, 0x28, 0x68, 0x01, 0x68, 0x02, 0x4d, 0x00, 0x02, 0x85]), str('C'), Buffer.from([0x74, 0x52]));
      }
    }
    parts.push(Buffer.from([0x75, 0x2e]));   // SETITEMS, STOP
    const bytes = new Uint8Array(Buffer.concat(parts));
    expect(() => readPickleParams(bytes)).toThrow(/more memory than the file can justify/);
  });
});

describe('loadCourseParams', () => {
  const x = (): Tensor => new Tensor(Float32Array.from(ref.x), [3, 1, 28, 28]);

  test.each([2, 3, 4, 5])('protocol %i: SimpleConvNet predicts what the course\'s numpy forward pass gives', (p) => {
    const net = new SimpleConvNet();
    const dtypes = net.loadCourseParams(file(`simple_p${p}.pkl`));
    expect(dtypes.W2).toBe('float64');
    expect(Array.from(net.params.W1.data)).toEqual(ref.simple.W1.f32);
    const y = net.predict(x());
    expect(maxRelDiff(y.data, ref.simple_logits.flat())).toBeLessThan(1e-4);
  });

  test.each([2, 3, 4, 5])('protocol %i: DeepConvNet (W1..W8, b1..b8) predicts what the course\'s numpy forward pass gives', (p) => {
    const net = new DeepConvNet();
    net.loadCourseParams(file(`deep_p${p}.pkl`));
    for (const [k, shape] of Object.entries(ref.deep_shapes)) expect(net.params[k].shape).toEqual(shape);
    const y = net.predict(x());
    expect(maxRelDiff(y.data, ref.deep_logits.flat())).toBeLessThan(1e-4);
    // Same arg max for each sample.
    for (let i = 0; i < 3; i++) {
      const row = Array.from(y.data.subarray(i * 10, i * 10 + 10));
      expect(row.indexOf(Math.max(...row))).toBe(ref.deep_logits[i].indexOf(Math.max(...ref.deep_logits[i])));
    }
  });

  test('a file for another network changes nothing and names what does not fit', () => {
    const net = new SimpleConvNet();
    const before = net.params.W1.data.slice();
    expect(() => net.loadCourseParams(file('deep_p4.pkl'))).toThrow(/'W1' has shape \[16, 1, 3, 3\], this network needs \[30, 1, 5, 5\]/);
    expect(net.params.W1.data).toEqual(before);
    const mlp = new MultiLayerNet({ inputSize: 3, hiddenSizeList: [4], outputSize: 2 });
    expect(() => mlp.loadCourseParams(file('ordered_p2.pkl'))).toThrow(/has no array 'W2'/);
    // A one-layer network whose W1 (3, 4) and b1 (4,) fit the OrderedDict file.
    const small = new MultiLayerNet({ inputSize: 3, hiddenSizeList: [], outputSize: 4 });
    small.loadCourseParams(file('ordered_p2.pkl'));
    expect(Array.from(small.params.W1.data)).toEqual(Array.from(Float32Array.from({ length: 12 }, (_, i) => i / 7)));
    const extra = new SimpleConvNet({ hiddenSize: 100 });
    expect(() => extra.loadCourseParams(file('odd_p3.pkl'))).toThrow(/has no array 'W1'/);
  });
});
