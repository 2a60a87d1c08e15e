// SPDX-License-Identifier: MIT
/**
 * The benchmark: workloads W1-W5 of shared/BENCHMARKS.md through blasnet's public API
 * (the preset networks and optimizers a user trains with), optionally beside PyTorch.
 *
 *   npm run bench -- [--only W4] [--json out.json] [--compare] [--reps 5] [--steps 50]
 *
 * Every workload runs in a fresh child process, so that peak RSS (process.resourceUsage().maxRSS)
 * belongs to that workload alone. Training is timed over `steps` consecutive steps of batch 100
 * (net.gradient + optimizer.update), inference over batches of 1000 in test mode; each figure
 * is the median of `rounds` x `reps` repetitions after untimed warm-up ones: at least `warmup`
 * of them and for at least `warmupSeconds` (a few hundred W1 steps end while V8's background
 * compiler threads still compete for the two cores; both frameworks get the same warm-up), and
 * each repetition after `settleSeconds` of untimed single steps. All training runs before any
 * inference, so the RSS read in between is the peak while training.
 *
 * --compare runs bench/torch_workloads.py under /usr/bin/python3 at torch threads 1 and 2 with
 * OPENBLAS_NUM_THREADS=1 (torch's OpenMP pool plus OpenBLAS's own would oversubscribe the
 * cores) and prints blasnet's ratio to PyTorch's better figure. The three children of a
 * workload stay up side by side and time one repetition each in turn (the parent asks; the
 * order reverses every other time), so that the machine's drift, which on a VM moves a figure
 * by 1.5x within a minute, hits both frameworks alike.
 *
 * --isa avx2 (or avx512, or both: --isa avx512,avx2) runs everything again held to that
 * instruction-set level, so that one machine measures both CPU classes: blasnet with
 * BLASNET_ISA=<level> and the level's OpenBLAS core, PyTorch with ONEDNN_MAX_CPU_ISA and the
 * same core. A level this CPU does not have is reported as not available here. Without --isa,
 * blasnet runs with no variable set, as a user gets it, and PyTorch at its best.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as readline from 'readline';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { cpuIsa, flagCore, readCpuInfo } from '../lib/core/cpu';
import {
  Adam, blasInfo, BlasInfo, DeepConvNet, getNumThreads, MultiLayerNet, MultiLayerNetExtend, SGD,
  Sequential, setNumThreads, setSeed, SimpleConvNet, StatefulOptimizer, Tensor, threadInfo,
} from '../lib';

const WORKLOAD_IDS = ['W1', 'W2', 'W3', 'W4', 'W5'] as const;
type WorkloadId = typeof WORKLOAD_IDS[number];

interface Workload {
  name: string;
  build(): { net: Sequential; optimizer: StatefulOptimizer };
  /** Speed-issue targets: blasnet's throughput over PyTorch's better figure, training and inference. */
  trainTarget: number;
  inferTarget: number;
}

const hidden = (n: number, width: number): number[] => new Array<number>(n).fill(width);

// Each network exactly as BENCHMARKS.md lists it, built by the presets (the course's
// initialisation); inputs are (N, 1, 28, 28) for all, Affine flattens them.
const WORKLOADS: Record<WorkloadId, Workload> = {
  W1: {
    name: 'mlp-small',
    build: () => ({
      net: new MultiLayerNet({ inputSize: 784, hiddenSizeList: [40, 20], outputSize: 10, activation: 'sigmoid', weightInitStd: 'sigmoid' }),
      optimizer: new SGD({ lr: 0.1 }),
    }),
    trainTarget: 2.0,
    inferTarget: 1.3,
  },
  W2: {
    name: 'mlp-deep',
    build: () => ({
      net: new MultiLayerNet({ inputSize: 784, hiddenSizeList: hidden(6, 100), outputSize: 10 }),
      optimizer: new SGD({ lr: 0.01 }),
    }),
    trainTarget: 1.6,
    inferTarget: 1.3,
  },
  W3: {
    name: 'mlp-bn',
    build: () => ({
      net: new MultiLayerNetExtend({
        inputSize: 784, hiddenSizeList: hidden(5, 100), outputSize: 10,
        useBatchnorm: true, useDropout: true, dropoutRatio: 0.15,
      }),
      optimizer: new Adam({ lr: 0.001 }),
    }),
    trainTarget: 2.2,
    inferTarget: 1.3,
  },
  W4: {
    name: 'simple-convnet',
    build: () => ({ net: new SimpleConvNet(), optimizer: new Adam({ lr: 0.001 }) }),
    trainTarget: 3.0,
    inferTarget: 3.0,
  },
  W5: {
    name: 'deep-convnet',
    build: () => ({ net: new DeepConvNet(), optimizer: new Adam({ lr: 0.001 }) }),
    trainTarget: 1.3,
    inferTarget: 1.5,
  },
};

