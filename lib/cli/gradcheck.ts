// SPDX-License-Identifier: MIT
// `blasnet gradcheck`: backpropagation against central differences for every
// layer kind and every preset network, on tiny inputs.
import { Command } from 'commander';
import { Relu, Sigmoid, Tanh } from '../nn/layers/activations';
import { AvgPooling, Convolution, Pooling } from '../nn/layers/conv';
import { Affine } from '../nn/layers/dense';
import { Layer } from '../nn/layers/layer';
import { BatchNormalization, Dropout } from '../nn/layers/regularization';
import { Sequential } from '../nn/network';
import { DeepConvNet, MultiLayerNet, MultiLayerNetExtend, SimpleConvNet, TwoLayerNet } from '../nn/presets';
import { loadMnist } from '../data';
import { fillRandn, randn, random, setSeed } from '../core/random';
import { Tensor } from '../core/tensor';
import { EXIT, intArg, Io, msg, positiveArg } from './common';

export interface GradcheckResult {
  name: string;
  /** Worst relative error over the parameters, ||backprop - numerical|| / (||backprop|| + ||numerical||). */
  worst: number;
  worstParam: string;
  perParam: Record<string, number>;
}

/**
 * Dropout draws a new mask on every forward pass, and numerical differentiation runs many
 * forward passes; reseeding before each one gives every pass the same mask.
 */
function fixedMask(layer: Layer, seed: number): Layer {
  return {
    name: layer.name, params: layer.params, grads: layer.grads,
    forward: (x, train) => { setSeed(seed); return layer.forward(x, train); },
    backward: (d) => layer.backward(d),
    outputShape: layer.outputShape?.bind(layer),
  };
}

function withFixedDropout(net: Sequential): Sequential {
  net.layers.forEach((l, i) => { if (l instanceof Dropout) net.layers[i] = fixedMask(l, 1000 + i); });
  return net;
}

function labels(n: number, classes: number): Int32Array {
  const t = new Int32Array(n);
  for (let i = 0; i < n; i++) t[i] = Math.floor(random() * classes);
  return t;
}

function affine(i: number, o: number): Affine {
  return new Affine(randn([i, o], Math.sqrt(2 / i)), randn([o], 0.1));
}

interface Case { name: string; net: () => Sequential; input: number[] }

/** The checks: one small network per layer kind, then each preset in a tiny size. */
export function gradcheckCases(): Case[] {
  const bn = (n: number): BatchNormalization => {
    const g = randn([n], 0.1);
    for (let i = 0; i < n; i++) g.data[i] += 1;
    return new BatchNormalization(g, randn([n], 0.1));
  };
  const conv = (fn: number, c: number, f: number, stride: number, pad: number): Convolution =>
    new Convolution(randn([fn, c, f, f], Math.sqrt(2 / (c * f * f))), randn([fn], 0.1), stride, pad);
  return [
    { name: 'Affine', input: [4, 6], net: () => new Sequential([affine(6, 5), affine(5, 3)]) },
    { name: 'Relu', input: [4, 6], net: () => new Sequential([affine(6, 5), new Relu(), affine(5, 3)]) },
    { name: 'Sigmoid', input: [4, 6], net: () => new Sequential([affine(6, 5), new Sigmoid(), affine(5, 3)]) },
    { name: 'Tanh', input: [4, 6], net: () => new Sequential([affine(6, 5), new Tanh(), affine(5, 3)]) },
    { name: 'Dropout', input: [4, 6], net: () => withFixedDropout(new Sequential([affine(6, 5), new Dropout(0.3), affine(5, 3)])) },
    { name: 'BatchNormalization', input: [4, 6], net: () => new Sequential([affine(6, 5), bn(5), new Relu(), affine(5, 3)]) },
    { name: 'Convolution', input: [2, 2, 5, 5], net: () => new Sequential([conv(3, 2, 3, 1, 1), affine(75, 3)]) },
    { name: 'Convolution (stride 2, pad 1)', input: [2, 2, 6, 6], net: () => new Sequential([conv(2, 2, 3, 2, 1), affine(18, 3)]) },
    { name: 'Convolution (pad 2)', input: [2, 2, 3, 3], net: () => new Sequential([conv(2, 2, 3, 1, 2), affine(50, 3)]) },
    { name: 'Pooling', input: [2, 2, 4, 4], net: () => new Sequential([new Pooling(2, 2, 2), affine(8, 3)]) },
    { name: 'AvgPooling', input: [2, 2, 4, 4], net: () => new Sequential([new AvgPooling(2, 2, 2), affine(8, 3)]) },
    { name: 'TwoLayerNet', input: [4, 6], net: () => new TwoLayerNet({ inputSize: 6, hiddenSize: 5, outputSize: 3, weightInitStd: 'he' }) },
    { name: 'MultiLayerNet (ReLU, L2)', input: [4, 6], net: () => new MultiLayerNet({ inputSize: 6, hiddenSizeList: [5, 4], outputSize: 3, weightDecayLambda: 0.1 }) },
    { name: 'MultiLayerNet (sigmoid, L1)', input: [4, 6], net: () => new MultiLayerNet({ inputSize: 6, hiddenSizeList: [5, 4], outputSize: 3, activation: 'sigmoid', weightInitStd: 'xavier', l1Lambda: 0.01 }) },
    { name: 'MultiLayerNetExtend (batch norm, dropout)', input: [4, 6], net: () => withFixedDropout(new MultiLayerNetExtend({ inputSize: 6, hiddenSizeList: [5, 4], outputSize: 3, useBatchnorm: true, useDropout: true, dropoutRatio: 0.2 })) },
    { name: 'SimpleConvNet', input: [2, 1, 8, 8], net: () => new SimpleConvNet({ inputDim: [1, 8, 8], convParam: { filterNum: 3, filterSize: 3 }, hiddenSize: 5, outputSize: 3, weightInitStd: 'he' }) },
    { name: 'DeepConvNet', input: [2, 1, 8, 8], net: () => withFixedDropout(new DeepConvNet({
      inputDim: [1, 8, 8], hiddenSize: 4, outputSize: 3, dropoutRatio: 0.2,
      convParams: [1, 1, 2, 2, 2, 2].map((fn, i) => ({ filterNum: fn, filterSize: 3, pad: i === 3 ? 2 : 1, stride: 1 })),
    })) },
  ];
}

