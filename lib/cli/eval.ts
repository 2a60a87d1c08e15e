// SPDX-License-Identifier: MIT
// `blasnet eval`: re-measures a saved model on the test (and training) data.
import * as fs from 'fs';
import * as path from 'path';
import { Command } from 'commander';
import { loadMnist } from '../data';
import { checkFeature } from '../core/optional';
import { loadNetwork } from '../nn/presets';
import { checkDataDir, EXIT, intArg, Io, UsageError } from './common';

export interface EvalOptions {
  model: string;
  data?: string;
  train?: boolean;
  batchSize: number;
}

export function evalCommand(io: Io, done: (code: number) => void): Command {
  return new Command('eval')
    .description('measure the accuracy of a model saved by `blasnet train`')
    .requiredOption('--model <file>', 'model file (model.safetensors of a train run)')
    .option('--data <dir>', 'folder with the four IDX files; default: the built-in digits')
    .option('--train', 'also measure the accuracy on the training data')
    .option('--batch-size <n>', 'samples per forward pass', intArg(1), 1000)
    .action(async (opts: EvalOptions) => done(await evaluateModel(io, opts)));
}

/** Runs `blasnet eval`; returns the exit code. */
export async function evaluateModel(io: Io, o: EvalOptions): Promise<number> {
  const file = path.resolve(io.cwd ?? process.cwd(), o.model);
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new UsageError(`--model ${o.model}: no such file`);
  const dataDir = checkDataDir(io, o.data);
  if (dataDir === undefined) checkFeature('digits');
  const net = loadNetwork(file);
  const kind = String(net.config.kind);
  const flatten = kind === 'MultiLayerNet' || kind === 'MultiLayerNetExtend';
  const data = loadMnist({ dir: dataDir, flatten, oneHotLabel: false });
  const t0 = Date.now();
  const testAcc = net.accuracy(data.xTest, data.tTest, o.batchSize);
  io.stdout.write(`model: ${file} (${kind})\n`);
  io.stdout.write(`data: ${dataDir ?? 'built-in digits'}\n`);
  if (o.train) io.stdout.write(`train accuracy: ${net.accuracy(data.xTrain, data.tTrain, o.batchSize).toFixed(4)} (${data.xTrain.shape[0]} samples)\n`);
  io.stdout.write(`test accuracy: ${testAcc.toFixed(4)} (${data.xTest.shape[0]} samples, ${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
  return EXIT.ok;
}
