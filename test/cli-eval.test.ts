// SPDX-License-Identifier: MIT
// `blasnet eval` reads only what it needs: a folder with the two test files is enough, the
// training files are read only with --train, and a model stored in another dtype is measured
// after conversion, with a note saying so.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../lib/cli/main';
import { Io } from '../lib/cli/common';
import { loadIdxPair } from '../lib/data';
import { MultiLayerNet, setSeed } from '../lib';

// The real MNIST test set: BLASNET_MNIST_DIR, or the shared data folder beside the checkout.
const MNIST_DIR = process.env.BLASNET_MNIST_DIR ?? path.resolve(__dirname, '../../shared/data/mnist');
const T10K = ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];

let tmp = '';
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-eval-')); });
afterAll(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const io: Io = {
    stdout: { write: (s: string) => { out += s; return true; }, isTTY: false },
    stderr: { write: (s: string) => { err += s; return true; }, isTTY: false },
    cwd: tmp,
  };
  const code = await main(argv, io);
  return { code, out, err };
}

/** The same model file with every tensor stored as F64 (float32 values widen exactly). */
function asF64(src: string, dst: string): void {
  const buf = fs.readFileSync(src);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>;
  const parts: Buffer[] = [];
  let off = 0;
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const count = (e.data_offsets[1] - e.data_offsets[0]) / 4;
    const out = Buffer.alloc(count * 8);
    for (let i = 0; i < count; i++) out.writeDoubleLE(buf.readFloatLE(8 + n + e.data_offsets[0] + 4 * i), 8 * i);
    header[name] = { dtype: 'F64', shape: e.shape, data_offsets: [off, off + out.length] };
    parts.push(out);
    off += out.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(dst, Buffer.concat([len, json, ...parts]));
}

(fs.existsSync(MNIST_DIR) ? describe : describe.skip)('blasnet eval --data with the test files alone', () => {
  let model = '';
  let testOnly = '';
  let expected = 0;
  beforeAll(() => {
    testOnly = path.join(tmp, 'test-only');
    fs.mkdirSync(testOnly);
    for (const f of T10K) fs.copyFileSync(path.join(MNIST_DIR, f), path.join(testOnly, f));
    setSeed(4);
    const net = new MultiLayerNet({ inputSize: 784, hiddenSizeList: [20], outputSize: 10 });
    model = path.join(tmp, 'mlp.safetensors');
    net.saveParams(model);
    const { x, t } = loadIdxPair(path.join(testOnly, T10K[0]), path.join(testOnly, T10K[1]));
    expected = net.accuracy(x, t);
  });

  test('measures the 10,000 test images; the training files are not needed', async () => {
    const r = await run(['eval', '--model', model, '--data', testOnly]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`test accuracy: ${expected.toFixed(4)} (10000 samples`);
    expect(r.out).not.toMatch(/note:/);
  });

  test('--train asks for the training files, and names them when they are missing (exit 1)', async () => {
    const r = await run(['eval', '--model', model, '--data', testOnly, '--train']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/train-images-idx3-ubyte \(looked for/);
    expect(r.err).not.toMatch(/t10k-images-idx3-ubyte \(looked for/);
  });

  test('a model stored as F64 gives the same accuracy, with a note that it was converted', async () => {
    const f64 = path.join(tmp, 'mlp-f64.safetensors');
    asF64(model, f64);
    const r = await run(['eval', '--model', f64, '--data', testOnly]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^note: .*W1.* stored as F64, converted to float32 on load$/m);
    expect(r.out).toContain(`test accuracy: ${expected.toFixed(4)} (10000 samples`);
  });
});
