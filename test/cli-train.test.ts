// SPDX-License-Identifier: MIT
// `blasnet train` never loses work: the built bin is stopped by SIGINT, SIGTERM and SIGHUP
// (also after its last step) and resumed with --resume to the very parameters of an
// uninterrupted run; it is killed with SIGKILL at random moments and its folder always holds a
// loadable checkpoint or none, never half of one, and a retry is never blocked by leftovers.
// A diverging run exits non-zero keeping its last good checkpoint, and eval refuses NaN models.
import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { main } from '../lib/cli/main';
import { Io } from '../lib/cli/common';
import { readSafetensors } from '../lib/io/safetensors';
import { readCheckpoint } from '../lib/train/checkpoint';
import { MultiLayerNet } from '../lib/nn/presets';
import { loadMnist } from '../lib/data';
import { ensureBuilt, ROOT } from './helpers/dist';
import { Rng } from './helpers/random';

const BIN = path.join(ROOT, 'dist', 'lib', 'cli', 'main.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-train-'));
beforeAll(() => ensureBuilt(BIN), 120000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// A small run: the MLP on the built-in digits, 160 steps per epoch with one shifted copy.
const RUN = ['train', '--net', 'mlp', '--epochs', '3', '--augment', '1', '--eval-samples', '200', '--seed', '4'];

interface Ran { code: number | null; signal: NodeJS.Signals | null; out: string; err: string }

/** Spawns the bin; `onOut` sees stdout as it grows and may act on the child. */
function spawnBin(args: string[], onOut?: (all: string, child: ChildProcess) => void): { child: ChildProcess; done: Promise<Ran> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); onOut?.(out, child); });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const done = new Promise<Ran>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, out, err })));
  return { child, done };
}

/** The tensors of a saved model, as base64 per name. */
function params(file: string): Record<string, string> {
  const { tensors } = readSafetensors(file);
  const out: Record<string, string> = {};
  for (const [k, t] of Object.entries(tensors)) out[k] = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64');
  return out;
}

let reference: Record<string, string>;
beforeAll(async () => {
  const r = await spawnBin([...RUN, '--out', path.join(tmp, 'reference')]).done;
  expect(r.code).toBe(0);
  reference = params(path.join(tmp, 'reference', 'model.safetensors'));
}, 120000);

test("the quick start's defaults: SimpleConvNet, Adam lr 0.003, 2 shifted copies per epoch, 4 epochs; the rate is saved for --resume", async () => {
  const dir = path.join(tmp, 'defaults');
  const r = await spawnBin(['train', '--max-iterations', '2', '--eval-samples', '20', '--out', dir]).done;
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/^training simple-convnet on the built-in digits \(8000 train \+ 2 freshly shifted copies each per epoch, 2000 test\): adam lr 0\.003, batch 100, 2 iterations \(0\.0 epochs\), seed 1$/m);
  const results = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8'));
  expect(results.settings).toMatchObject({ net: 'simple-convnet', optimizer: 'adam', lr: 0.003, augment: 2, epochs: 4, augmentedTrainSamples: 24000 });
  const saved = JSON.parse(readCheckpoint(path.join(dir, 'checkpoint.safetensors')).metadata.cli as string);
  expect(saved.lr).toBe(0.003);
  // A rate given on the command line, and other optimizers, are as asked.
  const sgd = await spawnBin(['train', '--optimizer', 'sgd', '--max-iterations', '1', '--eval-samples', '20', '--out', path.join(tmp, 'defaults-sgd')]).done;
  expect(sgd.out).toMatch(/: sgd lr 0\.01, batch/);
  const given = await spawnBin(['train', '--lr', '0.0005', '--max-iterations', '1', '--eval-samples', '20', '--out', path.join(tmp, 'defaults-lr')]).done;
  expect(given.out).toMatch(/: adam lr 0\.0005, batch/);
}, 120000);

test('the recipe: weights averaged over the last 2 epochs by default, the trained ones with --average-epochs 0', async () => {
  const settings = (dir: string): Record<string, unknown> => JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')).settings;
  // 3 epochs of 160 steps: the average covers the last two, from iteration 160.
  expect(settings(path.join(tmp, 'reference')).weightAverage).toEqual({ decay: 0.995, fromIteration: 160 });
  const dir = path.join(tmp, 'no-average');
  const r = await spawnBin([...RUN, '--average-epochs', '0', '--out', dir]).done;
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/^training mlp on the built-in digits \(8000 train \+ 1 freshly shifted copies each per epoch, 2000 test\): adam lr 0\.001, batch/m);
  expect(settings(dir).weightAverage).toBeNull();
  // The same steps (the average never feeds back), another saved model.
  const mine = params(path.join(dir, 'model.safetensors'));
  expect(Object.keys(mine)).toEqual(Object.keys(reference));
  expect(mine).not.toEqual(reference);
}, 120000);

