// SPDX-License-Identifier: MIT
// Checkpoints in the library: a run stopped (or aborted) mid-epoch and resumed from its file by
// a freshly built trainer ends bit-identical to an uninterrupted run, history included; the
// file is refused when it does not fit; a diverged network never replaces a good checkpoint;
// a full disk is found before training and every I/O error names its path.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import {
  getRandomState, MultiLayerNetExtend, NonFiniteError, readCheckpoint, setRandomState, setSeed, stepDecay, Tensor,
  Trainer, TrainerOptions, TrainHistory,
} from '../lib';
import { random } from '../lib/core/random';
import { ensureFreeSpace } from '../lib/train/checkpoint';
import { Rng, toyData as toy } from './helpers/random';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-ckpt-'));
afterAll(() => { fs.rmSync(tmp, { recursive: true, force: true }); });


const data = toy(21, 200, 10, 4);
const held = toy(22, 60, 10, 4);

/** Dropout, BatchNorm (running statistics), Adam (two moments and a step count) and an lr schedule: every kind of state. */
function build(initSeed: number): MultiLayerNetExtend {
  setSeed(initSeed);
  return new MultiLayerNetExtend({ inputSize: 10, hiddenSizeList: [16, 12], outputSize: 4, useDropout: true, dropoutRatio: 0.3, useBatchnorm: true });
}

// 200 samples in batches of 15: 13 steps per epoch (the remainder dropped), 39 in all.
const OPTS: TrainerOptions = {
  epochs: 3, miniBatchSize: 15, optimizer: 'adam', optimizerParam: { lr: 0.01 }, lrSchedule: stepDecay({ milestones: [20] }),
  evalEvery: 7, evaluateFirst: true,
};

function trainer(net: MultiLayerNetExtend, extra: TrainerOptions = {}): Trainer {
  return new Trainer(net, data.x, data.t, held.x, held.t, { ...OPTS, ...extra });
}

function stateBytes(net: MultiLayerNetExtend): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, t] of Object.entries(net.stateTensors())) out[k] = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64');
  return out;
}

function withoutTime(h: TrainHistory): Omit<TrainHistory, 'trainSeconds'> {
  const { trainSeconds: _t, ...rest } = h;
  return JSON.parse(JSON.stringify(rest));
}

function reference(): { state: Record<string, string>; history: Omit<TrainHistory, 'trainSeconds'>; next: number } {
  const net = build(1);
  setSeed(7);
  const h = trainer(net).train();
  return { state: stateBytes(net), history: withoutTime(h), next: random() };
}

