// SPDX-License-Identifier: MIT
// Checkpoint files: everything a training run needs to continue exactly where it was, in one
// safetensors file written by the one atomic writer (a crash leaves the previous checkpoint or
// none, never half of one; a killed run's temporary files are cleaned by removeStaleTemps). Tensors: the network's state (parameters and BatchNorm running statistics) as
// `network.<name>`, the optimizer's slots as `optimizer.<slot>.<name>`, the moving average of
// the parameters (weight averaging) as `average.<name>`, the shuffled order of
// the current epoch as `trainer.order`. Metadata: the network's config (as saveParams writes
// it), and the trainer's state as JSON (iteration, history, learning rate, random stream).
import * as fs from 'fs';
import { describe } from '../core/errors';
import { RandomState } from '../core/random';
import { Tensor } from '../core/tensor';
import { fileError } from '../io/files';
import { readSafetensors, writeSafetensors } from '../io/safetensors';
import type { OptimizerName, OptimizerState } from './optimizers';

export const CHECKPOINT_FORMAT = 'blasnet-checkpoint';
const VERSION = '1';
/** Sample indices are stored as float32, exact up to 2^24. */
const MAX_ORDER = 2 ** 24;

/** The trainer's own state, stored as JSON in the checkpoint's metadata. */
export interface TrainerCheckpointState {
  /** Training steps done. */
  iteration: number;
  /** The optimizer's learning rate when training started (schedules scale it). */
  baseLr: number | null;
  /** The optimizer's kind, step count and current learning rate (its slots are tensors). */
  optimizer: { name: OptimizerName; iter: number; lr: number; slotNames: string[] } | null;
  random: RandomState;
  history: unknown;
  /** What must match when resuming: sizes of the run and fingerprints of its data. */
  run: {
    batchSize: number;
    iterPerEpoch: number;
    maxIterations: number;
    trainSamples: number;
    sampleShape: number[];
    dataHash: string;
    /** The run's augmentShifts and averageWeights (absent in checkpoints of runs without them). */
    augmentShifts?: { copies: number; maxShift: number } | null;
    averageWeights?: { decay: number; start: number } | null;
  };
}

export interface CheckpointContents {
  /** The network's config, as saveParams stores it. */
  networkConfig: Record<string, unknown>;
  /** The network's stateTensors(). */
  network: Record<string, Tensor>;
  /** The optimizer's state (null for an optimizer that keeps none we can save). */
  optimizer: OptimizerState | null;
  trainer: TrainerCheckpointState;
  /** Shuffled sample order of the current epoch. */
  order: Int32Array;
  /** The moving average of each parameter (weight averaging), or null. */
  average: Record<string, Tensor> | null;
  /** The caller's own string metadata (e.g. the command line's settings). */
  metadata: Record<string, string>;
}

/** Bytes a checkpoint of these parts takes on disk, within a few hundred bytes plus the JSON. */
export function checkpointSize(network: Record<string, Tensor>, optimizerSlots: number, trainSamples: number, maxIterations: number): number {
  let floats = 0;
  let names = 0;
  for (const [name, t] of Object.entries(network)) {
    floats += t.data.length * (1 + optimizerSlots);
    names += (name.length + 80) * (1 + optimizerSlots);
  }
  // The per-step losses and evaluations go into the JSON metadata (about 25 bytes per step).
  return 4 * (floats + trainSamples) + names + 25 * maxIterations + 4096;
}

/**
 * Checks that `dir` has room for `bytes` more, before a long run discovers a full disk at its
 * first save. Throws an Error naming the folder, what is needed and what is free.
 */
export function ensureFreeSpace(dir: string, bytes: number, what: string): void {
  let free: number;
  try {
    const st = fs.statfsSync(dir);
    free = Number(st.bavail) * Number(st.bsize);
  } catch (err) {
    throw fileError(err, dir, 'be checked for free space');
  }
  if (free < bytes) {
    const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;
    throw new Error(`${dir}: ${mb(free)} free, but ${what} needs about ${mb(bytes)}; free some space or choose another folder`);
  }
}

