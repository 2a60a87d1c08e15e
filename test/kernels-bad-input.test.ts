// SPDX-License-Identifier: MIT
// Bad input, on both sides of the boundary: the checked wrappers of lib/core/kernels.ts,
// and the raw addon called directly (the C++ checks are the second line, so every
// bad call must throw there too, never read or write out of bounds, and leave the
// process working). Errors from the addon come from another realm, so tests assert
// on err.name and the message rather than with instanceof.
import { describe, expect, test } from '@jest/globals';
import * as K from '../lib/core/kernels';
import { addon } from '../lib/core/native';
import { Call, caught, esc } from './helpers/errors';
import { Rng } from './helpers/random';
import * as ref from './reference/naive';


function expectError(fn: Call, name: 'TypeError' | 'RangeError', message: RegExp): void {
  const e = caught(fn);
  if (e.name !== name || !message.test(e.message)) {
    throw new Error(`expected ${name} matching ${message}, got ${e.name}: ${e.message}`);
  }
}


// Valid geometry for every window kernel: OH = 3, OW = 3; col is 18 x 9.
const G = { N: 2, C: 3, H: 5, W: 4, FH: 3, FW: 1, stride: 2, pad: 1 };
const OH = 3, OW = 3;
const ROWS = G.N * OH * OW, COLS = G.C * G.FH * G.FW;
const FN = 2;
const XLEN = G.N * G.C * G.H * G.W;
const POOL_OUT = G.N * G.C * OH * OW;

type Kind = 'f32' | 'optf32' | 'i32' | 'int1' | 'int0' | 'float' | 'bool';
interface Arg { name: string; kind: Kind; value: unknown }

const f32 = (name: string, n: number): Arg => ({ name, kind: 'f32', value: n });
const opt = (name: string, n: number): Arg => ({ name, kind: 'optf32', value: n });
const i32 = (name: string, n: number): Arg => ({ name, kind: 'i32', value: n });
const int = (name: string, v: number, min: 0 | 1 = 1): Arg => ({ name, kind: min ? 'int1' : 'int0', value: v });
const num = (name: string, v: number): Arg => ({ name, kind: 'float', value: v });
const bool = (name: string, v: boolean): Arg => ({ name, kind: 'bool', value: v });

function geomArgs(h: 'FH' | 'PH', w: 'FW' | 'PW'): Arg[] {
  // Convolution geometry calls the width 'Wd' so that it is not confused with the weights 'W'.
  return [int('N', G.N), int('C', G.C), int('H', G.H), int(h === 'FH' ? 'Wd' : 'W', G.W), int(h, G.FH), int(w, G.FW),
    int('stride', G.stride), int('pad', G.pad, 0)];
}

/** A 2x2, stride-1 pooling fused after the convolution: its 3x3 output pools to 2x2. */
const fusedPoolArgs = (): Arg[] => [int('PH', 2), int('PW', 2), int('poolStride', 1), int('poolPad', 0, 0)];
const FUSED_OUT = G.N * FN * 2 * 2;

/** How many optional arguments may follow a raw function's required ones. */
const OPTIONAL_TRAILING: Record<string, number> = { convForward: 1, convBackward: 1 };

/** The raw addon's functions, each with a valid argument list (names as the C++ reports them). */
const RAW: Record<string, Arg[]> = {
  sgemm: [bool('transA', false), bool('transB', true), int('M', 3), int('N', 4), int('K', 5), num('alpha', 1),
    f32('A', 15), f32('B', 20), num('beta', 0), f32('C', 12)],
  affineForward: [f32('x', 12), f32('W', 15), f32('b', 5), f32('out', 20), int('N', 4), int('I', 3), int('O', 5)],
  affineBackward: [f32('dout', 20), f32('x', 12), f32('W', 15), opt('dx', 12), f32('dW', 15), f32('db', 5),
    int('N', 4), int('I', 3), int('O', 5)],
  addRowVector: [f32('Y', 12), f32('b', 4), int('rows', 3), int('cols', 4)],
  columnSums: [f32('X', 12), int('rows', 3), int('cols', 4), f32('out', 4)],
  im2col: [f32('x', XLEN), f32('col', ROWS * COLS), ...geomArgs('FH', 'FW')],
  col2im: [f32('col', ROWS * COLS), f32('dx', XLEN), ...geomArgs('FH', 'FW')],
  convForward: [f32('x', XLEN), f32('W', FN * COLS), f32('b', FN), opt('col', ROWS * COLS),
    f32('out', G.N * FN * OH * OW), int('FN', FN), ...geomArgs('FH', 'FW')],
  convBackward: [f32('dout', G.N * FN * OH * OW), opt('x', XLEN), opt('col', ROWS * COLS), f32('W', FN * COLS),
    f32('dW', FN * COLS), f32('db', FN), opt('dcol', ROWS * COLS), opt('dx', XLEN), int('FN', FN),
    ...geomArgs('FH', 'FW')],
  convPoolForward: [f32('x', XLEN), f32('W', FN * COLS), f32('b', FN), f32('pooled', FUSED_OUT), i32('argmax', FUSED_OUT),
    int('FN', FN), ...geomArgs('FH', 'FW'), ...fusedPoolArgs(), bool('relu', true)],
  convPoolBackward: [f32('dpooled', FUSED_OUT), f32('x', XLEN), f32('W', FN * COLS), f32('dW', FN * COLS), f32('db', FN),
    opt('dx', XLEN), opt('pooled', FUSED_OUT), i32('argmax', FUSED_OUT), int('FN', FN), ...geomArgs('FH', 'FW'),
    ...fusedPoolArgs()],
  maxPoolForward: [f32('x', XLEN), f32('out', POOL_OUT), i32('argmax', POOL_OUT), ...geomArgs('PH', 'PW')],
  maxPoolBackward: [f32('dout', POOL_OUT), i32('argmax', POOL_OUT), f32('dx', XLEN), ...geomArgs('PH', 'PW')],
  avgPoolForward: [f32('x', XLEN), f32('out', POOL_OUT), ...geomArgs('PH', 'PW')],
  avgPoolBackward: [f32('dout', POOL_OUT), f32('dx', XLEN), ...geomArgs('PH', 'PW')],
};

