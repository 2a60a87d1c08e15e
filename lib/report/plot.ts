// SPDX-License-Identifier: MIT
// The learner's plots (`blasnet/plot`): line charts, histograms and image grids
// drawn from plain arrays to SVG, saved as SVG or PNG, headless. What the
// course draws with matplotlib: plt.plot of loss and accuracy curves (with
// util.smooth_curve), plt.hist of activations, imshow grids of filters and
// digits. Line charts and histograms go through Vega-Lite; image grids are
// plain SVG; PNG through resvg. vega, vega-lite and resvg are loaded on first
// use, so importing this module costs nothing.
import * as fs from 'fs';
import * as path from 'path';
import { describe, expectInt, readOptions } from '../core/errors';
import { Tensor } from '../core/tensor';
import { writeFileAtomic } from '../io/atomic';
import { fontFor } from './fonts';
import type { LineChart } from './types';

type Chart = typeof import('./chart');
type Png = typeof import('./png');

/** Loads a drawing module, turning a missing npm package into an error that says what to install. */
function load<T>(fn: string, what: 'vega' | 'resvg', get: () => T): T {
  try {
    return get();
  } catch (err) {
    throw missingPackage(fn, what, err);
  }
}

function missingPackage(fn: string, what: 'vega' | 'resvg', err: unknown): Error {
  const msg = err instanceof Error ? err.message : String(err);
  if (!/Cannot find (module|package)|MODULE_NOT_FOUND|ERR_MODULE_NOT_FOUND/.test(msg)) return err as Error;
  const pkgs = what === 'vega' ? 'vega vega-lite' : '@resvg/resvg-js';
  return new Error(`${fn}: drawing needs the npm package${what === 'vega' ? 's' : ''} ${pkgs}, which ${what === 'vega' ? 'are' : 'is'} not installed `
    + `(npm install ${pkgs}): ${msg.split('\n')[0]}`);
}

async function svgOf(fn: string, spec: Record<string, unknown>): Promise<string> {
  const chart = load<Chart>(fn, 'vega', () => require('./chart'));
  try {
    return await chart.vegaLiteSvg(spec);
  } catch (err) {
    throw missingPackage(fn, 'vega', err);
  }
}

function isNumbers(v: unknown): v is ArrayLike<number> {
  return Array.isArray(v) ? v.every((e) => typeof e === 'number') : ArrayBuffer.isView(v) && !(v instanceof DataView)
    && !(v instanceof BigInt64Array) && !(v instanceof BigUint64Array);
}

function numbers(fn: string, name: string, v: unknown): ArrayLike<number> {
  if (v instanceof Tensor) return v.data;
  if (!isNumbers(v)) {
    if (Array.isArray(v)) {
      const i = v.findIndex((e) => typeof e !== 'number');
      throw new TypeError(`${fn}: ${name}[${i}] must be a number, got ${describe(v[i])}`);
    }
    throw new TypeError(`${fn}: ${name} must be an array, typed array or Tensor of numbers, got ${describe(v)}`);
  }
  return v;
}

function text(fn: string, name: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new TypeError(`${fn}: ${name} must be a string, got ${describe(v)}`);
  return v;
}

// ---------------------------------------------------------------- smoothCurve

/** Python's x[start:stop:step] on an array, with its rules for negative and out-of-range positions. */
function pySlice(x: ArrayLike<number>, start: number, stop: number, step: 1 | -1): number[] {
  const n = x.length;
  const adjust = (v: number): number => {
    if (v < 0) { v += n; if (v < 0) v = step < 0 ? -1 : 0; } else if (v >= n) v = step < 0 ? n - 1 : n;
    return v;
  };
  const a = adjust(start), b = adjust(stop);
  const out: number[] = [];
  if (step > 0) for (let i = a; i < b; i++) out.push(x[i]);
  else for (let i = a; i > b; i--) out.push(x[i]);
  return out;
}

