// SPDX-License-Identifier: MIT
// `blasnet experiment <name>`: the course's four exercises, each writing
// charts, results.json, report.md and report.html into its own folder.
import * as path from 'path';
import { Argument, Command } from 'commander';
import { checkFeature } from '../core/optional';
import { EXPERIMENT_NAMES, ExperimentName, runExperiment, StopFlag } from '../experiments/all';
import { checkDataDir, EXIT, intArg, Io, onInterrupt, positiveArg, runDir, UsageError } from './common';

export interface ExperimentCliOptions {
  iterations?: number;
  batchSize?: number;
  lr?: number;
  evalEvery?: number;
  evalSamples?: number;
  seed: number;
  data?: string;
  out?: string;
  sweep: boolean;
}

export function experimentCommand(io: Io, done: (code: number) => void): Command {
  return new Command('experiment')
    .description('run one of the course\'s exercises (or all four) and write its charts and report')
    .addArgument(new Argument('<name>', 'exercise').choices(EXPERIMENT_NAMES))
    .option('--iterations <n>', 'training steps per configuration (vanishing-gradient 2000, optimizers 1000, overfitting 1000, convnet 500)', intArg(1))
    .option('--batch-size <n>', 'samples per training step (100)', intArg(1))
    .option('--lr <rate>', 'learning rate of the exercise\'s base optimizer (not with all)', positiveArg())
    .option('--eval-every <n>', 'measure accuracy every n iterations (10; convnet 50)', intArg(1))
    .option('--eval-samples <n>', 'samples of each set per measurement (2000; convnet 1000)', intArg(1))
    .option('--seed <n>', 'seed set before each configuration', intArg(0), 1)
    .option('--data <dir>', 'folder with the four IDX files; default: the built-in digits')
    .option('--out <dir>', 'run folder (default ./runs/<name>-<timestamp>)')
    .option('--no-sweep', 'vanishing-gradient: skip the sweep of hidden sizes and learning rates')
    .action(async (name: ExperimentName, opts: ExperimentCliOptions) => done(await experiment(io, name, opts)));
}

/** Runs `blasnet experiment <name>`; returns the exit code. */
export async function experiment(io: Io, name: ExperimentName, o: ExperimentCliOptions): Promise<number> {
  if (name === 'all' && o.lr !== undefined) throw new UsageError('--lr means a different optimizer in each exercise; give it with one exercise, not with all');
  const dataDir = checkDataDir(io, o.data);
  // Optional packages, checked before any training: the report's charts and the built-in digits.
  checkFeature('charts');
  if (dataDir === undefined) checkFeature('digits');
  const dir = runDir(io, name, o.out);
  const stop: StopFlag = { stopped: false };
  const removeHandler = onInterrupt(io, stop);
  const t0 = Date.now();
  try {
    const outcomes = await runExperiment(name, {
      out: dir, iterations: o.iterations, batchSize: o.batchSize, lr: o.lr, evalEvery: o.evalEvery,
      evalSamples: o.evalSamples, seed: o.seed, dataDir, stop, sweep: o.sweep,
      log: (line: string) => { io.stdout.write(`${line}\n`); },
    });
    for (const oc of outcomes) io.stdout.write(`${oc.name}: report ${path.join(oc.dir, 'report.html')}\n`);
    io.stdout.write(`${stop.stopped ? 'stopped' : 'done'} in ${((Date.now() - t0) / 1000).toFixed(1)} s; run folder ${dir}\n`);
  } finally {
    removeHandler();
  }
  return stop.stopped ? EXIT.interrupted : EXIT.ok;
}
