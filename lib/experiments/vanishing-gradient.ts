// SPDX-License-Identifier: MIT
// Exercise 1: how weight initialisation decides whether a sigmoid or ReLU
// network learns at all (the course's weight_init_compare, with accuracy).
import { MultiLayerNet, WeightInit } from '../nn/presets';
import { setSeed } from '../core/random';
import { writeReport } from '../report';
import {
  accuracyChart, comparisonChart, ConfigSpec, experimentData, ExperimentOptions, ExperimentOutcome, standardSections,
  last, prepareOutDir, RunRecord, runConfigs, runResult, CHANCE, iterationsTo,
} from './common';

export interface VanishingGradientOptions extends ExperimentOptions {
  /** Training steps per configuration (2000). */
  iterations?: number;
  batchSize?: number;
  /** SGD learning rate (0.1). */
  lr?: number;
  /** Hidden layer widths ([40, 20]). */
  hiddenSizeList?: number[];
  /** Also sweep hidden sizes and learning rates of sigmoid with std 0.01 (true). */
  sweep?: boolean;
  /** Hidden sizes of the sweep. */
  sweepHidden?: number[][];
  /** Learning rates of the sweep. */
  sweepLr?: number[];
}

const INITS: { key: string; label: string; init: (act: string) => WeightInit }[] = [
  { key: 'std0.01', label: 'std 0.01', init: () => 0.01 },
  { key: 'xavier', label: 'Xavier', init: () => 'xavier' },
  { key: 'he', label: 'He', init: () => 'he' },
];

export async function vanishingGradient(o: VanishingGradientOptions): Promise<ExperimentOutcome> {
  const dir = prepareOutDir(o.out);
  const iterations = o.iterations ?? 2000;
  const lr = o.lr ?? 0.1;
  const hidden = o.hiddenSizeList ?? [40, 20];
  const seed = o.seed ?? 1;
  const data = experimentData(o);
  const log = o.log ?? (() => {});
  const runOpts = { iterations, batchSize: o.batchSize ?? 100, evalEvery: o.evalEvery ?? 10, evalSamples: o.evalSamples ?? 2000, seed, log, stop: o.stop };
  const mlp = (activation: 'sigmoid' | 'relu', init: WeightInit, h: number[]) => () => new MultiLayerNet({
    inputSize: 784, hiddenSizeList: h, outputSize: 10, activation, weightInitStd: init,
  });

  const main: ConfigSpec[] = [];
  for (const act of ['sigmoid', 'relu'] as const) {
    for (const w of INITS) {
      main.push({
        id: `${act}-${w.key}`, label: `${act}, ${w.label}`, settings: { activation: act, weightInit: w.init(act), hidden, lr },
        build: mlp(act, w.init(act), hidden), optimizer: 'sgd', optimizerParam: { lr },
      });
    }
  }
  log(`vanishing-gradient: ${main.length} initialisations, ${iterations} iterations each`);
  const runs = await runConfigs(main, data, runOpts, setSeed);

  const sweep: ConfigSpec[] = [];
  if (o.sweep ?? true) {
    for (const h of o.sweepHidden ?? [[20, 10], [100, 100], [100, 100, 100, 100]]) {
      sweep.push({
        id: `sweep-hidden-${h.join('x')}`, label: `sigmoid, std 0.01, hidden ${h.join('x')}`, settings: { activation: 'sigmoid', weightInit: 0.01, hidden: h, lr },
        build: mlp('sigmoid', 0.01, h), optimizer: 'sgd', optimizerParam: { lr },
      });
    }
    for (const sl of o.sweepLr ?? [0.01, 0.5, 2]) {
      sweep.push({
        id: `sweep-lr-${sl}`, label: `sigmoid, std 0.01, lr ${sl}`, settings: { activation: 'sigmoid', weightInit: 0.01, hidden, lr: sl },
        build: mlp('sigmoid', 0.01, hidden), optimizer: 'sgd', optimizerParam: { lr: sl },
      });
    }
  }
  const sweepRuns = await runConfigs(sweep, data, runOpts, setSeed);
  const stopped = !!o.stop?.stopped;

  const byId = (id: string): RunRecord | undefined => runs.find((r) => r.id === id);
  const findings: string[] = [];
  const sig = byId('sigmoid-std0.01'), relu = byId('relu-std0.01'), reluHe = byId('relu-he');
  if (sig) {
    findings.push(Math.max(...sig.curve.testAcc) < CHANCE + 0.1
      ? `sigmoid with std 0.01 did not learn: its best test accuracy was ${Math.max(...sig.curve.testAcc).toFixed(2)}`
      : `sigmoid with std 0.01 did learn here: test accuracy ${last(sig.curve.testAcc).toFixed(2)}`);
  }
  if (relu) {
    const left = iterationsTo(relu.curve, CHANCE + 0.1);
    findings.push(left === null
      ? `ReLU with std 0.01 never left chance in ${relu.curve.iterationsDone} iterations`
      : `ReLU with std 0.01 stayed near chance until iteration ${left}, then reached ${last(relu.curve.testAcc).toFixed(2)}`);
  }
  for (const act of ['sigmoid', 'relu']) {
    const x = byId(`${act}-xavier`);
    if (x) findings.push(`${act} with Xavier: test accuracy ${last(x.curve.testAcc).toFixed(2)}`);
  }
  if (reluHe) findings.push(`ReLU with He: test accuracy ${last(reluHe.curve.testAcc).toFixed(2)}, above 0.5 from iteration ${iterationsTo(reluHe.curve, 0.5) ?? 'never'}`);

  const all = [...runs, ...sweepRuns];
  const charts = [
    ...all.map(accuracyChart),
    comparisonChart('compare-sigmoid', 'sigmoid: test accuracy by initialisation', runs.filter((r) => r.id.startsWith('sigmoid'))),
    comparisonChart('compare-relu', 'ReLU: test accuracy by initialisation', runs.filter((r) => r.id.startsWith('relu'))),
  ];
  if (sweepRuns.length) charts.push(comparisonChart('compare-sweep', 'sigmoid, std 0.01: hidden sizes and learning rates', [...(sig ? [sig] : []), ...sweepRuns]));
  const shown = charts.filter((c) => c.series.length > 0);
  const sections = standardSections(findings, all, shown);
  const results = {
    experiment: 'vanishing-gradient', stopped, seed,
    settings: { iterations, batchSize: runOpts.batchSize, lr, hiddenSizeList: hidden, evalEvery: runOpts.evalEvery, evalSamples: runOpts.evalSamples, optimizer: 'sgd' },
    findings, runs: runs.map(runResult), sweep: sweepRuns.map(runResult),
  };
  const { files } = await writeReport(dir, {
    title: 'Vanishing gradients and weight initialisation',
    intro: `MultiLayerNet with hidden layers [${hidden.join(', ')}], batch ${runOpts.batchSize}, SGD lr ${lr}, ${iterations} iterations; `
      + `accuracy on train and test data every ${runOpts.evalEvery} iterations (at most ${runOpts.evalSamples} samples of each). `
      + 'Sigmoid and ReLU, each with Gaussian weights of std 0.01, Xavier (sqrt(1/n)) and He (sqrt(2/n)) initialisation.'
      + (stopped ? ' Stopped early: the runs below are what was done.' : ''),
    charts: shown, sections, results,
  });
  return { name: 'vanishing-gradient', dir, files, stopped, results };
}
