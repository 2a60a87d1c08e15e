// SPDX-License-Identifier: MIT
// blasnet/plot: smoothCurve and histogram counts against numpy (Debian's python3-numpy run
// here), the drawn SVGs read back (bars, grey levels, captions), PNG files, Japanese text,
// and that importing the module loads no drawing package.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { histogram, histogramCounts, imageGrid, lineChart, savePng, saveSvg, smoothCurve, toPng } from '../lib/plot';
import { hasCjkFont, svgToPixels } from '../lib/report/png';
import { randn, setSeed, Tensor, tensor } from '../lib';
import { ensureBuilt, ROOT } from './helpers/dist';

const PYTHON = '/usr/bin/python3';
let tmp: string;
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-plot-')); });
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function numpy(script: string, input: unknown): unknown {
  return JSON.parse(execFileSync(PYTHON, ['-c', `import json, sys\nimport numpy as np\ndata = json.load(sys.stdin)\n${script}`],
    { input: JSON.stringify(input), encoding: 'utf8' }));
}

/** The rect marks of a Vega SVG: their aria-label and height. */
function bars(svg: string): { label: string; height: number }[] {
  return [...svg.matchAll(/<path aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="rect mark" d="M[-\d.e]+,[-\d.e]+h[-\d.e]+v([-\d.e]+)h/g)]
    .map((m) => ({ label: m[1], height: Number(m[2]) }));
}

function texts(svg: string): string[] {
  return [...svg.matchAll(/<text\b[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
}

describe('smoothCurve is the course\'s util.smooth_curve', () => {
  test('equal to the course\'s formula run in numpy, for every length from 1 to 40', () => {
    setSeed(3);
    const curves = Array.from({ length: 40 }, (_, i) => Array.from(randn(i + 1).data, (v, k) => 2.3 * Math.exp(-k / 10) + 0.1 * v));
    const want = numpy(`
def smooth_curve(x):
    window_len = 11
    s = np.r_[x[window_len-1:0:-1], x, x[-1:-window_len:-1]]
    w = np.kaiser(window_len, 2)
    y = np.convolve(w/w.sum(), s, mode='valid')
    return y[5:len(y)-5]
print(json.dumps([smooth_curve(np.array(c)).tolist() for c in data]))`, curves) as number[][];
    curves.forEach((c, i) => {
      const got = smoothCurve(c);
      expect({ n: c.length, len: got.length }).toEqual({ n: c.length, len: want[i].length });
      got.forEach((v, k) => expect(Math.abs(v - want[i][k])).toBeLessThan(1e-12));
    });
    // 11 values and more come back at their own length; a constant stays constant.
    expect(smoothCurve(new Float32Array(50).fill(0.7)).every((v) => Math.abs(v - 0.7) < 1e-6)).toBe(true);
    expect(smoothCurve(randn(100)).length).toBe(100);
  });
});

describe('histogramCounts is numpy.histogram', () => {
  test('fixed range with values on the edges, and the automatic range', () => {
    setSeed(8);
    const v = Array.from(randn(5000).data, (x) => 1 / (1 + Math.exp(-2 * x)));
    v.push(0, 1, 0.5, 1 / 30, 2 / 30, 29 / 30, -0.1, 1.1);   // edges, and values outside the range
    const want = numpy(`
v = np.array(data)
a, ea = np.histogram(v, 30, range=(0, 1))
b, eb = np.histogram(v, 7)
print(json.dumps([a.tolist(), ea.tolist(), b.tolist(), eb.tolist()]))`, v) as number[][];
    const a = histogramCounts(v, { bins: 30, range: [0, 1] });
    expect(a.counts).toEqual(want[0]);
    a.edges.forEach((e, i) => expect(e).toBeCloseTo(want[1][i], 14));
    const b = histogramCounts(v, { bins: 7 });
    expect(b.counts).toEqual(want[2]);
    expect(histogramCounts([2, 2, 2]).counts).toEqual([0, 0, 0, 0, 0, 3, 0, 0, 0, 0]);   // numpy: range (1.5, 2.5)
    expect(() => histogramCounts(v, { bins: 0 })).toThrow(/options.bins must be an integer >= 1/);
    expect(() => histogramCounts(v, { range: [1, 0] })).toThrow(/lo < hi/);
    expect(() => histogramCounts([1, Infinity])).toThrow(/give options.range/);
  });
});

describe('histogram', () => {
  test('one bar per bin, heights proportional to the counts', async () => {
    const values = [0.1, 0.2, 0.2, 0.9, 0.95, 0.97, 0.5];
    const svg = await histogram(values, { bins: 4, range: [0, 1], title: 'h', xLabel: 'activation', yLabel: 'count' });
    const b = bars(svg);
    expect(b.map((x) => Number(/count: (\d+)/.exec(x.label)![1]))).toEqual([3, 0, 1, 3]);
    expect(b[0].height).toBeCloseTo(b[3].height, 6);
    expect(b[0].height).toBeCloseTo(3 * b[2].height, 6);
    expect(b[1].height).toBe(0);
    for (const w of ['h', 'activation', 'count']) expect(texts(svg)).toContain(w);
  });

  test('panels side by side share bins and the count axis, in the given order', async () => {
    setSeed(1);
    const panels = [1, 2, 3, 4, 5].map((i) => ({ title: `${i}-layer`, values: Array.from(randn(1000).data, (x) => 1 / (1 + Math.exp(-i * x))) }));
    const svg = await histogram(panels, { bins: 30, range: [0, 1] });
    const b = bars(svg);
    expect(b.length).toBe(150);
    const words = texts(svg);
    expect(words.filter((w) => /-layer$/.test(w))).toEqual(['1-layer', '2-layer', '3-layer', '4-layer', '5-layer']);
    // One shared y scale: equal counts give equal heights across panels.
    const byCount = new Map<number, number>();
    for (const x of b) {
      const c = Number(/count: (\d+)/.exec(x.label)![1]);
      if (byCount.has(c)) expect(x.height).toBeCloseTo(byCount.get(c)!, 6);
      else byCount.set(c, x.height);
    }
    await expect(histogram([], {})).rejects.toThrow(/at least one panel/);
    await expect(histogram([{ values: [1], tilte: 'x' } as never])).rejects.toThrow(/did you mean 'title'/);
    await expect(histogram('abc' as never)).rejects.toThrow(TypeError);
  });
});

describe('lineChart', () => {
  test('named series in the legend, labels and a fixed y range; x defaults to 0, 1, 2, ...', async () => {
    const svg = await lineChart([{ name: 'SGD', y: [2.3, 1.0, 0.5] }, { name: 'Adam', x: [0, 1, 2], y: new Float32Array([2.3, 0.4, 0.2]) }],
      { title: 'optimizers', xLabel: 'iterations', yLabel: 'loss', yLim: [0, 1] });
    const words = texts(svg);
    for (const w of ['optimizers', 'iterations', 'loss', 'SGD', 'Adam', '0.0', '1.0']) expect(words).toContain(w);
    expect(words.indexOf('SGD')).toBeLessThan(words.indexOf('Adam'));
    // A single unnamed line has no legend.
    const one = await lineChart(tensor([1, 3, 2]));
    expect(texts(one)).not.toContain('y');
    await expect(lineChart([{ y: [1, 2], x: [1] }])).rejects.toThrow(/series\[0\] \('y'\) needs as many x as y values/);
    await expect(lineChart([1, 2], { yLim: [1, 0] })).rejects.toThrow(/options.yLim must be two finite numbers with min < max/);
    await expect(lineChart([1, 2], { ylim: [0, 1] } as never)).rejects.toThrow(/unknown option 'ylim' \(did you mean 'yLim'\?\)/);
    await expect(lineChart([], {})).rejects.toThrow(/at least one line/);
  });
});

describe('imageGrid', () => {
  test('grey levels as the course\'s imshow with gray_r: each image from its own min (white) to max (black)', () => {
    const images = new Tensor(Float32Array.from([0, 1, 2, 3, 10, 10, 10, 20]), [2, 2, 2]);
    const svg = imageGrid(images, { columns: 2 });
    const fills = [...svg.matchAll(/fill="rgb\((\d+),\d+,\d+\)"/g)].map((m) => Number(m[1]));
    expect(fills).toEqual([255, 170, 85, 0, 255, 255, 255, 0]);
    const gray = imageGrid(images, { cmap: 'gray', scale: [0, 20] });
    expect([...gray.matchAll(/fill="rgb\((\d+),\d+,\d+\)"/g)].map((m) => Number(m[1]))).toEqual([0, 13, 26, 38, 128, 128, 128, 255]);
  });

  test('predicted labels above the images, wrong ones in red with the true label; filters by channel', () => {
    const x = new Tensor(new Float32Array(3 * 784).map((_, i) => (i * 7919) % 13), [3, 784]);
    const svg = imageGrid(x, { predicted: [7, 2, 1], labels: new Uint8Array([7, 3, 1]) });
    const caps = [...svg.matchAll(/<text[^>]*fill="([^"]+)">([^<]*)<\/text>/g)].map((m) => [m[2], m[1]]);
    expect(caps).toEqual([['7', '#222'], ['2 (3)', '#d62728'], ['1', '#222']]);
    const filters = new Tensor(new Float32Array(4 * 2 * 3 * 3).map((_, i) => i), [4, 2, 3, 3]);
    const f1 = imageGrid(filters, { channel: 1 });
    expect((f1.match(/<rect x=/g) ?? []).length).toBe(4 * 9 + 4);   // 9 pixels and a frame per filter
    expect(() => imageGrid(filters, { channel: 2 })).toThrow(/options.channel must be below the 2 channels/);
    expect(() => imageGrid(new Tensor(new Float32Array(10), [2, 5]))).toThrow(/not square: give options.shape/);
    expect(() => imageGrid(x, { predicted: [1] })).toThrow(/one entry per image \(3\)/);
  });
});

describe('saving', () => {
  test('savePng writes a PNG twice the SVG size; saveSvg the SVG; a forgotten await is named', async () => {
    const svg = await lineChart([0.9, 0.5, 0.2], { title: 'loss' });
    const png = savePng(svg, path.join(tmp, 'sub', 'loss.png'));
    const bytes = fs.readFileSync(png);
    expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
    const w = Number(/<svg[^>]*\swidth="(\d+)"/.exec(svg)![1]);
    expect(bytes.readUInt32BE(16)).toBe(2 * w);
    expect(fs.readFileSync(saveSvg(svg, path.join(tmp, 'loss.svg')), 'utf8')).toBe(svg);
    expect(() => savePng(lineChart([1, 2]) as never, path.join(tmp, 'x.png'))).toThrow(/svg is a Promise: write `toPng\(await lineChart/);
    expect(() => saveSvg('<p>no</p>', path.join(tmp, 'x.svg'))).toThrow(/must be an SVG string/);
    expect(fs.existsSync(path.join(tmp, 'x.png'))).toBe(false);
  });

  test('Japanese text is drawn with a CJK font, not as boxes', async () => {
    expect(hasCjkFont()).toBe(true);
    expect(hasCjkFont({ systemFonts: false })).toBe(false);
    const draw = (s: string): Buffer => svgToPixels(imageGrid([[0, 1, 1, 0]], { titles: [s], cell: 60 })).pixels;
    // Two different words give different pictures, and neither is the missing-glyph box.
    const a = draw('勾配'), b = draw('消失'), tofu = draw('\ue000\ue000');
    expect(a.equals(b)).toBe(false);
    expect(a.equals(tofu)).toBe(false);
    const chart = await lineChart([1, 2, 3], { title: '勾配消失', yLabel: '損失' });
    expect(chart).toMatch(/IPAPGothic/);
    expect(toPng(chart).length).toBeGreaterThan(1000);
  });

  test('a missing drawing package gives an error that says what to install', () => {
    jest.isolateModules(() => {
      jest.doMock('@resvg/resvg-js', () => { throw Object.assign(new Error("Cannot find module '@resvg/resvg-js'"), { code: 'MODULE_NOT_FOUND' }); });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const plot = require('../lib/plot') as typeof import('../lib/plot');
      expect(() => plot.toPng('<svg xmlns="http://www.w3.org/2000/svg" width="2" height="2"></svg>'))
        .toThrow(/toPng: drawing needs the npm package @resvg\/resvg-js, which is not installed \(npm install @resvg\/resvg-js\)/);
      jest.dontMock('@resvg/resvg-js');
    });
  });

  test('importing blasnet/plot (CommonJS and ESM) loads neither vega nor resvg', () => {
    ensureBuilt(path.join(ROOT, 'dist', 'lib', 'plot.js'));
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'write-esm-entry.js')]);
    const cjs = execFileSync(process.execPath, ['-e', `require('blasnet/plot'); console.log(Object.keys(require.cache).filter((k) => /node_modules[\\\\/](vega|@resvg)/.test(k)).length)`],
      { cwd: ROOT, encoding: 'utf8' });
    expect(cjs.trim()).toBe('0');
    const esm = execFileSync(process.execPath, ['--input-type=module', '-e',
      "import { lineChart, smoothCurve } from 'blasnet/plot'; const svg = await lineChart(smoothCurve(Array.from({ length: 20 }, (_, i) => i))); console.log(svg.startsWith('<svg'))"],
    { cwd: ROOT, encoding: 'utf8' });
    expect(esm.trim()).toBe('true');
  });
});
