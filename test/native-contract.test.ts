// SPDX-License-Identifier: MIT
// The native boundary against its declaration (lib/core/contract.ts): the generated files are
// up to date, the addon has exactly the declared entry points, and every entry point refuses
// every kind of bad argument the declaration implies (wrong type, wrong length, overlapping
// buffers, out-of-range integers, bad geometry, missing or extra arguments) with a TypeError or
// RangeError naming the function and the argument, without writing anything. The cases are
// derived from the declaration, so a new entry point is covered as soon as it is declared.
// Errors from the addon come from another realm than jest's: they are compared by name.
import { describe, expect, test, afterAll } from '@jest/globals';
import * as fs from 'fs';
import * as path from 'path';
import * as contract from '../lib/core/contract';
import type { Arg, BufferArg, EntrySpec, GeometrySpec } from '../lib/core/contract';
import * as K from '../lib/core/kernels';
import { addon } from '../lib/core/native';
import { caught, esc } from './helpers/errors';
import { Rng } from './helpers/random';
import * as ref from './reference/naive';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const gen = require('../scripts/gen-native.js') as { generate(c: unknown): Record<string, string> };

const root = path.resolve(__dirname, '..');
const ENTRIES = contract.ENTRIES as unknown as Record<string, EntrySpec>;
const GEOMETRIES = contract.GEOMETRIES as unknown as Record<string, GeometrySpec>;
type Raw = (...args: unknown[]) => unknown;
const raw = addon as unknown as Record<string, Raw>;
const rng = new Rng(71);
const initialThreads = K.getNumThreads();
afterAll(() => K.setNumThreads(initialThreads));

const isBuffer = (a: Arg): a is BufferArg => a.kind === 'f32' || a.kind === 'i32';
// Free dims (the element-wise kernels' n) take this size in the valid calls.
const FREE_DIM = 7;
// Written buffers start filled with this, so that a refused call that wrote anything shows.
const SENTINEL = -777.25;

/** Every dim's value in the entry's valid call: its int arguments', its geometry's, free dims. */
function dimValues(spec: EntrySpec, geometry?: Record<string, number>): Record<string, number> {
  const dims: Record<string, number> = {};
  for (const a of spec.args) if (a.kind === 'int') dims[a.name] = a.example;
  for (const a of spec.args) {
    if (a.kind !== 'geometry') continue;
    const g = GEOMETRIES[a.type];
    const values = geometry ?? exampleGeometry(a.type);
    Object.assign(dims, values);
    for (const [name, [size, k, stride, pad]] of Object.entries(g.windows)) {
      dims[name] = Math.floor((dims[size] + 2 * dims[pad] - dims[k]) / dims[stride]) + 1;
    }
  }
  for (const a of spec.args) if (isBuffer(a)) for (const d of a.dims) if (dims[d] === undefined) dims[d] = FREE_DIM;
  return dims;
}

function exampleGeometry(type: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [f, s] of Object.entries(GEOMETRIES[type].fields)) out[f] = s.example;
  return out;
}

const product = (dims: readonly string[], v: Record<string, number>): number => dims.reduce((p, d) => p * v[d], 1);

function makeBuffer(a: BufferArg, n: number): Float32Array | Int32Array {
  if (a.kind === 'i32') return new Int32Array(n).fill(a.written ? -3 : 1);
  const b = rng.floats(n);
  if (a.written) b.fill(SENTINEL);
  return b;
}

/** A valid argument list: each buffer its own fresh memory. */
function validArgs(spec: EntrySpec): unknown[] {
  const dims = dimValues(spec);
  return spec.args.map((a) => {
    if (isBuffer(a)) return makeBuffer(a, product(a.dims, dims));
    if (a.kind === 'geometry') return exampleGeometry(a.type);
    return a.example;
  });
}

/** The written buffers of a call are untouched (after a refused call). */
function expectUnwritten(spec: EntrySpec, values: unknown[], replaced?: number): void {
  spec.args.forEach((a, i) => {
    const v = values[i];
    if (i === replaced || !isBuffer(a) || !a.written || !(v instanceof Float32Array || v instanceof Int32Array)) return;
    const want = a.kind === 'i32' ? -3 : SENTINEL;
    for (let k = 0; k < v.length; k++) {
      if (v[k] !== want) throw new Error(`'${a.name}' was written (element ${k} is ${v[k]}) by a refused call`);
    }
  });
}