/** Modified Bessel function of the first kind, order 0, by its power series (converges fast for |x| <= 10). */
function besselI0(x: number): number {
  let sum = 1, term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 200; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/** numpy.kaiser(M, beta). */
function kaiser(M: number, beta: number): number[] {
  const alpha = (M - 1) / 2;
  return Array.from({ length: M }, (_, n) => besselI0(beta * Math.sqrt(1 - ((n - alpha) / alpha) ** 2)) / besselI0(beta));
}

/** numpy.convolve(a, v, mode='valid'). */
function convolveValid(a: number[], v: number[]): number[] {
  const [long, short] = a.length >= v.length ? [a, v] : [v, a];
  const m = short.length, n = long.length;
  const out: number[] = [];
  for (let k = m - 1; k < n; k++) {
    let s = 0;
    for (let j = 0; j < m; j++) s += long[k - j] * short[j];
    out.push(s);
  }
  return out;
}

/**
 * The course's `util.smooth_curve`, value for value: the curve mirrored by 10 values at each
 * end, convolved with a normalised Kaiser window of 11 points (beta 2), and cut back to the
 * input's length. The course plots the training loss through it. As the course's function,
 * it gives fewer values than it gets for fewer than 11 (none for fewer than 7).
 * @example
 *   const svg = await lineChart({ name: 'SGD', y: smoothCurve(trainLoss) }, { yLim: [0, 1] });
 */
export function smoothCurve(x: ArrayLike<number> | Tensor): number[] {
  const v = numbers('smoothCurve', 'x', x);
  const windowLen = 11;
  const s = [...pySlice(v, windowLen - 1, 0, -1), ...Array.from(v), ...pySlice(v, -1, -windowLen, -1)];
  const w = kaiser(windowLen, 2);
  const total = w.reduce((a, b) => a + b, 0);
  const y = convolveValid(w.map((e) => e / total), s);
  return pySlice(y, 5, y.length - 5, 1);
}

// ---------------------------------------------------------------- lineChart

/** One line of a chart: y against x (0, 1, 2, ... when x is left out), as plt.plot(x, y, label=name). */
export interface PlotSeries {
  /** Legend label; left out for a single unnamed line. */
  name?: string;
  x?: ArrayLike<number> | Tensor;
  y: ArrayLike<number> | Tensor;
}

export interface LineChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Fixed y range, as plt.ylim(lo, hi); points outside are clipped. */
  yLim?: [number, number];
  /** Fixed x range, as plt.xlim(lo, hi). */
  xLim?: [number, number];
  xScale?: 'linear' | 'log';
  yScale?: 'linear' | 'log';
  /** Plot size in SVG pixels without axes and legend (520 x 300). */
  width?: number;
  height?: number;
}

const LINE_OPTIONS = ['title', 'xLabel', 'yLabel', 'yLim', 'xLim', 'xScale', 'yScale', 'width', 'height'];

/**
 * A line chart as an SVG string: one line per series, legend in the given order. NaN or
 * infinite y values (a diverged loss) are left out. Text in Japanese is drawn with a CJK font.
 * @example
 *   const svg = await lineChart([
 *     { name: 'train', x: epochs, y: trainAcc },
 *     { name: 'test', x: epochs, y: testAcc },
 *   ], { xLabel: 'epochs', yLabel: 'accuracy', yLim: [0, 1] });
 *   savePng(svg, 'accuracy.png');
 */
