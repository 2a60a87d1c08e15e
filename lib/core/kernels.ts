// SPDX-License-Identifier: MIT
// Checked wrappers over the native kernels. Every function reads and writes
// the caller's Float32Arrays in place (their own memory, byteOffset honoured:
// a subarray works); outputs are preallocated by the caller. Shapes are
// row-major; images are NCHW.
import { addon, coreDecision } from './native';
import { CoreReason, cpuIsa, narrowCoreWarning, readCpuInfo } from './cpu';
import {
  describe, expectBoolean, expectFloat32, expectInt, expectInt32, expectLength, expectNumber, outExtent,
} from './errors';

type F32 = Float32Array;

/** Geometry of a convolution or pooling window over an (N, C, H, W) input. */
export interface WindowGeometry {
  N: number; C: number; H: number; W: number;
  /** window height and width (filter or pool size) */
  FH: number; FW: number;
  stride: number; pad: number;
}

/** Checks a geometry and returns the output extent (OH, OW). */
export function windowOutput(fn: string, g: WindowGeometry): { OH: number; OW: number } {
  if (typeof g !== 'object' || g === null) {
    throw new TypeError(`${fn}: geometry must be an object { N, C, H, W, FH, FW, stride, pad }`);
  }
  for (const k of ['N', 'C', 'H', 'W', 'FH', 'FW', 'stride'] as const) expectInt(fn, k, g[k], 1);
  expectInt(fn, 'pad', g.pad, 0);
  return {
    OH: outExtent(fn, 'input height', g.H, g.FH, g.stride, g.pad),
    OW: outExtent(fn, 'input width', g.W, g.FW, g.stride, g.pad),
  };
}

/**
 * C = alpha * op(A) * op(B) + beta * C on row-major packed matrices, by OpenBLAS sgemm.
 * op(A) is M x K (A stored K x M when transA); op(B) is K x N (B stored N x K when transB).
 * @example
 *   sgemm(false, false, 2, 2, 3, 1, a, b, 0, c); // c = a b
 */
export function sgemm(transA: boolean, transB: boolean, M: number, N: number, K: number,
  alpha: number, A: F32, B: F32, beta: number, C: F32): void {
  const fn = 'sgemm';
  expectBoolean(fn, 'transA', transA);
  expectBoolean(fn, 'transB', transB);
  expectInt(fn, 'M', M); expectInt(fn, 'N', N); expectInt(fn, 'K', K);
  expectNumber(fn, 'alpha', alpha);
  expectNumber(fn, 'beta', beta);
  expectFloat32(fn, 'A', A); expectFloat32(fn, 'B', B); expectFloat32(fn, 'C', C);
  expectLength(fn, 'A', A, transA ? [K, M] : [M, K]);
  expectLength(fn, 'B', B, transB ? [N, K] : [K, N]);
  expectLength(fn, 'C', C, [M, N]);
  addon.sgemm(transA, transB, M, N, K, alpha, A, B, beta, C);
}

/** out (N, O) = x (N, I) W (I, O) + b (O). */
export function affineForward(x: F32, W: F32, b: F32, out: F32, N: number, I: number, O: number): void {
  const fn = 'affineForward';
  expectInt(fn, 'N', N); expectInt(fn, 'I', I); expectInt(fn, 'O', O);
  expectFloat32(fn, 'x', x); expectFloat32(fn, 'W', W); expectFloat32(fn, 'b', b); expectFloat32(fn, 'out', out);
  expectLength(fn, 'x', x, [N, I]); expectLength(fn, 'W', W, [I, O]);
  expectLength(fn, 'b', b, [O]); expectLength(fn, 'out', out, [N, O]);
  addon.affineForward(x, W, b, out, N, I, O);
}

