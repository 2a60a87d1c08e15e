// SPDX-License-Identifier: MIT
// Fuzz targets for every native entry point, derived from its declaration in
// lib/core/contract.ts (so an entry point declared tomorrow is fuzzed tomorrow): each is called
// both as the raw addon function and through the public `kernels` namespace. A call starts
// valid (random small dims and geometry, buffers in plain, offset, shared, resizable and
// growable memory, NaN/Infinity/-0 in the data, read-only inputs sharing memory, in-place use
// where declared) and gets `mutations` of: a wrong type, a wrong length, detached memory
// (before the call, or by a geometry getter during it), an integer past its range or a dim
// that no longer fits the buffers, a non-number, a non-boolean, a bad geometry object or
// field (throwing getters, proxies, prototype getters), an output overlapping another buffer,
// a wrong argument count. The declaration says which of these are bad; a bad call must throw a
// TypeError or RangeError naming the function and the argument, and write nothing.
import { ENTRIES, GEOMETRIES } from '../../lib/core/contract';
import type { Arg, BufferArg, EntrySpec, GeometrySpec, IntArg } from '../../lib/core/contract';
import { Call, Ctx, Rng, Target } from './ctx';
import * as v from './values';

const INT32_MAX = 2 ** 31 - 1;
const isBuffer = (a: Arg): a is BufferArg => a.kind === 'f32' || a.kind === 'i32';
const GEOS = GEOMETRIES as unknown as Record<string, GeometrySpec>;

/** Output extents of a geometry (with its fields), or null when a window does not fit. */
function extents(spec: GeometrySpec, g: Record<string, number>): Record<string, number> | null {
  const all: Record<string, number> = { ...g };
  for (const [name, [size, k, stride, pad]] of Object.entries(spec.windows)) {
    const span = all[size] + 2 * all[pad] - all[k];
    if (!(span >= 0) || !(all[stride] >= 1)) return null;
    all[name] = Math.floor(span / all[stride]) + 1;
  }
  return all;
}

/** Whether every int32 product of the geometry stays below 2^31. */
function int32Ok(spec: GeometrySpec, all: Record<string, number>): boolean {
  return spec.int32.every((p) => p.reduce((a, d) => a * all[d], 1) < 2 ** 31);
}

function randomGeometry(r: Rng, type: string): Record<string, number> {
  const spec = GEOS[type];
  for (let tries = 0; tries < 64; tries++) {
    const g: Record<string, number> = {};
    for (const [f, fs] of Object.entries(spec.fields)) g[f] = r.int(fs.min, Math.min(fs.max ?? INT32_MAX, fs.min + (fs.min === 0 ? 2 : 5)));
    if (extents(spec, g)) return g;
  }
  const g: Record<string, number> = {};
  for (const [f, fs] of Object.entries(spec.fields)) g[f] = fs.example;
  return g;
}

const lengthOf = (a: BufferArg, dims: Record<string, number>): number => a.dims.reduce((p, d) => p * dims[d], 1);
const isDim = (spec: EntrySpec, name: string): boolean => spec.args.some((b) => isBuffer(b) && b.dims.includes(name));
const bufNamesWith = (spec: EntrySpec, dim: string): string[] =>
  spec.args.filter((b) => isBuffer(b) && b.dims.includes(dim)).map((b) => b.name);

function intValue(r: Rng, spec: EntrySpec, a: IntArg): number {
  const max = a.max ?? INT32_MAX;
  if (isDim(spec, a.name)) return r.int(a.min, Math.min(max, a.min + 4));
  if (r.chance(0.05)) return max;
  return r.chance(0.5) ? a.example : r.int(a.min, Math.min(max, a.min + 3));
}

/**
 * An int whose declaration says some in-range values are refused where they do not apply (the
 * convolutions' algorithm: 2, Winograd, only for 3x3 stride-1 windows): a value other than the
 * declared example may then be a clean RangeError naming it.
 */
const conditional = (a: IntArg): boolean => /RangeError where/.test(a.doc ?? '');

const NUM_VALUES = [0.1, 1, 0, -0, -1, 0.9, 1e-7, NaN, Infinity, -Infinity, 1e308, 5e-324, 0.999];

/** Buffers (and int dims) of the call that share a dim with `a`: a wrong length of one may be reported on another. */
function sharers(spec: EntrySpec, a: BufferArg): string[] {
  const out = new Set<string>([a.name]);
  for (const b of spec.args) {
    if (isBuffer(b) && b.dims.some((d) => a.dims.includes(d))) out.add(b.name);
    if (b.kind === 'int' && a.dims.includes(b.name)) out.add(b.name);
  }
  return [...out];
}

