// SPDX-License-Identifier: MIT
// The `blasnet` command line: flags, help, errors and exit codes through
// main(argv), a short train + eval round trip, gradcheck, and the built bin
// spawned for real (help, a usage error, Ctrl-C keeping what was written).
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { beforeAll, describe, expect, test } from '@jest/globals';
import { main } from '../lib/cli/main';
import { Io } from '../lib/cli/common';
import { loadMnist } from '../lib/data';
import { loadNetwork } from '../lib/nn/presets';
import { ensureBuilt, ROOT } from './helpers/dist';

const BIN = path.join(ROOT, 'dist', 'lib', 'cli', 'main.js');
let tmp: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-cli-'));
  ensureBuilt(BIN);
}, 120000);

interface Ran { code: number; out: string; err: string }

async function run(argv: string[], cwd = tmp): Promise<Ran> {
  let out = '', err = '';
  const io: Io = {
    stdout: { write: (s: string) => { out += s; return true; }, isTTY: false },
    stderr: { write: (s: string) => { err += s; return true; }, isTTY: false },
    cwd,
  };
  const code = await main(argv, io);
  return { code, out, err };
}

/** A usage error: exit 2, one error line, then the usage of the command that failed. */
function expectUsageError(r: Ran, command: string, pattern: RegExp): void {
  expect(r.code).toBe(2);
  const lines = r.err.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(pattern);
  expect(lines[1]).toBe(`Usage: ${command}`);
  expect(r.out).toBe('');
}

describe('help', () => {
  test('blasnet --help lists the four commands, exit 0', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['train', 'eval', 'gradcheck', 'experiment']) expect(r.out).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
  });

  test.each([
    ['train', ['--net', '--epochs', '--batch-size', '--optimizer', '--lr', '--seed', '--data', '--out', '--resume', '--checkpoint-every', '--check-finite']],
    ['eval', ['--model', '--data']],
    ['gradcheck', ['--threshold', '--seed']],
    ['experiment', ['--iterations', '--seed', '--data', '--out', 'vanishing-gradient', 'all']],
  ])('blasnet %s --help shows its options, exit 0', async (cmd, flags) => {
    const r = await run([cmd, '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^Usage: blasnet ${cmd} `));
    for (const f of flags) expect(r.out).toContain(f);
    expect(r.err).toBe('');
  });

  test('the defaults of train are the documented ones', async () => {
    const r = await run(['train', '--help']);
    expect(r.out).toMatch(/--net <name>[\s\S]*default: "simple-convnet"/);
    expect(r.out).toMatch(/--optimizer <name>[\s\S]*default: "adam"/);
    expect(r.out).toMatch(/--batch-size <n>[\s\S]*default: 100/);
  });

  test('--version and -V print the version of package.json, exit 0', async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    for (const flag of ['--version', '-V']) {
      const r = await run([flag]);
      expect(r).toEqual({ code: 0, out: `${version}\n`, err: '' });
    }
  });

  test('no command at all: the help on stderr, exit 2', async () => {
    const r = await run([]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('Usage: blasnet');
  });
});