const rng = new Rng(71);

/** Fresh buffers for each array argument, so no two arguments ever share memory. */
function materialize(args: Arg[]): unknown[] {
  return args.map((a) => {
    if (a.kind === 'f32' || a.kind === 'optf32') return rng.floats(a.value as number);
    if (a.kind === 'i32') return new Int32Array(a.value as number);
    return a.value;
  });
}

type Raw = Record<string, (...args: unknown[]) => unknown>;
const raw = addon as unknown as Raw;

/** Wrong values for one argument, with the error each must give. */
function mutations(a: Arg, i: number): Array<{ what: string; value: unknown; name: 'TypeError' | 'RangeError'; re: RegExp }> {
  const at = `argument ${i} '${esc(a.name)}'`;
  const n = a.value as number;
  switch (a.kind) {
    case 'f32':
    case 'optf32': {
      const type = (got: string) => new RegExp(`${at} must be a Float32Array, got ${got}`);
      const len = new RegExp(`'${esc(a.name)}' must have ${n} elements`);
      const list: ReturnType<typeof mutations> = [
        // Same byte length as the right buffer: only the element type is wrong.
        { what: 'a Uint8Array', value: new Uint8Array(n * 4), name: 'TypeError', re: type('a Uint8Array') },
        { what: 'a Float64Array', value: new Float64Array(n), name: 'TypeError', re: type('a Float64Array') },
        { what: 'an Int32Array', value: new Int32Array(n), name: 'TypeError', re: type('a Int32Array') },
        { what: 'a plain Array', value: new Array(n).fill(0), name: 'TypeError', re: type('an Array') },
        { what: 'a DataView', value: new DataView(new ArrayBuffer(n * 4)), name: 'TypeError', re: type('an object') },
        { what: 'one element short', value: new Float32Array(n - 1), name: 'RangeError', re: len },
        { what: 'one element long', value: new Float32Array(n + 1), name: 'RangeError', re: len },
        { what: 'empty', value: new Float32Array(0), name: 'RangeError', re: len },
      ];
      if (a.kind === 'f32') {
        list.push({ what: 'null', value: null, name: 'TypeError', re: type('null') });
        list.push({ what: 'undefined', value: undefined, name: 'TypeError', re: type('undefined') });
      }
      return list;
    }
    case 'i32': {
      const type = (got: string) => new RegExp(`${at} must be an Int32Array, got ${got}`);
      return [
        { what: 'a Float32Array', value: new Float32Array(n), name: 'TypeError', re: type('a Float32Array') },
        { what: 'a Uint32Array', value: new Uint32Array(n), name: 'TypeError', re: type('a Uint32Array') },
        { what: 'null', value: null, name: 'TypeError', re: type('null') },
        { what: 'one element short', value: new Int32Array(n - 1), name: 'RangeError', re: new RegExp(`'${esc(a.name)}' must have ${n} elements`) },
      ];
    }
    case 'int1':
    case 'int0': {
      const min = a.kind === 'int1' ? 1 : 0;
      const range = (got: string) => new RegExp(`${at} must be an integer in \\[${min}, 2147483647\\], got ${got}`);
      const list: ReturnType<typeof mutations> = [
        { what: '-1', value: -1, name: 'RangeError', re: range('the number -1') },
        { what: 'NaN', value: NaN, name: 'RangeError', re: range('the number NaN') },
        { what: '1.5', value: 1.5, name: 'RangeError', re: range('the number 1.5') },
        { what: 'Infinity', value: Infinity, name: 'RangeError', re: range('the number Infinity') },
        { what: '2^31', value: 2 ** 31, name: 'RangeError', re: range('the number 2147483648') },
        { what: 'a string', value: '2', name: 'TypeError', re: new RegExp(`${at} must be a number, got a string`) },
        { what: 'undefined', value: undefined, name: 'TypeError', re: new RegExp(`${at} must be a number, got undefined`) },
      ];
      if (min === 1) list.push({ what: '0', value: 0, name: 'RangeError', re: range('the number 0') });
      return list;
    }
    case 'float':
      return [
        { what: 'NaN', value: NaN, name: 'RangeError', re: new RegExp(`${at} must be finite, got the number NaN`) },
        { what: '-Infinity', value: -Infinity, name: 'RangeError', re: new RegExp(`${at} must be finite`) },
        { what: 'a string', value: '1', name: 'TypeError', re: new RegExp(`${at} must be a number, got a string`) },
      ];
    case 'bool':
      return [
        { what: '1', value: 1, name: 'TypeError', re: new RegExp(`${at} must be a boolean, got the number 1`) },
        { what: 'a string', value: 'true', name: 'TypeError', re: new RegExp(`${at} must be a boolean, got a string`) },
        { what: 'null', value: null, name: 'TypeError', re: new RegExp(`${at} must be a boolean, got null`) },
      ];
  }
}