type Alt = readonly [what: string, src: string];

/** Things that are not the right typed array (N: the right length). */
const WRONG_BUFFERS: readonly Alt[] = [
  ['a Float64Array', 'new Float64Array(N)'],
  ['the other 32-bit array type', 'OTHER(N)'],
  ['a Uint8Array of the same bytes', 'new Uint8Array(4 * N)'],
  ['a Uint32Array', 'new Uint32Array(N)'],
  ['a BigInt64Array', 'new BigInt64Array(N)'],
  ['a plain Array', 'new Array(N).fill(0)'],
  ['a DataView', 'new DataView(new ArrayBuffer(4 * N))'],
  ['an ArrayBuffer', 'new ArrayBuffer(4 * N)'],
  ['an array-like object', '({ length: N, 0: 1 })'],
  ['a tensor', 'lib.Tensor.zeros([N + 1])'],
  ['a string', "'x'"],
  ['a number', '3'],
  ['a symbol', "Symbol('fuzz')"],
  ['null', 'null'],
  ['undefined', 'undefined'],
];

export const NOT_NUMBERS: readonly Alt[] = [
  ['a string', "'2'"], ['a bigint', '2n'], ['null', 'null'], ['undefined', 'undefined'], ['a boolean', 'true'],
  ['an object with valueOf', "v.oddValue('valueOf')"], ['a Number object', 'new Number(2)'], ['a symbol', "Symbol('fuzz')"],
  ['an Array', '[2]'], ['an object whose toPrimitive throws', "v.oddValue('toPrimitiveThrows')"], ['a Date', 'new Date(0)'],
];

export const NOT_BOOLEANS: readonly Alt[] = [
  ['1', '1'], ['0', '0'], ["'true'", "'true'"], ['null', 'null'], ['undefined', 'undefined'],
  ['a Boolean object', 'new Boolean(true)'], ['{}', '({})'], ['a symbol', "Symbol('b')"],
];

export const NOT_OBJECTS: readonly Alt[] = [
  ['null', 'null'], ['undefined', 'undefined'], ['a number', '3'], ['a string', "'g'"], ['an Array', '[]'],
  ['a Float32Array', 'new Float32Array(9)'], ['a function', '() => 0'], ['an ArrayBuffer', 'new ArrayBuffer(8)'],
  ['a symbol', "Symbol('g')"], ['a boolean', 'true'],
];

export const BAD_INTS: readonly number[] = [NaN, Infinity, -Infinity, 0.5, 1.5, 2 ** 53, 2 ** 53 + 2, 1e300, -(2 ** 31), -1];