describe('usage errors exit with 2', () => {
  test.each([
    [['train', '--bogus'], 'blasnet train [options]', /unknown option '--bogus'/],
    [['train', '--epochs', 'abc'], 'blasnet train [options]', /--epochs.*'abc' is invalid/],
    [['train', '--epochs', '0'], 'blasnet train [options]', /--epochs.*'0' is invalid/],
    [['train', '--epochs', '2.5'], 'blasnet train [options]', /--epochs.*'2.5' is invalid/],
    [['train', '--lr', '-1'], 'blasnet train [options]', /--lr.*'-1' is invalid/],
    [['train', '--lr', 'fast'], 'blasnet train [options]', /--lr.*'fast' is invalid/],
    [['train', '--net', 'resnet'], 'blasnet train [options]', /'resnet' is invalid.*simple-convnet, deep-convnet, mlp/],
    [['train', '--optimizer', 'lbfgs'], 'blasnet train [options]', /'lbfgs' is invalid.*adam/],
    [['train', '--seed', '-3'], 'blasnet train [options]', /--seed.*'-3' is invalid/],
    [['train', '--epochs'], 'blasnet train [options]', /--epochs <n>' argument missing/],
    [['trian'], 'blasnet [options] [command]', /unknown command 'trian'/],
    [['experiment', 'dropout'], 'blasnet experiment [options] <name>', /'dropout' is invalid.*vanishing-gradient/],
    [['experiment'], 'blasnet experiment [options] <name>', /missing required argument 'name'/],
    [['experiment', 'optimizers', '--iterations', 'many'], 'blasnet experiment [options] <name>', /--iterations.*'many' is invalid/],
    [['eval'], 'blasnet eval [options]', /required option '--model <file>' not specified/],
    [['gradcheck', '--threshold', '0'], 'blasnet gradcheck [options]', /--threshold.*'0' is invalid/],
  ])('%j', async (argv, usage, pattern) => {
    expectUsageError(await run(argv as string[]), usage as string, pattern as RegExp);
  });

  test('values checked after parsing: missing model, missing data folder, non-empty --out, --lr with all', async () => {
    expectUsageError(await run(['eval', '--model', 'nope.safetensors']), 'blasnet eval [options]', /--model nope\.safetensors: no such file/);
    expectUsageError(await run(['train', '--data', 'no-such-dir']), 'blasnet train [options]', /--data no-such-dir: no such folder/);
    const full = path.join(tmp, 'full');
    fs.mkdirSync(full);
    fs.writeFileSync(path.join(full, 'keep.txt'), 'x');
    expectUsageError(await run(['train', '--out', full]), 'blasnet train [options]', /is not empty/);
    expect(fs.readdirSync(full)).toEqual(['keep.txt']);
    expectUsageError(await run(['experiment', 'all', '--lr', '0.1']), 'blasnet experiment [options] <name>', /--lr/);
  });

  test('an unreadable model file is a failure (exit 1), not a usage error', async () => {
    const bad = path.join(tmp, 'bad.safetensors');
    fs.writeFileSync(bad, 'not a model');
    const r = await run(['eval', '--model', bad]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^blasnet: .*bad\.safetensors/);
  });
});

describe('train and eval', () => {
  test('a short mlp run prints its test accuracy, saves a model eval agrees with, and writes the report', async () => {
    const out = path.join(tmp, 'mlp-run');
    const r = await run(['train', '--net', 'mlp', '--epochs', '1', '--max-iterations', '40', '--augment', '0', '--seed', '3', '--out', out]);
    expect(r.code).toBe(0);
    const m = /^test accuracy: (0\.\d{4})$/m.exec(r.out);
    expect(m).not.toBeNull();
    const printed = Number(m![1]);
    expect(printed).toBeGreaterThan(0.7);
    expect(r.out).toMatch(/^epoch 1 +iter 40\/40 +loss [\d.]+ +train acc [\d.]+ +test acc [\d.]+/m);

    // The saved model, measured here independently of the command.
    const model = path.join(out, 'model.safetensors');
    const net = loadNetwork(model);
    const { xTest, tTest } = loadMnist({ flatten: true });
    const scores = net.predict(xTest);
    let correct = 0;
    for (let i = 0; i < tTest.length; i++) {
      let best = 0;
      for (let c = 1; c < 10; c++) if (scores.data[i * 10 + c] > scores.data[i * 10 + best]) best = c;
      if (best === tTest[i]) correct++;
    }
    expect(correct / tTest.length).toBeCloseTo(printed, 4);

    const results = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(results.testAcc).toBeCloseTo(printed, 4);
    expect(results.settings).toMatchObject({ net: 'mlp', seed: 3, iterations: 40, optimizer: 'adam', lr: 0.001 });
    expect(results.curve.iterations).toEqual([0, 40]);
    expect(results.curve.loss).toHaveLength(40);
    for (const f of ['report.md', 'report.html', 'charts/accuracy.svg', 'charts/accuracy.png', 'charts/loss.svg']) {
      expect(fs.existsSync(path.join(out, f))).toBe(true);
    }

    const e = await run(['eval', '--model', model]);
    expect(e.code).toBe(0);
    expect(e.out).toContain(`test accuracy: ${printed.toFixed(4)}`);
    expect(e.out).toContain('(MultiLayerNet)');
  });

  test('the same seed gives the same model; another seed another', async () => {
    const acc = async (seed: string, dir: string): Promise<string> => {
      const r = await run(['train', '--net', 'mlp', '--max-iterations', '15', '--augment', '1', '--optimizer', 'sgd', '--lr', '0.1', '--seed', seed, '--out', path.join(tmp, dir)]);
      expect(r.code).toBe(0);
      return fs.readFileSync(path.join(tmp, dir, 'model.safetensors')).toString('base64');
    };
    const a = await acc('5', 's5a'), b = await acc('5', 's5b'), c = await acc('6', 's6');
    expect(a).toBe(b);
    expect(a).not.toBe(c);
  });

  test('without --out the run goes to ./runs/train-<timestamp>', async () => {
    const cwd = path.join(tmp, 'cwd');
    fs.mkdirSync(cwd);
    const r = await run(['train', '--net', 'mlp', '--max-iterations', '2', '--augment', '0', '--eval-samples', '100'], cwd);
    expect(r.code).toBe(0);
    const runs = fs.readdirSync(path.join(cwd, 'runs'));
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatch(/^train-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d$/);
    expect(fs.existsSync(path.join(cwd, 'runs', runs[0], 'model.safetensors'))).toBe(true);
  });
});

describe('gradcheck', () => {
  test('every layer kind and preset is checked; passes at the default threshold', async () => {
    const r = await run(['gradcheck', '--no-course']);
    expect(r.code).toBe(0);
    for (const name of ['Affine', 'TwoLayerNet', 'Relu', 'Sigmoid', 'Tanh', 'Dropout', 'BatchNormalization', 'Convolution', 'Pooling', 'AvgPooling',
      'MultiLayerNet', 'MultiLayerNetExtend', 'SimpleConvNet', 'DeepConvNet']) {
      expect(r.out).toMatch(new RegExp(`^  ${name}\\b.* \\d\\.\\d\\de[-+]\\d`, 'm'));
    }
    const worst = Number(/worst relative error: (\S+)/.exec(r.out)![1]);
    expect(worst).toBeLessThan(1e-2);
  });

  test('a threshold no float32 check can meet: exit 1 and FAILED', async () => {
    const r = await run(['gradcheck', '--threshold', '1e-9', '--attempts', '1', '--no-course']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/threshold 1e-9: FAILED/);
  });
});

describe('the course\'s gradient_check.py and float32, in English and Japanese', () => {
  const gradcheckBin = (args: string[]): string => execFileSync(process.execPath, [BIN, 'gradcheck', ...args], { encoding: 'utf8', cwd: ROOT });

  test('backprop against float32 and float64 numerical gradients, with what to expect', () => {
    const out = gradcheckBin(['--threshold', '0.05']);
    expect(out).toMatch(/The course's gradient_check\.py: TwoLayerNet\(784, 50, 10\) on the first 3 training digits \(x_train\[:3\]\), loss 2\.3\d+/);
    const rows = new Map([...out.matchAll(/^ {2}(W1|b1|W2|b2) +(\S+) +(\S+) \((all|\d+ of \d+)\) +(\S+)$/gm)].map((r) => [r[1], { f32: Number(r[2]), f64: Number(r[3]), mean: Number(r[5]) }]));
    expect([...rows.keys()]).toEqual(['W1', 'b1', 'W2', 'b2']);
    for (const [name, r] of rows) {
      // float32 central differences: far above the book's float64 1e-10, far below a wrong backward's size.
      expect({ name, ok: r.f32 > 1e-8 && r.f32 < 1e-3 }).toEqual({ name, ok: true });
      // float64 numerical gradient: what remains is the float32 rounding of backprop itself.
      expect({ name, ok: r.f64 < 1e-5 * r.mean && r.f64 < r.f32 }).toEqual({ name, ok: true });
    }
    expect(out).toMatch(/machine epsilon 2\.2e-16\); blasnet computes in float32 \(epsilon 1\.2e-7\)/);
    expect(out).toMatch(/A wrong\s+backward pass gives relative errors near 1/);
  });

  test('--lang ja: the same in Japanese', () => {
    const out = gradcheckBin(['--lang', 'ja', '--threshold', '0.05']);
    expect(out).toMatch(/^相対誤差 \|\|誤差逆伝播法 − 数値微分\|\|/);
    expect(out).toContain('本書の gradient_check.py: TwoLayerNet(784, 50, 10)');
    expect(out).toContain('float32 の列が本書の値（およそ 1e-10 以下）より大きい理由:');
    expect(out).toMatch(/最大の相対誤差: \S+（.+）。しきい値 0\.05: OK/);
  });
});

describe('--lang ja', () => {
  test('help, option notes and usage errors in Japanese; BLASNET_LANG too', async () => {
    const help = await run(['experiment', '--help', '--lang', 'ja']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^使い方: blasnet experiment \[options\] <name>/);
    expect(help.out).toContain('本書の演習を 1 つ（またはすべて）実行し、グラフとレポートを書く');
    expect(help.out).toMatch(/--seed <n> +各設定の前に設定する乱数のシード（既定値: 1）/);
    expect(help.out).toContain('"activations"');
    const bad = await run(['--lang=ja', 'train', '--data', 'no-such-dir']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^エラー: --data no-such-dir: フォルダがありません\n使い方: blasnet train \[options\]\n詳しくは 'blasnet train --help' を実行してください。/);
    const { langFromArgv } = await import('../lib/cli/common');
    expect(langFromArgv(['train'], { BLASNET_LANG: 'ja' })).toBe('ja');
    expect(langFromArgv(['train', '--lang', 'en'], { BLASNET_LANG: 'ja' })).toBe('en');
    expect(langFromArgv(['train', '--lang', 'fr'], {})).toBe('en');
    const fr = await run(['train', '--lang', 'fr']);
    expect(fr.code).toBe(2);
    expect(fr.err).toMatch(/'fr' is invalid.*en, ja/);
  });
});

describe('the built bin', () => {
  test('starts with a node shebang, --help exits 0, a bad flag exits 2', () => {
    expect(fs.readFileSync(BIN, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    const help = execFileSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' });
    expect(help).toContain('Usage: blasnet');
    let code = 0, stderr = '';
    try {
      execFileSync(process.execPath, [BIN, 'train', '--bogus'], { encoding: 'utf8', stdio: 'pipe' });
    } catch (err) {
      code = (err as { status: number }).status;
      stderr = String((err as { stderr: string }).stderr);
    }
    expect(code).toBe(2);
    expect(stderr.split('\n')[0]).toBe("error: unknown option '--bogus'");
  });

  test('Ctrl-C during training stops, keeps the model and the report of what was done, exit 130', async () => {
    const out = path.join(tmp, 'interrupted');
    const child = spawn(process.execPath, [BIN, 'train', '--net', 'mlp', '--epochs', '200', '--eval-samples', '200', '--augment', '0', '--out', out],
      { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    const code = await new Promise<number | null>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        const before = stdout;
        stdout += d.toString();
        // Interrupt once the first epoch has been reported.
        if (!/^epoch 1 /m.test(before) && /^epoch 1 /m.test(stdout)) child.kill('SIGINT');
      });
      child.on('close', (c) => resolve(c));
    });
    expect(code).toBe(130);
    expect(stdout).toMatch(/^stopped after \d+ iterations/m);
    const results = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(results.stopped).toBe(true);
    expect(results.curve.iterationsDone).toBeLessThan(200 * 80);
    expect(results.curve.iterationsDone).toBeGreaterThanOrEqual(80);
    expect(fs.existsSync(path.join(out, 'model.safetensors'))).toBe(true);
    expect(fs.readFileSync(path.join(out, 'report.md'), 'utf8')).toMatch(/stopped by Ctrl-C after \d+ of 16000 iterations/);
  });
});
