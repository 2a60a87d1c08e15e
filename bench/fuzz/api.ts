// SPDX-License-Identifier: MIT
// Fuzz targets of the public API: tensor constructors, every layer's constructor, forward and
// backward (hostile tensors and tensor-likes: lying shapes, detached or shrunk data, getters
// that throw or change their answer), the networks' constructors and options and their
// predict/loss/gradient/accuracy, the optimizers' options and update(), and the loaders on
// hostile bytes (safetensors, network files, IDX raw and gzip, pickles; folders, FIFOs and
// /dev/zero in place of files). A call starts valid and gets `mutations` hostile arguments; the
// generators in args.ts record whether it must then throw, and which argument it must name.
import { boolArg, dataSrc, intArg, J, labelsArg, listSrc, numArg, optionsArg, prod, tensorArg, tensorSrc, CLEAN } from './args';
import { Call, Ctx, Target } from './ctx';
import { NOT_OBJECTS } from './native';
import * as v from './values';

type Make = (c: Ctx) => Call;
const target = (name: string, weight: number, make: Make): Target => ({ name, weight, make });

/** Which phase of a layer's life a call exercises: its constructor, forward, or backward after a valid forward. */
type Phase = 'ctor' | 'forward' | 'backward';
const phase = (c: Ctx): Phase => c.r.pick(['ctor', 'forward', 'forward', 'backward', 'backward'] as const);

/** A shape of n = N * features elements for a layer that flattens: (N, F) or (N, ...) with F features. */
function featureShape(c: Ctx, N: number, F: number): number[] {
  return c.r.chance(0.7) ? [N, F] : [N, 1, 1, F];
}

/** Any shape of 1 to 4 small dims (element-wise layers accept every shape). */
function anyShape(c: Ctx): number[] {
  return Array.from({ length: c.r.int(1, 4) }, () => c.r.int(1, 4));
}

/**
 * A layer target. `ctor(c, mut)` returns the constructor call's argument sources (mutating the
 * chosen ones); `x` the input shape and `wrongX` inputs it refuses; `out` the output shape.
 */
interface LayerDef {
  cls: string;
  ctorArgs: string[];
  ctor(c: Ctx, mut: Set<string>): string[];
  x: number[];
  wrongX: number[][];
  out: number[];
  /** forward's train flag is read (Dropout, BatchNormalization). */
  train?: boolean;
  /** backward's inputGradient flag (Affine, Convolution). */
  inputGradient?: boolean;
  patterns?: readonly v.Pattern[];
}

function layerCall(c: Ctx, d: LayerDef): Call {
  const p = phase(c);
  const fnCtor = d.cls, fnF = `${d.cls}.forward`, fnB = `${d.cls}.backward`;
  if (p === 'ctor') {
    const mut = c.pick(d.ctorArgs);
    const args = d.ctor(c, mut);
    return c.finish(`${d.cls} (constructor)`, [fnCtor], (A) => `new lib.${d.cls}(${A})`, args);
  }
  const layer = c.let(`new lib.${d.cls}(${d.ctor(c, new Set()).join(', ')})`);
  if (p === 'forward') {
    const mut = c.pick(['x', ...(d.train ? ['train'] : [])]);
    const x = tensorArg(c, mut.has('x'), ['x', 'input'], d.x, { wrong: d.wrongX, patterns: d.patterns });
    const args = [x];
    if (d.train) args.push(boolArg(c, mut.has('train'), ['train'], { optional: true }));
    return c.finish(fnF, [fnF], (A) => `${layer}.forward(${A})`, args);
  }
  c.stmt(`${layer}.forward(${tensorSrc(c, d.x, d.patterns)}${d.train ? `, ${c.r.chance(0.7)}` : ''})`);
  const mut = c.pick(['dout', ...(d.inputGradient ? ['inputGradient'] : [])]);
  const wrongOut = [[...d.out.slice(0, -1), d.out[d.out.length - 1] + 1], [prod(d.out) + 1]];
  const args = [tensorArg(c, mut.has('dout'), ['dout'], d.out, { wrong: wrongOut, patterns: d.patterns })];
  if (d.inputGradient) args.push(boolArg(c, mut.has('inputGradient'), ['inputGradient'], { optional: true }));
  return c.finish(fnB, [fnB], (A) => `${layer}.backward(${A})`, args);
}

function affine(c: Ctx): Call {
  const r = c.r, N = r.int(1, 4), I = r.int(1, 6), O = r.int(1, 5);
  return layerCall(c, {
    cls: 'Affine', ctorArgs: ['W', 'b', 'options'], inputGradient: true,
    ctor: (cc, m) => [
      tensorArg(cc, m.has('W'), ['W'], [I, O], { wrong: [[I * O], [I, O, 1]] }),
      tensorArg(cc, m.has('b'), ['b', 'W'], [O], { wrong: [[O + 1], [1, O]] }),
      optionsArg(cc, m.has('options'), { skipInputGradient: (mm) => boolArg(cc, mm, ['skipInputGradient'], { optional: true }) }, { optional: true }),
    ],
    x: featureShape(c, N, I), wrongX: [[N, I + 1], [N * I], [N + 1, I - 1 || 2]].filter((s) => prod(s) % I !== 0 || s.length < 2), out: [N, O],
  });
}

function convolution(c: Ctx): Call {
  const r = c.r, N = r.int(1, 2), C = r.int(1, 3), FN = r.int(1, 3), FH = r.int(1, 3), FW = r.int(1, 3);
  const stride = r.int(1, 2), pad = r.int(0, 1);
  const H = FH + r.int(0, 3), W = FW + r.int(0, 3);
  const OH = Math.floor((H + 2 * pad - FH) / stride) + 1, OW = Math.floor((W + 2 * pad - FW) / stride) + 1;
  return layerCall(c, {
    cls: 'Convolution', ctorArgs: ['W', 'b', 'stride', 'pad', 'options'], inputGradient: true,
    ctor: (cc, m) => [
      tensorArg(cc, m.has('W'), ['W'], [FN, C, FH, FW], { wrong: [[FN, C, FH], [FN * C * FH * FW]] }),
      tensorArg(cc, m.has('b'), ['b', 'W'], [FN], { wrong: [[FN + 1]] }),
      intArg(cc, m.has('stride'), ['stride'], stride, { min: 1, optional: true, dflt: 1 }),
      intArg(cc, m.has('pad'), ['pad'], pad, { min: 0, optional: true, dflt: 0 }),
      optionsArg(cc, m.has('options'), { skipInputGradient: (mm) => boolArg(cc, mm, ['skipInputGradient'], { optional: true }) }, { optional: true }),
    ],
    x: [N, C, H, W], wrongX: [[N, C + 1, H, W], [N, C, H], [N * C * H * W]], out: [N, FN, OH, OW],
  });
}