/** Inference must at least match PyTorch's better figure; W4 must train in under 150 MiB. */
const W4_RSS_LIMIT_MIB = 100;

const BATCH = 100;
const INFER_BATCH = 1000;
const POOL = 10;

interface Stats { median: number; min: number; max: number; reps: number[] }

/** One child's figures; the same fields torch_workloads.py prints. */
interface RunResult {
  workload: WorkloadId;
  name: string;
  framework: 'blasnet' | 'pytorch';
  threads: number;
  train_samples_per_s: Stats;
  infer_samples_per_s: Stats;
  peak_rss_mib: number;
  train_peak_rss_mib: number;
  blas?: BlasInfo | string;
  torch_version?: string;
  /** blasnet: the threads its next call would use, read after each repetition (train, infer). */
  threads_in_use?: { train: number[]; infer: number[] };
}

interface Settings {
  reps: number;
  steps: number;
  warmup: number;
  warmupSeconds: number;
  settleSeconds: number;
  inferBatches: number;
  threads?: number;
  seed: number;
}

function stats(values: number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  const m = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], reps: values };
}

/** Uniform [0, 1) floats from a fixed seed (mulberry32), independent of the library's stream. */
function fillUniform(a: Float32Array, seed: number): void {
  let s = seed >>> 0;
  for (let i = 0; i < a.length; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    a[i] = ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  }
}

const maxRssMib = (): number => process.resourceUsage().maxRSS / 1024; // KiB on Linux

/** Untimed repetitions: at least s.warmup of them, and until s.warmupSeconds have passed. */
function warmUp(rep: () => number, s: Settings): void {
  const start = process.hrtime.bigint();
  for (let r = 0; r < s.warmup || Number(process.hrtime.bigint() - start) / 1e9 < s.warmupSeconds; r++) rep();
}

/** Child side: one workload in this process, timed a repetition at a time. */
class Child {
  readonly train: number[] = [];
  readonly infer: number[] = [];
  private readonly inUse: { train: number[]; infer: number[] } = { train: [], infer: [] };
  private trainPeak: number | null = null;
  private readonly trainSteps: (steps: number) => number;
  private readonly inferBatches: (batches: number) => number;

  constructor(private readonly id: WorkloadId, private readonly s: Settings) {
    if (s.threads !== undefined) setNumThreads(s.threads);
    setSeed(s.seed);
    const { net, optimizer } = WORKLOADS[id].build();
    // A few distinct batches cycled through; the arithmetic does not depend on the values.
    const xs: Tensor[] = [], ts: Int32Array[] = [];
    for (let j = 0; j < POOL; j++) {
      const x = Tensor.zeros([BATCH, 1, 28, 28]);
      fillUniform(x.data, s.seed * 1000 + j + 1);
      const u = new Float32Array(BATCH);
      fillUniform(u, s.seed * 1000 + 500 + j);
      const t = Int32Array.from(u, (v) => Math.min(9, Math.floor(v * 10)));
      xs.push(x);
      ts.push(t);
    }
    const xInfer = Tensor.zeros([INFER_BATCH, 1, 28, 28]);
    fillUniform(xInfer.data, s.seed * 1000 + 999);
    // Seconds for `steps` consecutive training steps / `batches` inference batches.
    this.trainSteps = (steps) => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < steps; i++) {
        const j = i % POOL;
        optimizer.update(net.params, net.gradient(xs[j], ts[j]));
      }
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      if (!Number.isFinite(net.lastLoss)) throw new Error(`${id}: training loss is not finite (${net.lastLoss})`);
      return seconds;
    };
    this.inferBatches = (batches) => {
      let out: Tensor | null = null;
      const start = process.hrtime.bigint();
      for (let i = 0; i < batches; i++) out = net.predict(xInfer, false);
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      if (out === null || out.shape[0] !== INFER_BATCH || out.shape[1] !== 10) {
        throw new Error(`${id}: inference output has shape [${out?.shape.join(', ')}], expected [${INFER_BATCH}, 10]`);
      }
      return seconds;
    };
  }

  /**
   * One timed repetition of `kind`, recorded. All training comes before any inference, so the
   * RSS read at the first inference is the peak while training. The first repetition of a kind
   * warms up first; then untimed single steps (batches) run for s.settleSeconds (none at 0).
   */
  timed(kind: 'train' | 'infer'): number {
    const train = kind === 'train';
    if (train && this.infer.length > 0) throw new Error('train after infer: all training comes first');
    const done = train ? this.train : this.infer;
    const rep = train
      ? (): number => (this.s.steps * BATCH) / this.trainSteps(this.s.steps)
      : (): number => (this.s.inferBatches * INFER_BATCH) / this.inferBatches(this.s.inferBatches);
    if (done.length === 0) {
      if (!train) this.trainPeak = maxRssMib();
      warmUp(rep, this.s);
    }
    if (this.s.settleSeconds > 0) {
      const one = train ? (): number => this.trainSteps(1) : (): number => this.inferBatches(1);
      const start = process.hrtime.bigint();
      do one(); while (Number(process.hrtime.bigint() - start) / 1e9 < this.s.settleSeconds);
    }
    const value = rep();
    done.push(value);
    this.inUse[kind].push(threadInfo().inUse);
    return value;
  }

  result(): RunResult {
    return {
      workload: this.id,
      name: WORKLOADS[this.id].name,
      framework: 'blasnet',
      threads: getNumThreads(),
      train_samples_per_s: stats(this.train),
      infer_samples_per_s: stats(this.infer),
      peak_rss_mib: maxRssMib(),
      train_peak_rss_mib: this.trainPeak ?? maxRssMib(),
      blas: blasInfo(),
      threads_in_use: this.inUse,
    };
  }
}

