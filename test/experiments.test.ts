// SPDX-License-Identifier: MIT
// The four exercises in shortened form: each must still show the direction of
// the course's findings, and write charts, results.json and both reports.
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { beforeAll, describe, expect, test } from '@jest/globals';
import { loadMnist, MnistData } from '../lib/data';
import { vanishingGradient, runExperiment, observe, Curve } from '../lib/experiments/all';
import { ensureBuilt, ROOT } from './helpers/dist';

const DIST = path.join(ROOT, 'dist', 'lib', 'experiments', 'all.js');
let data: MnistData<Int32Array>;
let tmp: string;

beforeAll(() => {
  data = loadMnist({ flatten: true });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-exp-'));
  ensureBuilt(DIST);
}, 120000);

/**
 * Runs an exercise from the compiled package in a plain node process. Inside jest's sandbox,
 * element loops that look up globals such as Math (sigmoid, weight decay) run about 25 times
 * slower than in node, which would make even the shortened exercises take minutes.
 */
function runCompiled(fn: string, opts: Record<string, unknown>): Promise<void> {
  const script = `require(${JSON.stringify(DIST)}).${fn}(JSON.parse(process.argv[1])).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script, JSON.stringify(opts)], { cwd: ROOT, maxBuffer: 1 << 24 }, (err, _out, stderr) => {
      if (err) reject(new Error(`${fn} failed: ${stderr}`));
      else resolve();
    });
  });
}

interface RunJson {
  id: string;
  label: string;
  settings: Record<string, unknown>;
  observation: string;
  iterations: number[];
  trainAcc: number[];
  testAcc: number[];
  iterationsDone: number;
}

const lastOf = (a: number[]): number => a[a.length - 1];
const gap = (r: RunJson): number => lastOf(r.trainAcc) - lastOf(r.testAcc);
/** First measured iteration with test accuracy >= level, Infinity when never (computed here, not by the code under test). */
const reach = (r: RunJson, level: number): number => {
  const i = r.testAcc.findIndex((v) => v >= level);
  return i < 0 ? Infinity : r.iterations[i];
};

/** Checks the files every run writes and returns results.json parsed. */
function checkReportFiles(dir: string, chartIds: string[]): { runs: RunJson[]; [k: string]: unknown } {
  for (const f of ['results.json', 'report.md', 'report.html']) expect(fs.existsSync(path.join(dir, f))).toBe(true);
  const results = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8'));
  const md = fs.readFileSync(path.join(dir, 'report.md'), 'utf8');
  const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
  expect(html).toMatch(/^<!DOCTYPE html>/i);
  expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=["']https?:/i);
  expect(md).toContain('final test acc');
  for (const id of chartIds) {
    const svg = fs.readFileSync(path.join(dir, 'charts', `${id}.svg`), 'utf8');
    expect(svg).toContain('<svg');
    const png = fs.readFileSync(path.join(dir, 'charts', `${id}.png`));
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
  }
  // Every configuration has a chart of its own and an observation line in both reports.
  for (const r of results.runs as RunJson[]) {
    expect(fs.existsSync(path.join(dir, 'charts', `${r.id}.svg`))).toBe(true);
    expect(md).toContain(r.observation.slice(0, 40));
    expect(r.iterations.length).toBe(r.trainAcc.length);
    expect(r.iterations.length).toBe(r.testAcc.length);
    for (const v of [...r.trainAcc, ...r.testAcc]) expect(v >= 0 && v <= 1).toBe(true);
  }
  return results;
}

describe('observe', () => {
  const curve = (test: number[], train = test, every = 100): Curve => ({
    iterations: test.map((_, i) => i * every), trainAcc: train, testAcc: test, loss: [],
    iterationsDone: (test.length - 1) * every, trainSeconds: 0, stopped: false,
  });
  test('chance level all along: did not learn, with the value', () => {
    expect(observe(curve([0.1, 0.11, 0.11, 0.11]))).toMatch(/^did not learn: test accuracy stayed at 0\.11/);
  });
  test('late start: stalled, then learned', () => {
    expect(observe(curve([0.1, 0.1, 0.11, 0.1, 0.6, 0.9]))).toMatch(/^stalled near chance until iteration 400, then learned: test accuracy 0\.90/);
  });
  test('train far above test: names the gap', () => {
    expect(observe(curve([0.1, 0.6, 0.7], [0.1, 0.9, 1.0]))).toMatch(/gap of 0\.30 \(overfitting\)/);
  });
  test('rose then fell back to chance: collapsed', () => {
    expect(observe(curve([0.1, 0.4, 0.1]))).toMatch(/collapsed.*0\.40.*0\.10/);
  });
});

describe('experiments, shortened', () => {
  test('vanishing-gradient: sigmoid with std 0.01 stays at chance, He + ReLU learns, ReLU std 0.01 starts later', async () => {
    const dir = path.join(tmp, 'vg');
    await runCompiled('vanishingGradient', {
      out: dir, iterations: 800, evalEvery: 50, evalSamples: 1000, sweepHidden: [[20, 10]], sweepLr: [2],
    });
    const res = checkReportFiles(dir, ['sigmoid-std0.01', 'relu-he', 'compare-sigmoid', 'compare-relu', 'compare-sweep']);
    expect(res.stopped).toBe(false);
    const runs = new Map(res.runs.map((r) => [r.id, r]));
    expect(res.runs.map((r) => r.id).sort()).toEqual(['relu-he', 'relu-std0.01', 'relu-xavier', 'sigmoid-he', 'sigmoid-std0.01', 'sigmoid-xavier']);
    const sig = runs.get('sigmoid-std0.01')!;
    expect(Math.max(...sig.testAcc)).toBeLessThan(0.2);
    expect(sig.observation).toMatch(/^did not learn/);
    const he = runs.get('relu-he')!;
    expect(lastOf(he.testAcc)).toBeGreaterThan(0.85);
    expect(reach(runs.get('relu-std0.01')!, 0.5)).toBeGreaterThan(reach(he, 0.5));
    expect(lastOf(runs.get('relu-xavier')!.testAcc)).toBeGreaterThan(0.8);
    // The sweep: a larger learning rate lets the failing case learn.
    const sweep = res.sweep as RunJson[];
    expect(sweep.map((r) => r.id)).toEqual(['sweep-hidden-20x10', 'sweep-lr-2']);
    expect(lastOf(sweep[1].testAcc)).toBeGreaterThan(Math.max(...sig.testAcc) + 0.2);
    expect(fs.readFileSync(path.join(dir, 'report.md'), 'utf8')).toMatch(/sigmoid, std 0\.01: did not learn: test accuracy stayed at 0\.1\d/);
  });

  test('optimizers: momentum 0.9 beats 0, RMSprop depends on lr and decay, batch norm speeds SGD up', async () => {
    const dir = path.join(tmp, 'opt');
    await runCompiled('optimizersExperiment', {
      out: dir, iterations: 600, evalEvery: 50, evalSamples: 1000, momentums: [0, 0.9], rmspropLrs: [0.01, 0.1], rmspropDecays: [0.9, 0.99],
    });
    const res = checkReportFiles(dir, ['compare-momentum', 'compare-rmsprop', 'compare-batchnorm']);
    const runs = new Map(res.runs.map((r) => [r.id, r]));
    expect(res.runs).toHaveLength(2 * 9);
    const m0 = runs.get('momentum0')!, m9 = runs.get('momentum0.9')!;
    expect(lastOf(m9.testAcc)).toBeGreaterThan(lastOf(m0.testAcc) + 0.2);
    const rms = res.runs.filter((r) => r.settings.optimizer === 'rmsprop' && !r.settings.batchNorm).map((r) => lastOf(r.testAcc));
    expect(Math.max(...rms) - Math.min(...rms)).toBeGreaterThan(0.3);
    expect(reach(runs.get('sgd-bn')!, 0.5)).toBeLessThan(reach(runs.get('sgd')!, 0.5));
    expect(runs.get('sgd-bn')!.settings.batchNorm).toBe(true);
  });

  test('overfitting: 300 samples overfit, a moderate L2 narrows the gap, a tiny one does nothing, a huge one stops learning', async () => {
    const dir = path.join(tmp, 'ovf');
    await runCompiled('overfittingExperiment', {
      out: dir, iterations: 600, evalEvery: 50, evalSamples: 1000, l2Lambdas: [0.001, 0.1, 1], l1Lambdas: [0.01],
      dropoutRatios: [0.1], otherOptimizers: false,
    });
    const res = checkReportFiles(dir, ['none', 'compare-l2-test', 'compare-l1-test']);
    expect((res.settings as { trainSamples: number }).trainSamples).toBe(300);
    const runs = new Map(res.runs.map((r) => [r.id, r]));
    const none = runs.get('none')!;
    expect(lastOf(none.trainAcc)).toBeGreaterThan(0.95);
    expect(gap(none)).toBeGreaterThan(0.15);
    expect(Math.abs(gap(runs.get('l2-0.001')!) - gap(none))).toBeLessThan(0.05);
    expect(gap(runs.get('l2-0.1')!)).toBeLessThan(gap(none) - 0.05);
    expect(gap(runs.get('l1-0.01')!)).toBeLessThan(gap(none) - 0.05);
    expect(lastOf(runs.get('l2-1')!.trainAcc)).toBeLessThan(0.3);
    expect(runs.has('dropout-0.2-l1-0.001')).toBe(true);
  });

  test('convnet: im2col shapes, SimpleConvNet learns, timing and filter pictures', async () => {
    const dir = path.join(tmp, 'conv');
    await runCompiled('convnetExperiment', { out: dir, iterations: 60, evalEvery: 30, evalSamples: 300 });
    const res = checkReportFiles(dir, ['simple-convnet', 'multi-layer-net', 'compare-test', 'filters-before', 'filters-after']) as unknown as {
      im2col: { rows: (string | number)[][]; maxError: number }; timing: { label: string; msPerIteration: number }[];
      runs: RunJson[]; filters: { shape: number[]; before: number[]; after: number[] };
    };
    // Shapes by the course's formula, computed here: rows N*OH*OW, columns C*FH*FW.
    const byInput = new Map(res.im2col.rows.map((r) => [`${r[0]} ${r[1]} ${r[2]} ${r[3]}`, r]));
    expect(byInput.get('(10, 3, 7, 7) 5x5 1 0')![5]).toBe('(90, 75)');
    expect(byInput.get('(1, 1, 28, 28) 3x3 1 1')![5]).toBe('(784, 9)');
    expect(byInput.get('(2, 1, 28, 28) 3x3 2 1')![5]).toBe(`(${2 * 14 * 14}, 9)`);
    expect(res.im2col.maxError).toBeLessThan(1e-4);
    expect(fs.readFileSync(path.join(dir, 'report.md'), 'utf8')).toContain('im2col -> (90, 75)');
    expect(res.timing.map((t) => t.label)).toEqual(['SimpleConvNet', 'MultiLayerNet [100, 100]']);
    for (const t of res.timing) expect(t.msPerIteration).toBeGreaterThan(0);
    expect(lastOf(res.runs[0].testAcc)).toBeGreaterThan(0.4);
    expect(res.filters.shape).toEqual([30, 1, 5, 5]);
    expect(res.filters.after).not.toEqual(res.filters.before);
  });

  test('a stop request keeps the run in progress, skips the rest and still writes the report', async () => {
    const dir = path.join(tmp, 'stopped');
    const stop = { stopped: false };
    let steps = 0;
    const out = await runExperiment('vanishing-gradient', {
      out: dir, data, iterations: 100, evalEvery: 50, evalSamples: 200, stop, sweep: false,
      log: (line) => { if (line.startsWith('[1/')) { stop.stopped = true; steps++; } },
    });
    expect(steps).toBeGreaterThan(0);
    expect(out[0].stopped).toBe(true);
    const res = checkReportFiles(dir, []);
    expect(res.stopped).toBe(true);
    expect(res.runs.length).toBe(1);
  });

  test('an existing non-empty output folder is refused', async () => {
    const dir = path.join(tmp, 'full');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'x'), '');
    await expect(vanishingGradient({ out: dir, data, iterations: 1 })).rejects.toThrow(/not empty/);
  });
});
