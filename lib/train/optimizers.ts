// SPDX-License-Identifier: MIT
// The course's optimizers (Deep Learning from Scratch, section 6.1 and common/optimizer.py) with
// its exact formulas and epsilons, plus the weight-decay helpers networks use for L2 and L1.
//
// Parameters and state live in Float32Arrays; each element is read into a JS double, updated
// there and stored once, so one update rounds to float32 once per array instead of once per
// numpy operation. Parameters are updated in place: layers hold the same arrays.
import { describe, expectNumber, readOptions, ShapeError } from '../core/errors';
import { adaGradStep, adamStep, momentumStep, nesterovStep, rmspropStep, sgdStep } from '../core/kernels';
import { expectTensor, Tensor } from '../core/tensor';

/** What every optimizer offers; a caller may supply its own object of this shape. */
export interface Optimizer {
  /** Updates each `params[key].data` in place from `grads[key]`. */
  update(params: Record<string, Tensor>, grads: Record<string, Tensor>): void;
  /** Lower-case name, as accepted by optimizerFromName. */
  readonly name: string;
}

/** The built-in optimizers also expose their state and can forget it. */
export interface StatefulOptimizer extends Optimizer {
  readonly name: OptimizerName;
  /** A copy of the internal state (changing it does not affect the optimizer). */
  state(): OptimizerState;
  /** Forgets all state, as if newly constructed with the same hyperparameters. */
  reset(): void;
}

export type OptimizerName = 'sgd' | 'momentum' | 'nesterov' | 'adagrad' | 'rmsprop' | 'adam';

/** A snapshot of an optimizer's state. */
export interface OptimizerState {
  name: OptimizerName;
  /** update() calls since construction or reset(); Adam's bias correction uses it. */
  iter: number;
  /** Per state slot as named in the course (v, h, m), per parameter name: copies of the arrays. */
  slots: Record<string, Record<string, Tensor>>;
}

export interface SGDOptions {
  /** Learning rate, > 0. Default 0.01. */
  lr?: number;
}

export interface MomentumOptions {
  /** Learning rate, > 0. Default 0.01. */
  lr?: number;
  /** Velocity decay, in [0, 1). Default 0.9. */
  momentum?: number;
}

export type NesterovOptions = MomentumOptions;

export interface AdaGradOptions {
  /** Learning rate, > 0. Default 0.01. */
  lr?: number;
}

export interface RMSpropOptions {
  /** Learning rate, > 0. Default 0.01. */
  lr?: number;
  /** Decay of the running mean of squared gradients, in [0, 1). Default 0.99. */
  decayRate?: number;
}

export interface AdamOptions {
  /** Learning rate, > 0. Default 0.001. */
  lr?: number;
  /** Decay of the first-moment estimate, in [0, 1). Default 0.9. */
  beta1?: number;
  /** Decay of the second-moment estimate, in [0, 1). Default 0.999. */
  beta2?: number;
}

/** Options for optimizerFromName: the fields of whichever optimizer is named. */
export type OptimizerOptions = SGDOptions & MomentumOptions & RMSpropOptions & AdamOptions;

// The course adds this to sqrt(h) (AdaGrad, RMSprop) and sqrt(v) (Adam) to avoid dividing by 0.
const EPS = 1e-7;

function lrOption(cls: string, v: unknown, dflt: number): number {
  return expectNumber(cls, 'lr', v === undefined ? dflt : v, { min: 0, minExclusive: true });
}