export async function lineChart(series: ArrayLike<number> | Tensor | PlotSeries | PlotSeries[], options?: LineChartOptions): Promise<string> {
  const fn = 'lineChart';
  const o = readOptions(fn, options, LINE_OPTIONS);
  if (Array.isArray(series) && series.length === 0) throw new RangeError(`${fn}: series must hold at least one line (or value), got an empty array`);
  let list: PlotSeries[];
  if (series instanceof Tensor || isNumbers(series)) list = [{ y: series }];
  else if (Array.isArray(series)) list = series as PlotSeries[];
  else if (series !== null && typeof series === 'object') list = [series as PlotSeries];
  else throw new TypeError(`${fn}: series must be numbers, a { name, x, y } object or an array of them, got ${describe(series)}`);
  if (list.length === 0) throw new RangeError(`${fn}: series must hold at least one line, got an empty array`);
  const named = list.some((s) => s && typeof s === 'object' && 'name' in s && s.name !== undefined);
  const chart: LineChart = {
    id: 'plot',
    title: text(fn, 'options.title', o.title) ?? '',
    xLabel: text(fn, 'options.xLabel', o.xLabel) ?? '',
    yLabel: text(fn, 'options.yLabel', o.yLabel) ?? '',
    series: list.map((s, i) => {
      if (s === null || typeof s !== 'object' || Array.isArray(s)) {
        throw new TypeError(`${fn}: series[${i}] must be an object { name, x, y }, got ${describe(s)}`);
      }
      readOptions(`${fn}: series[${i}]`, s, ['name', 'x', 'y']);
      const y = Array.from(numbers(fn, `series[${i}].y`, s.y));
      const x = s.x === undefined ? y.map((_, k) => k) : Array.from(numbers(fn, `series[${i}].x`, s.x));
      return { name: text(fn, `series[${i}].name`, s.name) ?? (named || list.length > 1 ? `series ${i + 1}` : 'y'), x, y };
    }),
    yDomain: o.yLim, xDomain: o.xLim, xScale: o.xScale, yScale: o.yScale, width: o.width, height: o.height,
  };
  const { lineChartSpec } = load<Chart>(fn, 'vega', () => require('./chart'));
  let spec: Record<string, unknown>;
  try {
    spec = lineChartSpec(chart, fn);
  } catch (err) {
    // Name the learner's arguments, not the chart object built from them.
    if (err instanceof Error) {
      err.message = err.message.replace(/chart\.yDomain/g, 'options.yLim').replace(/chart\.xDomain/g, 'options.xLim')
        .replace(/chart\.(series|x|y|width|height|title)/g, (m, k: string) => (k === 'series' ? k : `options.${k}`));
    }
    throw err;
  }
  if (!chart.title) delete spec.title;
  if (!named && list.length === 1) {
    ((spec.encoding as Record<string, Record<string, unknown>>).color).legend = null;
  }
  return svgOf(fn, spec);
}

// ---------------------------------------------------------------- histogram

export interface HistogramCountsOptions {
  /** Number of equal-width bins (10, as numpy and matplotlib; the course uses 30). */
  bins?: number;
  /** [lo, hi] of the bins; values outside are not counted. The data's min and max by default. */
  range?: [number, number];
}

/**
 * numpy.histogram: counts of values in `bins` equal-width bins over `range`, each bin
 * [edge_i, edge_i+1) but the last, which includes its right edge. NaN values are not counted.
 * @example
 *   const { counts, edges } = histogramCounts(activations.data, { bins: 30, range: [0, 1] });
 */
export function histogramCounts(values: ArrayLike<number> | Tensor, options?: HistogramCountsOptions): { counts: number[]; edges: number[] } {
  const fn = 'histogramCounts';
  const v = numbers(fn, 'values', values);
  const o = readOptions(fn, options, ['bins', 'range']);
  return countBins(fn, v, o);
}

function countBins(fn: string, v: ArrayLike<number>, o: HistogramCountsOptions): { counts: number[]; edges: number[] } {
  const bins = expectInt(fn, 'options.bins', o.bins ?? 10, 1);
  if (bins > 10000) throw new RangeError(`${fn}: options.bins must be at most 10000, got ${bins}`);
  let lo: number, hi: number;
  if (o.range !== undefined) {
    const r = o.range as unknown;
    if (!Array.isArray(r) || r.length !== 2 || typeof r[0] !== 'number' || typeof r[1] !== 'number') {
      throw new TypeError(`${fn}: options.range must be [lo, hi] (two numbers), got ${describe(r)}`);
    }
    [lo, hi] = r as [number, number];
    if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(lo < hi)) throw new RangeError(`${fn}: options.range must be two finite numbers with lo < hi, got [${lo}, ${hi}]`);
  } else {
    lo = Infinity; hi = -Infinity;
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (Number.isNaN(x)) continue;
      if (!Number.isFinite(x)) throw new RangeError(`${fn}: values[${i}] is ${x}; give options.range to count finite values only`);
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
    if (lo === Infinity) { lo = 0; hi = 1; }
    if (lo === hi) { lo -= 0.5; hi += 0.5; }
  }
  // numpy: edges from linspace; the bin from the scaled position, then corrected against the edges.
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? hi : lo + (i * (hi - lo)) / bins));
  const counts = new Array<number>(bins).fill(0);
  const norm = bins / (hi - lo);
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (!(x >= lo && x <= hi)) continue;
    let k = Math.floor((x - lo) * norm);
    if (k === bins) k--;
    if (x < edges[k]) k--;
    else if (k !== bins - 1 && x >= edges[k + 1]) k++;
    counts[k]++;
  }
  return { counts, edges };
}