/** dW = x^T dout, db = column sums of dout, dx = dout W^T (skipped when dx is null). */
export function affineBackward(dout: F32, x: F32, W: F32, dx: F32 | null, dW: F32, db: F32,
  N: number, I: number, O: number): void {
  const fn = 'affineBackward';
  expectInt(fn, 'N', N); expectInt(fn, 'I', I); expectInt(fn, 'O', O);
  expectFloat32(fn, 'dout', dout); expectFloat32(fn, 'x', x); expectFloat32(fn, 'W', W);
  expectFloat32(fn, 'dW', dW); expectFloat32(fn, 'db', db);
  expectLength(fn, 'dout', dout, [N, O]); expectLength(fn, 'x', x, [N, I]); expectLength(fn, 'W', W, [I, O]);
  expectLength(fn, 'dW', dW, [I, O]); expectLength(fn, 'db', db, [O]);
  if (dx !== null) { expectFloat32(fn, 'dx', dx); expectLength(fn, 'dx', dx, [N, I]); }
  addon.affineBackward(dout, x, W, dx, dW, db, N, I, O);
}

/** Y[r, :] += b for a (rows, cols) Y. */
export function addRowVector(Y: F32, b: F32, rows: number, cols: number): void {
  const fn = 'addRowVector';
  expectInt(fn, 'rows', rows); expectInt(fn, 'cols', cols);
  expectFloat32(fn, 'Y', Y); expectFloat32(fn, 'b', b);
  expectLength(fn, 'Y', Y, [rows, cols]); expectLength(fn, 'b', b, [cols]);
  addon.addRowVector(Y, b, rows, cols);
}

/** out[c] = sum over r of X[r, c]. */
export function columnSums(X: F32, rows: number, cols: number, out: F32): void {
  const fn = 'columnSums';
  expectInt(fn, 'rows', rows); expectInt(fn, 'cols', cols);
  expectFloat32(fn, 'X', X); expectFloat32(fn, 'out', out);
  expectLength(fn, 'X', X, [rows, cols]); expectLength(fn, 'out', out, [cols]);
  addon.columnSums(X, rows, cols, out);
}

/** x (N,C,H,W) -> col (N*OH*OW, C*FH*FW) in the course's order (rows n,oh,ow; columns c,fh,fw). */
export function im2colInto(x: F32, col: F32, g: WindowGeometry): void {
  const fn = 'im2col';
  const { OH, OW } = windowOutput(fn, g);
  expectFloat32(fn, 'x', x); expectFloat32(fn, 'col', col);
  expectLength(fn, 'x', x, [g.N, g.C, g.H, g.W]);
  expectLength(fn, 'col', col, [g.N * OH * OW, g.C * g.FH * g.FW]);
  addon.im2col(x, col, g.N, g.C, g.H, g.W, g.FH, g.FW, g.stride, g.pad);
}

/** The adjoint of im2col: dx (N,C,H,W) = sum of col's entries over their windows (overwrites dx). */
export function col2imInto(col: F32, dx: F32, g: WindowGeometry): void {
  const fn = 'col2im';
  const { OH, OW } = windowOutput(fn, g);
  expectFloat32(fn, 'col', col); expectFloat32(fn, 'dx', dx);
  expectLength(fn, 'col', col, [g.N * OH * OW, g.C * g.FH * g.FW]);
  expectLength(fn, 'dx', dx, [g.N, g.C, g.H, g.W]);
  addon.col2im(col, dx, g.N, g.C, g.H, g.W, g.FH, g.FW, g.stride, g.pad);
}

/**
 * Convolution forward: x (N,C,H,W), W (FN,C,FH,FW), b (FN) -> out (N,FN,OH,OW).
 * col (N*OH*OW, C*FH*FW), when given, receives im2col(x) for a backward pass from col; with
 * col null each sample's columns stay in a per-thread scratch (less memory traffic).
 * relu = true applies max(0, .) to out as it is made (a Relu fused into the convolution).
 */
