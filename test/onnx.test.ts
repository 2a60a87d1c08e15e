// SPDX-License-Identifier: MIT
// ONNX export checked by another runtime: every preset and a Sequential with every
// supported layer kind, trained a few steps (so weights and BatchNorm running statistics are
// not their initial values), exported, and run in onnxruntime-node on real MNIST digits (the
// built-in test set, and the real MNIST test set when it is there): the logits and the
// probabilities must agree with blasnet's predict to 1e-4 and every arg max must be the same.
// The files are also decoded with the official schema (as onnxruntime-web ships it) to check
// what the graph holds: opset, operators, no ONNX Dropout node, input and output shapes.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  Adam, Affine, AvgPooling, BatchNormalization, Convolution, DeepConvNet, Dropout, Layer, loadIdxPair, loadMnist,
  MultiLayerNet, MultiLayerNetExtend, Pooling, Relu, Sequential, setSeed, ShapeError, Sigmoid, SimpleConvNet, Tanh,
  Tensor, exportOnnx, onnxModel,
} from '../lib';
import { main } from '../lib/cli/main';
import { decodeOnnx, haveOrt, runOrt } from './helpers/onnx';

// The real MNIST test set: BLASNET_MNIST_DIR, or the shared data folder beside the checkout.
const MNIST_DIR = process.env.BLASNET_MNIST_DIR ?? path.resolve(__dirname, '../../shared/data/mnist');
const T10K_IMAGES = path.join(MNIST_DIR, 't10k-images-idx3-ubyte.gz');
const T10K_LABELS = path.join(MNIST_DIR, 't10k-labels-idx1-ubyte.gz');
const haveRealMnist = fs.existsSync(T10K_IMAGES) && fs.existsSync(T10K_LABELS);
if (!haveRealMnist) console.warn(`onnx.test: the real MNIST test set is not at ${MNIST_DIR}; comparing on the built-in digits only`);

const ort = haveOrt('onnx.test');
let tmp = '';
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-onnx-')); });
afterAll(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

function randn(shape: number[], scale: number, seed: number): Tensor {
  // Box-Muller over a small LCG: deterministic weights for hand-built layers.
  let s = seed >>> 0;
  const u = (): number => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return (s + 0.5) / 4294967296; };
  const t = Tensor.zeros(shape);
  for (let i = 0; i < t.data.length; i++) t.data[i] = scale * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return t;
}

/** 1 + small noise: a BatchNorm gamma that is not all ones. */
function nearOne(n: number, seed: number): Tensor {
  const t = randn([n], 0.1, seed);
  for (let i = 0; i < n; i++) t.data[i] += 1;
  return t;
}

function batch(x: Tensor, start: number, n: number): Tensor {
  const per = x.data.length / x.shape[0];
  return new Tensor(x.data.subarray(start * per, (start + n) * per), [n, ...x.shape.slice(1)]);
}

/** A few Adam steps on the built-in training digits, so that nothing is at its initial value. */
function train(net: Sequential, x: Tensor, t: Int32Array, steps: number, lr = 0.001): void {
  const opt = new Adam({ lr });
  for (let s = 0; s < steps; s++) {
    const start = (s * 100) % (x.shape[0] - 100);
    opt.update(net.params, net.gradient(batch(x, start, 100), t.subarray(start, start + 100)));
  }
}

interface Agreement { n: number; maxLogitDiff: number; maxProbDiff: number; argmaxDiffer: number; maxLogit: number; accuracy: number }

