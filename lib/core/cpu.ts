// SPDX-License-Identifier: MIT
// Which OpenBLAS kernels ("core") run on this CPU, decided before the addon (and with it
// OpenBLAS) is loaded. OpenBLAS picks its kernels once, when the library is loaded, from the
// CPU's vendor, family and model; a model it does not know can send it to its generic SSE3
// kernels on a CPU with AVX2 or AVX-512, three to five times slower. Everything here is a pure
// function of the CPU's identity and flags, so the decision is tested on the flag sets of real
// CPUs (test/cpu.test.ts); lib/core/native.ts applies it.
import * as fs from 'fs';

/** What the decision needs to know about a CPU (from /proc/cpuinfo on Linux). */
export interface CpuInfo {
  /** 'GenuineIntel', 'AuthenticAMD', 'HygonGenuine', ... */
  vendor: string;
  /** cpuid family (base + extended), e.g. 6 for Intel cores, 25 for AMD Zen 3/4. */
  family: number;
  /** cpuid model (extended model nibble included), e.g. 207 for Emerald Rapids. */
  model: number;
  /** the kernel's feature flags, e.g. 'avx2', 'fma', 'avx512f'. */
  flags: ReadonlySet<string>;
  /** the model name, e.g. 'Intel(R) Xeon(R) Platinum 8592+'. */
  modelName: string;
}

/** Why the running OpenBLAS core is the one it is. */
export type CoreReason = 'detected' | 'chosen by blasnet from the CPU flags' | 'set by OPENBLAS_CORETYPE';

export interface CoreDecision {
  /** The value to give OPENBLAS_CORETYPE before OpenBLAS loads, or null to leave it alone. */
  set: string | null;
  reason: CoreReason;
  /** The core the CPU's flags call for (null: nothing better than OpenBLAS's own choice). */
  expected: string | null;
  /** Short explanation, for blasInfo() and the bench header. */
  note: string;
}

/** Parses the first processor of /proc/cpuinfo (x86 layout); null when it is not x86. */
export function parseCpuInfo(text: string): CpuInfo | null {
  const block = text.split(/\n\s*\n/)[0] ?? '';
  const field = (name: string): string | undefined => {
    const m = new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(block);
    return m ? m[1].trim() : undefined;
  };
  const vendor = field('vendor_id');
  const family = Number(field('cpu family'));
  const model = Number(field('model'));
  const flags = field('flags');
  if (vendor === undefined || flags === undefined || !Number.isInteger(family) || !Number.isInteger(model)) return null;
  return { vendor, family, model, flags: new Set(flags.split(/\s+/)), modelName: field('model name') ?? 'unknown' };
}

/** This machine's CPU, or null where it cannot be read (not Linux, not x86, no /proc). */
export function readCpuInfo(file = process.env.BLASNET_CPUINFO_FILE || '/proc/cpuinfo'): CpuInfo | null {
  if (process.platform !== 'linux' || !/^(x64|ia32)$/.test(process.arch) && !process.env.BLASNET_CPUINFO_FILE) return null;
  try {
    // /proc files report size 0: read a bounded amount rather than trusting the size.
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(1 << 16);
      const n = fs.readSync(fd, buf, 0, buf.length, 0);
      return parseCpuInfo(buf.subarray(0, n).toString('utf8'));
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return null;
  }
}

/** The widest x86 instruction set the flags allow, as blasnet's kernels and OpenBLAS use them. */
export function cpuIsa(cpu: CpuInfo | null): 'avx512' | 'avx2' | 'generic' {
  if (cpu === null) return 'generic';
  const f = cpu.flags;
  if (f.has('avx512f') && f.has('avx512bw') && f.has('avx512vl') && f.has('avx512dq')) return 'avx512';
  if (f.has('avx2') && f.has('fma')) return 'avx2';
  return 'generic';
}

/** The OpenBLAS core the CPU's flags call for: SkylakeX with AVX-512, Zen or Haswell with AVX2. */
export function flagCore(cpu: CpuInfo | null): string | null {
  switch (cpuIsa(cpu)) {
    case 'avx512': return 'SkylakeX';
    case 'avx2': return cpu !== null && /AMD|Hygon/i.test(cpu.vendor) ? 'Zen' : 'Haswell';
    default: return null;
  }
}

/**
 * Whether OpenBLAS's own detection sends this CPU to its generic kernels. OpenBLAS up to at
 * least 0.3.28 (Debian 12 ships 0.3.21, Ubuntu 22.04 0.3.20) reads Intel family 6 models by
 * their extended-model nibble and knows nibbles 0 to 10; for a newer nibble (models 0xB0 and
 * up: Raptor Lake, Meteor Lake, Emerald Rapids, Arrow Lake, ...) its switch falls through to
 * the Pentium 4 branch and picks 'Prescott' (SSE3). Unknown models inside known nibbles, and
 * unknown families, go to its feature-based fallback, which is fine.
 */
export function openblasFallsBack(cpu: CpuInfo): boolean {
  return cpu.vendor === 'GenuineIntel' && cpu.family === 6 && cpu.model >= 0xb0;
}

/** How capable an OpenBLAS core is: 3 AVX-512, 2 AVX2, 1 AVX, 0 older (SSE). */
export function coreRank(corename: string): number {
  const c = corename.toLowerCase();
  if (/skylakex|cooperlake|sapphirerapids/.test(c)) return 3;
  if (/haswell|zen|excavator/.test(c)) return 2;
  if (/sandybridge|bulldozer|piledriver|steamroller/.test(c)) return 1;
  return 0;
}

/**
 * What to do about OPENBLAS_CORETYPE, given the CPU and the environment. A user's own
 * OPENBLAS_CORETYPE always wins; BLASNET_OPENBLAS_CORE=off leaves OpenBLAS to itself.
 */
export function decideCore(cpu: CpuInfo | null, env: Record<string, string | undefined>): CoreDecision {
  const expected = flagCore(cpu);
  if (env.OPENBLAS_CORETYPE) {
    return { set: null, reason: 'set by OPENBLAS_CORETYPE', expected, note: `OPENBLAS_CORETYPE=${env.OPENBLAS_CORETYPE}` };
  }
  const off = (env.BLASNET_OPENBLAS_CORE ?? '').toLowerCase() === 'off';
  if (cpu !== null && expected !== null && !off && openblasFallsBack(cpu)) {
    return {
      set: expected, reason: 'chosen by blasnet from the CPU flags', expected,
      note: `OpenBLAS does not know this CPU (family ${cpu.family}, model ${cpu.model}) and would run its generic kernels; its flags call for ${expected}`,
    };
  }
  return {
    set: null, reason: 'detected', expected,
    note: off ? 'BLASNET_OPENBLAS_CORE=off: OpenBLAS chose by itself' : 'OpenBLAS chose by itself',
  };
}

/**
 * The warning to give when OpenBLAS, left to itself, runs kernels narrower than the CPU allows
 * (a CPU model that openblasFallsBack does not predict), or null.
 */
export function narrowCoreWarning(decision: CoreDecision, corename: string): string | null {
  if (decision.reason !== 'detected' || decision.expected === null) return null;
  if (coreRank(corename) >= coreRank(decision.expected)) return null;
  return `OpenBLAS runs its '${corename}' kernels on a CPU whose flags allow '${decision.expected}' `
    + `(several times faster): set OPENBLAS_CORETYPE=${decision.expected} before starting node`;
}
