// SPDX-License-Identifier: MIT
// Trainer: learning on the real MNIST test files, history and hooks, bad options, and
// setSeed making a whole training run repeat bit for bit.
import { describe, expect, test } from '@jest/globals';
import { existsSync, readFileSync } from 'fs';
import { join } from 'path';
import { gunzipSync } from 'zlib';
import {
  EvalInfo, IterationInfo, MultiLayerNet, MultiLayerNetExtend, SGD, setSeed, ShapeError, Tensor, Trainer,
} from '../lib';
import { Rng, toyData } from './helpers/random';

// The real MNIST test set: BLASNET_MNIST_DIR, or the shared data folder beside the checkout.
const MNIST_DIR = process.env.BLASNET_MNIST_DIR ?? join(__dirname, '..', '..', 'shared', 'data', 'mnist');
const IMAGES = join(MNIST_DIR, 't10k-images-idx3-ubyte.gz');
const LABELS = join(MNIST_DIR, 't10k-labels-idx1-ubyte.gz');
const haveMnist = existsSync(IMAGES) && existsSync(LABELS);

/** Reads the IDX files here, independently of lib/data: big-endian header, then uint8 values. */
function readMnist(): { x: Tensor; t: Int32Array } {
  const img = gunzipSync(readFileSync(IMAGES));
  const lab = gunzipSync(readFileSync(LABELS));
  expect(img.readUInt32BE(0)).toBe(0x803);
  expect(lab.readUInt32BE(0)).toBe(0x801);
  const n = img.readUInt32BE(4), rows = img.readUInt32BE(8), cols = img.readUInt32BE(12);
  expect(lab.readUInt32BE(4)).toBe(n);
  const px = rows * cols;
  const x = new Float32Array(n * px);
  for (let i = 0; i < x.length; i++) x[i] = img[16 + i] / 255;
  const t = new Int32Array(n);
  for (let i = 0; i < n; i++) t[i] = lab[8 + i];
  return { x: new Tensor(x, [n, px]), t };
}

function rows(x: Tensor, t: Int32Array, start: number, end: number): { x: Tensor; t: Int32Array } {
  const per = x.data.length / x.shape[0];
  return { x: new Tensor(x.data.subarray(start * per, end * per), [end - start, ...x.shape.slice(1)]), t: t.subarray(start, end) };
}


(haveMnist ? describe : describe.skip)('training on the real MNIST test files', () => {
  test('a small MultiLayerNet reaches well above chance on held-out digits in a few hundred steps', () => {
    const all = readMnist();
    expect(all.x.shape).toEqual([10000, 784]);
    const train = rows(all.x, all.t, 0, 8000), held = rows(all.x, all.t, 8000, 10000);
    setSeed(2024);
    const net = new MultiLayerNet({ inputSize: 784, hiddenSizeList: [50], outputSize: 10 });
    const before = net.accuracy(held.x, held.t);
    const trainer = new Trainer(net, train.x, train.t, held.x, held.t, {
      epochs: 4, miniBatchSize: 100, optimizer: 'sgd', optimizerParam: { lr: 0.1 }, maxIterations: 300,
    });
    const history = trainer.train();
    expect(history.trainLossList).toHaveLength(300);
    const acc = net.accuracy(held.x, held.t);
    expect(before).toBeLessThan(0.3);
    expect(acc).toBeGreaterThan(0.85);
    // Three full epochs of 80 steps ended inside the 300 steps; the last evaluation is the final one.
    expect(history.testAccList).toHaveLength(3);
    expect(history.evaluations[history.evaluations.length - 1].testAcc).toBeCloseTo(acc, 10);
    const first = history.trainLossList.slice(0, 20).reduce((a, b) => a + b) / 20;
    const last = history.trainLossList.slice(-20).reduce((a, b) => a + b) / 20;
    expect(last).toBeLessThan(first * 0.5);
  });
});