function pooling(cls: 'Pooling' | 'AvgPooling') {
  return (c: Ctx): Call => {
    const r = c.r, N = r.int(1, 2), C = r.int(1, 3), PH = r.int(1, 3), PW = r.int(1, 3);
    const stride = r.int(1, 2), pad = r.chance(0.7) ? 0 : 1;
    const H = PH + r.int(0, 3), W = PW + r.int(0, 3);
    const OH = Math.floor((H + 2 * pad - PH) / stride) + 1, OW = Math.floor((W + 2 * pad - PW) / stride) + 1;
    return layerCall(c, {
      cls, ctorArgs: ['poolH', 'poolW', 'stride', 'pad'],
      ctor: (cc, m) => [
        intArg(cc, m.has('poolH'), ['poolH'], PH, { min: 1 }), intArg(cc, m.has('poolW'), ['poolW'], PW, { min: 1 }),
        intArg(cc, m.has('stride'), ['stride'], stride, { min: 1, optional: true, dflt: 1 }), intArg(cc, m.has('pad'), ['pad'], pad, { min: 0, optional: true, dflt: 0 }),
      ],
      x: [N, C, H, W], wrongX: [[N, C, H], [N * C * H * W]], out: [N, C, OH, OW],
    });
  };
}

/** A pooling layer whose window may be as large as a hostile caller likes: it must fit or be refused. */
function elementwise(cls: 'Relu' | 'Sigmoid' | 'Tanh') {
  return (c: Ctx): Call => {
    const s = anyShape(c);
    return layerCall(c, { cls, ctorArgs: [], ctor: () => [], x: s, wrongX: [], out: s });
  };
}

function dropout(c: Ctx): Call {
  const s = anyShape(c);
  return layerCall(c, {
    cls: 'Dropout', ctorArgs: ['ratio', 'options'], train: true,
    ctor: (cc, m) => [
      numArg(cc, m.has('ratio'), ['ratio'], cc.r.pick([0, 0.5, 0.25]), { min: 0, max: 1, maxExclusive: true, optional: true }),
      optionsArg(cc, m.has('options'), { inverted: (mm) => boolArg(cc, mm, ['inverted'], { optional: true }) }, { optional: true }),
    ],
    x: s, wrongX: [], out: s,
  });
}

/** A tensor option: undefined is its default, anything else hostile must be refused. */
function optionalTensor(c: Ctx, mut: boolean, name: string, shape: number[]): string {
  const before = c.snapshot();
  const src = tensorArg(c, mut, [name], shape, { wrong: [[shape[0] + 1]], patterns: CLEAN });
  if (src === 'undefined') {
    c.restore(before);
    c.ok(`${name}: undefined (the default)`);
  }
  return src;
}

function batchNorm(c: Ctx): Call {
  const r = c.r, N = r.int(1, 4), D = r.int(1, 5);
  return layerCall(c, {
    cls: 'BatchNormalization', ctorArgs: ['gamma', 'beta', 'momentum', 'options'], train: true,
    ctor: (cc, m) => [
      tensorArg(cc, m.has('gamma'), ['gamma'], [D]),
      tensorArg(cc, m.has('beta'), ['beta', 'gamma'], [D], { wrong: [[D + 1]] }),
      numArg(cc, m.has('momentum'), ['momentum'], 0.9, { min: 0, max: 1, optional: true }),
      optionsArg(cc, m.has('options'), {
        runningMean: (mm) => optionalTensor(cc, mm, 'runningMean', [D]),
        runningVar: (mm) => optionalTensor(cc, mm, 'runningVar', [D]),
      }, { optional: true }),
    ],
    x: featureShape(c, N, D), wrongX: [[N, D + 1], [N * D]], out: [N, D],
  });
}

function softmaxWithLoss(c: Ctx): Call {
  const r = c.r, N = r.int(1, 4), C = r.int(1, 5);
  const layer = c.let('new lib.SoftmaxWithLoss()');
  if (r.chance(0.5)) {
    const mut = c.pick(['x', 't']);
    const x = tensorArg(c, mut.has('x'), ['x'], [N, C], { wrong: [[N * C], [N, C, 1]] });
    const t = labelsArg(c, mut.has('t'), ['t', 'x'], N, C);
    return c.finish('SoftmaxWithLoss.forward', ['SoftmaxWithLoss.forward'], (A) => `${layer}.forward(${A})`, [x, t]);
  }
  c.stmt(`${layer}.forward(${tensorSrc(c, [N, C])}, ${labelsArg(c, false, ['t'], N, C)})`);
  const mut = c.pick(['dout']);
  const dout = numArg(c, mut.has('dout'), ['dout'], c.r.pick([1, 0.5, 2]), { optional: true });
  return c.finish('SoftmaxWithLoss.backward', ['SoftmaxWithLoss.backward'], (A) => `${layer}.backward(${A})`, [dout]);
}

// ---- tensors ---------------------------------------------------------------------------------

function tensorCtor(c: Ctx): Call {
  const s = anyShape(c), n = prod(s);
  const mut = c.pick(['data', 'shape']);
  let data = `v.f32(${n}, '${c.r.pick(v.PATTERNS)}', '${c.r.pick(v.PLACES)}')`;
  let shape = J(s);
  if (mut.has('data')) {
    const [what, src] = c.r.pick([['a Float64Array', `new Float64Array(${n})`], ['an Array', `new Array(${n}).fill(1)`],
      ['detached memory', `v.detachedF32(${n})`], ['one element more', `v.f32(${n + 1})`], ['null', 'null'], ['a string', "'x'"]] as const);
    c.bad(`data: ${what}`, 'data', 'shape');
    data = src;
  }
  if (mut.has('shape')) {
    const [what, src, ok] = c.r.pick([['a lying shape [1, 2 ** 31]', '[1, 2 ** 31]', false], ['[2 ** 53]', '[2 ** 53]', false],
      ['a zero dim', `[0, ${n}]`, false], ['a negative dim', `[-1, -${n}]`, false], ['a fractional dim', `[0.5, ${2 * n}]`, false],
      ['a string dim', `['${n}']`, false], ['not an array', `'${n}'`, false], ['an array-like', `({ length: 1, 0: ${n} })`, false],
      ['NaN', '[NaN]', false], ['[] for one element', '[]', n === 1], ['a throwing element', `v.throwingArray([${n}], 0)`, null]] as const);
    if (ok === null) c.planted(`shape: ${what}`);
    else if (ok) c.ok(`shape: ${what}`);
    else c.bad(`shape: ${what}`, 'shape', 'data');
    shape = src;
  }
  return c.finish('Tensor (constructor)', ['Tensor'], (A) => `new lib.Tensor(${A})`, [data, shape]);
}