/** Child side, --serve: one timed repetition per command on stdin (train, infer, end), as torch_workloads.py --serve. */
async function serve(id: WorkloadId, s: Settings): Promise<void> {
  const child = new Child(id, s);
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  for await (const line of readline.createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    const cmd = line.trim();
    if (cmd === 'train' || cmd === 'infer') {
      process.stdout.write(`${JSON.stringify({ value: child.timed(cmd) })}\n`);
    } else if (cmd === 'end') {
      process.stdout.write(`${JSON.stringify(child.result())}\n`);
      // The parent's end of stdin stays open: let go of it, or the process would not exit.
      process.stdin.destroy();
      return;
    } else {
      throw new Error(`unknown command '${cmd}' (expected train, infer or end)`);
    }
  }
  throw new Error('stdin closed before the end command');
}

// ---- parent side --------------------------------------------------------------------------

/** The instruction-set levels --isa can hold both frameworks to, widest first. */
const ISA_LEVELS = ['avx512', 'avx2'] as const;
type IsaLevel = typeof ISA_LEVELS[number];
const ISA_RANK: Record<string, number> = { generic: 0, avx2: 1, avx512: 2 };

/** What holds each framework to a level: blasnet's switch, OpenBLAS's core, oneDNN's limit. */
function levelEnv(level: IsaLevel): { blasnet: Record<string, string>; torch: Record<string, string> } {
  const cpu = readCpuInfo();
  const core = level === 'avx512' ? 'SkylakeX' : (cpu !== null && /AMD|Hygon/i.test(cpu.vendor) ? 'Zen' : 'Haswell');
  const onednn = level === 'avx512' ? 'AVX512_CORE' : 'AVX2';
  return {
    blasnet: { BLASNET_ISA: level, OPENBLAS_CORETYPE: core },
    torch: { OPENBLAS_CORETYPE: core, ONEDNN_MAX_CPU_ISA: onednn },
  };
}

/** Why this machine cannot run `level`, or null when it can. */
function levelUnavailable(level: IsaLevel): string | null {
  const has = cpuIsa(readCpuInfo());
  return ISA_RANK[has] >= ISA_RANK[level] ? null : `not available here (this CPU's widest level is ${has})`;
}

function isaList(v: string, prev: IsaLevel[] | undefined): IsaLevel[] {
  const out = [...(prev ?? [])];
  for (const part of v.split(',')) {
    const level = part.trim().toLowerCase();
    if (!(ISA_LEVELS as readonly string[]).includes(level)) {
      throw new InvalidArgumentError(`expected ${ISA_LEVELS.join(' or ')} (comma-separated), got '${part}'`);
    }
    if (!out.includes(level as IsaLevel)) out.push(level as IsaLevel);
  }
  return out;
}

