// SPDX-License-Identifier: MIT
// The one file that loads the compiled addon. Every argument of every call is checked in C++
// (types, lengths, overlaps, sizes: the rules of contract.ts); what is policy rather than
// memory safety (hyper-parameter ranges, layer shapes that fit) the layers and optimizers check.
import * as fs from 'fs';
import * as path from 'path';
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

/** The loaded addon (loaded once, when blasnet is first required). */
export const addon: NativeAddon = load();