function tensorFn(c: Ctx): Call {
  const r = c.r;
  const rows = r.int(1, 3), cols = r.int(1, 3);
  const nested = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => i * cols + j));
  const mut = c.pick(['data', 'shape']);
  let data = J(nested);
  let shape = r.chance(0.5) ? 'undefined' : J([rows * cols]);
  if (mut.has('data')) {
    const [what, src, names] = r.pick([
      ['ragged nested arrays', J([...nested, [1, 2, 3, 4]]), ['data', 'ragged']], ['a string element', J([[1, '2']]), ['element']],
      ['a null element', '[[1, null]]', ['element']], ['a bigint element', '[[1n]]', ['element']], ['a string', "'12'", ['data']],
      ['null', 'null', ['data']], ['an object', '({})', ['data']], ['a deep empty array', 'v.nest([], 40)', ['data', 'shape']],
      ['an empty array', '[]', ['data', 'shape']], ['a throwing element', `v.throwingArray([1, 2], 1)`, null],
    ] as const);
    if (names === null) c.planted(`data: ${what}`);
    else c.bad(`data: ${what}`, ...names);
    data = src;
    if (names !== null && (names as readonly string[]).includes('data') && r.chance(0.5)) shape = 'undefined';
  } else if (mut.has('shape')) {
    const [what, src] = r.pick([['one more', J([rows * cols + 1])], ['[1, 2 ** 31]', '[1, 2 ** 31]'], ['a string', "'2'"],
      ['a zero dim', '[0]'], ['null', 'null']] as const);
    if (src === 'null') c.bad(`shape: ${what}`, 'shape', 'Tensor');
    else c.bad(`shape: ${what}`, 'shape', 'data');
    shape = src;
  }
  return c.finish('tensor', ['tensor', 'Tensor'], (A) => `lib.tensor(${A})`, [data, shape]);
}

function tensorZeros(c: Ctx): Call {
  const s = anyShape(c);
  const mut = c.pick(['shape']);
  let shape = J(s);
  if (mut.has('shape')) {
    const [what, src] = c.r.pick([['[2 ** 31, 2 ** 31]', '[2 ** 31, 2 ** 31]'], ['[2 ** 53]', '[2 ** 53]'], ['[0]', '[0]'],
      ['[-1]', '[-1]'], ['a string', "'3'"], ['null', 'null'], ['[NaN]', '[NaN]'], ['[1.5]', '[1.5]'], ['[Infinity]', '[Infinity]']] as const);
    c.bad(`shape: ${what}`, 'shape');
    shape = src;
  }
  return c.finish('Tensor.zeros', ['Tensor.zeros'], (A) => `lib.Tensor.zeros(${A})`, [shape]);
}

function rowsTake(c: Ctx): Call {
  const r = c.r, N = r.int(1, 5), F = r.int(1, 3);
  const t = c.let(`new lib.Tensor(v.f32(${N * F}), ${J([N, F])})`);
  const mut = c.pick(['start', 'end']);
  const start = mut.has('start') ? intArgAny(c, 'start') : String(r.int(0, N - 1));
  const end = mut.has('end') ? intArgAny(c, 'end') : String(N);
  return c.finish('Tensor.rows', ['Tensor.rows'], (A) => `${t}.rows(${A})`, [start, end]);
}

/** An index argument that may be any integer (negative counts from the end): hostile values must be refused or clamped. */
function intArgAny(c: Ctx, name: string): string {
  const [what, src, ok] = c.r.pick([['a string', "'1'", false], ['0.5', '0.5', false], ['NaN', 'NaN', false], ['Infinity', 'Infinity', false],
    ['2 ** 53', '2 ** 53', null], ['-(2 ** 31)', '-(2 ** 31)', null], ['null', 'null', false], ['a bigint', '1n', false]] as const);
  if (ok === null) c.either(`${name} = ${what}`, name, 'rows');
  else c.bad(`${name}: ${what}`, name);
  return src;
}

// ---- networks --------------------------------------------------------------------------------

const size = (c: Ctx, name: string, valid: number, optional = false) => (m: boolean): string => intArg(c, m, [name], valid, { min: 1, optional, dflt: -1 });
const initField = (c: Ctx) => (m: boolean): string => {
  if (!m) return c.r.pick(["'relu'", "'he'", "'xavier'", "'sigmoid'", '0.01', '0.1']);
  const x = c.r.pick(["'bogus'", '-1', 'NaN', 'Infinity', 'null', '({})']);
  c.bad(`weightInitStd = ${x}`, 'weightInitStd');
  return x;
};
const activationField = (c: Ctx) => (m: boolean): string => {
  if (!m) return c.r.pick(["'relu'", "'sigmoid'", "'tanh'"]);
  const x = c.r.pick(["'relu6'", "'softmax'", "''", '1', 'null', '({})']);
  c.bad(`activation = ${x}`, 'activation');
  return x;
};
const lambdaField = (c: Ctx, name: string) => (m: boolean): string => numArg(c, m, [name], c.r.pick([0, 0.1]), { min: 0, optional: true });

function hiddenList(c: Ctx) {
  return (m: boolean): string => {
    const h = Array.from({ length: c.r.int(0, 2) }, () => c.r.int(1, 6));
    if (!m) return J(h);
    const [what, src] = c.r.pick([['a number', '5'], ['a string', "'5'"], ['null', 'null'], ['[0]', '[0]'], ['[-3]', '[-3]'], ['[1.5]', '[1.5]'],
      ['[2 ** 31]', '[2 ** 31]'], ["['4']", "['4']"], ['[NaN]', '[NaN]'], ['an object', '({ length: 1, 0: 3 })']] as const);
    c.bad(`hiddenSizeList: ${what}`, 'hiddenSizeList');
    return src;
  };
}

function networkCtor(c: Ctx): Call {
  const r = c.r;
  const kind = r.pick(['TwoLayerNet', 'MultiLayerNet', 'MultiLayerNetExtend', 'SimpleConvNet'] as const);
  const I = r.int(1, 8), H = r.int(1, 6), O = r.int(1, 5);
  let fields: Record<string, (m: boolean) => string>;
  let required: string[] = [];
  if (kind === 'TwoLayerNet') {
    fields = { inputSize: size(c, 'inputSize', I), hiddenSize: size(c, 'hiddenSize', H), outputSize: size(c, 'outputSize', O),
      weightInitStd: initField(c), activation: activationField(c) };
    required = ['inputSize', 'hiddenSize', 'outputSize'];
  } else if (kind === 'SimpleConvNet') {
    const C = r.int(1, 2), S = r.int(6, 8), F = r.int(1, 3);
    fields = {
      inputDim: (m) => {
        if (!m) return J([C, S, S]);
        const [what, src] = r.pick([['[1, 28]', '[1, 28]'], ['a string', "'1,28,28'"], ['[0, 8, 8]', '[0, 8, 8]'],
          ['[1, 2 ** 31, 2]', '[1, 2 ** 31, 2]'], ['[1, 1.5, 8]', '[1, 1.5, 8]'], ['null', 'null']] as const);
        c.bad(`inputDim: ${what}`, 'inputDim', 'inputDim[0]', 'inputDim[1]', 'inputDim[2]');
        return src;
      },
      convParam: (m) => optionsArg(c, m, {
        filterNum: size(c, 'filterNum', r.int(1, 3), true), filterSize: size(c, 'filterSize', F, true),
        pad: (mm) => intArg(c, mm, ['pad'], 0, { min: 0, optional: true }), stride: size(c, 'stride', 1, true),
      }, { name: 'convParam', optional: true }),
      hiddenSize: size(c, 'hiddenSize', H, true), outputSize: size(c, 'outputSize', O, true), weightInitStd: initField(c),
      weightDecayLambda: lambdaField(c, 'weightDecayLambda'),
    };
  } else {
    fields = { inputSize: size(c, 'inputSize', I), hiddenSizeList: hiddenList(c), outputSize: size(c, 'outputSize', O),
      activation: activationField(c), weightInitStd: initField(c), weightDecayLambda: lambdaField(c, 'weightDecayLambda'),
      l1Lambda: lambdaField(c, 'l1Lambda') };
    if (kind === 'MultiLayerNetExtend') {
      fields.useDropout = (m) => boolArg(c, m, ['useDropout'], { optional: true });
      fields.useBatchnorm = (m) => boolArg(c, m, ['useBatchnorm'], { optional: true });
      fields.dropoutRatio = (m) => numArg(c, m, ['dropoutRatio'], 0.5, { min: 0, max: 1, maxExclusive: true, optional: true });
    }
    required = ['inputSize', 'hiddenSizeList', 'outputSize'];
  }
  const mut = c.pick(['options']);
  const opts = optionsArg(c, mut.has('options'), fields, { required, optional: kind === 'SimpleConvNet' });
  const loose = kind === 'SimpleConvNet' ? ['SimpleConvNet', 'Convolution', 'Pooling', 'Affine'] : [kind];
  return c.finish(`${kind} (constructor)`, [kind], (A) => `new lib.${kind}(${A})`, [opts], { looseFns: loose });
}

