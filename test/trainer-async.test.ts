// SPDX-License-Identifier: MIT
// Trainer.run(): the same numbers as train(), the event loop turning between steps, cancelling
// with an AbortSignal, the course's evaluation timing, and training inside a worker thread
// (the documented example, run for real).
import { execFile } from 'child_process';
import * as path from 'path';
import { beforeAll, describe, expect, test } from '@jest/globals';
import { EvalInfo, MultiLayerNet, setSeed, Tensor, Trainer, TrainerOptions } from '../lib';
import { ensureBuilt, ROOT } from './helpers/dist';
import { Rng, toyData as toy } from './helpers/random';


const data = toy(41, 120, 6, 3);
const held = toy(42, 40, 6, 3);

function make(opts: TrainerOptions = {}): { net: MultiLayerNet; trainer: Trainer } {
  setSeed(9);
  const net = new MultiLayerNet({ inputSize: 6, hiddenSizeList: [10], outputSize: 3 });
  return { net, trainer: new Trainer(net, data.x, data.t, held.x, held.t, { epochs: 4, miniBatchSize: 10, optimizer: 'momentum', evalEvery: 5, ...opts }) };
}

describe('run()', () => {
  test('gives bit for bit what train() gives, history included', async () => {
    const a = make();
    const ha = a.trainer.train();
    const b = make();
    const hb = await b.trainer.run({ yieldEvery: 0 });
    for (const k of Object.keys(a.net.params)) expect(Array.from(b.net.params[k].data)).toEqual(Array.from(a.net.params[k].data));
    expect({ ...hb, trainSeconds: 0 }).toEqual({ ...ha, trainSeconds: 0 });
    expect(hb.trainLossList).toHaveLength(48);
  });

  test('the event loop turns between steps: an immediate queued at one step has run by the next; train() runs none', async () => {
    const seenRun: boolean[] = [];
    let fired = false;
    const r = make({ onIteration: (i) => {
      seenRun.push(fired);
      if (i.iteration === 0) setImmediate(() => { fired = true; });
    } });
    await r.trainer.run({ yieldEvery: 0 });
    expect(seenRun.slice(0, 3)).toEqual([false, true, true]);

    let firedSync = false;
    const seenSync: boolean[] = [];
    const s = make({ onIteration: (i) => {
      seenSync.push(firedSync);
      if (i.iteration === 0) setImmediate(() => { firedSync = true; });
    } });
    s.trainer.train();
    expect(seenSync.every((v) => v === false)).toBe(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(firedSync).toBe(true);
  });

  test('an abort ends the run after the current step and rejects with the reason; the state is that of the steps done', async () => {
    const controller = new AbortController();
    const { net, trainer } = make({ onIteration: (i) => { if (i.iteration === 6) controller.abort(new Error('enough')); } });
    await expect(trainer.run({ signal: controller.signal })).rejects.toThrow('enough');
    expect(trainer.iterationsDone).toBe(7);
    expect(trainer.history.trainLossList).toHaveLength(7);
    // The same seven steps by train() with maxIterations 7 give the same parameters.
    const ref = make({ maxIterations: 7 });
    ref.trainer.train();
    for (const k of Object.keys(net.params)) expect(Array.from(net.params[k].data)).toEqual(Array.from(ref.net.params[k].data));
  });

  test('an abort from outside (a timer) is seen between steps', async () => {
    const controller = new AbortController();
    const { trainer } = make({ epochs: 200, onIteration: (i) => { if (i.iteration === 3) setImmediate(() => controller.abort()); } });
    await expect(trainer.run({ signal: controller.signal, yieldEvery: 0 })).rejects.toMatchObject({ name: 'AbortError' });
    expect(trainer.iterationsDone).toBeGreaterThanOrEqual(4);
    expect(trainer.iterationsDone).toBeLessThan(trainer.maxIterations);
  });

  test('an already aborted signal does nothing; stop() before the run too; bad options are named', async () => {
    const { trainer } = make();
    await expect(trainer.run({ signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(trainer.iterationsDone).toBe(0);
    trainer.stop();
    await trainer.run();
    expect(trainer.iterationsDone).toBe(0);
    // The stop request was used up: the next run trains.
    await trainer.run();
    expect(trainer.iterationsDone).toBe(48);
    await expect(trainer.run({ signal: {} as AbortSignal })).rejects.toThrow(/signal must be an AbortSignal/);
    // One run at a time per trainer.
    const busy = make({ epochs: 50 }).trainer;
    const first = busy.run({ yieldEvery: 0 });
    await expect(busy.run()).rejects.toThrow(/already running/);
    expect(() => busy.train()).toThrow(/already running/);
    busy.stop();
    await first;
    await expect(trainer.run({ yieldEvery: -1 })).rejects.toThrow(/yieldEvery/);
    await expect(trainer.run({ every: 1 } as never)).rejects.toThrow(/unknown option 'every'/);
  });
});

describe("evaluation timing: 'end' (default) and 'start' (the course's)", () => {
  // 120 samples, batch 10: 12 steps per epoch, 48 in all.
  test("'start' evaluates after the first step of every epoch (iteration 0 included), then after the last step", () => {
    const evals: EvalInfo[] = [];
    const lines: string[] = [];
    const { trainer } = make({ evaluateAt: 'start', evalEvery: 0, verbose: true, log: (s) => lines.push(s), onEvaluate: (e) => evals.push(e) });
    const h = trainer.train();
    expect(evals.map((e) => e.iteration)).toEqual([1, 13, 25, 37, 48]);
    expect(evals.map((e) => e.epoch)).toEqual([1, 2, 3, 4, 4]);
    // The per-epoch lists are the course's: one entry per epoch, the first after iteration 0.
    expect(h.trainAccList).toEqual(evals.slice(0, 4).map((e) => e.trainAcc));
    expect(lines.filter((l) => l.startsWith('=== epoch'))).toHaveLength(4);
    expect(lines[lines.length - 2]).toBe('=============== Final Test Accuracy ===============');
  });

  test("'start' with evalEvery: after the steps with index 0, 10, 20, ...; 'end' after 10, 20, ...; evaluateFirst adds iteration 0", () => {
    const at = (opts: TrainerOptions): number[] => make({ evaluatePerEpoch: false, ...opts }).trainer.train().evaluations.map((e) => e.iteration);
    expect(at({ evaluateAt: 'start', evalEvery: 10 })).toEqual([1, 11, 21, 31, 41, 48]);
    expect(at({ evaluateAt: 'end', evalEvery: 10 })).toEqual([10, 20, 30, 40, 48]);
    expect(at({ evaluateAt: 'end', evalEvery: 10, evaluateFirst: true })).toEqual([0, 10, 20, 30, 40, 48]);
    expect(() => make({ evaluateAt: 'middle' as never })).toThrow(/evaluateAt must be 'end' or 'start'/);
  });
});

describe('training in a worker thread', () => {
  const EXAMPLE = path.join(ROOT, 'examples', 'train-in-worker.js');
  beforeAll(() => ensureBuilt(path.join(ROOT, 'dist', 'lib', 'index.js')), 120000);

  test('the example trains SimpleConvNet in a worker, sends progress, and the main thread keeps running', async () => {
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [EXAMPLE, '100'], { cwd: ROOT }, (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout)));
    });
    expect(out).toMatch(/^iteration 50\/100 +loss [\d.]+$/m);
    expect(out).toMatch(/^evaluated at iteration 100: train 0\.\d+, test 0\.\d+$/m);
    const ticks = Number(/the main thread's 10 ms timer ticked (\d+) times/.exec(out)![1]);
    expect(ticks).toBeGreaterThan(0);
    expect(out).toMatch(/^done: 100 iterations in the worker/m);
    const acc = Number(/test accuracy of the model sent back: ([\d.]+)/.exec(out)![1]);
    expect(acc).toBeGreaterThan(0.5);
  });
});