/** Runs `x` through blasnet and through onnxruntime on the exported file; compares the two. */
function agreement(file: string, net: Sequential, x: Tensor, t: Int32Array, optimization?: 'disabled'): Agreement {
  const r: Agreement = { n: 0, maxLogitDiff: 0, maxProbDiff: 0, argmaxDiffer: 0, maxLogit: 0, accuracy: 0 };
  let correct = 0;
  const N = x.shape[0];
  let ours = new Float32Array(0);
  for (let start = 0; start < N; start += 1000) {
    const n = Math.min(1000, N - start);
    const y = net.predict(batch(x, start, n), false);
    if (start === 0) ours = new Float32Array(N * (y.data.length / n));
    ours.set(y.data, start * (y.data.length / n));
  }
  const out = runOrt(file, x, optimization);
  expect(out.inputNames).toEqual(['input']);
  expect([...out.outputNames].sort()).toEqual(['logits', 'probabilities']);
  const logits = out.outputs.logits.data, probs = out.outputs.probabilities.data;
  const C = ours.length / N;
  expect(out.outputs.logits.dims).toEqual([N, C]);
  expect(out.outputs.probabilities.dims).toEqual([N, C]);
  for (let i = 0; i < N; i++) {
    // Softmax of blasnet's logits in double precision: the reference for `probabilities`.
    let mx = -Infinity;
    for (let c = 0; c < C; c++) mx = Math.max(mx, ours[i * C + c]);
    let sum = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(ours[i * C + c] - mx);
    let a = 0, b = 0;
    for (let c = 0; c < C; c++) {
      const k = i * C + c;
      r.maxLogitDiff = Math.max(r.maxLogitDiff, Math.abs(ours[k] - logits[k]));
      r.maxProbDiff = Math.max(r.maxProbDiff, Math.abs(Math.exp(ours[k] - mx) / sum - probs[k]));
      r.maxLogit = Math.max(r.maxLogit, Math.abs(ours[k]));
      if (ours[k] > ours[i * C + a]) a = c;
      if (logits[k] > logits[i * C + b]) b = c;
    }
    if (a !== b) r.argmaxDiffer++;
    if (a === t[i]) correct++;
  }
  r.n = N;
  r.accuracy = correct / N;
  return r;
}

function expectAgreement(r: Agreement): void {
  expect(Number.isFinite(r.maxLogitDiff)).toBe(true);
  expect(r.maxLogitDiff).toBeLessThan(1e-4);
  expect(r.maxProbDiff).toBeLessThan(1e-4);
  expect(r.argmaxDiffer).toBe(0);
}

const flat = loadMnist({ flatten: true });
const images = loadMnist({ flatten: false });
const real = haveRealMnist ? {
  flat: loadIdxPair(T10K_IMAGES, T10K_LABELS, { flatten: true }),
  images: loadIdxPair(T10K_IMAGES, T10K_LABELS, { flatten: false }),
} : null;

/** The hand-built network: every supported layer kind, padded windows and BatchNorm on 4-D inputs. */
function customSequential(withInputShape: boolean): Sequential {
  return new Sequential([
    new Convolution(randn([8, 1, 3, 3], 0.4, 1), randn([8], 0.1, 2), 1, 1),        // pad 1: (8, 28, 28)
    new Pooling(3, 3, 2, 1),                                                       // padded max: (8, 14, 14)
    new BatchNormalization(nearOne(8 * 14 * 14, 3), randn([8 * 14 * 14], 0.1, 4)),
    new Relu(),
    new Convolution(randn([16, 8, 3, 3], 0.15, 5), randn([16], 0.1, 6), 2, 2),     // stride 2, pad 2: (16, 8, 8)
    new Tanh(),
    new AvgPooling(2, 2, 2, 1),                                                    // padded mean: (16, 5, 5)
    new Dropout(0.3),                                                              // test time: x 0.7
    new Affine(randn([400, 32], 0.07, 7), randn([32], 0.1, 8)),
    new BatchNormalization(nearOne(32, 9), randn([32], 0.1, 10)),
    new Sigmoid(),
    new Dropout(0.2, { inverted: true }),                                          // test time: identity
    new Affine(randn([32, 10], 0.3, 11), randn([10], 0.1, 12)),
  ], withInputShape ? { inputShape: [1, 28, 28] } : undefined);
}

interface Case { name: string; make: () => Sequential; images: boolean; steps: number; ops: string[] }

