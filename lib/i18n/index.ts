// SPDX-License-Identifier: MIT
// The message catalogue: English and Japanese texts of the command line and of
// the exercise reports (titles, axis labels, observations).
import { describe } from '../core/errors';
import { en, Messages } from './en';
import { ja } from './ja';

export type Lang = 'en' | 'ja';
export const LANGS: readonly Lang[] = ['en', 'ja'];
export type { Messages };

/** The messages of a language ('en' when undefined). */
export function messages(lang: Lang | undefined = 'en'): Messages {
  if (lang === 'en') return en;
  if (lang === 'ja') return ja;
  throw new RangeError(`messages: lang must be 'en' or 'ja', got ${describe(lang)}`);
}