export function convForward(x: F32, W: F32, b: F32, col: F32 | null, out: F32, FN: number, g: WindowGeometry,
  relu = false): void {
  const fn = 'convForward';
  const { OH, OW } = windowOutput(fn, g);
  expectInt(fn, 'FN', FN);
  expectFloat32(fn, 'x', x); expectFloat32(fn, 'W', W); expectFloat32(fn, 'b', b);
  expectFloat32(fn, 'out', out);
  expectLength(fn, 'x', x, [g.N, g.C, g.H, g.W]);
  expectLength(fn, 'W', W, [FN, g.C, g.FH, g.FW]);
  expectLength(fn, 'b', b, [FN]);
  if (col !== null) {
    expectFloat32(fn, 'col', col);
    expectLength(fn, 'col', col, [g.N * OH * OW, g.C * g.FH * g.FW]);
  }
  expectLength(fn, 'out', out, [g.N, FN, OH, OW]);
  expectBoolean(fn, 'relu', relu);
  addon.convForward(x, W, b, col, out, FN, g.N, g.C, g.H, g.W, g.FH, g.FW, g.stride, g.pad, relu);
}

/**
 * Convolution backward from dout (N,FN,OH,OW) and either the forward pass's col or its input
 * x (with col null the columns are recomputed per sample): dW (FN,C,FH,FW), db (FN) and, when
 * dx is given, dx (N,C,H,W) through dcol = dout^T W and col2im. dcol (same shape as col)
 * receives those columns when given; with dcol null a per-thread scratch is used. reluOut, the
 * output of a forward pass with relu = true, makes dout count as zero where it is <= 0.
 */
export function convBackward(dout: F32, x: F32 | null, col: F32 | null, W: F32, dW: F32, db: F32,
  dcol: F32 | null, dx: F32 | null, FN: number, g: WindowGeometry, reluOut: F32 | null = null): void {
  const fn = 'convBackward';
  const { OH, OW } = windowOutput(fn, g);
  expectInt(fn, 'FN', FN);
  expectFloat32(fn, 'dout', dout); expectFloat32(fn, 'W', W);
  expectFloat32(fn, 'dW', dW); expectFloat32(fn, 'db', db);
  expectLength(fn, 'dout', dout, [g.N, FN, OH, OW]);
  if (x === null && col === null) throw new TypeError(`${fn}: one of x and col must be a Float32Array, got null for both`);
  if (x !== null) { expectFloat32(fn, 'x', x); expectLength(fn, 'x', x, [g.N, g.C, g.H, g.W]); }
  if (col !== null) { expectFloat32(fn, 'col', col); expectLength(fn, 'col', col, [g.N * OH * OW, g.C * g.FH * g.FW]); }
  expectLength(fn, 'W', W, [FN, g.C, g.FH, g.FW]);
  expectLength(fn, 'dW', dW, [FN, g.C, g.FH, g.FW]);
  expectLength(fn, 'db', db, [FN]);
  if (dcol !== null && dx === null) {
    throw new TypeError(`${fn}: dcol is only used with dx: pass dx too, or null for both`);
  }
  if (dx !== null) { expectFloat32(fn, 'dx', dx); expectLength(fn, 'dx', dx, [g.N, g.C, g.H, g.W]); }
  if (dcol !== null) {
    expectFloat32(fn, 'dcol', dcol);
    expectLength(fn, 'dcol', dcol, [g.N * OH * OW, g.C * g.FH * g.FW]);
  }
  if (reluOut !== null) { expectFloat32(fn, 'reluOut', reluOut); expectLength(fn, 'reluOut', reluOut, [g.N, FN, OH, OW]); }
  addon.convBackward(dout, x, col, W, dW, db, dcol, dx, FN, g.N, g.C, g.H, g.W, g.FH, g.FW, g.stride, g.pad, reluOut);
}

/** A max pooling fused after a convolution: its window, stride and pad. */
export interface PoolWindow { PH: number; PW: number; stride: number; pad: number }