/** A small conv + pooling run checked against the reference: the addon still works. */
function stillWorks(): void {
  const g = { N: 1, C: 2, H: 4, W: 5, FH: 2, FW: 3, stride: 1, pad: 1 };
  const { OH: oh, OW: ow } = ref.outShape(g);
  const x = rng.floats(g.N * g.C * g.H * g.W), W = rng.floats(3 * g.C * g.FH * g.FW), b = rng.floats(3);
  const out = new Float32Array(g.N * 3 * oh * ow);
  K.convForward(x, W, b, new Float32Array(oh * ow * g.C * g.FH * g.FW), out, 3, g);
  const want = ref.convForward(x, W, b, 3, g);
  for (let i = 0; i < want.length; i++) expect(Math.abs(out[i] - want[i])).toBeLessThan(1e-4 * (1 + Math.abs(want[i])));
}

describe('raw addon: C++ checks every argument again', () => {
  test('the valid argument lists used below are accepted', () => {
    for (const [fn, args] of Object.entries(RAW)) {
      expect(() => raw[fn](...materialize(args))).not.toThrow();
    }
  });

  for (const [fn, args] of Object.entries(RAW)) {
    args.forEach((a, i) => {
      test(`${fn}: bad argument ${i} '${a.name}'`, () => {
        for (const m of mutations(a, i)) {
          const values = materialize(args);
          values[i] = m.value;
          try {
            expectError(() => raw[fn](...values), m.name, new RegExp(`^${fn}: `));
            expectError(() => raw[fn](...values), m.name, m.re);
          } catch (err) {
            throw new Error(`${fn} with ${a.name} = ${m.what}: ${(err as Error).message}`);
          }
        }
      });
    });

    test(`${fn}: too few and too many arguments`, () => {
      const values = materialize(args);
      // convForward and convBackward take one optional trailing argument (the fused Relu).
      const extra = OPTIONAL_TRAILING[fn] ?? 0;
      const want = extra ? `${args.length} to ${args.length + extra}` : `${args.length}`;
      const count = new RegExp(`^${fn}: expected ${want} arguments, got ${args.length - 1}$`);
      expectError(() => raw[fn](...values.slice(0, -1)), 'TypeError', count);
      expectError(() => raw[fn](), 'TypeError', new RegExp(`expected ${want} arguments, got 0`));
      const tooMany = [...values, ...new Array(extra).fill(null), 0];
      expectError(() => raw[fn](...tooMany), 'TypeError', new RegExp(`expected ${want} arguments, got ${tooMany.length}`));
    });
  }

  test('the process goes on after all of the above', () => {
    stillWorks();
  });
});

