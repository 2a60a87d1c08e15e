// SPDX-License-Identifier: MIT
// CMakeLists.txt (cmake-js, what `npm install` runs) and binding.gyp (node-gyp) list
// the native sources separately; this keeps the two lists the same and complete.
import { describe, expect, test } from '@jest/globals';
import * as fs from 'fs';
import * as path from 'path';

const root = path.resolve(__dirname, '..');
const read = (f: string): string => fs.readFileSync(path.join(root, f), 'utf8');

/** The entries of `set(BLASNET_SOURCES ...)`, in order; comments dropped. */
function cmakeSources(text: string): string[] {
  const m = /\bset\(\s*BLASNET_SOURCES\b([^)]*)\)/.exec(text);
  if (!m) throw new Error('CMakeLists.txt has no set(BLASNET_SOURCES ...) block');
  return m[1]
    .split('\n')
    .map((line) => line.replace(/#.*$/, ''))
    .join(' ')
    .split(/\s+/)
    .map((s) => s.replace(/^"(.*)"$/, '$1'))
    .filter((s) => s.length > 0);
}

/** The entries of the `sources` list of the one target in binding.gyp, in order. */
function gypSources(text: string): string[] {
  // gyp files are Python literals: strip '#' comments (outside strings) and allow either quote.
  const noComments = text.split('\n').map((line) => line.replace(/^(\s*)#.*$/, '$1')).join('\n');
  const blocks = [...noComments.matchAll(/['"]sources['"]\s*:\s*\[([^\]]*)\]/g)];
  if (blocks.length !== 1) throw new Error(`binding.gyp: expected one "sources" list, found ${blocks.length}`);
  return [...blocks[0][1].matchAll(/'([^']*)'|"([^"]*)"/g)].map((q) => q[1] ?? q[2]);
}

describe('native source lists', () => {
  const cmake = cmakeSources(read('CMakeLists.txt'));
  const gyp = gypSources(read('binding.gyp'));

  test('the parsers read what they should', () => {
    expect(cmakeSources('x\nset(BLASNET_SOURCES\n  a.cc # why\n  "b.cc"\n)\nset(OTHER c.cc)')).toEqual(['a.cc', 'b.cc']);
    expect(gypSources("{'targets': [{'sources': [\n# gone\n'a.cc', \"b.cc\",\n]}]}")).toEqual(['a.cc', 'b.cc']);
    expect(() => cmakeSources('project(x)')).toThrow(/BLASNET_SOURCES/);
  });

  test('CMakeLists.txt and binding.gyp list the same files', () => {
    expect(cmake.length).toBeGreaterThan(0);
    expect([...gyp].sort()).toEqual([...cmake].sort());
  });

  test('no file is listed twice', () => {
    expect(new Set(cmake).size).toBe(cmake.length);
    expect(new Set(gyp).size).toBe(gyp.length);
  });

  test('every listed file exists', () => {
    const missing = cmake.concat(gyp).filter((f) => !fs.statSync(path.join(root, f), { throwIfNoEntry: false })?.isFile());
    expect(missing).toEqual([]);
  });

  test('every native/*.cc file is listed (none forgotten)', () => {
    const onDisk = fs.readdirSync(path.join(root, 'native')).filter((f) => f.endsWith('.cc')).map((f) => `native/${f}`);
    expect(onDisk.length).toBeGreaterThan(0);
    expect([...cmake].sort()).toEqual(onDisk.sort());
  });
});

describe('the Node-API version', () => {
  test('is written once, in package.json, and both builds take it from there', () => {
    const pkg = JSON.parse(read('package.json')) as { binary: { napi_versions: number[] } };
    expect(pkg.binary.napi_versions).toHaveLength(1);
    expect(Number.isInteger(pkg.binary.napi_versions[0])).toBe(true);
    // No number anywhere else: the header requires it from the build, which reads package.json.
    for (const f of ['native/napi_version.h', 'CMakeLists.txt', 'binding.gyp']) {
      expect(read(f)).not.toMatch(/NAPI_VERSION[ =]+\d/);
    }
    expect(read('native/napi_version.h')).toMatch(/#ifndef NAPI_VERSION\n#error/);
    expect(read('CMakeLists.txt')).toMatch(/string\(JSON BLASNET_NAPI_VERSION GET "\$\{BLASNET_PACKAGE_JSON\}" binary napi_versions 0\)/);
    expect(read('CMakeLists.txt')).toMatch(/NAPI_VERSION=\$\{BLASNET_NAPI_VERSION\}/);
    expect(read('binding.gyp')).toContain('NAPI_VERSION=<!(node scripts/build-id.js --napi-version)');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ids = require('../scripts/build-id.js') as { napiVersion(root: string): number };
    expect(ids.napiVersion(root)).toBe(pkg.binary.napi_versions[0]);
  });

  test('the build id comes from scripts/build-id.js in binding.gyp and the same formula in CMakeLists.txt', () => {
    expect(read('binding.gyp')).toContain('BLASNET_BUILD_ID=\\"<!(node scripts/build-id.js)\\"');
    const cmake = read('CMakeLists.txt');
    expect(cmake).toMatch(/file\(SHA256 \$\{CMAKE_CURRENT_SOURCE_DIR\}\/lib\/core\/contract\.ts BLASNET_CONTRACT_SHA256\)/);
    expect(cmake).toMatch(/string\(SUBSTRING "\$\{BLASNET_CONTRACT_SHA256\}" 0 16 BLASNET_CONTRACT_HASH\)/);
    expect(cmake).toContain('set(BLASNET_BUILD_ID "${BLASNET_VERSION}+${BLASNET_CONTRACT_HASH}")');
  });

  test('every native file that uses N-API includes it through that header', () => {
    const dir = path.join(root, 'native');
    const files = fs.readdirSync(dir).filter((f) => /\.(cc|h)$/.test(f));
    for (const f of files) {
      const text = fs.readFileSync(path.join(dir, f), 'utf8');
      if (/#include <napi\.h>/.test(text)) expect(f).toBe('napi_version.h');
    }
  });
});
