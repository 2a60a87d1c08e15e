// SPDX-License-Identifier: MIT
// The benchmark harness (npm run bench) as a program: a tiny run writes the figures it
// prints to JSON, and bad flags are refused. Speed itself is never asserted here.
import { beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cpuIsa, readCpuInfo } from '../lib/core/cpu';
import { ensureBuilt, ROOT } from './helpers/dist';

const RUN = path.join(ROOT, 'dist', 'bench', 'run.js');
const TINY = ['--only', 'W1', '--reps', '1', '--steps', '2', '--warmup', '0', '--warmup-seconds', '0', '--infer-batches', '1'];

function bench(args: string[], env: NodeJS.ProcessEnv = process.env): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [RUN, ...args], { encoding: 'utf8', timeout: 120_000, env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => ensureBuilt(RUN));

describe('npm run bench', () => {
  test('a tiny W1 run prints its row and writes the same figures to --json', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-bench-'));
    const file = path.join(dir, 'out.json');
    const r = bench(['--only', 'W1', '--reps', '2', '--steps', '2', '--warmup', '0', '--warmup-seconds', '0',
      '--infer-batches', '1', '--json', file]);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.status).toBe(0);
    const row = r.stdout.split('\n').find((l) => l.startsWith('| W1 mlp-small'));
    expect(row).toBeDefined();
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(json.settings).toMatchObject({ reps: 2, steps: 2, warmup: 0, warmupSeconds: 0, inferBatches: 1, batch: 100 });
    expect(json.results).toHaveLength(1);
    const w1 = json.results[0];
    expect(w1.workload).toBe('W1');
    expect(w1.pytorch).toBeFalsy();
    const b = w1.blasnet;
    for (const key of ['train_samples_per_s', 'infer_samples_per_s'] as const) {
      expect(b[key].reps).toHaveLength(2);
      for (const v of b[key].reps) expect(v).toBeGreaterThan(0);
      expect(b[key].min).toBeLessThanOrEqual(b[key].median);
      expect(b[key].median).toBeLessThanOrEqual(b[key].max);
    }
    expect(b.train_peak_rss_mib).toBeGreaterThan(10);
    expect(b.peak_rss_mib).toBeGreaterThanOrEqual(b.train_peak_rss_mib);
    expect(b.blas.library).toMatch(/OpenBLAS/);
    // Which thread count the automatic setting was at after each repetition.
    for (const kind of ['train', 'infer'] as const) {
      expect(b.threads_in_use[kind]).toHaveLength(2);
      for (const n of b.threads_in_use[kind]) expect(n === 1 || n === os.cpus().length || n === b.threads).toBe(true);
    }
    // The printed median is the JSON's, formatted with thousands separators.
    expect(row).toContain(Math.round(b.train_samples_per_s.median).toLocaleString('en-US'));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  (cpuIsa(readCpuInfo()) === 'generic' ? test.skip : test)('--isa avx2 holds blasnet to AVX2 and the Haswell (or Zen) core, in a section of its own', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-bench-'));
    const file = path.join(dir, 'out.json');
    const r = bench([...TINY, '--isa', 'avx2', '--json', file]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^## Held to avx2: blasnet with BLASNET_ISA=avx2 OPENBLAS_CORETYPE=(Haswell|Zen)$/m);
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(json.results).toHaveLength(1);
    expect(json.results[0].isa).toBe('avx2');
    const b = json.results[0].blasnet.blas;
    expect([b.isa, b.isaReason]).toEqual(['avx2', 'set by BLASNET_ISA']);
    expect(b.corename).toMatch(/^(Haswell|Zen)$/);
    expect(b.coreReason).toBe('set by OPENBLAS_CORETYPE');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('--isa avx512 on a CPU without AVX-512 says it is not available here, and runs nothing for it', () => {
    // This machine's cpuinfo with the AVX-512 flags taken out.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-bench-'));
    const real = fs.readFileSync('/proc/cpuinfo', 'utf8');
    fs.writeFileSync(path.join(dir, 'cpuinfo'), real.replace(/ avx512\w*/g, ''));
    const env = { ...process.env, BLASNET_CPUINFO_FILE: path.join(dir, 'cpuinfo') };
    const r = bench([...TINY, '--isa', 'avx512'], env);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^avx512: not available here \(this CPU's widest level is (avx2|generic)\)$/m);
    expect(r.stdout).not.toMatch(/\| W1 mlp-small/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test.each([
    [['--isa', 'sse4'], /expected avx512 or avx2 \(comma-separated\), got 'sse4'/],
    [['--warmup-seconds', '-1'], /--warmup-seconds must be a number of seconds >= 0, got '-1'/],
    [['--warmup-seconds', 'soon'], /--warmup-seconds must be a number of seconds >= 0, got 'soon'/],
    [['--reps', '0'], /--reps must be an integer >= 1, got '0'/],
    [['--only', 'W9'], /expected one of W1, W2, W3, W4, W5 \(comma-separated\), got 'W9'/],
  ])('refuses %p with exit code 2', (args, message) => {
    const r = bench(args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).not.toMatch(/round 1/);
  });

  // A stand-in for Python: answers the harness's version check, then serves the --serve
  // protocol, logging each command it gets (with its --threads) to FAKE_TORCH_LOG.
  const fakePython = (dir: string, failAt = ''): string => {
    const file = path.join(dir, 'python');
    fs.writeFileSync(file, `#!${process.execPath}
const fs = require('fs');
const argv = process.argv.slice(2);
if (argv[0] === '-c') { console.log('0.0-fake'); process.exit(0); }
const threads = Number(argv[argv.indexOf('--threads') + 1]);
const reps = { train: [], infer: [] };
console.log(JSON.stringify({ ready: true }));
require('readline').createInterface({ input: process.stdin }).on('line', (cmd) => {
  fs.appendFileSync(process.env.FAKE_TORCH_LOG, threads + ' ' + cmd + '\\n');
  if (cmd === ${JSON.stringify(failAt)} && threads === 2) { process.stderr.write('fake torch gave up'); process.exit(3); }
  if (cmd !== 'end') { const v = threads * 1000 + reps[cmd].length; reps[cmd].push(v); console.log(JSON.stringify({ value: v })); return; }
  const st = (v) => { const s = [...v].sort((a, b) => a - b); return { median: s[s.length >> 1], min: s[0], max: s[s.length - 1], reps: v }; };
  console.log(JSON.stringify({ workload: 'W1', name: 'mlp-small', framework: 'pytorch', threads, train_samples_per_s: st(reps.train),
    infer_samples_per_s: st(reps.infer), peak_rss_mib: 200, train_peak_rss_mib: 150, torch_version: '0.0-fake', blas: 'fake' }));
  process.exit(0);
});
`);
    fs.chmodSync(file, 0o755);
    return file;
  };

  test('--compare keeps one child per side up and interleaves their repetitions one by one, all training first', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-bench-'));
    const log = path.join(dir, 'log'), file = path.join(dir, 'out.json');
    const r = bench([...TINY, '--settle-seconds', '0', '--reps', '2', '--rounds', '2', '--compare', '--python', fakePython(dir), '--json', file],
      { ...process.env, FAKE_TORCH_LOG: log });
    expect(r.stderr).not.toMatch(/bench:/);
    expect(r.status).toBe(0);
    // Per repetition each side once; every other repetition in reverse order (blasnet, t1, t2 / t2, t1, blasnet).
    const pair = (cmd: string): string[] => [`1 ${cmd}`, `2 ${cmd}`, `2 ${cmd}`, `1 ${cmd}`];
    expect(fs.readFileSync(log, 'utf8').trim().split('\n')).toEqual(
      [...pair('train'), ...pair('train'), ...pair('infer'), ...pair('infer'), '1 end', '2 end']);
    const w1 = JSON.parse(fs.readFileSync(file, 'utf8')).results[0];
    expect(w1.blasnet.train_samples_per_s.reps).toHaveLength(4);
    expect(w1.pytorch.threads2.train_samples_per_s.reps).toEqual([2000, 2001, 2002, 2003]);
    // The ratio is over PyTorch's better median (threads 2 here: 2002).
    expect(w1.ratio.train).toBeCloseTo(w1.blasnet.train_samples_per_s.median / 2002, 12);
    expect(r.stdout).toMatch(/each side's interleaved one by one/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a child that dies mid-run fails the bench with its name and stderr, leaving no process behind', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-bench-'));
    const seed = String(10_000 + process.pid);  // marks this run's children in their command lines
    const r = bench([...TINY, '--settle-seconds', '0', '--seed', seed, '--compare', '--python', fakePython(dir, 'infer')],
      { ...process.env, FAKE_TORCH_LOG: path.join(dir, 'log') });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/bench: PyTorch W1 threads 2: exited with 3 before answering 'infer':\nfake torch gave up/);
    // The blasnet child and the other PyTorch one were told to go (SIGTERM as the parent left).
    const alive = (): string[] => fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).flatMap((p) => {
      try {
        const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
        return cmd.includes('--child') && cmd.includes(seed) || cmd.some((a) => a.startsWith(dir)) ? [cmd.join(' ')] : [];
      } catch {
        return [];
      }
    });
    const until = Date.now() + 5000;
    while (alive().length > 0 && Date.now() < until) spawnSync('sleep', ['0.05']);
    expect(alive()).toEqual([]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('--help prints the options and exits 0', () => {
    const r = bench(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--warmup-seconds <s>/);
    expect(r.stdout).toMatch(/--compare/);
  });
});
