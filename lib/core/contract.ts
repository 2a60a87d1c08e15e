// SPDX-License-Identifier: MIT
// The native boundary, declared once: every entry point of the addon, its arguments in order
// and the rules they must meet. scripts/gen-native.js turns this table into
//   native/generated/contract.h  the argument struct each C++ binding receives (no Node types)
//   native/generated/readers.h   the reading and memory-safety checks of every argument (N-API)
//   lib/core/native-api.ts       the typed, documented functions of `kernels`
// and test/native-contract.test.ts derives its bad-input cases from it. After an edit run
// `npm run gen:native`; test/native-contract.test.ts fails while the generated files are stale.
//
// The rules the generated C++ enforces (memory safety; every refusal is a TypeError or
// RangeError naming the function and the argument):
// - f32 / i32: a Float32Array / Int32Array of exactly the product of `dims` elements (the
//   product checked for overflow); a `nullable` one may be null (the kernel then skips that
//   output). A dim is an integer argument, a geometry field or derived extent, or else a free
//   dim, bound by the first buffer that has it as its only dim (the element-wise kernels' n).
// - A `written` buffer shares no memory with any other buffer argument, except the ones named
//   in its `sameOrDisjoint`, which it may also be exactly (same view: in-place use).
// - int: an integer in [min, max]; num: any number (a double); bool: a boolean.
// - geometry: an object with the integer fields of its type; each derived extent must be at
//   least 1 (the window fits) and each product in `int32` below 2^31 (32-bit BLAS sizes and
//   int32 plane indices).
// What is policy rather than memory safety (learning rates > 0, momentum in [0, 1), shapes
// of consecutive layers that fit) is not declared here: the layers and the optimizers check
// it, once, in TypeScript.

/** A buffer argument. */
export interface BufferArg {
  kind: 'f32' | 'i32';
  name: string;
  /** Its length is the product of these dims. */
  dims: readonly string[];
  /** null is accepted (an output the caller does not want). */
  nullable?: boolean;
  /** The kernel writes it. */
  written?: boolean;
  /** Buffers it may also be exactly (the same view), for in-place use. */
  sameOrDisjoint?: readonly string[];
  doc?: string;
}

export interface IntArg { kind: 'int'; name: string; min: number; max?: number; example: number; doc?: string }
export interface NumArg { kind: 'num'; name: string; example: number; doc?: string }
export interface BoolArg { kind: 'bool'; name: string; example: boolean; doc?: string }
export interface GeometryArg { kind: 'geometry'; name: string; type: GeometryName; doc?: string }
export type Arg = BufferArg | IntArg | NumArg | BoolArg | GeometryArg;

/** An integer field of a geometry object: its range and the value tests start from. */
export interface FieldSpec { min: number; max?: number; example: number; doc: string }

export interface GeometrySpec {
  doc: string;
  fields: Readonly<Record<string, FieldSpec>>;
  /** Output extents: name -> [input extent, window, stride, pad], (in + 2 pad - window) / stride + 1. */
  windows: Readonly<Record<string, readonly [string, string, string, string]>>;
  /** Products that must stay below 2^31. */
  int32: ReadonlyArray<readonly string[]>;
}

export interface EntrySpec {
  /** The native file whose Run(...) implements it, e.g. 'conv' for native/conv.cc. */
  file: string;
  doc: string;
  args: readonly Arg[];
  /** What the call returns (undefined when absent). */
  returns?: 'int' | ResultName;
}

/** Above this many bytes a kernel's scratch is refused (RangeError) rather than allocated. */
export const SCRATCH_CAP_BYTES = 1024 * 1024 * 1024;
/** Per-thread scratch beyond this many bytes is freed when the call that grew it returns. */
export const SCRATCH_KEEP_BYTES = 64 * 1024 * 1024;
/** The most threads setNumThreads accepts. */
export const MAX_THREADS = 64;

/** Constants the C++ side uses too (written into native/generated/contract.h). */
export const CONSTANTS = {
  kScratchCapBytes: SCRATCH_CAP_BYTES,
  kScratchKeepBytes: SCRATCH_KEEP_BYTES,
  kMaxThreads: MAX_THREADS,
} as const;

const INT32_MAX = 2147483647;

