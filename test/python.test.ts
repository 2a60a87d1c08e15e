// SPDX-License-Identifier: MIT
// Models travel to Python: networks trained here on the built-in digits are saved, then
// examples/python/blasnet_numpy.py (numpy alone) and blasnet_torch.py (PyTorch, the course's
// conventions applied) rebuild them from the file and classify the 2,000 test digits; their
// logits must be within 1e-4 of blasnet's predict and every prediction the same. The file in
// PyTorch's layout goes through model.load_state_dict as it is.
// Needs Debian's python3-numpy (python3-torch for the PyTorch part); without it the tests are
// skipped unless BLASNET_REQUIRE_PYTHON=1 (CI sets it), which makes a missing module a failure.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import {
  Adam, loadMnist, MultiLayerNetExtend, readSafetensors, Sequential, setSeed, SimpleConvNet, Tensor, writeSafetensors,
} from '../lib';
import { zooNetwork } from './helpers/zoo';

const ROOT = resolve(__dirname, '..');
const PYTHON = '/usr/bin/python3';
const SCRIPTS = join(ROOT, 'examples', 'python');
const REQUIRED = process.env.BLASNET_REQUIRE_PYTHON === '1';

function canImport(module: string): boolean {
  if (!fs.existsSync(PYTHON)) return false;
  return spawnSync(PYTHON, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0;
}
const haveNumpy = canImport('numpy');
const haveTorch = haveNumpy && canImport('torch');
if (REQUIRED && !haveNumpy) throw new Error(`${PYTHON} cannot import numpy: apt-get install -y python3-numpy`);

let dir = '';
let inputs = '';
let xTest: Tensor;
let tTest: Int32Array;
const nets: Record<string, { net: Sequential; input: 'images' | 'rows' }> = {};
const files: Record<string, string> = {};

/** A few hundred Adam steps on the built-in training digits: enough for a network that is right most of the time. */
function train(net: Sequential, x: Tensor, t: Int32Array, iterations: number, lr: number): void {
  const opt = new Adam({ lr });
  const per = x.data.length / x.shape[0];
  const B = 50;
  for (let it = 0; it < iterations; it++) {
    const start = (it * B) % (x.shape[0] - B);
    const xb = new Tensor(x.data.subarray(start * per, (start + B) * per), [B, ...x.shape.slice(1)]);
    opt.update(net.params, net.gradient(xb, t.subarray(start, start + B)));
  }
}

beforeAll(() => {
  if (!haveNumpy) return;
  dir = fs.mkdtempSync(join(tmpdir(), 'blasnet-python-'));
  const data = loadMnist({ flatten: false });
  xTest = data.xTest;
  tTest = data.tTest;
  setSeed(1);
  nets.zoo = { net: zooNetwork(1), input: 'images' };
  nets.simple = { net: new SimpleConvNet({ weightInitStd: 'he', hiddenSize: 50 }), input: 'images' };
  nets.extend = { net: new MultiLayerNetExtend({ inputSize: 784, hiddenSizeList: [64, 64], outputSize: 10, useBatchnorm: true,
    useDropout: true, dropoutRatio: 0.15 }), input: 'images' };
  train(nets.zoo.net, data.xTrain, data.tTrain, 300, 0.003);
  train(nets.simple.net, data.xTrain, data.tTrain, 150, 0.002);
  train(nets.extend.net, data.xTrain, data.tTrain, 300, 0.002);
  nets.extend.input = 'rows';
  for (const [name, { net }] of Object.entries(nets)) {
    files[name] = join(dir, `${name}.safetensors`);
    net.saveParams(files[name], { input: { range: [0, 1], description: 'built-in MNIST digits, pixel / 255' } });
    files[`${name}-torch`] = join(dir, `${name}-torch.safetensors`);
    net.saveParams(files[`${name}-torch`], { layout: 'torch' });
  }
  inputs = join(dir, 'test-digits.safetensors');
  writeSafetensors(inputs, { images: xTest, rows: new Tensor(xTest.data, [xTest.shape[0], 784]) });
}, 300000);

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

interface PythonResult { logits: number[]; shape: number[]; predictions: number[] }

function runScript(script: string, model: string, inputName: string): PythonResult {
  const out = join(dir, `out-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  const r = spawnSync(PYTHON, [join(SCRIPTS, script), model, '--inputs', inputs, '--name', inputName, '--json', out],
    { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
  if (r.status !== 0) throw new Error(`${script} ${model} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(fs.readFileSync(out, 'utf8')) as PythonResult;
}

/** blasnet's logits of the 2,000 test digits, and how far Python's are from them. */
function compare(name: string, got: PythonResult): { maxDiff: number; differing: number; accuracy: number } {
  const { net, input } = nets[name];
  const x = input === 'rows' ? new Tensor(xTest.data, [xTest.shape[0], 784]) : xTest;
  const N = x.shape[0];
  const ours = new Float32Array(N * 10);
  for (let s = 0; s < N; s += 500) {
    const per = x.data.length / N;
    ours.set(net.predict(new Tensor(x.data.subarray(s * per, (s + 500) * per), [500, ...x.shape.slice(1)])).data, s * 10);
  }
  expect(got.shape).toEqual([N, 10]);
  let maxDiff = 0, differing = 0, correct = 0;
  for (let n = 0; n < N; n++) {
    let best = 0;
    for (let c = 0; c < 10; c++) {
      maxDiff = Math.max(maxDiff, Math.abs(ours[n * 10 + c] - got.logits[n * 10 + c]));
      if (ours[n * 10 + c] > ours[n * 10 + best]) best = c;
    }
    if (best !== got.predictions[n]) differing++;
    if (best === tTest[n]) correct++;
  }
  return { maxDiff, differing, accuracy: correct / N };
}

const numpyTest = haveNumpy ? test : test.skip;
const torchTest = haveTorch ? test : test.skip;

describe('numpy alone (examples/python/blasnet_numpy.py)', () => {
  numpyTest.each(['zoo', 'simple', 'extend'])('%s: logits within 1e-4 of blasnet, every prediction the same, both layouts', (name) => {
    for (const file of [files[name], files[`${name}-torch`]]) {
      const r = compare(name, runScript('blasnet_numpy.py', file, nets[name].input));
      expect(r.accuracy).toBeGreaterThan(0.8); // a trained network: the agreement means something
      expect(r.maxDiff).toBeLessThan(1e-4);
      expect(r.differing).toBe(0);
    }
  });

  numpyTest('the conventions matter: the same reader told the course\'s Dropout is inverted disagrees', () => {
    const read = readSafetensors(files.zoo);
    const d = JSON.parse(read.metadata.network);
    d.layers[7].inverted = true;            // Dropout(0.2): PyTorch's convention instead of the course's
    d.layers[7].testTimeScale = 1;
    d.torch.modules[9].module = 'Dropout';
    const wrong = join(dir, 'zoo-inverted.safetensors');
    writeSafetensors(wrong, read.tensors, { ...read.metadata, network: JSON.stringify(d) });
    const r = compare('zoo', runScript('blasnet_numpy.py', wrong, 'images'));
    expect(r.maxDiff).toBeGreaterThan(1e-2);
  });

  numpyTest('without --inputs it describes the network', () => {
    const r = spawnSync(PYTHON, [join(SCRIPTS, 'blasnet_numpy.py'), files.zoo], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Sequential, tensors in blasnet layout, input \[1, 28, 28\] in \[0, 1\]/);
    expect(r.stdout).toMatch(/ 1 Pooling +\{"window": \[3, 3\], "stride": 2, "pad": 1, "mode": "max", "padValue": 0\} -> \[4, 14, 14\]/);
  });
});

describe('PyTorch (examples/python/blasnet_torch.py)', () => {
  torchTest.each(['zoo', 'simple', 'extend'])('%s: the nn.Sequential gives logits within 1e-4 of blasnet, every prediction the same, both layouts', (name) => {
    for (const file of [files[name], files[`${name}-torch`]]) {
      const r = compare(name, runScript('blasnet_torch.py', file, nets[name].input));
      expect(r.maxDiff).toBeLessThan(1e-4);
      expect(r.differing).toBe(0);
    }
  });

  torchTest("the file in PyTorch's layout is the builder's state_dict: load_state_dict(strict) takes it as it is", () => {
    const script = [
      'import sys, torch',
      `sys.path.insert(0, ${JSON.stringify(SCRIPTS)})`,
      'from blasnet_numpy import read_safetensors, read_description',
      'from blasnet_torch import build',
      'tensors, meta = read_safetensors(sys.argv[1])',
      'model = build(read_description(meta))',
      'state = {k: torch.from_numpy(v.copy()) for k, v in tensors.items()}',
      'print(model.load_state_dict(state, strict=True))',
      'print(sorted(k for k in model.state_dict() if not k.endswith("num_batches_tracked")) == sorted(state))',
    ].join('\n');
    const r = spawnSync(PYTHON, ['-c', script, files['zoo-torch']], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('<All keys matched successfully>\nTrue\n');
  });

  torchTest('the course\'s modules: CourseDropout scales at test time, CourseBatchNorm normalises flattened features', () => {
    const script = [
      'import sys, torch',
      `sys.path.insert(0, ${JSON.stringify(SCRIPTS)})`,
      'from blasnet_torch import CourseDropout, CourseBatchNorm',
      'x = torch.arange(24, dtype=torch.float32).reshape(2, 3, 2, 2)',
      'd = CourseDropout(0.25).eval()',
      'print(torch.equal(d(x), x * 0.75))',
      'bn = CourseBatchNorm(12, momentum=0.9)',
      'y = bn.train()(x)',
      'flat = x.reshape(2, -1)',
      'mu, var = flat.mean(0), ((flat - flat.mean(0)) ** 2).mean(0)',
      'print(torch.allclose(y.reshape(2, -1), (flat - mu) / torch.sqrt(var + 1e-6)))',
      'print(torch.allclose(bn.running_var, 0.1 * var), torch.allclose(bn.running_mean, 0.1 * mu))',
    ].join('\n');
    const r = spawnSync(PYTHON, ['-c', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('True\nTrue\nTrue True\n');
  });
});
