#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// `npm install` runs this: it checks for the system parts first, so that a
// missing compiler, cmake or OpenBLAS stops the install with one clear line
// instead of a page of CMake output, then builds the addon with cmake-js
// (Node-API mode: nothing is downloaded).
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const APT = 'apt-get install -y libopenblas-dev cmake g++ pkg-config';

function has(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

function openblasFound() {
  if (has('pkg-config', ['--exists', 'openblas'])) return true;
  // Without pkg-config, look for OpenBLAS's cblas.h and library where Debian and
  // most distributions put them.
  const dirs = ['/usr/include', '/usr/local/include', '/usr/include/x86_64-linux-gnu',
    '/usr/include/aarch64-linux-gnu', '/opt/homebrew/opt/openblas/include', '/usr/local/opt/openblas/include'];
  const subdirs = ['', 'openblas', 'openblas-pthread', 'openblas-openmp'];
  return dirs.some((d) => subdirs.some((s) => fs.existsSync(path.join(d, s, 'openblas_config.h'))));
}

function fail(what) {
  console.error(`blasnet: cannot build the native addon: ${what} not found. Install it with: ${APT}`);
  process.exit(1);
}

const missing = [];
if (!has('cmake', ['--version'])) missing.push('cmake');
if (!has(process.env.CXX || 'c++', ['--version']) && !has('g++', ['--version'])) missing.push('a C++ compiler (g++)');
if (!openblasFound()) missing.push('OpenBLAS (libopenblas-dev)');
if (missing.length) fail(missing.join(', '));

const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const verbose = process.env.BLASNET_VERBOSE_BUILD === '1';
const r = spawnSync(process.execPath, [cmakeJs, 'compile'], {
  cwd: root,
  stdio: verbose ? 'inherit' : ['ignore', 'pipe', 'pipe'],
  encoding: 'utf8',
});
if (r.status !== 0) {
  if (!verbose) {
    const out = `${r.stdout || ''}${r.stderr || ''}`.trim().split('\n');
    console.error(out.slice(-30).join('\n'));
  }
  console.error('blasnet: the native build failed (last lines above; BLASNET_VERBOSE_BUILD=1 shows all).');
  process.exit(r.status || 1);
}
if (!fs.existsSync(path.join(root, 'build', 'Release', 'blasnet.node'))) {
  console.error('blasnet: cmake-js finished but build/Release/blasnet.node is missing.');
  process.exit(1);
}
console.log('blasnet: native addon built (build/Release/blasnet.node)');
