// SPDX-License-Identifier: MIT
// The course's ch06/weight_init_activation_histogram.py with blasnet: the activations of
// five hidden layers for one weight initialisation, as a figure of five histograms.
//   node examples/course/ch06_weight_init_activation_histogram.mjs [std|xavier|he] [sigmoid|relu|tanh]
// Writes weight_init_activation_histogram.png into OUT (default: the current folder).
import * as path from 'path';
import { Affine, randn, Relu, setSeed, Sigmoid, Tanh, Tensor } from 'blasnet';
import { histogram, savePng } from 'blasnet/plot';

const init = process.argv[2] ?? 'std';        // w = np.random.randn(node_num, node_num) * 1
const act = process.argv[3] ?? 'sigmoid';
const out = process.env.OUT ?? '.';

setSeed(Number(process.env.SEED ?? 1));       // the course leaves the seed open; a seed makes the figure repeat
const inputData = randn(1000, 100);           // input_data = np.random.randn(1000, 100)
const nodeNum = 100;                          // 各隠れ層のノード（ニューロン）の数
const hiddenLayerSize = 5;                    // 隠れ層が5層
const activations = [];                       // ここにアクティベーションの結果を格納する

let x = inputData;
for (let i = 0; i < hiddenLayerSize; i++) {
  const std = init === 'xavier' ? Math.sqrt(1 / nodeNum) : init === 'he' ? Math.sqrt(2 / nodeNum) : init === 'std' ? 1 : Number(init);
  const w = randn([nodeNum, nodeNum], std);                       // np.random.randn(node_num, node_num) * std
  const a = new Affine(w, Tensor.zeros([nodeNum])).forward(x);    // a = np.dot(x, w)
  const f = act === 'relu' ? new Relu() : act === 'tanh' ? new Tanh() : new Sigmoid();
  const z = f.forward(a).clone();                                 // z = sigmoid(a); clone: layers reuse their buffers
  activations.push(z);
  x = z;
}

// plt.subplot(1, 5, i+1); plt.title(str(i+1) + "-layer"); plt.hist(a.flatten(), 30, range=(0,1))
const svg = await histogram(activations.map((a, i) => ({ title: `${i + 1}-layer`, values: a })),
  { bins: 30, range: act === 'tanh' ? [-1, 1] : [0, 1], title: `${act}, ${init}` });
const file = savePng(svg, path.join(out, 'weight_init_activation_histogram.png'));
console.log(`wrote ${file}`);
for (const [i, a] of activations.entries()) {
  let s = 0, q = 0;
  for (const v of a.data) { s += v; q += v * v; }
  const mean = s / a.size;
  console.log(`${i + 1}-layer: mean ${mean.toFixed(4)}, std ${Math.sqrt(q / a.size - mean * mean).toFixed(4)}`);
}
