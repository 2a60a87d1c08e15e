// SPDX-License-Identifier: MIT
// What every exercise shares: training through the library's Trainer (async, so Ctrl-C can
// stop it between steps) into accuracy curves, observations computed from those curves, and
// chart/table helpers for the report.
import * as fs from 'fs';
import * as path from 'path';
import { loadMnist, MnistData } from '../data';
import { Sequential } from '../nn/network';
import { Optimizer } from '../train/optimizers';
import type { EvaluateAt } from '../train/trainer';
import { Trainer } from '../train/trainer';
import { Tensor } from '../core/tensor';
import type { LineChart, ReportSection, Table } from '../report';
import { Lang, messages, Messages } from '../i18n';
import { smoothCurve } from '../report/plot';

/** Set `stopped` to ask a running experiment to finish the current step and write what it has. */
export interface StopFlag {
  stopped: boolean;
}

/** Options every experiment takes. */
export interface ExperimentOptions {
  /** Folder the report is written into (created). */
  out: string;
  /** Seed of the library's random stream, set before each configuration (1). */
  seed?: number;
  /** Folder with the four IDX files; the built-in digits when absent. */
  dataDir?: string;
  /** Already loaded data (flattened images, class-index labels); wins over dataDir. */
  data?: MnistData<Int32Array>;
  /** Evaluate accuracy every n iterations: after the steps with index 0, n, 2n, ... (the course's timing) and the last. */
  evalEvery?: number;
  /** Evaluate on at most this many samples of each set (2000). */
  evalSamples?: number;
  /** Progress lines. */
  log?: (line: string) => void;
  /** Checked between training steps. */
  stop?: StopFlag;
  /** Language of the report and the progress lines ('en'). */
  lang?: Lang;
}

/** What an experiment hands back. */
export interface ExperimentOutcome {
  name: string;
  dir: string;
  files: string[];
  stopped: boolean;
  results: Record<string, unknown>;
}

/** Accuracy curves of one training run. */
export interface Curve {
  /** Training steps done when accuracy was measured (the course's timing gives 1, 1 + evalEvery, ..., and the last). */
  iterations: number[];
  trainAcc: number[];
  testAcc: number[];
  /** Loss of every training step. */
  loss: number[];
  /** Training steps done (fewer than asked when stopped). */
  iterationsDone: number;
  /** Wall time of the training steps alone, in seconds. */
  trainSeconds: number;
  stopped: boolean;
}

export interface TrainCurveOptions {
  optimizer: Optimizer | string;
  optimizerParam?: Record<string, number>;
  iterations: number;
  batchSize?: number;
  evalEvery: number;
  evalSamples?: number;
  /** 'start' (default): the course's timing, after the first step of every evalEvery (iteration 0 included). */
  evaluateAt?: EvaluateAt;
  stop?: StopFlag;
  onStep?: (iteration: number, loss: number) => void;
  onEval?: (iteration: number, trainAcc: number, testAcc: number) => void;
}

/**
 * Trains `net` for `iterations` steps with the library's Trainer (its async run(), so signal
 * handlers run between steps), measuring accuracy as the course does: after the steps with
 * index 0, evalEvery, 2·evalEvery, ... (`evaluateAt: 'start'`), and after the last step.
 */
export async function trainCurve(net: Sequential, data: MnistData, o: TrainCurveOptions): Promise<Curve> {
  const curve: Curve = { iterations: [], trainAcc: [], testAcc: [], loss: [], iterationsDone: 0, trainSeconds: 0, stopped: false };
  const trainer: Trainer = new Trainer(net, data.xTrain, data.tTrain, data.xTest, data.tTest, {
    optimizer: o.optimizer, optimizerParam: o.optimizerParam, miniBatchSize: o.batchSize ?? 100,
    maxIterations: o.iterations, evaluateSampleNumPerEpoch: o.evalSamples, evalEvery: o.evalEvery,
    evaluateAt: o.evaluateAt ?? 'start', evaluatePerEpoch: false,
    onIteration: (info) => {
      o.onStep?.(info.iteration + 1, info.loss);
      if (o.stop?.stopped) trainer.stop();
    },
    onEvaluate: (e) => o.onEval?.(e.iteration, e.trainAcc, e.testAcc),
  });
  if (o.stop?.stopped) trainer.stop();
  const h = await trainer.run();
  for (const e of h.evaluations) {
    curve.iterations.push(e.iteration);
    curve.trainAcc.push(e.trainAcc);
    curve.testAcc.push(e.testAcc);
  }
  curve.loss = h.trainLossList;
  curve.trainSeconds = h.trainSeconds;
  curve.iterationsDone = trainer.iterationsDone;
  curve.stopped = curve.iterationsDone < o.iterations;
  if (curve.stopped && curve.iterations[curve.iterations.length - 1] !== curve.iterationsDone) {
    // Where a stopped run got to, so its curve ends there.
    const e = trainer.evaluate();
    curve.iterations.push(curve.iterationsDone);
    curve.trainAcc.push(e.trainAcc);
    curve.testAcc.push(e.testAcc);
    o.onEval?.(curve.iterationsDone, e.trainAcc, e.testAcc);
  }
  return curve;
}