interface Options {
  only?: WorkloadId[];
  isa?: IsaLevel[];
  json?: string;
  compare?: boolean;
  reps: number;
  steps: number;
  warmup: number;
  warmupSeconds: number;
  settleSeconds: number;
  inferBatches: number;
  rounds: number;
  threads?: number;
  seed: number;
  python: string;
  child?: WorkloadId;
}

function positiveInt(name: string, min = 1) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got '${v}'`);
    }
    return n;
  };
}

function seconds(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < 0) {
      throw new InvalidArgumentError(`${name} must be a number of seconds >= 0, got '${v}'`);
    }
    return n;
  };
}

function workloadList(v: string, prev: WorkloadId[] | undefined): WorkloadId[] {
  const out = [...(prev ?? [])];
  for (const part of v.split(',')) {
    const id = part.trim().toUpperCase();
    if (!(WORKLOAD_IDS as readonly string[]).includes(id)) {
      throw new InvalidArgumentError(`expected one of ${WORKLOAD_IDS.join(', ')} (comma-separated), got '${part}'`);
    }
    if (!out.includes(id as WorkloadId)) out.push(id as WorkloadId);
  }
  return out;
}

function workloadId(v: string): WorkloadId {
  return workloadList(v, [])[0];
}

/** bench/torch_workloads.py, found from dist/bench/ (compiled) or bench/ (ts-node). */
function torchScript(): string | null {
  for (const p of [path.resolve(__dirname, '..', '..', 'bench', 'torch_workloads.py'), path.resolve(__dirname, 'torch_workloads.py')]) {
    if (fs.existsSync(p)) return p;
  }
  return null;
}

function torchAvailable(python: string, script: string | null): string | null {
  if (script === null) return 'bench/torch_workloads.py was not found';
  const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', env: torchEnv(null) });
  if (r.error) return `${python} could not be run (${r.error.message})`;
  if (r.status !== 0) return `${python} cannot import torch (install python3-torch): ${r.stderr.trim().split('\n').pop()}`;
  return null;
}

/**
 * glibc's allocator kept from handing memory back to the kernel: PyTorch allocates a fresh
 * output for every operation, and a tensor above glibc's mmap threshold (or one that frees the
 * heap's top) comes back as new pages, each zeroed in a page fault. Where faults are dear
 * (seen on a KVM guest: 12 µs per 4 KiB page, 50x a bare machine) that alone made PyTorch
 * train W3 3.7x and infer W4 7x slower; blasnet reuses its buffers and does not need it.
 */
export const TORCH_GLIBC_TUNABLES = 'glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=17179869184';

/**
 * PyTorch at its best: one thread pool (OPENBLAS_NUM_THREADS=1), an allocator that keeps freed
 * memory (TORCH_GLIBC_TUNABLES, unless the caller set GLIBC_TUNABLES) and, unless the caller set
 * one, the OpenBLAS core this CPU's flags call for (OpenBLAS 0.3.21 runs generic SSE3 kernels on
 * CPUs it does not know, which would make the yardstick look slower than it is).
 */
function torchEnv(level: IsaLevel | null): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: '1' };
  if (!env.GLIBC_TUNABLES) env.GLIBC_TUNABLES = TORCH_GLIBC_TUNABLES;
  if (level !== null) return { ...env, ...levelEnv(level).torch };
  const userSet = env.OPENBLAS_CORETYPE && env.BLASNET_OPENBLAS_CORE_CHOSEN !== env.OPENBLAS_CORETYPE;
  if (!userSet) {
    const core = flagCore(readCpuInfo());
    if (core !== null) env.OPENBLAS_CORETYPE = core;
    else delete env.OPENBLAS_CORETYPE;
  }
  return env;
}

function childArgs(o: Options): string[] {
  return ['--reps', String(o.reps), '--steps', String(o.steps), '--warmup', String(o.warmup),
    '--warmup-seconds', String(o.warmupSeconds), '--settle-seconds', String(o.settleSeconds),
    '--infer-batches', String(o.inferBatches), '--seed', String(o.seed)];
}

/**
 * A child process serving one workload (--serve: one timed repetition per command, one JSON
 * line per answer). Errors name the child and carry its stderr.
 */
class Served {
  private readonly lines: string[] = [];
  private waiting: ((line: string | null) => void) | null = null;
  private closed = false;
  private stderr = '';
  private exit = '';
  private readonly proc: ChildProcess;

  private constructor(cmd: string, args: string[], env: NodeJS.ProcessEnv, readonly label: string) {
    this.proc = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stderr?.setEncoding('utf8').on('data', (d: string) => { this.stderr += d; });
    // A child that died: writing its stdin fails too; the close event reports it.
    this.proc.stdin?.on('error', () => undefined);
    this.proc.on('error', (err) => { this.exit = `could not start ${cmd}: ${err.message}`; this.deliver(null); });
    this.proc.on('close', (code, signal) => { this.exit ||= `exited with ${code ?? signal}`; this.deliver(null); });
    readline.createInterface({ input: this.proc.stdout as NodeJS.ReadableStream, crlfDelay: Infinity })
      .on('line', (line) => { if (line.startsWith('{')) this.deliver(line); });
  }

  /** Starts the child and waits until it has built its workload. */
  static async start(cmd: string, args: string[], env: NodeJS.ProcessEnv, label: string): Promise<Served> {
    const child = new Served(cmd, args, env, label);
    await child.next('start');
    return child;
  }

  /** A line to the waiting reader, else to the queue; null: the child is gone. */
  private deliver(line: string | null): void {
    if (line === null) this.closed = true;
    const w = this.waiting;
    this.waiting = null;
    if (w) w(line);
    else if (line !== null) this.lines.push(line);
  }

  private async next(what: string): Promise<Record<string, unknown>> {
    let line = this.lines.shift() ?? null;
    if (line === null && !this.closed) line = await new Promise<string | null>((resolve) => { this.waiting = resolve; });
    if (line === null) {
      const err = this.stderr.trim();
      throw new Error(`${this.label}: ${this.exit || 'closed its output'} before answering '${what}'${err ? `:\n${err}` : ''}`);
    }
    return JSON.parse(line) as Record<string, unknown>;
  }

  /** One command, its answer. */
  async send(cmd: 'train' | 'infer' | 'end'): Promise<Record<string, unknown>> {
    this.proc.stdin?.write(`${cmd}\n`);
    return this.next(cmd);
  }

  /** The end command: the child's figures, then it exits; its stderr, if any, is passed on. */
  async finish(): Promise<RunResult> {
    const result = await this.send('end') as unknown as RunResult;
    if (!this.closed) await new Promise<void>((resolve) => this.proc.on('close', () => resolve()));
    const err = this.stderr.trim();
    if (err) process.stderr.write(`${this.label}: ${err}\n`);
    return result;
  }

  kill(): void {
    if (!this.closed) this.proc.kill();
  }
}

interface WorkloadReport {
  workload: WorkloadId;
  name: string;
  blasnet: RunResult;
  pytorch: { threads1: RunResult; threads2: RunResult } | null;
  /** blasnet median over PyTorch's better median (threads 1 or 2). */
  ratio: { train: number; infer: number } | null;
  targets: { train: number; infer: number; trainRssMib?: number };
  met: boolean | null;
  /** The level both frameworks were held to (--isa), or null: as a user gets them. */
  isa: IsaLevel | null;
  /** Which targets were missed: 'train', 'infer', 'train RSS'. */
  missed: string[];
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const range = (s: Stats): string => `${fmt(s.min)}–${fmt(s.max)}`;

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]): string => `| ${r.map((v, c) => v.padEnd(widths[c])).join(' | ')} |`;
  return [line(rows[0]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}

/** One run of the workloads: as a user gets them (level null) or held to an --isa level. */
interface Section {
  level: IsaLevel | null;
  /** Why the level could not run here, or null. */
  unavailable: string | null;
  results: WorkloadReport[];
}

function levelHeading(level: IsaLevel | null, compare: boolean): string {
  if (level === null) return 'As a user gets it: no variables set for blasnet; PyTorch at its best';
  const e = levelEnv(level);
  const vars = (r: Record<string, string>): string => Object.entries(r).map(([k, v]) => `${k}=${v}`).join(' ');
  return `Held to ${level}: blasnet with ${vars(e.blasnet)}${compare ? `; PyTorch with ${vars(e.torch)}` : ''}`;
}

function report(sections: Section[], o: Options, info: BlasInfo, torchNote: string | null): string {
  const out: string[] = [];
  const compare = o.compare === true && torchNote === null;
  for (const sec of sections) {
    if (o.isa) out.push(`## ${levelHeading(sec.level, compare)}`, '');
    if (sec.unavailable !== null) {
      out.push(`${sec.level}: ${sec.unavailable}`, '');
      continue;
    }
    out.push(...reportTable(sec.results, o, torchNote, sec.level), '');
  }
  out.pop();
  return [...out, ...reportNotes(sections, o, info, torchNote)].join('\n');
}

