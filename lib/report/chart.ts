// SPDX-License-Identifier: MIT
// LineChart -> Vega-Lite spec -> Vega view (renderer 'none', no DOM) -> SVG.
import { describe } from '../core/errors';
import { fontFor } from './fonts';
import type { LineChart } from './types';
import { loadVega, offlineLoader } from './vega';

const ID_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

/** Checks an id that becomes part of a file name. */
export function checkId(fn: string, name: string, id: unknown): string {
  if (typeof id !== 'string') throw new TypeError(`${fn}: ${name} must be a string, got ${describe(id)}`);
  if (!ID_PATTERN.test(id)) {
    throw new RangeError(`${fn}: ${name} must be 1-128 characters of letters, digits, '.', '_' or '-' `
      + `and not start with '.', got ${describe(id)}`);
  }
  return id;
}

function checkString(fn: string, name: string, v: unknown): string {
  if (typeof v !== 'string') throw new TypeError(`${fn}: ${name} must be a string, got ${describe(v)}`);
  return v;
}

function checkNumbers(fn: string, name: string, v: unknown): ArrayLike<number> {
  const ok = Array.isArray(v) || v instanceof Float32Array || v instanceof Float64Array;
  if (!ok) throw new TypeError(`${fn}: ${name} must be an array of numbers, got ${describe(v)}`);
  const arr = v as ArrayLike<unknown>;
  for (let i = 0; i < arr.length; i++) {
    if (typeof arr[i] !== 'number') {
      throw new TypeError(`${fn}: ${name}[${i}] must be a number, got ${describe(arr[i])}`);
    }
  }
  return arr as ArrayLike<number>;
}

function checkDomain(fn: string, name: string, v: unknown, log: boolean): [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'number' || typeof v[1] !== 'number') {
    throw new TypeError(`${fn}: ${name} must be [min, max] (two numbers), got ${describe(v)}`);
  }
  const [lo, hi] = v as [number, number];
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(lo < hi) || (log && lo <= 0)) {
    throw new RangeError(`${fn}: ${name} must be two finite numbers with min < max${log ? ' and min > 0 (log scale)' : ''}, `
      + `got [${lo}, ${hi}]`);
  }
  return [lo, hi];
}

function checkScale(fn: string, name: string, v: unknown): 'linear' | 'log' {
  if (v === undefined) return 'linear';
  if (v !== 'linear' && v !== 'log') throw new RangeError(`${fn}: ${name} must be 'linear' or 'log', got ${describe(v)}`);
  return v;
}

function checkSize(fn: string, name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number') throw new TypeError(`${fn}: ${name} must be a number, got ${describe(v)}`);
  if (!Number.isInteger(v) || v < 50 || v > 4000) throw new RangeError(`${fn}: ${name} must be an integer in [50, 4000], got ${describe(v)}`);
  return v;
}

interface Row { series: string; x: number; y: number }

/** Validates a chart and turns it into rows of (series, x, y) for Vega-Lite. */
export function chartRows(fn: string, chart: LineChart): { rows: Row[]; names: string[]; maxPoints: number } {
  if (chart === null || typeof chart !== 'object') throw new TypeError(`${fn}: chart must be an object, got ${describe(chart)}`);
  const xLog = checkScale(fn, 'chart.xScale', chart.xScale) === 'log';
  const yLog = checkScale(fn, 'chart.yScale', chart.yScale) === 'log';
  if (!Array.isArray(chart.series)) throw new TypeError(`${fn}: chart.series must be an array, got ${describe(chart.series)}`);
  if (chart.series.length === 0) throw new RangeError(`${fn}: chart.series of chart '${chart.id}' must hold at least one series, got none`);
  const rows: Row[] = [];
  const names: string[] = [];
  let maxPoints = 0;
  chart.series.forEach((s, k) => {
    const where = `chart.series[${k}]`;
    if (s === null || typeof s !== 'object') throw new TypeError(`${fn}: ${where} must be an object, got ${describe(s)}`);
    const name = checkString(fn, `${where}.name`, s.name);
    if (name.length === 0) throw new RangeError(`${fn}: ${where}.name must not be empty`);
    if (names.includes(name)) throw new RangeError(`${fn}: ${where}.name ${JSON.stringify(name)} is used twice in chart '${chart.id}'`);
    names.push(name);
    const x = checkNumbers(fn, `${where}.x`, s.x);
    const y = checkNumbers(fn, `${where}.y`, s.y);
    if (x.length !== y.length) {
      throw new RangeError(`${fn}: ${where} ('${name}') needs as many x as y values, got x of length ${x.length} and y of length ${y.length}`);
    }
    maxPoints = Math.max(maxPoints, x.length);
    for (let i = 0; i < x.length; i++) {
      if (!Number.isFinite(x[i]) || (xLog && x[i] <= 0)) {
        throw new RangeError(`${fn}: ${where}.x[${i}] must be a finite number${xLog ? ' > 0 (log scale)' : ''}, got ${describe(x[i])}`);
      }
      // A diverged run (NaN or Infinity loss) is left out rather than breaking the scale.
      if (!Number.isFinite(y[i])) continue;
      if (yLog && y[i] <= 0) throw new RangeError(`${fn}: ${where}.y[${i}] must be > 0 on a log scale, got ${describe(y[i])}`);
      rows.push({ series: name, x: x[i], y: y[i] });
    }
  });
  return { rows, names, maxPoints };
}

