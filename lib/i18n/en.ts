// SPDX-License-Identifier: MIT
// English messages of the command line and the exercise reports. ja.ts has the
// same keys (the type below makes the compiler check that).
const f2 = (v: number): string => v.toFixed(2);
const f3 = (v: number): string => v.toFixed(3);
const list = (items: string[]): string => items.join('; ');

export const en = {
  lang: 'en' as 'en' | 'ja',

  common: {
    iterations: 'iterations',
    accuracy: 'accuracy',
    trainAccuracy: 'train accuracy',
    testAccuracy: 'test accuracy',
    loss: 'loss',
    smoothedLoss: 'training loss (smoothed)',
    train: 'train',
    test: 'test',
    findings: 'Findings',
    finalAccuracies: 'Final accuracies',
    comparison: 'Comparison',
    otherCharts: 'Other charts',
    allNumbers: 'All numbers behind the charts: [results.json](results.json).',
    never: 'never',
    stoppedIntro: ' Stopped early: the runs below are what was done.',
    columns: ['configuration', 'iterations', 'final train acc', 'final test acc', 'best test acc', 'train - test', 'first iteration with test >= 0.5'],
    lossNote: 'Training loss of every step, smoothed as the course\'s util.smooth_curve does.',
  },

  observe: {
    didNotLearn: (final: number, best: number, total: number) => `did not learn: test accuracy stayed at ${f2(final)} (never above ${f2(best)} in ${total} iterations)`,
    collapsed: (best: number, final: number, train: number) => `learned, then collapsed: test accuracy rose to ${f2(best)} and fell back to ${f2(final)} (train ${f2(train)})`,
    stalled: (at: number, final: number) => `stalled near chance until iteration ${at}, then learned: test accuracy ${f2(final)} at the end`,
    learned: (final: number, half: number | null) => `learned: test accuracy ${f2(final)} at the end` + (half !== null ? `, above 0.50 from iteration ${half}` : ', never above 0.50'),
    unstable: (best: number) => `; unstable: it had reached ${f2(best)}`,
    overfit: (train: number, test: number, gap: number) => `; train ${f2(train)} vs test ${f2(test)}: a gap of ${f2(gap)} (overfitting)`,
    gap: (train: number, gap: number) => `; train ${f2(train)}, gap ${f2(gap)}`,
    stopped: (total: number) => ` (stopped after ${total} iterations)`,
    tooShortChance: (course: number) => `; too short to tell whether it would: the course's run is ${course} iterations (--iterations ${course})`,
    tooShortImproving: (gain: number, course: number) => `; still improving at the end (test accuracy +${f2(gain)} over the last third of the run): too short for its final level to show (the course's run is ${course} iterations)`,
  },

  runLength: {
    ok: (iterations: number, course: number) => `Run length: ${iterations} iterations per configuration (the course's script runs ${course}); every configuration had left chance and stopped improving, so the comparisons below stand.`,
    okLonger: (iterations: number, course: number) => `Run length: ${iterations} iterations per configuration, as long as the course's ${course} or longer.`,
    tooShort: (iterations: number, course: number, k: number, n: number) => `Too short: ${iterations} iterations per configuration against the course's ${course}; ${k} of ${n} configurations were still at chance or still improving at the end, so a comparison below may show the opposite of the lesson. Rerun with --iterations ${course}.`,
    caution: 'too short to conclude: ',
    sameWithinNoise: (a: string, b: string, diff: number, noise: number) => `${a} and ${b} end within the measurement noise of each other (difference ${f3(diff)}, noise ±${f3(noise)})`,
  },

  vanishing: {
    title: 'Vanishing gradients and weight initialisation',
    intro: (hidden: string, batch: number, lr: number, iterations: number, every: number, samples: number) =>
      `MultiLayerNet with hidden layers [${hidden}], batch ${batch}, SGD lr ${lr}, ${iterations} iterations; `
      + `accuracy on train and test data every ${every} iterations (at most ${samples} samples of each). `
      + 'Sigmoid and ReLU, each with Gaussian weights of std 0.01, Xavier (sqrt(1/n)) and He (sqrt(2/n)) initialisation.',
    label: (act: string, init: string) => `${act}, ${init}`,
    std: (s: number) => `std ${s}`,
    sweepHidden: (h: string) => `sigmoid, std 0.01, hidden ${h}`,
    sweepLr: (lr: number) => `sigmoid, std 0.01, lr ${lr}`,
    sigmoidFailed: (best: number) => `sigmoid with std 0.01 did not learn: its best test accuracy was ${f2(best)}`,
    sigmoidLearned: (final: number) => `sigmoid with std 0.01 did learn here: test accuracy ${f2(final)}`,
    reluNever: (total: number) => `ReLU with std 0.01 never left chance in ${total} iterations`,
    reluLate: (at: number, final: number) => `ReLU with std 0.01 stayed near chance until iteration ${at}, then reached ${f2(final)}`,
    xavier: (act: string, final: number) => `${act} with Xavier: test accuracy ${f2(final)}`,
    act: (act: string) => act,
    he: (final: number, half: number | string) => `ReLU with He: test accuracy ${f2(final)}, above 0.5 from iteration ${half}`,
    compareSigmoid: 'sigmoid: test accuracy by initialisation',
    compareRelu: 'ReLU: test accuracy by initialisation',
    compareSweep: 'sigmoid, std 0.01: hidden sizes and learning rates',
    lossSigmoid: 'sigmoid: training loss by initialisation',
    lossRelu: 'ReLU: training loss by initialisation',
  },

  optimizers: {
    title: 'Optimizers, with and without batch normalisation',
    intro: (hidden: string, batch: number, iterations: number, every: number) =>
      `MultiLayerNetExtend with hidden layers [${hidden}], sigmoid, Gaussian weights of std 0.01, batch ${batch}, `
      + `${iterations} iterations per configuration; accuracy every ${every} iterations.`,
    sgd: (lr: number) => `SGD lr ${lr}`,
    momentum: (m: number, lr: number) => `Momentum ${m}, lr ${lr}`,
    adagrad: (lr: number) => `AdaGrad lr ${lr}`,
    rmsprop: (lr: number, d: number) => `RMSprop lr ${lr}, decay ${d}`,
    adam: (lr: number) => `Adam lr ${lr}`,
    withBn: (label: string) => `${label}, batch norm`,
    reached: (at: number | null) => (at === null ? 'never reached test accuracy 0.50' : `reached test accuracy 0.50 at iteration ${at}`),
    momentumLine: (parts: string[]) => `Momentum: ${list(parts)}`,
    momentumPart: (m: number, speed: string, final: number) => `${m} ${speed} and ended at ${f2(final)}`,
    rmspropLine: (lo: number, worst: string, hi: number, best: string) => `RMSprop: final test accuracy ranges from ${f2(lo)} (${worst}) to ${f2(hi)} (${best})`,
    bnLine: (faster: number, compared: number) => `Batch normalisation reached test accuracy 0.50 sooner (or ended higher) for ${faster} of ${compared} optimizers`,
    ranking: (parts: string[]) => `Final test accuracy, best first: ${parts.join(', ')}`,
    compareOptimizers: 'test accuracy by optimizer (no batch norm)',
    compareMomentum: 'Momentum 0, 0.8, 0.9',
    compareRmsprop: 'RMSprop: learning rates and decay rates',
    compareBn: 'with batch norm: test accuracy by optimizer',
    lossOptimizers: 'training loss by optimizer (no batch norm)',
    lossBn: 'with batch norm: training loss by optimizer',
  },

  overfitting: {
    title: 'Overfitting and regularisation',
    intro: (hidden: string, n: number, lr: number, batch: number, iterations: number) =>
      `MultiLayerNetExtend with hidden layers [${hidden}] (ReLU, He initialisation) trained on ${n} samples, `
      + `SGD lr ${lr} unless stated, batch ${batch}, ${iterations} iterations per configuration.`,
    none: 'no regularisation',
    l2: (l: number) => `L2 λ ${l}`,
    l1: (l: number) => `L1 λ ${l}`,
    dropout: (d: number) => `Dropout ${d}`,
    dropoutL1: (d: number, l: number) => `Dropout ${d} + L1 λ ${l}`,
    otherOptimizer: (name: string, lr: number, d: number) => `${name} (lr ${lr}) + Dropout ${d}`,
    baseline: (train: number, test: number, gap: number) => `no regularisation: train ${f2(train)}, test ${f2(test)}, gap ${f2(gap)}`,
    stoppedLearning: 'stopped learning',
    sameGap: 'about the same gap',
    narrower: (gap: number) => `gap ${f2(gap)} (narrower)`,
    wider: (gap: number) => `gap ${f2(gap)} (wider)`,
    part: (label: string, verdict: string, test: number) => `${label}: ${verdict}, test ${f2(test)}`,
    notMemorised: (train: number, course: number) => `Too short for overfitting to show: without regularisation the training accuracy is only ${f2(train)} at the end; the network overfits once it has learned its training samples by heart (training accuracy near 1.00), which the course's run of about ${course} iterations reaches. The gaps below are not yet the lesson's.`,
    compareL2Test: 'L2: test accuracy by λ',
    compareL2Train: 'L2: train accuracy by λ',
    compareL1Test: 'L1: test accuracy by λ',
    compareDropout: 'Dropout: test accuracy by ratio',
    compareOptimizers: 'optimizers with Dropout: test accuracy',
  },

  convnet: {
    title: 'Convolutional network',
    intro: (lr: number, batch: number, iterations: number, every: number, samples: number) =>
      `SimpleConvNet (conv 30x5x5, ReLU, pool 2x2, Affine 100, ReLU, Affine 10) and MultiLayerNet [100, 100], both with Adam lr ${lr}, `
      + `batch ${batch}, ${iterations} iterations; accuracy every ${every} iterations on at most ${samples} samples of each set.`,
    walkHeading: 'im2col walk-through',
    walkText: 'im2col turns every filter window into a row, so a convolution becomes one matrix product; col2im folds rows back, adding overlapping windows.',
    walkColumns: ['input (N, C, H, W)', 'filter', 'stride', 'pad', 'output', 'im2col', 'col2im', 'max windows per pixel', 'col2im(im2col(x)) - x*count'],
    walkLine: (shape: string, f: number, stride: number, pad: number, oh: number, ow: number, col: string, back: string, count: number, err: string) =>
      `x ${shape}, filter ${f}x${f}, stride ${stride}, pad ${pad}: output ${oh}x${ow}, `
      + `im2col -> ${col} (N*OH*OW rows, C*FH*FW columns), col2im -> ${back}; `
      + `each pixel is covered by up to ${count} windows, col2im(im2col(x)) = x * cover count within ${err}`,
    cnn: 'SimpleConvNet',
    mlp: 'MultiLayerNet [100, 100]',
    finding: (label: string, acc: number, iterations: number, ms: number) => `${label}: test accuracy ${f3(acc)} after ${iterations} iterations, ${ms.toFixed(2)} ms per iteration`,
    timeRatio: (r: number) => `SimpleConvNet takes ${r.toFixed(1)}x the time per iteration of MultiLayerNet`,
    cnnWins: (diff: number) => `SimpleConvNet ends ${f3(diff)} above MultiLayerNet in test accuracy: the convolution's use of the image's 2-D structure shows`,
    cnnLoses: (diff: number) => `SimpleConvNet ends ${f3(diff)} below MultiLayerNet in test accuracy`,
    cnnLosesShort: (diff: number, course: number) => `too short to conclude: SimpleConvNet is still ${f3(diff)} below MultiLayerNet, but it is still improving; the course trains it for 20 epochs (${course} iterations), over which it overtakes the MLP. Rerun with --iterations 1000 or more.`,
    timeHeading: 'Time per iteration',
    timeColumns: ['network', 'iterations', 'ms per iteration'],
    filtersHeading: 'First-layer filters',
    filtersText: 'Each square is one 5x5 filter, scaled to its own range (largest weight black).',
    filtersBefore: 'conv1 filters before training',
    filtersAfter: (n: number) => `conv1 filters after ${n} iterations`,
    compareTest: 'SimpleConvNet vs MultiLayerNet: test accuracy',
    timeLog: (label: string, ms: number, batch: number) => `${label}: ${ms.toFixed(2)} ms per iteration (batch ${batch})`,
    start: (label: string, lr: number, iterations: number) => `${label}, Adam lr ${lr}, ${iterations} iterations`,
    evalLog: (label: string, it: number, tr: number, te: number) => `  ${label} iteration ${it}: train ${tr.toFixed(3)}, test ${te.toFixed(3)}`,
  },

  activations: {
    title: 'Activation distributions and the initial weights',
    intro: (samples: number, nodes: number, layers: number) =>
      `The course's weight_init_activation_histogram: ${samples} samples of ${nodes} Gaussian features through ${layers} hidden layers of ${nodes} units `
      + '(no bias), weights drawn as std × randn with std 1, 0.01, Xavier (sqrt(1/n)) and He (sqrt(2/n)). Each figure shows the '
      + 'activations (the outputs after the activation function) of the five layers, 30 bins. Sigmoid and ReLU are drawn on (0, 1) '
      + 'as in the course; tanh on (-1, 1), since half of its values are negative. ReLU\'s count axis stops at 7% of the values, as the book\'s figure: its bar at 0 holds half of them.',
    sigmoid: 'sigmoid',
    tanh: 'tanh',
    relu: 'ReLU',
    init: { 'std1': 'std 1', 'std0.01': 'std 0.01', xavier: 'Xavier', he: 'He' } as Record<string, string>,
    setting: (act: string, init: string) => `${act}, ${init}`,
    layer: (i: number) => `${i}-layer`,
    xLabel: 'activation',
    yLabel: 'count',
    saturated: (lo: string, hi: string) => `saturated at ${lo} and ${hi}`,
    collapsed: (v: string) => `collapsed to ${v}`,
    spread: 'spread kept',
    shrinks: 'shrinks layer by layer',
    grows: 'grows layer by layer',
    layers: (a: number, b: number) => (a === b ? `layer ${a}` : `layers ${a}-${b}`),
    observation: (word: string, details: string[]) => `${word} (${details.join('; ')})`,
    detailSaturated: (frac: number, lo: string, hi: string) => `${Math.round(frac * 100)}% of the values within 0.02 of ${lo} or ${hi}`,
    detailCollapsed: (frac: number, v: string) => `${Math.round(frac * 100)}% within 0.05 of ${v}`,
    detailStd: (first: number, last: number) => `std ${first.toPrecision(2)} in layer 1, ${last.toPrecision(2)} in layer 5`,
    detailOutside: (frac: number) => `${Math.round(frac * 100)}% of layer 5 lies beyond 1, outside the plot`,
    lessonSigmoid: (std1: string, std001: string, xavier: string) => `sigmoid: std 1 ${std1}, std 0.01 ${std001}, Xavier ${xavier}. Saturated units have gradients near 0 (vanishing gradient); values all alike mean the layers could as well be one unit (limited expressiveness); Xavier keeps the spread.`,
    lessonTanh: (xavier: string) => `tanh with Xavier: ${xavier}.`,
    lessonRelu: (std001: string, xavier: string, he: string) => `ReLU: std 0.01 ${std001}, Xavier ${xavier}, He ${he}. He's sqrt(2/n) makes up for ReLU zeroing half of the inputs.`,
    tableHeading: 'Standard deviation of each layer\'s activations',
    tableColumns: ['setting', 'layer 1', 'layer 2', 'layer 3', 'layer 4', 'layer 5', 'observation'],
    figuresHeading: (act: string) => `${act}`,
    thresholds: 'Thresholds: a layer is saturated when more than 30% of its values lie within 0.02 of the ends (the std 1 runs have 57-82%, all others at most 10%); collapsed when more than 80% lie within 0.05 of the centre (std 0.01: 95-100%, others at most 39%); for ReLU the std of layer 5 against layer 1 tells growth (more than 2x), shrinking (below 0.5x) or collapse (below 0.05x).',
  },

  cli: {
    root: 'deep learning from scratch over OpenBLAS: train networks and run the course\'s exercises',
    lang: 'language of messages and reports: en or ja',
    help: 'display help for command',
    helpTitles: {} as Record<string, string>,
    sep: ' ',
    defaultValue: (v: string) => `(default: ${v})`,
    choices: (v: string) => `(choices: ${v})`,
    train: {
      description: 'train a network on MNIST-like data, save it and write a report with its learning curves',
      net: 'network', epochs: 'passes over the training data', batchSize: 'samples per training step', optimizer: 'optimizer',
      lr: "learning rate (default: the optimizer's own, 0.001 for adam, 0.01 for the others)",
      seed: 'seed of weights, shuffling and dropout',
      data: 'folder with the four IDX files (MNIST, Fashion-MNIST, KMNIST); default: the built-in 8,000/2,000 digits',
      out: 'run folder (default ./runs/train-<timestamp>)', maxIterations: 'stop after this many steps in all',
      evalSamples: 'samples of each set for the accuracy after each epoch (the final test accuracy uses all)',
      augment: 'add this many copies of each training image shifted by up to 2 pixels (0: none)',
      lrDrop: 'train the last n epochs at a tenth of the learning rate (0: never)',
      builtin: 'the built-in digits',
      samples: (train: number, augment: number, test: number) => `${train} train${augment ? ` + ${augment} shifted copies each` : ''}, ${test} test`,
      start: (net: string, data: string, samples: string, opt: string, lr: number, drop: string, batch: number, iterations: number, epochs: string, seed: number) =>
        `training ${net} on ${data} (${samples}): ${opt} lr ${lr}${drop}, batch ${batch}, ${iterations} iterations (${epochs} epochs), seed ${seed}`,
      drop: (lr: number, at: number) => ` (${lr} from iteration ${at})`,
      done: (stopped: boolean, iterations: number, seconds: number) => `${stopped ? 'stopped' : 'done'} after ${iterations} iterations in ${seconds.toFixed(1)} s`,
      model: (file: string) => `model: ${file}`,
      report: (file: string) => `report: ${file}`,
      testAccuracy: (acc: number) => `test accuracy: ${acc.toFixed(4)}`,
    },
    evaluate: {
      description: 'measure the accuracy of a model saved by `blasnet train`',
      model: 'model file (model.safetensors of a train run)', data: 'folder with the four IDX files; default: the built-in digits',
      train: 'also measure the accuracy on the training data', batchSize: 'samples per forward pass',
      noFile: (f: string) => `--model ${f}: no such file`,
      modelLine: (file: string, kind: string) => `model: ${file} (${kind})`,
      dataLine: (d: string) => `data: ${d}`,
      builtin: 'built-in digits',
      trainAcc: (acc: number, n: number) => `train accuracy: ${acc.toFixed(4)} (${n} samples)`,
      testAcc: (acc: number, n: number, s: number) => `test accuracy: ${acc.toFixed(4)} (${n} samples, ${s.toFixed(1)} s)`,
    },
    gradcheck: {
      description: 'compare backpropagation with numerical gradients for every layer kind and network; exit code 1 above the threshold',
      threshold: 'largest relative error accepted', seed: 'seed of the random weights and inputs',
      attempts: 'random draws per check when a draw lands near a ReLU or max-pool kink',
    },
    experiment: {
      description: 'run one of the course\'s exercises (or all of them) and write its charts and report',
      name: 'exercise',
      iterations: 'training steps per configuration (vanishing-gradient 2000, optimizers 1000, overfitting 1000, convnet 500)',
      batchSize: 'samples per training step (100)', lr: 'learning rate of the exercise\'s base optimizer (not with all)',
      evalEvery: 'measure accuracy every n iterations (10; convnet 50)', evalSamples: 'samples of each set per measurement (2000; convnet 1000)',
      seed: 'seed set before each configuration', data: 'folder with the four IDX files; default: the built-in digits',
      out: 'run folder (default ./runs/<name>-<timestamp>)', noSweep: 'vanishing-gradient: skip the sweep of hidden sizes and learning rates',
      lrWithAll: '--lr means a different optimizer in each exercise; give it with one exercise, not with all',
    },
    outNotFolder: (o: string) => `--out ${o} exists and is not a folder`,
    outNotEmpty: (o: string) => `--out ${o} is not empty; runs never write into an earlier run's folder`,
    noDataFolder: (d: string) => `--data ${d}: no such folder`,
    interruptedAgain: 'interrupted again: exiting without writing more',
    interrupted: 'interrupted: finishing the current step and writing what was done (Ctrl-C again to quit at once)',
    progressLine: (epoch: number, it: number, total: number, loss: string, tr: string, te: string, secs: number, eta: number) =>
      `epoch ${epoch}  iter ${it}/${total}  loss ${loss}  train acc ${tr}  test acc ${te}  ${secs.toFixed(1)}s` + (Number.isFinite(eta) ? `, ETA ${eta.toFixed(0)}s` : ''),
    error: 'error',
    usageHint: (cmd: string) => `Run '${cmd} --help' for details.`,
  },

  report: {
    ranIn: (name: string, file: string) => `${name}: report ${file}`,
    doneIn: (stopped: boolean, seconds: number, dir: string) => `${stopped ? 'stopped' : 'done'} in ${seconds.toFixed(1)} s; run folder ${dir}`,
    progress: (i: number, n: number, label: string, obs: string) => `[${i}/${n}] ${label}: ${obs}`,
    configurations: (name: string, n: number, iterations: number) => `${name}: ${n} configurations, ${iterations} iterations each`,
  },
};

export type Messages = typeof en;
