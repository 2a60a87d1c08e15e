// SPDX-License-Identifier: MIT
// Exercise 2: the course's optimizers on the hard case of exercise 1 (sigmoid,
// std 0.01), each with and without batch normalisation.
import { MultiLayerNetExtend } from '../nn/presets';
import { setSeed } from '../core/random';
import { writeReport } from '../report';
import { messages } from '../i18n';
import {
  accuracyChart, comparisonChart, ConfigSpec, experimentData, ExperimentOptions, ExperimentOutcome, standardSections,
  iterationsTo, last, lossChart, prepareOutDir, RunRecord, runConfigs, runLengthFinding, runResult, unsettled,
} from './common';

export interface OptimizersOptions extends ExperimentOptions {
  /** Training steps per configuration (1000). */
  iterations?: number;
  batchSize?: number;
  /** Hidden layer widths ([40, 20], as exercise 1). */
  hiddenSizeList?: number[];
  /** Learning rate of SGD, Momentum and AdaGrad (0.1). */
  lr?: number;
  /** Momentum values (0, 0.8, 0.9). */
  momentums?: number[];
  /** RMSprop learning rates (0.001, 0.01, 0.1). */
  rmspropLrs?: number[];
  /** RMSprop decay rates (0.9, 0.99). */
  rmspropDecays?: number[];
  /** Adam learning rate (0.001, as the course). */
  adamLr?: number;
}

interface OptConfig { key: string; label: string; name: string; param: Record<string, number> }

/** The course's optimizer_compare_mnist.py runs 2000 iterations. */
export const OPTIMIZERS_COURSE_ITERATIONS = 2000;

