#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// The `blasnet` command: train, eval, gradcheck, the course's exercises, export to ONNX and
// a browser page.
// main(argv) returns the exit code instead of exiting, so tests can call it.
import { Command, CommanderError } from 'commander';
import { EXIT, Io, UsageError } from './common';
import { evalCommand } from './eval';
import { experimentCommand } from './experiment';
import { exportCommand } from './export';
import { gradcheckCommand } from './gradcheck';
import { serveCommand } from './serve';
import { trainCommand } from './train';

function fullName(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

function usage(cmd: Command): string {
  return `Usage: ${fullName(cmd)} ${cmd.usage()}\nRun '${fullName(cmd)} --help' for details.`;
}

/** The command tree; `done` receives the exit code of the action that ran. */
export function program(io: Io, done: (code: number) => void): Command {
  const root = new Command('blasnet')
    .description('deep learning from scratch over OpenBLAS: train networks and run the course\'s exercises')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => { io.stdout.write(s); },
      writeErr: (s) => { io.stderr.write(s); },
      // Only the first line of an error: commander's own messages fit on one.
      outputError: (s, write) => write(s.split('\n')[0] + '\n'),
    })
    .showSuggestionAfterError(true);
  for (const make of [trainCommand, evalCommand, gradcheckCommand, experimentCommand, exportCommand, serveCommand]) {
    const cmd = make(io, done);
    cmd.exitOverride().configureOutput(root.configureOutput()).showSuggestionAfterError(true);
    root.addCommand(cmd);
  }
  root.showHelpAfterError(usage(root));
  for (const cmd of root.commands) cmd.showHelpAfterError(usage(cmd));
  return root;
}

const defaultIo: Io = { stdout: process.stdout, stderr: process.stderr, handleSignals: true };

/**
 * Runs the command line on `argv` (without node and the script) and resolves to the exit code:
 * 0 success, 1 failure (gradcheck above threshold, unreadable file), 2 bad usage, 130 stopped by Ctrl-C.
 * @example
 *   const code = await main(['gradcheck', '--threshold', '0.01']);
 */
export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  let code: number = EXIT.ok;
  const root = program(io, (c) => { code = c; });
  let current: Command = root;
  root.hook('preAction', (_this, action) => { current = action; });
  try {
    if (argv.length === 0) {
      root.outputHelp({ error: true });
      return EXIT.usage;
    }
    await root.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end through here too, with exit code 0.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof UsageError) {
      io.stderr.write(`error: ${err.message}\n${usage(current)}\n`);
      return EXIT.usage;
    }
    io.stderr.write(`blasnet: ${(err as Error)?.message ?? String(err)}\n`);
    return EXIT.failed;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
