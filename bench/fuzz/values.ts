// SPDX-License-Identifier: MIT
// The hostile values of the fuzzer, as small functions: the generators call them, and a
// failing call is printed as JavaScript that calls them too (`const v = require(...)` of this
// file), so a reproduction reads as `v.f32(6, 'mixed', 'shared')` rather than as bytes.

/** What a planted getter throws: a call may let it through (it is the caller's own error). */
export class FuzzMarker extends Error {
  constructor() {
    super('fuzz: a getter planted by the fuzzer threw');
    this.name = 'FuzzMarker';
  }
}

/** Contents of a typed array: special values are valid data (kernels compute with them). */
export type Pattern = 'ramp' | 'zeros' | 'ones' | 'nan' | 'mixed' | 'hash' | 'huge';
/** Where its memory lives: all of these are valid Float32Arrays. */
export type Place = 'plain' | 'view' | 'shared' | 'sharedView' | 'resizable' | 'growable';

export const PATTERNS: readonly Pattern[] = ['ramp', 'zeros', 'ones', 'nan', 'mixed', 'hash', 'huge'];
export const PLACES: readonly Place[] = ['plain', 'view', 'shared', 'sharedView', 'resizable', 'growable'];

// NaN, both infinities, -0, the largest float, the smallest denormal, ordinary values.
const MIXED = [1, NaN, Infinity, -Infinity, -0, 3.4028234663852886e38, 1.401298464324817e-45, -2.5, 0.5];

/** Fills a typed array with a pattern (integer arrays get small non-negative integers). */
export function fill<T extends Float32Array | Int32Array>(a: T, pattern: Pattern): T {
  const isInt = a instanceof Int32Array;
  for (let i = 0; i < a.length; i++) {
    let x: number;
    switch (pattern) {
      case 'zeros': x = 0; break;
      case 'ones': x = 1; break;
      case 'nan': x = isInt ? -1 : NaN; break;
      case 'mixed': x = isInt ? [0, -1, 2 ** 31 - 1, -(2 ** 31), 3][i % 5] : MIXED[i % MIXED.length]; break;
      case 'huge': x = isInt ? 2 ** 31 - 1 : (i % 2 ? -3e38 : 3e38); break;
      case 'hash': {
        const h = Math.imul(i + 1, 0x9e3779b1) >>> 0;
        x = isInt ? h % 7 : (h / 4294967296) * 2 - 1;
        break;
      }
      default: x = isInt ? i % 5 : i * 0.25 - 1;
    }
    a[i] = x;
  }
  return a;
}

function memory(bytes: number, place: Place): ArrayBufferLike {
  switch (place) {
    case 'shared': case 'sharedView': return new SharedArrayBuffer(bytes);
    case 'resizable': return new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer)(bytes, { maxByteLength: bytes + 64 });
    case 'growable': return new (SharedArrayBuffer as unknown as new (n: number, o: object) => SharedArrayBuffer)(bytes, { maxByteLength: bytes + 64 });
    default: return new ArrayBuffer(bytes);
  }
}

/**
 * A Float32Array of n elements: its own memory ('plain'), a view at an offset into a larger
 * buffer ('view'), on a SharedArrayBuffer ('shared', 'sharedView'), or a length-tracking view
 * of a resizable ArrayBuffer / growable SharedArrayBuffer.
 */
export function f32(n: number, pattern: Pattern = 'ramp', place: Place = 'plain'): Float32Array {
  const offset = place === 'view' || place === 'sharedView' ? 3 : 0;
  const mem = memory(4 * (n + 2 * offset), place);
  const a = place === 'resizable' || place === 'growable' ? new Float32Array(mem) : new Float32Array(mem, 4 * offset, n);
  return fill(a, pattern);
}