function expectRefused(fn: string, spec: EntrySpec, values: unknown[], name: string, message: RegExp, what: string,
  replaced?: number): void {
  const e = caught(() => raw[fn](...values));
  if (e.name !== name || !message.test(e.message) || !e.message.startsWith(`${fn}: `)) {
    throw new Error(`${fn} with ${what}: expected ${name} matching ${message}, got ${e.name}: ${e.message}`);
  }
  expectUnwritten(spec, values, replaced);
}

interface Bad { what: string; value: unknown; name: 'TypeError' | 'RangeError'; re: RegExp }

const show = (v: unknown): string => (typeof v === 'number' ? `the number ${String(v)}` : String(v));

/** The bad values of one argument, each with the error the declaration implies. */
function badValues(spec: EntrySpec, a: Arg, i: number, dims: Record<string, number>): Bad[] {
  const at = `argument ${i} '${esc(a.name)}'`;
  if (isBuffer(a)) {
    const n = product(a.dims, dims);
    const typeName = a.kind === 'f32' ? 'a Float32Array' : 'an Int32Array';
    const type = (got: string): RegExp => new RegExp(`${at} must be ${typeName}${a.nullable ? ' or null' : ''}, got ${got}$`);
    // A buffer that binds a free dim changes that dim: the next buffer with it is then wrong.
    const binds = a.dims.length === 1 && !spec.args.some((b) => b.kind === 'int' && b.name === a.dims[0])
      && !spec.args.some((b) => b.kind === 'geometry' && (a.dims[0] in GEOMETRIES[b.type].fields || a.dims[0] in GEOMETRIES[b.type].windows));
    const len = binds ? /' must have \d+ elements/ : new RegExp(`'${esc(a.name)}' must have ${n} elements \\(.*\\), got`);
    const list: Bad[] = [
      { what: 'a Uint8Array of the same bytes', value: new Uint8Array(n * 4), name: 'TypeError', re: type('a Uint8Array') },
      { what: 'a Float64Array', value: new Float64Array(n), name: 'TypeError', re: type('a Float64Array') },
      { what: 'a plain Array', value: new Array(n).fill(0), name: 'TypeError', re: type('an Array') },
      { what: 'a DataView', value: new DataView(new ArrayBuffer(n * 4)), name: 'TypeError', re: type('an object') },
      { what: 'a string', value: 'x', name: 'TypeError', re: type('a string') },
      a.kind === 'f32'
        ? { what: 'an Int32Array', value: new Int32Array(n), name: 'TypeError', re: type('a Int32Array') }
        : { what: 'a Float32Array', value: new Float32Array(n), name: 'TypeError', re: type('a Float32Array') },
      { what: 'one element long', value: a.kind === 'f32' ? new Float32Array(n + 1) : new Int32Array(n + 1), name: 'RangeError', re: len },
    ];
    if (n > 0) {
      const short = a.kind === 'f32' ? new Float32Array(n - 1) : new Int32Array(n - 1);
      list.push({ what: 'one element short', value: short, name: 'RangeError', re: len });
    }
    if (!a.nullable) {
      list.push({ what: 'null', value: null, name: 'TypeError', re: type('null') });
      list.push({ what: 'undefined', value: undefined, name: 'TypeError', re: type('undefined') });
    }
    return list;
  }
  if (a.kind === 'int') {
    const max = a.max ?? 2147483647;
    const range = (v: number): RegExp => new RegExp(`${at} must be an integer in \\[${a.min}, ${max}\\], got ${esc(show(v))}$`);
    const list: Bad[] = [a.min - 1, max + 1, NaN, Infinity, -Infinity, a.min + 0.5]
      .map((v) => ({ what: String(v), value: v, name: 'RangeError' as const, re: range(v) }));
    for (const [what, value, got] of [['a string', '2', 'a string'], ['undefined', undefined, 'undefined'], ['a bigint', 2n, 'a bigint'],
      ['null', null, 'null']] as const) {
      list.push({ what, value, name: 'TypeError', re: new RegExp(`${at} must be a number, got ${got}$`) });
    }
    return list;
  }
  if (a.kind === 'num') {
    return [['a string', '1', 'a string'], ['undefined', undefined, 'undefined'], ['null', null, 'null'], ['a boolean', true, 'a boolean']]
      .map(([what, value, got]) => ({ what: String(what), value, name: 'TypeError' as const, re: new RegExp(`${at} must be a number, got ${got}$`) }));
  }
  if (a.kind === 'bool') {
    return [['1', 1, 'the number 1'], ['a string', 'true', 'a string'], ['null', null, 'null'], ['undefined', undefined, 'undefined']]
      .map(([what, value, got]) => ({ what: String(what), value, name: 'TypeError' as const, re: new RegExp(`${at} must be a boolean, got ${got}$`) }));
  }
  const obj = (got: string): RegExp => new RegExp(`${at} must be an object \\{ .* \\}, got ${got}$`);
  return [['null', null, 'null'], ['a number', 3, 'the number 3'], ['an Array', [], 'an Array'], ['a string', 'g', 'a string'],
    ['a Float32Array', new Float32Array(9), 'a Float32Array']]
    .map(([what, value, got]) => ({ what: String(what), value, name: 'TypeError' as const, re: obj(String(got)) }));
}

