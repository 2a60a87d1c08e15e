// SPDX-License-Identifier: MIT
// The course's Trainer, and the one training loop of blasnet (the exercises and `blasnet train`
// use it too): epochs of shuffled mini-batches, an optimizer with an optional learning-rate
// schedule, shifted copies of image data drawn afresh every epoch (augmentShifts), a moving
// average of the weights (averageWeights), accuracy on train and test data per epoch (at its
// end, or at its start as the course records it) and every evalEvery iterations, checkpoints
// that a run resumes from bit for bit, a guard against NaN and infinity, and an async run()
// that keeps Node responsive and can be cancelled with an AbortSignal. train() is the
// synchronous, course-style call.
import * as path from 'path';
import { performance } from 'perf_hooks';
import { describe, expectBoolean, expectInt, expectNumber, readOptions, ShapeError } from '../core/errors';
import { averageStep } from '../core/kernels';
import { getRandomState, permutation, random, setRandomState } from '../core/random';
import { Tensor, asTensor, expectTensor } from '../core/tensor';
import { argmaxRows, checkLabels, Labels } from '../nn/layers/loss';
import { countNonFinite, Sequential } from '../nn/network';
import {
  checkpointSize, ensureFreeSpace, readCheckpoint, TrainerCheckpointState, writeCheckpoint,
} from './checkpoint';
import { Optimizer, optimizerFromName, OptimizerState, StatefulOptimizer } from './optimizers';
import { imageGeometry, shiftInto } from './augment';
import { LrSchedule } from './schedule';

export interface IterationInfo {
  /** 0-based iteration index. */
  iteration: number;
  /** 1-based epoch this iteration belongs to. */
  epoch: number;
  maxIterations: number;
  /** Loss of this training step (softmax cross-entropy plus weight decay). */
  loss: number;
  /** Learning rate of this step's update (undefined for an optimizer without `lr`). */
  lr: number | undefined;
}

export interface EvalInfo {
  /** Training steps done when the accuracy was measured (0: before the first). */
  iteration: number;
  /** Epoch of the last step done (1-based; 0 before the first step). */
  epoch: number;
  trainAcc: number;
  testAcc: number;
}

/** Shifted copies of the training images, drawn afresh each time they are used (TrainerOptions.augmentShifts). */
export interface AugmentShifts {
  /** Shifted copies of every training image per epoch (an epoch is then (copies + 1) × N samples). */
  copies: number;
  /** Largest shift in pixels, each direction uniform in -maxShift..maxShift (2). */
  maxShift?: number;
}

/** Weight averaging (TrainerOptions.averageWeights). */
export interface AverageWeights {
  /** After each step avg += (1 - decay)·(params - avg): 0.995 averages over about the last 200 steps. */
  decay: number;
  /** The iteration (0-based) whose step is the first averaged; the average starts from the parameters before it (0). */
  start?: number;
}

/** When the per-epoch (and evalEvery) evaluations happen. */
export type EvaluateAt = 'end' | 'start';

export interface TrainerOptions {
  /** Number of passes over the training data (20). */
  epochs?: number;
  /** Samples per training step (100). */
  miniBatchSize?: number;
  /** An optimizer instance or its name ('sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam'). */
  optimizer?: Optimizer | string;
  /** Options for a named optimizer, e.g. { lr: 0.01 } (refused with an optimizer object: give those to its constructor). */
  optimizerParam?: Record<string, number>;
  /** Evaluate accuracy on only the first n samples of each set (all by default). */
  evaluateSampleNumPerEpoch?: number;
  /** Also evaluate every n iterations (0: only once per epoch). */
  evalEvery?: number;
  /**
   * 'end' (default): evaluate after the last step of every epoch (and of every evalEvery steps).
   * 'start': the course's timing, after the first step of every epoch (and of every evalEvery
   * steps): its Trainer tests `current_iter % iter_per_epoch == 0` right after the update, so
   * the first record follows iteration 0 (EvalInfo.iteration 1). Either way `evaluations` also
   * gets one after the run's last step.
   */
  evaluateAt?: EvaluateAt;
  /** Evaluate once per epoch and record it in trainAccList/testAccList (true). */
  evaluatePerEpoch?: boolean;
  /** Also evaluate before the first step (EvalInfo.iteration 0), e.g. to start a curve at chance. */
  evaluateFirst?: boolean;
  /** Stop after this many iterations in all (epochs × iterations per epoch by default). */
  maxIterations?: number;
  /**
   * Data augmentation without storing copies: every epoch trains on the N images as they are
   * and on `copies` shifted versions of each, every shifted sample moved by a shift drawn when
   * its batch is gathered (dy, then dx, uniform in -maxShift..maxShift, from the library's
   * random stream), so each epoch sees new shifts. An epoch is (copies + 1) × N samples. The
   * images must be [N, C, H, W], [N, H, W] or square flattened rows; the train accuracy is
   * measured on the N images as given. (shiftAugment makes fixed copies instead.)
   */
  augmentShifts?: AugmentShifts;
  /**
   * Weight averaging: an exponential moving average of the parameters, updated after every step
   * from iteration `start` on. Evaluations (per epoch, evalEvery, evaluate(), the final test
   * accuracy) measure the averaged parameters, and a run that reaches maxIterations ends with
   * the network's parameters replaced by them (applyAverage). Checkpoints keep the average. BatchNorm
   * running statistics are not averaged.
   */
  averageWeights?: AverageWeights;
  /**
   * Learning rate per iteration (stepDecay, exponentialDecay or your own function of the
   * iteration and the optimizer's initial rate); set on the optimizer before each update.
   */
  lrSchedule?: LrSchedule;
  /**
   * 'loss' (default): a NaN or infinite loss stops training, before its update, with a
   * NonFiniteError naming the iteration (and a bad input sample or parameter). 'layers': also
   * check every gradient before each update and every parameter after it, and on failure find
   * the first layer whose output or gradient went non-finite by replaying the step layer by
   * layer (costs two passes over the parameters per step).
   */
  checkFinite?: 'loss' | 'layers';
  /**
   * Write a checkpoint to this file (atomically) every checkpointEvery iterations, before the
   * first step, when the run ends or is stopped or aborted; loadCheckpoint(file) resumes it.
   */
  checkpointFile?: string;
  /** Iterations between checkpoints (one epoch by default). */
  checkpointEvery?: number;
  /** Your own string metadata stored in every checkpoint (read back with readCheckpoint). */
  checkpointMetadata?: Record<string, string>;
  /** Print a line per epoch and the final test accuracy (console.log or `log`). */
  verbose?: boolean;
  log?: (line: string) => void;
  /** Called after each training step. */
  onIteration?: (info: IterationInfo) => void;
  /** Called after each evaluation. */
  onEvaluate?: (info: EvalInfo) => void;
  /** Called after each checkpoint written, with its file and iteration. */
  onCheckpoint?: (file: string, iteration: number) => void;
}

