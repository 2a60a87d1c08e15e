// SPDX-License-Identifier: MIT
// The course's ch06/optimizer_compare_mnist.py with blasnet: SGD, Momentum, AdaGrad and Adam on
// a 5-layer MultiLayerNet, mini-batches drawn with choice() as the course's batch_mask, and the
// smoothed training loss of each plotted as the course does.
//   ITERATIONS=2000 node examples/course/ch06_optimizer_compare_mnist.mjs
// Writes optimizer_compare_mnist.png into OUT (default: the current folder).
import * as path from 'path';
import { AdaGrad, Adam, choice, loadMnist, Momentum, MultiLayerNet, setSeed, SGD, take } from 'blasnet';
import { lineChart, savePng, smoothCurve } from 'blasnet/plot';

const out = process.env.OUT ?? '.';
setSeed(Number(process.env.SEED ?? 1));

// 0:MNISTデータの読み込み (the built-in digits; pass { dir } for the full MNIST files)
const { xTrain, tTrain } = loadMnist({ normalize: true });
const trainSize = xTrain.shape[0];
const batchSize = 128;
const maxIterations = Number(process.env.ITERATIONS ?? 2000);

// 1:実験の設定
const optimizers = { SGD: new SGD({ lr: 0.01 }), Momentum: new Momentum({ lr: 0.01 }), AdaGrad: new AdaGrad({ lr: 0.01 }), Adam: new Adam({ lr: 0.001 }) };
const networks = {};
const trainLoss = {};
for (const key of Object.keys(optimizers)) {
  networks[key] = new MultiLayerNet({ inputSize: 784, hiddenSizeList: [100, 100, 100, 100], outputSize: 10 });
  trainLoss[key] = [];
}

// 2:訓練の開始
for (let i = 0; i < maxIterations; i++) {
  const batchMask = choice(trainSize, batchSize);   // np.random.choice(train_size, batch_size)
  const xBatch = xTrain.take(batchMask);            // x_train[batch_mask]
  const tBatch = take(tTrain, batchMask);           // t_train[batch_mask]
  for (const key of Object.keys(optimizers)) {
    const grads = networks[key].gradient(xBatch, tBatch);
    optimizers[key].update(networks[key].params, grads);
    trainLoss[key].push(networks[key].loss(xBatch, tBatch));
  }
  if (i % 100 === 0) {
    console.log(`===========iteration:${i}===========`);
    for (const key of Object.keys(optimizers)) console.log(`${key}:${networks[key].loss(xBatch, tBatch)}`);
  }
}

// 3.グラフの描画: plt.plot(x, smooth_curve(train_loss[key])); plt.ylim(0, 1)
const svg = await lineChart(Object.keys(optimizers).map((key) => ({ name: key, y: smoothCurve(trainLoss[key]) })),
  { xLabel: 'iterations', yLabel: 'loss', yLim: [0, 1] });
console.log(`wrote ${savePng(svg, path.join(out, 'optimizer_compare_mnist.png'))}`);
