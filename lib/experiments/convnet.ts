// SPDX-License-Identifier: MIT
// Exercise 4: im2col shapes walked through, then SimpleConvNet against
// MultiLayerNet (accuracy and time per iteration) and the first layer's
// filters before and after training.
import { im2col, col2im } from '../nn/im2col';
import { MultiLayerNet, SimpleConvNet } from '../nn/presets';
import { setSeed, fillRandn } from '../core/random';
import { filterGridSvg, ReportSection, Table, writeReport } from '../report';
import { Tensor } from '../core/tensor';
import { messages, Messages } from '../i18n';
import {
  accuracyChart, compareFinal, comparisonChart, Curve, standardSections, experimentData, ExperimentOptions, ExperimentOutcome,
  last, observe, prepareOutDir, RunRecord, runLengthFinding, runResult, runVerdict, trainCurve, unsettled,
} from './common';

export interface ConvnetOptions extends ExperimentOptions {
  /** Training steps of each network (500). */
  iterations?: number;
  batchSize?: number;
  /** Adam learning rate (0.001). */
  lr?: number;
}

/** Input shape, filter size, stride, pad of each im2col example. */
const WALK: [number[], number, number, number][] = [
  [[1, 3, 7, 7], 5, 1, 0],
  [[10, 3, 7, 7], 5, 1, 0],
  [[1, 1, 28, 28], 5, 1, 0],
  [[1, 1, 28, 28], 3, 1, 1],
  [[2, 1, 28, 28], 3, 2, 1],
  [[1, 3, 8, 8], 2, 2, 0],
  [[1, 16, 14, 14], 3, 1, 2],
];

/**
 * im2col on random inputs of several shapes and col2im back. col2im adds overlapping windows,
 * so col2im(im2col(x)) is x times how many windows cover each pixel: that is checked too.
 */
export function im2colWalkthrough(m: Messages = messages('en')): { table: Table; lines: string[]; maxError: number } {
  const rows: (string | number)[][] = [];
  const lines: string[] = [];
  let maxError = 0;
  for (const [shape, f, stride, pad] of WALK) {
    const x = Tensor.zeros(shape);
    fillRandn(x.data);
    const col = im2col(x, f, f, stride, pad);
    const back = col2im(col, shape, f, f, stride, pad);
    const ones = Tensor.zeros(shape);
    ones.data.fill(1);
    const count = col2im(im2col(ones, f, f, stride, pad), shape, f, f, stride, pad);
    let err = 0, maxCount = 0;
    for (let i = 0; i < x.data.length; i++) {
      err = Math.max(err, Math.abs(back.data[i] - x.data[i] * count.data[i]));
      maxCount = Math.max(maxCount, count.data[i]);
    }
    maxError = Math.max(maxError, err);
    const OH = Math.floor((shape[2] + 2 * pad - f) / stride) + 1, OW = Math.floor((shape[3] + 2 * pad - f) / stride) + 1;
    const s = (a: number[]): string => `(${a.join(', ')})`;
    rows.push([s(shape), `${f}x${f}`, stride, pad, `${OH}x${OW}`, s(col.shape), s(back.shape), maxCount, err]);
    lines.push(m.convnet.walkLine(s(shape), f, stride, pad, OH, OW, s(col.shape), s(back.shape), maxCount, err.toExponential(1)));
  }
  return {
    table: { columns: [...m.convnet.walkColumns], rows },
    lines, maxError,
  };
}

/** The course's train_convnet.py trains 20 epochs (12,000 iterations on MNIST's 60,000 samples). */
export const CONVNET_COURSE_EPOCHS = 20;