/** One panel of a histogram figure: its title and its values (plt.subplot + plt.title + plt.hist). */
export interface HistogramPanel {
  title?: string;
  values: ArrayLike<number> | Tensor;
}

export interface HistogramOptions extends HistogramCountsOptions {
  /** Title of the whole figure. */
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Size of each panel in SVG pixels (360 x 220 for one panel, 150 x 180 for several). */
  width?: number;
  height?: number;
  /** Fixed count axis [0, max], as plt.ylim; by default the panels share one axis fitted to the tallest bar. */
  yLim?: [number, number];
  /** Bar colour (a CSS colour). */
  color?: string;
}

const HIST_OPTIONS = ['bins', 'range', 'title', 'xLabel', 'yLabel', 'width', 'height', 'yLim', 'color'];

/**
 * A histogram as an SVG string, or several side by side sharing their axes (the course's
 * activation histograms: one panel per layer). Counts are numpy.histogram's; the same
 * `bins` and `range` apply to every panel. Values outside `range` are not drawn.
 * @example
 *   const svg = await histogram(outs.map((o, i) => ({ title: `${i + 1}-layer`, values: o.output })),
 *     { bins: 30, range: [0, 1] });
 */
export async function histogram(data: ArrayLike<number> | Tensor | HistogramPanel[], options?: HistogramOptions): Promise<string> {
  const fn = 'histogram';
  const o = readOptions(fn, options, HIST_OPTIONS);
  if (Array.isArray(data) && data.length === 0) throw new RangeError(`${fn}: data must hold at least one panel (or value), got an empty array`);
  let panels: { title: string; values: ArrayLike<number> }[];
  if (data instanceof Tensor || isNumbers(data)) {
    panels = [{ title: '', values: numbers(fn, 'data', data) }];
  } else if (Array.isArray(data)) {
    if (data.length === 0) throw new RangeError(`${fn}: data must hold at least one panel, got an empty array`);
    panels = data.map((p, i) => {
      if (p === null || typeof p !== 'object' || Array.isArray(p) || ArrayBuffer.isView(p)) {
        throw new TypeError(`${fn}: data[${i}] must be a panel { title, values } (or give one array of numbers), got ${describe(p)}`);
      }
      readOptions(`${fn}: data[${i}]`, p as HistogramPanel, ['title', 'values']);
      return { title: text(fn, `data[${i}].title`, (p as HistogramPanel).title) ?? `${i + 1}`, values: numbers(fn, `data[${i}].values`, (p as HistogramPanel).values) };
    });
    if (panels.length > 40) throw new RangeError(`${fn}: at most 40 panels fit one figure, got ${panels.length}`);
  } else {
    throw new TypeError(`${fn}: data must be numbers, a Tensor, or an array of panels { title, values }, got ${describe(data)}`);
  }
  // Without a range, all panels share the range of all their values, so their bins line up.
  let range = o.range;
  if (range === undefined && panels.length > 1) {
    let lo = Infinity, hi = -Infinity;
    for (const p of panels) for (let i = 0; i < p.values.length; i++) {
      const x = p.values[i];
      if (Number.isFinite(x)) { lo = Math.min(lo, x); hi = Math.max(hi, x); }
    }
    if (lo < hi) range = [lo, hi];
  }
  const rows: { panel: string; x0: number; x1: number; count: number }[] = [];
  // Facets are keyed by title: equal titles are told apart by invisible zero-width spaces.
  let panelNames = panels.map((p) => p.title);
  if (new Set(panelNames).size !== panelNames.length) panelNames = panelNames.map((t, i) => t + '\u200b'.repeat(i));
  panels.forEach((p, i) => {
    const { counts, edges } = countBins(fn, p.values, { bins: o.bins, range });
    counts.forEach((c, k) => rows.push({ panel: panelNames[i], x0: edges[k], x1: edges[k + 1], count: c }));
  });
  const title = text(fn, 'options.title', o.title);
  const xLabel = text(fn, 'options.xLabel', o.xLabel) ?? '';
  const yLabel = text(fn, 'options.yLabel', o.yLabel) ?? '';
  const color = text(fn, 'options.color', o.color) ?? '#4c78a8';
  const many = panels.length > 1;
  const width = size(fn, 'options.width', o.width, many ? 150 : 360);
  const height = size(fn, 'options.height', o.height, many ? 180 : 220);
  let yScale: Record<string, unknown> = { zero: true };
  if (o.yLim !== undefined) {
    const y = o.yLim as unknown;
    if (!Array.isArray(y) || y.length !== 2 || !y.every((e) => typeof e === 'number' && Number.isFinite(e)) || !(y[0] < y[1])) {
      throw new RangeError(`${fn}: options.yLim must be [lo, hi] with lo < hi, got ${describe(y)}`);
    }
    yScale = { domain: y, nice: false };
  }
  const font = fontFor(title, xLabel, yLabel, ...panelNames);
  const layer = {
    mark: { type: 'rect', color, stroke: 'white', strokeWidth: 0.3, clip: true },
    encoding: {
      x: { field: 'x0', type: 'quantitative', title: xLabel, scale: { domain: [rows[0].x0, rows[rows.length - 1].x1], nice: false, zero: false } },
      x2: { field: 'x1' },
      y: { field: 'count', type: 'quantitative', title: yLabel, scale: yScale },
    },
  };
  const spec: Record<string, unknown> = {
    background: 'white', padding: 10,
    config: { font, axis: { labelFontSize: 10, titleFontSize: 11, gridColor: '#eeeeee' }, view: { stroke: '#bbbbbb' }, header: { labelFontSize: 12, labelFont: font } },
    data: { values: rows },
  };
  if (title) spec.title = { text: title, anchor: 'start', fontSize: 14 };
  if (many) {
    Object.assign(spec, {
      facet: { column: { field: 'panel', type: 'nominal', sort: panelNames, title: null } },
      spec: { width, height, ...layer },
      resolve: { scale: { y: 'shared', x: 'shared' } },
      spacing: 8,
    });
  } else {
    Object.assign(spec, { width, height, ...layer });
    if (panels[0].title && !title) spec.title = { text: panels[0].title, anchor: 'start', fontSize: 14 };
  }
  return svgOf(fn, spec);
}