function networkMethod(c: Ctx): Call {
  const r = c.r, I = r.int(1, 6), O = r.int(2, 4), N = r.int(1, 4);
  const net = c.let(`new lib.MultiLayerNet({ inputSize: ${I}, hiddenSizeList: [${r.int(1, 4)}], outputSize: ${O} })`);
  const method = r.pick(['predict', 'loss', 'gradient', 'accuracy', 'layerOutputs'] as const);
  const fn = method;
  const withT = method === 'loss' || method === 'gradient' || method === 'accuracy';
  const mut = c.pick(['x', ...(withT ? ['t'] : []), ...(method === 'accuracy' ? ['batchSize'] : [])]);
  const x = tensorArg(c, mut.has('x'), ['x', 'input'], featureShape(c, N, I), { wrong: [[N, I + 1], [N * I + 1]], patterns: CLEAN });
  const args = [x];
  if (withT) args.push(labelsArg(c, mut.has('t'), ['t', 'x'], N, O));
  if (method === 'accuracy') args.push(intArg(c, mut.has('batchSize'), ['batchSize'], r.int(1, 5), { min: 1, optional: true }));
  // Errors from inside the network name the layer that refused (Affine.forward, SoftmaxWithLoss.forward).
  // predict names the layer that refused (layer 0 (Affine): Affine.forward: ...); loss and gradient go through predict.
  return c.finish(`Sequential.${method}`, [fn, 'predict', 'layer', 'SoftmaxWithLoss.forward', 'accuracy'], (A) => `${net}.${method}(${A})`, args);
}

// ---- optimizers ------------------------------------------------------------------------------

const OPTIMIZERS: Record<string, string[]> = {
  SGD: ['lr'], Momentum: ['lr', 'momentum'], Nesterov: ['lr', 'momentum'], AdaGrad: ['lr'], RMSprop: ['lr', 'decayRate'], Adam: ['lr', 'beta1', 'beta2'],
};

function optimizerField(c: Ctx, key: string) {
  return (m: boolean): string => (key === 'lr'
    ? numArg(c, m, ['lr'], c.r.pick([0.01, 0.1, 1]), { min: 0, minExclusive: true, optional: true })
    : numArg(c, m, [key], 0.9, { min: 0, max: 1, maxExclusive: true, optional: true }));
}

function optimizer(c: Ctx): Call {
  const r = c.r;
  const cls = r.pick(Object.keys(OPTIMIZERS));
  const fields = Object.fromEntries(OPTIMIZERS[cls].map((k) => [k, optimizerField(c, k)]));
  if (r.chance(0.4)) {
    const mut = c.pick(['options']);
    const opts = optionsArg(c, mut.has('options'), fields, { optional: true });
    return c.finish(`${cls} (constructor)`, [cls], (A) => `new lib.${cls}(${A})`, [opts]);
  }
  const opt = c.let(`new lib.${cls}(${optionsArg(c, false, fields, { optional: true })})`);
  const a = r.int(1, 4), b = r.int(1, 3);
  const shapes: Record<string, number[]> = { W: [a, b], b: [b] };
  if (r.chance(0.3)) c.stmt(`${opt}.update({ W: lib.Tensor.zeros(${J(shapes.W)}), b: lib.Tensor.zeros(${J(shapes.b)}) }, { W: lib.Tensor.zeros(${J(shapes.W)}), b: lib.Tensor.zeros(${J(shapes.b)}) })`);
  // A record-level mutation on one side only (the same change on both sides is a valid call).
  const mut = c.pick([r.pick(['params', 'grads']), 'W', 'b']);
  const rec = (which: 'params' | 'grads'): string => {
    if (mut.has(which)) {
      const kind = r.pick(['type', 'missing', 'extra', 'shape'] as const);
      if (kind === 'type') {
        const [what, src] = r.pick([...NOT_OBJECTS, ['a Tensor', 'lib.Tensor.zeros([2])']] as const);
        c.bad(`${which}: ${what}`, which);
        return src;
      }
      if (kind === 'missing') {
        c.bad(`${which}: without b`, 'b', 'params', 'grads');
        return `{ W: ${tensorSrc(c, shapes.W, CLEAN)} }`;
      }
      if (kind === 'extra') {
        c.bad(`${which}: an extra entry`, 'extra', 'params', 'grads');
        return `{ W: ${tensorSrc(c, shapes.W, CLEAN)}, b: ${tensorSrc(c, shapes.b, CLEAN)}, extra: ${tensorSrc(c, [1], CLEAN)} }`;
      }
      c.bad(`${which}.W of another shape`, 'W', 'params', 'grads');
      return `{ W: ${tensorSrc(c, [a, b + 1], CLEAN)}, b: ${tensorSrc(c, shapes.b, CLEAN)} }`;
    }
    const fields = ['W', 'b'].map((k) => `${k}: ${tensorArg(c, mut.has(k) && which === (r.chance(0.5) ? 'params' : 'grads'), [`${which}.${k}`, k], shapes[k], { patterns: CLEAN })}`);
    return `{ ${fields.join(', ')} }`;
  };
  const params = rec('params'), grads = rec('grads');
  const fn = `${cls}.update`;
  return c.finish(fn, [fn], (A) => `${opt}.update(${A})`, [params, grads]);
}

// ---- loaders on hostile bytes ----------------------------------------------------------------

const LOADER_ERRORS = ['FileError', 'SafetensorsFormatError', 'IdxFormatError', 'PickleFormatError'];

/** A file argument that is not a regular file (a folder, a FIFO, /dev/zero, a missing path). */
function specialFile(c: Ctx, name: string): { src: string; shown: string } {
  const kind = c.r.pick(['folder', 'fifo', 'devzero', 'missing'] as const);
  c.bad(`file: ${kind === 'devzero' ? '/dev/zero' : `a ${kind}`}`, 'file');
  return { src: `v.special(${J(name)}, '${kind}')`, shown: kind === 'devzero' ? '/dev/zero' : name };
}