function relError(a: Float32Array, b: Float32Array): number {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { d += (a[i] - b[i]) ** 2; na += a[i] ** 2; nb += b[i] ** 2; }
  // float32 central differences with h = 1e-3 carry noise of about 1e-4 per element, so a
  // gradient whose norm is below 1e-2 (a bias before batch norm has exactly 0) is compared
  // against that floor instead of its own size.
  return Math.sqrt(d) / Math.max(Math.sqrt(na) + Math.sqrt(nb), 1e-2);
}

/**
 * Runs one check: gradient() against numericalGradient() on a random batch. A ReLU or max-pool
 * input within h of its kink makes the central difference wrong by a large amount; with many
 * units some draws hit one. Such a draw is recognised by its two one-sided differences
 * disagreeing, and only then is another draw made (up to `attempts`); a mismatch at a smooth
 * point is kept, so a wrong backward cannot hide behind a lucky draw.
 */
export function gradcheckOne(c: Case, seed: number, attempts = 8, threshold = 1e-2):
  GradcheckResult & { seed: number; kinks: number; inconclusive: boolean } {
  let kinks = 0;
  for (let a = 0; ; a++) {
    const r = gradcheckDraw(c, seed + a);
    const kinked = r.atKink && r.worst > threshold;
    if (!kinked || a + 1 >= attempts) {
      return { name: r.name, worst: r.worst, worstParam: r.worstParam, perParam: r.perParam, seed: seed + a, kinks, inconclusive: kinked };
    }
    kinks++;
  }
}

function gradcheckDraw(c: Case, seed: number): GradcheckResult & { atKink: boolean } {
  setSeed(seed);
  const net = c.net();
  // Presets start with zero biases, so a window that sees only padding (DeepConvNet's pad 2) or
  // only dead units has a pre-activation of exactly 0: ReLU's kink, where the two one-sided
  // differences disagree. Random biases move the check to a generic point.
  for (const [name, p] of Object.entries(net.params)) if (/^b\d+$/.test(name)) fillRandn(p.data, 0.1);
  // Inputs of MNIST's scale: with N(0, 1) pixels a He-initialised convnet can give a softmax
  // probability below the loss's 1e-7 floor, where the loss is flat but backprop is not.
  const x = randn(c.input, 0.5);
  const classes = net.checkShapes(c.input.slice(1))[0];
  const t = labels(c.input[0], classes);
  // Copies: gradient() returns the layers' own buffers, which the numerical passes overwrite.
  const analytic = Object.fromEntries(Object.entries(net.gradient(x, t)).map(([k, g]) => [k, g.data.slice()]));
  const h = 1e-3;
  const numeric = net.numericalGradient(x, t, h);
  const perParam: Record<string, number> = {};
  let worst = 0, worstParam = '';
  for (const key of Object.keys(numeric)) {
    const e = relError(analytic[key], numeric[key].data);
    perParam[key] = e;
    if (e >= worst) { worst = e; worstParam = key; }
  }
  // One-sided differences at the element that disagrees most.
  let atKink = false;
  if (worstParam) {
    const a = analytic[worstParam], n = numeric[worstParam].data, p = net.params[worstParam].data;
    let i = 0;
    for (let j = 1; j < a.length; j++) if (Math.abs(a[j] - n[j]) > Math.abs(a[i] - n[i])) i = j;
    const old = p[i];
    const f0 = net.loss(x, t, true);
    p[i] = old + h;
    const fp = net.loss(x, t, true);
    p[i] = old - h;
    const fm = net.loss(x, t, true);
    p[i] = old;
    const right = (fp - f0) / h, left = (f0 - fm) / h;
    // At a smooth point right and left agree to O(h); a jump as large as the mismatch itself
    // means a kink lies within h, and the central difference, not backprop, is off.
    atKink = Math.abs(right - left) >= Math.abs(a[i] - n[i]);
  }
  return { name: c.name, worst, worstParam, perParam, atKink };
}

