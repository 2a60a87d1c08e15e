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

/** Why the addon could not be loaded (the `kind` of an {@link AddonLoadError}). */
export type AddonFailure =
  | 'not-built' // no blasnet.node where the loader looks
  | 'missing-library' // a shared library it links (OpenBLAS) is not installed
  | 'node-abi' // built for another Node.js (NODE_MODULE_VERSION)
  | 'node-api' // this Node.js lacks the Node-API version it was built for
  | 'platform' // built for another CPU or operating system
  | 'stale' // built from another blasnet version or contract (lib/core/contract.ts)
  | 'other';

/** Thrown when blasnet's native addon cannot be loaded; the message says how to fix it. */
export class AddonLoadError extends Error {
  readonly kind: AddonFailure;

  constructor(kind: AddonFailure, message: string) {
    super(message);
    this.name = 'AddonLoadError';
    this.kind = kind;
  }
}

const REBUILD = 'npm run build:native';
const BUILD_NEEDS = [
  'Debian/Ubuntu: apt-get install -y libopenblas-dev cmake g++ pkg-config',
  'Fedora/RHEL:   dnf install -y openblas-devel cmake gcc-c++ pkgconf-pkg-config',
  'macOS:         brew install openblas cmake pkg-config',
];
const OPENBLAS_INSTALL = [
  'Debian/Ubuntu: apt-get install -y libopenblas-dev',
  'Fedora/RHEL:   dnf install -y openblas-devel',
  'macOS:         brew install openblas',
];
const indent = (lines: string[]): string => lines.map((l) => `  ${l}`).join('\n');

/**
 * The build id an addon built from this package must carry: the package version and the start
 * of the SHA-256 of lib/core/contract.ts (scripts/build-id.js, which the builds run too).
 */
export function expectedBuildId(root: string = packageRoot()): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { buildId } = require(path.join(root, 'scripts', 'build-id.js')) as { buildId(root: string): string };
  return buildId(root);
}

/**
 * Explains why loading `file` failed, from the error `require` threw: a missing shared library
 * (OpenBLAS: how to install it on Debian, Fedora, macOS), a build for another Node.js ABI or
 * platform, a Node.js too old for its Node-API version, or anything else.
 */
export function explainLoadError(file: string, message: string, root: string = packageRoot()): AddonLoadError {
  const first = message.split('\n')[0];
  const rebuild = `Rebuild it: \`${REBUILD}\` in ${root}.`;
  // glibc: "libopenblas.so.0: cannot open shared object file"; macOS dyld: "Library not loaded: .../libopenblas.0.dylib".
  const lib =
    /([^\s/:'"]+\.so(?:\.[\w.]+)?): cannot open shared object file/.exec(message)?.[1] ??
    /Library not loaded: (?:\S*\/)?([^\s/]+\.dylib)/.exec(message)?.[1];
  if (lib !== undefined) {
    if (/blas|lapack|gfortran/i.test(lib)) {
      return new AddonLoadError(
        'missing-library',
        `blasnet: ${file} cannot be loaded: OpenBLAS, which it is linked with, is not installed (${lib} not found).\n` +
          `Install OpenBLAS:\n${indent(OPENBLAS_INSTALL)}\n` +
          `If OpenBLAS is installed somewhere the addon does not look, rebuild it: \`${REBUILD}\` in ${root}.`,
      );
    }
    return new AddonLoadError(
      'missing-library',
      `blasnet: ${file} cannot be loaded: a shared library it needs is missing (${lib} not found). ` +
        `Install it, or rebuild the addon against what is installed: \`${REBUILD}\` in ${root}.`,
    );
  }
  const abi = /NODE_MODULE_VERSION (\d+)/.exec(message);
  if (abi) {
    return new AddonLoadError(
      'node-abi',
      `blasnet: ${file} was built for another Node.js (NODE_MODULE_VERSION ${abi[1]}); this is Node.js ` +
        `${process.version} (NODE_MODULE_VERSION ${process.versions.modules}). ${rebuild}`,
    );
  }
  const napi =
    /(?:undefined symbol: |Symbol not found: _?)(napi_\w+|node_api_\w+)/.exec(message)?.[1] ??
    /requires Node-API version \d+/.exec(message)?.[0];
  if (napi !== undefined) {
    return new AddonLoadError(
      'node-api',
      `blasnet: ${file} needs a newer Node-API than this Node.js (${process.version}, Node-API ` +
        `${process.versions.napi}) has (${napi}). blasnet needs Node.js ${enginesNode(root)}: use a newer ` +
        `Node.js, then rebuild: \`${REBUILD}\` in ${root}.`,
    );
  }
  const builtFor = foreignPlatform(file);
  if (
    builtFor !== null ||
    /wrong ELF class|ELF file OS ABI|wrong architecture|incompatible architecture|not a mach-o file|Exec format error|not a valid Win32 application/i.test(message)
  ) {
    return new AddonLoadError(
      'platform',
      `blasnet: ${file} was built for another platform (${builtFor ?? first}); this is ` +
        `${process.platform}-${process.arch}. ${rebuild}`,
    );
  }
  return new AddonLoadError(
    'other',
    `blasnet: ${file} could not be loaded: ${first}\n${rebuild} The build needs:\n${indent(BUILD_NEEDS)}`,
  );
}

// ELF e_machine values of the architectures Node.js runs on.
const ELF_MACHINES: Record<number, string> = { 3: 'ia32', 40: 'arm', 62: 'x64', 183: 'arm64', 21: 'ppc64', 22: 's390x', 243: 'riscv64', 258: 'loong64' };

/**
 * The platform a compiled file was built for, when it is not this one (glibc reports an ELF of
 * another CPU as "cannot open shared object file", as if it were missing); null when it is this
 * platform's or unknown.
 */
function foreignPlatform(file: string): string | null {
  let head: Buffer;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      head = Buffer.alloc(20);
      if (fs.readSync(fd, head, 0, 20, 0) < 20) return null;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return null;
  }
  if (head.readUInt32BE(0) === 0x7f454c46) {
    const machine = head[5] === 2 ? head.readUInt16BE(18) : head.readUInt16LE(18);
    const arch = ELF_MACHINES[machine] ?? `ELF machine ${machine}`;
    if (process.platform === 'darwin' || process.platform === 'win32') return `an ELF file (Linux), ${arch}`;
    return arch === process.arch ? null : `${process.platform}-${arch}`;
  }
  const magic = head.readUInt32LE(0);
  if ((magic === 0xfeedfacf || magic === 0xfeedface || magic === 0xcafebabe || head.readUInt32BE(0) === 0xcafebabe) && process.platform !== 'darwin') {
    return 'a Mach-O file (macOS)';
  }
  return null;
}

function enginesNode(root: string): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { engines?: { node?: string } };
    return pkg.engines?.node ?? 'of a supported version';
  } catch {
    return 'of a supported version';
  }
}

