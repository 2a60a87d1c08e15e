// SPDX-License-Identifier: MIT
// NaN and infinity: a diverging run stops with an error naming the iteration (and, with
// checkFinite: 'layers', the layer), before the bad update; data holding NaN is refused before
// training; parameter files holding NaN are refused unless asked for.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describe, expect, test } from '@jest/globals';
import { Affine, Layer, MultiLayerNet, NonFiniteError, Relu, Sequential, setSeed, Tensor, Trainer } from '../lib';
import { Rng, toyData as toy } from './helpers/random';


const data = toy(31, 60, 10, 4);

/** AdaGrad at lr 1e30 moves every weight with a non-zero gradient by about 1e30 in its first update. */
function diverging(checkFinite?: 'loss' | 'layers'): { net: MultiLayerNet; trainer: Trainer; afterFirst: Record<string, Float32Array> } {
  setSeed(4);
  const net = new MultiLayerNet({ inputSize: 10, hiddenSizeList: [16], outputSize: 4 });
  const afterFirst: Record<string, Float32Array> = {};
  const trainer = new Trainer(net, data.x, data.t, data.x, data.t, {
    epochs: 3, miniBatchSize: 20, optimizer: 'adagrad', optimizerParam: { lr: 1e30 }, checkFinite,
    onIteration: (i) => { if (i.iteration === 0) for (const [k, p] of Object.entries(net.params)) afterFirst[k] = p.data.slice(); },
  });
  return { net, trainer, afterFirst };
}

function caught(f: () => unknown): NonFiniteError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(NonFiniteError);
    return err as NonFiniteError;
  }
  throw new Error('expected a NonFiniteError');
}

describe('a diverging run', () => {
  test('stops at the first non-finite loss with its iteration, before updating the parameters with it', () => {
    const { net, trainer, afterFirst } = diverging();
    const err = caught(() => trainer.train());
    // Step 0 ends with weights near 1e30 (still finite); step 1's scores overflow float32.
    expect(err.iteration).toBe(1);
    expect(err.epoch).toBe(1);
    expect(Number.isFinite(err.loss)).toBe(false);
    expect(err.message).toMatch(/^Trainer: the loss is (NaN|Infinity) at iteration 1 \(0-based, epoch 1\)/);
    expect(err.message).toMatch(/checkFinite: 'layers'/);
    expect(trainer.history.trainLossList).toHaveLength(1);
    expect(trainer.iterationsDone).toBe(1);
    for (const [k, p] of Object.entries(net.params)) expect(Array.from(p.data)).toEqual(Array.from(afterFirst[k]));
    for (const p of Object.values(net.params)) expect(p.data.every(Number.isFinite)).toBe(true);
  });

  test("checkFinite: 'layers' names the layer: the second Affine, whose 16 inputs near 1e31 times weights near 1e30 overflow", () => {
    const { trainer } = diverging('layers');
    const err = caught(() => trainer.train());
    expect(err.iteration).toBe(1);
    expect(err.source).toEqual({ kind: 'output', layer: 2, layerName: 'Affine' });
    expect(err.message).toMatch(/first non-finite output came from layer 2 \(Affine\)/);
  });

  test('the async run rejects with the same error', async () => {
    const { trainer } = diverging();
    await expect(trainer.run()).rejects.toMatchObject({ name: 'NonFiniteError', iteration: 1 });
  });

  test("a parameter that went NaN is named ('loss' mode finds it when the loss goes NaN)", () => {
    setSeed(5);
    const net = new MultiLayerNet({ inputSize: 10, hiddenSizeList: [8], outputSize: 4 });
    net.params.W2.data[5] = NaN;
    const err = caught(() => new Trainer(net, data.x, data.t, data.x, data.t, { epochs: 1, miniBatchSize: 20 }).train());
    expect(err.iteration).toBe(0);
    expect(err.source).toEqual({ kind: 'parameter', name: 'W2' });
  });

  test("a NaN gradient with a finite loss: 'layers' stops before the update and names the layer, 'loss' notices a step later", () => {
    /** Passes values forward unchanged and sends NaN back: a layer with a broken backward. */
    class Poison implements Layer {
      readonly name = 'Poison';
      readonly params: Record<string, Tensor> = {};
      readonly grads: Record<string, Tensor> = {};
      forward(x: Tensor): Tensor { return x; }
      backward(dout: Tensor): Tensor { return new Tensor(new Float32Array(dout.data.length).fill(NaN), dout.shape); }
      outputShape(s: readonly number[]): number[] { return [...s]; }
    }
    const make = (): Sequential => {
      setSeed(6);
      return new Sequential([
        new Affine(new Tensor(new Rng(1).floats(10 * 8), [10, 8]), Tensor.zeros([8])), new Poison(), new Relu(),
        new Affine(new Tensor(new Rng(2).floats(8 * 4), [8, 4]), Tensor.zeros([4])),
      ]);
    };
    const net = make();
    const W1 = net.params.W1.data.slice();
    const t = new Trainer(net, data.x, data.t, data.x, data.t, { epochs: 1, miniBatchSize: 20, checkFinite: 'layers' });
    const err = caught(() => t.train());
    expect(err.iteration).toBe(0);
    expect(Number.isFinite(err.loss)).toBe(true);
    expect(err.source).toEqual({ kind: 'gradient', layer: 1, layerName: 'Poison' });
    expect(err.message).toMatch(/a gradient is not finite .*first non-finite gradient came from layer 1 \(Poison\)/);
    expect(Array.from(net.params.W1.data)).toEqual(Array.from(W1));

    const loose = make();
    const err2 = caught(() => new Trainer(loose, data.x, data.t, data.x, data.t, { epochs: 1, miniBatchSize: 20 }).train());
    expect(err2.iteration).toBe(1);
    expect(err2.source).toEqual({ kind: 'parameter', name: 'W1' });
  });
});