/** float32's machine epsilon (2^-23) and float64's (2^-52). */
const EPS32 = 2 ** -23, EPS64 = 2 ** -52;

/**
 * The loss of a network of Affine, Relu, Sigmoid and Tanh layers recomputed in float64 from
 * its float32 parameters, with one parameter element replaced by `value` (the course's
 * SoftmaxWithLoss: softmax, then -log(y + 1e-7) averaged over the batch, plus weight decay).
 */
function float64Loss(net: Sequential, x: Tensor, t: Int32Array, param: Tensor | null, index: number, value: number): number {
  const N = x.shape[0];
  let h = Float64Array.from(x.data);
  let width = x.data.length / N;
  const val = (p: Tensor, i: number): number => (p === param && i === index ? value : p.data[i]);
  for (const layer of net.layers) {
    if (layer instanceof Affine) {
      const { W, b } = layer.params;
      const [I, O] = W.shape;
      const y = new Float64Array(N * O);
      for (let n = 0; n < N; n++) {
        for (let o = 0; o < O; o++) {
          let s = val(b, o);
          for (let i = 0; i < I; i++) s += h[n * I + i] * val(W, i * O + o);
          y[n * O + o] = s;
        }
      }
      h = y;
      width = O;
    } else if (layer instanceof Relu) h = h.map((v) => (v > 0 ? v : 0));
    else if (layer instanceof Sigmoid) h = h.map((v) => 1 / (1 + Math.exp(-v)));
    else if (layer instanceof Tanh) h = h.map((v) => Math.tanh(v));
    else throw new TypeError(`float64Loss: ${layer.name} is not recomputed in float64`);
  }
  let loss = 0;
  for (let n = 0; n < N; n++) {
    const row = h.subarray(n * width, (n + 1) * width);
    const mx = Math.max(...row);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - mx);
    loss -= Math.log(Math.exp(row[t[n]] - mx) / sum + 1e-7);
  }
  loss /= N;
  let sq = 0, abs = 0;
  for (const [name, p] of Object.entries(net.params)) {
    if (!/^W\d+$/.test(name)) continue;
    for (let i = 0; i < p.data.length; i++) { const v = val(p, i); sq += v * v; abs += Math.abs(v); }
  }
  return loss + 0.5 * net.weightDecayLambda * sq + net.l1Lambda * abs;
}

export interface CourseCheckRow {
  name: string;
  /** Mean |backprop - numerical| with the numerical gradient in float32 (h = 1e-3), over all elements: the book's figure. */
  float32: number;
  /** The same with the numerical gradient recomputed in float64 (h = 1e-4, the course's), over `sampled` elements. */
  float64: number;
  sampled: number;
  total: number;
  /** Mean |gradient| of the parameter, for scale. */
  meanAbs: number;
}

export interface CourseCheck {
  /** 'mnist': the first 3 built-in training digits, as the course's x_train[:3]; 'random' when the data cannot be loaded. */
  data: 'mnist' | 'random';
  loss: number;
  rows: CourseCheckRow[];
  /** Rounding noise expected of a float32 central difference: epsilon(float32) x loss / h. */
  expected32: number;
  /** The same for float64 with the course's h = 1e-4. */
  expected64: number;
}

/**
 * The course's gradient_check.py: TwoLayerNet(784, 50, 10) on 3 training samples, mean
 * |backprop - numerical| for W1, b1, W2, b2. The numerical gradient is taken twice: by
 * blasnet's float32 numericalGradient (h = 1e-3), and in float64 (h = 1e-4, as the book) on
 * up to `samples` elements of each parameter, which shows how much of the difference is the
 * float32 central difference's own noise.
 */