function reportTable(results: WorkloadReport[], o: Options, torchNote: string | null, level: IsaLevel | null): string[] {
  const out: string[] = [];
  const head = ['workload', 'blasnet train/s (min–max)', 'blasnet infer/s (min–max)', 'train peak RSS', 'threads'];
  if (o.compare && torchNote === null) {
    head.push('PyTorch train/s t1 / t2', 'PyTorch infer/s t1 / t2', 'PyTorch train RSS', 'train ratio (target)', 'infer ratio (target)', 'targets');
  }
  const rows = [head];
  for (const r of results) {
    const b = r.blasnet;
    const row = [`${r.workload} ${r.name}`,
      `${fmt(b.train_samples_per_s.median)} (${range(b.train_samples_per_s)})`,
      `${fmt(b.infer_samples_per_s.median)} (${range(b.infer_samples_per_s)})`,
      `${b.train_peak_rss_mib.toFixed(0)} MiB`,
      typeof b.blas === 'object' ? `${b.blas.threadMode === 'auto' ? `auto, up to ${b.threads}` : b.threads} (OpenBLAS ${b.blas.openblasThreads})` : String(b.threads)];
    if (r.pytorch && r.ratio) {
      const { threads1: p1, threads2: p2 } = r.pytorch;
      row.push(
        `${fmt(p1.train_samples_per_s.median)} / ${fmt(p2.train_samples_per_s.median)}`,
        `${fmt(p1.infer_samples_per_s.median)} / ${fmt(p2.infer_samples_per_s.median)}`,
        `${Math.min(p1.train_peak_rss_mib, p2.train_peak_rss_mib).toFixed(0)} MiB`,
        `${r.ratio.train.toFixed(2)}x (${r.targets.train}x)`,
        `${r.ratio.infer.toFixed(2)}x (${r.targets.infer}x)`,
        r.met ? 'met' : `MISSED: ${r.missed.join(', ')}`,
      );
    }
    rows.push(row);
  }
  out.push(table(rows));
  const b = results[0]?.blasnet.blas;
  if (level !== null && typeof b === 'object') out.push(`blasnet ran: ${b.corename} kernels (${b.coreReason}), its own loops at ${b.isa} (${b.isaReason})`);
  if (level !== null && o.compare && torchNote === null) {
    const p = results.find((r) => r.pytorch)?.pytorch?.threads1;
    out.push(`PyTorch ran: ${typeof p?.blas === 'string' ? p.blas : '?'}`);
  }
  return out;
}

