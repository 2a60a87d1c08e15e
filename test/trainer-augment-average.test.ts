// SPDX-License-Identifier: MIT
// The Trainer's augmentShifts (shifted copies drawn afresh each time they are used) and
// averageWeights (an exponential moving average of the parameters): the batches checked image
// by image against shifts computed here, the average against a float64 average of the
// parameters of the same run without averaging, checkpoints that resume both bit for bit, and
// the options' errors.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { MultiLayerNet, readCheckpoint, setSeed, ShapeError, Tensor, Trainer, TrainerOptions, TrainHistory } from '../lib';
import { Rng } from './helpers/random';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-augavg-'));
afterAll(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

const SIDE = 6, PX = SIDE * SIDE, CLASSES = 4;

/** n square images (flattened rows) of values in [0.1, 1): no zero pixel, so every shift of every image is distinct. */
function images(seed: number, n: number): { x: Tensor; t: Int32Array } {
  const rng = new Rng(seed);
  const x = new Float32Array(n * PX);
  for (let i = 0; i < x.length; i++) x[i] = 0.1 + 0.9 * rng.uniform(0, 1);
  const t = new Int32Array(n);
  for (let i = 0; i < n; i++) t[i] = i % CLASSES;
  return { x: new Tensor(x, [n, PX]), t };
}

/** Image `img` of x moved by (dy, dx): pixel (i, j) is the image's (i - dy, j - dx), 0 outside. */
function shifted(x: Tensor, img: number, dy: number, dx: number): Float32Array {
  const out = new Float32Array(PX);
  for (let i = 0; i < SIDE; i++) {
    for (let j = 0; j < SIDE; j++) {
      const si = i - dy, sj = j - dx;
      if (si >= 0 && si < SIDE && sj >= 0 && sj < SIDE) out[i * SIDE + j] = x.data[img * PX + si * SIDE + sj];
    }
  }
  return out;
}

function net(seed: number): MultiLayerNet {
  setSeed(seed);
  return new MultiLayerNet({ inputSize: PX, hiddenSizeList: [10], outputSize: CLASSES, weightInitStd: 'he' });
}

/** Every batch the trainer trains on (copies of its rows and labels). */
function recordBatches(n: MultiLayerNet): { x: Float32Array; t: Int32Array }[] {
  const seen: { x: Float32Array; t: Int32Array }[] = [];
  const gradient = n.gradient.bind(n);
  n.gradient = ((x: Tensor, t: Int32Array) => {
    seen.push({ x: Float32Array.from(x.data), t: Int32Array.from(t) });
    return gradient(x, t);
  }) as typeof n.gradient;
  return seen;
}

const same = (a: ArrayLike<number>, b: ArrayLike<number>): boolean => {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return a.length === b.length;
};

describe('augmentShifts', () => {
  const data = images(1, 12);
  const held = images(2, 8);

  test('each epoch holds every image once as it is and `copies` times shifted afresh, with its label', () => {
    const n = net(3);
    const seen = recordBatches(n);
    setSeed(4);
    const trainer = new Trainer(n, data.x, data.t, held.x, held.t, {
      epochs: 2, miniBatchSize: 4, optimizer: 'sgd', augmentShifts: { copies: 2, maxShift: 2 }, evaluatePerEpoch: false,
    });
    // 12 images and 2 copies: 36 samples, 9 batches of 4 per epoch.
    expect(trainer.iterPerEpoch).toBe(9);
    trainer.train();
    expect(seen.length).toBe(18);
    const epochs: string[][] = [[], []];
    const widest = [0, 0];
    seen.forEach((b, step) => {
      for (let r = 0; r < 4; r++) {
        const row = b.x.subarray(r * PX, (r + 1) * PX);
        const found: string[] = [];
        for (let img = 0; img < 12; img++) {
          for (let dy = -2; dy <= 2; dy++) {
            for (let dx = -2; dx <= 2; dx++) if (same(row, shifted(data.x, img, dy, dx))) found.push(`${img} ${dy} ${dx}`);
          }
        }
        // Exactly one image and shift within maxShift makes the row, and the label is that image's.
        expect(found).toHaveLength(1);
        const [img, dy, dx] = found[0].split(' ').map(Number);
        expect(b.t[r]).toBe(data.t[img]);
        widest[0] = Math.max(widest[0], Math.abs(dy));
        widest[1] = Math.max(widest[1], Math.abs(dx));
        epochs[Math.floor(step / 9)].push(found[0]);
      }
    });
    for (const e of epochs) {
      const perImage = new Array(12).fill(0);
      let unshifted = 0;
      for (const s of e) {
        const [img, dy, dx] = s.split(' ').map(Number);
        perImage[img]++;
        if (dy === 0 && dx === 0) unshifted++;
      }
      expect(perImage).toEqual(new Array(12).fill(3));
      expect(unshifted).toBeGreaterThanOrEqual(12);
      expect(unshifted).toBeLessThan(36);
    }
    // New shifts in the second epoch, and the full range is drawn in both directions (48 draws of 5 values each).
    expect(epochs[0].slice().sort()).not.toEqual(epochs[1].slice().sort());
    expect(widest).toEqual([2, 2]);
  });

  test('the train accuracy is measured on the images as given; copies 0 trains on them alone', () => {
    const n = net(3);
    const seen = recordBatches(n);
    setSeed(4);
    const trainer = new Trainer(n, data.x, data.t, held.x, held.t, { epochs: 1, miniBatchSize: 4, augmentShifts: { copies: 0 } });
    expect(trainer.iterPerEpoch).toBe(3);
    const h = trainer.train();
    for (const b of seen) {
      for (let r = 0; r < 4; r++) {
        const row = b.x.subarray(r * PX, (r + 1) * PX);
        expect([...Array(12).keys()].some((img) => same(row, data.x.data.subarray(img * PX, (img + 1) * PX)))).toBe(true);
      }
    }
    expect(h.trainAccList[0]).toBe(n.accuracy(data.x, data.t));
  });

  test('bad settings name the option', () => {
    const make = (augmentShifts: unknown, x = data.x): Trainer =>
      new Trainer(net(1), x, data.t, held.x, held.t, { augmentShifts } as TrainerOptions);
    expect(() => make({ copies: -1 })).toThrow(/augmentShifts\.copies must be an integer >= 0/);
    expect(() => make({ copies: 1.5 })).toThrow(/augmentShifts\.copies/);
    expect(() => make({ copies: 1, maxShift: -2 })).toThrow(/augmentShifts\.maxShift/);
    expect(() => make({ copies: 1, shift: 2 })).toThrow(/unknown option 'shift'/);
    expect(() => make(3)).toThrow(TypeError);
    // Rows of 10 values are not square images.
    const flat = new Tensor(new Float32Array(12 * 10), [12, 10]);
    expect(() => new Trainer(new MultiLayerNet({ inputSize: 10, hiddenSizeList: [4], outputSize: CLASSES }), flat, data.t,
      new Tensor(new Float32Array(8 * 10), [8, 10]), held.t, { augmentShifts: { copies: 1 } })).toThrow(ShapeError);
  });
});

describe('averageWeights', () => {
  const data = images(5, 40);
  const held = images(6, 16);
  const OPTS: TrainerOptions = { epochs: 3, miniBatchSize: 8, optimizer: 'sgd', optimizerParam: { lr: 0.2 }, evaluatePerEpoch: false };
  const DECAY = 0.8, START = 5;

  /** The parameters after every step of the same run without averaging (index 0: before the first). */
  function trajectory(): Record<string, Float32Array>[] {
    const n = net(7);
    const after: Record<string, Float32Array>[] = [];
    const snap = (): void => { after.push(Object.fromEntries(Object.entries(n.params).map(([k, p]) => [k, Float32Array.from(p.data)]))); };
    snap();
    setSeed(8);
    new Trainer(n, data.x, data.t, held.x, held.t, { ...OPTS, onIteration: snap }).train();
    return after;
  }

  /** The average after `steps` steps in float64: the parameters before step START, then avg += (1 - DECAY)(p - avg). */
  function referenceAverage(traj: Record<string, Float32Array>[], steps: number): Record<string, Float64Array> {
    const avg: Record<string, Float64Array> = {};
    for (const [k, p] of Object.entries(traj[START])) avg[k] = Float64Array.from(p);
    for (let s = START + 1; s <= steps; s++) {
      for (const [k, p] of Object.entries(traj[s])) for (let i = 0; i < p.length; i++) avg[k][i] += (1 - DECAY) * (p[i] - avg[k][i]);
    }
    return avg;
  }

  function expectNear(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1e-3 + Math.abs(want[i])));
    if (worst > 2e-5) throw new Error(`${what}: off by ${worst} (relative)`);
  }

  test('a completed run ends with the average of its parameters; training itself is unchanged', () => {
    const traj = trajectory();
    const steps = traj.length - 1;
    expect(steps).toBe(15);
    const n = net(7);
    setSeed(8);
    const losses: number[] = [];
    const h = new Trainer(n, data.x, data.t, held.x, held.t, {
      ...OPTS, averageWeights: { decay: DECAY, start: START }, onIteration: (i) => { losses.push(i.loss); },
    }).train();
    const want = referenceAverage(traj, steps);
    for (const [k, p] of Object.entries(n.params)) {
      expectNear(p.data, want[k], k);
      // ... and not the last parameters: the average moved them.
      expect(same(p.data, traj[steps][k])).toBe(false);
    }
    // The same steps as without averaging: the average never feeds back into training.
    const plain = net(7);
    setSeed(8);
    const ref = new Trainer(plain, data.x, data.t, held.x, held.t, OPTS).train();
    expect(losses).toEqual(ref.trainLossList);
    // The final accuracy is the averaged network's.
    expect(h.finalTestAcc).toBe(n.accuracy(held.x, held.t));
  });

  test('evaluate() measures the averaged parameters and puts the trained ones back', () => {
    const traj = trajectory();
    const n = net(7);
    setSeed(8);
    const stopAt = 11;
    const trainer: Trainer = new Trainer(n, data.x, data.t, held.x, held.t, {
      ...OPTS, averageWeights: { decay: DECAY, start: START }, onIteration: (i) => { if (i.iteration === stopAt - 1) trainer.stop(); },
    });
    trainer.train();
    expect(trainer.iterationsDone).toBe(stopAt);
    const seen: Float32Array[] = [];
    const predict = n.predict.bind(n);
    n.predict = ((x: Tensor, train?: boolean) => { seen.push(Float32Array.from(n.params.W1.data)); return predict(x, train); }) as typeof n.predict;
    trainer.evaluate();
    expect(seen.length).toBeGreaterThan(0);
    const want = referenceAverage(traj, stopAt);
    for (const w of seen) expectNear(w, want.W1, 'W1 while evaluating');
    // Afterwards the network holds the trained parameters again, bit for bit.
    for (const [k, p] of Object.entries(n.params)) expect(same(p.data, traj[stopAt][k])).toBe(true);
    // applyAverage puts the average in for good, once.
    expect(trainer.applyAverage()).toBe(true);
    expectNear(n.params.W1.data, want.W1, 'W1 after applyAverage');
    expect(trainer.applyAverage()).toBe(false);
  });

  test('before `start` there is no average: evaluations and applyAverage see the trained parameters', () => {
    const n = net(7);
    setSeed(8);
    const trainer: Trainer = new Trainer(n, data.x, data.t, held.x, held.t, {
      ...OPTS, averageWeights: { decay: DECAY, start: 100 }, onIteration: (i) => { if (i.iteration === 3) trainer.stop(); },
    });
    trainer.train();
    const before = Float32Array.from(n.params.W1.data);
    expect(trainer.applyAverage()).toBe(false);
    expect(same(n.params.W1.data, before)).toBe(true);
  });

  test('bad settings name the option', () => {
    const make = (averageWeights: unknown): Trainer => new Trainer(net(1), data.x, data.t, held.x, held.t, { averageWeights } as TrainerOptions);
    expect(() => make({ decay: 1 })).toThrow(/averageWeights\.decay/);
    expect(() => make({ decay: -0.1 })).toThrow(/averageWeights\.decay/);
    expect(() => make({ decay: NaN })).toThrow(/averageWeights\.decay/);
    expect(() => make({ decay: '0.9' })).toThrow(TypeError);
    expect(() => make({ decay: 0.9, start: -1 })).toThrow(/averageWeights\.start/);
    expect(() => make({ start: 3 })).toThrow(/averageWeights\.decay/);
    expect(() => make({ decay: 0.9, from: 3 })).toThrow(/unknown option 'from'/);
  });
});