export async function convnetExperiment(o: ConvnetOptions): Promise<ExperimentOutcome> {
  const dir = prepareOutDir(o.out);
  const m = messages(o.lang);
  const mc = m.convnet;
  const iterations = o.iterations ?? 500;
  const lr = o.lr ?? 0.001;
  const seed = o.seed ?? 1;
  const log = o.log ?? (() => {});
  const batchSize = o.batchSize ?? 100;
  const evalEvery = o.evalEvery ?? 50;
  const evalSamples = o.evalSamples ?? 1000;

  setSeed(seed);
  const walk = im2colWalkthrough(m);
  log(`${mc.walkHeading}:`);
  for (const l of walk.lines) log(`  ${l}`);

  const flat = experimentData(o);
  const N = flat.xTrain.shape[0], M = flat.xTest.shape[0];
  const side = Math.round(Math.sqrt(flat.xTrain.shape[1]));
  const images = {
    xTrain: new Tensor(flat.xTrain.data, [N, 1, side, side]), tTrain: flat.tTrain,
    xTest: new Tensor(flat.xTest.data, [M, 1, side, side]), tTest: flat.tTest,
  };
  // The course's length in this data set's epochs.
  const course = CONVNET_COURSE_EPOCHS * Math.max(1, Math.ceil(N / batchSize));
  const evalN = Math.min(evalSamples, M);

  setSeed(seed);
  const cnn = new SimpleConvNet({ inputDim: [1, side, side] });
  const W1 = cnn.params.W1;
  const before = W1.data.slice();
  log(mc.start(mc.cnn, lr, iterations));
  const cnnCurve = await trainCurve(cnn, images, {
    optimizer: 'adam', optimizerParam: { lr }, iterations, batchSize, evalEvery, evalSamples, stop: o.stop,
    onEval: (it, tr, te) => log(mc.evalLog(mc.cnn, it, tr, te)),
  });
  const record = (id: string, label: string, settings: Record<string, unknown>, curve: Curve): RunRecord => {
    const verdict = runVerdict(curve, course, evalN);
    return { id, label, settings, curve, verdict, observation: observe(curve, { verdict, m }) };
  };
  const runs: RunRecord[] = [record('simple-convnet', mc.cnn, { optimizer: 'adam', lr, weightInitStd: 0.01 }, cnnCurve)];
  if (!o.stop?.stopped) {
    setSeed(seed);
    const mlp = new MultiLayerNet({ inputSize: side * side, hiddenSizeList: [100, 100], outputSize: 10 });
    log(mc.start(mc.mlp, lr, iterations));
    const mlpCurve = await trainCurve(mlp, flat, {
      optimizer: 'adam', optimizerParam: { lr }, iterations, batchSize, evalEvery, evalSamples, stop: o.stop,
    });
    runs.push(record('multi-layer-net', mc.mlp, { optimizer: 'adam', lr, hiddenSizeList: [100, 100] }, mlpCurve));
  }
  const stopped = !!o.stop?.stopped;
  const timing = runs.map((r) => ({
    label: r.label, iterations: r.curve.iterationsDone,
    msPerIteration: r.curve.iterationsDone ? (1000 * r.curve.trainSeconds) / r.curve.iterationsDone : NaN,
  }));
  for (const t of timing) log(mc.timeLog(t.label, t.msPerIteration, batchSize));
  const shape = W1.shape as [number, number, number, number];
  const afterTitle = mc.filtersAfter(cnnCurve.iterationsDone);
  const pictures = [
    { id: 'filters-before', title: mc.filtersBefore, svg: filterGridSvg(before, shape, { title: mc.filtersBefore }) },
    { id: 'filters-after', title: afterTitle, svg: filterGridSvg(W1.data.slice(), shape, { title: afterTitle }) },
  ];
  const findings = [runLengthFinding(runs, iterations, course, m),
    ...runs.map((r) => mc.finding(r.label, last(r.curve.testAcc), r.curve.iterationsDone, timing.find((t) => t.label === r.label)!.msPerIteration))];
  if (runs.length === 2) {
    const [c, p] = runs;
    const cmp = compareFinal(c, p);
    if (cmp.verdict === 'higher') findings.push(mc.cnnWins(cmp.diff));
    else if (cmp.verdict === 'lower') findings.push(c.verdict?.tooShort ? mc.cnnLosesShort(-cmp.diff, course) : mc.cnnLoses(-cmp.diff));
    else findings.push((unsettled(c, p) ? m.runLength.caution : '') + m.runLength.sameWithinNoise(c.label, p.label, cmp.diff, cmp.noise));
    findings.push(mc.timeRatio(timing[0].msPerIteration / timing[1].msPerIteration));
  }

  const charts = [...runs.map((r) => accuracyChart(r, m)), comparisonChart('compare-test', mc.compareTest, runs, 'test', m)];
  const sections: ReportSection[] = [
    { heading: mc.walkHeading, text: mc.walkText, table: walk.table, observations: walk.lines },
    ...standardSections(findings, runs, charts, [
      { heading: mc.timeHeading, table: { columns: [...mc.timeColumns], rows: timing.map((t) => [t.label, t.iterations, Math.round(t.msPerIteration * 100) / 100]) } },
    ], m),
    { heading: mc.filtersHeading, text: mc.filtersText, pictures },
  ];
  const results = {
    experiment: 'convnet', stopped, seed, lang: m.lang, courseIterations: course,
    settings: { iterations, batchSize, lr, evalEvery, evalSamples },
    im2col: { rows: walk.table.rows, maxError: walk.maxError },
    timing, findings, runs: runs.map(runResult),
    filters: { shape, before: Array.from(before), after: Array.from(W1.data) },
  };
  const { files } = await writeReport(dir, {
    title: mc.title,
    intro: mc.intro(lr, batchSize, iterations, evalEvery, evalSamples) + (stopped ? m.common.stoppedIntro : ''),
    charts, sections, results,
  }, { lang: m.lang });
  return { name: 'convnet', dir, files, stopped, results };
}