/** Writes a checkpoint atomically (writeSafetensors: temporary file, fsync, rename); errors name the file. */
export function writeCheckpoint(file: string, c: CheckpointContents): void {
  if (c.order.length > MAX_ORDER) {
    throw new RangeError(`writeCheckpoint: ${c.order.length} training samples; checkpoints hold at most ${MAX_ORDER}`);
  }
  const tensors: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(c.network)) tensors[`network.${name}`] = t;
  if (c.optimizer) {
    for (const [slot, perKey] of Object.entries(c.optimizer.slots)) {
      for (const [name, t] of Object.entries(perKey)) tensors[`optimizer.${slot}.${name}`] = t;
    }
  }
  for (const [name, t] of Object.entries(c.average ?? {})) tensors[`average.${name}`] = t;
  tensors['trainer.order'] = new Tensor(Float32Array.from(c.order), [c.order.length]);
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    version: VERSION,
    config: JSON.stringify(c.networkConfig),
    trainer: JSON.stringify(c.trainer),
    user: JSON.stringify(c.metadata),
  };
  writeSafetensors(file, tensors, metadata);
}

/** Reads a checkpoint written by writeCheckpoint; anything else is an Error naming the file. */
export function readCheckpoint(file: string): CheckpointContents {
  if (typeof file !== 'string' || file === '') throw new TypeError(`readCheckpoint: file must be a path, got ${describe(file)}`);
  // readSafetensors opens regular files only and names the file in every error.
  const { tensors, metadata } = readSafetensors(file);
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new Error(`${file}: not a blasnet checkpoint (format ${JSON.stringify(metadata.format ?? null)}; a model saved by saveParams is loaded with loadParams or loadNetwork)`);
  }
  if (metadata.version !== VERSION) throw new Error(`${file}: checkpoint version ${JSON.stringify(metadata.version)}; this blasnet reads version ${VERSION}`);
  const json = (key: string): unknown => {
    try {
      return JSON.parse(metadata[key] ?? '');
    } catch {
      throw new Error(`${file}: the checkpoint's '${key}' metadata is not valid JSON`);
    }
  };
  const trainer = json('trainer') as TrainerCheckpointState;
  const networkConfig = json('config') as Record<string, unknown>;
  const user = json('user') as Record<string, string>;
  if (!trainer || typeof trainer !== 'object' || !Number.isInteger(trainer.iteration) || trainer.iteration < 0 || !trainer.run || !trainer.random) {
    throw new Error(`${file}: the checkpoint's trainer state is incomplete`);
  }
  const network: Record<string, Tensor> = {};
  const slots: Record<string, Record<string, Tensor>> = {};
  let order: Int32Array | null = null;
  let average: Record<string, Tensor> | null = null;
  for (const [name, t] of Object.entries(tensors)) {
    if (name.startsWith('network.')) {
      network[name.slice('network.'.length)] = t;
    } else if (name.startsWith('average.')) {
      (average ??= {})[name.slice('average.'.length)] = t;
    } else if (name.startsWith('optimizer.')) {
      const rest = name.slice('optimizer.'.length);
      const dot = rest.indexOf('.');
      if (dot <= 0) throw new Error(`${file}: unexpected tensor '${name}' in the checkpoint`);
      (slots[rest.slice(0, dot)] ??= {})[rest.slice(dot + 1)] = t;
    } else if (name === 'trainer.order') {
      order = new Int32Array(t.data.length);
      for (let i = 0; i < order.length; i++) {
        const v = t.data[i];
        if (!Number.isInteger(v) || v < 0 || v >= order.length) throw new Error(`${file}: trainer.order holds ${v}, not a sample index`);
        order[i] = v;
      }
    } else {
      throw new Error(`${file}: unexpected tensor '${name}' in the checkpoint`);
    }
  }
  if (order === null) throw new Error(`${file}: the checkpoint has no trainer.order`);
  let optimizer: OptimizerState | null = null;
  if (trainer.optimizer) {
    // A slot with no parameter yet (before the first update) has no tensor in the file.
    for (const slot of trainer.optimizer.slotNames ?? []) slots[slot] ??= {};
    optimizer = { name: trainer.optimizer.name, iter: trainer.optimizer.iter, lr: trainer.optimizer.lr, slots };
  }
  return { networkConfig, network, optimizer, trainer, order, average, metadata: user ?? {} };
}
