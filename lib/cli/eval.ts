// SPDX-License-Identifier: MIT
// `blasnet eval`: re-measures a saved model on the test (and, with --train, training) data,
// reading only the files it needs: a folder with just the two test files is enough.
import * as fs from 'fs';
import * as path from 'path';
import { Command } from 'commander';
import { loadMnistSet } from '../data';
import { readSafetensorsHeader } from '../io/safetensors';
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
    .option('--data <dir>', 'folder with the test IDX files (t10k-*; train-* too with --train); default: the built-in digits')
    .option('--train', 'also measure the accuracy on the training data')
    .option('--batch-size <n>', 'samples per forward pass', intArg(1), 1000)
    .action(async (opts: EvalOptions) => done(await evaluateModel(io, opts)));
}

/** Runs `blasnet eval`; returns the exit code. */
export async function evaluateModel(io: Io, o: EvalOptions): Promise<number> {
  const file = path.resolve(io.cwd ?? process.cwd(), o.model);
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new UsageError(`--model ${o.model}: no such file`);
  const dataDir = checkDataDir(io, o.data);
  const net = loadNetwork(file);
  const kind = String(net.config.kind);
  const flatten = kind === 'MultiLayerNet' || kind === 'MultiLayerNetExtend';
  const test = loadMnistSet('test', { dir: dataDir, flatten, oneHotLabel: false });
  const train = o.train ? loadMnistSet('train', { dir: dataDir, flatten, oneHotLabel: false }) : null;
  const t0 = Date.now();
  const testAcc = net.accuracy(test.x, test.t, o.batchSize);
  io.stdout.write(`model: ${file} (${kind})\n`);
  const converted = storedDtypes(file);
  if (converted) io.stdout.write(`note: ${converted}, converted to float32 on load\n`);
  io.stdout.write(`data: ${dataDir ?? 'built-in digits'}\n`);
  if (train) io.stdout.write(`train accuracy: ${net.accuracy(train.x, train.t, o.batchSize).toFixed(4)} (${train.x.shape[0]} samples)\n`);
  io.stdout.write(`test accuracy: ${testAcc.toFixed(4)} (${test.x.shape[0]} samples, ${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
  return EXIT.ok;
}

/** 'W1, W2 stored as F64; b1 stored as BF16' for the tensors not stored as F32, or '' (the header alone is read). */
function storedDtypes(file: string): string {
  const byDtype = new Map<string, string[]>();
  for (const [name, t] of readSafetensorsHeader(file).tensors) {
    if (t.dtype === 'F32') continue;
    byDtype.set(t.dtype, [...(byDtype.get(t.dtype) ?? []), name]);
  }
  return [...byDtype].map(([dtype, names]) => `${names.join(', ')} stored as ${dtype}`).join('; ');
}