function reportNotes(sections: Section[], o: Options, info: BlasInfo, torchNote: string | null): string[] {
  const out: string[] = [''];
  const results = sections.flatMap((s) => s.results);
  out.push(`samples/s: median of ${o.reps * o.rounds} repetitions (${o.rounds} round(s) of ${o.reps}${o.compare ? ', each side\'s interleaved one by one with the others\'' : ''}) after at least ${o.warmup} warm-up repetition(s) and ${o.warmupSeconds} s of them, each after ${o.settleSeconds} s of untimed single steps, for both frameworks; training: ${o.steps} steps of batch ${BATCH}; inference: ${o.inferBatches} batches of ${INFER_BATCH}`);
  out.push(`CPU: ${info.cpu.model} (${info.cpu.isa})`);
  out.push(`blasnet: ${info.library} ${info.version} (${info.corename} kernels, ${info.coreReason}; ${info.threading}), ${info.config}`);
  if (o.compare) {
    if (torchNote !== null) {
      out.push(`PyTorch comparison skipped: ${torchNote}`);
    } else {
      const p = results.find((r) => r.pytorch)?.pytorch?.threads1;
      if (o.isa === undefined) {
        out.push(`PyTorch ${p?.torch_version ?? '?'} via ${o.python}, OPENBLAS_NUM_THREADS=1, OPENBLAS_CORETYPE=${torchEnv(null).OPENBLAS_CORETYPE ?? '(OpenBLAS detects)'}, GLIBC_TUNABLES=${torchEnv(null).GLIBC_TUNABLES}, torch threads 1 / 2; ${typeof p?.blas === 'string' ? p.blas : ''}`);
      } else {
        out.push(`PyTorch ${p?.torch_version ?? '?'} via ${o.python}, OPENBLAS_NUM_THREADS=1, torch threads 1 / 2 (OpenBLAS core and oneDNN limit per level, above)`);
      }
      out.push(`ratio: blasnet median over PyTorch's better median; train RSS limit for W4: ${W4_RSS_LIMIT_MIB} MiB`);
      const all = results.every((r) => r.met);
      out.push(all ? 'every target met' : `targets missed: ${results.filter((r) => !r.met).map((r) => `${r.workload}${r.isa ? ` (${r.isa})` : ''}`).join(', ')}`);
    }
  }
  const cpus = os.cpus();
  out.push(`machine: ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} CPUs, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}`);
  return out;
}

