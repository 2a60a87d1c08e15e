// SPDX-License-Identifier: MIT
// writeReport: charts as SVG + PNG, results.json, report.md and a
// self-contained report.html. Every file is written to a temporary name and
// renamed (lib/io/atomic), so an interrupted run (Ctrl-C) leaves whole files or none.
import * as fs from 'fs';
import * as path from 'path';
import { describe } from '../core/errors';
import { checkId, renderChart } from './chart';
import { FONT_FAMILY_JA } from './fonts';
import { svgToPng } from './png';
import { Lang, LANGS, messages } from '../i18n';
import type { LineChart, Picture, Report, ReportSection, Table } from './types';
import { writeFileAtomic } from '../io/atomic';
import { fileError } from '../io/files';

export { writeFileAtomic };

/** JSON for results: typed arrays become plain arrays (JSON would write them as objects). */
export function resultsJson(results: unknown): string {
  return JSON.stringify(results, (_key, value: unknown) => {
    if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
      return Array.from(value as unknown as ArrayLike<number | bigint>, (v) => (typeof v === 'bigint' ? Number(v) : v));
    }
    return value;
  }, 2) + '\n';
}

/** A table cell as text: 4 decimals at most, small values in exponent form (λ = 1e-5). */
export function formatCell(v: string | number): string {
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  if (Math.abs(v) < 1e-3) return v.toExponential(1);
  return String(Math.round(v * 1e4) / 1e4);
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function escapeMd(s: string): string {
  // Table cells cannot hold a newline or a bare pipe.
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function checkText(fn: string, name: string, v: unknown, optional: boolean): void {
  if (v === undefined && optional) return;
  if (typeof v !== 'string') throw new TypeError(`${fn}: ${name} must be a string, got ${describe(v)}`);
}

function checkTable(fn: string, name: string, t: Table): void {
  if (t === null || typeof t !== 'object') throw new TypeError(`${fn}: ${name} must be an object, got ${describe(t)}`);
  if (!Array.isArray(t.columns) || t.columns.some((c) => typeof c !== 'string')) {
    throw new TypeError(`${fn}: ${name}.columns must be an array of strings, got ${describe(t.columns)}`);
  }
  if (t.columns.length === 0) throw new RangeError(`${fn}: ${name}.columns must not be empty`);
  if (!Array.isArray(t.rows)) throw new TypeError(`${fn}: ${name}.rows must be an array, got ${describe(t.rows)}`);
  t.rows.forEach((row, i) => {
    if (!Array.isArray(row)) throw new TypeError(`${fn}: ${name}.rows[${i}] must be an array, got ${describe(row)}`);
    if (row.length !== t.columns.length) {
      throw new RangeError(`${fn}: ${name}.rows[${i}] must have ${t.columns.length} cells (one per column), got ${row.length}`);
    }
    row.forEach((c, j) => {
      if (typeof c !== 'string' && typeof c !== 'number') {
        throw new TypeError(`${fn}: ${name}.rows[${i}][${j}] must be a string or a number, got ${describe(c)}`);
      }
    });
  });
}

/** Checks the report's structure and that ids are unique and every chart reference exists. */
function checkReport(fn: string, report: Report): { pictures: Picture[] } {
  if (report === null || typeof report !== 'object') throw new TypeError(`${fn}: report must be an object, got ${describe(report)}`);
  checkText(fn, 'report.title', report.title, false);
  checkText(fn, 'report.intro', report.intro, true);
  if (!Array.isArray(report.charts)) throw new TypeError(`${fn}: report.charts must be an array, got ${describe(report.charts)}`);
  if (!Array.isArray(report.sections)) throw new TypeError(`${fn}: report.sections must be an array, got ${describe(report.sections)}`);
  const ids = new Set<string>();
  const claim = (id: unknown, where: string): void => {
    const ok = checkId(fn, where, id);
    if (ids.has(ok)) throw new RangeError(`${fn}: ${where} '${ok}' is already used by another chart or picture (ids name files)`);
    ids.add(ok);
  };
  report.charts.forEach((c, i) => {
    if (c === null || typeof c !== 'object') throw new TypeError(`${fn}: report.charts[${i}] must be an object, got ${describe(c)}`);
    claim(c.id, `report.charts[${i}].id`);
  });
  const chartIds = new Set(report.charts.map((c) => c.id));
  const pictures: Picture[] = [];
  report.sections.forEach((s, i) => {
    const where = `report.sections[${i}]`;
    if (s === null || typeof s !== 'object') throw new TypeError(`${fn}: ${where} must be an object, got ${describe(s)}`);
    checkText(fn, `${where}.heading`, s.heading, false);
    checkText(fn, `${where}.text`, s.text, true);
    if (s.charts !== undefined) {
      if (!Array.isArray(s.charts)) throw new TypeError(`${fn}: ${where}.charts must be an array of chart ids, got ${describe(s.charts)}`);
      s.charts.forEach((id, j) => {
        if (!chartIds.has(id)) {
          throw new RangeError(`${fn}: ${where}.charts[${j}] refers to chart ${describe(id)}, which is not in report.charts`);
        }
      });
    }
    if (s.table !== undefined) checkTable(fn, `${where}.table`, s.table);
    if (s.pictures !== undefined) {
      if (!Array.isArray(s.pictures)) throw new TypeError(`${fn}: ${where}.pictures must be an array, got ${describe(s.pictures)}`);
      s.pictures.forEach((p, j) => {
        const pw = `${where}.pictures[${j}]`;
        if (p === null || typeof p !== 'object') throw new TypeError(`${fn}: ${pw} must be an object, got ${describe(p)}`);
        claim(p.id, `${pw}.id`);
        checkText(fn, `${pw}.title`, p.title, false);
        checkText(fn, `${pw}.svg`, p.svg, false);
        pictures.push(p);
      });
    }
    if (s.observations !== undefined) {
      if (!Array.isArray(s.observations) || s.observations.some((o) => typeof o !== 'string')) {
        throw new TypeError(`${fn}: ${where}.observations must be an array of strings, got ${describe(s.observations)}`);
      }
    }
  });
  return { pictures };
}

/** Sections as given, plus one for charts that no section shows, so every chart appears. */
function allSections(report: Report, lang: Lang): ReportSection[] {
  const shown = new Set(report.sections.flatMap((s) => s.charts ?? []));
  const rest = report.charts.filter((c) => !shown.has(c.id)).map((c) => c.id);
  return rest.length ? [...report.sections, { heading: messages(lang).common.otherCharts, charts: rest }] : report.sections;
}

export function reportMarkdown(report: Report, lang: Lang = 'en'): string {
  const titles = new Map(report.charts.map((c) => [c.id, c.title]));
  const out: string[] = [`# ${report.title}`, ''];
  if (report.intro) out.push(report.intro, '');
  for (const s of allSections(report, lang)) {
    out.push(`## ${s.heading}`, '');
    if (s.text) out.push(s.text, '');
    if (s.table) {
      out.push(`| ${s.table.columns.map(escapeMd).join(' | ')} |`);
      out.push(`|${s.table.columns.map(() => ' --- ').join('|')}|`);
      for (const row of s.table.rows) out.push(`| ${row.map((c) => escapeMd(formatCell(c))).join(' | ')} |`);
      out.push('');
    }
    for (const id of s.charts ?? []) out.push(`![${escapeMd(titles.get(id) ?? id)}](charts/${id}.png)`, '');
    for (const p of s.pictures ?? []) out.push(`![${escapeMd(p.title)}](charts/${p.id}.png)`, '');
    if (s.observations?.length) {
      for (const o of s.observations) out.push(`- ${o}`);
      out.push('');
    }
  }
  out.push(messages(lang).common.allNumbers, '');
  return out.join('\n');
}

const CSS = `
body { font-family: 'DejaVu Sans', 'Liberation Sans', Arial, Helvetica, sans-serif; max-width: 1100px;
  margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; } th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
ul.obs li { margin: 0.2em 0; }
`;

/**
 * The report as one HTML file. Images are data: URIs (SVG by default), so the
 * file opens offline and each chart keeps its own ids (Vega's clip-path ids
 * would clash if several charts were pasted inline into one document).
 */
export function reportHtml(report: Report, images: Map<string, { svg: string; png: Buffer }>, embed: 'svg' | 'png', lang: Lang = 'en'): string {
  const titles = new Map<string, string>(report.charts.map((c) => [c.id, c.title]));
  // Charts carry their title inside the image; pictures get it as a caption.
  const img = (id: string, alt: string, caption: boolean): string => {
    const im = images.get(id);
    if (!im) throw new Error(`reportHtml: no image for '${id}'`);
    const src = embed === 'png'
      ? `data:image/png;base64,${im.png.toString('base64')}`
      : `data:image/svg+xml;base64,${Buffer.from(im.svg, 'utf8').toString('base64')}`;
    const cap = caption ? `<figcaption>${escapeHtml(alt)}</figcaption>` : '';
    return `<figure id="${escapeHtml(id)}"><img src="${src}" alt="${escapeHtml(alt)}">${cap}</figure>`;
  };
  const out: string[] = [
    '<!DOCTYPE html>', `<html lang="${lang}">`, '<head>', '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(report.title)}</title>`,
    // Japanese text in a CJK font (the page's own Latin text too, so both match).
    `<style>${lang === 'ja' ? CSS.replace(/font-family: [^;]+;/, `font-family: ${FONT_FAMILY_JA};`) : CSS}</style>`, '</head>', '<body>',
    `<h1>${escapeHtml(report.title)}</h1>`,
  ];
  if (report.intro) out.push(`<p>${escapeHtml(report.intro)}</p>`);
  for (const s of allSections(report, lang)) {
    out.push('<section>', `<h2>${escapeHtml(s.heading)}</h2>`);
    if (s.text) out.push(`<p>${escapeHtml(s.text)}</p>`);
    if (s.table) {
      out.push('<table>', `<thead><tr>${s.table.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead>`, '<tbody>');
      for (const row of s.table.rows) {
        out.push(`<tr>${row.map((c) => `<td${typeof c === 'number' ? ' class="num"' : ''}>${escapeHtml(formatCell(c))}</td>`).join('')}</tr>`);
      }
      out.push('</tbody>', '</table>');
    }
    for (const id of s.charts ?? []) out.push(img(id, titles.get(id) ?? id, false));
    for (const p of s.pictures ?? []) out.push(img(p.id, p.title, true));
    if (s.observations?.length) {
      out.push('<ul class="obs">', ...s.observations.map((o) => `<li>${escapeHtml(o)}</li>`), '</ul>');
    }
    out.push('</section>');
  }
  out.push('</body>', '</html>', '');
  return out.join('\n');
}

export interface WriteReportOptions {
  /** How report.html embeds charts: 'svg' (vector, default) or 'png' (base64 raster). */
  embed?: 'svg' | 'png';
  /** Language of the report's own words and of report.html ('en'; 'ja' also picks CJK fonts). */
  lang?: Lang;
}

/**
 * Writes dir/charts/<id>.svg and .png for every chart and picture,
 * dir/results.json, dir/report.md and dir/report.html (self-contained).
 * Returns the paths written, in order.
 * @example
 *   const { files } = await writeReport('runs/vanishing-gradient', { title: 'Vanishing gradient',
 *     charts, sections: [{ heading: 'Sigmoid', charts: ['sigmoid-std0.01'] }], results });
 */
export async function writeReport(dir: string, report: Report, opts: WriteReportOptions = {}): Promise<{ files: string[] }> {
  const fn = 'writeReport';
  if (typeof dir !== 'string' || dir.length === 0) throw new TypeError(`${fn}: dir must be a non-empty string, got ${describe(dir)}`);
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${fn}: opts must be an object, got ${describe(opts)}`);
  const embed = opts.embed ?? 'svg';
  if (embed !== 'svg' && embed !== 'png') throw new RangeError(`${fn}: opts.embed must be 'svg' or 'png', got ${describe(embed)}`);
  const lang = opts.lang ?? 'en';
  if (!LANGS.includes(lang)) throw new RangeError(`${fn}: opts.lang must be 'en' or 'ja', got ${describe(lang)}`);
  const { pictures } = checkReport(fn, report);

  // Render everything before writing anything, so a bad chart does not leave half a report.
  const images = new Map<string, { svg: string; png: Buffer }>();
  for (const chart of report.charts as LineChart[]) images.set(chart.id, await renderChart(chart));
  for (const p of pictures) images.set(p.id, { svg: p.svg, png: svgToPng(p.svg, { scale: 2 }) });
  const json = resultsJson(report.results);

  const chartsDir = path.join(dir, 'charts');
  try {
    fs.mkdirSync(chartsDir, { recursive: true });
  } catch (err) {
    throw fileError(err, chartsDir, 'be created');
  }
  const files: string[] = [];
  const put = (file: string, data: string | Buffer): void => {
    writeFileAtomic(file, data);
    files.push(file);
  };
  for (const [id, im] of images) {
    put(path.join(chartsDir, `${id}.svg`), im.svg);
    put(path.join(chartsDir, `${id}.png`), im.png);
  }
  put(path.join(dir, 'results.json'), json);
  put(path.join(dir, 'report.md'), reportMarkdown(report, lang));
  put(path.join(dir, 'report.html'), reportHtml(report, images, embed, lang));
  return { files };
}
