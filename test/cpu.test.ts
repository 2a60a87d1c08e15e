// SPDX-License-Identifier: MIT
// The OpenBLAS core decision (lib/core/cpu.ts) as a pure function over the identities and flag
// sets of real CPUs, and on this machine: a CPU with AVX2 never runs generic kernels, and a CPU
// OpenBLAS does not know gets the core its flags call for, in a child process.
import { describe, expect, test } from '@jest/globals';
import { execFileSync } from 'child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { blasInfo } from '../lib';
import { ensureBuilt, ROOT } from './helpers/dist';
import {
  CpuInfo, coreRank, cpuIsa, decideCore, flagCore, narrowCoreWarning, openblasFallsBack, parseCpuInfo, readCpuInfo,
} from '../lib/core/cpu';

// Flags as /proc/cpuinfo lists them on these CPUs (the part that matters, in the kernel's order).
const BASE = 'fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx pdpe1gb rdtscp lm constant_tsc rep_good nopl xtopology cpuid pni pclmulqdq ssse3';
const AVX2 = `${BASE} fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand hypervisor lahf_lm abm 3dnowprefetch fsgsbase bmi1 avx2 smep bmi2 erms invpcid rdseed adx smap clflushopt xsaveopt xsavec xgetbv1`;
const SKX = `${AVX2} avx512f avx512dq clwb avx512cd avx512bw avx512vl pku ospke`;
const SPR = `${SKX} avx512ifma sha_ni avx_vnni avx512_bf16 avx512vbmi umip avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni avx512_bitalg avx512_vpopcntdq amx_bf16 avx512_fp16 amx_tile amx_int8`;
const ZEN3 = `${BASE} fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand hypervisor lahf_lm cmp_legacy cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw topoext fsgsbase bmi1 avx2 smep bmi2 erms invpcid rdseed adx smap clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 clzero xsaveerptr vaes vpclmulqdq rdpid fsrm`;
const ZEN4 = `${ZEN3} avx512f avx512dq avx512ifma avx512cd avx512bw avx512vl avx512_bf16 avx512vbmi avx512_vbmi2 gfni avx512_vnni avx512_bitalg avx512_vpopcntdq`;
const WESTMERE = `${BASE} cx16 pcid sse4_1 sse4_2 x2apic popcnt aes hypervisor lahf_lm`;

function cpuinfo(vendor: string, family: number, model: number, name: string, flags: string): string {
  // Two processors, as a 2-core machine lists them; the decision reads the first.
  const one = `processor\t: 0\nvendor_id\t: ${vendor}\ncpu family\t: ${family}\nmodel\t\t: ${model}\nmodel name\t: ${name}\nstepping\t: 1\nflags\t\t: ${flags}\nbogomips\t: 4000.00\n`;
  return `${one}\n${one.replace('processor\t: 0', 'processor\t: 1')}\n`;
}

const CPUS: Record<string, CpuInfo> = {
  'AMD EPYC 7763 (Zen 3, AVX2)': parseCpuInfo(cpuinfo('AuthenticAMD', 25, 1, 'AMD EPYC 7763 64-Core Processor', ZEN3)) as CpuInfo,
  'AMD EPYC 9654 (Zen 4, AVX-512)': parseCpuInfo(cpuinfo('AuthenticAMD', 25, 17, 'AMD EPYC 9654 96-Core Processor', ZEN4)) as CpuInfo,
  'Intel Xeon Gold 6148 (Skylake-SP)': parseCpuInfo(cpuinfo('GenuineIntel', 6, 85, 'Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz', SKX)) as CpuInfo,
  'Intel Xeon Platinum 8480+ (Sapphire Rapids)': parseCpuInfo(cpuinfo('GenuineIntel', 6, 143, 'Intel(R) Xeon(R) Platinum 8480+', SPR)) as CpuInfo,
  'Intel Xeon Platinum 8592+ (Emerald Rapids)': parseCpuInfo(cpuinfo('GenuineIntel', 6, 207, 'INTEL(R) XEON(R) PLATINUM 8592+', SPR)) as CpuInfo,
  'Intel Core i9-13900K (Raptor Lake, AVX2)': parseCpuInfo(cpuinfo('GenuineIntel', 6, 183, '13th Gen Intel(R) Core(TM) i9-13900K', AVX2)) as CpuInfo,
  'Intel Xeon X5670 (Westmere, SSE4 only)': parseCpuInfo(cpuinfo('GenuineIntel', 6, 44, 'Intel(R) Xeon(R) CPU X5670 @ 2.93GHz', WESTMERE)) as CpuInfo,
  'an unknown vendor with AVX2': parseCpuInfo(cpuinfo('SomeNewVendor', 6, 200, 'Prototype CPU', AVX2)) as CpuInfo,
};