/**
 * The entry points (frozen; without the build id) of the first of `candidates` that exists,
 * loads, and carries `expected` as its build id: the rest of the process calls only these. Throws an
 * {@link AddonLoadError} whose message says what went wrong with the first file that exists
 * (or that none does) and how to fix it.
 */
export function loadAddon(candidates: readonly string[], expected: string, root: string = packageRoot()): NativeAddon {
  const existing = candidates.filter((p) => fs.existsSync(p));
  if (existing.length === 0) {
    throw new AddonLoadError(
      'not-built',
      `blasnet: the native addon is not built (no ${candidates.join(', no ')}).\n` +
        `Build it: \`${REBUILD}\` in ${root} (or \`npm run build:gyp\` with node-gyp). The build needs:\n` +
        `${indent(BUILD_NEEDS)}\n` +
        'BLASNET_ADDON=/path/to/blasnet.node loads an addon built elsewhere.',
    );
  }
  const failures: AddonLoadError[] = [];
  for (const file of existing) {
    let raw: Record<string, unknown>;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      raw = require(file) as Record<string, unknown>;
    } catch (err) {
      failures.push(explainLoadError(file, String((err as Error)?.message ?? err), root));
      continue;
    }
    const { buildId, ...entries } = raw;
    if (buildId !== expected) {
      const built = typeof buildId === 'string' ? `blasnet ${buildId}` : 'an older blasnet (no build id)';
      failures.push(
        new AddonLoadError(
          'stale',
          `blasnet: ${file} is stale: it was built from ${built}, but this is blasnet ${expected} ` +
            '(the package version and a hash of lib/core/contract.ts, which declares every native call). ' +
            `A stale addon is not loaded: its calls may not match. Rebuild it: \`${REBUILD}\` in ${root}.`,
        ),
      );
      continue;
    }
    // Frozen: `kernels` hands these functions to users, and the library calls the same ones.
    return Object.freeze(entries) as unknown as NativeAddon;
  }
  const [first, ...rest] = failures;
  if (rest.length === 0) throw first;
  throw new AddonLoadError(first.kind, `${first.message}\n(also not loaded: ${rest.map((f) => f.message.split('\n')[0]).join('; ')})`);
}

/** Where the addon is looked for: BLASNET_ADDON alone when set, else the build folders. */
export function addonCandidates(root: string, env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.BLASNET_ADDON) return [path.resolve(env.BLASNET_ADDON)];
  return [path.join(root, 'build', 'Release', 'blasnet.node'), path.join(root, 'build', 'Debug', 'blasnet.node')];
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

/**
 * The process's one-time native setup, all in one place, when blasnet is first required:
 * 1. OpenBLAS's CPU kernels are chosen (chooseCore) before the library is loaded, since OpenBLAS
 *    reads OPENBLAS_CORETYPE only then;
 * 2. the addon is loaded and checked (loadAddon): its init (native/addon.cc) calls SetUpBlas
 *    (native/gemm.cc), which holds OpenBLAS at one thread for the life of the process
 *    (blasnet's own loop threads split the gemms) and warms it up, and gives this Node
 *    environment its thread count.
 * Thread counts are per caller (each Node environment: the main thread and every
 * worker_thread), 1 to MAX_THREADS (contract.ts: the generated argument reader of
 * setNumThreads refuses anything else, and the default, the core count, is capped there too).
 * Nothing else in blasnet changes process-wide state.
 */
function setUpNative(): { coreDecision: CoreDecision & { applied: boolean }; addon: NativeAddon } {
  const decision = chooseCore();
  const root = packageRoot();
  return { coreDecision: decision, addon: loadAddon(addonCandidates(root), expectedBuildId(root), root) };
}

const native = setUpNative();

/** The OpenBLAS core decision taken when the addon was loaded. */
export const coreDecision = native.coreDecision;

/** The loaded addon (loaded once, when blasnet is first required). */
export const addon: NativeAddon = native.addon;