/** The pooling geometry over the convolution output (N, FN, OH, OW), and the pooled extent. */
export function fusedPoolOutput(fn: string, g: WindowGeometry, FN: number, pool: PoolWindow):
  WindowGeometry & { OH: number; OW: number } {
  const conv = windowOutput(fn, g);
  if (pool === null || typeof pool !== 'object') {
    throw new TypeError(`${fn}: pool must be an object { PH, PW, stride, pad }, got ${describe(pool)}`);
  }
  for (const key of ['PH', 'PW', 'stride'] as const) expectInt(fn, `pool.${key}`, pool[key], 1);
  expectInt(fn, 'pool.pad', pool.pad, 0);
  return {
    N: g.N, C: FN, H: conv.OH, W: conv.OW, FH: pool.PH, FW: pool.PW, stride: pool.stride, pad: pool.pad,
    OH: outExtent(fn, 'convolution output height', conv.OH, pool.PH, pool.stride, pool.pad),
    OW: outExtent(fn, 'convolution output width', conv.OW, pool.PW, pool.stride, pool.pad),
  };
}

/**
 * Convolution, optional Relu and max pooling in one call: x (N,C,H,W), W (FN,C,FH,FW), b (FN)
 * -> pooled (N,FN,POH,POW) and argmax (plane indices into the (OH,OW) convolution output, as
 * maxPoolForward). Each sample's convolution output stays in a per-thread scratch; the
 * results equal convForward followed by maxPoolForward bit for bit.
 */
export function convPoolForward(x: F32, W: F32, b: F32, pooled: F32, argmax: Int32Array, FN: number,
  g: WindowGeometry, pool: PoolWindow, relu = false): void {
  const fn = 'convPoolForward';
  expectInt(fn, 'FN', FN);
  const pg = fusedPoolOutput(fn, g, FN, pool);
  expectFloat32(fn, 'x', x); expectFloat32(fn, 'W', W); expectFloat32(fn, 'b', b);
  expectFloat32(fn, 'pooled', pooled); expectInt32(fn, 'argmax', argmax);
  expectLength(fn, 'x', x, [g.N, g.C, g.H, g.W]);
  expectLength(fn, 'W', W, [FN, g.C, g.FH, g.FW]);
  expectLength(fn, 'b', b, [FN]);
  expectLength(fn, 'pooled', pooled, [g.N, FN, pg.OH, pg.OW]);
  expectLength(fn, 'argmax', argmax, [g.N, FN, pg.OH, pg.OW]);
  expectBoolean(fn, 'relu', relu);
  addon.convPoolForward(x, W, b, pooled, argmax, FN, g.N, g.C, g.H, g.W, g.FH, g.FW, g.stride, g.pad,
    pool.PH, pool.PW, pool.stride, pool.pad, relu);
}

/**
 * Backward of convPoolForward from dpooled (N,FN,POH,POW): dW, db and, when dx is given, dx.
 * pooled, the forward's output, must be given when the forward had relu = true (the Relu's
 * backward then drops the gradient where it is <= 0) and null otherwise.
 */