const CASES: Case[] = [
  {
    name: 'MultiLayerNet sigmoid', images: false, steps: 100,
    make: () => new MultiLayerNet({ inputSize: 784, hiddenSizeList: [100, 100], outputSize: 10, activation: 'sigmoid', weightInitStd: 'sigmoid' }),
    ops: ['Gemm', 'Sigmoid', 'Gemm', 'Sigmoid', 'Gemm', 'Softmax'],
  },
  {
    name: 'MultiLayerNet relu', images: false, steps: 100,
    make: () => new MultiLayerNet({ inputSize: 784, hiddenSizeList: [100, 100], outputSize: 10, activation: 'relu' }),
    ops: ['Gemm', 'Relu', 'Gemm', 'Relu', 'Gemm', 'Softmax'],
  },
  {
    name: 'MultiLayerNet tanh', images: false, steps: 100,
    make: () => new MultiLayerNet({ inputSize: 784, hiddenSizeList: [50], outputSize: 10, activation: 'tanh', weightInitStd: 'xavier' }),
    ops: ['Gemm', 'Tanh', 'Gemm', 'Softmax'],
  },
  {
    name: 'MultiLayerNetExtend BatchNorm + Dropout', images: false, steps: 100,
    make: () => new MultiLayerNetExtend({ inputSize: 784, hiddenSizeList: [100, 100], outputSize: 10, useBatchnorm: true, useDropout: true, dropoutRatio: 0.25 }),
    ops: ['Gemm', 'BatchNormalization', 'Relu', 'Mul', 'Gemm', 'BatchNormalization', 'Relu', 'Mul', 'Gemm', 'Softmax'],
  },
  {
    name: 'SimpleConvNet', images: true, steps: 50,
    make: () => new SimpleConvNet({ weightInitStd: 'he' }),
    ops: ['Conv', 'Relu', 'MaxPool', 'Flatten', 'Gemm', 'Relu', 'Gemm', 'Softmax'],
  },
  {
    name: 'DeepConvNet', images: true, steps: 40,
    make: () => new DeepConvNet(),
    ops: ['Conv', 'Relu', 'Conv', 'Relu', 'MaxPool', 'Conv', 'Relu', 'Conv', 'Relu', 'MaxPool', 'Conv', 'Relu', 'Conv', 'Relu', 'MaxPool',
      'Flatten', 'Gemm', 'Relu', 'Mul', 'Gemm', 'Mul', 'Softmax'],
  },
  {
    name: 'Sequential: padded Convolution and pooling, AvgPooling, BatchNorm on (N, C, H, W), both Dropouts', images: true, steps: 60,
    make: () => customSequential(true),
    ops: ['Conv', 'MaxPool', 'Max', 'Reshape', 'BatchNormalization', 'Reshape', 'Relu', 'Conv', 'Tanh', 'AveragePool', 'Mul',
      'Flatten', 'Gemm', 'BatchNormalization', 'Sigmoid', 'Gemm', 'Softmax'],
  },
];