/** Header mutations name a tensor (and overlap two): a mutated file gets at least two. */
const mutationsNeedTensors = (c: Ctx): boolean => c.mutations > 0;

function safetensorsLoader(c: Ctx): Call {
  const r = c.r;
  const name = `st-${(r.next() * 2 ** 32) >>> 0}.safetensors`;
  const fn = r.pick(['readSafetensors', 'readSafetensorsHeader'] as const);
  c.accept(...LOADER_ERRORS);
  const tensors: Record<string, number[]> = {};
  for (let i = 0, k = r.int(mutationsNeedTensors(c) ? 2 : 0, 3); i < k; i++) tensors[`t${i}`] = anyShape(c).slice(0, 2);
  const h = c.let(`v.safetensorsHeader(${J(tensors)}${r.chance(0.3) ? ", { note: 'x' }" : ''})`);
  let body = `v.safetensorsBody(${h})`;
  let length = 'undefined', text = 'undefined';
  const edits: string[] = [];
  const keys = Object.keys(tensors);
  const mut = c.pick(['header', 'bytes', 'file']);
  let shown = name;
  if (mut.has('file')) {
    const s = specialFile(c, name);
    shown = s.shown;
    return c.finish(fn, [fn, shown], (A) => `lib.${fn}(${A})`, [s.src]);
  }
  if (mut.has('header')) {
    const t = keys.length ? r.pick(keys) : null;
    const kind = r.pick(['offsets', 'overlap', 'shape', 'dtype', 'proto', 'duplicate', 'metaNull', 'metaType', 'zeroSize', 'notJson', 'notObject', 'huge', 'reserved'] as const);
    if (kind === 'offsets' && t) {
      const x = r.pick(['[0, 2 ** 40]', '[-4, 0]', '[8, 4]', '[0.5, 4]', '"0"', 'null', '[0]', '[2 ** 53, 2 ** 53 + 4]']);
      edits.push(`v.setPath(${h}, [${J(t)}, 'data_offsets'], ${x})`);
      c.either(`${t}.data_offsets = ${x}`);
    } else if (kind === 'overlap' && keys.length >= 2) {
      edits.push(`v.setPath(${h}, [${J(keys[1])}, 'data_offsets'], ${h}[${J(keys[0])}].data_offsets)`);
      c.either(`${keys[1]} overlaps ${keys[0]}`);
    } else if (kind === 'shape' && t) {
      const x = r.pick(['[2 ** 31, 2 ** 31]', '[-1]', '[1.5]', '["2"]', '"2"', 'null', '[2 ** 53]', '[2 ** 20, 2 ** 20, 2 ** 20]']);
      edits.push(`v.setPath(${h}, [${J(t)}, 'shape'], ${x})`);
      c.either(`${t}.shape = ${x}`);
    } else if (kind === 'dtype' && t) {
      const x = r.pick(['"F64"', '"I8"', '"BOGUS"', '7', 'null', '"f32"', '"F8_E4M3"', '"BF16"']);
      edits.push(`v.setPath(${h}, [${J(t)}, 'dtype'], ${x})`);
      c.either(`${t}.dtype = ${x}`);
    } else if (kind === 'proto') {
      text = `JSON.stringify(${h}).replace(/^\\{/, '{"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},')`;
      c.either('a "__proto__" key');
    } else if (kind === 'duplicate' && t) {
      text = `JSON.stringify(${h}).replace(/\\}$/, ',' + JSON.stringify(${J(t)}) + ':' + JSON.stringify(${h}[${J(t)}]) + '}')`;
      c.either(`the key ${t} twice`);
    } else if (kind === 'metaNull') {
      edits.push(`v.setPath(${h}, ['__metadata__'], null)`);
      c.either('__metadata__: null');
    } else if (kind === 'metaType') {
      edits.push(`v.setPath(${h}, ['__metadata__'], ${r.pick(['{ a: 1 }', '[1]', '"x"', '{ a: { b: "c" } }'])})`);
      c.either('__metadata__ of the wrong type');
    } else if (kind === 'zeroSize') {
      edits.push(`v.setPath(${h}, ['empty'], { dtype: 'F32', shape: [0, 3], data_offsets: [v.safetensorsBody(${h}), v.safetensorsBody(${h})] })`);
      c.either('a zero-size tensor');
    } else if (kind === 'notJson') {
      text = r.pick(["'{\"a\": '", "'\\u0000'", "'[]'", "'null'", "'{}'.padEnd(64, '\\u0000')", "'\\ufeff{}'"]);
      c.either(`header text ${text}`);
    } else if (kind === 'notObject') {
      edits.push(`v.setPath(${h}, [${J(t ?? 'x')}], ${r.pick(['null', '3', '"s"', '[]'])})`);
      c.either('a tensor entry that is not an object');
    } else if (kind === 'huge') {
      length = r.pick(['2 ** 40', '2 ** 53', '2 ** 31', '100000001']);
      c.either(`header length field ${length}`);
    } else {
      edits.push(`v.setPath(${h}, [${J(r.pick(['constructor', 'toString', 'hasOwnProperty', '']))}], { dtype: 'F32', shape: [1], data_offsets: [0, 4] })`);
      c.either('a tensor named like an Object method (or empty)');
    }
  }
  if (mut.has('bytes')) {
    const kind = r.pick(['trailing', 'short', 'empty', 'tiny'] as const);
    body = kind === 'trailing' ? `${body} + ${r.int(1, 9)}` : kind === 'short' ? `Math.max(0, ${body} - ${r.int(1, 8)})` : body;
    if (kind === 'empty' || kind === 'tiny') {
      c.either(`a ${kind} file`);
      const bytes = kind === 'empty' ? 'new Uint8Array(0)' : `v.bytes([], ${r.int(1, 12)})`;
      return c.finish(fn, [fn, shown], (A) => `lib.${fn}(${A})`, [`v.file(${J(name)}, ${bytes})`]);
    }
    c.either(`body: ${kind}`);
  }
  for (const e of edits) c.stmt(e);
  const bytes = `v.safetensorsBytes(${h}, ${body}, ${length}, ${text})`;
  return c.finish(fn, [fn, shown], (A) => `lib.${fn}(${A})`, [`v.file(${J(name)}, ${bytes})`]);
}

const NET_CONFIGS = [
  { kind: 'TwoLayerNet', options: { inputSize: 4, hiddenSize: 3, outputSize: 2 } },
  { kind: 'MultiLayerNet', options: { inputSize: 5, hiddenSizeList: [3, 2], outputSize: 2 } },
  { kind: 'MultiLayerNetExtend', options: { inputSize: 4, hiddenSizeList: [3], outputSize: 2, useBatchnorm: true, useDropout: true } },
  { kind: 'SimpleConvNet', options: { inputDim: [1, 6, 6], convParam: { filterNum: 2, filterSize: 3, pad: 0, stride: 1 }, hiddenSize: 3, outputSize: 2 } },
];

