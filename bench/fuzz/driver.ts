// SPDX-License-Identifier: MIT
/**
 * The fuzz driver: hostile calls to every native entry point and every public function, layer,
 * network and optimizer method, in batches, each batch in its own child process.
 *
 *   npm run build && npm run fuzz -- [--calls 200000] [--seed N] [--batch-size 20000] [--jobs 2]
 *                                    [--targets a,b] [--call-timeout 20000] [--json FILE]
 *   npm run fuzz -- --minutes 10 --seed N            as many batches as fit in 10 minutes
 *   npm run fuzz -- --seed N --batch B --call I     makes call I of batch B again, alone, and prints it
 *
 * A child that dies of a signal (a crash, an abort) or stops reporting progress for longer than
 * the per-call timeout (a hang) fails its batch: the batch is replayed with a trace to find the
 * call, and that call alone in a fresh process to see whether it is the whole reproduction.
 * Every call that does not do what it promised (a bad call accepted, a valid call refused, an
 * error that is not a clear TypeError/RangeError/ShapeError naming the function and the
 * argument, a refused call that wrote its outputs) is printed with the JavaScript that makes it.
 * Memory: each batch's RSS after its calls (and a garbage collection) against the RSS after its
 * warm-up, and its peak RSS, are bounded; a child whose RSS passes the ceiling (1 GiB; the
 * hostile inputs are at most a few MB) is killed at once and its call found like a crash's.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { BatchSummary, Failure, TargetStats } from './child';

/** The package folder (where package.json is), from here or from dist/. */
function packageRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('fuzz: package.json not found above ' + __dirname);
    dir = up;
  }
  return dir;
}

export const ROOT = packageRoot();
export const CHILD = path.join(ROOT, 'dist', 'bench', 'fuzz', 'child.js');

export interface FuzzOptions {
  seed: number;
  /** Calls in all (with `minutes`: at most). */
  calls: number;
  /** Stop starting batches after this many minutes. */
  minutes?: number;
  /** A child whose resident memory passes this many bytes is killed (a memory failure). */
  rssCeiling?: number;
  /** Calls per child process. */
  batchSize?: number;
  /** Children at a time. */
  jobs?: number;
  /** A call that takes longer than this (no progress report) is a hang. */
  callTimeoutMs?: number;
  /** Only these targets (all when absent). */
  targets?: string[];
  /**
   * Allowed growth over a batch (after its warm-up; each after a garbage collection), bytes:
   * of the JavaScript heap in use, and of native memory (RSS minus the JavaScript heap's pages).
   */
  heapGrowthLimit?: number;
  nativeGrowthLimit?: number;
  /** Allowed peak RSS above the batch's start, bytes. */
  peakGrowthLimit?: number;
  /** Extra environment for the children. */
  env?: Record<string, string>;
  /** Progress lines. */
  log?: (line: string) => void;
  /** Stop collecting failures after this many (each is replayed and printed). */
  maxFailures?: number;
}

export interface Problem {
  kind: 'crash' | 'hang' | 'oracle' | 'memory' | 'child' | 'ceiling';
  batch: number;
  /** The call (index within its batch), when known. */
  index: number | null;
  target: string;
  problem: string;
  labels: readonly string[];
  /** The JavaScript that makes the call (run from the package folder after npm run build). */
  reproduction: string;
  /** How to make it again. */
  replay: string;
}

export interface FuzzReport {
  seed: number;
  calls: number;
  batches: number;
  seconds: number;
  targets: Record<string, TargetStats>;
  problems: Problem[];
  /** Largest growth of a batch (JavaScript heap in use, native memory, RSS) and largest peak growth, bytes. */
  maxHeapGrowth: number;
  maxNativeGrowth: number;
  maxRssGrowth: number;
  maxPeakGrowth: number;
  cpu: string;
}

interface ChildResult {
  summary: BatchSummary | null;
  failures: Failure[];
  /** The last call index reported as started (trace) or reached (progress). */
  lastIndex: number;
  signal: NodeJS.Signals | null;
  code: number | null;
  hung: boolean;
  /** Killed for passing the RSS ceiling (the RSS seen, bytes), or 0. */
  overCeiling: number;
  stderr: string;
}

