// SPDX-License-Identifier: MIT
// What the ONNX tests share: onnxruntime-node from its own folder (test/onnx, installed
// apart because its install script fetches GPU libraries from outside the npm registry
// unless ONNXRUNTIME_NODE_INSTALL=skip), and a decoder of ONNX files built from the
// official schema by another project (onnxruntime-web ships it), independent of ours.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT } from './dist';

export const ORT_FOLDER = path.join(ROOT, 'test', 'onnx');
export const ORT_INSTALL = `(cd test/onnx && ONNXRUNTIME_NODE_INSTALL=skip npm ci)`;

/**
 * Whether test/onnx has onnxruntime-node installed. Under CI (CI set) a missing install is
 * an error, so the ONNX checks can never be skipped there without failing.
 */
export function haveOrt(suite: string): boolean {
  if (fs.existsSync(path.join(ORT_FOLDER, 'node_modules', 'onnxruntime-node', 'package.json'))) return true;
  const msg = `${suite}: onnxruntime-node is not installed in test/onnx; install it with ${ORT_INSTALL}`;
  if (process.env.CI) throw new Error(`${msg} (CI must run these tests)`);
  console.warn(`${msg}. Skipping the onnxruntime checks.`);
  return false;
}

export interface OrtResult {
  inputNames: string[];
  outputNames: string[];
  /** Each output's values and dims. */
  outputs: Record<string, { data: Float32Array; dims: number[] }>;
}

/**
 * Runs `model` on `x` (fed as "input") in onnxruntime-node, in a child process: inside jest
 * the runtime's typed arrays come from another realm and fail its own type checks. `optimization`
 * is onnxruntime's graph optimisation level ('all' is its default).
 */
export function runOrt(model: string, x: { data: Float32Array; shape: readonly number[] }, optimization: 'all' | 'disabled' = 'all'): OrtResult {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-ort-'));
  try {
    const input = path.join(dir, 'input.f32');
    fs.writeFileSync(input, Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength));
    const r = spawnSync(process.execPath, [path.join(ORT_FOLDER, 'run.js'), model, input, x.shape.join(','), path.join(dir, 'out'), optimization],
      { encoding: 'utf8', timeout: 120000 });
    if (r.status !== 0) throw new Error(`onnxruntime-node failed on ${model} (status ${r.status}): ${r.stderr || r.error}`);
    const head = JSON.parse(r.stdout) as { inputNames: string[]; outputNames: string[]; outputs: Record<string, number[]> };
    const outputs: OrtResult['outputs'] = {};
    for (const [name, dims] of Object.entries(head.outputs)) {
      const b = fs.readFileSync(path.join(dir, `out.${name}.f32`));
      outputs[name] = { data: new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)), dims };
    }
    return { inputNames: head.inputNames, outputNames: head.outputNames, outputs };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A decoded ModelProto, with 64-bit integers as numbers and bytes as Buffers. */
export interface DecodedModel {
  irVersion: number;
  producerName: string;
  opsetImport: Array<{ domain?: string; version: number }>;
  metadataProps: Array<{ key: string; value: string }>;
  graph: {
    node: Array<{ opType: string; input: string[]; output: string[]; attribute: Array<{ name: string; type: number; i?: number; f?: number; ints: number[] }> }>;
    initializer: Array<{ name: string; dims: number[]; dataType: number; rawData?: Buffer }>;
    input: Array<{ name: string; type: { tensorType: { elemType: number; shape: { dim: Array<{ dimValue?: number; dimParam?: string }> } } } }>;
    output: Array<{ name: string; type: { tensorType: { elemType: number; shape: { dim: Array<{ dimValue?: number; dimParam?: string }> } } } }>;
  };
}

/** Decodes an ONNX file with the schema generated from onnx.proto that onnxruntime-web ships. */
export function decodeOnnx(bytes: Uint8Array): DecodedModel {
  const file = path.join(ROOT, 'node_modules', 'onnxruntime-web', 'lib', 'onnxjs', 'ort-schema', 'protobuf', 'onnx.js');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { onnx } = require(file) as { onnx: { ModelProto: { decode(b: Uint8Array): unknown; toObject(m: unknown, o: object): unknown } } };
  const m = onnx.ModelProto.decode(bytes);
  return onnx.ModelProto.toObject(m, { longs: Number, bytes: Buffer, arrays: true, defaults: false }) as DecodedModel;
}
