// SPDX-License-Identifier: MIT
// The course's Trainer: epochs of shuffled mini-batches, an optimizer, and
// accuracy on train and test data per epoch (and every evalEvery iterations
// when asked), with hooks for progress display.
import { describe, expectInt, readOptions, ShapeError } from '../core/errors';
import { checkLabels, Labels } from '../nn/layers/loss';
import { Sequential } from '../nn/network';
import { Optimizer, optimizerFromName } from './optimizers';
import { permutation } from '../core/random';
import { Tensor, expectTensor } from '../core/tensor';

export interface IterationInfo {
  /** 0-based iteration index. */
  iteration: number;
  /** 1-based epoch this iteration belongs to. */
  epoch: number;
  maxIterations: number;
  /** Loss of this training step (softmax cross-entropy plus weight decay). */
  loss: number;
}

export interface EvalInfo {
  iteration: number;
  epoch: number;
  trainAcc: number;
  testAcc: number;
}

export interface TrainerOptions {
  /** Number of passes over the training data (20). */
  epochs?: number;
  /** Samples per training step (100). */
  miniBatchSize?: number;
  /** An optimizer instance or its name ('sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam'). */
  optimizer?: Optimizer | string;
  /** Options for a named optimizer, e.g. { lr: 0.01 }. */
  optimizerParam?: Record<string, number>;
  /** Evaluate accuracy on only the first n samples of each set per epoch (all by default). */
  evaluateSampleNumPerEpoch?: number;
  /** Also evaluate every n iterations (0: only at epoch ends). */
  evalEvery?: number;
  /** Stop after this many iterations in all (epochs × iterations per epoch by default). */
  maxIterations?: number;
  /** Print a line per epoch (console.log or `log`). */
  verbose?: boolean;
  log?: (line: string) => void;
  /** Called after each training step. */
  onIteration?: (info: IterationInfo) => void;
  /** Called after each evaluation (epoch ends and evalEvery). */
  onEvaluate?: (info: EvalInfo) => void;
}

export interface TrainHistory {
  /** Loss of every training step. */
  trainLossList: number[];
  /** Accuracy on the training data at each epoch end. */
  trainAccList: number[];
  /** Accuracy on the test data at each epoch end. */
  testAccList: number[];
  /** Every evaluation (epoch ends and evalEvery), with its iteration. */
  evaluations: EvalInfo[];
}

/**
 * Trains a network as the course's Trainer does.
 * @example
 *   const trainer = new Trainer(net, xTrain, tTrain, xTest, tTest, { epochs: 5, optimizer: 'adam', optimizerParam: { lr: 0.001 } });
 *   const history = trainer.train();
 */
export class Trainer {
  readonly network: Sequential;
  readonly optimizer: Optimizer;
  readonly epochs: number;
  readonly batchSize: number;
  readonly iterPerEpoch: number;
  readonly maxIterations: number;
  readonly history: TrainHistory = { trainLossList: [], trainAccList: [], testAccList: [], evaluations: [] };
  private readonly xTrain: Tensor;
  private readonly tTrain: Int32Array | Tensor;
  private readonly xTest: Tensor;
  private readonly tTest: Int32Array | Tensor;
  private readonly opts: TrainerOptions;
  private readonly xBatch: Tensor;
  private readonly tBatch: Int32Array | Tensor;
  private readonly order: Int32Array;
  private iteration = 0;
  private stopped = false;

  constructor(network: Sequential, xTrain: Tensor, tTrain: Labels, xTest: Tensor, tTest: Labels, opts?: TrainerOptions) {
    const fn = 'Trainer';
    if (!(network instanceof Sequential)) throw new TypeError(`${fn}: network must be a Sequential network, got ${describe(network)}`);
    expectTensor(fn, 'xTrain', xTrain);
    expectTensor(fn, 'xTest', xTest);
    const options: TrainerOptions = readOptions(fn, opts, ['epochs', 'miniBatchSize', 'optimizer', 'optimizerParam',
      'evaluateSampleNumPerEpoch', 'evalEvery', 'maxIterations', 'verbose', 'log', 'onIteration', 'onEvaluate']);
    const outShape = network.checkShapes(xTrain.shape.slice(1));
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
    this.opts = options;
    this.epochs = expectInt(fn, 'epochs', options.epochs ?? 20);
    const N = xTrain.shape[0];
    this.batchSize = Math.min(expectInt(fn, 'miniBatchSize', options.miniBatchSize ?? 100), N);
    this.iterPerEpoch = Math.max(Math.floor(N / this.batchSize), 1);
    this.maxIterations = options.maxIterations !== undefined
      ? expectInt(fn, 'maxIterations', options.maxIterations) : this.epochs * this.iterPerEpoch;
    if (options.evalEvery !== undefined) expectInt(fn, 'evalEvery', options.evalEvery, 0);
    if (options.evaluateSampleNumPerEpoch !== undefined) expectInt(fn, 'evaluateSampleNumPerEpoch', options.evaluateSampleNumPerEpoch);
    const opt = options.optimizer ?? 'sgd';
    this.optimizer = typeof opt === 'string'
      ? optimizerFromName(opt, options.optimizerParam ?? { lr: 0.01 })
      : opt;
    if (!this.optimizer || typeof this.optimizer.update !== 'function') {
      throw new TypeError(`${fn}: optimizer must be a name or an object with update(params, grads), got ${describe(opt)}`);
    }
    const per = xTrain.data.length / N;
    this.xBatch = new Tensor(new Float32Array(this.batchSize * per), [this.batchSize, ...xTrain.shape.slice(1)]);
    this.tBatch = this.tTrain instanceof Int32Array
      ? new Int32Array(this.batchSize)
      : Tensor.zeros([this.batchSize, this.tTrain.shape[1]]);
    this.order = new Int32Array(N);
  }

