// SPDX-License-Identifier: MIT
// The learner-facing side of the exercises: the activation-histogram exercise against a
// reference computed here, the verdicts that say when a run is too short for its finding,
// and a Japanese report rendered in headless Chromium with real Japanese glyphs.
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randn, setSeed } from '../lib';
import { classifyLayer, layerStats, reluTrend } from '../lib/experiments/activations';
import { compareFinal, Curve, observe, RunRecord, runLengthFinding, runVerdict } from '../lib/experiments/common';
import { messages } from '../lib/i18n';
import { histogramCounts } from '../lib/plot';
import { svgToPixels } from '../lib/report/png';
import { ensureBuilt, ROOT } from './helpers/dist';

const DIST = path.join(ROOT, 'dist', 'lib', 'experiments', 'all.js');
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-learner-'));
  ensureBuilt(DIST);
}, 120000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs an exercise from the compiled package in a plain node process (fast loops, as in experiments.test.ts). */
function runCompiled(fn: string, opts: Record<string, unknown>): Promise<void> {
  const script = `require(${JSON.stringify(DIST)}).${fn}(JSON.parse(process.argv[1])).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script, JSON.stringify(opts)], { cwd: ROOT, maxBuffer: 1 << 24 }, (err, _out, stderr) => {
      if (err) reject(new Error(`${fn} failed: ${stderr}`));
      else resolve();
    });
  });
}

const read = (dir: string, f: string): string => fs.readFileSync(path.join(dir, f), 'utf8');

interface ActRun { id: string; kind: string; observation: string; layers: { std: number; counts: number[]; edges: number[]; atEnds: number; atCentre: number }[] }

describe('activations: the course\'s weight_init_activation_histogram', () => {
  let dir: string;
  let runs: Map<string, ActRun>;
  beforeAll(async () => {
    dir = path.join(tmp, 'act');
    await runCompiled('activationsExperiment', { out: dir, seed: 1 });
    runs = new Map((JSON.parse(read(dir, 'results.json')).runs as ActRun[]).map((r) => [r.id, r]));
  }, 300000);

  test('one figure of five histograms per setting, 12 settings, in the report', () => {
    expect([...runs.keys()]).toEqual(['sigmoid', 'tanh', 'relu'].flatMap((a) => ['std1', 'std0.01', 'xavier', 'he'].map((i) => `${a}-${i}`)));
    const md = read(dir, 'report.md');
    for (const id of runs.keys()) {
      const svg = read(dir, path.join('charts', `${id}.svg`));
      for (let l = 1; l <= 5; l++) expect(svg).toContain(`${l}-layer`);
      expect(fs.readFileSync(path.join(dir, 'charts', `${id}.png`)).subarray(1, 4).toString('latin1')).toBe('PNG');
      expect(md).toContain(`(charts/${id}.png)`);
      for (const layer of runs.get(id)!.layers) expect(layer.counts).toHaveLength(30);
    }
  });

  test('the course\'s lessons come out of the numbers', () => {
    const kind = (id: string): string => runs.get(id)!.kind;
    expect(kind('sigmoid-std1')).toBe('saturated');
    expect(kind('sigmoid-std0.01')).toBe('collapsed');
    expect(kind('sigmoid-xavier')).toBe('spread');
    expect(kind('tanh-std1')).toBe('saturated');
    expect(kind('tanh-std0.01')).toBe('collapsed');
    expect(kind('tanh-xavier')).toBe('spread');
    expect(kind('relu-std1')).toBe('grows');
    expect(kind('relu-std0.01')).toBe('collapsed');
    expect(kind('relu-xavier')).toBe('shrinks');
    expect(kind('relu-he')).toBe('spread');
    expect(runs.get('sigmoid-std1')!.observation).toMatch(/^saturated at 0 and 1 \(layers 1-5; \d+% of the values within 0\.02 of 0 or 1\)/);
    expect(runs.get('sigmoid-std0.01')!.observation).toMatch(/^collapsed to 0\.5 /);
    expect(read(dir, 'report.md')).toMatch(/sigmoid: std 1 saturated at 0 and 1, std 0\.01 collapsed to 0\.5, Xavier spread kept/);
  });

  test('activations and histograms equal a reference computed here in double precision from the same draws', () => {
    for (const [act, std, f] of [
      ['sigmoid', 1, (a: number) => 1 / (1 + Math.exp(-a))],
      ['relu', Math.sqrt(2 / 100), (a: number) => (a > 0 ? a : 0)],
    ] as const) {
      setSeed(1);
      let x = Float64Array.from(randn(1000, 100).data);
      const run = runs.get(`${act}-${act === 'relu' ? 'he' : 'std1'}`)!;
      for (let l = 0; l < 5; l++) {
        const W = randn([100, 100], std).data;
        const y = new Float64Array(1000 * 100);
        for (let n = 0; n < 1000; n++) {
          for (let k = 0; k < 100; k++) {
            const xv = x[n * 100 + k];
            if (xv === 0) continue;
            for (let j = 0; j < 100; j++) y[n * 100 + j] += xv * W[k * 100 + j];
          }
        }
        x = y.map(f);
        let s = 0, q = 0;
        for (const v of x) { s += v; q += v * v; }
        const sd = Math.sqrt(q / x.length - (s / x.length) ** 2);
        expect(Math.abs(run.layers[l].std - sd) / sd).toBeLessThan(1e-4);
        // Counts agree but for values within float32 rounding of a bin edge.
        const want = histogramCounts(x, { bins: 30, range: [0, 1] }).counts;
        const diff = want.reduce((a, c, i) => a + Math.abs(c - run.layers[l].counts[i]), 0);
        expect(diff).toBeLessThanOrEqual(10);
      }
    }
  });

  test('the thresholds: saturated, collapsed and spread layers, and ReLU\'s trends', () => {
    const ends = Float32Array.from({ length: 1000 }, (_, i) => (i % 2 ? 0.995 : 0.005));
    expect(classifyLayer(layerStats('sigmoid', ends, [0, 1]))).toBe('saturated');
    expect(classifyLayer(layerStats('sigmoid', new Float32Array(1000).fill(0.51), [0, 1]))).toBe('collapsed');
    expect(classifyLayer(layerStats('sigmoid', Float32Array.from({ length: 1000 }, (_, i) => i / 1000), [0, 1]))).toBe('spread');
    expect(classifyLayer(layerStats('tanh', new Float32Array(1000).fill(-0.999), [-1, 1]))).toBe('saturated');
    const relu = (sd: number) => layerStats('relu', Float32Array.from({ length: 1000 }, (_, i) => (i % 2) * sd * (i % 7)), [0, 1]);
    expect(reluTrend([relu(1), relu(1.1)])).toBe('spread');
    expect(reluTrend([relu(1), relu(3)])).toBe('grows');
    expect(reluTrend([relu(1), relu(0.3)])).toBe('shrinks');
    expect(reluTrend([relu(1), relu(0.001)])).toBe('collapsed');
  });
});

describe('too short for the finding: verdicts against the course\'s run length', () => {
  const curve = (test: number[], every: number, loss: number[] = []): Curve => ({
    iterations: test.map((_, i) => i * every), trainAcc: test, testAcc: test, loss,
    iterationsDone: (test.length - 1) * every, trainSeconds: 0, stopped: false,
  });
  const m = messages('en');

  test('still at chance: too short below the course\'s length, "did not learn" at or beyond it', () => {
    const flat = curve(new Array(31).fill(0.1), 10);   // 300 iterations
    const v = runVerdict(flat, 2000, 2000);
    expect(v).toMatchObject({ state: 'atChance', tooShort: true, courseIterations: 2000 });
    expect(observe(flat, { verdict: v })).toMatch(/^did not learn: .*; too short to tell whether it would: the course's run is 2000 iterations/);
    const long = curve(new Array(21).fill(0.1), 100);  // 2000 iterations
    const lv = runVerdict(long, 2000, 2000);
    expect(lv.tooShort).toBe(false);
    expect(observe(long, { verdict: lv })).not.toMatch(/too short/);
  });

  test('still improving at the end: too short; a plateau is settled', () => {
    const rising = curve([0.1, 0.3, 0.45, 0.55, 0.62, 0.68, 0.74, 0.79, 0.83, 0.86, 0.88], 10);
    const v = runVerdict(rising, 2000, 1000);
    expect(v.state).toBe('improving');
    expect(v.recentGain).toBeGreaterThan(0.05);
    expect(observe(rising, { verdict: v })).toMatch(/still improving at the end \(test accuracy \+0\.\d\d over the last third of the run\)/);
    const plateau = curve([0.1, 0.6, 0.85, 0.9, 0.91, 0.9, 0.905, 0.9, 0.91, 0.9, 0.905], 100);
    expect(runVerdict(plateau, 2000, 1000)).toMatchObject({ state: 'settled', tooShort: false });
    // Noise of one measurement on 1000 samples at p = 0.9: sqrt(0.09 / 1000).
    expect(runVerdict(plateau, 2000, 1000).noise).toBeCloseTo(Math.sqrt(0.9 * 0.1 / 1000), 3);
  });

  test('the first finding says whether the comparisons stand; close finals are "within the noise"', () => {
    const rec = (id: string, c: Curve, course: number): RunRecord => {
      const verdict = runVerdict(c, course, 1000);
      return { id, label: id, settings: {}, curve: c, verdict, observation: observe(c, { verdict }) };
    };
    const chance = rec('momentum 0.8', curve(new Array(31).fill(0.1), 10), 2000);
    const good = rec('AdaGrad', curve([0.1, 0.5, 0.8, 0.86, 0.88, 0.88, 0.88, 0.88, 0.88, 0.88, 0.88], 30), 2000);
    expect(runLengthFinding([chance, good], 300, 2000, m)).toMatch(/^Too short: 300 iterations per configuration against the course's 2000; 1 of 2 configurations were still at chance or still improving/);
    expect(runLengthFinding([good], 300, 2000, m)).toMatch(/^Run length: 300 iterations .* the comparisons below stand/);
    expect(runLengthFinding([chance], 2000, 2000, m)).toMatch(/as long as the course's 2000 or longer/);
    const a = rec('a', curve([0.1, 0.9, 0.9, 0.9, 0.9], 100), 100), b = rec('b', curve([0.1, 0.9, 0.9, 0.9, 0.905], 100), 100);
    expect(compareFinal(a, b).verdict).toBe('same');
    const c = rec('c', curve([0.1, 0.95, 0.95, 0.95, 0.95], 100), 100);
    expect(compareFinal(c, a).verdict).toBe('higher');
  });

  test('a 300-iteration optimizer run says it is too short instead of "momentum 0.8 does not learn"', async () => {
    const dir = path.join(tmp, 'opt-short');
    await runCompiled('optimizersExperiment', { out: dir, iterations: 300, evalEvery: 20, evalSamples: 1000, momentums: [0.8, 0.9], rmspropLrs: [], rmspropDecays: [] });
    const res = JSON.parse(read(dir, 'results.json'));
    expect(res.courseIterations).toBe(2000);
    // Loss charts as the course plots them, beside the accuracy ones.
    for (const id of ['compare-loss-optimizers', 'compare-loss-batchnorm']) expect(fs.existsSync(path.join(dir, 'charts', `${id}.svg`))).toBe(true);
    expect(read(dir, 'charts/compare-loss-optimizers.svg')).toContain('training loss (smoothed)');
    const runs = new Map<string, { observation: string; testAcc: number[]; verdict: { tooShort: boolean; state: string } }>(res.runs.map((r: { id: string }) => [r.id, r]));
    const short = [...runs.values()].filter((r) => r.verdict.tooShort);
    // Whatever this machine's numbers are, every run that is still at chance or improving is marked, and said so.
    for (const r of runs.values()) {
      const atChance = Math.max(...r.testAcc) < 0.2;
      if (atChance) {
        expect(r.verdict.tooShort).toBe(true);
        expect(r.observation).toMatch(/too short to tell whether it would/);
      }
    }
    if (short.length) expect(res.findings[0]).toMatch(/^Too short: 300 iterations per configuration against the course's 2000/);
    else expect(res.findings[0]).toMatch(/^Run length: 300/);
    const mom = res.findings.find((f: string) => /Momentum:/.test(f));
    if (runs.get('momentum0.8')!.verdict.tooShort) expect(mom).toMatch(/^too short to conclude: Momentum:/);
  }, 300000);
});

const CHROMIUM = '/usr/bin/chromium';

/** In the page: each string drawn alone on a canvas with the given font, as a signature of its pixels. */
const GLYPHS = `(([font, strings]) => strings.map((s) => {
  const c = document.createElement('canvas'); c.width = 64; c.height = 64;
  const g = c.getContext('2d'); g.fillStyle = '#fff'; g.fillRect(0, 0, 64, 64);
  g.fillStyle = '#000'; g.font = '40px ' + font; g.textBaseline = 'top'; g.fillText(s, 4, 8);
  const d = g.getImageData(0, 0, 64, 64).data; let sig = ''; let dark = 0;
  for (let i = 0; i < d.length; i += 4) { const v = d[i] < 128 ? 1 : 0; sig += v; dark += v; }
  return { sig, dark, width: g.measureText(s).width };
}))`;

(fs.existsSync(CHROMIUM) ? describe : describe.skip)('a Japanese report', () => {
  test('--lang ja: Japanese titles and observations; Chromium draws them with a font that has the glyphs, and so do the PNGs', async () => {
    const dir = path.join(tmp, 'ja');
    await runCompiled('activationsExperiment', { out: dir, seed: 1, lang: 'ja' });
    const md = read(dir, 'report.md');
    expect(md).toMatch(/^# 重みの初期値とアクティベーションの分布/);
    expect(md).toContain('シグモイド、標準偏差 1: 0 と 1 に偏っている（飽和）');
    expect(md).toContain('グラフのもとになった数値はすべて');
    const html = read(dir, 'report.html');
    expect(html).toContain('<html lang="ja">');

    // The PNG of a figure: its Japanese title drawn as glyphs, not as missing-glyph boxes.
    const svg = read(dir, 'charts/sigmoid-std1.svg');
    expect(svg).toContain('シグモイド、標準偏差 1');
    const tofu = svg.split('シグモイド、標準偏差 1').join('\ue000'.repeat('シグモイド、標準偏差 1'.length));
    expect(svgToPixels(svg).pixels.equals(svgToPixels(tofu).pixels)).toBe(false);
    const other = svg.split('シグモイド、標準偏差 1').join('シグモイド、標準偏差 2');
    expect(svgToPixels(svg).pixels.equals(svgToPixels(other).pixels)).toBe(false);

    const { chromium } = await import('playwright-core');
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await context.newPage();
      await page.route('**/*', (route) => (/^(file|data):/.test(route.request().url()) ? route.continue() : route.abort()));
      await page.goto(pathToFileURL(path.join(dir, 'report.html')).href, { waitUntil: 'load' });
      expect(await page.locator('h1').textContent()).toBe('重みの初期値とアクティベーションの分布');
      const font = await page.evaluate('getComputedStyle(document.querySelector("h1")).fontFamily') as string;
      // Two different kanji, and the same kanji next to a character no font has: a page without
      // Japanese glyphs draws all of them as the same box.
      const g = await page.evaluate(`${GLYPHS}(${JSON.stringify([font, ['勾', '配', '\ue000', '\ue001']])})`) as { sig: string; dark: number; width: number }[];
      expect(g[2].sig).toBe(g[3].sig);                 // two missing glyphs: the same box
      expect(g[0].sig).not.toBe(g[2].sig);             // a kanji is not that box
      expect(g[1].sig).not.toBe(g[2].sig);
      expect(g[0].sig).not.toBe(g[1].sig);             // and two kanji differ
      for (const k of [0, 1]) expect(g[k].dark).toBeGreaterThan(30);
      // Which font Chromium used for the title's text (DevTools protocol).
      const cdp = await context.newCDPSession(page);
      await cdp.send('DOM.enable');
      await cdp.send('CSS.enable');
      const { root } = await cdp.send('DOM.getDocument') as { root: { nodeId: number } };
      const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector: 'h1' }) as { nodeId: number };
      const { fonts } = await cdp.send('CSS.getPlatformFontsForNode', { nodeId }) as { fonts: { familyName: string; glyphCount: number }[] };
      const cjk = fonts.filter((f) => /IPA|Noto Sans CJK|Noto Serif CJK|Gothic|Mincho/i.test(f.familyName));
      expect(cjk.reduce((a, f) => a + f.glyphCount, 0)).toBeGreaterThanOrEqual('重みの初期値とアクティベーションの分布'.length - 2);
      // Every figure is loaded.
      const loaded = await page.evaluate('[...document.images].map((i) => i.complete && i.naturalWidth > 100)') as boolean[];
      expect(loaded).toHaveLength(12);
      expect(loaded.every(Boolean)).toBe(true);
    } finally {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    }
  }, 300000);
});
