// SPDX-License-Identifier: MIT
// One generated call: how it was built (statements, call expression), what it must do (succeed,
// throw a clear error naming the function and one of some arguments, or either), and the
// closure that makes it. Every call is built from its own seed and its own fresh objects, so
// any call can be replayed alone.

/** A small seeded generator (mulberry32): every call gets its own. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** k distinct items (fewer when there are fewer). */
  sample<T>(items: readonly T[], k: number): T[] {
    const a = [...items];
    const out: T[] = [];
    while (out.length < k && a.length > 0) out.push(a.splice(Math.floor(this.next() * a.length), 1)[0]);
    return out;
  }
}

/** A 32-bit hash of some integers: the seed of call `index` of batch `batch` under `seed`. */
export function mix(...words: number[]): number {
  let h = 0x811c9dc5;
  for (const w of words) {
    let x = w >>> 0;
    for (let i = 0; i < 4; i++) {
      h ^= x & 0xff;
      h = Math.imul(h, 0x01000193);
      x >>>= 8;
    }
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

export type Expect = 'ok' | 'throw' | 'either';

/** A value with the source text that makes it. */
export interface Val<T = unknown> {
  v: T;
  src: string;
}

export const val = <T>(v: T, src: string): Val<T> => ({ v, src });

/** A generated call: its source, what it must do, and checks of what it did. */
export interface Call {
  /** The entry point, e.g. 'addon.sgemm', 'Affine.forward'. */
  target: string;
  expect: Expect;
  /** The message must contain one of these function names (when it throws). */
  fns: readonly string[];
  /** The message must contain one of these argument names as a word (when it must throw); empty: any. */
  args: readonly string[];
  /** Further function names a message may name when the call only had to fail cleanly (expect 'either'). */
  looseFns?: readonly string[];
  /** Error names accepted besides TypeError, RangeError and ShapeError. */
  errors: readonly string[];
  /** A getter planted by the fuzzer may throw its FuzzMarker through the call. */
  marker: boolean;
  /** What was done to the valid call, e.g. ['x: lying shape', 'train: a string']. */
  labels: readonly string[];
  /**
   * The body of a function of (lib, v, addon) that builds the arguments and returns
   * { args, run }: the call is made by run(), from exactly this text.
   */
  code: string;
  /** Called with the built arguments before the call (to copy what must not change). */
  prepare?: (args: unknown[]) => void;
  /** What the call did (a refused call wrote nothing, ...): a failure message or null. */
  check?: (threw: boolean, result: unknown, args: unknown[]) => string | null;
}

/** A fuzz target: an entry point and how to make one call of it. */
export interface Target {
  name: string;
  /** Relative share of the calls. */
  weight: number;
  make(c: Ctx): Call;
}

/** Builds one call: the target function records its arguments and mutations here. */
export class Ctx {
  readonly pre: string[] = [];
  readonly labels: string[] = [];
  expect: Expect = 'ok';
  marker = false;
  readonly badNames = new Set<string>();
  readonly loose = new Set<string>();
  readonly errors = new Set<string>();
  private vars = 0;

  constructor(readonly r: Rng, readonly mutations: number) {}

  /** Declares `const vN = src;` and returns vN. */
  let(src: string): string {
    const name = `v${++this.vars}`;
    this.pre.push(`const ${name} = ${src};`);
    return name;
  }

  /** A statement before the call (a warm-up forward, a detach, ...). */
  stmt(src: string): void {
    this.pre.push(src.endsWith(';') || src.endsWith('}') ? src : `${src};`);
  }

  /** Which of `names` to mutate: `mutations` of them, at random. */
  pick(names: readonly string[]): Set<string> {
    return new Set(this.r.sample(names, this.mutations));
  }

  /** A mutation that makes the call bad: it must throw, naming one of `names` (any argument when none). */
  bad(label: string, ...names: string[]): void {
    this.expect = 'throw';
    this.labels.push(label);
    for (const n of names) this.badNames.add(n);
  }

  /** A mutation after which the call may succeed or throw a clear error (naming one of `names`). */
  either(label: string, ...names: string[]): void {
    if (this.expect === 'ok') this.expect = 'either';
    this.labels.push(label);
    for (const n of names) this.loose.add(n);
  }

  /** A mutation that keeps the call valid (shared memory, views, NaN data, ...). */
  ok(label: string): void {
    this.labels.push(label);
  }

  /** A planted getter may throw its marker through the call. */
  planted(label: string): void {
    this.marker = true;
    this.either(label);
  }

  /** The verdict so far, to undo what a generator recorded (see restore). */
  snapshot(): { expect: Expect; marker: boolean; labels: number; bad: string[]; loose: string[] } {
    return { expect: this.expect, marker: this.marker, labels: this.labels.length, bad: [...this.badNames], loose: [...this.loose] };
  }

  restore(s: ReturnType<Ctx['snapshot']>): void {
    this.expect = s.expect;
    this.marker = s.marker;
    this.labels.splice(s.labels);
    this.badNames.clear();
    for (const n of s.bad) this.badNames.add(n);
    this.loose.clear();
    for (const n of s.loose) this.loose.add(n);
  }

  /** Also accept errors of this name (documented error classes of the entry point). */
  accept(...names: string[]): void {
    for (const n of names) this.errors.add(n);
  }

  /**
   * The call: `callee` turns the argument list's source (e.g. '...A') into the call expression
   * ('lib.tensor(...A)', 'new lib.Affine(...A)', 'v3.forward(...A)').
   */
  finish(target: string, fns: readonly string[], callee: (args: string) => string, args: readonly string[],
    hooks: Pick<Call, 'prepare' | 'check' | 'looseFns'> = {}): Call {
    const names = this.expect === 'throw' && this.badNames.size > 0 ? [...this.badNames, ...this.loose] : [];
    const code = [...this.pre, `const A = [${args.join(', ')}];`, `return { args: A, run: () => ${callee('...A')} };`].join('\n');
    return {
      target, expect: this.expect, fns, args: names, errors: [...this.errors], marker: this.marker,
      labels: this.labels, code, ...hooks,
    };
  }
}

// ---- judging an outcome ---------------------------------------------------------------------

const STANDARD_ERRORS = new Set(['TypeError', 'RangeError', 'ShapeError']);

/** Whether `name` occurs in `message` as a whole word (letters, digits and _ around it do not count). */
export function namesWord(message: string, name: string): boolean {
  // Products of sizes are written AxB ('OHxOW', 'g.Hxg.W'): the x between two names separates them.
  message = message.replace(/(?<=[A-Z0-9\]])x(?=[A-Z]|g\.)/g, ' · ');
  let at = message.indexOf(name);
  while (at >= 0) {
    const before = at === 0 ? '' : message[at - 1];
    const after = message[at + name.length] ?? '';
    if (!/[A-Za-z0-9_]/.test(before) && !/[A-Za-z0-9_]/.test(after)) return true;
    at = message.indexOf(name, at + 1);
  }
  return false;
}

/** What was wrong with a call's outcome, or null when it is what the call promised. */
export function judge(call: Call, threw: boolean, result: unknown, err: unknown, args: unknown[]): string | null {
  if (!threw) {
    if (call.expect === 'throw') return `accepted a bad call (${call.labels.join('; ')})`;
    return call.check ? call.check(false, result, args) : null;
  }
  if (!(err instanceof Error)) return `threw a non-Error: ${safeString(err)}`;
  if (err.name === 'FuzzMarker') return call.marker ? null : 'let through a FuzzMarker no getter of this call planted';
  const what = `${err.name}: ${err.message}`;
  if (call.expect === 'ok') return `refused a valid call${call.labels.length ? ` (${call.labels.join('; ')})` : ''}: ${what}`;
  if (!STANDARD_ERRORS.has(err.name) && !call.errors.includes(err.name)) {
    return `threw ${err.name}, not a TypeError, RangeError or ShapeError (${call.errors.length ? `or ${call.errors.join(', ')}` : 'nor a documented error class'}): ${what}`;
  }
  const fns = call.expect === 'either' ? [...call.fns, ...(call.looseFns ?? [])] : call.fns;
  if (!fns.some((f) => err.message.includes(f))) return `the message names none of ${call.fns.join(', ')}: ${what}`;
  if (call.args.length > 0 && !call.args.some((a) => namesWord(err.message, a))) {
    return `the message names none of the arguments ${call.args.join(', ')}: ${what}`;
  }
  if (err.message.includes('[object ')) return `the message prints an object as [object ...]: ${what}`;
  return call.check ? call.check(true, undefined, args) : null;
}

/** String(x) that never throws. */
export function safeString(x: unknown): string {
  try {
    return typeof x === 'symbol' ? x.toString() : String(x);
  } catch {
    return Object.prototype.toString.call(x);
  }
}

/** The reproduction of a call as a Node script (run from the package folder after `npm run build`). */
export function reproduction(call: Call): string {
  return [
    "const lib = require('./dist/index.js');",
    "const v = require('./dist/bench/fuzz/values.js');",
    "const { addon } = require('./dist/lib/core/native.js');",
    ...call.code.split('\n').slice(0, -1),
    call.code.split('\n').slice(-1)[0].replace(/^return \{ args: A, run: \(\) => (.*) \};$/, '$1;'),
  ].join('\n');
}