export function convPoolBackward(dpooled: F32, x: F32, W: F32, dW: F32, db: F32, dx: F32 | null,
  pooled: F32 | null, argmax: Int32Array, FN: number, g: WindowGeometry, pool: PoolWindow): void {
  const fn = 'convPoolBackward';
  expectInt(fn, 'FN', FN);
  const pg = fusedPoolOutput(fn, g, FN, pool);
  expectFloat32(fn, 'dpooled', dpooled); expectFloat32(fn, 'x', x); expectFloat32(fn, 'W', W);
  expectFloat32(fn, 'dW', dW); expectFloat32(fn, 'db', db); expectInt32(fn, 'argmax', argmax);
  expectLength(fn, 'dpooled', dpooled, [g.N, FN, pg.OH, pg.OW]);
  expectLength(fn, 'x', x, [g.N, g.C, g.H, g.W]);
  expectLength(fn, 'W', W, [FN, g.C, g.FH, g.FW]);
  expectLength(fn, 'dW', dW, [FN, g.C, g.FH, g.FW]);
  expectLength(fn, 'db', db, [FN]);
  if (dx !== null) { expectFloat32(fn, 'dx', dx); expectLength(fn, 'dx', dx, [g.N, g.C, g.H, g.W]); }
  if (pooled !== null) { expectFloat32(fn, 'pooled', pooled); expectLength(fn, 'pooled', pooled, [g.N, FN, pg.OH, pg.OW]); }
  expectLength(fn, 'argmax', argmax, [g.N, FN, pg.OH, pg.OW]);
  addon.convPoolBackward(dpooled, x, W, dW, db, dx, pooled, argmax, FN, g.N, g.C, g.H, g.W, g.FH, g.FW,
    g.stride, g.pad, pool.PH, pool.PW, pool.stride, pool.pad);
}

/**
 * Max pooling: x (N,C,H,W) -> out (N,C,OH,OW); argmax keeps, per output, the index h*W+w of
 * the winning input in its plane (-1 when a padded zero won). The first maximum wins.
 */
export function maxPoolForward(x: F32, out: F32, argmax: Int32Array, g: WindowGeometry): void {
  const fn = 'maxPoolForward';
  const { OH, OW } = windowOutput(fn, g);
  expectFloat32(fn, 'x', x); expectFloat32(fn, 'out', out); expectInt32(fn, 'argmax', argmax);
  expectLength(fn, 'x', x, [g.N, g.C, g.H, g.W]);
  expectLength(fn, 'out', out, [g.N, g.C, OH, OW]);
  expectLength(fn, 'argmax', argmax, [g.N, g.C, OH, OW]);
  addon.maxPoolForward(x, out, argmax, g.N, g.C, g.H, g.W, g.FH, g.FW, g.stride, g.pad);
}

/** dx (N,C,H,W) = dout routed to the argmax positions (overwrites dx). */
export function maxPoolBackward(dout: F32, argmax: Int32Array, dx: F32, g: WindowGeometry): void {
  const fn = 'maxPoolBackward';
  const { OH, OW } = windowOutput(fn, g);
  expectFloat32(fn, 'dout', dout); expectInt32(fn, 'argmax', argmax); expectFloat32(fn, 'dx', dx);
  expectLength(fn, 'dout', dout, [g.N, g.C, OH, OW]);
  expectLength(fn, 'argmax', argmax, [g.N, g.C, OH, OW]);
  expectLength(fn, 'dx', dx, [g.N, g.C, g.H, g.W]);
  addon.maxPoolBackward(dout, argmax, dx, g.N, g.C, g.H, g.W, g.FH, g.FW, g.stride, g.pad);
}

/** Average pooling (padded zeros count in the mean, as the course's im2col gives them). */
export function avgPoolForward(x: F32, out: F32, g: WindowGeometry): void {
  const fn = 'avgPoolForward';
  const { OH, OW } = windowOutput(fn, g);
  expectFloat32(fn, 'x', x); expectFloat32(fn, 'out', out);
  expectLength(fn, 'x', x, [g.N, g.C, g.H, g.W]);
  expectLength(fn, 'out', out, [g.N, g.C, OH, OW]);
  addon.avgPoolForward(x, out, g.N, g.C, g.H, g.W, g.FH, g.FW, g.stride, g.pad);
}

export function avgPoolBackward(dout: F32, dx: F32, g: WindowGeometry): void {
  const fn = 'avgPoolBackward';
  const { OH, OW } = windowOutput(fn, g);
  expectFloat32(fn, 'dout', dout); expectFloat32(fn, 'dx', dx);
  expectLength(fn, 'dout', dout, [g.N, g.C, OH, OW]);
  expectLength(fn, 'dx', dx, [g.N, g.C, g.H, g.W]);
  addon.avgPoolBackward(dout, dx, g.N, g.C, g.H, g.W, g.FH, g.FW, g.stride, g.pad);
}

