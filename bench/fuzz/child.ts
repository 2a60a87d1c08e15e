// SPDX-License-Identifier: MIT
// One batch of fuzz calls, in its own process (started by driver.ts): call i of batch b under
// seed s is made from the seed mix(s, b, i) alone, so any call can be made again by itself.
// Reports on --report-fd (the driver's pipe; stdout by default), one line each:
//   P <i>       progress: calls before i are done (at least every 100 ms while calls finish)
//   B <i>       call i starts (with --trace, before every call)
//   F <json>    a call did not do what it promised
//   S <json>    the summary: calls per target, outcomes, memory before and after
import * as fs from 'fs';
import { performance } from 'perf_hooks';
import * as lib from '../../lib/index';
import { addon } from '../../lib/core/native';
import { Call, Ctx, judge, mix, Rng, safeString, Target } from './ctx';
import { allTargets } from './targets';
import * as v from './values';

export interface TargetStats {
  calls: number;
  /** Calls that had to succeed / throw / could do either. */
  ok: number;
  bad: number;
  either: number;
  /** Calls that threw (all causes). */
  threw: number;
  /** The slowest call, in ms. */
  slowest: number;
}

export interface BatchSummary {
  batch: number;
  calls: number;
  targets: Record<string, TargetStats>;
  /** Calls made before the memory baseline (the warm-up; counted with the others). */
  warmup: number;
  /** process.memoryUsage() after the warm-up and at the end, each after a garbage collection. */
  memStart: NodeJS.MemoryUsage;
  memEnd: NodeJS.MemoryUsage;
  /** Peak RSS (VmHWM) minus the RSS at the baseline, bytes (-1 where unknown). */
  peakGrowth: number;
  seconds: number;
}

export interface Failure {
  batch: number;
  index: number;
  target: string;
  problem: string;
  labels: readonly string[];
  code: string;
}

interface Args {
  seed: number;
  batch: number;
  from: number;
  to: number;
  trace: boolean;
  targets: string[] | null;
  /** Where reports go: the driver's pipe (3), or stdout. */
  fd: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { seed: 1, batch: 0, from: 0, to: 1000, trace: false, targets: null, fd: 1 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const next = (): string => argv[++i];
    if (k === '--seed') a.seed = Number(next());
    else if (k === '--batch') a.batch = Number(next());
    else if (k === '--from') a.from = Number(next());
    else if (k === '--to') a.to = Number(next());
    else if (k === '--trace') a.trace = true;
    else if (k === '--report-fd') a.fd = Number(next());
    else if (k === '--targets') a.targets = next().split(',').filter(Boolean);
    else throw new Error(`fuzz child: unknown argument ${k}`);
  }
  return a;
}

/** How many mutations call `index` gets: 0 (a valid call) a quarter of the time, else 1 to 3. */
function mutationCount(r: Rng): number {
  const x = r.next();
  return x < 0.25 ? 0 : x < 0.8 ? 1 : x < 0.95 ? 2 : 3;
}

/** Picks a target by weight. */
export function pickTarget(r: Rng, targets: readonly Target[], total: number): Target {
  let x = r.next() * total;
  for (const t of targets) {
    x -= t.weight;
    if (x < 0) return t;
  }
  return targets[targets.length - 1];
}

/** Call `index` of batch `batch` under `seed`, from its seed alone. */
export function makeCall(seed: number, batch: number, index: number, targets: readonly Target[], total: number): Call {
  const r = new Rng(mix(seed, batch, index));
  const target = pickTarget(r, targets, total);
  return target.make(new Ctx(r, mutationCount(r)));
}

// Each call's code is compiled by itself (about 10 µs). The driver runs children with
// --no-compilation-cache: V8's cache of compiled source would otherwise grow with every call
// and hide what the library itself keeps.
function compile(code: string): (l: unknown, vv: unknown, ad: unknown) => { args: unknown[]; run: () => unknown } {
  return new Function('lib', 'v', 'addon', code) as never;
}

