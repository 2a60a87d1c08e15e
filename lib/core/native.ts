// SPDX-License-Identifier: MIT
// The one file that loads the compiled addon and types each native function.
// The kernels trust nothing: every call is checked again in C++. Callers in
// lib/ go through kernels.ts, which checks first and says what was wrong in
// the caller's terms.
import * as fs from 'fs';
import * as path from 'path';
import { isMainThread } from 'worker_threads';
import { CoreDecision, decideCore, readCpuInfo } from './cpu';
import { packageRoot } from './paths';

type F32 = Float32Array;

/** Raw functions of build/Release/blasnet.node (see native/addon.cc). */
export interface NativeAddon {
  sgemm(transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: F32, B: F32, beta: number, C: F32): void;
  affineForward(x: F32, W: F32, b: F32, out: F32, N: number, I: number, O: number): void;
  affineBackward(dout: F32, x: F32, W: F32, dx: F32 | null, dW: F32, db: F32,
    N: number, I: number, O: number): void;
  addRowVector(Y: F32, b: F32, rows: number, cols: number): void;
  columnSums(X: F32, rows: number, cols: number, out: F32): void;
  im2col(x: F32, col: F32, N: number, C: number, H: number, W: number, FH: number, FW: number,
    stride: number, pad: number): void;
  col2im(col: F32, dx: F32, N: number, C: number, H: number, W: number, FH: number, FW: number,
    stride: number, pad: number): void;
  convForward(x: F32, W: F32, b: F32, col: F32 | null, out: F32, FN: number, N: number, C: number,
    H: number, Wd: number, FH: number, FW: number, stride: number, pad: number, relu?: boolean): void;
  convBackward(dout: F32, x: F32 | null, col: F32 | null, W: F32, dW: F32, db: F32, dcol: F32 | null, dx: F32 | null,
    FN: number, N: number, C: number, H: number, Wd: number, FH: number, FW: number,
    stride: number, pad: number, reluOut?: F32 | null): void;
  convPoolForward(x: F32, W: F32, b: F32, pooled: F32, argmax: Int32Array, FN: number, N: number, C: number,
    H: number, Wd: number, FH: number, FW: number, stride: number, pad: number,
    PH: number, PW: number, poolStride: number, poolPad: number, relu: boolean): void;
  convPoolBackward(dpooled: F32, x: F32, W: F32, dW: F32, db: F32, dx: F32 | null, pooled: F32 | null,
    argmax: Int32Array, FN: number, N: number, C: number, H: number, Wd: number, FH: number, FW: number,
    stride: number, pad: number, PH: number, PW: number, poolStride: number, poolPad: number): void;
  maxPoolForward(x: F32, out: F32, argmax: Int32Array, N: number, C: number, H: number,
    W: number, PH: number, PW: number, stride: number, pad: number): void;
  maxPoolBackward(dout: F32, argmax: Int32Array, dx: F32, N: number, C: number, H: number,
    W: number, PH: number, PW: number, stride: number, pad: number): void;
  avgPoolForward(x: F32, out: F32, N: number, C: number, H: number, W: number, PH: number,
    PW: number, stride: number, pad: number): void;
  avgPoolBackward(dout: F32, dx: F32, N: number, C: number, H: number, W: number, PH: number,
    PW: number, stride: number, pad: number): void;
  reluForward(x: F32, out: F32): void;
  reluBackward(x: F32, dout: F32, dx: F32): void;
  sigmoidForward(x: F32, out: F32): void;
  sigmoidBackward(out: F32, dout: F32, dx: F32): void;
  tanhForward(x: F32, out: F32): void;
  tanhBackward(out: F32, dout: F32, dx: F32): void;
  optimizerStep(kind: number, p: F32, g: F32, s1: F32 | null, s2: F32 | null,
    h0: number, h1: number, h2: number, h3: number): void;
  batchNormForward(x: F32, gamma: F32, beta: F32, runMean: F32, runVar: F32, xc: F32, xn: F32,
    std: F32, out: F32, N: number, D: number, momentum: number, eps: number, train: boolean): void;
  batchNormBackward(dout: F32, gamma: F32, xc: F32, xn: F32, std: F32, dgamma: F32, dbeta: F32,
    dx: F32, N: number, D: number, train: boolean): void;
  dropoutForward(x: F32, out: F32, mask: F32, ratio: number, keep: number, seedHigh: number, seedLow: number): void;
  multiply(a: F32, b: F32, out: F32): void;
  scale(x: F32, out: F32, s: number): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  blasInfo(): {
    library: string; config: string; corename: string; numThreads: number;
    openblasThreads: number; parallel: number;
  };
}

function load(): NativeAddon {
  const root = packageRoot();
  const candidates = [
    process.env.BLASNET_ADDON,
    path.join(root, 'build', 'Release', 'blasnet.node'),
    path.join(root, 'build', 'Debug', 'blasnet.node'),
  ].filter((p): p is string => !!p);
  const tried: string[] = [];
  for (const p of candidates) {
    if (!fs.existsSync(p)) {
      tried.push(`${p}: not found`);
      continue;
    }
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return require(p) as NativeAddon;
    } catch (err) {
      tried.push(`${p}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(
    'blasnet: the native addon could not be loaded.\n' +
      `Tried:\n  ${tried.join('\n  ')}\n` +
      'To fix: install the system parts (apt-get install -y libopenblas-dev cmake g++), then ' +
      `rebuild in ${root} with \`npm run build:native\` (cmake-js) or \`npm run build:gyp\` ` +
      '(node-gyp). Set BLASNET_ADDON to load a blasnet.node from elsewhere.',
  );
}

/**
 * Picks OpenBLAS's kernels before it loads (see cpu.ts). OpenBLAS reads OPENBLAS_CORETYPE once,
 * when the library is loaded; on the main thread process.env writes through to the process's
 * environment, so setting it here reaches it. A choice of blasnet's is marked in
 * BLASNET_OPENBLAS_CORE_CHOSEN, so that worker threads and child processes, which inherit both
 * variables, still report it as blasnet's and not the user's.
 */
function chooseCore(): CoreDecision & { applied: boolean } {
  const env = process.env;
  if (env.OPENBLAS_CORETYPE && env.BLASNET_OPENBLAS_CORE_CHOSEN === env.OPENBLAS_CORETYPE) {
    const d = decideCore(readCpuInfo(), { ...env, OPENBLAS_CORETYPE: undefined });
    return { ...d, set: null, applied: true };
  }
  const d = decideCore(readCpuInfo(), env);
  if (d.set === null) return { ...d, applied: true };
  if (!isMainThread) {
    // A worker's process.env is its own copy, not the process's environment.
    return { ...d, applied: false, note: `${d.note}; not applied: blasnet was first loaded in a worker thread (load it in the main thread first, or set OPENBLAS_CORETYPE=${d.set})` };
  }
  env.OPENBLAS_CORETYPE = d.set;
  env.BLASNET_OPENBLAS_CORE_CHOSEN = d.set;
  return { ...d, applied: true };
}

/** The OpenBLAS core decision taken when the addon was loaded. */
export const coreDecision = chooseCore();

/** The loaded addon (loaded once, when blasnet is first required). */
export const addon: NativeAddon = load();
