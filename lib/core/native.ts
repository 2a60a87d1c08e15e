// SPDX-License-Identifier: MIT
// The one file that loads the compiled addon. Every argument of every call is checked in C++
// (types, lengths, overlaps, sizes: the rules of contract.ts); what is policy rather than
// memory safety (hyper-parameter ranges, layer shapes that fit) the layers and optimizers check.
import * as fs from 'fs';
import * as path from 'path';
import { isMainThread } from 'worker_threads';
import { CoreDecision, decideCore, readCpuInfo } from './cpu';
import type { NativeAddon } from './native-api';
import { packageRoot } from './paths';

// The functions and their types are declared once, in contract.ts; native-api.ts (generated
// from it) exports each of them, typed and documented.
export type { NativeAddon };

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
      // Frozen: `kernels` hands these functions to users, and the library calls the same ones.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return Object.freeze(require(p)) as NativeAddon;
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
