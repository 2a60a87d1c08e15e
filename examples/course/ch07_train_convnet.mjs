// SPDX-License-Identifier: MIT
// The course's ch07/train_convnet.py and visualize_filter.py with blasnet: SimpleConvNet trained
// by the Trainer with Adam, its parameters saved, the accuracy per epoch plotted, and the first
// layer's filters shown before and after training.
//   EPOCHS=20 node examples/course/ch07_train_convnet.mjs
// Writes train_convnet.png, filters_before.png, filters_after.png, params.safetensors into OUT.
import * as path from 'path';
import { argmax, loadMnist, setSeed, SimpleConvNet, Trainer } from 'blasnet';
import { imageGrid, lineChart, savePng } from 'blasnet/plot';

const out = process.env.OUT ?? '.';
setSeed(Number(process.env.SEED ?? 1));

// データの読み込み
const { xTrain, tTrain, xTest, tTest } = loadMnist({ flatten: false });
const maxEpochs = Number(process.env.EPOCHS ?? 20);

const network = new SimpleConvNet({
  inputDim: [1, 28, 28], convParam: { filterNum: 30, filterSize: 5, pad: 0, stride: 1 },
  hiddenSize: 100, outputSize: 10, weightInitStd: 0.01,
});
const before = network.params.W1.clone();

const trainer = new Trainer(network, xTrain, tTrain, xTest, tTest, {
  epochs: maxEpochs, miniBatchSize: 100, optimizer: 'adam', optimizerParam: { lr: 0.001 },
  evaluateSampleNumPerEpoch: 1000, verbose: true,
  ...(process.env.MAX_ITERATIONS ? { maxIterations: Number(process.env.MAX_ITERATIONS) } : {}),
});
const history = trainer.train();
console.log(`=============== Final Test Accuracy ===============\ntest acc:${network.accuracy(xTest, tTest)}`);

// パラメータの保存 (the course pickles params.pkl; blasnet writes safetensors)
network.saveParams(path.join(out, 'params.safetensors'));
console.log('Saved Network Parameters!');

// グラフの描画: train and test accuracy per epoch, plt.ylim(0, 1.0)
const epochs = history.trainAccList.map((_, i) => i + 1);
const svg = await lineChart([{ name: 'train', x: epochs, y: history.trainAccList }, { name: 'test', x: epochs, y: history.testAccList }],
  { xLabel: 'epochs', yLabel: 'accuracy', yLim: [0, 1] });
savePng(svg, path.join(out, 'train_convnet.png'));

// visualize_filter.py: filter_show(network.params['W1']) before and after learning
savePng(imageGrid(before), path.join(out, 'filters_before.png'));
savePng(imageGrid(network.params.W1), path.join(out, 'filters_after.png'));

// The first 20 test digits with the network's answers (wrong ones in red, with the label).
const x20 = xTest.rows(0, 20);
savePng(imageGrid(x20, { predicted: argmax(network.predict(x20)), labels: tTest.subarray(0, 20), columns: 10 }), path.join(out, 'predictions.png'));
console.log(`wrote the figures into ${out}`);
