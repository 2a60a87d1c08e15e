// SPDX-License-Identifier: MIT
// saveParams / loadParams / loadNetwork: safetensors files read back here and by Python, round
// trips with identical predictions, damaged and foreign files rejected without touching the
// network, and atomic writes.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import {
  DeepConvNet, loadNetwork, MultiLayerNet, MultiLayerNetExtend, Sequential, setSeed, ShapeError, SimpleConvNet, Tensor,
} from '../lib';
import { Rng } from './helpers/random';

let dir = '';
beforeAll(() => { dir = fs.mkdtempSync(join(tmpdir(), 'blasnet-save-')); });
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

const PYTHON = '/usr/bin/python3';
const havePython = fs.existsSync(PYTHON);

function batch(seed: number, shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(new Rng(seed).floats(n, 0, 1), shape);
}

function snapshot(net: Sequential): Record<string, Float32Array> {
  return Object.fromEntries(Object.entries(net.stateTensors()).map(([k, v]) => [k, v.data.slice()]));
}

function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** A trained-looking MultiLayerNetExtend: BN running statistics moved by a few training forwards. */
function bnNet(seed: number): MultiLayerNetExtend {
  setSeed(seed);
  const net = new MultiLayerNetExtend({ inputSize: 12, hiddenSizeList: [10, 8], outputSize: 4, useBatchnorm: true,
    useDropout: true, dropoutRatio: 0.2, weightDecayLambda: 0.01 });
  for (let i = 0; i < 3; i++) net.gradient(batch(100 + i, [6, 12]), [0, 1, 2, 3, 0, 1]);
  return net;
}

/** The file's header and tensors parsed here, from the format's definition. */
function parseHere(file: string): { header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  metadata: Record<string, string>; data: Buffer } {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const metadata = header.__metadata__;
  delete header.__metadata__;
  return { header, metadata, data: buf.subarray(8 + n) };
}