function networkLoader(c: Ctx): Call {
  const r = c.r;
  const name = `net-${(r.next() * 2 ** 32) >>> 0}.safetensors`;
  const fn = r.pick(['loadNetwork', 'readNetworkDescription'] as const);
  c.accept(...LOADER_ERRORS);
  const cfg = r.pick(NET_CONFIGS);
  const n = c.let(`v.networkHeader(${J(cfg)})`);
  const mut = c.pick(['description', 'tensors', 'file']);
  let body = `${n}.body`;
  if (mut.has('file')) {
    const s = specialFile(c, name);
    return c.finish(fn, [fn, s.shown], (A) => `lib.${fn}(${A})`, [s.src]);
  }
  if (mut.has('description')) {
    const [path, value] = r.pick([
      [['config', 'options', 'inputSize'], 20000], [['config', 'options', 'hiddenSize'], 2 ** 31 - 1], [['config', 'options', 'inputSize'], -1],
      [['config', 'options', 'hiddenSizeList'], [20000]], [['config', 'kind'], 'Bogus'], [['config', 'kind'], '__proto__'], [['config'], null],
      [['layers', 0, 'in'], 20000], [['layers', 0, 'out'], 2 ** 31], [['layers', 0, 'type'], 'Bogus'], [['layers'], []], [['layers'], null],
      [['layers', 0, 'tensors', 'W'], 'missing'], [['version'], 99], [['kind'], 'Sequential'], [['config', 'options'], { inputSize: 20000, hiddenSizeList: [20000], outputSize: 10 }],
      [['layers', 0, 'outputShape'], [2 ** 31]], [['input', 'shape'], [2 ** 31, 2 ** 31]], [['config', 'options', 'inputDim'], [1, 20000, 20000]],
    ] as Array<[(string | number)[], unknown]>);
    c.stmt(`v.editNetwork(${n}.header, ${J(path)}, ${J(value)})`);
    c.either(`description: ${path.join('.')} = ${J(value)}`);
  }
  if (mut.has('tensors')) {
    const kind = r.pick(['shape', 'drop', 'nan', 'rename', 'meta'] as const);
    if (kind === 'shape') {
      c.stmt(`{ const k = Object.keys(${n}.header).filter((k) => k !== '__metadata__')[0]; ${n}.header[k].shape = [${r.pick(['20000, 20000', '1', '2 ** 31, 2', '0'])}]; }`);
      c.either('a tensor of another shape');
    } else if (kind === 'drop') {
      c.stmt(`{ const k = Object.keys(${n}.header).filter((k) => k !== '__metadata__').pop(); delete ${n}.header[k]; }`);
      c.either('a tensor missing');
    } else if (kind === 'nan') {
      body = `${n}.body`;
      c.stmt(`${n}.nan = true`);
      c.either('NaN parameters (refused unless allowed)');
    } else if (kind === 'rename') {
      c.stmt(`{ const k = Object.keys(${n}.header).filter((k) => k !== '__metadata__')[0]; ${n}.header.renamed = ${n}.header[k]; delete ${n}.header[k]; }`);
      c.either('a tensor renamed');
    } else {
      c.stmt(`v.setPath(${n}.header, ['__metadata__', 'network'], ${r.pick(["'{'", "'null'", "'[]'", "'\"x\"'", "'{}'"])})`);
      c.either('metadata.network not a description');
    }
  }
  const bytes = `(${n}.nan ? v.nanFirst : (b) => b)(v.safetensorsBytes(${n}.header, ${body}))`;
  return c.finish(fn, [fn, name], (A) => `lib.${fn}(${A})`, [`v.file(${J(name)}, ${bytes})`],
    { looseFns: ['TwoLayerNet', 'MultiLayerNet', 'MultiLayerNetExtend', 'SimpleConvNet', 'networkFromConfig', 'Affine', 'Convolution'] });
}

function idxLoader(c: Ctx): Call {
  const r = c.r;
  const gz = r.chance(0.4);
  const name = `idx-${(r.next() * 2 ** 32) >>> 0}${gz ? '.gz' : ''}`;
  const fn = r.pick(['readIdx', 'readIdxImages', 'readIdxLabels'] as const);
  c.accept(...LOADER_ERRORS);
  const images = fn === 'readIdxImages' || (fn === 'readIdx' && r.chance(0.5));
  let magic = images ? 0x803 : 0x801;
  let dims = images ? [r.int(1, 3), r.int(1, 4), r.int(1, 4)] : [r.int(1, 6)];
  let body = prod(dims);
  let bomb = 0;
  const mut = c.pick(['magic', 'dims', 'body', 'file', 'gzip']);
  if (mut.has('file')) {
    const s = specialFile(c, name);
    return c.finish(fn, [fn, s.shown], (A) => `lib.${fn}(${A})`, [s.src]);
  }
  if (mut.has('magic')) {
    magic = r.pick([0, 0x801, 0x803, 0x804, 0x80e, 0x0d03, 0x1f8b0803, 0xffffffff, 0x8ff]);
    c.either(`magic 0x${magic.toString(16)}`);
  }
  if (mut.has('dims')) {
    dims = r.pick([[2 ** 31, 2 ** 31, 2 ** 31], [0, 28, 28], [60000, 28, 28], [2 ** 32 - 1], [1, 1, 1, 1, 1, 1], [], [1, 2 ** 20, 2 ** 20]]);
    c.either(`dims ${listSrc(dims)}`);
  }
  if (mut.has('body')) {
    body = r.pick([0, body - 1, body + 1, body + 1000]);
    c.either(`${body} body bytes`);
  }
  if (gz && mut.has('gzip')) {
    bomb = r.pick([1, 4, 16, 64]);
    c.either(`a gzip member of ${bomb} MiB of zeros after the file`);
  }
  if (!gz && mut.has('gzip')) {
    c.either('gzip magic on a raw name');
  }
  const raw = `v.idxBytes(${magic}, ${listSrc(dims)}, ${Math.max(0, body)})`;
  const bytes = gz ? `v.gzip(${raw}, ${bomb})` : mut.has('gzip') ? `v.patch(${raw}, [[0, 0x1f], [1, 0x8b]])` : raw;
  return c.finish(fn, [fn, name], (A) => `lib.${fn}(${A})`, [`v.file(${J(name)}, ${bytes})`]);
}

