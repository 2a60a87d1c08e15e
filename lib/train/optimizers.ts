// SPDX-License-Identifier: MIT
// The course's optimizers (Deep Learning from Scratch, section 6.1 and common/optimizer.py) with
// its exact formulas and epsilons.
//
// Parameters and state live in Float32Arrays; one native loop per parameter array reads each
// element, applies the formula in double precision and stores the result once, so an update
// rounds to float32 once per array instead of once per numpy operation. Parameters are updated
// in place: layers hold the same arrays. The learning rate can be changed between updates
// (`opt.lr = x`, or a schedule through the Trainer) without losing any state.
import { describe, expectInt, expectNumber, readOptions, ShapeError } from '../core/errors';
import { adaGradStep, adamStep, momentumStep, nesterovStep, rmspropStep, sgdStep } from '../core/kernels';
import { asTensor, expectTensor, Tensor } from '../core/tensor';
import { sameShape, shapeStr } from '../nn/layers/layer';

// Weight decay is implemented once, next to the network that applies it; these helpers stay
// importable from here, where they were first published.
export { addWeightDecayGrad, l1Penalty, l2Penalty } from '../nn/weight-decay';
export type { WeightDecayOptions } from '../nn/weight-decay';

/** What every optimizer offers; a caller may supply its own object of this shape. */
export interface Optimizer {
  /** Updates each `params[key].data` in place from `grads[key]`. */
  update(params: Record<string, Tensor>, grads: Record<string, Tensor>): void;
  /** Lower-case name, as accepted by optimizerFromName. */
  readonly name: string;
  /** Learning rate; a learning-rate schedule (Trainer's lrSchedule) sets it before each update. */
  lr?: number;
}

/** The built-in optimizers also expose their state, can restore it and can forget it. */
export interface StatefulOptimizer extends Optimizer {
  readonly name: OptimizerName;
  /** Learning rate, > 0; may be changed between updates, the state is kept. */
  lr: number;
  /** A copy of the internal state (changing it does not affect the optimizer). */
  state(): OptimizerState;
  /**
   * Restores a state from state() (of an optimizer of the same kind), e.g. from a checkpoint:
   * the following updates are those the saved optimizer would have made.
   */
  loadState(state: OptimizerState): void;
  /** Forgets all state, as if newly constructed with the same hyperparameters. */
  reset(): void;
}

export type OptimizerName = 'sgd' | 'momentum' | 'nesterov' | 'adagrad' | 'rmsprop' | 'adam';

/** A snapshot of an optimizer's state. */
export interface OptimizerState {
  name: OptimizerName;
  /** update() calls since construction or reset(); Adam's bias correction uses it. */
  iter: number;
  /** The learning rate at the time of the snapshot (a schedule may have changed it). */
  lr: number;
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

function unitOption(cls: string, name: string, v: unknown, dflt: number): number {
  return expectNumber(cls, name, v === undefined ? dflt : v, { min: 0, max: 1, maxExclusive: true });
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
      throw new ShapeError(`${fn}: grads.${key} has shape ${shapeStr(gt.shape)} (${gt.data.length} elements) but params.${key} has shape ${shapeStr(pt.shape)} (${pt.data.length} elements)`);
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
  /** Names of the per-parameter state arrays, as in the course (v, h, m). */
  protected abstract readonly slotNames: readonly string[];
  protected iter = 0;
  private slots = new Map<string, Slot>();
  private lrValue = 0;

  /** `cls`: the class name as in the course, for error messages. */
  constructor(protected readonly cls: string) {}

  /** Learning rate, > 0; may be set between updates (state, moments and step count are kept). */
  get lr(): number {
    return this.lrValue;
  }

  set lr(v: number) {
    this.lrValue = expectNumber(this.cls, 'lr', v, { min: 0, minExclusive: true });
  }

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
    return { name: this.name, iter: this.iter, lr: this.lr, slots };
  }

