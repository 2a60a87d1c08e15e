// SPDX-License-Identifier: MIT
// The fuzzer (bench/fuzz) in CI: a fixed-seed run over every native entry point the contract
// declares (through the addon and through `kernels`) and the public API, each batch of calls in
// a child process with a per-call timeout and an RSS ceiling. It must end with no crash, no
// hang, no memory growth and no call that broke its promise. Canary targets that misbehave on
// purpose show that each kind of failure is caught and reported with a replay command.
// Longer runs by hand: npm run build && npm run fuzz -- --minutes 30 --seed N
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describe, expect, test } from '@jest/globals';
import { ENTRIES } from '../lib/core/contract';
import { ensureBuilt, ROOT } from './helpers/dist';

const DRIVER = path.join(ROOT, 'dist', 'bench', 'fuzz', 'driver.js');
const SEED = 20261201;
const CALLS = 250000;

interface Report {
  seed: number;
  calls: number;
  seconds: number;
  targets: Record<string, { calls: number; ok: number; bad: number; either: number }>;
  problems: Array<{ kind: string; target: string; problem: string; replay: string; reproduction: string }>;
  cpu: string;
}

function fuzz(args: string[], env: Record<string, string> = {}): { report: Report; stdout: string; status: number | null } {
  ensureBuilt(path.join(ROOT, 'dist', 'bench', 'fuzz', 'child.js'));
  const json = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-fuzz-test-')), 'report.json');
  const r = spawnSync(process.execPath, [DRIVER, ...args, '--json', json], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 * 2 ** 20,
  });
  if (!fs.existsSync(json)) throw new Error(`the fuzz driver wrote no report (status ${r.status}):\n${r.stdout}\n${r.stderr}`);
  const report = JSON.parse(fs.readFileSync(json, 'utf8')) as Report;
  fs.rmSync(path.dirname(json), { recursive: true, force: true });
  return { report, stdout: r.stdout, status: r.status };
}

describe('fuzz', () => {
  test(`seed ${SEED}, ${CALLS} calls: no crash, hang, leak or broken promise`, () => {
    const { report, stdout, status } = fuzz(['--seed', String(SEED), '--calls', String(CALLS), '--batch-size', '12500', '--jobs', '2']);
    // Print what a failure needs to be replayed (the driver's own report lines).
    if (report.problems.length) console.log(stdout);
    expect(report.problems.map((p) => `${p.kind} ${p.target}: ${p.problem}\n${p.replay}`)).toEqual([]);
    expect(status).toBe(0);
    // Every entry point the contract declares, through the addon and through kernels, was
    // called, with valid and bad calls among them; and every group of the public API.
    const names = Object.keys(report.targets);
    for (const fn of Object.keys(ENTRIES)) {
      for (const via of ['addon', 'kernels']) {
        const t = report.targets[`${via}.${fn}`];
        expect({ fn: `${via}.${fn}`, called: t !== undefined && t.ok > 0 && t.bad > 0 }).toEqual({ fn: `${via}.${fn}`, called: true });
      }
    }
    for (const api of ['Tensor (constructor)', 'Affine.forward', 'Affine.backward', 'Convolution.forward', 'Convolution.backward',
      'Pooling.backward', 'BatchNormalization.forward', 'Dropout.backward', 'SoftmaxWithLoss.forward', 'MultiLayerNet (constructor)',
      'SimpleConvNet (constructor)', 'Sequential.gradient', 'Adam.update', 'readSafetensors', 'loadNetwork', 'readIdxImages', 'readPickleParams']) {
      expect(names).toContain(api);
    }
    const total = names.reduce((s, n) => s + report.targets[n].calls, 0);
    expect(total).toBeGreaterThan(CALLS * 0.99);
    console.log(`fuzz: ${total} calls in ${report.seconds.toFixed(0)} s (${Math.round(total / report.seconds * 60)} calls/min, ${report.cpu})`);
  }, 900000);

  test.each([
    ['canary.abort', 'crash', /the child died \(signal SIGABRT\)/],
    ['canary.hang', 'hang', /no progress for 3 s \(a hang\)/],
    ['canary.accepts', 'oracle', /accepted a bad call/],
    ['canary.vagueError', 'oracle', /the message names none of canary\.vagueError/],
    ['canary.nonError', 'oracle', /threw a non-Error: a string/],
    ['canary.leak', 'memory', /native memory by \d+\.\d MiB \(limit 64\.0\)/],
    ['canary.balloon', 'ceiling', /over the ceiling of 256 MiB/],
  ])('%s is caught as a %s failure, with a replay command', (target, kind, message) => {
    const { report, status } = fuzz(['--seed', '7', '--calls', '400', '--batch-size', '400', '--jobs', '1', '--targets', target,
      '--call-timeout', '3000', '--rss-ceiling', '256'], { BLASNET_FUZZ_CANARY: '1' });
    expect(status).toBe(1);
    const p = report.problems.find((x) => x.kind === kind);
    expect(p).toBeDefined();
    expect(p!.problem).toMatch(message);
    expect(p!.replay).toMatch(/^npm run fuzz -- --seed 7 --batch 0 /);
  }, 120000);
});
