// SPDX-License-Identifier: MIT
// Every fuzz target: the native entry points (from the contract) and the public API (api.ts),
// plus, only when BLASNET_FUZZ_CANARY=1, targets that misbehave on purpose so that a test can
// see the driver catch a crash, a hang, a wrong error and a leak.
import { Ctx, Target } from './ctx';
import { apiTargets } from './api';
import { nativeTargets } from './native';

function canaries(): Target[] {
  const t = (name: string, body: string, expect: 'ok' | 'throw'): Target => ({
    name, weight: 1,
    make: (c: Ctx) => {
      if (expect === 'throw') c.bad('a canary that must throw');
      return c.finish(name, [name], () => `(() => { ${body} })()`, []);
    },
  });
  // canary.leak keeps 256 KiB per call: some 90 MiB over a 400-call batch, past the 64 MiB native
  // limit and well under the 256 MiB RSS ceiling the test sets (which would report 'ceiling').
  return [
    t('canary.abort', 'process.abort()', 'ok'),
    t('canary.hang', 'for (;;) {}', 'ok'),
    t('canary.accepts', 'return 1', 'throw'),
    t('canary.vagueError', "throw new TypeError('something went wrong')", 'throw'),
    t('canary.leak', "(globalThis.__fuzzLeak ??= []).push(new Float64Array(1 << 15).fill(1))", 'ok'),
    t('canary.nonError', "throw 'a string'", 'throw'),
    t('canary.balloon', "(globalThis.__fuzzBalloon ??= []).push(new Uint8Array(2 ** 27).fill(1))", 'ok'),
  ];
}

let cache: Target[] | null = null;

export function allTargets(): Target[] {
  if (cache) return cache;
  cache = [...nativeTargets(), ...apiTargets()];
  if (process.env.BLASNET_FUZZ_CANARY === '1') cache.push(...canaries());
  return cache;
}
