// SPDX-License-Identifier: MIT
// The benchmark harness (npm run bench) as a program: a tiny run writes the figures it
// prints to JSON, and bad flags are refused. Speed itself is never asserted here.
import { beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ensureBuilt, ROOT } from './helpers/dist';

const RUN = path.join(ROOT, 'dist', 'bench', 'run.js');

function bench(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [RUN, ...args], { encoding: 'utf8', timeout: 120_000 });
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
    // The printed median is the JSON's, formatted with thousands separators.
    expect(row).toContain(Math.round(b.train_samples_per_s.median).toLocaleString('en-US'));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test.each([
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

  test('--help prints the options and exits 0', () => {
    const r = bench(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--warmup-seconds <s>/);
    expect(r.stdout).toMatch(/--compare/);
  });
});