const WINDOW_FIELDS = {
  N: { min: 1, example: 2, doc: 'batch size' },
  C: { min: 1, example: 3, doc: 'input channels' },
  H: { min: 1, example: 5, doc: 'input height' },
  W: { min: 1, example: 4, doc: 'input width' },
  FH: { min: 1, example: 3, doc: 'window (filter or pool) height' },
  FW: { min: 1, example: 1, doc: 'window (filter or pool) width' },
  stride: { min: 1, example: 2, doc: 'stride' },
  pad: { min: 0, example: 1, doc: 'zero padding on every side' },
} as const;
const WINDOW_EXTENTS = { OH: ['H', 'FH', 'stride', 'pad'], OW: ['W', 'FW', 'stride', 'pad'] } as const;
const WINDOW_INT32 = [['H', 'W'], ['C', 'FH', 'FW'], ['OH', 'OW']] as const;
const CONV_FIELDS = {
  ...WINDOW_FIELDS,
  FN: { min: 1, example: 2, doc: 'filters (output channels)' },
} as const;

export const GEOMETRIES = {
  WindowGeometry: {
    doc: 'A sliding window (a convolution filter or a pooling window) over an (N, C, H, W) input; the output is (OH, OW) per plane.',
    fields: WINDOW_FIELDS,
    windows: WINDOW_EXTENTS,
    int32: WINDOW_INT32,
  },
  ConvGeometry: {
    doc: 'A convolution of an (N, C, H, W) input with FN filters of C x FH x FW; the output is (N, FN, OH, OW).',
    fields: CONV_FIELDS,
    windows: WINDOW_EXTENTS,
    int32: WINDOW_INT32,
  },
  ConvPoolGeometry: {
    doc: 'A convolution (as ConvGeometry) followed by a max pooling PH x PW over each (OH, OW) output plane; the pooled output is (N, FN, POH, POW).',
    fields: {
      ...CONV_FIELDS,
      PH: { min: 1, example: 2, doc: 'pool window height' },
      PW: { min: 1, example: 2, doc: 'pool window width' },
      poolStride: { min: 1, example: 1, doc: 'pool stride' },
      poolPad: { min: 0, example: 0, doc: 'pool zero padding' },
    },
    windows: { ...WINDOW_EXTENTS, POH: ['OH', 'PH', 'poolStride', 'poolPad'], POW: ['OW', 'PW', 'poolStride', 'poolPad'] },
    int32: WINDOW_INT32,
  },
} as const satisfies Record<string, GeometrySpec>;
export type GeometryName = keyof typeof GEOMETRIES;

/** Objects an entry point returns: field name -> 'string' | 'int'. */
export const RESULTS = {
  BlasConfig: {
    config: 'string',
    corename: 'string',
    openblasThreads: 'int',
    parallel: 'int',
  },
  IsaInfo: {
    isa: 'string',
    cpu: 'string',
    reason: 'string',
  },
  ThreadInfo: {
    mode: 'string',
    most: 'int',
    inUse: 'int',
  },
} as const satisfies Record<string, Record<string, 'string' | 'int'>>;
export type ResultName = keyof typeof RESULTS;

// Short constructors, so that each entry reads as its signature.
const dimsOf = (d: string): string[] => d.split(' ').filter(Boolean);
const f32 = (name: string, dims: string, more: Partial<BufferArg> = {}): BufferArg =>
  ({ kind: 'f32', name, dims: dimsOf(dims), ...more });
const out = (name: string, dims: string, more: Partial<BufferArg> = {}): BufferArg =>
  f32(name, dims, { written: true, ...more });
const i32 = (name: string, dims: string, more: Partial<BufferArg> = {}): BufferArg =>
  ({ kind: 'i32', name, dims: dimsOf(dims), ...more });
const int = (name: string, example: number, min = 1, max = INT32_MAX, doc?: string): IntArg =>
  ({ kind: 'int', name, min, max, example, doc });
const num = (name: string, example: number, doc?: string): NumArg => ({ kind: 'num', name, example, doc });
const bool = (name: string, example: boolean, doc?: string): BoolArg => ({ kind: 'bool', name, example, doc });
const geometry = (type: GeometryName, name = 'g'): GeometryArg => ({ kind: 'geometry', name, type });

// The convolution algorithm argument of the convolution entry points (native/conv.h).
const ALGORITHM = int('algorithm', 0, 0, 3, 'the convolution algorithm: 0 auto (Winograd F(2x2,3x3) for 3x3 stride-1 windows with pad <= 2 and C, FN multiples of 8, at the avx2 and avx512 levels, and at the generic level from C·FN >= 4096; the direct kernels for stride-1 windows of at most 32 taps C·FH·FW at the avx2 level, and at the avx512 level in forward; im2col + sgemm otherwise), 1 im2col + sgemm, 2 Winograd, 3 direct (2 and 3 a RangeError where they do not apply)');