describe('raw addon: sizes whose product overflows 32 bits', () => {
  // With 32-bit arithmetic 65536 * 65536 wraps to 0 and an empty buffer would pass.
  const E = () => new Float32Array(0);
  const I0 = () => new Int32Array(0);
  const big = 65536;

  test('sgemm', () => {
    expectError(() => addon.sgemm(false, false, big, 1, big, 1, E(), E(), 0, E()), 'RangeError',
      /'A' must have 4294967296 elements/);
    expectError(() => addon.sgemm(false, false, 1, big, big, 1, new Float32Array(big), E(), 0, new Float32Array(big)),
      'RangeError', /'B' must have 4294967296 elements/);
    // Past 2^53 the product is reported as not fitting at all.
    const m = 2 ** 31 - 1;
    expectError(() => addon.sgemm(false, false, m, m, m, 1, E(), E(), 0, E()), 'RangeError',
      /'A' of shape 2147483647x2147483647 has more elements than fit in memory/);
  });

  test('affine, addRowVector, columnSums', () => {
    expectError(() => addon.affineForward(E(), E(), new Float32Array(1), E(), big, big, 1), 'RangeError', /'x' must have 4294967296/);
    expectError(() => addon.affineBackward(E(), E(), E(), null, E(), E(), big, 1, big), 'RangeError', /'dout' must have 4294967296/);
    expectError(() => addon.addRowVector(E(), new Float32Array(big), big, big), 'RangeError', /'Y' must have 4294967296/);
    expectError(() => addon.columnSums(E(), big, big, new Float32Array(big)), 'RangeError', /'X' must have 4294967296/);
  });

  test('convPoolForward, convPoolBackward: N = C = 65536', () => {
    const I = () => new Int32Array(0);
    expectError(() => addon.convPoolForward(E(), E(), E(), E(), I(), 1, big, big, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0, false),
      'RangeError', /'x' must have 4294967296 elements/);
    expectError(() => addon.convPoolBackward(E(), E(), E(), E(), E(), null, null, I(), big, big, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0),
      'RangeError', /'dpooled' must have 4294967296 elements/);
  });

  test('a pooling window that does not fit the convolution output', () => {
    const x = new Float32Array(XLEN), W = new Float32Array(FN * COLS), b = new Float32Array(FN);
    expectError(() => addon.convPoolForward(x, W, b, E(), I0(), FN, G.N, G.C, G.H, G.W, G.FH, G.FW, G.stride, G.pad, 4, 2, 1, 0, false),
      'RangeError', /^convPoolForward: a 4x2 pool window with pad 0 does not fit the 3x3 convolution output$/);
    expect(() => K.convPoolForward(x, W, b, E(), I0(), FN, G, { PH: 4, PW: 2, stride: 1, pad: 0 })).toThrow(
      /convPoolForward: .*convolution output height/);
    expect(() => K.convPoolForward(x, W, b, E(), I0(), FN, G, null as never)).toThrow(
      /^convPoolForward: pool must be an object \{ PH, PW, stride, pad \}, got null$/);
    expect(() => K.convPoolForward(x, W, b, E(), I0(), FN, G, { PH: 2, PW: 0, stride: 1, pad: 0 })).toThrow(
      /^convPoolForward: pool.PW must be an integer >= 1 \(and < 2\^31\), got the number 0$/);
  });

  test('im2col, col2im, convForward, convBackward: N = C = 65536', () => {
    expectError(() => addon.im2col(E(), E(), big, big, 1, 1, 1, 1, 1, 0), 'RangeError', /'x' must have 4294967296/);
    expectError(() => addon.col2im(E(), E(), big, big, 1, 1, 1, 1, 1, 0), 'RangeError', /'col' must have 4294967296/);
    expectError(() => addon.convForward(E(), E(), E(), E(), E(), 1, big, big, 1, 1, 1, 1, 1, 0), 'RangeError',
      /'x' must have 4294967296/);
    expectError(() => addon.convBackward(E(), E(), E(), E(), E(), E(), null, null, big, big, 1, 1, 1, 1, 1, 1, 0),
      'RangeError', /'dout' must have 4294967296/);
    // A filter of C*FH*FW >= 2^31 cannot be handed to a 32-bit gemm at all.
    expectError(() => addon.im2col(E(), E(), 1, big, big, big, big, big, 1, 0), 'RangeError', /overflow 32-bit gemm sizes|plane has over 2\^31/);
  });

  test('pooling: N = C = 65536, and planes of 2^32 pixels', () => {
    expectError(() => addon.maxPoolForward(E(), E(), new Int32Array(0), big, big, 1, 1, 1, 1, 1, 0), 'RangeError',
      /'x' must have 4294967296/);
    expectError(() => addon.maxPoolBackward(E(), new Int32Array(0), E(), big, big, 1, 1, 1, 1, 1, 0), 'RangeError',
      /'dout' must have 4294967296/);
    expectError(() => addon.avgPoolForward(E(), E(), big, big, 1, 1, 1, 1, 1, 0), 'RangeError', /'x' must have 4294967296/);
    expectError(() => addon.avgPoolBackward(E(), E(), big, big, 1, 1, 1, 1, 1, 0), 'RangeError', /'dout' must have 4294967296/);
    // argmax holds h*W+w in an int32: such a plane is refused before any length check.
    expectError(() => addon.maxPoolForward(E(), E(), new Int32Array(0), 1, 1, big, big, 1, 1, 1, 0), 'RangeError',
      /plane has over 2\^31 elements/);
  });

  test('a window that does not fit the padded input', () => {
    expectError(() => addon.im2col(new Float32Array(4), E(), 1, 1, 2, 2, 5, 1, 1, 1), 'RangeError', /does not fit/);
    expectError(() => addon.avgPoolForward(new Float32Array(4), E(), 1, 1, 2, 2, 1, 5, 1, 1), 'RangeError', /does not fit/);
  });

  test('the process goes on', () => {
    stillWorks();
  });
});