(ort ? describe : describe.skip)('exported models in onnxruntime-node agree with predict', () => {
  for (const c of CASES) {
    test(c.name, () => {
      setSeed(7);
      const net = c.make();
      const data = c.images ? images : flat;
      const before = JSON.stringify(Object.values(net.stateTensors()).map((p) => p.data[0]));
      train(net, data.xTrain, data.tTrain as Int32Array, c.steps);
      // Weights and running statistics moved away from their initial values.
      expect(JSON.stringify(Object.values(net.stateTensors()).map((p) => p.data[0]))).not.toBe(before);
      const file = path.join(tmp, `${c.name.split(':')[0].replace(/\W+/g, '-')}.onnx`);
      const info = net.exportOnnx(file);
      expect(info.operators).toEqual(c.ops);

      const model = decodeOnnx(fs.readFileSync(file));
      expect(model.opsetImport.map((o) => o.version)).toEqual([13]);
      expect(model.producerName).toBe('blasnet');
      expect(model.graph.node.map((n) => n.opType)).toEqual(c.ops);
      expect(model.graph.node.some((n) => n.opType === 'Dropout')).toBe(false);
      const sampleShape = c.images ? [1, 28, 28] : [784];
      expect(model.graph.input.map((i) => [i.name, i.type.tensorType.shape.dim.map((d) => d.dimParam ?? d.dimValue)]))
        .toEqual([['input', ['N', ...sampleShape]]]);
      expect(model.graph.output.map((o) => [o.name, o.type.tensorType.shape.dim.map((d) => d.dimParam ?? d.dimValue)]))
        .toEqual([['logits', ['N', 10]], ['probabilities', ['N', 10]]]);
      // Every parameter and running statistic is in the file under its saved name, with its values.
      for (const [name, t] of Object.entries(net.stateTensors())) {
        const init = model.graph.initializer.find((i) => i.name === name);
        expect(init?.dims).toEqual(t.shape);
        expect(new Float32Array(new Uint8Array(init!.rawData!).buffer)).toEqual(t.data);
      }

      const builtin = agreement(file, net, data.xTest, data.tTest as Int32Array);
      expect(builtin.n).toBe(2000);
      expectAgreement(builtin);
      let realR: Agreement | null = null;
      if (real) {
        const r = c.images ? real.images : real.flat;
        realR = agreement(file, net, r.x, r.t as Int32Array);
        expect(realR.n).toBe(10000);
        expectAgreement(realR);
      }
      console.log(`onnx.test ${c.name}: built-in ${builtin.n} max |logit diff| ${builtin.maxLogitDiff.toExponential(2)} `
        + `(|logit| up to ${builtin.maxLogit.toFixed(1)}), max |prob diff| ${builtin.maxProbDiff.toExponential(2)}, `
        + `arg max differ ${builtin.argmaxDiffer}, accuracy ${builtin.accuracy.toFixed(4)}`
        + (realR ? `; real MNIST ${realR.n}: ${realR.maxLogitDiff.toExponential(2)}, ${realR.maxProbDiff.toExponential(2)}, `
          + `differ ${realR.argmaxDiffer}, accuracy ${realR.accuracy.toFixed(4)}` : ''));
    });
  }

  test('the padded zeros matter: windows of negative values pool to the padded 0, in blasnet and in onnxruntime (optimised or not)', () => {
    // The custom network's padded max pooling follows a convolution without Relu, so some
    // border windows hold only negative values and the course's zero wins there.
    setSeed(3);
    const net = customSequential(true);
    const conv = net.layers[0], pool = net.layers[1] as Pooling;
    const x = batch(images.xTest, 0, 50);
    const y = conv.forward(x, false).clone();
    const pooled = pool.forward(y, false);
    let zerosFromPad = 0;
    const [N, C, H, W] = y.shape, OH = pooled.shape[2], OW = pooled.shape[3];
    for (let n = 0; n < N; n++) for (let ch = 0; ch < C; ch++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
      let inside = -Infinity, touchesPad = false;
      for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) {
        const iy = oy * 2 - 1 + dy, ix = ox * 2 - 1 + dx;
        if (iy < 0 || ix < 0 || iy >= H || ix >= W) { touchesPad = true; continue; }
        inside = Math.max(inside, y.data[((n * C + ch) * H + iy) * W + ix]);
      }
      if (touchesPad && inside < 0) {
        zerosFromPad++;
        expect(pooled.data[((n * C + ch) * OH + oy) * OW + ox]).toBe(0);
      }
    }
    expect(zerosFromPad).toBeGreaterThan(10);
    // And the exported model reproduces those zeros (the agreement test above covers the rest).
    const file = path.join(tmp, 'padded.onnx');
    net.exportOnnx(file);
    expectAgreement(agreement(file, net, x, images.tTest.subarray(0, 50) as Int32Array));
    expectAgreement(agreement(file, net, x, images.tTest.subarray(0, 50) as Int32Array, 'disabled'));
  });

  test('a Sequential built without inputShape exports with { inputShape }, and the bytes run as the file does', () => {
    setSeed(5);
    const net = customSequential(false);
    train(net, images.xTrain, images.tTrain as Int32Array, 5);  // BatchNorm's running variance is 0 before
    const { bytes, info } = onnxModel(net, { inputShape: [1, 28, 28] });
    expect(info.inputShape).toEqual([1, 28, 28]);
    const file = path.join(tmp, 'no-shape.onnx');
    exportOnnx(net, file, { inputShape: [1, 28, 28] });
    expect(Buffer.compare(fs.readFileSync(file), Buffer.from(bytes))).toBe(0);
    expectAgreement(agreement(file, net, batch(images.xTest, 0, 200), images.tTest.subarray(0, 200) as Int32Array));
  });

  test('an MLP given image-shaped input flattens it first, as Affine does', () => {
    setSeed(9);
    const net = new MultiLayerNet({ inputSize: 784, hiddenSizeList: [30], outputSize: 10 });
    const file = path.join(tmp, 'mlp-images.onnx');
    const info = net.exportOnnx(file, { inputShape: [1, 28, 28] });
    expect(info.operators).toEqual(['Flatten', 'Gemm', 'Relu', 'Gemm', 'Softmax']);
    expectAgreement(agreement(file, net, batch(images.xTest, 0, 200), images.tTest.subarray(0, 200) as Int32Array));
  });

  test('blasnet export: the command writes a model that onnxruntime runs like the saved network', async () => {
    setSeed(11);
    const net = new SimpleConvNet({ convParam: { filterNum: 8 }, hiddenSize: 30, weightInitStd: 'he' });
    train(net, images.xTrain, images.tTrain as Int32Array, 10);
    const model = path.join(tmp, 'cli.safetensors');
    net.saveParams(model);
    const out: string[] = [], err: string[] = [];
    const io = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) }, cwd: tmp };
    const code = await main(['export', '--model', 'cli.safetensors', '--onnx', 'cli.onnx'], io);
    expect(err.join('')).toBe('');
    expect(code).toBe(0);
    expect(out.join('')).toContain('cli.onnx');
    expect(out.join('')).toContain('[N, 1, 28, 28]');
    expectAgreement(agreement(path.join(tmp, 'cli.onnx'), net, images.xTest, images.tTest as Int32Array));
  });
});

