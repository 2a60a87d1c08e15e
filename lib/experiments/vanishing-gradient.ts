// SPDX-License-Identifier: MIT
// Exercise 1: how weight initialisation decides whether a sigmoid or ReLU
// network learns at all (the course's weight_init_compare, with accuracy).
import { MultiLayerNet, WeightInit } from '../nn/presets';
import { setSeed } from '../core/random';
import { writeReport } from '../report';
import { messages } from '../i18n';
import {
  accuracyChart, comparisonChart, ConfigSpec, experimentData, ExperimentOptions, ExperimentOutcome, standardSections,
  last, lossChart, prepareOutDir, RunRecord, runConfigs, runLengthFinding, runResult, CHANCE, iterationsTo, unsettled,
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

const INITS: { key: string; init: WeightInit }[] = [
  { key: 'std0.01', init: 0.01 },
  { key: 'xavier', init: 'xavier' },
  { key: 'he', init: 'he' },
];

/** The course's weight_init_compare.py runs 2000 iterations. */
export const VANISHING_COURSE_ITERATIONS = 2000;

export async function vanishingGradient(o: VanishingGradientOptions): Promise<ExperimentOutcome> {
  const dir = prepareOutDir(o.out);
  const m = messages(o.lang);
  const mv = m.vanishing;
  const iterations = o.iterations ?? 2000;
  const lr = o.lr ?? 0.1;
  const hidden = o.hiddenSizeList ?? [40, 20];
  const seed = o.seed ?? 1;
  const data = experimentData(o);
  const log = o.log ?? (() => {});
  const course = VANISHING_COURSE_ITERATIONS;
  const runOpts = {
    iterations, batchSize: o.batchSize ?? 100, evalEvery: o.evalEvery ?? 10, evalSamples: o.evalSamples ?? 2000, seed, log, stop: o.stop,
    courseIterations: course, m,
  };
  const mlp = (activation: 'sigmoid' | 'relu', init: WeightInit, h: number[]) => () => new MultiLayerNet({
    inputSize: 784, hiddenSizeList: h, outputSize: 10, activation, weightInitStd: init,
  });
  const initLabel = (key: string): string => (key === 'std0.01' ? mv.std(0.01) : key === 'xavier' ? 'Xavier' : 'He');

  const main: ConfigSpec[] = [];
  for (const act of ['sigmoid', 'relu'] as const) {
    for (const w of INITS) {
      main.push({
        id: `${act}-${w.key}`, label: mv.label(act, initLabel(w.key)), settings: { activation: act, weightInit: w.init, hidden, lr },
        build: mlp(act, w.init, hidden), optimizer: 'sgd', optimizerParam: { lr },
      });
    }
  }
  log(m.report.configurations('vanishing-gradient', main.length, iterations));
  const runs = await runConfigs(main, data, runOpts, setSeed);

  const sweep: ConfigSpec[] = [];
  if (o.sweep ?? true) {
    for (const h of o.sweepHidden ?? [[20, 10], [100, 100], [100, 100, 100, 100]]) {
      sweep.push({
        id: `sweep-hidden-${h.join('x')}`, label: mv.sweepHidden(h.join('x')), settings: { activation: 'sigmoid', weightInit: 0.01, hidden: h, lr },
        build: mlp('sigmoid', 0.01, h), optimizer: 'sgd', optimizerParam: { lr },
      });
    }
    for (const sl of o.sweepLr ?? [0.01, 0.5, 2]) {
      sweep.push({
        id: `sweep-lr-${sl}`, label: mv.sweepLr(sl), settings: { activation: 'sigmoid', weightInit: 0.01, hidden, lr: sl },
        build: mlp('sigmoid', 0.01, hidden), optimizer: 'sgd', optimizerParam: { lr: sl },
      });
    }
  }
  const sweepRuns = await runConfigs(sweep, data, runOpts, setSeed);
  const stopped = !!o.stop?.stopped;

  const byId = (id: string): RunRecord | undefined => runs.find((r) => r.id === id);
  const caution = (r: RunRecord | undefined, line: string): string => (unsettled(r) ? m.runLength.caution + line : line);
  const findings: string[] = [runLengthFinding(runs, iterations, course, m)];
  const sig = byId('sigmoid-std0.01'), relu = byId('relu-std0.01'), reluHe = byId('relu-he');
  if (sig) {
    findings.push(caution(sig, Math.max(...sig.curve.testAcc) < CHANCE + 0.1
      ? mv.sigmoidFailed(Math.max(...sig.curve.testAcc))
      : mv.sigmoidLearned(last(sig.curve.testAcc))));
  }
  if (relu) {
    const left = iterationsTo(relu.curve, CHANCE + 0.1);
    findings.push(caution(relu, left === null ? mv.reluNever(relu.curve.iterationsDone) : mv.reluLate(left, last(relu.curve.testAcc))));
  }
  for (const act of ['sigmoid', 'relu']) {
    const x = byId(`${act}-xavier`);
    if (x) findings.push(caution(x, mv.xavier(act, last(x.curve.testAcc))));
  }
  if (reluHe) findings.push(caution(reluHe, mv.he(last(reluHe.curve.testAcc), iterationsTo(reluHe.curve, 0.5) ?? m.common.never)));

  const all = [...runs, ...sweepRuns];
  const sigmoidRuns = runs.filter((r) => r.id.startsWith('sigmoid')), reluRuns = runs.filter((r) => r.id.startsWith('relu'));
  const charts = [
    ...all.map((r) => accuracyChart(r, m)),
    comparisonChart('compare-sigmoid', mv.compareSigmoid, sigmoidRuns, 'test', m),
    lossChart('compare-loss-sigmoid', mv.lossSigmoid, sigmoidRuns, m),
    comparisonChart('compare-relu', mv.compareRelu, reluRuns, 'test', m),
    lossChart('compare-loss-relu', mv.lossRelu, reluRuns, m),
  ];
  if (sweepRuns.length) charts.push(comparisonChart('compare-sweep', mv.compareSweep, [...(sig ? [sig] : []), ...sweepRuns], 'test', m));
  const shown = charts.filter((c) => c.series.length > 0);
  const sections = standardSections(findings, all, shown, [], m);
  const results = {
    experiment: 'vanishing-gradient', stopped, seed, lang: m.lang, courseIterations: course,
    settings: { iterations, batchSize: runOpts.batchSize, lr, hiddenSizeList: hidden, evalEvery: runOpts.evalEvery, evalSamples: runOpts.evalSamples, optimizer: 'sgd' },
    findings, runs: runs.map(runResult), sweep: sweepRuns.map(runResult),
  };
  const { files } = await writeReport(dir, {
    title: mv.title,
    intro: mv.intro(hidden.join(', '), runOpts.batchSize, lr, iterations, runOpts.evalEvery, runOpts.evalSamples) + (stopped ? m.common.stoppedIntro : ''),
    charts: shown, sections, results,
  }, { lang: m.lang });
  return { name: 'vanishing-gradient', dir, files, stopped, results };
}
