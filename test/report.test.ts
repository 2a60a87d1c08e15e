// SPDX-License-Identifier: MIT
// Charts and reports: SVG/PNG content, files written and read back, and the
// HTML report rendered in a real headless chromium.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { Resvg } from '@resvg/resvg-js';
import {
  filterGridSvg, renderChart, svgToPng, writeReport, writeFileAtomic, type LineChart, type Report,
} from '../lib/report';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Width and height from the IHDR chunk, read by hand. */
function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
  expect(png.toString('latin1', 12, 16)).toBe('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/** Decodes a PNG into RGBA pixels by drawing it as an <image> with resvg. */
function decodePng(png: Buffer): { width: number; height: number; pixels: Buffer } {
  const { width, height } = pngSize(png);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${height}">`
    + `<image width="${width}" height="${height}" xlink:href="data:image/png;base64,${png.toString('base64')}"/></svg>`;
  const img = new Resvg(svg, { font: { loadSystemFonts: false } }).render();
  return { width: img.width, height: img.height, pixels: img.pixels };
}

function distinctColours(pixels: Buffer): number {
  const seen = new Set<number>();
  for (let i = 0; i < pixels.length; i += 4) seen.add(pixels.readUInt32BE(i));
  return seen.size;
}

function darkPixels(pixels: Buffer): number {
  let n = 0;
  for (let i = 0; i < pixels.length; i += 4) if (pixels[i] + pixels[i + 1] + pixels[i + 2] < 200 && pixels[i + 3] > 0) n++;
  return n;
}

/** Attribute values of every element with a given tag, in document order. */
function attrs(svg: string, tag: string, attr: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${tag}\\b[^>]*?\\s${attr}="([^"]*)"`, 'g');
  for (let m = re.exec(svg); m; m = re.exec(svg)) out.push(m[1]);
  return out;
}

