// SPDX-License-Identifier: MIT
// Runs an ONNX model in onnxruntime-node, outside jest (whose module sandbox gives typed
// arrays of another realm than the native binding's):
//   node run.js MODEL INPUT.f32 DIMS OUT_PREFIX [OPTIMIZATION]
// reads little-endian float32 input of shape DIMS (comma-separated), feeds it as "input",
// writes each output as OUT_PREFIX.<name>.f32 and prints a JSON line with the session's
// input and output names and each output's dims. OPTIMIZATION is the graph optimisation
// level, 'all' (the default) or 'disabled'.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function run() {
  const [model, inputFile, dimsArg, prefix, optimization = 'all'] = process.argv.slice(2);
  const dims = dimsArg.split(',').map(Number);
  const buf = fs.readFileSync(inputFile);
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: optimization });
  const out = await session.run({ input: new ort.Tensor('float32', data, dims) });
  const outputs = {};
  for (const [name, t] of Object.entries(out)) {
    fs.writeFileSync(`${prefix}.${name}.f32`, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    outputs[name] = t.dims;
  }
  process.stdout.write(JSON.stringify({ inputNames: session.inputNames, outputNames: session.outputNames, outputs }) + '\n');
  await session.release();
}

run().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