describe('the final test accuracy', () => {
  test('is the last evaluation\'s when that one covered the whole test set now, else counted afresh', () => {
    const data = toyData(1, 120, 6, 3);
    const test_ = toyData(2, 40, 6, 3);
    for (const limit of [undefined, 40, 7]) {
      setSeed(3);
      const net = new MultiLayerNet({ inputSize: 6, hiddenSizeList: [8], outputSize: 3 });
      const h = new Trainer(net, data.x, data.t, test_.x, test_.t, {
        epochs: 2, miniBatchSize: 20, optimizer: 'adam', optimizerParam: { lr: 0.01 }, evaluateSampleNumPerEpoch: limit, verbose: false,
      }).train();
      const last = h.evaluations[h.evaluations.length - 1];
      expect(last.iteration).toBe(12);
      const whole = net.accuracy(test_.x, test_.t);
      expect(h.finalTestAcc).toBe(whole);
      // On 7 samples the last evaluation measured something else (a multiple of 1/7).
      if (limit === 7) {
        expect(last.testAcc * 7).toBeCloseTo(Math.round(last.testAcc * 7), 9);
        expect(last.testAcc).not.toBe(whole);
      } else {
        expect(last.testAcc).toBe(whole);
      }
    }
  });
});

describe('history, hooks, evalEvery', () => {
  test('lengths and hook calls follow epochs, iterations and evalEvery', () => {
    const data = toyData(1, 120, 6, 3);
    const test_ = toyData(2, 40, 6, 3);
    setSeed(1);
    const net = new MultiLayerNet({ inputSize: 6, hiddenSizeList: [8], outputSize: 3 });
    const its: IterationInfo[] = [], evals: EvalInfo[] = [];
    const lines: string[] = [];
    const trainer = new Trainer(net, data.x, data.t, test_.x, test_.t, {
      epochs: 3, miniBatchSize: 25, optimizer: 'adam', optimizerParam: { lr: 0.01 }, evalEvery: 5,
      verbose: true, log: (s) => lines.push(s),
      onIteration: (i) => its.push(i), onEvaluate: (e) => evals.push(e),
    });
    // 120 / 25 -> 4 steps per epoch (the course drops the remainder), 12 in all.
    expect(trainer.iterPerEpoch).toBe(4);
    expect(trainer.maxIterations).toBe(12);
    const h = trainer.train();
    expect(h.trainLossList).toHaveLength(12);
    expect(its.map((i) => i.iteration)).toEqual([...Array(12).keys()]);
    expect(its.map((i) => i.epoch)).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
    expect(its.map((i) => i.loss)).toEqual(h.trainLossList);
    expect(h.trainAccList).toHaveLength(3);
    expect(h.testAccList).toHaveLength(3);
    // Evaluations at iterations 4, 8, 12 (epoch ends) and 5, 10 (evalEvery).
    expect(evals.map((e) => e.iteration)).toEqual([4, 5, 8, 10, 12]);
    expect(h.evaluations).toEqual(evals);
    // One line per epoch, then the course's closing lines with the accuracy on the whole test set.
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/epoch 1.*train acc.*test acc/);
    expect(lines[3]).toBe('=============== Final Test Accuracy ===============');
    expect(lines[4]).toBe(`test acc:${net.accuracy(test_.x, test_.t)}`);
    expect(h.finalTestAcc).toBe(net.accuracy(test_.x, test_.t));
    for (const e of evals) {
      expect(e.trainAcc).toBeGreaterThanOrEqual(0);
      expect(e.testAcc).toBeLessThanOrEqual(1);
    }
    // The reported accuracies are what the network gives on the whole sets.
    expect(h.testAccList[2]).toBeCloseTo(net.accuracy(test_.x, test_.t), 10);
    expect(h.trainAccList[2]).toBeCloseTo(net.accuracy(data.x, data.t), 10);
  });

  test('maxIterations, stop() from a hook and evaluateSampleNumPerEpoch', () => {
    const data = toyData(3, 100, 5, 2);
    setSeed(2);
    const net = new MultiLayerNet({ inputSize: 5, hiddenSizeList: [4], outputSize: 2 });
    const trainer = new Trainer(net, data.x, data.t, data.x, data.t, { epochs: 10, miniBatchSize: 10, maxIterations: 7 });
    expect(trainer.train().trainLossList).toHaveLength(7);

    const stopper: Trainer = new Trainer(net, data.x, data.t, data.x, data.t, {
      epochs: 10, miniBatchSize: 10, onIteration: (i) => { if (i.iteration === 12) stopper.stop(); },
    });
    expect(stopper.train().trainLossList).toHaveLength(13);

    // Accuracy on only the first 3 samples can only be a multiple of 1/3.
    const few = new Trainer(net, data.x, data.t, data.x, data.t, { epochs: 1, miniBatchSize: 50, evaluateSampleNumPerEpoch: 3 });
    const acc = few.train().testAccList[0];
    expect([0, 1, 2, 3].map((k) => k / 3).some((v) => Math.abs(v - acc) < 1e-12)).toBe(true);
  });

  test('an optimizer instance gets the network\'s own params and the gradients', () => {
    const data = toyData(4, 20, 4, 2);
    setSeed(3);
    const net = new MultiLayerNet({ inputSize: 4, hiddenSizeList: [3], outputSize: 2 });
    const seen: string[][] = [];
    const sgd = new SGD({ lr: 0.1 });
    const spy = { update: (p: Record<string, Tensor>, g: Record<string, Tensor>) => {
      expect(p.W1).toBe(net.params.W1);
      seen.push(Object.keys(g).sort());
      sgd.update(p, g);
    } };
    const before = net.params.W2.clone();
    new Trainer(net, data.x, data.t, data.x, data.t, { epochs: 1, miniBatchSize: 10, optimizer: spy as never }).train();
    expect(seen).toEqual([['W1', 'W2', 'b1', 'b2'], ['W1', 'W2', 'b1', 'b2']]);
    expect(net.params.W2.data).not.toEqual(before.data);
  });

  test('one-hot labels train too', () => {
    const data = toyData(5, 60, 4, 3);
    const onehot = Tensor.zeros([60, 3]);
    data.t.forEach((c, i) => { onehot.data[i * 3 + c] = 1; });
    setSeed(4);
    const net = new MultiLayerNet({ inputSize: 4, hiddenSizeList: [6], outputSize: 3 });
    const h = new Trainer(net, data.x, onehot, data.x, onehot, { epochs: 2, miniBatchSize: 20 }).train();
    expect(h.trainLossList).toHaveLength(6);
    expect(h.trainLossList.every(Number.isFinite)).toBe(true);
  });
});