export interface TrainHistory {
  /** Loss of every training step. */
  trainLossList: number[];
  /** Accuracy on the training data at each epoch's evaluation. */
  trainAccList: number[];
  /** Accuracy on the test data at each epoch's evaluation. */
  testAccList: number[];
  /** Every evaluation (per epoch, evalEvery, first), with its iteration. */
  evaluations: EvalInfo[];
  /** Accuracy on the whole test set after the last iteration (the course prints it), or null. */
  finalTestAcc: number | null;
  /** Seconds spent in training steps (without evaluations and checkpoints), over all runs. */
  trainSeconds: number;
}

export interface RunOptions {
  /** Cancels the run: it ends after the current step (writing a checkpoint when configured) and rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Longest stretch of work, in milliseconds, between two turns of the event loop (10): run()
   * pauses before a step or evaluation chunk that would go past it, judging by the last one.
   * A single training step is never split: a step longer than this is one stretch.
   */
  yieldEvery?: number;
}

/** Where a non-finite value first showed. */
export interface NonFiniteSource {
  /** 'input' (a training sample), 'parameter', 'output' or 'gradient' (of a layer), or 'loss'. */
  kind: 'input' | 'parameter' | 'output' | 'gradient' | 'loss';
  /** Layer index in net.layers (output, gradient), -1 for the loss layer. */
  layer?: number;
  layerName?: string;
  /** Parameter name (parameter) or training-sample index (input). */
  name?: string;
  sample?: number;
}

/** Training hit a NaN or an infinity; the parameters are those before the failing update when checkFinite is 'layers'. */
export class NonFiniteError extends Error {
  /** 0-based index of the failing iteration. */
  readonly iteration: number;
  readonly epoch: number;
  /** The loss of the failing step (may be finite when a gradient was not). */
  readonly loss: number;
  /** Where the first non-finite value was found, when it could be located. */
  readonly source: NonFiniteSource | null;

  constructor(message: string, iteration: number, epoch: number, loss: number, source: NonFiniteSource | null) {
    super(message);
    this.name = 'NonFiniteError';
    this.iteration = iteration;
    this.epoch = epoch;
    this.loss = loss;
    this.source = source;
  }
}

const OPTION_NAMES = ['epochs', 'miniBatchSize', 'optimizer', 'optimizerParam', 'evaluateSampleNumPerEpoch', 'evalEvery',
  'evaluateAt', 'evaluatePerEpoch', 'evaluateFirst', 'maxIterations', 'augmentShifts', 'averageWeights', 'lrSchedule', 'checkFinite', 'checkpointFile',
  'checkpointEvery', 'checkpointMetadata', 'verbose', 'log', 'onIteration', 'onEvaluate', 'onCheckpoint'];

/**
 * Runs a check made by another function (the network's shapes, the optimizer's options) and
 * puts the Trainer's name and argument in front of its TypeError or RangeError.
 */
function named<T>(fn: string, what: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof ShapeError) throw new ShapeError(`${fn}: ${what}: ${err.message}`);
    if (err instanceof RangeError) throw new RangeError(`${fn}: ${what}: ${err.message}`, { cause: err });
    if (err instanceof TypeError) throw new TypeError(`${fn}: ${what}: ${err.message}`, { cause: err });
    throw err;
  }
}

function isStateful(o: Optimizer): o is StatefulOptimizer {
  const s = o as Partial<StatefulOptimizer>;
  return typeof s.state === 'function' && typeof s.loadState === 'function';
}

/** A 32-bit FNV-1a hash of some words, as 8 hex digits. */
function fnv(words: Uint32Array | Int32Array, stride: number, h = 0x811c9dc5): number {
  for (let i = 0; i < words.length; i += stride) {
    const w = words[i];
    for (let b = 0; b < 32; b += 8) {
      h ^= (w >>> b) & 0xff;
      h = Math.imul(h, 0x01000193);
    }
  }
  return h >>> 0;
}

function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] - a[i] !== 0) return i;
  return -1;
}

/**
 * Trains a network as the course's Trainer does.
 * @example
 *   const trainer = new Trainer(net, xTrain, tTrain, xTest, tTest, { epochs: 5, optimizer: 'adam', optimizerParam: { lr: 0.001 } });
 *   const history = trainer.train();           // synchronous, as the course
 *   // or, without blocking Node, cancellable, with a checkpoint per epoch:
 *   const t2 = new Trainer(net, xTrain, tTrain, xTest, tTest, { epochs: 5, checkpointFile: 'run.ckpt' });
 *   await t2.run({ signal: AbortSignal.timeout(60_000) });
 */
