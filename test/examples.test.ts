// SPDX-License-Identifier: MIT
// examples/course: the course's scripts ported with only the public API ('blasnet' and
// 'blasnet/plot'), run as a learner runs them (plain node, ESM), shortened. Each writes its
// figures, and the same seed gives the same numbers and the same pictures.
import { execFile, execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ensureBuilt, ROOT } from './helpers/dist';

const EXAMPLES = path.join(ROOT, 'examples', 'course');
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-examples-'));
  ensureBuilt(path.join(ROOT, 'dist', 'lib', 'plot.js'));
  // The package entry points (dist/index.mjs, dist/plot.mjs) the examples import.
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'write-esm-entry.js')]);
}, 120000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function runExample(file: string, args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(EXAMPLES, file), ...args], { cwd: ROOT, env: { ...process.env, ...env }, maxBuffer: 1 << 24 },
      (err, stdout, stderr) => (err ? reject(new Error(`${file} failed: ${stderr}`)) : resolve(stdout)));
  });
}

function png(file: string): Buffer {
  const b = fs.readFileSync(file);
  expect(b.subarray(1, 4).toString('latin1')).toBe('PNG');
  expect(b.readUInt32BE(16)).toBeGreaterThan(200);
  return b;
}

/** Two runs with the same seed into two folders. */
async function twice(file: string, args: string[], env: Record<string, string>): Promise<[{ out: string; dir: string }, { out: string; dir: string }]> {
  const runs = [];
  for (const k of [1, 2]) {
    const dir = path.join(tmp, `${path.basename(file, '.mjs')}-${k}`);
    fs.mkdirSync(dir);
    runs.push({ out: await runExample(file, args, { ...env, OUT: dir, SEED: '3' }), dir });
  }
  return runs as [{ out: string; dir: string }, { out: string; dir: string }];
}

describe('examples/course', () => {
  test('ch06 weight_init_activation_histogram: five histograms; sigmoid with std 1 saturates', async () => {
    const [a, b] = await twice('ch06_weight_init_activation_histogram.mjs', ['std', 'sigmoid'], {});
    const p = png(path.join(a.dir, 'weight_init_activation_histogram.png'));
    expect(png(path.join(b.dir, 'weight_init_activation_histogram.png')).equals(p)).toBe(true);
    expect(a.out).toBe(b.out.replace(b.dir, a.dir));
    // Saturated sigmoid: values near 0 and 1, so the std stays near 0.5 (uniform on (0, 1) would be 0.29).
    const stds = [...a.out.matchAll(/-layer: mean \S+, std (\S+)/g)].map((m) => Number(m[1]));
    expect(stds).toHaveLength(5);
    for (const s of stds) expect(s).toBeGreaterThan(0.4);
  }, 120000);

  test('ch06 optimizer_compare_mnist: four optimizers, loss printed every 100 iterations, the smoothed loss plotted', async () => {
    const [a, b] = await twice('ch06_optimizer_compare_mnist.mjs', [], { ITERATIONS: '101' });
    expect(a.out.replace(a.dir, '')).toBe(b.out.replace(b.dir, ''));
    const at100 = Object.fromEntries([...a.out.split('===========iteration:100===========')[1].matchAll(/^(\w+):(\S+)$/gm)].map((m) => [m[1], Number(m[2])]));
    expect(Object.keys(at100)).toEqual(['SGD', 'Momentum', 'AdaGrad', 'Adam']);
    // After 100 steps the adaptive methods are far below plain SGD, as in the course's figure.
    expect(at100.AdaGrad).toBeLessThan(at100.SGD);
    expect(at100.Adam).toBeLessThan(at100.SGD);
    png(path.join(a.dir, 'optimizer_compare_mnist.png'));
  }, 180000);

  test('ch07 train_convnet: Trainer, saved parameters, accuracy chart, filters and predictions', async () => {
    const [a, b] = await twice('ch07_train_convnet.mjs', [], { EPOCHS: '1', MAX_ITERATIONS: '40' });
    expect(a.out.replace(a.dir, '')).toBe(b.out.replace(b.dir, ''));
    const acc = Number(/test acc:(\S+)/.exec(a.out)![1]);
    expect(acc).toBeGreaterThan(0.5);
    for (const f of ['train_convnet.png', 'filters_before.png', 'filters_after.png', 'predictions.png']) {
      expect(png(path.join(b.dir, f)).equals(png(path.join(a.dir, f)))).toBe(true);
    }
    expect(fs.statSync(path.join(a.dir, 'params.safetensors')).size).toBeGreaterThan(4 * 400000);
  }, 180000);
});