describe('the reported loss', () => {
  test('with weight decay it is the data loss plus the penalty of the weights the step saw', () => {
    // The whole set is one batch, so the loss of each step can be recomputed here from the
    // parameters before it (the batch order only changes the rounding of the mean).
    const data = toyData(3, 60, 6, 3), test_ = toyData(4, 20, 6, 3);
    for (const [l2, l1] of [[0.3, 0], [0, 0.05], [0.2, 0.03]]) {
      setSeed(2);
      const net = new MultiLayerNet({ inputSize: 6, hiddenSizeList: [8, 5], outputSize: 3, weightDecayLambda: l2, l1Lambda: l1 });
      const copy = new MultiLayerNet({ inputSize: 6, hiddenSizeList: [8, 5], outputSize: 3 });
      const trainer = new Trainer(net, data.x, data.t, test_.x, test_.t, {
        epochs: 3, miniBatchSize: 60, optimizer: 'sgd', optimizerParam: { lr: 0.5 }, evalEvery: 0,
      });
      for (let step = 0; step < 3; step++) {
        let sq = 0, abs = 0;
        for (const [k, p] of Object.entries(net.params)) {
          copy.params[k].data.set(p.data);
          if (!k.startsWith('W')) continue;
          for (const v of p.data) { sq += v * v; abs += Math.abs(v); }
        }
        const want = copy.loss(data.x, data.t) + 0.5 * l2 * sq + l1 * abs;
        expect(trainer.trainStep()).toBeCloseTo(want, 5);
        expect(net.lastPenalty).toBeCloseTo(0.5 * l2 * sq + l1 * abs, 10);
      }
    }
  });
});

