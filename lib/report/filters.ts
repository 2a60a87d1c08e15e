// SPDX-License-Identifier: MIT
// First-layer convolution filters as a grid of grey squares, like the course's
// filter_show (imshow with cmap gray_r): each filter is scaled to its own
// min..max, the largest weight drawn black and the smallest white.
import { describe } from '../core/errors';
import { fontFor } from './fonts';

export interface FilterGridOptions {
  /** Side in pixels of one filter channel's square. Default 48. */
  cell?: number;
  /** Caption above the grid. */
  title?: string;
  /** Filters per row. Default 8 (as in the course). */
  columns?: number;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * An SVG picture of convolution filters W of shape (FN, C, FH, FW): one square
 * per filter and channel, channels of a filter side by side.
 * @example
 *   const svg = filterGridSvg(conv1.W.data, [30, 1, 5, 5], { title: 'conv1 after training' });
 *   fs.writeFileSync('filters.svg', svg);
 */
export function filterGridSvg(weights: Float32Array, shape: [number, number, number, number],
  opts: FilterGridOptions = {}): string {
  const fn = 'filterGridSvg';
  if (!(weights instanceof Float32Array)) throw new TypeError(`${fn}: weights must be a Float32Array, got ${describe(weights)}`);
  if (!Array.isArray(shape) || shape.length !== 4 || shape.some((d) => typeof d !== 'number')) {
    throw new TypeError(`${fn}: shape must be [FN, C, FH, FW] (four numbers), got ${describe(shape)}`);
  }
  if (shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`${fn}: shape must hold four positive integers [FN, C, FH, FW], got [${shape.join(', ')}]`);
  }
  const [FN, C, FH, FW] = shape;
  if (FN * C * FH * FW !== weights.length) {
    throw new RangeError(`${fn}: shape [${shape.join(', ')}] needs ${FN * C * FH * FW} weights, got a Float32Array(${weights.length})`);
  }
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${fn}: opts must be an object, got ${describe(opts)}`);
  const { cell = 48, title, columns = 8 } = opts;
  if (typeof cell !== 'number') throw new TypeError(`${fn}: opts.cell must be a number, got ${describe(cell)}`);
  if (!Number.isFinite(cell) || cell < 2 || cell > 1000) throw new RangeError(`${fn}: opts.cell must be in [2, 1000] pixels, got ${describe(cell)}`);
  if (typeof columns !== 'number') throw new TypeError(`${fn}: opts.columns must be a number, got ${describe(columns)}`);
  if (!Number.isInteger(columns) || columns < 1) throw new RangeError(`${fn}: opts.columns must be an integer >= 1, got ${describe(columns)}`);
  if (title !== undefined && typeof title !== 'string') throw new TypeError(`${fn}: opts.title must be a string, got ${describe(title)}`);
  for (let i = 0; i < weights.length; i++) {
    if (!Number.isFinite(weights[i])) throw new RangeError(`${fn}: weights[${i}] must be finite, got ${describe(weights[i])}`);
  }

  // A filter of FH x FW fits in a cell x cell square without distortion.
  const px = cell / Math.max(FH, FW);
  const tileW = FW * px;
  const tileH = FH * px;
  const gap = Math.max(2, Math.round(cell / 8));
  const filterW = C * tileW + (C - 1) * gap / 2;
  const cols = Math.min(columns, FN);
  const rows = Math.ceil(FN / cols);
  const margin = gap * 2;
  const titleH = title ? 28 : 0;
  const width = Math.ceil(margin * 2 + cols * filterW + (cols - 1) * gap);
  const height = Math.ceil(margin * 2 + titleH + rows * tileH + (rows - 1) * gap);
  const r = (v: number): string => String(Math.round(v * 100) / 100);

  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`);
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  if (title) {
    parts.push(`<text x="${margin}" y="${margin + 16}" font-family="${escapeXml(fontFor(title))}" font-size="15" fill="#222">${escapeXml(title)}</text>`);
  }
  parts.push('<g shape-rendering="crispEdges" stroke="none">');
  const size = C * FH * FW;
  for (let f = 0; f < FN; f++) {
    const base = f * size;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < size; i++) {
      lo = Math.min(lo, weights[base + i]);
      hi = Math.max(hi, weights[base + i]);
    }
    const x0 = margin + (f % cols) * (filterW + gap);
    const y0 = margin + titleH + Math.floor(f / cols) * (tileH + gap);
    for (let c = 0; c < C; c++) {
      const xc = x0 + c * (tileW + gap / 2);
      for (let i = 0; i < FH; i++) {
        for (let j = 0; j < FW; j++) {
          const w = weights[base + (c * FH + i) * FW + j];
          // A constant filter has no contrast to show: mid grey.
          const t = hi > lo ? (w - lo) / (hi - lo) : 0.5;
          const g = Math.round(255 * (1 - t));
          parts.push(`<rect x="${r(xc + j * px)}" y="${r(y0 + i * px)}" width="${r(px)}" height="${r(px)}" fill="rgb(${g},${g},${g})"/>`);
        }
      }
      parts.push(`<rect x="${r(xc)}" y="${r(y0)}" width="${r(tileW)}" height="${r(tileH)}" fill="none" stroke="#999" stroke-width="0.5"/>`);
    }
  }
  parts.push('</g></svg>');
  return parts.join('');
}