describe('resume', () => {
  const ref = reference();

  test('stopped mid-epoch, resumed by a new trainer with other weights and another random state: bit-identical', () => {
    const file = path.join(tmp, 'stop.ckpt');
    const net = build(1);
    setSeed(7);
    const first = trainer(net, { checkpointFile: file, onIteration: (i) => { if (i.iteration === 16) first.stop(); } });
    first.train();
    expect(first.iterationsDone).toBe(17);
    expect(readCheckpoint(file).trainer.iteration).toBe(17);

    const other = build(99);
    setSeed(12345);
    const second = trainer(other, { checkpointFile: file });
    second.loadCheckpoint(file);
    expect(second.iterationsDone).toBe(17);
    second.train();
    expect(stateBytes(other)).toEqual(ref.state);
    expect(withoutTime(second.history)).toEqual(ref.history);
    // The random stream is where the uninterrupted run left it too.
    expect(random()).toBe(ref.next);
  });

  test('aborted through an AbortSignal during run(), resumed with run(): bit-identical', async () => {
    const file = path.join(tmp, 'abort.ckpt');
    const net = build(1);
    setSeed(7);
    const controller = new AbortController();
    const t = trainer(net, { checkpointFile: file, onIteration: (i) => { if (i.iteration === 22) controller.abort(); } });
    await expect(t.run({ signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(t.iterationsDone).toBe(23);
    expect(readCheckpoint(file).trainer.iteration).toBe(23);

    const other = build(5);
    const again = trainer(other, { checkpointFile: file });
    again.loadCheckpoint(file);
    await again.run();
    expect(stateBytes(other)).toEqual(ref.state);
    expect(withoutTime(again.history)).toEqual(ref.history);
  });

  test('checkpoints before the first step, every checkpointEvery steps and at the end', () => {
    const file = path.join(tmp, 'every.ckpt');
    const at: number[] = [];
    const net = build(1);
    trainer(net, { checkpointFile: file, checkpointEvery: 10, onCheckpoint: (f, it) => { expect(f).toBe(file); at.push(it); } }).train();
    expect(at).toEqual([0, 10, 20, 30, 39]);
    // The default is once per epoch.
    const per: number[] = [];
    trainer(build(1), { checkpointFile: path.join(tmp, 'epoch.ckpt'), onCheckpoint: (_f, it) => per.push(it) }).train();
    expect(per).toEqual([0, 13, 26, 39]);
  });

  test('a resumed finished run does no more steps; a longer maxIterations continues it', () => {
    const file = path.join(tmp, 'done.ckpt');
    trainer(build(1), { checkpointFile: file }).train();
    const t = trainer(build(2), { checkpointFile: file });
    t.loadCheckpoint(file);
    const before = t.history.trainLossList.length;
    t.train();
    expect(t.history.trainLossList.length).toBe(before);
    const longer = trainer(build(2), { checkpointFile: file, maxIterations: 45 });
    longer.loadCheckpoint(file);
    longer.train();
    expect(longer.iterationsDone).toBe(45);
  });
});

describe('what a checkpoint refuses', () => {
  const file = path.join(tmp, 'base.ckpt');
  beforeAll(() => { trainer(build(1), { checkpointFile: file, maxIterations: 5 }).train(); });

  test('another batch size, other data, another optimizer, a file that is not a checkpoint', () => {
    expect(() => trainer(build(1), { miniBatchSize: 20 }).loadCheckpoint(file)).toThrow(/miniBatchSize 15.*20/);
    const changed = new Tensor(data.x.data.slice(), data.x.shape);
    changed.data[7] += 0.5;
    expect(() => new Trainer(build(1), changed, data.t, held.x, held.t, OPTS).loadCheckpoint(file)).toThrow(/other data/);
    expect(() => trainer(build(1), { optimizer: 'sgd' }).loadCheckpoint(file)).toThrow(/optimizer "adam".*"sgd"/);
    const model = path.join(tmp, 'model.safetensors');
    build(1).saveParams(model);
    expect(() => trainer(build(1)).loadCheckpoint(model)).toThrow(/model\.safetensors: not a blasnet checkpoint/);
    expect(() => trainer(build(1)).loadCheckpoint(path.join(tmp, 'nope.ckpt'))).toThrow(/nope\.ckpt: file not found/);
    const cut = path.join(tmp, 'cut.ckpt');
    fs.writeFileSync(cut, fs.readFileSync(file).subarray(0, 300));
    expect(() => trainer(build(1)).loadCheckpoint(cut)).toThrow(/cut\.ckpt/);
  });

  test('a network with a non-finite parameter is not checkpointed: the good file stays as it was', () => {
    const good = fs.readFileSync(file);
    const net = build(1);
    const t = trainer(net, { checkpointFile: file });
    t.loadCheckpoint(file);
    net.params.W2.data[3] = NaN;
    expect(() => t.saveCheckpoint()).toThrow(NonFiniteError);
    expect(() => t.saveCheckpoint()).toThrow(/parameter W2 holds 1 non-finite/);
    expect(fs.readFileSync(file).equals(good)).toBe(true);
  });

  test('checkpoints need an optimizer whose state can be saved', () => {
    const custom = { name: 'custom', update: () => {} };
    expect(() => trainer(build(1), { optimizer: custom, optimizerParam: undefined, lrSchedule: undefined, checkpointFile: file })).toThrow(/state\(\) and loadState\(\)/);
    expect(() => trainer(build(1), { checkpointFile: '' })).toThrow(/checkpointFile/);
  });
});

describe('the random stream', () => {
  test('setRandomState(getRandomState()) repeats the draws, normal pairs included', () => {
    setSeed(3);
    const n = new Float32Array(3);
    require('../lib/core/random').fillRandn(n);
    const s = getRandomState();
    const a = [random(), random()];
    const spare = require('../lib/core/random').standardNormal();
    setRandomState(JSON.parse(JSON.stringify(s)));
    expect([random(), random()]).toEqual(a);
    expect(require('../lib/core/random').standardNormal()).toBe(spare);
    expect(() => setRandomState({ words: [0, 0, 0, 0], spareNormal: null })).toThrow(/not all be 0/);
    expect(() => setRandomState({ words: [1, 2, 3], spareNormal: null } as never)).toThrow(/four unsigned/);
  });
});

describe('files and disks', () => {
  test('free space is checked: a need larger than the disk names the folder', () => {
    expect(() => ensureFreeSpace(tmp, 2 ** 62, 'a test')).toThrow(new RegExp(`${tmp.replace(/[/\\]/g, '.')}: [\\d.]+ MiB free, but a test needs about`));
    expect(() => ensureFreeSpace(tmp, 1, 'a test')).not.toThrow();
    expect(() => ensureFreeSpace(path.join(tmp, 'missing', 'dir'), 1, 'a test')).toThrow(/missing.dir: cannot be checked for free space: no such file or folder \(ENOENT\)/);
  });
});

/** A 64 KiB tmpfs, when this process may mount one (root on Linux); null otherwise. */
function tinyDisk(): string | null {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-tiny-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'pipe' });
    return dir;
  } catch {
    fs.rmdirSync(dir);
    return null;
  }
}

