// SPDX-License-Identifier: MIT
// Exercise 4: im2col shapes walked through, then SimpleConvNet against
// MultiLayerNet (accuracy and time per iteration) and the first layer's
// filters before and after training.
import { im2col, col2im } from '../nn/im2col';
import { MultiLayerNet, SimpleConvNet } from '../nn/presets';
import { setSeed, fillRandn } from '../core/random';
import { filterGridSvg, ReportSection, Table, writeReport } from '../report';
import { Tensor } from '../core/tensor';
import {
  accuracyChart, comparisonChart, standardSections, experimentData, ExperimentOptions, ExperimentOutcome,
  last, observe, prepareOutDir, RunRecord, runResult, trainCurve,
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
export function im2colWalkthrough(): { table: Table; lines: string[]; maxError: number } {
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
    lines.push(`x ${s(shape)}, filter ${f}x${f}, stride ${stride}, pad ${pad}: output ${OH}x${OW}, `
      + `im2col -> ${s(col.shape)} (N*OH*OW rows, C*FH*FW columns), col2im -> ${s(back.shape)}; `
      + `each pixel is covered by up to ${maxCount} windows, col2im(im2col(x)) = x * cover count within ${err.toExponential(1)}`);
  }
  return {
    table: { columns: ['input (N, C, H, W)', 'filter', 'stride', 'pad', 'output', 'im2col', 'col2im', 'max windows per pixel', 'col2im(im2col(x)) - x*count'], rows },
    lines, maxError,
  };
}

export async function convnetExperiment(o: ConvnetOptions): Promise<ExperimentOutcome> {
  const dir = prepareOutDir(o.out);
  const iterations = o.iterations ?? 500;
  const lr = o.lr ?? 0.001;
  const seed = o.seed ?? 1;
  const log = o.log ?? (() => {});
  const batchSize = o.batchSize ?? 100;
  const evalEvery = o.evalEvery ?? 50;
  const evalSamples = o.evalSamples ?? 1000;

  setSeed(seed);
  const walk = im2colWalkthrough();
  log('im2col walk-through:');
  for (const l of walk.lines) log(`  ${l}`);

  const flat = experimentData(o);
  const N = flat.xTrain.shape[0], M = flat.xTest.shape[0];
  const side = Math.round(Math.sqrt(flat.xTrain.shape[1]));
  const images = {
    xTrain: new Tensor(flat.xTrain.data, [N, 1, side, side]), tTrain: flat.tTrain,
    xTest: new Tensor(flat.xTest.data, [M, 1, side, side]), tTest: flat.tTest,
  };

  setSeed(seed);
  const cnn = new SimpleConvNet({ inputDim: [1, side, side] });
  const W1 = cnn.params.W1;
  const before = W1.data.slice();
  log(`SimpleConvNet, Adam lr ${lr}, ${iterations} iterations`);
  const cnnCurve = await trainCurve(cnn, images, {
    optimizer: 'adam', optimizerParam: { lr }, iterations, batchSize, evalEvery, evalSamples, stop: o.stop,
    onEval: (it, tr, te) => log(`  SimpleConvNet iteration ${it}: train ${tr.toFixed(3)}, test ${te.toFixed(3)}`),
  });
  const runs: RunRecord[] = [{
    id: 'simple-convnet', label: 'SimpleConvNet', settings: { optimizer: 'adam', lr, weightInitStd: 0.01 }, curve: cnnCurve, observation: observe(cnnCurve),
  }];
  if (!o.stop?.stopped) {
    setSeed(seed);
    const mlp = new MultiLayerNet({ inputSize: side * side, hiddenSizeList: [100, 100], outputSize: 10 });
    log(`MultiLayerNet [100, 100], Adam lr ${lr}, ${iterations} iterations`);
    const mlpCurve = await trainCurve(mlp, flat, {
      optimizer: 'adam', optimizerParam: { lr }, iterations, batchSize, evalEvery, evalSamples, stop: o.stop,
    });
    runs.push({ id: 'multi-layer-net', label: 'MultiLayerNet [100, 100]', settings: { optimizer: 'adam', lr, hiddenSizeList: [100, 100] }, curve: mlpCurve, observation: observe(mlpCurve) });
  }
  const stopped = !!o.stop?.stopped;
  const timing = runs.map((r) => ({
    label: r.label, iterations: r.curve.iterationsDone,
    msPerIteration: r.curve.iterationsDone ? (1000 * r.curve.trainSeconds) / r.curve.iterationsDone : NaN,
  }));
  for (const t of timing) log(`${t.label}: ${t.msPerIteration.toFixed(2)} ms per iteration (batch ${batchSize})`);
  const shape = W1.shape as [number, number, number, number];
  const pictures = [
    { id: 'filters-before', title: 'conv1 filters before training', svg: filterGridSvg(before, shape, { title: 'conv1 filters before training' }) },
    { id: 'filters-after', title: `conv1 filters after ${cnnCurve.iterationsDone} iterations`, svg: filterGridSvg(W1.data.slice(), shape, { title: `conv1 filters after ${cnnCurve.iterationsDone} iterations` }) },
  ];
  const findings = runs.map((r) => `${r.label}: test accuracy ${last(r.curve.testAcc).toFixed(3)} after ${r.curve.iterationsDone} iterations, `
    + `${timing.find((t) => t.label === r.label)!.msPerIteration.toFixed(2)} ms per iteration`);
  if (timing.length === 2) findings.push(`SimpleConvNet takes ${(timing[0].msPerIteration / timing[1].msPerIteration).toFixed(1)}x the time per iteration of MultiLayerNet`);

  const charts = [...runs.map(accuracyChart), comparisonChart('compare-test', 'SimpleConvNet vs MultiLayerNet: test accuracy', runs)];
  const sections: ReportSection[] = [
    { heading: 'im2col walk-through', text: 'im2col turns every filter window into a row, so a convolution becomes one matrix product; col2im folds rows back, adding overlapping windows.', table: walk.table, observations: walk.lines },
    ...standardSections(findings, runs, charts, [
      { heading: 'Time per iteration', table: { columns: ['network', 'iterations', 'ms per iteration'], rows: timing.map((t) => [t.label, t.iterations, Math.round(t.msPerIteration * 100) / 100]) } },
    ]),
    { heading: 'First-layer filters', text: 'Each square is one 5x5 filter, scaled to its own range (largest weight black).', pictures },
  ];
  const results = {
    experiment: 'convnet', stopped, seed,
    settings: { iterations, batchSize, lr, evalEvery, evalSamples },
    im2col: { rows: walk.table.rows, maxError: walk.maxError },
    timing, findings, runs: runs.map(runResult),
    filters: { shape, before: Array.from(before), after: Array.from(W1.data) },
  };
  const { files } = await writeReport(dir, {
    title: 'Convolutional network',
    intro: `SimpleConvNet (conv 30x5x5, ReLU, pool 2x2, Affine 100, ReLU, Affine 10) and MultiLayerNet [100, 100], both with Adam lr ${lr}, `
      + `batch ${batchSize}, ${iterations} iterations; accuracy every ${evalEvery} iterations on at most ${evalSamples} samples of each set.`
      + (stopped ? ' Stopped early: the runs below are what was done.' : ''),
    charts, sections, results,
  });
  return { name: 'convnet', dir, files, stopped, results };
}