// Tableau 10, then Tableau 20 when a sweep has more lines than that.
const PALETTE_10 = ['#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac'];

/**
 * The Vega-Lite spec of a line chart (data inline, so nothing is loaded).
 * @example
 *   const spec = lineChartSpec({ id: 'a', title: 'A', xLabel: 'it', yLabel: 'acc', series: [{ name: 's', x: [0, 1], y: [0.1, 0.9] }] });
 */
export function lineChartSpec(chart: LineChart, fn = 'lineChartSpec'): Record<string, unknown> {
  if (chart === null || typeof chart !== 'object') throw new TypeError(`${fn}: chart must be an object, got ${describe(chart)}`);
  checkId(fn, 'chart.id', chart.id);
  const { rows, names, maxPoints } = chartRows(fn, chart);
  const title = checkString(fn, 'chart.title', chart.title);
  const xLabel = checkString(fn, 'chart.xLabel', chart.xLabel);
  const yLabel = checkString(fn, 'chart.yLabel', chart.yLabel);
  const xLog = chart.xScale === 'log';
  const yLog = chart.yScale === 'log';
  const yDomain = chart.yDomain === undefined ? undefined : checkDomain(fn, 'chart.yDomain', chart.yDomain, yLog);
  const xDomain = chart.xDomain === undefined ? undefined : checkDomain(fn, 'chart.xDomain', chart.xDomain, xLog);
  const width = checkSize(fn, 'chart.width', chart.width, 520);
  const height = checkSize(fn, 'chart.height', chart.height, 300);

  const xScale: Record<string, unknown> = { type: xLog ? 'log' : 'linear', zero: false };
  if (xDomain) Object.assign(xScale, { domain: xDomain, nice: false });
  const yScale: Record<string, unknown> = { type: yLog ? 'log' : 'linear', zero: false };
  if (yDomain) Object.assign(yScale, { domain: yDomain, nice: false });
  // Past 20 series the tableau20 colours repeat; sweeps that long should be split.
  const colours = names.length <= 10 ? { range: PALETTE_10 } : { scheme: 'tableau20' };

  return {
    title: { text: title, anchor: 'start', fontSize: 14 },
    width,
    height,
    background: 'white',
    padding: 10,
    config: {
      font: fontFor(title, xLabel, yLabel, ...names),
      axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#e6e6e6' },
      legend: { labelFontSize: 11, labelLimit: 320, symbolStrokeWidth: 3 },
      view: { stroke: '#bbbbbb' },
    },
    data: { values: rows },
    // Points only when the lines are short enough that single values matter.
    mark: { type: 'line', strokeWidth: 1.6, clip: true, point: maxPoints <= 25 ? { size: 20 } : false },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: xLabel, scale: xScale },
      y: { field: 'y', type: 'quantitative', title: yLabel, scale: yScale },
      color: {
        field: 'series',
        type: 'nominal',
        title: null,
        // Legend in the caller's order, not alphabetical.
        scale: { domain: names, ...colours },
        legend: { orient: 'right' },
      },
    },
  };
}

/**
 * Renders a line chart as SVG and as PNG (twice the SVG size, for sharp text).
 * @example
 *   const { svg, png } = await renderChart({ id: 'relu', title: 'ReLU', xLabel: 'iterations', yLabel: 'accuracy',
 *     yDomain: [0, 1], series: [{ name: 'train', x: [0, 10], y: [0.1, 0.5] }] });
 */
export async function renderChart(chart: LineChart): Promise<{ svg: string; png: Buffer }> {
  const svg = await vegaLiteSvg(lineChartSpec(chart));
  // resvg is loaded only when a PNG is made: an SVG alone does not need it.
  const { svgToPng } = require('./png') as typeof import('./png');
  return { svg, png: svgToPng(svg, { scale: 2 }) };
}

/** A Vega-Lite spec (data inline) drawn headless to SVG: no DOM, no canvas, nothing loaded. */
export async function vegaLiteSvg(spec: Record<string, unknown>): Promise<string> {
  const { vega, vl } = await loadVega();
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', loader: offlineLoader(vega), logLevel: vega.Warn });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
