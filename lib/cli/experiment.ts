// SPDX-License-Identifier: MIT
// `blasnet experiment <name>`: the course's four exercises, each writing
// charts, results.json, report.md and report.html into its own folder.
import * as path from 'path';
import { Argument, Command } from 'commander';
import { checkFeature } from '../core/optional';
import { EXPERIMENT_NAMES, ExperimentName, runExperiment, StopFlag } from '../experiments/all';
import { checkDataDir, EXIT, intArg, Io, msg, onInterrupt, positiveArg, runDir, UsageError } from './common';

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
  const m = msg(io).cli.experiment;
  return new Command('experiment')
    .description(m.description)
    .addArgument(new Argument('<name>', m.name).choices(EXPERIMENT_NAMES))
    .option('--iterations <n>', m.iterations, intArg(1))
    .option('--batch-size <n>', m.batchSize, intArg(1))
    .option('--lr <rate>', m.lr, positiveArg())
    .option('--eval-every <n>', m.evalEvery, intArg(1))
    .option('--eval-samples <n>', m.evalSamples, intArg(1))
    .option('--seed <n>', m.seed, intArg(0), 1)
    .option('--data <dir>', m.data)
    .option('--out <dir>', m.out)
    .option('--no-sweep', m.noSweep)
    .action(async (name: ExperimentName, opts: ExperimentCliOptions) => done(await experiment(io, name, opts)));
}

/** Runs `blasnet experiment <name>`; returns the exit code. */
export async function experiment(io: Io, name: ExperimentName, o: ExperimentCliOptions): Promise<number> {
  const m = msg(io);
  if (name === 'all' && o.lr !== undefined) throw new UsageError(m.cli.experiment.lrWithAll);
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
      evalSamples: o.evalSamples, seed: o.seed, dataDir, stop, sweep: o.sweep, lang: m.lang,
      log: (line: string) => { io.stdout.write(`${line}\n`); },
    });
    for (const oc of outcomes) io.stdout.write(`${m.report.ranIn(oc.name, path.join(oc.dir, 'report.html'))}\n`);
    io.stdout.write(`${m.report.doneIn(stop.stopped, (Date.now() - t0) / 1000, dir)}\n`);
  } finally {
    removeHandler();
  }
  return stop.stopped ? EXIT.interrupted : EXIT.ok;
}
