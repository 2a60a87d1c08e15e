// SPDX-License-Identifier: MIT
// What the commands share: where output goes, argument parsers, run folders,
// Ctrl-C handling and the progress display.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { InvalidArgumentError, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import type { StopFlag } from '../experiments/common';
import { removeStaleTemps } from '../io/atomic';
import { Lang, LANGS, messages, Messages } from '../i18n';

/** A stream the commands write to; `isTTY` decides between a progress bar and plain lines. */
export interface OutStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface Io {
  stdout: OutStream;
  stderr: OutStream;
  /** Folder relative paths are resolved against (process.cwd()). */
  cwd?: string;
  /** Whether SIGINT/SIGTERM/SIGHUP handlers are installed on the process (true for the bin, false in tests). */
  handleSignals?: boolean;
  /** Language of the messages (set from --lang before the commands are built). */
  lang?: Lang;
}

/** The messages of the command line's language. */
export function msg(io: Io): Messages {
  return messages(io.lang);
}

/**
 * The language asked for by `--lang X` / `--lang=X` anywhere in argv, else BLASNET_LANG, else
 * English. Read before the commands are built so that their help is in that language; a value
 * that is no language is left for the option parser to refuse.
 */
export function langFromArgv(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Lang {
  let v: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--') break;
    if (argv[i] === '--lang') v = argv[i + 1];
    else if (argv[i].startsWith('--lang=')) v = argv[i].slice(7);
  }
  v ??= env.BLASNET_LANG;
  return (LANGS as readonly string[]).includes(v ?? '') ? v as Lang : 'en';
}

/** A bad value found after parsing (a missing file, a clash of options): exit code 2 with usage. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The --lang option every command takes. */
export function langOption(m: Messages): Option {
  return new Option('--lang <lang>', m.cli.lang).choices(LANGS as unknown as string[]);
}

/** Exit codes of the command line. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/** The signals that stop a run cleanly: Ctrl-C, `kill`/docker stop/systemd, a closed terminal. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = typeof STOP_SIGNALS[number];

/** 128 + the signal's number, the shell's exit status for a process ended by it (130 for SIGINT). */
export function signalExitCode(signal: StopSignal): number {
  return 128 + os.constants.signals[signal];
}

/** Parser of an integer option >= min. */
export function intArg(min: number): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < min) {
      throw new InvalidArgumentError(min === 1 ? 'Expected a positive integer.' : `Expected an integer >= ${min}.`);
    }
    return n;
  };
}

/** Parser of a finite number > 0 (and < maxExclusive when given). */
export function positiveArg(maxExclusive?: number): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n <= 0 || (maxExclusive !== undefined && n >= maxExclusive)) {
      throw new InvalidArgumentError(maxExclusive === undefined ? 'Expected a number > 0.' : `Expected a number in (0, ${maxExclusive}).`);
    }
    return n;
  };
}

