#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// The `blasnet` command: train, eval, gradcheck, the course's exercises, export to ONNX and
// a browser page.
// main(argv) returns the exit code instead of exiting, so tests can call it.
import * as fs from 'fs';
import * as path from 'path';
import { Argument, Command, CommanderError, Option } from 'commander';
import { packageRoot } from '../core/paths';
import type { Messages } from '../i18n';
import { EXIT, Io, OutStream, langFromArgv, langOption, msg, UsageError } from './common';
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

function usage(cmd: Command, io: Io): string {
  const m = msg(io).cli;
  return `${m.helpTitles['Usage:'] ?? 'Usage:'} ${fullName(cmd)} ${cmd.usage()}\n${m.usageHint(fullName(cmd))}`;
}

function describeItem(text: string, choices: string[] | undefined, dflt: string | undefined, m: Messages['cli']): string {
  const extra: string[] = [];
  if (choices) extra.push(m.choices(choices.map((c) => JSON.stringify(c)).join(', ')));
  if (dflt !== undefined) extra.push(m.defaultValue(dflt));
  return extra.length ? [text, ...extra].join(m.sep) : text;
}

/** blasnet's version, from its package.json. */
export function version(): string {
  return (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** The command tree; `done` receives the exit code of the action that ran. */
export function program(io: Io, done: (code: number) => void): Command {
  const m = msg(io).cli;
  const help = {
    styleTitle: (t: string): string => m.helpTitles[t] ?? t,
    // Commander's "(choices: ...)" and "(default: ...)" in the language of the rest.
    optionDescription: (o: Option): string => describeItem(o.description, o.argChoices, o.defaultValue === undefined || o.negate ? undefined : o.defaultValueDescription ?? JSON.stringify(o.defaultValue), m),
    argumentDescription: (a: Argument): string => describeItem(a.description, a.argChoices, a.defaultValue === undefined ? undefined : a.defaultValueDescription ?? JSON.stringify(a.defaultValue), m),
  };
  const root = new Command('blasnet')
    .description(m.root)
    .version(version(), '-V, --version', m.version)
    .addOption(langOption(msg(io)))
    .helpOption('-h, --help', m.help)
    .configureHelp(help)
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
    cmd.exitOverride().configureOutput(root.configureOutput()).showSuggestionAfterError(true)
      .addOption(langOption(msg(io))).helpOption('-h, --help', m.help).configureHelp(help);
    root.addCommand(cmd);
  }
  root.helpCommand('help [command]', m.help);
  root.showHelpAfterError(usage(root, io));
  for (const cmd of root.commands) cmd.showHelpAfterError(usage(cmd, io));
  return root;
}

/**
 * The process's stream, or nothing once its reader has gone (`blasnet train | head`): a closed
 * pipe must not kill a training run before it saves, so later writes are dropped.
 */
function unbreakable(stream: NodeJS.WriteStream): OutStream {
  let closed = false;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    closed = true;
  });
  // A terminal is handed over as it is (the progress bar drives it); only pipes can close so.
  if (stream.isTTY) return stream;
  return { write: (s: string) => (closed ? true : stream.write(s)), isTTY: false };
}

const defaultIo: Io = { stdout: unbreakable(process.stdout), stderr: unbreakable(process.stderr), handleSignals: true };

/**
 * Runs the command line on `argv` (without node and the script) and resolves to the exit code:
 * 0 success, 1 failure (gradcheck above threshold, unreadable file), 2 bad usage, 130 stopped by Ctrl-C.
 * @example
 *   const code = await main(['gradcheck', '--threshold', '0.01']);
 */
export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  // The language is known before the commands are built, so their help is in it too.
  io = { ...io, lang: io.lang ?? langFromArgv(argv) };
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
      io.stderr.write(`${msg(io).cli.error}: ${err.message}\n${usage(current, io)}\n`);
      return EXIT.usage;
    }
    io.stderr.write(`blasnet: ${(err as Error)?.message ?? String(err)}\n`);
    return EXIT.failed;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
