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
 * One line on how a run went, from its numbers alone: did it learn, when, and how large the
 * train-test gap is at the end.
 */
export function observe(curve: Curve): string {
  const finalTest = last(curve.testAcc), finalTrain = last(curve.trainAcc);
  const best = Math.max(...curve.testAcc);
  const total = curve.iterationsDone;
  const suffix = curve.stopped ? ` (stopped after ${total} iterations)` : '';
  if (best < CHANCE + 0.1) {
    return `did not learn: test accuracy stayed at ${f2(finalTest)} (never above ${f2(best)} in ${total} iterations)${suffix}`;
  }
  if (finalTest < CHANCE + 0.1) {
    return `learned, then collapsed: test accuracy rose to ${f2(best)} and fell back to ${f2(finalTest)}`
      + ` (train ${f2(finalTrain)})${suffix}`;
  }
  const leftChance = iterationsTo(curve, CHANCE + 0.1) ?? total;
  let line: string;
  if (leftChance > 0.2 * total) {
    line = `stalled near chance until iteration ${leftChance}, then learned: test accuracy ${f2(finalTest)} at the end`;
  } else {
    const half = iterationsTo(curve, 0.5);
    line = `learned: test accuracy ${f2(finalTest)} at the end` + (half !== null ? `, above 0.50 from iteration ${half}` : ', never above 0.50');
  }
  if (finalTest < best - 0.1) line += `; unstable: it had reached ${f2(best)}`;
  const gap = finalTrain - finalTest;
  if (gap > 0.1) line += `; train ${f2(finalTrain)} vs test ${f2(finalTest)}: a gap of ${f2(gap)} (overfitting)`;
  else line += `; train ${f2(finalTrain)}, gap ${f2(gap)}`;
  return line + suffix;
}

/** A configuration's result as it goes into results.json. */
export interface RunRecord {
  id: string;
  label: string;
  settings: Record<string, unknown>;
  curve: Curve;
  observation: string;
}

/** The course's chart of one run: train and test accuracy against iterations, y from 0 to 1. */
export function accuracyChart(run: RunRecord): LineChart {
  return {
    id: run.id, title: run.label, xLabel: 'iterations', yLabel: 'accuracy', yDomain: [0, 1],
    series: [
      { name: 'train', x: run.curve.iterations, y: run.curve.trainAcc },
      { name: 'test', x: run.curve.iterations, y: run.curve.testAcc },
    ],
  };
}

/** Test (or train) accuracy of several runs on one chart. */
export function comparisonChart(id: string, title: string, runs: RunRecord[], which: 'test' | 'train' = 'test'): LineChart {
  return {
    id, title, xLabel: 'iterations', yLabel: `${which} accuracy`, yDomain: [0, 1],
    series: runs.map((r) => ({ name: r.label, x: r.curve.iterations, y: which === 'test' ? r.curve.testAcc : r.curve.trainAcc })),
  };
}

/** Final accuracies and speed of each run. */
export function accuracyTable(runs: RunRecord[]): Table {
  return {
    columns: ['configuration', 'iterations', 'final train acc', 'final test acc', 'best test acc', 'train - test', 'first iteration with test >= 0.5'],
    rows: runs.map((r) => {
      const ft = last(r.curve.trainAcc), fs2 = last(r.curve.testAcc);
      const half = iterationsTo(r.curve, 0.5);
      return [r.label, r.curve.iterationsDone, round4(ft), round4(fs2), round4(Math.max(...r.curve.testAcc)),
        round4(ft - fs2), half === null ? 'never' : half];
    }),
  };
}

/**
 * The report sections every exercise has: findings, the table of final accuracies, the
 * comparison charts (ids starting with 'compare-') and one section per run with its chart.
 * `extra` sections go between the table and the comparison.
 */
export function standardSections(findings: string[], runs: RunRecord[], charts: LineChart[],
  extra: ReportSection[] = []): ReportSection[] {
  return [
    { heading: 'Findings', observations: findings },
    { heading: 'Final accuracies', table: accuracyTable(runs) },
    ...extra,
    { heading: 'Comparison', charts: charts.filter((c) => c.id.startsWith('compare-')).map((c) => c.id) },
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
    const run: RunRecord = { id: spec.id, label: spec.label, settings: spec.settings, curve, observation: observe(curve) };
    runs.push(run);
    o.log?.(`[${i + 1}/${specs.length}] ${spec.label}: ${run.observation}`);
  }
  return runs;
}

/** results.json entry of a run (the curve in full). */
export function runResult(r: RunRecord): Record<string, unknown> {
  return {
    id: r.id, label: r.label, settings: r.settings, observation: r.observation,
    finalTrainAcc: last(r.curve.trainAcc), finalTestAcc: last(r.curve.testAcc),
    iterationsTo50: iterationsTo(r.curve, 0.5), ...r.curve,
  };
}
