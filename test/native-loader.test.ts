// SPDX-License-Identifier: MIT
// The loader (lib/core/native.ts): it loads only an addon built from this package's version and
// contract (the build id), and when it cannot load one its message names the failure and the
// fix: not built, OpenBLAS missing (apt, dnf, brew), another Node.js ABI, another platform, a
// stale build. Each failure is made real: small shared objects compiled here with the system's
// C compiler (the addon's build needs one too) are passed to loadAddon in place of the addon.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AddonLoadError, addon, addonCandidates, expectedBuildId, explainLoadError, loadAddon } from '../lib/core/native';

const root = path.resolve(__dirname, '..');
const napiInclude = path.join(root, 'node_modules', 'node-api-headers', 'include');
let dir = '';
let serial = 0;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-loader-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function cc(args: string[]): void {
  const extra = process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup'] : [];
  const r = spawnSync(process.env.CC || 'cc', [...args, ...extra], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cc ${args.join(' ')} failed: ${r.stderr || r.error}`);
}

/** Compiles C source into a shared object in the temp folder (a fresh name each time: a path
 * once loaded stays loaded). */
function sharedObject(source: string, libs: string[] = [], ext = 'node'): string {
  const n = ++serial;
  const src = path.join(dir, `m${n}.c`);
  const out = path.join(dir, `m${n}.${ext}`);
  fs.writeFileSync(src, source);
  cc(['-shared', '-fPIC', '-DNAPI_VERSION=8', `-I${napiInclude}`, src, '-o', out, ...libs]);
  return out;
}

/** A Node-API module exporting answer() = 42 and, unless null, buildId. */
function napiModule(buildId: string | null): string {
  const setId =
    buildId === null
      ? ''
      : `napi_create_string_utf8(env, ${JSON.stringify(buildId)}, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, exports, "buildId", v);`;
  return sharedObject(`#include <node_api.h>
static napi_value Answer(napi_env env, napi_callback_info info) {
  napi_value v;
  napi_create_int32(env, 42, &v);
  return v;
}
NAPI_MODULE_INIT() {
  napi_value v;
  napi_create_function(env, "answer", NAPI_AUTO_LENGTH, Answer, NULL, &v);
  napi_set_named_property(env, exports, "answer", v);
  ${setId}
  return exports;
}
`);
}

function loadError(candidates: string[]): AddonLoadError {
  try {
    loadAddon(candidates, expectedBuildId(root), root);
  } catch (e) {
    expect(e).toBeInstanceOf(AddonLoadError);
    return e as AddonLoadError;
  }
  throw new Error('loadAddon did not throw');
}

const linux = process.platform === 'linux' ? test : test.skip;

describe('the build id', () => {
  test('the loaded addon carries this package version and contract hash, and only the entry points are handed out', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    const hash = crypto.createHash('sha256').update(fs.readFileSync(path.join(root, 'lib/core/contract.ts'))).digest('hex');
    expect(expectedBuildId(root)).toBe(`${pkg.version}+${hash.slice(0, 16)}`);
    expect(Object.keys(addon)).not.toContain('buildId');
    expect(Object.isFrozen(addon)).toBe(true);
  });

  test('an addon with the expected build id loads, without its buildId property', () => {
    const file = napiModule(expectedBuildId(root));
    const loaded = loadAddon([file], expectedBuildId(root), root) as unknown as Record<string, () => number>;
    expect(loaded.answer()).toBe(42);
    expect(Object.keys(loaded)).toEqual(['answer']);
    expect(Object.isFrozen(loaded)).toBe(true);
  });

  test('a stale build (another version or contract) is refused, naming both ids and the rebuild command', () => {
    const file = napiModule('0.0.1+0000000000000000');
    const e = loadError([file]);
    expect(e.kind).toBe('stale');
    expect(e.message).toContain(`${file} is stale`);
    expect(e.message).toContain('blasnet 0.0.1+0000000000000000');
    expect(e.message).toContain(`this is blasnet ${expectedBuildId(root)}`);
    expect(e.message).toContain('`npm run build:native`');
  });

  test('a build from before build ids is stale too', () => {
    const e = loadError([napiModule(null)]);
    expect(e.kind).toBe('stale');
    expect(e.message).toMatch(/built from an older blasnet \(no build id\)/);
  });

  test('BLASNET_ADDON names the one file to load; without it, the build folders', () => {
    const own = path.join(dir, 'elsewhere', 'blasnet.node');
    expect(addonCandidates(root, { BLASNET_ADDON: own })).toEqual([own]);
    expect(addonCandidates(root, {})).toEqual([
      path.join(root, 'build', 'Release', 'blasnet.node'),
      path.join(root, 'build', 'Debug', 'blasnet.node'),
    ]);
  });
});

describe('failure messages, each for its failure', () => {
  test('not built: the build command and the system packages for Debian, Fedora and macOS', () => {
    const missing = [path.join(dir, 'Release', 'blasnet.node'), path.join(dir, 'Debug', 'blasnet.node')];
    const e = loadError(missing);
    expect(e.kind).toBe('not-built');
    expect(e.message).toContain(`the native addon is not built (no ${missing[0]}, no ${missing[1]})`);
    expect(e.message).toContain('`npm run build:native`');
    expect(e.message).toContain('apt-get install -y libopenblas-dev');
    expect(e.message).toContain('dnf install -y openblas-devel');
    expect(e.message).toContain('brew install openblas');
  });

  linux('OpenBLAS missing: a module linked with a libopenblas that is gone', () => {
    // A stand-in library with an OpenBLAS-like name the system does not have, linked, then removed.
    const lib = sharedObject('int blasnet_fake_blas(void) { return 1; }\n', ['-Wl,-soname,libopenblas.so.97'], 'so');
    const libFile = path.join(dir, 'libopenblas.so.97');
    fs.renameSync(lib, libFile);
    const file = sharedObject('int blasnet_fake_blas(void);\nint use(void) { return blasnet_fake_blas(); }\n', [libFile]);
    fs.unlinkSync(libFile);
    const e = loadError([file]);
    expect(e.kind).toBe('missing-library');
    expect(e.message).toContain('OpenBLAS, which it is linked with, is not installed (libopenblas.so.97 not found)');
    expect(e.message).toContain('apt-get install -y libopenblas-dev');
    expect(e.message).toContain('dnf install -y openblas-devel');
    expect(e.message).toContain('brew install openblas');
  });

  linux('another Node.js ABI: a module registered with another NODE_MODULE_VERSION', () => {
    // A pre-Node-API addon registers itself as it loads, with the ABI version it was built for.
    const file = sharedObject(`struct node_module {
  int nm_version; unsigned int nm_flags; void* nm_dso_handle; const char* nm_filename;
  void* nm_register_func; void* nm_context_register_func; const char* nm_modname;
  void* nm_priv; struct node_module* nm_link;
};
extern void node_module_register(void* m);
static void init(void) {}
static struct node_module mod = { 42, 0, 0, "fake.c", (void*)init, 0, "fake", 0, 0 };
__attribute__((constructor)) static void reg(void) { node_module_register(&mod); }
`);
    const e = loadError([file]);
    expect(e.kind).toBe('node-abi');
    expect(e.message).toContain('was built for another Node.js (NODE_MODULE_VERSION 42)');
    expect(e.message).toContain(`this is Node.js ${process.version} (NODE_MODULE_VERSION ${process.versions.modules})`);
    expect(e.message).toContain('`npm run build:native`');
  });

  linux('another platform: the same file marked as built for another CPU', () => {
    const file = napiModule(expectedBuildId(root));
    const bytes = fs.readFileSync(file);
    const other = process.arch === 'arm64' ? 62 : 183; // x86-64 or AArch64
    bytes.writeUInt16LE(other, 18);
    const foreign = path.join(dir, 'foreign.node');
    fs.writeFileSync(foreign, bytes);
    const e = loadError([foreign]);
    expect(e.kind).toBe('platform');
    expect(e.message).toContain(`was built for another platform (linux-${process.arch === 'arm64' ? 'x64' : 'arm64'})`);
    expect(e.message).toContain(`this is linux-${process.arch}`);
  });

  test('the messages of other systems are read too (macOS dyld, an old Node-API)', () => {
    const dyld =
      'dlopen(/p/blasnet.node, 0x0001): Library not loaded: /opt/homebrew/opt/openblas/lib/libopenblas.0.dylib\n' +
      '  Referenced from: /p/blasnet.node\n  Reason: tried: (no such file)';
    const mac = explainLoadError('/p/blasnet.node', dyld, root);
    expect(mac.kind).toBe('missing-library');
    expect(mac.message).toContain('(libopenblas.0.dylib not found)');
    expect(mac.message).toContain('brew install openblas');
    const old = explainLoadError('/p/blasnet.node', '/p/blasnet.node: undefined symbol: napi_create_buffer_copy', root);
    expect(old.kind).toBe('node-api');
    expect(old.message).toContain('napi_create_buffer_copy');
    expect(old.message).toMatch(/blasnet needs Node\.js >=\d+/);
    const other = explainLoadError('/p/blasnet.node', 'something else went wrong\nmore', root);
    expect(other.kind).toBe('other');
    expect(other.message).toContain('could not be loaded: something else went wrong');
    expect(other.message).toContain('`npm run build:native`');
  });

  test('when several builds exist, the first one is explained and the others named', () => {
    const stale = napiModule('0.0.1+1111111111111111');
    const older = napiModule(null);
    const e = loadError([stale, older]);
    expect(e.kind).toBe('stale');
    expect(e.message).toContain(`${stale} is stale`);
    expect(e.message).toContain(`also not loaded: blasnet: ${older} is stale`);
  });
});
