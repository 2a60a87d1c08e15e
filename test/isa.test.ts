// SPDX-License-Identifier: MIT
// The instruction-set level of blasnet's own loops (native/isa.h): the widest the CPU supports
// by default, narrower when BLASNET_ISA asks, never wider than the CPU, and said by blasInfo().
// Each child process loads the addon afresh with its own environment.
import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'child_process';
import { join } from 'path';
import { blasInfo } from '../lib';
import { cpuIsa, readCpuInfo } from '../lib/core/cpu';
import { ensureBuilt, ROOT } from './helpers/dist';

const LEVELS = ['generic', 'avx2', 'avx512'] as const;
type Level = typeof LEVELS[number];
const rank = (l: string): number => LEVELS.indexOf(l as Level);

/** blasInfo()'s isa fields and the warnings of a fresh process with BLASNET_ISA = value. */
function child(value: string | undefined): { isa: string; isaReason: string; stderr: string } {
  ensureBuilt(join(ROOT, 'dist', 'index.js'));
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (value === undefined) delete env.BLASNET_ISA;
  else env.BLASNET_ISA = value;
  const r = spawnSync(process.execPath,
    ['-e', 'const b = require(process.argv[1]).blasInfo(); console.log(JSON.stringify({ isa: b.isa, isaReason: b.isaReason }))', ROOT],
    { env, encoding: 'utf8' });
  expect(r.status).toBe(0);
  return { ...JSON.parse(r.stdout), stderr: r.stderr };
}

describe('the instruction-set level of the kernels', () => {
  const cpu = readCpuInfo();
  // The addon's own detection (cpuid, and whether the OS saves the wide registers).
  const widest = child(undefined);

  test('by default: the widest the CPU supports, with that as the reason', () => {
    expect(widest.isaReason).toBe('the widest this CPU supports');
    expect(LEVELS).toContain(widest.isa);
    // /proc/cpuinfo's flags agree with the addon's cpuid reading (on x86 Linux).
    if (cpu) expect(widest.isa).toBe(cpuIsa(cpu));
  });

  test('BLASNET_ISA holds the kernels to any level up to the widest, case-insensitively', () => {
    for (const level of LEVELS.slice(0, rank(widest.isa) + 1)) {
      const r = child(level.toUpperCase());
      expect(r).toMatchObject({ isa: level, isaReason: 'set by BLASNET_ISA' });
      expect(r.stderr).toBe('');
    }
  });

  test('a level above the CPU or an unknown value: the widest level, and a warning that says why', () => {
    const above = LEVELS[rank(widest.isa) + 1];
    if (above !== undefined) {
      const r = child(above);
      expect(r.isa).toBe(widest.isa);
      expect(r.isaReason).toBe(`BLASNET_ISA=${above} asks for more than this CPU supports (${widest.isa})`);
      expect(r.stderr).toContain(r.isaReason);
    }
    const bad = child('sse9');
    expect(bad.isa).toBe(widest.isa);
    expect(bad.isaReason).toMatch(/^BLASNET_ISA=sse9 is not one of avx512, avx2, generic \(ignored\)/);
    expect(bad.stderr).toContain('BLASNET_ISA=sse9');
  });

  test('blasInfo() of this process names the level it runs', () => {
    const info = blasInfo();
    expect(LEVELS).toContain(info.isa);
    expect(rank(info.isa)).toBeLessThanOrEqual(rank(widest.isa));
    if (process.env.BLASNET_ISA) expect(info.isa).toBe(process.env.BLASNET_ISA.toLowerCase());
  });
});