export class Trainer {
  readonly network: Sequential;
  readonly optimizer: Optimizer;
  readonly epochs: number;
  readonly batchSize: number;
  readonly iterPerEpoch: number;
  readonly maxIterations: number;
  readonly evaluateAt: EvaluateAt;
  readonly checkpointFile: string | null;
  readonly checkpointEvery: number;
  readonly history: TrainHistory = {
    trainLossList: [], trainAccList: [], testAccList: [], evaluations: [], finalTestAcc: null, trainSeconds: 0,
  };
  private readonly xTrain: Tensor;
  private readonly tTrain: Int32Array | Tensor;
  private readonly xTest: Tensor;
  private readonly tTest: Int32Array | Tensor;
  /** Labels as class indices, for accuracy. */
  private readonly trainIdx: Int32Array;
  private readonly testIdx: Int32Array;
  private readonly opts: TrainerOptions;
  private readonly xBatch: Tensor;
  private readonly tBatch: Int32Array | Tensor;
  private order: Int32Array;
  private iteration = 0;
  private stopRequested = false;
  private running = false;
  private baseLr: number | null;
  private lastCheckpoint = -1;
  private dataHashCache: string | null = null;
  /** augmentShifts with the image geometry, or null. */
  private readonly shifts: { copies: number; maxShift: number; C: number; H: number; W: number } | null;
  /** averageWeights with its defaults, or null. */
  private readonly averaging: { decay: number; start: number } | null;
  /** The moving average of each parameter, once averaging has started. */
  private average: Record<string, Float32Array> | null = null;

  constructor(network: Sequential, xTrain: Tensor, tTrain: Labels, xTest: Tensor, tTest: Labels, opts?: TrainerOptions) {
    const fn = 'Trainer';
    if (!(network instanceof Sequential)) throw new TypeError(`${fn}: network must be a Sequential network, got ${describe(network)}`);
    xTrain = asTensor(fn, 'xTrain', xTrain);
    xTest = asTensor(fn, 'xTest', xTest);
    const options: TrainerOptions = readOptions(fn, opts, OPTION_NAMES);
    const outShape = named(fn, `xTrain (samples of shape [${xTrain.shape.slice(1).join(', ')}])`, () => network.checkShapes(xTrain.shape.slice(1)));
    if (outShape.length !== 1) throw new ShapeError(`${fn}: the network's output per sample is ${JSON.stringify(outShape)}, not a vector of class scores`);
    const classes = outShape[0];
    this.network = network;
    this.xTrain = xTrain;
    this.xTest = xTest;
    this.tTrain = checkLabels(`${fn}: tTrain`, tTrain, xTrain.shape[0], classes);
    this.tTest = checkLabels(`${fn}: tTest`, tTest, xTest.shape[0], classes);
    if (xTrain.shape.slice(1).join() !== xTest.shape.slice(1).join()) {
      throw new ShapeError(`${fn}: xTrain samples ${JSON.stringify(xTrain.shape.slice(1))} and xTest samples ${JSON.stringify(xTest.shape.slice(1))} differ`);
    }
    for (const [name, x] of [['xTrain', xTrain], ['xTest', xTest]] as const) {
      const at = firstNonFinite(x.data);
      if (at >= 0) {
        const per = x.data.length / x.shape[0];
        throw new RangeError(`${fn}: ${name} holds a non-finite value (${x.data[at]}) in sample ${Math.floor(at / per)}, element ${at % per}; training on it would make every parameter NaN`);
      }
    }
    const toIdx = (t: Int32Array | Tensor, n: number): Int32Array =>
      (t instanceof Int32Array ? t : argmaxRows(t.data, n, classes, new Int32Array(n)));
    this.trainIdx = toIdx(this.tTrain, xTrain.shape[0]);
    this.testIdx = toIdx(this.tTest, xTest.shape[0]);
    this.opts = options;
    this.epochs = expectInt(fn, 'epochs', options.epochs === undefined ? 20 : options.epochs);
    const N = xTrain.shape[0];
    if (N === 0) throw new RangeError(`${fn}: xTrain has no samples`);
    this.shifts = shiftOptions(fn, options.augmentShifts, xTrain);
    // Samples per epoch: the images, then their shifted copies (index i >= N is image i mod N).
    const samples = N * (this.shifts ? this.shifts.copies + 1 : 1);
    this.batchSize = Math.min(expectInt(fn, 'miniBatchSize', options.miniBatchSize === undefined ? 100 : options.miniBatchSize), samples);
    this.iterPerEpoch = Math.max(Math.floor(samples / this.batchSize), 1);
    this.averaging = averageOptions(fn, options.averageWeights);
    this.maxIterations = options.maxIterations !== undefined
      ? expectInt(fn, 'maxIterations', options.maxIterations) : this.epochs * this.iterPerEpoch;
    if (options.evalEvery !== undefined) expectInt(fn, 'evalEvery', options.evalEvery, 0);
    if (options.evaluateSampleNumPerEpoch !== undefined) expectInt(fn, 'evaluateSampleNumPerEpoch', options.evaluateSampleNumPerEpoch);
    const at = options.evaluateAt === undefined ? 'end' : options.evaluateAt;
    if (at !== 'end' && at !== 'start') throw new RangeError(`${fn}: evaluateAt must be 'end' or 'start' (the course's timing), got ${describe(at)}`);
    this.evaluateAt = at;
    for (const k of ['evaluatePerEpoch', 'evaluateFirst', 'verbose'] as const) {
      if (options[k] !== undefined) expectBoolean(fn, k, options[k]);
    }
    const check = options.checkFinite === undefined ? 'loss' : options.checkFinite;
    if (check !== 'loss' && check !== 'layers') throw new RangeError(`${fn}: checkFinite must be 'loss' or 'layers', got ${describe(check)}`);
    for (const k of ['log', 'onIteration', 'onEvaluate', 'onCheckpoint', 'lrSchedule'] as const) {
      if (options[k] !== undefined && typeof options[k] !== 'function') throw new TypeError(`${fn}: ${k} must be a function, got ${describe(options[k])}`);
    }
    const opt = options.optimizer === undefined ? 'sgd' : options.optimizer;
    if (typeof opt !== 'string' && options.optimizerParam !== undefined) {
      // Settings that would not reach the optimizer are refused, not dropped.
      throw new TypeError(`${fn}: optimizerParam applies to an optimizer given by name; ${describe(opt)} was given as an object, so set its options in its constructor`);
    }
    this.optimizer = typeof opt === 'string'
      ? named(fn, options.optimizerParam === undefined ? 'optimizer' : 'optimizer, optimizerParam',
        () => optimizerFromName(opt, options.optimizerParam === undefined ? { lr: 0.01 } : options.optimizerParam))
      : opt;
    if (!this.optimizer || typeof this.optimizer.update !== 'function') {
      throw new TypeError(`${fn}: optimizer must be a name or an object with update(params, grads), got ${describe(opt)}`);
    }
    this.baseLr = typeof this.optimizer.lr === 'number' ? this.optimizer.lr : null;
    if (options.lrSchedule && this.baseLr === null) {
      throw new TypeError(`${fn}: lrSchedule needs an optimizer with a numeric, settable lr; ${describe(this.optimizer)} has none`);
    }
    if (options.checkpointFile !== undefined) {
      if (typeof options.checkpointFile !== 'string' || options.checkpointFile === '') {
        throw new TypeError(`${fn}: checkpointFile must be a file path, got ${describe(options.checkpointFile)}`);
      }
      if (!isStateful(this.optimizer)) {
        throw new TypeError(`${fn}: checkpoints need an optimizer whose state can be saved (state() and loadState(), as the built-in ones); this one has none`);
      }
    }
    this.checkpointFile = options.checkpointFile ?? null;
    this.checkpointEvery = options.checkpointEvery !== undefined ? expectInt(fn, 'checkpointEvery', options.checkpointEvery) : this.iterPerEpoch;
    if (options.checkpointMetadata !== undefined) {
      const m = options.checkpointMetadata;
      if (m === null || typeof m !== 'object' || Object.values(m).some((v) => typeof v !== 'string')) {
        throw new TypeError(`${fn}: checkpointMetadata must map names to strings, got ${describe(m)}`);
      }
    }
    const per = xTrain.data.length / N;
    this.xBatch = new Tensor(new Float32Array(this.batchSize * per), [this.batchSize, ...xTrain.shape.slice(1)]);
    this.tBatch = this.tTrain instanceof Int32Array
      ? new Int32Array(this.batchSize)
      : Tensor.zeros([this.batchSize, this.tTrain.shape[1]]);
    this.order = new Int32Array(samples);
  }