function pickleLoader(c: Ctx): Call {
  const r = c.r;
  c.accept(...LOADER_ERRORS);
  const proto = r.pick([2, 3, 4, 5, 1, 6, 0]);
  const ops = r.pick([
    [], [0x7d, 0x71, 0x00, 0x2e], // {} then STOP
    [0x8c, 0xff, 0x41], // SHORT_BINUNICODE claims 255 bytes
    [0x58, 0xff, 0xff, 0xff, 0x7f], // BINUNICODE claims 2 GiB
    [0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], // BINUNICODE8 claims 2^63
    [0x42, 0xff, 0xff, 0xff, 0x7f], // BINBYTES claims 2 GiB
    [0x63, 0x6f, 0x73, 0x0a, 0x73, 0x79, 0x73, 0x74, 0x65, 0x6d, 0x0a], // GLOBAL os system
    [0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28], // MARKs
    [0x5d, 0x94, 0x68, 0x00, 0x61, 0x2e], // a list that contains itself
  ]);
  const n = r.int(0, 64);
  const bytes = `v.patch(v.bytes([0x80, ${proto}, ${ops.join(', ')}], ${n}, ${r.int(1, 1000)}), [])`;
  c.either(`a pickle of protocol ${proto}, ops ${J(ops)}, ${n} bytes of noise`, 'pickle');
  const mut = c.pick(['options']);
  const opts = mut.has('options') ? optionsArg(c, true, { maxBytes: (m) => intArg(c, m, ['maxBytes', 'options.maxBytes'], 1000, { min: 1, max: Number.MAX_SAFE_INTEGER, optional: true }) }, { optional: true }) : 'undefined';
  return c.finish('readPickleParams', ['readPickleParams'], (A) => `lib.readPickleParams(${A})`, [bytes, opts]);
}


// ---- more of the public API: the Trainer, im2col, rows and labels, files written, augmentation ----

function trainer(c: Ctx): Call {
  const r = c.r, N = r.int(2, 6), I = r.int(1, 4), O = r.int(2, 3);
  const net = c.let(`new lib.MultiLayerNet({ inputSize: ${I}, hiddenSizeList: [3], outputSize: ${O} })`);
  const mut = c.pick(['xTrain', 'tTrain', 'options']);
  const x = tensorArg(c, mut.has('xTrain'), ['xTrain'], [N, I], { wrong: [[N, I + 1]], patterns: CLEAN });
  const t = labelsArg(c, mut.has('tTrain'), ['tTrain', 'xTrain'], N, O);
  const xt = tensorSrc(c, [2, I], CLEAN);
  const tt = J([0, 1]);
  const opts = optionsArg(c, mut.has('options'), {
    epochs: (m) => intArg(c, m, ['epochs'], r.int(1, 2), { min: 1, optional: true, dflt: -1 }),
    miniBatchSize: (m) => intArg(c, m, ['miniBatchSize'], r.int(1, 4), { min: 1, optional: true, dflt: -1 }),
    maxIterations: (m) => intArg(c, m, ['maxIterations'], r.int(1, 5), { min: 1, optional: true, dflt: -1 }),
    evaluateSampleNumPerEpoch: (m) => intArg(c, m, ['evaluateSampleNumPerEpoch'], 2, { min: 1, optional: true, dflt: -1 }),
    evalEvery: (m) => intArg(c, m, ['evalEvery'], r.int(0, 3), { min: 0, optional: true, dflt: -1 }),
    evaluateFirst: (m) => boolArg(c, m, ['evaluateFirst'], { optional: true }),
    optimizer: (m) => {
      if (!m) return r.pick(["'sgd'", "'adam'", "'momentum'", "'adagrad'", "'rmsprop'", "'nesterov'"]);
      const x = r.pick(["'bogus'", "''", '3', 'null', '({})', "'SGD '"]);
      c.bad(`optimizer = ${x}`, 'optimizer');
      return x;
    },
    optimizerParam: (m) => optionsArg(c, m, {
      lr: (mm) => {
        const src = numArg(c, mm, ['lr'], 0.01, { min: 0, minExclusive: true, optional: true });
        // A valid but huge lr (1e300) diverges: the documented NonFiniteError is then the answer.
        if (mm && c.expect === 'ok') c.either(`lr ${src} may diverge`, 'lr');
        return src;
      },
    }, { name: 'optimizerParam', optional: true }),
    checkFinite: (m) => {
      if (!m) return r.pick(["'loss'", "'layers'"]);
      const x = r.pick(["'all'", 'true', 'null', '1']);
      c.bad(`checkFinite = ${x}`, 'checkFinite');
      return x;
    },
  }, { optional: true });
  // A non-finite loss (an lr of 1e300) is the documented NonFiniteError; errors of the optimizer's
  // options name the optimizer (SGD: lr ...) and a shape that does not fit names the network.
  c.accept('NonFiniteError');
  return c.finish('Trainer', ['Trainer', 'Sequential', 'optimizerFromName', 'SGD', 'Momentum', 'Nesterov', 'AdaGrad', 'RMSprop', 'Adam'],
    (A) => `new lib.Trainer(${A}).train()`, [net, x, t, xt, tt, opts], { looseFns: ['predict', 'layer', 'SoftmaxWithLoss.forward', 'Affine'] });
}

function im2colTarget(c: Ctx): Call {
  const r = c.r, N = r.int(1, 2), C = r.int(1, 2), FH = r.int(1, 3), FW = r.int(1, 3);
  const H = FH + r.int(0, 2), W = FW + r.int(0, 2), stride = r.int(1, 2), pad = r.int(0, 1);
  const mut = c.pick(['x', 'filterH', 'filterW', 'stride', 'pad']);
  const args = [
    tensorArg(c, mut.has('x'), ['x'], [N, C, H, W], { wrong: [[N, C, H], [N * C * H * W]] }),
    intArg(c, mut.has('filterH'), ['filterH'], FH, { min: 1 }), intArg(c, mut.has('filterW'), ['filterW'], FW, { min: 1 }),
    intArg(c, mut.has('stride'), ['stride'], stride, { min: 1, optional: true, dflt: 1 }),
    intArg(c, mut.has('pad'), ['pad'], pad, { min: 0, optional: true, dflt: 0 }),
  ];
  return c.finish('im2col', ['im2col'], (A) => `lib.im2col(${A})`, args);
}

function takeTarget(c: Ctx): Call {
  const r = c.r, N = r.int(1, 5);
  const a = r.chance(0.5) ? c.let(`new lib.Tensor(v.f32(${N * 2}), [${N}, 2])`) : c.let(`Int32Array.from(${J(Array.from({ length: N }, (_, i) => i % 3))})`);
  const mut = c.pick(['indices']);
  let idx = J(Array.from({ length: r.int(1, 4) }, () => r.int(-N, N - 1)));
  if (mut.has('indices')) {
    const [what, src] = r.pick([['out of range', `[${N}]`], ['below -N', `[${-N - 1}]`], ['0.5', '[0.5]'], ['a string', "['0']"], ['empty', '[]'],
      ['null', 'null'], ['NaN', '[NaN]'], ['2 ** 53', '[2 ** 53]'], ['a Float64Array', 'Float64Array.of(0.5)'], ['a BigInt64Array', 'BigInt64Array.of(0n)']] as const);
    c.bad(`indices: ${what}`, 'indices');
    idx = src;
  }
  return c.finish('take', ['take', 'Tensor.take'], (A) => `lib.take(${A})`, [a, idx]);
}

function argmaxTarget(c: Ctx): Call {
  const r = c.r, N = r.int(1, 4), C = r.int(1, 5);
  const mut = c.pick(['y']);
  return c.finish('argmax', ['argmax'], (A) => `lib.argmax(${A})`, [tensorArg(c, mut.has('y'), ['y'], [N, C])]);
}