// Geometry fields that break one int32 product of the declaration each (and nothing before it).
const INT32_BREAKERS: Record<string, Record<string, number>> = {
  'H,W': { H: 65536, W: 32768, FH: 1, FW: 1, pad: 0 },
  'C,FH,FW': { C: 65536, H: 65536, W: 1, FH: 65536, FW: 1, stride: 1, pad: 1 },
  'OH,OW': { H: 1, W: 1, FH: 1, FW: 1, stride: 1, pad: 32768 },
};

describe('the generated files', () => {
  const files = gen.generate(contract);

  test.each(Object.keys(files))('%s is what `npm run gen:native` writes from contract.ts', (rel) => {
    const onDisk = fs.readFileSync(path.join(root, rel), 'utf8');
    if (onDisk !== files[rel]) {
      throw new Error(`${rel} is stale: run \`npm run gen:native\` after editing lib/core/contract.ts`);
    }
  });

  test('the generator refuses a declaration it cannot derive checks from', () => {
    const bad = (entries: Record<string, unknown>): unknown => ({ ...contract, ENTRIES: entries });
    expect(() => gen.generate(bad({ f: { file: 'x', doc: '', args: [{ kind: 'f32', name: 'x', dims: ['q', 'r'] }] } })))
      .toThrow(/dim 'q' of 'x' is not an argument or geometry field/);
    expect(() => gen.generate(bad({ f: { file: 'x', doc: '', args: [{ kind: 'int', name: 'n', min: 1, example: 1 }, { kind: 'num', name: 'n', example: 1 }] } })))
      .toThrow(/argument 'n' twice/);
  });
});

describe('the addon', () => {
  test('has exactly the declared entry points, each a function', () => {
    expect(Object.keys(addon).sort()).toEqual(Object.keys(ENTRIES).sort());
    for (const name of Object.keys(ENTRIES)) expect(typeof raw[name]).toBe('function');
  });

  test('is frozen: the functions the library calls cannot be replaced through `kernels`', () => {
    expect(Object.isFrozen(addon)).toBe(true);
  });
});

