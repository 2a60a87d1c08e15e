// SPDX-License-Identifier: MIT
// The safetensors file format: an 8-byte little-endian header length, a JSON
// header { name: { dtype, shape, data_offsets }, __metadata__: { str: str } },
// then the raw little-endian tensor bytes. Written atomically (temporary file,
// fsync, rename), so a crash mid-save never replaces a good file with a broken one.
import * as fs from 'fs';
import * as path from 'path';
import { Tensor } from '../core/tensor';

export interface SafetensorsFile {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

const MAX_HEADER = 100 * 1024 * 1024;

/** Writes float32 tensors and string metadata to `file`, atomically. */
export function writeSafetensors(file: string, tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): void {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    const bytes = t.data.length * 4;
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so that the data starts 8-byte aligned.
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));

  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, prefix);
    fs.writeSync(fd, headerBytes);
    const little = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
    for (const name of names) {
      const t = tensors[name];
      let bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      if (!little) {
        const dv = new DataView(new ArrayBuffer(t.data.byteLength));
        t.data.forEach((v, i) => dv.setFloat32(i * 4, v, true));
        bytes = new Uint8Array(dv.buffer);
      }
      fs.writeSync(fd, bytes);
    }
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    // e.g. the target is a directory: the temporary file must not stay behind.
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** Reads a safetensors file of F32 tensors; a truncated or foreign file gets an Error naming it. */
export function readSafetensors(file: string): SafetensorsFile {
  const buf = fs.readFileSync(file);
  const bad = (why: string): Error => new Error(`${file}: not a valid safetensors file: ${why}`);
  if (buf.length < 8) throw bad(`only ${buf.length} bytes, shorter than the 8-byte header length`);
  const n = buf.readBigUInt64LE(0);
  if (n === 0n || n > BigInt(MAX_HEADER) || n > BigInt(buf.length - 8)) {
    throw bad(`header length ${n} does not fit a file of ${buf.length} bytes (truncated or another format)`);
  }
  const headerLen = Number(n);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8'));
  } catch (err) {
    throw bad(`its header is not JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad('its header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = buf.length - dataStart;
  const tensors: Record<string, Tensor> = {};
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e === null || typeof e !== 'object') throw bad(`entry '${name}' is not an object`);
    if (e.dtype !== 'F32') throw bad(`tensor '${name}' has dtype ${JSON.stringify(e.dtype)}; blasnet reads F32 only`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) throw bad(`tensor '${name}' has a bad shape`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0) || offs[0] > offs[1]) {
      throw bad(`tensor '${name}' has bad data_offsets`);
    }
    const count = (e.shape as number[]).reduce((a, d) => a * d, 1);
    if (offs[1] - offs[0] !== count * 4) throw bad(`tensor '${name}' has ${offs[1] - offs[0]} bytes for shape [${e.shape}]`);
    if (offs[1] > dataLen) throw bad(`tensor '${name}' ends at byte ${offs[1]} but the data section has ${dataLen} (truncated)`);
    const data = new Float32Array(count);
    const view = new DataView(buf.buffer, buf.byteOffset + dataStart + offs[0], count * 4);
    for (let i = 0; i < count; i++) data[i] = view.getFloat32(i * 4, true);
    tensors[name] = new Tensor(data, (e.shape as number[]).length ? e.shape as number[] : [1]);
  }
  return { tensors, metadata };
}

/** One tensor as a header describes it; `dataOffsets` count from the start of the data section. */
export interface SafetensorsTensorInfo {
  dtype: string;
  shape: number[];
  dataOffsets: [number, number];
}

/** A header read without the tensor data. */
export interface SafetensorsHeader {
  /** The path it was read from. */
  file: string;
  /** Every tensor in header order. */
  tensors: Map<string, SafetensorsTensorInfo>;
  /** The `__metadata__` strings ({} when absent). */
  metadata: Record<string, string>;
}

const DTYPE_BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/**
 * Reads only the header of a safetensors file (the 8-byte length and the JSON), never the
 * tensor data, and checks that each tensor's bytes fit its shape and the file: a caller can
 * compare names and shapes with what it expects before allocating anything.
 * @example
 *   const { tensors, metadata } = readSafetensorsHeader('model.safetensors');
 *   tensors.get('W1'); // { dtype: 'F32', shape: [784, 100], dataOffsets: [0, 313600] }
 */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  const bad = (why: string): Error => new Error(`${file}: not a valid safetensors file: ${why}`);
  const fd = fs.openSync(file, 'r');
  let header: Record<string, unknown>;
  let dataLen: number;
  try {
    const size = fs.fstatSync(fd).size;
    if (size < 8) throw bad(`only ${size} bytes, shorter than the 8-byte header length`);
    const prefix = Buffer.alloc(8);
    fs.readSync(fd, prefix, 0, 8, 0);
    const n = prefix.readBigUInt64LE(0);
    if (n === 0n || n > BigInt(MAX_HEADER) || n > BigInt(size - 8)) {
      throw bad(`header length ${n} does not fit a file of ${size} bytes (truncated or another format)`);
    }
    const bytes = Buffer.alloc(Number(n));
    if (fs.readSync(fd, bytes, 0, bytes.length, 8) !== bytes.length) throw bad('the header could not be read whole');
    try {
      header = JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      throw bad(`its header is not JSON (${(err as Error).message})`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad('its header is not a JSON object');
    dataLen = size - 8 - bytes.length;
  } finally {
    fs.closeSync(fd);
  }
  const tensors = new Map<string, SafetensorsTensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)
        || !Object.values(entry as object).every((v) => typeof v === 'string')) throw bad('its __metadata__ is not an object of strings');
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e === null || typeof e !== 'object') throw bad(`entry '${name}' is not an object`);
    const width = typeof e.dtype === 'string' ? DTYPE_BYTES[e.dtype] : undefined;
    if (width === undefined) throw bad(`tensor '${name}' has dtype ${JSON.stringify(e.dtype)}`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(`tensor '${name}' has a bad shape`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0) || offs[0] > offs[1]) {
      throw bad(`tensor '${name}' has bad data_offsets`);
    }
    if (offs[1] > dataLen) throw bad(`tensor '${name}' ends at byte ${offs[1]} but the data section has ${dataLen} (truncated)`);
    let count = 1;
    for (const d of e.shape as number[]) count = Math.min(count * d, Number.MAX_SAFE_INTEGER);
    if (offs[1] - offs[0] !== count * width) throw bad(`tensor '${name}' has ${offs[1] - offs[0]} bytes for shape [${e.shape}] of ${e.dtype}`);
    tensors.set(name, { dtype: e.dtype as string, shape: [...(e.shape as number[])], dataOffsets: [offs[0], offs[1]] });
  }
  return { file, tensors, metadata };
}