describe('raw addon: outputs that overlap inputs are refused', () => {
  const share = /must not share memory/;

  test('sgemm: C on A, C partly on B; A and B may share', () => {
    const buf = rng.floats(64);
    const A = buf.subarray(0, 15), B = buf.subarray(15, 35);
    expectError(() => addon.sgemm(false, true, 3, 4, 5, 1, A, B, 0, A.subarray(0, 12)), 'RangeError', /'C' and 'A' must not share memory/);
    expectError(() => addon.sgemm(false, true, 3, 4, 5, 1, A, B, 0, buf.subarray(30, 42)), 'RangeError', /'C' and 'B' must not share memory/);
    // Adjacent windows of one buffer do not overlap; an input read twice is fine.
    const C = buf.subarray(35, 47);
    expect(() => addon.sgemm(false, true, 3, 4, 5, 1, A, B, 0, C)).not.toThrow();
    const sq = buf.subarray(0, 16);
    expect(() => addon.sgemm(false, true, 4, 4, 4, 1, sq, sq, 0, buf.subarray(16, 32))).not.toThrow();
  });

  test('affine, addRowVector, columnSums', () => {
    const buf = rng.floats(200);
    expectError(() => addon.affineForward(buf.subarray(0, 12), buf.subarray(20, 35), buf.subarray(40, 45), buf.subarray(5, 25), 4, 3, 5),
      'RangeError', /'out' and 'x' must not share memory/);
    expectError(() => addon.affineBackward(buf.subarray(0, 20), buf.subarray(20, 32), buf.subarray(40, 55), buf.subarray(10, 22),
      buf.subarray(60, 75), buf.subarray(80, 85), 4, 3, 5), 'RangeError', share);
    expectError(() => addon.affineBackward(buf.subarray(0, 20), buf.subarray(20, 32), buf.subarray(40, 55), null,
      buf.subarray(60, 75), buf.subarray(70, 75), 4, 3, 5), 'RangeError', /'dW' and 'db' must not share memory/);
    expectError(() => addon.addRowVector(buf.subarray(0, 12), buf.subarray(8, 12), 3, 4), 'RangeError', /'Y' and 'b' must not share/);
    expectError(() => addon.columnSums(buf.subarray(0, 12), 3, 4, buf.subarray(11, 15)), 'RangeError', /'out' and 'X' must not share/);
  });

  test('im2col, col2im, convForward, convBackward', () => {
    const buf = new Float32Array(2000);
    const x = buf.subarray(0, XLEN);
    expectError(() => addon.im2col(x, buf.subarray(XLEN - 1, XLEN - 1 + ROWS * COLS), G.N, G.C, G.H, G.W, G.FH, G.FW, G.stride, G.pad),
      'RangeError', /'col' and 'x' must not share memory/);
    expectError(() => addon.col2im(buf.subarray(100, 100 + ROWS * COLS), x, G.N, G.C, G.H, G.W, G.FH, G.FW, G.stride, G.pad),
      'RangeError', /'dx' and 'col' must not share memory/);
    let o = XLEN;
    const take = (n: number) => { const v = buf.subarray(o, o + n); o += n; return v; };
    const W = take(FN * COLS), b = take(FN), col = take(ROWS * COLS), out = take(G.N * FN * OH * OW);
    const geo = [G.N, G.C, G.H, G.W, G.FH, G.FW, G.stride, G.pad] as const;
    expectError(() => addon.convForward(x, W, b, col, col.subarray(0, out.length), FN, ...geo), 'RangeError', /'out' and 'col' must not share/);
    expectError(() => addon.convForward(x, W, b, buf.subarray(0, ROWS * COLS), out, FN, ...geo), 'RangeError', /'col' and 'an input' must not share/);
    expect(() => addon.convForward(x, W, b, col, out, FN, ...geo)).not.toThrow();
    const dW = take(FN * COLS), db = take(FN), dcol = take(ROWS * COLS), dx = take(XLEN);
    expectError(() => addon.convBackward(out, null, col, W, out.subarray(0, FN * COLS), db, dcol, dx, FN, ...geo), 'RangeError', /'dW' and 'an input'/);
    expectError(() => addon.convBackward(out, null, col, W, dW, db, dcol, dcol.subarray(0, XLEN), FN, ...geo), 'RangeError', /'dcol' and 'dx'/);
    expectError(() => addon.convBackward(out, null, col, W, dW, dW.subarray(0, FN), null, null, FN, ...geo), 'RangeError', /'dW' and 'db'/);
    expect(() => addon.convBackward(out, null, col, W, dW, db, dcol, dx, FN, ...geo)).not.toThrow();
  });

  test('convBackward: x and col may not both be null', () => {
    const geo = [G.N, G.C, G.H, G.W, G.FH, G.FW, G.stride, G.pad] as const;
    const [dout, , , W, dW, db] = materialize(RAW.convBackward).slice(0, 6) as Float32Array[];
    expectError(() => addon.convBackward(dout, null, null, W, dW, db, null, null, FN, ...geo), 'TypeError', /one of 'x' and 'col' must be given/);
    expect(() => K.convBackward(dout, null, null, W, dW, db, null, null, FN, G)).toThrow(/^convBackward: one of x and col/);
  });

  test('convBackward: dcol only with dx; dx without dcol uses scratch and matches', () => {
    const geo = [G.N, G.C, G.H, G.W, G.FH, G.FW, G.stride, G.pad] as const;
    const [dout, , col, W, dW, db, dcol] = materialize(RAW.convBackward).slice(0, 7) as Float32Array[];
    expectError(() => addon.convBackward(dout, null, col, W, dW, db, dcol, null, FN, ...geo), 'TypeError', /'dcol' is only used with 'dx'/);
    const dxA = new Float32Array(XLEN), dxB = new Float32Array(XLEN);
    addon.convBackward(dout, null, col, W, dW, db, dcol, dxA, FN, ...geo);
    addon.convBackward(dout, null, col, W, dW, db, null, dxB, FN, ...geo);
    expect(Array.from(dxB)).toEqual(Array.from(dxA));
  });

  test('pooling: out, argmax, dx against their inputs', () => {
    const buffer = new ArrayBuffer(4 * 1000);
    const f = new Float32Array(buffer), n = new Int32Array(buffer);
    const geo = [G.N, G.C, G.H, G.W, G.FH, G.FW, G.stride, G.pad] as const;
    const x = f.subarray(0, XLEN);
    const out = f.subarray(XLEN, XLEN + POOL_OUT);
    // An Int32Array argmax on the same bytes as the Float32Array out.
    expectError(() => addon.maxPoolForward(x, out, n.subarray(XLEN + 10, XLEN + 10 + POOL_OUT), ...geo), 'RangeError',
      /'argmax' and 'out' must not share memory/);
    expectError(() => addon.maxPoolForward(x, f.subarray(XLEN - 1, XLEN - 1 + POOL_OUT), n.subarray(500, 500 + POOL_OUT), ...geo),
      'RangeError', /'out' and 'x' must not share memory/);
    expectError(() => addon.maxPoolBackward(out, n.subarray(500, 500 + POOL_OUT), f.subarray(XLEN + 5, 2 * XLEN + 5), ...geo),
      'RangeError', /'dx' and 'dout' must not share memory/);
    expectError(() => addon.avgPoolForward(x, f.subarray(5, 5 + POOL_OUT), ...geo), 'RangeError', /'out' and 'x' must not share/);
    expectError(() => addon.avgPoolBackward(out, f.subarray(XLEN + 1, 2 * XLEN + 1), ...geo), 'RangeError', /'dx' and 'dout' must not share/);
  });

  test('the wrappers pass the overlap error on', () => {
    const buf = rng.floats(40);
    const e = caught(() => K.sgemm(false, false, 2, 2, 2, 1, buf.subarray(0, 4), buf.subarray(4, 8), 0, buf.subarray(2, 6)));
    expect(e.name).toBe('RangeError');
    expect(e.message).toMatch(/^sgemm: 'C' and 'A' must not share memory/);
  });
});

