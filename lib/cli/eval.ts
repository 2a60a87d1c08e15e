// SPDX-License-Identifier: MIT
// `blasnet eval`: re-measures a saved model on the test (and, with --train, training) data,
// reading only the files it needs: a folder with just the two test files is enough.
import * as fs from 'fs';
import * as path from 'path';
import { Command } from 'commander';
import { checkFeature } from '../core/optional';
import { loadMnistSet } from '../data';
import { readSafetensorsHeader } from '../io/safetensors';
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
  if (dataDir === undefined) checkFeature('digits');
  const net = loadNetwork(file);
  const kind = String(net.config.kind);
  const flatten = kind === 'MultiLayerNet' || kind === 'MultiLayerNetExtend' || kind === 'TwoLayerNet';
  const test = loadMnistSet('test', { dir: dataDir, flatten, oneHotLabel: false });
  const train = o.train ? loadMnistSet('train', { dir: dataDir, flatten, oneHotLabel: false }) : null;
  const t0 = Date.now();
  const testAcc = net.accuracy(test.x, test.t, o.batchSize);
  io.stdout.write(`${m.modelLine(file, kind)}\n`);
  const converted = storedDtypes(file);
  if (converted) io.stdout.write(`${m.converted(converted)}\n`);
  io.stdout.write(`${m.dataLine(dataDir ?? m.builtin)}\n`);
  if (train) io.stdout.write(`${m.trainAcc(net.accuracy(train.x, train.t, o.batchSize), train.x.shape[0])}\n`);
  io.stdout.write(`${m.testAcc(testAcc, test.x.shape[0], (Date.now() - t0) / 1000)}\n`);
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