describe('round trip', () => {
  test('MultiLayerNetExtend: loadParams into another network gives bit-identical predictions', () => {
    const a = bnNet(1);
    const file = join(dir, 'extend.safetensors');
    a.saveParams(file);
    const b = bnNet(2);
    const x = batch(7, [5, 12]);
    const ya = a.predict(x).clone();
    expect(bitsEqual(b.predict(x).data, ya.data)).toBe(false);
    b.loadParams(file);
    expect(bitsEqual(b.predict(x).data, ya.data)).toBe(true);
    // The running statistics came along (they are what test mode uses).
    expect(bitsEqual(b.stateTensors().runningVar2.data, a.stateTensors().runningVar2.data)).toBe(true);
  });

  test('loadNetwork rebuilds each preset from the metadata', () => {
    setSeed(3);
    const nets: Array<[string, Sequential, number[]]> = [
      ['mlp', new MultiLayerNet({ inputSize: 6, hiddenSizeList: [5, 4], outputSize: 3, activation: 'tanh' }), [4, 6]],
      ['extend', bnNet(4), [4, 12]],
      ['simple', new SimpleConvNet({ inputDim: [2, 9, 8], convParam: { filterNum: 3, filterSize: 3, pad: 1, stride: 1 }, hiddenSize: 7, outputSize: 5 }), [3, 2, 9, 8]],
      ['deep', new DeepConvNet({ inputDim: [1, 8, 8], hiddenSize: 6, outputSize: 3,
        convParams: [2, 2, 3, 3, 4, 4].map((f, i) => ({ filterNum: f, filterSize: 3, pad: i === 3 ? 2 : 1, stride: 1 })) }), [2, 1, 8, 8]],
    ];
    for (const [name, net, shape] of nets) {
      const file = join(dir, `${name}.safetensors`);
      net.saveParams(file);
      setSeed(99);
      const back = loadNetwork(file);
      expect(back.constructor).toBe(net.constructor);
      expect(Object.keys(back.params).sort()).toEqual(Object.keys(net.params).sort());
      const x = batch(8, shape);
      const y = net.predict(x).clone();
      expect(bitsEqual(back.predict(x).data, y.data)).toBe(true);
      expect(back.config).toEqual(net.config);
    }
  });

  test('the file is safetensors: 8-byte length, JSON header of F32 tensors, raw little-endian data', () => {
    const net = bnNet(5);
    const file = join(dir, 'format.safetensors');
    net.saveParams(file);
    const { header, metadata, data } = parseHere(file);
    const state = net.stateTensors();
    expect(Object.keys(header).sort()).toEqual(Object.keys(state).sort());
    let end = 0;
    for (const [k, e] of Object.entries(header)) {
      expect(e.dtype).toBe('F32');
      expect(e.shape).toEqual(state[k].shape);
      const [s, t] = e.data_offsets;
      expect(t - s).toBe(state[k].data.length * 4);
      const vals = new Float32Array(state[k].data.length);
      for (let i = 0; i < vals.length; i++) vals[i] = data.readFloatLE(s + 4 * i);
      expect(bitsEqual(vals, state[k].data)).toBe(true);
      end = Math.max(end, t);
    }
    expect(end).toBe(data.length);
    expect(typeof metadata.config).toBe('string');
    expect(JSON.parse(metadata.config).kind).toBe('MultiLayerNetExtend');
  });

  (havePython ? test : test.skip)('Python reads the file (json + struct) and gets the same values', () => {
    const net = bnNet(6);
    const file = join(dir, 'python.safetensors');
    net.saveParams(file);
    const script = [
      'import json, struct, sys',
      'b = open(sys.argv[1], "rb").read()',
      'n = struct.unpack("<Q", b[:8])[0]',
      'h = json.loads(b[8:8 + n])',
      'm = h.pop("__metadata__", {})',
      'out = {}',
      'for k, e in h.items():',
      '    s, t = e["data_offsets"]',
      '    assert e["dtype"] == "F32"',
      '    v = struct.unpack("<%df" % ((t - s) // 4), b[8 + n + s:8 + n + t])',
      '    out[k] = {"shape": e["shape"], "data": list(v)}',
      'print(json.dumps({"tensors": out, "metadata": m}))',
    ].join('\n');
    const r = spawnSync(PYTHON, ['-c', script, file], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const got = JSON.parse(r.stdout) as { tensors: Record<string, { shape: number[]; data: number[] }>; metadata: Record<string, string> };
    const state = net.stateTensors();
    expect(Object.keys(got.tensors).sort()).toEqual(Object.keys(state).sort());
    for (const [k, t] of Object.entries(state)) {
      expect(got.tensors[k].shape).toEqual(t.shape);
      expect(bitsEqual(Float32Array.from(got.tensors[k].data), t.data)).toBe(true);
    }
    expect(JSON.parse(got.metadata.config)).toEqual(net.config);
  });
});

describe('damaged and foreign files', () => {
  let good = '';
  beforeAll(() => {
    good = join(dir, 'good.safetensors');
    bnNet(10).saveParams(good);
  });

  function expectRejected(file: string, pattern: RegExp, alsoLoadNetwork = true): void {
    const net = bnNet(11);
    const before = snapshot(net);
    expect(() => net.loadParams(file)).toThrow(pattern);
    const after = snapshot(net);
    for (const k of Object.keys(before)) expect(bitsEqual(after[k], before[k])).toBe(true);
    if (alsoLoadNetwork) expect(() => loadNetwork(file)).toThrow(pattern);
  }

  test('a file cut short (in the data, in the header, before the length) is rejected, the network unchanged', () => {
    const bytes = fs.readFileSync(good);
    for (const [name, len] of [['data', bytes.length - 10], ['header', 40], ['length', 5]] as const) {
      const file = join(dir, `cut-${name}.safetensors`);
      fs.writeFileSync(file, bytes.subarray(0, len));
      expectRejected(file, /not a valid safetensors file/);
    }
  });

  test('random bytes, a JSON file and an empty file are rejected with the path in the message', () => {
    const rng = new Rng(5);
    const files: Record<string, Buffer> = {
      'random.bin': Buffer.from(Array.from({ length: 4096 }, () => rng.int(0, 255))),
      'model.json': Buffer.from(JSON.stringify({ W1: [[1, 2], [3, 4]] })),
      'empty.safetensors': Buffer.alloc(0),
    };
    for (const [name, content] of Object.entries(files)) {
      const file = join(dir, name);
      fs.writeFileSync(file, content);
      expectRejected(file, new RegExp(`${name.replace('.', '\\.')}.*not a valid safetensors`));
    }
  });

  test('a valid file of another network is a clear error (shape, missing or extra tensors), network unchanged', () => {
    setSeed(12);
    const other = join(dir, 'other.safetensors');
    new MultiLayerNetExtend({ inputSize: 12, hiddenSizeList: [9, 8], outputSize: 4, useBatchnorm: true }).saveParams(other);
    expectRejected(other, /W1.*\[12, 9\].*\[12, 10\]/, false);
    const noBn = join(dir, 'nobn.safetensors');
    new MultiLayerNet({ inputSize: 12, hiddenSizeList: [10, 8], outputSize: 4 }).saveParams(noBn);
    expectRejected(noBn, /no tensor 'gamma1'.*holds W1, W2, W3, b1, b2, b3/, false);
    const net = new MultiLayerNet({ inputSize: 12, hiddenSizeList: [10, 8], outputSize: 4 });
    expect(() => net.loadParams(good)).toThrow(/does not have: .*gamma1/);
    expect(() => net.loadParams(good)).not.toThrow(ShapeError);
  });

  test('a file without blasnet metadata cannot be rebuilt by loadNetwork, and missing files say so', () => {
    const bare = join(dir, 'bare.safetensors');
    const header = Buffer.from(JSON.stringify({ W1: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    fs.writeFileSync(bare, Buffer.concat([len, header, Buffer.alloc(4)]));
    expect(() => loadNetwork(bare)).toThrow(/no blasnet network configuration/);
    expect(() => loadNetwork(join(dir, 'nope.safetensors'))).toThrow(/nope\.safetensors/);
    expect(() => bnNet(1).loadParams('' as never)).toThrow(TypeError);
  });
});

describe('atomic writes', () => {
  function listDir(d: string): string[] {
    return fs.readdirSync(d).sort();
  }

  test('saving into a directory that does not exist fails and creates nothing', () => {
    const missing = join(dir, 'no-such-dir', 'net.safetensors');
    expect(() => bnNet(1).saveParams(missing)).toThrow(/no-such-dir/);
    expect(fs.existsSync(join(dir, 'no-such-dir'))).toBe(false);
  });

  test('a save that fails mid-write leaves the existing file untouched and no temporary file', () => {
    const sub = fs.mkdtempSync(join(dir, 'atomic-'));
    const file = join(sub, 'net.safetensors');
    bnNet(1).saveParams(file);
    const goodBytes = fs.readFileSync(file);
    const net = bnNet(2);
    // The header is written from the shapes; reading W2's bytes then fails, as a failing disk
    // or a bad buffer would, with the temporary file already open.
    Object.defineProperty(net.params.W2.data, 'buffer', { get: () => { throw new Error('simulated failure while writing W2'); } });
    expect(() => net.saveParams(file)).toThrow(/simulated failure/);
    expect(fs.readFileSync(file).equals(goodBytes)).toBe(true);
    expect(listDir(sub)).toEqual(['net.safetensors']);
  });

  test('a save whose final rename fails (the target is a directory) leaves no temporary file', () => {
    const sub = fs.mkdtempSync(join(dir, 'rename-'));
    const target = join(sub, 'taken');
    fs.mkdirSync(target);
    fs.writeFileSync(join(target, 'keep.txt'), 'x');
    expect(() => bnNet(1).saveParams(target)).toThrow();
    expect(listDir(sub)).toEqual(['taken']);
    expect(listDir(target)).toEqual(['keep.txt']);
  });

  test('overwriting a good file with a successful save replaces it completely', () => {
    const sub = fs.mkdtempSync(join(dir, 'over-'));
    const file = join(sub, 'net.safetensors');
    bnNet(1).saveParams(file);
    const b = bnNet(3);
    b.saveParams(file);
    expect(listDir(sub)).toEqual(['net.safetensors']);
    const back = bnNet(4);
    back.loadParams(file);
    const x = batch(9, [3, 12]);
    const y = b.predict(x).clone();
    expect(bitsEqual(back.predict(x).data, y.data)).toBe(true);
  });
});