  /** Training steps done so far. */
  get iterationsDone(): number {
    return this.iteration;
  }

  /** Asks a running train() or run() to stop after the current step (a stop before the run makes it do nothing). */
  stop(): void {
    this.stopRequested = true;
  }

  /** One training step on the next mini-batch; returns its loss. Throws a NonFiniteError on a NaN or infinite loss. */
  trainStep(): number {
    const t0 = process.hrtime.bigint();
    const N = this.xTrain.shape[0];
    const pos = (this.iteration % this.iterPerEpoch) * this.batchSize;
    if (pos === 0) permutation(this.order.length, this.order);
    const per = this.xTrain.data.length / N;
    const xs = this.xTrain.data, xb = this.xBatch.data;
    const sh = this.shifts;
    for (let i = 0; i < this.batchSize; i++) {
      const src = this.order[pos + i], img = src % N;
      if (src < N || sh === null) {
        xb.set(xs.subarray(img * per, (img + 1) * per), i * per);
      } else {
        // A shifted copy, drawn now: dy then dx, as shiftAugment draws them.
        const span = 2 * sh.maxShift + 1;
        const dy = Math.floor(random() * span) - sh.maxShift;
        const dx = Math.floor(random() * span) - sh.maxShift;
        xb.fill(0, i * per, (i + 1) * per);
        shiftInto(xs, img * per, xb, i * per, sh.C, sh.H, sh.W, dy, dx);
      }
    }
    if (this.tTrain instanceof Int32Array) {
      const tb = this.tBatch as Int32Array;
      for (let i = 0; i < this.batchSize; i++) tb[i] = this.tTrain[this.order[pos + i] % N];
    } else {
      const C = this.tTrain.shape[1], ts = this.tTrain.data, tb = (this.tBatch as Tensor).data;
      for (let i = 0; i < this.batchSize; i++) {
        const img = this.order[pos + i] % N;
        tb.set(ts.subarray(img * C, (img + 1) * C), i * C);
      }
    }
    const schedule = this.opts.lrSchedule;
    if (schedule && this.baseLr !== null) this.optimizer.lr = schedule(this.iteration, this.baseLr);
    const grads = this.network.gradient(this.xBatch, this.tBatch);
    const loss = this.network.lastLoss + this.network.lastPenalty;
    const layers = this.opts.checkFinite === 'layers';
    if (!Number.isFinite(loss)) throw this.nonFinite(loss, pos, layers);
    if (layers) {
      for (const g of Object.values(grads)) {
        if (firstNonFinite(g.data) >= 0) throw this.nonFinite(loss, pos, true);
      }
    }
    const avg = this.averaging;
    // The average starts from the parameters before the first averaged step.
    if (avg !== null && this.average === null && this.iteration >= avg.start) {
      this.average = {};
      for (const [name, p] of Object.entries(this.network.params)) this.average[name] = Float32Array.from(p.data);
    }
    this.optimizer.update(this.network.params, grads);
    if (this.average !== null && avg !== null) {
      for (const [name, p] of Object.entries(this.network.params)) averageStep(this.average[name], p.data, avg.decay);
    }
    if (layers) {
      for (const [name, p] of Object.entries(this.network.params)) {
        if (firstNonFinite(p.data) >= 0) {
          const it = this.iteration, epoch = Math.floor(it / this.iterPerEpoch) + 1;
          throw new NonFiniteError(`Trainer: the update of iteration ${it} (0-based, epoch ${epoch}) made parameter ${name} non-finite from finite gradients `
            + '(a learning rate too large?); the parameters are no longer the last good ones, a checkpoint is', it, epoch, loss, { kind: 'parameter', name });
        }
      }
    }
    this.history.trainLossList.push(loss);
    const info: IterationInfo = {
      iteration: this.iteration, epoch: Math.floor(this.iteration / this.iterPerEpoch) + 1,
      maxIterations: this.maxIterations, loss, lr: typeof this.optimizer.lr === 'number' ? this.optimizer.lr : undefined,
    };
    this.iteration++;
    this.history.trainSeconds += Number(process.hrtime.bigint() - t0) / 1e9;
    this.opts.onIteration?.(info);
    return loss;
  }