/** One call of a native entry point, `via` the raw addon or the public kernels namespace. */
function makeNative(c: Ctx, fn: string, spec: EntrySpec, via: 'addon' | 'kernels'): Call {
  const r = c.r;
  const callee = via === 'addon' ? `addon.${fn}` : `lib.kernels.${fn}`;

  // ---- a valid call ----
  const ints: Record<string, number> = {};
  for (const a of spec.args) if (a.kind === 'int') ints[a.name] = intValue(r, spec, a);
  const geos: Record<string, Record<string, number>> = {};
  for (const a of spec.args) if (a.kind === 'geometry') geos[a.name] = randomGeometry(r, a.type);
  const dims: Record<string, number> = { ...ints };
  for (const a of spec.args) if (a.kind === 'geometry') Object.assign(dims, extents(GEOS[a.type], geos[a.name]));
  for (const a of spec.args) {
    if (isBuffer(a)) for (const d of a.dims) if (dims[d] === undefined) dims[d] = r.chance(0.04) ? 0 : r.int(1, 9);
  }

  for (const a of spec.args) {
    if (a.kind === 'int' && conditional(a) && ints[a.name] !== a.example) {
      c.either(`'${a.name}' = ${ints[a.name]} (may not apply here, as declared)`, a.name);
    }
  }

  const srcs: string[] = [];
  const lengths: number[] = [];
  spec.args.forEach((a) => {
    if (isBuffer(a)) {
      const n = lengthOf(a, dims);
      const place = r.chance(0.55) ? 'plain' : r.pick(v.PLACES);
      const pattern = a.written ? 'hash' : r.pick(v.PATTERNS);
      srcs.push(c.let(`v.${a.kind}(${n}, '${pattern}', '${place}')`));
      lengths.push(n);
      return;
    }
    lengths.push(-1);
    if (a.kind === 'int') srcs.push(v.numSrc(ints[a.name]));
    else if (a.kind === 'num') srcs.push(v.numSrc(r.chance(0.5) ? a.example : r.pick(NUM_VALUES)));
    else if (a.kind === 'bool') srcs.push(String(r.chance(0.5)));
    else srcs.push(JSON.stringify(geos[a.name]));
  });
  const bufIdx = spec.args.map((a, i) => (isBuffer(a) ? i : -1)).filter((i) => i >= 0);
  const written = bufIdx.filter((i) => (spec.args[i] as BufferArg).written);
  const inputs = bufIdx.filter((i) => !(spec.args[i] as BufferArg).written);
  /** Buffers that share memory with another argument on purpose (not checked for writes). */
  const shared = new Set<number>();
  /** Buffers that are no longer a typed array of their declared length. */
  const replaced = new Set<number>();
  /**
   * Buffers given another length (a wrong length, detached memory): judged at the end, since a
   * free dim (the element-wise kernels' n) is bound by the first buffer and the others may
   * agree with it (all of them detached is a valid call with n = 0).
   */
  const resized: Array<{ i: number; length: number; label: string; names: string[] }> = [];

  // Valid sharing: two read-only inputs of one kind and length as one array; an output as the
  // input it may be (sameOrDisjoint).
  if (r.chance(0.15)) {
    const pairs: Array<[number, number]> = [];
    for (const i of inputs) for (const j of inputs) {
      if (i < j && spec.args[i].kind === spec.args[j].kind && lengths[i] === lengths[j]) pairs.push([i, j]);
    }
    if (pairs.length) {
      const [i, j] = r.pick(pairs);
      srcs[j] = srcs[i];
      shared.add(i).add(j);
      c.ok(`'${spec.args[j].name}' is '${spec.args[i].name}' (read-only inputs share memory)`);
    }
  }
  for (const w of written) {
    const wa = spec.args[w] as BufferArg;
    if (!wa.sameOrDisjoint || !r.chance(0.3)) continue;
    const o = spec.args.findIndex((a) => a.name === r.pick(wa.sameOrDisjoint!));
    if (o >= 0 && lengths[o] === lengths[w] && !shared.has(o)) {
      srcs[w] = srcs[o];
      shared.add(w).add(o);
      c.ok(`'${wa.name}' is '${spec.args[o].name}' (in place, as declared)`);
    }
  }

  // ---- mutations ----
  const slots = spec.args.map((a) => a.name);
  slots.push('(arity)');
  if (written.length > 0 && bufIdx.length > 1) slots.push('(overlap)');
  const chosen = c.pick(slots);
  const geoIndex = spec.args.findIndex((a) => a.kind === 'geometry');
  const geoMutated = geoIndex >= 0 && chosen.has(spec.args[geoIndex].name);

  spec.args.forEach((a, i) => {
    if (!chosen.has(a.name)) return;
    const at = `'${a.name}'`;
    if (isBuffer(a)) {
      const n = lengths[i];
      const names = sharers(spec, a);
      const kinds = ['type', 'length', 'detached', ...(geoIndex >= 0 && !geoMutated ? ['getter'] : [])] as const;
      const kind = r.pick(kinds);
      shared.delete(i);
      replaced.add(i);
      if (kind === 'type') {
        const [what, src] = r.pick(WRONG_BUFFERS);
        srcs[i] = src.replace('OTHER', a.kind === 'f32' ? 'new Int32Array' : 'new Float32Array').replace(/\bN\b/g, String(n));
        if (a.nullable && (src === 'null' || src === 'undefined')) c.ok(`${at}: ${what} (a nullable output: skipped)`);
        else c.bad(`${at}: ${what}`, a.name);
      } else if (kind === 'length') {
        const m = r.pick([n + 1, n - 1, 0, 2 * n + 1, n + 7].filter((x) => x >= 0 && x !== n));
        srcs[i] = c.let(`v.${a.kind}(${m})`);
        resized.push({ i, length: m, label: `${at}: ${m} elements instead of ${n}`, names });
      } else if (kind === 'detached') {
        srcs[i] = c.let(a.kind === 'f32' ? `v.detachedF32(${n}, '${r.pick(['clone', 'transfer'])}')` : `v.detachedI32(${n})`);
        resized.push({ i, length: 0, label: `${at}: detached (its memory transferred away)`, names });
      } else {
        // A getter of the geometry detaches (or shrinks) this buffer while the call reads its arguments.
        const place = a.kind === 'f32' ? r.pick(['plain', 'resizable']) : 'plain';
        srcs[i] = c.let(`v.${a.kind}(${n}, 'ramp', '${place}')`);
        const field = r.pick(Object.keys(geos[spec.args[geoIndex].name]));
        srcs[geoIndex] = `v.withEffectGetter(${srcs[geoIndex]}, '${field}', () => v.shrink(${srcs[i]}))`;
        resized.push({ i, length: 0, label: `${at}: ${place === 'plain' ? 'detached' : 'shrunk'} by the getter of ${spec.args[geoIndex].name}.${field} during the call`, names });
      }
    } else if (a.kind === 'int') {
      const kind = r.pick(['type', 'range', 'other'] as const);
      const max = a.max ?? INT32_MAX;
      let x: number;
      if (kind === 'type') {
        const [what, src] = r.pick(NOT_NUMBERS);
        srcs[i] = src;
        c.bad(`${at}: ${what}`, a.name);
        return;
      } else if (kind === 'range') {
        x = r.pick([...BAD_INTS, a.min - 1, ...(max < 2 ** 52 ? [max + 1] : []), a.min + 0.5]);
      } else {
        x = r.pick([ints[a.name] + 1, ints[a.name] + 7, max, 65536, 2 ** 30, -0, a.min].filter((y) => y >= a.min && y <= max));
      }
      srcs[i] = v.numSrc(x);
      if (!(x >= a.min && x <= max && Number.isInteger(x))) c.bad(`${at} = ${v.numSrc(x)}`, a.name);
      else if (isDim(spec, a.name) && x !== ints[a.name] && bufNamesWith(spec, a.name).some((b) => chosen.has(b))) {
        // A buffer of this dim is mutated too: it may come to fit the new value.
        c.either(`${at} = ${v.numSrc(x)} (a buffer of this dim is changed too)`, a.name, ...bufNamesWith(spec, a.name));
      } else if (isDim(spec, a.name) && x !== ints[a.name]) c.bad(`${at} = ${v.numSrc(x)} (the buffers do not fit it)`, a.name, ...bufNamesWith(spec, a.name));
      else if (conditional(a) && x !== a.example) c.either(`${at} = ${v.numSrc(x)} (in range; may not apply here, as declared)`, a.name);
      else c.ok(`${at} = ${v.numSrc(x)} (in range)`);
    } else if (a.kind === 'num') {
      if (r.chance(0.5)) {
        const [what, src] = r.pick(NOT_NUMBERS);
        srcs[i] = src;
        c.bad(`${at}: ${what}`, a.name);
      } else {
        const x = r.pick([NaN, Infinity, -Infinity, -0, 1e308, -1e308, 5e-324, 2 ** 53]);
        srcs[i] = v.numSrc(x);
        c.ok(`${at} = ${v.numSrc(x)} (any number is accepted)`);
      }
    } else if (a.kind === 'bool') {
      const [what, src] = r.pick(NOT_BOOLEANS);
      srcs[i] = src;
      c.bad(`${at}: ${what}`, a.name);
    } else {
      mutateGeometry(c, spec, a.name, a.type, i, srcs, dims, geos[a.name], lengths, replaced);
    }
  });

  // The resized buffers: bad unless every buffer still fits dims bound as the addon binds them
  // (int arguments and geometry as given; a free dim by the first buffer that has it).
  if (resized.length > 0) {
    const len = new Map<number, number>();
    for (const x of resized) len.set(x.i, x.length);
    const bound: Record<string, number> = {};
    let fits = true;
    spec.args.forEach((a, i) => {
      if (!isBuffer(a) || !fits) return;
      if (replaced.has(i) && !len.has(i)) return; // a wrong type: judged on its own
      const have = len.get(i) ?? lengths[i];
      const free = a.dims.filter((d) => !(d in ints) && !spec.args.some((g) => g.kind === 'geometry' && d in extents(GEOS[g.type], geos[g.name])!));
      if (a.dims.length === 1 && free.length === 1 && bound[free[0]] === undefined) {
        bound[free[0]] = have;
        return;
      }
      const want = a.dims.reduce((p, d) => p * (bound[d] ?? dims[d]), 1);
      if (want !== have) fits = false;
    });
    for (const x of resized) {
      const dimsChanged = (spec.args[x.i] as BufferArg).dims.some((d) => chosen.has(d) && spec.args.some((b) => b.kind === 'int' && b.name === d));
      if (fits) c.ok(`${x.label} (every buffer agrees)`);
      // An int dim of this buffer was changed too: it may be the value the new length fits.
      else if (dimsChanged) c.either(x.label, ...x.names);
      else c.bad(x.label, ...x.names);
    }
  }

  if (chosen.has('(overlap)')) {
    // An output and another buffer in one memory, the output starting at a shift into the other.
    const cands = written.filter((w) => !replaced.has(w));
    const w = cands.length ? r.pick(cands) : -1;
    const others = bufIdx.filter((o) => o !== w && !replaced.has(o));
    if (w >= 0 && others.length > 0) {
      const o = r.pick(others);
      const wa = spec.args[w] as BufferArg, oa = spec.args[o] as BufferArg;
      const nw = lengths[w], no = lengths[o];
      if (nw > 0 && no > 0) {
        const shift = r.pick([no - 1, 0, Math.floor(no / 2)]);
        const mem = c.let(`new ${r.chance(0.3) ? 'SharedArrayBuffer' : 'ArrayBuffer'}(${4 * (shift + nw + no)})`);
        const type = (b: BufferArg): string => (b.kind === 'f32' ? 'Float32Array' : 'Int32Array');
        srcs[o] = c.let(`new ${type(oa)}(${mem}, 0, ${no})`);
        srcs[w] = c.let(`new ${type(wa)}(${mem}, ${4 * shift}, ${nw})`);
        // Anything that was the same array as o or w is no longer.
        shared.delete(o);
        shared.delete(w);
        shared.add(w).add(o);
        const same = shift === 0 && nw === no && wa.kind === 'f32' && oa.kind === 'f32'
          && ((wa.sameOrDisjoint ?? []).includes(oa.name) || (oa.sameOrDisjoint ?? []).includes(wa.name));
        if (same) c.ok(`'${wa.name}' views exactly the memory of '${oa.name}' (in place, as declared)`);
        else c.bad(`'${wa.name}' overlaps '${oa.name}' (shifted by ${shift} elements)`, wa.name, oa.name);
      }
    }
  }
  // Arguments that alias each other by source text (the same variable) are shared too.
  bufIdx.forEach((i) => bufIdx.forEach((j) => { if (i !== j && srcs[i] === srcs[j]) shared.add(i).add(j); }));

  let args = srcs;
  if (chosen.has('(arity)')) {
    const arity = r.pick(spec.args.length > 0 ? ['drop', 'extra', 'none'] as const : ['extra'] as const);
    c.bad(arity === 'drop' ? 'one argument less' : arity === 'extra' ? 'one argument more' : 'no arguments', 'arguments');
    args = arity === 'drop' ? srcs.slice(0, -1) : arity === 'extra' ? [...srcs, '0'] : [];
  }

  // What the call must leave alone: outputs when it is refused, read-only inputs always.
  const watched = bufIdx.filter((i) => !shared.has(i) && !replaced.has(i) && i < args.length);
  let copies: Array<Uint8Array | null> = [];
  const prepare = (built: unknown[]): void => {
    copies = watched.map((i) => {
      const b = built[i];
      return b instanceof Float32Array || b instanceof Int32Array ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice() : null;
    });
  };
  const check = (threw: boolean, result: unknown, built: unknown[]): string | null => {
    for (let k = 0; k < watched.length; k++) {
      const i = watched[k], before = copies[k];
      const a = spec.args[i] as BufferArg;
      if (before === null || (a.written && !threw)) continue;
      const b = built[i] as Float32Array | Int32Array;
      if (b.byteLength !== before.length) continue;
      const now = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      for (let j = 0; j < now.length; j++) {
        if (now[j] !== before[j]) return `${a.written ? 'a refused call wrote' : 'the call wrote its read-only input'} '${a.name}' (byte ${j})`;
      }
    }
    if (!threw) {
      if (spec.returns === undefined && result !== undefined) return `returned ${typeof result}, expected nothing`;
      if (spec.returns === 'int' && !Number.isInteger(result)) return `returned ${String(result)}, expected an integer`;
      if (spec.returns !== undefined && spec.returns !== 'int' && (result === null || typeof result !== 'object')) return 'returned no object';
    }
    return null;
  };
  return c.finish(`${via}.${fn}`, [fn], (A) => `${callee}(${A})`, args, { prepare, check });
}

