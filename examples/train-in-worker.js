// SPDX-License-Identifier: MIT
// Training in a worker thread: the main thread stays free (a server keeps answering, a UI keeps
// drawing) and receives progress messages; it can ask the worker to stop, and gets the trained
// model back as a file. Run after `npm run build`:
//   node examples/train-in-worker.js [iterations]
'use strict';
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');
const os = require('os');
const path = require('path');

if (isMainThread) {
  const iterations = Number(process.argv[2] ?? 300);
  const model = path.join(os.tmpdir(), `blasnet-worker-${process.pid}.safetensors`);
  const worker = new Worker(__filename, { workerData: { iterations, model } });
  // The main thread's event loop is free while the worker trains: this timer keeps ticking.
  let ticks = 0;
  const timer = setInterval(() => { ticks++; }, 10);
  worker.on('message', (m) => {
    if (m.type === 'iteration') console.log(`iteration ${m.iteration}/${m.maxIterations}  loss ${m.loss.toFixed(4)}`);
    if (m.type === 'evaluate') console.log(`evaluated at iteration ${m.iteration}: train ${m.trainAcc.toFixed(3)}, test ${m.testAcc.toFixed(3)}`);
    if (m.type === 'done') {
      clearInterval(timer);
      const { loadNetwork, loadMnist } = require('blasnet');
      const net = loadNetwork(m.model);
      require('fs').rmSync(m.model, { force: true });
      const { xTest, tTest } = loadMnist({ flatten: false });
      console.log(`done: ${m.iterations} iterations in the worker; the main thread's 10 ms timer ticked ${ticks} times meanwhile`);
      console.log(`test accuracy of the model sent back: ${net.accuracy(xTest, tTest).toFixed(4)}`);
    }
  });
  worker.on('error', (err) => { clearInterval(timer); console.error(err); process.exitCode = 1; });
  // Ctrl-C asks the worker to stop after its current step; it still sends the model back.
  process.once('SIGINT', () => worker.postMessage({ type: 'stop' }));
  worker.on('exit', () => process.removeAllListeners('SIGINT'));
} else {
  const { SimpleConvNet, Trainer, loadMnist, setSeed } = require('blasnet');
  setSeed(1);
  const { xTrain, tTrain, xTest, tTest } = loadMnist({ flatten: false });
  const net = new SimpleConvNet({ weightInitStd: 'he' });
  const trainer = new Trainer(net, xTrain, tTrain, xTest, tTest, {
    optimizer: 'adam', optimizerParam: { lr: 0.001 }, maxIterations: workerData.iterations,
    evalEvery: 100, evaluatePerEpoch: false, evaluateSampleNumPerEpoch: 500,
    onIteration: (i) => {
      if ((i.iteration + 1) % 50 === 0) parentPort.postMessage({ type: 'iteration', iteration: i.iteration + 1, maxIterations: i.maxIterations, loss: i.loss });
    },
    onEvaluate: (e) => parentPort.postMessage({ type: 'evaluate', ...e }),
  });
  // run() pauses between steps, so this message handler runs while training.
  parentPort.on('message', (m) => { if (m.type === 'stop') trainer.stop(); });
  trainer.run().then(() => {
    net.saveParams(workerData.model);
    parentPort.postMessage({ type: 'done', iterations: trainer.iterationsDone, model: workerData.model });
    parentPort.close();
  });
}