describe('non-finite data and files', () => {
  test('training data holding NaN is refused before training, naming the sample', () => {
    const x = new Tensor(data.x.data.slice(), data.x.shape);
    x.data[7 * 10 + 3] = NaN;
    const net = new MultiLayerNet({ inputSize: 10, hiddenSizeList: [8], outputSize: 4 });
    expect(() => new Trainer(net, x, data.t, data.x, data.t)).toThrow(/xTrain holds a non-finite value \(NaN\) in sample 7, element 3/);
    const y = new Tensor(data.x.data.slice(), data.x.shape);
    y.data[0] = -Infinity;
    expect(() => new Trainer(net, data.x, data.t, y, data.t)).toThrow(/xTest holds a non-finite value \(-Infinity\) in sample 0/);
  });

  test('loadParams refuses NaN and infinity unless allowNonFinite', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-nan-'));
    const file = path.join(dir, 'nan.safetensors');
    const net = new MultiLayerNet({ inputSize: 10, hiddenSizeList: [8], outputSize: 4 });
    net.params.W1.data[0] = NaN;
    net.params.W1.data[1] = Infinity;
    net.params.b2.data[0] = NaN;
    net.saveParams(file);
    const other = new MultiLayerNet({ inputSize: 10, hiddenSizeList: [8], outputSize: 4 });
    const before = other.params.W1.data.slice();
    expect(() => other.loadParams(file)).toThrow(/nan\.safetensors: tensor 'W1' holds 2 non-finite values \(NaN or infinity\) of 80/);
    expect(other.params.W1.data).toEqual(before);
    other.loadParams(file, { allowNonFinite: true });
    expect(Number.isNaN(other.params.W1.data[0])).toBe(true);
    expect(other.params.W1.data[1]).toBe(Infinity);
    expect(() => other.loadParams(file, { allowNonFinite: 'yes' } as never)).toThrow(TypeError);
    expect(() => other.loadParams(file, { allowNaN: true } as never)).toThrow(/unknown option 'allowNaN'.*allowNonFinite/);
    fs.rmSync(dir, { recursive: true });
  });
});