/** An Int32Array, placed as f32 places a Float32Array. */
export function i32(n: number, pattern: Pattern = 'ramp', place: Place = 'plain'): Int32Array {
  const offset = place === 'view' || place === 'sharedView' ? 3 : 0;
  const mem = memory(4 * (n + 2 * offset), place);
  const a = place === 'resizable' || place === 'growable' ? new Int32Array(mem) : new Int32Array(mem, 4 * offset, n);
  return fill(a, pattern);
}

/** Detaches the memory of a typed array (its length becomes 0), by either transfer there is. */
export function detach<T extends ArrayBufferView>(a: T, how: 'clone' | 'transfer' = 'clone'): T {
  const buf = a.buffer as ArrayBuffer & { transfer?: () => ArrayBuffer };
  if (how === 'transfer' && typeof buf.transfer === 'function') buf.transfer();
  else structuredClone(buf, { transfer: [buf] });
  return a;
}

/** A Float32Array whose memory has been transferred away (detached: length 0). */
export function detachedF32(n: number, how: 'clone' | 'transfer' = 'clone'): Float32Array {
  return detach(new Float32Array(n), how);
}

/** An Int32Array whose memory has been transferred away. */
export function detachedI32(n: number): Int32Array {
  return detach(new Int32Array(n));
}

/** Shrinks a length-tracking array's resizable buffer (or detaches a fixed one). */
export function shrink(a: Float32Array | Int32Array): void {
  const buf = a.buffer as ArrayBuffer & { resizable?: boolean; resize?: (n: number) => void };
  if (buf.resizable && typeof buf.resize === 'function') buf.resize(0);
  else if (!(buf instanceof SharedArrayBuffer)) detach(a);
}

/** A tensor-like whose shape and data are as given (honest or lying). */
export function like(shape: unknown, data: unknown): { shape: unknown; data: unknown } {
  return { shape, data };
}

/** A tensor-like whose `key` getter throws a FuzzMarker. */
export function throwingLike(shape: unknown, data: unknown, key: 'shape' | 'data'): object {
  const o: Record<string, unknown> = {};
  Object.defineProperty(o, key === 'shape' ? 'data' : 'shape', { value: key === 'shape' ? data : shape, enumerable: true });
  Object.defineProperty(o, key, { get() { throw new FuzzMarker(); }, enumerable: true });
  return o;
}

/**
 * A tensor-like whose getters answer honestly `honest` times, then change their answer: the
 * shape becomes `later` (and the data, when `detachLater`, loses its memory).
 */
export function shiftingLike(shape: number[], data: Float32Array, honest: number, later: number[], detachLater: boolean): object {
  let reads = 0;
  return {
    get shape() { reads++; return reads > honest ? later : shape; },
    get data() {
      reads++;
      if (reads > honest && detachLater && data.length > 0) shrink(data);
      return data;
    },
  };
}

/** An object whose field `key` is a getter that throws a FuzzMarker (a geometry, options). */
export function withThrowingGetter<T extends object>(o: T, key: string): T {
  const copy = { ...o } as Record<string, unknown>;
  delete copy[key];
  Object.defineProperty(copy, key, { get() { throw new FuzzMarker(); }, enumerable: true });
  return copy as T;
}

/**
 * An object whose field `key` is a getter that returns its value but first runs `effect` (it
 * detaches or shrinks an array argument of the same call, changes another field, ...).
 */
export function withEffectGetter<T extends object>(o: T, key: string, effect: () => void): T {
  const copy = { ...o } as Record<string, unknown>;
  const value = copy[key];
  delete copy[key];
  Object.defineProperty(copy, key, { get() { effect(); return value; }, enumerable: true });
  return copy as T;
}

/** A Proxy over o that logs nothing and answers every read from o (valid), or throws on one key. */
export function proxied<T extends object>(o: T, throwOn?: string): T {
  return new Proxy(o, {
    get(target, key, recv) {
      if (key === throwOn) throw new FuzzMarker();
      return Reflect.get(target, key, recv);
    },
  });
}