for (const [fn, spec] of Object.entries(ENTRIES)) {
  describe(fn, () => {
    const dims = dimValues(spec);

    test('accepts its valid call, and nullable buffers as null', () => {
      const values = validArgs(spec);
      const result = raw[fn](...values);
      if (spec.returns === undefined) expect(result).toBeUndefined();
      else if (spec.returns === 'int') expect(Number.isInteger(result)).toBe(true);
      else expect(Object.keys(result as object).sort()).toEqual(Object.keys((contract.RESULTS as Record<string, object>)[spec.returns]).sort());
      spec.args.forEach((a, i) => {
        if (!isBuffer(a) || !a.nullable) return;
        const v = validArgs(spec);
        v[i] = null;
        expect(() => raw[fn](...v)).not.toThrow();
      });
      if (fn === 'setNumThreads') K.setNumThreads(initialThreads);
    });

    test('refuses too few and too many arguments', () => {
      const values = validArgs(spec);
      const count = (got: number): RegExp =>
        new RegExp(`^${fn}: expected ${spec.args.length} arguments \\(${esc(spec.args.map((a) => a.name).join(', '))}\\), got ${got}$`);
      if (values.length > 0) expectRefused(fn, spec, values.slice(0, -1), 'TypeError', count(values.length - 1), 'one argument less');
      expectRefused(fn, spec, [...values, 0], 'TypeError', count(values.length + 1), 'one argument more');
      if (values.length > 1) expectRefused(fn, spec, [], 'TypeError', count(0), 'no arguments');
    });

    spec.args.forEach((a, i) => {
      test(`refuses a bad argument ${i} '${a.name}' (${a.kind})`, () => {
        for (const bad of badValues(spec, a, i, dims)) {
          const values = validArgs(spec);
          values[i] = bad.value;
          expectRefused(fn, spec, values, bad.name, bad.re, `${a.name} = ${bad.what}`, i);
        }
      });
    });

    for (const [gi, a] of spec.args.entries()) {
      if (a.kind !== 'geometry') continue;
      const g = GEOMETRIES[a.type];

      test(`refuses bad fields of its ${a.type} '${a.name}'`, () => {
        for (const [field, fs] of Object.entries(g.fields)) {
          const max = fs.max ?? 2147483647;
          const range = (v: number): RegExp => new RegExp(`must be an integer in \\[${fs.min}, ${max}\\], got ${esc(show(v))}$`);
          const cases: Array<[unknown, string, RegExp]> = [
            [undefined, 'TypeError', /must be a number, got undefined$/], ['2', 'TypeError', /must be a number, got a string$/],
            ...[fs.min - 1, max + 1, fs.min + 0.5, NaN, Infinity].map((v): [unknown, string, RegExp] => [v, 'RangeError', range(v)]),
          ];
          for (const [value, name, re] of cases) {
            const values = validArgs(spec);
            values[gi] = { ...exampleGeometry(a.type), [field]: value };
            expectRefused(fn, spec, values, name, new RegExp(`^${fn}: ${a.name}\\.${field} ${re.source}`), `${field} = ${String(value)}`);
          }
        }
      });

      test(`refuses windows of its ${a.type} that do not fit`, () => {
        for (const [extent, [size, k, , pad]] of Object.entries(g.windows)) {
          const base = dimValues(spec);
          const values = validArgs(spec);
          values[gi] = { ...exampleGeometry(a.type), [k]: base[size] + 2 * base[pad] + 1 };
          const sizeName = size in g.fields ? `${a.name}\\.${size}` : size;
          expectRefused(fn, spec, values, 'RangeError',
            new RegExp(`the window ${a.name}\\.${k} = \\d+ does not fit ${sizeName} = ${base[size]} with ${a.name}\\.${pad} = \\d+ \\(${extent} would be < 1\\)$`),
            `a window ${k} too large for ${size}`);
        }
      });

      test(`refuses ${a.type} sizes over 32 bits`, () => {
        for (const prod of g.int32) {
          const breaker = INT32_BREAKERS[prod.join(',')];
          expect(breaker).toBeDefined();
          const values = validArgs(spec);
          values[gi] = { ...exampleGeometry(a.type), ...breaker };
          const names = prod.map((d) => (d in g.fields ? `${a.name}\\.${d}` : d)).join('x');
          expectRefused(fn, spec, values, 'RangeError', new RegExp(`: ${names} = [\\dx]+ must be below 2\\^31`), `product ${prod.join('x')}`);
        }
      });
    }

    const buffers = spec.args.map((a, i) => ({ a, i })).filter(({ a }) => isBuffer(a)) as Array<{ a: BufferArg; i: number }>;
    const written = buffers.filter(({ a }) => a.written);
    if (written.length > 0) {
      test('refuses a written buffer that overlaps any other buffer (unless declared same-or-disjoint)', () => {
        for (const w of written) {
          for (const o of buffers) {
            if (o === w) continue;
            const values = validArgs(spec);
            const nw = product(w.a.dims, dims), no = product(o.a.dims, dims);
            if (nw === 0 || no === 0) continue;
            // One memory: o first, w starting on o's last element.
            const mem = new ArrayBuffer(4 * (nw + no));
            const view = (b: BufferArg, at: number, n: number) => (b.kind === 'f32' ? new Float32Array(mem, 4 * at, n) : new Int32Array(mem, 4 * at, n));
            values[o.i] = view(o.a, 0, no);
            values[w.i] = view(w.a, no - 1, nw);
            const same = (w.a.sameOrDisjoint ?? []).includes(o.a.name) || (o.a.sameOrDisjoint ?? []).includes(w.a.name);
            const names = `('${esc(w.a.name)}' and '${esc(o.a.name)}'|'${esc(o.a.name)}' and '${esc(w.a.name)}')`;
            const re = same
              ? new RegExp(`'${esc(w.a.name)}' overlaps '${esc(o.a.name)}' without being the same view`)
              : new RegExp(`${names} must not share memory$`);
            const e = caught(() => raw[fn](...values));
            if (e.name !== 'RangeError' || !re.test(e.message)) {
              throw new Error(`${fn}: '${w.a.name}' over '${o.a.name}': expected RangeError ${re}, got ${e.name}: ${e.message}`);
            }
            if (same && nw === no) {
              // Exactly the same view: the in-place use the declaration allows.
              const ok = validArgs(spec);
              ok[w.i] = ok[o.i];
              expect(() => raw[fn](...ok)).not.toThrow();
            }
          }
        }
      });
    }

    const inputs = buffers.filter(({ a }) => !a.written);
    const pairs = inputs.flatMap((x, k) => inputs.slice(k + 1).filter((y) => y.a.kind === x.a.kind
      && product(y.a.dims, dims) === product(x.a.dims, dims)).map((y) => [x, y] as const));
    if (pairs.length > 0) {
      test('lets read-only buffers share memory (the same array passed twice)', () => {
        for (const [x, y] of pairs) {
          const values = validArgs(spec);
          values[y.i] = values[x.i];
          expect(() => raw[fn](...values)).not.toThrow();
        }
      });
    }
  });
}