function sameLength(fn: string, names: string[], arrays: F32[]): void {
  arrays.forEach((a, i) => expectFloat32(fn, names[i], a));
  for (let i = 1; i < arrays.length; i++) {
    if (arrays[i].length !== arrays[0].length) {
      throw new RangeError(`${fn}: ${names[i]} must have ${arrays[0].length} elements like ${names[0]}, got ${arrays[i].length}`);
    }
  }
}

/** out = max(0, x), element-wise. */
export function reluForward(x: F32, out: F32): void {
  sameLength('reluForward', ['x', 'out'], [x, out]);
  addon.reluForward(x, out);
}

/** dx = dout where x > 0, else 0. */
export function reluBackward(x: F32, dout: F32, dx: F32): void {
  sameLength('reluBackward', ['x', 'dout', 'dx'], [x, dout, dx]);
  addon.reluBackward(x, dout, dx);
}

/** out = 1 / (1 + exp(-x)), element-wise (exp in double). */
export function sigmoidForward(x: F32, out: F32): void {
  sameLength('sigmoidForward', ['x', 'out'], [x, out]);
  addon.sigmoidForward(x, out);
}

/** dx = dout * (1 - out) * out, from the forward output. */
export function sigmoidBackward(out: F32, dout: F32, dx: F32): void {
  sameLength('sigmoidBackward', ['out', 'dout', 'dx'], [out, dout, dx]);
  addon.sigmoidBackward(out, dout, dx);
}

/** out = tanh(x), element-wise. */
export function tanhForward(x: F32, out: F32): void {
  sameLength('tanhForward', ['x', 'out'], [x, out]);
  addon.tanhForward(x, out);
}

/** dx = dout * (1 - out^2), from the forward output. */
export function tanhBackward(out: F32, dout: F32, dx: F32): void {
  sameLength('tanhBackward', ['out', 'dout', 'dx'], [out, dout, dx]);
  addon.tanhBackward(out, dout, dx);
}

/**
 * Batch normalisation of x (N, D) over its rows, the course's formulas (see
 * native/batchnorm.h): keeps xc, xn and std for backward, updates the running statistics
 * when training, writes out = gamma * xn + beta.
 */
export function batchNormForward(x: F32, gamma: F32, beta: F32, runMean: F32, runVar: F32, xc: F32,
  xn: F32, std: F32, out: F32, N: number, D: number, momentum: number, eps: number, train: boolean): void {
  const fn = 'batchNormForward';
  expectInt(fn, 'N', N); expectInt(fn, 'D', D);
  expectNumber(fn, 'momentum', momentum, { min: 0, max: 1 });
  expectNumber(fn, 'eps', eps, { min: 0, minExclusive: true });
  expectBoolean(fn, 'train', train);
  const rows: Array<[string, F32]> = [['x', x], ['xc', xc], ['xn', xn], ['out', out]];
  const feats: Array<[string, F32]> = [['gamma', gamma], ['beta', beta], ['runMean', runMean], ['runVar', runVar], ['std', std]];
  for (const [name, a] of rows) { expectFloat32(fn, name, a); expectLength(fn, name, a, [N, D]); }
  for (const [name, a] of feats) { expectFloat32(fn, name, a); expectLength(fn, name, a, [D]); }
  addon.batchNormForward(x, gamma, beta, runMean, runVar, xc, xn, std, out, N, D, momentum, eps, train);
}

