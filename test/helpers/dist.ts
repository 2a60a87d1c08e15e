// SPDX-License-Identifier: MIT
// Tests that run the compiled package (dist/) rebuild it first when lib/ is newer.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export const ROOT = path.resolve(__dirname, '..', '..');

/** Newest modification time of the .ts files under dir. */
function newestSource(dir: string): number {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newestSource(p));
    else if (e.name.endsWith('.ts')) t = Math.max(t, fs.statSync(p).mtimeMs);
  }
  return t;
}

/**
 * Compiles lib/ and bench/ to dist/ (tsc) and writes the package's entry points, as
 * `npm run build` does, unless `file` in dist/ is at least as new as every source.
 */
export function ensureBuilt(file: string): void {
  const newest = Math.max(newestSource(path.join(ROOT, 'lib')), newestSource(path.join(ROOT, 'bench')),
    fs.statSync(path.join(ROOT, 'scripts', 'write-esm-entry.js')).mtimeMs);
  if (!fs.existsSync(file) || fs.statSync(file).mtimeMs < newest) {
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'pipe' });
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'write-esm-entry.js')], { cwd: ROOT, stdio: 'pipe' });
  }
}
