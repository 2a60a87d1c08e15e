// SPDX-License-Identifier: MIT
// What the commands share: where output goes, argument parsers, run folders,
// Ctrl-C handling and the progress display.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { InvalidArgumentError } from 'commander';
import { SingleBar } from 'cli-progress';
import type { StopFlag } from '../experiments/common';
import { removeStaleTemps } from '../io/atomic';

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
}

/** A bad value found after parsing (a missing file, a clash of options): exit code 2 with usage. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
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
      if (!fs.statSync(dir).isDirectory()) throw new UsageError(`--out ${out} exists and is not a folder`);
      removeStaleTemps(dir);
      const left = fs.readdirSync(dir);
      if (left.includes(CHECKPOINT_FILE)) {
        throw new UsageError(`--out ${out} holds the checkpoint of an earlier run; continue it with --resume ${out}, or choose another --out`);
      }
      if (left.length > 0) throw new UsageError(`--out ${out} is not empty; runs never write into an earlier run's folder`);
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
  if (!fs.existsSync(p) || !fs.statSync(p).isDirectory()) throw new UsageError(`--data ${dir}: no such folder`);
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
      if (received !== null) {
        io.stderr.write(`\n${signal} again: exiting without writing more\n`);
        process.exit(signalExitCode(signal));
      }
      received = signal;
      io.stderr.write(`\n${signal === 'SIGINT' ? 'interrupted' : signal}: finishing the current step and writing what was done (Ctrl-C again to quit at once)\n`);
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
        format: '{bar} {percentage}% | iter {value}/{total} | ETA {eta_formatted} | loss {loss} | train {trainAcc} | test {testAcc}',
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
    this.io.stdout.write(`epoch ${epoch}  iter ${iteration}/${this.total}  loss ${this.values.loss}  `
      + `train acc ${this.values.trainAcc}  test acc ${this.values.testAcc}  ${secs.toFixed(1)}s`
      + (Number.isFinite(eta) ? `, ETA ${eta.toFixed(0)}s` : '') + '\n');
  }

  stop(): void {
    this.bar?.stop();
  }
}