function size(fn: string, name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  const n = expectInt(fn, name, v, 20);
  if (n > 4000) throw new RangeError(`${fn}: ${name} must be at most 4000, got ${n}`);
  return n;
}

// ---------------------------------------------------------------- imageGrid

export interface ImageGridOptions {
  /** [height, width] of each image when the images are flat rows (784 -> [28, 28] is found by itself). */
  shape?: [number, number];
  /** Images per row (8, as the course's filter_show). */
  columns?: number;
  /** Side in SVG pixels of each image's square (56). */
  cell?: number;
  /** 'gray_r' (the course's plt.cm.gray_r: high values dark, default) or 'gray' (high values light). */
  cmap?: 'gray' | 'gray_r';
  /**
   * Grey scale per image ('each', as imshow: each image from its own min to max), shared
   * ('all': the min and max of all images), or fixed [lo, hi] (e.g. [0, 1] for normalised pixels).
   */
  scale?: 'each' | 'all' | [number, number];
  /** Which channel of (N, C, H, W) images to draw (0, as filter_show's filters[i, 0]). */
  channel?: number;
  /** A caption above each image. */
  titles?: Array<string | number>;
  /** Predicted classes: written above each image, in red with the true label when `labels` disagree. */
  predicted?: ArrayLike<number>;
  /** True classes, compared with `predicted` (or written alone without it). */
  labels?: ArrayLike<number>;
  /** Title of the whole grid. */
  title?: string;
}

