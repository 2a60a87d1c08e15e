// SPDX-License-Identifier: MIT
import { en, Messages } from './en';

export const ja: Messages = { ...en, lang: 'ja' };
