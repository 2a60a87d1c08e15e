// SPDX-License-Identifier: MIT
// `blasnet export`: writes a saved model as an ONNX file (see io/onnx for what it holds).
import * as fs from 'fs';
import * as path from 'path';
import { Command } from 'commander';
import { loadNetwork } from '../nn/presets';
import { EXIT, Io, UsageError } from './common';

export interface ExportOptions {
  model: string;
  onnx: string;
}

export function exportCommand(io: Io, done: (code: number) => void): Command {
  return new Command('export')
    .description('write a model saved by `blasnet train` (or saveParams) as an ONNX file, for onnxruntime and other ONNX tools')
    .requiredOption('--model <file>', 'model file (model.safetensors of a train run)')
    .requiredOption('--onnx <file>', 'the ONNX file to write (opset 13; outputs "logits" and "probabilities")')
    .action(async (opts: ExportOptions) => done(await exportModel(io, opts)));
}

/** Runs `blasnet export`; returns the exit code. */
export async function exportModel(io: Io, o: ExportOptions): Promise<number> {
  const cwd = io.cwd ?? process.cwd();
  const file = path.resolve(cwd, o.model);
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new UsageError(`--model ${o.model}: no such file`);
  const out = path.resolve(cwd, o.onnx);
  if (!fs.existsSync(path.dirname(out))) throw new UsageError(`--onnx ${o.onnx}: no such folder ${path.dirname(out)}`);
  const net = loadNetwork(file);
  const info = net.exportOnnx(out);
  const dims = `[N, ${info.inputShape.join(', ')}]`;
  io.stdout.write(`model: ${file} (${String(net.config.kind)})\n`);
  io.stdout.write(`wrote ${out}: ONNX opset ${info.opset}, input "input" float32 ${dims}, `
    + `outputs "logits" and "probabilities" [N, ${info.classes}]\n`);
  io.stdout.write(`operators: ${info.operators.join(', ')}\n`);
  return EXIT.ok;
}
