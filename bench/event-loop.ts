// SPDX-License-Identifier: MIT
/**
 * How responsive Node stays while blasnet trains: the main thread's event-loop delay
 * (perf_hooks.monitorEventLoopDelay) during a SimpleConvNet run on the built-in digits, with
 * `await trainer.run()` (pauses every `yieldEvery` ms) and, for contrast, the synchronous
 * `trainer.train()`, which holds the loop for the whole run, and nothing at all (what the
 * machine's scheduler alone costs a timer: on a loaded machine it is most of the delay).
 *
 *   npm run bench:event-loop -- [--iterations 300] [--yield-every 10]
 *
 * Prints the delay percentiles in milliseconds, the command and the CPU. A figure, not a test:
 * on a loaded machine the numbers move.
 */
import * as os from 'os';
import { monitorEventLoopDelay, performance } from 'perf_hooks';
import { Command, InvalidArgumentError } from 'commander';
import { loadMnist, setSeed, SimpleConvNet, Trainer } from '../lib';

interface Figures { p50: number; p99: number; max: number; seconds: number; iterations: number }

function intArg(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('Expected an integer >= 0.');
  return n;
}

async function measure(mode: 'idle' | 'run' | 'train', iterations: number, yieldEvery: number): Promise<Figures> {
  setSeed(1);
  const { xTrain, tTrain, xTest, tTest } = loadMnist({ flatten: false });
  const net = new SimpleConvNet({ weightInitStd: 'he' });
  // Evaluations every 100 steps on 2,000 samples of each set: they are chunked too.
  const trainer = new Trainer(net, xTrain, tTrain, xTest, tTest, {
    optimizer: 'adam', optimizerParam: { lr: 0.001 }, maxIterations: iterations, evalEvery: 100, evaluateSampleNumPerEpoch: 2000,
  });
  const h = monitorEventLoopDelay({ resolution: 1 });
  // Also the longest gap between two ticks of a 1 ms timer, which sees a loop held for the
  // whole of train() (the histogram only samples when the loop turns).
  let last = performance.now(), gap = 0;
  const timer = setInterval(() => { const now = performance.now(); gap = Math.max(gap, now - last); last = now; }, 1);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const t0 = Date.now();
  h.enable();
  if (mode === 'run') {
    await trainer.run({ yieldEvery });
  } else if (mode === 'train') {
    trainer.train();
  } else {
    // The machine's own delay, with nothing running in this process: the baseline.
    await new Promise((resolve) => setTimeout(resolve, 3000));
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
  h.disable();
  clearInterval(timer);
  const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
  return {
    p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: Math.round(Math.max(ms(h.max), gap) * 100) / 100,
    seconds: (Date.now() - t0) / 1000, iterations: trainer.iterationsDone,
  };
}

async function main(): Promise<void> {
  const cmd = new Command('event-loop')
    .option('--iterations <n>', 'training steps per run', intArg, 300)
    .option('--yield-every <ms>', "run()'s yieldEvery", intArg, 10)
    .parse(process.argv);
  const o = cmd.opts<{ iterations: number; yieldEvery: number }>();
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log(`event-loop delay while training SimpleConvNet (batch 100, ${o.iterations} iterations, accuracy every 100 on 2,000 + 2,000 samples)`);
  console.log(`command: npm run bench:event-loop -- --iterations ${o.iterations} --yield-every ${o.yieldEvery}`);
  console.log(`CPU: ${cpu}, ${os.cpus().length} cores; Node ${process.version}`);
  console.log(`load average ${os.loadavg().map((v) => v.toFixed(1)).join(', ')}`);
  for (const mode of ['idle', 'run', 'train'] as const) {
    const f = await measure(mode, o.iterations, o.yieldEvery);
    const what = mode === 'run' ? `await trainer.run({ yieldEvery: ${o.yieldEvery} })` : mode === 'train' ? 'trainer.train() (synchronous)' : 'no training (the machine alone)';
    const pct = mode !== 'train' ? `p50 ${f.p50} ms, p99 ${f.p99} ms, ` : '';
    const its = mode !== 'idle' ? ` (${f.iterations} iterations in ${f.seconds.toFixed(1)} s)` : '';
    console.log(`${what.padEnd(42)} ${pct}longest block ${f.max} ms${its}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