const GRID_OPTIONS = ['shape', 'columns', 'cell', 'cmap', 'scale', 'channel', 'titles', 'predicted', 'labels', 'title'];

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * A grid of grey-scale images as an SVG string: digits with their predicted labels, or
 * convolution filters (the course's filter_show). `images` is a Tensor of shape (N, H, W),
 * (N, C, H, W) or (N, H*W), or an array of flat images.
 * @example
 *   const y = net.predict(xTest.rows(0, 20));
 *   const svg = imageGrid(xTest.rows(0, 20), { predicted: argmax(y), labels: tTest.subarray(0, 20), columns: 10 });
 *   savePng(svg, 'predictions.png');
 *   savePng(imageGrid(net.params.W1), 'filters.png');   // 30 filters of 5x5
 */
export function imageGrid(images: Tensor | Array<ArrayLike<number>>, options?: ImageGridOptions): string {
  const fn = 'imageGrid';
  const o = readOptions(fn, options, GRID_OPTIONS);
  let data: ArrayLike<number>, N: number, per: number, dims: number[];
  if (images instanceof Tensor) {
    data = images.data;
    dims = images.shape;
    if (dims.length < 2 || dims.length > 4) throw new RangeError(`${fn}: images must have shape (N, H, W), (N, C, H, W) or (N, H*W), got [${dims.join(', ')}]`);
    N = dims[0];
    per = data.length / N;
  } else if (Array.isArray(images)) {
    if (images.length === 0) throw new RangeError(`${fn}: images must hold at least one image, got an empty array`);
    const flat = images.map((im, i) => numbers(fn, `images[${i}]`, im));
    per = flat[0].length;
    flat.forEach((im, i) => {
      if (im.length !== per) throw new RangeError(`${fn}: images[${i}] has ${im.length} values, images[0] has ${per}; all must have the same size`);
    });
    N = flat.length;
    const all = new Float64Array(N * per);
    flat.forEach((im, i) => all.set(im, i * per));
    data = all;
    dims = [N, per];
  } else {
    throw new TypeError(`${fn}: images must be a Tensor or an array of flat images, got ${describe(images)}`);
  }
  if (N > 2000) throw new RangeError(`${fn}: at most 2000 images fit one grid, got ${N}`);
  const C = dims.length === 4 ? dims[1] : 1;
  let H: number, W: number;
  if (dims.length >= 3) {
    [H, W] = dims.slice(-2);
  } else if (o.shape !== undefined) {
    const s = o.shape as unknown;
    if (!Array.isArray(s) || s.length !== 2) throw new TypeError(`${fn}: options.shape must be [height, width], got ${describe(s)}`);
    H = expectInt(fn, 'options.shape[0]', s[0]);
    W = expectInt(fn, 'options.shape[1]', s[1]);
    if (H * W !== per) throw new RangeError(`${fn}: options.shape [${H}, ${W}] has ${H * W} pixels, each image has ${per}`);
  } else {
    H = W = Math.round(Math.sqrt(per));
    if (H * W !== per) throw new RangeError(`${fn}: images of ${per} values are not square: give options.shape [height, width]`);
  }
  const channel = expectInt(fn, 'options.channel', o.channel ?? 0, 0);
  if (channel >= C) throw new RangeError(`${fn}: options.channel must be below the ${C} channel${C > 1 ? 's' : ''} of the images, got ${channel}`);
  const columns = Math.min(expectInt(fn, 'options.columns', o.columns ?? 8, 1), N);
  const cell = expectInt(fn, 'options.cell', o.cell ?? 56, 4);
  if (cell > 1000) throw new RangeError(`${fn}: options.cell must be at most 1000, got ${cell}`);
  const cmap = o.cmap ?? 'gray_r';
  if (cmap !== 'gray' && cmap !== 'gray_r') throw new RangeError(`${fn}: options.cmap must be 'gray' or 'gray_r', got ${describe(cmap)}`);
  const offset = (i: number): number => i * per + channel * H * W;
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < H * W; j++) {
      const v = data[offset(i) + j];
      if (!Number.isFinite(v)) throw new RangeError(`${fn}: image ${i} has the value ${v} at pixel ${j}; only finite values can be drawn`);
    }
  }
  const scaleOpt = o.scale ?? 'each';
  let fixed: [number, number] | null = null;
  if (Array.isArray(scaleOpt)) {
    const [a, b] = scaleOpt as unknown[];
    if (scaleOpt.length !== 2 || typeof a !== 'number' || typeof b !== 'number' || !(a < b)) {
      throw new RangeError(`${fn}: options.scale must be 'each', 'all' or [lo, hi] with lo < hi, got ${describe(scaleOpt)}`);
    }
    fixed = [a, b];
  } else if (scaleOpt === 'all') {
    let a = Infinity, b = -Infinity;
    for (let i = 0; i < N; i++) for (let j = 0; j < H * W; j++) { const v = data[offset(i) + j]; a = Math.min(a, v); b = Math.max(b, v); }
    fixed = [a, b];
  } else if (scaleOpt !== 'each') {
    throw new RangeError(`${fn}: options.scale must be 'each', 'all' or [lo, hi], got ${describe(scaleOpt)}`);
  }
  const intsOf = (name: string, v: unknown): ArrayLike<number> | undefined => {
    if (v === undefined) return undefined;
    const a = numbers(fn, `options.${name}`, v);
    if (a.length !== N) throw new RangeError(`${fn}: options.${name} must have one entry per image (${N}), got ${a.length}`);
    return a;
  };
  const predicted = intsOf('predicted', o.predicted), labels = intsOf('labels', o.labels);
  let titles: Array<{ text: string; wrong: boolean }> | null = null;
  if (o.titles !== undefined) {
    if (!Array.isArray(o.titles) || o.titles.length !== N) {
      throw new RangeError(`${fn}: options.titles must be an array with one caption per image (${N}), got ${describe(o.titles)}`);
    }
    titles = o.titles.map((t, i) => {
      if (typeof t !== 'string' && typeof t !== 'number') throw new TypeError(`${fn}: options.titles[${i}] must be a string or a number, got ${describe(t)}`);
      return { text: String(t), wrong: false };
    });
  } else if (predicted) {
    titles = Array.from({ length: N }, (_, i) => {
      const wrong = labels !== undefined && labels[i] !== predicted[i];
      return { text: wrong ? `${predicted[i]} (${labels![i]})` : `${predicted[i]}`, wrong };
    });
  } else if (labels) {
    titles = Array.from({ length: N }, (_, i) => ({ text: `${labels[i]}`, wrong: false }));
  }
  const title = text(fn, 'options.title', o.title);
  const font = escapeXml(fontFor(title, ...(titles ?? []).map((t) => t.text)));

  const px = cell / Math.max(H, W);
  const tileW = W * px, tileH = H * px;
  const gap = Math.max(3, Math.round(cell / 10));
  const capH = titles ? Math.max(12, Math.round(cell / 4)) : 0;
  const rows = Math.ceil(N / columns);
  const margin = 8;
  const titleH = title ? 26 : 0;
  const width = Math.ceil(2 * margin + columns * tileW + (columns - 1) * gap);
  const height = Math.ceil(2 * margin + titleH + rows * (tileH + capH) + (rows - 1) * gap);
  const r = (v: number): string => String(Math.round(v * 100) / 100);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  if (title) parts.push(`<text x="${margin}" y="${margin + 15}" font-family="${font}" font-size="15" fill="#222">${escapeXml(title)}</text>`);
  for (let i = 0; i < N; i++) {
    let lo: number, hi: number;
    if (fixed) [lo, hi] = fixed;
    else {
      lo = Infinity; hi = -Infinity;
      for (let j = 0; j < H * W; j++) { const v = data[offset(i) + j]; lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }
    const x0 = margin + (i % columns) * (tileW + gap);
    const y0 = margin + titleH + Math.floor(i / columns) * (tileH + capH + gap) + capH;
    if (titles) {
      const t = titles[i];
      parts.push(`<text x="${r(x0 + tileW / 2)}" y="${r(y0 - 3)}" text-anchor="middle" font-family="${font}" font-size="${Math.max(9, Math.round(capH * 0.8))}" `
        + `fill="${t.wrong ? '#d62728' : '#222'}">${escapeXml(t.text)}</text>`);
    }
    parts.push('<g shape-rendering="crispEdges" stroke="none">');
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const v = data[offset(i) + y * W + x];
        const t = hi > lo ? Math.min(1, Math.max(0, (v - lo) / (hi - lo))) : 0.5;
        const g = Math.round(255 * (cmap === 'gray_r' ? 1 - t : t));
        parts.push(`<rect x="${r(x0 + x * px)}" y="${r(y0 + y * px)}" width="${r(px)}" height="${r(px)}" fill="rgb(${g},${g},${g})"/>`);
      }
    }
    parts.push('</g>');
    parts.push(`<rect x="${r(x0)}" y="${r(y0)}" width="${r(tileW)}" height="${r(tileH)}" fill="none" stroke="#999" stroke-width="0.5"/>`);
  }
  parts.push('</svg>');
  return parts.join('');
}