export async function optimizersExperiment(o: OptimizersOptions): Promise<ExperimentOutcome> {
  const dir = prepareOutDir(o.out);
  const m = messages(o.lang);
  const mo = m.optimizers;
  const iterations = o.iterations ?? 1000;
  const hidden = o.hiddenSizeList ?? [40, 20];
  const lr = o.lr ?? 0.1;
  const seed = o.seed ?? 1;
  const data = experimentData(o);
  const log = o.log ?? (() => {});
  const course = OPTIMIZERS_COURSE_ITERATIONS;
  const runOpts = {
    iterations, batchSize: o.batchSize ?? 100, evalEvery: o.evalEvery ?? 10, evalSamples: o.evalSamples ?? 2000, seed, log, stop: o.stop,
    courseIterations: course, m,
  };

  const opts: OptConfig[] = [{ key: 'sgd', label: mo.sgd(lr), name: 'sgd', param: { lr } }];
  for (const mm of o.momentums ?? [0, 0.8, 0.9]) opts.push({ key: `momentum${mm}`, label: mo.momentum(mm, lr), name: 'momentum', param: { lr, momentum: mm } });
  opts.push({ key: 'adagrad', label: mo.adagrad(lr), name: 'adagrad', param: { lr } });
  for (const rl of o.rmspropLrs ?? [0.001, 0.01, 0.1]) {
    for (const d of o.rmspropDecays ?? [0.9, 0.99]) {
      opts.push({ key: `rmsprop-lr${rl}-decay${d}`, label: mo.rmsprop(rl, d), name: 'rmsprop', param: { lr: rl, decayRate: d } });
    }
  }
  const adamLr = o.adamLr ?? 0.001;
  opts.push({ key: 'adam', label: mo.adam(adamLr), name: 'adam', param: { lr: adamLr } });

  const specs: ConfigSpec[] = [];
  for (const bn of [false, true]) {
    for (const c of opts) {
      specs.push({
        id: `${c.key}${bn ? '-bn' : ''}`, label: bn ? mo.withBn(c.label) : c.label,
        settings: { optimizer: c.name, ...c.param, batchNorm: bn },
        build: () => new MultiLayerNetExtend({
          inputSize: 784, hiddenSizeList: hidden, outputSize: 10, activation: 'sigmoid', weightInitStd: 0.01, useBatchnorm: bn,
        }),
        optimizer: c.name, optimizerParam: c.param,
      });
    }
  }
  log(m.report.configurations('optimizers', specs.length, iterations));
  const runs = await runConfigs(specs, data, runOpts, setSeed);
  const stopped = !!o.stop?.stopped;
  const byId = (id: string): RunRecord | undefined => runs.find((r) => r.id === id);
  const caution = (rs: Array<RunRecord | undefined>, line: string): string => (unsettled(...rs) ? m.runLength.caution + line : line);

  const findings: string[] = [runLengthFinding(runs, iterations, course, m)];
  const moms = (o.momentums ?? [0, 0.8, 0.9]).map((mm) => byId(`momentum${mm}`)).filter((r): r is RunRecord => !!r);
  if (moms.length) {
    findings.push(caution(moms, mo.momentumLine(moms.map((r) => mo.momentumPart(r.settings.momentum as number, mo.reached(iterationsTo(r.curve, 0.5)), last(r.curve.testAcc))))));
  }
  const rms = runs.filter((r) => r.settings.optimizer === 'rmsprop' && !r.settings.batchNorm);
  if (rms.length) {
    const finals = rms.map((r) => last(r.curve.testAcc));
    const best = rms[finals.indexOf(Math.max(...finals))], worst = rms[finals.indexOf(Math.min(...finals))];
    findings.push(caution([best, worst], mo.rmspropLine(Math.min(...finals), worst.label, Math.max(...finals), best.label)));
  }
  const plainRuns = runs.filter((r) => !r.settings.batchNorm);
  if (plainRuns.length > 1) {
    const ranked = [...plainRuns].sort((a, b) => last(b.curve.testAcc) - last(a.curve.testAcc));
    findings.push(caution(ranked, mo.ranking(ranked.map((r) => `${r.label} ${last(r.curve.testAcc).toFixed(2)}`))));
  }
  const withBn = runs.filter((r) => r.settings.batchNorm);
  let faster = 0, compared = 0;
  const pairs: RunRecord[] = [];
  for (const r of withBn) {
    const plain = byId(r.id.replace(/-bn$/, ''));
    if (!plain) continue;
    compared++;
    pairs.push(r, plain);
    const a = iterationsTo(r.curve, 0.5) ?? Infinity, b = iterationsTo(plain.curve, 0.5) ?? Infinity;
    if (a < b || (a === b && last(r.curve.testAcc) > last(plain.curve.testAcc))) faster++;
  }
  if (compared) findings.push(caution(pairs, mo.bnLine(faster, compared)));

  const shownPlain = plainRuns.filter((r) => r.settings.optimizer !== 'rmsprop' || r.id === 'rmsprop-lr0.01-decay0.99');
  const shownBn = withBn.filter((r) => r.settings.optimizer !== 'rmsprop' || r.id === 'rmsprop-lr0.01-decay0.99-bn');
  const charts = [
    ...runs.map((r) => accuracyChart(r, m)),
    comparisonChart('compare-optimizers', mo.compareOptimizers, shownPlain, 'test', m),
    lossChart('compare-loss-optimizers', mo.lossOptimizers, shownPlain, m),
    comparisonChart('compare-momentum', mo.compareMomentum, moms, 'test', m),
    comparisonChart('compare-rmsprop', mo.compareRmsprop, rms, 'test', m),
    comparisonChart('compare-batchnorm', mo.compareBn, shownBn, 'test', m),
    lossChart('compare-loss-batchnorm', mo.lossBn, shownBn, m),
  ].filter((c) => c.series.length > 0);
  const sections = standardSections(findings, runs, charts, [], m);
  const results = {
    experiment: 'optimizers', stopped, seed, lang: m.lang, courseIterations: course,
    settings: { iterations, batchSize: runOpts.batchSize, hiddenSizeList: hidden, activation: 'sigmoid', weightInitStd: 0.01, evalEvery: runOpts.evalEvery, evalSamples: runOpts.evalSamples },
    findings, runs: runs.map(runResult),
  };
  const { files } = await writeReport(dir, {
    title: mo.title,
    intro: mo.intro(hidden.join(', '), runOpts.batchSize, iterations, runOpts.evalEvery) + (stopped ? m.common.stoppedIntro : ''),
    charts, sections, results,
  }, { lang: m.lang });
  return { name: 'optimizers', dir, files, stopped, results };
}
