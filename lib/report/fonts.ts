// SPDX-License-Identifier: MIT
// Font lists written into the SVGs: Latin text in DejaVu Sans (Debian's
// fonts-dejavu-core), Japanese text in a CJK font (fonts-ipafont-gothic or
// fonts-noto-cjk). resvg takes the first family of the list it has for a whole
// text, so text with Japanese in it names the CJK fonts first (they also carry
// Latin letters), and plain text keeps DejaVu.

/** The font list of text without CJK characters; the first ones exist on Debian. */
export const FONT_FAMILY = "'DejaVu Sans', 'Liberation Sans', Arial, Helvetica, sans-serif";

/** The font list of text with Japanese in it: proportional CJK families first. */
export const FONT_FAMILY_JA = "'IPAPGothic', 'Noto Sans CJK JP', 'IPAexGothic', 'IPAGothic', 'Hiragino Sans', "
  + "'Yu Gothic', 'Meiryo', 'DejaVu Sans', sans-serif";

const CJK = /[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]/;

/** Whether a text has Chinese/Japanese characters (kana, kanji, full-width forms). */
export function hasCjk(...texts: Array<string | undefined>): boolean {
  return texts.some((t) => t !== undefined && CJK.test(t));
}

/** The font list for a set of texts: the Japanese one when any of them has CJK characters. */
export function fontFor(...texts: Array<string | undefined>): string {
  return hasCjk(...texts) ? FONT_FAMILY_JA : FONT_FAMILY;
}