describe('bad options', () => {
  const data = toyData(6, 30, 4, 2);
  setSeed(5);
  const net = new MultiLayerNet({ inputSize: 4, hiddenSizeList: [3], outputSize: 2 });
  const make = (o: object): Trainer => new Trainer(net, data.x, data.t, data.x, data.t, o);

  test('numbers out of range are RangeErrors naming the option, wrong types TypeErrors', () => {
    expect(() => make({ epochs: 0 })).toThrow(RangeError);
    expect(() => make({ epochs: 0 })).toThrow(/epochs/);
    expect(() => make({ epochs: '3' })).toThrow(TypeError);
    expect(() => make({ miniBatchSize: 2.5 })).toThrow(/miniBatchSize/);
    expect(() => make({ evalEvery: -1 })).toThrow(/evalEvery/);
    expect(() => make({ maxIterations: 0 })).toThrow(/maxIterations/);
    expect(() => make({ evaluateSampleNumPerEpoch: 0 })).toThrow(/evaluateSampleNumPerEpoch/);
    expect(() => make({ optimizer: 'adamw' })).toThrow(/adamw/);
    expect(() => make({ optimizer: {} })).toThrow(TypeError);
    expect(() => new Trainer({} as never, data.x, data.t, data.x, data.t)).toThrow(/network/);
    expect(() => new Trainer(net, data.x, data.t, data.x, data.t, null as never)).toThrow(TypeError);
  });

  test('data that does not fit the network or its labels are ShapeErrors', () => {
    expect(() => new Trainer(net, Tensor.zeros([30, 5]), data.t, data.x, data.t)).toThrow(ShapeError);
    expect(() => new Trainer(net, data.x, data.t.subarray(0, 29), data.x, data.t)).toThrow(/tTrain.*29 labels/);
    expect(() => new Trainer(net, data.x, data.t, data.x, Int32Array.from(data.t).fill(2))).toThrow(/tTest.*\[0, 1\]/);
  });
});

describe('setSeed', () => {
  function run(initSeed: number, trainSeed: number): Float32Array[] {
    setSeed(initSeed);
    const data = toyData(7, 200, 10, 4);
    const net = new MultiLayerNetExtend({ inputSize: 10, hiddenSizeList: [16, 12], outputSize: 4, useDropout: true,
      dropoutRatio: 0.3, useBatchnorm: true });
    setSeed(trainSeed);
    new Trainer(net, data.x, data.t, data.x, data.t, { epochs: 2, miniBatchSize: 20, optimizer: 'momentum' }).train();
    return Object.keys(net.params).sort().map((k) => net.params[k].data.slice());
  }
  const same = (a: Float32Array[], b: Float32Array[]): boolean =>
    a.length === b.length && a.every((p, i) => Buffer.from(p.buffer).equals(Buffer.from(b[i].buffer)));

  test('the same seed gives bit-identical parameters after training with dropout; another seed does not', () => {
    const a = run(123, 7);
    expect(a.length).toBe(10);
    expect(same(a, run(123, 7))).toBe(true);
    // Other initial weights; same weights but other shuffles and dropout masks.
    expect(same(a, run(124, 7))).toBe(false);
    expect(same(a, run(123, 8))).toBe(false);
  });

  test('a bad seed is a clear error', () => {
    expect(() => setSeed(-1)).toThrow(RangeError);
    expect(() => setSeed('1' as never)).toThrow(TypeError);
  });
});
