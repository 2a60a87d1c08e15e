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
  test('is written once, in native/napi_version.h, and package.json names the same one for cmake-js', () => {
    const header = read('native/napi_version.h');
    const defined = [...header.matchAll(/^#define NAPI_VERSION (\d+)$/gm)].map((m) => Number(m[1]));
    expect(defined).toHaveLength(1);
    const pkg = JSON.parse(read('package.json')) as { binary: { napi_versions: number[] } };
    expect(pkg.binary.napi_versions).toEqual(defined);
    expect(read('CMakeLists.txt')).not.toMatch(/NAPI_VERSION=/);
    expect(read('binding.gyp')).not.toMatch(/NAPI_VERSION/);
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