/** Values that are numbers only in appearance, and values no message should choke on. */
export function oddValue(kind: string): unknown {
  switch (kind) {
    case 'string': return '2';
    case 'emptyString': return '';
    case 'bigint': return 2n;
    case 'boolean': return true;
    case 'null': return null;
    case 'undefined': return undefined;
    case 'symbol': return Symbol('fuzz');
    case 'valueOf': return { valueOf() { return 2; } };
    case 'toPrimitiveThrows': return { [Symbol.toPrimitive]() { throw new FuzzMarker(); } };
    case 'nullProto': return Object.create(null);
    case 'array': return [2];
    case 'function': return () => 2;
    case 'date': return new Date(0);
    case 'float64': return new Float64Array(4);
    case 'uint8': return new Uint8Array(16);
    case 'bigint64': return new BigInt64Array(2);
    case 'dataView': return new DataView(new ArrayBuffer(16));
    case 'arrayBuffer': return new ArrayBuffer(16);
    case 'map': return new Map([['a', 1]]);
    case 'promise': return Promise.resolve(2);
    case 'object': return {};
    default: throw new Error(`fuzz: unknown odd value ${kind}`);
  }
}

export const ODD_KINDS = ['string', 'emptyString', 'bigint', 'boolean', 'null', 'undefined', 'symbol', 'valueOf',
  'toPrimitiveThrows', 'nullProto', 'array', 'function', 'date', 'float64', 'uint8', 'bigint64', 'dataView',
  'arrayBuffer', 'map', 'promise', 'object'] as const;

/** Numbers at and past every limit: non-integers, negatives, 2^31, 2^53, infinities. */
export const EDGE_NUMBERS: readonly number[] = [NaN, Infinity, -Infinity, -0, -1, 0.5, 1.5, -(2 ** 31), 2 ** 31 - 1, 2 ** 31,
  2 ** 32, 2 ** 32 + 1, 2 ** 53, 2 ** 53 + 2, 1e300, Number.MIN_VALUE, -Number.MAX_VALUE];

/** The number in source form (keeps -0, NaN and powers of two readable). */
export function numSrc(x: number): string {
  if (Object.is(x, -0)) return '-0';
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  for (let p = 20; p <= 64; p++) {
    if (x === 2 ** p) return `2 ** ${p}`;
    if (x === 2 ** p - 1) return `2 ** ${p} - 1`;
    if (x === 2 ** p + 1) return `2 ** ${p} + 1`;
    if (x === 2 ** p + 2) return `2 ** ${p} + 2`;
    if (x === -(2 ** p)) return `-(2 ** ${p})`;
  }
  return String(x);
}

/** Source text of oddValue(kind). */
export function oddSrc(kind: string): string {
  return `v.oddValue('${kind}')`;
}

/** Detaches the data of a tensor (a real Tensor: its constructor checked it, then it was taken away). */
export function detachData<T extends { data: ArrayBufferView }>(t: T): T {
  detach(t.data);
  return t;
}

/** Shrinks the data of a tensor over resizable memory to nothing. */
export function shrinkData<T extends { data: Float32Array }>(t: T): T {
  shrink(t.data);
  return t;
}

/** Tries to change a tensor's shape after construction (t.shape[k] = x, or a push when k is past the end). */
export function setShape<T extends { shape: unknown[] }>(t: T, k: number, x: unknown): T {
  try {
    if (k >= t.shape.length) t.shape.push(x);
    else t.shape[k] = x;
  } catch {
    // A frozen shape refuses the change: the tensor stays as it was.
  }
  return t;
}

/** The bytes of an IDX file: magic, big-endian dims, then `body` bytes (a pattern), or fewer/more. */
export function idxBytes(magic: number, dims: number[], body: number): Uint8Array {
  const head = new Uint8Array(4 + 4 * dims.length);
  const dv = new DataView(head.buffer);
  dv.setUint32(0, magic >>> 0, false);
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d >>> 0, false));
  const out = new Uint8Array(head.length + Math.max(0, body));
  out.set(head);
  for (let i = head.length; i < out.length; i++) out[i] = (i * 7) % 10;
  return out;
}