// The dims of a convolution's tensors.
const X = 'N C H W', WEIGHTS = 'FN C FH FW', CONV_OUT = 'N FN OH OW', POOLED = 'N FN POH POW';

export const ENTRIES = {
  // ---- native/gemm.cc: dense kernels ----
  sgemm: {
    file: 'gemm',
    doc: 'C = alpha·op(A)·op(B) + beta·C on row-major packed matrices (OpenBLAS sgemm; small products on blasnet\'s own AVX2 kernel where OpenBLAS has no small-matrix kernels): op(A) is M x K (A stored K x M when transA), op(B) is K x N (B stored N x K when transB).',
    args: [bool('transA', false), bool('transB', true), int('M', 3), int('N', 4), int('K', 5), num('alpha', 1),
      f32('A', 'M K'), f32('B', 'K N'), num('beta', 0), out('C', 'M N')],
  },
  affineForward: {
    file: 'gemm',
    doc: 'out (N, O) = x (N, I) · W (I, O) + b (O).',
    args: [f32('x', 'N I'), f32('W', 'I O'), f32('b', 'O'), out('out', 'N O'), int('N', 4), int('I', 3), int('O', 5)],
  },
  affineBackward: {
    file: 'gemm',
    doc: 'dW = xᵀ·dout, db = column sums of dout, dx = dout·Wᵀ (skipped when dx is null).',
    args: [f32('dout', 'N O'), f32('x', 'N I'), f32('W', 'I O'), out('dx', 'N I', { nullable: true }), out('dW', 'I O'),
      out('db', 'O'), int('N', 4), int('I', 3), int('O', 5)],
  },
  affineReluForward: {
    file: 'gemm',
    doc: 'out (N, O) = max(0, x · W + b): affineForward with the Relu applied to each slice of rows while it is in cache; equal bit for bit to affineForward then reluForward.',
    args: [f32('x', 'N I'), f32('W', 'I O'), f32('b', 'O'), out('out', 'N O'), int('N', 4), int('I', 3), int('O', 5)],
  },
  affineReluBackward: {
    file: 'gemm',
    doc: 'Backward of affineReluForward: dout counts as zero where out (its output) is <= 0; then as affineBackward. Equal bit for bit to reluBackward then affineBackward.',
    args: [f32('dout', 'N O'), f32('x', 'N I'), f32('W', 'I O'), f32('out', 'N O'), out('dx', 'N I', { nullable: true }),
      out('dW', 'I O'), out('db', 'O'), int('N', 4), int('I', 3), int('O', 5)],
  },
  affineSigmoidForward: {
    file: 'gemm',
    doc: 'out (N, O) = 1 / (1 + exp(-(x · W + b))): affineForward with the Sigmoid applied to each slice of rows while it is in cache; equal bit for bit to affineForward then sigmoidForward.',
    args: [f32('x', 'N I'), f32('W', 'I O'), f32('b', 'O'), out('out', 'N O'), int('N', 4), int('I', 3), int('O', 5)],
  },
  affineSigmoidBackward: {
    file: 'gemm',
    doc: 'Backward of affineSigmoidForward: dout·(1 - out)·out (out its output), then as affineBackward. Equal bit for bit to sigmoidBackward then affineBackward.',
    args: [f32('dout', 'N O'), f32('x', 'N I'), f32('W', 'I O'), f32('out', 'N O'), out('dx', 'N I', { nullable: true }),
      out('dW', 'I O'), out('db', 'O'), int('N', 4), int('I', 3), int('O', 5)],
  },
  addRowVector: {
    file: 'gemm',
    doc: 'Y[r, :] += b for a (rows, cols) Y.',
    args: [out('Y', 'rows cols'), f32('b', 'cols'), int('rows', 3), int('cols', 4)],
  },
  columnSums: {
    file: 'gemm',
    doc: 'out[c] = sum over r of X[r, c].',
    args: [f32('X', 'rows cols'), int('rows', 3), int('cols', 4), out('out', 'cols')],
  },
  openblasConfig: {
    file: 'gemm',
    doc: 'OpenBLAS\'s configuration string, CPU kernel, own thread count and threading model (0 sequential, 1 pthreads, 2 OpenMP); see blasInfo().',
    args: [],
    returns: 'BlasConfig',
  },

  // ---- native/im2col.cc: the course's im2col layout ----
  im2col: {
    file: 'im2col',
    doc: 'x (N, C, H, W) -> col (N·OH·OW, C·FH·FW) in the course\'s order: rows (n, oh, ow), columns (c, fh, fw); padding reads as zero.',
    args: [f32('x', X), out('col', 'N OH OW C FH FW'), geometry('WindowGeometry')],
  },
  col2im: {
    file: 'im2col',
    doc: 'The adjoint of im2col: dx (N, C, H, W) = the sum of col\'s entries over their windows (dx is overwritten).',
    args: [f32('col', 'N OH OW C FH FW'), out('dx', X), geometry('WindowGeometry')],
  },

  // ---- native/conv.cc: convolution (per sample: im2col, gemm, bias) ----
  convForward: {
    file: 'conv',
    doc: 'Convolution: out (N, FN, OH, OW) = W (FN, C·FH·FW) · im2col(x)ᵀ + b, per sample (the columns stay in a per-thread scratch).',
    args: [f32('x', X), f32('W', WEIGHTS), f32('b', 'FN'), out('out', CONV_OUT), geometry('ConvGeometry'), ALGORITHM],
  },
  convBackward: {
    file: 'conv',
    doc: 'Convolution backward from dout (N, FN, OH, OW) and the forward\'s input x: dW, db and, unless dx is null, dx (through col2im of doutᵀ·W).',
    args: [f32('dout', CONV_OUT), f32('x', X), f32('W', WEIGHTS), out('dW', WEIGHTS), out('db', 'FN'),
      out('dx', X, { nullable: true }), geometry('ConvGeometry'), ALGORITHM],
  },

  // ---- native/conv_fused.cc: a convolution with the Relu and/or max pooling after it ----
  convReluForward: {
    file: 'conv_fused',
    doc: 'out = max(0, convolution): convForward with the Relu applied to each sample while it is in cache.',
    args: [f32('x', X), f32('W', WEIGHTS), f32('b', 'FN'), out('out', CONV_OUT), geometry('ConvGeometry'), ALGORITHM],
  },
  convReluBackward: {
    file: 'conv_fused',
    doc: 'Backward of convReluForward: dout counts as zero where out (its output) is <= 0.',
    args: [f32('dout', CONV_OUT), f32('x', X), f32('W', WEIGHTS), f32('out', CONV_OUT), out('dW', WEIGHTS), out('db', 'FN'),
      out('dx', X, { nullable: true }), geometry('ConvGeometry'), ALGORITHM],
  },
  convPoolForward: {
    file: 'conv_fused',
    doc: 'Convolution, then max(0, .) when relu, then max pooling, per sample in cache: pooled (N, FN, POH, POW) and argmax (plane indices into the (OH, OW) convolution output, as maxPoolForward); equal bit for bit to the separate kernels.',
    args: [f32('x', X), f32('W', WEIGHTS), f32('b', 'FN'), out('pooled', POOLED), i32('argmax', POOLED, { written: true }),
      geometry('ConvPoolGeometry'), bool('relu', true), ALGORITHM],
  },
  convPoolBackward: {
    file: 'conv_fused',
    doc: 'Backward of convPoolForward from dpooled: the gradient is routed through argmax (and, when relu, dropped where pooled <= 0) into dW, db and, unless dx is null, dx.',
    args: [f32('dpooled', POOLED), f32('x', X), f32('W', WEIGHTS), f32('pooled', POOLED), i32('argmax', POOLED),
      out('dW', WEIGHTS), out('db', 'FN'), out('dx', X, { nullable: true }), geometry('ConvPoolGeometry'), bool('relu', true), ALGORITHM],
  },

  // ---- native/pooling.cc ----
  maxPoolForward: {
    file: 'pooling',
    doc: 'Max pooling x (N, C, H, W) -> out (N, C, OH, OW); argmax keeps the index h·W + w of each winner in its plane (-1 when a padded zero won); the first maximum wins.',
    args: [f32('x', X), out('out', 'N C OH OW'), i32('argmax', 'N C OH OW', { written: true }), geometry('WindowGeometry')],
  },
  maxPoolBackward: {
    file: 'pooling',
    doc: 'dx (N, C, H, W) = dout routed to the argmax positions (dx is overwritten; indices outside the plane are ignored).',
    args: [f32('dout', 'N C OH OW'), i32('argmax', 'N C OH OW'), out('dx', X), geometry('WindowGeometry')],
  },
  avgPoolForward: {
    file: 'pooling',
    doc: 'Average pooling; padded zeros count in the mean, as the course\'s im2col gives them.',
    args: [f32('x', X), out('out', 'N C OH OW'), geometry('WindowGeometry')],
  },
  avgPoolBackward: {
    file: 'pooling',
    doc: 'Backward of avgPoolForward (dx is overwritten).',
    args: [f32('dout', 'N C OH OW'), out('dx', X), geometry('WindowGeometry')],
  },

  // ---- native/activations.cc ----
  reluForward: { file: 'activations', doc: 'out = max(0, x) element-wise (0 where x <= 0; NaN passes).', args: [f32('x', 'n'), out('out', 'n')] },
  reluBackward: { file: 'activations', doc: 'dx = dout where x > 0, else 0.', args: [f32('x', 'n'), f32('dout', 'n'), out('dx', 'n')] },
  sigmoidForward: { file: 'activations', doc: 'out = 1 / (1 + exp(-x)) element-wise, in float.', args: [f32('x', 'n'), out('out', 'n')] },
  sigmoidBackward: { file: 'activations', doc: 'dx = dout·(1 - out)·out, from the forward output.', args: [f32('out', 'n'), f32('dout', 'n'), out('dx', 'n')] },
  tanhForward: { file: 'activations', doc: 'out = tanh(x) element-wise.', args: [f32('x', 'n'), out('out', 'n')] },
  tanhBackward: { file: 'activations', doc: 'dx = dout·(1 - out²), from the forward output.', args: [f32('out', 'n'), f32('dout', 'n'), out('dx', 'n')] },
  softmax: {
    file: 'activations',
    doc: 'The course\'s softmax of each row of x (rows, cols): exp(x - max) / sum(exp(x - max)), shifted by the row\'s maximum so that exp never overflows, summed in double (out may be x itself).',
    args: [f32('x', 'rows cols'), out('out', 'rows cols', { sameOrDisjoint: ['x'] }), int('rows', 3), int('cols', 4)],
  },

  // ---- native/optim.cc: one optimizer step on one parameter array, the course's formulas,
  // in float arithmetic (the hyper-parameters rounded to float once per call) ----
  sgdStep: {
    file: 'optim',
    doc: 'SGD: p -= lr·g.',
    args: [out('p', 'n'), f32('g', 'n'), num('lr', 0.1)],
  },
  momentumStep: {
    file: 'optim',
    doc: 'Momentum: v = momentum·v - lr·g; p += v.',
    args: [out('p', 'n'), f32('g', 'n'), out('v', 'n'), num('lr', 0.1), num('momentum', 0.9)],
  },
  nesterovStep: {
    file: 'optim',
    doc: 'Nesterov, as the course\'s current optimizer.py: p += momentum²·v - (1 + momentum)·lr·g with the velocity from before the step, then v = momentum·v - lr·g.',
    args: [out('p', 'n'), f32('g', 'n'), out('v', 'n'), num('lr', 0.1), num('momentum', 0.9)],
  },
  adaGradStep: {
    file: 'optim',
    doc: 'AdaGrad: h += g²; p -= lr·g / (sqrt(h) + eps).',
    args: [out('p', 'n'), f32('g', 'n'), out('h', 'n'), num('lr', 0.1), num('eps', 1e-7)],
  },
  rmspropStep: {
    file: 'optim',
    doc: 'RMSprop: h = decayRate·h + (1 - decayRate)·g²; p -= lr·g / (sqrt(h) + eps).',
    args: [out('p', 'n'), f32('g', 'n'), out('h', 'n'), num('lr', 0.1), num('decayRate', 0.99), num('eps', 1e-7)],
  },
  adamStep: {
    file: 'optim',
    doc: 'Adam with the bias correction folded into lrT (the course\'s form): m += (1 - beta1)(g - m); v += (1 - beta2)(g² - v); p -= lrT·m / (sqrt(v) + eps).',
    args: [out('p', 'n'), f32('g', 'n'), out('m', 'n'), out('v', 'n'), num('lrT', 0.001), num('beta1', 0.9),
      num('beta2', 0.999), num('eps', 1e-7)],
  },
  averageStep: {
    file: 'optim',
    doc: 'Exponential moving average of a parameter (weight averaging): avg += (1 - decay)·(p - avg).',
    args: [out('avg', 'n'), f32('p', 'n'), num('decay', 0.995)],
  },

  // ---- native/batchnorm.cc ----
  batchNormForward: {
    file: 'batchnorm',
    doc: 'Batch normalisation of x (N, D) over its rows, the course\'s formulas: keeps xc, xn and std for backward, updates the running statistics when training (running = momentum·running + (1 - momentum)·batch), writes out = gamma·xn + beta.',
    args: [f32('x', 'N D'), f32('gamma', 'D'), f32('beta', 'D'), out('runMean', 'D'), out('runVar', 'D'), out('xc', 'N D'),
      out('xn', 'N D'), out('std', 'D'), out('out', 'N D'), int('N', 4), int('D', 3), num('momentum', 0.9), num('eps', 1e-6),
      bool('train', true)],
  },
  batchNormInfer: {
    file: 'batchnorm',
    doc: 'Test-mode batch normalisation with the Relu (relu) and the test-mode Dropout factor (scale) after it, in one pass and rounded as the three layers round: out = scale·relu(gamma·(x - runMean) / sqrt(runVar + eps) + beta). Keeps nothing for backward.',
    args: [f32('x', 'N D'), f32('gamma', 'D'), f32('beta', 'D'), f32('runMean', 'D'), f32('runVar', 'D'),
      out('out', 'N D'), int('N', 4), int('D', 3), num('eps', 1e-6), bool('relu', true), num('scale', 0.85)],
  },
  batchNormBackward: {
    file: 'batchnorm',
    doc: 'Batch-normalisation backward: dgamma, dbeta and dx from dout and the forward\'s xc, xn and std (test mode: dx = gamma·dout / std).',
    args: [f32('dout', 'N D'), f32('gamma', 'D'), f32('xc', 'N D'), f32('xn', 'N D'), f32('std', 'D'), out('dgamma', 'D'),
      out('dbeta', 'D'), out('dx', 'N D'), int('N', 4), int('D', 3), bool('train', true)],
  },

  // ---- native/dropout.cc: dropout and the element-wise products its layer uses ----
  dropoutForward: {
    file: 'dropout',
    doc: 'out = x·mask with mask[i] = keep when a uniform draw exceeds ratio, else 0; the draws come from a generator seeded by (seedHigh, seedLow).',
    args: [f32('x', 'n'), out('out', 'n'), out('mask', 'n'), num('ratio', 0.5), num('keep', 1),
      int('seedHigh', 3, 0), int('seedLow', 5, 0)],
  },
  multiply: {
    file: 'dropout',
    doc: 'out = a·b element-wise (out may be a or b itself).',
    args: [f32('a', 'n'), f32('b', 'n'), out('out', 'n', { sameOrDisjoint: ['a', 'b'] })],
  },
  scale: {
    file: 'dropout',
    doc: 'out = x·s element-wise, s rounded to float (out may be x itself).',
    args: [f32('x', 'n'), out('out', 'n', { sameOrDisjoint: ['x'] }), num('s', 0.5)],
  },

  // ---- native/isa.cc ----
  isaInfo: {
    file: 'isa',
    doc: 'The instruction-set level blasnet\'s own loops run at (isa: \'avx512\', \'avx2\' or \'generic\'), the widest this CPU supports (cpu), and why (reason: the CPU\'s own, or BLASNET_ISA); see blasInfo().',
    args: [],
    returns: 'IsaInfo',
  },

  // ---- native/threads.cc ----
  setNumThreads: {
    file: 'threads',
    doc: `Sets how many threads blasnet's kernels use for calls from this thread (the main thread or one worker_thread: each has its own setting): 1 to ${MAX_THREADS}, or 0 for the default, automatic: up to the core count, one thread or all of them, whichever the calls' own timings show to be faster (see threadInfo). Results do not depend on it: every split is fixed by the data's shape, not by the thread count.`,
    args: [int('n', 2, 0, MAX_THREADS)],
  },
  getNumThreads: {
    file: 'threads',
    doc: 'The most threads calls from this thread use (setNumThreads; in automatic mode, the default, the core count, at most the limit).',
    args: [],
    returns: 'int',
  },
  threadInfo: {
    file: 'threads',
    doc: 'The thread setting of calls from this thread: mode \'auto\' (the default: one thread or all `most`, as measured faster) or \'fixed\' (setNumThreads(n), n >= 1), and the count the next call uses (inUse).',
    args: [],
    returns: 'ThreadInfo',
  },
} as const satisfies Record<string, EntrySpec>;

export type EntryName = keyof typeof ENTRIES;
