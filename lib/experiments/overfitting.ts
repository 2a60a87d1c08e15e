// SPDX-License-Identifier: MIT
// Exercise 3: a deep network on 300 samples overfits; L2, L1 and Dropout
// narrow the gap between training and test accuracy.
import { MultiLayerNetExtend } from '../nn/presets';
import { setSeed } from '../core/random';
import { writeReport } from '../report';
import { messages } from '../i18n';
import {
  accuracyChart, comparisonChart, ConfigSpec, experimentData, ExperimentOptions, ExperimentOutcome, standardSections,
  firstTrainingSamples, last, prepareOutDir, RunRecord, runConfigs, runLengthFinding, runResult, CHANCE, unsettled,
} from './common';

export interface OverfittingOptions extends ExperimentOptions {
  /** Training samples (300). */
  trainSamples?: number;
  /** Training steps per configuration (1000). */
  iterations?: number;
  batchSize?: number;
  /** SGD learning rate (0.01). */
  lr?: number;
  /** Hidden layer widths (six of 100). */
  hiddenSizeList?: number[];
  /** L2 λ values (0.001, 0.01, 0.1, 0.3, 1). */
  l2Lambdas?: number[];
  /** L1 λ values (0.0001, 0.001, 0.01, 0.05). */
  l1Lambdas?: number[];
  /** Dropout ratios (0.1, 0.2, 0.3, 0.5). */
  dropoutRatios?: number[];
  /** Dropout ratio and L1 λ used together ([0.2, 0.001]). */
  dropoutL1?: [number, number];
  /** Dropout ratio for the other optimizers (0.2). */
  optimizerDropout?: number;
  /** Run the other optimizers with Dropout (true). */
  otherOptimizers?: boolean;
}

function gap(r: RunRecord): number {
  return last(r.curve.trainAcc) - last(r.curve.testAcc);
}

/** The course's overfit_weight_decay.py: 201 epochs of 300 samples in batches of 100, about 600 iterations. */
export const OVERFITTING_COURSE_ITERATIONS = 600;