function out(fd: number, line: string): void {
  fs.writeSync(fd, `${line}\n`);
}

function memory(): NodeJS.MemoryUsage {
  (global as { gc?: () => void }).gc?.();
  return process.memoryUsage();
}

/** Resets the kernel's peak-RSS mark (VmHWM), where Linux allows it. */
function resetPeak(): boolean {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : -1;
  } catch {
    return -1;
  }
}

function main(): void {
  const a = parseArgs(process.argv.slice(2));
  const fd = a.fd;
  const targets = allTargets().filter((t) => a.targets === null || a.targets.includes(t.name));
  if (targets.length === 0) throw new Error(`fuzz child: no targets match ${String(a.targets)}`);
  const total = targets.reduce((s, t) => s + t.weight, 0);
  const stats: Record<string, TargetStats> = {};
  const t0 = performance.now();
  let lastProgress = t0;
  // A warm-up: a valid call of every target, then the batch's first calls (a tenth, at most
  // 2,000) before the memory baseline, so that loading code, compiling it, the thread pool and
  // the allocator's first arenas are not counted as growth.
  const warm = new Rng(mix(a.seed, a.batch, 0xffffffff));
  for (const t of targets) {
    try {
      compile(t.make(new Ctx(warm, 0)).code)(lib, v, addon).run();
    } catch {
      // The warm-up only loads code; its calls are not judged.
    }
  }
  const warmup = Math.min(2000, Math.floor((a.to - a.from) / 10));
  let memStart = memory();
  let canPeak = false;
  for (let i = a.from; i < a.to; i++) {
    if (i === a.from + warmup) {
      memStart = memory();
      canPeak = resetPeak();
    }
    if (a.trace) out(fd, `B ${i}`);
    const now = performance.now();
    if (now - lastProgress > 100) {
      out(fd, `P ${i}`);
      lastProgress = now;
    }
    let call: Call;
    let built: { args: unknown[]; run: () => unknown };
    try {
      call = makeCall(a.seed, a.batch, i, targets, total);
      built = compile(call.code)(lib, v, addon);
    } catch (e) {
      out(fd, `F ${JSON.stringify({ batch: a.batch, index: i, target: '(fuzzer)', problem: `the fuzzer could not build call ${i}: ${safeString((e as Error)?.stack ?? e)}`, labels: [], code: '' })}`);
      continue;
    }
    call.prepare?.(built.args);
    let threw = false, result: unknown, err: unknown;
    const c0 = performance.now();
    try {
      result = built.run();
    } catch (e) {
      threw = true;
      err = e;
    }
    const ms = performance.now() - c0;
    const s = stats[call.target] ?? (stats[call.target] = { calls: 0, ok: 0, bad: 0, either: 0, threw: 0, slowest: 0 });
    s.calls++;
    if (call.expect === 'ok') s.ok++;
    else if (call.expect === 'throw') s.bad++;
    else s.either++;
    if (threw) s.threw++;
    if (ms > s.slowest) s.slowest = ms;
    let problem: string | null;
    try {
      problem = judge(call, threw, result, err, built.args);
    } catch (e) {
      problem = `judging the outcome threw: ${safeString(e)}`;
    }
    if (problem !== null) {
      const f: Failure = { batch: a.batch, index: i, target: call.target, problem, labels: call.labels, code: call.code };
      out(fd, `F ${JSON.stringify(f)}`);
    }
  }
  const memEnd = memory();
  const summary: BatchSummary = {
    batch: a.batch, calls: a.to - a.from, targets: stats, warmup, memStart, memEnd,
    peakGrowth: canPeak && peakRss() > 0 ? Math.max(0, peakRss() - memStart.rss) : -1,
    seconds: (performance.now() - t0) / 1000,
  };
  out(fd, `S ${JSON.stringify(summary)}`);
}

if (require.main === module) main();