  loadState(state: OptimizerState): void {
    const fn = `${this.cls}.loadState`;
    if (state === null || typeof state !== 'object') throw new TypeError(`${fn}: state must be an object from state(), got ${describe(state)}`);
    if (state.name !== this.name) throw new RangeError(`${fn}: the state is of a '${String(state.name)}' optimizer, this is '${this.name}'`);
    const iter = expectInt(fn, 'state.iter', state.iter, 0);
    const lr = expectNumber(fn, 'state.lr', state.lr, { min: 0, minExclusive: true });
    const slots = state.slots as Record<string, Record<string, Tensor>> | undefined;
    if (slots === null || typeof slots !== 'object') throw new TypeError(`${fn}: state.slots must be an object, got ${describe(slots)}`);
    const names = Object.keys(slots).sort().join(', ');
    if (names !== [...this.slotNames].sort().join(', ')) {
      throw new RangeError(`${fn}: state.slots has ${names || 'no slots'}; ${this.cls} keeps ${this.slotNames.join(', ') || 'none'}`);
    }
    const fresh = new Map<string, Slot>();
    const keys = this.slotNames.length ? Object.keys(slots[this.slotNames[0]]) : [];
    for (const slotName of this.slotNames) {
      const got = Object.keys(slots[slotName]).sort().join(', ');
      if (got !== [...keys].sort().join(', ')) throw new RangeError(`${fn}: slot ${slotName} holds ${got}, slot ${this.slotNames[0]} holds ${keys.join(', ')}`);
    }
    for (const key of keys) {
      const first = slots[this.slotNames[0]][key];
      const arrays = this.slotNames.map((slotName) => {
        const t = asTensor(fn, `state.slots.${slotName}.${key}`, slots[slotName][key]);
        if (!sameShape(t.shape, first.shape)) {
          throw new ShapeError(`${fn}: state.slots.${slotName}.${key} has shape ${shapeStr(t.shape)}, state.slots.${this.slotNames[0]}.${key} ${shapeStr(first.shape)}`);
        }
        return t.data.slice();
      });
      fresh.set(key, { shape: [...first.shape], arrays });
    }
    this.iter = iter;
    this.lr = lr;
    this.slots = fresh;
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
        throw new ShapeError(`${fn}: params.${key} has shape ${shapeStr(param.shape)} but the state kept for '${key}' has shape ${shapeStr(known.shape)}; call reset() when switching to other parameters`);
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
  protected readonly slotNames = [] as const;

  constructor(options?: SGDOptions) {
    super('SGD');
    const o = readOptions('SGD', options, ['lr']);
    this.lr = o.lr === undefined ? 0.01 : o.lr;
  }

  protected step(p: Float32Array, g: Float32Array): void {
    sgdStep(p, g, this.lr);
  }
}

/** Momentum and Nesterov: a velocity slot v, lr and momentum; they differ only in the step. */
abstract class VelocityOptimizer extends OptimizerBase {
  protected readonly slotNames = ['v'] as const;
  /** The native step of the subclass's formula. */
  protected abstract readonly velocityStep: typeof momentumStep;
  readonly momentum: number;

  constructor(cls: string, options?: MomentumOptions) {
    super(cls);
    const o = readOptions(cls, options, ['lr', 'momentum']);
    this.lr = o.lr === undefined ? 0.01 : o.lr;
    this.momentum = unitOption(cls, 'momentum', o.momentum, 0.9);
  }

  protected step(p: Float32Array, g: Float32Array, [v]: Float32Array[]): void {
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
  protected readonly slotNames = ['h'] as const;

  constructor(options?: AdaGradOptions) {
    super('AdaGrad');
    const o = readOptions('AdaGrad', options, ['lr']);
    this.lr = o.lr === undefined ? 0.01 : o.lr;
  }

  protected step(p: Float32Array, g: Float32Array, [h]: Float32Array[]): void {
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
  protected readonly slotNames = ['h'] as const;
  readonly decayRate: number;

  constructor(options?: RMSpropOptions) {
    super('RMSprop');
    const o = readOptions('RMSprop', options, ['lr', 'decayRate']);
    this.lr = o.lr === undefined ? 0.01 : o.lr;
    this.decayRate = unitOption('RMSprop', 'decayRate', o.decayRate, 0.99);
  }

  protected step(p: Float32Array, g: Float32Array, [h]: Float32Array[]): void {
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
  protected readonly slotNames = ['m', 'v'] as const;
  readonly beta1: number;
  readonly beta2: number;
  private lrT = 0;

  constructor(options?: AdamOptions) {
    super('Adam');
    const o = readOptions('Adam', options, ['lr', 'beta1', 'beta2']);
    this.lr = o.lr === undefined ? 0.001 : o.lr;
    this.beta1 = unitOption('Adam', 'beta1', o.beta1, 0.9);
    this.beta2 = unitOption('Adam', 'beta2', o.beta2, 0.999);
  }

  protected beginStep(): void {
    this.lrT = (this.lr * Math.sqrt(1 - this.beta2 ** this.iter)) / (1 - this.beta1 ** this.iter);
  }

  protected step(p: Float32Array, g: Float32Array, [m, v]: Float32Array[]): void {
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