/** Resident memory of a process, bytes (0 where unknown). */
function rssOf(pid: number | undefined): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function runChild(o: FuzzOptions, batch: number, from: number, to: number, trace: boolean): Promise<ChildResult> {
  const args = ['--expose-gc', '--no-compilation-cache', CHILD, '--seed', String(o.seed), '--batch', String(batch), '--from', String(from), '--to', String(to), '--report-fd', '3'];
  if (trace) args.push('--trace');
  if (o.targets) args.push('--targets', o.targets.join(','));
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe', 'pipe'], env: { ...process.env, ...o.env },
  });
  const timeout = o.callTimeoutMs ?? 20000;
  const res: ChildResult = { summary: null, failures: [], lastIndex: from, signal: null, code: null, hung: false, overCeiling: 0, stderr: '' };
  const ceiling = o.rssCeiling ?? 2 ** 30;
  let last = Date.now();
  let buf = '';
  const pipe = child.stdio[3] as NodeJS.ReadableStream;
  pipe.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      last = Date.now();
      const kind = line[0], rest = line.slice(2);
      if (kind === 'P' || kind === 'B') res.lastIndex = Number(rest);
      else if (kind === 'F') {
        const f = JSON.parse(rest) as Failure;
        res.failures.push(f);
        res.lastIndex = Math.max(res.lastIndex, f.index);
      } else if (kind === 'S') res.summary = JSON.parse(rest) as BatchSummary;
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    if (res.stderr.length < 20000) res.stderr += d.toString();
  });
  const watchdog = setInterval(() => {
    if (Date.now() - last > timeout) {
      res.hung = true;
      child.kill('SIGKILL');
    }
    const rss = rssOf(child.pid);
    if (rss > ceiling && !res.overCeiling) {
      res.overCeiling = rss;
      child.kill('SIGKILL');
    }
  }, 50);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearInterval(watchdog);
      // The folder of its files (values.tempDir), left behind when it was killed.
      if (child.pid !== undefined) fs.rmSync(path.join(os.tmpdir(), `blasnet-fuzz-${child.pid}`), { recursive: true, force: true });
      res.code = code;
      res.signal = res.hung || res.overCeiling ? null : signal;
      resolve(res);
    });
  });
}

function replayCommand(seed: number, batch: number, index: number): string {
  return `npm run fuzz -- --seed ${seed} --batch ${batch} --call ${index}`;
}

/** The reproduction text of call `index` (from a child that prints it). */
async function describeCall(o: FuzzOptions, batch: number, index: number): Promise<{ target: string; code: string; labels: string[] }> {
  const { makeCall } = await import('./child');
  const { allTargets } = await import('./targets');
  const { reproduction } = await import('./ctx');
  const targets = allTargets().filter((t) => !o.targets || o.targets.includes(t.name));
  const total = targets.reduce((s, t) => s + t.weight, 0);
  const call = makeCall(o.seed, batch, index, targets, total);
  return { target: call.target, code: reproduction(call), labels: [...call.labels] };
}

/** A dead or hung batch: find the call (trace), then see whether it fails alone. */
async function locate(o: FuzzOptions, batch: number, from: number, to: number, kind: 'crash' | 'hang' | 'ceiling', first: ChildResult): Promise<Problem> {
  const traced = await runChild(o, batch, from, to, true);
  const failed = traced.hung || traced.overCeiling > 0 || traced.signal !== null || (traced.summary === null);
  const at = failed ? traced.lastIndex : first.lastIndex;
  const alone = await runChild(o, batch, at, at + 1, true);
  const aloneFails = alone.hung || alone.overCeiling > 0 || alone.signal !== null || alone.summary === null;
  const d = await describeCall(o, batch, at);
  const MiB = (x: number): string => (x / 2 ** 20).toFixed(0);
  const how = kind === 'hang' ? `no progress for ${(o.callTimeoutMs ?? 20000) / 1000} s (a hang)`
    : kind === 'ceiling' ? `the child's RSS reached ${MiB(first.overCeiling)} MiB, over the ceiling of ${MiB(o.rssCeiling ?? 2 ** 30)} MiB`
      : `the child died (${first.signal ? `signal ${first.signal}` : `exit code ${first.code}`})`;
  const stderr = (first.stderr || traced.stderr).trim().split('\n').slice(-6).join('\n');
  return {
    kind, batch, index: at, target: d.target, labels: d.labels,
    problem: `${how} at call ${at}${failed ? '' : ' (the traced replay did not fail: the failure depends on timing)'}; `
      + `${aloneFails ? 'the call alone in a fresh process fails the same way' : `alone it does not fail: calls ${from}..${at} of batch ${batch} are the reproduction`}`
      + (stderr ? `\nstderr:\n${stderr}` : ''),
    reproduction: d.code,
    replay: aloneFails ? replayCommand(o.seed, batch, at) : `npm run fuzz -- --seed ${o.seed} --batch ${batch} --from ${from} --to ${at + 1}`,
  };
}