/** Text content of every <text> element. */
function texts(svg: string): string[] {
  return [...svg.matchAll(/<text\b[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
}

const iterations = Array.from({ length: 50 }, (_, i) => i * 10);

function accuracyChart(id: string): LineChart {
  return {
    id,
    title: `Accuracy ${id}`,
    xLabel: 'iterations',
    yLabel: 'accuracy',
    yDomain: [0, 1],
    series: [
      { name: 'train', x: iterations, y: iterations.map((i) => 0.1 + 0.85 * (1 - Math.exp(-i / 120))) },
      { name: 'test', x: iterations, y: iterations.map((i) => 0.1 + 0.75 * (1 - Math.exp(-i / 150))) },
    ],
  };
}

let tmpRoot: string;
beforeAll(() => { tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-report-')); });
afterAll(() => { fs.rmSync(tmpRoot, { recursive: true, force: true }); });

describe('renderChart', () => {
  test('SVG holds title, axis titles and series names in the given order; PNG is a real picture', async () => {
    const chart = accuracyChart('sigmoid-std0.01');
    chart.series.push({ name: 'He (ReLU)', x: [0, 490], y: [0.5, 0.5] });
    const { svg, png } = await renderChart(chart);
    const words = texts(svg);
    for (const w of ['Accuracy sigmoid-std0.01', 'iterations', 'accuracy', 'train', 'test', 'He (ReLU)']) {
      expect(words).toContain(w);
    }
    // The legend keeps the caller's order, not alphabetical order.
    const legend = words.filter((w) => ['train', 'test', 'He (ReLU)'].includes(w));
    expect(legend).toEqual(['train', 'test', 'He (ReLU)']);
    // One stroked path per series, each in its own colour.
    const strokes = new Set(attrs(svg, 'path', 'stroke').filter((s) => /^#[0-9a-f]{6}$/i.test(s) && !/^#(e6e6e6|bbbbbb|888888|ddd+)$/i.test(s)));
    expect(strokes.size).toBeGreaterThanOrEqual(3);
    expect(svg).not.toMatch(/NaN/);

    const w = Number(/<svg[^>]*\swidth="(\d+)"/.exec(svg)![1]);
    const h = Number(/<svg[^>]*\sheight="(\d+)"/.exec(svg)![1]);
    const size = pngSize(png);
    expect(size).toEqual({ width: 2 * w, height: 2 * h });
    expect(png.length).toBeGreaterThan(5000);
    const { pixels } = decodePng(png);
    expect(distinctColours(pixels)).toBeGreaterThan(20);
    // Text and lines are drawn, not just a white background.
    expect(darkPixels(pixels)).toBeGreaterThan(500);
  });

  test('yDomain fixes the y axis; without it the axis follows the data', async () => {
    const series = [{ name: 'mid', x: [10, 20, 30], y: [0.42, 0.47, 0.52] }];
    const base = { title: 't', xLabel: 'x', yLabel: 'y', series };
    const fixed = texts((await renderChart({ ...base, id: 'fixed', yDomain: [0, 1] })).svg);
    expect(fixed).toContain('0.0');
    expect(fixed).toContain('1.0');
    const free = texts((await renderChart({ ...base, id: 'free' })).svg);
    expect(free).not.toContain('0.0');
    expect(free).not.toContain('1.0');
    expect(free.map(Number).filter((v) => v > 0.4 && v < 0.55).length).toBeGreaterThan(2);
  });

  test('non-finite y values (a diverged loss) are left out; log x axis works', async () => {
    const { svg } = await renderChart({
      id: 'loss', title: 'loss', xLabel: 'lr', yLabel: 'loss', xScale: 'log',
      series: [{ name: 'run', x: [1e-4, 1e-3, 1e-2, 1e-1], y: [2.3, 1.1, NaN, Infinity] }],
    });
    expect(svg).not.toMatch(/NaN|Infinity/);
    expect(texts(svg).some((t) => /0\.001|1e-3/.test(t))).toBe(true);
  });

  test('a sweep with more than 10 series gets distinct colours', async () => {
    const series = Array.from({ length: 14 }, (_, k) => ({ name: `lr ${k}`, x: iterations, y: iterations.map((i) => (i * (k + 1)) / 8000) }));
    const { svg } = await renderChart({ id: 'sweep', title: 'sweep', xLabel: 'iterations', yLabel: 'accuracy', yDomain: [0, 1], series });
    const lineColours = new Set(attrs(svg, 'path', 'stroke').filter((s) => /^#[0-9a-f]{6}$/i.test(s) && !/^#(e6e6e6|bbbbbb)$/i.test(s)));
    expect(lineColours.size).toBeGreaterThanOrEqual(14);
    for (const s of series) expect(texts(svg)).toContain(s.name);
  });

  test('text renders with the system fonts (else install fonts-dejavu-core)', () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><rect width="200" height="40" fill="white"/>'
      + "<text x=\"5\" y=\"28\" font-family=\"'DejaVu Sans', sans-serif\" font-size=\"24\" fill=\"black\">Accuracy</text></svg>";
    const dark = darkPixels(decodePng(svgToPng(svg)).pixels);
    if (dark === 0) throw new Error('resvg drew no text: no usable system font found; install fonts-dejavu-core');
    expect(dark).toBeGreaterThan(50);
  });

  test('rejects bad input', async () => {
    const good = accuracyChart('ok');
    await expect(renderChart(null as unknown as LineChart)).rejects.toThrow(/chart must be an object, got null/);
    await expect(renderChart({ ...good, id: '../escape' })).rejects.toThrow(RangeError);
    await expect(renderChart({ ...good, id: 'a b' })).rejects.toThrow(/chart\.id must be .*got the string "a b"/);
    await expect(renderChart({ ...good, id: 7 as unknown as string })).rejects.toThrow(TypeError);
    await expect(renderChart({ ...good, series: [] })).rejects.toThrow(/at least one series/);
    await expect(renderChart({ ...good, series: [{ name: 'a', x: [1, 2, 3], y: [1, 2] }] }))
      .rejects.toThrow(/series\[0\] \('a'\) needs as many x as y values, got x of length 3 and y of length 2/);
    await expect(renderChart({ ...good, series: [{ name: 'a', x: [1], y: [1] }, { name: 'a', x: [2], y: [2] }] }))
      .rejects.toThrow(/"a" is used twice/);
    await expect(renderChart({ ...good, series: [{ name: 'a', x: [1, NaN], y: [1, 2] }] })).rejects.toThrow(/x\[1\] must be a finite number, got NaN/);
    await expect(renderChart({ ...good, series: [{ name: 'a', x: [1, '2' as unknown as number], y: [1, 2] }] }))
      .rejects.toThrow(TypeError);
    await expect(renderChart({ ...good, yDomain: [1, 0] })).rejects.toThrow(/yDomain must be two finite numbers with min < max, got \[1, 0\]/);
    await expect(renderChart({ ...good, yDomain: [0] as unknown as [number, number] })).rejects.toThrow(TypeError);
    await expect(renderChart({ ...good, xScale: 'log' })).rejects.toThrow(/x\[0\] must be a finite number > 0 \(log scale\), got the number 0/);
    await expect(renderChart({ ...good, title: undefined as unknown as string })).rejects.toThrow(/chart\.title must be a string, got undefined/);
  });
});

describe('svgToPng', () => {
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="50"><rect x="10" y="10" width="30" height="20" fill="#ff0000"/></svg>';

  test('natural size, width option, scale option; pixels where the SVG put them', () => {
    expect(pngSize(svgToPng(svg))).toEqual({ width: 100, height: 50 });
    expect(pngSize(svgToPng(svg, { width: 300 }))).toEqual({ width: 300, height: 150 });
    expect(pngSize(svgToPng(svg, { scale: 2 }))).toEqual({ width: 200, height: 100 });
    const { pixels, width } = decodePng(svgToPng(svg));
    const at = (x: number, y: number): number[] => [...pixels.subarray((y * width + x) * 4, (y * width + x) * 4 + 4)];
    expect(at(20, 20)).toEqual([255, 0, 0, 255]);
    expect(at(70, 40)).toEqual([255, 255, 255, 255]); // the white background
  });

  test('rejects bad input', () => {
    expect(() => svgToPng(42 as unknown as string)).toThrow(/svg must be a string, got the number 42/);
    expect(() => svgToPng('<div></div>')).toThrow(RangeError);
    expect(() => svgToPng(svg, { width: 0 })).toThrow(/opts\.width must be an integer in \[1, 16384\], got the number 0/);
    expect(() => svgToPng(svg, { width: 10, scale: 2 })).toThrow(/not both/);
    expect(() => svgToPng(svg, { scale: -1 })).toThrow(RangeError);
    expect(() => svgToPng('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect')).toThrow(/resvg could not render/);
  });
});

describe('filterGridSvg', () => {
  /** Fill of each weight square, parsed back to a grey level. */
  function greys(svg: string): number[] {
    return attrs(svg, 'rect', 'fill').filter((f) => f.startsWith('rgb(')).map((f) => {
      const [r, g, b] = f.slice(4, -1).split(',').map(Number);
      expect(r).toBe(g);
      expect(g).toBe(b);
      return r;
    });
  }

  test('each filter is scaled to its own range, largest weight black (gray_r as in the course)', () => {
    // Two 1-channel 2x2 filters; the second is constant.
    const w = new Float32Array([0, 1, 2, 3, 5, 5, 5, 5]);
    const svg = filterGridSvg(w, [2, 1, 2, 2], { title: 'conv1' });
    expect(svg).toContain('>conv1</text>');
    const expected = [0, 1, 2, 3].map((v) => Math.round(255 * (1 - v / 3)));
    expect(greys(svg)).toEqual([...expected, 128, 128, 128, 128]);
  });

  test('channels and layout: FN * C squares, 8 filters per row, PNG not blank', () => {
    const FN = 10; const C = 3; const FH = 3; const FW = 4;
    const w = new Float32Array(FN * C * FH * FW).map((_, i) => Math.sin(i));
    const svg = filterGridSvg(w, [FN, C, FH, FW], { cell: 20 });
    expect(greys(svg)).toHaveLength(FN * C * FH * FW);
    const xs = attrs(svg, 'rect', 'x').map(Number);
    const ys = attrs(svg, 'rect', 'y').map(Number);
    expect(new Set(ys.slice(0)).size).toBe(2 * FH); // two rows of filters
    expect(Math.max(...xs)).toBeGreaterThan(0);
    const { pixels } = decodePng(svgToPng(svg));
    expect(distinctColours(pixels)).toBeGreaterThan(10);
  });

  test('rejects bad input', () => {
    expect(() => filterGridSvg([1, 2] as unknown as Float32Array, [1, 1, 1, 2])).toThrow(/weights must be a Float32Array, got an Array\(2\)/);
    expect(() => filterGridSvg(new Float32Array(4), [1, 1, 2] as unknown as [number, number, number, number])).toThrow(TypeError);
    expect(() => filterGridSvg(new Float32Array(4), [1, 1, 2, 3])).toThrow(/needs 6 weights, got a Float32Array\(4\)/);
    expect(() => filterGridSvg(new Float32Array(4), [1, 0, 2, 2])).toThrow(RangeError);
    expect(() => filterGridSvg(new Float32Array([1, NaN, 0, 0]), [1, 1, 2, 2])).toThrow(/weights\[1\] must be finite, got NaN/);
    expect(() => filterGridSvg(new Float32Array(4), [1, 1, 2, 2], { cell: 0 })).toThrow(/opts\.cell/);
  });
});

function sampleReport(): Report {
  const charts = [accuracyChart('sigmoid-std0.01'), accuracyChart('relu-he')];
  charts.push({
    id: 'comparison', title: 'Test accuracy', xLabel: 'iterations', yLabel: 'accuracy', yDomain: [0, 1],
    series: charts.map((c) => ({ name: c.id, x: c.series[1].x, y: c.series[1].y })),
  });
  const filters = new Float32Array(8 * 25).map((_, i) => Math.cos(i * 1.3));
  return {
    title: 'Vanishing gradient <test>',
    intro: 'Short run for the tests.',
    charts,
    sections: [
      {
        heading: 'Sigmoid', text: 'Std 0.01.', charts: ['sigmoid-std0.01'],
        table: { columns: ['config', 'final test', 'λ'], rows: [['sigmoid | std', 0.11349, 1e-5], ['relu', 0.9, 0.1]] },
        observations: ['did not learn: test accuracy stayed at 0.11'],
      },
      { heading: 'ReLU', charts: ['relu-he'], pictures: [{ id: 'filters-before', title: 'Filters before', svg: filterGridSvg(filters, [8, 1, 5, 5]) }] },
      // 'comparison' is in no section: the report must still show it.
    ],
    results: {
      runs: charts.map((c) => ({ id: c.id, iterations: c.series[0].x, train: c.series[0].y, test: c.series[1].y })),
      weights: new Float32Array([0.5, -0.25]),
    },
  };
}

describe('writeReport', () => {
  test('writes every file; results.json, report.md and report.html read back', async () => {
    const dir = path.join(tmpRoot, 'run1');
    const report = sampleReport();
    const { files } = await writeReport(dir, report);
    const ids = ['sigmoid-std0.01', 'relu-he', 'comparison', 'filters-before'];
    const expected = [
      ...ids.flatMap((id) => [path.join(dir, 'charts', `${id}.svg`), path.join(dir, 'charts', `${id}.png`)]),
      path.join(dir, 'results.json'), path.join(dir, 'report.md'), path.join(dir, 'report.html'),
    ];
    expect([...files].sort()).toEqual([...expected].sort());
    for (const f of expected) expect(fs.statSync(f).size).toBeGreaterThan(100);
    // No temporary files left behind.
    expect(fs.readdirSync(dir).sort()).toEqual(['charts', 'report.html', 'report.md', 'results.json']);
    expect(fs.readdirSync(path.join(dir, 'charts')).sort()).toEqual(ids.flatMap((id) => [`${id}.png`, `${id}.svg`]).sort());
    for (const id of ids) pngSize(fs.readFileSync(path.join(dir, 'charts', `${id}.png`)));

    const results = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8'));
    const runs = (report.results as { runs: unknown[] }).runs;
    expect(results.runs).toEqual(runs);
    expect(results.runs[0].train[7]).toBe(report.charts[0].series[0].y[7]); // exact doubles
    expect(results.weights).toEqual([0.5, -0.25]);

    const md = fs.readFileSync(path.join(dir, 'report.md'), 'utf8');
    for (const id of ids) expect(md).toContain(`(charts/${id}.png)`);
    expect(md).toContain('# Vanishing gradient <test>');
    expect(md).toContain('| config | final test | λ |');
    expect(md).toContain('| sigmoid \\| std | 0.1135 | 1.0e-5 |');
    expect(md).toContain('- did not learn: test accuracy stayed at 0.11');

    const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/\b(src|href)="(?!data:)/);
    expect(html).toContain('Vanishing gradient &lt;test&gt;');
    expect(html).toContain('<li>did not learn: test accuracy stayed at 0.11</li>');
    const sources = [...html.matchAll(/<img src="data:image\/svg\+xml;base64,([^"]+)"/g)].map((m) => Buffer.from(m[1], 'base64').toString('utf8'));
    expect(sources).toHaveLength(ids.length);
    for (const id of ids) expect(sources).toContain(fs.readFileSync(path.join(dir, 'charts', `${id}.svg`), 'utf8'));
  });

  test("embed: 'png' puts the PNG files into the HTML", async () => {
    const dir = path.join(tmpRoot, 'run-png');
    await writeReport(dir, sampleReport(), { embed: 'png' });
    const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
    const pngs = [...html.matchAll(/<img src="data:image\/png;base64,([^"]+)"/g)].map((m) => Buffer.from(m[1], 'base64'));
    expect(pngs).toHaveLength(4);
    expect(pngs[0].equals(fs.readFileSync(path.join(dir, 'charts', 'sigmoid-std0.01.png')))).toBe(true);
  });

  test('rejects bad reports before writing anything', async () => {
    const dir = path.join(tmpRoot, 'bad');
    const unknownChart = sampleReport();
    unknownChart.sections[0].charts = ['nope'];
    await expect(writeReport(dir, unknownChart)).rejects.toThrow(/sections\[0\]\.charts\[0\] refers to chart the string "nope", which is not in report\.charts/);
    const dup = sampleReport();
    dup.sections[1].pictures![0].id = 'relu-he';
    await expect(writeReport(dir, dup)).rejects.toThrow(/'relu-he' is already used/);
    const badRow = sampleReport();
    badRow.sections[0].table!.rows.push(['only one']);
    await expect(writeReport(dir, badRow)).rejects.toThrow(/rows\[2\] must have 3 cells/);
    const badChart = sampleReport();
    badChart.charts[1].series[0].y = [1];
    await expect(writeReport(dir, badChart)).rejects.toThrow(RangeError);
    await expect(writeReport('', sampleReport())).rejects.toThrow(TypeError);
    await expect(writeReport(dir, null as unknown as Report)).rejects.toThrow(/report must be an object, got null/);
    expect(fs.existsSync(dir)).toBe(false);
  });

  test('writeFileAtomic replaces a file whole and cleans up on failure', () => {
    const f = path.join(tmpRoot, 'atomic.txt');
    fs.writeFileSync(f, 'old');
    writeFileAtomic(f, 'new contents');
    expect(fs.readFileSync(f, 'utf8')).toBe('new contents');
    expect(() => writeFileAtomic(path.join(tmpRoot, 'missing-dir', 'x.txt'), 'x')).toThrow(/ENOENT/);
    // A rename onto a directory fails after the temporary file was written: it must be removed.
    const target = path.join(tmpRoot, 'is-a-dir');
    fs.mkdirSync(path.join(target, 'inner'), { recursive: true });
    expect(() => writeFileAtomic(target, 'x')).toThrow();
    expect(fs.readdirSync(tmpRoot).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(`report.test: skipping the headless-browser check, ${CHROMIUM} is absent (apt-get install chromium)`);
}

interface ImageProbe { id?: string; complete: boolean; naturalWidth: number; width: number; height: number; colours: number }

/** In-page check of every <img>: decoded, laid out, and drawn with more than a few colours. */
const IMAGE_PROBE = `(async () => {
  const imgs = Array.from(document.querySelectorAll('img'));
  await Promise.all(imgs.map((im) => im.decode().catch(() => undefined)));
  return imgs.map((im) => {
    const box = im.getBoundingClientRect();
    const canvas = document.createElement('canvas');
    canvas.width = im.naturalWidth;
    canvas.height = im.naturalHeight;
    const ctx = canvas.getContext('2d');
    const colours = new Set();
    if (canvas.width > 0 && canvas.height > 0) {
      ctx.drawImage(im, 0, 0);
      const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 0; i < data.length && colours.size < 1000; i += 4) {
        colours.add(data[i] * 16777216 + data[i + 1] * 65536 + data[i + 2] * 256 + data[i + 3]);
      }
    }
    const fig = im.closest('figure');
    return { id: fig ? fig.id : undefined, complete: im.complete, naturalWidth: im.naturalWidth,
      width: box.width, height: box.height, colours: colours.size };
  });
})()`;

(haveChromium ? describe : describe.skip)('report.html in headless chromium', () => {
  test('opens offline; every chart and picture is loaded, visible and not blank', async () => {
    const dir = path.join(tmpRoot, 'browser');
    const report = sampleReport();
    await writeReport(dir, report);
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 2000 } });
      const outside: string[] = [];
      await page.route('**/*', (route) => {
        const url = route.request().url();
        if (url.startsWith('file:') || url.startsWith('data:')) return route.continue();
        outside.push(url);
        return route.abort();
      });
      await page.goto(pathToFileURL(path.join(dir, 'report.html')).href, { waitUntil: 'load' });
      // Runs in the page; a string because this project compiles without the DOM types.
      const images = await page.evaluate(IMAGE_PROBE) as ImageProbe[];
      expect(outside).toEqual([]);
      expect(images.map((i) => i.id).sort()).toEqual(['comparison', 'filters-before', 'relu-he', 'sigmoid-std0.01']);
      for (const im of images) {
        expect(im.complete).toBe(true);
        expect(im.naturalWidth).toBeGreaterThan(100);
        expect(im.width).toBeGreaterThan(100);
        expect(im.height).toBeGreaterThan(50);
        expect(im.colours).toBeGreaterThan(5);
      }
      expect(await page.locator('table td').first().textContent()).toBe('sigmoid | std');
      const shot = await page.screenshot({ fullPage: false });
      expect(distinctColours(decodePng(shot).pixels)).toBeGreaterThan(20);
    } finally {
      await browser.close();
    }
  });
});