describe('raw addon: argmax values that are out of the plane', () => {
  test('maxPoolBackward ignores them instead of writing out of bounds', () => {
    const guard = new Float32Array(XLEN + 200).fill(7);
    const dx = guard.subarray(100, 100 + XLEN);
    const dout = rng.floats(POOL_OUT);
    const argmax = new Int32Array(POOL_OUT);
    const plane = G.H * G.W;
    const wild = [-1, -5, plane, plane + 1, 2 ** 31 - 1, -(2 ** 31), 1e6];
    for (let i = 0; i < POOL_OUT; i++) argmax[i] = i % 3 === 0 ? wild[i % wild.length] : (i * 7) % plane;
    addon.maxPoolBackward(dout, argmax, dx, G.N, G.C, G.H, G.W, G.FH, G.FW, G.stride, G.pad);
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

// ---------------------------------------------------------------------------
// The wrappers: same-realm errors that name the function and the argument.

type Wrapped = (...args: unknown[]) => unknown;
const W_ = K as unknown as Record<string, Wrapped>;

interface WArg { name: string; kind: 'f32' | 'i32' | 'int' | 'float' | 'bool' | 'geom' | 'optf32'; value: unknown }
const wf = (name: string, n: number): WArg => ({ name, kind: 'f32', value: n });
const wo = (name: string, n: number): WArg => ({ name, kind: 'optf32', value: n });
const geom: WArg = { name: 'g', kind: 'geom', value: G };

/** Each wrapper, the name it uses in messages, and a valid argument list. */
const WRAPPED: Array<{ fn: string; label: string; args: WArg[] }> = [
  { fn: 'sgemm', label: 'sgemm', args: [{ name: 'transA', kind: 'bool', value: true }, { name: 'transB', kind: 'bool', value: false },
    { name: 'M', kind: 'int', value: 3 }, { name: 'N', kind: 'int', value: 4 }, { name: 'K', kind: 'int', value: 5 },
    { name: 'alpha', kind: 'float', value: 1 }, wf('A', 15), wf('B', 20), { name: 'beta', kind: 'float', value: 1 }, wf('C', 12)] },
  { fn: 'affineForward', label: 'affineForward', args: [wf('x', 12), wf('W', 15), wf('b', 5), wf('out', 20),
    { name: 'N', kind: 'int', value: 4 }, { name: 'I', kind: 'int', value: 3 }, { name: 'O', kind: 'int', value: 5 }] },
  { fn: 'affineBackward', label: 'affineBackward', args: [wf('dout', 20), wf('x', 12), wf('W', 15), wo('dx', 12), wf('dW', 15),
    wf('db', 5), { name: 'N', kind: 'int', value: 4 }, { name: 'I', kind: 'int', value: 3 }, { name: 'O', kind: 'int', value: 5 }] },
  { fn: 'addRowVector', label: 'addRowVector', args: [wf('Y', 12), wf('b', 4), { name: 'rows', kind: 'int', value: 3 },
    { name: 'cols', kind: 'int', value: 4 }] },
  { fn: 'columnSums', label: 'columnSums', args: [wf('X', 12), { name: 'rows', kind: 'int', value: 3 },
    { name: 'cols', kind: 'int', value: 4 }, wf('out', 4)] },
  { fn: 'im2colInto', label: 'im2col', args: [wf('x', XLEN), wf('col', ROWS * COLS), geom] },
  { fn: 'col2imInto', label: 'col2im', args: [wf('col', ROWS * COLS), wf('dx', XLEN), geom] },
  { fn: 'convForward', label: 'convForward', args: [wf('x', XLEN), wf('W', FN * COLS), wf('b', FN), wo('col', ROWS * COLS),
    wf('out', G.N * FN * OH * OW), { name: 'FN', kind: 'int', value: FN }, geom] },
  { fn: 'convBackward', label: 'convBackward', args: [wf('dout', G.N * FN * OH * OW), wo('x', XLEN), wo('col', ROWS * COLS), wf('W', FN * COLS),
    wf('dW', FN * COLS), wf('db', FN), wo('dcol', ROWS * COLS), wo('dx', XLEN), { name: 'FN', kind: 'int', value: FN }, geom] },
  { fn: 'maxPoolForward', label: 'maxPoolForward', args: [wf('x', XLEN), wf('out', POOL_OUT),
    { name: 'argmax', kind: 'i32', value: POOL_OUT }, geom] },
  { fn: 'maxPoolBackward', label: 'maxPoolBackward', args: [wf('dout', POOL_OUT), { name: 'argmax', kind: 'i32', value: POOL_OUT },
    wf('dx', XLEN), geom] },
  { fn: 'avgPoolForward', label: 'avgPoolForward', args: [wf('x', XLEN), wf('out', POOL_OUT), geom] },
  { fn: 'avgPoolBackward', label: 'avgPoolBackward', args: [wf('dout', POOL_OUT), wf('dx', XLEN), geom] },
];

function wMaterialize(args: WArg[]): unknown[] {
  return args.map((a) => {
    if (a.kind === 'f32' || a.kind === 'optf32') return rng.floats(a.value as number);
    if (a.kind === 'i32') return new Int32Array(a.value as number);
    if (a.kind === 'geom') return { ...(a.value as object) };
    return a.value;
  });
}

interface Bad { what: string; value: unknown; Kind: typeof TypeError | typeof RangeError; re: RegExp }

function wMutations(fn: string, a: WArg): Bad[] {
  const p = `^${fn}: ${esc(a.name)} must`;
  const n = a.value as number;
  switch (a.kind) {
    case 'f32':
    case 'optf32': {
      const list: Bad[] = [
        { what: 'a Float64Array', value: new Float64Array(n), Kind: TypeError, re: new RegExp(`${p} be a Float32Array, got a Float64Array\\(${n}\\)`) },
        { what: 'a Uint8Array', value: new Uint8Array(n * 4), Kind: TypeError, re: new RegExp(`${p} be a Float32Array, got a Uint8Array`) },
        { what: 'a plain Array', value: new Array(n).fill(0), Kind: TypeError, re: new RegExp(`${p} be a Float32Array, got an Array\\(${n}\\)`) },
        { what: 'a string', value: 'x', Kind: TypeError, re: new RegExp(`${p} be a Float32Array, got the string`) },
        { what: 'one short', value: new Float32Array(n - 1), Kind: RangeError, re: new RegExp(`${p} have ${n} elements .*got ${n - 1}`) },
        { what: 'one long', value: new Float32Array(n + 1), Kind: RangeError, re: new RegExp(`${p} have ${n} elements .*got ${n + 1}`) },
      ];
      if (a.kind === 'f32') list.push({ what: 'null', value: null, Kind: TypeError, re: new RegExp(`${p} be a Float32Array, got null`) });
      return list;
    }
    case 'i32':
      return [
        { what: 'a Float32Array', value: new Float32Array(n), Kind: TypeError, re: new RegExp(`${p} be an Int32Array, got a Float32Array`) },
        { what: 'one short', value: new Int32Array(n - 1), Kind: RangeError, re: new RegExp(`${p} have ${n} elements`) },
      ];
    case 'int':
      return [
        { what: '0', value: 0, Kind: RangeError, re: new RegExp(`${p} be an integer >= 1.*got the number 0`) },
        { what: '-3', value: -3, Kind: RangeError, re: new RegExp(`${p} be an integer >= 1.*got the number -3`) },
        { what: 'NaN', value: NaN, Kind: RangeError, re: new RegExp(`${p} be an integer >= 1.*got NaN`) },
        { what: '2.5', value: 2.5, Kind: RangeError, re: new RegExp(`${p} be an integer >= 1.*got the number 2.5`) },
        { what: 'a string', value: '3', Kind: TypeError, re: new RegExp(`${p} be an integer >= 1, got the string "3"`) },
      ];
    case 'float':
      return [
        { what: 'NaN', value: NaN, Kind: RangeError, re: new RegExp(`${p} be a finite number, got NaN`) },
        { what: 'Infinity', value: Infinity, Kind: RangeError, re: new RegExp(`${p} be a finite number, got the number Infinity`) },
        { what: 'a string', value: '1', Kind: TypeError, re: new RegExp(`${p} be a number, got the string`) },
      ];
    case 'bool':
      return [{ what: '1', value: 1, Kind: TypeError, re: new RegExp(`${p} be a boolean, got the number 1`) }];
    case 'geom':
      return [
        { what: 'null', value: null, Kind: TypeError, re: new RegExp(`^${fn}: geometry must be an object`) },
        { what: 'a number', value: 3, Kind: TypeError, re: new RegExp(`^${fn}: geometry must be an object`) },
      ];
  }
}

/** Bad values for each geometry field. */
function geomMutations(fn: string): Array<Bad & { field: string }> {
  const out: Array<Bad & { field: string }> = [];
  for (const field of ['N', 'C', 'H', 'W', 'FH', 'FW', 'stride', 'pad']) {
    const min = field === 'pad' ? 0 : 1;
    const p = `^${fn}: ${field} must be an integer >= ${min}`;
    const bads: Array<[string, unknown, typeof TypeError | typeof RangeError, string]> = [
      ['-1', -1, RangeError, 'got the number -1'], ['NaN', NaN, RangeError, 'got NaN'], ['1.5', 1.5, RangeError, 'got the number 1.5'],
      ['2^31', 2 ** 31, RangeError, 'got the number 2147483648'], ['a string', '2', TypeError, 'got the string "2"'],
      ['undefined', undefined, TypeError, 'got undefined'],
    ];
    if (min === 1) bads.push(['0', 0, RangeError, 'got the number 0']);
    for (const [what, value, Kind, got] of bads) out.push({ field, what, value, Kind, re: new RegExp(`${p}.*${got}`) });
  }
  return out;
}

describe('wrappers reject bad input with errors naming the argument', () => {
  test('the valid argument lists used below are accepted', () => {
    for (const { fn, args } of WRAPPED) expect(() => W_[fn](...wMaterialize(args))).not.toThrow();
  });

  for (const { fn, label, args } of WRAPPED) {
    args.forEach((a, i) => {
      test(`${fn}: bad '${a.name}'`, () => {
        for (const m of wMutations(label, a)) {
          const values = wMaterialize(args);
          values[i] = m.value;
          try {
            expect(() => W_[fn](...values)).toThrow(m.Kind);
            expect(() => W_[fn](...values)).toThrow(m.re);
          } catch (err) {
            throw new Error(`${fn} with ${a.name} = ${m.what}: ${(err as Error).message}`);
          }
        }
      });
    });

    const gi = args.findIndex((a) => a.kind === 'geom');
    if (gi >= 0) {
      test(`${fn}: bad geometry fields`, () => {
        for (const m of geomMutations(label)) {
          const values = wMaterialize(args);
          (values[gi] as Record<string, unknown>)[m.field] = m.value;
          try {
            expect(() => W_[fn](...values)).toThrow(m.Kind);
            expect(() => W_[fn](...values)).toThrow(m.re);
          } catch (err) {
            throw new Error(`${fn} with ${m.field} = ${m.what}: ${(err as Error).message}`);
          }
        }
      });

      test(`${fn}: a window that does not fit`, () => {
        const values = wMaterialize(args);
        values[gi] = { ...G, FH: G.H + 2 * G.pad + 1 };
        expect(() => W_[fn](...values)).toThrow(new RegExp(`^${label}: a window of ${G.H + 2 * G.pad + 1} with pad 1 does not fit input height 5`));
      });
    }
  }

  test('convBackward: dcol without dx is refused; dx without dcol is fine', () => {
    const args = wMaterialize(WRAPPED.find((w) => w.fn === 'convBackward')!.args);
    const a1 = [...args]; a1[7] = null;
    expect(() => W_.convBackward(...a1)).toThrow(/^convBackward: dcol is only used with dx/);
    const a2 = [...args]; a2[6] = null;
    expect(() => W_.convBackward(...a2)).not.toThrow();
  });

  test('sizes whose product overflows 32 bits', () => {
    const E = () => new Float32Array(0);
    const big = 65536;
    expect(() => K.sgemm(false, false, big, 1, big, 1, E(), E(), 0, E())).toThrow(/^sgemm: A must have 4294967296 elements/);
    expect(() => K.sgemm(true, false, big, 1, big + 1, 1, E(), E(), 0, E())).toThrow(/^sgemm: A of shape \[65537, 65536\] has 4295032832 elements, more than a buffer can hold/);
    expect(() => K.affineForward(E(), E(), E(), E(), big, big, big)).toThrow(RangeError);
    const g = { N: big, C: big, H: 1, W: 1, FH: 1, FW: 1, stride: 1, pad: 0 };
    expect(() => K.im2colInto(E(), E(), g)).toThrow(/^im2col: x must have 4294967296 elements/);
    expect(() => K.convForward(E(), E(), E(), E(), E(), big, g)).toThrow(/^convForward: x must have 4294967296/);
    expect(() => K.maxPoolForward(E(), E(), new Int32Array(0), g)).toThrow(/^maxPoolForward: x must have 4294967296/);
    const g2 = { N: big, C: big, H: big, W: 1, FH: 1, FW: 1, stride: 1, pad: 0 };
    expect(() => K.avgPoolForward(E(), E(), g2)).toThrow(/^avgPoolForward: x of shape \[65536, 65536, 65536, 1\] has .* more than a buffer can hold/);
  });

  test('the process goes on', () => {
    stillWorks();
  });
});