/** Runs the fuzzer: `calls` calls in batches of `batchSize`, `jobs` children at a time. */
export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const batchSize = o.batchSize ?? 20000;
  const jobs = o.jobs ?? Math.max(1, Math.min(2, os.cpus().length));
  const deadline = o.minutes !== undefined ? Date.now() + o.minutes * 60000 : Infinity;
  const batches = Math.ceil(o.calls / batchSize);
  const heapLimit = o.heapGrowthLimit ?? 16 * 2 ** 20;
  const nativeLimit = o.nativeGrowthLimit ?? 64 * 2 ** 20; // batches of 10,000-40,000 calls plateau at 17-45 MiB (allocator arenas, code space)
  const peakLimit = o.peakGrowthLimit ?? 512 * 2 ** 20;
  const maxFailures = o.maxFailures ?? 20;
  const log = o.log ?? (() => {});
  const t0 = Date.now();
  const targets: Record<string, TargetStats> = {};
  const problems: Problem[] = [];
  const seen = new Set<string>();
  let done = 0, next = 0, maxRss = 0, maxPeak = 0, maxHeap = 0, maxNative = 0;

  const work = async (): Promise<void> => {
    while (next < batches && Date.now() < deadline) {
      const b = next++;
      const from = 0, to = Math.min(batchSize, o.calls - b * batchSize);
      const r = await runChild(o, b, from, to, false);
      if (r.summary) {
        for (const [name, s] of Object.entries(r.summary.targets)) {
          const t = targets[name] ?? (targets[name] = { calls: 0, ok: 0, bad: 0, either: 0, threw: 0, slowest: 0 });
          t.calls += s.calls; t.ok += s.ok; t.bad += s.bad; t.either += s.either; t.threw += s.threw;
          t.slowest = Math.max(t.slowest, s.slowest);
        }
        const { memStart: m0, memEnd: m1 } = r.summary;
        const heap = m1.heapUsed - m0.heapUsed;
        const native = (m1.rss - m1.heapTotal) - (m0.rss - m0.heapTotal);
        maxHeap = Math.max(maxHeap, heap);
        maxNative = Math.max(maxNative, native);
        maxRss = Math.max(maxRss, m1.rss - m0.rss);
        maxPeak = Math.max(maxPeak, r.summary.peakGrowth);
        const MiB = (x: number): string => (x / 2 ** 20).toFixed(1);
        if (heap > heapLimit || native > nativeLimit || r.summary.peakGrowth > peakLimit) {
          problems.push({
            kind: 'memory', batch: b, index: null, target: '(batch)', labels: [],
            problem: `over the batch's ${to - r.summary.warmup} calls after its warm-up, the JavaScript heap in use grew by ${MiB(heap)} MiB (limit ${MiB(heapLimit)}), `
              + `native memory by ${MiB(native)} MiB (limit ${MiB(nativeLimit)}); its peak RSS was ${MiB(r.summary.peakGrowth)} MiB above the baseline (limit ${MiB(peakLimit)})`,
            reproduction: '', replay: `npm run fuzz -- --seed ${o.seed} --batch ${b} --from 0 --to ${to}`,
          });
        }
      }
      for (const f of r.failures) {
        // One report per target and kind of problem (numbers stripped), up to maxFailures.
        const key = `${f.target}|${f.problem.replace(/\d+/g, '#').slice(0, 160)}`;
        if (seen.has(key) || problems.length >= maxFailures) continue;
        seen.add(key);
        const d = await describeCall(o, b, f.index);
        problems.push({
          kind: 'oracle', batch: b, index: f.index, target: f.target, problem: f.problem, labels: f.labels,
          reproduction: d.code, replay: replayCommand(o.seed, b, f.index),
        });
      }
      if (r.hung || r.overCeiling > 0 || r.signal !== null || r.summary === null) {
        // Crashes, hangs and memory over the ceiling are always reported (maxFailures bounds the others).
        const kind = r.hung ? 'hang' : r.overCeiling > 0 ? 'ceiling' : 'crash';
        problems.push(await locate(o, b, from, to, kind, r));
      }
      done += to - from;
      log(`fuzz: batch ${b + 1}/${batches} done (${done} calls, ${((Date.now() - t0) / 1000).toFixed(0)} s, ${problems.length} problems)`);
    }
  };
  await Promise.all(Array.from({ length: jobs }, work));
  return {
    seed: o.seed, calls: done, batches: Math.min(next, batches), seconds: (Date.now() - t0) / 1000, targets, problems,
    maxHeapGrowth: maxHeap, maxNativeGrowth: maxNative, maxRssGrowth: maxRss, maxPeakGrowth: maxPeak, cpu: os.cpus()[0]?.model ?? 'unknown CPU',
  };
}