async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name('bench')
    .description('Benchmark workloads W1-W5 (shared/BENCHMARKS.md) through blasnet, optionally beside PyTorch')
    .option('--only <ids>', 'run only these workloads, e.g. W4 or W1,W4 (repeatable)', workloadList)
    .option('--isa <levels>', 'hold both frameworks to these instruction-set levels (avx512, avx2; comma-separated), one table each, instead of running them as a user gets them', isaList)
    .option('--json <file>', 'also write the results as JSON to this file')
    .option('--compare', 'also run PyTorch (/usr/bin/python3, python3-torch) at threads 1 and 2, alternating')
    .option('--reps <n>', 'timed repetitions per figure', positiveInt('--reps'), 5)
    .option('--steps <n>', 'training steps per repetition', positiveInt('--steps'), 50)
    .option('--warmup <n>', 'untimed repetitions before timing (at least)', positiveInt('--warmup', 0), 5)
    .option('--warmup-seconds <s>', 'keep warming up until this many seconds have passed', seconds('--warmup-seconds'), 3)
    .option('--settle-seconds <s>', 'untimed single steps (batches) before each timed repetition, for this long', seconds('--settle-seconds'), 0.1)
    .option('--infer-batches <n>', `batches of ${INFER_BATCH} per inference repetition`, positiveInt('--infer-batches'), 10)
    .option('--rounds <n>', 'repetitions per figure: rounds x reps, each side\'s interleaved one by one with the others\'', positiveInt('--rounds'), 1)
    .option('--threads <n>', "force blasnet's thread count (setNumThreads); default: the library's own choice", positiveInt('--threads'))
    .option('--seed <n>', 'seed for weights and data', positiveInt('--seed', 0), 0)
    .option('--python <path>', 'Python with torch for --compare', '/usr/bin/python3')
    .addOption(new Option('--child <id>', 'internal: run one workload in this process').argParser(workloadId).hideHelp())
    .showHelpAfterError('(run with --help for usage)');
  // A bad flag or value exits 2 (usage), as the blasnet CLI does; --help exits 0.
  program.exitOverride();
  try {
    program.parse(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
    throw err;
  }
  const o = program.opts<Options>();
  const settings: Settings = { reps: o.reps, steps: o.steps, warmup: o.warmup, warmupSeconds: o.warmupSeconds, settleSeconds: o.settleSeconds, inferBatches: o.inferBatches, threads: o.threads, seed: o.seed };

  if (o.child) {
    await serve(o.child, settings);
    return;
  }

  const ids = o.only ?? [...WORKLOAD_IDS];
  const script = torchScript();
  const torchNote = o.compare ? torchAvailable(o.python, script) : null;
  if (o.compare && torchNote !== null) process.stderr.write(`PyTorch comparison skipped: ${torchNote}\n`);
  const compare = o.compare === true && torchNote === null;

  const sections: Section[] = [];
  for (const level of o.isa ?? [null]) {
    const unavailable = level === null ? null : levelUnavailable(level);
    if (unavailable !== null) process.stderr.write(`${level}: ${unavailable}\n`);
    sections.push({ level, unavailable, results: unavailable === null ? await runWorkloads(ids, o, level, compare, script) : [] });
  }

  const info = blasInfo();
  console.log(report(sections, o, info, torchNote));
  if (o.json) {
    const cpus = os.cpus();
    const doc = {
      command: `npm run bench -- ${argv.slice(2).join(' ')}`.trim(),
      date: new Date().toISOString(),
      machine: { cpu: cpus[0]?.model, cpus: cpus.length, memGiB: os.totalmem() / 2 ** 30, platform: os.platform(), release: os.release(), node: process.version },
      settings: { ...settings, rounds: o.rounds, batch: BATCH, inferBatch: INFER_BATCH },
      blas: info,
      pytorch: o.compare ? (torchNote ?? 'ok') : 'not requested',
      results: sections.flatMap((sec) => sec.results),
      ...(o.isa ? { levels: sections.map((sec) => ({ isa: sec.level, unavailable: sec.unavailable, env: levelEnv(sec.level as IsaLevel) })) } : {}),
    };
    fs.writeFileSync(o.json, `${JSON.stringify(doc, null, 2)}\n`);
    process.stderr.write(`wrote ${o.json}\n`);
  }
}