describe('sizes whose product overflows', () => {
  // With 32-bit arithmetic 65536 * 65536 wraps to 0 and an empty buffer would pass.
  const E = () => new Float32Array(0);
  const big = 65536;
  const expectRange = (call: () => unknown, re: RegExp): void => {
    const e = caught(call);
    expect(e.name).toBe('RangeError');
    expect(e.message).toMatch(re);
  };

  test('buffer lengths are computed without wrapping, and past 2^53 said not to fit in memory', () => {
    expectRange(() => K.sgemm(false, false, big, 1, big, 1, E(), E(), 0, E()), /^sgemm: 'A' must have 4294967296 elements \(MxK = 65536x65536\), got 0$/);
    expectRange(() => K.affineForward(E(), E(), new Float32Array(1), E(), big, big, 1), /'x' must have 4294967296/);
    expectRange(() => K.addRowVector(E(), new Float32Array(big), big, big), /'Y' must have 4294967296/);
    const m = 2 ** 31 - 1;
    expectRange(() => K.sgemm(false, false, m, m, m, 1, E(), E(), 0, E()),
      /'A' of shape MxK = 2147483647x2147483647 has more elements than fit in memory/);
    const g = { N: big, C: big, H: 1, W: 1, FN: 1, FH: 1, FW: 1, stride: 1, pad: 0 };
    expectRange(() => K.convForward(E(), E(), new Float32Array(1), E(), g, 0), /^convForward: 'x' must have 4294967296 elements/);
    expectRange(() => K.im2col(E(), E(), g), /^im2col: 'x' must have 4294967296/);
  });
});

describe('argmax values outside the plane', () => {
  test('maxPoolBackward ignores them instead of writing out of bounds', () => {
    const G = exampleGeometry('WindowGeometry') as unknown as ref.Geom;
    const { OH, OW } = ref.outShape(G);
    const XLEN = G.N * G.C * G.H * G.W, POOL_OUT = G.N * G.C * OH * OW;
    const guard = new Float32Array(XLEN + 200).fill(7);
    const dx = guard.subarray(100, 100 + XLEN);
    const dout = rng.floats(POOL_OUT);
    const argmax = new Int32Array(POOL_OUT);
    const plane = G.H * G.W;
    const wild = [-1, -5, plane, plane + 1, 2 ** 31 - 1, -(2 ** 31), 1e6];
    for (let i = 0; i < POOL_OUT; i++) argmax[i] = i % 3 === 0 ? wild[i % wild.length] : (i * 7) % plane;
    K.maxPoolBackward(dout, argmax, dx, G);
    const want = new Float64Array(XLEN);
    for (let p = 0; p < G.N * G.C; p++) {
      for (let i = 0; i < OH * OW; i++) {
        const a = argmax[p * OH * OW + i];
        if (a >= 0 && a < plane) want[p * plane + a] += dout[p * OH * OW + i];
      }
    }
    for (let i = 0; i < XLEN; i++) expect(Math.abs(dx[i] - want[i])).toBeLessThan(1e-5);
    expect(guard.subarray(0, 100).every((v) => v === 7)).toBe(true);
    expect(guard.subarray(100 + XLEN).every((v) => v === 7)).toBe(true);
  });
});

describe('after every refused call above', () => {
  test('the kernels still compute (a convolution against the reference)', () => {
    const g = { N: 1, C: 2, H: 4, W: 5, FH: 2, FW: 3, stride: 1, pad: 1 };
    const { OH, OW } = ref.outShape(g);
    const x = rng.floats(g.N * g.C * g.H * g.W), W = rng.floats(3 * g.C * g.FH * g.FW), b = rng.floats(3);
    const out = new Float32Array(g.N * 3 * OH * OW);
    K.convForward(x, W, b, out, { ...g, FN: 3 }, 0);
    const want = ref.convForward(x, W, b, 3, g);
    for (let i = 0; i < want.length; i++) expect(Math.abs(out[i] - want[i])).toBeLessThan(1e-4 * (1 + Math.abs(want[i])));
  });
});