/** Loads the data set of an experiment: flattened images, labels as class indices. */
export function experimentData(o: ExperimentOptions): MnistData<Int32Array> {
  if (o.data) return o.data;
  return loadMnist({ dir: o.dataDir, flatten: true, normalize: true, oneHotLabel: false });
}

/** The first n training samples (the overfitting exercise trains on 300). */
export function firstTrainingSamples(d: MnistData<Int32Array>, n: number): MnistData<Int32Array> {
  const N = Math.min(n, d.xTrain.shape[0]);
  const per = d.xTrain.data.length / d.xTrain.shape[0];
  return {
    xTrain: new Tensor(d.xTrain.data.slice(0, N * per), [N, ...d.xTrain.shape.slice(1)]),
    tTrain: d.tTrain.slice(0, N),
    xTest: d.xTest,
    tTest: d.tTest,
  };
}

/** Accuracy of always guessing one class among ten. */
export const CHANCE = 0.1;

const f2 = (v: number): string => v.toFixed(2);

/** First measured iteration at which test accuracy reached `level`, or null. */
export function iterationsTo(curve: Curve, level: number): number | null {
  for (let i = 0; i < curve.testAcc.length; i++) if (curve.testAcc[i] >= level) return curve.iterations[i];
  return null;
}

/** The last measured value of a list (NaN when empty). */
export function last(values: number[]): number {
  return values.length ? values[values.length - 1] : NaN;
}

/**
 * How a run stands at its end, from its numbers: still at chance, still improving, or settled,
 * and whether that makes it too short for its finding compared with the course's run length.
 */
export interface RunVerdict {
  state: 'atChance' | 'improving' | 'settled';
  /** Test accuracy gained over the last third of the run (least-squares line through those measurements). */
  recentGain: number;
  /** Standard error of one test accuracy measurement, sqrt(p(1 - p) / n) over the n evaluation samples. */
  noise: number;
  /** The course's script's run length this run is compared with. */
  courseIterations: number;
  /** Shorter than the course's run and not settled: its finding may not show yet. */
  tooShort: boolean;
}

/**
 * Reads the end of a curve. A run is at chance when its best test accuracy stayed below
 * chance + 0.1; improving when a line through the test accuracies of its last third rises by
 * more than max(0.02, 2 x the noise of one measurement) over that span. Either makes it too
 * short when it ran fewer iterations than the course's script.
 */
export function runVerdict(curve: Curve, courseIterations: number, evalSamples: number): RunVerdict {
  const p = Math.min(Math.max(last(curve.testAcc), 0.01), 0.99);
  const noise = Math.sqrt((p * (1 - p)) / Math.max(1, evalSamples));
  const total = curve.iterationsDone;
  const from = total * (2 / 3);
  const xs: number[] = [], ys: number[] = [];
  curve.iterations.forEach((it, i) => { if (it >= from) { xs.push(it); ys.push(curve.testAcc[i]); } });
  let gain = 0;
  if (xs.length >= 3) {
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length, my = ys.reduce((a, b) => a + b, 0) / ys.length;
    let sxy = 0, sxx = 0;
    for (let i = 0; i < xs.length; i++) { sxy += (xs[i] - mx) * (ys[i] - my); sxx += (xs[i] - mx) ** 2; }
    gain = sxx > 0 ? (sxy / sxx) * (xs[xs.length - 1] - xs[0]) : 0;
  } else if (xs.length === 2) {
    gain = ys[1] - ys[0];
  }
  const atChance = Math.max(...curve.testAcc) < CHANCE + 0.1;
  const improving = !atChance && gain > Math.max(0.02, 2 * noise);
  const state = atChance ? 'atChance' : improving ? 'improving' : 'settled';
  return { state, recentGain: gain, noise, courseIterations, tooShort: state !== 'settled' && total < courseIterations };
}

export interface ObserveOptions {
  /** The run's verdict: adds "too short to tell" when it was shorter than the course's run. */
  verdict?: RunVerdict;
  /** Messages of the report's language (English). */
  m?: Messages;
}

/**
 * One line on how a run went, from its numbers alone: did it learn, when, and how large the
 * train-test gap is at the end; with a verdict, also whether the run was too short to tell.
 */