/** The distribution of calls over entry points, grouped, as text. */
export function formatReport(r: FuzzReport): string {
  const lines: string[] = [];
  const names = Object.keys(r.targets).sort();
  const totalCalls = names.reduce((s, n) => s + r.targets[n].calls, 0);
  const perMinute = Math.round(totalCalls / Math.max(r.seconds, 1e-3) * 60);
  lines.push(`fuzz: seed ${r.seed}: ${totalCalls.toLocaleString('en-US')} calls to ${names.length} entry points in ${r.batches} child processes, ${r.seconds.toFixed(1)} s, ${perMinute.toLocaleString('en-US')} calls/min (${r.cpu})`);
  const sum = (f: (s: TargetStats) => number): number => names.reduce((a, n) => a + f(r.targets[n]), 0);
  lines.push(`fuzz: ${sum((s) => s.ok).toLocaleString('en-US')} valid calls, ${sum((s) => s.bad).toLocaleString('en-US')} bad calls, ${sum((s) => s.either).toLocaleString('en-US')} either (hostile getters, shifting tensor-likes); ${sum((s) => s.threw).toLocaleString('en-US')} threw`);
  const MiB = (x: number): string => (x / 2 ** 20).toFixed(1);
  lines.push(`fuzz: memory over a batch (after its warm-up, largest of the batches): JavaScript heap in use +${MiB(r.maxHeapGrowth)} MiB, native +${MiB(r.maxNativeGrowth)} MiB, RSS +${MiB(r.maxRssGrowth)} MiB (V8 keeps heap pages), peak RSS +${MiB(r.maxPeakGrowth)} MiB`);
  const groups = new Map<string, number>();
  for (const n of names) {
    const g = n.startsWith('addon.') ? 'addon.* (raw native)' : n.startsWith('kernels.') && !/windowOutput|blasInfo/.test(n) ? 'kernels.* (public native)' : n.split(/[.(]/)[0];
    groups.set(g, (groups.get(g) ?? 0) + r.targets[n].calls);
  }
  lines.push('fuzz: calls per group: ' + [...groups].sort((a, b) => b[1] - a[1]).map(([g, n]) => `${g} ${n}`).join(', '));
  const per = names.map((n) => `${n} ${r.targets[n].calls} (${r.targets[n].ok}/${r.targets[n].bad}/${r.targets[n].either}, slowest ${r.targets[n].slowest.toFixed(1)} ms)`);
  lines.push('fuzz: calls per entry point (valid/bad/either): ' + per.join('; '));
  for (const p of r.problems) {
    lines.push('', `FUZZ ${p.kind.toUpperCase()}: ${p.target}${p.index !== null ? ` (batch ${p.batch}, call ${p.index})` : ''}: ${p.problem}`);
    if (p.labels.length) lines.push(`  what was done to the valid call: ${p.labels.join('; ')}`);
    if (p.reproduction) lines.push('  reproduction (from the package folder, after npm run build):', ...p.reproduction.split('\n').map((l) => `    ${l}`));
    lines.push(`  replay: ${p.replay}`);
  }
  return lines.join('\n');
}

interface Cli {
  seed: number;
  calls: number;
  batchSize: number;
  jobs: number;
  callTimeout: number;
  minutes?: number;
  rssCeilingMiB?: number;
  targets?: string[];
  json?: string;
  batch?: number;
  call?: number;
  from?: number;
  to?: number;
}

function parseCli(argv: string[]): Cli {
  const c: Cli = { seed: Math.floor(Math.random() * 2 ** 31), calls: 200000, batchSize: 20000, jobs: Math.min(2, os.cpus().length), callTimeout: 20000 };
  const num = (k: string, x: string | undefined): number => {
    const n = Number(x);
    if (x === undefined || !Number.isSafeInteger(n) || n < 0) throw new Error(`fuzz: ${k} needs a non-negative integer, got ${String(x)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const x = argv[i + 1];
    switch (k) {
      case '--seed': c.seed = num(k, x); i++; break;
      case '--calls': c.calls = num(k, x); i++; break;
      case '--batch-size': c.batchSize = Math.max(1, num(k, x)); i++; break;
      case '--jobs': c.jobs = Math.max(1, num(k, x)); i++; break;
      case '--call-timeout': c.callTimeout = num(k, x); i++; break;
      case '--minutes': {
        const m = Number(x);
        if (!(m > 0)) throw new Error(`fuzz: --minutes needs a positive number, got ${String(x)}`);
        c.minutes = m;
        if (!argv.includes('--calls')) c.calls = Number.MAX_SAFE_INTEGER;
        i++;
        break;
      }
      case '--rss-ceiling': c.rssCeilingMiB = num(k, x); i++; break;
      case '--targets': c.targets = (x ?? '').split(',').filter(Boolean); i++; break;
      case '--json': c.json = x; i++; break;
      case '--batch': c.batch = num(k, x); i++; break;
      case '--call': c.call = num(k, x); i++; break;
      case '--from': c.from = num(k, x); i++; break;
      case '--to': c.to = num(k, x); i++; break;
      case '-h': case '--help':
        console.log('usage: npm run fuzz -- [--calls N | --minutes M] [--seed N] [--rss-ceiling MiB] [--batch-size N] [--jobs N] [--targets a,b] [--call-timeout MS] [--json FILE]\n'
          + '       npm run fuzz -- --seed N --batch B --call I      (one call again, alone)\n'
          + '       npm run fuzz -- --seed N --batch B --from I --to J (calls I..J-1 of a batch)');
        process.exit(0);
        break;
      default: throw new Error(`fuzz: unknown option ${k} (see --help)`);
    }
  }
  return c;
}

async function main(): Promise<void> {
  const c = parseCli(process.argv.slice(2));
  const o: FuzzOptions = {
    seed: c.seed, calls: c.calls, minutes: c.minutes, batchSize: c.batchSize, jobs: c.jobs, callTimeoutMs: c.callTimeout, targets: c.targets,
    rssCeiling: c.rssCeilingMiB !== undefined ? c.rssCeilingMiB * 2 ** 20 : undefined, log: (l) => console.error(l),
  };
  if (c.batch !== undefined) {
    // Replay: one call (or a range of one batch), traced, with what it is and what it did.
    const from = c.call ?? c.from ?? 0, to = c.call !== undefined ? c.call + 1 : c.to ?? from + 1;
    const r = await runChild(o, c.batch, from, to, true);
    if (c.call !== undefined) {
      const d = await describeCall(o, c.batch, c.call);
      console.log(`call ${c.call} of batch ${c.batch} under seed ${c.seed}: ${d.target}${d.labels.length ? ` (${d.labels.join('; ')})` : ''}\n${d.code}`);
    }
    const died = r.hung ? 'hung' : r.overCeiling ? `passed the RSS ceiling (${(r.overCeiling / 2 ** 20).toFixed(0)} MiB)` : r.signal ? `died of ${r.signal}` : r.summary === null ? `exited with ${r.code}` : 'finished';
    console.log(`the child ${died}; ${r.failures.length} failure(s)`);
    for (const f of r.failures) console.log(`call ${f.index} (${f.target}): ${f.problem}`);
    if (r.stderr.trim()) console.log(r.stderr.trim());
    process.exitCode = r.failures.length || r.hung || r.overCeiling || r.signal || r.summary === null ? 1 : 0;
    return;
  }
  console.log(`fuzz: seed ${c.seed} (replay with --seed ${c.seed}), ${c.minutes !== undefined ? `${c.minutes} minutes` : `${c.calls} calls`}, batches of ${c.batchSize}, ${c.jobs} at a time`);
  const report = await runFuzz(o);
  console.log(formatReport(report));
  if (c.json) fs.writeFileSync(c.json, JSON.stringify(report, null, 2));
  process.exitCode = report.problems.length ? 1 : 0;
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 2;
  });
}
