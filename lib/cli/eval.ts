// SPDX-License-Identifier: MIT
// `blasnet eval`: re-measures a saved model on the test (and training) data.
import * as fs from 'fs';
import * as path from 'path';
import { Command } from 'commander';
import { loadMnist } from '../data';
import { loadNetwork } from '../nn/presets';
import { checkDataDir, EXIT, intArg, Io, msg, UsageError } from './common';

export interface EvalOptions {
  model: string;
  data?: string;
  train?: boolean;
  batchSize: number;
}

export function evalCommand(io: Io, done: (code: number) => void): Command {
  const m = msg(io).cli.evaluate;
  return new Command('eval')
    .description(m.description)
    .requiredOption('--model <file>', m.model)
    .option('--data <dir>', m.data)
    .option('--train', m.train)
    .option('--batch-size <n>', m.batchSize, intArg(1), 1000)
    .action(async (opts: EvalOptions) => done(await evaluateModel(io, opts)));
}

/** Runs `blasnet eval`; returns the exit code. */
export async function evaluateModel(io: Io, o: EvalOptions): Promise<number> {
  const m = msg(io).cli.evaluate;
  const file = path.resolve(io.cwd ?? process.cwd(), o.model);
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new UsageError(m.noFile(o.model));
  const dataDir = checkDataDir(io, o.data);
  const net = loadNetwork(file);
  const kind = String(net.config.kind);
  const flatten = kind === 'MultiLayerNet' || kind === 'MultiLayerNetExtend' || kind === 'TwoLayerNet';
  const data = loadMnist({ dir: dataDir, flatten, oneHotLabel: false });
  const t0 = Date.now();
  const testAcc = net.accuracy(data.xTest, data.tTest, o.batchSize);
  io.stdout.write(`${m.modelLine(file, kind)}\n`);
  io.stdout.write(`${m.dataLine(dataDir ?? m.builtin)}\n`);
  if (o.train) io.stdout.write(`${m.trainAcc(net.accuracy(data.xTrain, data.tTrain, o.batchSize), data.xTrain.shape[0])}\n`);
  io.stdout.write(`${m.testAcc(testAcc, data.xTest.shape[0], (Date.now() - t0) / 1000)}\n`);
  return EXIT.ok;
}