function reshapeTarget(c: Ctx): Call {
  const r = c.r, s = anyShape(c), n = prod(s);
  const t = c.let(`new lib.Tensor(v.f32(${n}), ${J(s)})`);
  const mut = c.pick(['shape']);
  let shape = J([n]);
  if (mut.has('shape')) {
    const [what, src] = r.pick([['one more', J([n + 1])], ['[1, 2 ** 31]', '[1, 2 ** 31]'], ['a string', "'2'"], ['[0]', '[0]'], ['null', 'null'], ['[-1]', `[-1, ${n}]`]] as const);
    c.bad(`shape: ${what}`, 'shape', 'data');
    shape = src;
  }
  return c.finish('Tensor.reshape', ['Tensor', 'reshape'], (A) => `${t}.reshape(${A})`, [shape]);
}

function loadStateTarget(c: Ctx): Call {
  const r = c.r;
  const cls = r.pick(['Momentum', 'AdaGrad', 'Adam', 'RMSprop']);
  const src = c.let(`new lib.${cls}()`);
  c.stmt(`${src}.update({ W: lib.Tensor.zeros([2, 2]) }, { W: lib.tensor([[1, 2], [3, 4]]) })`);
  const st = c.let(`${src}.state()`);
  const opt = c.let(`new lib.${cls}()`);
  const mut = c.pick(['state']);
  if (mut.has('state')) {
    const [what, edit] = r.pick([
      ['iter -1', `${st}.iter = -1`], ['iter 0.5', `${st}.iter = 0.5`], ['lr 0', `${st}.lr = 0`], ['name bogus', `${st}.name = 'bogus'`],
      ['slots null', `${st}.slots = null`],
      ['a lying slot', `{ const k = Object.keys(${st}.slots)[0]; ${st}.slots[k].W = v.like([2 ** 31], v.f32(4)); }`],
      ['an extra slot', `${st}.slots.extra = {}`], ['a slot that is a number', `{ const k = Object.keys(${st}.slots)[0]; ${st}.slots[k].W = 3; }`],
    ] as const);
    c.stmt(edit);
    c.bad(`state: ${what}`, 'state', 'iter', 'lr', 'slots', 'W', 'extra');
  }
  const fn = `${cls}.loadState`;
  return c.finish(fn, [fn], (A) => `${opt}.loadState(${A})`, [st]);
}

function writeSafetensorsTarget(c: Ctx): Call {
  const r = c.r;
  const name = `w-${(r.next() * 2 ** 32) >>> 0}.safetensors`;
  c.accept(...LOADER_ERRORS);
  const mut = c.pick(['file', 'tensors', 'metadata']);
  let file = `v.tempPath(${J(name)})`;
  if (mut.has('file')) {
    const [what, src] = r.pick([['empty', "''"], ['a number', '3'], ['a folder', `v.special(${J(name)}, 'folder')`], ['in a missing folder', `v.tempPath('missing/' + ${J(name)})`]] as const);
    c.bad(`file: ${what}`, 'file', 'folder');
    file = src;
  }
  // writeSafetensors takes Tensors only (a tensor-like is a TypeError naming it).
  const shapeA = anyShape(c);
  let tensors = `{ a: new lib.Tensor(${dataSrc(c, prod(shapeA), CLEAN)}, ${J(shapeA)}), b: new lib.Tensor(v.f32(2), [2]) }`;
  if (mut.has('tensors')) {
    const [what, src] = r.pick([['null', 'null'], ['a number', '3'], ['a non-tensor value', '{ a: 3 }'], ['a lying tensor-like', '{ a: v.like([2 ** 31], v.f32(2)) }'],
      ['__metadata__ as a name', "{ __metadata__: lib.Tensor.zeros([1]) }"], ['a detached tensor', '{ a: v.detachData(new lib.Tensor(v.f32(4), [4])) }']] as const);
    c.bad(`tensors: ${what}`, 'tensors', 'a', '__metadata__');
    tensors = src;
  }
  let meta = r.chance(0.5) ? 'undefined' : "{ note: 'x' }";
  if (mut.has('metadata')) {
    const [what, src] = r.pick([['null', 'null'], ['a number value', '{ n: 3 }'], ['a string', "'x'"], ['an array', '[1]']] as const);
    c.bad(`metadata: ${what}`, 'metadata', 'n');
    meta = src;
  }
  return c.finish('writeSafetensors', ['writeSafetensors', name], (A) => `lib.writeSafetensors(${A})`, [file, tensors, meta]);
}

function shiftImagesTarget(c: Ctx): Call {
  const r = c.r, N = r.int(1, 3), C = r.int(1, 2), H = r.int(2, 5), W = r.int(2, 5);
  const mut = c.pick(['x', 'shifts']);
  const x = tensorArg(c, mut.has('x'), ['x'], [N, C, H, W]);
  let shifts = J(Array.from({ length: N }, () => [r.int(-H, H), r.int(-W, W)]));
  if (mut.has('shifts')) {
    const [what, src] = r.pick([['one too few', J(Array.from({ length: N - 1 }, () => [0, 0]))], ['a non-integer', J(Array.from({ length: N }, () => [0.5, 0]))],
      ['null', 'null'], ['a pair of strings', J(Array.from({ length: N }, () => ['1', '0']))], ['2 ** 31', `Array.from({ length: ${N} }, () => [2 ** 31, 0])`]] as const);
    if (what === '2 ** 31') c.either(`shifts: ${what}`, 'shifts');
    else c.bad(`shifts: ${what}`, 'shifts');
    shifts = src;
  }
  return c.finish('shiftImages', ['shiftImages'], (A) => `lib.shiftImages(${A})`, [x, shifts]);
}

export function apiTargets(): Target[] {
  return [
    target('Tensor (constructor)', 2, tensorCtor),
    target('tensor', 2, tensorFn),
    target('Tensor.zeros', 1, tensorZeros),
    target('Tensor.rows', 1, rowsTake),
    target('Affine', 4, affine),
    target('Convolution', 4, convolution),
    target('Pooling', 3, pooling('Pooling')),
    target('AvgPooling', 2, pooling('AvgPooling')),
    target('Relu', 2, elementwise('Relu')),
    target('Sigmoid', 1, elementwise('Sigmoid')),
    target('Tanh', 1, elementwise('Tanh')),
    target('Dropout', 2, dropout),
    target('BatchNormalization', 3, batchNorm),
    target('SoftmaxWithLoss', 3, softmaxWithLoss),
    target('networks (constructors)', 3, networkCtor),
    target('Sequential methods', 3, networkMethod),
    target('optimizers', 4, optimizer),
    target('safetensors files', 3, safetensorsLoader),
    target('network files', 2, networkLoader),
    target('IDX files', 2, idxLoader),
    target('pickles', 1, pickleLoader),
    target('Trainer', 2, trainer),
    target('im2col', 1, im2colTarget),
    target('take', 1, takeTarget),
    target('argmax', 1, argmaxTarget),
    target('Tensor.reshape', 1, reshapeTarget),
    target('optimizers (loadState)', 1, loadStateTarget),
    target('writeSafetensors', 1, writeSafetensorsTarget),
    target('shiftImages', 1, shiftImagesTarget),
  ];
}