function mutateGeometry(c: Ctx, spec: EntrySpec, name: string, type: string, i: number, srcs: string[],
  dims: Record<string, number>, g0: Record<string, number>, lengths: number[], replaced: Set<number>): void {
  const r = c.r;
  const gs = GEOS[type];
  const g = { ...g0 };
  const fields = Object.keys(gs.fields);
  const anyName = [name, ...fields.map((f) => `${name}.${f}`), ...Object.keys(gs.windows), ...spec.args.filter(isBuffer).map((b) => b.name)];
  const kind = r.pick(['type', 'fieldType', 'fieldRange', 'fieldOther', 'fieldOther', 'getter', 'proxy', 'shape'] as const);
  const field = r.pick(fields);
  const at = `${name}.${field}`;
  const obj = (o: Record<string, unknown>): string => `{ ${Object.entries(o).map(([k, x]) => `${k}: ${typeof x === 'number' ? v.numSrc(x) : String(x)}`).join(', ')} }`;
  if (kind === 'type') {
    const [what, src] = r.pick(NOT_OBJECTS);
    srcs[i] = src;
    c.bad(`'${name}': ${what}`, name);
  } else if (kind === 'fieldType') {
    if (r.chance(0.25)) {
      const rest = { ...g } as Record<string, unknown>;
      delete rest[field];
      srcs[i] = obj(rest);
      c.bad(`${at} missing`, at);
    } else {
      const [what, src] = r.pick(NOT_NUMBERS);
      srcs[i] = obj({ ...g, [field]: src });
      c.bad(`${at}: ${what}`, at);
    }
  } else if (kind === 'fieldRange' || kind === 'fieldOther') {
    const fs = gs.fields[field];
    const max = fs.max ?? INT32_MAX;
    const x = kind === 'fieldRange'
      ? r.pick([...BAD_INTS, fs.min - 1, fs.min + 0.5, ...(max < 2 ** 52 ? [max + 1] : [])])
      : r.pick([g[field] + 1, g[field] + 7, 2 * g[field] + 3, max, 65536, 46341, 2 ** 30, -0, fs.min]);
    g[field] = x;
    srcs[i] = obj(g);
    if (!(x >= fs.min && x <= max && Number.isInteger(x))) {
      c.bad(`${at} = ${v.numSrc(x)}`, at);
      return;
    }
    // In range: the call is valid only if the windows fit, the products stay below 2^31 and
    // every buffer still has the right length.
    const all = extents(gs, g);
    const d = all ? { ...dims, ...all } : null;
    const ok = all !== null && int32Ok(gs, all) && spec.args.every((b, k) => !isBuffer(b) || replaced.has(k) || lengths[k] === lengthOf(b, d!));
    if (ok) c.ok(`${at} = ${v.numSrc(x)} (still fits)`);
    else c.bad(`${at} = ${v.numSrc(x)} (does not fit)`, ...anyName);
  } else if (kind === 'getter') {
    srcs[i] = `v.withThrowingGetter(${obj(g)}, '${field}')`;
    c.planted(`${at}: a getter that throws`);
  } else if (kind === 'proxy') {
    const throwOn = r.chance(0.5) ? field : undefined;
    srcs[i] = `v.proxied(${obj(g)}${throwOn ? `, '${throwOn}'` : ''})`;
    if (throwOn) c.planted(`'${name}': a Proxy that throws on ${throwOn}`);
    else c.ok(`'${name}': a Proxy (valid)`);
  } else if (r.chance(0.5)) {
    srcs[i] = `Object.create(Object.defineProperties({}, Object.fromEntries(Object.entries(${obj(g)}).map(([k, x]) => [k, { get: () => x }]))))`;
    c.ok(`'${name}': its fields as getters on its prototype (valid)`);
  } else {
    srcs[i] = obj({ ...g, extra: "'x'", OH: -5 });
    c.ok(`'${name}': extra fields, a lying OH among them (ignored)`);
  }
}

/** Every declared entry point, through the addon and through `kernels`. */
export function nativeTargets(): Target[] {
  const out: Target[] = [];
  for (const [fn, spec] of Object.entries(ENTRIES as unknown as Record<string, EntrySpec>)) {
    for (const via of ['addon', 'kernels'] as const) {
      out.push({ name: `${via}.${fn}`, weight: 1, make: (c) => makeNative(c, fn, spec, via) });
    }
  }
  return out;
}

/** Entry point names the contract declares. */
export function declaredEntries(): string[] {
  return Object.keys(ENTRIES);
}
