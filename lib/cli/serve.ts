// SPDX-License-Identifier: MIT
// `blasnet serve`: a local page where you draw a digit and the model, exported to ONNX,
// classifies it in the browser (see serve/server).
import * as fs from 'fs';
import * as path from 'path';
import { Command } from 'commander';
import { loadNetwork } from '../nn/presets';
import { serveDigits } from '../serve/server';
import { EXIT, intArg, Io, UsageError } from './common';

export interface ServeCommandOptions {
  model: string;
  port: number;
}

export function serveCommand(io: Io, done: (code: number) => void): Command {
  return new Command('serve')
    .description('serve a page on 127.0.0.1 where you draw a digit and the model classifies it in the browser (ONNX, onnxruntime-web)')
    .requiredOption('--model <file>', 'model file (model.safetensors of a train run) taking 28x28 digits')
    .option('--port <n>', 'port to listen on (0: any free port)', intArg(0), 8080)
    .action(async (opts: ServeCommandOptions) => done(await serveModel(io, opts)));
}

/**
 * Runs `blasnet serve` until Ctrl-C or SIGTERM (or `stop` resolves); returns the exit code.
 */
export async function serveModel(io: Io, o: ServeCommandOptions, stop?: Promise<void>): Promise<number> {
  const file = path.resolve(io.cwd ?? process.cwd(), o.model);
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new UsageError(`--model ${o.model}: no such file`);
  if (o.port > 65535) throw new UsageError(`--port ${o.port}: ports go up to 65535`);
  const net = loadNetwork(file);
  const server = await serveDigits(net, { port: o.port });
  io.stdout.write(`model: ${file} (${String(net.config.kind)}), input [N, ${server.info.inputShape.join(', ')}]\n`);
  io.stdout.write(`serving ${server.url} (127.0.0.1 only): open it and draw a digit; Ctrl-C to stop\n`);
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
  let onSignal = (): void => {};
  const stopped = new Promise<void>((resolve) => {
    onSignal = () => resolve();
    if (io.handleSignals ?? false) for (const s of signals) process.once(s, onSignal);
  });
  await Promise.race([stopped, ...(stop ? [stop] : [])]);
  for (const s of signals) process.off(s, onSignal);
  await server.close();
  io.stdout.write('stopped\n');
  return EXIT.ok;
}