/** Batch-normalisation backward: dgamma, dbeta and dx from dout and the forward's xc, xn, std. */
export function batchNormBackward(dout: F32, gamma: F32, xc: F32, xn: F32, std: F32, dgamma: F32,
  dbeta: F32, dx: F32, N: number, D: number, train: boolean): void {
  const fn = 'batchNormBackward';
  expectInt(fn, 'N', N); expectInt(fn, 'D', D);
  expectBoolean(fn, 'train', train);
  const rows: Array<[string, F32]> = [['dout', dout], ['xc', xc], ['xn', xn], ['dx', dx]];
  const feats: Array<[string, F32]> = [['gamma', gamma], ['std', std], ['dgamma', dgamma], ['dbeta', dbeta]];
  for (const [name, a] of rows) { expectFloat32(fn, name, a); expectLength(fn, name, a, [N, D]); }
  for (const [name, a] of feats) { expectFloat32(fn, name, a); expectLength(fn, name, a, [D]); }
  addon.batchNormBackward(dout, gamma, xc, xn, std, dgamma, dbeta, dx, N, D, train);
}

/**
 * out = x * mask with mask[i] = keep when a uniform draw exceeds ratio, else 0. The draws
 * come from a generator seeded by (seedHigh, seedLow), integers in [0, 2^31).
 */
export function dropoutForward(x: F32, out: F32, mask: F32, ratio: number, keep: number,
  seedHigh: number, seedLow: number): void {
  const fn = 'dropoutForward';
  sameLength(fn, ['x', 'out', 'mask'], [x, out, mask]);
  expectNumber(fn, 'ratio', ratio, { min: 0, max: 1, maxExclusive: true });
  expectNumber(fn, 'keep', keep);
  expectInt(fn, 'seedHigh', seedHigh, 0); expectInt(fn, 'seedLow', seedLow, 0);
  addon.dropoutForward(x, out, mask, ratio, keep, seedHigh, seedLow);
}

/** out = a * b, element-wise (out may be a or b itself, not a view overlapping either otherwise). */
export function multiply(a: F32, b: F32, out: F32): void {
  sameLength('multiply', ['a', 'b', 'out'], [a, b, out]);
  addon.multiply(a, b, out);
}

/** out = x * s, element-wise (out may be x itself, not a view overlapping it otherwise). */
export function scale(x: F32, out: F32, s: number): void {
  sameLength('scale', ['x', 'out'], [x, out]);
  expectNumber('scale', 's', s);
  addon.scale(x, out, s);
}

/** Optimizer kinds of optimizerStep, in the native kernel's numbering. */
export const OptimizerKind = { sgd: 0, momentum: 1, nesterov: 2, adagrad: 3, rmsprop: 4, adam: 5 } as const;

// What h0..h3 mean per kind and the ranges the optimizer classes enforce: a negative rate
// climbs the loss, a decay of 1 or more never forgets, eps 0 makes a zero gradient 0/0 = NaN.
const HYPER_RANGES = {
  rate: { min: 0 },
  decay: { min: 0, max: 1, maxExclusive: true },
  eps: { min: 0, minExclusive: true },
} as const;
const HYPER_ROLES: ReadonlyArray<ReadonlyArray<readonly [string, keyof typeof HYPER_RANGES]>> = [
  [['learning rate', 'rate']],
  [['learning rate', 'rate'], ['momentum', 'decay']],
  [['learning rate', 'rate'], ['momentum', 'decay']],
  [['learning rate', 'rate'], ['eps', 'eps']],
  [['learning rate', 'rate'], ['decay rate', 'decay'], ['eps', 'eps']],
  [['step size lr_t', 'rate'], ['beta1', 'decay'], ['beta2', 'decay'], ['eps', 'eps']],
];

/**
 * One optimizer step on one parameter array, in place, with the course's formulas (see
 * native/elementwise.h for the order of the hyperparameters h0..h3 and slots s1, s2); rates
 * must be >= 0, momentum/decay/beta in [0, 1), eps > 0.
 */