/** 2024-05-01T12-30-05 in local time: sortable and free of ':' for every file system. */
export function timestamp(d = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}-${p(d.getMinutes())}-${p(d.getSeconds())}`;
}

/** Name of the checkpoint file in a run folder. */
export const CHECKPOINT_FILE = 'checkpoint.safetensors';

/**
 * The folder of one run: `--out` when given (must be new or empty), else
 * ./runs/<command>-<timestamp>, with -2, -3... when two runs start in the same second.
 * Temporary files that a killed earlier run left behind do not count: they are removed.
 */
export function runDir(io: Io, command: string, out?: string): string {
  const cwd = io.cwd ?? process.cwd();
  if (out !== undefined) {
    const dir = path.resolve(cwd, out);
    if (fs.existsSync(dir)) {
      if (!fs.statSync(dir).isDirectory()) throw new UsageError(msg(io).cli.outNotFolder(out));
      removeStaleTemps(dir);
      const left = fs.readdirSync(dir);
      if (left.includes(CHECKPOINT_FILE)) throw new UsageError(msg(io).cli.outHasCheckpoint(out));
      if (left.length > 0) throw new UsageError(msg(io).cli.outNotEmpty(out));
    }
    fs.mkdirSync(dir, { recursive: true });
    return dir;
  }
  const base = path.join(cwd, 'runs', `${command}-${timestamp()}`);
  fs.mkdirSync(path.dirname(base), { recursive: true });
  for (let i = 1; ; i++) {
    const dir = i === 1 ? base : `${base}-${i}`;
    try {
      fs.mkdirSync(dir);
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/** Checks that a --data folder exists before anything is trained. */
export function checkDataDir(io: Io, dir: string | undefined): string | undefined {
  if (dir === undefined) return undefined;
  const p = path.resolve(io.cwd ?? process.cwd(), dir);
  if (!fs.existsSync(p) || !fs.statSync(p).isDirectory()) throw new UsageError(msg(io).cli.noDataFolder(dir));
  return p;
}

/**
 * The first SIGINT, SIGTERM or SIGHUP calls `onStop(signal)` so the run ends after the current
 * step and writes what it has; a second one exits at once (128 + its number; every file is
 * written atomically, so what is on disk stays whole). Returns the function that removes the
 * handlers: call it only once everything is written, so a signal in the last moments of a run
 * (final evaluation, save, report) never kills it half-way.
 */
export function onStopSignals(io: Io, onStop: (signal: StopSignal) => void): () => void {
  if (!(io.handleSignals ?? false)) return () => {};
  let received: StopSignal | null = null;
  const handlers = STOP_SIGNALS.map((signal) => {
    const handler = (): void => {
      const m = msg(io).cli;
      if (received !== null) {
        io.stderr.write(`\n${signal === 'SIGINT' ? m.interruptedAgain : m.stopSignalAgain(signal)}\n`);
        process.exit(signalExitCode(signal));
      }
      received = signal;
      io.stderr.write(`\n${signal === 'SIGINT' ? m.interrupted : m.stopSignal(signal)}\n`);
      onStop(signal);
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return () => { for (const [signal, handler] of handlers) process.off(signal, handler); };
}

/** onStopSignals for a StopFlag (the exercises): sets `stop.stopped`. */
export function onInterrupt(io: Io, stop: StopFlag): () => void {
  return onStopSignals(io, () => { stop.stopped = true; });
}

/** Progress of a training run: a bar with ETA, loss and accuracy on a terminal, else a line per update. */
export class Progress {
  private readonly bar: SingleBar | null;
  private readonly start = Date.now();
  private values = { loss: '-', trainAcc: '-', testAcc: '-' };

  /** `start`: iterations already done (a resumed run). */
  constructor(private readonly io: Io, private readonly total: number, private readonly startAt = 0) {
    if (io.stderr.isTTY) {
      this.bar = new SingleBar({
        format: msg(io).cli.bar,
        stream: io.stderr as NodeJS.WritableStream, etaBuffer: 50, hideCursor: true, clearOnComplete: false,
      });
      this.bar.start(total, startAt, this.values);
    } else {
      this.bar = null;
    }
  }

  step(iteration: number, loss: number): void {
    this.values.loss = loss.toFixed(4);
    this.bar?.update(iteration, this.values);
  }

  /** An evaluation: updates the bar, or prints one line when there is no terminal. */
  evaluated(iteration: number, epoch: number, trainAcc: number, testAcc: number): void {
    this.values.trainAcc = trainAcc.toFixed(4);
    this.values.testAcc = testAcc.toFixed(4);
    if (this.bar) {
      this.bar.update(iteration, this.values);
      return;
    }
    const secs = (Date.now() - this.start) / 1000;
    const eta = iteration > this.startAt ? (secs / (iteration - this.startAt)) * (this.total - iteration) : NaN;
    this.io.stdout.write(msg(this.io).cli.progressLine(epoch, iteration, this.total, this.values.loss, this.values.trainAcc, this.values.testAcc, secs, eta) + '\n');
  }

  stop(): void {
    this.bar?.stop();
  }
}
