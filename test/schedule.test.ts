// SPDX-License-Identifier: MIT
// Learning rates that change during training: settable optimizer.lr keeps every optimizer's
// state (Adam's moments and step count), schedules against hand-computed sequences, and the
// Trainer applying a schedule equal to a hand-written loop that sets lr itself.
import { describe, expect, test } from '@jest/globals';
import {
  Adam, exponentialDecay, IterationInfo, Momentum, MultiLayerNet, optimizerFromName, SGD, setSeed, stepDecay, Tensor, Trainer,
} from '../lib';
import { Rng, toyData as toy } from './helpers/random';


const bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('schedules', () => {
  test('stepDecay with milestones: the rate of each iteration, by hand', () => {
    const s = stepDecay({ milestones: [3, 5], factor: 0.5 });
    // Iterations 0-2 at 0.8, 3-4 at 0.4, from 5 on 0.2 (all exact in binary).
    expect([0, 1, 2, 3, 4, 5, 6, 100].map((i) => s(i, 0.8))).toEqual([0.8, 0.8, 0.8, 0.4, 0.4, 0.2, 0.2, 0.2]);
  });

  test('stepDecay every n and the default factor 0.1', () => {
    const s = stepDecay({ every: 4, factor: 0.25 });
    expect([0, 3, 4, 7, 8, 12].map((i) => s(i, 2))).toEqual([2, 2, 0.5, 0.5, 0.125, 0.03125]);
    expect(stepDecay({ milestones: [2] })(2, 0.001)).toBe(0.001 * 0.1);
    expect(stepDecay({ milestones: [2] })(1, 0.001)).toBe(0.001);
  });

  test('exponentialDecay is base * factor^iteration', () => {
    const s = exponentialDecay({ factor: 0.5 });
    expect([0, 1, 2, 10].map((i) => s(i, 3))).toEqual([3, 1.5, 0.75, 3 / 1024]);
  });

  test('bad options are named', () => {
    expect(() => stepDecay({})).toThrow(/exactly one of milestones.*neither/);
    expect(() => stepDecay({ milestones: [1], every: 2 })).toThrow(/both/);
    expect(() => stepDecay({ milestones: [5, 5] })).toThrow(/increase/);
    expect(() => stepDecay({ milestones: [-1] })).toThrow(/milestones\[0\]/);
    expect(() => stepDecay({ every: 0 })).toThrow(RangeError);
    expect(() => stepDecay({ every: 2, factor: 1.5 })).toThrow(/factor/);
    expect(() => stepDecay({ every: 2, gamma: 0.1 } as never)).toThrow(/unknown option 'gamma'/);
    expect(() => exponentialDecay({ factor: 0 })).toThrow(/factor/);
  });
});