const tiny = tinyDisk();
afterAll(() => {
  if (tiny) {
    execFileSync('umount', [tiny]);
    fs.rmdirSync(tiny);
  }
});

(tiny ? describe : describe.skip)('a full disk (a 64 KiB tmpfs; needs root)', () => {
  test('run() refuses to start when a checkpoint would not fit, naming the folder; nothing is trained', async () => {
    // 10 x 2000 + 2000 x 4 weights with two Adam moments: about 330 KB per checkpoint.
    const big = new MultiLayerNetExtend({ inputSize: 10, hiddenSizeList: [2000], outputSize: 4 });
    const t = new Trainer(big, data.x, data.t, held.x, held.t, { ...OPTS, lrSchedule: undefined, checkpointFile: path.join(tiny!, 'run.ckpt') });
    await expect(t.run()).rejects.toThrow(new RegExp(`${tiny}: [\\d.]+ MiB free, but a checkpoint of this run`));
    expect(t.iterationsDone).toBe(0);
    expect(fs.readdirSync(tiny!)).toEqual([]);
  });

  test('a checkpoint or model write that runs out of space names the file and leaves no temporary file', () => {
    const big = new MultiLayerNetExtend({ inputSize: 10, hiddenSizeList: [2000], outputSize: 4 });
    const t = new Trainer(big, data.x, data.t, held.x, held.t, { ...OPTS, lrSchedule: undefined });
    const file = path.join(tiny!, 'direct.ckpt');
    expect(() => t.saveCheckpoint(file)).toThrow(new RegExp(`${file}: .*the disk is full .*ENOSPC`));
    const model = path.join(tiny!, 'model.safetensors');
    expect(() => big.saveParams(model)).toThrow(new RegExp(`${model}: .*the disk is full .*ENOSPC`));
    expect(fs.readdirSync(tiny!)).toEqual([]);
  });
});