describe('exportOnnx refuses what it cannot write', () => {
  class Swish implements Layer {
    readonly name = 'Swish';
    readonly params = {};
    readonly grads = {};
    forward(x: Tensor): Tensor { return x; }
    backward(d: Tensor): Tensor { return d; }
  }

  test('an unsupported layer is named, with its position and the supported list', () => {
    const net = new Sequential([new Affine(Tensor.zeros([4, 3]), Tensor.zeros([3])), new Swish(), new Affine(Tensor.zeros([3, 2]), Tensor.zeros([2]))]);
    expect(() => net.exportOnnx(path.join(tmp, 'x.onnx'))).toThrow(TypeError);
    expect(() => net.exportOnnx(path.join(tmp, 'x.onnx'))).toThrow(/layer 1 \(Swish\) cannot be exported to ONNX; supported layers are Affine, Convolution/);
    expect(fs.existsSync(path.join(tmp, 'x.onnx'))).toBe(false);
  });

  test('a subclass of a supported layer is not taken for it', () => {
    class LeakyRelu extends Relu {}
    const net = new Sequential([new Affine(Tensor.zeros([4, 3]), Tensor.zeros([3])), new LeakyRelu()]);
    expect(() => net.toOnnx()).toThrow(/layer 1 \(Relu\) cannot be exported/);
  });

  test('a network that starts with a Convolution needs its input shape', () => {
    const net = new Sequential([new Convolution(Tensor.zeros([2, 1, 3, 3]), Tensor.zeros([2])), new Affine(Tensor.zeros([1352, 10]), Tensor.zeros([10]))]);
    expect(() => net.toOnnx()).toThrow(/starts with Convolution and was built without inputShape.*pass \{ inputShape: \[C, H, W\] \}/);
    expect(net.toOnnx({ inputShape: [1, 28, 28] }).info.inputShape).toEqual([1, 28, 28]);
  });

  test('an input shape that does not fit names the layer and the shape', () => {
    const net = new SimpleConvNet();
    expect(() => net.toOnnx({ inputShape: [1, 20, 20] })).toThrow(ShapeError);
    expect(() => net.toOnnx({ inputShape: [1, 20, 20] })).toThrow(/layer 3 \(Affine\) does not accept the per-sample shape \[30, 8, 8\]/);
    expect(() => net.toOnnx({ inputShape: [3, 28, 28] })).toThrow(/layer 0 \(Convolution\)/);
  });

  test('pooling padded as wide as its window (a window of padding alone) has no ONNX form', () => {
    const net = new Sequential([new Pooling(2, 2, 2, 2), new Affine(Tensor.zeros([25, 2]), Tensor.zeros([2]))], { inputShape: [1, 6, 6] });
    expect(() => net.toOnnx()).toThrow(/layer 0 \(Pooling\) pads by 2, not less than its 2x2 window/);
  });

  test('a network whose output is not a vector of class scores', () => {
    const net = new Sequential([new Convolution(Tensor.zeros([2, 1, 3, 3]), Tensor.zeros([2])), new Relu()], { inputShape: [1, 5, 5] });
    expect(() => net.toOnnx()).toThrow(/output per sample is \[2, 3, 3\]; ONNX export needs a vector of class scores/);
  });

  test('bad arguments', () => {
    const net = new MultiLayerNet({ inputSize: 4, hiddenSizeList: [3], outputSize: 2 });
    expect(() => net.exportOnnx('')).toThrow(/exportOnnx: file must be a path, got the string ""/);
    expect(() => net.exportOnnx(42 as unknown as string)).toThrow(TypeError);
    expect(() => net.toOnnx({ inputShape: [0] })).toThrow(/inputShape\[0\] must be an integer >= 1/);
    expect(() => net.toOnnx({ inputShape: 'x' as unknown as number[] })).toThrow(/inputShape must be a non-empty array/);
    expect(() => net.toOnnx({ input_shape: [4] } as never)).toThrow(/unknown option 'input_shape' \(did you mean 'inputShape'\?\)/);
    expect(() => net.toOnnx({ metadata: { a: 1 } as never })).toThrow(/metadata must be an object of strings/);
    expect(() => exportOnnx({} as never, path.join(tmp, 'y.onnx'))).toThrow(/net must be a network with a layers array/);
    expect(() => net.exportOnnx(path.join(tmp, 'no-such-dir', 'm.onnx'))).toThrow(/m\.onnx: cannot be written: the folder .*no-such-dir does not exist/);
  });

  test('blasnet export --help and serve --help show their options', async () => {
    for (const [cmd, flags] of [['export', ['--model <file>', '--onnx <file>']], ['serve', ['--model <file>', '--port <n>', 'default: 8080']]] as const) {
      const out: string[] = [];
      const io = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: () => true }, cwd: tmp };
      expect(await main([cmd, '--help'], io)).toBe(0);
      expect(out.join('')).toMatch(new RegExp(`^Usage: blasnet ${cmd} `));
      for (const f of flags) expect(out.join('')).toContain(f);
    }
  });

  test('blasnet export: missing files and options are usage errors', async () => {
    const err: string[] = [];
    const io = { stdout: { write: () => true }, stderr: { write: (s: string) => err.push(s) }, cwd: tmp };
    expect(await main(['export', '--model', 'nope.safetensors', '--onnx', 'o.onnx'], io)).toBe(2);
    expect(err.join('')).toContain('--model nope.safetensors: no such file');
    err.length = 0;
    expect(await main(['export', '--model', 'nope.safetensors'], io)).toBe(2);
    expect(err.join('')).toContain("required option '--onnx <file>' not specified");
  });
});