  /** Asks a running train() to stop after the current step. */
  stop(): void {
    this.stopped = true;
  }

  /** One training step on the next mini-batch; returns its loss. */
  trainStep(): number {
    const N = this.xTrain.shape[0];
    const pos = (this.iteration % this.iterPerEpoch) * this.batchSize;
    if (pos === 0) permutation(N, this.order);
    const per = this.xTrain.data.length / N;
    const xs = this.xTrain.data, xb = this.xBatch.data;
    for (let i = 0; i < this.batchSize; i++) {
      const src = this.order[pos + i];
      xb.set(xs.subarray(src * per, (src + 1) * per), i * per);
    }
    if (this.tTrain instanceof Int32Array) {
      const tb = this.tBatch as Int32Array;
      for (let i = 0; i < this.batchSize; i++) tb[i] = this.tTrain[this.order[pos + i]];
    } else {
      const C = this.tTrain.shape[1], ts = this.tTrain.data, tb = (this.tBatch as Tensor).data;
      for (let i = 0; i < this.batchSize; i++) tb.set(ts.subarray(this.order[pos + i] * C, (this.order[pos + i] + 1) * C), i * C);
    }
    const grads = this.network.gradient(this.xBatch, this.tBatch);
    const loss = this.network.lastLoss + this.network.penalty();
    this.optimizer.update(this.network.params, grads);
    this.history.trainLossList.push(loss);
    const info: IterationInfo = {
      iteration: this.iteration, epoch: Math.floor(this.iteration / this.iterPerEpoch) + 1,
      maxIterations: this.maxIterations, loss,
    };
    this.iteration++;
    this.opts.onIteration?.(info);
    return loss;
  }

  /** Accuracy on train and test data now (limited to evaluateSampleNumPerEpoch samples when set). */
  evaluate(): { trainAcc: number; testAcc: number } {
    const n = this.opts.evaluateSampleNumPerEpoch;
    const head = (x: Tensor, t: Int32Array | Tensor): [Tensor, Int32Array | Tensor] => {
      if (n === undefined || n >= x.shape[0]) return [x, t];
      const per = x.data.length / x.shape[0];
      const xs = new Tensor(x.data.subarray(0, n * per), [n, ...x.shape.slice(1)]);
      const ts = t instanceof Int32Array ? t.subarray(0, n) : new Tensor(t.data.subarray(0, n * t.shape[1]), [n, t.shape[1]]);
      return [xs, ts];
    };
    return {
      trainAcc: this.network.accuracy(...head(this.xTrain, this.tTrain)),
      testAcc: this.network.accuracy(...head(this.xTest, this.tTest)),
    };
  }

  /** Runs the whole training; returns the history (also kept in `history`). */
  train(): TrainHistory {
    const log = this.opts.log ?? ((s: string) => console.log(s));
    const every = this.opts.evalEvery ?? 0;
    this.stopped = false;
    while (this.iteration < this.maxIterations && !this.stopped) {
      this.trainStep();
      const it = this.iteration;
      const epochEnd = it % this.iterPerEpoch === 0;
      if (epochEnd || (every > 0 && it % every === 0) || it === this.maxIterations) {
        const { trainAcc, testAcc } = this.evaluate();
        const info: EvalInfo = { iteration: it, epoch: Math.ceil(it / this.iterPerEpoch), trainAcc, testAcc };
        this.history.evaluations.push(info);
        if (epochEnd) {
          this.history.trainAccList.push(trainAcc);
          this.history.testAccList.push(testAcc);
          if (this.opts.verbose) log(`=== epoch ${info.epoch}, train acc ${trainAcc.toFixed(4)}, test acc ${testAcc.toFixed(4)} ===`);
        }
        this.opts.onEvaluate?.(info);
      }
    }
    return this.history;
  }
}