  /**
   * Accuracy on train and test data now (limited to evaluateSampleNumPerEpoch samples when set),
   * of the averaged parameters once weight averaging has started.
   */
  evaluate(): { trainAcc: number; testAcc: number } {
    const out = { trainAcc: NaN, testAcc: NaN };
    for (const _ of this.evaluation(out)) { /* synchronous: no pauses */ }
    return out;
  }

  /** Runs the whole training synchronously, as the course's train(); returns the history (also kept in `history`). */
  train(): TrainHistory {
    for (const _ of this.loop()) { /* synchronous: no pauses */ }
    return this.history;
  }

  /**
   * Runs the whole training without blocking the event loop: it pauses for a turn of the loop
   * at least every `yieldEvery` ms (between steps and between chunks of an evaluation), so
   * timers, I/O and signal handlers keep running. An aborted `signal` ends it after the
   * current step (with a checkpoint when configured) and rejects with the signal's reason.
   * @example
   *   const controller = new AbortController();
   *   process.once('SIGINT', () => controller.abort());
   *   await trainer.run({ signal: controller.signal });
   */
  async run(options?: RunOptions): Promise<TrainHistory> {
    const fn = 'Trainer.run';
    const o = readOptions(fn, options, ['signal', 'yieldEvery']);
    const signal = o.signal;
    if (signal !== undefined && (signal === null || typeof signal !== 'object' || typeof signal.aborted !== 'boolean')) {
      throw new TypeError(`${fn}: signal must be an AbortSignal, got ${describe(signal)}`);
    }
    const budget = o.yieldEvery === undefined ? 10 : expectInt(fn, 'yieldEvery', o.yieldEvery, 0);
    signal?.throwIfAborted();
    const steps = this.loop(signal);
    const now = (): number => performance.now();
    // Pause before a piece of work would end the stretch past the budget, judging the next
    // piece by the last one (a step or an evaluation chunk).
    let since = now(), piece = 0;
    for (;;) {
      const t0 = now();
      const r = steps.next();
      if (r.done) break;
      const t1 = now();
      piece = t1 - t0;
      if (t1 - since + piece > budget) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        since = now();
      }
    }
    signal?.throwIfAborted();
    return this.history;
  }

  /**
   * Replaces the network's parameters by their moving average (averageWeights), as a run that
   * reaches maxIterations does at its end, and ends that average (a later step starts a new
   * one). Returns false, changing nothing, when no average is kept (yet).
   */
  applyAverage(): boolean {
    if (this.average === null) return false;
    for (const [name, p] of Object.entries(this.network.params)) p.data.set(this.average[name]);
    this.average = null;
    return true;
  }

  /**
   * Writes a checkpoint of the run as it is now (network, optimizer, random stream, iteration,
   * shuffled order, history) to `file` (the checkpointFile option by default), atomically.
   * Refuses parameters that are not finite, so a diverged run never replaces a good checkpoint.
   */
  saveCheckpoint(file?: string): string {
    const fn = 'Trainer.saveCheckpoint';
    const target = file ?? this.checkpointFile;
    if (typeof target !== 'string' || target === '') throw new TypeError(`${fn}: file must be a path (or set the checkpointFile option), got ${describe(target)}`);
    if (!isStateful(this.optimizer)) throw new TypeError(`${fn}: the optimizer's state cannot be saved (it has no state() and loadState())`);
    const state = this.network.stateTensors();
    for (const [name, t] of Object.entries(state)) {
      const bad = countNonFinite(t.data);
      if (bad > 0) {
        const it = this.iteration;
        throw new NonFiniteError(`${fn}: parameter ${name} holds ${bad} non-finite values after iteration ${it - 1}; the checkpoint ${target} is left as it was`,
          it - 1, Math.floor(Math.max(it - 1, 0) / this.iterPerEpoch) + 1, NaN, { kind: 'parameter', name });
      }
    }
    const opt = this.optimizer.state();
    const trainer: TrainerCheckpointState = {
      iteration: this.iteration,
      baseLr: this.baseLr,
      optimizer: { name: opt.name, iter: opt.iter, lr: opt.lr, slotNames: Object.keys(opt.slots) },
      random: getRandomState(),
      history: this.history,
      run: this.runIdentity(),
    };
    let average: Record<string, Tensor> | null = null;
    if (this.average !== null) {
      average = {};
      for (const [name, a] of Object.entries(this.average)) average[name] = new Tensor(a, [...this.network.params[name].shape]);
    }
    writeCheckpoint(target, {
      networkConfig: this.network.config, network: state, optimizer: opt, trainer, order: this.order, average,
      metadata: this.opts.checkpointMetadata ?? {},
    });
    if (path.resolve(target) === (this.checkpointFile && path.resolve(this.checkpointFile))) this.lastCheckpoint = this.iteration;
    this.opts.onCheckpoint?.(target, this.iteration);
    return target;
  }

  /**
   * Restores a checkpoint written by saveCheckpoint into this trainer (built with the same
   * network, data and batch size): parameters, optimizer state, the library's random stream,
   * iteration, shuffled order and history. run() or train() then continue exactly as the
   * checkpointed run would have, up to this trainer's maxIterations.
   * @example
   *   const trainer = new Trainer(net, xTrain, tTrain, xTest, tTest, { epochs: 10, checkpointFile: 'run.ckpt' });
   *   if (fs.existsSync('run.ckpt')) trainer.loadCheckpoint('run.ckpt');
   *   await trainer.run();
   */
  loadCheckpoint(file: string): void {
    const fn = 'Trainer.loadCheckpoint';
    const c = readCheckpoint(file);
    const run = c.trainer.run, mine = this.runIdentity();
    const differs = (what: string, theirs: unknown, ours: unknown): Error =>
      new RangeError(`${fn}: ${file} was written for ${what} ${JSON.stringify(theirs)}, this trainer has ${JSON.stringify(ours)}`);
    if (run.batchSize !== mine.batchSize) throw differs('miniBatchSize', run.batchSize, mine.batchSize);
    if (run.trainSamples !== mine.trainSamples) throw differs('a training set of', run.trainSamples, mine.trainSamples);
    if (run.sampleShape.join() !== mine.sampleShape.join()) throw differs('samples of shape', run.sampleShape, mine.sampleShape);
    if (run.dataHash !== mine.dataHash) throw new RangeError(`${fn}: ${file} was written while training on other data (the training set's fingerprint differs)`);
    if (c.order.length !== this.order.length) throw differs('a shuffled order of', c.order.length, this.order.length);
    for (const key of ['augmentShifts', 'averageWeights'] as const) {
      const theirs = run[key] ?? null, ours = mine[key] ?? null;
      if (JSON.stringify(theirs) !== JSON.stringify(ours)) throw differs(key, theirs, ours);
    }
    const params = this.network.params;
    if (c.average !== null) {
      for (const [name, p] of Object.entries(params)) {
        const a = c.average[name];
        if (!a || a.data.length !== p.data.length) throw new RangeError(`${fn}: ${file} holds no average of ${p.data.length} values for parameter ${name}`);
      }
    }
    if (c.optimizer) {
      if (!isStateful(this.optimizer)) throw new TypeError(`${fn}: ${file} holds optimizer state, but this trainer's optimizer cannot load it`);
      if (c.optimizer.name !== this.optimizer.name) throw differs('the optimizer', c.optimizer.name, this.optimizer.name);
    }
    // Everything is checked before anything is changed.
    this.network.loadStateTensors(c.network, file);
    if (c.optimizer) (this.optimizer as StatefulOptimizer).loadState(c.optimizer as OptimizerState);
    setRandomState(c.trainer.random);
    this.order = c.order;
    this.average = null;
    if (c.average !== null) {
      this.average = {};
      for (const name of Object.keys(params)) this.average[name] = Float32Array.from(c.average[name].data);
    }
    this.iteration = c.trainer.iteration;
    this.baseLr = c.trainer.baseLr;
    const h = c.trainer.history as TrainHistory;
    this.history.trainLossList = h.trainLossList;
    this.history.trainAccList = h.trainAccList;
    this.history.testAccList = h.testAccList;
    this.history.evaluations = h.evaluations;
    this.history.finalTestAcc = h.finalTestAcc;
    this.history.trainSeconds = h.trainSeconds;
    this.lastCheckpoint = this.checkpointFile && path.resolve(file) === path.resolve(this.checkpointFile) ? this.iteration : -1;
  }

  /** Sizes and fingerprints a checkpoint must agree with to be resumed here. */
  private runIdentity(): TrainerCheckpointState['run'] {
    if (this.dataHashCache === null) {
      const x = this.xTrain.data;
      const words = new Uint32Array(x.buffer, x.byteOffset, x.length);
      // Labels in full, images at about 65,536 evenly spread values.
      const h = fnv(words, Math.max(1, Math.floor(words.length / 65536)), fnv(this.trainIdx, 1));
      this.dataHashCache = h.toString(16).padStart(8, '0');
    }
    return {
      batchSize: this.batchSize, iterPerEpoch: this.iterPerEpoch, maxIterations: this.maxIterations,
      trainSamples: this.xTrain.shape[0], sampleShape: this.xTrain.shape.slice(1), dataHash: this.dataHashCache,
      augmentShifts: this.shifts ? { copies: this.shifts.copies, maxShift: this.shifts.maxShift } : null,
      averageWeights: this.averaging ? { ...this.averaging } : null,
    };
  }

  /** Whether an evaluation is due after `it` steps, and whether it is the epoch's. */
  private due(it: number): { any: boolean; epoch: boolean } {
    if (it === 0) return { any: this.opts.evaluateFirst === true, epoch: false };
    const every = this.opts.evalEvery ?? 0;
    const perEpoch = this.opts.evaluatePerEpoch ?? true;
    // 'start' counts the step just done (it - 1), as the course's check after its update.
    const k = this.evaluateAt === 'start' ? it - 1 : it;
    const epoch = perEpoch && k % this.iterPerEpoch === 0;
    const periodic = every > 0 && k % every === 0;
    const last = it === this.maxIterations;
    return { any: epoch || periodic || last, epoch };
  }

  /** The training loop as a generator: it pauses (yields) after every step and every evaluation chunk. */
  private *loop(signal?: AbortSignal): Generator<void, void, void> {
    if (this.running) throw new Error('Trainer: train() or run() is already running on this trainer');
    const log = this.opts.log ?? ((s: string) => console.log(s));
    if (this.checkpointFile) {
      const dir = path.dirname(path.resolve(this.checkpointFile));
      const slots = isStateful(this.optimizer) ? Object.keys(this.optimizer.state().slots).length : 0;
      const bytes = checkpointSize(this.network.stateTensors(), Math.max(slots, 2) + (this.averaging ? 1 : 0), this.order.length, this.maxIterations);
      // Room for the new checkpoint next to the previous one (it replaces it by a rename).
      ensureFreeSpace(dir, 2 * bytes, `a checkpoint of this run (${this.checkpointFile})`);
    }
    this.running = true;
    try {
      // An evaluation that was due at the checkpointed iteration but not recorded (the run was
      // cut off during it) is made now: evaluations change no state, so the history comes out
      // the same as an uninterrupted run's.
      const lastEval = this.history.evaluations.length ? this.history.evaluations[this.history.evaluations.length - 1].iteration : -1;
      if (lastEval < this.iteration && this.due(this.iteration).any) yield* this.record(this.iteration, this.due(this.iteration).epoch, log);
      if (this.checkpointFile && this.lastCheckpoint !== this.iteration) this.saveCheckpoint();
      while (this.iteration < this.maxIterations && !this.stopRequested && !signal?.aborted) {
        this.trainStep();
        yield;
        const it = this.iteration;
        const d = this.due(it);
        if (d.any) yield* this.record(it, d.epoch, log);
        if (this.checkpointFile && it % this.checkpointEvery === 0) this.saveCheckpoint();
      }
      if (this.checkpointFile && this.lastCheckpoint !== this.iteration) this.saveCheckpoint();
      if (this.iteration >= this.maxIterations && !this.stopRequested && !signal?.aborted) {
        // A completed run leaves the network with the averaged parameters (the checkpoint above keeps both).
        this.applyAverage();
        // The course's Trainer ends with the accuracy on the whole test set: the last evaluation's
        // when it was made now on the whole test set (of these parameters: the average, when
        // there is one, is what evaluations measure), else counted here.
        const evals = this.history.evaluations, last = evals.length ? evals[evals.length - 1] : null;
        const nTest = this.xTest.shape[0];
        if (last !== null && last.iteration === this.iteration && (this.opts.evaluateSampleNumPerEpoch ?? Infinity) >= nTest) {
          this.history.finalTestAcc = last.testAcc;
        } else {
          const acc = { correct: 0 };
          yield* this.countCorrect(this.xTest, this.testIdx, nTest, acc);
          this.history.finalTestAcc = nTest ? acc.correct / nTest : 0;
        }
        if (this.opts.verbose) {
          log('=============== Final Test Accuracy ===============');
          log(`test acc:${this.history.finalTestAcc}`);
        }
      }
    } finally {
      this.stopRequested = false;
      this.running = false;
    }
  }

  /** Evaluates, records in the history, reports. */
  private *record(it: number, epochEval: boolean, log: (s: string) => void): Generator<void, void, void> {
    const acc = { trainAcc: NaN, testAcc: NaN };
    yield* this.evaluation(acc);
    const info: EvalInfo = { iteration: it, epoch: it === 0 ? 0 : Math.floor((it - 1) / this.iterPerEpoch) + 1, ...acc };
    this.history.evaluations.push(info);
    if (epochEval) {
      this.history.trainAccList.push(acc.trainAcc);
      this.history.testAccList.push(acc.testAcc);
      if (this.opts.verbose) log(`=== epoch ${info.epoch}, train acc ${acc.trainAcc.toFixed(4)}, test acc ${acc.testAcc.toFixed(4)} ===`);
    }
    this.opts.onEvaluate?.(info);
  }

  private *evaluation(out: { trainAcc: number; testAcc: number }): Generator<void, void, void> {
    const average = this.average;
    if (average === null) {
      yield* this.measure(out);
      return;
    }
    // The averaged parameters in place of the network's for the evaluation, then back.
    const params = Object.entries(this.network.params);
    const saved = params.map(([, p]) => Float32Array.from(p.data));
    for (const [name, p] of params) p.data.set(average[name]);
    try {
      yield* this.measure(out);
    } finally {
      params.forEach(([, p], i) => p.data.set(saved[i]));
    }
  }

  private *measure(out: { trainAcc: number; testAcc: number }): Generator<void, void, void> {
    const n = this.opts.evaluateSampleNumPerEpoch;
    const nTrain = Math.min(n ?? Infinity, this.xTrain.shape[0]), nTest = Math.min(n ?? Infinity, this.xTest.shape[0]);
    const a = { correct: 0 }, b = { correct: 0 };
    yield* this.countCorrect(this.xTrain, this.trainIdx, nTrain, a);
    yield* this.countCorrect(this.xTest, this.testIdx, nTest, b);
    out.trainAcc = nTrain ? a.correct / nTrain : 0;
    out.testAcc = nTest ? b.correct / nTest : 0;
  }

  /** Correct predictions among the first n samples, in chunks of the mini-batch size (a pause after each). */
  private *countCorrect(x: Tensor, labels: Int32Array, n: number, acc: { correct: number }): Generator<void, void, void> {
    const per = x.shape[0] ? x.data.length / x.shape[0] : 0;
    const chunk = this.batchSize;
    const pred = new Int32Array(chunk);
    for (let start = 0; start < n; start += chunk) {
      const m = Math.min(chunk, n - start);
      const y = this.network.predict(new Tensor(x.data.subarray(start * per, (start + m) * per), [m, ...x.shape.slice(1)]), false);
      const C = y.shape[1];
      argmaxRows(y.data, m, C, pred);
      for (let i = 0; i < m; i++) if (pred[i] === labels[start + i]) acc.correct++;
      yield;
    }
  }

  /** The error for a non-finite loss or gradient at the current iteration, with where it came from. */
  private nonFinite(loss: number, pos: number, layers: boolean): NonFiniteError {
    const it = this.iteration, epoch = Math.floor(it / this.iterPerEpoch) + 1;
    const what = Number.isFinite(loss) ? `a gradient is not finite (loss ${loss})` : `the loss is ${loss}`;
    let source: NonFiniteSource | null = null;
    let detail = '';
    // The batch's samples, then the parameters as they entered this step.
    const per = this.xBatch.data.length / this.batchSize;
    const xb = this.xBatch.data;
    const at = firstNonFinite(xb);
    if (at >= 0) {
      // (A shifted copy is named by the image it was made from.)
      const sample = this.order[pos + Math.floor(at / per)] % this.xTrain.shape[0];
      source = { kind: 'input', sample };
      detail = `training sample ${sample} holds a non-finite value (${xb[at]})`;
    }
    if (!source) {
      for (const [name, p] of Object.entries(this.network.params)) {
        if (firstNonFinite(p.data) >= 0) {
          source = { kind: 'parameter', name };
          detail = `parameter ${name} was already non-finite before this step (the previous update made it so: a learning rate too large?)`;
          break;
        }
      }
    }
    if (!source && layers) source = this.locateLayer();
    if (source && !detail) {
      const layer = source.layer === -1 ? 'the loss layer (SoftmaxWithLoss)' : `layer ${source.layer} (${source.layerName})`;
      detail = source.kind === 'output' ? `the first non-finite output came from ${layer}` : `the first non-finite gradient came from ${layer}${source.name ? `, parameter ${source.name}` : ''}`;
    }
    if (!detail) {
      detail = layers ? 'no single layer could be blamed on a replay of the step' : "set checkFinite: 'layers' to find the first layer that went non-finite";
    }
    const msg = `Trainer: ${what} at iteration ${it} (0-based, epoch ${epoch}); training stopped before updating the parameters with it: ${detail}`;
    return new NonFiniteError(msg, it, epoch, loss, source);
  }

  /** Replays the current batch layer by layer (unfused) and finds the first non-finite output, then gradient. */
  private locateLayer(): NonFiniteSource | null {
    const layers = this.network.layers;
    let y: Tensor = this.xBatch;
    for (let i = 0; i < layers.length; i++) {
      y = layers[i].forward(y, true);
      if (firstNonFinite(y.data) >= 0) return { kind: 'output', layer: i, layerName: layers[i].name };
    }
    const loss = this.network.lastLayer.forward(y, this.tBatch);
    if (!Number.isFinite(loss)) return { kind: 'output', layer: -1, layerName: 'SoftmaxWithLoss' };
    let d = this.network.lastLayer.backward(1);
    if (firstNonFinite(d.data) >= 0) return { kind: 'gradient', layer: -1, layerName: 'SoftmaxWithLoss' };
    const names = Object.entries(this.network.params);
    for (let i = layers.length - 1; i >= 0; i--) {
      d = layers[i].backward(d);
      for (const [key, g] of Object.entries(layers[i].grads)) {
        if (firstNonFinite(g.data) >= 0) {
          const name = names.find(([, p]) => p === (layers[i].params as Record<string, Tensor>)[key])?.[0];
          return { kind: 'gradient', layer: i, layerName: layers[i].name, name };
        }
      }
      if (i > 0 && firstNonFinite(d.data) >= 0) return { kind: 'gradient', layer: i, layerName: layers[i].name };
    }
    return null;
  }
}

