// SPDX-License-Identifier: MIT
// Exercise 2: the course's optimizers on the hard case of exercise 1 (sigmoid,
// std 0.01), each with and without batch normalisation.
import { MultiLayerNetExtend } from '../nn/presets';
import { setSeed } from '../core/random';
import { writeReport } from '../report';
import {
  accuracyChart, comparisonChart, ConfigSpec, experimentData, ExperimentOptions, ExperimentOutcome, standardSections,
  iterationsTo, last, prepareOutDir, RunRecord, runConfigs, runResult,
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

export async function optimizersExperiment(o: OptimizersOptions): Promise<ExperimentOutcome> {
  const dir = prepareOutDir(o.out);
  const iterations = o.iterations ?? 1000;
  const hidden = o.hiddenSizeList ?? [40, 20];
  const lr = o.lr ?? 0.1;
  const seed = o.seed ?? 1;
  const data = experimentData(o);
  const log = o.log ?? (() => {});
  const runOpts = { iterations, batchSize: o.batchSize ?? 100, evalEvery: o.evalEvery ?? 10, evalSamples: o.evalSamples ?? 2000, seed, log, stop: o.stop };

  const opts: OptConfig[] = [{ key: 'sgd', label: `SGD lr ${lr}`, name: 'sgd', param: { lr } }];
  for (const m of o.momentums ?? [0, 0.8, 0.9]) opts.push({ key: `momentum${m}`, label: `Momentum ${m}, lr ${lr}`, name: 'momentum', param: { lr, momentum: m } });
  opts.push({ key: 'adagrad', label: `AdaGrad lr ${lr}`, name: 'adagrad', param: { lr } });
  for (const rl of o.rmspropLrs ?? [0.001, 0.01, 0.1]) {
    for (const d of o.rmspropDecays ?? [0.9, 0.99]) {
      opts.push({ key: `rmsprop-lr${rl}-decay${d}`, label: `RMSprop lr ${rl}, decay ${d}`, name: 'rmsprop', param: { lr: rl, decayRate: d } });
    }
  }
  const adamLr = o.adamLr ?? 0.001;
  opts.push({ key: 'adam', label: `Adam lr ${adamLr}`, name: 'adam', param: { lr: adamLr } });

  const specs: ConfigSpec[] = [];
  for (const bn of [false, true]) {
    for (const c of opts) {
      specs.push({
        id: `${c.key}${bn ? '-bn' : ''}`, label: `${c.label}${bn ? ', batch norm' : ''}`,
        settings: { optimizer: c.name, ...c.param, batchNorm: bn },
        build: () => new MultiLayerNetExtend({
          inputSize: 784, hiddenSizeList: hidden, outputSize: 10, activation: 'sigmoid', weightInitStd: 0.01, useBatchnorm: bn,
        }),
        optimizer: c.name, optimizerParam: c.param,
      });
    }
  }
  log(`optimizers: ${specs.length} configurations, ${iterations} iterations each`);
  const runs = await runConfigs(specs, data, runOpts, setSeed);
  const stopped = !!o.stop?.stopped;
  const byId = (id: string): RunRecord | undefined => runs.find((r) => r.id === id);
  const speed = (r: RunRecord): string => {
    const at = iterationsTo(r.curve, 0.5);
    return at === null ? 'never reached test accuracy 0.50' : `reached test accuracy 0.50 at iteration ${at}`;
  };

  const findings: string[] = [];
  const moms = (o.momentums ?? [0, 0.8, 0.9]).map((m) => byId(`momentum${m}`)).filter((r): r is RunRecord => !!r);
  if (moms.length) findings.push(`Momentum: ${moms.map((r) => `${r.settings.momentum} ${speed(r)} and ended at ${last(r.curve.testAcc).toFixed(2)}`).join('; ')}`);
  const rms = runs.filter((r) => r.settings.optimizer === 'rmsprop' && !r.settings.batchNorm);
  if (rms.length) {
    const finals = rms.map((r) => last(r.curve.testAcc));
    const best = rms[finals.indexOf(Math.max(...finals))], worst = rms[finals.indexOf(Math.min(...finals))];
    findings.push(`RMSprop: final test accuracy ranges from ${Math.min(...finals).toFixed(2)} (${worst.label}) to ${Math.max(...finals).toFixed(2)} (${best.label})`);
  }
  const withBn = runs.filter((r) => r.settings.batchNorm);
  let faster = 0, compared = 0;
  for (const r of withBn) {
    const plain = byId(r.id.replace(/-bn$/, ''));
    if (!plain) continue;
    compared++;
    const a = iterationsTo(r.curve, 0.5) ?? Infinity, b = iterationsTo(plain.curve, 0.5) ?? Infinity;
    if (a < b || (a === b && last(r.curve.testAcc) > last(plain.curve.testAcc))) faster++;
  }
  if (compared) findings.push(`Batch normalisation reached test accuracy 0.50 sooner (or ended higher) for ${faster} of ${compared} optimizers`);

  const plainRuns = runs.filter((r) => !r.settings.batchNorm);
  const charts = [
    ...runs.map(accuracyChart),
    comparisonChart('compare-optimizers', 'test accuracy by optimizer (no batch norm)', plainRuns.filter((r) => r.settings.optimizer !== 'rmsprop' || r.id === 'rmsprop-lr0.01-decay0.99')),
    comparisonChart('compare-momentum', 'Momentum 0, 0.8, 0.9', moms),
    comparisonChart('compare-rmsprop', 'RMSprop: learning rates and decay rates', rms),
    comparisonChart('compare-batchnorm', 'with batch norm: test accuracy by optimizer', withBn.filter((r) => r.settings.optimizer !== 'rmsprop' || r.id === 'rmsprop-lr0.01-decay0.99-bn')),
  ].filter((c) => c.series.length > 0);
  const sections = standardSections(findings, runs, charts);
  const results = {
    experiment: 'optimizers', stopped, seed,
    settings: { iterations, batchSize: runOpts.batchSize, hiddenSizeList: hidden, activation: 'sigmoid', weightInitStd: 0.01, evalEvery: runOpts.evalEvery, evalSamples: runOpts.evalSamples },
    findings, runs: runs.map(runResult),
  };
  const { files } = await writeReport(dir, {
    title: 'Optimizers, with and without batch normalisation',
    intro: `MultiLayerNetExtend with hidden layers [${hidden.join(', ')}], sigmoid, Gaussian weights of std 0.01, batch ${runOpts.batchSize}, `
      + `${iterations} iterations per configuration; accuracy every ${runOpts.evalEvery} iterations.`
      + (stopped ? ' Stopped early: the runs below are what was done.' : ''),
    charts, sections, results,
  });
  return { name: 'optimizers', dir, files, stopped, results };
}
