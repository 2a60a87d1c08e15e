// SPDX-License-Identifier: MIT
// SVG -> PNG through resvg (a Rust rasteriser shipped as a prebuilt npm binary:
// no browser, no canvas). resvg draws text only with fonts it can find, so the
// system fonts are loaded and a family that Debian ships is named first.
// @resvg/resvg-js is an optional peer dependency, loaded at the first PNG (core/optional).
import type { ResvgRenderOptions } from '@resvg/resvg-js';
import { describe } from '../core/errors';
import { OPTIONAL_FEATURES, requireOptional } from '../core/optional';
import { FONT_FAMILY_JA, hasCjk } from './fonts';

type ResvgModule = typeof import('@resvg/resvg-js');

/** The Resvg class, required at first use. */
function Resvg(): ResvgModule['Resvg'] {
  return requireOptional<ResvgModule>('@resvg/resvg-js', `PNG ${OPTIONAL_FEATURES.charts.purpose}`).Resvg;
}

export { FONT_FAMILY } from './fonts';

const RESVG_FONT: NonNullable<ResvgRenderOptions['font']> = {
  loadSystemFonts: true,
  defaultFontFamily: 'DejaVu Sans',
  sansSerifFamily: 'DejaVu Sans',
};

export interface SvgToPngOptions {
  /** Output width in pixels; the height follows the aspect ratio. */
  width?: number;
  /** Zoom factor instead of a width (2 gives sharp images on high-density screens). Default 1. */
  scale?: number;
  /** Background colour under transparent areas. Default white. */
  background?: string;
}

function renderOptions(fn: string, opts: SvgToPngOptions): ResvgRenderOptions {
  if (opts === null || typeof opts !== 'object') {
    throw new TypeError(`${fn}: opts must be an object, got ${describe(opts)}`);
  }
  const { width, scale, background = 'white' } = opts;
  if (width !== undefined && scale !== undefined) {
    throw new RangeError(`${fn}: give opts.width or opts.scale, not both (got width ${width} and scale ${scale})`);
  }
  let fitTo: ResvgRenderOptions['fitTo'] = { mode: 'original' };
  if (width !== undefined) {
    if (typeof width !== 'number') throw new TypeError(`${fn}: opts.width must be a number, got ${describe(width)}`);
    if (!Number.isInteger(width) || width < 1 || width > 16384) {
      throw new RangeError(`${fn}: opts.width must be an integer in [1, 16384], got ${describe(width)}`);
    }
    fitTo = { mode: 'width', value: width };
  } else if (scale !== undefined) {
    if (typeof scale !== 'number') throw new TypeError(`${fn}: opts.scale must be a number, got ${describe(scale)}`);
    if (!Number.isFinite(scale) || scale <= 0 || scale > 16) {
      throw new RangeError(`${fn}: opts.scale must be a number in (0, 16], got ${describe(scale)}`);
    }
    fitTo = { mode: 'zoom', value: scale };
  }
  if (typeof background !== 'string') {
    throw new TypeError(`${fn}: opts.background must be a CSS colour string, got ${describe(background)}`);
  }
  return { fitTo, background, font: RESVG_FONT, logLevel: 'off' };
}

function checkSvg(fn: string, svg: unknown): asserts svg is string {
  if (typeof svg !== 'string') throw new TypeError(`${fn}: svg must be a string, got ${describe(svg)}`);
  if (!/<svg[\s>]/.test(svg)) {
    throw new RangeError(`${fn}: svg must contain an <svg> element, got ${describe(svg)}`);
  }
}

/** One character drawn alone, as RGBA pixels. */
function glyphPixels(ch: string, font: ResvgRenderOptions['font']): Buffer {
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><rect width="40" height="40" fill="white"/>'
    + `<text x="4" y="32" font-family="${FONT_FAMILY_JA.replace(/"/g, '&quot;')}" font-size="30" fill="black">${ch}</text></svg>`;
  return Buffer.from(new (Resvg())(svg, { font, logLevel: 'off' }).render().pixels);
}

let cjkChecked: boolean | undefined;

/**
 * Whether resvg finds a font with Japanese glyphs: two different kanji must come out as two
 * different pictures, neither of them the box drawn for a character no font has (tofu).
 * `systemFonts: false` checks with no fonts at all (for tests).
 */
export function hasCjkFont(opts: { systemFonts?: boolean } = {}): boolean {
  const system = opts.systemFonts ?? true;
  if (system && cjkChecked !== undefined) return cjkChecked;
  const font = system ? RESVG_FONT : { loadSystemFonts: false };
  const a = glyphPixels('\u52fe', font), b = glyphPixels('\u914d', font), tofu = glyphPixels('\ue000', font);
  const ok = !a.equals(b) && !a.equals(tofu) && !b.equals(tofu);
  if (system) cjkChecked = ok;
  return ok;
}

function checkCjk(fn: string, svg: string): void {
  if (hasCjk(svg) && !hasCjkFont()) {
    throw new Error(`${fn}: the picture has Japanese text, but no font with Japanese glyphs is installed, so it would be drawn as boxes; `
      + 'install one (Debian/Ubuntu: apt-get install fonts-ipafont-gothic, or fonts-noto-cjk)');
  }
}

/**
 * Rasterises an SVG document to PNG bytes.
 * @example
 *   const png = svgToPng(svg, { width: 800 });
 *   fs.writeFileSync('chart.png', png);
 */
export function svgToPng(svg: string, opts: SvgToPngOptions = {}): Buffer {
  const fn = 'svgToPng';
  checkSvg(fn, svg);
  const options = renderOptions(fn, opts);
  checkCjk(fn, svg);
  try {
    return new (Resvg())(svg, options).render().asPng();
  } catch (err) {
    throw new RangeError(`${fn}: resvg could not render the SVG: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Rasterises an SVG to raw RGBA pixels (row-major, 4 bytes per pixel), e.g. to
 * check that a chart is not blank.
 * @example
 *   const { width, height, pixels } = svgToPixels(svg);
 */
export function svgToPixels(svg: string, opts: SvgToPngOptions = {}): { width: number; height: number; pixels: Buffer } {
  const fn = 'svgToPixels';
  checkSvg(fn, svg);
  const img = new (Resvg())(svg, renderOptions(fn, opts)).render();
  return { width: img.width, height: img.height, pixels: img.pixels };
}