function unitOption(cls: string, name: string, v: unknown, dflt: number): number {
  return expectNumber(cls, name, v === undefined ? dflt : v, { min: 0, max: 1, maxExclusive: true });
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Checks params/grads before anything is written, so a bad call leaves parameters and state
 * untouched. Returns the parameter names in iteration order.
 */
function checkParamsAndGrads(fn: string, params: unknown, grads: unknown): string[] {
  for (const [what, rec] of [['params', params], ['grads', grads]] as const) {
    if (rec === null || typeof rec !== 'object' || Array.isArray(rec) || rec instanceof Tensor) {
      throw new TypeError(`${fn}: ${what} must be an object mapping names to Tensors, got ${describe(rec)}`);
    }
  }
  const p = params as Record<string, unknown>;
  const g = grads as Record<string, unknown>;
  const keys = Object.keys(p);
  for (const key of keys) {
    expectTensor(fn, `params.${key}`, p[key]);
    if (!Object.prototype.hasOwnProperty.call(g, key)) {
      throw new RangeError(`${fn}: grads has no entry '${key}' (params has ${keys.join(', ')}; grads has ${Object.keys(g).join(', ') || 'nothing'})`);
    }
    expectTensor(fn, `grads.${key}`, g[key]);
    const pt = p[key] as Tensor;
    const gt = g[key] as Tensor;
    if (!sameShape(pt.shape, gt.shape) || pt.data.length !== gt.data.length) {
      throw new ShapeError(`${fn}: grads.${key} has shape ${shapeText(gt.shape)} (${gt.data.length} elements) but params.${key} has shape ${shapeText(pt.shape)} (${pt.data.length} elements)`);
    }
  }
  for (const key of Object.keys(g)) {
    if (!Object.prototype.hasOwnProperty.call(p, key)) {
      throw new RangeError(`${fn}: grads has an entry '${key}' that params lacks (params has ${keys.join(', ') || 'nothing'})`);
    }
  }
  return keys;
}

interface Slot {
  shape: number[];
  arrays: Float32Array[];
}

abstract class OptimizerBase implements StatefulOptimizer {
  abstract readonly name: OptimizerName;
  /** Class name as in the course, for error messages. */
  protected abstract readonly cls: string;
  /** Names of the per-parameter state arrays, as in the course (v, h, m). */
  protected abstract readonly slotNames: readonly string[];
  protected iter = 0;
  private slots = new Map<string, Slot>();

  update(params: Record<string, Tensor>, grads: Record<string, Tensor>): void {
    const fn = `${this.cls}.update`;
    const keys = checkParamsAndGrads(fn, params, grads);
    // State is found (or made) for every key before the first write, so a mismatch with
    // remembered state throws without having updated half of the parameters.
    const states = keys.map((key) => this.slotFor(fn, key, params[key]));
    this.iter++;
    this.beginStep();
    for (let i = 0; i < keys.length; i++) {
      this.step(params[keys[i]].data, grads[keys[i]].data, states[i]);
    }
  }

  state(): OptimizerState {
    const slots: Record<string, Record<string, Tensor>> = {};
    this.slotNames.forEach((slotName, j) => {
      const perKey: Record<string, Tensor> = {};
      for (const [key, slot] of this.slots) perKey[key] = new Tensor(slot.arrays[j].slice(), slot.shape);
      slots[slotName] = perKey;
    });
    return { name: this.name, iter: this.iter, slots };
  }

  reset(): void {
    this.iter = 0;
    this.slots = new Map();
  }

  /** Called once per update() after iter is incremented (Adam derives its lr_t here). */
  protected beginStep(): void {}

  /** Updates one parameter array in place; `state` holds one array per slot name. */
  protected abstract step(p: Float32Array, g: Float32Array, state: Float32Array[]): void;

  private slotFor(fn: string, key: string, param: Tensor): Float32Array[] {
    const known = this.slots.get(key);
    if (known) {
      if (known.arrays.length > 0 && known.arrays[0].length !== param.data.length) {
        throw new ShapeError(`${fn}: params.${key} has shape ${shapeText(param.shape)} but the state kept for '${key}' has shape ${shapeText(known.shape)}; call reset() when switching to other parameters`);
      }
      return known.arrays;
    }
    // Zero-initialised, as the course's np.zeros_like on the first update.
    const arrays = this.slotNames.map(() => new Float32Array(param.data.length));
    this.slots.set(key, { shape: [...param.shape], arrays });
    return arrays;
  }
}

/**
 * Plain stochastic gradient descent: W -= lr * dW.
 * @example
 *   const opt = new SGD({ lr: 0.1 });
 *   opt.update(net.params, net.gradient(x, t));
 */
export class SGD extends OptimizerBase {
  readonly name = 'sgd' as const;
  protected readonly cls = 'SGD';
  protected readonly slotNames = [] as const;
  readonly lr: number;

  constructor(options?: SGDOptions) {
    super();
    const o = readOptions('SGD', options, ['lr']);
    this.lr = lrOption('SGD', o.lr, 0.01);
  }

  protected step(p: Float32Array, g: Float32Array): void {
    // Native loop, arithmetic per element in double as the formula above.
    sgdStep(p, g, this.lr);
  }
}

/** Momentum and Nesterov: a velocity slot v, lr and momentum; they differ only in the step. */
abstract class VelocityOptimizer extends OptimizerBase {
  protected readonly slotNames = ['v'] as const;
  /** The native step of the subclass's formula. */
  protected abstract readonly velocityStep: typeof momentumStep;
  readonly lr: number;
  readonly momentum: number;

  constructor(cls: string, options?: MomentumOptions) {
    super();
    const o = readOptions(cls, options, ['lr', 'momentum']);
    this.lr = lrOption(cls, o.lr, 0.01);
    this.momentum = unitOption(cls, 'momentum', o.momentum, 0.9);
  }

  protected step(p: Float32Array, g: Float32Array, [v]: Float32Array[]): void {
    // Native loop, arithmetic per element in double as the formula of each class.
    this.velocityStep(p, g, v, this.lr, this.momentum);
  }
}

/**
 * Momentum SGD as in the course: v = momentum * v - lr * dW; W += v.
 * @example
 *   const opt = new Momentum({ lr: 0.01, momentum: 0.9 });
 *   opt.update(net.params, net.gradient(x, t));
 */
export class Momentum extends VelocityOptimizer {
  readonly name = 'momentum' as const;
  protected readonly cls = 'Momentum';
  protected readonly velocityStep = momentumStep;

  constructor(options?: MomentumOptions) {
    super('Momentum', options);
  }
}

/**
 * Nesterov's accelerated gradient as the course's current common/optimizer.py computes it
 * (after its commit "Fix Nesterov update function"; the parameter is stored at the look-ahead
 * point): first W += momentum² * v - (1 + momentum) * lr * dW with the velocity v from before
 * the step, then v = momentum * v - lr * dW. (Earlier versions of the course updated v first
 * and used the new v.) See Bengio, Boulanger-Lewandowski, Pascanu, "Advances in optimizing
 * recurrent networks", arXiv:1212.0901, section 3.5; with v = -lr * buf it is the same update
 * as torch.optim.SGD(nesterov=True).
 * @example
 *   const opt = new Nesterov({ lr: 0.01, momentum: 0.9 });
 *   opt.update(net.params, net.gradient(x, t));
 */
export class Nesterov extends VelocityOptimizer {
  readonly name = 'nesterov' as const;
  protected readonly cls = 'Nesterov';
  protected readonly velocityStep = nesterovStep;

  constructor(options?: NesterovOptions) {
    super('Nesterov', options);
  }
}

/**
 * AdaGrad as in the course: h += dW²; W -= lr * dW / (sqrt(h) + 1e-7).
 * @example
 *   const opt = new AdaGrad({ lr: 0.01 });
 *   opt.update(net.params, net.gradient(x, t));
 */
export class AdaGrad extends OptimizerBase {
  readonly name = 'adagrad' as const;
  protected readonly cls = 'AdaGrad';
  protected readonly slotNames = ['h'] as const;
  readonly lr: number;

  constructor(options?: AdaGradOptions) {
    super();
    const o = readOptions('AdaGrad', options, ['lr']);
    this.lr = lrOption('AdaGrad', o.lr, 0.01);
  }

  protected step(p: Float32Array, g: Float32Array, [h]: Float32Array[]): void {
    // Native loop, arithmetic per element in double as the formula above.
    adaGradStep(p, g, h, this.lr, EPS);
  }
}

/**
 * RMSprop as in the course: h = decayRate * h + (1 - decayRate) * dW²;
 * W -= lr * dW / (sqrt(h) + 1e-7).
 * @example
 *   const opt = new RMSprop({ lr: 0.01, decayRate: 0.99 });
 *   opt.update(net.params, net.gradient(x, t));
 */
export class RMSprop extends OptimizerBase {
  readonly name = 'rmsprop' as const;
  protected readonly cls = 'RMSprop';
  protected readonly slotNames = ['h'] as const;
  readonly lr: number;
  readonly decayRate: number;

  constructor(options?: RMSpropOptions) {
    super();
    const o = readOptions('RMSprop', options, ['lr', 'decayRate']);
    this.lr = lrOption('RMSprop', o.lr, 0.01);
    this.decayRate = unitOption('RMSprop', 'decayRate', o.decayRate, 0.99);
  }

  protected step(p: Float32Array, g: Float32Array, [h]: Float32Array[]): void {
    // Native loop, arithmetic per element in double as the formula above.
    rmspropStep(p, g, h, this.lr, this.decayRate, EPS);
  }
}

/**
 * Adam in the course's form: the bias correction is folded into the step size,
 * lr_t = lr * sqrt(1 - beta2^iter) / (1 - beta1^iter), and 1e-7 is added to sqrt(v) itself
 * (so it differs slightly from torch.optim.Adam, which adds eps to the corrected sqrt(v)).
 * Kingma and Ba, "Adam: A Method for Stochastic Optimization", arXiv:1412.6980, section 2.
 * @example
 *   const opt = new Adam({ lr: 0.001 });
 *   opt.update(net.params, net.gradient(x, t));
 */
export class Adam extends OptimizerBase {
  readonly name = 'adam' as const;
  protected readonly cls = 'Adam';
  protected readonly slotNames = ['m', 'v'] as const;
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  private lrT = 0;

  constructor(options?: AdamOptions) {
    super();
    const o = readOptions('Adam', options, ['lr', 'beta1', 'beta2']);
    this.lr = lrOption('Adam', o.lr, 0.001);
    this.beta1 = unitOption('Adam', 'beta1', o.beta1, 0.9);
    this.beta2 = unitOption('Adam', 'beta2', o.beta2, 0.999);
  }

  protected beginStep(): void {
    this.lrT = (this.lr * Math.sqrt(1 - this.beta2 ** this.iter)) / (1 - this.beta1 ** this.iter);
  }

  protected step(p: Float32Array, g: Float32Array, [m, v]: Float32Array[]): void {
    // Native loop, arithmetic per element in double as the formula above.
    adamStep(p, g, m, v, this.lrT, this.beta1, this.beta2, EPS);
  }
}

const BY_NAME: Record<OptimizerName, (o: OptimizerOptions | undefined) => StatefulOptimizer> = {
  sgd: (o) => new SGD(o),
  momentum: (o) => new Momentum(o),
  nesterov: (o) => new Nesterov(o),
  adagrad: (o) => new AdaGrad(o),
  rmsprop: (o) => new RMSprop(o),
  adam: (o) => new Adam(o),
};

/** Names accepted by optimizerFromName. */
export const optimizerNames: readonly OptimizerName[] = Object.keys(BY_NAME) as OptimizerName[];

/**
 * Builds an optimizer from its name (case-insensitive), as the course's Trainer does.
 * @example
 *   const opt = optimizerFromName('Adam', { lr: 0.001 });
 *   opt.update(net.params, net.gradient(x, t));
 */
export function optimizerFromName(name: string, options?: OptimizerOptions): StatefulOptimizer {
  if (typeof name !== 'string') {
    throw new TypeError(`optimizerFromName: name must be a string (one of ${optimizerNames.join(', ')}), got ${describe(name)}`);
  }
  const key = name.toLowerCase();
  if (!Object.prototype.hasOwnProperty.call(BY_NAME, key)) {
    throw new RangeError(`optimizerFromName: name must be one of ${optimizerNames.join(', ')} (any case), got ${describe(name)}`);
  }
  return BY_NAME[key as OptimizerName](options);
}

// ---------------------------------------------------------------------------------------------
// Weight decay. The course adds 0.5·λ·ΣW² over every weight matrix to the loss and λ·W to each
// weight's gradient; L1 is the same with λ·Σ|W| and λ·sign(W). Networks add the penalty to the
// loss and the gradient term to dW before any optimizer runs, so decay works with all of them.

function checkWeights(fn: string, weights: unknown): Tensor[] {
  if (!Array.isArray(weights)) throw new TypeError(`${fn}: weights must be an array of Tensors, got ${describe(weights)}`);
  weights.forEach((w, i) => expectTensor(fn, `weights[${i}]`, w));
  return weights as Tensor[];
}

function lambdaArg(fn: string, name: string, v: unknown): number {
  return expectNumber(fn, name, v, { min: 0 });
}

/**
 * L2 penalty 0.5·λ·ΣW² summed over all tensors (in double precision).
 * @example
 *   const loss = dataLoss + l2Penalty([net.params.W1, net.params.W2], 0.1);
 */
export function l2Penalty(weights: Tensor[], lambda: number): number {
  const ws = checkWeights('l2Penalty', weights);
  const lam = lambdaArg('l2Penalty', 'lambda', lambda);
  let sum = 0;
  for (const w of ws) {
    const d = w.data;
    for (let i = 0; i < d.length; i++) sum += d[i] * d[i];
  }
  return 0.5 * lam * sum;
}

/**
 * L1 penalty λ·Σ|W| summed over all tensors (in double precision).
 * @example
 *   const loss = dataLoss + l1Penalty([net.params.W1, net.params.W2], 0.01);
 */
export function l1Penalty(weights: Tensor[], lambda: number): number {
  const ws = checkWeights('l1Penalty', weights);
  const lam = lambdaArg('l1Penalty', 'lambda', lambda);
  let sum = 0;
  for (const w of ws) {
    const d = w.data;
    for (let i = 0; i < d.length; i++) sum += Math.abs(d[i]);
  }
  return lam * sum;
}

/** Strengths for addWeightDecayGrad; both default to 0. */
export interface WeightDecayOptions {
  /** L2 strength λ (gradient term λ·W), >= 0. */
  l2?: number;
  /** L1 strength λ (gradient term λ·sign(W), with sign(0) = 0), >= 0. */
  l1?: number;
}

/**
 * Adds l2·W + l1·sign(W) to `grad` in place (sign(0) = 0, as numpy's) and returns `grad`.
 * @example
 *   addWeightDecayGrad(grads.W1, params.W1, { l2: 0.1 });
 *   optimizer.update(params, grads);
 */
export function addWeightDecayGrad(grad: Tensor, W: Tensor, options?: WeightDecayOptions): Tensor {
  const fn = 'addWeightDecayGrad';
  expectTensor(fn, 'grad', grad);
  expectTensor(fn, 'W', W);
  const o = readOptions(fn, options, ['l2', 'l1']);
  const l2 = lambdaArg(fn, 'l2', o.l2 === undefined ? 0 : o.l2);
  const l1 = lambdaArg(fn, 'l1', o.l1 === undefined ? 0 : o.l1);
  if (!sameShape(grad.shape, W.shape) || grad.data.length !== W.data.length) {
    throw new ShapeError(`${fn}: grad has shape ${shapeText(grad.shape)} but W has shape ${shapeText(W.shape)}`);
  }
  if (l2 === 0 && l1 === 0) return grad;
  const g = grad.data;
  const w = W.data;
  for (let i = 0; i < g.length; i++) {
    const wi = w[i];
    g[i] = g[i] + l2 * wi + l1 * (wi > 0 ? 1 : wi < 0 ? -1 : 0);
  }
  return grad;
}
