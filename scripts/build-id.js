#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// The build id every compiled addon carries (native/addon.cc exports it as `buildId`): the
// package version and the start of the SHA-256 of lib/core/contract.ts, the declaration of every
// native entry point. The loader (lib/core/native.ts) computes the same from the files next to
// it and refuses an addon whose id differs: a build older than the contract it would be called
// with. binding.gyp and CMakeLists.txt run this file; printed without arguments.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

/** `<version>+<16 hex digits of the contract's SHA-256>` for the package at `root`. */
function buildId(root) {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const contract = fs.readFileSync(path.join(root, 'lib', 'core', 'contract.ts'));
  const hash = crypto.createHash('sha256').update(contract).digest('hex').slice(0, 16);
  return `${pkg.version}+${hash}`;
}

/** The Node-API version the addon is built for: package.json's binary.napi_versions, written once. */
function napiVersion(root) {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const v = pkg.binary && Array.isArray(pkg.binary.napi_versions) ? pkg.binary.napi_versions : [];
  if (v.length !== 1 || !Number.isInteger(v[0])) {
    throw new Error('package.json: binary.napi_versions must hold exactly one Node-API version');
  }
  return v[0];
}

module.exports = { buildId, napiVersion };

if (require.main === module) {
  const root = path.resolve(__dirname, '..');
  process.stdout.write(process.argv[2] === '--napi-version' ? `${napiVersion(root)}` : buildId(root));
}
