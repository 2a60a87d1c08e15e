// SPDX-License-Identifier: MIT
// Loads the ESM-only `vega` and `vega-lite` packages from this CommonJS build.
//
// require() cannot be used: vega-canvas (pulled in by vega) has a top-level
// await, which Node's require(esm) refuses. TypeScript with module commonjs
// rewrites `import()` into require(), so the import is hidden in a Function.
// Under jest the test code runs in a vm context without a dynamic-import
// callback; there the import is compiled in the main context instead
// (vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER, Node >= 20.12).
import * as vm from 'vm';
import { pathToFileURL } from 'url';
import { checkFeature } from '../core/optional';

/** The parts of the vega API this module uses (the package's own types are ESM-only). */
export interface VegaModule {
  version: string;
  parse(spec: unknown, config?: unknown): unknown;
  loader(opts?: unknown): VegaLoader;
  View: new (runtime: unknown, opts: { renderer: 'none'; loader?: unknown; logLevel?: number }) => VegaView;
  Warn: number;
}
export interface VegaLoader {
  load(uri: string, options?: unknown): Promise<string>;
  sanitize(uri: string, options?: unknown): Promise<{ href: string }>;
  http(uri: string, options?: unknown): Promise<string>;
  file(filename: string): Promise<string>;
}
export interface VegaView {
  toSVG(scaleFactor?: number): Promise<string>;
  finalize(): void;
}
export interface VegaLiteModule {
  version: string;
  compile(spec: unknown, opts?: unknown): { spec: unknown };
}

type Importer = (specifier: string) => Promise<unknown>;

function functionImporter(): Importer {
  return new Function('s', 'return import(s)') as Importer;
}

function mainContextImporter(): Importer {
  const constants = (vm as unknown as { constants?: { USE_MAIN_CONTEXT_DEFAULT_LOADER?: symbol } }).constants;
  const loader = constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER;
  if (loader === undefined) {
    throw new Error('blasnet report: cannot import the ESM packages vega/vega-lite here '
      + `(no dynamic import in this context and Node ${process.version} lacks vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER; `
      + 'Node >= 20.12 is needed)');
  }
  const script = new vm.Script('(s) => import(s)', { importModuleDynamically: loader } as unknown as vm.ScriptOptions);
  return script.runInThisContext() as Importer;
}

async function importEsm(name: string): Promise<unknown> {
  // Resolve from this file so the import does not depend on the caller's cwd.
  const url = pathToFileURL(require.resolve(name)).href;
  try {
    return await functionImporter()(url);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (!/dynamic import callback|experimental-vm-modules/i.test(msg)) throw err;
    return mainContextImporter()(url);
  }
}

let cached: Promise<{ vega: VegaModule; vl: VegaLiteModule }> | undefined;

/** vega and vega-lite, imported once per process. */
export function loadVega(): Promise<{ vega: VegaModule; vl: VegaLiteModule }> {
  if (!cached) {
    // Optional peer dependencies: a missing one is named with its npm install command.
    try {
      checkFeature('charts');
    } catch (err) {
      return Promise.reject(err);
    }
    cached = Promise.all([importEsm('vega'), importEsm('vega-lite')]).then(([vega, vl]) => ({
      vega: vega as VegaModule,
      vl: vl as VegaLiteModule,
    }));
    // A failed import should not poison every later call.
    cached.catch(() => { cached = undefined; });
  }
  return cached;
}

/**
 * A vega loader that refuses every load: charts carry their data inline, so
 * any attempt to fetch is a bug and must not reach the network.
 */
export function offlineLoader(vega: VegaModule): VegaLoader {
  const base = vega.loader();
  const refuse = (uri: string): Promise<never> =>
    Promise.reject(new Error(`blasnet report: refusing to load ${JSON.stringify(uri)} (charts render offline)`));
  base.load = refuse;
  base.sanitize = refuse;
  base.http = refuse;
  base.file = refuse;
  return base;
}
