// SPDX-License-Identifier: MIT
// Catching errors by name: errors thrown by the addon come from another realm than jest's
// test context, so `instanceof`/`toThrow(RangeError)` cannot be used on them.

export type Call = () => unknown;

/** The name and message of what `fn` throws; fails when it returns normally. */
export function caught(fn: Call): { name: string; message: string } {
  try {
    fn();
  } catch (err) {
    const e = err as { name?: unknown; message?: unknown };
    return { name: String(e.name), message: String(e.message) };
  }
  throw new Error('expected the call to throw, it returned normally');
}

/** A string made safe to embed in a RegExp. */
export const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