describe('decideCore over real CPUs', () => {
  // [cpu, ISA, core the flags call for, does OpenBLAS 0.3.21 fall back, value blasnet sets]
  const table: Array<[string, string, string | null, boolean, string | null]> = [
    ['AMD EPYC 7763 (Zen 3, AVX2)', 'avx2', 'Zen', false, null],
    ['AMD EPYC 9654 (Zen 4, AVX-512)', 'avx512', 'SkylakeX', false, null],
    ['Intel Xeon Gold 6148 (Skylake-SP)', 'avx512', 'SkylakeX', false, null],
    ['Intel Xeon Platinum 8480+ (Sapphire Rapids)', 'avx512', 'SkylakeX', false, null],
    ['Intel Xeon Platinum 8592+ (Emerald Rapids)', 'avx512', 'SkylakeX', true, 'SkylakeX'],
    ['Intel Core i9-13900K (Raptor Lake, AVX2)', 'avx2', 'Haswell', true, 'Haswell'],
    ['Intel Xeon X5670 (Westmere, SSE4 only)', 'generic', null, false, null],
    ['an unknown vendor with AVX2', 'avx2', 'Haswell', false, null],
  ];
  test.each(table)('%s', (name, isa, expected, fallsBack, set) => {
    const cpu = CPUS[name];
    expect(cpuIsa(cpu)).toBe(isa);
    expect(flagCore(cpu)).toBe(expected);
    expect(openblasFallsBack(cpu)).toBe(fallsBack);
    const d = decideCore(cpu, {});
    expect(d.set).toBe(set);
    expect(d.expected).toBe(expected);
    expect(d.reason).toBe(set === null ? 'detected' : 'chosen by blasnet from the CPU flags');
  });

  test("a user's OPENBLAS_CORETYPE always wins", () => {
    const d = decideCore(CPUS['Intel Xeon Platinum 8592+ (Emerald Rapids)'], { OPENBLAS_CORETYPE: 'Haswell' });
    expect(d.set).toBeNull();
    expect(d.reason).toBe('set by OPENBLAS_CORETYPE');
  });

  test('BLASNET_OPENBLAS_CORE=off leaves OpenBLAS to itself', () => {
    const d = decideCore(CPUS['Intel Xeon Platinum 8592+ (Emerald Rapids)'], { BLASNET_OPENBLAS_CORE: 'off' });
    expect(d.set).toBeNull();
    expect(d.reason).toBe('detected');
  });

  test('no CPU information (not Linux, not x86): nothing is set', () => {
    expect(decideCore(null, {})).toMatchObject({ set: null, reason: 'detected', expected: null });
    expect(parseCpuInfo('processor : 0\nBogoMIPS : 50.00\nFeatures : fp asimd\nCPU implementer : 0x41\n')).toBeNull();
  });

  test('core ranks, and the warning for a narrower core than the flags allow', () => {
    expect(['Prescott', 'Core2', 'Nehalem', 'Atom'].map(coreRank)).toEqual([0, 0, 0, 0]);
    expect(['Sandybridge', 'Haswell', 'Zen', 'SkylakeX', 'Cooperlake'].map(coreRank)).toEqual([1, 2, 2, 3, 3]);
    const detected = decideCore(CPUS['AMD EPYC 7763 (Zen 3, AVX2)'], {});
    expect(narrowCoreWarning(detected, 'Zen')).toBeNull();
    expect(narrowCoreWarning(detected, 'Prescott')).toMatch(/'Prescott' kernels .* allow 'Zen'.*OPENBLAS_CORETYPE=Zen/);
    expect(narrowCoreWarning(decideCore(CPUS['AMD EPYC 7763 (Zen 3, AVX2)'], { OPENBLAS_CORETYPE: 'Prescott' }), 'Prescott')).toBeNull();
  });
});

describe('on this machine', () => {
  const cpu = readCpuInfo();
  const userSet = !!process.env.OPENBLAS_CORETYPE && process.env.BLASNET_OPENBLAS_CORE_CHOSEN !== process.env.OPENBLAS_CORETYPE;

  test('blasInfo names the core, why, and the CPU', () => {
    const info = blasInfo();
    expect(['detected', 'chosen by blasnet from the CPU flags', 'set by OPENBLAS_CORETYPE']).toContain(info.coreReason);
    expect(info.cpu.isa).toBe(cpuIsa(cpu));
    if (cpu) expect(info.cpu.model).toBe(cpu.modelName);
  });

  (cpu && cpuIsa(cpu) !== 'generic' && !userSet ? test : test.skip)('a CPU with AVX2 never runs a generic core', () => {
    expect(coreRank(blasInfo().corename)).toBeGreaterThanOrEqual(2);
  });

  // A CPU OpenBLAS does not know, made from this machine's own flags (so the chosen kernels run
  // here): the child loads blasnet, which must pick the flags' core before OpenBLAS loads.
  (cpu && cpuIsa(cpu) !== 'generic' ? test : test.skip)('a CPU model OpenBLAS does not know gets the core of its flags', () => {
    ensureBuilt(join(ROOT, 'dist', 'index.js'));
    const real = readFileSync('/proc/cpuinfo', 'utf8');
    const fake = real.replace(/^model\s*:.*$/gm, 'model\t\t: 207').replace(/^vendor_id\s*:.*$/gm, 'vendor_id\t: GenuineIntel')
      .replace(/^cpu family\s*:.*$/gm, 'cpu family\t: 6');
    const dir = mkdtempSync(join(tmpdir(), 'blasnet-cpu-'));
    writeFileSync(join(dir, 'cpuinfo'), fake);
    const env: NodeJS.ProcessEnv = { ...process.env, BLASNET_CPUINFO_FILE: join(dir, 'cpuinfo') };
    delete env.OPENBLAS_CORETYPE;
    delete env.BLASNET_OPENBLAS_CORE_CHOSEN;
    delete env.BLASNET_OPENBLAS_CORE;
    const script = "const b = require(process.argv[1]).blasInfo(); console.log(JSON.stringify([b.corename, b.coreReason]))";
    const out = (extra: Record<string, string>): [string, string] => JSON.parse(execFileSync(process.execPath,
      ['-e', script, ROOT], { env: { ...env, ...extra }, encoding: 'utf8' }));
    const wanted = flagCore(parseCpuInfo(fake)) as string;
    expect(out({})).toEqual([wanted, 'chosen by blasnet from the CPU flags']);
    expect(out({ OPENBLAS_CORETYPE: 'Haswell' })).toEqual(['Haswell', 'set by OPENBLAS_CORETYPE']);
  });
});