/** n bytes of a hash pattern after a prefix (a pickle's protocol header, a gzip magic, ...). */
export function bytes(prefix: number[], n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(prefix.length + n);
  out.set(prefix);
  for (let i = 0; i < n; i++) out[prefix.length + i] = (Math.imul(i + seed, 0x9e3779b1) >>> 24) & 0xff;
  return out;
}

/** An array nested `depth` levels around `x` ([[[x]]] for depth 3). */
export function nest(x: unknown, depth: number): unknown {
  let a: unknown = x;
  for (let i = 0; i < depth; i++) a = [a];
  return a;
}

/** An array whose element `k` is a getter that throws a FuzzMarker. */
export function throwingArray(values: unknown[], k: number): unknown[] {
  const a = [...values];
  Object.defineProperty(a, k, { get() { throw new FuzzMarker(); }, enumerable: true });
  return a;
}

// ---- files: written to a folder of this process, named by the call ---------------------------

let fileDir: string | null = null;

/**
 * The folder this process writes its fuzz files to: blasnet-fuzz-<pid> in the temporary
 * folder, removed at exit (and by the driver when the process was killed).
 */
export function tempDir(): string {
  if (fileDir === null) {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const fs = require('fs') as typeof import('fs');
    const os = require('os') as typeof import('os');
    const path = require('path') as typeof import('path');
    const dir = path.join(os.tmpdir(), `blasnet-fuzz-${process.pid}`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { mode: 0o700 });
    fileDir = dir;
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return fileDir;
}

/** Writes bytes to a file named `name` in this process's folder and returns its path. */
export function file(name: string, bytes: Uint8Array): string {
  const fs = require('fs') as typeof import('fs');
  const path = require('path') as typeof import('path');
  const p = path.join(tempDir(), name);
  fs.writeFileSync(p, bytes);
  return p;
}

/** A path in this process's folder of something that is not a regular file: a folder, a FIFO, /dev/zero. */
export function special(name: string, kind: 'folder' | 'fifo' | 'devzero' | 'missing'): string {
  const fs = require('fs') as typeof import('fs');
  const path = require('path') as typeof import('path');
  const cp = require('child_process') as typeof import('child_process');
  const p = path.join(tempDir(), name);
  if (kind === 'devzero') return '/dev/zero';
  if (kind === 'folder') fs.mkdirSync(p, { recursive: true });
  if (kind === 'fifo' && !fs.existsSync(p)) cp.execFileSync('mkfifo', [p]);
  return p;
}

/** A safetensors file's bytes: an 8-byte little-endian header length (or `lengthField`), the header text, `body` bytes. */
export function safetensorsBytes(header: unknown, body: number, lengthField?: number, headerText?: string): Uint8Array {
  const text = Buffer.from(headerText ?? JSON.stringify(header), 'utf8');
  const out = new Uint8Array(8 + text.length + Math.max(0, body));
  new DataView(out.buffer).setBigUint64(0, BigInt(lengthField ?? text.length), true);
  out.set(text, 8);
  for (let i = 8 + text.length; i < out.length; i++) out[i] = (i * 13) & 0x3f; // small floats' bytes
  return out;
}

/** A safetensors header of float32 tensors laid end to end, as `writeSafetensors` writes them. */
export function safetensorsHeader(tensors: Record<string, number[]>, metadata?: Record<string, string>): Record<string, unknown> {
  const h: Record<string, unknown> = {};
  if (metadata) h.__metadata__ = metadata;
  let at = 0;
  for (const [k, shape] of Object.entries(tensors)) {
    const n = shape.reduce((a, d) => a * d, 1) * 4;
    h[k] = { dtype: 'F32', shape, data_offsets: [at, at + n] };
    at += n;
  }
  return h;
}

/** Total data bytes a header made by safetensorsHeader needs. */
export function safetensorsBody(h: Record<string, unknown>): number {
  let end = 0;
  for (const [k, t] of Object.entries(h)) {
    const end1 = k === '__metadata__' ? 0 : (t as { data_offsets?: unknown } | null)?.data_offsets;
    if (Array.isArray(end1) && typeof end1[1] === 'number' && end1[1] < 2 ** 20) end = Math.max(end, end1[1]);
  }
  return end;
}

/** Sets a value deep in a JSON-like object (creating nothing): path of keys and indices. */
export function setPath<T>(o: T, path: (string | number)[], value: unknown): T {
  let at: Record<string | number, unknown> = o as never;
  for (let i = 0; i < path.length - 1; i++) at = at[path[i]] as never;
  at[path[path.length - 1]] = value;
  return o;
}

/**
 * The header of a network file saved by `saveParams` for a network of `config` (its
 * __metadata__ holds the description and config as JSON text), parsed so that a generator can
 * change it: `edit(h, meta)` gets the header and the parsed network description.
 */
export function networkHeader(config: { kind: string; options: Record<string, unknown> }): { header: Record<string, unknown>; body: number } {
  const fs = require('fs') as typeof import('fs');
  const lib = require('../../lib/index') as typeof import('../../lib/index');
  const p = file(`net-${process.pid}-${Math.random().toString(36).slice(2)}.safetensors`, new Uint8Array(0));
  lib.networkFromConfig(config).saveParams(p);
  const b = fs.readFileSync(p);
  fs.unlinkSync(p);
  const n = Number(b.readBigUInt64LE(0));
  return { header: JSON.parse(b.subarray(8, 8 + n).toString('utf8')), body: b.length - 8 - n };
}

/** Edits the network description inside a network file's header (metadata.network, JSON text). */
export function editNetwork(header: Record<string, unknown>, path: (string | number)[], value: unknown): Record<string, unknown> {
  const meta = header.__metadata__ as Record<string, string>;
  const desc = JSON.parse(meta.network);
  setPath(desc, path, value);
  meta.network = JSON.stringify(desc);
  if (path[0] === 'config') meta.config = JSON.stringify(desc.config);
  return header;
}

let zeroMember: Uint8Array | null = null;

/** A gzip file: the gzip of `head`, then `megabytes` members of 1 MiB of zeros each (a few KB that inflate to MiBs). */
export function gzip(head: Uint8Array, megabytes = 0): Uint8Array {
  const zlib = require('zlib') as typeof import('zlib');
  zeroMember ??= zlib.gzipSync(Buffer.alloc(2 ** 20), { level: 9 });
  const first = zlib.gzipSync(head);
  const out = new Uint8Array(first.length + megabytes * zeroMember.length);
  out.set(first);
  for (let i = 0; i < megabytes; i++) out.set(zeroMember, first.length + i * zeroMember.length);
  return out;
}

/** Bytes with some bytes changed: [position, value] pairs (positions past the end are ignored). */
export function patch(bytes: Uint8Array, changes: Array<[number, number]>): Uint8Array {
  const out = bytes.slice();
  for (const [at, x] of changes) if (at < out.length) out[at] = x;
  return out;
}

/** The first n bytes (or the bytes with n more appended when n > length). */
export function resize(bytes: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  out.set(bytes.subarray(0, Math.min(n, bytes.length)));
  return out;
}

/** A safetensors file's bytes with its first float32 value set to NaN. */
export function nanFirst(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  const at = 8 + Number(new DataView(out.buffer).getBigUint64(0, true));
  out.set([0, 0, 0xc0, 0x7f], at);
  return out;
}

/** A path named `name` in this process's folder (nothing is written). */
export function tempPath(name: string): string {
  const path = require('path') as typeof import('path');
  return path.join(tempDir(), name);
}