/** augmentShifts checked, with the images' geometry; null when not given. */
function shiftOptions(fn: string, o: AugmentShifts | undefined, x: Tensor): { copies: number; maxShift: number; C: number; H: number; W: number } | null {
  if (o === undefined) return null;
  const r = readOptions(`${fn}: augmentShifts`, o, ['copies', 'maxShift']);
  const copies = expectInt(fn, 'augmentShifts.copies', r.copies, 0);
  const maxShift = expectInt(fn, 'augmentShifts.maxShift', r.maxShift ?? 2, 0);
  const [C, H, W] = imageGeometry(`${fn}: augmentShifts`, x);
  if ((copies + 1) * x.shape[0] > 2 ** 24) {
    throw new RangeError(`${fn}: augmentShifts.copies ${copies} makes ${(copies + 1) * x.shape[0]} samples per epoch; at most ${2 ** 24} are supported`);
  }
  return { copies, maxShift, C, H, W };
}

/** averageWeights checked, with its default start; null when not given. */
function averageOptions(fn: string, o: AverageWeights | undefined): { decay: number; start: number } | null {
  if (o === undefined) return null;
  const r = readOptions(`${fn}: averageWeights`, o, ['decay', 'start']);
  const decay = expectNumber(fn, 'averageWeights.decay', r.decay, { min: 0, max: 1, maxExclusive: true });
  const start = expectInt(fn, 'averageWeights.start', r.start ?? 0, 0);
  return { decay, start };
}