// ---------------------------------------------------------------- saving

function checkSvgArg(fn: string, svg: unknown): string {
  if (svg instanceof Promise) throw new TypeError(`${fn}: svg is a Promise: write \`${fn}(await lineChart(...), file)\` (lineChart and histogram are async)`);
  if (typeof svg !== 'string' || !/<svg[\s>]/.test(svg)) throw new TypeError(`${fn}: svg must be an SVG string from lineChart, histogram or imageGrid, got ${describe(svg)}`);
  return svg;
}

function checkFile(fn: string, file: unknown): string {
  if (typeof file !== 'string' || file === '') throw new TypeError(`${fn}: file must be a path, got ${describe(file)}`);
  return file;
}

function writeAtomic(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileAtomic(file, data);
}

/**
 * Writes an SVG string to a file (folders created; written whole or not at all).
 * @example
 *   saveSvg(await lineChart(loss), 'loss.svg');
 */
export function saveSvg(svg: string, file: string): string {
  const fn = 'saveSvg';
  const s = checkSvgArg(fn, svg);
  writeAtomic(checkFile(fn, file), s);
  return file;
}

export interface PngOptions {
  /** Zoom factor (2: sharp on high-density screens). */
  scale?: number;
  /** Output width in pixels instead of a zoom factor. */
  width?: number;
}