export async function overfittingExperiment(o: OverfittingOptions): Promise<ExperimentOutcome> {
  const dir = prepareOutDir(o.out);
  const m = messages(o.lang);
  const mo = m.overfitting;
  const iterations = o.iterations ?? 1000;
  const lr = o.lr ?? 0.01;
  const hidden = o.hiddenSizeList ?? [100, 100, 100, 100, 100, 100];
  const nTrain = o.trainSamples ?? 300;
  const seed = o.seed ?? 1;
  const data = firstTrainingSamples(experimentData(o), nTrain);
  const log = o.log ?? (() => {});
  const course = OVERFITTING_COURSE_ITERATIONS;
  const runOpts = {
    iterations, batchSize: o.batchSize ?? 100, evalEvery: o.evalEvery ?? 10, evalSamples: o.evalSamples ?? 2000, seed, log, stop: o.stop,
    courseIterations: course, m,
  };
  const net = (x: { l2?: number; l1?: number; dropout?: number }) => () => new MultiLayerNetExtend({
    inputSize: 784, hiddenSizeList: hidden, outputSize: 10, weightDecayLambda: x.l2 ?? 0, l1Lambda: x.l1 ?? 0,
    useDropout: x.dropout !== undefined, dropoutRatio: x.dropout ?? 0.5,
  });
  const sgd = (id: string, label: string, x: { l2?: number; l1?: number; dropout?: number }, group: string): ConfigSpec => ({
    id, label, settings: { group, optimizer: 'sgd', lr, weightDecayLambda: x.l2 ?? 0, l1Lambda: x.l1 ?? 0, dropoutRatio: x.dropout ?? null },
    build: net(x), optimizer: 'sgd', optimizerParam: { lr },
  });

  const specs: ConfigSpec[] = [sgd('none', mo.none, {}, 'none')];
  for (const l of o.l2Lambdas ?? [0.001, 0.01, 0.1, 0.3, 1]) specs.push(sgd(`l2-${l}`, mo.l2(l), { l2: l }, 'l2'));
  for (const l of o.l1Lambdas ?? [0.0001, 0.001, 0.01, 0.05]) specs.push(sgd(`l1-${l}`, mo.l1(l), { l1: l }, 'l1'));
  for (const d of o.dropoutRatios ?? [0.1, 0.2, 0.3, 0.5]) specs.push(sgd(`dropout-${d}`, mo.dropout(d), { dropout: d }, 'dropout'));
  const [dr, dl] = o.dropoutL1 ?? [0.2, 0.001];
  specs.push(sgd(`dropout-${dr}-l1-${dl}`, mo.dropoutL1(dr, dl), { dropout: dr, l1: dl }, 'dropout+l1'));
  if (o.otherOptimizers ?? true) {
    const od = o.optimizerDropout ?? 0.2;
    const others: [string, string, Record<string, number>][] = [
      ['momentum', 'Momentum', { lr, momentum: 0.9 }], ['adagrad', 'AdaGrad', { lr }],
      ['rmsprop', 'RMSprop', { lr: 0.001 }], ['adam', 'Adam', { lr: 0.001 }],
    ];
    for (const [name, label, param] of others) {
      specs.push({
        id: `${name}-dropout-${od}`, label: mo.otherOptimizer(label, param.lr, od),
        settings: { group: 'optimizer+dropout', optimizer: name, ...param, dropoutRatio: od },
        build: net({ dropout: od }), optimizer: name, optimizerParam: param,
      });
    }
  }
  log(m.report.configurations('overfitting', specs.length, iterations));
  const runs = await runConfigs(specs, data, runOpts, setSeed);
  const stopped = !!o.stop?.stopped;

  const base = runs.find((r) => r.id === 'none');
  const findings: string[] = [runLengthFinding(runs, iterations, course, m)];
  if (base) {
    // Overfitting shows once the training samples are learned by heart; before that a small
    // gap says nothing about regularisation.
    const memorised = last(base.curve.trainAcc) >= 0.95;
    if (!memorised) findings.push(mo.notMemorised(last(base.curve.trainAcc), course));
    findings.push(mo.baseline(last(base.curve.trainAcc), last(base.curve.testAcc), gap(base)));
    for (const group of ['l2', 'l1', 'dropout']) {
      const g = runs.filter((r) => r.settings.group === group);
      if (!g.length) continue;
      const parts = g.map((r) => {
        const learned = last(r.curve.trainAcc) >= CHANCE + 0.1;
        const d = gap(r) - gap(base);
        const verdict = !learned ? mo.stoppedLearning
          : Math.abs(d) < 0.02 ? mo.sameGap : d < 0 ? mo.narrower(gap(r)) : mo.wider(gap(r));
        return mo.part(r.label, verdict, last(r.curve.testAcc));
      });
      const line = parts.join('; ');
      findings.push(!memorised || unsettled(base, ...g) ? m.runLength.caution + line : line);
    }
  }

  const groupRuns = (g: string): RunRecord[] => runs.filter((r) => r.settings.group === g || r.id === 'none');
  const charts = [
    ...runs.map((r) => accuracyChart(r, m)),
    comparisonChart('compare-l2-test', mo.compareL2Test, groupRuns('l2'), 'test', m),
    comparisonChart('compare-l2-train', mo.compareL2Train, groupRuns('l2'), 'train', m),
    comparisonChart('compare-l1-test', mo.compareL1Test, groupRuns('l1'), 'test', m),
    comparisonChart('compare-dropout-test', mo.compareDropout, [...groupRuns('dropout'), ...runs.filter((r) => r.settings.group === 'dropout+l1')], 'test', m),
    comparisonChart('compare-optimizers-dropout', mo.compareOptimizers, runs.filter((r) => r.settings.group === 'optimizer+dropout'), 'test', m),
  ].filter((c) => c.series.length > 0);
  const sections = standardSections(findings, runs, charts, [], m);
  const results = {
    experiment: 'overfitting', stopped, seed, lang: m.lang, courseIterations: course,
    settings: { trainSamples: data.xTrain.shape[0], iterations, batchSize: runOpts.batchSize, lr, hiddenSizeList: hidden, evalEvery: runOpts.evalEvery, evalSamples: runOpts.evalSamples },
    findings, runs: runs.map(runResult),
  };
  const { files } = await writeReport(dir, {
    title: mo.title,
    intro: mo.intro(hidden.join(', '), data.xTrain.shape[0], lr, runOpts.batchSize, iterations) + (stopped ? m.common.stoppedIntro : ''),
    charts, sections, results,
  }, { lang: m.lang });
  return { name: 'overfitting', dir, files, stopped, results };
}