describe('settable learning rates keep the optimizer state', () => {
  test('every built-in optimizer accepts a new lr and rejects a bad one', () => {
    for (const name of ['sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam']) {
      const opt = optimizerFromName(name, { lr: 0.5 });
      opt.lr = 0.25;
      expect(opt.lr).toBe(0.25);
      expect(() => { opt.lr = 0; }).toThrow(/lr/);
      expect(() => { opt.lr = NaN; }).toThrow(RangeError);
      expect(opt.lr).toBe(0.25);
    }
  });

  test('Adam after an lr change continues from its moments and step count (the formula by hand)', () => {
    const g1 = [0.5, -1], g2 = [0.25, 2];
    const p = new Tensor(Float32Array.from([1, 2]), [2]);
    const opt = new Adam({ lr: 0.1 });
    opt.update({ p }, { p: new Tensor(Float32Array.from(g1), [2]) });
    opt.lr = 0.01;
    opt.update({ p }, { p: new Tensor(Float32Array.from(g2), [2]) });
    expect(opt.state().iter).toBe(2);
    // The course's Adam, in double, rounded to float32 where blasnet stores: m, v and p.
    const f = Math.fround;
    const want = [1, 2].map((p0, i) => {
      let m = f(0.1 * g1[i]), v = f(0.001 * g1[i] * g1[i]);
      const p1 = f(p0 - (0.1 * Math.sqrt(1 - 0.999) / (1 - 0.9)) * m / (Math.sqrt(v) + 1e-7));
      m = f(m + 0.1 * (g2[i] - m));
      v = f(v + 0.001 * (g2[i] * g2[i] - v));
      return f(p1 - (0.01 * Math.sqrt(1 - 0.999 ** 2) / (1 - 0.9 ** 2)) * m / (Math.sqrt(v) + 1e-7));
    });
    expect(Array.from(p.data)).toEqual(want);
    // A fresh Adam for the second step (what the command line did before) lands elsewhere.
    const q = new Tensor(Float32Array.from([1, 2]), [2]);
    new Adam({ lr: 0.1 }).update({ p: q }, { p: new Tensor(Float32Array.from(g1), [2]) });
    new Adam({ lr: 0.01 }).update({ p: q }, { p: new Tensor(Float32Array.from(g2), [2]) });
    expect(Array.from(q.data)).not.toEqual(want);
  });

  test('Momentum keeps its velocity across an lr change', () => {
    const p = new Tensor(Float32Array.from([0]), [1]);
    const opt = new Momentum({ lr: 0.5, momentum: 0.5 });
    opt.update({ p }, { p: new Tensor(Float32Array.from([1]), [1]) }); // v = -0.5, p = -0.5
    opt.lr = 0.25;
    opt.update({ p }, { p: new Tensor(Float32Array.from([1]), [1]) }); // v = -0.25 - 0.25 = -0.5, p = -1
    expect(Array.from(p.data)).toEqual([-1]);
    expect(Array.from(opt.state().slots.v.p.data)).toEqual([-0.5]);
  });
});

describe('Trainer with lrSchedule', () => {
  test('the rate of every update follows the schedule, and the result equals a loop that sets lr by hand', () => {
    const data = toy(11, 60, 5, 3);
    const schedule = stepDecay({ milestones: [4, 7], factor: 0.5 });
    setSeed(3);
    const net = new MultiLayerNet({ inputSize: 5, hiddenSizeList: [6], outputSize: 3 });
    const seen: IterationInfo[] = [];
    const trainer = new Trainer(net, data.x, data.t, data.x, data.t, {
      epochs: 2, miniBatchSize: 10, optimizer: 'adam', optimizerParam: { lr: 0.04 }, lrSchedule: schedule,
      onIteration: (i) => seen.push(i),
    });
    trainer.train();
    expect(seen.map((i) => i.lr)).toEqual([0.04, 0.04, 0.04, 0.04, 0.02, 0.02, 0.02, 0.01, 0.01, 0.01, 0.01, 0.01]);
    expect((trainer.optimizer as Adam).state().iter).toBe(12);

    // The same run by hand: same seed, same shuffles, one Adam whose lr is set before each update.
    setSeed(3);
    const ref = new MultiLayerNet({ inputSize: 5, hiddenSizeList: [6], outputSize: 3 });
    const opt = new Adam({ lr: 0.04 });
    const byHand = new Trainer(ref, data.x, data.t, data.x, data.t, {
      epochs: 2, miniBatchSize: 10, optimizer: {
        name: 'by-hand', update: (p, g) => {
          opt.lr = [0.04, 0.04, 0.04, 0.04, 0.02, 0.02, 0.02, 0.01, 0.01, 0.01, 0.01, 0.01][opt.state().iter];
          opt.update(p, g);
        },
      },
    });
    byHand.train();
    for (const k of Object.keys(net.params)) expect(bytes(net.params[k].data).equals(bytes(ref.params[k].data))).toBe(true);
  });

  test('a schedule needs an optimizer with a numeric lr', () => {
    const data = toy(12, 20, 4, 2);
    const net = new MultiLayerNet({ inputSize: 4, hiddenSizeList: [3], outputSize: 2 });
    const custom = { name: 'custom', update: () => {} };
    expect(() => new Trainer(net, data.x, data.t, data.x, data.t, { optimizer: custom, lrSchedule: stepDecay({ every: 2 }) })).toThrow(/lrSchedule needs an optimizer/);
    expect(() => new Trainer(net, data.x, data.t, data.x, data.t, { lrSchedule: 0.1 as never })).toThrow(/lrSchedule must be a function/);
    expect(new SGD({ lr: 0.3 }).lr).toBe(0.3);
  });
});