/**
 * Rasterises an SVG string to PNG bytes (resvg, no browser): a Node Buffer, typed as the
 * Uint8Array it is so that the declarations need no @types/node.
 * @example
 *   const png = toPng(imageGrid(net.params.W1), { scale: 3 });
 */
export function toPng(svg: string, options?: PngOptions): Uint8Array {
  const fn = 'toPng';
  const s = checkSvgArg(fn, svg);
  const o = readOptions(fn, options, ['scale', 'width']);
  const png = load<Png>(fn, 'resvg', () => require('./png'));
  try {
    return png.svgToPng(s, o.width !== undefined ? { width: o.width } : { scale: o.scale ?? 2 });
  } catch (err) {
    throw missingPackage(fn, 'resvg', err);
  }
}

/**
 * Writes an SVG string as a PNG file, twice its size by default (folders created; written
 * whole or not at all). Japanese text needs a CJK font on the system (Debian:
 * fonts-ipafont-gothic or fonts-noto-cjk).
 * @example
 *   savePng(await histogram(values, { bins: 30, range: [0, 1] }), 'hist.png');
 */
export function savePng(svg: string, file: string, options?: PngOptions): string {
  const fn = 'savePng';
  const png = toPng(svg, options);
  writeAtomic(checkFile(fn, file), png);
  return file;
}