export function observe(curve: Curve, options: ObserveOptions = {}): string {
  const m = (options.m ?? messages('en')).observe;
  const v = options.verdict;
  const finalTest = last(curve.testAcc), finalTrain = last(curve.trainAcc);
  const best = Math.max(...curve.testAcc);
  const total = curve.iterationsDone;
  const suffix = curve.stopped ? m.stopped(total) : '';
  const short = v?.tooShort ? (v.state === 'atChance' ? m.tooShortChance(v.courseIterations) : m.tooShortImproving(v.recentGain, v.courseIterations)) : '';
  if (best < CHANCE + 0.1) return m.didNotLearn(finalTest, best, total) + short + suffix;
  if (finalTest < CHANCE + 0.1) return m.collapsed(best, finalTest, finalTrain) + suffix;
  const leftChance = iterationsTo(curve, CHANCE + 0.1) ?? total;
  let line = leftChance > 0.2 * total ? m.stalled(leftChance, finalTest) : m.learned(finalTest, iterationsTo(curve, 0.5));
  if (finalTest < best - 0.1) line += m.unstable(best);
  const gap = finalTrain - finalTest;
  line += gap > 0.1 ? m.overfit(finalTrain, finalTest, gap) : m.gap(finalTrain, gap);
  return line + short + suffix;
}

/**
 * The first finding of an exercise: how long the runs were against the course's script, and
 * whether any was still at chance or still improving when it ended.
 */
export function runLengthFinding(runs: RunRecord[], iterations: number, course: number, m: Messages): string {
  if (iterations >= course) return m.runLength.okLonger(iterations, course);
  const short = runs.filter((r) => r.verdict?.tooShort).length;
  return short ? m.runLength.tooShort(iterations, course, short, runs.length) : m.runLength.ok(iterations, course);
}

/** Whether a run's end is too uncertain for a comparison: too short, per its verdict. */
export function unsettled(...runs: Array<RunRecord | undefined>): boolean {
  return runs.some((r) => r?.verdict?.tooShort);
}

/** Compares two runs' final test accuracies against the noise of the measurement. */
export function compareFinal(a: RunRecord, b: RunRecord): { diff: number; noise: number; verdict: 'higher' | 'lower' | 'same' } {
  const diff = last(a.curve.testAcc) - last(b.curve.testAcc);
  const noise = 2 * Math.hypot(a.verdict?.noise ?? 0, b.verdict?.noise ?? 0);
  return { diff, noise, verdict: Math.abs(diff) <= noise ? 'same' : diff > 0 ? 'higher' : 'lower' };
}

/** A configuration's result as it goes into results.json. */
export interface RunRecord {
  id: string;
  label: string;
  settings: Record<string, unknown>;
  curve: Curve;
  observation: string;
  /** Where the run stood at its end (set by runConfigs). */
  verdict?: RunVerdict;
}

/** The course's chart of one run: train and test accuracy against iterations, y from 0 to 1. */
export function accuracyChart(run: RunRecord, m: Messages = messages('en')): LineChart {
  return {
    id: run.id, title: run.label, xLabel: m.common.iterations, yLabel: m.common.accuracy, yDomain: [0, 1],
    series: [
      { name: m.common.train, x: run.curve.iterations, y: run.curve.trainAcc },
      { name: m.common.test, x: run.curve.iterations, y: run.curve.testAcc },
    ],
  };
}

/** Test (or train) accuracy of several runs on one chart. */
export function comparisonChart(id: string, title: string, runs: RunRecord[], which: 'test' | 'train' = 'test', m: Messages = messages('en')): LineChart {
  return {
    id, title, xLabel: m.common.iterations, yLabel: which === 'test' ? m.common.testAccuracy : m.common.trainAccuracy, yDomain: [0, 1],
    series: runs.map((r) => ({ name: r.label, x: r.curve.iterations, y: which === 'test' ? r.curve.testAcc : r.curve.trainAcc })),
  };
}

/**
 * The training loss of several runs on one chart, smoothed as the course's scripts plot it
 * (util.smooth_curve), y from 0 to `yMax`.
 */
export function lossChart(id: string, title: string, runs: RunRecord[], m: Messages = messages('en'), yMax = 2.5): LineChart {
  return {
    id, title, xLabel: m.common.iterations, yLabel: m.common.smoothedLoss, yDomain: [0, yMax],
    series: runs.filter((r) => r.curve.loss.length > 0).map((r) => {
      const y = r.curve.loss.length >= 11 ? smoothCurve(r.curve.loss) : r.curve.loss;
      return { name: r.label, x: y.map((_, i) => i + 1), y };
    }),
  };
}