export function courseGradientCheck(seed = 1, samples = 300): CourseCheck {
  setSeed(seed);
  let x: Tensor, t: Int32Array, data: 'mnist' | 'random' = 'mnist';
  try {
    const d = loadMnist({ flatten: true, oneHotLabel: false });
    x = d.xTrain.rows(0, 3);
    t = d.tTrain.slice(0, 3);
  } catch {
    data = 'random';
    x = Tensor.zeros([3, 784]);
    for (let i = 0; i < x.data.length; i++) x.data[i] = random() < 0.2 ? random() : 0;
    t = new Int32Array([5, 0, 4]);
  }
  const net = new TwoLayerNet({ inputSize: 784, hiddenSize: 50, outputSize: 10 });
  const loss = net.loss(x, t);
  const back = Object.fromEntries(Object.entries(net.gradient(x, t)).map(([k, g]) => [k, g.data.slice()]));
  const num32 = net.numericalGradient(x, t, 1e-3);
  const h64 = 1e-4;
  const rows: CourseCheckRow[] = Object.entries(net.params).map(([name, p]) => {
    const g = back[name];
    let d32 = 0, mean = 0;
    for (let i = 0; i < g.length; i++) { d32 += Math.abs(g[i] - num32[name].data[i]); mean += Math.abs(g[i]); }
    const picks = p.data.length <= samples ? Array.from({ length: p.data.length }, (_, i) => i)
      : Array.from({ length: samples }, () => Math.floor(random() * p.data.length));
    let d64 = 0;
    for (const i of picks) {
      const w = p.data[i];
      const n64 = (float64Loss(net, x, t, p, i, w + h64) - float64Loss(net, x, t, p, i, w - h64)) / (2 * h64);
      d64 += Math.abs(g[i] - n64);
    }
    return { name, float32: d32 / g.length, float64: d64 / picks.length, sampled: picks.length, total: g.length, meanAbs: mean / g.length };
  });
  return { data, loss, rows, expected32: (EPS32 * loss) / 1e-3, expected64: (EPS64 * loss) / h64 };
}

export interface GradcheckOptions {
  threshold: number;
  seed: number;
  attempts: number;
  /** Also run the course's gradient_check.py with the float32/float64 explanation (true). */
  course?: boolean;
}

export function gradcheckCommand(io: Io, done: (code: number) => void): Command {
  const m = msg(io).cli.gradcheck;
  return new Command('gradcheck')
    .description(m.description)
    .option('--threshold <x>', m.threshold, positiveArg(), 1e-2)
    .option('--seed <n>', m.seed, intArg(0), 1)
    .option('--attempts <n>', m.attempts, intArg(1), 8)
    .option('--no-course', m.noCourse)
    .action(async (opts: GradcheckOptions) => done(await gradcheck(io, opts)));
}

/** Runs `blasnet gradcheck`; returns the exit code. */
export async function gradcheck(io: Io, o: GradcheckOptions): Promise<number> {
  const m = msg(io).cli.gradcheck;
  const out = (line: string): void => { io.stdout.write(`${line}\n`); };
  const results = gradcheckCases().map((c) => gradcheckOne(c, o.seed, o.attempts ?? 8, o.threshold));
  const width = Math.max(...results.map((r) => r.name.length));
  out(m.header);
  for (const r of results) {
    const note = r.inconclusive ? m.inconclusive : r.worst > o.threshold ? m.above : '';
    out(`  ${r.name.padEnd(width)}  ${r.worst.toExponential(2)}  (${r.worstParam}, seed ${r.seed}${r.kinks ? m.afterKinks(r.kinks) : ''})${note}`);
  }
  const counted = results.filter((r) => !r.inconclusive);
  const worst = counted.length ? counted.reduce((a, b) => (b.worst > a.worst ? b : a)) : null;
  const ok = worst !== null && worst.worst <= o.threshold;
  out(worst === null ? m.noConclusive : m.worst(worst.worst.toExponential(2), worst.name, worst.worstParam, o.threshold, ok));
  if (o.course ?? true) {
    const c = courseGradientCheck(o.seed);
    out('');
    out(m.courseHeader(m.courseData[c.data], c.loss));
    const cols = m.courseColumns;
    const rows = c.rows.map((r) => [r.name, r.float32.toExponential(2), `${r.float64.toExponential(2)} (${m.sampled(r.sampled, r.total)})`, r.meanAbs.toExponential(2)]);
    const widths = cols.map((h, j) => Math.max(displayWidth(h), ...rows.map((r) => displayWidth(r[j]))));
    for (const row of [cols, ...rows]) out(`  ${row.map((v, j) => v + ' '.repeat(widths[j] - displayWidth(v))).join('  ')}`.trimEnd());
    out('');
    for (const line of m.why(EPS32.toExponential(1), EPS64.toExponential(1), c.loss)) out(line);
  }
  return ok ? EXIT.ok : EXIT.failed;
}

/** Columns a text takes in a terminal: CJK characters take two. */
function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(ch) ? 2 : 1;
  return w;
}