describe('stopped by a signal, resumed: the parameters of an uninterrupted run', () => {
  test.each([['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const)('%s during the second epoch, then --resume', async (sig, code) => {
    const dir = path.join(tmp, `stop-${sig}`);
    let sent = false;
    const r = await spawnBin([...RUN, '--out', dir], (all, child) => {
      if (!sent && /^epoch 1 /m.test(all)) { sent = true; child.kill(sig); }
    }).done;
    expect(r.code).toBe(code);
    expect(r.out).toMatch(/^stopped after \d+ iterations/m);
    expect(r.out).toContain(`continue with: blasnet train --resume ${dir}`);
    const results = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8'));
    expect(results.stopped).toBe(true);
    const at = readCheckpoint(path.join(dir, 'checkpoint.safetensors')).trainer.iteration;
    expect(at).toBe(results.curve.iterationsDone);
    expect(at).toBeGreaterThanOrEqual(160);
    expect(at).toBeLessThan(480);
    expect(fs.readFileSync(path.join(dir, 'report.md'), 'utf8')).toContain(`stopped by ${sig === 'SIGINT' ? 'Ctrl-C' : sig} after ${at} of 480 iterations`);

    const again = await spawnBin(['train', '--resume', dir]).done;
    expect(again.code).toBe(0);
    expect(again.out).toContain(`resuming ${dir} at iteration ${at} of 480`);
    expect(params(path.join(dir, 'model.safetensors'))).toEqual(reference);
    const final = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8'));
    expect(final.stopped).toBe(false);
    expect(final.resumed).toBe(true);
    expect(final.curve.loss).toHaveLength(480);
  });

  test('a signal after the last step (final evaluation, save, report) still writes everything', async () => {
    const dir = path.join(tmp, 'late');
    let sent = false;
    const r = await spawnBin([...RUN, '--out', dir], (all, child) => {
      // The progress line of the last evaluation comes right after the last step.
      if (!sent && /^epoch 3 +iter 480\/480/m.test(all)) { sent = true; child.kill('SIGTERM'); }
    }).done;
    expect(sent).toBe(true);
    expect(r.code).toBe(143);
    for (const f of ['checkpoint.safetensors', 'model.safetensors', 'results.json', 'report.md', 'report.html']) {
      expect(fs.existsSync(path.join(dir, f))).toBe(true);
    }
    expect(params(path.join(dir, 'model.safetensors'))).toEqual(reference);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')).stopped).toBe(false);
  });
});

test('a reader that goes away (blasnet train | head -1) does not stop the run from finishing and saving', async () => {
  const dir = path.join(tmp, 'closed-pipe');
  const child = spawn(process.execPath, [BIN, 'train', '--net', 'mlp', '--epochs', '2', '--augment', '0', '--eval-samples', '100', '--out', dir],
    { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.once('data', () => child.stdout!.destroy());
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  expect(err).toBe('');
  expect(code).toBe(0);
  expect(readCheckpoint(path.join(dir, 'checkpoint.safetensors')).trainer.iteration).toBe(160);
  expect(fs.existsSync(path.join(dir, 'model.safetensors'))).toBe(true);
});

describe('SIGKILL at random moments', () => {
  test('the folder holds a loadable checkpoint or none after each of 24 kills; retries are never blocked; the end result is the uninterrupted one', async () => {
    const dir = path.join(tmp, 'killed');
    const file = path.join(dir, 'checkpoint.safetensors');
    const rng = new Rng(2024);
    let kills = 0, withCheckpoint = 0, lastIteration = -1, finished = 0;
    // 8 epochs of 80 steps, with a checkpoint every 8 steps: a good share of the time is spent
    // writing, and the run lasts long enough for most kills to land during training.
    const args = ['train', '--net', 'mlp', '--epochs', '8', '--augment', '0', '--eval-samples', '100', '--seed', '6', '--checkpoint-every', '8'];
    const ref = await spawnBin([...args, '--out', path.join(tmp, 'killed-reference')]).done;
    expect(ref.code).toBe(0);
    for (let attempt = 0; attempt < 120 && kills < 24; attempt++) {
      const resume = fs.existsSync(file);
      // Three kinds of moments, in turn: any time from the start (loading, building, training),
      // a random time into training, and the instant a temporary file appears (mid-write).
      const mode = attempt % 3;
      let watcher: fs.FSWatcher | null = null;
      let timer: NodeJS.Timeout | null = null;
      const kill = (child: ChildProcess): void => { child.kill('SIGKILL'); };
      const { child, done } = spawnBin(resume ? ['train', '--resume', dir] : [...args, '--out', dir], (all, c) => {
        if (mode === 1 && timer === null && /^(training|resuming) /m.test(all)) timer = setTimeout(() => kill(c), Math.floor(rng.next() * 600));
      });
      if (mode === 0) timer = setTimeout(() => kill(child), 50 + Math.floor(rng.next() * 1200));
      if (mode === 2) {
        fs.mkdirSync(dir, { recursive: true });
        watcher = fs.watch(dir, (_event, name) => { if (name && String(name).endsWith('.tmp')) kill(child); });
      }
      const r = await done;
      if (timer) clearTimeout(timer);
      watcher?.close();
      if (r.signal !== 'SIGKILL') {
        // Finished before the kill (a fast machine gets through the remaining steps first): it
        // must have finished well, with the uninterrupted run's parameters; then start afresh so
        // that the kills go on.
        expect(r.err).toBe('');
        expect(r.code).toBe(0);
        expect(params(path.join(dir, 'model.safetensors'))).toEqual(params(path.join(tmp, 'killed-reference', 'model.safetensors')));
        finished++;
        fs.rmSync(dir, { recursive: true, force: true });
        lastIteration = -1;
        continue;
      }
      kills++;
      if (fs.existsSync(file)) {
        // Whole, parseable, and never behind the previous one.
        const c = readCheckpoint(file);
        expect(c.trainer.iteration).toBeGreaterThanOrEqual(lastIteration);
        lastIteration = c.trainer.iteration;
        withCheckpoint++;
      }
    }
    expect(kills).toBeGreaterThanOrEqual(20);
    expect(withCheckpoint).toBeGreaterThan(0);
    expect(finished).toBeLessThan(kills);
    // Finish the run, whatever state the last kill left.
    const last = await spawnBin(fs.existsSync(file) ? ['train', '--resume', dir] : [...args, '--out', dir]).done;
    expect(last.code).toBe(0);
    expect(params(path.join(dir, 'model.safetensors'))).toEqual(params(path.join(tmp, 'killed-reference', 'model.safetensors')));
  }, 240000);
});

describe('the folder rules and --resume', () => {
  async function run(argv: string[], cwd = tmp): Promise<{ code: number; out: string; err: string }> {
    let out = '', err = '';
    const io: Io = {
      stdout: { write: (s: string) => { out += s; return true; }, isTTY: false },
      stderr: { write: (s: string) => { err += s; return true; }, isTTY: false },
      cwd,
    };
    return { code: await main(argv, io), out, err };
  }

  test('leftover temporary files of a killed run do not block a retry with the same --out', async () => {
    const dir = path.join(tmp, 'leftover');
    fs.mkdirSync(dir);
    const dead = Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).toString());
    fs.writeFileSync(path.join(dir, `.model.safetensors.${dead}.1712000000000.tmp`), 'half');
    fs.writeFileSync(path.join(dir, `.checkpoint.safetensors.${dead}.1712000000001.tmp`), 'half');
    const r = await run(['train', '--net', 'mlp', '--max-iterations', '3', '--augment', '0', '--eval-samples', '50', '--out', dir]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  test('an --out holding a checkpoint points to --resume; --resume refuses other settings and folders without a checkpoint', async () => {
    const dir = path.join(tmp, 'leftover');
    const a = await run(['train', '--out', dir]);
    expect(a.code).toBe(2);
    expect(a.err).toMatch(/holds the checkpoint of an earlier run; continue it with --resume/);
    const b = await run(['train', '--resume', dir, '--epochs', '9', '--lr', '0.1']);
    expect(b.code).toBe(2);
    expect(b.err).toMatch(/--resume takes every setting from the run's checkpoint; leave out --epochs, --lr/);
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    const c = await run(['train', '--resume', empty]);
    expect(c.code).toBe(2);
    expect(c.err).toMatch(/no checkpoint\.safetensors in it .*start it again with --out/);
    const d = await run(['train', '--resume', path.join(tmp, 'nowhere')]);
    expect(d.err).toMatch(/no such folder/);
    // A finished run resumed: nothing more to train, the outputs are written again.
    const e = await run(['train', '--resume', dir]);
    expect(e.code).toBe(0);
    expect(e.out).toMatch(/resuming .* at iteration 3 of 3/);
  });

  test('--resume finds a relative --data from any folder (the checkpoint keeps it absolute)', async () => {
    // A small data set in IDX files: 300 training and 100 test images of the built-in digits.
    const { xTrain, tTrain, xTest, tTest } = loadMnist({ flatten: true, normalize: false });
    const data = path.join(tmp, 'work', 'digits');
    fs.mkdirSync(data, { recursive: true });
    const idx = (name: string, magic: number, dims: number[], bytes: Uint8Array): void => {
      const head = Buffer.alloc(4 + 4 * dims.length);
      head.writeUInt32BE(magic, 0);
      dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
      fs.writeFileSync(path.join(data, name), Buffer.concat([head, bytes]));
    };
    idx('train-images-idx3-ubyte', 0x803, [300, 28, 28], Uint8Array.from(xTrain.data.subarray(0, 300 * 784)));
    idx('train-labels-idx1-ubyte', 0x801, [300], Uint8Array.from(tTrain.subarray(0, 300)));
    idx('t10k-images-idx3-ubyte', 0x803, [100, 28, 28], Uint8Array.from(xTest.data.subarray(0, 100 * 784)));
    idx('t10k-labels-idx1-ubyte', 0x801, [100], Uint8Array.from(tTest.subarray(0, 100)));
    const work = path.join(tmp, 'work');
    const a = await run(['train', '--net', 'mlp', '--epochs', '1', '--augment', '0', '--data', 'digits', '--out', 'rel'], work);
    expect(a.err).toBe('');
    expect(a.code).toBe(0);
    expect(a.out).toMatch(/training mlp on .*digits \(300 train, 100 test\)/);
    const b = await run(['train', '--resume', path.join(work, 'rel')], tmp);
    expect(b.err).toBe('');
    expect(b.code).toBe(0);
    expect(b.out).toMatch(/resuming .* at iteration 3 of 3/);
  });

  test('a diverging run exits 1 naming the iteration, keeps its last good checkpoint and saves no model', async () => {
    const dir = path.join(tmp, 'nan');
    const r = await run(['train', '--net', 'mlp', '--optimizer', 'adagrad', '--lr', '1e30', '--augment', '0', '--epochs', '1', '--out', dir]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/the loss is (NaN|Infinity) at iteration 1 \(0-based, epoch 1\)/);
    expect(r.err).toMatch(/--check-finite layers/);
    expect(r.err).toMatch(/the last good checkpoint is kept: .*checkpoint\.safetensors \(iteration 0\); no model was saved/);
    expect(fs.existsSync(path.join(dir, 'model.safetensors'))).toBe(false);
    const c = readCheckpoint(path.join(dir, 'checkpoint.safetensors'));
    for (const t of Object.values(c.network)) expect(t.data.every(Number.isFinite)).toBe(true);
    const layers = await run(['train', '--net', 'mlp', '--optimizer', 'adagrad', '--lr', '1e30', '--augment', '0', '--epochs', '1', '--check-finite', 'layers', '--out', path.join(tmp, 'nan2')]);
    expect(layers.code).toBe(1);
    expect(layers.err).toMatch(/first non-finite output came from layer \d \(Affine\)/);
  });

  test('eval refuses a model holding NaN', async () => {
    const file = path.join(tmp, 'nan-model.safetensors');
    const net = new MultiLayerNet({ inputSize: 784, hiddenSizeList: [10], outputSize: 10 });
    net.params.W1.data.fill(NaN, 0, 5);
    net.saveParams(file);
    const r = await run(['eval', '--model', file]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/nan-model\.safetensors: tensor 'W1' holds 5 non-finite values/);
    expect(r.out).toBe('');
  });
});

/** A 1 MiB tmpfs when this process may mount one (root on Linux), else null. */
function tinyDisk(): string | null {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'pipe' });
    return dir;
  } catch {
    fs.rmdirSync(dir);
    return null;
  }
}
const tiny = tinyDisk();
afterAll(() => { if (tiny) { execFileSync('umount', [tiny]); fs.rmdirSync(tiny); } });

(tiny ? test : test.skip)('a disk without room for the run is found before training, naming the folder (1 MiB tmpfs; needs root)', async () => {
  const dir = path.join(tiny!, 'run');
  const r = await spawnBin(['train', '--net', 'mlp', '--augment', '0', '--out', dir]).done;
  expect(r.code).toBe(1);
  expect(r.err).toMatch(new RegExp(`^blasnet: ${dir}: [\\d.]+ MiB free, but this run \\(two checkpoints, the model and the report\\) needs about [\\d.]+ MiB`));
  expect(r.out).not.toMatch(/^epoch/m);
  expect(fs.readdirSync(dir)).toEqual([]);
});
