// SPDX-License-Identifier: MIT
/**
 * Resident memory over a long training: workload W4 of `npm run bench` (the course's
 * SimpleConvNet on (N, 1, 28, 28) inputs, Adam, batches of 100), `--steps` steps, RSS sampled
 * every `--every` steps. After the warm-up (the first `--warmup` fraction of the steps: the
 * allocator's arenas, V8's heap and the layers' reused buffers reach their size) the RSS
 * samples are fitted by least squares; the slope, in bytes per 1000 steps, is what a leak
 * would show. Prints the CPU, the samples, peak RSS (VmHWM) and the slope, and whether they
 * pass: |slope| under 1 MiB per 1000 steps, and peak RSS under 100 MiB.
 *
 *   npm run build && npm run bench:rss -- [--steps 3000] [--every 50] [--warmup 0.2] [--threads N] [--json FILE]
 */
import * as fs from 'fs';
import * as os from 'os';
import { Adam, setNumThreads, getNumThreads, setSeed, SimpleConvNet, Tensor } from '../lib';

const BATCH = 100;
const POOL = 10;
const PEAK_LIMIT_MIB = 100;
const SLOPE_LIMIT = 2 ** 20; // bytes per 1000 steps

interface Options { steps: number; every: number; warmup: number; threads?: number; json?: string }

function parse(argv: string[]): Options {
  const o: Options = { steps: 3000, every: 50, warmup: 0.2 };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i], x = Number(argv[i + 1]);
    if (k === '--json') { o.json = argv[i + 1]; continue; }
    if (!Number.isFinite(x) || x <= 0) throw new Error(`bench:rss: ${k} needs a positive number, got ${String(argv[i + 1])}`);
    if (k === '--steps') o.steps = Math.floor(x);
    else if (k === '--every') o.every = Math.floor(x);
    else if (k === '--warmup') o.warmup = x;
    else if (k === '--threads') o.threads = Math.floor(x);
    else throw new Error(`bench:rss: unknown option ${k} (--steps, --every, --warmup, --threads, --json)`);
  }
  if (o.warmup >= 1) throw new Error('bench:rss: --warmup is a fraction of the steps, below 1');
  return o;
}

/** The CPU's model name (lscpu's "Model name"). */
function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown CPU';
}

function status(field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return field === 'VmRSS' ? process.memoryUsage().rss : process.resourceUsage().maxRSS * 1024;
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n, my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  return sxx === 0 ? 0 : sxy / sxx;
}

function main(): void {
  const o = parse(process.argv.slice(2));
  if (o.threads !== undefined) setNumThreads(o.threads);
  setSeed(0);
  // Inputs as bench/run.ts's W4: uniform pixels, labels 0-9, a pool of batches used in turn.
  const xs: Tensor[] = [], ts: Int32Array[] = [];
  let s = 12345;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let b = 0; b < POOL; b++) {
    const x = new Float32Array(BATCH * 784);
    for (let i = 0; i < x.length; i++) x[i] = next();
    xs.push(new Tensor(x, [BATCH, 1, 28, 28]));
    ts.push(Int32Array.from({ length: BATCH }, () => Math.floor(next() * 10)));
  }
  const net = new SimpleConvNet();
  const opt = new Adam({ lr: 0.001 });
  const samples: Array<{ step: number; rss: number; heapUsed: number }> = [];
  const t0 = Date.now();
  console.log(`bench:rss: W4 (SimpleConvNet, Adam, batch ${BATCH}), ${o.steps} steps, RSS every ${o.every}, ${getNumThreads()} threads, ${cpuModel()}`);
  for (let step = 1; step <= o.steps; step++) {
    const k = step % POOL;
    opt.update(net.params, net.gradient(xs[k], ts[k]));
    if (step % o.every === 0) {
      samples.push({ step, rss: status('VmRSS'), heapUsed: process.memoryUsage().heapUsed });
      if (step % (o.every * 10) === 0) {
        console.log(`  step ${step}: RSS ${(samples[samples.length - 1].rss / 2 ** 20).toFixed(1)} MiB, loss ${net.lastLoss.toFixed(4)}, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      }
    }
  }
  const after = samples.filter((x) => x.step > o.steps * o.warmup);
  const perStep = slope(after.map((x) => x.step), after.map((x) => x.rss));
  const heapPerStep = slope(after.map((x) => x.step), after.map((x) => x.heapUsed));
  const peak = status('VmHWM');
  const MiB = (x: number): string => (x / 2 ** 20).toFixed(1);
  const slope1000 = perStep * 1000;
  const pass = Math.abs(slope1000) < SLOPE_LIMIT && peak < PEAK_LIMIT_MIB * 2 ** 20;
  const seconds = (Date.now() - t0) / 1000;
  console.log(`bench:rss: ${o.steps} steps in ${seconds.toFixed(0)} s on ${cpuModel()} (${getNumThreads()} threads)`);
  console.log(`bench:rss: RSS after warm-up (step ${after[0]?.step}) ${MiB(after[0]?.rss ?? 0)} MiB, at the end ${MiB(samples[samples.length - 1].rss)} MiB; peak RSS ${MiB(peak)} MiB (limit ${PEAK_LIMIT_MIB} MiB)`);
  console.log(`bench:rss: slope after warm-up ${(slope1000 / 1024).toFixed(1)} KiB per 1000 steps (limit ±${SLOPE_LIMIT / 1024} KiB); JavaScript heap in use ${(heapPerStep * 1000 / 1024).toFixed(1)} KiB per 1000 steps`);
  console.log(`bench:rss: ${pass ? 'PASS' : 'FAIL'}`);
  if (o.json) {
    fs.writeFileSync(o.json, JSON.stringify({
      workload: 'W4', steps: o.steps, every: o.every, warmup: o.warmup, threads: getNumThreads(), cpu: cpuModel(), seconds,
      peakRss: peak, slopeBytesPer1000Steps: slope1000, heapSlopeBytesPer1000Steps: heapPerStep * 1000, pass, samples,
    }, null, 2));
  }
  process.exitCode = pass ? 0 : 1;
}

main();