describe('checkpoints with both', () => {
  const data = images(9, 30);
  const held = images(10, 12);
  const OPTS: TrainerOptions = {
    epochs: 3, miniBatchSize: 6, optimizer: 'adam', optimizerParam: { lr: 0.01 }, evalEvery: 4,
    augmentShifts: { copies: 2 }, averageWeights: { decay: 0.9, start: 8 },
  };
  const bytes = (n: MultiLayerNet): string[] => Object.values(n.params).map((p) => Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength).toString('base64'));
  const history = (h: TrainHistory): unknown => { const { trainSeconds: _t, ...rest } = h; return JSON.parse(JSON.stringify(rest)); };

  /** The network of a run (weights seed 11, stream seed 12) stopped after `steps` steps, checkpointed to `file`. */
  function stopped(file: string, steps: number): MultiLayerNet {
    const n = net(11);
    setSeed(12);
    const t: Trainer = new Trainer(n, data.x, data.t, held.x, held.t, {
      ...OPTS, checkpointFile: file, onIteration: (i) => { if (i.iteration === steps - 1) t.stop(); },
    });
    t.train();
    expect(readCheckpoint(file).trainer.iteration).toBe(steps);
    return n;
  }

  test('a run stopped while averaging resumes bit-identically in a new trainer', () => {
    const ref = net(11);
    setSeed(12);
    const refHistory = new Trainer(ref, data.x, data.t, held.x, held.t, OPTS).train();

    const file = path.join(tmp, 'both.ckpt');
    const first = stopped(file, 21);
    expect(Object.keys(readCheckpoint(file).average ?? {}).sort()).toEqual(Object.keys(first.params).sort());

    const other = net(99);
    setSeed(555);
    const b = new Trainer(other, data.x, data.t, held.x, held.t, { ...OPTS, checkpointFile: file });
    b.loadCheckpoint(file);
    b.train();
    expect(bytes(other)).toEqual(bytes(ref));
    expect(history(b.history)).toEqual(history(refHistory));
  });

  test('a checkpoint is refused by a trainer with other shifts or other averaging, naming the option', () => {
    const file = path.join(tmp, 'refuse.ckpt');
    stopped(file, 11);
    const load = (extra: TrainerOptions): void => new Trainer(net(11), data.x, data.t, held.x, held.t, { ...OPTS, ...extra }).loadCheckpoint(file);
    expect(() => load({ averageWeights: undefined })).toThrow(/averageWeights/);
    expect(() => load({ averageWeights: { decay: 0.5, start: 8 } })).toThrow(/averageWeights/);
    expect(() => load({ augmentShifts: { copies: 2, maxShift: 1 } })).toThrow(/augmentShifts/);
    expect(() => load({ augmentShifts: { copies: 1 } })).toThrow(RangeError);
    expect(() => load({})).not.toThrow();
  });
});