/**
 * The workloads at one level (null: none). Per workload, one child per side (blasnet; PyTorch
 * at threads 1 and 2) stays up while the parent asks each in turn for one timed repetition:
 * rounds x reps repetitions per side, interleaved one by one, the order reversed every other
 * time, all training first. The machine's drift thus hits the sides alike from one repetition
 * to the next, and each child warms up once.
 */
async function runWorkloads(ids: WorkloadId[], o: Options, level: IsaLevel | null, compare: boolean, script: string | null): Promise<WorkloadReport[]> {
  const blasnetEnv: NodeJS.ProcessEnv = level === null ? process.env : { ...process.env, ...levelEnv(level).blasnet };
  const tag = level === null ? '' : ` (${level})`;
  const total = o.rounds * o.reps;
  const results: WorkloadReport[] = [];
  for (const id of ids) {
    const children: Served[] = [];
    try {
      children.push(await Served.start(process.execPath,
        [__filename, '--child', id, ...childArgs(o), ...(o.threads !== undefined ? ['--threads', String(o.threads)] : [])],
        blasnetEnv, `blasnet ${id}${tag}`));
      if (compare) {
        for (const t of [1, 2]) {
          children.push(await Served.start(o.python, [script as string, '--only', id, '--threads', String(t), '--serve', ...childArgs(o)],
            torchEnv(level), `PyTorch ${id} threads ${t}${tag}`));
        }
      }
      for (const kind of ['train', 'infer'] as const) {
        for (let r = 0; r < total; r++) {
          // Every other repetition in reverse order, so neither side always runs first.
          for (const child of r % 2 ? [...children].reverse() : children) await child.send(kind);
          if ((r + 1) % o.reps === 0) process.stderr.write(`${id}${tag} ${kind} round ${(r + 1) / o.reps}/${o.rounds} done\n`);
        }
      }
      const [blasnet, t1, t2] = await children.reduce<Promise<RunResult[]>>(
        async (acc, child) => [...await acc, await child.finish()], Promise.resolve([]));
      results.push(workloadReport(id, level, blasnet, compare ? { threads1: t1, threads2: t2 } : null));
    } finally {
      for (const child of children) child.kill();
    }
  }
  return results;
}

/** One workload's figures against its targets. */
function workloadReport(id: WorkloadId, level: IsaLevel | null, blasnet: RunResult, pytorch: WorkloadReport['pytorch']): WorkloadReport {
  const targets = { train: WORKLOADS[id].trainTarget, infer: WORKLOADS[id].inferTarget, ...(id === 'W4' ? { trainRssMib: W4_RSS_LIMIT_MIB } : {}) };
  let ratio: WorkloadReport['ratio'] = null, met: boolean | null = null;
  const missed: string[] = [];
  if (pytorch) {
    const best = (k: 'train_samples_per_s' | 'infer_samples_per_s'): number =>
      Math.max(pytorch.threads1[k].median, pytorch.threads2[k].median);
    ratio = {
      train: blasnet.train_samples_per_s.median / best('train_samples_per_s'),
      infer: blasnet.infer_samples_per_s.median / best('infer_samples_per_s'),
    };
    if (ratio.train < targets.train) missed.push('train');
    if (ratio.infer < targets.infer) missed.push('infer');
    if (targets.trainRssMib !== undefined && blasnet.train_peak_rss_mib >= targets.trainRssMib) missed.push('train RSS');
    met = missed.length === 0;
  }
  return { workload: id, name: WORKLOADS[id].name, blasnet, pytorch, ratio, targets, met, missed, isa: level };
}

let finished = false;
// Node exits once nothing is left to wait for, even with main still pending: say so.
process.on('exit', () => {
  if (!finished && process.exitCode === undefined) {
    process.stderr.write('bench: stopped with a child\'s answer still awaited\n');
    process.exitCode = 1;
  }
});
main(process.argv).then(() => { finished = true; }, (err: unknown) => {
  finished = true;
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