export function optimizerStep(kind: number, p: F32, g: F32, s1: F32 | null, s2: F32 | null,
  h0: number, h1 = 0, h2 = 0, h3 = 0): void {
  const fn = 'optimizerStep';
  expectInt(fn, 'kind', kind, 0);
  if (kind > 5) throw new RangeError(`${fn}: kind must be 0..5 (see OptimizerKind), got the number ${kind}`);
  sameLength(fn, ['p', 'g'], [p, g]);
  if (s1 !== null) sameLength(fn, ['p', 's1'], [p, s1]);
  if (s2 !== null) sameLength(fn, ['p', 's2'], [p, s2]);
  [h0, h1, h2, h3].forEach((h, i) => {
    const role = HYPER_ROLES[kind][i];
    expectNumber(fn, role ? `h${i} (${role[0]})` : `h${i}`, h, role ? HYPER_RANGES[role[1]] : {});
  });
  addon.optimizerStep(kind, p, g, s1, s2, h0, h1, h2, h3);
}

/**
 * Sets how many threads blasnet uses (1 to 256): large gemms are split over them, and so are
 * the batch loops of convolution, pooling and the element-wise kernels. OpenBLAS itself stays
 * at one thread, so that two thread pools never compete for the cores.
 */
export function setNumThreads(n: number): void {
  expectInt('setNumThreads', 'n', n, 1);
  if (n > 256) throw new RangeError(`setNumThreads: n must be at most 256, got the number ${n}`);
  addon.setNumThreads(n);
}

/** The thread count blasnet uses (setNumThreads). */
export function getNumThreads(): number {
  return addon.getNumThreads();
}

export interface BlasInfo {
  /** always 'OpenBLAS' */
  library: string;
  /** OpenBLAS version number, e.g. '0.3.21' */
  version: string;
  /** OpenBLAS's own configuration string */
  config: string;
  /** the CPU kernels OpenBLAS runs, e.g. 'Zen', 'Haswell' or 'SkylakeX' */
  corename: string;
  /**
   * why those: 'detected' (OpenBLAS's own choice), 'chosen by blasnet from the CPU flags'
   * (OpenBLAS would have fallen back to generic kernels on this CPU) or 'set by OPENBLAS_CORETYPE'
   */
  coreReason: CoreReason;
  /** one line on the decision, e.g. why blasnet chose the core */
  coreNote: string;
  /** the CPU model name, and the widest instruction set its flags allow */
  cpu: { model: string; isa: 'avx512' | 'avx2' | 'generic' };
  /** threads blasnet uses: large gemms and the batch loops are split over them */
  numThreads: number;
  /** OpenBLAS's own thread count: 1, blasnet splits the work itself */
  openblasThreads: number;
  /** OpenBLAS threading model: 'sequential', 'pthreads' or 'openmp' */
  threading: string;
}

/** What BLAS blasnet runs on: library, version, configuration, threads and CPU kernel. */
export function blasInfo(): BlasInfo {
  const raw = addon.blasInfo();
  const m = /OpenBLAS\s+([0-9][0-9.]*\S*)/.exec(raw.config);
  const cpu = readCpuInfo();
  return {
    library: raw.library,
    version: m ? m[1] : 'unknown',
    config: raw.config,
    corename: raw.corename,
    coreReason: coreDecision.reason,
    coreNote: coreDecision.note,
    cpu: { model: cpu?.modelName ?? 'unknown', isa: cpuIsa(cpu) },
    numThreads: raw.numThreads,
    openblasThreads: raw.openblasThreads,
    threading: ['sequential', 'pthreads', 'openmp'][raw.parallel] ?? `unknown (${raw.parallel})`,
  };
}

// Said once per process when OpenBLAS runs kernels narrower than the CPU allows and nobody
// chose them (a CPU whose model this check does not predict): the fix is one variable.
if (process.env.BLASNET_OPENBLAS_CORE !== 'off') {
  const warning = narrowCoreWarning(coreDecision, addon.blasInfo().corename);
  if (warning !== null) process.emitWarning(warning, { code: 'BLASNET_OPENBLAS_CORE' });
}