/** Final accuracies and speed of each run. */
export function accuracyTable(runs: RunRecord[], m: Messages = messages('en')): Table {
  return {
    columns: [...m.common.columns],
    rows: runs.map((r) => {
      const ft = last(r.curve.trainAcc), fs2 = last(r.curve.testAcc);
      const half = iterationsTo(r.curve, 0.5);
      return [r.label, r.curve.iterationsDone, round4(ft), round4(fs2), round4(Math.max(...r.curve.testAcc)),
        round4(ft - fs2), half === null ? m.common.never : half];
    }),
  };
}

/**
 * The report sections every exercise has: findings, the table of final accuracies, the
 * comparison charts (ids starting with 'compare-') and one section per run with its chart.
 * `extra` sections go between the table and the comparison.
 */
export function standardSections(findings: string[], runs: RunRecord[], charts: LineChart[],
  extra: ReportSection[] = [], m: Messages = messages('en')): ReportSection[] {
  const compare = charts.filter((c) => c.id.startsWith('compare-')).map((c) => c.id);
  return [
    { heading: m.common.findings, observations: findings },
    { heading: m.common.finalAccuracies, table: accuracyTable(runs, m) },
    ...extra,
    { heading: m.common.comparison, charts: compare, text: compare.some((id) => id.startsWith('compare-loss')) ? m.common.lossNote : undefined },
    ...runs.map((r) => ({ heading: r.label, charts: [r.id], observations: [`${r.label}: ${r.observation}`] })),
  ];
}

export function round4(v: number): number {
  return Math.round(v * 1e4) / 1e4;
}

/** A file-name safe id from a label. */
export function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9.]+/g, '-').replace(/^[-.]+|-+$/g, '').slice(0, 100) || 'run';
}

/** Creates `dir` (and parents); an existing non-empty folder is refused so runs never mix. */
export function prepareOutDir(dir: string): string {
  if (fs.existsSync(dir)) {
    if (!fs.statSync(dir).isDirectory()) throw new Error(`output folder ${dir} exists and is not a folder`);
    if (fs.readdirSync(dir).length > 0) throw new Error(`output folder ${dir} is not empty; give another --out`);
  }
  fs.mkdirSync(dir, { recursive: true });
  return path.resolve(dir);
}

/** One configuration of an exercise. */
export interface ConfigSpec {
  id: string;
  label: string;
  /** Every setting that differs between configurations, for results.json. */
  settings: Record<string, unknown>;
  build: () => Sequential;
  optimizer: string;
  optimizerParam?: Record<string, number>;
}

export interface RunConfigsOptions {
  iterations: number;
  /** Length of the course's own run of this exercise, against which a run is too short. */
  courseIterations?: number;
  m?: Messages;
  batchSize?: number;
  evalEvery: number;
  evalSamples?: number;
  seed: number;
  log?: (line: string) => void;
  stop?: StopFlag;
}

/**
 * Runs each configuration from the same seed, one after the other. When stopped, the run in
 * progress is kept (marked stopped) and the rest are skipped.
 */
export async function runConfigs(specs: ConfigSpec[], data: MnistData, o: RunConfigsOptions,
  setSeed: (seed: number) => void): Promise<RunRecord[]> {
  const runs: RunRecord[] = [];
  for (const [i, spec] of specs.entries()) {
    if (o.stop?.stopped) break;
    setSeed(o.seed);
    const net = spec.build();
    const curve = await trainCurve(net, data, {
      optimizer: spec.optimizer, optimizerParam: spec.optimizerParam, iterations: o.iterations,
      batchSize: o.batchSize, evalEvery: o.evalEvery, evalSamples: o.evalSamples, stop: o.stop,
    });
    const evalN = Math.min(o.evalSamples ?? Infinity, data.xTest.shape[0]);
    const verdict = runVerdict(curve, o.courseIterations ?? 0, evalN);
    const m = o.m ?? messages('en');
    const run: RunRecord = { id: spec.id, label: spec.label, settings: spec.settings, curve, verdict, observation: observe(curve, { verdict, m }) };
    runs.push(run);
    o.log?.(m.report.progress(i + 1, specs.length, spec.label, run.observation));
  }
  return runs;
}

/** results.json entry of a run (the curve in full). */
export function runResult(r: RunRecord): Record<string, unknown> {
  return {
    id: r.id, label: r.label, settings: r.settings, observation: r.observation, verdict: r.verdict,
    finalTrainAcc: last(r.curve.trainAcc), finalTestAcc: last(r.curve.testAcc),
    iterationsTo50: iterationsTo(r.curve, 0.5), ...r.curve,
  };
}
